/* A shortcut for validating a JPEG's entropy-coded data. libjpeg keeps
 * the whole coefficient image of a progressive file (2 bytes a
 * coefficient, zeroed, 88 MB for a 5120x2880 wallpaper), decodes every
 * scan into it and then runs an output pass over it; for a sequential file
 * it decodes on the slow Huffman path (image_jpeg.c says why) and runs the
 * 1/8-scale output pass. The Huffman decoding alone is what proves the
 * data. Here libjpeg still reads everything up to the first scan, exactly
 * as the streaming path does (image_jpeg.c hands over at that point); from
 * there every scan is Huffman-decoded here. A progressive file keeps one
 * bit a coefficient: whether it is non-zero yet, the only thing a later
 * refinement scan's bit layout depends on. A sequential file (one scan of
 * every component) keeps nothing but the DC predictions.
 *
 * The shortcut only ever accepts. Whatever it does not fully understand
 * makes it step aside, and the streaming path, fed the same bytes again,
 * gives the verdict and the message: a bad or missing table, a code no
 * table has, bits needed past the end of a scan, bytes left over after a
 * scan or restart interval, a restart marker out of turn, a fill byte, a
 * marker other than DHT, DQT, DRI, SOS, EOI, COM or APP1-13/15, a scan
 * libjpeg would warn about (bogus progression, a first AC scan without
 * DC, a sequential scan that is not the whole band, a second one), a
 * coefficient written outside its band or too large for libjpeg's 16
 * bits, a DC sum near libjpeg's overflow check, a file that ends early.
 * So it accepts only what libjpeg, as the streaming path drives it,
 * accepts:
 * - libjpeg-turbo's Huffman decoders (jdhuff.c, jdphuff.c) refuse, under
 *   warnings-are-errors, exactly those things; its output pass at 1/8
 *   scale cannot fail for the component layouts taken here (gray, or
 *   three components whose chroma is not subsampled while luma is 1x1,
 *   2x1, 1x2 or 2x2), nor for lack of memory when the need estimate fits
 *   the limit;
 * - after EOI nothing is read, as libjpeg reads nothing.
 * The scan limit is the one refusal given here: libjpeg checks each scan
 * before it counts it, as start_scan() does. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "err.h"
#include "image_jpeg_fast_int.h"

/* Bytes taken from the caller at a time. */
#define FEED_PIECE (64u * 1024)

/* Canonical codes from a DHT's counts, with jpeg_make_d_derived_tbl()'s
 * checks: at most 256 symbols, no all-ones code, DC symbols up to 15. */
static int htab_build(struct htab *t, const struct raw_table *r, int is_dc)
{
    int l, i, p = 0, nsym = 0;
    int32_t code = 0;

    if (!r->defined) {
        return -1;
    }
    for (l = 1; l <= 16; l++) {
        nsym += r->bits[l];
    }
    if (nsym > 256) {
        return -1;
    }
    for (i = 0; is_dc && i < nsym; i++) {
        if (r->val[i] > 15) {
            return -1;
        }
    }
    memset(t->fast, 0, sizeof(t->fast));
    memcpy(t->sym, r->val, sizeof(t->sym));
    for (l = 1; l <= 16; l++) {
        int n = r->bits[l];

        t->maxcode[l] = -1;
        t->valoff[l] = p - code;
        if (n > 0 && code + n >= (int32_t)1 << l) {
            return -1; /* the last code would be all ones, or longer */
        }
        for (i = 0; i < n; i++, p++, code++) {
            if (l <= FAST_BITS) {
                int fill = 1 << (FAST_BITS - l);
                int at = code << (FAST_BITS - l);
                int j;

                for (j = 0; j < fill; j++) {
                    t->fast[at + j] = (uint16_t)(l << 8 | r->val[p]);
                }
            }
        }
        if (n > 0) {
            t->maxcode[l] = code - 1;
        }
        code <<= 1;
    }
    return 0;
}

