/* Routing of the receiver's web requests, without any I/O: method, raw
 * path and raw query string in, what to serve out. Percent-decoding and the
 * checks on image names happen here, so that every byte a browser sends
 * before we touch the disk goes through one fuzzed function. */
#ifndef SITX_RECV_HTTP_ROUTE_H
#define SITX_RECV_HTTP_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* Longest path or query we look at; anything longer is not ours (404 / 400). */
#define HTTP_ROUTE_PATH_MAX 2048
/* Events returned per request at most, and when limit= is not given. */
#define HTTP_EVENTS_LIMIT 256

enum http_route_kind {
    HR_NOT_FOUND = 0,
    HR_BAD_METHOD, /* not GET or HEAD: 405, there are no write operations */
    HR_BAD_REQUEST,
    HR_PAGE,
    HR_SCRIPT,
    HR_STYLE,
    HR_IMAGES,
    HR_IMAGE, /* name set */
    HR_THUMB, /* name set */
    HR_EVENTS,
    HR_METRICS,
};

struct http_route {
    enum http_route_kind kind;
    int head;                     /* HEAD: headers only */
    char name[SITX_NAME_MAX + 1]; /* decoded, checked by http_name_ok() */
    uint64_t since;               /* events after this sequence number */
    unsigned limit;               /* events at most, 1..HTTP_EVENTS_LIMIT */
};

/* Fills r for method, path (raw, still percent-encoded, without the query)
 * and query (raw "k=v&k=v", or NULL). Never fails: what it does not know is
 * HR_NOT_FOUND, a malformed query HR_BAD_REQUEST. */
void http_route_parse(const char *method, const char *path, const char *query,
                      struct http_route *r);

/* 1 when name[0..len) could be a file the receiver stored: non-empty, at
 * most SITX_NAME_MAX bytes, valid UTF-8 without control characters or '\\',
 * a file name or a relative path of at most SITX_NAME_DEPTH_MAX components
 * split at '/', none empty nor starting with '.' (so no "..", no leading or
 * trailing '/', no hidden file or directory). With the O_NOFOLLOW walk that
 * opens it, it never leaves the inbox. */
int http_name_ok(const char *name, size_t len);

/* Percent-decodes in[0..len) into out (cap bytes, NUL-terminated); '+' is
 * a space when plus_space. Returns the decoded length, or -1 for a bad
 * escape, a %00, or no room. */
long http_percent_decode(const char *in, size_t len, int plus_space, char *out, size_t cap);

/* 1 when a Host header names this machine by address ("127.0.0.1:8080",
 * "[::1]:8080", "localhost:8080", any IP literal) rather than a DNS name
 * that could have been rebound to us. NULL (HTTP/1.0) is accepted. */
int http_host_ok(const char *host);

#endif
