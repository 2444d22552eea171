/* SPDX-License-Identifier: BSD-3-Clause */
#include "topo.h"

#include "base/base.h"

#include <errno.h>
#include <hwloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUB "numa"

struct topo_node {
    hwloc_obj_t obj; /* the NUMA node, or the root when hwloc has none */
    int ncores;
    int npus;
};

struct topo {
    hwloc_topology_t h;
    int thissystem;
    hwloc_obj_type_t core_type; /* HWLOC_OBJ_CORE, or PU if no cores */
    int nnodes;
    struct topo_node *nodes;
    char *source;  /* topo_source() */
    char *binding; /* PUs of the process CPU binding (this system) */
};

static int topo_check(const topo *t, int node, const char *fn)
{
    if (!t)
        return lc_seterr(LOCUS_EINVAL, SUB, "%s: topology is NULL", fn);
    if (node < 0 || node >= t->nnodes)
        return lc_seterr(LOCUS_EINVAL, SUB,
                         "%s: NUMA node %d does not exist: the topology has "
                         "%d node%s (0..%d)",
                         fn, node, t->nnodes, t->nnodes == 1 ? "" : "s",
                         t->nnodes - 1);
    return 0;
}

static int topo_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *topo_getenv(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Before loading: where the topology comes from, and whether hwloc may be
 * told it is this system's so that it restricts itself to our binding. */
static int topo_set_source(topo *t, const char *source, int *restrict_flag)
{
    *restrict_flag = 0;
    if (source) {
        if (topo_ends_with(source, ".xml")) {
            if (access(source, R_OK) != 0)
                return lc_seterr(LOCUS_ETOPO, SUB,
                                 "XML topology '%s': %s (write one with "
                                 "'lstopo FILE.xml')",
                                 source, strerror(errno));
            if (hwloc_topology_set_xml(t->h, source) < 0)
                return lc_seterr(LOCUS_ETOPO, SUB,
                                 "XML topology '%s' could not be read by "
                                 "hwloc (%s): is it a file written by lstopo "
                                 "or hwloc_topology_export_xml()?",
                                 source, strerror(errno));
            if (asprintf(&t->source, "XML file '%s'", source) < 0)
                t->source = NULL;
        } else {
            if (hwloc_topology_set_synthetic(t->h, source) < 0)
                return lc_seterr(LOCUS_ETOPO, SUB,
                                 "invalid synthetic topology '%s' (%s): "
                                 "expected space-separated type:count levels "
                                 "ending with pu, such as 'pack:1 numa:2 "
                                 "core:2 pu:1', or a path ending in .xml",
                                 source, strerror(errno));
            if (asprintf(&t->source, "synthetic '%s'", source) < 0)
                t->source = NULL;
        }
    } else {
        const char *xml = topo_getenv("HWLOC_XMLFILE");
        const char *syn = topo_getenv("HWLOC_SYNTHETIC");
        int r;
        if (xml)
            r = asprintf(&t->source, "XML file '%s' ($HWLOC_XMLFILE)", xml);
        else if (syn)
            r = asprintf(&t->source, "synthetic '%s' ($HWLOC_SYNTHETIC)", syn);
        else
            r = asprintf(&t->source, "this system");
        if (r < 0)
            t->source = NULL;
        /* The restrict flag needs IS_THISSYSTEM, which would make hwloc
         * bind for real on a topology from the environment: only use it
         * when nothing overrides the discovery. */
        if (!xml && !syn && !topo_getenv("HWLOC_FSROOT") &&
            !topo_getenv("HWLOC_COMPONENTS")) {
            unsigned long fl = HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM |
                               HWLOC_TOPOLOGY_FLAG_RESTRICT_TO_CPUBINDING;
            if (hwloc_topology_set_flags(t->h, fl) < 0)
                return lc_seterr(LOCUS_ETOPO, SUB,
                                 "hwloc_topology_set_flags: %s",
                                 strerror(errno));
            *restrict_flag = 1;
        }
    }
    if (!t->source)
        return lc_seterr(LOCUS_ENOMEM, SUB, "out of memory loading topology");
    return 0;
}

/* Restrict a topology of this system to the process CPU binding (what the
 * flag does, for topologies hwloc judged this system's by itself), and
 * record the binding for topo_describe(). */
static int topo_restrict(topo *t, int flag_done)
{
    int ret = 0;
    hwloc_bitmap_t bind = hwloc_bitmap_alloc();
    LC_CHECK(bind, out, ret, LOCUS_ENOMEM, SUB, "out of memory (bitmap)");
    if (hwloc_get_cpubind(t->h, bind, HWLOC_CPUBIND_PROCESS) < 0 ||
        hwloc_bitmap_iszero(bind)) {
        lc_log(LC_LOG_DEBUG, SUB,
               "process CPU binding unknown (%s): topology not restricted",
               strerror(errno));
        goto out;
    }
    if (!flag_done && !hwloc_bitmap_isincluded(
                          hwloc_topology_get_topology_cpuset(t->h), bind))
        LC_CHECK(hwloc_topology_restrict(t->h, bind, 0) == 0, out, ret,
                 LOCUS_ETOPO, SUB,
                 "hwloc_topology_restrict to the process CPU binding: %s",
                 strerror(errno));
    LC_CHECK(hwloc_bitmap_list_asprintf(&t->binding, bind) >= 0, out, ret,
             LOCUS_ENOMEM, SUB, "out of memory (cpuset string)");
out:
    hwloc_bitmap_free(bind);
    return ret;
}

static int topo_count_in(const topo *t, hwloc_const_cpuset_t set,
                         hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_inside_cpuset_by_type(t->h, set, type);
    return n < 0 ? 0 : n;
}

static int topo_build_nodes(topo *t)
{
    int n = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE);
    t->core_type = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_CORE) > 0
                       ? HWLOC_OBJ_CORE
                       : HWLOC_OBJ_PU;
    t->nodes = calloc(n > 0 ? (size_t)n : 1, sizeof(*t->nodes));
    if (!t->nodes)
        return lc_seterr(LOCUS_ENOMEM, SUB, "out of memory (NUMA nodes)");
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t->h, HWLOC_OBJ_NUMANODE, i);
        int npus =
            o && o->cpuset ? topo_count_in(t, o->cpuset, HWLOC_OBJ_PU) : 0;
        if (npus == 0) {
            lc_log(LC_LOG_INFO, SUB,
                   "NUMA node P#%u has memory but no PU here: not used",
                   o ? o->os_index : 0u);
            continue;
        }
        struct topo_node *nd = &t->nodes[t->nnodes++];
        nd->obj = o;
        nd->npus = npus;
        nd->ncores = topo_count_in(t, o->cpuset, t->core_type);
        if (nd->ncores < 1)
            nd->ncores = npus;
    }
    if (t->nnodes == 0) {
        hwloc_obj_t root = hwloc_get_root_obj(t->h);
        struct topo_node *nd = &t->nodes[0];
        nd->obj = root;
        nd->npus = topo_count_in(t, root->cpuset, HWLOC_OBJ_PU);
        nd->ncores = topo_count_in(t, root->cpuset, t->core_type);
        if (nd->npus < 1)
            return lc_seterr(LOCUS_ETOPO, SUB, "topology %s has no PU",
                             t->source);
        if (nd->ncores < 1)
            nd->ncores = nd->npus;
        t->nnodes = 1;
    }
    return 0;
}

