/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Faults: a worker that dies is noticed by its silence; the tasks it was
 * running are retried elsewhere within their retry budget, and where
 * recovery is impossible the client gets an error that says why.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "proc.h"

#define TMO 30000

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void start(lt_cluster *cl, locus_client **c, pid_t wp[2])
{
    cr_assert_eq(lt_cluster_init(cl), 0);
    const char *sargs[] = {"--heartbeat-ms", "100", "--dead-after-ms", "1500",
                           NULL};
    cr_assert_eq(lt_cluster_spawn_sched(cl, sargs, TMO), 0);
    const char *wargs[] = {"--nthreads", "1", NULL};
    for (int i = 0; i < 2; i++) {
        wp[i] = lt_cluster_spawn_worker(cl, wargs);
        cr_assert(wp[i] > 0);
    }
    cr_assert_eq(locus_connect(cl->file, NULL, c), 0, "%s", locus_last_error());
    cr_assert_eq(lt_wait_workers(*c, 2, TMO), 0);
}

/* The worker (pid) that runs something now, from the heartbeats. */
static pid_t busy_worker(locus_client *c)
{
    for (int tries = 0; tries < 100; tries++) {
        locus_worker_info wi[4];
        size_t n = 0;
        cr_assert_eq(locus_workers(c, wi, 4, &n), 0, "%s", locus_last_error());
        for (size_t i = 0; i < n && i < 4; i++)
            if (wi[i].running > 0)
                return wi[i].pid;
        nap_ms(50);
    }
    return -1;
}

Test(faults, running_task_is_retried_on_another_worker)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    locus_arg a = locus_arg_f64(1.5);
    locus_future *f;
    cr_assert_eq(locus_submit(c, "locus.sleep", &a, 1, NULL, &f), 0, "%s",
                 locus_last_error());
    pid_t victim = busy_worker(c);
    cr_assert(victim > 0, "no worker reported the task running");
    cr_assert_eq(kill(victim, SIGKILL), 0);
    /* noticed after 1.5 s of silence, then 1.5 s of sleep elsewhere */
    cr_assert_eq(locus_result(f, 15000, NULL, NULL), 0, "%s",
                 locus_last_error());
    locus_release(f);

    /* the survivor still serves */
    locus_future *p;
    cr_assert_eq(locus_submit(c, "locus.pid", NULL, 0, NULL, &p), 0);
    int64_t pid;
    cr_assert_eq(locus_result_i64(p, TMO, &pid), 0, "%s", locus_last_error());
    cr_assert_neq(pid, victim);
    locus_release(p);
    locus_disconnect(c);
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}

Test(faults, no_retries_left_says_which_worker_died)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.retries = 0;
    locus_arg a = locus_arg_f64(5.0);
    locus_future *f;
    cr_assert_eq(locus_submit(c, "locus.sleep", &a, 1, &o, &f), 0);
    pid_t victim = busy_worker(c);
    cr_assert(victim > 0);
    kill(victim, SIGKILL);
    int rc = locus_result(f, 15000, NULL, NULL);
    cr_assert_eq(rc, LOCUS_ECLOSED, "rc %d: %s", rc, locus_last_error());
    char pidstr[32];
    snprintf(pidstr, sizeof(pidstr), "pid %d", (int)victim);
    cr_assert(strstr(locus_last_error(), pidstr) &&
                  strstr(locus_last_error(), "died"),
              "message: %s", locus_last_error());
    locus_release(f);
    locus_disconnect(c);
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}

static pid_t pid_of(locus_client *c, int id)
{
    locus_worker_info wi[4];
    size_t n = 0;
    cr_assert_eq(locus_workers(c, wi, 4, &n), 0);
    for (size_t i = 0; i < n && i < 4; i++)
        if (wi[i].id == id)
            return wi[i].pid;
    return -1;
}

Test(faults, lost_result_is_computed_again)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    static char data[4096];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7);
    locus_arg a = locus_arg_bytes(data, sizeof(data));
    locus_future *f;
    cr_assert_eq(locus_submit(c, "locus.identity", &a, 1, NULL, &f), 0);
    cr_assert_eq(locus_result(f, TMO, NULL, NULL), 0, "%s", locus_last_error());
    int w0;
    size_t n;
    cr_assert_eq(locus_who_has(f, &w0, 1, &n), 0);
    kill(pid_of(c, w0), SIGKILL);
    nap_ms(2500); /* silence of 1.5 s declares it dead */
    /* a task on the lost result waits for it to be computed again */
    locus_arg fa = locus_arg_future(f);
    locus_future *g;
    cr_assert_eq(locus_submit(c, "locus.nbytes", &fa, 1, NULL, &g), 0);
    int64_t len;
    cr_assert_eq(locus_result_i64(g, TMO, &len), 0, "%s", locus_last_error());
    cr_assert_eq(len, (int64_t)sizeof(data));
    int w1;
    cr_assert_eq(locus_who_has(f, &w1, 1, &n), 0);
    cr_assert_neq(w1, w0, "the future still points at the dead worker");
    const void *p;
    size_t plen;
    cr_assert_eq(locus_result(f, TMO, &p, &plen), 0, "%s", locus_last_error());
    cr_assert_eq(plen, sizeof(data));
    cr_assert_eq(memcmp(p, data, plen), 0);
    locus_release(g);
    locus_release(f);
    locus_disconnect(c);
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}

Test(faults, lost_data_without_lineage_is_a_clear_error)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    static char data[4096];
    memset(data, 7, sizeof(data));
    locus_arg a = locus_arg_bytes(data, sizeof(data));
    locus_future *f;
    cr_assert_eq(locus_submit(c, "locus.identity", &a, 1, NULL, &f), 0);
    cr_assert_eq(locus_result(f, TMO, NULL, NULL), 0, "%s", locus_last_error());
    /* g runs where f is; then f is released: g has no inputs any more */
    locus_arg fa = locus_arg_future(f);
    locus_future *g;
    cr_assert_eq(locus_submit(c, "locus.identity", &fa, 1, NULL, &g), 0);
    cr_assert_eq(locus_result(g, TMO, NULL, NULL), 0, "%s", locus_last_error());
    int wg;
    size_t n;
    cr_assert_eq(locus_who_has(g, &wg, 1, &n), 0);
    locus_release(f);
    kill(pid_of(c, wg), SIGKILL);
    nap_ms(2500);
    locus_arg ga = locus_arg_future(g);
    locus_future *h;
    cr_assert_eq(locus_submit(c, "locus.nbytes", &ga, 1, NULL, &h), 0);
    int rc = locus_result(h, TMO, NULL, NULL);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(locus_last_error(), "cannot be computed again"),
              "message: %s", locus_last_error());
    /* and fetching the lost value itself fails, without hanging */
    const void *p;
    size_t len;
    rc = locus_result(g, 5000, &p, &len);
    cr_assert_neq(rc, 0);
    cr_assert_neq(rc, LOCUS_ETIMEDOUT, "%s", locus_last_error());
    locus_release(h);
    locus_release(g);
    locus_disconnect(c);
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}
