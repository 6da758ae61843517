/* Metadata stripping: a corpus JPEG given an EXIF with a GPS IFD and an
 * orientation, XMP, a comment, IPTC, an ICC profile and a trailer; a PNG
 * given text, time, EXIF, gamma and ICC chunks. Stripped output has none of
 * the private data, keeps the ICC profile and the orientation (as a
 * minimal EXIF) and, short of LOSSY, the same pixels. */
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
#include "testutil.h"

#define GPS_SECRET "SECRET-GPS-COORDS-4885N."
#define XMP_ID     "http://ns.adobe.com/xap/1.0/"
#define COMMENT    "private comment: do not send"
#define TRAILER    "TRAILING-SECRET-AFTER-EOI"

/* ---- building the tagged files ---- */

static void put16(struct sitx_buf *b, unsigned v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    assert_int_equal(sitx_buf_append(b, p, 2), 0);
}

static void put32(struct sitx_buf *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xFFFF);
}

static void put(struct sitx_buf *b, const void *p, size_t n)
{
    assert_int_equal(sitx_buf_append(b, p, n), 0);
}

/* Big-endian EXIF: IFD0 {orientation, GPS IFD pointer}, GPS IFD
 * {latitude ref "N", latitude 3 rationals holding GPS_SECRET}. */
static void exif_with_gps(struct sitx_buf *b, int orientation)
{
    put(b, "Exif\0\0MM\0\x2a", 10);
    put32(b, 8);
    put16(b, 2);
    put16(b, 0x0112); /* orientation, SHORT, 1, value */
    put16(b, 3);
    put32(b, 1);
    put16(b, (unsigned)orientation);
    put16(b, 0);
    put16(b, 0x8825); /* GPS IFD pointer, LONG, 1, offset 38 */
    put16(b, 4);
    put32(b, 1);
    put32(b, 38);
    put32(b, 0);
    put16(b, 2);      /* GPS IFD at 38 */
    put16(b, 0x0001); /* latitude ref, ASCII, 2, "N" */
    put16(b, 2);
    put32(b, 2);
    put(b, "N\0\0\0", 4);
    put16(b, 0x0002); /* latitude, RATIONAL, 3, at 68 */
    put16(b, 5);
    put32(b, 3);
    put32(b, 68);
    put32(b, 0);
    put(b, GPS_SECRET, 24); /* at 68 */
}

static void segment(struct sitx_buf *out, int marker, const void *data, size_t n)
{
    uint8_t m[2] = {0xFF, (uint8_t)marker};

    assert_true(n + 2 <= 65535);
    put(out, m, 2);
    put16(out, (unsigned)(n + 2));
    put(out, data, n);
}

/* The ICC profile of the corpus' libspng/misc/icc_profile.png. */
static void corpus_icc(uint8_t **icc, size_t *icc_len)
{
    struct sitx_image_pixels px;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct sitx_image_limits lim;
    char err[SITX_IMAGE_ERR_MAX];

    memset(&px, 0, sizeof(px));
    sitx_image_limits_default(&lim);
    assert_int_equal(tu_read_file(tu_corpus_path("png/libspng/misc/icc_profile.png"), &buf, &len),
                     0);
    assert_int_equal(sitx_png_decode_flat(buf, len, &lim, &px, err), 0);
    assert_non_null(px.icc);
    assert_true(px.icc_len > 128);
    *icc = px.icc;
    *icc_len = px.icc_len;
    px.icc = NULL;
    sitx_image_pixels_clear(&px);
    free(buf);
}

/* testorig.jpg with, after its JFIF APP0: EXIF+GPS, XMP, ICC, IPTC, a
 * comment; and a trailer after EOI. */
static void tagged_jpeg(struct sitx_buf *out, int orientation, const uint8_t *icc, size_t icc_len)
{
    struct sitx_buf exif = {0}, app2 = {0};
    uint8_t *orig = NULL;
    size_t len = 0, app0_len;

    assert_int_equal(tu_read_file(tu_corpus_path("jpeg/libjpeg-turbo/testorig.jpg"), &orig, &len),
                     0);
    assert_true(orig[2] == 0xFF && orig[3] == 0xE0); /* JFIF APP0 first */
    app0_len = 2 + ((size_t)orig[4] << 8 | orig[5]);
    out->len = 0;
    put(out, orig, 2 + app0_len);
    exif_with_gps(&exif, orientation);
    segment(out, 0xE1, exif.data, exif.len);
    segment(out, 0xE1, XMP_ID "\0<x:xmpmeta>creator: someone</x:xmpmeta>",
            sizeof(XMP_ID "\0<x:xmpmeta>creator: someone</x:xmpmeta>") - 1);
    put(&app2, "ICC_PROFILE\0\1\1", 14);
    put(&app2, icc, icc_len);
    segment(out, 0xE2, app2.data, app2.len);
    segment(out, 0xED, "Photoshop 3.0\0IPTC-BYLINE", 25);
    segment(out, 0xFE, COMMENT, sizeof(COMMENT) - 1);
    put(out, orig + 2 + app0_len, len - 2 - app0_len);
    put(out, TRAILER, sizeof(TRAILER) - 1);
    sitx_buf_clear(&exif);
    sitx_buf_clear(&app2);
    free(orig);
}

