/* SPDX-License-Identifier: BSD-3-Clause */
/* locus-scheduler: the scheduler daemon. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/iface.h"
#include "opts.h"
#include "proto/schedfile.h"
#include "sched/sched.h"

#define PROG "locus-scheduler"

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
        "usage: locus-scheduler --scheduler-file PATH [options]\n"
        "\n"
        "Runs a locus scheduler.  Writes PATH (JSON, mode 0600: addresses,\n"
        "cluster key, job id) for workers and clients, removes it at exit.\n"
        "\n"
        "  --scheduler-file PATH  where to write the scheduler file\n"
        "                         (default $LOCUS_SCHEDULER_FILE)\n"
        "  --interface NAME       listen on the IPv4 address of interface\n"
        "                         NAME (ib0, eth0; default $LOCUS_INTERFACE)\n"
        "  --bind ADDR            listen on ADDR (an address or an\n"
        "                         interface name; default 127.0.0.1:\n"
        "                         loopback unless told; 0.0.0.0 refused)\n"
        "  --port PORT            port 1..65535 (default: any free port)\n"
        "  --provider NAME        net provider (default $FI_PROVIDER or\n"
        "                         tcp;ofi_rxm; verbs;ofi_rxm on InfiniBand)\n"
        "  --no-shm               no shm endpoint for same-host peers\n"
        "  --job-id ID            job written into the file (default\n"
        "                         $LOCUS_JOB_ID, $SLURM_JOB_ID, the PMIx\n"
        "                         namespace, or local-<random>)\n"
        "  --heartbeat-ms N       peers' heartbeat period (500)\n"
        "  --dead-after-ms N      silence that declares a peer dead (10000)\n"
        "  --dashboard ADDR:PORT  serve the dashboard there (default\n"
        "                         127.0.0.1:8787, or a free port if taken;\n"
        "                         its URL is in the scheduler file); a\n"
        "                         non-loopback ADDR requires its token\n"
        "  --dashboard-token      require the token on loopback too\n"
        "  --no-dashboard         no dashboard\n"
        "  (LOCUS_TRACE=FILE.json writes the task stream as a Chrome trace)\n"
        "  -v, --verbose          log at info level ($LOCUS_LOG=debug: more)\n"
        "  -h, --help\n");
}

/* Another live scheduler on this host already serves this file. */
static int file_in_use(const char *path)
{
    schedfile sf;
    if (schedfile_read(path, &sf) != 0)
        return 0;
    if (strcmp(sf.host, lc_hostname()) != 0 || sf.pid <= 0 ||
        schedfile_check(&sf, path, NULL) != 0)
        return 0;
    fprintf(stderr,
            PROG ": %s is the file of a running scheduler (pid %d, "
                 "job %s, at %s); stop it first or give another "
                 "--scheduler-file\n",
            path, sf.pid, sf.job,
            sf.net_hostport[0] ? sf.net_hostport : sf.net_addr);
    return 1;
}

int main(int argc, char **argv)
{
    struct sched_opts o;
    memset(&o, 0, sizeof(o));
    const char *iface = NULL, *job = NULL;
    char bind[LC_IFACE_ADDR_MAX];
    long port;
    enum { O_IFACE = 256, O_JOB };
    static const struct option longopts[] = {
        {"scheduler-file", required_argument, 0, 'f'},
        {"bind", required_argument, 0, 'b'},
        {"interface", required_argument, 0, O_IFACE},
        {"port", required_argument, 0, 'p'},
        {"provider", required_argument, 0, 'P'},
        {"no-shm", no_argument, 0, 'S'},
        {"job-id", required_argument, 0, O_JOB},
        {"heartbeat-ms", required_argument, 0, 'H'},
        {"dead-after-ms", required_argument, 0, 'D'},
        {"dashboard", required_argument, 0, 'W'},
        {"dashboard-token", no_argument, 0, 'K'},
        {"no-dashboard", no_argument, 0, 'N'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    lc_log_set_prog(PROG);
    while ((c = getopt_long(argc, argv, "f:b:p:P:SH:D:vh", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'f':
            o.file = optarg;
            break;
        case 'b':
            o.bind = optarg;
            break;
        case O_IFACE:
            iface = optarg;
            break;
        case 'p':
            if (opt_long(PROG, "--port", optarg, 1, 65535, &port))
                return 2;
            o.port = optarg;
            break;
        case 'P':
            o.provider = optarg;
            break;
        case 'S':
            o.no_shm = 1;
            break;
        case O_JOB:
            job = optarg;
            break;
        case 'H':
            if (opt_int(PROG, "--heartbeat-ms", optarg, 1, 3600000,
                        &o.heartbeat_ms))
                return 2;
            break;
        case 'D':
            if (opt_int(PROG, "--dead-after-ms", optarg, 1, 86400000,
                        &o.dead_after_ms))
                return 2;
            break;
        case 'W':
            o.dashboard = optarg;
            break;
        case 'K':
            o.dashboard_token = 1;
            break;
        case 'N':
            o.no_dashboard = 1;
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
    if (opt_sched_file(PROG, &o.file, optind, argc, argv)) {
        usage(stderr);
        return 2;
    }
    if (o.heartbeat_ms && o.dead_after_ms &&
        o.dead_after_ms <= o.heartbeat_ms) {
        fprintf(stderr,
                PROG ": --dead-after-ms %d must be longer than "
                     "--heartbeat-ms %d\n",
                o.dead_after_ms, o.heartbeat_ms);
        return 2;
    }
    if (lc_bind_resolve(o.bind, iface, bind, sizeof(bind)) != 0) {
        fprintf(stderr, PROG ": %s\n", locus_last_error());
        return 2;
    }
    o.bind = bind[0] ? bind : NULL;
    /* the file carries the job; schedfile_write takes it from here */
    if (job && setenv("LOCUS_JOB_ID", job, 1) != 0) {
        perror(PROG ": setenv");
        return 1;
    }
    if (file_in_use(o.file))
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = sched_run(&o, &stop);
    if (rc) {
        fprintf(stderr, PROG ": %s\n", locus_last_error());
        return 1;
    }
    return 0;
}
