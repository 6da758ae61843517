/* Temporary files in the inbox: created private, committed under a name that
 * never replaces another file, no temporary left behind, leftovers swept, and
 * a full disk (a tiny tmpfs, when we may mount one) or a file size limit
 * reported as an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "msg.h"
#include "safefile.h"
#include "testutil.h"

struct fixture {
    char *dir;
    int dirfd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || sodium_init() < 0) {
        free(f);
        return -1;
    }
    f->dir = tu_mkdtemp();
    if (f->dir == NULL) {
        free(f);
        return -1;
    }
    f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->dirfd < 0) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char mnt[600];

    /* The tmpfs of the full-disk test, should that test have failed half way. */
    snprintf(mnt, sizeof(mnt), "%s/mnt", f->dir);
    (void)umount2(mnt, MNT_DETACH);
    close(f->dirfd);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Number of directory entries (other than . and ..); those starting with
 * SITX_TMP_PREFIX counted in *tmp. */
static int count_entries(const char *dir, int *tmp)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    *tmp = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        n++;
        if (strncmp(de->d_name, SITX_TMP_PREFIX, strlen(SITX_TMP_PREFIX)) == 0) {
            (*tmp)++;
        }
    }
    closedir(d);
    return n;
}

static void file_has(int dirfd, const char *name, const char *content, mode_t mode)
{
    char buf[256];
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY);
    ssize_t r;

    assert_true(fd >= 0);
    r = read(fd, buf, sizeof(buf));
    assert_int_equal(r, (ssize_t)strlen(content));
    assert_memory_equal(buf, content, strlen(content));
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, mode);
    assert_int_equal(st.st_nlink, 1);
    close(fd);
}

static void store(int dirfd, const char *want, const char *content, char *final, size_t cap)
{
    struct sitx_tmpfile t;

    assert_int_equal(sitx_tmpfile_open(&t, dirfd), 0);
    assert_int_equal(sitx_tmpfile_write(&t, (const uint8_t *)content, strlen(content)), 0);
    assert_int_equal(sitx_tmpfile_commit(&t, want, final, cap), 0);
    sitx_tmpfile_discard(&t);
}

