/* JPEG at the marker level, without decoding: a segment walker, what the
 * headers say (progressive, arithmetic, standard Huffman tables, EXIF
 * orientation, ICC), and metadata stripping that copies the entropy-coded
 * data byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image_jpeg_internal.h"

struct seg {
    uint8_t marker;
    const uint8_t *start;   /* the 0xFF of the marker */
    size_t len;             /* whole segment; for SOS with its entropy-coded data */
    const uint8_t *payload; /* after the length field */
    size_t payload_len;
};

static int is_rst(uint8_t m)
{
    return m >= 0xD0 && m <= 0xD7;
}

/* Entropy-coded data runs to the next marker: 0xFF (after any number of
 * fill 0xFF) followed by neither 0x00 (a stuffed byte) nor a restart. */
static size_t entropy_end(const uint8_t *in, size_t len, size_t p)
{
    while (p < len) {
        size_t q = p;

        if (in[p] != 0xFF) {
            p++;
            continue;
        }
        while (q + 1 < len && in[q + 1] == 0xFF) {
            q++;
        }
        if (q + 1 >= len) {
            return len;
        }
        if (in[q + 1] != 0x00 && !is_rst(in[q + 1])) {
            return p;
        }
        p = q + 2;
    }
    return len;
}

/* Reads the segment at *pos. Returns 1 with seg filled, 0 after EOI or at the
 * end of the data, -1 on malformed structure. */
static int next_seg(const uint8_t *in, size_t len, size_t *pos, struct seg *s)
{
    size_t p = *pos;
    size_t seglen;

    if (p == 0) {
        if (len < 2 || in[0] != 0xFF || in[1] != 0xD8) {
            return -1;
        }
        s->marker = 0xD8;
        s->start = in;
        s->len = 2;
        s->payload = in + 2;
        s->payload_len = 0;
        *pos = 2;
        return 1;
    }
    if (p >= len) {
        return 0;
    }
    if (in[p] != 0xFF) {
        return -1;
    }
    while (p < len && in[p] == 0xFF) {
        p++; /* fill bytes */
    }
    if (p >= len) {
        return -1;
    }
    s->marker = in[p];
    s->start = in + p - 1;
    p++;
    if (s->marker == 0xD9 || is_rst(s->marker) || s->marker == 0x01) {
        s->len = 2;
        s->payload = in + p;
        s->payload_len = 0;
        *pos = s->marker == 0xD9 ? len : p;
        return 1;
    }
    if (len - p < 2) {
        return -1;
    }
    seglen = (size_t)in[p] << 8 | in[p + 1];
    if (seglen < 2) {
        seglen = 2; /* libjpeg skips nothing after a length of 0 or 1 */
    }
    if (seglen > len - p) {
        return -1;
    }
    s->payload = in + p + 2;
    s->payload_len = seglen - 2;
    p += seglen;
    if (s->marker == 0xDA) {
        p = entropy_end(in, len, p);
    }
    s->len = (size_t)(in + p - s->start);
    *pos = p;
    return 1;
}

static int is_app(const struct seg *s, int n, const char *id, size_t id_len)
{
    return s->marker == 0xE0 + n && s->payload_len >= id_len && memcmp(s->payload, id, id_len) == 0;
}

static int same_table(const JHUFF_TBL *t, const uint8_t *bits, const uint8_t *vals, size_t n)
{
    size_t total = 0;
    int i;

    if (t == NULL) {
        return 0;
    }
    for (i = 1; i <= 16; i++) {
        total += t->bits[i];
    }
    return total == n && memcmp(t->bits + 1, bits, 16) == 0 && memcmp(t->huffval, vals, n) == 0;
}

struct std_tables {
    struct jpeg_compress_struct c;
    struct sitx_jpeg_err jerr;
    int ok;
};

/* The Annex K tables, as libjpeg's defaults hold them. */
static int load_std_tables(struct std_tables *t)
{
    t->c.err = sitx_jpeg_err_init(&t->jerr, 0, 0);
    if (setjmp(t->jerr.jb) != 0) {
        return -1;
    }
    jpeg_create_compress(&t->c);
    t->ok = 1;
    t->c.in_color_space = JCS_RGB;
    t->c.input_components = 3;
    jpeg_set_defaults(&t->c);
    return 0;
}

