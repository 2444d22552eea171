/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libfabric plugin of the transport: private declarations shared by
 * ofi_ep.c (endpoint, addresses, messages, completions), ofi_rma.c
 * (registration and reads) and ofi_bell.c (doorbells: the wait fd of
 * providers that have none).
 */
#ifndef XPORT_OFI_H
#define XPORT_OFI_H

#include <pthread.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "base/base.h"
#include "xport.h"

#define OFI_SUB "xport"
#define OFI_READ_DEPTH 8                  /* chunks in flight per read */
#define OFI_READ_CHUNK (8u * 1024 * 1024) /* largest chunk */
#define OFI_TX_COUNT 64                   /* transport-owned send buffers */

enum ofi_kind { OFI_RECV = 1, OFI_SEND, OFI_READ };

/* Head of every operation context: the provider may use fictx
 * (FI_CONTEXT / FI_CONTEXT2 modes). */
struct ofi_ctx {
    struct fi_context2 fictx;
    int kind;
};

struct ofi_rx {
    struct ofi_ctx c;
    char *buf;
    int posted; /* with the provider */
    int lent;   /* handed out in an event, not yet released */
};

struct ofi_tx {
    struct ofi_ctx c;
    char *buf;
    struct ofi_tx *next; /* free list */
    xport_addr dst;
};

struct ofi_read;
struct ofi_chunk {
    struct ofi_ctx c;
    struct ofi_read *op;
    size_t len;
    int busy;
};

struct ofi_read {
    struct ofi_read *next;          /* ep->stalled list */
    struct ofi_read *aprev, *anext; /* ep->reads: every read not finished */
    int stalled;
    void *ctx;
    xport_addr peer;
    char *dst;
    size_t len, posted, done;
    int inflight;
    int status;
    uint64_t raddr, key;
    void *desc;
    struct fid_mr *tmp_mr; /* dst registered for this read only */
    uint64_t stall_deadline;
    struct ofi_chunk chunk[OFI_READ_DEPTH];
};

struct ofi_mr {
    const struct xport_ops *ops;
    struct ofi_ep *ep;
    struct fid_mr *mr; /* NULL once the endpoint closed it */
    char *base;
    size_t len;
    uint64_t key;
    void *desc;
    struct ofi_mr *prev, *next;
};

/* A peer's doorbell (its name's "#bell=" part). */
struct ofi_bell {
    struct sockaddr_un sa;
    socklen_t len; /* 0: the peer has none */
    int contacted; /* a message went through already */
    /* the peer's sleep flag, mapped read-only: nonzero while it may block
       on its doorbell; NULL: unknown (an older peer), always ring */
    const _Atomic uint32_t *asleep;
    /* in the same page: the futex word of its owner's liveness mutex
       (xport_alive); NULL: unknown */
    const _Atomic uint32_t *alive;
};

struct ofi_peer {
    unsigned char *raw; /* fi_getname bytes; NULL: free slot */
    size_t rawlen;
    struct ofi_bell bell;
};

struct ofi_ep {
    struct xport_ep_head head; /* first: the generic layer reads it */
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    struct fid_av *av;
    struct fid_cq *cq;
    struct fid_ep *ep;
    int wait_fd;    /* the completion queue's, or bell_fd */
    int bell_fd;    /* doorbell socket, where the provider has no wait fd */
    char bell[128]; /* its path (or abstract name); "": none bound */
    int ring_fd;    /* unbound socket to ring peers when bell_fd < 0 */
    /* our sleep flag (a page shared with senders, next to the doorbell):
       set before blocking, cleared by the next drain; senders ring only
       while it is set */
    _Atomic uint32_t *asleep;
    /* the robust mutex xport_alive locks (in the same page, at
       ALIVE_OFF), and the thread that holds it */
    pthread_t alive_owner;
    int alive_held;

    char prov[64];
    uint64_t mr_mode; /* provider's duties plus the forced ones */
    int offset_addr;  /* FI_MR_VIRT_ADDR clear: RMA addresses are offsets */
    int av0_reserved; /* fi_addr 0 is this endpoint, reported as unknown */
    size_t msg_size, inject_size, chunk;
    int timeout_ms;
    uint64_t next_key; /* requested keys, unique in the domain */

    char *rx_slab, *tx_slab;
    struct fid_mr *rx_mr, *tx_mr;
    void *rx_desc, *tx_desc;
    struct ofi_rx *rx;
    unsigned rx_count, rx_unposted;
    struct ofi_tx *tx, *tx_free;

    struct ofi_read *stalled;
    struct ofi_read *reads;
    unsigned nreads;    /* reads not yet completed */
    struct ofi_mr *mrs; /* live user regions */

    xport_event *evq; /* events met while driving progress */
    unsigned evq_head, evq_len, evq_cap;

    struct ofi_peer *peers; /* indexed by fi_addr (FI_AV_TABLE) */
    size_t npeers;
};

/* ofi_ep.c */
extern const struct xport_ops xport_ofi_ops;
int ofi_err(int fi_rc);
int ofi_push_event(struct ofi_ep *e, const xport_event *ev);
int ofi_drain(struct ofi_ep *e);
int ofi_reg(struct ofi_ep *e, void *buf, size_t len, uint64_t access,
            struct fid_mr **out, const char *what);
int ofi_peer_ok(const struct ofi_ep *e, xport_addr a);

/* ofi_bell.c */
int ofi_bell_open(struct ofi_ep *e);
void ofi_bell_close(struct ofi_ep *e);
/* Split "#bell=<addr>" off name (in place) into *b (len 0: none). */
void ofi_bell_parse(char *name, struct ofi_bell *b);
/* Map b's sleep flag (once it is kept in the peer table). */
void ofi_bell_map(struct ofi_bell *b);
/* Unmap what ofi_bell_map mapped. */
void ofi_bell_forget(struct ofi_bell *b);
/* Ring b's doorbell (always). */
void ofi_bell_ring(struct ofi_ep *e, struct ofi_bell *b);
/* After a message went to b's owner: ring only if it may sleep. */
void ofi_bell_notify(struct ofi_ep *e, struct ofi_bell *b);
/* Before blocking on the doorbell: say so (1), or that we are awake (0). */
void ofi_bell_sleeping(struct ofi_ep *e, int yes);
/* xport_alive for an endpoint with a doorbell page */
void ofi_bell_alive(struct ofi_ep *e, int on);
/* 1 when b's owner published that it lives and has died since */
int ofi_bell_dead(const struct ofi_bell *b);
/* Empty the doorbell before blocking on it. */
void ofi_bell_drain(struct ofi_ep *e);

/* ofi_rma.c */
int ofi_mr_reg(xport_ep *ep, void *buf, size_t len, xport_mr **out);
void ofi_mr_close(xport_mr *mr);
int ofi_mr_rkey(const xport_mr *mr, const void *ptr, size_t len,
                xport_rkey *out);
int ofi_read(xport_ep *ep, xport_addr src, void *dst, size_t len,
             xport_mr *local_mr, const xport_rkey *rk, uint64_t offset,
             void *ctx);
void ofi_read_comp(struct ofi_ep *e, struct ofi_chunk *c, int status);
void ofi_read_retry(struct ofi_ep *e);
void ofi_mrs_close_all(struct ofi_ep *e);
void ofi_reads_free_all(struct ofi_ep *e);

#endif
