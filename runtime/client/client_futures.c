/* SPDX-License-Identifier: BSD-3-Clause */
/* Futures: waiting, results, gather, as_completed, cancel, release. */
#include "client/client_int.h"

static int finished(const struct locus_future *f)
{
    return atomic_load(&f->state) != F_PENDING;
}

/* Wait, driving progress on this thread when no other does (it spins on
   the endpoints first: the lowest latency). */
static int wait_finished(struct locus_future *f, uint64_t dl)
{
    if (finished(f))
        return 0;
    locus_client *c = f->c;
    pthread_mutex_lock(&c->mu);
    while (!finished(f))
        if (client_cv_wait(c, dl) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&c->mu);
    return finished(f) ? 0 : LOCUS_ETIMEDOUT;
}

static int error_of(struct locus_future *f)
{
    int st = f->status ? f->status : LOCUS_ETASK;
    return lc_seterr(st, "task", "%s: %s", f->keystr,
                     f->errmsg ? f->errmsg : locus_strerror(st));
}

static int value_of(struct locus_future *f, uint64_t dl, const void **data,
                    size_t *len)
{
    if (atomic_load(&f->state) == F_ERROR)
        return error_of(f);
    locus_client *c = f->c;
    pthread_mutex_lock(&c->mu);
    if (!f->have_data && !f->fetching) {
        if (c->state == C_CLOSED) {
            pthread_mutex_unlock(&c->mu);
            return lc_seterr(LOCUS_ECLOSED, "client", "%s: not connected",
                             f->keystr);
        }
        f->fetching = 1;
        f->fetch_status = 0;
        f->fetch_next = c->fetchq;
        c->fetchq = f;
        client_wake(c);
    }
    while (f->fetching)
        if (client_cv_wait(c, dl) == ETIMEDOUT)
            break;
    int rc = 0;
    if (f->fetching)
        rc = lc_seterr(LOCUS_ETIMEDOUT, "client",
                       "%s: fetching its %llu "
                       "bytes did not finish in time",
                       f->keystr, (unsigned long long)f->nbytes);
    else if (!f->have_data)
        rc = lc_seterr(f->fetch_status ? f->fetch_status : LOCUS_EIO, "client",
                       "%s: %s", f->keystr,
                       f->errmsg ? f->errmsg : "value could not be fetched");
    pthread_mutex_unlock(&c->mu);
    if (!rc) {
        if (data)
            *data = f->data;
        if (len)
            *len = f->len;
    }
    return rc;
}

int locus_result(locus_future *f, int timeout_ms, const void **data,
                 size_t *len)
{
    lc_clearerr();
    if (!f)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_result: NULL future");
    uint64_t dl = lc_deadline_ms(client_deadline_of(f->c, timeout_ms));
    if (wait_finished(f, dl))
        return lc_seterr(LOCUS_ETIMEDOUT, "client",
                         "%s not finished within "
                         "%d ms",
                         f->keystr, client_deadline_of(f->c, timeout_ms));
    if (!data && !len)
        return atomic_load(&f->state) == F_ERROR ? error_of(f) : 0;
    return value_of(f, dl, data, len);
}

static int result8(locus_future *f, int timeout_ms, int kind, void *v)
{
    const void *p;
    size_t n;
    int rc = locus_result(f, timeout_ms, &p, &n);
    if (rc)
        return rc;
    if (n != 8)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "%s: value has %zu bytes, "
                         "not an 8-byte number",
                         f->keystr, n);
    if (f->vkind && f->vkind != kind)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "%s: value is an 8-byte %s; read it with "
                         "locus_result_%s",
                         f->keystr,
                         f->vkind == LOCUS_ARG_F64 ? "float" : "integer",
                         f->vkind == LOCUS_ARG_F64 ? "f64" : "i64");
    memcpy(v, p, 8);
    return 0;
}

int locus_result_i64(locus_future *f, int timeout_ms, int64_t *v)
{
    lc_clearerr();
    if (!v)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_result_i64: NULL v");
    return result8(f, timeout_ms, LOCUS_ARG_I64, v);
}

