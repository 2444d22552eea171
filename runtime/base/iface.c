/* SPDX-License-Identifier: BSD-3-Clause */
#include "base/iface.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base.h"

static int put(char *buf, size_t len, const char *s)
{
    if (!buf || strlen(s) >= len)
        return lc_seterr(LOCUS_EINVAL, "net", "address buffer too small");
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

/* names of the interfaces with an IPv4 address, for error messages */
static void iface_list(struct ifaddrs *ifs, char *out, size_t len)
{
    size_t off = 0;
    out[0] = '\0';
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        int n = snprintf(out + off, len - off, "%s%s", off ? ", " : "",
                         i->ifa_name);
        if (n < 0 || (size_t)n >= len - off)
            break;
        off += (size_t)n;
    }
    if (!out[0])
        snprintf(out, len, "none");
}

int lc_iface_addr(const char *name, char *buf, size_t len)
{
    struct ifaddrs *ifs = NULL;
    int rc = 0, found = 0;
    char names[512];
    LC_CHECK(name && *name && strlen(name) < IF_NAMESIZE, out, rc, LOCUS_EINVAL,
             "net",
             "interface name '%s' is empty or longer "
             "than %d characters",
             name ? name : "", IF_NAMESIZE - 1);
    LC_CHECK(getifaddrs(&ifs) == 0, out, rc, LOCUS_ESYS, "net",
             "getifaddrs: %s", strerror(errno));
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, name) != 0)
            continue;
        found = 1;
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a,
                  sizeof(a));
        rc = put(buf, len, a);
        goto out;
    }
    iface_list(ifs, names, sizeof(names));
    if (found)
        rc = lc_seterr(LOCUS_EADDR, "net",
                       "interface %s has no IPv4 "
                       "address; pick one that has (%s) or give --bind "
                       "ADDRESS",
                       name, names);
    else
        rc = lc_seterr(LOCUS_ENOENT, "net",
                       "no network interface named "
                       "'%s' on this host; interfaces with an IPv4 address: "
                       "%s",
                       name, names);
out:
    if (ifs)
        freeifaddrs(ifs);
    return rc;
}

int lc_bind_for_peer(const char *peer_ipv4, char *buf, size_t len)
{
    int rc = 0, fd = -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(9); /* discard; connect() of UDP sends nothing */
    LC_CHECK(peer_ipv4 && inet_pton(AF_INET, peer_ipv4, &sa.sin_addr) == 1, out,
             rc, LOCUS_EADDR, "net", "'%s' is not an IPv4 address",
             peer_ipv4 ? peer_ipv4 : "(null)");
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    LC_CHECK(fd >= 0, out, rc, LOCUS_ESYS, "net", "socket: %s",
             strerror(errno));
    LC_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, out, rc,
             LOCUS_EADDR, "net",
             "no route from this host to %s: %s (check "
             "the interfaces with 'ip route get %s', or bind one with "
             "$LOCUS_INTERFACE)",
             peer_ipv4, strerror(errno), peer_ipv4);
    struct sockaddr_in me;
    socklen_t ml = sizeof(me);
    LC_CHECK(getsockname(fd, (struct sockaddr *)&me, &ml) == 0, out, rc,
             LOCUS_ESYS, "net", "getsockname: %s", strerror(errno));
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &me.sin_addr, a, sizeof(a));
    rc = put(buf, len, a);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int is_wildcard(const char *s)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!strcmp(s, "*"))
        return 1;
    if (inet_pton(AF_INET, s, &a4) == 1)
        return a4.s_addr == htonl(INADDR_ANY);
    if (inet_pton(AF_INET6, s, &a6) == 1)
        return IN6_IS_ADDR_UNSPECIFIED(&a6);
    return 0;
}

int lc_bind_resolve(const char *bind, const char *iface, char *buf, size_t len)
{
    struct in_addr a4;
    struct in6_addr a6;
    const char *from = "--interface";
    if (bind && !*bind)
        bind = NULL;
    if (iface && !*iface)
        iface = NULL;
    if (bind && iface)
        return lc_seterr(LOCUS_EINVAL, "net",
                         "--bind %s and --interface %s "
                         "both given; give one of them",
                         bind, iface);
    if (!bind && !iface) {
        iface = getenv("LOCUS_INTERFACE");
        from = "$LOCUS_INTERFACE";
        if (!iface || !*iface)
            return put(buf, len, "");
    }
    if (bind && is_wildcard(bind))
        return lc_seterr(LOCUS_EINVAL, "net",
                         "--bind %s is refused: the "
                         "address is written into the scheduler file and "
                         "peers cannot send to a wildcard; give the address "
                         "of one interface (--bind 10.0.0.1) or its name "
                         "(--interface eth0)",
                         bind);
    if (bind && (inet_pton(AF_INET, bind, &a4) == 1 ||
                 inet_pton(AF_INET6, bind, &a6) == 1))
        return put(buf, len, bind);
    if (bind) {
        /* --bind eth0: an interface name is what was meant */
        iface = bind;
        from = "--bind";
    }
    int rc = lc_iface_addr(iface, buf, len);
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", locus_last_error());
        const char *m = strncmp(msg, "net: ", 5) ? msg : msg + 5;
        return lc_seterr(rc, "net", "%s %s: %s", from, iface, m);
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int lc_xport_hostport(const char *xport_name, char *buf, size_t len)
{
    const char *hex = xport_name ? strstr(xport_name, "://") : NULL;
    unsigned char raw[128];
    size_t n = 0;
    if (!hex)
        return lc_seterr(LOCUS_EADDR, "net",
                         "'%.80s' is not a transport "
                         "address <provider>://<hex>",
                         xport_name ? xport_name : "(null)");
    for (hex += 3; hex[0] && hex[1] && n < sizeof(raw); hex += 2) {
        int hi = hexval(hex[0]), lo = hexval(hex[1]);
        if (hi < 0 || lo < 0)
            break;
        raw[n++] = (unsigned char)(hi << 4 | lo);
    }
    char host[INET6_ADDRSTRLEN], out[LC_IFACE_ADDR_MAX];
    sa_family_t fam = 0;
    if (n >= sizeof(fam))
        memcpy(&fam, raw, sizeof(fam));
    if (fam == AF_INET && n >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in sa;
        memcpy(&sa, raw, sizeof(sa));
        inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
        snprintf(out, sizeof(out), "%s:%u", host, ntohs(sa.sin_port));
    } else if (fam == AF_INET6 && n >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 sa;
        memcpy(&sa, raw, sizeof(sa));
        inet_ntop(AF_INET6, &sa.sin6_addr, host, sizeof(host));
        snprintf(out, sizeof(out), "[%s]:%u", host, ntohs(sa.sin6_port));
    } else {
        return lc_seterr(LOCUS_EADDR, "net",
                         "'%.80s' is not an IP socket "
                         "address",
                         xport_name);
    }
    return put(buf, len, out);
}
