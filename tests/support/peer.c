/* SPDX-License-Identifier: BSD-3-Clause */
#include "peer.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "proto/auth.h"

int lt_peer_open(lt_peer *p, const char *file, const char *provider, int no_shm)
{
    memset(p, 0, sizeof(*p));
    int rc = auth_init();
    if (!rc)
        rc = schedfile_read(file, &p->sf);
    if (!rc)
        rc = lnet_open(&p->n, provider ? provider : p->sf.provider, NULL, NULL,
                       no_shm);
    if (rc)
        return rc;
    p->open = 1;
    rc = lnet_route_to(&p->n, p->sf.host, p->sf.net_addr, p->sf.shm_addr,
                       &p->sched);
    if (rc) {
        lt_peer_close(p);
        return rc;
    }
    return 0;
}

void lt_peer_close(lt_peer *p)
{
    if (p->open)
        lnet_close(&p->n);
    p->open = 0;
}

static void queue(lt_peer *p, int type, const wire_rd *r)
{
    if (p->qlen == 256) { /* full: drop the oldest */
        p->qhead = (p->qhead + 1) % 256;
        p->qlen--;
    }
    lt_rec *q = &p->q[(p->qhead + p->qlen) % 256];
    q->type = type;
    q->n = r->len < sizeof(q->p) ? r->len : sizeof(q->p);
    memcpy(q->p, r->p, q->n);
    p->qlen++;
}

void lt_peer_pump(lt_peer *p, int ms)
{
    uint64_t end = lc_now_ns() + (uint64_t)ms * 1000000ull;
    do {
        lnet_flush(&p->n);
        lnet_in in[16];
        int k = lnet_poll(&p->n, in, 16);
        for (int i = 0; i < k; i++) {
            if (in[i].kind == LNET_IN_HANDSHAKE) {
                wire_rd save = in[i].rd, r;
                int type;
                while (wire_next(&save, &type, &r) == 1)
                    if (type == REC_REFUSE) {
                        p->refused = 1;
                        wire_get_str(&r, p->why, sizeof(p->why));
                    }
                if (!p->refused && p->j.state)
                    ljoin_on_handshake(&p->j, &p->n, &p->sf, &in[i]);
            } else if (in[i].kind == LNET_IN_MSG) {
                wire_rd r;
                int type;
                while (wire_next(&in[i].rd, &type, &r) == 1) {
                    if (type == REC_WELCOME && p->j.state == LJ_AUTH) {
                        wire_rd w = r;
                        ljoin_on_welcome(&p->j, &w);
                    }
                    queue(p, type, &r);
                }
            }
            lnet_done(&p->n, &in[i]);
        }
        if (p->j.state == LJ_HELLO)
            ljoin_tick(&p->j, &p->n, &p->sf);
        if (k == 0)
            lnet_wait(&p->n, 0, 1);
    } while (lc_now_ns() < end);
}

int lt_peer_join(lt_peer *p, int role, int timeout_ms)
{
    ljoin_init(&p->j, &p->n, &p->sf, p->sched, role,
               role == ROLE_WORKER ? 0 : -1, role == ROLE_WORKER ? "0" : "",
               role == ROLE_WORKER ? 1 : 0);
    p->refused = 0;
    uint64_t end = lc_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (p->j.state != LJ_JOINED && !p->refused && lc_now_ns() < end)
        lt_peer_pump(p, 5);
    if (p->refused)
        return lc_seterr(LOCUS_EAUTH, "test", "refused: %s", p->why);
    if (p->j.state != LJ_JOINED)
        return lc_seterr(LOCUS_ETIMEDOUT, "test",
                         "not welcomed within %d "
                         "ms (state %d)",
                         timeout_ms, p->j.state);
    return (int)p->j.id;
}

void lt_peer_send(lt_peer *p, wire_wr *w)
{
    wire_wr *o = lnet_out(&p->n, p->j.sess);
    wire_put_raw(o, w->buf, w->len);
    o->nrec += w->nrec;
    wire_wr_reset(w);
    lnet_flush(&p->n);
}

int lt_peer_recv(lt_peer *p, int want, uint8_t *payload, size_t *n, int ms)
{
    uint64_t end = lc_now_ns() + (uint64_t)ms * 1000000ull;
    for (;;) {
        while (p->qlen) {
            lt_rec *q = &p->q[p->qhead];
            p->qhead = (p->qhead + 1) % 256;
            p->qlen--;
            if (q->type == want) {
                if (payload) {
                    memcpy(payload, q->p, q->n);
                    *n = q->n;
                }
                return want;
            }
        }
        if (lc_now_ns() >= end)
            return 0;
        lt_peer_pump(p, 2);
    }
}

int lt_peer_bye(lt_peer *p, int ms)
{
    wire_wr w;
    wire_wr_init(&w);
    wire_rec_begin(&w, REC_BYE);
    wire_rec_end(&w);
    lt_peer_send(p, &w);
    wire_wr_free(&w);
    int got = lt_peer_recv(p, REC_GOODBYE, NULL, NULL, ms);
    /* our acknowledgement of the GOODBYE */
    if (p->j.sess)
        p->j.sess->ack_due = lc_now_ns();
    lnet_out(&p->n, p->j.sess);
    lnet_flush(&p->n);
    return got == REC_GOODBYE ? 0 : LOCUS_ETIMEDOUT;
}
