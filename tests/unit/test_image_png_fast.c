/* The whole-buffer PNG shortcut (common/image_png_fast.c) against the
 * streaming path it stands in for: every PNG of the public corpus (valid
 * and broken), each valid one truncated, with random bytes damaged, and
 * with the structural changes the shortcut must hand back (small zlib
 * window, empty or split IDAT, a chunk libpng reads after the image data,
 * bytes after the zlib stream, a bad filter byte with good checksums),
 * gets the same verdict, message and info from sitx_image_validate() and
 * from the streaming validator fed in random pieces with a reread source
 * (the receiver's way: shortcut, and stepping back to the full path), as
 * from the streaming validator without one, which never takes the
 * shortcut. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

#include "err.h"
#include "image.h"
#include "image_internal.h"
#include "testutil.h"
#include "validate_ways.h"

static uint64_t rng_state = 0x5EED5EED12345678ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Sound files whose Adler-32 straddles two IDATs that the shortcut accepted. */
static unsigned n_tail_split;

/* The shortcut alone, for PNGs; anything else is not its to accept. */
static int png_fast(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                    struct sitx_image_info *info)
{
    if (sitx_image_detect(buf, len) != SITX_IMAGE_PNG) {
        return SITX_IMAGE_MORE;
    }
    return sitx_png_validate_fast(buf, len, lim, info);
}

/* In pieces of up to 64 bytes or 8192, never under a memory gate; under
 * valgrind only every eighth case in pieces, or the memcheck job would run
 * past its timeout. */
static struct vw_ways ways = {rng, png_fast, 64, 8192, 0, 8, 0, 0, 0};

static int check_same_lim(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                          const char *what)
{
    return vw_check_same_lim(&ways, buf, len, lim, what);
}

