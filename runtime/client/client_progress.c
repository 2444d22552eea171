/* SPDX-License-Identifier: BSD-3-Clause */
/* The progress thread: joining, the scheduler's records, heartbeats, the
 * goodbye. */
#include "client/client_int.h"

static void on_peer(locus_client *c, wire_rd *r)
{
    rec_peer rp;
    if (rec_get_peer(r, &rp) != 0 || rp.role != ROLE_WORKER)
        return;
    int id = (int)rp.id;
    if (id <= 0)
        return;
    lnet_route rt;
    if (lnet_route_to(&c->net, rp.host, rp.net, rp.shm, &rt) != 0) {
        lc_log(LC_LOG_WARN, "client", "cannot reach worker %d: %s", id,
               locus_last_error());
        return;
    }
    uint8_t ktx[AUTH_KEY_LEN], krx[AUTH_KEY_LEN];
    uint64_t psid;
    lnet_keys_pair(c->sf.key, c->join.id, c->join.sid, rp.id, rp.sid, ktx, krx,
                   &psid);
    lsess *ps = lnet_sess_open(&c->net, rp.id, psid, ktx, krx, rt);
    if (!ps) {
        lnet_unroute(&c->net, rt);
        return;
    }
    lnet_sess_fallback(&c->net, ps, rp.net);
    /* user threads read the table under mu (leases) */
    pthread_mutex_lock(&c->mu);
    if (id >= c->cappeers) {
        int ncap = c->cappeers ? c->cappeers : 64;
        while (ncap <= id)
            ncap *= 2;
        cpeer *np = realloc(c->peers, (size_t)ncap * sizeof(*np));
        if (!np) {
            pthread_mutex_unlock(&c->mu);
            lnet_sess_close(&c->net, ps);
            lnet_unroute(&c->net, rt);
            return;
        }
        c->peers = np;
        for (int i = c->cappeers; i < ncap; i++)
            memset(&c->peers[i], 0, sizeof(c->peers[i]));
        c->cappeers = ncap;
    }
    cpeer *p = &c->peers[id];
    p->id = id;
    p->route = rt;
    p->sess = ps;
    p->same_host = !strcmp(rp.host, lc_hostname()) && !getenv("LOCUS_NO_MAP");
    p->no_map = 0;
    p->slots = p->out = 0;
    wire_wr_reset(&p->direct);
    wire_wr_reset(&p->rel);
    c->lease_asked = 0; /* a lease on it comes with the next request */
    pthread_mutex_unlock(&c->mu);
}

static void on_lease(locus_client *c, wire_rd *r)
{
    (void)wire_get_u64(r); /* request id */
    int id = (int)wire_get_u32(r);
    uint32_t slots = wire_get_u32(r);
    if (!wire_rd_ok(r))
        return;
    pthread_mutex_lock(&c->mu);
    cpeer *p = cpeer_get(c, id);
    if (p && p->sess)
        p->slots = slots;
    pthread_mutex_unlock(&c->mu);
}

/* RESULT from the scheduler (from 0), or from a worker we sent the task
   to ourselves. */
