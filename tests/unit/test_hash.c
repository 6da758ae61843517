/* BLAKE2b, HMAC-BLAKE2b, Noise HKDF and the content hash, each checked
 * against a computation written out here from the definitions (RFC 2104,
 * Noise section 4.3) on plain crypto_generichash, plus known answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "hash.h"
#include "testutil.h"

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    uint8_t *p = NULL;
    size_t n = 0;

    assert_int_equal(tu_hex_decode(hex, &p, &n), 0);
    assert_int_equal(n, len);
    memcpy(out, p, len);
    free(p);
}

/* RFC 2104 by hand: H((K ^ opad) || H((K ^ ipad) || m)), K zero-padded to
 * the 128-byte block, each hash one-shot over a concatenated buffer. */
static void ref_hmac(uint8_t out[64], const uint8_t *key, size_t key_len, const uint8_t *data,
                     size_t data_len)
{
    uint8_t *buf = malloc(128 + data_len + 64);
    uint8_t inner[64];

    assert_non_null(buf);
    assert_true(key_len <= 128);
    for (size_t i = 0; i < 128; i++) {
        buf[i] = (uint8_t)((i < key_len ? key[i] : 0) ^ 0x36);
    }
    if (data_len > 0) {
        memcpy(buf + 128, data, data_len);
    }
    crypto_generichash(inner, 64, buf, 128 + data_len, NULL, 0);
    for (size_t i = 0; i < 128; i++) {
        buf[i] = (uint8_t)((i < key_len ? key[i] : 0) ^ 0x5c);
    }
    memcpy(buf + 128, inner, 64);
    crypto_generichash(out, 64, buf, 128 + 64, NULL, 0);
    free(buf);
}

static void test_hash2(void **state)
{
    static const uint8_t abc[] = {'a', 'b', 'c'};
    uint8_t want[64];
    uint8_t got[64];
    uint8_t data[300];

    (void)state;
    /* RFC 7693 appendix A: BLAKE2b-512("abc"). */
    unhex("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
          "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
          want, 64);
    sitx_hash2(got, abc, 3, NULL, 0);
    assert_memory_equal(got, want, 64);
    sitx_hash2(got, NULL, 0, abc, 3);
    assert_memory_equal(got, want, 64);
    sitx_hash2(got, abc, 1, abc + 1, 2);
    assert_memory_equal(got, want, 64);

    randombytes_buf(data, sizeof(data));
    for (size_t split = 0; split <= sizeof(data); split += 37) {
        crypto_generichash(want, 64, data, sizeof(data), NULL, 0);
        sitx_hash2(got, data, split, data + split, sizeof(data) - split);
        assert_memory_equal(got, want, 64);
    }
}

static void test_hmac_known_answer(void **state)
{
    static const char msg[] = "The quick brown fox jumps over the lazy dog";
    uint8_t want[64];
    uint8_t got[64];

    (void)state;
    /* Python: hmac.new(b"key", msg, hashlib.blake2b).hexdigest() */
    unhex("92294f92c0dfb9b00ec9ae8bd94d7e7d8a036b885a499f149dfe2fd2199394aa"
          "af6b8894a1730cccb2cd050f9bcf5062a38b51b0dab33207f8ef35ae2c9df51b",
          want, 64);
    sitx_hmac(got, (const uint8_t *)"key", 3, (const uint8_t *)msg, strlen(msg));
    assert_memory_equal(got, want, 64);
}

static void test_hmac_against_reference(void **state)
{
    static const size_t key_lens[] = {0, 1, 32, 63, 64};
    static const size_t data_lens[] = {0, 1, 64, 65, 127, 128, 129, 1000};
    uint8_t key[64];
    uint8_t data[1000];
    uint8_t want[64];
    uint8_t got[64];

    (void)state;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(data, sizeof(data));
    for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
        for (size_t d = 0; d < sizeof(data_lens) / sizeof(data_lens[0]); d++) {
            ref_hmac(want, key, key_lens[k], data, data_lens[d]);
            sitx_hmac(got, key, key_lens[k], data, data_lens[d]);
            assert_memory_equal(got, want, 64);
            memset(got, 0, sizeof(got));
            assert_int_equal(sitx_hmac_checked(got, key, key_lens[k], data, data_lens[d]), 0);
            assert_memory_equal(got, want, 64);
        }
    }
    /* The key matters, and so does every byte of the data. */
    sitx_hmac(want, key, 64, data, 100);
    key[5] ^= 1;
    sitx_hmac(got, key, 64, data, 100);
    assert_memory_not_equal(got, want, 64);
    key[5] ^= 1;
    data[99] ^= 1;
    sitx_hmac(got, key, 64, data, 100);
    assert_memory_not_equal(got, want, 64);
}

