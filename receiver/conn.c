/* A connection's life: accept and caps, the write queue where each request
 * owns its buffer, the timers (handshake, idle, deadline), stopping, and an
 * orderly close. The read side is in input.c. */
#include "conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "answer.h"
#include "cipher.h"
#include "err.h"
#include "log.h"
#include "pairing.h"
#include "record.h"
#include "server.h"
#include "transfer.h"
#include "transport.h"
#include "web.h"

struct write_req {
    uv_write_t req; /* .data = this */
    struct sitx_conn *c;
    uv_buf_t buf;
    uint8_t data[]; /* owned by the request, freed in on_write_done */
};

void conn_ref(struct sitx_conn *c)
{
    c->refs++;
}

static void conn_free(struct sitx_conn *c)
{
    struct sitx_server *srv = c->srv;

    /* Every transfer is released by now (the jobs that used one held a ref
     * too); this only guards against leaving a temporary file behind. */
    while (c->transfers != NULL) {
        struct transfer *t = c->transfers;

        c->transfers = t->next;
        xfer_drop_resources(t);
        free(t);
    }
    sitx_reader_free(c->reader);
    proxy_end(c);
    sitx_hs_free(c->hs);
    sitx_cipher_free(c->tx);
    sitx_cipher_free(c->rx);
    free(c->rbuf);
    adm_release(srv->adm, c->slot, ADM_END_CLOSED, uv_now(srv->loop));
    server_conn_gone(srv, c);
    sodium_memzero(c, sizeof(*c));
    free(c);
}

void conn_unref(struct sitx_conn *c)
{
    if (--c->refs == 0) {
        conn_free(c);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void close_handles(struct sitx_conn *c)
{
    if (c->handles_closing) {
        return;
    }
    c->handles_closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->deadline, on_handle_closed);
}

static void on_write_done(uv_write_t *req, int status)
{
    struct write_req *wr = req->data;
    struct sitx_conn *c = wr->c;

    c->write_backlog -= wr->buf.len;
    free(wr);
    if (status < 0 && c->state != CONN_CLOSING) {
        conn_close(c, "write-failed");
    } else if (c->paused && c->write_backlog <= CONN_WRITE_BACKLOG / 2) {
        conn_resume(c);
    }
    conn_unref(c);
}

static struct write_req *write_req_new(struct sitx_conn *c, size_t cap)
{
    struct write_req *wr = malloc(sizeof(*wr) + cap);

    if (wr != NULL) {
        wr->req.data = wr;
        wr->c = c;
    }
    return wr;
}

static int queue_write(struct sitx_conn *c, struct write_req *wr, size_t len)
{
    int rc;

    wr->buf = uv_buf_init((char *)wr->data, (unsigned int)len);
    rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &wr->buf, 1, on_write_done);
    if (rc != 0) {
        free(wr);
        return rc;
    }
    c->write_backlog += len;
    conn_ref(c);
    return 0;
}

int conn_send_raw(struct sitx_conn *c, const uint8_t *buf, size_t len)
{
    struct write_req *wr;

    if (c->state == CONN_CLOSING) {
        return SITX_E_CLOSED;
    }
    wr = write_req_new(c, len);
    if (wr == NULL) {
        return SITX_E_NOMEM;
    }
    memcpy(wr->data, buf, len);
    return queue_write(c, wr, len);
}

int conn_send_record(struct sitx_conn *c, const uint8_t *rec, size_t rec_len)
{
    struct write_req *wr;
    size_t cap = rec_len + SITX_FRAME_HDR + SITX_TAG_LEN;
    size_t flen = 0;
    int rc;

    if (c->state != CONN_OPEN || c->tx == NULL) {
        return SITX_E_STATE;
    }
    wr = write_req_new(c, cap);
    if (wr == NULL) {
        return SITX_E_NOMEM;
    }
    rc = sitx_transport_seal(c->tx, rec, rec_len, wr->data, cap, &flen);
    if (rc != 0) {
        free(wr);
        return rc;
    }
    return queue_write(c, wr, flen);
}

