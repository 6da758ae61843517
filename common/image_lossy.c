/* Lossy re-encoding: decoded gray or RGB pixels to a baseline JPEG at the
 * given quality with optimised Huffman tables, keeping the ICC profile, and
 * either the source's APPn/COM markers or, when stripping, only a minimal
 * EXIF orientation. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image_jpeg_internal.h"

struct encoder {
    struct jpeg_compress_struct c;
    struct sitx_jpeg_err jerr;
    struct sitx_jpeg_dest dest;
    int created;
};

static void write_markers(struct encoder *e, const struct sitx_image_pixels *px, int strip)
{
    size_t pos = 0;

    if (px->icc != NULL && px->icc_len > 0 && px->icc_len <= UINT32_MAX) {
        jpeg_write_icc_profile(&e->c, px->icc, (unsigned int)px->icc_len);
    }
    if (strip) {
        if (px->orientation > 1) {
            uint8_t exif[SITX_EXIF_MIN_LEN];
            size_t n = sitx_exif_minimal(exif, px->orientation);

            jpeg_write_marker(&e->c, JPEG_APP0 + 1, exif, (unsigned)n);
        }
        return;
    }
    /* Each saved marker: marker byte, 16-bit length, data. */
    while (px->markers.len - pos >= 3) {
        int marker = px->markers.data[pos];
        size_t n = (size_t)px->markers.data[pos + 1] << 8 | px->markers.data[pos + 2];

        if (n > px->markers.len - pos - 3) {
            break;
        }
        jpeg_write_marker(&e->c, marker, px->markers.data + pos + 3, (unsigned)n);
        pos += 3 + n;
    }
}

static int run(struct encoder *e, const struct sitx_image_pixels *px, int quality, int strip,
               struct sitx_buf *out)
{
    JSAMPROW row[1];

    if (setjmp(e->jerr.jb) != 0) {
        return e->jerr.rc != 0 ? e->jerr.rc : SITX_E_INTERNAL;
    }
    jpeg_create_compress(&e->c);
    e->created = 1;
    sitx_jpeg_dest_init(&e->c, &e->dest, out);
    e->c.image_width = px->width;
    e->c.image_height = px->height;
    e->c.input_components = px->channels;
    e->c.in_color_space = px->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&e->c);
    jpeg_set_quality(&e->c, quality, TRUE);
    e->c.optimize_coding = TRUE;
    jpeg_start_compress(&e->c, TRUE);
    write_markers(e, px, strip);
    while (e->c.next_scanline < e->c.image_height) {
        row[0] = px->pixels + (size_t)e->c.next_scanline * px->width * (size_t)px->channels;
        (void)jpeg_write_scanlines(&e->c, row, 1);
    }
    jpeg_finish_compress(&e->c);
    return 0;
}

int sitx_jpeg_encode(const struct sitx_image_pixels *px, int quality, int strip,
                     struct sitx_buf *out, char err[static SITX_IMAGE_ERR_MAX])
{
    struct encoder *e;
    int rc;

    out->len = 0;
    if (px->channels != 1 && px->channels != 3) {
        sitx_image_seterr(err, "JPEG: cannot encode %d channels", px->channels);
        return SITX_E_INTERNAL;
    }
    if (quality < 1 || quality > 100) {
        sitx_image_seterr(err, "JPEG: quality %d is not in 1..100", quality);
        return SITX_E_INVALID;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        sitx_image_seterr(err, "JPEG: out of memory");
        return SITX_E_NOMEM;
    }
    e->c.err = sitx_jpeg_err_init(&e->jerr, 0, 0);
    rc = run(e, px, quality, strip, out);
    if (rc != 0) {
        sitx_image_seterr(err, "%s",
                          e->jerr.msg[0] != '\0' ? e->jerr.msg : "JPEG: encoding failed");
        out->len = 0;
    }
    if (e->created) {
        jpeg_destroy_compress(&e->c);
    }
    free(e);
    return rc;
}
