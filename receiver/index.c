/* The dedup index: ".sitx-index" in the inbox, read at start into memory,
 * appended (and synced) by the final store job before each link. */
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "log.h"
#include "msg.h"

#define HEX_ID         (INDEX_ID_BYTES * 2)
#define HEX_HASH       (SITX_CONTENT_HASH_BYTES * 2)
#define LINE_MAX_BYTES (HEX_ID + 1 + HEX_HASH + 1 + SITX_NAME_MAX + 1)

struct index_entry {
    uint8_t sender[INDEX_ID_BYTES];
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    char *name;
};

struct dedup_index {
    int fd; /* O_APPEND */
    pthread_mutex_t lock;
    int lock_ready;
    struct index_entry *list;
    size_t count;
    size_t cap;
};

int index_add(struct dedup_index *idx, const uint8_t sender[static INDEX_ID_BYTES],
              const uint8_t hash[static SITX_CONTENT_HASH_BYTES], const char *name)
{
    struct index_entry *e;

    if (idx->count == idx->cap) {
        size_t cap = idx->cap == 0 ? 64 : idx->cap * 2;
        struct index_entry *nl = realloc(idx->list, cap * sizeof(*nl));

        if (nl == NULL) {
            return SITX_E_NOMEM;
        }
        idx->list = nl;
        idx->cap = cap;
    }
    e = &idx->list[idx->count];
    e->name = strdup(name);
    if (e->name == NULL) {
        return SITX_E_NOMEM;
    }
    memcpy(e->sender, sender, INDEX_ID_BYTES);
    memcpy(e->hash, hash, SITX_CONTENT_HASH_BYTES);
    idx->count++;
    return 0;
}

/* "<id-hex> <hash-hex> <name>" without its newline. 0 when well formed. */
/* A stored name as the receiver writes it: a file name or a relative path
 * whose components are non-empty and never start with a dot (so no "." or
 * ".." and no leading '/'). */
