/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal base of every locus module: error reporting, logging, clocks.
 * Private header: never installed.
 */
#ifndef LC_BASE_H
#define LC_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "locus/errors.h"

enum lc_log_level { LC_LOG_ERROR, LC_LOG_WARN, LC_LOG_INFO, LC_LOG_DEBUG };

/*
 * Log a line "<time> <prog>[pid] <sub>: <message>" to stderr when level is
 * at or below the threshold, taken from $LOCUS_LOG (error, warn, info,
 * debug; default warn).
 */
void lc_log(int level, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int lc_log_enabled(int level);
void lc_log_set_level(int level);
void lc_log_set_prog(const char *prog);

/*
 * Record the detailed message of a failure for locus_last_error() in the
 * calling thread, log it at debug level, and return rc (so that callers can
 * write "return lc_seterr(...)").
 */
int lc_seterr(int rc, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int lc_vseterr(int rc, const char *sub, const char *fmt, va_list ap);
void lc_clearerr(void);
/* Public status calls clear the message when they succeed; cleanup code
 * that makes such calls after a failure keeps the failure's message:
 * char keep[LC_ERR_MAX]; lc_err_save(keep); ...; lc_err_restore(keep). */
#define LC_ERR_MAX 1024
void lc_err_save(char keep[LC_ERR_MAX]);
void lc_err_restore(const char keep[LC_ERR_MAX]);

/* Give free heap pages back to the system (glibc's malloc_trim), after a
 * burst of work.  Nothing under ThreadSanitizer, whose own allocator
 * serves malloc: glibc's malloc_trim would then set up a glibc arena for
 * the calling thread behind its back, and glibc aborts when that thread
 * exits ("__malloc_arena_thread_freeres: a->attached_threads > 0"). */
void lc_heap_trim(void);

/* A daemon keeps what it frees while it is busy: glibc would otherwise give
 * the top of the heap back on free() (above 128 KiB) and hand out blocks
 * over its mmap threshold as fresh mappings, so the next burst of tasks
 * touches new pages that the kernel must zero (in a VM that first touch
 * was a quarter of the CPU of a 10^6-task map).  Freed memory stays for the
 * next burst; lc_heap_trim() gives it all back once the daemon is idle.
 * Nothing under the sanitizers, whose allocators ignore these settings. */
void lc_heap_keep(void);

/*
 * The size rule of public option structs (their first field is size_t
 * size): a caller built against an older header passes a smaller size, one
 * built against a newer header a bigger one.  Copy the caller's size bytes
 * of src over dst, which holds the defaults of every field (so fields the
 * caller's version did not have keep their defaults), and accept sizes from
 * min (the end of the last field of the first version) to max (sizeof the
 * current struct).  Anything else is LOCUS_EINVAL with a message naming
 * what (e.g. "locus_connect opts") and init (the initializer macro).  A NULL
 * src leaves dst as it is.
 */
#define LC_OPTS_END(type, field)                                               \
    (offsetof(type, field) + sizeof(((type *)0)->field))
int lc_opts_copy(void *dst, const void *src, size_t min, size_t max,
                 const char *what, const char *init);

/*
 * Goto-cleanup check: when cond is false, set ret to code with a message
 * (logged under subsystem sub) and jump to label.
 */
#define LC_CHECK(cond, label, ret, code, sub, ...)                             \
    do {                                                                       \
        if (__builtin_expect(!(cond), 0)) {                                    \
            (ret) = lc_seterr((code), (sub), __VA_ARGS__);                     \
            goto label;                                                        \
        }                                                                      \
    } while (0)

/* Same, when rc is already a LOCUS_E* code whose message was set. */
#define LC_CHECK_RC(rc_expr, label, ret)                                       \
    do {                                                                       \
        (ret) = (rc_expr);                                                     \
        if (__builtin_expect((ret) != 0, 0))                                   \
            goto label;                                                        \
    } while (0)

/* s made safe for a log line: printable ASCII as is, every other byte as
 * \xNN (a peer's strings never reach a log raw).  Returns buf. */
const char *lc_esc(const char *s, char *buf, size_t len);

/* Monotonic clock in nanoseconds. */
uint64_t lc_now_ns(void);

/* One turn of a busy wait: tells the core (and a hyperthread sibling) that
   this is a spin, without giving up the CPU. */
static inline void lc_cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Deadline helpers: a deadline is an absolute lc_now_ns() value. */
#define LC_DEADLINE_NONE UINT64_MAX
uint64_t lc_deadline_ms(int64_t timeout_ms); /* <0: none */
int lc_expired(uint64_t deadline);
int lc_remaining_ms(uint64_t deadline); /* -1 when no deadline */

/* Host name of this host ("host identity" of the design). */
const char *lc_hostname(void);

#endif