void conn_send_close(struct sitx_conn *c, uint8_t reason, const char *message)
{
    uint8_t rec[ANSWER_CLOSE_MAX];
    size_t len = 0;

    if (c->state != CONN_OPEN) {
        return;
    }
    if (answer_close(reason, message, rec, sizeof(rec), &len) == 0) {
        (void)conn_send_record(c, rec, len);
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct sitx_conn *c = req->data;

    (void)status;
    close_handles(c);
    conn_unref(c);
}

static void on_timer(uv_timer_t *timer);

void conn_close(struct sitx_conn *c, const char *reason)
{
    char qreason[128];

    if (c->state == CONN_CLOSING) {
        return;
    }
    c->state = CONN_CLOSING;
    adm_release(c->srv->adm, c->slot, ADM_END_CLOSED, uv_now(c->srv->loop));
    c->slot = ADM_NO_SLOT;
    if (c->pairing) {
        pairing_conn_closing(c);
    }
    sitx_log(c->authed ? SITX_LOG_INFO : SITX_LOG_DEBUG, "connection-closed",
             "peer=%s key=%s reason=%s images=%u", c->peer, c->keyfp,
             sitx_log_quote(reason, qreason, sizeof(qreason)), c->n_stored);
    conn_stop_reading(c);
    c->paused = 0;
    uv_timer_stop(&c->deadline);
    transfer_conn_closing(c);
    /* Flush what is queued (a RESULT, a CLOSE), but not for ever. */
    uv_timer_start(&c->timer, on_timer, RECV_CLOSE_FLUSH_MS, 0);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) == 0) {
        conn_ref(c);
    } else {
        close_handles(c);
    }
}

void conn_violation(struct sitx_conn *c, const char *fmt, ...)
{
    char msg[SITX_TEXT_MAX + 1];
    char qmsg[600];
    va_list ap;

    if (c->state == CONN_CLOSING) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sitx_log(SITX_LOG_WARNING, "protocol-error", "peer=%s key=%s reason=%s", c->peer, c->keyfp,
             sitx_log_quote(msg, qmsg, sizeof(qmsg)));
    conn_send_close(c, SITX_CLOSE_PROTOCOL, msg);
    conn_close(c, "protocol-error");
}

/* 1 while the sender waits on us (a check, a write, a store), so that
 * silence on its side is not idleness. */
static int waiting_on_us(const struct sitx_conn *c)
{
    if (c->rx_t != NULL && c->rx_t->state == XF_RECEIVING &&
        (c->rx_t->job_busy || c->rx_t->val_busy)) {
        return 1; /* our disk, or the validation the wire may not outrun, is the slow side */
    }
    for (const struct transfer *t = c->transfers; t != NULL; t = t->next) {
        if (t->state == XF_CHECKING || t->state == XF_RESUMING || t->state == XF_ENDING ||
            t->state == XF_STORING) {
            return 1;
        }
    }
    return 0;
}

static void on_timer(uv_timer_t *timer)
{
    struct sitx_conn *c = timer->data;

    if (c->close_later != NULL && c->state != CONN_CLOSING) {
        conn_close(c, c->close_later);
        return;
    }
    switch (c->state) {
    case CONN_PROXY:
        proxy_timeout(c);
        break;
    case CONN_HELLO:
    case CONN_HANDSHAKE:
        break; /* the server's admission tick watches handshakes */
    case CONN_OPEN:
        if (waiting_on_us(c)) {
            conn_start_idle(c);
            break;
        }
        conn_send_close(c, SITX_CLOSE_TIMEOUT, "idle for too long");
        conn_close(c, "idle-timeout");
        break;
    case CONN_CLOSING:
        close_handles(c);
        break;
    }
}

void conn_start_idle(struct sitx_conn *c)
{
    /* A pairing connection waits for people; the window's deadline bounds it. */
    if (c->close_later == NULL && !c->pairing) {
        uv_timer_start(&c->timer, on_timer, c->srv->cfg->idle_timeout_ms, 0);
    }
}

void conn_close_later(struct sitx_conn *c, const char *reason)
{
    if (c->state != CONN_CLOSING && c->close_later == NULL) {
        c->close_later = reason;
        uv_timer_start(&c->timer, on_timer, 0, 0);
    }
}

static void on_deadline(uv_timer_t *timer)
{
    struct sitx_conn *c = timer->data;

    transfer_expire(c, uv_now(c->srv->loop));
    conn_rearm_deadline(c);
}

