/* SPDX-License-Identifier: BSD-3-Clause */
#include "net/lnet.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sodium.h>
#include <unistd.h>

#include "base/base.h"

static void chaos_init(lnet *n);

/* A message kept until acknowledged: exactly the bytes sent. */
struct lnet_msg {
    struct lnet_msg *next;
    uint64_t seq;
    uint64_t tx_ns; /* last transmission; 0: not handed to the provider */
    size_t len;
    uint8_t data[];
};

/* A message that arrived ahead of its turn, or a copy waiting in the ready
   queue (in order, behind others of its session). */
struct lnet_early {
    struct lnet_early *next;
    lsess *s;
    uint64_t seq;
    int ep;
    size_t len;
    uint8_t data[];
};

#define RTO_MIN_NS 50000000ull   /* first retransmission after 50 ms */
#define RTO_MAX_NS 1000000000ull /* backing off to 1 s */
#define ACK_DELAY_NS 1000000ull  /* an ACK alone waits 1 ms for a ride */

/* The wake-up of lnet_wait that other threads ring (lnet_wake). */
static int open_wake(lnet *n)
{
    n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->wake_fd < 0)
        return lc_seterr(LOCUS_ESYS, "xport", "eventfd: %s", strerror(errno));
    return 0;
}

int lnet_open(lnet *n, const char *provider, const char *bind, const char *port,
              int no_shm)
{
    int rc = 0;
    memset(n, 0, sizeof(*n));
    n->wake_fd = -1;
    n->self = UINT32_MAX;
    n->dead_ms = 10000;
    chaos_init(n);
    LC_CHECK_RC(open_wake(n), out, rc);
    struct xport_opts o = XPORT_OPTS_INIT;
    o.provider = provider;
    o.node = bind;
    o.service = port;
    LC_CHECK_RC(xport_open(&o, &n->ep[LNET_NET]), out, rc);
    LC_CHECK_RC(xport_name(n->ep[LNET_NET], n->name[LNET_NET], XPORT_NAME_MAX),
                out, rc);
    n->msg_size = xport_msg_size(n->ep[LNET_NET]);
    if (!no_shm) {
        struct xport_opts s = XPORT_OPTS_INIT;
        s.local = 1;
        if (xport_open(&s, &n->ep[LNET_SHM]) == 0 &&
            xport_name(n->ep[LNET_SHM], n->name[LNET_SHM], XPORT_NAME_MAX) ==
                0) {
            size_t m = xport_msg_size(n->ep[LNET_SHM]);
            if (m < n->msg_size)
                n->msg_size = m;
        } else {
            /* the local endpoint is an optimisation: run on net alone */
            lc_log(LC_LOG_WARN, "xport",
                   "no local (same-host) endpoint (%s); peers on "
                   "this host use the net provider",
                   locus_last_error());
            xport_close(n->ep[LNET_SHM]);
            n->ep[LNET_SHM] = NULL;
            n->name[LNET_SHM][0] = '\0';
        }
    }
    n->msgbuf = malloc(n->msg_size);
    LC_CHECK(n->msgbuf, out, rc, LOCUS_ENOMEM, "xport", "no memory");
out:
    if (rc)
        lnet_close(n);
    return rc;
}

void lnet_alive(lnet *n, int on)
{
    for (int i = 0; i < 2; i++)
        xport_alive(n->ep[i], on);
}

void lnet_close(lnet *n)
{
    for (uint32_t i = 0; i < n->nsess; i++)
        if (n->sess[i])
            lnet_sess_close(n, n->sess[i]);
    free(n->sess);
    n->sess = NULL;
    n->nsess = 0;
    free(n->dirty);
    n->dirty = NULL;
    n->ndirty = 0;
    for (int i = 0; i < 2; i++) {
        xport_close(n->ep[i]);
        n->ep[i] = NULL;
        free(n->avref[i]);
        n->avref[i] = NULL;
        free(n->avidle[i]);
        n->avidle[i] = NULL;
        n->navref[i] = 0;
    }
    free(n->msgbuf);
    n->msgbuf = NULL;
    if (n->wake_fd >= 0)
        close(n->wake_fd);
    n->wake_fd = -1;
}

static int avref_add(lnet *n, int ep, xport_addr a)
{
    if (a >= (1u << 24))
        return lc_seterr(LOCUS_EINVAL, "xport",
                         "address handle %llu out of range",
                         (unsigned long long)a);
    if (a >= n->navref[ep]) {
        size_t cap = n->navref[ep] ? n->navref[ep] : 64;
        while (cap <= a)
            cap *= 2;
        uint32_t *r = realloc(n->avref[ep], cap * sizeof(*r));
        if (!r)
            return lc_seterr(LOCUS_ENOMEM, "xport", "no memory");
        n->avref[ep] = r;
        uint64_t *t = realloc(n->avidle[ep], cap * sizeof(*t));
        if (!t)
            return lc_seterr(LOCUS_ENOMEM, "xport", "no memory");
        n->avidle[ep] = t;
        memset(r + n->navref[ep], 0, (cap - n->navref[ep]) * sizeof(*r));
        memset(t + n->navref[ep], 0, (cap - n->navref[ep]) * sizeof(*t));
        n->navref[ep] = cap;
    }
    n->avref[ep][a]++;
    n->avidle[ep][a] = 0;
    return 0;
}

void lnet_unroute(lnet *n, lnet_route r)
{
    if (r.ep < 0 || r.ep > 1 || !n->ep[r.ep] || r.addr >= n->navref[r.ep] ||
        !n->avref[r.ep][r.addr])
        return;
    if (--n->avref[r.ep][r.addr] == 0)
        n->avidle[r.ep][r.addr] = lc_now_ns();
}

