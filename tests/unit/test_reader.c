/* The frame reader: whole frames out of any split of the stream, limits
 * judged on the header, errors that stick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "err.h"
#include "reader.h"

/* A small deterministic generator so failures replay exactly. */
static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* A stream of frames with lengths lens[0..n), frame i filled with bytes
 * derived from i so that a misplaced byte shows. */
struct stream {
    uint8_t *bytes;
    size_t len;
    const size_t *lens;
    size_t n;
};

static uint8_t frame_byte(size_t frame, size_t off)
{
    return (uint8_t)(frame * 31 + off * 7 + (off >> 8));
}

static void stream_build(struct stream *s, const size_t *lens, size_t n)
{
    size_t total = 0;
    uint8_t *p;

    for (size_t i = 0; i < n; i++) {
        total += 2 + lens[i];
    }
    s->bytes = malloc(total + 1);
    assert_non_null(s->bytes);
    s->len = total;
    s->lens = lens;
    s->n = n;
    p = s->bytes;
    for (size_t i = 0; i < n; i++) {
        sitx_store_be16(p, (uint16_t)lens[i]);
        p += 2;
        for (size_t k = 0; k < lens[i]; k++) {
            *p++ = frame_byte(i, k);
        }
    }
}

/* Takes every frame now available and checks it is the next expected one. */
static void drain(struct sitx_reader *r, const struct stream *s, size_t *next_frame)
{
    uint8_t *f = NULL;
    size_t flen = 0;
    int rc;

    while ((rc = sitx_reader_next(r, &f, &flen)) == 1) {
        size_t i = *next_frame;

        assert_true(i < s->n);
        assert_int_equal(flen, s->lens[i]);
        for (size_t k = 0; k < flen; k++) {
            if (f[k] != frame_byte(i, k)) {
                fail_msg("frame %zu byte %zu is %u, expected %u", i, k, f[k], frame_byte(i, k));
            }
        }
        /* The caller may decrypt in place: scribbling must not disturb the
         * frames after it. */
        memset(f, 0xEE, flen);
        (*next_frame)++;
    }
    assert_int_equal(rc, 0);
}

static const size_t mixed_lens[] = {1, 0, 17, 65535, 2, 0, 0, 300, 4096, 65534, 5, 1000, 65535};
#define N_MIXED (sizeof(mixed_lens) / sizeof(mixed_lens[0]))

static void test_one_byte_at_a_time(void **state)
{
    struct sitx_reader *r = sitx_reader_new(65535);
    struct stream s;
    size_t got = 0;

    (void)state;
    assert_non_null(r);
    stream_build(&s, mixed_lens, N_MIXED);
    for (size_t i = 0; i < s.len; i++) {
        assert_int_equal(sitx_reader_feed(r, s.bytes + i, 1), 0);
        drain(r, &s, &got);
    }
    assert_int_equal(got, N_MIXED);
    assert_int_equal(sitx_reader_pending(r), 0);
    assert_int_equal(sitx_reader_err(r), 0);
    assert_string_equal(sitx_reader_errstr(r), "");
    free(s.bytes);
    sitx_reader_free(r);
}

static void test_random_splits(void **state)
{
    struct stream s;

    (void)state;
    stream_build(&s, mixed_lens, N_MIXED);
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct sitx_reader *r = sitx_reader_new(65535);
        size_t got = 0;
        size_t off = 0;

        assert_non_null(r);
        rng_state = seed * 0x9E3779B97F4A7C15u;
        while (off < s.len) {
            /* Mostly small pieces, sometimes a socket-sized read. */
            size_t max = (rng() % 4 == 0) ? 200000 : 70;
            size_t n = 1 + rng() % max;

            if (n > s.len - off) {
                n = s.len - off;
            }
            assert_int_equal(sitx_reader_feed(r, s.bytes + off, n), 0);
            off += n;
            /* Sometimes feed twice before taking frames out. */
            if (rng() % 3 != 0) {
                drain(r, &s, &got);
            }
        }
        drain(r, &s, &got);
        assert_int_equal(got, N_MIXED);
        assert_int_equal(sitx_reader_pending(r), 0);
        sitx_reader_free(r);
    }
    free(s.bytes);
}

/* A long stream of maximal frames in 64 KiB reads, as the receiver sees
 * DATA: every byte must come out in order across buffer moves and growth. */
static void test_long_stream(void **state)
{
    enum { N = 300 };
    size_t lens[N];
    struct stream s;
    struct sitx_reader *r = sitx_reader_new(65535);
    size_t got = 0;

    (void)state;
    assert_non_null(r);
    for (size_t i = 0; i < N; i++) {
        lens[i] = (i % 7 == 3) ? 1 + i * 13 % 4000 : 65535;
    }
    stream_build(&s, lens, N);
    for (size_t off = 0; off < s.len; off += 65536) {
        size_t n = s.len - off < 65536 ? s.len - off : 65536;

        assert_int_equal(sitx_reader_feed(r, s.bytes + off, n), 0);
        drain(r, &s, &got);
    }
    assert_int_equal(got, N);
    /* Everything at once, then a small read: the big buffer is let go. */
    got = 0;
    assert_int_equal(sitx_reader_feed(r, s.bytes, s.len), 0);
    assert_int_equal(sitx_reader_pending(r), s.len);
    drain(r, &s, &got);
    assert_int_equal(got, N);
    got = 0;
    assert_int_equal(sitx_reader_feed(r, s.bytes, 2 + lens[0]), 0);
    drain(r, &s, &got);
    assert_int_equal(got, 1);
    free(s.bytes);
    sitx_reader_free(r);
}

