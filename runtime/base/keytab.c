/* SPDX-License-Identifier: BSD-3-Clause */
#include "base/keytab.h"

#include <stdlib.h>
#include <string.h>

#include "base/base.h"

#define SEQ_BITS 40
#define SEQ_MASK ((1ull << SEQ_BITS) - 1)
#define SLOT_MASK (LC_KT_PAGE - 1)

struct lc_kt_page {
    uint32_t live;
    void *slot[LC_KT_PAGE];
};

void lc_kt_init(lc_keytab *t)
{
    memset(t, 0, sizeof(*t));
    lc_map_init(&t->index);
}

static void owner_free(lc_kt_owner *o)
{
    for (size_t i = 0; i < o->npages; i++)
        free(o->pages[i]);
    free(o->pages);
    lc_map_free(&o->far);
}

void lc_kt_free(lc_keytab *t)
{
    for (size_t i = 0; i < t->nowners; i++)
        owner_free(&t->owners[i]);
    free(t->owners);
    lc_map_free(&t->index);
    lc_kt_init(t);
}

/* The owner's index, or nowners.  Most lookups in a row are for one
   owner: that one is tried first. */
static size_t owner_find(const lc_keytab *t, uint32_t owner)
{
    if (t->last < t->nowners && t->owners[t->last].owner == owner)
        return t->last;
    uintptr_t i = (uintptr_t)lc_map_get(&t->index, owner);
    if (!i)
        return t->nowners;
    ((lc_keytab *)t)->last = i - 1; /* a hint only */
    return i - 1;
}

static struct lc_kt_page **page_ref(const lc_kt_owner *o, uint64_t pno)
{
    if (pno < o->lo || pno - o->lo >= o->npages)
        return NULL;
    return &o->pages[pno - o->lo];
}

static uint64_t pno_of(uint64_t key)
{
    return (key & SEQ_MASK) >> LC_KT_SHIFT;
}

void *lc_kt_get(const lc_keytab *t, uint64_t key)
{
    size_t i = owner_find(t, (uint32_t)(key >> SEQ_BITS));
    if (i == t->nowners)
        return NULL;
    const lc_kt_owner *o = &t->owners[i];
    struct lc_kt_page **pp = page_ref(o, pno_of(key));
    void *v = pp && *pp ? (*pp)->slot[key & SLOT_MASK] : NULL;
    if (!v && o->far.n)
        v = lc_map_get(&o->far, key);
    return v;
}

static int grow_to(lc_kt_owner *o, size_t need)
{
    if (need <= o->cap)
        return 0;
    size_t ncap = o->cap ? o->cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    struct lc_kt_page **np = realloc(o->pages, ncap * sizeof(*np));
    if (!np)
        return LOCUS_ENOMEM;
    o->pages = np;
    o->cap = ncap;
    return 0;
}

/* Drop the page pointers before the first live page. */
static void trim_front(lc_kt_owner *o)
{
    size_t k = 0;
    while (k < o->npages && !o->pages[k])
        k++;
    if (!k)
        return;
    memmove(o->pages, o->pages + k, (o->npages - k) * sizeof(*o->pages));
    o->npages -= k;
    o->lo += k;
}

/* Make the span cover page number pno: its slot, or NULL when that would
   make the span longer than LC_KT_MAX_SPAN (or on no memory: *nomem). */
static struct lc_kt_page **span(lc_kt_owner *o, uint64_t pno, int *nomem)
{
    *nomem = 0;
    /* pages before the first live one go when the span moves on, so a
       long-lived owner's array follows its live keys */
    if (o->npages > 64 && !o->pages[0] && pno >= o->lo + o->npages)
        trim_front(o);
    if (!o->npages) {
        if (grow_to(o, 1) != 0)
            goto nomem;
        o->lo = pno;
        o->pages[0] = NULL;
        o->npages = 1;
    } else if (pno < o->lo) {
        size_t shift = (size_t)(o->lo - pno);
        if (o->lo - pno >= LC_KT_MAX_SPAN || o->npages + shift > LC_KT_MAX_SPAN)
            return NULL;
        if (grow_to(o, o->npages + shift) != 0)
            goto nomem;
        memmove(o->pages + shift, o->pages, o->npages * sizeof(*o->pages));
        memset(o->pages, 0, shift * sizeof(*o->pages));
        o->npages += shift;
        o->lo = pno;
    } else if (pno - o->lo >= o->npages) {
        if (pno - o->lo >= LC_KT_MAX_SPAN)
            return NULL;
        size_t need = (size_t)(pno - o->lo) + 1;
        if (grow_to(o, need) != 0)
            goto nomem;
        memset(o->pages + o->npages, 0, (need - o->npages) * sizeof(*o->pages));
        o->npages = need;
    }
    return &o->pages[pno - o->lo];
nomem:
    *nomem = 1;
    return NULL;
}

