/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tier: the wire codec (runtime/proto/wire.c) and the shared record
 * codecs (runtime/proto/records.c), in process, no cluster.  Round trips,
 * the sticky-bad reader, batching, and random corruption of valid records
 * fed to every decoder (a bad message never crashes a process).
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "locus/errors.h"
#include "proto/records.h"
#include "proto/wire.h"

TestSuite(unit_wire, .timeout = 10);

Test(unit_wire, integers_strings_and_bytes_round_trip)
{
    wire_wr w;
    wire_wr_init(&w);
    wire_rec_begin(&w, REC_SUBMIT);
    wire_put_u8(&w, 0xab);
    wire_put_u16(&w, 0xbeef);
    wire_put_u32(&w, 0xdeadbeefu);
    wire_put_u64(&w, 0x0123456789abcdefull);
    wire_put_i32(&w, -42);
    wire_put_str(&w, "hello");
    wire_put_str(&w, NULL);
    wire_put_bytes(&w, "\0\1\2", 3);
    wire_put_raw(&w, "RAW", 3);
    wire_rec_end(&w);
    cr_assert_eq(w.err, 0);
    cr_assert_eq(w.nrec, 1);
    /* little-endian on the wire, whatever the host */
    cr_expect_eq(w.buf[0], REC_SUBMIT & 0xff);
    cr_expect_eq(wire_le_get(w.buf + 2, 4), w.len - WIRE_REC_HDR_LEN);

    wire_rd all, r;
    wire_rd_init(&all, w.buf, w.len);
    int type = 0;
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_expect_eq(type, REC_SUBMIT);
    cr_expect_eq(wire_get_u8(&r), 0xab);
    cr_expect_eq(wire_get_u16(&r), 0xbeef);
    cr_expect_eq(wire_get_u32(&r), 0xdeadbeefu);
    cr_expect_eq(wire_get_u64(&r), 0x0123456789abcdefull);
    cr_expect_eq(wire_get_i32(&r), -42);
    char s[16];
    wire_get_str(&r, s, sizeof(s));
    cr_expect_str_eq(s, "hello");
    wire_get_str(&r, s, sizeof(s));
    cr_expect_str_eq(s, "");
    size_t n = 0;
    const unsigned char *b = wire_get_bytes(&r, &n);
    cr_expect_eq(n, 3);
    cr_expect(b && b[0] == 0 && b[1] == 1 && b[2] == 2);
    const char *raw = wire_get_raw(&r, 3);
    cr_expect(raw && memcmp(raw, "RAW", 3) == 0);
    cr_expect(wire_rd_ok(&r));
    cr_expect_eq(wire_rd_left(&r), 0);
    cr_expect_eq(wire_next(&all, &type, &r), 0, "one record only");
    wire_wr_free(&w);
}

Test(unit_wire, a_reader_past_its_end_is_bad_for_good)
{
    uint8_t two[2] = {1, 2};
    wire_rd r;
    wire_rd_init(&r, two, sizeof(two));
    cr_expect_eq(wire_get_u32(&r), 0, "a short read returns zero");
    cr_expect(!wire_rd_ok(&r));
    cr_expect_eq(wire_get_u8(&r), 0, "and stays bad");
    cr_expect_eq(wire_rd_left(&r), 0);
    cr_expect(!wire_rd_ok(&r));
}

Test(unit_wire, strings_too_long_or_with_nul_are_refused)
{
    wire_wr w;
    wire_wr_init(&w);
    wire_put_str(&w, "0123456789");
    wire_put_bytes(&w, "a\0b", 3);
    wire_rd r;
    char s[8] = "x";
    wire_rd_init(&r, w.buf, w.len);
    wire_get_str(&r, s, sizeof(s)); /* 10 bytes do not fit 8 */
    cr_expect(!wire_rd_ok(&r));
    cr_expect_str_eq(s, "");
    wire_rd_init(&r, w.buf, w.len);
    char big[32];
    wire_get_str(&r, big, sizeof(big));
    cr_expect(wire_rd_ok(&r));
    wire_get_str(&r, big, sizeof(big)); /* a NUL inside */
    cr_expect(!wire_rd_ok(&r));
    wire_wr_free(&w);
}

