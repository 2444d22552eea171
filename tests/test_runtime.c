/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Runtime core, end to end: real locus-scheduler and locus-worker processes
 * (started with locus_local_cluster_start, or by hand for the options a
 * local cluster does not have), real libfabric endpoints (tcp;ofi_rxm, and
 * shm between local peers), the task library tests/tasklib_test.c, and the
 * public API of include/locus.h.  No mocks.
 *
 * Every wait has a deadline (T_MS); a test that cannot finish fails.  A
 * watchdog (support/cluster.c) kills the daemons of a test that dies.  The
 * daemons' logs are printed when a test fails, and a test fails when a
 * daemon's log holds a sanitizer report (LOCUS_SANITIZE builds).
 *
 * Tests that speak the wire protocol themselves (malformed, forged and
 * replayed messages, the released-future rule, re-joins) are in
 * tests/test_sessions.c.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "check.h"
#include "cluster.h"
#include "locus.h"
#include "netns.h"
#include "proc.h"
#include "proto/auth.h"
#include "proto/schedfile.h"
#include "proto/wire.h"
#include "xport.h"

#define TASKLIB LOCUS_TEST_BINDIR "/libtasklib_test.so"
#define T_MS 20000 /* deadline of every wait that should succeed */
#define MIB (1024 * 1024)

static lt_cluster C;
static locus_client *cl;
static int passed;
static char lasterr[4096];

static lt_netns *nets;
static xport_ep *fx_ep; /* an endpoint nobody serves (freed if a test fails) */

static void teardown(void)
{
    if (cl)
        locus_disconnect(cl);
    cl = NULL;
    xport_close(fx_ep);
    fx_ep = NULL;
    int bad = lt_cluster_stop(&C, !passed);
    lt_netns_destroy(nets);
    nets = NULL;
    cr_assert_eq(bad, 0,
                 "%d daemon log(s) hold a sanitizer report (printed "
                 "above)",
                 bad);
}

TestSuite(runtime, .fini = teardown, .timeout = 150);

/* call must fail with code and leave a message in locus_last_error(). */
#define EXPECT_ERR(call, code)                                                 \
    do {                                                                       \
        int rc_ = (call);                                                      \
        snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());          \
        cr_expect_eq(rc_, (code), "%s returned %s, expected %s (%s)", #call,   \
                     locus_errname(rc_), locus_errname(code), lasterr);        \
        cr_expect(lasterr[0] != '\0', "%s: locus_last_error() is empty",       \
                  #call);                                                      \
    } while (0)

/* call must fail (any code) with a message. */
#define EXPECT_FAIL(call)                                                      \
    do {                                                                       \
        int rc_ = (call);                                                      \
        snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());          \
        cr_expect_lt(rc_, 0, "%s returned %d, expected an error", #call, rc_); \
        cr_expect(rc_ >= 0 || lasterr[0] != '\0',                              \
                  "%s: locus_last_error() is empty", #call);                   \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static locus_client *connect_to(const char *file, unsigned flags)
{
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.timeout_ms = T_MS;
    o.flags = flags;
    locus_client *c = NULL;
    OK(locus_connect(file, &o, &c));
    cr_assert_not_null(c);
    return c;
}

/* A local cluster of n workers with t threads each, a client, the task
 * library loaded. */
static void up_flags(int n, int t, unsigned cflags, unsigned connflags)
{
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = n;
    o.nthreads = t;
    o.flags = cflags;
    o.timeout_ms = T_MS;
    int rc = lt_cluster_start(&C, &o);
    cr_assert_eq(rc, 0, "locus_local_cluster_start: %s: %s", locus_errname(rc),
                 locus_last_error());
    cl = connect_to(C.file, connflags);
    locus_worker_info w[16];
    size_t have = 0;
    OK(locus_workers(cl, w, 16, &have));
    cr_assert_eq(have, (size_t)n,
                 "%zu workers connected after "
                 "locus_local_cluster_start, asked for %d",
                 have, n);
    OK(locus_require(cl, TASKLIB, T_MS));
}

static void up(int n, int t)
{
    up_flags(n, t, 0, 0);
}

static size_t workers(locus_client *c, locus_worker_info *w, size_t max)
{
    size_t n = 0;
    OK(locus_workers(c, w, max, &n));
    cr_assert_leq(n, max);
    return n;
}

static uint64_t bytes_held(locus_client *c)
{
    locus_worker_info w[16];
    size_t n = workers(c, w, 16);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i].bytes_held;
    return sum;
}

/* Poll until the workers hold exactly want bytes (heartbeats refresh the
 * figures every ~0.5 s).  Returns the last figure seen. */
static uint64_t wait_bytes_held(locus_client *c, uint64_t want, int ms)
{
    uint64_t have = 0;
    for (double end = now_s() + ms / 1000.0; now_s() < end; nap_ms(50)) {
        have = bytes_held(c);
        if (have == want)
            break;
    }
    return have;
}

static locus_future *submit_o(locus_client *c, const char *fn,
                              const locus_arg *args, size_t n,
                              const struct locus_submit_opts *o)
{
    locus_future *f = NULL;
    int rc = locus_submit(c, fn, args, n, o, &f);
    cr_assert_eq(rc, 0, "locus_submit(%s): %s: %s", fn, locus_errname(rc),
                 locus_last_error());
    cr_assert_not_null(f);
    return f;
}

static locus_future *submit(const char *fn, const locus_arg *args, size_t n)
{
    return submit_o(cl, fn, args, n, NULL);
}

static locus_future *submit_on(const char *fn, const locus_arg *args, size_t n,
                               int worker)
{
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = &worker;
    o.nworkers = 1;
    return submit_o(cl, fn, args, n, &o);
}

static int64_t result_i64(locus_future *f)
{
    int64_t v = 0;
    int rc = locus_result_i64(f, T_MS, &v);
    cr_assert_eq(rc, 0, "result of %s: %s: %s", locus_future_key(f),
                 locus_errname(rc), locus_last_error());
    return v;
}

/* Error of a task: waits, checks the code, keeps the message in lasterr. */
static void expect_task_error(locus_future *f, int code)
{
    double t0 = now_s();
    int rc = locus_result(f, T_MS, NULL, NULL);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert_neq(rc, LOCUS_ETIMEDOUT, "%s did not finish in %d ms",
                  locus_future_key(f), T_MS);
    cr_assert_eq(rc, code, "%s: %s (%s), expected %s after %.2f s",
                 locus_future_key(f), locus_errname(rc), lasterr,
                 locus_errname(code), now_s() - t0);
    cr_assert(lasterr[0], "no message in locus_last_error() for %s",
              locus_errname(rc));
    cr_assert_eq(locus_future_status(f), code);
}

static void check_pattern(const void *data, size_t len, size_t want,
                          int64_t seed)
{
    cr_assert_eq(len, want, "result has %zu bytes, expected %zu", len, want);
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        if (p[i] != lt_pattern(seed, i))
            cr_assert_fail("byte %zu of %zu is 0x%02x, expected 0x%02x", i, len,
                           p[i], lt_pattern(seed, i));
}

static locus_future *make_bytes(int64_t n, int64_t seed, int worker)
{
    locus_arg a[2] = {locus_arg_i64(n), locus_arg_i64(seed)};
    return worker >= 0 ? submit_on("make_bytes", a, 2, worker)
                       : submit("make_bytes", a, 2);
}

/* ---- submit, map, gather --------------------------------------------------
 */

Test(runtime, submit_map_gather)
{
    up(2, 2);
    locus_worker_info w[4];
    size_t nw = workers(cl, w, 4);
    cr_assert_eq(nw, 2);

    locus_future *p = submit("locus.pid", NULL, 0);
    int64_t pid = result_i64(p);
    cr_assert(pid == w[0].pid || pid == w[1].pid,
              "locus.pid gave %lld, workers are %d and %d", (long long)pid,
              w[0].pid, w[1].pid);
    cr_assert_eq(locus_future_status(p), 0);
    cr_assert_eq(strncmp(locus_future_key(p), "task-", 5), 0, "key '%s'",
                 locus_future_key(p));
    cr_assert_str_empty(locus_future_error(p));
    locus_release(p);

    enum { N = 40 };
    locus_arg in[N];
    locus_future *fs[N];
    locus_value vals[N];
    for (int i = 0; i < N; i++)
        in[i] = locus_arg_i64(1000 + i);
    OK(locus_map(cl, "f1", in, N, NULL, fs));
    OK(locus_gather(fs, N, T_MS, vals));
    for (int i = 0; i < N; i++) {
        cr_assert_eq(vals[i].status, 0, "index %d", i);
        cr_assert_eq(vals[i].len, 8, "index %d: %zu bytes", i, vals[i].len);
        int64_t v;
        memcpy(&v, vals[i].data, 8);
        cr_assert_eq(v, 1001 + i, "index %d: %lld", i, (long long)v);
        cr_assert_neq(
            strcmp(locus_future_key(fs[i]), locus_future_key(fs[0])) || i == 0,
            0, "futures %d and 0 share a key", i);
    }
    /* the same values through locus_result */
    const void *data;
    size_t len;
    OK(locus_result(fs[7], T_MS, &data, &len));
    cr_assert_eq(len, 8);
    cr_assert_eq(*(const int64_t *)data, 1008);
    for (int i = 0; i < N; i++)
        locus_release(fs[i]);

    /* inline bytes and f64 arguments round-trip through a task */
    const char msg[] = "hello, locus";
    locus_arg b = locus_arg_str(msg);
    locus_future *id = submit("locus.identity", &b, 1);
    OK(locus_result(id, T_MS, &data, &len));
    cr_assert_eq(len, sizeof(msg));
    cr_assert_str_eq(data, msg);
    locus_release(id);
    locus_arg d = locus_arg_f64(2.5);
    locus_future *fd = submit("locus.identity", &d, 1);
    double dv;
    OK(locus_result_f64(fd, T_MS, &dv));
    cr_assert_eq(dv, 2.5);
    locus_release(fd);

    /* the scheduler counted the work */
    nw = workers(cl, w, 4);
    uint64_t done = 0;
    for (size_t i = 0; i < nw; i++)
        done += w[i].tasks_done;
    cr_assert_geq(done, N + 3, "tasks_done adds up to %llu",
                  (unsigned long long)done);
    PASS();
}

Test(runtime, connect_with_env_and_many_small_tasks)
{
    up(2, 1);
    /* a second client found through $LOCUS_SCHEDULER_FILE */
    setenv("LOCUS_SCHEDULER_FILE", C.file, 1);
    locus_client *c2 = NULL;
    OK(locus_connect(NULL, NULL, &c2));
    unsetenv("LOCUS_SCHEDULER_FILE");

    enum { N = 2000 };
    locus_arg *in = calloc(N, sizeof(*in));
    locus_future **fs = calloc(N, sizeof(*fs));
    locus_value *vals = calloc(N, sizeof(*vals));
    cr_assert(in && fs && vals);
    for (int i = 0; i < N; i++)
        in[i] = locus_arg_i64(i);
    double t0 = now_s();
    OK(locus_map(c2, "f3", in, N, NULL, fs));
    OK(locus_gather(fs, N, T_MS, vals));
    double dt = now_s() - t0;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(vals[i].len, 8);
        cr_assert_eq(*(const int64_t *)vals[i].data, i + 3, "index %d", i);
    }
    for (int i = 0; i < N; i++)
        locus_release(fs[i]);
    cr_log_info("%d tasks in %.3f s (%.0f/s)", N, dt, N / dt);
    free(in);
    free(fs);
    free(vals);
    OK(locus_disconnect(c2));
    PASS();
}

