/* The published Noise test vectors (cacophony, snow, noise-c) for
 * 25519_AESGCM_BLAKE2b, run like noise-c tests/vector/test-vector.c
 * test_connection(): both sides with the vector's fixed keys, every
 * handshake message written and compared byte for byte, read back and its
 * payload compared, then every transport message after Split(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include "transport.h"

#define MAX_FIELD 4096

static int g_matched;
static int g_skipped;
static unsigned g_patterns_seen; /* bit per enum sitx_hs_pattern */

struct bytes {
    uint8_t *p;
    size_t len;
};

static void bytes_free(struct bytes *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
}

/* A hex string field; absent gives p == NULL. A malformed one fails the test. */
static struct bytes hex_field(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    struct bytes b = {NULL, 0};

    if (item == NULL) {
        return b;
    }
    assert_true(cJSON_IsString(item));
    assert_int_equal(tu_hex_decode(item->valuestring, &b.p, &b.len), 0);
    return b;
}

static bool pattern_has_psk(int pattern)
{
    return pattern == SITX_HS_NNPSK0 || pattern == SITX_HS_XXPSK3 || pattern == SITX_HS_NPSK0 ||
           pattern == SITX_HS_XPSK1;
}

static bool pattern_one_way(int pattern)
{
    return pattern == SITX_HS_N || pattern == SITX_HS_X || pattern == SITX_HS_NPSK0 ||
           pattern == SITX_HS_XPSK1;
}

/* The initiator sends its static key. */
static bool pattern_init_static(int pattern)
{
    return pattern == SITX_HS_XX || pattern == SITX_HS_XXPSK3 || pattern == SITX_HS_X ||
           pattern == SITX_HS_XPSK1;
}

/* The one psk of a single-psk pattern: cacophony/snow "init_psks" (array) or
 * noise-c "init_psk". Nothing for a pattern without psk (snow gives an empty
 * array there). */
static struct bytes psk_field(const cJSON *v, int pattern, const char *arr_key, const char *one_key)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(v, arr_key);
    struct bytes b = {NULL, 0};

    if (!pattern_has_psk(pattern)) {
        return b;
    }
    if (arr != NULL) {
        const cJSON *first;

        assert_true(cJSON_IsArray(arr));
        assert_int_equal(cJSON_GetArraySize(arr), 1);
        first = cJSON_GetArrayItem(arr, 0);
        assert_true(cJSON_IsString(first));
        assert_int_equal(tu_hex_decode(first->valuestring, &b.p, &b.len), 0);
        return b;
    }
    return hex_field(v, one_key);
}

/* Our pattern for a protocol name, or -1 for one we do not implement
 * (other patterns, snow's multi-psk "NNpsk0+psk2", noise-c's old NoisePSK_). */
static int pattern_of(const char *name)
{
    if (strcmp(name, "Noise_XX_25519_AESGCM_BLAKE2b") == 0) {
        return SITX_HS_XX;
    }
    if (strcmp(name, "Noise_NNpsk0_25519_AESGCM_BLAKE2b") == 0) {
        return SITX_HS_NNPSK0;
    }
    if (strcmp(name, "Noise_XXpsk3_25519_AESGCM_BLAKE2b") == 0) {
        return SITX_HS_XXPSK3;
    }
    if (strcmp(name, "Noise_N_25519_AESGCM_BLAKE2b") == 0) {
        return SITX_HS_N;
    }
    if (strcmp(name, "Noise_X_25519_AESGCM_BLAKE2b") == 0) {
        return SITX_HS_X;
    }
    if (strcmp(name, "Noise_Npsk0_25519_AESGCM_BLAKE2b") == 0) {
        return SITX_HS_NPSK0;
    }
    if (strcmp(name, "Noise_Xpsk1_25519_AESGCM_BLAKE2b") == 0) {
        return SITX_HS_XPSK1;
    }
    return -1;
}

static size_t handshake_messages(int pattern)
{
    if (pattern_one_way(pattern)) {
        return 1;
    }
    return pattern == SITX_HS_NNPSK0 ? 2 : 3;
}

