/* SPDX-License-Identifier: BSD-3-Clause */
/* The task graph: submit, release, cancel, results, failure and
 * recomputation of results lost with a worker. */
#include "sched/sched_int.h"

void sched_task_free(stask *t)
{
    free(t->errmsg);
    free(t->killlog);
    free(t->restrict_ids); /* fn, args and argbuf live in t's allocation */
    free(t->dependents);
    free(t);
}

int sched_final(const stask *t)
{
    return t->state == T_DONE || t->state == T_ERROR;
}

void sched_maybe_free(sched *s, stask *t)
{
    if (!t->released || !sched_final(t) || t->nlive || t->npending || t->queued)
        return;
    s->busy_ns = lc_now_ns(); /* memory to give back once idle */
    if (t->state == T_DONE) {
        speer *w = worker(s, t->worker);
        if (w) {
            wire_wr *o = out_to(s, w);
            wire_rec_begin(o, REC_FREE);
            wire_put_u64(o, t->key);
            wire_rec_end(o);
        }
    }
    lc_kt_del(&s->tasks, t->key);
    sched_task_free(t);
}

static void drop_deps(sched *s, stask *t)
{
    if (t->deps_dropped)
        return;
    t->deps_dropped = 1;
    for (uint32_t i = 0; i < t->nargs; i++) {
        stask *d = t->args[i].dep;
        if (d) {
            d->nlive--;
            sched_maybe_free(s, d);
        }
    }
}

static void send_result(sched *s, stask *t, const void *data, size_t len)
{
    speer *c = peer(s, t->owner);
    if (t->released || !c || c->state != P_AUTHED)
        return;
    wire_wr *o = out_to(s, c);
    wire_rec_begin(o, REC_RESULT);
    wire_put_u64(o, t->key);
    wire_put_i32(o, t->status);
    wire_put_u32(o, t->worker > 0 ? (uint32_t)t->worker : 0);
    wire_put_u64(o, t->nbytes);
    if (t->status == 0) {
        wire_put_u8(o, data != NULL);
        wire_put_bytes(o, data, data ? len : 0);
    } else {
        wire_put_u8(o, 0);
        wire_put_str(o, t->errmsg);
    }
    wire_rec_end(o);
}

void sched_fail_task(sched *s, stask *t, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    stask *work = t;
    t->wnext = NULL;
    t->status = status;
    free(t->errmsg);
    t->errmsg = strdup(msg);
    /* worklist through ->next: each failed task's waiting dependents */
    while (work) {
        stask *cur = work;
        work = work->wnext;
        cur->wnext = NULL;
        sched_dash_task(
            s, cur, cur->state == T_ASSIGNED ? DASH_T_RUNNING : DASH_T_WAITING,
            DASH_T_FAILED, NULL, 0, cur->status);
        cur->state = T_ERROR;
        send_result(s, cur, NULL, 0);
        drop_deps(s, cur);
        for (uint32_t i = 0; i < cur->ndependents; i++) {
            stask *d = cur->dependents[i];
            d->npending--;
            if (sched_final(d)) {
                sched_maybe_free(s, d);
                continue;
            }
            if (d->state == T_WAITING) {
                /* the input's own code: a missing file stays ENOENT */
                d->status = cur->status ? cur->status : LOCUS_ETASK;
                char m2[1200];
                snprintf(m2, sizeof(m2), "input %s failed: %s",
                         cur->fn ? cur->fn : "?",
                         cur->errmsg ? cur->errmsg : "");
                free(d->errmsg);
                d->errmsg = strdup(m2);
                d->state = T_ERROR; /* mark now so it is queued once */
                d->wnext = work;
                work = d;
            }
        }
        cur->ndependents = 0;
        sched_maybe_free(s, cur);
    }
}

static int add_dependent(stask *d, stask *t)
{
    if (d->ndependents == d->capdependents) {
        uint32_t ncap = d->capdependents ? d->capdependents * 2 : 4;
        stask **nd = realloc(d->dependents, ncap * sizeof(*nd));
        if (!nd)
            return LOCUS_ENOMEM;
        d->dependents = nd;
        d->capdependents = ncap;
    }
    d->dependents[d->ndependents++] = t;
    return 0;
}