/* Addresses no route has used for a while leave the address vector.  Not
   at once: rxm tears a connection down asynchronously, and a send to the
   same address re-inserted meanwhile can crash inside the provider. */
static void sweep_routes(lnet *n, uint64_t now)
{
    static const uint64_t idle = 5000000000ull;
    if (now - n->sweep_ns < 1000000000ull)
        return;
    n->sweep_ns = now;
    for (int ep = 0; ep < 2; ep++)
        for (size_t a = 0; n->ep[ep] && a < n->navref[ep]; a++) {
            if (n->avref[ep][a] || !n->avidle[ep][a] ||
                now - n->avidle[ep][a] < idle)
                continue;
            n->avidle[ep][a] = 0;
            xport_remove(n->ep[ep], a);
        }
}

int lnet_insert(lnet *n, int ep, const char *name, xport_addr *out)
{
    int rc = xport_insert(n->ep[ep], name, out);
    if (rc == 0 && (rc = avref_add(n, ep, *out)) != 0 &&
        (*out >= n->navref[ep] || !n->avref[ep][*out]))
        xport_remove(n->ep[ep], *out);
    return rc;
}

int lnet_route_to(lnet *n, const char *host, const char *net_addr,
                  const char *shm_addr, lnet_route *out)
{
    out->ep = -1;
    if (n->ep[LNET_SHM] && shm_addr && *shm_addr && host &&
        strcmp(host, lc_hostname()) == 0) {
        if (lnet_insert(n, LNET_SHM, shm_addr, &out->addr) == 0) {
            out->ep = LNET_SHM;
            return 0;
        }
        lc_log(LC_LOG_WARN, "xport",
               "shm route to %s failed (%s); using "
               "the net provider",
               host, locus_last_error());
    }
    int rc = lnet_insert(n, LNET_NET, net_addr, &out->addr);
    if (rc == 0)
        out->ep = LNET_NET;
    return rc;
}

/* One transmission; LOCUS_EAGAIN (deadline XPORT_TRY) or LOCUS_ETIMEDOUT
   when the provider cannot take it now. */
static int xmit(lnet *n, lnet_route r, const void *msg, size_t len,
                uint64_t deadline)
{
    if (r.ep < 0 || !n->ep[r.ep])
        return lc_seterr(LOCUS_ECLOSED, "xport", "no route to peer");
    int rc = xport_send(n->ep[r.ep], r.addr, WIRE_TAG_CTRL, msg, len, deadline);
    if (rc == 0)
        n->st.msgs_out++;
    return rc;
}

/* ---- headers ----------------------------------------------------------------
 */

static void put_hdr(uint8_t *m, uint8_t kind, uint32_t len, uint32_t src,
                    uint32_t dst, uint64_t sid, uint64_t seq, uint64_t ack)
{
    wire_le_put(m, WIRE_MAGIC, 4);
    m[4] = WIRE_VERSION;
    m[5] = kind;
    wire_le_put(m + 6, 0, 2);
    wire_le_put(m + 8, len, 4);
    wire_le_put(m + 12, src, 4);
    wire_le_put(m + 16, dst, 4);
    wire_le_put(m + 20, LNET_WINDOW, 4);
    wire_le_put(m + 24, sid, 8);
    wire_le_put(m + 32, seq, 8);
    wire_le_put(m + 40, ack, 8);
}

static int get_hdr(const uint8_t *m, size_t len, lnet_hdr *h)
{
    if (len < WIRE_HDR_LEN)
        return lc_seterr(LOCUS_EPROTO, "wire",
                         "message of %zu bytes is "
                         "shorter than a header",
                         len);
    if (wire_le_get(m, 4) != WIRE_MAGIC)
        return lc_seterr(LOCUS_EPROTO, "wire", "bad magic 0x%08llx",
                         (unsigned long long)wire_le_get(m, 4));
    if (m[4] != WIRE_VERSION)
        return lc_seterr(LOCUS_EPROTO, "wire",
                         "protocol version %u, "
                         "expected %u (mixed locus versions?)",
                         m[4], WIRE_VERSION);
    if (wire_le_get(m + 8, 4) != len)
        return lc_seterr(LOCUS_EPROTO, "wire",
                         "header says %u bytes, "
                         "message has %zu",
                         (unsigned)wire_le_get(m + 8, 4), len);
    h->kind = m[5];
    if (h->kind < MSG_DATA || h->kind > MSG_HANDSHAKE ||
        (h->kind != MSG_HANDSHAKE && len < WIRE_HDR_LEN + WIRE_MAC_LEN))
        return lc_seterr(LOCUS_EPROTO, "wire",
                         "bad message kind %u or "
                         "length %zu",
                         h->kind, len);
    h->src = (uint32_t)wire_le_get(m + 12, 4);
    h->dst = (uint32_t)wire_le_get(m + 16, 4);
    h->window = (uint32_t)wire_le_get(m + 20, 4);
    h->sid = wire_le_get(m + 24, 8);
    h->seq = wire_le_get(m + 32, 8);
    h->ack = wire_le_get(m + 40, 8);
    return 0;
}

/* ---- keys
 * ---------------------------------------------------------------------- */

