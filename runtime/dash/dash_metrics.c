/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /metrics: the Prometheus text exposition format (version 0.0.4).  Names
 * follow the Prometheus conventions: base units (_seconds, _bytes), _total
 * on counters, one HELP and TYPE per family.  Checked by `promtool check
 * metrics` in tests/test_dash.c.
 */
#include <string.h>

#include "dash/dash_int.h"

#define U64(x) ((unsigned long long)(x))

static void family(dbuf *b, const char *name, const char *type,
                   const char *help)
{
    dbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{worker="id"} value, for every worker */
#define PER_WORKER(b, s, name, field)                                          \
    for (int i_ = 0; i_ < (s)->nwk; i_++)                                      \
    dbuf_printf((b), name "{worker=\"%d\"} %llu\n", (s)->wk[i_].id,            \
                U64((s)->wk[i_].field))

static void fn_label(dbuf *b, const char *metric, const dash_fn *f)
{
    dbuf_printf(b, "%s{function=", metric);
    dbuf_label(b, f->name);
}

void dash_metrics(dash *d, dbuf *b)
{
    dash_snap s;
    if (dash_snapshot(d, &s) != 0) {
        b->err = 1;
        return;
    }
    int nf = s.nfn + 1; /* with "(other)" */
    dash_fn tot;
    memset(&tot, 0, sizeof(tot));
    for (int i = 0; i < nf; i++) {
        tot.submitted += s.fns[i].submitted;
        for (int k = 0; k < DASH_NSTATES; k++)
            tot.n[k] += s.fns[i].n[k];
    }

    family(b, "locus_tasks_total", "counter",
           "Tasks submitted, and tasks that ended done or failed.");
    dbuf_printf(b, "locus_tasks_total{state=\"submitted\"} %llu\n",
                U64(tot.submitted));
    dbuf_printf(b, "locus_tasks_total{state=\"done\"} %llu\n",
                U64(tot.n[DASH_T_DONE]));
    dbuf_printf(b, "locus_tasks_total{state=\"failed\"} %llu\n",
                U64(tot.n[DASH_T_FAILED]));
    family(b, "locus_tasks", "gauge",
           "Tasks waiting (for inputs or a worker slot) and running (sent "
           "to a worker) now.");
    dbuf_printf(b, "locus_tasks{state=\"waiting\"} %llu\n",
                U64(tot.n[DASH_T_WAITING]));
    dbuf_printf(b, "locus_tasks{state=\"running\"} %llu\n",
                U64(tot.n[DASH_T_RUNNING]));

    family(b, "locus_function_tasks_total", "counter",
           "Tasks per function name: submitted, done, failed.");
    for (int i = 0; i < nf; i++) {
        const dash_fn *f = &s.fns[i];
        if (i == s.nfn && !f->submitted)
            continue;
        static const char *st[] = {"submitted", "done", "failed"};
        uint64_t v[] = {f->submitted, f->n[DASH_T_DONE], f->n[DASH_T_FAILED]};
        for (int k = 0; k < 3; k++) {
            fn_label(b, "locus_function_tasks_total", f);
            dbuf_printf(b, ",state=\"%s\"} %llu\n", st[k], U64(v[k]));
        }
    }
    family(b, "locus_function_tasks", "gauge",
           "Tasks per function name waiting and running now.");
    for (int i = 0; i < nf; i++) {
        const dash_fn *f = &s.fns[i];
        if (i == s.nfn && !f->submitted)
            continue;
        fn_label(b, "locus_function_tasks", f);
        dbuf_printf(b, ",state=\"waiting\"} %llu\n", U64(f->n[DASH_T_WAITING]));
        fn_label(b, "locus_function_tasks", f);
        dbuf_printf(b, ",state=\"running\"} %llu\n", U64(f->n[DASH_T_RUNNING]));
    }

    family(b, "locus_task_duration_seconds", "histogram",
           "Run time of finished tasks on their worker, per function name.");
    for (int i = 0; i < nf; i++) {
        const dash_fn *f = &s.fns[i];
        if (!f->dur_count)
            continue;
        uint64_t cum = 0;
        for (int k = 0; k <= DASH_NBUCKETS; k++) {
            cum += f->hist[k];
            fn_label(b, "locus_task_duration_seconds_bucket", f);
            if (k < DASH_NBUCKETS)
                dbuf_printf(b, ",le=\"%g\"} %llu\n", dash_bucket_le[k],
                            U64(cum));
            else
                dbuf_printf(b, ",le=\"+Inf\"} %llu\n", U64(cum));
        }
        fn_label(b, "locus_task_duration_seconds_sum", f);
        dbuf_printf(b, "} %.9f\n", f->dur_sum_s);
        fn_label(b, "locus_task_duration_seconds_count", f);
        dbuf_printf(b, "} %llu\n", U64(f->dur_count));
    }

    family(b, "locus_placed_input_bytes_total", "counter",
           "Bytes of finished tasks' future inputs by where they were when "
           "the task was placed: on its own worker (stayed), on its host, on "
           "another host.");
    for (int i = 0; i < nf; i++) {
        const dash_fn *f = &s.fns[i];
        if (!f->dur_count)
            continue;
        static const char *pl[] = {"stayed", "same_host", "other_host"};
        uint64_t v[] = {f->bytes_stayed, f->bytes_same_host,
                        f->bytes_other_host};
        for (int k = 0; k < 3; k++) {
            fn_label(b, "locus_placed_input_bytes_total", f);
            dbuf_printf(b, ",place=\"%s\"} %llu\n", pl[k], U64(v[k]));
        }
    }

    family(b, "locus_workers", "gauge", "Workers connected.");
    dbuf_printf(b, "locus_workers %d\n", s.nwk);
    family(b, "locus_worker_info", "gauge",
           "Where each worker runs (value 1): host, pid, NUMA node, cpuset.");
    for (int i = 0; i < s.nwk; i++) {
        const dash_wk *w = &s.wk[i];
        dbuf_printf(b, "locus_worker_info{worker=\"%d\",host=", w->id);
        dbuf_label(b, w->host);
        dbuf_printf(b, ",pid=\"%d\",numa=\"%d\",cpuset=", w->pid, w->numa);
        dbuf_label(b, w->cpuset);
        dbuf_puts(b, "} 1\n");
    }
    family(b, "locus_worker_threads", "gauge", "Task threads per worker.");
    PER_WORKER(b, &s, "locus_worker_threads", nthreads);
    family(b, "locus_worker_running_tasks", "gauge",
           "Tasks running on each worker's threads (last heartbeat).");
    PER_WORKER(b, &s, "locus_worker_running_tasks", running);
    family(b, "locus_worker_queued_tasks", "gauge",
           "Tasks waiting for a worker: sent to it and not running yet "
           "(where=worker), or held by the scheduler for it "
           "(where=scheduler).");
    for (int i = 0; i < s.nwk; i++) {
        dbuf_printf(b,
                    "locus_worker_queued_tasks{worker=\"%d\",where=\"worker\"}"
                    " %u\n",
                    s.wk[i].id, s.wk[i].queued);
        dbuf_printf(b,
                    "locus_worker_queued_tasks{worker=\"%d\","
                    "where=\"scheduler\"} %u\n",
                    s.wk[i].id, s.wk[i].sched_queued);
    }
    family(b, "locus_worker_tasks_done_total", "counter",
           "Tasks each worker finished.");
    PER_WORKER(b, &s, "locus_worker_tasks_done_total", tasks_done);
    family(b, "locus_worker_started_tasks_total", "counter",
           "Tasks each worker started with every input already there "
           "(inputs=local) or after fetching one (inputs=remote).");
    for (int i = 0; i < s.nwk; i++) {
        dbuf_printf(b,
                    "locus_worker_started_tasks_total{worker=\"%d\","
                    "inputs=\"local\"} %llu\n",
                    s.wk[i].id, U64(s.wk[i].tasks_local));
        dbuf_printf(b,
                    "locus_worker_started_tasks_total{worker=\"%d\","
                    "inputs=\"remote\"} %llu\n",
                    s.wk[i].id, U64(s.wk[i].tasks_remote));
    }
    family(b, "locus_worker_input_bytes_total", "counter",
           "Bytes of inputs that reached each worker from elsewhere, by "
           "path: mapped (same host, zero copies), rma (fi_read), inline "
           "(inside messages).");
    for (int i = 0; i < s.nwk; i++) {
        static const char *pa[] = {"mapped", "rma", "inline"};
        uint64_t v[] = {s.wk[i].bytes_mapped, s.wk[i].bytes_rma,
                        s.wk[i].bytes_inline};
        for (int k = 0; k < 3; k++)
            dbuf_printf(b,
                        "locus_worker_input_bytes_total{worker=\"%d\","
                        "path=\"%s\"} %llu\n",
                        s.wk[i].id, pa[k], U64(v[k]));
    }
    family(b, "locus_worker_held_bytes", "gauge",
           "Bytes of task results each worker holds.");
    PER_WORKER(b, &s, "locus_worker_held_bytes", bytes_held);
    family(b, "locus_worker_arena_reserved_bytes", "gauge",
           "Bytes of shared-memory segments each worker's arena reserved.");
    PER_WORKER(b, &s, "locus_worker_arena_reserved_bytes", arena_reserved);
    family(b, "locus_worker_heartbeat_lag_seconds", "gauge",
           "Time since each worker's last heartbeat.");
    for (int i = 0; i < s.nwk; i++) {
        const dash_wk *w = &s.wk[i];
        double lag = s.now_ns > w->last_heartbeat_ns
                         ? (double)(s.now_ns - w->last_heartbeat_ns) * 1e-9
                         : 0;
        dbuf_printf(b,
                    "locus_worker_heartbeat_lag_seconds{worker=\"%d\"} "
                    "%.6f\n",
                    w->id, lag);
    }

    family(b, "locus_ready_queue_tasks", "gauge",
           "Ready tasks the scheduler holds until any worker has room.");
    dbuf_printf(b, "locus_ready_queue_tasks %lld\n",
                (long long)s.gauges[DASH_G_READY_QUEUE]);
    family(b, "locus_scheduler_tasks", "gauge",
           "Tasks the scheduler holds (any state, until released).");
    dbuf_printf(b, "locus_scheduler_tasks %lld\n",
                (long long)s.gauges[DASH_G_TASKS]);
    family(b, "locus_clients", "gauge", "Clients connected.");
    dbuf_printf(b, "locus_clients %lld\n", (long long)s.gauges[DASH_G_CLIENTS]);
    family(b, "locus_messages_received_total", "counter",
           "Messages the scheduler received.");
    dbuf_printf(b, "locus_messages_received_total %llu\n",
                U64(s.counters[DASH_C_MESSAGES]));
    family(b, "locus_messages_dropped_total", "counter",
           "Malformed, unexpected or unauthenticated messages dropped.");
    dbuf_printf(b, "locus_messages_dropped_total %llu\n",
                U64(s.counters[DASH_C_DROPPED]));
    family(b, "locus_mac_failures_total", "counter",
           "Messages whose MAC did not verify.");
    dbuf_printf(b, "locus_mac_failures_total %llu\n",
                U64(s.counters[DASH_C_MAC_FAILURES]));
    family(b, "locus_auth_failures_total", "counter",
           "Handshakes refused for a wrong cluster key.");
    dbuf_printf(b, "locus_auth_failures_total %llu\n",
                U64(s.counters[DASH_C_AUTH_FAILURES]));
    family(b, "locus_tasks_stolen_total", "counter",
           "Unstarted tasks moved from a stuck worker to an idle one.");
    dbuf_printf(b, "locus_tasks_stolen_total %llu\n",
                U64(s.counters[DASH_C_STOLEN]));
    family(b, "locus_worker_process_deaths_total", "counter",
           "Worker processes that died and were restarted by their nanny.");
    dbuf_printf(b, "locus_worker_process_deaths_total %llu\n",
                U64(s.counters[DASH_C_WORKER_DEATHS]));
    family(b, "locus_task_stream_records_total", "counter",
           "Finished tasks recorded in the task stream (the last 65536 are "
           "kept).");
    dbuf_printf(b, "locus_task_stream_records_total %llu\n", U64(s.nrec));
    family(b, "locus_trace_lost_records_total", "counter",
           "Task stream records the trace file missed (the writer fell a "
           "whole ring behind).");
    dbuf_printf(b, "locus_trace_lost_records_total %llu\n", U64(s.trace_lost));
    family(b, "locus_dashboard_requests_total", "counter",
           "HTTP requests the dashboard answered, by status class.");
    static const char *cls[] = {"2xx", "3xx", "4xx", "5xx"};
    for (int k = 0; k < 4; k++)
        dbuf_printf(b, "locus_dashboard_requests_total{code=\"%s\"} %llu\n",
                    cls[k], U64(s.http_requests[k]));
    dash_snap_free(&s);
}
