/* Secrets in sodium_malloc'd memory (guard pages, mlock, wiped on free), and
 * a growable byte buffer that carries its capacity. */
#ifndef SITX_SECMEM_H
#define SITX_SECMEM_H

#include <stddef.h>
#include <stdint.h>

/* sodium_malloc(len) zeroed; NULL on failure. */
void *sitx_secret_alloc(size_t len);
/* Wipes and frees; NULL-safe. len is unused by sodium_free but documents intent. */
void sitx_secret_free(void *p, size_t len);

struct sitx_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* An empty buffer; nothing is allocated until the first append. */
void sitx_buf_init(struct sitx_buf *b);
/* Ensures room for extra more bytes (SITX_E_TOO_LARGE when len + extra
 * overflows). Returns 0 or SITX_E_NOMEM / SITX_E_TOO_LARGE. */
int sitx_buf_reserve(struct sitx_buf *b, size_t extra);
/* Copies n bytes to the end; on failure the buffer is unchanged. Same returns. */
int sitx_buf_append(struct sitx_buf *b, const void *p, size_t n);
/* Frees and resets to empty. */
void sitx_buf_clear(struct sitx_buf *b);

#endif
