/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libfabric plugin: endpoint, address vector, tagged messages and the
 * completion queue.  See xport.h for the contract.
 */
#include "ofi.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFI_VERSION FI_VERSION(1, 9)
#define OFI_MR_OFFER                                                           \
    (FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY |        \
     FI_MR_ENDPOINT)
#define OFI_CAPS (FI_TAGGED | FI_RMA | FI_READ | FI_REMOTE_READ | FI_SOURCE)

/* The transport's registration duties as libfabric's bits (XPORT_MR_OFFSET
   is handled apart: it takes FI_MR_VIRT_ADDR away from the offer). */
static uint64_t fi_mr_bits(uint64_t xport)
{
    return (xport & XPORT_MR_LOCAL ? (uint64_t)FI_MR_LOCAL : 0) |
           (xport & XPORT_MR_PROV_KEY ? (uint64_t)FI_MR_PROV_KEY : 0) |
           (xport & XPORT_MR_ENDPOINT ? (uint64_t)FI_MR_ENDPOINT : 0);
}

static const char *fi_msg(int rc)
{
    return fi_strerror(rc < 0 ? -rc : rc);
}

int ofi_err(int fi_rc)
{
    switch (fi_rc < 0 ? -fi_rc : fi_rc) {
    case 0:
        return 0;
    case FI_EAGAIN:
        return LOCUS_EAGAIN;
    case FI_ETIMEDOUT:
        return LOCUS_ETIMEDOUT;
    case FI_ECONNREFUSED:
    case FI_ECONNRESET:
    case FI_ECONNABORTED:
    case FI_ENOTCONN:
    case FI_ESHUTDOWN:
    case FI_EHOSTDOWN:
    case FI_EHOSTUNREACH:
    case FI_ENETUNREACH:
    case FI_ENETDOWN:
        return LOCUS_ECLOSED;
    case FI_ENOMEM:
        return LOCUS_ENOMEM;
    case FI_EMSGSIZE:
    case FI_ETOOSMALL:
    case FI_ETRUNC:
        return LOCUS_EMSGSIZE;
    case FI_ECANCELED:
        return LOCUS_ECANCELED;
    case FI_EADDRNOTAVAIL:
        return LOCUS_EADDR;
    default:
        return LOCUS_EFABRIC;
    }
}

static int is_local_provider(const char *prov)
{
    /* providers whose addresses are not host:port */
    return !strncmp(prov, "shm", 3) || !strncmp(prov, "sm2", 3);
}

/* ---- events ----------------------------------------------------------- */

int ofi_push_event(struct ofi_ep *e, const xport_event *ev)
{
    if (e->evq_len == e->evq_cap) {
        unsigned cap = e->evq_cap ? e->evq_cap * 2 : 64;
        xport_event *q = malloc(cap * sizeof(*q));
        if (!q) {
            lc_log(LC_LOG_ERROR, OFI_SUB, "out of memory for events");
            return LOCUS_ENOMEM;
        }
        for (unsigned i = 0; i < e->evq_len; i++)
            q[i] = e->evq[(e->evq_head + i) % e->evq_cap];
        free(e->evq);
        e->evq = q;
        e->evq_head = 0;
        e->evq_cap = cap;
    }
    e->evq[(e->evq_head + e->evq_len) % e->evq_cap] = *ev;
    e->evq_len++;
    return 0;
}

/* ---- receive buffers ------------------------------------------------- */

static int rx_post(struct ofi_ep *e, struct ofi_rx *rx)
{
    ssize_t rc = fi_trecv(e->ep, rx->buf, e->msg_size, e->rx_desc,
                          FI_ADDR_UNSPEC, 0, ~0ull, &rx->c);
    if (rc == 0) {
        rx->posted = 1;
        return 0;
    }
    if (rc != -FI_EAGAIN)
        lc_log(LC_LOG_WARN, OFI_SUB, "%s: fi_trecv: %s (will retry)", e->prov,
               fi_msg((int)rc));
    e->rx_unposted++;
    return (int)rc;
}

static void rx_repost_all(struct ofi_ep *e)
{
    unsigned pending = e->rx_unposted;
    e->rx_unposted = 0;
    for (unsigned i = 0; i < e->rx_count && pending; i++) {
        struct ofi_rx *rx = &e->rx[i];
        if (rx->posted || rx->lent)
            continue;
        pending--;
        if (rx_post(e, rx) == -FI_EAGAIN) {
            /* count the ones not yet looked at as still unposted */
            e->rx_unposted += pending;
            return;
        }
    }
}

/* ---- completions ------------------------------------------------------- */

static xport_addr src_of(const struct ofi_ep *e, fi_addr_t a)
{
    if (a >= e->npeers || !e->peers[a].raw || (a == 0 && e->av0_reserved))
        return XPORT_ADDR_UNKNOWN;
    return a;
}

static void on_comp(struct ofi_ep *e, const struct fi_cq_tagged_entry *ce,
                    fi_addr_t src)
{
    struct ofi_ctx *c = ce->op_context;
    if (!c)
        return;
    switch (c->kind) {
    case OFI_RECV: {
        struct ofi_rx *rx = (struct ofi_rx *)c;
        rx->posted = 0;
        rx->lent = 1;
        xport_event ev = {.kind = XPORT_EV_RECV,
                          .peer = src_of(e, src),
                          .tag = ce->tag,
                          .data = rx->buf,
                          .len = ce->len,
                          .priv = rx};
        if (ofi_push_event(e, &ev) != 0) {
            rx->lent = 0;
            rx_post(e, rx);
        }
        break;
    }
    case OFI_SEND: {
        struct ofi_tx *tx = (struct ofi_tx *)c;
        tx->next = e->tx_free;
        e->tx_free = tx;
        break;
    }
    case OFI_READ:
        ofi_read_comp(e, (struct ofi_chunk *)c, 0);
        break;
    }
}

