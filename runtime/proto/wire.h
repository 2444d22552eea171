/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Wire format of locus control messages (private).
 *
 * A message is a 48-byte header, records, and (session messages) a 16-byte
 * MAC.  Header: u32 magic, u8 version, u8 kind (MSG_*), u16 flags (0), u32
 * total length, u32 sender's peer id, u32 receiver's peer id, u32 window
 * (messages the sender accepts beyond its acknowledgement), u64 session
 * id, u64 sequence number (MSG_DATA: from 1; MSG_ACK: the ACK's own
 * counter; MSG_HANDSHAKE: 0), u64 acknowledgement (every DATA message up to
 * it was received).  The MAC covers header and records (runtime/net/lnet.h
 * says how).  Each record is [u16 type][u32 length][payload].  Records of
 * any type to the same peer are batched into one message.  All integers
 * little-endian.  Every read is
 * bounds-checked: a reader that runs past its end is marked bad (sticky) and
 * returns zeros, so a decoder checks wire_rd_ok() once at the end of a
 * record, and a malformed message can never crash the process.
 */
#ifndef LC_WIRE_H
#define LC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC 0x324c434cu /* "LCL2" */
#define WIRE_VERSION                                                           \
    5 /* 3: DATA_RMA carries an opaque remote key; 4: leases; 5: lease         \
         tasks released before they were booked (RELEASE_DIRECT) */
#define WIRE_HDR_LEN 48
#define WIRE_MAC_LEN 16
#define WIRE_REC_HDR_LEN 6
#define WIRE_TAG_CTRL 0x4c4f43555300ull /* tag of control messages */

enum wire_msg_kind { MSG_DATA = 1, MSG_ACK = 2, MSG_HANDSHAKE = 3 };

enum wire_rec_type {
    /* authentication and membership */
    REC_HELLO = 1, /* peer -> sched */
    REC_CHALLENGE, /* sched -> peer */
    REC_AUTH,      /* peer -> sched */
    REC_WELCOME,   /* sched -> peer */
    REC_REFUSE,    /* sched -> peer */
    REC_PEER,      /* sched -> peer: another peer to talk to */
    REC_PEER_GONE, /* sched -> peer */
    REC_HEARTBEAT, /* any -> sched */
    REC_BYE,       /* any -> sched */
    REC_SHUTDOWN,  /* sched -> worker */
    REC_GOODBYE,   /* sched -> peer: BYE processed, session closing */
    REC_REPLACES,  /* worker -> sched: the process this one restarts */
    /* client -> sched */
    REC_SUBMIT = 20,
    REC_RELEASE,
    REC_CANCEL,
    REC_REQUIRE,
    REC_WORKERS_REQ,
    REC_STOP, /* client -> sched: stop the cluster */

    /* direct submission (leases) */
    REC_LEASE_REQ = 30, /* client -> sched: leases on workers, please */
    REC_SUBMIT_DIRECT,  /* client -> sched: a SUBMIT sent to a leased worker */
    /* sched -> client */
    REC_RESULT = 40,
    REC_REQUIRE_DONE,
    REC_WORKERS,
    REC_STOPPING,   /* sched -> client: the answer to STOP */
    REC_LEASE = 50, /* sched -> client: send tasks to this worker yourself */
    /* sched -> worker */
    REC_COMPUTE = 60,
    REC_FREE,
    REC_LOAD_LIB,
    REC_STEAL, /* sched -> worker: give back an unstarted task */
    /* worker -> sched */
    REC_DONE = 80,
    REC_LIB_LOADED,
    REC_STOLEN,      /* worker -> sched: the answer to STEAL */
    REC_DIRECT_GONE, /* worker -> sched: drop the DONE of a task whose
                        client released it unbooked */
    /* data plane: any peer -> worker holding the data, and the reply */
    REC_GET = 100,
    REC_DATA,

    REC_COMPUTE_DIRECT = 110, /* client -> leased worker: a COMPUTE */
    REC_RELEASE_DIRECT,       /* client -> leased worker: released, and never
                                 booked with the scheduler */
    REC_TYPE_MAX
};