/* The tutorial's SPMD example: one function over many inputs, spread. */
Test(runtime, spmd_sleep_pid)
{
    up(3, 1);
    locus_worker_info w[4];
    size_t nw = workers(cl, w, 4);
    cr_assert_eq(nw, 3);
    locus_arg in[3] = {locus_arg_i64(30), locus_arg_i64(15), locus_arg_i64(2)};
    locus_future *fs[3];
    locus_value v[3];
    OK(locus_map(cl, "f_sleep_pid", in, 3, NULL, fs));
    OK(locus_gather(fs, 3, T_MS, v));
    int64_t pids[3];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(v[i].len, 8);
        memcpy(&pids[i], v[i].data, 8);
        int known = 0;
        for (size_t k = 0; k < nw; k++)
            known |= pids[i] == w[k].pid;
        cr_assert(known, "pid %lld is no worker's", (long long)pids[i]);
    }
    int distinct =
        1 + (pids[1] != pids[0]) + (pids[2] != pids[0] && pids[2] != pids[1]);
    cr_assert_geq(distinct, 2,
                  "all 3 tasks ran in pid %lld: no load "
                  "balancing",
                  (long long)pids[0]);
    for (int i = 0; i < 3; i++)
        locus_release(fs[i]);
    PASS();
}

/* The tutorial's MPMD example: different functions at once. */
Test(runtime, mpmd)
{
    up(2, 2);
    const char *fns[3] = {"f1", "f2", "f3"};
    locus_future *fs[3];
    locus_arg one = locus_arg_i64(1);
    for (int i = 0; i < 3; i++)
        fs[i] = submit(fns[i], &one, 1);
    locus_value v[3];
    OK(locus_gather(fs, 3, T_MS, v));
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(v[i].len, 8);
        cr_assert_eq(*(const int64_t *)v[i].data, 2 + i, "%s(1)", fns[i]);
        locus_release(fs[i]);
    }
    PASS();
}

Test(runtime, futures_as_arguments)
{
    up(2, 2);
    /* submitted all before any finishes: the graph waits on its inputs */
    locus_arg x = locus_arg_i64(10);
    locus_future *a = submit("f1", &x, 1);
    locus_arg aa = locus_arg_future(a);
    locus_future *b = submit("f2", &aa, 1);
    locus_arg ab = locus_arg_future(b);
    locus_future *c = submit("f3", &ab, 1);
    locus_arg two[2] = {locus_arg_future(a), locus_arg_future(c)};
    locus_future *d = submit("add", two, 2);
    locus_arg mixed[2] = {locus_arg_future(d), locus_arg_i64(-100)};
    locus_future *e = submit("add", mixed, 2);
    cr_assert_eq(result_i64(e), 11 + 16 - 100);
    cr_assert_eq(result_i64(d), 27);
    cr_assert_eq(result_i64(c), 16);
    cr_assert_eq(result_i64(b), 13);
    cr_assert_eq(result_i64(a), 11);
    /* an input released by the client stays alive for its dependents */
    locus_release(a);
    locus_release(b);
    locus_release(c);
    locus_release(d);
    locus_release(e);

    /* a chain of 50, released as it is built */
    locus_arg z = locus_arg_i64(0);
    locus_future *prev = submit("f1", &z, 1);
    for (int i = 1; i < 50; i++) {
        locus_arg p = locus_arg_future(prev);
        locus_future *next = submit("f1", &p, 1);
        locus_release(prev);
        prev = next;
    }
    cr_assert_eq(result_i64(prev), 50);
    locus_release(prev);

    /* the same future twice in one task */
    locus_arg s = locus_arg_i64(21);
    locus_future *g = submit("f3", &s, 1);
    locus_arg gg[2] = {locus_arg_future(g), locus_arg_future(g)};
    locus_future *h = submit("add", gg, 2);
    cr_assert_eq(result_i64(h), 48);
    locus_release(g);
    locus_release(h);
    PASS();
}

/* ---- errors of tasks ------------------------------------------------------
 */

Test(runtime, failing_task_message_reaches_client)
{
    up(2, 1);
    locus_arg m = locus_arg_str("boom 42 from the task");
    locus_future *f = submit("fail_with", &m, 1);
    expect_task_error(f, LOCUS_ETASK);
    cr_assert(strstr(lasterr, "boom 42 from the task"),
              "locus_last_error() is '%s'", lasterr);
    cr_assert(strstr(locus_future_error(f), "boom 42 from the task"),
              "locus_future_error() is '%s'", locus_future_error(f));

    /* a dependent of a failed task fails too, and says why */
    locus_arg fa = locus_arg_future(f);
    locus_future *g = submit("f1", &fa, 1);
    int rc = locus_result(g, T_MS, NULL, NULL);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert(rc != 0 && rc != LOCUS_ETIMEDOUT,
              "dependent of a failed task: %s", locus_errname(rc));
    cr_assert(strstr(lasterr, "boom 42"),
              "dependent's error '%s' does not "
              "carry the input's message",
              lasterr);

    /* a dependent submitted before its input failed: the input waits on
       a sleep, then fails (fail_with of the sleep's empty result) */
    locus_arg sl = locus_arg_f64(0.3);
    locus_future *slow = submit("locus.sleep", &sl, 1);
    locus_arg fs = locus_arg_future(slow);
    locus_future *h = submit("fail_with", &fs, 1);
    locus_arg hs = locus_arg_future(h);
    locus_future *k = submit("f1", &hs, 1);
    rc = locus_result(k, T_MS, NULL, NULL);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert(rc != 0 && rc != LOCUS_ETIMEDOUT,
              "dependent of a failing task: %s", locus_errname(rc));
    cr_assert(strstr(lasterr, "fail_with"),
              "dependent's error '%s' does not "
              "name the failed input",
              lasterr);
    expect_task_error(h, LOCUS_ETASK);
    OK(locus_result(slow, T_MS, NULL, NULL));

    /* the built-in */
    locus_arg bm = locus_arg_str("builtin failure");
    locus_future *b = submit("locus.fail", &bm, 1);
    expect_task_error(b, LOCUS_ETASK);
    cr_assert(strstr(lasterr, "builtin failure"), "'%s'", lasterr);

    /* the worker keeps serving */
    locus_arg one = locus_arg_i64(1);
    locus_future *ok = submit("f2", &one, 1);
    cr_assert_eq(result_i64(ok), 3);
    locus_future *all[] = {f, g, slow, h, k, b, ok};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        locus_release(all[i]);
    PASS();
}

/* A task reading its arguments wrongly fails with a message naming the
 * function and the argument (task.h: "a message naming the argument and its
 * length"), not just a code. */
Test(runtime, task_argument_errors)
{
    up(1, 1);
    locus_arg three = locus_arg_bytes("abc", 3);
    locus_future *f = submit("f1", &three, 1);
    int rc = locus_result(f, T_MS, NULL, NULL);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert(rc != 0 && rc != LOCUS_ETIMEDOUT, "f1(3 bytes): %s",
              locus_errname(rc));
    cr_assert(strstr(lasterr, "f1"), "message '%s' does not name f1", lasterr);
    cr_assert(strstr(lasterr, "3 bytes") || strstr(lasterr, "argument 0"),
              "message '%s' does not name the argument or its length", lasterr);

    locus_future *g = submit("f1", NULL, 0);
    rc = locus_result(g, T_MS, NULL, NULL);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert(rc != 0 && rc != LOCUS_ETIMEDOUT, "f1(): %s", locus_errname(rc));
    cr_assert(strstr(lasterr, "argument 0"),
              "message '%s' does not name the "
              "missing argument",
              lasterr);
    locus_release(f);
    locus_release(g);
    PASS();
}

Test(runtime, missing_function_is_enosym)
{
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = 1;
    o.nthreads = 1;
    o.timeout_ms = T_MS;
    cr_assert_eq(lt_cluster_start(&C, &o), 0);
    cl = connect_to(C.file, 0);

    /* before locus_require the library's functions are unknown */
    locus_arg one = locus_arg_i64(1);
    locus_future *f = submit("f1", &one, 1);
    expect_task_error(f, LOCUS_ENOSYM);
    cr_assert(strstr(lasterr, "f1"),
              "ENOSYM message '%s' does not name the "
              "function",
              lasterr);
    locus_release(f);

    OK(locus_require(cl, TASKLIB, T_MS));
    f = submit("f1", &one, 1);
    cr_assert_eq(result_i64(f), 2);
    locus_release(f);

    f = submit("no_such_function_xyz", &one, 1);
    expect_task_error(f, LOCUS_ENOSYM);
    cr_assert(strstr(lasterr, "no_such_function_xyz"), "'%s'", lasterr);
    cr_assert(strstr(locus_future_error(f), "no_such_function_xyz"), "'%s'",
              locus_future_error(f));
    locus_release(f);
    f = submit("locus.no_such_builtin", NULL, 0);
    expect_task_error(f, LOCUS_ENOSYM);
    cr_assert(strstr(lasterr, "locus.no_such_builtin"), "'%s'", lasterr);
    locus_release(f);
    PASS();
}

