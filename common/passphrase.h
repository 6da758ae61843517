/* Passphrases: from a file (refused when group/others can read it), from the
 * SITX_PASSWORD environment variable, or from a no-echo prompt on the
 * terminal; never from argv. Stretched with Argon2id into a 32-byte PSK. */
#ifndef SITX_PASSPHRASE_H
#define SITX_PASSPHRASE_H

#include <stddef.h>
#include <stdint.h>

#define SITX_PASSPHRASE_MAX 1024
#define SITX_PSK_BYTES 32
/* Defaults the receiver announces: about 0.1-0.2 s on one core. */
#define SITX_ARGON_OPS_DEFAULT 3
#define SITX_ARGON_MEM_KIB_DEFAULT (64u * 1024u)

/* The file a passphrase was read from, as fstat(2) saw it then. The
 * sender's key cache is keyed by it, so that an edited or replaced file
 * counts as another passphrase. */
struct sitx_file_id {
    int valid; /* 0: not from a file (prompt, environment) */
    uint64_t dev;
    uint64_t ino;
    uint64_t size;
    int64_t mtime_ns;
    int64_t ctime_ns;
};

struct sitx_passphrase {
    char *text; /* guarded memory, NUL-terminated; trailing newline removed */
    size_t len;
    struct sitx_file_id id; /* set when read from a file */
};

/* Source order: path when not NULL; else SITX_PASSWORD when set (taken as
 * it is); else a prompt on /dev/tty when allow_prompt. A file holds one
 * line (its identity goes into pw->id): its bytes less one trailing LF or CRLF. Returns 0, -errno,
 * SITX_E_PERMS (file readable by group or others), SITX_E_MALFORMED (a CR or
 * LF left in the file's passphrase), SITX_E_TOO_LARGE (over
 * SITX_PASSPHRASE_MAX bytes), SITX_E_INVALID (empty, or no source). */
int sitx_passphrase_read(const char *path, int allow_prompt, const char *prompt,
                         struct sitx_passphrase *pw);
/* What a sitx_passphrase_read() failure means, for a message to the user. */
const char *sitx_passphrase_strerror(int rc);
void sitx_passphrase_clear(struct sitx_passphrase *pw); /* wipes; NULL-safe */

/* psk = Argon2id13(passphrase, salt, ops, mem_kib * 1024), 32 bytes.
 * Returns 0 or SITX_E_NOMEM (Argon2id could not get its memory). */
int sitx_passphrase_derive(const struct sitx_passphrase *pw, const uint8_t salt[static 16],
                           uint32_t ops, uint32_t mem_kib, uint8_t psk[static SITX_PSK_BYTES]);

#endif
