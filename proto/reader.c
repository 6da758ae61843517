/* Push reader for [len:u16 BE][len bytes] frames. The socket's bytes are
 * appended to one buffer; whole frames are handed out in place, so a frame
 * costs one copy on the way in and none on the way out. */
#include "reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "err.h"

#define FRAME_HDR   2
#define FRAME_LIMIT 65535u
/* Smallest buffer: enough for the whole handshake, so an unauthenticated
 * peer costs little. The buffer grows by doubling once records flow. */
#define BUF_MIN 4096u
/* A buffer that grew past this (a caller that fed far more than it took
 * out) is given back once it is empty; a busy stream of maximal frames
 * settles at 256 KiB. */
#define BUF_KEEP (512u * 1024u)

struct sitx_reader {
    uint8_t *buf; /* malloc'd, cap bytes; NULL until the first feed */
    size_t cap;
    size_t pos;       /* first byte not yet returned */
    size_t len;       /* bytes of buf in use */
    size_t max_frame; /* limit for the next frame whose header is read */
    int exact;        /* frames must be exactly max_frame bytes (or 0) */
    int err;
    char errstr[128];
};

static size_t clamp_limit(size_t max_frame)
{
    return max_frame > FRAME_LIMIT ? FRAME_LIMIT : max_frame;
}

static int set_error(struct sitx_reader *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_error(struct sitx_reader *r, int err, const char *fmt, ...)
{
    va_list ap;

    if (r->err != 0) {
        return r->err; /* the first error is the one that explains the rest */
    }
    r->err = err;
    va_start(ap, fmt);
    vsnprintf(r->errstr, sizeof(r->errstr), fmt, ap);
    va_end(ap);
    return err;
}

/* Wipes and frees the buffer: it may hold plaintext the caller decrypted
 * in place. */
static void drop_buffer(struct sitx_reader *r)
{
    if (r->buf != NULL) {
        sodium_memzero(r->buf, r->cap);
        free(r->buf);
    }
    r->buf = NULL;
    r->cap = 0;
    r->pos = 0;
    r->len = 0;
}

struct sitx_reader *sitx_reader_new(size_t max_frame)
{
    struct sitx_reader *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        return NULL;
    }
    r->max_frame = clamp_limit(max_frame);
    return r;
}

void sitx_reader_free(struct sitx_reader *r)
{
    if (r == NULL) {
        return;
    }
    drop_buffer(r);
    sodium_memzero(r, sizeof(*r));
    free(r);
}

void sitx_reader_set_limit(struct sitx_reader *r, size_t max_frame, int exact)
{
    r->max_frame = clamp_limit(max_frame);
    r->exact = exact;
}

/* True when need bytes fill at most three quarters of a cap-byte buffer:
 * then moving the unread bytes to the front leaves room for several more
 * reads before the next move, so each byte is moved about once at most. */
static int roomy(size_t need, size_t cap)
{
    return need <= cap - cap / 4;
}

/* Makes room for add more bytes after the unread ones. It appends in place
 * when it can; otherwise it moves the unread bytes (after a drained stream,
 * at most one partial frame) to the front, or grows the buffer. */
static int reserve(struct sitx_reader *r, size_t add)
{
    size_t unread = r->len - r->pos;
    size_t need;
    size_t new_cap;
    uint8_t *nb = NULL;

    if (unread == 0) {
        r->pos = 0;
        r->len = 0;
        if (r->cap > BUF_KEEP && add < BUF_KEEP / 2) {
            drop_buffer(r);
        }
    }
    if (r->cap - r->len >= add) {
        return 0;
    }
    if (add > SIZE_MAX / 4 - unread) {
        return SITX_E_NOMEM;
    }
    need = unread + add;
    if (roomy(need, r->cap)) {
        memmove(r->buf, r->buf + r->pos, unread);
        r->pos = 0;
        r->len = unread;
        return 0;
    }
    new_cap = r->cap < BUF_MIN ? BUF_MIN : r->cap;
    while (!roomy(need, new_cap)) {
        new_cap *= 2;
    }
    /* Not realloc: the old block is wiped before it is released. */
    nb = malloc(new_cap);
    if (nb == NULL) {
        return SITX_E_NOMEM;
    }
    if (unread > 0) {
        memcpy(nb, r->buf + r->pos, unread);
    }
    drop_buffer(r);
    r->buf = nb;
    r->cap = new_cap;
    r->pos = 0;
    r->len = unread;
    return 0;
}

int sitx_reader_feed(struct sitx_reader *r, const uint8_t *buf, size_t len)
{
    int rc;

    if (r->err != 0) {
        return r->err;
    }
    if (len == 0) {
        return 0;
    }
    if (buf == NULL) {
        return SITX_E_INVALID;
    }
    rc = reserve(r, len);
    if (rc != 0) {
        return set_error(r, rc, "out of memory buffering %zu more bytes", len);
    }
    memcpy(r->buf + r->len, buf, len);
    r->len += len;
    return 0;
}

int sitx_reader_next(struct sitx_reader *r, uint8_t **frame, size_t *frame_len)
{
    size_t unread;
    size_t n;

    if (r->err != 0) {
        return r->err;
    }
    unread = r->len - r->pos;
    if (unread < FRAME_HDR) {
        return 0;
    }
    /* The length is judged as soon as it is seen, before its bytes arrive,
     * so a peer cannot make us wait for (or buffer) a frame we would refuse. */
    n = sitx_load_be16(r->buf + r->pos);
    if (n > r->max_frame) {
        return set_error(r, SITX_E_TOO_LARGE, "frame of %zu bytes over the limit of %zu", n,
                         r->max_frame);
    }
    if (r->exact != 0 && n != 0 && n != r->max_frame &&
        !(n == 1 && (r->exact & SITX_READER_VERSION_FRAME) != 0)) {
        return set_error(r, SITX_E_MALFORMED, "frame of %zu bytes where exactly %zu are expected",
                         n, r->max_frame);
    }
    if (unread - FRAME_HDR < n) {
        return 0;
    }
    *frame = r->buf + r->pos + FRAME_HDR;
    *frame_len = n;
    r->pos += FRAME_HDR + n;
    return 1;
}

size_t sitx_reader_pending(const struct sitx_reader *r)
{
    return r->len - r->pos;
}

int sitx_reader_err(const struct sitx_reader *r)
{
    return r->err;
}

const char *sitx_reader_errstr(const struct sitx_reader *r)
{
    return r->errstr;
}
