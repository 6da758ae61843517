/* Recompression: LOSSLESS output decodes to exactly the same pixels (RGBA
 * for every valid corpus image; for PNG also the raw samples, 16-bit
 * included) and is never larger; the "does it pay" rule; LOSSY output. */
#include <dirent.h>
#include <malloc.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jpeglib.h>

#include "err.h"
#include "image.h"
#include "secmem.h"
#include "testutil.h"

/* ---- helpers ---- */

static uint8_t *picture(uint32_t w, uint32_t h, int channels, uint32_t seed)
{
    uint8_t *px = malloc((size_t)w * h * (size_t)channels);
    size_t i;

    assert_non_null(px);
    for (i = 0; i < (size_t)w * h * (size_t)channels; i++) {
        size_t p = i / (size_t)channels;

        seed = seed * 1103515245u + 12345u;
        px[i] = (uint8_t)((p % w) * 200 / w + (p / w) * 50 / h + (seed >> 16) % 13);
    }
    return px;
}

/* A JPEG with libjpeg's standard Huffman tables (optimize off), as cameras
 * write them. */
static void std_jpeg(uint32_t w, uint32_t h, int channels, int quality, struct sitx_buf *out)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long mem_len = 0;
    uint8_t *px = picture(w, h, channels, w + h);
    JSAMPROW row[1];

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &mem_len);
    c.image_width = w;
    c.image_height = h;
    c.input_components = channels;
    c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < h) {
        row[0] = px + (size_t)c.next_scanline * w * (size_t)channels;
        jpeg_write_scanlines(&c, row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    out->len = 0;
    assert_int_equal(sitx_buf_append(out, mem, mem_len), 0);
    free(mem);
    free(px);
}

static void on_png_write(png_structp png, png_bytep data, size_t n)
{
    assert_int_equal(sitx_buf_append(png_get_io_ptr(png), data, n), 0);
}

static void on_png_flush(png_structp png)
{
    (void)png;
}

/* An RGB or RGBA PNG at the given zlib level. */
static void make_png(uint32_t w, uint32_t h, int alpha, int level, struct sitx_buf *out)
{
    int channels = alpha ? 4 : 3;
    uint8_t *px = picture(w, h, channels, 7);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    uint32_t y;

    if (alpha) {
        px[3] = 0; /* the first pixel fully transparent */
        px[7] = 255;
    }
    if (setjmp(png_jmpbuf(png)) != 0) {
        fail_msg("PNG encoding failed");
    }
    out->len = 0;
    png_set_write_fn(png, out, on_png_write, on_png_flush);
    png_set_IHDR(png, info, w, h, 8, alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, level);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_write_info(png, info);
    for (y = 0; y < h; y++) {
        png_write_row(png, px + (size_t)y * w * (size_t)channels);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(px);
}

struct mem_reader {
    const uint8_t *p;
    size_t len, pos;
};

static void on_png_read(png_structp png, png_bytep out, size_t n)
{
    struct mem_reader *r = png_get_io_ptr(png);

    if (n > r->len - r->pos) {
        png_error(png, "short");
    }
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
}

/* Raw samples (no transforms, 16 bits kept) and the IHDR fields as text. */
static uint8_t *png_raw(const uint8_t *buf, size_t len, size_t *n, char *desc)
{
    struct mem_reader r = {buf, len, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    uint8_t *raw = NULL;
    png_bytep *rows = NULL;
    uint32_t y, h;
    size_t rb;

    if (setjmp(png_jmpbuf(png)) != 0) {
        fail_msg("PNG raw decoding failed");
    }
    png_set_read_fn(png, &r, on_png_read);
    png_read_info(png, info);
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);
    h = png_get_image_height(png, info);
    rb = png_get_rowbytes(png, info);
    sprintf(desc, "%ux%u depth %d type %d", (unsigned)png_get_image_width(png, info), (unsigned)h,
            png_get_bit_depth(png, info), png_get_color_type(png, info));
    /* Zeroed: libpng leaves the padding bits of sub-byte rows as they were. */
    raw = calloc(1, rb * h + 1);
    rows = malloc(sizeof(*rows) * h + 1);
    assert_non_null(raw);
    assert_non_null(rows);
    for (y = 0; y < h; y++) {
        rows[y] = raw + (size_t)y * rb;
    }
    png_read_image(png, rows);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *n = rb * h;
    return raw;
}

static void assert_same_pixels(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint8_t *pa = NULL, *pb = NULL;
    uint32_t wa, ha, wb, hb;
    char err[SITX_IMAGE_ERR_MAX];

    assert_int_equal(sitx_image_decode_rgba(a, alen, NULL, &pa, &wa, &ha, err), 0);
    assert_int_equal(sitx_image_decode_rgba(b, blen, NULL, &pb, &wb, &hb, err), 0);
    assert_int_equal(wa, wb);
    assert_int_equal(ha, hb);
    assert_memory_equal(pa, pb, (size_t)wa * ha * 4);
    free(pa);
    free(pb);
    if (sitx_image_detect(a, alen) == SITX_IMAGE_PNG) {
        char da[96], db[96];
        size_t na, nb;
        uint8_t *ra = png_raw(a, alen, &na, da);
        uint8_t *rb = png_raw(b, blen, &nb, db);

        assert_string_equal(da, db);
        assert_int_equal(na, nb);
        assert_memory_equal(ra, rb, na);
        free(ra);
        free(rb);
    }
}

static int recompress(const struct sitx_buf *in, enum sitx_compress mode, int always, uint64_t link,
                      struct sitx_buf *out, enum sitx_image_format *fmt)
{
    struct sitx_image_opts o;
    char err[SITX_IMAGE_ERR_MAX];
    int rc;

    memset(&o, 0, sizeof(o));
    o.mode = mode;
    o.always = always;
    o.quality = 85;
    o.link_bytes_per_sec = link;
    rc = sitx_image_recompress(in->data, in->len, &o, out, fmt, err);
    if (rc != 0) {
        assert_true(err[0] != '\0');
    }
    return rc;
}

/* ---- tests ---- */

static void walk(const char *dir, char **files, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;

        if (de->d_name[0] == '.') {
            continue;
        }
        assert_true(snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path));
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            walk(path, files, n);
        } else if (*n < 1024) {
            files[(*n)++] = strdup(path);
        }
    }
    closedir(d);
}

