/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client library.  User threads encode their records (SUBMIT, RELEASE,
 * CANCEL...) straight into a pending buffer under the client's mutex; the
 * progress thread, which alone owns the endpoints, sends that buffer to the
 * scheduler as few messages as possible, reads RESULT records into futures,
 * and fetches large values from the worker that holds them (GET, then
 * inline bytes or an fi_read of the worker's registered memory).
 */
#include "client/client_int.h"

int client_deadline_of(const locus_client *c, int timeout_ms)
{
    return timeout_ms < 0 ? c->timeout_ms : timeout_ms;
}

void client_wake(locus_client *c)
{
    lnet_wake(&c->net); /* a flag unless its owner blocks */
}

static void close_client(locus_client *c, const char *why)
{
    /* under mu */
    if (c->state == C_CLOSED)
        return;
    c->state = C_CLOSED;
    snprintf(c->why, sizeof(c->why), "%s", why);
    uint64_t k;
    void *v;
    for (lc_kt_it kit = {0}; lc_kt_next(&c->futures, &kit, &k, &v);) {
        struct locus_future *f = v;
        if (atomic_load(&f->state) == F_PENDING) {
            f->status = LOCUS_ECLOSED;
            free(f->errmsg);
            f->errmsg = strdup(why);
            atomic_store(&f->state, F_ERROR);
        }
        if (f->fetching) {
            f->fetching = 0;
            f->fetch_status = LOCUS_ECLOSED;
        }
    }
    for (creq *q = c->reqs; q; q = q->next)
        if (!q->done) {
            q->done = 1;
            q->status = LOCUS_ECLOSED;
            snprintf(q->msg, sizeof(q->msg), "%s", why);
        }
    pthread_cond_broadcast(&c->cv);
}

/* ---- progress thread
 * ----------------------------------------------------------- */

void client_close_locked(locus_client *c, const char *why)
{
    pthread_mutex_lock(&c->mu);
    close_client(c, why);
    pthread_mutex_unlock(&c->mu);
}

static void client_free(locus_client *c)
{
    size_t it = 0;
    uint64_t k;
    void *v;
    for (lc_kt_it kit = {0}; lc_kt_next(&c->futures, &kit, &k, &v);) {
        struct locus_future *f = v;
        free(f->data);
        free(f->errmsg);
        free(f->puts);
        free(f);
    }
    lc_kt_free(&c->futures);
    it = 0;
    while (lc_map_next(&c->puts, &it, &k, &v))
        free(v); /* their memory goes with the arena */
    lc_map_free(&c->puts);
    arena_destroy(c->arena);
    lc_map_free(&c->gets);
    while (c->reqs) {
        creq *q = c->reqs;
        c->reqs = q->next;
        free(q->payload);
        free(q);
    }
    for (int i = 0; i < c->cappeers; i++) {
        wire_wr_free(&c->peers[i].direct);
        wire_wr_free(&c->peers[i].rel);
    }
    wire_wr_free(&c->books);
    wire_wr_free(&c->books_keep);
    free(c->peers);
    free(c->ddirty);
    wire_wr_free(&c->pending);
    lnet_close(&c->net);
    arena_map_forget("/locus-"); /* cached mappings of workers' segments */
    wire_wr_free(&c->batch);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->pmu);
    pthread_cond_destroy(&c->pcv);
    free(c);
}

