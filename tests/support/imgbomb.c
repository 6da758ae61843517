/* Crafted images for the image-bomb tests: small files that cost a careless
 * decoder much memory or CPU. Each is a valid image, so only the receiver's
 * limits can stop it. Output is deterministic for given arguments.
 *
 *   bomb ztxt OUT [CHUNKS]          64x64 PNG with CHUNKS text chunks (zTXt, every
 *                                   tenth an iTXt) and an iCCP, each 8 MiB deflated
 *                                   to about 8 KiB (default 290 chunks: 2.4 MB)
 *   bomb pixels OUT [W H [gray1]]   PNG of W x H zero pixels, RGBA 16-bit (or 1-bit
 *                                   gray): 8000x8000 inflates 512 MB from 0.5 MB
 *   bomb scans OUT [W H [SCANS]]    progressive YCbCr JPEG of SCANS scans (default
 *                                   8000x8000, 999), written by hand: all-zero
 *                                   coefficients coded as end-of-band runs
 *   bomb arith OUT [W H [NOISE]]    arithmetic-coded progressive JPEG, NOISE random
 *                                   low-frequency coefficients a block (default
 *                                   6000x6000, 24: about 32 MB; 0 is flat and quick) */
#include "imgbomb.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <zlib.h>

#define TEXT_BYTES (8u * 1024 * 1024)

static int trouble(const char *what, const char *path)
{
    fprintf(stderr, "sitx-imgtool: %s %s: %s\n", what, path, errno != 0 ? strerror(errno) : "");
    return 2;
}