/* under mu: one RESULT; 1 when a future changed (waiters to wake) */
static int on_result_locked(locus_client *c, wire_rd *r, int from)
{
    uint64_t key = wire_get_u64(r);
    int status = wire_get_i32(r);
    int wk = (int)wire_get_u32(r);
    uint64_t nbytes = wire_get_u64(r);
    uint8_t inl = wire_get_u8(r);
    size_t n;
    const void *p = wire_get_bytes(r, &n);
    if (!wire_rd_ok(r))
        return 0;
    struct locus_future *f = lc_kt_get(&c->futures, key);
    if (f && from && (f->direct != from || status != 0))
        return 0; /* a worker answers only for what we sent it ourselves */
    if (f)
        client_drop_puts(c, f);
    if (f && f->direct && atomic_load(&f->state) == F_PENDING)
        client_direct_done(c, f);
    if (f && status == 0 && atomic_load(&f->state) == F_DONE) {
        /* computed again after its worker died: it lives elsewhere now */
        f->worker = wk;
        f->nbytes = nbytes;
    }
    if (f && atomic_load(&f->state) == F_PENDING) {
        f->status = status;
        f->worker = wk;
        f->nbytes = nbytes;
        if (status == 0) {
            if (inl) {
                f->data = malloc(n ? n : 1);
                if (f->data) {
                    memcpy(f->data, p, n);
                    f->len = n;
                    f->have_data = 1;
                }
            } else if (nbytes == 0) {
                f->have_data = 1;
            }
            atomic_store(&f->state, F_DONE);
        } else {
            f->errmsg = strndup(p ? p : "", n);
            atomic_store(&f->state, F_ERROR);
        }
        return 1;
    }
    return 0;
}

/* The RESULT in *r and those that follow it in the message (a batch of
   them, most often), under one hold of mu and one wake-up of waiters.
   Returns 1 with the first other record in *type / *r, 0 at the end. */
static int on_results(locus_client *c, wire_rd *msg, wire_rd *r, int *type,
                      int from)
{
    int woke = 0, more;
    pthread_mutex_lock(&c->mu);
    do {
        woke |= on_result_locked(c, r, from);
        more = wire_next(msg, type, r) == 1;
    } while (more && *type == REC_RESULT);
    if (woke)
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return more;
}

