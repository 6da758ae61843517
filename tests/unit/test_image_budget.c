/* The validator's memory estimate and gate, its cancel flag, and the PNG
 * ancillary chunks that never reach libpng (image.h, image_png.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <zlib.h>

#include "err.h"
#include "image.h"
#include "secmem.h"

/* ---- a PNG by hand: 16x16 gray, any chunks between IHDR and IDAT -------- */

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends a chunk of len bytes of data (NULL: len zero bytes), or only
 * its header and declared length when declared != len. */
static void put_chunk(struct sitx_buf *b, const char *type, const uint8_t *data, size_t len,
                      uint32_t declared)
{
    uint8_t hdr[8];
    uint8_t crc_be[4];
    uint8_t *zeros = NULL;
    uLong crc = crc32(0L, (const Bytef *)type, 4);

    if (data == NULL && len > 0) {
        zeros = calloc(1, len);
        assert_non_null(zeros);
        data = zeros;
    }
    be32(hdr, declared);
    memcpy(hdr + 4, type, 4);
    crc = len > 0 ? crc32(crc, data, (uInt)len) : crc;
    be32(crc_be, (uint32_t)crc);
    assert_int_equal(sitx_buf_append(b, hdr, 8), 0);
    if (len > 0) {
        assert_int_equal(sitx_buf_append(b, data, len), 0);
    }
    if (declared == len) {
        assert_int_equal(sitx_buf_append(b, crc_be, 4), 0);
    }
    free(zeros);
}

static void png_start(struct sitx_buf *b)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {0};

    sitx_buf_init(b);
    assert_int_equal(sitx_buf_append(b, sig, 8), 0);
    be32(ihdr, 16);
    be32(ihdr + 4, 16);
    ihdr[8] = 8; /* 8-bit gray */
    put_chunk(b, "IHDR", ihdr, 13, 13);
}

static void png_end(struct sitx_buf *b)
{
    uint8_t raw[16 * 17];
    uint8_t z[512];
    uLongf zlen = sizeof(z);
    int y;

    for (y = 0; y < 16; y++) {
        raw[y * 17] = 0;
        memset(raw + y * 17 + 1, y * 16, 16);
    }
    assert_int_equal(compress2(z, &zlen, raw, sizeof(raw), 9), Z_OK);
    put_chunk(b, "IDAT", z, zlen, (uint32_t)zlen);
    put_chunk(b, "IEND", NULL, 0, 0);
}

/* Validation fed in pieces of at most step bytes. */
static int feed_all(struct sitx_image_validator *v, const uint8_t *buf, size_t len, size_t step)
{
    size_t off;
    int rc = 0;

    for (off = 0; off < len && rc == 0; off += step) {
        rc = sitx_image_validator_feed(v, buf + off, len - off < step ? len - off : step);
    }
    return rc;
}

/* Text, ICC and unknown ancillary chunks larger than the 64 KiB libpng may
 * hold are accepted: they never reach it; nor does a bKGD that large. A
 * critical chunk that large is refused, and so is a skipped chunk over
 * 8 MiB, without waiting for its bytes. */
static void test_png_ancillary(void **state)
{
    static const size_t steps[] = {1 << 20, 4096, 97};
    struct sitx_image_info info;
    char err[SITX_IMAGE_ERR_MAX];
    struct sitx_buf b;
    size_t k;

    (void)state;
    png_start(&b);
    put_chunk(&b, "tEXt", NULL, 100 * 1024, 100 * 1024);
    put_chunk(&b, "iCCP", NULL, 100 * 1024, 100 * 1024);
    put_chunk(&b, "zTXt", NULL, 200 * 1024, 200 * 1024);
    put_chunk(&b, "prVt", NULL, 100 * 1024, 100 * 1024);
    png_end(&b);
    assert_int_equal(sitx_image_validate(b.data, b.len, NULL, &info, err), 0);
    assert_int_equal(info.width, 16);
    for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        struct sitx_image_validator *v = NULL;

        assert_int_equal(sitx_image_validator_new(&v, NULL), 0);
        assert_int_equal(feed_all(v, b.data, b.len, steps[k]), 0);
        assert_int_equal(sitx_image_validator_finish(v, &info), 0);
        sitx_image_validator_free(v);
    }
    sitx_buf_clear(&b);

    png_start(&b);
    put_chunk(&b, "bKGD", NULL, 100 * 1024, 100 * 1024);
    png_end(&b);
    assert_int_equal(sitx_image_validate(b.data, b.len, NULL, &info, err), 0);
    sitx_buf_clear(&b);

    png_start(&b);
    put_chunk(&b, "PLTE", NULL, 100 * 1024, 100 * 1024);
    png_end(&b);
    assert_int_equal(sitx_image_validate(b.data, b.len, NULL, &info, err), SITX_E_BAD_IMAGE);
    assert_string_equal(err, "PNG: PLTE chunk of 102400 bytes is too large");
    sitx_buf_clear(&b);

    png_start(&b);
    put_chunk(&b, "zTXt", NULL, 0, 9u * 1024 * 1024);
    assert_int_equal(sitx_image_validate(b.data, b.len, NULL, &info, err), SITX_E_LIMIT);
    assert_non_null(strstr(err, "zTXt chunk of 9437184 bytes is over"));
    sitx_buf_clear(&b);
}

