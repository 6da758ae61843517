/* The thumbnail cache: entries keyed by name and the file's identity
 * (inode, size, mtime), least recently used evicted first, bounded in
 * entries and bytes. Files are opened relative to the inbox, never
 * following a symlink, and read whole (bounded by --max-size). */
#include "safefile.h"
#include "thumb.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "msg.h"

struct thumb_entry {
    char name[SITX_NAME_MAX + 1];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    uint8_t *data; /* NULL: free slot */
    size_t len;
    uint32_t width;
    uint32_t height;
    uint64_t used; /* tick of the last hit */
};

struct thumb_cache {
    int dirfd;
    uint64_t max_size;
    struct sitx_image_limits lim;
    pthread_mutex_t lock; /* the entries */
    pthread_mutex_t gen;  /* one decode at a time */
    struct thumb_entry *e;
    size_t bytes;
    uint64_t tick;
};

int thumb_cache_new(int dirfd, const struct sitx_image_limits *lim, uint64_t max_size,
                    struct thumb_cache **out)
{
    struct thumb_cache *tc = calloc(1, sizeof(*tc));

    *out = NULL;
    if (tc == NULL) {
        return SITX_E_NOMEM;
    }
    tc->e = calloc(THUMB_CACHE_ENTRIES, sizeof(*tc->e));
    if (tc->e == NULL) {
        free(tc);
        return SITX_E_NOMEM;
    }
    if (pthread_mutex_init(&tc->lock, NULL) != 0) {
        free(tc->e);
        free(tc);
        return SITX_E_NOMEM;
    }
    if (pthread_mutex_init(&tc->gen, NULL) != 0) {
        pthread_mutex_destroy(&tc->lock);
        free(tc->e);
        free(tc);
        return SITX_E_NOMEM;
    }
    tc->dirfd = dirfd;
    tc->lim = *lim;
    if (tc->lim.max_memory > THUMB_MAX_MEMORY) {
        tc->lim.max_memory = THUMB_MAX_MEMORY;
    }
    tc->max_size = max_size;
    *out = tc;
    return 0;
}

void thumb_cache_free(struct thumb_cache *tc)
{
    if (tc == NULL) {
        return;
    }
    for (size_t i = 0; i < THUMB_CACHE_ENTRIES; i++) {
        free(tc->e[i].data);
    }
    free(tc->e);
    pthread_mutex_destroy(&tc->lock);
    pthread_mutex_destroy(&tc->gen);
    free(tc);
}

static int same_file(const struct thumb_entry *e, const char *name, const struct stat *st)
{
    return e->data != NULL && strcmp(e->name, name) == 0 && e->dev == st->st_dev &&
           e->ino == st->st_ino && e->size == st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Under the lock: copies a hit into out. 1 on a hit. */
static int lookup(struct thumb_cache *tc, const char *name, const struct stat *st,
                  struct sitx_buf *out, uint32_t *w, uint32_t *h, int *rc)
{
    for (size_t i = 0; i < THUMB_CACHE_ENTRIES; i++) {
        struct thumb_entry *e = &tc->e[i];

        if (same_file(e, name, st)) {
            e->used = ++tc->tick;
            out->len = 0;
            *rc = sitx_buf_append(out, e->data, e->len);
            *w = e->width;
            *h = e->height;
            return 1;
        }
    }
    return 0;
}

static void drop(struct thumb_cache *tc, struct thumb_entry *e)
{
    tc->bytes -= e->len;
    free(e->data);
    memset(e, 0, sizeof(*e));
}

/* Under the lock: keeps a copy, evicting the least recently used. */
static void insert(struct thumb_cache *tc, const char *name, const struct stat *st,
                   const struct sitx_buf *b, uint32_t w, uint32_t h)
{
    struct thumb_entry *slot = NULL;
    uint8_t *copy;

    if (b->len > THUMB_CACHE_BYTES / 4) {
        return;
    }
    for (;;) {
        struct thumb_entry *oldest = NULL;

        slot = NULL;
        for (size_t i = 0; i < THUMB_CACHE_ENTRIES; i++) {
            struct thumb_entry *e = &tc->e[i];

            if (e->data == NULL) {
                slot = slot != NULL ? slot : e;
            } else if (strcmp(e->name, name) == 0) {
                drop(tc, e); /* an older file of that name */
                slot = slot != NULL ? slot : e;
            } else if (oldest == NULL || e->used < oldest->used) {
                oldest = e;
            }
        }
        if (slot != NULL && tc->bytes + b->len <= THUMB_CACHE_BYTES) {
            break;
        }
        if (oldest == NULL) {
            return;
        }
        drop(tc, oldest);
    }
    copy = malloc(b->len);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, b->data, b->len);
    snprintf(slot->name, sizeof(slot->name), "%s", name);
    slot->dev = st->st_dev;
    slot->ino = st->st_ino;
    slot->size = st->st_size;
    slot->mtime = st->st_mtim;
    slot->data = copy;
    slot->len = b->len;
    slot->width = w;
    slot->height = h;
    slot->used = ++tc->tick;
    tc->bytes += b->len;
}

/* Reads the whole regular file fd (at most max bytes) into a new buffer. */
static int read_all(int fd, const struct stat *st, uint64_t max, uint8_t **out, size_t *out_len)
{
    size_t len;
    size_t got = 0;
    uint8_t *buf;

    if (st->st_size <= 0 || (uint64_t)st->st_size > max) {
        return SITX_E_TOO_LARGE;
    }
    len = (size_t)st->st_size;
    buf = malloc(len);
    if (buf == NULL) {
        return SITX_E_NOMEM;
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            free(buf);
            return n < 0 ? -errno : SITX_E_BAD_IMAGE;
        }
        got += (size_t)n;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int thumb_get(struct thumb_cache *tc, const char *name, struct sitx_buf *out, uint32_t *width,
              uint32_t *height)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0;
    uint32_t w = 0;
    uint32_t h = 0;
    int fd;
    int rc = 0;

    fd = sitx_open_beneath(tc->dirfd, name, O_RDONLY | O_NONBLOCK); /* no link, no ".." */
    if (fd < 0) {
        return fd;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = -ENOENT;
        goto out;
    }
    pthread_mutex_lock(&tc->lock);
    if (lookup(tc, name, &st, out, &w, &h, &rc)) {
        pthread_mutex_unlock(&tc->lock);
        goto out;
    }
    pthread_mutex_unlock(&tc->lock);
    pthread_mutex_lock(&tc->gen);
    /* Another request may have made it while we waited for our turn. */
    pthread_mutex_lock(&tc->lock);
    if (lookup(tc, name, &st, out, &w, &h, &rc)) {
        pthread_mutex_unlock(&tc->lock);
        pthread_mutex_unlock(&tc->gen);
        goto out;
    }
    pthread_mutex_unlock(&tc->lock);
    rc = read_all(fd, &st, tc->max_size, &buf, &len);
    if (rc == 0) {
        rc = thumb_make(buf, len, &tc->lim, out, &w, &h);
    }
    free(buf);
    if (rc == 0) {
        pthread_mutex_lock(&tc->lock);
        insert(tc, name, &st, out, w, h);
        pthread_mutex_unlock(&tc->lock);
    }
    pthread_mutex_unlock(&tc->gen);
out:
    if (rc == 0) {
        if (width != NULL) {
            *width = w;
        }
        if (height != NULL) {
            *height = h;
        }
    }
    close(fd);
    return rc;
}
