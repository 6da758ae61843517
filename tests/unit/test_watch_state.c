/* sender/watch_state.c: the --watch state file. Entries are recorded and
 * found by hash and by (name, size, mtime), survive a save and a reload
 * byte for byte, the limit compacts the oldest tenth, and every damaged or
 * untrustworthy file is refused with a reason (never read as empty). */
#include <errno.h>
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
#include <sodium.h>

#include "err.h"
#include "testutil.h"
#include "watch_state.h"

struct fx {
    char *dir;
    char path[512];
    struct watch_state st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_true(sodium_init() >= 0);
    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    snprintf(f->path, sizeof(f->path), "%s/w.state", f->dir);
    f->st.path = strdup(f->path);
    assert_non_null(f->st.path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    watch_state_free(&f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void hash_of(unsigned i, uint8_t *h)
{
    crypto_generichash(h, WATCH_HASH_BYTES, (const uint8_t *)&i, sizeof(i), NULL, 0);
}

/* A fresh state for st->path (the path survives, the entries do not). */
static void reopen(struct watch_state *st)
{
    char *path = st->path;

    st->path = NULL;
    watch_state_free(st);
    st->path = path;
}

static void write_text(const char *path, const char *text, int mode)
{
    assert_int_equal(tu_write_file(path, (const uint8_t *)text, strlen(text), mode), 0);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static void test_add_find(void **state)
{
    struct fx *f = *state;
    uint8_t h1[WATCH_HASH_BYTES];
    uint8_t h2[WATCH_HASH_BYTES];
    const struct watch_entry *e;

    hash_of(1, h1);
    hash_of(2, h2);
    assert_null(watch_state_find_hash(&f->st, h1));
    assert_null(watch_state_find_file(&f->st, "a.png", 10, 5));
    assert_int_equal(watch_state_add(&f->st, h1, "a.png", 10, 5), 0);
    assert_int_equal(watch_state_add(&f->st, h2, "b.jpg", 20, -7), 0);
    assert_int_equal(f->st.n, 2);
    e = watch_state_find_hash(&f->st, h1);
    assert_non_null(e);
    assert_string_equal(e->name, "a.png");
    assert_ptr_equal(watch_state_find_file(&f->st, "b.jpg", 20, -7),
                     watch_state_find_hash(&f->st, h2));
    /* Size, mtime and name must all match. */
    assert_null(watch_state_find_file(&f->st, "a.png", 11, 5));
    assert_null(watch_state_find_file(&f->st, "a.png", 10, 6));
    assert_null(watch_state_find_file(&f->st, "A.png", 10, 5));

    /* The same content under another name: one entry, the latest name. */
    assert_int_equal(watch_state_add(&f->st, h1, "copy.png", 10, 9), 0);
    assert_int_equal(f->st.n, 2);
    assert_string_equal(watch_state_find_hash(&f->st, h1)->name, "copy.png");
    assert_non_null(watch_state_find_file(&f->st, "copy.png", 10, 9));
    assert_null(watch_state_find_file(&f->st, "a.png", 10, 5));
}

static void test_many(void **state)
{
    struct fx *f = *state;
    uint8_t h[WATCH_HASH_BYTES];
    char name[32];
    unsigned i;

    /* Past several index rebuilds. */
    for (i = 0; i < 5000; i++) {
        hash_of(i, h);
        snprintf(name, sizeof(name), "img-%u.png", i);
        assert_int_equal(watch_state_add(&f->st, h, name, i, (int64_t)i * 3), 0);
    }
    assert_int_equal(f->st.n, 5000);
    for (i = 0; i < 5000; i++) {
        const struct watch_entry *e;

        hash_of(i, h);
        snprintf(name, sizeof(name), "img-%u.png", i);
        e = watch_state_find_hash(&f->st, h);
        assert_non_null(e);
        assert_string_equal(e->name, name);
        assert_ptr_equal(watch_state_find_file(&f->st, name, i, (int64_t)i * 3), e);
    }
    hash_of(5000, h);
    assert_null(watch_state_find_hash(&f->st, h));
}

static void test_save_reload(void **state)
{
    struct fx *f = *state;
    static const char *names[] = {"plain.png",     "with space.jpg",  "100%.png",  "tab\there.png",
                                  "nl\nthere.jpg", "caf\xc3\xa9.png", "#hash.png", "x\x7f.png"};
    uint8_t h[WATCH_HASH_BYTES];
    struct stat sb;
    uint8_t *text = NULL;
    size_t len = 0;
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        hash_of((unsigned)i, h);
        assert_int_equal(watch_state_add(&f->st, h, names[i], 1000 + i, INT64_MAX - (int64_t)i), 0);
    }
    assert_int_equal(watch_state_save(&f->st), 0);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    /* One line per entry after the version line, nothing raw that splits one. */
    assert_int_equal(tu_read_file(f->path, &text, &len), 0);
    assert_memory_equal(text, "sitx-watch-state 1\n", 19);
    assert_non_null(strstr((const char *)text, " with%20space.jpg\n"));
    assert_non_null(strstr((const char *)text, " 100%25.png\n"));
    assert_non_null(strstr((const char *)text, " nl%0Athere.jpg\n"));
    free(text);

    reopen(&f->st);
    assert_int_equal(watch_state_load(&f->st), 0);
    assert_int_equal(f->st.n, sizeof(names) / sizeof(names[0]));
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct watch_entry *e;

        hash_of((unsigned)i, h);
        e = watch_state_find_hash(&f->st, h);
        assert_non_null(e);
        assert_string_equal(e->name, names[i]);
        assert_int_equal(e->size, 1000 + i);
        assert_true(e->mtime_ns == INT64_MAX - (int64_t)i);
        assert_ptr_equal(watch_state_find_file(&f->st, names[i], 1000 + i, e->mtime_ns), e);
    }
    /* Saved again, the same bytes. */
    assert_int_equal(tu_read_file(f->path, &text, &len), 0);
    assert_int_equal(watch_state_save(&f->st), 0);
    {
        uint8_t *again = NULL;
        size_t again_len = 0;

        assert_int_equal(tu_read_file(f->path, &again, &again_len), 0);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, text, len);
        free(again);
    }
    free(text);
}

static void test_missing_is_empty(void **state)
{
    struct fx *f = *state;

    assert_int_equal(watch_state_load(&f->st), 0);
    assert_int_equal(f->st.n, 0);
    /* An empty state saves as the version line alone, and loads again. */
    assert_int_equal(watch_state_save(&f->st), 0);
    reopen(&f->st);
    assert_int_equal(watch_state_load(&f->st), 0);
    assert_int_equal(f->st.n, 0);
}

/* Loads text as the state file (mode 0600) and expects rc, a reason
 * containing why, and no entries. */
static void expect_refused(struct fx *f, const char *text, int rc, const char *why)
{
    reopen(&f->st);
    (void)unlink(f->path);
    write_text(f->path, text, 0600);
    assert_int_equal(watch_state_load(&f->st), rc);
    if (strstr(f->st.errstr, why) == NULL) {
        fail_msg("reason \"%s\" does not say \"%s\"", f->st.errstr, why);
    }
}

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_damaged(void **state)
{
    struct fx *f = *state;

    expect_refused(f, "", SITX_E_INVALID, "empty");
    expect_refused(f, "garbage\x01\xff\n", SITX_E_INVALID, "not a state file");
    expect_refused(f, "sitx-watch-state 2\n", SITX_E_INVALID, "line 1: not a state file");
    /* The last line cut short: no newline, however valid it looks. */
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 2 a.png\n" H64 " 1 2 b.p", SITX_E_INVALID,
                   "line 3: truncated");
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 2 a.png\n0123456789ab", SITX_E_INVALID,
                   "line 3: truncated");
    expect_refused(f, "sitx-watch-state 1", SITX_E_INVALID, "truncated");
    expect_refused(f, "sitx-watch-state 1\n0123456789abcdef 1 2 a.png\n", SITX_E_INVALID,
                   "line 2: the hash");
    expect_refused(f,
                   "sitx-watch-state 1\n"
                   "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 1 2 a\n",
                   SITX_E_INVALID, "line 2: the hash");
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 a.png\n", SITX_E_INVALID,
                   "line 2: not four fields");
    expect_refused(f, "sitx-watch-state 1\n" H64 " -1 2 a.png\n", SITX_E_INVALID,
                   "line 2: size or mtime");
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 99999999999999999999 a.png\n", SITX_E_INVALID,
                   "size or mtime");
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 2 \n", SITX_E_INVALID, "the name");
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 2 a b\n", SITX_E_INVALID, "the name");
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 2 a%2Fb\n", SITX_E_INVALID, "the name");
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 2 a%00b\n", SITX_E_INVALID, "the name");
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 2 a%4\n", SITX_E_INVALID, "the name");
    expect_refused(f, "sitx-watch-state 1\n" H64 " 1 2 ../x\n", SITX_E_INVALID, "the name");

    /* Comments and blank lines are fine. */
    reopen(&f->st);
    (void)unlink(f->path);
    write_text(f->path, "sitx-watch-state 1\n# for /x and y:1\n\n" H64 " 1 2 a%20b\n", 0600);
    assert_int_equal(watch_state_load(&f->st), 0);
    assert_int_equal(f->st.n, 1);
    assert_non_null(watch_state_find_file(&f->st, "a b", 1, 2));
}

