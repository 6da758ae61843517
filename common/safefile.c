#include "safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>

#include "msg.h"

#define TMP_RANDOM_CHARS  12
#define TMP_OPEN_TRIES    100
#define COMMIT_MAX_SUFFIX 10000
/* Stored images are readable by the inbox's group, so that the operator's
 * tools (a viewer, an import job) can run as another user of that group;
 * the temporary file stays 0600 until the image is complete and verified. */
#define STORED_MODE 0640
#define SUBDIR_MODE 0750 /* like the inbox: its group may read */

int sitx_tmpfile_open(struct sitx_tmpfile *t, int dirfd)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const size_t prefix_len = sizeof(SITX_TMP_PREFIX) - 1;
    int rc = -EEXIST;

    t->dirfd = dirfd;
    t->fd = -1;
    t->name[0] = '\0';
    t->written = 0;
    for (int attempt = 0; attempt < TMP_OPEN_TRIES; attempt++) {
        char name[sizeof(t->name)];
        int fd;

        memcpy(name, SITX_TMP_PREFIX, prefix_len);
        for (size_t i = 0; i < TMP_RANDOM_CHARS; i++) {
            name[prefix_len + i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
        }
        name[prefix_len + TMP_RANDOM_CHARS] = '\0';
        fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            t->fd = fd;
            memcpy(t->name, name, sizeof(name));
            return 0;
        }
        rc = -errno;
        if (errno != EEXIST) {
            break;
        }
    }
    return rc;
}

int sitx_write_all(int fd, const void *buf, size_t len, size_t *done)
{
    const uint8_t *p = buf;
    size_t off = 0;
    int rc = 0;

    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            break;
        }
        if (w == 0) {
            rc = -EIO;
            break;
        }
        off += (size_t)w;
    }
    if (done != NULL) {
        *done = off;
    }
    return rc;
}

int sitx_tmpfile_write(struct sitx_tmpfile *t, const uint8_t *buf, size_t len)
{
    size_t done = 0;
    int rc;

    if (t->fd < 0) {
        return -EBADF;
    }
    rc = sitx_write_all(t->fd, buf, len, &done);
    t->written += done; /* also on failure: how far it got */
    return rc;
}

/* Cuts n down so that s[0..n) ends on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
        n--;
    }
    return n;
}

/* Candidate k for want: want itself, then "stem-k.ext", with the stem
 * shortened when the suffix would push the name past SITX_NAME_MAX. */
static int candidate(const char *want, size_t want_len, unsigned k, char *out, size_t cap)
{
    const char *dot = memrchr(want, '.', want_len);
    size_t stem_len = (dot != NULL && dot != want) ? (size_t)(dot - want) : want_len;
    const char *ext = want + stem_len;
    size_t ext_len = want_len - stem_len;
    char num[16];
    int num_len;
    size_t room;

    if (k == 0) {
        num[0] = '\0';
        num_len = 0;
    } else {
        num_len = snprintf(num, sizeof(num), "-%u", k);
    }
    if (ext_len + (size_t)num_len >= SITX_NAME_MAX) {
        return -ENAMETOOLONG;
    }
    room = SITX_NAME_MAX - ext_len - (size_t)num_len;
    if (stem_len > room) {
        stem_len = utf8_cut(want, room);
    }
    if (stem_len == 0 || stem_len + (size_t)num_len + ext_len + 1 > cap) {
        return -ENAMETOOLONG;
    }
    memcpy(out, want, stem_len);
    memcpy(out + stem_len, num, (size_t)num_len);
    memcpy(out + stem_len + (size_t)num_len, ext, ext_len);
    out[stem_len + (size_t)num_len + ext_len] = '\0';
    return 0;
}

/* Puts the temporary under name without replacing anything there. Returns 0,
 * 1 when the temporary was renamed (no unlink needed), or -errno. */
static int place(struct sitx_tmpfile *t, int to, const char *name)
{
    if (linkat(t->dirfd, t->name, to, name, 0) == 0) {
        return 0;
    }
    /* Filesystems without hard links: an atomic rename that refuses to replace. */
    if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) {
        if (renameat2(t->dirfd, t->name, to, name, RENAME_NOREPLACE) == 0) {
            return 1;
        }
    }
    return -errno;
}

int sitx_tmpfile_commit(struct sitx_tmpfile *t, const char *want, char *final_name,
                        size_t final_cap)
{
    return sitx_tmpfile_commit_in(t, t->dirfd, want, final_name, final_cap);
}

