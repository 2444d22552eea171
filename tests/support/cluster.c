/* SPDX-License-Identifier: BSD-3-Clause */
#include "cluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/cluster_int.h"
#include "proc.h"

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * The watchdog: a forked child that reads pids from a pipe.  pid 0 means
 * "the test stopped them itself".  On end of file without it (the test
 * process died), it SIGKILLs every pid it was given.  Only async-signal-safe
 * calls in the child.
 */
static void watchdog_main(int fd)
{
    pid_t pids[4 * LT_MAX_PROCS];
    int n = 0;
    for (;;) {
        int32_t v;
        ssize_t r = read(fd, &v, sizeof(v));
        if (r < 0 && errno == EINTR)
            continue;
        if (r != (ssize_t)sizeof(v))
            break;
        if (v == 0)
            _exit(0);
        if (n < (int)(sizeof(pids) / sizeof(pids[0])))
            pids[n++] = (pid_t)v;
    }
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    _exit(1);
}

void lt_cluster_watch(lt_cluster *c, pid_t pid)
{
    int32_t v = (int32_t)pid;
    if (c->watch_fd >= 0 && pid > 0 &&
        write(c->watch_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        fprintf(stderr, "lt_cluster: watchdog write: %s\n", strerror(errno));
}

int lt_cluster_init(lt_cluster *c)
{
    memset(c, 0, sizeof(*c));
    c->watch_fd = -1;
    clock_gettime(CLOCK_REALTIME, &c->t0);
    c->dir = lt_tmpdir();
    if (!c->dir) {
        fprintf(stderr, "lt_cluster: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    snprintf(c->file, sizeof(c->file), "%s/scheduler.json", c->dir);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        fprintf(stderr, "lt_cluster: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "lt_cluster: fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[1]);
        watchdog_main(fds[0]);
    }
    close(fds[0]);
    c->watchdog = pid;
    c->watch_fd = fds[1];
    return 0;
}

/* Children of this process that are not the watchdog: the daemons that
 * locus_local_cluster_start spawned. */
void lt_cluster_watch_children(lt_cluster *c)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    pid_t self = getpid();
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == c->watchdog)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* "pid (comm) state ppid ...": comm may hold spaces, so parse
           after the last ')' */
        char *rp = strrchr(buf, ')');
        char st;
        long ppid;
        if (rp && sscanf(rp + 1, " %c %ld", &st, &ppid) == 2 && ppid == self)
            lt_cluster_watch(c, (pid_t)pid);
    }
    closedir(d);
}

int lt_cluster_start(lt_cluster *c, const struct locus_cluster_opts *opts)
{
    if (lt_cluster_init(c) != 0)
        return LOCUS_ESYS;
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    if (opts)
        o = *opts;
    if (!o.dir)
        o.dir = c->dir;
    int rc = locus_local_cluster_start(&o, &c->lc);
    lt_cluster_watch_children(c);
    if (rc != 0) {
        fprintf(stderr, "lt_cluster: locus_local_cluster_start: %s: %s\n",
                locus_errname(rc), locus_last_error());
        return rc;
    }
    const char *f = locus_cluster_scheduler_file(c->lc);
    if (f)
        snprintf(c->file, sizeof(c->file), "%s", f);
    return 0;
}

static int alive(pid_t pid)
{
    int st;
    return waitpid(pid, &st, WNOHANG) == 0;
}

int lt_cluster_spawn_sched(lt_cluster *c, const char *const *args,
                           int timeout_ms)
{
    return lt_cluster_spawn_sched_in(c, NULL, NULL, args, timeout_ms);
}

int lt_cluster_spawn_sched_in(lt_cluster *c, const char *ns, const char *host,
                              const char *const *args, int timeout_ms)
{
    char *argv[32];
    char log[1200];
    int n = 0;
    argv[n++] = (char *)lt_tool("locus-scheduler");
    argv[n++] = "--scheduler-file";
    argv[n++] = c->file;
    for (int i = 0; args && args[i] && n < 31; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    snprintf(log, sizeof(log), "%s/scheduler.log", c->dir);
    /* a scheduler restarted with the file of a dead one: wait for its own
       (written to a temporary name and renamed: a new inode) */
    struct stat st;
    ino_t old_ino = stat(c->file, &st) == 0 ? st.st_ino : 0;
    c->sched = lt_spawn_in(ns, host, argv, log);
    if (c->sched <= 0) {
        c->sched = 0;
        return -1;
    }
    lt_cluster_watch(c, c->sched);
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (stat(c->file, &st) == 0 && st.st_ino != old_ino)
            return 0;
        if (!alive(c->sched)) {
            fprintf(stderr,
                    "lt_cluster: locus-scheduler exited before "
                    "writing %s\n",
                    c->file);
            c->sched = 0;
            return -1;
        }
        nap_ms(10);
    }
    fprintf(stderr, "lt_cluster: no scheduler file %s after %d ms\n", c->file,
            timeout_ms);
    return -1;
}

pid_t lt_cluster_spawn_worker(lt_cluster *c, const char *const *args)
{
    return lt_cluster_spawn_worker_in(c, NULL, NULL, args);
}

