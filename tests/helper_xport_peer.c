/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Peer process of tests/test_transport.c.
 *
 *   helper_xport_peer -p PROVIDER [-b NODE] [-m MR_MODE_ADD] [-s MSG_SIZE]
 *                     [-R REGION_BYTES] [-t SECONDS] TEST_ADDRESS
 *
 * Opens an endpoint, registers a region filled with lt_pattern bytes,
 * inserts TEST_ADDRESS and sends it HELLO (its own address and the rkey of
 * the region).  Then serves until BYE or the time limit, driving progress
 * (so that the test's reads of the region complete):
 *   ECHO  -> ECHO_OK with the same bytes if the sender was reported as the
 *            inserted test address, ECHO_BADSRC otherwise.
 *   BYE   -> BYE, then exit 0.
 * Exit codes: 0 fine, 1 usage or set-up error, 2 time limit, 3 transport
 * error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "xport.h"

/* Protocol shared with test_transport.c (keep the two copies equal). */
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

static int usage(void)
{
    fprintf(stderr, "usage: helper_xport_peer -p PROVIDER [-b NODE] [-m "
                    "MR_MODE_ADD] [-s MSG_SIZE] [-R BYTES] [-t SECONDS] "
                    "TEST_ADDRESS\n");
    return 1;
}

int main(int argc, char **argv)
{
    struct xport_opts opts = XPORT_OPTS_INIT;
    size_t region = (64u << 20) + (64u << 10);
    int limit_s = 60, opt;
    lc_log_set_prog("helper_xport_peer");
    while ((opt = getopt(argc, argv, "p:b:m:s:R:t:")) != -1) {
        switch (opt) {
        case 'p':
            opts.provider = optarg;
            break;
        case 'b':
            opts.node = optarg;
            break;
        case 'm':
            opts.mr_mode_add = strtoull(optarg, NULL, 0);
            break;
        case 's':
            opts.msg_size = strtoull(optarg, NULL, 0);
            break;
        case 'R':
            region = strtoull(optarg, NULL, 0);
            break;
        case 't':
            limit_s = atoi(optarg);
            break;
        default:
            return usage();
        }
    }
    if (optind != argc - 1)
        return usage();
    const char *test_addr = argv[optind];

    xport_ep *ep = NULL;
    xport_mr *mr = NULL;
    int rc = xport_open(&opts, &ep);
    if (rc) {
        fprintf(stderr, "helper: xport_open: %s\n", locus_last_error());
        return 1;
    }
    xport_alive(ep, 1); /* as the daemons do: this thread lives to the end */
    unsigned char *buf = malloc(region);
    if (!buf)
        return 1;
    for (size_t i = 0; i < region; i++)
        buf[i] = lt_pattern(i);
    struct lt_hello hello;
    memset(&hello, 0, sizeof(hello));
    xport_addr test = 0;
    if ((rc = xport_mr_reg(ep, buf, region, &mr)) ||
        (rc = xport_mr_rkey(mr, buf, region, &hello.rk)) ||
        (rc = xport_name(ep, hello.name, sizeof(hello.name))) ||
        (rc = xport_insert(ep, test_addr, &test))) {
        fprintf(stderr, "helper: set-up: %s\n", locus_last_error());
        return 1;
    }
    uint64_t end = lc_deadline_ms(limit_s * 1000);
    int status = 2;
    rc = xport_send(ep, test, LT_TAG_HELLO, &hello, sizeof(hello),
                    lc_deadline_ms(20000));
    if (rc) {
        fprintf(stderr, "helper: send HELLO: %s\n", locus_last_error());
        status = 3;
        goto out;
    }
    uint64_t bye_at = 0;
    while (!lc_expired(end)) {
        xport_event evs[16];
        int n = xport_progress(ep, evs, 16);
        if (n < 0) {
            fprintf(stderr, "helper: progress: %s\n", locus_last_error());
            status = 3;
            goto out;
        }
        for (int i = 0; i < n; i++) {
            xport_event *ev = &evs[i];
            if (ev->kind == XPORT_EV_SEND_ERROR) {
                fprintf(stderr, "helper: send error %s\n",
                        locus_errname(ev->status));
                continue;
            }
            if (ev->kind != XPORT_EV_RECV)
                continue;
            if (ev->tag == LT_TAG_ECHO) {
                uint64_t tag =
                    ev->peer == test ? LT_TAG_ECHO_OK : LT_TAG_ECHO_BADSRC;
                if (tag != LT_TAG_ECHO_OK)
                    fprintf(stderr,
                            "helper: ECHO from peer %llu, expected "
                            "%llu\n",
                            (unsigned long long)ev->peer,
                            (unsigned long long)test);
                rc = xport_send(ep, test, tag, ev->data, ev->len,
                                lc_deadline_ms(20000));
                if (rc)
                    fprintf(stderr, "helper: echo: %s\n", locus_last_error());
            } else if (ev->tag == LT_TAG_BYE) {
                rc = xport_send(ep, test, LT_TAG_BYE, "", 0,
                                lc_deadline_ms(5000));
                /* keep progressing a little so the reply leaves */
                bye_at = lc_deadline_ms(300);
                status = rc ? 3 : 0;
            }
            xport_release(ep, ev);
        }
        if (bye_at && lc_expired(bye_at))
            goto out;
        if (!n)
            xport_wait(&ep, 1, -1, 200, 50);
    }
    if (status == 2)
        fprintf(stderr, "helper: time limit of %d s reached\n", limit_s);
out:
    xport_mr_close(mr);
    xport_alive(ep, 0);
    xport_close(ep);
    free(buf);
    return status;
}
