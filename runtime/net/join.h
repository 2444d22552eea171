/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Joining the scheduler (private): the one handshake of workers and
 * clients.
 *
 *   peer  -> sched  HELLO (handshake message; header session id = sid, a
 *                    random id the peer chose), sent again every 500 ms
 *                    until a CHALLENGE comes
 *   sched -> peer   CHALLENGE (the scheduler proves the cluster key and
 *                    gives the peer its id); both sides open the session,
 *                    keyed from the cluster key and both nonces
 *   peer  -> sched  AUTH, the session's first message (the peer proves the
 *                    key; the message MAC proves it again)
 *   sched -> peer   WELCOME (in the session) or REFUSE (handshake)
 *
 * A duplicate HELLO gets the same CHALLENGE again; after the CHALLENGE
 * the session's own acknowledgements and retransmissions take over.
 *
 * The HELLO goes over the net provider even to a scheduler on this host;
 * the scheduler then routes the session over shm (the HELLO names our shm
 * address), so our first shm message reaches a process that has already
 * mapped our shm region.  Over shm, a HELLO could wait unread in the queue
 * of a scheduler that does not run (stopped, swapped out) until we gave up
 * and removed that region: libfabric's shm provider (1.17) maps a sender's
 * region when it reads its first message, finds none, and dereferences
 * NULL (tests/test_faults.c, clients_that_gave_up_...).
 */
#ifndef LC_JOIN_H
#define LC_JOIN_H

#include "net/lnet.h"
#include "proto/records.h"
#include "proto/schedfile.h"

enum { LJ_HELLO = 1, LJ_AUTH, LJ_JOINED };

typedef struct ljoin {
    int state;
    rec_hello hello;
    uint64_t sid;
    uint64_t hello_ns;      /* last HELLO sent */
    lnet_route route;       /* to the scheduler: the session's */
    lnet_route hello_route; /* the HELLO's: over the net provider */
    lsess *sess;            /* once challenged */
    uint32_t id;
    int heartbeat_ms;
    int dead_ms; /* the scheduler's; 0: it did not say */
} ljoin;

/* Fill the HELLO from n's addresses and sf's job; role ROLE_*. */
void ljoin_init(ljoin *j, lnet *n, const schedfile *sf, lnet_route sched,
                int role, int numa, const char *cpuset, int nthreads);
/* Send the HELLO when it is due (first call: now). */
void ljoin_tick(ljoin *j, lnet *n, const schedfile *sf);
/* A handshake message: 0, or LOCUS_EAUTH (refused, or a scheduler that
 * cannot prove the key) with a message. */
int ljoin_on_handshake(ljoin *j, lnet *n, const schedfile *sf, lnet_in *in);
/* The WELCOME record: 0 or LOCUS_EPROTO. */
int ljoin_on_welcome(ljoin *j, wire_rd *r);

#endif
