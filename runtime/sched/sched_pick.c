/* SPDX-License-Identifier: BSD-3-Clause */
/* The placement decisions, pure: see sched_pick.h. */
#include "sched/sched_pick.h"

#include <string.h>

static int same_host(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* a less loaded than b, per thread (cross-multiplied: no division) */
static int less_loaded(const sched_cand *a, const sched_cand *b)
{
    long at = a->nthreads > 0 ? a->nthreads : 1;
    long bt = b->nthreads > 0 ? b->nthreads : 1;
    return (long)a->load * bt < (long)b->load * at;
}

int sched_pick_worker(const sched_cand *c, size_t nc, const sched_input *in,
                      size_t nin)
{
    int best = -1;
    uint64_t best_local = 0, best_host = 0;
    /* few inputs and candidates: quadratic is cheap */
    for (size_t i = 0; i < nc; i++) {
        if (!c[i].allowed)
            continue;
        uint64_t local = 0, host = 0;
        for (size_t j = 0; j < nin; j++) {
            if (in[j].holder >= 0 && in[j].holder == c[i].id)
                local += in[j].nbytes + 1;
            else if (same_host(in[j].host, c[i].host))
                host += in[j].nbytes + 1;
        }
        int better = best < 0 || local > best_local ||
                     (local == best_local && host > best_host) ||
                     (local == best_local && host == best_host &&
                      less_loaded(&c[i], &c[best]));
        if (better) {
            best = (int)i;
            best_local = local;
            best_host = host;
        }
    }
    return best;
}

double sched_move_ns(const sched_cand *w, const sched_input *in, size_t nin)
{
    double ns = 0;
    uint64_t bytes = 0;
    for (size_t j = 0; j < nin; j++) {
        if (in[j].holder >= 0 && in[j].holder == w->id)
            continue;
        bytes += in[j].nbytes;
        ns += (double)in[j].nbytes * 1e9 /
              (same_host(in[j].host, w->host) ? SCHED_STEAL_HOST_BPS
                                              : SCHED_STEAL_NET_BPS);
    }
    return bytes > SCHED_STEAL_MAX_BYTES ? -1 : ns;
}

int sched_pick_thief(const sched_cand *c, size_t nc, int victim_id,
                     const sched_input *in, size_t nin, double stuck_ns)
{
    int best = -1;
    double best_ns = 0;
    for (size_t i = 0; i < nc; i++) {
        if (c[i].id == victim_id || c[i].idle <= 0 || !c[i].allowed)
            continue;
        double m = sched_move_ns(&c[i], in, nin);
        if (m >= 0 && m * 4 < stuck_ns && (best < 0 || m < best_ns)) {
            best = (int)i;
            best_ns = m;
        }
    }
    return best;
}