pid_t lt_cluster_spawn_worker_in(lt_cluster *c, const char *ns,
                                 const char *host, const char *const *args)
{
    if (c->nworkers == LT_MAX_PROCS)
        return -1;
    char *argv[32];
    char log[1200];
    int n = 0;
    argv[n++] = (char *)lt_tool("locus-worker");
    argv[n++] = "--scheduler-file";
    argv[n++] = c->file;
    for (int i = 0; args && args[i] && n < 31; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    snprintf(log, sizeof(log), "%s/worker-%d.log", c->dir, c->nworkers);
    pid_t pid = lt_spawn_in(ns, host, argv, log);
    if (pid <= 0)
        return -1;
    lt_cluster_watch(c, pid);
    c->workers[c->nworkers++] = pid;
    return pid;
}

int lt_wait_workers(locus_client *cl, size_t n, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        locus_worker_info w[4];
        size_t have = 0;
        if (locus_workers(cl, w, 4, &have) == 0 && have >= n)
            return 0;
        nap_ms(20);
    }
    return -1;
}

static int has_sanitizer_report(const char *text)
{
    return strstr(text, "ERROR: AddressSanitizer") ||
           strstr(text, "ERROR: LeakSanitizer") ||
           strstr(text, "runtime error:") || strstr(text, "ThreadSanitizer");
}

/* TSan build: every process of a ctest entry writes its reports to
 * $LT_TSAN_LOG_DIR/tsan.<pid> (tests/tsan_run.sh), not to its log.  Print
 * those written since c was made (tests of a suite run one at a time) and
 * return how many. */
static int scan_tsan_reports(const lt_cluster *c)
{
    const char *dir = getenv("LT_TSAN_LOG_DIR");
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d)
        return 0;
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "tsan.", 5) != 0)
            continue;
        char path[1400];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || st.st_mtim.tv_sec < c->t0.tv_sec ||
            (st.st_mtim.tv_sec == c->t0.tv_sec &&
             st.st_mtim.tv_nsec < c->t0.tv_nsec))
            continue;
        char *text = lt_slurp(path);
        fprintf(stderr, "---- %s (ThreadSanitizer, pid %s) ----\n%s", path,
                e->d_name + 5, text ? text : "");
        free(text);
        bad++;
    }
    closedir(d);
    return bad;
}

/* Print the logs (all, or only those with a sanitizer report); return how
 * many have a sanitizer report. */
static int scan_logs(const lt_cluster *c, int all)
{
    if (!c->dir)
        return 0;
    DIR *d = opendir(c->dir);
    if (!d)
        return 0;
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 4, ".log") != 0)
            continue;
        char path[1400];
        snprintf(path, sizeof(path), "%s/%s", c->dir, e->d_name);
        char *text = lt_slurp(path);
        int rep = text && has_sanitizer_report(text);
        bad += rep;
        if (text && *text && (all || rep))
            fprintf(stderr, "---- %s ----\n%s%s", path, text,
                    text[strlen(text) - 1] == '\n' ? "" : "\n");
        free(text);
    }
    closedir(d);
    return bad;
}

void lt_cluster_dump_logs(const lt_cluster *c)
{
    scan_logs(c, 1);
}

int lt_cluster_stop(lt_cluster *c, int dump_logs)
{
    if (getenv("LT_DUMP_LOGS")) /* to read what a passing test did */
        dump_logs = 1;
    if (c->lc) {
        int rc = locus_local_cluster_stop(c->lc);
        if (rc != 0)
            fprintf(stderr, "lt_cluster: locus_local_cluster_stop: %s: %s\n",
                    locus_errname(rc), locus_last_error());
        c->lc = NULL;
    }
    for (int i = 0; i < c->nworkers; i++) {
        int st = lt_stop(c->workers[i], 5000);
        cluster_reap_shm(c->workers[i]);
        if (st != 0)
            fprintf(stderr,
                    "lt_cluster: worker %d (pid %d) ended with "
                    "status %d\n",
                    i, (int)c->workers[i], st);
    }
    c->nworkers = 0;
    if (c->sched > 0) {
        int st = lt_stop(c->sched, 5000);
        cluster_reap_shm(c->sched);
        if (st != 0)
            fprintf(stderr,
                    "lt_cluster: scheduler (pid %d) ended with "
                    "status %d\n",
                    (int)c->sched, st);
        c->sched = 0;
    }
    /* daemons are stopped: their sanitizer reports (if built with
       LOCUS_SANITIZE) are in their logs now */
    int bad = scan_logs(c, dump_logs) + scan_tsan_reports(c);
    if (c->watch_fd >= 0) {
        int32_t zero = 0;
        if (write(c->watch_fd, &zero, sizeof(zero)) < 0)
            fprintf(stderr, "lt_cluster: watchdog: %s\n", strerror(errno));
        close(c->watch_fd);
        c->watch_fd = -1;
    }
    if (c->watchdog > 0) {
        lt_wait(c->watchdog, 2000);
        c->watchdog = 0;
    }
    lt_rmdir(c->dir);
    free(c->dir);
    c->dir = NULL;
    return bad;
}

void lt_fini_check(int bad)
{
    if (bad <= 0)
        return;
    fprintf(stderr,
            "lt_cluster: %d daemon log(s) hold a sanitizer report (printed "
            "above): the test fails\n",
            bad);
    fflush(stderr);
    abort();
}
