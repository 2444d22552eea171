/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Submit, map and gather; futures as arguments; errors of tasks; cancel.
 * End to end, over real processes (support/client_suite.h).
 */
#include "client_suite.h"

TestSuite(tasks, .fini = teardown, .timeout = 150);

/* ---- submit, map, gather --------------------------------------------------
 */

Test(tasks, submit_map_gather)
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

    /* every task is counted: by the scheduler (tasks_done: a lease's
       tasks are reported in batches, so the count may trail the results by
       about a millisecond, client.h), or, for a lease task released before
       it was booked, by its worker (tasks_unbooked, with its heartbeats);
       both catch up within two heartbeats */
    uint64_t done = 0, unbooked = 0, t0 = lc_now_ns();
    do {
        nw = workers(cl, w, 4);
        done = unbooked = 0;
        for (size_t i = 0; i < nw; i++) {
            done += w[i].tasks_done;
            unbooked += w[i].tasks_unbooked;
            cr_assert_leq(w[i].tasks_unbooked, w[i].tasks_direct);
        }
    } while (done + unbooked < N + 3 && lc_now_ns() - t0 < 2000000000ull);
    cr_assert_geq(done + unbooked, N + 3,
                  "tasks_done + tasks_unbooked add up to %llu + %llu after "
                  "%.1f ms",
                  (unsigned long long)done, (unsigned long long)unbooked,
                  (double)(lc_now_ns() - t0) / 1e6);
    cr_log_info("tasks_done %llu + tasks_unbooked %llu caught up %.2f ms after "
                "the last result",
                (unsigned long long)done, (unsigned long long)unbooked,
                (double)(lc_now_ns() - t0) / 1e6);
    PASS();
}

Test(tasks, connect_with_env_and_many_small_tasks)
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
Test(tasks, spmd_sleep_pid)
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
Test(tasks, mpmd)
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

Test(tasks, futures_as_arguments)
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

/* The workers' counters of how their tasks came and ran, once their
 * heartbeats (every ~0.5 s) cover `done` tasks: the tasks they received
 * (local + remote) are counted in the same heartbeat. */
static void how_tasks_ran(uint64_t done, uint64_t *direct, uint64_t *inl)
{
    locus_worker_info w[4];
    uint64_t sum = 0;
    for (double end = now_s() + T_MS / 1000.0; now_s() < end; nap_ms(50)) {
        size_t n = workers(cl, w, 4);
        sum = *direct = *inl = 0;
        for (size_t i = 0; i < n; i++) {
            sum += w[i].tasks_local + w[i].tasks_remote;
            *direct += w[i].tasks_direct;
            *inl += w[i].tasks_inline;
        }
        if (sum >= done)
            return;
    }
    cr_assert_fail("the workers report %llu tasks received, %llu were sent",
                   (unsigned long long)sum, (unsigned long long)done);
}

Test(tasks, direct_submission_keeps_locality)
{
    up(2, 1);
    uint64_t base = 0, d0, i0;
    how_tasks_ran(0, &d0, &i0);
    {
        locus_worker_info w[4];
        size_t n = workers(cl, w, 4);
        for (size_t i = 0; i < n; i++)
            base += w[i].tasks_local + w[i].tasks_remote;
    }
    /* one round trip: the leases come with its answer */
    locus_future *warm = submit("locus.noop", NULL, 0);
    OK(locus_result(warm, T_MS, NULL, NULL));
    locus_release(warm);
    /* tasks without inputs: up to the leases' slots go to the workers
       straight from here, the rest through the scheduler */
    enum { N = 64 };
    locus_future *f[N], *g[N];
    int64_t at[N][4];
    for (int i = 0; i < N; i++)
        f[i] = submit("where", NULL, 0);
    for (int i = 0; i < N; i++) {
        const void *p;
        size_t n;
        OK(locus_result(f[i], T_MS, &p, &n));
        cr_assert_eq(n, sizeof(at[i]));
        memcpy(at[i], p, n);
    }
    /* a task with a future input runs where that input is, whichever way
       the input's task went */
    for (int i = 0; i < N; i++) {
        locus_arg a = locus_arg_future(f[i]);
        g[i] = submit("where", &a, 1);
    }
    for (int i = 0; i < N; i++) {
        const void *p;
        size_t n;
        int64_t here[4];
        OK(locus_result(g[i], T_MS, &p, &n));
        cr_assert_eq(n, sizeof(here));
        memcpy(here, p, n);
        cr_expect_eq(here[1], at[i][1],
                     "task %d on worker %lld, its input on worker %lld", i,
                     (long long)here[1], (long long)at[i][1]);
        locus_release(f[i]);
        locus_release(g[i]);
    }
    uint64_t direct, inl;
    how_tasks_ran(base + 1 + 2 * N, &direct, &inl);
    cr_expect_geq(direct - d0, 2,
                  "%llu tasks came straight from the client (%llu inline)",
                  (unsigned long long)(direct - d0), (unsigned long long)inl);
    cr_expect_leq(direct - d0, N, "tasks with a future input went direct");

    /* a function that holds its thread never runs on the progress thread */
    how_tasks_ran(base + 1 + 2 * N, &direct, &i0);
    locus_future *h[8];
    for (int i = 0; i < 8; i++) {
        locus_arg a = locus_arg_i64(3);
        h[i] = submit("hold_ms", &a, 1);
    }
    for (int i = 0; i < 8; i++) {
        OK(locus_result(h[i], T_MS, NULL, NULL));
        locus_release(h[i]);
    }
    how_tasks_ran(base + 9 + 2 * N, &direct, &inl);
    cr_expect_eq(inl, i0, "%llu tasks of 3 ms ran inline",
                 (unsigned long long)(inl - i0));

    /* LOCUS_NO_DIRECT: this client sends everything through the
       scheduler */
    setenv("LOCUS_NO_DIRECT", "1", 1);
    locus_client *c2 = connect_to(C.file, 0);
    unsetenv("LOCUS_NO_DIRECT");
    uint64_t d1 = direct;
    for (int i = 0; i < 16; i++) {
        locus_future *x = submit_o(c2, "locus.noop", NULL, 0, NULL);
        OK(locus_result(x, T_MS, NULL, NULL));
        locus_release(x);
    }
    how_tasks_ran(base + 25 + 2 * N, &direct, &inl);
    cr_expect_eq(direct, d1, "a client without leases sent %llu direct",
                 (unsigned long long)(direct - d1));
    OK(locus_disconnect(c2));
    PASS();
}

/* ---- errors of tasks ------------------------------------------------------
 */

Test(tasks, failing_task_message_reaches_client)
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
Test(tasks, task_argument_errors)
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

Test(tasks, missing_function_is_enosym)
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

Test(tasks, missing_library_is_elib)
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
Test(tasks, require_relative_path)
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

Test(tasks, cancel_running_task)
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

Test(tasks, cancel_pending_finished_and_dependents)
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
