/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A process's fabric presence (private): a net endpoint and, for peers on
 * the same host, the transport's local endpoint (LNET_SHM); sessions with
 * peers; waiting on both endpoints plus a wake-up fd for other threads.
 *
 * Sessions.  Everything after the handshake travels in a session: one per
 * pair of processes (peer <-> scheduler, and worker <-> worker, client <->
 * worker for the data plane).  A session has the remote peer's id, a
 * session id and two keys (one per direction).  Every message carries the
 * sender's peer id, the session id, a sequence number, a cumulative
 * acknowledgement and a MAC (Poly1305 keyed per message by ChaCha20 from
 * the direction's key and a nonce made of the message kind and sequence).
 * The receiver finds the session from the message itself, never from the
 * transport's source address, and drops (and counts) what does not verify.
 *
 * Delivery is ordered and exactly once per session, whatever the provider
 * does: messages are numbered; the receiver delivers them in order, keeps
 * a few that arrive early, drops duplicates and replays, and acknowledges
 * (piggybacked on its own messages, or alone after a short delay); the
 * sender keeps each message until it is acknowledged and sends it again
 * after a timeout.  Flow control: at most LNET_WINDOW messages are
 * unacknowledged per session, and at most LNET_WINDOW_BYTES; records
 * beyond that wait in the session's outbox.  A session whose oldest message
 * stays unacknowledged for dead_ms is reported broken (lnet_in kind
 * LNET_IN_BROKEN).
 *
 * The transport address of a session is only where its messages go.
 *
 * Owned by one progress thread.  lnet_wake() is the only call other threads
 * may make.
 */
#ifndef LC_LNET_H
#define LC_LNET_H

#include <stdatomic.h>

#include "proto/auth.h"
#include "proto/wire.h"
#include "xport.h"

#define LNET_NET 0
#define LNET_SHM 1

/* Messages and bytes in flight (unacknowledged) per session. */
#define LNET_WINDOW 64
#define LNET_WINDOW_BYTES (1u << 20)
/* The scheduler's own peer id. */
#define LNET_SCHED_ID 0u

typedef struct lnet_route {
    int ep; /* LNET_NET or LNET_SHM; -1: no route */
    xport_addr addr;
} lnet_route;

struct lnet_msg; /* a sent message kept until acknowledged */

enum lsess_state { LS_OPEN = 1, LS_CLOSING, LS_BROKEN };

typedef struct lsess {
    uint32_t peer; /* remote peer id */
    uint64_t sid;  /* session id */
    int state;
    lnet_route route;
    lnet_route fallback; /* the net route when route is shm; ep -1: none */
    int fallback_used;   /* route is the fallback now */
    uint8_t ktx[AUTH_KEY_LEN], krx[AUTH_KEY_LEN];
    void *user; /* the owner's per-peer data */
    /* sending */
    wire_wr out; /* records not yet in a message, from out_head */
    size_t out_head;
    int dirty;          /* in the lnet's dirty list */
    int urgent;         /* out holds a record given through lnet_out */
    uint64_t lazy_ns;   /* when lazy records came into an empty out; 0 */
    uint64_t tx_next;   /* next sequence number (from 1) */
    uint64_t tx_acked;  /* every message up to this one was received */
    uint64_t ack_nonce; /* ACK messages' own counter (MAC nonce) */
    struct lnet_msg *q_head, *q_tail; /* unacknowledged, by seq */
    uint32_t nq;
    size_t q_bytes;
    uint64_t rto_ns;
    uint64_t oldest_ns; /* since when the oldest unacknowledged has waited */
    /* receiving */
    uint64_t rx_next;  /* next sequence number expected */
    uint64_t ack_sent; /* last acknowledgement sent (rx_next - 1) */
    uint64_t ack_due;  /* lc_now_ns() when an ACK must go; 0: none */
    struct lnet_early *early[LNET_WINDOW]; /* arrived ahead, by seq */
    uint32_t nready; /* its copies in the lnet's ready queue */
    int broken_told;
    /* counters */
    uint64_t sent, resent, received, dups, early_kept;
    int warned; /* a bad message from this peer was logged */
} lsess;

/* What lnet_poll hands to its owner. */
enum lnet_in_kind {
    LNET_IN_MSG = 1,   /* in-order records of a session: sess, rd */
    LNET_IN_HANDSHAKE, /* HELLO / CHALLENGE / REFUSE: ep, hdr, rd */
    LNET_IN_READ,      /* an xport_read finished or failed: ev */
    LNET_IN_BROKEN,    /* a session's messages are not acknowledged: sess */
};

typedef struct lnet_hdr {
    uint8_t kind;
    uint32_t src, dst, window;
    uint64_t sid, seq, ack;
} lnet_hdr;

typedef struct lnet_in {
    int kind;
    int ep;
    lsess *sess;
    lnet_hdr hdr;
    wire_rd rd; /* the records */
    xport_event ev;
    void *priv; /* lnet's own: give back with lnet_done */
} lnet_in;

/* Counters of what was dropped, for logs and metrics. */
typedef struct lnet_stats {
    uint64_t msgs_in, msgs_out, resent;
    uint64_t bad_header; /* not a locus message */
    uint64_t no_session; /* unknown peer or session id */
    uint64_t bad_mac;    /* forged or corrupted */
    uint64_t duplicates; /* replays and retransmissions already seen */
    uint64_t out_of_window;
} lnet_stats;

typedef struct lnet {
    xport_ep *ep[2];
    char name[2][XPORT_NAME_MAX]; /* "" when the endpoint is absent */
    int wake_fd;                  /* lnet_wake's eventfd */
    _Atomic int wake_req;         /* lnet_wake was called since lnet_wait */
    _Atomic int waiting;          /* lnet_wait may block in the kernel */
    uint64_t hot_ns[2];           /* an endpoint's last event */
    uint64_t polled_ns[2];        /* when a quiet endpoint was last polled */
    uint64_t in_ns, in_gap_ns;    /* last inputs, and the gap before them */
    uint32_t *avref[2];           /* routes using each address, by xport_addr */
    uint64_t *avidle[2]; /* when its last route went (0: in use, gone) */
    size_t navref[2];
    uint64_t sweep_ns;
    size_t msg_size; /* smallest of the endpoints' */
    uint8_t *msgbuf;
    uint32_t self; /* our peer id (LNET_SCHED_ID for the scheduler) */
    int dead_ms;   /* unacknowledged this long: broken (default 10 s) */
    lsess **sess;  /* by remote peer id */
    uint32_t nsess;
    uint32_t *dirty;
    uint32_t ndirty;
    struct lnet_early *ready; /* in-order copies waiting for lnet_poll */
    struct lnet_early *ready_tail;
    uint32_t nbroken; /* broken sessions not reported yet */
    uint64_t timer_ns;
    lnet_stats st;
    int chaos; /* fault injection ($LOCUS_NET_CHAOS, tests) */
    uint32_t chaos_drop, chaos_dup, chaos_shmdrop;
    uint64_t chaos_rng;
} lnet;

/* Open the net endpoint on provider (NULL: $FI_PROVIDER or tcp;ofi_rxm)
 * bound to bind (NULL: 127.0.0.1) and port (NULL: any), and the
 * transport's local (same-host) endpoint, LNET_SHM, unless no_shm. */
int lnet_open(lnet *n, const char *provider, const char *bind, const char *port,
              int no_shm);
void lnet_close(lnet *n);
/* xport_alive on both endpoints, from the thread that drives them for
   their whole use (on), and from it again before lnet_close (off). */
void lnet_alive(lnet *n, int on);
/* Idle: sessions' send buffers that grew big give their memory back. */
void lnet_trim(lnet *n);

/* Insert a peer's printable address (as its transport endpoint gave it). */
int lnet_insert(lnet *n, int ep, const char *name, xport_addr *out);

/* Give back a route made by lnet_insert or lnet_route_to: the address
 * leaves the address vector (and its connection closes) a few seconds
 * after no route uses it any more.  Routes are counted: the same endpoint may
 * come back as a new peer while its old session still lingers. */
void lnet_unroute(lnet *n, lnet_route r);

/* Route to a peer: shm when it is on this host (same host name) and both
 * sides have shm, else net. */
int lnet_route_to(lnet *n, const char *host, const char *net_addr,
                  const char *shm_addr, lnet_route *out);

/* ---- sessions ------------------------------------------------------------ */

/*
 * Open the session with peer (replacing any earlier one, which is freed):
 * keys are given for each direction.  Returns the session or NULL (out of
 * memory).
 */
lsess *lnet_sess_open(lnet *n, uint32_t peer, uint64_t sid,
                      const uint8_t ktx[AUTH_KEY_LEN],
                      const uint8_t krx[AUTH_KEY_LEN], lnet_route route);
lsess *lnet_sess_get(const lnet *n, uint32_t peer);
/*
 * Where to send when the shm route stops delivering: the peer's net
 * address (net_addr, inserted here; "" or NULL: none).  A session whose
 * oldest message stays unacknowledged over shm for half of dead_ms moves
 * to it (a peer killed inside the shm provider can leave a receiver's
 * queue locked).  Not sooner: a receiver that is only slow (a loaded
 * machine, a long batch) must not lose its shm path for good, nor make
 * both sides pay for the net provider's buffers.  The session owns this
 * route.
 */
void lnet_sess_fallback(lnet *n, lsess *s, const char *net_addr);
/* Forget the session at once (what it had not sent is dropped). */
void lnet_sess_close(lnet *n, lsess *s);
/* 1 when everything given to the session was sent and acknowledged. */
int lnet_sess_idle(const lsess *s);

/*
 * Keys.  Scheduler sessions: from the cluster key and both nonces of the
 * handshake.  Pair sessions (the data plane between two peers that the
 * scheduler introduced): from the cluster key and both peers' (id,
 * scheduler session id), so that both sides derive them without another
 * handshake; a new incarnation of either peer gives new keys.
 */
void lnet_keys_sched(const uint8_t cluster[AUTH_KEY_LEN],
                     const uint8_t pnonce[AUTH_NONCE_LEN],
                     const uint8_t snonce[AUTH_NONCE_LEN], int is_sched,
                     uint8_t ktx[AUTH_KEY_LEN], uint8_t krx[AUTH_KEY_LEN]);
void lnet_keys_pair(const uint8_t cluster[AUTH_KEY_LEN], uint32_t self,
                    uint64_t self_sid, uint32_t peer, uint64_t peer_sid,
                    uint8_t ktx[AUTH_KEY_LEN], uint8_t krx[AUTH_KEY_LEN],
                    uint64_t *pair_sid);

/* The session's outbox: append records, lnet_flush sends them. */
wire_wr *lnet_out(lnet *n, lsess *s);
/*
 * The same outbox, for records nobody waits for (reports the peer keeps
 * for its books: a client's RELEASE and RELEASE_DIRECT, a worker's
 * DIRECT_GONE; lease tasks' SUBMIT_DIRECTs and DONEs wait one step
 * earlier, in the client's and the worker's books).  lnet_flush keeps them up
 * to LNET_LAZY_NS, or until LNET_LAZY_BYTES of them wait, or until a record
 * through lnet_out comes after them, so one message carries a batch and
 * none goes out on a round trip's critical path.  Order within the
 * session is unchanged.
 */
wire_wr *lnet_out_lazy(lnet *n, lsess *s);
#define LNET_LAZY_NS 500000ull
#define LNET_LAZY_BYTES (16u << 10)

/*
 * Send what the outboxes hold, within each session's window; send ACKs
 * that are due and messages whose acknowledgement is late again.  Never
 * waits on a peer.  Returns the number of sessions with records still
 * waiting (window full, or the provider could not take them now).
 */
int lnet_flush(lnet *n);

/*
 * A message outside any session (the handshake: HELLO, CHALLENGE,
 * REFUSE): the records of w (reset), unauthenticated, not numbered.
 */
int lnet_send_handshake(lnet *n, lnet_route r, uint32_t dst, uint64_t sid,
                        wire_wr *w, uint64_t deadline);

/* Tests: send the bytes as they are (a forged or replayed message). */
int lnet_send_raw(lnet *n, lnet_route r, const void *msg, size_t len);
/* Tests: build a session message exactly as lnet_flush would, without
 * sending it or numbering anything: msg gets header, records and MAC for
 * sequence number seq.  Returns its length or a negative code. */
int lnet_seal(lnet *n, lsess *s, uint64_t seq, const wire_wr *w, uint8_t *msg,
              size_t max);

/* ---- receiving ----------------------------------------------------------- */

/*
 * Drive progress on both endpoints; return up to max inputs: in-order
 * session messages (verified), handshake messages, RMA completions and
 * broken sessions.  Bad messages are dropped and counted in n->st.  Each
 * input must be given back with lnet_done once handled.
 */
int lnet_poll(lnet *n, lnet_in *in, int max);
void lnet_done(lnet *n, lnet_in *in);

/* Block until events may be ready, lnet_wake() was called, a session timer
 * is due, or timeout.  Spin first for up to spin_us; a negative spin_us
 * spins up to -spin_us only while traffic flows (the last two inputs came
 * closer than twice that): a daemon whose messages come in batches far
 * apart sleeps at once instead of taking a core from the processes on a
 * round trip (on 2 cores, its 50 us spins after each batch were the p99
 * of the task round trip). */
int lnet_wait(lnet *n, int spin_us, int timeout_ms);
void lnet_wake(lnet *n);

#endif
