/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker.  The progress thread owns the endpoints: it reads COMPUTE records,
 * resolves the function (built-ins, then the required libraries), pins
 * local inputs, fetches remote ones (GET, then inline bytes or fi_read),
 * queues the task for the task threads, and sends DONE records in batches.
 * Task threads only run functions; they never touch the fabric.
 * Heartbeats come from the progress thread, which task code never blocks.
 */
#include "worker/worker_int.h"

int worker_id_of(const struct worker *w)
{
    return w->id;
}

int worker_node_of(const struct worker *w)
{
    return w->node;
}

/* ---- peers and sending ----------------------------------------------------
 */

/* A message of a pair session: the data plane. */
static void on_peer_message(worker *w, lnet_in *in)
{
    wpeer *p = in->sess->user;
    wire_rd r;
    int type, rc;
    while ((rc = wire_next(&in->rd, &type, &r)) == 1) {
        if (type == REC_GET)
            worker_on_get(w, p, &r);
        else if (type == REC_DATA)
            worker_on_data(w, in->ep, &r);
        else if (type == REC_COMPUTE_DIRECT && p->role == ROLE_CLIENT &&
                 w->join.state == LJ_JOINED)
            worker_on_compute(w, &r, p->id);
        else if (type == REC_RELEASE_DIRECT && p->role == ROLE_CLIENT &&
                 w->join.state == LJ_JOINED)
            worker_on_release_direct(w, &r, p->id);
        else
            lc_log(LC_LOG_WARN, "worker", "unexpected %s from peer %d",
                   wire_rec_name(type), p->id);
    }
    if (rc < 0)
        lc_log(LC_LOG_WARN, "worker",
               "rest of message from peer %d "
               "dropped: %s",
               p->id, locus_last_error());
}

/* This process restarts one that died: say which, how, and what it ran. */
static void send_replaces(worker *w, const worker_prev *p)
{
    char how[128];
    nanny_describe(p->sig, p->status, how, sizeof(how));
    lc_log(LC_LOG_INFO, "worker",
           "replacing worker %u (pid %d), %s while running %u task(s)", p->id,
           p->pid, how, p->nkeys);
    wire_wr *o = to_sched(w);
    wire_rec_begin(o, REC_REPLACES);
    wire_put_u32(o, p->id);
    wire_put_u32(o, (uint32_t)p->pid);
    wire_put_i32(o, p->sig);
    wire_put_i32(o, p->status);
    wire_put_u32(o, p->nkeys);
    for (uint32_t i = 0; i < p->nkeys; i++)
        wire_put_u64(o, p->keys[i]);
    wire_rec_end(o);
}

/* A message of the scheduler's session. */
static int on_sched_message(worker *w, lnet_in *in, int *quit)
{
    wire_rd r;
    int type, rc;
    while ((rc = wire_next(&in->rd, &type, &r)) == 1) {
        if (w->join.state != LJ_JOINED && type != REC_WELCOME)
            continue;
        switch (type) {
        case REC_WELCOME:
            if (ljoin_on_welcome(&w->join, &r) != 0)
                return LOCUS_EPROTO;
            w->id = (int)w->join.id;
            w->heartbeat_ms = w->join.heartbeat_ms;
            if (w->join.dead_ms)
                w->net.dead_ms = w->join.dead_ms;
            lc_log(LC_LOG_INFO, "worker",
                   "joined as worker %d (node %d, "
                   "cpuset %s, %d threads)",
                   w->id, w->node, w->cpuset, w->nthreads);
            if (w->o->nanny) {
                atomic_store(&w->o->nanny->id, (uint32_t)w->id);
                atomic_store(&w->o->nanny->state, NANNY_JOINED);
            }
            if (w->o->prev && w->o->prev->id)
                send_replaces(w, w->o->prev);
            break;
        case REC_COMPUTE:
            worker_on_compute(w, &r, 0);
            break;
        case REC_FREE:
            worker_on_free(w, &r);
            break;
        case REC_CANCEL:
            worker_on_cancel(w, &r);
            break;
        case REC_STEAL:
            worker_on_steal(w, &r);
            break;
        case REC_LOAD_LIB:
            worker_on_load_lib(w, &r);
            break;
        case REC_PEER:
            worker_on_peer(w, &r);
            break;
        case REC_PEER_GONE:
            worker_on_peer_gone(w, &r);
            break;
        case REC_GOODBYE:
            *quit = 2;
            return 0;
        case REC_SHUTDOWN: {
            char why[256];
            wire_get_str(&r, why, sizeof(why));
            lc_log(LC_LOG_INFO, "worker", "shutdown: %s", why);
            *quit = 1;
            return 0;
        }
        default:
            lc_log(LC_LOG_WARN, "worker", "unexpected %s from the scheduler",
                   wire_rec_name(type));
        }
    }
    if (rc < 0)
        lc_log(LC_LOG_WARN, "worker", "rest of message dropped: %s",
               locus_last_error());
    return 0;
}