void lnet_keys_sched(const uint8_t cluster[AUTH_KEY_LEN],
                     const uint8_t pnonce[AUTH_NONCE_LEN],
                     const uint8_t snonce[AUTH_NONCE_LEN], int is_sched,
                     uint8_t ktx[AUTH_KEY_LEN], uint8_t krx[AUTH_KEY_LEN])
{
    uint8_t master[AUTH_MAC_LEN], p2s[AUTH_MAC_LEN], s2p[AUTH_MAC_LEN];
    auth_mac(cluster, "locus-session", pnonce, AUTH_NONCE_LEN, snonce,
             AUTH_NONCE_LEN, master);
    auth_mac(master, "peer-to-scheduler", NULL, 0, NULL, 0, p2s);
    auth_mac(master, "scheduler-to-peer", NULL, 0, NULL, 0, s2p);
    memcpy(ktx, is_sched ? s2p : p2s, AUTH_KEY_LEN);
    memcpy(krx, is_sched ? p2s : s2p, AUTH_KEY_LEN);
}

static void pair_key(const uint8_t cluster[AUTH_KEY_LEN], uint32_t from,
                     uint64_t from_sid, uint32_t to, uint64_t to_sid,
                     uint8_t out[AUTH_KEY_LEN])
{
    uint8_t a[12], b[12];
    wire_le_put(a, from, 4);
    wire_le_put(a + 4, from_sid, 8);
    wire_le_put(b, to, 4);
    wire_le_put(b + 4, to_sid, 8);
    auth_mac(cluster, "locus-pair", a, sizeof(a), b, sizeof(b), out);
}

void lnet_keys_pair(const uint8_t cluster[AUTH_KEY_LEN], uint32_t self,
                    uint64_t self_sid, uint32_t peer, uint64_t peer_sid,
                    uint8_t ktx[AUTH_KEY_LEN], uint8_t krx[AUTH_KEY_LEN],
                    uint64_t *pair_sid)
{
    pair_key(cluster, self, self_sid, peer, peer_sid, ktx);
    pair_key(cluster, peer, peer_sid, self, self_sid, krx);
    /* the same on both sides: a function of the unordered pair */
    uint8_t h[AUTH_MAC_LEN], lo[12], hi[12];
    int me_first = self < peer;
    wire_le_put(lo, me_first ? self : peer, 4);
    wire_le_put(lo + 4, me_first ? self_sid : peer_sid, 8);
    wire_le_put(hi, me_first ? peer : self, 4);
    wire_le_put(hi + 4, me_first ? peer_sid : self_sid, 8);
    auth_mac(cluster, "locus-pair-id", lo, sizeof(lo), hi, sizeof(hi), h);
    *pair_sid = wire_le_get(h, 8);
}

/* ---- sessions
 * --------------------------------------------------------------------- */

static void mark_dirty(lnet *n, lsess *s)
{
    if (s->dirty)
        return;
    s->dirty = 1;
    n->dirty[n->ndirty++] = s->peer;
}

lsess *lnet_sess_open(lnet *n, uint32_t peer, uint64_t sid,
                      const uint8_t ktx[AUTH_KEY_LEN],
                      const uint8_t krx[AUTH_KEY_LEN], lnet_route route)
{
    if (peer >= (1u << 24)) {
        lc_seterr(LOCUS_EINVAL, "xport", "peer id %u out of range", peer);
        return NULL;
    }
    if (peer >= n->nsess) {
        uint32_t cap = n->nsess ? n->nsess : 64;
        while (cap <= peer)
            cap *= 2;
        lsess **ns = realloc(n->sess, cap * sizeof(*ns));
        if (!ns)
            return NULL;
        memset(ns + n->nsess, 0, (cap - n->nsess) * sizeof(*ns));
        n->sess = ns;
        uint32_t *nd = realloc(n->dirty, cap * sizeof(*nd));
        if (!nd)
            return NULL;
        n->dirty = nd;
        n->nsess = cap;
    }
    if (n->sess[peer])
        lnet_sess_close(n, n->sess[peer]);
    lsess *s = calloc(1, sizeof(*s));
    if (!s) {
        lc_seterr(LOCUS_ENOMEM, "xport", "no memory for a session");
        return NULL;
    }
    s->peer = peer;
    s->sid = sid;
    s->state = LS_OPEN;
    s->route = route;
    memcpy(s->ktx, ktx, AUTH_KEY_LEN);
    memcpy(s->krx, krx, AUTH_KEY_LEN);
    s->fallback.ep = -1;
    s->tx_next = 1;
    s->rx_next = 1;
    s->rto_ns = RTO_MIN_NS;
    wire_wr_init(&s->out);
    n->sess[peer] = s;
    return s;
}

void lnet_sess_fallback(lnet *n, lsess *s, const char *net_addr)
{
    if (!s || s->route.ep != LNET_SHM || !net_addr || !*net_addr ||
        s->fallback.ep >= 0)
        return;
    lnet_route r = {LNET_NET, 0};
    if (lnet_insert(n, LNET_NET, net_addr, &r.addr) == 0)
        s->fallback = r;
}

lsess *lnet_sess_get(const lnet *n, uint32_t peer)
{
    return peer < n->nsess ? n->sess[peer] : NULL;
}

void lnet_sess_close(lnet *n, lsess *s)
{
    if (!s)
        return;
    if (s->peer < n->nsess && n->sess[s->peer] == s)
        n->sess[s->peer] = NULL;
    if (s->dirty) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < n->ndirty; i++)
            if (n->dirty[i] != s->peer)
                n->dirty[k++] = n->dirty[i];
        n->ndirty = k;
    }
    for (struct lnet_msg *m = s->q_head; m;) {
        struct lnet_msg *next = m->next;
        free(m);
        m = next;
    }
    for (int i = 0; i < LNET_WINDOW; i++)
        free(s->early[i]);
    /* in-order copies not handed out yet */
    struct lnet_early **pp = &n->ready;
    n->ready_tail = NULL;
    while (*pp) {
        struct lnet_early *e = *pp;
        if (e->s == s) {
            *pp = e->next;
            free(e);
        } else {
            n->ready_tail = e;
            pp = &e->next;
        }
    }
    wire_wr_free(&s->out);
    if (s->fallback.ep >= 0)
        lnet_unroute(n, s->fallback);
    sodium_memzero(s->ktx, sizeof(s->ktx));
    sodium_memzero(s->krx, sizeof(s->krx));
    free(s);
}

