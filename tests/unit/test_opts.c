/* Command-line value parsers: tables of good and bad input, with overflow
 * at the edges of uint64_t, and a failed parse leaving the output alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "opts.h"

struct u64_case {
    const char *in;
    int rc;
    uint64_t want;
};

static void test_size(void **state)
{
    static const struct u64_case cases[] = {
        {"0", 0, 0},
        {"123", 0, 123},
        {"007", 0, 7},
        {"10k", 0, 10240},
        {"10K", 0, 10240},
        {"5M", 0, 5u * 1024 * 1024},
        {"5m", 0, 5u * 1024 * 1024},
        {"2G", 0, 2ull * 1024 * 1024 * 1024},
        {"3T", 0, 3ull << 40},
        {"18446744073709551615", 0, UINT64_MAX},
        {"16777215T", 0, 16777215ull << 40},
        {"18446744073709551616", SITX_E_INVALID, 0}, /* UINT64_MAX + 1 */
        {"99999999999999999999999", SITX_E_INVALID, 0},
        {"16777216T", SITX_E_INVALID, 0}, /* 2^64 */
        {"17179869184G", SITX_E_INVALID, 0},
        {"1.5M", SITX_E_INVALID, 0},
        {"", SITX_E_INVALID, 0},
        {"M", SITX_E_INVALID, 0},
        {"-1", SITX_E_INVALID, 0},
        {"+1", SITX_E_INVALID, 0},
        {" 1", SITX_E_INVALID, 0},
        {"1 ", SITX_E_INVALID, 0},
        {"10kb", SITX_E_INVALID, 0},
        {"10KK", SITX_E_INVALID, 0},
        {"10x", SITX_E_INVALID, 0},
        {"0x10", SITX_E_INVALID, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0xabcdefu;
        int rc = sitx_parse_size(cases[i].in, &v);

        if (rc != cases[i].rc) {
            fail_msg("size \"%s\": rc %d want %d", cases[i].in, rc, cases[i].rc);
        }
        if (rc == 0) {
            assert_int_equal(v, cases[i].want);
        } else {
            assert_int_equal(v, 0xabcdefu);
        }
    }
    assert_int_equal(sitx_parse_size(NULL, &(uint64_t){0}), SITX_E_INVALID);
}

