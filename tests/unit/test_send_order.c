/* The order a run's images are prepared and offered in (send_order.h):
 * largest first, ties and unreadable paths in the order given, and
 * --in-order as given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "send_order.h"

static char dir[256];

static char *make(const char *name, size_t size)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    FILE *f;

    assert_non_null(path);
    sprintf(path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++) {
        assert_int_not_equal(fputc((int)(i & 0xFF), f), EOF);
    }
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Removes and frees the first n paths made by make(). */
static void drop(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
}

static void test_largest_first_ties_and_missing_in_given_order(void **state)
{
    char *paths[7];
    size_t order[7];
    static const size_t want[7] = {1, 4, 3, 5, 0, 2, 6};

    (void)state;
    paths[0] = make("a.png", 10);
    paths[1] = make("b.png", 5000);
    paths[2] = make("c.png", 10);  /* ties with a: after it */
    paths[3] = make("d.jpg", 300); /* ties with f: before it */
    paths[4] = make("e.jpg", 4000);
    paths[5] = make("f.jpg", 300);
    paths[6] = strdup("/nonexistent/g.png"); /* size 0: last, its error comes later */
    assert_non_null(paths[6]);
    assert_int_equal(send_order_plan(paths, 7, 0, order), 0);
    assert_memory_equal(order, want, sizeof(want));
    drop(paths, 6);
    free(paths[6]);
}

static void test_in_order_keeps_the_order_given(void **state)
{
    char *paths[3];
    size_t order[3];

    (void)state;
    paths[0] = make("small.png", 1);
    paths[1] = make("big.png", 9000);
    paths[2] = make("mid.png", 500);
    assert_int_equal(send_order_plan(paths, 3, 1, order), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(order[i], i);
    }
    assert_int_equal(send_order_plan(paths, 3, 0, order), 0);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 0);
    drop(paths, 3);
}

static void test_a_directory_is_not_sized(void **state)
{
    char *paths[2];
    size_t order[2];

    (void)state;
    paths[0] = dir; /* stat()s fine but is no regular file: size 0 */
    paths[1] = make("one.png", 1);
    assert_int_equal(send_order_plan(paths, 2, 0, order), 0);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 0);
    drop(paths + 1, 1);
    assert_int_equal(send_order_plan(paths, 0, 0, order), 0); /* nothing to order */
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/sitx-order-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_largest_first_ties_and_missing_in_given_order),
        cmocka_unit_test(test_in_order_keeps_the_order_given),
        cmocka_unit_test(test_a_directory_is_not_sized),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
