/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Topology module: synthetic and XML topologies (several NUMA nodes on a
 * one-node machine), binding and allocation on this machine, bad input.
 * Criterion runs every test in its own process, so bindings and
 * environment changes stay inside one test.
 */
#include <criterion/criterion.h>

#include <hwloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "locus/errors.h"
#include "proc.h"
#include "topo/topo.h"

static void clean_env(void)
{
    unsetenv("HWLOC_XMLFILE");
    unsetenv("HWLOC_SYNTHETIC");
    unsetenv("HWLOC_THISSYSTEM");
    unsetenv("HWLOC_FSROOT");
    unsetenv("HWLOC_COMPONENTS");
}

TestSuite(topo, .init = clean_env);

struct want {
    int os_index;
    const char *cpuset;
    int ncores, npus;
    uint64_t memory;
};

static void check_nodes(topo *t, const struct want *w, int n)
{
    char buf[128];
    cr_assert_eq(topo_numa_count(t), n, "%s: %d nodes, want %d", topo_source(t),
                 topo_numa_count(t), n);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(topo_numa_os_index(t, i), w[i].os_index, "node %d", i);
        cr_assert_eq(topo_numa_cpuset(t, i, buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, w[i].cpuset, "node %d cpuset", i);
        cr_assert_eq(topo_numa_ncores(t, i), w[i].ncores, "node %d cores", i);
        cr_assert_eq(topo_numa_npus(t, i), w[i].npus, "node %d PUs", i);
        cr_assert_eq(topo_numa_memory(t, i), w[i].memory, "node %d memory", i);
    }
}

#define GIB (1ull << 30)

/* "pack:1 numa:2 core:2 pu:2": PUs numbered in order, 4 per node. */
static const struct want two[] = {{0, "0-3", 2, 4, GIB}, {1, "4-7", 2, 4, GIB}};

Test(topo, synthetic_two_nodes)
{
    topo *t = NULL;
    cr_assert_eq(topo_load("pack:1 numa:2 core:2 pu:2", &t), 0, "%s",
                 locus_last_error());
    cr_assert_eq(topo_is_thissystem(t), 0);
    check_nodes(t, two, 2);
    cr_assert_eq(topo_npackages(t), 1);
    cr_assert_eq(topo_ncores(t), 4);
    cr_assert_eq(topo_npus(t), 8);
    topo_destroy(t);
}

Test(topo, synthetic_four_nodes)
{
    /* 2 packages x 2 nodes x 3 cores x 1 PU: node i holds PUs 3i..3i+2. */
    static const struct want four[] = {{0, "0-2", 3, 3, GIB},
                                       {1, "3-5", 3, 3, GIB},
                                       {2, "6-8", 3, 3, GIB},
                                       {3, "9-11", 3, 3, GIB}};
    topo *t = NULL;
    cr_assert_eq(topo_load("pack:2 numa:2 core:3 pu:1", &t), 0, "%s",
                 locus_last_error());
    check_nodes(t, four, 4);
    cr_assert_eq(topo_npackages(t), 2);
    topo_destroy(t);
}

Test(topo, synthetic_interleaved_pus)
{
    /* Hyperthread siblings numbered apart, as on many x86 machines: core c
     * has PUs c and c+4. */
    static const struct want w[] = {{0, "0-1,4-5", 2, 4, GIB},
                                    {1, "2-3,6-7", 2, 4, GIB}};
    topo *t = NULL;
    cr_assert_eq(
        topo_load("pack:1 numa:2 core:2 pu:2(indexes=0,4,1,5,2,6,3,7)", &t), 0,
        "%s", locus_last_error());
    check_nodes(t, w, 2);
    topo_destroy(t);
}

Test(topo, synthetic_without_numa_or_cores)
{
    /* hwloc adds one NUMA node; no cores: PUs count as cores. */
    static const struct want w[] = {{0, "0-2", 3, 3, GIB}};
    topo *t = NULL;
    cr_assert_eq(topo_load("pu:3", &t), 0, "%s", locus_last_error());
    check_nodes(t, w, 1);
    topo_destroy(t);
}

Test(topo, synthetic_memory_size)
{
    topo *t = NULL;
    cr_assert_eq(topo_load("pack:1 numa:2(memory=3GiB) core:1 pu:1", &t), 0,
                 "%s", locus_last_error());
    cr_assert_eq(topo_numa_memory(t, 1), 3 * GIB);
    topo_destroy(t);
}