int topo_load(const char *source, topo **out)
{
    int ret = 0, restrict_flag = 0;
    topo *t = NULL;

    LC_CHECK(out, fail, ret, LOCUS_EINVAL, SUB, "topo_load: out is NULL");
    *out = NULL;
    LC_CHECK(!source || *source, fail, ret, LOCUS_EINVAL, SUB,
             "topo_load: empty topology source (give NULL for this machine, "
             "a synthetic description or a path ending in .xml)");
    t = calloc(1, sizeof(*t));
    LC_CHECK(t, fail, ret, LOCUS_ENOMEM, SUB, "out of memory (topology)");
    LC_CHECK(hwloc_topology_init(&t->h) == 0, fail, ret, LOCUS_ETOPO, SUB,
             "hwloc_topology_init: %s", strerror(errno));
    LC_CHECK_RC(topo_set_source(t, source, &restrict_flag), fail, ret);
    LC_CHECK(hwloc_topology_load(t->h) == 0, fail, ret, LOCUS_ETOPO, SUB,
             "loading topology (%s) with hwloc: %s", t->source,
             strerror(errno));
    t->thissystem = hwloc_topology_is_thissystem(t->h);
    if (t->thissystem)
        LC_CHECK_RC(topo_restrict(t, restrict_flag), fail, ret);
    LC_CHECK_RC(topo_build_nodes(t), fail, ret);

    lc_log(LC_LOG_INFO, SUB,
           "topology %s: %d NUMA node%s, %d cores, %d PUs%s%s%s", t->source,
           t->nnodes, t->nnodes == 1 ? "" : "s", topo_ncores(t), topo_npus(t),
           t->binding ? " (process CPU binding: PUs " : "",
           t->binding ? t->binding : "", t->binding ? ")" : "");
    *out = t;
    return 0;
fail:
    topo_destroy(t);
    return ret;
}

