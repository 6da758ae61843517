/* The connection's plumbing: resolve and connect, read into the frame
 * reader, batch sealed records into large writes, the silence timer, and
 * the lifetime of the handles. The handshake and the records themselves
 * are client_hs.c. */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client_int.h"
#include "err.h"
#include "handshake.h"
#include "reader.h"
#include "transport.h"

/* ---- lifetime ---------------------------------------------------------- */

static void client_free(struct client *c)
{
    struct wblock *b;

    while ((b = c->pool) != NULL) {
        c->pool = b->next;
        free(b);
    }
    free(c->cur);
    if (c->ai_list != NULL) {
        uv_freeaddrinfo(c->ai_list);
    }
    sitx_reader_free(c->reader);
    sitx_hs_free(c->hs);
    sitx_cipher_free(c->tx);
    sitx_cipher_free(c->rx);
    sodium_memzero(c, sizeof(*c));
    free(c);
}

void client_unref(struct client *c)
{
    if (--c->refs == 0 && c->state == CL_CLOSED) {
        client_free(c);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct client *c = h->data;

    if (h == (uv_handle_t *)&c->tcp) {
        c->tcp_open = 0;
    }
    client_unref(c);
}

/* Closes everything; pending requests get their callbacks (ECANCELED)
 * before the handles' close callbacks, and each drops its ref. */
static void close_handles(struct client *c)
{
    c->state = CL_CLOSED;
    c->quiet = 1;
    if (c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp)) {
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&c->timer)) {
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    }
    if (c->gai_pending) {
        uv_cancel((uv_req_t *)&c->gai); /* on_resolved still comes, with a cancel status */
    }
}

void client_fail(struct client *c, enum client_fail kind, const char *fmt, ...)
{
    char why[WHY_MAX];
    va_list ap;
    int ready = c->state == CL_READY;
    int notify = !c->quiet;

    if (c->state == CL_CLOSED) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    /* Close first: the owner may start a new client from on_fail. */
    close_handles(c);
    if (notify) {
        c->cb.on_fail(c->cb.data, kind, ready, why);
    }
}

/* ---- the silence timer ------------------------------------------------- */

static int expects_peer(const struct client *c)
{
    switch (c->state) {
    case CL_RESOLVING:
    case CL_CONNECTING:
    case CL_GREETING:
    case CL_HANDSHAKE:
    case CL_SHUTDOWN:
        return 1;
    case CL_READY:
        return c->waiting || c->writing > 0;
    case CL_ARGON:
    case CL_CLOSED:
        return 0;
    }
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    struct client *c = t->data;

    if (c->state == CL_SHUTDOWN) {
        close_handles(c); /* our CLOSE could not be delivered: nothing more to wait for */
        return;
    }
    client_fail(c, CLIENT_FAIL_NETWORK, "no answer from %s in %llu s", c->cfg.label,
                (unsigned long long)((c->cfg.timeout_ms + 999) / 1000));
}

/* Restarts the timer on any sign of life, or stops it when nothing is awaited. */
void client_touch(struct client *c)
{
    if (c->state == CL_CLOSED) {
        return;
    }
    if (expects_peer(c)) {
        uv_timer_start(&c->timer, on_timeout, c->cfg.timeout_ms, 0);
    } else {
        uv_timer_stop(&c->timer);
    }
}

void client_set_waiting(struct client *c, int waiting)
{
    int was = expects_peer(c);

    c->waiting = waiting != 0;
    /* Only a change restarts the clock: a steady wait keeps its deadline. */
    if (expects_peer(c) != was) {
        client_touch(c);
    }
}

/* ---- writing ----------------------------------------------------------- */

static struct wblock *block_get(struct client *c)
{
    struct wblock *b = c->pool;

    if (b != NULL) {
        c->pool = b->next;
        c->pool_count--;
    } else {
        b = malloc(sizeof(*b));
        if (b == NULL) {
            return NULL;
        }
    }
    b->c = c;
    b->next = NULL;
    b->len = 0;
    b->req.data = b;
    return b;
}

static void block_put(struct client *c, struct wblock *b)
{
    if (c->pool_count >= POOL_MAX) {
        free(b);
        return;
    }
    b->next = c->pool;
    c->pool = b;
    c->pool_count++;
}