static void on_error(struct ofi_ep *e)
{
    struct fi_cq_err_entry err = {0};
    ssize_t rc = fi_cq_readerr(e->cq, &err, 0);
    if (rc < 0)
        return;
    char pbuf[256];
    const char *detail =
        fi_cq_strerror(e->cq, err.prov_errno, err.err_data, pbuf, sizeof(pbuf));
    if (!detail)
        detail = "";
    struct ofi_ctx *c = err.op_context;
    int code = ofi_err(err.err);
    if (!c) {
        lc_log(LC_LOG_WARN, OFI_SUB,
               "%s: completion error without context: "
               "%s (%s)",
               e->prov, fi_msg(err.err), detail);
        return;
    }
    switch (c->kind) {
    case OFI_RECV: {
        struct ofi_rx *rx = (struct ofi_rx *)c;
        rx->posted = 0;
        if (err.err != FI_ECANCELED) {
            lc_log(LC_LOG_WARN, OFI_SUB,
                   "%s: receive failed: %s (%s)%s; message dropped", e->prov,
                   fi_msg(err.err), detail,
                   err.err == FI_ETRUNC ? " (a peer sent more than msg_size)"
                                        : "");
            rx_post(e, rx);
        }
        break;
    }
    case OFI_SEND: {
        struct ofi_tx *tx = (struct ofi_tx *)c;
        lc_seterr(code, OFI_SUB, "%s: send to peer %llu failed: %s (%s)",
                  e->prov, (unsigned long long)tx->dst, fi_msg(err.err),
                  detail);
        /* the caller's protocol decides what a lost send means (the
           session layer sends it again, or declares the peer gone) */
        lc_log(LC_LOG_INFO, OFI_SUB, "%s: send to peer %llu failed: %s (%s)",
               e->prov, (unsigned long long)tx->dst, fi_msg(err.err), detail);
        xport_event ev = {.kind = XPORT_EV_SEND_ERROR,
                          .status = code ? code : LOCUS_EFABRIC,
                          .peer = tx->dst};
        ofi_push_event(e, &ev);
        tx->next = e->tx_free;
        e->tx_free = tx;
        break;
    }
    case OFI_READ: {
        struct ofi_chunk *ch = (struct ofi_chunk *)c;
        lc_seterr(code, OFI_SUB, "%s: fi_read from peer %llu failed: %s (%s)",
                  e->prov, (unsigned long long)ch->op->peer, fi_msg(err.err),
                  detail);
        lc_log(LC_LOG_WARN, OFI_SUB,
               "%s: fi_read from peer %llu failed: %s "
               "(%s)",
               e->prov, (unsigned long long)ch->op->peer, fi_msg(err.err),
               detail);
        ofi_read_comp(e, ch, code ? code : LOCUS_EFABRIC);
        break;
    }
    }
}

/* Read the CQ (which also drives the provider's progress) and retry what
 * the provider refused with -FI_EAGAIN.  Events go to e->evq. */
int ofi_drain(struct ofi_ep *e)
{
    ofi_bell_sleeping(e, 0); /* driving progress: awake */
    struct fi_cq_tagged_entry ce[16];
    fi_addr_t src[16];
    for (int round = 0; round < 16; round++) {
        ssize_t n = fi_cq_readfrom(e->cq, ce, 16, src);
        if (n == -FI_EAGAIN)
            break;
        if (n == -FI_EAVAIL) {
            on_error(e);
            continue;
        }
        if (n < 0)
            return lc_seterr(ofi_err((int)n), OFI_SUB, "%s: fi_cq_readfrom: %s",
                             e->prov, fi_msg((int)n));
        for (ssize_t i = 0; i < n; i++)
            on_comp(e, &ce[i], src[i]);
        if (n < 16)
            break;
    }
    if (e->rx_unposted)
        rx_repost_all(e);
    if (e->stalled)
        ofi_read_retry(e);
    return 0;
}

static int ofi_progress(xport_ep *ep, xport_event *evs, int max)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    if ((int)e->evq_len < max) {
        int rc = ofi_drain(e);
        if (rc < 0 && !e->evq_len)
            return rc;
    }
    int n = 0;
    while (n < max && e->evq_len) {
        evs[n++] = e->evq[e->evq_head];
        e->evq_head = (e->evq_head + 1) % e->evq_cap;
        e->evq_len--;
    }
    return n;
}

static void ofi_release(xport_ep *ep, xport_event *ev)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    if (!ev || ev->kind != XPORT_EV_RECV || !ev->priv)
        return;
    struct ofi_rx *rx = ev->priv;
    ev->priv = NULL;
    if (!rx->lent)
        return;
    rx->lent = 0;
    rx_post(e, rx);
}

static int ofi_poll(xport_ep *ep)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    if (!e->evq_len) {
        int rc = ofi_drain(e);
        if (rc < 0)
            return rc;
    }
    return (int)e->evq_len;
}

