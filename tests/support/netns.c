/* SPDX-License-Identifier: BSD-3-Clause */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"

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

static int ns_run(const char *what, const char *fmt, const char *a,
                  const char *b, const char *c)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), fmt, a, b, c);
    int rc = lt_sh("%s >/dev/null 2>&1", cmd);
    if (rc != 0)
        fprintf(stderr, "netns: %s failed (%s): exit %d\n", what, cmd, rc);
    return rc;
}

static void ns_del(const char *name)
{
    /* Kill what is left inside, but neither this process (which may have
     * entered the namespace) nor the shell running this (which then runs
     * inside it too). */
    lt_sh("for p in $(ip netns pids '%s' 2>/dev/null); do "
          "[ \"$p\" = $$ ] || [ \"$p\" = %d ] || kill -9 \"$p\" 2>/dev/null; "
          "done; ip netns del '%s' >/dev/null 2>&1",
          name, (int)getpid(), name);
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
        if (ns_run("netns add", "ip netns add '%s'", ns->name[i], "", ""))
            goto fail;
        if (ns_run("lo up", "ip -n '%s' link set lo up", ns->name[i], "", ""))
            goto fail;
    }
    if (!ns->hub) {
        if (ns_run("veth pair",
                   "ip link add lc0 netns '%s' type veth peer name lc0 "
                   "netns '%s'",
                   ns->name[0], ns->name[1], ""))
            goto fail;
    } else {
        ns_del(hub);
        if (ns_run("hub", "ip netns add '%s'", hub, "", "") ||
            ns_run("bridge", "ip -n '%s' link add br0 type bridge", hub, "",
                   "") ||
            ns_run("bridge up", "ip -n '%s' link set br0 up", hub, "", ""))
            goto fail;
        for (int i = 0; i < n; i++) {
            char port[16];
            snprintf(port, sizeof(port), "p%d", i);
            if (ns_run("veth to hub",
                       "ip link add lc0 netns '%s' type veth peer name %s "
                       "netns '%s'",
                       ns->name[i], port, hub) ||
                ns_run("hub port", "ip -n '%s' link set %s master br0 up", hub,
                       port, ""))
                goto fail;
        }
    }
    for (int i = 0; i < n; i++) {
        char cidr[32];
        snprintf(cidr, sizeof(cidr), "%s/24", ns->addr[i]);
        if (ns_run("address", "ip -n '%s' addr add %s dev lc0", ns->name[i],
                   cidr, "") ||
            ns_run("link up", "ip -n '%s' link set lc0 up", ns->name[i], "",
                   ""))
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
