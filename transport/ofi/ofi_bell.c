/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Doorbells: libfabric's shm provider has no wait fd, so a receiver could
 * only sleep in steps.  An endpoint of such a provider binds a datagram
 * socket, its wait fd; its address travels in the endpoint's name
 * ("...#bell=<addr>"), and senders ring it (ofi_sendv).  A ring is a hint:
 * a full or gone doorbell means the receiver is awake or dead, and every
 * wait is bounded anyway.
 */
#include "ofi.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BELL_TAG "#bell="
#define FLAG_SUFFIX ".flag"
/* The flag page: the sleep flag at 0, the liveness mutex here.  Senders
   read its first word, which is the futex word of glibc's mutex: the
   owner's thread id, and FUTEX_OWNER_DIED once the kernel found the owner
   gone (robust futexes: Documentation/locking/robust-futexes.rst). */
#define ALIVE_OFF 64
#define OWNER_DIED 0x40000000u
#ifdef __GLIBC__
_Static_assert(offsetof(pthread_mutex_t, __data.__lock) == 0,
               "the futex word leads glibc's pthread_mutex_t");
#endif

/* A doorbell's address: a path (a socket in this user's 0700 directory:
   only this user's processes can ring it), or an abstract name (older
   peers, or no private directory). */
static socklen_t bell_addr(const char *name, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (n + 1 > sizeof(sa->sun_path))
        n = sizeof(sa->sun_path) - 1;
    if (name[0] == '/') {
        memcpy(sa->sun_path, name, n);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    memcpy(sa->sun_path + 1, name, n); /* abstract: leading NUL */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* This user's private directory for doorbells: $XDG_RUNTIME_DIR/locus or
   /tmp/locus-<uid>, mode 0700, owned by us; "" when none can be had. */
static void bell_dir(char *out, size_t len)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    int n = x && *x && x[0] == '/'
                ? snprintf(out, len, "%s/locus", x)
                : snprintf(out, len, "/tmp/locus-%u", (unsigned)getuid());
    if (n < 0 || (size_t)n >= len) { /* too long for a socket path */
        out[0] = '\0';
        return;
    }
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        out[0] = '\0';
        return;
    }
    struct stat st;
    if (lstat(out, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077)) {
        lc_log(LC_LOG_WARN, OFI_SUB,
               "%s is not a private directory of "
               "this user (mode 0700): doorbells use abstract sockets, which "
               "any local process can ring",
               out);
        out[0] = '\0';
    }
}

/* Doorbells of processes that died without closing them. */
static void bell_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        int pid = 0;
        if (sscanf(e->d_name, "bell-%d-", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* Our sleep flag: a page in the doorbell's private directory.  Without
   one (no room, no directory) senders simply ring every time. */
static void flag_create(struct ofi_ep *e)
{
    char path[sizeof(e->bell) + sizeof(FLAG_SUFFIX)];
    snprintf(path, sizeof(path), "%s" FLAG_SUFFIX, e->bell);
    int fd =
        open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    void *p = MAP_FAILED;
    if (ftruncate(fd, 4096) == 0)
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        unlink(path);
        return;
    }
    e->asleep = p;
    atomic_store(e->asleep, 0);
}

int ofi_bell_open(struct ofi_ep *e)
{
    static int counter;
    e->bell_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (e->bell_fd < 0)
        return lc_seterr(LOCUS_ESYS, OFI_SUB, "%s: doorbell socket: %s",
                         e->prov, strerror(errno));
    int k = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    char dir[80]; /* a socket path has at most 108 bytes */
    bell_dir(dir, sizeof(dir));
    char name[sizeof(e->bell)];
    if (dir[0] &&
        strlen(dir) + 40 < sizeof(((struct sockaddr_un *)0)->sun_path)) {
        bell_sweep(dir);
        snprintf(name, sizeof(name), "%s/bell-%d-%d", dir, (int)getpid(), k);
        unlink(name); /* a pid's own leftover */
    } else {
        snprintf(name, sizeof(name), "locus-bell-%d-%d", (int)getpid(), k);
    }
    struct sockaddr_un sa;
    socklen_t len = bell_addr(name, &sa);
    if (bind(e->bell_fd, (struct sockaddr *)&sa, len) != 0)
        return lc_seterr(LOCUS_ESYS, OFI_SUB, "%s: doorbell bind %s: %s",
                         e->prov, name, strerror(errno));
    memcpy(e->bell, name, sizeof(name));
    e->wait_fd = e->bell_fd;
    if (name[0] == '/')
        flag_create(e);
    return 0;
}

void ofi_bell_close(struct ofi_ep *e)
{
    if (e->bell_fd >= 0)
        close(e->bell_fd);
    if (e->ring_fd >= 0)
        close(e->ring_fd);
    if (e->bell[0] == '/') {
        unlink(e->bell);
        char path[sizeof(e->bell) + sizeof(FLAG_SUFFIX)];
        snprintf(path, sizeof(path), "%s" FLAG_SUFFIX, e->bell);
        unlink(path);
    }
    ofi_bell_alive(e, 0); /* if this thread holds it */
    if (e->alive_held) {
        /* still on another thread's robust list: unmapping it would make
           that list point at nothing; keep the page (4 KiB) */
        lc_log(LC_LOG_DEBUG, OFI_SUB,
               "%s: liveness mutex still held by another thread", e->prov);
    } else if (e->asleep) {
        munmap((void *)e->asleep, 4096);
    }
    e->asleep = NULL;
    if (e->wait_fd == e->bell_fd)
        e->wait_fd = -1;
    e->bell_fd = e->ring_fd = -1;
    e->bell[0] = '\0';
}

void ofi_bell_parse(char *name, struct ofi_bell *b)
{
    memset(b, 0, sizeof(*b));
    char *tag = strstr(name, BELL_TAG);
    if (!tag)
        return;
    *tag = '\0';
    const char *addr = tag + sizeof(BELL_TAG) - 1;
    if (*addr)
        b->len = bell_addr(addr, &b->sa);
}

void ofi_bell_map(struct ofi_bell *b)
{
    if (!b->len || b->sa.sun_path[0] != '/' || b->asleep)
        return;
    /* its sleep flag: a page of the same user, mapped read-only */
    char path[sizeof(b->sa.sun_path) + sizeof(FLAG_SUFFIX)];
    snprintf(path, sizeof(path), "%.*s" FLAG_SUFFIX,
             (int)sizeof(b->sa.sun_path), b->sa.sun_path);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return; /* an older peer: ring every time */
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() &&
        st.st_size >= 4096)
        p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p != MAP_FAILED) {
        b->asleep = p;
        b->alive = (const _Atomic uint32_t *)((const char *)p + ALIVE_OFF);
    }
}

