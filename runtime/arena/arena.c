/* SPDX-License-Identifier: BSD-3-Clause */
#include "arena/arena.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/base.h"

#define HDR 64u
#define MAGIC 0x6c6f637573617265ull /* "locusare" */
#define NCLASS 15                   /* 64 B .. 1 MiB blocks */

typedef struct ahdr {
    uint64_t magic;
    uint64_t len; /* asked for */
    uint32_t seg;
    uint32_t cls; /* NCLASS: dedicated segment */
    struct ahdr *next_free;
} ahdr;

typedef struct seg {
    char name[ARENA_NAME_MAX];
    uint8_t *base;
    size_t len;
    size_t bump;
    int dedicated, live;
    xport_mr *mr[2];
} seg;

struct arena {
    pthread_mutex_t mu;
    char prefix[ARENA_NAME_MAX - 16];
    size_t limit;
    seg *segs;
    uint32_t nsegs, capsegs;
    uint32_t cur; /* pooled segment being carved, UINT32_MAX none */
    uint32_t nextname;
    ahdr *freel[NCLASS];
    uint64_t used, reserved;
    uint64_t nlive; /* objects allocated and not freed */
};

int arena_check_shm(uint64_t need)
{
    struct statvfs sv;
    if (statvfs("/dev/shm", &sv) != 0)
        return lc_seterr(LOCUS_ENOMEM, "arena",
                         "/dev/shm is not available "
                         "(%s): workers keep their data there",
                         strerror(errno));
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (avail < need)
        return lc_seterr(LOCUS_ENOMEM, "arena",
                         "/dev/shm has %llu MiB free, "
                         "%llu MiB needed: enlarge it (mount -o remount,"
                         "size=...) or lower the worker's memory limit",
                         (unsigned long long)(avail >> 20),
                         (unsigned long long)((need + (1 << 20) - 1) >> 20));
    return 0;
}

int arena_create(const struct arena_opts *o, arena **out)
{
    *out = NULL;
    if (!o || !o->prefix || o->prefix[0] != '/' ||
        strlen(o->prefix) >= ARENA_NAME_MAX - 16 || strchr(o->prefix + 1, '/'))
        return lc_seterr(LOCUS_EINVAL, "arena",
                         "shm prefix must be '/name' "
                         "(got %s)",
                         o && o->prefix ? o->prefix : "NULL");
    int rc = arena_check_shm(ARENA_SEG);
    if (rc)
        return rc;
    arena *a = calloc(1, sizeof(*a));
    if (!a)
        return lc_seterr(LOCUS_ENOMEM, "arena", "no memory");
    pthread_mutex_init(&a->mu, NULL);
    snprintf(a->prefix, sizeof(a->prefix), "%s", o->prefix);
    a->cur = UINT32_MAX;
    a->limit = o->limit;
    if (!a->limit) {
        struct statvfs sv;
        if (statvfs("/dev/shm", &sv) == 0)
            a->limit = (size_t)((double)sv.f_blocks * sv.f_frsize * 0.9);
    }
    *out = a;
    return 0;
}

/* under mu */
/* populate: bytes from the start that are written at once (0: none) */
static int seg_new(arena *a, size_t len, int dedicated, size_t populate,
                   uint32_t *idx)
{
    if (a->reserved + len > a->limit)
        return lc_seterr(LOCUS_ENOMEM, "arena",
                         "worker memory limit: %llu "
                         "MiB reserved + %zu MiB asked > limit %zu MiB",
                         (unsigned long long)(a->reserved >> 20), len >> 20,
                         a->limit >> 20);
    int rc = arena_check_shm(len);
    if (rc)
        return rc;
    uint32_t i;
    for (i = 0; i < a->nsegs; i++)
        if (!a->segs[i].live)
            break;
    if (i == a->nsegs) {
        if (a->nsegs == a->capsegs) {
            uint32_t ncap = a->capsegs ? a->capsegs * 2 : 16;
            seg *ns = realloc(a->segs, ncap * sizeof(seg));
            if (!ns)
                return lc_seterr(LOCUS_ENOMEM, "arena", "no memory");
            a->segs = ns;
            a->capsegs = ncap;
        }
        a->nsegs++;
    }
    seg *s = &a->segs[i];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s-%u", a->prefix, a->nextname++);
    int fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return lc_seterr(LOCUS_ESYS, "arena", "shm_open %s: %s", s->name,
                         strerror(errno));
    if (ftruncate(fd, (off_t)len) != 0) {
        rc = lc_seterr(LOCUS_ENOMEM, "arena", "ftruncate %s to %zu: %s",
                       s->name, len, strerror(errno));
        close(fd);
        shm_unlink(s->name);
        return rc;
    }
    /* A big object's own segment is written whole right away (a task's
       result, a fetched copy): take the pages it will write now, in one
       call, and map them in one call, instead of a fault per page as the
       task writes it (1024 for a 4 MiB HDF5 chunk: 16 -> 13 ms of a 16 MiB
       load-and-sum, 335 -> 291 ms of 512 MiB); and a full /dev/shm is an
       error here instead of SIGBUS at first touch.  The rounding up to
       2 MiB stays a hole. */
    size_t pop = (populate + 4095) & ~(size_t)4095;
    if (pop > len)
        pop = len;
    if (pop) {
        int e = posix_fallocate(fd, 0, (off_t)pop);
        if (e != 0) {
            rc = lc_seterr(LOCUS_ENOMEM, "arena",
                           "no room in /dev/shm for %zu bytes (%s): %s", pop,
                           s->name, strerror(e));
            close(fd);
            shm_unlink(s->name);
            return rc;
        }
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        rc = lc_seterr(LOCUS_ENOMEM, "arena", "mmap %s (%zu bytes): %s",
                       s->name, len, strerror(errno));
        shm_unlink(s->name);
        return rc;
    }
#ifdef MADV_POPULATE_WRITE
    if (pop)
        (void)madvise(p, pop, MADV_POPULATE_WRITE); /* older kernels: faults */
#endif
    s->base = p;
    s->len = len;
    s->dedicated = dedicated;
    s->live = 1;
    a->reserved += len;
    *idx = i;
    return 0;
}

