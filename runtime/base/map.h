/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Open-addressing hash map from a uint64_t key (below UINT64_MAX - 1) to a
 * pointer (private).  O(1) expected per operation; used for tasks, objects
 * and futures, which are looked up once per message record.  Key and value
 * share a slot, so a probe touches one cache line.
 */
#ifndef LC_MAP_H
#define LC_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct lc_map_slot {
    uint64_t key; /* stored + 2; 0: empty, 1: deleted */
    void *val;
} lc_map_slot;

typedef struct lc_map {
    lc_map_slot *slots;
    size_t cap, n, used;
} lc_map;

void lc_map_init(lc_map *m);
void lc_map_free(lc_map *m);
void *lc_map_get(const lc_map *m, uint64_t key);
/* Returns 0, or LOCUS_ENOMEM.  Replaces an existing value. */
int lc_map_put(lc_map *m, uint64_t key, void *val);
void *lc_map_del(lc_map *m, uint64_t key);
/* Give back memory of a map that emptied: a table more than 8 times too
 * big is rehashed smaller.  Not while iterating over it. */
void lc_map_shrink(lc_map *m);
/* Iterate: for (size_t i = 0; lc_map_next(m, &i, &k, &v);) */
int lc_map_next(const lc_map *m, size_t *it, uint64_t *key, void **val);

#endif
