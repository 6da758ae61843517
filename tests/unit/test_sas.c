/* The pairing code: fixed handshake hashes give fixed codes (computed
 * independently, with Python's hashlib.blake2b, from the rule in sas.h),
 * the rejection limit is exact, every window position can supply the code,
 * codes spread evenly, and typed input is matched strictly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sas.h"
#include "testutil.h"

/* The XX handshake hash of PROTOCOL.md section 12.4. */
static const char *XX_H = "5b5fede9eb9af064d53b60457f71ccae74c13c896f6142acd4c2a5804e8ca35d"
                          "70f54aa36c45d04db9721e839cac28b969c5a94b1a0d91fd709522f9eb64c970";

static int setup_sodium(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void test_fixed_codes(void **state)
{
    uint8_t *h = NULL;
    size_t len = 0;
    uint8_t zero[SITX_HASHLEN] = {0};
    char code[SITX_SAS_DIGITS + 1];

    (void)state;
    assert_int_equal(tu_hex_decode(XX_H, &h, &len), 0);
    assert_int_equal(len, SITX_HASHLEN);
    sitx_sas_code(h, code);
    assert_string_equal(code, "494875");
    sitx_sas_code(zero, code);
    assert_string_equal(code, "046980"); /* leading zeros are kept: always six digits */
    /* One bit of h changes the code (a relay's two hashes give two codes). */
    h[63] ^= 1;
    sitx_sas_code(h, code);
    assert_string_not_equal(code, "494875");
    free(h);
}

static void test_rejection_limit(void **state)
{
    const uint64_t limit = 18446744073709000000ull; /* floor(2^64 / 10^6) * 10^6 */
    uint32_t code = 7;

    (void)state;
    assert_int_equal(sitx_sas_take(0, &code), 1);
    assert_int_equal(code, 0);
    assert_int_equal(sitx_sas_take(limit - 1, &code), 1);
    assert_int_equal(code, 999999);
    /* The last partial run of 10^6 would make codes 0..551615 likelier: refused. */
    code = 7;
    assert_int_equal(sitx_sas_take(limit, &code), 0);
    assert_int_equal(sitx_sas_take(UINT64_MAX, &code), 0);
    assert_int_equal(code, 7);
}

/* Over many random hashes each leading digit comes up about a tenth of the
 * time and all six digits vary: a crude but real check that nothing folds
 * the space (a chi-square bound at p < 1e-6 for 9 degrees of freedom). */
static void test_spread(void **state)
{
    enum { N = 20000 };
    unsigned first[10] = {0};
    unsigned last[10] = {0};
    uint8_t h[SITX_HASHLEN];
    char code[SITX_SAS_DIGITS + 1];
    double chi_first = 0;
    double chi_last = 0;

    (void)state;
    for (int i = 0; i < N; i++) {
        randombytes_buf(h, sizeof(h));
        sitx_sas_code(h, code);
        assert_int_equal(strlen(code), SITX_SAS_DIGITS);
        first[code[0] - '0']++;
        last[code[5] - '0']++;
    }
    for (int d = 0; d < 10; d++) {
        double e = N / 10.0;

        chi_first += (first[d] - e) * (first[d] - e) / e;
        chi_last += (last[d] - e) * (last[d] - e) / e;
    }
    assert_true(chi_first < 45.0);
    assert_true(chi_last < 45.0);
}

static void test_match(void **state)
{
    (void)state;
    assert_int_equal(sitx_sas_match("494875", "494875"), 1);
    assert_int_equal(sitx_sas_match("494 875\n", "494875"), 1);
    assert_int_equal(sitx_sas_match("494-875", "494875"), 1);
    assert_int_equal(sitx_sas_match("494876", "494875"), 0);
    assert_int_equal(sitx_sas_match("", "494875"), -1);
    assert_int_equal(sitx_sas_match("49487", "494875"), -1);
    assert_int_equal(sitx_sas_match("4948750", "494875"), -1);
    assert_int_equal(sitx_sas_match("y", "494875"), -1);
    assert_int_equal(sitx_sas_match("49487x", "494875"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_codes),
        cmocka_unit_test(test_rejection_limit),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_match),
    };

    return cmocka_run_group_tests(tests, setup_sodium, NULL);
}
