/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data locality: tasks run where their data is, nothing moves that need
 * not, and what must move takes the right path (mapped on the same host,
 * RMA between hosts), byte-exact.  Real scheduler and worker processes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "netns.h"
#include "proc.h"

#define TMO 30000
#define LIB LOCUS_TEST_BINDIR "/libtasklib_locality.so"

typedef struct totals {
    uint64_t mapped, rma, inl, local, remote, held;
} totals;

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sum of every worker's counters, once a heartbeat has carried them. */
static totals counters(locus_client *c)
{
    nap_ms(700);
    locus_worker_info wi[16];
    size_t n = 0;
    cr_assert_eq(locus_workers(c, wi, 16, &n), 0, "%s", locus_last_error());
    totals t = {0};
    for (size_t i = 0; i < n && i < 16; i++) {
        t.mapped += wi[i].bytes_mapped;
        t.rma += wi[i].bytes_rma;
        t.inl += wi[i].bytes_inline;
        t.local += wi[i].tasks_local;
        t.remote += wi[i].tasks_remote;
        t.held += wi[i].bytes_held;
    }
    return t;
}

static int worker_ids(locus_client *c, int *ids, int max)
{
    locus_worker_info wi[16];
    size_t n = 0;
    cr_assert_eq(locus_workers(c, wi, 16, &n), 0, "%s", locus_last_error());
    for (size_t i = 0; i < n && (int)i < max; i++)
        ids[i] = wi[i].id;
    return (int)n;
}

static locus_future *make_on(locus_client *c, int worker, int64_t n,
                             int64_t seed)
{
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = &worker;
    o.nworkers = 1;
    locus_arg a[2] = {locus_arg_i64(n), locus_arg_i64(seed)};
    locus_future *f;
    cr_assert_eq(locus_submit(c, "make_block", a, 2, &o, &f), 0, "%s",
                 locus_last_error());
    cr_assert_eq(locus_result(f, TMO, NULL, NULL), 0, "%s", locus_last_error());
    return f;
}

static int where(locus_future *f)
{
    int w = -1;
    size_t n = 0;
    cr_assert_eq(locus_who_has(f, &w, 1, &n), 0, "%s", locus_last_error());
    return w;
}

static void start(lt_cluster *cl, locus_client **c, int nworkers,
                  unsigned flags)
{
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = nworkers;
    o.nthreads = 1;
    o.flags = flags;
    cr_assert_eq(lt_cluster_start(cl, &o), 0, "%s", locus_last_error());
    cr_assert_eq(locus_connect(cl->file, NULL, c), 0, "%s", locus_last_error());
    cr_assert_eq(locus_require(*c, LIB, TMO), 0, "%s", locus_last_error());
}

