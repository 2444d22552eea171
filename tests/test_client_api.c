/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API edge: bad input is refused with a message, a cluster that is
 * gone gives errors not hangs, bad options, clients that come and go.
 * End to end, over real processes (support/client_suite.h).
 */
#include "client_suite.h"

TestSuite(api, .fini = teardown, .timeout = 150);

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

Test(api, bad_input_is_rejected)
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
Test(api, cluster_gone_gives_errors_not_hangs)
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
Test(api, connect_to_silent_address_times_out)
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

Test(api, bad_cluster_options)
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
Test(api, many_clients_come_and_go)
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
Test(api, require_before_any_worker_joins)
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

/* ---- contracts of the headers
 * ------------------------------------------------------------ */

/* An option struct of an older header is smaller: its size runs from the
 * end of the first version's last field up to sizeof.  The library reads
 * no byte past size (AddressSanitizer would see it: the structs below are
 * malloc'd to exactly that size) and refuses sizes outside that range. */
/* Write the size field of a struct that may be shorter than its type. */
static void set_size(void *opts, size_t size)
{
    memcpy(opts, &size, sizeof(size));
}

Test(api, option_structs_take_every_size_of_their_versions)
{
    up(2, 1);
    size_t cmin = LC_OPTS_END(struct locus_connect_opts, flags);
    struct locus_connect_opts init = LOCUS_CONNECT_OPTS_INIT;
    init.timeout_ms = T_MS;
    void *co = malloc(cmin);
    cr_assert_not_null(co);
    memcpy(co, &init, cmin);
    set_size(co, cmin);
    locus_client *c2 = NULL;
    OK(locus_connect(C.file, co, &c2));
    cr_expect_str_eq(locus_last_error(), "");
    OK(locus_disconnect(c2));
    set_size(co, cmin - 1);
    EXPECT_ERR(locus_connect(C.file, co, &c2), LOCUS_EINVAL);
    cr_expect(strstr(lasterr, "LOCUS_CONNECT_OPTS_INIT"), "%s", lasterr);
    init.size = sizeof(init) + 8; /* a newer header's */
    EXPECT_ERR(locus_connect(C.file, &init, &c2), LOCUS_EINVAL);
    cr_expect_null(c2);
    free(co);

    size_t smin = LC_OPTS_END(struct locus_submit_opts, flags);
    struct locus_submit_opts sinit = LOCUS_SUBMIT_OPTS_INIT;
    locus_worker_info w2[2];
    size_t nw2 = 0;
    OK(locus_workers(cl, w2, 2, &nw2));
    cr_assert_eq(nw2, 2);
    int w = w2[1].id; /* not where the load balancer starts */
    sinit.workers = &w;
    sinit.nworkers = 1;
    void *so = malloc(smin);
    cr_assert_not_null(so);
    memcpy(so, &sinit, smin);
    set_size(so, smin);
    locus_arg one = locus_arg_i64(1);
    locus_future *f = NULL;
    OK(locus_submit(cl, "f1", &one, 1, so, &f));
    cr_expect_eq(result_i64(f), 2);
    size_t who = 0;
    int on = -1;
    OK(locus_who_has(f, &on, 1, &who));
    cr_expect_eq(on, w, "the restriction of a short struct was lost");
    locus_release(f);
    locus_future *fs[2];
    locus_arg two[2] = {locus_arg_i64(1), locus_arg_i64(2)};
    for (int k = 0; k < 2; k++) {
        if (k == 0)
            OK(locus_map(cl, "f1", two, 2, so, fs));
        else
            OK(locus_scatter(cl, two, 2, so, fs));
        for (int i = 0; i < 2; i++) {
            OK(locus_result(fs[i], T_MS, NULL, NULL));
            OK(locus_who_has(fs[i], &on, 1, &who));
            cr_expect_eq(on, w, "%s", k ? "scatter" : "map");
            locus_release(fs[i]);
        }
    }
    set_size(so, smin - 1);
    f = NULL;
    EXPECT_ERR(locus_submit(cl, "f1", &one, 1, so, &f), LOCUS_EINVAL);
    EXPECT_ERR(locus_map(cl, "f1", two, 2, so, fs), LOCUS_EINVAL);
    EXPECT_ERR(locus_scatter(cl, two, 2, so, fs), LOCUS_EINVAL);
    sinit.size = sizeof(sinit) + 8;
    EXPECT_ERR(locus_submit(cl, "f1", &one, 1, &sinit, &f), LOCUS_EINVAL);
    cr_expect_null(f);
    free(so);

    /* locus_worker_info: the stride is the caller's sizeof */
    locus_worker_info wi[2];
    memset(wi, 0xa5, sizeof(wi));
    size_t n = 0;
    OK(locus_workers(cl, wi, 2, &n));
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(wi[i].size, sizeof(wi[i]));
        cr_expect_gt(wi[i].id, 0);
        cr_expect_str_neq(wi[i].host, "");
    }
    /* a 0.2 caller's struct ends before tasks_inline: nothing past it is
       written */
    size_t v02 = offsetof(locus_worker_info, tasks_inline);
    unsigned char raw[2 * sizeof(locus_worker_info)];
    memset(raw, 0xa5, sizeof(raw));
    OK(locus_workers_sized(cl, (locus_worker_info *)raw, v02, 2, &n));
    cr_assert_eq(n, 2);
    locus_worker_info first;
    memcpy(&first, raw, sizeof(first));
    cr_expect_eq(first.size, v02);
    cr_expect_gt(first.id, 0);
    for (size_t i = 2 * v02; i < sizeof(raw); i++)
        cr_assert_eq(raw[i], 0xa5, "byte %zu past two 0.2 structs written", i);
    /* a 0.3 caller's ends before tasks_unbooked */
    size_t v03 = offsetof(locus_worker_info, tasks_unbooked);
    memset(raw, 0xa5, sizeof(raw));
    OK(locus_workers_sized(cl, (locus_worker_info *)raw, v03, 2, &n));
    cr_assert_eq(n, 2);
    memcpy(&first, raw, sizeof(first));
    cr_expect_eq(first.size, v03);
    cr_expect_gt(first.id, 0);
    for (size_t i = 2 * v03; i < sizeof(raw); i++)
        cr_assert_eq(raw[i], 0xa5, "byte %zu past two 0.3 structs written", i);
    EXPECT_ERR(locus_workers_sized(cl, wi, sizeof(wi[0]) - 4, 2, &n),
               LOCUS_EINVAL);
    EXPECT_ERR(locus_workers_sized(cl, wi, sizeof(wi[0]) + 8, 2, &n),
               LOCUS_EINVAL);
    PASS();
}

