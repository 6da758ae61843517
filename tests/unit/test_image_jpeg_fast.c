/* The JPEG shortcut (common/image_jpeg_fast.c) against the streaming path
 * it stands in for. Every JPEG of the public corpus (valid and broken),
 * and each valid one re-encoded progressive with three scan scripts
 * (libjpeg's standard one, spectral selection only, and deep successive
 * approximation with one DC scan per component) and as one optimised
 * sequential scan, with and without restart markers, then truncated, with random bytes damaged,
 * with bytes of a later scan header changed, and with segments and bytes put between scans (COM,
 * APP0, DRI, RST0, fill bytes, stray data), gets the same verdict, message and info from
 * sitx_image_validate() and from the streaming validator fed in random pieces with a reread source
 * (the receiver's way: shortcut, and stepping back to the full path), with and without a memory
 * gate, as from the streaming validator without one, which never takes the shortcut.
 * The scan decoder is built twice (common/cpu.h); the corpus runs through
 * the build this CPU picks, then again, without most of the damage,
 * through the baseline build. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jpeglib.h>

#include "cpu.h"
#include "err.h"
#include "image.h"
#include "image_internal.h"
#include "testutil.h"
#include "validate_ways.h"

static uint64_t rng_state = 0x7E57AB1E5EED0001ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static unsigned n_progressive, n_whole;
/* 0: damage only one original file in four, and re-encodings only with
 * the deep script (most refinement scans). */
static int thorough = 1;

/* Under valgrind (time scale over 1) fewer damaged copies of each file,
 * or the memcheck job runs past its timeout. */
static int light(void)
{
    return tu_scaled_ms(1) > 1;
}

/* In pieces of up to 700 bytes or 70000, every third under a memory gate;
 * under valgrind only every fourth case in pieces. */
static struct vw_ways ways = {rng, sitx_jpeg_validate_fast, 700, 70000, 3, 4, 0, 0, 0};

static int check_same_lim(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                          const char *what)
{
    return vw_check_same_lim(&ways, buf, len, lim, what);
}

static int check_same(const uint8_t *buf, size_t len, const char *what)
{
    return vw_check_same(&ways, buf, len, what);
}

struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
};

static void on_error(j_common_ptr c)
{
    longjmp(((struct jerr *)c->err)->jb, 1);
}

static void on_message(j_common_ptr c, int level)
{
    (void)c;
    (void)level;
}

enum script { SC_STANDARD, SC_SPECTRAL, SC_DEEP, SC_SEQUENTIAL, SC_COUNT };

/* A progressive script of this kind for n components. */
static jpeg_scan_info *make_script(enum script kind, int n, int *count)
{
    static jpeg_scan_info s[64];
    int k = 0, ci;

#define SCAN(nc, c0, ss, se, ah, al)                                                               \
    do {                                                                                           \
        s[k].comps_in_scan = (nc);                                                                 \
        s[k].component_index[0] = (c0);                                                            \
        s[k].component_index[1] = 1;                                                               \
        s[k].component_index[2] = 2;                                                               \
        s[k].Ss = (ss);                                                                            \
        s[k].Se = (se);                                                                            \
        s[k].Ah = (ah);                                                                            \
        s[k].Al = (al);                                                                            \
        k++;                                                                                       \
    } while (0)
    if (kind == SC_SPECTRAL) {
        SCAN(n, 0, 0, 0, 0, 0);
        for (ci = 0; ci < n; ci++) {
            SCAN(1, ci, 1, 5, 0, 0);
            SCAN(1, ci, 6, 63, 0, 0);
        }
    } else {
        for (ci = 0; ci < n; ci++) {
            SCAN(1, ci, 0, 0, 0, 2);
        }
        for (ci = 0; ci < n; ci++) {
            SCAN(1, ci, 1, 63, 0, 3);
        }
        SCAN(n, 0, 0, 0, 2, 1);
        for (ci = 0; ci < n; ci++) {
            SCAN(1, ci, 1, 63, 3, 2);
            SCAN(1, ci, 1, 9, 2, 1);
            SCAN(1, ci, 10, 63, 2, 1);
        }
        SCAN(n, 0, 0, 0, 1, 0);
        for (ci = 0; ci < n; ci++) {
            SCAN(1, ci, 1, 63, 1, 0);
        }
    }
#undef SCAN
    *count = k;
    return s;
}

