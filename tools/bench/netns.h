/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: two "hosts" made of network namespaces joined by a veth
 * pair, in C: iproute2 is run with argument vectors (no shell), a process
 * is started in a namespace (with a host name of its own: locus tells
 * hosts apart by name) by this program itself, "locus-bench --netns-exec",
 * which enters the namespace and the UTS namespace and execs; the calling
 * thread moves with setns.  Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and
 * iproute2.
 */
#ifndef LC_BENCH_NETNS_H
#define LC_BENCH_NETNS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct bench_netns {
    char name[2][32]; /* "lcB<pid>-<i>" */
    char addr[2][16]; /* <net>.1, <net>.2 */
    char ip[64];      /* the ip program */
    int made[2];
} bench_netns;

/* 1 when namespaces can be made here, else 0 with the reason in why. */
int bench_netns_available(char *why, size_t len);

/* Namespaces 0 and 1, lo up, "lcb0" in each with <net>.1/24 and
 * <net>.2/24.  0, or -1 after removing what was made (reason on stderr). */
int bench_netns_create(bench_netns *ns, const char *net);

/* Remove them; processes still inside keep theirs until they exit. */
void bench_netns_destroy(bench_netns *ns);

/* Move the calling thread into namespace i; *saved gets a descriptor of
 * the one it left (for bench_netns_leave).  0 or -1 (errno). */
int bench_netns_enter(const bench_netns *ns, int i, int *saved);
int bench_netns_leave(int saved);

/*
 * The command line that runs argv (argv[0] a path, or a name looked up in
 * $PATH) in namespace i with host name host (NULL: this one's), into full
 * (room for max pointers; it points into argv and static storage): for
 * bench_capture().  Its length, or -1 (reason on stderr).
 */
int bench_netns_argv(const bench_netns *ns, int i, const char *host,
                     char *const argv[], char **full, int max);

/*
 * Start argv as above, with stdin from /dev/null and stdout and stderr to
 * log (NULL: /dev/null).  The pid, or -1 (reason on stderr).
 */
pid_t bench_netns_spawn(const bench_netns *ns, int i, const char *host,
                        char *const argv[], const char *log);

/* Stop pid: SIGTERM, then SIGKILL after grace_ms; reaps it. */
void bench_netns_stop(pid_t pid, int grace_ms);

/* main() of "locus-bench --netns-exec NS HOST PROG ARGS..." (HOST "-":
 * keep this one's); only returns on failure (status 127). */
int bench_netns_exec_main(int argc, char **argv);

#endif
