/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Faults, one test per fault users' code and machines cause:
 *   - a worker process that dies is restarted by its nanny at once; the
 *     tasks it was running are retried elsewhere within their retry
 *     budget, and a task that keeps killing workers fails with
 *     LOCUS_EKILLED naming itself, the processes and the signals;
 *   - a whole worker (nanny and all) that vanishes is noticed by its
 *     silence;
 *   - a worker declared dead while stopped rejoins as a fresh worker;
 *   - a lost scheduler is noticed by workers and clients within the
 *     deadline; workers wait without spinning and rejoin a scheduler
 *     restarted with the same file, or exit after --death-timeout;
 *   - killed processes leave nothing in /dev/shm;
 *   - an unstarted task does not wait behind a long one while a worker is
 *     idle;
 *   - only this user's processes can ring a doorbell, and a peer's strings
 *     reach the logs escaped.
 * Each prints the times it measured (cr_log_info).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "check.h"
#include "cluster.h"
#include "peer.h"
#include "proc.h"
#include "proto/records.h"
#include "proto/schedfile.h"

#define TASKLIB LOCUS_TEST_BINDIR "/libtasklib_test.so"

#define TMO 30000

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    return (double)lc_now_ns() / 1e9;
}

static const char *const SARGS[] = {"--heartbeat-ms", "100", "--dead-after-ms",
                                    "1500", NULL};
/* For the tests of crashes that the nanny reports: a restarted worker
   process names the dead one's tasks (REPLACES) if it joins within the
   dead-after, else the silence is noticed first and the crash counts as a
   death (LOCUS_ECLOSED).  A start takes ~0.1 s here, but well over 1.5 s
   under ThreadSanitizer on a loaded machine, with the nanny's pauses
   between restarts (100, 200, 400 ms). */
static const char *const SARGS_CRASH[] = {"--heartbeat-ms", "100",
                                          "--dead-after-ms", "5000", NULL};

/* Two workers of one thread each (pids of their nannies in wp), extra
   worker options in wextra (NULL-terminated, may be NULL), the scheduler's
   options sargs. */
static void start_sched(lt_cluster *cl, locus_client **c, pid_t wp[2],
                        const char *const *sargs, const char *const *wextra)
{
    cr_assert_eq(lt_cluster_init(cl), 0);
    cr_assert_eq(lt_cluster_spawn_sched(cl, sargs, TMO), 0);
    const char *wargs[16] = {"--nthreads", "1"};
    int n = 2;
    for (int i = 0; wextra && wextra[i] && n < 15; i++)
        wargs[n++] = wextra[i];
    wargs[n] = NULL;
    for (int i = 0; i < 2; i++) {
        wp[i] = lt_cluster_spawn_worker(cl, wargs);
        cr_assert(wp[i] > 0);
    }
    cr_assert_eq(locus_connect(cl->file, NULL, c), 0, "%s", locus_last_error());
    cr_assert_eq(lt_wait_workers(*c, 2, TMO), 0);
    cr_assert_eq(locus_require(*c, TASKLIB, TMO), 0, "%s", locus_last_error());
}

static void start_with(lt_cluster *cl, locus_client **c, pid_t wp[2],
                       const char *const *wextra)
{
    start_sched(cl, c, wp, SARGS, wextra);
}

static void start(lt_cluster *cl, locus_client **c, pid_t wp[2])
{
    start_with(cl, c, wp, NULL);
}

/* The worker processes now (not their nannies): ids and pids; how many. */
static size_t workers_now(locus_client *c, int *ids, pid_t *pids, size_t max)
{
    locus_worker_info wi[8];
    size_t n = 0;
    cr_assert_eq(locus_workers(c, wi, 8, &n), 0, "%s", locus_last_error());
    for (size_t i = 0; i < n && i < max && i < 8; i++) {
        if (ids)
            ids[i] = wi[i].id;
        if (pids)
            pids[i] = wi[i].pid;
    }
    return n;
}

/* Wait until exactly n workers serve, none of them a process in gone[].
   Seconds it took, or -1. */
static double wait_serving(locus_client *c, size_t n, const pid_t *gone,
                           size_t ngone, int timeout_ms)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_ms / 1000.0) {
        pid_t pids[8];
        size_t have = workers_now(c, NULL, pids, 8);
        int old = 0;
        for (size_t i = 0; i < have && i < 8; i++)
            for (size_t j = 0; j < ngone; j++)
                old |= pids[i] == gone[j];
        if (have == n && !old)
            return now_s() - t0;
        nap_ms(20);
    }
    return -1;
}

/* The cluster serves a job right: n tasks over the test library, each
   result checked and waited for at most ms (after: what happened before,
   for the message). */
static void job_within(locus_client *c, int n, int ms, const char *after)
{
    locus_arg *in = calloc((size_t)n, sizeof(*in));
    locus_future **fs = calloc((size_t)n, sizeof(*fs));
    cr_assert(in && fs);
    for (int i = 0; i < n; i++)
        in[i] = locus_arg_i64(i);
    cr_assert_eq(locus_map(c, "f1", in, (size_t)n, NULL, fs), 0, "%s",
                 locus_last_error());
    for (int i = 0; i < n; i++) {
        int64_t v = -1;
        int rc = locus_result_i64(fs[i], ms, &v);
        cr_assert_eq(rc, 0, "after %s, task %d: %s: %s", after, i,
                     locus_errname(rc), locus_last_error());
        cr_assert_eq(v, i + 1, "task %d gave %lld", i, (long long)v);
        locus_release(fs[i]);
    }
    free(in);
    free(fs);
}

static void serves_a_job(locus_client *c)
{
    job_within(c, 200, TMO, "the fault");
}