/*
 * Record payloads, field by field (str and bytes are u32 length + bytes):
 *
 * HELLO       u8 role, raw nonce[32], str host, u32 pid, str net, str shm,
 *             i32 numa, str cpuset, u32 nthreads, str job_id (handshake
 *             message; its header's session id is the one the peer chose)
 * CHALLENGE   raw sched_nonce[32], raw mac[32] = HMAC(key, "locus-sched",
 *             peer nonce, job_id), u32 the peer's id: the scheduler proves
 *             it has the key (handshake message); the session is open
 * AUTH        raw mac[32] = HMAC(key, "locus-peer", sched nonce, peer nonce)
 *             (first message of the session)
 * WELCOME     u32 id, u32 heartbeat_ms, u32 dead_ms (the cluster's
 *             deadline for unacknowledged messages)
 * REFUSE      str reason (handshake message)
 * PEER        u32 id, u8 role, str host, u32 pid, str net, str shm, u64 its
 *             scheduler session id (for the pair session's keys)
 * PEER_GONE   u32 id
 * BYE         (nothing): everything before it is processed first
 * GOODBYE     (nothing): the scheduler processed the BYE
 * REPLACES    u32 id, u32 pid, i32 signal, i32 exit status, u32 n, n x u64
 *             key: this worker is the restart of worker id (same host),
 *             whose process died so (signal 0: it exited) while running
 *             the tasks listed (the nanny, runtime/worker/nanny.h)
 * HEARTBEAT   u32 running, u32 queued, u64 tasks_done, u64 bytes_held,
 *             u64 arena_reserved, u64 bytes_mapped, u64 bytes_rma,
 *             u64 bytes_inline, u64 tasks_local, u64 tasks_remote,
 *             u64 tasks_inline, u64 tasks_direct (a client sends zeros)
 * SHUTDOWN    str reason
 * SUBMIT      u64 key, str fn, i32 retries, u32 nrestrict, u32 ids[],
 *             u32 nargs, nargs x (u8 ARG_BYTES, bytes | u8 ARG_FUTURE, u64 |
 *             u8 ARG_PUT, u64 object key (bit 63 set), u64 nbytes: a big
 *             argument the client keeps for the worker to GET)
 * RELEASE     u64 key            CANCEL   u64 key (client->sched,
 * sched->worker) REQUIRE     u64 req, str path  WORKERS_REQ u64 req RESULT u64
 * key, i32 status, u32 worker, u64 nbytes, u8 inline, bytes (the value when
 * inline, else the error message) REQUIRE_DONE u64 req, i32 status, str message
 * STOP        u64 req, str reason: stop the cluster (the workers, then the
 *             scheduler)
 * STOPPING    u64 req, i32 status, str message: the answer to STOP; on 0
 *             the SHUTDOWN of every peer follows
 * WORKERS     u64 req, u32 n, n x (u32 id, u32 pid, str host, i32 numa,
 *             str cpuset, u32 nthreads, u32 running, u32 queued,
 *             u64 tasks_done, then the HEARTBEAT's u64 counters from
 *             bytes_held on)
 * COMPUTE     u64 key, str fn, u32 nargs, nargs x (u8 ARG_BYTES, bytes |
 *             u8 ARG_FUTURE, u64 key, u32 holder, u64 nbytes)
 * FREE        u64 key
 * LOAD_LIB    u64 req, str path
 * STEAL       u64 key: if the task has not started, drop it and say so
 * STOLEN      u64 key, u8 given (1: dropped unstarted, the scheduler places
 *             it again; 0: started or done already, its DONE comes)
 * DONE        u64 key, i32 status, u64 nbytes, u64 duration_ns, u8 inline,
 *             bytes (the value when inline, else the error message)
 * LIB_LOADED  u64 req, i32 status, str message
 * GET         u64 req, u64 key, u8 may_map (requester is on this host);
 *             to a worker for a result, or to a client for an ARG_PUT
 * DATA        u64 req, i32 status, u64 nbytes, u8 mode, then
 *             DATA_INLINE: bytes | DATA_RMA: u64 region length, bytes
 *             remote key (the transport's, opaque: 1..XPORT_RKEY_MAX) |
 *             DATA_SHM: str segment name, u64 segment length, u64 offset,
 *             u8 dedicated | error (status != 0): bytes message
 */
enum wire_role { ROLE_WORKER = 1, ROLE_CLIENT = 2 };
enum wire_arg { ARG_BYTES = 0, ARG_FUTURE = 1, ARG_PUT = 2 };
enum wire_data_mode { DATA_INLINE = 0, DATA_RMA = 1, DATA_SHM = 2 };