/* One transport message: through transport.c when it is a valid record
 * (non-empty), else straight through the CipherState. */
static void transport_message(struct sitx_cipher *tx, struct sitx_cipher *rx,
                              const struct bytes *payload, const struct bytes *ct)
{
    uint8_t frame[SITX_FRAME_HDR + MAX_FIELD];
    uint8_t pt[MAX_FIELD];
    size_t len = 0;

    assert_true(payload->len + SITX_TAG_LEN <= MAX_FIELD);
    assert_int_equal(ct->len, payload->len + SITX_TAG_LEN);
    if (payload->len > 0) {
        assert_int_equal(
            sitx_transport_seal(tx, payload->p, payload->len, frame, sizeof(frame), &len), 0);
        assert_int_equal(len, SITX_FRAME_HDR + ct->len);
        assert_int_equal(frame[0] << 8 | frame[1], ct->len);
        assert_memory_equal(frame + SITX_FRAME_HDR, ct->p, ct->len);
        assert_int_equal(sitx_transport_open(rx, ct->p, ct->len, pt, sizeof(pt), &len), 0);
    } else {
        assert_int_equal(
            sitx_cipher_encrypt(tx, NULL, 0, payload->p, 0, frame, sizeof(frame), &len), 0);
        assert_int_equal(len, ct->len);
        assert_memory_equal(frame, ct->p, ct->len);
        assert_int_equal(sitx_cipher_decrypt(rx, NULL, 0, ct->p, ct->len, pt, sizeof(pt), &len), 0);
    }
    assert_int_equal(len, payload->len);
    if (len > 0) {
        assert_memory_equal(pt, payload->p, len);
    }
}