/* The symbol whose code starts at bit `at` (from the top) of the
 * `width` bits x and ends within them, with its length; -1 for none. */
static int multi_code(const struct htab *t, uint32_t x, int width, int at, int *len)
{
    int l;

    for (l = 1; l <= width - at; l++) {
        int32_t code = (int32_t)(x >> (width - at - l) & ((1u << l) - 1));

        if (code <= t->maxcode[l]) {
            *len = l;
            return t->sym[(code + t->valoff[l]) & 0xFF];
        }
    }
    return -1;
}

/* Fills t->multi, after htab_build(), for seq_block(): the codes of
 * each window as libjpeg's sequential decoder reads them (a zero size
 * with a run other than 15 ends the block, ZRL passes 16 coefficients,
 * any other code r + 1), taken whole with their value bits. */
static void multi_build(struct htab *t)
{
    uint32_t x;

    for (x = 0; x < (1u << MULTI_BITS); x++) {
        uint32_t e = 0;
        int at = 0, adv = 0;

        for (;;) {
            int len, rs = multi_code(t, x, MULTI_BITS, at, &len), r = rs >> 4, s = rs & 15;
            int eob = s == 0 && r != 15, a = eob ? 0 : s != 0 ? r + 1 : 16;

            if (rs < 0 || (at > 0 && (at + len + s > MULTI_BITS || adv + a > 63))) {
                break;
            }
            if (at == 0) {
                e = (uint32_t)(len + s) << 13 | (uint32_t)a << 18 | (eob ? M_EOB1 : 0);
            }
            at += len + s;
            adv += a;
            e = (e & ~(M_EOB | 0xFFFu)) | (uint32_t)at | (uint32_t)adv << 5 | (eob ? M_EOB : 0);
            if (eob || at >= MULTI_BITS) {
                break;
            }
        }
        t->multi[x] = e;
    }
}

/* Fills t->first, after htab_build(), for ac_first(): the codes of each
 * window as libjpeg's first AC scan decoder reads them (ZRL passes 16
 * coefficients; a code with a size passes r + 1 and makes the last of
 * them non-zero), as far as EOB0, short of an EOB run of more blocks,
 * and within 32 coefficients. */
static void first_build(struct htab *t)
{
    uint32_t x;

    for (x = 0; x < (1u << FIRST_BITS); x++) {
        uint64_t e = 0, nz = 0;
        int at = 0, adv = 0, size = 0;

        for (;;) {
            int len, rs = multi_code(t, x, FIRST_BITS, at, &len), r = rs >> 4, s = rs & 15;
            int eob = s == 0 && r != 15, a = eob ? 0 : s != 0 ? r + 1 : 16;

            if (rs < 0 || (eob && r != 0) || (at > 0 && at + len + s > FIRST_BITS) ||
                adv + a > 32) {
                break;
            }
            if (s != 0) {
                nz |= 1ull << (adv + r);
            }
            at += len + s;
            adv += a;
            size = s > size ? s : size;
            e = nz << 32 | (uint64_t)size << 12 | (eob ? F_EOB : 0) | (uint64_t)adv << 5 |
                (uint64_t)at;
            if (eob || at >= FIRST_BITS) {
                break;
            }
        }
        t->first[x] = e;
    }
}

static uint32_t div_up(uint32_t a, uint32_t b)
{
    return (uint32_t)(((uint64_t)a + b - 1) / b);
}

/* start_pass_phuff_decoder()'s checks (errors and warnings both), the
 * MCU layout of per_scan_setup(), latch_quant_tables(), and the tables. */
