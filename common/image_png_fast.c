/* A shortcut for validating a PNG held whole in memory: about a third of
 * the CPU time of the streaming path went to libpng unfiltering rows that
 * validation then drops (scripts/valbench.sh). Here libpng still reads
 * every chunk up to the first IDAT header, exactly as the streaming path
 * does; the image data is inflated with the same zlib, every row's filter
 * byte checked and every IDAT CRC verified, without unfiltering.
 *
 * The shortcut only ever accepts. Whatever it does not fully understand
 * (a fault anywhere, a small zlib window, an empty IDAT, IDAT chunks split
 * by another chunk, a chunk after the image data that libpng would look
 * at) makes it step aside, and the streaming path gives the verdict and
 * the message. So it accepts only what the streaming path accepts:
 * - the chunks before the image data reach libpng as they always did;
 * - zlib accepts the same streams whatever size its output pieces have
 *   (with the 32 KiB window a 0x78 header asks for, a distance is valid
 *   when it reaches no further back than the output so far), and libpng
 *   refuses image data only on a zlib error, a filter byte over 4, a CRC,
 *   too little or too much data, or compressed bytes after the end;
 * - after the image data only chunks the streaming walk drops unseen (not
 *   libpng's), then an empty IEND with a good CRC. */
#include <png.h>
#include <string.h>
#include <zlib.h>

#include "image_internal.h"

/* Inflated bytes looked at per zlib call. */
#define OUT_PIECE (64u * 1024)

struct idat_run {
    size_t first;   /* offset of the first IDAT's header */
    size_t end;     /* offset just after the last IDAT of the run */
    size_t n_after; /* chunks between the run and IEND */
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int is_letter(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Finds the one run of IDAT chunks and checks what follows it. 0, or -1
 * when the shortcut does not apply. */
static int find_run(const uint8_t *buf, size_t len, struct idat_run *run)
{
    size_t pos = 8;
    int in_run = 0;

    memset(run, 0, sizeof(*run));
    for (;;) {
        uint32_t n;
        const uint8_t *type;

        if (len - pos < 12) {
            return -1;
        }
        n = be32(buf + pos);
        type = buf + pos + 4;
        if (n > PNG_UINT_31_MAX || n > len - pos - 12 || !is_letter(type[0]) ||
            !is_letter(type[1]) || !is_letter(type[2]) || !is_letter(type[3])) {
            return -1;
        }
        if (memcmp(type, "IDAT", 4) == 0) {
            if (run->end != 0 || n == 0) {
                return -1; /* a second run, or an empty IDAT */
            }
            if (!in_run) {
                run->first = pos;
                in_run = 1;
            }
        } else if (in_run) {
            run->end = pos;
            in_run = 0;
        }
        if (run->end != 0 && memcmp(type, "IEND", 4) == 0) {
            return n == 0 && (uint32_t)crc32(0, type, 4) == be32(type + 4) ? 0 : -1;
        }
        if (run->end != 0) {
            /* After the image data: only what the streaming walk skips. */
            if (!sitx_png_chunk_dropped(pos, type) || n > SITX_IMAGE_CHUNK_MAX) {
                return -1;
            }
            run->n_after++;
        }
        pos += 12 + (size_t)n;
    }
}

/* Bytes of a row of width pixels of depth bits, as libpng counts them. */
static uint64_t row_bytes(int depth, uint64_t width)
{
    return depth >= 8 ? width * (uint64_t)(depth / 8) : (width * (uint64_t)depth + 7) / 8;
}

/* Filter bytes and size of the inflated image data, piece by piece. */
struct rows {
    uint64_t row_len[7]; /* bytes a row of each pass takes, filter byte included */
    uint64_t rows[7];    /* rows in each pass (0: pass skipped) */
    int pass;
    uint64_t row;
    uint64_t at; /* offset in the current row */
    int done;    /* every row seen */
};

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

/* Inflates the IDAT run; 0 when the data is exactly the image's rows with
 * good filter bytes and CRCs and the zlib stream ends with the last byte. */
static int check_data(const uint8_t *buf, const struct idat_run *run, struct rows *r)
{
    uint8_t out[OUT_PIECE];
    z_stream z;
    size_t pos = run->first;
    int ended = 0;
    int rc = -1;

    if (buf[run->first + 8] != 0x78) {
        return -1; /* not the 32 KiB window: left to the streaming path */
    }
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15) != Z_OK) {
        return -1;
    }
    while (pos < run->end) {
        uint32_t n = be32(buf + pos);
        const uint8_t *data = buf + pos + 8;

        if ((uint32_t)crc32(crc32(0, buf + pos + 4, 4), data, n) != be32(data + n) || ended) {
            goto out;
        }
        z.next_in = (Bytef *)(uintptr_t)data; /* zlib only reads it */
        z.avail_in = n;
        while (z.avail_in > 0) {
            int zr;

            z.next_out = out;
            z.avail_out = sizeof(out);
            zr = inflate(&z, Z_NO_FLUSH);
            if ((zr != Z_OK && zr != Z_STREAM_END) ||
                rows_take(r, out, sizeof(out) - z.avail_out) != 0) {
                goto out;
            }
            if (zr == Z_STREAM_END) {
                ended = 1;
                if (z.avail_in > 0) {
                    goto out; /* compressed bytes after the end */
                }
            }
        }
        pos += 12 + (size_t)n;
    }
    rc = ended && r->done ? 0 : -1;
out:
    inflateEnd(&z);
    return rc;
}

int sitx_png_validate_fast(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                           struct sitx_image_info *info)
{
    struct sitx_image_ctl ctl;
    struct sitx_png_stream *s = NULL;
    struct idat_run run;
    struct rows r;
    uint32_t w, h;
    int depth, interlaced;
    int rc = SITX_IMAGE_MORE;

    if (len < 8 || find_run(buf, len, &run) != 0) {
        return SITX_IMAGE_MORE;
    }
    memset(&ctl, 0, sizeof(ctl));
    if (sitx_png_stream_new(&s, lim, &ctl) != 0) {
        return SITX_IMAGE_MORE;
    }
    /* Everything up to the first IDAT header, as the streaming path feeds
     * it: libpng has read the header chunks and allocated its rows. */
    if (sitx_png_stream_feed(s, buf, run.first + 8) != 0 ||
        sitx_png_stream_geometry(s, info, &w, &h, &depth, &interlaced) != 0) {
        goto out;
    }
    rows_init(&r, w, h, depth, interlaced);
    if (check_data(buf, &run, &r) == 0) {
        rc = 0;
    }
out:
    sitx_png_stream_free(s);
    return rc;
}