static int check_same(const uint8_t *buf, size_t len, const char *what)
{
    return vw_check_same(&ways, buf, len, what);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends a chunk with a good CRC. */
static void add_chunk(struct sitx_buf *b, const char *type, const uint8_t *data, uint32_t n)
{
    uint8_t hdr[8];
    uint8_t crc[4];

    put32(hdr, n);
    memcpy(hdr + 4, type, 4);
    put32(crc, (uint32_t)crc32(crc32(0, (const Bytef *)type, 4), data, n));
    assert_int_equal(sitx_buf_append(b, hdr, 8), 0);
    assert_int_equal(sitx_buf_append(b, data, n), 0);
    assert_int_equal(sitx_buf_append(b, crc, 4), 0);
}

/* The file rebuilt: chunks before IDAT as they are, the image data
 * inflated, changed by edit, deflated at windowBits, written as IDAT
 * chunks of split bytes (0: one), then extra (a whole chunk) after the
 * image data, then the rest as it is. */
struct rebuild {
    int window_bits;
    size_t split;
    int empty_idat;    /* an IDAT of 0 bytes after the first */
    int tail_bytes;    /* bytes after the zlib stream inside the last IDAT */
    int bad_filter;    /* the last row's filter byte set to 5 */
    const char *after; /* chunk type to put after the image data */
    int text_between;  /* a tEXt between two IDATs */
    int zlib_edit;     /* ZE_*: the zlib header or trailer changed */
    int tail_split;    /* the last IDAT starts 2 bytes into the Adler-32 */
};

enum {
    ZE_NONE,
    ZE_ADLER,  /* the Adler-32's last byte flipped */
    ZE_FCHECK, /* the header no longer a multiple of 31 */
    ZE_FDICT,  /* a preset dictionary asked for, the check kept good */
};

static int rebuild(const uint8_t *in, size_t len, const struct rebuild *rb, struct sitx_buf *out)
{
    struct sitx_buf idat, raw;
    size_t pos = 8, first = 0, end = 0;
    uLongf raw_len;
    uLongf z_len;
    uint8_t *z = NULL;
    z_stream zs;
    int rc = -1;

    sitx_buf_init(&idat);
    sitx_buf_init(&raw);
    sitx_buf_init(out);
    while (pos + 12 <= len) {
        uint32_t n = be32(in + pos);

        if (n > len - pos - 12) {
            goto done;
        }
        if (memcmp(in + pos + 4, "IDAT", 4) == 0) {
            if (first == 0) {
                first = pos;
            }
            assert_int_equal(sitx_buf_append(&idat, in + pos + 8, n), 0);
            end = pos + 12 + n;
        } else if (memcmp(in + pos + 4, "IEND", 4) == 0) {
            break;
        }
        pos += 12 + (size_t)n;
    }
    if (first == 0 || idat.len == 0) {
        goto done;
    }
    raw_len = 8u * 1024 * 1024;
    assert_int_equal(sitx_buf_reserve(&raw, raw_len), 0);
    if (uncompress(raw.data, &raw_len, idat.data, idat.len) != Z_OK || raw_len == 0) {
        goto done;
    }
    if (rb->bad_filter) {
        /* The last row starts somewhere; a byte over 4 at offset 0 is the
         * first row's filter for sure. */
        raw.data[0] = 5;
    }
    z_len = compressBound(raw_len) + 64;
    z = malloc(z_len + 16);
    assert_non_null(z);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, rb->window_bits, 9, Z_DEFAULT_STRATEGY),
                     Z_OK);
    zs.next_in = raw.data;
    zs.avail_in = (uInt)raw_len;
    zs.next_out = z;
    zs.avail_out = (uInt)z_len;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    z_len = zs.total_out;
    deflateEnd(&zs);
    if (rb->tail_bytes) {
        memset(z + z_len, 0, 4);
        z_len += 4;
    }
    if (rb->zlib_edit == ZE_ADLER) {
        z[z_len - 1] ^= 1;
    } else if (rb->zlib_edit == ZE_FCHECK) {
        z[1] ^= 1;
    } else if (rb->zlib_edit == ZE_FDICT) {
        z[1] = (uint8_t)((z[1] & 0xC0) | 0x20);
        z[1] = (uint8_t)(z[1] + (31 - (z[0] * 256u + z[1]) % 31) % 31);
    }
    assert_int_equal(sitx_buf_append(out, in, first), 0);
    {
        size_t step = rb->split > 0 ? rb->split : z_len;
        size_t at = 0;
        int k = 0;

        if (rb->tail_split) {
            step = z_len - 2;
        }
        while (at < z_len) {
            size_t n = z_len - at < step ? z_len - at : step;

            add_chunk(out, "IDAT", z + at, (uint32_t)n);
            at += n;
            if (k++ == 0 && rb->empty_idat) {
                add_chunk(out, "IDAT", z, 0);
            }
            if (k == 1 && rb->text_between && at < z_len) {
                add_chunk(out, "tEXt", (const uint8_t *)"k\0v", 3);
            }
        }
    }
    if (rb->after != NULL) {
        static const uint8_t time7[7] = {0x07, 0xE6, 1, 2, 3, 4, 5};

        add_chunk(out, rb->after, time7, sizeof(time7));
    }
    assert_int_equal(sitx_buf_append(out, in + end, len - end), 0);
    rc = 0;
done:
    free(z);
    sitx_buf_clear(&idat);
    sitx_buf_clear(&raw);
    return rc;
}

