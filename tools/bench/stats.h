/* SPDX-License-Identifier: BSD-3-Clause */
/* Sample statistics of locus-bench and locus-pingpong (tools/bench/stats.c). */
#ifndef LC_BENCH_STATS_H
#define LC_BENCH_STATS_H

#include <stdint.h>

int bench_cmp_u64(const void *a, const void *b);
/* Median and 99th percentile of n > 0 samples (ns, sorted in place), in
 * microseconds. */
void bench_percentiles(uint64_t *t, long n, double *med, double *p99);
/* Warm-up iterations before iters timed ones. */
long bench_warmup_of(long iters);
/* Median of n > 0 figures (sorted in place): the middle one, or the mean
 * of the two middle ones when n is even. */
double bench_median(double *v, int n);

#endif
