/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: the session MAC.  Every message after the handshake carries
 * a MAC (runtime/net/lnet.h).  The candidates, on the sizes messages have:
 * locus uses Poly1305 under a ChaCha20-derived per-message key (the IETF
 * AEAD with no plaintext).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "bench/bench.h"

static double mac_ns(int alg, const uint8_t *buf, size_t n, long iters)
{
    uint8_t key[32] = {1}, tag[32];
    unsigned char nonce[12] = {0}, none[1] = {0};
    unsigned long long tl;
    uint64_t t0 = lc_now_ns();
    for (long i = 0; i < iters; i++) {
        nonce[0] = (unsigned char)i;
        if (alg == 0)
            crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                none, tag, &tl, none, 0, buf, n, NULL, nonce, key);
        else if (alg == 1)
            crypto_generichash(tag, 16, buf, n, key, 32);
        else
            crypto_auth_hmacsha256(tag, buf, n, key);
    }
    return (double)(lc_now_ns() - t0) / (double)iters;
}

int bench_mac(FILE *out)
{
    if (sodium_init() < 0)
        return 1;
    static uint8_t buf[65536];
    randombytes_buf(buf, sizeof(buf));
    static const size_t sizes[] = {64, 1024, 16384, 65536};
    static const char *names[] = {"chacha20-poly1305 (used)", "blake2b-128",
                                  "hmac-sha256"};
    fprintf(out, "\n# MAC per message, ns (median of 7 rounds)\n");
    fprintf(out, "%-26s %10s %10s %10s %10s\n", "algorithm", "64 B", "1 KiB",
            "16 KiB", "64 KiB");
    static const char *keys[] = {"chacha20-poly1305", "blake2b-128",
                                 "hmac-sha256"};
    json_object *js = bench_section("mac");
    bench_jint(js, "rounds", 7);
    bench_jstr(js, "used", keys[0]);
    json_object *jsz = bench_jarr(js, "sizes_bytes");
    for (int k = 0; k < 4; k++)
        bench_jint(jsz, NULL, (int64_t)sizes[k]);
    json_object *jal = bench_jobj(js, "median_ns");
    for (int a = 0; a < 3; a++) {
        fprintf(out, "%-26s", names[a]);
        json_object *ja = bench_jarr(jal, keys[a]);
        for (int k = 0; k < 4; k++) {
            long iters = sizes[k] <= 1024 ? 20000 : 2000;
            uint64_t r[7];
            for (int i = 0; i < 7; i++)
                r[i] = (uint64_t)(mac_ns(a, buf, sizes[k], iters) * 10);
            qsort(r, 7, sizeof(r[0]), bench_cmp_u64);
            fprintf(out, " %10.1f", (double)r[3] / 10);
            bench_jpush_num(ja, 1, (double)r[3] / 10);
        }
        fprintf(out, "\n");
    }
    return 0;
}