Test(runtime, missing_library_is_elib)
{
    up(2, 1);
    locus_worker_info w[4];
    size_t nw = workers(cl, w, 4);

    /* a path that does not exist (the client may notice it first) */
    int rc = locus_require(cl, "/nonexistent/dir/libnope.so", T_MS);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert_eq(rc, LOCUS_ELIB, "%s: %s", locus_errname(rc), lasterr);
    cr_assert(strstr(lasterr, "libnope.so"), "'%s'", lasterr);
    cr_assert(strstr(lasterr, "No such file") ||
                  strstr(lasterr, "cannot open shared object"),
              "message '%s' lacks the reason", lasterr);

    /* a file that is not a shared object */
    char bad[1200];
    snprintf(bad, sizeof(bad), "%s/libnotelf.so", C.dir);
    FILE *fp = fopen(bad, "w");
    cr_assert_not_null(fp);
    fputs("this is not an ELF file\n", fp);
    fclose(fp);
    rc = locus_require(cl, bad, T_MS);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert_eq(rc, LOCUS_ELIB, "%s: %s", locus_errname(rc), lasterr);
    cr_assert(strstr(lasterr, "invalid ELF header") ||
                  strstr(lasterr, "file too short"),
              "message '%s' lacks dlerror()'s reason", lasterr);
    for (size_t i = 0; i < nw; i++) {
        char id[32], pid[32];
        snprintf(id, sizeof(id), "worker %d", w[i].id);
        snprintf(pid, sizeof(pid), "%d", w[i].pid);
        cr_assert(strstr(lasterr, id) || strstr(lasterr, pid),
                  "message '%s' does not name worker %d (pid %d)", lasterr,
                  w[i].id, w[i].pid);
    }

    /* the workers keep serving, the good library still works */
    locus_arg one = locus_arg_i64(1);
    locus_future *f = submit("f3", &one, 1);
    cr_assert_eq(result_i64(f), 4);
    locus_release(f);
    PASS();
}

/* A relative path is made absolute on the client. */
Test(runtime, require_relative_path)
{
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = 1;
    o.nthreads = 1;
    o.timeout_ms = T_MS;
    cr_assert_eq(lt_cluster_start(&C, &o), 0);
    cl = connect_to(C.file, 0);
    cr_assert_eq(chdir(LOCUS_TEST_BINDIR), 0);
    OK(locus_require(cl, "./libtasklib_test.so", T_MS));
    /* twice is fine */
    OK(locus_require(cl, TASKLIB, T_MS));
    locus_arg one = locus_arg_i64(5);
    locus_future *f = submit("f1", &one, 1);
    cr_assert_eq(result_i64(f), 6);
    locus_release(f);
    PASS();
}

/* ---- cancel ----------------------------------------------------------------
 */

Test(runtime, cancel_running_task)
{
    up(1, 1);
    locus_worker_info w[2];
    cr_assert_eq(workers(cl, w, 2), 1);

    locus_arg secs = locus_arg_f64(30.0);
    locus_future *s = submit("locus.sleep", &secs, 1);
    /* wait until it runs (heartbeats report it), or 3 s */
    for (double end = now_s() + 3; now_s() < end; nap_ms(50)) {
        workers(cl, w, 2);
        if (w[0].running > 0)
            break;
    }
    cr_assert_eq(locus_future_status(s), LOCUS_EAGAIN);
    double t0 = now_s();
    OK(locus_cancel(s));
    int rc = locus_result(s, T_MS, NULL, NULL);
    double dt = now_s() - t0;
    cr_assert_eq(rc, LOCUS_ECANCELED, "%s: %s", locus_errname(rc),
                 locus_last_error());
    cr_assert_lt(dt, 1.0, "cancel took %.2f s", dt);
    /* canceling again: no change */
    OK(locus_cancel(s));
    cr_assert_eq(locus_future_status(s), LOCUS_ECANCELED);

    /* the only task thread is free again: a new task runs at once */
    t0 = now_s();
    locus_future *p = submit("locus.pid", NULL, 0);
    int64_t pid = 0;
    rc = locus_result_i64(p, 10000, &pid);
    cr_assert_eq(rc, 0, "task after cancel: %s: %s", locus_errname(rc),
                 locus_last_error());
    cr_assert_eq(pid, w[0].pid);
    cr_assert_lt(now_s() - t0, 3.0, "the canceled sleep kept the thread");
    locus_release(s);
    locus_release(p);

    /* a function that polls locus_task_canceled */
    locus_future *spin = submit("spin_until_canceled", NULL, 0);
    nap_ms(300);
    OK(locus_cancel(spin));
    expect_task_error(spin, LOCUS_ECANCELED);
    locus_arg one = locus_arg_i64(1);
    locus_future *after = submit("f1", &one, 1);
    int64_t v = 0;
    rc = locus_result_i64(after, 10000, &v);
    cr_assert_eq(rc, 0, "task after canceled spin: %s", locus_errname(rc));
    cr_assert_eq(v, 2);
    locus_release(spin);
    locus_release(after);

    /* workers' counters settle: nothing left running */
    for (double end = now_s() + 3; now_s() < end; nap_ms(50)) {
        workers(cl, w, 2);
        if (w[0].running == 0)
            break;
    }
    cr_assert_eq(w[0].running, 0, "worker still reports %d running",
                 w[0].running);
    PASS();
}

Test(runtime, cancel_pending_finished_and_dependents)
{
    up(1, 1);
    /* one thread: the spin occupies it, the rest wait */
    locus_future *spin = submit("spin_until_canceled", NULL, 0);
    locus_arg one = locus_arg_i64(1);
    locus_future *queued = submit("f1", &one, 1);
    locus_arg q = locus_arg_future(spin);
    locus_future *dep = submit("f1", &q, 1);
    nap_ms(200);
    OK(locus_cancel(queued));
    expect_task_error(queued, LOCUS_ECANCELED);
    OK(locus_cancel(spin));
    expect_task_error(spin, LOCUS_ECANCELED);
    /* the dependent of a canceled task cannot run */
    int rc = locus_result(dep, T_MS, NULL, NULL);
    cr_assert(rc == LOCUS_ECANCELED || rc == LOCUS_ETASK,
              "dependent of a canceled task: %s: %s", locus_errname(rc),
              locus_last_error());

    /* canceling a finished future changes nothing */
    locus_future *done = submit("f2", &one, 1);
    cr_assert_eq(result_i64(done), 3);
    OK(locus_cancel(done));
    cr_assert_eq(locus_future_status(done), 0);
    cr_assert_eq(result_i64(done), 3);

    locus_release(spin);
    locus_release(queued);
    locus_release(dep);
    locus_release(done);
    PASS();
}

/* ---- data lifetime
 * ------------------------------------------------------------ */

Test(runtime, release_frees_worker_memory)
{
    up(2, 1);
    cr_assert_eq(wait_bytes_held(cl, 0, 3000), 0);
    locus_future *fs[4];
    for (int i = 0; i < 4; i++)
        fs[i] = make_bytes(MIB, i, -1);
    OK(locus_wait(fs, 4, T_MS));
    uint64_t held = wait_bytes_held(cl, 4 * MIB, 5000);
    cr_assert_eq(held, 4 * MIB, "workers hold %llu bytes, expected %d",
                 (unsigned long long)held, 4 * MIB);
    /* a second reference keeps the data */
    locus_future *extra = locus_future_ref(fs[0]);
    cr_assert_eq(extra, fs[0]);
    for (int i = 0; i < 4; i++)
        locus_release(fs[i]);
    held = wait_bytes_held(cl, MIB, 5000);
    cr_assert_eq(held, MIB, "after releasing 3 of 4: %llu bytes",
                 (unsigned long long)held);
    const void *data;
    size_t len;
    OK(locus_result(extra, T_MS, &data, &len));
    check_pattern(data, len, MIB, 0);
    locus_release(extra);
    held = wait_bytes_held(cl, 0, 5000);
    cr_assert_eq(held, 0, "after releasing all: %llu bytes",
                 (unsigned long long)held);
    PASS();
}

Test(runtime, disconnect_without_release_frees_data)
{
    up(2, 1);
    /* our own result, which must survive the other client */
    locus_future *mine = make_bytes(MIB, 99, -1);
    OK(locus_wait(&mine, 1, T_MS));

    locus_client *c2 = connect_to(C.file, 0);
    locus_future *fs[4];
    for (int i = 0; i < 4; i++) {
        locus_arg a[2] = {locus_arg_i64(2 * MIB), locus_arg_i64(i)};
        fs[i] = submit_o(c2, "make_bytes", a, 2, NULL);
    }
    OK(locus_wait(fs, 4, T_MS));
    uint64_t held = wait_bytes_held(cl, 9 * MIB, 5000);
    cr_assert_eq(held, 9 * MIB, "workers hold %llu bytes, expected %d",
                 (unsigned long long)held, 9 * MIB);
    /* disconnect without releasing: the client releases them itself */
    OK(locus_disconnect(c2));
    held = wait_bytes_held(cl, MIB, 10000);
    cr_assert_eq(held, MIB,
                 "after the client left the workers still hold "
                 "%llu bytes (expected only the other client's %d)",
                 (unsigned long long)held, MIB);
    const void *data;
    size_t len;
    OK(locus_result(mine, T_MS, &data, &len));
    check_pattern(data, len, MIB, 99);
    locus_release(mine);
    cr_assert_eq(wait_bytes_held(cl, 0, 5000), 0);
    PASS();
}

/* A client process that dies (no goodbye at all): the scheduler notices
 * and frees its data. */
