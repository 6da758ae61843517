#include "secmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"

/* Growth is geometric from this floor, so small appends do not realloc each time. */
#define BUF_MIN_CAP 64

void *sitx_secret_alloc(size_t len)
{
    void *p;

    /* sodium_malloc(0) is valid but returns a pointer we could not write to. */
    p = sodium_malloc(len == 0 ? 1 : len);
    if (p == NULL) {
        return NULL;
    }
    /* sodium_malloc fills with 0xdb to catch use of uninitialised memory; we promise zeroes. */
    sodium_memzero(p, len == 0 ? 1 : len);
    return p;
}

void sitx_secret_free(void *p, size_t len)
{
    (void)len;
    /* sodium_free wipes the whole region before unmapping it, and accepts NULL. */
    sodium_free(p);
}

void sitx_buf_init(struct sitx_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int sitx_buf_reserve(struct sitx_buf *b, size_t extra)
{
    size_t need;
    size_t cap;
    uint8_t *p;

    if (extra > SIZE_MAX - b->len) {
        return SITX_E_TOO_LARGE;
    }
    need = b->len + extra;
    if (need <= b->cap) {
        return 0;
    }
    cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        return SITX_E_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int sitx_buf_append(struct sitx_buf *b, const void *p, size_t n)
{
    int rc;

    if (n == 0) {
        return 0;
    }
    rc = sitx_buf_reserve(b, n);
    if (rc != 0) {
        return rc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void sitx_buf_clear(struct sitx_buf *b)
{
    free(b->data);
    sitx_buf_init(b);
}
