/* The JPEG shortcut's state, shared by its two halves: image_jpeg_fast.c
 * (markers, tables, the caller's bytes) and image_jpeg_scan.c (a scan's
 * entropy-coded data, the hot loop, built once per CPU level). */
#ifndef SITX_IMAGE_JPEG_FAST_INT_H
#define SITX_IMAGE_JPEG_FAST_INT_H

#include <stdint.h>

#include "image_jpeg_internal.h"

/* Huffman codes up to this long are found with one table lookup. */
#define FAST_BITS 10
/* A sequential block's AC codes are decoded several at a time, from a
 * table indexed by this many next bits (8 KB a table, so that a file's
 * two stay in the first-level cache beside everything else). */
#define MULTI_BITS 11
/* The same for a progressive file's first AC scans, whose entries are
 * twice the size. */
#define FIRST_BITS 10
/* Bytes an MCU can take at most: a sequential one of 6 blocks (a DC of
 * 27 bits and 63 AC codes of 26 each), 1249 bytes; less in a progressive
 * scan (10 blocks of DC, or one block of AC: 63 codes of at most 31
 * bits, or 63 of 17 and as many correction bits); doubled for stuffed
 * zeros, plus the bytes the bit reader loads ahead. An MCU is decoded
 * only with this much at hand (or the end of its scan in sight), so it
 * never waits for bytes midway. */
#define MCU_MARGIN 4096
struct htab {
    uint16_t fast[1 << FAST_BITS]; /* length << 8 | symbol; 0: longer or no code */
    int32_t maxcode[17];           /* largest code of each length, -1 for none */
    int32_t valoff[17];            /* symbol index minus code, per length */
    uint8_t sym[256];
    /* AC tables: per MULTI_BITS bits, the codes they hold with their
     * value bits, up to an end of block and no further than 63
     * coefficients; 0: the first code is longer (or none). Filled for
     * sequential scans only. */
    uint32_t *multi;
    /* AC tables of a refinement scan: per FAST_BITS bits, the code's
     * refine_entry(); 0: longer (or none). */
    uint32_t *refine;
    /* AC tables of a progressive file's first AC scan: per FIRST_BITS
     * bits, the codes they hold with their value bits, up to an EOB of
     * one block (EOB0) and at most 32 coefficients; 0: the first code is
     * longer, none, or an EOB run of more blocks. */
    uint64_t *first;
};

/* A first entry: bits used, coefficients passed, whether its last code is
 * EOB0, the largest size among its codes, and which of the coefficients
 * passed (bit 0: the first) it makes non-zero. */
#define F_USED(e) ((int)((e)&31))
#define F_ADV(e)  ((int)((e) >> 5 & 63))
#define F_EOB     (1u << 11)
#define F_SIZE(e) ((int)((e) >> 12 & 15))
#define F_NZ(e)   ((e) >> 32)

/* What a refinement scan needs of a code: 1 << r (for PDEP: the (r + 1)th
 * zero-history coefficient is the target), the bits of the code and its
 * sign, r, whether it makes a coefficient non-zero, ends the block (an
 * EOB run), or has a size libjpeg warns on. */
#define R_SRC(e)  ((e)&0xFFFFu)
#define R_USED(e) ((int)((e) >> 16 & 31))
#define R_RUN(e)  ((int)((e) >> 21 & 15))
#define R_NEW     (1u << 25)
#define R_EOB     (1u << 26)
#define R_BAD     (1u << 27)

static inline uint32_t refine_entry(int len, int rs)
{
    int r = rs >> 4, s = rs & 15;

    if (s > 1) {
        return R_BAD;
    }
    return 1u << r | (uint32_t)(len + s) << 16 | (uint32_t)r << 21 | (s != 0 ? R_NEW : 0) |
           (s == 0 && r != 15 ? R_EOB : 0);
}

/* A multi entry: bits used and coefficients passed by all its codes, and
 * whether the last ends the block; then the same for the first code
 * alone, for the end of a block, where its 64th coefficient may come
 * before the entry's last code. */
