/* JSON writer: exact output for each member type, RFC 8259 escaping checked
 * both byte for byte and by parsing the result with cJSON, and the sticky
 * overflow error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "json.h"

static void test_members_exact(void **state)
{
    char buf[256];
    struct sitx_json j;
    int n;

    (void)state;
    sitx_json_begin(&j, buf, sizeof(buf));
    sitx_json_str(&j, "name", "scan.png");
    sitx_json_str(&j, "none", NULL);
    sitx_json_u64(&j, "size", UINT64_MAX);
    sitx_json_i64(&j, "min", INT64_MIN);
    sitx_json_i64(&j, "neg", -5);
    sitx_json_bool(&j, "ok", 1);
    sitx_json_bool(&j, "bad", 0);
    sitx_json_strn(&j, "part", "abcdef", 3);
    n = sitx_json_end(&j);
    assert_string_equal(buf, "{\"name\":\"scan.png\",\"none\":null,"
                             "\"size\":18446744073709551615,\"min\":-9223372036854775808,"
                             "\"neg\":-5,\"ok\":true,\"bad\":false,\"part\":\"abc\"}");
    assert_int_equal(n, (int)strlen(buf));
    assert_int_equal(j.count, 8);
}

static void test_empty_object(void **state)
{
    char buf[4];
    struct sitx_json j;

    (void)state;
    sitx_json_begin(&j, buf, sizeof(buf));
    assert_int_equal(sitx_json_end(&j), 2);
    assert_string_equal(buf, "{}");
}

struct esc_case {
    const char *in;
    size_t len;
    const char *want; /* the JSON string literal, quotes included */
};

static void test_escaping_exact(void **state)
{
    static const struct esc_case cases[] = {
        {"plain", 5, "\"plain\""},
        {"q\"uote", 6, "\"q\\\"uote\""},
        {"back\\slash", 10, "\"back\\\\slash\""},
        {"nl\ncr\rtab\t", 10, "\"nl\\u000acr\\u000dtab\\u0009\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"nul\0x", 5, "\"nul\\u0000x\""},
        {"del\x7f", 4, "\"del\x7f\""},
        {"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""},
        {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
        {"bad\xff", 4, "\"bad\xef\xbf\xbd\""},
        {"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},                 /* overlong */
        {"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
        {"cut\xe2\x82", 5, "\"cut\xef\xbf\xbd\xef\xbf\xbd\""},
        {"/slash", 6, "\"/slash\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[128];
        char want[160];
        struct sitx_json j;

        sitx_json_begin(&j, buf, sizeof(buf));
        sitx_json_strn(&j, "k", cases[i].in, cases[i].len);
        assert_true(sitx_json_end(&j) > 0);
        snprintf(want, sizeof(want), "{\"k\":%s}", cases[i].want);
        if (strcmp(buf, want) != 0) {
            fail_msg("case %zu: got %s want %s", i, buf, want);
        }
    }
}

/* Every byte value through the writer; cJSON must parse the result and give
 * back the ASCII bytes exactly. */
static void test_all_bytes_parse(void **state)
{
    char in[256];
    char buf[2048];
    struct sitx_json j;
    cJSON *root;
    cJSON *v;
    const char *s;

    (void)state;
    for (int i = 0; i < 256; i++) {
        in[i] = (char)i;
    }
    sitx_json_begin(&j, buf, sizeof(buf));
    sitx_json_strn(&j, "ascii", in + 1, 127); /* cJSON strings stop at NUL */
    sitx_json_strn(&j, "high", in + 128, 128);
    sitx_json_str(&j, "key \"with\" quotes", "v");
    assert_true(sitx_json_end(&j) > 0);

    root = cJSON_Parse(buf);
    assert_non_null(root);
    v = cJSON_GetObjectItemCaseSensitive(root, "ascii");
    assert_true(cJSON_IsString(v));
    s = cJSON_GetStringValue(v);
    assert_int_equal(strlen(s), 127);
    assert_memory_equal(s, in + 1, 127);
    v = cJSON_GetObjectItemCaseSensitive(root, "high");
    assert_true(cJSON_IsString(v));
    /* 128 lone bytes of 0x80-0xff: each becomes U+FFFD (3 bytes). */
    assert_int_equal(strlen(cJSON_GetStringValue(v)), 128 * 3);
    v = cJSON_GetObjectItemCaseSensitive(root, "key \"with\" quotes");
    assert_true(cJSON_IsString(v));
    assert_string_equal(cJSON_GetStringValue(v), "v");
    cJSON_Delete(root);
}

static void test_overflow_is_sticky(void **state)
{
    char buf[32];
    struct sitx_json j;

    (void)state;
    memset(buf, 'Z', sizeof(buf));
    sitx_json_begin(&j, buf, 16);
    sitx_json_str(&j, "a", "1234567890");
    assert_true(j.err != 0);
    /* A small member that would fit now must not be written after the error. */
    sitx_json_bool(&j, "b", 1);
    assert_int_equal(sitx_json_end(&j), -1);
    assert_true(j.err != 0);
    assert_true(j.len < 16);
    assert_int_equal(buf[j.len], '\0');
    assert_null(strstr(buf, "\"b\""));
    /* Nothing written past cap. */
    assert_int_equal(buf[16], 'Z');
}

static void test_exact_fit(void **state)
{
    char buf[64];
    struct sitx_json j;
    const char *want = "{\"a\":\"xy\"}";
    size_t n = strlen(want);

    (void)state;
    /* n + 1 (NUL) is exactly enough; one byte less is not. */
    sitx_json_begin(&j, buf, n + 1);
    sitx_json_str(&j, "a", "xy");
    assert_int_equal(sitx_json_end(&j), (int)n);
    assert_string_equal(buf, want);

    sitx_json_begin(&j, buf, n);
    sitx_json_str(&j, "a", "xy");
    assert_int_equal(sitx_json_end(&j), -1);
}

static void test_zero_cap(void **state)
{
    struct sitx_json j;
    char c = 'Z';

    (void)state;
    sitx_json_begin(&j, &c, 0);
    sitx_json_u64(&j, "x", 1);
    assert_int_equal(sitx_json_end(&j), -1);
    assert_int_equal(c, 'Z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_exact),      cmocka_unit_test(test_empty_object),
        cmocka_unit_test(test_escaping_exact),     cmocka_unit_test(test_all_bytes_parse),
        cmocka_unit_test(test_overflow_is_sticky), cmocka_unit_test(test_exact_fit),
        cmocka_unit_test(test_zero_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