int locus_result_f64(locus_future *f, int timeout_ms, double *v)
{
    lc_clearerr();
    if (!v)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_result_f64: NULL v");
    return result8(f, timeout_ms, LOCUS_ARG_F64, v);
}

int locus_gather(locus_future *const *fs, size_t n, int timeout_ms,
                 locus_value *out)
{
    lc_clearerr();
    if ((n && (!fs || !out)))
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_gather: NULL "
                         "argument");
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return lc_seterr(LOCUS_EINVAL, "client",
                             "locus_gather: future "
                             "%zu is NULL",
                             i);
    if (n == 0)
        return 0;
    uint64_t dl = lc_deadline_ms(client_deadline_of(fs[0]->c, timeout_ms));
    int first = 0;
    char msg[1200] = "";
    for (size_t i = 0; i < n; i++) {
        locus_future *f = fs[i];
        out[i].data = NULL;
        out[i].len = 0;
        int rc = wait_finished(f, dl);
        if (rc)
            rc = lc_seterr(LOCUS_ETIMEDOUT, "client",
                           "%s not finished in "
                           "time",
                           f->keystr);
        else
            rc = value_of(f, dl, &out[i].data, &out[i].len);
        out[i].status = rc;
        if (rc && !first) {
            first = rc;
            snprintf(msg, sizeof(msg), "future %zu: %s", i, locus_last_error());
        }
    }
    if (first)
        return lc_seterr(first, "client", "%s", msg);
    return 0;
}

int locus_wait(locus_future *const *fs, size_t n, int timeout_ms)
{
    lc_clearerr();
    if (n && !fs)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_wait: NULL futures");
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return lc_seterr(LOCUS_EINVAL, "client",
                             "locus_wait: future %zu "
                             "is NULL",
                             i);
    if (n == 0)
        return 0;
    uint64_t dl = lc_deadline_ms(client_deadline_of(fs[0]->c, timeout_ms));
    for (size_t i = 0; i < n; i++)
        if (wait_finished(fs[i], dl))
            return lc_seterr(LOCUS_ETIMEDOUT, "client",
                             "locus_wait: %s not "
                             "finished in time",
                             fs[i]->keystr);
    return 0;
}

int locus_as_completed(locus_future *const *fs, size_t n, unsigned char *seen,
                       int timeout_ms, size_t *index)
{
    lc_clearerr();
    if (!fs || !seen || !index || n == 0)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_as_completed: NULL "
                         "argument or no futures");
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return lc_seterr(LOCUS_EINVAL, "client",
                             "locus_as_completed: "
                             "future %zu is NULL",
                             i);
    locus_client *c = fs[0]->c;
    uint64_t dl = lc_deadline_ms(client_deadline_of(c, timeout_ms));
    pthread_mutex_lock(&c->mu);
    for (;;) {
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            if (seen[i])
                continue;
            any = 1;
            if (finished(fs[i])) {
                seen[i] = 1;
                *index = i;
                pthread_mutex_unlock(&c->mu);
                return 0;
            }
        }
        if (!any) {
            pthread_mutex_unlock(&c->mu);
            return lc_seterr(LOCUS_ENOENT, "client",
                             "locus_as_completed: "
                             "every future was returned already");
        }
        if (client_cv_wait(c, dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&c->mu);
            return lc_seterr(LOCUS_ETIMEDOUT, "client",
                             "locus_as_completed: "
                             "none finished in time");
        }
    }
}

/* ---- futures
 * ------------------------------------------------------------------------ */