/* The workers hold nothing (within 10 s): the data of a client that left
   is freed. */
static void expect_held_zero(locus_client *c)
{
    uint64_t sum = 0;
    for (double end = now_s() + 10; now_s() < end;) {
        locus_worker_info wi[8];
        size_t n = 0;
        cr_assert_eq(locus_workers(c, wi, 8, &n), 0, "%s", locus_last_error());
        sum = 0;
        for (size_t i = 0; i < n && i < 8; i++)
            sum += wi[i].bytes_held;
        if (!sum)
            return;
        nap_ms(20);
    }
    cr_assert_eq(sum, 0, "workers hold %llu bytes", (unsigned long long)sum);
}

/* pid runs (a zombie, dead but not reaped by its new parent, does not) */
static int running(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *s = lt_slurp(path);
    char *rp = s ? strrchr(s, ')') : NULL;
    int r = rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
    free(s);
    return r;
}

/* The first child of pid (a nanny's worker process), or 0. */
static pid_t child_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
             (int)pid);
    char *kids = lt_slurp(path);
    pid_t k = kids ? (pid_t)atoi(kids) : 0;
    free(kids);
    return k;
}

/* CPU ms of a nanny and its worker process. */
static long worker_cpu_ms(pid_t nanny)
{
    pid_t k = child_of(nanny);
    long a = lt_cpu_ms(nanny), b = k > 0 ? lt_cpu_ms(k) : 0;
    return a < 0 || b < 0 ? -1 : a + b;
}

static char *log_of(const lt_cluster *cl, const char *name)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", cl->dir, name);
    char *s = lt_slurp(path);
    return s ? s : strdup("");
}

static int worker_logs_say(const lt_cluster *cl, const char *what)
{
    int found = 0;
    for (int i = 0; i < cl->nworkers && !found; i++) {
        char name[64];
        snprintf(name, sizeof(name), "worker-%d.log", i);
        char *s = log_of(cl, name);
        found = strstr(s, what) != NULL;
        free(s);
    }
    return found;
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

/* Stop the cluster; its daemons' logs must hold no sanitizer report. */
static void finish(lt_cluster *cl, locus_client *c)
{
    locus_disconnect(c);
    cr_assert_eq(lt_cluster_stop(cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}

/* A 5 s locus.sleep without retries, running: the worker process's pid. */
static pid_t sleep_without_retries(locus_client *c, locus_future **f)
{
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.retries = 0;
    locus_arg a = locus_arg_f64(5.0);
    cr_assert_eq(locus_submit(c, "locus.sleep", &a, 1, &o, f), 0, "%s",
                 locus_last_error());
    pid_t victim = busy_worker(c);
    cr_assert(victim > 0, "no worker reported the task running");
    return victim;
}

/* The last error names process pid and holds what (and also, if given). */
static void expect_message_names(pid_t pid, const char *what, const char *also)
{
    const char *m = locus_last_error();
    char pidstr[32];
    snprintf(pidstr, sizeof(pidstr), "pid %d", (int)pid);
    cr_assert(strstr(m, pidstr) && strstr(m, what) &&
                  (!also || strstr(m, also)),
              "message: %s", m);
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
    finish(&cl, c);
}

/* kill -9 of a worker process: its nanny restarts it at once and says
   so; a task without retries fails with LOCUS_EKILLED naming the process
   and the signal */
Test(faults, killed_worker_process_is_named_and_restarted)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    locus_future *f;
    pid_t victim = sleep_without_retries(c, &f);
    double t0 = now_s();
    kill(victim, SIGKILL);
    int rc = locus_result(f, 15000, NULL, NULL);
    double failed = now_s() - t0;
    cr_assert_eq(rc, LOCUS_EKILLED, "rc %s: %s", locus_errname(rc),
                 locus_last_error());
    expect_message_names(victim, "signal 9", "locus.sleep");
    locus_release(f);
    double back = wait_serving(c, 2, &victim, 1, TMO);
    cr_assert_geq(back, 0, "the worker did not come back");
    cr_assert_eq(lt_shm_files_of(victim), 0,
                 "the killed process's /dev/shm files are left");
    serves_a_job(c);
    cr_log_info("kill -9 of a worker process: the task failed after %.3f s, "
                "2 workers serve again after %.3f s more",
                failed, back);
    finish(&cl, c);
}

/* The whole worker vanishes (nanny included, as when its host dies): its
   silence declares it dead, and a task without retries says which died */
Test(faults, vanished_worker_is_noticed_by_silence)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    locus_future *f;
    pid_t victim = sleep_without_retries(c, &f);
    /* its nanny: the spawned process whose child it is */
    pid_t nanny = 0;
    for (int i = 0; i < 2; i++)
        if (child_of(wp[i]) == victim)
            nanny = wp[i];
    cr_assert_gt(nanny, 0, "no nanny has pid %d as its child", (int)victim);
    double t0 = now_s();
    kill(nanny, SIGKILL);
    int rc = locus_result(f, 15000, NULL, NULL);
    double failed = now_s() - t0;
    cr_assert_eq(rc, LOCUS_ECLOSED, "rc %s: %s", locus_errname(rc),
                 locus_last_error());
    expect_message_names(victim, "died", NULL);
    locus_release(f);
    for (int i = 0; i < 200 && running(victim); i++)
        nap_ms(10);
    cr_assert(!running(victim), "the worker process outlived its nanny");
    cr_log_info("worker and nanny killed: noticed after %.3f s of silence "
                "(dead-after 1.5 s)",
                failed);
    finish(&cl, c);
}

/* A task that takes its worker process down, as user code does; after its
   retries the future fails with LOCUS_EKILLED, and the cluster serves the
   next job with all its workers. */
static void poison(const char *how, const char *status_says)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start_sched(&cl, &c, wp, SARGS_CRASH, NULL);
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.retries = 2;
    locus_arg a = locus_arg_str(how);
    locus_future *f;
    double t0 = now_s();
    cr_assert_eq(locus_submit(c, "crash", &a, 1, &o, &f), 0, "%s",
                 locus_last_error());
    int rc = locus_result(f, TMO, NULL, NULL);
    double failed = now_s() - t0;
    cr_assert_eq(rc, LOCUS_EKILLED, "rc %s: %s", locus_errname(rc),
                 locus_last_error());
    const char *m = locus_last_error();
    cr_assert(strstr(m, "crash killed the 3 worker processes"), "message: %s",
              m);
    cr_assert(strstr(m, status_says), "message lacks '%s': %s", status_says, m);
    /* the processes it killed, from the message */
    pid_t dead[3];
    size_t ndead = 0;
    for (const char *p = m; ndead < 3 && (p = strstr(p, " pid "));) {
        dead[ndead++] = (pid_t)atoi(p + 5);
        p += 5;
    }
    cr_assert_eq(ndead, 3, "message: %s", m);
    locus_release(f);
    double back = wait_serving(c, 2, dead, ndead, TMO);
    cr_assert_geq(back, 0, "the cluster did not get its 2 workers back");
    for (size_t i = 0; i < ndead; i++)
        cr_assert_eq(lt_shm_files_of(dead[i]), 0, "pid %d left /dev/shm files",
                     (int)dead[i]);
    serves_a_job(c);
    cr_log_info("poison task (%s): LOCUS_EKILLED after %.3f s (3 worker "
                "processes killed, restarts included); 2 workers serve "
                "%.3f s later",
                how, failed, back);
    finish(&cl, c);
}