static int ofi_wait_fd(xport_ep *ep)
{
    return ((struct ofi_ep *)ep)->wait_fd;
}

static int ofi_trywait(xport_ep *ep)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    if (e->evq_len || e->rx_unposted || e->stalled)
        return 1;
    if (e->bell_fd >= 0) {
        /* say we may sleep, empty the bell, then look: a message sent after
           this look rings it again, so blocking on it loses no wake-up */
        ofi_bell_sleeping(e, 1);
        ofi_bell_drain(e);
        int n = (int)e->evq_len;
        if (!n) {
            /* look without ofi_drain's "awake" */
            struct fi_cq_tagged_entry ce[16];
            fi_addr_t src[16];
            ssize_t got = fi_cq_readfrom(e->cq, ce, 16, src);
            if (got == -FI_EAVAIL) {
                on_error(e);
            } else if (got > 0) {
                for (ssize_t i = 0; i < got; i++)
                    on_comp(e, &ce[i], src[i]);
            }
            n = (int)e->evq_len || e->rx_unposted || e->stalled;
        }
        if (n)
            ofi_bell_sleeping(e, 0);
        return n != 0;
    }
    struct fid *f = &e->cq->fid;
    return fi_trywait(e->fabric, &f, 1) == 0 ? 0 : 1;
}

/* ---- sends ------------------------------------------------------------- */

/* Drive progress while the provider keeps a send waiting; a peer with a
   doorbell is rung every millisecond meanwhile: it may sleep, and shm
   needs the receiver's progress to take the message. */
static void send_wait(struct ofi_ep *e, struct ofi_bell *b, uint64_t *ring_ns)
{
    ofi_drain(e);
    if (b && b->len) {
        uint64_t now = lc_now_ns();
        if (now >= *ring_ns) {
            ofi_bell_ring(e, b);
            *ring_ns = now + 1000000ull;
        }
    }
}

static int sendv_once(struct ofi_ep *e, xport_addr dst, uint64_t tag,
                      const struct iovec *iov, int n, uint64_t deadline,
                      struct ofi_bell *b);

static int ofi_sendv(xport_ep *ep, xport_addr dst, uint64_t tag,
                     const struct iovec *iov, int n, uint64_t deadline)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    struct ofi_bell *b = ofi_peer_ok(e, dst) && e->peers[dst].bell.len
                             ? &e->peers[dst].bell
                             : NULL;
    if (b && ofi_bell_dead(b))
        /* it died, maybe inside the provider holding its region's lock:
           entering the provider could spin for ever (xport_alive) */
        return lc_seterr(LOCUS_ECLOSED, OFI_SUB,
                         "%s: send to peer %llu: its process has exited",
                         e->prov, (unsigned long long)dst);
    /* the first message to a peer also needs the receiver's progress to
       connect */
    if (b && !b->contacted)
        ofi_bell_ring(e, b);
    int rc = sendv_once(e, dst, tag, iov, n, deadline, b);
    if (b) {
        if (b->contacted)
            ofi_bell_notify(e, b);
        else
            ofi_bell_ring(e, b);
        b->contacted |= rc == 0;
    }
    return rc;
}

static int sendv_once(struct ofi_ep *e, xport_addr dst, uint64_t tag,
                      const struct iovec *iov, int n, uint64_t deadline,
                      struct ofi_bell *b)
{
    uint64_t ring_ns = lc_now_ns() + 1000000ull;
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (len > e->msg_size)
        return lc_seterr(LOCUS_EMSGSIZE, OFI_SUB,
                         "%s: message of %zu bytes to peer %llu is larger "
                         "than msg_size %zu",
                         e->prov, len, (unsigned long long)dst, e->msg_size);
    if (deadline == LC_DEADLINE_NONE)
        return lc_seterr(LOCUS_EINVAL, OFI_SUB,
                         "xport_send needs a deadline (LC_DEADLINE_NONE "
                         "given)");
    if (!ofi_peer_ok(e, dst))
        return lc_seterr(LOCUS_EADDR, OFI_SUB,
                         "%s: send to %llu: no such peer (not inserted)",
                         e->prov, (unsigned long long)dst);

    const void *flat = n == 1 ? iov[0].iov_base : NULL;
    struct ofi_tx *tx = NULL;
    char small[256];
    ssize_t rc;
    if (len <= e->inject_size && (flat || len <= sizeof(small))) {
        if (!flat) {
            size_t off = 0;
            for (int i = 0; i < n; i++) {
                memcpy(small + off, iov[i].iov_base, iov[i].iov_len);
                off += iov[i].iov_len;
            }
            flat = small;
        }
        while ((rc = fi_tinject(e->ep, flat, len, dst, tag)) == -FI_EAGAIN) {
            if (deadline == XPORT_TRY)
                goto busy;
            if (lc_expired(deadline))
                goto timedout;
            send_wait(e, b, &ring_ns);
        }
    } else {
        while (!(tx = e->tx_free)) {
            if (deadline == XPORT_TRY)
                goto busy;
            if (lc_expired(deadline))
                goto timedout;
            send_wait(e, b, &ring_ns);
        }
        e->tx_free = tx->next;
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            memcpy(tx->buf + off, iov[i].iov_base, iov[i].iov_len);
            off += iov[i].iov_len;
        }
        tx->dst = dst;
        while ((rc = fi_tsend(e->ep, tx->buf, len, e->tx_desc, dst, tag,
                              &tx->c)) == -FI_EAGAIN) {
            if (deadline == XPORT_TRY || lc_expired(deadline)) {
                tx->next = e->tx_free;
                e->tx_free = tx;
                if (deadline == XPORT_TRY)
                    goto busy;
                goto timedout;
            }
            send_wait(e, b, &ring_ns);
        }
        if (rc) {
            tx->next = e->tx_free;
            e->tx_free = tx;
        }
    }
    if (rc)
        return lc_seterr(ofi_err((int)rc), OFI_SUB,
                         "%s: fi_tsend to peer %llu: %s", e->prov,
                         (unsigned long long)dst, fi_msg((int)rc));
    return 0;
