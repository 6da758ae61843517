/* See inflate_strict.h. zlib's inflate was half of the receiver's CPU on a
 * batch of images; most of it is refilling the bit buffer a byte at a time
 * and copying matches a byte at a time. The fast loop (inflate_fast.c)
 * takes 8 bytes into the bit buffer at once and copies matches 8 or 16
 * bytes at a time while enough of the piece is left. Near the end of a
 * piece every step is checked bit for bit, here, so a piece can end
 * anywhere: a code or a header that does not fit waits in the bit buffer
 * for the next piece.
 *
 * Decode tables: a code of up to ROOT bits is found in one lookup of the
 * next ROOT bits (read least significant bit first, so a code sits in the
 * table bit-reversed and repeated); a longer one through a subtable for
 * its first ROOT bits. */
#include "inflate_strict_int.h"

#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "err.h"

static const uint16_t len_base[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                      15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                      67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
/* The order the code length code's lengths come in. */
static const uint8_t clen_order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                       11, 4,  12, 3, 13, 2, 14, 1, 15};

enum code_kind { C_LITLEN, C_DIST, C_CLEN };

/* The entry for a symbol, without its code's bits. */
static uint32_t symbol_entry(enum code_kind kind, unsigned sym)
{
    if (kind == C_CLEN) {
        return ENTRY(0, 0, K_LIT, sym);
    }
    if (kind == C_DIST) {
        return sym < 30 ? ENTRY(dist_extra[sym], 0, K_DIST, dist_base[sym]) : ENTRY(0, 0, K_BAD, 0);
    }
    if (sym < 256) {
        return ENTRY(0, 0, K_LIT, sym);
    }
    if (sym == 256) {
        return ENTRY(0, 0, K_EOB, 0);
    }
    sym -= 257;
    return sym < 29 ? ENTRY(len_extra[sym], 0, K_LEN, len_base[sym]) : ENTRY(0, 0, K_BAD, 0);
}

static unsigned reverse(unsigned code, unsigned len)
{
    unsigned r = 0;

    while (len-- > 0) {
        r = r << 1 | (code & 1);
        code >>= 1;
    }
    return r;
}

/* Builds the decode table of n code lengths. -1 for a set zlib refuses:
 * over-subscribed, or incomplete but for the one case it takes. */
static int build(uint32_t *tab, unsigned root, const uint8_t *lens, unsigned n, enum code_kind kind)
{
    unsigned count[16] = {0}, next[16], len, i, k = 0, code = 0, max = 0;
    unsigned next_sub = 1u << root, sub = 0, prefix = ~0u, sub_bits;
    uint16_t sorted[288];
    int left = 1;

    for (i = 0; i < n; i++) {
        count[lens[i]]++;
    }
    for (len = 1; len <= 15; len++) {
        left = left * 2 - (int)count[len];
        if (left < 0) {
            return -1;
        }
        if (count[len] > 0) {
            max = len;
        }
    }
    if (left != 0) {
        /* zlib takes one incomplete set: a literal/length or distance code
         * of one 1-bit code (or a distance code of none), the unused codes
         * refused when they come. */
        if (kind == C_CLEN || max > 1 || (max == 0 && kind != C_DIST)) {
            return -1;
        }
        for (i = 0; i < (1u << root); i++) {
            tab[i] = ENTRY(1, 1, K_BAD, 0);
        }
    }
    next[1] = 0;
    for (len = 1; len < 15; len++) {
        next[len + 1] = next[len] + count[len];
    }
    for (i = 0; i < n; i++) {
        if (lens[i] != 0) {
            sorted[next[lens[i]]++] = (uint16_t)i;
        }
    }
    sub_bits = max > root ? max - root : 0;
    for (len = 1; len <= max; len++) {
        for (i = 0; i < count[len]; i++, k++, code++) {
            uint32_t e = symbol_entry(kind, sorted[k]);
            unsigned j;

            if (len <= root) {
                for (j = reverse(code, len); j < (1u << root); j += 1u << len) {
                    tab[j] = e + ENTRY(len, len, 0, 0);
                }
                continue;
            }
            /* Codes in canonical order: those sharing their first root bits
             * come one after another, so each subtable is filled at once. */
            if (code >> (len - root) != prefix) {
                prefix = code >> (len - root);
                sub = next_sub;
                next_sub += 1u << sub_bits;
                tab[reverse(prefix, root)] = ENTRY(root, sub_bits, K_SUB, sub);
            }
            for (j = reverse(code & (unsigned)MASK(len - root), len - root); j < (1u << sub_bits);
                 j += 1u << (len - root)) {
                tab[sub + j] = e + ENTRY(len - root, len - root, 0, 0);
            }
        }
        code <<= 1;
    }
    return 0;
}

