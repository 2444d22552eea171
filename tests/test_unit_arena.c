/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tier: the arena (runtime/arena/arena.c) in this process, no
 * cluster: objects in shared-memory segments, exact accounting, the
 * memory limit, locating an object for a same-host peer and mapping it,
 * giving memory back when idle.  Registration for RMA needs an endpoint
 * and is tested with the transport.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena/arena.h"
#include "locus.h"

TestSuite(unit_arena, .timeout = 10);

static char prefix[64];

static arena *make(size_t limit)
{
    snprintf(prefix, sizeof(prefix), "/locus-unit-%d", (int)getpid());
    struct arena_opts o = {prefix, limit};
    arena *a = NULL;
    int rc = arena_create(&o, &a);
    cr_assert_eq(rc, 0, "%s", locus_last_error());
    return a;
}

static int shm_exists(const char *name)
{
    char path[160];
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

Test(unit_arena, objects_are_aligned_counted_and_freed)
{
    arena *a = make(0);
    size_t sizes[] = {1, 63, 64, 1000, 4096, 100000, ARENA_LARGE + 1};
    void *p[7];
    uint64_t want = 0;
    for (int i = 0; i < 7; i++) {
        p[i] = arena_alloc(a, sizes[i]);
        cr_assert_not_null(p[i], "%s", locus_last_error());
        cr_expect_eq((uintptr_t)p[i] % 64, 0, "64-byte aligned");
        memset(p[i], i, sizes[i]);
        cr_expect_eq(arena_size(a, p[i]), sizes[i]);
        want += sizes[i];
    }
    cr_expect_eq(arena_used(a), want);
    cr_expect_geq(arena_reserved(a), want);
    int x;
    cr_expect_eq(arena_size(a, &x), 0, "not an arena object");
    for (int i = 0; i < 7; i++) {
        unsigned char *b = p[i];
        cr_expect(b[0] == i && b[sizes[i] - 1] == i, "object %d intact", i);
        arena_free(a, p[i]);
    }
    cr_expect_eq(arena_used(a), 0);
    arena_destroy(a);
}

Test(unit_arena, a_located_object_maps_in_place)
{
    arena *a = make(0);
    char *p = arena_alloc(a, 5000);
    cr_assert_not_null(p);
    strcpy(p, "mapped, not copied");
    arena_loc loc;
    cr_assert_eq(arena_locate(a, p, &loc), 0, "%s", locus_last_error());
    cr_expect(shm_exists(loc.name), "%s", loc.name);
    cr_expect_eq(loc.dedicated, 0);
    arena_map *m = NULL;
    const void *base = NULL;
    cr_assert_eq(
        arena_map_open(loc.name, loc.seg_len, loc.dedicated, &m, &base), 0,
        "%s", locus_last_error());
    cr_expect_str_eq((const char *)base + loc.offset, "mapped, not copied");
    arena_map_release(m);
    int x;
    cr_expect_eq(arena_locate(a, &x, &loc), LOCUS_EINVAL);
    arena_free(a, p);
    arena_destroy(a);
    arena_map_clear();
}

Test(unit_arena, the_limit_is_refused_not_a_sigbus_later)
{
    arena *a = make(ARENA_SEG);
    void *big = arena_alloc(a, ARENA_SEG + 1);
    cr_expect_null(big, "over the limit");
    cr_expect(strstr(locus_last_error(), "limit"), "%s", locus_last_error());
    void *small = arena_alloc(a, 100);
    cr_expect_not_null(small, "within it: %s", locus_last_error());
    arena_free(a, small);
    arena_destroy(a);
}

Test(unit_arena, idle_memory_goes_back_and_destroy_removes_segments)
{
    arena *a = make(0);
    void *big = arena_alloc(a, 4 * ARENA_LARGE);
    cr_assert_not_null(big);
    arena_loc loc;
    cr_assert_eq(arena_locate(a, big, &loc), 0);
    cr_expect_eq(loc.dedicated, 1, "a large object has its own segment");
    char name[ARENA_NAME_MAX];
    snprintf(name, sizeof(name), "%s", loc.name);
    arena_free(a, big);
    cr_expect(!shm_exists(name), "freed with its object");
    void *s = arena_alloc(a, 128);
    cr_assert_not_null(s);
    cr_assert_eq(arena_locate(a, s, &loc), 0);
    snprintf(name, sizeof(name), "%s", loc.name);
    arena_free(a, s);
    (void)arena_trim(a);
    cr_expect_eq(arena_used(a), 0);
    arena_destroy(a);
    cr_expect(!shm_exists(name), "destroy removes %s", name);
}

Test(unit_arena, bad_prefixes_are_einval)
{
    arena *a = NULL;
    struct arena_opts o = {"no-slash", 0};
    cr_expect_eq(arena_create(&o, &a), LOCUS_EINVAL);
    o.prefix = "/a/b";
    cr_expect_eq(arena_create(&o, &a), LOCUS_EINVAL);
    cr_expect_null(a);
}
