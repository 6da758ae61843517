/* AES-256-GCM and the Noise CipherState: Wycheproof vectors through the raw
 * functions, then the CipherState rules (counter nonce, exhaustion, tag
 * failure, no-key passthrough). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "cipher.h"
#include "err.h"
#include "testutil.h"

#define WYCHEPROOF_EXPECTED 66

static uint8_t *hex(const cJSON *obj, const char *key, size_t *len)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    uint8_t *p = NULL;

    assert_true(cJSON_IsString(item));
    assert_int_equal(tu_hex_decode(item->valuestring, &p, len), 0);
    return p;
}

static int json_int(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    assert_true(cJSON_IsNumber(item));
    return item->valueint;
}

static void wycheproof_one(const cJSON *t, int *valid, int *invalid)
{
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(t, "result");
    size_t key_len, iv_len, aad_len, msg_len, ct_len, tag_len;
    uint8_t *key = hex(t, "key", &key_len);
    uint8_t *iv = hex(t, "iv", &iv_len);
    uint8_t *aad = hex(t, "aad", &aad_len);
    uint8_t *msg = hex(t, "msg", &msg_len);
    uint8_t *ct = hex(t, "ct", &ct_len);
    uint8_t *tag = hex(t, "tag", &tag_len);
    uint8_t *sealed = malloc(ct_len + tag_len + 1);
    uint8_t *opened = malloc(ct_len + 1);

    assert_non_null(sealed);
    assert_non_null(opened);
    assert_int_equal(key_len, 32);
    assert_int_equal(iv_len, 12);
    assert_int_equal(tag_len, SITX_TAG_LEN);
    assert_true(cJSON_IsString(result));
    memcpy(sealed, ct, ct_len);
    memcpy(sealed + ct_len, tag, tag_len);

    if (strcmp(result->valuestring, "valid") == 0) {
        uint8_t *mine = malloc(msg_len + SITX_TAG_LEN);

        assert_non_null(mine);
        assert_int_equal(msg_len, ct_len);
        assert_int_equal(sitx_aesgcm_encrypt_raw(key, iv, aad, aad_len, msg, msg_len, mine), 0);
        assert_memory_equal(mine, sealed, ct_len + tag_len);
        assert_int_equal(
            sitx_aesgcm_decrypt_raw(key, iv, aad, aad_len, sealed, ct_len + tag_len, opened), 0);
        if (msg_len > 0) {
            assert_memory_equal(opened, msg, msg_len);
        }
        free(mine);
        (*valid)++;
    } else {
        /* Only "valid" and "invalid" occur in this subset. */
        assert_string_equal(result->valuestring, "invalid");
        assert_int_equal(
            sitx_aesgcm_decrypt_raw(key, iv, aad, aad_len, sealed, ct_len + tag_len, opened),
            SITX_E_DECRYPT);
        for (size_t i = 0; i < ct_len; i++) {
            assert_int_equal(opened[i], 0); /* wiped on failure */
        }
        (*invalid)++;
    }
    free(key);
    free(iv);
    free(aad);
    free(msg);
    free(ct);
    free(tag);
    free(sealed);
    free(opened);
}

static void test_wycheproof_aes_gcm(void **state)
{
    uint8_t *text = NULL;
    size_t text_len = 0;
    cJSON *root;
    const cJSON *groups;
    const cJSON *g;
    int valid = 0;
    int invalid = 0;
    int other = 0;

    (void)state;
    assert_int_equal(tu_read_file(tu_corpus_path("aead/aes_gcm_test.json"), &text, &text_len), 0);
    root = cJSON_ParseWithLength((const char *)text, text_len);
    assert_non_null(root);
    groups = cJSON_GetObjectItemCaseSensitive(root, "testGroups");
    assert_true(cJSON_IsArray(groups));
    cJSON_ArrayForEach(g, groups)
    {
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(g, "tests");
        const cJSON *t;

        assert_true(cJSON_IsArray(tests));
        /* libsodium takes AES-256 with a 96-bit nonce and 128-bit tag only. */
        if (json_int(g, "keySize") != 256 || json_int(g, "ivSize") != 96 ||
            json_int(g, "tagSize") != 128) {
            other += cJSON_GetArraySize(tests);
            continue;
        }
        cJSON_ArrayForEach(t, tests)
        {
            wycheproof_one(t, &valid, &invalid);
        }
    }
    printf("wycheproof aes-gcm: %d run (%d valid, %d invalid), %d skipped (other sizes)\n",
           valid + invalid, valid, invalid, other);
    assert_int_equal(valid + invalid, WYCHEPROOF_EXPECTED);
    cJSON_Delete(root);
    free(text);
}

