/* The ciphertext picture: a sealed file's bytes drawn as RGB pixels, three
 * bytes a pixel in file order, in a rectangle of about the source image's
 * aspect ratio; the last row is filled with black. It shows a person that
 * nothing of the picture survives encryption. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image.h"
#include "image_internal.h"

/* Largest preview side: a 64 MB file still fits (about 4700 x 4700). */
#define PREVIEW_SIDE_MAX 16384u

int sitx_image_preview_png(const uint8_t *bytes, size_t len, uint32_t aspect_w, uint32_t aspect_h,
                           struct sitx_buf *out, char err[static SITX_IMAGE_ERR_MAX])
{
    png_image img;
    uint8_t *rgb = NULL;
    png_alloc_size_t png_len = 0;
    uint64_t pixels = (len + 2) / 3;
    uint64_t aw = aspect_w > 0 && aspect_h > 0 ? aspect_w : 1;
    uint64_t ah = aspect_w > 0 && aspect_h > 0 ? aspect_h : 1;
    uint64_t lo = 1;
    uint64_t hi = PREVIEW_SIDE_MAX * 2;
    uint64_t w;
    uint64_t h;
    int rc;

    sitx_buf_clear(out);
    if (len == 0) {
        sitx_image_seterr(err, "nothing to draw");
        return SITX_E_INVALID;
    }
    /* The smallest w with w * w / (aw / ah) >= pixels, so that w : h is
     * about aw : ah; integers only (sides are at most 65535). */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;

        if (mid * mid * ah >= pixels * aw) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    w = lo > pixels ? pixels : lo;
    h = (pixels + w - 1) / w;
    if (w > PREVIEW_SIDE_MAX || h > PREVIEW_SIDE_MAX) {
        sitx_image_seterr(err, "%llu x %llu is too large for a preview", (unsigned long long)w,
                          (unsigned long long)h);
        return SITX_E_LIMIT;
    }
    rgb = calloc((size_t)(w * h), 3);
    if (rgb == NULL) {
        sitx_image_seterr(err, "out of memory");
        return SITX_E_NOMEM;
    }
    memcpy(rgb, bytes, len);

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    /* Ask for the size first, then write into a buffer of that size. */
    if (!png_image_write_to_memory(&img, NULL, &png_len, 0, rgb, 0, NULL) || png_len == 0) {
        sitx_image_seterr(err, "libpng: %s", img.message);
        rc = SITX_E_INTERNAL;
        goto out;
    }
    rc = sitx_buf_reserve(out, png_len);
    if (rc != 0) {
        sitx_image_seterr(err, "out of memory");
        goto out;
    }
    if (!png_image_write_to_memory(&img, out->data, &png_len, 0, rgb, 0, NULL)) {
        sitx_image_seterr(err, "libpng: %s", img.message);
        rc = SITX_E_INTERNAL;
        goto out;
    }
    out->len = png_len;
    rc = 0;
out:
    png_image_free(&img);
    free(rgb);
    if (rc != 0) {
        sitx_buf_clear(out);
    }
    return rc;
}
