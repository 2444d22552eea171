/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libfabric plugin: memory registration and chunked RMA reads.
 *
 * The mr_mode bits are duties: FI_MR_LOCAL (descriptors for local buffers,
 * hence the temporary registration of an unregistered read destination),
 * FI_MR_VIRT_ADDR clear (addresses are offsets into the region),
 * FI_MR_PROV_KEY (the key comes from fi_mr_key), FI_MR_ENDPOINT (bind and
 * enable, in ofi_reg).
 */
#include "ofi.h"

#include <stdlib.h>
#include <string.h>

/* The remote key of this plugin: u64 address (virtual or offset), u64
   fi_mr_key, both little-endian. */
#define OFI_RKEY_SIZE 16

static void le_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int ofi_mr_reg(xport_ep *ep, void *buf, size_t len, xport_mr **out)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    int ret = 0;
    struct ofi_mr *m = calloc(1, sizeof(*m));
    LC_CHECK(m, fail, ret, LOCUS_ENOMEM, OFI_SUB, "out of memory");
    LC_CHECK_RC(
        ofi_reg(e, buf, len, FI_READ | FI_REMOTE_READ, &m->mr, "a region"),
        fail, ret);
    m->ops = e->head.ops;
    m->ep = e;
    m->base = buf;
    m->len = len;
    m->key = fi_mr_key(m->mr);
    m->desc = fi_mr_desc(m->mr);
    LC_CHECK(m->key != FI_KEY_NOTAVAIL, fail, ret, LOCUS_EFABRIC, OFI_SUB,
             "%s: fi_mr_key: the provider's keys do not fit in 64 bits "
             "(FI_MR_RAW is not supported)",
             e->prov);
    m->next = e->mrs;
    if (e->mrs)
        e->mrs->prev = m;
    e->mrs = m;
    *out = (xport_mr *)m;
    return 0;
fail:
    if (m && m->mr)
        fi_close(&m->mr->fid);
    free(m);
    return ret;
}

void ofi_mr_close(xport_mr *mr)
{
    struct ofi_mr *m = (struct ofi_mr *)mr;
    if (m->mr) {
        int rc = fi_close(&m->mr->fid);
        if (rc)
            lc_log(LC_LOG_WARN, OFI_SUB, "fi_close(mr): %s", fi_strerror(-rc));
    }
    if (m->ep) {
        if (m->prev)
            m->prev->next = m->next;
        else
            m->ep->mrs = m->next;
        if (m->next)
            m->next->prev = m->prev;
    }
    free(m);
}

/* The endpoint closes first: close its regions' handles, keep the structs
 * for the owner's xport_mr_close. */
void ofi_mrs_close_all(struct ofi_ep *e)
{
    for (struct ofi_mr *m = e->mrs, *next; m; m = next) {
        next = m->next;
        fi_close(&m->mr->fid);
        m->mr = NULL;
        m->ep = NULL;
        m->prev = m->next = NULL;
    }
    e->mrs = NULL;
}

int ofi_mr_rkey(const xport_mr *mr, const void *ptr, size_t len,
                xport_rkey *out)
{
    const struct ofi_mr *m = (const struct ofi_mr *)mr;
    const char *p = ptr;
    if (!m->ep || !p || p < m->base || len > m->len ||
        (size_t)(p - m->base) > m->len - len)
        return lc_seterr(LOCUS_ERANGE, OFI_SUB,
                         "rkey for %zu bytes at %p: outside the registered "
                         "region [%p, +%zu)",
                         len, ptr, (void *)m->base, m->len);
    memset(out, 0, sizeof(*out));
    le_put(out->key, m->ep->offset_addr ? (uint64_t)(p - m->base)
                                        : (uint64_t)(uintptr_t)p);
    le_put(out->key + 8, m->key);
    out->size = OFI_RKEY_SIZE;
    out->len = len;
    return 0;
}

/* ---- reads -------------------------------------------------------------- */

static void unstall(struct ofi_ep *e, struct ofi_read *op)
{
    if (!op->stalled)
        return;
    for (struct ofi_read **pp = &e->stalled; *pp; pp = &(*pp)->next)
        if (*pp == op) {
            *pp = op->next;
            break;
        }
    op->stalled = 0;
    op->next = NULL;
}

static void read_free(struct ofi_ep *e, struct ofi_read *op)
{
    if (op->tmp_mr)
        fi_close(&op->tmp_mr->fid);
    if (op->aprev)
        op->aprev->anext = op->anext;
    else
        e->reads = op->anext;
    if (op->anext)
        op->anext->aprev = op->aprev;
    e->nreads--;
    free(op);
}

static void read_finish(struct ofi_ep *e, struct ofi_read *op)
{
    unstall(e, op);
    xport_event ev = {.kind =
                          op->status ? XPORT_EV_READ_ERROR : XPORT_EV_READ_DONE,
                      .status = op->status,
                      .peer = op->peer,
                      .len = op->done,
                      .ctx = op->ctx};
    ofi_push_event(e, &ev);
    read_free(e, op);
}

/* Post chunks until DEPTH are in flight.  Returns -FI_EAGAIN when the
 * provider refused one (the op is then on e->stalled), else 0. */