Test(faults, task_that_aborts_fails_with_ekilled)
{
    poison("abort", "signal 6");
}

Test(faults, task_that_traps_fails_with_ekilled)
{
    poison("trap", "signal 4");
}

Test(faults, task_that_calls_exit_fails_with_ekilled)
{
    poison("exit", "exited with status 3");
}

/* The test's own client over tcp;ofi_rxm only: it never enters the shm
   provider, so a cluster wedged in it fails a call by its timeout here
   instead of hanging the test with it. */
static locus_client *tcp_client(lt_cluster *cl, locus_client *c)
{
    locus_disconnect(c);
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.flags |= LOCUS_CONNECT_NO_SHM;
    o.timeout_ms = 10000;
    cr_assert_eq(locus_connect(cl->file, &o, &c), 0, "%s", locus_last_error());
    cr_assert_eq(locus_require(c, TASKLIB, TMO), 0, "%s", locus_last_error());
    return c;
}

/* The crash tests' cluster (dead-after 5 s), and the test's client over
   tcp;ofi_rxm only (tcp_client). */
static locus_client *start_tcp(lt_cluster *cl)
{
    locus_client *c;
    pid_t wp[2];
    start_sched(cl, &c, wp, SARGS_CRASH, NULL);
    return tcp_client(cl, c);
}

/* A program that calls exit() in the middle of a job, its progress thread
   sending to the scheduler over shm.  libfabric's shm provider holds the
   scheduler's region lock while a sender writes there; a process that
   ended inside that left it held for ever, and the scheduler, the workers
   and every client spun in the provider from then on.  exit() now shuts
   the transport first (xport_quiesce).  Sixteen such programs, one after
   another, each leaving at another moment of its job, then the cluster
   must answer within 10 s after each.  (Under ThreadSanitizer, jobs of
   200000 tasks from programs that die kept the scheduler busy for over
   1.5 s at a time, and its peers declared it dead: there, jobs of 50000
   and the dead-after of 5 s.) */
#ifdef __SANITIZE_THREAD__
#define EXIT_JOB "50000"
#else
#define EXIT_JOB "200000"
#endif
Test(faults, programs_that_exit_mid_job_leave_the_cluster_serving)
{
    lt_cluster cl;
    locus_client *c = start_tcp(&cl);
    double t0 = now_s();
    for (int i = 0; i < 16; i++) {
        char ms[16], log[1200], after[64];
        snprintf(ms, sizeof(ms), "%d", 5 + 9 * i);
        snprintf(log, sizeof(log), "%s/exit-%d.log", cl.dir, i);
        char *argv[] = {(char *)lt_helper("helper_client_job"),
                        cl.file,
                        (char *)TASKLIB,
                        EXIT_JOB,
                        "exit",
                        ms,
                        NULL};
        pid_t job = lt_spawn(argv, log);
        cr_assert_gt(job, 0);
        lt_cluster_watch(&cl, job);
        int st = lt_wait(job, TMO);
        cr_assert_eq(st, 0, "program %d ended with %d (its log: %s)", i, st,
                     log);
        snprintf(after, sizeof(after), "program %d exited after %s ms", i, ms);
        job_within(c, 200, 10000, after);
    }
    cr_log_info("16 programs exited mid-job; the cluster answered after "
                "each (%.1f s in all)",
                now_s() - t0);
    finish(&cl, c);
}

/* The same on the worker's side: a task's thread calls exit(3) while the
   worker's progress thread runs short tasks and sends their DONEs to the
   scheduler.  Six times, every result of the jobs around it checked.  The
   exiting task's future is released before the exit (else its value, lost
   with the worker, is computed again: on the other worker, which exits
   too). */
