/* A byte-wise walk over a JPEG's marker structure as it streams in (see
 * struct sitx_jpeg_walk). It only looks for one fault libjpeg accepts; the
 * rest of the structure is libjpeg's to check. */
#include <string.h>

#include "image_internal.h"

enum {
    W_SOI,       /* the first two bytes */
    W_MARKER,    /* between segments: expecting 0xFF */
    W_MARKER_FF, /* after 0xFF: fill or the marker code */
    W_LEN1,
    W_LEN2,
    W_SKIP,    /* inside a segment */
    W_ENTROPY, /* entropy-coded data after SOS */
    W_ENT_FF,  /* a run of 0xFF in entropy-coded data */
    W_DONE,    /* after EOI */
};

void sitx_jpeg_walk_init(struct sitx_jpeg_walk *w)
{
    memset(w, 0, sizeof(*w));
    w->state = W_SOI;
}

static int standalone(uint8_t m)
{
    return (m >= 0xD0 && m <= 0xD8) || m == 0x01;
}

/* After a marker code: its length follows, or nothing for standalone ones. */
static void marker(struct sitx_jpeg_walk *w, uint8_t c)
{
    if (c == 0xD9) {
        w->state = W_DONE;
    } else if (standalone(c)) {
        w->state = W_MARKER;
    } else {
        w->marker = c;
        w->state = W_LEN1;
    }
}

void sitx_jpeg_walk(struct sitx_jpeg_walk *w, const uint8_t *buf, size_t len)
{
    uint64_t start = w->pos;
    size_t i = 0;

    while (i < len && w->state != W_DONE) {
        uint8_t c = buf[i];

        switch (w->state) {
        case W_SOI:
            w->state = w->pos == 1 ? W_MARKER : W_SOI;
            break;
        case W_MARKER:
            w->state = c == 0xFF ? W_MARKER_FF : W_MARKER;
            break;
        case W_MARKER_FF:
            if (c == 0x00) {
                w->state = W_MARKER;
            } else if (c != 0xFF) {
                marker(w, c);
            }
            break;
        case W_LEN1:
            w->len_hi = c;
            w->state = W_LEN2;
            break;
        case W_LEN2: {
            unsigned n = w->len_hi << 8 | c;

            w->seg_end = w->pos + 1 + (n >= 2 ? n - 2 : 0);
            w->state = W_SKIP;
            if (w->seg_end == w->pos + 1) {
                w->state = w->marker == 0xDA ? W_ENTROPY : W_MARKER;
            }
            break;
        }
        case W_SKIP: {
            /* Jump to the segment's last byte. */
            uint64_t left = w->seg_end - w->pos - 1;
            size_t n = left < len - i ? (size_t)left : len - i - 1;

            i += n;
            w->pos += n;
            if (w->pos + 1 == w->seg_end) {
                w->state = w->marker == 0xDA ? W_ENTROPY : W_MARKER;
            }
            break;
        }
        case W_ENTROPY: {
            const uint8_t *ff = memchr(buf + i, 0xFF, len - i);
            size_t n = ff != NULL ? (size_t)(ff - (buf + i)) : len - i - 1;

            i += n;
            w->pos += n;
            if (buf[i] == 0xFF) {
                w->state = W_ENT_FF;
                w->ff_at = w->pos;
                w->ff_run = 1;
            }
            break;
        }
        case W_ENT_FF:
            if (c == 0xFF) {
                w->ff_run++;
            } else if (c == 0x00 && w->ff_run > 1) {
                w->state = W_DONE;
                w->bad = 1;
            } else if (c == 0x00 || (c >= 0xD0 && c <= 0xD7)) {
                w->state = W_ENTROPY;
            } else {
                marker(w, c);
            }
            break;
        default:
            break;
        }
        i++;
        w->pos++;
    }
    w->pos = start + len;
    w->safe = w->bad || w->state == W_ENT_FF ? w->ff_at : w->pos;
}
