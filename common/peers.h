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

#endif