/* One turn of the progress loop: handle what arrived.  0, or a fatal
   error (refused, scheduler gone). */
static int handle_inputs(worker *w, lnet_in *in, int n, int *quit)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            if (in[i].kind == LNET_IN_HANDSHAKE) {
                rc = ljoin_on_handshake(&w->join, &w->net, &w->sf, &in[i]);
            } else if (in[i].kind == LNET_IN_MSG) {
                if (in[i].sess == w->join.sess)
                    rc = on_sched_message(w, &in[i], quit);
                else
                    on_peer_message(w, &in[i]);
            } else if (in[i].kind == LNET_IN_READ) {
                worker_on_read_event(w, &in[i].ev);
            } else if (in[i].kind == LNET_IN_BROKEN) {
                if (in[i].sess == w->join.sess)
                    rc = lc_seterr(LOCUS_ECLOSED, "worker",
                                   "the scheduler "
                                   "is gone: it acknowledges nothing");
                /* a peer: the scheduler says PEER_GONE when it is gone */
            }
        }
        lnet_done(&w->net, &in[i]);
    }
    return rc;
}

/* Cancel every task; a task that does not look at that holds this
   process 1 s at most: then it exits (code) without it. */
static void cancel_all_within_1s(worker *w, const char *after, int code)
{
    uint64_t k;
    void *v;
    for (lc_kt_it kit = {0}; lc_kt_next(&w->tasks, &kit, &k, &v);)
        atomic_store(&((struct locus_task *)v)->canceled, 1);
    if (worker_stop_threads_within(w, 1000) != 0) {
        lc_log(LC_LOG_WARN, "worker",
               "a task does not stop within 1 s of %s: this process exits "
               "without it",
               after);
        fflush(NULL);
        _exit(code);
    }
}

