/* PNG validation by libpng's progressive reader: bytes go in as they arrive,
 * rows are unfiltered one at a time in libpng's own row buffer and dropped,
 * so the decoded image is never held. sitx_image_validate() tries the
 * shortcut of image_png_fast.c first, which only accepts what this path
 * accepts, and comes here for everything else.
 *
 * Warnings: libpng reports faults in ancillary chunks (bad CRC, misplaced
 * chunk, a known-incorrect sRGB profile) as warnings and drops the chunk; we
 * accept those, as libpng's own readers do. A warning about the image data
 * itself (IDAT, the zlib stream, extra or missing rows) refuses the image:
 * an image either decodes cleanly or is refused.
 *
 * Ancillary chunks that validation has no use for (text, ICC profile,
 * suggested palettes, EXIF, and any chunk libpng does not know) never reach
 * libpng: it would buffer each whole, inflate zTXt/iTXt/iCCP up to its
 * chunk-malloc limit and keep the text, so a small file of many compressed
 * text chunks cost a gigabyte. Our own walk over the chunk headers skips
 * them as they stream by, after checking their length against
 * SITX_IMAGE_CHUNK_MAX; the few small ones libpng still sees are capped at
 * SITX_PNG_PASSED_CHUNK_MAX. Memory then stays at a few rows. */
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
    struct sitx_image_ctl *ctl;
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
    int cur_pass; /* the bytes of the current chunk go to libpng */
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
 * error, extra or missing data, the Adler-32 check, an IDAT's CRC) depends,
 * in libpng's progressive reader, on where the bytes happened to be split.
 * So every fault found while reading the image data gets one message, and
 * the verdict never depends on the chunking. Other chunks' CRC errors are
 * exact. */
