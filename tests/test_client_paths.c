/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data paths (mapped on the same host, RMA across hosts, inline),
 * a client used from many threads, and hosts in network namespaces.
 * End to end, over real processes (support/client_suite.h).
 */
#include "client_suite.h"

TestSuite(paths, .fini = teardown, .timeout = 150);

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

Test(paths, data_paths_with_shm)
{
    data_paths(0, 0);
    PASS();
}

Test(paths, data_paths_without_shm)
{
    data_paths(LOCUS_CLUSTER_NO_SHM, LOCUS_CONNECT_NO_SHM);
    PASS();
}

/* A client that will not use shm on a cluster that does. */
Test(paths, data_paths_client_without_shm)
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

Test(paths, client_used_from_many_threads)
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

/* ---- across hosts
 * ------------------------------------------------------------------ */

/* Two "hosts" (network namespaces with their own host names): the
 * scheduler and worker A on one, worker B on the other, the client on a
 * third host name in A's namespace.  Nothing can be mapped: results reach
 * the client, and inputs the other worker, by GET and fi_read. */
Test(paths, across_hosts_data_moves_by_rma)
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
Test(paths, client_on_another_host_needs_no_options)
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
