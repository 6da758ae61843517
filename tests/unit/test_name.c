/* File-name sanitiser: a table of hostile names with their expected results,
 * then properties every result must have, checked with a UTF-8 validator
 * written here from the Unicode table (not the one under test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "msg.h"
#include "name.h"

/* Unicode 15, table 3-7 "Well-Formed UTF-8 Byte Sequences", range by range.
 * Also refuses C0, DEL and C1 controls. */
static int well_formed_no_controls(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t b = s[i];

        if (b <= 0x7f) {
            if (b < 0x20 || b == 0x7f) {
                return 0;
            }
            i += 1;
        } else if (b >= 0xc2 && b <= 0xdf) {
            if (i + 1 >= n || s[i + 1] < 0x80 || s[i + 1] > 0xbf) {
                return 0;
            }
            if (b == 0xc2 && s[i + 1] <= 0x9f) {
                return 0; /* C1 control */
            }
            i += 2;
        } else if (b >= 0xe0 && b <= 0xef) {
            uint8_t lo = 0x80;
            uint8_t hi = 0xbf;

            if (b == 0xe0) {
                lo = 0xa0;
            } else if (b == 0xed) {
                hi = 0x9f;
            }
            if (i + 2 >= n || s[i + 1] < lo || s[i + 1] > hi || s[i + 2] < 0x80 ||
                s[i + 2] > 0xbf) {
                return 0;
            }
            i += 3;
        } else if (b >= 0xf0 && b <= 0xf4) {
            uint8_t lo = 0x80;
            uint8_t hi = 0xbf;

            if (b == 0xf0) {
                lo = 0x90;
            } else if (b == 0xf4) {
                hi = 0x8f;
            }
            if (i + 3 >= n || s[i + 1] < lo || s[i + 1] > hi || s[i + 2] < 0x80 ||
                s[i + 2] > 0xbf || s[i + 3] < 0x80 || s[i + 3] > 0xbf) {
                return 0;
            }
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);

    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int has_jpeg_ext(const char *s)
{
    return ends_with_ci(s, ".jpg") || ends_with_ci(s, ".jpeg") || ends_with_ci(s, ".jpe") ||
           ends_with_ci(s, ".jfif");
}

/* Everything name.h promises about a result. */
static void check_safe(const char *out, size_t n, const char *ext)
{
    assert_int_equal(strlen(out), n);
    assert_true(n > 0);
    assert_true(n <= SITX_NAME_MAX);
    assert_true(well_formed_no_controls((const uint8_t *)out, n));
    assert_null(strchr(out, '/'));
    assert_null(strchr(out, '\\'));
    assert_null(strchr(out, ':'));
    assert_true(out[0] != '.' && out[0] != ' ');
    assert_true(strcmp(out, ".") != 0 && strcmp(out, "..") != 0);
    if (ext != NULL && strcasecmp(ext, ".jpg") == 0) {
        assert_true(has_jpeg_ext(out));
    } else if (ext != NULL) {
        assert_true(ends_with_ci(out, ext));
    }
}

struct name_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *ext;
    const char *want;
};

