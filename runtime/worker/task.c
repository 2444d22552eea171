/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The task API (include/locus/task.h): what a task function sees, the
 * registry of functions by name, and the core built-ins ("locus.*").
 * Modules (arrays, HDF5) register their built-ins themselves
 * (locus_task_register): the core knows none of them.
 *
 * liblocus.so carries this file too (task libraries may link it) but no
 * worker: there the worker's four entry points below stay unresolved.
 * They are weak and hidden, so the library links without them and never
 * exports a reference; in a worker, whose definitions are linked in, they
 * are ordinary calls.  A task only exists in a worker, and a task library
 * loaded there binds locus_task_* to the worker's own copies, so the
 * library's are only reached with no task (t NULL) or by mistake, and then
 * fail instead of crashing.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "base/map.h"
#include "worker/worker.h"

extern void *worker_alloc(struct worker *w, size_t len)
    __attribute__((weak, visibility("hidden")));
extern void worker_free(struct worker *w, void *p)
    __attribute__((weak, visibility("hidden")));
extern int worker_id_of(const struct worker *w)
    __attribute__((weak, visibility("hidden")));
extern int worker_node_of(const struct worker *w)
    __attribute__((weak, visibility("hidden")));

size_t locus_task_nargs(const locus_task *t)
{
    return t ? t->nargs : 0;
}

const char *locus_task_name(const locus_task *t)
{
    return t ? t->fn_name : "";
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
    lc_clearerr();
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
    return 0; /* locus_task_arg cleared the message */
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
    if (!t || !worker_alloc) {
        lc_seterr(LOCUS_ESTATE, "task", "locus_task_result: %s",
                  t ? "not in a worker" : "NULL task");
        return NULL;
    }
    if (t->result)
        worker_free(t->w, t->result);
    t->result = worker_alloc(t->w, len);
    t->rlen = t->result ? len : 0;
    if (t->result)
        lc_clearerr();
    else
        lc_seterr(LOCUS_ENOMEM, "task",
                  "%s: no memory for a result of %zu bytes", t->fn_name, len);
    return t->result;
}

int locus_task_return(locus_task *t, const void *data, size_t len)
{
    if (len && !data)
        return lc_seterr(LOCUS_EINVAL, "task",
                         "locus_task_return: NULL data of %zu bytes", len);
    void *p = locus_task_result(t, len);
    if (!p) /* locus_task_result said why */
        return t && worker_alloc ? LOCUS_ENOMEM : LOCUS_ESTATE;
    if (len)
        memcpy(p, data, len);
    return 0; /* locus_task_result cleared the message */
}

int locus_task_return_i64(locus_task *t, int64_t v)
{
    return locus_task_return(t, &v, sizeof(v));
}

int locus_task_return_f64(locus_task *t, double v)
{
    return locus_task_return(t, &v, sizeof(v));
}

static int task_vfail(locus_task *t, int code, const char *fmt, va_list ap)
{
    if (code >= 0 || code <= LOCUS_ERRNO_LAST)
        code = LOCUS_ETASK;
    if (!t)
        return code;
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt ? fmt : "failed", ap);
    free(t->errmsg);
    t->errmsg = strdup(msg);
    t->status = code;
    return code;
}

int locus_task_fail(locus_task *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = task_vfail(t, LOCUS_ETASK, fmt, ap);
    va_end(ap);
    return rc;
}

int locus_task_fail_code(locus_task *t, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = task_vfail(t, code, fmt, ap);
    va_end(ap);
    return rc;
}

int locus_task_canceled(const locus_task *t)
{
    return t ? atomic_load(&((locus_task *)t)->canceled) : 0;
}

int locus_task_worker_id(const locus_task *t)
{
    return t && worker_id_of ? worker_id_of(t->w) : -1;
}

