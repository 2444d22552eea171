/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scheduler.  One thread: it owns the endpoints, reads every message, keeps
 * the task graph and the data directory (which worker holds which result),
 * places ready tasks, and batches its records per peer (flushed once per
 * loop turn, so many tasks moving at once share messages).
 *
 * Placement (sched_place.c over the pure decisions of sched_pick.c; per
 * task, O(inputs^2), independent of the number of tasks and workers):
 *   - restricted task: among its allowed workers, as below;
 *   - task with future inputs: the worker holding most of its input bytes,
 *     ties to the one whose host holds most of the rest, then the least
 *     loaded; it waits in that worker's queue if the worker is full: no
 *     path moves a task away from its data for balance;
 *   - task without inputs: the next worker with room in a round-robin FIFO
 *     of non-full workers, else the global queue.
 * A worker's in-flight window grows when its tasks are short (so trivial
 * tasks stream) and shrinks to about one per thread when they are long (so
 * long tasks spread over workers).
 */
#include "sched/sched_int.h"

#include <sched.h>

/* A handshake message: HELLO only. */
static void on_handshake(sched *s, lnet_in *in)
{
    wire_rd r;
    int type, rc;
    while ((rc = wire_next(&in->rd, &type, &r)) == 1) {
        if (type == REC_HELLO) {
            sched_on_hello(s, in->ep, in->hdr.sid, &r);
        } else {
            s->dropped++;
            lc_log(LC_LOG_WARN, "sched", "%s outside a session dropped",
                   wire_rec_name(type));
        }
    }
}

/* The in-order records of one peer's session. */
/*
 * A batch of bookkeeping (a worker's DONEs, a client's SUBMIT_DIRECTs and
 * RELEASEs: hundreds of records in a message) takes the scheduler 100 us
 * and more.  On a host with fewer cores than busy processes that time is
 * taken from a client or worker in the middle of a round trip, which waits
 * for all of it: the task round trip's p99 was that batch.  So the
 * scheduler gives the CPU back every SLICE_NS of such work: whoever it
 * preempted runs first, the batch goes on after (it waits for nobody).
 */
#define SLICE_NS 3000ull
static void sched_slice(sched *s)
{
    uint64_t now = lc_now_ns();
    if (now - s->slice_ns < SLICE_NS)
        return;
    sched_yield();
    s->slice_ns = lc_now_ns();
}