/* ---- CipherState ---- */

static const uint8_t key1[SITX_KEY_LEN] = {
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
};

static const uint8_t msg1[] = "a record of some forty bytes, more or less";

static struct sitx_cipher *keyed(void)
{
    struct sitx_cipher *c = NULL;

    assert_int_equal(sitx_cipher_new(&c), 0);
    assert_non_null(c);
    assert_false(sitx_cipher_has_key(c));
    sitx_cipher_init_key(c, key1);
    assert_true(sitx_cipher_has_key(c));
    assert_int_equal(sitx_cipher_nonce(c), 0);
    return c;
}

/* The nonce worked out by hand: 4 zero bytes, then n big-endian. */
static void manual_nonce(uint8_t nonce[12], uint64_t n)
{
    memset(nonce, 0, 12);
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t)(n >> (56 - 8 * i));
    }
}

static void check_against_raw(struct sitx_cipher *c, uint64_t n)
{
    uint8_t nonce[12];
    uint8_t want[sizeof(msg1) + SITX_TAG_LEN];
    uint8_t got[sizeof(msg1) + SITX_TAG_LEN];
    size_t len = 0;
    static const uint8_t ad[] = {1, 2, 3};

    sitx_cipher_set_nonce(c, n);
    manual_nonce(nonce, n);
    assert_int_equal(sitx_aesgcm_encrypt_raw(key1, nonce, ad, sizeof(ad), msg1, sizeof(msg1), want),
                     0);
    assert_int_equal(
        sitx_cipher_encrypt(c, ad, sizeof(ad), msg1, sizeof(msg1), got, sizeof(got), &len), 0);
    assert_int_equal(len, sizeof(got));
    assert_memory_equal(got, want, sizeof(got));
    assert_int_equal(sitx_cipher_nonce(c), n + 1);
}

static void test_counter_nonce(void **state)
{
    struct sitx_cipher *c = keyed();

    (void)state;
    check_against_raw(c, 0);
    check_against_raw(c, 1); /* the counter moved by one */
    check_against_raw(c, 0x0102030405060708ull);
    check_against_raw(c, 0xfffffffffull);
    sitx_cipher_free(c);
}

static void test_sequence_round_trip(void **state)
{
    struct sitx_cipher *tx = keyed();
    struct sitx_cipher *rx = keyed();
    uint8_t buf[sizeof(msg1) + SITX_TAG_LEN];
    uint8_t pt[sizeof(msg1)];
    size_t len = 0;

    (void)state;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(
            sitx_cipher_encrypt(tx, NULL, 0, msg1, sizeof(msg1), buf, sizeof(buf), &len), 0);
        assert_int_equal(sitx_cipher_decrypt(rx, NULL, 0, buf, len, pt, sizeof(pt), &len), 0);
        assert_int_equal(len, sizeof(msg1));
        assert_memory_equal(pt, msg1, sizeof(msg1));
    }
    assert_int_equal(sitx_cipher_nonce(tx), 5);
    assert_int_equal(sitx_cipher_nonce(rx), 5);
    sitx_cipher_free(tx);
    sitx_cipher_free(rx);
}

