/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HDF5 load-and-sum benchmark (private), run by locus-bench --h5.
 */
#ifndef LC_BENCH_H5_H
#define LC_BENCH_H5_H

#include <stdint.h>
#include <stdio.h>

/*
 * On the cluster of sched_file: the workers write an int64 dataset of
 * $LOCUS_BENCH_H5_BYTES bytes (default 1 GiB) chunk by chunk into a file
 * under $LOCUS_BENCH_DIR (default $TMPDIR or /tmp; the workers must see
 * it), then it is loaded (each chunk by the worker that owns it) and summed
 * where it lives.  Prints times, the result's check, and the bytes that
 * moved between workers and to the client.  0 or a LOCUS_E* code.
 */
int bench_h5_sum(const char *sched_file, FILE *out);

/* The same for a dataset of about bytes bytes (at least 8). */
int bench_h5_sum_n(const char *sched_file, FILE *out, uint64_t bytes);

#endif
