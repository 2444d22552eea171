/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Local cluster: spawn locus-scheduler and locus-worker on this host.
 * posix_spawn (no fork of a process that may hold registered memory), all
 * children started before this process opens any fabric object.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena/arena.h"
#include "base/base.h"
#include "proto/schedfile.h"
#include "client/cluster_int.h"
#include "locus/client.h"
#include "locus/cluster.h"
#include "topo/topo.h"

extern char **environ;

struct locus_cluster {
    char dir[1024];
    char file[1100];
    int own_dir;
    pid_t sched;
    pid_t *workers;
    int nworkers;
    char dashboard[512]; /* its URL, "" when it has none */
};

/* dir/rel/name if it is an executable file */
static int try_prog(const char *dir, const char *rel, const char *name,
                    char *out, size_t len)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s%s%s/%s", dir, *rel ? "/" : "", rel,
                     name);
    if (n < 0 || (size_t)n >= sizeof(path) || access(path, X_OK) != 0)
        return 0;
    /* a clean name for logs and ps */
    char *real = realpath(path, NULL);
    snprintf(out, len, "%s", real ? real : path);
    free(real);
    return 1;
}

static void dir_of(const char *file, char *dir, size_t len)
{
    snprintf(dir, len, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, len, ".");
}

int cluster_find_program(const char *name, char *out, size_t len)
{
    /* Next to what runs this code, never a path compiled in: an installed
       liblocus.so finds <prefix>/bin through LOCUS_LIB_TO_BIN; the build
       tree's build/liblocus.so finds build/tools; a program linked with the
       static library (tools, tests, examples) finds its own directory,
       ../tools or ../bin. */
    const char *rels[] = {"", LOCUS_LIB_TO_BIN, "tools", "../tools", "../bin"};
    char bases[2][4096], tried[2 * 4096 + 8] = "";
    int nb = 0;
    const char *env = getenv("LOCUS_BINDIR");
    if (env && *env) {
        if (try_prog(env, "", name, out, len))
            return 0;
        return lc_seterr(LOCUS_ENOENT, "cluster",
                         "program %s not found in "
                         "$LOCUS_BINDIR (%s); unset it to use the locus "
                         "programs installed with this library",
                         name, env);
    }
    Dl_info di;
    if (dladdr((void *)cluster_find_program, &di) && di.dli_fname &&
        strchr(di.dli_fname, '/'))
        dir_of(di.dli_fname, bases[nb++], sizeof(bases[0]));
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        dir_of(self, bases[nb], sizeof(bases[0]));
        if (nb == 0 || strcmp(bases[0], bases[nb]) != 0)
            nb++;
    }
    for (int b = 0; b < nb; b++) {
        for (size_t r = 0; r < sizeof(rels) / sizeof(rels[0]); r++)
            if (try_prog(bases[b], rels[r], name, out, len))
                return 0;
        size_t off = strlen(tried);
        snprintf(tried + off, sizeof(tried) - off, "%s%s", off ? ", " : "",
                 bases[b]);
    }
    return lc_seterr(LOCUS_ENOENT, "cluster",
                     "program %s not found next to "
                     "%s (in ., %s, tools, ../tools, ../bin): install "
                     "locus's programs with its library, or set "
                     "$LOCUS_BINDIR to their directory",
                     name, tried[0] ? tried : "this program", LOCUS_LIB_TO_BIN);
}

static pid_t spawn(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* own process group: a ^C at the terminal goes to the program, which
       stops the cluster in order */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    pid_t pid = -1;
    int e = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (e) {
        lc_seterr(LOCUS_ESYS, "cluster", "cannot start %s: %s", argv[0],
                  strerror(e));
        return -1;
    }
    return pid;
}

static int exited(pid_t pid, int *status)
{
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
        *status = st;
        return 1;
    }
    return 0;
}

static void log_tail(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    long from = sz > (long)len - 1 ? sz - (long)len + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
    /* one line for an error message */
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

void cluster_reap_shm(pid_t pid)
{
    /* a process killed before it could clean up leaves its arena segments
       and the transport's shm files in /dev/shm */
    if (pid > 0)
        arena_sweep((int)pid, 0);
    arena_sweep(0, 0); /* and any other dead process's of this user */
}

static void stop_pid(pid_t pid, int grace_ms)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int waited = 0; waited < grace_ms; waited += 10) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            cluster_reap_shm(pid);
            return;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cluster_reap_shm(pid);
}