int lnet_sess_idle(const lsess *s)
{
    return s->out.len == s->out_head && s->nq == 0;
}

wire_wr *lnet_out(lnet *n, lsess *s)
{
    mark_dirty(n, s);
    s->urgent = 1;
    return &s->out;
}

wire_wr *lnet_out_lazy(lnet *n, lsess *s)
{
    mark_dirty(n, s);
    if (!s->urgent && !s->lazy_ns && s->out_head == s->out.len)
        s->lazy_ns = lc_now_ns();
    return &s->out;
}

/* Records that may wait a little longer (lnet_out_lazy) */
static int lazy_wait(const lsess *s, uint64_t now)
{
    return !s->urgent && s->lazy_ns && now - s->lazy_ns < LNET_LAZY_NS &&
           s->out.len - s->out_head < LNET_LAZY_BYTES;
}

/* ---- sending
 * -------------------------------------------------------------------- */

static size_t seal(lnet *n, lsess *s, uint8_t kind, uint64_t seq,
                   const uint8_t *recs, size_t rlen, uint8_t *m)
{
    size_t len = WIRE_HDR_LEN + rlen + WIRE_MAC_LEN;
    put_hdr(m, kind, (uint32_t)len, n->self, s->peer, s->sid, seq,
            s->rx_next - 1);
    if (rlen)
        memcpy(m + WIRE_HDR_LEN, recs, rlen);
    auth_seal(s->ktx, kind, seq, m, len - WIRE_MAC_LEN, m + len - WIRE_MAC_LEN);
    return len;
}

int lnet_seal(lnet *n, lsess *s, uint64_t seq, const wire_wr *w, uint8_t *msg,
              size_t max)
{
    if (WIRE_HDR_LEN + w->len + WIRE_MAC_LEN > max)
        return lc_seterr(LOCUS_EMSGSIZE, "xport", "records too long");
    return (int)seal(n, s, MSG_DATA, seq, w->buf, w->len, msg);
}

static void acked(lsess *s)
{
    s->ack_sent = s->rx_next - 1;
    s->ack_due = 0;
}

/* Hand the session's unsent messages to the provider, in order. */
/* Fault injection for tests ($LOCUS_NET_CHAOS="drop=P,dup=P"): a message
   handed to the provider is dropped, or sent twice, with probability P,
   so that the session layer's retransmission, early-message and
   duplicate paths are exercised on a real cluster.  Off by default. */
static void chaos_init(lnet *n)
{
    const char *e = getenv("LOCUS_NET_CHAOS");
    if (!e || !*e)
        return;
    double drop = 0, dup = 0, shmdrop = 0;
    const char *d = strstr(e, "drop="), *u = strstr(e, "dup="),
               *sd = strstr(e, "shmdrop=");
    if (d && d != sd + 3)
        drop = strtod(d + 5, NULL);
    else if (d && (d = strstr(d + 1, "drop=")) && d != sd + 3)
        drop = strtod(d + 5, NULL);
    if (u)
        dup = strtod(u + 4, NULL);
    if (sd)
        shmdrop = strtod(sd + 8, NULL);
    if (!(drop >= 0 && drop < 1 && dup >= 0 && dup < 1 && shmdrop >= 0 &&
          shmdrop <= 1)) {
        lc_log(LC_LOG_WARN, "xport",
               "LOCUS_NET_CHAOS='%s' ignored: "
               "probabilities must be in [0, 1)",
               e);
        return;
    }
    n->chaos_drop = (uint32_t)(drop * 4294967295.0);
    n->chaos_dup = (uint32_t)(dup * 4294967295.0);
    n->chaos_shmdrop =
        shmdrop >= 1 ? UINT32_MAX : (uint32_t)(shmdrop * 4294967295.0);
    n->chaos_rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull + 1;
    n->chaos = n->chaos_drop || n->chaos_dup || n->chaos_shmdrop;
    if (n->chaos)
        lc_log(LC_LOG_WARN, "xport",
               "fault injection on: %.3f of messages dropped, %.3f sent "
               "twice, %.3f of those over shm dropped ($LOCUS_NET_CHAOS)",
               drop, dup, shmdrop);
}

static uint32_t chaos_rand(lnet *n)
{
    uint64_t x = n->chaos_rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    n->chaos_rng = x;
    return (uint32_t)(x >> 32);
}

/* One transmission of a session message, through the fault injector. */
static int xmit_chaos(lnet *n, lnet_route r, const void *msg, size_t len,
                      uint64_t deadline)
{
    if (__builtin_expect(n->chaos, 0)) {
        if (r.ep == LNET_SHM && n->chaos_shmdrop &&
            chaos_rand(n) <= n->chaos_shmdrop)
            return 0; /* shm delivers nothing */
        if (chaos_rand(n) < n->chaos_drop)
            return 0; /* lost on the way */
        if (chaos_rand(n) < n->chaos_dup)
            xmit(n, r, msg, len, deadline);
    }
    return xmit(n, r, msg, len, deadline);
}

