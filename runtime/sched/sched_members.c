/* SPDX-License-Identifier: BSD-3-Clause */
/* Membership: the handshake, heartbeats, peers that leave or die. */
#include "sched/sched_int.h"

#include <signal.h>

void sched_on_heartbeat(sched *s, speer *p, wire_rd *r)
{
    if (p->role != ROLE_WORKER)
        return;
    uint32_t running = wire_get_u32(r);
    uint32_t queued = wire_get_u32(r);
    uint64_t done = wire_get_u64(r);
    uint64_t c[WIRE_NCOUNTERS];
    for (int i = 0; i < WIRE_NCOUNTERS; i++)
        c[i] = wire_get_u64(r);
    if (!wire_rd_ok(r))
        return;
    (void)queued;
    (void)done;
    p->running = running;
    memcpy(p->counters, c, sizeof(c));
    sched_dash_worker(s, p);
}

static void announce(sched *s, speer *to, speer *about)
{
    rec_peer r;
    r.id = (uint32_t)about->id;
    r.role = (uint8_t)about->role;
    snprintf(r.host, sizeof(r.host), "%s", about->host);
    r.pid = (uint32_t)about->pid;
    snprintf(r.net, sizeof(r.net), "%s", about->net);
    snprintf(r.shm, sizeof(r.shm), "%s", about->shm);
    r.sid = about->sid;
    rec_put_peer(out_to(s, to), &r);
}

void sched_peer_gone(sched *s, speer *p, const char *why)
{
    if (p->state == P_GONE)
        return;
    int was_authed = p->state == P_AUTHED;
    if (!was_authed) {
        s->nunauthed--;
        lc_map_del(&s->by_sid, p->sid);
    }
    p->state = P_GONE;
    p->gone_ns = lc_now_ns();
    lc_log(was_authed && strcmp(why, "said goodbye") ? LC_LOG_WARN
                                                     : LC_LOG_INFO,
           "sched", "%s %d (%s pid %d) gone: %s",
           p->role == ROLE_WORKER ? "worker" : "client", p->id, p->host, p->pid,
           why);
    if (!was_authed)
        return;
    /* a process of this host killed before it could clean up: its
       segments and fabric files go now, not at the next start */
    if (p->pid > 0 && !strcmp(p->host, lc_hostname()) && kill(p->pid, 0) &&
        errno == ESRCH) {
        int n = arena_sweep(p->pid, 0);
        if (n)
            lc_log(LC_LOG_INFO, "sched",
                   "removed %d /dev/shm files of dead pid %d", n, p->pid);
    }
    if (p->role == ROLE_WORKER)
        dash_worker_gone(s->dash, p->id);
    sched_direct_gone(s, p);
    for (int i = 1; i < s->npeers; i++) {
        speer *q = peer(s, i);
        if (q && q != p && q->state == P_AUTHED) {
            wire_wr *o = out_to(s, q);
            wire_rec_begin(o, REC_PEER_GONE);
            wire_put_u32(o, (uint32_t)p->id);
            wire_rec_end(o);
        }
    }
    /* walk the task table once: rare event, O(tasks) is fine.  The tasks
       to handle are kept by key: handling one may free others (a failed
       or released task drops its inputs), and a freed task is no longer
       in the table */
    uint64_t *redo = NULL;
    size_t nredo = 0, capredo = 0;
    uint64_t k;
    void *v;
    tq waiting = p->queue;
    memset(&p->queue, 0, sizeof(p->queue));
    for (lc_kt_it kit = {0}; lc_kt_next(&s->tasks, &kit, &k, &v);) {
        stask *t = v;
        int mine =
            (p->role == ROLE_CLIENT && t->owner == p->id && !t->released) ||
            (p->role == ROLE_WORKER && t->worker == p->id &&
             (t->state == T_ASSIGNED || t->state == T_DONE));
        if (!mine)
            continue;
        if (nredo == capredo) {
            capredo = capredo ? capredo * 2 : 64;
            uint64_t *nr = realloc(redo, capredo * sizeof(*nr));
            if (!nr)
                break;
            redo = nr;
        }
        redo[nredo++] = t->key;
    }
    for (size_t i = 0; i < nredo; i++) {
        stask *t = lc_kt_get(&s->tasks, redo[i]);
        if (!t)
            continue;
        if (t->stealing) /* its STOLEN will not come */
            sched_steal_end(s, t);
        if (p->role == ROLE_CLIENT) {
            t->released = 1;
            if (!sched_final(t) && !t->nlive)
                t->canceled = 1;
            sched_maybe_free(s, t);
            continue;
        }
        if (t->state == T_DONE) {
            /* its result is lost: computed again from the graph, once
               every lost result is marked (an input may be lost too) */
            /* counted as new work: done and failed only ever grow */
            sched_dash_task(s, t, DASH_T_NONE, DASH_T_WAITING, NULL, 0, 0);
            t->state = T_WAITING;
            t->worker = -1;
            continue;
        }
        int was_running = t->state == T_ASSIGNED;
        t->worker = -1;
        /* a crash the nanny reported names the tasks that were running:
           only those use a retry; otherwise every assigned task does */
        int blamed = p->crashed ? t->blamed : was_running;
        t->blamed = 0;
        if (blamed && p->crashed && t->retries-- <= 0) {
            sched_fail_task(s, t, LOCUS_EKILLED,
                            "%s killed the %d worker process%s that ran it "
                            "(its retries are used up): %s",
                            t->fn, t->kills, t->kills == 1 ? "" : "es",
                            t->killlog ? t->killlog : "?");
            continue;
        }
        if (blamed && !p->crashed && t->retries-- <= 0) {
            sched_fail_task(
                s, t, LOCUS_ECLOSED,
                "worker %d (%s pid %d) died while running the task, "
                "and its retries are used up",
                p->id, p->host, p->pid);
            continue;
        }
        if (was_running)
            sched_dash_task(s, t, DASH_T_RUNNING, DASH_T_WAITING, NULL, 0, 0);
        t->state = T_WAITING;
        sched_make_ready(s, t);
    }
    for (size_t i = 0; p->role == ROLE_WORKER && i < nredo; i++) {
        stask *t = lc_kt_get(&s->tasks, redo[i]);
        if (t && t->state == T_WAITING && t->worker == -1 && t->deps_dropped)
            sched_recompute(s, t, p);
    }
    free(redo);
    /* tasks queued for this worker find another home */
    for (stask *t; (t = sched_tq_pop(&waiting));) {
        t->worker = -1;
        if (t->state != T_READY) {
            sched_maybe_free(s, t);
            continue;
        }
        t->state = T_WAITING;
        sched_make_ready(s, t);
    }
    /* library requests waiting for this worker */
    if (p->role == ROLE_WORKER) {
        for (lib_req *q = s->lib_reqs; q; q = q->next)
            q->remaining--; /* conservative: every pending request */
        sched_finish_lib_reqs(s);
    }
}

