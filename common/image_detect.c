/* Format detection by content, names, default limits and the error helpers
 * the other image_*.c files share. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image.h"
#include "image_internal.h"

void sitx_image_limits_default(struct sitx_image_limits *l)
{
    l->max_width = 65535;
    l->max_height = 65535;
    l->max_pixels = 64u * 1000 * 1000;
    l->max_scans = 100;
    l->max_memory = 1024u * 1024 * 1024;
}

/* PNG is "\x89PNG" and JPEG "FF D8 FF". Only the first four PNG signature
 * bytes decide, so that a signature mangled by a text-mode transfer (CR/LF
 * rewritten) reaches libpng, whose message names the fault. */
enum sitx_image_format sitx_image_detect(const uint8_t *buf, size_t len)
{
    static const uint8_t png_magic[4] = {0x89, 'P', 'N', 'G'};
    static const uint8_t jpeg_magic[3] = {0xFF, 0xD8, 0xFF};

    if (buf == NULL) {
        return SITX_IMAGE_UNKNOWN;
    }
    if (len >= sizeof(png_magic) && memcmp(buf, png_magic, sizeof(png_magic)) == 0) {
        return SITX_IMAGE_PNG;
    }
    if (len >= sizeof(jpeg_magic) && memcmp(buf, jpeg_magic, sizeof(jpeg_magic)) == 0) {
        return SITX_IMAGE_JPEG;
    }
    return SITX_IMAGE_UNKNOWN;
}

const char *sitx_image_format_name(enum sitx_image_format f)
{
    switch (f) {
    case SITX_IMAGE_PNG:
        return "PNG";
    case SITX_IMAGE_JPEG:
        return "JPEG";
    case SITX_IMAGE_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *sitx_image_ext(enum sitx_image_format f)
{
    switch (f) {
    case SITX_IMAGE_PNG:
        return ".png";
    case SITX_IMAGE_JPEG:
        return ".jpg";
    case SITX_IMAGE_UNKNOWN:
        break;
    }
    return "";
}

void sitx_image_seterr(char err[static SITX_IMAGE_ERR_MAX], const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(err, SITX_IMAGE_ERR_MAX, fmt, ap);
    va_end(ap);
    if (n < 0) {
        err[0] = '\0';
    }
}

int sitx_image_check_size(const struct sitx_image_limits *lim, const char *fmt_name, uint32_t width,
                          uint32_t height, char err[static SITX_IMAGE_ERR_MAX])
{
    uint64_t pixels = (uint64_t)width * height;

    if (width == 0 || height == 0) {
        sitx_image_seterr(err, "%s: image is %ux%u pixels, an empty image", fmt_name,
                          (unsigned)width, (unsigned)height);
        return SITX_E_BAD_IMAGE;
    }
    if (width > lim->max_width || height > lim->max_height) {
        sitx_image_seterr(err, "%s: image is %ux%u pixels, over the %ux%u limit", fmt_name,
                          (unsigned)width, (unsigned)height, (unsigned)lim->max_width,
                          (unsigned)lim->max_height);
        return SITX_E_LIMIT;
    }
    if (pixels > lim->max_pixels) {
        sitx_image_seterr(err, "%s: image is %ux%u = %llu pixels, over the %llu limit", fmt_name,
                          (unsigned)width, (unsigned)height, (unsigned long long)pixels,
                          (unsigned long long)lim->max_pixels);
        return SITX_E_LIMIT;
    }
    return 0;
}

void sitx_image_pixels_clear(struct sitx_image_pixels *px)
{
    free(px->pixels);
    free(px->icc);
    sitx_buf_clear(&px->markers);
    memset(px, 0, sizeof(*px));
}