#define M_USED(e)  ((int)((e)&31))
#define M_ADV(e)   ((int)((e) >> 5 & 127))
#define M_EOB      (1u << 12)
#define M_USED1(e) ((int)((e) >> 13 & 31))
#define M_ADV1(e)  ((int)((e) >> 18 & 31))
#define M_EOB1     (1u << 23)

/* A table as DHT gave it (or libjpeg had it after the header). */
struct raw_table {
    int defined;
    uint8_t bits[17];
    uint8_t val[256];
};

struct bits {
    const uint8_t *p, *end; /* bytes not yet loaded */
    uint64_t acc;           /* the next bits, first at the top */
    int n;                  /* bits in acc; below 0: read past the data */
    int at_marker;          /* p is at the marker ending the scan */
};

struct comp {
    int id;
    int h, v;
    int quant; /* its table number */
    int latched;
    uint32_t bw, bh; /* blocks across and down */
    uint64_t *nz;    /* per block: bit k set when zigzag coefficient k is non-zero */
    int8_t bit[64];  /* libjpeg's coef_bits: -1 before the first scan */
};

enum phase {
    PH_SCAN,   /* entropy-coded data */
    PH_END,    /* the scan's MCUs are done: its marker must follow */
    PH_MARKER, /* at a marker */
    PH_SKIP,   /* inside a segment nobody reads */
    PH_DONE,   /* EOI seen */
};

struct scan {
    int ncomp;
    int comp[4]; /* frame component of each */
    int Ss, Se, Ah, Al;
    struct htab *dc[4], *ac[4]; /* an AC scan has one component */
    int blocks[4];              /* blocks per MCU of each component (interleaved) */
    int mcu_blocks;
    uint32_t mcus, mcus_per_row, next;
    uint32_t col;  /* next's column in its MCU row */
    uint64_t band; /* bits Ss..Se */
    uint64_t *nz;  /* an AC scan's component's, by block */
    uint32_t eobrun;
    int32_t last_dc[4];
    unsigned to_go; /* MCUs before the next restart marker */
    int next_rst;   /* its number, 0-7 */
};

struct sitx_jpeg_quick;
typedef int (*sitx_jpeg_scan_fn)(struct sitx_jpeg_quick *q, int *wait);

struct sitx_jpeg_quick {
    struct sitx_image_ctl *ctl;
    sitx_jpeg_scan_fn scan_data; /* the build for this CPU */
    uint32_t max_scans, scans;
    int progressive; /* else one sequential scan of every component */
    uint32_t width, height;
    int max_h, max_v;
    int ncomp;
    struct comp comp[3];
    struct raw_table dc_raw[4], ac_raw[4];
    struct htab dc_tab[4], ac_tab[4];
    union {
        uint32_t multi[1 << MULTI_BITS];
        uint32_t refine[1 << FAST_BITS];
        uint64_t first[1 << FIRST_BITS];
    } ac_ext[4]; /* each AC table's, for the scan at hand */
    int quant_defined[4];
    unsigned restart_interval;
    struct scan scan;
    struct bits br;
    enum phase phase;
    size_t skip;
    int eof;
    int failed;                   /* stepped aside or failed: sticky */
    char err[SITX_IMAGE_ERR_MAX]; /* the failure's message, when not stepping aside */
    uint8_t *buf;
    size_t len, pos, cap; /* bytes held; pos: the first not loaded or parsed */
};

/* Bits k..se. */
static inline uint64_t band(int k, int se)
{
    return (se == 63 ? ~0ull : (1ull << (se + 1)) - 1) & ~((1ull << k) - 1);
}

/* Decodes MCUs of the scan while enough bytes are at hand: 0 (with *wait
 * set when more are needed), -1 to step aside, or SITX_E_CANCELLED with
 * the message in q->err. The _bmi2 build is the same code compiled for
 * BMI2 and POPCNT, for CPUs that have them (sitx_cpu_bmi2()). */
int sitx_jpeg_scan_data(struct sitx_jpeg_quick *q, int *wait);
int sitx_jpeg_scan_data_bmi2(struct sitx_jpeg_quick *q, int *wait);

#endif