static int nomem(const lc_keytab *t)
{
    return lc_seterr(LOCUS_ENOMEM, "keytab",
                     "out of memory for the key of %zu entries", t->n);
}

int lc_kt_put(lc_keytab *t, uint64_t key, void *val)
{
    uint32_t owner = (uint32_t)(key >> SEQ_BITS);
    size_t i = owner_find(t, owner);
    if (i == t->nowners) {
        if (t->nowners == t->capowners) {
            size_t ncap = t->capowners ? t->capowners * 2 : 8;
            lc_kt_owner *no = realloc(t->owners, ncap * sizeof(*no));
            if (!no)
                return nomem(t);
            t->owners = no;
            t->capowners = ncap;
        }
        if (lc_map_put(&t->index, owner, (void *)(uintptr_t)(i + 1)) != 0)
            return nomem(t);
        memset(&t->owners[i], 0, sizeof(t->owners[i]));
        t->owners[i].owner = owner;
        lc_map_init(&t->owners[i].far);
        t->nowners++;
    }
    t->last = i;
    lc_kt_owner *o = &t->owners[i];
    if (o->far.n && lc_map_get(&o->far, key)) {
        lc_map_put(&o->far, key, val); /* there already: replaced */
        return 0;
    }
    int oom;
    struct lc_kt_page **pp = span(o, pno_of(key), &oom);
    if (oom)
        return nomem(t);
    if (!pp) {
        if (lc_map_put(&o->far, key, val) != 0)
            return nomem(t);
        o->n++;
        t->n++;
        return 0;
    }
    if (!*pp) {
        *pp = calloc(1, sizeof(**pp));
        if (!*pp)
            return nomem(t);
    }
    void **s = &(*pp)->slot[key & SLOT_MASK];
    if (!*s) {
        (*pp)->live++;
        o->n++;
        t->n++;
    }
    *s = val;
    return 0;
}

void *lc_kt_del(lc_keytab *t, uint64_t key)
{
    size_t i = owner_find(t, (uint32_t)(key >> SEQ_BITS));
    if (i == t->nowners)
        return NULL;
    lc_kt_owner *o = &t->owners[i];
    struct lc_kt_page **pp = page_ref(o, pno_of(key));
    void *v = NULL;
    if (pp && *pp && (v = (*pp)->slot[key & SLOT_MASK])) {
        (*pp)->slot[key & SLOT_MASK] = NULL;
        if (--(*pp)->live == 0) {
            free(*pp);
            *pp = NULL;
        }
    } else if (o->far.n) {
        v = lc_map_del(&o->far, key);
    }
    if (v) {
        o->n--;
        t->n--;
    }
    return v;
}

void lc_kt_shrink(lc_keytab *t)
{
    /* the owners that stay, indexed at their new places first: without
       memory for that, nothing moves */
    lc_map index;
    lc_map_init(&index);
    size_t j = 0;
    for (size_t i = 0; i < t->nowners; i++)
        if (t->owners[i].n && lc_map_put(&index, t->owners[i].owner,
                                         (void *)(uintptr_t)(++j)) != 0) {
            lc_map_free(&index);
            return;
        }
    lc_map_free(&t->index);
    t->index = index;
    j = 0;
    for (size_t i = 0; i < t->nowners; i++) {
        lc_kt_owner *o = &t->owners[i];
        if (!o->n) {
            owner_free(o);
            continue;
        }
        trim_front(o);
        while (o->npages && !o->pages[o->npages - 1])
            o->npages--;
        if (o->cap > 64 && o->npages * 4 < o->cap) {
            size_t ncap = o->npages * 2 > 16 ? o->npages * 2 : 16;
            struct lc_kt_page **np = realloc(o->pages, ncap * sizeof(*np));
            if (np) {
                o->pages = np;
                o->cap = ncap;
            }
        }
        lc_map_shrink(&o->far);
        t->owners[j++] = *o;
    }
    t->nowners = j;
    t->last = 0;
    if (!j) {
        free(t->owners);
        t->owners = NULL;
        t->capowners = 0;
    }
}

int lc_kt_next(const lc_keytab *t, lc_kt_it *it, uint64_t *key, void **val)
{
    for (; it->owner < t->nowners;
         it->owner++, it->page = 0, it->slot = 0, it->far = 0) {
        const lc_kt_owner *o = &t->owners[it->owner];
        for (; it->page < o->npages; it->page++, it->slot = 0) {
            /* read again each time: a delete may have freed the page */
            for (; o->pages[it->page] && it->slot < LC_KT_PAGE; it->slot++) {
                void *v = o->pages[it->page]->slot[it->slot];
                if (!v)
                    continue;
                *key = (uint64_t)o->owner << SEQ_BITS |
                       (o->lo + it->page) << LC_KT_SHIFT | it->slot;
                *val = v;
                it->slot++;
                return 1;
            }
        }
        if (o->far.n && lc_map_next(&o->far, &it->far, key, val))
            return 1;
    }
    return 0;
}
