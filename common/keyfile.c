#include "keyfile.h"
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "secmem.h"

/* A private key file is one line of 44 characters; anything much longer is not ours. */
#define KEYFILE_MAX 256
/* A public key file: the key, perhaps with comment lines above it. */
#define PUBFILE_MAX 4096
#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

/* X25519 u-coordinates of low order (RFC 7748 section 6.1: their shared
 * secret is all zeros), as 255-bit values: 0, 1, the two points of order 8,
 * p - 1, p and p + 1. Bit 255 is ignored when compared, as X25519 ignores it. */
/* clang-format off */
static const uint8_t LOW_ORDER[7][SITX_KEY_BYTES] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae,
     0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
     0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd,
     0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24,
     0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
     0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86,
     0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};
/* clang-format on */

static int is_low_order(const uint8_t pk[static SITX_KEY_BYTES])
{
    uint8_t u[SITX_KEY_BYTES];
    int found = 0;

    memcpy(u, pk, sizeof(u));
    u[31] &= 0x7f;
    for (size_t i = 0; i < sizeof(LOW_ORDER) / sizeof(LOW_ORDER[0]); i++) {
        found |= (sodium_memcmp(u, LOW_ORDER[i], sizeof(u)) == 0);
    }
    return found;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int sitx_keypair_generate(struct sitx_keypair *kp)
{
    kp->sk = sitx_secret_alloc(SITX_KEY_BYTES);
    if (kp->sk == NULL) {
        return SITX_E_NOMEM;
    }
    randombytes_buf(kp->sk, SITX_KEY_BYTES);
    crypto_scalarmult_base(kp->pk, kp->sk);
    return 0;
}

void sitx_keypair_clear(struct sitx_keypair *kp)
{
    if (kp == NULL) {
        return;
    }
    sitx_secret_free(kp->sk, SITX_KEY_BYTES);
    kp->sk = NULL;
    sodium_memzero(kp->pk, sizeof(kp->pk));
}

/* Makes the new directory entry durable too; failure here is not worth
 * failing a key that is already written and fsync'ed. */
static void fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n;
    int fd;

    if (slash == NULL) {
        strcpy(dir, ".");
    } else {
        n = (slash == path) ? 1 : (size_t)(slash - path);
        if (n >= sizeof(dir)) {
            return;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int sitx_keyfile_save(const char *path, const struct sitx_keypair *kp)
{
    const size_t text_cap = sodium_base64_ENCODED_LEN(SITX_KEY_BYTES, B64_VARIANT) + 1;
    char *text = NULL;
    size_t text_len;
    int fd = -1;
    int created = 0;
    int rc;

    if (kp == NULL || kp->sk == NULL) {
        rc = SITX_E_INVALID;
        goto out;
    }
    text = sitx_secret_alloc(text_cap);
    if (text == NULL) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    sodium_bin2base64(text, text_cap, kp->sk, SITX_KEY_BYTES, B64_VARIANT);
    text_len = strlen(text);
    text[text_len++] = '\n';

    /* 0600 from the first instant, and never over an existing file or through a symlink. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    created = 1;
    rc = sitx_write_all(fd, text, text_len, NULL);
    if (rc != 0) {
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = -errno;
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = -errno;
        goto out;
    }
    fd = -1;
    fsync_parent(path);
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0 && created) {
        /* A half-written key file would only fail to load later. */
        (void)unlink(path);
    }
    sitx_secret_free(text, text_cap);
    return rc;
}

int sitx_read_private_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
    struct stat st;

    return sitx_read_private_file_st(path, max, out, len, &st);
}

int sitx_read_private_file_st(const char *path, size_t max, uint8_t **out, size_t *len,
                              struct stat *stp)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t cap = 0;
    size_t got = 0;
    int fd = -1;
    int rc;

    *out = NULL;
    *len = 0;
    if (max > SIZE_MAX - 2) {
        rc = SITX_E_INVALID;
        goto out;
    }
    /* O_NONBLOCK so that a FIFO cannot make us wait; fstat below refuses it. */
    fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    /* fstat the descriptor we read from, so a swapped path cannot slip past the checks. */
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        rc = SITX_E_PERMS;
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = SITX_E_TOO_LARGE;
        goto out;
    }
    /* One byte past max shows a file that grew since fstat, one more for the NUL. */
    cap = max + 2;
    buf = sitx_secret_alloc(cap);
    if (buf == NULL) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    while (got < max + 1) {
        ssize_t r = read(fd, buf + got, max + 1 - got);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            goto out;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    if (got > max) {
        rc = SITX_E_TOO_LARGE;
        goto out;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    *stp = st;
    buf = NULL;
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    sitx_secret_free(buf, cap);
    return rc;
}

int sitx_keyfile_load(const char *path, struct sitx_keypair *kp)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    uint8_t *sk = NULL;
    size_t start = 0;
    size_t end;
    size_t bin_len = 0;
    const char *b64_end = NULL;
    int rc = sitx_read_private_file(path, KEYFILE_MAX, &raw, &raw_len); /* refuses mode & 077 */

    if (rc != 0) {
        goto out;
    }
    end = raw_len;
    while (start < end && is_space((char)raw[start])) {
        start++;
    }
    while (end > start && is_space((char)raw[end - 1])) {
        end--;
    }
    if (end - start != SITX_PUBKEY_TEXT_LEN) {
        rc = SITX_E_BAD_KEY;
        goto out;
    }
    sk = sitx_secret_alloc(SITX_KEY_BYTES);
    if (sk == NULL) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    if (sodium_base642bin(sk, SITX_KEY_BYTES, (const char *)raw + start, end - start, NULL,
                          &bin_len, &b64_end, B64_VARIANT) != 0 ||
        bin_len != SITX_KEY_BYTES || b64_end != (const char *)raw + end) {
        rc = SITX_E_BAD_KEY;
        goto out;
    }
    if (crypto_scalarmult_base(kp->pk, sk) != 0) {
        rc = SITX_E_BAD_KEY;
        goto out;
    }
    kp->sk = sk;
    sk = NULL;
    rc = 0;
out:
    sitx_secret_free(sk, SITX_KEY_BYTES);
    sitx_secret_free(raw, raw_len + 1);
    return rc;
}

