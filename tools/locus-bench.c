/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: runtime benchmarks in the manner of the OSU and fabtests
 * suites, each printed beside the raw transport (xport) figure for the same
 * provider, measured in the same run.  This file is the driver: options,
 * the order of the sections, the exit status; the sections are in
 * tools/bench/ (see bench.h).
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "bench/bench.h"
#include "bench/netns.h"
#include "locus.h"
#include "opts.h"

struct bench_cfg bench_cfg = {1, 1, 1, 1, 0, 10000, 1000000, "tcp;ofi_rxm",
                              0, 3, 1, 0, 1, 0};
volatile sig_atomic_t bench_stop;
int bench_tty;

static void on_signal(int sig)
{
    (void)sig;
    bench_stop = 1;
}

void bench_cleanup(void)
{
    if (bench_running)
        bench_clus_stop(bench_running);
    bench_peer_stop(&bench_peer);
}

static json_object *doc; /* the --json document; bench_json: its sections */

int bench_finish(int status, const char *error)
{
    if (!doc)
        return status;
    bench_jbool(doc, "ok", status == 0);
    bench_jbool(doc, "interrupted", bench_stop != 0);
    bench_jint(doc, "exit_status", status);
    bench_jstr(doc, "error", error);
    if (bench_report_print(doc, stdout)) {
        fprintf(stderr, "locus-bench: cannot write the JSON document\n");
        status = status ? status : 1;
    }
    doc = NULL;
    bench_json = NULL;
    return status;
}

