/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data lifetime: release, disconnect and a dead client free the data on
 * the workers; references keep it.
 * End to end, over real processes (support/client_suite.h).
 */
#include "client_suite.h"

TestSuite(lifetime, .fini = teardown, .timeout = 150);

/* ---- data lifetime
 * ------------------------------------------------------------ */

Test(lifetime, release_frees_worker_memory)
{
    up(2, 1);
    cr_assert_eq(wait_bytes_held(cl, 0, 3000), 0);
    locus_future *fs[4];
    for (int i = 0; i < 4; i++)
        fs[i] = make_bytes(MIB, i, -1);
    OK(locus_wait(fs, 4, T_MS));
    uint64_t held = wait_bytes_held(cl, 4 * MIB, 5000);
    cr_assert_eq(held, 4 * MIB, "workers hold %llu bytes, expected %d",
                 (unsigned long long)held, 4 * MIB);
    /* a second reference keeps the data */
    locus_future *extra = locus_future_ref(fs[0]);
    cr_assert_eq(extra, fs[0]);
    for (int i = 0; i < 4; i++)
        locus_release(fs[i]);
    held = wait_bytes_held(cl, MIB, 5000);
    cr_assert_eq(held, MIB, "after releasing 3 of 4: %llu bytes",
                 (unsigned long long)held);
    const void *data;
    size_t len;
    OK(locus_result(extra, T_MS, &data, &len));
    check_pattern(data, len, MIB, 0);
    locus_release(extra);
    held = wait_bytes_held(cl, 0, 5000);
    cr_assert_eq(held, 0, "after releasing all: %llu bytes",
                 (unsigned long long)held);
    PASS();
}

Test(lifetime, disconnect_without_release_frees_data)
{
    up(2, 1);
    /* our own result, which must survive the other client */
    locus_future *mine = make_bytes(MIB, 99, -1);
    OK(locus_wait(&mine, 1, T_MS));

    locus_client *c2 = connect_to(C.file, 0);
    locus_future *fs[4];
    for (int i = 0; i < 4; i++) {
        locus_arg a[2] = {locus_arg_i64(2 * MIB), locus_arg_i64(i)};
        fs[i] = submit_o(c2, "make_bytes", a, 2, NULL);
    }
    OK(locus_wait(fs, 4, T_MS));
    uint64_t held = wait_bytes_held(cl, 9 * MIB, 5000);
    cr_assert_eq(held, 9 * MIB, "workers hold %llu bytes, expected %d",
                 (unsigned long long)held, 9 * MIB);
    /* disconnect without releasing: the client releases them itself */
    OK(locus_disconnect(c2));
    held = wait_bytes_held(cl, MIB, 10000);
    cr_assert_eq(held, MIB,
                 "after the client left the workers still hold "
                 "%llu bytes (expected only the other client's %d)",
                 (unsigned long long)held, MIB);
    const void *data;
    size_t len;
    OK(locus_result(mine, T_MS, &data, &len));
    check_pattern(data, len, MIB, 99);
    locus_release(mine);
    cr_assert_eq(wait_bytes_held(cl, 0, 5000), 0);
    PASS();
}

/* A client process that dies (no goodbye at all): the scheduler notices
 * and frees its data. */
Test(lifetime, dead_client_frees_data)
{
    /* by hand, to declare a silent peer dead after 3 s instead of 10 */
    cr_assert_eq(lt_cluster_init(&C), 0);
    const char *sargs[] = {"--dead-after-ms", "3000", NULL};
    cr_assert_eq(lt_cluster_spawn_sched(&C, sargs, T_MS), 0);
    const char *wargs[] = {"--nthreads", "1", NULL};
    cr_assert_gt(lt_cluster_spawn_worker(&C, wargs), 0);
    cr_assert_gt(lt_cluster_spawn_worker(&C, wargs), 0);
    /* the dying client is a program of its own, not a fork of this
       (multi-threaded) test process, which may not make threads in a
       child (POSIX; ThreadSanitizer refuses) */
    char log[1200];
    snprintf(log, sizeof(log), "%s/client.log", C.dir);
    char *argv[] = {(char *)lt_helper("helper_client_job"),
                    C.file,
                    (char *)TASKLIB,
                    "2",
                    "die",
                    NULL};
    pid_t child = lt_spawn(argv, log);
    cr_assert_gt(child, 0);
    lt_cluster_watch(&C, child);
    int st = lt_wait(child, 2 * T_MS);
    char *out = lt_slurp(log);
    unsigned long long seen = 0;
    const char *h = out ? strstr(out, "held ") : NULL;
    int got = h && sscanf(h, "held %llu", &seen) == 1;
    cr_assert_eq(st, 0, "child client exited with %d: %s", st, out ? out : "");
    cr_assert(got, "child client reported nothing: %s", out ? out : "");
    free(out);
    cr_assert_eq(seen, 4ull * MIB, "child client saw %llu bytes held", seen);

    cl = connect_to(C.file, 0);
    double t0 = now_s();
    uint64_t held = wait_bytes_held(cl, 0, 20000);
    cr_assert_eq(held, 0,
                 "%llu bytes still held %.1f s after the client "
                 "died",
                 (unsigned long long)held, now_s() - t0);
    cr_log_info("dead client's data freed after %.1f s", now_s() - t0);
    PASS();
}

Test(lifetime, extra_references_keep_a_future)
{
    up(1, 1);
    locus_arg one = locus_arg_i64(1);
    locus_future *f = submit("f1", &one, 1);
    cr_assert_eq(result_i64(f), 2);
    /* two references: dropping one leaves a usable future */
    locus_future *keep = locus_future_ref(f);
    cr_assert_eq(keep, f);
    locus_release(f);
    cr_assert_eq(locus_future_status(keep), 0);
    locus_arg a = locus_arg_future(keep);
    locus_future *g = submit("f1", &a, 1);
    cr_assert_eq(result_i64(g), 3);
    cr_assert_eq(result_i64(keep), 2);
    locus_release(g);
    locus_release(keep);
    cr_assert_eq(wait_bytes_held(cl, 0, 5000), 0);
    PASS();
}
