/* The read side of a connection: bytes into the PROXY header, the HELLO
 * or the frame reader, whole frames to the handshake or to the record
 * switch, and backpressure (reading pauses while a write job holds both chunks of the
 * transfer, or while our own writes back up). */
#include <stdio.h>
#include <string.h>

#include "cipher.h"
#include "conn.h"
#include "err.h"
#include "pairing.h"
#include "record.h"
#include "server.h"
#include "transfer.h"
#include "transport.h"
#include "web.h"

void conn_stop_reading(struct sitx_conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* One transport frame: decrypt in place, decode, dispatch. */
static int on_record_frame(struct sitx_conn *c, uint8_t *frame, size_t len)
{
    struct sitx_record rec;
    char err[128] = "";
    size_t rec_len = 0;
    int rc;

    if (len < 1 + SITX_TAG_LEN) {
        conn_violation(c, "frame of %zu bytes is too short for a record", len);
        return -1;
    }
    rc = sitx_transport_open(c->rx, frame, len, frame, len, &rec_len);
    if (rc != 0) {
        conn_violation(c, "record did not decrypt (%s)", sitx_strerror(rc));
        return -1;
    }
    if (c->pairing) {
        return pairing_on_message(c, frame, rec_len);
    }
    rc = sitx_record_decode_v(frame, rec_len, c->version, &rec, err, sizeof(err));
    if (rc != 0) {
        conn_violation(c, "malformed record: %s", err[0] != '\0' ? err : sitx_strerror(rc));
        return -1;
    }
    switch (rec.type) {
    case SITX_REC_OFFER:
        return transfer_on_offer(c, &rec.u.offer);
    case SITX_REC_DATA:
        return transfer_on_data(c, rec.u.data.bytes, rec.u.data.len);
    case SITX_REC_END:
        return transfer_on_end(c, &rec.u.end);
    case SITX_REC_CANCEL: /* decoded on version 2 connections only */
        return transfer_on_cancel(c, &rec.u.cancel);
    case SITX_REC_CLOSE:
        conn_close(c, rec.u.close.reason == SITX_CLOSE_DONE
                          ? "done"
                          : sitx_close_reason_name(rec.u.close.reason));
        return -1;
    default:
        conn_violation(c, "unexpected %s record from a sender", sitx_rec_type_name(rec.type));
        return -1;
    }
}

static void pause_reading(struct sitx_conn *c)
{
    conn_stop_reading(c);
    c->paused = 1;
}

/* Takes whole frames out of the reader while the state allows. */
static void drain(struct sitx_conn *c)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc;

    while ((c->state == CONN_HANDSHAKE || c->state == CONN_OPEN) && c->close_later == NULL) {
        if (c->write_backlog > CONN_WRITE_BACKLOG ||
            (c->state == CONN_OPEN && !transfer_ready_for_frame(c))) {
            pause_reading(c);
            return;
        }
        if (c->state == CONN_CLOSING) {
            return;
        }
        rc = sitx_reader_next(c->reader, &frame, &len);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            if (c->state == CONN_HANDSHAKE) {
                greet_fail(c, "bad-handshake", sitx_reader_errstr(c->reader));
            } else {
                conn_violation(c, "%s", sitx_reader_errstr(c->reader));
            }
            return;
        }
        if (c->state == CONN_HANDSHAKE) {
            rc = greet_on_frame(c, frame, len);
        } else {
            rc = on_record_frame(c, frame, len);
        }
        if (rc != 0) {
            return;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sitx_conn *c = h->data;

    (void)suggested;
    if (c->rbuf != NULL) {
        *buf = uv_buf_init((char *)c->rbuf, CONN_READ_BUF);
    } else {
        *buf = uv_buf_init((char *)c->hsbuf, CONN_HS_BUF);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct sitx_conn *c = s->data;
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t n = nread > 0 ? (size_t)nread : 0;
    int rc;

    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? "peer-closed" : uv_err_name((int)nread));
        return;
    }
    if (n == 0 || c->state == CONN_CLOSING) {
        return;
    }
    web_note_bytes(c->srv, n);
    if (c->state == CONN_OPEN) {
        conn_start_idle(c);
    } else {
        adm_seen(c->srv->adm, c->slot, n); /* no longer silent */
    }
    if (c->state == CONN_PROXY && proxy_on_bytes(c, &p, &n) != 0) {
        return;
    }
    if (c->state == CONN_HELLO) {
        size_t take = SITX_HELLO_LEN - c->hello_len;

        take = take < n ? take : n;
        memcpy(c->hello + c->hello_len, p, take);
        c->hello_len += take;
        p += take;
        n -= take;
        if (c->hello_len == SITX_HELLO_LEN && greet_on_hello(c) != 0) {
            return;
        }
    }
    if (n > 0) {
        rc = sitx_reader_feed(c->reader, p, n);
        if (rc != 0) {
            conn_close(c, "out-of-memory");
            return;
        }
    }
    drain(c);
}

int conn_start_reading(struct sitx_conn *c)
{
    int rc = 0;

    if (!c->reading) {
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        c->reading = rc == 0;
    }
    return rc;
}

void conn_resume(struct sitx_conn *c)
{
    if (c->state == CONN_CLOSING) {
        return;
    }
    c->paused = 0;
    drain(c);
    if (!c->paused && c->state != CONN_CLOSING && conn_start_reading(c) != 0) {
        conn_close(c, "read-failed");
    }
}