static void test_parse_bytewise(void **state)
{
    struct fx *f = *state;
    const char *text = "sitx-watch-state 1\n" H64 " 1 2 a.png\n";
    size_t n = strlen(text);
    size_t i;

    /* Every prefix but the whole is refused, none crashes or half-loads. */
    for (i = 0; i < n; i++) {
        struct watch_state st;
        size_t bad = 0;
        int rc;

        memset(&st, 0, sizeof(st));
        rc = watch_state_parse(&st, text, i, &bad);
        if (i == 19) {
            assert_int_equal(rc, 0); /* the version line alone: empty */
        } else {
            assert_int_equal(rc, SITX_E_INVALID);
            assert_true(bad >= 1);
        }
        watch_state_free(&st);
    }
    reopen(&f->st);
    {
        size_t bad = 0;

        assert_int_equal(watch_state_parse(&f->st, text, n, &bad), 0);
        assert_int_equal(f->st.n, 1);
    }
}

static void test_untrusted_file(void **state)
{
    struct fx *f = *state;
    char target[600];

    /* Open to others: refused, and the message says how to fix it. */
    write_text(f->path, "sitx-watch-state 1\n", 0644);
    assert_int_equal(watch_state_load(&f->st), SITX_E_PERMS);
    assert_non_null(strstr(f->st.errstr, "mode 0644"));
    assert_non_null(strstr(f->st.errstr, "chmod 600"));
    assert_int_equal(chmod(f->path, 0620), 0);
    assert_int_equal(watch_state_load(&f->st), SITX_E_PERMS);

    /* A symbolic link is never followed, even to a good state file. */
    snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
    write_text(target, "sitx-watch-state 1\n" H64 " 1 2 a.png\n", 0600);
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(symlink(target, f->path), 0);
    reopen(&f->st);
    assert_int_equal(watch_state_load(&f->st), -ELOOP);
    assert_non_null(strstr(f->st.errstr, "symbolic link"));
    assert_int_equal(f->st.n, 0);
    /* Saving replaces the link itself, not its target. */
    assert_int_equal(watch_state_save(&f->st), 0);
    {
        struct stat sb;
        uint8_t *t = NULL;
        size_t len = 0;

        assert_int_equal(lstat(f->path, &sb), 0);
        assert_true(S_ISREG(sb.st_mode));
        assert_int_equal(tu_read_file(target, &t, &len), 0);
        assert_int_equal(len, strlen("sitx-watch-state 1\n" H64 " 1 2 a.png\n"));
        free(t);
    }

    /* Not a regular file. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(mkdir(f->path, 0700), 0);
    reopen(&f->st);
    assert_int_equal(watch_state_load(&f->st), -EINVAL);
    assert_non_null(strstr(f->st.errstr, "not a regular file"));
    assert_int_equal(rmdir(f->path), 0);
}

static void test_limit(void **state)
{
    struct fx *f = *state;
    uint8_t h[WATCH_HASH_BYTES];
    char name[32];
    unsigned i;

    /* At 20 entries the oldest tenth (2) goes to make room. */
    f->st.max = 20;
    for (i = 0; i < 20; i++) {
        hash_of(i, h);
        snprintf(name, sizeof(name), "%u.png", i);
        assert_int_equal(watch_state_add(&f->st, h, name, i, i), 0);
    }
    assert_int_equal(f->st.dropped, 0);
    hash_of(20, h);
    assert_int_equal(watch_state_add(&f->st, h, "20.png", 20, 20), 0);
    assert_int_equal(f->st.n, 19);
    assert_int_equal(f->st.dropped, 2);
    for (i = 0; i <= 20; i++) {
        hash_of(i, h);
        snprintf(name, sizeof(name), "%u.png", i);
        if (i < 2) {
            assert_null(watch_state_find_hash(&f->st, h));
            assert_null(watch_state_find_file(&f->st, name, i, i));
        } else {
            assert_non_null(watch_state_find_hash(&f->st, h));
            assert_non_null(watch_state_find_file(&f->st, name, i, i));
        }
    }
    /* Many more: never above the limit, the newest always there. */
    for (i = 21; i < 1000; i++) {
        hash_of(i, h);
        assert_int_equal(watch_state_add(&f->st, h, "n.png", i, i), 0);
        assert_true(f->st.n <= 20);
        assert_non_null(watch_state_find_file(&f->st, "n.png", i, i));
    }
    assert_int_equal(watch_state_save(&f->st), 0);

    /* A file with more entries than the limit was not ours: refused. */
    {
        size_t n = f->st.n;

        snprintf(name, sizeof(name), "more than %zu entries", n - 1);
        reopen(&f->st);
        f->st.max = n;
        assert_int_equal(watch_state_load(&f->st), 0);
        assert_int_equal(f->st.n, n);
        reopen(&f->st);
        f->st.max = n - 1;
        assert_int_equal(watch_state_load(&f->st), SITX_E_LIMIT);
        assert_non_null(strstr(f->st.errstr, name));
    }
}

