/* Detection by magic bytes, names, default limits, and whole-buffer
 * validation of made-up inputs: limits on size, pixels, scans and memory,
 * and clear messages for what is not an image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "image.h"
#include "image_internal.h"
#include "secmem.h"

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

static void test_detect_magic(void **state)
{
    static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0};
    static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a'};
    static const uint8_t almost_png[] = {0x89, 'P', 'N', 'g'};
    static const uint8_t almost_jpeg[] = {0xFF, 0xD8, 0x00};

    (void)state;
    assert_int_equal(sitx_image_detect(png_sig, sizeof(png_sig)), SITX_IMAGE_PNG);
    assert_int_equal(sitx_image_detect(png_sig, 4), SITX_IMAGE_PNG);
    assert_int_equal(sitx_image_detect(png_sig, 3), SITX_IMAGE_UNKNOWN);
    assert_int_equal(sitx_image_detect(jpeg, sizeof(jpeg)), SITX_IMAGE_JPEG);
    assert_int_equal(sitx_image_detect(jpeg, 3), SITX_IMAGE_JPEG);
    assert_int_equal(sitx_image_detect(jpeg, 2), SITX_IMAGE_UNKNOWN);
    assert_int_equal(sitx_image_detect(gif, sizeof(gif)), SITX_IMAGE_UNKNOWN);
    assert_int_equal(sitx_image_detect(almost_png, sizeof(almost_png)), SITX_IMAGE_UNKNOWN);
    assert_int_equal(sitx_image_detect(almost_jpeg, sizeof(almost_jpeg)), SITX_IMAGE_UNKNOWN);
    assert_int_equal(sitx_image_detect(NULL, 10), SITX_IMAGE_UNKNOWN);
    assert_int_equal(sitx_image_detect(jpeg, 0), SITX_IMAGE_UNKNOWN);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(sitx_image_format_name(SITX_IMAGE_PNG), "PNG");
    assert_string_equal(sitx_image_format_name(SITX_IMAGE_JPEG), "JPEG");
    assert_string_equal(sitx_image_format_name(SITX_IMAGE_UNKNOWN), "unknown");
    assert_string_equal(sitx_image_ext(SITX_IMAGE_PNG), ".png");
    assert_string_equal(sitx_image_ext(SITX_IMAGE_JPEG), ".jpg");
    assert_string_equal(sitx_image_ext(SITX_IMAGE_UNKNOWN), "");
    /* Same numbers as the wire format. */
    assert_int_equal(SITX_IMAGE_PNG, 1);
    assert_int_equal(SITX_IMAGE_JPEG, 2);
}

static void test_limits_default(void **state)
{
    struct sitx_image_limits l;

    (void)state;
    memset(&l, 0, sizeof(l));
    sitx_image_limits_default(&l);
    assert_int_equal(l.max_width, 65535);
    assert_int_equal(l.max_height, 65535);
    assert_true(l.max_pixels == 64u * 1000 * 1000);
    assert_int_equal(l.max_scans, 100);
    assert_true(l.max_memory == 1024u * 1024 * 1024);
}

static void test_not_an_image(void **state)
{
    static const uint8_t text[] = "hello, this is not an image";
    struct sitx_image_limits lim;
    char err[SITX_IMAGE_ERR_MAX];

    (void)state;
    sitx_image_limits_default(&lim);
    assert_int_equal(sitx_image_validate(text, sizeof(text), &lim, NULL, err), SITX_E_UNSUPPORTED);
    assert_non_null(strstr(err, "not a PNG or JPEG"));
    assert_int_equal(sitx_image_validate(text, 0, &lim, NULL, err), SITX_E_UNSUPPORTED);
    /* A signature alone is an image that ends at once. */
    assert_int_equal(sitx_image_validate(png_sig, sizeof(png_sig), &lim, NULL, err),
                     SITX_E_BAD_IMAGE);
    assert_non_null(strstr(err, "PNG: file ends"));
}

/* A gray JPEG of w x h, progressive when asked, through our own encoder and
 * transcoder. */
static void make_jpeg(uint32_t w, uint32_t h, int progressive, struct sitx_buf *out)
{
    struct sitx_image_pixels px;
    struct sitx_buf base;
    char err[SITX_IMAGE_ERR_MAX];
    size_t i;

    memset(&px, 0, sizeof(px));
    px.width = w;
    px.height = h;
    px.channels = 1;
    px.pixels = malloc((size_t)w * h);
    assert_non_null(px.pixels);
    for (i = 0; i < (size_t)w * h; i++) {
        px.pixels[i] = (uint8_t)(i * 7 + i / w * 3);
    }
    sitx_buf_init(&base);
    assert_int_equal(sitx_jpeg_encode(&px, 90, 0, &base, err), 0);
    if (progressive) {
        assert_int_equal(sitx_jpeg_transcode(base.data, base.len, 1, 0, out, err), 0);
        sitx_buf_clear(&base);
    } else {
        *out = base;
    }
    sitx_image_pixels_clear(&px);
}

