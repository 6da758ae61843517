/* Making one thumbnail: JPEG decoded at the smallest libjpeg scale that
 * still covers THUMB_PX, PNG decoded by libpng (alpha on white), then box
 * averaging down to THUMB_PX and a quality-80 JPEG without metadata. */
#include "thumb.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "image_jpeg_internal.h"

struct scaled_read {
    struct jpeg_decompress_struct cinfo;
    struct sitx_jpeg_err jerr;
    struct sitx_jpeg_progress progress;
    int created;
    struct sitx_image_pixels px;
};

/* The largest of 8, 4, 2 that keeps the long side at THUMB_PX or more. */
static unsigned pick_denom(uint32_t w, uint32_t h)
{
    uint32_t side = w > h ? w : h;

    for (unsigned d = 8; d > 1; d /= 2) {
        if (side / d >= THUMB_PX) {
            return d;
        }
    }
    return 1;
}

static int jpeg_scaled(struct scaled_read *r, const uint8_t *buf, size_t len,
                       const struct sitx_image_limits *lim)
{
    j_decompress_ptr c = &r->cinfo;
    JSAMPROW row[1];
    JSAMPLE *cmyk = NULL;
    size_t stride;

    if (setjmp(r->jerr.jb) != 0) {
        return r->jerr.rc != 0 ? r->jerr.rc : SITX_E_BAD_IMAGE;
    }
    jpeg_create_decompress(c);
    r->created = 1;
    sitx_jpeg_mem_src(c, buf, len);
    (void)jpeg_read_header(c, TRUE);
    sitx_jpeg_apply_limits(c, lim, &r->progress);
    c->scale_num = 1;
    c->scale_denom = pick_denom(c->image_width, c->image_height);
    c->dct_method = JDCT_IFAST;
    if (c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK) {
        c->out_color_space = JCS_CMYK;
        r->px.channels = 3;
    } else if (c->jpeg_color_space == JCS_GRAYSCALE) {
        c->out_color_space = JCS_GRAYSCALE;
        r->px.channels = 1;
    } else {
        c->out_color_space = JCS_RGB;
        r->px.channels = 3;
    }
    (void)jpeg_start_decompress(c);
    stride = (size_t)c->output_width * (size_t)r->px.channels;
    r->px.pixels = malloc(stride * c->output_height);
    if (r->px.pixels == NULL) {
        sitx_jpeg_fail((j_common_ptr)c, SITX_E_NOMEM, "JPEG: out of memory for the pixels");
    }
    r->px.width = c->output_width;
    r->px.height = c->output_height;
    if (c->out_color_space == JCS_CMYK) {
        cmyk = (*c->mem->alloc_small)((j_common_ptr)c, JPOOL_IMAGE, (size_t)c->output_width * 4);
    }
    while (c->output_scanline < c->output_height) {
        uint8_t *dst = r->px.pixels + (size_t)c->output_scanline * stride;

        row[0] = cmyk != NULL ? cmyk : dst;
        (void)jpeg_read_scanlines(c, row, 1);
        for (JDIMENSION x = 0; cmyk != NULL && x < c->output_width; x++) {
            unsigned k = cmyk[x * 4 + 3]; /* Adobe's inverted CMYK */

            dst[x * 3] = (uint8_t)(cmyk[x * 4] * k / 255);
            dst[x * 3 + 1] = (uint8_t)(cmyk[x * 4 + 1] * k / 255);
            dst[x * 3 + 2] = (uint8_t)(cmyk[x * 4 + 2] * k / 255);
        }
    }
    (void)jpeg_finish_decompress(c);
    return 0;
}

/* Box average of src into a new image whose long side is THUMB_PX at most. */
static int shrink(const struct sitx_image_pixels *src, struct sitx_image_pixels *dst)
{
    uint32_t side = src->width > src->height ? src->width : src->height;
    uint32_t ow = src->width;
    uint32_t oh = src->height;
    int ch = src->channels;

    if (side > THUMB_PX) {
        ow = (uint32_t)((uint64_t)src->width * THUMB_PX / side);
        oh = (uint32_t)((uint64_t)src->height * THUMB_PX / side);
    }
    ow = ow == 0 ? 1 : ow;
    oh = oh == 0 ? 1 : oh;
    memset(dst, 0, sizeof(*dst));
    dst->pixels = malloc((size_t)ow * oh * (size_t)ch);
    if (dst->pixels == NULL) {
        return SITX_E_NOMEM;
    }
    dst->width = ow;
    dst->height = oh;
    dst->channels = ch;
    for (uint32_t y = 0; y < oh; y++) {
        uint32_t y0 = (uint32_t)((uint64_t)y * src->height / oh);
        uint32_t y1 = (uint32_t)((uint64_t)(y + 1) * src->height / oh);

        y1 = y1 > y0 ? y1 : y0 + 1;
        for (uint32_t x = 0; x < ow; x++) {
            uint32_t x0 = (uint32_t)((uint64_t)x * src->width / ow);
            uint32_t x1 = (uint32_t)((uint64_t)(x + 1) * src->width / ow);
            uint64_t sum[3] = {0, 0, 0};
            uint64_t n = 0;

            x1 = x1 > x0 ? x1 : x0 + 1;
            for (uint32_t sy = y0; sy < y1; sy++) {
                const uint8_t *p = src->pixels + ((size_t)sy * src->width + x0) * (size_t)ch;

                for (uint32_t sx = x0; sx < x1; sx++, p += ch) {
                    for (int k = 0; k < ch; k++) {
                        sum[k] += p[k];
                    }
                    n++;
                }
            }
            for (int k = 0; k < ch; k++) {
                dst->pixels[((size_t)y * ow + x) * (size_t)ch + (size_t)k] =
                    (uint8_t)((sum[k] + n / 2) / n);
            }
        }
    }
    return 0;
}

