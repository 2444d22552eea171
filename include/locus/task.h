/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus task API: what a task function sees on the worker.
 *
 * A task library is a shared object loaded by every worker (locus_require);
 * it exports functions of type locus_task_fn, called by name.  Several task
 * threads run functions at once: a function must be thread-safe.
 *
 *     int add_one(locus_task *t)
 *     {
 *         int64_t d;
 *         int rc = locus_task_arg_i64(t, 0, &d);
 *         if (rc)
 *             return rc;
 *         return locus_task_return_i64(t, d + 1);
 *     }
 *
 * Return 0 on success; a non-zero return, or locus_task_fail(), makes the
 * client's future fail with the message.  Argument bytes are owned by the
 * worker and valid until the function returns.
 */
#ifndef LOCUS_TASK_H
#define LOCUS_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "locus/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct locus_task locus_task;
typedef int (*locus_task_fn)(locus_task *t);

/* The calls below that return a status or a pointer clear
 * locus_last_error() when they succeed and set it when they fail, like the
 * client's calls. */

LOCUS_EXPORT size_t locus_task_nargs(const locus_task *t);
/* The name the task was submitted with ("" if t is NULL); valid while the
 * function runs. */
LOCUS_EXPORT const char *locus_task_name(const locus_task *t);

/* Bytes of argument i (an inline value, or a future's data wherever it came
 * from).  LOCUS_ERANGE if i >= nargs. */
LOCUS_EXPORT int locus_task_arg(const locus_task *t, size_t i,
                                const void **data, size_t *len);
/* Argument i as an int64/double: LOCUS_EINVAL (with a message naming the
 * argument and its length) unless it is exactly 8 bytes. */
LOCUS_EXPORT int locus_task_arg_i64(const locus_task *t, size_t i, int64_t *v);
LOCUS_EXPORT int locus_task_arg_f64(const locus_task *t, size_t i, double *v);

/* Allocate the task's result of len bytes in the worker's memory and return
 * it for the function to fill; NULL if out of memory.  Calling it again
 * replaces the previous result. */
LOCUS_EXPORT void *locus_task_result(locus_task *t, size_t len);
/* Result helpers: copy bytes / an 8-byte value.  Return 0, LOCUS_EINVAL
 * (NULL data with len > 0), LOCUS_ENOMEM or LOCUS_ESTATE (not in a
 * worker). */
LOCUS_EXPORT int locus_task_return(locus_task *t, const void *data, size_t len);
LOCUS_EXPORT int locus_task_return_i64(locus_task *t, int64_t v);
LOCUS_EXPORT int locus_task_return_f64(locus_task *t, double v);

/* Fail the task with a message for the client; returns LOCUS_ETASK so that
 * a function can "return locus_task_fail(t, ...)". */
LOCUS_EXPORT int locus_task_fail(locus_task *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same with the code the client's future fails with (a negative
 * LOCUS_E* code, e.g. LOCUS_ERANGE for a bad index; anything else is
 * LOCUS_ETASK); returns that code. */
LOCUS_EXPORT int locus_task_fail_code(locus_task *t, int code, const char *fmt,
                                      ...)
    __attribute__((format(printf, 3, 4)));

/* Non-zero once the client canceled the task: a long function should poll
 * it and return early. */
LOCUS_EXPORT int locus_task_canceled(const locus_task *t);

/* Where the task runs: worker id, NUMA node (logical), thread index. */
LOCUS_EXPORT int locus_task_worker_id(const locus_task *t);
LOCUS_EXPORT int locus_task_numa_node(const locus_task *t);
LOCUS_EXPORT int locus_task_thread(const locus_task *t);

/*
 * Registering functions by name.
 *
 * A worker finds a task's function by name in one registry per worker
 * process, then among the symbols of its task libraries (dlsym).  A module
 * or a task library may register a table instead of exporting symbols:
 * names with dots ("mylib.solve"), static functions, no clash with other
 * libraries' symbols.  The built-in tasks ("locus.*", "locus.array.*",
 * "locus.h5.*") register this way, from a constructor; a task library does
 * the same:
 *
 *     static const locus_task_def defs[] = {{"mylib.solve", solve}, ...};
 *     __attribute__((constructor)) static void reg(void)
 *     {
 *         locus_task_register(defs, sizeof(defs) / sizeof(defs[0]));
 *     }
 *
 * The table is read, not copied: it must outlive the process (a static
 * table does).  Registering a name again with the same function does
 * nothing; with another function fails with LOCUS_EBUSY and registers none
 * of the table.  Thread-safe.  0, LOCUS_EINVAL (NULL table, name or
 * function), LOCUS_EBUSY or LOCUS_ENOMEM.
 */
typedef struct locus_task_def {
    const char *name;
    locus_task_fn fn;
} locus_task_def;

LOCUS_EXPORT int locus_task_register(const locus_task_def *defs, size_t n);

/* The function registered under name, or NULL (locus_last_error() says
   why: NULL name, or nothing registered under it). */
LOCUS_EXPORT locus_task_fn locus_task_lookup(const char *name);

#ifdef __cplusplus
}
#endif
#endif
