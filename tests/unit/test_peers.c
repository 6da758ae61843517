/* Peers file parser: good files with comments, blanks and CRLF; every kind of
 * bad line with its number in the message; limits; lookup; loading a file. */
#include <errno.h>
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
#include "keyfile.h"
#include "peers.h"
#include "testutil.h"

/* RFC 7748 section 6.1 public keys, and one more valid key. */
#define KEY_A    "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define KEY_B    "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
#define KEY_C    "CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define NUL_TEXT KEY_A " ok\n" KEY_B " nul\0x\n"

static int setup_sodium(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void decode_or_fail(const char *b64, uint8_t pk[SITX_KEY_BYTES])
{
    assert_int_equal(sitx_pubkey_decode(b64, strlen(b64), pk), 0);
}

static void test_parse_good(void **state)
{
    const char *text = "# authorised senders\n"
                       "\n" KEY_A " alice's laptop\r\n"
                       "   \t  \n"
                       "\t" KEY_B "\n"
                       "  # indented comment\n" KEY_C "   caf\xc3\xa9 #2  \t\n";
    struct sitx_peers *p = NULL;
    char err[128] = "stale";
    uint8_t pk[SITX_KEY_BYTES];

    (void)state;
    assert_int_equal(sitx_peers_parse(text, strlen(text), &p, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_non_null(p);
    assert_int_equal(p->count, 3);
    decode_or_fail(KEY_A, pk);
    assert_memory_equal(p->list[0].pk, pk, SITX_KEY_BYTES);
    assert_string_equal(p->list[0].name, "alice's laptop");
    decode_or_fail(KEY_B, pk);
    assert_memory_equal(p->list[1].pk, pk, SITX_KEY_BYTES);
    assert_string_equal(p->list[1].name, "");
    assert_string_equal(p->list[2].name, "caf\xc3\xa9 #2");
    sitx_peers_free(p);
}

static void test_parse_empty_and_comment_after_key(void **state)
{
    struct sitx_peers *p = NULL;
    char err[128];
    const char *text = KEY_A " # the name is a comment";

    (void)state;
    assert_int_equal(sitx_peers_parse("", 0, &p, err, sizeof(err)), 0);
    assert_int_equal(p->count, 0);
    sitx_peers_free(p);
    assert_int_equal(sitx_peers_parse("# nothing\n\n", 11, &p, err, sizeof(err)), 0);
    assert_int_equal(p->count, 0);
    sitx_peers_free(p);
    /* No final newline; a '#' after the key starts a comment. */
    assert_int_equal(sitx_peers_parse(text, strlen(text), &p, err, sizeof(err)), 0);
    assert_int_equal(p->count, 1);
    assert_string_equal(p->list[0].name, "");
    sitx_peers_free(p);
}

struct bad_case {
    const char *text;
    size_t len; /* 0: strlen */
    int rc;
    const char *msg;
};

static void test_parse_bad_lines(void **state)
{
    static const char name65[] =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char long_name[256];
    const struct bad_case cases[] = {
        {"# c\n\nnot-a-key\n", 0, SITX_E_BAD_KEY, "line 3: not a valid public key"},
        {KEY_A "\n" KEY_A "x\n", 0, SITX_E_BAD_KEY, "line 2: not a valid public key"},
        {KEY_A "\r\n\r\n" KEY_B "\r\n" KEY_A " again\r\n", 0, SITX_E_MALFORMED,
         "line 4: duplicate key (first on line 1)"},
        {"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo\n", 0, SITX_E_BAD_KEY,
         "line 1: not a valid public key"},
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 0, SITX_E_BAD_KEY,
         "line 1: not a valid public key"},
        {KEY_A ",name\n", 0, SITX_E_BAD_KEY, "line 1: not a valid public key"},
        {"\n\n" KEY_A " bad\x01name\n", 0, SITX_E_MALFORMED,
         "line 3: name has a control character"},
        {KEY_A " bad\xffutf8\n", 0, SITX_E_MALFORMED, "line 1: name has a control character"},
        {KEY_A " x\x7fy\n", 0, SITX_E_MALFORMED, "line 1: name has a control character"},
        {KEY_A " a\tb\n", 0, SITX_E_MALFORMED, "line 1: name has a control character"},
        {NUL_TEXT, sizeof(NUL_TEXT) - 1, SITX_E_MALFORMED, "line 2: NUL byte"},
        {long_name, 0, SITX_E_MALFORMED, "line 2: name longer than 64 bytes"},
    };

    (void)state;
    snprintf(long_name, sizeof(long_name), "# x\n%s %s\n", KEY_B, name65);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sitx_peers *p = (struct sitx_peers *)1;
        char err[128] = "";
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].text);
        int rc = sitx_peers_parse(cases[i].text, len, &p, err, sizeof(err));

        if (rc != cases[i].rc || strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0) {
            fail_msg("case %zu: rc %d err \"%s\", want %d \"%s\"", i, rc, err, cases[i].rc,
                     cases[i].msg);
        }
        assert_null(p);
    }
}