int locus_cancel(locus_future *f)
{
    lc_clearerr();
    if (!f)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_cancel: NULL future");
    locus_client *c = f->c;
    pthread_mutex_lock(&c->mu);
    if (atomic_load(&f->state) == F_PENDING) {
        wire_rec_begin(&c->pending, REC_CANCEL);
        wire_put_u64(&c->pending, f->key);
        wire_rec_end(&c->pending);
        f->status = LOCUS_ECANCELED;
        free(f->errmsg);
        f->errmsg = strdup("canceled by the client");
        atomic_store(&f->state, F_ERROR);
        pthread_cond_broadcast(&c->cv);
        client_wake(c);
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

locus_future *locus_future_ref(locus_future *f)
{
    if (f)
        atomic_fetch_add(&f->refs, 1);
    return f;
}

/* under mu: a lease task whose value came from its worker, released while
   its SUBMIT_DIRECT still waits in the books: take that back and tell the
   worker, whose DONE then never reaches the scheduler either
   (runtime/sched/sched_direct.c).  1 if so. */
static int unbooked(locus_client *c, struct locus_future *f)
{
    if (!f->booked || f->book_gen != c->books_gen ||
        atomic_load(&f->state) != F_DONE || f->status != 0 || f->direct)
        return 0;
    cpeer *p = f->worker > 0 ? cpeer_get(c, f->worker) : NULL;
    if (p && p->sess) {
        if (!p->dirty && c->nddirty == c->capddirty) {
            int ncap = c->capddirty ? c->capddirty * 2 : 16;
            int *nd = realloc(c->ddirty, (size_t)ncap * sizeof(*nd));
            if (!nd)
                return 0; /* booked and released the usual way */
            c->ddirty = nd;
            c->capddirty = ncap;
        }
        wire_rec_begin(&p->rel, REC_RELEASE_DIRECT);
        wire_put_u64(&p->rel, f->key);
        wire_rec_end(&p->rel);
        if (p->rel.err) {
            p->rel.len = p->rel.rec_start;
            p->rel.err = 0;
            return 0;
        }
        if (!p->dirty) {
            c->ddirty[c->nddirty++] = p->id;
            p->dirty = 1;
        }
    }
    /* (a worker that is gone took its DONEs with it) */
    c->books_dead += wire_rec_kill(&c->books, f->book_off);
    return 1;
}

void locus_release(locus_future *f)
{
    if (!f)
        return;
    if (atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    locus_client *c = f->c;
    pthread_mutex_lock(&c->mu);
    lc_kt_del(&c->futures, f->key);
    client_drop_puts(c, f);
    /* a fetch in flight keeps the future alive until it ends */
    while (f->fetching)
        pthread_cond_wait(&c->cv, &c->mu);
    if (c->state != C_CLOSED && unbooked(c, f)) {
        /* nobody but its worker knows of it */
    } else if (c->state != C_CLOSED) {
        if (f->booked && f->book_gen == c->books_gen)
            c->books_first = 1; /* its SUBMIT_DIRECT goes before */
        wire_rec_begin(&c->pending, REC_RELEASE);
        wire_put_u64(&c->pending, f->key);
        wire_rec_end(&c->pending);
        c->pending_lazy++;
        client_wake(c);
    }
    pthread_mutex_unlock(&c->mu);
    free(f->data);
    free(f->errmsg);
    free(f);
}

int locus_future_status(const locus_future *f)
{
    if (!f)
        return LOCUS_EINVAL;
    int st = atomic_load(&f->state);
    if (st == F_PENDING)
        return LOCUS_EAGAIN;
    return st == F_DONE ? 0 : (f->status ? f->status : LOCUS_ETASK);
}

const char *locus_future_error(const locus_future *f)
{
    if (!f || atomic_load(&f->state) != F_ERROR || !f->errmsg)
        return "";
    return f->errmsg;
}

const char *locus_future_key(const locus_future *f)
{
    return f ? f->keystr : "";
}

int locus_who_has(locus_future *f, int *worker_ids, size_t max, size_t *n)
{
    lc_clearerr();
    if (!f || !n || (max && !worker_ids))
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_who_has: NULL "
                         "argument");
    int st = atomic_load(&f->state);
    if (st == F_PENDING)
        return lc_seterr(LOCUS_EAGAIN, "client", "%s is not finished yet",
                         f->keystr);
    if (st == F_ERROR) {
        *n = 0;
        return error_of(f);
    }
    *n = 1;
    if (max)
        worker_ids[0] = f->worker;
    return 0;
}