/* in re-encoded losslessly as a progressive JPEG with this script (or as
 * one optimised sequential scan); restart markers every MCU row when
 * restarts. 0, or -1 when libjpeg refuses. */
static int make_progressive(const uint8_t *in, size_t len, enum script kind, int restarts,
                            struct sitx_buf *out)
{
    struct jpeg_decompress_struct d;
    struct jpeg_compress_struct c;
    struct jerr je;
    unsigned char *mem = NULL;
    unsigned long mem_len = 0;
    volatile int made_c = 0;
    jvirt_barray_ptr *coefs;

    sitx_buf_init(out);
    memset(&d, 0, sizeof(d));
    memset(&c, 0, sizeof(c));
    d.err = jpeg_std_error(&je.pub);
    c.err = &je.pub;
    je.pub.error_exit = on_error;
    je.pub.emit_message = on_message;
    if (setjmp(je.jb) != 0) {
        if (made_c) {
            jpeg_destroy_compress(&c);
        }
        jpeg_destroy_decompress(&d);
        free(mem);
        return -1;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, in, (unsigned long)len);
    (void)jpeg_read_header(&d, TRUE);
    if (d.num_components > 3 || d.arith_code || d.data_precision != 8) {
        longjmp(je.jb, 1);
    }
    coefs = jpeg_read_coefficients(&d);
    jpeg_create_compress(&c);
    made_c = 1;
    jpeg_mem_dest(&c, &mem, &mem_len);
    jpeg_copy_critical_parameters(&d, &c);
    if (kind == SC_STANDARD) {
        jpeg_simple_progression(&c);
    } else if (kind != SC_SEQUENTIAL) {
        int n = 0;

        c.scan_info = make_script(kind, c.num_components, &n);
        c.num_scans = n;
    }
    c.optimize_coding = TRUE;
    c.restart_in_rows = restarts ? 1 : 0;
    jpeg_write_coefficients(&c, coefs);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    (void)jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    assert_int_equal(sitx_buf_append(out, mem, mem_len), 0);
    free(mem);
    return 0;
}

/* Offset of the n-th marker code (0-based) in a JPEG, skipping segments
 * and entropy-coded data, or 0. */
static size_t marker_at(const uint8_t *b, size_t len, uint8_t code, int nth)
{
    size_t i = 2;

    while (i + 2 <= len) {
        size_t seg;

        if (b[i] != 0xFF) {
            i++; /* entropy-coded data */
            continue;
        }
        if (b[i + 1] == 0x00 || b[i + 1] == 0xFF || (b[i + 1] >= 0xD0 && b[i + 1] <= 0xD7)) {
            i += 2;
            continue;
        }
        if (b[i + 1] == code && nth-- == 0) {
            return i;
        }
        if (b[i + 1] == 0xD9 || i + 4 > len) {
            return 0;
        }
        seg = (size_t)b[i + 2] << 8 | b[i + 3];
        i += 2 + seg;
    }
    return 0;
}

/* buf with ins inserted at off, checked. */
static void check_inserted(const uint8_t *buf, size_t len, size_t off, const uint8_t *ins, size_t n,
                           const char *what)
{
    uint8_t *b = malloc(len + n);

    assert_non_null(b);
    memcpy(b, buf, off);
    memcpy(b + off, ins, n);
    memcpy(b + off + n, buf + off, len - off);
    (void)check_same(b, len + n, what);
    free(b);
}

