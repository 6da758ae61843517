/* What the image fuzz targets share: limits that bound the work per input,
 * and the same-pixels check that aborts on any difference. */
#ifndef SITX_FUZZ_IMAGE_H
#define SITX_FUZZ_IMAGE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

/* 1 Mpx, 2048 per side, 100 scans, 64 MiB. */
static inline void fuzz_image_limits(struct sitx_image_limits *lim)
{
    sitx_image_limits_default(lim);
    lim->max_width = 2048;
    lim->max_height = 2048;
    lim->max_pixels = 1024 * 1024;
    lim->max_scans = 100;
    lim->max_memory = 64u * 1024 * 1024;
}

/* Aborts unless a and b both decode to the same RGBA pixels. */
static inline void fuzz_same_pixels(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                    const struct sitx_image_limits *lim)
{
    char err[SITX_IMAGE_ERR_MAX];
    uint8_t *pa = NULL, *pb = NULL;
    uint32_t wa = 0, ha = 0, wb = 0, hb = 0;

    if (sitx_image_decode_rgba(a, alen, lim, &pa, &wa, &ha, err) != 0 ||
        sitx_image_decode_rgba(b, blen, lim, &pb, &wb, &hb, err) != 0 || wa != wb || ha != hb ||
        memcmp(pa, pb, (size_t)wa * ha * 4) != 0) {
        abort();
    }
    free(pa);
    free(pb);
}

#endif
