/* Pairing messages (proto/pair.c): exact bytes of each, round trips, and
 * every malformed input refused with its code and reason, also when cut
 * one byte short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "pair.h"

static char why[160];

static void expect_bad(const uint8_t *in, size_t len, int err, const char *reason)
{
    struct sitx_pair_msg m;
    int rc = sitx_pair_decode(in, len, &m, why, sizeof(why));

    if (rc != err) {
        fail_msg("decode gave %d (\"%s\"), expected %d", rc, why, err);
    }
    assert_string_equal(why, reason);
}

static void test_request(void **state)
{
    struct sitx_pair_msg m = {SITX_PAIR_REQUEST, 0, "laptop"};
    struct sitx_pair_msg d;
    static const uint8_t want[] = {0x10, 0x00, 0x06, 'l', 'a', 'p', 't', 'o', 'p'};
    uint8_t out[SITX_PAIR_MSG_MAX];
    size_t len = 0;

    (void)state;
    assert_int_equal(sitx_pair_encode(&m, out, sizeof(out), &len), 0);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(sitx_pair_decode(out, len, &d, why, sizeof(why)), 0);
    assert_int_equal(d.type, SITX_PAIR_REQUEST);
    assert_string_equal(d.text, "laptop");
    /* Every shorter prefix is truncated, never accepted. */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(sitx_pair_decode(out, n, &d, NULL, 0), SITX_E_TRUNCATED);
    }
    out[len] = 0;
    expect_bad(out, len + 1, SITX_E_TRAILING, "1 bytes after the text");
    expect_bad((const uint8_t *)"\x10\x00\x00", 3, SITX_E_MALFORMED, "REQUEST has an empty name");
    expect_bad((const uint8_t *)"\x10\x00\x41", 3, SITX_E_TOO_LARGE,
               "text of 65 bytes, over the limit of 64");
    expect_bad((const uint8_t *)"\x10\x00\x02\x41\x0a", 5, SITX_E_BAD_UTF8,
               "text is not UTF-8 without control characters");
    m.text[0] = '\0';
    assert_int_equal(sitx_pair_encode(&m, out, sizeof(out), &len), SITX_E_INVALID);
    memset(m.text, 'a', 65);
    m.text[65] = '\0';
    assert_int_equal(sitx_pair_encode(&m, out, sizeof(out), &len), SITX_E_INVALID);
}

static void test_confirm(void **state)
{
    struct sitx_pair_msg m = {SITX_PAIR_CONFIRM, 1, ""};
    struct sitx_pair_msg d;
    uint8_t out[4];
    size_t len = 0;

    (void)state;
    assert_int_equal(sitx_pair_encode(&m, out, sizeof(out), &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "\x11\x01", 2);
    assert_int_equal(sitx_pair_decode(out, len, &d, NULL, 0), 0);
    assert_int_equal(d.value, 1);
    assert_int_equal(sitx_pair_decode((const uint8_t *)"\x11\x00", 2, &d, NULL, 0), 0);
    assert_int_equal(d.value, 0);
    expect_bad((const uint8_t *)"\x11", 1, SITX_E_TRUNCATED, "CONFIRM has no answer");
    expect_bad((const uint8_t *)"\x11\x02", 2, SITX_E_MALFORMED,
               "CONFIRM answer 2 is neither 0 nor 1");
    expect_bad((const uint8_t *)"\x11\x01\x00", 3, SITX_E_TRAILING,
               "CONFIRM has 1 bytes after its answer");
    m.value = 2;
    assert_int_equal(sitx_pair_encode(&m, out, sizeof(out), &len), SITX_E_INVALID);
    m.value = 1;
    assert_int_equal(sitx_pair_encode(&m, out, 1, &len), SITX_E_BUFFER);
}

static void test_done(void **state)
{
    struct sitx_pair_msg m = {SITX_PAIR_DONE, SITX_PAIR_DECLINED, "no"};
    struct sitx_pair_msg d;
    static const uint8_t want[] = {0x12, 0x02, 0x00, 0x02, 'n', 'o'};
    uint8_t out[SITX_PAIR_MSG_MAX];
    size_t len = 0;

    (void)state;
    assert_int_equal(sitx_pair_encode(&m, out, sizeof(out), &len), 0);
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(sitx_pair_decode(out, len, &d, NULL, 0), 0);
    assert_int_equal(d.value, SITX_PAIR_DECLINED);
    assert_string_equal(d.text, "no");
    /* An empty message is fine in DONE. */
    assert_int_equal(sitx_pair_decode((const uint8_t *)"\x12\x00\x00\x00", 4, &d, NULL, 0), 0);
    assert_int_equal(d.value, SITX_PAIR_PAIRED);
    expect_bad((const uint8_t *)"\x12\x05\x00\x00", 4, SITX_E_MALFORMED,
               "DONE status 5 is unknown");
    expect_bad((const uint8_t *)"\x12", 1, SITX_E_TRUNCATED, "DONE has no status");
    expect_bad((const uint8_t *)"\x12\x00\x00\x03no", 6, SITX_E_TRUNCATED,
               "text of 3 bytes runs past the end");
    assert_int_equal(sitx_pair_encode(&m, out, 5, &len), SITX_E_BUFFER);
    assert_string_equal(sitx_pair_status_name(SITX_PAIR_TIMEOUT), "timeout");
    assert_string_equal(sitx_pair_status_name(9), "unknown");
}

static void test_unknown(void **state)
{
    struct sitx_pair_msg m = {0x01, 0, "x"};
    uint8_t out[8];
    size_t len = 0;

    (void)state;
    /* A record (OFFER is type 1) is not a pairing message, nor is nothing. */
    expect_bad((const uint8_t *)"\x01\x00", 2, SITX_E_UNKNOWN_TYPE, "pairing message of type 0x01");
    expect_bad((const uint8_t *)"", 0, SITX_E_TRUNCATED, "empty pairing message");
    assert_int_equal(sitx_pair_encode(&m, out, sizeof(out), &len), SITX_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_confirm),
        cmocka_unit_test(test_done),
        cmocka_unit_test(test_unknown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