void sched_on_submit(sched *s, speer *c, wire_rd *r, int direct)
{
    char fn[256];
    int to = direct ? (int)wire_get_u32(r) : 0; /* where it was sent */
    uint64_t key = wire_get_u64(r);
    wire_get_str(r, fn, sizeof(fn));
    int retries = wire_get_i32(r);
    uint32_t nrestrict = wire_get_u32(r);
    if (!wire_rd_ok(r) || nrestrict > wire_rd_left(r) / 4) {
        lc_log(LC_LOG_WARN, "sched", "malformed SUBMIT from client %d", c->id);
        return;
    }
    if ((key >> 40) != (uint64_t)c->id || lc_kt_get(&s->tasks, key)) {
        lc_log(LC_LOG_WARN, "sched",
               "client %d submitted bad or duplicate "
               "key %llx; ignored",
               c->id, (unsigned long long)key);
        return;
    }
    uint32_t *restrict_ids = NULL;
    if (nrestrict) {
        restrict_ids = malloc(nrestrict * sizeof(uint32_t));
        if (!restrict_ids)
            return;
        for (uint32_t i = 0; i < nrestrict; i++)
            restrict_ids[i] = wire_get_u32(r);
    }
    uint32_t nargs = wire_get_u32(r);
    size_t argstart = r->off;
    if (!wire_rd_ok(r) || nargs > wire_rd_left(r)) {
        lc_log(LC_LOG_WARN, "sched", "malformed SUBMIT from client %d", c->id);
        free(restrict_ids);
        return;
    }
    /* one allocation per task: the task, its arguments, their inline
       bytes (copied once, whole) and its function's name */
    size_t blen = wire_rd_left(r), fnlen = strlen(fn) + 1;
    stask *t = malloc(sizeof(*t) + nargs * sizeof(sarg) + blen + fnlen);
    if (!t) {
        free(restrict_ids);
        return;
    }
    memset(t, 0, sizeof(*t));
    t->args = (sarg *)(t + 1);
    memset(t->args, 0, nargs * sizeof(sarg));
    t->argbuf = (uint8_t *)(t->args + nargs);
    t->fn = (char *)t->argbuf + blen;
    memcpy(t->fn, fn, fnlen);
    t->key = key;
    t->owner = c->id;
    t->worker = -1;
    t->retries = retries < 0 ? 3 : retries;
    t->restrict_ids = restrict_ids;
    t->nrestrict = nrestrict;
    if (lc_kt_put(&s->tasks, key, t) != 0) {
        sched_task_free(t);
        return;
    }
    memcpy(t->argbuf, r->p + argstart, blen);
    t->nargs = nargs;
    sched_dash_task(s, t, DASH_T_NONE, DASH_T_WAITING, NULL, 0, 0);
    int bad = 0;
    char why[512] = "";
    for (uint32_t i = 0; i < nargs && !bad; i++) {
        uint8_t kind = wire_get_u8(r);
        t->args[i].kind = kind;
        if (kind == ARG_BYTES) {
            size_t n;
            const uint8_t *p = wire_get_bytes(r, &n);
            t->args[i].off = p ? (uint32_t)(p - (r->p + argstart)) : 0;
            t->args[i].len = (uint32_t)n;
        } else if (kind == ARG_PUT) {
            t->args[i].put = wire_get_u64(r);
            t->args[i].putlen = wire_get_u64(r);
            if (!(t->args[i].put >> 63)) {
                bad = LOCUS_EPROTO;
                snprintf(why, sizeof(why),
                         "argument %u: bad client object "
                         "key",
                         i);
            }
        } else if (kind == ARG_FUTURE) {
            uint64_t dk = wire_get_u64(r);
            stask *d = lc_kt_get(&s->tasks, dk);
            if (!d || (d->released && d->owner == c->id && !d->nlive &&
                       sched_final(d))) {
                snprintf(why, sizeof(why),
                         "argument %u refers to a future "
                         "that is unknown or released",
                         i);
                bad = LOCUS_EINVAL;
                break;
            }
            t->args[i].dep = d;
            t->args[i].dkey = dk;
            d->nlive++;
            if (!sched_final(d)) {
                if (add_dependent(d, t) != 0) {
                    d->nlive--;
                    t->args[i].dep = NULL;
                    bad = LOCUS_ENOMEM;
                    snprintf(why, sizeof(why), "out of memory");
                    break;
                }
                t->npending++;
            } else if (d->state == T_ERROR) {
                snprintf(why, sizeof(why), "input %u (%s) failed: %s", i, d->fn,
                         d->errmsg ? d->errmsg : "");
                bad = d->status == LOCUS_ECANCELED ? LOCUS_ECANCELED
                                                   : LOCUS_ETASK;
            }
        } else {
            bad = LOCUS_EPROTO;
            snprintf(why, sizeof(why), "argument %u has unknown kind %u", i,
                     kind);
        }
    }
    if (!bad && !wire_rd_ok(r)) {
        bad = LOCUS_EPROTO;
        snprintf(why, sizeof(why), "malformed arguments");
    }
    if (bad) {
        /* pending inputs will decrement npending when they finish */
        sched_fail_task(s, t, bad, "%s", why);
        return;
    }
    if (t->npending == 0 && to > 0 && !t->canceled &&
        sched_direct_assign(s, t, to))
        return; /* its client sent it to a leased worker */
    if (t->npending == 0)
        sched_make_ready(s, t);
    else
        t->state = T_WAITING;
}