Test(locality, per_block_tasks_run_where_the_blocks_are)
{
    lt_cluster cl;
    locus_client *c;
    start(&cl, &c, 3, 0);
    /* 16 blocks scattered over the workers */
    enum { N = 16, SZ = 8192 };
    static unsigned char blocks[N][SZ];
    locus_arg vals[N];
    for (int b = 0; b < N; b++) {
        for (int i = 0; i < SZ; i++)
            blocks[b][i] = lt_pattern(b, (uint64_t)i);
        vals[b] = locus_arg_bytes(blocks[b], SZ);
    }
    locus_future *fb[N], *fr[N];
    cr_assert_eq(locus_scatter(c, vals, N, NULL, fb), 0, "%s",
                 locus_last_error());
    cr_assert_eq(locus_wait(fb, N, TMO), 0, "%s", locus_last_error());
    int holders[16] = {0};
    for (int b = 0; b < N; b++) {
        int w = where(fb[b]);
        cr_assert(w > 0 && w < 16);
        holders[w]++;
    }
    int used = 0;
    for (int i = 0; i < 16; i++)
        used += holders[i] > 0;
    cr_assert_geq(used, 2, "scatter used %d workers", used);

    totals before = counters(c);
    for (int b = 0; b < N; b++) {
        locus_arg a[2] = {locus_arg_future(fb[b]), locus_arg_i64(b)};
        cr_assert_eq(locus_submit(c, "check_block", a, 2, NULL, &fr[b]), 0,
                     "%s", locus_last_error());
    }
    for (int b = 0; b < N; b++) {
        int64_t bad;
        cr_assert_eq(locus_result_i64(fr[b], TMO, &bad), 0, "%s",
                     locus_last_error());
        cr_assert_eq(bad, -1, "block %d wrong at byte %lld", b, (long long)bad);
        cr_assert_eq(where(fr[b]), where(fb[b]),
                     "task of block %d ran on worker %d, block on %d", b,
                     where(fr[b]), where(fb[b]));
    }
    totals after = counters(c);
    cr_assert_eq(after.mapped + after.rma + after.inl,
                 before.mapped + before.rma + before.inl,
                 "bytes moved between workers: mapped %llu rma %llu inline "
                 "%llu",
                 (unsigned long long)(after.mapped - before.mapped),
                 (unsigned long long)(after.rma - before.rma),
                 (unsigned long long)(after.inl - before.inl));
    cr_assert_eq(after.remote, before.remote);
    cr_assert_geq(after.local - before.local, N);
    for (int b = 0; b < N; b++) {
        locus_release(fr[b]);
        locus_release(fb[b]);
    }
    locus_disconnect(c);
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}

/* A task with a big input on one worker and a small one on another runs
 * with the big one; the small one is fetched, by the path asked for. */
static void two_inputs(unsigned flags, int no_map)
{
    if (no_map)
        setenv("LOCUS_NO_MAP", "1", 1);
    lt_cluster cl;
    locus_client *c;
    start(&cl, &c, 2, flags);
    if (no_map)
        unsetenv("LOCUS_NO_MAP");
    int ids[16];
    cr_assert_eq(worker_ids(c, ids, 16), 2);
    const int64_t big = 8 << 20, small = 3 << 20;
    locus_future *a = make_on(c, ids[0], big, 11);
    locus_future *b = make_on(c, ids[1], small, 12);
    totals before = counters(c);
    locus_arg args[4] = {locus_arg_future(a), locus_arg_i64(11),
                         locus_arg_future(b), locus_arg_i64(12)};
    locus_future *r;
    cr_assert_eq(locus_submit(c, "check_two", args, 4, NULL, &r), 0, "%s",
                 locus_last_error());
    int64_t bad;
    cr_assert_eq(locus_result_i64(r, TMO, &bad), 0, "%s", locus_last_error());
    cr_assert_eq(bad, -1, "wrong byte at %lld", (long long)bad);
    cr_assert_eq(where(r), ids[0], "ran on worker %d, the big input is on %d",
                 where(r), ids[0]);
    totals after = counters(c);
    if (no_map) {
        cr_assert_eq(after.rma - before.rma, (uint64_t)small,
                     "rma %llu mapped %llu",
                     (unsigned long long)(after.rma - before.rma),
                     (unsigned long long)(after.mapped - before.mapped));
        cr_assert_eq(after.mapped, before.mapped);
    } else {
        cr_assert_eq(after.mapped - before.mapped, (uint64_t)small,
                     "mapped %llu rma %llu",
                     (unsigned long long)(after.mapped - before.mapped),
                     (unsigned long long)(after.rma - before.rma));
        cr_assert_eq(after.rma, before.rma);
    }
    cr_assert_eq(after.remote - before.remote, 1);

    /* the client gets the big value byte-exact too */
    const void *p;
    size_t n;
    cr_assert_eq(locus_result(a, TMO, &p, &n), 0, "%s", locus_last_error());
    cr_assert_eq(n, (size_t)big);
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)p)[i] != lt_pattern(11, i))
            cr_assert_fail("client copy wrong at byte %zu", i);
    locus_release(r);
    locus_release(a);
    locus_release(b);
    locus_disconnect(c);
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}

