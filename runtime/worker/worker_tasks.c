/* SPDX-License-Identifier: BSD-3-Clause */
/* Tasks: COMPUTE in, the task threads, results kept in the arena, DONE out. */
#include "worker/worker_int.h"

void worker_task_destroy(worker *w, struct locus_task *t)
{
    for (uint32_t i = 0; i < t->nargs; i++) {
        wobj *o = t->args[i].pin;
        if (o && --o->pins == 0 && o->freed)
            worker_obj_free(w, o);
        worker_replica_put(t->args[i].copy);
        arena_map_release(t->args[i].map);
    }
    /* args and payload live in t's allocation */
    if (t->result)
        arena_free(w->arena, t->result);
    free(t->errmsg);
    free(t);
}

void *worker_alloc(struct worker *w, size_t len)
{
    return arena_alloc(w->arena, len);
}

void worker_free(struct worker *w, void *p)
{
    arena_free(w->arena, p);
}

/*
 * Short tasks run inline, on the progress thread that received them: a
 * hand-off to a task thread and back costs two wake-ups, more than a short
 * task itself.  A function runs inline once it ran INLINE_RUNS times on
 * task threads, its mean under INLINE_MEAN_NS and no run ever over
 * INLINE_MAX_NS; a single run over that sends it back to the task threads
 * for good.  Its first runs, and every function that may block or run
 * long, stay on the task threads, so the progress thread keeps answering.
 */
#define INLINE_RUNS 4
#define INLINE_MEAN_NS 20000ull
#define INLINE_MAX_NS 1000000ull

static void task_ran(worker *w, struct locus_task *t)
{
    if (!t->fn || !t->t0)
        return;
    uint64_t k = (uint64_t)(uintptr_t)t->fn;
    fnstat *st = lc_map_get(&w->fnstats, k);
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st || lc_map_put(&w->fnstats, k, st) != 0) {
            free(st);
            return;
        }
    }
    st->runs++;
    st->total_ns += t->dur;
    if (t->dur > st->max_ns)
        st->max_ns = t->dur;
}

static int runs_inline(worker *w, const struct locus_task *t)
{
    if (w->o->no_inline)
        return 0;
    const fnstat *st = lc_map_get(&w->fnstats, (uint64_t)(uintptr_t)t->fn);
    return st && st->runs >= INLINE_RUNS && st->max_ns <= INLINE_MAX_NS &&
           st->total_ns / st->runs <= INLINE_MEAN_NS;
}

/* Run t on thread idx (a task thread, or nthreads: the progress thread). */
static void run_task(worker *w, struct locus_task *t, int idx)
{
    t->thread = idx;
    if (atomic_load(&t->canceled)) {
        t->status = LOCUS_ECANCELED;
        return;
    }
    atomic_fetch_add(&w->running, 1);
    /* the nanny names this task if it takes the process down */
    _Atomic uint64_t *slot =
        w->o->nanny && idx < NANNY_SLOTS ? &w->o->nanny->running[idx] : NULL;
    if (slot)
        atomic_store(slot, t->key);
    t->t0 = lc_now_ns();
    lc_clearerr();
    int rc = t->fn(t);
    t->dur = lc_now_ns() - t->t0;
    if (slot)
        atomic_store(slot, 0);
    atomic_fetch_sub(&w->running, 1);
    if (rc != 0 && t->status == 0)
        t->status = rc < 0 ? rc : LOCUS_ETASK;
    if (t->status != 0 && !t->errmsg) {
        /* a task API call that failed left its message here */
        char m[1200];
        const char *why = locus_last_error();
        if (*why)
            snprintf(m, sizeof(m), "%s returned %d: %s", t->fn_name, rc, why);
        else
            snprintf(m, sizeof(m), "%s returned %d (%s)", t->fn_name, rc,
                     locus_strerror(t->status));
        t->errmsg = strdup(m);
    }
}

static void push_done(worker *w, struct locus_task *t, int wake);
static void enqueue(worker *w, struct locus_task *t);

/* A task whose inputs are all here: inline if short, else queued. */
static void ready(worker *w, struct locus_task *t)
{
    if (runs_inline(w, t)) {
        w->tasks_inline++;
        run_task(w, t, w->nthreads);
        push_done(w, t, 0); /* we drain it ourselves, no wake-up */
        return;
    }
    enqueue(w, t);
}

