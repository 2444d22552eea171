/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Task library of the locality tests: blocks with a checkable pattern, and
 * tasks that consume one or two of them.
 */
#include <stdint.h>
#include <string.h>

#include "locus.h"
#define LT_PATTERN_ONLY
#include "support/cluster.h"

/* make_block(n, seed) -> n pattern bytes */
int make_block(locus_task *t)
{
    int64_t n, seed;
    int rc = locus_task_arg_i64(t, 0, &n);
    if (!rc)
        rc = locus_task_arg_i64(t, 1, &seed);
    if (rc)
        return rc;
    if (n < 0 || n > (int64_t)1 << 34)
        return locus_task_fail(t, "make_block: bad size %lld", (long long)n);
    unsigned char *p = locus_task_result(t, (size_t)n);
    if (!p)
        return locus_task_fail(t, "make_block: out of memory for %lld bytes",
                               (long long)n);
    for (int64_t i = 0; i < n; i++)
        p[i] = lt_pattern(seed, (uint64_t)i);
    return 0;
}

static int64_t check(const unsigned char *p, size_t n, int64_t seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != lt_pattern(seed, i))
            return (int64_t)i;
    return -1;
}

/* check_block(block, seed) -> int64: -1 when every byte is right, else the
 * offset of the first wrong byte */
int check_block(locus_task *t)
{
    const void *p;
    size_t n;
    int64_t seed;
    int rc = locus_task_arg(t, 0, &p, &n);
    if (!rc)
        rc = locus_task_arg_i64(t, 1, &seed);
    return rc ? rc : locus_task_return_i64(t, check(p, n, seed));
}

/* check_two(a, seed_a, b, seed_b) -> int64: -1 when both are right */
int check_two(locus_task *t)
{
    const void *a, *b;
    size_t na, nb;
    int64_t sa, sb;
    int rc = locus_task_arg(t, 0, &a, &na);
    if (!rc)
        rc = locus_task_arg_i64(t, 1, &sa);
    if (!rc)
        rc = locus_task_arg(t, 2, &b, &nb);
    if (!rc)
        rc = locus_task_arg_i64(t, 3, &sb);
    if (rc)
        return rc;
    int64_t ea = check(a, na, sa), eb = check(b, nb, sb);
    return locus_task_return_i64(t, ea >= 0   ? ea
                                    : eb >= 0 ? (1ll << 40) + eb
                                              : -1);
}

/* length(x) -> int64 bytes; touches nothing (hand-off timing) */
int length(locus_task *t)
{
    const void *p;
    size_t n;
    int rc = locus_task_arg(t, 0, &p, &n);
    return rc ? rc : locus_task_return_i64(t, (int64_t)n);
}
