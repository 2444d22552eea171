/*
 * A process's fabric presence (private): a net endpoint and, for peers on
 * the same host, a shm endpoint; routes to peers; batched record sending;
 * waiting on both endpoints plus a wake-up fd for other threads.
 *
 * Owned by one progress thread.  lnet_wake() is the only call other threads
 * may make.
 */
#ifndef LC_LNET_H
#define LC_LNET_H

#include "proto/wire.h"
#include "xport.h"

#define LNET_NET 0
#define LNET_SHM 1

typedef struct lnet_route {
    int ep;          /* LNET_NET or LNET_SHM; -1: no route */
    xport_addr addr;
} lnet_route;

/*
 * The shm provider has no wait fd, so a process that blocks would see shm
 * messages only when it wakes up.  Each lnet therefore owns a doorbell: a
 * UNIX datagram socket in the abstract namespace, named in its shm address
 * ("<xport shm name>#bell=<socket name>").  Whoever sends over shm rings
 * the receiver's doorbell; lnet_wait blocks on it (and lnet_wake rings it).
 */
typedef struct lnet {
    xport_ep *ep[2];
    char name[2][XPORT_NAME_MAX]; /* "" when the endpoint is absent */
    int wake_fd;                  /* the doorbell socket */
    char bell[64];                /* its abstract name */
    struct lnet_bell *bells;      /* shm peers' doorbells, by xport_addr */
    size_t nbells;
    size_t msg_size;              /* smallest of the endpoints' */
    uint8_t *msgbuf;
    int *peer_of[2];              /* xport_addr -> peer id (-1 none) */
    size_t peer_cap[2];
} lnet;

/* Open the net endpoint on provider (NULL: $FI_PROVIDER or tcp;ofi_rxm)
 * bound to bind (NULL: 127.0.0.1) and port (NULL: any), and the shm
 * endpoint unless no_shm. */
int lnet_open(lnet *n, const char *provider, const char *bind,
              const char *port, int no_shm);
void lnet_close(lnet *n);

/* Insert a peer's printable address (with its doorbell, on shm). */
int lnet_insert(lnet *n, int ep, const char *name, xport_addr *out);

/* Route to a peer: shm when it is on this host (same host name) and both
 * sides have shm, else net. */
int lnet_route_to(lnet *n, const char *host, const char *net_addr,
                  const char *shm_addr, lnet_route *out);

/* Send all records of w to r as one or more messages; w is reset. */
int lnet_send(lnet *n, lnet_route r, wire_wr *w, uint64_t deadline);
/*
 * Send at most max_msgs messages of w's records without waiting on a peer
 * that cannot take them: returns 0 when w is empty, LOCUS_EAGAIN with the
 * unsent records kept in w (call again after handling received messages:
 * the peer may be waiting for us to release receive buffers), or an error
 * (the records are dropped).  deadline bounds the whole call.
 */
int lnet_send_some(lnet *n, lnet_route r, wire_wr *w, int max_msgs,
                   uint64_t deadline);

/* Poll both endpoints; evs[i] came from endpoint eps[i]. */
int lnet_poll(lnet *n, xport_event *evs, int *eps, int max);
void lnet_release(lnet *n, int ep, xport_event *ev);

/* Block until events may be ready, lnet_wake() was called, or timeout. */
int lnet_wait(lnet *n, int spin_us, int timeout_ms);
void lnet_wake(lnet *n);

/* Peer table: which peer id an (endpoint, address) belongs to. */
int lnet_peer_set(lnet *n, int ep, xport_addr a, int id);
int lnet_peer_get(const lnet *n, int ep, xport_addr a);

#endif
