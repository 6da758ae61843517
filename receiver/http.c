/* The HTTP daemon: libmicrohttpd with its own threads (one per connection,
 * capped), routing through http_route.c, a token check when one is set,
 * strict headers on every response, and nothing but reads: GET and HEAD. */
#include "safefile.h"
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "err.h"
#include "events.h"
#include "http_route.h"
#include "image.h"
#include "listenaddr.h"
#include "log.h"
#include "thumb.h"
#include "web_assets.h"

#define HTTP_CONN_LIMIT   32
#define HTTP_PER_IP_LIMIT 16
#define HTTP_TIMEOUT_S    30
/* The longest Authorization header looked at. */
#define AUTH_MAX 1024

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self'; connect-src 'self'; object-src 'none'; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* Per request: the raw URI, as the client sent it, before any decoding. */
struct http_req {
    char uri[HTTP_ROUTE_PATH_MAX * 2 + 2];
    int too_long;
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_req *r = calloc(1, sizeof(*r));

    (void)cls;
    (void)conn;
    if (r != NULL) {
        size_t len = strlen(uri);

        if (len >= sizeof(r->uri)) {
            r->too_long = 1;
        } else {
            memcpy(r->uri, uri, len + 1);
        }
    }
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* Our own decoding happens in http_route.c: leave the URI as it came. */
static size_t no_unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
    (void)cls;
    (void)conn;
    return strlen(uri);
}

/* The headers every response carries. 1 when all were added: a response
 * that lost its CSP (out of memory) must not be sent at all. */
static int strict_headers(struct MHD_Response *resp, const char *type, const char *cache)
{
    const char *const h[][2] = {
        {"Content-Type", type},
        {"Content-Security-Policy", csp},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"Cross-Origin-Resource-Policy", "same-origin"},
        {"Cross-Origin-Opener-Policy", "same-origin"},
        {"Cache-Control", cache},
    };

    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
        if (MHD_add_response_header(resp, h[i][0], h[i][1]) != MHD_YES) {
            return 0;
        }
    }
    return 1;
}

/* Queues resp (with its strict headers already added when ok) and drops
 * our reference; a response that could not be completed closes the
 * connection instead (MHD_NO). */
static enum MHD_Result queue(struct MHD_Connection *conn, unsigned code, struct MHD_Response *resp,
                             int ok)
{
    enum MHD_Result ret = ok ? MHD_queue_response(conn, code, resp) : MHD_NO;

    MHD_destroy_response(resp);
    return ret;
}

/* Queues a response over a copy of body (or a static one). */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                             const char *cache, const void *body, size_t len, int is_static)
{
    struct MHD_Response *resp;
    int ok;

    resp = MHD_create_response_from_buffer(
        len, (void *)body, is_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    ok = strict_headers(resp, type, cache);
    if (ok && code == MHD_HTTP_METHOD_NOT_ALLOWED) {
        ok = MHD_add_response_header(resp, "Allow", "GET, HEAD") == MHD_YES;
    }
    if (ok && code == MHD_HTTP_UNAUTHORIZED) {
        ok = MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"sitx-recv\"") ==
                 MHD_YES &&
             MHD_add_response_header(resp, "WWW-Authenticate",
                                     "Basic realm=\"sitx-recv\", charset=\"UTF-8\"") == MHD_YES;
    }
    return queue(conn, code, resp, ok);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned code, const char *text)
{
    return reply(conn, code, "text/plain; charset=utf-8", "no-store", text, strlen(text), 1);
}

