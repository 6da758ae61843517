/* PNG validation by libpng's progressive reader: bytes go in as they arrive,
 * rows are unfiltered one at a time in libpng's own row buffer and dropped,
 * so the decoded image is never held. sitx_image_validate() uses the same
 * path on a whole buffer, so both always agree.
 *
 * Warnings: libpng reports faults in ancillary chunks (bad CRC, misplaced
 * chunk, a known-incorrect sRGB profile) as warnings and drops the chunk; we
 * accept those, as libpng's own readers do. A warning about the image data
 * itself (IDAT, the zlib stream, extra or missing rows) refuses the image:
 * an image either decodes cleanly or is refused. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image_internal.h"

struct sitx_png_stream {
    png_structp png;
    png_infop pinfo;
    struct sitx_image_limits lim;
    uint64_t mem_used;
    int err;      /* sticky */
    int mem_over; /* the allocator refused a block over lim.max_memory */
    int have_info;
    int done; /* IEND seen */
    /* libpng's progressive reader accepts a zlib stream that ends before
     * the last row, so the rows are counted here. */
    uint64_t rows_expected;
    uint64_t rows_seen;
    struct sitx_image_info info;
    /* Our own walk over the chunk headers: libpng's progressive reader does
     * not check the name of the chunk that follows the last IDAT, which its
     * sequential reader refuses. */
    uint64_t pos;        /* bytes fed so far */
    uint64_t next_chunk; /* offset of the next chunk header */
    uint8_t hdr[8];
    size_t hdr_len;
    int after_iend;
    char limit_msg[SITX_IMAGE_ERR_MAX]; /* from a user-limit warning */
    char errstr[SITX_IMAGE_ERR_MAX];
};

/* Blocks carry their size in front so the total can be tracked. */
#define MEM_HDR 16

static png_voidp on_malloc(png_structp png, png_alloc_size_t size)
{
    struct sitx_png_stream *s = png_get_mem_ptr(png);
    uint8_t *p;

    if (size > SIZE_MAX - MEM_HDR || s->mem_used + size > s->lim.max_memory) {
        s->mem_over = 1;
        return NULL;
    }
    p = malloc(size + MEM_HDR);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, &size, sizeof(size));
    s->mem_used += size;
    return p + MEM_HDR;
}

static void on_free(png_structp png, png_voidp ptr)
{
    struct sitx_png_stream *s = png_get_mem_ptr(png);
    uint8_t *p = ptr;
    png_alloc_size_t size;

    if (p == NULL) {
        return;
    }
    p -= MEM_HDR;
    memcpy(&size, p, sizeof(size));
    s->mem_used -= size;
    free(p);
}

#define DATA_FAULT "corrupt or truncated image data (IDAT)"

/* Where damaged image data is noticed first (a bad filter byte, a zlib
 * error, extra or missing data, the Adler-32 check) depends, in libpng's
 * progressive reader, on where the bytes happened to be split. So every
 * fault found while reading the image data gets one message, and the
 * verdict never depends on the chunking. Chunk CRC errors are exact. */
static const char *data_fault(const struct sitx_png_stream *s, const char *msg)
{
    size_t n = strlen(msg);

    if (s->have_info && !s->done && !(n >= 9 && strcmp(msg + n - 9, "CRC error") == 0)) {
        return DATA_FAULT;
    }
    return msg;
}

static void set_error(struct sitx_png_stream *s, int rc, const char *msg)
{
    if (s->err == 0) {
        s->err = rc;
        sitx_image_seterr(s->errstr, "PNG: %s", msg);
    }
}

static void on_error(png_structp png, png_const_charp msg)
{
    struct sitx_png_stream *s = png_get_error_ptr(png);

    if (s->limit_msg[0] != '\0') {
        set_error(s, SITX_E_LIMIT, s->limit_msg);
    } else if (s->mem_over) {
        char m[SITX_IMAGE_ERR_MAX];

        sitx_image_seterr(m, "decoder needs more than the %llu-byte memory limit",
                          (unsigned long long)s->lim.max_memory);
        set_error(s, SITX_E_LIMIT, m);
    } else {
        set_error(s, SITX_E_BAD_IMAGE, data_fault(s, msg));
    }
    png_longjmp(png, 1);
}

