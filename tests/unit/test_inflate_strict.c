/* The strict inflate (common/inflate_strict.c) against zlib, which it
 * stands in for: it must inflate only what zlib inflates, to the same
 * bytes, stopping at the same input byte, whatever the pieces.
 *  - streams zlib makes of text, noise and image-like rows at every level
 *    and strategy (fixed, Huffman only, RLE, filtered, stored), up to
 *    megabytes so the window moves many times, fed in random pieces with
 *    bytes after the end; then with bits flipped, bytes set and the end
 *    cut, compared case by case;
 *  - each refusal zlib gives, built bit by bit: block type 3, stored
 *    lengths that disagree, the fixed code's lengths 286/287 and distances
 *    30/31, a distance before the output, too many codes, over-subscribed
 *    and incomplete code sets, a repeat with nothing to repeat or past the
 *    end, no end-of-block code; and the incomplete sets zlib takes.
 * The fast loop is built twice (common/cpu.h): all of it runs through the
 * build this CPU picks and again through the baseline build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "cpu.h"
#include "inflate_strict.h"
#include "testutil.h"

#define OUT_MAX (4u << 20)

static uint64_t rng_state = 0x1F1A7E5EEDull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

struct result {
    int ok;      /* the stream ended */
    size_t used; /* input bytes up to its end */
    uint8_t *out;
    size_t out_len;
};

static int zlib_inflate(const uint8_t *in, size_t n, struct result *r)
{
    z_stream z;
    int zr;

    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, -15), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = r->out;
    z.avail_out = OUT_MAX;
    zr = inflate(&z, Z_FINISH);
    r->ok = zr == Z_STREAM_END;
    r->used = z.total_in;
    r->out_len = z.total_out;
    inflateEnd(&z);
    return r->ok;
}

static int collect(void *ctx, const uint8_t *p, size_t n)
{
    struct result *r = ctx;

    if (n > OUT_MAX - r->out_len) {
        return -1;
    }
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
    return 0;
}

/* Ours, fed in pieces of 1..max bytes (max 0: all at once). */
static int strict_inflate(const uint8_t *in, size_t n, size_t max, struct result *r)
{
    struct sitx_inflate *d = NULL;
    size_t off = 0;
    int failed = 0;

    r->ok = 0;
    r->out_len = 0;
    assert_int_equal(sitx_inflate_new(&d, collect, r), 0);
    while (off < n) {
        size_t piece = max == 0 ? n - off : 1 + rng() % max;
        int64_t used;

        piece = piece < n - off ? piece : n - off;
        used = sitx_inflate_feed(d, in + off, piece);
        if (used < 0) {
            failed = 1;
            break;
        }
        assert_true((size_t)used <= piece);
        off += (size_t)used;
        if (sitx_inflate_ended(d)) {
            r->ok = 1;
            break;
        }
        assert_int_equal((size_t)used, piece); /* taken whole until the end */
    }
    r->used = off;
    /* Once refused, refused for good; nothing more once ended. */
    assert_int_equal(sitx_inflate_feed(d, in, 0), failed ? -1 : 0);
    sitx_inflate_free(d);
    return r->ok;
}

static struct result za, zb;
static unsigned n_cases, n_both, n_ours_refused;

/* zlib and ours agree on in; returns whether it inflated. */
static int agree(const uint8_t *in, size_t n, const char *what)
{
    size_t max = rng() % 3 == 0 ? 0 : 1 + rng() % (rng() % 2 ? 20 : 70000);
    int zok = zlib_inflate(in, n, &za);
    int ok = strict_inflate(in, n, max, &zb);

    n_cases++;
    if (ok && !zok) {
        fail_msg("%s (%zu bytes, pieces up to %zu): inflated, zlib refuses", what, n, max);
    }
    if (ok) {
        n_both++;
        if (za.used != zb.used || za.out_len != zb.out_len ||
            memcmp(za.out, zb.out, za.out_len) != 0) {
            fail_msg("%s (%zu bytes, pieces up to %zu): zlib used %zu for %zu bytes, ours %zu "
                     "for %zu, or other bytes",
                     what, n, max, za.used, za.out_len, zb.used, zb.out_len);
        }
    } else if (zok && za.out_len < OUT_MAX) {
        /* Sound streams zlib inflates ours must inflate too, or the
         * shortcut never pays; zlib's one incomplete set is covered. */
        n_ours_refused++;
        fail_msg("%s (%zu bytes, pieces up to %zu): zlib inflates it, ours refuses", what, n, max);
    }
    return ok;
}