static int start_scan(struct sitx_jpeg_quick *q)
{
    struct scan *sc = &q->scan;
    int si, k, blocks = 0;

    q->scans++;
    if (!q->progressive) {
        /* libjpeg warns when a sequential scan is not the whole band. */
        if (q->scans > 1 || sc->ncomp != q->ncomp || sc->Ss != 0 || sc->Se != 63 || sc->Ah != 0 ||
            sc->Al != 0) {
            return -1;
        }
    } else if (sc->Ss == 0 ? sc->Se != 0 : (sc->Ss > sc->Se || sc->Se > 63 || sc->ncomp != 1)) {
        return -1;
    }
    if ((sc->Ah != 0 && sc->Al != sc->Ah - 1) || sc->Al > 13) {
        return -1;
    }
    for (si = 0; si < sc->ncomp && q->progressive; si++) {
        struct comp *c = &q->comp[sc->comp[si]];

        if (sc->Ss != 0 && c->bit[0] < 0) {
            return -1; /* AC before any DC */
        }
        for (k = sc->Ss; k <= sc->Se; k++) {
            if (sc->Ah != (c->bit[k] < 0 ? 0 : c->bit[k])) {
                return -1;
            }
            c->bit[k] = (int8_t)sc->Al;
        }
    }
    for (si = 0; si < sc->ncomp; si++) {
        struct comp *c = &q->comp[sc->comp[si]];

        if (!c->latched) {
            if (!q->quant_defined[c->quant]) {
                return -1;
            }
            c->latched = 1;
        }
        sc->blocks[si] = sc->ncomp == 1 ? 1 : c->h * c->v;
        blocks += sc->blocks[si];
    }
    if (blocks > 10) {
        return -1;
    }
    sc->mcu_blocks = blocks;
    sc->band = band(sc->Ss, sc->Se);
    if (sc->ncomp == 1) {
        struct comp *c = &q->comp[sc->comp[0]];

        sc->mcus_per_row = c->bw;
        sc->mcus = c->bw * c->bh;
        if (q->progressive && sc->Ss != 0 && c->nz == NULL) {
            c->nz = calloc((size_t)c->bw * c->bh, sizeof(*c->nz));
            if (c->nz == NULL) {
                return -1; /* the full path reports the memory */
            }
        }
        sc->nz = c->nz;
    } else {
        sc->nz = NULL;
        sc->mcus_per_row = div_up(q->width, 8u * (uint32_t)q->max_h);
        sc->mcus = sc->mcus_per_row * div_up(q->height, 8u * (uint32_t)q->max_v);
    }
    return 0;
}

/* What a scan uses a table for: an AC table gets the extra table its
 * decoder reads. */
enum table_use { T_DC, T_SEQUENTIAL, T_FIRST, T_REFINE };

/* Table t (0-3) for this use, built as jpeg_make_d_derived_tbl() would;
 * NULL when it is missing or bad. */
static struct htab *table(struct sitx_jpeg_quick *q, enum table_use use, int t)
{
    int is_dc = use == T_DC;
    struct htab *h;
    uint32_t x;

    if (t < 0 || t > 3) {
        return NULL;
    }
    h = is_dc ? &q->dc_tab[t] : &q->ac_tab[t];
    if (htab_build(h, is_dc ? &q->dc_raw[t] : &q->ac_raw[t], is_dc) != 0) {
        return NULL;
    }
    if (is_dc) {
        return h;
    }
    h->multi = h->refine = NULL;
    h->first = NULL;
    switch (use) {
    case T_DC:
        break;
    case T_SEQUENTIAL:
        h->multi = q->ac_ext[t].multi;
        multi_build(h);
        break;
    case T_FIRST:
        h->first = q->ac_ext[t].first;
        first_build(h);
        break;
    case T_REFINE:
        h->refine = q->ac_ext[t].refine;
        for (x = 0; x < (1u << FAST_BITS); x++) {
            uint32_t e = h->fast[x];

            h->refine[x] = e != 0 ? refine_entry((int)(e >> 8), (int)(e & 0xFF)) : 0;
        }
        break;
    }
    return h;
}