static int parse_dim(const char *s, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max) {
        fprintf(stderr, "sitx-imgtool: `%s' is not a number in 1..%u\n", s, (unsigned)max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* ---- PNG by hand ---------------------------------------------------------- */

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int put_chunk(FILE *f, const char *type, const uint8_t *data, size_t len)
{
    uint8_t hdr[8];
    uint8_t crc_be[4];
    uLong crc = crc32(0L, (const Bytef *)type, 4);

    be32(hdr, (uint32_t)len);
    memcpy(hdr + 4, type, 4);
    if (len > 0) {
        crc = crc32(crc, data, (uInt)len);
    }
    be32(crc_be, (uint32_t)crc);
    if (fwrite(hdr, 1, 8, f) != 8 || (len > 0 && fwrite(data, 1, len, f) != len) ||
        fwrite(crc_be, 1, 4, f) != 4) {
        return -1;
    }
    return 0;
}

static int put_sig_ihdr(FILE *f, uint32_t w, uint32_t h, int depth, int color)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {0};

    be32(ihdr, w);
    be32(ihdr + 4, h);
    ihdr[8] = (uint8_t)depth;
    ihdr[9] = (uint8_t)color;
    if (fwrite(sig, 1, 8, f) != 8) {
        return -1;
    }
    return put_chunk(f, "IHDR", ihdr, sizeof(ihdr));
}

/* Deflates h rows of row_len zero bytes (filter byte included) into IDAT
 * chunks of at most 64 KiB. gradient: row y holds y in every byte after
 * its filter byte, for a picture that is not all black. */
static int put_idat_rows(FILE *f, uint32_t h, size_t row_len, int gradient)
{
    uint8_t *row = calloc(1, row_len);
    uint8_t *out = malloc(65536);
    z_stream z;
    uint32_t y;
    int rc = -1;

    memset(&z, 0, sizeof(z));
    /* Run-length matches only: as small as level 9 on such rows, and fast. */
    if (row == NULL || out == NULL ||
        deflateInit2(&z, 9, Z_DEFLATED, 15, 9, Z_RLE) != Z_OK) {
        free(row);
        free(out);
        return -1;
    }
    for (y = 0; y <= h; y++) {
        int flush = y == h ? Z_FINISH : Z_NO_FLUSH;
        int zr;

        if (y < h && gradient) {
            memset(row + 1, (int)(y & 0xff), row_len - 1);
        }
        z.next_in = row;
        z.avail_in = y < h ? (uInt)row_len : 0;
        do {
            z.next_out = out;
            z.avail_out = 65536;
            zr = deflate(&z, flush);
            if (zr == Z_STREAM_ERROR) {
                goto done;
            }
            if (65536 - z.avail_out > 0 && put_chunk(f, "IDAT", out, 65536 - z.avail_out) != 0) {
                goto done;
            }
        } while (z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
    }
    rc = 0;
done:
    deflateEnd(&z);
    free(row);
    free(out);
    return rc;
}

static int finish_file(FILE *f, const char *out, int rc)
{
    if (fclose(f) != 0 || rc != 0) {
        return trouble("cannot write", out);
    }
    return 0;
}

/* 8 MiB of text deflated; the same stream serves every chunk. */
static uint8_t *deflated_text(uLongf *len)
{
    uint8_t *text = malloc(TEXT_BYTES);
    uLongf cap = compressBound(TEXT_BYTES);
    uint8_t *z = malloc(cap);

    if (text == NULL || z == NULL) {
        free(text);
        free(z);
        return NULL;
    }
    memset(text, 'a', TEXT_BYTES);
    *len = cap;
    if (compress2(z, len, text, TEXT_BYTES, 9) != Z_OK) {
        free(z);
        z = NULL;
    }
    free(text);
    return z;
}

static int bomb_ztxt(const char *out, uint32_t chunks)
{
    static const char ztxt_head[] = "Comment\0";        /* keyword, NUL, then method */
    static const char itxt_head[] = "Comment\0\1\0\0"; /* keyword, compressed, method, "", "" */
    static const char iccp_head[] = "bomb\0";          /* profile name, NUL, then method */
    uLongf zlen = 0;
    uint8_t *z = deflated_text(&zlen);
    uint8_t *chunk = NULL;
    FILE *f = NULL;
    uint32_t i;
    int rc = -1;

    if (z == NULL) {
        fprintf(stderr, "sitx-imgtool: cannot deflate the text\n");
        return 2;
    }
    chunk = malloc(zlen + 16);
    f = fopen(out, "wb");
    if (chunk == NULL || f == NULL) {
        free(z);
        free(chunk);
        if (f != NULL) {
            fclose(f);
        }
        return trouble("cannot write", out);
    }
    if (put_sig_ihdr(f, 64, 64, 8, 0) != 0) {
        goto done;
    }
    /* method 0 (deflate) follows each header */
    memcpy(chunk, iccp_head, sizeof(iccp_head) - 1);
    chunk[sizeof(iccp_head) - 1] = 0;
    memcpy(chunk + sizeof(iccp_head), z, zlen);
    if (put_chunk(f, "iCCP", chunk, sizeof(iccp_head) + zlen) != 0) {
        goto done;
    }
    for (i = 0; i < chunks; i++) {
        if (i % 10 == 9) {
            memcpy(chunk, itxt_head, sizeof(itxt_head) - 1);
            memcpy(chunk + sizeof(itxt_head) - 1, z, zlen);
            rc = put_chunk(f, "iTXt", chunk, sizeof(itxt_head) - 1 + zlen);
        } else {
            memcpy(chunk, ztxt_head, sizeof(ztxt_head) - 1);
            chunk[sizeof(ztxt_head) - 1] = 0;
            memcpy(chunk + sizeof(ztxt_head), z, zlen);
            rc = put_chunk(f, "zTXt", chunk, sizeof(ztxt_head) + zlen);
        }
        if (rc != 0) {
            goto done;
        }
    }
    rc = -1;
    if (put_idat_rows(f, 64, 65, 1) != 0 || put_chunk(f, "IEND", NULL, 0) != 0) {
        goto done;
    }
    rc = 0;
done:
    free(z);
    free(chunk);
    return finish_file(f, out, rc);
}

static int bomb_pixels(const char *out, uint32_t w, uint32_t h, int gray1)
{
    FILE *f = fopen(out, "wb");
    size_t row_len = gray1 ? 1 + ((size_t)w + 7) / 8 : 1 + (size_t)w * 8;
    int rc;

    if (f == NULL) {
        return trouble("cannot write", out);
    }
    rc = put_sig_ihdr(f, w, h, gray1 ? 1 : 16, gray1 ? 0 : 6);
    if (rc == 0) {
        rc = put_idat_rows(f, h, row_len, 0);
    }
    if (rc == 0) {
        rc = put_chunk(f, "IEND", NULL, 0);
    }
    return finish_file(f, out, rc);
}

/* ---- progressive JPEG by hand ---------------------------------------------- */

struct bits {
    FILE *f;
    unsigned acc;
    int n;
    int err;
};

static void put_byte(struct bits *b, int v)
{
    if (fputc(v, b->f) == EOF) {
        b->err = 1;
    }
}

static void put_bits(struct bits *b, uint32_t v, int n)
{
    while (n-- > 0) {
        b->acc = (b->acc << 1) | ((v >> n) & 1u);
        if (++b->n == 8) {
            put_byte(b, (int)(b->acc & 0xff));
            if ((b->acc & 0xff) == 0xff) {
                put_byte(b, 0); /* stuffed zero */
            }
            b->acc = 0;
            b->n = 0;
        }
    }
}

static void flush_bits(struct bits *b)
{
    while (b->n != 0) {
        put_bits(b, 1, 1); /* pad with ones */
    }
}

static void put_segment(struct bits *b, int marker, const uint8_t *data, size_t len)
{
    put_byte(b, 0xFF);
    put_byte(b, marker);
    put_byte(b, (int)((len + 2) >> 8));
    put_byte(b, (int)((len + 2) & 0xff));
    if (fwrite(data, 1, len, b->f) != len) {
        b->err = 1;
    }
}

static void put_sos(struct bits *b, int ncomp, int comp, int ss, int se, int ah, int al)
{
    uint8_t sos[4 + 2 * 3];
    size_t n = 0;
    int c;

    sos[n++] = (uint8_t)(comp < 0 ? ncomp : 1);
    for (c = 0; c < ncomp; c++) {
        if (comp < 0 || comp == c) {
            sos[n++] = (uint8_t)(c + 1);
            sos[n++] = 0x00; /* DC table 0, AC table 0 */
        }
    }
    sos[n++] = (uint8_t)ss;
    sos[n++] = (uint8_t)se;
    sos[n++] = (uint8_t)(ah << 4 | al);
    put_segment(b, 0xDA, sos, n);
}

/* End-of-band runs over blocks: symbol n<<4 (code n, 4 bits) then n bits. */
static void put_eob_runs(struct bits *b, uint64_t blocks)
{
    while (blocks > 0) {
        uint32_t r = blocks > 32767 ? 32767 : (uint32_t)blocks;
        int n = 0;

        while ((r >> (n + 1)) != 0) {
            n++;
        }
        put_bits(b, (uint32_t)n, 4);
        put_bits(b, r - (1u << n), n);
        blocks -= r;
    }
    flush_bits(b);
}

static int bomb_scans(const char *out, uint32_t w, uint32_t h, uint32_t scans)
{
    const int ncomp = 3;
    uint8_t dqt[65];
    uint8_t sof[6 + 3 * 3];
    uint8_t dht_dc[1 + 16 + 1] = {0x00, 1};
    uint8_t dht_ac[1 + 16 + 15] = {0x10};
    uint64_t blocks = (uint64_t)((w + 7) / 8) * ((h + 7) / 8);
    struct bits b = {NULL, 0, 0, 0};
    uint32_t done = 0;
    uint64_t i;
    int c, k, ah;

    b.f = fopen(out, "wb");
    if (b.f == NULL) {
        return trouble("cannot write", out);
    }
    put_byte(&b, 0xFF);
    put_byte(&b, 0xD8);
    memset(dqt, 1, sizeof(dqt));
    dqt[0] = 0;
    put_segment(&b, 0xDB, dqt, sizeof(dqt));
    sof[0] = 8;
    sof[1] = (uint8_t)(h >> 8);
    sof[2] = (uint8_t)h;
    sof[3] = (uint8_t)(w >> 8);
    sof[4] = (uint8_t)w;
    sof[5] = (uint8_t)ncomp;
    for (c = 0; c < ncomp; c++) {
        sof[6 + 3 * c] = (uint8_t)(c + 1);
        sof[7 + 3 * c] = 0x11;
        sof[8 + 3 * c] = 0;
    }
    put_segment(&b, 0xC2, sof, sizeof(sof));
    /* DC: one code, '0', for a difference of 0. AC: EOB0..EOB14, 4 bits each. */
    put_segment(&b, 0xC4, dht_dc, sizeof(dht_dc));
    dht_ac[4] = 15;
    for (k = 0; k < 15; k++) {
        dht_ac[17 + k] = (uint8_t)(k << 4);
    }
    put_segment(&b, 0xC4, dht_ac, sizeof(dht_ac));
    /* The DC scan, interleaved: one 1-bit code per block. */
    put_sos(&b, ncomp, -1, 0, 0, 0, 0);
    for (i = 0; i < blocks * (uint64_t)ncomp; i++) {
        put_bits(&b, 0, 1);
    }
    flush_bits(&b);
    done++;
    /* Then each coefficient of each component on its own, first at 1/512
     * precision, then refined bit by bit: up to 63 x 3 x 10 scans. */
    for (ah = 0; ah <= 9 && done < scans; ah++) {
        for (k = 1; k <= 63 && done < scans; k++) {
            for (c = 0; c < ncomp && done < scans; c++) {
                if (ah == 0) {
                    put_sos(&b, ncomp, c, k, k, 0, 9);
                } else {
                    put_sos(&b, ncomp, c, k, k, 10 - ah, 9 - ah);
                }
                put_eob_runs(&b, blocks);
                done++;
            }
        }
    }
    put_byte(&b, 0xFF);
    put_byte(&b, 0xD9);
    if (done < scans) {
        fprintf(stderr, "sitx-imgtool: at most %u scans in this layout\n", (unsigned)done);
    }
    return finish_file(b.f, out, b.err ? -1 : 0);
}

/* ---- arithmetic-coded JPEG through libjpeg ---------------------------------- */

static int bomb_arith(const char *out, uint32_t w, uint32_t h, int noise)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    jvirt_barray_ptr arrays[3];
    JDIMENSION bw = (w + 7) / 8, bh = (h + 7) / 8, row, x;
    uint64_t st = 0x9E3779B97F4A7C15ull;
    FILE *f = fopen(out, "wb");
    int ci, k;

    if (f == NULL) {
        return trouble("cannot write", out);
    }
    /* libjpeg's default error manager exits on error, which a tool may do. */
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_YCbCr;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    for (ci = 0; ci < 3; ci++) {
        c.comp_info[ci].h_samp_factor = 1;
        c.comp_info[ci].v_samp_factor = 1;
        arrays[ci] = (*c.mem->request_virt_barray)((j_common_ptr)&c, JPOOL_IMAGE, TRUE, bw, bh, 1);
    }
    c.arith_code = TRUE;
    c.optimize_coding = FALSE;
    jpeg_simple_progression(&c);
    jpeg_write_coefficients(&c, arrays);
    /* Noise in the low frequencies: at 24, about 7 bits a pixel once coded. */
    for (ci = 0; ci < 3; ci++) {
        for (row = 0; row < bh; row++) {
            JBLOCKARRAY blk =
                (*c.mem->access_virt_barray)((j_common_ptr)&c, arrays[ci], row, 1, TRUE);

            for (x = 0; x < bw; x++) {
                for (k = 0; k < noise; k++) {
                    st ^= st << 13;
                    st ^= st >> 7;
                    st ^= st << 17;
                    blk[0][x][k] = (JCOEF)((int)(st % 61) - 30);
                }
            }
        }
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return finish_file(f, out, 0);
}

int imgbomb_main(int argc, char **argv)
{
    uint32_t w = 0, h = 0, n = 0;
    const char *kind = argc > 2 ? argv[2] : "";
    const char *out = argc > 3 ? argv[3] : NULL;

    if (out == NULL) {
        return -1;
    }
    if (strcmp(kind, "ztxt") == 0 && argc <= 5) {
        n = 290;
        if (argc == 5 && parse_dim(argv[4], 100000, &n) != 0) {
            return 2;
        }
        return bomb_ztxt(out, n);
    }
    if (argc != 4 && (argc < 6 || parse_dim(argv[4], 65535, &w) != 0 ||
                      parse_dim(argv[5], 65535, &h) != 0)) {
        return argc < 6 ? -1 : 2;
    }
    if (strcmp(kind, "pixels") == 0 && argc <= 7) {
        int gray1 = argc == 7 && strcmp(argv[6], "gray1") == 0;

        if (argc == 7 && !gray1) {
            return -1;
        }
        return bomb_pixels(out, argc == 4 ? 8000 : w, argc == 4 ? 8000 : h, gray1);
    }
    if (strcmp(kind, "scans") == 0 && argc <= 7) {
        n = 999;
        if (argc == 7 && parse_dim(argv[6], 2000, &n) != 0) {
            return 2;
        }
        return bomb_scans(out, argc == 4 ? 8000 : w, argc == 4 ? 8000 : h, n);
    }
    if (strcmp(kind, "arith") == 0 && argc <= 7) {
        n = 24;
        if (argc == 7 && strcmp(argv[6], "0") == 0) {
            n = 0;
        } else if (argc == 7 && parse_dim(argv[6], 64, &n) != 0) {
            return 2;
        }
        return bomb_arith(out, argc == 4 ? 6000 : w, argc == 4 ? 6000 : h, (int)n);
    }
    return -1;
}
