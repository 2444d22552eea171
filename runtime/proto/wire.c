/* SPDX-License-Identifier: BSD-3-Clause */
#include "proto/wire.h"

#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static const char *rec_names[REC_TYPE_MAX] = {
    [REC_HELLO] = "HELLO",
    [REC_CHALLENGE] = "CHALLENGE",
    [REC_AUTH] = "AUTH",
    [REC_WELCOME] = "WELCOME",
    [REC_REFUSE] = "REFUSE",
    [REC_PEER] = "PEER",
    [REC_PEER_GONE] = "PEER_GONE",
    [REC_HEARTBEAT] = "HEARTBEAT",
    [REC_BYE] = "BYE",
    [REC_SHUTDOWN] = "SHUTDOWN",
    [REC_GOODBYE] = "GOODBYE",
    [REC_STEAL] = "STEAL",
    [REC_STOLEN] = "STOLEN",
    [REC_REPLACES] = "REPLACES",
    [REC_SUBMIT] = "SUBMIT",
    [REC_RELEASE] = "RELEASE",
    [REC_CANCEL] = "CANCEL",
    [REC_REQUIRE] = "REQUIRE",
    [REC_WORKERS_REQ] = "WORKERS_REQ",
    [REC_RESULT] = "RESULT",
    [REC_REQUIRE_DONE] = "REQUIRE_DONE",
    [REC_WORKERS] = "WORKERS",
    [REC_STOP] = "STOP",
    [REC_STOPPING] = "STOPPING",
    [REC_COMPUTE] = "COMPUTE",
    [REC_FREE] = "FREE",
    [REC_LOAD_LIB] = "LOAD_LIB",
    [REC_DONE] = "DONE",
    [REC_LIB_LOADED] = "LIB_LOADED",
    [REC_GET] = "GET",
    [REC_DATA] = "DATA",
    [REC_LEASE_REQ] = "LEASE_REQ",
    [REC_SUBMIT_DIRECT] = "SUBMIT_DIRECT",
    [REC_LEASE] = "LEASE",
    [REC_COMPUTE_DIRECT] = "COMPUTE_DIRECT",
    [REC_RELEASE_DIRECT] = "RELEASE_DIRECT",
    [REC_DIRECT_GONE] = "DIRECT_GONE",
};

const char *wire_rec_name(int type)
{
    if (type > 0 && type < REC_TYPE_MAX && rec_names[type])
        return rec_names[type];
    return "?";
}

void wire_wr_init(wire_wr *w)
{
    memset(w, 0, sizeof(*w));
}