busy:
    return lc_seterr(LOCUS_EAGAIN, OFI_SUB,
                     "%s: the provider cannot take a message to peer %llu "
                     "now (-FI_EAGAIN; one attempt asked)",
                     e->prov, (unsigned long long)dst);
timedout:
    return lc_seterr(LOCUS_ETIMEDOUT, OFI_SUB,
                     "%s: send of %zu bytes to peer %llu: the provider "
                     "refused it (-FI_EAGAIN) until the deadline (peer dead, "
                     "unreachable or not driving progress?)",
                     e->prov, len, (unsigned long long)dst);
}

/* ---- addresses --------------------------------------------------------- */

int ofi_peer_ok(const struct ofi_ep *e, xport_addr a)
{
    return a < e->npeers && e->peers[a].raw;
}

static int ofi_name(xport_ep *ep, char *buf, size_t len)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    unsigned char raw[XPORT_NAME_MAX / 2];
    size_t rawlen = sizeof(raw);
    int rc = fi_getname(&e->ep->fid, raw, &rawlen);
    if (rc)
        return lc_seterr(ofi_err(rc), OFI_SUB, "%s: fi_getname: %s", e->prov,
                         fi_msg(rc));
    size_t pl = strlen(e->prov);
    if (pl + 3 + 2 * rawlen + 1 > len)
        return lc_seterr(LOCUS_EINVAL, OFI_SUB,
                         "%s: address of %zu bytes does not fit in %zu",
                         e->prov, rawlen, len);
    memcpy(buf, e->prov, pl);
    memcpy(buf + pl, "://", 3);
    char *p = buf + pl + 3;
    for (size_t i = 0; i < rawlen; i++, p += 2)
        snprintf(p, 3, "%02x", raw[i]);
    *p = '\0';
    if (e->bell[0]) {
        size_t used = (size_t)(p - buf);
        int k = snprintf(p, len - used, "#bell=%s", e->bell);
        if (k < 0 || (size_t)k >= len - used)
            return lc_seterr(LOCUS_EINVAL, OFI_SUB,
                             "%s: address with its doorbell does not fit in "
                             "%zu bytes",
                             e->prov, len);
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int ofi_insert(xport_ep *ep, const char *full, xport_addr *out)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    char name[XPORT_NAME_MAX];
    if (strlen(full) >= sizeof(name))
        return lc_seterr(LOCUS_EADDR, OFI_SUB,
                         "address '%.80s...' is longer than %d bytes", full,
                         XPORT_NAME_MAX - 1);
    memcpy(name, full, strlen(full) + 1);
    /* only local providers' names carry a doorbell: on others a "#bell="
       stays part of the name, which is then malformed */
    struct ofi_bell bell = {0};
    if (is_local_provider(e->prov))
        ofi_bell_parse(name, &bell);
    char prov[64];
    int rc = xport_name_provider(name, prov, sizeof(prov));
    if (rc)
        return rc;
    if (strcmp(prov, e->prov))
        return lc_seterr(LOCUS_EADDR, OFI_SUB,
                         "address '%.80s' is for provider '%s', this "
                         "endpoint is on '%s'",
                         name, prov, e->prov);
    const char *hex = strstr(name, "://") + 3;
    size_t hl = strlen(hex);
    unsigned char raw[XPORT_NAME_MAX / 2];
    if (hl == 0 || hl % 2 || hl / 2 > sizeof(raw))
        return lc_seterr(LOCUS_EADDR, OFI_SUB,
                         "address '%.80s': the part after :// must be an "
                         "even number of hex digits",
                         name);
    for (size_t i = 0; i < hl / 2; i++) {
        int hi = hexval((unsigned char)hex[2 * i]);
        int lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return lc_seterr(LOCUS_EADDR, OFI_SUB,
                             "address '%.80s': '%c%c' is not hex", name,
                             hex[2 * i], hex[2 * i + 1]);
        raw[i] = (unsigned char)(hi << 4 | lo);
    }
    size_t rawlen = hl / 2;
    for (size_t i = 0; i < e->npeers; i++)
        if (e->peers[i].raw && e->peers[i].rawlen == rawlen &&
            !memcmp(e->peers[i].raw, raw, rawlen)) {
            if (bell.len &&
                memcmp(&bell.sa, &e->peers[i].bell.sa, sizeof(bell.sa))) {
                ofi_bell_forget(&e->peers[i].bell);
                e->peers[i].bell = bell;
                ofi_bell_map(&e->peers[i].bell);
            }
            *out = i;
            return 0;
        }
    /* Providers read as many bytes as their address format says: refuse
     * short names before fi_av_insert sees them. */
    size_t need =
        e->info->dest_addrlen ? e->info->dest_addrlen : e->info->src_addrlen;
    if (e->info->addr_format != FI_ADDR_STR && need && rawlen < need)
        return lc_seterr(LOCUS_EADDR, OFI_SUB,
                         "address '%.80s' has %zu bytes, %s addresses have "
                         "%zu",
                         name, rawlen, e->prov, need);
    if (e->info->addr_format == FI_ADDR_STR &&
        (raw[rawlen - 1] != '\0' || strlen((char *)raw) + 1 != rawlen))
        return lc_seterr(LOCUS_EADDR, OFI_SUB,
                         "address '%.80s' is not a NUL-terminated %s "
                         "address string",
                         name, e->prov);

    fi_addr_t fa = FI_ADDR_NOTAVAIL;
    int n = fi_av_insert(e->av, raw, 1, &fa, 0, NULL);
    if (n != 1 || fa == FI_ADDR_NOTAVAIL)
        return lc_seterr(LOCUS_EADDR, OFI_SUB,
                         "%s: fi_av_insert of '%.80s' refused it: %s", e->prov,
                         name, n < 0 ? fi_msg(n) : "invalid address");
    if (fa >= e->npeers) {
        size_t cap = e->npeers ? e->npeers : 16;
        while (cap <= fa)
            cap *= 2;
        struct ofi_peer *p = realloc(e->peers, cap * sizeof(*p));
        if (!p) {
            fi_av_remove(e->av, &fa, 1, 0);
            return lc_seterr(LOCUS_ENOMEM, OFI_SUB, "out of memory");
        }
        memset(p + e->npeers, 0, (cap - e->npeers) * sizeof(*p));
        e->peers = p;
        e->npeers = cap;
    }
    /* the same address again: the provider may give the same handle */
    free(e->peers[fa].raw);
    e->peers[fa].raw = malloc(rawlen);
    if (!e->peers[fa].raw) {
        fi_av_remove(e->av, &fa, 1, 0);
        return lc_seterr(LOCUS_ENOMEM, OFI_SUB, "out of memory");
    }
    memcpy(e->peers[fa].raw, raw, rawlen);
    e->peers[fa].rawlen = rawlen;
    ofi_bell_forget(&e->peers[fa].bell);
    e->peers[fa].bell = bell;
    ofi_bell_map(&e->peers[fa].bell);
    *out = fa;
    return 0;
}

