/* SPDX-License-Identifier: BSD-3-Clause */
/* The progress thread: joining, the scheduler's records, heartbeats, the
 * goodbye. */
#include "client/client_int.h"

#include <malloc.h>

static void on_peer(locus_client *c, wire_rd *r)
{
    rec_peer rp;
    if (rec_get_peer(r, &rp) != 0 || rp.role != ROLE_WORKER)
        return;
    int id = (int)rp.id;
    if (id >= c->cappeers) {
        int ncap = c->cappeers ? c->cappeers : 64;
        while (ncap <= id)
            ncap *= 2;
        cpeer *np = realloc(c->peers, (size_t)ncap * sizeof(*np));
        if (!np)
            return;
        c->peers = np;
        for (int i = c->cappeers; i < ncap; i++)
            memset(&c->peers[i], 0, sizeof(c->peers[i]));
        c->cappeers = ncap;
    }
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
    c->peers[id].id = id;
    c->peers[id].route = rt;
    c->peers[id].sess = ps;
    c->peers[id].same_host =
        !strcmp(rp.host, lc_hostname()) && !getenv("LOCUS_NO_MAP");
    c->peers[id].no_map = 0;
}

static void on_result(locus_client *c, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    int status = wire_get_i32(r);
    int wk = (int)wire_get_u32(r);
    uint64_t nbytes = wire_get_u64(r);
    uint8_t inl = wire_get_u8(r);
    size_t n;
    const void *p = wire_get_bytes(r, &n);
    if (!wire_rd_ok(r))
        return;
    pthread_mutex_lock(&c->mu);
    struct locus_future *f = lc_map_get(&c->futures, key);
    if (f)
        client_drop_puts(c, f);
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
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
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
    lnet_sess_close(&c->net, p->sess);
    lnet_unroute(&c->net, p->route);
    p->sess = NULL;
    p->id = 0;
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
    while (wire_next(&in->rd, &type, &r) == 1) {
        if (c->join.state != LJ_JOINED && type != REC_WELCOME)
            continue;
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
        case REC_RESULT:
            on_result(c, &r);
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
        while (w && wire_next(&in->rd, &type, &r) == 1) {
            if (type == REC_DATA)
                client_on_data(c, in->ep, &r);
            else if (type == REC_GET)
                client_on_get(c, w, &r);
        }
    }
}

static void poll_once(locus_client *c, lnet_in *in, int *n)
{
    *n = lnet_poll(&c->net, in, 64);
    for (int i = 0; i < *n; i++) {
        handle_input(c, &in[i]);
        lnet_done(&c->net, &in[i]);
    }
}

void *client_progress_main(void *arg)
{
    locus_client *c = arg;
    wire_wr batch;
    wire_wr_init(&batch);
    lnet_in in[64];
    uint64_t last_hb = lc_now_ns(), busy_ns = 0;
    while (!atomic_load(&c->stop)) {
        int n;
        poll_once(c, in, &n);
        pthread_mutex_lock(&c->mu);
        int joined = c->state == C_JOINED;
        struct locus_future *fetches = NULL;
        if (joined) {
            /* swap buffers: user threads keep appending to a fresh one */
            wire_wr tmp = c->pending;
            c->pending = batch;
            batch = tmp;
            fetches = c->fetchq;
            c->fetchq = NULL;
        }
        pthread_mutex_unlock(&c->mu);
        if (batch.nrec) {
            /* records of the batch go after the thread's own */
            wire_wr *o = lnet_out(&c->net, c->join.sess);
            wire_put_raw(o, batch.buf, batch.len);
            o->nrec += batch.nrec;
            wire_wr_reset(&batch);
        }
        ljoin_tick(&c->join, &c->net, &c->sf);
        uint64_t now = lc_now_ns();
        if (joined && now - last_hb > (uint64_t)c->heartbeat_ms * 1000000ull) {
            wire_wr *o = lnet_out(&c->net, c->join.sess);
            wire_rec_begin(o, REC_HEARTBEAT);
            wire_put_u32(o, 0);
            wire_put_u32(o, 0);
            wire_put_u64(o, 0);
            for (int k = 0; k < WIRE_NCOUNTERS; k++)
                wire_put_u64(o, 0);
            wire_rec_end(o);
            last_hb = now;
        }
        if (fetches)
            client_send_gets(c, fetches);
        int backlog = lnet_flush(&c->net);
        if (n > 0) {
            busy_ns = now;
        } else if (busy_ns && now - busy_ns > 1000000000ull) {
            /* idle for a second after work: the tables of a million
               futures, and the heap, shrink back */
            pthread_mutex_lock(&c->mu);
            lc_map_shrink(&c->futures);
            lc_map_shrink(&c->puts);
            lc_map_shrink(&c->gets);
            wire_wr_shrink(&c->pending, 256u << 10);
            if (c->arena)
                arena_trim(c->arena);
            pthread_mutex_unlock(&c->mu);
            wire_wr_shrink(&batch, 256u << 10);
            lnet_trim(&c->net);
            malloc_trim(0);
            busy_ns = 0;
        }
        if (n == 0) {
            pthread_mutex_lock(&c->mu);
            int idle = c->pending.nrec == 0 && !c->fetchq && !backlog;
            if (idle)
                c->sleeping = 1;
            pthread_mutex_unlock(&c->mu);
            if (idle)
                lnet_wait(&c->net, 50,
                          c->heartbeat_ms > 0 ? c->heartbeat_ms : 200);
            else if (backlog)
                lnet_wait(&c->net, 0, 1);
            pthread_mutex_lock(&c->mu);
            c->sleeping = 0;
            pthread_mutex_unlock(&c->mu);
        }
    }
    /* goodbye: everything sent before it is processed first, then the
       scheduler releases whatever we still hold and confirms */
    if (c->state == C_JOINED && c->join.sess) {
        wire_wr *o = lnet_out(&c->net, c->join.sess);
        pthread_mutex_lock(&c->mu);
        if (c->pending.nrec) {
            wire_put_raw(o, c->pending.buf, c->pending.len);
            o->nrec += c->pending.nrec;
            wire_wr_reset(&c->pending);
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
    wire_wr_free(&batch);
    return NULL;
}

/* ---- connecting
 * --------------------------------------------------------------- */
