/* The control socket's command parser: the three commands, bounds on the
 * window, and everything else refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"
#include "err.h"

static int parse(const char *s, uint64_t *ms, char *err, size_t cap)
{
    return sitx_ctl_parse_command(s, strlen(s), 3600000, ms, err, cap);
}

static void test_commands(void **state)
{
    char err[128];
    uint64_t ms = 1;

    (void)state;
    assert_int_equal(parse("yes", &ms, err, sizeof(err)), SITX_CTL_YES);
    assert_int_equal(parse("no\r", &ms, err, sizeof(err)), SITX_CTL_NO);
    assert_int_equal(parse("open 120000", &ms, err, sizeof(err)), SITX_CTL_OPEN);
    assert_int_equal(ms, 120000);
    assert_int_equal(parse("open 3600000", &ms, err, sizeof(err)), SITX_CTL_OPEN);
}

static void test_bad(void **state)
{
    char err[128];
    uint64_t ms = 1;
    char longline[SITX_CTL_LINE_MAX + 2];

    (void)state;
    assert_int_equal(parse("open 3600001", &ms, err, sizeof(err)), SITX_E_TOO_LARGE);
    assert_string_equal(err, "open: more than 3600000 ms");
    assert_int_equal(parse("open 99999999999999999999999", &ms, err, sizeof(err)),
                     SITX_E_TOO_LARGE);
    assert_int_equal(parse("open 0", &ms, err, sizeof(err)), SITX_E_MALFORMED);
    assert_int_equal(parse("open ", &ms, err, sizeof(err)), SITX_E_MALFORMED);
    assert_int_equal(parse("open -5", &ms, err, sizeof(err)), SITX_E_MALFORMED);
    assert_string_equal(err, "open: not a number of milliseconds");
    assert_int_equal(parse("YES", &ms, err, sizeof(err)), SITX_E_MALFORMED);
    assert_int_equal(parse("yes ", &ms, err, sizeof(err)), SITX_E_MALFORMED);
    assert_int_equal(parse("", &ms, err, sizeof(err)), SITX_E_MALFORMED);
    assert_string_equal(err, "unknown command (want open MS, yes or no)");
    memset(longline, 'y', sizeof(longline));
    assert_int_equal(sitx_ctl_parse_command(longline, sizeof(longline), 10, &ms, err, sizeof(err)),
                     SITX_E_TOO_LARGE);
    assert_int_equal(ms, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
