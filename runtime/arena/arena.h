/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's arena (private): every task result lives here.
 *
 * Memory is POSIX shared memory (/dev/shm/<prefix>-<n>), so that a worker on
 * the same host can map an object read-only and use it in place (zero
 * copies), and it is registered with the net endpoint, lazily and once per
 * segment, so that a worker on another host can fi_read it.  Pages are
 * first touched by this process, which is bound to its NUMA node, so they
 * land on that node.
 *
 * Objects up to ARENA_LARGE bytes come from pooled segments (ARENA_SEG
 * bytes each) in power-of-two size classes; larger objects get a segment of
 * their own, removed when they are freed.  Every byte is counted: used
 * (objects) and reserved (segments), so the worker reports its memory
 * exactly rather than asking malloc.
 *
 * arena_alloc/arena_free are thread-safe (task threads allocate results);
 * registration calls are for the endpoint's owner thread.
 */
#ifndef LC_ARENA_H
#define LC_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "xport.h"

#define ARENA_SEG (64u << 20)
#define ARENA_LARGE (1u << 20)
#define ARENA_NAME_MAX 96

typedef struct arena arena;

struct arena_opts {
    const char *prefix; /* shm name prefix, e.g. "/locus-<job>-w3" */
    size_t limit;       /* most bytes reserved; 0: 90% of /dev/shm */
};

int arena_create(const struct arena_opts *o, arena **out);
/* Unmaps and removes every segment. */
void arena_destroy(arena *a);

/* len bytes, 64-byte aligned; NULL with lc_seterr when out of memory or
 * over the limit (never a SIGBUS later). */
void *arena_alloc(arena *a, size_t len);
void arena_free(arena *a, void *p);
/* Size asked for at arena_alloc; 0 if p is not an arena object. */
size_t arena_size(arena *a, const void *p);

/* Where an object is, for a same-host peer to map it. */
typedef struct arena_loc {
    char name[ARENA_NAME_MAX]; /* shm_open name of its segment */
    uint64_t seg_len;          /* bytes to map */
    uint64_t offset;           /* of the object in the segment */
    int dedicated;             /* segment holds only this object */
} arena_loc;
int arena_locate(arena *a, const void *p, arena_loc *out);

/* Describe [p, p+len) for an fi_read by a peer of ep (slot 0 or 1: one per
 * endpoint); registers the segment with ep the first time. */
int arena_rkey(arena *a, int slot, xport_ep *ep, const void *p, size_t len,
               xport_rkey *out);

/* Leftovers.  Segments are named "locus-<16 hex>-<pid>-<n>" (workers) and
 * "locus-<16 hex>-<pid>c-<n>" (clients); the transport names its own shm
 * files (xport_file_pid).  The pid in such a /dev/shm name, or 0. */
int arena_file_pid(const char *name);
/* Remove the /dev/shm files (segments and the transport's) of process pid,
 * or with pid 0 those of every dead process of this user, and with self
 * also those named for this process (at start-up, before it made any: a
 * dead process with the same pid left them).  Returns how many were
 * removed.  For processes killed before they could clean up. */
int arena_sweep(int pid, int self);

/* Idle: when no object lives in the arena, give its pooled memory back
 * (one segment kept, its pages returned; the others removed).  Returns the
 * bytes given back. */
size_t arena_trim(arena *a);

uint64_t arena_used(arena *a);
uint64_t arena_reserved(arena *a);

/* ---- consumer side: mapping a peer's segment read-only ------------------ */

typedef struct arena_map arena_map;
/* Map name read-only; the caller reads [offset, offset+len).  A pooled
 * segment's mapping is cached per name; a dedicated one is unmapped when
 * released. */
int arena_map_open(const char *name, uint64_t seg_len, int dedicated,
                   arena_map **out, const void **base);
void arena_map_release(arena_map *m);
/* Drop every cached mapping whose name starts with prefix (peer gone). */
void arena_map_forget(const char *prefix);
void arena_map_clear(void);

/* Check that /dev/shm can hold need bytes; LOCUS_ENOMEM with a message
 * naming the free space otherwise. */
int arena_check_shm(uint64_t need);

#endif
