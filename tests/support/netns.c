/* SPDX-License-Identifier: BSD-3-Clause */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"

extern char **environ;

#define NS_MAX 32
#define NETNS_DIR "/run/netns"

struct lt_netns {
    int n;
    int hub;
    char prefix[32];
    char name[NS_MAX][48];
    char addr[NS_MAX][24];
};

int lt_netns_available(char *why)
{
    const char *r = NULL;
    if (geteuid() != 0)
        r = "not root";
    else if (access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK))
        r = "iproute2 (ip) not installed";
    else if (access("/proc/self/ns/net", R_OK) != 0)
        r = "no network namespace support";
    if (why)
        snprintf(why, 256, "%s", r ? r : "");
    return r == NULL;
}

static const char *ip_path(void)
{
    return access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip" : "/sbin/ip";
}

/* Run ip with the arguments given (no shell sees them), stderr dropped,
 * stdout into out (if not NULL; NUL-terminated, truncated) or dropped.
 * Returns its exit status as lt_wait does; -1 if it could not start or
 * took over 10 s. */
static int ip_run(const char *const args[], char *out, size_t outlen)
{
    char *argv[24];
    int n = 0;
    argv[n++] = (char *)ip_path();
    for (int i = 0; args[i] && n < 23; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    int fds[2] = {-1, -1};
    if (out && pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (out)
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out)
        close(fds[1]);
    if (rc != 0) {
        if (out)
            close(fds[0]);
        fprintf(stderr, "netns: cannot start %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    if (out) {
        size_t got = 0;
        ssize_t k;
        while (got + 1 < outlen &&
               ((k = read(fds[0], out + got, outlen - 1 - got)) > 0 ||
                (k < 0 && errno == EINTR)))
            got += k > 0 ? (size_t)k : 0;
        out[got] = '\0';
        close(fds[0]);
    }
    return lt_wait(pid, 10000);
}

/* ip args..., reported on stderr when it fails */
static int ns_run(const char *what, const char *const args[])
{
    int rc = ip_run(args, NULL, 0);
    if (rc != 0) {
        fprintf(stderr, "netns: %s failed (ip", what);
        for (int i = 0; args[i]; i++)
            fprintf(stderr, " %s", args[i]);
        fprintf(stderr, "): exit %d\n", rc);
    }
    return rc;
}

#define IP(what, ...) ns_run(what, (const char *const[]){__VA_ARGS__, NULL})

static void ns_del(const char *name)
{
    /* Kill what is left inside, but not this process (which may have
     * entered the namespace). */
    char pids[4096];
    if (ip_run((const char *const[]){"netns", "pids", name, NULL}, pids,
               sizeof(pids)) == 0) {
        char *save = NULL;
        for (char *t = strtok_r(pids, " \n", &save); t;
             t = strtok_r(NULL, " \n", &save)) {
            char *end;
            long p = strtol(t, &end, 10);
            if (*end == '\0' && p > 0 && p != (long)getpid())
                kill((pid_t)p, SIGKILL);
        }
    }
    ip_run((const char *const[]){"netns", "del", name, NULL}, NULL, 0);
}

lt_netns *lt_netns_create(int n, const char *net)
{
    if (n < 2 || n > NS_MAX || !net || strlen(net) > 15) {
        fprintf(stderr, "netns: bad arguments (n=%d)\n", n);
        return NULL;
    }
    lt_netns_cleanup_stale();
    lt_netns *ns = calloc(1, sizeof(*ns));
    if (!ns)
        return NULL;
    ns->n = n;
    ns->hub = n > 2;
    snprintf(ns->prefix, sizeof(ns->prefix), "lcT%d", (int)getpid());
    char hub[48];
    snprintf(hub, sizeof(hub), "%s-hub", ns->prefix);
    for (int i = 0; i < n; i++) {
        snprintf(ns->name[i], sizeof(ns->name[i]), "%s-%d", ns->prefix, i);
        snprintf(ns->addr[i], sizeof(ns->addr[i]), "%s.%d", net, i + 1);
        /* a name left by an earlier test of this same process */
        ns_del(ns->name[i]);
        if (IP("netns add", "netns", "add", ns->name[i]) ||
            IP("lo up", "-n", ns->name[i], "link", "set", "lo", "up"))
            goto fail;
    }
    if (!ns->hub) {
        if (IP("veth pair", "link", "add", "lc0", "netns", ns->name[0], "type",
               "veth", "peer", "name", "lc0", "netns", ns->name[1]))
            goto fail;
    } else {
        ns_del(hub);
        if (IP("hub", "netns", "add", hub) ||
            IP("bridge", "-n", hub, "link", "add", "br0", "type", "bridge") ||
            IP("bridge up", "-n", hub, "link", "set", "br0", "up"))
            goto fail;
        for (int i = 0; i < n; i++) {
            char port[16];
            snprintf(port, sizeof(port), "p%d", i);
            if (IP("veth to hub", "link", "add", "lc0", "netns", ns->name[i],
                   "type", "veth", "peer", "name", port, "netns", hub) ||
                IP("hub port", "-n", hub, "link", "set", port, "master", "br0",
                   "up"))
                goto fail;
        }
    }
    for (int i = 0; i < n; i++) {
        char cidr[32];
        snprintf(cidr, sizeof(cidr), "%s/24", ns->addr[i]);
        if (IP("address", "-n", ns->name[i], "addr", "add", cidr, "dev",
               "lc0") ||
            IP("link up", "-n", ns->name[i], "link", "set", "lc0", "up"))
            goto fail;
    }
    return ns;
fail:
    lt_netns_destroy(ns);
    return NULL;
}

int lt_netns_count(const lt_netns *ns)
{
    return ns ? ns->n : 0;
}

const char *lt_netns_name(const lt_netns *ns, int i)
{
    return ns && i >= 0 && i < ns->n ? ns->name[i] : NULL;
}

const char *lt_netns_addr(const lt_netns *ns, int i)
{
    return ns && i >= 0 && i < ns->n ? ns->addr[i] : NULL;
}

int lt_netns_enter(const lt_netns *ns, int i)
{
    if (!ns || i < 0 || i >= ns->n) {
        errno = EINVAL;
        return -1;
    }
    char path[128];
    snprintf(path, sizeof(path), NETNS_DIR "/%s", ns->name[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

void lt_netns_destroy(lt_netns *ns)
{
    if (!ns)
        return;
    for (int i = 0; i < ns->n; i++)
        if (ns->name[i][0])
            ns_del(ns->name[i]);
    if (ns->hub) {
        char hub[48];
        snprintf(hub, sizeof(hub), "%s-hub", ns->prefix);
        ns_del(hub);
    }
    free(ns);
}

int lt_netns_cleanup_stale(void)
{
    DIR *d = opendir(NETNS_DIR);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int pid = 0;
        if (sscanf(de->d_name, "lcT%d-", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno == EPERM)
            continue;
        ns_del(de->d_name);
        removed++;
    }
    closedir(d);
    return removed;
}
