/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Network interfaces and addresses (private): which local IPv4 address a
 * daemon binds, and how an address is printed for people.
 *
 * Every call is thread-safe, takes an output buffer of len bytes (at least
 * LC_IFACE_ADDR_MAX for addresses), returns 0 or a negative LOCUS_E* code
 * with a message for locus_last_error() that says what to do.
 */
#ifndef LC_IFACE_H
#define LC_IFACE_H

#include <stddef.h>

#define LC_IFACE_ADDR_MAX 64 /* "255.255.255.255" or "[v6]:port" with room */

/*
 * The first IPv4 address of interface name ("eth0", "ib0", "lo") into buf
 * as dotted quad.  LOCUS_ENOENT: no such interface (the message lists the
 * interfaces that have an IPv4 address); LOCUS_EADDR: it has no IPv4
 * address.
 */
int lc_iface_addr(const char *name, char *buf, size_t len);

/*
 * The local IPv4 address from which peer_ipv4 is reachable (the source
 * address the kernel's routing picks), by connect() of a UDP socket, which
 * sends nothing, then getsockname().  LOCUS_EADDR: peer_ipv4 is not an IPv4
 * address or no route leads to it.
 */
int lc_bind_for_peer(const char *peer_ipv4, char *buf, size_t len);

/*
 * What a daemon binds, from its --bind value (an IPv4 address or an
 * interface name; NULL: none), its --interface value (NULL: none) and, when
 * both are NULL, $LOCUS_INTERFACE.  buf gets "" when nothing was asked
 * (the transport's default, loopback).  A wildcard (0.0.0.0, "*", "::")
 * is refused with LOCUS_EINVAL: the address goes into the scheduler file
 * and peers cannot send to it.
 */
int lc_bind_resolve(const char *bind, const char *iface, char *buf, size_t len);

/*
 * "host:port" of a transport address "<provider>://<hex sockaddr>" (IPv4;
 * "[v6]:port" for IPv6).  LOCUS_EADDR when the address is not an IP socket
 * address (the shm provider's names are not).
 */
int lc_xport_hostport(const char *xport_name, char *buf, size_t len);

#endif