static void enqueue(worker *w, struct locus_task *t)
{
    pthread_mutex_lock(&w->qmu);
    t->next = NULL;
    if (w->qtail)
        w->qtail->next = t;
    else
        w->qhead = t;
    w->qtail = t;
    w->qlen++;
    pthread_cond_signal(&w->qcv);
    pthread_mutex_unlock(&w->qmu);
}

static void push_done(worker *w, struct locus_task *t, int wake)
{
    pthread_mutex_lock(&w->dmu);
    int was_empty = w->dhead == NULL;
    t->next = NULL;
    if (w->dtail)
        w->dtail->next = t;
    else
        w->dhead = t;
    w->dtail = t;
    pthread_mutex_unlock(&w->dmu);
    if (was_empty && wake)
        lnet_wake(&w->net);
}

static void fail_now(worker *w, struct locus_task *t, int status,
                     const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    t->status = status;
    free(t->errmsg);
    t->errmsg = strdup(msg);
    push_done(w, t, 1);
}

void worker_on_compute(worker *w, wire_rd *r, int client)
{
    /* the record's head, read once: key, function, argument count */
    wire_rd rd = *r;
    char fn[sizeof(((struct locus_task *)0)->fn_name)];
    uint64_t key = wire_get_u64(&rd);
    wire_get_str(&rd, fn, sizeof(fn));
    uint32_t nargs = wire_get_u32(&rd);
    if (!wire_rd_ok(&rd) || nargs > wire_rd_left(&rd)) {
        lc_log(LC_LOG_WARN, "worker", "malformed COMPUTE dropped");
        return;
    }
    if (client && (int)(key >> 40) != client) {
        lc_log(LC_LOG_WARN, "worker",
               "COMPUTE_DIRECT from client %d for another client's key "
               "dropped",
               client);
        return;
    }
    /* one allocation per task: the task, its arguments and a copy of
       the record (inline arguments point into it) */
    struct locus_task *t =
        malloc(sizeof(*t) + nargs * sizeof(targ) + (r->len ? r->len : 1));
    if (!t)
        return;
    memset(t, 0, sizeof(*t));
    t->args = (targ *)(t + 1);
    memset(t->args, 0, nargs * sizeof(targ));
    t->payload = (uint8_t *)(t->args + nargs);
    t->w = w;
    t->client = client;
    if (client)
        w->tasks_direct++;
    t->key = key;
    memcpy(t->fn_name, fn, sizeof(fn));
    t->nargs = nargs;
    memcpy(t->payload, r->p, r->len);
    size_t args_off = rd.off; /* the arguments follow, in the copy */
    wire_rd_init(&rd, t->payload, r->len);
    rd.off = args_off;
    if (lc_kt_put(&w->tasks, t->key, t) != 0) {
        free(t);
        return;
    }
    /* inputs held elsewhere: any number, fetched with several in flight */
    struct remote_in {
        uint32_t i;
        uint64_t key;
        int holder;
    } *remote = NULL;
    uint32_t nremote = 0, capremote = 0;
    for (uint32_t i = 0; i < t->nargs; i++) {
        uint8_t kind = wire_get_u8(&rd);
        if (kind == ARG_BYTES) {
            t->args[i].p = wire_get_bytes(&rd, &t->args[i].len);
        } else if (kind == ARG_FUTURE) {
            uint64_t k = wire_get_u64(&rd);
            int holder = (int)wire_get_u32(&rd);
            (void)wire_get_u64(&rd);
            wobj *o = lc_kt_get(&w->objs, k);
            if (o && !o->freed) {
                o->pins++;
                t->args[i].pin = o;
                t->args[i].p = o->data;
                t->args[i].len = o->len;
            } else if (holder == w->id) {
                free(remote);
                fail_now(w, t, LOCUS_ELOST,
                         "input %u (key %llx) should be "
                         "here but is not (freed?)",
                         i, (unsigned long long)k);
                return;
            } else {
                if (nremote == capremote) {
                    capremote = capremote ? capremote * 2 : 8;
                    struct remote_in *nr =
                        realloc(remote, capremote * sizeof(*nr));
                    if (!nr) {
                        free(remote);
                        fail_now(w, t, LOCUS_ENOMEM,
                                 "out of memory for "
                                 "%u inputs",
                                 t->nargs);
                        return;
                    }
                    remote = nr;
                }
                remote[nremote].i = i;
                remote[nremote].key = k;
                remote[nremote].holder = holder;
                nremote++;
            }
        } else {
            rd.bad = 1;
        }
    }
    if (!wire_rd_ok(&rd)) {
        free(remote);
        fail_now(w, t, LOCUS_EPROTO, "malformed task arguments");
        return;
    }
    t->fn = worker_resolve(w, t->fn_name);
    if (!t->fn) {
        char libs[512] = "";
        size_t off = 0;
        for (int i = 0; i < w->nlibs && off < sizeof(libs) - 2; i++)
            off += (size_t)snprintf(libs + off, sizeof(libs) - off, "%s%s",
                                    i ? ", " : "", w->libpaths[i]);
        free(remote);
        fail_now(w, t, LOCUS_ENOSYM,
                 "function '%s' not found on worker %d "
                 "in the task libraries [%s] (call locus_require first?)",
                 t->fn_name, w->id, libs);
        return;
    }
    if (nremote == 0) {
        w->tasks_local++;
        ready(w, t);
        return;
    }
    w->tasks_remote++;
    t->nmissing = nremote;
    for (uint32_t k = 0; k < nremote; k++)
        worker_send_get(w, t, remote[k].i, remote[k].key, remote[k].holder);
    free(remote);
}