static uint8_t *make_data(unsigned kind, size_t n)
{
    uint8_t *b = malloc(n);
    size_t i;

    assert_non_null(b);
    for (i = 0; i < n; i++) {
        switch (kind % 4) {
        case 0: /* few symbols */
            b[i] = (uint8_t)(rng() % 4 + (i % 37 == 0));
            break;
        case 1: /* text */
            b[i] = (uint8_t)("the quick brown fox jumps "[i % 26] ^ (rng() % 50 == 0));
            break;
        case 2: /* rows of a gradient with a filter byte */
            b[i] = i % 1201 == 0 ? (uint8_t)(rng() % 5) : (uint8_t)(i / 1201 + (i % 1201) / 7);
            break;
        default: /* noise */
            b[i] = (uint8_t)rng();
            break;
        }
    }
    return b;
}

static uint8_t *deflate_raw(const uint8_t *in, size_t n, int level, int strategy, size_t *out_n)
{
    z_stream z;
    uint8_t *o;
    size_t cap;

    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, -15, 8, strategy), Z_OK);
    cap = deflateBound(&z, (uLong)n) + 16;
    o = malloc(cap);
    assert_non_null(o);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = o;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_n = z.total_out;
    deflateEnd(&z);
    memcpy(o + *out_n, "TAIL", 4); /* bytes after the end, as an Adler-32 */
    return o;
}

static void mutated(const uint8_t *s, size_t n, const char *what, unsigned rounds)
{
    uint8_t *c = malloc(n);
    unsigned i, j;

    assert_non_null(c);
    for (i = 0; i < rounds; i++) {
        size_t m = n;

        memcpy(c, s, n);
        for (j = 0; j < 1 + rng() % 3; j++) {
            /* Mostly near the start, where the block header is. */
            size_t at = rng() % (rng() % 2 ? (n < 64 ? n : 64) : n);

            switch (rng() % 3) {
            case 0:
                c[at] ^= (uint8_t)(1u << (rng() % 8));
                break;
            case 1:
                c[at] = (uint8_t)rng();
                break;
            default:
                m = at + 1;
                break;
            }
        }
        (void)agree(c, m, what);
    }
    free(c);
}

/* Streams of seeds data sets (fewer under valgrind). */
static void zlib_streams(unsigned seeds)
{
    static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FIXED, Z_HUFFMAN_ONLY, Z_RLE,
                                     Z_FILTERED};
    int light = tu_scaled_ms(1) > 1; /* under valgrind */
    unsigned seed, s;

    n_cases = n_both = 0;
    for (seed = 0; seed < (light ? seeds / 3 : seeds); seed++) {
        size_t n = 1 + (size_t)seed * seed * seed * 60; /* up to 1.8 MB */
        uint8_t *data = make_data(seed, n);

        for (s = 0; s < 6; s++) {
            int level = s == 5 ? 0 : 1 + (int)(seed % 9);
            size_t cn;
            uint8_t *z = deflate_raw(data, n, level, s == 5 ? 0 : strategies[s], &cn);
            char what[64];

            snprintf(what, sizeof(what), "data %u, level %d, strategy %u", seed, level, s);
            assert_true(agree(z, cn + 4, what));
            assert_int_equal(zb.used, cn);
            assert_int_equal(zb.out_len, n);
            assert_memory_equal(zb.out, data, n);
            if (cn < 300000) {
                mutated(z, cn + 4, what, light ? 20 : 150);
            }
            free(z);
        }
        free(data);
    }
    for (s = 0; s < (light ? 2000u : 40000u); s++) {
        uint8_t r[48];
        size_t n = 1 + rng() % sizeof(r), i;

        for (i = 0; i < n; i++) {
            r[i] = (uint8_t)rng();
        }
        (void)agree(r, n, "random bytes");
    }
    print_message("%s build: %u cases, %u inflated by both\n",
                  sitx_cpu_bmi2() ? "BMI2" : "baseline", n_cases, n_both);
    assert_true(n_both >= (light ? 300u : 3000u));
    assert_int_equal(n_ours_refused, 0);
}

/* ---- streams built bit by bit ------------------------------------------------ */

struct bits {
    uint8_t buf[256];
    size_t len;
    unsigned nbits;
};

/* Appends the n low bits of v, least significant first. */
static void put(struct bits *b, uint32_t v, unsigned n)
{
    while (n-- > 0) {
        if (b->nbits == 0) {
            assert_true(b->len < sizeof(b->buf));
            b->buf[b->len++] = 0;
        }
        b->buf[b->len - 1] |= (uint8_t)((v & 1) << b->nbits);
        b->nbits = (b->nbits + 1) & 7;
        v >>= 1;
    }
}

/* A Huffman code of len bits, most significant bit first. */
static void put_code(struct bits *b, uint32_t code, unsigned len)
{
    while (len-- > 0) {
        put(b, (code >> len) & 1, 1);
    }
}