void sched_on_release(sched *s, speer *c, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    stask *t = lc_kt_get(&s->tasks, key);
    if (!wire_rd_ok(r) || !t || t->owner != c->id || t->released)
        return;
    t->released = 1;
    if (!sched_final(t) && !t->nlive)
        t->canceled = 1; /* nobody wants its result any more */
    if (!sched_final(t) && t->canceled && t->state != T_ASSIGNED &&
        t->state != T_WAITING)
        sched_fail_task(s, t, LOCUS_ECANCELED, "released before it ran");
    sched_maybe_free(s, t);
}

void sched_on_cancel(sched *s, speer *c, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    stask *t = lc_kt_get(&s->tasks, key);
    if (!wire_rd_ok(r) || !t || t->owner != c->id || sched_final(t))
        return;
    t->canceled = 1;
    if (t->state == T_ASSIGNED) {
        speer *w = worker(s, t->worker);
        if (w) {
            wire_wr *o = out_to(s, w);
            wire_rec_begin(o, REC_CANCEL);
            wire_put_u64(o, key);
            wire_rec_end(o);
        }
    }
    /* the client sees the cancellation now; a running task's result is
       dropped when it arrives */
    sched_fail_task(s, t, LOCUS_ECANCELED, "canceled by the client");
}

void sched_on_done(sched *s, speer *w, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    int status = wire_get_i32(r);
    uint64_t nbytes = wire_get_u64(r);
    uint64_t dur = wire_get_u64(r);
    uint8_t has_inline = wire_get_u8(r);
    size_t n;
    const void *data = wire_get_bytes(r, &n);
    if (!wire_rd_ok(r)) {
        lc_log(LC_LOG_WARN, "sched", "malformed DONE from worker %d", w->id);
        return;
    }
    s->done_thread = -1;
    s->done_ago = 0;
    uint8_t direct = 0;
    if (wire_rd_left(r) >= 12) {
        s->done_thread = (int)wire_get_u32(r);
        s->done_ago = wire_get_u64(r);
        if (wire_rd_left(r) >= 1)
            direct = wire_get_u8(r);
    }
    if (direct && !lc_kt_get(&s->tasks, key) &&
        sched_direct_early(s, w, key, r))
        return; /* handled when its SUBMIT_DIRECT comes */
    w->assigned--;
    w->done++;
    w->last_done_ns = lc_now_ns();
    w->avg_ns =
        w->avg_ns > 0 ? 0.9 * w->avg_ns + 0.1 * (double)dur : (double)dur;
    stask *t = lc_kt_get(&s->tasks, key);
    if (t && t->stealing && t->worker == w->id) {
        /* it started before our STEAL arrived: the answer will be no */
        sched_steal_end(s, t);
        w->assigned++; /* taken back at the STEAL */
    }
    if (!t || t->worker != w->id || t->state == T_DONE) {
        /* canceled or released meanwhile: the worker frees the data */
        if (status == 0) {
            if (!t || t->state != T_DONE) {
                wire_wr *o = out_to(s, w);
                wire_rec_begin(o, REC_FREE);
                wire_put_u64(o, key);
                wire_rec_end(o);
            }
        }
        sched_refill(s, w);
        return;
    }
    if (t->state == T_ERROR) { /* canceled while running */
        if (status == 0) {
            wire_wr *o = out_to(s, w);
            wire_rec_begin(o, REC_FREE);
            wire_put_u64(o, key);
            wire_rec_end(o);
        }
        t->worker = -1;
        sched_maybe_free(s, t);
        sched_refill(s, w);
        return;
    }
    if (status == LOCUS_ELOST) {
        /* an input died with its worker and is being computed again:
           wait for it instead of failing */
        int rewait = 0;
        for (uint32_t i = 0; i < t->nargs; i++) {
            stask *d = t->args[i].dep;
            if (d && !sched_final(d) && add_dependent(d, t) == 0) {
                t->npending++;
                rewait = 1;
            }
        }
        if (rewait) {
            sched_dash_task(s, t, DASH_T_RUNNING, DASH_T_WAITING, w, dur + !dur,
                            status);
            t->state = T_WAITING;
            t->worker = -1;
            sched_refill(s, w);
            return;
        }
    }
    if (status != 0) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%.*s", (int)n,
                 data ? (const char *)data : "");
        /* its bar; fail_task counts it failed */
        sched_dash_task(s, t, DASH_T_RUNNING, DASH_T_RUNNING, w, dur + !dur,
                        status);
        sched_fail_task(s, t, status, "%s", msg);
        sched_refill(s, w);
        return;
    }
    sched_dash_task(s, t, DASH_T_RUNNING, DASH_T_DONE, w, dur + !dur, 0);
    t->state = T_DONE;
    t->nbytes = nbytes;
    t->worker = w->id;
    /* a direct task's worker sent its value to the client already; if
       that message is lost with the worker, the result is lost with it
       and computed again, and that RESULT comes from here */
    if (!t->direct)
        send_result(s, t, has_inline ? data : NULL, has_inline ? n : 0);
    drop_deps(s, t);
    /* a dependent that fails now may drop the last reference to t: keep t
       alive while walking its dependents */
    t->nlive++;
    for (uint32_t i = 0; i < t->ndependents; i++) {
        stask *d = t->dependents[i];
        d->npending--;
        if (sched_final(d))
            sched_maybe_free(s, d);
        else if (d->npending == 0 && d->state == T_WAITING)
            sched_make_ready(s, d);
    }
    t->ndependents = 0;
    t->nlive--;
    sched_maybe_free(s, t);
    sched_refill(s, w);
}

