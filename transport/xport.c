/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transport front: picks the plugin that serves a provider and dispatches
 * every call through its table.  xport_wait is written here, once, over the
 * plugins' poll / wait_fd / trywait parts, so that one wait covers
 * endpoints of different plugins.
 */
#include "xport.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"

extern const struct xport_ops xport_ofi_ops;

static const struct xport_ops *const plugins[] = {&xport_ofi_ops};
#define NPLUGINS (sizeof(plugins) / sizeof(plugins[0]))

#define OPS(obj) (*(const struct xport_ops *const *)(obj))

/* A member the plugin's table has (its size covers it) and sets. */
#define HAS(p, m)                                                              \
    ((p)->size >= offsetof(struct xport_ops, m) + sizeof((p)->m) && (p)->m)

/* ---- the exit gate ---------------------------------------------------------
 *
 * Every call that enters a plugin (and so the fabric library) passes
 * gate_in/gate_out.  Once xport_quiesce has shut the gate, no thread enters
 * any more (the call fails with LOCUS_ECLOSED or does nothing), and the
 * quiescing thread waits for those inside to leave.  Two atomic operations
 * per call when the gate is open. */
static atomic_int g_inside;
static atomic_int g_shut;

static int gate_in(void)
{
    atomic_fetch_add(&g_inside, 1);
    if (!atomic_load(&g_shut))
        return 1;
    atomic_fetch_sub(&g_inside, 1);
    return 0;
}

static void gate_out(void)
{
    atomic_fetch_sub(&g_inside, 1);
}

static int shut_err(void)
{
    return lc_seterr(LOCUS_ECLOSED, "xport",
                     "this process is exiting: the transport is shut");
}

#define GATED(call)                                                            \
    do {                                                                       \
        if (!gate_in())                                                        \
            return shut_err();                                                 \
        int gated_rc_ = (call);                                                \
        gate_out();                                                            \
        return gated_rc_;                                                      \
    } while (0)

#define GATED_VOID(call)                                                       \
    do {                                                                       \
        if (gate_in()) {                                                       \
            call;                                                              \
            gate_out();                                                        \
        }                                                                      \
    } while (0)

int xport_shut(void)
{
    return atomic_load(&g_shut);
}

int xport_quiesce(int timeout_ms)
{
    atomic_store(&g_shut, 1);
    /* async-signal-safe: atomics and nanosleep only */
    struct timespec ts = {0, 100000}; /* 100 us */
    for (long waited_us = 0; atomic_load(&g_inside) > 0; waited_us += 100) {
        if (waited_us >= (long)timeout_ms * 1000)
            return 0;
        nanosleep(&ts, NULL);
    }
    return 1;
}

static void quiesce_at_exit(void)
{
    xport_quiesce(1000);
}

int xport_quiesce_at_exit(void)
{
    static atomic_int done;
    if (atomic_exchange(&done, 1))
        return 0;
    if (atexit(quiesce_at_exit) != 0)
        return lc_seterr(LOCUS_ESYS, "xport",
                         "atexit: no room for the transport's exit handler");
    return 0;
}

static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define NCRASH (sizeof(crash_sigs) / sizeof(crash_sigs[0]))
static struct sigaction crash_old[NCRASH];

static void on_crash(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    xport_quiesce(500);
    for (size_t i = 0; i < NCRASH; i++)
        if (crash_sigs[i] == sig)
            sigaction(sig, &crash_old[i], NULL);
    errno = saved;
    /* the handler it had (a sanitizer's, or the default action) takes it
       now.  A fault (si_code > 0: the kernel's) happens again when we
       return, so that handler sees its own context (a sanitizer reports
       the faulting instruction, not this one); a signal that was sent
       (abort's raise, kill) is sent again. */
    if (si && si->si_code > 0)
        return;
    raise(sig);
}

int xport_quiesce_on_crash(void)
{
    /* once: a second call would take our own handler for the old one */
    static atomic_int done;
    if (atomic_exchange(&done, 1))
        return 0;
    for (size_t i = 0; i < NCRASH; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_crash;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        if (sigaction(crash_sigs[i], &sa, &crash_old[i]) != 0)
            return lc_seterr(LOCUS_ESYS, "xport", "sigaction(%d): %s",
                             crash_sigs[i], strerror(errno));
    }
    return 0;
}

