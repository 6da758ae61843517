/* Adding a paired sender to the authorised senders: one new line, mode kept
 * (0644 stays 0644, a new file is 0600), never a duplicate, a last line
 * without its newline fixed, a file that does not parse left alone, no
 * temporary left behind; and the name sanitiser. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "keyfile.h"
#include "peers.h"
#include "testutil.h"

#define KEY_A "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define KEY_B "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="

struct fx {
    char *dir;
    char path[512];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL || sodium_init() < 0 || (f->dir = tu_mkdtemp()) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/authorized", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static char *slurp(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(tu_read_file(path, &buf, &len), 0);
    return (char *)buf;
}

static int mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (int)(st.st_mode & 07777);
}

/* Only the peers file in the directory: no temporary left over. */
static void assert_alone(const struct fx *f)
{
    DIR *d = opendir(f->dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            assert_string_equal(e->d_name, "authorized");
            n++;
        }
    }
    closedir(d);
    assert_int_equal(n, 1);
}

static void key(const char *b64, uint8_t pk[SITX_KEY_BYTES])
{
    assert_int_equal(sitx_pubkey_decode(b64, strlen(b64), pk), 0);
}

static void test_append_keeps_mode_no_duplicate(void **state)
{
    struct fx *f = *state;
    const char *before = "# senders\n" KEY_A " alice\n";
    uint8_t a[SITX_KEY_BYTES];
    uint8_t b[SITX_KEY_BYTES];
    char err[256];
    char *text;

    key(KEY_A, a);
    key(KEY_B, b);
    assert_int_equal(tu_write_file(f->path, (const uint8_t *)before, strlen(before), 0644), 0);
    assert_int_equal(chmod(f->path, 0644), 0); /* whatever the umask */
    assert_int_equal(sitx_peers_append(f->path, b, "laptop", err, sizeof(err)), 1);
    text = slurp(f->path);
    assert_string_equal(text, "# senders\n" KEY_A " alice\n" KEY_B " laptop\n");
    free(text);
    assert_int_equal(mode_of(f->path), 0644);
    /* The same key again: nothing written, whatever the name. */
    assert_int_equal(sitx_peers_append(f->path, b, "other", err, sizeof(err)), 0);
    assert_int_equal(sitx_peers_append(f->path, a, "alice2", err, sizeof(err)), 0);
    text = slurp(f->path);
    assert_string_equal(text, "# senders\n" KEY_A " alice\n" KEY_B " laptop\n");
    free(text);
    assert_alone(f);
}

static void test_append_new_file_and_mode_0600(void **state)
{
    struct fx *f = *state;
    uint8_t a[SITX_KEY_BYTES];
    char err[256];
    char *text;

    key(KEY_A, a);
    assert_int_equal(sitx_peers_append(f->path, a, "", err, sizeof(err)), 1);
    text = slurp(f->path);
    assert_string_equal(text, KEY_A "\n");
    free(text);
    assert_int_equal(mode_of(f->path), 0600);
    assert_alone(f);
}

static void test_append_missing_newline(void **state)
{
    struct fx *f = *state;
    const char *before = KEY_A " alice"; /* an editor left no newline */
    uint8_t b[SITX_KEY_BYTES];
    char err[256];
    char *text;

    key(KEY_B, b);
    assert_int_equal(tu_write_file(f->path, (const uint8_t *)before, strlen(before), 0600), 0);
    assert_int_equal(sitx_peers_append(f->path, b, "bob", err, sizeof(err)), 1);
    text = slurp(f->path);
    assert_string_equal(text, KEY_A " alice\n" KEY_B " bob\n");
    free(text);
}

static void test_append_refuses_bad_file(void **state)
{
    struct fx *f = *state;
    const char *before = KEY_A " alice\nnot a key\n";
    uint8_t b[SITX_KEY_BYTES];
    char err[256];
    char *text;

    key(KEY_B, b);
    assert_int_equal(tu_write_file(f->path, (const uint8_t *)before, strlen(before), 0600), 0);
    assert_int_equal(sitx_peers_append(f->path, b, "bob", err, sizeof(err)), SITX_E_BAD_KEY);
    assert_non_null(strstr(err, "line 2"));
    text = slurp(f->path);
    assert_string_equal(text, before);
    free(text);
    assert_alone(f);
    /* A directory where the file should be. */
    assert_int_equal(sitx_peers_append(f->dir, b, "bob", err, sizeof(err)), SITX_E_INVALID);
}

static void test_name_sanitize(void **state)
{
    char out[SITX_PEER_NAME_MAX + 1];
    char longname[200];

    (void)state;
    sitx_peer_name_sanitize("my laptop", out);
    assert_string_equal(out, "my-laptop");
    sitx_peer_name_sanitize("#root\tbox\n", out);
    assert_string_equal(out, "-root-box-");
    sitx_peer_name_sanitize("caf\xc3\xa9", out);
    assert_string_equal(out, "caf\xc3\xa9");
    sitx_peer_name_sanitize("bad\xff\xfe", out);
    assert_string_equal(out, "bad");
    sitx_peer_name_sanitize("", out);
    assert_string_equal(out, "sender");
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    sitx_peer_name_sanitize(longname, out);
    assert_int_equal(strlen(out), SITX_PEER_NAME_MAX);
    /* A cut never splits a character: 63 bytes of 'x' and then a 2-byte one. */
    memset(longname, 'x', 63);
    memcpy(longname + 63, "\xc3\xa9", 3);
    sitx_peer_name_sanitize(longname, out);
    assert_int_equal(strlen(out), 63);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_keeps_mode_no_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_new_file_and_mode_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_missing_newline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_refuses_bad_file, setup, teardown),
        cmocka_unit_test(test_name_sanitize),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