static void test_zero_length_frame(void **state)
{
    struct sitx_reader *r = sitx_reader_new(96);
    uint8_t in[] = {0x00, 0x00, 0x00, 0x01, 0xAB};
    uint8_t *f = NULL;
    size_t flen = 99;

    (void)state;
    assert_non_null(r);
    sitx_reader_set_limit(r, 96, 1);
    assert_int_equal(sitx_reader_feed(r, in, 2), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 0);
    assert_non_null(f);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 0);
    /* Without exact, a 1-byte frame follows the empty one. */
    sitx_reader_set_limit(r, 65535, 0);
    assert_int_equal(sitx_reader_feed(r, in + 2, 3), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 1);
    assert_int_equal(f[0], 0xAB);
    sitx_reader_free(r);
}

static void test_max_frame(void **state)
{
    size_t lens[] = {65535};
    struct stream s;
    struct sitx_reader *r = sitx_reader_new(65535);
    uint8_t *f = NULL;
    size_t flen = 0;

    (void)state;
    assert_non_null(r);
    stream_build(&s, lens, 1);
    assert_int_equal(sitx_reader_feed(r, s.bytes, s.len - 1), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 0);
    assert_int_equal(sitx_reader_pending(r), s.len - 1);
    assert_int_equal(sitx_reader_feed(r, s.bytes + s.len - 1, 1), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 65535);
    assert_memory_equal(f, s.bytes + 2, 65535);
    assert_int_equal(sitx_reader_pending(r), 0);
    free(s.bytes);
    sitx_reader_free(r);
}

static void test_limit_clamped(void **state)
{
    /* A limit above what a u16 can say is the u16 limit. */
    struct sitx_reader *r = sitx_reader_new(1u << 20);
    uint8_t hdr[] = {0xFF, 0xFF};
    uint8_t *f = NULL;
    size_t flen = 0;

    (void)state;
    assert_non_null(r);
    assert_int_equal(sitx_reader_feed(r, hdr, 2), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 0);
    sitx_reader_free(r);
}

static void test_too_large_on_header(void **state)
{
    struct sitx_reader *r = sitx_reader_new(1000);
    uint8_t hdr[] = {0x03, 0xE9}; /* 1001 */
    uint8_t more[] = {1, 2, 3};
    uint8_t *f = NULL;
    size_t flen = 0;

    (void)state;
    assert_non_null(r);
    /* One header byte says nothing yet. */
    assert_int_equal(sitx_reader_feed(r, hdr, 1), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 0);
    /* The second settles it, with no body bytes at all. */
    assert_int_equal(sitx_reader_feed(r, hdr + 1, 1), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), SITX_E_TOO_LARGE);
    assert_int_equal(sitx_reader_err(r), SITX_E_TOO_LARGE);
    assert_string_equal(sitx_reader_errstr(r), "frame of 1001 bytes over the limit of 1000");
    /* Sticky: nothing more goes in or comes out, and the reason stays. */
    assert_int_equal(sitx_reader_feed(r, more, sizeof(more)), SITX_E_TOO_LARGE);
    assert_int_equal(sitx_reader_next(r, &f, &flen), SITX_E_TOO_LARGE);
    sitx_reader_set_limit(r, 65535, 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), SITX_E_TOO_LARGE);
    assert_string_equal(sitx_reader_errstr(r), "frame of 1001 bytes over the limit of 1000");
    sitx_reader_free(r);
}

static void test_frames_before_error_come_out(void **state)
{
    /* A good frame then a bad header in one read: the good frame is
     * delivered, the error comes on the call after. */
    struct sitx_reader *r = sitx_reader_new(4);
    uint8_t in[] = {0x00, 0x02, 'h', 'i', 0x00, 0x05, 1, 2, 3, 4, 5};
    uint8_t *f = NULL;
    size_t flen = 0;

    (void)state;
    assert_non_null(r);
    assert_int_equal(sitx_reader_feed(r, in, sizeof(in)), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 2);
    assert_memory_equal(f, "hi", 2);
    assert_int_equal(sitx_reader_next(r, &f, &flen), SITX_E_TOO_LARGE);
    assert_string_equal(sitx_reader_errstr(r), "frame of 5 bytes over the limit of 4");
    sitx_reader_free(r);
}