static void test_lossless_corpus(void **state)
{
    static char *files[1024];
    size_t n = 0, i;
    unsigned valid = 0, smaller = 0, stripped = 0;
    uint64_t before = 0, after = 0;
    struct sitx_image_limits lim;

    (void)state;
    sitx_image_limits_default(&lim);
    walk(tu_corpus_path("png"), files, &n);
    walk(tu_corpus_path("jpeg"), files, &n);
    for (i = 0; i < n; i++) {
        struct sitx_buf in = {0}, out = {0};
        struct sitx_image_opts o;
        enum sitx_image_format fmt;
        char err[SITX_IMAGE_ERR_MAX];

        assert_int_equal(tu_read_file(files[i], &in.data, &in.len), 0);
        if (sitx_image_validate(in.data, in.len, &lim, NULL, err) != 0) {
            free(in.data);
            free(files[i]);
            continue;
        }
        valid++;
        if (recompress(&in, SITX_COMPRESS_LOSSLESS, 1, 0, &out, &fmt) != 0) {
            fail_msg("%s: lossless failed", files[i]);
        }
        assert_int_equal(fmt, sitx_image_detect(in.data, in.len));
        before += in.len;
        after += out.len > 0 ? out.len : in.len;
        if (out.len > 0) {
            assert_true(out.len < in.len);
            assert_int_equal(sitx_image_validate(out.data, out.len, &lim, NULL, err), 0);
            assert_same_pixels(in.data, in.len, out.data, out.len);
            smaller++;
        }
        /* Stripping keeps the pixels too, and always yields a new file. */
        memset(&o, 0, sizeof(o));
        o.mode = SITX_COMPRESS_LOSSLESS;
        o.strip_metadata = 1;
        assert_int_equal(sitx_image_recompress(in.data, in.len, &o, &out, &fmt, err), 0);
        if (out.len > 0) {
            assert_same_pixels(in.data, in.len, out.data, out.len);
            stripped++;
        }
        sitx_buf_clear(&out);
        free(in.data);
        free(files[i]);
    }
    printf("lossless: %u valid corpus images, %u made smaller (%llu -> %llu bytes), "
           "%u stripped\n",
           valid, smaller, (unsigned long long)before, (unsigned long long)after, stripped);
    assert_true(valid > 300);
    /* Many PngSuite files are tiny and already tight; most JPEGs shrink. */
    assert_true(smaller > valid / 4);
    assert_true(after < before);
    assert_int_equal(stripped, valid);
}

/* Lossless output is a function of the input alone: whatever the heap held
 * before, the same file gives the same bytes. glibc's M_PERTURB fills every
 * fresh allocation with a chosen byte, so bytes that the encoder read without
 * anyone writing them (the padding bits of sub-byte PNG rows, say) would
 * differ between the two runs. ASan fills allocations with its own constant
 * and ignores M_PERTURB; the Release build and valgrind catch it there. */