/* Worker counters carried by HEARTBEAT and WORKERS, in this order. */
#define WIRE_NCOUNTERS 10

/* Values up to this size travel inline with RESULT/DONE records. */
#define WIRE_INLINE_MAX 1024

const char *wire_rec_name(int type);

/* ---- writer: a growable buffer ---------------------------------------------
 */
typedef struct wire_wr {
    uint8_t *buf;
    size_t len, cap;
    int err;          /* sticky: out of memory */
    size_t rec_start; /* offset of the open record's header */
    uint32_t nrec;    /* records in the buffer */
} wire_wr;

void wire_wr_init(wire_wr *w);
void wire_wr_free(wire_wr *w);
void wire_wr_reset(wire_wr *w);
/* An empty buffer bigger than keep bytes gives its memory back (one that
   grew to hold a million records keeps it otherwise). */
void wire_wr_shrink(wire_wr *w, size_t keep);
void wire_put_u8(wire_wr *w, uint8_t v);
void wire_put_u16(wire_wr *w, uint16_t v);
void wire_put_u32(wire_wr *w, uint32_t v);
void wire_put_u64(wire_wr *w, uint64_t v);
void wire_put_i32(wire_wr *w, int32_t v);
void wire_put_bytes(wire_wr *w, const void *p, size_t n); /* u32 len + bytes */
void wire_put_str(wire_wr *w, const char *s);             /* NULL = "" */
void wire_put_raw(wire_wr *w, const void *p, size_t n);   /* no length */
/* Records: begin writes the record header, end patches its length. */
void wire_rec_begin(wire_wr *w, int type);
void wire_rec_end(wire_wr *w);

/* Little-endian integers of n bytes. */
void wire_le_put(uint8_t *p, uint64_t v, int n);
uint64_t wire_le_get(const uint8_t *p, int n);

/*
 * Records of w from byte offset *off that fit in room bytes: returns their
 * length (0 when the next record alone is larger than room: *off then
 * points at it) and advances *off past them.
 */
size_t wire_take(const wire_wr *w, size_t *off, size_t room);
/* Books (records held back in a buffer of their own, some of which may be
 * taken back before they go): wire_rec_kill marks the record that starts
 * at off as taken back; wire_put_live appends the records of src that are
 * not to dst, and returns how many. */
size_t wire_rec_kill(wire_wr *w, size_t off); /* the record's length */
uint32_t wire_put_live(wire_wr *dst, const wire_wr *src);
/* Sort src's live records (the u64 at key_off of each record's fields
 * names its task): those young() keeps go to keep (it learns their new
 * offset there), the others to send.  Killed records are dropped. */
typedef int (*wire_young_fn)(void *ctx, uint64_t key, size_t new_off);
void wire_books_split(const wire_wr *src, size_t key_off, wire_wr *send,
                      wire_wr *keep, wire_young_fn young, void *ctx);

/* ---- reader
 * ------------------------------------------------------------------ */
typedef struct wire_rd {
    const uint8_t *p;
    size_t len, off;
    int bad;
} wire_rd;

void wire_rd_init(wire_rd *r, const void *p, size_t len);
static inline int wire_rd_ok(const wire_rd *r)
{
    return !r->bad;
}
static inline size_t wire_rd_left(const wire_rd *r)
{
    return r->bad ? 0 : r->len - r->off;
}
uint8_t wire_get_u8(wire_rd *r);
uint16_t wire_get_u16(wire_rd *r);
uint32_t wire_get_u32(wire_rd *r);
uint64_t wire_get_u64(wire_rd *r);
int32_t wire_get_i32(wire_rd *r);
/* Pointer into the message (zero copy) and length. */
const void *wire_get_bytes(wire_rd *r, size_t *n);
const void *wire_get_raw(wire_rd *r, size_t n);
/* Copy a string into buf (len bytes with NUL); too long or containing NUL:
 * reader marked bad. */
void wire_get_str(wire_rd *r, char *buf, size_t len);

/* Next record: 1 with *type and a reader over its payload, 0 at the end,
 * LOCUS_EPROTO if the record header is malformed. */
int wire_next(wire_rd *records, int *type, wire_rd *payload);

#endif
