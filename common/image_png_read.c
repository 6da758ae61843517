/* Full PNG decoding to 8-bit RGBA (pixel comparison, lossy re-encoding),
 * with libpng's sequential reader over a memory buffer. Same warning policy
 * as validation: a fault in the image data refuses the image. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image_internal.h"

struct png_read {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    int err;
    char *errstr; /* the caller's err[] */
    png_structp png;
    png_infop info;
    uint8_t *pixels; /* RGBA result, malloc'd */
    png_bytep *rows;
    uint8_t *icc;
    size_t icc_len;
    uint32_t width;
    uint32_t height;
    int gray;
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_read *r = png_get_error_ptr(png);

    if (r->err == 0) {
        r->err = SITX_E_BAD_IMAGE;
        sitx_image_seterr(r->errstr, "PNG: %s", msg);
    }
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    struct png_read *r = png_get_error_ptr(png);

    if (sitx_png_warning_is_fatal(msg) && r->err == 0) {
        r->err = SITX_E_BAD_IMAGE;
        sitx_image_seterr(r->errstr, "PNG: %s", msg);
    }
}

static void on_read(png_structp png, png_bytep out, size_t n)
{
    struct png_read *r = png_get_io_ptr(png);

    if (n > r->len - r->pos) {
        png_error(png, "file ends too early");
    }
    memcpy(out, r->buf + r->pos, n);
    r->pos += n;
}

/* Everything that may longjmp; r's fields carry the results out. */
static int read_rgba(struct png_read *r, const struct sitx_image_limits *lim)
{
    png_uint_32 y;
    png_charp name = NULL;
    int compression = 0;
    png_bytep profile = NULL;
    png_uint_32 profile_len = 0;
    int rc;

    if (setjmp(png_jmpbuf(r->png)) != 0) {
        return r->err != 0 ? r->err : SITX_E_BAD_IMAGE;
    }
    png_set_user_limits(r->png, lim->max_width, lim->max_height);
    png_set_chunk_malloc_max(r->png, SITX_IMAGE_CHUNK_MAX);
    png_set_read_fn(r->png, r, on_read);
    png_read_info(r->png, r->info);
    r->width = png_get_image_width(r->png, r->info);
    r->height = png_get_image_height(r->png, r->info);
    rc = sitx_image_check_size(lim, "PNG", r->width, r->height, r->errstr);
    if (rc != 0) {
        r->err = rc;
        return rc;
    }
    if ((uint64_t)r->width * r->height * 4 > lim->max_memory) {
        r->err = SITX_E_LIMIT;
        sitx_image_seterr(r->errstr, "PNG: %ux%u RGBA is over the %llu-byte memory limit",
                          (unsigned)r->width, (unsigned)r->height,
                          (unsigned long long)lim->max_memory);
        return r->err;
    }
    r->gray = (png_get_color_type(r->png, r->info) & PNG_COLOR_MASK_COLOR) == 0;
    if (png_get_iCCP(r->png, r->info, &name, &compression, &profile, &profile_len) ==
            PNG_INFO_iCCP &&
        profile_len > 0) {
        r->icc = malloc(profile_len);
        if (r->icc != NULL) {
            memcpy(r->icc, profile, profile_len);
            r->icc_len = profile_len;
        }
    }
    png_set_expand(r->png);
    png_set_strip_16(r->png);
    png_set_gray_to_rgb(r->png);
    png_set_add_alpha(r->png, 0xFF, PNG_FILLER_AFTER);
    (void)png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    if (png_get_rowbytes(r->png, r->info) != (size_t)r->width * 4) {
        png_error(r->png, "unexpected row size after expansion to RGBA");
    }
    r->pixels = malloc((size_t)r->width * r->height * 4);
    r->rows = malloc(sizeof(*r->rows) * r->height);
    if (r->pixels == NULL || r->rows == NULL) {
        r->err = SITX_E_NOMEM;
        sitx_image_seterr(r->errstr, "PNG: out of memory for %ux%u pixels", (unsigned)r->width,
                          (unsigned)r->height);
        return r->err;
    }
    for (y = 0; y < r->height; y++) {
        r->rows[y] = r->pixels + (size_t)y * r->width * 4;
    }
    png_read_image(r->png, r->rows);
    png_read_end(r->png, NULL);
    return r->err;
}

static int decode(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                  struct png_read *r, char err[static SITX_IMAGE_ERR_MAX])
{
    int rc;

    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->len = len;
    r->errstr = err;
    err[0] = '\0';
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, on_error, on_warning);
    if (r->png != NULL) {
        r->info = png_create_info_struct(r->png);
    }
    if (r->png == NULL || r->info == NULL) {
        png_destroy_read_struct(&r->png, NULL, NULL);
        sitx_image_seterr(err, "PNG: out of memory");
        return SITX_E_NOMEM;
    }
    rc = read_rgba(r, lim);
    png_destroy_read_struct(&r->png, &r->info, NULL);
    free(r->rows);
    r->rows = NULL;
    if (rc != 0) {
        free(r->pixels);
        free(r->icc);
        r->pixels = NULL;
        r->icc = NULL;
    }
    return rc;
}

int sitx_png_decode_rgba(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                         uint8_t **pixels, uint32_t *width, uint32_t *height,
                         char err[static SITX_IMAGE_ERR_MAX])
{
    struct png_read r;
    int rc = decode(buf, len, lim, &r, err);

    if (rc != 0) {
        return rc;
    }
    free(r.icc);
    *pixels = r.pixels;
    *width = r.width;
    *height = r.height;
    return 0;
}

/* Alpha composited on white: out = c * a + 255 * (1 - a), rounded. */
static uint8_t over_white(uint8_t c, uint8_t a)
{
    return (uint8_t)(((unsigned)c * a + 255u * (255u - a) + 127u) / 255u);
}

int sitx_png_decode_flat(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                         struct sitx_image_pixels *px, char err[static SITX_IMAGE_ERR_MAX])
{
    struct png_read r;
    size_t i;
    size_t n;
    int rc = decode(buf, len, lim, &r, err);

    if (rc != 0) {
        return rc;
    }
    n = (size_t)r.width * r.height;
    px->channels = r.gray ? 1 : 3;
    /* In place: each output pixel lies at or before its RGBA source. */
    for (i = 0; i < n; i++) {
        const uint8_t *s = r.pixels + i * 4;
        uint8_t *d = r.pixels + i * (size_t)px->channels;
        uint8_t a = s[3];

        if (r.gray) {
            d[0] = over_white(s[0], a);
        } else {
            uint8_t red = over_white(s[0], a);
            uint8_t green = over_white(s[1], a);
            uint8_t blue = over_white(s[2], a);

            d[0] = red;
            d[1] = green;
            d[2] = blue;
        }
    }
    px->pixels = r.pixels;
    px->width = r.width;
    px->height = r.height;
    px->icc = r.icc;
    px->icc_len = r.icc_len;
    px->orientation = 0;
    return 0;
}
