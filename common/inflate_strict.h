/* A raw deflate decoder (RFC 1951) for validation that only ever accepts:
 * it inflates the streams zlib inflates, to the same bytes, and steps
 * aside on anything else. A caller hands a stream it refuses to zlib,
 * which gives the verdict and the message.
 *
 * What zlib refuses it refuses: a block type of 3, stored lengths that do
 * not match, more than 286 length or 30 distance codes, a code set that is
 * over-subscribed or incomplete (but for zlib's one exception: a single
 * one-bit code, or no distance code at all), a length repeat with nothing before it or
 * past the end, no end-of-block code, the fixed code's lengths 286 and 287
 * and distances 30 and 31, and a distance reaching before the start of the
 * output. The window is zlib's largest (32 KiB), which a 0x78 zlib header
 * asks for.
 *
 * Bytes come in pieces of any size; output goes to a sink in pieces. A
 * piece is taken whole unless the stream ends in it; then the bytes used
 * stop after the last byte of the final block, as zlib's inflate() leaves
 * them. */
#ifndef SITX_INFLATE_STRICT_H
#define SITX_INFLATE_STRICT_H

#include <stddef.h>
#include <stdint.h>

struct sitx_inflate;

/* Takes inflated bytes; nonzero stops the decoder (it steps aside). */
typedef int (*sitx_inflate_sink)(void *ctx, const uint8_t *p, size_t n);

/* 0, or SITX_E_NOMEM. */
int sitx_inflate_new(struct sitx_inflate **out, sitx_inflate_sink sink, void *ctx);
void sitx_inflate_free(struct sitx_inflate *d);

/* Decodes n more bytes of the stream. Returns the bytes used (n, or fewer
 * where the final block ends), or -1 once it steps aside (then for good).
 * Everything inflated from them has reached the sink on return. */
int64_t sitx_inflate_feed(struct sitx_inflate *d, const uint8_t *p, size_t n);

/* 1 once the final block has ended. */
int sitx_inflate_ended(const struct sitx_inflate *d);

#endif