static int build_fixed(struct sitx_inflate *d)
{
    uint8_t lens[288];
    unsigned i;

    for (i = 0; i < 288; i++) {
        lens[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    }
    if (build(d->ltab, LROOT, lens, 288, C_LITLEN) != 0) {
        return -1;
    }
    memset(lens, 5, 32);
    return build(d->dtab, DROOT, lens, 32, C_DIST);
}

int sitx_inflate_new(struct sitx_inflate **out, sitx_inflate_sink sink, void *ctx)
{
    /* Zeroed, so that 8-byte match copies never read unset bytes. */
    struct sitx_inflate *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (d == NULL) {
        return SITX_E_NOMEM;
    }
    d->sink = sink;
    d->ctx = ctx;
    d->coded_fast = sitx_inflate_coded_fast;
#ifdef SITX_CPU_VARIANTS
    if (sitx_cpu_bmi2()) {
        d->coded_fast = sitx_inflate_coded_fast_bmi2;
    }
#endif
    d->ph = P_BLOCK;
    *out = d;
    return 0;
}

void sitx_inflate_free(struct sitx_inflate *d)
{
    free(d);
}

int sitx_inflate_ended(const struct sitx_inflate *d)
{
    return d->ph == P_END;
}

static int flush(struct sitx_inflate *d)
{
    int rc = 0;

    if (d->out > d->flushed) {
        rc = d->sink(d->ctx, d->win + d->flushed, d->out - d->flushed);
    }
    d->flushed = d->out;
    return rc;
}

int sitx_inflate_make_room(struct sitx_inflate *d)
{
    if (flush(d) != 0) {
        return -1;
    }
    memmove(d->win, d->win + d->out - WSIZE, WSIZE);
    d->out = d->flushed = WSIZE;
    return 0;
}

/* Bytes into the bit buffer one at a time, as far as they go. */
static void refill_slow(struct sitx_inflate *d, const uint8_t **in, const uint8_t *end)
{
    while (d->nbits < 56 && *in < end) {
        d->bits |= (uint64_t) * (*in)++ << d->nbits;
        d->nbits += 8;
    }
}

static void drop(struct sitx_inflate *d, unsigned n)
{
    d->bits >>= n;
    d->nbits -= n;
}

/* P_BLOCK */
static int block_header(struct sitx_inflate *d)
{
    unsigned type;

    if (d->nbits < 3) {
        return R_NEED;
    }
    d->final = (int)(d->bits & 1);
    type = (unsigned)(d->bits >> 1) & 3;
    drop(d, 3);
    if (type == 0) {
        drop(d, d->nbits & 7); /* to a byte boundary */
        d->ph = P_STORED_LEN;
    } else if (type == 1) {
        if (build_fixed(d) != 0) {
            return R_FAIL;
        }
        d->ph = P_CODED;
    } else if (type == 2) {
        d->ph = P_COUNTS;
    } else {
        return R_FAIL;
    }
    return R_DONE;
}

static void block_end(struct sitx_inflate *d)
{
    d->ph = d->final ? P_END : P_BLOCK;
}

/* P_STORED_LEN */
static int stored_len(struct sitx_inflate *d)
{
    uint32_t len, nlen;

    if (d->nbits < 32) {
        return R_NEED;
    }
    len = (uint32_t)d->bits & 0xFFFF;
    nlen = (uint32_t)(d->bits >> 16) & 0xFFFF;
    if (len != (~nlen & 0xFFFF)) {
        return R_FAIL;
    }
    drop(d, 32);
    d->stored_left = len;
    d->ph = P_STORED;
    return R_DONE;
}

/* P_STORED: whole bytes from the bit buffer first, then from the piece. */
static int stored(struct sitx_inflate *d, const uint8_t **in, const uint8_t *end)
{
    while (d->stored_left > 0) {
        size_t n;

        if (d->out > FAST_LIMIT && sitx_inflate_make_room(d) != 0) {
            return R_FAIL;
        }
        if (d->nbits >= 8) {
            d->win[d->out++] = (uint8_t)d->bits;
            drop(d, 8);
            d->stored_left--;
            continue;
        }
        n = (size_t)(end - *in);
        if (n == 0) {
            return R_NEED;
        }
        n = n < d->stored_left ? n : d->stored_left;
        n = n < OUT_CAP - d->out - 16 ? n : OUT_CAP - d->out - 16;
        memcpy(d->win + d->out, *in, n);
        *in += n;
        d->out += n;
        d->stored_left -= (uint32_t)n;
    }
    block_end(d);
    return R_DONE;
}

/* P_COUNTS */
static int counts(struct sitx_inflate *d)
{
    if (d->nbits < 14) {
        return R_NEED;
    }
    d->nlen = 257 + ((unsigned)d->bits & 31);
    d->ndist = 1 + ((unsigned)(d->bits >> 5) & 31);
    d->nclen = 4 + ((unsigned)(d->bits >> 10) & 15);
    drop(d, 14);
    if (d->nlen > 286 || d->ndist > 30) {
        return R_FAIL;
    }
    memset(d->clens, 0, sizeof(d->clens));
    d->idx = 0;
    d->ph = P_CLENS;
    return R_DONE;
}

/* P_CLENS */
static int clens(struct sitx_inflate *d, const uint8_t **in, const uint8_t *end)
{
    while (d->idx < d->nclen) {
        refill_slow(d, in, end);
        if (d->nbits < 3) {
            return R_NEED;
        }
        d->clens[clen_order[d->idx++]] = (uint8_t)(d->bits & 7);
        drop(d, 3);
    }
    if (build(d->ctab, CROOT, d->clens, 19, C_CLEN) != 0) {
        return R_FAIL;
    }
    d->idx = 0;
    d->ph = P_LENS;
    return R_DONE;
}

/* P_LENS: one code length symbol at a time, with its repeat bits. */
static int lens(struct sitx_inflate *d, const uint8_t **in, const uint8_t *end)
{
    unsigned total = d->nlen + d->ndist;

    while (d->idx < total) {
        uint32_t e;
        unsigned len, sym, extra, rep;
        uint8_t val = 0;

        refill_slow(d, in, end);
        e = d->ctab[d->bits & MASK(CROOT)];
        len = E_LEN(e);
        sym = E_VAL(e);
        if (len > d->nbits) {
            return R_NEED;
        }
        if (sym < 16) {
            d->lens[d->idx++] = (uint8_t)sym;
            drop(d, len);
            continue;
        }
        extra = sym == 16 ? 2 : sym == 17 ? 3 : 7;
        if (len + extra > d->nbits) {
            return R_NEED;
        }
        rep = (sym == 18 ? 11 : 3) + (unsigned)((d->bits >> len) & MASK(extra));
        if (sym == 16) {
            if (d->idx == 0) {
                return R_FAIL;
            }
            val = d->lens[d->idx - 1];
        }
        if (rep > total - d->idx) {
            return R_FAIL;
        }
        memset(d->lens + d->idx, val, rep);
        d->idx += rep;
        drop(d, len + extra);
    }
    if (d->lens[256] == 0 || build(d->ltab, LROOT, d->lens, d->nlen, C_LITLEN) != 0 ||
        build(d->dtab, DROOT, d->lens + d->nlen, d->ndist, C_DIST) != 0) {
        return R_FAIL;
    }
    d->ph = P_CODED;
    return R_DONE;
}

/* One literal, match or end of block, with every bit count checked
 * against the bits at hand: R_NEED leaves the buffer as it was. */
static int coded_slow(struct sitx_inflate *d)
{
    uint64_t b = d->bits;
    unsigned have = d->nbits, need, extra;
    uint32_t e = d->ltab[b & MASK(LROOT)], de;
    size_t len, dist;
    uint8_t *o;

    need = E_LEN(e);
    if (E_KIND(e) == K_SUB) {
        e = d->ltab[E_VAL(e) + ((b >> LROOT) & MASK(E_LEN(e)))];
        need = LROOT + E_LEN(e);
    }
    if (need > have) {
        return R_NEED;
    }
    switch (E_KIND(e)) {
    case K_LIT:
        d->win[d->out++] = (uint8_t)E_VAL(e);
        drop(d, need);
        return R_DONE;
    case K_EOB:
        drop(d, need);
        block_end(d);
        return R_DONE;
    case K_LEN:
        break;
    default:
        return R_FAIL;
    }
    extra = E_EXTRA(e);
    if (need + extra > have) {
        return R_NEED;
    }
    len = E_VAL(e) + ((b >> need) & MASK(extra));
    need += extra;
    de = d->dtab[(b >> need) & MASK(DROOT)];
    if (E_KIND(de) == K_SUB) {
        de = d->dtab[E_VAL(de) + ((b >> (need + DROOT)) & MASK(E_LEN(de)))];
        need += DROOT;
    }
    need += E_LEN(de);
    if (need > have) {
        return R_NEED;
    }
    if (E_KIND(de) != K_DIST) {
        return R_FAIL;
    }
    extra = E_EXTRA(de);
    if (need + extra > have) {
        return R_NEED;
    }
    dist = E_VAL(de) + ((b >> need) & MASK(extra));
    if (dist > d->out) {
        return R_FAIL; /* before the start of the output */
    }
    drop(d, need + extra);
    o = d->win + d->out;
    d->out += len;
    while (len-- > 0) {
        *o = o[-(ptrdiff_t)dist];
        o++;
    }
    return R_DONE;
}

/* P_CODED */
static int coded(struct sitx_inflate *d, const uint8_t **in, const uint8_t *start,
                 const uint8_t *end)
{
    int r = d->coded_fast(d, in, start, end);

    if (r == R_DONE) {
        block_end(d);
    }
    if (r != R_NEED) {
        return r;
    }
    while (d->ph == P_CODED) {
        if (d->out > FAST_LIMIT && sitx_inflate_make_room(d) != 0) {
            return R_FAIL;
        }
        refill_slow(d, in, end);
        r = coded_slow(d);
        if (r != R_DONE) {
            return r;
        }
    }
    return R_DONE;
}

int64_t sitx_inflate_feed(struct sitx_inflate *d, const uint8_t *p, size_t n)
{
    const uint8_t *in = p, *end = n > 0 ? p + n : p; /* p may be NULL when n is 0 */
    int r = R_DONE;

    if (d->ph == P_FAIL) {
        return -1;
    }
    while (r == R_DONE && d->ph != P_END) {
        if (d->ph != P_CODED && d->ph != P_STORED) {
            refill_slow(d, &in, end);
        }
        switch (d->ph) {
        case P_BLOCK:
            r = block_header(d);
            break;
        case P_STORED_LEN:
            r = stored_len(d);
            break;
        case P_STORED:
            r = stored(d, &in, end);
            break;
        case P_COUNTS:
            r = counts(d);
            break;
        case P_CLENS:
            r = clens(d, &in, end);
            break;
        case P_LENS:
            r = lens(d, &in, end);
            break;
        case P_CODED:
            r = coded(d, &in, p, end);
            break;
        default:
            r = R_FAIL;
            break;
        }
    }
    if (r == R_FAIL || flush(d) != 0) {
        d->ph = P_FAIL;
        return -1;
    }
    if (d->ph != P_END) {
        return (int64_t)n;
    }
    /* Whole bytes past the end go back to the caller, as zlib returns
     * them. They came from this piece: a piece ends with only the bits of
     * a step that does not fit yet. */
    while (d->nbits >= 8 && in > p) {
        in--;
        drop(d, 8);
    }
    if (d->nbits >= 8) {
        d->ph = P_FAIL;
        return -1;
    }
    return (int64_t)(in - p);
}
