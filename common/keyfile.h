/* X25519 key pairs and their files. A private key file holds one line, the
 * base64 of the 32-byte secret; it is created 0600 with O_EXCL and refused on
 * load when group or others may read it. Public keys travel as 44-character
 * base64 (one line, pasteable into an authorised-senders file); a
 * fingerprint is the first 8 bytes of BLAKE2b(pk) in hex. */
#ifndef SITX_KEYFILE_H
#define SITX_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define SITX_KEY_BYTES 32
#define SITX_PUBKEY_TEXT_LEN 44   /* base64, without NUL */
#define SITX_FINGERPRINT_LEN 16   /* hex chars, without NUL */

struct sitx_keypair {
    uint8_t *sk; /* SITX_KEY_BYTES in guarded memory, or NULL */
    uint8_t pk[SITX_KEY_BYTES];
};

/* Fresh random key pair. Returns 0 or SITX_E_NOMEM. */
int sitx_keypair_generate(struct sitx_keypair *kp);
/* Wipes and frees sk; NULL-safe. */
void sitx_keypair_clear(struct sitx_keypair *kp);

/* Writes the private key; never overwrites (-EEXIST). Returns 0 or -errno. */
int sitx_keyfile_save(const char *path, const struct sitx_keypair *kp);
/* Loads and derives pk into kp, which must be empty (never generated or
 * loaded, or cleared); the library prints nothing, the caller reports.
 * Returns 0, -errno, SITX_E_PERMS, SITX_E_BAD_KEY (-EISDIR or -EINVAL for
 * something that is not a regular file, SITX_E_TOO_LARGE for a long file). */
int sitx_keyfile_load(const char *path, struct sitx_keypair *kp);

/* out gets SITX_PUBKEY_TEXT_LEN chars and a NUL. */
void sitx_pubkey_encode(const uint8_t pk[static SITX_KEY_BYTES],
                        char out[static SITX_PUBKEY_TEXT_LEN + 1]);
/* Parses 44-char base64 (surrounding spaces allowed). Refuses a non-canonical
 * spelling and the low-order points that would give an all-zero shared
 * secret. Returns 0 or SITX_E_BAD_KEY. */
int sitx_pubkey_decode(const char *text, size_t len, uint8_t pk[static SITX_KEY_BYTES]);
/* Accepts either a key's text or the path of a file whose first line that is
 * neither blank nor a '#' comment starts with one. Returns 0, SITX_E_BAD_KEY
 * (also for text without '/' that is neither a key nor a file), -errno. */
int sitx_pubkey_from_arg(const char *arg, uint8_t pk[static SITX_KEY_BYTES]);
/* The first 8 bytes of BLAKE2b-256(pk) as 16 lower-case hex characters. */
void sitx_fingerprint(const uint8_t pk[static SITX_KEY_BYTES],
                      char out[static SITX_FINGERPRINT_LEN + 1]);

/* Reads a whole file that holds a secret into guarded memory, refusing one
 * that group or others can read (SITX_E_PERMS) or that is over max bytes.
 * *out is NUL-terminated; free with sitx_secret_free(*out, *len + 1). */
int sitx_read_private_file(const char *path, size_t max, uint8_t **out, size_t *len);
/* The same; st (not NULL) gets the fstat(2) of the descriptor read. */
struct stat;
int sitx_read_private_file_st(const char *path, size_t max, uint8_t **out, size_t *len,
                              struct stat *st);

#endif
