/* Known receivers: the sender's pinned receiver keys, one a line,
 * "host:port <base64 public key>", '#' starts a comment. IPv6 hosts are
 * written in brackets ("[::1]:7717"). Trust on first use appends a line. */
#ifndef SITX_SEND_KNOWN_H
#define SITX_SEND_KNOWN_H

#include <stddef.h>
#include <stdint.h>

#include "keyfile.h"

#define KNOWN_FILE_MAX (1024u * 1024u)

/* Finds the key for label ("host:port") in text. Returns 1 with pk set, 0
 * when absent, or SITX_E_MALFORMED / SITX_E_BAD_KEY with "line N: why" in err
 * for the first bad line. */
int known_find_text(const char *text, size_t len, const char *label,
                    uint8_t pk[static SITX_KEY_BYTES], char *err, size_t err_len);

/* Reads path (a missing file is an empty one) and looks label up, as above;
 * -errno when the file cannot be read. */
int known_find(const char *path, const char *label, uint8_t pk[static SITX_KEY_BYTES], char *err,
               size_t err_len);

/* Appends "label key\n" to path, creating it with mode 0600. Returns 0 or -errno. */
int known_add(const char *path, const char *label, const uint8_t pk[static SITX_KEY_BYTES]);

/* "host:port", with brackets around an IPv6 host, into out. */
void known_label(const char *host, uint16_t port, char *out, size_t cap);

#endif
