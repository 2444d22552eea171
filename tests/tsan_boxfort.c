/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Linked into the Criterion suites of the ThreadSanitizer build only
 * (LOCUS_TSAN, tests/CMakeLists.txt): lets Criterion start under TSan.
 *
 * Criterion's BoxFort (linked into libcriterion.so) puts its inheritable
 * arena at a random 16 MiB slot of [0x200000000000, 0x600000000000):
 * base = 0x200000000000 + (rand_r(&seed) & 0x3fffff) << 24, tried 10
 * times, each slot refused if mincore() finds it mapped.  Under TSan all
 * of that range but [0x550000000000, 0x568000000000) is TSan's shadow,
 * metadata or protected gaps, so 10 tries find a free slot about one run
 * in five and Criterion aborts with "Could not initialize inheritable
 * arena: Resource temporarily unavailable" (Criterion issue #274, open).
 *
 * This rand_r answers BoxFort's calls (and only those: the caller is in
 * libcriterion.so) with a slot in [0x566000000000, 0x568000000000): above
 * every position-independent executable (at most 0x5655... with 28 bits
 * of mmap randomness), below the end of TSan's application range.  Every
 * other caller gets the C library's rand_r unchanged.  Nothing of locus
 * is changed or hidden: the arena is Criterion's own bookkeeping.
 */
#include <dlfcn.h>
#include <string.h>

typedef int rand_r_fn(unsigned int *);

__attribute__((visibility("default"))) int rand_r(unsigned int *seed)
{
    static rand_r_fn *real;
    if (!real)
        real = (rand_r_fn *)dlsym(RTLD_NEXT, "rand_r");
    int v = real(seed);
    Dl_info info;
    if (dladdr(__builtin_return_address(0), &info) && info.dli_fname &&
        strstr(info.dli_fname, "libcriterion")) {
        /* slot index: (0x566000000000 - 0x200000000000) >> 24 = 0x366000,
           0x2000 slots of 16 MiB up to 0x568000000000 */
        v = 0x366000 + (v & 0x1fff);
    }
    return v;
}