Test(locality, input_on_another_worker_is_mapped)
{
    two_inputs(0, 0);
}

Test(locality, input_on_another_worker_by_rma)
{
    two_inputs(0, 1);
}

Test(locality, input_by_rma_without_shm_provider)
{
    two_inputs(LOCUS_CLUSTER_NO_SHM, 1);
}

Test(locality, release_frees_arena_memory)
{
    lt_cluster cl;
    locus_client *c;
    start(&cl, &c, 2, 0);
    int ids[16];
    cr_assert_eq(worker_ids(c, ids, 16), 2);
    totals t0 = counters(c);
    locus_future *a = make_on(c, ids[0], 5 << 20, 1);
    locus_future *b = make_on(c, ids[1], 1000, 2);
    totals t1 = counters(c);
    cr_assert_eq(t1.held - t0.held, (uint64_t)(5 << 20) + 1000);
    locus_release(a);
    locus_release(b);
    totals t2 = counters(c);
    cr_assert_eq(t2.held, t0.held, "held %llu after release",
                 (unsigned long long)t2.held);
    locus_disconnect(c);
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}

/* ---- across hosts: network namespaces with host names of their own ---- */

Test(locality, across_namespace_hosts_by_rma)
{
    char why[256];
    if (!lt_netns_available(why))
        cr_skip_test("network namespaces unavailable: %s", why);
    lt_netns_cleanup_stale();
    lt_cluster cl;
    cr_assert_eq(lt_cluster_init(&cl), 0);
    lt_netns *ns = lt_netns_create(3, "10.251.41");
    cr_assert(ns, "cannot create namespaces");
    char log[1200];
    /* host 0: scheduler (and this client); hosts 1, 2: a worker each */
    char *sargv[] = {(char *)lt_tool("locus-scheduler"),
                     "--scheduler-file",
                     cl.file,
                     "--bind",
                     (char *)lt_netns_addr(ns, 0),
                     NULL};
    snprintf(log, sizeof(log), "%s/scheduler.log", cl.dir);
    pid_t sp = lt_spawn_in(lt_netns_name(ns, 0), NULL, sargv, log);
    cr_assert(sp > 0);
    lt_cluster_watch(&cl, sp);
    for (int i = 0; i < 100 && access(cl.file, F_OK) != 0; i++)
        nap_ms(50);
    cr_assert_eq(access(cl.file, F_OK), 0, "no scheduler file");
    pid_t wp[2];
    for (int i = 0; i < 2; i++) {
        char host[32];
        snprintf(host, sizeof(host), "lchost%d", i + 1);
        char *wargv[] = {(char *)lt_tool("locus-worker"),
                         "--scheduler-file",
                         cl.file,
                         "--bind",
                         (char *)lt_netns_addr(ns, i + 1),
                         "--nthreads",
                         "1",
                         NULL};
        snprintf(log, sizeof(log), "%s/worker-%d.log", cl.dir, i);
        wp[i] = lt_spawn_in(lt_netns_name(ns, i + 1), host, wargv, log);
        cr_assert(wp[i] > 0);
        lt_cluster_watch(&cl, wp[i]);
    }
    cr_assert_eq(lt_netns_enter(ns, 0), 0, "cannot enter namespace");
    locus_client *c;
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.bind = lt_netns_addr(ns, 0);
    cr_assert_eq(locus_connect(cl.file, &co, &c), 0, "%s", locus_last_error());
    cr_assert_eq(lt_wait_workers(c, 2, TMO), 0);
    cr_assert_eq(locus_require(c, LIB, TMO), 0, "%s", locus_last_error());
    locus_worker_info wi[4];
    size_t n = 0;
    cr_assert_eq(locus_workers(c, wi, 4, &n), 0, "%s", locus_last_error());
    cr_assert_eq(n, 2);
    cr_assert_str_neq(wi[0].host, wi[1].host);

    const int64_t big = 16 << 20, small = 6 << 20;
    locus_future *a = make_on(c, wi[0].id, big, 21);
    locus_future *b = make_on(c, wi[1].id, small, 22);
    totals before = counters(c);
    locus_arg args[4] = {locus_arg_future(a), locus_arg_i64(21),
                         locus_arg_future(b), locus_arg_i64(22)};
    locus_future *r;
    cr_assert_eq(locus_submit(c, "check_two", args, 4, NULL, &r), 0, "%s",
                 locus_last_error());
    int64_t bad;
    cr_assert_eq(locus_result_i64(r, TMO, &bad), 0, "%s", locus_last_error());
    cr_assert_eq(bad, -1, "wrong byte at %lld", (long long)bad);
    cr_assert_eq(where(r), wi[0].id);
    totals after = counters(c);
    cr_assert_eq(after.rma - before.rma, (uint64_t)small);
    cr_assert_eq(after.mapped, before.mapped);

    /* and the client, on another host, reads a value by RMA */
    const void *p;
    size_t len;
    cr_assert_eq(locus_result(b, TMO, &p, &len), 0, "%s", locus_last_error());
    cr_assert_eq(len, (size_t)small);
    for (size_t i = 0; i < len; i++)
        if (((const unsigned char *)p)[i] != lt_pattern(22, i))
            cr_assert_fail("client copy wrong at byte %zu", i);
    locus_release(r);
    locus_release(a);
    locus_release(b);
    locus_disconnect(c);
    for (int i = 0; i < 2; i++)
        lt_stop(wp[i], 5000);
    lt_stop(sp, 5000);
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
    lt_netns_destroy(ns);
}

