/* Before authentication: HELLO, then the Noise handshake (XX in key mode,
 * NNpsk0 in password mode) driven by its action, with frames of exactly the
 * expected size. Nothing else is parsed until it completes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "answer.h"
#include "authz.h"
#include "bytes.h"
#include "conn.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "pairing.h"
#include "server.h"
#include "transport.h"
#include "web.h"

/* Largest handshake message we write (XX message 2 is 96 bytes). */
#define HS_MSG_MAX 256

void greet_fail(struct sitx_conn *c, const char *reason, const char *detail)
{
    static const uint8_t refused[SITX_FRAME_HDR] = {0, 0};
    char qdetail[300];

    if (c->state == CONN_CLOSING) {
        return;
    }
    /* Anyone can fail a handshake: past a few lines per interval, only counted. */
    if (adm_log_allowed(c->srv->adm, &c->addr)) {
        sitx_log(SITX_LOG_WARNING, "auth-failed", "peer=%s reason=%s detail=%s", c->peer, reason,
                 sitx_log_quote(detail, qdetail, sizeof(qdetail)));
    }
    web_note_auth_failed(c, reason, detail);
    /* A zero-length frame says "handshake refused"; it is all we can say in clear. */
    (void)conn_send_raw(c, refused, sizeof(refused));
    conn_close(c, "auth-failed");
}

/* The caps on authenticated connections: in total and per address. NULL
 * when c may stay, else the reason. */
static const char *over_authed_caps(const struct sitx_conn *c)
{
    const struct sitx_server *srv = c->srv;
    uint64_t same = 0;

    if (srv->n_authed >= srv->cfg->max_connections) {
        return "too-many-connections";
    }
    for (const struct sitx_conn *o = srv->conns; o != NULL; o = o->next) {
        if (o->authed && strcmp(o->ip, c->ip) == 0) {
            same++;
        }
    }
    return same >= srv->cfg->max_per_address ? "too-many-from-address" : NULL;
}

/* The handshake is over: keys in place, the sender checked against the
 * authorised list in key mode and against the caps on authenticated
 * connections. */
static int complete(struct sitx_conn *c)
{
    struct sitx_server *srv = c->srv;
    const struct sitx_peer *peer = NULL;
    const char *busy;
    uint8_t pk[SITX_DH_LEN];
    uint8_t h[SITX_HASHLEN];
    char qname[200];
    int rc;

    if (c->pairing) {
        rc = sitx_hs_handshake_hash(c->hs, h);
        if (rc != 0) {
            greet_fail(c, "internal", sitx_strerror(rc));
            return -1;
        }
    }
    rc = sitx_hs_split(c->hs, &c->tx, &c->rx);
    if (rc != 0) {
        greet_fail(c, "internal", sitx_strerror(rc));
        return -1;
    }
    if (c->mode == SITX_AUTH_KEY) {
        rc = sitx_hs_remote_static(c->hs, pk);
        if (rc != 0) {
            greet_fail(c, "internal", sitx_strerror(rc));
            return -1;
        }
        memcpy(c->sender_id, pk, sizeof(c->sender_id));
        sitx_fingerprint(pk, c->keyfp);
        peer = authz_find(srv->authz, pk);
    } else {
        memset(c->sender_id, 0, sizeof(c->sender_id));
        snprintf(c->keyfp, sizeof(c->keyfp), "password");
    }
    sitx_hs_free(c->hs);
    c->hs = NULL;
    c->state = CONN_OPEN;
    sitx_reader_set_limit(c->reader, SITX_FRAME_MAX, 0);
    /* The slot is free for the next newcomer, whatever happens now. */
    adm_release(srv->adm, c->slot, ADM_END_AUTHED, uv_now(srv->loop));
    c->slot = ADM_NO_SLOT;
    if (c->pairing) {
        /* Not an authorised sender (yet): only pairing messages from here on. */
        rc = pairing_on_handshake(c, pk, h);
        sodium_memzero(h, sizeof(h));
        return rc < 0 ? -1 : 1;
    }
    if (c->mode == SITX_AUTH_KEY && peer == NULL) {
        /* A key costs nothing to make: these lines are rationed too. */
        if (adm_log_allowed(srv->adm, &c->addr)) {
            sitx_log(SITX_LOG_WARNING, "auth-failed", "peer=%s reason=unknown-key key=%s",
                     c->peer, c->keyfp);
        }
        web_note_auth_failed(c, "unknown-key", ANSWER_MSG_UNAUTHORIZED);
        conn_send_close(c, SITX_CLOSE_UNAUTHORIZED, ANSWER_MSG_UNAUTHORIZED);
        conn_close(c, "unauthorized");
        return -1;
    }
    busy = over_authed_caps(c);
    if (busy != NULL) {
        /* An authorised sender: worth its own line, and a reason it can act on. */
        sitx_log(SITX_LOG_WARNING, "connection-refused", "peer=%s key=%s reason=%s", c->peer,
                 c->keyfp, busy);
        web_note_conn_refused(srv, c->peer, busy);
        conn_send_close(c, SITX_CLOSE_BUSY, busy);
        conn_close(c, busy);
        return -1;
    }
    c->rbuf = malloc(CONN_READ_BUF);
    if (c->rbuf == NULL) {
        conn_close(c, "out-of-memory");
        return -1;
    }
    c->authed = 1;
    srv->n_authed++;
    conn_start_idle(c); /* replaces the handshake timeout */
    if (peer != NULL && peer->name[0] != '\0') {
        sitx_log(SITX_LOG_INFO, "authenticated", "peer=%s key=%s mode=key name=%s protocol=%u",
                 c->peer, c->keyfp, sitx_log_quote(peer->name, qname, sizeof(qname)), c->version);
    } else {
        sitx_log(SITX_LOG_INFO, "authenticated", "peer=%s key=%s mode=%s protocol=%u", c->peer,
                 c->keyfp, c->mode == SITX_AUTH_KEY ? "key" : "password", c->version);
    }
    return 1;
}

