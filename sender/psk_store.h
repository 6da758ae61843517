/* The password key cache: PSKs that Argon2id derived for earlier runs, so
 * that the next sitx-send to a receiver that has not restarted (same salt)
 * skips the derivation. One file, STATEDIR/psk-cache (statefile.h: 0600,
 * ours, never through a symbolic link, replaced atomically). An entry is
 * keyed by the greeting's salt and Argon2id parameters and by the identity
 * of the password file (device, inode, size, mtime, ctime), never by the
 * passphrase or a hash of it; a passphrase without a file is not cached.
 * At most PSK_STORE_MAX entries, newest first, none older than
 * PSK_STORE_TTL_S. */
#ifndef SITX_SEND_PSK_STORE_H
#define SITX_SEND_PSK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "greeting.h"
#include "passphrase.h"

#define PSK_STORE_MAX   16
#define PSK_STORE_TTL_S (24 * 3600)
/* A file of PSK_STORE_MAX entries is about 4 KiB; one larger is not ours. */
#define PSK_STORE_FILE_MAX 8192
#define PSK_STORE_ERR      160

struct psk_key {
    uint8_t salt[SITX_SALT_LEN];
    uint32_t ops;
    uint32_t mem_kib;
    struct sitx_file_id id; /* id.valid is 1 */
};

struct psk_entry {
    struct psk_key key;
    int64_t saved_s; /* when it was derived, Unix seconds */
    uint8_t psk[SITX_PSK_BYTES];
};

struct psk_store {
    struct psk_entry *e; /* PSK_STORE_MAX entries in guarded memory, newest first */
    size_t n;
    char errstr[PSK_STORE_ERR]; /* why parse or load failed */
};

/* Allocates the entries. Returns 0 or SITX_E_NOMEM. */
int psk_store_init(struct psk_store *ps);
/* Wipes and frees; safe on a zeroed or already freed store. */
void psk_store_free(struct psk_store *ps);

/* Parses a cache file's text (untrusted) into ps, which must be empty.
 * Returns 0 or SITX_E_INVALID (reason in ps->errstr, ps left empty): no
 * magic line, a line cut short or without its newline, a field out of
 * range, more than PSK_STORE_MAX entries. */
int psk_store_parse(struct psk_store *ps, const char *buf, size_t len);
/* Writes ps as a cache file's text into buf (cap bytes, which the caller
 * wipes). Returns 0 (length in *len) or SITX_E_TOO_LARGE. */
int psk_store_format(const struct psk_store *ps, char *buf, size_t cap, size_t *len);

/* The entry for k, derived no longer than PSK_STORE_TTL_S before now
 * (and not after it), or NULL. */
const struct psk_entry *psk_store_find(const struct psk_store *ps, const struct psk_key *k,
                                       int64_t now);
/* Puts (k, psk) first, replacing an entry for k, then prunes. */
void psk_store_put(struct psk_store *ps, const struct psk_key *k, const uint8_t *psk, int64_t now);
/* Removes the entry for k; returns 1 when there was one. */
int psk_store_drop(struct psk_store *ps, const struct psk_key *k);
/* Drops entries older than PSK_STORE_TTL_S (or dated after now) and all
 * past PSK_STORE_MAX. */
void psk_store_prune(struct psk_store *ps, int64_t now);

/* STATEDIR/psk-cache into *out (malloc'd); with create the directory is
 * made (0700) when missing. Returns 0 or what sitx_state_dir() returns. */
int psk_store_path(int create, char **out);
/* Loads path into ps (empty); a missing file is an empty cache. Refuses,
 * with the reason in ps->errstr, what sitx_state_open() refuses and what
 * psk_store_parse() does. Returns 0 or the error. */
int psk_store_load(struct psk_store *ps, const char *path);
/* Writes ps to path atomically (0600). Returns 0 or -errno. */
int psk_store_save(const struct psk_store *ps, const char *path);

#endif
