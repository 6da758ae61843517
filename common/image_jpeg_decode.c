/* Full JPEG decoding: to RGBA for pixel comparison (no block smoothing, so
 * the pixels depend on the coefficients alone and a lossless transcode must
 * give the same ones), and to gray or RGB for lossy re-encoding, with the
 * markers worth carrying over. CMYK/YCCK is taken as Adobe's inverted CMYK. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image_jpeg_internal.h"

struct jpeg_read {
    struct jpeg_decompress_struct cinfo;
    struct sitx_jpeg_err jerr;
    struct sitx_jpeg_progress progress;
    int created;
    uint8_t *pixels;
    int channels; /* in pixels */
    int keep_markers;
    struct sitx_image_pixels *px; /* flat mode: icc, orientation, markers */
};

static int is_app(jpeg_saved_marker_ptr m, int n, const char *id, unsigned id_len)
{
    return m->marker == JPEG_APP0 + n && m->data_length >= id_len &&
           memcmp(m->data, id, id_len) == 0;
}

/* ICC, orientation and the APPn/COM segments a re-encode should carry. */
static void collect_markers(struct jpeg_read *r)
{
    jpeg_saved_marker_ptr m;
    JOCTET *icc = NULL;
    unsigned int icc_len = 0;

    /* A malformed ICC marker set is not image data: it is dropped, not a
     * reason to refuse (libjpeg only warns about it). */
    r->jerr.warnings_fatal = 0;
    if (jpeg_read_icc_profile(&r->cinfo, &icc, &icc_len) && icc != NULL) {
        r->px->icc = icc;
        r->px->icc_len = icc_len;
    }
    r->jerr.warnings_fatal = 1;
    for (m = r->cinfo.marker_list; m != NULL; m = m->next) {
        uint8_t hdr[3];

        if (is_app(m, 1, "Exif\0\0", 6) && r->px->orientation == 0) {
            r->px->orientation = sitx_exif_orientation(m->data, m->data_length);
        }
        if (is_app(m, 0, "JFIF\0", 5) || is_app(m, 14, "Adobe", 5) ||
            is_app(m, 2, "ICC_PROFILE\0", 12) || m->data_length > 65533) {
            continue; /* written by the encoder itself */
        }
        hdr[0] = (uint8_t)m->marker;
        hdr[1] = (uint8_t)(m->data_length >> 8);
        hdr[2] = (uint8_t)m->data_length;
        if (sitx_buf_append(&r->px->markers, hdr, sizeof(hdr)) != 0 ||
            sitx_buf_append(&r->px->markers, m->data, m->data_length) != 0) {
            sitx_jpeg_fail((j_common_ptr)&r->cinfo, SITX_E_NOMEM, "JPEG: out of memory");
        }
    }
}

static void cmyk_to_rgb(const JSAMPLE *in, uint8_t *out, JDIMENSION width, int out_channels)
{
    JDIMENSION x;

    /* Adobe writes CMYK inverted: each stored value is 255 - ink. */
    for (x = 0; x < width; x++) {
        unsigned k = in[3];

        out[0] = (uint8_t)((in[0] * k + 127) / 255);
        out[1] = (uint8_t)((in[1] * k + 127) / 255);
        out[2] = (uint8_t)((in[2] * k + 127) / 255);
        if (out_channels == 4) {
            out[3] = 255;
        }
        in += 4;
        out += out_channels;
    }
}