Test(runtime, dead_client_frees_data)
{
    /* by hand, to declare a silent peer dead after 3 s instead of 10 */
    cr_assert_eq(lt_cluster_init(&C), 0);
    const char *sargs[] = {"--dead-after-ms", "3000", NULL};
    cr_assert_eq(lt_cluster_spawn_sched(&C, sargs, T_MS), 0);
    const char *wargs[] = {"--nthreads", "1", NULL};
    cr_assert_gt(lt_cluster_spawn_worker(&C, wargs), 0);
    cr_assert_gt(lt_cluster_spawn_worker(&C, wargs), 0);
    /* the child connects; this process has no client before the fork */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        close(fds[0]);
        int64_t seen = -1;
        struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
        co.timeout_ms = T_MS;
        locus_client *c = NULL;
        int crc = locus_connect(C.file, &co, &c);
        if (crc == 0 && lt_wait_workers(c, 2, T_MS) != 0)
            crc = LOCUS_ETIMEDOUT;
        if (crc == 0)
            crc = locus_require(c, TASKLIB, T_MS);
        if (crc != 0)
            fprintf(stderr, "child client: %s: %s\n", locus_errname(crc),
                    locus_last_error());
        if (crc == 0) {
            locus_future *fs[2] = {NULL, NULL};
            int ok = 1;
            for (int i = 0; i < 2 && ok; i++) {
                locus_arg a[2] = {locus_arg_i64(2 * MIB), locus_arg_i64(i)};
                ok = locus_submit(c, "make_bytes", a, 2, NULL, &fs[i]) == 0;
            }
            int wrc = ok ? locus_wait(fs, 2, T_MS) : -1;
            if (wrc != 0)
                fprintf(stderr, "child client: submit/wait: %s: %s\n",
                        locus_errname(wrc), locus_last_error());
            if (wrc == 0) {
                for (int k = 0; k < 100; k++) {
                    locus_worker_info w[4];
                    size_t n = 0;
                    uint64_t sum = 0;
                    if (locus_workers(c, w, 4, &n) == 0)
                        for (size_t i = 0; i < n && i < 4; i++)
                            sum += w[i].bytes_held;
                    seen = (int64_t)sum;
                    if (sum >= 4 * MIB)
                        break;
                    nap_ms(50);
                }
            }
        }
        if (write(fds[1], &seen, sizeof(seen)) != sizeof(seen))
            _exit(2);
        _exit(0); /* no release, no disconnect */
    }
    close(fds[1]);
    int64_t seen = -1;
    ssize_t r = read(fds[0], &seen, sizeof(seen));
    close(fds[0]);
    int st = lt_wait(child, T_MS);
    cr_assert_eq(r, (ssize_t)sizeof(seen), "child client reported nothing");
    cr_assert_eq(st, 0, "child client exited with %d", st);
    cr_assert_eq(seen, 4 * MIB, "child client saw %lld bytes held",
                 (long long)seen);

    cl = connect_to(C.file, 0);
    double t0 = now_s();
    uint64_t held = wait_bytes_held(cl, 0, 20000);
    cr_assert_eq(held, 0,
                 "%llu bytes still held %.1f s after the client "
                 "died",
                 (unsigned long long)held, now_s() - t0);
    cr_log_info("dead client's data freed after %.1f s", now_s() - t0);
    PASS();
}

Test(runtime, extra_references_keep_a_future)
{
    up(1, 1);
    locus_arg one = locus_arg_i64(1);
    locus_future *f = submit("f1", &one, 1);
    cr_assert_eq(result_i64(f), 2);
    /* two references: dropping one leaves a usable future */
    locus_future *keep = locus_future_ref(f);
    cr_assert_eq(keep, f);
    locus_release(f);
    cr_assert_eq(locus_future_status(keep), 0);
    locus_arg a = locus_arg_future(keep);
    locus_future *g = submit("f1", &a, 1);
    cr_assert_eq(result_i64(g), 3);
    cr_assert_eq(result_i64(keep), 2);
    locus_release(g);
    locus_release(keep);
    cr_assert_eq(wait_bytes_held(cl, 0, 5000), 0);
    PASS();
}

/* ---- security
 * ------------------------------------------------------------------- */

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    cr_assert_eq(chmod(path, mode), 0);
}

/* The scheduler file with the value of field name replaced. */
static char *edit_field(const char *text, const char *name,
                        void (*edit)(char *value, size_t len))
{
    char *copy = strdup(text);
    cr_assert_not_null(copy);
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\"", name);
    char *k = strstr(copy, pat);
    cr_assert_not_null(k, "no field %s in the scheduler file", name);
    char *q1 = strchr(k + strlen(pat), '"');
    cr_assert_not_null(q1);
    char *q2 = strchr(q1 + 1, '"');
    cr_assert_not_null(q2);
    edit(q1 + 1, (size_t)(q2 - q1 - 1));
    return copy;
}

static void flip_hex(char *v, size_t len)
{
    cr_assert_gt(len, 0);
    v[len - 1] = v[len - 1] == '0' ? '1' : '0';
}

static void zero_hex(char *v, size_t len)
{
    memset(v, '0', len);
}

static void bump_job(char *v, size_t len)
{
    cr_assert_gt(len, 0);
    v[len - 1] = v[len - 1] == 'a' ? 'b' : 'a';
}

Test(runtime, wrong_key_is_refused)
{
    up(1, 1);
    char *text = lt_slurp(C.file);
    cr_assert_not_null(text);
    char path[1200];
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.timeout_ms = 5000;

    void (*edits[2])(char *, size_t) = {flip_hex, zero_hex};
    for (int i = 0; i < 2; i++) {
        char *bad = edit_field(text, "key", edits[i]);
        snprintf(path, sizeof(path), "%s/badkey%d.json", C.dir, i);
        write_file(path, bad, 0600);
        free(bad);
        locus_client *evil = NULL;
        double t0 = now_s();
        int rc = locus_connect(path, &o, &evil);
        snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
        cr_assert_eq(rc, LOCUS_EAUTH, "connect with a wrong key: %s (%s)",
                     locus_errname(rc), lasterr);
        cr_assert(lasterr[0]);
        cr_assert_null(evil);
        cr_assert_lt(now_s() - t0, 6.0);
    }

    /* a stale file (another job id, right key) is refused too */
    char *stale = edit_field(text, "job_id", bump_job);
    snprintf(path, sizeof(path), "%s/stale.json", C.dir);
    write_file(path, stale, 0600);
    free(stale);
    locus_client *old = NULL;
    int rc = locus_connect(path, &o, &old);
    cr_assert(rc < 0, "connect with a stale job id succeeded");
    cr_assert_null(old);

    /* a key readable by others is not trusted */
    snprintf(path, sizeof(path), "%s/open.json", C.dir);
    write_file(path, text, 0644);
    locus_client *loose = NULL;
    rc = locus_connect(path, &o, &loose);
    cr_assert_eq(rc, LOCUS_EAUTH, "connect with a 0644 file: %s",
                 locus_errname(rc));
    cr_assert_null(loose);
    free(text);

    /* the cluster keeps serving: the old client and a new one */
    locus_arg one = locus_arg_i64(1);
    locus_future *f = submit("f1", &one, 1);
    cr_assert_eq(result_i64(f), 2);
    locus_release(f);
    locus_client *good = connect_to(C.file, 0);
    locus_future *g = submit_o(good, "locus.pid", NULL, 0, NULL);
    int64_t pid;
    OK(locus_result_i64(g, T_MS, &pid));
    locus_release(g);
    OK(locus_disconnect(good));
    PASS();
}

/* ---- NUMA
 * ------------------------------------------------------------------------ */

#define SYNTH2 "pack:1 numa:2 core:1 pu:1"

Test(runtime, worker_on_synthetic_numa_node)
{
    cr_assert_eq(lt_cluster_init(&C), 0);
    cr_assert_eq(lt_cluster_spawn_sched(&C, NULL, T_MS), 0);
    const char *args[] = {"--topology", SYNTH2, "--numa-node", "1",
                          "--nthreads", "1",    NULL};
    cr_assert_gt(lt_cluster_spawn_worker(&C, args), 0);
    cl = connect_to(C.file, 0);
    cr_assert_eq(lt_wait_workers(cl, 1, T_MS), 0, "the worker did not join");
    locus_worker_info w[2];
    cr_assert_eq(workers(cl, w, 2), 1);
    cr_assert_eq(w[0].numa_node, 1, "worker reports NUMA node %d",
                 w[0].numa_node);
    cr_assert_str_eq(w[0].cpuset, "1");
    cr_assert_eq(w[0].nthreads, 1);
    /* the worker process, whose parent is the nanny we started */
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", w[0].pid);
    char *st = lt_slurp(path);
    cr_assert(st, "worker pid %d not found", w[0].pid);
    int ppid = -1;
    sscanf(strrchr(st, ')') + 1, " %*c %d", &ppid);
    free(st);
    cr_assert_eq(ppid, C.workers[0], "worker pid %d: parent %d, not %d",
                 w[0].pid, ppid, (int)C.workers[0]);
    OK(locus_require(cl, TASKLIB, T_MS));
    locus_future *f = submit("where", NULL, 0);
    const void *data;
    size_t len;
    OK(locus_result(f, T_MS, &data, &len));
    cr_assert_eq(len, 32);
    const int64_t *v = data;
    cr_assert_eq(v[0], w[0].pid);
    cr_assert_eq(v[1], w[0].id);
    cr_assert_eq(v[2], 1, "task sees NUMA node %lld", (long long)v[2]);
    cr_assert_eq(v[3], 0);
    locus_release(f);
    PASS();
}

Test(runtime, local_cluster_one_worker_per_synthetic_node)
{
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.topology = SYNTH2;
    o.timeout_ms = T_MS;
    int rc = lt_cluster_start(&C, &o);
    cr_assert_eq(rc, 0, "%s: %s", locus_errname(rc), locus_last_error());
    cl = connect_to(C.file, 0);
    locus_worker_info w[4];
    size_t n = workers(cl, w, 4);
    cr_assert_eq(n, 2, "%zu workers for a 2-node topology", n);
    int seen[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        cr_assert(w[i].numa_node == 0 || w[i].numa_node == 1, "node %d",
                  w[i].numa_node);
        seen[w[i].numa_node]++;
        char want[8];
        snprintf(want, sizeof(want), "%d", w[i].numa_node);
        cr_assert_str_eq(w[i].cpuset, want, "worker on node %d",
                         w[i].numa_node);
        cr_assert_eq(w[i].nthreads, 1, "one core per node: %d threads",
                     w[i].nthreads);
    }
    cr_assert(seen[0] == 1 && seen[1] == 1, "nodes %d/%d", seen[0], seen[1]);
    PASS();
}

/* ---- direct view, restrictions, scatter
 * -------------------------------------- */

