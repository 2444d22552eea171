/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Task library of the runtime tests (tests/test_client_*.c): workers load it
 * as libtasklib_test.so with locus_require and call its functions by name.
 * Every function is thread-safe (no state).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "locus/task.h"
#define LT_PATTERN_ONLY
#include "support/cluster.h"

/* Exported with default visibility (the library is built with it). */
int f_sleep_pid(locus_task *t);
int f1(locus_task *t);
int f2(locus_task *t);
int f3(locus_task *t);
int add(locus_task *t);
int fail_with(locus_task *t);
int make_bytes(locus_task *t);
int check_bytes(locus_task *t);
int spin_until_canceled(locus_task *t);
int where(locus_task *t);
int concat_len(locus_task *t);
int crash(locus_task *t);
int hold_ms(locus_task *t);
int exit_soon(locus_task *t);

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* f_sleep_pid(d): sleeps d/100 s, returns the worker's pid (the tutorial's
 * SPMD example). */
int f_sleep_pid(locus_task *t)
{
    int64_t d;
    int rc = locus_task_arg_i64(t, 0, &d);
    if (rc)
        return rc;
    if (d < 0 || d > 6000)
        return locus_task_fail(t, "f_sleep_pid: %lld out of range",
                               (long long)d);
    nap_ms((long)d * 10);
    return locus_task_return_i64(t, (int64_t)getpid());
}

static int plus(locus_task *t, int64_t k)
{
    int64_t x;
    int rc = locus_task_arg_i64(t, 0, &x);
    if (rc)
        return rc;
    return locus_task_return_i64(t, x + k);
}

int f1(locus_task *t)
{
    return plus(t, 1);
}

int f2(locus_task *t)
{
    return plus(t, 2);
}

int f3(locus_task *t)
{
    return plus(t, 3);
}

int add(locus_task *t)
{
    int64_t a, b;
    int rc = locus_task_arg_i64(t, 0, &a);
    if (!rc)
        rc = locus_task_arg_i64(t, 1, &b);
    if (rc)
        return rc;
    return locus_task_return_i64(t, a + b);
}

/* fail_with(msg): fails with "fail_with: <msg>". */
int fail_with(locus_task *t)
{
    const void *p;
    size_t n;
    int rc = locus_task_arg(t, 0, &p, &n);
    if (rc)
        return rc;
    return locus_task_fail(t, "fail_with: %.*s", (int)n, (const char *)p);
}

/* make_bytes(n, seed): n bytes of lt_pattern(seed, i). */
int make_bytes(locus_task *t)
{
    int64_t n, seed;
    int rc = locus_task_arg_i64(t, 0, &n);
    if (!rc)
        rc = locus_task_arg_i64(t, 1, &seed);
    if (rc)
        return rc;
    if (n < 0 || n > ((int64_t)1 << 30))
        return locus_task_fail(t, "make_bytes: bad size %lld", (long long)n);
    unsigned char *p = locus_task_result(t, (size_t)n);
    if (!p)
        return locus_task_fail(t, "make_bytes: no memory for %lld bytes",
                               (long long)n);
    for (int64_t i = 0; i < n; i++)
        p[i] = lt_pattern(seed, (uint64_t)i);
    return 0;
}

/* check_bytes(buf, seed): int64 1 when buf is lt_pattern(seed, *), else 0.
 * An optional third argument gives the expected length. */
int check_bytes(locus_task *t)
{
    const unsigned char *p;
    const void *v;
    size_t n;
    int64_t seed, want = -1;
    int rc = locus_task_arg(t, 0, &v, &n);
    if (!rc)
        rc = locus_task_arg_i64(t, 1, &seed);
    if (!rc && locus_task_nargs(t) > 2)
        rc = locus_task_arg_i64(t, 2, &want);
    if (rc)
        return rc;
    p = v;
    if (want >= 0 && (size_t)want != n)
        return locus_task_return_i64(t, 0);
    for (size_t i = 0; i < n; i++)
        if (p[i] != lt_pattern(seed, i))
            return locus_task_return_i64(t, 0);
    return locus_task_return_i64(t, 1);
}