static enum MHD_Result reply_buf(struct MHD_Connection *conn, const char *type, const char *cache,
                                 struct sitx_buf *b, int rc)
{
    if (rc != 0) {
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return reply(conn, MHD_HTTP_OK, type, cache, b->data != NULL ? (const void *)b->data : "",
                 b->len, 0);
}

/* The token from "Bearer TOKEN" or "Basic base64(user:TOKEN)", hashed and
 * compared in constant time. 1 when it matches. */
static int token_ok(const struct recv_web *w, struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    uint8_t raw[AUTH_MAX];
    uint8_t got[32];
    const uint8_t *tok = NULL;
    size_t tok_len = 0;
    size_t raw_len = 0;
    int ok = 0;

    if (auth == NULL || strlen(auth) > AUTH_MAX) {
        return 0;
    }
    if (strncasecmp(auth, "Bearer ", 7) == 0) {
        tok = (const uint8_t *)auth + 7;
        tok_len = strlen(auth + 7);
    } else if (strncasecmp(auth, "Basic ", 6) == 0 &&
               sodium_base642bin(raw, sizeof(raw), auth + 6, strlen(auth + 6), NULL, &raw_len, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) == 0) {
        const uint8_t *colon = memchr(raw, ':', raw_len);

        if (colon != NULL) {
            tok = colon + 1;
            tok_len = raw_len - (size_t)(colon + 1 - raw);
        }
    }
    if (tok != NULL && tok_len > 0) {
        crypto_generichash(got, sizeof(got), tok, tok_len, NULL, 0);
        ok = sodium_memcmp(got, w->token_hash, sizeof(got)) == 0;
    }
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(got, sizeof(got));
    return ok;
}

static const char *image_type(int fd)
{
    uint8_t head[16];
    ssize_t n = pread(fd, head, sizeof(head), 0);

    switch (n > 0 ? sitx_image_detect(head, (size_t)n) : SITX_IMAGE_UNKNOWN) {
    case SITX_IMAGE_PNG:
        return "image/png";
    case SITX_IMAGE_JPEG:
        return "image/jpeg";
    default:
        return NULL;
    }
}

/* The image itself, when its name is one the receiver listed. */
static enum MHD_Result serve_image(struct recv_web *w, struct MHD_Connection *conn,
                                   const char *name)
{
    struct events_image img;
    struct MHD_Response *resp;
    struct stat st;
    const char *type;
    int fd;

    if (!events_find_image(w->events, name, &img)) {
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "no such image\n");
    }
    fd = sitx_open_beneath(w->inbox_fd, name, O_RDONLY | O_NONBLOCK); /* no link, no ".." */
    if (fd < 0) {
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "no such image\n");
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (type = image_type(fd)) == NULL) {
        close(fd);
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "no such image\n");
    }
    resp = MHD_create_response_from_fd((size_t)st.st_size, fd); /* takes fd */
    if (resp == NULL) {
        close(fd);
        return MHD_NO;
    }
    /* Inline: the browser shows the picture; the CSP keeps it from running anything. */
    return queue(conn, MHD_HTTP_OK, resp,
                 strict_headers(resp, type, "private, no-cache") &&
                     MHD_add_response_header(resp, "Content-Disposition", "inline") == MHD_YES);
}

static enum MHD_Result serve_thumb(struct recv_web *w, struct MHD_Connection *conn,
                                   const char *name)
{
    struct events_image img;
    struct sitx_buf b;
    enum MHD_Result ret;
    int rc;

    if (!events_find_image(w->events, name, &img)) {
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "no such image\n");
    }
    sitx_buf_init(&b);
    rc = thumb_get(w->thumbs, name, &b, NULL, NULL);
    if (rc == -ENOENT || rc == -ELOOP) {
        ret = reply_text(conn, MHD_HTTP_NOT_FOUND, "no such image\n");
    } else if (rc != 0) {
        ret = reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "no thumbnail for this image\n");
    } else {
        ret = reply_buf(conn, "image/jpeg", "private, max-age=300", &b, 0);
    }
    sitx_buf_clear(&b);
    return ret;
}

