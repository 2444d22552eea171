/* SPDX-License-Identifier: BSD-3-Clause */
/* Queues and placement: a task runs where its input bytes are. */
#include "sched/sched_int.h"
#include "sched/sched_pick.h"

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
    sched_assigned(s, w, t);
    t->direct = 0; /* placed again by us (retried, stolen) */
}

void sched_assigned(sched *s, speer *w, stask *t)
{
    sched_dash_task(s, t, DASH_T_WAITING, DASH_T_RUNNING, NULL, 0, 0);
    t->state = T_ASSIGNED;
    t->worker = w->id;
    t->stealing = 0;
    t->sent_ns = lc_now_ns();
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

/* ---- what the pure decisions (sched_pick.c) see ------------------------- */

#define PICK_STACK 16

static sched_cand cand_of(const speer *w, int allowed, int idle)
{
    return (sched_cand){.id = w->id,
                        .host = w->host,
                        .load = w->assigned + (int)w->queue.n,
                        .nthreads = w->nthreads,
                        .idle = idle,
                        .allowed = allowed};
}

/* t's inputs that live somewhere: results of other tasks (on their holder,
   -1 if it is gone) and a client's big arguments (on the client).  in has
   room for t->nargs. */
static size_t inputs_of(sched *s, const stask *t, sched_input *in)
{
    size_t n = 0;
    for (uint32_t i = 0; i < t->nargs; i++) {
        const sarg *a = &t->args[i];
        if (a->kind == ARG_FUTURE && a->dep) {
            speer *h = worker(s, a->dep->worker);
            in[n++] = (sched_input){.nbytes = a->dep->nbytes,
                                    .holder = h ? h->id : -1,
                                    .host = h ? h->host : NULL};
        } else if (a->kind == ARG_PUT) {
            speer *c = peer(s, t->owner);
            in[n++] = (sched_input){
                .nbytes = a->putlen, .holder = -1, .host = c ? c->host : NULL};
        }
    }
    return n;
}

/* The worker for t by sched_pick_worker: among its allowed workers if it
   is restricted, else among the holders of its inputs.  NULL: none (no
   input is held by a worker), or out of memory (*err set). */
static speer *pick(sched *s, const stask *t, int *err)
{
    sched_input in_stack[PICK_STACK];
    sched_cand c_stack[PICK_STACK];
    size_t ncmax = t->nrestrict ? t->nrestrict : t->nargs;
    sched_input *in =
        t->nargs <= PICK_STACK ? in_stack : malloc(t->nargs * sizeof(*in));
    sched_cand *c = ncmax <= PICK_STACK ? c_stack : malloc(ncmax * sizeof(*c));
    speer *w = NULL;
    *err = 0;
    if (!in || !c) {
        *err = LOCUS_ENOMEM;
        goto out;
    }
    size_t nin = inputs_of(s, t, in), nc = 0;
    if (t->nrestrict) {
        for (uint32_t i = 0; i < t->nrestrict; i++) {
            speer *a = worker(s, (int)t->restrict_ids[i]);
            if (a)
                c[nc++] = cand_of(a, 1, 0);
        }
    } else {
        for (size_t j = 0; j < nin; j++) {
            size_t k = 0;
            if (in[j].holder < 0)
                continue;
            while (k < nc && c[k].id != in[j].holder)
                k++;
            if (k == nc)
                c[nc++] = cand_of(worker(s, in[j].holder), 1, 0);
        }
    }
    int i = sched_pick_worker(c, nc, in, nin);
    if (i >= 0)
        w = worker(s, c[i].id);
out:
    if (in != in_stack)
        free(in);
    if (c != c_stack)
        free(c);
    return w;
}

void sched_make_ready(sched *s, stask *t)
{
    if (t->canceled) {
        sched_fail_task(s, t, LOCUS_ECANCELED, "canceled");
        return;
    }
    int err;
    speer *w = pick(s, t, &err);
    if (err) {
        sched_fail_task(s, t, err, "out of memory placing the task");
        return;
    }
    if (t->nrestrict && !w) {
        char ids[256] = "";
        size_t o = 0;
        for (uint32_t i = 0; i < t->nrestrict && o < sizeof(ids) - 12; i++)
            o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s%u",
                                  i ? "," : "", t->restrict_ids[i]);
        sched_fail_task(s, t, LOCUS_ENOWORKERS,
                        "none of the allowed workers [%s] is connected", ids);
        return;
    }
    if (w) {
        assign(s, w, t);
        return;
    }
    /* no input held anywhere: load-balanced */
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

/* ---- stealing -------------------------------------------------------------
 *
 * Placement sends a worker more tasks than it has threads, to hide the
 * round trip; a task that does not end (or a slow one) then holds the
 * tasks behind it while other workers idle.  Every 20 ms: if a worker has
 * an idle thread and nothing queued for it, and another has unstarted
 * tasks but finished nothing for a while ("stuck"), the idle one asks for
 * the stuck one's most recently sent task (the least likely started).  The
 * cost model keeps locality: the bytes the thief would fetch (inputs not
 * on its host) over the path's bandwidth must be well under the time the
 * victim has been stuck, and never more than SCHED_STEAL_MAX_BYTES; a
 * data-parallel map never moves (its workers keep finishing).  The
 * decision itself is sched_pick_thief (sched_pick.c).
 */
#define STEAL_MIN_STUCK_NS 50e6 /* and 8 average task times */
#define STEAL_CANDIDATES 64

static int idle_threads(const speer *w)
{
    int used = w->assigned + w->reserved;
    return w->queue.n == 0 && used < w->nthreads ? w->nthreads - used : 0;
}

static double stuck_ns(const speer *v, uint64_t now)
{
    if (v->assigned <= v->nthreads)
        return 0; /* nothing unstarted (as far as we know) */
    double since = (double)(now - v->last_done_ns);
    double need = 8 * v->avg_ns;
    if (need < STEAL_MIN_STUCK_NS)
        need = STEAL_MIN_STUCK_NS;
    return since > need ? since : 0;
}

/* A task restricted to some workers moves only among them. */
static int allowed(const stask *t, const speer *w)
{
    if (!t->nrestrict)
        return 1;
    for (uint32_t i = 0; i < t->nrestrict; i++)
        if ((int)t->restrict_ids[i] == w->id)
            return 1;
    return 0;
}

void sched_steal_tick(sched *s)
{
    if (s->ready.n)
        return; /* idle workers take the ready queue first */
    uint64_t now = lc_now_ns();
    if (now < s->steal_next_ns)
        return;
    int idle = 0, stuck = 0;
    for (int i = 1; i < s->npeers; i++) {
        speer *w = worker(s, i);
        if (!w)
            continue;
        idle += idle_threads(w);
        stuck += stuck_ns(w, now) > 0;
    }
    if (!idle || !stuck)
        return;
    /* the most recently sent tasks of stuck workers: one pass over the
       table, only while some worker is stuck and another idle; a pass
       that moves nothing is not repeated for a while (it costs O(tasks),
       and a million tasks must not be scanned every 20 ms) */
    stask *cand[STEAL_CANDIDATES] = {0};
    int nc = 0;
    uint64_t k;
    void *v;
    for (lc_kt_it kit = {0}; lc_kt_next(&s->tasks, &kit, &k, &v);) {
        stask *t = v;
        speer *w;
        if (t->state != T_ASSIGNED || t->stealing || t->canceled ||
            !(w = worker(s, t->worker)) || stuck_ns(w, now) == 0)
            continue;
        int at = nc < STEAL_CANDIDATES ? nc++ : STEAL_CANDIDATES - 1;
        if (at == STEAL_CANDIDATES - 1 && nc == STEAL_CANDIDATES && cand[at] &&
            cand[at]->sent_ns >= t->sent_ns)
            continue;
        cand[at] = t;
        for (; at > 0 && cand[at - 1]->sent_ns < cand[at]->sent_ns; at--) {
            stask *x = cand[at - 1];
            cand[at - 1] = cand[at];
            cand[at] = x;
        }
    }
    int stolen = 0;
    sched_cand *wc = malloc((size_t)s->npeers * sizeof(*wc));
    sched_input *in = NULL;
    size_t incap = 0;
    for (int c = 0; wc && c < nc && idle > 0; c++) {
        stask *t = cand[c];
        speer *victim = worker(s, t->worker);
        if (!victim)
            continue;
        /* steal no more than the victim has unstarted */
        int unstarted = victim->assigned - victim->nthreads;
        if (unstarted <= 0)
            continue;
        double wait = stuck_ns(victim, now);
        if (t->nargs > incap) {
            sched_input *g = realloc(in, t->nargs * sizeof(*in));
            if (!g)
                break;
            in = g;
            incap = t->nargs;
        }
        size_t nin = inputs_of(s, t, in), nw = 0;
        for (int i = 1; i < s->npeers; i++) {
            speer *w = worker(s, i);
            if (w)
                wc[nw++] = cand_of(w, allowed(t, w), idle_threads(w));
        }
        int ti = sched_pick_thief(wc, nw, victim->id, in, nin, wait);
        speer *thief = ti >= 0 ? worker(s, wc[ti].id) : NULL;
        if (!thief)
            continue;
        stolen++;
        t->stealing = 1;
        t->thief = thief->id;
        thief->reserved++;
        idle--;
        victim->assigned--; /* counted back if the answer is no */
        wire_wr *o = out_to(s, victim);
        wire_rec_begin(o, REC_STEAL);
        wire_put_u64(o, t->key);
        wire_rec_end(o);
        lc_log(LC_LOG_DEBUG, "sched",
               "asking worker %d (stuck %.0f ms) for task %llx for idle "
               "worker %d",
               victim->id, wait / 1e6, (unsigned long long)t->key, thief->id);
    }
    free(in);
    free(wc);
    if (!stolen) {
        uint64_t cost = lc_now_ns() - now, pause = 20 * cost;
        s->steal_next_ns =
            lc_now_ns() + (pause > 200000000ull ? pause : 200000000ull);
    }
}

speer *sched_steal_end(sched *s, stask *t)
{
    t->stealing = 0;
    speer *thief = worker(s, t->thief);
    if (thief)
        thief->reserved--;
    return thief;
}

void sched_on_stolen(sched *s, speer *w, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    int given = wire_get_u8(r);
    if (!wire_rd_ok(r))
        return;
    stask *t = lc_kt_get(&s->tasks, key);
    if (!t || !t->stealing || t->worker != w->id) {
        /* asked before this worker's task was placed elsewhere: nothing
           of ours waits on the answer */
        return;
    }
    speer *thief = sched_steal_end(s, t);
    if (!given) {
        w->assigned++; /* it runs there; its DONE comes */
        return;
    }
    dash_counter_add(s->dash, DASH_C_STOLEN, 1);
    t->worker = -1;
    if (t->state != T_ASSIGNED) { /* canceled meanwhile */
        sched_maybe_free(s, t);
    } else if (thief && !t->canceled) {
        sched_dash_task(s, t, DASH_T_RUNNING, DASH_T_WAITING, NULL, 0, 0);
        t->state = T_WAITING;
        send_compute(s, thief, t);
    } else {
        sched_dash_task(s, t, DASH_T_RUNNING, DASH_T_WAITING, NULL, 0, 0);
        t->state = T_WAITING;
        sched_make_ready(s, t);
    }
    sched_refill(s, w);
}