static void run_vector(const cJSON *v, int pattern)
{
    struct bytes init_prologue = hex_field(v, "init_prologue");
    struct bytes resp_prologue = hex_field(v, "resp_prologue");
    struct bytes init_static = hex_field(v, "init_static");
    struct bytes resp_static = hex_field(v, "resp_static");
    struct bytes init_eph = hex_field(v, "init_ephemeral");
    struct bytes resp_eph = hex_field(v, "resp_ephemeral");
    struct bytes init_psk = psk_field(v, pattern, "init_psks", "init_psk");
    struct bytes resp_psk = psk_field(v, pattern, "resp_psks", "resp_psk");
    struct bytes hh = hex_field(v, "handshake_hash");
    struct bytes init_rs = hex_field(v, "init_remote_static");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(v, "messages");
    struct sitx_hs_config icfg = {0};
    struct sitx_hs_config rcfg = {0};
    struct sitx_hs *init = NULL;
    struct sitx_hs *resp = NULL;
    struct sitx_cipher *i_send = NULL;
    struct sitx_cipher *i_recv = NULL;
    struct sitx_cipher *r_send = NULL;
    struct sitx_cipher *r_recv = NULL;
    uint8_t hash_i[SITX_HASHLEN];
    uint8_t hash_r[SITX_HASHLEN];
    uint8_t key[SITX_DH_LEN];
    uint8_t expect_key[SITX_DH_LEN];
    size_t n_hs = handshake_messages(pattern);
    int n_msgs;

    assert_non_null(init_eph.p);
    assert_int_equal(init_eph.len, SITX_DH_LEN);
    /* One-way patterns: the responder makes no ephemeral. */
    if (!pattern_one_way(pattern)) {
        assert_non_null(resp_eph.p);
        assert_int_equal(resp_eph.len, SITX_DH_LEN);
    }
    assert_true(cJSON_IsArray(msgs));
    n_msgs = cJSON_GetArraySize(msgs);
    assert_true((size_t)n_msgs >= n_hs);

    icfg.pattern = rcfg.pattern = (enum sitx_hs_pattern)pattern;
    icfg.role = SITX_HS_INITIATOR;
    rcfg.role = SITX_HS_RESPONDER;
    icfg.prologue = init_prologue.p;
    icfg.prologue_len = init_prologue.len;
    rcfg.prologue = resp_prologue.p;
    rcfg.prologue_len = resp_prologue.len;
    icfg.static_sk = init_static.p;
    rcfg.static_sk = resp_static.p;
    icfg.psk = init_psk.p;
    rcfg.psk = resp_psk.p;
    icfg.remote_static_pk = init_rs.p;
    icfg.fixed_ephemeral_sk = init_eph.p;
    rcfg.fixed_ephemeral_sk = resp_eph.p;
    if (pattern_one_way(pattern)) {
        assert_non_null(init_rs.p);
        assert_int_equal(init_rs.len, SITX_DH_LEN);
    }
    if (pattern_has_psk(pattern)) {
        assert_int_equal(init_psk.len, 32);
        assert_int_equal(resp_psk.len, 32);
    }
    assert_int_equal(sitx_hs_new(&init, &icfg), 0);
    assert_int_equal(sitx_hs_new(&resp, &rcfg), 0);

    for (size_t i = 0; i < n_hs; i++) {
        const cJSON *m = cJSON_GetArrayItem(msgs, (int)i);
        struct bytes payload = hex_field(m, "payload");
        struct bytes ct = hex_field(m, "ciphertext");
        struct sitx_hs *writer = i % 2 == 0 ? init : resp;
        struct sitx_hs *reader = i % 2 == 0 ? resp : init;
        uint8_t out[MAX_FIELD];
        uint8_t got[MAX_FIELD];
        size_t out_len = 0;
        size_t got_len = 0;

        assert_non_null(payload.p);
        assert_non_null(ct.p);
        assert_int_equal(sitx_hs_get_action(writer), SITX_HS_WRITE_MESSAGE);
        assert_int_equal(sitx_hs_get_action(reader), SITX_HS_READ_MESSAGE);
        assert_int_equal(sitx_hs_message_len(writer, payload.len), ct.len);
        assert_int_equal(sitx_hs_message_len(reader, payload.len), ct.len);
        assert_int_equal(
            sitx_hs_write_message(writer, payload.p, payload.len, out, sizeof(out), &out_len), 0);
        assert_int_equal(out_len, ct.len);
        assert_memory_equal(out, ct.p, ct.len);
        assert_int_equal(sitx_hs_read_message(reader, ct.p, ct.len, got, sizeof(got), &got_len), 0);
        assert_int_equal(got_len, payload.len);
        if (got_len > 0) {
            assert_memory_equal(got, payload.p, got_len);
        }
        bytes_free(&payload);
        bytes_free(&ct);
    }

    assert_int_equal(sitx_hs_get_action(init), SITX_HS_SPLIT);
    assert_int_equal(sitx_hs_get_action(resp), SITX_HS_SPLIT);
    assert_int_equal(sitx_hs_handshake_hash(init, hash_i), 0);
    assert_int_equal(sitx_hs_handshake_hash(resp, hash_r), 0);
    assert_memory_equal(hash_i, hash_r, SITX_HASHLEN);
    if (hh.p != NULL) {
        assert_int_equal(hh.len, SITX_HASHLEN);
        assert_memory_equal(hash_i, hh.p, SITX_HASHLEN);
    }
    if (pattern != SITX_HS_NNPSK0) {
        /* The initiator knows the responder's static key (from the
         * handshake, or beforehand in a one-way pattern)... */
        assert_int_equal(sitx_hs_remote_static(init, key), 0);
        assert_int_equal(crypto_scalarmult_base(expect_key, resp_static.p), 0);
        assert_memory_equal(key, expect_key, SITX_DH_LEN);
    } else {
        assert_int_equal(sitx_hs_remote_static(init, key), SITX_E_STATE);
    }
    if (pattern_init_static(pattern)) {
        /* ... and the responder learnt the initiator's. */
        assert_int_equal(sitx_hs_remote_static(resp, key), 0);
        assert_int_equal(crypto_scalarmult_base(expect_key, init_static.p), 0);
        assert_memory_equal(key, expect_key, SITX_DH_LEN);
    } else {
        assert_int_equal(sitx_hs_remote_static(resp, key), SITX_E_STATE);
    }

    assert_int_equal(sitx_hs_split(init, &i_send, &i_recv), 0);
    assert_int_equal(sitx_hs_split(resp, &r_send, &r_recv), 0);
    for (int i = (int)n_hs; i < n_msgs; i++) {
        const cJSON *m = cJSON_GetArrayItem(msgs, i);
        struct bytes payload = hex_field(m, "payload");
        struct bytes ct = hex_field(m, "ciphertext");

        assert_non_null(payload.p);
        assert_non_null(ct.p);
        /* The alternation goes on after Split(): even indexes are the
         * initiator's (c1), odd the responder's (c2). One-way patterns
         * only ever send from the initiator. */
        if (i % 2 == 0 || pattern_one_way(pattern)) {
            transport_message(i_send, r_recv, &payload, &ct);
        } else {
            transport_message(r_send, i_recv, &payload, &ct);
        }
        bytes_free(&payload);
        bytes_free(&ct);
    }

    sitx_cipher_free(i_send);
    sitx_cipher_free(i_recv);
    sitx_cipher_free(r_send);
    sitx_cipher_free(r_recv);
    sitx_hs_free(init);
    sitx_hs_free(resp);
    bytes_free(&init_prologue);
    bytes_free(&resp_prologue);
    bytes_free(&init_static);
    bytes_free(&resp_static);
    bytes_free(&init_eph);
    bytes_free(&resp_eph);
    bytes_free(&init_psk);
    bytes_free(&resp_psk);
    bytes_free(&hh);
    bytes_free(&init_rs);
}

