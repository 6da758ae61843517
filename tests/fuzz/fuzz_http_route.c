/* Web request routing on arbitrary bytes. Input: [method:u8] then the raw
 * request target (path and query, as a client may send it), then optionally
 * '\n' and a Host header value. The first byte picks GET, HEAD, POST or a
 * method spelt from the input. Checks: an image route's name is one that
 * stays in the inbox (check_name); events limits are in range;
 * percent-decoding never writes past its buffer and what it returns is
 * NUL-free. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_route.h"
#include "name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 8192

/* The name stays in the inbox: a relative path of at most
 * SITX_NAME_DEPTH_MAX components, none empty or hidden (so no "." or ".."),
 * no backslash, valid UTF-8 without control characters, bounded. */
static void check_name(const char *name)
{
    size_t n = strlen(name);
    size_t i = 0;
    size_t comps = 0;
    const char *c = name;

    if (n == 0 || n > SITX_NAME_MAX || strchr(name, '\\') != NULL) {
        abort();
    }
    for (;;) {
        const char *slash = strchr(c, '/');
        size_t len = slash != NULL ? (size_t)(slash - c) : strlen(c);

        if (len == 0 || c[0] == '.' || ++comps > SITX_NAME_DEPTH_MAX) {
            abort();
        }
        if (slash == NULL) {
            break;
        }
        c = slash + 1;
    }
    while (i < n) {
        uint32_t cp = 0;
        size_t k = sitx_utf8_next((const uint8_t *)name + i, n - i, &cp);

        if (k == 0 || cp < 0x20 || cp == 0x7f) {
            abort();
        }
        i += k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *methods[] = {"GET", "HEAD", "POST"};
    char buf[INPUT_MAX + 1];
    char dec[64];
    char method[16];
    struct http_route r;
    char *host = NULL;
    char *query;
    long n;

    if (size < 1 || size > INPUT_MAX) {
        return 0;
    }
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    if (data[0] < 3) {
        strcpy(method, methods[data[0]]);
    } else {
        size_t m = data[0] % sizeof(method);

        memcpy(method, buf, m < size - 1 ? m : size - 1);
        method[m < size - 1 ? m : size - 1] = '\0';
    }
    host = strchr(buf, '\n');
    if (host != NULL) {
        *host++ = '\0';
        (void)http_host_ok(host);
    }
    (void)http_host_ok(buf);
    n = http_percent_decode(buf, strlen(buf), data[0] & 1, dec, sizeof(dec));
    if (n >= (long)sizeof(dec) || (n >= 0 && strlen(dec) != (size_t)n)) {
        abort();
    }
    query = strchr(buf, '?');
    if (query != NULL) {
        *query++ = '\0';
    }
    http_route_parse(method, buf, query, &r);
    if (r.kind == HR_IMAGE || r.kind == HR_THUMB) {
        check_name(r.name);
    }
    if (r.limit < 1 || r.limit > HTTP_EVENTS_LIMIT) {
        abort();
    }
    if (r.kind != HR_BAD_METHOD && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
        r.kind != HR_NOT_FOUND) {
        abort();
    }
    return 0;
}