Test(runtime, run_on_all)
{
    up(3, 1);
    locus_worker_info w[4];
    size_t nw = workers(cl, w, 4);
    locus_future **fs = NULL;
    int *ids = NULL;
    size_t n = 0;
    OK(locus_run_on_all(cl, "locus.pid", NULL, 0, &fs, &ids, &n));
    cr_assert_eq(n, nw);
    cr_assert_not_null(fs);
    cr_assert_not_null(ids);
    for (size_t i = 0; i < n; i++) {
        int64_t pid = result_i64(fs[i]);
        int found = 0;
        for (size_t k = 0; k < nw; k++)
            if (w[k].id == ids[i]) {
                found = 1;
                cr_assert_eq(pid, w[k].pid,
                             "worker %d ran in pid %lld, "
                             "it is pid %d",
                             ids[i], (long long)pid, w[k].pid);
            }
        cr_assert(found, "worker id %d unknown", ids[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(ids[i], ids[j]);
        if (i > 0)
            cr_assert_lt(ids[i - 1], ids[i], "not in worker-id order");
    }
    for (size_t i = 0; i < n; i++)
        locus_release(fs[i]);
    free(fs);
    free(ids);

    /* with an argument, and without asking for ids */
    locus_arg a = locus_arg_i64(41);
    OK(locus_run_on_all(cl, "f1", &a, 1, &fs, NULL, &n));
    cr_assert_eq(n, nw);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(result_i64(fs[i]), 42);
        locus_release(fs[i]);
    }
    free(fs);
    PASS();
}

Test(runtime, worker_restrictions)
{
    up(3, 1);
    locus_worker_info w[4];
    size_t nw = workers(cl, w, 4);
    cr_assert_eq(nw, 3);
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < nw; i++) {
            locus_future *f = submit_on("where", NULL, 0, w[i].id);
            const void *data;
            size_t len;
            OK(locus_result(f, T_MS, &data, &len));
            cr_assert_eq(len, 32);
            const int64_t *v = data;
            cr_assert_eq(v[0], w[i].pid,
                         "restricted to worker %d (pid %d), "
                         "ran in pid %lld",
                         w[i].id, w[i].pid, (long long)v[0]);
            cr_assert_eq(v[1], w[i].id);
            locus_release(f);
        }

    /* two of three workers allowed: nothing runs on the third */
    int two[2] = {w[0].id, w[2].id};
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = two;
    o.nworkers = 2;
    enum { N = 12 };
    locus_arg in[N];
    locus_future *fs[N];
    locus_value v[N];
    for (int i = 0; i < N; i++)
        in[i] = locus_arg_i64(3);
    OK(locus_map(cl, "f_sleep_pid", in, N, &o, fs));
    OK(locus_gather(fs, N, T_MS, v));
    for (int i = 0; i < N; i++) {
        int64_t pid = *(const int64_t *)v[i].data;
        cr_assert(pid == w[0].pid || pid == w[2].pid,
                  "task %d ran in pid %lld, outside the allowed workers", i,
                  (long long)pid);
        locus_release(fs[i]);
    }

    /* no allowed worker exists */
    int nobody = 9999;
    o.workers = &nobody;
    o.nworkers = 1;
    locus_future *f = NULL;
    int rc = locus_submit(cl, "locus.pid", NULL, 0, &o, &f);
    if (rc == 0) {
        rc = locus_result(f, T_MS, NULL, NULL);
        locus_release(f);
    }
    cr_assert_eq(rc, LOCUS_ENOWORKERS, "restricted to worker 9999: %s: %s",
                 locus_errname(rc), locus_last_error());
    PASS();
}

Test(runtime, scatter_and_who_has)
{
    up(2, 1);
    locus_worker_info w[4];
    size_t nw = workers(cl, w, 4);
    cr_assert_eq(nw, 2);

    size_t big = 300 * 1024 + 7;
    unsigned char *pat = malloc(big);
    cr_assert_not_null(pat);
    for (size_t i = 0; i < big; i++)
        pat[i] = lt_pattern(5, i);
    const char *s1 = "small";
    locus_arg vals[4] = {locus_arg_str(s1), locus_arg_i64(77),
                         locus_arg_bytes(pat, big), locus_arg_bytes("", 0)};
    size_t lens[4] = {6, 8, big, 0};
    locus_future *fs[4];
    OK(locus_scatter(cl, vals, 4, NULL, fs));
    free(pat); /* scatter copies */
    int holders[4];
    for (int i = 0; i < 4; i++) {
        const void *data;
        size_t len;
        OK(locus_result(fs[i], T_MS, &data, &len));
        cr_assert_eq(len, lens[i], "value %d: %zu bytes", i, len);
        if (i == 0)
            cr_assert_str_eq(data, s1);
        if (i == 1)
            cr_assert_eq(*(const int64_t *)data, 77);
        if (i == 2)
            check_pattern(data, len, big, 5);
        int ids[8];
        size_t n = 0;
        OK(locus_who_has(fs[i], ids, 8, &n));
        cr_assert_geq(n, 1, "nobody holds value %d", i);
        holders[i] = ids[0];
        int known = 0;
        for (size_t k = 0; k < nw; k++)
            known |= ids[0] == w[k].id;
        cr_assert(known, "value %d on unknown worker %d", i, ids[0]);
    }
    /* spread over the workers */
    cr_assert(holders[0] != holders[1] || holders[1] != holders[2] ||
                  holders[2] != holders[3],
              "all scattered values on worker %d", holders[0]);

    /* tasks on scattered data run where it is */
    for (int i = 0; i < 4; i++) {
        locus_arg a[2] = {locus_arg_future(fs[i]), locus_arg_i64(0)};
        locus_future *n = submit("concat_len", a, 2);
        cr_assert_eq(result_i64(n), (int64_t)lens[i] + 8);
        locus_future *where = submit("where", a, 1);
        const void *d;
        size_t l;
        OK(locus_result(where, T_MS, &d, &l));
        cr_assert_eq(((const int64_t *)d)[1], holders[i],
                     "task on value %d "
                     "ran on worker %lld, the data is on %d",
                     i, (long long)((const int64_t *)d)[1], holders[i]);
        locus_release(n);
        locus_release(where);
    }
    locus_arg ck[2] = {locus_arg_future(fs[2]), locus_arg_i64(5)};
    locus_future *c = submit("check_bytes", ck, 2);
    cr_assert_eq(result_i64(c), 1);
    locus_release(c);
    for (int i = 0; i < 4; i++)
        locus_release(fs[i]);

    /* scatter to a chosen worker */
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = &w[1].id;
    o.nworkers = 1;
    locus_arg v = locus_arg_i64(5);
    locus_future *f;
    OK(locus_scatter(cl, &v, 1, &o, &f));
    OK(locus_result(f, T_MS, NULL, NULL));
    int id = -1;
    size_t n = 0;
    OK(locus_who_has(f, &id, 1, &n));
    cr_assert_eq(n, 1);
    cr_assert_eq(id, w[1].id);
    /* who_has of a computed result names the worker that ran it */
    locus_future *g = submit_on("locus.pid", NULL, 0, w[0].id);
    OK(locus_result(g, T_MS, NULL, NULL));
    OK(locus_who_has(g, &id, 1, &n));
    cr_assert_eq(n, 1);
    cr_assert_eq(id, w[0].id);
    locus_release(f);
    locus_release(g);
    PASS();
}

Test(runtime, as_completed_returns_each_once)
{
    up(2, 2);
    enum { N = 8 };
    locus_arg in[N];
    for (int i = 0; i < N; i++)
        in[i] = locus_arg_i64(i == 3 ? 150 : i % 3);
    locus_future *fs[N];
    OK(locus_map(cl, "f_sleep_pid", in, N, NULL, fs));
    unsigned char seen[N] = {0};
    size_t order[N];
    for (int k = 0; k < N; k++) {
        size_t idx = N;
        OK(locus_as_completed(fs, N, seen, T_MS, &idx));
        cr_assert_lt(idx, N);
        order[k] = idx;
        for (int j = 0; j < k; j++)
            cr_assert_neq(order[j], idx, "index %zu returned twice", idx);
        cr_assert_eq(seen[idx], 1);
        cr_assert_neq(locus_future_status(fs[idx]), LOCUS_EAGAIN,
                      "index %zu returned while pending", idx);
    }
    cr_assert_eq(order[N - 1], 3,
                 "index %zu came back last, not the "
                 "1.5 s task (index 3)",
                 order[N - 1]);
    size_t idx;
    int rc = locus_as_completed(fs, N, seen, T_MS, &idx);
    cr_assert_eq(rc, LOCUS_ENOENT, "after all were seen: %s",
                 locus_errname(rc));
    for (int i = 0; i < N; i++)
        locus_release(fs[i]);
    PASS();
}

/* ---- data paths: big results to the client, inputs on other workers --------
 */

/* The scheduler logs (at info level) how each peer joined: "via shm" or
 * "via net".  Checks every worker's line and the last client's. */
static void expect_routes(const char *worker_via, const char *client_via)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/scheduler.log", C.dir);
    char *log = lt_slurp(path);
    cr_assert_not_null(log, "no %s", path);
    int nworkers = 0;
    const char *last_client = NULL;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, " joined: "))
            continue;
        if (strstr(line, "sched: worker ")) {
            nworkers++;
            cr_expect(strstr(line, worker_via), "expected %s: %s", worker_via,
                      line);
        } else if (strstr(line, "sched: client ")) {
            last_client = line;
        }
    }
    cr_expect_eq(nworkers, 2, "%d worker join lines in the scheduler log",
                 nworkers);
    cr_expect(last_client && strstr(last_client, client_via),
              "expected the client %s: %s", client_via,
              last_client ? last_client : "(no line)");
    free(log);
}