Test(faults, workers_that_exit_mid_send_leave_the_cluster_serving)
{
    lt_cluster cl;
    locus_client *c = start_tcp(&cl);
    for (int k = 0; k < 6; k++) {
        struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
        o.retries = 0;
        locus_arg a = locus_arg_i64(20 + 5 * k);
        locus_future *x;
        cr_assert_eq(locus_submit(c, "exit_soon", &a, 1, &o, &x), 0, "%s",
                     locus_last_error());
        int64_t victim = -1;
        cr_assert_eq(locus_result_i64(x, TMO, &victim), 0, "%s",
                     locus_last_error());
        locus_release(x);
        char after[64];
        snprintf(after, sizeof(after), "round %d (worker pid %lld exits)", k,
                 (long long)victim);
        job_within(c, 20000, TMO, after);
        /* the worker that exited is replaced */
        pid_t gone = (pid_t)victim;
        cr_assert_geq(wait_serving(c, 2, &gone, 1, TMO), 0,
                      "round %d: worker pid %d was not replaced", k, (int)gone);
    }
    job_within(c, 200, 10000, "six workers exited mid-send");
    finish(&cl, c);
}

/* Tasks released while they run on a worker that then dies: nobody wants
   them any more, so the scheduler drops them instead of running them
   again.  Its walk over the dead worker's tasks read them after dropping
   them (ASan: heap-use-after-free in sched_peer_gone, the scheduler
   aborted), found by the test above under ASan. */
Test(faults, released_tasks_of_a_dead_worker_are_dropped)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    enum { N = 6 };
    locus_future *fs[N];
    for (int i = 0; i < N; i++) {
        locus_arg a = locus_arg_i64(3000);
        cr_assert_eq(locus_submit(c, "hold_ms", &a, 1, NULL, &fs[i]), 0, "%s",
                     locus_last_error());
    }
    pid_t victim = busy_worker(c);
    cr_assert_gt(victim, 0, "no worker reported a task running");
    for (int i = 0; i < N; i++)
        locus_release(fs[i]);
    nap_ms(100); /* the releases reach the scheduler */
    cr_assert_eq(kill(victim, SIGKILL), 0);
    cr_assert_geq(wait_serving(c, 2, &victim, 1, TMO), 0,
                  "the killed worker was not replaced");
    serves_a_job(c);
    finish(&cl, c);
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
    finish(&cl, c);
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
    cr_assert_eq(locus_submit(c, "locus.nbytes", &ga, 1, NULL, &h), 0, "%s",
                 locus_last_error());
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
    finish(&cl, c);
}

/* SIGSTOP for twice the dead-after: the scheduler declares the worker dead
   and retries its task elsewhere; after SIGCONT the worker finds its
   messages unanswered, and joins again as a fresh worker process. */
Test(faults, stopped_worker_rejoins_as_a_fresh_worker)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    locus_arg a = locus_arg_f64(1.0);
    locus_future *f;
    cr_assert_eq(locus_submit(c, "locus.sleep", &a, 1, NULL, &f), 0);
    pid_t victim = busy_worker(c);
    cr_assert(victim > 0);
    cr_assert_eq(kill(victim, SIGSTOP), 0);
    double t0 = now_s();
    /* declared dead: one worker left, which runs the task again */
    while (workers_now(c, NULL, NULL, 0) != 1 && now_s() - t0 < 10)
        nap_ms(20);
    double declared = now_s() - t0;
    cr_assert_lt(declared, 10, "the stopped worker was never declared dead");
    cr_assert_eq(locus_result(f, TMO, NULL, NULL), 0, "%s", locus_last_error());
    locus_release(f);
    nap_ms(3000 - (int)(declared * 1000) > 0 ? 3000 - (int)(declared * 1000)
                                             : 0);
    double t1 = now_s();
    cr_assert_eq(kill(victim, SIGCONT), 0);
    double back = wait_serving(c, 2, &victim, 1, TMO);
    cr_assert_geq(back, 0, "the stopped worker did not rejoin");
    cr_assert(worker_logs_say(&cl, "lost the scheduler"),
              "the worker's log does not say why it rejoined");
    /* the old process is gone, and took its files with it */
    for (int i = 0; i < 200 && running(victim); i++)
        nap_ms(10);
    cr_assert(!running(victim), "the stopped process lives on");
    cr_assert_eq(lt_shm_files_of(victim), 0);
    serves_a_job(c);
    cr_log_info("SIGSTOP: declared dead after %.3f s; after SIGCONT (%.1f s "
                "stopped) it rejoined as a fresh worker in %.3f s",
                declared, t1 - t0 + declared, back);
    finish(&cl, c);
}

/* A client job in its own process (tests/helper_client_job) mapping and
   reducing n tasks in a loop, still working when killed however fast the
   cluster; its log at cl->dir/job.log (path into log).  Returns once it
   made its /dev/shm files. */
static pid_t spawn_looping_job(lt_cluster *cl, const char *n, char *log,
                               size_t loglen)
{
    snprintf(log, loglen, "%s/job.log", cl->dir);
    char *argv[] = {(char *)lt_helper("helper_client_job"),
                    cl->file,
                    (char *)TASKLIB,
                    (char *)n,
                    "tree",
                    "loop",
                    NULL};
    pid_t job = lt_spawn(argv, log);
    cr_assert_gt(job, 0);
    lt_cluster_watch(cl, job);
    double t0 = now_s();
    while (lt_shm_files_of(job) == 0 && now_s() - t0 < 20)
        nap_ms(20);
    return job;
}

/* Clients that give up on a scheduler which does not answer (stopped
   here, busy or swapped out in life) close their endpoints, and with them
   their shm regions, while their HELLOs wait in its queues.  When it runs
   again, those messages come from peers that no longer exist: it must drop
   them and serve on.  (It died in libfabric's shm progress, which maps a
   new sender's region when its first message is read, and found none.) */