static const struct name_case CASES[] = {
    {"../../etc/passwd", 0, ".png", "passwd.png"},
    {"../../etc/passwd", 0, NULL, "passwd"},
    {"a/b.png", 0, ".png", "b.png"},
    {"a\\b\\c.png", 0, ".png", "c.png"},
    {"C:\\Users\\x\\shot.png", 0, ".png", "shot.png"},
    {"C:evil.png", 0, ".png", "C_evil.png"},
    {".hidden.png", 0, ".png", "hidden.png"},
    {"...png", 0, ".png", "png.png"},
    {".png", 0, ".png", "png.png"},
    {"  spaced.png", 0, ".png", "spaced.png"},
    {"\001evil.png", 0, ".png", "_evil.png"},
    {"a\nb.png", 0, ".png", "a_b.png"},
    {"tab\there.png", 0, ".png", "tab_here.png"},
    {"del\x7f.png", 0, ".png", "del_.png"},
    {"nel\xc2\x85.png", 0, ".png", "nel_.png"},
    {"bad\xffname.png", 0, ".png", "bad_name.png"},
    {"\300\257etc.png", 0, ".png", "__etc.png"},        /* overlong '/' */
    {"\xed\xa0\x80x.png", 0, ".png", "___x.png"},       /* surrogate */
    {"\xf4\x90\x80\x80x.png", 0, ".png", "____x.png"},  /* above U+10FFFF */
    {"cut\xe2\x82.png", 0, ".png", "cut__.png"},        /* truncated sequence */
    {"\xe2\x80\xaegnp.exe", 0, ".png", "_gnp.exe.png"}, /* right-to-left override */
    {"caf\xc3\xa9.png", 0, ".png", "caf\xc3\xa9.png"},
    {"\xe5\x86\x99\xe7\x9c\x9f.jpg", 0, ".jpg", "\xe5\x86\x99\xe7\x9c\x9f.jpg"},
    {"a\0b.png", 7, ".png", "a_b.png"},
    {"photo.JPG", 0, ".jpg", "photo.JPG"},
    {"photo.jpeg", 0, ".jpg", "photo.jpeg"},
    {"photo.JFIF", 0, ".jpg", "photo.JFIF"},
    {"photo.jpe", 0, ".jpg", "photo.jpe"},
    {"photo.PNG", 0, ".png", "photo.PNG"},
    {"photo.PNG", 0, ".jpg", "photo.PNG.jpg"},
    {"photo.jpg", 0, ".png", "photo.jpg.png"},
    {"photo.gif", 0, ".png", "photo.gif.png"},
    {"photo", 0, ".png", "photo.png"},
    {"photo", 0, NULL, "photo"},
    {"photo..png", 0, ".png", "photo.png"},
    {"photo. .png", 0, ".png", "photo.png"},
    {"trailing. . ", 0, NULL, "trailing"},
    {"x.tar.gz", 0, NULL, "x.tar.gz"},
    {"x.p:ng", 0, NULL, "x.p_ng"},
    {"con.png", 0, ".png", "con.png"},
    {"..", 0, ".png", "image.png"},
    {"..", 0, NULL, "image"},
    {".", 0, NULL, "image"},
    {"", 0, ".png", "image.png"},
    {"", 0, NULL, "image"},
    {"dir/", 0, ".jpg", "image.jpg"},
    {"/", 0, ".png", "image.png"},
    {". . .", 0, ".png", "image.png"},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const struct name_case *c = &CASES[i];
        size_t len = c->len != 0 ? c->len : strlen(c->in);
        char out[256];
        size_t n;

        memset(out, 'Z', sizeof(out));
        n = sitx_name_sanitize(c->in, len, c->ext, out, sizeof(out));
        if (strcmp(out, c->want) != 0) {
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, out, c->want);
        }
        check_safe(out, n, c->ext);
    }
}

static void test_long_ascii(void **state)
{
    char in[320];
    char out[256];
    size_t n;

    (void)state;
    memset(in, 'a', 300);
    memcpy(in + 300, ".png", 4);
    n = sitx_name_sanitize(in, 304, ".png", out, sizeof(out));
    assert_int_equal(n, SITX_NAME_MAX);
    assert_memory_equal(out, in, SITX_NAME_MAX - 4);
    assert_string_equal(out + SITX_NAME_MAX - 4, ".png");
    check_safe(out, n, ".png");

    /* No extension at all: the appended one still fits. */
    n = sitx_name_sanitize(in, 300, ".jpg", out, sizeof(out));
    assert_int_equal(n, SITX_NAME_MAX);
    assert_string_equal(out + SITX_NAME_MAX - 4, ".jpg");
    check_safe(out, n, ".jpg");
}

static void test_long_multibyte_cut_on_boundary(void **state)
{
    char in[400];
    char out[256];
    size_t n;
    size_t len = 0;

    (void)state;
    /* 150 two-byte "é" then 100 three-byte "€": the cut must not split one. */
    for (int i = 0; i < 150; i++) {
        in[len++] = '\xc3';
        in[len++] = '\xa9';
    }
    memcpy(in + len, ".png", 4);
    len += 4;
    n = sitx_name_sanitize(in, len, ".png", out, sizeof(out));
    assert_int_equal(n, 250 + 4); /* 125 whole characters of 2 bytes fit in 251 */
    check_safe(out, n, ".png");

    len = 0;
    in[len++] = 'x';
    for (int i = 0; i < 100; i++) {
        memcpy(in + len, "\xe2\x82\xac", 3);
        len += 3;
    }
    n = sitx_name_sanitize(in, len, ".jpg", out, sizeof(out));
    assert_int_equal(n, 1 + 83 * 3 + 4); /* 1 + 249 bytes of whole characters, then .jpg */
    check_safe(out, n, ".jpg");
}

static void test_small_cap_still_terminated(void **state)
{
    char out[8];
    size_t n;

    (void)state;
    memset(out, 'Z', sizeof(out));
    n = sitx_name_sanitize("abcdefghijkl.png", 16, ".png", out, sizeof(out));
    assert_true(n < sizeof(out));
    assert_int_equal(strlen(out), n);
    assert_true(well_formed_no_controls((const uint8_t *)out, n));
    assert_int_equal(sitx_name_sanitize("x", 1, ".png", out, 0), 0);
}