static const char *data_fault(const struct sitx_png_stream *s, const char *msg)
{
    size_t n = strlen(msg);
    int crc = n >= 9 && strcmp(msg + n - 9, "CRC error") == 0;

    if (s->have_info && !s->done && (!crc || strncmp(msg, "IDAT", 4) == 0)) {
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

    /* A few bytes of IDAT can inflate to millions of rows: stop between
     * them once nobody waits for the verdict. */
    if (sitx_image_cancelled(s->ctl)) {
        set_error(s, SITX_E_CANCELLED, SITX_IMAGE_CANCEL_MSG);
        png_error(png, "cancelled");
    }
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

int sitx_png_stream_new(struct sitx_png_stream **out, const struct sitx_image_limits *lim,
                        struct sitx_image_ctl *ctl)
{
    struct sitx_png_stream *s = calloc(1, sizeof(*s));
    png_alloc_size_t chunk_max;

    *out = NULL;
    if (s == NULL) {
        return SITX_E_NOMEM;
    }
    s->lim = *lim;
    s->ctl = ctl;
    s->next_chunk = 8; /* after the signature */
    s->cur_pass = 1;
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
    chunk_max = SITX_PNG_PASSED_CHUNK_MAX;
    if (chunk_max > lim->max_memory) {
        chunk_max = (png_alloc_size_t)lim->max_memory;
    }
    png_set_user_limits(s->png, lim->max_width, lim->max_height);
    png_set_chunk_cache_max(s->png, 64);
    png_set_chunk_malloc_max(s->png, chunk_max);
    png_set_progressive_read_fn(s->png, s, on_info, on_row, on_end);
    *out = s;
    return 0;
}

static int is_letter(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
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

/* Ancillary chunks libpng handles and validation may care about (they are
 * small); every other ancillary chunk is skipped. The first chunk always
 * goes to libpng, which insists on IHDR there. */
int sitx_png_chunk_dropped(uint64_t at, const uint8_t type[4])
{
    static const char keep[][5] = {"bKGD", "cHRM", "gAMA", "hIST", "oFFs", "pCAL",
                                   "pHYs", "sBIT", "sCAL", "sRGB", "tIME", "tRNS"};
    size_t i;

    if (at == 8 || (type[0] & 0x20) == 0) {
        return 0;
    }
    for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        if (memcmp(type, keep[i], 4) == 0) {
            return 0;
        }
    }
    return 1;
}

/* The 8 bytes of a chunk header are in s->hdr: check the type, decide
 * whether the chunk goes to libpng, and pass the header on if it does.
 * libpng's progressive reader holds each chunk but IDAT whole before it
 * looks at it, so none larger than SITX_PNG_PASSED_CHUNK_MAX reaches it:
 * such an ancillary chunk is skipped (libpng would only have warned that
 * it is invalid), a critical one refused. A length over 2^31 - 1 still
 * goes to libpng, which refuses it from the header. */
static int take_header(struct sitx_png_stream *s)
{
    uint64_t hdr_at = s->next_chunk;
    uint32_t n = (uint32_t)s->hdr[0] << 24 | (uint32_t)s->hdr[1] << 16 |
                 (uint32_t)s->hdr[2] << 8 | s->hdr[3];
    const char *type = (const char *)s->hdr + 4;
    int big = n > SITX_PNG_PASSED_CHUNK_MAX && n <= PNG_UINT_31_MAX && memcmp(type, "IDAT", 4) != 0;
    char m[SITX_IMAGE_ERR_MAX];
    int k;

    for (k = 4; k < 8; k++) {
        if (!is_letter(s->hdr[k])) {
            sitx_image_seterr(m, "invalid chunk type %02X %02X %02X %02X", s->hdr[4], s->hdr[5],
                              s->hdr[6], s->hdr[7]);
            set_error(s, SITX_E_BAD_IMAGE, m);
            return s->err;
        }
    }
    s->after_iend = memcmp(type, "IEND", 4) == 0;
    s->next_chunk = hdr_at + 12 + n;
    s->cur_pass = !sitx_png_chunk_dropped(hdr_at, s->hdr + 4);
    if (s->cur_pass && big && (hdr_at == 8 || (s->hdr[4] & 0x20) == 0)) {
        sitx_image_seterr(m, "%.4s chunk of %u bytes is too large", type, (unsigned)n);
        set_error(s, SITX_E_BAD_IMAGE, m);
        return s->err;
    }
    s->cur_pass = s->cur_pass && !big;
    if (!s->cur_pass && n > SITX_IMAGE_CHUNK_MAX) {
        sitx_image_seterr(m, "%.4s chunk of %u bytes is over the %u-byte limit for ancillary chunks",
                          type, (unsigned)n, (unsigned)SITX_IMAGE_CHUNK_MAX);
        set_error(s, SITX_E_LIMIT, m);
        return s->err;
    }
    return s->cur_pass ? process(s, s->hdr, sizeof(s->hdr)) : 0;
}

/* Walks buf chunk by chunk: bytes of passed chunks go to libpng as they
 * come, skipped chunks are dropped, headers are gathered first. libpng sees
 * every byte before a bad header, so which fault is reported does not
 * depend on the chunking. */
static int walk_and_pass(struct sitx_png_stream *s, const uint8_t *buf, size_t len)
{
    size_t i = 0;
    int rc = 0;

    while (i < len && rc == 0 && !s->done) {
        uint64_t at = s->pos;

        if (s->after_iend) {
            /* libpng ignores what follows IEND, as it always did. */
            rc = process(s, buf + i, len - i);
            s->pos += len - i;
            break;
        }
        if (at < s->next_chunk) {
            uint64_t left = s->next_chunk - at;
            size_t n = left < len - i ? (size_t)left : len - i;

            if (s->cur_pass) {
                rc = process(s, buf + i, n);
            }
            i += n;
            s->pos += n;
            continue;
        }
        s->hdr[s->hdr_len++] = buf[i++];
        s->pos++;
        if (s->hdr_len == sizeof(s->hdr)) {
            s->hdr_len = 0;
            rc = take_header(s);
        }
    }
    return rc != 0 ? rc : s->err;
}

/* Rows libpng keeps (its row buffer, the previous row, slack), plus the
 * fixed part, once IHDR was read. */
static void update_need(struct sitx_png_stream *s)
{
    png_size_t rowbytes;

    if (s->ctl->need != 0 || png_get_image_width(s->png, s->pinfo) == 0) {
        return;
    }
    rowbytes = png_get_rowbytes(s->png, s->pinfo);
    s->ctl->need = SITX_IMAGE_MEMORY_BASE + 3 * ((uint64_t)rowbytes + 64);
}

int sitx_png_stream_feed(struct sitx_png_stream *s, const uint8_t *buf, size_t len)
{
    int rc;

    if (s->err != 0) {
        return s->err;
    }
    if (s->done || len == 0) {
        return 0; /* bytes after IEND are ignored, as libpng does */
    }
    if (sitx_image_cancelled(s->ctl)) {
        set_error(s, SITX_E_CANCELLED, SITX_IMAGE_CANCEL_MSG);
        return s->err;
    }
    rc = walk_and_pass(s, buf, len);
    update_need(s);
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

int sitx_png_stream_geometry(const struct sitx_png_stream *s, struct sitx_image_info *info,
                             uint32_t *width, uint32_t *height, int *pixel_depth, int *interlaced)
{
    /* The streaming path goes on to allocate zlib's 32 KiB window and a
     * few save buffers under lim.max_memory; without that room it may
     * refuse for memory, so the caller must not decide either. */
    if (s->err != 0 || !s->have_info || s->done || s->mem_used + 256u * 1024 > s->lim.max_memory) {
        return -1;
    }
    *info = s->info;
    *width = s->info.width;
    *height = s->info.height;
    *pixel_depth = png_get_bit_depth(s->png, s->pinfo) * png_get_channels(s->png, s->pinfo);
    *interlaced = s->info.progressive;
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