static void damage(const uint8_t *buf, size_t len, const char *name)
{
    static const uint8_t com[] = {0xFF, 0xFE, 0x00, 0x05, 'h', 'i', '!'};
    static const uint8_t app0[] = {0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0,
                                   2,    1,    0,    0,    1,   0,   1,   0,   0};
    static const uint8_t app3[] = {0xFF, 0xE3, 0x00, 0x04, 1, 2};
    static const uint8_t dri0[] = {0xFF, 0xDD, 0x00, 0x04, 0x00, 0x00};
    static const uint8_t dri1[] = {0xFF, 0xDD, 0x00, 0x04, 0x00, 0x01};
    static const uint8_t rst0[] = {0xFF, 0xD0};
    static const uint8_t fill[] = {0xFF};
    static const uint8_t stray[] = {0x12, 0x34};
    static const uint8_t bad_len[] = {0xFF, 0xFE, 0x00, 0x01};
    static const struct {
        const uint8_t *b;
        size_t n;
    } ins[] = {{com, sizeof(com)},   {app0, sizeof(app0)},   {app3, sizeof(app3)},
               {dri0, sizeof(dri0)}, {dri1, sizeof(dri1)},   {rst0, sizeof(rst0)},
               {fill, sizeof(fill)}, {stray, sizeof(stray)}, {bad_len, sizeof(bad_len)}};
    uint8_t *copy = malloc(len);
    char what[1200];
    size_t i, sos2 = marker_at(buf, len, 0xDA, 1), eoi = marker_at(buf, len, 0xD9, 0), last_sos;

    assert_non_null(copy);
    for (i = 1; i <= 12; i += light() ? 4 : 1) {
        size_t cut = len * i / 13;

        snprintf(what, sizeof(what), "%s cut at %zu", name, cut);
        (void)check_same(buf, cut, what);
    }
    snprintf(what, sizeof(what), "%s without its last byte", name);
    (void)check_same(buf, len - 1, what);
    for (i = 0; i < (light() ? 6u : 40u); i++) {
        size_t at = 2 + rng() % (len - 2);

        memcpy(copy, buf, len);
        copy[at] ^= (uint8_t)(1 + rng() % 255);
        snprintf(what, sizeof(what), "%s byte %zu changed", name, at);
        (void)check_same(copy, len, what);
    }
    if (sos2 > 0) {
        /* Each byte of the second scan's header, and the bytes before it. */
        for (i = 0; i < 14 && sos2 + i < len; i += light() ? 3 : 1) {
            memcpy(copy, buf, len);
            copy[sos2 - 4 + i] ^= (uint8_t)(1u << (rng() % 8));
            snprintf(what, sizeof(what), "%s byte %zu near the second SOS changed", name,
                     sos2 - 4 + i);
            (void)check_same(copy, len, what);
        }
        for (i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
            snprintf(what, sizeof(what), "%s insert %zu before the second SOS", name, i);
            check_inserted(buf, len, sos2, ins[i].b, ins[i].n, what);
        }
    }
    if (eoi > 0) {
        static const uint8_t tail[] = {0x00, 0x11, 0xFF, 0xD8};

        snprintf(what, sizeof(what), "%s bytes after EOI", name);
        check_inserted(buf, len, eoi + 2 <= len ? eoi + 2 : len, tail, sizeof(tail), what);
        snprintf(what, sizeof(what), "%s COM before EOI", name);
        check_inserted(buf, len, eoi, com, sizeof(com), what);
        for (i = 0; marker_at(buf, len, 0xDA, (int)i + 1) > 0; i++) {
        }
        last_sos = marker_at(buf, len, 0xDA, (int)i);
        if (last_sos > 0 && last_sos < eoi) {
            /* The last scan once more: a second sequential scan, or a
             * repeated progressive one. */
            snprintf(what, sizeof(what), "%s last scan twice", name);
            check_inserted(buf, len, eoi, buf + last_sos, eoi - last_sos, what);
        }
    }
    free(copy);
}

static int is_progressive(const uint8_t *b, size_t len)
{
    return marker_at(b, len, 0xC2, 0) > 0;
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
        int kind, restarts, fast[SC_COUNT][2] = {{0}};

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
        if (sitx_image_detect(buf, len) != SITX_IMAGE_JPEG || check_same(buf, len, path) != 0) {
            free(buf);
            continue;
        }
        if ((thorough && is_progressive(buf, len)) || rng() % 4 == 0) {
            damage(buf, len, path);
        }
        for (kind = 0; kind < SC_COUNT; kind++) {
            for (restarts = 0; restarts <= 1; restarts++) {
                struct sitx_buf p;
                char what[1200];

                if (make_progressive(buf, len, (enum script)kind, restarts, &p) == 0) {
                    unsigned fast_before = ways.fast_ok;

                    snprintf(what, sizeof(what), "%s as script %d%s", path, kind,
                             restarts ? " with restarts" : "");
                    if (check_same(p.data, p.len, what) == 0) {
                        /* check_same() counts it when the shortcut alone took it */
                        fast[kind][restarts] = ways.fast_ok > fast_before ? 1 : -1;
                        n_progressive++;
                        if ((thorough || (kind == SC_DEEP && !restarts)) &&
                            (!restarts || kind == SC_STANDARD || kind == SC_SEQUENTIAL) &&
                            p.len < 4u * 1024 * 1024 &&
                            (!light() || kind == SC_DEEP || kind == SC_SEQUENTIAL)) {
                            damage(p.data, p.len, what);
                        }
                    }
                }
                sitx_buf_clear(&p);
            }
        }
        /* Every re-encoding has the layout of the sequential one: where the
         * shortcut takes that, it must take them all, whole. Stepping aside
         * on a sound scan would hide a decoding slip behind the full
         * path's verdict. */
        if (fast[SC_SEQUENTIAL][0] == 1) {
            for (kind = 0; kind < SC_COUNT; kind++) {
                for (restarts = 0; restarts <= 1; restarts++) {
                    if (fast[kind][restarts] == -1) {
                        fail_msg("%s: the shortcut stepped aside on script %d%s", path, kind,
                                 restarts ? " with restarts" : "");
                    }
                }
            }
            n_whole++;
        }
        free(buf);
    }
    closedir(d);
}

