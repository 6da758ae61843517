#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"

int tu_hex_decode(const char *hex, uint8_t **out, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *buf = NULL;

    if (n % 2 != 0) {
        return -1;
    }
    buf = malloc(n / 2 + 1); /* +1: never malloc(0) */
    if (buf == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n / 2; i++) {
        int hi = sitx_hexval(hex[2 * i]);
        int lo = sitx_hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            free(buf);
            return -1;
        }
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = buf;
    *len = n / 2;
    return 0;
}

int tu_read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size;
    int rc = 0;

    if (f == NULL) {
        return -errno;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = -EIO;
        goto out;
    }
    buf = malloc((size_t)size + 1);
    if (buf == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        rc = -EIO;
        goto out;
    }
    buf[size] = 0;
    *out = buf;
    *len = (size_t)size;
out:
    fclose(f);
    return rc;
}

int tu_write_file(const char *path, const uint8_t *buf, size_t len, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t off = 0;

    if (fd < 0) {
        return -errno;
    }
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);

        if (w < 0) {
            int e = errno;

            close(fd);
            return -e;
        }
        off += (size_t)w;
    }
    return close(fd) == 0 ? 0 : -errno;
}

const char *tu_corpus_dir_or_skip(void)
{
    static char dir[4096];
    const char *env = getenv("SITX_CORPUS_DIR");
    const char *ci = getenv("CI");
    struct stat st;

    snprintf(dir, sizeof(dir), "%s", env != NULL && env[0] != '\0' ? env : SITX_CORPUS_DIR);
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        return dir;
    }
    if (ci != NULL && strcmp(ci, "true") == 0) {
        fprintf(stderr, "FAIL: test corpus not found at %s (CI=true requires ../shared)\n", dir);
        exit(1);
    }
    fprintf(stderr, "SKIP: test corpus not found at %s; clone with ../shared beside the "
                    "checkout or set SITX_CORPUS_DIR to run this test\n", dir);
    exit(SITX_TEST_SKIP);
}

const char *tu_corpus_path(const char *rel)
{
    static char path[4096];

    snprintf(path, sizeof(path), "%s/%s", tu_corpus_dir_or_skip(), rel);
    return path;
}

char *tu_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char *path = NULL;

    if (asprintf(&path, "%s/sitx-test-XXXXXX", tmp != NULL ? tmp : "/tmp") < 0) {
        return NULL;
    }
    if (mkdtemp(path) == NULL) {
        free(path);
        return NULL;
    }
    return path;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmrf(const char *path)
{
    if (path != NULL) {
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

uint64_t tu_scaled_ms(uint64_t ms)
{
    const char *s = getenv("SITX_TEST_TIME_SCALE");
    char *end = NULL;
    unsigned long k;

    if (s == NULL || *s == '\0') {
        return ms;
    }
    k = strtoul(s, &end, 10);
    if (*end != '\0' || k < 1 || k > 100) {
        fprintf(stderr, "SITX_TEST_TIME_SCALE=`%s' is not a number in 1..100; using 1\n", s);
        return ms;
    }
    return ms * k;
}