/* The scan's tables, after start_scan(): DC first needs the DC tables of
 * its components, AC scans their AC table, DC refinement none, and a
 * sequential scan both of each component. */
static int scan_tables(struct sitx_jpeg_quick *q, const int dc_no[4], const int ac_no[4])
{
    struct scan *sc = &q->scan;
    int si, dc = sc->Ss == 0 && sc->Ah == 0, ac = sc->Ss != 0 || !q->progressive;
    enum table_use use = !q->progressive ? T_SEQUENTIAL : sc->Ah == 0 ? T_FIRST : T_REFINE;

    for (si = 0; si < sc->ncomp; si++) {
        sc->dc[si] = dc ? table(q, T_DC, dc_no[si]) : NULL;
        sc->ac[si] = ac ? table(q, use, ac_no[si]) : NULL;
        if ((dc && sc->dc[si] == NULL) || (ac && sc->ac[si] == NULL)) {
            return -1;
        }
    }
    return 0;
}

static void begin_data(struct sitx_jpeg_quick *q)
{
    struct scan *sc = &q->scan;

    sc->next = 0;
    sc->col = 0;
    sc->eobrun = 0;
    sc->to_go = q->restart_interval;
    sc->next_rst = 0;
    memset(sc->last_dc, 0, sizeof(sc->last_dc));
    memset(&q->br, 0, sizeof(q->br));
    q->phase = PH_SCAN;
}

/* A scan whose header is in q->scan: checked, counted, and its data next.
 * 0, -1 to step aside, or SITX_E_LIMIT past the scan limit. */
static int begin_scan(struct sitx_jpeg_quick *q, const int dc_no[4], const int ac_no[4])
{
    if (start_scan(q) != 0 || scan_tables(q, dc_no, ac_no) != 0) {
        return -1;
    }
    /* libjpeg checks the scan before its progress monitor counts it; past
     * the limit the verdict is the same, and the full path would only
     * decode every scan before it again to give it. */
    if (q->max_scans > 0 && q->scans > q->max_scans) {
        sitx_image_seterr(q->err, "JPEG: more than %u scans (scan limit)", q->max_scans);
        return SITX_E_LIMIT;
    }
    begin_data(q);
    return 0;
}

/* The frame component with this id, which must come after prev in frame
 * order (libjpeg-turbo versions differ on scans that list them otherwise). */
static int find_comp(const struct sitx_jpeg_quick *q, int id, int prev)
{
    int ci;

    for (ci = prev + 1; ci < q->ncomp; ci++) {
        if (q->comp[ci].id == id) {
            return ci;
        }
    }
    return -1;
}

static unsigned be16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static int parse_sos(struct sitx_jpeg_quick *q, const uint8_t *p, unsigned len)
{
    struct scan *sc = &q->scan;
    int dc_no[4], ac_no[4];
    int n = len >= 1 ? p[0] : 0, i, prev = -1;

    if (n < 1 || n > 4 || len != (unsigned)(2 * n + 4)) {
        return -1;
    }
    sc->ncomp = n;
    for (i = 0; i < n; i++) {
        int ci = find_comp(q, p[1 + 2 * i], prev);

        if (ci < 0) {
            return -1;
        }
        sc->comp[i] = ci;
        dc_no[i] = p[2 + 2 * i] >> 4;
        ac_no[i] = p[2 + 2 * i] & 15;
        prev = ci;
    }
    p += 1 + 2 * n;
    sc->Ss = p[0];
    sc->Se = p[1];
    sc->Ah = p[2] >> 4;
    sc->Al = p[2] & 15;
    return begin_scan(q, dc_no, ac_no);
}