static void test_name_exactly_64(void **state)
{
    char text[200];
    struct sitx_peers *p = NULL;
    char err[128];

    (void)state;
    snprintf(text, sizeof(text), "%s %.*s\n", KEY_A, 64,
             "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_int_equal(sitx_peers_parse(text, strlen(text), &p, err, sizeof(err)), 0);
    assert_int_equal(strlen(p->list[0].name), 64);
    sitx_peers_free(p);
}

/* text for n distinct valid keys, one per line; caller frees. */
static char *many_keys(size_t n, size_t *len)
{
    char *text = malloc(n * 46 + 1);
    size_t o = 0;

    assert_non_null(text);
    for (size_t i = 0; i < n; i++) {
        struct sitx_keypair kp = {0};

        assert_int_equal(sitx_keypair_generate(&kp), 0);
        sitx_pubkey_encode(kp.pk, text + o);
        o += SITX_PUBKEY_TEXT_LEN;
        text[o++] = '\n';
        sitx_keypair_clear(&kp);
    }
    text[o] = '\0';
    *len = o;
    return text;
}

static void test_limit(void **state)
{
    struct sitx_peers *p = NULL;
    char err[128];
    size_t len = 0;
    char *text = many_keys(SITX_PEERS_MAX + 1, &len);
    size_t max_len = (size_t)SITX_PEERS_MAX * (SITX_PUBKEY_TEXT_LEN + 1);
    char want[64];

    (void)state;
    assert_int_equal(sitx_peers_parse(text, max_len, &p, err, sizeof(err)), 0);
    assert_int_equal(p->count, SITX_PEERS_MAX);
    sitx_peers_free(p);
    assert_int_equal(sitx_peers_parse(text, len, &p, err, sizeof(err)), SITX_E_LIMIT);
    snprintf(want, sizeof(want), "line %d: more than %d peers", SITX_PEERS_MAX + 1, SITX_PEERS_MAX);
    assert_string_equal(err, want);
    assert_null(p);
    free(text);
}

static void test_find(void **state)
{
    const char *text = KEY_A " a\n" KEY_B " b\n";
    struct sitx_peers *p = NULL;
    const struct sitx_peer *hit;
    char err[128];
    uint8_t pk[SITX_KEY_BYTES];

    (void)state;
    assert_int_equal(sitx_peers_parse(text, strlen(text), &p, err, sizeof(err)), 0);
    decode_or_fail(KEY_B, pk);
    hit = sitx_peers_find(p, pk);
    assert_non_null(hit);
    assert_string_equal(hit->name, "b");
    decode_or_fail(KEY_A, pk);
    hit = sitx_peers_find(p, pk);
    assert_non_null(hit);
    assert_string_equal(hit->name, "a");
    decode_or_fail(KEY_C, pk);
    assert_null(sitx_peers_find(p, pk));
    /* One bit off is not a match. */
    decode_or_fail(KEY_A, pk);
    pk[31] ^= 0x01;
    assert_null(sitx_peers_find(p, pk));
    assert_null(sitx_peers_find(NULL, pk));
    sitx_peers_free(p);
    sitx_peers_free(NULL);
}

static void test_error_buffer_optional(void **state)
{
    struct sitx_peers *p = NULL;
    char small[8];

    (void)state;
    assert_int_equal(sitx_peers_parse("junk", 4, &p, NULL, 0), SITX_E_BAD_KEY);
    assert_int_equal(sitx_peers_parse("junk", 4, &p, small, sizeof(small)), SITX_E_BAD_KEY);
    assert_string_equal(small, "line 1:");
}

static void test_load_file(void **state)
{
    char *dir = tu_mkdtemp();
    char path[512];
    const char *text = "# peers\n" KEY_A " alice\n" KEY_B "\n";
    struct sitx_peers *p = NULL;
    char err[128];
    char *big;

    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/peers", dir);
    assert_int_equal(tu_write_file(path, (const uint8_t *)text, strlen(text), 0644), 0);
    assert_int_equal(sitx_peers_load(path, &p, err, sizeof(err)), 0);
    assert_int_equal(p->count, 2);
    assert_string_equal(p->list[0].name, "alice");
    sitx_peers_free(p);

    /* Over 1 MiB of comment: refused before parsing. */
    big = malloc(1024 * 1024 + 2);
    assert_non_null(big);
    memset(big, '#', 1024 * 1024 + 1);
    big[1024 * 1024 + 1] = '\n';
    assert_int_equal(tu_write_file(path, (const uint8_t *)big, 1024 * 1024 + 2, 0644), 0);
    assert_int_equal(sitx_peers_load(path, &p, err, sizeof(err)), SITX_E_LIMIT);
    assert_null(p);
    /* Exactly 1 MiB is allowed. */
    big[1024 * 1024 - 1] = '\n';
    assert_int_equal(tu_write_file(path, (const uint8_t *)big, 1024 * 1024, 0644), 0);
    assert_int_equal(sitx_peers_load(path, &p, err, sizeof(err)), 0);
    assert_int_equal(p->count, 0);
    sitx_peers_free(p);
    free(big);

    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(sitx_peers_load(path, &p, err, sizeof(err)), -ENOENT);
    assert_true(strlen(err) > 0);
    assert_int_equal(sitx_peers_load(dir, &p, err, sizeof(err)), SITX_E_INVALID);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_empty_and_comment_after_key),
        cmocka_unit_test(test_parse_bad_lines),
        cmocka_unit_test(test_name_exactly_64),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_error_buffer_optional),
        cmocka_unit_test(test_load_file),
    };

    return cmocka_run_group_tests(tests, setup_sodium, NULL);
}
