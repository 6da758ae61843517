/* The receiver's partial store: names derived from sender and content,
 * a private directory, partials held, resumed, emptied, kept, deleted,
 * committed into the inbox, and swept when they expire or are not wanted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "partial.h"
#include "safefile.h"
#include "testutil.h"

#define HOUR_MS (3600 * 1000)

struct fixture {
    char *dir;
    int inbox;
    int pdir;
    char name[PARTIAL_NAME_LEN + 1];
};

static const uint8_t sender[32] = {1, 2, 3};
static const uint8_t chash[32] = {9, 8, 7};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || sodium_init() < 0) {
        return -1;
    }
    f->dir = tu_mkdtemp();
    if (f->dir == NULL) {
        return -1;
    }
    f->inbox = open(f->dir, O_RDONLY | O_DIRECTORY);
    f->pdir = partial_dir_open(f->inbox);
    if (f->inbox < 0 || f->pdir < 0) {
        return -1;
    }
    partial_name(1, sender, 1, 1000, chash, f->name);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    close(f->pdir);
    close(f->inbox);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(seed + i * 7);
    }
}

static int file_mode(int dirfd, const char *name)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return -1;
    }
    return (int)(st.st_mode & 07777);
}

static int64_t file_size(int dirfd, const char *name)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return -1;
    }
    return (int64_t)st.st_size;
}

/* Writes n bytes into a new partial and keeps it. */
static void make_partial(struct fixture *f, const char *name, size_t n)
{
    struct sitx_tmpfile t;
    uint8_t buf[600];

    assert_true(n <= sizeof(buf));
    fill(buf, n, 3);
    assert_int_equal(partial_open(f->pdir, name, 1000, HOUR_MS, partial_now_ms(), &t), 0);
    assert_int_equal(sitx_tmpfile_write(&t, buf, n), 0);
    partial_keep(&t);
}