/* get_dht(): tables until the segment ends exactly. */
static int parse_dht(struct sitx_jpeg_quick *q, const uint8_t *p, unsigned len)
{
    while (len > 16) {
        struct raw_table *t;
        unsigned count = 0;
        int i, idx = p[0];

        for (i = 1; i <= 16; i++) {
            count += p[i];
        }
        if (count > 256 || count > len - 17) {
            return -1;
        }
        if (idx >= 0x10 && idx <= 0x13) {
            t = &q->ac_raw[idx - 0x10];
        } else if (idx <= 0x03) {
            t = &q->dc_raw[idx];
        } else {
            return -1;
        }
        t->defined = 1;
        t->bits[0] = 0;
        memcpy(t->bits + 1, p + 1, 16);
        memset(t->val, 0, sizeof(t->val));
        memcpy(t->val, p + 17, count);
        p += 17 + count;
        len -= 17 + count;
    }
    return len == 0 ? 0 : -1;
}

/* get_dqt(): whole tables of 8 or 16 bits until the segment ends exactly. */
static int parse_dqt(struct sitx_jpeg_quick *q, const uint8_t *p, unsigned len)
{
    while (len > 0) {
        unsigned size = 1 + (p[0] >> 4 != 0 ? 128 : 64);

        if ((p[0] & 15) > 3 || len < size) {
            return -1;
        }
        q->quant_defined[p[0] & 15] = 1;
        p += size;
        len -= size;
    }
    return 0;
}

/* Bytes held from pos on. */
static size_t held(const struct sitx_jpeg_quick *q)
{
    return q->len - q->pos;
}

/* At a marker: 0 done with it (or waiting for more bytes), -1 to step aside. */
static int marker(struct sitx_jpeg_quick *q, int *wait)
{
    const uint8_t *p = q->buf + q->pos;
    unsigned code, len;
    int rc;

    if (held(q) < 2 || (p[1] != 0xD9 && held(q) < 4)) {
        *wait = 1;
        return q->eof ? -1 : 0;
    }
    code = p[1];
    if (p[0] != 0xFF) {
        return -1;
    }
    if (code == 0xD9) {
        q->pos += 2;
        q->phase = PH_DONE;
        return 0;
    }
    len = be16(p + 2);
    if (len < 2) {
        return -1;
    }
    if ((code >= 0xE1 && code <= 0xED) || code == 0xEF || code == 0xFE) {
        q->pos += 4;
        q->skip = len - 2;
        q->phase = PH_SKIP;
        return 0;
    }
    if (code != 0xC4 && code != 0xDB && code != 0xDD && code != 0xDA) {
        return -1;
    }
    if (held(q) < 2 + (size_t)len) {
        *wait = 1;
        return q->eof ? -1 : 0;
    }
    p += 4;
    len -= 2;
    switch (code) {
    case 0xC4:
        rc = parse_dht(q, p, len);
        break;
    case 0xDB:
        rc = parse_dqt(q, p, len);
        break;
    case 0xDD:
        rc = len == 2 ? 0 : -1;
        q->restart_interval = rc == 0 ? be16(p) : 0;
        break;
    default:
        rc = 0;
        break;
    }
    q->pos += 4 + len;
    if (rc == 0 && code == 0xDA) {
        rc = parse_sos(q, p, len);
    } else if (rc == 0) {
        q->phase = PH_MARKER;
    }
    return rc;
}

/* After the last MCU: at most the padding of the last byte is left, and a
 * marker follows at once (libjpeg would count other bytes as extraneous). */
static int scan_end(struct sitx_jpeg_quick *q, int *wait)
{
    const uint8_t *p = q->buf + q->pos;

    if (q->br.n >= 8) {
        return -1;
    }
    if (held(q) < 2) {
        *wait = 1;
        return q->eof ? -1 : 0;
    }
    if (p[0] != 0xFF || p[1] == 0x00 || p[1] == 0xFF || (p[1] >= 0xD0 && p[1] <= 0xD7)) {
        return -1;
    }
    q->phase = PH_MARKER;
    return 0;
}

/* As far as the held bytes go; 0, SITX_IMAGE_MORE, or a failure with its
 * message in q->err (cancelled, the scan limit). */