/* ---- checking ---- */

struct found {
    int exif_count;
    size_t exif_len;
    int orientation;
    int app_other; /* APPn other than JFIF, EXIF, ICC, Adobe */
    int com;
};

static void find_markers(const uint8_t *p, size_t len, struct found *f)
{
    size_t pos = 2;

    memset(f, 0, sizeof(*f));
    while (pos + 4 <= len && p[pos] == 0xFF && p[pos + 1] != 0xDA) {
        uint8_t m = p[pos + 1];
        size_t n = (size_t)p[pos + 2] << 8 | p[pos + 3];
        const uint8_t *d = p + pos + 4;

        assert_true(n >= 2 && pos + 2 + n <= len);
        if (m == 0xE1 && n - 2 >= 6 && memcmp(d, "Exif\0\0", 6) == 0) {
            f->exif_count++;
            f->exif_len = n - 2;
            f->orientation = sitx_exif_orientation(d, n - 2);
        } else if (m == 0xFE) {
            f->com++;
        } else if (m >= 0xE0 && m <= 0xEF && !(m == 0xE0 && memcmp(d, "JFIF", 4) == 0) &&
                   !(m == 0xE2 && memcmp(d, "ICC_PROFILE", 11) == 0) &&
                   !(m == 0xEE && memcmp(d, "Adobe", 5) == 0)) {
            f->app_other++;
        }
        pos += 2 + n;
    }
}