void ofi_bell_forget(struct ofi_bell *b)
{
    if (b->asleep)
        munmap((void *)b->asleep, 4096);
    b->asleep = NULL;
    b->alive = NULL;
}

void ofi_bell_alive(struct ofi_ep *e, int on)
{
    if (!e->asleep)
        return;
    pthread_mutex_t *m = (pthread_mutex_t *)((char *)e->asleep + ALIVE_OFF);
    if (on && !e->alive_held) {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        int rc = pthread_mutex_init(m, &a);
        pthread_mutexattr_destroy(&a);
        if (rc == 0 && pthread_mutex_lock(m) == 0) {
            e->alive_owner = pthread_self();
            e->alive_held = 1;
        }
    } else if (!on && e->alive_held &&
               pthread_equal(e->alive_owner, pthread_self())) {
        pthread_mutex_unlock(m);
        e->alive_held = 0;
    }
}

int ofi_bell_dead(const struct ofi_bell *b)
{
    return b->alive &&
           (atomic_load_explicit(b->alive, memory_order_acquire) & OWNER_DIED);
}

void ofi_bell_ring(struct ofi_ep *e, struct ofi_bell *b)
{
    if (!b->len)
        return;
    int fd = e->bell_fd;
    if (fd < 0) {
        if (e->ring_fd < 0)
            e->ring_fd =
                socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        fd = e->ring_fd;
    }
    if (fd < 0)
        return;
    char one = 1;
    ssize_t s =
        sendto(fd, &one, 1, MSG_DONTWAIT, (struct sockaddr *)&b->sa, b->len);
    (void)s; /* a full or gone doorbell: the receiver is awake or dead */
}

void ofi_bell_notify(struct ofi_ep *e, struct ofi_bell *b)
{
    if (!b->len)
        return;
    if (b->asleep) {
        atomic_thread_fence(memory_order_seq_cst);
        if (!atomic_load_explicit(b->asleep, memory_order_relaxed))
            return; /* it is driving progress: it will see the message */
    }
    ofi_bell_ring(e, b);
}

void ofi_bell_sleeping(struct ofi_ep *e, int yes)
{
    if (!e->asleep)
        return;
    if (yes) {
        atomic_store(e->asleep, 1); /* seq_cst: a full fence */
    } else if (atomic_load_explicit(e->asleep, memory_order_relaxed)) {
        atomic_store_explicit(e->asleep, 0, memory_order_relaxed);
    }
}

void ofi_bell_drain(struct ofi_ep *e)
{
    char buf[64];
    while (e->bell_fd >= 0 &&
           recv(e->bell_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}