/* Runs every applicable vector of one file; returns how many matched. */
static int run_file(const char *rel)
{
    uint8_t *text = NULL;
    size_t text_len = 0;
    cJSON *root;
    const cJSON *vectors;
    const cJSON *v;
    int matched = 0;
    int skipped = 0;

    assert_int_equal(tu_read_file(tu_corpus_path(rel), &text, &text_len), 0);
    root = cJSON_ParseWithLength((const char *)text, text_len);
    assert_non_null(root);
    vectors = cJSON_GetObjectItemCaseSensitive(root, "vectors");
    assert_true(cJSON_IsArray(vectors));
    cJSON_ArrayForEach(v, vectors)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "protocol_name");
        int pattern;

        if (name == NULL) {
            name = cJSON_GetObjectItemCaseSensitive(v, "name"); /* noise-c */
        }
        assert_true(cJSON_IsString(name));
        pattern = pattern_of(name->valuestring);
        if (pattern < 0) {
            skipped++;
            continue;
        }
        run_vector(v, pattern);
        g_patterns_seen |= 1u << pattern;
        matched++;
    }
    printf("%s: %d matched, %d skipped (other patterns)\n", rel, matched, skipped);
    g_matched += matched;
    g_skipped += skipped;
    cJSON_Delete(root);
    free(text);
    return matched;
}

static void test_cacophony(void **state)
{
    (void)state;
    g_patterns_seen = 0;
    assert_true(run_file("noise/cacophony.25519_AESGCM_BLAKE2b.json") >= 3);
    /* cacophony carries one vector of each of our seven patterns. */
    assert_int_equal(g_patterns_seen, 1u << SITX_HS_XX | 1u << SITX_HS_NNPSK0 |
                                          1u << SITX_HS_XXPSK3 | 1u << SITX_HS_N |
                                          1u << SITX_HS_X | 1u << SITX_HS_NPSK0 |
                                          1u << SITX_HS_XPSK1);
}

static void test_snow(void **state)
{
    (void)state;
    assert_true(run_file("noise/snow.25519_AESGCM_BLAKE2b.json") >= 1);
}

static void test_noise_c(void **state)
{
    (void)state;
    assert_true(run_file("noise/noise-c-basic.25519_AESGCM_BLAKE2b.json") >= 1);
}

static void test_totals(void **state)
{
    (void)state;
    printf("noise vectors: %d matched, %d skipped (other patterns)\n", g_matched, g_skipped);
    assert_true(g_matched >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cacophony),
        cmocka_unit_test(test_snow),
        cmocka_unit_test(test_noise_c),
        cmocka_unit_test(test_totals),
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
