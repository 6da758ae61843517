/* The partial store (partial.h). Names are derived, never taken from the
 * peer; every open is O_NOFOLLOW beneath the directory; a partial in use is
 * flock'ed, which is per open file, so two transfers of this process
 * exclude each other as two processes would. */
#include "partial.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "hex.h"

#define PARTIAL_DIR_MODE  0700
#define PARTIAL_FILE_MODE 0600
/* Opens tried when the name was replaced between open and lock. */
#define OPEN_TRIES 3

static const char domain[] = "sitx partial v2";

int partial_dir_open(int inbox_fd)
{
    struct stat st;
    int fd;

    if (mkdirat(inbox_fd, PARTIAL_DIR, PARTIAL_DIR_MODE) != 0 && errno != EEXIST) {
        return -errno;
    }
    fd = openat(inbox_fd, PARTIAL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ELOOP ? -ENOTDIR : -errno;
    }
    if (fstat(fd, &st) != 0) {
        int rc = -errno;

        close(fd);
        return rc;
    }
    if ((st.st_mode & 07777) != PARTIAL_DIR_MODE && fchmod(fd, PARTIAL_DIR_MODE) != 0) {
        int rc = -errno;

        close(fd);
        return rc;
    }
    return fd;
}

void partial_name(uint8_t mode, const uint8_t sender[32], uint8_t format, uint64_t size,
                  const uint8_t hash[SITX_CONTENT_HASH_BYTES], char name[PARTIAL_NAME_LEN + 1])
{
    crypto_generichash_state st;
    uint8_t key[SITX_CONTENT_HASH_BYTES];
    uint8_t be[8];

    sitx_store_be64(be, size);
    crypto_generichash_init(&st, NULL, 0, sizeof(key));
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain));
    crypto_generichash_update(&st, &mode, 1);
    crypto_generichash_update(&st, sender, 32);
    crypto_generichash_update(&st, &format, 1);
    crypto_generichash_update(&st, be, sizeof(be));
    crypto_generichash_update(&st, hash, SITX_CONTENT_HASH_BYTES);
    crypto_generichash_final(&st, key, sizeof(key));
    sodium_bin2hex(name, PARTIAL_NAME_LEN + 1, key, sizeof(key));
}

static int valid_name(const char *name)
{
    return sitx_is_lower_hex(name, PARTIAL_NAME_LEN);
}

static int64_t mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static int expired(const struct stat *st, uint64_t ttl_ms, int64_t now_ms)
{
    return ttl_ms == 0 || now_ms - mtime_ms(st) >= (int64_t)ttl_ms;
}

int64_t partial_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Opens and locks name; 0 with *fdp and *st, 1 to try again (the name
 * changed hands meanwhile), or -errno. */
static int open_locked(int dirfd, const char *name, int *fdp, struct stat *st)
{
    struct stat named;
    int fd;
    int rc;

    fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, PARTIAL_FILE_MODE);
    if (fd < 0) {
        return errno == ELOOP ? -ENOTDIR : -errno;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
        close(fd);
        return rc;
    }
    if (fstat(fd, st) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    /* A sweep may have unlinked it between our open and our lock. */
    if (fstatat(dirfd, name, &named, AT_SYMLINK_NOFOLLOW) != 0 || named.st_ino != st->st_ino ||
        named.st_dev != st->st_dev) {
        close(fd);
        return 1;
    }
    *fdp = fd;
    return 0;
}

int partial_open(int dirfd, const char *name, uint64_t size, uint64_t ttl_ms, int64_t now_ms,
                 struct sitx_tmpfile *t)
{
    struct stat st;
    uint64_t held;
    int fd = -1;
    int rc = -EAGAIN;

    t->dirfd = dirfd;
    t->fd = -1;
    t->name[0] = '\0';
    t->written = 0;
    if (!valid_name(name)) {
        return -EINVAL;
    }
    for (int i = 0; i < OPEN_TRIES && rc != 0; i++) {
        rc = open_locked(dirfd, name, &fd, &st);
        if (rc < 0) {
            return rc;
        }
    }
    if (rc != 0) {
        return -EAGAIN;
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
        /* Not what we write: a hard link would let us append to someone
         * else's file. Take it away and start a fresh one. */
        close(fd);
        if (unlinkat(dirfd, name, 0) != 0) {
            return -errno;
        }
        return partial_open(dirfd, name, size, ttl_ms, now_ms, t);
    }
    held = (uint64_t)st.st_size;
    if (held > size || (held > 0 && expired(&st, ttl_ms, now_ms))) {
        held = 0;
    }
    if (held != (uint64_t)st.st_size && ftruncate(fd, 0) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if ((st.st_mode & 07777) != PARTIAL_FILE_MODE && fchmod(fd, PARTIAL_FILE_MODE) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (lseek(fd, (off_t)held, SEEK_SET) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    t->fd = fd;
    _Static_assert(sizeof(t->name) > PARTIAL_NAME_LEN, "partial names fit a tmpfile name");
    memcpy(t->name, name, PARTIAL_NAME_LEN + 1);
    t->written = held;
    return 0;
}

int64_t partial_read(const struct sitx_tmpfile *t, uint64_t off, uint8_t *buf, size_t len)
{
    ssize_t n;

    if (t->fd < 0) {
        return -EBADF;
    }
    do {
        n = pread(t->fd, buf, len, (off_t)off);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (int64_t)n;
}

int partial_restart(struct sitx_tmpfile *t)
{
    if (t->fd < 0) {
        return -EBADF;
    }
    if (ftruncate(t->fd, 0) != 0 || lseek(t->fd, 0, SEEK_SET) < 0) {
        return -errno;
    }
    t->written = 0;
    return 0;
}

void partial_keep(struct sitx_tmpfile *t)
{
    if (t->fd < 0) {
        return;
    }
    (void)futimens(t->fd, NULL);
    close(t->fd); /* the lock goes with the last descriptor */
    t->fd = -1;
    t->name[0] = '\0';
}

int partial_sweep(int dirfd, uint64_t ttl_ms, int64_t now_ms)
{
    struct dirent *de;
    DIR *dir;
    int dup_fd;
    int n = 0;

    dup_fd = dup(dirfd);
    if (dup_fd < 0) {
        return -errno;
    }
    dir = fdopendir(dup_fd);
    if (dir == NULL) {
        int rc = -errno;

        close(dup_fd);
        return rc;
    }
    rewinddir(dir);
    while ((de = readdir(dir)) != NULL) {
        struct stat st;
        int fd;

        if (!valid_name(de->d_name)) {
            continue;
        }
        fd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        /* Held by a transfer: in use, whatever its age. */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            expired(&st, ttl_ms, now_ms) && unlinkat(dirfd, de->d_name, 0) == 0) {
            n++;
        }
        close(fd);
    }
    closedir(dir);
    return n;
}
