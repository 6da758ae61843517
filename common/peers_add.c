/* Adding a peer to a peers file without ever leaving a half-written one. */
#include "peers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "name.h"
#include "peers_int.h"
#include "safefile.h"

void sitx_peer_name_sanitize(const char *in, char out[static SITX_PEER_NAME_MAX + 1])
{
    size_t len = strlen(in);
    size_t i = 0;
    size_t n = 0;

    while (i < len) {
        uint32_t cp = 0;
        size_t k = sitx_utf8_next((const uint8_t *)in + i, len - i, &cp);

        if (k == 0) {
            i++; /* not UTF-8: drop the byte */
            continue;
        }
        if (cp <= 0x20 || cp == '#' || (cp >= 0x7f && cp <= 0x9f)) {
            if (n + 1 > SITX_PEER_NAME_MAX) {
                break;
            }
            out[n++] = '-';
        } else {
            if (n + k > SITX_PEER_NAME_MAX) {
                break;
            }
            memcpy(out + n, in + i, k);
            n += k;
        }
        i += k;
    }
    out[n] = '\0';
    if (n == 0) {
        snprintf(out, SITX_PEER_NAME_MAX + 1, "sender");
    }
}

/* The directory part of path ("." for a bare name). */
static int dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n;

    if (slash == NULL) {
        return snprintf(dir, cap, ".") < (int)cap ? 0 : -ENAMETOOLONG;
    }
    n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap) {
        return -ENAMETOOLONG;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    return 0;
}

/* Writes text + line to a temporary beside path and renames it into place. */
static int replace_file(const char *path, const char *text, size_t len, const char *line,
                        mode_t mode)
{
    char dir[PATH_MAX];
    char tmp[PATH_MAX + 32];
    int fd = -1;
    int dfd;
    int rc;

    rc = dir_of(path, dir, sizeof(dir));
    if (rc != 0) {
        return rc;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.sitx-new-XXXXXX", path) >= (int)sizeof(tmp)) {
        return -ENAMETOOLONG;
    }
    fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
    if (fd < 0) {
        return -errno;
    }
    if (fchmod(fd, mode) != 0) {
        rc = -errno;
        goto fail;
    }
    rc = sitx_write_all(fd, text, len, NULL);
    if (rc == 0 && len > 0 && text[len - 1] != '\n') {
        rc = sitx_write_all(fd, "\n", 1, NULL); /* the last line had no newline */
    }
    if (rc == 0) {
        rc = sitx_write_all(fd, line, strlen(line), NULL);
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    fd = -1;
    if (rc != 0) {
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        goto fail;
    }
    /* The rename itself must survive a crash, or the new peer could vanish. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
fail:
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    return rc;
}

int sitx_peers_append(const char *path, const uint8_t pk[static SITX_KEY_BYTES], const char *name,
                      char *err, size_t err_len)
{
    struct sitx_peers *peers = NULL;
    char key[SITX_PUBKEY_TEXT_LEN + 1];
    char line[SITX_PUBKEY_TEXT_LEN + SITX_PEER_NAME_MAX + 4];
    char *text = NULL;
    size_t len = 0;
    mode_t mode = 0;
    int rc;

    sitx_peers_set_err(err, err_len, "%s", "");
    rc = sitx_peers_read(path, &text, &len, &mode, err, err_len);
    if (rc == -ENOENT) {
        /* No file yet: this peer is its first line. */
        sitx_peers_set_err(err, err_len, "%s", "");
        rc = 0;
    }
    if (rc != 0) {
        goto out;
    }
    /* A file that does not parse is not ours to extend: the operator fixes it first. */
    rc = sitx_peers_parse(text != NULL ? text : "", len, &peers, err, err_len);
    if (rc != 0) {
        goto out;
    }
    if (sitx_peers_find(peers, pk) != NULL) {
        rc = 0;
        goto out;
    }
    sitx_pubkey_encode(pk, key);
    if (name[0] != '\0') {
        snprintf(line, sizeof(line), "%s %s\n", key, name);
    } else {
        snprintf(line, sizeof(line), "%s\n", key);
    }
    rc = replace_file(path, text != NULL ? text : "", len, line, mode != 0 ? mode : 0600);
    if (rc != 0) {
        sitx_peers_set_err(err, err_len, "%s", sitx_strerror(rc));
        goto out;
    }
    rc = 1;
out:
    sitx_peers_free(peers);
    free(text);
    return rc;
}
