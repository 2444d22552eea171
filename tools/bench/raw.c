/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: the raw transport figures.  They come from a second process
 * of this program ("--xport-peer RFD WFD", hidden), spawned with
 * posix_spawn before this process opens any fabric object; the two exchange
 * transport addresses over pipes, then talk only through the transport.
 * Both sides spin on their completion queues, as fi_pingpong does: the raw
 * figure is the floor the transport allows.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "bench/bench.h"
#include "xport.h"

extern char **environ;

#define TAG_PING 0x4c42504eull  /* raw round trip, echoed */
#define TAG_BURST 0x4c424253ull /* raw rate, counted */
#define TAG_ACK 0x4c42414bull   /* one per window of bursts */
#define TAG_DONE 0x4c424445ull  /* end of a raw session, echoed */

#define XPORT_WAIT_MS 5000    /* a raw message not answered by then: dead */
#define PIPE_TIMEOUT_MS 30000 /* peer answers on the pipe */
#define PEER_IDLE_MS 3600000  /* peer waits for commands, at most */

/* ---- line protocol on the pipes between this process and its peer ------ */

/* One line without its '\n': 0, -1 at end of file or error, -2 on timeout. */
static int line_read(struct linebuf *lb, char *out, size_t cap, int timeout_ms)
{
    uint64_t end = lc_deadline_ms(timeout_ms);
    for (;;) {
        char *nl = memchr(lb->buf, '\n', lb->len);
        if (nl) {
            size_t n = (size_t)(nl - lb->buf);
            snprintf(out, cap, "%.*s", (int)n, lb->buf);
            memmove(lb->buf, nl + 1, lb->len - n - 1);
            lb->len -= n + 1;
            return 0;
        }
        if (lb->len == sizeof(lb->buf))
            return -1;
        struct pollfd pf = {lb->fd, POLLIN, 0};
        int left = lc_remaining_ms(end);
        if (left == 0)
            return -2;
        int pr = poll(&pf, 1, left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return pr == 0 ? -2 : -1;
        ssize_t n = read(lb->fd, lb->buf + lb->len, sizeof(lb->buf) - lb->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        lb->len += (size_t)n;
    }
}

static int line_write(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int line_write(int fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof(buf) - 1)
        return -1;
    buf[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (int)w;
    }
    return 0;
}

/* ---- raw transport: shared by both sides ------------------------------- */

static int xopen(const char *provider, xport_ep **ep)
{
    struct xport_opts o = XPORT_OPTS_INIT;
    o.provider = provider;
    o.rx_count = 4 * XPORT_WINDOW;
    return xport_open(&o, ep);
}

/* Next RECV with tag, spinning on the completion queue; other receives are
 * dropped.  LOCUS_ETIMEDOUT past the deadline. */
static int xwait_tag(xport_ep *ep, uint64_t tag, uint64_t deadline,
                     xport_event *out)
{
    for (unsigned spins = 0;; spins++) {
        xport_event ev;
        int n = xport_progress(ep, &ev, 1);
        if (n < 0)
            return n;
        if (n == 1) {
            if (ev.kind == XPORT_EV_SEND_ERROR)
                return lc_seterr(ev.status ? ev.status : LOCUS_EFABRIC, "bench",
                                 "a send to the peer failed");
            if (ev.kind != XPORT_EV_RECV)
                continue;
            if (ev.tag == tag) {
                *out = ev;
                return 0;
            }
            xport_release(ep, &ev);
            continue;
        }
        if ((spins & 0x3ff) == 0 && (lc_expired(deadline) || bench_stop))
            return lc_seterr(bench_stop ? LOCUS_ECANCELED : LOCUS_ETIMEDOUT,
                             "bench", "no answer from the xport peer");
    }
}

/* ---- the peer process (--xport-peer) ----------------------------------- */

/* Echo pings, count bursts (ack each window), until DONE; then keep
 * driving progress until the parent says CLOSE, so the echo leaves. */
static int peer_serve(xport_ep *ep, xport_addr parent, struct linebuf *lb)
{
    long bursts = 0;
    uint64_t idle_since = lc_now_ns();
    for (unsigned spins = 0;; spins++) {
        xport_event ev;
        int n = xport_progress(ep, &ev, 1);
        if (n < 0)
            return n;
        if (n == 0) {
            if ((spins & 0x3ff) == 0 &&
                lc_now_ns() - idle_since > 30ull * 1000000000ull)
                return lc_seterr(LOCUS_ETIMEDOUT, "bench",
                                 "peer: nothing from the parent in 30 s");
            continue;
        }
        idle_since = lc_now_ns();
        if (ev.kind == XPORT_EV_SEND_ERROR)
            return lc_seterr(LOCUS_ECLOSED, "bench", "peer: send failed");
        if (ev.kind != XPORT_EV_RECV)
            continue;
        uint64_t tag = ev.tag;
        uint64_t dl = lc_deadline_ms(XPORT_WAIT_MS);
        int rc = 0;
        if (tag == TAG_PING || tag == TAG_DONE)
            rc = xport_send(ep, parent, tag, ev.data, ev.len, dl);
        else if (tag == TAG_BURST && ++bursts % XPORT_WINDOW == 0)
            rc = xport_send(ep, parent, TAG_ACK, "", 0, dl);
        xport_release(ep, &ev);
        if (rc)
            return rc;
        if (tag == TAG_DONE)
            break;
    }
    uint64_t end = lc_deadline_ms(PIPE_TIMEOUT_MS);
    for (unsigned spins = 0; !lc_expired(end); spins++) {
        xport_event ev;
        if (xport_progress(ep, &ev, 1) == 1 && ev.kind == XPORT_EV_RECV)
            xport_release(ep, &ev);
        if ((spins & 0xff) == 0) {
            struct pollfd pf = {lb->fd, POLLIN, 0};
            if (lb->len || poll(&pf, 1, 0) > 0) {
                char line[64];
                if (line_read(lb, line, sizeof(line), 1000) == 0 &&
                    strcmp(line, "CLOSE") == 0)
                    return 0;
                return lc_seterr(LOCUS_EPROTO, "bench", "peer: expected CLOSE");
            }
        }
    }
    return lc_seterr(LOCUS_ETIMEDOUT, "bench", "peer: no CLOSE in time");
}

int bench_peer_main(int rfd, int wfd)
{
    struct linebuf lb = {rfd, 0, {0}};
    signal(SIGPIPE, SIG_IGN);
    lc_log_set_prog("locus-bench-peer");
    for (;;) {
        char line[1024], prov[128], name[XPORT_NAME_MAX];
        int r = line_read(&lb, line, sizeof(line), PEER_IDLE_MS);
        if (r)
            return r == -1 ? 0 : 1; /* parent gone: done */
        if (strcmp(line, "QUIT") == 0)
            return 0;
        if (strcmp(line, "ABORT") == 0) /* the parent gave up a session */
            continue;
        if (strncmp(line, "OPEN ", 5) != 0) {
            line_write(wfd, "ERR unknown command");
            continue;
        }
        snprintf(prov, sizeof(prov), "%.127s", line + 5);
        xport_ep *ep = NULL;
        xport_addr parent;
        int rc = xopen(prov, &ep);
        if (!rc)
            rc = xport_name(ep, name, sizeof(name));
        if (rc) {
            line_write(wfd, "ERR peer: %s", locus_last_error());
            xport_close(ep);
            continue;
        }
        line_write(wfd, "NAME %s", name);
        r = line_read(&lb, line, sizeof(line), PIPE_TIMEOUT_MS);
        if (r || strncmp(line, "PEER ", 5) != 0) {
            xport_close(ep); /* ABORT: the parent could not open its side */
            if (r)
                return 1;
            continue;
        }
        rc = xport_insert(ep, line + 5, &parent);
        if (rc) {
            line_write(wfd, "ERR peer: %s", locus_last_error());
            xport_close(ep);
            continue;
        }
        line_write(wfd, "READY");
        rc = peer_serve(ep, parent, &lb);
        xport_close(ep);
        if (rc)
            line_write(wfd, "ERR peer: %s", locus_last_error());
        else
            line_write(wfd, "CLOSED");
    }
}

/* ---- the peer, seen from the parent -------------------------------------- */

struct peer bench_peer = {-1, -1, {-1, 0, {0}}};

/* Spawn the peer before any fabric object exists in this process (see
 * PITFALLS: no fork after registration; posix_spawn in any case). */
int bench_peer_spawn(struct peer *p)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return lc_seterr(LOCUS_ESYS, "bench", "readlink /proc/self/exe: %s",
                         strerror(errno));
    self[n] = '\0';
    int down[2], up[2]; /* parent -> peer, peer -> parent */
    if (pipe(down) || pipe(up))
        return lc_seterr(LOCUS_ESYS, "bench", "pipe: %s", strerror(errno));
    /* only the peer's ends cross exec, and only into the peer */
    fcntl(down[1], F_SETFD, FD_CLOEXEC);
    fcntl(up[0], F_SETFD, FD_CLOEXEC);
    char rfd[16], wfd[16];
    snprintf(rfd, sizeof(rfd), "%d", down[0]);
    snprintf(wfd, sizeof(wfd), "%d", up[1]);
    char *argv[] = {self, "--xport-peer", rfd, wfd, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int e = posix_spawn(&p->pid, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(down[0]);
    close(up[1]);
    if (e) {
        close(down[1]);
        close(up[0]);
        p->pid = -1;
        return lc_seterr(LOCUS_ESYS, "bench", "posix_spawn %s: %s", self,
                         strerror(e));
    }
    p->wfd = down[1];
    p->in.fd = up[0];
    p->in.len = 0;
    return 0;
}

void bench_peer_stop(struct peer *p)
{
    if (p->pid <= 0)
        return;
    line_write(p->wfd, "QUIT");
    close(p->wfd);
    close(p->in.fd);
    for (int i = 0; i < 200; i++) { /* 2 s, then kill */
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = -1;
            return;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = -1;
}

/* ---- raw transport: the parent's measurements ---------------------------- */

void bench_raw_run(struct peer *p, const char *prov, long iters, long nmsgs,
                   struct raw *out)
{
    char line[1024], name[XPORT_NAME_MAX];
    char msg[RAW_MSG_BYTES];
    xport_ep *ep = NULL;
    xport_addr peer;
    uint64_t *t = NULL;
    int rc = 0, named = 0, session = 0;
    line[0] = '\0';
    memset(out, 0, sizeof(*out));
    memset(msg, 0xa5, sizeof(msg));
    out->iters = iters;
    if (line_write(p->wfd, "OPEN %s", prov) ||
        line_read(&p->in, line, sizeof(line), PIPE_TIMEOUT_MS)) {
        rc = lc_seterr(LOCUS_ECLOSED, "bench",
                       "the xport peer process does not answer");
        goto out;
    }
    if (strncmp(line, "NAME ", 5) != 0) {
        rc = lc_seterr(LOCUS_EFABRIC, "bench", "%s", line);
        goto out;
    }
    named = 1; /* the peer's endpoint is open and waits for ours */
    LC_CHECK_RC(xopen(prov, &ep), out, rc);
    snprintf(out->fabric, sizeof(out->fabric), "%s", xport_fabric(ep));
    snprintf(out->domain, sizeof(out->domain), "%s", xport_domain(ep));
    LC_CHECK_RC(xport_insert(ep, line + 5, &peer), out, rc);
    LC_CHECK_RC(xport_name(ep, name, sizeof(name)), out, rc);
    named = 0;
    if (line_write(p->wfd, "PEER %s", name) ||
        line_read(&p->in, line, sizeof(line), PIPE_TIMEOUT_MS) ||
        strcmp(line, "READY") != 0) {
        rc = lc_seterr(LOCUS_EPROTO, "bench", "xport peer: %s", line);
        goto out;
    }
    session = 1;

    /* round trip: the first messages pay for connection set-up */
    t = malloc(sizeof(*t) * (size_t)iters);
    LC_CHECK(t, out, rc, LOCUS_ENOMEM, "bench", "no memory");
    for (long i = -bench_warmup_of(iters); i < iters; i++) {
        xport_event ev;
        uint64_t dl = lc_deadline_ms(XPORT_WAIT_MS);
        uint64_t t0 = lc_now_ns();
        LC_CHECK_RC(xport_send(ep, peer, TAG_PING, msg, sizeof(msg), dl), out,
                    rc);
        LC_CHECK_RC(xwait_tag(ep, TAG_PING, dl, &ev), out, rc);
        uint64_t t1 = lc_now_ns();
        xport_release(ep, &ev);
        if (i >= 0)
            t[i] = t1 - t0;
    }
    bench_percentiles(t, iters, &out->med, &out->p99);

    /* message rate: windows of XPORT_WINDOW sends, one ack each */
    long windows = nmsgs / XPORT_WINDOW, warm = windows / 10 + 1;
    uint64_t t0 = 0;
    for (long w = -warm; w < windows; w++) {
        if (w == 0)
            t0 = lc_now_ns();
        uint64_t dl = lc_deadline_ms(XPORT_WAIT_MS);
        for (int k = 0; k < XPORT_WINDOW; k++)
            LC_CHECK_RC(xport_send(ep, peer, TAG_BURST, msg, sizeof(msg), dl),
                        out, rc);
        xport_event ev;
        LC_CHECK_RC(xwait_tag(ep, TAG_ACK, dl, &ev), out, rc);
        xport_release(ep, &ev);
    }
    out->rate =
        (double)(windows * XPORT_WINDOW) / ((double)(lc_now_ns() - t0) / 1e9);
    out->ok = 1;
out:
    if (named)
        line_write(p->wfd, "ABORT");
    if (session) {
        /* end the session either way, so the peer can take the next */
        xport_event ev;
        uint64_t dl = lc_deadline_ms(XPORT_WAIT_MS);
        if (xport_send(ep, peer, TAG_DONE, "", 0, dl) == 0 &&
            xwait_tag(ep, TAG_DONE, dl, &ev) == 0)
            xport_release(ep, &ev);
        if (line_write(p->wfd, "CLOSE") ||
            line_read(&p->in, line, sizeof(line), PIPE_TIMEOUT_MS) ||
            strcmp(line, "CLOSED") != 0) {
            if (rc == 0)
                rc = lc_seterr(LOCUS_EPROTO, "bench", "xport peer: %s", line);
            out->ok = 0;
        }
    }
    if (rc) {
        out->ok = 0;
        snprintf(out->err, sizeof(out->err), "%s", locus_last_error());
    }
    xport_close(ep);
    free(t);
}
