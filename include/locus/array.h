/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus arrays: n-dimensional data on workers, HDF5 in and out.
 *
 * Three layers, each usable alone:
 *
 * 1. ndbuf, the self-describing data object.  Every array chunk, HDF5 load
 *    and array built-in result is one contiguous buffer:
 *
 *        offset  size  field
 *             0     4  magic 0x444e434c ("LCND" in little-endian memory)
 *             4     1  format version (1)
 *             5     1  dtype (enum locus_dtype)
 *             6     1  ndim (0..LOCUS_NDIM_MAX; 0 is a scalar, 1 element)
 *             7     1  byte order of header and data: 1 little, 2 big
 *             8     8  offset of the data (LOCUS_NDBUF_HEADER: 128)
 *            16     8  data bytes (product of shape * dtype size)
 *            24    64  shape[8], int64, unused entries 0
 *            88    40  reserved, 0
 *           128     -  the elements, C order, native types
 *
 *    The data starts 64-byte aligned relative to the buffer, so a buffer
 *    allocated 64-byte aligned has aligned data.  A task function reads an
 *    ndbuf argument with locus_task_arg_ndbuf and makes one with
 *    locus_task_result_ndbuf; a client reads a fetched value with
 *    locus_ndbuf_view.
 *
 * 2. HDF5 built-in tasks, run on workers: a task names (file, dataset,
 *    selection); no HDF5 handle ever crosses a process.  The client helpers
 *    below submit them; they can also be submitted by name:
 *
 *      locus.h5.load(file str, dataset str, [sel], [flags i64]) -> ndbuf
 *          sel: empty, or int64 start[ndim], count[ndim], stride[ndim]
 *          (a hyperslab, as H5Sselect_hyperslab with block 1).  Any
 *          integer (1, 2, 4, 8 bytes, signed or not) or float (4, 8 bytes)
 *          dataset type, either byte order, is read into the native type.
 *      locus.h5.store(x ndbuf, file str, dataset str, [offset], [flags])
 *          -> empty.  Without offset (or an empty one) the dataset is x:
 *          the file and dataset are created when missing (an existing
 *          dataset must have x's shape).  With offset (int64[ndim]) x is
 *          written into an existing dataset at that position.  Further
 *          arguments are ignored (the array code passes ordering tokens).
 *      locus.h5.create(file, dataset, dtype i64, shape int64[],
 *          chunks int64[] or empty, flags i64) -> empty
 *      locus.h5.info(file, dataset, [flags]) -> int64 [dtype, ndim,
 *          shape[ndim], chunk[ndim] (0s when not chunked)]
 *      locus.h5.shape(file, dataset, [flags]) -> int64 shape[ndim]
 *
 *    Failures carry a message naming the file and dataset and one of
 *    LOCUS_ENOENT (no file, no dataset), LOCUS_ERANGE (selection out of
 *    bounds), LOCUS_ENOTSUP (type or rank locus does not read), LOCUS_EINVAL
 *    (malformed arguments), LOCUS_EHDF5 (HDF5 failed: its own message is
 *    quoted), LOCUS_ENOMEM.  A failure never stops the worker.
 *
 *    The client helpers below (locus_h5_*, locus_array_from_hdf5,
 *    locus_array_from_files, locus_array_store_hdf5) make a relative file
 *    absolute against the client's working directory, as locus_require
 *    does: the workers run elsewhere.  A task submitted by name gets its
 *    file as given, resolved in the worker's working directory.
 *
 *    HDF5 calls of one worker are serialized with a mutex unless the HDF5
 *    library reports itself thread-safe (H5is_library_threadsafe) and
 *    $LOCUS_H5_SERIALIZE (in the workers' environment) is not 1.  Writes
 *    to one file from several tasks must not overlap in time: HDF5 has no
 *    concurrent writers; locus_array_store_hdf5 orders its chunk writes in
 *    a chain of tasks (each one opens, writes and closes the file), so the
 *    chunks are written where they live, one after another.
 *
 * 3. locus_array, the client's handle on a chunked n-dimensional array
 *    whose chunks are futures on workers (dask.array over locus).  The
 *    client knows its dtype, shape and chunk grid; operations only build a
 *    graph of tasks on the client (nothing runs) until locus_array_compute,
 *    _compute_f64, _persist, _store_hdf5 or _chunk_future is called, which
 *    submits every task not submitted yet.  A chunk's future is kept once
 *    submitted, so computing twice, or computing two arrays that share
 *    chunks, runs each task once; intermediate results are released after
 *    the computation that needed them.  Tasks run where their input chunks
 *    are (the scheduler sends the function to the data): reductions move
 *    only partial results.
 *
 * Lifetimes: a locus_array is made by one of the constructors or
 * operations, freed by locus_array_free, and must be freed before its
 * client is disconnected.  Arrays made from an array share its chunks and
 * stay valid after it is freed.  Calls may be made from any thread, but an
 * array must not be freed while another thread uses it.
 *
 * Errors: every call returns 0 or a negative LOCUS_E* code, with what
 * failed in locus_last_error(); arguments are checked here, at the API
 * edge, before anything is submitted.  When a chunk fails because a task
 * it depends on failed, the error reported is that task's (its code and
 * message, e.g. LOCUS_ENOENT from the load of a missing file).  Timeouts
 * are in milliseconds for the whole call; -1 means the client's default
 * timeout for each wait.
 */
#ifndef LOCUS_ARRAY_H
#define LOCUS_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "locus/client.h"
#include "locus/errors.h"
#include "locus/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the data object ----------------------------------------------------- */

#define LOCUS_NDIM_MAX 8
#define LOCUS_NDBUF_HEADER 128
#define LOCUS_NDBUF_MAGIC 0x444e434cu

typedef enum locus_dtype {
    LOCUS_INT8 = 1,
    LOCUS_UINT8,
    LOCUS_INT16,
    LOCUS_UINT16,
    LOCUS_INT32,
    LOCUS_UINT32,
    LOCUS_INT64,
    LOCUS_UINT64,
    LOCUS_FLOAT32,
    LOCUS_FLOAT64,
} locus_dtype;

/* What an ndbuf holds.  data points into the buffer it was read from. */
typedef struct locus_ndview {
    int dtype;
    int ndim;
    int64_t shape[LOCUS_NDIM_MAX];
    size_t itemsize;
    size_t nelems; /* product of shape (1 for ndim 0) */
    void *data;
} locus_ndview;

/* Bytes of one element (0 for an unknown dtype); name ("float64", "?"). */
LOCUS_EXPORT size_t locus_dtype_size(int dtype);
LOCUS_EXPORT const char *locus_dtype_name(int dtype);

/* Size in bytes of an ndbuf of that dtype and shape (header included), or
 * 0 when the arguments are invalid or the size overflows. */
LOCUS_EXPORT size_t locus_ndbuf_size(int dtype, int ndim, const int64_t *shape);

/* Write the header of an ndbuf into bytes (len >= locus_ndbuf_size) and
 * describe it in out (may be NULL).  The data is left as it was. */
LOCUS_EXPORT int locus_ndbuf_init(void *bytes, size_t len, int dtype, int ndim,
                                  const int64_t *shape, locus_ndview *out);

/* Check that bytes is a well-formed ndbuf of this host's byte order and
 * describe it.  LOCUS_EINVAL (with what is wrong) otherwise. */
LOCUS_EXPORT int locus_ndbuf_view(const void *bytes, size_t len,
                                  locus_ndview *out);

/* Element i (C order) converted to double. */
LOCUS_EXPORT double locus_ndview_get_f64(const locus_ndview *v, size_t i);

/* In a task function: argument i as an ndbuf.  On error the task is
 * failed with a message naming the argument, and the code is returned. */
LOCUS_EXPORT int locus_task_arg_ndbuf(locus_task *t, size_t i,
                                      locus_ndview *out);

/* In a task function: allocate the task's result as an ndbuf of dtype and
 * shape, for the function to fill through out->data.  On error the task is
 * failed (LOCUS_EINVAL, LOCUS_ENOMEM) and the code returned. */
LOCUS_EXPORT int locus_task_result_ndbuf(locus_task *t, int dtype, int ndim,
                                         const int64_t *shape,
                                         locus_ndview *out);

/* ---- HDF5 on workers ----------------------------------------------------- */

#define LOCUS_H5_NO_LOCKING                                                    \
    0x1u                       /* open files without HDF5 file locking         \
                                  (parallel file systems without flock;        \
                                  $HDF5_USE_FILE_LOCKING=FALSE works too) */
#define LOCUS_H5_TRUNCATE 0x2u /* store: replace the file if it exists */
#define LOCUS_H5_GZIP 0x4u     /* store: chunked, deflate level 6 */

/* A hyperslab: count[i] elements from start[i], every stride[i] (0 means
 * 1).  ndim must be the dataset's rank. */
typedef struct locus_h5_sel {
    int ndim;
    int64_t start[LOCUS_NDIM_MAX];
    int64_t count[LOCUS_NDIM_MAX];
    int64_t stride[LOCUS_NDIM_MAX];
} locus_h5_sel;

typedef struct locus_h5_info {
    int dtype;
    int ndim;
    int64_t shape[LOCUS_NDIM_MAX];
    int64_t chunk[LOCUS_NDIM_MAX]; /* 0s when the dataset is contiguous */
} locus_h5_info;

/* Submit locus.h5.load(file, dataset, sel, flags); sel may be NULL (the
 * whole dataset), opts may be NULL (anywhere). */
LOCUS_EXPORT int locus_h5_load(locus_client *c, const char *file,
                               const char *dataset, const locus_h5_sel *sel,
                               unsigned flags,
                               const struct locus_submit_opts *opts,
                               locus_future **out);

/* One open file must not be opened with and without LOCUS_H5_NO_LOCKING
 * at the same time in one worker: HDF5 refuses mismatched locking flags. */

/* Load dataset of each of files[0..n-1], spread over the workers (one
 * after another on workers interleaved by host and NUMA node; file i on
 * worker i mod nworkers).  out[i] receives file i's future.  Tasks that take
 * these futures then run on the worker that loaded them. */
LOCUS_EXPORT int locus_h5_load_files(locus_client *c, const char *const *files,
                                     size_t n, const char *dataset,
                                     unsigned flags, locus_future **out);

/* Ask a worker for the dtype, shape and chunking of a dataset. */
LOCUS_EXPORT int locus_h5_info_get(locus_client *c, const char *file,
                                   const char *dataset, unsigned flags,
                                   int timeout_ms, locus_h5_info *out);

/* ---- arrays -------------------------------------------------------------- */

typedef struct locus_array locus_array;

enum locus_reduce_op { LOCUS_SUM = 1, LOCUS_MEAN, LOCUS_MIN, LOCUS_MAX };

/* start:stop:step of one axis, with Python's meaning: negative start/stop
 * count from the end, out-of-range values are clipped, step may be
 * negative but not 0, LOCUS_NONE is an omitted start or stop. */
typedef struct locus_slice {
    int64_t start, stop, step;
} locus_slice;
#define LOCUS_NONE INT64_MIN

static inline locus_slice locus_slice_of(int64_t start, int64_t stop,
                                         int64_t step)
{
    locus_slice s = {start, stop, step};
    return s;
}
/* ":" */
static inline locus_slice locus_slice_all(void)
{
    return locus_slice_of(LOCUS_NONE, LOCUS_NONE, 1);
}

/*
 * Chunk sizes: chunks[i] is the size of the chunks along axis i (the last
 * one may be smaller); 0 or a negative value means one chunk along that
 * axis.  chunks == NULL: axis 0 split in about as many chunks as there are
 * workers, one chunk along every other axis.
 */

/* 0, 1, ..., n-1 as int64, chunks of chunk elements (dask's arange(n,
 * chunks=chunk)). */
LOCUS_EXPORT int locus_array_arange(locus_client *c, int64_t n, int64_t chunk,
                                    locus_array **out);

/* float64 samples of N(loc, scale^2), a pure function of (seed, element
 * index): the same seed gives the same array whatever the chunks. */
LOCUS_EXPORT int locus_array_random_normal(locus_client *c, uint64_t seed,
                                           double loc, double scale, int ndim,
                                           const int64_t *shape,
                                           const int64_t *chunks,
                                           locus_array **out);

/* One dataset split into chunks, each read by the worker that will own it
 * (chunks spread over workers interleaved by host and NUMA node, in
 * contiguous blocks).  Asks a worker for the dataset's shape and type
 * first (so a missing file or dataset fails here). */
LOCUS_EXPORT int locus_array_from_hdf5(locus_client *c, const char *file,
                                       const char *dataset,
                                       const int64_t *chunks, unsigned flags,
                                       locus_array **out);

/* One chunk per file (dataset of each file, loaded on worker i mod n as
 * locus_h5_load_files), concatenated along axis. */
LOCUS_EXPORT int locus_array_from_files(locus_client *c,
                                        const char *const *files, size_t n,
                                        const char *dataset, int axis,
                                        unsigned flags, locus_array **out);

/* One chunk per future (each an ndbuf, e.g. a locus.h5.load or a task of
 * the user's), concatenated along axis.  Their dtypes and shapes are asked
 * of the workers that hold them (the data does not move).  Takes a
 * reference on each future; the caller keeps its own. */
LOCUS_EXPORT int locus_array_from_futures(locus_client *c,
                                          locus_future *const *fs, size_t n,
                                          int axis, int timeout_ms,
                                          locus_array **out);

/* Join arrays of one client, dtype and ndim along axis; their other
 * dimensions must be equal.  Chunks are shared, not copied; where chunk
 * boundaries of the other axes differ, later arrays are rechunked to the
 * first one's boundaries. */
LOCUS_EXPORT int locus_array_concatenate(locus_array *const *arrays, size_t n,
                                         int axis, locus_array **out);

/* a[s[0], s[1], ..., s[n-1]] (axes past n are taken whole).  Each output
 * chunk is cut from one input chunk on the worker holding it; compute it to
 * bring just those elements to the client. */
LOCUS_EXPORT int locus_array_slice(locus_array *a, const locus_slice *s,
                                   size_t n, locus_array **out);

/* New chunk sizes (as chunks above). */
LOCUS_EXPORT int locus_array_rechunk(locus_array *a, const int64_t *chunks,
                                     locus_array **out);

/*
 * Element-wise map: fn(chunk ndbuf, args...) is run on each chunk, where
 * it lives; fn (from a task library, or a built-in) must return an ndbuf of
 * the chunk's shape and of dtype (0: a's dtype), which is checked when the
 * result is computed.  args (bytes, i64, f64 or futures) are copied.
 */
LOCUS_EXPORT int locus_array_map(locus_array *a, const char *fn,
                                 const locus_arg *args, size_t nargs, int dtype,
                                 locus_array **out);

/*
 * Reduce along axis (0..ndim-1; the result has one axis less) or all axes
 * (axis -1; the result is 0-d).  Each chunk is reduced where it lives; the
 * partial results are combined in a tree (fan-in 8).  Result dtype: SUM of
 * signed integers int64, of unsigned uint64, of floats float64; MEAN
 * float64; MIN and MAX keep the dtype (MIN/MAX of no element: EINVAL).
 * Integer sums wrap around on overflow; a NaN makes MIN/MAX NaN.
 */
LOCUS_EXPORT int locus_array_reduce(locus_array *a, int op, int axis,
                                    locus_array **out);

/* Run every task of a and wait; the chunks stay on the workers. */
LOCUS_EXPORT int locus_array_persist(locus_array *a, int timeout_ms);

/* Run the tasks of a, fetch its chunks and assemble them into one ndbuf:
 * *buf (malloc'd, free() it) of *len bytes; read it with locus_ndbuf_view. */
LOCUS_EXPORT int locus_array_compute(locus_array *a, int timeout_ms, void **buf,
                                     size_t *len);

/* Compute an array of one element (e.g. a full reduction) as a double. */
LOCUS_EXPORT int locus_array_compute_f64(locus_array *a, int timeout_ms,
                                         double *v);

/* Write a to dataset of file (created with a's dtype and shape; chunked
 * with a's chunk shape and compressed when flags has LOCUS_H5_GZIP; the
 * file replaced with LOCUS_H5_TRUNCATE, else it must not hold dataset
 * yet).  Each chunk is written by the worker holding it, one after
 * another.  Waits until the file is complete. */
LOCUS_EXPORT int locus_array_store_hdf5(locus_array *a, const char *file,
                                        const char *dataset, unsigned flags,
                                        int timeout_ms);

/* The future of chunk i (C order over the chunk grid), submitting its tasks
 * if needed: a new reference (locus_release it).  Send functions to it. */
LOCUS_EXPORT int locus_array_chunk_future(locus_array *a, size_t i,
                                          locus_future **out);

LOCUS_EXPORT int locus_array_ndim(const locus_array *a);
LOCUS_EXPORT int locus_array_dtype(const locus_array *a);
/* ndim entries; owned by a. */
LOCUS_EXPORT const int64_t *locus_array_shape(const locus_array *a);
LOCUS_EXPORT size_t locus_array_nchunks(const locus_array *a);
/* Chunk sizes along axis: *sizes (owned by a) has *n entries. */
LOCUS_EXPORT int locus_array_chunks(const locus_array *a, int axis,
                                    const int64_t **sizes, size_t *n);
/* dask-like summary, e.g. "locus_array<shape=(400, 100), dtype=float64,
 * chunks=((100, 100, 100, 100), (100)), tasks=4>"; returns what snprintf
 * returns. */
LOCUS_EXPORT int locus_array_describe(const locus_array *a, char *buf,
                                      size_t len);

/* NULL ok.  Futures held only by a are released. */
LOCUS_EXPORT void locus_array_free(locus_array *a);

#ifdef __cplusplus
}
#endif
#endif