static void on_write_done(uv_write_t *req, int status)
{
    struct wblock *b = req->data;
    struct client *c = b->c;

    c->writing -= b->len;
    block_put(c, b);
    if (status < 0) {
        if (status != UV_ECANCELED) {
            client_fail(c, CLIENT_FAIL_NETWORK, "connection to %s lost: %s", c->cfg.label,
                        uv_strerror(status));
        }
        client_unref(c);
        return;
    }
    if (c->state == CL_SHUTDOWN || c->state == CL_READY || c->state == CL_HANDSHAKE) {
        client_touch(c);
    }
    if (c->state == CL_READY && !c->quiet && c->cb.on_drain != NULL) {
        c->cb.on_drain(c->cb.data);
    }
    client_unref(c);
}

int client_submit(struct client *c)
{
    struct wblock *b = c->cur;
    uv_buf_t buf;
    int rc;

    if (b == NULL || b->len == 0) {
        return 0;
    }
    c->cur = NULL;
    buf = uv_buf_init((char *)b->data, (unsigned int)b->len);
    rc = uv_write(&b->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write_done);
    if (rc != 0) {
        block_put(c, b);
        client_fail(c, CLIENT_FAIL_NETWORK, "cannot write to %s: %s", c->cfg.label,
                    uv_strerror(rc));
        return SITX_E_STATE;
    }
    c->refs++;
    c->writing += b->len;
    return 0;
}

/* Room for need more bytes in the current block, starting a new one when
 * the current one is too full. Returns where they go, or NULL (failed). */
static uint8_t *reserve(struct client *c, size_t need)
{
    if (c->cur != NULL && BLOCK_CAP - c->cur->len < need) {
        if (client_submit(c) != 0) {
            return NULL;
        }
    }
    if (c->cur == NULL) {
        c->cur = block_get(c);
        if (c->cur == NULL) {
            client_fail(c, CLIENT_FAIL_NOMEM, "out of memory for the write queue");
            return NULL;
        }
    }
    return c->cur->data + c->cur->len;
}

int client_queue_raw(struct client *c, const uint8_t *bytes, size_t n)
{
    uint8_t *p = reserve(c, n);

    if (p == NULL) {
        return SITX_E_STATE;
    }
    memcpy(p, bytes, n);
    c->cur->len += n;
    return 0;
}

/* The record already sits at frame + 2 in the current block: seal it in
 * place (transport seal allows rec == frame + 2) and account the frame. */
static int seal_in_place(struct client *c, size_t rec_len)
{
    uint8_t *frame = c->cur->data + c->cur->len;
    size_t frame_len = 0;
    int rc;

    rc = sitx_transport_seal(c->tx, frame + SITX_FRAME_HDR, rec_len, frame, BLOCK_CAP - c->cur->len,
                             &frame_len);
    if (rc != 0) {
        client_fail(c, CLIENT_FAIL_FATAL, "cannot seal a record: %s", sitx_strerror(rc));
        return SITX_E_STATE;
    }
    c->cur->len += frame_len;
    if (BLOCK_CAP - c->cur->len < SITX_FRAME_HDR + MIN_FRAME + SITX_DATA_HDR) {
        return client_submit(c);
    }
    return 0;
}

int client_send_record(struct client *c, const uint8_t *rec, size_t len)
{
    uint8_t *p;

    if (c->state != CL_READY) {
        return SITX_E_STATE;
    }
    if (len == 0 || len > SITX_RECORD_MAX) {
        return SITX_E_TOO_LARGE;
    }
    p = reserve(c, SITX_FRAME_HDR + len + SITX_TAG_LEN);
    if (p == NULL) {
        return SITX_E_STATE;
    }
    memcpy(p + SITX_FRAME_HDR, rec, len);
    return seal_in_place(c, len);
}

int client_send_data(struct client *c, const uint8_t *bytes, size_t n)
{
    uint8_t *p;

    if (c->state != CL_READY) {
        return SITX_E_STATE;
    }
    if (n == 0 || n > SITX_DATA_MAX) {
        return SITX_E_TOO_LARGE;
    }
    p = reserve(c, SITX_FRAME_HDR + SITX_DATA_HDR + n + SITX_TAG_LEN);
    if (p == NULL) {
        return SITX_E_STATE;
    }
    /* The one copy of the payload: file bytes into the block, then sealed there. */
    p[SITX_FRAME_HDR] = SITX_REC_DATA;
    memcpy(p + SITX_FRAME_HDR + SITX_DATA_HDR, bytes, n);
    return seal_in_place(c, SITX_DATA_HDR + n);
}