static void corpus_walk(const char *build)
{
    const char *dir = tu_corpus_dir_or_skip();
    char sub[1024];

    ways.checked = ways.fast_ok = ways.stepped = 0;
    n_progressive = n_whole = 0;
    snprintf(sub, sizeof(sub), "%s/jpeg", dir);
    walk(sub);
    print_message("%s build: %u checks, %u sound re-encodings, %u accepted by the shortcut, "
                  "%u where it stepped aside in pieces, %u files whose every re-encoding "
                  "it took\n",
                  build, ways.checked, n_progressive, ways.fast_ok, ways.stepped, n_whole);
    /* The shortcut really runs, and so does the step back. */
    assert_true(n_progressive >= 100);
    assert_true(ways.fast_ok >= (light() || !thorough ? 50 : 500));
    assert_true(ways.stepped >= (light() || !thorough ? 50 : 500));
    assert_true(n_whole >= 20);
}

static void test_corpus_same_verdicts(void **state)
{
    (void)state;
    corpus_walk(sitx_cpu_bmi2() ? "BMI2" : "baseline");
}

static void test_corpus_baseline_build(void **state)
{
    (void)state;
    sitx_cpu_force_baseline(1);
    thorough = 0;
    corpus_walk("baseline");
    thorough = 1;
    sitx_cpu_force_baseline(0);
}

/* Memory limits around what the coefficient image takes: the shortcut must
 * not accept where libjpeg would run out; and scan limits. */
static void test_limits_agree(void **state)
{
    const char *dir = tu_corpus_dir_or_skip();
    struct sitx_buf p;
    uint8_t *buf = NULL;
    size_t len = 0;
    unsigned accepted = 0, refused = 0;

    (void)state;
    (void)dir;
    assert_int_equal(tu_read_file(tu_corpus_path("jpeg/libjpeg-turbo/testorig.jpg"), &buf, &len),
                     0);
    assert_int_equal(make_progressive(buf, len, SC_STANDARD, 0, &p), 0);
    for (uint64_t mem = 64 * 1024; mem <= 4 * 1024 * 1024; mem += 64 * 1024) {
        struct sitx_image_limits lim;
        char what[256];

        sitx_image_limits_default(&lim);
        lim.max_memory = mem;
        snprintf(what, sizeof(what), "progressive testorig with max_memory %llu",
                 (unsigned long long)mem);
        if (check_same_lim(p.data, p.len, &lim, what) == 0) {
            accepted++;
        } else {
            refused++;
        }
    }
    assert_true(accepted > 0 && refused > 0);
    /* The scan limit: the shortcut gives the full path's refusal itself. */
    for (uint32_t scans = 1; scans <= 12; scans++) {
        struct sitx_image_limits lim;
        char what[256];
        int rc;

        sitx_image_limits_default(&lim);
        lim.max_scans = scans;
        snprintf(what, sizeof(what), "progressive testorig with max_scans %u", scans);
        rc = check_same_lim(p.data, p.len, &lim, what);
        assert_int_equal(rc, scans < 10 ? SITX_E_LIMIT : 0); /* the standard script has 10 */
    }
    sitx_buf_clear(&p);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_same_verdicts),
        cmocka_unit_test(test_corpus_baseline_build),
        cmocka_unit_test(test_limits_agree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
