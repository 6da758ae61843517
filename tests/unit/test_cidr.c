/* Trusted-proxy ranges: what parses, what is refused and why, and which
 * addresses fall inside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"
#include "err.h"

static char why[160];

static void expect_bad(const char *text, const char *reason)
{
    struct sitx_cidr c;

    why[0] = '\0';
    assert_int_equal(sitx_cidr_parse(text, &c, why, sizeof(why)), SITX_E_INVALID);
    assert_string_equal(why, reason);
}

static void test_parse(void **state)
{
    struct sitx_cidr c;

    (void)state;
    assert_int_equal(sitx_cidr_parse("10.0.0.0/8", &c, why, sizeof(why)), 0);
    assert_int_equal(c.family, 4);
    assert_int_equal(c.bits, 8);
    assert_int_equal(c.addr[0], 10);
    assert_int_equal(sitx_cidr_parse("127.0.0.5", &c, why, sizeof(why)), 0);
    assert_int_equal(c.bits, 32);
    assert_int_equal(sitx_cidr_parse("2001:db8::/32", &c, why, sizeof(why)), 0);
    assert_int_equal(c.family, 6);
    assert_int_equal(c.bits, 32);
    assert_int_equal(sitx_cidr_parse("::1", &c, why, sizeof(why)), 0);
    assert_int_equal(c.bits, 128);
    assert_int_equal(sitx_cidr_parse("0.0.0.0/0", &c, why, sizeof(why)), 0);
    assert_int_equal(c.bits, 0);
    assert_int_equal(sitx_cidr_parse("192.168.1.128/25", &c, why, sizeof(why)), 0);
}

static void test_parse_bad(void **state)
{
    (void)state;
    expect_bad("", "`': not an IPv4 or IPv6 address");
    expect_bad("localhost", "`localhost': not an IPv4 or IPv6 address");
    expect_bad("10.0.0/8", "`10.0.0/8': not an IPv4 or IPv6 address");
    expect_bad("10.0.0.0/33", "`10.0.0.0/33': prefix length is not 0 to 32");
    expect_bad("10.0.0.0/", "`10.0.0.0/': prefix length is not 0 to 32");
    expect_bad("10.0.0.0/8/8", "`10.0.0.0/8/8': prefix length is not 0 to 32");
    expect_bad("10.0.0.0/-1", "`10.0.0.0/-1': prefix length is not 0 to 32");
    expect_bad("::/129", "`::/129': prefix length is not 0 to 128");
    expect_bad("10.1.2.3/8", "`10.1.2.3/8': address has bits set past the prefix length");
    expect_bad("192.168.1.129/25",
               "`192.168.1.129/25': address has bits set past the prefix length");
    expect_bad("2001:db8::1/64", "`2001:db8::1/64': address has bits set past the prefix length");
    expect_bad("fe80::1%lo", "`fe80::1%lo': not an IPv4 or IPv6 address");
    expect_bad("01234567890123456789012345678901234567890123456789012345678901234",
               "`0123456789012345678901234567890123456789012345678901234567890123': too long "
               "for an address range");
}

static void test_list(void **state)
{
    struct sitx_cidr list[3];
    size_t n = 0;

    (void)state;
    assert_int_equal(sitx_cidr_list_parse("127.0.0.5,10.0.0.0/8,::1", list, 3, &n, why,
                                          sizeof(why)),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(list[2].family, 6);
    assert_int_equal(sitx_cidr_list_parse("127.0.0.5,,::1", list, 3, &n, why, sizeof(why)),
                     SITX_E_INVALID);
    assert_string_equal(why, "`127.0.0.5,,::1': empty entry in the list");
    assert_int_equal(sitx_cidr_list_parse("127.0.0.5,", list, 3, &n, why, sizeof(why)),
                     SITX_E_INVALID);
    assert_string_equal(why, "`127.0.0.5,': empty entry in the list");
    assert_int_equal(sitx_cidr_list_parse("1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4", list, 3, &n, why,
                                          sizeof(why)),
                     SITX_E_INVALID);
    assert_string_equal(why, "more than 3 address ranges");
    assert_int_equal(sitx_cidr_list_parse("1.1.1.1,bad", list, 3, &n, why, sizeof(why)),
                     SITX_E_INVALID);
    assert_string_equal(why, "`bad': not an IPv4 or IPv6 address");
}

static void test_match(void **state)
{
    struct sitx_cidr list[SITX_CIDR_LIST_MAX];
    size_t n = 0;

    (void)state;
    assert_int_equal(sitx_cidr_list_parse("127.0.0.5,10.0.0.0/8,192.168.1.128/25,2001:db8::/32",
                                          list, SITX_CIDR_LIST_MAX, &n, why, sizeof(why)),
                     0);
    assert_true(sitx_cidr_match(list, n, "127.0.0.5"));
    assert_false(sitx_cidr_match(list, n, "127.0.0.1"));
    assert_false(sitx_cidr_match(list, n, "127.0.0.50"));
    assert_true(sitx_cidr_match(list, n, "10.255.255.255"));
    assert_false(sitx_cidr_match(list, n, "11.0.0.0"));
    assert_true(sitx_cidr_match(list, n, "192.168.1.128"));
    assert_true(sitx_cidr_match(list, n, "192.168.1.255"));
    assert_false(sitx_cidr_match(list, n, "192.168.1.127"));
    assert_true(sitx_cidr_match(list, n, "2001:db8:ffff::1"));
    assert_false(sitx_cidr_match(list, n, "2001:db9::1"));
    /* The v4-mapped form of a trusted IPv4 address is the same host. */
    assert_true(sitx_cidr_match(list, n, "::ffff:127.0.0.5"));
    assert_false(sitx_cidr_match(list, n, "::ffff:127.0.0.6"));
    /* An IPv4 range does not match IPv6 addresses that merely share bits. */
    assert_false(sitx_cidr_match(list, n, "a00::"));
    assert_false(sitx_cidr_match(list, n, "not-an-address"));
    assert_false(sitx_cidr_match(list, n, ""));
    assert_false(sitx_cidr_match(list, 0, "127.0.0.5"));
    /* /0 matches every address of its family only. */
    assert_int_equal(sitx_cidr_list_parse("0.0.0.0/0", list, 1, &n, why, sizeof(why)), 0);
    assert_true(sitx_cidr_match(list, n, "203.0.113.1"));
    assert_false(sitx_cidr_match(list, n, "::1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_match),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