static int push(lnet *n, lsess *s, uint64_t now)
{
    for (struct lnet_msg *m = s->q_head; m; m = m->next) {
        if (m->tx_ns)
            continue;
        /* one attempt (XPORT_TRY): a receiver that cannot take it now
           keeps this session waiting, never the process's others */
        int rc = xmit_chaos(n, s->route, m->data, m->len, XPORT_TRY);
        if (rc == LOCUS_ETIMEDOUT || rc == LOCUS_EAGAIN)
            return LOCUS_EAGAIN;
        /* a hard error: the message stays, and goes again at the
           retransmission timeout until the session is declared broken */
        if (rc != 0 && !s->warned) {
            s->warned = 1;
            lc_log(LC_LOG_INFO, "xport", "send to peer %u: %s", s->peer,
                   locus_last_error());
        }
        m->tx_ns = now;
        if (!s->oldest_ns)
            s->oldest_ns = now;
    }
    return 0;
}

static int flush_sess(lnet *n, lsess *s, uint64_t now)
{
    if (s->state == LS_BROKEN)
        return 0;
    int rc = push(n, s, now);
    size_t room = n->msg_size - WIRE_HDR_LEN - WIRE_MAC_LEN;
    int lazy = lazy_wait(s, now);
    while (!lazy && rc == 0 && s->nq < LNET_WINDOW &&
           s->q_bytes < LNET_WINDOW_BYTES && s->out_head < s->out.len) {
        size_t off = s->out_head;
        size_t rlen = wire_take(&s->out, &off, room);
        if (rlen == 0) {
            uint32_t big = (uint32_t)wire_le_get(s->out.buf + off + 2, 4);
            lc_log(LC_LOG_ERROR, "xport",
                   "%s record of %u bytes to peer %u "
                   "exceeds the message size %zu; dropped",
                   wire_rec_name((int)wire_le_get(s->out.buf + off, 2)),
                   big + WIRE_REC_HDR_LEN, s->peer, n->msg_size);
            s->out_head = off + WIRE_REC_HDR_LEN + big;
            continue;
        }
        struct lnet_msg *m =
            malloc(sizeof(*m) + WIRE_HDR_LEN + rlen + WIRE_MAC_LEN);
        if (!m)
            break; /* try again next turn */
        m->next = NULL;
        m->seq = s->tx_next++;
        m->tx_ns = 0;
        m->len = seal(n, s, MSG_DATA, m->seq, s->out.buf + s->out_head, rlen,
                      m->data);
        s->out_head = off;
        if (s->q_tail)
            s->q_tail->next = m;
        else
            s->q_head = m;
        s->q_tail = m;
        if (!s->oldest_ns)
            s->oldest_ns = now; /* waits from now, sent or not */
        s->nq++;
        s->q_bytes += m->len;
        s->sent++;
        acked(s);
        rc = push(n, s, now);
    }
    if (s->out_head == s->out.len) {
        wire_wr_reset(&s->out);
        s->out_head = 0;
        s->urgent = 0;
        s->lazy_ns = 0;
    } else if (s->out_head > (1u << 20) && s->out_head > s->out.len / 2) {
        memmove(s->out.buf, s->out.buf + s->out_head, s->out.len - s->out_head);
        s->out.len -= s->out_head;
        s->out_head = 0;
    }
    /* an acknowledgement that found no message to ride on */
    if (s->ack_due && now >= s->ack_due && s->ack_sent != s->rx_next - 1) {
        uint8_t m[WIRE_HDR_LEN + WIRE_MAC_LEN];
        size_t len = seal(n, s, MSG_ACK, ++s->ack_nonce, NULL, 0, m);
        if (xmit_chaos(n, s->route, m, len, XPORT_TRY) == 0)
            acked(s);
    }
    if (s->ack_due && s->ack_sent == s->rx_next - 1)
        s->ack_due = 0;
    int waiting = s->out_head < s->out.len || (s->q_tail && !s->q_tail->tx_ns);
    return waiting ? 1 : 0;
}

/* Late acknowledgements: send again; silent too long: broken. */
static void timers(lnet *n, uint64_t now)
{
    static const uint64_t every = 10000000ull;
    if (now - n->timer_ns < every)
        return;
    n->timer_ns = now;
    sweep_routes(n, now);
    /* shm silent this long: the net provider takes over (before the
       session would be declared broken) */
    uint64_t failover_ns = (uint64_t)n->dead_ms * 500000ull;
    for (uint32_t i = 0; i < n->nsess; i++) {
        lsess *s = n->sess[i];
        if (!s || !s->q_head || s->state == LS_BROKEN)
            continue;
        if (s->oldest_ns &&
            now - s->oldest_ns > (uint64_t)n->dead_ms * 1000000ull) {
            s->state = LS_BROKEN;
            n->nbroken++;
            lc_log(LC_LOG_INFO, "xport",
                   "peer %u: message %llu not "
                   "acknowledged for %d ms: session broken",
                   s->peer, (unsigned long long)s->q_head->seq, n->dead_ms);
            continue;
        }
        if (s->route.ep == LNET_SHM && s->fallback.ep >= 0 &&
            !s->fallback_used && s->oldest_ns &&
            now - s->oldest_ns > failover_ns) {
            /* shm delivers nothing any more (a peer that died inside the
               provider can leave the receiver's queue locked): the net
               provider takes over this session */
            lc_log(LC_LOG_WARN, "xport",
                   "peer %u: nothing acknowledged over shm for %.1f s; the "
                   "session moves to %s",
                   s->peer, (double)failover_ns / 1e9,
                   xport_provider(n->ep[LNET_NET]));
            s->route = s->fallback; /* the session's own route */
            s->fallback_used = 1;
            for (struct lnet_msg *m = s->q_head; m; m = m->next)
                m->tx_ns = 0;
            s->rto_ns = RTO_MIN_NS;
            s->oldest_ns = now;
            mark_dirty(n, s);
            continue;
        }
        if (s->q_head->tx_ns && now - s->q_head->tx_ns > s->rto_ns) {
            for (struct lnet_msg *m = s->q_head; m; m = m->next)
                if (m->tx_ns) {
                    m->tx_ns = 0;
                    s->resent++;
                    n->st.resent++;
                }
            s->rto_ns = s->rto_ns * 2 > RTO_MAX_NS ? RTO_MAX_NS : s->rto_ns * 2;
            mark_dirty(n, s);
        }
    }
}