/* Taking a plugin: its table must hold every required member. */
static int usable(const struct xport_ops *p)
{
    static const size_t need =
        offsetof(struct xport_ops, trywait) + sizeof(p->trywait);
    if (p->size >= need)
        return 1;
    lc_log(LC_LOG_ERROR, "xport",
           "transport plugin table of %zu bytes is older than this "
           "front (%zu needed): plugin not used",
           p->size, need);
    return 0;
}

static int open_ungated(const struct xport_opts *opts, xport_ep **out)
{
    struct xport_opts o = XPORT_OPTS_INIT;
    if (!out)
        return lc_seterr(LOCUS_EINVAL, "xport", "xport_open: out is NULL");
    *out = NULL;
    if (opts) {
        if (opts->size < offsetof(struct xport_opts, timeout_ms))
            return lc_seterr(LOCUS_EINVAL, "xport",
                             "xport_open: opts.size %zu is too small (set it "
                             "with XPORT_OPTS_INIT)",
                             opts->size);
        /* an older, shorter struct: the tail keeps its defaults */
        memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
        o.size = sizeof(o);
    }
    if (o.local) {
        if (o.provider && *o.provider)
            return lc_seterr(LOCUS_EINVAL, "xport",
                             "xport_open: provider '%s' given with local "
                             "(the local provider is the transport's)",
                             o.provider);
        for (size_t i = 0; i < NPLUGINS; i++) {
            const char *lp = HAS(plugins[i], local_provider)
                                 ? plugins[i]->local_provider()
                                 : NULL;
            if (lp && usable(plugins[i]))
                return plugins[i]->open(&o, lp, out);
        }
        return lc_seterr(LOCUS_ENOPROV, "xport",
                         "no transport plugin offers a provider for peers "
                         "on the same host");
    }
    const char *prov = o.provider;
    if (!prov || !*prov)
        prov = getenv("FI_PROVIDER");
    if (!prov || !*prov)
        prov = "tcp;ofi_rxm";
    for (size_t i = 0; i < NPLUGINS; i++)
        if (usable(plugins[i]) && plugins[i]->serves(prov))
            return plugins[i]->open(&o, prov, out);
    return lc_seterr(LOCUS_ENOPROV, "xport",
                     "no transport plugin serves provider '%s'", prov);
}

int xport_open(const struct xport_opts *opts, xport_ep **out)
{
    if (out)
        *out = NULL;
    GATED(open_ungated(opts, out));
}

void xport_close(xport_ep *ep)
{
    if (ep)
        GATED_VOID(OPS(ep)->close(ep));
}

const char *xport_provider(const xport_ep *ep)
{
    return OPS(ep)->provider(ep);
}

const char *xport_fabric(const xport_ep *ep)
{
    return OPS(ep)->fabric(ep);
}

const char *xport_domain(const xport_ep *ep)
{
    return OPS(ep)->domain(ep);
}

size_t xport_msg_size(const xport_ep *ep)
{
    return OPS(ep)->msg_size(ep);
}

int xport_name(xport_ep *ep, char *buf, size_t len)
{
    if (!ep || !buf || len < XPORT_NAME_MAX)
        return lc_seterr(LOCUS_EINVAL, "xport",
                         "xport_name: need a buffer of XPORT_NAME_MAX bytes");
    GATED(OPS(ep)->getname(ep, buf, len));
}

int xport_name_provider(const char *name, char *prov, size_t len)
{
    const char *sep = name ? strstr(name, "://") : NULL;
    if (!sep || sep == name)
        return lc_seterr(LOCUS_EADDR, "xport",
                         "address '%.80s' is not of the form "
                         "<provider>://<hex>",
                         name ? name : "(null)");
    size_t n = (size_t)(sep - name);
    if (!prov || n >= len)
        return lc_seterr(LOCUS_EADDR, "xport",
                         "provider part of address '%.80s' is too long", name);
    memcpy(prov, name, n);
    prov[n] = '\0';
    return 0;
}

int xport_insert(xport_ep *ep, const char *name, xport_addr *out)
{
    if (!ep || !name || !out)
        return lc_seterr(LOCUS_EINVAL, "xport", "xport_insert: NULL argument");
    GATED(OPS(ep)->insert(ep, name, out));
}

