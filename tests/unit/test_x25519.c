/* Wycheproof X25519 through sitx_dh(), the DH the handshake uses: every
 * expected shared secret, and the low-order public keys (all-zero shared
 * secret) refused with SITX_E_BAD_KEY. */
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

#include "err.h"
#include "handshake.h"
#include "testutil.h"

static void hex32(const cJSON *t, const char *key, uint8_t out[32])
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(t, key);
    uint8_t *p = NULL;
    size_t len = 0;

    assert_true(cJSON_IsString(item));
    assert_int_equal(tu_hex_decode(item->valuestring, &p, &len), 0);
    assert_int_equal(len, 32);
    memcpy(out, p, 32);
    free(p);
}

static bool has_flag(const cJSON *t, const char *flag)
{
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(t, "flags");
    const cJSON *f;

    cJSON_ArrayForEach(f, flags)
    {
        if (cJSON_IsString(f) && strcmp(f->valuestring, flag) == 0) {
            return true;
        }
    }
    return false;
}

static void test_wycheproof_x25519(void **state)
{
    uint8_t *text = NULL;
    size_t text_len = 0;
    cJSON *root;
    const cJSON *groups;
    const cJSON *g;
    int agreed = 0;
    int refused = 0;

    (void)state;
    assert_int_equal(tu_read_file(tu_corpus_path("aead/x25519_test.json"), &text, &text_len), 0);
    root = cJSON_ParseWithLength((const char *)text, text_len);
    assert_non_null(root);
    groups = cJSON_GetObjectItemCaseSensitive(root, "testGroups");
    assert_true(cJSON_IsArray(groups));
    cJSON_ArrayForEach(g, groups)
    {
        const cJSON *curve = cJSON_GetObjectItemCaseSensitive(g, "curve");
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(g, "tests");
        const cJSON *t;

        assert_true(cJSON_IsString(curve));
        assert_string_equal(curve->valuestring, "curve25519");
        cJSON_ArrayForEach(t, tests)
        {
            uint8_t sk[32], pk[32], shared[32], out[32];
            int rc;

            hex32(t, "private", sk);
            hex32(t, "public", pk);
            hex32(t, "shared", shared);
            memset(out, 0xaa, sizeof(out));
            rc = sitx_dh(out, sk, pk);
            if (has_flag(t, "ZeroSharedSecret")) {
                assert_true(sodium_is_zero(shared, sizeof(shared)));
                assert_int_equal(rc, SITX_E_BAD_KEY);
                assert_true(sodium_is_zero(out, sizeof(out)));
                refused++;
            } else {
                /* "valid" and "acceptable" alike must give the expected secret. */
                if (rc != 0) {
                    fail_msg("tcId %d: refused", cJSON_GetObjectItem(t, "tcId")->valueint);
                }
                assert_memory_equal(out, shared, sizeof(out));
                agreed++;
            }
        }
    }
    printf("wycheproof x25519: %d run, %d agreed, %d refused (ZeroSharedSecret)\n",
           agreed + refused, agreed, refused);
    /* The corpus README: 518 tests, 31 of them ZeroSharedSecret. */
    assert_int_equal(agreed + refused, 518);
    assert_int_equal(refused, 31);
    cJSON_Delete(root);
    free(text);
}

/* DH agrees both ways for random keys. */
static void test_dh_commutes(void **state)
{
    uint8_t a_sk[32], a_pk[32], b_sk[32], b_pk[32], ab[32], ba[32];

    (void)state;
    for (int i = 0; i < 8; i++) {
        crypto_box_keypair(a_pk, a_sk);
        crypto_box_keypair(b_pk, b_sk);
        assert_int_equal(sitx_dh(ab, a_sk, b_pk), 0);
        assert_int_equal(sitx_dh(ba, b_sk, a_pk), 0);
        assert_memory_equal(ab, ba, sizeof(ab));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_x25519),
        cmocka_unit_test(test_dh_commutes),
    };

    tu_corpus_dir_or_skip();
    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
