/* SPDX-License-Identifier: BSD-3-Clause */
/* Sample statistics of locus-bench and locus-pingpong. */
#include <stdlib.h>

#include "bench/stats.h"

int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median and 99th percentile of n samples (ns), in microseconds. */
void bench_percentiles(uint64_t *t, long n, double *med, double *p99)
{
    qsort(t, (size_t)n, sizeof(*t), bench_cmp_u64);
    *med = (double)t[n / 2] / 1e3;
    *p99 = (double)t[(n * 99) / 100] / 1e3;
}

long bench_warmup_of(long iters)
{
    long w = iters / 10;
    return w < 100 ? 100 : w > 2000 ? 2000 : w;
}
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
