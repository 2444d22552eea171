/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data plane (private), written once for workers and clients: how an
 * object held in an arena is described to the peer that asked for it
 * (GET -> DATA), and how the asker reaches the bytes.
 *
 *   same host, may_map   DATA_SHM: segment name, length, offset; the asker
 *                        maps the segment read-only (zero copies)
 *   small                DATA_INLINE: the bytes in the record
 *   otherwise            DATA_RMA: a key for fi_read of the registered
 *                        segment, chunked, several reads in flight
 */
#ifndef LC_DATAPLANE_H
#define LC_DATAPLANE_H

#include "arena/arena.h"
#include "net/lnet.h"
#include "proto/records.h"

/*
 * Fill d (its req is the caller's) for the len bytes at data, which lie in
 * arena a, for a peer reached over endpoint ep of n.  Objects up to
 * inline_max bytes go inline (0: never).  0, or the LOCUS_E* code of a
 * failed registration (with a message): answer with rec_put_data_error.
 */
int dp_describe(arena *a, lnet *n, int ep, const void *data, size_t len,
                int may_map, size_t inline_max, rec_data *d);

/* DATA_SHM: map the holder's segment; *p points at the object. */
int dp_map(const rec_data *d, arena_map **m, const void **p);

/* DATA_RMA: start reading the object into dst (d->nbytes bytes) from the
 * holder at route r; one LNET_IN_READ with ctx follows when 0. */
int dp_read(lnet *n, lnet_route r, const rec_data *d, void *dst, void *ctx);

#endif