static void test_path(void **state)
{
    struct fx *f = *state;
    char *a = NULL;
    char *b = NULL;
    char *c = NULL;
    char want[600];
    struct stat sb;

    setenv("XDG_STATE_HOME", f->dir, 1);
    assert_int_equal(watch_state_path("/x/a b", "c:1", &a), 0);
    assert_int_equal(watch_state_path("/x/a", "b c:1", &b), 0);
    assert_int_equal(watch_state_path("/x/a b", "c:1", &c), 0);
    snprintf(want, sizeof(want), "%s/sitx/watch-", f->dir);
    assert_memory_equal(a, want, strlen(want));
    assert_int_equal(strlen(a), strlen(want) + 32 + strlen(".state"));
    assert_string_not_equal(a, b);
    assert_string_equal(a, c);
    snprintf(want, sizeof(want), "%s/sitx", f->dir);
    assert_int_equal(stat(want, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    /* A relative XDG_STATE_HOME is ignored (the XDG rule), HOME is used. */
    setenv("XDG_STATE_HOME", "relative", 1);
    setenv("HOME", f->dir, 1);
    free(b);
    assert_int_equal(watch_state_path("/x", "y:1", &b), 0);
    snprintf(want, sizeof(want), "%s/.local/state/sitx/watch-", f->dir);
    assert_memory_equal(b, want, strlen(want));
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_bytewise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
