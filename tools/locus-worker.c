/* SPDX-License-Identifier: BSD-3-Clause */
/* locus-worker: the worker daemon, one per NUMA node. */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "base/iface.h"
#include "opts.h"
#include "proto/pmixrec.h"
#include "proto/schedfile.h"
#include "topo/topo.h"
#include "worker/nanny.h"
#include "worker/worker.h"

#define PROG "locus-worker"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: locus-worker --scheduler-file PATH [options]\n"
        "\n"
        "Runs a locus worker bound (CPU and memory) to one NUMA node, with\n"
        "one task thread per core of that node.  Waits for the scheduler\n"
        "file to appear (the scheduler may start after it under srun or\n"
        "mpirun); refuses at once a file of another job or one whose\n"
        "scheduler is gone.\n"
        "\n"
        "  --scheduler-file PATH  the scheduler's file (addresses and key;\n"
        "                         default $LOCUS_SCHEDULER_FILE)\n"
        "  --numa-node N          logical NUMA node to bind to (default:\n"
        "                         the launcher's local rank modulo the\n"
        "                         number of nodes: $LOCUS_LOCAL_RANK,\n"
        "                         $SLURM_LOCALID, "
        "$OMPI_COMM_WORLD_LOCAL_RANK,\n"
        "                         $PMIX_LOCAL_RANK, $MPI_LOCALRANKID; else 0)\n"
        "  --nthreads N           task threads (default: cores of the node)\n"
        "  --topology T           hwloc synthetic topology or XML file\n"
        "                         (tests: pretend to have several nodes)\n"
        "  --provider NAME        net provider (default: the scheduler's)\n"
        "  --interface NAME       bind the IPv4 address of NAME (ib0, eth0;\n"
        "                         default $LOCUS_INTERFACE)\n"
        "  --bind ADDR            address or interface name to bind (default:\n"
        "                         the one the scheduler is reachable from)\n"
        "  --no-shm               no shm endpoint for same-host peers\n"
        "  --job-id ID            this worker's job (default $LOCUS_JOB_ID,\n"
        "                         $SLURM_JOB_ID, the PMIx namespace; none:\n"
        "                         no check)\n"
        "  --wait-ms N            how long to wait for the scheduler file\n"
        "                         (60000; 0: not at all)\n"
        "  --timeout-ms N         deadline to join the scheduler (30000)\n"
        "  --death-timeout MS     after losing the scheduler, wait this\n"
        "                         long for it to come back (restarted with\n"
        "                         the same scheduler file and job id), then\n"
        "                         exit (60000)\n"
        "  --no-nanny             no supervising parent: a task that\n"
        "                         crashes the process ends the worker, and\n"
        "                         a lost scheduler ends it at once\n"
        "  --no-inline            run every task on a task thread (by\n"
        "                         default a function whose runs were all\n"
        "                         short runs on the thread that received it)\n"
        "  -v, --verbose          log at info level\n"
        "  -h, --help\n");
}

/* The launcher's local rank of this process, or -1. */
static int local_rank(const char **from)
{
    static const char *const vars[] = {
        "LOCUS_LOCAL_RANK", "SLURM_LOCALID",   "OMPI_COMM_WORLD_LOCAL_RANK",
        "PMIX_LOCAL_RANK",  "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        long r;
        char *end;
        if (!v || !*v)
            continue;
        r = strtol(v, &end, 10);
        if (*end || r < 0 || r > 1 << 20) {
            fprintf(stderr, PROG ": ignoring $%s='%s': not a local rank\n",
                    vars[i], v);
            continue;
        }
        *from = vars[i];
        return (int)r;
    }
    return -1;
}

/* Wait up to wait_ms for path to exist, then read and check it.  rejoin:
   a stale file (its scheduler gone) is waited on too: a scheduler may be
   restarted with it. */