static int run(struct sitx_jpeg_quick *q)
{
    int wait = 0;

    while (!wait) {
        int rc = 0;

        switch (q->phase) {
        case PH_SCAN:
            rc = q->scan_data(q, &wait);
            break;
        case PH_END:
            rc = scan_end(q, &wait);
            break;
        case PH_MARKER:
            rc = marker(q, &wait);
            break;
        case PH_SKIP: {
            size_t n = held(q) < q->skip ? held(q) : q->skip;

            q->pos += n;
            q->skip -= n;
            if (q->skip > 0) {
                wait = 1;
                rc = q->eof ? -1 : 0;
            } else {
                q->phase = PH_MARKER;
            }
            break;
        }
        case PH_DONE:
            q->pos = q->len; /* nothing after EOI is read */
            return 0;
        }
        if (rc == SITX_E_CANCELLED || rc == SITX_E_LIMIT) {
            return rc;
        }
        if (rc != 0) {
            return SITX_IMAGE_MORE;
        }
    }
    return 0;
}

/* A table libjpeg read before the first scan, if any. */
static void copy_table(struct raw_table *r, const JHUFF_TBL *t)
{
    if (t != NULL) {
        r->defined = 1;
        memcpy(r->bits, t->bits, sizeof(t->bits));
        memcpy(r->val, t->huffval, sizeof(t->huffval));
    }
}

/* The components, tables and first scan libjpeg read; NULL (with 0) when
 * the shortcut does not apply to this header. */
int sitx_jpeg_quick_new(struct sitx_jpeg_quick **out, j_decompress_ptr c,
                        const struct sitx_image_limits *lim, struct sitx_image_ctl *ctl)
{
    struct sitx_jpeg_quick *q;
    int dc_no[4], ac_no[4];
    int ci, si, prev = -1;

    *out = NULL;
    if ((!c->progressive_mode && c->comps_in_scan != c->num_components) || c->arith_code ||
        c->data_precision != 8 || ctl->need > lim->max_memory ||
        !(c->num_components == 1 ||
          (c->num_components == 3 &&
           (c->jpeg_color_space == JCS_YCbCr || c->jpeg_color_space == JCS_RGB) &&
           c->comp_info[0].h_samp_factor <= 2 && c->comp_info[0].v_samp_factor <= 2 &&
           c->comp_info[1].h_samp_factor == 1 && c->comp_info[1].v_samp_factor == 1 &&
           c->comp_info[2].h_samp_factor == 1 && c->comp_info[2].v_samp_factor == 1))) {
        return 0;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL) {
        return SITX_E_NOMEM;
    }
    q->cap = 2 * MCU_MARGIN; /* grows as pieces arrive; never NULL */
    q->buf = malloc(q->cap);
    if (q->buf == NULL) {
        free(q);
        return SITX_E_NOMEM;
    }
    q->ctl = ctl;
    q->scan_data = sitx_jpeg_scan_data;
#ifdef SITX_CPU_VARIANTS
    if (sitx_cpu_bmi2()) {
        q->scan_data = sitx_jpeg_scan_data_bmi2;
    }
#endif
    q->max_scans = lim->max_scans > INT32_MAX ? INT32_MAX : lim->max_scans; /* as the full path */
    q->width = c->image_width;
    q->height = c->image_height;
    q->max_h = c->max_h_samp_factor;
    q->max_v = c->max_v_samp_factor;
    q->ncomp = c->num_components;
    q->progressive = c->progressive_mode != 0;
    q->restart_interval = c->restart_interval;
    for (ci = 0; ci < q->ncomp; ci++) {
        const jpeg_component_info *ji = &c->comp_info[ci];
        struct comp *qc = &q->comp[ci];
        int cj;

        qc->id = ji->component_id;
        qc->h = ji->h_samp_factor;
        qc->v = ji->v_samp_factor;
        qc->quant = ji->quant_tbl_no;
        qc->bw = ji->width_in_blocks;
        qc->bh = ji->height_in_blocks;
        memset(qc->bit, -1, sizeof(qc->bit));
        for (cj = 0; cj < ci; cj++) {
            if (q->comp[cj].id == qc->id) {
                goto not_here; /* libjpeg-turbo versions pick differently */
            }
        }
        if (qc->quant < 0 || qc->quant > 3) {
            goto not_here;
        }
    }
    for (ci = 0; ci < 4; ci++) {
        copy_table(&q->dc_raw[ci], c->dc_huff_tbl_ptrs[ci]);
        copy_table(&q->ac_raw[ci], c->ac_huff_tbl_ptrs[ci]);
        q->quant_defined[ci] = c->quant_tbl_ptrs[ci] != NULL;
    }
    if (c->comps_in_scan < 1 || c->comps_in_scan > 4) {
        goto not_here;
    }
    q->scan.ncomp = c->comps_in_scan;
    for (si = 0; si < c->comps_in_scan; si++) {
        ci = c->cur_comp_info[si]->component_index;
        if (ci <= prev) {
            goto not_here;
        }
        q->scan.comp[si] = ci;
        dc_no[si] = c->cur_comp_info[si]->dc_tbl_no;
        ac_no[si] = c->cur_comp_info[si]->ac_tbl_no;
        prev = ci;
    }
    q->scan.Ss = c->Ss;
    q->scan.Se = c->Se;
    q->scan.Ah = c->Ah;
    q->scan.Al = c->Al;
    if (begin_scan(q, dc_no, ac_no) != 0) {
        q->failed = 1; /* steps aside at the first feed */
    }
    *out = q;
    return 0;

not_here:
    free(q->buf);
    free(q);
    return 0;
}

