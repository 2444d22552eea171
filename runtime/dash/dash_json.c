/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON views behind the pages (documented in runtime/dash/README.md).
 * Times are seconds since the scheduler started its dashboard.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "dash/dash_int.h"
#include "locus/version.h"

#define U64(x) ((unsigned long long)(x))

static const char *state_name[DASH_NSTATES] = {"none", "waiting", "running",
                                               "done", "failed"};

static void oom(dbuf *b)
{
    b->err = 1;
}

void dash_json_workers(dash *d, dbuf *b)
{
    dash_snap s;
    if (dash_snapshot(d, &s) != 0)
        return oom(b);
    dbuf_printf(b, "{\"now\":%.6f,\"workers\":[", s.now_s);
    for (int i = 0; i < s.nwk; i++) {
        const dash_wk *w = &s.wk[i];
        double lag = s.now_ns > w->last_heartbeat_ns
                         ? (double)(s.now_ns - w->last_heartbeat_ns) * 1e-9
                         : 0;
        dbuf_printf(b, "%s{\"id\":%d,\"host\":", i ? "," : "", w->id);
        dbuf_json_str(b, w->host);
        dbuf_printf(b, ",\"pid\":%d,\"numa\":%d,\"cpuset\":", w->pid, w->numa);
        dbuf_json_str(b, w->cpuset);
        dbuf_printf(b,
                    ",\"nthreads\":%d,\"running\":%u,\"queued\":%u,"
                    "\"sched_queued\":%u,\"tasks_done\":%llu,"
                    "\"bytes_held\":%llu,\"bytes_reserved\":%llu,"
                    "\"bytes_mapped\":%llu,\"bytes_rma\":%llu,"
                    "\"bytes_inline\":%llu,\"tasks_local\":%llu,"
                    "\"tasks_remote\":%llu,\"heartbeat_lag\":%.3f}",
                    w->nthreads, w->running, w->queued, w->sched_queued,
                    U64(w->tasks_done), U64(w->bytes_held),
                    U64(w->arena_reserved), U64(w->bytes_mapped),
                    U64(w->bytes_rma), U64(w->bytes_inline),
                    U64(w->tasks_local), U64(w->tasks_remote), lag);
    }
    dbuf_puts(b, "]}\n");
    dash_snap_free(&s);
}

void dash_json_tasks(dash *d, dbuf *b, uint64_t since, double seconds,
                     size_t limit)
{
    if (limit == 0 || limit > DASH_RING)
        limit = DASH_RING;
    dash_rec *r = malloc(limit * sizeof(*r));
    dash_snap s;
    if (!r || dash_snapshot(d, &s) != 0) {
        free(r);
        return oom(b);
    }
    uint64_t first, next;
    size_t n = dash_records(d, since, limit, r, &first, &next);
    uint64_t now = lc_now_ns();
    uint64_t horizon = seconds > 0 && now - d->t0_ns > (uint64_t)(seconds * 1e9)
                           ? now - (uint64_t)(seconds * 1e9)
                           : 0;
    /* the snapshot's function table is at least as new as the records'
       indices: names only ever get added */
    dbuf_printf(b,
                "{\"now\":%.6f,\"first\":%llu,\"next\":%llu,"
                "\"missed\":%llu,\"tasks\":[",
                (double)(now - d->t0_ns) * 1e-9, U64(first), U64(next),
                U64(first > since ? first - since : 0));
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        const dash_rec *t = &r[i];
        if (t->start_ns + t->duration_ns < horizon)
            continue;
        const char *fn = t->fn <= s.nfn && t->fn < DASH_MAXFN
                             ? s.fns[t->fn].name
                             : "(other)";
        dbuf_printf(b, "%s{\"seq\":%llu,\"fn\":", any ? "," : "",
                    U64(first + i));
        dbuf_json_str(b, fn);
        double st = t->start_ns > d->t0_ns
                        ? (double)(t->start_ns - d->t0_ns) * 1e-9
                        : 0;
        dbuf_printf(b,
                    ",\"worker\":%d,\"thread\":%d,\"start\":%.6f,"
                    "\"duration\":%.9f,\"status\":%d,\"bytes_stayed\":%llu,"
                    "\"bytes_same_host\":%llu,\"bytes_other_host\":%llu,"
                    "\"src_worker\":%d}",
                    t->worker, t->thread, st, (double)t->duration_ns * 1e-9,
                    t->status, U64(t->bytes_stayed), U64(t->bytes_same_host),
                    U64(t->bytes_other_host), t->src_worker);
        any = 1;
    }
    dbuf_puts(b, "]}\n");
    dash_snap_free(&s);
    free(r);
}

static void progress_obj(dbuf *b, const dash_fn *f)
{
    dbuf_printf(b, "\"submitted\":%llu", U64(f->submitted));
    for (int k = DASH_T_WAITING; k < DASH_NSTATES; k++)
        dbuf_printf(b, ",\"%s\":%llu", state_name[k], U64(f->n[k]));
    dbuf_printf(b, ",\"seconds\":%.6f", f->dur_sum_s);
}

