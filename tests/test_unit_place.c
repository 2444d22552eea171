/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tier: the placement decisions (runtime/sched/sched_pick.c), the
 * same functions the scheduler calls, on hand-made workers and inputs: the
 * most input bytes win; ties go to the host holding most of the rest, then
 * to the least loaded; restricted tasks only among their workers; the
 * stealing cost model.
 */
#include <criterion/criterion.h>

#include <stdint.h>

#include "sched/sched_pick.h"

TestSuite(unit_place, .timeout = 10);

#define W(i, h, l, t)                                                          \
    {                                                                          \
        .id = (i), .host = (h), .load = (l), .nthreads = (t), .allowed = 1     \
    }
#define IN(n, w, h)                                                            \
    {                                                                          \
        .nbytes = (n), .holder = (w), .host = (h)                              \
    }
#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(unit_place, most_input_bytes_win)
{
    sched_cand c[] = {W(1, "a", 0, 4), W(2, "a", 9, 4), W(3, "b", 0, 4)};
    sched_input in[] = {IN(100, 1, "a"), IN(300, 2, "a"), IN(150, 3, "b"),
                        IN(150, 3, "b")};
    /* 2 holds 300 (+1), 3 holds 300 (+2): one more object wins */
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 2,
                 "worker 3 holds 302 counted bytes, more than worker 2's 301");
    in[1].nbytes = 1000;
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 1,
                 "worker 2 holds the most bytes, however loaded");
}

Test(unit_place, empty_objects_still_draw_their_task)
{
    sched_cand c[] = {W(1, "a", 0, 1), W(2, "a", 5, 1)};
    sched_input in[] = {IN(0, 2, "a")};
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 1,
                 "the holder of an empty object beats an idle worker");
}

Test(unit_place, tie_goes_to_the_host_holding_the_rest)
{
    /* 1 and 3 hold 100 bytes each; the other 500 are on host b, where 3
       runs (worker 4 holds them), so 3 maps them instead of fetching */
    sched_cand c[] = {W(1, "a", 0, 4), W(3, "b", 3, 4)};
    sched_input in[] = {IN(100, 1, "a"), IN(100, 3, "b"), IN(500, 4, "b")};
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 1);
    in[2].host = "a";
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 0,
                 "the rest moved to host a");
}

Test(unit_place, client_arguments_count_for_their_host)
{
    sched_cand c[] = {W(1, "a", 0, 4), W(2, "b", 0, 4)};
    /* a client's argument: held by no worker, on the client's host */
    sched_input in[] = {IN(64, 1, "a"), IN(64, 2, "b"), IN(1 << 20, -1, "b")};
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 1);
    in[2].host = NULL; /* its client is gone: counts for no host */
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 0,
                 "a full tie goes to the first");
}

Test(unit_place, then_the_least_loaded_per_thread)
{
    sched_cand c[] = {W(1, "a", 8, 4), W(2, "a", 3, 1), W(3, "a", 5, 4)};
    sched_input in[] = {IN(10, 1, "a"), IN(10, 2, "a"), IN(10, 3, "a")};
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 2,
                 "5/4 per thread is less than 8/4 and 3/1");
    c[2].load = 8;
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 0,
                 "equal load: the first");
    c[0].nthreads = 0; /* counts as one thread: 8 per thread */
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 2);
}

Test(unit_place, no_inputs_are_load_balanced)
{
    sched_cand c[] = {W(1, "a", 2, 2), W(2, "b", 1, 2), W(3, "c", 1, 1)};
    cr_expect_eq(sched_pick_worker(c, N(c), NULL, 0), 1);
    cr_expect_eq(sched_pick_worker(c, 0, NULL, 0), -1, "no candidates");
}

Test(unit_place, restricted_tasks_only_among_allowed_workers)
{
    sched_cand c[] = {W(1, "a", 0, 4), W(2, "a", 7, 4), W(3, "b", 2, 4)};
    sched_input in[] = {IN(1 << 20, 1, "a"), IN(10, 3, "b")};
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 0);
    c[0].allowed = 0;
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 2,
                 "worker 1 holds most but is not allowed; worker 3 holds "
                 "some, which beats worker 2's host holding the MiB");
    c[2].allowed = 0;
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), 1,
                 "only worker 2 is left, however loaded");
    c[1].allowed = 0;
    cr_expect_eq(sched_pick_worker(c, N(c), in, N(in)), -1,
                 "no allowed worker: none");
}

Test(unit_place, moving_inputs_costs_by_path)
{
    sched_cand w = W(1, "a", 0, 1);
    sched_input in[] = {IN(1000000, 1, "a"), IN(1000000, 2, "a"),
                        IN(1000000, 3, "b")};
    /* its own: free; same host: 10 GB/s = 100 us; other host: 1 ms */
    cr_expect_float_eq(sched_move_ns(&w, in, N(in)), 1.1e6, 1);
    sched_input big[] = {IN(SCHED_STEAL_MAX_BYTES, 2, "a"), IN(1, 3, "b")};
    cr_expect_lt(sched_move_ns(&w, big, N(big)), 0, "over 16 MiB: never");
    big[1].holder = 1;
    cr_expect_geq(sched_move_ns(&w, big, N(big)), 0,
                  "exactly 16 MiB that move is allowed");
}

Test(unit_place, thief_is_idle_allowed_cheap_and_not_the_victim)
{
    sched_cand c[] = {W(1, "a", 9, 1), W(2, "b", 0, 1), W(3, "a", 0, 1),
                      W(4, "a", 0, 1)};
    for (size_t i = 0; i < N(c); i++)
        c[i].idle = 1;
    c[0].idle = 0;
    /* 1 MB held by the victim (1) on host a */
    sched_input in[] = {IN(1000000, 1, "a")};
    cr_expect_eq(sched_pick_thief(c, N(c), 1, in, N(in), 50e6), 2,
                 "worker 3 maps it on host a: cheapest, first of the ties");
    c[2].allowed = 0;
    cr_expect_eq(sched_pick_thief(c, N(c), 1, in, N(in), 50e6), 3,
                 "restricted: worker 4 instead");
    c[3].idle = 0;
    cr_expect_eq(sched_pick_thief(c, N(c), 1, in, N(in), 50e6), 1,
                 "only worker 2 on host b, 1 ms of moving, is left");
    cr_expect_eq(sched_pick_thief(c, N(c), 1, in, N(in), 4e6), -1,
                 "stuck 4 ms: moving 1 ms is not well under it");
    cr_expect_eq(sched_pick_thief(c, N(c), 1, in, N(in), 4.1e6), 1);
    c[0].idle = 1;
    cr_expect_eq(sched_pick_thief(c, N(c), 1, in, N(in), 50e6), 1,
                 "the victim never steals from itself");
    sched_input big[] = {IN(SCHED_STEAL_MAX_BYTES + 1u, 1, "a")};
    cr_expect_eq(sched_pick_thief(c, N(c), 1, big, N(big), 1e12), -1,
                 "over 16 MiB never moves, however long it is stuck");
}
