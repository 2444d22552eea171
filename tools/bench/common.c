/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: notes, local clusters, the runs and the --json document,
 * the CPU time of processes, running a program for its output.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "bench/bench.h"

extern char **environ;

void bench_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("locus-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

struct clus *bench_running;

void bench_clus_stop(struct clus *k)
{
    if (k->c)
        locus_disconnect(k->c);
    k->c = NULL;
    locus_local_cluster_stop(k->lc);
    k->lc = NULL;
    bench_running = NULL;
}

int bench_clus_start(int nworkers, int nthreads, int no_shm, struct clus *k)
{
    memset(k, 0, sizeof(*k));
    k->nworkers = nworkers;
    k->nthreads = nthreads;
    k->no_shm = no_shm;
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = nworkers;
    o.nthreads = nthreads;
    o.provider = bench_cfg.provider;
    o.timeout_ms = CLUSTER_TIMEOUT_MS;
    o.flags = no_shm ? LOCUS_CLUSTER_NO_SHM : 0;
    int rc = locus_local_cluster_start(&o, &k->lc);
    if (rc)
        return rc;
    bench_running = k;
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.timeout_ms = CLUSTER_TIMEOUT_MS;
    co.flags = no_shm ? LOCUS_CONNECT_NO_SHM : 0;
    rc = locus_connect(locus_cluster_scheduler_file(k->lc), &co, &k->c);
    if (rc)
        return rc;
    locus_worker_info wi[8];
    size_t n = 0;
    rc = locus_workers(k->c, wi, 8, &n);
    if (rc)
        return rc;
    size_t off = 0;
    for (size_t i = 0; i < n && i < 8 && off < sizeof(k->desc); i++)
        off += (size_t)snprintf(k->desc + off, sizeof(k->desc) - off,
                                "%sworker %d: cpus %s, %d thread%s",
                                i ? "; " : "", wi[i].id, wi[i].cpuset,
                                wi[i].nthreads, wi[i].nthreads == 1 ? "" : "s");
    return 0;
}

/* ---- runs and the --json document ---------------------------------------- */

json_object *bench_json;

const char *bench_runs_note(void)
{
    static char buf[64];
    if (bench_cfg.runs <= 1)
        return "";
    snprintf(buf, sizeof(buf), " (median over %d runs)", bench_cfg.runs);
    return buf;
}

json_object *bench_section(const char *name)
{
    return bench_jobj(bench_json, name);
}

/* ---- CPU time of processes ----------------------------------------------- */

/* Fields of /proc/PID/stat after the command (which may hold spaces and
 * parentheses: it ends at the last ')'); field 3 is the first.  0 or -1. */
static int proc_stat(int pid, char *buf, size_t cap, char **after)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ')
        return -1;
    *after = rp + 2;
    return 0;
}

double bench_cpu_of_pid(int pid)
{
    char buf[1024], *p;
    if (proc_stat(pid, buf, sizeof(buf), &p))
        return -1;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt
       cmajflt utime stime: utime is field 14, the 12th after the ')' */
    unsigned long long ut, st;
    if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
               &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bench_cpu_of_self(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru))
        return -1;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int bench_children_of(int pid, int *out, int max)
{
    DIR *d = opendir("/proc");
    int n = 0;
    if (!d)
        return 0;
    for (struct dirent *de; n < max && (de = readdir(d));) {
        char *end, buf[1024], *p;
        long child = strtol(de->d_name, &end, 10);
        int ppid;
        if (*end || child <= 0 || proc_stat((int)child, buf, sizeof(buf), &p) ||
            sscanf(p, "%*c %d", &ppid) != 1)
            continue;
        if (ppid == pid)
            out[n++] = (int)child;
    }
    closedir(d);
    return n;
}

/* ---- running a program for its output ------------------------------------ */

int bench_capture(char *const argv[], int timeout_ms, char *out, size_t cap)
{
    int fds[2];
    size_t len = 0;
    out[0] = '\0';
    if (pipe(fds)) {
        snprintf(out, cap, "pipe: %s", strerror(errno));
        return -1;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (e) {
        close(fds[0]);
        snprintf(out, cap, "cannot run %s: %s", argv[0], strerror(e));
        return -1;
    }
    uint64_t dl = lc_deadline_ms(timeout_ms);
    int timed_out = 0;
    for (;;) {
        int left = lc_remaining_ms(dl);
        if (left <= 0 || bench_stop) {
            timed_out = 1;
            break;
        }
        struct pollfd pf = {fds[0], POLLIN, 0};
        int pr = poll(&pf, 1, left < 200 ? left : 200);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        char tmp[4096];
        ssize_t n = read(fds[0], tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* end of file: it exited (or closed its output) */
        size_t k = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
        memcpy(out + len, tmp, k);
        len += k;
        out[len] = '\0';
    }
    close(fds[0]);
    int st = 0;
    /* its output closed: it exits now, or within the deadline */
    while (!timed_out && waitpid(pid, &st, WNOHANG) != pid) {
        if (lc_expired(dl) || bench_stop) {
            timed_out = 1;
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (timed_out) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        snprintf(out, cap, "%s: %s after %d ms", argv[0],
                 bench_stop ? "interrupted" : "no end", timeout_ms);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