int client_flush(struct client *c)
{
    if (c->state == CL_CLOSED) {
        return SITX_E_STATE;
    }
    return client_submit(c);
}

size_t client_queued(const struct client *c)
{
    return c->writing + (c->cur != NULL ? c->cur->len : 0);
}

unsigned client_version(const struct client *c)
{
    return c->version;
}

unsigned client_retry_version(const struct client *c)
{
    return c->retry_version;
}

const uint8_t *client_receiver_key(const struct client *c)
{
    return c->have_remote_pk ? c->remote_pk : NULL;
}

/* ---- closing from our side --------------------------------------------- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct client *c = req->data;

    (void)status;
    close_handles(c);
    client_unref(c);
}

void client_close(struct client *c, int reason, const char *message)
{
    int rc;

    if (c == NULL || c->state == CL_CLOSED || c->state == CL_SHUTDOWN) {
        return;
    }
    /* The owner lets go here: no callbacks from now on, even if the
     * CLOSE below cannot be written. */
    c->quiet = 1;
    if (c->state != CL_READY) {
        close_handles(c);
        return;
    }
    if (reason >= 0) {
        struct sitx_close m;
        uint8_t rec[1 + 1 + 2 + SITX_TEXT_MAX];
        size_t len = 0;

        memset(&m, 0, sizeof(m));
        m.reason = (uint8_t)reason;
        snprintf(m.message, sizeof(m.message), "%s", message != NULL ? message : "");
        if (sitx_close_encode(&m, rec, sizeof(rec), &len) != 0 ||
            client_send_record(c, rec, len) != 0) {
            close_handles(c);
            return;
        }
    }
    if (client_submit(c) != 0) {
        return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->state = CL_SHUTDOWN;
    c->shutdown_req.data = c;
    rc = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown);
    if (rc != 0) {
        close_handles(c);
        return;
    }
    c->refs++;
    client_touch(c);
}

/* ---- reading ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct client *c = h->data;

    (void)suggested;
    *buf = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct client *c = s->data;
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t n;
    int rc;

    if (nread == 0 || c->state == CL_CLOSED || c->state == CL_SHUTDOWN) {
        return;
    }
    if (nread < 0) {
        if (c->state == CL_ARGON && c->pending_refusal != 0) {
            return; /* the refusal is answered once Argon2id is done */
        }
        if (c->state != CL_READY && (nread == UV_EOF || nread == UV_ECONNRESET)) {
            /* What a receiver whose startup slots are all taken does. */
            client_fail(c, CLIENT_FAIL_BUSY, "%s %s the connection before the handshake completed",
                        c->cfg.label, nread == UV_EOF ? "closed" : "reset");
        } else if (nread == UV_EOF) {
            client_fail(c, CLIENT_FAIL_NETWORK, "%s closed the connection", c->cfg.label);
        } else {
            client_fail(c, CLIENT_FAIL_NETWORK, "connection to %s lost: %s", c->cfg.label,
                        uv_strerror((int)nread));
        }
        return;
    }
    n = (size_t)nread;
    client_touch(c);
    if (c->state == CL_GREETING) {
        size_t take = SITX_GREETING_LEN - c->greeting_got;

        if (take > n) {
            take = n;
        }
        memcpy(c->greeting + c->greeting_got, p, take);
        c->greeting_got += take;
        p += take;
        n -= take;
        if (c->greeting_got == SITX_GREETING_LEN) {
            client_on_greeting(c);
        }
    }
    if (n > 0 && c->state != CL_CLOSED) {
        rc = sitx_reader_feed(c->reader, p, n);
        if (rc != 0) {
            client_fail(c, CLIENT_FAIL_NOMEM, "reading from %s: %s", c->cfg.label,
                        sitx_strerror(rc));
            return;
        }
    }
    client_drain_frames(c);
}

/* ---- connecting -------------------------------------------------------- */

static void try_connect(struct client *c);