/* True when a warning is about the image data rather than an ancillary
 * chunk. libpng prefixes chunk warnings with the chunk name ("tEXt: ..."). */
int sitx_png_warning_is_fatal(const char *msg)
{
    size_t n = strlen(msg);
    int chunk_prefix = n >= 6 && msg[4] == ':' && msg[5] == ' ';

    if (chunk_prefix) {
        return strncmp(msg, "IDAT", 4) == 0 || strncmp(msg, "IHDR", 4) == 0 ||
               strncmp(msg, "PLTE", 4) == 0 || strncmp(msg, "IEND", 4) == 0;
    }
    return strstr(msg, "IDAT") != NULL || strstr(msg, "compress") != NULL ||
           strstr(msg, "image data") != NULL || strstr(msg, "ADLER32") != NULL;
}

static void on_warning(png_structp png, png_const_charp msg)
{
    struct sitx_png_stream *s = png_get_error_ptr(png);

    if (strstr(msg, "exceeds user limit") != NULL && s->limit_msg[0] == '\0') {
        sitx_image_seterr(s->limit_msg, "image is over the %ux%u limit (%s)",
                          (unsigned)s->lim.max_width, (unsigned)s->lim.max_height, msg);
    }
    /* Recorded now, reported after png_process_data returns: a longjmp out
     * of a warning could leave libpng's local allocations behind. */
    if (sitx_png_warning_is_fatal(msg)) {
        set_error(s, SITX_E_BAD_IMAGE, data_fault(s, msg));
    }
}

static void on_info(png_structp png, png_infop pinfo)
{
    struct sitx_png_stream *s = png_get_progressive_ptr(png);
    uint32_t w = png_get_image_width(png, pinfo);
    uint32_t h = png_get_image_height(png, pinfo);
    char m[SITX_IMAGE_ERR_MAX];
    int rc = sitx_image_check_size(&s->lim, "PNG", w, h, m);

    if (rc != 0) {
        if (s->err == 0) {
            s->err = rc;
            memcpy(s->errstr, m, sizeof(m));
        }
        png_error(png, "size limit");
    }
    s->info.format = SITX_IMAGE_PNG;
    s->info.width = w;
    s->info.height = h;
    s->info.components = png_get_channels(png, pinfo);
    s->info.progressive = png_get_interlace_type(png, pinfo) != PNG_INTERLACE_NONE;
    s->rows_expected = h;
    if (s->info.progressive) {
        int pass;

        /* Adam7 without libpng's interlace handling: one row callback per
         * row of each pass that has pixels. */
        s->rows_expected = 0;
        for (pass = 0; pass < 7; pass++) {
            if (PNG_PASS_COLS(w, pass) > 0) {
                s->rows_expected += PNG_PASS_ROWS(h, pass);
            }
        }
    }
    s->have_info = 1;
    png_start_read_image(png);
}

static void on_row(png_structp png, png_bytep row, png_uint_32 row_num, int pass)
{
    struct sitx_png_stream *s = png_get_progressive_ptr(png);

    s->rows_seen += row != NULL;
    (void)row_num;
    (void)pass;
}

static void on_end(png_structp png, png_infop pinfo)
{
    struct sitx_png_stream *s = png_get_progressive_ptr(png);

    (void)pinfo;
    if (s->rows_seen < s->rows_expected) {
        png_error(png, "Not enough image data");
    }
    s->done = 1;
}

int sitx_png_stream_new(struct sitx_png_stream **out, const struct sitx_image_limits *lim)
{
    struct sitx_png_stream *s = calloc(1, sizeof(*s));
    png_alloc_size_t chunk_max;

    *out = NULL;
    if (s == NULL) {
        return SITX_E_NOMEM;
    }
    s->lim = *lim;
    s->next_chunk = 8; /* after the signature */
    s->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, s, on_error, on_warning, s, on_malloc,
                                      on_free);
    if (s->png == NULL) {
        free(s);
        return SITX_E_NOMEM;
    }
    s->pinfo = png_create_info_struct(s->png);
    if (s->pinfo == NULL) {
        png_destroy_read_struct(&s->png, NULL, NULL);
        free(s);
        return SITX_E_NOMEM;
    }
    chunk_max = SITX_IMAGE_CHUNK_MAX;
    if (chunk_max > lim->max_memory) {
        chunk_max = (png_alloc_size_t)lim->max_memory;
    }
    png_set_user_limits(s->png, lim->max_width, lim->max_height);
    png_set_chunk_cache_max(s->png, 1000);
    png_set_chunk_malloc_max(s->png, chunk_max);
    png_set_progressive_read_fn(s->png, s, on_info, on_row, on_end);
    *out = s;
    return 0;
}