int locus_connect(const char *target, const struct locus_connect_opts *opts,
                  locus_client **out)
{
    lc_clearerr();
    int rc = 0;
    locus_client *c = NULL;
    lc_clearerr();
    LC_CHECK(out, fail, rc, LOCUS_EINVAL, "client",
             "locus_connect: out is "
             "NULL");
    *out = NULL;
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    /* the first version ends at flags */
    LC_CHECK_RC(lc_opts_copy(
                    &o, opts, LC_OPTS_END(struct locus_connect_opts, flags),
                    sizeof(o), "locus_connect opts", "LOCUS_CONNECT_OPTS_INIT"),
                fail, rc);
    opts = &o;
    LC_CHECK(!opts || (opts->flags & ~LOCUS_CONNECT_NO_SHM) == 0, fail, rc,
             LOCUS_EINVAL, "client",
             "locus_connect: unknown flag bits "
             "0x%x",
             opts ? opts->flags & ~LOCUS_CONNECT_NO_SHM : 0);
    if (!target)
        target = getenv("LOCUS_SCHEDULER_FILE");
    LC_CHECK(target && *target, fail, rc, LOCUS_EINVAL, "client",
             "no scheduler file: pass its path or set $LOCUS_SCHEDULER_FILE");
    c = calloc(1, sizeof(*c));
    LC_CHECK(c, fail, rc, LOCUS_ENOMEM, "client", "no memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->pmu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_cond_init(&c->pcv, NULL);
    wire_wr_init(&c->batch);
    lc_kt_init(&c->futures);
    lc_map_init(&c->gets);
    lc_map_init(&c->puts);
    wire_wr_init(&c->pending);
    c->net.wake_fd = -1;
    c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    c->no_direct = getenv("LOCUS_NO_DIRECT") && *getenv("LOCUS_NO_DIRECT") &&
                   strcmp(getenv("LOCUS_NO_DIRECT"), "0");
    c->heartbeat_ms = 500;
    LC_CHECK_RC(auth_init(), fail, rc);
    LC_CHECK_RC(schedfile_read(target, &c->sf), fail, rc);
    {
        /* a file of another job, or one whose scheduler is gone, is
           refused at once rather than after a timeout */
        char job[128];
        schedfile_job_from_env(job, sizeof(job));
        LC_CHECK_RC(schedfile_check(&c->sf, target, job), fail, rc);
    }
    char bind[LC_IFACE_ADDR_MAX] = "";
    LC_CHECK_RC(
        lc_bind_resolve(opts ? opts->bind : NULL, NULL, bind, sizeof(bind)),
        fail, rc);
    if (!bind[0]) {
        /* by default, the address from which the scheduler is reachable:
           loopback for a scheduler on loopback, the right interface for
           one on another host */
        char hp[64], *colon;
        snprintf(hp, sizeof(hp), "%s", c->sf.net_hostport);
        if ((colon = strrchr(hp, ':')) != NULL && hp[0] != '[') {
            *colon = '\0';
            if (strncmp(hp, "127.", 4) != 0 &&
                lc_bind_for_peer(hp, bind, sizeof(bind)) != 0)
                bind[0] = '\0'; /* no route known: the default */
        }
    }
    /* a program that calls exit() while our thread sends must not end
       inside the fabric library (runtime/net/README.md) */
    LC_CHECK_RC(xport_quiesce_at_exit(), fail, rc);
    LC_CHECK_RC(
        lnet_open(&c->net,
                  opts && opts->provider ? opts->provider : c->sf.provider,
                  bind[0] ? bind : NULL, NULL,
                  opts && (opts->flags & LOCUS_CONNECT_NO_SHM)),
        fail, rc);
    LC_CHECK_RC(lnet_route_to(&c->net, c->sf.host, c->sf.net_addr,
                              c->sf.shm_addr, &c->sched),
                fail, rc);
    ljoin_init(&c->join, &c->net, &c->sf, c->sched, ROLE_CLIENT, -1, "", 0);
    uint64_t dl = lc_deadline_ms(c->timeout_ms);
    c->last_hb = lc_now_ns(); /* pmu state: set before any thread drives */
    int e = pthread_create(&c->thr, NULL, client_progress_main, c);
    LC_CHECK(e == 0, fail, rc, LOCUS_ESYS, "client", "pthread_create: %s",
             strerror(e));
    c->thr_started = 1;
    pthread_mutex_lock(&c->mu);
    while (c->state != C_JOINED && c->state != C_CLOSED)
        if (client_cv_wait(c, dl) == ETIMEDOUT)
            break;
    int st = c->state;
    char why[512];
    snprintf(why, sizeof(why), "%s", c->why);
    pthread_mutex_unlock(&c->mu);
    if (st == C_CLOSED) {
        rc =
            lc_seterr(strstr(why, "key") || strstr(why, "auth") ? LOCUS_EAUTH
                                                                : LOCUS_ECLOSED,
                      "client", "connecting to %s: %s", target, why);
        goto fail;
    }
    LC_CHECK(st == C_JOINED, fail, rc, LOCUS_ETIMEDOUT, "client",
             "the scheduler at %s (from %s) did not answer within %d ms; "
             "is it running?",
             c->sf.net_addr, target, c->timeout_ms);
    lc_clearerr(); /* what failed on the way was worked around */
    *out = c;
    return 0;
fail:
    if (c) {
        if (c->thr_started) {
            atomic_store(&c->stop, 1);
            lnet_wake(&c->net);
            pthread_mutex_lock(&c->mu);
            pthread_cond_broadcast(&c->pcv);
            pthread_mutex_unlock(&c->mu);
            pthread_join(c->thr, NULL);
        }
        client_free(c);
    }
    return rc;
}

int locus_disconnect(locus_client *c)
{
    lc_clearerr();
    if (!c)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_disconnect: NULL "
                         "client");
    pthread_mutex_lock(&c->mu);
    size_t left = c->futures.n;
    pthread_mutex_unlock(&c->mu);
    if (left)
        lc_log(LC_LOG_INFO, "client",
               "disconnecting with %zu futures not "
               "released; the cluster frees their data",
               left);
    pthread_mutex_lock(&c->mu);
    int was_joined = c->state == C_JOINED;
    pthread_mutex_unlock(&c->mu);
    atomic_store(&c->stop, 1);
    lnet_wake(&c->net);
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->pcv); /* a parked progress thread */
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thr, NULL);
    int rc = 0;
    if (was_joined && !c->bye_confirmed)
        rc = lc_seterr(LOCUS_ETIMEDOUT, "client",
                       "the scheduler did not "
                       "confirm our goodbye within %d ms (it frees our data "
                       "when it declares us gone)",
                       c->timeout_ms);
    client_free(c);
    return rc;
}