static int contains(const struct sitx_buf *b, const char *s)
{
    return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void assert_icc(const struct sitx_buf *jpg, const uint8_t *icc, size_t icc_len)
{
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr jerr;
    JOCTET *got = NULL;
    unsigned int got_len = 0;

    c.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, jpg->data, jpg->len);
    jpeg_save_markers(&c, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(&c, TRUE);
    assert_true(jpeg_read_icc_profile(&c, &got, &got_len));
    assert_int_equal(got_len, icc_len);
    assert_memory_equal(got, icc, icc_len);
    free(got);
    jpeg_destroy_decompress(&c);
}

static void assert_same_pixels(const struct sitx_buf *a, const struct sitx_buf *b)
{
    uint8_t *pa = NULL, *pb = NULL;
    uint32_t wa, ha, wb, hb;
    char err[SITX_IMAGE_ERR_MAX];

    assert_int_equal(sitx_image_decode_rgba(a->data, a->len, NULL, &pa, &wa, &ha, err), 0);
    assert_int_equal(sitx_image_decode_rgba(b->data, b->len, NULL, &pb, &wb, &hb, err), 0);
    assert_int_equal(wa, wb);
    assert_int_equal(ha, hb);
    assert_memory_equal(pa, pb, (size_t)wa * ha * 4);
    free(pa);
    free(pb);
}

static void strip(const struct sitx_buf *in, enum sitx_compress mode, int always,
                  struct sitx_buf *out)
{
    struct sitx_image_opts o;
    enum sitx_image_format fmt;
    char err[SITX_IMAGE_ERR_MAX];

    memset(&o, 0, sizeof(o));
    o.mode = mode;
    o.always = always;
    o.quality = 80;
    o.strip_metadata = 1;
    assert_int_equal(sitx_image_recompress(in->data, in->len, &o, out, &fmt, err), 0);
    assert_int_equal(fmt, SITX_IMAGE_JPEG);
    assert_true(out->len > 0);
    assert_int_equal(sitx_image_validate(out->data, out->len, NULL, NULL, err), 0);
}

/* ---- tests ---- */

static void test_exif_parse(void **state)
{
    static const uint8_t le[] = {'E',  'x',  'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
                                 0x12, 0x01, 3,   0,   1, 0, 0,   0,   8,  0, 0, 0, 0, 0, 0, 0};
    uint8_t buf[SITX_EXIF_MIN_LEN];
    uint8_t bad[sizeof(le)];
    size_t n;
    int o;

    (void)state;
    assert_int_equal(sitx_exif_orientation(le, sizeof(le)), 8);
    for (o = 1; o <= 8; o++) {
        n = sitx_exif_minimal(buf, o);
        assert_int_equal(n, SITX_EXIF_MIN_LEN);
        assert_int_equal(sitx_exif_orientation(buf, n), o);
    }
    /* Every truncation of a valid EXIF is harmless. */
    for (n = 0; n < sizeof(le); n++) {
        assert_int_equal(sitx_exif_orientation(le, n), n >= 28 ? 8 : 0);
    }
    memcpy(bad, le, sizeof(le));
    bad[10] = 0xF0; /* IFD offset past the end */
    assert_int_equal(sitx_exif_orientation(bad, sizeof(bad)), 0);
    memcpy(bad, le, sizeof(le));
    bad[14] = 0xFF; /* 255 entries */
    assert_int_equal(sitx_exif_orientation(bad, sizeof(bad)), 0);
    memcpy(bad, le, sizeof(le));
    bad[24] = 9; /* not an orientation */
    assert_int_equal(sitx_exif_orientation(bad, sizeof(bad)), 0);
    assert_int_equal(sitx_exif_orientation((const uint8_t *)"XMP", 3), 0);
}

static void test_jpeg_strip_all_modes(void **state)
{
    static const struct {
        enum sitx_compress mode;
        int always;
        int same_pixels;
    } modes[] = {
        {SITX_COMPRESS_NONE, 0, 1},
        {SITX_COMPRESS_LOSSLESS, 0, 1},
        {SITX_COMPRESS_LOSSLESS, 1, 1},
        {SITX_COMPRESS_LOSSY, 0, 0},
    };
    struct sitx_buf in = {0}, out = {0};
    uint8_t *icc = NULL;
    size_t icc_len = 0, i;
    struct found f;

    (void)state;
    corpus_icc(&icc, &icc_len);
    tagged_jpeg(&in, 6, icc, icc_len);
    /* The tagged input is a valid JPEG holding it all. */
    find_markers(in.data, in.len, &f);
    assert_int_equal(f.exif_count, 1);
    assert_true(f.exif_len > SITX_EXIF_MIN_LEN);
    assert_int_equal(f.orientation, 6);
    assert_int_equal(f.app_other, 2); /* XMP and IPTC */
    assert_int_equal(f.com, 1);
    assert_true(contains(&in, GPS_SECRET));
    assert_int_equal(
        sitx_image_validate(in.data, in.len, NULL, NULL, (char[SITX_IMAGE_ERR_MAX]){0}), 0);
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        strip(&in, modes[i].mode, modes[i].always, &out);
        assert_false(contains(&out, GPS_SECRET));
        assert_false(contains(&out, XMP_ID));
        assert_false(contains(&out, "xmpmeta"));
        assert_false(contains(&out, COMMENT));
        assert_false(contains(&out, "IPTC"));
        assert_false(contains(&out, TRAILER));
        find_markers(out.data, out.len, &f);
        assert_int_equal(f.exif_count, 1);
        assert_int_equal(f.exif_len, SITX_EXIF_MIN_LEN);
        assert_int_equal(f.orientation, 6);
        assert_int_equal(f.app_other, 0);
        assert_int_equal(f.com, 0);
        assert_icc(&out, icc, icc_len);
        if (modes[i].same_pixels) {
            assert_same_pixels(&in, &out);
        }
    }
    sitx_buf_clear(&in);
    sitx_buf_clear(&out);
    free(icc);
}

static void test_jpeg_strip_upright(void **state)
{
    struct sitx_buf in = {0}, out = {0};
    uint8_t *icc = NULL;
    size_t icc_len = 0;
    struct found f;

    (void)state;
    corpus_icc(&icc, &icc_len);
    tagged_jpeg(&in, 1, icc, icc_len);
    strip(&in, SITX_COMPRESS_LOSSLESS, 1, &out);
    find_markers(out.data, out.len, &f);
    assert_int_equal(f.exif_count, 0); /* orientation 1 needs no EXIF */
    assert_false(contains(&out, "Exif"));
    assert_icc(&out, icc, icc_len);
    assert_same_pixels(&in, &out);
    sitx_buf_clear(&in);
    sitx_buf_clear(&out);
    free(icc);
}

/* Without strip_metadata, nothing is dropped (so the test above is about
 * stripping, not about losing markers by accident). */
static void test_jpeg_kept_without_strip(void **state)
{
    struct sitx_buf in = {0}, out = {0};
    struct sitx_image_opts o;
    enum sitx_image_format fmt;
    char err[SITX_IMAGE_ERR_MAX];
    uint8_t *icc = NULL;
    size_t icc_len = 0;

    (void)state;
    corpus_icc(&icc, &icc_len);
    tagged_jpeg(&in, 6, icc, icc_len);
    memset(&o, 0, sizeof(o));
    o.mode = SITX_COMPRESS_LOSSLESS;
    o.always = 1;
    assert_int_equal(sitx_image_recompress(in.data, in.len, &o, &out, &fmt, err), 0);
    assert_true(out.len > 0);
    assert_true(contains(&out, GPS_SECRET));
    assert_true(contains(&out, XMP_ID));
    assert_true(contains(&out, COMMENT));
    assert_icc(&out, icc, icc_len);
    assert_same_pixels(&in, &out);
    sitx_buf_clear(&in);
    sitx_buf_clear(&out);
    free(icc);
}