Test(faults, clients_that_gave_up_on_a_stopped_scheduler_do_not_kill_it)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start_sched(&cl, &c, wp, SARGS_CRASH, NULL);
    cr_assert_eq(kill(cl.sched, SIGSTOP), 0);
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.timeout_ms = 700;
    for (int i = 0; i < 2; i++) {
        locus_client *late = NULL;
        int rc = locus_connect(cl.file, &o, &late);
        cr_assert_eq(rc, LOCUS_ETIMEDOUT, "connect to a stopped scheduler: %s",
                     locus_strerror(rc));
        cr_assert_null(late);
    }
    cr_assert_eq(kill(cl.sched, SIGCONT), 0);
    nap_ms(1000);
    cr_assert(running(cl.sched),
              "the scheduler died after SIGCONT (its log: %s/scheduler.log)",
              cl.dir);
    serves_a_job(c);
    locus_client *fresh = NULL;
    cr_assert_eq(locus_connect(cl.file, NULL, &fresh), 0, "%s",
                 locus_last_error());
    locus_disconnect(fresh);
    finish(&cl, c);
}

/* A scheduler stopped for 1.5 s (well within the dead-after) while a client
   works: the client's and the workers' sends pile up unacknowledged, some
   wait in their queues unsent.  When the scheduler runs again every session
   must carry on over shm: moving to the net provider is for a shm path that
   delivers nothing for half the dead-after, which is not what happened.
   Two causes, each failed this test: the failover timer read the age of a
   message never sent as the time since boot; and libfabric's shm queued
   more commands at the stopped receiver than it had posted receives, and
   its unexpected-message path then stalled now and then (1 run in 3), so
   the endpoint's queue is now no deeper than its receives. */
Test(faults, a_briefly_stopped_scheduler_keeps_its_clients_on_shm)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start_sched(&cl, &c, wp, SARGS_CRASH, NULL);
    char log[1200];
    pid_t job = spawn_looping_job(&cl, "20000", log, sizeof(log));
    nap_ms(500); /* connected, and mapping and reducing */
    cr_assert_eq(kill(cl.sched, SIGSTOP), 0);
    nap_ms(1500);
    cr_assert_eq(kill(cl.sched, SIGCONT), 0);
    nap_ms(3000);
    cr_assert(running(job), "the job died (its log: %s)", log);
    kill(job, SIGKILL);
    lt_wait(job, 5000);
    serves_a_job(c);
    for (int i = -1; i < 2; i++) {
        char path[1200];
        if (i < 0)
            snprintf(path, sizeof(path), "%s", log);
        else
            snprintf(path, sizeof(path), "%s/worker-%d.log", cl.dir, i);
        char *text = lt_slurp(path);
        cr_assert(text, "%s: %s", path, strerror(errno));
        const char *moved = strstr(text, "the session moves to");
        if (moved)
            lt_cluster_dump_logs(&cl);
        cr_assert_null(moved, "%s left shm after a 1.5 s stop: %s",
                       i < 0 ? "the job" : "a worker", path);
        free(text);
    }
    finish(&cl, c);
}

/* Round trips of f1 (submit, result, release), one at a time, for s
   seconds; every value checked, each result waited for at most ms.  On a
   failure the scheduler is continued (it may be stopped) before the test
   fails. */
static long round_trips_within(lt_cluster *cl, locus_client *c, double s,
                               int ms, const char *when)
{
    long n = 0;
    double t0 = now_s();
    for (int64_t i = 0; now_s() - t0 < s; i++, n++) {
        locus_arg a = locus_arg_i64(i);
        locus_future *f = NULL;
        int64_t v = -1;
        int rc = locus_submit(c, "f1", &a, 1, NULL, &f);
        if (rc == 0)
            rc = locus_result_i64(f, ms, &v);
        if (rc != 0)
            kill(cl->sched, SIGCONT);
        cr_assert_eq(rc, 0, "round trip %lld %s: %s: %s", (long long)i, when,
                     locus_errname(rc), locus_last_error());
        cr_assert_eq(v, i + 1);
        locus_release(f);
    }
    return n;
}

static long round_trips_for(lt_cluster *cl, locus_client *c, double s,
                            const char *when)
{
    return round_trips_within(cl, c, s, 3000, when);
}

/* Tasks on a lease go from the client to the worker and back; the
   scheduler only books them.  A stopped (or busy) scheduler must not hold
   them up: a send it cannot take now waits in its own session while every
   other session goes on.  Before, each pass of the client's and the
   worker's progress tried the scheduler's send for 1 ms: 3000 round trips
   in 1.5 s while it was stopped, against 144000 with it running. */
Test(faults, lease_tasks_go_on_while_the_scheduler_is_stopped)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start_sched(&cl, &c, wp, SARGS_CRASH, NULL);
    round_trips_for(&cl, c, 0.5, "warming up");
    /* the workers' counters come with their heartbeats */
    uint64_t direct = 0;
    for (double end = now_s() + 5; !direct && now_s() < end; nap_ms(50)) {
        locus_worker_info wi[4];
        size_t nw = 0;
        cr_assert_eq(locus_workers(c, wi, 4, &nw), 0, "%s", locus_last_error());
        for (size_t i = 0; i < nw && i < 4; i++)
            direct += wi[i].tasks_direct;
    }
    cr_assert_gt(direct, 0, "no task of the warm-up went on a lease");
    long running = round_trips_for(&cl, c, 1.5, "with the scheduler running");
    cr_assert_eq(kill(cl.sched, SIGSTOP), 0);
    long stopped = round_trips_for(&cl, c, 1.5, "with the scheduler stopped");
    cr_assert_eq(kill(cl.sched, SIGCONT), 0);
    cr_log_info("round trips in 1.5 s: %ld with the scheduler running, %ld "
                "with it stopped",
                running, stopped);
    /* the same pace (the stopped scheduler even leaves its CPU to the
       others); a third of it is the bound, for a noisy machine */
    cr_assert_geq(stopped * 3, running,
                  "%ld round trips in 1.5 s while the scheduler was stopped, "
                  "%ld while it ran",
                  stopped, running);
    serves_a_job(c);
    finish(&cl, c);
}