static void on_require_done(locus_client *c, wire_rd *r, int type)
{
    uint64_t id = wire_get_u64(r);
    if (!wire_rd_ok(r))
        return;
    pthread_mutex_lock(&c->mu);
    for (creq *q = c->reqs; q; q = q->next) {
        if (q->id != id)
            continue;
        if (type == REC_REQUIRE_DONE) {
            q->status = wire_get_i32(r);
            wire_get_str(r, q->msg, sizeof(q->msg));
        } else {
            size_t left = wire_rd_left(r);
            q->payload = malloc(left ? left : 1);
            if (q->payload) {
                memcpy(q->payload, r->p + r->off, left);
                q->len = left;
            } else {
                q->status = LOCUS_ENOMEM;
            }
        }
        if (!wire_rd_ok(r))
            q->status = LOCUS_EPROTO;
        q->done = 1;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

/* A worker is gone: close its session; values being fetched from it will
   not come. */
static void worker_gone(locus_client *c, int id)
{
    cpeer *p = cpeer_get(c, id);
    if (!p)
        return;
    pthread_mutex_lock(&c->mu);
    client_lease_end(c, p);
    lsess *ps = p->sess;
    p->sess = NULL;
    p->id = 0;
    pthread_mutex_unlock(&c->mu);
    lnet_sess_close(&c->net, ps);
    lnet_unroute(&c->net, p->route);
    struct locus_future *gone[64];
    int ngone;
    do {
        ngone = 0;
        size_t it = 0;
        uint64_t k;
        void *v;
        while (ngone < 64 && lc_map_next(&c->gets, &it, &k, &v))
            if (((struct locus_future *)v)->worker == id) {
                lc_map_del(&c->gets, k);
                gone[ngone++] = v;
            }
        for (int i = 0; i < ngone; i++)
            client_fetch_done(c, gone[i], LOCUS_ELOST,
                              "the worker holding the value died");
    } while (ngone == 64);
}

/* In-order records of the scheduler's session. */
static void on_sched_message(locus_client *c, lnet_in *in)
{
    wire_rd r;
    int type;
    int more = wire_next(&in->rd, &type, &r) == 1;
    for (; more; more = wire_next(&in->rd, &type, &r) == 1) {
        if (c->join.state != LJ_JOINED && type != REC_WELCOME)
            continue;
        /* a run of RESULTs, then the record that ended it (if any) */
        if (type == REC_RESULT && !on_results(c, &in->rd, &r, &type, 0))
            break;
        switch (type) {
        case REC_WELCOME:
            if (ljoin_on_welcome(&c->join, &r) != 0) {
                client_close_locked(c, locus_last_error());
                return;
            }
            pthread_mutex_lock(&c->mu);
            c->id = (int)c->join.id;
            c->heartbeat_ms = c->join.heartbeat_ms;
            if (c->join.dead_ms)
                c->net.dead_ms = c->join.dead_ms;
            c->state = C_JOINED;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            break;
        case REC_LEASE:
            on_lease(c, &r);
            break;
        case REC_REQUIRE_DONE:
        case REC_WORKERS:
            on_require_done(c, &r, type);
            break;
        case REC_STOPPING:
            client_on_stopping(c, &r);
            break;
        case REC_PEER:
            on_peer(c, &r);
            break;
        case REC_PEER_GONE: {
            int id = (int)wire_get_u32(&r);
            if (wire_rd_ok(&r))
                worker_gone(c, id);
            break;
        }
        case REC_GOODBYE:
            c->bye_confirmed = 1;
            break;
        case REC_SHUTDOWN: {
            char why[256], m[300];
            wire_get_str(&r, why, sizeof(why));
            snprintf(m, sizeof(m), "scheduler shut down: %s", why);
            client_close_locked(c, m);
            return;
        }
        default:
            break;
        }
    }
}

static void handle_input(locus_client *c, lnet_in *in)
{
    if (in->kind == LNET_IN_HANDSHAKE) {
        if (ljoin_on_handshake(&c->join, &c->net, &c->sf, in) != 0)
            client_close_locked(c, locus_last_error());
    } else if (in->kind == LNET_IN_READ) {
        client_on_read_event(c, &in->ev);
    } else if (in->kind == LNET_IN_BROKEN) {
        if (in->sess == c->join.sess)
            client_close_locked(c, "the scheduler is gone: it has acknowledged "
                                   "nothing for 10 s");
    } else if (in->kind == LNET_IN_MSG && in->sess == c->join.sess) {
        on_sched_message(c, in);
    } else if (in->kind == LNET_IN_MSG) {
        cpeer *w = cpeer_get(c, (int)in->sess->peer);
        wire_rd r;
        int type;
        int more = w && wire_next(&in->rd, &type, &r) == 1;
        while (more) {
            if (type == REC_RESULT) {
                more = on_results(c, &in->rd, &r, &type, w->id);
                continue;
            }
            if (type == REC_DATA)
                client_on_data(c, in->ep, &r);
            else if (type == REC_GET)
                client_on_get(c, w, &r);
            more = wire_next(&in->rd, &type, &r) == 1;
        }
    }
}

#define NIN 16

static void poll_once(locus_client *c, lnet_in *in, int *n)
{
    *n = lnet_poll(&c->net, in, NIN);
    for (int i = 0; i < *n; i++) {
        handle_input(c, &in[i]);
        lnet_done(&c->net, &in[i]);
    }
}

struct keep_ctx {
    locus_client *c;
    uint64_t now, oldest;
};

/* a booked task younger than LNET_LAZY_NS stays in the books: its client
   may still release it unbooked */
static int keep_young(void *ctx, uint64_t key, size_t new_off)
{
    struct keep_ctx *k = ctx;
    struct locus_future *f = lc_kt_get(&k->c->futures, key);
    if (!f || !f->booked || f->book_gen != k->c->books_gen ||
        k->now - f->book_ns >= LNET_LAZY_NS)
        return 0;
    f->book_off = new_off;
    f->book_gen = k->c->books_gen + 1;
    if (f->book_ns < k->oldest)
        k->oldest = f->book_ns;
    return 1;
}

/* under pmu and mu: the books into the scheduler's session, all of them
   (before a record that may name one, or they are many), or those that
   waited LNET_LAZY_NS (the rest stay); urgent: they have waited long
   enough, else they ride with what follows them */
static void client_books_flush(locus_client *c, uint64_t now, int all,
                               int urgent)
{
    wire_wr *o = NULL;
    if (c->join.sess)
        o = urgent ? lnet_out(&c->net, c->join.sess)
                   : lnet_out_lazy(&c->net, c->join.sess);
    struct keep_ctx k = {c, now, UINT64_MAX};
    if (o && all)
        wire_put_live(o, &c->books);
    else if (o)
        wire_books_split(&c->books, 4, o, &c->books_keep, keep_young, &k);
    wire_wr tmp = c->books;
    c->books = c->books_keep;
    c->books_keep = tmp;
    wire_wr_reset(&c->books_keep);
    c->books_gen++;
    c->books_dead = 0;
    c->books_ns = c->books.len ? k.oldest : 0;
}

/* Records user threads left in pending go into the scheduler's session
   (pmu held): after the ones this thread wrote itself. */
static struct locus_future *take_pending(locus_client *c)
{
    struct locus_future *fetches = NULL;
    pthread_mutex_lock(&c->mu);
    int joined = c->state == C_JOINED;
    if (joined) {
        /* swap buffers: user threads keep appending to a fresh one */
        wire_wr tmp = c->pending;
        c->pending = c->batch;
        c->batch = tmp;
        c->batch_lazy = c->pending_lazy;
        c->pending_lazy = 0;
        fetches = c->fetchq;
        c->fetchq = NULL;
    }
    if (joined) {
        /* tasks for leased workers: their SUBMIT_DIRECTs are in the books */
        for (int i = 0; i < c->nddirty; i++) {
            cpeer *p = cpeer_get(c, c->ddirty[i]);
            if (!p)
                continue;
            p->dirty = 0;
            if (p->sess && p->direct.nrec) {
                wire_wr *o = lnet_out(&c->net, p->sess);
                wire_put_raw(o, p->direct.buf, p->direct.len);
                o->nrec += p->direct.nrec;
            }
            if (p->sess && p->rel.nrec) {
                wire_wr *o = lnet_out_lazy(&c->net, p->sess);
                wire_put_raw(o, p->rel.buf, p->rel.len);
                o->nrec += p->rel.nrec;
            }
            wire_wr_reset(&p->direct);
            wire_wr_reset(&p->rel);
        }
        c->nddirty = 0;
        /* the books go before any record that may name a task in them
           (all but the RELEASEs of other tasks), or once they have waited
           long enough */
        if (c->books.len) {
            uint64_t now = lc_now_ns();
            int first = c->books_first || c->batch.nrec > c->batch_lazy;
            if (first || c->books.len - c->books_dead >= LNET_LAZY_BYTES)
                client_books_flush(c, now, 1, !first);
            else if (now - c->books_ns >= LNET_LAZY_NS ||
                     c->books.len >= LNET_LAZY_BYTES)
                client_books_flush(c, now, 0, 1);
        }
        c->books_first = 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (c->batch.nrec) {
        /* after the workers' COMPUTE_DIRECTs: those are on the critical
           path, the bookkeeping here is not */
        wire_wr *o = c->batch.nrec == c->batch_lazy
                         ? lnet_out_lazy(&c->net, c->join.sess)
                         : lnet_out(&c->net, c->join.sess);
        wire_put_raw(o, c->batch.buf, c->batch.len);
        o->nrec += c->batch.nrec;
        wire_wr_reset(&c->batch);
    }
    return fetches;
}

int client_pass(locus_client *c, int *backlog)
{
    lnet_in in[NIN];
    int n;
    poll_once(c, in, &n);
    struct locus_future *fetches = take_pending(c);
    ljoin_tick(&c->join, &c->net, &c->sf);
    uint64_t now = lc_now_ns();
    if (c->state == C_JOINED &&
        now - c->last_hb > (uint64_t)c->heartbeat_ms * 1000000ull) {
        wire_wr *o = lnet_out(&c->net, c->join.sess);
        wire_rec_begin(o, REC_HEARTBEAT);
        wire_put_u32(o, 0);
        wire_put_u32(o, 0);
        wire_put_u64(o, 0);
        for (int k = 0; k < WIRE_NCOUNTERS; k++)
            wire_put_u64(o, 0);
        wire_rec_end(o);
        c->last_hb = now;
    }
    if (fetches)
        client_send_gets(c, fetches);
    *backlog = lnet_flush(&c->net);
    if (n > 0)
        c->busy_ns = now;
    return n;
}

void client_kick(locus_client *c)
{
    if (pthread_mutex_trylock(&c->pmu) != 0) {
        lnet_wake(&c->net); /* its owner sends them */
        return;
    }
    char keep[LC_ERR_MAX];
    lc_err_save(keep);
    if (c->thr_started && c->state == C_JOINED) {
        struct locus_future *fetches = take_pending(c);
        if (fetches)
            client_send_gets(c, fetches);
        if (lnet_flush(&c->net))
            lnet_wake(&c->net); /* the rest is the progress thread's */
    } else {
        lnet_wake(&c->net);
    }
    lc_err_restore(keep);
    pthread_mutex_unlock(&c->pmu);
}

int client_cv_wait(locus_client *c, uint64_t deadline)
{
    uint64_t now = lc_now_ns();
    if (deadline != LC_DEADLINE_NONE && now >= deadline)
        return ETIMEDOUT;
    if (c->thr_started && !atomic_load(&c->stop) &&
        pthread_mutex_trylock(&c->pmu) == 0) {
        /* nobody drives: this thread does, one step; what fails inside
           (a send to a worker that died) is the progress thread's
           business, not the caller's last error */
        atomic_fetch_add(&c->drivers, 1);
        pthread_mutex_unlock(&c->mu);
        char keep[LC_ERR_MAX];
        lc_err_save(keep);
        int backlog;
        int n = client_pass(c, &backlog);
        if (n == 0) {
            int ms = backlog ? 1
                     : c->heartbeat_ms > 0 && c->heartbeat_ms < 200
                         ? c->heartbeat_ms
                         : 200;
            int left = lc_remaining_ms(deadline);
            if (left >= 0 && left < ms)
                ms = left;
            lnet_wait(&c->net, DRIVE_SPIN_US, ms);
        }
        lc_err_restore(keep);
        atomic_store(&c->drove_ns, lc_now_ns());
        atomic_fetch_sub(&c->drivers, 1);
        pthread_mutex_unlock(&c->pmu);
        pthread_mutex_lock(&c->mu);
        if (c->cv_waiters)
            pthread_cond_broadcast(&c->cv); /* one of them drives next */
        return 0;
    }
    /* someone drives.  If it is the progress thread, ask it to hand over:
       it parks and broadcasts, and the caller's loop comes back here. */
    int asked = 0;
    if (c->thr_started && !atomic_load(&c->drivers)) {
        atomic_fetch_add(&c->want, 1);
        lnet_wake(&c->net);
        asked = 1;
    }
    c->cv_waiters++;
    int rc = 0;
    if (deadline == LC_DEADLINE_NONE) {
        pthread_cond_wait(&c->cv, &c->mu);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t left = deadline - now;
        ts.tv_sec += (time_t)(left / 1000000000ull);
        ts.tv_nsec += (long)(left % 1000000000ull);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    c->cv_waiters--;
    if (asked)
        atomic_fetch_sub(&c->want, 1);
    return rc == ETIMEDOUT && lc_now_ns() < deadline ? 0 : rc;
}

/* The progress thread gives way while user threads drive, and for
   LINGER_NS after the last one: a user thread in a loop of submit and
   result then keeps the endpoints (no hand-off, no wake-up). */
static int give_way(locus_client *c)
{
    if (atomic_load(&c->want) || atomic_load(&c->drivers))
        return 1;
    uint64_t d = atomic_load(&c->drove_ns);
    return d && lc_now_ns() - d < LINGER_NS;
}

static void park(locus_client *c)
{
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->cv); /* those that asked take pmu now */
    while (!atomic_load(&c->stop) && give_way(c)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)LINGER_NS / 2;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->pcv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
}

static void trim(locus_client *c)
{
    /* idle for a second after work: the tables of a million futures, and
       the heap, shrink back */
    pthread_mutex_lock(&c->mu);
    lc_kt_shrink(&c->futures);
    lc_map_shrink(&c->puts);
    lc_map_shrink(&c->gets);
    wire_wr_shrink(&c->pending, 256u << 10);
    wire_wr_shrink(&c->books, 256u << 10);
    if (c->arena)
        arena_trim(c->arena);
    pthread_mutex_unlock(&c->mu);
    wire_wr_shrink(&c->batch, 256u << 10);
    lnet_trim(&c->net);
    lc_heap_trim();
}

void *client_progress_main(void *arg)
{
    locus_client *c = arg;
    lnet_in in[NIN];
    /* this thread lives as long as the endpoints are used: it publishes
       that the client lives (xport_alive) */
    lnet_alive(&c->net, 1);
    while (!atomic_load(&c->stop)) {
        if (give_way(c)) {
            park(c);
            continue;
        }
        pthread_mutex_lock(&c->pmu);
        int backlog;
        int n = client_pass(c, &backlog);
        uint64_t now = lc_now_ns();
        if (n == 0 && c->busy_ns && now - c->busy_ns > 1000000000ull) {
            trim(c);
            c->busy_ns = 0;
        }
        if (n == 0 && !give_way(c)) {
            pthread_mutex_lock(&c->mu);
            int books = c->books.len != 0;
            int idle = c->pending.nrec == 0 && !c->fetchq && !backlog;
            pthread_mutex_unlock(&c->mu);
            if (idle)
                /* the books go within LNET_LAZY_NS */
                lnet_wait(&c->net, -50,
                          books                 ? 1
                          : c->heartbeat_ms > 0 ? c->heartbeat_ms
                                                : 200);
            else if (backlog)
                lnet_wait(&c->net, 0, 1);
        }
        pthread_mutex_unlock(&c->pmu);
    }
    /* goodbye: everything sent before it is processed first, then the
       scheduler releases whatever we still hold and confirms */
    pthread_mutex_lock(&c->pmu);
    if (c->state == C_JOINED && c->join.sess) {
        pthread_mutex_lock(&c->mu);
        client_books_flush(c, 0, 1, 1);
        wire_wr *o = lnet_out(&c->net, c->join.sess);
        if (c->pending.nrec) {
            wire_put_raw(o, c->pending.buf, c->pending.len);
            o->nrec += c->pending.nrec;
            wire_wr_reset(&c->pending);
            c->pending_lazy = 0;
        }
        pthread_mutex_unlock(&c->mu);
        wire_rec_begin(o, REC_BYE);
        wire_rec_end(o);
        uint64_t until = lc_deadline_ms(c->timeout_ms);
        while (!c->bye_confirmed && c->state == C_JOINED &&
               !lc_expired(until)) {
            lnet_flush(&c->net);
            int n;
            poll_once(c, in, &n);
            if (n == 0 && !c->bye_confirmed)
                lnet_wait(&c->net, 20, 10);
        }
        /* acknowledge the GOODBYE, so that the scheduler can forget us */
        if (c->join.sess) {
            c->join.sess->ack_due = lc_now_ns();
            lnet_out(&c->net, c->join.sess);
            lnet_flush(&c->net);
        }
    }
    pthread_mutex_unlock(&c->pmu);
    lnet_alive(&c->net, 0);
    return NULL;
}

/* ---- connecting
 * --------------------------------------------------------------- */