int worker_run(const struct worker_opts *o, volatile sig_atomic_t *stop)
{
    int rc = 0;
    lc_heap_keep();
    worker *w = calloc(1, sizeof(*w));
    if (!w)
        return lc_seterr(LOCUS_ENOMEM, "worker", "no memory");
    w->o = o;
    w->id = -1;
    lc_kt_init(&w->objs);
    lc_kt_init(&w->tasks);
    lc_map_init(&w->fetches);
    lc_map_init(&w->inflight);
    lc_map_init(&w->fnstats);
    pthread_mutex_init(&w->qmu, NULL);
    pthread_cond_init(&w->qcv, NULL);
    pthread_mutex_init(&w->dmu, NULL);
    w->net.wake_fd = -1;
    int quit = 0;

    /* bind first: memory touched before binding lands on the wrong node */
    LC_CHECK_RC(topo_load(o->topology, &w->topo), out, rc);
    w->node = o->numa_node >= 0 ? o->numa_node : 0;
    LC_CHECK(w->node < topo_numa_count(w->topo), out, rc, LOCUS_EINVAL,
             "worker", "NUMA node %d requested, the topology has %d", w->node,
             topo_numa_count(w->topo));
    LC_CHECK_RC(topo_bind_process(w->topo, w->node), out, rc);
    topo_numa_cpuset(w->topo, w->node, w->cpuset, sizeof(w->cpuset));
    w->nthreads =
        o->nthreads > 0 ? o->nthreads : topo_numa_ncores(w->topo, w->node);
    if (w->nthreads < 1)
        w->nthreads = 1;

    LC_CHECK_RC(auth_init(), out, rc);
    arena_sweep(0, 1); /* leftovers of dead processes, before we make any */
    /* a crash in task code must reach the nanny as the signal it is */
    if (xport_default_crash_signals() > 0)
        lc_log(LC_LOG_DEBUG, "worker",
               "crash signals back to their default action (the PSM "
               "libraries had taken them)");
    /* a task that calls exit() or crashes must not end this process while
       a thread of it is inside the fabric library (runtime/net/README.md:
       processes that end inside the provider) */
    LC_CHECK_RC(xport_quiesce_at_exit(), out, rc);
    LC_CHECK_RC(xport_quiesce_on_crash(), out, rc);
    LC_CHECK_RC(schedfile_read(o->sched_file, &w->sf), out, rc);
    {
        /* bound already: the arena's pages land on our node */
        const char *jh = strchr(w->sf.job_id, '-');
        snprintf(w->arena_prefix, sizeof(w->arena_prefix), "/locus-%.16s-%d",
                 jh ? jh + 1 : w->sf.job_id, (int)getpid());
        struct arena_opts ao = {w->arena_prefix, o->memory_limit};
        LC_CHECK_RC(arena_create(&ao, &w->arena), out, rc);
    }
    LC_CHECK_RC(lnet_open(&w->net, o->provider ? o->provider : w->sf.provider,
                          o->bind, NULL, o->no_shm),
                out, rc);
    lnet_alive(&w->net, 1); /* this thread drives it to the end */
    LC_CHECK_RC(lnet_route_to(&w->net, w->sf.host, w->sf.net_addr,
                              w->sf.shm_addr, &w->sched),
                out, rc);

    ljoin_init(&w->join, &w->net, &w->sf, w->sched, ROLE_WORKER, w->node,
               w->cpuset, w->nthreads);
    uint64_t join_deadline =
        lc_deadline_ms(o->timeout_ms > 0 ? o->timeout_ms : 30000);
    uint64_t last_hb = 0, busy_ns = 0;
    lnet_in in[64];
    while (!*stop && !quit) {
        int n = lnet_poll(&w->net, in, 64);
        LC_CHECK_RC(handle_inputs(w, in, n, &quit), out, rc);
        int joined = w->join.state == LJ_JOINED;
        if (joined && !w->threads)
            LC_CHECK_RC(worker_start_threads(w), out, rc);
        if (!joined && lc_expired(join_deadline)) {
            rc = lc_seterr(LOCUS_ETIMEDOUT, "worker",
                           "no answer from the "
                           "scheduler at %s within the deadline",
                           w->sf.net_addr);
            goto out;
        }
        ljoin_tick(&w->join, &w->net, &w->sf);
        if (joined)
            worker_drain_done(w);
        uint64_t now = lc_now_ns();
        worker_books_flush(w, now, 0);
        if (joined && now - last_hb > (uint64_t)w->heartbeat_ms * 1000000ull) {
            wire_wr *hb = to_sched(w);
            wire_rec_begin(hb, REC_HEARTBEAT);
            wire_put_u32(hb, (uint32_t)atomic_load(&w->running));
            wire_put_u32(hb, (uint32_t)w->qlen);
            wire_put_u64(hb, w->tasks_done);
            wire_put_u64(hb, w->bytes_held);
            wire_put_u64(hb, arena_reserved(w->arena));
            wire_put_u64(hb, w->bytes_mapped);
            wire_put_u64(hb, w->bytes_rma);
            wire_put_u64(hb, w->bytes_inline);
            wire_put_u64(hb, w->tasks_local);
            wire_put_u64(hb, w->tasks_remote);
            wire_put_u64(hb, w->tasks_inline);
            wire_put_u64(hb, w->tasks_direct);
            wire_put_u64(hb, w->tasks_unbooked);
            wire_rec_end(hb);
            last_hb = now;
        }
        int backlog = lnet_flush(&w->net);
        if (n > 0) {
            busy_ns = now;
        } else if (busy_ns && now - busy_ns > 1000000000ull) {
            /* idle for a second after work: give memory back */
            lc_kt_shrink(&w->objs);
            lc_kt_shrink(&w->tasks);
            lc_map_shrink(&w->fetches);
            lc_map_shrink(&w->inflight);
            lnet_trim(&w->net);
            arena_trim(w->arena);
            lc_heap_trim();
            busy_ns = 0;
        }
        if (n == 0)
            lnet_wait(&w->net, -50,
                      backlog || w->books.len ? 1
                      : w->heartbeat_ms > 0   ? w->heartbeat_ms
                                              : 200);
    }
    if (w->join.state == LJ_JOINED && !quit) {
        /* goodbye: the scheduler processes everything before it, then
           confirms; we wait for that, a bounded time */
        worker_books_flush(w, 0, 1);
        wire_wr *bye = to_sched(w);
        wire_rec_begin(bye, REC_BYE);
        wire_rec_end(bye);
        uint64_t until = lc_deadline_ms(5000);
        while (!quit && !lc_expired(until)) {
            lnet_flush(&w->net);
            int n = lnet_poll(&w->net, in, 64);
            if (handle_inputs(w, in, n, &quit) != 0)
                break;
            if (n == 0)
                lnet_wait(&w->net, 0, 10);
        }
        if (quit != 2)
            lc_log(LC_LOG_WARN, "worker",
                   "the scheduler did not confirm "
                   "our goodbye within 5 s");
        /* its acknowledgement of the GOODBYE */
        lnet_flush(&w->net);
    }
out:
    if (rc)
        lc_log(LC_LOG_ERROR, "worker", "%s", locus_last_error());
    lc_log(LC_LOG_INFO, "worker",
           "%llu tasks done: %llu inline on the progress thread, %llu sent "
           "by their clients directly (%llu of them released before the "
           "scheduler was told)",
           (unsigned long long)w->tasks_done,
           (unsigned long long)w->tasks_inline,
           (unsigned long long)w->tasks_direct,
           (unsigned long long)w->tasks_unbooked);
    if (o->nanny) {
        /* stopped on purpose: the nanny exits too; lost the scheduler
           after joining: it starts a fresh process to join again, and
           what runs here is lost anyway (the scheduler runs it again) */
        if (!rc) {
            atomic_store(&o->nanny->state, NANNY_FINAL);
        } else if (atomic_load(&o->nanny->state) == NANNY_JOINED) {
            atomic_store(&o->nanny->state, NANNY_REJOIN);
            cancel_all_within_1s(w, "being canceled", 3);
        }
    }
    if (quit == 1)
        /* SHUTDOWN: the cluster stops; its client was told already (its
           future failed with ECLOSED); the nanny removes our files */
        cancel_all_within_1s(w, "the shutdown", 0);
    worker_stop_threads(w);
    /* tasks still queued or done are dropped with the process */
    for (struct locus_task *t = w->qhead; t;) {
        struct locus_task *n = t->next;
        worker_task_destroy(w, t);
        t = n;
    }
    w->qhead = NULL;
    for (struct locus_task *t = w->dhead; t;) {
        struct locus_task *n = t->next;
        lc_kt_del(&w->tasks, t->key);
        worker_task_destroy(w, t);
        t = n;
    }
    {
        size_t it = 0;
        uint64_t k;
        void *v;
        while (lc_map_next(&w->fetches, &it, &k, &v)) {
            fetch *f = v;
            worker_replica_put(f->copy);
            free(f->w);
            free(f);
        }
        it = 0;
        for (lc_kt_it kit = {0}; lc_kt_next(&w->tasks, &kit, &k, &v);)
            worker_task_destroy(w, v); /* waiting for inputs */
        it = 0;
        for (lc_kt_it kit = {0}; lc_kt_next(&w->objs, &kit, &k, &v);) {
            wobj *ob = v;
            ob->pins = 0;
            worker_obj_free(w, ob);
        }
        it = 0;
        while (lc_map_next(&w->fnstats, &it, &k, &v))
            free(v);
    }
    lc_map_free(&w->fnstats);
    wire_wr_free(&w->books);
    wire_wr_free(&w->books_keep);
    lc_kt_free(&w->objs);
    lc_kt_free(&w->tasks);
    lc_map_free(&w->fetches);
    lc_map_free(&w->inflight);
    for (int i = 0; i < w->cappeers; i++)
        free(w->peers[i]); /* their sessions go with the lnet */
    free(w->peers);
    for (int i = 0; i < w->nlibs; i++) {
        /* libraries stay mapped: task threads are joined, but a library's
           destructors may still be referenced by atexit handlers */
        free(w->libpaths[i]);
    }
    free(w->libs);
    free(w->libpaths);
    lnet_alive(&w->net, 0);
    lnet_close(&w->net);
    arena_destroy(w->arena);
    arena_map_clear();
    if (w->topo)
        topo_destroy(w->topo);
    pthread_mutex_destroy(&w->qmu);
    pthread_cond_destroy(&w->qcv);
    pthread_mutex_destroy(&w->dmu);
    free(w);
    return rc;
}
