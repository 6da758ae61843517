/* One sender's connection: greeting, HELLO, the Noise handshake, then
 * records. It owns its handles, its reader and ciphers, its write requests
 * and its transfers, and is freed when the last handle closed and the last
 * thread-pool job holding a reference came back. */
#ifndef SITX_RECV_CONN_H
#define SITX_RECV_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "admission.h"
#include "greeting.h"
#include "handshake.h"
#include "keyfile.h"
#include "proxyhdr.h"
#include "reader.h"

struct sitx_server;
struct transfer;

enum conn_state {
    CONN_PROXY,     /* --proxy-protocol: waiting for the PROXY v2 header */
    CONN_HELLO,     /* greeting sent, waiting for the 8-byte HELLO */
    CONN_HANDSHAKE, /* Noise messages, fixed sizes only */
    CONN_OPEN,      /* authenticated: records */
    CONN_CLOSING,   /* flushing the last records, then closing the handles */
};

#define CONN_ADDR_MAX 64
#define CONN_READ_BUF (64u * 1024u)
/* Before authentication reads go into a small buffer inside the struct: a
 * slot costs little memory, and the big one comes with authentication. */
#define CONN_HS_BUF 512u
/* Bytes of queued writes past which we stop reading: a sender that sends
 * offers but never reads the answers must not make us buffer without end. */
#define CONN_WRITE_BACKLOG (256u * 1024u)

struct sitx_conn {
    uv_tcp_t tcp;        /* .data = this */
    uv_timer_t timer;    /* handshake timeout, then idle timeout, then flush bound */
    uv_timer_t deadline; /* earliest transfer deadline */
    uv_shutdown_t shutdown_req;
    int refs; /* open handles + jobs and requests in flight; freed at 0 */
    int handles_closing;
    enum conn_state state;
    struct sitx_server *srv;
    struct sitx_conn *prev;
    struct sitx_conn *next;

    char ip[CONN_ADDR_MAX];               /* for the per-address cap */
    struct adm_addr addr;                 /* the same, for admission */
    uint32_t slot;                        /* pre-authentication slot, or ADM_NO_SLOT */
    char peer[CONN_ADDR_MAX];             /* "IP:PORT" or "[IP]:PORT" for logs */
    char via[CONN_ADDR_MAX];              /* the proxy's "IP:PORT", or "" when direct */
    char keyfp[SITX_FINGERPRINT_LEN + 1]; /* fingerprint, "password", or "-" */
    uint8_t sender_id[32];                /* static key; zero in password mode */
    int authed;                           /* handshake done and the sender accepted */
    int pairing;                          /* a pairing connection (HELLO flag PAIR), pair.c */

    struct sitx_proxyhdr *proxy; /* CONN_PROXY only */
    uint8_t hello[SITX_HELLO_LEN];
    size_t hello_len;
    uint8_t mode;     /* enum sitx_auth_mode the sender chose */
    unsigned version; /* the HELLO's: SITX_PROTO_V1 or V2, which records the connection has */
    struct sitx_reader *reader;
    struct sitx_hs *hs;
    struct sitx_cipher *tx;
    struct sitx_cipher *rx;
    uint8_t *rbuf;              /* CONN_READ_BUF bytes for uv_read, once authenticated */
    uint8_t hsbuf[CONN_HS_BUF]; /* for uv_read until then */
    int reading;                /* uv_read_start is active */
    int paused;           /* reading stopped: a write job holds both chunks, or writes back up */
    size_t write_backlog; /* bytes in write requests not yet completed */

    struct transfer *transfers; /* every transfer not yet released */
    struct transfer *rx_t;      /* the one DATA and END belong to */
    unsigned n_active;          /* transfers counted against the caps */
    unsigned n_stored;
    int stopping;            /* the server is stopping */
    const char *close_later; /* conn_close_later() reason, acted on from the timer */
};

/* Accepts a pending connection from the listener and asks admission for a
 * pre-authentication slot (which may evict another connection), then sends
 * the greeting. Never fails loudly: a refused connection is closed and
 * counted for the summary, a failed accept is logged. */
void conn_accept(struct sitx_server *srv);

/* Sends the greeting; from then on the admission tick watches the
 * handshake: at once for a direct connection, after the PROXY header
 * behind a proxy. 0 or a negative error. */
