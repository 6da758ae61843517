/* An image is either wholly in the inbox or not at all: bytes go to a
 * temporary file in the inbox ("./.sitx-tmp-XXXXXX", O_EXCL, 0600), which is
 * fsync'ed, linked into place under a name that never overwrites an existing
 * file ("name.png", then "name-1.png", ...), and the directory fsync'ed. */
#ifndef SITX_SAFEFILE_H
#define SITX_SAFEFILE_H

#include <stddef.h>
#include <stdint.h>

#define SITX_TMP_PREFIX ".sitx-tmp-"

struct sitx_tmpfile {
    int dirfd;     /* the inbox, borrowed */
    int fd;        /* -1 when closed */
    char name[80]; /* temporary name inside its directory (a partial's is 64 hex) */
    uint64_t written;
};

/* Writes all of buf to fd, retrying short writes and EINTR. When done is not
 * NULL it gets the bytes written, also on failure. Returns 0 or -errno
 * (-EIO when write(2) returns 0). */
int sitx_write_all(int fd, const void *buf, size_t len, size_t *done);

/* Creates a temporary file in the directory dirfd. Returns 0 or -errno. */
int sitx_tmpfile_open(struct sitx_tmpfile *t, int dirfd);
/* Writes all of buf. Returns 0 or -errno (-ENOSPC, -EDQUOT on a full disk). */
int sitx_tmpfile_write(struct sitx_tmpfile *t, const uint8_t *buf, size_t len);
/* fsync, link to the first free name derived from want, unlink the temporary,
 * fsync the directory. The chosen name goes into final_name. Returns 0 or -errno.
 * The stored file is mode 0640 (the inbox's group may read it). final_name is
 * filled as soon as the file is in place, so an error after that (closing, the
 * directory fsync) leaves it set; an error before leaves the temporary for
 * sitx_tmpfile_discard(). -EINVAL for a want that is empty, has a '/', or is
 * "." or ".."; -EEXIST when "stem-10000.ext" is taken too. */
int sitx_tmpfile_commit(struct sitx_tmpfile *t, const char *want, char *final_name,
                        size_t final_cap);
/* The same, linked into the directory to (on the same filesystem as the
 * temporary's; its name stays in t->dirfd until then). Both directories are
 * fsync'ed. */
int sitx_tmpfile_commit_in(struct sitx_tmpfile *t, int to, const char *want, char *final_name,
                           size_t final_cap);

/* Opens the directory rel[0..rel_len) ("a/b") beneath base one component at
 * a time with O_NOFOLLOW|O_DIRECTORY, so neither a symlink nor a ".." can
 * lead out of base; with create, missing levels are made (mode 0750).
 * rel_len 0 gives a duplicate of base. Returns the fd or -errno (-ENOTDIR for a
 * symlink or a file on the way, -EINVAL for an empty, "." or ".."
 * component). */
int sitx_dir_open_beneath(int base, const char *rel, size_t rel_len, int create);

/* openat(base, rel, flags) for a relative path, through
 * sitx_dir_open_beneath for its directories and O_NOFOLLOW for the last
 * component. Returns the fd or -errno. */
int sitx_open_beneath(int base, const char *rel, int flags);

/* Closes and unlinks; safe to call after commit or twice. */
void sitx_tmpfile_discard(struct sitx_tmpfile *t);

/* Removes leftover SITX_TMP_PREFIX files (from a crash) in dirfd; returns how many. */
int sitx_tmpfile_sweep(int dirfd);

/* Free bytes for unprivileged users on the filesystem of dirfd, or -errno. */
int64_t sitx_fs_free_bytes(int dirfd);

#endif