/* The handle that failed to connect is closed; a fresh one tries the next
 * address of the name. */
static void on_closed_try_next(uv_handle_t *h)
{
    struct client *c = h->data;

    c->tcp_open = 0;
    if (c->state == CL_CONNECTING) {
        try_connect(c);
    }
    client_unref(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct client *c = req->data;
    int rc;

    if (c->state != CL_CONNECTING) {
        goto out;
    }
    if (status == 0) {
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc != 0) {
            client_fail(c, CLIENT_FAIL_NETWORK, "cannot read from %s: %s", c->cfg.label,
                        uv_strerror(rc));
            goto out;
        }
        c->state = CL_GREETING;
        client_touch(c);
        goto out;
    }
    if (c->ai_next != NULL && c->ai_next->ai_next != NULL) {
        c->ai_next = c->ai_next->ai_next;
        uv_close((uv_handle_t *)&c->tcp, on_closed_try_next);
        goto out;
    }
    client_fail(c, status == UV_ECONNREFUSED ? CLIENT_FAIL_REFUSED : CLIENT_FAIL_NETWORK,
                "cannot connect to %s: %s", c->cfg.label, uv_strerror(status));
out:
    client_unref(c); /* last: it may free c */
}

static void try_connect(struct client *c)
{
    const struct sockaddr *sa =
        c->ai_next != NULL ? c->ai_next->ai_addr : (const struct sockaddr *)&c->addr;
    int rc;

    rc = uv_tcp_init(c->loop, &c->tcp);
    if (rc != 0) {
        client_fail(c, CLIENT_FAIL_NETWORK, "cannot create a socket: %s", uv_strerror(rc));
        return;
    }
    c->tcp.data = c;
    c->tcp_open = 1;
    c->refs++;
    uv_tcp_nodelay(&c->tcp, 1);
    c->connect_req.data = c;
    c->state = CL_CONNECTING;
    rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connect);
    if (rc != 0) {
        client_fail(c, CLIENT_FAIL_NETWORK, "cannot connect to %s: %s", c->cfg.label,
                    uv_strerror(rc));
        return;
    }
    c->refs++;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct client *c = req->data;

    c->ai_list = res;
    c->gai_pending = 0;
    if (c->state != CL_RESOLVING) {
        goto out;
    }
    if (status != 0 || res == NULL) {
        client_fail(c, CLIENT_FAIL_NETWORK, "cannot resolve %s: %s", c->cfg.host,
                    uv_strerror(status != 0 ? status : UV_EAI_NONAME));
        goto out;
    }
    c->ai_next = res;
    try_connect(c);
out:
    client_unref(c);
}

int client_start(uv_loop_t *loop, const struct client_config *cfg,
                 const struct client_callbacks *cb, struct client **out)
{
    struct client *c = calloc(1, sizeof(*c));
    struct addrinfo hints;
    char port[8];
    int rc;

    *out = NULL;
    if (c == NULL) {
        return SITX_E_NOMEM;
    }
    c->loop = loop;
    c->cfg = *cfg;
    c->cb = *cb;
    c->version = cfg->version > SITX_PROTO_V1 ? cfg->version : SITX_PROTO_V1;
    c->reader = sitx_reader_new(SITX_FRAME_MAX);
    if (c->reader == NULL) {
        free(c);
        return SITX_E_NOMEM;
    }
    rc = uv_timer_init(loop, &c->timer);
    if (rc != 0) {
        sitx_reader_free(c->reader);
        free(c);
        return rc;
    }
    c->timer.data = c;
    c->refs = 1;
    *out = c;
    c->state = CL_RESOLVING;
    client_touch(c);
    /* Numeric addresses skip the resolver's trip through the thread pool. */
    if (uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)&c->addr) == 0 ||
        uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)&c->addr) == 0) {
        try_connect(c);
        return 0;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(port, sizeof(port), "%u", (unsigned)cfg->port);
    c->gai.data = c;
    rc = uv_getaddrinfo(loop, &c->gai, on_resolved, cfg->host, port, &hints);
    if (rc != 0) {
        client_fail(c, CLIENT_FAIL_NETWORK, "cannot resolve %s: %s", cfg->host, uv_strerror(rc));
        return 0;
    }
    c->gai_pending = 1;
    c->refs++;
    return 0;
}
