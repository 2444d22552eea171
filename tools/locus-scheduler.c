/* locus-scheduler: the scheduler daemon. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "sched/sched.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: locus-scheduler --scheduler-file PATH [options]\n"
            "\n"
            "Runs a locus scheduler.  Writes PATH (JSON, mode 0600: addresses,\n"
            "cluster key, job id) for workers and clients, removes it at exit.\n"
            "\n"
            "  --scheduler-file PATH  where to write the scheduler file\n"
            "  --bind ADDR            address of the net endpoint (default\n"
            "                         127.0.0.1: loopback unless told)\n"
            "  --port PORT            port (default: any free port)\n"
            "  --provider NAME        net provider (default $FI_PROVIDER or\n"
            "                         tcp;ofi_rxm; verbs;ofi_rxm on InfiniBand)\n"
            "  --no-shm               no shm endpoint for same-host peers\n"
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

int main(int argc, char **argv)
{
    struct sched_opts o;
    memset(&o, 0, sizeof(o));
    static const struct option longopts[] = {
        {"scheduler-file", required_argument, 0, 'f'},
        {"bind", required_argument, 0, 'b'},
        {"port", required_argument, 0, 'p'},
        {"provider", required_argument, 0, 'P'},
        {"no-shm", no_argument, 0, 'S'},
        {"heartbeat-ms", required_argument, 0, 'H'},
        {"dead-after-ms", required_argument, 0, 'D'},
        {"dashboard", required_argument, 0, 'W'},
        {"dashboard-token", no_argument, 0, 'K'},
        {"no-dashboard", no_argument, 0, 'N'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    lc_log_set_prog("locus-scheduler");
    while ((c = getopt_long(argc, argv, "f:b:p:P:SH:D:vh", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'f': o.file = optarg; break;
        case 'b': o.bind = optarg; break;
        case 'p': o.port = optarg; break;
        case 'P': o.provider = optarg; break;
        case 'S': o.no_shm = 1; break;
        case 'H': o.heartbeat_ms = atoi(optarg); break;
        case 'D': o.dead_after_ms = atoi(optarg); break;
        case 'W': o.dashboard = optarg; break;
        case 'K': o.dashboard_token = 1; break;
        case 'N': o.no_dashboard = 1; break;
        case 'v':
            if (!lc_log_enabled(LC_LOG_INFO))
                lc_log_set_level(LC_LOG_INFO);
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o.file || optind != argc) {
        usage(stderr);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = sched_run(&o, &stop);
    if (rc) {
        fprintf(stderr, "locus-scheduler: %s\n", locus_last_error());
        return 1;
    }
    return 0;
}
