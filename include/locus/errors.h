/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus error codes.
 *
 * Every public call returns 0 on success or one of the negative LOCUS_E*
 * codes below.  locus_strerror() gives the fixed meaning of a code;
 * locus_last_error() gives the detailed message of the last failure in the
 * calling thread (what failed, and what to do about it).
 */
#ifndef LOCUS_ERRORS_H
#define LOCUS_ERRORS_H

#include "locus/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, meaning) */
#define LOCUS_ERRNO_MAP(X)                                                     \
    X(OK, 0, "success")                                                        \
    X(EINVAL, -1, "invalid argument")                                          \
    X(ENOMEM, -2, "out of memory")                                             \
    X(ETIMEDOUT, -3, "deadline expired before the operation completed")        \
    X(EFABRIC, -4, "fabric (libfabric) operation failed")                      \
    X(ENOPROV, -5, "no usable fabric provider")                                \
    X(EADDR, -6, "bad or unreachable fabric address")                          \
    X(EMSGSIZE, -7, "message larger than the transport allows")                \
    X(EAGAIN, -8, "resource temporarily unavailable, try again")               \
    X(ETOPO, -9, "hardware topology (hwloc) operation failed")                 \
    X(EIO, -10, "input/output error")                                          \
    X(EPROTO, -11, "malformed or unexpected message")                          \
    X(EAUTH, -12, "authentication failed")                                     \
    X(ENOENT, -13, "no such object, file or worker")                           \
    X(ECANCELED, -14, "operation was canceled")                                \
    X(ETASK, -15, "task failed")                                               \
    X(ENOSYM, -16, "function not found in the task libraries")                 \
    X(ELIB, -17, "task library could not be loaded")                           \
    X(ECLOSED, -18, "peer closed or lost")                                     \
    X(ERANGE, -19, "offset or length outside the valid range")                 \
    X(EBUSY, -20, "resource busy")                                             \
    X(ENOTSUP, -21, "operation not supported")                                 \
    X(EHDF5, -22, "HDF5 operation failed")                                     \
    X(ENOWORKERS, -23, "no worker can run the task")                           \
    X(ESTATE, -24, "call not valid in the current state")                      \
    X(ESYS, -25, "system call failed")                                         \
    X(ELOST, -26, "data lost with a worker and cannot be recomputed")          \
    X(EKILLED, -27, "task killed the worker processes that ran it")

enum locus_errno {
#define LOCUS__ERRNO_ENUM(name, value, text) LOCUS_##name = (value),
    LOCUS_ERRNO_MAP(LOCUS__ERRNO_ENUM)
#undef LOCUS__ERRNO_ENUM
        LOCUS_ERRNO_LAST = -28
};

/* Fixed meaning of an error code; never NULL, "unknown error" if unknown. */
LOCUS_EXPORT const char *locus_strerror(int rc);

/* Symbolic name of a code ("LOCUS_ETIMEDOUT"); never NULL. */
LOCUS_EXPORT const char *locus_errname(int rc);

/*
 * Detailed message of the most recent failure in the calling thread, e.g.
 * "xport: fi_getinfo for provider 'foo': No data available (set FI_PROVIDER
 * to one of the providers that locus-info lists)".  The string is owned by
 * the library and valid until the next locus call in this thread.  Empty
 * when the last call succeeded without setting a message.
 */
LOCUS_EXPORT const char *locus_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