int conn_greet(struct sitx_conn *c);
/* Sets c->ip and c->peer from a numeric address and a port. */
void conn_set_peer(struct sitx_conn *c, const char *ip, unsigned port);
/* Asks admission for a pre-authentication slot for c->addr, evicting the
 * stalest connection of a full group if need be: 1 when c may go on, 0
 * when its source is penalised or the server stops (close it with
 * conn_refuse_admission). */
int conn_admit(struct sitx_conn *c);
void conn_refuse_admission(struct sitx_conn *c);

/* The handshake timeout ran out (from the server's admission tick):
 * counted, its source struck, and closed without a word. */
void conn_handshake_expired(struct sitx_conn *c);

/* Sends a raw byte string (greeting, handshake frame). Returns 0 or a negative error. */
int conn_send_raw(struct sitx_conn *c, const uint8_t *buf, size_t len);
/* Seals one record plaintext into a frame and sends it. Returns 0 or a negative error. */
int conn_send_record(struct sitx_conn *c, const uint8_t *rec, size_t rec_len);
/* Encodes and sends CLOSE(reason, message); errors are ignored, the connection is ending. */
void conn_send_close(struct sitx_conn *c, uint8_t reason, const char *message);

/* Ends the connection: stops reading, drops the transfers still receiving,
 * flushes what was queued and closes. reason goes into the log line. */
void conn_close(struct sitx_conn *c, const char *reason);
/* conn_close() from the timer, for callers deep in a walk of the
 * transfers (a failed write while answering), which must not see them freed. */
void conn_close_later(struct sitx_conn *c, const char *reason);
/* A protocol violation after the handshake: CLOSE(PROTOCOL), log, close. */
void conn_violation(struct sitx_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void conn_ref(struct sitx_conn *c);
void conn_unref(struct sitx_conn *c);

/* input.c: uv_read_start / uv_read_stop, remembering which is in force. */
int conn_start_reading(struct sitx_conn *c);
void conn_stop_reading(struct sitx_conn *c);
/* A write job came back: take the frames left in the reader, read again. */
void conn_resume(struct sitx_conn *c);
/* (Re)starts the idle timeout; after the handshake it replaces the handshake timeout. */
void conn_start_idle(struct sitx_conn *c);
/* Re-arms the deadline timer on the earliest pending transfer deadline. */
void conn_rearm_deadline(struct sitx_conn *c);
/* A transfer was released: a stopping connection with nothing left closes. */
void conn_transfer_gone(struct sitx_conn *c);

/* The server is stopping: close now when idle, else after the transfers. */
void conn_begin_stop(struct sitx_conn *c);
/* The grace period ran out: cut every transfer, CLOSE(SHUTDOWN), close. */
void conn_abort(struct sitx_conn *c);

/* greet.c: HELLO and handshake. */
/* Takes the 8 HELLO bytes in c->hello; starts the handshake. 0 or negative (closed). */
int greet_on_hello(struct sitx_conn *c);
/* One handshake frame. 0 or negative (the connection was closed). */
int greet_on_frame(struct sitx_conn *c, const uint8_t *frame, size_t len);
/* A pre-authentication failure: log auth-failed, zero-length frame, close. */
void greet_fail(struct sitx_conn *c, const char *reason, const char *detail);

/* proxy.c: the PROXY protocol v2 header before the greeting. */
/* Longest wait for the header: the spec asks for at least 3 s, one TCP
 * retransmit; the handshake timeout caps it when that is shorter. */
#define CONN_PROXY_TIMEOUT_MS 3000
/* 1 when the TCP peer c->ip is a trusted proxy. */
int proxy_trusted(const struct sitx_server *srv, const struct sitx_conn *c);
/* Allocates the header parser; the connection then waits in CONN_PROXY,
 * counted in srv->n_proxy_wait until proxy_end(). */
int proxy_begin(struct sitx_conn *c);
/* Frees the header parser, if any. */
void proxy_end(struct sitx_conn *c);
/* Bytes that arrived in CONN_PROXY: *p and *n are advanced past the header.
 * On a whole header the real address replaces the proxy's, the caps are
 * checked and the greeting goes out. Returns 0, or -1 when c was closed. */
int proxy_on_bytes(struct sitx_conn *c, const uint8_t **p, size_t *n);
/* The header did not come within CONN_PROXY_TIMEOUT_MS: log and close. */
void proxy_timeout(struct sitx_conn *c);

#endif
