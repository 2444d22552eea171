/* SPDX-License-Identifier: BSD-3-Clause */
/* Peers the scheduler introduces: one pair session each. */
#include "worker/worker_int.h"

void worker_on_peer(worker *w, wire_rd *r)
{
    rec_peer rp;
    if (rec_get_peer(r, &rp) != 0)
        return;
    int id = (int)rp.id;
    if (id >= w->cappeers) {
        int ncap = w->cappeers ? w->cappeers : 64;
        while (ncap <= id)
            ncap *= 2;
        wpeer **np = realloc(w->peers, (size_t)ncap * sizeof(*np));
        if (!np)
            return;
        w->peers = np;
        for (int i = w->cappeers; i < ncap; i++)
            w->peers[i] = NULL;
        w->cappeers = ncap;
    }
    if (w->peers[id])
        return;
    wpeer *p = calloc(1, sizeof(*p));
    if (!p)
        return;
    p->id = id;
    p->role = rp.role;
    p->pid = (int)rp.pid;
    snprintf(p->host, sizeof(p->host), "%s", rp.host);
    uint8_t ktx[AUTH_KEY_LEN], krx[AUTH_KEY_LEN];
    uint64_t psid;
    if (lnet_route_to(&w->net, rp.host, rp.net, rp.shm, &p->route) != 0) {
        lc_log(LC_LOG_WARN, "worker", "cannot reach peer %d on %s: %s", id,
               rp.host, locus_last_error());
        free(p);
        return;
    }
    lnet_keys_pair(w->sf.key, w->join.id, w->join.sid, rp.id, rp.sid, ktx, krx,
                   &psid);
    p->sess = lnet_sess_open(&w->net, rp.id, psid, ktx, krx, p->route);
    if (!p->sess) {
        lnet_unroute(&w->net, p->route);
        free(p);
        return;
    }
    p->sess->user = p;
    lnet_sess_fallback(&w->net, p->sess, rp.net);
    w->peers[id] = p;
}

void worker_on_peer_gone(worker *w, wire_rd *r)
{
    int id = (int)wire_get_u32(r);
    wpeer *p = wpeer_get(w, id);
    if (!wire_rd_ok(r) || !p)
        return;
    /* the address stays in the AV; its session goes, and so do our cached
       mappings of its segments */
    char prefix[64];
    const char *jh = strchr(w->sf.job_id, '-');
    snprintf(prefix, sizeof(prefix), "/locus-%.16s-%d-",
             jh ? jh + 1 : w->sf.job_id, p->pid);
    arena_map_forget(prefix);
    /* fetches from it will never be answered */
    fetch *gone[64];
    int ngone;
    do {
        ngone = 0;
        size_t it = 0;
        uint64_t k;
        void *v;
        while (ngone < 64 && lc_map_next(&w->fetches, &it, &k, &v))
            if (((fetch *)v)->holder == id)
                gone[ngone++] = v;
        for (int i = 0; i < ngone; i++)
            worker_fetch_failed(w, gone[i], LOCUS_ELOST, "its holder died");
    } while (ngone == 64);
    lnet_sess_close(&w->net, p->sess);
    lnet_unroute(&w->net, p->route);
    free(p);
    w->peers[id] = NULL;
}

/* ---- functions -------------------------------------------------------------
 */
