/* valbench: CPU cost of image validation, today's path against candidates
 * (issue #9). An experiment, not part of sitx: scripts/valbench.sh builds it
 * against the Release build's static libraries and runs it.
 *
 *   valbench run SET FILE...   one line per method: files, MB, CPU ms, MB/s, accepted
 *   valbench topng IN.ppm OUT.png   re-encodes a binary PPM with libpng's defaults
 *
 * Each method runs REPS times on each file (read beforehand); the least CPU
 * time (CLOCK_PROCESS_CPUTIME_ID: user + sys of this single-threaded
 * process) of the repetitions counts, which is what a core spends when the
 * other engineers' builds do not get in the way.
 *
 * PNG methods:
 *   stream      the full streaming path (libpng progressive reader + zlib,
 *               every row unfiltered): a validator without a reread source
 *   validate    sitx_image_validate: the shortcut of image_png_fast.c
 *               (zlib, no unfiltering), else as stream; the receiver runs
 *               the same shortcut as bytes arrive
 *   zlib-whole  our chunk walk (every CRC), IDAT concatenated, one zlib
 *               inflate into the whole raw image, filter bytes checked
 *   zlib+unf    zlib-whole plus a plain C unfilter of every row
 *   defl-whole  the same with libdeflate_zlib_decompress
 *   defl+unf    defl-whole plus unfiltering every row (what libpng does)
 *               (the defl-* rows only when libdeflate-dev is installed:
 *               an experiment, sitx does not use it)
 * JPEG methods:
 *   stream      the streaming validator (1/8-scale decompress, 511-byte pieces)
 *   coef-pieces jpeg_read_coefficients, same 511-byte source
 *   coef-mem    jpeg_read_coefficients on jpeg_mem_src (fast Huffman path)
 *   scale-mem   today's 1/8-scale decompress on jpeg_mem_src
 * The *-mem methods are shown for what the small pieces cost: libjpeg-turbo's
 * fast Huffman path decodes a bad code as zero without a warning, so it
 * cannot prove every entropy-coded bit. */
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef VALBENCH_LIBDEFLATE
#include <libdeflate.h>
#endif
#include <zlib.h>

#include "image.h"
#include "image_jpeg_internal.h"

#define REPS 3

static double cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    *buf = malloc((size_t)n + 1);
    if (*buf == NULL || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return -1;
    }
    *len = (size_t)n;
    fclose(f);
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- PNG whole-buffer candidates ---- */

static int channels_of(int ct)
{
    switch (ct) {
    case 0: return 1;
    case 2: return 3;
    case 3: return 1;
    case 4: return 2;
    case 6: return 4;
    default: return 0;
    }
}

static uint64_t row_bytes(uint64_t w, int bits_pp)
{
    return (w * (uint64_t)bits_pp + 7) / 8;
}

static const int pass_x0[7] = {0, 4, 0, 2, 0, 1, 0}, pass_dx[7] = {8, 8, 4, 4, 2, 2, 1};
static const int pass_y0[7] = {0, 0, 4, 0, 2, 0, 1}, pass_dy[7] = {8, 8, 8, 4, 4, 2, 2};

