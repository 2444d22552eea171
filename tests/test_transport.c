/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transport tests: a real peer process (helper_xport_peer) on tcp;ofi_rxm
 * and shm, across network namespaces, with forced mr_mode duties, and the
 * error paths.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "netns.h"
#include "proc.h"
#include "proto/records.h"
#include "xport.h"

/* Protocol shared with helper_xport_peer.c (keep the two copies equal). */
enum {
    LT_TAG_HELLO = 0x4c0001,
    LT_TAG_ECHO,
    LT_TAG_ECHO_OK,
    LT_TAG_ECHO_BADSRC,
    LT_TAG_BYE,
};
struct lt_hello {
    xport_rkey rk;
    char name[XPORT_NAME_MAX];
};
static inline unsigned char lt_pattern(uint64_t off)
{
    return (unsigned char)((off * 2654435761u) >> 13 ^ off >> 20);
}

#define MSG_SIZE (64u * 1024)
#define BIG (64u << 20)

static pid_t helper = -1;
static lt_netns *nets;
static char *dir;
static char logpath[512];

static void setup(void)
{
    dir = lt_tmpdir();
    cr_assert_not_null(dir);
    snprintf(logpath, sizeof(logpath), "%s/helper.log", dir);
}

static void teardown(void)
{
    if (helper > 0) {
        int st = lt_stop(helper, 2000);
        if (st != 0)
            fprintf(stderr, "helper ended with status %d\n", st);
        helper = -1;
    }
    lt_netns_destroy(nets);
    nets = NULL;
    char *log = dir ? lt_slurp(logpath) : NULL;
    if (log && *log)
        fprintf(stderr, "---- helper log ----\n%s--------------------\n", log);
    free(log);
    lt_rmdir(dir);
    free(dir);
    dir = NULL;
}

/* Next event within timeout_ms; 0 if none came. */
static int next_event(xport_ep *ep, xport_event *ev, int timeout_ms)
{
    uint64_t end = lc_deadline_ms(timeout_ms);
    for (;;) {
        int n = xport_progress(ep, ev, 1);
        cr_assert_geq(n, 0, "xport_progress: %s", locus_last_error());
        if (n == 1)
            return 1;
        if (lc_expired(end))
            return 0;
        int w = xport_wait(&ep, 1, -1, 50, lc_remaining_ms(end));
        cr_assert_geq(w, 0, "xport_wait: %s", locus_last_error());
    }
}

static void expect_recv(xport_ep *ep, xport_event *ev, uint64_t tag,
                        const char *what)
{
    cr_assert(next_event(ep, ev, 30000), "no %s from the helper within 30 s",
              what);
    cr_assert_eq(ev->kind, XPORT_EV_RECV, "%s: got event kind %d status %s",
                 what, ev->kind, locus_errname(ev->status));
    cr_assert_eq(ev->tag, tag, "%s: tag 0x%llx, expected 0x%llx", what,
                 (unsigned long long)ev->tag, (unsigned long long)tag);
}

static void check_pattern(const unsigned char *p, uint64_t off, size_t len,
                          const char *what)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != lt_pattern(off + i))
            cr_assert_fail("%s: byte %zu (remote offset %llu) is 0x%02x, "
                           "expected 0x%02x",
                           what, i, (unsigned long long)(off + i), p[i],
                           lt_pattern(off + i));
}

struct run {
    const char *prov;
    const char *node;        /* this process's bind address */
    const char *helper_node; /* the helper's */
    const char *helper_ns;   /* namespace to run the helper in */
    uint64_t mr_add;
};

static xport_ep *open_ep(const char *prov, const char *node, uint64_t mr_add)
{
    struct xport_opts o = XPORT_OPTS_INIT;
    o.provider = prov;
    o.node = node;
    o.msg_size = MSG_SIZE;
    o.rx_count = 32;
    o.mr_mode_add = mr_add;
    o.timeout_ms = 5000;
    xport_ep *ep = NULL;
    int rc = xport_open(&o, &ep);
    cr_assert_eq(rc, 0, "xport_open(%s): %s: %s", prov, locus_errname(rc),
                 locus_last_error());
    return ep;
}

static pid_t start_helper(const struct run *r, const char *test_name)
{
    char mr[32], msz[32];
    snprintf(mr, sizeof(mr), "0x%llx", (unsigned long long)r->mr_add);
    snprintf(msz, sizeof(msz), "%u", MSG_SIZE);
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)lt_helper("helper_xport_peer");
    argv[n++] = "-p";
    argv[n++] = (char *)r->prov;
    if (r->helper_node) {
        argv[n++] = "-b";
        argv[n++] = (char *)r->helper_node;
    }
    argv[n++] = "-m";
    argv[n++] = mr;
    argv[n++] = "-s";
    argv[n++] = msz;
    argv[n++] = (char *)test_name;
    argv[n] = NULL;
    pid_t pid = lt_spawn_in(r->helper_ns, NULL, argv, logpath);
    cr_assert_gt(pid, 0, "cannot start %s", argv[0]);
    return pid;
}

/* The whole conversation with one helper: HELLO from a not yet inserted
 * sender, echoes from an inserted one, reads of its region, BYE. */