int xport_remove(xport_ep *ep, xport_addr addr)
{
    GATED(OPS(ep)->remove(ep, addr));
}

int xport_sendv(xport_ep *ep, xport_addr dst, uint64_t tag,
                const struct iovec *iov, int n, uint64_t deadline)
{
    GATED(OPS(ep)->sendv(ep, dst, tag, iov, n, deadline));
}

int xport_send(xport_ep *ep, xport_addr dst, uint64_t tag, const void *buf,
               size_t len, uint64_t deadline)
{
    struct iovec iov = {(void *)buf, len};
    GATED(OPS(ep)->sendv(ep, dst, tag, &iov, 1, deadline));
}

int xport_mr_reg(xport_ep *ep, void *buf, size_t len, xport_mr **out)
{
    if (!ep || !buf || !len || !out)
        return lc_seterr(LOCUS_EINVAL, "xport",
                         "xport_mr_reg: NULL argument or empty region");
    GATED(OPS(ep)->mr_reg(ep, buf, len, out));
}

void xport_mr_close(xport_mr *mr)
{
    if (mr)
        GATED_VOID(OPS(mr)->mr_close(mr));
}

int xport_mr_rkey(const xport_mr *mr, const void *ptr, size_t len,
                  xport_rkey *out)
{
    if (!mr || !out)
        return lc_seterr(LOCUS_EINVAL, "xport", "xport_mr_rkey: NULL argument");
    return OPS(mr)->mr_rkey(mr, ptr, len, out);
}

int xport_read(xport_ep *ep, xport_addr src, void *dst, size_t len,
               xport_mr *local_mr, const xport_rkey *rk, uint64_t offset,
               void *ctx)
{
    GATED(OPS(ep)->read(ep, src, dst, len, local_mr, rk, offset, ctx));
}

int xport_progress(xport_ep *ep, xport_event *evs, int max)
{
    GATED(OPS(ep)->progress(ep, evs, max));
}

void xport_release(xport_ep *ep, xport_event *ev)
{
    GATED_VOID(OPS(ep)->release(ep, ev));
}

int xport_poll(xport_ep *ep)
{
    GATED(OPS(ep)->poll(ep));
}

void xport_alive(xport_ep *ep, int on)
{
    if (ep && OPS(ep)->alive)
        GATED_VOID(OPS(ep)->alive(ep, on));
}

/* ---- wait ------------------------------------------------------------------
 */

static int poll_all(xport_ep *const *eps, int neps)
{
    if (!gate_in())
        return shut_err();
    int rc = 0;
    for (int i = 0; i < neps && !rc; i++)
        rc = OPS(eps[i])->poll(eps[i]);
    gate_out();
    return rc < 0 ? rc : rc > 0;
}

