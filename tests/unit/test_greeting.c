/* GREETING, HELLO and the prologue: exact bytes, and every field that can
 * be wrong refused with its code and reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "err.h"
#include "greeting.h"

static char why[128];

static struct sitx_greeting password_greeting(void)
{
    struct sitx_greeting g;

    memset(&g, 0, sizeof(g));
    g.version = SITX_PROTO_VERSION;
    g.modes = SITX_AUTH_KEY | SITX_AUTH_PASSWORD;
    g.argon_ops = 3;
    g.argon_mem_kib = 65536;
    for (size_t i = 0; i < SITX_SALT_LEN; i++) {
        g.salt[i] = (uint8_t)(0xA0 + i);
    }
    return g;
}

static void expect_greeting_bad(const uint8_t in[SITX_GREETING_LEN], int err, const char *reason)
{
    struct sitx_greeting g;
    int rc = sitx_greeting_decode_err(in, &g, why, sizeof(why));

    if (rc != err) {
        fail_msg("greeting decode gave %d (\"%s\"), expected %d", rc, why, err);
    }
    assert_string_equal(why, reason);
    assert_int_equal(sitx_greeting_decode(in, &g), err);
}

static void expect_hello_bad(const uint8_t in[SITX_HELLO_LEN], int err, const char *reason)
{
    struct sitx_hello h;
    int rc = sitx_hello_decode_err(in, &h, why, sizeof(why));

    if (rc != err) {
        fail_msg("hello decode gave %d (\"%s\"), expected %d", rc, why, err);
    }
    assert_string_equal(why, reason);
    assert_int_equal(sitx_hello_decode(in, &h), err);
}

static void test_greeting_bytes(void **state)
{
    struct sitx_greeting g = password_greeting();
    struct sitx_greeting d;
    uint8_t out[SITX_GREETING_LEN];
    static const uint8_t want[SITX_GREETING_LEN] = {
        0x53, 0x49, 0x54, 0x58, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x03, 0x00, 0x01, 0x00, 0x00, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5,
        0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
    };

    (void)state;
    sitx_greeting_encode(&g, out);
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(sitx_greeting_decode_err(out, &d, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(d.version, 1);
    assert_int_equal(d.modes, 3);
    assert_int_equal(d.argon_ops, 3);
    assert_int_equal(d.argon_mem_kib, 65536);
    assert_memory_equal(d.salt, g.salt, SITX_SALT_LEN);
}

static void test_greeting_modes(void **state)
{
    struct sitx_greeting g = password_greeting();
    struct sitx_greeting d;
    uint8_t out[SITX_GREETING_LEN];

    (void)state;
    /* Password mode alone. */
    g.modes = SITX_AUTH_PASSWORD;
    sitx_greeting_encode(&g, out);
    assert_int_equal(sitx_greeting_decode(out, &d), 0);
    assert_int_equal(d.modes, SITX_AUTH_PASSWORD);

    /* Key mode alone: the Argon2id fields are all zero. */
    memset(&g, 0, sizeof(g));
    g.version = 1;
    g.modes = SITX_AUTH_KEY;
    sitx_greeting_encode(&g, out);
    assert_int_equal(out[5], 1);
    for (size_t i = 6; i < SITX_GREETING_LEN; i++) {
        assert_int_equal(out[i], 0);
    }
    assert_int_equal(sitx_greeting_decode(out, &d), 0);
    assert_int_equal(d.modes, SITX_AUTH_KEY);

    /* ...and must be. */
    out[11] = 3;
    expect_greeting_bad(out, SITX_E_MALFORMED,
                        "GREETING: Argon2id fields are not zero without password mode");
    out[11] = 0;
    out[31] = 1;
    expect_greeting_bad(out, SITX_E_MALFORMED,
                        "GREETING: Argon2id fields are not zero without password mode");
    out[31] = 0;
    out[14] = 1;
    expect_greeting_bad(out, SITX_E_MALFORMED,
                        "GREETING: Argon2id fields are not zero without password mode");
}