static void data_paths(unsigned cflags, unsigned connflags)
{
    /* the daemons log how peers joined; this process stays quiet */
    setenv("LOCUS_LOG", "info", 1);
    lc_log_set_level(LC_LOG_WARN);
    up_flags(2, 1, cflags, connflags);
    expect_routes(cflags & LOCUS_CLUSTER_NO_SHM ? "via net" : "via shm",
                  connflags & LOCUS_CONNECT_NO_SHM ? "via net" : "via shm");
    locus_worker_info w[4];
    cr_assert_eq(workers(cl, w, 4), 2);
    int a = w[0].id, b = w[1].id;

    /* results fetched by the client, around the inline limit and big */
    const int64_t sizes[] = {
        0, 1, 1024, 1025, 64 * 1024 - 1, 64 * 1024 + 1, MIB, 3 * MIB + 5};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        locus_future *f = make_bytes(sizes[i], (int64_t)i + 11, -1);
        const void *data;
        size_t len;
        OK(locus_result(f, T_MS, &data, &len));
        check_pattern(data, len, (size_t)sizes[i], (int64_t)i + 11);
        /* asking twice gives the same bytes */
        const void *again;
        size_t len2;
        OK(locus_result(f, T_MS, &again, &len2));
        cr_assert_eq(len2, len);
        cr_assert(len == 0 || memcmp(again, data, len) == 0);
        locus_release(f);
    }

    /* the producer on worker a, the consumer on worker b */
    const int64_t xs[] = {100, 60 * 1024, MIB, 4 * MIB + 3};
    for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
        int64_t seed = 70 + (int64_t)i;
        locus_future *p = make_bytes(xs[i], seed, a);
        locus_arg ck[3] = {locus_arg_future(p), locus_arg_i64(seed),
                           locus_arg_i64(xs[i])};
        locus_future *c = submit_on("check_bytes", ck, 3, b);
        cr_assert_eq(result_i64(c), 1,
                     "%lld bytes moved from worker %d to "
                     "worker %d are not the bytes made",
                     (long long)xs[i], a, b);
        int ids[4];
        size_t n = 0;
        OK(locus_who_has(p, ids, 4, &n));
        cr_assert_geq(n, 1);
        cr_assert_eq(ids[0], a);
        /* and unrestricted, the task goes to the data */
        locus_future *wh = submit("where", ck, 1);
        const void *d;
        size_t l;
        OK(locus_result(wh, T_MS, &d, &l));
        cr_assert_eq(((const int64_t *)d)[1], a,
                     "a task on %lld bytes held "
                     "by worker %d ran on worker %lld",
                     (long long)xs[i], a, (long long)((const int64_t *)d)[1]);
        locus_release(p);
        locus_release(c);
        locus_release(wh);
    }

    /* two inputs, one on each worker, to a third task */
    locus_future *pa = make_bytes(MIB, 1, a);
    locus_future *pb = make_bytes(2 * MIB, 2, b);
    locus_arg two[2] = {locus_arg_future(pa), locus_arg_future(pb)};
    locus_future *sum = submit("concat_len", two, 2);
    cr_assert_eq(result_i64(sum), 3 * MIB);
    locus_release(pa);
    locus_release(pb);
    locus_release(sum);
    cr_assert_eq(wait_bytes_held(cl, 0, 5000), 0, "data left on the workers");
}

Test(runtime, data_paths_with_shm)
{
    data_paths(0, 0);
    PASS();
}

Test(runtime, data_paths_without_shm)
{
    data_paths(LOCUS_CLUSTER_NO_SHM, LOCUS_CONNECT_NO_SHM);
    PASS();
}

/* A client that will not use shm on a cluster that does. */
Test(runtime, data_paths_client_without_shm)
{
    data_paths(0, LOCUS_CONNECT_NO_SHM);
    PASS();
}

/* ---- threads
 * ------------------------------------------------------------------- */

struct thr {
    int idx;
    int failures;
    char why[256];
};

static void *client_thread(void *arg)
{
    struct thr *t = arg;
    for (int i = 0; i < 40; i++) {
        locus_arg a[2] = {locus_arg_i64(t->idx * 1000), locus_arg_i64(i)};
        locus_future *f = NULL;
        int64_t v = -1;
        int rc = locus_submit(cl, "add", a, 2, NULL, &f);
        if (rc == 0)
            rc = locus_result_i64(f, T_MS, &v);
        if (rc != 0 || v != t->idx * 1000 + i) {
            t->failures++;
            snprintf(t->why, sizeof(t->why), "task %d: %s (%s), value %lld", i,
                     locus_errname(rc), locus_last_error(), (long long)v);
        }
        locus_release(f);
    }
    return NULL;
}

Test(runtime, client_used_from_many_threads)
{
    up(2, 2);
    enum { NT = 6 };
    pthread_t th[NT];
    struct thr st[NT];
    for (int i = 0; i < NT; i++) {
        st[i] = (struct thr){i, 0, ""};
        cr_assert_eq(pthread_create(&th[i], NULL, client_thread, &st[i]), 0);
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NT; i++)
        cr_expect_eq(st[i].failures, 0, "thread %d: %d failures, last: %s", i,
                     st[i].failures, st[i].why);
    PASS();
}

/* ---- bad input
 * ------------------------------------------------------------------- */

/* A function name refused at submit (EINVAL) or by the task (late). */
static void expect_rejected(const char *fn, int late)
{
    locus_future *f = NULL;
    int rc = locus_submit(cl, fn, NULL, 0, NULL, &f);
    if (rc == 0) {
        rc = locus_result(f, T_MS, NULL, NULL);
        cr_expect_eq(rc, late, "function '%.40s...': %s", fn,
                     locus_errname(rc));
        cr_expect(locus_last_error()[0], "no message");
        locus_release(f);
    } else {
        cr_expect_eq(rc, LOCUS_EINVAL, "function '%.40s...': %s", fn,
                     locus_errname(rc));
        cr_expect(locus_last_error()[0], "no message");
    }
}