void worker_input_arrived(worker *w, struct locus_task *t)
{
    if (--t->nmissing > 0)
        return;
    if (t->status == 0)
        ready(w, t);
    else
        push_done(w, t, 1);
}

void worker_obj_free(worker *w, wobj *o)
{
    if (!o->freed)
        w->bytes_held -= o->len;
    if (o->pins) {
        o->freed = 1;
        return;
    }
    arena_free(w->arena, o->data);
    free(o);
}

void worker_on_free(worker *w, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    if (!wire_rd_ok(r))
        return;
    wobj *o = lc_kt_del(&w->objs, key);
    if (o)
        worker_obj_free(w, o);
}

struct keep_ctx {
    worker *w;
    uint64_t now, oldest;
};

/* a DONE younger than LNET_LAZY_NS stays in the books: its client may
   still release the task unbooked */
static int keep_young(void *ctx, uint64_t key, size_t new_off)
{
    struct keep_ctx *k = ctx;
    wobj *o = lc_kt_get(&k->w->objs, key);
    if (!o || !o->booked || o->book_gen != k->w->books_gen ||
        k->now - o->book_ns >= LNET_LAZY_NS)
        return 0;
    o->book_off = new_off;
    o->book_gen = k->w->books_gen + 1;
    if (o->book_ns < k->oldest)
        k->oldest = o->book_ns;
    return 1;
}

void worker_books_flush(worker *w, uint64_t now, int force)
{
    if (!w->books.len)
        return;
    int all = force || w->books.len - w->books_dead >= LNET_LAZY_BYTES;
    if (!all && now - w->books_ns < LNET_LAZY_NS &&
        w->books.len < LNET_LAZY_BYTES)
        return;
    /* all of them, or those that waited long enough (the rest stay) */
    struct keep_ctx k = {w, now, UINT64_MAX};
    if (w->join.state == LJ_JOINED && w->join.sess) {
        if (all)
            wire_put_live(to_sched(w), &w->books);
        else
            wire_books_split(&w->books, 0, to_sched(w), &w->books_keep,
                             keep_young, &k);
    }
    wire_wr tmp = w->books;
    w->books = w->books_keep;
    w->books_keep = tmp;
    wire_wr_reset(&w->books_keep);
    w->books_gen++;
    w->books_dead = 0;
    w->books_ns = w->books.len ? k.oldest : 0;
}

void worker_on_release_direct(worker *w, wire_rd *r, int client)
{
    uint64_t key = wire_get_u64(r);
    if (!wire_rd_ok(r) || (int)(key >> 40) != client) {
        lc_log(LC_LOG_WARN, "worker",
               "RELEASE_DIRECT from client %d malformed or for another "
               "client's key: dropped",
               client);
        return;
    }
    wobj *o = lc_kt_get(&w->objs, key);
    if (!o || !o->booked)
        return; /* not a lease task's value of ours (or freed already) */
    if (o->book_gen == w->books_gen) {
        /* its DONE has not gone: the scheduler never hears of the task */
        w->books_dead += wire_rec_kill(&w->books, o->book_off);
    } else {
        /* its DONE went, and waits there for a SUBMIT_DIRECT that will
           not come: drop it (after it, in the same session) */
        wire_wr *g = to_sched_lazy(w);
        wire_rec_begin(g, REC_DIRECT_GONE);
        wire_put_u64(g, key);
        wire_rec_end(g);
    }
    w->tasks_unbooked++; /* the scheduler counts it nowhere */
    lc_kt_del(&w->objs, key);
    worker_obj_free(w, o);
}