/* A peer that is gone: its session ends at the next liveness check, or
   (after a goodbye) once the GOODBYE was acknowledged or 10 s passed.  Not
   at once: the session's message may still be being handled. */
void sched_end_session(sched *s, speer *p, int linger)
{
    (void)s;
    if (!linger)
        p->close_now = 1;
}

/* Close the sessions of gone peers that are done, and forget the peers
   (a long-lived scheduler sees many clients come and go). */
void sched_reap_peer(sched *s, speer *p)
{
    if (p->sess && !p->close_now && !lnet_sess_idle(p->sess) &&
        lc_now_ns() - p->gone_ns < 10000000000ull)
        return;
    if (p->challenge_due)
        s->nchallenges--;
    if (p->sess)
        lnet_sess_close(&s->net, p->sess);
    lnet_unroute(&s->net, p->route);
    s->peers[p->id] = NULL;
    free(p);
}

speer *sched_new_peer(sched *s)
{
    if (s->npeers == s->cappeers) {
        int ncap = s->cappeers ? s->cappeers * 2 : 64;
        speer **np = realloc(s->peers, (size_t)ncap * sizeof(*np));
        if (!np)
            return NULL;
        s->peers = np;
        s->cappeers = ncap;
    }
    speer *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->id = s->npeers;
    s->peers[s->npeers++] = p;
    return p;
}

/* Handshake replies go outside any session and never wait on a peer (an
   address that does not answer must not stall the scheduler): one short
   try; a CHALLENGE the provider could not take is tried again each turn
   (sched_handshakes) until the peer authenticates or expires, a REFUSE is
   not (the peer asks again and is refused again). */
#define HANDSHAKE_TRY_MS 1

static void send_refuse(sched *s, lnet_route r, uint64_t sid, const char *why)
{
    wire_wr w;
    wire_wr_init(&w);
    wire_rec_begin(&w, REC_REFUSE);
    wire_put_str(&w, why);
    wire_rec_end(&w);
    lnet_send_handshake(&s->net, r, 0, sid, &w,
                        lc_deadline_ms(HANDSHAKE_TRY_MS));
    wire_wr_free(&w);
}