static uint8_t paeth(int a, int b, int c)
{
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

    return (uint8_t)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* Unfilters one pass of rows in place; returns -1 on a bad filter byte. */
static int unfilter(uint8_t *p, uint64_t rows, uint64_t rb, int bpp, int check_only)
{
    uint8_t *prev = NULL;

    for (uint64_t y = 0; y < rows; y++, p += rb + 1) {
        uint8_t f = p[0];
        uint8_t *r = p + 1;

        if (f > 4) {
            return -1;
        }
        if (check_only || rb == 0) {
            continue;
        }
        for (uint64_t i = 0; i < rb; i++) {
            int a = i >= (uint64_t)bpp ? r[i - bpp] : 0;
            int b = prev != NULL ? prev[i] : 0;
            int c = prev != NULL && i >= (uint64_t)bpp ? prev[i - bpp] : 0;

            switch (f) {
            case 1: r[i] = (uint8_t)(r[i] + a); break;
            case 2: r[i] = (uint8_t)(r[i] + b); break;
            case 3: r[i] = (uint8_t)(r[i] + ((a + b) >> 1)); break;
            case 4: r[i] = (uint8_t)(r[i] + paeth(a, b, c)); break;
            default: break;
            }
        }
        prev = r;
    }
    return 0;
}

enum inflater { INF_ZLIB, INF_DEFLATE };

static int png_whole(const uint8_t *buf, size_t len, enum inflater inf, int do_unfilter)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *idat = NULL, *raw = NULL;
    size_t idat_len = 0, idat_cap = 0, pos = 8;
    uint32_t w = 0, h = 0;
    int depth = 0, ct = 0, interlace = 0, seen_idat = 0, after_idat = 0, done = 0, rc = -1;
    uint64_t raw_len = 0;
    int bits_pp, bpp;

    if (len < 8 || memcmp(buf, sig, 8) != 0) {
        return -1;
    }
    while (!done) {
        uint32_t n, crc;
        const uint8_t *type;

        if (len - pos < 12 || (n = be32(buf + pos)) > 0x7fffffffu || n > len - pos - 12) {
            goto out;
        }
        type = buf + pos + 4;
        crc = (uint32_t)crc32(0, type, (uInt)n + 4);
        if (crc != be32(buf + pos + 8 + n)) {
            goto out;
        }
        if (pos == 8) {
            if (memcmp(type, "IHDR", 4) != 0 || n != 13) {
                goto out;
            }
            w = be32(type + 4);
            h = be32(type + 8);
            depth = type[12];
            ct = type[13];
            interlace = type[16];
        } else if (memcmp(type, "IDAT", 4) == 0) {
            if (after_idat) {
                goto out;
            }
            seen_idat = 1;
            if (idat_len + n > idat_cap) {
                size_t cap = idat_cap ? idat_cap : 65536;
                uint8_t *q;

                while (cap < idat_len + n) {
                    cap *= 2;
                }
                q = realloc(idat, cap);
                if (q == NULL) {
                    goto out;
                }
                idat = q;
                idat_cap = cap;
            }
            memcpy(idat + idat_len, type + 4, n);
            idat_len += n;
        } else {
            after_idat = seen_idat;
            done = memcmp(type, "IEND", 4) == 0;
        }
        pos += 12 + (size_t)n;
    }
    if (!seen_idat || w == 0 || h == 0 || channels_of(ct) == 0) {
        goto out;
    }
    bits_pp = channels_of(ct) * depth;
    bpp = (bits_pp + 7) / 8;
    if (!interlace) {
        raw_len = (uint64_t)h * (1 + row_bytes(w, bits_pp));
    } else {
        for (int p = 0; p < 7; p++) {
            uint64_t cols = w > (uint32_t)pass_x0[p] ? (w - pass_x0[p] + pass_dx[p] - 1) / pass_dx[p] : 0;
            uint64_t rows = h > (uint32_t)pass_y0[p] ? (h - pass_y0[p] + pass_dy[p] - 1) / pass_dy[p] : 0;

            if (cols > 0) {
                raw_len += rows * (1 + row_bytes(cols, bits_pp));
            }
        }
    }
    if (raw_len > ((uint64_t)1 << 32)) {
        goto out;
    }
    raw = malloc(raw_len);
    if (raw == NULL) {
        goto out;
    }
    if (inf == INF_DEFLATE) {
#ifndef VALBENCH_LIBDEFLATE
        goto out;
#else
        struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();

        if (d == NULL) {
            goto out;
        }
        rc = libdeflate_zlib_decompress(d, idat, idat_len, raw, raw_len, NULL) ==
                     LIBDEFLATE_SUCCESS
                 ? 0
                 : -1;
        libdeflate_free_decompressor(d);
#endif
    } else {
        uLongf out_len = (uLongf)raw_len;

        rc = uncompress(raw, &out_len, idat, idat_len) == Z_OK && out_len == raw_len ? 0 : -1;
    }
    if (rc != 0) {
        goto out;
    }
    if (!interlace) {
        rc = unfilter(raw, h, row_bytes(w, bits_pp), bpp, !do_unfilter);
    } else {
        uint8_t *p = raw;

        for (int k = 0; k < 7 && rc == 0; k++) {
            uint64_t cols = w > (uint32_t)pass_x0[k] ? (w - pass_x0[k] + pass_dx[k] - 1) / pass_dx[k] : 0;
            uint64_t rows = h > (uint32_t)pass_y0[k] ? (h - pass_y0[k] + pass_dy[k] - 1) / pass_dy[k] : 0;

            if (cols == 0) {
                continue;
            }
            rc = unfilter(p, rows, row_bytes(cols, bits_pp), bpp, !do_unfilter);
            p += rows * (1 + row_bytes(cols, bits_pp));
        }
    }
out:
    free(idat);
    free(raw);
    return rc;
}