/* The fixed code's literal/length symbols. */
static void fixed_sym(struct bits *b, unsigned sym)
{
    if (sym < 144) {
        put_code(b, 0x30 + sym, 8);
    } else if (sym < 256) {
        put_code(b, 0x190 + sym - 144, 9);
    } else if (sym < 280) {
        put_code(b, sym - 256, 7);
    } else {
        put_code(b, 0xC0 + sym - 280, 8);
    }
}

/* Starts b afresh with the header of a final block in the fixed code. */
static void fixed_stream(struct bits *b)
{
    memset(b, 0, sizeof(*b));
    put(b, 1, 1);
    put(b, 1, 2);
}

/* A dynamic block header. The code length code gives symbols 0-12 and
 * 16-18 four bits each (complete); lens are written as they are, except
 * where a repeat is asked for in rep (symbol, extra bits) at index at. */
struct dyn {
    unsigned nlen, ndist;
    uint8_t lens[320];
    int rep_at;
    unsigned rep_sym, rep_extra;
};

static unsigned clen_code(unsigned sym)
{
    return sym <= 12 ? sym : 13 + sym - 16;
}

/* Starts b afresh with the header of a final dynamic block. */
static void dynamic_stream(struct bits *b, const struct dyn *d)
{
    static const uint8_t order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                      11, 4,  12, 3, 13, 2, 14, 1, 15};
    unsigned i;

    memset(b, 0, sizeof(*b));
    put(b, 1, 1);
    put(b, 2, 2);
    put(b, d->nlen - 257, 5);
    put(b, d->ndist - 1, 5);
    put(b, 19 - 4, 4);
    for (i = 0; i < 19; i++) {
        put(b, order[i] <= 12 || order[i] >= 16 ? 4 : 0, 3);
    }
    for (i = 0; i < d->nlen + d->ndist; i++) {
        if ((int)i == d->rep_at) {
            put_code(b, clen_code(d->rep_sym), 4);
            put(b, d->rep_extra, d->rep_sym == 16 ? 2 : d->rep_sym == 17 ? 3 : 7);
            break;
        }
        assert_true(d->lens[i] <= 12);
        put_code(b, clen_code(d->lens[i]), 4);
    }
}

static void dyn_init(struct dyn *d)
{
    memset(d, 0, sizeof(*d));
    d->nlen = 257;
    d->ndist = 1;
    d->rep_at = -1;
}

/* Both refuse it. */
static void both_refuse(const struct bits *b, const char *what)
{
    unsigned i;

    for (i = 0; i < 20; i++) {
        assert_false(agree(b->buf, b->len, what));
    }
    assert_false(za.ok);
}

/* Both inflate it to want. */
static void test_zlib_streams(void **state)
{
    (void)state;
    zlib_streams(32);
}

/* The fast loop's baseline build too, on a BMI2 machine (cpu.h). */
static void test_zlib_streams_baseline(void **state)
{
    (void)state;
    sitx_cpu_force_baseline(1);
    zlib_streams(24);
    sitx_cpu_force_baseline(0);
}

static void both_inflate(const struct bits *b, const char *want, const char *what)
{
    unsigned i;

    for (i = 0; i < 20; i++) {
        if (!agree(b->buf, b->len, what)) {
            fail_msg("%s: refused", what);
        }
        assert_int_equal(zb.out_len, strlen(want));
        assert_memory_equal(zb.out, want, strlen(want));
    }
}

