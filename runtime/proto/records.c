/* SPDX-License-Identifier: BSD-3-Clause */
#include "proto/records.h"

#include <string.h>

#include "base/base.h"

static int done(wire_rd *r, const char *what)
{
    if (!wire_rd_ok(r))
        return lc_seterr(LOCUS_EPROTO, "wire", "malformed %s record", what);
    return 0;
}

void rec_put_hello(wire_wr *w, const rec_hello *h)
{
    wire_rec_begin(w, REC_HELLO);
    wire_put_u8(w, h->role);
    wire_put_raw(w, h->nonce, AUTH_NONCE_LEN);
    wire_put_str(w, h->host);
    wire_put_u32(w, h->pid);
    wire_put_str(w, h->net);
    wire_put_str(w, h->shm);
    wire_put_i32(w, h->numa);
    wire_put_str(w, h->cpuset);
    wire_put_u32(w, h->nthreads);
    wire_put_str(w, h->job);
    wire_rec_end(w);
}

int rec_get_hello(wire_rd *r, rec_hello *h)
{
    memset(h, 0, sizeof(*h));
    h->role = wire_get_u8(r);
    const void *nonce = wire_get_raw(r, AUTH_NONCE_LEN);
    if (nonce)
        memcpy(h->nonce, nonce, AUTH_NONCE_LEN);
    wire_get_str(r, h->host, sizeof(h->host));
    h->pid = wire_get_u32(r);
    wire_get_str(r, h->net, sizeof(h->net));
    wire_get_str(r, h->shm, sizeof(h->shm));
    h->numa = wire_get_i32(r);
    wire_get_str(r, h->cpuset, sizeof(h->cpuset));
    h->nthreads = wire_get_u32(r);
    wire_get_str(r, h->job, sizeof(h->job));
    if (wire_rd_ok(r) && h->role != ROLE_WORKER && h->role != ROLE_CLIENT)
        r->bad = 1;
    return done(r, "HELLO");
}

void rec_put_challenge(wire_wr *w, const rec_challenge *c)
{
    wire_rec_begin(w, REC_CHALLENGE);
    wire_put_raw(w, c->snonce, AUTH_NONCE_LEN);
    wire_put_raw(w, c->mac, AUTH_MAC_LEN);
    wire_put_u32(w, c->id);
    wire_rec_end(w);
}

int rec_get_challenge(wire_rd *r, rec_challenge *c)
{
    const void *sn = wire_get_raw(r, AUTH_NONCE_LEN);
    const void *mac = wire_get_raw(r, AUTH_MAC_LEN);
    c->id = wire_get_u32(r);
    if (sn && mac) {
        memcpy(c->snonce, sn, AUTH_NONCE_LEN);
        memcpy(c->mac, mac, AUTH_MAC_LEN);
    }
    return done(r, "CHALLENGE");
}

void rec_put_peer(wire_wr *w, const rec_peer *p)
{
    wire_rec_begin(w, REC_PEER);
    wire_put_u32(w, p->id);
    wire_put_u8(w, p->role);
    wire_put_str(w, p->host);
    wire_put_u32(w, p->pid);
    wire_put_str(w, p->net);
    wire_put_str(w, p->shm);
    wire_put_u64(w, p->sid);
    wire_rec_end(w);
}

int rec_get_peer(wire_rd *r, rec_peer *p)
{
    memset(p, 0, sizeof(*p));
    p->id = wire_get_u32(r);
    p->role = wire_get_u8(r);
    wire_get_str(r, p->host, sizeof(p->host));
    p->pid = wire_get_u32(r);
    wire_get_str(r, p->net, sizeof(p->net));
    wire_get_str(r, p->shm, sizeof(p->shm));
    p->sid = wire_get_u64(r);
    if (wire_rd_ok(r) && (p->id == 0 || p->id >= (1u << 24)))
        r->bad = 1;
    return done(r, "PEER");
}

/* s cut to REC_REASON_MAX - 1 bytes, at a UTF-8 character boundary */
static void put_reason(wire_wr *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= REC_REASON_MAX) {
        n = REC_REASON_MAX - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    wire_put_bytes(w, s ? s : "", n);
}

void rec_put_stop(wire_wr *w, uint64_t req, const char *reason)
{
    wire_rec_begin(w, REC_STOP);
    wire_put_u64(w, req);
    put_reason(w, reason);
    wire_rec_end(w);
}