/* Write the synthetic topology desc to dir/name.xml with hwloc itself. */
static char *export_xml(const char *dir, const char *name, const char *desc,
                        const char *restrict_to)
{
    hwloc_topology_t h;
    char *path = NULL;
    cr_assert_eq(hwloc_topology_init(&h), 0);
    cr_assert_eq(hwloc_topology_set_synthetic(h, desc), 0);
    cr_assert_eq(hwloc_topology_load(h), 0);
    if (restrict_to) {
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        cr_assert_eq(hwloc_bitmap_list_sscanf(set, restrict_to), 0);
        cr_assert_eq(hwloc_topology_restrict(h, set, 0), 0);
        hwloc_bitmap_free(set);
    }
    cr_assert(asprintf(&path, "%s/%s.xml", dir, name) > 0);
    cr_assert_eq(hwloc_topology_export_xml(h, path, 0), 0);
    hwloc_topology_destroy(h);
    return path;
}

Test(topo, xml_same_as_synthetic)
{
    char *dir = lt_tmpdir();
    cr_assert(dir);
    char *path = export_xml(dir, "two", "pack:1 numa:2 core:2 pu:2", NULL);
    topo *t = NULL;
    cr_assert_eq(topo_load(path, &t), 0, "%s", locus_last_error());
    cr_assert_eq(topo_is_thissystem(t), 0);
    cr_assert(strstr(topo_source(t), path), "%s", topo_source(t));
    check_nodes(t, two, 2);
    topo_destroy(t);
    free(path);
    lt_rmdir(dir);
    free(dir);
}

Test(topo, xml_memory_only_node_is_left_out)
{
    /* Restricting to node 0's PUs keeps node 1 as memory without CPUs. */
    char *dir = lt_tmpdir();
    cr_assert(dir);
    char *path = export_xml(dir, "cpuless", "pack:1 numa:2 core:2 pu:2", "0-3");
    topo *t = NULL;
    char buf[2048];
    cr_assert_eq(topo_load(path, &t), 0, "%s", locus_last_error());
    check_nodes(t, two, 1);
    cr_assert_eq(topo_describe(t, buf, sizeof(buf)), 0);
    cr_assert(strstr(buf, "NUMA node P#1: memory only"), "%s", buf);
    topo_destroy(t);
    free(path);
    lt_rmdir(dir);
    free(dir);
}

Test(topo, hwloc_synthetic_env_is_honoured)
{
    topo *t = NULL;
    setenv("HWLOC_SYNTHETIC", "pack:1 numa:3 core:1 pu:1", 1);
    cr_assert_eq(topo_load(NULL, &t), 0, "%s", locus_last_error());
    cr_assert_eq(topo_numa_count(t), 3);
    cr_assert_eq(topo_is_thissystem(t), 0);
    cr_assert(strstr(topo_source(t), "$HWLOC_SYNTHETIC"), "%s", topo_source(t));
    topo_destroy(t);
}

Test(topo, describe_lists_nodes)
{
    topo *t = NULL;
    char buf[2048];
    cr_assert_eq(topo_load("pack:2 numa:1 core:2 pu:2", &t), 0);
    cr_assert_eq(topo_describe(t, buf, sizeof(buf)), 0, "%s",
                 locus_last_error());
    cr_assert(strstr(buf, "synthetic 'pack:2 numa:1 core:2 pu:2'"), "%s", buf);
    cr_assert(strstr(buf, "not this system"), "%s", buf);
    cr_assert(strstr(buf, "Machine: 2 packages, 2 NUMA nodes, 4 cores, 8 PUs"),
              "%s", buf);
    cr_assert(strstr(buf, "Package 1 (P#1): PUs 4-7, 1 NUMA node, 2 cores"),
              "%s", buf);
    cr_assert(strstr(buf, "NUMA node 1 (P#1): PUs 4-7, 2 cores, 4 PUs, "
                          "1.00 GiB, in package 1"),
              "%s", buf);
    /* Too small: truncated, NUL-terminated, ERANGE. */
    cr_assert_eq(topo_describe(t, buf, 16), LOCUS_ERANGE);
    cr_assert_eq(strlen(buf), 15);
    topo_destroy(t);
}

