#include "base/map.h"

#include <stdlib.h>

#include "base/base.h"

#define EMPTY 0
#define TOMB 1

void lc_map_init(lc_map *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = m->used = 0;
}

void lc_map_free(lc_map *m)
{
    free(m->keys);
    free(m->vals);
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
        if (m->keys[i] == k)
            return m->vals[i];
        if (m->keys[i] == EMPTY)
            return NULL;
    }
}

static int grow(lc_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    if (m->n * 2 < m->cap) /* mostly tombstones: rehash at the same size */
        ncap = m->cap;
    uint64_t *nk = calloc(ncap, sizeof(*nk));
    void **nv = calloc(ncap, sizeof(*nv));
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return LOCUS_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] <= TOMB)
            continue;
        size_t j = hash(m->keys[i]) & (ncap - 1);
        while (nk[j] != EMPTY)
            j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    m->used = m->n;
    return 0;
}

int lc_map_put(lc_map *m, uint64_t key, void *val)
{
    if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) != 0)
        return lc_seterr(LOCUS_ENOMEM, "map", "out of memory growing a map "
                         "of %zu entries", m->n);
    uint64_t k = enc(key);
    size_t mask = m->cap - 1, tomb = (size_t)-1;
    for (size_t i = hash(k) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == k) {
            m->vals[i] = val;
            return 0;
        }
        if (m->keys[i] == TOMB && tomb == (size_t)-1)
            tomb = i;
        if (m->keys[i] == EMPTY) {
            if (tomb != (size_t)-1)
                i = tomb;
            else
                m->used++;
            m->keys[i] = k;
            m->vals[i] = val;
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
        if (m->keys[i] == k) {
            void *v = m->vals[i];
            m->keys[i] = TOMB;
            m->vals[i] = NULL;
            m->n--;
            return v;
        }
        if (m->keys[i] == EMPTY)
            return NULL;
    }
}

int lc_map_next(const lc_map *m, size_t *it, uint64_t *key, void **val)
{
    for (size_t i = *it; i < m->cap; i++) {
        if (m->keys[i] > TOMB) {
            *key = m->keys[i] - 2;
            *val = m->vals[i];
            *it = i + 1;
            return 1;
        }
    }
    *it = m->cap;
    return 0;
}