/* t's result was lost with worker p: run it again on its inputs, if they
   are still known (a released input, or one that came from the client, is
   gone: then the owner is told why). */
void sched_recompute(sched *s, stask *t, speer *p)
{
    for (uint32_t i = 0; i < t->nargs; i++)
        t->args[i].dep = NULL; /* stale since the task finished */
    t->deps_dropped = 0;
    for (uint32_t i = 0; i < t->nargs; i++) {
        sarg *a = &t->args[i];
        if (a->kind == ARG_BYTES)
            continue;
        stask *d = a->kind == ARG_FUTURE ? lc_kt_get(&s->tasks, a->dkey) : NULL;
        if (!d || d->state == T_ERROR) {
            t->state = T_ASSIGNED; /* not final: fail_task finalizes */
            sched_fail_task(
                s, t, LOCUS_ELOST,
                "result lost with worker %d (%s pid %d) and cannot be "
                "computed again: input %u %s",
                p->id, p->host, p->pid, i,
                a->kind == ARG_PUT ? "came from the client" : "is gone too");
            return;
        }
        a->dep = d;
        d->nlive++;
        if (!sched_final(d)) {
            if (add_dependent(d, t) != 0) {
                t->state = T_ASSIGNED;
                sched_fail_task(s, t, LOCUS_ENOMEM,
                                "out of memory recomputing");
                return;
            }
            t->npending++;
        }
    }
    lc_log(LC_LOG_INFO, "sched",
           "recomputing %s (key %llx), lost with "
           "worker %d",
           t->fn, (unsigned long long)t->key, p->id);
    if (t->npending == 0)
        sched_make_ready(s, t);
}