static void test_duration(void **state)
{
    static const struct u64_case cases[] = {
        {"10", 0, 10000},
        {"0", 0, 0},
        {"10s", 0, 10000},
        {"500ms", 0, 500},
        {"2m", 0, 120000},
        {"1h", 0, 3600000},
        {"18446744073709551615ms", 0, UINT64_MAX},
        {"18446744073709551615s", SITX_E_INVALID, 0},
        {"18446744073709552s", SITX_E_INVALID, 0},
        {"18446744073709551s", 0, 18446744073709551000ull},
        {"1.5s", SITX_E_INVALID, 0},
        {"s", SITX_E_INVALID, 0},
        {"", SITX_E_INVALID, 0},
        {"10 s", SITX_E_INVALID, 0},
        {"10sec", SITX_E_INVALID, 0},
        {"10mss", SITX_E_INVALID, 0},
        {"10S", SITX_E_INVALID, 0},
        {"-5s", SITX_E_INVALID, 0},
        {"5d", SITX_E_INVALID, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0xabcdefu;
        int rc = sitx_parse_duration_ms(cases[i].in, &v);

        if (rc != cases[i].rc) {
            fail_msg("duration \"%s\": rc %d want %d", cases[i].in, rc, cases[i].rc);
        }
        assert_int_equal(v, rc == 0 ? cases[i].want : 0xabcdefu);
    }
}

static void test_uint(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(sitx_parse_uint("5", 1, 10, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(sitx_parse_uint("1", 1, 10, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(sitx_parse_uint("10", 1, 10, &v), 0);
    assert_int_equal(v, 10);
    v = 77;
    assert_int_equal(sitx_parse_uint("0", 1, 10, &v), SITX_E_INVALID);
    assert_int_equal(sitx_parse_uint("11", 1, 10, &v), SITX_E_INVALID);
    assert_int_equal(sitx_parse_uint("5k", 1, 10, &v), SITX_E_INVALID);
    assert_int_equal(sitx_parse_uint("", 0, 10, &v), SITX_E_INVALID);
    assert_int_equal(sitx_parse_uint("-1", 0, UINT64_MAX, &v), SITX_E_INVALID);
    assert_int_equal(sitx_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), SITX_E_INVALID);
    assert_int_equal(v, 77);
    assert_int_equal(sitx_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_int_equal(v, UINT64_MAX);
}

struct hp_case {
    const char *in;
    int rc;
    const char *host;
    uint16_t port;
};

static void test_hostport(void **state)
{
    static const struct hp_case cases[] = {
        {"example.org", 0, "example.org", 7717},
        {"example.org:9000", 0, "example.org", 9000},
        {"1.2.3.4:1", 0, "1.2.3.4", 1},
        {"1.2.3.4:65535", 0, "1.2.3.4", 65535},
        {"[::1]:8080", 0, "::1", 8080},
        {"[::1]", 0, "::1", 7717},
        {"[fe80::1%eth0]:22", 0, "fe80::1%eth0", 22},
        {"::1", 0, "::1", 7717},
        {"my_host-1", 0, "my_host-1", 7717},
        {"host:0", SITX_E_INVALID, NULL, 0},
        {"host:65536", SITX_E_INVALID, NULL, 0},
        {"host:", SITX_E_INVALID, NULL, 0},
        {"host:12x", SITX_E_INVALID, NULL, 0},
        {"host:-1", SITX_E_INVALID, NULL, 0},
        {":7717", SITX_E_INVALID, NULL, 0},
        {"", SITX_E_INVALID, NULL, 0},
        {"[::1", SITX_E_INVALID, NULL, 0},
        {"[::1]x", SITX_E_INVALID, NULL, 0},
        {"[::1]:", SITX_E_INVALID, NULL, 0},
        {"[]:80", SITX_E_INVALID, NULL, 0},
        {"ho st", SITX_E_INVALID, NULL, 0},
        {"host/path", SITX_E_INVALID, NULL, 0},
        {"user@host", SITX_E_INVALID, NULL, 0},
        {"host\n", SITX_E_INVALID, NULL, 0},
        {"[a b]:1", SITX_E_INVALID, NULL, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char host[SITX_HOST_MAX];
        uint16_t port = 4242;
        int rc;

        strcpy(host, "untouched");
        rc = sitx_parse_hostport(cases[i].in, 7717, host, &port);
        if (rc != cases[i].rc) {
            fail_msg("hostport \"%s\": rc %d want %d", cases[i].in, rc, cases[i].rc);
        }
        if (rc == 0) {
            assert_string_equal(host, cases[i].host);
            assert_int_equal(port, cases[i].port);
        } else {
            assert_string_equal(host, "untouched");
            assert_int_equal(port, 4242);
        }
    }
}

static void test_hostport_length(void **state)
{
    char in[SITX_HOST_MAX + 16];
    char host[SITX_HOST_MAX];
    uint16_t port = 0;

    (void)state;
    memset(in, 'a', SITX_HOST_MAX - 1);
    in[SITX_HOST_MAX - 1] = '\0';
    assert_int_equal(sitx_parse_hostport(in, 1, host, &port), 0);
    assert_int_equal(strlen(host), SITX_HOST_MAX - 1);
    assert_int_equal(port, 1);
    in[SITX_HOST_MAX - 1] = 'a';
    strcpy(in + SITX_HOST_MAX, ":80");
    assert_int_equal(sitx_parse_hostport(in, 1, host, &port), SITX_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_hostport_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