/* rgba: 4 channels; else gray (1) or RGB (3) by the source. */
static int read_pixels(struct jpeg_read *r, const uint8_t *buf, size_t len,
                       const struct sitx_image_limits *lim, int rgba)
{
    j_decompress_ptr c = &r->cinfo;
    JSAMPROW row[1];
    JSAMPLE *cmyk = NULL;
    int m;

    if (setjmp(r->jerr.jb) != 0) {
        return r->jerr.rc != 0 ? r->jerr.rc : SITX_E_BAD_IMAGE;
    }
    jpeg_create_decompress(c);
    r->created = 1;
    sitx_jpeg_mem_src(c, buf, len);
    if (r->keep_markers) {
        jpeg_save_markers(c, JPEG_COM, 0xFFFF);
        for (m = 0; m < 16; m++) {
            jpeg_save_markers(c, JPEG_APP0 + m, 0xFFFF);
        }
    }
    (void)jpeg_read_header(c, TRUE);
    sitx_jpeg_apply_limits(c, lim, &r->progress);
    if (r->keep_markers) {
        collect_markers(r);
    }
    c->do_block_smoothing = FALSE;
    if (c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK) {
        c->out_color_space = JCS_CMYK;
        r->channels = rgba ? 4 : 3;
    } else if (rgba) {
        c->out_color_space = JCS_EXT_RGBA;
        r->channels = 4;
    } else if (c->jpeg_color_space == JCS_GRAYSCALE) {
        c->out_color_space = JCS_GRAYSCALE;
        r->channels = 1;
    } else {
        c->out_color_space = JCS_RGB;
        r->channels = 3;
    }
    if ((uint64_t)c->image_width * c->image_height * 4 > lim->max_memory) {
        sitx_jpeg_fail((j_common_ptr)c, SITX_E_LIMIT,
                       "JPEG: decoded pixels would be over the memory limit");
    }
    (void)jpeg_start_decompress(c);
    r->pixels = malloc((size_t)c->output_width * c->output_height * (size_t)r->channels);
    if (r->pixels == NULL) {
        sitx_jpeg_fail((j_common_ptr)c, SITX_E_NOMEM, "JPEG: out of memory for the pixels");
    }
    if (c->out_color_space == JCS_CMYK) {
        cmyk = (*c->mem->alloc_small)((j_common_ptr)c, JPOOL_IMAGE, (size_t)c->output_width * 4);
    }
    while (c->output_scanline < c->output_height) {
        uint8_t *dst =
            r->pixels + (size_t)c->output_scanline * c->output_width * (size_t)r->channels;

        row[0] = cmyk != NULL ? cmyk : dst;
        (void)jpeg_read_scanlines(c, row, 1);
        if (cmyk != NULL) {
            cmyk_to_rgb(cmyk, dst, c->output_width, r->channels);
        }
    }
    (void)jpeg_finish_decompress(c);
    return 0;
}

static int decode(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim, int rgba,
                  struct jpeg_read *r, char err[static SITX_IMAGE_ERR_MAX])
{
    int rc;

    r->cinfo.err = sitx_jpeg_err_init(&r->jerr, 1, lim->max_memory);
    rc = read_pixels(r, buf, len, lim, rgba);
    if (rc != 0) {
        sitx_image_seterr(err, "%s", r->jerr.msg[0] != '\0' ? r->jerr.msg : "JPEG: failed");
        free(r->pixels);
        r->pixels = NULL;
    }
    if (r->created) {
        jpeg_destroy_decompress(&r->cinfo);
    }
    return rc;
}

int sitx_jpeg_decode_rgba(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                          uint8_t **pixels, uint32_t *width, uint32_t *height,
                          char err[static SITX_IMAGE_ERR_MAX])
{
    struct jpeg_read *r = calloc(1, sizeof(*r));
    int rc;

    if (r == NULL) {
        sitx_image_seterr(err, "JPEG: out of memory");
        return SITX_E_NOMEM;
    }
    rc = decode(buf, len, lim, 1, r, err);
    if (rc == 0) {
        *pixels = r->pixels;
        *width = r->cinfo.output_width;
        *height = r->cinfo.output_height;
    }
    free(r);
    return rc;
}

int sitx_jpeg_decode_flat(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                          struct sitx_image_pixels *px, char err[static SITX_IMAGE_ERR_MAX])
{
    struct jpeg_read *r = calloc(1, sizeof(*r));
    int rc;

    if (r == NULL) {
        sitx_image_seterr(err, "JPEG: out of memory");
        return SITX_E_NOMEM;
    }
    r->keep_markers = 1;
    r->px = px;
    rc = decode(buf, len, lim, 0, r, err);
    if (rc == 0) {
        px->pixels = r->pixels;
        px->width = r->cinfo.output_width;
        px->height = r->cinfo.output_height;
        px->channels = r->channels;
    } else {
        sitx_image_pixels_clear(px);
    }
    free(r);
    return rc;
}
