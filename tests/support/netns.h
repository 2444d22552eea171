/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support: private networks of network namespaces.
 *
 * lt_netns_create(n, "10.251.7") makes n namespaces, each with lo up and
 * one interface "lc0" with address 10.251.7.<i+1>/24.  Two namespaces are
 * joined by a veth pair; more are joined through a bridge that lives in an
 * extra "hub" namespace, so nothing is added to the host's own namespace
 * and the same subnet can be used by concurrent runs.
 *
 * Names are "lcT<pid>-<i>" (pid of the creating process): a namespace whose
 * creator is gone is a leftover of a crashed run, which
 * lt_netns_cleanup_stale() removes.  Needs root (or CAP_SYS_ADMIN and
 * CAP_NET_ADMIN) and iproute2.
 *
 * To run a process in namespace i: lt_spawn_in(lt_netns_name(ns, i), ...)
 * from proc.h; to move the calling thread there: lt_netns_enter().
 */
#ifndef LT_NETNS_H
#define LT_NETNS_H

typedef struct lt_netns lt_netns;

/* 1 when namespaces can be made here, else 0 with the reason in why
 * (if not NULL, at least 256 bytes). */
int lt_netns_available(char *why);

/* n in 2..32; net is the first three octets of a private /24.  Returns
 * NULL after removing what it made (reason on stderr). */
lt_netns *lt_netns_create(int n, const char *net);

int lt_netns_count(const lt_netns *ns);
const char *lt_netns_name(const lt_netns *ns, int i); /* "lcT123-0" */
const char *lt_netns_addr(const lt_netns *ns, int i); /* "10.251.7.1" */

/* Move the calling thread into namespace i: 0, or -1 (errno set). */
int lt_netns_enter(const lt_netns *ns, int i);

/* Remove the namespaces and their interfaces, free ns.  NULL is fine.
 * Processes still inside keep their namespace alive until they exit. */
void lt_netns_destroy(lt_netns *ns);

/* Remove namespaces lcT<pid>-* whose pid is no longer running.  Returns
 * how many were removed. */
int lt_netns_cleanup_stale(void);

#endif