Test(runtime, bad_input_is_rejected)
{
    up(1, 1);
    locus_client *nc = NULL;
    locus_future *f = NULL;
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    char path[1200];

    /* connecting */
    unsetenv("LOCUS_SCHEDULER_FILE");
    EXPECT_FAIL(locus_connect(NULL, NULL, &nc));
    EXPECT_ERR(locus_connect(C.file, NULL, NULL), LOCUS_EINVAL);
    EXPECT_ERR(locus_connect("/nonexistent/scheduler.json", NULL, &nc),
               LOCUS_ENOENT);
    EXPECT_FAIL(locus_connect("", NULL, &nc));
    co.size = 0;
    EXPECT_ERR(locus_connect(C.file, &co, &nc), LOCUS_EINVAL);
    co.size = sizeof(co);
    co.flags = 0x80;
    EXPECT_ERR(locus_connect(C.file, &co, &nc), LOCUS_EINVAL);
    co.flags = 0;
    co.provider = "no-such-provider";
    co.timeout_ms = 3000;
    EXPECT_FAIL(locus_connect(C.file, &co, &nc));
    co.provider = NULL;
    snprintf(path, sizeof(path), "%s/garbage.json", C.dir);
    write_file(path, "{ this is not json", 0600);
    EXPECT_ERR(locus_connect(path, &co, &nc), LOCUS_EPROTO);
    write_file(path, "{\"format\": \"locus-scheduler-1\"}", 0600);
    EXPECT_ERR(locus_connect(path, &co, &nc), LOCUS_EPROTO);
    cr_expect_null(nc);
    EXPECT_ERR(locus_disconnect(NULL), LOCUS_EINVAL);

    /* require */
    EXPECT_ERR(locus_require(NULL, TASKLIB, T_MS), LOCUS_EINVAL);
    EXPECT_ERR(locus_require(cl, NULL, T_MS), LOCUS_EINVAL);
    EXPECT_FAIL(locus_require(cl, "", T_MS));

    /* submit and map */
    locus_arg one = locus_arg_i64(1);
    struct locus_submit_opts so = LOCUS_SUBMIT_OPTS_INIT;
    EXPECT_ERR(locus_submit(NULL, "f1", &one, 1, NULL, &f), LOCUS_EINVAL);
    EXPECT_ERR(locus_submit(cl, NULL, &one, 1, NULL, &f), LOCUS_EINVAL);
    expect_rejected("", LOCUS_ENOSYM);
    EXPECT_ERR(locus_submit(cl, "f1", NULL, 2, NULL, &f), LOCUS_EINVAL);
    EXPECT_ERR(locus_submit(cl, "f1", &one, 1, NULL, NULL), LOCUS_EINVAL);
    so.size = 0;
    EXPECT_ERR(locus_submit(cl, "f1", &one, 1, &so, &f), LOCUS_EINVAL);
    so.size = sizeof(so);
    so.flags = 0x4;
    EXPECT_ERR(locus_submit(cl, "f1", &one, 1, &so, &f), LOCUS_EINVAL);
    so.flags = 0;
    so.nworkers = 2; /* workers NULL */
    EXPECT_ERR(locus_submit(cl, "f1", &one, 1, &so, &f), LOCUS_EINVAL);
    so.nworkers = 0;
    locus_arg bad = one;
    bad.kind = 99;
    EXPECT_ERR(locus_submit(cl, "f1", &bad, 1, NULL, &f), LOCUS_EINVAL);
    bad = locus_arg_bytes(NULL, 5);
    EXPECT_ERR(locus_submit(cl, "f1", &bad, 1, NULL, &f), LOCUS_EINVAL);
    bad = locus_arg_future(NULL);
    EXPECT_ERR(locus_submit(cl, "f1", &bad, 1, NULL, &f), LOCUS_EINVAL);
    char longname[4096];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    expect_rejected(longname, LOCUS_ENOSYM);
    int rc;
    /* an argument bigger than any message */
    size_t huge = 64 * MIB;
    void *hb = calloc(1, huge);
    cr_assert_not_null(hb);
    locus_arg harg = locus_arg_bytes(hb, huge);
    rc = locus_submit(cl, "locus.nbytes", &harg, 1, NULL, &f);
    if (rc == 0) {
        int64_t v = -1;
        rc = locus_result_i64(f, T_MS, &v);
        cr_expect(rc != 0 || v == (int64_t)huge, "nbytes of 64 MiB gave %lld",
                  (long long)v);
        locus_release(f);
        f = NULL;
    } else {
        cr_expect(rc == LOCUS_EMSGSIZE || rc == LOCUS_EINVAL,
                  "64 MiB argument: %s", locus_errname(rc));
        cr_expect(locus_last_error()[0]);
    }
    free(hb);

    locus_future *fs[2] = {NULL, NULL};
    EXPECT_ERR(locus_map(NULL, "f1", &one, 1, NULL, fs), LOCUS_EINVAL);
    EXPECT_ERR(locus_map(cl, NULL, &one, 1, NULL, fs), LOCUS_EINVAL);
    EXPECT_ERR(locus_map(cl, "f1", NULL, 2, NULL, fs), LOCUS_EINVAL);
    EXPECT_ERR(locus_map(cl, "f1", &one, 1, NULL, NULL), LOCUS_EINVAL);
    locus_arg two[2] = {one, locus_arg_future(NULL)};
    EXPECT_ERR(locus_map(cl, "f1", two, 2, NULL, fs), LOCUS_EINVAL);
    cr_expect(fs[0] == NULL && fs[1] == NULL, "locus_map failed but gave "
                                              "futures");
    so.flags = 0x100;
    EXPECT_ERR(locus_map(cl, "f1", &one, 1, &so, fs), LOCUS_EINVAL);
    so.flags = 0;
    rc = locus_map(cl, "f1", &one, 0, NULL, fs);
    cr_expect(rc == 0 || rc == LOCUS_EINVAL, "map of nothing: %s",
              locus_errname(rc));

    /* scatter, run_on_all */
    EXPECT_ERR(locus_scatter(NULL, &one, 1, NULL, fs), LOCUS_EINVAL);
    EXPECT_ERR(locus_scatter(cl, NULL, 1, NULL, fs), LOCUS_EINVAL);
    EXPECT_ERR(locus_scatter(cl, &one, 1, NULL, NULL), LOCUS_EINVAL);
    locus_arg fut = locus_arg_future(NULL);
    EXPECT_ERR(locus_scatter(cl, &fut, 1, NULL, fs), LOCUS_EINVAL);
    so.flags = 0x8;
    EXPECT_ERR(locus_scatter(cl, &one, 1, &so, fs), LOCUS_EINVAL);
    so.flags = 0;
    locus_future **all = NULL;
    size_t nall = 0;
    EXPECT_ERR(locus_run_on_all(NULL, "f1", &one, 1, &all, NULL, &nall),
               LOCUS_EINVAL);
    EXPECT_ERR(locus_run_on_all(cl, NULL, &one, 1, &all, NULL, &nall),
               LOCUS_EINVAL);
    EXPECT_ERR(locus_run_on_all(cl, "f1", NULL, 1, &all, NULL, &nall),
               LOCUS_EINVAL);
    EXPECT_ERR(locus_run_on_all(cl, "f1", &one, 1, NULL, NULL, &nall),
               LOCUS_EINVAL);
    EXPECT_ERR(locus_run_on_all(cl, "f1", &one, 1, &all, NULL, NULL),
               LOCUS_EINVAL);
    cr_expect_null(all);

    /* waiting: NULLs, and timeouts of 0 on a pending future */
    locus_arg secs = locus_arg_f64(5.0);
    locus_future *slow = submit("locus.sleep", &secs, 1);
    const void *data;
    size_t len;
    int64_t iv;
    double dv;
    locus_value val;
    unsigned char seen[1] = {0};
    size_t idx;
    double t0 = now_s();
    EXPECT_ERR(locus_result(slow, 0, &data, &len), LOCUS_ETIMEDOUT);
    EXPECT_ERR(locus_result_i64(slow, 0, &iv), LOCUS_ETIMEDOUT);
    EXPECT_ERR(locus_wait(&slow, 1, 0), LOCUS_ETIMEDOUT);
    EXPECT_ERR(locus_gather(&slow, 1, 0, &val), LOCUS_ETIMEDOUT);
    EXPECT_ERR(locus_as_completed(&slow, 1, seen, 0, &idx), LOCUS_ETIMEDOUT);
    EXPECT_ERR(locus_result(slow, 200, NULL, NULL), LOCUS_ETIMEDOUT);
    cr_expect_lt(now_s() - t0, 2.0, "timeouts of 0 waited %.2f s",
                 now_s() - t0);
    cr_expect_eq(seen[0], 0);
    cr_expect_eq(locus_future_status(slow), LOCUS_EAGAIN);
    int nobody = 1;
    EXPECT_FAIL(locus_who_has(slow, &nobody, 1, &len));
    EXPECT_ERR(locus_result(NULL, T_MS, &data, &len), LOCUS_EINVAL);
    EXPECT_ERR(locus_result_i64(NULL, T_MS, &iv), LOCUS_EINVAL);
    EXPECT_ERR(locus_result_f64(NULL, T_MS, &dv), LOCUS_EINVAL);
    EXPECT_ERR(locus_result_i64(slow, T_MS, NULL), LOCUS_EINVAL);
    EXPECT_ERR(locus_gather(NULL, 1, T_MS, &val), LOCUS_EINVAL);
    EXPECT_ERR(locus_gather(&slow, 1, T_MS, NULL), LOCUS_EINVAL);
    locus_future *withnull[2] = {slow, NULL};
    locus_value vals2[2];
    EXPECT_ERR(locus_gather(withnull, 2, T_MS, vals2), LOCUS_EINVAL);
    EXPECT_ERR(locus_wait(NULL, 1, T_MS), LOCUS_EINVAL);
    EXPECT_ERR(locus_wait(withnull, 2, T_MS), LOCUS_EINVAL);
    EXPECT_ERR(locus_as_completed(NULL, 1, seen, T_MS, &idx), LOCUS_EINVAL);
    EXPECT_ERR(locus_as_completed(&slow, 1, NULL, T_MS, &idx), LOCUS_EINVAL);
    EXPECT_ERR(locus_as_completed(&slow, 1, seen, T_MS, NULL), LOCUS_EINVAL);
    EXPECT_ERR(locus_cancel(NULL), LOCUS_EINVAL);
    EXPECT_ERR(locus_future_status(NULL), LOCUS_EINVAL);
    EXPECT_ERR(locus_who_has(NULL, &nobody, 1, &len), LOCUS_EINVAL);
    EXPECT_ERR(locus_who_has(slow, &nobody, 1, NULL), LOCUS_EINVAL);
    cr_expect_null(locus_future_ref(NULL));
    locus_release(NULL);
    (void)locus_future_error(NULL); /* must not crash */
    (void)locus_future_key(NULL);

    /* a value of the wrong size for the typed getters */
    locus_arg s3 = locus_arg_bytes("abc", 3);
    locus_future *three = submit("locus.identity", &s3, 1);
    OK(locus_result(three, T_MS, NULL, NULL));
    EXPECT_FAIL(locus_result_i64(three, T_MS, &iv));
    EXPECT_FAIL(locus_result_f64(three, T_MS, &dv));
    locus_release(three);

    /* workers */
    locus_worker_info wi[2];
    size_t n;
    EXPECT_ERR(locus_workers(NULL, wi, 2, &n), LOCUS_EINVAL);
    EXPECT_ERR(locus_workers(cl, NULL, 2, &n), LOCUS_EINVAL);
    EXPECT_ERR(locus_workers(cl, wi, 2, NULL), LOCUS_EINVAL);
    OK(locus_workers(cl, wi, 0, &n)); /* count only */
    cr_expect_eq(n, 1);

    OK(locus_cancel(slow));
    locus_release(slow);

    /* error strings */
    cr_expect_str_eq(locus_strerror(0), "success");
    cr_expect_str_eq(locus_strerror(-12345), "unknown error");
    cr_expect_str_eq(locus_errname(LOCUS_ETIMEDOUT), "LOCUS_ETIMEDOUT");
    cr_expect_not_null(locus_errname(77));

    /* the task API outside a task */
    const void *p;
    cr_expect_eq(locus_task_nargs(NULL), 0);
    EXPECT_ERR(locus_task_arg(NULL, 0, &p, &len), LOCUS_EINVAL);
    cr_expect_null(locus_task_result(NULL, 8));
    cr_expect_neq(locus_task_return_i64(NULL, 1), 0);
    cr_expect_eq(locus_task_fail(NULL, "x"), LOCUS_ETASK);
    cr_expect_eq(locus_task_canceled(NULL), 0);
    cr_expect_lt(locus_task_worker_id(NULL), 0);

    /* after all that, the client still works */
    f = submit("f1", &one, 1);
    cr_assert_eq(result_i64(f), 2);
    locus_release(f);
    PASS();
}

/* Calls on a client after locus_disconnect's work failed, or on a cluster
 * that is gone: errors, not hangs. */
Test(runtime, cluster_gone_gives_errors_not_hangs)
{
    up(1, 1);
    locus_arg secs = locus_arg_f64(30.0);
    locus_future *slow = submit("locus.sleep", &secs, 1);
    nap_ms(200);
    OK(locus_local_cluster_stop(C.lc));
    C.lc = NULL;
    double t0 = now_s();
    int rc = locus_result(slow, 10000, NULL, NULL);
    cr_assert(rc != 0, "a task finished on a stopped cluster");
    cr_assert_neq(rc, LOCUS_ETIMEDOUT,
                  "the client did not notice that the "
                  "scheduler is gone within 10 s");
    cr_assert_lt(now_s() - t0, 11.0);
    locus_future *f = NULL;
    rc = locus_submit(cl, "locus.pid", NULL, 0, NULL, &f);
    if (rc == 0) {
        rc = locus_result(f, 10000, NULL, NULL);
        locus_release(f);
    }
    cr_assert(rc != 0, "submit on a stopped cluster succeeded");
    locus_release(slow);
    t0 = now_s();
    locus_disconnect(cl);
    cl = NULL;
    cr_assert_lt(now_s() - t0, 10.0, "disconnect took %.1f s", now_s() - t0);

    /* connecting to the file of a dead scheduler: ENOENT (file removed) or
       ETIMEDOUT, within the deadline */
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.timeout_ms = 2000;
    locus_client *c = NULL;
    t0 = now_s();
    rc = locus_connect(C.file, &o, &c);
    cr_assert(rc == LOCUS_ENOENT || rc == LOCUS_ETIMEDOUT, "%s",
              locus_errname(rc));
    cr_assert_lt(now_s() - t0, 4.0);
    PASS();
}

/* A scheduler file pointing at an endpoint nobody serves. */
Test(runtime, connect_to_silent_address_times_out)
{
    cr_assert_eq(lt_cluster_init(&C), 0);
    struct xport_opts xo = XPORT_OPTS_INIT;
    cr_assert_eq(xport_open(&xo, &fx_ep), 0, "%s", locus_last_error());
    schedfile sf;
    memset(&sf, 0, sizeof(sf));
    snprintf(sf.job_id, sizeof(sf.job_id), "silent-job");
    snprintf(sf.provider, sizeof(sf.provider), "%s", xport_provider(fx_ep));
    cr_assert_eq(xport_name(fx_ep, sf.net_addr, sizeof(sf.net_addr)), 0);
    snprintf(sf.host, sizeof(sf.host), "%s", lc_hostname());
    sf.pid = getpid();
    cr_assert_eq(schedfile_write(C.file, &sf), 0);
    /* the endpoint exists but nobody reads it */
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.timeout_ms = 1500;
    locus_client *c = NULL;
    double t0 = now_s();
    int rc = locus_connect(C.file, &o, &c);
    double dt = now_s() - t0;
    cr_assert_eq(rc, LOCUS_ETIMEDOUT, "%s: %s", locus_errname(rc),
                 locus_last_error());
    cr_assert_null(c);
    cr_assert_lt(dt, 5.0, "connect with a 1.5 s deadline took %.1f s", dt);
    xport_close(fx_ep);
    fx_ep = NULL;
    PASS();
}

