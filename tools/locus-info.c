/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-info: what locus would use on this host, on one page: versions,
 * the fabric providers that have what locus needs, the provider chosen and
 * its address, the hwloc topology and the default worker layout.
 * Like fi_info and lstopo together.  Exits non-zero only on usage errors;
 * anything that fails to open is reported with its message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <hwloc.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <rdma/fabric.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/iface.h"
#include "locus/errors.h"
#include "locus/version.h"
#include "topo/topo.h"
#include "xport.h"

static void usage(FILE *f, const char *prog)
{
    fprintf(
        f,
        "usage: %s [--provider NAME] [--topology SYNTHETIC|FILE.xml]\n"
        "\n"
        "Show what locus would use on this host: versions, the libfabric\n"
        "providers with the capabilities locus needs, the provider chosen\n"
        "(opened, with its fabric, domain and address), the hwloc\n"
        "topology and the default worker layout.\n"
        "\n"
        "  -p, --provider NAME   provider to open, e.g. 'tcp;ofi_rxm',\n"
        "                        'verbs;ofi_rxm', 'shm' (default:\n"
        "                        $FI_PROVIDER, else tcp;ofi_rxm)\n"
        "  -t, --topology DESC   show a synthetic topology ('pack:2 numa:2\n"
        "                        core:8 pu:2') or an XML file (lstopo\n"
        "                        FILE.xml) instead of this machine's\n"
        "  -h, --help            this text\n"
        "\n"
        "Environment: FI_PROVIDER, HWLOC_XMLFILE, HWLOC_SYNTHETIC,\n"
        "LOCUS_LOG=error|warn|info|debug.\n",
        prog);
}

static void show_versions(void)
{
    uint32_t fv = fi_version();
    unsigned hv = hwloc_get_api_version();
    printf("locus %s on host %s\n", locus_version(), lc_hostname());
    printf("  libfabric %u.%u (built against %u.%u)\n", FI_MAJOR(fv),
           FI_MINOR(fv), FI_MAJOR_VERSION, FI_MINOR_VERSION);
    printf("  hwloc %s (API %u.%u, library API %u.%u)\n", HWLOC_VERSION,
           HWLOC_API_VERSION >> 16, (HWLOC_API_VERSION >> 8) & 0xff, hv >> 16,
           (hv >> 8) & 0xff);
}

/* xport_list_providers gives one "provider fabric domain" line per
 * fabric: show one line per provider, its domains with their fabrics. */
struct prov_line {
    char prov[64], fabric[128], domain[128];
};

static void show_providers(void)
{
    static char buf[16384];
    static struct prov_line l[256];
    int nl = 0;

    printf("\nFabric providers with what locus needs (tagged messages, RMA "
           "read, FI_SOURCE):\n");
    int n = xport_list_providers(buf, sizeof(buf));
    if (n < 0) {
        printf("  error: %s\n", locus_last_error());
        return;
    }
    for (char *s = strtok(buf, "\n"); s && nl < 256; s = strtok(NULL, "\n")) {
        if (sscanf(s, "%63s %127s %127s", l[nl].prov, l[nl].fabric,
                   l[nl].domain) == 3)
            nl++;
        else if (*s)
            printf("  %s\n", s);
    }
    if (nl == 0) {
        printf("  none (check the libfabric installation; fi_info lists "
               "every provider)\n");
        return;
    }
    for (int i = 0; i < nl; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(l[j].prov, l[i].prov);
        if (seen)
            continue;
        printf("  %-14s", l[i].prov);
        const char *sep = "";
        for (int j = i; j < nl; j++) {
            if (strcmp(l[j].prov, l[i].prov))
                continue;
            int dseen = 0;
            for (int k = i; k < j && !dseen; k++)
                dseen = !strcmp(l[k].prov, l[i].prov) &&
                        !strcmp(l[k].domain, l[j].domain);
            if (dseen)
                continue;
            printf("%s%s (", sep, l[j].domain);
            const char *fsep = "";
            for (int k = j; k < nl; k++)
                if (!strcmp(l[k].prov, l[i].prov) &&
                    !strcmp(l[k].domain, l[j].domain)) {
                    printf("%s%s", fsep, l[k].fabric);
                    fsep = ", ";
                }
            printf(")");
            sep = "; ";
        }
        printf("\n");
    }
}