static void exchange(const struct run *r)
{
    xport_ep *ep = open_ep(r->prov, r->node, r->mr_add);
    cr_assert_str_eq(xport_provider(ep), r->prov);
    char name[XPORT_NAME_MAX];
    cr_assert_eq(xport_name(ep, name, sizeof(name)), 0, "%s",
                 locus_last_error());
    helper = start_helper(r, name);

    xport_event ev;
    expect_recv(ep, &ev, LT_TAG_HELLO, "HELLO");
    cr_assert_eq(ev.len, sizeof(struct lt_hello));
    cr_expect_eq(ev.peer, XPORT_ADDR_UNKNOWN,
                 "%s: a sender not yet inserted must be reported as "
                 "XPORT_ADDR_UNKNOWN, got %llu",
                 r->prov, (unsigned long long)ev.peer);
    struct lt_hello hello;
    memcpy(&hello, ev.data, sizeof(hello));
    xport_release(ep, &ev);
    hello.name[sizeof(hello.name) - 1] = '\0';

    xport_addr h = XPORT_ADDR_UNKNOWN, h2 = XPORT_ADDR_UNKNOWN;
    cr_assert_eq(xport_insert(ep, hello.name, &h), 0, "insert %s: %s",
                 hello.name, locus_last_error());
    cr_assert_eq(xport_insert(ep, hello.name, &h2), 0);
    cr_assert_eq(h, h2, "the same address inserted twice: %llu and %llu",
                 (unsigned long long)h, (unsigned long long)h2);
    cr_assert_lt(h, 1024, "handles are small integers (FI_AV_TABLE)");

    /* echoes: sizes around the inject limit and up to msg_size */
    static const size_t sizes[] = {1, 8, 63, 64, 65, 4096, 4097, MSG_SIZE};
    unsigned char *msg = malloc(MSG_SIZE);
    cr_assert_not_null(msg);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t len = sizes[k];
        for (size_t i = 0; i < len; i++)
            msg[i] = lt_pattern(i + 977 * k);
        int rc;
        if (len >= 3 && k % 2) { /* gather from three pieces */
            struct iovec iov[3] = {{msg, 1},
                                   {msg + 1, len / 2},
                                   {msg + 1 + len / 2, len - 1 - len / 2}};
            rc = xport_sendv(ep, h, LT_TAG_ECHO, iov, 3, lc_deadline_ms(10000));
        } else {
            rc =
                xport_send(ep, h, LT_TAG_ECHO, msg, len, lc_deadline_ms(10000));
        }
        cr_assert_eq(rc, 0, "send of %zu bytes: %s", len, locus_last_error());
        expect_recv(ep, &ev, LT_TAG_ECHO_OK, "ECHO reply");
        cr_expect_eq(ev.peer, h,
                     "%s: a reply from an inserted peer must carry its "
                     "handle %llu, got %llu",
                     r->prov, (unsigned long long)h,
                     (unsigned long long)ev.peer);
        cr_assert_eq(ev.len, len, "echo of %zu bytes came back with %zu", len,
                     ev.len);
        check_pattern(ev.data, 977 * k, len, "echo");
        xport_release(ep, &ev);
    }
    free(msg);

    /* reads of the helper's region */
    unsigned char *dst = aligned_alloc(4096, BIG);
    cr_assert_not_null(dst);
    xport_mr *lmr = NULL;
    cr_assert_eq(xport_mr_reg(ep, dst, BIG, &lmr), 0, "%s", locus_last_error());
    struct {
        uint64_t off;
        size_t len;
        int use_mr;
    } reads[] = {{12345, 1, 0},
                 {4095, 4096, 0},
                 {0, BIG, 1},
                 {hello.rk.len - 4096, 4096, 1}};
    for (size_t k = 0; k < sizeof(reads) / sizeof(reads[0]); k++) {
        memset(dst, 0, reads[k].len);
        int rc =
            xport_read(ep, h, dst, reads[k].len, reads[k].use_mr ? lmr : NULL,
                       &hello.rk, reads[k].off, &reads[k]);
        cr_assert_eq(rc, 0, "xport_read of %zu bytes: %s", reads[k].len,
                     locus_last_error());
        cr_assert(next_event(ep, &ev, 30000), "read of %zu bytes: no event",
                  reads[k].len);
        cr_assert_eq(ev.kind, XPORT_EV_READ_DONE,
                     "read of %zu bytes: event %d status %s (%s)", reads[k].len,
                     ev.kind, locus_errname(ev.status), locus_last_error());
        cr_assert_eq(ev.ctx, &reads[k]);
        cr_assert_eq(ev.len, reads[k].len);
        cr_assert_eq(ev.peer, h);
        check_pattern(dst, reads[k].off, reads[k].len, "read");
    }
    xport_mr_close(lmr);
    free(dst);

    cr_assert_eq(xport_send(ep, h, LT_TAG_BYE, "", 0, lc_deadline_ms(5000)), 0,
                 "%s", locus_last_error());
    expect_recv(ep, &ev, LT_TAG_BYE, "BYE");
    xport_release(ep, &ev);
    int st = lt_wait(helper, 10000);
    helper = -1;
    cr_assert_eq(st, 0, "helper exit status %d", st);
    xport_close(ep);
}

