/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tutorial's task functions, as a task library that workers load with
 * locus_require().  Each is an ordinary exported C function.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <locus.h>

/* _f(d): sleep d/10 s, print the argument and the worker's pid, return it */
int _f(locus_task *t)
{
    int64_t d;
    int rc = locus_task_arg_i64(t, 0, &d);
    if (rc)
        return rc;
    if (d < 0 || d > 600)
        return locus_task_fail(t, "_f: argument %lld out of range 0..600",
                               (long long)d);
    struct timespec ts = {d / 10, (long)(d % 10) * 100000000L};
    nanosleep(&ts, NULL);
    int pid = (int)getpid();
    printf(" _f argument: %2lld, process id: %7d \n", (long long)d, pid);
    return locus_task_return_i64(t, pid);
}

static int add(locus_task *t, int64_t k)
{
    int64_t d;
    int rc = locus_task_arg_i64(t, 0, &d);
    return rc ? rc : locus_task_return_i64(t, d + k);
}

int _f1(locus_task *t)
{
    return add(t, 1);
}

int _f2(locus_task *t)
{
    return add(t, 2);
}

int _f3(locus_task *t)
{
    return add(t, 3);
}