void dash_json_progress(dash *d, dbuf *b)
{
    dash_snap s;
    if (dash_snapshot(d, &s) != 0)
        return oom(b);
    dash_fn tot;
    memset(&tot, 0, sizeof(tot));
    dbuf_printf(b, "{\"now\":%.6f,\"functions\":[", s.now_s);
    int any = 0;
    for (int i = 0; i <= s.nfn; i++) {
        const dash_fn *f = &s.fns[i];
        if (i == s.nfn && !f->submitted && !f->n[DASH_T_DONE] &&
            !f->n[DASH_T_FAILED])
            continue; /* no "(other)" when nothing overflowed */
        tot.submitted += f->submitted;
        for (int k = 0; k < DASH_NSTATES; k++)
            tot.n[k] += f->n[k];
        tot.dur_sum_s += f->dur_sum_s;
        dbuf_printf(b, "%s{\"name\":", any ? "," : "");
        dbuf_json_str(b, f->name);
        dbuf_puts(b, ",");
        progress_obj(b, f);
        dbuf_puts(b, "}");
        any = 1;
    }
    dbuf_puts(b, "],\"total\":{");
    progress_obj(b, &tot);
    dbuf_puts(b, "}}\n");
    dash_snap_free(&s);
}

void dash_json_locality(dash *d, dbuf *b)
{
    dash_snap s;
    if (dash_snapshot(d, &s) != 0)
        return oom(b);
    uint64_t m = 0, r = 0, in = 0, tl = 0, tr = 0;
    for (int i = 0; i < s.nwk; i++) {
        m += s.wk[i].bytes_mapped;
        r += s.wk[i].bytes_rma;
        in += s.wk[i].bytes_inline;
        tl += s.wk[i].tasks_local;
        tr += s.wk[i].tasks_remote;
    }
    uint64_t st = 0, sh = 0, oh = 0;
    for (int i = 0; i <= s.nfn; i++) {
        st += s.fns[i].bytes_stayed;
        sh += s.fns[i].bytes_same_host;
        oh += s.fns[i].bytes_other_host;
    }
    dbuf_printf(b,
                "{\"now\":%.6f,\"moved\":{\"mapped\":%llu,\"rma\":%llu,"
                "\"inline\":%llu},\"tasks_local\":%llu,\"tasks_remote\":%llu,"
                "\"placed\":{\"stayed\":%llu,\"same_host\":%llu,"
                "\"other_host\":%llu},\"functions\":[",
                s.now_s, U64(m), U64(r), U64(in), U64(tl), U64(tr), U64(st),
                U64(sh), U64(oh));
    int any = 0;
    for (int i = 0; i <= s.nfn; i++) {
        const dash_fn *f = &s.fns[i];
        if (!f->dur_count)
            continue;
        dbuf_printf(b, "%s{\"name\":", any ? "," : "");
        dbuf_json_str(b, f->name);
        dbuf_printf(b,
                    ",\"tasks\":%llu,\"stayed\":%llu,\"same_host\":%llu,"
                    "\"other_host\":%llu}",
                    U64(f->dur_count), U64(f->bytes_stayed),
                    U64(f->bytes_same_host), U64(f->bytes_other_host));
        any = 1;
    }
    dbuf_puts(b, "],\"workers\":[");
    for (int i = 0; i < s.nwk; i++) {
        const dash_wk *w = &s.wk[i];
        dbuf_printf(b,
                    "%s{\"id\":%d,\"mapped\":%llu,\"rma\":%llu,"
                    "\"inline\":%llu,\"tasks_local\":%llu,"
                    "\"tasks_remote\":%llu}",
                    i ? "," : "", w->id, U64(w->bytes_mapped),
                    U64(w->bytes_rma), U64(w->bytes_inline),
                    U64(w->tasks_local), U64(w->tasks_remote));
    }
    dbuf_puts(b, "]}\n");
    dash_snap_free(&s);
}

void dash_json_status(dash *d, dbuf *b)
{
    dash_snap s;
    if (dash_snapshot(d, &s) != 0)
        return oom(b);
    int threads = 0;
    for (int i = 0; i < s.nwk; i++)
        threads += s.wk[i].nthreads;
    dash_fn tot;
    memset(&tot, 0, sizeof(tot));
    for (int i = 0; i <= s.nfn; i++) {
        tot.submitted += s.fns[i].submitted;
        for (int k = 0; k < DASH_NSTATES; k++)
            tot.n[k] += s.fns[i].n[k];
        tot.dur_sum_s += s.fns[i].dur_sum_s;
    }
    dbuf_printf(b, "{\"version\":\"%s\",\"now\":%.6f,\"host\":",
                LOCUS_VERSION_STRING, s.now_s);
    dbuf_json_str(b, lc_hostname());
    dbuf_printf(b, ",\"pid\":%d,\"workers\":%d,\"threads\":%d,\"tasks\":{",
                (int)getpid(), s.nwk, threads);
    progress_obj(b, &tot);
    dbuf_printf(
        b,
        "},\"messages\":%llu,\"dropped\":%llu,\"mac_failures\":%llu,"
        "\"auth_failures\":%llu,\"stolen\":%llu,"
        "\"worker_deaths\":%llu,\"ready_queue\":%lld,"
        "\"tasks_held\":%lld,\"clients\":%lld,"
        "\"stream\":{\"records\":%llu,\"kept\":%u}}\n",
        U64(s.counters[DASH_C_MESSAGES]), U64(s.counters[DASH_C_DROPPED]),
        U64(s.counters[DASH_C_MAC_FAILURES]),
        U64(s.counters[DASH_C_AUTH_FAILURES]), U64(s.counters[DASH_C_STOLEN]),
        U64(s.counters[DASH_C_WORKER_DEATHS]),
        (long long)s.gauges[DASH_G_READY_QUEUE],
        (long long)s.gauges[DASH_G_TASKS], (long long)s.gauges[DASH_G_CLIENTS],
        U64(s.nrec), DASH_RING);
    dash_snap_free(&s);
}