Test(topo, binding_skipped_when_not_this_system)
{
    cpu_set_t before, after;
    topo *t = NULL;
    cr_assert_eq(sched_getaffinity(0, sizeof(before), &before), 0);
    cr_assert_eq(topo_load("pack:1 numa:4 core:2 pu:1", &t), 0);
    cr_assert_eq(topo_bind_process(t, 3), 0, "%s", locus_last_error());
    cr_assert_eq(topo_bind_thread(t, 2, 5), 0, "%s", locus_last_error());
    cr_assert_eq(sched_getaffinity(0, sizeof(after), &after), 0);
    cr_assert(CPU_EQUAL(&before, &after), "binding changed");
    cr_assert_eq(topo_current_node(t), -1);
    char *p = topo_alloc(t, 3, 1 << 20);
    cr_assert(p, "%s", locus_last_error());
    memset(p, 0x5a, 1 << 20);
    topo_free(t, p, 1 << 20);
    topo_destroy(t);
}

/* ---- this machine ----------------------------------------------------- */

/* Bind every thread of this process (Criterion has a helper thread) to one
 * PU, as a launcher would before exec. */
static void bind_all_to_pu(hwloc_topology_t h, unsigned pu)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    hwloc_bitmap_only(set, pu);
    cr_assert_eq(hwloc_set_cpubind(h, set, HWLOC_CPUBIND_PROCESS), 0);
    hwloc_bitmap_free(set);
}

/* A topology of our own, to check what topo did with hwloc's eyes. */
static hwloc_topology_t own_topology(void)
{
    hwloc_topology_t h;
    cr_assert_eq(hwloc_topology_init(&h), 0);
    cr_assert_eq(hwloc_topology_load(h), 0);
    return h;
}

Test(topo, real_machine_bind_and_alloc)
{
    topo *t = NULL;
    char set[256], got[256];
    cpu_set_t mine;

    /* Narrow this thread only: the process binding (all threads) stays the
     * machine, and topo_bind_process must widen this thread to node 0. */
    cr_assert_eq(sched_getaffinity(0, sizeof(mine), &mine), 0);
    int last = -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &mine))
            last = i;
    CPU_ZERO(&mine);
    CPU_SET(last, &mine);
    cr_assert_eq(sched_setaffinity(0, sizeof(mine), &mine), 0);

    cr_assert_eq(topo_load(NULL, &t), 0, "%s", locus_last_error());
    cr_assert_eq(topo_is_thissystem(t), 1);
    cr_assert_geq(topo_numa_count(t), 1);
    cr_assert_geq(topo_numa_ncores(t, 0), 1);
    cr_assert_geq(topo_numa_npus(t, 0), topo_numa_ncores(t, 0));
    cr_assert_gt(topo_numa_memory(t, 0), 0);
    cr_assert_eq(topo_numa_cpuset(t, 0, set, sizeof(set)), 0);

    cr_assert_eq(topo_bind_process(t, 0), 0, "%s", locus_last_error());

    hwloc_topology_t h = own_topology();
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    cr_assert_eq(hwloc_get_cpubind(h, b, HWLOC_CPUBIND_PROCESS), 0);
    hwloc_bitmap_list_snprintf(got, sizeof(got), b);
    cr_assert_str_eq(got, set, "process bound to %s, node 0 is %s", got, set);
    cr_assert_eq(hwloc_get_cpubind(h, b, HWLOC_CPUBIND_THREAD), 0);
    hwloc_bitmap_list_snprintf(got, sizeof(got), b);
    cr_assert_str_eq(got, set, "thread bound to %s, node 0 is %s", got, set);

    size_t len = 16u << 20;
    unsigned char *p = topo_alloc(t, 0, len);
    cr_assert(p, "%s", locus_last_error());
    memset(p, 0xa5, len);
    for (size_t i = 0; i < len; i += 4096)
        cr_assert_eq(p[i], 0xa5);
    /* Every touched page is on node 0. */
    cr_assert_eq(
        hwloc_get_area_memlocation(h, p, len, b, HWLOC_MEMBIND_BYNODESET), 0);
    cr_assert_eq(hwloc_bitmap_first(b), topo_numa_os_index(t, 0));
    cr_assert_eq(hwloc_bitmap_weight(b), 1);
    topo_free(t, p, len);

    cr_assert_eq(topo_current_node(t), 0);
    hwloc_bitmap_free(b);
    hwloc_topology_destroy(h);
    topo_destroy(t);
}

