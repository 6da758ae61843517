/* Request routing for the web page and API: a fixed table of paths, the
 * image name (a relative path for images in subdirectories) in
 * /api/v1/images/NAME and /api/v1/thumbs/NAME, the events
 * query. Pure: no I/O, no allocation. */
#include "http_route.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "name.h"

#define IMAGES_PREFIX "/api/v1/images/"
#define THUMBS_PREFIX "/api/v1/thumbs/"

long http_percent_decode(const char *in, size_t len, int plus_space, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char ch = in[i];

        if (ch == '%') {
            int hi;
            int lo;

            if (len - i < 3 || (hi = sitx_hexval(in[i + 1])) < 0 ||
                (lo = sitx_hexval(in[i + 2])) < 0) {
                return -1;
            }
            ch = (char)(hi * 16 + lo);
            if (ch == '\0') {
                return -1;
            }
            i += 2;
        } else if (ch == '+' && plus_space) {
            ch = ' ';
        } else if (ch == '\0') {
            return -1;
        }
        if (o + 1 >= cap) {
            return -1;
        }
        out[o++] = ch;
    }
    if (cap == 0) {
        return -1;
    }
    out[o] = '\0';
    return (long)o;
}

int http_name_ok(const char *name, size_t len)
{
    const uint8_t *p = (const uint8_t *)name;
    size_t i = 0;
    size_t comps = 1;

    if (len == 0 || len > SITX_NAME_MAX) {
        return 0;
    }
    while (i < len) {
        uint32_t cp = 0;
        size_t k;

        /* At the start of each component: not empty, not hidden (so no "."
         * or ".." either). */
        if (i == 0 || name[i - 1] == '/') {
            if (name[i] == '/' || name[i] == '.') {
                return 0;
            }
        }
        k = sitx_utf8_next(p + i, len - i, &cp);
        if (k == 0 || cp < 0x20 || cp == 0x7f || cp == '\\') {
            return 0;
        }
        if (cp == '/' && (++comps > SITX_NAME_DEPTH_MAX || i + 1 == len)) {
            return 0;
        }
        i += k;
    }
    return 1;
}

/* Parses a decimal number without sign or blanks, at most max. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0') {
        return -1;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* "since=N&limit=M"; other keys are ignored, as browsers and proxies add
 * their own (cache busters). A known key with a bad value is an error. */
static int parse_query(const char *query, struct http_route *r)
{
    const char *p = query;

    while (p != NULL && *p != '\0') {
        const char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        char key[16];
        char val[32];
        long klen;
        long vlen;
        uint64_t v = 0;

        if (len > 0 && eq != NULL) {
            klen = http_percent_decode(p, (size_t)(eq - p), 1, key, sizeof(key));
            vlen = http_percent_decode(eq + 1, len - (size_t)(eq - p) - 1, 1, val, sizeof(val));
            if (klen >= 0 && strcmp(key, "since") == 0) {
                if (vlen < 0 || parse_u64(val, UINT64_MAX, &v) != 0) {
                    return -1;
                }
                r->since = v;
            } else if (klen >= 0 && strcmp(key, "limit") == 0) {
                if (vlen < 0 || parse_u64(val, HTTP_EVENTS_LIMIT, &v) != 0 || v == 0) {
                    return -1;
                }
                r->limit = (unsigned)v;
            }
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    return 0;
}

/* The NAME after prefix: decoded and checked, else HR_NOT_FOUND. */
static void take_name(const char *rest, enum http_route_kind kind, struct http_route *r)
{
    long n = http_percent_decode(rest, strlen(rest), 0, r->name, sizeof(r->name));

    if (n < 0 || !http_name_ok(r->name, (size_t)n)) {
        r->name[0] = '\0';
        return;
    }
    r->kind = kind;
}

void http_route_parse(const char *method, const char *path, const char *query, struct http_route *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = HR_NOT_FOUND;
    r->limit = HTTP_EVENTS_LIMIT;
    if (method == NULL || path == NULL || strlen(path) > HTTP_ROUTE_PATH_MAX) {
        return;
    }
    if (strcmp(method, "HEAD") == 0) {
        r->head = 1;
    } else if (strcmp(method, "GET") != 0) {
        r->kind = HR_BAD_METHOD;
        return;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        r->kind = HR_PAGE;
    } else if (strcmp(path, "/app.js") == 0) {
        r->kind = HR_SCRIPT;
    } else if (strcmp(path, "/style.css") == 0) {
        r->kind = HR_STYLE;
    } else if (strcmp(path, "/api/v1/images") == 0) {
        r->kind = HR_IMAGES;
    } else if (strcmp(path, "/api/v1/events") == 0) {
        r->kind = HR_EVENTS;
    } else if (strcmp(path, "/metrics") == 0) {
        r->kind = HR_METRICS;
    } else if (strncmp(path, IMAGES_PREFIX, strlen(IMAGES_PREFIX)) == 0) {
        take_name(path + strlen(IMAGES_PREFIX), HR_IMAGE, r);
    } else if (strncmp(path, THUMBS_PREFIX, strlen(THUMBS_PREFIX)) == 0) {
        take_name(path + strlen(THUMBS_PREFIX), HR_THUMB, r);
    }
    if (query != NULL && (strlen(query) > HTTP_ROUTE_PATH_MAX || parse_query(query, r) != 0)) {
        r->kind = HR_BAD_REQUEST;
    }
}

/* "[v6]" or "[v6]:port", "v4", "v4:port", "localhost[:port]". */
int http_host_ok(const char *host)
{
    char addr[64];
    const char *end;
    const char *port = NULL;
    size_t alen;
    unsigned char bin[16];

    if (host == NULL) {
        return 1;
    }
    if (host[0] == '[') {
        end = strchr(host, ']');
        if (end == NULL) {
            return 0;
        }
        alen = (size_t)(end - host - 1);
        if (alen >= sizeof(addr)) {
            return 0;
        }
        memcpy(addr, host + 1, alen);
        addr[alen] = '\0';
        if (end[1] == ':') {
            port = end + 2;
        } else if (end[1] != '\0') {
            return 0;
        }
        if (inet_pton(AF_INET6, addr, bin) != 1) {
            return 0;
        }
    } else {
        end = strchr(host, ':');
        alen = end != NULL ? (size_t)(end - host) : strlen(host);
        if (alen == 0 || alen >= sizeof(addr)) {
            return 0;
        }
        memcpy(addr, host, alen);
        addr[alen] = '\0';
        port = end != NULL ? end + 1 : NULL;
        if (strcmp(addr, "localhost") != 0 && inet_pton(AF_INET, addr, bin) != 1) {
            return 0;
        }
    }
    if (port != NULL) {
        uint64_t v = 0;

        if (parse_u64(port, 65535, &v) != 0) {
            return 0;
        }
    }
    return 1;
}