Test(unit_wire, a_record_header_that_lies_is_eproto)
{
    uint8_t m[WIRE_REC_HDR_LEN + 2];
    wire_le_put(m, REC_BYE, 2);
    wire_le_put(m + 2, 100, 4); /* says 100 bytes, has 2 */
    wire_rd all, r;
    wire_rd_init(&all, m, sizeof(m));
    int type;
    cr_expect_lt(wire_next(&all, &type, &r), 0);
    wire_rd_init(&all, m, 3); /* not even a header */
    cr_expect_lt(wire_next(&all, &type, &r), 0);
}

Test(unit_wire, take_batches_whole_records_that_fit)
{
    wire_wr w;
    wire_wr_init(&w);
    for (int i = 0; i < 10; i++) {
        wire_rec_begin(&w, REC_RELEASE);
        wire_put_u64(&w, (uint64_t)i);
        wire_rec_end(&w);
    }
    size_t one = WIRE_REC_HDR_LEN + 8, off = 0;
    cr_expect_eq(wire_take(&w, &off, 3 * one + 5), 3 * one);
    cr_expect_eq(off, 3 * one);
    cr_expect_eq(wire_take(&w, &off, one - 1), 0, "nothing fits");
    cr_expect_eq(off, 3 * one);
    cr_expect_eq(wire_take(&w, &off, 1000), 7 * one);
    cr_expect_eq(off, w.len);
    wire_wr_reset(&w);
    cr_expect_eq(w.len, 0);
    cr_expect_eq(w.nrec, 0);
    wire_wr_free(&w);
}

static rec_hello hello_example(void)
{
    rec_hello h;
    memset(&h, 0, sizeof(h));
    h.role = ROLE_WORKER;
    for (int i = 0; i < AUTH_NONCE_LEN; i++)
        h.nonce[i] = (uint8_t)i;
    strcpy(h.host, "node-7");
    h.pid = 4242;
    strcpy(h.net, "tcp;ofi_rxm://0a0b");
    strcpy(h.shm, "shm://1234");
    h.numa = 1;
    strcpy(h.cpuset, "0-3");
    h.nthreads = 4;
    strcpy(h.job, "1700000000-00112233aabbccdd");
    return h;
}

Test(unit_wire, records_round_trip)
{
    wire_wr w;
    wire_wr_init(&w);
    rec_hello h = hello_example(), h2;
    rec_put_hello(&w, &h);
    rec_peer p = {7, ROLE_CLIENT, "host-b", 99, "net-b", "", 0x55aa}, p2;
    rec_put_peer(&w, &p);
    rec_put_get(&w, 11, 22, 1);
    wire_rd all, r;
    wire_rd_init(&all, w.buf, w.len);
    int type;
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_assert_eq(type, REC_HELLO);
    memset(&h2, 0, sizeof(h2));
    cr_assert_eq(rec_get_hello(&r, &h2), 0);
    cr_expect_eq(memcmp(&h, &h2, sizeof(h)), 0);
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_assert_eq(type, REC_PEER);
    memset(&p2, 0, sizeof(p2));
    cr_assert_eq(rec_get_peer(&r, &p2), 0);
    cr_expect_eq(p2.id, 7);
    cr_expect_str_eq(p2.host, "host-b");
    cr_expect_eq(p2.sid, 0x55aa);
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_assert_eq(type, REC_GET);
    uint64_t req, key;
    int may_map;
    cr_assert_eq(rec_get_get(&r, &req, &key, &may_map), 0);
    cr_expect(req == 11 && key == 22 && may_map == 1);
    wire_wr_free(&w);
}

/* STOP and STOPPING (locus_shutdown): round trip, strings cut to fit the
 * decoder's buffer, a status that is no error code refused. */