static void on_message(sched *s, lnet_in *in)
{
    wire_rd r;
    int type;
    speer *p = in->sess->user;
    int id = p ? p->id : -1;
    int rc;
    uint64_t now = lc_now_ns(); /* once a message, not once a record */
    unsigned nrec = 0;
    while ((rc = wire_next(&in->rd, &type, &r)) == 1) {
        if ((++nrec & 7) == 0)
            sched_slice(s);
        if (!p || p->state == P_GONE) {
            s->dropped++;
            lc_log(LC_LOG_DEBUG, "sched", "%s after goodbye dropped",
                   wire_rec_name(type));
            continue;
        }
        p->last_seen = now;
        if (p->state == P_CHALLENGED) {
            if (type == REC_AUTH)
                sched_on_auth(s, p, &r);
            else {
                s->dropped++;
                lc_log(LC_LOG_WARN, "sched",
                       "%s before authentication "
                       "dropped",
                       wire_rec_name(type));
            }
            continue;
        }
        int client = p->role == ROLE_CLIENT, wk = p->role == ROLE_WORKER;
        switch (type) {
        case REC_SUBMIT:
            if (client)
                sched_on_submit(s, p, &r, 0);
            break;
        case REC_SUBMIT_DIRECT:
            if (client)
                sched_on_submit(s, p, &r, 1);
            break;
        case REC_LEASE_REQ:
            if (client)
                sched_on_lease_req(s, p, &r);
            break;
        case REC_RELEASE:
            if (client)
                sched_on_release(s, p, &r);
            break;
        case REC_CANCEL:
            if (client)
                sched_on_cancel(s, p, &r);
            break;
        case REC_REQUIRE:
            if (client)
                sched_on_require(s, p, &r);
            break;
        case REC_WORKERS_REQ:
            if (client)
                sched_on_workers_req(s, p, &r);
            break;
        case REC_STOP:
            if (client)
                sched_on_stop(s, p, &r);
            break;
        case REC_DONE:
            if (wk)
                sched_on_done(s, p, &r);
            break;
        case REC_LIB_LOADED:
            if (wk)
                sched_on_lib_loaded(s, p, &r);
            break;
        case REC_STOLEN:
            if (wk)
                sched_on_stolen(s, p, &r);
            break;
        case REC_DIRECT_GONE:
            if (wk)
                sched_on_direct_gone(s, p, &r);
            break;
        case REC_HEARTBEAT:
            sched_on_heartbeat(s, p, &r);
            break;
        case REC_REPLACES:
            if (wk)
                sched_on_replaces(s, p, &r);
            break;
        case REC_BYE: {
            /* everything it sent before is processed: confirm, and keep
               the session until the confirmation is acknowledged */
            wire_wr *o = out_to(s, p);
            wire_rec_begin(o, REC_GOODBYE);
            wire_rec_end(o);
            sched_peer_gone(s, p, "said goodbye");
            return;
        }
        default:
            s->dropped++;
            lc_log(LC_LOG_WARN, "sched",
                   "unexpected %s from peer %d "
                   "dropped",
                   wire_rec_name(type), p->id);
        }
    }
    if (rc < 0) {
        s->dropped++;
        lc_log(LC_LOG_WARN, "sched",
               "rest of message from peer %d dropped: "
               "%s",
               id, locus_last_error());
    }
}

/* What the session layer dropped, logged when it changes (at most once a
   second): a warning when something was forged or malformed. */
static void report_drops(sched *s, uint64_t now)
{
    lnet_stats *st = &s->net.st;
    uint64_t odd =
        st->bad_header + st->no_session + st->bad_mac + st->out_of_window;
    uint64_t all = odd + st->duplicates;
    if (all == s->drops_told || now - s->drops_ns < 1000000000ull)
        return;
    lc_log(odd != s->odd_told ? LC_LOG_WARN : LC_LOG_INFO, "sched",
           "dropped so far: %llu bad headers, %llu without a session, %llu "
           "bad MACs, %llu duplicates, %llu out of window",
           (unsigned long long)st->bad_header,
           (unsigned long long)st->no_session, (unsigned long long)st->bad_mac,
           (unsigned long long)st->duplicates,
           (unsigned long long)st->out_of_window);
    s->drops_told = all;
    s->odd_told = odd;
    s->drops_ns = now;
}

static void check_liveness(sched *s, uint64_t now)
{
    report_drops(s, now);
    /* idle for a second after work: give freed memory back to the system
       (glibc keeps it otherwise; a long-lived scheduler must not grow) */
    if (s->busy_ns && now - s->busy_ns > 1000000000ull) {
        lc_kt_shrink(&s->tasks);
        lnet_trim(&s->net);
        lc_heap_trim();
        s->busy_ns = 0;
    }
    uint64_t dead =
        (uint64_t)(s->o->dead_after_ms ? s->o->dead_after_ms : 10000) *
        1000000ull;
    for (int i = 1; i < s->npeers; i++) {
        speer *p = peer(s, i);
        if (p && p->state == P_GONE) {
            sched_reap_peer(s, p);
            continue;
        }
        if (!p)
            continue;
        uint64_t limit = p->state == P_CHALLENGED ? 10000000000ull : dead;
        if (now - p->last_seen > limit) {
            sched_peer_gone(s, p,
                            p->state == P_CHALLENGED
                                ? "did not authenticate in time"
                                : "no heartbeat");
            sched_end_session(s, p, 0);
        }
    }
}