int thumb_make(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
               struct sitx_buf *out, uint32_t *width, uint32_t *height)
{
    struct scaled_read *r = NULL;
    struct sitx_image_pixels small;
    struct sitx_image_info info;
    char err[SITX_IMAGE_ERR_MAX];
    int rc;

    memset(&small, 0, sizeof(small));
    rc = thumb_probe(buf, len, &info);
    if (rc != 0) {
        return rc;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return SITX_E_NOMEM;
    }
    if (info.format == SITX_IMAGE_PNG && (uint64_t)info.width * info.height * 4 > lim->max_memory) {
        free(r);
        return SITX_E_LIMIT; /* libpng would hold all of it as RGBA */
    }
    if (info.format == SITX_IMAGE_JPEG) {
        r->cinfo.err = sitx_jpeg_err_init(&r->jerr, 0, lim->max_memory);
        rc = jpeg_scaled(r, buf, len, lim);
        if (r->created) {
            jpeg_destroy_decompress(&r->cinfo);
        }
    } else {
        rc = sitx_png_decode_flat(buf, len, lim, &r->px, err);
    }
    if (rc == 0) {
        rc = shrink(&r->px, &small);
    }
    if (rc == 0) {
        rc = sitx_jpeg_encode(&small, 80, 1, out, err);
    }
    if (rc == 0) {
        *width = info.width;
        *height = info.height;
    }
    sitx_image_pixels_clear(&small);
    sitx_image_pixels_clear(&r->px);
    free(r);
    return rc;
}

/* libjpeg's header reader over the first bytes; a cut-off file is fine as
 * long as the frame header is in them. Nothing set after setjmp is read
 * after a longjmp but r, which lives on the heap. */
static int probe_run(struct scaled_read *r, const uint8_t *buf, size_t len,
                     struct sitx_image_info *info)
{
    if (setjmp(r->jerr.jb) != 0) {
        return SITX_E_BAD_IMAGE;
    }
    jpeg_create_decompress(&r->cinfo);
    r->created = 1;
    sitx_jpeg_mem_src(&r->cinfo, buf, len);
    if (jpeg_read_header(&r->cinfo, TRUE) != JPEG_HEADER_OK) {
        return SITX_E_BAD_IMAGE;
    }
    info->width = r->cinfo.image_width;
    info->height = r->cinfo.image_height;
    return 0;
}

static int probe_jpeg(const uint8_t *buf, size_t len, struct sitx_image_info *info)
{
    struct scaled_read *r = calloc(1, sizeof(*r));
    int rc;

    if (r == NULL) {
        return SITX_E_NOMEM;
    }
    r->cinfo.err = sitx_jpeg_err_init(&r->jerr, 0, 0);
    rc = probe_run(r, buf, len, info);
    if (r->created) {
        jpeg_destroy_decompress(&r->cinfo);
    }
    free(r);
    return rc;
}

int thumb_probe(const uint8_t *buf, size_t len, struct sitx_image_info *info)
{
    memset(info, 0, sizeof(*info));
    info->format = sitx_image_detect(buf, len);
    switch (info->format) {
    case SITX_IMAGE_PNG:
        /* Signature, then IHDR first: length 13, "IHDR", width, height. */
        if (len < 24 || memcmp(buf + 12, "IHDR", 4) != 0) {
            return SITX_E_BAD_IMAGE;
        }
        info->width = sitx_load_be32(buf + 16);
        info->height = sitx_load_be32(buf + 20);
        return 0;
    case SITX_IMAGE_JPEG:
        return probe_jpeg(buf, len, info);
    default:
        return SITX_E_BAD_IMAGE;
    }
}
