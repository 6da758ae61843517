#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"

static int mkdir_p(char *path)
{
    char *p;

    for (p = path + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            int e = errno;

            *p = '/';
            return -e;
        }
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

int sitx_state_dir(int create, char **out)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char *base = NULL;
    int rc;

    *out = NULL;
    if (xdg != NULL && xdg[0] == '/') {
        rc = asprintf(&base, "%s/sitx", xdg);
    } else if (home != NULL && home[0] == '/') {
        rc = asprintf(&base, "%s/.local/state/sitx", home);
    } else {
        return -ENOENT;
    }
    if (rc < 0) {
        return SITX_E_NOMEM;
    }
    if (create) {
        rc = mkdir_p(base);
        if (rc != 0) {
            free(base);
            return rc;
        }
    }
    *out = base;
    return 0;
}

static int check_fd(int fd, size_t max, size_t *size, char *errstr, size_t errcap)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0) {
        int rc = -errno;

        snprintf(errstr, errcap, "%s", strerror(-rc));
        return rc;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(errstr, errcap, "not a regular file");
        return -EINVAL;
    }
    /* Whoever can write it decides what we trust. */
    if (sb.st_uid != geteuid()) {
        snprintf(errstr, errcap, "owned by uid %u, not by us (uid %u)", (unsigned)sb.st_uid,
                 (unsigned)geteuid());
        return -EPERM;
    }
    if ((sb.st_mode & 077) != 0) {
        snprintf(errstr, errcap, "mode %04o: group or others can use it (chmod 600 it)",
                 (unsigned)(sb.st_mode & 07777));
        return SITX_E_PERMS;
    }
    if ((uint64_t)sb.st_size > max) {
        if (max >= (1u << 20)) {
            snprintf(errstr, errcap, "larger than %zu MiB", max >> 20);
        } else {
            snprintf(errstr, errcap, "larger than %zu bytes", max);
        }
        return -EFBIG;
    }
    *size = (size_t)sb.st_size;
    return 0;
}

int sitx_state_open(const char *path, size_t max, size_t *size, char *errstr, size_t errcap)
{
    /* O_NONBLOCK: a FIFO put there cannot make us wait; fstat refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    int rc;

    errstr[0] = '\0';
    *size = 0;
    if (fd < 0) {
        rc = -errno;
        if (rc != -ENOENT) {
            snprintf(errstr, errcap, "%s",
                     rc == -ELOOP ? "a symbolic link (not followed)" : strerror(-rc));
        }
        return rc;
    }
    rc = check_fd(fd, max, size, errstr, errcap);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int sitx_read_upto(int fd, void *buf, size_t cap, size_t *got)
{
    uint8_t *p = buf;

    *got = 0;
    while (*got < cap) {
        ssize_t r = read(fd, p + *got, cap - *got);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        if (r == 0) {
            break;
        }
        *got += (size_t)r;
    }
    return 0;
}

int sitx_state_begin(struct sitx_state_tmp *t, const char *path)
{
    int rc;

    t->fd = -1;
    t->path = path;
    /* The random part keeps two writers of one process (thread pool jobs)
     * apart; the pid, those of two processes. */
    if (asprintf(&t->tmp, "%s.tmp-%u-%08x", path, (unsigned)getpid(),
                 (unsigned)randombytes_random()) < 0) {
        t->tmp = NULL;
        return SITX_E_NOMEM;
    }
    t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (t->fd < 0) {
        rc = -errno;
        free(t->tmp);
        t->tmp = NULL;
        return rc;
    }
    return 0;
}

int sitx_state_commit(struct sitx_state_tmp *t)
{
    char *slash;
    int rc = 0;
    int fd;

    if (fsync(t->fd) != 0) {
        rc = -errno;
    }
    if (close(t->fd) != 0 && rc == 0) {
        rc = -errno;
    }
    t->fd = -1;
    if (rc == 0 && rename(t->tmp, t->path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        sitx_state_abort(t);
        return rc;
    }
    /* The rename itself must reach the disk. */
    slash = strrchr(t->tmp, '/');
    if (slash != NULL) {
        *slash = '\0';
        fd = open(slash == t->tmp ? "/" : t->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
    free(t->tmp);
    t->tmp = NULL;
    return 0;
}

void sitx_state_abort(struct sitx_state_tmp *t)
{
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    if (t->tmp != NULL) {
        (void)unlink(t->tmp);
        free(t->tmp);
        t->tmp = NULL;
    }
}
