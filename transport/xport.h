/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus transport interface (private; used by the runtime and the tools).
 *
 * One endpoint = one libfabric RDM endpoint on one provider, with its own
 * completion queue and address vector.  A process may hold several (a "net"
 * endpoint on tcp;ofi_rxm or verbs;ofi_rxm and a local endpoint, opened
 * with xport_opts.local, for peers on the same host).  The runtime never
 * sees a libfabric type, flag or provider quirk.
 *
 * Threading: an endpoint and everything made from it is used by one thread
 * at a time (the owner's progress thread).  No call takes a lock.
 *
 * Progress: providers here need manual progress.  Nothing moves, on either
 * side of a message or of an fi_read, unless the owner calls
 * xport_progress() (or a call that drives it: xport_send() while it waits
 * for room, xport_wait()).  Completions reach the caller only as events
 * returned by xport_progress(); the transport never calls back into the
 * runtime.
 *
 * Errors: every call returns 0 (or a count) or a negative LOCUS_E* code,
 * with a message for locus_last_error() that names the libfabric call, the
 * provider and the peer where relevant.  No call blocks past its deadline.
 */
#ifndef XPORT_H
#define XPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct xport_ep xport_ep;
typedef struct xport_mr xport_mr;

/* A peer inserted in an endpoint's address vector. */
typedef uint64_t xport_addr;
#define XPORT_ADDR_UNKNOWN UINT64_MAX /* sender not (yet) inserted */

/* Longest printable address, including the terminating NUL. */
#define XPORT_NAME_MAX 512

struct xport_opts {
    size_t size;          /* sizeof(struct xport_opts): ABI guard; older,
                             shorter structs get defaults for the tail */
    const char *provider; /* "tcp;ofi_rxm", "verbs;ofi_rxm"...; NULL:
                             $FI_PROVIDER, else "tcp;ofi_rxm" */
    const char *node;     /* address to bind (net providers); NULL:
                             127.0.0.1 (loopback unless told otherwise) */
    const char *service;  /* port to bind; NULL: any free port */
    size_t msg_size;      /* largest message; 0: 64 KiB */
    unsigned rx_count;    /* receive buffers pre-posted; 0: 128 */
    uint64_t mr_mode_add; /* tests: XPORT_MR_* duties the endpoint must
                             obey even if the fabric does not ask for
                             them; other bits: LOCUS_EINVAL */
    int timeout_ms;       /* limit for waits that have no deadline of
                             their own (posting the chunks of an
                             xport_read while the provider is busy);
                             0: 30000 */
    int local;            /* 1: open the transport's provider for peers on
                             this host (libfabric: shm) instead of
                             provider, which must then be NULL; node and
                             service are ignored */
};
#define XPORT_OPTS_INIT                                                        \
    {                                                                          \
        sizeof(struct xport_opts), NULL, NULL, NULL, 0, 0, 0, 0, 0             \
    }

/* Memory-registration duties a test may force on an endpoint
 * (mr_mode_add), as a fabric may impose them.  The plugin translates them
 * into its fabric's own bits. */
#define XPORT_MR_LOCAL (1ull << 0)    /* local buffers need registration */
#define XPORT_MR_PROV_KEY (1ull << 1) /* the fabric chooses the keys */
#define XPORT_MR_ENDPOINT (1ull << 2) /* regions are bound to an endpoint */
/* RMA addresses are offsets into the region, not virtual addresses; a
 * fabric that insists on virtual addresses then fails to open with
 * LOCUS_ENOPROV. */
#define XPORT_MR_OFFSET (1ull << 3)
#define XPORT_MR_ALL                                                           \
    (XPORT_MR_LOCAL | XPORT_MR_PROV_KEY | XPORT_MR_ENDPOINT | XPORT_MR_OFFSET)

/*
 * Open an endpoint.  Logs (info level, subsystem "xport") the provider,
 * fabric and domain chosen.  Errors: LOCUS_ENOPROV (no such provider or
 * none with the capabilities: tagged messages, RMA read, FI_SOURCE),
 * LOCUS_EFABRIC, LOCUS_EINVAL.  opts NULL: all defaults.  On shm the
 * endpoint's own address takes handle 0 (see xport_event.peer).
 */
int xport_open(const struct xport_opts *opts, xport_ep **out);

/* Close; cancels what is in flight.  NULL is accepted. */
void xport_close(xport_ep *ep);

/* Provider name of the open endpoint ("tcp;ofi_rxm"). */
const char *xport_provider(const xport_ep *ep);
/* Fabric and domain names chosen by fi_getinfo. */
const char *xport_fabric(const xport_ep *ep);
const char *xport_domain(const xport_ep *ep);
/* Largest message xport_send accepts (opts.msg_size after defaults). */
size_t xport_msg_size(const xport_ep *ep);

/*
 * Printable address of this endpoint, "<provider>://<hex of fi_getname>",
 * for a scheduler file or a hello message.  len >= XPORT_NAME_MAX.
 */
int xport_name(xport_ep *ep, char *buf, size_t len);

/* Provider part of a printable address; 0, or LOCUS_EADDR if malformed. */
int xport_name_provider(const char *name, char *prov, size_t len);

/*
 * Insert a peer by its printable address.  Inserting the same address twice
 * returns the same handle.  Errors: LOCUS_EADDR (malformed, wrong provider,
 * fi_av_insert refused).  A well-formed address of a dead peer inserts
 * fine; sends to it fail later with LOCUS_ECLOSED or LOCUS_ETIMEDOUT.
 */
int xport_insert(xport_ep *ep, const char *name, xport_addr *out);
int xport_remove(xport_ep *ep, xport_addr addr);

/*
 * Send a tagged message (the concatenation of iov[0..n-1]).  The data is
 * copied (inject or a transport-owned buffer): the caller may reuse its
 * buffers on return.  While the provider says -FI_EAGAIN, drives progress
 * and retries until deadline (lc_now_ns() based; LC_DEADLINE_NONE is not
 * allowed: every send has a deadline).  Events met while driving progress
 * are kept and returned by the next xport_progress().
 * Errors: LOCUS_EMSGSIZE (larger than xport_msg_size), LOCUS_ETIMEDOUT,
 * LOCUS_ECLOSED, LOCUS_EFABRIC, LOCUS_EADDR (dst not inserted).  A failure
 * detected after the call returned (peer gone) arrives as an
 * XPORT_EV_SEND_ERROR event; messages no larger than the provider's inject
 * size (64 B on tcp;ofi_rxm, 4 KiB on shm) are injected and have no
 * completion, so their late failures are not reported.  On tcp;ofi_rxm a
 * send to a peer that is not listening is refused with -FI_EAGAIN until
 * the deadline: LOCUS_ETIMEDOUT.
 *
 * deadline XPORT_TRY: one attempt.  When the provider cannot take the
 * message now, LOCUS_EAGAIN at once, without driving progress: a caller
 * with other peers to serve keeps the message and tries again on its next
 * pass, so one slow receiver holds up nobody else's messages.
 */
#define XPORT_TRY 0ull
int xport_sendv(xport_ep *ep, xport_addr dst, uint64_t tag,
                const struct iovec *iov, int n, uint64_t deadline);
int xport_send(xport_ep *ep, xport_addr dst, uint64_t tag, const void *buf,
               size_t len, uint64_t deadline);

/* ---- RMA ---------------------------------------------------------------- */

/* Longest remote key a plugin may make (bytes of xport_rkey.key). */
#define XPORT_RKEY_MAX 64

/* What a peer needs to read a registered region.  Plain data: may be
 * copied into a message, as len, size and the size bytes of key (the wire
 * record DATA carries them so).  Only the plugin that made the key reads
 * it: for the others it is size opaque bytes. */
typedef struct xport_rkey {
    uint64_t len;                /* bytes readable */
    uint32_t size;               /* bytes of key used, 1..XPORT_RKEY_MAX */
    uint8_t key[XPORT_RKEY_MAX]; /* the plugin's (address and key) */
} xport_rkey;

/*
 * Register [buf, buf+len) as the destination of local reads and for remote
 * reads.  Obeys the fabric's registration duties (XPORT_MR_* and what the
 * fabric adds).  Register large long-lived regions once; registration is
 * expensive.
 */
int xport_mr_reg(xport_ep *ep, void *buf, size_t len, xport_mr **out);
void xport_mr_close(xport_mr *mr);

/* Describe [ptr, ptr+len), which must lie inside mr, for a peer.
 * LOCUS_ERANGE when it does not. */
int xport_mr_rkey(const xport_mr *mr, const void *ptr, size_t len,
                  xport_rkey *out);

/*
 * Start reading len bytes, from offset bytes into the peer region that rk
 * describes, into dst, which must lie in
 * local_mr (or local_mr NULL: the transport registers dst itself for the
 * duration when XPORT_MR_LOCAL requires it).  Large reads are split into
 * chunks (at most 8 MiB), 8 in flight.  Returns 0, and then exactly one
 * XPORT_EV_READ_DONE (or XPORT_EV_READ_ERROR) event carrying ctx follows;
 * or a negative code and no event.  offset+len beyond rk->len:
 * LOCUS_ERANGE at once, nothing sent; a key this plugin did not make
 * (wrong size): LOCUS_EINVAL.  The peer must be driving progress.
 * A chunk the provider keeps refusing (-FI_EAGAIN: peer unreachable) fails
 * the read with LOCUS_ETIMEDOUT after opts.timeout_ms; chunks in flight end
 * when the provider completes them (in error when a connection drops).
 */
int xport_read(xport_ep *ep, xport_addr src, void *dst, size_t len,
               xport_mr *local_mr, const xport_rkey *rk, uint64_t offset,
               void *ctx);

/* ---- completions ----------------------------------------------------------
 */

enum xport_ev_kind {
    XPORT_EV_RECV = 1,   /* a message arrived */
    XPORT_EV_READ_DONE,  /* an xport_read finished */
    XPORT_EV_READ_ERROR, /* an xport_read failed (status, peer) */
    XPORT_EV_SEND_ERROR, /* a send failed after xport_send returned */
};

typedef struct xport_event {
    int kind;
    int status;      /* 0, or LOCUS_E* for the *_ERROR kinds */
    xport_addr peer; /* RECV: sender (FI_SOURCE), XPORT_ADDR_UNKNOWN if
                        not inserted (on shm also for messages an
                        endpoint sends to itself); errors and reads: the
                        peer concerned */
    uint64_t tag;    /* RECV */
    void *data;      /* RECV: message bytes, valid until xport_release */
    size_t len;      /* RECV: message length; READ_DONE: bytes read */
    void *ctx;       /* READ_*: ctx given to xport_read */
    void *priv;      /* transport's own (the receive buffer) */
} xport_event;

/*
 * Drive progress without blocking and return up to max events.  Returns the
 * number of events (0 when none) or a negative code when the completion
 * queue itself failed.  Every RECV event must be given back with
 * xport_release() (until then its buffer is not reposted).
 */
int xport_progress(xport_ep *ep, xport_event *evs, int max);
void xport_release(xport_ep *ep, xport_event *ev);

/* Drive ep's progress once without taking its events: > 0 when events
 * wait for xport_progress, 0 when none, or a negative code.  For callers
 * that spin on several endpoints themselves. */
int xport_poll(xport_ep *ep);

/*
 * Publish, from the calling thread, that this process lives (on: 1), and
 * take it back (0) from the same thread before xport_close.  With
 * libfabric's shm provider a peer that dies inside the provider's
 * progress keeps a spin lock in its region held for ever, and the next
 * send to it spins for ever (a worker killed with kill -9 wedged the
 * scheduler).  So an endpoint that may do that keeps a robust
 * process-shared mutex locked in its doorbell's page while it lives; the
 * kernel marks it owner-died when the thread or process ends, and a sender
 * reads that mark (no system call) and fails the send with LOCUS_ECLOSED
 * instead of entering the provider.  The thread must outlive the endpoint's
 * use: a daemon's main thread, a client's progress thread.
 */
void xport_alive(xport_ep *ep, int on);

/*
 * Wait until any of eps may have events, wake_fd (if >= 0) is readable, or
 * timeout_ms passes (-1: forever; 0: poll).  Spins on the completion queues
 * for spin_us microseconds first (low latency when busy), then blocks in
 * the kernel on the endpoints' wait fds (no CPU when idle); where an
 * endpoint has none it sleeps in growing steps of at most 1 ms.
 * Returns 1 when something may be ready, 0 on timeout, or a negative code.
 * wake_fd is not read: its owner drains it.
 *
 * Every endpoint of the ofi plugin has a wait fd.  Where the provider has
 * none (shm), the plugin makes one: a doorbell, a datagram socket in this
 * user's private directory ($XDG_RUNTIME_DIR/locus, else /tmp/locus-<uid>,
 * mode 0700: only this user's processes can ring it; where no such
 * directory can be had, an abstract socket, with a warning).  Its address
 * travels in the endpoint's printable name ("...#bell=<path>"), and a send
 * to a peer that has one rings it (before the first message, after a
 * message while the peer says it may sleep, and while the provider keeps
 * the send waiting), so a sleeping peer wakes and a spinning one costs the
 * sender no system call.  The peer says so in a sleep flag, a page next to
 * its doorbell ("<path>.flag") that senders map read-only; it is set here,
 * before blocking, and cleared when the endpoint is driven again.  Doorbells of
 * processes that died are removed when the next one is made.
 */
int xport_wait(xport_ep *const *eps, int neps, int wake_fd, int spin_us,
               int timeout_ms);

/* 1 when xport_wait can block in the kernel on the endpoint (it has a wait
 * fd, the provider's or a doorbell), 0 when it sleeps in steps. */
int xport_has_wait_fd(xport_ep *ep);

/*
 * List the providers libfabric offers on this machine that have the
 * capabilities locus needs, one "provider fabric domain" per line, into
 * buf (NUL-terminated).  For locus-info.  Returns the number of lines, or
 * LOCUS_EINVAL when buf is too small, LOCUS_EFABRIC.
 */
int xport_list_providers(char *buf, size_t len);

/*
 * The pid of the process that made /dev/shm file name for a fabric (the
 * shm provider's region), or 0 if no plugin made it.  For removing what a
 * killed process left (arena_sweep).
 */
int xport_file_pid(const char *name);

/*
 * Give the crash signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) back to
 * their default action where a fabric library took them: Debian's
 * libfabric links the PSM libraries, whose load-time handlers print a
 * backtrace and exit(1), so a crash would look like an ordinary exit.
 * Other handlers (a sanitizer's, the program's) are left alone.  Returns
 * how many were reset.  For the worker, whose nanny must see the signal.
 */
int xport_default_crash_signals(void);

/*
 * Shut the transport of this process for good: from now on no thread
 * enters the fabric library (calls fail with LOCUS_ECLOSED or do nothing),
 * and this waits up to timeout_ms for the threads inside it to leave.
 * Returns 1 when none is left inside, 0 on timeout.  Async-signal-safe.
 *
 * Why: libfabric's shm provider takes a spin lock in the region of the
 * peer it sends to.  A process that ends while one of its threads holds
 * such a lock (a task calls exit() or crashes while the worker's progress
 * thread sends its DONE to the scheduler) leaves that lock held for ever,
 * and every process that then sends to that peer, and the peer itself,
 * spins for ever in the provider: a crashing task wedged the whole
 * cluster.  The exit paths call this first, so a process ends between two
 * calls into the provider, never inside one.  (A process killed with
 * SIGKILL, or one that calls _exit, runs no code at its end: nothing in
 * the process can cover that; see runtime/net/README.md.)
 */
int xport_quiesce(int timeout_ms);

/* 1 once xport_quiesce has shut the transport (the process is exiting:
   failing calls are expected, not worth a log line). */
int xport_shut(void);

/* Run xport_quiesce(1000) at exit() (atexit; once per process). */
int xport_quiesce_at_exit(void);

/*
 * Run xport_quiesce(500) on a crash signal (SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGABRT), then give the signal to the handler it had before (a
 * sanitizer's, or the default action, so the process still dies of that
 * signal and its parent sees which).  Once per process (later calls do
 * nothing); for the daemons (the worker's task threads run user code),
 * after xport_default_crash_signals.
 */
int xport_quiesce_on_crash(void);

/* ---- plugin interface (transport/<fabric>/ only) --------------------------
 *
 * xport.c dispatches every call through the table of the plugin that
 * opened the endpoint.  A plugin's endpoint and region structs start with a
 * "const struct xport_ops *ops" member.  The runtime never uses this.
 */
/* Every plugin's endpoint struct begins with this head. */
struct xport_ep_head {
    const struct xport_ops *ops;
};

/* A plugin's table.  size is sizeof(struct xport_ops) as the plugin was
 * built: members past it are absent.  Every member up to trywait is
 * required (a plugin whose table ends earlier is not used); later ones are
 * optional (absent or NULL). */
struct xport_ops {
    size_t size;
    const char *name;
    int (*serves)(const char *provider); /* 1: this plugin opens it */
    int (*open)(const struct xport_opts *opts, const char *provider,
                xport_ep **out);
    void (*close)(xport_ep *ep);
    const char *(*provider)(const xport_ep *ep);
    const char *(*fabric)(const xport_ep *ep);
    const char *(*domain)(const xport_ep *ep);
    size_t (*msg_size)(const xport_ep *ep);
    int (*getname)(xport_ep *ep, char *buf, size_t len);
    int (*insert)(xport_ep *ep, const char *name, xport_addr *out);
    int (*remove)(xport_ep *ep, xport_addr addr);
    int (*sendv)(xport_ep *ep, xport_addr dst, uint64_t tag,
                 const struct iovec *iov, int n, uint64_t deadline);
    int (*mr_reg)(xport_ep *ep, void *buf, size_t len, xport_mr **out);
    void (*mr_close)(xport_mr *mr);
    int (*mr_rkey)(const xport_mr *mr, const void *ptr, size_t len,
                   xport_rkey *out);
    int (*read)(xport_ep *ep, xport_addr src, void *dst, size_t len,
                xport_mr *local_mr, const xport_rkey *rk, uint64_t offset,
                void *ctx);
    int (*progress)(xport_ep *ep, xport_event *evs, int max);
    void (*release)(xport_ep *ep, xport_event *ev);
    /* xport_wait's parts: drive progress and keep the events, returning
     * how many are waiting (or a negative code); the fd that becomes
     * readable when the endpoint has work (-1: none); 0 when it is safe to
     * block on that fd (nothing pending), else nonzero. */
    int (*poll)(xport_ep *ep);
    int (*wait_fd)(xport_ep *ep);
    int (*trywait)(xport_ep *ep);
    int (*list_providers)(char *buf, size_t len, size_t *used);
    /* The pid of the process that made the shared-memory file name (in
     * /dev/shm) for this plugin's fabric, or 0: not one of its files. */
    int (*file_pid)(const char *name);
    /* The provider this plugin opens for peers on the same host
     * (xport_opts.local), or NULL: none. */
    const char *(*local_provider)(void);
    /* xport_alive (NULL: nothing to publish) */
    void (*alive)(xport_ep *ep, int on);
};

#endif
