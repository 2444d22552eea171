/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support: the assertions every end-to-end suite uses.  A suite keeps
 * a "static int passed" that its teardown reads (the daemons' logs are
 * printed when a test did not get to PASS()).
 */
#ifndef LT_CHECK_H
#define LT_CHECK_H

#include <criterion/criterion.h>

#include "locus.h"

/* Last line of every test: it got there, so the logs are not needed. */
#define PASS() (passed = 1)

/* call must return 0; the failure names the call, the code and the
   message. */
#define OK(call)                                                               \
    do {                                                                       \
        int rc_ = (call);                                                      \
        cr_assert_eq(rc_, 0, "%s: %s: %s", #call, locus_errname(rc_),          \
                     locus_last_error());                                      \
    } while (0)

#endif