int rec_get_stop(wire_rd *r, uint64_t *req, char reason[REC_REASON_MAX])
{
    *req = wire_get_u64(r);
    wire_get_str(r, reason, REC_REASON_MAX);
    return done(r, "STOP");
}

void rec_put_stopping(wire_wr *w, uint64_t req, int status, const char *msg)
{
    wire_rec_begin(w, REC_STOPPING);
    wire_put_u64(w, req);
    wire_put_i32(w, status);
    put_reason(w, msg);
    wire_rec_end(w);
}

int rec_get_stopping(wire_rd *r, uint64_t *req, int *status,
                     char msg[REC_REASON_MAX])
{
    *req = wire_get_u64(r);
    *status = wire_get_i32(r);
    wire_get_str(r, msg, REC_REASON_MAX);
    if (wire_rd_ok(r) && *status > 0)
        r->bad = 1; /* 0 or a LOCUS_E* code */
    return done(r, "STOPPING");
}

void rec_put_get(wire_wr *w, uint64_t req, uint64_t key, int may_map)
{
    wire_rec_begin(w, REC_GET);
    wire_put_u64(w, req);
    wire_put_u64(w, key);
    wire_put_u8(w, (uint8_t)(may_map != 0));
    wire_rec_end(w);
}

int rec_get_get(wire_rd *r, uint64_t *req, uint64_t *key, int *may_map)
{
    *req = wire_get_u64(r);
    *key = wire_get_u64(r);
    *may_map = wire_get_u8(r);
    return done(r, "GET");
}

void rec_put_data(wire_wr *w, const rec_data *d)
{
    wire_rec_begin(w, REC_DATA);
    wire_put_u64(w, d->req);
    wire_put_i32(w, d->status);
    wire_put_u64(w, d->status ? 0 : d->nbytes);
    wire_put_u8(w, d->status ? DATA_INLINE : d->mode);
    if (d->status || d->mode == DATA_INLINE) {
        wire_put_bytes(w, d->bytes, d->nbytes_inline);
    } else if (d->mode == DATA_RMA) {
        wire_put_u64(w, d->rk.len);
        wire_put_bytes(w, d->rk.key,
                       d->rk.size <= XPORT_RKEY_MAX ? d->rk.size : 0);
    } else {
        wire_put_str(w, d->segment);
        wire_put_u64(w, d->seg_len);
        wire_put_u64(w, d->offset);
        wire_put_u8(w, d->dedicated);
    }
    wire_rec_end(w);
}

void rec_put_data_error(wire_wr *w, uint64_t req, int status, const char *msg)
{
    rec_data d;
    memset(&d, 0, sizeof(d));
    d.req = req;
    d.status = status;
    d.bytes = msg;
    d.nbytes_inline = msg ? strlen(msg) : 0;
    rec_put_data(w, &d);
}

int rec_get_data(wire_rd *r, rec_data *d)
{
    memset(d, 0, sizeof(*d));
    d->req = wire_get_u64(r);
    d->status = wire_get_i32(r);
    d->nbytes = wire_get_u64(r);
    d->mode = wire_get_u8(r);
    if (d->status || d->mode == DATA_INLINE) {
        d->bytes = wire_get_bytes(r, &d->nbytes_inline);
        if (!d->status && wire_rd_ok(r) && d->nbytes_inline != d->nbytes)
            r->bad = 1;
    } else if (d->mode == DATA_RMA) {
        d->rk.len = wire_get_u64(r);
        size_t n = 0;
        const void *key = wire_get_bytes(r, &n);
        if (wire_rd_ok(r) && (n == 0 || n > XPORT_RKEY_MAX))
            return lc_seterr(LOCUS_EPROTO, "wire",
                             "malformed DATA record: a remote key of %zu "
                             "bytes (1..%d allowed)",
                             n, XPORT_RKEY_MAX);
        if (wire_rd_ok(r)) {
            memcpy(d->rk.key, key, n);
            d->rk.size = (uint32_t)n;
            if (d->nbytes > d->rk.len)
                r->bad = 1; /* the value would not fit the region */
        }
    } else if (d->mode == DATA_SHM) {
        wire_get_str(r, d->segment, sizeof(d->segment));
        d->seg_len = wire_get_u64(r);
        d->offset = wire_get_u64(r);
        d->dedicated = wire_get_u8(r);
        if (wire_rd_ok(r) &&
            (d->offset > d->seg_len || d->nbytes > d->seg_len - d->offset))
            r->bad = 1;
    } else {
        r->bad = 1;
    }
    return done(r, "DATA");
}
