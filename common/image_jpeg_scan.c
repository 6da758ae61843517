/* A scan's entropy-coded data, Huffman-decoded as libjpeg-turbo's
 * decoders (jdhuff.c, jdphuff.c) read it; image_jpeg_fast.c says what is
 * taken and what makes the shortcut step aside. This is where a JPEG's
 * validation spends its time, so image_jpeg_scan_bmi2.c builds it a
 * second time for CPUs with BMI2 and POPCNT: a refinement code's target
 * coefficient is then one PDEP, and counting correction bits one POPCNT.
 * Both builds decode the same, and the tests run both. */
#include <string.h>

#ifdef __BMI2__
#include <immintrin.h>
#endif

#include "err.h"
#include "image_jpeg_fast_int.h"

/* Correction bits skipped at once for blocks of a refinement scan's EOB
 * run: with a block's 63 more and stuffed zeros, within MCU_MARGIN. */
#define EOB_SKIP_BITS 12288

#ifndef SCAN_DATA
#define SCAN_DATA sitx_jpeg_scan_data
#endif

/* Loads whole bytes until 57 bits are held (56 from 8 bytes without 0xFF,
 * loaded at once) or the data ends: at a marker,
 * at the end of what has arrived, or at a fill byte (stepped aside on
 * when the bits are needed). A stuffed zero after 0xFF is dropped. */