/* ---- requests that wait for an answer ------------------------------------ */

/* Lock the client and register a request waiting for its answer: the
   caller writes its record, waits with req_wait and unlocks.  On error
   nothing is held. */
static int req_new(locus_client *c, creq **out)
{
    pthread_mutex_lock(&c->mu);
    int rc = client_check_open(c);
    creq *q = rc ? NULL : calloc(1, sizeof(*q));
    if (!rc && !q)
        rc = lc_seterr(LOCUS_ENOMEM, "client", "no memory");
    if (rc) {
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    q->id = ++c->next_req;
    q->next = c->reqs;
    c->reqs = q;
    *out = q;
    return 0;
}

/* req_new, then begin its record (type, then the request id): the caller
   adds its fields and ends the record. */
static int req_begin(locus_client *c, int type, creq **out)
{
    int rc = req_new(c, out);
    if (!rc) {
        wire_rec_begin(&c->pending, type);
        wire_put_u64(&c->pending, (*out)->id);
    }
    return rc;
}

static int req_wait(locus_client *c, creq *q, int timeout_ms)
{
    /* under mu; unlinks and leaves q to the caller to free */
    uint64_t dl = lc_deadline_ms(client_deadline_of(c, timeout_ms));
    while (!q->done)
        if (client_cv_wait(c, dl) == ETIMEDOUT)
            break;
    for (creq **pp = &c->reqs; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    return q->done ? 0 : LOCUS_ETIMEDOUT;
}

int client_check_open(locus_client *c)
{
    /* under mu */
    if (c->state == C_CLOSED)
        return lc_seterr(LOCUS_ECLOSED, "client", "not connected: %s", c->why);
    return 0;
}

int locus_require(locus_client *c, const char *path, int timeout_ms)
{
    lc_clearerr();
    if (!c || !path || !*path)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_require: NULL client "
                         "or empty path");
    char abs[PATH_MAX];
    if (!realpath(path, abs))
        return lc_seterr(LOCUS_ELIB, "client", "task library %s: %s", path,
                         strerror(errno));
    creq *q;
    int rc = req_begin(c, REC_REQUIRE, &q);
    if (rc)
        return rc;
    wire_put_str(&c->pending, abs);
    wire_rec_end(&c->pending);
    client_wake(c);
    rc = req_wait(c, q, timeout_ms);
    pthread_mutex_unlock(&c->mu);
    if (rc)
        rc = lc_seterr(rc, "client", "locus_require(%s): no answer in time",
                       abs);
    else if (q->status)
        rc = lc_seterr(q->status == LOCUS_ECLOSED ? LOCUS_ECLOSED : LOCUS_ELIB,
                       "client", "task library %s: %s", abs, q->msg);
    free(q->payload);
    free(q);
    return rc;
}

void client_on_stopping(locus_client *c, wire_rd *r)
{
    uint64_t id;
    int status;
    char msg[REC_REASON_MAX];
    int bad = rec_get_stopping(r, &id, &status, msg) != 0;
    if (bad && id == 0)
        return; /* not even a request id (ids start at 1) */
    pthread_mutex_lock(&c->mu);
    for (creq *q = c->reqs; q; q = q->next) {
        if (q->id != id || q->done)
            continue;
        q->status = bad ? LOCUS_EPROTO : status;
        snprintf(q->msg, sizeof(q->msg), "%s",
                 bad ? "malformed STOPPING record" : msg);
        q->done = 1;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

int locus_shutdown(locus_client *c, int timeout_ms)
{
    lc_clearerr();
    if (!c)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_shutdown: NULL client");
    char why[REC_REASON_MAX];
    snprintf(why, sizeof(why), "locus_shutdown");
    creq *q;
    int rc = req_new(c, &q);
    if (rc)
        return rc;
    rec_put_stop(&c->pending, q->id, why);
    client_wake(c);
    rc = req_wait(c, q, timeout_ms);
    int ms = client_deadline_of(c, timeout_ms);
    pthread_mutex_unlock(&c->mu);
    if (rc)
        rc = lc_seterr(rc, "client",
                       "locus_shutdown: the scheduler did not answer "
                       "within %d ms",
                       ms);
    else if (q->status)
        rc = lc_seterr(q->status, "client", "locus_shutdown: %s",
                       q->msg[0] ? q->msg : locus_strerror(q->status));
    free(q->payload);
    free(q);
    return rc;
}

/* sizeof(locus_worker_info) in locus 0.2, the first version with size,
   and in 0.3 */
#define WORKER_INFO_V02 LC_OPTS_END(locus_worker_info, tasks_remote)
#define WORKER_INFO_V03 LC_OPTS_END(locus_worker_info, tasks_direct)

int locus_workers_sized(locus_client *c, locus_worker_info *out, size_t size,
                        size_t max, size_t *n)
{
    lc_clearerr();
    if (!c || !n || (max && !out))
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_workers: NULL "
                         "argument");
    /* the caller's sizeof: the stride of out[] */
    size_t stride = size;
    if (stride != WORKER_INFO_V02 && stride != WORKER_INFO_V03 &&
        stride != sizeof(*out))
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_workers: the caller's locus_worker_info has "
                         "%zu bytes; this library takes %zu (0.2), %zu (0.3) "
                         "or %zu (0.4) (build against a locus header no "
                         "newer than the library)",
                         size, (size_t)WORKER_INFO_V02, (size_t)WORKER_INFO_V03,
                         sizeof(*out));
    creq *q;
    int rc = req_begin(c, REC_WORKERS_REQ, &q);
    if (rc)
        return rc;
    wire_rec_end(&c->pending);
    client_wake(c);
    rc = req_wait(c, q, -1);
    pthread_mutex_unlock(&c->mu);
    if (rc) {
        rc = lc_seterr(rc, "client", "locus_workers: no answer in time");
    } else if (q->status) {
        rc = lc_seterr(q->status, "client", "locus_workers: %s",
                       q->msg[0] ? q->msg : locus_strerror(q->status));
    } else {
        wire_rd r;
        wire_rd_init(&r, q->payload, q->len);
        uint32_t cnt = wire_get_u32(&r);
        *n = cnt;
        for (uint32_t i = 0; i < cnt && wire_rd_ok(&r); i++) {
            locus_worker_info wi;
            memset(&wi, 0, sizeof(wi));
            wi.size = stride;
            wi.id = (int)wire_get_u32(&r);
            wi.pid = (int)wire_get_u32(&r);
            wire_get_str(&r, wi.host, sizeof(wi.host));
            wi.numa_node = wire_get_i32(&r);
            wire_get_str(&r, wi.cpuset, sizeof(wi.cpuset));
            wi.nthreads = (int)wire_get_u32(&r);
            wi.running = (int)wire_get_u32(&r);
            wi.queued = (int)wire_get_u32(&r);
            wi.tasks_done = wire_get_u64(&r);
            wi.bytes_held = wire_get_u64(&r);
            wi.bytes_reserved = wire_get_u64(&r);
            wi.bytes_mapped = wire_get_u64(&r);
            wi.bytes_rma = wire_get_u64(&r);
            wi.bytes_inline = wire_get_u64(&r);
            wi.tasks_local = wire_get_u64(&r);
            wi.tasks_remote = wire_get_u64(&r);
            wi.tasks_inline = wire_get_u64(&r);
            wi.tasks_direct = wire_get_u64(&r);
            wi.tasks_unbooked = wire_get_u64(&r);
            if (i < max)
                memcpy((char *)out + i * stride, &wi, stride);
        }
        if (!wire_rd_ok(&r))
            rc = lc_seterr(LOCUS_EPROTO, "client", "malformed WORKERS reply");
    }
    free(q->payload);
    free(q);
    return rc;
}

/* ---- submitting
 * ------------------------------------------------------------------ */