TestSuite(transport, .init = setup, .fini = teardown, .timeout = 120);

Test(transport, tcp_messages_and_reads)
{
    struct run r = {"tcp;ofi_rxm", "127.0.0.1", "127.0.0.1", NULL, 0};
    exchange(&r);
}

Test(transport, shm_messages_and_reads)
{
    struct run r = {"shm", NULL, NULL, NULL, 0};
    exchange(&r);
}

/* A shm peer killed with kill -9 may die inside the provider holding its
 * region's lock, and the next send to it would spin for ever (a killed
 * worker wedged the scheduler so).  The peer published that it lives
 * (xport_alive): a send or read after its death fails at once with
 * LOCUS_ECLOSED, without entering the provider. */
Test(transport, shm_send_to_a_killed_peer_fails_at_once)
{
    struct run r = {"shm", NULL, NULL, NULL, 0};
    xport_ep *ep = open_ep(r.prov, r.node, r.mr_add);
    char name[XPORT_NAME_MAX];
    cr_assert_eq(xport_name(ep, name, sizeof(name)), 0, "%s",
                 locus_last_error());
    helper = start_helper(&r, name);
    xport_event ev;
    expect_recv(ep, &ev, LT_TAG_HELLO, "HELLO");
    struct lt_hello hello;
    memcpy(&hello, ev.data, sizeof(hello));
    xport_release(ep, &ev);
    hello.name[sizeof(hello.name) - 1] = '\0';
    xport_addr h;
    cr_assert_eq(xport_insert(ep, hello.name, &h), 0, "%s", locus_last_error());
    char one = 1;
    cr_assert_eq(xport_send(ep, h, LT_TAG_ECHO, &one, 1, lc_deadline_ms(5000)),
                 0, "%s", locus_last_error());
    expect_recv(ep, &ev, LT_TAG_ECHO_OK, "ECHO reply");
    xport_release(ep, &ev);

    cr_assert_eq(kill(helper, SIGKILL), 0);
    cr_assert_eq(lt_wait(helper, 5000), 128 + SIGKILL);
    helper = -1;
    uint64_t t0 = lc_now_ns();
    int rc = xport_send(ep, h, LT_TAG_ECHO, &one, 1, lc_deadline_ms(5000));
    double ms = (double)(lc_now_ns() - t0) / 1e6;
    cr_assert_eq(rc, LOCUS_ECLOSED, "send to the dead peer: %s (%s)",
                 locus_errname(rc), locus_last_error());
    cr_assert(strstr(locus_last_error(), "has exited"), "message: %s",
              locus_last_error());
    cr_assert_lt(ms, 100.0, "the send took %.1f ms", ms);
    unsigned char buf[64];
    rc = xport_read(ep, h, buf, sizeof(buf), NULL, &hello.rk, 0, NULL);
    cr_assert_eq(rc, LOCUS_ECLOSED, "read from the dead peer: %s",
                 locus_errname(rc));
    xport_close(ep);
}

Test(transport, tcp_across_network_namespaces)
{
    char why[256];
    if (!lt_netns_available(why))
        cr_skip_test("network namespaces unavailable: %s", why);
    nets = lt_netns_create(2, "10.251.7");
    cr_assert_not_null(nets, "creating two network namespaces failed");
    cr_assert_eq(lt_netns_enter(nets, 0), 0, "setns: %m");
    struct run r = {"tcp;ofi_rxm", lt_netns_addr(nets, 0),
                    lt_netns_addr(nets, 1), lt_netns_name(nets, 1), 0};
    exchange(&r);
}

/* Three namespaces joined by a bridge (the netns harness's n > 2 case):
 * the test in the first, the helper in the last. */
Test(transport, tcp_across_bridged_namespaces)
{
    char why[256];
    if (!lt_netns_available(why))
        cr_skip_test("network namespaces unavailable: %s", why);
    nets = lt_netns_create(3, "10.251.8");
    cr_assert_not_null(nets, "creating three network namespaces failed");
    cr_assert_eq(lt_netns_count(nets), 3);
    cr_assert_str_eq(lt_netns_addr(nets, 2), "10.251.8.3");
    cr_assert_eq(lt_netns_enter(nets, 0), 0, "setns: %m");
    struct run r = {"tcp;ofi_rxm", lt_netns_addr(nets, 0),
                    lt_netns_addr(nets, 2), lt_netns_name(nets, 2), 0};
    exchange(&r);
}

Test(transport, tcp_forced_mr_local)
{
    struct run r = {"tcp;ofi_rxm", "127.0.0.1", "127.0.0.1", NULL,
                    XPORT_MR_LOCAL};
    exchange(&r);
}

Test(transport, tcp_forced_mr_prov_key)
{
    struct run r = {"tcp;ofi_rxm", "127.0.0.1", "127.0.0.1", NULL,
                    XPORT_MR_PROV_KEY};
    exchange(&r);
}

Test(transport, tcp_forced_offsets_and_all)
{
    struct run r = {"tcp;ofi_rxm", "127.0.0.1", "127.0.0.1", NULL,
                    XPORT_MR_OFFSET | XPORT_MR_LOCAL | XPORT_MR_PROV_KEY};
    exchange(&r);
}

