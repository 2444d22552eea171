/* SPDX-License-Identifier: BSD-3-Clause */
#include "net/join.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"

void ljoin_init(ljoin *j, lnet *n, const schedfile *sf, lnet_route sched,
                int role, int numa, const char *cpuset, int nthreads)
{
    memset(j, 0, sizeof(*j));
    j->state = LJ_HELLO;
    j->route = sched;
    j->hello_route = sched;
    if (sched.ep == LNET_SHM && n->ep[LNET_NET]) {
        lnet_route r = {LNET_NET, 0};
        if (lnet_insert(n, LNET_NET, sf->net_addr, &r.addr) == 0)
            j->hello_route = r;
    }
    auth_random(&j->sid, sizeof(j->sid));
    rec_hello *h = &j->hello;
    h->role = (uint8_t)role;
    auth_random(h->nonce, AUTH_NONCE_LEN);
    snprintf(h->host, sizeof(h->host), "%s", lc_hostname());
    h->pid = (uint32_t)getpid();
    snprintf(h->net, sizeof(h->net), "%s", n->name[LNET_NET]);
    snprintf(h->shm, sizeof(h->shm), "%s", n->name[LNET_SHM]);
    h->numa = numa;
    snprintf(h->cpuset, sizeof(h->cpuset), "%s", cpuset ? cpuset : "");
    h->nthreads = (uint32_t)nthreads;
    snprintf(h->job, sizeof(h->job), "%s", sf->job_id);
}

void ljoin_tick(ljoin *j, lnet *n, const schedfile *sf)
{
    (void)sf;
    uint64_t now = lc_now_ns();
    if (j->state != LJ_HELLO ||
        (j->hello_ns && now - j->hello_ns < 500000000ull))
        return;
    wire_wr w;
    wire_wr_init(&w);
    rec_put_hello(&w, &j->hello);
    int rc = lnet_send_handshake(n, j->hello_route, LNET_SCHED_ID, j->sid, &w,
                                 lc_deadline_ms(100));
    if (rc)
        lc_log(LC_LOG_DEBUG, "xport", "HELLO: %s (sent again in 500 ms)",
               locus_last_error());
    wire_wr_free(&w);
    j->hello_ns = now;
}

int ljoin_on_handshake(ljoin *j, lnet *n, const schedfile *sf, lnet_in *in)
{
    wire_rd r;
    int type;
    if (in->hdr.sid != j->sid)
        return 0; /* not an answer to our HELLO */
    while (wire_next(&in->rd, &type, &r) == 1) {
        if (type == REC_REFUSE) {
            char why[256];
            wire_get_str(&r, why, sizeof(why));
            return lc_seterr(LOCUS_EAUTH, "xport",
                             "refused by the "
                             "scheduler: %s",
                             wire_rd_ok(&r) ? why : "?");
        }
        if (type != REC_CHALLENGE || j->state != LJ_HELLO)
            continue; /* a late duplicate */
        rec_challenge c;
        if (rec_get_challenge(&r, &c) != 0)
            continue;
        uint8_t want[AUTH_MAC_LEN], mac[AUTH_MAC_LEN];
        auth_mac(sf->key, "locus-sched", j->hello.nonce, AUTH_NONCE_LEN,
                 sf->job_id, strlen(sf->job_id), want);
        if (!auth_equal(c.mac, want))
            return lc_seterr(LOCUS_EAUTH, "xport",
                             "the scheduler could not "
                             "prove it has the cluster key");
        if (c.id == LNET_SCHED_ID || c.id >= (1u << 24))
            return lc_seterr(LOCUS_EAUTH, "xport",
                             "the scheduler gave us "
                             "the invalid id %u",
                             c.id);
        uint8_t ktx[AUTH_KEY_LEN], krx[AUTH_KEY_LEN];
        lnet_keys_sched(sf->key, j->hello.nonce, c.snonce, 0, ktx, krx);
        n->self = c.id;
        j->id = c.id;
        j->sess = lnet_sess_open(n, LNET_SCHED_ID, j->sid, ktx, krx, j->route);
        sodium_memzero(ktx, sizeof(ktx));
        sodium_memzero(krx, sizeof(krx));
        if (!j->sess)
            return lc_seterr(LOCUS_ENOMEM, "xport",
                             "no memory for the "
                             "scheduler session");
        lnet_sess_fallback(n, j->sess, sf->net_addr);
        auth_mac(sf->key, "locus-peer", c.snonce, AUTH_NONCE_LEN,
                 j->hello.nonce, AUTH_NONCE_LEN, mac);
        wire_wr *o = lnet_out(n, j->sess);
        wire_rec_begin(o, REC_AUTH);
        wire_put_raw(o, mac, AUTH_MAC_LEN);
        wire_rec_end(o);
        j->state = LJ_AUTH;
        if (j->hello_route.ep != j->route.ep) {
            lnet_unroute(n, j->hello_route);
            j->hello_route = j->route;
        }
    }
    return 0;
}

int ljoin_on_welcome(ljoin *j, wire_rd *r)
{
    uint32_t id = wire_get_u32(r);
    int hb = (int)wire_get_u32(r);
    if (!wire_rd_ok(r) || id != j->id)
        return lc_seterr(LOCUS_EPROTO, "xport", "malformed WELCOME");
    j->heartbeat_ms = hb > 0 && hb <= 60000 ? hb : 500;
    /* optional: the cluster's deadline for unacknowledged messages, so
       that a peer notices a lost scheduler as fast as it is noticed */
    wire_rd rest = *r;
    uint32_t dead = wire_get_u32(&rest);
    j->dead_ms =
        wire_rd_ok(&rest) && dead >= 100 && dead <= 3600000 ? (int)dead : 0;
    j->state = LJ_JOINED;
    return 0;
}
