/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-pingpong: message latency and RMA-read bandwidth of the locus
 * transport, in the manner of fabtests' fi_pingpong.
 *
 *   server:  locus-pingpong [options]
 *   client:  locus-pingpong [options] SERVER-HOST
 *
 * Bootstrap: the server listens on a plain TCP socket (SERVER-HOST:-P port,
 * default 47591) for one client; the two exchange their transport addresses
 * ("<provider>://<hex>"), the client's message size and the rkey of the
 * server's registered region over it, then talk only through the transport.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base.h"
#include "bench/report.h"
#include "bench/stats.h"
#include "opts.h"
#include "xport.h"

#define TAG_PING 0x50494e47ull
#define TAG_DONE 0x444f4e45ull
#define MAX_RMA (64ull << 20)

struct boot {
    uint64_t msg_size;
    uint64_t region;
    xport_rkey rk;
    char name[XPORT_NAME_MAX];
};

static struct {
    const char *prov, *bind, *port, *host;
    long iters;
    size_t size; /* 0: all sizes */
    int verbose;
    int wait_spin_us; /* -1: spin only; else xport_wait(spin_us) */
    int json;
} cfg = {NULL, NULL, "47591", NULL, 1000, 0, 0, -1, 0};

/* the tables: stdout, or stderr with --json (stdout is the document's) */
static FILE *out;
/* --json: the document, its ping-pong rows and its RMA rows */
static json_object *doc, *jping, *jread;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: locus-pingpong [options]               (server)\n"
            "       locus-pingpong [options] SERVER-HOST   (client)\n"
            "\n"
            "Measures the locus transport between two processes: message\n"
            "ping-pong latency (half round trip, median and 99th percentile\n"
            "after a warm-up) for sizes from 8 B to the largest message, and\n"
            "RMA-read (fi_read) bandwidth for sizes up to 64 MiB.\n"
            "\n"
            "  -p PROVIDER  libfabric provider (tcp;ofi_rxm, shm, "
            "verbs;ofi_rxm...);\n"
            "               default $FI_PROVIDER, else tcp;ofi_rxm\n"
            "  -b ADDR      address the fabric endpoint binds to (net "
            "providers;\n"
            "               default 127.0.0.1); the server also listens "
            "there\n"
            "  -P PORT      bootstrap TCP port (default 47591)\n"
            "  -n ITERS     ping-pongs per size (default 1000; fewer above "
            "64 KiB\n"
            "               when -S all); the first 10%% are warm-up\n"
            "  -S SIZE|all  one message and read size (suffix k/m) or all "
            "(default)\n"
            "  -W SPIN_US   wait for completions with xport_wait (spin "
            "SPIN_US,\n"
            "               then block on the wait fds) instead of "
            "spinning\n"
            "  -v           log transport details (LOCUS_LOG=info)\n"
            "  --json       one JSON document with every figure on stdout "
            "(the\n"
            "               tables go to stderr); the server's names no "
            "figures\n"
            "  -h           this help\n"
            "\n"
            "Bootstrap: the server waits on ADDR:PORT (plain TCP) for one "
            "client;\nthe two exchange transport addresses and the rkey of "
            "the server's\nregion there, then use only the transport. "
            "Example, over shm:\n"
            "  locus-pingpong -p shm &  locus-pingpong -p shm 127.0.0.1\n");
}

static size_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return 0;
    if (*end == 'k' || *end == 'K')
        v *= 1024, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        v *= 1024.0 * 1024 * 1024, end++;
    /* the whole string, and at most 64 GiB */
    return *end || !(v >= 1 && v <= 68719476736.0) ? 0 : (size_t)v;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "locus-pingpong: %s: %s (%s)\n", what, locus_last_error(),
            locus_errname(rc));
    exit(1);
}

/* ---- bootstrap socket ---------------------------------------------------- */

static int io_all(int fd, void *buf, size_t len, int writing)
{
    char *p = buf;
    uint64_t end = lc_deadline_ms(30000);
    while (len) {
        struct pollfd pf = {fd, writing ? POLLOUT : POLLIN, 0};
        if (poll(&pf, 1, lc_remaining_ms(end)) <= 0)
            return -1;
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int boot_server(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai;
    const char *host = cfg.bind ? cfg.bind : "127.0.0.1";
    int rc = getaddrinfo(host, cfg.port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "locus-pingpong: %s: %s\n", host, gai_strerror(rc));
        exit(1);
    }
    int s = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (s < 0 || bind(s, ai->ai_addr, ai->ai_addrlen) || listen(s, 1)) {
        fprintf(stderr, "locus-pingpong: listen on %s:%s: %s\n", host, cfg.port,
                strerror(errno));
        exit(1);
    }
    freeaddrinfo(ai);
    fprintf(stderr, "locus-pingpong: server waiting on %s:%s\n", host,
            cfg.port);
    int c = accept(s, NULL, NULL);
    close(s);
    if (c < 0) {
        perror("locus-pingpong: accept");
        exit(1);
    }
    return c;
}

static int boot_client(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM},
                    *ai;
    int rc = getaddrinfo(cfg.host, cfg.port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "locus-pingpong: %s: %s\n", cfg.host, gai_strerror(rc));
        exit(1);
    }
    uint64_t end = lc_deadline_ms(10000);
    for (;;) {
        int s = socket(ai->ai_family, SOCK_STREAM, 0);
        if (s >= 0 && connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(ai);
            return s;
        }
        int e = errno;
        if (s >= 0)
            close(s);
        if (lc_expired(end)) {
            fprintf(stderr, "locus-pingpong: connect to %s:%s: %s\n", cfg.host,
                    cfg.port, strerror(e));
            exit(1);
        }
        usleep(100000);
    }
}

