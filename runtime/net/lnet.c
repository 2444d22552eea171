#include "net/lnet.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base.h"

struct lnet_bell {
    struct sockaddr_un sa;
    socklen_t len; /* 0: none */
    int contacted; /* a message went through already */
};

static socklen_t bell_addr(const char *name, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (n + 1 > sizeof(sa->sun_path))
        n = sizeof(sa->sun_path) - 1;
    memcpy(sa->sun_path + 1, name, n); /* abstract: leading NUL */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int open_bell(lnet *n)
{
    static int counter;
    n->wake_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (n->wake_fd < 0)
        return lc_seterr(LOCUS_ESYS, "xport", "doorbell socket: %s",
                         strerror(errno));
    snprintf(n->bell, sizeof(n->bell), "locus-bell-%d-%d", (int)getpid(),
             __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    struct sockaddr_un sa;
    socklen_t len = bell_addr(n->bell, &sa);
    if (bind(n->wake_fd, (struct sockaddr *)&sa, len) != 0)
        return lc_seterr(LOCUS_ESYS, "xport", "doorbell bind %s: %s",
                         n->bell, strerror(errno));
    return 0;
}

int lnet_open(lnet *n, const char *provider, const char *bind,
              const char *port, int no_shm)
{
    int rc = 0;
    memset(n, 0, sizeof(*n));
    n->wake_fd = -1;
    LC_CHECK_RC(open_bell(n), out, rc);
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
        s.provider = "shm";
        if (xport_open(&s, &n->ep[LNET_SHM]) == 0 &&
            xport_name(n->ep[LNET_SHM], n->name[LNET_SHM], XPORT_NAME_MAX) ==
                0) {
            size_t m = xport_msg_size(n->ep[LNET_SHM]);
            if (m < n->msg_size)
                n->msg_size = m;
            size_t l = strlen(n->name[LNET_SHM]);
            snprintf(n->name[LNET_SHM] + l, XPORT_NAME_MAX - l, "#bell=%s",
                     n->bell);
            if (!xport_has_wait_fd(n->ep[LNET_SHM]))
                xport_set_doorbell(n->ep[LNET_SHM], 1);
        } else {
            /* shm is an optimisation: run on the net provider alone */
            lc_log(LC_LOG_WARN, "xport", "no shm endpoint (%s); peers on "
                   "this host use the net provider", locus_last_error());
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

void lnet_close(lnet *n)
{
    for (int i = 0; i < 2; i++) {
        xport_close(n->ep[i]);
        n->ep[i] = NULL;
        free(n->peer_of[i]);
        n->peer_of[i] = NULL;
    }
    free(n->msgbuf);
    n->msgbuf = NULL;
    free(n->bells);
    n->bells = NULL;
    n->nbells = 0;
    if (n->wake_fd >= 0)
        close(n->wake_fd);
    n->wake_fd = -1;
}

int lnet_insert(lnet *n, int ep, const char *name, xport_addr *out)
{
    if (ep != LNET_SHM)
        return xport_insert(n->ep[ep], name, out);
    char addr[XPORT_NAME_MAX];
    snprintf(addr, sizeof(addr), "%s", name);
    char *bell = strstr(addr, "#bell=");
    if (bell)
        *bell = '\0';
    int rc = xport_insert(n->ep[LNET_SHM], addr, out);
    if (rc || !bell || *out >= (1u << 20))
        return rc;
    if (*out >= n->nbells) {
        size_t nb = n->nbells ? n->nbells : 16;
        while (nb <= *out)
            nb *= 2;
        struct lnet_bell *b = realloc(n->bells, nb * sizeof(*b));
        if (!b)
            return 0; /* no doorbell: that peer's wake-ups come late */
        memset(b + n->nbells, 0, (nb - n->nbells) * sizeof(*b));
        n->bells = b;
        n->nbells = nb;
    }
    n->bells[*out].len = bell_addr(bell + 6, &n->bells[*out].sa);
    return 0;
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
        lc_log(LC_LOG_WARN, "xport", "shm route to %s failed (%s); using "
               "the net provider", host, locus_last_error());
    }
    int rc = xport_insert(n->ep[LNET_NET], net_addr, &out->addr);
    if (rc == 0)
        out->ep = LNET_NET;
    return rc;
}

static void ring(lnet *n, struct lnet_bell *b)
{
    char one = 1;
    ssize_t s = sendto(n->wake_fd, &one, 1, MSG_DONTWAIT,
                       (struct sockaddr *)&b->sa, b->len);
    (void)s; /* a full or gone doorbell: the receiver is awake or dead */
}

struct emit_ctx {
    lnet *n;
    lnet_route r;
    uint64_t deadline;
    struct lnet_bell *bell;
    int budget; /* messages this call may still send; -1: no limit */
};

static int emit(void *arg, const void *msg, size_t len)
{
    struct emit_ctx *e = arg;
    xport_ep *ep = e->n->ep[e->r.ep];
    if (e->budget == 0)
        return LOCUS_EAGAIN;
    if (e->budget > 0) {
        /* a short try: if the peer cannot take it now, the caller goes
           back to its loop (and releases the receive buffers the peer may
           be waiting for) and sends the rest later */
        uint64_t dl = lc_now_ns() + 1000000ull;
        int rc = xport_send(ep, e->r.addr, WIRE_TAG_CTRL, msg, len,
                            dl < e->deadline ? dl : e->deadline);
        if (rc == LOCUS_ETIMEDOUT && !lc_expired(e->deadline)) {
            if (e->bell)
                ring(e->n, e->bell);
            return LOCUS_EAGAIN;
        }
        e->budget--;
        return rc;
    }
    if (!e->bell)
        return xport_send(ep, e->r.addr, WIRE_TAG_CTRL, msg, len,
                          e->deadline);
    /* while the send waits for the receiver (connection set-up, full
       queue), keep ringing it: a sleeping receiver makes no progress */
    for (;;) {
        uint64_t step = lc_now_ns() + 2000000ull;
        int rc = xport_send(ep, e->r.addr, WIRE_TAG_CTRL, msg, len,
                            step < e->deadline ? step : e->deadline);
        if (rc != LOCUS_ETIMEDOUT || lc_expired(e->deadline))
            return rc;
        ring(e->n, e->bell);
    }
}

static int send_records(lnet *n, lnet_route r, wire_wr *w, uint64_t deadline,
                        int budget)
{
    if (r.ep < 0 || !n->ep[r.ep]) {
        wire_wr_reset(w);
        return lc_seterr(LOCUS_ECLOSED, "xport", "no route to peer");
    }
    struct lnet_bell *bell = r.ep == LNET_SHM && r.addr < n->nbells &&
                                     n->bells[r.addr].len
                                 ? &n->bells[r.addr]
                                 : NULL;
    /* shm has no wait fd: ring the receiver in case it sleeps.  The first
       message to a peer also needs the receiver's progress to connect,
       so ring before it too. */
    if (bell && !bell->contacted)
        ring(n, bell);
    struct emit_ctx e = {n, r, deadline, bell, budget};
    int rc = wire_flush(w, n->msg_size, n->msgbuf, emit, &e);
    if (bell) {
        ring(n, bell);
        bell->contacted |= rc == 0;
    }
    return rc;
}

int lnet_send(lnet *n, lnet_route r, wire_wr *w, uint64_t deadline)
{
    return send_records(n, r, w, deadline, -1);
}

int lnet_send_some(lnet *n, lnet_route r, wire_wr *w, int max_msgs,
                   uint64_t deadline)
{
    return send_records(n, r, w, deadline, max_msgs > 0 ? max_msgs : 1);
}

int lnet_poll(lnet *n, xport_event *evs, int *eps, int max)
{
    int total = 0;
    for (int i = 0; i < 2 && total < max; i++) {
        if (!n->ep[i])
            continue;
        int got = xport_progress(n->ep[i], evs + total, max - total);
        if (got < 0) {
            lc_log(LC_LOG_ERROR, "xport", "progress on %s failed: %s",
                   xport_provider(n->ep[i]), locus_last_error());
            continue;
        }
        for (int k = 0; k < got; k++)
            eps[total + k] = i;
        total += got;
    }
    return total;
}

void lnet_release(lnet *n, int ep, xport_event *ev)
{
    xport_release(n->ep[ep], ev);
}

int lnet_wait(lnet *n, int spin_us, int timeout_ms)
{
    xport_ep *eps[2];
    int k = 0;
    for (int i = 0; i < 2; i++)
        if (n->ep[i])
            eps[k++] = n->ep[i];
    int rc = xport_wait(eps, k, n->wake_fd, spin_us, timeout_ms);
    char buf[64];
    while (recv(n->wake_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
    return rc;
}

void lnet_wake(lnet *n)
{
    struct sockaddr_un sa;
    socklen_t len = bell_addr(n->bell, &sa);
    char b = 1;
    ssize_t s = sendto(n->wake_fd, &b, 1, MSG_DONTWAIT, (struct sockaddr *)&sa,
                       len);
    (void)s;
}

int lnet_peer_set(lnet *n, int ep, xport_addr a, int id)
{
    if (a == XPORT_ADDR_UNKNOWN || a > (1u << 24))
        return lc_seterr(LOCUS_EINVAL, "xport", "peer address %llu out of "
                         "range", (unsigned long long)a);
    if (a >= n->peer_cap[ep]) {
        size_t cap = n->peer_cap[ep] ? n->peer_cap[ep] : 64;
        while (cap <= a)
            cap *= 2;
        int *np = realloc(n->peer_of[ep], cap * sizeof(int));
        if (!np)
            return lc_seterr(LOCUS_ENOMEM, "xport", "no memory");
        for (size_t i = n->peer_cap[ep]; i < cap; i++)
            np[i] = -1;
        n->peer_of[ep] = np;
        n->peer_cap[ep] = cap;
    }
    n->peer_of[ep][a] = id;
    return 0;
}

int lnet_peer_get(const lnet *n, int ep, xport_addr a)
{
    if (ep < 0 || ep > 1 || a >= n->peer_cap[ep])
        return -1;
    return n->peer_of[ep][a];
}