Test(transport, shm_forced_offsets_local_prov_key)
{
    struct run r = {"shm", NULL, NULL, NULL,
                    XPORT_MR_OFFSET | XPORT_MR_LOCAL | XPORT_MR_PROV_KEY};
    exchange(&r);
}

/* XPORT_MR_ENDPOINT cannot be forced on tcp;ofi_rxm 1.17 (fi_mr_bind is not
 * implemented): then the failure must say so; where it can, the exchange
 * must work. */
Test(transport, tcp_forced_mr_endpoint)
{
    struct xport_opts o = XPORT_OPTS_INIT;
    o.provider = "tcp;ofi_rxm";
    o.mr_mode_add = XPORT_MR_ENDPOINT;
    xport_ep *ep = NULL;
    lc_clearerr();
    int rc = xport_open(&o, &ep);
    if (rc == 0) {
        xport_close(ep);
        struct run r = {"tcp;ofi_rxm", "127.0.0.1", "127.0.0.1", NULL,
                        XPORT_MR_ENDPOINT};
        exchange(&r);
        return;
    }
    cr_assert_eq(rc, LOCUS_EFABRIC, "got %s", locus_errname(rc));
    cr_assert(strstr(locus_last_error(), "XPORT_MR_ENDPOINT"), "%s",
              locus_last_error());
}

/* ---- errors ----------------------------------------------------------- */

static void expect_msg(const char *needle)
{
    const char *m = locus_last_error();
    cr_assert(m && *m, "locus_last_error() is empty");
    cr_assert(strstr(m, needle), "message '%s' does not mention '%s'", m,
              needle);
}

Test(transport, unknown_provider)
{
    struct xport_opts o = XPORT_OPTS_INIT;
    o.provider = "nosuchprov";
    xport_ep *ep = (xport_ep *)1;
    int rc = xport_open(&o, &ep);
    cr_assert_eq(rc, LOCUS_ENOPROV, "got %s", locus_errname(rc));
    cr_assert_null(ep);
    expect_msg("nosuchprov");
    expect_msg("fi_getinfo");
}

Test(transport, garbage_addresses)
{
    xport_ep *ep = open_ep("tcp;ofi_rxm", "127.0.0.1", 0);
    char name[XPORT_NAME_MAX];
    cr_assert_eq(xport_name(ep, name, sizeof(name)), 0);
    const char *bad[] = {"",
                         "nonsense",
                         "://00",
                         "tcp;ofi_rxm://zz",
                         "tcp;ofi_rxm://0",
                         "tcp;ofi_rxm://0200",
                         "shm://66695f73686d3a2f2f3100"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        xport_addr a;
        lc_clearerr();
        int rc = xport_insert(ep, bad[i], &a);
        cr_expect_eq(rc, LOCUS_EADDR, "'%s': got %s", bad[i],
                     locus_errname(rc));
        expect_msg("address");
    }
    char prov[64];
    cr_assert_eq(xport_name_provider(name, prov, sizeof(prov)), 0);
    cr_assert_str_eq(prov, "tcp;ofi_rxm");
    cr_assert_eq(xport_name_provider("junk", prov, sizeof(prov)), LOCUS_EADDR);
    xport_close(ep);
}

/* A port on which nobody listens: bound, then closed. */
static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    return ntohs(a.sin_port);
}

Test(transport, unreachable_peer_fails_within_deadline)
{
    /* a well-formed address: that of an endpoint opened and closed */
    char port[16], dead[XPORT_NAME_MAX];
    snprintf(port, sizeof(port), "%d", free_port());
    struct xport_opts o = XPORT_OPTS_INIT;
    o.provider = "tcp;ofi_rxm";
    o.service = port;
    o.timeout_ms = 2000;
    xport_ep *gone = NULL;
    cr_assert_eq(xport_open(&o, &gone), 0, "%s", locus_last_error());
    cr_assert_eq(xport_name(gone, dead, sizeof(dead)), 0);
    xport_close(gone);

    o.service = NULL;
    xport_ep *ep = NULL;
    cr_assert_eq(xport_open(&o, &ep), 0, "%s", locus_last_error());
    xport_addr a;
    cr_assert_eq(xport_insert(ep, dead, &a), 0, "%s", locus_last_error());

    /* send: an error by the deadline, as a return code or an event */
    static char big[8192];
    size_t lens[] = {8, sizeof(big)};
    for (int k = 0; k < 2; k++) {
        uint64_t t0 = lc_now_ns();
        int rc = xport_send(ep, a, 7, big, lens[k], lc_deadline_ms(1500));
        xport_event ev = {0};
        if (rc == 0) {
            int got = next_event(ep, &ev, 3000);
            cr_assert(got,
                      "send of %zu bytes to a dead peer: neither an "
                      "error nor an event",
                      lens[k]);
            cr_assert_eq(ev.kind, XPORT_EV_SEND_ERROR);
            rc = ev.status;
        }
        cr_assert(strstr(locus_last_error(), "send"),
                  "message '%s' does not name the send", locus_last_error());
        double s = (double)(lc_now_ns() - t0) / 1e9;
        cr_assert(rc == LOCUS_ETIMEDOUT || rc == LOCUS_ECLOSED ||
                      rc == LOCUS_EFABRIC,
                  "send to a dead peer: %s", locus_errname(rc));
        cr_assert_lt(s, 4.5, "send took %.1f s", s);
    }

    /* read: refused at once or a READ_ERROR event within timeout_ms (the
     * key is that of a region here: well-formed, and the peer is gone) */
    static char region[1 << 20];
    xport_mr *mr;
    cr_assert_eq(xport_mr_reg(ep, region, sizeof(region), &mr), 0, "%s",
                 locus_last_error());
    xport_rkey rk;
    cr_assert_eq(xport_mr_rkey(mr, region, sizeof(region), &rk), 0);
    static char dst[65536];
    uint64_t t0 = lc_now_ns();
    int rc = xport_read(ep, a, dst, sizeof(dst), NULL, &rk, 0, dst);
    if (rc == 0) {
        xport_event ev = {0};
        cr_assert(next_event(ep, &ev, 10000), "read from a dead peer: no "
                                              "event");
        cr_assert_eq(ev.kind, XPORT_EV_READ_ERROR, "kind %d", ev.kind);
        cr_assert_eq(ev.ctx, dst);
        rc = ev.status;
    }
    double s = (double)(lc_now_ns() - t0) / 1e9;
    cr_assert(rc == LOCUS_ETIMEDOUT || rc == LOCUS_ECLOSED ||
                  rc == LOCUS_EFABRIC,
              "read from a dead peer: %s", locus_errname(rc));
    cr_assert(strstr(locus_last_error(), "fi_read"),
              "message '%s' does not name the read", locus_last_error());
    cr_assert_lt(s, 5.0, "read took %.1f s (timeout_ms 2000)", s);
    xport_close(ep);
    xport_mr_close(mr);
}