/* A small deterministic generator, so a failure can be replayed. */
static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void test_random_inputs_are_safe(void **state)
{
    static const char *const exts[] = {".png", ".jpg", NULL};
    /* Bytes that stress the sanitiser more than uniform noise does. */
    static const uint8_t alphabet[] = {'.',  '.',  '/',  '\\', ' ',  ':',  'a',  'Z',  '0',
                                       0x00, 0x01, 0x1f, 0x7f, 0x80, 0x85, 0xbf, 0xc0, 0xc2,
                                       0xc3, 0xa9, 0xe2, 0x80, 0xae, 0xed, 0xa0, 0xf0, 0x9f,
                                       0x98, 0x80, 0xf4, 0x90, 0xff, 'p',  'n',  'g',  'j'};
    uint32_t seed = 0x5eed1234u;

    (void)state;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t in[600];
        char out[256];
        size_t len = rng_next(&seed) % sizeof(in);
        const char *ext = exts[rng_next(&seed) % 3];
        size_t n;

        for (size_t i = 0; i < len; i++) {
            uint32_t r = rng_next(&seed);

            in[i] = (r & 1) ? alphabet[(r >> 1) % sizeof(alphabet)] : (uint8_t)(r >> 8);
        }
        n = sitx_name_sanitize((const char *)in, len, ext, out, sizeof(out));
        check_safe(out, n, ext);
    }
}

struct utf8_case {
    const char *s;
    size_t len;
    size_t want_n;
    uint32_t want_cp;
};

static void test_utf8_next(void **state)
{
    static const struct utf8_case cases[] = {
        {"A", 1, 1, 0x41},
        {"\xc2\x80", 2, 2, 0x80},
        {"\xdf\xbf", 2, 2, 0x7ff},
        {"\xe0\xa0\x80", 3, 3, 0x800},
        {"\xef\xbf\xbd", 3, 3, 0xfffd},
        {"\xf0\x90\x80\x80", 4, 4, 0x10000},
        {"\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff},
        {"\xc0\x80", 2, 0, 0},         /* overlong NUL */
        {"\xc1\xbf", 2, 0, 0},         /* overlong */
        {"\xe0\x9f\xbf", 3, 0, 0},     /* overlong */
        {"\xf0\x8f\xbf\xbf", 4, 0, 0}, /* overlong */
        {"\xed\xa0\x80", 3, 0, 0},     /* surrogate */
        {"\xed\xbf\xbf", 3, 0, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0, 0}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, 0, 0},
        {"\x80", 1, 0, 0},
        {"\xc3", 1, 0, 0}, /* cut short */
        {"\xe2\x82", 2, 0, 0},
        {"\xc3(", 2, 0, 0},
        {"", 0, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t cp = 0xdeadbeef;
        size_t n = sitx_utf8_next((const uint8_t *)cases[i].s, cases[i].len, &cp);

        if (n != cases[i].want_n) {
            fail_msg("utf8 case %zu: length %zu, want %zu", i, n, cases[i].want_n);
        }
        if (n != 0) {
            assert_int_equal(cp, cases[i].want_cp);
        }
    }
}

/* Relative paths keep their directories, sanitised component by component. */
static void test_paths(void **state)
{
    static const struct {
        const char *in;
        const char *ext;
        const char *want;
    } cases[] = {
        {"a/b/c.png", ".png", "a/b/c.png"},
        {"2024/trip/IMG_1.JPG", ".jpg", "2024/trip/IMG_1.JPG"},
        {"../../etc/passwd", ".png", "etc/passwd.png"},
        {"/etc/x.png", ".png", "etc/x.png"},
        {"a/../b/./c.png", ".png", "a/b/c.png"},
        {"a//b///c.png", ".png", "a/b/c.png"},
        {".git/.hidden.png", ".png", "git/hidden.png"},
        {"...../x.png", ".png", "x.png"},
        {"dir. /x.png", ".png", "dir/x.png"},
        {"a\\..\\b/x.png", ".png", "a_.._b/x.png"},
        {"c:/x.png", ".png", "c_/x.png"},
        {"d\x01ir/x\x1b.png", ".png", "d_ir/x_.png"},
        {"caf\xc3\xa9/\xe2\x82\xac.png", ".png", "caf\xc3\xa9/\xe2\x82\xac.png"},
        {"bad\xff/x.png", ".png", "bad_/x.png"},
        {"a.png/b.txt", ".png", "a.png/b.txt.png"},
        {"a.txt/b", ".jpg", "a.txt/b.jpg"},
        {"a/b/", ".png", "a/b/image.png"},
        {"a/..", ".png", "a/image.png"},
        {"///", ".png", "image.png"},
        {"", ".png", "image.png"},
    };
    char out[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = sitx_name_sanitize_path(cases[i].in, strlen(cases[i].in), cases[i].ext, out,
                                           sizeof(out));

        if (strcmp(out, cases[i].want) != 0 || n != strlen(out)) {
            fail_msg("path case %zu: got \"%s\", want \"%s\"", i, out, cases[i].want);
        }
    }
    assert_int_equal(sitx_name_dir_len("a/b/c.png"), 3);
    assert_int_equal(sitx_name_dir_len("c.png"), 0);
}

/* At most SITX_NAME_DEPTH_MAX levels; over 255 bytes, the flat name. */
static void test_path_depth_and_length(void **state)
{
    char in[1024];
    char want[1024];
    char out[256];
    size_t o = 0;
    size_t w = 0;
    size_t n;

    (void)state;
    for (int i = 0; i < 40; i++) {
        o += (size_t)snprintf(in + o, sizeof(in) - o, "d%d/", i);
        if (i < SITX_NAME_DEPTH_MAX - 1) {
            w += (size_t)snprintf(want + w, sizeof(want) - w, "d%d/", i);
        }
    }
    snprintf(in + o, sizeof(in) - o, "f.png");
    snprintf(want + w, sizeof(want) - w, "f.png");
    n = sitx_name_sanitize_path(in, strlen(in), ".png", out, sizeof(out));
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));

    /* 3 directories of 100 bytes: too long together, so only the file name. */
    memset(in, 'x', 302);
    in[100] = '/';
    in[201] = '/';
    snprintf(in + 302, sizeof(in) - 302, "/f.png");
    n = sitx_name_sanitize_path(in, strlen(in), ".png", out, sizeof(out));
    assert_string_equal(out, "f.png");
    assert_int_equal(n, 5);
    /* Two of them fit. */
    in[201] = '\0';
    strcat(in, "/g.png");
    n = sitx_name_sanitize_path(in, strlen(in), ".png", out, sizeof(out));
    assert_int_equal(n, 100 + 1 + 100 + 1 + 5);
    assert_true(n <= SITX_NAME_MAX);
    assert_string_equal(out + 202, "g.png");
    /* A small cap stays in bounds and terminated. */
    n = sitx_name_sanitize_path("abc/def/ghi.png", 15, ".png", out, 8);
    assert_true(n < 8);
    assert_int_equal(strlen(out), n);
}