/* The workers' counters now (as of their last heartbeats): the sums of
   tasks_done + tasks_unbooked, and of tasks_unbooked. */
static void counted(locus_client *c, uint64_t *all, uint64_t *unbooked)
{
    locus_worker_info wi[8];
    size_t n = 0;
    cr_assert_eq(locus_workers(c, wi, 8, &n), 0, "%s", locus_last_error());
    *all = *unbooked = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        *all += wi[i].tasks_done + wi[i].tasks_unbooked;
        *unbooked += wi[i].tasks_unbooked;
    }
}

/* A lease task that its client releases at once, once its value is here,
   never reaches the scheduler: the client takes its SUBMIT_DIRECT back from
   its books and tells the worker, which frees the value and takes back its
   DONE (runtime/sched/sched_direct.c).  Every value is checked, every task
   is counted (by the scheduler or as unbooked by its worker), and the
   workers hold nothing afterwards. */
Test(faults, lease_tasks_released_at_once_are_never_booked)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start_sched(&cl, &c, wp, SARGS_CRASH, NULL);
    uint64_t all0, unbooked0, all = 0, unbooked = 0;
    counted(c, &all0, &unbooked0);
    long n = round_trips_for(&cl, c, 1.0, "released at once");
    for (double end = now_s() + 5; now_s() < end; nap_ms(50)) {
        counted(c, &all, &unbooked);
        if (all - all0 >= (uint64_t)n)
            break;
    }
    cr_log_info("%ld round trips: %llu counted, %llu of them never booked", n,
                (unsigned long long)(all - all0),
                (unsigned long long)(unbooked - unbooked0));
    cr_assert_geq(all - all0, (uint64_t)n, "%ld tasks ran, %llu counted", n,
                  (unsigned long long)(all - all0));
    cr_assert_geq((unbooked - unbooked0) * 2, (uint64_t)n,
                  "only %llu of %ld lease tasks released at once were never "
                  "booked",
                  (unsigned long long)(unbooked - unbooked0), n);
    expect_held_zero(c);
    serves_a_job(c);
    finish(&cl, c);
}

struct kill_later {
    pid_t pid;
    int ms;
};

static void *kill_later_main(void *arg)
{
    struct kill_later *k = arg;
    nap_ms(k->ms);
    kill(k->pid, SIGKILL);
    return NULL;
}

/* A worker process killed while its lease tasks are released unbooked:
   the round trip it had in hand is computed again (its SUBMIT_DIRECT
   leaves the books as it ages, naming a gone worker), every value is
   right, and nothing stays held. */
Test(faults, a_worker_killed_under_unbooked_lease_tasks_loses_nothing)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start_sched(&cl, &c, wp, SARGS_CRASH, NULL);
    round_trips_for(&cl, c, 0.3, "warming up");
    pid_t pids[2];
    cr_assert_eq(workers_now(c, NULL, pids, 2), 2);
    for (int round = 0; round < 3; round++) {
        struct kill_later k = {pids[round % 2], 300};
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, kill_later_main, &k), 0);
        long n = round_trips_within(&cl, c, 1.0, TMO, "a worker killed");
        pthread_join(th, NULL);
        cr_log_info("round %d: %ld round trips, worker pid %d killed", round, n,
                    (int)k.pid);
        cr_assert(wait_serving(c, 2, &k.pid, 1, TMO) >= 0,
                  "the killed worker was not replaced");
        cr_assert_eq(workers_now(c, NULL, pids, 2), 2);
    }
    expect_held_zero(c);
    serves_a_job(c);
    finish(&cl, c);
}

/* The scheduler is killed: the client gets LOCUS_ECLOSED within the
   deadline, workers wait without spinning, and join a scheduler restarted
   with the same scheduler file. */
