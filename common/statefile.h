/* Small files of the user's own in the state directory ($XDG_STATE_HOME/sitx,
 * else ~/.local/state/sitx): the --watch state and the password key cache.
 * Read without following a symbolic link and only when they are ours and
 * closed to group and others; replaced atomically (temporary file 0600,
 * fsync, rename, fsync of the directory). */
#ifndef SITX_STATEFILE_H
#define SITX_STATEFILE_H

#include <stddef.h>

/* The state directory into *out (malloc'd). With create, missing levels are
 * made with mode 0700. Returns 0, -ENOENT (neither XDG_STATE_HOME nor HOME
 * is an absolute path), SITX_E_NOMEM or -errno from mkdir. */
int sitx_state_dir(int create, char **out);

/* Opens path read-only with O_NOFOLLOW and checks the descriptor: a regular
 * file, owned by the effective uid, no group or other mode bits, at most max
 * bytes (its size in *size). Returns the fd, or -ENOENT for a missing file
 * (errstr empty), -ELOOP (a symbolic link), -EINVAL (not a regular file),
 * -EPERM (not ours), SITX_E_PERMS (group or others), -EFBIG (over max) or
 * another -errno, each with the reason in errstr. */
int sitx_state_open(const char *path, size_t max, size_t *size, char *errstr, size_t errcap);

/* Reads from fd until cap bytes or the end of the file, retrying EINTR.
 * Returns 0 (bytes in *got) or -errno. */
int sitx_read_upto(int fd, void *buf, size_t cap, size_t *got);

/* A replacement being written: fd is the temporary file next to path. */
struct sitx_state_tmp {
    int fd;
    char *tmp;
    const char *path; /* borrowed */
};

/* Creates path's temporary ("path.tmp-<pid>-<random>", O_EXCL|O_NOFOLLOW,
 * 0600). Returns 0, SITX_E_NOMEM or -errno. */
int sitx_state_begin(struct sitx_state_tmp *t, const char *path);
/* fsync, close, rename over path (a symbolic link there is replaced, never
 * followed), fsync the directory. On failure the temporary is removed.
 * Returns 0 or -errno. Either way t is finished. */
int sitx_state_commit(struct sitx_state_tmp *t);
/* Closes and removes the temporary; safe after commit. */
void sitx_state_abort(struct sitx_state_tmp *t);

#endif
