/* One connection to a receiver: resolve, connect (TCP_NODELAY), read the
 * GREETING, send HELLO, run the Noise handshake (XX with our static key, or
 * NNpsk0 with an Argon2id PSK derived in the thread pool), then seal and
 * batch records into large writes and open the receiver's records.
 *
 * The owner (send.c) gets callbacks on the loop thread. After on_fail, or
 * after the owner calls client_close(), no callback comes any more and the
 * client frees itself once its handles are closed. */
#ifndef SITX_SEND_CLIENT_H
#define SITX_SEND_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "greeting.h"
#include "keyfile.h"
#include "passphrase.h"
#include "record.h"

/* Why a connection ended, which decides what the owner does next. */
enum client_fail {
    CLIENT_FAIL_NETWORK, /* retry: cannot connect, lost, no answer, stream damaged */
    CLIENT_FAIL_BUSY,    /* retry later: closed before the handshake completed, or CLOSE(BUSY) */
    CLIENT_FAIL_REFUSED, /* retry later: the TCP connection was refused */
    CLIENT_FAIL_AUTH,    /* never retry: refused, not authorised, receiver key mismatch */
    CLIENT_FAIL_FATAL,   /* never retry: another protocol version, out-of-range greeting */
    CLIENT_FAIL_NOMEM,   /* never retry: out of memory */
    CLIENT_FAIL_VERSION, /* connect again at once with client_retry_version() (fallback) */
    /* Connect again at once, asking for version 2 again: the receiver
     * refused a key from the key cache, which the next connection derives. */
    CLIENT_FAIL_STALE_KEY,
};

/* The PSK of the last greeting, kept across reconnects: a receiver derives
 * its key once per start, so the same salt comes back and Argon2id need not
 * run again. Owned by the caller; free with psk_cache_clear(). */
struct psk_cache {
    uint8_t *psk; /* SITX_PSK_BYTES in guarded memory, or NULL */
    uint8_t salt[SITX_SALT_LEN];
    uint32_t ops;
    uint32_t mem_kib;
    /* The key cache file across runs (psk_store.h), borrowed; NULL when not
     * used (--no-psk-cache, or a passphrase without a file). */
    const char *store_path;
    int from_store; /* psk came from the file and no handshake took it yet */
    int to_store;   /* psk was derived here: written to the file once a handshake takes it */
    int warned;     /* the file's refusal was reported */
    int refused;    /* a key from the file was refused: not read again this run */
};

void psk_cache_clear(struct psk_cache *pc);

struct client_config {
    const char *host; /* for getaddrinfo, or a numeric address */
    uint16_t port;
    const char *label; /* "host:port" for messages */
    enum sitx_auth_mode mode;
    const struct sitx_keypair *kp;    /* key mode */
    const struct sitx_passphrase *pw; /* password mode */
    struct psk_cache *psk_cache;      /* password mode */
    uint64_t timeout_ms;              /* silence from the receiver that ends the connection */
    unsigned version;                 /* the HELLO's: SITX_PROTO_V1 or V2 (0 is V1) */
    /* Whether a refused HELLO of a version above 1 may be another version
     * (PROTOCOL.md §3): then it ends with CLIENT_FAIL_VERSION, not AUTH. */
    int fallback;
};

struct client_callbacks {
    void *data;
    /* Key mode, once message 2 revealed the receiver's static key: return 0
     * to go on, or fill why and return non-zero to fail with AUTH. */
    int (*check_receiver)(void *data, const uint8_t pk[SITX_KEY_BYTES], char *why, size_t why_len);
    /* Handshake done: records may be sent. */
    void (*on_ready)(void *data);
    /* A record other than CLOSE (those end the connection through on_fail). */
    void (*on_record)(void *data, const struct sitx_record *rec);
    /* Queued bytes went out: room to queue more. */
    void (*on_drain)(void *data);
    /* The connection ended; ready says whether the handshake had completed. */
    void (*on_fail)(void *data, enum client_fail kind, int ready, const char *why);
};

struct client;

/* Starts connecting. cfg's strings and pointers must outlive the client.
 * Returns 0 or a negative error (nothing started, no callback). */
int client_start(uv_loop_t *loop, const struct client_config *cfg,
                 const struct client_callbacks *cb, struct client **out);

/* Seals one plaintext record (type byte first) and queues it. Returns 0,
 * SITX_E_STATE when the client is not ready or has failed, SITX_E_NOMEM. */
int client_send_record(struct client *c, const uint8_t *rec, size_t len);
/* Queues one DATA record carrying bytes[0..n), 1 <= n <= SITX_DATA_MAX. */
int client_send_data(struct client *c, const uint8_t *bytes, size_t n);
/* Hands queued records to the socket. */
int client_flush(struct client *c);
/* Bytes queued or being written: the owner keeps this under CLIENT_QUEUE_HIGH. */
size_t client_queued(const struct client *c);
#define CLIENT_QUEUE_HIGH ((size_t)4 << 20)

/* Whether the owner waits for the receiver (an offer or result pending):
 * while it does, --timeout of silence fails the connection. */
void client_set_waiting(struct client *c, int waiting);

/* The connection's protocol version: the one its HELLO asked for, which
 * the receiver speaks once on_ready has come. */
unsigned client_version(const struct client *c);
/* After CLIENT_FAIL_VERSION (valid in on_fail): the version to ask for on
 * the next connection. */
unsigned client_retry_version(const struct client *c);

/* The receiver's static key once known (key mode), else NULL. */
const uint8_t *client_receiver_key(const struct client *c);

/* Ends the connection from our side: in the ready state a CLOSE record with
 * reason (and message, may be NULL) goes out first, queued writes are
 * flushed, then the socket is shut down. reason < 0 sends no CLOSE. No
 * callbacks follow. NULL-safe. */
void client_close(struct client *c, int reason, const char *message);

#endif
