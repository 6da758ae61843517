/* A shortcut for validating a PNG: about a third of the CPU time of the
 * streaming path went to libpng unfiltering rows that validation then
 * drops (scripts/valbench.sh). Here libpng still reads every chunk up to
 * the first IDAT header, exactly as the streaming path does; the image
 * data is inflated, every row's filter byte checked and every IDAT CRC
 * verified, without unfiltering. Bytes come in pieces of any size, as
 * they arrive. The raw deflate data goes through our own decoder
 * (inflate_strict.c: 1.7 times zlib's speed, and it inflates only what
 * zlib inflates); the two header bytes and the Adler-32 trailer are
 * checked here, as a wrapped stream would check them. The Adler-32 and
 * the chunk CRCs are libdeflate's vectorised ones (zlib's Adler-32 alone
 * took a sixth of the inflate time).
 *
 * The shortcut only ever accepts. Whatever it does not fully understand
 * (a fault anywhere, a small zlib window, an empty IDAT, IDAT chunks split
 * by another chunk, a chunk after the image data that libpng would look
 * at, a file that ends early) makes it step aside, and the streaming path,
 * fed the same bytes again, gives the verdict and the message. So it
 * accepts only what the streaming path accepts:
 * - the chunks before the image data reach libpng as they always did;
 * - the decoder inflates only streams zlib inflates, to the same bytes,
 *   whatever size the pieces have (with the 32 KiB window a 0x78 header
 *   asks for, a distance is valid when it reaches no further back than
 *   the output so far), and libpng refuses image data only on a zlib
 *   error, a filter byte over 4, a CRC, too little or too much data, or
 *   compressed bytes after the end;
 * - after the image data only chunks the streaming walk drops unseen (not
 *   libpng's), then an empty IEND with a good CRC. */
#include <libdeflate.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image_internal.h"
#include "inflate_strict.h"

/* crc32("IEND"): an empty IEND chunk's CRC. */
#define IEND_CRC 0xAE426082u

/* Where the walk is. */
enum quick_phase {
    Q_HEAD,  /* before the image data: everything goes to libpng */
    Q_DATA,  /* in an IDAT chunk's data */
    Q_CRC,   /* in an IDAT chunk's CRC */
    Q_AFTER, /* gathering the header of the chunk after an IDAT */
    Q_SKIP,  /* in a chunk after the image data that nobody reads */
    Q_IEND,  /* in IEND's CRC */
    Q_DONE,  /* IEND checked: sound */
};

/* Where the zlib stream is. */
enum zlib_phase {
    ZS_HEAD, /* the two header bytes */
    ZS_BODY, /* deflate data */
    ZS_TAIL, /* the Adler-32 of the inflated bytes */
    ZS_END,  /* checked to its end */
};

/* Filter bytes and size of the inflated image data, piece by piece. */
struct rows {
    uint64_t row_len[7]; /* bytes a row of each pass takes, filter byte included */
    uint64_t rows[7];    /* rows in each pass (0: pass skipped) */
    int pass;
    uint64_t row;
    uint64_t at; /* offset in the current row */
    int done;    /* every row seen */
};

