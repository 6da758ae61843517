/* sitx-send's argument expansion (sender/walk.c): what a directory gives
 * with and without -r, in which order, under which names, and which
 * entries are skipped for which reason. */
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

#include "testutil.h"

#include "../../sender/walk.c"

static const uint8_t PNG_HEAD[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const uint8_t JPEG_HEAD[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'};

struct seen {
    char lines[32][512];
    size_t n;
};

static void on_skip(void *arg, const char *path, const char *reason)
{
    struct seen *s = arg;

    assert_true(s->n < 32);
    snprintf(s->lines[s->n++], sizeof(s->lines[0]), "skip %s: %s", path, reason);
}

static void on_error(void *arg, const char *path, const char *why)
{
    struct seen *s = arg;

    assert_true(s->n < 32);
    snprintf(s->lines[s->n++], sizeof(s->lines[0]), "error %s: %s", path, why);
}

static void put(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    f = fopen(path, "wb");
    assert_non_null(f);
    if (len > 0) {
        assert_int_equal(fwrite(data, 1, len, f), len);
    }
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    char *dir = tu_mkdtemp();
    char path[512];

    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/.hid", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    put(dir, "b.png", PNG_HEAD, sizeof(PNG_HEAD));
    put(dir, "a.jpg", JPEG_HEAD, sizeof(JPEG_HEAD));
    put(dir, "photo", JPEG_HEAD, sizeof(JPEG_HEAD)); /* by content, not by name */
    put(dir, "c.png", "text, not PNG", 13);
    put(dir, "empty.jpg", "", 0);
    put(dir, ".h.png", PNG_HEAD, sizeof(PNG_HEAD));
    put(dir, ".hid/x.png", PNG_HEAD, sizeof(PNG_HEAD));
    put(dir, "sub/d.png", PNG_HEAD, sizeof(PNG_HEAD));
    put(dir, "sub/e.txt", "e", 1);
    snprintf(path, sizeof(path), "%s/loop", dir);
    assert_int_equal(symlink(".", path), 0);
    snprintf(path, sizeof(path), "%s/lnk.png", dir);
    assert_int_equal(symlink("b.png", path), 0);
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    tu_rmrf(*state);
    free(*state);
    return 0;
}

/* items as "path|name" lines relative to dir, for one comparison. */
static void describe(const char *dir, const struct walk_list *l, char *out, size_t cap)
{
    size_t dl = strlen(dir);
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        const char *p = l->items[i].path;

        if (strncmp(p, dir, dl) == 0) {
            p += dl;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s|%s;", p,
                              l->items[i].name != NULL ? l->items[i].name : "-");
        assert_true(o < cap);
    }
}

static void test_flat(void **state)
{
    const char *dir = *state;
    char *args[1] = {(char *)dir};
    struct seen seen = {.n = 0};
    const struct walk_sink sink = {on_skip, on_error, &seen};
    struct walk_list l;
    char got[2048];
    char want[2048];

    memset(&l, 0, sizeof(l));
    assert_int_equal(walk_expand(args, 1, 0, &sink, &l), 0);
    describe(dir, &l, got, sizeof(got));
    assert_string_equal(got, "/a.jpg|a.jpg;/b.png|b.png;/lnk.png|lnk.png;/photo|photo;");
    assert_int_equal(l.dirs, 1);
    assert_int_equal(l.errors, 0);
    /* Sorted: ".h.png" < ".hid" < "c.png" < "empty.jpg" < "fifo"; loop and sub silent. */
    assert_int_equal(l.skipped, 5);
    assert_int_equal(seen.n, 5);
    snprintf(want, sizeof(want), "skip %s/.h.png: hidden", dir);
    assert_string_equal(seen.lines[0], want);
    snprintf(want, sizeof(want), "skip %s/.hid: hidden", dir);
    assert_string_equal(seen.lines[1], want);
    snprintf(want, sizeof(want), "skip %s/c.png: not a PNG or JPEG", dir);
    assert_string_equal(seen.lines[2], want);
    snprintf(want, sizeof(want), "skip %s/empty.jpg: not a PNG or JPEG", dir);
    assert_string_equal(seen.lines[3], want);
    snprintf(want, sizeof(want), "skip %s/fifo: not a regular file", dir);
    assert_string_equal(seen.lines[4], want);
    walk_list_clear(&l);
    assert_int_equal(l.n, 0);
}

static void test_recursive(void **state)
{
    const char *dir = *state;
    char given[512];
    char *args[1] = {given};
    struct seen seen = {.n = 0};
    const struct walk_sink sink = {on_skip, on_error, &seen};
    struct walk_list l;
    char got[2048];
    char want[2048];
    int found_loop = 0;

    /* A trailing '/' does not double in the paths. */
    snprintf(given, sizeof(given), "%s/", dir);
    memset(&l, 0, sizeof(l));
    assert_int_equal(walk_expand(args, 1, 1, &sink, &l), 0);
    describe(dir, &l, got, sizeof(got));
    assert_string_equal(got, "/a.jpg|a.jpg;/b.png|b.png;/lnk.png|lnk.png;/photo|photo;"
                             "/sub/d.png|sub/d.png;");
    assert_int_equal(l.skipped, 7); /* the five, the loop, sub/e.txt */
    for (size_t i = 0; i < seen.n; i++) {
        snprintf(want, sizeof(want), "skip %s/loop: symbolic link to a directory, not followed",
                 dir);
        found_loop |= strcmp(seen.lines[i], want) == 0;
    }
    assert_true(found_loop);
    snprintf(want, sizeof(want), "skip %s/sub/e.txt: not a PNG or JPEG", dir);
    assert_string_equal(seen.lines[seen.n - 1], want);
    walk_list_clear(&l);
}

/* Files given stay as given, whatever they are; a directory among them. */
static void test_mixed_args(void **state)
{
    const char *dir = *state;
    char sub[512];
    char *args[3] = {"no/such/file.png", sub, "README"};
    struct walk_list l;
    char got[2048];

    snprintf(sub, sizeof(sub), "%s/sub", dir);
    memset(&l, 0, sizeof(l));
    assert_int_equal(walk_expand(args, 3, 0, NULL, &l), 0);
    describe(dir, &l, got, sizeof(got));
    assert_string_equal(got, "no/such/file.png|-;/sub/d.png|d.png;README|-;");
    assert_int_equal(l.skipped, 1);
    assert_int_equal(l.dirs, 1);
    walk_list_clear(&l);
    walk_list_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recursive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_args, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