/* ---- measuring --------------------------------------------------------- */

static xport_ep *ep;
static xport_addr peer;

/* Next event, spinning on the completion queue as fi_pingpong does. */
static void next_event(xport_event *ev)
{
    uint64_t end = lc_deadline_ms(30000);
    for (unsigned spins = 0;; spins++) {
        int n = xport_progress(ep, ev, 1);
        if (n < 0)
            die("xport_progress", n);
        if (n == 1) {
            if (ev->kind == XPORT_EV_SEND_ERROR ||
                ev->kind == XPORT_EV_READ_ERROR) {
                fprintf(stderr, "locus-pingpong: %s: %s\n",
                        ev->kind == XPORT_EV_SEND_ERROR ? "send" : "read",
                        locus_errname(ev->status));
                exit(1);
            }
            return;
        }
        if (cfg.wait_spin_us >= 0) {
            int w = xport_wait(&ep, 1, -1, cfg.wait_spin_us, 1000);
            if (w < 0)
                die("xport_wait", w);
        }
        if ((spins & 0xfff) == 0 && lc_expired(end)) {
            fprintf(stderr, "locus-pingpong: no answer from the peer in 30 "
                            "s\n");
            exit(1);
        }
    }
}

static void send_msg(uint64_t tag, const void *buf, size_t len)
{
    int rc = xport_send(ep, peer, tag, buf, len, lc_deadline_ms(30000));
    if (rc)
        die("xport_send", rc);
}

static void run_server(size_t msg_size)
{
    for (;;) {
        xport_event ev;
        next_event(&ev);
        if (ev.kind != XPORT_EV_RECV)
            continue;
        uint64_t tag = ev.tag;
        if (tag == TAG_PING)
            send_msg(TAG_PING, ev.data, ev.len);
        xport_release(ep, &ev);
        if (tag == TAG_DONE) {
            send_msg(TAG_DONE, "", 0);
            /* let the reply leave before closing */
            uint64_t end = lc_deadline_ms(200);
            while (!lc_expired(end)) {
                xport_event e2;
                if (xport_progress(ep, &e2, 1) == 1 && e2.kind == XPORT_EV_RECV)
                    xport_release(ep, &e2);
            }
            return;
        }
    }
    (void)msg_size;
}

static void ping_size(size_t size, char *buf, long iters)
{
    long warm = iters / 10 > 10 ? iters / 10 : 10;
    uint64_t *t = malloc(sizeof(*t) * (size_t)iters);
    if (!t)
        exit(1);
    for (long i = -warm; i < iters; i++) {
        uint64_t t0 = lc_now_ns();
        send_msg(TAG_PING, buf, size);
        xport_event ev;
        do
            next_event(&ev);
        while (ev.kind != XPORT_EV_RECV);
        uint64_t t1 = lc_now_ns();
        if (ev.len != size) {
            fprintf(stderr, "locus-pingpong: sent %zu bytes, got %zu back\n",
                    size, ev.len);
            exit(1);
        }
        xport_release(ep, &ev);
        if (i >= 0)
            t[i] = t1 - t0;
    }
    double med, p99; /* of round trips: half of them is the latency */
    bench_percentiles(t, iters, &med, &p99);
    med /= 2;
    p99 /= 2;
    fprintf(out, "%10zu %8ld %12.2f %12.2f %12.2f\n", size, iters, med, p99,
            (double)size / med);
    fflush(out);
    json_object *j = bench_jobj(jping, NULL);
    bench_jint(j, "bytes", (int64_t)size);
    bench_jint(j, "iterations", iters);
    bench_jint(j, "warmup_iterations", warm);
    bench_jnum(j, "median_us", 1, med);
    bench_jnum(j, "p99_us", 1, p99);
    bench_jnum(j, "mb_per_s", 1, (double)size / med);
    free(t);
}

