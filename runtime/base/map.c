/* SPDX-License-Identifier: BSD-3-Clause */
#include "base/map.h"

#include <stdlib.h>

#include "base/base.h"

#define EMPTY 0
#define TOMB 1

void lc_map_init(lc_map *m)
{
    m->slots = NULL;
    m->cap = m->n = m->used = 0;
}

void lc_map_free(lc_map *m)
{
    free(m->slots);
    lc_map_init(m);
}

static size_t hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return (size_t)k;
}

/* slots 0 and 1 mark empty and deleted: keys are stored shifted by 2 */
static uint64_t enc(uint64_t k)
{
    return k + 2;
}

void *lc_map_get(const lc_map *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    uint64_t k = enc(key);
    size_t mask = m->cap - 1;
    for (size_t i = hash(k) & mask;; i = (i + 1) & mask) {
        if (m->slots[i].key == k)
            return m->slots[i].val;
        if (m->slots[i].key == EMPTY)
            return NULL;
    }
}

static int rehash(lc_map *m, size_t ncap);

static int grow(lc_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    if (m->n * 2 < m->cap) /* mostly deleted slots: rehash at the same size */
        ncap = m->cap;
    return rehash(m, ncap);
}

void lc_map_shrink(lc_map *m)
{
    if (m->cap <= 64 || m->n * 8 >= m->cap)
        return;
    if (!m->n) {
        lc_map_free(m);
        return;
    }
    size_t ncap = 64;
    while (ncap < m->n * 4)
        ncap *= 2;
    rehash(m, ncap); /* no memory: keep the big one */
}

static int rehash(lc_map *m, size_t ncap)
{
    lc_map_slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return LOCUS_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key <= TOMB)
            continue;
        size_t j = hash(m->slots[i].key) & (ncap - 1);
        while (ns[j].key != EMPTY)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->n;
    return 0;
}

int lc_map_put(lc_map *m, uint64_t key, void *val)
{
    if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) != 0)
        return lc_seterr(LOCUS_ENOMEM, "map",
                         "out of memory growing a map "
                         "of %zu entries",
                         m->n);
    uint64_t k = enc(key);
    size_t mask = m->cap - 1, tomb = (size_t)-1;
    for (size_t i = hash(k) & mask;; i = (i + 1) & mask) {
        lc_map_slot *s = &m->slots[i];
        if (s->key == k) {
            s->val = val;
            return 0;
        }
        if (s->key == TOMB && tomb == (size_t)-1)
            tomb = i;
        if (s->key == EMPTY) {
            if (tomb != (size_t)-1)
                s = &m->slots[tomb];
            else
                m->used++;
            s->key = k;
            s->val = val;
            m->n++;
            return 0;
        }
    }
}

void *lc_map_del(lc_map *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    uint64_t k = enc(key);
    size_t mask = m->cap - 1;
    for (size_t i = hash(k) & mask;; i = (i + 1) & mask) {
        lc_map_slot *s = &m->slots[i];
        if (s->key == k) {
            void *v = s->val;
            /* the next slot empty: nobody probes past this one, so it
               can be empty too rather than deleted */
            if (m->slots[(i + 1) & mask].key == EMPTY) {
                s->key = EMPTY;
                m->used--;
            } else {
                s->key = TOMB;
            }
            s->val = NULL;
            m->n--;
            return v;
        }
        if (s->key == EMPTY)
            return NULL;
    }
}

int lc_map_next(const lc_map *m, size_t *it, uint64_t *key, void **val)
{
    for (size_t i = *it; i < m->cap; i++) {
        if (m->slots[i].key > TOMB) {
            *key = m->slots[i].key - 2;
            *val = m->slots[i].val;
            *it = i + 1;
            return 1;
        }
    }
    *it = m->cap;
    return 0;
}