Test(api, cluster_options_of_a_newer_header_are_refused)
{
    cr_assert_eq(lt_cluster_init(&C), 0);
    locus_cluster *lc = NULL;
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.dir = C.dir;
    o.size = sizeof(o) + 8;
    EXPECT_ERR(locus_local_cluster_start(&o, &lc), LOCUS_EINVAL);
    cr_expect(strstr(lasterr, "LOCUS_CLUSTER_OPTS_INIT"), "%s", lasterr);
    o.size = LC_OPTS_END(struct locus_cluster_opts, flags) - 1;
    EXPECT_ERR(locus_local_cluster_start(&o, &lc), LOCUS_EINVAL);
    cr_expect_null(lc);
    PASS();
}

/* errors.h: locus_last_error() is "" after a call that succeeded, even
 * when the call before it failed. */
Test(api, last_error_is_empty_after_a_success)
{
    up(1, 1);
    locus_arg one = locus_arg_i64(1);
    locus_future *f = NULL;
#define FAIL_THEN_OK(call)                                                     \
    do {                                                                       \
        locus_future *g_ = NULL;                                               \
        cr_assert_neq(locus_submit(cl, "", NULL, 0, NULL, &g_), 0);            \
        cr_assert_neq(locus_last_error()[0], '\0');                            \
        OK(call);                                                              \
        cr_expect_str_eq(locus_last_error(), "", "after %s", #call);           \
    } while (0)
    FAIL_THEN_OK(locus_submit(cl, "f1", &one, 1, NULL, &f));
    FAIL_THEN_OK(locus_result(f, T_MS, NULL, NULL));
    int64_t v = 0;
    FAIL_THEN_OK(locus_result_i64(f, T_MS, &v));
    cr_expect_eq(v, 2);
    FAIL_THEN_OK(locus_wait(&f, 1, T_MS));
    locus_value val;
    FAIL_THEN_OK(locus_gather(&f, 1, T_MS, &val));
    size_t n = 0;
    FAIL_THEN_OK(locus_workers(cl, NULL, 0, &n));
    FAIL_THEN_OK(locus_cancel(f));
    FAIL_THEN_OK(locus_require(cl, TASKLIB, T_MS));
    locus_future *g = NULL;
    FAIL_THEN_OK(locus_scatter(cl, &one, 1, NULL, &g));
    locus_future **all = NULL;
    FAIL_THEN_OK(locus_run_on_all(cl, "f1", &one, 1, &all, NULL, &n));
    for (size_t i = 0; i < n; i++)
        locus_release(all[i]);
    free(all);
    locus_array *a = NULL, *r = NULL;
    FAIL_THEN_OK(locus_array_arange(cl, 10, 5, &a));
    FAIL_THEN_OK(locus_array_reduce(a, LOCUS_SUM, -1, &r));
    double sum = 0;
    FAIL_THEN_OK(locus_array_compute_f64(r, T_MS, &sum));
    cr_expect_eq(sum, 45.0);
    locus_array_free(r);
    locus_array_free(a);
#undef FAIL_THEN_OK
    locus_release(f);
    locus_release(g);
    PASS();
}

/* A future knows the type of the 8 bytes the client gave it (scatter of
 * an I64 or F64 argument) and refuses the other getter; a task's 8 bytes
 * are untyped. */
Test(api, typed_scatter_values_are_read_with_their_type)
{
    up(1, 1);
    locus_arg vals[2] = {locus_arg_f64(2.5), locus_arg_i64(7)};
    locus_future *fs[2];
    OK(locus_scatter(cl, vals, 2, NULL, fs));
    double d = 0;
    int64_t v = 0;
    OK(locus_result_f64(fs[0], T_MS, &d));
    cr_expect_eq(d, 2.5);
    EXPECT_ERR(locus_result_i64(fs[0], T_MS, &v), LOCUS_EINVAL);
    cr_expect(strstr(lasterr, "float") && strstr(lasterr, "locus_result_f64"),
              "%s", lasterr);
    OK(locus_result_i64(fs[1], T_MS, &v));
    cr_expect_eq(v, 7);
    EXPECT_ERR(locus_result_f64(fs[1], T_MS, &d), LOCUS_EINVAL);
    locus_arg one = locus_arg_i64(1);
    locus_future *t = submit("f1", &one, 1);
    OK(locus_result_i64(t, T_MS, &v));
    OK(locus_result_f64(t, T_MS, &d)); /* untyped: read as asked */
    locus_release(t);
    locus_release(fs[0]);
    locus_release(fs[1]);
    PASS();
}

/* locus_arg_str(NULL) is an empty BYTES argument, not a crash. */
Test(api, arg_str_of_null_is_empty_bytes)
{
    locus_arg a = locus_arg_str(NULL);
    cr_expect_eq(a.kind, LOCUS_ARG_BYTES);
    cr_expect_null(a.data);
    cr_expect_eq(a.len, 0);
    locus_arg b = locus_arg_str("ab");
    cr_expect_eq(b.len, 3);
    up(1, 1);
    locus_future *f = submit("locus.identity", &a, 1);
    const void *p;
    size_t len = 99;
    OK(locus_result(f, T_MS, &p, &len));
    cr_expect_eq(len, 0);
    locus_release(f);
    PASS();
}

/* References: a future lives while any holds it and is usable through
 * each; the last release frees it (using it after that is undefined, as
 * client.h says, and an AddressSanitizer build checks nothing reads it). */
Test(api, a_future_lives_while_a_reference_holds_it)
{
    up(1, 1);
    locus_arg one = locus_arg_i64(1);
    locus_future *f = submit("f1", &one, 1);
    cr_assert_eq(locus_future_ref(f), f);
    cr_assert_eq(locus_future_ref(f), f);
    locus_release(f);
    locus_release(f);
    cr_expect_eq(result_i64(f), 2);
    locus_arg fa = locus_arg_future(f);
    locus_future *g = submit("f1", &fa, 1);
    locus_release(f); /* the last: g keeps its input on the worker */
    cr_expect_eq(result_i64(g), 3);
    locus_release(g);
    /* a future of another client is refused */
    locus_client *c2 = connect_to(C.file, 0);
    locus_future *h = submit("f1", &one, 1);
    locus_arg ha = locus_arg_future(h);
    locus_future *x = NULL;
    EXPECT_ERR(locus_submit(c2, "f1", &ha, 1, NULL, &x), LOCUS_EINVAL);
    cr_expect_null(x);
    OK(locus_disconnect(c2));
    locus_release(h);
    PASS();
}
