/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hardware topology (hwloc): the NUMA nodes a worker can be pinned to, CPU
 * and memory binding, and memory allocated on a given node.
 * Private header: never installed.
 *
 * Nodes.  A "node" argument is the logical index 0..topo_numa_count()-1 of
 * a NUMA node that has at least one PU in the topology (after the topology
 * was restricted to the process CPU binding).  Memory-only NUMA nodes (HBM,
 * CXL, GPU memory) are left out: no worker can run on them.  On a machine
 * without NUMA information the whole machine counts as one node.
 *
 * This system or not.  A topology loaded from this machine binds for real.
 * A synthetic or XML topology (also through $HWLOC_SYNTHETIC or
 * $HWLOC_XMLFILE) describes another machine: binding calls are skipped
 * with an info log and succeed, topo_alloc() returns plain memory and
 * topo_current_node() returns -1.  $HWLOC_THISSYSTEM=1 makes hwloc treat
 * such a topology as this machine's.
 *
 * Threads.  After topo_load() returns, every call may be made from any
 * thread at the same time; topo_destroy() only once no other call runs.
 *
 * Errors.  Calls returning int return 0 (or the value asked for) or a
 * negative LOCUS_E* code with a message for locus_last_error():
 * LOCUS_EINVAL for a bad argument (a NULL pointer, a node out of range:
 * the message names the node and the count), LOCUS_ETOPO when hwloc or the
 * operating system failed, LOCUS_ENOMEM, LOCUS_ERANGE for a buffer too
 * small (what fits is written, NUL-terminated).
 */
#ifndef TOPO_H
#define TOPO_H

#include <stddef.h>
#include <stdint.h>

typedef struct topo topo;

/*
 * Load the topology into *out (destroy with topo_destroy()).
 * source:
 *   NULL            this machine, honouring $HWLOC_XMLFILE and
 *                   $HWLOC_SYNTHETIC as hwloc does;
 *   "...xml"        a path ending in ".xml": an XML file written by lstopo
 *                   or hwloc_topology_export_xml();
 *   anything else   a synthetic description, e.g. "pack:1 numa:2 core:2 pu:1".
 * A topology of this machine is restricted to this process's own CPU
 * binding (what Slurm, mpirun or taskset gave it), so a worker started on
 * part of a node sees only that part.
 * Errors: LOCUS_EINVAL (empty source), LOCUS_ETOPO (malformed description,
 * unreadable XML, hwloc failure; the message says which), LOCUS_ENOMEM.
 */
int topo_load(const char *source, topo **out);

/* Release everything; NULL is accepted. */
void topo_destroy(topo *t);

/* 1 if binding acts on this machine, 0 if not (or t is NULL). */
int topo_is_thissystem(const topo *t);

/* What was loaded: "this system", "synthetic 'pack:1 numa:2 ...'",
 * "XML file '/path'".  Owned by t. */
const char *topo_source(const topo *t);

/* Number of NUMA nodes that have PUs, >= 1. */
int topo_numa_count(const topo *t);

/* Operating system index of node (the number numactl and Slurm use). */
int topo_numa_os_index(const topo *t, int node);

/* CPU set of node as a list of OS PU numbers, "0-3,8-11", into buf. */
int topo_numa_cpuset(const topo *t, int node, char *buf, size_t len);

/* Cores (not PUs) in node, >= 1 (PUs when the topology has no cores). */
int topo_numa_ncores(const topo *t, int node);

/* PUs (hardware threads) in node, >= 1. */
int topo_numa_npus(const topo *t, int node);

/* Memory local to node, in bytes; 0 with an error set if node is bad. */
uint64_t topo_numa_memory(const topo *t, int node);

/* Totals over the topology (all NUMA nodes, after the restriction). */
int topo_npackages(const topo *t);
int topo_ncores(const topo *t);
int topo_npus(const topo *t);

/*
 * Bind the calling process to node: every thread's CPU binding (set to the
 * node's cpuset) and the memory policy (HWLOC_MEMBIND_BIND to the node).
 * On Linux the memory policy belongs to a thread and is inherited by the
 * threads it creates later: call this from the main thread before starting
 * other threads and before allocating or touching memory that should live
 * on the node.  Where memory binding is refused (no support, seccomp) on a
 * machine with a single NUMA node, this logs at info level and succeeds:
 * all memory is local there anyway.  Not this system: skipped (info log),
 * returns 0.
 */
int topo_bind_process(topo *t, int node);

/*
 * Bind the calling thread (CPU and memory policy) to the idx-th core of
 * node, idx modulo the number of cores; idx >= 0.  The thread may run on
 * every PU of that core.
 */
int topo_bind_thread(topo *t, int node, int idx);

/*
 * len bytes (len > 0) of page-aligned memory bound to node (policy BIND,
 * so pages land on the node whichever CPU touches them first).  Free with
 * topo_free(t, p, len) with the same t.  Returns NULL with an error set
 * (LOCUS_EINVAL, LOCUS_ENOMEM, LOCUS_ETOPO when the memory could not be
 * bound on a machine with several NUMA nodes).  Not this system: plain
 * memory.
 */
void *topo_alloc(topo *t, int node, size_t len);
void topo_free(topo *t, void *p, size_t len);

/* NUMA node (logical index) where the calling thread ran last, or -1
 * (not this system, or the operating system did not say). */
int topo_current_node(topo *t);

/*
 * Human-readable summary, several lines, each ending in '\n': where the
 * topology comes from, the machine (packages, NUMA nodes, cores, PUs,
 * memory), each package and each NUMA node with its cpuset, cores, PUs
 * and memory.  LOCUS_ERANGE when buf is too small.
 */
int topo_describe(const topo *t, char *buf, size_t len);

#endif