int lnet_flush(lnet *n)
{
    uint64_t now = lc_now_ns();
    timers(n, now);
    int left = 0;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < n->ndirty; i++) {
        lsess *s = lnet_sess_get(n, n->dirty[i]);
        if (!s)
            continue;
        int w = flush_sess(n, s, now);
        left += w;
        if (w || s->ack_due)
            n->dirty[keep++] = s->peer;
        else
            s->dirty = 0;
    }
    n->ndirty = keep;
    return left;
}

int lnet_send_handshake(lnet *n, lnet_route r, uint32_t dst, uint64_t sid,
                        wire_wr *w, uint64_t deadline)
{
    int rc = 0;
    size_t len = WIRE_HDR_LEN + w->len;
    if (w->err || len > n->msg_size) {
        rc = lc_seterr(w->err ? w->err : LOCUS_EMSGSIZE, "xport",
                       "handshake message of %zu bytes", len);
        wire_wr_reset(w);
        return rc;
    }
    put_hdr(n->msgbuf, MSG_HANDSHAKE, (uint32_t)len, n->self, dst, sid, 0, 0);
    memcpy(n->msgbuf + WIRE_HDR_LEN, w->buf, w->len);
    wire_wr_reset(w);
    /* the transport wakes a sleeping receiver while the send waits */
    return xmit(n, r, n->msgbuf, len, deadline);
}

int lnet_send_raw(lnet *n, lnet_route r, const void *msg, size_t len)
{
    return xmit(n, r, msg, len, lc_deadline_ms(2000));
}

/* ---- receiving
 * -------------------------------------------------------------------- */

static void on_ack(lsess *s, uint64_t ack, uint64_t now)
{
    if (ack <= s->tx_acked || ack >= s->tx_next)
        return; /* old, or for messages never sent: ignore */
    s->tx_acked = ack;
    while (s->q_head && s->q_head->seq <= ack) {
        struct lnet_msg *m = s->q_head;
        s->q_head = m->next;
        s->q_bytes -= m->len;
        free(m);
        s->nq--;
    }
    if (!s->q_head)
        s->q_tail = NULL;
    s->rto_ns = RTO_MIN_NS;
    /* the next one waits from its last send, or from now if it could not
       be sent yet (the provider refused it): 0 here would read as "sent
       at boot" or, guarded, as "never late", and a session whose sends
       the provider keeps refusing would never move to the net provider */
    s->oldest_ns = !s->q_head ? 0 : s->q_head->tx_ns ? s->q_head->tx_ns : now;
}

static void ack_soon(lnet *n, lsess *s, uint64_t now, int at_once)
{
    uint64_t due = at_once || s->rx_next - 1 - s->ack_sent >= LNET_WINDOW / 2
                       ? now
                       : now + ACK_DELAY_NS;
    if (!s->ack_due || due < s->ack_due)
        s->ack_due = due;
    mark_dirty(n, s);
}

static struct lnet_early *copy_of(lsess *s, int ep, uint64_t seq,
                                  const void *data, size_t len)
{
    struct lnet_early *e = malloc(sizeof(*e) + len);
    if (!e)
        return NULL;
    e->next = NULL;
    e->s = s;
    e->seq = seq;
    e->ep = ep;
    e->len = len;
    memcpy(e->data, data, len);
    return e;
}

static void ready_push(lnet *n, struct lnet_early *e)
{
    e->next = NULL;
    if (n->ready_tail)
        n->ready_tail->next = e;
    else
        n->ready = e;
    n->ready_tail = e;
    e->s->nready++;
}

static void fill_msg(lnet_in *in, int ep, lsess *s, const uint8_t *data,
                     size_t len)
{
    in->kind = LNET_IN_MSG;
    in->ep = ep;
    in->sess = s;
    get_hdr(data, len, &in->hdr);
    wire_rd_init(&in->rd, data + WIRE_HDR_LEN,
                 len - WIRE_HDR_LEN - WIRE_MAC_LEN);
}

static void bad(lsess *s, const char *what, uint32_t src)
{
    if (s && s->warned)
        return;
    if (s)
        s->warned = 1;
    lc_log(LC_LOG_WARN, "xport", "message from peer %u dropped: %s%s", src,
           what, s ? " (logged once per peer; counted)" : "");
}