static void test_lossless_deterministic(void **state)
{
    static char *files[1024];
    size_t n = 0, i;
    unsigned compared = 0;
    struct sitx_image_limits lim;

    (void)state;
    sitx_image_limits_default(&lim);
    walk(tu_corpus_path("png"), files, &n);
    walk(tu_corpus_path("jpeg"), files, &n);
    for (i = 0; i < n; i++) {
        struct sitx_buf in = {0}, a = {0}, b = {0};
        enum sitx_image_format fmt;
        char err[SITX_IMAGE_ERR_MAX];

        assert_int_equal(tu_read_file(files[i], &in.data, &in.len), 0);
        if (sitx_image_validate(in.data, in.len, &lim, NULL, err) == 0) {
            /* mallopt is glibc's; ASan's allocator answers 0 and ignores it. */
            (void)mallopt(M_PERTURB, 0x5a);
            assert_int_equal(recompress(&in, SITX_COMPRESS_LOSSLESS, 1, 0, &a, &fmt), 0);
            (void)mallopt(M_PERTURB, 0xa5);
            assert_int_equal(recompress(&in, SITX_COMPRESS_LOSSLESS, 1, 0, &b, &fmt), 0);
            (void)mallopt(M_PERTURB, 0);
            if (a.len != b.len || (a.len > 0 && memcmp(a.data, b.data, a.len) != 0)) {
                fail_msg("%s: lossless output depends on the heap's old contents", files[i]);
            }
            compared++;
        }
        sitx_buf_clear(&a);
        sitx_buf_clear(&b);
        free(in.data);
        free(files[i]);
    }
    printf("deterministic: %u corpus images recompressed twice, same bytes\n", compared);
    assert_true(compared > 300);
}

static void test_lossless_generated_jpeg(void **state)
{
    struct sitx_buf in = {0}, out = {0};
    enum sitx_image_format fmt;
    int channels;

    (void)state;
    for (channels = 1; channels <= 3; channels += 2) {
        std_jpeg(333, 222, channels, 92, &in);
        assert_int_equal(recompress(&in, SITX_COMPRESS_LOSSLESS, 1, 0, &out, &fmt), 0);
        assert_int_equal(fmt, SITX_IMAGE_JPEG);
        assert_true(out.len > 0 && out.len < in.len);
        assert_same_pixels(in.data, in.len, out.data, out.len);
    }
    sitx_buf_clear(&in);
    sitx_buf_clear(&out);
}

static void test_lossless_generated_png(void **state)
{
    struct sitx_buf in = {0}, out = {0};
    enum sitx_image_format fmt;

    (void)state;
    make_png(300, 200, 1, 1, &in);
    assert_int_equal(recompress(&in, SITX_COMPRESS_LOSSLESS, 1, 0, &out, &fmt), 0);
    assert_int_equal(fmt, SITX_IMAGE_PNG);
    assert_true(out.len > 0 && out.len < in.len);
    assert_same_pixels(in.data, in.len, out.data, out.len);
    sitx_buf_clear(&in);
    sitx_buf_clear(&out);
}