static void test_in_place(void **state)
{
    struct sitx_cipher *tx = keyed();
    struct sitx_cipher *rx = keyed();
    uint8_t buf[sizeof(msg1) + SITX_TAG_LEN];
    uint8_t ref[sizeof(msg1) + SITX_TAG_LEN];
    uint8_t nonce[12];
    size_t len = 0;

    (void)state;
    memcpy(buf, msg1, sizeof(msg1));
    assert_int_equal(sitx_cipher_encrypt(tx, NULL, 0, buf, sizeof(msg1), buf, sizeof(buf), &len),
                     0);
    manual_nonce(nonce, 0);
    assert_int_equal(sitx_aesgcm_encrypt_raw(key1, nonce, NULL, 0, msg1, sizeof(msg1), ref), 0);
    assert_memory_equal(buf, ref, sizeof(ref));
    assert_int_equal(sitx_cipher_decrypt(rx, NULL, 0, buf, len, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, sizeof(msg1));
    assert_memory_equal(buf, msg1, sizeof(msg1));
    sitx_cipher_free(tx);
    sitx_cipher_free(rx);
}

static void test_nonce_exhaustion(void **state)
{
    struct sitx_cipher *tx = keyed();
    struct sitx_cipher *rx = keyed();
    uint8_t buf[sizeof(msg1) + SITX_TAG_LEN];
    uint8_t pt[sizeof(msg1)];
    size_t len = 99;

    (void)state;
    /* 2^64-1 itself is never used. */
    sitx_cipher_set_nonce(tx, UINT64_MAX);
    assert_int_equal(sitx_cipher_encrypt(tx, NULL, 0, msg1, sizeof(msg1), buf, sizeof(buf), &len),
                     SITX_E_NONCE_EXHAUSTED);
    assert_int_equal(len, 0);
    assert_int_equal(sitx_cipher_nonce(tx), UINT64_MAX);

    /* 2^64-2 works exactly once, and the counter does not wrap to 0. */
    check_against_raw(tx, UINT64_MAX - 1);
    assert_int_equal(sitx_cipher_nonce(tx), UINT64_MAX);
    assert_int_equal(sitx_cipher_encrypt(tx, NULL, 0, msg1, sizeof(msg1), buf, sizeof(buf), &len),
                     SITX_E_NONCE_EXHAUSTED);
    assert_int_equal(sitx_cipher_nonce(tx), UINT64_MAX);

    /* The receiving side likewise. */
    sitx_cipher_set_nonce(tx, UINT64_MAX - 1);
    assert_int_equal(sitx_cipher_encrypt(tx, NULL, 0, msg1, sizeof(msg1), buf, sizeof(buf), &len),
                     0);
    sitx_cipher_set_nonce(rx, UINT64_MAX - 1);
    assert_int_equal(sitx_cipher_decrypt(rx, NULL, 0, buf, len, pt, sizeof(pt), &len), 0);
    assert_memory_equal(pt, msg1, sizeof(msg1));
    assert_int_equal(sitx_cipher_nonce(rx), UINT64_MAX);
    assert_int_equal(sitx_cipher_decrypt(rx, NULL, 0, buf, sizeof(buf), pt, sizeof(pt), &len),
                     SITX_E_NONCE_EXHAUSTED);
    sitx_cipher_free(tx);
    sitx_cipher_free(rx);
}

static void test_tag_failure(void **state)
{
    struct sitx_cipher *tx = keyed();
    struct sitx_cipher *rx = keyed();
    uint8_t buf[sizeof(msg1) + SITX_TAG_LEN];
    uint8_t pt[sizeof(msg1)];
    size_t ct_len = 0;
    size_t len = 99;
    static const uint8_t ad[] = {9, 9};

    (void)state;
    assert_int_equal(
        sitx_cipher_encrypt(tx, ad, sizeof(ad), msg1, sizeof(msg1), buf, sizeof(buf), &ct_len), 0);

    for (size_t i = 0; i < ct_len; i += 7) {
        buf[i] ^= 0x20;
        memset(pt, 0xaa, sizeof(pt));
        assert_int_equal(sitx_cipher_decrypt(rx, ad, sizeof(ad), buf, ct_len, pt, sizeof(pt), &len),
                         SITX_E_DECRYPT);
        assert_int_equal(len, 0);
        for (size_t j = 0; j < sizeof(pt); j++) {
            assert_int_equal(pt[j], 0);
        }
        assert_int_equal(sitx_cipher_nonce(rx), 0);
        buf[i] ^= 0x20;
    }
    /* Another AD fails too. */
    assert_int_equal(sitx_cipher_decrypt(rx, NULL, 0, buf, ct_len, pt, sizeof(pt), &len),
                     SITX_E_DECRYPT);
    /* Too short to hold a tag. */
    assert_int_equal(
        sitx_cipher_decrypt(rx, ad, sizeof(ad), buf, SITX_TAG_LEN - 1, pt, sizeof(pt), &len),
        SITX_E_DECRYPT);
    assert_int_equal(sitx_cipher_nonce(rx), 0);
    /* n was not advanced: the untouched message still opens at n = 0. */
    assert_int_equal(sitx_cipher_decrypt(rx, ad, sizeof(ad), buf, ct_len, pt, sizeof(pt), &len), 0);
    assert_memory_equal(pt, msg1, sizeof(msg1));
    assert_int_equal(sitx_cipher_nonce(rx), 1);
    sitx_cipher_free(tx);
    sitx_cipher_free(rx);
}

static void test_buffer_too_small(void **state)
{
    struct sitx_cipher *c = keyed();
    uint8_t buf[sizeof(msg1) + SITX_TAG_LEN];
    size_t len = 0;

    (void)state;
    assert_int_equal(
        sitx_cipher_encrypt(c, NULL, 0, msg1, sizeof(msg1), buf, sizeof(buf) - 1, &len),
        SITX_E_BUFFER);
    assert_int_equal(sitx_cipher_nonce(c), 0);
    assert_int_equal(sitx_cipher_encrypt(c, NULL, 0, msg1, sizeof(msg1), buf, sizeof(buf), &len),
                     0);
    sitx_cipher_set_nonce(c, 0);
    assert_int_equal(sitx_cipher_decrypt(c, NULL, 0, buf, len, buf, sizeof(msg1) - 1, &len),
                     SITX_E_BUFFER);
    assert_int_equal(sitx_cipher_nonce(c), 0);
    sitx_cipher_free(c);
}

static void test_no_key_passthrough(void **state)
{
    struct sitx_cipher *c = NULL;
    uint8_t buf[sizeof(msg1)];
    uint8_t back[sizeof(msg1)];
    size_t len = 0;

    (void)state;
    assert_int_equal(sitx_cipher_new(&c), 0);
    assert_false(sitx_cipher_has_key(c));
    assert_int_equal(sitx_cipher_encrypt(c, NULL, 0, msg1, sizeof(msg1), buf, sizeof(buf), &len),
                     0);
    assert_int_equal(len, sizeof(msg1));
    assert_memory_equal(buf, msg1, sizeof(msg1));
    assert_int_equal(sitx_cipher_decrypt(c, NULL, 0, buf, len, back, sizeof(back), &len), 0);
    assert_int_equal(len, sizeof(msg1));
    assert_memory_equal(back, msg1, sizeof(msg1));
    assert_int_equal(sitx_cipher_nonce(c), 0);
    assert_int_equal(
        sitx_cipher_encrypt(c, NULL, 0, msg1, sizeof(msg1), buf, sizeof(buf) - 1, &len),
        SITX_E_BUFFER);
    sitx_cipher_free(c);
    sitx_cipher_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_aes_gcm),  cmocka_unit_test(test_counter_nonce),
        cmocka_unit_test(test_sequence_round_trip), cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_nonce_exhaustion),    cmocka_unit_test(test_tag_failure),
        cmocka_unit_test(test_buffer_too_small),    cmocka_unit_test(test_no_key_passthrough),
    };

    tu_corpus_dir_or_skip();
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