static void refusals_as_zlib(void)
{
    struct bits b;
    struct dyn d;

    memset(&b, 0, sizeof(b));
    put(&b, 1, 1);
    put(&b, 3, 2);
    put(&b, 0, 16);
    both_refuse(&b, "block type 3");

    memset(&b, 0, sizeof(b));
    put(&b, 1, 1);
    put(&b, 0, 2);
    put(&b, 0, 5);
    put(&b, 5, 16);
    put(&b, 0xFFFF, 16); /* should be ~5 */
    put(&b, 0x64636261, 32);
    put(&b, 0x65, 8);
    both_refuse(&b, "stored lengths disagree");

    memset(&b, 0, sizeof(b));
    put(&b, 1, 1);
    put(&b, 0, 2);
    put(&b, 0, 5);
    put(&b, 2, 16);
    put(&b, 0xFFFD, 16);
    put(&b, 'o' | 'k' << 8, 16);
    both_inflate(&b, "ok", "stored block");

    for (unsigned sym = 286; sym <= 287; sym++) {
        fixed_stream(&b);
        fixed_sym(&b, 'a');
        fixed_sym(&b, sym);
        put(&b, 0, 5);
        fixed_sym(&b, 256);
        both_refuse(&b, "fixed code, length symbol 286 or 287");
    }
    for (unsigned dc = 29; dc <= 31; dc++) {
        fixed_stream(&b);
        fixed_sym(&b, 'a');
        fixed_sym(&b, 257); /* length 3 */
        put_code(&b, dc, 5);
        put(&b, 0, 13);
        fixed_sym(&b, 256);
        both_refuse(&b, "fixed code, distance code 29 (too far), 30 or 31");
    }
    fixed_stream(&b);
    fixed_sym(&b, 'a');
    fixed_sym(&b, 'b');
    fixed_sym(&b, 257); /* length 3 */
    put_code(&b, 1, 5); /* distance 2: the start of the output */
    fixed_sym(&b, 256);
    both_inflate(&b, "ababa", "a distance back to the first byte");
    fixed_stream(&b);
    fixed_sym(&b, 'a');
    fixed_sym(&b, 'b');
    fixed_sym(&b, 257);
    put_code(&b, 2, 5); /* distance 3: before it */
    fixed_sym(&b, 256);
    both_refuse(&b, "a distance before the output");

    /* Dynamic: 'a' and end of block one bit each, one distance code of one bit. */
    dyn_init(&d);
    d.lens['a'] = 1;
    d.lens[256] = 1;
    d.lens[257] = 1; /* the distance code */
    dynamic_stream(&b, &d);
    put_code(&b, 0, 1); /* 'a' */
    put_code(&b, 1, 1); /* end */
    both_inflate(&b, "a", "one distance code of one bit (zlib takes it)");

    dyn_init(&d);
    d.lens[256] = 1;
    dynamic_stream(&b, &d); /* no distance code */
    put_code(&b, 0, 1);
    both_inflate(&b, "", "only end of block, one bit, no distance code (zlib takes it)");

    dyn_init(&d);
    d.lens['a'] = 1;
    d.lens[256] = 2;
    d.lens[257] = 1;
    dynamic_stream(&b, &d);
    put_code(&b, 0, 1);
    put_code(&b, 2, 2);
    both_refuse(&b, "incomplete literal/length code");

    dyn_init(&d);
    d.lens['a'] = 1;
    d.lens['b'] = 1;
    d.lens[256] = 1;
    d.lens[257] = 1;
    dynamic_stream(&b, &d);
    put_code(&b, 0, 1);
    both_refuse(&b, "over-subscribed literal/length code");

    dyn_init(&d);
    d.ndist = 2;
    d.lens['a'] = 1;
    d.lens[256] = 1;
    d.lens[257] = 2;
    d.lens[258] = 3;
    dynamic_stream(&b, &d);
    put_code(&b, 0, 1);
    put_code(&b, 1, 1);
    both_refuse(&b, "incomplete distance code of more than one bit");

    dyn_init(&d);
    d.lens['a'] = 1;
    d.lens['b'] = 1;
    d.lens[257] = 1;
    dynamic_stream(&b, &d);
    put_code(&b, 0, 8);
    both_refuse(&b, "no end-of-block code");

    dyn_init(&d);
    d.nlen = 287;
    d.lens['a'] = 1;
    d.lens[256] = 1;
    d.lens[287] = 1;
    dynamic_stream(&b, &d);
    put_code(&b, 1, 1);
    both_refuse(&b, "287 literal/length codes");

    dyn_init(&d);
    d.ndist = 31;
    d.lens['a'] = 1;
    d.lens[256] = 1;
    d.lens[257] = 1;
    dynamic_stream(&b, &d);
    put_code(&b, 1, 1);
    both_refuse(&b, "31 distance codes");

    dyn_init(&d);
    d.rep_at = 0;
    d.rep_sym = 16;
    dynamic_stream(&b, &d);
    put(&b, 0, 16);
    both_refuse(&b, "a repeat of the previous length first");

    dyn_init(&d);
    d.lens['a'] = 1;
    d.lens[256] = 1;
    d.rep_at = 250;
    d.rep_sym = 18;
    d.rep_extra = 127; /* 138 zeros: past the 258 lengths */
    dynamic_stream(&b, &d);
    put(&b, 0, 16);
    both_refuse(&b, "a repeat past the last length");
}

static int setup(void **state)
{
    (void)state;
    za.out = malloc(OUT_MAX);
    zb.out = malloc(OUT_MAX);
    return za.out == NULL || zb.out == NULL;
}

static int teardown(void **state)
{
    (void)state;
    free(za.out);
    free(zb.out);
    return 0;
}

static void test_refusals_as_zlib(void **state)
{
    (void)state;
    refusals_as_zlib();
}

static void test_refusals_baseline(void **state)
{
    (void)state;
    sitx_cpu_force_baseline(1);
    refusals_as_zlib();
    sitx_cpu_force_baseline(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_as_zlib),
        cmocka_unit_test(test_refusals_baseline),
        cmocka_unit_test(test_zlib_streams),
        cmocka_unit_test(test_zlib_streams_baseline),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