void conn_rearm_deadline(struct sitx_conn *c)
{
    uint64_t due;
    uint64_t now;

    if (c->state == CONN_CLOSING) {
        return;
    }
    due = transfer_next_deadline(c);
    if (due == 0) {
        uv_timer_stop(&c->deadline);
        return;
    }
    now = uv_now(c->srv->loop);
    uv_timer_start(&c->deadline, on_deadline, due > now ? due - now : 0, 0);
}

void conn_transfer_gone(struct sitx_conn *c)
{
    if (c->stopping && c->state == CONN_OPEN && c->transfers == NULL) {
        conn_send_close(c, SITX_CLOSE_SHUTDOWN, "the receiver is stopping");
        conn_close(c, "shutdown");
    }
}

void conn_begin_stop(struct sitx_conn *c)
{
    c->stopping = 1;
    switch (c->state) {
    case CONN_PROXY:
    case CONN_HELLO:
    case CONN_HANDSHAKE:
        conn_close(c, "shutdown");
        break;
    case CONN_OPEN:
        conn_transfer_gone(c);
        break;
    case CONN_CLOSING:
        break;
    }
}

void conn_abort(struct sitx_conn *c)
{
    c->stopping = 1;
    if (c->state == CONN_OPEN) {
        transfer_cancel_all(c, SITX_ST_SHUTTING_DOWN, "the receiver is stopping");
        conn_send_close(c, SITX_CLOSE_SHUTDOWN, "the receiver is stopping");
    }
    conn_close(c, "shutdown");
}

/* "IP" and "IP:PORT" / "[IP]:PORT" of the peer, and its admission
 * address; v4-mapped IPv6 shows as IPv4. Returns 0 or a negative error. */
static int peer_names(struct sitx_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[CONN_ADDR_MAX] = "?";
    unsigned port = 0;
    int rc;

    rc = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len);
    if (rc != 0) {
        return rc;
    }
    rc = adm_addr_from_sockaddr((const struct sockaddr *)&ss, &c->addr);
    if (rc != 0) {
        return rc;
    }
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

        uv_ip4_name(in, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

        uv_ip6_name(in6, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    }
    conn_set_peer(c, ip, port);
    return 0;
}

void conn_set_peer(struct sitx_conn *c, const char *ip, unsigned port)
{
    if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip, '.') != NULL) {
        ip += 7;
    }
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    snprintf(c->peer, sizeof(c->peer), strchr(c->ip, ':') != NULL ? "[%s]:%u" : "%s:%u", c->ip,
             port);
}

static void on_refused_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Closes an unauthenticated connection at once, without the zero-length
 * "refused" frame (a genuine sender would take that for a wrong key and give
 * up) and without waiting for anything to flush: its slot is needed now.
 * The caller has released the slot. */
static void drop(struct sitx_conn *c, const char *reason)
{
    if (c->state == CONN_CLOSING) {
        return;
    }
    c->state = CONN_CLOSING;
    c->slot = ADM_NO_SLOT;
    sitx_log(SITX_LOG_DEBUG, "connection-closed", "peer=%s key=- reason=%s images=0", c->peer,
             reason);
    conn_stop_reading(c);
    uv_timer_stop(&c->timer);
    close_handles(c);
}

void conn_handshake_expired(struct sitx_conn *c)
{
    adm_release(c->srv->adm, c->slot, ADM_END_TIMEOUT, uv_now(c->srv->loop));
    drop(c, "handshake-timeout");
}

int conn_admit(struct sitx_conn *c)
{
    struct sitx_server *srv = c->srv;
    void *victim = NULL;

    if (srv->stopping) {
        return 0;
    }
    switch (adm_admit(srv->adm, &c->addr, uv_now(srv->loop), c, &c->slot, &victim)) {
    case ADM_ADMIT:
        return 1;
    case ADM_EVICT:
        /* Its slot is already the newcomer's. */
        drop(victim, "evicted");
        return 1;
    case ADM_REFUSE:
        web_note_conn_refused(srv, c->peer, "penalised");
        break;
    }
    return 0;
}

void conn_refuse_admission(struct sitx_conn *c)
{
    drop(c, c->srv->stopping ? "stopping" : "penalised");
}

