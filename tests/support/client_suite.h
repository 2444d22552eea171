/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support: the fixture and helpers of the end-to-end client suites
 * (tests/test_client_*.c).  Real locus-scheduler and locus-worker processes
 * (started with locus_local_cluster_start, or by hand for the options a
 * local cluster does not have), real libfabric endpoints (tcp;ofi_rxm, and
 * shm between local peers), the task library tests/tasklib_test.c, and the
 * public API of include/locus.h.  No mocks.
 *
 * Every wait has a deadline (T_MS); a test that cannot finish fails.  A
 * watchdog (support/cluster.c) kills the daemons of a test that dies.  The
 * daemons' logs are printed when a test fails, and a test fails when a
 * daemon's log holds a sanitizer report (LOCUS_SANITIZE builds).
 *
 * Each suite that includes this header gets its own cluster C, client cl
 * and teardown (give it to TestSuite as .fini); helpers are static inline
 * so that a suite compiles only what it calls.
 */
#ifndef LT_CLIENT_SUITE_H
#define LT_CLIENT_SUITE_H
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "check.h"
#include "cluster.h"
#include "locus.h"
#include "netns.h"
#include "proc.h"
#include "proto/auth.h"
#include "proto/schedfile.h"
#include "proto/wire.h"
#include "xport.h"

#define TASKLIB LOCUS_TEST_BINDIR "/libtasklib_test.so"
#define T_MS 20000 /* deadline of every wait that should succeed */
#define MIB (1024 * 1024)

static lt_cluster C;
static locus_client *cl;
static int passed;
static char lasterr[4096];

static lt_netns *nets;
static xport_ep *fx_ep; /* an endpoint nobody serves (freed if a test fails) */

static inline void teardown(void)
{
    if (cl)
        locus_disconnect(cl);
    cl = NULL;
    xport_close(fx_ep);
    fx_ep = NULL;
    int bad = lt_cluster_stop(&C, !passed);
    lt_netns_destroy(nets);
    nets = NULL;
    lt_fini_check(bad);
}

/* call must fail with code and leave a message in locus_last_error(). */
#define EXPECT_ERR(call, code)                                                 \
    do {                                                                       \
        int rc_ = (call);                                                      \
        snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());          \
        cr_expect_eq(rc_, (code), "%s returned %s, expected %s (%s)", #call,   \
                     locus_errname(rc_), locus_errname(code), lasterr);        \
        cr_expect(lasterr[0] != '\0', "%s: locus_last_error() is empty",       \
                  #call);                                                      \
    } while (0)

/* call must fail (any code) with a message. */
#define EXPECT_FAIL(call)                                                      \
    do {                                                                       \
        int rc_ = (call);                                                      \
        snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());          \
        cr_expect_lt(rc_, 0, "%s returned %d, expected an error", #call, rc_); \
        cr_expect(rc_ >= 0 || lasterr[0] != '\0',                              \
                  "%s: locus_last_error() is empty", #call);                   \
    } while (0)

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline locus_client *connect_to(const char *file, unsigned flags)
{
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.timeout_ms = T_MS;
    o.flags = flags;
    locus_client *c = NULL;
    OK(locus_connect(file, &o, &c));
    cr_assert_not_null(c);
    return c;
}

/* A local cluster of n workers with t threads each, a client, the task
 * library loaded. */
static inline void up_flags(int n, int t, unsigned cflags, unsigned connflags)
{
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = n;
    o.nthreads = t;
    o.flags = cflags;
    o.timeout_ms = T_MS;
    int rc = lt_cluster_start(&C, &o);
    cr_assert_eq(rc, 0, "locus_local_cluster_start: %s: %s", locus_errname(rc),
                 locus_last_error());
    cl = connect_to(C.file, connflags);
    locus_worker_info w[16];
    size_t have = 0;
    OK(locus_workers(cl, w, 16, &have));
    cr_assert_eq(have, (size_t)n,
                 "%zu workers connected after "
                 "locus_local_cluster_start, asked for %d",
                 have, n);
    OK(locus_require(cl, TASKLIB, T_MS));
}

static inline void up(int n, int t)
{
    up_flags(n, t, 0, 0);
}

static inline size_t workers(locus_client *c, locus_worker_info *w, size_t max)
{
    size_t n = 0;
    OK(locus_workers(c, w, max, &n));
    cr_assert_leq(n, max);
    return n;
}

static inline uint64_t bytes_held(locus_client *c)
{
    locus_worker_info w[16];
    size_t n = workers(c, w, 16);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i].bytes_held;
    return sum;
}

/* Poll until the workers hold exactly want bytes (heartbeats refresh the
 * figures every ~0.5 s).  Returns the last figure seen. */
static inline uint64_t wait_bytes_held(locus_client *c, uint64_t want, int ms)
{
    uint64_t have = 0;
    for (double end = now_s() + ms / 1000.0; now_s() < end; nap_ms(50)) {
        have = bytes_held(c);
        if (have == want)
            break;
    }
    return have;
}

static inline locus_future *submit_o(locus_client *c, const char *fn,
                                     const locus_arg *args, size_t n,
                                     const struct locus_submit_opts *o)
{
    locus_future *f = NULL;
    int rc = locus_submit(c, fn, args, n, o, &f);
    cr_assert_eq(rc, 0, "locus_submit(%s): %s: %s", fn, locus_errname(rc),
                 locus_last_error());
    cr_assert_not_null(f);
    return f;
}

static inline locus_future *submit(const char *fn, const locus_arg *args,
                                   size_t n)
{
    return submit_o(cl, fn, args, n, NULL);
}

static inline locus_future *submit_on(const char *fn, const locus_arg *args,
                                      size_t n, int worker)
{
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = &worker;
    o.nworkers = 1;
    return submit_o(cl, fn, args, n, &o);
}

static inline int64_t result_i64(locus_future *f)
{
    int64_t v = 0;
    int rc = locus_result_i64(f, T_MS, &v);
    cr_assert_eq(rc, 0, "result of %s: %s: %s", locus_future_key(f),
                 locus_errname(rc), locus_last_error());
    return v;
}

/* Error of a task: waits, checks the code, keeps the message in lasterr. */
static inline void expect_task_error(locus_future *f, int code)
{
    double t0 = now_s();
    int rc = locus_result(f, T_MS, NULL, NULL);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_assert_neq(rc, LOCUS_ETIMEDOUT, "%s did not finish in %d ms",
                  locus_future_key(f), T_MS);
    cr_assert_eq(rc, code, "%s: %s (%s), expected %s after %.2f s",
                 locus_future_key(f), locus_errname(rc), lasterr,
                 locus_errname(code), now_s() - t0);
    cr_assert(lasterr[0], "no message in locus_last_error() for %s",
              locus_errname(rc));
    cr_assert_eq(locus_future_status(f), code);
}

static inline void check_pattern(const void *data, size_t len, size_t want,
                                 int64_t seed)
{
    cr_assert_eq(len, want, "result has %zu bytes, expected %zu", len, want);
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        if (p[i] != lt_pattern(seed, i))
            cr_assert_fail("byte %zu of %zu is 0x%02x, expected 0x%02x", i, len,
                           p[i], lt_pattern(seed, i));
}

static inline locus_future *make_bytes(int64_t n, int64_t seed, int worker)
{
    locus_arg a[2] = {locus_arg_i64(n), locus_arg_i64(seed)};
    return worker >= 0 ? submit_on("make_bytes", a, 2, worker)
                       : submit("make_bytes", a, 2);
}

static inline void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    cr_assert_eq(chmod(path, mode), 0);
}

#endif
