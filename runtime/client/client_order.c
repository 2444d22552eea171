/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker ids in placement order (client_order.h): spreading one task per
 * chunk or file over the cluster, from what locus_workers reports.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "client/client_order.h"

typedef struct wslot {
    locus_worker_info wi;
    int host, node, pos; /* host index, node index in host, pos in node */
} wslot;

static int cmp_where(const void *x, const void *y)
{
    const locus_worker_info *a = &((const wslot *)x)->wi;
    const locus_worker_info *b = &((const wslot *)y)->wi;
    int c = strcmp(a->host, b->host);
    if (c)
        return c;
    if (a->numa_node != b->numa_node)
        return a->numa_node < b->numa_node ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* round-robin: the first worker of each node of each host, then the
   second ones... with hosts alternating fastest */
static int cmp_turn(const void *x, const void *y)
{
    const wslot *a = x, *b = y;
    if (a->pos != b->pos)
        return a->pos < b->pos ? -1 : 1;
    if (a->node != b->node)
        return a->node < b->node ? -1 : 1;
    if (a->host != b->host)
        return a->host < b->host ? -1 : 1;
    return 0;
}

int client_worker_order(locus_client *c, int **ids, size_t *n)
{
    size_t nw = 0, got = 0;
    int rc = locus_workers(c, NULL, 0, &nw);
    if (rc)
        return rc;
    wslot *ws = nw ? calloc(nw, sizeof(*ws)) : NULL;
    locus_worker_info *wi = nw ? calloc(nw, sizeof(*wi)) : NULL;
    if (nw && (!ws || !wi)) {
        free(ws);
        free(wi);
        return lc_seterr(LOCUS_ENOMEM, "client", "no memory");
    }
    if (nw)
        rc = locus_workers(c, wi, nw, &got);
    if (!rc && got < nw)
        nw = got;
    if (!rc && nw == 0)
        rc = lc_seterr(LOCUS_ENOWORKERS, "client", "no worker is connected");
    int *out = rc ? NULL : malloc(nw * sizeof(*out));
    if (!rc && !out)
        rc = lc_seterr(LOCUS_ENOMEM, "client", "no memory");
    if (!rc) {
        for (size_t i = 0; i < nw; i++)
            ws[i].wi = wi[i];
        qsort(ws, nw, sizeof(*ws), cmp_where);
        for (size_t i = 0; i < nw; i++) {
            if (i == 0) {
                ws[i].host = ws[i].node = ws[i].pos = 0;
            } else if (strcmp(ws[i].wi.host, ws[i - 1].wi.host)) {
                ws[i].host = ws[i - 1].host + 1;
                ws[i].node = ws[i].pos = 0;
            } else if (ws[i].wi.numa_node != ws[i - 1].wi.numa_node) {
                ws[i].host = ws[i - 1].host;
                ws[i].node = ws[i - 1].node + 1;
                ws[i].pos = 0;
            } else {
                ws[i].host = ws[i - 1].host;
                ws[i].node = ws[i - 1].node;
                ws[i].pos = ws[i - 1].pos + 1;
            }
        }
        qsort(ws, nw, sizeof(*ws), cmp_turn);
        for (size_t i = 0; i < nw; i++)
            out[i] = ws[i].wi.id;
        *ids = out;
        *n = nw;
    }
    free(ws);
    free(wi);
    return rc;
}
