/* SPDX-License-Identifier: BSD-3-Clause */
#include "bench/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NETNS_DIR "/run/netns"

static const char *find_ip(void)
{
    static const char *const where[] = {"/usr/sbin/ip", "/sbin/ip",
                                        "/usr/bin/ip", "/bin/ip"};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
        if (access(where[i], X_OK) == 0)
            return where[i];
    return NULL;
}

int bench_netns_available(char *why, size_t len)
{
    const char *r = NULL;
    if (geteuid() != 0)
        r = "needs root";
    else if (!find_ip())
        r = "needs iproute2 (ip)";
    else if (access("/proc/self/ns/net", R_OK) != 0)
        r = "no network namespace support";
    if (why && len)
        snprintf(why, len, "%s", r ? r : "");
    return r == NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run the ip program with its arguments (NULL-terminated); 0 or its exit
 * status, -1 if it could not run.  quiet: a failure is expected. */
static int ip_run(const bench_netns *ns, int quiet, ...)
{
    char *argv[24];
    int n = 0;
    argv[n++] = (char *)ns->ip;
    va_list ap;
    va_start(ap, quiet);
    for (char *a; n < 23 && (a = va_arg(ap, char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (quiet)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int e = posix_spawn(&pid, ns->ip, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int st = 0;
    if (!e)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    int rc = e ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc && !quiet) {
        fprintf(stderr, "locus-bench: netns:");
        for (int i = 0; i < n; i++)
            fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, ": %s %d\n", e ? "cannot run," : "exit", e ? e : rc);
    }
    return rc;
}

int bench_netns_create(bench_netns *ns, const char *net)
{
    memset(ns, 0, sizeof(*ns));
    const char *ip = find_ip();
    if (!ip || !net || strlen(net) > 11) {
        fprintf(stderr, "locus-bench: netns: %s\n",
                ip ? "bad network prefix" : "no ip program");
        return -1;
    }
    snprintf(ns->ip, sizeof(ns->ip), "%s", ip);
    char cidr[2][24];
    for (int i = 0; i < 2; i++) {
        snprintf(ns->name[i], sizeof(ns->name[i]), "lcB%d-%d", (int)getpid(),
                 i);
        snprintf(ns->addr[i], sizeof(ns->addr[i]), "%s.%d", net, i + 1);
        snprintf(cidr[i], sizeof(cidr[i]), "%s/24", ns->addr[i]);
        ip_run(ns, 1, "netns", "del", ns->name[i], NULL); /* a leftover */
        if (ip_run(ns, 0, "netns", "add", ns->name[i], NULL))
            goto fail;
        ns->made[i] = 1;
        if (ip_run(ns, 0, "-n", ns->name[i], "link", "set", "lo", "up", NULL))
            goto fail;
    }
    if (ip_run(ns, 0, "link", "add", "lcb0", "netns", ns->name[0], "type",
               "veth", "peer", "name", "lcb0", "netns", ns->name[1], NULL))
        goto fail;
    for (int i = 0; i < 2; i++)
        if (ip_run(ns, 0, "-n", ns->name[i], "addr", "add", cidr[i], "dev",
                   "lcb0", NULL) ||
            ip_run(ns, 0, "-n", ns->name[i], "link", "set", "lcb0", "up", NULL))
            goto fail;
    return 0;
fail:
    bench_netns_destroy(ns);
    return -1;
}

void bench_netns_destroy(bench_netns *ns)
{
    for (int i = 0; i < 2; i++)
        if (ns->made[i]) {
            ip_run(ns, 0, "netns", "del", ns->name[i], NULL);
            ns->made[i] = 0;
        }
}

int bench_netns_enter(const bench_netns *ns, int i, int *saved)
{
    char path[96];
    snprintf(path, sizeof(path), NETNS_DIR "/%s", ns->name[i]);
    *saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = *saved >= 0 && fd >= 0 ? setns(fd, CLONE_NEWNET) : -1;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (rc && *saved >= 0) {
        close(*saved);
        *saved = -1;
    }
    errno = e;
    return rc;
}

int bench_netns_leave(int saved)
{
    if (saved < 0)
        return 0;
    int rc = setns(saved, CLONE_NEWNET);
    close(saved);
    return rc;
}

int bench_netns_argv(const bench_netns *ns, int i, const char *host,
                     char *const argv[], char **full, int max)
{
    static char self[PATH_MAX];
    if (!self[0]) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
            fprintf(stderr, "locus-bench: readlink /proc/self/exe: %s\n",
                    strerror(errno));
            return -1;
        }
        self[n] = '\0';
    }
    int k = 0;
    full[k++] = self;
    full[k++] = (char *)"--netns-exec";
    full[k++] = (char *)ns->name[i];
    full[k++] = (char *)(host ? host : "-");
    for (int a = 0; argv[a]; a++) {
        if (k == max - 1) {
            fprintf(stderr, "locus-bench: %s: too many arguments\n", argv[0]);
            return -1;
        }
        full[k++] = argv[a];
    }
    full[k] = NULL;
    return k;
}

pid_t bench_netns_spawn(const bench_netns *ns, int i, const char *host,
                        char *const argv[], const char *log)
{
    char *full[64];
    if (bench_netns_argv(ns, i, host, argv, full, 64) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log ? log : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int e = posix_spawn(&pid, full[0], &fa, NULL, full, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e) {
        fprintf(stderr, "locus-bench: posix_spawn %s in %s: %s\n", argv[0],
                ns->name[i], strerror(e));
        return -1;
    }
    return pid;
}

void bench_netns_stop(pid_t pid, int grace_ms)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int w = 0; w < grace_ms; w += 20) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int bench_netns_exec_main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "locus-bench --netns-exec NS HOST PROG ARGS...\n");
        return 127;
    }
    const char *name = argv[0], *host = argv[1];
    char path[96];
    snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        fprintf(stderr, "locus-bench: entering %s: %s\n", path,
                strerror(errno));
        return 127;
    }
    close(fd);
    if (strcmp(host, "-") &&
        (unshare(CLONE_NEWUTS) != 0 || sethostname(host, strlen(host)) != 0)) {
        fprintf(stderr, "locus-bench: host name %s: %s\n", host,
                strerror(errno));
        return 127;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "locus-bench: exec %s: %s\n", argv[2], strerror(errno));
    return 127;
}