struct sitx_png_quick {
    struct sitx_png_stream *s; /* libpng, for the chunks before the image data */
    struct sitx_image_ctl *ctl;
    struct sitx_image_info info;
    enum quick_phase phase;
    uint64_t pos;        /* bytes taken */
    uint64_t next_chunk; /* offset of the next chunk header (Q_HEAD) */
    uint64_t left;       /* bytes left in the current chunk's data or CRC */
    uint8_t hdr[8];      /* a chunk header or a CRC being gathered */
    size_t hdr_len;
    uint32_t crc; /* of the current IDAT, type included */
    enum zlib_phase zs;
    uint8_t zbytes[4]; /* header or trailer bytes gathered */
    size_t zlen;
    uint32_t adler;
    int run_over; /* a chunk other than IDAT came after the image data */
    struct sitx_inflate *inf;
    struct rows r;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int is_letter(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A header libpng would take as one: four letters, a length under 2^31. */
static int plain_header(const uint8_t hdr[8])
{
    return be32(hdr) <= PNG_UINT_31_MAX && is_letter(hdr[4]) && is_letter(hdr[5]) &&
           is_letter(hdr[6]) && is_letter(hdr[7]);
}

/* Bytes of a row of width pixels of depth bits, as libpng counts them. */
static uint64_t row_bytes(int depth, uint64_t width)
{
    return depth >= 8 ? width * (uint64_t)(depth / 8) : (width * (uint64_t)depth + 7) / 8;
}

static void rows_init(struct rows *r, uint32_t w, uint32_t h, int depth, int interlaced)
{
    memset(r, 0, sizeof(*r));
    if (!interlaced) {
        r->rows[0] = h;
        r->row_len[0] = 1 + row_bytes(depth, w);
    } else {
        for (int p = 0; p < 7; p++) {
            uint64_t cols = PNG_PASS_COLS(w, p);

            /* As libpng's progressive reader: a pass without pixels has no rows. */
            r->rows[p] = cols > 0 ? PNG_PASS_ROWS(h, p) : 0;
            r->row_len[p] = 1 + row_bytes(depth, cols);
        }
    }
    while (r->pass < 7 && r->rows[r->pass] == 0) {
        r->pass++;
    }
    r->done = r->pass >= 7;
}

/* -1 on a bad filter byte or data past the last row. */
static int rows_take(struct rows *r, const uint8_t *p, size_t n)
{
    while (n > 0) {
        uint64_t left;

        if (r->done) {
            return -1;
        }
        if (r->at == 0 && p[0] > 4) {
            return -1;
        }
        left = r->row_len[r->pass] - r->at;
        if (left > n) {
            r->at += n;
            return 0;
        }
        p += left;
        n -= (size_t)left;
        r->at = 0;
        if (++r->row == r->rows[r->pass]) {
            r->row = 0;
            do {
                r->pass++;
            } while (r->pass < 7 && r->rows[r->pass] == 0);
            r->done = r->pass >= 7;
        }
    }
    return 0;
}

int sitx_png_quick_new(struct sitx_png_quick **out, const struct sitx_image_limits *lim,
                       struct sitx_image_ctl *ctl)
{
    struct sitx_png_quick *q = calloc(1, sizeof(*q));

    *out = NULL;
    if (q == NULL) {
        return SITX_E_NOMEM;
    }
    if (sitx_png_stream_new(&q->s, lim, ctl) != 0) {
        free(q);
        return SITX_E_NOMEM;
    }
    q->ctl = ctl;
    q->next_chunk = 8;
    *out = q;
    return 0;
}

void sitx_png_quick_free(struct sitx_png_quick *q)
{
    if (q == NULL) {
        return;
    }
    sitx_inflate_free(q->inf);
    sitx_png_stream_free(q->s);
    free(q);
}

/* The decoder's output: into the Adler-32 and the rows' filter bytes. */
static int inflated(void *ctx, const uint8_t *p, size_t n)
{
    struct sitx_png_quick *q = ctx;

    q->adler = (uint32_t)libdeflate_adler32(q->adler, p, n);
    return rows_take(&q->r, p, n);
}

/* The first IDAT header has reached libpng: it has read the header chunks
 * and allocated its rows. From here on the shortcut reads alone. */
static int start_data(struct sitx_png_quick *q)
{
    uint32_t w, h;
    int depth, interlaced;

    if (be32(q->hdr) == 0 ||
        sitx_png_stream_geometry(q->s, &q->info, &w, &h, &depth, &interlaced) != 0) {
        return SITX_IMAGE_MORE;
    }
    rows_init(&q->r, w, h, depth, interlaced);
    /* Raw deflate with the 32 KiB window of the 0x78 header (checked in
     * take_zlib_head), every distance checked as in a wrapped stream. */
    if (sitx_inflate_new(&q->inf, inflated, q) != 0) {
        return SITX_IMAGE_MORE;
    }
    q->adler = 1; /* Adler-32 of nothing */
    q->crc = libdeflate_crc32(0, q->hdr + 4, 4);
    q->left = be32(q->hdr);
    q->phase = Q_DATA;
    /* libpng is done with: its row buffers go back now. */
    sitx_png_stream_free(q->s);
    q->s = NULL;
    return 0;
}

/* Q_HEAD: bytes go to libpng while our walk looks for the first IDAT
 * header; libpng gets that header too, and no byte after it. */
static int take_head(struct sitx_png_quick *q, const uint8_t *p, size_t n, size_t *used)
{
    size_t i = 0;
    int found = 0;

    while (i < n && !found) {
        if (q->pos + i < q->next_chunk) {
            uint64_t skip = q->next_chunk - (q->pos + i);

            i += skip < n - i ? (size_t)skip : n - i;
            continue;
        }
        q->hdr[q->hdr_len++] = p[i++];
        if (q->hdr_len < sizeof(q->hdr)) {
            continue;
        }
        q->hdr_len = 0;
        if (!plain_header(q->hdr) || memcmp(q->hdr + 4, "IEND", 4) == 0) {
            return SITX_IMAGE_MORE;
        }
        q->next_chunk += 12 + (uint64_t)be32(q->hdr);
        found = memcmp(q->hdr + 4, "IDAT", 4) == 0;
    }
    *used = i;
    if (sitx_png_stream_feed(q->s, p, i) != 0) {
        return SITX_IMAGE_MORE;
    }
    return found ? start_data(q) : 0;
}

/* The zlib header: the 32 KiB window (others are left to the streaming
 * path), deflate, a good check and no preset dictionary. */
static int take_zlib_head(struct sitx_png_quick *q)
{
    unsigned cmf = q->zbytes[0], flg = q->zbytes[1];

    if (cmf != 0x78 || (cmf << 8 | flg) % 31 != 0 || (flg & 0x20) != 0) {
        return SITX_IMAGE_MORE;
    }
    q->zs = ZS_BODY;
    q->zlen = 0;
    return 0;
}

/* Deflate data through the decoder; returns the bytes used, or -1 when
 * it or the rows refuse. */
static int64_t take_deflate(struct sitx_png_quick *q, const uint8_t *p, size_t n)
{
    int64_t used = sitx_inflate_feed(q->inf, p, n);

    if (used >= 0 && sitx_inflate_ended(q->inf)) {
        q->zs = ZS_TAIL;
    }
    return used;
}

/* Q_DATA: the zlib stream, checked piece by piece. */
static int take_data(struct sitx_png_quick *q, const uint8_t *p, size_t n)
{
    q->crc = libdeflate_crc32(q->crc, p, n);
    while (n > 0) {
        size_t used = 1;

        switch (q->zs) {
        case ZS_HEAD:
            q->zbytes[q->zlen++] = p[0];
            if (q->zlen == 2 && take_zlib_head(q) != 0) {
                return SITX_IMAGE_MORE;
            }
            break;
        case ZS_BODY: {
            int64_t r = take_deflate(q, p, n);

            if (r < 0 || (r == 0 && q->zs == ZS_BODY)) {
                return SITX_IMAGE_MORE;
            }
            used = (size_t)r;
            break;
        }
        case ZS_TAIL:
            q->zbytes[q->zlen++] = p[0];
            if (q->zlen == 4) {
                if (be32(q->zbytes) != q->adler) {
                    return SITX_IMAGE_MORE;
                }
                q->zs = ZS_END;
            }
            break;
        case ZS_END:
            return SITX_IMAGE_MORE; /* compressed bytes after the end */
        }
        p += used;
        n -= used;
    }
    return 0;
}

/* The header of the chunk at offset at, after an IDAT's CRC, is in q->hdr. */
static int take_after(struct sitx_png_quick *q, uint64_t at)
{
    const uint8_t *type = q->hdr + 4;
    uint32_t n = be32(q->hdr);

    if (!plain_header(q->hdr)) {
        return SITX_IMAGE_MORE;
    }
    if (memcmp(type, "IDAT", 4) == 0) {
        /* Still the one run: not after the end, not empty. */
        if (q->run_over || q->zs == ZS_END || n == 0) {
            return SITX_IMAGE_MORE;
        }
        q->crc = libdeflate_crc32(0, type, 4);
        q->left = n;
        q->phase = Q_DATA;
        return 0;
    }
    q->run_over = 1;
    if (q->zs != ZS_END || !q->r.done) {
        return SITX_IMAGE_MORE; /* the image data ends early */
    }
    if (memcmp(type, "IEND", 4) == 0) {
        if (n != 0) {
            return SITX_IMAGE_MORE;
        }
        q->left = 4;
        q->phase = Q_IEND;
        return 0;
    }
    /* After the image data: only what the streaming walk skips. */
    if (!sitx_png_chunk_dropped(at, type) || n > SITX_IMAGE_CHUNK_MAX) {
        return SITX_IMAGE_MORE;
    }
    q->left = (uint64_t)n + 4;
    q->phase = Q_SKIP;
    return 0;
}

static int take(struct sitx_png_quick *q, const uint8_t *p, size_t len)
{
    size_t i = 0;
    int rc = 0;

    while (i < len && rc == 0) {
        size_t n = len - i;

        switch (q->phase) {
        case Q_HEAD:
            rc = take_head(q, p + i, n, &n);
            break;
        case Q_DATA:
            n = q->left < n ? (size_t)q->left : n;
            rc = take_data(q, p + i, n);
            q->left -= n;
            if (rc == 0 && q->left == 0) {
                q->left = 4;
                q->phase = Q_CRC;
            }
            break;
        case Q_CRC:
        case Q_IEND:
            n = q->left < n ? (size_t)q->left : n;
            memcpy(q->hdr + 4 - q->left, p + i, n);
            q->left -= n;
            if (q->left > 0) {
                break;
            }
            if (be32(q->hdr) != (q->phase == Q_CRC ? q->crc : IEND_CRC)) {
                rc = SITX_IMAGE_MORE;
            } else {
                q->phase = q->phase == Q_CRC ? Q_AFTER : Q_DONE;
            }
            break;
        case Q_AFTER:
            n = 1;
            q->hdr[q->hdr_len++] = p[i];
            if (q->hdr_len == sizeof(q->hdr)) {
                q->hdr_len = 0;
                rc = take_after(q, q->pos - 7);
            }
            break;
        case Q_SKIP:
            n = q->left < n ? (size_t)q->left : n;
            q->left -= n;
            if (q->left == 0) {
                q->hdr_len = 0;
                q->phase = Q_AFTER;
            }
            break;
        case Q_DONE:
            n = len - i; /* what follows IEND is ignored, as libpng does */
            break;
        }
        i += n;
        q->pos += n;
    }
    return rc;
}

int sitx_png_quick_feed(struct sitx_png_quick *q, const uint8_t *buf, size_t len)
{
    if (sitx_image_cancelled(q->ctl)) {
        return SITX_E_CANCELLED;
    }
    return take(q, buf, len);
}

int sitx_png_quick_finish(struct sitx_png_quick *q, struct sitx_image_info *info)
{
    if (q->phase != Q_DONE) {
        return SITX_IMAGE_MORE;
    }
    *info = q->info;
    return 0;
}

int sitx_png_validate_fast(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                           struct sitx_image_info *info)
{
    struct sitx_image_ctl ctl;
    struct sitx_png_quick *q = NULL;
    int rc;

    memset(&ctl, 0, sizeof(ctl));
    if (sitx_png_quick_new(&q, lim, &ctl) != 0) {
        return SITX_IMAGE_MORE;
    }
    rc = sitx_png_quick_feed(q, buf, len);
    if (rc == 0) {
        rc = sitx_png_quick_finish(q, info);
    }
    sitx_png_quick_free(q);
    return rc == 0 ? 0 : SITX_IMAGE_MORE;
}
