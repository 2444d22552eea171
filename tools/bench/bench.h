/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench's parts (private to the tool):
 *
 *   tools/locus-bench.c  the driver: options, order of the sections, exit
 *   common.c             notes, local clusters, CPU time of processes,
 *                        running a program for its output
 *   stats.c              sample statistics (shared with locus-pingpong)
 *   report.c             the --json document (shared with locus-pingpong)
 *   raw.c                raw transport figures: the xport peer process and
 *                        the parent's ping-pong and message rate
 *   tasks.c              task round trip and throughput, their tables
 *   data.c               data hand-off on one host, transfer across hosts
 *   netns.c              two hosts made of network namespaces, in C
 *   mac.c                the session MAC candidates
 *   bench_h5.c           HDF5 load-and-sum, beside h5py
 *   idle.c               CPU used by an idle cluster
 *
 * Every table is "# title", a header line and rows; every wait has a
 * deadline; ^C sets bench_stop, which every loop polls.  With --json the
 * tables go to stderr and each section adds its figures to bench_json
 * (report.h; NULL without --json).
 */
#ifndef LC_BENCH_H
#define LC_BENCH_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/report.h"
#include "bench/stats.h"
#include "locus.h"

#define RAW_MSG_BYTES 64      /* about one SUBMIT record of locus.noop */
#define XPORT_WINDOW 64       /* raw-rate messages in flight per ack */
#define TASK_TIMEOUT_MS 10000 /* one locus.noop round trip, at most */
#define CLUSTER_TIMEOUT_MS 30000
#define BENCH_MAX_RUNS 100 /* --runs */

/* ---- the driver (tools/locus-bench.c) ------------------------------------ */

struct bench_cfg {
    int latency, throughput; /* selected benchmarks */
    int handoff, transfer, h5;
    long iters;
    long tasks;
    const char *provider;
    int quick;
    int paths; /* bit 0: shm, bit 1: net */
    int mac;
    int runs;    /* repetitions of all sections but mac and idle */
    int idle;    /* the idle CPU section */
    long idle_s; /* its idle time */
};

extern struct bench_cfg bench_cfg;
extern json_object *bench_json;          /* the --json document's "sections" */
extern volatile sig_atomic_t bench_stop; /* ^C or SIGTERM */
extern int bench_tty;                    /* stderr is a terminal */

/* Stop what is running (cluster, peer) before an exit. */
void bench_cleanup(void);
/* Print the --json document, if any, with the exit status and error
 * (NULL: none); returns status. */
int bench_finish(int status, const char *error);

/* ---- common.c ------------------------------------------------------------ */

/* "locus-bench: ..." and a newline on stderr */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A local cluster and a client of it. */
struct clus {
    locus_cluster *lc;
    locus_client *c;
    int nworkers, nthreads, no_shm;
    char desc[256];
};

extern struct clus *bench_running; /* stopped on the way out */

int bench_clus_start(int nworkers, int nthreads, int no_shm, struct clus *k);
void bench_clus_stop(struct clus *k);

/* " (median over N runs)" when bench_cfg.runs > 1, else "" */
const char *bench_runs_note(void);
/* The object of section name in the --json document (NULL without
 * --json). */
json_object *bench_section(const char *name);

/* CPU time (user + system) of process pid so far, seconds, from
 * /proc/PID/stat; -1 when it cannot be read. */
double bench_cpu_of_pid(int pid);
/* The same for this process (getrusage), all its threads. */
double bench_cpu_of_self(void);
/* The children of pid (from /proc/<*>/stat); their number, at most max. */
int bench_children_of(int pid, int *out, int max);

/*
 * Run argv (searched on PATH) with stdin from /dev/null and stdout and
 * stderr into out (NUL-terminated, at most cap - 1 bytes kept), within
 * timeout_ms (then killed).  Returns its exit status (0..255), 128 +
 * signal, or -1 when it could not start or timed out (out says why).
 */
int bench_capture(char *const argv[], int timeout_ms, char *out, size_t cap);

/* ---- raw.c --------------------------------------------------------------- */

