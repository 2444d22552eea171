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
    cr_assert_eq(locus_connect(cl->file, NULL, c), 0, "%s",
                 locus_last_error());
    cr_assert_eq(lt_wait_workers(*c, 2, TMO), 0);
}

/* The worker (pid) that runs something now, from the heartbeats. */
static pid_t busy_worker(locus_client *c)
{
    for (int tries = 0; tries < 100; tries++) {
        locus_worker_info wi[4];
        size_t n = 0;
        cr_assert_eq(locus_workers(c, wi, 4, &n), 0, "%s",
                     locus_last_error());
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
    lt_cluster_stop(&cl, 0);
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
    lt_cluster_stop(&cl, 0);
}

Test(faults, data_lost_with_its_worker_is_a_clear_error)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    locus_worker_info wi[4];
    size_t n = 0;
    cr_assert_eq(locus_workers(c, wi, 4, &n), 0);
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = &wi[0].id;
    o.nworkers = 1;
    static char big[4096];
    memset(big, 7, sizeof(big));
    locus_arg a = locus_arg_bytes(big, sizeof(big));
    locus_future *f;
    cr_assert_eq(locus_submit(c, "locus.identity", &a, 1, &o, &f), 0);
    cr_assert_eq(locus_result(f, TMO, NULL, NULL), 0, "%s",
                 locus_last_error());
    kill(wi[0].pid, SIGKILL);
    nap_ms(2500);
    /* a task on the lost data fails, saying so */
    locus_arg fa = locus_arg_future(f);
    locus_future *g;
    cr_assert_eq(locus_submit(c, "locus.nbytes", &fa, 1, NULL, &g), 0);
    int rc = locus_result(g, TMO, NULL, NULL);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(locus_last_error(), "lost"), "message: %s",
              locus_last_error());
    /* and fetching the value itself does too, without hanging */
    const void *p;
    size_t len;
    rc = locus_result(f, 5000, &p, &len);
    cr_assert_neq(rc, 0);
    cr_assert_neq(rc, LOCUS_ETIMEDOUT, "%s", locus_last_error());
    locus_release(g);
    locus_release(f);
    locus_disconnect(c);
    lt_cluster_stop(&cl, 0);
}