static int ofi_remove(xport_ep *ep, xport_addr addr)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    if (!ofi_peer_ok(e, addr))
        return lc_seterr(LOCUS_EADDR, OFI_SUB, "%s: remove %llu: no such peer",
                         e->prov, (unsigned long long)addr);
    fi_addr_t fa = addr;
    int rc = fi_av_remove(e->av, &fa, 1, 0);
    free(e->peers[addr].raw);
    ofi_bell_forget(&e->peers[addr].bell);
    memset(&e->peers[addr], 0, sizeof(e->peers[addr]));
    if (rc)
        return lc_seterr(ofi_err(rc), OFI_SUB, "%s: fi_av_remove: %s", e->prov,
                         fi_msg(rc));
    return 0;
}

/* ---- registration ---------------------------------------------------- */

int ofi_reg(struct ofi_ep *e, void *buf, size_t len, uint64_t access,
            struct fid_mr **out, const char *what)
{
    struct fid_mr *mr = NULL;
    /* unique requested keys are harmless where the provider picks them */
    uint64_t key = e->next_key++;
    int rc = fi_mr_reg(e->domain, buf, len, access, 0, key, 0, &mr, NULL);
    if (rc)
        return lc_seterr(ofi_err(rc) == LOCUS_ENOMEM ? LOCUS_ENOMEM
                                                     : LOCUS_EFABRIC,
                         OFI_SUB, "%s: fi_mr_reg of %s (%zu bytes): %s",
                         e->prov, what, len, fi_msg(rc));
    if (e->mr_mode & FI_MR_ENDPOINT) {
        rc = fi_mr_bind(mr, &e->ep->fid, 0);
        if (!rc)
            rc = fi_mr_enable(mr);
        if (rc) {
            fi_close(&mr->fid);
            return lc_seterr(LOCUS_EFABRIC, OFI_SUB,
                             "%s: binding %s to the endpoint (FI_MR_ENDPOINT, "
                             "which XPORT_MR_ENDPOINT forces): %s",
                             e->prov, what, fi_msg(rc));
        }
    }
    *out = mr;
    return 0;
}

/* ---- open / close -------------------------------------------------------- */

static void ofi_close(xport_ep *ep)
{
    struct ofi_ep *e = (struct ofi_ep *)ep;
    if (!e)
        return;
    if (e->ep)
        fi_close(&e->ep->fid);
    ofi_mrs_close_all(e);
    ofi_reads_free_all(e);
    if (e->rx_mr)
        fi_close(&e->rx_mr->fid);
    if (e->tx_mr)
        fi_close(&e->tx_mr->fid);
    if (e->av)
        fi_close(&e->av->fid);
    if (e->cq)
        fi_close(&e->cq->fid);
    if (e->domain)
        fi_close(&e->domain->fid);
    if (e->fabric)
        fi_close(&e->fabric->fid);
    if (e->info)
        fi_freeinfo(e->info);
    ofi_bell_close(e);
    for (size_t i = 0; i < e->npeers; i++) {
        free(e->peers[i].raw);
        ofi_bell_forget(&e->peers[i].bell);
    }
    free(e->peers);
    free(e->evq);
    free(e->rx);
    free(e->tx);
    free(e->rx_slab);
    free(e->tx_slab);
    free(e);
}

