/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interface and address helpers (runtime/base/iface.c): interface names to
 * IPv4 addresses, the local address a peer is reachable from, what a daemon
 * binds for --bind / --interface / $LOCUS_INTERFACE, and host:port of a
 * transport address.  No packet leaves the host: a UDP connect() sends
 * nothing.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/iface.h"
#include "locus.h"

static void clean_env(void)
{
    unsetenv("LOCUS_INTERFACE");
}

TestSuite(iface, .init = clean_env);

Test(iface, loopback_by_name)
{
    char a[LC_IFACE_ADDR_MAX];
    cr_assert_eq(lc_iface_addr("lo", a, sizeof(a)), 0, "%s",
                 locus_last_error());
    cr_assert_str_eq(a, "127.0.0.1");
}

Test(iface, unknown_interface_lists_the_real_ones)
{
    char a[LC_IFACE_ADDR_MAX];
    cr_assert_eq(lc_iface_addr("nosuch0", a, sizeof(a)), LOCUS_ENOENT);
    const char *m = locus_last_error();
    cr_assert(strstr(m, "nosuch0") && strstr(m, "lo"), "message: %s", m);
    cr_assert_eq(lc_iface_addr("", a, sizeof(a)), LOCUS_EINVAL);
    cr_assert_eq(lc_iface_addr("a-name-longer-than-ifnamsiz", a, sizeof(a)),
                 LOCUS_EINVAL);
}

Test(iface, buffer_too_small_is_an_error)
{
    char a[4];
    cr_assert_eq(lc_iface_addr("lo", a, sizeof(a)), LOCUS_EINVAL);
}

Test(iface, bind_for_peer_loopback)
{
    char a[LC_IFACE_ADDR_MAX];
    cr_assert_eq(lc_bind_for_peer("127.0.0.1", a, sizeof(a)), 0, "%s",
                 locus_last_error());
    cr_assert_str_eq(a, "127.0.0.1");
    cr_assert_eq(lc_bind_for_peer("127.0.0.7", a, sizeof(a)), 0);
    cr_assert_str_eq(a, "127.0.0.1");
}

Test(iface, bind_for_peer_every_local_address_is_its_own_source)
{
    /* for each IPv4 address of this host, the route to it starts there */
    struct ifaddrs *ifs, *i;
    int n = 0;
    cr_assert_eq(getifaddrs(&ifs), 0);
    for (i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        char want[INET_ADDRSTRLEN], got[LC_IFACE_ADDR_MAX], byname[64];
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, want,
                  sizeof(want));
        cr_assert_eq(lc_bind_for_peer(want, got, sizeof(got)), 0, "%s: %s",
                     want, locus_last_error());
        cr_assert_str_eq(got, want, "peer %s on %s", want, i->ifa_name);
        cr_assert_eq(lc_iface_addr(i->ifa_name, byname, sizeof(byname)), 0);
        n++;
    }
    freeifaddrs(ifs);
    cr_assert_geq(n, 1);
}

Test(iface, bind_for_peer_refuses_non_addresses)
{
    char a[LC_IFACE_ADDR_MAX];
    cr_assert_eq(lc_bind_for_peer("host.example", a, sizeof(a)), LOCUS_EADDR);
    cr_assert_eq(lc_bind_for_peer("::1", a, sizeof(a)), LOCUS_EADDR);
    cr_assert_eq(lc_bind_for_peer(NULL, a, sizeof(a)), LOCUS_EADDR);
}

Test(iface, resolve_refuses_wildcards_with_a_reason)
{
    const char *wild[] = {"0.0.0.0", "*", "::", "0"};
    char a[LC_IFACE_ADDR_MAX];
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(lc_bind_resolve(wild[i], NULL, a, sizeof(a)), LOCUS_EINVAL,
                     "%s", wild[i]);
        cr_assert(strstr(locus_last_error(), "scheduler file"), "%s",
                  locus_last_error());
    }
    /* "0" is neither an address nor an interface */
    cr_assert_eq(lc_bind_resolve(wild[3], NULL, a, sizeof(a)), LOCUS_ENOENT);
}

Test(iface, resolve_addresses_names_and_environment)
{
    char a[LC_IFACE_ADDR_MAX];
    cr_assert_eq(lc_bind_resolve(NULL, NULL, a, sizeof(a)), 0);
    cr_assert_str_eq(a, "");
    cr_assert_eq(lc_bind_resolve("10.1.2.3", NULL, a, sizeof(a)), 0);
    cr_assert_str_eq(a, "10.1.2.3");
    cr_assert_eq(lc_bind_resolve("lo", NULL, a, sizeof(a)), 0);
    cr_assert_str_eq(a, "127.0.0.1");
    cr_assert_eq(lc_bind_resolve(NULL, "lo", a, sizeof(a)), 0);
    cr_assert_str_eq(a, "127.0.0.1");
    cr_assert_eq(lc_bind_resolve("127.0.0.1", "lo", a, sizeof(a)),
                 LOCUS_EINVAL);
    setenv("LOCUS_INTERFACE", "lo", 1);
    cr_assert_eq(lc_bind_resolve(NULL, NULL, a, sizeof(a)), 0);
    cr_assert_str_eq(a, "127.0.0.1");
    /* an explicit option wins over the environment */
    cr_assert_eq(lc_bind_resolve("10.1.2.3", NULL, a, sizeof(a)), 0);
    cr_assert_str_eq(a, "10.1.2.3");
    setenv("LOCUS_INTERFACE", "nosuch0", 1);
    cr_assert_eq(lc_bind_resolve(NULL, NULL, a, sizeof(a)), LOCUS_ENOENT);
    cr_assert(strstr(locus_last_error(), "$LOCUS_INTERFACE"), "%s",
              locus_last_error());
}

static void name_of(const void *sa, size_t len, char *out)
{
    char *p = out + sprintf(out, "tcp;ofi_rxm://");
    for (size_t i = 0; i < len; i++)
        p += sprintf(p, "%02x", ((const unsigned char *)sa)[i]);
}

Test(iface, hostport_of_transport_addresses)
{
    char name[512], hp[LC_IFACE_ADDR_MAX];
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = htons(4242);
    inet_pton(AF_INET, "10.0.0.1", &s4.sin_addr);
    name_of(&s4, sizeof(s4), name);
    cr_assert_eq(lc_xport_hostport(name, hp, sizeof(hp)), 0, "%s",
                 locus_last_error());
    cr_assert_str_eq(hp, "10.0.0.1:4242");

    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(7);
    inet_pton(AF_INET6, "fd00::2", &s6.sin6_addr);
    name_of(&s6, sizeof(s6), name);
    cr_assert_eq(lc_xport_hostport(name, hp, sizeof(hp)), 0);
    cr_assert_str_eq(hp, "[fd00::2]:7");

    /* shm names, truncated and malformed ones are not IP addresses */
    cr_assert_eq(
        lc_xport_hostport("shm://66695f73686d3a2f2f39", hp, sizeof(hp)),
        LOCUS_EADDR);
    name_of(&s4, 4, name);
    cr_assert_eq(lc_xport_hostport(name, hp, sizeof(hp)), LOCUS_EADDR);
    cr_assert_eq(lc_xport_hostport("no address", hp, sizeof(hp)), LOCUS_EADDR);
    cr_assert_eq(lc_xport_hostport(NULL, hp, sizeof(hp)), LOCUS_EADDR);
}