static void read_size(size_t size, char *dst, xport_mr *mr,
                      const xport_rkey *rk)
{
    long reads = (long)((1ull << 30) / size);
    if (reads > cfg.iters)
        reads = cfg.iters;
    if (reads < 8)
        reads = 8;
    int window = size >= (4u << 20) ? 2 : 8; /* reads in flight */
    if ((size_t)window * size > MAX_RMA)
        window = 1;
    long started = 0, done = 0;
    uint64_t t0 = 0;
    /* one warm-up read, then the timed ones */
    for (int warm = 1; warm >= 0; warm--) {
        long total = warm ? 1 : reads;
        started = done = 0;
        t0 = lc_now_ns();
        while (done < total) {
            while (started < total && started - done < window) {
                uint64_t off = ((uint64_t)(started % window) * size);
                int rc = xport_read(ep, peer, dst + off, size, mr, rk, 0, NULL);
                if (rc)
                    die("xport_read", rc);
                started++;
            }
            xport_event ev;
            next_event(&ev);
            if (ev.kind == XPORT_EV_READ_DONE)
                done++;
            else if (ev.kind == XPORT_EV_RECV)
                xport_release(ep, &ev);
        }
    }
    double s = (double)(lc_now_ns() - t0) / 1e9;
    double mbs = (double)size * (double)reads / s / 1e6;
    fprintf(out, "%10zu %8ld %8d %12.1f\n", size, reads, window, mbs);
    fflush(out);
    json_object *j = bench_jobj(jread, NULL);
    bench_jint(j, "bytes", (int64_t)size);
    bench_jint(j, "reads", reads);
    bench_jint(j, "reads_in_flight", window);
    bench_jnum(j, "seconds", 1, s);
    bench_jnum(j, "mb_per_s", 1, mbs);
}

