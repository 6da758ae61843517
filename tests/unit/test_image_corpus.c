/* Every file of the public PNG and JPEG corpus (recursively, README and
 * licence files included) through detection, whole-buffer validation,
 * streaming validation in random chunks and, for the valid ones, a full
 * decode. Expectations come from the observed-*.tsv files recorded with
 * Debian's libpng 1.6.39 and libjpeg-turbo 2.1.5:
 *   PNG  ok or warning -> accepted; error -> refused;
 *   JPEG djpeg rc 0 -> accepted; rc 1 (error) or 2 (corrupt-data warning)
 *        -> refused, since an image either decodes cleanly or is refused.
 * Files in no table must not be images (detection says unknown). */
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

#include "err.h"
#include "image.h"
#include "testutil.h"

#define MAX_FILES 1024

struct expect {
    char path[256]; /* relative to the corpus dir, e.g. "png/pngsuite/x.png" */
    int accept;
};

struct corpus {
    struct expect exp[MAX_FILES];
    size_t n_exp;
    char *files[MAX_FILES];
    size_t n_files;
};

static struct corpus corpus;

/* Deliberate differences from the observed tables, with the reason. */
static const struct expect deviations[] = {
    /* A valid PNG named .jpg: djpeg refuses it, we detect PNG by content. */
    {"jpeg/jpeg-decoder/reftest/images/mozilla/jpg-size-6x6.jpg", 1},
};

static void load_tsv(const char *dir, const char *prefix, const char *name, int is_jpeg)
{
    char path[1024];
    char line[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/%s", dir, prefix, name);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f)); /* header */
    while (fgets(line, sizeof(line), f) != NULL) {
        char *tab = strchr(line, '\t');
        struct expect *e;

        if (tab == NULL) {
            continue;
        }
        *tab = '\0';
        assert_true(corpus.n_exp < MAX_FILES);
        e = &corpus.exp[corpus.n_exp++];
        assert_true(snprintf(e->path, sizeof(e->path), "%s/%s", prefix, line) <
                    (int)sizeof(e->path));
        if (is_jpeg) {
            e->accept = tab[1] == '0' && tab[2] == '\t';
        } else {
            e->accept = strncmp(tab + 1, "ok", 2) == 0 || strncmp(tab + 1, "warning", 7) == 0;
        }
    }
    fclose(f);
}

static void walk(const char *dir, const char *rel)
{
    char path[1024];
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    d = opendir(path);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char sub[1024];
        struct stat st;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        assert_true(snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name) < (int)sizeof(sub));
        assert_true(snprintf(path, sizeof(path), "%s/%s", dir, sub) < (int)sizeof(path));
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            walk(dir, sub);
        } else if (S_ISREG(st.st_mode)) {
            assert_true(corpus.n_files < MAX_FILES);
            corpus.files[corpus.n_files++] = strdup(sub);
        }
    }
    closedir(d);
}

static const struct expect *find(const struct expect *list, size_t n, const char *rel)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(list[i].path, rel) == 0) {
            return &list[i];
        }
    }
    return NULL;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Feeds buf in chunks of 1..max_chunk bytes (1: byte by byte). */
static int stream_validate(const uint8_t *buf, size_t len, size_t max_chunk,
                           struct sitx_image_info *info, char *msg)
{
    struct sitx_image_limits lim;
    struct sitx_image_validator *v = NULL;
    size_t off = 0;
    int rc;

    sitx_image_limits_default(&lim);
    assert_int_equal(sitx_image_validator_new(&v, &lim), 0);
    rc = 0;
    while (off < len && rc == 0) {
        size_t n = max_chunk <= 1 ? 1 : 1 + rng() % max_chunk;

        if (n > len - off) {
            n = len - off;
        }
        rc = sitx_image_validator_feed(v, buf + off, n);
        off += n;
    }
    if (rc == 0) {
        rc = sitx_image_validator_finish(v, info);
    } else {
        /* A feed error sticks: finish says it again. */
        assert_int_equal(sitx_image_validator_finish(v, info), rc);
    }
    snprintf(msg, SITX_IMAGE_ERR_MAX, "%s", sitx_image_validator_errstr(v));
    sitx_image_validator_free(v);
    return rc;
}