/* A PNG's need is known once IHDR is in: a few rows, within the floor. */
static void test_png_need(void **state)
{
    struct sitx_image_validator *v = NULL;
    struct sitx_image_limits lim;
    struct sitx_buf b;
    uint64_t need;

    (void)state;
    sitx_image_limits_default(&lim);
    png_start(&b);
    png_end(&b);
    assert_int_equal(sitx_image_validator_new(&v, &lim), 0);
    sitx_image_validator_set_budget(v, sitx_image_memory_floor(&lim), b.len);
    assert_int_equal(sitx_image_validator_feed(v, b.data, 20), 0);
    assert_true(sitx_image_validator_need(v) == 0);
    assert_int_equal(sitx_image_validator_feed(v, b.data + 20, 13), 0); /* IHDR and CRC in */
    need = sitx_image_validator_need(v);
    assert_true(need > 0 && need <= sitx_image_memory_floor(&lim));
    assert_int_equal(sitx_image_validator_held(v), 0);
    assert_int_equal(feed_all(v, b.data + 33, b.len - 33, 7), 0);
    assert_int_equal(sitx_image_validator_finish(v, NULL), 0);
    sitx_image_validator_free(v);
    sitx_buf_clear(&b);
}

/* ---- JPEG --------------------------------------------------------------- */

static void make_jpeg(uint32_t w, uint32_t h, int progressive, int arith, struct sitx_buf *out)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long mem_len = 0;
    uint8_t *row = malloc((size_t)w * 3);
    JSAMPROW rp[1] = {row};
    uint32_t x;

    assert_non_null(row);
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &mem_len);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    c.arith_code = arith ? TRUE : FALSE;
    if (progressive) {
        jpeg_simple_progression(&c);
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < h) {
        for (x = 0; x < w * 3; x++) {
            row[x] = (uint8_t)(x * 7 + c.next_scanline * 3);
        }
        jpeg_write_scanlines(&c, rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    sitx_buf_init(out);
    assert_int_equal(sitx_buf_append(out, mem, mem_len), 0);
    free(mem);
    free(row);
}

/* A progressive JPEG needs its coefficient image: under a smaller budget it
 * stops after the header, finishes with a limit error if the budget stays,
 * and gives validate()'s verdict once the budget was raised, however the
 * bytes arrive. */
static void test_jpeg_hold(void **state)
{
    static const size_t steps[] = {1 << 20, 4096, 97};
    struct sitx_image_info whole, info;
    struct sitx_image_limits lim;
    char err[SITX_IMAGE_ERR_MAX];
    struct sitx_buf j;
    uint64_t floor;
    size_t k;

    (void)state;
    sitx_image_limits_default(&lim);
    floor = sitx_image_memory_floor(&lim);
    make_jpeg(2048, 1536, 1, 0, &j);
    assert_int_equal(sitx_image_validate(j.data, j.len, &lim, &whole, err), 0);
    for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        struct sitx_image_validator *v = NULL;
        size_t off = 0;
        uint64_t need;

        assert_int_equal(sitx_image_validator_new(&v, &lim), 0);
        sitx_image_validator_set_budget(v, floor, j.len);
        while (off < j.len && !sitx_image_validator_held(v)) {
            size_t n = j.len - off < steps[k] ? j.len - off : steps[k];

            assert_int_equal(sitx_image_validator_feed(v, j.data + off, n), 0);
            off += n;
        }
        assert_int_equal(sitx_image_validator_held(v), 1);
        need = sitx_image_validator_need(v);
        /* 2048x1536, 3 components at 4:2:0: 1.5 x 49152 blocks of 128 bytes */
        assert_true(need > floor && need >= 73728u * 128);
        sitx_image_validator_set_budget(v, need, j.len);
        assert_int_equal(sitx_image_validator_held(v), 0);
        assert_int_equal(sitx_image_validator_feed(v, NULL, 0), 0);
        assert_int_equal(feed_all(v, j.data + off, j.len - off, steps[k]), 0);
        memset(&info, 0, sizeof(info));
        assert_int_equal(sitx_image_validator_finish(v, &info), 0);
        assert_memory_equal(&info, &whole, sizeof(info));
        sitx_image_validator_free(v);
    }
    /* The budget never raised: a limit, with both figures. */
    {
        struct sitx_image_validator *v = NULL;

        assert_int_equal(sitx_image_validator_new(&v, &lim), 0);
        sitx_image_validator_set_budget(v, floor, j.len);
        assert_int_equal(sitx_image_validator_feed(v, j.data, j.len), 0);
        assert_int_equal(sitx_image_validator_held(v), 1);
        assert_int_equal(sitx_image_validator_finish(v, NULL), SITX_E_LIMIT);
        assert_non_null(strstr(sitx_image_validator_errstr(v), "budget"));
        sitx_image_validator_free(v);
    }
    sitx_buf_clear(&j);
}