static int is_letter(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Walks the chunk headers in buf; returns how many of its bytes come before
 * a chunk with an invalid type (all of them when there is none), with the
 * error recorded in bad. */
static size_t walk_chunks(struct sitx_png_stream *s, const uint8_t *buf, size_t len, char *bad)
{
    uint64_t start = s->pos;
    size_t i = 0;

    while (i < len && !s->after_iend) {
        uint64_t at = start + i;
        uint64_t hdr_at;
        uint32_t n;
        int k;

        if (at < s->next_chunk) {
            uint64_t skip = s->next_chunk - at;

            i += skip < len - i ? (size_t)skip : len - i;
            continue;
        }
        s->hdr[s->hdr_len++] = buf[i++];
        if (s->hdr_len < sizeof(s->hdr)) {
            continue;
        }
        s->hdr_len = 0;
        hdr_at = s->next_chunk;
        n = (uint32_t)s->hdr[0] << 24 | (uint32_t)s->hdr[1] << 16 | (uint32_t)s->hdr[2] << 8 |
            s->hdr[3];
        for (k = 4; k < 8; k++) {
            if (!is_letter(s->hdr[k])) {
                sitx_image_seterr(bad, "invalid chunk type %02X %02X %02X %02X", s->hdr[4],
                                  s->hdr[5], s->hdr[6], s->hdr[7]);
                s->pos = start + len;
                return hdr_at > start ? (size_t)(hdr_at - start) : 0;
            }
        }
        s->after_iend = memcmp(s->hdr + 4, "IEND", 4) == 0;
        s->next_chunk = hdr_at + 12 + n;
    }
    s->pos = start + len;
    return len;
}

static int process(struct sitx_png_stream *s, const uint8_t *buf, size_t len)
{
    if (setjmp(png_jmpbuf(s->png)) != 0) {
        if (s->err == 0) {
            set_error(s, SITX_E_BAD_IMAGE, "decoding failed");
        }
        return s->err;
    }
    /* libpng takes a non-const pointer but only reads it. */
    png_process_data(s->png, s->pinfo, (png_bytep)(uintptr_t)buf, len);
    return s->err;
}

int sitx_png_stream_feed(struct sitx_png_stream *s, const uint8_t *buf, size_t len)
{
    char bad[SITX_IMAGE_ERR_MAX];
    size_t good;
    int rc = 0;

    if (s->err != 0) {
        return s->err;
    }
    if (s->done || len == 0) {
        return 0; /* bytes after IEND are ignored, as libpng does */
    }
    bad[0] = '\0';
    good = walk_chunks(s, buf, len, bad);
    /* libpng sees everything before the bad chunk first, so which fault is
     * reported does not depend on the chunking. */
    if (good > 0) {
        rc = process(s, buf, good);
    }
    if (rc == 0 && bad[0] != '\0' && !s->done) {
        set_error(s, SITX_E_BAD_IMAGE, bad);
        rc = s->err;
    }
    return rc;
}

int sitx_png_stream_finish(struct sitx_png_stream *s, struct sitx_image_info *info)
{
    if (s->err == 0 && !s->done) {
        /* Whether zlib noticed a cut stream before the end of the bytes
         * also depends on the chunking: the same message as a fault. */
        set_error(s, SITX_E_BAD_IMAGE,
                  s->have_info ? DATA_FAULT : "file ends before the image data");
    }
    if (s->err != 0) {
        return s->err;
    }
    if (info != NULL) {
        *info = s->info;
    }
    return 0;
}

const char *sitx_png_stream_errstr(const struct sitx_png_stream *s)
{
    return s->errstr;
}

void sitx_png_stream_free(struct sitx_png_stream *s)
{
    if (s == NULL) {
        return;
    }
    png_destroy_read_struct(&s->png, &s->pinfo, NULL);
    free(s);
}