static int read_post(struct ofi_ep *e, struct ofi_read *op)
{
    while (!op->status && op->posted < op->len &&
           op->inflight < OFI_READ_DEPTH) {
        struct ofi_chunk *c = NULL;
        for (int i = 0; i < OFI_READ_DEPTH; i++)
            if (!op->chunk[i].busy) {
                c = &op->chunk[i];
                break;
            }
        size_t n = op->len - op->posted;
        if (n > e->chunk)
            n = e->chunk;
        ssize_t rc = fi_read(e->ep, op->dst + op->posted, n, op->desc, op->peer,
                             op->raddr + op->posted, op->key, &c->c);
        if (rc == -FI_EAGAIN) {
            if (!op->stall_deadline)
                op->stall_deadline =
                    lc_now_ns() + (uint64_t)e->timeout_ms * 1000000;
            if (lc_expired(op->stall_deadline)) {
                op->status = lc_seterr(
                    LOCUS_ETIMEDOUT, OFI_SUB,
                    "%s: fi_read from peer %llu refused (-FI_EAGAIN) for "
                    "%d ms (peer dead, unreachable or not progressing?)",
                    e->prov, (unsigned long long)op->peer, e->timeout_ms);
                break;
            }
            if (!op->stalled) {
                op->stalled = 1;
                op->next = e->stalled;
                e->stalled = op;
            }
            return -FI_EAGAIN;
        }
        if (rc) {
            op->status = lc_seterr(ofi_err((int)rc), OFI_SUB,
                                   "%s: fi_read of %zu bytes from peer %llu: "
                                   "%s",
                                   e->prov, n, (unsigned long long)op->peer,
                                   fi_strerror((int)-rc));
            break;
        }
        op->stall_deadline = 0;
        c->busy = 1;
        c->len = n;
        op->posted += n;
        op->inflight++;
    }
    return 0;
}

void ofi_read_comp(struct ofi_ep *e, struct ofi_chunk *c, int status)
{
    struct ofi_read *op = c->op;
    c->busy = 0;
    op->inflight--;
    if (!status)
        op->done += c->len;
    else if (!op->status)
        op->status = status;
    if (!op->status && op->posted < op->len && !op->stalled)
        read_post(e, op);
    if (!op->inflight && (op->status || op->done == op->len))
        read_finish(e, op);
}

void ofi_read_retry(struct ofi_ep *e)
{
    struct ofi_read *list = e->stalled;
    e->stalled = NULL;
    while (list) {
        struct ofi_read *op = list;
        list = op->next;
        op->stalled = 0;
        op->next = NULL;
        read_post(e, op);
        if (!op->inflight && (op->status || op->done == op->len))
            read_finish(e, op);
    }
}

int ofi_read(xport_ep *ep, xport_addr src, void *dst, size_t len,
             xport_mr *local_mr, const xport_rkey *rk, uint64_t offset,
             void *ctx)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    struct ofi_mr *lm = (struct ofi_mr *)local_mr;
    if (!rk || (!dst && len))
        return lc_seterr(LOCUS_EINVAL, OFI_SUB, "xport_read: NULL argument");
    if (rk->size != OFI_RKEY_SIZE)
        return lc_seterr(LOCUS_EINVAL, OFI_SUB,
                         "%s: read from peer %llu: a remote key of %u bytes "
                         "is not one of this plugin's (%d bytes)",
                         e->prov, (unsigned long long)src, (unsigned)rk->size,
                         OFI_RKEY_SIZE);
    if (offset > rk->len || len > rk->len - offset)
        return lc_seterr(LOCUS_ERANGE, OFI_SUB,
                         "%s: read of %zu bytes at offset %llu from peer "
                         "%llu: beyond the remote region (%llu bytes)",
                         e->prov, len, (unsigned long long)offset,
                         (unsigned long long)src, (unsigned long long)rk->len);
    if (!ofi_peer_ok(e, src))
        return lc_seterr(LOCUS_EADDR, OFI_SUB,
                         "%s: read from %llu: no such peer (not inserted)",
                         e->prov, (unsigned long long)src);
    if (ofi_bell_dead(&e->peers[src].bell))
        return lc_seterr(LOCUS_ECLOSED, OFI_SUB,
                         "%s: read from peer %llu: its process has exited",
                         e->prov, (unsigned long long)src);
    const char *d = dst;
    if (lm && (!lm->ep || d < lm->base || len > lm->len ||
               (size_t)(d - lm->base) > lm->len - len))
        return lc_seterr(LOCUS_ERANGE, OFI_SUB,
                         "xport_read: destination [%p, +%zu) is not inside "
                         "local_mr",
                         dst, len);
    struct ofi_read *op = calloc(1, sizeof(*op));
    if (!op)
        return lc_seterr(LOCUS_ENOMEM, OFI_SUB, "out of memory");
    e->nreads++;
    op->anext = e->reads;
    if (e->reads)
        e->reads->aprev = op;
    e->reads = op;
    op->ctx = ctx;
    op->peer = src;
    op->dst = dst;
    op->len = len;
    op->raddr = le_get(rk->key) + offset;
    op->key = le_get(rk->key + 8);
    for (int i = 0; i < OFI_READ_DEPTH; i++) {
        op->chunk[i].c.kind = OFI_READ;
        op->chunk[i].op = op;
    }
    if (lm) {
        op->desc = lm->desc;
    } else if ((e->mr_mode & FI_MR_LOCAL) && len) {
        int rc =
            ofi_reg(e, dst, len, FI_READ, &op->tmp_mr, "the read destination");
        if (rc) {
            read_free(e, op);
            return rc;
        }
        op->desc = fi_mr_desc(op->tmp_mr);
    }
    if (!len) {
        read_finish(e, op);
        return 0;
    }
    read_post(e, op);
    if (op->status && !op->inflight) {
        /* nothing started: report it here rather than as an event */
        int rc = op->status;
        unstall(e, op);
        read_free(e, op);
        return rc;
    }
    return 0;
}

/* Endpoint closing: forget reads still in flight. */
void ofi_reads_free_all(struct ofi_ep *e)
{
    if (e->nreads)
        lc_log(LC_LOG_DEBUG, OFI_SUB, "%s: closed with %u reads in flight",
               e->prov, e->nreads);
    e->stalled = NULL;
    while (e->reads)
        read_free(e, e->reads);
}
