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
    /* the child connects; this process has no client before the fork */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        close(fds[0]);
        int64_t seen = -1;
        struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
        co.timeout_ms = T_MS;
        locus_client *c = NULL;
        int crc = locus_connect(C.file, &co, &c);
        if (crc == 0 && lt_wait_workers(c, 2, T_MS) != 0)
            crc = LOCUS_ETIMEDOUT;
        if (crc == 0)
            crc = locus_require(c, TASKLIB, T_MS);
        if (crc != 0)
            fprintf(stderr, "child client: %s: %s\n", locus_errname(crc),
                    locus_last_error());
        if (crc == 0) {
            locus_future *fs[2] = {NULL, NULL};
            int ok = 1;
            for (int i = 0; i < 2 && ok; i++) {
                locus_arg a[2] = {locus_arg_i64(2 * MIB), locus_arg_i64(i)};
                ok = locus_submit(c, "make_bytes", a, 2, NULL, &fs[i]) == 0;
            }
            int wrc = ok ? locus_wait(fs, 2, T_MS) : -1;
            if (wrc != 0)
                fprintf(stderr, "child client: submit/wait: %s: %s\n",
                        locus_errname(wrc), locus_last_error());
            if (wrc == 0) {
                for (int k = 0; k < 100; k++) {
                    locus_worker_info w[4];
                    size_t n = 0;
                    uint64_t sum = 0;
                    if (locus_workers(c, w, 4, &n) == 0)
                        for (size_t i = 0; i < n && i < 4; i++)
                            sum += w[i].bytes_held;
                    seen = (int64_t)sum;
                    if (sum >= 4 * MIB)
                        break;
                    nap_ms(50);
                }
            }
        }
        if (write(fds[1], &seen, sizeof(seen)) != sizeof(seen))
            _exit(2);
        _exit(0); /* no release, no disconnect */
    }
    close(fds[1]);
    int64_t seen = -1;
    ssize_t r = read(fds[0], &seen, sizeof(seen));
    close(fds[0]);
    int st = lt_wait(child, T_MS);
    cr_assert_eq(r, (ssize_t)sizeof(seen), "child client reported nothing");
    cr_assert_eq(st, 0, "child client exited with %d", st);
    cr_assert_eq(seen, 4 * MIB, "child client saw %lld bytes held",
                 (long long)seen);

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
