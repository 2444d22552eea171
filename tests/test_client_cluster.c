/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cluster: the key, NUMA binding, run on every worker, worker
 * restrictions, scatter and who_has, as_completed, stopping it
 * (locus_shutdown).
 * End to end, over real processes (support/client_suite.h).
 */
#include "client_suite.h"

TestSuite(cluster, .fini = teardown, .timeout = 150);

/* ---- security
 * ------------------------------------------------------------------- */

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

Test(cluster, wrong_key_is_refused)
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

Test(cluster, worker_on_synthetic_numa_node)
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

Test(cluster, local_cluster_one_worker_per_synthetic_node)
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

Test(cluster, run_on_all)
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

Test(cluster, worker_restrictions)
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

Test(cluster, scatter_and_who_has)
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

Test(cluster, as_completed_returns_each_once)
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

/* ---- stopping the cluster
 * -------------------------------------------------------- */

/* Wait for a process that is not our child (a worker under its nanny). */
static int gone_within(pid_t pid, int ms)
{
    for (double end = now_s() + ms / 1000.0; now_s() < end; nap_ms(10))
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return 1;
    return 0;
}

/* locus_shutdown over a cluster of locus-scheduler and locus-worker
 * processes started by hand: the scheduler answers, every daemon exits
 * with status 0 within a few seconds (no nanny restarts its worker), the
 * scheduler file and every /dev/shm file of those processes are gone, and
 * every client hears why. */
Test(cluster, shutdown_stops_every_daemon)
{
    cr_assert_eq(lt_cluster_init(&C), 0);
    cr_assert_eq(lt_cluster_spawn_sched(&C, NULL, T_MS), 0);
    const char *args[] = {"--nthreads", "1", NULL};
    cr_assert_gt(lt_cluster_spawn_worker(&C, args), 0);
    cr_assert_gt(lt_cluster_spawn_worker(&C, args), 0);
    cl = connect_to(C.file, 0);
    locus_client *other = connect_to(C.file, 0);
    cr_assert_eq(lt_wait_workers(cl, 2, T_MS), 0, "the workers did not join");
    OK(locus_require(cl, TASKLIB, T_MS));
    locus_worker_info w[2];
    cr_assert_eq(workers(cl, w, 2), 2);
    locus_arg one = locus_arg_i64(1);
    locus_future *f = submit("f1", &one, 1);
    cr_assert_eq(result_i64(f), 2);
    locus_release(f);
    /* a task still running when the cluster stops, for a minute, without
       looking at cancellation: its future fails, and it holds the stop up
       a second at most */
    locus_arg ms = locus_arg_i64(60000);
    locus_future *pending = submit("hold_ms", &ms, 1);

    pid_t pids[4] = {C.sched, C.workers[0], w[0].pid, w[1].pid};
    cr_assert_neq(w[0].pid, C.workers[0], "the worker runs under a nanny");
    cr_assert_gt(lt_shm_files_of(C.sched), 0,
                 "the scheduler has /dev/shm files to remove");
    cr_assert_gt(lt_shm_files_of(w[0].pid) + lt_shm_files_of(w[1].pid), 0,
                 "the workers have /dev/shm files to remove");

    cr_assert_eq(locus_shutdown(NULL, T_MS), LOCUS_EINVAL);
    cr_assert(locus_last_error()[0], "no message for a NULL client");
    double t0 = now_s();
    int rc = locus_shutdown(cl, T_MS);
    cr_assert_eq(rc, 0, "locus_shutdown: %s: %s", locus_errname(rc),
                 locus_last_error());
    cr_assert_str_empty(locus_last_error());

    int st = lt_wait(C.sched, 5000);
    cr_assert_eq(st, 0, "the scheduler ended with status %d after %.2f s", st,
                 now_s() - t0);
    C.sched = 0;
    for (int i = 0; i < 2; i++) {
        st = lt_wait(C.workers[i], 5000);
        cr_assert_eq(st, 0, "worker %d (nanny pid %d) ended with status %d", i,
                     (int)C.workers[i], st);
    }
    double took = now_s() - t0;
    C.nworkers = 0;
    cr_assert(gone_within(w[0].pid, 1000) && gone_within(w[1].pid, 1000),
              "a worker process outlived its nanny");
    cr_assert_lt(took, 5.0, "the cluster took %.2f s to stop", took);
    cr_log_info("cluster stopped %.2f s after locus_shutdown", took);
    cr_assert_neq(access(C.file, F_OK), 0, "scheduler file %s is still there",
                  C.file);
    cr_assert_eq(errno, ENOENT);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(lt_shm_files_of(pids[i]), 0,
                     "pid %d left %d /dev/shm files", (int)pids[i],
                     lt_shm_files_of(pids[i]));

    /* both clients heard it, with the reason */
    rc = locus_result(pending, T_MS, NULL, NULL);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert_eq(rc, LOCUS_ECLOSED, "the pending task: %s (%s)",
                 locus_errname(rc), lasterr);
    cr_assert(strstr(lasterr, "stopped the cluster"), "'%s'", lasterr);
    locus_release(pending);
    for (double end = now_s() + 5; now_s() < end; nap_ms(20)) {
        locus_future *g = NULL;
        rc = locus_submit(other, "f1", &one, 1, NULL, &g);
        if (rc != 0)
            break;
        locus_release(g);
    }
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert_eq(rc, LOCUS_ECLOSED, "the other client: %s (%s)",
                 locus_errname(rc), lasterr);
    cr_assert(strstr(lasterr, "stopped the cluster"), "'%s'", lasterr);
    EXPECT_ERR(locus_shutdown(cl, T_MS), LOCUS_ECLOSED);
    OK(locus_disconnect(other));
    PASS();
}