Test(transport, read_beyond_region_is_erange)
{
    xport_ep *ep = open_ep("tcp;ofi_rxm", "127.0.0.1", 0);
    char name[XPORT_NAME_MAX];
    cr_assert_eq(xport_name(ep, name, sizeof(name)), 0);
    xport_addr self;
    cr_assert_eq(xport_insert(ep, name, &self), 0);
    static char region[8192], dst[8192];
    xport_mr *mr;
    cr_assert_eq(xport_mr_reg(ep, region, sizeof(region), &mr), 0);
    xport_rkey rk;
    lc_clearerr();
    cr_assert_eq(xport_mr_rkey(mr, region + 4096, 4097, &rk), LOCUS_ERANGE);
    expect_msg("outside");
    cr_assert_eq(xport_mr_rkey(mr, region + 4096, 4096, &rk), 0);
    cr_assert_eq(rk.len, 4096);
    lc_clearerr();
    cr_assert_eq(xport_read(ep, self, dst, 100, NULL, &rk, 4000, NULL),
                 LOCUS_ERANGE);
    expect_msg("beyond");
    lc_clearerr();
    cr_assert_eq(xport_read(ep, self, dst, 1, NULL, &rk, UINT64_MAX, NULL),
                 LOCUS_ERANGE);
    expect_msg("beyond");
    xport_event ev;
    cr_assert_eq(xport_progress(ep, &ev, 1), 0, "no event for a refused read");

    /* a read of the whole rkey, to itself, works */
    memset(region, 0x5a, sizeof(region));
    cr_assert_eq(xport_read(ep, self, dst, 4096, NULL, &rk, 0, dst), 0, "%s",
                 locus_last_error());
    cr_assert(next_event(ep, &ev, 10000));
    cr_assert_eq(ev.kind, XPORT_EV_READ_DONE);
    cr_assert_eq(dst[4095], 0x5a);
    xport_mr_close(mr);
    xport_close(ep);
}

Test(transport, message_larger_than_buffers_is_emsgsize)
{
    xport_ep *ep = open_ep("tcp;ofi_rxm", "127.0.0.1", 0);
    char name[XPORT_NAME_MAX];
    cr_assert_eq(xport_name(ep, name, sizeof(name)), 0);
    xport_addr self;
    cr_assert_eq(xport_insert(ep, name, &self), 0);
    cr_assert_eq(xport_msg_size(ep), MSG_SIZE);
    char *big = calloc(1, MSG_SIZE + 1);
    lc_clearerr();
    int rc = xport_send(ep, self, 1, big, MSG_SIZE + 1, lc_deadline_ms(1000));
    cr_assert_eq(rc, LOCUS_EMSGSIZE, "got %s", locus_errname(rc));
    expect_msg("msg_size");
    struct iovec iov[2] = {{big, MSG_SIZE}, {big, 1}};
    cr_assert_eq(xport_sendv(ep, self, 1, iov, 2, lc_deadline_ms(1000)),
                 LOCUS_EMSGSIZE);
    /* exactly msg_size is fine, to itself */
    cr_assert_eq(xport_send(ep, self, 1, big, MSG_SIZE, lc_deadline_ms(5000)),
                 0, "%s", locus_last_error());
    xport_event ev;
    cr_assert(next_event(ep, &ev, 10000));
    cr_assert_eq(ev.kind, XPORT_EV_RECV);
    cr_assert_eq(ev.len, MSG_SIZE);
    cr_assert_eq(ev.peer, self);
    xport_release(ep, &ev);
    free(big);
    xport_close(ep);
}

