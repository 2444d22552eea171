/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The task registry (locus_task_register / locus_task_lookup) in this
 * process, then end to end: a task library whose functions are static and
 * registered from a constructor runs on real workers, next to the
 * built-ins of the core and of the modules, which register the same way.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cluster.h"
#include "locus.h"
#include "worker/worker.h"

#define TASKLIB LOCUS_TEST_BINDIR "/libtasklib_registered.so"
#define T_MS 20000

static int f_one(locus_task *t)
{
    return locus_task_return_i64(t, 1);
}

static int f_two(locus_task *t)
{
    return locus_task_return_i64(t, 2);
}

Test(task, registry_adds_tables_and_refuses_clashes)
{
    /* the core built-ins are there before anything registers */
    cr_assert_not_null(locus_task_lookup("locus.identity"));
    cr_assert_null(locus_task_lookup("test.one"));
    cr_assert_null(locus_task_lookup(NULL));

    static const locus_task_def t1[] = {{"test.one", f_one},
                                        {"test.two", f_two}};
    OK(locus_task_register(t1, 2));
    cr_assert_eq(locus_task_lookup("test.one"), f_one);
    cr_assert_eq(locus_task_lookup("test.two"), f_two);
    /* again, same functions: nothing changes */
    OK(locus_task_register(t1, 2));
    OK(locus_task_register(t1, 0));

    /* a clash anywhere in a table registers none of it */
    static const locus_task_def t2[] = {{"test.three", f_one},
                                        {"test.one", f_two}};
    cr_assert_eq(locus_task_register(t2, 2), LOCUS_EBUSY);
    cr_assert(strstr(locus_last_error(), "'test.one'"), "'%s'",
              locus_last_error());
    cr_assert_null(locus_task_lookup("test.three"));
    cr_assert_eq(locus_task_lookup("test.one"), f_one);
    /* ... and so does a clash inside the table */
    static const locus_task_def t3[] = {{"test.four", f_one},
                                        {"test.four", f_two}};
    cr_assert_eq(locus_task_register(t3, 2), LOCUS_EBUSY);
    cr_assert_null(locus_task_lookup("test.four"));

    static const locus_task_def bad[] = {{NULL, f_one}, {"test.five", NULL}};
    cr_assert_eq(locus_task_register(NULL, 1), LOCUS_EINVAL);
    cr_assert_eq(locus_task_register(bad, 1), LOCUS_EINVAL);
    cr_assert_eq(locus_task_register(bad + 1, 1), LOCUS_EINVAL);
    cr_assert_null(locus_task_lookup("test.five"));

    /* many names: lookups stay right as the map grows */
    static locus_task_def many[500];
    static char names[500][16];
    for (int i = 0; i < 500; i++) {
        snprintf(names[i], sizeof(names[i]), "test.m%d", i);
        many[i] = (locus_task_def){names[i], i % 2 ? f_one : f_two};
    }
    OK(locus_task_register(many, 500));
    for (int i = 0; i < 500; i++)
        cr_assert_eq(locus_task_lookup(names[i]), i % 2 ? f_one : f_two, "%s",
                     names[i]);
}

/* The status calls of the task API clear locus_last_error() when they
 * succeed, as the client's do, and say what failed when they fail. */
Test(task, calls_clear_the_last_error_on_success)
{
    static const locus_task_def d[] = {{"test.clear", f_one}};
    cr_assert_null(locus_task_lookup("test.clear"));
    cr_assert(strstr(locus_last_error(), "'test.clear'"), "'%s'",
              locus_last_error());
    OK(locus_task_register(d, 1));
    cr_assert_str_empty(locus_last_error());
    cr_assert_eq(locus_task_register(NULL, 1), LOCUS_EINVAL);
    cr_assert_not(locus_last_error()[0] == '\0');
    cr_assert_eq(locus_task_lookup("test.clear"), f_one);
    cr_assert_str_empty(locus_last_error());

    /* arguments of a task made by hand (no worker: no result memory) */
    int64_t x = 42, v = 0;
    targ a = {.p = &x, .len = sizeof(x)};
    struct locus_task t = {.fn_name = "test.clear", .nargs = 1, .args = &a};
    const void *p;
    size_t n;
    cr_assert_eq(locus_task_arg(&t, 1, &p, &n), LOCUS_ERANGE);
    cr_assert(strstr(locus_last_error(), "argument 1"), "'%s'",
              locus_last_error());
    OK(locus_task_arg_i64(&t, 0, &v));
    cr_assert_eq(v, 42);
    cr_assert_str_empty(locus_last_error());
    a.len = 4;
    double f;
    cr_assert_eq(locus_task_arg_f64(&t, 0, &f), LOCUS_EINVAL);
    cr_assert(strstr(locus_last_error(), "4 bytes"), "'%s'",
              locus_last_error());
    OK(locus_task_arg(&t, 0, &p, &n));
    cr_assert_str_empty(locus_last_error());
    cr_assert_eq(locus_task_return(&t, NULL, 8), LOCUS_EINVAL);
}