/* Before the PROXY header there is no sender address to admit: connections
 * from trusted proxies wait, at most --max-startups of them, for a short
 * while. A refusal here is the proxy's doing (or a stranger's): rationed. */
static int proxy_refused(struct sitx_server *srv, struct sitx_conn *c)
{
    const char *refuse = NULL;

    if (srv->stopping) {
        refuse = "stopping";
    } else if (!proxy_trusted(srv, c)) {
        refuse = "untrusted-proxy";
    } else if (srv->n_proxy_wait >= srv->cfg->adm.max_startups) {
        refuse = "too-many-startups";
    }
    if (refuse == NULL) {
        return 0;
    }
    if (adm_log_allowed(srv->adm, &c->addr)) {
        sitx_log(SITX_LOG_WARNING, "connection-refused", "peer=%s reason=%s", c->peer, refuse);
    }
    web_note_conn_refused(srv, c->peer, refuse);
    return 1;
}

static int conn_start(struct sitx_conn *c)
{
    struct sitx_server *srv = c->srv;
    int rc;

    c->reader = sitx_reader_new(SITX_FRAME_MAX);
    if (c->reader == NULL) {
        return SITX_E_NOMEM;
    }
    /* Small records (RESULT, ACCEPT) should not wait for Nagle. */
    (void)uv_tcp_nodelay(&c->tcp, 1);
    if (srv->cfg->proxy_protocol) {
        uint64_t ms = srv->cfg->adm.timeout_ms;

        rc = proxy_begin(c);
        if (rc != 0) {
            return rc;
        }
        uv_timer_start(&c->timer, on_timer, ms < CONN_PROXY_TIMEOUT_MS ? ms : CONN_PROXY_TIMEOUT_MS,
                       0);
    } else {
        rc = conn_greet(c);
        if (rc != 0) {
            return rc;
        }
    }
    return conn_start_reading(c);
}

int conn_greet(struct sitx_conn *c)
{
    int rc = conn_send_raw(c, c->srv->greeting, SITX_GREETING_LEN);

    if (rc != 0) {
        return rc;
    }
    c->state = CONN_HELLO;
    uv_timer_stop(&c->timer); /* the PROXY header's, if any: the admission tick takes over */
    server_watch_handshakes(c->srv);
    return 0;
}

void conn_accept(struct sitx_server *srv)
{
    struct sitx_conn *c;
    int admitted;
    int rc;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        sitx_log(SITX_LOG_ERR, "accept-failed", "error=out-of-memory");
        return;
    }
    c->srv = srv;
    c->state = srv->cfg->proxy_protocol ? CONN_PROXY : CONN_HELLO;
    c->slot = ADM_NO_SLOT;
    snprintf(c->keyfp, sizeof(c->keyfp), "-");
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    rc = uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        if (adm_log_allowed(srv->adm, &c->addr)) {
            sitx_log(SITX_LOG_ERR, "accept-failed", "error=%s", uv_strerror(rc));
        }
    } else if ((rc = peer_names(c)) != 0) {
        /* Reset before we could look (a health check, a scanner): no address to judge. */
        sitx_log(SITX_LOG_DEBUG, "connection-refused", "peer=? reason=peer-gone");
    }
    if (rc == 0) {
        /* Behind a proxy admission waits for the header's address; refusals
         * of direct connections are counted by admission and summarised. */
        admitted = srv->cfg->proxy_protocol ? !proxy_refused(srv, c) : conn_admit(c);
    } else {
        admitted = 0;
    }
    if (!admitted) {
        uv_close((uv_handle_t *)&c->tcp, on_refused_closed);
        return;
    }
    uv_timer_init(srv->loop, &c->timer);
    uv_timer_init(srv->loop, &c->deadline);
    c->timer.data = c;
    c->deadline.data = c;
    c->refs = 3; /* tcp, timer, deadline */
    c->next = srv->conns;
    if (srv->conns != NULL) {
        srv->conns->prev = c;
    }
    srv->conns = c;
    srv->n_conns++;
    web_note_connections(srv);
    sitx_log(SITX_LOG_DEBUG, "connection", "peer=%s", c->peer);
    rc = conn_start(c);
    if (rc != 0) {
        conn_close(c, sitx_strerror(rc));
    }
}
