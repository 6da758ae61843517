/* A main for fuzz targets built without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on each file named on the command line, or on
 * each file under each directory named (recursively, in name order), so the
 * seed corpus replays as an ordinary test under any compiler and sanitizer.
 * Arguments starting with '-' are libFuzzer options and are ignored.
 *
 * Exits 0 after running every input; 1 when a path is missing or
 * unreadable, or a directory holds no input, so a mistyped corpus path or
 * an emptied seed folder fails the test rather than passing on nothing. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static const char *prog = "fuzz";

/* Reads path into an exactly sized buffer, so a read one past the end is
 * an AddressSanitizer report, as under libFuzzer. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size = 0;
    int rc = -1;

    if (f == NULL) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot size %s: %s\n", prog, path, strerror(errno));
        goto out;
    }
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL) {
        fprintf(stderr, "%s: out of memory for %s (%ld bytes)\n", prog, path, size);
        goto out;
    }
    if (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "%s: cannot read %s\n", prog, path);
        goto out;
    }
    LLVMFuzzerTestOneInput(buf, (size_t)size);
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, unsigned long *count);

/* Runs every entry of dir in name order; *count grows by the inputs run. */
static int run_dir(const char *dir, unsigned long *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    size_t cap = 0;
    int rc = 0;

    if (d == NULL) {
        fprintf(stderr, "%s: cannot open directory %s: %s\n", prog, dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof(*names));

            if (nn == NULL) {
                rc = -1;
                break;
            }
            names = nn;
            cap = ncap;
        }
        names[n] = malloc(strlen(dir) + 1 + strlen(e->d_name) + 1);
        if (names[n] == NULL) {
            rc = -1;
            break;
        }
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (rc != 0) {
        fprintf(stderr, "%s: out of memory listing %s\n", prog, dir);
    } else if (n > 0) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            rc = run_path(names[i], count);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static int run_path(const char *path, unsigned long *count)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        unsigned long before = *count;
        int rc = run_dir(path, count);

        if (rc == 0 && *count == before) {
            fprintf(stderr, "%s: directory %s holds no input\n", prog, path);
            return -1;
        }
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        return 0; /* sockets, fifos: not inputs */
    }
    if (run_file(path) != 0) {
        return -1;
    }
    (*count)++;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long count = 0;
    int paths = 0;

    if (argc > 0 && argv[0] != NULL) {
        const char *slash = strrchr(argv[0], '/');

        prog = slash != NULL ? slash + 1 : argv[0];
    }
    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            continue;
        }
        paths++;
        if (run_path(argv[i], &count) != 0) {
            return 1;
        }
    }
    if (paths == 0) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", prog);
        return 1;
    }
    printf("%s: ran %lu inputs\n", prog, count);
    return 0;
}
