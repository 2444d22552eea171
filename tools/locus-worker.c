/* locus-worker: the worker daemon, one per NUMA node. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "worker/worker.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: locus-worker --scheduler-file PATH [options]\n"
            "\n"
            "Runs a locus worker bound (CPU and memory) to one NUMA node, with\n"
            "one task thread per core of that node.\n"
            "\n"
            "  --scheduler-file PATH  the scheduler's file (addresses and key)\n"
            "  --numa-node N          logical NUMA node to bind to (default 0)\n"
            "  --nthreads N           task threads (default: cores of the node)\n"
            "  --topology T           hwloc synthetic topology or XML file\n"
            "                         (tests: pretend to have several nodes)\n"
            "  --provider NAME        net provider (default: the scheduler's)\n"
            "  --bind ADDR            address of the net endpoint (127.0.0.1)\n"
            "  --no-shm               no shm endpoint for same-host peers\n"
            "  --timeout-ms N         deadline to join the scheduler (30000)\n"
            "  -v, --verbose          log at info level\n"
            "  -h, --help\n");
}

int main(int argc, char **argv)
{
    struct worker_opts o;
    memset(&o, 0, sizeof(o));
    o.numa_node = -1;
    static const struct option longopts[] = {
        {"scheduler-file", required_argument, 0, 'f'},
        {"numa-node", required_argument, 0, 'n'},
        {"nthreads", required_argument, 0, 't'},
        {"topology", required_argument, 0, 'T'},
        {"provider", required_argument, 0, 'P'},
        {"bind", required_argument, 0, 'b'},
        {"no-shm", no_argument, 0, 'S'},
        {"timeout-ms", required_argument, 0, 'o'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    lc_log_set_prog("locus-worker");
    while ((c = getopt_long(argc, argv, "f:n:t:T:P:b:So:vh", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'f': o.sched_file = optarg; break;
        case 'n': o.numa_node = atoi(optarg); break;
        case 't': o.nthreads = atoi(optarg); break;
        case 'T': o.topology = optarg; break;
        case 'P': o.provider = optarg; break;
        case 'b': o.bind = optarg; break;
        case 'S': o.no_shm = 1; break;
        case 'o': o.timeout_ms = atoi(optarg); break;
        case 'v':
            if (!lc_log_enabled(LC_LOG_INFO))
                lc_log_set_level(LC_LOG_INFO);
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o.sched_file || optind != argc || o.nthreads < 0) {
        usage(stderr);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0); /* task output line by line in logs */
    int rc = worker_run(&o, &stop);
    if (rc) {
        fprintf(stderr, "locus-worker: %s\n", locus_last_error());
        return 1;
    }
    return 0;
}