static void test_default_pays_rule(void **state)
{
    struct sitx_buf jpg = {0}, png = {0}, opt = {0}, out = {0};
    enum sitx_image_format fmt;

    (void)state;
    std_jpeg(640, 480, 3, 90, &jpg);
    make_png(300, 200, 0, 1, &png);
    /* Unknown link (taken as fast, as loopback): the original is sent. */
    assert_int_equal(recompress(&jpg, SITX_COMPRESS_LOSSLESS, 0, 0, &out, &fmt), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(recompress(&png, SITX_COMPRESS_LOSSLESS, 0, 0, &out, &fmt), 0);
    assert_int_equal(out.len, 0);
    /* A fast LAN: still not worth the CPU. */
    assert_int_equal(recompress(&jpg, SITX_COMPRESS_LOSSLESS, 0, 100u * 1000 * 1000, &out, &fmt),
                     0);
    assert_int_equal(out.len, 0);
    /* A slow uplink (100 kB/s): it pays. */
    assert_int_equal(recompress(&jpg, SITX_COMPRESS_LOSSLESS, 0, 100 * 1000, &out, &fmt), 0);
    assert_true(out.len > 0 && out.len < jpg.len);
    assert_int_equal(recompress(&png, SITX_COMPRESS_LOSSLESS, 0, 100 * 1000, &out, &fmt), 0);
    assert_true(out.len > 0 && out.len < png.len);
    /* Already optimised tables: skipped even on a slow link. */
    assert_int_equal(recompress(&jpg, SITX_COMPRESS_LOSSLESS, 1, 0, &opt, &fmt), 0);
    assert_true(opt.len > 0);
    assert_int_equal(recompress(&opt, SITX_COMPRESS_LOSSLESS, 0, 100 * 1000, &out, &fmt), 0);
    assert_int_equal(out.len, 0);
    /* NONE never touches the bytes. */
    assert_int_equal(recompress(&jpg, SITX_COMPRESS_NONE, 1, 100 * 1000, &out, &fmt), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(fmt, SITX_IMAGE_JPEG);
    sitx_buf_clear(&jpg);
    sitx_buf_clear(&png);
    sitx_buf_clear(&opt);
    sitx_buf_clear(&out);
}

static void test_lossy(void **state)
{
    struct sitx_buf png = {0}, jpg = {0}, out = {0}, out2 = {0};
    struct sitx_image_opts o;
    struct sitx_image_info info;
    enum sitx_image_format fmt;
    char err[SITX_IMAGE_ERR_MAX];
    uint8_t *px = NULL;
    uint32_t w, h;

    (void)state;
    make_png(256, 128, 1, 9, &png);
    memset(&o, 0, sizeof(o));
    o.mode = SITX_COMPRESS_LOSSY;
    o.quality = 90;
    assert_int_equal(sitx_image_recompress(png.data, png.len, &o, &out, &fmt, err), 0);
    assert_int_equal(fmt, SITX_IMAGE_JPEG);
    assert_true(out.len > 0 && out.len < png.len);
    assert_int_equal(sitx_image_validate(out.data, out.len, NULL, &info, err), 0);
    assert_int_equal(info.format, SITX_IMAGE_JPEG);
    assert_int_equal(info.width, 256);
    assert_int_equal(info.height, 128);
    /* The transparent first pixel came out white (give or take JPEG). */
    assert_int_equal(sitx_image_decode_rgba(out.data, out.len, NULL, &px, &w, &h, err), 0);
    assert_true(px[0] > 200 && px[1] > 200 && px[2] > 200);
    free(px);
    /* Lower quality, smaller file; 0 means the default 85. */
    o.quality = 30;
    assert_int_equal(sitx_image_recompress(png.data, png.len, &o, &out2, &fmt, err), 0);
    assert_true(out2.len > 0 && out2.len < out.len);
    o.quality = 0;
    assert_int_equal(sitx_image_recompress(png.data, png.len, &o, &out2, &fmt, err), 0);
    assert_true(out2.len > 0);
    /* Re-encoding a small q30 JPEG at q95 would grow it: the original stays. */
    std_jpeg(200, 150, 3, 30, &jpg);
    o.quality = 95;
    assert_int_equal(sitx_image_recompress(jpg.data, jpg.len, &o, &out, &fmt, err), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(fmt, SITX_IMAGE_JPEG);
    o.quality = 101;
    assert_int_equal(sitx_image_recompress(jpg.data, jpg.len, &o, &out, &fmt, err), SITX_E_INVALID);
    sitx_buf_clear(&png);
    sitx_buf_clear(&jpg);
    sitx_buf_clear(&out);
    sitx_buf_clear(&out2);
}

static void test_errors(void **state)
{
    static const uint8_t gif[] = "GIF89a....";
    struct sitx_buf jpg = {0}, out = {0};
    struct sitx_image_opts o;
    enum sitx_image_format fmt;
    char err[SITX_IMAGE_ERR_MAX];

    (void)state;
    memset(&o, 0, sizeof(o));
    o.mode = SITX_COMPRESS_LOSSLESS;
    o.always = 1;
    assert_int_equal(sitx_image_recompress(gif, sizeof(gif), &o, &out, &fmt, err),
                     SITX_E_UNSUPPORTED);
    assert_int_equal(fmt, SITX_IMAGE_UNKNOWN);
    /* Truncated: the transcoder refuses it like the validator. */
    std_jpeg(100, 100, 3, 90, &jpg);
    jpg.len /= 2;
    assert_int_equal(sitx_image_recompress(jpg.data, jpg.len, &o, &out, &fmt, err),
                     SITX_E_BAD_IMAGE);
    assert_non_null(strstr(err, "JPEG"));
    assert_int_equal(out.len, 0);
    o.mode = SITX_COMPRESS_LOSSY;
    assert_int_equal(sitx_image_recompress(jpg.data, jpg.len, &o, &out, &fmt, err),
                     SITX_E_BAD_IMAGE);
    sitx_buf_clear(&jpg);
    sitx_buf_clear(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lossless_corpus),
        cmocka_unit_test(test_lossless_deterministic),
        cmocka_unit_test(test_lossless_generated_jpeg),
        cmocka_unit_test(test_lossless_generated_png),
        cmocka_unit_test(test_default_pays_rule),
        cmocka_unit_test(test_lossy),
        cmocka_unit_test(test_errors),
    };

    tu_corpus_dir_or_skip();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