Test(task, fail_code_outside_a_task)
{
    cr_assert_eq(locus_task_fail_code(NULL, LOCUS_ERANGE, "x"), LOCUS_ERANGE);
    cr_assert_eq(locus_task_fail_code(NULL, 5, "x"), LOCUS_ETASK);
    cr_assert_eq(locus_task_fail_code(NULL, -1000, "x"), LOCUS_ETASK);
    cr_assert_str_empty(locus_task_name(NULL));
}

static lt_cluster C;
static locus_client *cl;
static int passed;

static void teardown(void)
{
    if (cl)
        locus_disconnect(cl);
    cl = NULL;
    lt_fini_check(lt_cluster_stop(&C, !passed));
}

static locus_future *submit(const char *fn, const locus_arg *a, size_t n)
{
    locus_future *f = NULL;
    OK(locus_submit(cl, fn, a, n, NULL, &f));
    return f;
}

Test(task, registered_library_runs_on_workers, .fini = teardown, .timeout = 120)
{
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = 2;
    o.nthreads = 1;
    o.timeout_ms = T_MS;
    int rc = lt_cluster_start(&C, &o);
    cr_assert_eq(rc, 0, "locus_local_cluster_start: %s: %s", locus_errname(rc),
                 locus_last_error());
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.timeout_ms = T_MS;
    OK(locus_connect(C.file, &co, &cl));
    OK(locus_require(cl, TASKLIB, T_MS));

    locus_arg x = locus_arg_i64(21);
    int64_t v = 0;
    locus_future *f = submit("reg.twice", &x, 1);
    OK(locus_result_i64(f, T_MS, &v));
    cr_assert_eq(v, 42);
    locus_release(f);

    f = submit("reg.name", NULL, 0);
    const void *p;
    size_t len;
    OK(locus_result(f, T_MS, &p, &len));
    cr_assert_str_eq((const char *)p, "reg.name");
    locus_release(f);

    /* the code chosen by the task reaches the future */
    locus_arg i = locus_arg_i64(7);
    f = submit("reg.range", &i, 1);
    cr_assert_eq(locus_result(f, T_MS, NULL, NULL), LOCUS_ERANGE, "%s",
                 locus_last_error());
    cr_assert(strstr(locus_future_error(f), "index 7 out of range"), "'%s'",
              locus_future_error(f));
    locus_release(f);

    /* the library could not take a built-in's name; the built-in works */
    f = submit("reg.clash_rc", NULL, 0);
    OK(locus_result_i64(f, T_MS, &v));
    cr_assert_eq(v, LOCUS_EBUSY);
    locus_release(f);
    locus_arg b = locus_arg_bytes("abc", 3);
    f = submit("locus.identity", &b, 1);
    OK(locus_result(f, T_MS, &p, &len));
    cr_assert_eq(len, 3);
    cr_assert(!memcmp(p, "abc", 3));
    locus_release(f);

    /* the modules' built-ins registered themselves in the worker */
    locus_arg ar[2] = {locus_arg_i64(5), locus_arg_i64(3)};
    f = submit("locus.array.arange", ar, 2);
    OK(locus_result(f, T_MS, &p, &len));
    locus_ndview nv;
    OK(locus_ndbuf_view(p, len, &nv));
    cr_assert_eq(nv.nelems, 3);
    cr_assert_eq(((const int64_t *)nv.data)[2], 7);
    locus_release(f);
    locus_arg h[3] = {locus_arg_str("/nonexistent/x.h5"), locus_arg_str("/x"),
                      locus_arg_i64(0)};
    f = submit("locus.h5.info", h, 3);
    rc = locus_result(f, T_MS, NULL, NULL);
    cr_assert(rc != 0 && rc != LOCUS_ENOSYM, "locus.h5.info: %s: %s",
              locus_errname(rc), locus_future_error(f));
    locus_release(f);
    PASS();
}