/* Baseline JPEGs fit the floor; arithmetic-coded ones count their file. */
static void test_jpeg_need(void **state)
{
    struct sitx_image_validator *v = NULL;
    struct sitx_image_limits lim;
    struct sitx_buf j;

    (void)state;
    sitx_image_limits_default(&lim);
    make_jpeg(1024, 768, 0, 0, &j);
    assert_int_equal(sitx_image_validator_new(&v, &lim), 0);
    sitx_image_validator_set_budget(v, sitx_image_memory_floor(&lim), j.len);
    assert_int_equal(feed_all(v, j.data, j.len, 4096), 0);
    assert_true(sitx_image_validator_need(v) <= sitx_image_memory_floor(&lim));
    assert_int_equal(sitx_image_validator_finish(v, NULL), 0);
    sitx_image_validator_free(v);
    sitx_buf_clear(&j);

    make_jpeg(256, 256, 0, 1, &j);
    assert_int_equal(sitx_image_validator_new(&v, &lim), 0);
    sitx_image_validator_set_budget(v, 0, 10u * 1024 * 1024);
    assert_int_equal(feed_all(v, j.data, j.len, 4096), 0);
    assert_true(sitx_image_validator_need(v) > 10u * 1024 * 1024);
    assert_int_equal(sitx_image_validator_finish(v, NULL), 0);
    sitx_image_validator_free(v);
    sitx_buf_clear(&j);
}

/* A set cancel flag stops either format at its next step, and sticks. */
static void test_cancel(void **state)
{
    struct sitx_image_validator *v = NULL;
    atomic_int cancel;
    struct sitx_buf img;
    int pass;

    (void)state;
    for (pass = 0; pass < 2; pass++) {
        if (pass == 0) {
            make_jpeg(512, 512, 1, 0, &img);
        } else {
            png_start(&img);
            png_end(&img);
        }
        atomic_init(&cancel, 0);
        assert_int_equal(sitx_image_validator_new(&v, NULL), 0);
        sitx_image_validator_set_cancel(v, &cancel);
        assert_int_equal(sitx_image_validator_feed(v, img.data, img.len / 2), 0);
        atomic_store(&cancel, 1);
        assert_int_equal(sitx_image_validator_feed(v, img.data + img.len / 2, img.len / 2),
                         SITX_E_CANCELLED);
        assert_non_null(strstr(sitx_image_validator_errstr(v), "cancelled"));
        assert_int_equal(sitx_image_validator_finish(v, NULL), SITX_E_CANCELLED);
        sitx_image_validator_free(v);
        sitx_buf_clear(&img);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_ancillary), cmocka_unit_test(test_png_need),
        cmocka_unit_test(test_jpeg_hold),     cmocka_unit_test(test_jpeg_need),
        cmocka_unit_test(test_cancel),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
