/* Transport frames: seal/open round trips, and that a flipped bit, a
 * replayed, reordered, dropped or truncated frame and an oversize record are
 * all refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "testutil.h"
#include "transport.h"

struct link {
    struct sitx_cipher *tx;
    struct sitx_cipher *rx;
};

static int setup(void **state)
{
    struct link *l = calloc(1, sizeof(*l));
    uint8_t key[SITX_KEY_LEN];

    if (l == NULL || sitx_cipher_new(&l->tx) != 0 || sitx_cipher_new(&l->rx) != 0) {
        return -1;
    }
    randombytes_buf(key, sizeof(key));
    sitx_cipher_init_key(l->tx, key);
    sitx_cipher_init_key(l->rx, key);
    sodium_memzero(key, sizeof(key));
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    struct link *l = *state;

    sitx_cipher_free(l->tx);
    sitx_cipher_free(l->rx);
    free(l);
    return 0;
}

/* Seals rec; checks the length prefix against what was written. */
static size_t seal(struct link *l, const uint8_t *rec, size_t len, uint8_t *frame, size_t cap)
{
    size_t flen = 0;

    assert_int_equal(sitx_transport_seal(l->tx, rec, len, frame, cap, &flen), 0);
    assert_int_equal(flen, len + SITX_FRAME_HDR + SITX_TAG_LEN);
    assert_int_equal((size_t)(frame[0] << 8 | frame[1]), flen - SITX_FRAME_HDR);
    return flen;
}

static void test_round_trip(void **state)
{
    struct link *l = *state;
    static const size_t sizes[] = {1, 2, 100, 4096, SITX_RECORD_MAX};
    uint8_t *rec = malloc(SITX_RECORD_MAX);
    uint8_t *frame = malloc(SITX_FRAME_HDR + SITX_FRAME_MAX);
    uint8_t *back = malloc(SITX_RECORD_MAX);
    size_t len = 0;

    assert_non_null(rec);
    assert_non_null(frame);
    assert_non_null(back);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t flen;

        randombytes_buf(rec, sizes[i]);
        flen = seal(l, rec, sizes[i], frame, SITX_FRAME_HDR + SITX_FRAME_MAX);
        if (sizes[i] >= 16) {
            /* Ciphertext, not the record in clear. */
            assert_memory_not_equal(frame + SITX_FRAME_HDR, rec, 16);
        }
        assert_int_equal(sitx_transport_open(l->rx, frame + SITX_FRAME_HDR, flen - SITX_FRAME_HDR,
                                             back, SITX_RECORD_MAX, &len),
                         0);
        assert_int_equal(len, sizes[i]);
        assert_memory_equal(back, rec, len);
    }
    /* The biggest record fills the u16 length exactly. */
    assert_int_equal(frame[0], 0xff);
    assert_int_equal(frame[1], 0xff);
    assert_int_equal(sitx_cipher_nonce(l->tx), 5);
    assert_int_equal(sitx_cipher_nonce(l->rx), 5);

    /* In place: rec == ct. */
    rec[0] = 3;
    memset(rec + 1, 'x', 99);
    len = seal(l, rec, 100, frame, SITX_FRAME_HDR + SITX_FRAME_MAX);
    assert_int_equal(sitx_transport_open(l->rx, frame + SITX_FRAME_HDR, len - SITX_FRAME_HDR,
                                         frame + SITX_FRAME_HDR, len - SITX_FRAME_HDR, &len),
                     0);
    assert_int_equal(len, 100);
    assert_memory_equal(frame + SITX_FRAME_HDR, rec, 100);
    free(rec);
    free(frame);
    free(back);
}

