/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support: a protocol-level peer built from the runtime's own session
 * layer and handshake (runtime/net), for tests that speak the protocol
 * themselves: forged, replayed and malformed messages, the released-future
 * rule, re-joins from one endpoint.  It is a real lnet endpoint (net and,
 * unless no_shm, shm) talking to a real scheduler; nothing is mocked.
 */
#ifndef LT_PEER_H
#define LT_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "net/join.h"
#include "net/lnet.h"
#include "proto/schedfile.h"

typedef struct lt_rec {
    int type;
    size_t n;
    uint8_t p[4096];
} lt_rec;

typedef struct lt_peer {
    lnet n;
    schedfile sf;
    lnet_route sched;
    ljoin j;
    int open;
    lt_rec q[256]; /* records received, not looked at yet */
    int qhead, qlen;
    int refused; /* a REFUSE came */
    char why[256];
} lt_peer;

/* Open the endpoints for the cluster of scheduler file `file`; provider
 * NULL: the file's.  0 or a LOCUS_E* code. */
int lt_peer_open(lt_peer *p, const char *file, const char *provider,
                 int no_shm);
void lt_peer_close(lt_peer *p);

/* The whole handshake as role (ROLE_CLIENT, ROLE_WORKER): the peer id, or
 * a negative code (refused: p->why). */
int lt_peer_join(lt_peer *p, int role, int timeout_ms);

/* Drive progress for ms milliseconds (flushing, queueing records). */
void lt_peer_pump(lt_peer *p, int ms);

/* The records of w (reset) into the scheduler session, flushed. */
void lt_peer_send(lt_peer *p, wire_wr *w);

/* Wait for the next record of type want from the scheduler (others before
 * it are dropped), copying its payload.  want, or 0 on timeout. */
int lt_peer_recv(lt_peer *p, int want, uint8_t *payload, size_t *n, int ms);

/* BYE, then wait for the GOODBYE: 0, or LOCUS_ETIMEDOUT. */
int lt_peer_bye(lt_peer *p, int ms);

#endif
