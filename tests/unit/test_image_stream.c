/* Streaming validation: for generated PNGs and JPEGs of every kind the
 * validator must give, whatever the chunking (random sizes, byte by byte)
 * and at every truncation point, exactly what sitx_image_validate() gives on
 * the same bytes; errors stick; and the JPEG window stays small. */
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jpeglib.h>

#include "err.h"
#include "image.h"
#include "image_internal.h"
#include "secmem.h"

static uint64_t rng_state = 0x0123456789ABCDEFull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Smooth picture with noise, channels 1..4, 8 bits. */
static uint8_t *picture(uint32_t w, uint32_t h, int channels)
{
    uint8_t *px = malloc((size_t)w * h * (size_t)channels);
    size_t i;

    assert_non_null(px);
    for (i = 0; i < (size_t)w * h * (size_t)channels; i++) {
        size_t p = i / (size_t)channels;

        px[i] = (uint8_t)((p % w) * 255 / w / 2 + (p / w) * 255 / h / 2 + rng() % 33);
    }
    return px;
}

static void on_png_write(png_structp png, png_bytep data, size_t n)
{
    assert_int_equal(sitx_buf_append(png_get_io_ptr(png), data, n), 0);
}

static void on_png_flush(png_structp png)
{
    (void)png;
}

/* color: PNG_COLOR_TYPE_*; depth 8 or 16 (16 duplicates the byte). */
static void make_png(uint32_t w, uint32_t h, int color, int depth, int interlace,
                     struct sitx_buf *out)
{
    int channels = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGBA ? 4 : 1;
    size_t bpp = (size_t)channels * (depth / 8);
    uint8_t *px = picture(w, h, channels);
    uint8_t *rows = malloc((size_t)w * h * bpp);
    png_bytep *rp = malloc(sizeof(*rp) * h);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    size_t i;
    uint32_t y;

    assert_non_null(rows);
    assert_non_null(rp);
    for (i = 0; i < (size_t)w * h * (size_t)channels; i++) {
        if (depth == 16) {
            rows[i * 2] = px[i];
            rows[i * 2 + 1] = (uint8_t)(px[i] ^ 0x5A);
        } else {
            rows[i] = px[i];
        }
    }
    for (y = 0; y < h; y++) {
        rp[y] = rows + (size_t)y * w * bpp;
    }
    if (setjmp(png_jmpbuf(png)) != 0) {
        fail_msg("PNG encoding failed");
    }
    png_set_write_fn(png, out, on_png_write, on_png_flush);
    png_set_IHDR(png, info, w, h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rp);
    free(rows);
    free(px);
}

enum jpeg_kind { BASELINE, PROGRESSIVE, ARITHMETIC, RESTARTS, GRAY };