static inline void refill(struct bits *b)
{
    if (b->end - b->p >= 8 && b->n >= 0) {
        uint64_t v, x;

        memcpy(&v, b->p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        x = ~v;
        if (((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull) == 0) {
            /* No 0xFF in the next 8 bytes, so nothing to unstuff: as many
             * whole bytes as fit. The bits of the rest, below them, are
             * the stream's own, and a later load puts the same there. */
            int k = (63 - b->n) >> 3;

            b->acc |= v >> b->n;
            b->p += k;
            b->n += 8 * k;
            return;
        }
    }
    while (b->n <= 56 && b->p < b->end) {
        uint8_t c = b->p[0];

        if (c == 0xFF) {
            if (b->p + 1 >= b->end) {
                return;
            }
            if (b->p[1] != 0x00) {
                b->at_marker = 1;
                return;
            }
            b->p += 2;
        } else {
            b->p++;
        }
        b->acc |= (uint64_t)c << (56 - b->n);
        b->n += 8;
    }
}

static inline void need(struct bits *b, int n)
{
    if (b->n < n) {
        refill(b);
    }
}

/* n in 1..16; the bits must have been asked for with need(). */
static inline uint32_t take(struct bits *b, int n)
{
    uint32_t v = (uint32_t)(b->acc >> (64 - n));

    b->acc <<= n;
    b->n -= n;
    return v;
}

/* The next symbol, or -1 for a code no table has. */
static inline int decode(struct bits *b, const struct htab *t)
{
    uint32_t e, v;
    int l;

    need(b, 32);
    e = t->fast[b->acc >> (64 - FAST_BITS)];
    if (e != 0) {
        (void)take(b, (int)(e >> 8));
        return (int)(e & 0xFF);
    }
    v = (uint32_t)(b->acc >> 48);
    for (l = FAST_BITS + 1; l <= 16; l++) {
        int32_t code = (int32_t)(v >> (16 - l));

        if (code <= t->maxcode[l]) {
            (void)take(b, l);
            return t->sym[(code + t->valoff[l]) & 0xFF];
        }
    }
    return -1;
}

/* The next AC symbol, its size's value bits taken with its code in one
 * shift; -1 for a code no table has. */
static inline int decode_ac(struct bits *b, const struct htab *t)
{
    uint32_t e;
    int rs;

    need(b, 32);
    e = t->fast[b->acc >> (64 - FAST_BITS)];
    if (e != 0) {
        int n = (int)(e >> 8) + (int)(e & 15); /* 25 bits at most */

        b->acc <<= n;
        b->n -= n;
        return (int)(e & 0xFF);
    }
    rs = decode(b, t);
    if (rs > 0 && (rs & 15) != 0) {
        (void)take(b, rs & 15);
    }
    return rs;
}

/* Skips n bits, any number, 56 at a time: past the data, b->n goes
 * below 0. */
static void skip_long(struct bits *b, int n)
{
    while (n > 0) {
        int k = n < 56 ? n : 56;

        need(b, k);
        if (b->n < k) {
            b->n = -1;
            return;
        }
        b->acc <<= k;
        b->n -= k;
        n -= k;
    }
}

/* Skips n bits (correction bits, and maybe a code before them): at once
 * when they are held. */
static inline void skip_bits(struct bits *b, int n)
{
    if (n < b->n) {
        b->acc <<= n;
        b->n -= n;
        return;
    }
    skip_long(b, n);
}

/* A DC difference: its code and value bits in one shift, and the value
 * extended without a branch (a zero difference is common, and a branch on
 * it mispredicts). */
static inline int dc_first(struct scan *sc, struct bits *b, int si)
{
    const struct htab *t = sc->dc[si];
    uint32_t e, v, neg;
    int s;

    need(b, 32);
    e = t->fast[b->acc >> (64 - FAST_BITS)];
    if (e != 0) {
        int n = (int)(e >> 8) + (int)(e & 15); /* DC symbols are sizes up to 15 */

        s = (int)(e & 15);
        v = (uint32_t)(b->acc >> (64 - n)) & ((1u << s) - 1);
        b->acc <<= n;
        b->n -= n;
    } else {
        s = decode(b, t);
        if (s < 0) {
            return -1;
        }
        v = s > 0 ? take(b, s) : 0;
    }
    /* Below 2^(s - 1) a value is negative: v - (2^s - 1). v - 2^(s - 1)
     * wraps exactly then (both are below 2^15), and its top bit makes the
     * mask: arithmetic, as a compare there would become a branch. */
    neg = 0 - ((v - (1u << s >> 1)) >> 31);
    sc->last_dc[si] += (int32_t)v - (int32_t)(neg & ((1u << s) - 1));
    /* libjpeg errs on int overflow of the sum; stay well clear of it. */
    if (sc->last_dc[si] > (1 << 24) || sc->last_dc[si] < -(1 << 24)) {
        return -1;
    }
    return 0;
}

static int ac_first(struct scan *sc, struct bits *b, uint64_t *nz)
{
    int k;

    if (sc->eobrun > 0) {
        sc->eobrun--;
        return 0;
    }
    for (k = sc->Ss; k <= sc->Se; k++) {
        uint64_t e;
        int rs, r, s;

        need(b, 32);
        e = sc->ac[0]->first[b->acc >> (64 - FIRST_BITS)];
        /* Several codes, all inside the band: an EOB0 too, which is read
         * only at a coefficient of the band. */
        if (e != 0 && k + F_ADV(e) + (int)(e >> 11 & 1) <= sc->Se + 1 && F_SIZE(e) + sc->Al <= 15) {
            b->acc <<= F_USED(e);
            b->n -= F_USED(e);
            *nz |= F_NZ(e) << k;
            k += F_ADV(e) - 1;
            if (e & F_EOB) {
                break;
            }
            continue;
        }
        rs = decode_ac(b, sc->ac[0]);
        r = rs >> 4;
        s = rs & 15;
        if (rs < 0) {
            return -1;
        }
        if (s != 0) {
            k += r;
            /* Past the band libjpeg writes some other coefficient; past
             * 16 bits its value wraps, maybe to zero. */
            if (k > sc->Se || s + sc->Al > 15) {
                return -1;
            }
            *nz |= 1ull << k;
        } else if (r == 15) {
            k += 15;
        } else {
            sc->eobrun = 1u << r;
            if (r > 0) {
                sc->eobrun += take(b, r);
            }
            sc->eobrun--;
            break;
        }
    }
    return 0;
}

/* Without the POPCNT instruction of the baseline x86-64 the builtin is a
 * library call; this is a handful of operations. */
static inline int popcount(uint64_t x)
{
#ifdef __POPCNT__
    return __builtin_popcountll(x);
#endif
    x = x - (x >> 1 & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + (x >> 2 & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

/* A sequential block: the DC difference, then AC codes to the end of the
 * block, as many at a time as the multi table holds. Where a run passes
 * coefficient 63 libjpeg stops as here (its zigzag table is padded), and
 * nothing later depends on the values. */
static int seq_block(struct scan *sc, struct bits *b, int si)
{
    const struct htab *t = sc->ac[si];
    int k;

    if (dc_first(sc, b, si) != 0) {
        return -1;
    }
    for (k = 1; k < 64;) {
        uint32_t e;
        int n;

        need(b, 32);
        e = t->multi[b->acc >> (64 - MULTI_BITS)];
        if (e == 0) {
            int rs = decode_ac(b, t), r = rs >> 4, s = rs & 15;

            if (rs < 0) {
                return -1;
            }
            if (s == 0 && r != 15) {
                break;
            }
            k += s != 0 ? r + 1 : 16;
            continue;
        }
        if (k + M_ADV(e) < 64) {
            n = M_USED(e);
            k += M_ADV(e);
        } else {
            /* The block may end before the entry's last code. */
            n = M_USED1(e);
            k += M_ADV1(e);
            e = e & M_EOB1 ? M_EOB : 0;
        }
        b->acc <<= n;
        b->n -= n;
        if (e & M_EOB) {
            break;
        }
    }
    return 0;
}

/* The (r + 1)th set bit of zeros (a coefficient with no history yet), or
 * 0 when there are fewer; e is the code's refine entry. */
static inline uint64_t nth_zero(uint64_t zeros, uint32_t e)
{
#ifdef __BMI2__
    return _pdep_u64(R_SRC(e), zeros);
#else
    int r = R_RUN(e);

    if (r <= 3) {
        /* Branch-free for the short runs most codes have. */
        int i;

        for (i = 0; i < 3; i++) {
            zeros ^= zeros & (0 - zeros) & (0 - (uint64_t)(i < r));
        }
    } else {
        while (r-- > 0 && zeros != 0) {
            zeros &= zeros - 1;
        }
    }
    return zeros & (0 - zeros);
#endif
}

/* A block of an AC refinement scan. left holds the band's positions from
 * k on, so the block is done when it is empty. A code, its new
 * coefficient's sign and the correction bits up to that coefficient go
 * in one shift, which the refine entry makes short: its PDEP source and
 * bit count come straight from the lookup. */
static int ac_refine(struct scan *sc, struct bits *b, uint64_t *nz)
{
    const struct htab *t = sc->ac[0];
    uint64_t have = *nz, left = sc->band & (~0ull << sc->Ss);
    int k = sc->Ss;

    while (sc->eobrun == 0 && left != 0) {
        uint32_t e;
        uint64_t at_bit;
        int at;

        need(b, 32);
        e = t->refine[b->acc >> (64 - FAST_BITS)];
        if (e == 0) {
            int rs = decode(b, t);

            if (rs < 0) {
                return -1;
            }
            e = refine_entry(0, rs); /* the code is taken */
        }
        if (e & (R_BAD | R_EOB)) {
            if (e & R_BAD) {
                return -1; /* libjpeg warns on a new coefficient of size > 1 */
            }
            skip_bits(b, R_USED(e));
            sc->eobrun = 1u << R_RUN(e);
            if (R_RUN(e) > 0) {
                sc->eobrun += take(b, R_RUN(e));
            }
            break;
        }
        /* Past r zero coefficients to the next zero one (the new
         * coefficient, or the last of a run of 16), with a correction bit
         * for each non-zero one on the way. */
        at_bit = nth_zero(~have & left, e);
        if (at_bit == 0) {
            if (e & R_NEW) {
                return -1; /* libjpeg would write outside the band */
            }
            skip_bits(b, R_USED(e) + popcount(have & left));
            left = 0;
            break;
        }
        at = __builtin_ctzll(at_bit);
        /* those passed but not skipped are non-zero */
        skip_bits(b, R_USED(e) - R_RUN(e) - k + at);
        have |= at_bit & (0 - (uint64_t)(e >> 25 & 1));
        k = at + 1;
        left &= 0 - (at_bit << 1); /* positions after at; none past 63 */
    }
    if (sc->eobrun > 0) {
        skip_bits(b, popcount(have & left));
        sc->eobrun--;
    }
    *nz = have;
    return 0;
}

/* One MCU of the scan; -1 to step aside. */
static int decode_mcu(struct sitx_jpeg_quick *q, struct bits *b)
{
    struct scan *sc = &q->scan;
    int si, n;

    if (q->progressive && sc->Ss == 0 && sc->Ah != 0) {
        skip_bits(b, sc->mcu_blocks); /* DC refinement: a bit a block */
    } else if (sc->Ss == 0) {
        for (si = 0; si < sc->ncomp; si++) {
            for (n = 0; n < sc->blocks[si]; n++) {
                if ((q->progressive ? dc_first(sc, b, si) : seq_block(sc, b, si)) != 0) {
                    return -1;
                }
            }
        }
    } else {
        uint64_t *nz = &sc->nz[sc->next];

        if ((sc->Ah == 0 ? ac_first(sc, b, nz) : ac_refine(sc, b, nz)) != 0) {
            return -1;
        }
    }
    return b->n < 0 ? -1 : 0;
}

int SCAN_DATA(struct sitx_jpeg_quick *q, int *wait)
{
    struct scan *sc = &q->scan;
    struct bits br = q->br; /* a local copy stays in registers */
    struct bits *b = &br;

    b->p = q->buf + q->pos;
    b->end = q->buf + q->len;
    while (sc->next < sc->mcus) {
        uint32_t n = 1;

        if (q->restart_interval != 0 && sc->to_go == 0) {
            /* process_restart(): the interval's data ends with the byte
             * its last bit is in (whole bytes left over are extraneous),
             * then the expected RSTn; predictions and EOB run restart. */
            if (b->n >= 8 || (b->end - b->p < 2 && q->eof)) {
                return -1;
            }
            if (b->end - b->p < 2) {
                *wait = 1;
                break;
            }
            if (b->p[0] != 0xFF || b->p[1] != 0xD0 + sc->next_rst) {
                return -1;
            }
            b->p += 2;
            b->acc = 0;
            b->n = 0;
            b->at_marker = 0;
            sc->next_rst = (sc->next_rst + 1) & 7;
            sc->to_go = q->restart_interval;
            sc->eobrun = 0;
            memset(sc->last_dc, 0, sizeof(sc->last_dc));
        }
        if (!b->at_marker && !q->eof && (size_t)(b->end - b->p) < MCU_MARGIN) {
            *wait = 1;
            break;
        }
        if (sc->eobrun > 0 && q->progressive && sc->Ss != 0 && sc->Ah == 0) {
            /* A first AC scan's blocks in an EOB run have no bits: the run
             * is passed to the end of the row or restart interval. */
            n = sc->mcus_per_row - sc->col;
            n = n < sc->eobrun ? n : sc->eobrun;
            n = q->restart_interval != 0 && sc->to_go < n ? sc->to_go : n;
            sc->eobrun -= n;
        } else if (sc->eobrun > 0 && sc->Ah != 0 && sc->Ss != 0) {
            /* A refinement scan's blocks in an EOB run have a correction
             * bit for each non-zero coefficient of the band: a run's worth
             * of them is skipped at once, as far as the margin goes. */
            const uint64_t *nz = &sc->nz[sc->next];
            uint32_t most = sc->mcus_per_row - sc->col, bits = 0;

            most = most < sc->eobrun ? most : sc->eobrun;
            most = q->restart_interval != 0 && sc->to_go < most ? sc->to_go : most;
            for (n = 0; n < most && bits <= EOB_SKIP_BITS; n++) {
                bits += (uint32_t)popcount(nz[n] & sc->band);
            }
            skip_bits(b, (int)bits);
            if (b->n < 0) {
                return -1;
            }
            sc->eobrun -= n;
        } else if (decode_mcu(q, b) != 0) {
            return -1;
        }
        sc->to_go -= n;
        sc->next += n;
        sc->col += n;
        if (sc->col == sc->mcus_per_row) {
            sc->col = 0;
        }
        if (sc->col == 0 && sitx_image_cancelled(q->ctl)) {
            sitx_image_seterr(q->err, "JPEG: " SITX_IMAGE_CANCEL_MSG);
            return SITX_E_CANCELLED;
        }
    }
    q->pos = (size_t)(b->p - q->buf);
    q->br = br;
    if (sc->next == sc->mcus) {
        q->phase = PH_END;
    }
    return 0;
}
