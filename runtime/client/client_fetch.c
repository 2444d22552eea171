/* SPDX-License-Identifier: BSD-3-Clause */
/* The data plane of a client: values fetched from the workers that hold
 * them, and big arguments served to the workers that need them. */
#include "client/client_int.h"

#include "net/dataplane.h"

/* under mu: the task finished, its big arguments are not needed */
void client_drop_puts(locus_client *c, struct locus_future *f)
{
    for (int i = 0; i < f->nputs; i++) {
        put_obj *p = lc_map_del(&c->puts, f->puts[i]);
        if (p) {
            arena_free(c->arena, p->data);
            free(p);
        }
    }
    free(f->puts);
    f->puts = NULL;
    f->nputs = 0;
}

void client_fetch_done(locus_client *c, struct locus_future *f, int status,
                       const char *msg)
{
    pthread_mutex_lock(&c->mu);
    f->fetching = 0;
    f->fetch_status = status;
    if (status) {
        free(f->errmsg);
        f->errmsg = strdup(msg ? msg : locus_strerror(status));
    } else {
        f->have_data = 1;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void client_on_data(locus_client *c, int ep, wire_rd *r)
{
    rec_data d;
    int bad = rec_get_data(r, &d) != 0;
    struct locus_future *f = lc_map_del(&c->gets, d.req);
    if (!f)
        return;
    if (bad || d.status) {
        char msg[512];
        snprintf(msg, sizeof(msg), "fetching the value from worker %d: %.*s",
                 f->worker, bad ? 9 : (int)d.nbytes_inline,
                 bad       ? "malformed"
                 : d.bytes ? (const char *)d.bytes
                           : "");
        client_fetch_done(c, f, bad ? LOCUS_EPROTO : d.status, msg);
        return;
    }
    void *buf = malloc(d.nbytes ? d.nbytes : 1);
    if (!buf) {
        client_fetch_done(c, f, LOCUS_ENOMEM, "out of memory for the value");
        return;
    }
    if (d.mode == DATA_SHM) {
        /* same host: copy straight out of the worker's segment */
        arena_map *m = NULL;
        const void *src;
        if (dp_map(&d, &m, &src) != 0) {
            free(buf);
            cpeer *w = cpeer_get(c, f->worker);
            if (w) { /* not mappable here: ask for RMA */
                w->no_map = 1;
                f->fetch_next = NULL;
                client_send_gets(c, f);
                return;
            }
            client_fetch_done(c, f, LOCUS_ELOST,
                              "the worker holding the value is "
                              "gone");
            return;
        }
        memcpy(buf, src, d.nbytes);
        arena_map_release(m);
    } else if (d.mode == DATA_INLINE) {
        if (d.nbytes)
            memcpy(buf, d.bytes, d.nbytes);
    }
    pthread_mutex_lock(&c->mu);
    f->data = buf;
    f->len = d.nbytes;
    pthread_mutex_unlock(&c->mu);
    if (d.mode != DATA_RMA) {
        client_fetch_done(c, f, 0, NULL);
        return;
    }
    cpeer *w = cpeer_get(c, f->worker);
    if (!w || w->route.ep != ep) {
        client_fetch_done(c, f, LOCUS_EPROTO, "bad RMA descriptor");
        return;
    }
    if (lc_map_put(&c->gets, d.req, f) != 0) {
        client_fetch_done(c, f, LOCUS_ENOMEM, "out of memory");
        return;
    }
    int rc = dp_read(&c->net, w->route, &d, buf, (void *)(uintptr_t)d.req);
    if (rc) {
        lc_map_del(&c->gets, d.req);
        client_fetch_done(c, f, rc, locus_last_error());
    }
}

void client_on_read_event(locus_client *c, xport_event *ev)
{
    uint64_t req = (uint64_t)(uintptr_t)ev->ctx;
    struct locus_future *f = lc_map_del(&c->gets, req);
    if (!f)
        return;
    if (ev->kind == XPORT_EV_READ_ERROR)
        client_fetch_done(c, f, ev->status, "RMA read of the value failed");
    else
        client_fetch_done(c, f, 0, NULL);
}

/* A worker fetches a big argument of ours. */
void client_on_get(locus_client *c, cpeer *w, wire_rd *r)
{
    uint64_t req, key;
    int may_map;
    if (rec_get_get(r, &req, &key, &may_map) != 0)
        return;
    wire_wr *o = lnet_out(&c->net, w->sess);
    rec_data d;
    d.req = req;
    pthread_mutex_lock(&c->mu);
    put_obj *p = lc_map_get(&c->puts, key);
    int rc;
    if (!p)
        rec_put_data_error(o, req, LOCUS_ENOENT,
                           "the client no longer holds "
                           "that argument (its future was released)");
    else if ((rc = dp_describe(c->arena, &c->net, w->route.ep, p->data, p->len,
                               may_map, 0, &d)) != 0)
        rec_put_data_error(o, req, rc, locus_last_error());
    else
        rec_put_data(o, &d);
    pthread_mutex_unlock(&c->mu);
}

void client_send_gets(locus_client *c, struct locus_future *list)
{
    while (list) {
        struct locus_future *f = list;
        list = f->fetch_next;
        f->fetch_next = NULL;
        cpeer *w = cpeer_get(c, f->worker);
        if (!w) {
            char m[128];
            snprintf(m, sizeof(m),
                     "worker %d that holds the value is not "
                     "connected",
                     f->worker);
            client_fetch_done(c, f, LOCUS_ELOST, m);
            continue;
        }
        uint64_t req = ++c->next_req | (1ull << 62);
        if (lc_map_put(&c->gets, req, f) != 0) {
            client_fetch_done(c, f, LOCUS_ENOMEM, "out of memory");
            continue;
        }
        rec_put_get(lnet_out(&c->net, w->sess), req, f->key,
                    w->same_host && !w->no_map);
    }
}
