/* What peers.c (reading) and peers_add.c (adding) share. */
#ifndef SITX_COMMON_PEERS_INT_H
#define SITX_COMMON_PEERS_INT_H

#include <stddef.h>
#include <sys/types.h>

#define SITX_PEERS_FILE_MAX (1024u * 1024u)

/* printf into err (err_len bytes) when err is not NULL. */
void sitx_peers_set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads the peers file at path whole into a malloc'd, NUL-terminated
 * buffer (*out, *len bytes; the caller frees it) and its permission bits
 * into *mode. Returns 0; -errno (-ENOENT when it is missing),
 * SITX_E_INVALID (not a regular file), SITX_E_LIMIT (over
 * SITX_PEERS_FILE_MAX bytes) or SITX_E_NOMEM, with the reason in err. */
int sitx_peers_read(const char *path, char **out, size_t *len, mode_t *mode, char *err,
                    size_t err_len);

#endif