static void test_greeting_bad(void **state)
{
    struct sitx_greeting g = password_greeting();
    uint8_t good[SITX_GREETING_LEN];
    uint8_t in[SITX_GREETING_LEN];

    (void)state;
    sitx_greeting_encode(&g, good);

    memcpy(in, good, sizeof(in));
    in[0] = 'H';
    expect_greeting_bad(in, SITX_E_MALFORMED,
                        "GREETING: bad magic 48 49 54 58 (not a sitx receiver)");
    memcpy(in, good, sizeof(in));
    in[3] = 'Y';
    expect_greeting_bad(in, SITX_E_MALFORMED,
                        "GREETING: bad magic 53 49 54 59 (not a sitx receiver)");

    memcpy(in, good, sizeof(in));
    in[4] = 2;
    expect_greeting_bad(in, SITX_E_VERSION,
                        "GREETING: receiver speaks protocol version 2, we speak 1");
    in[4] = 0;
    expect_greeting_bad(in, SITX_E_VERSION,
                        "GREETING: receiver speaks protocol version 0, we speak 1");

    memcpy(in, good, sizeof(in));
    in[5] = 0;
    expect_greeting_bad(in, SITX_E_MALFORMED,
                        "GREETING: modes byte 0x00 is not a non-empty set of 0x01 and 0x02");
    for (int bit = 2; bit < 8; bit++) {
        in[5] = (uint8_t)(0x03 | 1u << bit);
        assert_int_equal(sitx_greeting_decode_err(in, &g, why, sizeof(why)), SITX_E_MALFORMED);
    }
    in[5] = 0x04;
    expect_greeting_bad(in, SITX_E_MALFORMED,
                        "GREETING: modes byte 0x04 is not a non-empty set of 0x01 and 0x02");

    memcpy(in, good, sizeof(in));
    in[6] = 1;
    expect_greeting_bad(in, SITX_E_MALFORMED, "GREETING: reserved bytes are 01 00, not zero");
    in[6] = 0;
    in[7] = 0x80;
    expect_greeting_bad(in, SITX_E_MALFORMED, "GREETING: reserved bytes are 00 80, not zero");
}

static void test_greeting_argon_bounds(void **state)
{
    struct sitx_greeting g = password_greeting();
    struct sitx_greeting d;
    uint8_t in[SITX_GREETING_LEN];

    (void)state;
    /* The bounds themselves are accepted. */
    g.argon_ops = SITX_ARGON_OPS_MIN;
    g.argon_mem_kib = SITX_ARGON_MEM_KIB_MIN;
    sitx_greeting_encode(&g, in);
    assert_int_equal(sitx_greeting_decode(in, &d), 0);
    g.argon_ops = SITX_ARGON_OPS_MAX;
    g.argon_mem_kib = SITX_ARGON_MEM_KIB_MAX;
    sitx_greeting_encode(&g, in);
    assert_int_equal(sitx_greeting_decode(in, &d), 0);
    assert_int_equal(d.argon_ops, 10);
    assert_int_equal(d.argon_mem_kib, 1048576);

    /* One past either end is not. */
    g = password_greeting();
    g.argon_ops = 1;
    sitx_greeting_encode(&g, in);
    expect_greeting_bad(in, SITX_E_MALFORMED, "GREETING: argon_ops 1 is outside 2..10");
    g.argon_ops = 11;
    sitx_greeting_encode(&g, in);
    expect_greeting_bad(in, SITX_E_MALFORMED, "GREETING: argon_ops 11 is outside 2..10");
    g.argon_ops = 0xFFFFFFFF;
    sitx_greeting_encode(&g, in);
    expect_greeting_bad(in, SITX_E_MALFORMED, "GREETING: argon_ops 4294967295 is outside 2..10");
    g = password_greeting();
    g.argon_mem_kib = 32767;
    sitx_greeting_encode(&g, in);
    expect_greeting_bad(in, SITX_E_MALFORMED,
                        "GREETING: argon_mem_kib 32767 is outside 32768..1048576");
    g.argon_mem_kib = 1048577;
    sitx_greeting_encode(&g, in);
    expect_greeting_bad(in, SITX_E_MALFORMED,
                        "GREETING: argon_mem_kib 1048577 is outside 32768..1048576");
    g.argon_mem_kib = 0;
    sitx_greeting_encode(&g, in);
    expect_greeting_bad(in, SITX_E_MALFORMED,
                        "GREETING: argon_mem_kib 0 is outside 32768..1048576");
}