int locus_task_numa_node(const locus_task *t)
{
    return t && worker_node_of ? worker_node_of(t->w) : -1;
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

static const locus_task_def core_defs[] = {
    {"locus.identity", b_identity}, {"locus.nbytes", b_nbytes},
    {"locus.pid", b_pid},           {"locus.noop", b_noop},
    {"locus.sleep", b_sleep},       {"locus.fail", b_fail},
};

/* ---- the registry
 * -------------------------------------------------------------- */

/* name hash -> chain of entries (a collision of 64-bit hashes chains) */
typedef struct regent {
    const locus_task_def *def;
    struct regent *next;
} regent;

static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static lc_map reg_map;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
    return h % (UINT64_MAX - 2); /* lc_map keys stay below UINT64_MAX - 1 */
}

/* under reg_lock */
static const locus_task_def *reg_find(const char *name)
{
    for (regent *e = lc_map_get(&reg_map, name_hash(name)); e; e = e->next)
        if (!strcmp(e->def->name, name))
            return e->def;
    return NULL;
}

static int reg_add(const locus_task_def *defs, size_t n)
{
    if (!defs && n)
        return lc_seterr(LOCUS_EINVAL, "task",
                         "locus_task_register: NULL table");
    for (size_t i = 0; i < n; i++)
        if (!defs[i].name || !*defs[i].name || !defs[i].fn)
            return lc_seterr(LOCUS_EINVAL, "task",
                             "locus_task_register: entry %zu has %s", i,
                             defs[i].fn ? "no name" : "no function");
    int rc = 0;
    pthread_rwlock_wrlock(&reg_lock);
    /* all or nothing: every clash is found before anything is added */
    for (size_t i = 0; i < n && !rc; i++) {
        const locus_task_def *d = reg_find(defs[i].name);
        for (size_t k = 0; !d && k < i; k++)
            if (!strcmp(defs[k].name, defs[i].name) && defs[k].fn != defs[i].fn)
                d = &defs[k];
        if (d && d->fn != defs[i].fn)
            rc = lc_seterr(LOCUS_EBUSY, "task",
                           "locus_task_register: '%s' is already registered "
                           "with another function (rename one of them)",
                           defs[i].name);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (reg_find(defs[i].name))
            continue;
        regent *e = malloc(sizeof(*e));
        uint64_t h = name_hash(defs[i].name);
        if (e) {
            e->def = &defs[i];
            e->next = lc_map_get(&reg_map, h);
        }
        if (!e || lc_map_put(&reg_map, h, e) != 0) {
            /* the entries added so far stay: each is complete */
            free(e);
            rc = lc_seterr(LOCUS_ENOMEM, "task",
                           "locus_task_register: no memory");
        }
    }
    pthread_rwlock_unlock(&reg_lock);
    return rc;
}

static void reg_init(void)
{
    lc_map_init(&reg_map);
    if (reg_add(core_defs, sizeof(core_defs) / sizeof(core_defs[0])) != 0)
        lc_log(LC_LOG_ERROR, "task", "the core built-ins: %s",
               locus_last_error());
}

int locus_task_register(const locus_task_def *defs, size_t n)
{
    pthread_once(&reg_once, reg_init);
    int rc = reg_add(defs, n);
    if (!rc)
        lc_clearerr();
    return rc;
}

locus_task_fn locus_task_lookup(const char *name)
{
    if (!name) {
        lc_seterr(LOCUS_EINVAL, "task", "locus_task_lookup: NULL name");
        return NULL;
    }
    pthread_once(&reg_once, reg_init);
    pthread_rwlock_rdlock(&reg_lock);
    const locus_task_def *d = reg_find(name);
    locus_task_fn fn = d ? d->fn : NULL;
    pthread_rwlock_unlock(&reg_lock);
    if (fn)
        lc_clearerr();
    else
        lc_seterr(LOCUS_ENOSYM, "task",
                  "locus_task_lookup: no function is registered as '%s'", name);
    return fn;
}
