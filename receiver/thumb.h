/* Thumbnails of inbox images for the web page: decoded with libjpeg's
 * scaled decoding (1/2, 1/4, 1/8) or libpng, shrunk by box averaging and
 * encoded as small JPEGs; kept in a bounded in-memory cache. Called only
 * from HTTP threads, never from the event loop: generation is slow and
 * serialised, one decode at a time, so memory stays bounded. */
#ifndef SITX_RECV_THUMB_H
#define SITX_RECV_THUMB_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "secmem.h"

/* Longest side of a thumbnail, in pixels. */
#define THUMB_PX 192
/* Cache bounds: entries and bytes. */
#define THUMB_CACHE_ENTRIES 512
#define THUMB_CACHE_BYTES   (16u << 20)
/* Memory one thumbnail's decode may take (a PNG's RGBA pixels, a
 * progressive JPEG's coefficients); a bigger image gets no thumbnail. */
#define THUMB_MAX_MEMORY (128u << 20)
/* Bytes read from the start of a file to find its dimensions. */
#define THUMB_PROBE_BYTES (64u * 1024u)

struct thumb_cache;

/* dirfd is the inbox (borrowed, must outlive the cache); max_size bounds
 * the files read. Returns 0 or SITX_E_NOMEM. */
int thumb_cache_new(int dirfd, const struct sitx_image_limits *lim, uint64_t max_size,
                    struct thumb_cache **out);
void thumb_cache_free(struct thumb_cache *tc); /* NULL-safe */

/* The JPEG thumbnail of the inbox file name, from the cache or made now;
 * *out is the caller's (sitx_buf_init'd, replaced). width/height (may be
 * NULL) get the image's own size. Returns 0, -errno (file), or an image
 * error (SITX_E_BAD_IMAGE, SITX_E_LIMIT, SITX_E_NOMEM). */
int thumb_get(struct thumb_cache *tc, const char *name, struct sitx_buf *out, uint32_t *width,
              uint32_t *height);

/* Decodes an image in memory into a thumbnail (thumb_make.c). */
int thumb_make(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
               struct sitx_buf *out, uint32_t *width, uint32_t *height);

/* Width, height and format of an image from its first bytes (PNG IHDR,
 * JPEG SOF via libjpeg's header reader). Returns 0 or SITX_E_BAD_IMAGE. */
int thumb_probe(const uint8_t *buf, size_t len, struct sitx_image_info *info);

#endif