static void test_hello(void **state)
{
    struct sitx_hello h = {SITX_PROTO_VERSION, SITX_AUTH_PASSWORD, 0};
    struct sitx_hello d;
    uint8_t out[SITX_HELLO_LEN];
    uint8_t in[SITX_HELLO_LEN];
    static const uint8_t want[SITX_HELLO_LEN] = {0x53, 0x49, 0x54, 0x58, 0x01, 0x02, 0x00, 0x00};

    (void)state;
    sitx_hello_encode(&h, out);
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(sitx_hello_decode_err(out, &d, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(d.version, 1);
    assert_int_equal(d.mode, SITX_AUTH_PASSWORD);
    h.mode = SITX_AUTH_KEY;
    sitx_hello_encode(&h, out);
    assert_int_equal(sitx_hello_decode(out, &d), 0);
    assert_int_equal(d.mode, SITX_AUTH_KEY);

    memcpy(in, out, sizeof(in));
    in[1] = 'i';
    expect_hello_bad(in, SITX_E_MALFORMED, "HELLO: bad magic 53 69 54 58 (not a sitx sender)");
    /* Versions 1 and 2 are spoken; above that the version is reported, 0 is malformed. */
    memcpy(in, out, sizeof(in));
    in[4] = 2;
    assert_int_equal(sitx_hello_decode_err(in, &d, why, sizeof(why)), 0);
    assert_int_equal(d.version, SITX_PROTO_V2);
    in[4] = 3;
    expect_hello_bad(in, SITX_E_VERSION, "HELLO: sender asks for protocol version 3, we speak 1..2");
    assert_int_equal(sitx_hello_decode(in, &d), SITX_E_VERSION);
    assert_int_equal(d.version, 3);
    in[5] = 0x77; /* a later version's other fields are not judged */
    in[4] = 0xff;
    assert_int_equal(sitx_hello_decode(in, &d), SITX_E_VERSION);
    memcpy(in, out, sizeof(in));
    in[4] = 0;
    expect_hello_bad(in, SITX_E_MALFORMED, "HELLO: protocol version 0 is not one");
    memcpy(in, out, sizeof(in));
    memcpy(in, out, sizeof(in));
    for (unsigned mode = 0; mode < 256; mode++) {
        in[5] = (uint8_t)mode;
        if (mode == 1 || mode == 2) {
            assert_int_equal(sitx_hello_decode(in, &d), 0);
        } else {
            assert_int_equal(sitx_hello_decode(in, &d), SITX_E_MALFORMED);
        }
    }
    in[5] = 3;
    expect_hello_bad(in, SITX_E_MALFORMED, "HELLO: mode 0x03 is neither 1 (key) nor 2 (password)");
    in[5] = 0;
    expect_hello_bad(in, SITX_E_MALFORMED, "HELLO: mode 0x00 is neither 1 (key) nor 2 (password)");
    memcpy(in, out, sizeof(in));
    in[7] = 1;
    expect_hello_bad(in, SITX_E_MALFORMED, "HELLO: flags 00 or reserved byte 01 not understood");
    memcpy(in, out, sizeof(in));
    in[6] = 2;
    expect_hello_bad(in, SITX_E_MALFORMED, "HELLO: flags 02 or reserved byte 00 not understood");
}

/* Byte 6 carries the pairing flag, in key mode only (PROTOCOL.md section 14). */
static void test_hello_pair_flag(void **state)
{
    struct sitx_hello h = {SITX_PROTO_VERSION, SITX_AUTH_KEY, SITX_HELLO_FLAG_PAIR};
    struct sitx_hello d;
    uint8_t out[SITX_HELLO_LEN];
    static const uint8_t want[SITX_HELLO_LEN] = {0x53, 0x49, 0x54, 0x58, 0x01, 0x01, 0x01, 0x00};

    (void)state;
    sitx_hello_encode(&h, out);
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(sitx_hello_decode_err(out, &d, why, sizeof(why)), 0);
    assert_int_equal(d.flags, SITX_HELLO_FLAG_PAIR);
    assert_int_equal(d.mode, SITX_AUTH_KEY);
    out[5] = SITX_AUTH_PASSWORD;
    expect_hello_bad(out, SITX_E_MALFORMED, "HELLO: pairing asked for in mode 2, not key mode");
    /* A HELLO without the flag decodes with flags 0, as every sender before it sent. */
    out[5] = SITX_AUTH_KEY;
    out[6] = 0;
    assert_int_equal(sitx_hello_decode(out, &d), 0);
    assert_int_equal(d.flags, 0);
}

static void test_prologue(void **state)
{
    struct sitx_greeting g = password_greeting();
    struct sitx_hello h = {SITX_PROTO_VERSION, SITX_AUTH_PASSWORD, 0};
    uint8_t gb[SITX_GREETING_LEN];
    uint8_t hb[SITX_HELLO_LEN];
    uint8_t p[SITX_PROLOGUE_LEN + 1];

    (void)state;
    assert_int_equal(SITX_PROLOGUE_LEN, 55);
    sitx_greeting_encode(&g, gb);
    sitx_hello_encode(&h, hb);
    p[SITX_PROLOGUE_LEN] = 0x77;
    sitx_prologue_build(gb, hb, p);
    assert_memory_equal(p, "sitx/1 prologue", 15);
    assert_memory_equal(p + 15, gb, SITX_GREETING_LEN);
    assert_memory_equal(p + 47, hb, SITX_HELLO_LEN);
    assert_int_equal(p[SITX_PROLOGUE_LEN], 0x77);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_bytes),
        cmocka_unit_test(test_greeting_modes),
        cmocka_unit_test(test_greeting_bad),
        cmocka_unit_test(test_greeting_argon_bounds),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_hello_pair_flag),
        cmocka_unit_test(test_prologue),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