static enum MHD_Result serve(struct recv_web *w, struct MHD_Connection *conn,
                             const struct http_route *rt)
{
    struct sitx_buf b;
    struct statvfs vfs;
    enum MHD_Result ret;
    int64_t free_bytes = -1;
    int rc;

    sitx_buf_init(&b);
    switch (rt->kind) {
    case HR_PAGE:
        return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", "no-store", web_index_html,
                     web_index_html_len, 1);
    case HR_SCRIPT:
        return reply(conn, MHD_HTTP_OK, "text/javascript; charset=utf-8", "no-store", web_app_js,
                     web_app_js_len, 1);
    case HR_STYLE:
        return reply(conn, MHD_HTTP_OK, "text/css; charset=utf-8", "no-store", web_style_css,
                     web_style_css_len, 1);
    case HR_IMAGES:
        rc = events_images_json(w->events, &b);
        ret = reply_buf(conn, "application/json", "no-store", &b, rc);
        break;
    case HR_EVENTS:
        rc = events_events_json(w->events, rt->since, rt->limit, &b);
        ret = reply_buf(conn, "application/json", "no-store", &b, rc);
        break;
    case HR_METRICS:
        if (fstatvfs(w->inbox_fd, &vfs) == 0) {
            free_bytes = (int64_t)((uint64_t)vfs.f_bavail * vfs.f_frsize);
        }
        rc = events_metrics_text(w->events, free_bytes, &b);
        ret = reply_buf(conn, "text/plain; version=0.0.4; charset=utf-8", "no-store", &b, rc);
        break;
    case HR_IMAGE:
        return serve_image(w, conn, rt->name);
    case HR_THUMB:
        return serve_thumb(w, conn, rt->name);
    case HR_BAD_METHOD:
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET and HEAD only\n");
    case HR_BAD_REQUEST:
        return reply_text(conn, MHD_HTTP_BAD_REQUEST, "bad request\n");
    case HR_NOT_FOUND:
    default:
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    sitx_buf_clear(&b);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct recv_web *w = cls;
    struct http_req *req = *con_cls;
    struct http_route rt;
    char *q;

    (void)url;
    (void)version;
    (void)upload_data;
    if (req == NULL) {
        return MHD_NO;
    }
    if (*upload_data_size != 0) {
        /* A body we will never read: the answer (405) is already queued. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->too_long) {
        return reply_text(conn, MHD_HTTP_URI_TOO_LONG, "URI too long\n");
    }
    if (w->has_token && !token_ok(w, conn)) {
        return reply_text(conn, MHD_HTTP_UNAUTHORIZED, "a valid token is needed\n");
    }
    if (!w->has_token &&
        !http_host_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host"))) {
        /* A DNS name pointing at loopback may be a rebinding page: refuse it. */
        return reply_text(conn, MHD_HTTP_FORBIDDEN, "use an address, not a name, in the URL\n");
    }
    q = strchr(req->uri, '?');
    if (q != NULL) {
        *q++ = '\0';
    }
    http_route_parse(method, req->uri, q, &rt);
    return serve(w, conn, &rt);
}

int http_start(struct recv_web *w, const char *host, uint16_t port)
{
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    struct MHD_Daemon *d;
    sigset_t all;
    sigset_t old;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    int rc;

    rc = sitx_listenaddr_resolve(host, port, 1, &ss);
    if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "http-failed", "host=%s error=%s", host, gai_strerror(rc));
        return SITX_E_INVALID;
    }
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    /* Signals belong to the loop thread: the daemon's threads inherit a full mask. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    d = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, w, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)HTTP_PER_IP_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
        no_unescape, NULL, MHD_OPTION_END);
    rc = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (d == NULL) {
        sitx_log(SITX_LOG_ERR, "http-failed", "host=%s port=%u error=%s", host, port,
                 rc != 0 ? strerror(rc) : "cannot start the HTTP server");
        return rc != 0 ? -rc : SITX_E_INVALID;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(w->addr, sizeof(w->addr), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             info != NULL ? info->port : port);
    w->daemon = d;
    sitx_log(SITX_LOG_INFO, "http-serving", "addr=%s token=%s", w->addr,
             w->has_token ? "required" : "none");
    return 0;
}

void http_stop(struct recv_web *w)
{
    if (w->daemon != NULL) {
        MHD_stop_daemon(w->daemon);
        w->daemon = NULL;
    }
}