/* ---- several endpoints, waiting ------------------------------------------ */

Test(transport, tcp_and_shm_endpoints_in_one_process)
{
    xport_ep *eps[4] = {open_ep("tcp;ofi_rxm", "127.0.0.1", 0),
                        open_ep("tcp;ofi_rxm", "127.0.0.1", 0),
                        open_ep("shm", NULL, 0), open_ep("shm", NULL, 0)};
    for (int pair = 0; pair < 2; pair++) {
        xport_ep *a = eps[2 * pair], *b = eps[2 * pair + 1];
        char nb[XPORT_NAME_MAX], na[XPORT_NAME_MAX];
        cr_assert_eq(xport_name(b, nb, sizeof(nb)), 0);
        cr_assert_eq(xport_name(a, na, sizeof(na)), 0);
        cr_assert_str_neq(na, nb, "two endpoints share an address");
        xport_addr to_b;
        cr_assert_eq(xport_insert(a, nb, &to_b), 0, "%s", locus_last_error());
        /* One thread drives both ends: a's send waits for a connection
         * that only b's progress accepts, so give b turns in between. */
        xport_event ev;
        int got = 0, rc;
        uint64_t end = lc_deadline_ms(10000);
        while ((rc = xport_send(a, to_b, 42, "hello", 6, lc_deadline_ms(20))) ==
                   LOCUS_ETIMEDOUT &&
               !lc_expired(end))
            got = xport_progress(b, &ev, 1);
        cr_assert_eq(rc, 0, "%s", locus_last_error());
        /* wait on all four endpoints at once; a must progress too */
        while (!got && !lc_expired(end)) {
            cr_assert_geq(xport_wait(eps, 4, -1, 0, 100), 0);
            xport_event junk;
            cr_assert_eq(xport_progress(a, &junk, 1), 0);
            got = xport_progress(b, &ev, 1);
        }
        cr_assert_eq(got, 1,
                     "%s: message between two endpoints of one "
                     "process did not arrive",
                     xport_provider(a));
        cr_assert_eq(ev.tag, 42);
        cr_assert_str_eq(ev.data, "hello");
        cr_assert_eq(ev.peer, XPORT_ADDR_UNKNOWN);
        xport_release(b, &ev);
    }

    /* idle: xport_wait blocks in the kernel until its timeout, without
     * burning a core or waking every millisecond (tcp on the completion
     * queue's wait fd; shm, whose provider has none, on the doorbell the
     * plugin made) */
    for (int k = 0; k < 2; k++) {
        xport_ep *set[2] = {eps[2 * k], eps[2 * k + 1]};
        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        uint64_t t0 = lc_now_ns();
        cr_assert_eq(xport_wait(set, 2, -1, 100, 300), 0);
        double ms = (double)(lc_now_ns() - t0) / 1e6;
        getrusage(RUSAGE_SELF, &r1);
        double cpu_ms = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec +
                                 r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) *
                            1e3 +
                        (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec +
                                 r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) /
                            1e3;
        cr_assert(ms >= 250 && ms < 2000,
                  "%s: idle wait of 300 ms took %.0f "
                  "ms",
                  xport_provider(set[0]), ms);
        cr_assert_lt(cpu_ms, 200,
                     "%s: idle wait of 300 ms used %.0f ms of "
                     "CPU",
                     xport_provider(set[0]), cpu_ms);
        long sw = r1.ru_nvcsw - r0.ru_nvcsw;
        cr_log_info("%s: idle wait of 300 ms: %ld voluntary switches",
                    xport_provider(set[0]), sw);
        cr_assert_lt(sw, 60,
                     "%s: an idle wait of 300 ms slept %ld times: it "
                     "sleeps in steps instead of blocking on a wait fd",
                     xport_provider(set[0]), sw);
        cr_assert(xport_has_wait_fd(set[0]) && xport_has_wait_fd(set[1]));
    }
    uint64_t t0;
    double ms;
    int efd = eventfd(1, 0);
    t0 = lc_now_ns();
    cr_assert_eq(xport_wait(eps, 4, efd, 0, 5000), 1);
    ms = (double)(lc_now_ns() - t0) / 1e6;
    cr_assert_lt(ms, 1000, "wake fd took %.0f ms", ms);
    close(efd);
    for (int i = 0; i < 4; i++)
        xport_close(eps[i]);
}

/* ---- the transport's own names for fabric things ------------------------ */

Test(transport, mr_mode_add_takes_only_xport_bits)
{
    struct xport_opts o = XPORT_OPTS_INIT;
    o.provider = "tcp;ofi_rxm";
    o.mr_mode_add = 1ull << 40; /* no XPORT_MR_* bit */
    xport_ep *ep = NULL;
    lc_clearerr();
    cr_assert_eq(xport_open(&o, &ep), LOCUS_EINVAL);
    cr_assert_null(ep);
    expect_msg("XPORT_MR_LOCAL");
}

/* A caller built against an older, shorter xport_opts (no timeout_ms, no
 * local): the missing tail takes its defaults. */