static int send_challenge(sched *s, speer *p)
{
    uint8_t mac[AUTH_MAC_LEN];
    auth_mac(s->sf.key, "locus-sched", p->pnonce, AUTH_NONCE_LEN, s->sf.job_id,
             strlen(s->sf.job_id), mac);
    rec_challenge c;
    memcpy(c.snonce, p->snonce, AUTH_NONCE_LEN);
    memcpy(c.mac, mac, AUTH_MAC_LEN);
    c.id = (uint32_t)p->id;
    wire_wr w;
    wire_wr_init(&w);
    rec_put_challenge(&w, &c);
    int rc = lnet_send_handshake(&s->net, p->route, (uint32_t)p->id, p->sid, &w,
                                 lc_deadline_ms(HANDSHAKE_TRY_MS));
    wire_wr_free(&w);
    if (rc && !p->challenge_due) {
        p->challenge_due = 1;
        s->nchallenges++;
    } else if (!rc && p->challenge_due) {
        p->challenge_due = 0;
        s->nchallenges--;
    }
    return rc;
}

void sched_handshakes(sched *s)
{
    for (int i = 1; s->nchallenges > 0 && i < s->npeers; i++) {
        speer *p = peer(s, i);
        if (p && p->challenge_due) {
            if (p->state != P_CHALLENGED) {
                p->challenge_due = 0;
                s->nchallenges--;
            } else {
                send_challenge(s, p);
            }
        }
    }
}

void sched_on_hello(sched *s, int ep, uint64_t sid, wire_rd *r)
{
    speer tmp;
    memset(&tmp, 0, sizeof(tmp));
    rec_hello h;
    if (rec_get_hello(r, &h) != 0) {
        s->dropped++;
        lc_log(LC_LOG_WARN, "sched", "malformed HELLO dropped");
        return;
    }
    char job[REC_JOB_MAX], ejob[4 * REC_JOB_MAX + 1];
    tmp.role = h.role;
    memcpy(tmp.pnonce, h.nonce, AUTH_NONCE_LEN);
    /* a peer's strings are logged and shown: escaped once, here */
    lc_esc(h.host, tmp.host, sizeof(tmp.host));
    tmp.pid = (int)h.pid;
    snprintf(tmp.net, sizeof(tmp.net), "%s", h.net);
    snprintf(tmp.shm, sizeof(tmp.shm), "%s", h.shm);
    tmp.numa = h.numa;
    lc_esc(h.cpuset, tmp.cpuset, sizeof(tmp.cpuset));
    tmp.nthreads = (int)h.nthreads;
    snprintf(job, sizeof(job), "%s", h.job);
    /* replies go where the HELLO says, over the endpoint it came by, or
       over shm for a peer on this host that says HELLO over the net
       provider so that we map its shm region now, while it lives
       (net/join.h): never to the transport's idea of the sender */
    lnet_route route = {ep, 0};
    int have = 0;
    if (ep == LNET_NET && s->net.ep[LNET_SHM] && tmp.shm[0] &&
        strcmp(h.host, lc_hostname()) == 0 &&
        lnet_insert(&s->net, LNET_SHM, tmp.shm, &route.addr) == 0) {
        ep = route.ep = LNET_SHM;
        have = 1;
    }
    const char *addr = ep == LNET_SHM ? tmp.shm : tmp.net;
    if (!have && lnet_insert(&s->net, ep, addr, &route.addr) != 0) {
        s->dropped++;
        lc_log(LC_LOG_WARN, "sched",
               "HELLO from %s pid %d with a bad "
               "address: %s",
               tmp.host, tmp.pid,
               lc_esc(locus_last_error(), ejob, sizeof(ejob)));
        return;
    }
    if (strcmp(job, s->sf.job_id) != 0) {
        lc_log(LC_LOG_WARN, "sched",
               "HELLO from %s pid %d for job '%s', "
               "this is job '%s' (stale scheduler file?): refused",
               tmp.host, tmp.pid, lc_esc(job, ejob, sizeof(ejob)),
               s->sf.job_id);
        send_refuse(s, route, sid,
                    "wrong job id: the scheduler file is "
                    "stale");
        lnet_unroute(&s->net, route);
        return;
    }
    if (s->nunauthed >= MAX_UNAUTHED) {
        lc_log(LC_LOG_WARN, "sched",
               "too many unauthenticated peers; "
               "HELLO from %s dropped",
               tmp.host);
        lnet_unroute(&s->net, route);
        return;
    }
    void *known = lc_map_get(&s->by_sid, sid);
    if (known) {
        /* the same HELLO again: our CHALLENGE was lost or is late; send
           the same one again rather than a second, conflicting one */
        speer *op = peer(s, (int)(intptr_t)known);
        if (op && op->state == P_CHALLENGED &&
            !memcmp(op->pnonce, tmp.pnonce, AUTH_NONCE_LEN)) {
            lc_log(LC_LOG_INFO, "sched",
                   "HELLO from %s pid %d again: "
                   "CHALLENGE sent again",
                   op->host, op->pid);
            send_challenge(s, op);
        }
        lnet_unroute(&s->net, route);
        return;
    }
    speer *p = sched_new_peer(s);
    if (!p) {
        lnet_unroute(&s->net, route);
        return;
    }
    int id = p->id;
    *p = tmp;
    p->id = id;
    p->sid = sid;
    p->state = P_CHALLENGED;
    p->route = route;
    p->last_seen = lc_now_ns();
    auth_random(p->snonce, AUTH_NONCE_LEN);
    uint8_t ktx[AUTH_KEY_LEN], krx[AUTH_KEY_LEN];
    lnet_keys_sched(s->sf.key, p->pnonce, p->snonce, 1, ktx, krx);
    p->sess = lnet_sess_open(&s->net, (uint32_t)p->id, sid, ktx, krx, route);
    sodium_memzero(ktx, sizeof(ktx));
    sodium_memzero(krx, sizeof(krx));
    if (!p->sess || lc_map_put(&s->by_sid, sid, (void *)(intptr_t)p->id)) {
        lc_log(LC_LOG_WARN, "sched",
               "no memory for a session with %s pid "
               "%d",
               p->host, p->pid);
        if (p->sess)
            lnet_sess_close(&s->net, p->sess);
        p->sess = NULL;
        p->state = P_GONE;
        p->close_now = 1;
        return;
    }
    p->sess->user = p;
    lnet_sess_fallback(&s->net, p->sess, p->net);
    s->nunauthed++;
    lc_log(LC_LOG_DEBUG, "sched",
           "HELLO from %s pid %d (%s) on %s handle "
           "%llu: peer %d challenged",
           p->host, p->pid, p->role == ROLE_WORKER ? "worker" : "client",
           ep == LNET_SHM ? "shm" : "net", (unsigned long long)route.addr,
           p->id);
    send_challenge(s, p);
}

