/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Array internals (private): the task graph and the chunk grid that the
 * array files share with the HDF5-backed arrays (runtime/h5/h5array.c),
 * the benchmark and the tests.
 *
 *   array_graph.c     nodes: tasks not yet submitted, their arguments,
 *                     submitting, pruning, stats
 *   array_grid.c      arrays and chunk grids, metadata
 *   array_new.c       constructors (arange, random normal, futures)
 *   array_regrid.c    rechunk, concatenate
 *   array_slice.c     slicing
 *   array_mapreduce.c element-wise maps, reductions
 *   array_run.c       persist, compute, chunk futures
 *
 * An array is metadata (dtype, shape, chunk sizes per axis) plus one node
 * per chunk.  A node is a task not yet submitted: a function name and
 * arguments, some of which are other nodes; a leaf node wraps a future the
 * user gave.  Operations only make nodes (nothing is sent), sharing the
 * nodes of their inputs.  compute/persist/store walk the nodes, submit
 * those without a future (children first, so a task's inputs are futures),
 * and wait.  Submitted futures are kept in their nodes (computing twice
 * runs nothing twice); once a node's result exists its children are
 * dropped, which releases intermediate results on the workers unless
 * another array still holds them.  A failed node forgets its future, so a
 * later compute tries again.
 *
 * Placement is the scheduler's: a task goes where most of its input bytes
 * are.  Only leaves of HDF5 loads are pinned (to spread chunks over
 * workers); reductions combine partials in a tree whose groups follow the
 * expected location of the chunks.
 *
 * Nodes' reference counts are atomic; everything else in the graph that
 * changes after construction (futures, pruned arguments) changes under
 * array_mu, which is never held while waiting.
 */
#ifndef LC_ARRAY_INT_H
#define LC_ARRAY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "locus/array.h"

/*
 * What the last compute/persist/store of an array did, from the client's
 * view of its task graph: tasks that ran, inputs that were already on the
 * task's worker, and inputs (with their bytes) that another worker had to
 * send.  The scheduler places each task where most of its input bytes are,
 * so remote inputs are partial results; a chunk moving shows here.
 */
typedef struct array_stats {
    size_t tasks;
    size_t local_inputs;
    size_t remote_inputs;
    uint64_t remote_bytes;
    uint64_t client_bytes; /* fetched to the client */
} array_stats;

int array_last_stats(const locus_array *a, array_stats *out);

/* ---- nodes (array_graph.c) ----------------------------------------------- */

enum { AK_NONE, AK_BYTES, AK_I64, AK_F64, AK_NODE, AK_FUTURE };

typedef struct anode anode;

typedef struct aarg {
    int kind;
    void *bytes;
    size_t len;
    int64_t i64;
    double f64;
    anode *node;
    locus_future *fut;
} aarg;

struct anode {
    atomic_int refs;
    locus_client *c;
    char *fn; /* NULL: a leaf whose future was given */
    aarg *args;
    uint32_t nargs, cap;
    int oom;
    int worker; /* restriction, -1 none */
    int hint;   /* worker expected to hold the result, -1 unknown */
    locus_future *fut;
    uint64_t mark;
    int dtype, ndim;
    int64_t shape[LOCUS_NDIM_MAX];
    /* a map's chunk: its result is checked against dtype and shape by a
       locus.array.check task next to it (chk), once */
    int check;
    locus_future *chk;
    char *bad;   /* the check failed: why (sticky: the same function on the
                    same chunk returns the same wrong shape) */
    int tainted; /* a walk's memo: a bad map result lies below */
};

extern pthread_mutex_t array_mu;
extern uint64_t array_mark_gen; /* under array_mu: one per graph walk */

/* A node of task fn (NULL: a leaf) whose result has dtype, ndim, shape;
 * one reference.  NULL on no memory. */
anode *array_node_new(locus_client *c, const char *fn, int dtype, int ndim,
                      const int64_t *shape);
anode *array_node_ref(anode *n);
void array_node_unref(anode *n);
/* After the chunks of a finished: wait for the checks of the map results
 * below them; LOCUS_EINVAL naming the function and both shapes when one
 * returned the wrong dtype or shape.  Before array_finish (which drops the
 * nodes below a finished chunk). */
int array_check_maps(locus_array *a, int timeout_ms, uint64_t dl);
/* Append an argument.  A failure is remembered in the node, which
 * array_node_done then frees. */
void array_arg_bytes(anode *n, const void *p, size_t len);
void array_arg_str(anode *n, const char *s);
void array_arg_i64(anode *n, int64_t v);
void array_arg_f64(anode *n, double v);
void array_arg_node(anode *n, anode *child);
void array_arg_future(anode *n, locus_future *f);
/* n made with array_arg_* calls: NULL (and freed) if any of them failed */
anode *array_node_done(anode *n);
/* Under array_mu: submit n and every node it needs that has no future. */
int array_submit_node(anode *n);
/* Under array_mu, after a wait: a done node drops its children; a failed
 * one forgets its future (and so do its failed inputs). */
void array_prune(anode *n);
/* Wait (within timeout_ms) for the unfinished tasks below a failed n. */
void array_wait_failed(anode *n, int timeout_ms);
/* Under array_mu, once per array_mark_gen: count tasks and where their
 * inputs were. */
void array_walk_stats(anode *n, array_stats *st);

/* ---- arrays and chunk grids (array_grid.c) ------------------------------- */

struct locus_array {
    locus_client *c;
    int dtype, ndim;
    int64_t shape[LOCUS_NDIM_MAX];
    int64_t *csz[LOCUS_NDIM_MAX];  /* chunk sizes along each axis */
    int64_t *coff[LOCUS_NDIM_MAX]; /* their offsets (ncsz + 1 entries) */
    size_t ncsz[LOCUS_NDIM_MAX];
    size_t nchunks;
    anode **nodes; /* C order over the chunk grid */
    array_stats stats;
};

/* Sizes of chunks of at most chunk along an extent (one chunk when chunk
 * <= 0 or the extent is 0); *sizes is malloc'd. */
int array_grid_uniform(int64_t extent, int64_t chunk, int64_t **sizes,
                       size_t *n);
/* The uniform grid of chunks[] over shape (chunks NULL: axis 0 in
 * nparts). */
int array_grid_of(int ndim, const int64_t *shape, const int64_t *chunks,
                  size_t nparts, int64_t **sizes, size_t *nsizes);
/* An array with no nodes yet; takes ownership of sizes[i] (freed on
 * failure too). */
int array_make(locus_client *c, int dtype, int ndim, const int64_t *shape,
               int64_t **sizes, const size_t *nsizes, locus_array **out);
/* C-order coordinates of chunk idx, and back */
void array_grid_coords(const locus_array *a, size_t idx, size_t *co);
size_t array_grid_index(const locus_array *a, const size_t *co);
/* offset (if off) and shape of the chunk at co */
void array_chunk_geom(const locus_array *a, const size_t *co, int64_t *off,
                      int64_t *shape);
/* LOCUS_EINVAL naming what unless shape is a valid array shape */
int array_check_shape(int ndim, const int64_t *shape, const char *what);

/* ---- constructors (array_new.c) ------------------------------------------ */

/* LOCUS_EINVAL naming what if c or out is NULL; else *out = NULL, 0 */
int array_check_client(locus_client *c, locus_array **out, const char *what);
/* One array of one chunk per node (taking the nodes' references and
 * setting nodes[i] to NULL), concatenated along axis. */
int array_concat_nodes(locus_client *c, anode **nodes, size_t n, int axis,
                       locus_array **out);
/* Wait for futures of int64 info records; decode [dtype, ndim, shape]
 * (names[i], if names, says whose info it is in errors). */
int array_wait_infos(locus_future **fs, size_t n, int timeout_ms, int *dtype,
                     int *ndim, int64_t (*shape)[LOCUS_NDIM_MAX],
                     const char *const *names);

/* ---- running (array_run.c) ----------------------------------------------- */

/* Submit every chunk's tasks; futs[i] gets a reference to chunk i's. */
int array_submit_all(locus_array *a, locus_future **futs);
/* After waiting: record stats, drop what is no longer needed, release
 * futs[] and free it. */
void array_finish(locus_array *a, locus_future **futs, uint64_t client_bytes);
/* What is left of timeout_ms (-1: forever) at deadline dl. */
int array_left_ms(int timeout_ms, uint64_t dl);

#endif