int sitx_tmpfile_commit_in(struct sitx_tmpfile *t, int to, const char *want, char *final_name,
                           size_t final_cap)
{
    char name[SITX_NAME_MAX + 1];
    size_t want_len;
    int placed = -EEXIST;
    int rc;

    if (t->fd < 0 || t->name[0] == '\0') {
        return -EBADF;
    }
    want_len = want != NULL ? strlen(want) : 0;
    if (want_len == 0 || want_len > SITX_NAME_MAX || memchr(want, '/', want_len) != NULL ||
        strcmp(want, ".") == 0 || strcmp(want, "..") == 0) {
        return -EINVAL;
    }
    if (fsync(t->fd) != 0) {
        return -errno;
    }
    if (fchmod(t->fd, STORED_MODE) != 0) {
        return -errno;
    }
    for (unsigned k = 0; k <= COMMIT_MAX_SUFFIX; k++) {
        rc = candidate(want, want_len, k, name, sizeof(name));
        if (rc != 0) {
            return rc;
        }
        if (strlen(name) + 1 > final_cap) {
            return -ENAMETOOLONG;
        }
        placed = place(t, to, name);
        if (placed != -EEXIST) {
            break;
        }
    }
    if (placed < 0) {
        return placed;
    }
    memcpy(final_name, name, strlen(name) + 1);
    /* The image is in place from here on; what follows only tidies up. */
    if (placed == 0) {
        /* A leftover link would only be swept at the next start. */
        (void)unlinkat(t->dirfd, t->name, 0);
    }
    t->name[0] = '\0';
    rc = close(t->fd) == 0 ? 0 : -errno;
    t->fd = -1;
    if (fsync(to) != 0 && rc == 0) {
        rc = -errno;
    }
    if (to != t->dirfd && fsync(t->dirfd) != 0 && rc == 0) {
        rc = -errno;
    }
    return rc;
}

void sitx_tmpfile_discard(struct sitx_tmpfile *t)
{
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    if (t->name[0] != '\0') {
        (void)unlinkat(t->dirfd, t->name, 0);
        t->name[0] = '\0';
    }
}

int sitx_tmpfile_sweep(int dirfd)
{
    const size_t prefix_len = sizeof(SITX_TMP_PREFIX) - 1;
    struct dirent *de;
    DIR *dir;
    int count = 0;
    int fd;

    /* A fresh open file description, so dirfd's own position is left alone. */
    fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    dir = fdopendir(fd);
    if (dir == NULL) {
        int rc = -errno;

        close(fd);
        return rc;
    }
    while ((de = readdir(dir)) != NULL) {
        struct stat st;

        if (strncmp(de->d_name, SITX_TMP_PREFIX, prefix_len) != 0) {
            continue;
        }
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode)) {
            continue;
        }
        if (unlinkat(dirfd, de->d_name, 0) == 0) {
            count++;
        }
    }
    closedir(dir);
    if (count > 0) {
        (void)fsync(dirfd);
    }
    return count;
}

int64_t sitx_fs_free_bytes(int dirfd)
{
    struct statvfs sv;
    uint64_t bytes;

    if (fstatvfs(dirfd, &sv) != 0) {
        return -errno;
    }
    if (sv.f_frsize != 0 && sv.f_bavail > (uint64_t)INT64_MAX / sv.f_frsize) {
        return INT64_MAX;
    }
    bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
    return (int64_t)bytes;
}

/* One step down: dir/comp as a directory, never through a symlink. */
static int open_step(int dir, const char *comp, int create)
{
    int fd = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT && create) {
        if (mkdirat(dir, comp, SUBDIR_MODE) != 0 && errno != EEXIST) {
            return -errno;
        }
        /* Whoever made it, it is checked like any other below. */
        fd = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        /* A symlink (O_NOFOLLOW) or a file (O_DIRECTORY): ENOTDIR or ELOOP. */
        return -errno;
    }
    return fd;
}

int sitx_dir_open_beneath(int base, const char *rel, size_t rel_len, int create)
{
    char comp[SITX_NAME_MAX + 1];
    size_t i = 0;
    int cur;

    if (rel_len > 0 && rel[rel_len - 1] == '/') {
        return -EINVAL;
    }
    cur = fcntl(base, F_DUPFD_CLOEXEC, 0);
    if (cur < 0) {
        return -errno;
    }
    while (i < rel_len) {
        const char *end = memchr(rel + i, '/', rel_len - i);
        size_t n = end != NULL ? (size_t)(end - (rel + i)) : rel_len - i;
        int next;

        if (n == 0 || n > SITX_NAME_MAX || (n == 1 && rel[i] == '.') ||
            (n == 2 && rel[i] == '.' && rel[i + 1] == '.') || memchr(rel + i, '\0', n) != NULL) {
            close(cur);
            return -EINVAL;
        }
        memcpy(comp, rel + i, n);
        comp[n] = '\0';
        next = open_step(cur, comp, create);
        close(cur);
        if (next < 0) {
            return next;
        }
        cur = next;
        i += n + 1;
    }
    return cur;
}

int sitx_open_beneath(int base, const char *rel, int flags)
{
    size_t dir_len;
    const char *slash = strrchr(rel, '/');
    int dir;
    int fd;

    if (slash == NULL) {
        fd = openat(base, rel, flags | O_NOFOLLOW | O_CLOEXEC);
        return fd >= 0 ? fd : -errno;
    }
    dir_len = (size_t)(slash - rel);
    dir = sitx_dir_open_beneath(base, rel, dir_len, 0);
    if (dir < 0) {
        return dir;
    }
    fd = openat(dir, slash + 1, flags | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        fd = -errno;
    }
    close(dir);
    return fd;
}
