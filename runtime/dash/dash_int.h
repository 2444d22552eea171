/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the dashboard: the state behind dash.h, shared by the sink
 * (dash.c), the HTTP server (dash_http.c), the JSON views (dash_json.c), the
 * Prometheus exposition (dash_metrics.c) and the trace writer
 * (dash_trace.c).  Everything in struct dash below `mu` is guarded by it,
 * but the counters and gauges (atomics).
 */
#ifndef LC_DASH_INT_H
#define LC_DASH_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "dash/dash.h"

#define DASH_RING (1u << 16) /* task records kept (a power of two) */
#define DASH_MAXFN 256       /* distinct function names; then "(other)" */
#define DASH_FN_LEN 64
#define DASH_FN_HASH 1024     /* open-addressing slots (> 2 x DASH_MAXFN) */
#define DASH_NBUCKETS 17      /* duration histogram: 1 us .. 100 s, x ~3 */
#define DASH_MAXWORKERS 65536 /* worker ids beyond are not shown */

extern const double dash_bucket_le[DASH_NBUCKETS]; /* seconds */

/* One finished task of the stream. */
typedef struct dash_rec {
    uint64_t start_ns, duration_ns;
    uint64_t bytes_stayed, bytes_same_host, bytes_other_host;
    int32_t worker, thread;
    int32_t src_worker;
    int32_t status;
    uint16_t fn;
} dash_rec;

typedef struct dash_fn {
    char name[DASH_FN_LEN];
    uint64_t n[DASH_NSTATES]; /* now waiting/running; ever done/failed */
    uint64_t submitted;
    uint64_t bytes_stayed, bytes_same_host, bytes_other_host;
    uint64_t hist[DASH_NBUCKETS + 1]; /* last: +Inf */
    double dur_sum_s;
    uint64_t dur_count;
} dash_fn;

typedef struct dash_wk {
    int used;
    int id, pid, numa, nthreads;
    char host[64], cpuset[64];
    uint32_t running, queued, sched_queued;
    uint64_t tasks_done, bytes_held, arena_reserved;
    uint64_t bytes_mapped, bytes_rma, bytes_inline;
    uint64_t tasks_local, tasks_remote;
    uint64_t last_heartbeat_ns;
    uint64_t bars; /* task records with this worker */
} dash_wk;

struct dash {
    struct dash_opts o;
    uint64_t t0_ns; /* lc_now_ns() at open: time 0 of the views */
    char url[512];  /* with the token when one is required */
    char token[65]; /* "" when none is required */
    int need_token;
    struct dash_http *http;
    struct dash_trace *trace;

    pthread_mutex_t mu;
    dash_fn fns[DASH_MAXFN + 1]; /* last: "(other)" */
    int nfn;
    int16_t fnhash[DASH_FN_HASH]; /* index into fns, -1 empty */
    dash_rec *ring;
    uint64_t nrec; /* records ever appended */
    dash_wk *wk;   /* indexed by worker id */
    int capwk;
    /* not under mu: relaxed atomics (one per message is too often for a
       lock) */
    _Atomic uint64_t counters[DASH_NCOUNTERS];
    _Atomic int64_t gauges[DASH_NGAUGES];
    uint64_t http_requests[4]; /* by status class: 2xx, 3xx, 4xx, 5xx */
    uint64_t trace_lost;
};

/* ---- a growable text buffer -------------------------------------------------
 */
typedef struct dbuf {
    char *p;
    size_t len, cap;
    int err;
} dbuf;
void dbuf_printf(dbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void dbuf_puts(dbuf *b, const char *s);
/* s as a JSON string, quotes included */
void dbuf_json_str(dbuf *b, const char *s);
/* s as a Prometheus label value (backslash, quote and newline escaped) */
void dbuf_label(dbuf *b, const char *s);

/* ---- snapshots: copies taken under mu, formatted outside it
 * --------------------- */
typedef struct dash_snap {
    double now_s; /* since t0 */
    uint64_t now_ns;
    int nfn;
    dash_fn *fns; /* nfn + 1 ((other) last) */
    int nwk;
    dash_wk *wk; /* used workers only */
    uint64_t counters[DASH_NCOUNTERS];
    int64_t gauges[DASH_NGAUGES];
    uint64_t http_requests[4];
    uint64_t nrec, trace_lost;
} dash_snap;
/* 0, or LOCUS_ENOMEM.  Free with dash_snap_free. */
int dash_snapshot(dash *d, dash_snap *s);
void dash_snap_free(dash_snap *s);

/* Copy records with sequence number >= since (at most max, the newest) into
 * out; *first gets the sequence number of out[0], returns the count. */
size_t dash_records(dash *d, uint64_t since, size_t max, dash_rec *out,
                    uint64_t *first, uint64_t *next);

/* ---- views
 * ------------------------------------------------------------------------ */
void dash_json_workers(dash *d, dbuf *b);
void dash_json_tasks(dash *d, dbuf *b, uint64_t since, double seconds,
                     size_t limit);
void dash_json_progress(dash *d, dbuf *b);
void dash_json_locality(dash *d, dbuf *b);
void dash_json_status(dash *d, dbuf *b);
void dash_metrics(dash *d, dbuf *b);

/* ---- the server and the trace writer
 * ------------------------------------------------- */
int dash_http_start(dash *d);
void dash_http_stop(dash *d);
int dash_trace_start(dash *d);
void dash_trace_stop(dash *d);

/* embedded page files (dash_page.c) */
typedef struct dash_file {
    const char *path, *type;
    const unsigned char *data;
    size_t len;
} dash_file;
/* 1 and *f filled when path names a page file ("/" is index.html) */
int dash_page_find(const char *path, dash_file *f);

#endif