void topo_destroy(topo *t)
{
    if (!t)
        return;
    if (t->h)
        hwloc_topology_destroy(t->h);
    free(t->nodes);
    free(t->source);
    free(t->binding);
    free(t);
}

int topo_is_thissystem(const topo *t)
{
    return t ? t->thissystem : 0;
}

const char *topo_source(const topo *t)
{
    return t ? t->source : "(none)";
}

int topo_numa_count(const topo *t)
{
    if (!t)
        return lc_seterr(LOCUS_EINVAL, SUB,
                         "topo_numa_count: topology is NULL");
    return t->nnodes;
}

int topo_numa_os_index(const topo *t, int node)
{
    int rc = topo_check(t, node, "topo_numa_os_index");
    if (rc)
        return rc;
    hwloc_obj_t o = t->nodes[node].obj;
    return o->type == HWLOC_OBJ_NUMANODE ? (int)o->os_index : 0;
}

static int topo_list(hwloc_const_bitmap_t set, char *buf, size_t len,
                     const char *fn)
{
    if (!buf || len == 0)
        return lc_seterr(LOCUS_EINVAL, SUB, "%s: no buffer", fn);
    int n = hwloc_bitmap_list_snprintf(buf, len, set);
    if (n < 0)
        return lc_seterr(LOCUS_ETOPO, SUB,
                         "%s: hwloc_bitmap_list_snprintf "
                         "failed",
                         fn);
    if ((size_t)n >= len)
        return lc_seterr(LOCUS_ERANGE, SUB,
                         "%s: buffer of %zu bytes too small for the %d "
                         "characters of the cpuset",
                         fn, len, n);
    return 0;
}

int topo_numa_cpuset(const topo *t, int node, char *buf, size_t len)
{
    int rc = topo_check(t, node, "topo_numa_cpuset");
    if (rc)
        return rc;
    return topo_list(t->nodes[node].obj->cpuset, buf, len, "topo_numa_cpuset");
}

int topo_numa_ncores(const topo *t, int node)
{
    int rc = topo_check(t, node, "topo_numa_ncores");
    return rc ? rc : t->nodes[node].ncores;
}

int topo_numa_npus(const topo *t, int node)
{
    int rc = topo_check(t, node, "topo_numa_npus");
    return rc ? rc : t->nodes[node].npus;
}

uint64_t topo_numa_memory(const topo *t, int node)
{
    if (topo_check(t, node, "topo_numa_memory"))
        return 0;
    hwloc_obj_t o = t->nodes[node].obj;
    return o->type == HWLOC_OBJ_NUMANODE ? o->attr->numanode.local_memory
                                         : o->total_memory;
}

int topo_npackages(const topo *t)
{
    if (!t)
        return lc_seterr(LOCUS_EINVAL, SUB, "topo_npackages: topology is NULL");
    int n = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_PACKAGE);
    return n < 0 ? 0 : n;
}

