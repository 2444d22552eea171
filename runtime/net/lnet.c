#include "net/lnet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/base.h"

int lnet_open(lnet *n, const char *provider, const char *bind,
              const char *port, int no_shm)
{
    int rc = 0;
    memset(n, 0, sizeof(*n));
    n->wake_fd = -1;
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
    n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    LC_CHECK(n->wake_fd >= 0, out, rc, LOCUS_ESYS, "xport", "eventfd: %s",
             strerror(errno));
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
    if (n->wake_fd >= 0)
        close(n->wake_fd);
    n->wake_fd = -1;
}

int lnet_route_to(lnet *n, const char *host, const char *net_addr,
                  const char *shm_addr, lnet_route *out)
{
    out->ep = -1;
    if (n->ep[LNET_SHM] && shm_addr && *shm_addr && host &&
        strcmp(host, lc_hostname()) == 0) {
        if (xport_insert(n->ep[LNET_SHM], shm_addr, &out->addr) == 0) {
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

struct emit_ctx {
    lnet *n;
    lnet_route r;
    uint64_t deadline;
};

static int emit(void *arg, const void *msg, size_t len)
{
    struct emit_ctx *e = arg;
    return xport_send(e->n->ep[e->r.ep], e->r.addr, WIRE_TAG_CTRL, msg, len,
                      e->deadline);
}

int lnet_send(lnet *n, lnet_route r, wire_wr *w, uint64_t deadline)
{
    if (r.ep < 0 || !n->ep[r.ep]) {
        wire_wr_reset(w);
        return lc_seterr(LOCUS_ECLOSED, "xport", "no route to peer");
    }
    struct emit_ctx e = {n, r, deadline};
    return wire_flush(w, n->msg_size, n->msgbuf, emit, &e);
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
    uint64_t v;
    while (read(n->wake_fd, &v, sizeof(v)) == sizeof(v))
        ;
    return rc;
}

void lnet_wake(lnet *n)
{
    uint64_t one = 1;
    ssize_t w = write(n->wake_fd, &one, sizeof(one));
    (void)w;
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