static void on_png_write(png_structp png, png_bytep data, size_t n)
{
    assert_int_equal(sitx_buf_append(png_get_io_ptr(png), data, n), 0);
}

static void on_png_flush(png_structp png)
{
    (void)png;
}

/* A 32x16 RGB PNG with gAMA, iCCP, tEXt, zTXt, iTXt, tIME and eXIf. */
static void tagged_png(struct sitx_buf *out, const uint8_t *icc, size_t icc_len)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_text text[3];
    png_time when = {2024, 5, 6, 7, 8, 9};
    struct sitx_buf exif = {0};
    uint8_t row[32 * 3];
    int x, y;

    if (setjmp(png_jmpbuf(png)) != 0) {
        fail_msg("PNG encoding failed");
    }
    exif_with_gps(&exif, 3);
    memset(text, 0, sizeof(text));
    text[0].compression = PNG_TEXT_COMPRESSION_NONE;
    text[0].key = "Comment";
    text[0].text = COMMENT;
    text[1].compression = PNG_TEXT_COMPRESSION_zTXt;
    text[1].key = "Author";
    text[1].text = "someone private, zTXt";
    text[2].compression = PNG_ITXT_COMPRESSION_NONE;
    text[2].key = "Location";
    text[2].text = GPS_SECRET;
    png_set_write_fn(png, out, on_png_write, on_png_flush);
    png_set_IHDR(png, info, 32, 16, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_gAMA(png, info, 0.45455);
    png_set_iCCP(png, info, "test profile", 0, icc, (png_uint_32)icc_len);
    png_set_text(png, info, text, 3);
    png_set_tIME(png, info, &when);
    png_set_eXIf_1(png, info, (png_uint_32)exif.len - 6, exif.data + 6);
    png_write_info(png, info);
    for (y = 0; y < 16; y++) {
        for (x = 0; x < 32 * 3; x++) {
            row[x] = (uint8_t)(x * 5 + y * 11);
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    sitx_buf_clear(&exif);
}

static int has_chunk(const struct sitx_buf *b, const char *type)
{
    size_t pos = 8;

    while (pos + 12 <= b->len) {
        uint32_t n = (uint32_t)b->data[pos] << 24 | (uint32_t)b->data[pos + 1] << 16 |
                     (uint32_t)b->data[pos + 2] << 8 | b->data[pos + 3];

        if (memcmp(b->data + pos + 4, type, 4) == 0) {
            return 1;
        }
        pos += 12 + (size_t)n;
    }
    return 0;
}

static void test_png_strip(void **state)
{
    static const char *dropped[] = {"tEXt", "zTXt", "iTXt", "tIME", "eXIf"};
    struct sitx_buf in = {0}, out = {0};
    struct sitx_image_opts o;
    enum sitx_image_format fmt;
    char err[SITX_IMAGE_ERR_MAX];
    uint8_t *icc = NULL;
    size_t icc_len = 0, i;
    int always;

    (void)state;
    corpus_icc(&icc, &icc_len);
    tagged_png(&in, icc, icc_len);
    for (i = 0; i < 5; i++) {
        assert_true(has_chunk(&in, dropped[i]));
    }
    for (always = 0; always <= 1; always++) {
        memset(&o, 0, sizeof(o));
        o.mode = SITX_COMPRESS_LOSSLESS;
        o.always = always;
        o.strip_metadata = 1;
        assert_int_equal(sitx_image_recompress(in.data, in.len, &o, &out, &fmt, err), 0);
        assert_int_equal(fmt, SITX_IMAGE_PNG);
        assert_true(out.len > 0);
        for (i = 0; i < 5; i++) {
            assert_false(has_chunk(&out, dropped[i]));
        }
        assert_true(has_chunk(&out, "iCCP"));
        assert_true(has_chunk(&out, "gAMA"));
        assert_false(contains(&out, COMMENT));
        assert_false(contains(&out, GPS_SECRET));
        assert_same_pixels(&in, &out);
    }
    sitx_buf_clear(&in);
    sitx_buf_clear(&out);
    free(icc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exif_parse),
        cmocka_unit_test(test_jpeg_strip_all_modes),
        cmocka_unit_test(test_jpeg_strip_upright),
        cmocka_unit_test(test_jpeg_kept_without_strip),
        cmocka_unit_test(test_png_strip),
    };

    tu_corpus_dir_or_skip();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