int topo_ncores(const topo *t)
{
    if (!t)
        return lc_seterr(LOCUS_EINVAL, SUB, "topo_ncores: topology is NULL");
    int n = 0;
    for (int i = 0; i < t->nnodes; i++)
        n += t->nodes[i].ncores;
    return n;
}

int topo_npus(const topo *t)
{
    if (!t)
        return lc_seterr(LOCUS_EINVAL, SUB, "topo_npus: topology is NULL");
    int n = 0;
    for (int i = 0; i < t->nnodes; i++)
        n += t->nodes[i].npus;
    return n;
}

/* Memory binding refused: harmless where there is one NUMA node (all
 * memory is local), an error where placement matters. */
static int topo_membind_refused(const topo *t, int node, const char *what,
                                int err)
{
    if (hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE) <= 1) {
        lc_log(LC_LOG_INFO, SUB,
               "%s: memory binding refused (%s); ignored, the machine has a "
               "single NUMA node",
               what, strerror(err));
        return 0;
    }
    return lc_seterr(LOCUS_ETOPO, SUB,
                     "%s: binding memory to NUMA node %d (P#%u) failed: %s "
                     "(the process lacks permission or the kernel NUMA "
                     "support; in a container, allow set_mempolicy/mbind)",
                     what, node, t->nodes[node].obj->os_index, strerror(err));
}

static int topo_bind(topo *t, int node, hwloc_const_cpuset_t cpus,
                     int cpu_flags, int mem_flags, const char *what)
{
    char list[256];
    hwloc_obj_t o = t->nodes[node].obj;

    if (hwloc_bitmap_list_snprintf(list, sizeof(list), cpus) < 0)
        snprintf(list, sizeof(list), "?");
    if (!t->thissystem) {
        lc_log(LC_LOG_INFO, SUB,
               "%s: not binding to NUMA node %d (PUs %s): topology %s is not "
               "this system's",
               what, node, list, t->source);
        return 0;
    }
    if (hwloc_set_cpubind(t->h, cpus, cpu_flags) < 0)
        return lc_seterr(LOCUS_ETOPO, SUB,
                         "%s: binding CPUs to NUMA node %d (PUs %s): %s", what,
                         node, list, strerror(errno));
    if (o->type == HWLOC_OBJ_NUMANODE &&
        hwloc_set_membind(t->h, o->nodeset, HWLOC_MEMBIND_BIND,
                          mem_flags | HWLOC_MEMBIND_BYNODESET) < 0) {
        int rc = topo_membind_refused(t, node, what, errno);
        if (rc)
            return rc;
    }
    lc_log(LC_LOG_DEBUG, SUB, "%s: bound to NUMA node %d (P#%u), PUs %s", what,
           node, o->os_index, list);
    return 0;
}

int topo_bind_process(topo *t, int node)
{
    int rc = topo_check(t, node, "topo_bind_process");
    if (rc)
        return rc;
    /* No memory flag: hwloc binds the process where the OS can, else the
     * calling thread (Linux), whose policy later threads inherit. */
    rc = topo_bind(t, node, t->nodes[node].obj->cpuset, HWLOC_CPUBIND_PROCESS,
                   0, "process");
    if (rc == 0 && t->thissystem)
        lc_log(LC_LOG_INFO, SUB, "process bound to NUMA node %d (P#%u)", node,
               t->nodes[node].obj->os_index);
    return rc;
}

int topo_bind_thread(topo *t, int node, int idx)
{
    int rc = topo_check(t, node, "topo_bind_thread");
    if (rc)
        return rc;
    if (idx < 0)
        return lc_seterr(LOCUS_EINVAL, SUB,
                         "topo_bind_thread: core index %d is negative", idx);
    const struct topo_node *nd = &t->nodes[node];
    hwloc_obj_t core = hwloc_get_obj_inside_cpuset_by_type(
        t->h, nd->obj->cpuset, t->core_type, (unsigned)(idx % nd->ncores));
    if (!core)
        core = hwloc_get_obj_inside_cpuset_by_type(
            t->h, nd->obj->cpuset, HWLOC_OBJ_PU, (unsigned)(idx % nd->npus));
    if (!core)
        return lc_seterr(LOCUS_ETOPO, SUB,
                         "topo_bind_thread: NUMA node %d has no core %d", node,
                         idx % nd->ncores);
    return topo_bind(t, node, core->cpuset, HWLOC_CPUBIND_THREAD,
                     HWLOC_MEMBIND_THREAD, "thread");
}

