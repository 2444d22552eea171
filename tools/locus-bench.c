/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: runtime benchmarks in the manner of the OSU and fabtests
 * suites, each printed beside the raw transport (xport) figure for the same
 * provider, measured in the same run.
 *
 *   task round trip   locus_submit + locus_result of locus.noop, one at a
 *                     time, on a local cluster of 1 worker x 1 thread, over
 *                     shm and over the net provider; beside it the round
 *                     trip of a small tagged message between two processes.
 *   task throughput   locus_map of N locus.noop tasks, then locus_wait;
 *                     beside it the raw rate of small tagged messages
 *                     (windows of XPORT_WINDOW, one ack per window).
 *
 * The raw figures come from a second process of this program ("--xport-peer
 * RFD WFD", hidden), spawned with posix_spawn before this process opens any
 * fabric object; the two exchange transport addresses over pipes, then talk
 * only through the transport.  Both sides spin on their completion queues,
 * as fi_pingpong does: the raw figure is the floor the transport allows.
 *
 * The data benchmarks (same-host hand-off, cross-host transfer) and the
 * HDF5 load-and-sum are further down.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_h5.h"
#include "base/base.h"
#include "client/cluster_int.h"
#include "locus.h"
#include "xport.h"

extern char **environ;

#define TAG_PING 0x4c42504eull  /* raw round trip, echoed */
#define TAG_BURST 0x4c424253ull /* raw rate, counted */
#define TAG_ACK 0x4c42414bull   /* one per window of bursts */
#define TAG_DONE 0x4c424445ull  /* end of a raw session, echoed */

#define RAW_MSG_BYTES 64      /* about one SUBMIT record of locus.noop */
#define XPORT_WINDOW 64       /* raw-rate messages in flight per ack */
#define XPORT_WAIT_MS 5000    /* a raw message not answered by then: dead */
#define TASK_TIMEOUT_MS 10000 /* one locus.noop round trip, at most */
#define CLUSTER_TIMEOUT_MS 30000
#define PIPE_TIMEOUT_MS 30000 /* peer answers on the pipe */
#define PEER_IDLE_MS 3600000  /* peer waits for commands, at most */

static struct {
    int latency, throughput; /* selected benchmarks */
    int handoff, transfer, h5;
    long iters;
    long tasks;
    const char *provider;
    int quick;
    int paths; /* bit 0: shm, bit 1: net */
    int mac;
} cfg = {1, 1, 1, 1, 0, 10000, 1000000, "tcp;ofi_rxm", 0, 3, 1};

static volatile sig_atomic_t g_stop;
static int g_tty; /* stderr is a terminal: show progress */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("locus-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median and 99th percentile of n samples (ns), in microseconds. */
static void percentiles(uint64_t *t, long n, double *med, double *p99)
{
    qsort(t, (size_t)n, sizeof(*t), cmp_u64);
    *med = (double)t[n / 2] / 1e3;
    *p99 = (double)t[(n * 99) / 100] / 1e3;
}

static long warmup_of(long iters)
{
    long w = iters / 10;
    return w < 100 ? 100 : w > 2000 ? 2000 : w;
}

/* ---- line protocol on the pipes between this process and its peer ------ */

struct linebuf {
    int fd;
    size_t len;
    char buf[4096];
};

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
        if ((spins & 0x3ff) == 0 && (lc_expired(deadline) || g_stop))
            return lc_seterr(g_stop ? LOCUS_ECANCELED : LOCUS_ETIMEDOUT,
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

static int peer_main(int rfd, int wfd)
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

struct peer {
    pid_t pid;
    int wfd;
    struct linebuf in;
};

static struct peer g_peer = {-1, -1, {-1, 0, {0}}};

/* Spawn the peer before any fabric object exists in this process (see
 * PITFALLS: no fork after registration; posix_spawn in any case). */
static int peer_spawn(struct peer *p)
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

static void peer_stop(struct peer *p)
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

struct raw {
    int ok;
    char err[512];
    char fabric[128], domain[128];
    long iters;
    double med, p99; /* round trip, us */
    double rate;     /* messages/s */
};

static void raw_run(struct peer *p, const char *prov, long iters, long nmsgs,
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
    for (long i = -warmup_of(iters); i < iters; i++) {
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
    percentiles(t, iters, &out->med, &out->p99);

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

/* ---- locus: clusters ----------------------------------------------------- */

struct clus {
    locus_cluster *lc;
    locus_client *c;
    int nworkers, nthreads, no_shm;
    char desc[256];
};

static struct clus *g_running; /* stopped on the way out, whatever happens */

static void clus_stop(struct clus *k)
{
    if (k->c)
        locus_disconnect(k->c);
    k->c = NULL;
    locus_local_cluster_stop(k->lc);
    k->lc = NULL;
    g_running = NULL;
}

static int clus_start(int nworkers, int nthreads, int no_shm, struct clus *k)
{
    memset(k, 0, sizeof(*k));
    k->nworkers = nworkers;
    k->nthreads = nthreads;
    k->no_shm = no_shm;
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = nworkers;
    o.nthreads = nthreads;
    o.provider = cfg.provider;
    o.timeout_ms = CLUSTER_TIMEOUT_MS;
    o.flags = no_shm ? LOCUS_CLUSTER_NO_SHM : 0;
    int rc = locus_local_cluster_start(&o, &k->lc);
    if (rc)
        return rc;
    g_running = k;
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.timeout_ms = CLUSTER_TIMEOUT_MS;
    co.flags = no_shm ? LOCUS_CONNECT_NO_SHM : 0;
    rc = locus_connect(locus_cluster_scheduler_file(k->lc), &co, &k->c);
    if (rc)
        return rc;
    locus_worker_info wi[8];
    size_t n = 0;
    rc = locus_workers(k->c, wi, 8, &n);
    if (rc)
        return rc;
    size_t off = 0;
    for (size_t i = 0; i < n && i < 8 && off < sizeof(k->desc); i++)
        off += (size_t)snprintf(k->desc + off, sizeof(k->desc) - off,
                                "%sworker %d: cpus %s, %d thread%s",
                                i ? "; " : "", wi[i].id, wi[i].cpuset,
                                wi[i].nthreads, wi[i].nthreads == 1 ? "" : "s");
    return 0;
}

/* ---- locus: measurements ------------------------------------------------ */

struct lat {
    int ok;
    char err[512];
    double med, p99;
};

static void locus_latency(locus_client *c, long iters, struct lat *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t *t = malloc(sizeof(*t) * (size_t)iters);
    if (!t) {
        snprintf(out->err, sizeof(out->err), "no memory");
        return;
    }
    for (long i = -warmup_of(iters); i < iters; i++) {
        locus_future *f = NULL;
        const void *d;
        size_t len;
        if (g_stop) {
            snprintf(out->err, sizeof(out->err), "interrupted");
            goto out;
        }
        uint64_t t0 = lc_now_ns();
        int rc = locus_submit(c, "locus.noop", NULL, 0, NULL, &f);
        if (!rc)
            rc = locus_result(f, TASK_TIMEOUT_MS, &d, &len);
        uint64_t t1 = lc_now_ns();
        if (rc) {
            snprintf(out->err, sizeof(out->err), "round trip %ld: %s", i,
                     locus_last_error());
            locus_release(f);
            goto out;
        }
        locus_release(f);
        if (i >= 0)
            t[i] = t1 - t0;
    }
    percentiles(t, iters, &out->med, &out->p99);
    out->ok = 1;
out:
    free(t);
}

struct tput {
    int ok;
    char err[512];
    long n, done;
    double map_s, total_s, release_s, rate;
};

static long count_finished(locus_future **fs, long n)
{
    long done = 0;
    for (long i = 0; i < n; i++)
        done += locus_future_status(fs[i]) != LOCUS_EAGAIN;
    return done;
}

/* Wait for fs[0..n-1] in slices of a second at most (so ^C is seen), all
 * within deadline; give up early when no task at all finished for
 * STALL_MS.  Returns 0 or LOCUS_ETIMEDOUT / LOCUS_ECANCELED. */
#define STALL_MS 30000
static int wait_all(locus_future **fs, long n, uint64_t deadline)
{
    const long slice = 4096;
    uint64_t start = lc_now_ns(), last_note = start, last_move = start;
    long seen = 0;
    for (long i = 0; i < n;) {
        if (g_stop)
            return lc_seterr(LOCUS_ECANCELED, "bench", "interrupted");
        int left = lc_remaining_ms(deadline);
        if (left <= 0)
            return lc_seterr(LOCUS_ETIMEDOUT, "bench", "deadline passed");
        int rc = locus_wait(fs + i, (size_t)(n - i < slice ? n - i : slice),
                            left < 1000 ? left : 1000);
        if (rc == 0) {
            i += slice;
            last_move = lc_now_ns();
            if (g_tty && last_move - last_note > 500000000ull) {
                /* progress on a terminal only: piped output stays clean */
                fprintf(stderr, "\r    %ld of %ld tasks done", i < n ? i : n,
                        n);
                last_note = last_move;
            }
            continue;
        }
        if (rc != LOCUS_ETIMEDOUT)
            return rc;
        uint64_t now = lc_now_ns();
        long done = count_finished(fs, n);
        if (done != seen) {
            seen = done;
            last_move = now;
        }
        if (now - last_note > 5000000000ull) { /* slow: show that it moves */
            note("    %ld of %ld done after %.0f s", done, n,
                 (double)(now - start) / 1e9);
            last_note = now;
        }
        if (now - last_move > (uint64_t)STALL_MS * 1000000)
            return lc_seterr(
                LOCUS_ETIMEDOUT, "bench",
                "stalled: no task finished in %d s (first unfinished: %s)",
                STALL_MS / 1000, locus_future_key(fs[i]));
    }
    if (g_tty)
        fprintf(stderr, "\r\033[K");
    return 0;
}

static void note_workers(locus_client *c)
{
    locus_worker_info wi[8];
    size_t nw = 0;
    if (locus_workers(c, wi, 8, &nw) != 0) {
        note("    locus_workers: %s", locus_last_error());
        return;
    }
    for (size_t i = 0; i < nw && i < 8; i++)
        note("    worker %d: %llu tasks done, %d running, %d queued", wi[i].id,
             (unsigned long long)wi[i].tasks_done, wi[i].running, wi[i].queued);
}

#define MAP_CHUNK 65535L
static int g_map_chunked; /* locus_map had to be called in slices */

/* locus_map of n locus.noop, then wait for all; nothing else is timed. */
static int map_and_wait(locus_client *c, locus_arg *in, locus_future **fs,
                        long n, struct tput *out)
{
    for (long i = 0; i < n; i++)
        in[i] = locus_arg_i64(i);
    /* generous but finite: 30 s plus 0.5 ms per task */
    uint64_t dl = lc_deadline_ms(30000 + n / 2);
    uint64_t t0 = lc_now_ns();
    int rc = locus_map(c, "locus.noop", in, (size_t)n, NULL, fs);
    if (rc == LOCUS_EINVAL && n > MAP_CHUNK) {
        /* client.c check_args() takes the n inputs of a map for the
         * arguments of one task (at most 65535): map in slices, until
         * that is fixed, and say so under the table */
        g_map_chunked = 1;
        long made = 0;
        rc = 0;
        while (made < n && !rc) {
            long k = n - made < MAP_CHUNK ? n - made : MAP_CHUNK;
            rc = locus_map(c, "locus.noop", in + made, (size_t)k, NULL,
                           fs + made);
            made += rc ? 0 : k;
        }
        for (long i = 0; rc && i < made; i++) /* the earlier slices' */
            locus_release(fs[i]);
    }
    uint64_t t1 = lc_now_ns();
    if (rc) {
        snprintf(out->err, sizeof(out->err), "locus_map: %s",
                 locus_last_error());
        return rc;
    }
    rc = wait_all(fs, n, dl);
    uint64_t t2 = lc_now_ns();
    if (rc == LOCUS_ETIMEDOUT) /* where are the missing tasks? */
        note_workers(c);
    long done = 0, failed = 0, first_failed = -1;
    for (long i = 0; i < n; i++) {
        int st = locus_future_status(fs[i]);
        done += st != LOCUS_EAGAIN;
        if (st != LOCUS_EAGAIN && st != 0 && failed++ == 0)
            first_failed = i;
    }
    out->n = n;
    out->done = done;
    out->map_s = (double)(t1 - t0) / 1e9;
    out->total_s = (double)(t2 - t0) / 1e9;
    out->rate = (double)done / out->total_s;
    if (rc)
        snprintf(out->err, sizeof(out->err),
                 "%ld of %ld tasks finished in %.1f s (%.0f/s): %s", done, n,
                 out->total_s, out->rate, locus_last_error());
    else if (failed)
        snprintf(out->err, sizeof(out->err),
                 "%ld of %ld tasks failed, first %s: %s (%s)", failed, n,
                 locus_future_key(fs[first_failed]),
                 locus_errname(locus_future_status(fs[first_failed])),
                 locus_future_error(fs[first_failed]));
    uint64_t t3 = lc_now_ns();
    for (long i = 0; i < n; i++)
        locus_release(fs[i]);
    out->release_s = (double)(lc_now_ns() - t3) / 1e9;
    return rc ? rc : failed ? LOCUS_ETASK : 0;
}

static void locus_throughput(locus_client *c, long n, struct tput *out)
{
    memset(out, 0, sizeof(*out));
    long warm = n / 100 < 1000 ? (n < 1000 ? n : 1000) : n / 100;
    locus_arg *in = malloc(sizeof(*in) * (size_t)n);
    locus_future **fs = malloc(sizeof(*fs) * (size_t)n);
    if (!in || !fs) {
        snprintf(out->err, sizeof(out->err), "no memory for %ld tasks", n);
        goto out;
    }
    struct tput w;
    memset(&w, 0, sizeof(w));
    if (map_and_wait(c, in, fs, warm, &w)) {
        snprintf(out->err, sizeof(out->err), "warm-up: %.490s", w.err);
        goto out;
    }
    if (map_and_wait(c, in, fs, n, out) == 0)
        out->ok = 1;
out:
    free(in);
    free(fs);
}

/* ======================================================================
 * Data benchmarks.  Each prints one table to out in the format of the
 * others ("# title" line, header, rows) and returns 0 or 1.  Clusters are
 * started with clus_start() (recorded for clean-up on ^C or error) and
 * stopped with clus_stop().
 * ====================================================================== */

/* ---- data hand-off and transfer -------------------------------------------
 */

/* Median round trip (us) of fn(args) restricted to worker w, reps times;
   the futures of the consumer are released each time. */
static int timed_on(locus_client *c, int w, const char *fn,
                    const locus_arg *args, size_t nargs, int reps, double *med)
{
    uint64_t t[32];
    if (reps > 32)
        reps = 32;
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = &w;
    o.nworkers = 1;
    for (int i = 0; i < reps; i++) {
        locus_future *f = NULL;
        uint64_t t0 = lc_now_ns();
        int rc = locus_submit(c, fn, args, nargs, &o, &f);
        if (!rc)
            rc = locus_result(f, TASK_TIMEOUT_MS, NULL, NULL);
        t[i] = lc_now_ns() - t0;
        locus_release(f);
        if (rc)
            return rc;
    }
    double p99;
    percentiles(t, reps, med, &p99); /* in us */
    return 0;
}

/* Counters of worker id (they ride heartbeats: wait for one first). */
static int counters_of(locus_client *c, int id, locus_worker_info *out)
{
    struct timespec hb = {0, 700 * 1000 * 1000};
    nanosleep(&hb, NULL);
    locus_worker_info wi[16];
    size_t n = 0;
    int rc = locus_workers(c, wi, 16, &n);
    for (size_t i = 0; !rc && i < n && i < 16; i++)
        if (wi[i].id == id) {
            *out = wi[i];
            return 0;
        }
    return rc ? rc : LOCUS_ENOENT;
}

/*
 * For each size: an object made on worker A (locus.array.arange, restricted
 * to A), then a task on worker B that takes it as input and touches nothing
 * (locus.nbytes): its round trip minus a locus.noop round trip on B is the
 * hand-off time; B's counters say how the bytes came.
 */
static int handoff_sizes(FILE *out, locus_client *c, int a, int b,
                         const uint64_t *sizes, int nsizes, const char *what,
                         double ref_gbs, const char *ref_what)
{
    double noop;
    int rc = timed_on(c, b, "locus.noop", NULL, 0, 21, &noop);
    if (rc)
        return rc;
    fprintf(out, "%-10s %12s %10s %12s %12s %12s %10s\n", "size", "hand-off us",
            "GB/s", "mapped B", "RMA read B", "copied B",
            ref_gbs > 0 ? "of raw" : "");
    for (int i = 0; i < nsizes && !g_stop; i++) {
        struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
        o.workers = &a;
        o.nworkers = 1;
        locus_arg mk[2] = {locus_arg_i64(0),
                           locus_arg_i64((int64_t)(sizes[i] / 8))};
        locus_future *obj = NULL;
        rc = locus_submit(c, "locus.array.arange", mk, 2, &o, &obj);
        if (!rc)
            rc = locus_result(obj, TASK_TIMEOUT_MS, NULL, NULL);
        locus_worker_info before, after;
        if (!rc)
            rc = counters_of(c, b, &before);
        double t = 0;
        locus_arg in = locus_arg_future(obj);
        /* first use moves the data; later ones find it mapped or fetch
           again (no cache of copies): time every one, take the median */
        if (!rc)
            rc = timed_on(c, b, "locus.nbytes", &in, 1,
                          sizes[i] > (256u << 20) ? 3 : 7, &t);
        if (!rc)
            rc = counters_of(c, b, &after);
        locus_release(obj);
        if (rc)
            return rc;
        int reps = sizes[i] > (256u << 20) ? 3 : 7;
        double us = t - noop;
        char ratio[32] = "", tus[32], tgbs[32];
        if (us < 1.0) {
            /* within the noise of a no-op round trip: nothing to time */
            snprintf(tus, sizeof(tus), "< noise");
            snprintf(tgbs, sizeof(tgbs), "-");
        } else {
            double gbs = (double)sizes[i] / (us * 1e3);
            snprintf(tus, sizeof(tus), "%.1f", us);
            snprintf(tgbs, sizeof(tgbs), "%.2f", gbs);
            if (ref_gbs > 0)
                snprintf(ratio, sizeof(ratio), "%9.0f%%",
                         100.0 * gbs / ref_gbs);
        }
        fprintf(out, "%7.0f MiB %12s %10s %12llu %12llu %12llu %10s\n",
                (double)sizes[i] / (1 << 20), tus, tgbs,
                (unsigned long long)(after.bytes_mapped - before.bytes_mapped) /
                    (unsigned long long)reps,
                (unsigned long long)(after.bytes_rma - before.bytes_rma) /
                    (unsigned long long)reps,
                (unsigned long long)(after.bytes_inline - before.bytes_inline) /
                    (unsigned long long)reps,
                ratio);
    }
    fprintf(out,
            "# %s; hand-off = median round trip of "
            "locus.nbytes(object) on B minus that of locus.noop on B "
            "(%.1f us); bytes per hand-off from B's counters%s%s\n",
            what, noop, ref_gbs > 0 ? "; raw: " : "",
            ref_gbs > 0 ? ref_what : "");
    return 0;
}

static int bench_handoff(FILE *out)
{
    struct clus k;
    int rc = clus_start(2, 1, 0, &k);
    if (rc) {
        fprintf(out, "# same-host hand-off: cluster failed: %s\n",
                locus_last_error());
        clus_stop(&k);
        return 1;
    }
    locus_worker_info wi[4];
    size_t n = 0;
    rc = locus_workers(k.c, wi, 4, &n);
    if (!rc && n < 2)
        rc = LOCUS_ENOWORKERS;
    static const uint64_t sizes[] = {1u << 20, 64u << 20, 256u << 20, 1u << 30};
    /* reference: copying the same bytes once in this process */
    size_t big = (size_t)1 << 28;
    char *src = malloc(big), *dst = malloc(big);
    double copy_gbs = 0;
    if (src && dst) {
        memset(src, 1, big);
        memset(dst, 2, big);
        uint64_t t0 = lc_now_ns();
        memcpy(dst, src, big);
        __asm__ __volatile__("" : : "r"(dst) : "memory"); /* keep the copy */
        copy_gbs = (double)big / (double)(lc_now_ns() - t0);
        if (dst[big / 2] != 1)
            copy_gbs = 0;
    }
    free(src);
    free(dst);
    fprintf(out, "\n# same-host hand-off: worker B consumes an object made on "
                 "worker A (2 workers x 1 thread, one host)\n");
    if (!rc)
        rc = handoff_sizes(out, k.c, wi[0].id, wi[1].id, sizes, 4,
                           "mapped read-only from A's arena: zero copies", 0,
                           NULL);
    if (copy_gbs > 0)
        fprintf(out,
                "# for scale: copying 256 MiB once in this process "
                "(memcpy) takes %.0f us (%.2f GB/s); a hand-off copies "
                "nothing\n",
                (double)big / copy_gbs / 1e3, copy_gbs);
    if (rc)
        fprintf(out, "# same-host hand-off failed: %s\n", locus_last_error());
    clus_stop(&k);
    return rc != 0;
}

/* ---- cross-host: two network namespaces joined by a veth pair ---------------
 */

static int shq(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shq(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char ns_name[2][32];

static void ns_remove(void)
{
    for (int i = 0; i < 2; i++)
        if (ns_name[i][0])
            shq("ip netns del %s 2>/dev/null", ns_name[i]);
}

/* fi_pingpong's bandwidth for size bytes from ns 0 to ns 1, MB/s; 0 when
   it cannot run. */
static double fi_pingpong_mbs(const char *size)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "(ip netns exec %s timeout 90 fi_pingpong -p tcp -e rdm -S %s "
             "-I 20 >/dev/null 2>&1 &); sleep 0.5; "
             "ip netns exec %s timeout 60 fi_pingpong -p tcp -e rdm -S %s "
             "-I 20 10.252.9.2 2>/dev/null | tail -1",
             ns_name[1], size, ns_name[0], size);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    char line[512] = "";
    double mbs = 0;
    if (fgets(line, sizeof(line), p)) {
        /* bytes #sent #ack total time MB/sec usec/xfer Mxfers/sec */
        char a[64], b[64], c[64], d[64], e[64];
        if (sscanf(line, "%63s %63s %63s %63s %63s %lf", a, b, c, d, e, &mbs) !=
            6)
            mbs = 0;
    }
    pclose(p);
    return mbs;
}

static int bench_transfer(FILE *out)
{
    if (geteuid() != 0 || shq("command -v ip >/dev/null && "
                              "command -v unshare >/dev/null") != 0) {
        fprintf(out, "\n# cross-host transfer: skipped (needs root, ip and "
                     "unshare to make two hosts out of network "
                     "namespaces)\n");
        return 0;
    }
    for (int i = 0; i < 2; i++)
        snprintf(ns_name[i], sizeof(ns_name[i]), "lcB%d-%d", (int)getpid(), i);
    int rc = 0;
    char dir[] = "/tmp/locus-bench-xh-XXXXXX";
    pid_t pids[3] = {0, 0, 0};
    locus_client *c = NULL;
    int self_ns = -1;
    if (!mkdtemp(dir))
        return 1;
    if (shq("ip netns add %s && ip netns add %s && "
            "ip link add lcBv%d type veth peer name lcBw%d && "
            "ip link set lcBv%d netns %s && ip link set lcBw%d netns %s && "
            "ip -n %s addr add 10.252.9.1/24 dev lcBv%d && "
            "ip -n %s addr add 10.252.9.2/24 dev lcBw%d && "
            "ip -n %s link set lcBv%d up && ip -n %s link set lcBw%d up && "
            "ip -n %s link set lo up && ip -n %s link set lo up",
            ns_name[0], ns_name[1], (int)getpid(), (int)getpid(), (int)getpid(),
            ns_name[0], (int)getpid(), ns_name[1], ns_name[0], (int)getpid(),
            ns_name[1], (int)getpid(), ns_name[0], (int)getpid(), ns_name[1],
            (int)getpid(), ns_name[0], ns_name[1]) != 0) {
        fprintf(out, "\n# cross-host transfer: cannot create namespaces\n");
        ns_remove();
        return 1;
    }
    double raw64 = fi_pingpong_mbs("67108864");
    /* host 0: scheduler and worker A; host 1 ("lcbhost1"): worker B */
    char file[128], log[160], sched[1024], worker[1024];
    snprintf(file, sizeof(file), "%s/scheduler.json", dir);
    if (cluster_find_program("locus-scheduler", sched, sizeof(sched)) ||
        cluster_find_program("locus-worker", worker, sizeof(worker))) {
        fprintf(out, "\n# cross-host transfer: %s\n", locus_last_error());
        ns_remove();
        return 1;
    }
    char *sargv[] = {"/usr/sbin/ip",     "netns", "exec",   ns_name[0],   sched,
                     "--scheduler-file", file,    "--bind", "10.252.9.1", NULL};
    char *aargv[] = {"/usr/sbin/ip", "netns",  "exec",
                     ns_name[0],     worker,   "--scheduler-file",
                     file,           "--bind", "10.252.9.1",
                     "--nthreads",   "1",      NULL};
    char *bargv[] = {"/usr/sbin/ip",
                     "netns",
                     "exec",
                     ns_name[1],
                     "/usr/bin/unshare",
                     "--uts",
                     "/bin/sh",
                     "-c",
                     "hostname lcbhost1 && exec \"$0\" \"$@\"",
                     worker,
                     "--scheduler-file",
                     file,
                     "--bind",
                     "10.252.9.2",
                     "--nthreads",
                     "1",
                     NULL};
    char **argvs[3] = {sargv, aargv, bargv};
    for (int i = 0; i < 3; i++) {
        snprintf(log, sizeof(log), "%s/p%d.log", dir, i);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        if (posix_spawn(&pids[i], argvs[i][0], &fa, NULL, argvs[i], environ) !=
            0)
            pids[i] = 0;
        posix_spawn_file_actions_destroy(&fa);
        for (int w = 0; i == 0 && w < 200 && access(file, F_OK) != 0; w++) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    /* this thread (and the client's progress thread it starts) on host 0 */
    char nspath[96];
    snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", ns_name[0]);
    int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
    self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || self_ns < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
        rc = LOCUS_ESYS;
        lc_seterr(rc, "bench", "setns %s failed", nspath);
    }
    if (nsfd >= 0)
        close(nsfd);
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.bind = "10.252.9.1";
    co.timeout_ms = CLUSTER_TIMEOUT_MS;
    if (!rc)
        rc = locus_connect(file, &co, &c);
    locus_worker_info wi[4];
    size_t n = 0;
    for (int tries = 0; !rc && tries < 300; tries++) {
        rc = locus_workers(c, wi, 4, &n);
        if (rc || n >= 2)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!rc && n < 2)
        rc = lc_seterr(LOCUS_ENOWORKERS, "bench",
                       "only %zu workers joined "
                       "(logs in %s)",
                       n, dir);
    fprintf(out,
            "\n# cross-host transfer over tcp;ofi_rxm: worker B (host "
            "lcbhost1) consumes an object made on worker A (host %s), "
            "two network namespaces joined by a veth pair\n",
            lc_hostname());
    if (!rc) {
        int a = strcmp(wi[0].host, "lcbhost1") ? wi[0].id : wi[1].id;
        int b = a == wi[0].id ? wi[1].id : wi[0].id;
        static const uint64_t sizes[] = {1u << 20, 64u << 20, 256u << 20};
        char what[160];
        snprintf(what, sizeof(what), "fi_read from A's registered arena");
        rc = handoff_sizes(out, c, a, b, sizes, 3, what, raw64 / 1000.0,
                           "fi_pingpong -p tcp -e rdm -S 64m bandwidth on "
                           "the same link, same run");
        fprintf(out, "# fi_pingpong 64 MiB on this link: %.2f GB/s\n",
                raw64 / 1000.0);
    }
    if (rc)
        fprintf(out, "# cross-host transfer failed: %s\n", locus_last_error());
    if (c)
        locus_disconnect(c);
    for (int i = 2; i >= 0; i--)
        if (pids[i] > 0) {
            kill(pids[i], SIGTERM);
            for (int w = 0; w < 250 && waitpid(pids[i], NULL, WNOHANG) == 0;
                 w++) {
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    if (self_ns >= 0) {
        if (setns(self_ns, CLONE_NEWNET) != 0)
            fprintf(stderr, "locus-bench: cannot return to the host "
                            "namespace\n");
        close(self_ns);
    }
    ns_remove();
    shq("rm -rf '%s'", dir);
    return rc != 0;
}

/*
 * HDF5 load-and-sum (--h5): bench_h5_sum() of runtime/array/bench_h5.h
 * (size from $LOCUS_BENCH_H5_BYTES, default 1 GiB) on a local cluster of
 * one worker per NUMA node with all its cores.
 */
static int bench_h5(FILE *out)
{
    struct clus k;
    note("cluster: one worker per NUMA node, HDF5 load-and-sum");
    /* two workers, so that what moves between workers shows */
    int rc = clus_start(2, 1, 0, &k);
    if (rc) {
        fprintf(
            stderr,
            "locus-bench: cannot start the local cluster for --h5: %s (%s)\n",
            locus_last_error(), locus_errname(rc));
        clus_stop(&k);
        return rc;
    }
    fprintf(out, "\n# HDF5 load-and-sum (bench_h5_sum); cluster %s\n", k.desc);
    fflush(out);
    locus_disconnect(k.c); /* bench_h5_sum connects its own client */
    k.c = NULL;
    rc = bench_h5_sum(locus_cluster_scheduler_file(k.lc), out);
    if (rc)
        fprintf(out, "# HDF5 load-and-sum failed: %s (%s)\n",
                locus_last_error(), locus_errname(rc));
    clus_stop(&k);
    return rc;
}

/* ---- driver ----------------------------------------------------------------
 */

/* One configuration of a local cluster and what was measured on it. */
struct path {
    const char *label; /* "shm" or the net provider */
    int no_shm, nworkers;
    const char *raw_prov;
    struct raw raw;
    struct lat lat;
    struct tput tput;
    char desc[256];
    int ran_lat, ran_tput;
};

/* ---- the session MAC
 * --------------------------------------------------------- Every message after
 * the handshake carries a MAC (runtime/net/lnet.h). The candidates, on the
 * sizes messages have: locus uses Poly1305 under a ChaCha20-derived per-message
 * key (the IETF AEAD with no plaintext). */
static double mac_ns(int alg, const uint8_t *buf, size_t n, long iters)
{
    uint8_t key[32] = {1}, tag[32];
    unsigned char nonce[12] = {0}, none[1] = {0};
    unsigned long long tl;
    uint64_t t0 = lc_now_ns();
    for (long i = 0; i < iters; i++) {
        nonce[0] = (unsigned char)i;
        if (alg == 0)
            crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                none, tag, &tl, none, 0, buf, n, NULL, nonce, key);
        else if (alg == 1)
            crypto_generichash(tag, 16, buf, n, key, 32);
        else
            crypto_auth_hmacsha256(tag, buf, n, key);
    }
    return (double)(lc_now_ns() - t0) / (double)iters;
}

static int bench_mac(FILE *out)
{
    if (sodium_init() < 0)
        return 1;
    static uint8_t buf[65536];
    randombytes_buf(buf, sizeof(buf));
    static const size_t sizes[] = {64, 1024, 16384, 65536};
    static const char *names[] = {"chacha20-poly1305 (used)", "blake2b-128",
                                  "hmac-sha256"};
    fprintf(out, "\n# MAC per message, ns (median of 7 rounds)\n");
    fprintf(out, "%-26s %10s %10s %10s %10s\n", "algorithm", "64 B", "1 KiB",
            "16 KiB", "64 KiB");
    for (int a = 0; a < 3; a++) {
        fprintf(out, "%-26s", names[a]);
        for (int k = 0; k < 4; k++) {
            long iters = sizes[k] <= 1024 ? 20000 : 2000;
            uint64_t r[7];
            for (int i = 0; i < 7; i++)
                r[i] = (uint64_t)(mac_ns(a, buf, sizes[k], iters) * 10);
            qsort(r, 7, sizeof(r[0]), cmp_u64);
            fprintf(out, " %10.1f", (double)r[3] / 10);
        }
        fprintf(out, "\n");
    }
    return 0;
}

static void cleanup(void)
{
    if (g_running)
        clus_stop(g_running);
    peer_stop(&g_peer);
}

static void fail_cluster(const struct path *p, int rc)
{
    fprintf(stderr,
            "locus-bench: cannot start the local cluster (%d worker%s x 1 "
            "thread, %s, net provider %s): %s (%s)\n",
            p->nworkers, p->nworkers == 1 ? "" : "s",
            p->no_shm ? "no shm" : "shm between local peers", cfg.provider,
            locus_last_error(), locus_errname(rc));
    if (rc == LOCUS_ENOENT)
        fprintf(stderr, "locus-bench: build them (cmake --build BUILD "
                        "--target locus-scheduler locus-worker) or set "
                        "LOCUS_BINDIR\n");
    else
        fprintf(stderr, "locus-bench: LOCUS_KEEP_LOGS=1 keeps the cluster's "
                        "logs\n");
    cleanup();
    exit(1);
}

/* Run what is selected on one cluster configuration. */
static void run_path(struct path *p, int do_lat, int do_tput)
{
    struct clus k;
    note("cluster: %d worker%s x 1 thread, %s", p->nworkers,
         p->nworkers == 1 ? "" : "s", p->no_shm ? "no shm" : "shm");
    int rc = clus_start(p->nworkers, 1, p->no_shm, &k);
    if (rc)
        fail_cluster(p, rc);
    snprintf(p->desc, sizeof(p->desc), "%s", k.desc);
    if (do_lat && !g_stop) {
        note("  task round trip, %ld iterations", cfg.iters);
        locus_latency(k.c, cfg.iters, &p->lat);
        p->ran_lat = 1;
    }
    if (do_tput && !g_stop) {
        note("  task throughput, %ld tasks", cfg.tasks);
        locus_throughput(k.c, cfg.tasks, &p->tput);
        p->ran_tput = 1;
    }
    clus_stop(&k);
}

static void run_raw(struct path *p, long msgs)
{
    note("raw xport on %s: %ld round trips, %ld messages", p->raw_prov,
         cfg.iters, msgs);
    raw_run(&g_peer, p->raw_prov, cfg.iters, msgs, &p->raw);
}

static void fmt_f(char *buf, size_t len, int ok, double v, const char *fmt)
{
    if (ok)
        snprintf(buf, len, fmt, v);
    else
        snprintf(buf, len, "n/a");
}

static int print_latency(FILE *o, struct path *ps, int np)
{
    int bad = 0;
    fprintf(o,
            "\n# task round trip (locus.noop, 1 worker x 1 thread), %ld "
            "iterations after %ld of warm-up\n",
            cfg.iters, warmup_of(cfg.iters));
    fprintf(o,
            "# locus: locus_submit + locus_result, one at a time; raw xport: "
            "%d B tagged send/recv ping-pong between two processes, "
            "spin-polling; full round trips in us; ratio = locus/raw medians\n",
            RAW_MSG_BYTES);
    fprintf(o, "%-14s %12s %9s %17s %9s %8s\n", "path", "locus median", "p99",
            "raw xport median", "p99", "ratio");
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (!p->ran_lat)
            continue;
        char a[32], b[32], c[32], d[32], r[32];
        fmt_f(a, sizeof(a), p->lat.ok, p->lat.med, "%.1f");
        fmt_f(b, sizeof(b), p->lat.ok, p->lat.p99, "%.1f");
        fmt_f(c, sizeof(c), p->raw.ok, p->raw.med, "%.2f");
        fmt_f(d, sizeof(d), p->raw.ok, p->raw.p99, "%.2f");
        fmt_f(r, sizeof(r), p->lat.ok && p->raw.ok && p->raw.med > 0,
              p->lat.med / (p->raw.med > 0 ? p->raw.med : 1), "%.1f");
        fprintf(o, "%-14s %12s %9s %17s %9s %8s\n", p->label, a, b, c, d, r);
    }
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (p->ran_lat && !p->lat.ok)
            fprintf(o, "# %s: locus: %s\n", p->label, p->lat.err), bad = 1;
        if (p->ran_lat && !p->raw.ok)
            fprintf(o, "# %s: raw xport: %s\n", p->label, p->raw.err), bad = 1;
        if (p->ran_lat && p->raw.ok)
            fprintf(o, "# %s: raw fabric %s, domain %s; cluster %s\n", p->label,
                    p->raw.fabric, p->raw.domain, p->desc);
    }
    return bad;
}

static int print_throughput(FILE *o, struct path *ps, int np)
{
    int bad = 0;
    fprintf(o,
            "\n# task throughput (locus_map of %ld x locus.noop, then "
            "locus_wait; 1 thread per worker)\n",
            cfg.tasks);
    fprintf(
        o,
        "# map s: time in locus_map; total s: map to last result; release s: "
        "locus_release of all (not in total); raw xport: %d B tagged messages, "
        "%d in flight per ack; ratio = locus tasks/s / raw msgs/s\n",
        RAW_MSG_BYTES, XPORT_WINDOW);
    fprintf(o, "%-14s %7s %10s %7s %8s %9s %14s %7s\n", "path", "workers",
            "tasks/s", "map s", "total s", "release s", "raw xport msg/s",
            "ratio");
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (!p->ran_tput)
            continue;
        const struct raw *raw = &p->raw;
        /* 2-worker paths reuse the raw figure of their 1-worker path */
        for (int j = 0; j < np && !raw->ok; j++)
            if (!strcmp(ps[j].raw_prov, p->raw_prov) && ps[j].raw.ok)
                raw = &ps[j].raw;
        char a[32], b[32], c[32], d[32], e[32], r[32];
        int ok = p->tput.ok;
        fmt_f(a, sizeof(a), ok, p->tput.rate, "%.0f");
        fmt_f(b, sizeof(b), ok, p->tput.map_s, "%.2f");
        fmt_f(c, sizeof(c), ok, p->tput.total_s, "%.2f");
        fmt_f(d, sizeof(d), ok, p->tput.release_s, "%.2f");
        fmt_f(e, sizeof(e), raw->ok, raw->rate, "%.0f");
        fmt_f(r, sizeof(r), ok && raw->ok && raw->rate > 0,
              p->tput.rate / (raw->rate > 0 ? raw->rate : 1), "%.3f");
        fprintf(o, "%-14s %7d %10s %7s %8s %9s %14s %7s\n", p->label,
                p->nworkers, a, b, c, d, e, r);
    }
    if (g_map_chunked)
        fprintf(o,
                "# note: locus_map refused more than 65535 inputs (client.c "
                "check_args counts map inputs as arguments of one task); it "
                "was called in slices of %ld, all timed\n",
                MAP_CHUNK);
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (p->ran_tput && !p->tput.ok)
            fprintf(o, "# %s, %d worker%s: %s\n", p->label, p->nworkers,
                    p->nworkers == 1 ? "" : "s", p->tput.err),
                bad = 1;
    }
    return bad;
}

static void usage(FILE *f)
{
    static const char *const lines[] = {
        "usage: locus-bench [options]",
        "",
        "Benchmarks of the locus runtime on local clusters, each beside the",
        "raw transport (libfabric through xport) figure for the same",
        "provider, measured in the same run:",
        "  latency     task round trip: locus_submit + locus_result of",
        "              locus.noop, one at a time, 1 worker x 1 thread, over",
        "              shm and over the net provider (median, p99, after a",
        "              warm-up); raw: tagged ping-pong between 2 processes",
        "  throughput  locus_map of N locus.noop, then wait; 1 and 2 workers",
        "              x 1 thread, shm and net; raw: tagged message rate",
        "  h5          HDF5 load-and-sum (bench_h5_sum, size from",
        "              $LOCUS_BENCH_H5_BYTES, default 1 GiB); only when asked",
        "  handoff     worker B consumes an object made on worker A, same",
        "              host, 1 MiB..1 GiB: time and bytes moved by path",
        "  transfer    the same across two network namespaces (root), beside",
        "              fi_pingpong's bandwidth on the same link, same run",
        "",
        "  --only NAME     run only this one (latency, throughput, h5,",
        "                  handoff, transfer)",
        "  --iters N       round trips per path (default 10000)",
        "  --tasks N       tasks per throughput run (default 1000000)",
        "  --provider P    net provider (default tcp;ofi_rxm)",
        "  --path shm|net  only the shm path or only the net provider",
        "  --quick         CI smoke: 1000 iterations, 10000 tasks",
        "  --h5            also run the HDF5 load-and-sum section",
        "  --help          this help",
        "",
        "Needs locus-scheduler and locus-worker ($LOCUS_BINDIR, else this",
        "program's directory, else where locus was built); LOCUS_KEEP_LOGS=1",
        "keeps the clusters' logs.  Every wait has a deadline; a throughput",
        "run in which no task finishes for 30 s stops as stalled.  Exit",
        "status: 0; 1 when a measurement failed or a cluster did not start;",
        "2 on bad usage; 130 when interrupted.",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        fprintf(f, "%s\n", lines[i]);
}

static long parse_count(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > 100000000) {
        fprintf(stderr,
                "locus-bench: %s wants a count from 1 to 1e8, not '%s'\n", opt,
                s);
        exit(2);
    }
    return v;
}

/* Use the scheduler and worker next to this program when there are some. */
static void default_bindir(void)
{
    char self[PATH_MAX], prog[PATH_MAX + 32];
    if (getenv("LOCUS_BINDIR"))
        return;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return;
    *slash = '\0';
    snprintf(prog, sizeof(prog), "%s/locus-worker", self);
    if (access(prog, X_OK) == 0)
        setenv("LOCUS_BINDIR", self, 0);
}

int main(int argc, char **argv)
{
    enum {
        OPT_ONLY = 1,
        OPT_ITERS,
        OPT_TASKS,
        OPT_PROV,
        OPT_QUICK,
        OPT_H5,
        OPT_PEER,
        OPT_PATH
    };
    static const struct option lopts[] = {
        {"only", required_argument, NULL, OPT_ONLY},
        {"iters", required_argument, NULL, OPT_ITERS},
        {"tasks", required_argument, NULL, OPT_TASKS},
        {"provider", required_argument, NULL, OPT_PROV},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"h5", no_argument, NULL, OPT_H5},
        {"path", required_argument, NULL, OPT_PATH},
        {"help", no_argument, NULL, 'h'},
        {"xport-peer", no_argument, NULL, OPT_PEER},
        {NULL, 0, NULL, 0}};
    long iters = 0, tasks = 0;
    int opt, peer = 0;
    const char *only = NULL;
    while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (opt) {
        case OPT_ONLY:
            only = optarg;
            break;
        case OPT_ITERS:
            iters = parse_count(optarg, "--iters");
            break;
        case OPT_TASKS:
            tasks = parse_count(optarg, "--tasks");
            break;
        case OPT_PROV:
            cfg.provider = optarg;
            break;
        case OPT_QUICK:
            cfg.quick = 1;
            break;
        case OPT_H5:
            cfg.h5 = 1;
            break;
        case OPT_PATH:
            if (!strcmp(optarg, "shm") || !strcmp(optarg, "net")) {
                cfg.paths = !strcmp(optarg, "shm") ? 1 : 2;
                break;
            }
            fprintf(stderr, "locus-bench: --path takes shm or net, not '%s'\n",
                    optarg);
            return 2;
        case OPT_PEER:
            peer = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (peer) {
        if (argc - optind != 2)
            return 2;
        return peer_main(atoi(argv[optind]), atoi(argv[optind + 1]));
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (cfg.quick) {
        cfg.iters = 1000;
        cfg.tasks = 10000;
    }
    if (iters)
        cfg.iters = iters;
    if (tasks)
        cfg.tasks = tasks;
    if (only) {
        cfg.latency = !strcmp(only, "latency");
        cfg.throughput = !strcmp(only, "throughput");
        cfg.handoff = !strcmp(only, "handoff");
        cfg.transfer = !strcmp(only, "transfer");
        cfg.h5 = cfg.h5 || !strcmp(only, "h5");
        cfg.mac = !strcmp(only, "mac");
        if (!cfg.latency && !cfg.throughput && !cfg.handoff && !cfg.transfer &&
            !cfg.mac && strcmp(only, "h5")) {
            fprintf(stderr,
                    "locus-bench: --only takes latency, throughput, handoff, "
                    "transfer, mac or h5, not '%s'\n",
                    only);
            return 2;
        }
    }

    lc_log_set_prog("locus-bench");
    g_tty = isatty(2);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    default_bindir();

    int need_raw = cfg.latency || cfg.throughput;
    if (need_raw) {
        int rc = peer_spawn(&g_peer);
        if (rc) {
            fprintf(stderr, "locus-bench: cannot start the xport peer: %s\n",
                    locus_last_error());
            return 1;
        }
    }

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
    printf("# locus-bench %s on %s (%ld cores), %s; net provider %s\n",
           locus_version(), lc_hostname(), cores, when, cfg.provider);
    fflush(stdout);

    /* raw msgs for the rate: ~ as many as the round trips, at least 64k */
    long raw_msgs = cfg.iters * 20 < 65536 ? 65536 : cfg.iters * 20;
    struct path ps[4] = {
        {"shm", 0, 1, "shm", {0}, {0}, {0}, "", 0, 0},
        {cfg.provider, 1, 1, cfg.provider, {0}, {0}, {0}, "", 0, 0},
        {"shm", 0, 2, "shm", {0}, {0}, {0}, "", 0, 0},
        {cfg.provider, 1, 2, cfg.provider, {0}, {0}, {0}, "", 0, 0},
    };
    int bad = 0;
    if (need_raw) {
        for (int i = 0; i < 4 && !g_stop; i++) {
            if (!(cfg.paths & (1 << ps[i].no_shm)))
                continue;
            if (i < 2) {
                run_raw(&ps[i], raw_msgs);
                run_path(&ps[i], cfg.latency, cfg.throughput);
            } else if (cfg.throughput) {
                run_path(&ps[i], 0, 1);
            }
        }
        peer_stop(&g_peer);
        if (cfg.latency)
            bad |= print_latency(stdout, ps, 4);
        if (cfg.throughput)
            bad |= print_throughput(stdout, ps, 4);
    }
    if (cfg.handoff && !g_stop)
        bad |= bench_handoff(stdout) != 0;
    if (cfg.transfer && !g_stop)
        bad |= bench_transfer(stdout) != 0;
    if (cfg.h5 && !g_stop)
        bad |= bench_h5(stdout) != 0;
    if (cfg.mac && !g_stop)
        bad |= bench_mac(stdout) != 0;
    cleanup();
    if (g_stop) {
        fprintf(stderr, "locus-bench: interrupted\n");
        return 130;
    }
    return bad ? 1 : 0;
}