static void usage(FILE *f)
{
    static const char *const lines[] = {
        "usage: locus-bench [options]",
        "",
        "Benchmarks of the locus runtime on local clusters, each beside the",
        "raw transport (libfabric through xport) figure for the same",
        "provider, measured in the same run:",
        "  latency     task round trip: locus_submit + locus_result of",
        "              locus.noop, one at a time, 1 worker x 1 thread, over",
        "              shm and over the net provider (median, p99, after a",
        "              warm-up); raw: tagged ping-pong between 2 processes",
        "  throughput  locus_map of N locus.noop, then wait; 1 and 2 workers",
        "              x 1 thread, shm and net; raw: tagged message rate",
        "  h5          HDF5 load-and-sum (bench_h5_sum, size from",
        "              $LOCUS_BENCH_H5_BYTES, default 1 GiB) beside one",
        "              python3 process of h5py + numpy summing the same file",
        "              ($LOCUS_BENCH_PYTHON, else python3 on PATH, else",
        "              /usr/bin/python3 where that one has h5py: Debian's",
        "              python3-h5py, which tools/run bench installs);",
        "              only when asked",
        "  handoff     worker B consumes an object made on worker A, same",
        "              host, 1 MiB..1 GiB: time and bytes moved by path",
        "  transfer    the same across two network namespaces (root), beside",
        "              fi_pingpong's bandwidth on the same link, same run",
        "  mac         the session MAC candidates, per message size",
        "  idle        CPU used by each process of an idle cluster (scheduler,",
        "              2 workers with their nannies, this client), % of one",
        "              core over --idle-seconds; target < 1% each",
        "",
        "  --only NAME     run only this one (latency, throughput, h5,",
        "                  handoff, transfer, mac, idle)",
        "  --iters N       round trips per path (default 10000)",
        "  --tasks N       tasks per throughput run (default 1000000)",
        "  --provider P    net provider (default tcp;ofi_rxm)",
        "  --path shm|net  only the shm path or only the net provider",
        "  --runs N        repeat latency, throughput, handoff, transfer and",
        "                  h5 N times (raw and locus in turn in each run) and",
        "                  report the median over runs of each figure",
        "                  (1..100; default 3, 1 with --quick)",
        "  --idle-seconds S  idle time of the idle section (1..3600; default",
        "                  30, 3 with --quick)",
        "  --quick         CI smoke: 1000 iterations, 10000 tasks, 1 run",
        "  --h5            also run the HDF5 load-and-sum section",
        "  --json          one JSON document with every figure on stdout (the",
        "                  tables go to stderr)",
        "  --help          this help",
        "",
        "Needs locus-scheduler and locus-worker ($LOCUS_BINDIR, else this",
        "program's directory, else where locus was built); LOCUS_KEEP_LOGS=1",
        "keeps the clusters' logs.  Every wait has a deadline; a throughput",
        "run in which no task finishes for 30 s stops as stalled.  Exit",
        "status: 0; 1 when a measurement failed or a cluster did not start;",
        "2 on bad usage; 130 when interrupted.",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        fprintf(f, "%s\n", lines[i]);
}

/* a number option in lo..hi, or exit 2 naming the option and the value */
static long parse_num(const char *s, const char *opt, long lo, long hi)
{
    long v;
    if (opt_long("locus-bench", opt, s, lo, hi, &v))
        exit(2);
    return v;
}

/* a count option: 1..1e8 */
static long parse_count(const char *s, const char *opt)
{
    return parse_num(s, opt, 1, 100000000L);
}

/* Use the scheduler and worker next to this program when there are some. */
static void default_bindir(void)
{
    char self[PATH_MAX], prog[PATH_MAX + 32];
    if (getenv("LOCUS_BINDIR"))
        return;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return;
    *slash = '\0';
    snprintf(prog, sizeof(prog), "%s/locus-worker", self);
    if (access(prog, X_OK) == 0)
        setenv("LOCUS_BINDIR", self, 0);
}

int main(int argc, char **argv)
{
    enum {
        OPT_ONLY = 1,
        OPT_ITERS,
        OPT_TASKS,
        OPT_PROV,
        OPT_QUICK,
        OPT_H5,
        OPT_PEER,
        OPT_PATH,
        OPT_RUNS,
        OPT_IDLE_S,
        OPT_JSON
    };
    static const struct option lopts[] = {
        {"only", required_argument, NULL, OPT_ONLY},
        {"iters", required_argument, NULL, OPT_ITERS},
        {"tasks", required_argument, NULL, OPT_TASKS},
        {"provider", required_argument, NULL, OPT_PROV},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"h5", no_argument, NULL, OPT_H5},
        {"path", required_argument, NULL, OPT_PATH},
        {"runs", required_argument, NULL, OPT_RUNS},
        {"idle-seconds", required_argument, NULL, OPT_IDLE_S},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {"xport-peer", no_argument, NULL, OPT_PEER},
        {NULL, 0, NULL, 0}};
    /* before getopt: the command after it has options of its own */
    if (argc > 1 && !strcmp(argv[1], "--netns-exec"))
        return bench_netns_exec_main(argc - 2, argv + 2);
    long iters = 0, tasks = 0, runs = 0, idle_s = 0;
    int opt, peer = 0, json = 0;
    const char *only = NULL;
    while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (opt) {
        case OPT_ONLY:
            only = optarg;
            break;
        case OPT_ITERS:
            iters = parse_count(optarg, "--iters");
            break;
        case OPT_TASKS:
            tasks = parse_count(optarg, "--tasks");
            break;
        case OPT_PROV:
            bench_cfg.provider = optarg;
            break;
        case OPT_QUICK:
            bench_cfg.quick = 1;
            break;
        case OPT_H5:
            bench_cfg.h5 = 1;
            break;
        case OPT_PATH:
            if (!strcmp(optarg, "shm") || !strcmp(optarg, "net")) {
                bench_cfg.paths = !strcmp(optarg, "shm") ? 1 : 2;
                break;
            }
            fprintf(stderr, "locus-bench: --path takes shm or net, not '%s'\n",
                    optarg);
            return 2;
        case OPT_RUNS:
            runs = parse_num(optarg, "--runs", 1, BENCH_MAX_RUNS);
            break;
        case OPT_IDLE_S:
            idle_s = parse_num(optarg, "--idle-seconds", 1, 3600);
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_PEER:
            peer = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (peer) {
        int rfd, wfd;
        if (argc - optind != 2 ||
            opt_int("locus-bench", "--xport-peer RFD", argv[optind], 0, INT_MAX,
                    &rfd) ||
            opt_int("locus-bench", "--xport-peer WFD", argv[optind + 1], 0,
                    INT_MAX, &wfd))
            return 2;
        return bench_peer_main(rfd, wfd);
    }

    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    bench_cfg.runs = bench_cfg.quick ? 1 : 3;
    bench_cfg.idle_s = bench_cfg.quick ? 3 : 30;
    if (bench_cfg.quick) {
        bench_cfg.iters = 1000;
        bench_cfg.tasks = 10000;
    }
    if (iters)
        bench_cfg.iters = iters;
    if (tasks)
        bench_cfg.tasks = tasks;
    if (runs)
        bench_cfg.runs = (int)runs;
    if (idle_s)
        bench_cfg.idle_s = idle_s;
    if (only) {
        bench_cfg.latency = !strcmp(only, "latency");
        bench_cfg.throughput = !strcmp(only, "throughput");
        bench_cfg.handoff = !strcmp(only, "handoff");
        bench_cfg.transfer = !strcmp(only, "transfer");
        bench_cfg.h5 = bench_cfg.h5 || !strcmp(only, "h5");
        bench_cfg.mac = !strcmp(only, "mac");
        bench_cfg.idle = !strcmp(only, "idle");
        if (!bench_cfg.latency && !bench_cfg.throughput && !bench_cfg.handoff &&
            !bench_cfg.transfer && !bench_cfg.mac && !bench_cfg.idle &&
            strcmp(only, "h5")) {
            fprintf(stderr,
                    "locus-bench: --only takes latency, throughput, handoff, "
                    "transfer, mac, idle or h5, not '%s'\n",
                    only);
            return 2;
        }
    }

    lc_log_set_prog("locus-bench");
    bench_tty = isatty(2);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    default_bindir();

    int need_raw = bench_cfg.latency || bench_cfg.throughput;
    if (need_raw) {
        int rc = bench_peer_spawn(&bench_peer);
        if (rc) {
            fprintf(stderr, "locus-bench: cannot start the xport peer: %s\n",
                    locus_last_error());
            return 1;
        }
    }

    /* with --json, stdout is the document's alone */
    FILE *out = json ? stderr : stdout;
    if (json) {
        doc = bench_report_new("locus-bench", bench_cfg.provider);
        if (!doc) {
            fprintf(stderr, "locus-bench: no memory for the JSON document\n");
            bench_cleanup();
            return 1;
        }
        bench_jint(doc, "iterations", bench_cfg.iters);
        bench_jint(doc, "tasks", bench_cfg.tasks);
        bench_jint(doc, "runs", bench_cfg.runs);
        bench_jint(doc, "idle_seconds", bench_cfg.idle_s);
        bench_jbool(doc, "quick", bench_cfg.quick);
        bench_jstr(doc, "paths",
                   bench_cfg.paths == 3   ? "shm,net"
                   : bench_cfg.paths == 1 ? "shm"
                                          : "net");
        bench_json = bench_jobj(doc, "sections");
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    time_t now = time(NULL);
    char when[64], runs_note[64] = "";
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
    if (bench_cfg.runs > 1 &&
        (bench_cfg.latency || bench_cfg.throughput || bench_cfg.handoff ||
         bench_cfg.transfer || bench_cfg.h5))
        snprintf(runs_note, sizeof(runs_note),
                 "; all but mac and idle: median of %d runs", bench_cfg.runs);
    fprintf(out, "# locus-bench %s on %s (%ld cores), %s; net provider %s%s\n",
            locus_version(), lc_hostname(), cores, when, bench_cfg.provider,
            runs_note);
    fflush(out);

    /* raw msgs for the rate: ~ as many as the round trips, at least 64k */
    long raw_msgs = bench_cfg.iters * 20 < 65536 ? 65536 : bench_cfg.iters * 20;
    static struct path ps[4];
    const char *labels[4] = {"shm", bench_cfg.provider, "shm",
                             bench_cfg.provider};
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        ps[i].label = ps[i].raw_prov = labels[i];
        ps[i].no_shm = i % 2;
        ps[i].nworkers = i < 2 ? 1 : 2;
        if (bench_path_alloc(&ps[i])) {
            fprintf(stderr, "locus-bench: no memory for %d runs\n",
                    bench_cfg.runs);
            bench_cleanup();
            return bench_finish(1, "no memory");
        }
    }
    if (need_raw) {
        /* run after run, each path's raw figure just before its locus
           figures, so that both see the same state of the machine */
        for (int r = 0; r < bench_cfg.runs && !bench_stop; r++) {
            for (int i = 0; i < 4 && !bench_stop; i++) {
                if (!(bench_cfg.paths & (1 << ps[i].no_shm)))
                    continue;
                if (i < 2) {
                    bench_run_raw(&ps[i], r, raw_msgs);
                    bench_run_path(&ps[i], r, bench_cfg.latency,
                                   bench_cfg.throughput);
                } else if (bench_cfg.throughput) {
                    bench_run_path(&ps[i], r, 0, 1);
                }
            }
        }
        bench_peer_stop(&bench_peer);
        for (int i = 0; i < 4; i++)
            bench_path_medians(&ps[i]);
        if (bench_cfg.latency)
            bad |= bench_print_latency(out, ps, 4);
        if (bench_cfg.throughput)
            bad |= bench_print_throughput(out, ps, 4);
    }
    for (int i = 0; i < 4; i++)
        bench_path_free(&ps[i]);
    if (bench_cfg.handoff && !bench_stop)
        bad |= bench_handoff(out) != 0;
    if (bench_cfg.transfer && !bench_stop)
        bad |= bench_transfer(out) != 0;
    if (bench_cfg.h5 && !bench_stop)
        bad |= bench_h5(out) != 0;
    if (bench_cfg.mac && !bench_stop)
        bad |= bench_mac(out) != 0;
    if (bench_cfg.idle && !bench_stop)
        bad |= bench_idle(out) != 0;
    bench_cleanup();
    if (bench_stop) {
        fprintf(stderr, "locus-bench: interrupted\n");
        return bench_finish(130, "interrupted");
    }
    return bench_finish(bad ? 1 : 0,
                        bad ? "a measurement failed (see the tables)" : NULL);
}