void *topo_alloc(topo *t, int node, size_t len)
{
    if (topo_check(t, node, "topo_alloc"))
        return NULL;
    if (len == 0) {
        lc_seterr(LOCUS_EINVAL, SUB, "topo_alloc: length is 0");
        return NULL;
    }
    hwloc_obj_t o = t->nodes[node].obj;
    void *p;
    if (!t->thissystem || o->type != HWLOC_OBJ_NUMANODE) {
        p = hwloc_alloc(t->h, len);
        if (!p)
            lc_seterr(LOCUS_ENOMEM, SUB, "topo_alloc: %zu bytes: %s", len,
                      strerror(errno));
        return p;
    }
    p = hwloc_alloc_membind(t->h, len, o->nodeset, HWLOC_MEMBIND_BIND,
                            HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_STRICT);
    if (p)
        return p;
    int err1 = errno;
    if (err1 == ENOMEM) {
        lc_seterr(LOCUS_ENOMEM, SUB,
                  "topo_alloc: %zu bytes on NUMA node %d (P#%u): %s", len, node,
                  o->os_index, strerror(err1));
        return NULL;
    }
    /* hwloc could not do both at once: map, then bind the range. */
    p = hwloc_alloc(t->h, len);
    if (!p) {
        lc_seterr(LOCUS_ENOMEM, SUB, "topo_alloc: %zu bytes: %s", len,
                  strerror(errno));
        return NULL;
    }
    if (hwloc_set_area_membind(t->h, p, len, o->nodeset, HWLOC_MEMBIND_BIND,
                               HWLOC_MEMBIND_BYNODESET) == 0)
        return p;
    int err2 = errno;
    lc_log(LC_LOG_DEBUG, SUB, "hwloc_alloc_membind: %s", strerror(err1));
    if (topo_membind_refused(t, node, "topo_alloc", err2)) {
        hwloc_free(t->h, p, len);
        return NULL;
    }
    return p;
}

void topo_free(topo *t, void *p, size_t len)
{
    if (!p)
        return;
    if (!t) {
        lc_log(LC_LOG_ERROR, SUB, "topo_free: no topology, %zu bytes leaked",
               len);
        return;
    }
    hwloc_free(t->h, p, len);
}

int topo_current_node(topo *t)
{
    if (!t) {
        lc_seterr(LOCUS_EINVAL, SUB, "topo_current_node: topology is NULL");
        return -1;
    }
    if (!t->thissystem)
        return -1;
    int node = -1;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return -1;
    if (hwloc_get_last_cpu_location(t->h, set, HWLOC_CPUBIND_THREAD) == 0) {
        for (int i = 0; i < t->nnodes && node < 0; i++)
            if (hwloc_bitmap_intersects(t->nodes[i].obj->cpuset, set))
                node = i;
    } else {
        lc_log(LC_LOG_DEBUG, SUB, "hwloc_get_last_cpu_location: %s",
               strerror(errno));
    }
    hwloc_bitmap_free(set);
    return node;
}

/* ---- description -------------------------------------------------------- */

struct topo_out {
    char *buf;
    size_t len, off;
    int trunc;
};

__attribute__((format(printf, 2, 3))) static void topo_put(struct topo_out *o,
                                                           const char *fmt, ...)
{
    va_list ap;
    size_t room = o->off < o->len ? o->len - o->off : 0;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->off, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        o->trunc = 1;
        o->off = o->len ? o->len - 1 : 0;
    } else {
        o->off += (size_t)n;
    }
}

static const char *topo_bytes(uint64_t b, char *buf, size_t len)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)b);
    else
        snprintf(buf, len, "%.*f %s", v < 10.0 ? 2 : 1, v, unit[u]);
    return buf;
}