Test(transport, older_opts_size_gets_defaults)
{
    struct xport_opts o = XPORT_OPTS_INIT;
    o.provider = "tcp;ofi_rxm";
    o.timeout_ms = -12345; /* beyond the caller's size: must not be read */
    o.local = 1;           /* likewise */
    o.size = offsetof(struct xport_opts, timeout_ms);
    xport_ep *ep = NULL;
    cr_assert_eq(xport_open(&o, &ep), 0, "%s", locus_last_error());
    cr_assert_str_eq(xport_provider(ep), "tcp;ofi_rxm");
    xport_close(ep);
    o.size = offsetof(struct xport_opts, timeout_ms) - 1;
    cr_assert_eq(xport_open(&o, &ep), LOCUS_EINVAL);
}

/* The runtime asks for "the provider for peers on this host" and never
 * names it. */
Test(transport, local_endpoint_is_the_transports_choice)
{
    struct xport_opts o = XPORT_OPTS_INIT;
    o.local = 1;
    xport_ep *a = NULL, *b = NULL;
    cr_assert_eq(xport_open(&o, &a), 0, "%s", locus_last_error());
    cr_assert_eq(xport_open(&o, &b), 0, "%s", locus_last_error());
    cr_assert_str_eq(xport_provider(a), "shm");
    char na[XPORT_NAME_MAX], nb[XPORT_NAME_MAX];
    cr_assert_eq(xport_name(a, na, sizeof(na)), 0);
    cr_assert_eq(xport_name(b, nb, sizeof(nb)), 0);
    xport_addr to_b, to_b2;
    cr_assert_eq(xport_insert(a, nb, &to_b), 0, "%s", locus_last_error());
    cr_assert_eq(xport_insert(a, nb, &to_b2), 0);
    cr_assert_eq(to_b, to_b2, "the same name inserted twice");
    int rc, got = 0;
    xport_event ev;
    uint64_t end = lc_deadline_ms(10000);
    while ((rc = xport_send(a, to_b, 9, "local", 6, lc_deadline_ms(20))) ==
               LOCUS_ETIMEDOUT &&
           !lc_expired(end))
        got = xport_progress(b, &ev, 1);
    cr_assert_eq(rc, 0, "%s", locus_last_error());
    while (!got && !lc_expired(end)) {
        xport_wait(&b, 1, -1, 0, 100);
        xport_event junk;
        xport_progress(a, &junk, 1);
        got = xport_progress(b, &ev, 1);
    }
    cr_assert_eq(got, 1, "no message between two local endpoints");
    cr_assert_str_eq(ev.data, "local");
    xport_release(b, &ev);
    xport_close(a);
    xport_close(b);

    o.provider = "tcp;ofi_rxm";
    lc_clearerr();
    cr_assert_eq(xport_open(&o, &a), LOCUS_EINVAL);
    expect_msg("local");
}

/* The doorbell lives in this user's private directory, its address in the
 * endpoint's name; bells of dead processes are swept when one is made. */
Test(transport, doorbell_in_private_directory_and_dead_bells_swept)
{
    char xdg[600], bells[700], stale[800];
    snprintf(xdg, sizeof(xdg), "%s/run", dir);
    cr_assert_eq(mkdir(xdg, 0700), 0);
    setenv("XDG_RUNTIME_DIR", xdg, 1);
    snprintf(bells, sizeof(bells), "%s/locus", xdg);
    cr_assert_eq(mkdir(bells, 0700), 0);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    cr_assert_eq(waitpid(dead, NULL, 0), dead);
    snprintf(stale, sizeof(stale), "%s/bell-%d-0", bells, (int)dead);
    FILE *f = fopen(stale, "w");
    cr_assert_not_null(f);
    fclose(f);

    struct xport_opts o = XPORT_OPTS_INIT;
    o.local = 1;
    xport_ep *ep = NULL;
    cr_assert_eq(xport_open(&o, &ep), 0, "%s", locus_last_error());
    cr_assert_neq(access(stale, F_OK), 0, "the dead pid's bell %s is left",
                  stale);
    char name[XPORT_NAME_MAX];
    cr_assert_eq(xport_name(ep, name, sizeof(name)), 0);
    const char *bell = strstr(name, "#bell=");
    cr_assert(bell, "no doorbell in the local endpoint's name %s", name);
    bell += 6;
    cr_assert_eq(strncmp(bell, bells, strlen(bells)), 0,
                 "doorbell %s is not in %s", bell, bells);
    struct stat st;
    cr_assert_eq(stat(bell, &st), 0, "%s: %m", bell);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert(xport_has_wait_fd(ep));
    char path[128];
    snprintf(path, sizeof(path), "%s", bell);
    xport_close(ep);
    cr_assert_neq(access(path, F_OK), 0, "closing left the doorbell %s", path);

    /* a directory others can enter: abstract sockets, with a warning */
    cr_assert_eq(chmod(bells, 0755), 0);
    cr_assert_eq(xport_open(&o, &ep), 0, "%s", locus_last_error());
    cr_assert_eq(xport_name(ep, name, sizeof(name)), 0);
    bell = strstr(name, "#bell=");
    cr_assert(bell && bell[6] != '/' && bell[6] != '\0',
              "with %s mode 0755 the doorbell is %s", bells, name);
    cr_assert(xport_has_wait_fd(ep));
    xport_close(ep);
}

