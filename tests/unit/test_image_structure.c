/* sitx_image_check_structure(): never refuses what the full validator
 * accepts (over every corpus file), and refuses truncated, mangled and
 * unsupported files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "err.h"
#include "image.h"
#include "testutil.h"

static unsigned n_files;
static unsigned n_accepted;
static unsigned n_refused_both;
static unsigned n_refused_by_structure;

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char verr[SITX_IMAGE_ERR_MAX];
    char serr[SITX_IMAGE_ERR_MAX];
    int v;
    int s;

    (void)st;
    (void)ftw;
    if (flag != FTW_F) {
        return 0;
    }
    assert_int_equal(tu_read_file(path, &buf, &len), 0);
    v = sitx_image_validate(buf, len, NULL, NULL, verr);
    s = sitx_image_check_structure(buf, len, NULL, NULL, serr);
    n_files++;
    if (v == 0) {
        n_accepted++;
        if (s != 0) {
            fail_msg("%s: the validator accepts it, the structure check says: %s", path, serr);
        }
    } else if (s != 0) {
        n_refused_both++;
        assert_true(serr[0] != '\0');
    }
    if (s != 0) {
        n_refused_by_structure++;
    }
    free(buf);
    return 0;
}

/* Every file under png/ and jpeg/: no false refusal. */
static void test_corpus_no_false_refusal(void **state)
{
    char dir[4096];

    (void)state;
    snprintf(dir, sizeof(dir), "%s", tu_corpus_path("png"));
    assert_int_equal(nftw(dir, visit, 16, FTW_PHYS), 0);
    snprintf(dir, sizeof(dir), "%s", tu_corpus_path("jpeg"));
    assert_int_equal(nftw(dir, visit, 16, FTW_PHYS), 0);
    printf("structure check: %u files, %u accepted by the validator and by it, "
           "%u refused by both, %u refused by it in all\n",
           n_files, n_accepted, n_refused_both, n_refused_by_structure);
    assert_true(n_accepted > 250);
    /* It is meant to catch most damage cheaply, not all of it. */
    assert_true(n_refused_both > 60);
}

static void expect_refused(const char *rel, int code, const char *needle)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[SITX_IMAGE_ERR_MAX];

    int rc;

    assert_int_equal(tu_read_file(tu_corpus_path(rel), &buf, &len), 0);
    rc = sitx_image_check_structure(buf, len, NULL, NULL, err);
    free(buf);
    assert_int_equal(rc, code);
    if (strstr(err, needle) == NULL) {
        fail_msg("%s: message \"%s\" lacks \"%s\"", rel, err, needle);
    }
}

static void test_known_bad_files(void **state)
{
    (void)state;
    expect_refused("png/pngsuite/xcsn0g01.png", SITX_E_BAD_IMAGE, "CRC error in the IDAT");
    expect_refused("png/pngsuite/xcrn0g04.png", SITX_E_BAD_IMAGE, "signature");
    expect_refused("png/pngsuite/xs1n0g01.png", SITX_E_UNSUPPORTED, "not a PNG or JPEG");
    expect_refused("png/pngsuite/xdtn0g01.png", SITX_E_BAD_IMAGE, "IDAT");
    expect_refused("png/pngsuite/xd3n2c08.png", SITX_E_BAD_IMAGE, "IHDR");
    expect_refused("jpeg/libjpeg-turbo/monkey12.jpg", SITX_E_BAD_IMAGE, "precision 12");
    expect_refused("jpeg/jpeg-decoder/crashtest/images/missing-sos.jpg", SITX_E_BAD_IMAGE,
                   "JPEG");
}

/* Every cut of a valid PNG and JPEG is refused, and the whole files pass
 * with the right size. */
static void check_truncations(const char *rel, uint32_t w, uint32_t h)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[SITX_IMAGE_ERR_MAX];
    struct sitx_image_info info;

    assert_int_equal(tu_read_file(tu_corpus_path(rel), &buf, &len), 0);
    assert_int_equal(sitx_image_check_structure(buf, len, NULL, &info, err), 0);
    assert_int_equal(info.width, w);
    assert_int_equal(info.height, h);
    for (size_t cut = 0; cut < len - 1; cut++) {
        int rc = sitx_image_check_structure(buf, cut, NULL, NULL, err);

        if (rc == 0) {
            fail_msg("%s cut to %zu of %zu bytes passed", rel, cut, len);
        }
    }
    free(buf);
}

static void test_truncations_refused(void **state)
{
    (void)state;
    check_truncations("png/pngsuite/basn2c08.png", 32, 32);
    check_truncations("jpeg/libjpeg-turbo/testorig.jpg", 227, 149);
}

/* A flipped bit inside PNG image data breaks the IDAT CRC. */
static void test_png_flip_refused(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[SITX_IMAGE_ERR_MAX];
    uint8_t *idat;

    (void)state;
    assert_int_equal(tu_read_file(tu_corpus_path("png/pngsuite/basn2c08.png"), &buf, &len), 0);
    idat = memmem(buf, len, "IDAT", 4);
    assert_non_null(idat);
    idat[10] ^= 0x04;
    assert_int_equal(sitx_image_check_structure(buf, len, NULL, NULL, err), SITX_E_BAD_IMAGE);
    assert_non_null(strstr(err, "CRC"));
    free(buf);
}

static void test_limits_and_format(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[SITX_IMAGE_ERR_MAX];
    struct sitx_image_limits lim;
    static const uint8_t text[] = "just some notes, not an image\n";

    (void)state;
    sitx_image_limits_default(&lim);
    lim.max_pixels = 1000;
    assert_int_equal(tu_read_file(tu_corpus_path("jpeg/libjpeg-turbo/testorig.jpg"), &buf, &len),
                     0);
    assert_int_equal(sitx_image_check_structure(buf, len, &lim, NULL, err), SITX_E_LIMIT);
    free(buf);
    assert_int_equal(sitx_image_check_structure(text, sizeof(text) - 1, NULL, NULL, err),
                     SITX_E_UNSUPPORTED);
    assert_int_equal(sitx_image_check_structure(text, 0, NULL, NULL, err), SITX_E_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_no_false_refusal),
        cmocka_unit_test(test_known_bad_files),
        cmocka_unit_test(test_truncations_refused),
        cmocka_unit_test(test_png_flip_refused),
        cmocka_unit_test(test_limits_and_format),
    };

    tu_corpus_dir_or_skip();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