static void test_hmac_long_key_refused(void **state)
{
    uint8_t key[65];
    uint8_t out[64];
    pid_t pid;
    int status = 0;

    (void)state;
    memset(key, 7, sizeof(key));
    memset(out, 0xaa, sizeof(out));
    assert_int_equal(sitx_hmac_checked(out, key, sizeof(key), key, 3), SITX_E_INVALID);
    assert_true(sodium_is_zero(out, sizeof(out)));
    assert_int_equal(sitx_hmac_checked(out, key, 128, key, 3), SITX_E_INVALID);
    assert_int_equal(sitx_hmac_checked(out, NULL, 3, key, 3), SITX_E_INVALID);

    /* The void form has no error return: it stops the process instead. */
    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sitx_hmac(out, key, sizeof(key), key, 3);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* Noise HKDF written out: temp = HMAC(ck, ikm); o1 = HMAC(temp, 0x01);
 * o2 = HMAC(temp, o1 || 0x02); o3 = HMAC(temp, o2 || 0x03). */
static void test_hkdf_against_reference(void **state)
{
    static const size_t ikm_lens[] = {0, 32, 64, 100};
    uint8_t ck[64];
    uint8_t ikm[100];
    uint8_t temp[64];
    uint8_t in[65];
    uint8_t r1[64], r2[64], r3[64];
    uint8_t o1[64], o2[64], o3[64];

    (void)state;
    randombytes_buf(ck, sizeof(ck));
    randombytes_buf(ikm, sizeof(ikm));
    for (size_t i = 0; i < sizeof(ikm_lens) / sizeof(ikm_lens[0]); i++) {
        ref_hmac(temp, ck, 64, ikm, ikm_lens[i]);
        in[0] = 1;
        ref_hmac(r1, temp, 64, in, 1);
        memcpy(in, r1, 64);
        in[64] = 2;
        ref_hmac(r2, temp, 64, in, 65);
        memcpy(in, r2, 64);
        in[64] = 3;
        ref_hmac(r3, temp, 64, in, 65);

        sitx_hkdf(ck, ikm, ikm_lens[i], o1, o2, o3);
        assert_memory_equal(o1, r1, 64);
        assert_memory_equal(o2, r2, 64);
        assert_memory_equal(o3, r3, 64);
        memset(o1, 0, 64);
        memset(o2, 0, 64);
        sitx_hkdf(ck, ikm, ikm_lens[i], o1, o2, NULL);
        assert_memory_equal(o1, r1, 64);
        assert_memory_equal(o2, r2, 64);
        assert_memory_not_equal(o1, o2, 64);
    }
}

static void test_content_hash(void **state)
{
    static const uint8_t abc[] = {'a', 'b', 'c'};
    struct sitx_content_hash h;
    uint8_t *data = malloc(200000);
    uint8_t want[32];
    uint8_t got[32];
    uint8_t ref[32];

    (void)state;
    assert_non_null(data);
    /* BLAKE2b-256("abc"), unkeyed. */
    unhex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319", want, 32);
    sitx_content_hash(got, abc, sizeof(abc));
    assert_memory_equal(got, want, 32);

    randombytes_buf(data, 200000);
    crypto_generichash(ref, 32, data, 200000, NULL, 0);
    sitx_content_hash(want, data, 200000);
    assert_memory_equal(want, ref, 32);
    /* Incremental in uneven chunks, empty updates included, equals one-shot. */
    for (size_t step = 1; step < 200000; step = step * 3 + 1) {
        size_t off = 0;

        sitx_content_hash_init(&h);
        while (off < 200000) {
            size_t n = 200000 - off < step ? 200000 - off : step;

            sitx_content_hash_update(&h, data + off, n);
            sitx_content_hash_update(&h, data + off, 0);
            off += n;
        }
        sitx_content_hash_final(&h, got);
        assert_memory_equal(got, want, 32);
    }
    sitx_content_hash(got, NULL, 0);
    crypto_generichash(ref, 32, NULL, 0, NULL, 0);
    assert_memory_equal(got, ref, 32);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash2),
        cmocka_unit_test(test_hmac_known_answer),
        cmocka_unit_test(test_hmac_against_reference),
        cmocka_unit_test(test_hmac_long_key_refused),
        cmocka_unit_test(test_hkdf_against_reference),
        cmocka_unit_test(test_content_hash),
    };

    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