/* 1 when every table in the DHT payload is a standard one. */
static int dht_is_standard(const struct std_tables *t, const uint8_t *p, size_t n)
{
    while (n >= 17) {
        int ac = p[0] >> 4;
        int slot = p[0] & 0x0F;
        size_t count = 0;
        int i;

        for (i = 1; i <= 16; i++) {
            count += p[i];
        }
        if (count > 256 || count > n - 17 || slot > 1) {
            return 0;
        }
        if (!same_table(ac ? t->c.ac_huff_tbl_ptrs[0] : t->c.dc_huff_tbl_ptrs[0], p + 1, p + 17,
                        count) &&
            !same_table(ac ? t->c.ac_huff_tbl_ptrs[1] : t->c.dc_huff_tbl_ptrs[1], p + 1, p + 17,
                        count)) {
            return 0;
        }
        p += 17 + count;
        n -= 17 + count;
    }
    return n == 0;
}

int sitx_jpeg_scan_markers(const uint8_t *in, size_t len, struct sitx_jpeg_scan *scan)
{
    struct std_tables *t = calloc(1, sizeof(*t));
    struct seg s;
    size_t pos = 0;
    int r;
    int rc = 0;

    memset(scan, 0, sizeof(*scan));
    if (t == NULL) {
        return SITX_E_NOMEM;
    }
    if (load_std_tables(t) != 0) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    scan->standard_huffman = 1;
    while ((r = next_seg(in, len, &pos, &s)) == 1) {
        uint8_t m = s.marker;

        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            scan->progressive |= m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE;
            scan->arithmetic |= m >= 0xC9;
        } else if (m == 0xC4) {
            scan->huffman_tables++;
            if (!dht_is_standard(t, s.payload, s.payload_len)) {
                scan->standard_huffman = 0;
            }
        } else if (is_app(&s, 1, "Exif\0\0", 6)) {
            scan->has_exif = 1;
            if (scan->orientation == 0) {
                scan->orientation = sitx_exif_orientation(s.payload, s.payload_len);
            }
        } else if (is_app(&s, 2, "ICC_PROFILE\0", 12)) {
            scan->has_icc = 1;
        }
    }
    if (r < 0) {
        rc = SITX_E_BAD_IMAGE;
    }
out:
    if (t->ok) {
        jpeg_destroy_compress(&t->c);
    }
    free(t);
    return rc;
}

/* Markers a stripped file keeps: JFIF (APP0), ICC (APP2), Adobe (APP14, it
 * says how the colours were transformed) and everything that is not APPn
 * or COM. */
static int keep_when_stripping(const struct seg *s)
{
    if (s->marker == 0xFE) {
        return 0;
    }
    if (s->marker >= 0xE0 && s->marker <= 0xEF) {
        return is_app(s, 0, "JFIF\0", 5) || is_app(s, 2, "ICC_PROFILE\0", 12) ||
               is_app(s, 14, "Adobe", 5);
    }
    return 1;
}

int sitx_jpeg_strip_markers(const uint8_t *in, size_t len, struct sitx_buf *out,
                            char err[static SITX_IMAGE_ERR_MAX])
{
    struct sitx_jpeg_scan scan;
    uint8_t exif[4 + SITX_EXIF_MIN_LEN];
    size_t exif_len = 0;
    struct seg s;
    size_t pos = 0;
    int r;
    int rc = sitx_jpeg_scan_markers(in, len, &scan);

    out->len = 0;
    if (rc != 0) {
        sitx_image_seterr(err, "JPEG: malformed marker structure");
        return rc;
    }
    if (scan.orientation > 1) {
        size_t n = sitx_exif_minimal(exif + 4, scan.orientation);

        exif[0] = 0xFF;
        exif[1] = 0xE1;
        exif[2] = (uint8_t)((n + 2) >> 8);
        exif[3] = (uint8_t)(n + 2);
        exif_len = n + 4;
    }
    while (rc == 0 && (r = next_seg(in, len, &pos, &s)) == 1) {
        /* The orientation goes after SOI and a JFIF APP0, before the rest. */
        if (exif_len > 0 && s.marker != 0xD8 && !is_app(&s, 0, "JFIF\0", 5)) {
            rc = sitx_buf_append(out, exif, exif_len);
            exif_len = 0;
        }
        if (rc == 0 && keep_when_stripping(&s)) {
            rc = sitx_buf_append(out, s.start, s.len);
        }
    }
    if (rc == 0 && r < 0) {
        rc = SITX_E_BAD_IMAGE;
    }
    if (rc != 0) {
        sitx_image_seterr(err, rc == SITX_E_BAD_IMAGE ? "JPEG: malformed marker structure"
                                                      : "JPEG: out of memory");
        out->len = 0;
    }
    return rc;
}
