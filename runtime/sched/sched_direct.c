/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Direct submission (leases), the scheduler's side.
 *
 * A task with no future inputs has no locality to respect: any worker
 * would do, and going through the scheduler costs two hops and two
 * wake-ups of the round trip.  So a client may ask for leases (LEASE_REQ):
 * the scheduler answers with one LEASE per worker, a number of slots the
 * client may fill itself.  For each such task the client sends the worker
 * COMPUTE_DIRECT over their pair session and us SUBMIT_DIRECT (a SUBMIT
 * that names the worker): the task is in the graph as if we had placed
 * it, so everything else holds unchanged (retries when the worker dies,
 * stealing, cancel, release, the data directory for later tasks that take
 * it as input, the dashboard).  The worker sends the value to the client
 * directly (RESULT on the pair session) and DONE to us as usual; we send
 * no RESULT for it (a value lost with the worker is computed again, and
 * that RESULT comes from us).
 *
 * The two sessions are not ordered with each other, so a DONE may come
 * before the SUBMIT_DIRECT: it is kept (early) and handled when the
 * submit comes, or dropped with its client or worker.
 *
 * Most lease tasks never reach us at all.  The client holds its
 * SUBMIT_DIRECTs (its books) and the worker its DONEs of successes, each up
 * to LNET_LAZY_NS; a client that releases a task whose value it has, while
 * the SUBMIT_DIRECT is still in its books, takes that back and tells the
 * worker (RELEASE_DIRECT on their pair session), which frees the value and
 * takes back its DONE, or, if that went already, sends DIRECT_GONE after
 * it: the early DONE it left here is dropped.  Such a task was finished,
 * delivered and released: no retry, no input of a later task (one that
 * takes it as input is a SUBMIT that sends the books first), nothing to
 * do here.
 */
#include "sched/sched_int.h"

struct early {
    int worker;
    size_t len;
    uint8_t rec[]; /* the DONE record's fields */
};

/* Slots per lease: enough for every thread plus one in flight each. */
static uint32_t lease_slots(const speer *w)
{
    int nt = w->nthreads > 0 ? w->nthreads : 1;
    return (uint32_t)(2 * nt);
}

void sched_on_lease_req(sched *s, speer *c, wire_rd *r)
{
    uint64_t req = wire_get_u64(r);
    if (!wire_rd_ok(r)) {
        lc_log(LC_LOG_WARN, "sched", "malformed LEASE_REQ from client %d",
               c->id);
        return;
    }
    wire_wr *o = out_to(s, c);
    for (int i = 1; i < s->npeers; i++) {
        speer *w = worker(s, i);
        if (!w)
            continue;
        wire_rec_begin(o, REC_LEASE);
        wire_put_u64(o, req);
        wire_put_u32(o, (uint32_t)w->id);
        wire_put_u32(o, lease_slots(w));
        wire_rec_end(o);
    }
}

int sched_direct_assign(sched *s, stask *t, int id)
{
    speer *w = worker(s, id);
    if (!w)
        return 0; /* gone meanwhile: placed by us instead */
    sched_assigned(s, w, t);
    t->direct = 1;
    struct early *e = lc_map_del(&s->early, t->key);
    if (e) {
        speer *from = worker(s, e->worker);
        if (from) {
            wire_rd rd;
            wire_rd_init(&rd, e->rec, e->len);
            sched_on_done(s, from, &rd);
        }
        free(e);
    }
    return 1;
}

int sched_direct_early(sched *s, speer *w, uint64_t key, const wire_rd *r)
{
    /* only for a live client's key: anything else is a late DONE */
    speer *c = peer(s, (int)(key >> 40));
    if (!c || c->role != ROLE_CLIENT || c->state != P_AUTHED)
        return 0;
    struct early *e = malloc(sizeof(*e) + r->len);
    if (!e)
        return 0;
    e->worker = w->id;
    e->len = r->len;
    memcpy(e->rec, r->p, r->len);
    struct early *old = lc_map_get(&s->early, key);
    if (old) {
        lc_log(LC_LOG_WARN, "sched",
               "second early DONE for %llx (workers %d and %d); the "
               "first is dropped",
               (unsigned long long)key, old->worker, w->id);
        lc_map_del(&s->early, key);
        free(old);
    }
    if (lc_map_put(&s->early, key, e) != 0) {
        free(e);
        return 0;
    }
    return 1;
}

void sched_direct_gone(sched *s, speer *p)
{
    if (!s->early.n)
        return;
    uint64_t *drop = NULL;
    size_t n = 0, cap = 0, it = 0;
    uint64_t k;
    void *v;
    while (lc_map_next(&s->early, &it, &k, &v)) {
        struct early *e = v;
        int mine = p->role == ROLE_CLIENT ? (int)(k >> 40) == p->id
                                          : e->worker == p->id;
        if (!mine)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nd = realloc(drop, cap * sizeof(*nd));
            if (!nd)
                break;
            drop = nd;
        }
        drop[n++] = k;
    }
    for (size_t i = 0; i < n; i++) {
        struct early *e = lc_map_del(&s->early, drop[i]);
        speer *w = e ? worker(s, e->worker) : NULL;
        if (w && w != p) {
            /* its client is gone: the value it kept is not wanted */
            wire_wr *o = out_to(s, w);
            wire_rec_begin(o, REC_FREE);
            wire_put_u64(o, drop[i]);
            wire_rec_end(o);
        }
        free(e);
    }
    free(drop);
}

void sched_on_direct_gone(sched *s, speer *w, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    if (!wire_rd_ok(r)) {
        lc_log(LC_LOG_WARN, "sched", "malformed DIRECT_GONE from worker %d",
               w->id);
        return;
    }
    struct early *e = lc_map_get(&s->early, key);
    if (!e || e->worker != w->id)
        return; /* dropped with its client already, or not its DONE */
    lc_map_del(&s->early, key);
    free(e);
}
