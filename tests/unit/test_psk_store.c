/* sender/psk_store.c: the password key cache file. Entries survive a save
 * and a reload byte for byte; every cut of a good file and every damaged
 * field is refused with a reason (never half read); files that are not
 * ours to trust are refused; at most 16 entries, newest first, none older
 * than a day; a key matches only with every field of it equal. */
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
#include "psk_store.h"
#include "testutil.h"

#define NOW ((int64_t)1760000000)

struct fx {
    char *dir;
    char path[512];
    struct psk_store ps;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_true(sodium_init() >= 0);
    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    snprintf(f->path, sizeof(f->path), "%s/psk-cache", f->dir);
    assert_int_equal(psk_store_init(&f->ps), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    psk_store_free(&f->ps);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void key_n(struct psk_key *k, unsigned i)
{
    memset(k, 0, sizeof(*k));
    crypto_generichash(k->salt, sizeof(k->salt), (const uint8_t *)&i, sizeof(i), NULL, 0);
    k->ops = 3;
    k->mem_kib = 65536;
    k->id.valid = 1;
    k->id.dev = 2049;
    k->id.ino = 1000 + i;
    k->id.size = 25;
    k->id.mtime_ns = 1700000000123456789;
    k->id.ctime_ns = 1700000000987654321;
}

static void psk_n(uint8_t *psk, unsigned i)
{
    memset(psk, (int)(0x40 + i), SITX_PSK_BYTES);
}

static void fill(struct psk_store *ps, unsigned n)
{
    struct psk_key k;
    uint8_t psk[SITX_PSK_BYTES];
    unsigned i;

    for (i = 0; i < n; i++) {
        key_n(&k, i);
        psk_n(psk, i);
        psk_store_put(ps, &k, psk, NOW - 100 + (int64_t)i);
    }
}

static void test_put_find(void **state)
{
    struct fx *f = *state;
    struct psk_key k;
    uint8_t psk[SITX_PSK_BYTES];
    const struct psk_entry *e;

    fill(&f->ps, 3);
    assert_int_equal(f->ps.n, 3);
    key_n(&k, 1);
    e = psk_store_find(&f->ps, &k, NOW);
    assert_non_null(e);
    psk_n(psk, 1);
    assert_memory_equal(e->psk, psk, SITX_PSK_BYTES);
    /* Newest first. */
    assert_int_equal(f->ps.e[0].key.id.ino, 1002);
    /* Every field of the key counts. */
    k.ops = 4;
    assert_null(psk_store_find(&f->ps, &k, NOW));
    key_n(&k, 1);
    k.mem_kib++;
    assert_null(psk_store_find(&f->ps, &k, NOW));
    key_n(&k, 1);
    k.salt[15] ^= 1;
    assert_null(psk_store_find(&f->ps, &k, NOW));
    key_n(&k, 1);
    k.id.dev++;
    assert_null(psk_store_find(&f->ps, &k, NOW));
    key_n(&k, 1);
    k.id.size++;
    assert_null(psk_store_find(&f->ps, &k, NOW));
    key_n(&k, 1);
    k.id.mtime_ns++;
    assert_null(psk_store_find(&f->ps, &k, NOW));
    key_n(&k, 1);
    k.id.ctime_ns--;
    assert_null(psk_store_find(&f->ps, &k, NOW));
    key_n(&k, 1);
    k.id.valid = 0;
    assert_null(psk_store_find(&f->ps, &k, NOW));
    /* The same key again replaces, and comes first. */
    key_n(&k, 0);
    psk_n(psk, 9);
    psk_store_put(&f->ps, &k, psk, NOW);
    assert_int_equal(f->ps.n, 3);
    assert_int_equal(f->ps.e[0].key.id.ino, 1000);
    assert_memory_equal(f->ps.e[0].psk, psk, SITX_PSK_BYTES);
    assert_int_equal(psk_store_drop(&f->ps, &k), 1);
    assert_int_equal(psk_store_drop(&f->ps, &k), 0);
    assert_int_equal(f->ps.n, 2);
    assert_null(psk_store_find(&f->ps, &k, NOW));
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct psk_store back;
    char a[PSK_STORE_FILE_MAX];
    char b[PSK_STORE_FILE_MAX];
    size_t alen = 0;
    size_t blen = 0;
    struct stat sb;

    fill(&f->ps, PSK_STORE_MAX);
    assert_int_equal(psk_store_save(&f->ps, f->path), 0);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(psk_store_init(&back), 0);
    assert_int_equal(psk_store_load(&back, f->path), 0);
    assert_int_equal(back.n, PSK_STORE_MAX);
    assert_memory_equal(back.e, f->ps.e, PSK_STORE_MAX * sizeof(*back.e));
    assert_int_equal(psk_store_format(&f->ps, a, sizeof(a), &alen), 0);
    assert_int_equal(psk_store_format(&back, b, sizeof(b), &blen), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    psk_store_free(&back);
    /* A missing file is an empty cache; a saved empty one reloads empty. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(psk_store_load(&f->ps, f->path), 0);
    assert_int_equal(f->ps.n, 0);
    assert_int_equal(psk_store_save(&f->ps, f->path), 0);
    assert_int_equal(psk_store_load(&f->ps, f->path), 0);
    assert_int_equal(f->ps.n, 0);
}

/* Every cut of a good file but the whole is refused, the empty one too. */
static void test_truncated(void **state)
{
    struct fx *f = *state;
    char text[PSK_STORE_FILE_MAX];
    size_t len = 0;
    size_t cut;
    const size_t magic_line = strlen("sitx-psk-cache 1\n");

    fill(&f->ps, 2);
    assert_int_equal(psk_store_format(&f->ps, text, sizeof(text), &len), 0);
    for (cut = 0; cut < len; cut++) {
        int rc = psk_store_parse(&f->ps, text, cut);

        if (cut == magic_line) {
            /* The version line alone is a valid, empty cache. */
            assert_int_equal(rc, 0);
            assert_int_equal(f->ps.n, 0);
            continue;
        }
        if (rc == 0) {
            /* Only at a line boundary (one whole entry) may a cut parse. */
            assert_true(text[cut - 1] == '\n');
            assert_int_equal(f->ps.n, 1);
            continue;
        }
        assert_int_equal(rc, SITX_E_INVALID);
        assert_int_equal(f->ps.n, 0);
        assert_true(f->ps.errstr[0] != '\0');
    }
    assert_int_equal(psk_store_parse(&f->ps, text, len), 0);
    assert_int_equal(f->ps.n, 2);
}

static void expect_bad(struct psk_store *ps, const char *text, const char *why)
{
    int rc = psk_store_parse(ps, text, strlen(text));

    if (rc != SITX_E_INVALID) {
        fail_msg("accepted: %s", text);
    }
    assert_int_equal(ps->n, 0);
    if (strstr(ps->errstr, why) == NULL) {
        fail_msg("reason \"%s\" does not say \"%s\" for: %s", ps->errstr, why, text);
    }
}

#define MAGIC "sitx-psk-cache 1\n"
#define SALT  "00112233445566778899aabbccddeeff"
#define PSK   "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void test_malformed(void **state)
{
    struct fx *f = *state;
    const char *good = MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 " PSK "\n";

    assert_int_equal(psk_store_parse(&f->ps, good, strlen(good)), 0);
    assert_int_equal(f->ps.n, 1);
    assert_int_equal(f->ps.e[0].key.id.ino, 5);
    assert_int_equal(f->ps.e[0].key.id.ctime_ns, 18);
    f->ps.n = 0;

    expect_bad(&f->ps, "", "empty");
    expect_bad(&f->ps, "sitx-psk-cache 2\n", "not a key cache");
    expect_bad(&f->ps, "sitx-watch-state 1\n", "not a key cache");
    expect_bad(&f->ps, MAGIC "\n", "fewer than ten");
    expect_bad(&f->ps, MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 " PSK "\n",
               "fewer than ten");
    expect_bad(&f->ps, MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 19 " PSK "\n",
               "more than ten");
    expect_bad(&f->ps, MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 " PSK " \n",
               "more than ten");
    expect_bad(&f->ps, MAGIC "1760000000  3 65536 " SALT " 2049 5 25 17 18 " PSK "\n",
               "more than ten");
    expect_bad(&f->ps, MAGIC "1760000000 03 65536 " SALT " 2049 5 25 17 18 " PSK "\n", "number");
    expect_bad(&f->ps, MAGIC "1760000000 -3 65536 " SALT " 2049 5 25 17 18 " PSK "\n", "number");
    expect_bad(&f->ps, MAGIC "1760000000 +3 65536 " SALT " 2049 5 25 17 18 " PSK "\n", "number");
    expect_bad(&f->ps, MAGIC "1760000000 4294967296 65536 " SALT " 2049 5 25 17 18 " PSK "\n",
               "number");
    expect_bad(&f->ps, MAGIC "9223372036854775808 3 65536 " SALT " 2049 5 25 17 18 " PSK "\n",
               "number");
    expect_bad(&f->ps,
               MAGIC "1760000000 3 65536 " SALT " 18446744073709551616 5 25 17 18 " PSK "\n",
               "number");
    expect_bad(&f->ps,
               MAGIC "1760000000 3 65536 " SALT " 2049 5 25 9223372036854775808 18 " PSK "\n",
               "number");
    expect_bad(&f->ps, MAGIC "1760000000 3 6553x " SALT " 2049 5 25 17 18 " PSK "\n", "number");
    expect_bad(&f->ps, MAGIC "1760000000 3 65536 00112233 2049 5 25 17 18 " PSK "\n", "salt");
    expect_bad(&f->ps,
               MAGIC "1760000000 3 65536 0011223344556677889900aabbccddeeff 2049 5 25 17 18 " PSK
                     "\n",
               "salt");
    expect_bad(&f->ps,
               MAGIC "1760000000 3 65536 g0112233445566778899aabbccddeeff 2049 5 25 17 18 " PSK
                     "\n",
               "salt");
    expect_bad(&f->ps, MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 0001\n", "key");
    expect_bad(&f->ps,
               MAGIC "1760000000 3 65536 00112233445566778899AABBCCDDEEFF 2049 5 25 17 18 " PSK
                     "\n",
               "salt");
    expect_bad(&f->ps,
               MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 "
                     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1F\n",
               "key");
    expect_bad(&f->ps, MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 " PSK "0\n", "key");
    expect_bad(&f->ps, MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 " PSK "\r\n", "key");
    expect_bad(&f->ps, MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 " PSK, "truncated");
    expect_bad(&f->ps, "sitx-psk-cache 1", "truncated");
    /* A good entry before a bad one does not survive it. */
    expect_bad(&f->ps,
               MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 " PSK "\n"
                     "# comment\n",
               "line 3");
}

static void test_too_many(void **state)
{
    struct fx *f = *state;
    char text[PSK_STORE_FILE_MAX + 512];
    size_t len = 0;
    const char *extra = "1760000000 3 65536 " SALT " 2049 5 25 17 18 " PSK "\n";

    fill(&f->ps, PSK_STORE_MAX);
    assert_int_equal(psk_store_format(&f->ps, text, sizeof(text), &len), 0);
    memcpy(text + len, extra, strlen(extra));
    len += strlen(extra);
    assert_int_equal(psk_store_parse(&f->ps, text, len), SITX_E_INVALID);
    assert_int_equal(f->ps.n, 0);
    assert_non_null(strstr(f->ps.errstr, "more entries"));
}

/* At most 16, newest first: the oldest goes; a day old goes too, and one
 * dated after now (a clock set back) is not trusted. */
static void test_prune(void **state)
{
    struct fx *f = *state;
    struct psk_key k;
    uint8_t psk[SITX_PSK_BYTES];
    unsigned i;

    fill(&f->ps, PSK_STORE_MAX + 4);
    assert_int_equal(f->ps.n, PSK_STORE_MAX);
    for (i = 0; i < PSK_STORE_MAX; i++) {
        assert_int_equal(f->ps.e[i].key.id.ino, 1000 + PSK_STORE_MAX + 3 - i);
    }
    key_n(&k, 0);
    assert_null(psk_store_find(&f->ps, &k, NOW));
    key_n(&k, 5);
    assert_non_null(psk_store_find(&f->ps, &k, NOW));
    /* Age: found just before a day, not at it. */
    assert_non_null(psk_store_find(&f->ps, &k, NOW - 100 + 5 + PSK_STORE_TTL_S - 1));
    assert_null(psk_store_find(&f->ps, &k, NOW - 100 + 5 + PSK_STORE_TTL_S));
    assert_null(psk_store_find(&f->ps, &k, NOW - 100 + 4));
    /* A put a day later drops all of the others. */
    key_n(&k, 99);
    psk_n(psk, 99);
    psk_store_put(&f->ps, &k, psk, NOW + PSK_STORE_TTL_S);
    assert_int_equal(f->ps.n, 1);
    assert_int_equal(f->ps.e[0].key.id.ino, 1099);
    /* Pruning on its own: entries from the future go. */
    fill(&f->ps, 3);
    psk_store_prune(&f->ps, NOW - 1000);
    assert_int_equal(f->ps.n, 0);
}

static void write_mode(const char *path, const char *text, int mode)
{
    assert_int_equal(tu_write_file(path, (const uint8_t *)text, strlen(text), mode), 0);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static void test_untrusted(void **state)
{
    struct fx *f = *state;
    char other[600];
    const char *good = MAGIC "1760000000 3 65536 " SALT " 2049 5 25 17 18 " PSK "\n";

    write_mode(f->path, good, 0600);
    assert_int_equal(psk_store_load(&f->ps, f->path), 0);
    assert_int_equal(f->ps.n, 1);

    write_mode(f->path, good, 0640);
    assert_int_equal(psk_store_load(&f->ps, f->path), SITX_E_PERMS);
    assert_int_equal(f->ps.n, 0);
    assert_non_null(strstr(f->ps.errstr, "group or others"));
    write_mode(f->path, good, 0604);
    assert_int_equal(psk_store_load(&f->ps, f->path), SITX_E_PERMS);

    /* A symbolic link, even to a good file, is not followed. */
    snprintf(other, sizeof(other), "%s/real", f->dir);
    write_mode(other, good, 0600);
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(symlink(other, f->path), 0);
    assert_int_equal(psk_store_load(&f->ps, f->path), -ELOOP);
    assert_non_null(strstr(f->ps.errstr, "symbolic link"));
    /* Saving replaces the link; the file it pointed to is left alone. */
    fill(&f->ps, 1);
    assert_int_equal(psk_store_save(&f->ps, f->path), 0);
    {
        struct stat sb;
        uint8_t *back = NULL;
        size_t blen = 0;

        assert_int_equal(lstat(f->path, &sb), 0);
        assert_true(S_ISREG(sb.st_mode));
        assert_int_equal(tu_read_file(other, &back, &blen), 0);
        assert_int_equal(blen, strlen(good));
        assert_memory_equal(back, good, blen);
        free(back);
    }
    /* A directory, and a file over the size limit. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(mkdir(f->path, 0700), 0);
    assert_int_equal(psk_store_load(&f->ps, f->path), -EINVAL);
    assert_int_equal(rmdir(f->path), 0);
    {
        char *big = malloc(PSK_STORE_FILE_MAX + 2);

        assert_non_null(big);
        memset(big, 'x', PSK_STORE_FILE_MAX + 1);
        big[PSK_STORE_FILE_MAX + 1] = '\0';
        write_mode(f->path, big, 0600);
        free(big);
    }
    assert_int_equal(psk_store_load(&f->ps, f->path), -EFBIG);
    /* Owned by another user: only root can make one to test with. */
    if (geteuid() == 0) {
        write_mode(f->path, good, 0600);
        assert_int_equal(chown(f->path, 1, 1), 0);
        assert_int_equal(psk_store_load(&f->ps, f->path), -EPERM);
        assert_non_null(strstr(f->ps.errstr, "not by us"));
    }
}

static void test_path(void **state)
{
    struct fx *f = *state;
    char want[600];
    char *path = NULL;
    struct stat sb;

    snprintf(want, sizeof(want), "%s/xdg", f->dir);
    assert_int_equal(setenv("XDG_STATE_HOME", want, 1), 0);
    assert_int_equal(psk_store_path(1, &path), 0);
    snprintf(want, sizeof(want), "%s/xdg/sitx/psk-cache", f->dir);
    assert_string_equal(path, want);
    free(path);
    snprintf(want, sizeof(want), "%s/xdg/sitx", f->dir);
    assert_int_equal(stat(want, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    /* Without XDG_STATE_HOME: under HOME; a relative one is ignored. */
    assert_int_equal(setenv("XDG_STATE_HOME", "relative", 1), 0);
    assert_int_equal(setenv("HOME", f->dir, 1), 0);
    assert_int_equal(psk_store_path(0, &path), 0);
    snprintf(want, sizeof(want), "%s/.local/state/sitx/psk-cache", f->dir);
    assert_string_equal(path, want);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