static int fd_ready(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

int xport_has_wait_fd(xport_ep *ep)
{
    return ep && OPS(ep)->wait_fd(ep) >= 0;
}

int xport_wait(xport_ep *const *eps, int neps, int wake_fd, int spin_us,
               int timeout_ms)
{
    if (neps < 0 || neps > 64 || (neps && !eps))
        return lc_seterr(LOCUS_EINVAL, "xport",
                         "xport_wait: %d endpoints (0..64 allowed)", neps);
    uint64_t start = lc_now_ns();
    uint64_t deadline = timeout_ms < 0 ? LC_DEADLINE_NONE
                                       : start + (uint64_t)timeout_ms * 1000000;
    int rc;

    /* Spin: lowest latency while traffic flows. */
    uint64_t spin_end = start + (uint64_t)(spin_us > 0 ? spin_us : 0) * 1000;
    if (spin_end > deadline)
        spin_end = deadline;
    for (unsigned it = 0;; it++) {
        if ((rc = poll_all(eps, neps)) != 0)
            return rc;
        if (wake_fd >= 0 && (it & 63) == 0 && fd_ready(wake_fd))
            return 1;
        if (lc_now_ns() >= spin_end)
            break;
        /* on few cores the peer we wait for may need this CPU */
        sched_yield();
    }
    if (lc_expired(deadline))
        return 0;

    /* Block on the endpoints' fds, or sleep in growing steps where an
     * endpoint has none.  Every kernel wait is bounded, so a provider whose
     * fd misses a wake-up costs latency, never a hang. */
    long step_us = 50;
    for (;;) {
        struct pollfd pfd[65];
        int nfd = 0, all_fds = 1;
        for (int i = 0; i < neps; i++) {
            int fd = OPS(eps[i])->wait_fd(eps[i]);
            if (fd < 0) {
                all_fds = 0;
                continue;
            }
            if (!gate_in())
                return shut_err();
            int tw = OPS(eps[i])->trywait(eps[i]);
            gate_out();
            if (tw != 0) {
                /* something is pending: drive it and look again */
                if ((rc = poll_all(&eps[i], 1)) != 0)
                    return rc;
                all_fds = 0; /* do not block long on a busy endpoint */
                continue;
            }
            pfd[nfd++] = (struct pollfd){fd, POLLIN, 0};
        }
        if (wake_fd >= 0)
            pfd[nfd++] = (struct pollfd){wake_fd, POLLIN, 0};

        int wait_ms = all_fds ? 100 : (int)((step_us + 999) / 1000);
        int left = lc_remaining_ms(deadline);
        if (left >= 0 && left < wait_ms)
            wait_ms = left;
        if (!all_fds && nfd == 0) {
            long us = step_us;
            uint64_t now = lc_now_ns();
            if (deadline != LC_DEADLINE_NONE &&
                now + (uint64_t)us * 1000 > deadline)
                us = deadline > now ? (long)((deadline - now) / 1000) : 0;
            struct timespec ts = {0, us * 1000};
            nanosleep(&ts, NULL);
        } else {
            int n = poll(pfd, (nfds_t)nfd, wait_ms);
            if (n < 0 && errno != EINTR)
                return lc_seterr(LOCUS_ESYS, "xport", "xport_wait: poll: %s",
                                 strerror(errno));
            if (n > 0) {
                if (wake_fd >= 0 && (pfd[nfd - 1].revents & POLLIN))
                    return 1;
                /* drive progress so that a wake-up for internal work
                 * (connection set-up) does not look like an event */
                if ((rc = poll_all(eps, neps)) != 0)
                    return rc;
            }
        }
        if ((rc = poll_all(eps, neps)) != 0)
            return rc;
        if (lc_expired(deadline))
            return 0;
        if (step_us < 1000)
            step_us = step_us * 2 > 1000 ? 1000 : step_us * 2;
    }
}

int xport_list_providers(char *buf, size_t len)
{
    if (!buf || !len)
        return lc_seterr(LOCUS_EINVAL, "xport",
                         "xport_list_providers: empty buffer");
    buf[0] = '\0';
    size_t used = 0;
    int total = 0;
    for (size_t i = 0; i < NPLUGINS; i++) {
        if (!usable(plugins[i]) || !HAS(plugins[i], list_providers))
            continue;
        if (!gate_in())
            return shut_err();
        int n = plugins[i]->list_providers(buf, len, &used);
        gate_out();
        if (n < 0)
            return n;
        total += n;
    }
    return total;
}

int xport_file_pid(const char *name)
{
    for (size_t i = 0; name && i < NPLUGINS; i++) {
        int pid = HAS(plugins[i], file_pid) ? plugins[i]->file_pid(name) : 0;
        if (pid > 0)
            return pid;
    }
    return 0;
}

int xport_default_crash_signals(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    int n = 0;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction sa;
        if (sigaction(sigs[i], NULL, &sa) != 0)
            continue;
        void *h = (sa.sa_flags & SA_SIGINFO) ? (void *)sa.sa_sigaction
                                             : (void *)sa.sa_handler;
        if (h == (void *)SIG_DFL || h == (void *)SIG_IGN)
            continue;
        Dl_info di;
        if (!dladdr(h, &di) || !di.dli_fname)
            continue;
        const char *lib = strrchr(di.dli_fname, '/');
        lib = lib ? lib + 1 : di.dli_fname;
        if (strncmp(lib, "libinfinipath", 13) && strncmp(lib, "libpsm", 6))
            continue;
        signal(sigs[i], SIG_DFL);
        n++;
    }
    return n;
}