/* under mu */
static void seg_drop(arena *a, uint32_t i)
{
    seg *s = &a->segs[i];
    for (int e = 0; e < 2; e++)
        xport_mr_close(s->mr[e]);
    munmap(s->base, s->len);
    shm_unlink(s->name);
    a->reserved -= s->len;
    s->live = 0;
}

static int class_of(size_t need)
{
    int c = 0;
    size_t sz = 64;
    while (sz < need) {
        sz <<= 1;
        c++;
    }
    return c;
}

void *arena_alloc(arena *a, size_t len)
{
    size_t need = len + HDR;
    ahdr *h = NULL;
    uint32_t si;
    pthread_mutex_lock(&a->mu);
    if (need > ARENA_LARGE) {
        size_t slen = (need + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
        if (seg_new(a, slen, 1, need, &si) == 0) {
            h = (ahdr *)a->segs[si].base;
            h->seg = si;
            h->cls = NCLASS;
        }
    } else {
        int c = class_of(need);
        size_t bsz = (size_t)64 << c;
        if (a->freel[c]) {
            h = a->freel[c];
            a->freel[c] = h->next_free;
        } else {
            if (a->cur == UINT32_MAX ||
                a->segs[a->cur].bump + bsz > a->segs[a->cur].len) {
                if (seg_new(a, ARENA_SEG, 0, 0, &si) == 0)
                    a->cur = si;
                else
                    a->cur = UINT32_MAX;
            }
            if (a->cur != UINT32_MAX) {
                seg *s = &a->segs[a->cur];
                h = (ahdr *)(s->base + s->bump);
                s->bump += bsz;
                h->seg = a->cur;
                h->cls = (uint32_t)c;
            }
        }
    }
    if (h) {
        h->magic = MAGIC;
        h->len = len;
        h->next_free = NULL;
        a->used += len;
        a->nlive++;
    }
    pthread_mutex_unlock(&a->mu);
    return h ? (uint8_t *)h + HDR : NULL;
}

static ahdr *hdr_of(const void *p)
{
    if (!p)
        return NULL;
    ahdr *h = (ahdr *)((uint8_t *)p - HDR);
    return h->magic == MAGIC ? h : NULL;
}

void arena_free(arena *a, void *p)
{
    ahdr *h = hdr_of(p);
    if (!h) {
        if (p)
            lc_log(LC_LOG_ERROR, "arena", "free of %p: not an arena object", p);
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->used -= h->len;
    a->nlive--;
    h->magic = 0;
    if (h->cls == NCLASS) {
        seg_drop(a, h->seg);
    } else {
        h->next_free = a->freel[h->cls];
        a->freel[h->cls] = h;
    }
    pthread_mutex_unlock(&a->mu);
}

size_t arena_size(arena *a, const void *p)
{
    (void)a;
    ahdr *h = hdr_of(p);
    return h ? h->len : 0;
}

int arena_locate(arena *a, const void *p, arena_loc *out)
{
    ahdr *h = hdr_of(p);
    if (!h || h->seg >= a->nsegs)
        return lc_seterr(LOCUS_EINVAL, "arena", "%p is not an arena object", p);
    pthread_mutex_lock(&a->mu);
    seg *s = &a->segs[h->seg];
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    out->seg_len = s->len;
    out->offset = (uint64_t)((const uint8_t *)p - s->base);
    out->dedicated = s->dedicated;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

int arena_rkey(arena *a, int slot, xport_ep *ep, const void *p, size_t len,
               xport_rkey *out)
{
    ahdr *h = hdr_of(p);
    if (!h || slot < 0 || slot > 1)
        return lc_seterr(LOCUS_EINVAL, "arena", "%p is not an arena object", p);
    pthread_mutex_lock(&a->mu);
    seg *s = &a->segs[h->seg];
    int rc = 0;
    if (!s->mr[slot])
        rc = xport_mr_reg(ep, s->base, s->len, &s->mr[slot]);
    if (rc == 0)
        rc = xport_mr_rkey(s->mr[slot], p, len, out);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

uint64_t arena_used(arena *a)
{
    pthread_mutex_lock(&a->mu);
    uint64_t v = a->used;
    pthread_mutex_unlock(&a->mu);
    return v;
}

uint64_t arena_reserved(arena *a)
{
    pthread_mutex_lock(&a->mu);
    uint64_t v = a->reserved;
    pthread_mutex_unlock(&a->mu);
    return v;
}

void arena_destroy(arena *a)
{
    if (!a)
        return;
    for (uint32_t i = 0; i < a->nsegs; i++)
        if (a->segs[i].live)
            seg_drop(a, i);
    free(a->segs);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* ---- consumer side
 * ----------------------------------------------------------- */

struct arena_map {
    char name[ARENA_NAME_MAX];
    void *base;
    size_t len;
    int dedicated;
    int users;
    struct arena_map *next;
};

static pthread_mutex_t maps_mu = PTHREAD_MUTEX_INITIALIZER;
static struct arena_map *maps;

int arena_map_open(const char *name, uint64_t seg_len, int dedicated,
                   arena_map **out, const void **base)
{
    pthread_mutex_lock(&maps_mu);
    for (arena_map *m = maps; m; m = m->next) {
        if (!strcmp(m->name, name) && m->len == seg_len) {
            m->users++;
            *out = m;
            *base = m->base;
            pthread_mutex_unlock(&maps_mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&maps_mu);
    int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return lc_seterr(LOCUS_ENOENT, "arena", "shm_open %s: %s", name,
                         strerror(errno));
    void *p = mmap(NULL, seg_len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return lc_seterr(LOCUS_ESYS, "arena", "mmap %s: %s", name,
                         strerror(errno));
    arena_map *m = calloc(1, sizeof(*m));
    if (!m) {
        munmap(p, seg_len);
        return lc_seterr(LOCUS_ENOMEM, "arena", "no memory");
    }
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->base = p;
    m->len = seg_len;
    /* a large object's segment: unmapped as soon as nobody uses it */
    m->dedicated = dedicated;
    m->users = 1;
    pthread_mutex_lock(&maps_mu);
    m->next = maps;
    maps = m;
    pthread_mutex_unlock(&maps_mu);
    *out = m;
    *base = p;
    return 0;
}

static void unlink_map(arena_map *m)
{
    for (arena_map **pp = &maps; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    munmap(m->base, m->len);
    free(m);
}

void arena_map_release(arena_map *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&maps_mu);
    if (--m->users == 0 && m->dedicated)
        unlink_map(m);
    pthread_mutex_unlock(&maps_mu);
}

void arena_map_forget(const char *prefix)
{
    size_t n = strlen(prefix);
    pthread_mutex_lock(&maps_mu);
    for (arena_map *m = maps, *next; m; m = next) {
        next = m->next;
        if (m->users == 0 && !strncmp(m->name, prefix, n))
            unlink_map(m);
    }
    pthread_mutex_unlock(&maps_mu);
}

void arena_map_clear(void)
{
    arena_map_forget("");
}

int arena_file_pid(const char *name)
{
    /* "locus-" 16 hex "-" pid ("-" | "c-") n */
    if (strncmp(name, "locus-", 6) != 0 || strlen(name) < 25)
        return 0;
    for (int i = 6; i < 22; i++)
        if (!strchr("0123456789abcdef", name[i]))
            return 0;
    if (name[22] != '-')
        return 0;
    char *end;
    long pid = strtol(name + 23, &end, 10);
    if (end == name + 23 || pid <= 0 || pid > INT32_MAX)
        return 0;
    if (*end == 'c')
        end++;
    return *end == '-' ? (int)pid : 0;
}

int arena_sweep(int pid, int self)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    int removed = 0;
    uid_t me = getuid();
    struct dirent *e;
    while ((e = readdir(d))) {
        int p = arena_file_pid(e->d_name);
        if (!p)
            p = xport_file_pid(e->d_name);
        int mine = p == (int)getpid();
        if (p <= 0 || (pid && p != pid) || (mine && !self))
            continue;
        char path[512];
        struct stat st;
        snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
        if (lstat(path, &st) != 0 || st.st_uid != me)
            continue;
        /* pid 0: only files of processes that are gone (EPERM: alive,
           another user's) */
        if (!pid && !mine && !(kill(p, 0) != 0 && errno == ESRCH))
            continue;
        if (unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

size_t arena_trim(arena *a)
{
    size_t freed = 0;
    pthread_mutex_lock(&a->mu);
    if (a->nlive == 0) {
        /* nothing lives here: every pooled block is free.  Keep one
           segment (its pages given back), drop the others. */
        for (int c = 0; c < NCLASS; c++)
            a->freel[c] = NULL;
        for (uint32_t i = 0; i < a->nsegs; i++) {
            seg *s = &a->segs[i];
            if (!s->live || s->dedicated)
                continue;
            if (i == a->cur) {
                if (s->bump) {
                    madvise(s->base, s->len, MADV_REMOVE);
                    freed += s->bump;
                    s->bump = 0;
                }
            } else {
                freed += s->len;
                seg_drop(a, i);
            }
        }
    }
    pthread_mutex_unlock(&a->mu);
    return freed;
}