static void shutdown_peers(sched *s, const char *why)
{
    for (int i = 1; i < s->npeers; i++) {
        speer *p = peer(s, i);
        if (!p || p->state != P_AUTHED)
            continue;
        wire_wr *o = out_to(s, p);
        wire_rec_begin(o, REC_SHUTDOWN);
        wire_put_str(o, why);
        wire_rec_end(o);
    }
    lnet_flush(&s->net);
}

static int make_job_id(char *buf, size_t len)
{
    uint8_t rnd[8];
    char hex[17];
    auth_random(rnd, sizeof(rnd));
    auth_to_hex(rnd, sizeof(rnd), hex);
    snprintf(buf, len, "%lld-%s", (long long)time(NULL), hex);
    return 0;
}

int sched_run(const struct sched_opts *o, volatile sig_atomic_t *stop)
{
    int rc = 0;
    sched s;
    memset(&s, 0, sizeof(s));
    s.o = o;
    lc_heap_keep();
    lc_kt_init(&s.tasks);
    lc_map_init(&s.by_sid);
    lc_map_init(&s.early);
    s.done_thread = -1;
    int wrote = 0;
    LC_CHECK(o->file && *o->file, out, rc, LOCUS_EINVAL, "sched",
             "no scheduler file path given (--scheduler-file)");
    LC_CHECK_RC(auth_init(), out, rc);
    /* never end inside the fabric library (runtime/net/README.md) */
    LC_CHECK_RC(xport_quiesce_at_exit(), out, rc);
    LC_CHECK_RC(xport_quiesce_on_crash(), out, rc);
    {
        /* what killed processes left in /dev/shm (ours included: a dead
           process with our pid would make the shm endpoint EBUSY) */
        int swept = arena_sweep(0, 1);
        if (swept)
            lc_log(LC_LOG_INFO, "sched",
                   "removed %d /dev/shm files of dead processes", swept);
    }
    LC_CHECK_RC(lnet_open(&s.net, o->provider, o->bind, o->port, o->no_shm),
                out, rc);
    lnet_alive(&s.net, 1); /* this thread drives it to the end */
    s.net.self = LNET_SCHED_ID;
    s.net.dead_ms = o->dead_after_ms ? o->dead_after_ms : 10000;
    /* peer ids start at 1 */
    LC_CHECK(sched_new_peer(&s), out, rc, LOCUS_ENOMEM, "sched", "no memory");
    s.peers[0]->state = P_GONE;

    make_job_id(s.sf.job_id, sizeof(s.sf.job_id));
    auth_random(s.sf.key, AUTH_KEY_LEN);
    snprintf(s.sf.provider, sizeof(s.sf.provider), "%s",
             xport_provider(s.net.ep[LNET_NET]));
    snprintf(s.sf.net_addr, sizeof(s.sf.net_addr), "%s", s.net.name[LNET_NET]);
    snprintf(s.sf.shm_addr, sizeof(s.sf.shm_addr), "%s", s.net.name[LNET_SHM]);
    snprintf(s.sf.host, sizeof(s.sf.host), "%s", lc_hostname());
    s.sf.pid = (int)getpid();
    s.sf.started = (int64_t)time(NULL);
    {
        struct dash_opts dopt = DASH_OPTS_INIT;
        dopt.listen = o->dashboard;
        dopt.http = !o->no_dashboard;
        dopt.token_required = o->dashboard_token;
        dopt.trace = getenv("LOCUS_TRACE");
        if (dash_open(&dopt, &s.dash) != 0)
            lc_log(LC_LOG_WARN, "sched", "running without a dashboard: %s",
                   locus_last_error());
        snprintf(s.sf.dashboard, sizeof(s.sf.dashboard), "%s",
                 dash_url(s.dash));
    }
    LC_CHECK_RC(schedfile_write(o->file, &s.sf), out, rc);
    wrote = 1;
    lc_log(LC_LOG_INFO, "sched",
           "job %s listening on %s (%s), shm %s; "
           "scheduler file %s",
           s.sf.job_id, s.net.name[LNET_NET], s.sf.provider,
           s.sf.shm_addr[0] ? s.sf.shm_addr : "off", o->file);

    lnet_in in[64];
    uint64_t last_check = lc_now_ns(), last_steal = 0;
    while (!*stop && !s.stopping) {
        int n = lnet_poll(&s.net, in, 64);
        s.slice_ns = lc_now_ns();
        for (int i = 0; i < n; i++) {
            if (in[i].kind == LNET_IN_MSG) {
                on_message(&s, &in[i]);
            } else if (in[i].kind == LNET_IN_HANDSHAKE) {
                on_handshake(&s, &in[i]);
            } else if (in[i].kind == LNET_IN_BROKEN) {
                speer *p = in[i].sess->user;
                if (p) {
                    sched_peer_gone(&s, p,
                                    "its session is broken (messages not "
                                    "acknowledged)");
                    sched_end_session(&s, p, 0);
                }
            }
            lnet_done(&s.net, &in[i]);
        }
        int backlog = lnet_flush(&s.net);
        if (s.nchallenges) {
            sched_handshakes(&s);
            backlog |= s.nchallenges;
        }
        uint64_t now = lc_now_ns();
        if (now - last_steal > 20000000ull) {
            sched_steal_tick(&s);
            last_steal = now;
        }
        if (now - last_check > 200000000ull) {
            check_liveness(&s, now);
            lnet_flush(&s.net);
            sched_dash_tick(&s);
            last_check = now;
        }
        if (n == 0)
            lnet_wait(&s.net, -50, backlog ? 1 : 200);
    }
    shutdown_peers(&s, s.stopping ? s.stop_why : "scheduler stopped");
    for (int tries = 0; tries < 100; tries++) {
        int n = lnet_poll(&s.net, in, 64);
        for (int i = 0; i < n; i++)
            lnet_done(&s.net, &in[i]);
        int busy = lnet_flush(&s.net);
        for (int i = 1; i < s.npeers && !busy; i++)
            busy = s.peers[i] && s.peers[i]->state == P_AUTHED &&
                   s.peers[i]->sess && !lnet_sess_idle(s.peers[i]->sess);
        if (!busy)
            break;
        lnet_wait(&s.net, 0, 10);
    }
    lnet_stats *st = &s.net.st;
    lc_log(LC_LOG_INFO, "sched",
           "messages in %llu, out %llu, sent again "
           "%llu; dropped: %llu bad headers, %llu without a session, %llu "
           "bad MACs, %llu duplicates, %llu out of window",
           (unsigned long long)st->msgs_in, (unsigned long long)st->msgs_out,
           (unsigned long long)st->resent, (unsigned long long)st->bad_header,
           (unsigned long long)st->no_session, (unsigned long long)st->bad_mac,
           (unsigned long long)st->duplicates,
           (unsigned long long)st->out_of_window);
    lc_log(LC_LOG_INFO, "sched",
           "stopping (%llu malformed or unauthenticated "
           "messages dropped)",
           (unsigned long long)s.dropped);
out:
    if (wrote)
        schedfile_remove(o->file); /* a file, or the PMIx record */
    dash_close(s.dash);
    {
        size_t it = 0;
        uint64_t k;
        void *v;
        for (lc_kt_it kit = {0}; lc_kt_next(&s.tasks, &kit, &k, &v);)
            sched_task_free(v);
        lc_kt_free(&s.tasks);
        it = 0;
        while (lc_map_next(&s.early, &it, &k, &v))
            free(v);
        lc_map_free(&s.early);
    }
    for (int i = 0; i < s.npeers; i++)
        free(s.peers[i]);
    free(s.peers);
    lc_map_free(&s.by_sid);
    free(s.freeq);
    for (int i = 0; i < s.nlibs; i++)
        free(s.libs[i]);
    free(s.libs);
    while (s.lib_reqs) {
        lib_req *q = s.lib_reqs;
        s.lib_reqs = q->next;
        free(q);
    }
    lnet_alive(&s.net, 0);
    lnet_close(&s.net);
    return rc;
}