int sitx_jpeg_quick_feed(struct sitx_jpeg_quick *q, const uint8_t *buf, size_t len)
{
    if (q->failed) {
        return SITX_IMAGE_MORE;
    }
    do {
        size_t n = len < FEED_PIECE ? len : FEED_PIECE;
        int rc;

        if (q->phase == PH_DONE) {
            return 0;
        }
        if (q->pos > 0) {
            memmove(q->buf, q->buf + q->pos, held(q));
            q->len -= q->pos;
            q->pos = 0;
        }
        if (q->len + n > q->cap) {
            size_t cap = q->cap < FEED_PIECE ? 2 * FEED_PIECE : q->cap;
            uint8_t *p;

            while (cap < q->len + n) {
                cap *= 2;
            }
            p = realloc(q->buf, cap);
            if (p == NULL) {
                return SITX_IMAGE_MORE; /* the full path reports the memory */
            }
            q->buf = p;
            q->cap = cap;
        }
        if (n > 0) {
            memcpy(q->buf + q->len, buf, n);
        }
        q->len += n;
        buf += n;
        len -= n;
        rc = run(q);
        if (rc != 0) {
            q->failed = 1;
            return rc;
        }
    } while (len > 0);
    return 0;
}

int sitx_jpeg_quick_finish(struct sitx_jpeg_quick *q)
{
    int rc;

    if (q->failed) {
        return SITX_IMAGE_MORE;
    }
    q->eof = 1;
    rc = run(q);
    if (rc != 0) {
        q->failed = 1;
        return rc;
    }
    return q->phase == PH_DONE ? 0 : SITX_IMAGE_MORE;
}

const char *sitx_jpeg_quick_errstr(const struct sitx_jpeg_quick *q)
{
    return q->err;
}

void sitx_jpeg_quick_free(struct sitx_jpeg_quick *q)
{
    int ci;

    if (q == NULL) {
        return;
    }
    for (ci = 0; ci < 3; ci++) {
        free(q->comp[ci].nz);
    }
    free(q->buf);
    free(q);
}