static int wait_for_file(const char *path, int wait_ms, int rejoin,
                         schedfile *sf)
{
    uint64_t dl = lc_deadline_ms(wait_ms);
    char job[sizeof(sf->job)];
    int said = 0, rc;
    schedfile_job_from_env(job, sizeof(job));
    for (;;) {
        rc = schedfile_read_wait(path, wait_ms, sf); /* PMIx: waits */
        if (rc == 0 && rejoin)
            rc = schedfile_check(sf, path, job);
        if ((rc != LOCUS_ENOENT && !(rejoin && rc == LOCUS_ECLOSED)) ||
            lc_expired(dl) || stop)
            break;
        if (!said++)
            lc_log(LC_LOG_INFO, "worker",
                   "waiting up to %d ms for the "
                   "scheduler file %s",
                   wait_ms, path);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rejoin && rc) {
        fprintf(stderr,
                PROG ": no scheduler came back within the death timeout "
                     "(%d ms): %s\n",
                wait_ms, locus_last_error());
        return rc;
    }
    if (rc == LOCUS_ENOENT && wait_ms > 0) {
        fprintf(stderr,
                PROG
                ": no scheduler file %s after %d ms: start "
                "locus-scheduler --scheduler-file %s (under srun/mpirun: "
                "locus-launch), check that the path is on a file system both "
                "hosts share, or wait longer with --wait-ms\n",
                path, wait_ms, path);
        return rc;
    }
    if (!rc)
        rc = schedfile_check(sf, path, job);
    if (rc)
        fprintf(stderr, PROG ": %s\n", locus_last_error());
    return rc;
}