/* One received message: 1 when in became an input to hand out. */
static int on_recv(lnet *n, int ep, xport_event *ev, lnet_in *in, uint64_t now)
{
    lnet_hdr h;
    n->st.msgs_in++;
    if (get_hdr(ev->data, ev->len, &h) != 0) {
        n->st.bad_header++;
        lc_log(LC_LOG_DEBUG, "xport", "message dropped: %s",
               locus_last_error());
        return 0;
    }
    if (h.kind == MSG_HANDSHAKE) {
        in->kind = LNET_IN_HANDSHAKE;
        in->ep = ep;
        in->sess = NULL;
        in->hdr = h;
        wire_rd_init(&in->rd, (const uint8_t *)ev->data + WIRE_HDR_LEN,
                     ev->len - WIRE_HDR_LEN);
        return 1;
    }
    lsess *s = lnet_sess_get(n, h.src);
    if (!s || s->sid != h.sid || h.dst != n->self) {
        n->st.no_session++;
        lc_log(LC_LOG_DEBUG, "xport",
               "message from peer %u for session "
               "%016llx dropped: no such session here",
               h.src, (unsigned long long)h.sid);
        return 0;
    }
    const uint8_t *m = ev->data;
    if (!auth_check(s->krx, h.kind, h.seq, m, ev->len - WIRE_MAC_LEN,
                    m + ev->len - WIRE_MAC_LEN)) {
        n->st.bad_mac++;
        bad(s, "bad MAC (forged, corrupted or another session's)", h.src);
        return 0;
    }
    on_ack(s, h.ack, now);
    if (h.kind == MSG_ACK)
        return 0;
    if (h.seq < s->rx_next) {
        s->dups++;
        n->st.duplicates++;
        ack_soon(n, s, now, 1); /* our acknowledgement may have been lost */
        return 0;
    }
    if (h.seq >= s->rx_next + LNET_WINDOW) {
        n->st.out_of_window++;
        return 0;
    }
    int direct = 0;
    if (h.seq > s->rx_next || s->nready) {
        /* early (a gap before it), or behind copies not handed out yet */
        if (h.seq > s->rx_next) {
            struct lnet_early **slot = &s->early[h.seq % LNET_WINDOW];
            if (!*slot) {
                *slot = copy_of(s, ep, h.seq, ev->data, ev->len);
                s->early_kept += *slot != NULL;
            }
            ack_soon(n, s, now, 1); /* tell the sender about the gap */
            return 0;
        }
        struct lnet_early *e = copy_of(s, ep, h.seq, ev->data, ev->len);
        if (!e)
            return 0; /* comes again: not acknowledged */
        s->rx_next++;
        ready_push(n, e);
    } else {
        s->rx_next++;
        fill_msg(in, ep, s, ev->data, ev->len);
        in->priv = NULL;
        direct = 1;
    }
    s->received++;
    /* what arrived early and is now in order */
    for (;;) {
        struct lnet_early **slot = &s->early[s->rx_next % LNET_WINDOW];
        if (!*slot || (*slot)->seq != s->rx_next)
            break;
        struct lnet_early *e = *slot;
        *slot = NULL;
        s->rx_next++;
        s->received++;
        ready_push(n, e);
    }
    ack_soon(n, s, now, 0);
    return direct;
}

/* An endpoint that had events in the last HOT_NS is polled at every look
   (lnet_poll, each turn of lnet_wait's spin), a quiet one at most every
   QUIET_NS: polling an idle tcp;ofi_rxm endpoint costs two epoll_wait
   calls, which were most of a round trip's system calls (4 per round trip
   in the client, 3 in the worker) when the traffic is on shm.  A message
   that comes to a quiet endpoint waits at most QUIET_NS more, once: then
   the endpoint is hot.  After a block in the kernel every endpoint is
   looked at. */
#define HOT_NS 20000000ull
#define QUIET_NS 20000ull
#define YIELD_NS 2000ull

static int want_poll(lnet *n, int i, uint64_t now)
{
    if (!n->ep[i])
        return 0;
    if (now - n->hot_ns[i] <= HOT_NS || now - n->polled_ns[i] >= QUIET_NS) {
        n->polled_ns[i] = now;
        return 1;
    }
    return 0;
}

int lnet_poll(lnet *n, lnet_in *in, int max)
{
    int k = 0;
    uint64_t now = lc_now_ns();
    while (k < max && n->nbroken) {
        /* sessions declared broken by the timers */
        int found = 0;
        for (uint32_t i = 0; i < n->nsess && k < max; i++) {
            lsess *s = n->sess[i];
            if (s && s->state == LS_BROKEN && !s->broken_told) {
                s->broken_told = 1;
                n->nbroken--;
                memset(&in[k], 0, sizeof(in[k]));
                in[k].kind = LNET_IN_BROKEN;
                in[k].sess = s;
                k++;
                found = 1;
            }
        }
        if (!found)
            n->nbroken = 0;
    }
    while (k < max && n->ready) {
        struct lnet_early *e = n->ready;
        n->ready = e->next;
        if (!n->ready)
            n->ready_tail = NULL;
        e->s->nready--;
        memset(&in[k], 0, sizeof(in[k]));
        fill_msg(&in[k], e->ep, e->s, e->data, e->len);
        in[k].priv = e;
        k++;
    }
    for (int i = 0; i < 2 && k < max; i++) {
        if (!want_poll(n, i, now))
            continue;
        xport_event evs[64];
        int room = max - k < 64 ? max - k : 64;
        int got = xport_progress(n->ep[i], evs, room);
        if (got > 0)
            n->hot_ns[i] = now;
        if (got < 0) {
            if (!xport_shut()) /* else: exiting, and no more progress */
                lc_log(LC_LOG_ERROR, "xport", "progress on %s failed: %s",
                       xport_provider(n->ep[i]), locus_last_error());
            continue;
        }
        for (int j = 0; j < got; j++) {
            xport_event *ev = &evs[j];
            memset(&in[k], 0, sizeof(in[k]));
            if (ev->kind == XPORT_EV_READ_DONE ||
                ev->kind == XPORT_EV_READ_ERROR) {
                in[k].kind = LNET_IN_READ;
                in[k].ep = i;
                in[k].ev = *ev;
                k++;
                continue;
            }
            if (ev->kind != XPORT_EV_RECV) {
                /* a send failed after it was handed over: the session
                   sends it again when its acknowledgement is late */
                lc_log(LC_LOG_DEBUG, "xport", "send failed: %s",
                       locus_strerror(ev->status));
                continue;
            }
            if (on_recv(n, i, ev, &in[k], now)) {
                in[k].ev = *ev;
                in[k].priv = NULL;
                k++;
            } else {
                xport_release(n->ep[i], ev);
            }
        }
    }
    if (k > 0) {
        n->in_gap_ns = now - n->in_ns;
        n->in_ns = now;
    }
    return k;
}

