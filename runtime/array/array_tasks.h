/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Array built-in tasks ("locus.array.*") run by workers (private): what the
 * client side (array*.c) and the tasks (array_tasks.c) agree on.  The
 * tasks register themselves (locus_task_register) in the worker programs
 * that link array_tasks.c.
 *
 *   locus.array.info(x) -> int64 [dtype, ndim, shape[ndim]]
 *   locus.array.arange(first i64, count i64) -> int64 [first, first+count)
 *   locus.array.random_normal(seed i64, loc f64, scale f64, shape int64[],
 *       offset int64[], count int64[]) -> float64 block [offset, +count) of
 *       an array of shape (element values depend on seed and the global
 *       index only)
 *   locus.array.slice(x, int64 start[nd], count[nd], step[nd]) -> ndbuf
 *   locus.array.assemble(int64 [dtype, ndim, shape[nd]],
 *       (piece, int64 src_start[nd], count[nd], dst_start[nd])...) -> ndbuf
 *       of that shape made of regions of the pieces (the rest zeros)
 *   locus.array.reduce(x, op i64, axis i64 (-1: all)) -> partial
 *   locus.array.combine(op i64, divisor f64 (0: none), pieces...) ->
 *       element-wise op of equal pieces, divided by divisor if not 0
 *   locus.array.check(x, fn str, dtype i64, shape i64...) -> int64 0, or
 *       LOCUS_EINVAL when x is not an ndbuf of that dtype and shape (the
 *       result of map function fn)
 */
#ifndef LC_ARRAY_TASKS_H
#define LC_ARRAY_TASKS_H

#include "array/ndbuf.h"

#define ARRAY_FN_CHECK "locus.array.check"

/* op codes of reduce and combine */
enum {
    ARR_OP_SUM = 1, /* int64 / uint64 / float64 sums */
    ARR_OP_SUMF,    /* float64 sums (for means) */
    ARR_OP_MIN,
    ARR_OP_MAX,
};

/* dtype of the partial result of op over dtype; 0 for an unknown op */
static inline int array_reduce_dtype(int op, int dtype)
{
    switch (op) {
    case ARR_OP_SUM:
        return ndbuf_is_float(dtype)    ? LOCUS_FLOAT64
               : ndbuf_is_signed(dtype) ? LOCUS_INT64
                                        : LOCUS_UINT64;
    case ARR_OP_SUMF:
        return LOCUS_FLOAT64;
    case ARR_OP_MIN:
    case ARR_OP_MAX:
        return dtype;
    default:
        return 0;
    }
}

#endif