int main(int argc, char **argv)
{
    enum { OPT_JSON = 1 };
    static const struct option lopts[] = {{"help", no_argument, NULL, 'h'},
                                          {"json", no_argument, NULL, OPT_JSON},
                                          {NULL, 0, NULL, 0}};
    int opt;
    lc_log_set_prog("locus-pingpong");
    while ((opt = getopt_long(argc, argv, "p:b:P:n:S:W:vh", lopts, NULL)) !=
           -1) {
        switch (opt) {
        case 'p':
            cfg.prov = optarg;
            break;
        case 'b':
            cfg.bind = optarg;
            break;
        case 'P': {
            long port;
            if (opt_long("locus-pingpong", "-P", optarg, 1, 65535, &port))
                return 2;
            cfg.port = optarg;
            break;
        }
        case 'n': {
            long v;
            if (opt_long("locus-pingpong", "-n", optarg, 1, 1000000000L, &v))
                return 2;
            cfg.iters = v;
            break;
        }
        case 'S':
            cfg.size = strcmp(optarg, "all") ? parse_size(optarg) : 0;
            if (strcmp(optarg, "all") && !cfg.size) {
                fprintf(stderr,
                        "locus-pingpong: -S '%s' is not a size; give all or "
                        "a number of bytes from 1 to 64g (suffix k, m or "
                        "g)\n",
                        optarg);
                return 2;
            }
            break;
        case 'v':
            cfg.verbose = 1;
            break;
        case OPT_JSON:
            cfg.json = 1;
            break;
        case 'W':
            if (opt_int("locus-pingpong", "-W", optarg, -1, 10000000,
                        &cfg.wait_spin_us))
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        cfg.host = argv[optind++];
    if (optind < argc || cfg.iters < 1) {
        usage(stderr);
        return 2;
    }
    if (cfg.verbose)
        lc_log_set_level(LC_LOG_INFO);
    out = cfg.json ? stderr : stdout;
    int server = cfg.host == NULL;
    int sock = server ? boot_server() : boot_client();

    struct boot mine, theirs;
    memset(&mine, 0, sizeof(mine));
    if (server) {
        if (io_all(sock, &theirs, sizeof(theirs), 0)) {
            fprintf(stderr, "locus-pingpong: bootstrap read failed\n");
            return 1;
        }
        mine.msg_size = theirs.msg_size;
        mine.region = theirs.region;
    } else {
        mine.msg_size = cfg.size ? cfg.size : 1u << 20;
        if (mine.msg_size < 4096)
            mine.msg_size = 4096;
        mine.region = cfg.size ? cfg.size : MAX_RMA;
        if (mine.region < 4096)
            mine.region = 4096;
    }
    if (mine.msg_size > (64u << 20) || mine.region > (1ull << 32)) {
        fprintf(stderr, "locus-pingpong: size too large\n");
        return 1;
    }

    struct xport_opts o = XPORT_OPTS_INIT;
    o.provider = cfg.prov;
    o.node = cfg.bind;
    o.msg_size = mine.msg_size;
    o.rx_count = mine.msg_size > (256u << 10) ? 8 : 64;
    int rc = xport_open(&o, &ep);
    if (rc)
        die("xport_open", rc);
    /* the region the peer reads (server) or reads into (client) */
    size_t region = mine.region;
    if (!server && region * 8 <= MAX_RMA)
        region *= 8; /* room for the reads in flight */
    char *buf = aligned_alloc(4096, (region + 4095) / 4096 * 4096);
    if (!buf)
        return 1;
    memset(buf, 0x3c, region);
    xport_mr *mr = NULL;
    if ((rc = xport_mr_reg(ep, buf, region, &mr)))
        die("xport_mr_reg", rc);
    if ((rc = xport_name(ep, mine.name, sizeof(mine.name))))
        die("xport_name", rc);
    if (server && (rc = xport_mr_rkey(mr, buf, region, &mine.rk)))
        die("xport_mr_rkey", rc);
    if (server) {
        if (io_all(sock, &mine, sizeof(mine), 1))
            return 1;
    } else if (io_all(sock, &mine, sizeof(mine), 1) ||
               io_all(sock, &theirs, sizeof(theirs), 0)) {
        fprintf(stderr, "locus-pingpong: bootstrap exchange failed\n");
        return 1;
    }
    theirs.name[sizeof(theirs.name) - 1] = '\0';
    if ((rc = xport_insert(ep, theirs.name, &peer)))
        die("xport_insert", rc);

    if (cfg.json) {
        doc = bench_report_new("locus-pingpong", xport_provider(ep));
        if (!doc) {
            fprintf(stderr, "locus-pingpong: no memory for the document\n");
            return 1;
        }
        bench_jstr(doc, "role", server ? "server" : "client");
        bench_jstr(doc, "fabric", xport_fabric(ep));
        bench_jstr(doc, "domain", xport_domain(ep));
        bench_jstr(doc, "server", server ? NULL : cfg.host);
        bench_jstr(doc, "bind", cfg.bind);
        bench_jstr(doc, "wait", cfg.wait_spin_us < 0 ? "spin" : "xport_wait");
        if (cfg.wait_spin_us >= 0)
            bench_jint(doc, "wait_spin_us", cfg.wait_spin_us);
        if (!server) {
            bench_jint(doc, "iterations", cfg.iters);
            bench_jstr(doc, "pingpong_figure", "half round trip");
            jping = bench_jarr(doc, "pingpong");
            jread = bench_jarr(doc, "rma_read");
        }
    }
    if (server) {
        run_server(mine.msg_size);
        close(sock);
    } else {
        fprintf(out, "# locus-pingpong: provider %s, fabric %s, domain %s\n",
                xport_provider(ep), xport_fabric(ep), xport_domain(ep));
        if (cfg.wait_spin_us < 0)
            fprintf(out, "# message ping-pong, half round trip (us), "
                         "spin-polling\n");
        else
            fprintf(out,
                    "# message ping-pong, half round trip (us), xport_wait "
                    "after %d us of spinning\n",
                    cfg.wait_spin_us);
        fprintf(out, "%10s %8s %12s %12s %12s\n", "bytes", "iters", "median_us",
                "p99_us", "MB/s");
        char *msg = malloc(mine.msg_size);
        if (!msg)
            return 1;
        memset(msg, 0xa5, mine.msg_size);
        if (cfg.size) {
            ping_size(cfg.size, msg, cfg.iters);
        } else {
            for (size_t s = 8; s <= mine.msg_size; s *= 2) {
                long it = cfg.iters;
                if (s > 65536 && (long)((uint64_t)it * 65536 / s) >= 20)
                    it = (long)((uint64_t)it * 65536 / s);
                else if (s > 65536)
                    it = it < 20 ? it : 20;
                ping_size(s, msg, it);
            }
        }
        free(msg);
        fprintf(out, "# RMA read (fi_read into registered memory), "
                     "reads in flight = window\n");
        fprintf(out, "%10s %8s %8s %12s\n", "bytes", "reads", "window", "MB/s");
        if (cfg.size) {
            read_size(cfg.size, buf, mr, &theirs.rk);
        } else {
            for (size_t s = 4096; s <= MAX_RMA; s *= 4)
                read_size(s, buf, mr, &theirs.rk);
        }
        send_msg(TAG_DONE, "", 0);
        xport_event ev;
        do
            next_event(&ev);
        while (ev.kind != XPORT_EV_RECV);
        xport_release(ep, &ev);
        close(sock);
    }
    xport_mr_close(mr);
    xport_close(ep);
    free(buf);
    if (bench_report_print(doc, stdout)) {
        fprintf(stderr, "locus-pingpong: cannot write the JSON document\n");
        return 1;
    }
    return 0;
}
