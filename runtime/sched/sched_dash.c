/* SPDX-License-Identifier: BSD-3-Clause */
/* The dashboard's feed (runtime/dash/dash.h): cheap calls from the
 * scheduler's thread. */
#include "sched/sched_int.h"

/* Task t moves from -> to (enum dash_state); dur > 0: it ran dur ns on w,
   and its inputs are counted by where they were when it was placed. */
void sched_dash_task(sched *s, stask *t, int from, int to, speer *w,
                     uint64_t dur, int status)
{
    if (!s->dash)
        return;
    struct dash_task_ev e = {.fn = t->fn,
                             .from = (uint8_t)from,
                             .to = (uint8_t)to,
                             .worker = w ? w->id : -1,
                             .thread = -1, /* below, from the DONE */
                             .status = status,
                             .duration_ns = dur};
    if (dur && w) {
        /* the DONE being handled says which thread ran it and how long
           ago it started (the worker's clock is not ours); without it,
           it ended now */
        uint64_t now = lc_now_ns(), ago = s->done_ago ? s->done_ago : dur;
        e.start_ns = now > ago ? now - ago : 0;
        e.thread = s->done_thread;
        s->done_thread = -1;
        s->done_ago = 0;
        speer *c = peer(s, t->owner);
        uint64_t most = 0;
        for (uint32_t i = 0; i < t->nargs; i++) {
            sarg *a = &t->args[i];
            speer *h = a->kind == ARG_PUT ? c
                       : a->dep           ? peer(s, a->dep->worker)
                                          : NULL;
            uint64_t n = a->kind == ARG_PUT ? a->putlen
                         : a->dep           ? a->dep->nbytes
                                            : 0;
            if (h == w)
                e.bytes_stayed += n;
            else if (h && !strcmp(h->host, w->host))
                e.bytes_same_host += n;
            else
                e.bytes_other_host += n;
            if (h && h != w && h != c && n >= most) {
                most = n;
                e.src_worker = h->id; /* the page draws this transfer */
            }
        }
    }
    dash_task_event(s->dash, &e);
}

void sched_dash_worker(sched *s, speer *w)
{
    if (!s->dash)
        return;
    struct dash_worker d = {.id = w->id,
                            .pid = w->pid,
                            .numa = w->numa,
                            .nthreads = w->nthreads,
                            .host = w->host,
                            .cpuset = w->cpuset,
                            .running = w->running,
                            .queued = w->assigned > (int)w->running
                                          ? (uint32_t)w->assigned - w->running
                                          : 0,
                            .sched_queued = (uint32_t)w->queue.n,
                            .tasks_done = w->done,
                            .bytes_held = w->counters[0],
                            .arena_reserved = w->counters[1],
                            .bytes_mapped = w->counters[2],
                            .bytes_rma = w->counters[3],
                            .bytes_inline = w->counters[4],
                            .tasks_local = w->counters[5],
                            .tasks_remote = w->counters[6],
                            .last_heartbeat_ns = lc_now_ns()};
    dash_worker_update(s->dash, &d);
}

/* Totals and queue lengths, a few times a second. */
void sched_dash_tick(sched *s)
{
    int clients = 0;
    for (int i = 1; s->dash && i < s->npeers; i++)
        clients += s->peers[i] && s->peers[i]->role == ROLE_CLIENT &&
                   s->peers[i]->state == P_AUTHED;
    lnet_stats *st = &s->net.st;
    dash_counter_set(s->dash, DASH_C_DROPPED,
                     s->dropped + st->bad_header + st->no_session +
                         st->out_of_window);
    dash_counter_set(s->dash, DASH_C_MAC_FAILURES, st->bad_mac);
    dash_counter_set(s->dash, DASH_C_MESSAGES, st->msgs_in);
    dash_gauge_set(s->dash, DASH_G_READY_QUEUE, (int64_t)s->ready.n);
    dash_gauge_set(s->dash, DASH_G_TASKS, (int64_t)s->tasks.n);
    dash_gauge_set(s->dash, DASH_G_CLIENTS, clients);
}