static void make_jpeg(uint32_t w, uint32_t h, enum jpeg_kind kind, struct sitx_buf *out)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long mem_len = 0;
    int channels = kind == GRAY ? 1 : 3;
    uint8_t *px = picture(w, h, channels);
    JSAMPROW row[1];

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &mem_len);
    c.image_width = w;
    c.image_height = h;
    c.input_components = channels;
    c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (kind == PROGRESSIVE) {
        jpeg_simple_progression(&c);
    } else if (kind == ARITHMETIC) {
        c.arith_code = TRUE;
    } else if (kind == RESTARTS) {
        c.restart_interval = 3;
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < h) {
        row[0] = px + (size_t)c.next_scanline * w * (size_t)channels;
        jpeg_write_scanlines(&c, row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    assert_int_equal(sitx_buf_append(out, mem, mem_len), 0);
    free(mem);
    free(px);
}

/* Streams buf in chunks of 1..max bytes (max 0: byte by byte). */
static int stream(const uint8_t *buf, size_t len, size_t max, struct sitx_image_info *info,
                  char *msg)
{
    struct sitx_image_validator *v = NULL;
    size_t off = 0;
    int rc = 0;

    assert_int_equal(sitx_image_validator_new(&v, NULL), 0);
    while (off < len && rc == 0) {
        size_t n = max == 0 ? 1 : 1 + rng() % max;

        n = n > len - off ? len - off : n;
        rc = sitx_image_validator_feed(v, buf + off, n);
        off += n;
    }
    if (rc == 0) {
        rc = sitx_image_validator_finish(v, info);
    }
    snprintf(msg, SITX_IMAGE_ERR_MAX, "%s", sitx_image_validator_errstr(v));
    sitx_image_validator_free(v);
    return rc;
}

/* Whole and streamed agree on buf[0..len). Returns the whole result. */
static int check_same(const uint8_t *buf, size_t len, size_t max)
{
    struct sitx_image_limits lim;
    struct sitx_image_info wi, si;
    char werr[SITX_IMAGE_ERR_MAX], serr[SITX_IMAGE_ERR_MAX];
    int wrc, src;

    sitx_image_limits_default(&lim);
    memset(&wi, 0, sizeof(wi));
    memset(&si, 0, sizeof(si));
    wrc = sitx_image_validate(buf, len, &lim, &wi, werr);
    src = stream(buf, len, max, &si, serr);
    if (wrc != src || (wrc != 0 && strcmp(werr, serr) != 0)) {
        fail_msg("len %zu chunks %zu: whole %d '%s', streamed %d '%s'", len, max, wrc, werr, src,
                 serr);
    }
    if (wrc == 0) {
        assert_memory_equal(&wi, &si, sizeof(wi));
    }
    return wrc;
}

/* Valid whole; the same at many chunkings; every prefix refused the same
 * way in both modes. */
static void check_image(const struct sitx_buf *img, enum sitx_image_format fmt)
{
    size_t sizes[] = {0, 1, 7, 100, 4096, 65536};
    size_t k;
    size_t cut;
    size_t step = img->len / 300 + 1;

    assert_int_equal(sitx_image_detect(img->data, img->len), fmt);
    assert_int_equal(check_same(img->data, img->len, 4096), 0);
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        assert_int_equal(check_same(img->data, img->len, sizes[k]), 0);
    }
    for (cut = 0; cut < img->len; cut += step) {
        /* A truncated file is refused; a JPEG cut in the two bytes of EOI
         * too ("Premature end"), a PNG cut in IEND too (no IEND). */
        assert_int_not_equal(check_same(img->data, cut, 1 + cut % 50), 0);
    }
    assert_int_not_equal(check_same(img->data, img->len - 1, 33), 0);
}

static void test_png_kinds(void **state)
{
    static const struct {
        int color, depth, interlace;
    } kinds[] = {
        {PNG_COLOR_TYPE_RGB, 8, 0},   {PNG_COLOR_TYPE_RGBA, 16, 1}, {PNG_COLOR_TYPE_GRAY, 8, 1},
        {PNG_COLOR_TYPE_GRAY, 16, 0}, {PNG_COLOR_TYPE_RGBA, 8, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct sitx_buf png;

        sitx_buf_init(&png);
        make_png(97, 61, kinds[i].color, kinds[i].depth, kinds[i].interlace, &png);
        check_image(&png, SITX_IMAGE_PNG);
        sitx_buf_clear(&png);
    }
}

static void test_jpeg_kinds(void **state)
{
    enum jpeg_kind kinds[] = {BASELINE, PROGRESSIVE, ARITHMETIC, RESTARTS, GRAY};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct sitx_buf jpg;

        sitx_buf_init(&jpg);
        make_jpeg(123, 77, kinds[i], &jpg);
        check_image(&jpg, SITX_IMAGE_JPEG);
        sitx_buf_clear(&jpg);
    }
}