/* spin_until_canceled(): polls locus_task_canceled; gives up after 60 s. */
int spin_until_canceled(locus_task *t)
{
    for (int i = 0; i < 60000; i++) {
        if (locus_task_canceled(t))
            return locus_task_fail(t, "spin_until_canceled: canceled");
        nap_ms(1);
    }
    return locus_task_fail(t, "spin_until_canceled: never canceled");
}

/* where(): int64[4] = pid, worker id, NUMA node, thread index. */
int where(locus_task *t)
{
    int64_t v[4] = {getpid(), locus_task_worker_id(t), locus_task_numa_node(t),
                    locus_task_thread(t)};
    return locus_task_return(t, v, sizeof(v));
}

/* concat_len(a, b, ...): int64 sum of the argument lengths. */
int concat_len(locus_task *t)
{
    int64_t sum = 0;
    for (size_t i = 0; i < locus_task_nargs(t); i++) {
        const void *p;
        size_t n;
        int rc = locus_task_arg(t, i, &p, &n);
        if (rc)
            return rc;
        sum += (int64_t)n;
    }
    return locus_task_return_i64(t, sum);
}

/* vec(i): int64[16] = i, i+1, ..., i+15 (a result larger than 64 bytes). */
int vec(locus_task *t);
int vec(locus_task *t)
{
    int64_t i;
    int rc = locus_task_arg_i64(t, 0, &i);
    if (rc)
        return rc;
    int64_t v[16];
    for (int k = 0; k < 16; k++)
        v[k] = i + k;
    return locus_task_return(t, v, sizeof(v));
}

/* sum_all(a, b, ...): int64 sum of every int64 word of every argument. */
int sum_all(locus_task *t);
int sum_all(locus_task *t)
{
    int64_t sum = 0;
    for (size_t i = 0; i < locus_task_nargs(t); i++) {
        const void *p;
        size_t n;
        int rc = locus_task_arg(t, i, &p, &n);
        if (rc)
            return rc;
        if (n % 8)
            return locus_task_fail(t,
                                   "sum_all: argument %zu has %zu bytes, "
                                   "not int64 words",
                                   i, n);
        const unsigned char *b = p;
        for (size_t k = 0; k < n; k += 8) {
            int64_t w;
            memcpy(&w, b + k, 8);
            sum += w;
        }
    }
    return locus_task_return_i64(t, sum);
}

/* crash(how): takes the worker process down as user code does: "abort"
 * (a failed assert), "trap" (an illegal instruction: SIGILL), "exit"
 * (exit(3) from a library).  Anything else returns 0. */
int crash(locus_task *t)
{
    const void *p;
    size_t len;
    int rc = locus_task_arg(t, 0, &p, &len);
    if (rc)
        return rc;
    char how[16] = "";
    if (len < sizeof(how))
        memcpy(how, p, len);
    if (!strcmp(how, "abort"))
        abort();
    if (!strcmp(how, "trap"))
        __builtin_trap();
    if (!strcmp(how, "exit"))
        exit(3);
    return locus_task_return_i64(t, 0);
}

static void *exit_later(void *arg)
{
    nap_ms((long)(intptr_t)arg);
    exit(3);
}

/* exit_soon(ms): returns the worker's pid at once, and ms milliseconds
 * later another thread of the worker calls exit(3): the process ends
 * wherever its other threads are then (the progress thread running short
 * tasks and sending their DONEs, in the test that uses it). */
int exit_soon(locus_task *t)
{
    int64_t ms;
    int rc = locus_task_arg_i64(t, 0, &ms);
    if (rc)
        return rc;
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&th, &at, exit_later, (void *)(intptr_t)ms);
    pthread_attr_destroy(&at);
    if (rc)
        return locus_task_fail(t, "pthread_create failed");
    return locus_task_return_i64(t, (int64_t)getpid());
}

/* hold_ms(ms, ...): holds its thread ms milliseconds without looking at
 * cancellation (a long computation), ignores further arguments (inputs
 * whose place matters), returns the worker id it ran on. */
int hold_ms(locus_task *t)
{
    int64_t ms;
    int rc = locus_task_arg_i64(t, 0, &ms);
    if (rc)
        return rc;
    if (ms < 0 || ms > 600000)
        return locus_task_fail(t, "hold_ms: %lld out of range", (long long)ms);
    nap_ms((long)ms);
    return locus_task_return_i64(t, locus_task_worker_id(t));
}
