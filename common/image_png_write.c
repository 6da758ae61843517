/* PNG rewriting at the chunk level. Every chunk but IDAT is copied byte for
 * byte in its place (IHDR, PLTE, tRNS, gAMA, cHRM, sRGB, iCCP, text...), so
 * colour type, bit depth, palette and colour information cannot change;
 * ancillary chunks with a bad CRC, which libpng ignores, are dropped, as is
 * anything after IEND. With recompress the image data is read row by row and
 * deflated again at zlib level 9 with adaptive filters, without interlacing
 * (same pixels, usually smaller); an interlaced image is held whole for
 * that. With strip, tEXt, zTXt, iTXt, eXIf and tIME are dropped. */
#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image_internal.h"

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

struct chunk {
    const uint8_t *start; /* length field */
    uint32_t len;         /* data bytes */
    char type[5];
    const uint8_t *data;
    uint32_t crc;
};

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    uint32_t n, c;
    int k;

    for (n = 0; n < 256; n++) {
        c = n;
        for (k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[n] = c;
    }
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;

    (void)pthread_once(&crc_once, crc_init);
    for (i = 0; i < n; i++) {
        c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    }
    return c ^ 0xFFFFFFFFu;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Reads the chunk at *pos; 1 with c filled, 0 at the end, -1 when malformed. */
static int next_chunk(const uint8_t *in, size_t len, size_t *pos, struct chunk *c)
{
    size_t p = *pos;

    if (p >= len) {
        return 0;
    }
    if (len - p < 12) {
        return -1;
    }
    c->start = in + p;
    c->len = be32(in + p);
    if (c->len > 0x7FFFFFFFu || c->len > len - p - 12) {
        return -1;
    }
    memcpy(c->type, in + p + 4, 4);
    c->type[4] = '\0';
    c->data = in + p + 8;
    c->crc = be32(in + p + 8 + c->len);
    *pos = p + 12 + c->len;
    return 1;
}

static int is_type(const struct chunk *c, const char *t)
{
    return memcmp(c->type, t, 4) == 0;
}

static int crc_ok(const struct chunk *c)
{
    return crc32_of(c->start + 4, (size_t)c->len + 4) == c->crc;
}

static int is_metadata(const struct chunk *c)
{
    return is_type(c, "tEXt") || is_type(c, "zTXt") || is_type(c, "iTXt") || is_type(c, "eXIf") ||
           is_type(c, "tIME");
}

/* Appends one chunk of type with data. */
static int put_chunk(struct sitx_buf *out, const char *type, const uint8_t *data, uint32_t n)
{
    uint8_t hdr[8];
    uint8_t crc[4];
    int rc;

    put32(hdr, n);
    memcpy(hdr + 4, type, 4);
    rc = sitx_buf_reserve(out, (size_t)n + 12);
    if (rc != 0) {
        return rc;
    }
    (void)sitx_buf_append(out, hdr, 8);
    (void)sitx_buf_append(out, data, n);
    put32(crc, crc32_of(out->data + out->len - n - 4, (size_t)n + 4));
    return sitx_buf_append(out, crc, 4);
}

double sitx_png_expected_saving(const uint8_t *in, size_t len)
{
    struct chunk c;
    size_t pos = 8;
    uint64_t idat = 0, raw = 0;
    int flevel = -1;

    if (len < 8 || memcmp(in, png_sig, 8) != 0) {
        return 0;
    }
    while (next_chunk(in, len, &pos, &c) == 1) {
        if (is_type(&c, "IHDR") && c.len == 13) {
            uint64_t w = be32(c.data), h = be32(c.data + 4);
            unsigned bits = c.data[8];
            unsigned ch = c.data[9] == 2 ? 3 : c.data[9] == 4 ? 2 : c.data[9] == 6 ? 4 : 1;

            raw = h * ((w * ch * bits + 7) / 8 + 1);
        } else if (is_type(&c, "IDAT")) {
            if (flevel < 0 && c.len >= 2) {
                flevel = c.data[1] >> 6; /* zlib header: the encoder's level class */
            }
            idat += c.len;
        }
    }
    if (raw == 0 || idat == 0 || flevel < 0) {
        return 0;
    }
    /* Stored (level 0) data: deflate usually halves it. Fast levels leave
     * 10-25 % to gain, default levels a few percent, maximum ones ~1 %. */
    if (idat * 100 >= raw * 98) {
        return 0.4 * (double)idat / (double)len;
    }
    return (flevel <= 1 ? 0.12 : flevel == 2 ? 0.03 : 0.01) * (double)idat / (double)len;
}

struct redeflate {
    const uint8_t *in;
    size_t len;
    size_t pos;
    jmp_buf jb;
    int err;
    char *errstr;
    png_structp rd;
    png_infop rinfo;
    png_structp wr;
    png_infop winfo;
    uint8_t *image; /* interlaced input only */
    png_bytep *rows;
    uint8_t *row;
    struct sitx_buf *out;
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct redeflate *r = png_get_error_ptr(png);

    if (r->err == 0) {
        r->err = SITX_E_BAD_IMAGE;
        sitx_image_seterr(r->errstr, "PNG: %s", msg);
    }
    longjmp(r->jb, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    struct redeflate *r = png_get_error_ptr(png);

    if (sitx_png_warning_is_fatal(msg) && r->err == 0) {
        r->err = SITX_E_BAD_IMAGE;
        sitx_image_seterr(r->errstr, "PNG: %s", msg);
    }
}

static void on_read(png_structp png, png_bytep out, size_t n)
{
    struct redeflate *r = png_get_io_ptr(png);

    if (n > r->len - r->pos) {
        png_error(png, "file ends too early");
    }
    memcpy(out, r->in + r->pos, n);
    r->pos += n;
}

static void on_write(png_structp png, png_bytep data, size_t n)
{
    struct redeflate *r = png_get_io_ptr(png);

    if (sitx_buf_append(r->out, data, n) != 0) {
        png_error(png, "out of memory for the output");
    }
}

static void on_flush(png_structp png)
{
    (void)png;
}

/* Decodes the rows and encodes them again into r->out (a complete PNG of
 * which only the IDAT chunks are used). */
static int redeflate_rows(struct redeflate *r)
{
    png_uint_32 w, h, y;
    int depth, color, interlace;
    png_colorp palette;
    int num_palette = 0;
    size_t rowbytes;
    struct sitx_image_limits lim;

    if (setjmp(r->jb) != 0) {
        return r->err != 0 ? r->err : SITX_E_BAD_IMAGE;
    }
    sitx_image_limits_default(&lim);
    png_set_user_limits(r->rd, lim.max_width, lim.max_height);
    png_set_chunk_malloc_max(r->rd, SITX_IMAGE_CHUNK_MAX);
    png_set_read_fn(r->rd, r, on_read);
    png_read_info(r->rd, r->rinfo);
    png_get_IHDR(r->rd, r->rinfo, &w, &h, &depth, &color, &interlace, NULL, NULL);
    r->err = sitx_image_check_size(&lim, "PNG", w, h, r->errstr);
    if (r->err != 0) {
        png_error(r->rd, "size limit");
    }
    rowbytes = png_get_rowbytes(r->rd, r->rinfo);
    png_set_write_fn(r->wr, r, on_write, on_flush);
    png_set_IHDR(r->wr, r->winfo, w, h, depth, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (png_get_PLTE(r->rd, r->rinfo, &palette, &num_palette) == PNG_INFO_PLTE) {
        png_set_PLTE(r->wr, r->winfo, palette, num_palette);
    }
    /* Out-of-range palette indices are copied as they are: the same bytes
     * decode to whatever colour the decoder picks, as before. */
    png_set_check_for_invalid_index(r->wr, 0);
    png_set_compression_level(r->wr, 9);
    png_set_compression_mem_level(r->wr, 9);
    png_set_compression_buffer_size(r->wr, 256 * 1024);
    /* Filters rarely help palette or sub-byte images (PNG spec 12.8). */
    png_set_filter(r->wr, PNG_FILTER_TYPE_BASE,
                   color == PNG_COLOR_TYPE_PALETTE || depth < 8 ? PNG_FILTER_NONE
                                                                : PNG_ALL_FILTERS);
    png_write_info(r->wr, r->winfo);
    if (interlace != PNG_INTERLACE_NONE) {
        if ((uint64_t)rowbytes * h > lim.max_memory) {
            png_error(r->rd, "interlaced image over the memory limit");
        }
        /* Zeroed: libpng never writes the padding bits at the end of a
         * sub-byte row, and png_write_row would deflate whatever they held. */
        r->image = calloc(h, rowbytes);
        r->rows = malloc(sizeof(*r->rows) * h);
        if (r->image == NULL || r->rows == NULL) {
            png_error(r->rd, "out of memory for the image");
        }
        for (y = 0; y < h; y++) {
            r->rows[y] = r->image + (size_t)y * rowbytes;
        }
        (void)png_set_interlace_handling(r->rd);
        png_read_update_info(r->rd, r->rinfo);
        png_read_image(r->rd, r->rows);
        png_write_image(r->wr, r->rows);
    } else {
        r->row = calloc(1, rowbytes); /* zeroed padding bits, as above */
        if (r->row == NULL) {
            png_error(r->rd, "out of memory for a row");
        }
        for (y = 0; y < h; y++) {
            png_read_row(r->rd, r->row, NULL);
            png_write_row(r->wr, r->row);
        }
    }
    png_read_end(r->rd, NULL);
    png_write_end(r->wr, NULL);
    return r->err;
}

static int redeflate(const uint8_t *in, size_t len, struct sitx_buf *png_out,
                     char err[static SITX_IMAGE_ERR_MAX])
{
    struct redeflate *r = calloc(1, sizeof(*r));
    int rc = SITX_E_NOMEM;

    if (r == NULL) {
        sitx_image_seterr(err, "PNG: out of memory");
        return rc;
    }
    r->in = in;
    r->len = len;
    r->errstr = err;
    r->out = png_out;
    r->rd = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, on_error, on_warning);
    r->rinfo = r->rd != NULL ? png_create_info_struct(r->rd) : NULL;
    r->wr = png_create_write_struct(PNG_LIBPNG_VER_STRING, r, on_error, on_warning);
    r->winfo = r->wr != NULL ? png_create_info_struct(r->wr) : NULL;
    if (r->rinfo != NULL && r->winfo != NULL) {
        rc = redeflate_rows(r);
    } else {
        sitx_image_seterr(err, "PNG: out of memory");
    }
    png_destroy_read_struct(&r->rd, &r->rinfo, NULL);
    png_destroy_write_struct(&r->wr, &r->winfo);
    free(r->image);
    free(r->rows);
    free(r->row);
    free(r);
    return rc;
}

/* Appends the IDAT chunks of png (our own encoder's output). */
static int copy_idats(const struct sitx_buf *png, struct sitx_buf *out)
{
    struct chunk c;
    size_t pos = 8;
    int r;

    while ((r = next_chunk(png->data, png->len, &pos, &c)) == 1) {
        if (is_type(&c, "IDAT") && sitx_buf_append(out, c.start, (size_t)c.len + 12) != 0) {
            return SITX_E_NOMEM;
        }
    }
    return r < 0 ? SITX_E_INTERNAL : 0;
}

int sitx_png_rewrite(const uint8_t *in, size_t len, int recompress, int strip, struct sitx_buf *out,
                     char err[static SITX_IMAGE_ERR_MAX])
{
    struct sitx_buf fresh;
    struct chunk c;
    size_t pos = 8;
    int idat_done = 0;
    int r = 0;
    int rc = 0;

    sitx_buf_init(&fresh);
    out->len = 0;
    err[0] = '\0';
    if (len < 8 || memcmp(in, png_sig, 8) != 0) {
        sitx_image_seterr(err, "PNG: bad signature");
        return SITX_E_BAD_IMAGE;
    }
    if (recompress) {
        rc = redeflate(in, len, &fresh, err);
        if (rc != 0) {
            goto out;
        }
    }
    rc = sitx_buf_append(out, png_sig, 8);
    while (rc == 0 && (r = next_chunk(in, len, &pos, &c)) == 1) {
        int critical = (c.type[0] & 0x20) == 0;

        if (is_type(&c, "IDAT")) {
            if (!idat_done) {
                rc = recompress ? copy_idats(&fresh, out) : 0;
            }
            if (rc == 0 && !recompress) {
                rc = sitx_buf_append(out, c.start, (size_t)c.len + 12);
            }
            idat_done = 1;
        } else if (is_type(&c, "IHDR") && recompress && c.len == 13) {
            uint8_t ihdr[13];

            memcpy(ihdr, c.data, 13);
            ihdr[12] = PNG_INTERLACE_NONE;
            rc = put_chunk(out, "IHDR", ihdr, 13);
        } else if ((strip && is_metadata(&c)) || (!critical && !crc_ok(&c))) {
            continue;
        } else {
            rc = sitx_buf_append(out, c.start, (size_t)c.len + 12);
        }
        if (is_type(&c, "IEND")) {
            break;
        }
    }
    if (rc == 0 && r < 0) {
        rc = SITX_E_BAD_IMAGE;
        sitx_image_seterr(err, "PNG: malformed chunk structure");
    } else if (rc != 0 && err[0] == '\0') {
        sitx_image_seterr(err, "PNG: %s", rc == SITX_E_NOMEM ? "out of memory" : "rewrite failed");
    }
out:
    if (rc != 0) {
        out->len = 0;
    }
    sitx_buf_clear(&fresh);
    return rc;
}
