/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scheduler's dashboard (private): a data sink the scheduler feeds, read
 * by an HTTP server (pages, JSON, Prometheus /metrics) and a trace writer.
 *
 * Threads: the dash_* feeding calls are made by the scheduler's one thread
 * and never block on I/O: each takes one mutex for O(1) work with no
 * allocation (a new worker id may grow the worker table once); counters and
 * gauges are relaxed atomics, no lock.  The HTTP
 * server (libmicrohttpd, its own threads) and the trace writer (one thread)
 * copy what they need under the same mutex and format it outside it, so a
 * slow or hostile HTTP client never holds up the scheduler.
 *
 * Memory is bounded: the task stream is a ring of the last DASH_RING task
 * records; functions beyond DASH_MAXFN distinct names are counted under
 * "(other)".
 *
 * Every call accepts a NULL dash (no dashboard, no trace: nothing to do), so
 * the scheduler's call sites need no test.
 */
#ifndef LC_DASH_H
#define LC_DASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct dash dash;

struct dash_opts {
    size_t size;         /* sizeof(struct dash_opts) */
    const char *listen;  /* "ADDR:PORT", "[V6]:PORT"; NULL: 127.0.0.1:8787;
                            a taken port falls back to a free one */
    int http;            /* 0: no HTTP server (trace only) */
    int token_required;  /* require the token even on a loopback bind (a
                            non-loopback bind always requires it) */
    const char *trace;   /* Chrome trace-event file to write; NULL: none */
    int idle_timeout_s;  /* HTTP connections idle this long are closed; 0: 5
                            (the page polls every second) */
    int max_connections; /* 0: 256 */
};
#define DASH_OPTS_INIT                                                         \
    {                                                                          \
        sizeof(struct dash_opts), NULL, 1, 0, NULL, 0, 0                       \
    }

/* Start the HTTP server and the trace writer.  *out is NULL (and 0 is
 * returned) when there is nothing to do (no http, no trace).  Errors:
 * LOCUS_EINVAL (bad listen address), LOCUS_EIO (cannot bind, cannot create
 * the trace file), LOCUS_ENOMEM. */
int dash_open(const struct dash_opts *o, dash **out);
/* Stop the server, finish and close the trace file, free everything. */
void dash_close(dash *d);
/* "http://host:port/" (with "?token=..." when a token is required): the URL
 * that opens the dashboard; "" without HTTP. */
const char *dash_url(const dash *d);

/* ---- workers ----------------------------------------------------------------
 */
struct dash_worker {
    int id, pid, numa, nthreads;
    const char *host, *cpuset; /* copied (truncated to 63 bytes) */
    uint32_t running;          /* tasks running on its threads */
    uint32_t queued;           /* sent to it, not running yet */
    uint32_t sched_queued;     /* waiting in the scheduler for it */
    uint64_t tasks_done;
    uint64_t bytes_held, arena_reserved;
    uint64_t bytes_mapped, bytes_rma, bytes_inline; /* inputs in, by path */
    uint64_t tasks_local, tasks_remote;
    uint64_t last_heartbeat_ns; /* lc_now_ns() of its last heartbeat */
};
/* Add or refresh worker w->id (heartbeats, joins). */
void dash_worker_update(dash *d, const struct dash_worker *w);
void dash_worker_gone(dash *d, int id);

/* ---- tasks ------------------------------------------------------------------
 */
/* Where a task is, for progress per function. */
enum dash_state {
    DASH_T_NONE,    /* not known to the dashboard (before submit) */
    DASH_T_WAITING, /* submitted, inputs or a worker slot pending */
    DASH_T_RUNNING, /* sent to a worker */
    DASH_T_DONE,
    DASH_T_FAILED,
    DASH_NSTATES
};

struct dash_task_ev {
    const char *fn;       /* function name (copied, truncated to 63 bytes) */
    uint8_t from, to;     /* one task moves from -> to (enum dash_state);
                             from == to: no progress change */
    int worker;           /* worker id; <= 0: none */
    int thread;           /* thread index on the worker; -1: unknown */
    int status;           /* 0, or the LOCUS_E* code of a failure */
    uint64_t start_ns;    /* lc_now_ns() clock */
    uint64_t duration_ns; /* > 0 with a worker: a bar in the task stream */
    /* its future inputs' bytes by where they were when it was placed */
    uint64_t bytes_stayed;     /* on its own worker: nothing moved */
    uint64_t bytes_same_host;  /* another worker or client on its host */
    uint64_t bytes_other_host; /* another host */
    int src_worker; /* worker its largest moved input came from; <= 0: none
                       (the page draws the transfer) */
};
void dash_task_event(dash *d, const struct dash_task_ev *e);

/* ---- counters and gauges
 * ------------------------------------------------------- */
enum dash_counter {
    DASH_C_MESSAGES,      /* messages received */
    DASH_C_DROPPED,       /* malformed or unauthenticated messages dropped */
    DASH_C_MAC_FAILURES,  /* messages whose MAC did not verify */
    DASH_C_AUTH_FAILURES, /* handshakes refused (wrong cluster key) */
    DASH_C_STOLEN,        /* unstarted tasks moved to an idle worker */
    DASH_C_WORKER_DEATHS, /* worker processes that died (nanny reports) */
    DASH_NCOUNTERS
};
void dash_counter_add(dash *d, enum dash_counter c, uint64_t n);
/* For totals the caller already keeps: the counter becomes v. */
void dash_counter_set(dash *d, enum dash_counter c, uint64_t v);

enum dash_gauge {
    DASH_G_READY_QUEUE, /* ready tasks waiting for any worker with room */
    DASH_G_TASKS,       /* tasks the scheduler holds */
    DASH_G_CLIENTS,     /* clients connected */
    DASH_NGAUGES
};
void dash_gauge_set(dash *d, enum dash_gauge g, int64_t v);

#endif
