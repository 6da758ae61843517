#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "image.h"

/* Enough for sitx_image_detect(): the PNG and JPEG signatures. */
#define SNIFF_BYTES 16

struct walk {
    int recursive;
    const struct walk_sink *sink;
    struct walk_list *out;
};

static void note_skip(struct walk *w, const char *path, const char *reason)
{
    w->out->skipped++;
    if (w->sink != NULL && w->sink->skip_fn != NULL) {
        w->sink->skip_fn(w->sink->arg, path, reason);
    }
}

static void note_error(struct walk *w, const char *path, const char *why)
{
    w->out->errors++;
    if (w->sink != NULL && w->sink->error_fn != NULL) {
        w->sink->error_fn(w->sink->arg, path, why);
    }
}

/* a + "/" + b, or b alone when a is NULL; one '/' even when a ends in some. */
static char *join(const char *a, const char *b)
{
    size_t alen;
    size_t blen = strlen(b);
    char *s;

    if (a == NULL) {
        return strdup(b);
    }
    alen = strlen(a);
    while (alen > 1 && a[alen - 1] == '/') {
        alen--;
    }
    if (alen > SIZE_MAX - blen - 2) {
        return NULL;
    }
    s = malloc(alen + blen + 2);
    if (s == NULL) {
        return NULL;
    }
    memcpy(s, a, alen);
    if (alen == 0 || s[alen - 1] != '/') {
        s[alen++] = '/';
    }
    memcpy(s + alen, b, blen + 1);
    return s;
}

/* Takes path and name (either may be NULL only on failure). */
static int add(struct walk_list *l, char *path, char *name, int want_name)
{
    if (path == NULL || (want_name && name == NULL)) {
        free(path);
        free(name);
        return SITX_E_NOMEM;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap != 0 ? l->cap * 2 : 64;
        struct walk_item *items;

        if (cap > SIZE_MAX / sizeof(*items)) {
            free(path);
            free(name);
            return SITX_E_NOMEM;
        }
        items = realloc(l->items, cap * sizeof(*items));
        if (items == NULL) {
            free(path);
            free(name);
            return SITX_E_NOMEM;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n].path = path;
    l->items[l->n].name = name;
    l->n++;
    return 0;
}

/* 1 when the file's first bytes say PNG or JPEG, or when they cannot be
 * read (the run then says why); 0 when they are something else. */
static int looks_like_image(int dfd, const char *name)
{
    uint8_t head[SNIFF_BYTES];
    ssize_t n;
    int fd;

    /* O_NONBLOCK: a FIFO swapped in since the stat must not hang us. */
    fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        return 1;
    }
    do {
        n = pread(fd, head, sizeof(head), 0);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0) {
        return 1;
    }
    return sitx_image_detect(head, (size_t)n) != SITX_IMAGE_UNKNOWN;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in d but "." and "..", sorted. Returns 0 or -errno. */
static int read_names(DIR *d, char ***out, size_t *out_n)
{
    char **names = NULL;
    size_t n = 0;
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;

    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            rc = -errno;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap != 0 ? cap * 2 : 32;
            char **nn;

            if (ncap > SIZE_MAX / sizeof(*nn) || (nn = realloc(names, ncap * sizeof(*nn))) == NULL) {
                rc = -ENOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    if (rc != 0) {
        while (n > 0) {
            free(names[--n]);
        }
        free(names);
        return rc;
    }
    if (n > 1) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    *out = names;
    *out_n = n;
    return 0;
}

static int walk_dir(struct walk *w, int fd, const char *path, const char *rel, unsigned depth);

/* One entry of the directory dfd (shown as dir_path, relative name rel_dir). */
static int walk_entry(struct walk *w, int dfd, const char *dir_path, const char *rel_dir,
                      unsigned depth, const char *name)
{
    struct stat st;
    char *path = join(dir_path, name);
    int rc = 0;

    if (path == NULL) {
        return SITX_E_NOMEM;
    }
    if (name[0] == '.') {
        note_skip(w, path, "hidden");
        goto out;
    }
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        note_error(w, path, strerror(errno));
        goto out;
    }
    if (S_ISLNK(st.st_mode)) {
        /* A link to a file is sent as that file; a link to a directory is
         * never followed, so a walk has no loops. */
        if (fstatat(dfd, name, &st, 0) != 0) {
            note_skip(w, path, "broken symbolic link");
            goto out;
        }
        if (S_ISDIR(st.st_mode)) {
            if (w->recursive) {
                note_skip(w, path, "symbolic link to a directory, not followed");
            }
            goto out;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        int sub;
        char *sub_rel;

        if (!w->recursive) {
            goto out; /* --help says -r descends */
        }
        if (depth >= WALK_DEPTH_MAX) {
            note_skip(w, path, "more than 64 directory levels deep, not descended");
            goto out;
        }
        sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            note_error(w, path, strerror(errno));
            goto out;
        }
        sub_rel = join(rel_dir, name);
        if (sub_rel == NULL) {
            close(sub);
            rc = SITX_E_NOMEM;
            goto out;
        }
        rc = walk_dir(w, sub, path, sub_rel, depth + 1);
        free(sub_rel);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        note_skip(w, path, "not a regular file");
        goto out;
    }
    if (!looks_like_image(dfd, name)) {
        note_skip(w, path, "not a PNG or JPEG");
        goto out;
    }
    rc = add(w->out, path, join(w->recursive ? rel_dir : NULL, name), 1);
    path = NULL; /* the list's now, or freed */
out:
    free(path);
    return rc;
}

/* Walks the directory fd (taken: closed here), shown as path; rel is its
 * path relative to the directory given (NULL for that one). */
static int walk_dir(struct walk *w, int fd, const char *path, const char *rel, unsigned depth)
{
    DIR *d = fdopendir(fd);
    char **names = NULL;
    size_t n = 0;
    size_t i;
    int rc;

    if (d == NULL) {
        note_error(w, path, strerror(errno));
        close(fd);
        return 0;
    }
    rc = read_names(d, &names, &n);
    if (rc == -ENOMEM) {
        closedir(d);
        return SITX_E_NOMEM;
    }
    if (rc != 0) {
        note_error(w, path, strerror(-rc));
        closedir(d);
        return 0;
    }
    rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        rc = walk_entry(w, dirfd(d), path, rel, depth, names[i]);
    }
    for (i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    closedir(d);
    return rc;
}

int walk_expand(char *const *args, size_t nargs, int recursive, const struct walk_sink *sink,
                struct walk_list *out)
{
    struct walk w = {recursive, sink, out};
    size_t i;
    int rc = 0;

    for (i = 0; i < nargs && rc == 0; i++) {
        struct stat st;
        int fd;

        /* Given on the command line: links are followed, and anything that
         * is not a directory is the run's to judge (missing, not an image). */
        if (stat(args[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = add(out, strdup(args[i]), NULL, 0);
            continue;
        }
        out->dirs++;
        fd = open(args[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            note_error(&w, args[i], strerror(errno));
            continue;
        }
        rc = walk_dir(&w, fd, args[i], NULL, 0);
    }
    return rc;
}

void walk_list_clear(struct walk_list *l)
{
    size_t i;

    if (l == NULL) {
        return;
    }
    for (i = 0; i < l->n; i++) {
        free(l->items[i].path);
        free(l->items[i].name);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}