Test(unit_wire, stop_records)
{
    wire_wr w;
    wire_wr_init(&w);
    char long_reason[600];
    memset(long_reason, 'x', sizeof(long_reason) - 1);
    long_reason[sizeof(long_reason) - 1] = '\0';
    rec_put_stop(&w, 3, "done");
    rec_put_stop(&w, 4, long_reason);
    rec_put_stopping(&w, 3, 0, NULL);
    rec_put_stopping(&w, 5, LOCUS_ETIMEDOUT, "late");
    rec_put_stopping(&w, 6, 7, "no code");
    wire_rd all, r;
    wire_rd_init(&all, w.buf, w.len);
    int type, status;
    uint64_t req;
    char s[REC_REASON_MAX];
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_assert_eq(type, REC_STOP);
    cr_assert_eq(rec_get_stop(&r, &req, s), 0);
    cr_expect(req == 3 && !strcmp(s, "done"));
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_assert_eq(rec_get_stop(&r, &req, s), 0,
                 "a long reason is cut, "
                 "not malformed");
    cr_expect_eq(strlen(s), REC_REASON_MAX - 1);
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_assert_eq(type, REC_STOPPING);
    cr_assert_eq(rec_get_stopping(&r, &req, &status, s), 0);
    cr_expect(req == 3 && status == 0 && s[0] == '\0');
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_assert_eq(rec_get_stopping(&r, &req, &status, s), 0);
    cr_expect(req == 5 && status == LOCUS_ETIMEDOUT && !strcmp(s, "late"));
    cr_assert_eq(wire_next(&all, &type, &r), 1);
    cr_expect_eq(rec_get_stopping(&r, &req, &status, s), LOCUS_EPROTO,
                 "status 7 is not a LOCUS_E* code");
    cr_assert_eq(wire_next(&all, &type, &r), 0);
    wire_wr_free(&w);
}

/* Every prefix, and random byte flips, of valid records through every
 * decoder: errors, never a crash or a read out of bounds (ASan). */
Test(unit_wire, corrupted_records_never_crash_a_decoder)
{
    wire_wr w;
    wire_wr_init(&w);
    rec_hello h = hello_example();
    rec_put_hello(&w, &h);
    rec_put_data_error(&w, 5, -3, "it went wrong");
    rec_put_get(&w, 1, 2, 0);
    rec_put_stop(&w, 9, "why");
    rec_put_stopping(&w, 9, 0, "ok");
    srand(13);
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = iter < (int)w.len ? (size_t)iter : w.len;
        uint8_t *m = malloc(len ? len : 1);
        cr_assert_not_null(m);
        memcpy(m, w.buf, len);
        if (iter >= (int)w.len && len)
            for (int k = 0; k < 1 + rand() % 4; k++)
                m[rand() % len] ^= (uint8_t)(1 + rand() % 255);
        wire_rd all, r;
        wire_rd_init(&all, m, len);
        int type, rc;
        while ((rc = wire_next(&all, &type, &r)) == 1) {
            rec_hello hh;
            rec_peer pp;
            rec_data dd;
            uint64_t a, b;
            int c;
            wire_rd r2 = r, r3 = r, r4 = r, r5 = r, r6 = r;
            char why[REC_REASON_MAX];
            (void)rec_get_stop(&r5, &a, why);
            (void)rec_get_stopping(&r6, &a, &c, why);
            (void)rec_get_hello(&r, &hh);
            (void)rec_get_peer(&r2, &pp);
            (void)rec_get_data(&r3, &dd);
            (void)rec_get_get(&r4, &a, &b, &c);
        }
        free(m);
    }
    wire_wr_free(&w);
}

Test(unit_wire, every_record_type_has_a_name)
{
    int types[] = {REC_HELLO,  REC_REPLACES, REC_SUBMIT,  REC_WORKERS_REQ,
                   REC_RESULT, REC_WORKERS,  REC_COMPUTE, REC_STEAL,
                   REC_DONE,   REC_STOLEN,   REC_GET,     REC_DATA,
                   REC_STOP,   REC_STOPPING};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const char *n = wire_rec_name(types[i]);
        cr_expect(n && *n && strcmp(n, "?") != 0, "type %d", types[i]);
    }
}