Test(topo, real_machine_bind_thread_to_core)
{
    topo *t = NULL;
    cr_assert_eq(topo_load(NULL, &t), 0, "%s", locus_last_error());
    int nc = topo_numa_ncores(t, 0);
    hwloc_topology_t h = own_topology();
    hwloc_obj_t node0 = hwloc_get_numanode_obj_by_os_index(
        h, (unsigned)topo_numa_os_index(t, 0));
    cr_assert(node0);
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    for (int idx = 0; idx < 2 * nc + 1; idx++) {
        hwloc_obj_t core = hwloc_get_obj_inside_cpuset_by_type(
            h, node0->cpuset, HWLOC_OBJ_CORE, (unsigned)(idx % nc));
        cr_assert(core);
        cr_assert_eq(topo_bind_thread(t, 0, idx), 0, "%s", locus_last_error());
        cr_assert_eq(hwloc_get_cpubind(h, b, HWLOC_CPUBIND_THREAD), 0);
        cr_assert(hwloc_bitmap_isequal(b, core->cpuset),
                  "idx %d: thread not bound to core %d", idx, idx % nc);
        cr_assert_eq(topo_current_node(t), 0);
    }
    hwloc_bitmap_free(b);
    hwloc_topology_destroy(h);
    topo_destroy(t);
}

Test(topo, real_machine_restricted_to_binding)
{
    topo *t = NULL;
    cpu_set_t one;
    int first = -1;
    cr_assert_eq(sched_getaffinity(0, sizeof(one), &one), 0);
    if (CPU_COUNT(&one) < 2)
        cr_skip_test("needs 2 PUs");
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
        if (CPU_ISSET(i, &one))
            first = i;
    hwloc_topology_t h = own_topology();
    bind_all_to_pu(h, (unsigned)first);
    hwloc_topology_destroy(h);

    cr_assert_eq(topo_load(NULL, &t), 0, "%s", locus_last_error());
    cr_assert_eq(topo_numa_count(t), 1);
    cr_assert_eq(topo_npus(t), 1);
    cr_assert_eq(topo_numa_ncores(t, 0), 1);
    char want[16], got[64], desc[2048];
    snprintf(want, sizeof(want), "%d", first);
    cr_assert_eq(topo_numa_cpuset(t, 0, got, sizeof(got)), 0);
    cr_assert_str_eq(got, want);
    cr_assert_eq(topo_describe(t, desc, sizeof(desc)), 0);
    cr_assert(strstr(desc, "restricted to the process CPU binding"), "%s",
              desc);
    topo_destroy(t);
}

Test(topo, xml_of_this_system_restricted_when_thissystem)
{
    /* $HWLOC_XMLFILE + $HWLOC_THISSYSTEM=1: hwloc says it is this system,
     * the restriction to the binding still applies. */
    char *dir = lt_tmpdir(), *path = NULL;
    cr_assert(dir);
    cpu_set_t one;
    cr_assert_eq(sched_getaffinity(0, sizeof(one), &one), 0);
    if (CPU_COUNT(&one) < 2)
        cr_skip_test("needs 2 PUs");
    hwloc_topology_t h = own_topology();
    cr_assert(asprintf(&path, "%s/this.xml", dir) > 0);
    cr_assert_eq(hwloc_topology_export_xml(h, path, 0), 0);
    hwloc_obj_t pu = hwloc_get_obj_by_type(h, HWLOC_OBJ_PU, 0);
    bind_all_to_pu(h, pu->os_index);
    setenv("HWLOC_XMLFILE", path, 1);
    setenv("HWLOC_THISSYSTEM", "1", 1);

    topo *t = NULL;
    cr_assert_eq(topo_load(NULL, &t), 0, "%s", locus_last_error());
    cr_assert_eq(topo_is_thissystem(t), 1);
    cr_assert_eq(topo_npus(t), 1);
    cr_assert(strstr(topo_source(t), "$HWLOC_XMLFILE"));
    topo_destroy(t);
    hwloc_topology_destroy(h);
    free(path);
    lt_rmdir(dir);
    free(dir);
}

/* ---- bad input ---------------------------------------------------------- */

