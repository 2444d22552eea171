/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A table from a task key to a pointer (private), for the maps on the
 * per-task path: the scheduler's tasks, a worker's tasks and objects, a
 * client's futures.
 *
 * A task key is owner << 40 | sequence (PROTOCOL.md), and an owner's
 * sequence numbers are handed out in order, so the table is an array per
 * owner indexed by sequence, in pages of LC_KT_PAGE slots made when the
 * first key of the page comes and freed when its last one goes.  A run of
 * a million tasks touches consecutive memory instead of a random cache
 * line (and page) of a hash table per operation: that miss was a third of
 * the scheduler's time in a 10^6-task map.
 *
 * Memory: a slot of 8 bytes per key between the lowest and the highest
 * live key of an owner, in pages that hold at least one live key, plus a
 * pointer per page in that span.  The span is at most LC_KT_MAX_SPAN
 * pages: a key beyond it (a stray, or a forged one) goes to a hash map
 * of its owner, so no key costs more than a slot of that map.
 */
#ifndef LC_KEYTAB_H
#define LC_KEYTAB_H

#include <stddef.h>
#include <stdint.h>

#include "base/map.h"

#define LC_KT_SHIFT 9
#define LC_KT_PAGE (1u << LC_KT_SHIFT)
#define LC_KT_MAX_SPAN (1u << 14) /* pages: 8M keys, 128 KiB of pointers */

struct lc_kt_page;

typedef struct lc_kt_owner {
    uint32_t owner;            /* key >> 40 */
    size_t n;                  /* live keys */
    uint64_t lo;               /* page number of pages[0] */
    struct lc_kt_page **pages; /* pages[i]: page lo + i, or NULL */
    size_t npages, cap;
    lc_map far; /* keys outside the span */
} lc_kt_owner;

typedef struct lc_keytab {
    lc_kt_owner *owners;
    size_t nowners, capowners;
    lc_map index; /* owner -> its index + 1 */
    size_t last;  /* index of the owner looked up last */
    size_t n;     /* live keys in all */
} lc_keytab;

void lc_kt_init(lc_keytab *t);
void lc_kt_free(lc_keytab *t);
void *lc_kt_get(const lc_keytab *t, uint64_t key);
/* Returns 0, or LOCUS_ENOMEM (message set).  Replaces an existing value;
 * val must not be NULL. */
int lc_kt_put(lc_keytab *t, uint64_t key, void *val);
/* The value removed, or NULL.  Safe while iterating. */
void *lc_kt_del(lc_keytab *t, uint64_t key);
/* Give back what emptied: owners without keys, page pointers before the
 * first live page.  Not while iterating. */
void lc_kt_shrink(lc_keytab *t);
/* Iterate, in key order per owner:
 *   for (lc_kt_it it = {0}; lc_kt_next(t, &it, &k, &v);)
 * The value under the iterator may be deleted meanwhile (lc_kt_del), not
 * put. */
typedef struct lc_kt_it {
    size_t owner, page;
    uint32_t slot;
    size_t far; /* position in the owner's far map, after its pages */
} lc_kt_it;
int lc_kt_next(const lc_keytab *t, lc_kt_it *it, uint64_t *key, void **val);

#endif
