/* Name sanitiser on arbitrary bytes. The first byte picks the extension to
 * enforce; the rest is the offered name. Every result must keep name.h's
 * promises, or the target aborts; so must the path form's. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msg.h"
#include "name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *out, size_t n, size_t cap, const char *ext)
{
    size_t i = 0;

    if (n == 0 || n >= cap || n > SITX_NAME_MAX || strlen(out) != n) {
        abort();
    }
    if (out[0] == '.' || out[0] == ' ' || strpbrk(out, "/\\:") != NULL) {
        abort();
    }
    while (i < n) {
        uint32_t cp = 0;
        size_t k = sitx_utf8_next((const uint8_t *)out + i, n - i, &cp);

        if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            abort();
        }
        i += k;
    }
    if (ext != NULL && cap >= 256 && strcmp(ext, ".png") == 0 &&
        (n < 4 || strcasecmp(out + n - 4, ".png") != 0)) {
        abort();
    }
}

/* A path result: every component a flat name would be (checked with check()
 * for the last), no empty or dot-led ones, at most SITX_NAME_DEPTH_MAX. */
static void check_path(const char *out, size_t n, size_t cap, const char *ext)
{
    const char *slash = strrchr(out, '/');
    const char *p = out;
    unsigned depth = 1;

    if (n == 0 || n >= cap || n > SITX_NAME_MAX || strlen(out) != n) {
        abort();
    }
    while ((slash = strchr(p, '/')) != NULL) {
        if (slash == p || p[0] == '.' || p[0] == ' ' || slash[-1] == '.' || slash[-1] == ' ') {
            abort();
        }
        depth++;
        p = slash + 1;
    }
    if (depth > SITX_NAME_DEPTH_MAX || strpbrk(out, "\\:") != NULL) {
        abort();
    }
    check(p, strlen(p), cap - (size_t)(p - out), ext);
}

/* A directory component (--per-sender-dirs): one name, no separator, no
 * leading or trailing dot or space, valid UTF-8, possibly empty. */
static void check_dir(const char *out, size_t n, size_t cap)
{
    if (n >= cap || n > SITX_NAME_MAX || strlen(out) != n || strpbrk(out, "/\\:") != NULL) {
        abort();
    }
    if (n > 0 && (out[0] == '.' || out[0] == ' ' || out[n - 1] == '.' || out[n - 1] == ' ')) {
        abort();
    }
    if (!sitx_utf8_valid((const uint8_t *)out, n)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const exts[] = {".png", ".jpg", NULL};
    const char *ext;
    char out[256];
    char small[16];
    size_t n;

    if (size == 0 || size > 65536) {
        return 0;
    }
    ext = exts[data[0] % 3];
    n = sitx_name_sanitize((const char *)data + 1, size - 1, ext, out, sizeof(out));
    check(out, n, sizeof(out), ext);
    /* Below the documented capacity it must still stay in bounds. */
    n = sitx_name_sanitize((const char *)data + 1, size - 1, ext, small, sizeof(small));
    check(small, n, sizeof(small), ext);
    n = sitx_name_sanitize_path((const char *)data + 1, size - 1, ext, out, sizeof(out));
    check_path(out, n, sizeof(out), ext);
    n = sitx_name_sanitize_path((const char *)data + 1, size - 1, ext, small, sizeof(small));
    check_path(small, n, sizeof(small), ext);
    n = sitx_name_sanitize_dir((const char *)data + 1, size - 1, out, sizeof(out));
    check_dir(out, n, sizeof(out));
    n = sitx_name_sanitize_dir((const char *)data + 1, size - 1, small, sizeof(small));
    check_dir(small, n, sizeof(small));
    return 0;
}