void wire_wr_free(wire_wr *w)
{
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

void wire_wr_reset(wire_wr *w)
{
    w->len = 0;
    w->nrec = 0;
    w->err = 0;
}

static uint8_t *grow(wire_wr *w, size_t n)
{
    if (w->err)
        return NULL;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->err = LOCUS_ENOMEM;
            return NULL;
        }
        w->buf = nb;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#define PUT(w, v, n)                                                           \
    do {                                                                       \
        uint8_t *p_ = grow((w), (n));                                          \
        if (p_)                                                                \
            put_le(p_, (v), (n));                                              \
    } while (0)

void wire_put_u8(wire_wr *w, uint8_t v)
{
    PUT(w, v, 1);
}
void wire_put_u16(wire_wr *w, uint16_t v)
{
    PUT(w, v, 2);
}
void wire_put_u32(wire_wr *w, uint32_t v)
{
    PUT(w, v, 4);
}
void wire_put_u64(wire_wr *w, uint64_t v)
{
    PUT(w, v, 8);
}
void wire_put_i32(wire_wr *w, int32_t v)
{
    PUT(w, (uint32_t)v, 4);
}

void wire_put_raw(wire_wr *w, const void *src, size_t n)
{
    uint8_t *p = grow(w, n);
    if (p && n)
        memcpy(p, src, n);
}

void wire_put_bytes(wire_wr *w, const void *src, size_t n)
{
    if (n > UINT32_MAX) {
        w->err = LOCUS_EMSGSIZE;
        return;
    }
    wire_put_u32(w, (uint32_t)n);
    wire_put_raw(w, src, n);
}

void wire_put_str(wire_wr *w, const char *s)
{
    wire_put_bytes(w, s ? s : "", s ? strlen(s) : 0);
}

void wire_rec_begin(wire_wr *w, int type)
{
    w->rec_start = w->len;
    wire_put_u16(w, (uint16_t)type);
    wire_put_u32(w, 0);
}

void wire_rec_end(wire_wr *w)
{
    if (w->err)
        return;
    size_t plen = w->len - w->rec_start - WIRE_REC_HDR_LEN;
    put_le(w->buf + w->rec_start + 2, plen, 4);
    w->nrec++;
}

size_t wire_take(const wire_wr *w, size_t *off, size_t room)
{
    size_t start = *off, o = *off;
    while (o + WIRE_REC_HDR_LEN <= w->len) {
        size_t rlen = WIRE_REC_HDR_LEN + (size_t)get_le(w->buf + o + 2, 4);
        if (o - start + rlen > room)
            break;
        o += rlen;
    }
    *off = o;
    return o - start;
}

/* a taken-back record's type: no record has type 0 */
#define REC_KILLED 0

size_t wire_rec_kill(wire_wr *w, size_t off)
{
    if (off + WIRE_REC_HDR_LEN > w->len)
        return 0;
    put_le(w->buf + off, REC_KILLED, 2);
    return WIRE_REC_HDR_LEN + (size_t)get_le(w->buf + off + 2, 4);
}

void wire_books_split(const wire_wr *src, size_t key_off, wire_wr *send,
                      wire_wr *keep, wire_young_fn young, void *ctx)
{
    size_t o = 0;
    while (o + WIRE_REC_HDR_LEN <= src->len) {
        const uint8_t *rec = src->buf + o;
        size_t plen = (size_t)get_le(rec + 2, 4);
        size_t rlen = WIRE_REC_HDR_LEN + plen;
        if (rlen > src->len - o)
            break;
        if (get_le(rec, 2) != REC_KILLED) {
            int k = plen >= key_off + 8 &&
                    young(ctx, get_le(rec + WIRE_REC_HDR_LEN + key_off, 8),
                          keep->len);
            wire_wr *to = k ? keep : send;
            wire_put_raw(to, rec, rlen);
            to->nrec++;
        }
        o += rlen;
    }
}

uint32_t wire_put_live(wire_wr *dst, const wire_wr *src)
{
    uint32_t n = 0;
    size_t o = 0, run = 0; /* a run of live records, copied at once */
    while (o + WIRE_REC_HDR_LEN <= src->len) {
        size_t rlen = WIRE_REC_HDR_LEN + (size_t)get_le(src->buf + o + 2, 4);
        if (rlen > src->len - o)
            break;
        if (get_le(src->buf + o, 2) == REC_KILLED) {
            wire_put_raw(dst, src->buf + run, o - run);
            run = o + rlen;
        } else {
            n++;
        }
        o += rlen;
    }
    wire_put_raw(dst, src->buf + run, o - run);
    dst->nrec += n;
    return n;
}

void wire_le_put(uint8_t *p, uint64_t v, int n)
{
    put_le(p, v, n);
}

uint64_t wire_le_get(const uint8_t *p, int n)
{
    return get_le(p, n);
}

void wire_rd_init(wire_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->bad = 0;
}

static const uint8_t *take(wire_rd *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

#define GET(r, n)                                                              \
    do {                                                                       \
        const uint8_t *p_ = take((r), (n));                                    \
        return p_ ? get_le(p_, (n)) : 0;                                       \
    } while (0)

uint8_t wire_get_u8(wire_rd *r)
{
    GET(r, 1);
}
uint16_t wire_get_u16(wire_rd *r)
{
    GET(r, 2);
}
uint32_t wire_get_u32(wire_rd *r)
{
    GET(r, 4);
}
uint64_t wire_get_u64(wire_rd *r)
{
    GET(r, 8);
}
int32_t wire_get_i32(wire_rd *r)
{
    return (int32_t)wire_get_u32(r);
}

const void *wire_get_raw(wire_rd *r, size_t n)
{
    return take(r, n);
}

const void *wire_get_bytes(wire_rd *r, size_t *n)
{
    uint32_t len = wire_get_u32(r);
    const void *p = take(r, len);
    *n = p ? len : 0;
    return p;
}

void wire_get_str(wire_rd *r, char *buf, size_t len)
{
    size_t n;
    const char *p = wire_get_bytes(r, &n);
    if (!p || n >= len || memchr(p, '\0', n)) {
        r->bad = 1;
        if (len)
            buf[0] = '\0';
        return;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
}

int wire_next(wire_rd *records, int *type, wire_rd *payload)
{
    if (wire_rd_left(records) == 0 && !records->bad)
        return 0;
    *type = wire_get_u16(records);
    uint32_t n = wire_get_u32(records);
    const void *p = take(records, n);
    if (!p)
        return lc_seterr(LOCUS_EPROTO, "wire", "truncated record (type %d)",
                         *type);
    wire_rd_init(payload, p, n);
    return 1;
}

void wire_wr_shrink(wire_wr *w, size_t keep)
{
    if (w->len == 0 && w->cap > keep) {
        wire_wr_free(w);
        wire_wr_init(w);
    }
}