void sched_on_auth(sched *s, speer *p, wire_rd *r)
{
    const uint8_t *mac = wire_get_raw(r, AUTH_MAC_LEN);
    uint8_t want[AUTH_MAC_LEN];
    auth_mac(s->sf.key, "locus-peer", p->snonce, AUTH_NONCE_LEN, p->pnonce,
             AUTH_NONCE_LEN, want);
    if (!mac || !auth_equal(mac, want)) {
        lc_log(LC_LOG_WARN, "sched",
               "peer %s pid %d failed authentication "
               "(wrong cluster key): refused",
               p->host, p->pid);
        send_refuse(s, p->route, p->sid,
                    "authentication failed: wrong "
                    "cluster key");
        dash_counter_add(s->dash, DASH_C_AUTH_FAILURES, 1);
        sched_peer_gone(s, p, "authentication failed");
        sched_end_session(s, p, 0);
        return;
    }
    p->state = P_AUTHED;
    s->nunauthed--;
    lc_map_del(&s->by_sid, p->sid);
    lc_log(LC_LOG_INFO, "sched",
           "%s %d joined: %s pid %d numa %d cpuset %s "
           "threads %d via %s",
           p->role == ROLE_WORKER ? "worker" : "client", p->id, p->host, p->pid,
           p->numa, p->cpuset, p->nthreads,
           p->route.ep == LNET_SHM ? "shm" : "net");
    wire_wr *o = out_to(s, p);
    wire_rec_begin(o, REC_WELCOME);
    wire_put_u32(o, (uint32_t)p->id);
    wire_put_u32(o, (uint32_t)(s->o->heartbeat_ms ? s->o->heartbeat_ms : 500));
    wire_put_u32(o, (uint32_t)s->net.dead_ms);
    wire_rec_end(o);
    /* workers know everyone; clients know the workers */
    for (int i = 1; i < s->npeers; i++) {
        speer *q = peer(s, i);
        if (!q || q == p || q->state != P_AUTHED)
            continue;
        if (p->role == ROLE_WORKER || q->role == ROLE_WORKER)
            announce(s, p, q);
        if (q->role == ROLE_WORKER || p->role == ROLE_WORKER)
            announce(s, q, p);
    }
    if (p->role == ROLE_WORKER) {
        p->last_done_ns = lc_now_ns();
        for (int i = 0; i < s->nlibs; i++) {
            wire_rec_begin(o, REC_LOAD_LIB);
            wire_put_u64(o, 0);
            wire_put_str(o, s->libs[i]);
            wire_rec_end(o);
        }
        sched_refill(s, p);
        sched_dash_worker(s, p);
    }
}

