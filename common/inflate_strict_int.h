/* The inflate's state, shared by inflate_strict.c (block headers, code
 * tables, the slow steps) and inflate_fast.c (the fast loop over coded
 * data, built once per CPU level). */
#ifndef SITX_INFLATE_STRICT_INT_H
#define SITX_INFLATE_STRICT_INT_H

#include <stdint.h>

#include "inflate_strict.h"

#define WSIZE      32768u        /* the deflate window */
#define OUT_CHUNK  (128u * 1024) /* inflated between two moves of the window */
#define FAST_LIMIT (WSIZE + OUT_CHUNK)
#define OUT_CAP    (FAST_LIMIT + 258 + 32) /* a match past the limit, and a copy's overrun */

#define LROOT 10
#define DROOT 8
#define CROOT 7
/* Main table plus a subtable of 2^(15 - ROOT) for each code longer than ROOT. */
#define LTAB ((1u << LROOT) + 288u * (1u << (15 - LROOT)))
#define DTAB ((1u << DROOT) + 32u * (1u << (15 - DROOT)))

/* A table entry: the bits it uses (its code's bits at this level, then a
 * length's or distance's extra bits, so that one shift takes both), its
 * code's bits, its kind, and a value: a literal, a length or distance
 * base, or a subtable's offset. A subtable pointer uses the ROOT bits it
 * is found by, and its code bits are the subtable's index bits. */
enum { K_LIT, K_LEN, K_EOB, K_SUB, K_BAD, K_DIST };
#define ENTRY(used, len, kind, val)                                                                \
    ((uint32_t)(used) | (uint32_t)(len) << 8 | (uint32_t)(kind) << 12 | (uint32_t)(val) << 16)
#define E_USED(e)  ((e)&0xFFu)
#define E_LEN(e)   (((e) >> 8) & 15u)
#define E_KIND(e)  (((e) >> 12) & 15u)
#define E_EXTRA(e) (E_USED(e) - E_LEN(e))
#define E_VAL(e)   ((e) >> 16)
#define MASK(n)    ((1ull << (n)) - 1)

/* What a piece of work left the decoder waiting for. */
enum phase {
    P_BLOCK,      /* a block header's three bits */
    P_STORED_LEN, /* a stored block's LEN and NLEN */
    P_STORED,     /* a stored block's bytes */
    P_COUNTS,     /* a dynamic block's HLIT, HDIST, HCLEN */
    P_CLENS,      /* the code length code's lengths */
    P_LENS,       /* the literal/length and distance code lengths */
    P_CODED,      /* Huffman-coded data */
    P_END,        /* the final block has ended */
    P_FAIL,       /* stepped aside */
};

/* Step results. R_NEED only once the piece is used up: what is left is
 * less than the step needs, and waits in the bit buffer. */
enum { R_NEED = 0, R_DONE = 1, R_FAIL = -1 };

/* The fast loop of Huffman-coded data (inflate_fast.c): R_NEED, or what
 * ended it. The _bmi2 build is the same code for CPUs with BMI2 (cpu.h). */
typedef int (*sitx_inflate_fast_fn)(struct sitx_inflate *d, const uint8_t **inp,
                                    const uint8_t *start, const uint8_t *end);

struct sitx_inflate {
    sitx_inflate_sink sink;
    void *ctx;
    sitx_inflate_fast_fn coded_fast; /* the build for this CPU */
    uint64_t bits;                   /* the next bits of the stream, least significant first */
    unsigned nbits;                  /* how many; those above are zero outside the fast loop */
    enum phase ph;
    int final;
    unsigned nlen, ndist, nclen, idx;
    uint32_t stored_left;
    size_t out;     /* write position in win */
    size_t flushed; /* win[0..flushed) has reached the sink */
    uint8_t lens[286 + 30];
    uint8_t clens[19];
    uint32_t ctab[1u << CROOT];
    uint32_t ltab[LTAB];
    uint32_t dtab[DTAB];
    uint8_t win[OUT_CAP];
};

int sitx_inflate_coded_fast(struct sitx_inflate *d, const uint8_t **inp, const uint8_t *start,
                            const uint8_t *end);
int sitx_inflate_coded_fast_bmi2(struct sitx_inflate *d, const uint8_t **inp, const uint8_t *start,
                                 const uint8_t *end);
/* Hands the output to the sink and keeps the last window of it: 0, or -1
 * when the sink stops the decoder. */
int sitx_inflate_make_room(struct sitx_inflate *d);

#endif