/* Damaged bytes anywhere: both modes agree, whatever they decide. */
static void test_damage_agrees(void **state)
{
    struct sitx_buf jpg, png;
    size_t i;

    (void)state;
    sitx_buf_init(&jpg);
    sitx_buf_init(&png);
    make_jpeg(64, 48, PROGRESSIVE, &jpg);
    make_png(40, 30, PNG_COLOR_TYPE_RGB, 8, 1, &png);
    for (i = 0; i < 3000; i++) {
        struct sitx_buf *b = i % 2 ? &jpg : &png;
        size_t at = rng() % b->len;
        uint8_t old = b->data[at];

        b->data[at] ^= (uint8_t)(1 + rng() % 255);
        (void)check_same(b->data, b->len, 1 + rng() % 64);
        b->data[at] = old;
    }
    sitx_buf_clear(&jpg);
    sitx_buf_clear(&png);
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

/* A PNG whose IHDR promises more rows than its (complete, well-formed)
 * zlib stream holds: libpng's progressive reader would take it. */
static void test_png_short_image_data(void **state)
{
    struct sitx_buf png;
    struct sitx_image_limits lim;
    char err[SITX_IMAGE_ERR_MAX];
    uint8_t *px = NULL;
    uint32_t w, h, crc;
    int interlace;

    (void)state;
    sitx_image_limits_default(&lim);
    for (interlace = 0; interlace <= 1; interlace++) {
        sitx_buf_init(&png);
        make_png(20, 5, PNG_COLOR_TYPE_RGB, 8, interlace, &png);
        assert_int_equal(sitx_image_validate(png.data, png.len, &lim, NULL, err), 0);
        png.data[16 + 7] = 10; /* height 5 -> 10 in IHDR, CRC fixed */
        crc = crc32_png(png.data + 12, 17);
        png.data[29] = (uint8_t)(crc >> 24);
        png.data[30] = (uint8_t)(crc >> 16);
        png.data[31] = (uint8_t)(crc >> 8);
        png.data[32] = (uint8_t)crc;
        assert_int_equal(check_same(png.data, png.len, 10), SITX_E_BAD_IMAGE);
        assert_int_equal(sitx_image_validate(png.data, png.len, &lim, NULL, err), SITX_E_BAD_IMAGE);
        assert_non_null(strstr(err, "image data"));
        assert_int_not_equal(sitx_image_decode_rgba(png.data, png.len, &lim, &px, &w, &h, err), 0);
        assert_null(px);
        sitx_buf_clear(&png);
    }
}

/* FF FF 00 in entropy-coded data is refused (libjpeg-turbo's fast and slow
 * Huffman paths read it differently); fill bytes before a marker are fine. */
static void test_jpeg_fill_bytes(void **state)
{
    struct sitx_buf jpg, bad, fill;
    char err[SITX_IMAGE_ERR_MAX];
    size_t i, sos = 0;

    (void)state;
    sitx_buf_init(&jpg);
    sitx_buf_init(&bad);
    sitx_buf_init(&fill);
    make_jpeg(300, 200, BASELINE, &jpg);
    for (i = 2; i + 1 < jpg.len && sos == 0; i++) {
        sos = jpg.data[i] == 0xFF && jpg.data[i + 1] == 0xDA ? i : 0;
    }
    assert_true(sos > 0);
    for (i = sos + 14; i + 1 < jpg.len; i++) {
        if (jpg.data[i] == 0xFF && jpg.data[i + 1] == 0x00) {
            break;
        }
    }
    assert_true(i + 1 < jpg.len);
    assert_int_equal(sitx_buf_append(&bad, jpg.data, i + 1), 0);
    assert_int_equal(sitx_buf_append(&bad, jpg.data + i, jpg.len - i), 0);
    assert_int_equal(check_same(bad.data, bad.len, 50), SITX_E_BAD_IMAGE);
    assert_int_equal(sitx_image_validate(bad.data, bad.len, NULL, NULL, err), SITX_E_BAD_IMAGE);
    assert_non_null(strstr(err, "fill bytes"));
    /* Fill bytes before EOI are legal. */
    assert_int_equal(sitx_buf_append(&fill, jpg.data, jpg.len - 2), 0);
    assert_int_equal(sitx_buf_append(&fill, "\xFF\xFF\xFF\xFF\xD9", 5), 0);
    assert_int_equal(check_same(fill.data, fill.len, 50), 0);
    sitx_buf_clear(&jpg);
    sitx_buf_clear(&bad);
    sitx_buf_clear(&fill);
}

static void test_errors_stick(void **state)
{
    static const uint8_t junk[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x02, 0x00, 0x00};
    struct sitx_image_validator *v = NULL;
    char first[SITX_IMAGE_ERR_MAX];
    int rc;

    (void)state;
    assert_int_equal(sitx_image_validator_new(&v, NULL), 0);
    rc = sitx_image_validator_feed(v, junk, sizeof(junk));
    if (rc == 0) {
        rc = sitx_image_validator_finish(v, NULL);
    }
    assert_int_equal(rc, SITX_E_BAD_IMAGE);
    snprintf(first, sizeof(first), "%s", sitx_image_validator_errstr(v));
    assert_true(strncmp(first, "JPEG: ", 6) == 0);
    assert_int_equal(sitx_image_validator_feed(v, junk, sizeof(junk)), rc);
    assert_int_equal(sitx_image_validator_finish(v, NULL), rc);
    assert_string_equal(sitx_image_validator_errstr(v), first);
    sitx_image_validator_free(v);

    /* Unknown magic is refused at the first byte that rules both out. */
    assert_int_equal(sitx_image_validator_new(&v, NULL), 0);
    assert_int_equal(sitx_image_validator_feed(v, (const uint8_t *)"G", 1), SITX_E_UNSUPPORTED);
    assert_int_equal(sitx_image_validator_feed(v, (const uint8_t *)"IF", 2), SITX_E_UNSUPPORTED);
    assert_int_equal(sitx_image_validator_finish(v, NULL), SITX_E_UNSUPPORTED);
    assert_non_null(strstr(sitx_image_validator_errstr(v), "not a PNG or JPEG"));
    sitx_image_validator_free(v);

    /* Nothing fed at all. */
    assert_int_equal(sitx_image_validator_new(&v, NULL), 0);
    assert_int_equal(sitx_image_validator_finish(v, NULL), SITX_E_UNSUPPORTED);
    sitx_image_validator_free(v);
    sitx_image_validator_free(NULL);
}

/* A large baseline JPEG streamed in 1 KiB pieces: the bytes held back
 * between feeds stay a small window, not the file. */
static void test_jpeg_window_bounded(void **state)
{
    struct sitx_image_limits lim;
    struct sitx_jpeg_stream *s = NULL;
    struct sitx_image_ctl ctl;
    struct sitx_image_info info;
    struct sitx_buf jpg;
    size_t off, max_window = 0;

    (void)state;
    sitx_buf_init(&jpg);
    make_jpeg(2000, 1500, BASELINE, &jpg);
    assert_true(jpg.len > 400 * 1024);
    sitx_image_limits_default(&lim);
    memset(&ctl, 0, sizeof(ctl));
    assert_int_equal(sitx_jpeg_stream_new(&s, &lim, &ctl), 0);
    for (off = 0; off < jpg.len; off += 1024) {
        size_t n = jpg.len - off < 1024 ? jpg.len - off : 1024;
        size_t w;

        assert_int_equal(sitx_jpeg_stream_feed(s, jpg.data + off, n), 0);
        w = sitx_jpeg_stream_window(s);
        max_window = w > max_window ? w : max_window;
    }
    assert_int_equal(sitx_jpeg_stream_finish(s, &info), 0);
    assert_int_equal(info.width, 2000);
    sitx_jpeg_stream_free(s);
    printf("jpeg window: at most %zu bytes for a %zu-byte file\n", max_window, jpg.len);
    assert_true(max_window <= 128 * 1024);
    sitx_buf_clear(&jpg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_kinds),
        cmocka_unit_test(test_jpeg_kinds),
        cmocka_unit_test(test_damage_agrees),
        cmocka_unit_test(test_png_short_image_data),
        cmocka_unit_test(test_jpeg_fill_bytes),
        cmocka_unit_test(test_errors_stick),
        cmocka_unit_test(test_jpeg_window_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
