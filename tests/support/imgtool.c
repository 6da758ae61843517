/* sitx-imgtool: images for the end-to-end tests and benchmarks.
 *
 *   gen-png OUT WIDTH HEIGHT [SEED]            photo-like RGB PNG (gradients + noise)
 *   gen-jpeg OUT WIDTH HEIGHT [QUALITY] [SEED] the same picture as a baseline JPEG
 *   same-pixels A B     exit 0 when both decode to the same RGBA, 1 if not, 2 on error
 *   info FILE           prints "FORMAT WxH" of a valid image
 *   validate FILE       exit 0 and "ok", or 1 and the reason
 *   validate-full FILE  the same through the streaming path alone (no shortcut)
 *   recompress IN OUT MODE [strip]   MODE: none, lossless, lossless-always, lossy[:Q]
 *   bomb ztxt|pixels|scans|arith OUT [...]   crafted images (imgbomb.c)
 *
 * Output is deterministic for given arguments. */
#include <errno.h>
#include <inttypes.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>

#include "err.h"
#include "image.h"
#include "imgbomb.h"
#include "secmem.h"

enum { EXIT_SAME = 0, EXIT_DIFFERENT = 1, EXIT_TROUBLE = 2 };

static int usage(void)
{
    fprintf(stderr,
            "usage: sitx-imgtool gen-png OUT WIDTH HEIGHT [SEED]\n"
            "       sitx-imgtool gen-jpeg OUT WIDTH HEIGHT [QUALITY] [SEED]\n"
            "       sitx-imgtool same-pixels A B\n"
            "       sitx-imgtool info FILE\n"
            "       sitx-imgtool validate FILE\n"
            "       sitx-imgtool validate-full FILE\n"
            "       sitx-imgtool recompress IN OUT none|lossless|lossless-always|lossy[:Q] "
            "[strip]\n"
            "       sitx-imgtool bench validate|none|lossless|lossless-always|lossy[:Q] "
            "FILE...\n"
            "       sitx-imgtool bomb ztxt OUT [CHUNKS]\n"
            "       sitx-imgtool bomb pixels OUT [W H [gray1]]\n"
            "       sitx-imgtool bomb scans OUT [W H [SCANS]]\n"
            "       sitx-imgtool bomb arith OUT [W H [NOISE]]\n");
    return EXIT_TROUBLE;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "sitx-imgtool: `%s' is not a number in %u..%u\n", s, (unsigned)min,
                (unsigned)max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Smooth light and colour changes with sensor-like noise: compresses like a
 * photo, unlike flat colour or pure noise. */
static uint8_t *make_picture(uint32_t w, uint32_t h, uint32_t seed)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    uint64_t st = 0x2545F4914F6CDD1Dull ^ ((uint64_t)seed * 0x9E3779B97F4A7C15ull);
    uint32_t x, y;

    if (px == NULL) {
        return NULL;
    }
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 3;
            int base[3];
            int c;

            base[0] = (int)(x * 200 / w) + 30 + (int)((y / 37 + seed) % 5) * 4;
            base[1] = (int)(y * 180 / h) + 40 + (int)(((x + y) / 53) % 7) * 3;
            base[2] = 220 - (int)((x + y) * 150 / (w + h)) + (int)((x / 29) % 3) * 5;
            for (c = 0; c < 3; c++) {
                int v;

                st ^= st << 13;
                st ^= st >> 7;
                st ^= st << 17;
                v = base[c] + (int)(st % 17) - 8;
                p[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    return px;
}

static int gen_png(const char *out, uint32_t w, uint32_t h, uint32_t seed)
{
    uint8_t *px = make_picture(w, h, seed);
    png_structp png = NULL;
    png_infop info = NULL;
    FILE *f = NULL;
    uint32_t y;
    int rc = EXIT_TROUBLE;

    if (px == NULL) {
        fprintf(stderr, "sitx-imgtool: out of memory\n");
        return EXIT_TROUBLE;
    }
    f = fopen(out, "wb");
    if (f == NULL) {
        fprintf(stderr, "sitx-imgtool: cannot write %s: %s\n", out, strerror(errno));
        goto out;
    }
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    info = png != NULL ? png_create_info_struct(png) : NULL;
    if (info == NULL || setjmp(png_jmpbuf(png)) != 0) {
        fprintf(stderr, "sitx-imgtool: PNG encoding failed\n");
        goto out;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (y = 0; y < h; y++) {
        png_write_row(png, px + (size_t)y * w * 3);
    }
    png_write_end(png, NULL);
    rc = 0;
out:
    png_destroy_write_struct(&png, &info);
    if (f != NULL && fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "sitx-imgtool: cannot write %s: %s\n", out, strerror(errno));
        rc = EXIT_TROUBLE;
    }
    free(px);
    return rc;
}

/* libjpeg's default error manager exits on error, which a tool may do. */
static int gen_jpeg(const char *out, uint32_t w, uint32_t h, int quality, uint32_t seed)
{
    uint8_t *px = make_picture(w, h, seed);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    JSAMPROW row[1];
    FILE *f;

    if (px == NULL) {
        fprintf(stderr, "sitx-imgtool: out of memory\n");
        return EXIT_TROUBLE;
    }
    f = fopen(out, "wb");
    if (f == NULL) {
        fprintf(stderr, "sitx-imgtool: cannot write %s: %s\n", out, strerror(errno));
        free(px);
        return EXIT_TROUBLE;
    }
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        row[0] = px + (size_t)c.next_scanline * w * 3;
        jpeg_write_scanlines(&c, row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(px);
    if (fclose(f) != 0) {
        fprintf(stderr, "sitx-imgtool: cannot write %s: %s\n", out, strerror(errno));
        return EXIT_TROUBLE;
    }
    return 0;
}

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;

    if (f == NULL) {
        fprintf(stderr, "sitx-imgtool: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t got;

        if (cap - n < 65536) {
            uint8_t *p = realloc(b, cap * 2 + 65536);

            if (p == NULL) {
                free(b);
                fclose(f);
                fprintf(stderr, "sitx-imgtool: out of memory reading %s\n", path);
                return -1;
            }
            b = p;
            cap = cap * 2 + 65536;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "sitx-imgtool: cannot read %s\n", path);
        free(b);
        fclose(f);
        return -1;
    }
    fclose(f);
    *buf = b;
    *len = n;
    return 0;
}

static int decode(const char *path, uint8_t **px, uint32_t *w, uint32_t *h)
{
    char err[SITX_IMAGE_ERR_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (read_all(path, &buf, &len) != 0) {
        return -1;
    }
    rc = sitx_image_decode_rgba(buf, len, NULL, px, w, h, err);
    free(buf);
    if (rc != 0) {
        fprintf(stderr, "sitx-imgtool: %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

static int same_pixels(const char *a, const char *b)
{
    uint8_t *pa = NULL, *pb = NULL;
    uint32_t wa = 0, ha = 0, wb = 0, hb = 0;
    int rc = EXIT_TROUBLE;

    if (decode(a, &pa, &wa, &ha) != 0 || decode(b, &pb, &wb, &hb) != 0) {
        goto out;
    }
    if (wa != wb || ha != hb) {
        printf("different: %ux%u vs %ux%u\n", (unsigned)wa, (unsigned)ha, (unsigned)wb,
               (unsigned)hb);
        rc = EXIT_DIFFERENT;
    } else if (memcmp(pa, pb, (size_t)wa * ha * 4) != 0) {
        size_t i = 0;

        while (pa[i] == pb[i]) {
            i++;
        }
        printf("different: first at pixel (%zu, %zu)\n", (i / 4) % wa, (i / 4) / wa);
        rc = EXIT_DIFFERENT;
    } else {
        printf("same: %ux%u\n", (unsigned)wa, (unsigned)ha);
        rc = EXIT_SAME;
    }
out:
    free(pa);
    free(pb);
    return rc;
}

static int validate(const char *path, int print_info)
{
    struct sitx_image_limits lim;
    struct sitx_image_info info;
    char err[SITX_IMAGE_ERR_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (read_all(path, &buf, &len) != 0) {
        return EXIT_TROUBLE;
    }
    sitx_image_limits_default(&lim);
    rc = sitx_image_validate(buf, len, &lim, &info, err);
    free(buf);
    if (rc != 0) {
        printf("%s: %s\n", path, err);
        return 1;
    }
    if (print_info) {
        printf("%s %ux%u\n", sitx_image_format_name(info.format), (unsigned)info.width,
               (unsigned)info.height);
    } else {
        printf("ok\n");
    }
    return 0;
}

/* The streaming validator with no reread source, so a PNG never takes the
 * shortcut: the verdict the shortcut must agree with. */
static int validate_full(const char *path)
{
    struct sitx_image_validator *v = NULL;
    struct sitx_image_info info;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (read_all(path, &buf, &len) != 0) {
        return EXIT_TROUBLE;
    }
    if (sitx_image_validator_new(&v, NULL) != 0) {
        free(buf);
        return EXIT_TROUBLE;
    }
    rc = sitx_image_validator_feed(v, buf, len);
    if (rc == 0) {
        rc = sitx_image_validator_finish(v, &info);
    }
    if (rc != 0) {
        printf("%s: %s\n", path, sitx_image_validator_errstr(v));
    } else {
        printf("ok\n");
    }
    sitx_image_validator_free(v);
    free(buf);
    return rc != 0;
}

/* "none", "lossless", "lossless-always" or "lossy[:Q]" into opts. */
static int parse_mode(const char *mode, struct sitx_image_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->quality = 85;
    if (strcmp(mode, "none") == 0) {
        opts->mode = SITX_COMPRESS_NONE;
    } else if (strcmp(mode, "lossless") == 0) {
        opts->mode = SITX_COMPRESS_LOSSLESS;
    } else if (strcmp(mode, "lossless-always") == 0) {
        opts->mode = SITX_COMPRESS_LOSSLESS;
        opts->always = 1;
    } else if (strncmp(mode, "lossy", 5) == 0 && (mode[5] == '\0' || mode[5] == ':')) {
        uint32_t q = 85;

        if (mode[5] == ':' && parse_u32(mode + 6, 1, 100, &q) != 0) {
            return -1;
        }
        opts->mode = SITX_COMPRESS_LOSSY;
        opts->quality = (int)q;
    } else {
        return -1;
    }
    return 0;
}

static int recompress(int argc, char **argv)
{
    struct sitx_image_opts opts;
    struct sitx_buf out;
    enum sitx_image_format fmt = SITX_IMAGE_UNKNOWN;
    char err[SITX_IMAGE_ERR_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *mode = argv[4];
    FILE *f;
    int rc;

    if (parse_mode(mode, &opts) != 0) {
        return usage();
    }
    opts.strip_metadata = argc > 5 && strcmp(argv[5], "strip") == 0;
    if (read_all(argv[2], &buf, &len) != 0) {
        return EXIT_TROUBLE;
    }
    sitx_buf_init(&out);
    rc = sitx_image_recompress(buf, len, &opts, &out, &fmt, err);
    if (rc != 0) {
        fprintf(stderr, "sitx-imgtool: %s: %s\n", argv[2], err);
        free(buf);
        sitx_buf_clear(&out);
        return 1;
    }
    f = fopen(argv[3], "wb");
    if (f == NULL || fwrite(out.len > 0 ? out.data : buf, 1, out.len > 0 ? out.len : len, f) !=
                         (out.len > 0 ? out.len : len)) {
        fprintf(stderr, "sitx-imgtool: cannot write %s\n", argv[3]);
        rc = EXIT_TROUBLE;
    }
    if (f != NULL && fclose(f) != 0) {
        rc = EXIT_TROUBLE;
    }
    printf("%s %zu -> %zu bytes%s\n", sitx_image_format_name(fmt), len, out.len > 0 ? out.len : len,
           out.len > 0 ? "" : " (original kept)");
    free(buf);
    sitx_buf_clear(&out);
    return rc;
}

static double now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* bench validate|MODE FILE...: in-process throughput of validation or of one
 * compression mode over the files (read beforehand, so disk time is out),
 * and the bytes it saves. Prints one line for scripts/bench.sh. */
static int bench(int argc, char **argv)
{
    const char *mode = argv[2];
    int validate_only = strcmp(mode, "validate") == 0;
    struct sitx_image_opts opts;
    uint64_t in_total = 0;
    uint64_t out_total = 0;
    double secs = 0.0;
    int failed = 0;

    if (!validate_only && parse_mode(mode, &opts) != 0) {
        return usage();
    }
    for (int i = 3; i < argc; i++) {
        struct sitx_image_info info;
        struct sitx_buf out;
        enum sitx_image_format fmt = SITX_IMAGE_UNKNOWN;
        char err[SITX_IMAGE_ERR_MAX];
        uint8_t *buf = NULL;
        size_t len = 0;
        double t0;
        int rc;

        if (read_all(argv[i], &buf, &len) != 0) {
            return EXIT_TROUBLE;
        }
        sitx_buf_init(&out);
        t0 = now_sec();
        if (validate_only) {
            rc = sitx_image_validate(buf, len, NULL, &info, err);
        } else {
            rc = sitx_image_recompress(buf, len, &opts, &out, &fmt, err);
        }
        secs += now_sec() - t0;
        if (rc != 0) {
            fprintf(stderr, "sitx-imgtool: %s: %s\n", argv[i], err);
            failed++;
        }
        in_total += len;
        out_total += out.len > 0 ? out.len : len;
        sitx_buf_clear(&out);
        free(buf);
    }
    printf("%s files=%d failed=%d in_bytes=%" PRIu64 " out_bytes=%" PRIu64
           " ms=%.0f mb_per_s=%.1f saved_pct=%.1f\n",
           mode, argc - 3, failed, in_total, out_total, secs * 1000.0,
           secs > 0 ? (double)in_total / 1048576.0 / secs : 0.0,
           in_total > 0 ? 100.0 * ((double)in_total - (double)out_total) / (double)in_total : 0.0);
    return failed == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    uint32_t w, h, q = 85, seed = 1;

    if (argc < 2) {
        return usage();
    }
    if (strcmp(argv[1], "gen-png") == 0 && (argc == 5 || argc == 6)) {
        if (parse_u32(argv[3], 1, 20000, &w) != 0 || parse_u32(argv[4], 1, 20000, &h) != 0 ||
            (argc == 6 && parse_u32(argv[5], 0, UINT32_MAX, &seed) != 0)) {
            return EXIT_TROUBLE;
        }
        return gen_png(argv[2], w, h, seed);
    }
    if (strcmp(argv[1], "gen-jpeg") == 0 && argc >= 5 && argc <= 7) {
        if (parse_u32(argv[3], 1, 20000, &w) != 0 || parse_u32(argv[4], 1, 20000, &h) != 0 ||
            (argc >= 6 && parse_u32(argv[5], 1, 100, &q) != 0) ||
            (argc == 7 && parse_u32(argv[6], 0, UINT32_MAX, &seed) != 0)) {
            return EXIT_TROUBLE;
        }
        return gen_jpeg(argv[2], w, h, (int)q, seed);
    }
    if (strcmp(argv[1], "same-pixels") == 0 && argc == 4) {
        return same_pixels(argv[2], argv[3]);
    }
    if (strcmp(argv[1], "info") == 0 && argc == 3) {
        return validate(argv[2], 1);
    }
    if (strcmp(argv[1], "validate") == 0 && argc == 3) {
        return validate(argv[2], 0);
    }
    if (strcmp(argv[1], "validate-full") == 0 && argc == 3) {
        return validate_full(argv[2]);
    }
    if (strcmp(argv[1], "recompress") == 0 && (argc == 5 || argc == 6)) {
        return recompress(argc, argv);
    }
    if (strcmp(argv[1], "bench") == 0 && argc >= 4) {
        return bench(argc, argv);
    }
    if (strcmp(argv[1], "bomb") == 0) {
        int rc = imgbomb_main(argc, argv);

        return rc < 0 ? usage() : rc;
    }
    return usage();
}