/* ---- JPEG candidates ---- */

static int jpeg_try(const uint8_t *buf, size_t len, int coefficients, int pieces)
{
    struct jpeg_decompress_struct c;
    struct sitx_jpeg_err jerr;
    struct sitx_jpeg_progress progress;
    struct sitx_image_limits lim;
    volatile int created = 0;
    volatile int rc = -1;

    sitx_image_limits_default(&lim);
    memset(&c, 0, sizeof(c));
    c.err = sitx_jpeg_err_init(&jerr, 1, lim.max_memory);
    if (setjmp(jerr.jb) != 0) {
        goto out;
    }
    jpeg_create_decompress(&c);
    created = 1;
    if (pieces) {
        sitx_jpeg_mem_src(&c, buf, len);
    } else {
        jpeg_mem_src(&c, buf, (unsigned long)len);
    }
    jpeg_read_header(&c, TRUE);
    sitx_jpeg_apply_limits(&c, &lim, &progress);
    if (coefficients) {
        if (jpeg_read_coefficients(&c) == NULL) {
            goto out;
        }
    } else {
        JSAMPARRAY rows;

        c.scale_num = 1;
        c.scale_denom = 8;
        c.dct_method = JDCT_IFAST;
        c.do_fancy_upsampling = FALSE;
        c.do_block_smoothing = FALSE;
        jpeg_start_decompress(&c);
        rows = (*c.mem->alloc_sarray)((j_common_ptr)&c, JPOOL_IMAGE,
                                      c.output_width * c.output_components,
                                      (JDIMENSION)c.rec_outbuf_height);
        while (c.output_scanline < c.output_height) {
            jpeg_read_scanlines(&c, rows, (JDIMENSION)c.rec_outbuf_height);
        }
    }
    jpeg_finish_decompress(&c);
    rc = 0;
out:
    if (created) {
        jpeg_destroy_decompress(&c);
    }
    return rc;
}

/* ---- driver ---- */

static int m_current(const uint8_t *b, size_t n)
{
    char err[SITX_IMAGE_ERR_MAX];

    return sitx_image_validate(b, n, NULL, NULL, err) == 0 ? 0 : -1;
}
/* The streaming validator fed the whole buffer, without a reread source:
 * the full path, which the PNG shortcut of image_png_fast.c steps back to. */
static int m_stream(const uint8_t *b, size_t n)
{
    struct sitx_image_validator *v = NULL;
    int rc;

    if (sitx_image_validator_new(&v, NULL) != 0) {
        return -1;
    }
    rc = sitx_image_validator_feed(v, b, n);
    if (rc == 0) {
        rc = sitx_image_validator_finish(v, NULL);
    }
    sitx_image_validator_free(v);
    return rc == 0 ? 0 : -1;
}
static int m_zlib_whole(const uint8_t *b, size_t n) { return png_whole(b, n, INF_ZLIB, 0); }
static int m_zlib_unf(const uint8_t *b, size_t n) { return png_whole(b, n, INF_ZLIB, 1); }
#ifdef VALBENCH_LIBDEFLATE
static int m_defl_whole(const uint8_t *b, size_t n) { return png_whole(b, n, INF_DEFLATE, 0); }
static int m_defl_unf(const uint8_t *b, size_t n) { return png_whole(b, n, INF_DEFLATE, 1); }
#endif
static int m_coef_pieces(const uint8_t *b, size_t n) { return jpeg_try(b, n, 1, 1); }
static int m_coef_mem(const uint8_t *b, size_t n) { return jpeg_try(b, n, 1, 0); }
static int m_scale_mem(const uint8_t *b, size_t n) { return jpeg_try(b, n, 0, 0); }

struct method {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
    int png; /* 1 PNG, 0 JPEG */
};