struct linebuf {
    int fd;
    size_t len;
    char buf[4096];
};

/* The peer process, seen from the parent. */
struct peer {
    pid_t pid;
    int wfd;
    struct linebuf in;
};

extern struct peer bench_peer;

struct raw {
    int ok;
    char err[512];
    char fabric[128], domain[128];
    long iters;
    double med, p99; /* round trip, us */
    double rate;     /* messages/s */
};

/* Spawn the peer ("locus-bench --xport-peer RFD WFD") before any fabric
 * object exists in this process. */
int bench_peer_spawn(struct peer *p);
void bench_peer_stop(struct peer *p);
/* main() of the peer process. */
int bench_peer_main(int rfd, int wfd);
/* Round trips and message rate of provider prov against the peer. */
void bench_raw_run(struct peer *p, const char *prov, long iters, long nmsgs,
                   struct raw *out);

/* ---- tasks.c ------------------------------------------------------------- */

struct lat {
    int ok;
    char err[512];
    double med, p99; /* us */
};

struct tput {
    int ok;
    char err[512];
    long n, done;
    double map_s, total_s, release_s, rate;
    /* the same map once more, right after, on the same cluster: what a
       long-lived cluster does once its memory is warm */
    double again_total_s, again_rate;
};

/* One configuration of a local cluster and what was measured on it: one
 * figure per run (bench_cfg.runs), and their medians. */
struct path {
    const char *label; /* "shm" or the net provider */
    int no_shm, nworkers;
    const char *raw_prov;
    struct raw *raws;      /* per run */
    struct lat *lats;      /* per run */
    struct tput *tputs;    /* per run */
    int nraw, nlat, ntput; /* runs made */
    struct raw raw;        /* medians over the runs; ok when every run was */
    struct lat lat;
    struct tput tput;
    char desc[256];
    int ran_lat, ran_tput;
};

void bench_task_latency(locus_client *c, long iters, struct lat *out);
void bench_task_throughput(locus_client *c, long n, struct tput *out);
/* Room for bench_cfg.runs runs in p; 0 or -1 (no memory). */
int bench_path_alloc(struct path *p);
void bench_path_free(struct path *p);
/* Run what is selected on one cluster configuration, as run number run
 * (exit 1 if the cluster does not start). */
void bench_run_path(struct path *p, int run, int do_lat, int do_tput);
void bench_run_raw(struct path *p, int run, long msgs);
/* p->raw, p->lat, p->tput: the medians of the runs made. */
void bench_path_medians(struct path *p);
/* The tables; 1 when a measurement failed. */
int bench_print_latency(FILE *o, struct path *ps, int np);
int bench_print_throughput(FILE *o, struct path *ps, int np);

/* ---- the other sections: print one table each, return 0 or 1 ------------- */

int bench_handoff(FILE *out);  /* data.c */
int bench_transfer(FILE *out); /* data.c */
int bench_mac(FILE *out);      /* mac.c */
int bench_h5(FILE *out);       /* bench_h5.c */
int bench_idle(FILE *out);     /* idle.c */

/* ---- bench_h5.c ---------------------------------------------------------- */

/*
 * On the cluster of sched_file: the workers write an int64 dataset of
 * $LOCUS_BENCH_H5_BYTES bytes (default 1 GiB) chunk by chunk into a file
 * under $LOCUS_BENCH_DIR (default $TMPDIR or /tmp; the workers must see
 * it), then it is loaded (each chunk by the worker that owns it) and summed
 * where it lives.  Prints times, the result's check, and the bytes that
 * moved between workers and to the client; bench_cfg.runs times, each
 * time beside one python3 process of h5py + numpy reading and summing the
 * same file (its sum checked against locus's; when h5py cannot be
 * imported, a line says the comparison was not made), and the medians.
 * The figures also go to js (NULL: none).  0 or a LOCUS_E* code.
 */
int bench_h5_sum(const char *sched_file, FILE *out, json_object *js);

/* The same for a dataset of about bytes bytes (at least 8). */
int bench_h5_sum_n(const char *sched_file, FILE *out, uint64_t bytes,
                   json_object *js);

#endif