static struct fi_info *make_hints(const char *prov, uint64_t forced)
{
    struct fi_info *h = fi_allocinfo();
    if (!h)
        return NULL;
    h->caps = OFI_CAPS;
    h->mode = FI_CONTEXT | FI_CONTEXT2;
    h->ep_attr->type = FI_EP_RDM;
    h->domain_attr->mr_mode = OFI_MR_OFFER;
    if (forced & XPORT_MR_OFFSET)
        h->domain_attr->mr_mode &= ~(uint64_t)FI_MR_VIRT_ADDR;
    h->domain_attr->av_type = FI_AV_TABLE;
    h->domain_attr->threading = FI_THREAD_DOMAIN;
    if (prov) {
        h->fabric_attr->prov_name = strdup(prov);
        if (!h->fabric_attr->prov_name) {
            fi_freeinfo(h);
            return NULL;
        }
    }
    return h;
}

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static int ofi_open(const struct xport_opts *opts, const char *prov,
                    xport_ep **out)
{
    int ret = 0, rc;
    struct fi_info *hints = NULL;
    struct ofi_ep *e = calloc(1, sizeof(*e));
    LC_CHECK(e, fail, ret, LOCUS_ENOMEM, OFI_SUB, "out of memory");
    e->head.ops = &xport_ofi_ops;
    e->wait_fd = e->bell_fd = e->ring_fd = -1;
    e->next_key = 1;
    e->msg_size = opts->msg_size ? opts->msg_size : 64 * 1024;
    e->rx_count = opts->rx_count ? opts->rx_count : 128;
    /* xport_open gives a struct of the current size */
    e->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    uint64_t forced = opts->mr_mode_add;
    LC_CHECK(!(forced & ~(uint64_t)XPORT_MR_ALL), fail, ret, LOCUS_EINVAL,
             OFI_SUB,
             "mr_mode_add 0x%llx: only XPORT_MR_LOCAL, XPORT_MR_PROV_KEY, "
             "XPORT_MR_ENDPOINT and XPORT_MR_OFFSET can be forced",
             (unsigned long long)forced);
    LC_CHECK(e->msg_size <= ((size_t)1 << 30) && e->rx_count <= 65536, fail,
             ret, LOCUS_EINVAL, OFI_SUB,
             "msg_size %zu / rx_count %u out of range", e->msg_size,
             e->rx_count);

    hints = make_hints(prov, forced);
    LC_CHECK(hints, fail, ret, LOCUS_ENOMEM, OFI_SUB, "out of memory");
    /* shm queues as many commands at a receiver as its receive queue is
       deep (1024 by default), and matches those beyond the posted receives
       as unexpected messages; after a receiver had stopped for a second,
       that path in libfabric 1.17 now and then stopped delivering (sends
       never completed, the receiver's queue empty).  A queue no deeper
       than the receives we post keeps every message expected: a sender
       meets -FI_EAGAIN instead, and the session layer holds it. */
    if (is_local_provider(prov))
        hints->rx_attr->size = e->rx_count;
    const char *node = NULL, *service = NULL;
    uint64_t flags = 0;
    if (!is_local_provider(prov)) {
        node = opts->node ? opts->node : "127.0.0.1";
        service = opts->service;
        flags = FI_SOURCE;
    }
    rc = fi_getinfo(OFI_VERSION, node, service, flags, hints, &e->info);
    LC_CHECK(
        rc == 0 && e->info, fail, ret,
        rc == -FI_ENODATA || rc == 0 ? LOCUS_ENOPROV : LOCUS_EFABRIC, OFI_SUB,
        "fi_getinfo for provider '%s' (RDM endpoint with tagged "
        "messages, RMA read and FI_SOURCE%s%s%s%s): %s (locus-info "
        "lists the providers usable here; choose one with FI_PROVIDER "
        "or the provider option)",
        prov, node ? ", bound to " : "", node ? node : "", service ? ":" : "",
        service ? service : "", rc ? fi_msg(rc) : "no match");
    struct fi_info *fi = e->info;
    snprintf(e->prov, sizeof(e->prov), "%s", fi->fabric_attr->prov_name);
    e->mr_mode = fi->domain_attr->mr_mode | fi_mr_bits(forced);
    e->offset_addr = !(fi->domain_attr->mr_mode & FI_MR_VIRT_ADDR);
    if (e->mr_mode & (FI_MR_BASIC | FI_MR_SCALABLE)) /* pre-1.5 style */
        e->offset_addr = !(e->mr_mode & FI_MR_BASIC);
    e->inject_size = fi->tx_attr->inject_size;
    size_t maxmsg = fi->ep_attr->max_msg_size;
    e->chunk = maxmsg && maxmsg < OFI_READ_CHUNK ? maxmsg : OFI_READ_CHUNK;
    LC_CHECK(e->msg_size <= maxmsg, fail, ret, LOCUS_EINVAL, OFI_SUB,
             "msg_size %zu is larger than %s allows (%zu)", e->msg_size,
             e->prov, maxmsg);

    rc = fi_fabric(fi->fabric_attr, &e->fabric, NULL);
    LC_CHECK(rc == 0, fail, ret, LOCUS_EFABRIC, OFI_SUB,
             "%s: fi_fabric '%s': %s", e->prov, fi->fabric_attr->name,
             fi_msg(rc));
    rc = fi_domain(e->fabric, fi, &e->domain, NULL);
    LC_CHECK(rc == 0, fail, ret, LOCUS_EFABRIC, OFI_SUB,
             "%s: fi_domain '%s': %s", e->prov, fi->domain_attr->name,
             fi_msg(rc));

    struct fi_av_attr av_attr = {.type = FI_AV_TABLE, .count = 256};
    rc = fi_av_open(e->domain, &av_attr, &e->av, NULL);
    LC_CHECK(rc == 0, fail, ret, LOCUS_EFABRIC, OFI_SUB, "%s: fi_av_open: %s",
             e->prov, fi_msg(rc));

    struct fi_cq_attr cq_attr = {.format = FI_CQ_FORMAT_TAGGED,
                                 .wait_obj = FI_WAIT_FD};
    rc = fi_cq_open(e->domain, &cq_attr, &e->cq, NULL);
    if (rc) {
        lc_log(LC_LOG_INFO, OFI_SUB,
               "%s: no completion queue with a wait fd (%s): xport_wait "
               "will sleep in short steps",
               e->prov, fi_msg(rc));
        cq_attr.wait_obj = FI_WAIT_NONE;
        rc = fi_cq_open(e->domain, &cq_attr, &e->cq, NULL);
    }
    LC_CHECK(rc == 0, fail, ret, LOCUS_EFABRIC, OFI_SUB, "%s: fi_cq_open: %s",
             e->prov, fi_msg(rc));
    if (cq_attr.wait_obj == FI_WAIT_FD &&
        fi_control(&e->cq->fid, FI_GETWAIT, &e->wait_fd) != 0)
        e->wait_fd = -1;
    if (e->wait_fd < 0)
        LC_CHECK_RC(ofi_bell_open(e), fail, ret);

    rc = fi_endpoint(e->domain, fi, &e->ep, NULL);
    LC_CHECK(rc == 0, fail, ret, LOCUS_EFABRIC, OFI_SUB, "%s: fi_endpoint: %s",
             e->prov, fi_msg(rc));
    rc = fi_ep_bind(e->ep, &e->av->fid, 0);
    LC_CHECK(rc == 0, fail, ret, LOCUS_EFABRIC, OFI_SUB,
             "%s: fi_ep_bind(av): %s", e->prov, fi_msg(rc));
    rc = fi_ep_bind(e->ep, &e->cq->fid, FI_TRANSMIT | FI_RECV);
    LC_CHECK(rc == 0, fail, ret, LOCUS_EFABRIC, OFI_SUB,
             "%s: fi_ep_bind(cq): %s", e->prov, fi_msg(rc));
    rc = fi_enable(e->ep);
    LC_CHECK(rc == 0, fail, ret,
             rc == -FI_EADDRINUSE ? LOCUS_EADDR : LOCUS_EFABRIC, OFI_SUB,
             "%s: fi_enable: %s%s%s", e->prov, fi_msg(rc),
             service ? " (service " : "", service ? service : "");

    /* One registered slab each for receives and sends (FI_MR_LOCAL). */
    size_t slot = round_up(e->msg_size, 64);
    e->rx_slab = aligned_alloc(4096, round_up(slot * e->rx_count, 4096));
    e->tx_slab = aligned_alloc(4096, round_up(slot * OFI_TX_COUNT, 4096));
    e->rx = calloc(e->rx_count, sizeof(*e->rx));
    e->tx = calloc(OFI_TX_COUNT, sizeof(*e->tx));
    LC_CHECK(e->rx_slab && e->tx_slab && e->rx && e->tx, fail, ret,
             LOCUS_ENOMEM, OFI_SUB, "out of memory for message buffers");
    LC_CHECK_RC(ofi_reg(e, e->rx_slab, slot * e->rx_count, FI_RECV, &e->rx_mr,
                        "receive buffers"),
                fail, ret);
    LC_CHECK_RC(ofi_reg(e, e->tx_slab, slot * OFI_TX_COUNT, FI_SEND, &e->tx_mr,
                        "send buffers"),
                fail, ret);
    e->rx_desc = fi_mr_desc(e->rx_mr);
    e->tx_desc = fi_mr_desc(e->tx_mr);
    for (unsigned i = 0; i < OFI_TX_COUNT; i++) {
        e->tx[i].c.kind = OFI_SEND;
        e->tx[i].buf = e->tx_slab + i * slot;
        e->tx[i].next = i + 1 < OFI_TX_COUNT ? &e->tx[i + 1] : NULL;
    }
    e->tx_free = &e->tx[0];
    for (unsigned i = 0; i < e->rx_count; i++) {
        e->rx[i].c.kind = OFI_RECV;
        e->rx[i].buf = e->rx_slab + i * slot;
        rc = rx_post(e, &e->rx[i]);
        LC_CHECK(rc == 0 || rc == -FI_EAGAIN, fail, ret, LOCUS_EFABRIC, OFI_SUB,
                 "%s: posting receive %u: %s", e->prov, i, fi_msg(rc));
    }

    char name[XPORT_NAME_MAX], mms[256];
    int mm = (int)e->mr_mode; /* fi_tostr_r reads an int */
    LC_CHECK_RC(ofi_name((xport_ep *)e, name, sizeof(name)), fail, ret);
    if (is_local_provider(e->prov)) {
        /* shm (1.17) reports a sender that is not in the AV as fi_addr 0,
         * not FI_ADDR_NOTAVAIL: give index 0 to this endpoint itself so
         * that no peer gets it, and report 0 as unknown. */
        xport_addr self;
        LC_CHECK_RC(ofi_insert((xport_ep *)e, name, &self), fail, ret);
        e->av0_reserved = self == 0;
        if (self != 0)
            lc_log(LC_LOG_WARN, OFI_SUB,
                   "%s: first AV index is %llu, not 0: senders not inserted "
                   "may be misreported",
                   e->prov, (unsigned long long)self);
    }
    lc_log(LC_LOG_INFO, OFI_SUB,
           "opened provider %s, fabric %s, domain %s, mr_mode %s%s, "
           "inject %zu, queue %zu for %u receives, wait fd %s, address %s",
           e->prov, fi->fabric_attr->name, fi->domain_attr->name,
           /* fi_tostr's buffer is one per process: threads opening
              endpoints at once raced on it */
           fi_tostr_r(mms, sizeof(mms), &mm, FI_TYPE_MR_MODE),
           e->offset_addr ? " (offsets)" : "", e->inject_size,
           fi->rx_attr->size, e->rx_count,
           e->bell_fd >= 0 ? "doorbell" : "provider's", name);
    fi_freeinfo(hints);
    *out = (xport_ep *)e;
    return 0;
fail:
    fi_freeinfo(hints);
    ofi_close((xport_ep *)e);
    return ret;
}