/* Runs the handshake as far as it goes without the peer: writes our
 * message(s), then sets the exact size of the next one we expect. */
static int advance(struct sitx_conn *c)
{
    uint8_t msg[SITX_FRAME_HDR + HS_MSG_MAX];
    size_t len = 0;
    int rc;

    for (;;) {
        switch (sitx_hs_get_action(c->hs)) {
        case SITX_HS_WRITE_MESSAGE:
            rc = sitx_hs_write_message(c->hs, NULL, 0, msg + SITX_FRAME_HDR, HS_MSG_MAX, &len);
            if (rc != 0) {
                greet_fail(c, "internal", sitx_strerror(rc));
                return -1;
            }
            sitx_store_be16(msg, (uint16_t)len);
            rc = conn_send_raw(c, msg, SITX_FRAME_HDR + len);
            sodium_memzero(msg, sizeof(msg));
            if (rc != 0) {
                conn_close(c, "write-failed");
                return -1;
            }
            break;
        case SITX_HS_READ_MESSAGE:
            sitx_reader_set_limit(c->reader, sitx_hs_message_len(c->hs, 0), 1);
            return 0;
        case SITX_HS_SPLIT:
            return complete(c);
        case SITX_HS_FAILED:
        default:
            greet_fail(c, "bad-handshake", "handshake state failed");
            return -1;
        }
    }
}

int greet_on_hello(struct sitx_conn *c)
{
    struct sitx_server *srv = c->srv;
    struct sitx_hello h;
    struct sitx_hs_config cfg;
    uint8_t prologue[SITX_PROLOGUE_LEN];
    char detail[96];
    int rc;

    rc = sitx_hello_decode(c->hello, &h);
    if (rc == SITX_E_VERSION) {
        /* A later sender: one 1-byte frame says the highest version we
         * speak, so it can retry with that one (PROTOCOL.md §3). */
        static const uint8_t highest[SITX_FRAME_HDR + 1] = {0, 1, SITX_PROTO_VERSION_MAX};

        if (adm_log_allowed(srv->adm, &c->addr)) {
            sitx_log(SITX_LOG_WARNING, "auth-failed", "peer=%s reason=version detail=%u",
                     c->peer, (unsigned)h.version);
        }
        (void)conn_send_raw(c, highest, sizeof(highest));
        conn_close(c, "version");
        return -1;
    }
    if (rc != 0) {
        snprintf(detail, sizeof(detail), "HELLO %02x%02x%02x%02x%02x%02x%02x%02x: %s", c->hello[0],
                 c->hello[1], c->hello[2], c->hello[3], c->hello[4], c->hello[5], c->hello[6],
                 c->hello[7], sitx_strerror(rc));
        greet_fail(c, "bad-hello", detail);
        return -1;
    }
    if ((h.mode != SITX_AUTH_KEY && h.mode != SITX_AUTH_PASSWORD) || (h.mode & srv->modes) == 0) {
        snprintf(detail, sizeof(detail), "sender asked for mode %u, offered 0x%02x", h.mode,
                 srv->modes);
        greet_fail(c, "mode-not-offered", detail);
        return -1;
    }
    c->mode = h.mode;
    c->version = h.version;
    if ((h.flags & SITX_HELLO_FLAG_PAIR) != 0 && pairing_admit(c) != 0) {
        return -1;
    }
    sitx_prologue_build(srv->greeting, c->hello, prologue);
    memset(&cfg, 0, sizeof(cfg));
    cfg.pattern = c->mode == SITX_AUTH_KEY ? SITX_HS_XX : SITX_HS_NNPSK0;
    cfg.role = SITX_HS_RESPONDER;
    cfg.prologue = prologue;
    cfg.prologue_len = sizeof(prologue);
    cfg.static_sk = c->mode == SITX_AUTH_KEY ? srv->key.sk : NULL;
    cfg.psk = c->mode == SITX_AUTH_PASSWORD ? srv->psk : NULL;
    rc = sitx_hs_new(&c->hs, &cfg);
    if (rc != 0) {
        greet_fail(c, "internal", sitx_strerror(rc));
        return -1;
    }
    c->state = CONN_HANDSHAKE;
    return advance(c) < 0 ? -1 : 0;
}

int greet_on_frame(struct sitx_conn *c, const uint8_t *frame, size_t len)
{
    uint8_t payload[64];
    size_t plen = 0;
    int rc;

    if (len == 0) {
        greet_fail(c, "bad-handshake", "empty handshake frame");
        return -1;
    }
    rc = sitx_hs_read_message(c->hs, frame, len, payload, sizeof(payload), &plen);
    sodium_memzero(payload, sizeof(payload));
    if (rc != 0) {
        /* In NNpsk0 the first tag depends on the PSK: a failure there is a wrong password. */
        greet_fail(c,
                   rc == SITX_E_DECRYPT && c->mode == SITX_AUTH_PASSWORD ? "bad-password"
                                                                         : "bad-handshake",
                   sitx_strerror(rc));
        return -1;
    }
    if (plen != 0) {
        greet_fail(c, "bad-handshake", "handshake payload is not empty");
        return -1;
    }
    return advance(c) < 0 ? -1 : 0;
}