Test(topo, node_out_of_range)
{
    topo *t = NULL;
    char buf[64];
    cr_assert_eq(topo_load("pack:1 numa:2 core:2 pu:2", &t), 0);

    cr_assert_eq(topo_numa_npus(t, -1), LOCUS_EINVAL);
    cr_assert(strstr(locus_last_error(), "NUMA node -1"), "%s",
              locus_last_error());
    cr_assert(strstr(locus_last_error(), "2 nodes"), "%s", locus_last_error());

    cr_assert_eq(topo_numa_cpuset(t, 2, buf, sizeof(buf)), LOCUS_EINVAL);
    cr_assert(strstr(locus_last_error(), "NUMA node 2"), "%s",
              locus_last_error());
    cr_assert_eq(topo_numa_ncores(t, 2), LOCUS_EINVAL);
    cr_assert_eq(topo_numa_os_index(t, 7), LOCUS_EINVAL);
    cr_assert_eq(topo_numa_memory(t, 2), 0);
    cr_assert(strstr(locus_last_error(), "NUMA node 2"));
    cr_assert_eq(topo_bind_process(t, 2), LOCUS_EINVAL);
    cr_assert_eq(topo_bind_thread(t, -1, 0), LOCUS_EINVAL);
    cr_assert_eq(topo_bind_thread(t, 0, -3), LOCUS_EINVAL);
    cr_assert(strstr(locus_last_error(), "-3"), "%s", locus_last_error());
    cr_assert_null(topo_alloc(t, 5, 4096));
    cr_assert(strstr(locus_last_error(), "NUMA node 5"));
    cr_assert_null(topo_alloc(t, 0, 0));

    /* Buffer too small for "4-7". */
    cr_assert_eq(topo_numa_cpuset(t, 1, buf, 3), LOCUS_ERANGE);
    cr_assert_eq(topo_numa_cpuset(t, 1, NULL, 8), LOCUS_EINVAL);
    topo_destroy(t);
}

Test(topo, null_arguments)
{
    topo *t = (topo *)1;
    cr_assert_eq(topo_load("pack:1 numa:1 pu:1", NULL), LOCUS_EINVAL);
    cr_assert_eq(topo_load("", &t), LOCUS_EINVAL);
    cr_assert_null(t);
    cr_assert_eq(topo_numa_count(NULL), LOCUS_EINVAL);
    cr_assert_eq(topo_numa_npus(NULL, 0), LOCUS_EINVAL);
    cr_assert_eq(topo_is_thissystem(NULL), 0);
    cr_assert_eq(topo_current_node(NULL), -1);
    cr_assert_eq(topo_bind_process(NULL, 0), LOCUS_EINVAL);
    char buf[8];
    cr_assert_eq(topo_describe(NULL, buf, sizeof(buf)), LOCUS_EINVAL);
    topo_destroy(NULL);
    topo_free(NULL, NULL, 0);
}

Test(topo, malformed_synthetic)
{
    topo *t = (topo *)1;
    cr_assert_eq(topo_load("pack:1 numa:2 core:x", &t), LOCUS_ETOPO);
    cr_assert_null(t);
    cr_assert(strstr(locus_last_error(), "invalid synthetic topology "
                                         "'pack:1 numa:2 core:x'"),
              "%s", locus_last_error());
    cr_assert_eq(topo_load("bogus:3", &t), LOCUS_ETOPO);
    cr_assert(strstr(locus_last_error(), "bogus:3"), "%s", locus_last_error());
}

Test(topo, missing_or_bad_xml)
{
    topo *t = (topo *)1;
    cr_assert_eq(topo_load("/nonexistent/dir/topo.xml", &t), LOCUS_ETOPO);
    cr_assert_null(t);
    cr_assert(strstr(locus_last_error(), "/nonexistent/dir/topo.xml"), "%s",
              locus_last_error());
    cr_assert(strstr(locus_last_error(), "No such file"), "%s",
              locus_last_error());

    char *dir = lt_tmpdir(), *path = NULL;
    cr_assert(dir);
    cr_assert(asprintf(&path, "%s/junk.xml", dir) > 0);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("<topology><object type=\"Nonsense\"", f);
    fclose(f);
    cr_assert_eq(topo_load(path, &t), LOCUS_ETOPO);
    cr_assert(strstr(locus_last_error(), path), "%s", locus_last_error());
    free(path);
    lt_rmdir(dir);
    free(dir);
}
