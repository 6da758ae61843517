/* The receiver's web side (--http): the events store fed from the loop, the
 * thumbnail cache, and the libmicrohttpd daemon serving the page, the API
 * and /metrics from its own threads. The loop only ever calls the web_note_*
 * hooks, which take the events mutex for a copy and never block on HTTP. */
#ifndef SITX_RECV_WEB_H
#define SITX_RECV_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "opts.h"

struct sitx_server;
struct sitx_conn;
struct transfer;
struct recv_events;
struct thumb_cache;

struct recv_web_config {
    int enabled;
    char host[SITX_HOST_MAX];
    uint16_t port;          /* 0: any free port */
    const char *token_file; /* NULL: no token (loopback only) */
};

/* 1 when host (an IP address, as --http takes it) is a loopback address:
 * 127.0.0.0/8 or ::1. Names are not addresses: 0. */
int web_host_is_loopback(const char *host);
/* 1 when host is an IPv4 or IPv6 address literal. */
int web_host_is_ip(const char *host);

/* Reads the token, lists the inbox from the dedup index, starts the HTTP
 * daemon and sets srv->web. Logs "http-serving addr=..." or why not.
 * Call after server_start(), before the loop runs. Returns 0 or negative. */
int web_start(struct sitx_server *srv, const struct recv_web_config *wc);
/* Stops the daemon (joining its threads) and frees srv->web. NULL-safe. */
void web_stop(struct sitx_server *srv);

/* Loop-thread hooks; each does nothing when --http is off. */
/* The one outcome of an image (outcome.c, with the log line). */
void web_note_outcome(const struct transfer *t, uint8_t status, const char *msg, const char *name);
/* A connection failed authentication (greet.c). */
void web_note_auth_failed(const struct sitx_conn *c, const char *reason, const char *detail);
/* A connection refused before anything was read (conn.c): caps, untrusted proxy. */
void web_note_conn_refused(const struct sitx_server *srv, const char *peer, const char *reason);
/* An image whose sender left before its END (outcome.c). */
void web_note_aborted(const struct transfer *t, const char *why);
/* Connections open changed (conn.c, server.c). */
void web_note_connections(const struct sitx_server *srv);
/* Bytes read from a sender (input.c). */
void web_note_bytes(const struct sitx_server *srv, size_t n);

/* http.c: the daemon over the shared state below. */
struct recv_web {
    struct recv_events *events;
    struct thumb_cache *thumbs;
    int inbox_fd;
    uint8_t token_hash[32]; /* BLAKE2b of the token; compared, never the token */
    int has_token;
    int loopback; /* listening on loopback only: Host must be an address */
    void *daemon; /* struct MHD_Daemon */
    char addr[96];
};

/* Starts libmicrohttpd on host:port; fills w->daemon and w->addr. 0 or negative (logged). */
int http_start(struct recv_web *w, const char *host, uint16_t port);
void http_stop(struct recv_web *w);

#endif
