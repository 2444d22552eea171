/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus client API: connect to a cluster, submit functions, map them over
 * inputs, gather results, keep data on workers.
 *
 * Lifetimes and ownership
 * - locus_client: made by locus_connect, freed by locus_disconnect (which
 *   also releases, on the workers, everything this client still holds).
 * - locus_future: made by locus_submit / locus_map / locus_scatter /
 *   locus_run_on_all with one reference owned by the caller.  Futures are
 *   reference counted: locus_future_ref adds one, locus_release drops one;
 *   when the last reference goes, the task's result is freed on every worker
 *   that holds it.  A future must be released before its client is
 *   disconnected (locus_disconnect releases leftovers itself and warns).
 * - Result bytes returned by locus_result / locus_gather are owned by the
 *   future and valid until it is released.
 *
 * Option structs (locus_connect_opts, locus_submit_opts, and
 * locus_cluster_opts in cluster.h) start with size, set by their _INIT
 * macro to sizeof the struct of the caller's header.  The library takes any
 * size from its first version's (the end of its flags field) to its own:
 * fields a smaller struct lacks get their defaults.  A smaller or bigger
 * size is LOCUS_EINVAL.
 *
 * Threads: every call may be made from any thread.  A client runs one
 * progress thread of its own, which owns its fabric endpoints.
 *
 * Errors: every call returns 0 or a negative LOCUS_E* code;
 * locus_last_error() says what went wrong, and is "" after a call that
 * succeeded.  No call waits forever: calls
 * that wait take a timeout in milliseconds (-1 means "the client's default
 * timeout", never "forever").
 */
#ifndef LOCUS_CLIENT_H
#define LOCUS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "locus/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct locus_client locus_client;
typedef struct locus_future locus_future;

/* ---- connecting ------------------------------------------------------------
 */

struct locus_connect_opts {
    size_t size;          /* sizeof(struct locus_connect_opts) */
    int timeout_ms;       /* connect deadline and default for waits; 0: 30 s */
    const char *provider; /* net provider; NULL: the scheduler's */
    const char *bind;     /* local address for the net endpoint; NULL:
                             the address family of the scheduler's */
    unsigned flags;       /* LOCUS_CONNECT_* */
};
#define LOCUS_CONNECT_NO_SHM 0x1u /* never use the shm endpoint */
#define LOCUS_CONNECT_OPTS_INIT                                                \
    {                                                                          \
        sizeof(struct locus_connect_opts), 0, NULL, NULL, 0                    \
    }

/*
 * Connect to a scheduler.  target is the path of a scheduler file (written
 * by locus-scheduler / locus-cluster / locus_local_cluster_start); NULL means
 * $LOCUS_SCHEDULER_FILE.  The file carries the scheduler's addresses and the
 * cluster key; the client proves it knows the key before anything else.
 * opts may be NULL.  Errors: LOCUS_ENOENT (no file), LOCUS_EPROTO (file
 * malformed), LOCUS_EAUTH, LOCUS_ETIMEDOUT (scheduler not answering).
 */
LOCUS_EXPORT int locus_connect(const char *target,
                               const struct locus_connect_opts *opts,
                               locus_client **out);

/* Release what the client still holds, say goodbye, free the client. */
LOCUS_EXPORT int locus_disconnect(locus_client *c);

/*
 * Stop the whole cluster: the scheduler tells every worker to exit (their
 * nannies do not restart them), tells every client, this one included,
 * that it shut down, removes its scheduler file (or PMIx record) and
 * exits.  Returns 0 once the scheduler has acknowledged the request,
 * within timeout_ms; it exits soon after (within about a second, once
 * its last messages are acknowledged).  Every later call on a client of
 * this cluster fails with LOCUS_ECLOSED ("scheduler shut down: client N
 * ... stopped the cluster"); futures still pending fail the same way.
 * The cluster key in the scheduler file is the authority: any client may
 * stop its cluster.  Call locus_disconnect(c) afterwards to free c.
 * Errors: LOCUS_EINVAL (c NULL), LOCUS_ECLOSED (not connected, or the
 * scheduler went away before answering), LOCUS_ETIMEDOUT (no answer in
 * time: the scheduler may still stop).
 */
LOCUS_EXPORT int locus_shutdown(locus_client *c, int timeout_ms);

/*
 * Make every worker, and every worker that joins later, dlopen the task
 * library at path (which must be readable on the workers' hosts; a relative
 * path is made absolute on the client).  Functions of the library are then
 * called by name: built-ins ("locus.*") first, then the libraries in the
 * order they were required, the first that exports the name wins (give
 * task functions names that are unique across your libraries).  Errors:
 * LOCUS_ELIB naming each worker that could not load it and dlerror()'s
 * reason.
 */
LOCUS_EXPORT int locus_require(locus_client *c, const char *path,
                               int timeout_ms);

/* ---- arguments
 * ----------------------------------------------------------------- */

enum locus_arg_kind {
    LOCUS_ARG_BYTES = 1, /* data/len, copied at submit */
    LOCUS_ARG_I64,       /* v.i64, 8 bytes in host order */
    LOCUS_ARG_F64,       /* v.f64 */
    LOCUS_ARG_FUTURE,    /* the result of another task, wherever it is */
};

typedef struct locus_arg {
    int kind;
    const void *data;
    size_t len;
    locus_future *future;
    union {
        int64_t i64;
        double f64;
    } v;
} locus_arg;

static inline locus_arg locus_arg_bytes(const void *data, size_t len)
{
    locus_arg a = {LOCUS_ARG_BYTES, data, len, NULL, {0}};
    return a;
}
/* A C string with its terminating NUL.  NULL gives a BYTES argument of
 * no bytes (data NULL, len 0), not a crash. */
static inline locus_arg locus_arg_str(const char *s)
{
    size_t n = 0;
    if (!s)
        return locus_arg_bytes(NULL, 0);
    while (s[n])
        n++;
    return locus_arg_bytes(s, n + 1);
}
static inline locus_arg locus_arg_i64(int64_t v)
{
    locus_arg a = {LOCUS_ARG_I64, NULL, 8, NULL, {0}};
    a.v.i64 = v;
    return a;
}
static inline locus_arg locus_arg_f64(double v)
{
    locus_arg a = {LOCUS_ARG_F64, NULL, 8, NULL, {0}};
    a.v.f64 = v;
    return a;
}
static inline locus_arg locus_arg_future(locus_future *f)
{
    locus_arg a = {LOCUS_ARG_FUTURE, NULL, 0, f, {0}};
    return a;
}

/* ---- submitting
 * -------------------------------------------------------------------- */

struct locus_submit_opts {
    size_t size;        /* sizeof(struct locus_submit_opts) */
    const int *workers; /* run only on these worker ids (dask's workers=) */
    size_t nworkers;    /* 0: anywhere */
    int retries;        /* times to run it again when the worker running it
                           dies (its process crashed, or it vanished);
                           <0: default 3 */
    unsigned flags;     /* none defined yet; unknown bits: LOCUS_EINVAL */
};
#define LOCUS_SUBMIT_OPTS_INIT                                                 \
    {                                                                          \
        sizeof(struct locus_submit_opts), NULL, 0, -1, 0                       \
    }

/*
 * Submit fn(args...) and return its future at once.  fn names a function of
 * a library given to locus_require (or a built-in, "locus.*"), at most 255
 * bytes; a task takes at most 65535 arguments (both LOCUS_EINVAL beyond).
 * Future arguments are not fetched to the client: the task runs where its data
 * is. opts may be NULL.  Errors at submit: LOCUS_EINVAL (bad argument, a future
 * of another client), LOCUS_ECLOSED (not connected).  Errors of the task
 * itself arrive in the future.
 */
LOCUS_EXPORT int locus_submit(locus_client *c, const char *fn,
                              const locus_arg *args, size_t nargs,
                              const struct locus_submit_opts *opts,
                              locus_future **out);

/* One task fn(inputs[i]) per input; out[0..n-1] receive the futures.  On
 * error no future is returned. */
LOCUS_EXPORT int locus_map(locus_client *c, const char *fn,
                           const locus_arg *inputs, size_t n,
                           const struct locus_submit_opts *opts,
                           locus_future **out);

/* Put client data on workers (spread over them, or on opts->workers); each
 * out[i] is a finished future holding a copy of values[i]. */
LOCUS_EXPORT int locus_scatter(locus_client *c, const locus_arg *values,
                               size_t n, const struct locus_submit_opts *opts,
                               locus_future **out);

/*
 * Run fn(args...) once on every worker connected now (ipyparallel's
 * DirectView.apply_sync).  *out receives a malloc'd array of *n futures in
 * worker-id order (free() the array after releasing the futures), and
 * worker_ids, if not NULL, a malloc'd array of the matching worker ids.
 */
LOCUS_EXPORT int locus_run_on_all(locus_client *c, const char *fn,
                                  const locus_arg *args, size_t nargs,
                                  locus_future ***out, int **worker_ids,
                                  size_t *n);

/* ---- waiting and results
 * ------------------------------------------------------------ */

/*
 * Wait for f and give its value: *data (owned by the future) and *len.
 * Returns 0, the task's error (LOCUS_ETASK, LOCUS_ENOSYM, ... with the task's
 * message in locus_last_error()), LOCUS_EKILLED (the task took down the
 * worker processes that ran it, more times than its retries allow: the
 * message names the function, the processes and their signals or exit
 * statuses), LOCUS_ECLOSED (its worker vanished with its retries used up,
 * or the scheduler is gone), LOCUS_ECANCELED, or LOCUS_ETIMEDOUT.
 * data/len may be NULL (just wait).
 */
LOCUS_EXPORT int locus_result(locus_future *f, int timeout_ms,
                              const void **data, size_t *len);
/*
 * Same, for a value of exactly 8 bytes.  A future does not know the type of
 * its bytes except for values the client itself made: a locus_scatter of a
 * LOCUS_ARG_I64 / LOCUS_ARG_F64 argument.  Reading such a value with the
 * other type is LOCUS_EINVAL ("an 8-byte float, read it with
 * locus_result_f64"), not the bit pattern; a task's 8-byte result is
 * untyped and read as asked.  Values that are not 8 bytes: LOCUS_EINVAL.
 */
LOCUS_EXPORT int locus_result_i64(locus_future *f, int timeout_ms, int64_t *v);
LOCUS_EXPORT int locus_result_f64(locus_future *f, int timeout_ms, double *v);

typedef struct locus_value {
    const void *data; /* owned by the future */
    size_t len;
    int status; /* 0 or the future's error */
} locus_value;

/* Wait for all of fs (one deadline for all) and fill out[i].  Returns 0 when
 * all succeeded, else the first error, with a message naming its index. */
LOCUS_EXPORT int locus_gather(locus_future *const *fs, size_t n, int timeout_ms,
                              locus_value *out);

/* Wait until every future of fs is finished (done, failed or canceled). */
LOCUS_EXPORT int locus_wait(locus_future *const *fs, size_t n, int timeout_ms);

/*
 * As futures finish: returns in *index a future of fs that is finished and
 * whose seen[*index] is 0, then sets seen[*index] = 1.  seen[] (n bytes)
 * starts zeroed and belongs to the caller.  LOCUS_ENOENT when all are seen.
 */
LOCUS_EXPORT int locus_as_completed(locus_future *const *fs, size_t n,
                                    unsigned char *seen, int timeout_ms,
                                    size_t *index);

/* ---- futures
 * ---------------------------------------------------------------------------
 */

/*
 * Cancel: a pending task never runs; a running one is told (its function can
 * poll locus_task_canceled) and its result is dropped.  The future finishes
 * at once with LOCUS_ECANCELED.  Canceling a finished future: 0, no change.
 */
LOCUS_EXPORT int locus_cancel(locus_future *f);

/*
 * Drop one reference; the last frees the data on the workers and the future
 * itself, like free(): after it, f is a dangling pointer and passing it to
 * any locus call (or as a LOCUS_ARG_FUTURE) is undefined behaviour that the
 * library cannot detect.  Hold a reference of your own (locus_future_ref)
 * for as long as you use a future.  NULL ok.
 */
LOCUS_EXPORT void locus_release(locus_future *f);
/* Add a reference; returns f (which must hold a reference already). */
LOCUS_EXPORT locus_future *locus_future_ref(locus_future *f);

/* LOCUS_EAGAIN while pending, 0 when done, else the error. Never waits. */
LOCUS_EXPORT int locus_future_status(const locus_future *f);
/* The task's error message ("" if none); owned by the future. */
LOCUS_EXPORT const char *locus_future_error(const locus_future *f);
/* Key of the future ("task-<client>-<seq>"), for logs. */
LOCUS_EXPORT const char *locus_future_key(const locus_future *f);

/* Worker ids holding f's data (after it is done); *n set to the count. */
LOCUS_EXPORT int locus_who_has(locus_future *f, int *worker_ids, size_t max,
                               size_t *n);

/* ---- the cluster
 * ------------------------------------------------------------------------ */

typedef struct locus_worker_info {
    size_t size; /* set by locus_workers: the size of this struct it wrote */
    int id;
    int pid;
    char host[64];   /* host names are 63 bytes at most in locus */
    int numa_node;   /* logical NUMA node the worker is bound to */
    char cpuset[64]; /* "0-3" */
    int nthreads;
    int running; /* tasks running now */
    int queued;  /* tasks assigned, waiting for a thread */
    /* tasks the scheduler was told are done.  A task sent on a lease is
       reported in a batch: this count may trail its result by up to a
       millisecond (about LNET_LAZY_NS, runtime/net/lnet.h); one released
       before it was reported is not in it (tasks_unbooked) */
    uint64_t tasks_done;
    uint64_t bytes_held;     /* task results held in its memory */
    uint64_t bytes_reserved; /* its arena: shared-memory segments */
    /* bytes of inputs that reached its tasks from other workers, by path
       (a task's own worker's data counts nowhere: it does not move) */
    uint64_t bytes_mapped; /* same host: segment mapped, zero copies */
    uint64_t bytes_rma;    /* other host: fi_read of registered memory */
    uint64_t bytes_inline; /* small objects copied inside messages */
    uint64_t tasks_local;  /* tasks whose inputs were all here */
    uint64_t tasks_remote; /* tasks that fetched an input */
    /* since 0.3: how its tasks ran */
    uint64_t tasks_inline; /* on the thread that received them (short) */
    uint64_t tasks_direct; /* sent by their client on a lease, not by the
                              scheduler */
    /* since 0.4: of tasks_direct, those whose client released them before
       the scheduler was told of them: the scheduler never saw them (they
       are not in tasks_done, nor on the dashboard) */
    uint64_t tasks_unbooked;
} locus_worker_info;

/*
 * Workers connected now, with their counters (as of their last heartbeat,
 * at most ~0.5 s old).  *n gets the total (which may exceed max: count with
 * max 0, then allocate).
 *
 * locus_workers is a macro that passes sizeof(locus_worker_info) as this
 * header declares it: that size is the stride of out[], so a program built
 * against an older header, whose struct is smaller, gets the fields it
 * knows and nothing is written past its elements.  Every element written
 * has its size field set to that stride.  A size smaller than the first
 * version's (locus 0.2) or bigger than the library's struct: LOCUS_EINVAL.
 */
LOCUS_EXPORT int locus_workers_sized(locus_client *c, locus_worker_info *out,
                                     size_t size, size_t max, size_t *n);
#define locus_workers(c, out, max, n)                                          \
    locus_workers_sized((c), (out), sizeof(locus_worker_info), (max), (n))

#ifdef __cplusplus
}
#endif
#endif