void sitx_pubkey_encode(const uint8_t pk[static SITX_KEY_BYTES],
                        char out[static SITX_PUBKEY_TEXT_LEN + 1])
{
    sodium_bin2base64(out, SITX_PUBKEY_TEXT_LEN + 1, pk, SITX_KEY_BYTES, B64_VARIANT);
}

int sitx_pubkey_decode(const char *text, size_t len, uint8_t pk[static SITX_KEY_BYTES])
{
    uint8_t tmp[SITX_KEY_BYTES];
    char canon[SITX_PUBKEY_TEXT_LEN + 1];
    size_t bin_len = 0;
    const char *b64_end = NULL;
    int rc = SITX_E_BAD_KEY;

    if (text == NULL) {
        goto out;
    }
    while (len > 0 && is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1])) {
        len--;
    }
    if (len != SITX_PUBKEY_TEXT_LEN) {
        goto out;
    }
    if (sodium_base642bin(tmp, sizeof(tmp), text, len, NULL, &bin_len, &b64_end, B64_VARIANT) !=
            0 ||
        bin_len != SITX_KEY_BYTES || b64_end != text + len) {
        goto out;
    }
    /* One spelling per key, so a key compares equal to itself as text too. */
    sitx_pubkey_encode(tmp, canon);
    if (memcmp(canon, text, SITX_PUBKEY_TEXT_LEN) != 0) {
        goto out;
    }
    if (is_low_order(tmp)) {
        goto out;
    }
    memcpy(pk, tmp, SITX_KEY_BYTES);
    rc = 0;
out:
    sodium_memzero(tmp, sizeof(tmp));
    return rc;
}

/* Reads a small public file (no permission rule: a public key is public). */
static int read_small_file(const char *path, char *buf, size_t cap, size_t *len)
{
    struct stat st;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    int rc = 0;

    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        goto out;
    }
    while (got < cap - 1) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            goto out;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    *len = got;
out:
    close(fd);
    return rc;
}

int sitx_pubkey_from_arg(const char *arg, uint8_t pk[static SITX_KEY_BYTES])
{
    char *buf = NULL;
    size_t len = 0;
    size_t pos = 0;
    int rc;

    if (arg == NULL) {
        return SITX_E_INVALID;
    }
    if (sitx_pubkey_decode(arg, strlen(arg), pk) == 0) {
        return 0;
    }
    buf = malloc(PUBFILE_MAX + 1);
    if (buf == NULL) {
        return SITX_E_NOMEM;
    }
    rc = read_small_file(arg, buf, PUBFILE_MAX + 1, &len);
    if (rc != 0) {
        /* Text with no '/' that is neither a key nor a file was meant as a key. */
        if (rc == -ENOENT && strchr(arg, '/') == NULL) {
            rc = SITX_E_BAD_KEY;
        }
        goto out;
    }
    rc = SITX_E_BAD_KEY;
    while (pos < len) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - line) : len - pos;
        size_t a = 0;
        size_t b;

        pos += line_len + 1;
        while (a < line_len && is_space(line[a])) {
            a++;
        }
        if (a == line_len || line[a] == '#') {
            continue;
        }
        /* The first word, so that a line copied from a peers file works too. */
        b = a;
        while (b < line_len && !is_space(line[b])) {
            b++;
        }
        rc = sitx_pubkey_decode(line + a, b - a, pk);
        break;
    }
out:
    free(buf);
    return rc;
}

void sitx_fingerprint(const uint8_t pk[static SITX_KEY_BYTES],
                      char out[static SITX_FINGERPRINT_LEN + 1])
{
    uint8_t h[32];

    crypto_generichash(h, sizeof(h), pk, SITX_KEY_BYTES, NULL, 0);
    sodium_bin2hex(out, SITX_FINGERPRINT_LEN + 1, h, SITX_FINGERPRINT_LEN / 2);
}
