/* Inside one client: client.c (sockets, writes, timer, lifetime) and
 * client_hs.c (greeting, handshake, records) share this. */
#ifndef SITX_SEND_CLIENT_INT_H
#define SITX_SEND_CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "client.h"
#include "greeting.h"
#include "handshake.h"
#include "reader.h"
#include "transport.h"

/* Records are sealed straight into large blocks, one uv_write per block, so
 * a 4 MB image costs a handful of syscalls, not one per 64 KB record. */
#define BLOCK_CAP ((size_t)16 * (SITX_FRAME_HDR + SITX_FRAME_MAX))
/* Blocks kept for reuse: enough to cover CLIENT_QUEUE_HIGH. */
#define POOL_MAX 6
/* Smallest transport frame: a 1-byte record and its tag. */
#define MIN_FRAME (1 + SITX_TAG_LEN)
#define WHY_MAX   384

enum client_state {
    CL_RESOLVING,
    CL_CONNECTING,
    CL_GREETING,  /* reading the 32 clear bytes */
    CL_ARGON,     /* HELLO sent, deriving the PSK in the thread pool */
    CL_HANDSHAKE, /* Noise messages */
    CL_READY,     /* records both ways */
    CL_SHUTDOWN,  /* CLOSE sent, flushing before the TCP shutdown */
    CL_CLOSED,    /* handles closing; freed when the last one is */
};

struct wblock {
    uv_write_t req;
    struct client *c;
    struct wblock *next; /* in the pool */
    size_t len;
    uint8_t data[BLOCK_CAP];
};

struct client {
    uv_loop_t *loop;
    struct client_config cfg;
    struct client_callbacks cb;
    enum client_state state;
    int refs;  /* open handles and requests in flight; freed at 0 once closed */
    int quiet; /* no more callbacks to the owner */
    int tcp_open;
    int waiting; /* the owner waits for an answer */
    int gai_pending;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    struct addrinfo *ai_list;
    struct addrinfo *ai_next;
    struct sockaddr_storage addr; /* numeric host, when ai_list is NULL */
    uint8_t greeting[SITX_GREETING_LEN];
    size_t greeting_got;
    uint8_t hello[SITX_HELLO_LEN];
    unsigned version;       /* HELLO byte 4 */
    unsigned retry_version; /* CLIENT_FAIL_VERSION: the one to try next */
    /* A refusal of HELLO read while Argon2id still runs: 1 + its length (0
     * or 1), acted on once the PSK is in the cache for the next connection. */
    int pending_refusal;
    uint8_t pending_version;
    struct sitx_reader *reader;
    struct sitx_hs *hs;
    struct sitx_cipher *tx;
    struct sitx_cipher *rx;
    uint8_t remote_pk[SITX_KEY_BYTES];
    int have_remote_pk;
    int got_record;      /* a transport frame came after the handshake */
    struct wblock *cur;  /* being filled */
    struct wblock *pool; /* free blocks */
    int pool_count;
    size_t writing; /* bytes handed to uv_write whose callback has not come */
    uint8_t rbuf[64 * 1024];
};

/* client.c */
/* Ends the connection: handles closed, on_fail told once (unless the owner
 * already let go). */
void client_fail(struct client *c, enum client_fail kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Restarts the silence timer, or stops it when nothing is awaited. */
void client_touch(struct client *c);
/* Queues bytes as they are (HELLO, handshake frames). 0 or SITX_E_STATE (failed). */
int client_queue_raw(struct client *c, const uint8_t *bytes, size_t n);
/* Hands the current block to uv_write. 0 or SITX_E_STATE (failed). */
int client_submit(struct client *c);
/* Drops a reference held by a request or job; frees at 0 once closed. */
void client_unref(struct client *c);

/* client_hs.c */
/* The 32 greeting bytes are in: HELLO, then the handshake (or Argon2id first). */
void client_on_greeting(struct client *c);
/* Takes whole frames from the reader: handshake messages, then records. */
void client_drain_frames(struct client *c);

/* client_psk.c: the key cache file (psk_store.h) */
/* Password mode, no key in memory for greeting g: takes one from the file
 * into c->cfg.psk_cache. Returns 1 when it did; a file it refuses is
 * reported once (a warning) and ignored. */
int client_psk_from_store(struct client *c, const struct sitx_greeting *g);
/* The PSK in the cache was just derived: to be written once a handshake takes it. */
void client_psk_derived(struct client *c);
/* A handshake completed with the PSK in the cache. */
void client_psk_taken(struct client *c);
/* The receiver refused the handshake. Returns 1 when the PSK came from the
 * file (now dropped there and here, to be derived again), else 0. */
int client_psk_refused(struct client *c);

#endif