static void test_jpeg_size_limits(void **state)
{
    struct sitx_image_limits lim;
    struct sitx_image_info info;
    struct sitx_buf jpg;
    char err[SITX_IMAGE_ERR_MAX];

    (void)state;
    sitx_buf_init(&jpg);
    make_jpeg(300, 200, 0, &jpg);
    sitx_image_limits_default(&lim);
    assert_int_equal(sitx_image_validate(jpg.data, jpg.len, &lim, &info, err), 0);
    assert_int_equal(info.format, SITX_IMAGE_JPEG);
    assert_int_equal(info.width, 300);
    assert_int_equal(info.height, 200);
    assert_int_equal(info.components, 1);
    assert_int_equal(info.progressive, 0);

    lim.max_width = 299;
    assert_int_equal(sitx_image_validate(jpg.data, jpg.len, &lim, &info, err), SITX_E_LIMIT);
    assert_non_null(strstr(err, "300x200"));
    sitx_image_limits_default(&lim);
    lim.max_height = 199;
    assert_int_equal(sitx_image_validate(jpg.data, jpg.len, &lim, &info, err), SITX_E_LIMIT);
    sitx_image_limits_default(&lim);
    lim.max_pixels = 300 * 200 - 1;
    assert_int_equal(sitx_image_validate(jpg.data, jpg.len, &lim, &info, err), SITX_E_LIMIT);
    assert_non_null(strstr(err, "60000 pixels"));
    lim.max_pixels = 300 * 200;
    assert_int_equal(sitx_image_validate(jpg.data, jpg.len, &lim, &info, err), 0);
    sitx_buf_clear(&jpg);
}

static void test_jpeg_scan_and_memory_limits(void **state)
{
    struct sitx_image_limits lim;
    struct sitx_image_info info;
    struct sitx_buf jpg;
    char err[SITX_IMAGE_ERR_MAX];

    (void)state;
    sitx_buf_init(&jpg);
    make_jpeg(640, 480, 1, &jpg);
    sitx_image_limits_default(&lim);
    assert_int_equal(sitx_image_validate(jpg.data, jpg.len, &lim, &info, err), 0);
    assert_int_equal(info.progressive, 1);
    /* libjpeg's simple progression has 6 scans for gray. */
    lim.max_scans = 2;
    assert_int_equal(sitx_image_validate(jpg.data, jpg.len, &lim, &info, err), SITX_E_LIMIT);
    assert_non_null(strstr(err, "scan"));
    lim.max_scans = 6;
    assert_int_equal(sitx_image_validate(jpg.data, jpg.len, &lim, &info, err), 0);
    /* The coefficients of 640x480 gray take 80 * 60 * 128 = 614400 bytes. */
    sitx_image_limits_default(&lim);
    lim.max_memory = 300 * 1000;
    assert_int_equal(sitx_image_validate(jpg.data, jpg.len, &lim, &info, err), SITX_E_LIMIT);
    assert_non_null(strstr(err, "memory limit"));
    sitx_buf_clear(&jpg);
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
    }
    return c ^ 0xFFFFFFFFu;
}

/* Signature and an IHDR for an 8-bit gray w x h image, no IDAT: enough to
 * reach the size checks. Returns the length (33). */
static size_t png_header(uint8_t *out, uint32_t w, uint32_t h)
{
    static const uint8_t ihdr_tail[5] = {8, 0, 0, 0, 0};

    memcpy(out, png_sig, 8);
    be32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    be32(out + 16, w);
    be32(out + 20, h);
    memcpy(out + 24, ihdr_tail, 5);
    be32(out + 29, crc32_png(out + 12, 17));
    return 33;
}

static void test_png_size_limits(void **state)
{
    struct sitx_image_limits lim;
    uint8_t buf[64];
    char err[SITX_IMAGE_ERR_MAX];
    size_t n;

    (void)state;
    sitx_image_limits_default(&lim);
    n = png_header(buf, 70000, 10);
    assert_int_equal(sitx_image_validate(buf, n, &lim, NULL, err), SITX_E_LIMIT);
    assert_non_null(strstr(err, "limit"));
    n = png_header(buf, 10000, 10000); /* 100 Mpx: each side fine, the product not */
    assert_int_equal(sitx_image_validate(buf, n, &lim, NULL, err), SITX_E_BAD_IMAGE);
    /* ... because the file ends first; with an IDAT it would be the limit: */
    memcpy(buf + n, "\0\0\0\0IDAT\x35\xaf\x06\x1e", 12);
    assert_int_equal(sitx_image_validate(buf, n + 12, &lim, NULL, err), SITX_E_LIMIT);
    assert_non_null(strstr(err, "100000000 pixels"));
    lim.max_height = 100;
    n = png_header(buf, 100, 101);
    assert_int_equal(sitx_image_validate(buf, n, &lim, NULL, err), SITX_E_LIMIT);
}

static void test_png_memory_limit(void **state)
{
    struct sitx_image_limits lim;
    uint8_t buf[64];
    char err[SITX_IMAGE_ERR_MAX];
    size_t n;

    (void)state;
    sitx_image_limits_default(&lim);
    lim.max_memory = 20 * 1000; /* a row of 30000 bytes does not fit */
    n = png_header(buf, 30000, 10);
    memcpy(buf + n, "\0\0\0\0IDAT\x35\xaf\x06\x1e", 12);
    assert_int_equal(sitx_image_validate(buf, n + 12, &lim, NULL, err), SITX_E_LIMIT);
    assert_non_null(strstr(err, "memory limit"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_magic),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_limits_default),
        cmocka_unit_test(test_not_an_image),
        cmocka_unit_test(test_jpeg_size_limits),
        cmocka_unit_test(test_jpeg_scan_and_memory_limits),
        cmocka_unit_test(test_png_size_limits),
        cmocka_unit_test(test_png_memory_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
