/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The task API (include/locus/task.h) and the built-in task functions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array/array_tasks.h"
#include "base/base.h"
#include "h5/h5tasks.h"
#include "worker/worker.h"

size_t locus_task_nargs(const locus_task *t)
{
    return t ? t->nargs : 0;
}

int locus_task_arg(const locus_task *t, size_t i, const void **data,
                   size_t *len)
{
    if (!t || !data || !len)
        return lc_seterr(LOCUS_EINVAL, "task",
                         "locus_task_arg: NULL "
                         "argument");
    if (i >= t->nargs)
        return lc_seterr(LOCUS_ERANGE, "task",
                         "%s: argument %zu asked, the "
                         "task has %u",
                         t->fn_name, i, t->nargs);
    *data = t->args[i].p;
    *len = t->args[i].len;
    return 0;
}

static int arg8(const locus_task *t, size_t i, void *v)
{
    const void *p;
    size_t n;
    int rc = locus_task_arg(t, i, &p, &n);
    if (rc)
        return rc;
    if (n != 8)
        return lc_seterr(LOCUS_EINVAL, "task",
                         "%s: argument %zu has %zu "
                         "bytes, expected an 8-byte number",
                         t->fn_name, i, n);
    memcpy(v, p, 8);
    return 0;
}

int locus_task_arg_i64(const locus_task *t, size_t i, int64_t *v)
{
    return arg8(t, i, v);
}

int locus_task_arg_f64(const locus_task *t, size_t i, double *v)
{
    return arg8(t, i, v);
}

void *locus_task_result(locus_task *t, size_t len)
{
    if (!t)
        return NULL;
    if (t->result)
        worker_free(t->w, t->result);
    t->result = worker_alloc(t->w, len);
    t->rlen = t->result ? len : 0;
    return t->result;
}

int locus_task_return(locus_task *t, const void *data, size_t len)
{
    void *p = locus_task_result(t, len);
    if (!p)
        return lc_seterr(LOCUS_ENOMEM, "task",
                         "no memory for a result of "
                         "%zu bytes",
                         len);
    if (len)
        memcpy(p, data, len);
    return 0;
}

int locus_task_return_i64(locus_task *t, int64_t v)
{
    return locus_task_return(t, &v, sizeof(v));
}

int locus_task_return_f64(locus_task *t, double v)
{
    return locus_task_return(t, &v, sizeof(v));
}

int locus_task_fail(locus_task *t, const char *fmt, ...)
{
    if (!t)
        return LOCUS_ETASK;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt ? fmt : "failed", ap);
    va_end(ap);
    free(t->errmsg);
    t->errmsg = strdup(msg);
    t->status = LOCUS_ETASK;
    return LOCUS_ETASK;
}

int locus_task_canceled(const locus_task *t)
{
    return t ? atomic_load(&((locus_task *)t)->canceled) : 0;
}

int locus_task_worker_id(const locus_task *t)
{
    return t ? worker_id_of(t->w) : -1;
}

int locus_task_numa_node(const locus_task *t)
{
    return t ? worker_node_of(t->w) : -1;
}

int locus_task_thread(const locus_task *t)
{
    return t ? t->thread : -1;
}

/* ---- built-ins
 * --------------------------------------------------------------- */

/* locus.identity(x) -> x: what scatter uses to place data on a worker */
static int b_identity(locus_task *t)
{
    const void *p;
    size_t n;
    int rc = locus_task_arg(t, 0, &p, &n);
    return rc ? rc : locus_task_return(t, p, n);
}

/* locus.nbytes(x) -> int64 length of x */
static int b_nbytes(locus_task *t)
{
    const void *p;
    size_t n;
    int rc = locus_task_arg(t, 0, &p, &n);
    return rc ? rc : locus_task_return_i64(t, (int64_t)n);
}

/* locus.pid() -> int64 pid of the worker */
static int b_pid(locus_task *t)
{
    return locus_task_return_i64(t, (int64_t)getpid());
}

/* locus.noop() -> empty: for latency measurements */
static int b_noop(locus_task *t)
{
    (void)t;
    return 0;
}

/* locus.sleep(seconds f64): sleeps in slices, returns early if canceled */
static int b_sleep(locus_task *t)
{
    double s;
    int rc = locus_task_arg_f64(t, 0, &s);
    if (rc)
        return rc;
    uint64_t end = lc_now_ns() + (uint64_t)(s * 1e9);
    while (lc_now_ns() < end) {
        if (locus_task_canceled(t))
            return locus_task_fail(t, "canceled while sleeping");
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* locus.fail(msg): fails with msg (tests of error paths) */
static int b_fail(locus_task *t)
{
    const void *p;
    size_t n;
    if (locus_task_arg(t, 0, &p, &n) == 0)
        return locus_task_fail(t, "%.*s", (int)n, (const char *)p);
    return locus_task_fail(t, "locus.fail called");
}

static const struct {
    const char *name;
    locus_task_fn fn;
} builtins[] = {
    {"locus.identity", b_identity}, {"locus.nbytes", b_nbytes},
    {"locus.pid", b_pid},           {"locus.noop", b_noop},
    {"locus.sleep", b_sleep},       {"locus.fail", b_fail},
};

locus_task_fn worker_builtin(const char *name)
{
    if (strncmp(name, "locus.", 6) != 0)
        return NULL;
    if (strncmp(name, "locus.h5.", 9) == 0)
        return h5_builtin(name);
    if (strncmp(name, "locus.array.", 12) == 0)
        return array_builtin(name);
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (!strcmp(builtins[i].name, name))
            return builtins[i].fn;
    return NULL;
}
