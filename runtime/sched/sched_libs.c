/* SPDX-License-Identifier: BSD-3-Clause */
/* Task libraries every worker loads, and the worker table for clients. */
#include "sched/sched_int.h"

void sched_on_require(sched *s, speer *c, wire_rd *r)
{
    char path[1024];
    uint64_t creq = wire_get_u64(r);
    wire_get_str(r, path, sizeof(path));
    if (!wire_rd_ok(r))
        return;
    int known = 0;
    for (int i = 0; i < s->nlibs; i++)
        known |= !strcmp(s->libs[i], path);
    if (!known) {
        char **nl = realloc(s->libs, (size_t)(s->nlibs + 1) * sizeof(char *));
        if (nl) {
            s->libs = nl;
            s->libs[s->nlibs++] = strdup(path);
        }
    }
    lib_req *q = calloc(1, sizeof(*q));
    if (!q)
        return;
    q->id = ++s->next_req;
    q->client = c->id;
    q->client_req = creq;
    for (int i = 1; i < s->npeers; i++) {
        speer *w = worker(s, i);
        if (!w)
            continue;
        wire_wr *o = out_to(s, w);
        wire_rec_begin(o, REC_LOAD_LIB);
        wire_put_u64(o, q->id);
        wire_put_str(o, path);
        wire_rec_end(o);
        q->remaining++;
    }
    q->next = s->lib_reqs;
    s->lib_reqs = q;
    /* no worker yet: nothing to wait for; those that join load it */
    sched_finish_lib_reqs(s);
}

void sched_finish_lib_reqs(sched *s)
{
    for (lib_req **pp = &s->lib_reqs; *pp;) {
        lib_req *q = *pp;
        if (q->remaining > 0) {
            pp = &q->next;
            continue;
        }
        speer *c = peer(s, q->client);
        if (c && c->state == P_AUTHED) {
            wire_wr *o = out_to(s, c);
            wire_rec_begin(o, REC_REQUIRE_DONE);
            wire_put_u64(o, q->client_req);
            wire_put_i32(o, q->status);
            wire_put_str(o, q->msg);
            wire_rec_end(o);
        }
        *pp = q->next;
        free(q);
    }
}

void sched_on_lib_loaded(sched *s, speer *w, wire_rd *r)
{
    char msg[1024];
    uint64_t id = wire_get_u64(r);
    int status = wire_get_i32(r);
    wire_get_str(r, msg, sizeof(msg));
    if (!wire_rd_ok(r))
        return;
    if (status)
        lc_log(LC_LOG_WARN, "sched", "worker %d (%s pid %d): %s", w->id,
               w->host, w->pid, msg);
    for (lib_req *q = s->lib_reqs; q; q = q->next) {
        if (q->id != id)
            continue;
        q->remaining--;
        if (status) {
            q->status = status;
            size_t l = strlen(q->msg);
            snprintf(q->msg + l, sizeof(q->msg) - l,
                     "%sworker %d (%s pid %d): %s", l ? "; " : "", w->id,
                     w->host, w->pid, msg);
        }
    }
    sched_finish_lib_reqs(s);
}

void sched_on_workers_req(sched *s, speer *c, wire_rd *r)
{
    uint64_t req = wire_get_u64(r);
    if (!wire_rd_ok(r))
        return;
    uint32_t n = 0;
    for (int i = 1; i < s->npeers; i++)
        n += worker(s, i) != NULL;
    wire_wr *o = out_to(s, c);
    wire_rec_begin(o, REC_WORKERS);
    wire_put_u64(o, req);
    wire_put_u32(o, n);
    for (int i = 1; i < s->npeers; i++) {
        speer *w = worker(s, i);
        if (!w)
            continue;
        wire_put_u32(o, (uint32_t)w->id);
        wire_put_u32(o, (uint32_t)w->pid);
        wire_put_str(o, w->host);
        wire_put_i32(o, w->numa);
        wire_put_str(o, w->cpuset);
        wire_put_u32(o, (uint32_t)w->nthreads);
        wire_put_u32(o, w->running);
        wire_put_u32(o, (uint32_t)(w->assigned > (int)w->running
                                       ? w->assigned - (int)w->running
                                       : 0));
        wire_put_u64(o, w->done);
        for (int k = 0; k < WIRE_NCOUNTERS; k++)
            wire_put_u64(o, w->counters[k]);
    }
    wire_rec_end(o);
}
