/* Guarded secret memory and the growable byte buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "secmem.h"

static int setup_sodium(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void test_secret_alloc_zeroed(void **state)
{
    uint8_t *p;
    uint8_t *q;

    (void)state;
    p = sitx_secret_alloc(100);
    assert_non_null(p);
    for (size_t i = 0; i < 100; i++) {
        assert_int_equal(p[i], 0);
    }
    memset(p, 0xa5, 100);
    q = sitx_secret_alloc(0);
    assert_non_null(q);
    sitx_secret_free(q, 0);
    sitx_secret_free(p, 100);
    sitx_secret_free(NULL, 0);
}

static void test_secret_alloc_too_large(void **state)
{
    (void)state;
    assert_null(sitx_secret_alloc(SIZE_MAX - 4096));
}

static void test_buf_append_grows(void **state)
{
    struct sitx_buf b;
    uint8_t chunk[100];
    size_t total = 0;

    (void)state;
    sitx_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    for (int i = 0; i < 50; i++) {
        memset(chunk, i, sizeof(chunk));
        assert_int_equal(sitx_buf_append(&b, chunk, sizeof(chunk)), 0);
        total += sizeof(chunk);
        assert_int_equal(b.len, total);
        assert_true(b.cap >= b.len);
    }
    for (int i = 0; i < 50; i++) {
        for (size_t k = 0; k < sizeof(chunk); k++) {
            assert_int_equal(b.data[(size_t)i * sizeof(chunk) + k], i);
        }
    }
    sitx_buf_clear(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_buf_reserve(void **state)
{
    struct sitx_buf b;
    uint8_t *before;
    size_t cap;

    (void)state;
    sitx_buf_init(&b);
    assert_int_equal(sitx_buf_reserve(&b, 1000), 0);
    assert_true(b.cap >= 1000);
    assert_int_equal(b.len, 0);
    before = b.data;
    cap = b.cap;
    /* Within capacity: no reallocation. */
    assert_int_equal(sitx_buf_reserve(&b, cap), 0);
    assert_ptr_equal(b.data, before);
    assert_int_equal(sitx_buf_append(&b, "abc", 3), 0);
    /* len + extra overflows size_t. */
    assert_int_equal(sitx_buf_reserve(&b, SIZE_MAX - 1), SITX_E_TOO_LARGE);
    assert_int_equal(sitx_buf_append(&b, "x", SIZE_MAX), SITX_E_TOO_LARGE);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    assert_int_equal(sitx_buf_append(&b, NULL, 0), 0);
    assert_int_equal(b.len, 3);
    sitx_buf_clear(&b);
    sitx_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_alloc_zeroed),
        cmocka_unit_test(test_secret_alloc_too_large),
        cmocka_unit_test(test_buf_append_grows),
        cmocka_unit_test(test_buf_reserve),
    };

    return cmocka_run_group_tests(tests, setup_sodium, NULL);
}
