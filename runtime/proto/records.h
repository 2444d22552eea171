/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One encoder and one decoder per record that more than one process kind
 * writes or reads (private).  Fields are as runtime/proto/wire.h lists
 * them; a decoder returns 0, or LOCUS_EPROTO when the record is malformed
 * (nothing is trusted from it then).
 */
#ifndef LC_RECORDS_H
#define LC_RECORDS_H

#include "proto/auth.h"
#include "proto/wire.h"
#include "xport.h"

#define REC_HOST_MAX 64
#define REC_JOB_MAX 40

typedef struct rec_hello {
    uint8_t role;
    uint8_t nonce[AUTH_NONCE_LEN];
    char host[REC_HOST_MAX];
    uint32_t pid;
    char net[XPORT_NAME_MAX], shm[XPORT_NAME_MAX];
    int32_t numa;
    char cpuset[64];
    uint32_t nthreads;
    char job[REC_JOB_MAX];
} rec_hello;

void rec_put_hello(wire_wr *w, const rec_hello *h);
int rec_get_hello(wire_rd *r, rec_hello *h);

typedef struct rec_challenge {
    uint8_t snonce[AUTH_NONCE_LEN];
    uint8_t mac[AUTH_MAC_LEN];
    uint32_t id;
} rec_challenge;

void rec_put_challenge(wire_wr *w, const rec_challenge *c);
int rec_get_challenge(wire_rd *r, rec_challenge *c);

typedef struct rec_peer {
    uint32_t id;
    uint8_t role;
    char host[REC_HOST_MAX];
    uint32_t pid;
    char net[XPORT_NAME_MAX], shm[XPORT_NAME_MAX];
    uint64_t sid;
} rec_peer;

void rec_put_peer(wire_wr *w, const rec_peer *p);
int rec_get_peer(wire_rd *r, rec_peer *p);

/* STOP (client -> sched): u64 req, str reason.  STOPPING (sched ->
   client): u64 req, i32 status (0 or a LOCUS_E* code), str message.  The
   encoders cut the strings to REC_REASON_MAX - 1 bytes; the decoders take
   buffers of REC_REASON_MAX. */
#define REC_REASON_MAX 256
void rec_put_stop(wire_wr *w, uint64_t req, const char *reason);
int rec_get_stop(wire_rd *r, uint64_t *req, char reason[REC_REASON_MAX]);
void rec_put_stopping(wire_wr *w, uint64_t req, int status, const char *msg);
int rec_get_stopping(wire_rd *r, uint64_t *req, int *status,
                     char msg[REC_REASON_MAX]);

/* GET: u64 req, u64 key, u8 may_map */
void rec_put_get(wire_wr *w, uint64_t req, uint64_t key, int may_map);
int rec_get_get(wire_rd *r, uint64_t *req, uint64_t *key, int *may_map);

/* DATA, as a holder describes a value to the peer that asked for it. */
typedef struct rec_data {
    uint64_t req;
    int32_t status;
    uint64_t nbytes;
    uint8_t mode; /* DATA_INLINE, DATA_RMA, DATA_SHM */
    /* DATA_INLINE: the bytes; status != 0: the message */
    const void *bytes;
    size_t nbytes_inline;
    /* DATA_RMA */
    xport_rkey rk;
    /* DATA_SHM */
    char segment[96]; /* ARENA_NAME_MAX */
    uint64_t seg_len, offset;
    uint8_t dedicated;
} rec_data;

void rec_put_data(wire_wr *w, const rec_data *d);
/* Points into the record for bytes: valid while the record is. */
int rec_get_data(wire_rd *r, rec_data *d);
/* A DATA record with an error status and its message. */
void rec_put_data_error(wire_wr *w, uint64_t req, int status, const char *msg);

#endif
