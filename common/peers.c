#include "peers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "name.h"
#include "peers_int.h"


void sitx_peers_set_err(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err_len == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A name is printable: valid UTF-8 without control characters. */
static int name_ok(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint32_t cp = 0;
        size_t k = sitx_utf8_next((const uint8_t *)s + i, n - i, &cp);

        if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            return 0;
        }
        i += k;
    }
    return 1;
}

/* Parses one line (without its '\n'). Returns 1 for a peer in *peer, 0 for
 * a blank or comment line, or an error with err set. */
static int parse_line(const char *line, size_t len, size_t lineno, struct sitx_peer *peer,
                      char *err, size_t err_len)
{
    size_t a = 0;
    size_t b;
    size_t key_end;

    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (memchr(line, '\0', len) != NULL) {
        sitx_peers_set_err(err, err_len, "line %zu: NUL byte", lineno);
        return SITX_E_MALFORMED;
    }
    while (a < len && is_blank(line[a])) {
        a++;
    }
    while (len > a && is_blank(line[len - 1])) {
        len--;
    }
    if (a == len || line[a] == '#') {
        return 0;
    }
    key_end = a;
    while (key_end < len && !is_blank(line[key_end])) {
        key_end++;
    }
    if (sitx_pubkey_decode(line + a, key_end - a, peer->pk) != 0) {
        sitx_peers_set_err(err, err_len, "line %zu: not a valid public key (44 base64 characters)",
                           lineno);
        return SITX_E_BAD_KEY;
    }
    b = key_end;
    while (b < len && is_blank(line[b])) {
        b++;
    }
    peer->name[0] = '\0';
    /* "key # note" is a key with a comment, not a name that starts with '#'. */
    if (b == len || line[b] == '#') {
        return 1;
    }
    if (len - b > SITX_PEER_NAME_MAX) {
        sitx_peers_set_err(err, err_len, "line %zu: name longer than %d bytes", lineno,
                           SITX_PEER_NAME_MAX);
        return SITX_E_MALFORMED;
    }
    if (!name_ok(line + b, len - b)) {
        sitx_peers_set_err(err, err_len, "line %zu: name has a control character or invalid UTF-8",
                           lineno);
        return SITX_E_MALFORMED;
    }
    memcpy(peer->name, line + b, len - b);
    peer->name[len - b] = '\0';
    return 1;
}

int sitx_peers_parse(const char *text, size_t len, struct sitx_peers **out, char *err,
                     size_t err_len)
{
    struct sitx_peers *p = NULL;
    size_t *lines = NULL; /* line of each entry, for duplicate messages */
    size_t cap = 0;
    size_t pos = 0;
    size_t lineno = 0;
    int rc;

    *out = NULL;
    sitx_peers_set_err(err, err_len, "%s", "");
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - line) : len - pos;
        struct sitx_peer peer;

        pos += line_len + (nl != NULL ? 1 : 0);
        lineno++;
        rc = parse_line(line, line_len, lineno, &peer, err, err_len);
        if (rc < 0) {
            goto out;
        }
        if (rc == 0) {
            continue;
        }
        /* Keys are public, so a plain comparison is fine while parsing. */
        for (size_t i = 0; i < p->count; i++) {
            if (memcmp(p->list[i].pk, peer.pk, SITX_KEY_BYTES) == 0) {
                sitx_peers_set_err(err, err_len, "line %zu: duplicate key (first on line %zu)",
                                   lineno, lines[i]);
                rc = SITX_E_MALFORMED;
                goto out;
            }
        }
        if (p->count == SITX_PEERS_MAX) {
            sitx_peers_set_err(err, err_len, "line %zu: more than %d peers", lineno,
                               SITX_PEERS_MAX);
            rc = SITX_E_LIMIT;
            goto out;
        }
        if (p->count == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            struct sitx_peer *nl_list;
            size_t *nlines;

            if (ncap > SITX_PEERS_MAX) {
                ncap = SITX_PEERS_MAX;
            }
            nl_list = realloc(p->list, ncap * sizeof(*nl_list));
            if (nl_list == NULL) {
                rc = SITX_E_NOMEM;
                goto out;
            }
            p->list = nl_list;
            nlines = realloc(lines, ncap * sizeof(*nlines));
            if (nlines == NULL) {
                rc = SITX_E_NOMEM;
                goto out;
            }
            lines = nlines;
            cap = ncap;
        }
        p->list[p->count] = peer;
        lines[p->count] = lineno;
        p->count++;
    }
    *out = p;
    p = NULL;
    rc = 0;
out:
    free(lines);
    sitx_peers_free(p);
    return rc;
}

int sitx_peers_read(const char *path, char **out, size_t *len, mode_t *mode, char *err,
                    size_t err_len)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd;
    int rc = 0;

    *out = NULL;
    *len = 0;
    *mode = 0;
    /* O_NONBLOCK: a FIFO put in its place must not hang us. */
    fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        sitx_peers_set_err(err, err_len, "%s", sitx_strerror(rc));
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        sitx_peers_set_err(err, err_len, "%s", sitx_strerror(rc));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = SITX_E_INVALID;
        sitx_peers_set_err(err, err_len, "not a regular file");
        goto out;
    }
    /* One byte over the limit to tell "too large" from "exactly the limit". */
    buf = malloc(SITX_PEERS_FILE_MAX + 2);
    if (buf == NULL) {
        rc = SITX_E_NOMEM;
        sitx_peers_set_err(err, err_len, "%s", sitx_strerror(rc));
        goto out;
    }
    while (got < SITX_PEERS_FILE_MAX + 1) {
        ssize_t r = read(fd, buf + got, SITX_PEERS_FILE_MAX + 1 - got);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            sitx_peers_set_err(err, err_len, "%s", sitx_strerror(rc));
            goto out;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    if (got > SITX_PEERS_FILE_MAX) {
        rc = SITX_E_LIMIT;
        sitx_peers_set_err(err, err_len, "file larger than %u bytes", SITX_PEERS_FILE_MAX);
        goto out;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    *mode = st.st_mode & 07777;
    buf = NULL;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    return rc;
}

int sitx_peers_load(const char *path, struct sitx_peers **out, char *err, size_t err_len)
{
    char *buf = NULL;
    size_t len = 0;
    mode_t mode = 0;
    int rc;

    *out = NULL;
    rc = sitx_peers_read(path, &buf, &len, &mode, err, err_len);
    if (rc == 0) {
        rc = sitx_peers_parse(buf, len, out, err, err_len);
    }
    free(buf);
    return rc;
}

const struct sitx_peer *sitx_peers_find(const struct sitx_peers *p,
                                        const uint8_t pk[static SITX_KEY_BYTES])
{
    const struct sitx_peer *found = NULL;

    if (p == NULL) {
        return NULL;
    }
    /* Every entry is compared, so the time does not say where a key sits in the list. */
    for (size_t i = 0; i < p->count; i++) {
        if (sodium_memcmp(p->list[i].pk, pk, SITX_KEY_BYTES) == 0 && found == NULL) {
            found = &p->list[i];
        }
    }
    return found;
}

void sitx_peers_free(struct sitx_peers *p)
{
    if (p == NULL) {
        return;
    }
    free(p->list);
    free(p);
}