void worker_on_cancel(worker *w, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    struct locus_task *t = wire_rd_ok(r) ? lc_kt_get(&w->tasks, key) : NULL;
    if (t)
        atomic_store(&t->canceled, 1);
}

/* STEAL: a task still in the run queue (inputs here, not started) is
   dropped and handed back; any other answers no (its DONE will come). */
void worker_on_steal(worker *w, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    if (!wire_rd_ok(r))
        return;
    struct locus_task *found = NULL;
    pthread_mutex_lock(&w->qmu);
    for (struct locus_task **pp = &w->qhead; *pp; pp = &(*pp)->next) {
        if ((*pp)->key == key) {
            found = *pp;
            *pp = found->next;
            if (w->qtail == found) {
                w->qtail = NULL;
                for (struct locus_task *q = w->qhead; q; q = q->next)
                    w->qtail = q;
            }
            w->qlen--;
            break;
        }
    }
    pthread_mutex_unlock(&w->qmu);
    if (found) {
        lc_kt_del(&w->tasks, key);
        worker_task_destroy(w, found);
    }
    wire_wr *o = to_sched(w);
    wire_rec_begin(o, REC_STOLEN);
    wire_put_u64(o, key);
    wire_put_u8(o, found ? 1 : 0);
    wire_rec_end(o);
}

/* A task from a client's lease: its value goes to the client at once, on
   their pair session (the scheduler sends none for it).
   Failures go the scheduler's way only: it decides about retries. */
static void direct_result(worker *w, struct locus_task *t)
{
    wpeer *p = wpeer_get(w, t->client);
    wobj *ob = lc_kt_get(&w->objs, t->key);
    if (!p || !p->sess || !ob)
        return;
    wire_wr *o = out_to_peer(w, p);
    int inl = ob->len <= WIRE_INLINE_MAX;
    wire_rec_begin(o, REC_RESULT);
    wire_put_u64(o, t->key);
    wire_put_i32(o, 0);
    wire_put_u32(o, (uint32_t)w->id);
    wire_put_u64(o, ob->len);
    wire_put_u8(o, (uint8_t)inl);
    wire_put_bytes(o, ob->data, inl ? ob->len : 0);
    wire_rec_end(o);
}

