#include "known.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

int known_find_text(const char *text, size_t len, const char *label,
                    uint8_t pk[static SITX_KEY_BYTES], char *err, size_t err_len)
{
    size_t label_len = strlen(label);
    size_t pos = 0;
    unsigned line_no = 0;

    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
        size_t i = 0;
        size_t host_start;
        size_t host_end;
        size_t key_start;
        size_t key_end;
        uint8_t key[SITX_KEY_BYTES];

        pos += n + (nl != NULL ? 1 : 0);
        line_no++;
        while (i < n && is_space(line[i])) {
            i++;
        }
        if (i == n || line[i] == '#') {
            continue;
        }
        host_start = i;
        while (i < n && !is_space(line[i])) {
            i++;
        }
        host_end = i;
        while (i < n && is_space(line[i])) {
            i++;
        }
        key_start = i;
        while (i < n && !is_space(line[i])) {
            i++;
        }
        key_end = i;
        while (i < n && is_space(line[i])) {
            i++;
        }
        if (key_start == key_end || (i < n && line[i] != '#')) {
            snprintf(err, err_len, "line %u: expected \"host:port <public key>\"", line_no);
            return SITX_E_MALFORMED;
        }
        if (sitx_pubkey_decode(line + key_start, key_end - key_start, key) != 0) {
            snprintf(err, err_len, "line %u: not a public key", line_no);
            return SITX_E_BAD_KEY;
        }
        if (host_end - host_start == label_len &&
            memcmp(line + host_start, label, label_len) == 0) {
            memcpy(pk, key, SITX_KEY_BYTES);
            return 1;
        }
    }
    return 0;
}

int known_find(const char *path, const char *label, uint8_t pk[static SITX_KEY_BYTES], char *err,
               size_t err_len)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t len;
    int rc;

    if (f == NULL) {
        if (errno == ENOENT) {
            return 0;
        }
        rc = -errno;
        snprintf(err, err_len, "%s", strerror(errno));
        return rc;
    }
    text = malloc(KNOWN_FILE_MAX + 1);
    if (text == NULL) {
        fclose(f);
        snprintf(err, err_len, "out of memory");
        return SITX_E_NOMEM;
    }
    len = fread(text, 1, KNOWN_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = -EIO;
        snprintf(err, err_len, "read error");
        goto out;
    }
    if (len > KNOWN_FILE_MAX) {
        rc = SITX_E_TOO_LARGE;
        snprintf(err, err_len, "larger than %u bytes", KNOWN_FILE_MAX);
        goto out;
    }
    rc = known_find_text(text, len, label, pk, err, err_len);
out:
    free(text);
    fclose(f);
    return rc;
}

int known_add(const char *path, const char *label, const uint8_t pk[static SITX_KEY_BYTES])
{
    char key[SITX_PUBKEY_TEXT_LEN + 1];
    char line[SITX_PUBKEY_TEXT_LEN + 300];
    int fd;
    int n;
    int rc = 0;

    sitx_pubkey_encode(pk, key);
    n = snprintf(line, sizeof(line), "%s %s\n", label, key);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        return SITX_E_INVALID;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    /* One write with O_APPEND: the line lands whole even if two senders
     * record at once. */
    errno = 0;
    if (write(fd, line, (size_t)n) != n) {
        rc = errno != 0 ? -errno : -EIO;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    return rc;
}

void known_label(const char *host, uint16_t port, char *out, size_t cap)
{
    if (strchr(host, ':') != NULL) {
        snprintf(out, cap, "[%s]:%u", host, (unsigned)port);
    } else {
        snprintf(out, cap, "%s:%u", host, (unsigned)port);
    }
}
