/* SPDX-License-Identifier: BSD-3-Clause */
/* The nanny: supervises the worker process (runtime/worker/nanny.h). */
#include "worker/nanny.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena/arena.h"
#include "base/base.h"

static volatile sig_atomic_t nanny_stop;
static volatile sig_atomic_t nanny_child;

static void on_stop(int sig)
{
    nanny_stop = sig;
    if (nanny_child > 0)
        kill((pid_t)nanny_child, sig);
}

void nanny_describe(int sig, int status, char *buf, size_t len)
{
    if (sig)
        snprintf(buf, len, "killed by signal %d (%s)", sig, strsignal(sig));
    else
        snprintf(buf, len, "exited with status %d", status);
}

/* Sleep ms, or less when asked to stop. */
static void nap(int ms)
{
    while (ms > 0 && !nanny_stop) {
        int step = ms < 50 ? ms : 50;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static void nanny_exit(int code)
{
    /* the nanny's own exit: no atexit handlers of the worker code */
    fflush(NULL);
    _exit(code);
}

int nanny_run(const struct nanny_opts *o, nanny_page **page, worker_prev *prev,
              int *rejoin_ms)
{
    int death_ms = o && o->death_timeout_ms > 0 ? o->death_timeout_ms : 60000;
    nanny_page *pg = mmap(NULL, sizeof(*pg), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pg == MAP_FAILED)
        return lc_seterr(LOCUS_ENOMEM, "nanny", "mmap of the shared page: %s",
                         strerror(errno));
    memset(prev, 0, sizeof(*prev));
    *rejoin_ms = 0;
    struct sigaction sa, old_term, old_int;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: waitpid returns */
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    pid_t self = getpid();
    uint64_t rejoin_until = 0, last_start = 0;
    int backoff_ms = 0, starts = 0;
    /* what killed processes of earlier runs left behind */
    int swept = arena_sweep(0, 0);
    if (swept)
        lc_log(LC_LOG_INFO, "nanny",
               "removed %d /dev/shm files of dead processes", swept);
    for (;;) {
        atomic_store(&pg->state, NANNY_STARTING);
        atomic_store(&pg->id, 0);
        for (int i = 0; i < NANNY_SLOTS; i++)
            atomic_store_explicit(&pg->running[i], 0, memory_order_relaxed);
        if (nanny_stop)
            nanny_exit(0);
        last_start = lc_now_ns();
        starts++;
        pid_t pid = fork();
        if (pid < 0) {
            int e = errno;
            if (starts == 1) {
                munmap(pg, sizeof(*pg));
                sigaction(SIGTERM, &old_term, NULL);
                sigaction(SIGINT, &old_int, NULL);
                return lc_seterr(LOCUS_ESYS, "nanny", "fork: %s", strerror(e));
            }
            lc_log(LC_LOG_ERROR, "nanny", "fork: %s: retrying in 1 s",
                   strerror(e));
            nap(1000);
            continue;
        }
        if (pid == 0) {
            /* the worker: dies with its nanny, handles its own signals */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != self)
                _exit(1);
            sigaction(SIGTERM, &old_term, NULL);
            sigaction(SIGINT, &old_int, NULL);
            *page = pg;
            if (rejoin_until) {
                uint64_t now = lc_now_ns();
                *rejoin_ms = rejoin_until > now
                                 ? (int)((rejoin_until - now) / 1000000u) + 1
                                 : 1;
            }
            return 0;
        }
        nanny_child = pid;
        int st = 0;
        while (waitpid(pid, &st, 0) < 0) {
            if (errno != EINTR) {
                lc_log(LC_LOG_ERROR, "nanny", "waitpid: %s", strerror(errno));
                nanny_exit(1);
            }
        }
        nanny_child = 0;
        int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
        int exit_code = sig ? 128 + sig : code;
        uint32_t state = atomic_load(&pg->state);
        uint32_t id = atomic_load(&pg->id);
        /* the dead process's segments and fabric files */
        int removed = arena_sweep((int)pid, 0);
        char how[128];
        nanny_describe(sig, code, how, sizeof(how));
        if (nanny_stop || state == NANNY_FINAL)
            nanny_exit(nanny_stop && sig == nanny_stop ? 0 : exit_code);
        if (state == NANNY_STARTING) {
            /* never joined: bad options or no scheduler; while rejoining,
               keep trying until the death timeout */
            if (rejoin_until && lc_now_ns() < rejoin_until) {
                nap(1000);
                continue;
            }
            if (rejoin_until)
                lc_log(LC_LOG_ERROR, "nanny",
                       "no scheduler to join within the death timeout "
                       "(%d ms): exiting",
                       death_ms);
            nanny_exit(exit_code ? exit_code : 1);
        }
        memset(prev, 0, sizeof(*prev));
        if (state == NANNY_REJOIN) {
            lc_log(LC_LOG_WARN, "nanny",
                   "worker %u (pid %d) lost the scheduler: starting a "
                   "fresh worker process to join again (for up to %d ms)",
                   id, (int)pid, death_ms);
            rejoin_until = lc_now_ns() + (uint64_t)death_ms * 1000000u;
            backoff_ms = 0;
            continue;
        }
        /* it died while serving: name the process and its tasks */
        rejoin_until = 0;
        prev->id = id;
        prev->pid = (int)pid;
        prev->sig = sig;
        prev->status = code;
        for (int i = 0; i < NANNY_SLOTS && prev->nkeys < 64; i++) {
            uint64_t k = atomic_load(&pg->running[i]);
            if (k)
                prev->keys[prev->nkeys++] = k;
        }
        uint64_t lived_ms = (lc_now_ns() - last_start) / 1000000u;
        backoff_ms = lived_ms > 10000     ? 0
                     : backoff_ms == 0    ? 100
                     : backoff_ms >= 2500 ? 5000
                                          : backoff_ms * 2;
        lc_log(LC_LOG_WARN, "nanny",
               "worker %u (pid %d) %s while running %u task(s); %d /dev/shm "
               "files removed; restarting%s",
               id, (int)pid, how, prev->nkeys, removed,
               backoff_ms ? " after a pause" : "");
        nap(backoff_ms);
    }
}