/* A doorbell is honoured only in a local endpoint's name: a net peer's
 * name with one is malformed, as before doorbells moved here. */
Test(transport, net_name_with_doorbell_is_refused)
{
    xport_ep *ep = open_ep("tcp;ofi_rxm", "127.0.0.1", 0);
    char name[XPORT_NAME_MAX + 32];
    cr_assert_eq(xport_name(ep, name, XPORT_NAME_MAX), 0);
    strcat(name, "#bell=/tmp/x");
    xport_addr a;
    lc_clearerr();
    cr_assert_eq(xport_insert(ep, name, &a), LOCUS_EADDR);
    xport_close(ep);
}

/* The remote key is the plugin's: a blob of its own size, carried by the
 * DATA record as a length and bytes; a length out of bounds is a protocol
 * error, never a crash. */
Test(transport, rkey_is_opaque_on_the_wire)
{
    xport_ep *ep = open_ep("tcp;ofi_rxm", "127.0.0.1", 0);
    char name[XPORT_NAME_MAX];
    cr_assert_eq(xport_name(ep, name, sizeof(name)), 0);
    xport_addr self;
    cr_assert_eq(xport_insert(ep, name, &self), 0);
    static char region[8192], dst[8192];
    for (size_t i = 0; i < sizeof(region); i++)
        region[i] = (char)lt_pattern(i);
    xport_mr *mr;
    cr_assert_eq(xport_mr_reg(ep, region, sizeof(region), &mr), 0);
    rec_data d = {0};
    d.req = 7;
    d.nbytes = 4096;
    d.mode = DATA_RMA;
    cr_assert_eq(xport_mr_rkey(mr, region + 4096, 4096, &d.rk), 0);
    cr_assert(d.rk.size > 0 && d.rk.size <= XPORT_RKEY_MAX);

    /* through the codec and back, then a read with what came out */
    wire_wr w;
    wire_wr_init(&w);
    rec_put_data(&w, &d);
    cr_assert_eq(w.err, 0);
    wire_rd all, r;
    int type;
    wire_rd_init(&all, w.buf, w.len);
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    rec_data got;
    cr_assert_eq(rec_get_data(&r, &got), 0, "%s", locus_last_error());
    cr_assert_eq(got.rk.size, d.rk.size);
    cr_assert_eq(got.rk.len, 4096);
    cr_assert_eq(memcmp(got.rk.key, d.rk.key, d.rk.size), 0);
    cr_assert_eq(xport_read(ep, self, dst, 4096, NULL, &got.rk, 0, dst), 0,
                 "%s", locus_last_error());
    xport_event ev;
    cr_assert(next_event(ep, &ev, 10000));
    cr_assert_eq(ev.kind, XPORT_EV_READ_DONE, "%s", locus_errname(ev.status));
    check_pattern((unsigned char *)dst, 4096, 4096, "read with a decoded key");

    /* a key of another size is not this plugin's */
    xport_rkey bad = got.rk;
    bad.size = got.rk.size - 1;
    lc_clearerr();
    cr_assert_eq(xport_read(ep, self, dst, 16, NULL, &bad, 0, NULL),
                 LOCUS_EINVAL);
    expect_msg("remote key");

    /* key lengths 0, XPORT_RKEY_MAX + 1, huge, and past the record */
    uint32_t lens[] = {0, XPORT_RKEY_MAX + 1, 0xffffffffu, 40};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        wire_wr_reset(&w);
        wire_rec_begin(&w, REC_DATA);
        wire_put_u64(&w, 7);
        wire_put_i32(&w, 0);
        wire_put_u64(&w, 16);
        wire_put_u8(&w, DATA_RMA);
        wire_put_u64(&w, 16);
        wire_put_u32(&w, lens[k]);
        uint8_t junk[XPORT_RKEY_MAX + 1] = {0};
        size_t present = lens[k] == 40             ? 20
                         : lens[k] <= sizeof(junk) ? lens[k]
                                                   : 8;
        wire_put_raw(&w, junk, present);
        wire_rec_end(&w);
        wire_rd_init(&all, w.buf, w.len);
        cr_assert_eq(wire_next(&all, &type, &r), 1);
        lc_clearerr();
        cr_assert_eq(rec_get_data(&r, &got), LOCUS_EPROTO,
                     "key length %u accepted", lens[k]);
        expect_msg("DATA");
    }
    /* a region shorter than the value it should hold */
    d.nbytes = 4097;
    wire_wr_reset(&w);
    rec_put_data(&w, &d);
    wire_rd_init(&all, w.buf, w.len);
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_assert_eq(rec_get_data(&r, &got), LOCUS_EPROTO);
    wire_wr_free(&w);
    xport_mr_close(mr);
    xport_close(ep);
}

Test(transport, list_providers)
{
    char buf[8192];
    int n = xport_list_providers(buf, sizeof(buf));
    cr_assert_gt(n, 0, "%s", locus_last_error());
    cr_assert(strstr(buf, "tcp;ofi_rxm "), "%s", buf);
    cr_assert(strstr(buf, "shm "), "%s", buf);
}