static void show_chosen(const char *provider)
{
    const char *env = getenv("FI_PROVIDER");
    const char *name, *why;
    if (provider) {
        name = provider;
        why = "--provider";
    } else if (env && *env) {
        name = env;
        why = "$FI_PROVIDER";
    } else {
        name = "tcp;ofi_rxm";
        why = "default; set FI_PROVIDER or --provider to change";
    }
    printf("\nChosen provider: %s (%s)\n", name, why);

    struct xport_opts opts = XPORT_OPTS_INIT;
    xport_ep *ep = NULL;
    char addr[XPORT_NAME_MAX];
    opts.provider = provider;
    if (xport_open(&opts, &ep) != 0) {
        printf("  error: %s\n", locus_last_error());
        return;
    }
    printf("  provider  %s\n", xport_provider(ep));
    printf("  fabric    %s\n", xport_fabric(ep));
    printf("  domain    %s\n", xport_domain(ep));
    if (xport_name(ep, addr, sizeof(addr)) == 0)
        printf("  address   %s\n", addr);
    else
        printf("  address   error: %s\n", locus_last_error());
    xport_close(ep);
}

/* What --interface NAME / $LOCUS_INTERFACE can name here. */
static void show_interfaces(void)
{
    struct ifaddrs *ifs, *i;
    printf("\nInterfaces (IPv4, for --interface NAME or $LOCUS_INTERFACE):\n");
    if (getifaddrs(&ifs) != 0) {
        printf("  error: getifaddrs: %s\n", strerror(errno));
        return;
    }
    for (i = ifs; i; i = i->ifa_next) {
        char a[INET_ADDRSTRLEN];
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a,
                  sizeof(a));
        printf("  %-12s %s%s\n", i->ifa_name, a,
               (i->ifa_flags & IFF_UP) ? "" : "  (down)");
    }
    freeifaddrs(ifs);
    const char *e = getenv("LOCUS_INTERFACE");
    char b[LC_IFACE_ADDR_MAX];
    if (e && *e) {
        if (lc_bind_resolve(NULL, NULL, b, sizeof(b)) == 0)
            printf("  $LOCUS_INTERFACE=%s: daemons listen on %s\n", e, b);
        else
            printf("  $LOCUS_INTERFACE=%s: %s\n", e, locus_last_error());
    } else {
        printf("  daemons listen on 127.0.0.1 unless given --interface\n");
    }
}

static void show_layout(topo *t)
{
    int n = topo_numa_count(t);
    char set[512];
    printf("\nDefault worker layout: 1 worker per NUMA node, 1 thread per "
           "core (%d worker%s)\n",
           n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) {
        int nc = topo_numa_ncores(t, i);
        if (topo_numa_cpuset(t, i, set, sizeof(set)) != 0)
            snprintf(set, sizeof(set), "?");
        printf("  worker %d on NUMA node %d (P#%d): %d thread%s, PUs %s\n", i,
               i, topo_numa_os_index(t, i), nc, nc == 1 ? "" : "s", set);
    }
}

static void show_topology(topo *t)
{
    static char buf[65536];
    printf("\n");
    if (topo_describe(t, buf, sizeof(buf)) != 0)
        printf("(truncated: %s)\n", locus_last_error());
    fputs(buf, stdout);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"provider", required_argument, NULL, 'p'},
        {"topology", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *provider = NULL, *topology = NULL;
    int c;

    lc_log_set_prog("locus-info");
    while ((c = getopt_long(argc, argv, "p:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            provider = optarg;
            break;
        case 't':
            topology = optarg;
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0],
                argv[optind]);
        usage(stderr, argv[0]);
        return 2;
    }
    if (provider && !*provider) {
        fprintf(stderr, "%s: --provider needs a name\n", argv[0]);
        return 2;
    }

    /* Load the topology first: a bad --topology is a usage error, and
     * nothing is printed half-way before it. */
    topo *t = NULL;
    int trc = topo_load(topology, &t);
    if (trc != 0 && topology) {
        fprintf(stderr, "%s: --topology: %s\n", argv[0], locus_last_error());
        return 2;
    }

    show_versions();
    show_providers();
    show_chosen(provider);
    show_interfaces();
    if (trc == 0) {
        show_topology(t);
        show_layout(t);
    } else {
        printf("\nTopology: error: %s\n", locus_last_error());
    }
    topo_destroy(t);
    return 0;
}