static void test_exact_limit(void **state)
{
    uint8_t buf[2 + 64];
    uint8_t *f = NULL;
    size_t flen = 0;
    struct sitx_reader *r = NULL;

    (void)state;
    memset(buf, 0x5A, sizeof(buf));

    /* Exactly 48: accepted. */
    r = sitx_reader_new(65535);
    assert_non_null(r);
    sitx_reader_set_limit(r, 48, 1);
    sitx_store_be16(buf, 48);
    assert_int_equal(sitx_reader_feed(r, buf, 2 + 48), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 48);
    sitx_reader_free(r);

    /* 47: refused on the header as malformed. */
    r = sitx_reader_new(65535);
    assert_non_null(r);
    sitx_reader_set_limit(r, 48, 1);
    sitx_store_be16(buf, 47);
    assert_int_equal(sitx_reader_feed(r, buf, 2), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), SITX_E_MALFORMED);
    assert_string_equal(sitx_reader_errstr(r), "frame of 47 bytes where exactly 48 are expected");
    assert_int_equal(sitx_reader_feed(r, buf + 2, 47), SITX_E_MALFORMED);
    sitx_reader_free(r);

    /* 1: the version frame, only where it is asked for (the sender's message 2). */
    r = sitx_reader_new(65535);
    assert_non_null(r);
    sitx_reader_set_limit(r, 48, SITX_READER_EXACT | SITX_READER_VERSION_FRAME);
    sitx_store_be16(buf, 1);
    buf[2] = 2;
    assert_int_equal(sitx_reader_feed(r, buf, 3), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 1);
    assert_int_equal(f[0], 2);
    sitx_store_be16(buf, 2);
    assert_int_equal(sitx_reader_feed(r, buf, 2), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), SITX_E_MALFORMED);
    sitx_reader_free(r);
    r = sitx_reader_new(65535);
    assert_non_null(r);
    sitx_reader_set_limit(r, 48, SITX_READER_EXACT);
    sitx_store_be16(buf, 1);
    assert_int_equal(sitx_reader_feed(r, buf, 3), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), SITX_E_MALFORMED);
    sitx_reader_free(r);
    memset(buf, 0x5A, sizeof(buf));

    /* 49: over the limit. */
    r = sitx_reader_new(65535);
    assert_non_null(r);
    sitx_reader_set_limit(r, 48, 1);
    sitx_store_be16(buf, 49);
    assert_int_equal(sitx_reader_feed(r, buf, 2), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), SITX_E_TOO_LARGE);
    assert_string_equal(sitx_reader_errstr(r), "frame of 49 bytes over the limit of 48");
    sitx_reader_free(r);

    /* 1 byte where 1 is exact: accepted; the boundary is not off by one. */
    r = sitx_reader_new(65535);
    assert_non_null(r);
    sitx_reader_set_limit(r, 1, 1);
    sitx_store_be16(buf, 1);
    assert_int_equal(sitx_reader_feed(r, buf, 3), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 1);
    sitx_reader_free(r);
}

/* The limit is read when a frame's header is examined, so a handshake
 * message and the first transport frame arriving in one read are judged
 * by their own limits. */
static void test_limit_per_frame(void **state)
{
    uint8_t in[2 + 64 + 2 + 100];
    struct sitx_reader *r = sitx_reader_new(32);
    uint8_t *f = NULL;
    size_t flen = 0;

    (void)state;
    assert_non_null(r);
    memset(in, 0x11, sizeof(in));
    sitx_store_be16(in, 64);
    sitx_store_be16(in + 66, 100);
    sitx_reader_set_limit(r, 64, 1);
    assert_int_equal(sitx_reader_feed(r, in, sizeof(in)), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 64);
    sitx_reader_set_limit(r, 65535, 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 100);
    assert_int_equal(sitx_reader_pending(r), 0);
    sitx_reader_free(r);
}

static void test_pending_and_partial(void **state)
{
    struct sitx_reader *r = sitx_reader_new(65535);
    uint8_t in[] = {0x00, 0x03, 'a', 'b', 'c', 0x00};
    uint8_t *f = NULL;
    size_t flen = 0;

    (void)state;
    assert_non_null(r);
    assert_int_equal(sitx_reader_pending(r), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 0);
    assert_int_equal(sitx_reader_feed(r, in, 0), 0);
    assert_int_equal(sitx_reader_feed(r, in, 4), 0);
    assert_int_equal(sitx_reader_pending(r), 4);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 0);
    assert_int_equal(sitx_reader_feed(r, in + 4, 2), 0);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 1);
    assert_int_equal(flen, 3);
    assert_memory_equal(f, "abc", 3);
    assert_int_equal(sitx_reader_pending(r), 1);
    assert_int_equal(sitx_reader_next(r, &f, &flen), 0);
    assert_int_equal(sitx_reader_err(r), 0);
    sitx_reader_free(r);
    sitx_reader_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_random_splits),
        cmocka_unit_test(test_long_stream),
        cmocka_unit_test(test_zero_length_frame),
        cmocka_unit_test(test_max_frame),
        cmocka_unit_test(test_limit_clamped),
        cmocka_unit_test(test_too_large_on_header),
        cmocka_unit_test(test_frames_before_error_come_out),
        cmocka_unit_test(test_exact_limit),
        cmocka_unit_test(test_limit_per_frame),
        cmocka_unit_test(test_pending_and_partial),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