int cluster_start(const struct locus_cluster_opts *opts, locus_cluster **out)
{
    int rc = 0;
    char sched_prog[1024], worker_prog[1024], log[1200], tail[400];
    locus_cluster *lc = NULL;
    topo *t = NULL;
    LC_CHECK(out, fail, rc, LOCUS_EINVAL, "cluster", "out is NULL");
    *out = NULL;
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    /* the first version ends at flags */
    LC_CHECK_RC(lc_opts_copy(&o, opts,
                             LC_OPTS_END(struct locus_cluster_opts, flags),
                             sizeof(o), "locus_local_cluster_start opts",
                             "LOCUS_CLUSTER_OPTS_INIT"),
                fail, rc);
    opts = &o;
    LC_CHECK(!opts || (opts->flags & ~LOCUS_CLUSTER_NO_SHM) == 0, fail, rc,
             LOCUS_EINVAL, "cluster", "unknown flag bits 0x%x",
             opts ? opts->flags & ~LOCUS_CLUSTER_NO_SHM : 0);
    LC_CHECK(!opts || (opts->nworkers >= 0 && opts->nworkers <= 1024 &&
                       opts->nthreads >= 0 && opts->nthreads <= 4096),
             fail, rc, LOCUS_EINVAL, "cluster",
             "nworkers must be 0..1024 "
             "and nthreads 0..4096");
    LC_CHECK_RC(
        cluster_find_program("locus-scheduler", sched_prog, sizeof(sched_prog)),
        fail, rc);
    LC_CHECK_RC(
        cluster_find_program("locus-worker", worker_prog, sizeof(worker_prog)),
        fail, rc);
    lc = calloc(1, sizeof(*lc));
    LC_CHECK(lc, fail, rc, LOCUS_ENOMEM, "cluster", "no memory");
    if (opts && opts->dir) {
        /* a cut path would be another directory */
        LC_CHECK(strlen(opts->dir) < sizeof(lc->dir), fail, rc, LOCUS_EINVAL,
                 "cluster", "opts.dir is %zu bytes long (at most %zu)",
                 strlen(opts->dir), sizeof(lc->dir) - 1);
        snprintf(lc->dir, sizeof(lc->dir), "%s", opts->dir);
        if (mkdir(lc->dir, 0700) != 0 && errno != EEXIST) {
            rc = lc_seterr(LOCUS_EIO, "cluster", "cannot create %s: %s",
                           lc->dir, strerror(errno));
            goto fail;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(lc->dir, sizeof(lc->dir), "%s/locus-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        LC_CHECK(mkdtemp(lc->dir), fail, rc, LOCUS_EIO, "cluster",
                 "mkdtemp %s: %s", lc->dir, strerror(errno));
        lc->own_dir = 1;
    }
    snprintf(lc->file, sizeof(lc->file), "%s/scheduler.json", lc->dir);
    unlink(lc->file); /* never trust a stale one */

    /* one worker per NUMA node unless told otherwise */
    const char *topology = opts ? opts->topology : NULL;
    LC_CHECK_RC(topo_load(topology, &t), fail, rc);
    int nnodes = topo_numa_count(t);
    lc->nworkers = opts && opts->nworkers ? opts->nworkers : nnodes;
    lc->workers = calloc((size_t)lc->nworkers, sizeof(pid_t));
    LC_CHECK(lc->workers, fail, rc, LOCUS_ENOMEM, "cluster", "no memory");

    const char *prov = opts && opts->provider ? opts->provider : NULL;
    int no_shm = opts && (opts->flags & LOCUS_CLUSTER_NO_SHM);
    {
        char *argv[12];
        int n = 0;
        argv[n++] = sched_prog;
        argv[n++] = "--scheduler-file";
        argv[n++] = lc->file;
        if (prov) {
            argv[n++] = "--provider";
            argv[n++] = (char *)prov;
        }
        if (no_shm)
            argv[n++] = "--no-shm";
        argv[n] = NULL;
        snprintf(log, sizeof(log), "%s/scheduler.log", lc->dir);
        lc->sched = spawn(argv, log);
        LC_CHECK(lc->sched > 0, fail, rc, LOCUS_ESYS, "cluster", "%s",
                 locus_last_error());
    }
    int timeout = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    uint64_t dl = lc_deadline_ms(timeout);
    struct stat st;
    int status;
    while (stat(lc->file, &st) != 0) {
        if (exited(lc->sched, &status)) {
            lc->sched = 0;
            snprintf(log, sizeof(log), "%s/scheduler.log", lc->dir);
            log_tail(log, tail, sizeof(tail));
            rc = lc_seterr(LOCUS_ESYS, "cluster",
                           "the scheduler exited at "
                           "start: %s",
                           tail);
            goto fail;
        }
        LC_CHECK(!lc_expired(dl), fail, rc, LOCUS_ETIMEDOUT, "cluster",
                 "the scheduler did not write %s in time", lc->file);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < lc->nworkers; i++) {
        char node[16], threads[16];
        snprintf(node, sizeof(node), "%d", i % nnodes);
        snprintf(threads, sizeof(threads), "%d", opts ? opts->nthreads : 0);
        char *argv[16];
        int n = 0;
        argv[n++] = worker_prog;
        argv[n++] = "--scheduler-file";
        argv[n++] = lc->file;
        argv[n++] = "--numa-node";
        argv[n++] = node;
        argv[n++] = "--nthreads";
        argv[n++] = threads;
        if (topology) {
            argv[n++] = "--topology";
            argv[n++] = (char *)topology;
        }
        if (prov) {
            argv[n++] = "--provider";
            argv[n++] = (char *)prov;
        }
        if (no_shm)
            argv[n++] = "--no-shm";
        argv[n] = NULL;
        snprintf(log, sizeof(log), "%s/worker-%d.log", lc->dir, i);
        lc->workers[i] = spawn(argv, log);
        LC_CHECK(lc->workers[i] > 0, fail, rc, LOCUS_ESYS, "cluster", "%s",
                 locus_last_error());
    }
    topo_destroy(t);
    t = NULL;
    /* wait for every worker to join, asking the scheduler as a client */
    {
        locus_client *c = NULL;
        struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
        co.timeout_ms = lc_remaining_ms(dl) > 0 ? lc_remaining_ms(dl) : 1;
        LC_CHECK_RC(locus_connect(lc->file, &co, &c), fail, rc);
        size_t joined = 0;
        for (;;) {
            rc = locus_workers(c, NULL, 0, &joined);
            if (rc || joined >= (size_t)lc->nworkers)
                break;
            for (int i = 0; i < lc->nworkers; i++) {
                if (lc->workers[i] > 0 && exited(lc->workers[i], &status)) {
                    lc->workers[i] = 0;
                    snprintf(log, sizeof(log), "%s/worker-%d.log", lc->dir, i);
                    log_tail(log, tail, sizeof(tail));
                    rc = lc_seterr(LOCUS_ESYS, "cluster",
                                   "worker %d exited "
                                   "at start: %s",
                                   i, tail);
                    break;
                }
            }
            if (rc)
                break;
            if (lc_expired(dl)) {
                rc = lc_seterr(LOCUS_ETIMEDOUT, "cluster",
                               "%zu of %d "
                               "workers joined in %d ms (logs in %s)",
                               joined, lc->nworkers, timeout, lc->dir);
                break;
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        char keep[1024];
        snprintf(keep, sizeof(keep), "%s", locus_last_error());
        locus_disconnect(c);
        if (rc) {
            lc_seterr(rc, "cluster", "%s", keep);
            goto fail;
        }
    }
    {
        /* like dask's LocalCluster, say where its dashboard is */
        schedfile sf;
        if (schedfile_read(lc->file, &sf) == 0 && sf.dashboard[0]) {
            snprintf(lc->dashboard, sizeof(lc->dashboard), "%s", sf.dashboard);
            lc_log(LC_LOG_INFO, "cluster", "dashboard at %s", sf.dashboard);
        }
    }
    *out = lc;
    return 0;
fail:
    if (t)
        topo_destroy(t);
    if (lc) {
        char keep[1024];
        snprintf(keep, sizeof(keep), "%s", locus_last_error());
        locus_local_cluster_stop(lc);
        lc_seterr(rc, "cluster", "%s",
                  keep + (strncmp(keep, "cluster: ", 9) ? 0 : 9));
    }
    return rc;
}

int locus_local_cluster_start(const struct locus_cluster_opts *opts,
                              locus_cluster **out)
{
    lc_clearerr();
    return cluster_start(opts, out);
}

const char *locus_cluster_scheduler_file(const locus_cluster *lc)
{
    return lc ? lc->file : NULL;
}

const char *locus_cluster_dashboard(const locus_cluster *lc)
{
    return lc ? lc->dashboard : NULL;
}

int cluster_pids(const locus_cluster *lc, int *sched, int *workers, int max)
{
    *sched = lc->sched;
    for (int i = 0; i < lc->nworkers && i < max; i++)
        workers[i] = lc->workers[i];
    return lc->nworkers;
}

void cluster_forget(locus_cluster *lc)
{
    free(lc->workers);
    free(lc);
}

int locus_local_cluster_stop(locus_cluster *lc)
{
    lc_clearerr();
    if (!lc)
        return 0;
    /* the scheduler tells its workers to stop; signals make sure */
    stop_pid(lc->sched, 5000);
    for (int i = 0; i < lc->nworkers; i++)
        stop_pid(lc->workers[i], 5000);
    /* and what any dead process of ours left (a worker process whose
       nanny was killed, a client killed with kill -9) */
    arena_sweep(0, 0);
    unlink(lc->file);
    if (lc->own_dir && !getenv("LOCUS_KEEP_LOGS")) {
        char path[1200];
        snprintf(path, sizeof(path), "%s/scheduler.log", lc->dir);
        unlink(path);
        for (int i = 0; i < lc->nworkers; i++) {
            snprintf(path, sizeof(path), "%s/worker-%d.log", lc->dir, i);
            unlink(path);
        }
        rmdir(lc->dir);
    }
    free(lc->workers);
    free(lc);
    return 0;
}