/* t killed worker process `old` so: counted, and named in its log */
static void count_kill(stask *t, const speer *old, const char *how)
{
    t->kills++;
    char line[256];
    snprintf(line, sizeof(line), "%sworker %d (%s pid %d) %s",
             t->killlog ? "; " : "", old->id, old->host, old->pid, how);
    size_t have = t->killlog ? strlen(t->killlog) : 0;
    if (have < 2048) {
        char *nl = realloc(t->killlog, have + strlen(line) + 1);
        if (nl) {
            memcpy(nl + have, line, strlen(line) + 1);
            t->killlog = nl;
        }
    }
}

void sched_on_replaces(sched *s, speer *p, wire_rd *r)
{
    uint32_t id = wire_get_u32(r);
    int pid = (int)wire_get_u32(r);
    int sig = wire_get_i32(r);
    int status = wire_get_i32(r);
    uint32_t n = wire_get_u32(r);
    if (!wire_rd_ok(r) || n > wire_rd_left(r) / 8 || sig < 0 || sig > 64) {
        s->dropped++;
        lc_log(LC_LOG_WARN, "sched", "malformed REPLACES from worker %d",
               p->id);
        return;
    }
    char how[128];
    if (sig)
        snprintf(how, sizeof(how), "killed by signal %d (%s)", sig,
                 strsignal(sig));
    else
        snprintf(how, sizeof(how), "exited with status %d", status);
    speer *old = worker(s, (int)id);
    if (!old || old->pid != pid || strcmp(old->host, p->host) != 0) {
        /* noticed already (its silence: a restart slower than the
           dead-after), or not one of ours */
        speer *gone = peer(s, (int)id);
        int late = !old && gone && gone->role == ROLE_WORKER &&
                   gone->state == P_GONE && gone->pid == pid &&
                   !strcmp(gone->host, p->host);
        lc_log(LC_LOG_INFO, "sched",
               "worker %d restarts worker %u (pid %d), %s: %s", p->id, id, pid,
               how,
               late  ? "noticed gone already; its tasks are told"
               : old ? "not that process"
                     : "gone already");
        for (uint32_t i = 0; i < n; i++) {
            /* a task it was running was placed again without blame (the
               silence did not say why): its kill still counts */
            stask *t = lc_kt_get(&s->tasks, wire_get_u64(r));
            if (late && t && !sched_final(t))
                count_kill(t, gone, how);
        }
        return;
    }
    /* the tasks it was running are to blame, each once */
    for (uint32_t i = 0; i < n; i++) {
        stask *t = lc_kt_get(&s->tasks, wire_get_u64(r));
        if (!t || t->worker != old->id || t->state != T_ASSIGNED || t->blamed)
            continue;
        t->blamed = 1;
        count_kill(t, old, how);
    }
    char why[256];
    snprintf(why, sizeof(why), "its process %s (restarted as worker %d)", how,
             p->id);
    old->crashed = 1;
    dash_counter_add(s->dash, DASH_C_WORKER_DEATHS, 1);
    sched_peer_gone(s, old, why);
    sched_end_session(s, old, 0);
}

void sched_on_stop(sched *s, speer *p, wire_rd *r)
{
    uint64_t req;
    char why[REC_REASON_MAX];
    if (rec_get_stop(r, &req, why) != 0) {
        s->dropped++;
        lc_log(LC_LOG_WARN, "sched", "client %d: %s", p->id,
               locus_last_error());
        return;
    }
    /* answered before SHUTDOWN, in the same session: the client knows its
       request was taken before it hears that the scheduler shuts down */
    rec_put_stopping(out_to(s, p), req, 0, "");
    if (!s->stopping) {
        s->stopping = 1;
        snprintf(s->stop_why, sizeof(s->stop_why),
                 "client %d (pid %d on %s) stopped the cluster%s%.120s", p->id,
                 p->pid, p->host, why[0] ? ": " : "", why);
    }
    lc_log(LC_LOG_INFO, "sched", "%s", s->stop_why);
}