/* A big argument from the client is not copied through the scheduler: the
 * worker fetches it from the client (mapped here, RMA across hosts). */
static void big_argument(int no_map)
{
    if (no_map)
        setenv("LOCUS_NO_MAP", "1", 1);
    lt_cluster cl;
    locus_client *c;
    start(&cl, &c, 1, 0);
    const size_t n = 6u << 20;
    unsigned char *buf = malloc(n);
    cr_assert(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = lt_pattern(31, i);
    totals before = counters(c);
    locus_arg a[2] = {locus_arg_bytes(buf, n), locus_arg_i64(31)};
    locus_future *f;
    cr_assert_eq(locus_submit(c, "check_block", a, 2, NULL, &f), 0, "%s",
                 locus_last_error());
    memset(buf, 0, n); /* the client's copy was taken at submit */
    int64_t bad;
    cr_assert_eq(locus_result_i64(f, TMO, &bad), 0, "%s", locus_last_error());
    cr_assert_eq(bad, -1, "wrong byte at %lld", (long long)bad);
    totals after = counters(c);
    if (no_map)
        cr_assert_eq(after.rma - before.rma, n);
    else
        cr_assert_eq(after.mapped - before.mapped, n);
    /* scatter takes the same path */
    locus_future *s;
    for (size_t i = 0; i < n; i++)
        buf[i] = lt_pattern(32, i);
    locus_arg v = locus_arg_bytes(buf, n);
    cr_assert_eq(locus_scatter(c, &v, 1, NULL, &s), 0, "%s",
                 locus_last_error());
    const void *p;
    size_t len;
    cr_assert_eq(locus_result(s, TMO, &p, &len), 0, "%s", locus_last_error());
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(p, buf, n), 0);
    if (no_map)
        unsetenv("LOCUS_NO_MAP");
    free(buf);
    locus_release(s);
    locus_release(f);
    locus_disconnect(c);
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}

Test(locality, big_argument_is_mapped_from_the_client)
{
    big_argument(0);
}

Test(locality, big_argument_by_rma_from_the_client)
{
    big_argument(1);
}
