/* SPDX-License-Identifier: BSD-3-Clause */
#include "base.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int log_level = -1;
static char log_prog[32] = "locus";
static _Thread_local char last_error[LC_ERR_MAX];

static const struct {
    int code;
    const char *name;
    const char *text;
} errtab[] = {
#define LC__ERR_ROW(name, value, text) {value, "LOCUS_" #name, text},
    LOCUS_ERRNO_MAP(LC__ERR_ROW)
#undef LC__ERR_ROW
};

const char *locus_strerror(int rc)
{
    for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
        if (errtab[i].code == rc)
            return errtab[i].text;
    return "unknown error";
}

const char *locus_errname(int rc)
{
    for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
        if (errtab[i].code == rc)
            return errtab[i].name;
    return "LOCUS_E?";
}

const char *locus_last_error(void)
{
    return last_error;
}

const char *locus_version(void)
{
    return LOCUS_VERSION_STRING;
}

static int level_from_env(void)
{
    const char *s = getenv("LOCUS_LOG");
    if (!s || !*s)
        return LC_LOG_WARN;
    if (!strcasecmp(s, "error"))
        return LC_LOG_ERROR;
    if (!strcasecmp(s, "info"))
        return LC_LOG_INFO;
    if (!strcasecmp(s, "debug"))
        return LC_LOG_DEBUG;
    return LC_LOG_WARN;
}

int lc_log_enabled(int level)
{
    int l = __atomic_load_n(&log_level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = level_from_env();
        __atomic_store_n(&log_level, l, __ATOMIC_RELAXED);
    }
    return level <= l;
}

void lc_log_set_level(int level)
{
    __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

void lc_log_set_prog(const char *prog)
{
    snprintf(log_prog, sizeof(log_prog), "%s", prog);
}

static void vlog(int level, const char *sub, const char *fmt, va_list ap)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    char line[1400];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%02d:%02d:%02d.%03ld %s[%d] %s %s: ", tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_prog,
                     (int)getpid(), names[level], sub);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    /* one write per line keeps lines of concurrent processes whole */
    size_t len = strnlen(line, sizeof(line) - 2);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void lc_log(int level, const char *sub, const char *fmt, ...)
{
    if (!lc_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, sub, fmt, ap);
    va_end(ap);
}

int lc_vseterr(int rc, const char *sub, const char *fmt, va_list ap)
{
    int n = snprintf(last_error, sizeof(last_error), "%s: ", sub);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof(last_error))
        vsnprintf(last_error + n, sizeof(last_error) - (size_t)n, fmt, ap);
    if (lc_log_enabled(LC_LOG_DEBUG))
        lc_log(LC_LOG_DEBUG, "error", "%s (%s)", last_error, locus_errname(rc));
    return rc;
}

int lc_seterr(int rc, const char *sub, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lc_vseterr(rc, sub, fmt, ap);
    va_end(ap);
    return rc;
}

void lc_clearerr(void)
{
    last_error[0] = '\0';
}

void lc_err_save(char keep[LC_ERR_MAX])
{
    memcpy(keep, last_error, LC_ERR_MAX);
}

void lc_err_restore(const char keep[LC_ERR_MAX])
{
    memcpy(last_error, keep, LC_ERR_MAX);
}

int lc_opts_copy(void *dst, const void *src, size_t min, size_t max,
                 const char *what, const char *init)
{
    if (!src)
        return 0;
    size_t size;
    memcpy(&size, src, sizeof(size));
    if (size < min || size > max)
        return lc_seterr(LOCUS_EINVAL, "opts",
                         "%s: size is %zu; this library takes %zu to %zu "
                         "(set it with %s, from a locus header no newer "
                         "than the library)",
                         what, size, min, max, init);
    memcpy(dst, src, size);
    return 0;
}

uint64_t lc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t lc_deadline_ms(int64_t timeout_ms)
{
    if (timeout_ms < 0)
        return LC_DEADLINE_NONE;
    return lc_now_ns() + (uint64_t)timeout_ms * 1000000ull;
}

int lc_expired(uint64_t deadline)
{
    return deadline != LC_DEADLINE_NONE && lc_now_ns() >= deadline;
}

int lc_remaining_ms(uint64_t deadline)
{
    if (deadline == LC_DEADLINE_NONE)
        return -1;
    uint64_t now = lc_now_ns();
    if (now >= deadline)
        return 0;
    uint64_t ms = (deadline - now + 999999) / 1000000;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

const char *lc_hostname(void)
{
    static char name[256];
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        char tmp[256];
        if (gethostname(tmp, sizeof(tmp)) != 0)
            snprintf(tmp, sizeof(tmp), "localhost");
        tmp[sizeof(tmp) - 1] = '\0';
        memcpy(name, tmp, sizeof(name));
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return name;
}

const char *lc_esc(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    if (!len)
        return buf;
    for (const unsigned char *p = (const unsigned char *)(s ? s : "");
         *p && o + 5 < len; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
    }
    buf[o] = '\0';
    return buf;
}

void lc_heap_trim(void)
{
#if !defined(__SANITIZE_THREAD__)
    malloc_trim(0);
#endif
}

void lc_heap_keep(void)
{
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's largest on 64-bit */
#endif
}