Test(faults, workers_rejoin_a_restarted_scheduler)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    const char *wextra[] = {"--death-timeout", "60000", NULL};
    start_with(&cl, &c, wp, wextra);
    pid_t old[2];
    cr_assert_eq(workers_now(c, NULL, old, 2), 2);
    locus_arg a = locus_arg_f64(30.0);
    locus_future *f;
    cr_assert_eq(locus_submit(c, "locus.sleep", &a, 1, NULL, &f), 0);
    nap_ms(200);
    double t0 = now_s();
    cr_assert_eq(kill(cl.sched, SIGKILL), 0);
    cr_assert_eq(lt_wait(cl.sched, 5000), 128 + SIGKILL);
    int rc = locus_result(f, TMO, NULL, NULL);
    double noticed = now_s() - t0;
    cr_assert_eq(rc, LOCUS_ECLOSED, "rc %s: %s", locus_errname(rc),
                 locus_last_error());
    cr_assert(strstr(locus_last_error(), "scheduler is gone"), "message: %s",
              locus_last_error());
    cr_assert_lt(noticed, 5.0, "the client took %.1f s to notice", noticed);
    locus_release(f);
    locus_disconnect(c);
    /* the workers notice too, and wait for a scheduler without spinning */
    nap_ms(3000);
    long cpu0[2], cpu1[2];
    for (int i = 0; i < 2; i++)
        cpu0[i] = worker_cpu_ms(wp[i]);
    nap_ms(2000);
    for (int i = 0; i < 2; i++) {
        cpu1[i] = worker_cpu_ms(wp[i]);
        cr_assert(cpu0[i] >= 0 && cpu1[i] >= 0, "worker %d exited", i);
        /* waiting is sleeping: well under 10% of a core */
        cr_assert_lt(cpu1[i] - cpu0[i], 200,
                     "worker %d used %ld ms of CPU "
                     "in 2 s while waiting for a scheduler",
                     i, cpu1[i] - cpu0[i]);
    }
    cr_assert(worker_logs_say(&cl, "lost the scheduler"),
              "a worker's log does not say it lost the scheduler");
    double t1 = now_s();
    cr_assert_eq(lt_cluster_spawn_sched(&cl, SARGS, TMO), 0);
    cr_assert_eq(locus_connect(cl.file, NULL, &c), 0, "%s", locus_last_error());
    double back = wait_serving(c, 2, old, 2, TMO);
    double joined = now_s() - t1;
    cr_assert_geq(back, 0, "the workers did not join the new scheduler");
    cr_assert_eq(locus_require(c, TASKLIB, TMO), 0, "%s", locus_last_error());
    serves_a_job(c);
    cr_log_info("scheduler killed: the client had LOCUS_ECLOSED after %.3f s; "
                "waiting workers used %ld and %ld ms of CPU in 2 s; "
                "both joined the restarted scheduler %.3f s after it started",
                noticed, cpu1[0] - cpu0[0], cpu1[1] - cpu0[1], joined);
    finish(&cl, c);
}

/* No scheduler comes back: workers exit after --death-timeout, saying why. */
Test(faults, workers_exit_after_the_death_timeout)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    const char *wextra[] = {"--death-timeout", "2000", NULL};
    start_with(&cl, &c, wp, wextra);
    pid_t procs[2];
    cr_assert_eq(workers_now(c, NULL, procs, 2), 2);
    locus_disconnect(c);
    double t0 = now_s();
    cr_assert_eq(kill(cl.sched, SIGKILL), 0);
    cr_assert_eq(lt_wait(cl.sched, 5000), 128 + SIGKILL);
    cl.sched = 0;
    for (int i = 0; i < 2; i++) {
        int st = lt_wait(wp[i], 15000);
        cr_assert_gt(st, 0, "worker %d: status %d (-1: still running)", i, st);
    }
    double gone = now_s() - t0;
    cr_assert(worker_logs_say(&cl, "death timeout"),
              "the workers' logs do not say why they exited");
    for (int i = 0; i < 2; i++)
        cr_assert_eq(lt_shm_files_of(procs[i]), 0);
    cl.nworkers = 0; /* reaped */
    cr_log_info("scheduler killed, never restarted: workers exited after "
                "%.3f s (dead-after 1.5 s + death timeout 2 s)",
                gone);
    /* nothing to stop; the logs are checked for sanitizer reports */
    cr_assert_eq(lt_cluster_stop(&cl, 0), 0,
                 "a daemon log holds a sanitizer report (printed above)");
}

/* A client killed with kill -9 in the middle of a job: the scheduler frees
   its tasks and removes its /dev/shm files. */
Test(faults, killed_client_leaves_nothing_in_dev_shm)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    char log[1200];
    pid_t job = spawn_looping_job(&cl, "200000", log, sizeof(log));
    cr_assert_gt(lt_shm_files_of(job), 0, "the job made no /dev/shm file");
    nap_ms(500);
    int had = lt_shm_files_of(job);
    kill(job, SIGKILL);
    cr_assert_eq(lt_wait(job, 5000), 128 + SIGKILL);
    double t1 = now_s();
    while (lt_shm_files_of(job) > 0 && now_s() - t1 < 10)
        nap_ms(20);
    double swept = now_s() - t1;
    cr_assert_eq(lt_shm_files_of(job), 0, "the killed client left files");
    expect_held_zero(c);
    serves_a_job(c);
    cr_log_info("client killed with %d /dev/shm files: removed %.3f s later",
                had, swept);
    finish(&cl, c);
}

/* A long task that does not look at cancellation holds worker A's only
   thread.  Tasks placed behind it there move to the idle worker B when
   their inputs are small (or none), and stay when they are large. */