/* A sender's name as one directory of the inbox (--per-sender-dirs). */
static void test_dir_component(void **state)
{
    char out[SITX_NAME_MAX + 1];
    char small[8];

    (void)state;
    assert_int_equal(sitx_name_sanitize_dir("alice", 5, out, sizeof(out)), 5);
    assert_string_equal(out, "alice");
    sitx_name_sanitize_dir("Scanner 2F", 10, out, sizeof(out));
    assert_string_equal(out, "Scanner 2F");
    sitx_name_sanitize_dir("a/b\\c:d", 7, out, sizeof(out));
    assert_string_equal(out, "a_b_c_d");
    sitx_name_sanitize_dir("../..", 5, out, sizeof(out));
    assert_string_equal(out, "_");
    assert_int_equal(sitx_name_sanitize_dir("..", 2, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(sitx_name_sanitize_dir(" . ", 3, out, sizeof(out)), 0);
    assert_int_equal(sitx_name_sanitize_dir("", 0, out, sizeof(out)), 0);
    assert_int_equal(sitx_name_sanitize_dir(NULL, 3, out, sizeof(out)), 0);
    sitx_name_sanitize_dir(".hidden.", 8, out, sizeof(out));
    assert_string_equal(out, "hidden");
    sitx_name_sanitize_dir("bad\x01\xff\xe2\x80\xae", 8, out, sizeof(out));
    assert_string_equal(out, "bad___");
    /* Cut short, on a character boundary, and never ending in a dot. */
    sitx_name_sanitize_dir("abcdef.gh", 9, small, sizeof(small));
    assert_string_equal(small, "abcdef");
    sitx_name_sanitize_dir("ab\xc3\xa9\xc3\xa9\xc3\xa9", 8, small, sizeof(small));
    assert_string_equal(small, "ab\xc3\xa9\xc3\xa9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_long_ascii),
        cmocka_unit_test(test_long_multibyte_cut_on_boundary),
        cmocka_unit_test(test_small_cap_still_terminated),
        cmocka_unit_test(test_random_inputs_are_safe),
        cmocka_unit_test(test_utf8_next),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_path_depth_and_length),
        cmocka_unit_test(test_dir_component),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