static int ofi_serves(const char *prov)
{
    (void)prov;
    return 1; /* every provider name goes to libfabric */
}

static const char *ofi_provider(const xport_ep *ep)
{
    return ((const struct ofi_ep *)ep)->prov;
}

static const char *ofi_fabric(const xport_ep *ep)
{
    return ((const struct ofi_ep *)ep)->info->fabric_attr->name;
}

static const char *ofi_domain(const xport_ep *ep)
{
    return ((const struct ofi_ep *)ep)->info->domain_attr->name;
}

static size_t ofi_msg_size(const xport_ep *ep)
{
    return ((const struct ofi_ep *)ep)->msg_size;
}

static int ofi_list_providers(char *buf, size_t len, size_t *used)
{
    struct fi_info *hints = make_hints(NULL, 0), *info = NULL;
    if (!hints)
        return lc_seterr(LOCUS_ENOMEM, OFI_SUB, "out of memory");
    int rc = fi_getinfo(OFI_VERSION, NULL, NULL, 0, hints, &info);
    fi_freeinfo(hints);
    if (rc == -FI_ENODATA)
        return 0;
    if (rc)
        return lc_seterr(LOCUS_EFABRIC, OFI_SUB, "fi_getinfo: %s", fi_msg(rc));
    int lines = 0;
    for (struct fi_info *i = info; i; i = i->next) {
        char line[512];
        int n = snprintf(line, sizeof(line), "%s %s %s\n",
                         i->fabric_attr->prov_name, i->fabric_attr->name,
                         i->domain_attr->name);
        if (n < 0 || (size_t)n >= sizeof(line) || strstr(buf, line))
            continue;
        if (*used + (size_t)n + 1 > len) {
            rc = lc_seterr(LOCUS_EINVAL, OFI_SUB,
                           "provider list does not fit in %zu bytes", len);
            break;
        }
        memcpy(buf + *used, line, (size_t)n + 1);
        *used += (size_t)n;
        lines++;
    }
    fi_freeinfo(info);
    return rc ? rc : lines;
}

