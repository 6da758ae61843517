/* common/hex.c: hex digits, and the lower-case hex names we derive
 * (fingerprints, partial files) told apart from anything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hex.h"

static void test_hexval(void **state)
{
    (void)state;
    assert_int_equal(sitx_hexval('0'), 0);
    assert_int_equal(sitx_hexval('9'), 9);
    assert_int_equal(sitx_hexval('a'), 10);
    assert_int_equal(sitx_hexval('F'), 15);
    assert_int_equal(sitx_hexval('g'), -1);
    assert_int_equal(sitx_hexval('/'), -1);
    assert_int_equal(sitx_hexval(':'), -1);
    assert_int_equal(sitx_hexval(0), -1);
}

static void test_is_lower_hex(void **state)
{
    (void)state;
    assert_int_equal(sitx_is_lower_hex("3f9a0c77d41e52c1", 16), 1);
    assert_int_equal(sitx_is_lower_hex("0123456789abcdef", 16), 1);
    /* The length is exact, either way. */
    assert_int_equal(sitx_is_lower_hex("3f9a0c77d41e52c", 16), 0);
    assert_int_equal(sitx_is_lower_hex("3f9a0c77d41e52c10", 16), 0);
    assert_int_equal(sitx_is_lower_hex("", 0), 1);
    assert_int_equal(sitx_is_lower_hex("", 1), 0);
    /* Only what sodium_bin2hex writes: no upper case, no other letter. */
    assert_int_equal(sitx_is_lower_hex("3F9A0C77D41E52C1", 16), 0);
    assert_int_equal(sitx_is_lower_hex("3f9a0c77d41e52cg", 16), 0);
    assert_int_equal(sitx_is_lower_hex("3f9a0c77-41e52c1", 16), 0);
    assert_int_equal(sitx_is_lower_hex(".f9a0c77d41e52c1", 16), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hexval),
        cmocka_unit_test(test_is_lower_hex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