void lnet_done(lnet *n, lnet_in *in)
{
    if (in->kind == LNET_IN_MSG && in->priv) {
        free(in->priv);
    } else if ((in->kind == LNET_IN_MSG || in->kind == LNET_IN_HANDSHAKE) &&
               in->ev.kind == XPORT_EV_RECV) {
        xport_release(n->ep[in->ep], &in->ev);
    }
    in->kind = 0;
}

/* ---- waiting
 * ------------------------------------------------------------------------- */

static int take_wake(lnet *n)
{
    if (!atomic_load_explicit(&n->wake_req, memory_order_relaxed))
        return 0;
    atomic_store_explicit(&n->wake_req, 0, memory_order_relaxed);
    return 1;
}

int lnet_wait(lnet *n, int spin_us, int timeout_ms)
{
    if (n->ready || n->nbroken)
        return 1;
    /* another thread's work was queued before its wake request; the caller
       looks at it after we return, so a request is taken here, once */
    if (take_wake(n))
        return 1;
    /* session timers: a due ACK, a late acknowledgement */
    uint64_t now = lc_now_ns(), next = UINT64_MAX;
    for (uint32_t i = 0; i < n->ndirty; i++) {
        lsess *s = lnet_sess_get(n, n->dirty[i]);
        if (s && s->ack_due && s->ack_due < next)
            next = s->ack_due;
    }
    for (uint32_t i = 0; i < n->nsess && next > now; i++) {
        lsess *s = n->sess[i];
        if (s && s->q_head && s->state != LS_BROKEN) {
            uint64_t t = n->timer_ns + 10000000ull;
            if (t < next)
                next = t;
        }
    }
    if (next != UINT64_MAX) {
        int ms = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
        if (timeout_ms < 0 || ms < timeout_ms)
            timeout_ms = ms;
    }
    xport_ep *eps[2];
    int k = 0;
    for (int i = 0; i < 2; i++)
        if (n->ep[i])
            eps[k++] = n->ep[i];

    /* Spin: the lowest latency while traffic flows.  The wake request is
       an in-process flag looked at every turn; the endpoints are polled
       as often as they are busy (want_poll); the spin yields every
       YIELD_NS, because on few cores the process we wait for may need this
       CPU, and pauses otherwise (a sched_yield per turn was 4-7 system
       calls per round trip in each of client and worker). */
    if (spin_us < 0)
        spin_us = n->in_gap_ns < (uint64_t)-spin_us * 2000 ? -spin_us : 0;
    uint64_t spin_end = now + (uint64_t)(spin_us > 0 ? spin_us : 0) * 1000;
    if (timeout_ms >= 0 && spin_end > now + (uint64_t)timeout_ms * 1000000)
        spin_end = now + (uint64_t)timeout_ms * 1000000;
    uint64_t yielded = now;
    while (spin_us > 0) {
        for (int i = 0; i < 2; i++) {
            if (!want_poll(n, i, now))
                continue;
            int rc = xport_poll(n->ep[i]);
            if (rc != 0) {
                n->hot_ns[i] = now;
                return rc < 0 ? rc : 1;
            }
        }
        if (take_wake(n))
            return 1;
        now = lc_now_ns();
        if (now >= spin_end)
            break;
        if (now - yielded >= YIELD_NS) {
            sched_yield();
            yielded = lc_now_ns();
        } else {
            lc_cpu_pause();
        }
    }
    if (timeout_ms == 0)
        return 0;

    /* Block: say so first, so that lnet_wake writes the eventfd; a request
       made before that is seen here (both sides order with seq_cst). */
    atomic_store(&n->waiting, 1);
    if (atomic_load(&n->wake_req)) {
        atomic_store(&n->waiting, 0);
        take_wake(n);
        return 1;
    }
    int rc = xport_wait(eps, k, n->wake_fd, 0, timeout_ms);
    atomic_store(&n->waiting, 0);
    n->polled_ns[0] = n->polled_ns[1] = 0; /* look at both next */
    uint64_t v;
    ssize_t got = read(n->wake_fd, &v, sizeof(v)); /* nonblocking */
    (void)got;
    take_wake(n);
    return rc;
}

void lnet_wake(lnet *n)
{
    atomic_store(&n->wake_req, 1);
    if (!atomic_load(&n->waiting))
        return; /* it spins or works: it sees the flag */
    uint64_t one = 1;
    ssize_t s = write(n->wake_fd, &one, sizeof(one));
    (void)s; /* EAGAIN: the counter is full, so it is readable already */
}

void lnet_trim(lnet *n)
{
    for (uint32_t i = 0; i < n->nsess; i++) {
        lsess *s = n->sess[i];
        if (s && s->out_head == s->out.len) {
            s->out.len = 0;
            s->out_head = 0;
            wire_wr_shrink(&s->out, 256u << 10);
        }
    }
}
