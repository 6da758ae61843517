/* The inflate's fast loop over Huffman-coded data, where a PNG's
 * validation spends most of its time; inflate_strict.c hands over to it
 * while enough of the piece is left. inflate_fast_bmi2.c builds it a
 * second time for CPUs with BMI2, whose shifts by a variable count leave
 * the flags alone (SHRX): about 7 % faster here. */
#include <stddef.h>
#include <string.h>

#include "inflate_strict_int.h"

#ifndef CODED_FAST
#define CODED_FAST sitx_inflate_coded_fast
#endif

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* 8 bytes into the bit buffer, of which the whole ones that fit count:
 * 56 bits or more are then held. The bits above those counted are the
 * stream's own, and the next load puts the same there. */
static inline void refill_fast(uint64_t *b, unsigned *nb, const uint8_t **in)
{
    *b |= load64(*in) << *nb;
    *in += (63 - *nb) >> 3;
    *nb |= 56;
}

/* P_CODED while at least FAST_IN bytes are left. The bit buffer takes 8
 * bytes at a time and then holds 56 bits or more; a literal pair, or a
 * length with its extra bits (20 bits at most), fits in that. A match
 * refills again before its distance (28 bits at most). The next entry is
 * looked up before the current output is written, so that the lookup's
 * latency overlaps the copy; it needs LROOT bits at hand, which each path
 * leaves. */
#define FAST_IN 16 /* two refills of up to 8 bytes, each moving up to 7 */
int CODED_FAST(struct sitx_inflate *d, const uint8_t **inp, const uint8_t *start,
               const uint8_t *end)
{
    const uint8_t *in = *inp;
    uint64_t b = d->bits, saved;
    unsigned nb = d->nbits, k;
    uint8_t *w = d->win;
    size_t out = d->out;
    uint32_t e;
    int r = R_NEED;

    if (end - in < FAST_IN) {
        return R_NEED;
    }
    refill_fast(&b, &nb, &in);
    e = d->ltab[b & MASK(LROOT)];
    while (end - in >= FAST_IN) {
        uint32_t de;
        size_t len, dist;
        uint8_t *o;
        const uint8_t *s;

        if (out > FAST_LIMIT) {
            d->out = out;
            if (sitx_inflate_make_room(d) != 0) {
                r = R_FAIL;
                break;
            }
            out = d->out;
        }
        refill_fast(&b, &nb, &in);
        if (E_KIND(e) == K_SUB) {
            b >>= LROOT;
            nb -= LROOT;
            e = d->ltab[E_VAL(e) + (b & MASK(E_LEN(e)))];
        }
        saved = b;
        b >>= E_USED(e);
        nb -= E_USED(e);
        if (E_KIND(e) == K_LIT) {
            /* 41 bits or more are left (56 less a 15-bit code): room for
             * another literal of the main table, and the next lookup. */
            w[out++] = (uint8_t)E_VAL(e);
            e = d->ltab[b & MASK(LROOT)];
            if (E_KIND(e) == K_LIT) {
                b >>= E_USED(e);
                nb -= E_USED(e);
                w[out++] = (uint8_t)E_VAL(e);
                e = d->ltab[b & MASK(LROOT)];
            }
            continue;
        }
        if (E_KIND(e) != K_LEN) {
            r = E_KIND(e) == K_EOB ? R_DONE : R_FAIL;
            break;
        }
        len = E_VAL(e) + ((saved >> E_LEN(e)) & MASK(E_EXTRA(e)));
        /* 36 bits or more are left: the distance's entry is looked up
         * before the refill, which then stays off its latency. */
        de = d->dtab[b & MASK(DROOT)];
        refill_fast(&b, &nb, &in);
        if (E_KIND(de) == K_SUB) {
            b >>= DROOT;
            nb -= DROOT;
            de = d->dtab[E_VAL(de) + (b & MASK(E_LEN(de)))];
        }
        saved = b;
        b >>= E_USED(de);
        nb -= E_USED(de);
        if (E_KIND(de) != K_DIST) {
            r = R_FAIL;
            break;
        }
        dist = E_VAL(de) + ((saved >> E_LEN(de)) & MASK(E_EXTRA(de)));
        if (dist > out) {
            r = R_FAIL;
            break;
        }
        e = d->ltab[b & MASK(LROOT)]; /* 28 bits or more are left */
        o = w + out;
        s = o - dist;
        out += len;
        if (dist >= 16) {
            /* Each 16 bytes read were written before. The first 32 go
             * without a test: a photo's matches take 27 bytes on average,
             * and a loop of one or two turns mispredicts its exit. Up to
             * 31 bytes past the match are written too, inside the slack,
             * and later overwritten. */
            memcpy(o, s, 16);
            memcpy(o + 16, s + 16, 16);
            o += 32;
            s += 32;
            while (o < w + out) {
                memcpy(o, s, 16);
                o += 16;
                s += 16;
            }
        } else if (dist >= 8) {
            do {
                memcpy(o, s, 8);
                o += 8;
                s += 8;
            } while (o < w + out);
        } else if (dist == 1) {
            memset(o, s[0], len);
        } else {
            while (o < w + out) {
                *o++ = *s++;
            }
        }
    }
    /* Give back whole bytes read ahead of the bits in use (those of this
     * piece only), so the slow steps see exact input. */
    k = nb >> 3;
    if ((size_t)(in - start) < k) {
        k = (unsigned)(in - start);
    }
    in -= k;
    nb -= 8 * k;
    b &= MASK(nb);
    d->bits = b;
    d->nbits = nb;
    d->out = out;
    *inp = in;
    return r;
}
