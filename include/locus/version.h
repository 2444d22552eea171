/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus version and the export macro of the public API.  Before 1.0 the
 * minor number changes with every change of the binary interface (0.2:
 * locus_worker_info starts with a size field; 0.3: it grew tasks_inline
 * and tasks_direct, and the wire protocol has leases; 0.4: it grew
 * tasks_unbooked, and lease tasks may never reach the scheduler).
 */
#ifndef LOCUS_VERSION_H
#define LOCUS_VERSION_H

#define LOCUS_VERSION_MAJOR 0
#define LOCUS_VERSION_MINOR 4
#define LOCUS_VERSION_PATCH 0
#define LOCUS_VERSION_STRING "0.4.0"

#if defined(LOCUS_BUILDING) && defined(__GNUC__)
#define LOCUS_EXPORT __attribute__((visibility("default")))
#else
#define LOCUS_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif
/* Version of the library actually linked, "MAJOR.MINOR.PATCH". */
LOCUS_EXPORT const char *locus_version(void);
#ifdef __cplusplus
}
#endif
#endif