/* Finished tasks: keep results, report in one batch. */
void worker_drain_done(worker *w)
{
    pthread_mutex_lock(&w->dmu);
    struct locus_task *t = w->dhead;
    w->dhead = w->dtail = NULL;
    pthread_mutex_unlock(&w->dmu);
    uint64_t book_ns = 0;
    while (t) {
        struct locus_task *next = t->next;
        lc_kt_del(&w->tasks, t->key);
        w->tasks_done++;
        task_ran(w, t);
        if (t->status == 0 && atomic_load(&t->canceled))
            t->status = LOCUS_ECANCELED;
        /* a direct task's value goes to its client now; the scheduler
           only books it, in a batch with others, from the books (its
           failures decide retries: those go at once) */
        int book = t->client && t->status == 0;
        wire_wr *o = book ? &w->books : to_sched(w);
        size_t book_off = o->len;
        if (book && !book_ns)
            book_ns = lc_now_ns(); /* one reading for the batch */
        if (book && !w->books.len)
            w->books_ns = book_ns;
        wire_rec_begin(o, REC_DONE);
        wire_put_u64(o, t->key);
        wire_put_i32(o, t->status);
        if (t->status == 0) {
            wobj *ob = calloc(1, sizeof(*ob));
            if (ob) {
                ob->key = t->key;
                ob->data = t->result ? t->result : arena_alloc(w->arena, 0);
                ob->len = t->result ? t->rlen : 0;
                t->result = NULL;
            }
            if (!ob || !ob->data || lc_kt_put(&w->objs, ob->key, ob) != 0) {
                /* report the failure instead of a result we cannot keep */
                if (ob && ob->data)
                    arena_free(w->arena, ob->data);
                free(ob);
                o->len = o->rec_start; /* drop the half-written record */
                wire_rec_begin(o, REC_DONE);
                wire_put_u64(o, t->key);
                wire_put_i32(o, LOCUS_ENOMEM);
                wire_put_u64(o, 0);
                wire_put_u64(o, t->dur);
                wire_put_u8(o, 0);
                wire_put_str(o, "worker out of memory storing the result");
                book = 0; /* a failure: it goes at once (below) */
            } else {
                w->bytes_held += ob->len;
                ob->booked = book;
                ob->book_off = book_off;
                ob->book_gen = w->books_gen;
                ob->book_ns = book_ns;
                wire_put_u64(o, ob->len);
                wire_put_u64(o, t->dur);
                int inl = ob->len <= WIRE_INLINE_MAX;
                wire_put_u8(o, (uint8_t)inl);
                wire_put_bytes(o, ob->data, inl ? ob->len : 0);
            }
        } else {
            wire_put_u64(o, 0);
            wire_put_u64(o, t->dur);
            wire_put_u8(o, 0);
            wire_put_str(o, t->errmsg ? t->errmsg : locus_strerror(t->status));
        }
        /* where and when it ran, for the task stream: the thread, and
           how long ago it started (clocks of two hosts differ); whether it
           came from its client directly */
        wire_put_u32(o, (uint32_t)t->thread);
        wire_put_u64(o, t->t0 ? lc_now_ns() - t->t0 : 0);
        wire_put_u8(o, t->client ? 1 : 0);
        wire_rec_end(o);
        if (o == &w->books && !book)
            worker_books_flush(w, 0, 1);
        if (t->client && t->status == 0)
            direct_result(w, t);
        worker_task_destroy(w, t);
        t = next;
    }
}

static void *task_thread(void *arg)
{
    struct locus_task *self = arg; /* carries the worker and index only */
    worker *w = self->w;
    int idx = self->thread;
    free(self);
    if (topo_bind_thread(w->topo, w->node, idx) != 0)
        lc_log(LC_LOG_INFO, "numa", "thread %d not bound: %s", idx,
               locus_last_error());
    for (;;) {
        pthread_mutex_lock(&w->qmu);
        while (!w->qhead && !w->stopping)
            pthread_cond_wait(&w->qcv, &w->qmu);
        if (w->stopping && !w->qhead) {
            pthread_mutex_unlock(&w->qmu);
            break;
        }
        struct locus_task *t = w->qhead;
        w->qhead = t->next;
        if (!w->qhead)
            w->qtail = NULL;
        w->qlen--;
        pthread_mutex_unlock(&w->qmu);

        run_task(w, t, idx);
        push_done(w, t, 1);
    }
    return NULL;
}

/* ---- joining the scheduler -------------------------------------------------
 */

int worker_start_threads(worker *w)
{
    w->threads = calloc((size_t)w->nthreads, sizeof(pthread_t));
    if (!w->threads)
        return lc_seterr(LOCUS_ENOMEM, "worker", "no memory for threads");
    for (int i = 0; i < w->nthreads; i++) {
        struct locus_task *arg = calloc(1, sizeof(*arg));
        if (!arg)
            return lc_seterr(LOCUS_ENOMEM, "worker", "no memory");
        arg->w = w;
        arg->thread = i;
        int e = pthread_create(&w->threads[i], NULL, task_thread, arg);
        if (e) {
            free(arg);
            return lc_seterr(LOCUS_ESYS, "worker", "pthread_create: %s",
                             strerror(e));
        }
        w->nstarted++;
    }
    return 0;
}

void worker_stop_threads(worker *w)
{
    worker_stop_threads_within(w, -1);
}

int worker_stop_threads_within(worker *w, int ms)
{
    pthread_mutex_lock(&w->qmu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->qcv);
    pthread_mutex_unlock(&w->qmu);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    for (int i = 0; i < w->nstarted; i++) {
        if (ms < 0)
            pthread_join(w->threads[i], NULL);
        else if (pthread_timedjoin_np(w->threads[i], NULL, &dl) != 0)
            return -1; /* a task that does not stop */
    }
    free(w->threads);
    w->threads = NULL;
    w->nstarted = 0;
    return 0;
}