int main(int argc, char **argv)
{
    struct worker_opts o;
    memset(&o, 0, sizeof(o));
    o.numa_node = -1;
    int wait_ms = 60000, death_ms = 60000, no_nanny = 0;
    const char *iface = NULL, *job = NULL;
    char bind[LC_IFACE_ADDR_MAX];
    enum { O_IFACE = 256, O_JOB, O_WAIT, O_DEATH, O_NONANNY, O_NOINLINE };
    static const struct option longopts[] = {
        {"scheduler-file", required_argument, 0, 'f'},
        {"numa-node", required_argument, 0, 'n'},
        {"nthreads", required_argument, 0, 't'},
        {"topology", required_argument, 0, 'T'},
        {"provider", required_argument, 0, 'P'},
        {"bind", required_argument, 0, 'b'},
        {"interface", required_argument, 0, O_IFACE},
        {"no-shm", no_argument, 0, 'S'},
        {"job-id", required_argument, 0, O_JOB},
        {"wait-ms", required_argument, 0, O_WAIT},
        {"timeout-ms", required_argument, 0, 'o'},
        {"death-timeout", required_argument, 0, O_DEATH},
        {"no-nanny", no_argument, 0, O_NONANNY},
        {"no-inline", no_argument, 0, O_NOINLINE},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    lc_log_set_prog(PROG);
    while ((c = getopt_long(argc, argv, "f:n:t:T:P:b:So:vh", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'f':
            o.sched_file = optarg;
            break;
        case 'n':
            if (opt_int(PROG, "--numa-node", optarg, 0, 4095, &o.numa_node))
                return 2;
            break;
        case 't':
            if (opt_int(PROG, "--nthreads", optarg, 0, 4096, &o.nthreads))
                return 2;
            break;
        case 'T':
            o.topology = optarg;
            break;
        case 'P':
            o.provider = optarg;
            break;
        case 'b':
            o.bind = optarg;
            break;
        case O_IFACE:
            iface = optarg;
            break;
        case 'S':
            o.no_shm = 1;
            break;
        case O_JOB:
            job = optarg;
            break;
        case O_WAIT:
            if (opt_int(PROG, "--wait-ms", optarg, 0, 86400000, &wait_ms))
                return 2;
            break;
        case 'o':
            if (opt_int(PROG, "--timeout-ms", optarg, 1, 86400000,
                        &o.timeout_ms))
                return 2;
            break;
        case O_DEATH:
            if (opt_int(PROG, "--death-timeout", optarg, 1, 86400000,
                        &death_ms))
                return 2;
            break;
        case O_NONANNY:
            no_nanny = 1;
            break;
        case O_NOINLINE:
            o.no_inline = 1;
            break;
        case 'v':
            if (!lc_log_enabled(LC_LOG_INFO))
                lc_log_set_level(LC_LOG_INFO);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (opt_sched_file(PROG, &o.sched_file, optind, argc, argv)) {
        usage(stderr);
        return 2;
    }
    if (job && setenv("LOCUS_JOB_ID", job, 1) != 0) {
        perror(PROG ": setenv");
        return 1;
    }
    /* from here on, the nanny supervises a worker process (each restart
       starts again here, with the same options).  Before anything starts
       threads (PMIx does): a fork keeps only the calling thread. */
    static worker_prev prev;
    int rejoin_ms = 0;
    if (!no_nanny) {
        struct nanny_opts no = {death_ms};
        nanny_page *page = NULL;
        if (nanny_run(&no, &page, &prev, &rejoin_ms) != 0) {
            fprintf(stderr, PROG ": %s\n", locus_last_error());
            return 1;
        }
        o.nanny = page;
        o.prev = &prev;
        if (rejoin_ms > 0 && (!o.timeout_ms || o.timeout_ms > rejoin_ms))
            o.timeout_ms = rejoin_ms;
    }
    if (o.numa_node < 0) {
        const char *from = NULL;
        int lr = local_rank(&from);
        if (lr < 0 && pmixrec_self(NULL, 0, &lr) == 0) /* no env vars */
            from = "PMIx's PMIX_LOCAL_RANK";
        if (lr >= 0) {
            topo *t;
            if (topo_load(o.topology, &t) != 0) {
                fprintf(stderr, PROG ": %s\n", locus_last_error());
                return 1;
            }
            int n = topo_numa_count(t);
            topo_destroy(t);
            o.numa_node = n > 0 ? lr % n : 0;
            lc_log(LC_LOG_INFO, "worker", "NUMA node %d of %d from %s%s=%d",
                   o.numa_node, n, strchr(from, ' ') ? "" : "$", from, lr);
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    schedfile sf;
    int frc = wait_for_file(o.sched_file, rejoin_ms > 0 ? rejoin_ms : wait_ms,
                            rejoin_ms > 0, &sf);
    if (stop)
        return 0;
    if (frc != 0)
        return 1;
    if (lc_bind_resolve(o.bind, iface, bind, sizeof(bind)) != 0) {
        fprintf(stderr, PROG ": %s\n", locus_last_error());
        return 2;
    }
    /* nothing asked: bind where the scheduler is reachable from, so that
       peers on other hosts reach us too (loopback only for a loopback
       scheduler) */
    char shost[LC_IFACE_ADDR_MAX];
    struct in_addr a;
    snprintf(shost, sizeof(shost), "%s", sf.net_hostport);
    char *colon = strrchr(shost, ':');
    if (colon)
        *colon = '\0';
    if (!bind[0] && inet_pton(AF_INET, shost, &a) == 1 &&
        (ntohl(a.s_addr) >> 24) != 127 &&
        lc_bind_for_peer(shost, bind, sizeof(bind)) != 0) {
        fprintf(stderr, PROG ": the scheduler is at %s: %s\n", sf.net_hostport,
                locus_last_error());
        return 1;
    }
    o.bind = bind[0] ? bind : NULL;
    lc_log(LC_LOG_INFO, "worker",
           "job %s: joining the scheduler at %s from "
           "%s",
           sf.job, sf.net_hostport[0] ? sf.net_hostport : sf.net_addr,
           o.bind ? o.bind : "127.0.0.1");

    setvbuf(stdout, NULL, _IOLBF, 0); /* task output line by line in logs */
    int rc = worker_run(&o, &stop);
    if (rc) {
        fprintf(stderr, PROG ": %s\n", locus_last_error());
        return 1;
    }
    return 0;
}