static void test_corpus(void **state)
{
    const char *dir = tu_corpus_dir_or_skip();
    struct sitx_image_limits lim;
    size_t i;
    unsigned accepted = 0, refused = 0, not_images = 0, mismatches = 0, png = 0, jpeg = 0;
    unsigned unknown = 0;

    (void)state;
    sitx_image_limits_default(&lim);
    load_tsv(dir, "png", "observed-libpng-1.6.39.tsv", 0);
    load_tsv(dir, "jpeg", "observed-libjpeg-turbo-2.1.5.tsv", 1);
    walk(dir, "png");
    walk(dir, "jpeg");
    assert_true(corpus.n_files > 490);
    for (i = 0; i < corpus.n_files; i++) {
        const char *rel = corpus.files[i];
        const struct expect *e = find(deviations, sizeof(deviations) / sizeof(deviations[0]), rel);
        char path[1024];
        char err[SITX_IMAGE_ERR_MAX];
        char serr[SITX_IMAGE_ERR_MAX];
        struct sitx_image_info info, sinfo;
        enum sitx_image_format fmt;
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc, src;
        size_t chunks[] = {4096, 97, 1};
        size_t k;

        if (e == NULL) {
            e = find(corpus.exp, corpus.n_exp, rel);
        }
        assert_true(snprintf(path, sizeof(path), "%s/%s", dir, rel) < (int)sizeof(path));
        assert_int_equal(tu_read_file(path, &buf, &len), 0);
        fmt = sitx_image_detect(buf, len);
        memset(&info, 0, sizeof(info));
        rc = sitx_image_validate(buf, len, &lim, &info, err);
        if (e == NULL) {
            /* Not in a table: a licence, a README or a table itself. */
            if (fmt != SITX_IMAGE_UNKNOWN || rc != SITX_E_UNSUPPORTED) {
                printf("MISMATCH %s: not an image but detected as %s, rc %d\n", rel,
                       sitx_image_format_name(fmt), rc);
                mismatches++;
            }
            not_images++;
            free(buf);
            continue;
        }
        png += fmt == SITX_IMAGE_PNG;
        jpeg += fmt == SITX_IMAGE_JPEG;
        unknown += fmt == SITX_IMAGE_UNKNOWN;
        if (e->accept != (rc == 0)) {
            printf("MISMATCH %s: expected %s, got rc %d (%s)\n", rel,
                   e->accept ? "accept" : "refuse", rc, err);
            mismatches++;
        }
        if (rc != 0 && err[0] == '\0') {
            printf("MISMATCH %s: refused without a message\n", rel);
            mismatches++;
        }
        accepted += rc == 0;
        refused += rc != 0;
        for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
            if (chunks[k] == 1 && len > 64 * 1024) {
                continue; /* byte by byte only for the small files */
            }
            memset(&sinfo, 0, sizeof(sinfo));
            src = stream_validate(buf, len, chunks[k], &sinfo, serr);
            if (src != rc || (rc != 0 && strcmp(serr, err) != 0) ||
                (rc == 0 && memcmp(&sinfo, &info, sizeof(info)) != 0)) {
                printf("MISMATCH %s: stream (chunks up to %zu) rc %d '%s' vs whole rc %d '%s'\n",
                       rel, chunks[k], src, serr, rc, err);
                mismatches++;
            }
        }
        if (rc == 0) {
            uint8_t *px = NULL;
            uint32_t w = 0, h = 0;

            if (sitx_image_decode_rgba(buf, len, &lim, &px, &w, &h, err) != 0 || w != info.width ||
                h != info.height) {
                printf("MISMATCH %s: valid but full decode failed: %s\n", rel, err);
                mismatches++;
            }
            free(px);
        }
        free(buf);
    }
    printf("corpus: %zu files: %u PNG, %u JPEG, %u named as images but neither, %u not "
           "images; %u accepted, %u refused, %u mismatches\n",
           corpus.n_files, png, jpeg, unknown, not_images, accepted, refused, mismatches);
    for (i = 0; i < corpus.n_files; i++) {
        free(corpus.files[i]);
    }
    assert_int_equal(mismatches, 0);
    /* Every table entry was seen as a file. */
    assert_int_equal(png + jpeg + unknown, corpus.n_exp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
    };

    tu_corpus_dir_or_skip();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