static void test_open_is_private(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile t;
    struct stat st;
    int tmp = 0;

    umask(0);
    assert_int_equal(sitx_tmpfile_open(&t, f->dirfd), 0);
    umask(022);
    assert_true(t.fd >= 0);
    assert_int_equal(strncmp(t.name, SITX_TMP_PREFIX, strlen(SITX_TMP_PREFIX)), 0);
    assert_true(strlen(t.name) > strlen(SITX_TMP_PREFIX));
    assert_int_equal(fstatat(f->dirfd, t.name, &st, 0), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(t.written, 0);
    assert_int_equal(count_entries(f->dir, &tmp), 1);
    assert_int_equal(tmp, 1);
    sitx_tmpfile_discard(&t);
    assert_int_equal(t.fd, -1);
    assert_int_equal(count_entries(f->dir, &tmp), 0);
    sitx_tmpfile_discard(&t); /* twice is fine */
}

static void test_two_temporaries_differ(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile a;
    struct sitx_tmpfile b;

    assert_int_equal(sitx_tmpfile_open(&a, f->dirfd), 0);
    assert_int_equal(sitx_tmpfile_open(&b, f->dirfd), 0);
    assert_string_not_equal(a.name, b.name);
    sitx_tmpfile_discard(&a);
    sitx_tmpfile_discard(&b);
}

static void test_commit_basic(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile t;
    char final[SITX_NAME_MAX + 1];
    int tmp = 0;

    assert_int_equal(sitx_tmpfile_open(&t, f->dirfd), 0);
    assert_int_equal(sitx_tmpfile_write(&t, (const uint8_t *)"hello ", 6), 0);
    assert_int_equal(sitx_tmpfile_write(&t, (const uint8_t *)"world", 5), 0);
    assert_int_equal(t.written, 11);
    assert_int_equal(sitx_tmpfile_commit(&t, "name.png", final, sizeof(final)), 0);
    assert_string_equal(final, "name.png");
    assert_int_equal(t.fd, -1);
    file_has(f->dirfd, "name.png", "hello world", 0640);
    assert_int_equal(count_entries(f->dir, &tmp), 1);
    assert_int_equal(tmp, 0);
    /* Discard after commit leaves the stored file alone. */
    sitx_tmpfile_discard(&t);
    file_has(f->dirfd, "name.png", "hello world", 0640);
    assert_int_equal(sitx_tmpfile_write(&t, (const uint8_t *)"x", 1), -EBADF);
}

static void test_commit_never_overwrites(void **state)
{
    struct fixture *f = *state;
    char final[SITX_NAME_MAX + 1];
    int tmp = 0;

    store(f->dirfd, "name.png", "first", final, sizeof(final));
    assert_string_equal(final, "name.png");
    store(f->dirfd, "name.png", "second", final, sizeof(final));
    assert_string_equal(final, "name-1.png");
    store(f->dirfd, "name.png", "third", final, sizeof(final));
    assert_string_equal(final, "name-2.png");
    file_has(f->dirfd, "name.png", "first", 0640);
    file_has(f->dirfd, "name-1.png", "second", 0640);
    file_has(f->dirfd, "name-2.png", "third", 0640);

    store(f->dirfd, "noext", "a", final, sizeof(final));
    store(f->dirfd, "noext", "b", final, sizeof(final));
    assert_string_equal(final, "noext-1");
    store(f->dirfd, "a.tar.gz", "a", final, sizeof(final));
    store(f->dirfd, "a.tar.gz", "b", final, sizeof(final));
    assert_string_equal(final, "a.tar-1.gz");
    assert_int_equal(count_entries(f->dir, &tmp), 7);
    assert_int_equal(tmp, 0);
}

static void test_commit_existing_dir_or_symlink(void **state)
{
    struct fixture *f = *state;
    char final[SITX_NAME_MAX + 1];
    struct stat st;

    /* Neither a directory nor a symlink (even dangling) of that name is replaced. */
    assert_int_equal(mkdirat(f->dirfd, "d.png", 0700), 0);
    assert_int_equal(symlinkat("/nonexistent/target", f->dirfd, "d-1.png"), 0);
    store(f->dirfd, "d.png", "data", final, sizeof(final));
    assert_string_equal(final, "d-2.png");
    assert_int_equal(fstatat(f->dirfd, "d.png", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(fstatat(f->dirfd, "d-1.png", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISLNK(st.st_mode));
    file_has(f->dirfd, "d-2.png", "data", 0640);
}

/* O_NOFOLLOW|O_DIRECTORY on a symlink: ENOTDIR, without O_DIRECTORY ELOOP. */
static int symlink_refused(int rc)
{
    return rc == -ELOOP || rc == -ENOTDIR;
}

/* Subdirectories are made beneath the inbox, and neither a symlink planted
 * there nor a ".." component leads anywhere else. */
static void test_dir_open_beneath(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile t;
    char final[SITX_NAME_MAX + 1];
    char outside[600];
    struct stat st;
    int sub;

    sub = sitx_dir_open_beneath(f->dirfd, "a/b/c", 5, 1);
    assert_true(sub >= 0);
    assert_int_equal(fstatat(f->dirfd, "a/b/c", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0750);
    assert_int_equal(sitx_tmpfile_open(&t, f->dirfd), 0);
    assert_int_equal(sitx_tmpfile_write(&t, (const uint8_t *)"deep", 4), 0);
    assert_int_equal(sitx_tmpfile_commit_in(&t, sub, "x.png", final, sizeof(final)), 0);
    close(sub);
    file_has(f->dirfd, "a/b/c/x.png", "deep", 0640);
    sub = sitx_open_beneath(f->dirfd, "a/b/c/x.png", O_RDONLY);
    assert_true(sub >= 0);
    close(sub);

    /* An existing level without create, a missing one without create. */
    sub = sitx_dir_open_beneath(f->dirfd, "a/b", 3, 0);
    assert_true(sub >= 0);
    close(sub);
    assert_int_equal(sitx_dir_open_beneath(f->dirfd, "a/nope", 6, 0), -ENOENT);

    /* A symlink to a directory outside, at any level, is refused. */
    snprintf(outside, sizeof(outside), "%s/outside", f->dir);
    assert_int_equal(mkdir(outside, 0700), 0);
    assert_int_equal(symlinkat(outside, f->dirfd, "link"), 0);
    assert_int_equal(symlinkat(outside, f->dirfd, "a/b/link"), 0);
    assert_true(symlink_refused(sitx_dir_open_beneath(f->dirfd, "link", 4, 1)));
    assert_true(symlink_refused(sitx_dir_open_beneath(f->dirfd, "link/x", 6, 1)));
    assert_true(symlink_refused(sitx_dir_open_beneath(f->dirfd, "a/b/link/y", 10, 1)));
    assert_true(symlink_refused(sitx_open_beneath(f->dirfd, "link/x.png", O_RDONLY)));
    assert_int_equal(fstatat(f->dirfd, "outside/x", &st, 0), -1);
    assert_int_equal(fstatat(f->dirfd, "outside/y", &st, 0), -1);
    /* A file where a directory is wanted. */
    assert_int_equal(sitx_dir_open_beneath(f->dirfd, "a/b/c/x.png", 11, 1), -ENOTDIR);
    /* Components the sanitiser never produces are refused, not resolved. */
    assert_int_equal(sitx_dir_open_beneath(f->dirfd, "../a", 4, 1), -EINVAL);
    assert_int_equal(sitx_dir_open_beneath(f->dirfd, "a/./b", 5, 1), -EINVAL);
    assert_int_equal(sitx_dir_open_beneath(f->dirfd, "a//b", 4, 1), -EINVAL);
    assert_int_equal(sitx_dir_open_beneath(f->dirfd, "a/", 2, 1), -EINVAL);
    sub = sitx_dir_open_beneath(f->dirfd, "", 0, 1);
    assert_true(sub >= 0);
    close(sub);
}

static void test_commit_long_names(void **state)
{
    struct fixture *f = *state;
    char want[SITX_NAME_MAX + 1];
    char final[SITX_NAME_MAX + 1];
    size_t len = 0;

    memset(want, 'a', SITX_NAME_MAX - 4);
    memcpy(want + SITX_NAME_MAX - 4, ".png", 5);
    store(f->dirfd, want, "1", final, sizeof(final));
    assert_string_equal(final, want);
    store(f->dirfd, want, "2", final, sizeof(final));
    /* The stem gives way to "-1"; the whole stays within SITX_NAME_MAX. */
    assert_int_equal(strlen(final), SITX_NAME_MAX);
    assert_memory_equal(final, want, SITX_NAME_MAX - 6);
    assert_string_equal(final + SITX_NAME_MAX - 6, "-1.png");

    /* Three-byte characters: the cut lands on a character boundary. */
    want[len++] = 'b';
    while (len + 3 <= SITX_NAME_MAX - 4) {
        memcpy(want + len, "\xe2\x82\xac", 3);
        len += 3;
    }
    memcpy(want + len, ".png", 5);
    len += 4;
    store(f->dirfd, want, "1", final, sizeof(final));
    assert_string_equal(final, want);
    store(f->dirfd, want, "2", final, sizeof(final));
    assert_true(strlen(final) <= SITX_NAME_MAX);
    assert_int_equal((strlen(final) - strlen("-1.png") - 1) % 3, 0);
    assert_string_equal(final + strlen(final) - 6, "-1.png");
    assert_memory_equal(final, want, strlen(final) - 6);
}

static void test_commit_bad_names(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {"", "a/b.png", ".", "..", "/abs.png"};
    struct sitx_tmpfile t;
    char final[SITX_NAME_MAX + 1];
    char small[4];
    int tmp = 0;

    assert_int_equal(sitx_tmpfile_open(&t, f->dirfd), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sitx_tmpfile_commit(&t, bad[i], final, sizeof(final)), -EINVAL);
    }
    assert_int_equal(sitx_tmpfile_commit(&t, NULL, final, sizeof(final)), -EINVAL);
    assert_int_equal(sitx_tmpfile_commit(&t, "long.png", small, sizeof(small)), -ENAMETOOLONG);
    /* Still a temporary, and still there to discard. */
    assert_int_equal(count_entries(f->dir, &tmp), 1);
    assert_int_equal(tmp, 1);
    sitx_tmpfile_discard(&t);
    assert_int_equal(count_entries(f->dir, &tmp), 0);
    assert_int_equal(sitx_tmpfile_commit(&t, "x.png", final, sizeof(final)), -EBADF);
}

static void test_commit_gives_up_after_10000(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile t;
    char final[SITX_NAME_MAX + 1];
    char name[64];
    int fd;
    int tmp = 0;

    fd = openat(f->dirfd, "full.png", O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    for (int k = 1; k <= 10000; k++) {
        snprintf(name, sizeof(name), "full-%d.png", k);
        assert_int_equal(linkat(f->dirfd, "full.png", f->dirfd, name, 0), 0);
    }
    assert_int_equal(sitx_tmpfile_open(&t, f->dirfd), 0);
    assert_int_equal(sitx_tmpfile_commit(&t, "full.png", final, sizeof(final)), -EEXIST);
    sitx_tmpfile_discard(&t);
    assert_int_equal(count_entries(f->dir, &tmp), 10001);
    assert_int_equal(tmp, 0);
}

static void test_sweep(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile a;
    struct sitx_tmpfile b;
    char path[600];
    int tmp = 0;
    off_t before;

    assert_int_equal(sitx_tmpfile_open(&a, f->dirfd), 0);
    assert_int_equal(sitx_tmpfile_open(&b, f->dirfd), 0);
    /* As after a crash: descriptors gone, files left. */
    close(a.fd);
    close(b.fd);
    snprintf(path, sizeof(path), "%s/keep.png", f->dir);
    assert_int_equal(tu_write_file(path, (const uint8_t *)"keep", 4, 0644), 0);
    snprintf(path, sizeof(path), "%s/.sitx-tm", f->dir);
    assert_int_equal(tu_write_file(path, (const uint8_t *)"keep", 4, 0644), 0);
    assert_int_equal(mkdirat(f->dirfd, SITX_TMP_PREFIX "dir", 0700), 0);
    assert_int_equal(symlinkat("keep.png", f->dirfd, SITX_TMP_PREFIX "link"), 0);
    assert_int_equal(count_entries(f->dir, &tmp), 6);
    assert_int_equal(tmp, 4);

    before = lseek(f->dirfd, 0, SEEK_CUR);
    assert_int_equal(sitx_tmpfile_sweep(f->dirfd), 3);
    assert_int_equal(lseek(f->dirfd, 0, SEEK_CUR), before);
    assert_int_equal(count_entries(f->dir, &tmp), 3);
    assert_int_equal(tmp, 1); /* the directory stays */
    file_has(f->dirfd, "keep.png", "keep", 0644);
    assert_int_equal(sitx_tmpfile_sweep(f->dirfd), 0);
    assert_int_equal(sitx_tmpfile_sweep(-1), -EBADF);
}

static void test_free_bytes(void **state)
{
    struct fixture *f = *state;
    struct statvfs sv;
    int64_t n = sitx_fs_free_bytes(f->dirfd);

    assert_int_equal(statvfs(f->dir, &sv), 0);
    assert_true(n >= 0);
    assert_true((uint64_t)n <= (uint64_t)sv.f_blocks * sv.f_frsize);
    assert_int_equal(sitx_fs_free_bytes(-1), -EBADF);
}

/* A 64 KiB tmpfs, when we are allowed to mount one. */
static void test_full_disk_enospc(void **state)
{
    struct fixture *f = *state;
    struct sitx_tmpfile t;
    uint8_t chunk[8192];
    char mnt[600];
    int64_t free_before;
    int dirfd;
    int rc = 0;
    int tmp = 0;

    snprintf(mnt, sizeof(mnt), "%s/mnt", f->dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0) {
        skip();
    }
    dirfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    free_before = sitx_fs_free_bytes(dirfd);
    assert_true(free_before > 0 && free_before <= 64 * 1024);

    memset(chunk, 0x5a, sizeof(chunk));
    assert_int_equal(sitx_tmpfile_open(&t, dirfd), 0);
    for (int i = 0; i < 64 && rc == 0; i++) {
        rc = sitx_tmpfile_write(&t, chunk, sizeof(chunk));
    }
    assert_int_equal(rc, -ENOSPC);
    assert_true(t.written <= 64 * 1024);
    sitx_tmpfile_discard(&t);
    assert_int_equal(count_entries(mnt, &tmp), 0);
    assert_int_equal(sitx_fs_free_bytes(dirfd), free_before);
    close(dirfd);
    assert_int_equal(umount(mnt), 0);
}

/* RLIMIT_FSIZE in a child (so the limit does not outlive the test). */
static void test_file_size_limit_efbig(void **state)
{
    struct fixture *f = *state;
    pid_t pid;
    int status = 0;
    int tmp = 0;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {.rlim_cur = 10000, .rlim_max = 10000};
        struct sitx_tmpfile t;
        uint8_t chunk[4096] = {0};
        int rc = 0;

        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0 || sitx_tmpfile_open(&t, f->dirfd) != 0) {
            _exit(2);
        }
        for (int i = 0; i < 10 && rc == 0; i++) {
            rc = sitx_tmpfile_write(&t, chunk, sizeof(chunk));
        }
        /* A short write to the limit, then EFBIG: written says how far it got. */
        if (rc != -EFBIG || t.written != 10000) {
            _exit(3);
        }
        sitx_tmpfile_discard(&t);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(count_entries(f->dir, &tmp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_is_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_temporaries_differ, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_never_overwrites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_existing_dir_or_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_open_beneath, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_long_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_gives_up_after_10000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_enospc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_size_limit_efbig, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