/* libfabric's shm provider names its region after the endpoint, which it
   names "<pid>:<n>:<n>" unless told otherwise. */
static int ofi_file_pid(const char *name)
{
    char *end;
    long pid = strtol(name, &end, 10);
    if (end == name || *end != ':' || pid <= 0 || pid > INT32_MAX ||
        !isdigit((unsigned char)end[1]))
        return 0;
    return (int)pid;
}

static const char *ofi_local_provider(void)
{
    return "shm";
}

static void ofi_alive(xport_ep *ep, int on)
{
    ofi_bell_alive((struct ofi_ep *)ep, on);
}

const struct xport_ops xport_ofi_ops = {
    .size = sizeof(struct xport_ops),
    .name = "ofi",
    .serves = ofi_serves,
    .open = ofi_open,
    .close = ofi_close,
    .provider = ofi_provider,
    .fabric = ofi_fabric,
    .domain = ofi_domain,
    .msg_size = ofi_msg_size,
    .getname = ofi_name,
    .insert = ofi_insert,
    .remove = ofi_remove,
    .sendv = ofi_sendv,
    .mr_reg = ofi_mr_reg,
    .mr_close = ofi_mr_close,
    .mr_rkey = ofi_mr_rkey,
    .read = ofi_read,
    .progress = ofi_progress,
    .release = ofi_release,
    .poll = ofi_poll,
    .wait_fd = ofi_wait_fd,
    .trywait = ofi_trywait,
    .list_providers = ofi_list_providers,
    .file_pid = ofi_file_pid,
    .local_provider = ofi_local_provider,
    .alive = ofi_alive,
};