static void set_age(int dirfd, const char *name, int64_t seconds_ago)
{
    struct timespec ts[2];

    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= seconds_ago;
    ts[1] = ts[0];
    assert_int_equal(utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void test_name(void **state)
{
    char a[PARTIAL_NAME_LEN + 1];
    char b[PARTIAL_NAME_LEN + 1];
    uint8_t other[32] = {1, 2, 3};

    (void)state;
    partial_name(1, sender, 1, 1000, chash, a);
    assert_int_equal(strlen(a), PARTIAL_NAME_LEN);
    assert_int_equal(strspn(a, "0123456789abcdef"), PARTIAL_NAME_LEN);
    partial_name(1, sender, 1, 1000, chash, b);
    assert_string_equal(a, b);
    /* Each input changes the name: mode, sender, format, size, hash. */
    partial_name(2, sender, 1, 1000, chash, b);
    assert_string_not_equal(a, b);
    other[31] = 1;
    partial_name(1, other, 1, 1000, chash, b);
    assert_string_not_equal(a, b);
    partial_name(1, sender, 2, 1000, chash, b);
    assert_string_not_equal(a, b);
    partial_name(1, sender, 1, 1001, chash, b);
    assert_string_not_equal(a, b);
    other[31] = 0;
    other[0] = 9;
    other[1] = 8;
    other[2] = 7;
    other[30] = 1;
    partial_name(1, sender, 1, 1000, other, b);
    assert_string_not_equal(a, b);
}

static void test_dir(void **state)
{
    struct fixture *f = *state;
    int fd;

    assert_int_equal(file_mode(f->inbox, PARTIAL_DIR), 0700);
    /* Opened again it is the same; a wider mode is narrowed. */
    assert_int_equal(fchmodat(f->inbox, PARTIAL_DIR, 0755, 0), 0);
    fd = partial_dir_open(f->inbox);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(file_mode(f->inbox, PARTIAL_DIR), 0700);
    /* A symlink in its place is refused. */
    assert_int_equal(unlinkat(f->inbox, PARTIAL_DIR, AT_REMOVEDIR), 0);
    assert_int_equal(symlinkat("/tmp", f->inbox, PARTIAL_DIR), 0);
    assert_int_equal(partial_dir_open(f->inbox), -ENOTDIR);
    assert_int_equal(unlinkat(f->inbox, PARTIAL_DIR, 0), 0);
    /* A file in its place too. */
    fd = openat(f->inbox, PARTIAL_DIR, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(partial_dir_open(f->inbox), -ENOTDIR);
}

static void test_open_resume(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile t;
    struct sitx_tmpfile t2;
    uint8_t buf[300];
    uint8_t back[300];

    fill(buf, sizeof(buf), 1);
    assert_int_equal(partial_open(f->pdir, f->name, 1000, HOUR_MS, partial_now_ms(), &t), 0);
    assert_true(t.written == 0);
    assert_int_equal(file_mode(f->pdir, f->name), 0600);
    assert_int_equal(sitx_tmpfile_write(&t, buf, 200), 0);
    /* In use: a second transfer of the same image cannot have it. */
    assert_int_equal(partial_open(f->pdir, f->name, 1000, HOUR_MS, partial_now_ms(), &t2),
                     -EWOULDBLOCK);
    assert_int_equal(partial_sweep(f->pdir, 0, partial_now_ms()), 0);
    partial_keep(&t);
    partial_keep(&t); /* twice is harmless */
    assert_int_equal(file_size(f->pdir, f->name), 200);

    /* The next attempt finds the 200 bytes and appends after them. */
    assert_int_equal(partial_open(f->pdir, f->name, 1000, HOUR_MS, partial_now_ms(), &t), 0);
    assert_true(t.written == 200);
    assert_int_equal(partial_read(&t, 0, back, sizeof(back)), 200);
    assert_memory_equal(back, buf, 200);
    assert_int_equal(partial_read(&t, 150, back, 10), 10);
    assert_memory_equal(back, buf + 150, 10);
    assert_int_equal(partial_read(&t, 200, back, 10), 0);
    assert_int_equal(sitx_tmpfile_write(&t, buf + 200, 100), 0);
    assert_int_equal(partial_read(&t, 0, back, sizeof(back)), 300);
    assert_memory_equal(back, buf, 300);

    /* A prefix that did not check out: empty again. */
    assert_int_equal(partial_restart(&t), 0);
    assert_true(t.written == 0);
    assert_int_equal(file_size(f->pdir, f->name), 0);
    assert_int_equal(sitx_tmpfile_write(&t, buf, 10), 0);
    assert_int_equal(partial_read(&t, 0, back, sizeof(back)), 10);

    /* Deleted: gone from the directory. */
    sitx_tmpfile_discard(&t);
    assert_int_equal(file_size(f->pdir, f->name), -1);
}

static void test_open_empties(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile t;
    int fd;

    /* Longer than the offer: emptied. */
    make_partial(f, f->name, 500);
    assert_int_equal(partial_open(f->pdir, f->name, 400, HOUR_MS, partial_now_ms(), &t), 0);
    assert_true(t.written == 0);
    assert_int_equal(file_size(f->pdir, f->name), 0);
    sitx_tmpfile_discard(&t);

    /* Expired: emptied; just inside the time: kept. */
    make_partial(f, f->name, 100);
    set_age(f->pdir, f->name, 10);
    assert_int_equal(partial_open(f->pdir, f->name, 1000, 60 * 1000, partial_now_ms(), &t), 0);
    assert_true(t.written == 100);
    partial_keep(&t);
    set_age(f->pdir, f->name, 10);
    assert_int_equal(partial_open(f->pdir, f->name, 1000, 5 * 1000, partial_now_ms(), &t), 0);
    assert_true(t.written == 0);
    sitx_tmpfile_discard(&t);

    /* A mode other than 0600 is put back. */
    make_partial(f, f->name, 100);
    assert_int_equal(fchmodat(f->pdir, f->name, 0644, 0), 0);
    assert_int_equal(partial_open(f->pdir, f->name, 1000, HOUR_MS, partial_now_ms(), &t), 0);
    assert_int_equal(file_mode(f->pdir, f->name), 0600);
    sitx_tmpfile_discard(&t);

    /* A hard link to another file is not appended to: replaced by a new file. */
    fd = openat(f->inbox, "victim", O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    assert_int_equal(linkat(f->inbox, "victim", f->pdir, f->name, 0), 0);
    assert_int_equal(partial_open(f->pdir, f->name, 1000, HOUR_MS, partial_now_ms(), &t), 0);
    assert_true(t.written == 0);
    assert_int_equal(sitx_tmpfile_write(&t, (const uint8_t *)"xy", 2), 0);
    sitx_tmpfile_discard(&t);
    assert_int_equal(file_size(f->inbox, "victim"), 4);

    /* A symlink is not followed; a name not ours is refused. */
    assert_int_equal(symlinkat("../victim", f->pdir, f->name), 0);
    assert_true(partial_open(f->pdir, f->name, 1000, HOUR_MS, partial_now_ms(), &t) < 0);
    assert_int_equal(file_size(f->inbox, "victim"), 4);
    assert_int_equal(unlinkat(f->pdir, f->name, 0), 0);
    assert_int_equal(partial_open(f->pdir, "../victim", 1000, HOUR_MS, partial_now_ms(), &t),
                     -EINVAL);
}

static void test_commit(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile t;
    char placed[64];
    uint8_t buf[300];
    uint8_t *got = NULL;
    size_t got_len = 0;
    char path[4096];

    fill(buf, sizeof(buf), 5);
    make_partial(f, f->name, 120);
    assert_int_equal(partial_open(f->pdir, f->name, 300, HOUR_MS, partial_now_ms(), &t), 0);
    assert_true(t.written == 120);
    assert_int_equal(sitx_tmpfile_write(&t, buf + 120, 180), 0);
    assert_int_equal(sitx_tmpfile_commit_in(&t, f->inbox, "img.png", placed, sizeof(placed)), 0);
    sitx_tmpfile_discard(&t);
    assert_string_equal(placed, "img.png");
    /* In the inbox with the stored mode, and gone from the partials. */
    assert_int_equal(file_mode(f->inbox, "img.png"), 0640);
    assert_int_equal(file_size(f->pdir, f->name), -1);
    snprintf(path, sizeof(path), "%s/img.png", f->dir);
    assert_int_equal(tu_read_file(path, &got, &got_len), 0);
    assert_int_equal(got_len, 300);
    fill(buf, 120, 3); /* make_partial's bytes */
    assert_memory_equal(got, buf, 300);
    free(got);
}

static void test_sweep(void **state)
{
    struct fixture *f = *state;
    char old[PARTIAL_NAME_LEN + 1];
    char fresh[PARTIAL_NAME_LEN + 1];
    struct sitx_tmpfile held;
    int fd;

    partial_name(1, sender, 1, 2000, chash, old);
    partial_name(1, sender, 1, 3000, chash, fresh);
    make_partial(f, old, 10);
    make_partial(f, fresh, 10);
    set_age(f->pdir, old, 7200);
    assert_int_equal(partial_open(f->pdir, f->name, 1000, HOUR_MS, partial_now_ms(), &held), 0);
    set_age(f->pdir, f->name, 7200);
    /* Something else in the directory is none of the sweep's business. */
    fd = openat(f->pdir, "notes.txt", O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    set_age(f->pdir, "notes.txt", 7200);

    /* The old one goes; the fresh one and the one in use (old as it is) stay. */
    assert_int_equal(partial_sweep(f->pdir, HOUR_MS, partial_now_ms()), 1);
    assert_int_equal(file_size(f->pdir, old), -1);
    assert_int_equal(file_size(f->pdir, fresh), 10);
    assert_int_equal(file_size(f->pdir, f->name), 0);
    /* ttl 0 keeps none but the one in use. */
    assert_int_equal(partial_sweep(f->pdir, 0, partial_now_ms()), 1);
    assert_int_equal(file_size(f->pdir, fresh), -1);
    assert_int_equal(file_size(f->pdir, f->name), 0);
    partial_keep(&held);
    assert_int_equal(partial_sweep(f->pdir, 0, partial_now_ms()), 1);
    assert_int_equal(file_size(f->pdir, f->name), -1);
    assert_int_equal(file_size(f->pdir, "notes.txt"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name),
        cmocka_unit_test_setup_teardown(test_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_empties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
