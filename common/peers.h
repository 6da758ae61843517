/* Authorised senders (receiver) and known receivers (sender): a text file of
 * one peer a line, "<base64 public key> [name]", '#' starts a comment. The
 * parser reports the first bad line with its number. */
#ifndef SITX_PEERS_H
#define SITX_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyfile.h"

#define SITX_PEER_NAME_MAX 64
#define SITX_PEERS_MAX 4096

struct sitx_peer {
    uint8_t pk[SITX_KEY_BYTES];
    char name[SITX_PEER_NAME_MAX + 1]; /* "" when the line has none */
};

struct sitx_peers {
    struct sitx_peer *list;
    size_t count;
};

/* Parses text. On error returns SITX_E_MALFORMED / SITX_E_BAD_KEY /
 * SITX_E_LIMIT with "line N: why" in err. */
int sitx_peers_parse(const char *text, size_t len, struct sitx_peers **out, char *err,
                     size_t err_len);
/* Reads and parses a file (at most 1 MiB: SITX_E_LIMIT). A peer line is
 * "<key> [name]": blanks around fields and a CRLF are fine, "key # note" has
 * no name, a name is at most 64 bytes of UTF-8 without control characters,
 * and a key listed twice is an error. Also -errno with its text in err. */
int sitx_peers_load(const char *path, struct sitx_peers **out, char *err, size_t err_len);
/* Constant-time per entry; returns the matching peer or NULL. */
const struct sitx_peer *sitx_peers_find(const struct sitx_peers *p,
                                        const uint8_t pk[static SITX_KEY_BYTES]);
void sitx_peers_free(struct sitx_peers *p); /* NULL-safe */

/* peers_add.c */
/* A name a peer proposed, made safe for a peers line and a log: valid UTF-8
 * is kept, blanks, controls and '#' become '-', invalid bytes are dropped,
 * at most SITX_PEER_NAME_MAX bytes (cut on a character boundary); an empty
 * result becomes "sender". out must hold SITX_PEER_NAME_MAX + 1 bytes. */
void sitx_peer_name_sanitize(const char *in, char out[static SITX_PEER_NAME_MAX + 1]);

/* Adds "<key> <name>\n" to the peers file path, atomically: the current
 * text (which must parse) and the new line go to a temporary file beside it,
 * with the old file's mode (0600 for a new file), fsync'ed and renamed over
 * it, then the directory is fsync'ed. A key already listed is not added
 * again. name must already be sanitised (or ""). Returns 1 when the line was
 * added, 0 when the key was there already, or a negative error with its
 * text in err. */
int sitx_peers_append(const char *path, const uint8_t pk[static SITX_KEY_BYTES], const char *name,
                      char *err, size_t err_len);

#endif
