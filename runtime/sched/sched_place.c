/* SPDX-License-Identifier: BSD-3-Clause */
/* Queues and placement: a task runs where its input bytes are. */
#include "sched/sched_int.h"

static void tq_push(tq *q, stask *t)
{
    t->queued = 1;
    t->next = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    q->n++;
}

stask *sched_tq_pop(tq *q)
{
    stask *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        t->next = NULL;
        t->queued = 0;
    }
    return t;
}

static int capacity(const speer *w)
{
    /* enough in flight to cover ~2 ms of work per thread, at least one
       extra per thread, at most 4096 */
    int nt = w->nthreads > 0 ? w->nthreads : 1;
    double extra = w->avg_ns > 0 ? 2e6 / w->avg_ns : 1.0;
    if (extra < 1)
        extra = 1;
    if (extra > 4096)
        extra = 4096;
    return nt + (int)(extra * nt);
}

static int has_room(const speer *w)
{
    return w->assigned < capacity(w);
}

static void freeq_push(sched *s, speer *w)
{
    if (w->in_free || !has_room(w))
        return;
    if (s->fq_n == s->fq_cap) {
        size_t ncap = s->fq_cap ? s->fq_cap * 2 : 64;
        int *nq = malloc(ncap * sizeof(int));
        if (!nq)
            return;
        for (size_t i = 0; i < s->fq_n; i++)
            nq[i] = s->freeq[(s->fq_head + i) % s->fq_cap];
        free(s->freeq);
        s->freeq = nq;
        s->fq_head = 0;
        s->fq_cap = ncap;
    }
    s->freeq[(s->fq_head + s->fq_n) % s->fq_cap] = w->id;
    s->fq_n++;
    w->in_free = 1;
}

static speer *freeq_pop(sched *s)
{
    while (s->fq_n) {
        int id = s->freeq[s->fq_head];
        s->fq_head = (s->fq_head + 1) % s->fq_cap;
        s->fq_n--;
        speer *w = worker(s, id);
        if (!w)
            continue;
        w->in_free = 0;
        if (has_room(w))
            return w;
    }
    return NULL;
}

static void send_compute(sched *s, speer *w, stask *t)
{
    wire_wr *o = out_to(s, w);
    wire_rec_begin(o, REC_COMPUTE);
    wire_put_u64(o, t->key);
    wire_put_str(o, t->fn);
    wire_put_u32(o, t->nargs);
    for (uint32_t i = 0; i < t->nargs; i++) {
        sarg *a = &t->args[i];
        /* a client's big argument is fetched from the client like a
           future from its holder */
        wire_put_u8(o, a->kind == ARG_PUT ? ARG_FUTURE : a->kind);
        if (a->kind == ARG_BYTES) {
            wire_put_bytes(o, t->argbuf + a->off, a->len);
        } else if (a->kind == ARG_PUT) {
            wire_put_u64(o, a->put);
            wire_put_u32(o, (uint32_t)t->owner);
            wire_put_u64(o, a->putlen);
        } else {
            wire_put_u64(o, a->dep->key);
            wire_put_u32(o, (uint32_t)a->dep->worker);
            wire_put_u64(o, a->dep->nbytes);
        }
    }
    wire_rec_end(o);
    sched_dash_task(s, t, DASH_T_WAITING, DASH_T_RUNNING, NULL, 0, 0);
    t->state = T_ASSIGNED;
    t->worker = w->id;
    w->assigned++;
}

static void assign(sched *s, speer *w, stask *t)
{
    if (has_room(w)) {
        send_compute(s, w, t);
    } else {
        t->state = T_READY;
        t->worker = w->id;
        tq_push(&w->queue, t);
    }
}

static speer *least_loaded(sched *s, const uint32_t *ids, uint32_t n)
{
    speer *best = NULL;
    for (uint32_t i = 0; i < n; i++) {
        speer *w = worker(s, (int)ids[i]);
        if (w && (!best ||
                  w->assigned * best->nthreads < best->assigned * w->nthreads))
            best = w;
    }
    return best;
}

void sched_make_ready(sched *s, stask *t)
{
    if (t->canceled) {
        sched_fail_task(s, t, LOCUS_ECANCELED, "canceled");
        return;
    }
    speer *w = NULL;
    if (t->nrestrict) {
        w = least_loaded(s, t->restrict_ids, t->nrestrict);
        if (!w) {
            char ids[256] = "";
            size_t o = 0;
            for (uint32_t i = 0; i < t->nrestrict && o < sizeof(ids) - 12; i++)
                o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s%u",
                                      i ? "," : "", t->restrict_ids[i]);
            sched_fail_task(s, t, LOCUS_ENOWORKERS,
                            "none of the allowed workers [%s] is connected",
                            ids);
            return;
        }
        assign(s, w, t);
        return;
    }
    /* the worker holding most input bytes; ties to the one whose host holds
       most of the rest (mapped, not sent), then the least loaded.  Few
       inputs, so quadratic is cheap and needs no allocation. */
    uint64_t best_bytes = 0, best_host = 0;
    for (uint32_t i = 0; i < t->nargs; i++) {
        stask *d = t->args[i].dep;
        if (!d)
            continue;
        speer *h = worker(s, d->worker);
        if (!h)
            continue;
        uint64_t sum = 0, host = 0;
        for (uint32_t j = 0; j < t->nargs; j++) {
            stask *e = t->args[j].dep;
            if (!e)
                continue;
            if (e->worker == d->worker)
                sum += e->nbytes + 1;
            else if (worker(s, e->worker) &&
                     !strcmp(worker(s, e->worker)->host, h->host))
                host += e->nbytes + 1;
        }
        int better = !w || sum > best_bytes ||
                     (sum == best_bytes && host > best_host) ||
                     (sum == best_bytes && host == best_host &&
                      h->assigned * w->nthreads < w->assigned * h->nthreads);
        if (better) {
            w = h;
            best_bytes = sum;
            best_host = host;
        }
    }
    if (w) {
        assign(s, w, t);
        return;
    }
    w = freeq_pop(s);
    if (w) {
        send_compute(s, w, t);
        freeq_push(s, w);
        return;
    }
    t->state = T_READY;
    t->worker = -1;
    tq_push(&s->ready, t);
}

/* A worker got room: its own queue first (locality), then the global one. */
void sched_refill(sched *s, speer *w)
{
    while (has_room(w)) {
        stask *t = sched_tq_pop(&w->queue);
        if (!t)
            break;
        if (t->state != T_READY) { /* canceled while queued */
            sched_maybe_free(s, t);
            continue;
        }
        if (t->canceled) {
            sched_fail_task(s, t, LOCUS_ECANCELED, "canceled");
            continue;
        }
        send_compute(s, w, t);
    }
    while (has_room(w)) {
        stask *t = sched_tq_pop(&s->ready);
        if (!t)
            break;
        if (t->state != T_READY) {
            sched_maybe_free(s, t);
            continue;
        }
        if (t->canceled) {
            sched_fail_task(s, t, LOCUS_ECANCELED, "canceled");
            continue;
        }
        send_compute(s, w, t);
    }
    freeq_push(s, w);
}
