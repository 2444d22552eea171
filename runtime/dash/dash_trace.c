/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LOCUS_TRACE=file.json: the task stream in the Chrome trace-event format
 * (JSON object form), for Perfetto or chrome://tracing.  One "X" (complete)
 * event per finished task: pid = worker id, tid = thread index (0 while
 * the scheduler does not know it), ts and dur in microseconds since the
 * scheduler started.
 *
 * A thread of its own drains the task ring every 200 ms and writes, so the
 * scheduler's thread never does file I/O for it; if it falls a whole ring
 * behind, the records it missed are counted (locus_trace_lost_records_total)
 * and noted in the file.  dash_close writes the rest and closes the JSON.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "dash/dash_int.h"
#include "locus/version.h"

struct dash_trace {
    FILE *f;
    pthread_t th;
    pthread_cond_t cv;
    int stop, started;
    uint64_t cursor, events;
    uint8_t *named; /* worker ids whose process_name was written */
    int capnamed;
    dash_rec *buf;
    dbuf out;
};

static double us(const dash *d, uint64_t ns)
{
    return ns > d->t0_ns ? (double)(ns - d->t0_ns) * 1e-3 : 0;
}

static void name_worker(dash *d, struct dash_trace *t, int id)
{
    if (id < 0 || id >= DASH_MAXWORKERS)
        return;
    if (id >= t->capnamed) {
        int ncap = t->capnamed ? t->capnamed : 64;
        while (ncap <= id)
            ncap *= 2;
        uint8_t *nn = realloc(t->named, (size_t)ncap);
        if (!nn)
            return;
        memset(nn + t->capnamed, 0, (size_t)(ncap - t->capnamed));
        t->named = nn;
        t->capnamed = ncap;
    }
    if (t->named[id])
        return;
    t->named[id] = 1;
    char label[200];
    snprintf(label, sizeof(label), "worker %d", id);
    pthread_mutex_lock(&d->mu);
    if (id < d->capwk && d->wk[id].used)
        snprintf(label, sizeof(label), "worker %d (%s pid %d, NUMA %d)", id,
                 d->wk[id].host, d->wk[id].pid, d->wk[id].numa);
    pthread_mutex_unlock(&d->mu);
    dbuf_printf(&t->out,
                ",\n{\"name\":\"process_name\",\"ph\":\"M\","
                "\"pid\":%d,\"tid\":0,\"args\":{\"name\":",
                id);
    dbuf_json_str(&t->out, label);
    dbuf_printf(&t->out,
                "}},\n{\"name\":\"process_sort_index\",\"ph\":\"M\","
                "\"pid\":%d,\"tid\":0,\"args\":{\"sort_index\":%d}}",
                id, id);
}

static void drain(dash *d, struct dash_trace *t)
{
    uint64_t first, next;
    size_t n = dash_records(d, t->cursor, DASH_RING, t->buf, &first, &next);
    t->out.len = 0;
    if (first > t->cursor) {
        uint64_t lost = first - t->cursor;
        pthread_mutex_lock(&d->mu);
        d->trace_lost += lost;
        pthread_mutex_unlock(&d->mu);
        dbuf_printf(&t->out,
                    ",\n{\"name\":\"trace lost %llu tasks\","
                    "\"ph\":\"i\",\"s\":\"g\",\"pid\":0,\"tid\":0,"
                    "\"ts\":%.3f}",
                    (unsigned long long)lost, us(d, lc_now_ns()));
    }
    for (size_t i = 0; i < n; i++) {
        const dash_rec *r = &t->buf[i];
        name_worker(d, t, r->worker);
        /* a name never changes once its index was published under mu */
        const char *fn = r->fn < DASH_MAXFN ? d->fns[r->fn].name : "(other)";
        dbuf_puts(&t->out, ",\n{\"name\":");
        dbuf_json_str(&t->out, fn);
        dbuf_printf(&t->out,
                    ",\"cat\":\"task\",\"ph\":\"X\",\"pid\":%d,"
                    "\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,\"args\":{"
                    "\"status\":%d,\"bytes_stayed\":%llu,"
                    "\"bytes_same_host\":%llu,\"bytes_other_host\":%llu,"
                    "\"src_worker\":%d}}",
                    r->worker, r->thread < 0 ? 0 : r->thread,
                    us(d, r->start_ns), (double)r->duration_ns * 1e-3,
                    r->status, (unsigned long long)r->bytes_stayed,
                    (unsigned long long)r->bytes_same_host,
                    (unsigned long long)r->bytes_other_host, r->src_worker);
    }
    t->events += n;
    t->cursor = next;
    if (t->out.len && !t->out.err)
        fwrite(t->out.p, 1, t->out.len, t->f);
    fflush(t->f);
}

static void *writer(void *arg)
{
    dash *d = arg;
    struct dash_trace *t = d->trace;
    pthread_mutex_lock(&d->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &d->mu, &ts);
        pthread_mutex_unlock(&d->mu);
        drain(d, t);
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int dash_trace_start(dash *d)
{
    int rc = 0;
    struct dash_trace *t = calloc(1, sizeof(*t));
    LC_CHECK(t, out, rc, LOCUS_ENOMEM, "dash", "trace: no memory");
    d->trace = t;
    t->buf = malloc(DASH_RING * sizeof(dash_rec));
    LC_CHECK(t->buf, out, rc, LOCUS_ENOMEM, "dash", "trace: no memory");
    t->f = fopen(d->o.trace, "w");
    LC_CHECK(t->f, out, rc, LOCUS_EIO, "dash",
             "LOCUS_TRACE=%s: cannot "
             "create it: %s",
             d->o.trace, strerror(errno));
    fprintf(t->f,
            "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":"
            "\"locus-scheduler %s\"},\n\"traceEvents\":[\n"
            "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,\"tid\":0,"
            "\"args\":{\"name\":\"locus scheduler\"}}",
            LOCUS_VERSION_STRING);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&t->th, NULL, writer, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    LC_CHECK(e == 0, out, rc, LOCUS_ESYS, "dash",
             "trace: cannot start its "
             "thread: %s",
             strerror(e));
    t->started = 1;
    lc_log(LC_LOG_INFO, "dash", "writing the task stream to %s", d->o.trace);
out:
    return rc;
}

void dash_trace_stop(dash *d)
{
    struct dash_trace *t = d->trace;
    if (!t)
        return;
    if (t->started) {
        pthread_mutex_lock(&d->mu);
        t->stop = 1;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(t->th, NULL);
        pthread_cond_destroy(&t->cv);
    }
    if (t->f) {
        drain(d, t);
        fputs("\n]}\n", t->f);
        if (fclose(t->f) != 0)
            lc_log(LC_LOG_WARN, "dash", "LOCUS_TRACE=%s: %s", d->o.trace,
                   strerror(errno));
        else
            lc_log(LC_LOG_INFO, "dash", "trace %s: %llu tasks", d->o.trace,
                   (unsigned long long)t->events);
    }
    free(t->out.p);
    free(t->named);
    free(t->buf);
    free(t);
    d->trace = NULL;
}
