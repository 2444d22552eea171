/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The placement decisions as pure functions: which worker gets a task, and
 * which idle worker may steal one.  They see only what is passed in (no
 * scheduler state, no allocation), so the scheduler (sched_place.c) and
 * the unit tier (tests/test_unit_place.c) run the same code.
 */
#ifndef LOCUS_SCHED_PICK_H
#define LOCUS_SCHED_PICK_H

#include <stddef.h>
#include <stdint.h>

/* A worker that may get the task. */
typedef struct sched_cand {
    int id;           /* the worker's id; inputs name their holder by it */
    const char *host; /* its host name */
    int load;         /* tasks sent to it or queued for it */
    int nthreads;     /* task threads (<= 0 counts as 1) */
    int idle;         /* threads with nothing to do (stealing only) */
    int allowed;      /* 0: the task is restricted to other workers */
} sched_cand;

/* An input object of the task. */
typedef struct sched_input {
    uint64_t nbytes;
    int holder;       /* id of the worker holding it, or -1 (a client's, or
                         its holder is gone) */
    const char *host; /* host of whoever holds it, or NULL if unknown */
} sched_input;

/*
 * The candidate that gets a task with these inputs, as an index into c,
 * or -1 if no candidate is allowed.  Among the allowed candidates: the one
 * holding most input bytes; ties to the one whose host holds most of the
 * rest (mapped there, not sent); then the least loaded per thread; then
 * the first.  Every input counts one byte more than its size, so that
 * empty objects still draw their task.
 */
int sched_pick_worker(const sched_cand *c, size_t nc, const sched_input *in,
                      size_t nin);

/* Stealing: never more than this many input bytes move. */
#define SCHED_STEAL_MAX_BYTES (16u << 20)
#define SCHED_STEAL_NET_BPS 1e9   /* between hosts: 1 GB/s */
#define SCHED_STEAL_HOST_BPS 10e9 /* another NUMA node of the host */

/* Nanoseconds to bring the inputs to worker w (not holding them), or -1
   if more than SCHED_STEAL_MAX_BYTES would move. */
double sched_move_ns(const sched_cand *w, const sched_input *in, size_t nin);

/*
 * The thief for a task stuck for stuck_ns behind a long one on worker
 * victim_id, as an index into c, or -1: an allowed, idle candidate other
 * than the victim whose move cost is under a quarter of stuck_ns (and
 * within SCHED_STEAL_MAX_BYTES), the cheapest; ties to the first.
 */
int sched_pick_thief(const sched_cand *c, size_t nc, int victim_id,
                     const sched_input *in, size_t nin, double stuck_ns);

#endif
