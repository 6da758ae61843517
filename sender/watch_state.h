/* The --watch state file: which images of one watched directory one
 * receiver has stored (OK or ALREADY_STORED), so that a restarted sender
 * sends nothing twice. One entry per image: content hash (BLAKE2b-256 of
 * the file), size, mtime and name. The file lives under
 * $XDG_STATE_HOME/sitx/ (else ~/.local/state/sitx/), mode 0600, and is
 * replaced atomically (temporary file, fsync, rename). */
#ifndef SITX_SEND_WATCH_STATE_H
#define SITX_SEND_WATCH_STATE_H

#include <stddef.h>
#include <stdint.h>

#define WATCH_HASH_BYTES 32
/* Entries kept. At the limit the oldest tenth is forgotten (compaction);
 * a file with more entries was not written by us and is refused. */
#define WATCH_STATE_MAX 1000000
#define WATCH_STATE_ERR 200

struct watch_entry {
    uint8_t hash[WATCH_HASH_BYTES];
    uint64_t size;
    int64_t mtime_ns;
    char *name;
};

struct watch_state {
    struct watch_entry *e; /* oldest first */
    size_t n;
    size_t cap;
    size_t max;                   /* entries kept; 0 means WATCH_STATE_MAX */
    size_t dropped;               /* entries forgotten at the limit, so far */
    char *path;                   /* the state file */
    char errstr[WATCH_STATE_ERR]; /* why load or parse failed */
    /* Open-addressing indexes into e[] (slot value = index + 1, 0 empty),
     * by content hash and by name; keyed SipHash, rebuilt as e[] changes. */
    uint32_t *by_hash;
    uint32_t *by_name;
    size_t slots;
    uint8_t key[16];
    int keyed;
};

/* The state file's path for (dir, receiver): STATEDIR/watch-<hex>.state,
 * <hex> naming both. Creates STATEDIR (0700) when missing. Returns 0 or
 * -errno; *out is malloc'd. */
int watch_state_path(const char *dir, const char *receiver, char **out);

/* Parses the text of a state file (untrusted: any byte may be wrong) into
 * st, which must be empty. Returns 0, SITX_E_INVALID (line number in
 * *bad_line, reason in st->errstr), SITX_E_LIMIT (more than st->max
 * entries) or SITX_E_NOMEM. A text that does not end in a newline is
 * truncated and invalid: we always write whole lines. */
int watch_state_parse(struct watch_state *st, const char *buf, size_t len, size_t *bad_line);

/* Loads st->path; a missing file is an empty state. Refuses (reason in
 * st->errstr) a symbolic link (-ELOOP, never followed), anything but a
 * regular file (-EINVAL), a file not ours (-EPERM) or open to group or
 * others (SITX_E_PERMS), one over 256 MiB (-EFBIG), and what
 * watch_state_parse() refuses. */
int watch_state_load(struct watch_state *st);

/* Writes st to st->path atomically (0600). Returns 0 or -errno. */
int watch_state_save(const struct watch_state *st);

/* The entry with this hash, or NULL. */
const struct watch_entry *watch_state_find_hash(const struct watch_state *st, const uint8_t *hash);

/* The entry with this name, size and mtime, or NULL (a file unchanged
 * since it was stored need not be read again). */
const struct watch_entry *watch_state_find_file(const struct watch_state *st, const char *name,
                                                uint64_t size, int64_t mtime_ns);

/* Adds (or updates, by hash) an entry. At st->max entries the oldest tenth
 * is dropped first (counted in st->dropped). Returns 0 or SITX_E_NOMEM. */
int watch_state_add(struct watch_state *st, const uint8_t *hash, const char *name, uint64_t size,
                    int64_t mtime_ns);

void watch_state_free(struct watch_state *st);

#endif
