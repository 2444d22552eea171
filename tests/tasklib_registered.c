/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Task library of tests/test_task.c: its functions are static (no symbol
 * to find by dlsym) and registered by a table from a constructor, the way
 * the built-in modules register theirs.
 */
#include <stdint.h>
#include <string.h>

#include "locus.h"

/* reg.twice(x i64) -> 2x */
static int twice(locus_task *t)
{
    int64_t v;
    int rc = locus_task_arg_i64(t, 0, &v);
    return rc ? rc : locus_task_return_i64(t, 2 * v);
}

/* reg.name() -> the name the task was submitted with */
static int name(locus_task *t)
{
    const char *n = locus_task_name(t);
    return locus_task_return(t, n, strlen(n) + 1);
}

/* reg.range(i i64): fails with LOCUS_ERANGE naming i */
static int range(locus_task *t)
{
    int64_t i = -1;
    locus_task_arg_i64(t, 0, &i);
    return locus_task_fail_code(t, LOCUS_ERANGE, "index %lld out of range",
                                (long long)i);
}

static const locus_task_def defs[] = {
    {"reg.twice", twice},
    {"reg.name", name},
    {"reg.range", range},
};

/* what the worker saw: a clash with a built-in is refused */
static int clash_rc = 1;

static int clash_result(locus_task *t)
{
    return locus_task_return_i64(t, clash_rc);
}

__attribute__((constructor)) static void reg(void)
{
    static const locus_task_def clash[] = {{"locus.identity", twice}};
    static const locus_task_def more[] = {{"reg.clash_rc", clash_result}};
    locus_task_register(defs, sizeof(defs) / sizeof(defs[0]));
    clash_rc = locus_task_register(clash, 1);
    locus_task_register(more, 1);
}