Test(runtime, bad_cluster_options)
{
    cr_assert_eq(lt_cluster_init(&C), 0);
    locus_cluster *lc = NULL;
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.dir = C.dir;
    EXPECT_ERR(locus_local_cluster_start(&o, NULL), LOCUS_EINVAL);
    o.size = 0;
    EXPECT_ERR(locus_local_cluster_start(&o, &lc), LOCUS_EINVAL);
    o.size = sizeof(o);
    o.flags = 0x40;
    EXPECT_ERR(locus_local_cluster_start(&o, &lc), LOCUS_EINVAL);
    o.flags = 0;
    o.nworkers = -2;
    EXPECT_ERR(locus_local_cluster_start(&o, &lc), LOCUS_EINVAL);
    o.nworkers = 1;
    o.nthreads = -1;
    EXPECT_ERR(locus_local_cluster_start(&o, &lc), LOCUS_EINVAL);
    o.nthreads = 0;
    cr_expect_null(lc);
    cr_expect_null(locus_cluster_scheduler_file(NULL));
    cr_expect_eq(locus_local_cluster_stop(NULL), 0);

    /* a topology the workers cannot load: start fails in time, and leaves
       no daemons behind */
    o.topology = "this is not a topology";
    o.timeout_ms = 8000;
    double t0 = now_s();
    int rc = locus_local_cluster_start(&o, &lc);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    lt_cluster_watch_children(&C);
    if (rc == 0)
        locus_local_cluster_stop(lc);
    cr_assert_neq(rc, 0, "a cluster started with a garbage topology");
    cr_assert(lasterr[0]);
    cr_assert_lt(now_s() - t0, 12.0);
    nap_ms(200);
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "ps -o stat=,pid=,comm= --ppid %d | grep -v '^Z' | "
             "grep -q locus-",
             (int)getpid());
    cr_assert_neq(lt_sh("%s", cmd), 0,
                  "daemons left running after a failed "
                  "start");
    PASS();
}

/* Clients come and go; every one is answered at once. */
Test(runtime, many_clients_come_and_go)
{
    up(1, 1);
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.timeout_ms = 5000;
    for (int i = 0; i < 30; i++) {
        locus_client *c = NULL;
        double t0 = now_s();
        int rc = locus_connect(C.file, &o, &c);
        cr_assert_eq(rc, 0, "connect %d: %s: %s (after %.1f s)", i,
                     locus_errname(rc), locus_last_error(), now_s() - t0);
        locus_future *f = submit_o(c, "locus.pid", NULL, 0, NULL);
        int64_t pid;
        rc = locus_result_i64(f, 5000, &pid);
        cr_assert_eq(rc, 0, "client %d: %s: %s", i, locus_errname(rc),
                     locus_last_error());
        locus_release(f);
        OK(locus_disconnect(c));
        cr_assert_lt(now_s() - t0, 2.0, "client %d took %.1f s", i,
                     now_s() - t0);
    }
    PASS();
}

/* A library required before any worker joined is loaded by the workers
 * that join later, and the require itself answers at once. */
Test(runtime, require_before_any_worker_joins)
{
    cr_assert_eq(lt_cluster_init(&C), 0);
    cr_assert_eq(lt_cluster_spawn_sched(&C, NULL, T_MS), 0);
    cl = connect_to(C.file, 0);
    double t0 = now_s();
    int rc = locus_require(cl, TASKLIB, 5000);
    cr_assert_eq(rc, 0, "require with no worker: %s: %s (after %.1f s)",
                 locus_errname(rc), locus_last_error(), now_s() - t0);
    cr_assert_lt(now_s() - t0, 2.0);
    /* a task submitted now waits for a worker */
    locus_arg one = locus_arg_i64(1);
    locus_future *f = submit("f2", &one, 1);
    nap_ms(200);
    cr_assert_eq(locus_future_status(f), LOCUS_EAGAIN);
    const char *wargs[] = {"--nthreads", "1", NULL};
    cr_assert_gt(lt_cluster_spawn_worker(&C, wargs), 0);
    cr_assert_eq(lt_wait_workers(cl, 1, T_MS), 0, "the worker did not join");
    cr_assert_eq(result_i64(f), 3);
    locus_release(f);
    PASS();
}

/* ---- across hosts
 * ------------------------------------------------------------------ */

/* Two "hosts" (network namespaces with their own host names): the
 * scheduler and worker A on one, worker B on the other, the client on a
 * third host name in A's namespace.  Nothing can be mapped: results reach
 * the client, and inputs the other worker, by GET and fi_read. */
Test(runtime, across_hosts_data_moves_by_rma)
{
    char why[256];
    if (!lt_netns_available(why))
        cr_skip_test("no network namespaces: %s", why);
    cr_assert_eq(lt_cluster_init(&C), 0);
    nets = lt_netns_create(2, "10.252.9");
    cr_assert_not_null(nets, "lt_netns_create failed");
    const char *a0 = lt_netns_addr(nets, 0), *a1 = lt_netns_addr(nets, 1);
    const char *ns0 = lt_netns_name(nets, 0), *ns1 = lt_netns_name(nets, 1);
    const char *sargs[] = {"--bind", a0, NULL};
    cr_assert_eq(
        lt_cluster_spawn_sched_in(&C, ns0, "locus-host-a", sargs, T_MS), 0);
    const char *wa[] = {"--bind", a0, "--nthreads", "1", NULL};
    const char *wb[] = {"--bind", a1, "--nthreads", "1", NULL};
    cr_assert_gt(lt_cluster_spawn_worker_in(&C, ns0, "locus-host-a", wa), 0);
    cr_assert_gt(lt_cluster_spawn_worker_in(&C, ns1, "locus-host-b", wb), 0);

    cr_assert_eq(lt_netns_enter(nets, 0), 0, "setns: %s", strerror(errno));
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.timeout_ms = T_MS;
    o.bind = a0;
    OK(locus_connect(C.file, &o, &cl));
    cr_assert_eq(lt_wait_workers(cl, 2, T_MS), 0, "workers did not join");
    locus_worker_info w[4];
    cr_assert_eq(workers(cl, w, 4), 2);
    int ia = !strcmp(w[0].host, "locus-host-a") ? 0 : 1;
    cr_assert_str_eq(w[ia].host, "locus-host-a");
    cr_assert_str_eq(w[1 - ia].host, "locus-host-b");
    int A = w[ia].id, B = w[1 - ia].id;
    OK(locus_require(cl, TASKLIB, T_MS));

    /* results fetched by the client from either host */
    const int64_t sizes[] = {100, 70 * 1024, 3 * MIB + 5};
    for (size_t i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++) {
            int64_t seed = 300 + (int64_t)i * 2 + k;
            locus_future *f = make_bytes(sizes[i], seed, k ? B : A);
            const void *data;
            size_t len;
            OK(locus_result(f, T_MS, &data, &len));
            check_pattern(data, len, (size_t)sizes[i], seed);
            locus_release(f);
        }

    /* inputs read from the other host, both ways */
    for (int k = 0; k < 2; k++) {
        int from = k ? B : A, to = k ? A : B;
        for (size_t i = 0; i < 3; i++) {
            int64_t seed = 400 + (int64_t)i * 2 + k;
            locus_future *p = make_bytes(sizes[i], seed, from);
            locus_arg ck[3] = {locus_arg_future(p), locus_arg_i64(seed),
                               locus_arg_i64(sizes[i])};
            locus_future *c = submit_on("check_bytes", ck, 3, to);
            cr_assert_eq(result_i64(c), 1,
                         "%lld bytes read by worker %d "
                         "from worker %d on another host differ",
                         (long long)sizes[i], to, from);
            locus_release(p);
            locus_release(c);
        }
    }
    locus_future *pa = make_bytes(MIB, 1, A);
    locus_future *pb = make_bytes(2 * MIB, 2, B);
    locus_arg two[2] = {locus_arg_future(pa), locus_arg_future(pb)};
    locus_future *sum = submit("concat_len", two, 2);
    cr_assert_eq(result_i64(sum), 3 * MIB);
    locus_release(pa);
    locus_release(pb);
    locus_release(sum);
    cr_assert_eq(wait_bytes_held(cl, 0, 5000), 0, "data left on the workers");
    PASS();
}

/* A client on another host (its own network namespace) reaches the
 * scheduler with no option set in the program: it binds the address from
 * which the scheduler is reachable, not loopback. */
Test(runtime, client_on_another_host_needs_no_options)
{
    char why[256];
    if (!lt_netns_available(why))
        cr_skip_test("no network namespaces: %s", why);
    cr_assert_eq(lt_cluster_init(&C), 0);
    nets = lt_netns_create(2, "10.252.10");
    cr_assert_not_null(nets, "lt_netns_create failed");
    const char *a0 = lt_netns_addr(nets, 0);
    const char *ns0 = lt_netns_name(nets, 0);
    const char *sargs[] = {"--bind", a0, NULL};
    cr_assert_eq(
        lt_cluster_spawn_sched_in(&C, ns0, "locus-host-a", sargs, T_MS), 0);
    const char *wa[] = {"--bind", a0, "--nthreads", "1", NULL};
    cr_assert_gt(lt_cluster_spawn_worker_in(&C, ns0, "locus-host-a", wa), 0);
    cr_assert_eq(lt_netns_enter(nets, 1), 0, "setns: %s", strerror(errno));
    OK(locus_connect(C.file, NULL, &cl));
    cr_assert_eq(lt_wait_workers(cl, 1, T_MS), 0, "the worker did not join");
    OK(locus_require(cl, TASKLIB, T_MS));
    /* a value fetched from the worker on the other host, and a task */
    locus_future *f = make_bytes(3 * MIB + 5, 77, -1);
    const void *data;
    size_t len;
    OK(locus_result(f, T_MS, &data, &len));
    check_pattern(data, len, 3 * MIB + 5, 77);
    locus_release(f);
    cr_assert_eq(wait_bytes_held(cl, 0, 5000), 0, "data left on the worker");
    PASS();
}