static const struct method methods[] = {
    {"stream", m_stream, 1},           {"validate", m_current, 1},
    {"zlib-whole", m_zlib_whole, 1},   {"zlib+unf", m_zlib_unf, 1},
#ifdef VALBENCH_LIBDEFLATE
    {"defl-whole", m_defl_whole, 1},   {"defl+unf", m_defl_unf, 1},
#endif
    {"stream", m_stream, 0},           {"coef-pieces", m_coef_pieces, 0},
    {"coef-mem", m_coef_mem, 0},       {"scale-mem", m_scale_mem, 0},
};

#define NMETH (sizeof(methods) / sizeof(methods[0]))

static int run(const char *set, int nfiles, char **files)
{
    double ms[NMETH] = {0};
    int ok[NMETH] = {0};
    int differ[NMETH] = {0};
    uint64_t bytes[2] = {0, 0};
    int count[2] = {0, 0};

    for (int i = 0; i < nfiles; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        int is_png, ref = 0;

        if (read_all(files[i], &buf, &len) != 0) {
            fprintf(stderr, "valbench: cannot read %s\n", files[i]);
            return 1;
        }
        is_png = len >= 4 && buf[0] == 0x89 && buf[1] == 'P';
        if (!is_png && !(len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8)) {
            free(buf);
            continue;
        }
        bytes[is_png] += len;
        count[is_png]++;
        for (size_t m = 0; m < NMETH; m++) {
            double best = 0;
            int r = 0;

            if (methods[m].png != is_png) {
                continue;
            }
            for (int k = 0; k < REPS; k++) {
                double t0 = cpu_ms();

                r = methods[m].fn(buf, len);
                t0 = cpu_ms() - t0;
                if (k == 0 || t0 < best) {
                    best = t0;
                }
            }
            if (strcmp(methods[m].name, "stream") == 0) {
                ref = r;
            } else if (r != ref) {
                differ[m]++;
                if (getenv("VALBENCH_VERBOSE") != NULL) {
                    fprintf(stderr, "valbench: %s %s: stream %s, %s %s\n", set, files[i],
                            ref == 0 ? "ok" : "refused", methods[m].name,
                            r == 0 ? "ok" : "refused");
                }
            }
            ms[m] += best;
            ok[m] += r == 0;
        }
        free(buf);
    }
    for (size_t m = 0; m < NMETH; m++) {
        int p = methods[m].png;
        double mb = (double)bytes[p] / 1048576.0;

        if (count[p] == 0) {
            continue;
        }
        printf("%-14s %-4s %-12s files=%-4d MB=%-7.1f cpu_ms=%-8.1f MB_per_cpu_s=%-7.1f "
               "accepted=%d differs_from_stream=%d\n",
               set, p ? "PNG" : "JPEG", methods[m].name, count[p], mb, ms[m],
               ms[m] > 0 ? mb / (ms[m] / 1000.0) : 0.0, ok[m], differ[m]);
    }
    return 0;
}

static int topng(const char *in, const char *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    unsigned w, h, maxv;
    int off = 0;
    FILE *f;
    png_structp png;
    png_infop info;

    if (read_all(in, &buf, &len) != 0) {
        return 1;
    }
    buf[len] = '\0';
    if (sscanf((char *)buf, "P6 %u %u %u%n", &w, &h, &maxv, &off) != 3 || maxv != 255 ||
        (size_t)off + 1 + (size_t)w * h * 3 > len) {
        fprintf(stderr, "valbench: %s is not an 8-bit binary PPM\n", in);
        return 1;
    }
    f = fopen(out, "wb");
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    info = png_create_info_struct(png);
    if (f == NULL || png == NULL || info == NULL || setjmp(png_jmpbuf(png)) != 0) {
        return 1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (unsigned y = 0; y < h; y++) {
        png_write_row(png, buf + off + 1 + (size_t)y * w * 3);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "run") == 0) {
        return run(argv[2], argc - 3, argv + 3);
    }
    if (argc == 4 && strcmp(argv[1], "topng") == 0) {
        return topng(argv[2], argv[3]);
    }
    fprintf(stderr, "usage: valbench run SET FILE... | valbench topng IN.ppm OUT.png\n");
    return 2;
}