static void test_bit_flip(void **state)
{
    struct link *l = *state;
    static const uint8_t rec[] = {3, 'd', 'a', 't', 'a', ' ', 'b', 'y', 't', 'e', 's'};
    uint8_t frame[64];
    uint8_t back[64];
    size_t flen = seal(l, rec, sizeof(rec), frame, sizeof(frame));
    size_t ct_len = flen - SITX_FRAME_HDR;
    size_t len = 0;

    for (size_t i = 0; i < ct_len * 8; i++) {
        frame[SITX_FRAME_HDR + i / 8] ^= (uint8_t)(1u << (i % 8));
        memset(back, 0xaa, sizeof(back));
        assert_int_equal(
            sitx_transport_open(l->rx, frame + SITX_FRAME_HDR, ct_len, back, sizeof(back), &len),
            SITX_E_DECRYPT);
        assert_int_equal(len, 0);
        assert_true(sodium_is_zero(back, sizeof(rec))); /* wiped */
        frame[SITX_FRAME_HDR + i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    assert_int_equal(sitx_cipher_nonce(l->rx), 0);
    assert_int_equal(
        sitx_transport_open(l->rx, frame + SITX_FRAME_HDR, ct_len, back, sizeof(back), &len), 0);
    assert_memory_equal(back, rec, sizeof(rec));
}

static void test_replay(void **state)
{
    struct link *l = *state;
    static const uint8_t rec[] = {6, 0, 0, 0};
    uint8_t frame[64];
    uint8_t back[64];
    size_t flen = seal(l, rec, sizeof(rec), frame, sizeof(frame));
    size_t len = 0;

    assert_int_equal(sitx_transport_open(l->rx, frame + 2, flen - 2, back, sizeof(back), &len), 0);
    assert_int_equal(sitx_transport_open(l->rx, frame + 2, flen - 2, back, sizeof(back), &len),
                     SITX_E_DECRYPT);
}

static void test_reorder_and_drop(void **state)
{
    struct link *l = *state;
    static const uint8_t a[] = {3, 'A'};
    static const uint8_t b[] = {3, 'B'};
    static const uint8_t c[] = {3, 'C'};
    uint8_t fa[64], fb[64], fc[64];
    uint8_t back[64];
    size_t la = seal(l, a, sizeof(a), fa, sizeof(fa));
    size_t lb = seal(l, b, sizeof(b), fb, sizeof(fb));
    size_t lc = seal(l, c, sizeof(c), fc, sizeof(fc));
    size_t len = 0;

    /* B before A, and C with B dropped: both refused. */
    assert_int_equal(sitx_transport_open(l->rx, fb + 2, lb - 2, back, sizeof(back), &len),
                     SITX_E_DECRYPT);
    assert_int_equal(sitx_transport_open(l->rx, fa + 2, la - 2, back, sizeof(back), &len), 0);
    assert_int_equal(back[1], 'A');
    assert_int_equal(sitx_transport_open(l->rx, fc + 2, lc - 2, back, sizeof(back), &len),
                     SITX_E_DECRYPT);
    assert_int_equal(sitx_transport_open(l->rx, fb + 2, lb - 2, back, sizeof(back), &len), 0);
    assert_int_equal(back[1], 'B');
    assert_int_equal(sitx_transport_open(l->rx, fc + 2, lc - 2, back, sizeof(back), &len), 0);
    assert_int_equal(back[1], 'C');
}

static void test_truncation(void **state)
{
    struct link *l = *state;
    uint8_t rec[40];
    uint8_t frame[128];
    uint8_t back[128];
    size_t flen;
    size_t len = 0;

    memset(rec, 3, sizeof(rec));
    memset(frame, 0, sizeof(frame));
    flen = seal(l, rec, sizeof(rec), frame, sizeof(frame));
    /* Shorter by one byte, and cut to the tag alone. */
    assert_int_equal(sitx_transport_open(l->rx, frame + 2, flen - 3, back, sizeof(back), &len),
                     SITX_E_DECRYPT);
    assert_int_equal(sitx_transport_open(l->rx, frame + 2, 17, back, sizeof(back), &len),
                     SITX_E_DECRYPT);
    /* Under a record plus a tag: refused before any decryption. */
    for (size_t n = 0; n < 17; n++) {
        assert_int_equal(sitx_transport_open(l->rx, frame + 2, n, back, sizeof(back), &len),
                         SITX_E_TRUNCATED);
    }
    /* A longer frame (tag moved) fails too. */
    assert_int_equal(sitx_transport_open(l->rx, frame + 2, flen - 1, back, sizeof(back), &len),
                     SITX_E_DECRYPT);
    assert_int_equal(sitx_cipher_nonce(l->rx), 0);
    assert_int_equal(sitx_transport_open(l->rx, frame + 2, flen - 2, back, sizeof(back), &len), 0);
}

static void test_oversize_and_buffers(void **state)
{
    struct link *l = *state;
    uint8_t *big = calloc(1, SITX_FRAME_MAX + 64);
    uint8_t frame[64];
    uint8_t back[64];
    static const uint8_t rec[] = {6, 0, 0, 0};
    size_t len = 7;

    assert_non_null(big);
    assert_int_equal(
        sitx_transport_seal(l->tx, big, SITX_RECORD_MAX + 1, big, SITX_FRAME_MAX + 64, &len),
        SITX_E_TOO_LARGE);
    assert_int_equal(len, 0);
    assert_int_equal(
        sitx_transport_open(l->rx, big, SITX_FRAME_MAX + 1, big, SITX_FRAME_MAX + 64, &len),
        SITX_E_TOO_LARGE);
    assert_int_equal(sitx_transport_seal(l->tx, rec, 0, frame, sizeof(frame), &len),
                     SITX_E_INVALID);
    /* 4 + 2 + 16 bytes needed. */
    assert_int_equal(sitx_transport_seal(l->tx, rec, sizeof(rec), frame, 21, &len), SITX_E_BUFFER);
    assert_int_equal(sitx_cipher_nonce(l->tx), 0);
    len = seal(l, rec, sizeof(rec), frame, 22);
    assert_int_equal(sitx_transport_open(l->rx, frame + 2, len - 2, back, 3, &len), SITX_E_BUFFER);
    assert_int_equal(sitx_cipher_nonce(l->rx), 0);
    free(big);
}

static void test_no_key(void **state)
{
    struct sitx_cipher *c = NULL;
    static const uint8_t rec[] = {6, 0, 0, 0};
    uint8_t frame[64];
    size_t len = 0;

    (void)state;
    assert_int_equal(sitx_cipher_new(&c), 0);
    /* A CipherState without a key would pass the record through in clear. */
    assert_int_equal(sitx_transport_seal(c, rec, sizeof(rec), frame, sizeof(frame), &len),
                     SITX_E_STATE);
    assert_int_equal(sitx_transport_open(c, frame, 20, frame, sizeof(frame), &len), SITX_E_STATE);
    sitx_cipher_free(c);
}

static void test_nonce_exhausted(void **state)
{
    struct link *l = *state;
    static const uint8_t rec[] = {6, 0, 0, 0};
    uint8_t frame[64];
    uint8_t back[64];
    size_t len = 0;

    sitx_cipher_set_nonce(l->tx, UINT64_MAX - 1);
    sitx_cipher_set_nonce(l->rx, UINT64_MAX - 1);
    len = seal(l, rec, sizeof(rec), frame, sizeof(frame));
    assert_int_equal(sitx_transport_open(l->rx, frame + 2, len - 2, back, sizeof(back), &len), 0);
    assert_int_equal(sitx_transport_seal(l->tx, rec, sizeof(rec), frame, sizeof(frame), &len),
                     SITX_E_NONCE_EXHAUSTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bit_flip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reorder_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_and_buffers, setup, teardown),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test_setup_teardown(test_nonce_exhausted, setup, teardown),
    };

    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    if (!sitx_aesgcm_available()) {
        fprintf(stderr, "SKIP: no AES-GCM on this CPU\n");
        return SITX_TEST_SKIP;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