static const char *topo_plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int topo_describe(const topo *t, char *buf, size_t len)
{
    if (!t || !buf || len == 0)
        return lc_seterr(LOCUS_EINVAL, SUB, "topo_describe: %s",
                         !t ? "topology is NULL" : "no buffer");
    struct topo_out o = {buf, len, 0, 0};
    char mem[32], set[256];
    hwloc_obj_t root = hwloc_get_root_obj(t->h);
    int npack = topo_npackages(t), ncores = topo_ncores(t), npus = topo_npus(t);
    int nnuma = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE);

    buf[0] = '\0';
    topo_put(&o, "Topology: %s%s\n", t->source,
             t->thissystem ? "" : " (not this system: binding disabled)");
    if (t->binding) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        if (online > npus)
            topo_put(&o,
                     "  restricted to the process CPU binding: PUs %s (%d of "
                     "%ld online PUs)\n",
                     t->binding, npus, online);
        else
            topo_put(&o, "  process CPU binding: PUs %s (all %d PUs)\n",
                     t->binding, npus);
    }
    hwloc_bitmap_list_snprintf(set, sizeof(set), root->cpuset);
    topo_put(&o,
             "Machine: %d %s, %d NUMA %s, %d %s, %d %s (PUs %s), %s of "
             "memory\n",
             npack, topo_plural(npack, "package", "packages"), t->nnodes,
             topo_plural(t->nnodes, "node", "nodes"), ncores,
             topo_plural(ncores, "core", "cores"), npus,
             topo_plural(npus, "PU", "PUs"), set,
             topo_bytes(root->total_memory, mem, sizeof(mem)));
    for (int i = 0; i < npack; i++) {
        hwloc_obj_t p = hwloc_get_obj_by_type(t->h, HWLOC_OBJ_PACKAGE, i);
        int pn = 0, pc = topo_count_in(t, p->cpuset, t->core_type);
        for (int n = 0; n < t->nnodes; n++)
            if (hwloc_bitmap_isincluded(t->nodes[n].obj->cpuset, p->cpuset))
                pn++;
        hwloc_bitmap_list_snprintf(set, sizeof(set), p->cpuset);
        topo_put(&o, "  Package %d (P#%u): PUs %s, %d NUMA %s, %d %s\n", i,
                 p->os_index, set, pn, topo_plural(pn, "node", "nodes"), pc,
                 topo_plural(pc, "core", "cores"));
    }
    for (int n = 0; n < t->nnodes; n++) {
        const struct topo_node *nd = &t->nodes[n];
        hwloc_obj_t pk =
            hwloc_get_ancestor_obj_by_type(t->h, HWLOC_OBJ_PACKAGE, nd->obj);
        hwloc_bitmap_list_snprintf(set, sizeof(set), nd->obj->cpuset);
        topo_put(&o, "  NUMA node %d (P#%d): PUs %s, %d %s, %d %s, %s", n,
                 topo_numa_os_index(t, n), set, nd->ncores,
                 topo_plural(nd->ncores, "core", "cores"), nd->npus,
                 topo_plural(nd->npus, "PU", "PUs"),
                 topo_bytes(topo_numa_memory(t, n), mem, sizeof(mem)));
        if (pk)
            topo_put(&o, ", in package %u", pk->logical_index);
        topo_put(&o, "\n");
    }
    for (int i = 0; i < nnuma; i++) {
        hwloc_obj_t m = hwloc_get_obj_by_type(t->h, HWLOC_OBJ_NUMANODE, i);
        if (m->cpuset && topo_count_in(t, m->cpuset, HWLOC_OBJ_PU) > 0)
            continue;
        topo_put(&o, "  NUMA node P#%u: memory only, %s (no worker)\n",
                 m->os_index,
                 topo_bytes(m->attr->numanode.local_memory, mem, sizeof(mem)));
    }
    if (o.trunc)
        return lc_seterr(LOCUS_ERANGE, SUB,
                         "topo_describe: buffer of %zu bytes too small", len);
    return 0;
}
