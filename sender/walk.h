/* sitx-send's arguments made into the list of files to send: a file is
 * itself, a directory gives its PNG and JPEG files (told by their first
 * bytes), with -r those of its subdirectories too. The list holds paths
 * only; nothing is read beyond a few bytes per file until it is sent. */
#ifndef SITX_SEND_WALK_H
#define SITX_SEND_WALK_H

#include <stddef.h>

/* Directory levels below a directory given that -r descends. */
#define WALK_DEPTH_MAX 64

struct walk_item {
    char *path; /* to open: the argument, or "DIR/sub/x.png" */
    char *name; /* to offer: NULL for a file given (its base name), else the
                 * path relative to the directory given ("sub/x.png", or
                 * "x.png" without -r) */
};

struct walk_list {
    struct walk_item *items;
    size_t n;
    size_t cap;
    size_t dirs;    /* directories given */
    size_t skipped; /* entries skipped with a line */
    size_t errors;  /* directories that could not be read (exit 3) */
};

/* Told about each entry left out (skip_fn) and each directory that could not
 * be read (error_fn); path is as the user would type it. */
struct walk_sink {
    void (*skip_fn)(void *arg, const char *path, const char *reason);
    void (*error_fn)(void *arg, const char *path, const char *why);
    void *arg;
};

/* Expands args[0..nargs) into out (zeroed by the caller, or cleared).
 * Symbolic links among args are followed. In a directory, entries are
 * taken in strcmp order of their names, depth first; entries whose name
 * starts with '.' are skipped, as are special files, files that are not
 * PNG or JPEG, and (with recursive) symbolic links to directories, which
 * are never descended; subdirectories without recursive are left out
 * silently. A file whose first bytes cannot be read stays in the list, for
 * the run to report. Returns 0, or SITX_E_NOMEM (out then holds what was
 * found so far; clear it). */
int walk_expand(char *const *args, size_t nargs, int recursive, const struct walk_sink *sink,
                struct walk_list *out);

/* Frees the items; NULL-safe, leaves l empty. */
void walk_list_clear(struct walk_list *l);

#endif