static void damage(const uint8_t *buf, size_t len, const char *path)
{
    static const struct rebuild kinds[] = {
        {.window_bits = 15},
        {.window_bits = 9},
        {.window_bits = 15, .split = 7},
        {.window_bits = 15, .split = 100, .empty_idat = 1},
        {.window_bits = 15, .tail_bytes = 1},
        {.window_bits = 15, .bad_filter = 1},
        {.window_bits = 15, .after = "tIME"},
        {.window_bits = 15, .after = "tEXt"},
        {.window_bits = 15, .after = "PLTE"},
        {.window_bits = 15, .after = "IDAT"},
        {.window_bits = 15, .after = "zzZz"},
        {.window_bits = 15, .split = 50, .text_between = 1},
        {.window_bits = 15, .zlib_edit = ZE_ADLER},
        {.window_bits = 15, .zlib_edit = ZE_FCHECK},
        {.window_bits = 15, .zlib_edit = ZE_FDICT},
        {.window_bits = 15, .tail_split = 1},
        {.window_bits = 15, .tail_split = 1, .zlib_edit = ZE_ADLER},
    };
    uint8_t *copy = malloc(len);
    char what[1200];
    size_t i;

    assert_non_null(copy);
    for (i = 1; i <= 16; i++) {
        size_t cut = len * i / 17;

        snprintf(what, sizeof(what), "%s cut at %zu", path, cut);
        (void)check_same(buf, cut, what);
    }
    for (i = 0; i < 48; i++) {
        size_t at = 8 + rng() % (len - 8);

        memcpy(copy, buf, len);
        copy[at] ^= (uint8_t)(1 + rng() % 255);
        snprintf(what, sizeof(what), "%s byte %zu changed", path, at);
        (void)check_same(copy, len, what);
    }
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct sitx_buf b;

        if (rebuild(buf, len, &kinds[i], &b) == 0) {
            struct sitx_image_limits lim;
            struct sitx_image_info info;

            snprintf(what, sizeof(what), "%s rebuilt (kind %zu)", path, i);
            if (check_same(b.data, b.len, what) == 0 && kinds[i].tail_split &&
                kinds[i].zlib_edit == ZE_NONE) {
                sitx_image_limits_default(&lim);
                n_tail_split += sitx_png_validate_fast(b.data, b.len, &lim, &info) == 0;
            }
        }
        sitx_buf_clear(&b);
    }
    free(copy);
}

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        uint8_t *buf = NULL;
        size_t len = 0;

        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            walk(path);
            continue;
        }
        assert_int_equal(tu_read_file(path, &buf, &len), 0);
        if (sitx_image_detect(buf, len) == SITX_IMAGE_PNG && check_same(buf, len, path) == 0 &&
            len > 8) {
            damage(buf, len, path);
        }
        free(buf);
    }
    closedir(d);
}

static void test_corpus_same_verdicts(void **state)
{
    const char *dir = tu_corpus_dir_or_skip();
    char sub[1024];

    (void)state;
    snprintf(sub, sizeof(sub), "%s/png", dir);
    walk(sub);
    snprintf(sub, sizeof(sub), "%s/jpeg", dir);
    walk(sub); /* the PNG named .jpg */
    /* The shortcut really runs: most valid corpus PNGs take it. */
    print_message("%u checks, %u accepted by the shortcut, %u where it stepped aside in pieces, "
                  "%u with the Adler-32 over two IDATs accepted\n",
                  ways.checked, ways.fast_ok, ways.stepped, n_tail_split);
    assert_true(ways.fast_ok >= 150);
    assert_true(n_tail_split >= 100);
    assert_true(ways.stepped >= (tu_scaled_ms(1) > 1 ? 100 : 1000)); /* the step back runs too */
    assert_true(ways.checked >= 20000);
}

/* Memory limits around what libpng's rows and zlib's window take: the
 * shortcut must not accept where the streaming path runs out. */
static void test_memory_limits_agree(void **state)
{
    static const char *files[] = {"png/pngsuite/basn2c16.png", "png/pngsuite/basi6a16.png",
                                  "png/pngsuite/basn0g01.png", "png/pngsuite/s39i3p04.png"};
    const char *dir = tu_corpus_dir_or_skip();
    size_t i;

    (void)state;
    (void)dir;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        uint8_t *buf = NULL;
        size_t len = 0;

        assert_int_equal(tu_read_file(tu_corpus_path(files[i]), &buf, &len), 0);
        for (uint64_t mem = 1024; mem <= 1024 * 1024; mem += 4096) {
            struct sitx_image_limits lim;
            char what[256];

            sitx_image_limits_default(&lim);
            lim.max_memory = mem;
            snprintf(what, sizeof(what), "%s with max_memory %llu", files[i],
                     (unsigned long long)mem);
            (void)check_same_lim(buf, len, &lim, what);
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_same_verdicts),
        cmocka_unit_test(test_memory_limits_agree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