static int path_ok(const char *name, size_t len)
{
    size_t i = 0;

    if (len == 0) {
        return 0;
    }
    while (i <= len) {
        const char *end = memchr(name + i, '/', len - i);
        size_t n = end != NULL ? (size_t)(end - (name + i)) : len - i;

        if (n == 0 || name[i] == '.') {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

static int parse_line(const char *line, size_t len, uint8_t sender[static INDEX_ID_BYTES],
                      uint8_t hash[static SITX_CONTENT_HASH_BYTES], char *name)
{
    size_t name_len;

    if (len < HEX_ID + 1 + HEX_HASH + 2 || line[HEX_ID] != ' ' ||
        line[HEX_ID + 1 + HEX_HASH] != ' ') {
        return -1;
    }
    if (sodium_hex2bin(sender, INDEX_ID_BYTES, line, HEX_ID, NULL, NULL, NULL) != 0 ||
        sodium_hex2bin(hash, SITX_CONTENT_HASH_BYTES, line + HEX_ID + 1, HEX_HASH, NULL, NULL,
                       NULL) != 0) {
        return -1;
    }
    name_len = len - (HEX_ID + 1 + HEX_HASH + 1);
    if (name_len > SITX_NAME_MAX ||
        !sitx_utf8_valid((const uint8_t *)line + HEX_ID + 1 + HEX_HASH + 1, name_len) ||
        !path_ok(line + HEX_ID + 1 + HEX_HASH + 1, name_len)) {
        return -1;
    }
    memcpy(name, line + HEX_ID + 1 + HEX_HASH + 1, name_len);
    name[name_len] = '\0';
    return 0;
}

/* Reads every line; a last line without its newline (a crash mid-append) is
 * skipped and the file is given the newline, so the next append starts clean. */
static int load(struct dedup_index *idx)
{
    FILE *f = NULL;
    char line[LINE_MAX_BYTES + 2];
    char name[SITX_NAME_MAX + 1];
    uint8_t sender[INDEX_ID_BYTES];
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    size_t lineno = 0;
    int dupfd;
    int last = '\n';
    int rc = 0;

    dupfd = dup(idx->fd);
    if (dupfd < 0) {
        return -errno;
    }
    f = fdopen(dupfd, "r");
    if (f == NULL) {
        rc = -errno;
        close(dupfd);
        return rc;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);
        int whole = len > 0 && line[len - 1] == '\n';

        lineno++;
        last = len > 0 ? line[len - 1] : last;
        if (!whole) {
            /* Too long or cut short: skip the rest of it. */
            int ch;

            while ((ch = fgetc(f)) != EOF && ch != '\n') {
            }
            last = ch == EOF ? 'x' : '\n';
            if (last == '\n') {
                sitx_log(SITX_LOG_WARNING, "index-bad-line", "file=%s line=%zu reason=too-long",
                         INDEX_FILE, lineno);
            }
            continue;
        }
        line[len - 1] = '\0';
        if (parse_line(line, len - 1, sender, hash, name) != 0) {
            sitx_log(SITX_LOG_WARNING, "index-bad-line", "file=%s line=%zu", INDEX_FILE, lineno);
            continue;
        }
        rc = index_add(idx, sender, hash, name);
        if (rc != 0) {
            goto out;
        }
    }
    if (ferror(f)) {
        rc = -EIO;
        goto out;
    }
    if (last != '\n') {
        sitx_log(SITX_LOG_WARNING, "index-bad-line", "file=%s line=%zu reason=unterminated",
                 INDEX_FILE, lineno);
        if (write(idx->fd, "\n", 1) != 1) {
            rc = -errno;
            goto out;
        }
    }
out:
    fclose(f);
    return rc;
}

int index_open(int dirfd, struct dedup_index **out)
{
    struct dedup_index *idx = NULL;
    int rc;

    *out = NULL;
    idx = calloc(1, sizeof(*idx));
    if (idx == NULL) {
        return SITX_E_NOMEM;
    }
    idx->fd = openat(dirfd, INDEX_FILE, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (idx->fd < 0) {
        rc = -errno;
        goto out;
    }
    if (pthread_mutex_init(&idx->lock, NULL) != 0) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    idx->lock_ready = 1;
    rc = load(idx);
    if (rc != 0) {
        goto out;
    }
    *out = idx;
    idx = NULL;
out:
    index_free(idx);
    return rc;
}

void index_free(struct dedup_index *idx)
{
    if (idx == NULL) {
        return;
    }
    for (size_t i = 0; i < idx->count; i++) {
        free(idx->list[i].name);
    }
    free(idx->list);
    if (idx->fd >= 0) {
        close(idx->fd);
    }
    if (idx->lock_ready) {
        pthread_mutex_destroy(&idx->lock);
    }
    free(idx);
}

const char *index_find(const struct dedup_index *idx, const uint8_t sender[static INDEX_ID_BYTES],
                       const uint8_t hash[static SITX_CONTENT_HASH_BYTES])
{
    /* Newest first: a file stored again after its first copy vanished wins. */
    for (size_t i = idx->count; i > 0; i--) {
        const struct index_entry *e = &idx->list[i - 1];

        if (sodium_memcmp(e->hash, hash, SITX_CONTENT_HASH_BYTES) == 0 &&
            sodium_memcmp(e->sender, sender, INDEX_ID_BYTES) == 0) {
            return e->name;
        }
    }
    return NULL;
}

void index_lock(struct dedup_index *idx)
{
    pthread_mutex_lock(&idx->lock);
}

void index_unlock(struct dedup_index *idx)
{
    pthread_mutex_unlock(&idx->lock);
}

int index_append(struct dedup_index *idx, const uint8_t sender[static INDEX_ID_BYTES],
                 const uint8_t hash[static SITX_CONTENT_HASH_BYTES], const char *name)
{
    char line[LINE_MAX_BYTES + 1];
    size_t name_len = strlen(name);
    size_t len;
    ssize_t n;

    if (name_len == 0 || name_len > SITX_NAME_MAX) {
        return SITX_E_INVALID;
    }
    sodium_bin2hex(line, HEX_ID + 1, sender, INDEX_ID_BYTES);
    line[HEX_ID] = ' ';
    sodium_bin2hex(line + HEX_ID + 1, HEX_HASH + 1, hash, SITX_CONTENT_HASH_BYTES);
    line[HEX_ID + 1 + HEX_HASH] = ' ';
    memcpy(line + HEX_ID + 1 + HEX_HASH + 1, name, name_len);
    len = HEX_ID + 1 + HEX_HASH + 1 + name_len;
    line[len++] = '\n';
    /* One write() with O_APPEND: the line lands whole or (on a full disk) not at all. */
    n = write(idx->fd, line, len);
    if (n < 0) {
        return -errno;
    }
    if ((size_t)n != len) {
        /* End the torn line so that the next one starts on its own; load() skips it. */
        if (write(idx->fd, "\n", 1) != 1) {
            return -errno;
        }
        return -ENOSPC;
    }
    if (fdatasync(idx->fd) != 0) {
        return -errno;
    }
    return 0;
}

void index_foreach(const struct dedup_index *idx, index_visit_fn fn, void *arg)
{
    for (size_t i = 0; idx != NULL && i < idx->count; i++) {
        fn(arg, idx->list[i].sender, idx->list[i].hash, idx->list[i].name);
    }
}

size_t index_count(const struct dedup_index *idx)
{
    return idx == NULL ? 0 : idx->count;
}
