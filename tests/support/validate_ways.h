/* The ways the image validator can run over one buffer, for the tests of
 * the shortcuts (test_image_png_fast, test_image_jpeg_fast): whole buffer,
 * streamed at once without a shortcut, streamed in random pieces with the
 * bytes readable again (the receiver's way), and the shortcut alone. Each
 * must give the plain streaming path's verdict, message and info. Uses
 * CMocka's assertions, so it links into CMocka tests only. */
#ifndef SITX_TEST_VALIDATE_WAYS_H
#define SITX_TEST_VALIDATE_WAYS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

struct vw_ways {
    uint32_t (*rng)(void); /* the test's own, so each test keeps its sequence */
    /* The shortcut alone: 0 (valid, info set) or SITX_IMAGE_MORE. */
    int (*fast)(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                struct sitx_image_info *info);
    size_t small, large;     /* pieces of 1..small or 1..large bytes, as often */
    unsigned gate_every;     /* every nth case in pieces under a memory gate; 0: never */
    unsigned valgrind_every; /* under valgrind only every nth case runs in pieces */
    unsigned checked;        /* cases checked */
    unsigned fast_ok;        /* of them, accepted by the shortcut alone */
    unsigned stepped;        /* runs in pieces that read bytes again */
};

/* Checks that every way agrees on buf under lim (what names the case in a
 * failure); returns the verdict. */
int vw_check_same_lim(struct vw_ways *w, const uint8_t *buf, size_t len,
                      const struct sitx_image_limits *lim, const char *what);

/* The same under the default limits. */
int vw_check_same(struct vw_ways *w, const uint8_t *buf, size_t len, const char *what);

#endif
