/* Authorised senders for key mode: the file given by --authorized, read at
 * start and again on SIGHUP. A reload that fails keeps the old list, so a
 * typo in the file never locks everyone out (nor lets anyone in). */
#ifndef SITX_RECV_AUTHZ_H
#define SITX_RECV_AUTHZ_H

#include <stddef.h>
#include <stdint.h>

#include "peers.h"

struct authz;

/* Reads path. On failure logs why and returns a negative error. */
int authz_load(const char *path, struct authz **out);
/* Reads the file again; on failure logs it and keeps the current list.
 * Returns 0 or the error. */
int authz_reload(struct authz *a);
/* The authorised sender with this static key, or NULL. Constant time per entry. */
const struct sitx_peer *authz_find(const struct authz *a, const uint8_t pk[static SITX_KEY_BYTES]);
size_t authz_count(const struct authz *a);
/* The i-th entry (i < authz_count(a)), valid until the next reload. */
const struct sitx_peer *authz_at(const struct authz *a, size_t i);
void authz_free(struct authz *a); /* NULL-safe */

#endif
