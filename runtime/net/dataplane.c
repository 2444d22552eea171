/* SPDX-License-Identifier: BSD-3-Clause */
#include "net/dataplane.h"

#include <stdio.h>
#include <string.h>

#include "base/base.h"

int dp_describe(arena *a, lnet *n, int ep, const void *data, size_t len,
                int may_map, size_t inline_max, rec_data *d)
{
    uint64_t req = d->req;
    memset(d, 0, sizeof(*d));
    d->req = req;
    d->nbytes = len;
    arena_loc loc;
    if (may_map && arena_locate(a, data, &loc) == 0) {
        d->mode = DATA_SHM;
        snprintf(d->segment, sizeof(d->segment), "%s", loc.name);
        d->seg_len = loc.seg_len;
        d->offset = loc.offset;
        d->dedicated = (uint8_t)loc.dedicated;
        return 0;
    }
    if (len <= inline_max) {
        d->mode = DATA_INLINE;
        d->bytes = data;
        d->nbytes_inline = len;
        return 0;
    }
    d->mode = DATA_RMA;
    return arena_rkey(a, ep, n->ep[ep], data, len, &d->rk);
}

int dp_map(const rec_data *d, arena_map **m, const void **p)
{
    const void *base;
    int rc = arena_map_open(d->segment, d->seg_len, d->dedicated, m, &base);
    if (rc == 0)
        *p = (const uint8_t *)base + d->offset;
    return rc;
}

int dp_read(lnet *n, lnet_route r, const rec_data *d, void *dst, void *ctx)
{
    if (r.ep < 0 || !n->ep[r.ep])
        return lc_seterr(LOCUS_ECLOSED, "xport", "no route to the holder");
    return xport_read(n->ep[r.ep], r.addr, dst, d->nbytes, NULL, &d->rk, 0,
                      ctx);
}