Test(faults, unstarted_tasks_move_to_an_idle_worker_unless_their_inputs_are_big)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    int ids[2];
    cr_assert_eq(workers_now(c, ids, NULL, 2), 2);
    int a = ids[0], b = ids[1];
    struct locus_submit_opts on_a = LOCUS_SUBMIT_OPTS_INIT;
    on_a.workers = &a;
    on_a.nworkers = 1;
    locus_arg args[2] = {locus_arg_i64(100), locus_arg_i64(1)};
    locus_future *small, *big, *hold;
    cr_assert_eq(locus_submit(c, "make_bytes", args, 2, &on_a, &small), 0);
    args[0] = locus_arg_i64(32 << 20);
    cr_assert_eq(locus_submit(c, "make_bytes", args, 2, &on_a, &big), 0);
    cr_assert_eq(locus_wait(&small, 1, TMO), 0, "%s", locus_last_error());
    cr_assert_eq(locus_wait(&big, 1, TMO), 0, "%s", locus_last_error());
    args[0] = locus_arg_i64(4000);
    double t0 = now_s();
    cr_assert_eq(locus_submit(c, "hold_ms", args, 1, &on_a, &hold), 0);
    cr_assert_gt(busy_worker(c), 0);
    /* behind it on A (their inputs are there), or anywhere (none) */
    locus_future *s_small, *s_big, *s_none[4];
    locus_arg in[2] = {locus_arg_i64(0), locus_arg_future(small)};
    cr_assert_eq(locus_submit(c, "hold_ms", in, 2, NULL, &s_small), 0);
    in[1] = locus_arg_future(big);
    cr_assert_eq(locus_submit(c, "hold_ms", in, 2, NULL, &s_big), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(locus_submit(c, "hold_ms", in, 1, NULL, &s_none[i]), 0);
    double t1 = now_s();
    int64_t where;
    cr_assert_eq(locus_result_i64(s_small, TMO, &where), 0, "%s",
                 locus_last_error());
    double moved = now_s() - t1;
    cr_assert_eq(where, b, "the small-input task ran on worker %lld",
                 (long long)where);
    cr_assert_lt(now_s() - t0, 3.0, "it waited for the long task");
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(locus_result_i64(s_none[i], TMO, &where), 0, "%s",
                     locus_last_error());
        cr_assert_lt(now_s() - t0, 3.5, "a task without inputs waited");
    }
    cr_assert_eq(locus_result_i64(s_big, TMO, &where), 0, "%s",
                 locus_last_error());
    cr_assert_eq(where, a, "the task moved away from its 32 MiB input");
    cr_assert_geq(now_s() - t0, 3.9, "the big-input task did not wait");
    locus_worker_info wi[2];
    size_t n = 0;
    cr_assert_eq(locus_workers(c, wi, 2, &n), 0);
    cr_log_info("stealing: the small-input task ran on the idle worker %.3f "
                "s after it was submitted; the 32 MiB-input one stayed and "
                "ran after the long task (%.3f s)",
                moved, now_s() - t0);
    locus_release(s_small);
    locus_release(s_big);
    for (int i = 0; i < 4; i++)
        locus_release(s_none[i]);
    locus_release(hold);
    locus_release(small);
    locus_release(big);
    finish(&cl, c);
}

/* Only this user's processes can ring the scheduler's doorbell: it is a
   socket in a 0700 directory of ours.  As root, a process of another user
   (nobody) is refused by the kernel. */
Test(faults, another_user_cannot_ring_the_doorbell)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    schedfile sf;
    cr_assert_eq(schedfile_read(cl.file, &sf), 0, "%s", locus_last_error());
    const char *bell = strstr(sf.shm_addr, "#bell=");
    cr_assert(bell, "the scheduler's shm address has no doorbell: %s",
              sf.shm_addr);
    bell += 6;
    cr_assert_eq(bell[0], '/', "the doorbell is an abstract socket: %s", bell);
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", bell);
    *strrchr(dir, '/') = '\0';
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert_eq(st.st_uid, getuid());
    cr_assert_eq(st.st_mode & 077, 0, "%s has mode %o", dir,
                 (unsigned)(st.st_mode & 0777));
    if (geteuid() == 0) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", bell);
        pid_t k = fork();
        cr_assert_geq(k, 0);
        if (k == 0) { /* async-signal-safe calls only */
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(2);
            int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
            if (fd < 0)
                _exit(3);
            char b = 1;
            ssize_t n =
                sendto(fd, &b, 1, 0, (struct sockaddr *)&sa, sizeof(sa));
            _exit(n < 0 && errno == EACCES ? 0 : 1);
        }
        int code = lt_wait(k, 5000);
        cr_assert_eq(code, 0,
                     "a process of user nobody could ring %s (status %d)", bell,
                     code);
        cr_log_info("doorbell %s: user nobody refused (EACCES)", bell);
    } else {
        cr_log_info("doorbell %s in a 0700 directory; not root, so no other "
                    "user to try it with",
                    bell);
    }
    serves_a_job(c);
    finish(&cl, c);
}

/* A HELLO whose host and job id hold terminal escapes and a forged log
   line: the scheduler refuses it and logs it escaped, one line. */
Test(faults, control_bytes_from_a_peer_reach_the_log_escaped)
{
    lt_cluster cl;
    locus_client *c;
    pid_t wp[2];
    start(&cl, &c, wp);
    lt_peer p;
    cr_assert_eq(lt_peer_open(&p, cl.file, NULL, 1), 0, "%s",
                 locus_last_error());
    ljoin_init(&p.j, &p.n, &p.sf, p.sched, ROLE_CLIENT, -1, "", 0);
    snprintf(p.j.hello.host, sizeof(p.j.hello.host), "h\x07\x1b]0;owned\x07");
    snprintf(p.j.hello.job, sizeof(p.j.hello.job),
             "j\x1b[2J\r\n00:00:00.000 forged");
    /* the first HELLO over tcp may wait for the connection: sent again
       every 500 ms until the REFUSE */
    for (int i = 0; i < 100 && !p.refused; i++)
        lt_peer_pump(&p, 100);
    int refused = p.refused;
    lt_peer_close(&p);
    serves_a_job(c);
    char *log = log_of(&cl, "scheduler.log");
    cr_assert(refused, "the scheduler did not refuse the HELLO:\n%s", log);
    cr_assert(strstr(log, "j\\x1b[2J\\x0d\\x0a00:00:00.000 forged"),
              "the job id is not in the log, escaped:\n%s", log);
    cr_assert(strstr(log, "h\\x07\\x1b]0;owned\\x07"),
              "the host is not in the log, escaped:\n%s", log);
    cr_assert(!strchr(log, '\x1b') && !strchr(log, '\x07') &&
                  !strchr(log, '\r'),
              "raw control bytes in the log");
    cr_assert(!strstr(log, "\n00:00:00.000 forged"), "a forged log line");
    free(log);
    finish(&cl, c);
}
