/* The partial store: the bytes of an image whose connection broke, kept so
 * that the next attempt resumes instead of starting over (PROTOCOL.md §7 rule 7).
 * Each partial is one file INBOX/.sitx-partial/<64 hex> (directory 0700,
 * file 0600, the inbox's filesystem, so the final link is a link), named
 * by a hash of who sent it and what it is: a changed file has a new content
 * hash and never meets the old bytes. The file's length is how much is
 * held; nothing else is stored, so a restart, even after SIGKILL, finds
 * exactly what was written. While a transfer uses a partial it holds an
 * flock on it, which keeps a second transfer and the sweep away. No libuv:
 * plain syscalls, run wherever the caller likes. */
#ifndef SITX_RECV_PARTIAL_H
#define SITX_RECV_PARTIAL_H

#include <stdint.h>

#include "hash.h"
#include "safefile.h"

#define PARTIAL_DIR      ".sitx-partial"
#define PARTIAL_NAME_LEN (2 * SITX_CONTENT_HASH_BYTES)

/* Opens INBOX/.sitx-partial, creating it 0700 when missing and putting its
 * mode back to 0700 when it is wider; refuses a symlink or a non-directory.
 * Returns the descriptor or -errno. */
int partial_dir_open(int inbox_fd);

/* The partial's file name for one image: hex of BLAKE2b-256 over a domain
 * string, the authentication mode, the sender's static key (zero in
 * password mode), the format, the size and the content hash. */
void partial_name(uint8_t mode, const uint8_t sender[32], uint8_t format, uint64_t size,
                  const uint8_t hash[SITX_CONTENT_HASH_BYTES], char name[PARTIAL_NAME_LEN + 1]);

/* Opens the partial name in dirfd for a transfer of size bytes, creating it
 * (0600, empty) if there is none, and locks it. A file that is longer than
 * size, not a regular file with one link, or last written ttl_ms or more
 * before now_ms (wall clock, ms) is emptied first. On success t is an open
 * temporary file in dirfd (sitx_tmpfile_commit_in links it into the inbox,
 * sitx_tmpfile_discard deletes it) positioned at its end, and t->written is
 * the bytes held. Returns 0, -EWOULDBLOCK when another transfer holds it,
 * or -errno. */
int partial_open(int dirfd, const char *name, uint64_t size, uint64_t ttl_ms, int64_t now_ms,
                 struct sitx_tmpfile *t);

/* Reads up to len bytes at off from the partial. Returns the bytes read
 * (0 at its end) or -errno. */
int64_t partial_read(const struct sitx_tmpfile *t, uint64_t off, uint8_t *buf, size_t len);

/* Empties the partial and rewinds it, for a prefix that did not check out.
 * Returns 0 or -errno. */
int partial_restart(struct sitx_tmpfile *t);

/* Keeps the partial for a later attempt: its time of last write becomes
 * now (the expiry counts from here), the descriptor is closed and the lock
 * goes with it. The file stays. Safe to call twice. */
void partial_keep(struct sitx_tmpfile *t);

/* Deletes the partials in dirfd last written ttl_ms or more before now_ms
 * (every one when ttl_ms is 0) that no transfer holds. Returns how many
 * went, or -errno when the directory cannot be read. */
int partial_sweep(int dirfd, uint64_t ttl_ms, int64_t now_ms);

/* Wall clock in ms, for the two above. */
int64_t partial_now_ms(void);

#endif
