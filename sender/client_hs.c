/* The connection's protocol: the greeting, HELLO, the Argon2id PSK in the
 * thread pool, the Noise handshake with the receiver's key pinned before
 * message 3, and the receiver's records after Split(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "client_int.h"
#include "err.h"
#include "log.h"
#include "secmem.h"

struct argon_job {
    uv_work_t req;
    struct client *c;
    const struct sitx_passphrase *pw;
    uint8_t salt[SITX_SALT_LEN];
    uint32_t ops;
    uint32_t mem_kib;
    uint8_t *psk; /* guarded */
    uint64_t start_ns;
    int rc;
};

void psk_cache_clear(struct psk_cache *pc)
{
    sitx_secret_free(pc->psk, SITX_PSK_BYTES);
    memset(pc, 0, sizeof(*pc));
}

static void hs_advance(struct client *c);
static void on_refusal(struct client *c, const uint8_t *frame, size_t len);

static void on_argon_work(uv_work_t *req)
{
    struct argon_job *job = req->data;

    job->rc = sitx_passphrase_derive(job->pw, job->salt, job->ops, job->mem_kib, job->psk);
}

static void argon_job_free(struct argon_job *job)
{
    sitx_secret_free(job->psk, SITX_PSK_BYTES);
    sodium_memzero(job, sizeof(*job));
    free(job);
}

static void start_handshake(struct client *c, const uint8_t *psk)
{
    struct sitx_hs_config hc;
    uint8_t prologue[SITX_PROLOGUE_LEN];
    int rc;

    sitx_prologue_build(c->greeting, c->hello, prologue);
    memset(&hc, 0, sizeof(hc));
    hc.role = SITX_HS_INITIATOR;
    hc.prologue = prologue;
    hc.prologue_len = sizeof(prologue);
    if (c->cfg.mode == SITX_AUTH_KEY) {
        hc.pattern = SITX_HS_XX;
        hc.static_sk = c->cfg.kp->sk;
    } else {
        hc.pattern = SITX_HS_NNPSK0;
        hc.psk = psk;
    }
    rc = sitx_hs_new(&c->hs, &hc);
    if (rc != 0) {
        client_fail(c, rc == SITX_E_NOMEM ? CLIENT_FAIL_NOMEM : CLIENT_FAIL_FATAL,
                    "cannot start the handshake: %s", sitx_strerror(rc));
        return;
    }
    c->state = CL_HANDSHAKE;
    client_touch(c);
    hs_advance(c);
}

/* "--verbose" says what a run paid: this, or "taken from the cache". */
static void log_derived(const struct client *c, const struct argon_job *job)
{
    char event[128];
    uint64_t ms = (uv_hrtime() - job->start_ns) / 1000000;

    if (job->mem_kib % 1024 == 0) {
        snprintf(event, sizeof(event),
                 "password: derived the key (Argon2id ops %u, %u MiB) in %llu ms",
                 (unsigned)job->ops, (unsigned)(job->mem_kib / 1024), (unsigned long long)ms);
    } else {
        snprintf(event, sizeof(event),
                 "password: derived the key (Argon2id ops %u, %u KiB) in %llu ms",
                 (unsigned)job->ops, (unsigned)job->mem_kib, (unsigned long long)ms);
    }
    sitx_log(SITX_LOG_DEBUG, event, "receiver=%s", c->cfg.label);
}

static void on_argon_done(uv_work_t *req, int status)
{
    struct argon_job *job = req->data;
    struct client *c = job->c;
    struct psk_cache *pc = c->cfg.psk_cache;

    if (status == 0 && job->rc == 0) {
        /* Kept even when the connection ended meanwhile: a receiver from
         * before version 2 refuses the HELLO at once, and the version 1
         * connection that follows needs the same key. */
        if (pc->psk == NULL) {
            pc->psk = sitx_secret_alloc(SITX_PSK_BYTES);
        }
        if (pc->psk != NULL) {
            memcpy(pc->psk, job->psk, SITX_PSK_BYTES);
            memcpy(pc->salt, job->salt, SITX_SALT_LEN);
            pc->ops = job->ops;
            pc->mem_kib = job->mem_kib;
            client_psk_derived(c);
        }
        log_derived(c, job);
    }
    if (c->state != CL_ARGON) {
        goto out; /* closed meanwhile */
    }
    if (c->pending_refusal != 0) {
        on_refusal(c, &c->pending_version, (size_t)(c->pending_refusal - 1));
        goto out;
    }
    if (status != 0 || job->rc != 0) {
        client_fail(c, CLIENT_FAIL_NOMEM, "Argon2id failed: %s",
                    status != 0 ? uv_strerror(status) : sitx_strerror(job->rc));
        goto out;
    }
    start_handshake(c, job->psk);
    client_drain_frames(c);
out:
    argon_job_free(job);
    client_unref(c);
}

static void start_argon(struct client *c, const struct sitx_greeting *g)
{
    struct argon_job *job = calloc(1, sizeof(*job));
    int rc;

    if (job == NULL || (job->psk = sitx_secret_alloc(SITX_PSK_BYTES)) == NULL) {
        free(job);
        client_fail(c, CLIENT_FAIL_NOMEM, "out of memory for Argon2id");
        return;
    }
    job->c = c;
    job->pw = c->cfg.pw;
    memcpy(job->salt, g->salt, SITX_SALT_LEN);
    job->ops = g->argon_ops;
    job->mem_kib = g->argon_mem_kib;
    job->req.data = job;
    job->start_ns = uv_hrtime();
    rc = uv_queue_work(c->loop, &job->req, on_argon_work, on_argon_done);
    if (rc != 0) {
        argon_job_free(job);
        client_fail(c, CLIENT_FAIL_FATAL, "cannot queue Argon2id: %s", uv_strerror(rc));
        return;
    }
    c->refs++;
    c->state = CL_ARGON;
    /* Nothing is due from the receiver before message 1 but its answer to
     * a HELLO it refuses: the empty frame or the version frame. */
    sitx_reader_set_limit(c->reader, 1, SITX_READER_EXACT | SITX_READER_VERSION_FRAME);
    /* One line per derivation: a --watch run shows it happens once. */
    sitx_log(SITX_LOG_DEBUG, "deriving the key", "receiver=%s kdf=argon2id ops=%u mem_kib=%u",
             c->cfg.label, (unsigned)job->ops, (unsigned)job->mem_kib);
    client_touch(c); /* no clock while we compute: the receiver is not the one who is slow */
}

static const char *mode_name(unsigned mode)
{
    return mode == SITX_AUTH_KEY ? "key" : "password";
}

void client_on_greeting(struct client *c)
{
    struct sitx_greeting g;
    struct sitx_hello h;
    const struct psk_cache *pc = c->cfg.psk_cache;
    char why[160];
    int rc;

    why[0] = '\0';
    rc = sitx_greeting_decode_err(c->greeting, &g, why, sizeof(why));
    if (rc == SITX_E_VERSION) {
        client_fail(c, CLIENT_FAIL_FATAL,
                    "%s speaks another sitx protocol version (%u, we speak %u)", c->cfg.label,
                    (unsigned)c->greeting[4], SITX_PROTO_VERSION);
        return;
    }
    if (rc != 0) {
        /* A damaged greeting is worth another try; a web server on the port
         * fails the same way each time and runs out of retries. */
        client_fail(c, CLIENT_FAIL_NETWORK, "%s did not greet like a sitx receiver (%s)",
                    c->cfg.label, why[0] != '\0' ? why : sitx_strerror(rc));
        return;
    }
    if ((g.modes & c->cfg.mode) == 0) {
        client_fail(c, CLIENT_FAIL_AUTH, "%s does not offer %s mode (it offers %s mode)",
                    c->cfg.label, mode_name(c->cfg.mode), mode_name(g.modes));
        return;
    }
    if (c->cfg.mode == SITX_AUTH_PASSWORD &&
        (g.argon_ops < SITX_ARGON_OPS_MIN || g.argon_ops > SITX_ARGON_OPS_MAX ||
         g.argon_mem_kib < SITX_ARGON_MEM_KIB_MIN || g.argon_mem_kib > SITX_ARGON_MEM_KIB_MAX)) {
        client_fail(c, CLIENT_FAIL_FATAL, "%s asks for Argon2id parameters out of range",
                    c->cfg.label);
        return;
    }
    h.version = (uint8_t)c->version;
    h.mode = (uint8_t)c->cfg.mode;
    h.flags = 0;
    sitx_hello_encode(&h, c->hello);
    if (client_queue_raw(c, c->hello, sizeof(c->hello)) != 0) {
        return;
    }
    if (c->cfg.mode == SITX_AUTH_KEY) {
        start_handshake(c, NULL);
        return;
    }
    if (pc->psk != NULL && pc->ops == g.argon_ops && pc->mem_kib == g.argon_mem_kib &&
        sodium_memcmp(pc->salt, g.salt, SITX_SALT_LEN) == 0) {
        start_handshake(c, pc->psk);
        return;
    }
    if (client_psk_from_store(c, &g)) {
        start_handshake(c, pc->psk);
        return;
    }
    /* HELLO goes out now; message 1 follows once the PSK is known. */
    if (client_submit(c) != 0) {
        return;
    }
    start_argon(c, &g);
}

static void hs_advance(struct client *c)
{
    uint8_t msg[256];
    size_t len = 0;
    int rc;

    while (c->state == CL_HANDSHAKE) {
        switch (sitx_hs_get_action(c->hs)) {
        case SITX_HS_WRITE_MESSAGE:
            rc = sitx_hs_write_message(c->hs, NULL, 0, msg + SITX_FRAME_HDR,
                                       sizeof(msg) - SITX_FRAME_HDR, &len);
            if (rc != 0) {
                client_fail(c, CLIENT_FAIL_FATAL, "handshake: %s", sitx_strerror(rc));
                return;
            }
            sitx_store_be16(msg, (uint16_t)len);
            if (client_queue_raw(c, msg, SITX_FRAME_HDR + len) != 0) {
                return;
            }
            break;
        case SITX_HS_READ_MESSAGE:
            /* Only a frame of the exact size (or the empty refusal, or after a
             * HELLO above version 1 the version frame) is read. */
            sitx_reader_set_limit(c->reader, sitx_hs_message_len(c->hs, 0),
                                  SITX_READER_EXACT |
                                      (c->version > SITX_PROTO_V1 ? SITX_READER_VERSION_FRAME : 0));
            client_submit(c);
            return;
        case SITX_HS_SPLIT:
            rc = sitx_hs_split(c->hs, &c->tx, &c->rx);
            sitx_hs_free(c->hs);
            c->hs = NULL;
            if (rc != 0) {
                client_fail(c, CLIENT_FAIL_FATAL, "handshake split: %s", sitx_strerror(rc));
                return;
            }
            sitx_reader_set_limit(c->reader, SITX_FRAME_MAX, 0);
            client_psk_taken(c); /* the receiver took message 1: the PSK is right */
            c->state = CL_READY;
            client_touch(c);
            /* Message 3 (key mode) shares a write with the first records. */
            c->cb.on_ready(c->cb.data);
            if (c->state == CL_READY) {
                client_submit(c);
            }
            return;
        case SITX_HS_FAILED:
            client_fail(c, CLIENT_FAIL_FATAL, "handshake failed");
            return;
        }
    }
}

/* The receiver's answer where message 2 is due (or, in password mode, any
 * frame before message 1 went out) was the empty or the 1-byte frame. */
static void on_refusal(struct client *c, const uint8_t *frame, size_t len)
{
    unsigned v = len == 1 ? frame[0] : 0;

    if (len == 0 && c->cfg.fallback && c->version > SITX_PROTO_V1) {
        /* A receiver from before version 2 refuses our HELLO this way; a
         * refusal of the version 1 HELLO then is what it has always been. */
        c->retry_version = SITX_PROTO_V1;
        client_fail(c, CLIENT_FAIL_VERSION, "%s refused a version %u HELLO: trying version 1",
                    c->cfg.label, c->version);
        return;
    }
    if (len == 0 && client_psk_refused(c)) {
        /* Never "wrong password" on the word of the cache alone. */
        client_fail(c, CLIENT_FAIL_STALE_KEY,
                    "%s refused the key from the key cache: deriving it again", c->cfg.label);
        return;
    }
    if (len == 0) {
        client_fail(c, CLIENT_FAIL_AUTH,
                    "%s refused the handshake: wrong password or this sender is not authorised",
                    c->cfg.label);
        return;
    }
    if (v >= SITX_PROTO_V1 && v < c->version && c->cfg.fallback) {
        c->retry_version = v;
        client_fail(c, CLIENT_FAIL_VERSION, "%s speaks sitx protocol version %u at most: trying it",
                    c->cfg.label, v);
        return;
    }
    client_fail(c, CLIENT_FAIL_FATAL,
                "%s speaks sitx protocol version %u at most, not the version %u asked for",
                c->cfg.label, v, c->version);
}

static void on_handshake_frame(struct client *c, const uint8_t *frame, size_t len)
{
    uint8_t payload[64];
    size_t plen = 0;
    char why[WHY_MAX];
    int rc;

    if (len <= 1) {
        on_refusal(c, frame, len);
        return;
    }
    rc = sitx_hs_read_message(c->hs, frame, len, payload, sizeof(payload), &plen);
    if (rc != 0) {
        /* Only a changed byte on the way does this to a genuine receiver. */
        client_fail(c, CLIENT_FAIL_NETWORK, "handshake with %s failed: %s", c->cfg.label,
                    sitx_strerror(rc));
        return;
    }
    if (plen != 0) {
        client_fail(c, CLIENT_FAIL_NETWORK, "handshake with %s carried a payload", c->cfg.label);
        return;
    }
    if (c->cfg.mode == SITX_AUTH_KEY && !c->have_remote_pk &&
        sitx_hs_remote_static(c->hs, c->remote_pk) == 0) {
        c->have_remote_pk = 1;
        why[0] = '\0';
        /* Pinning happens before message 3: an impostor never learns who we are. */
        if (c->cb.check_receiver(c->cb.data, c->remote_pk, why, sizeof(why)) != 0) {
            client_fail(c, CLIENT_FAIL_AUTH, "%s", why);
            return;
        }
    }
    hs_advance(c);
}

static void on_close_record(struct client *c, const struct sitx_close *m)
{
    const char *sep = m->message[0] != '\0' ? ": " : "";

    if (m->reason == SITX_CLOSE_UNAUTHORIZED) {
        char fp[SITX_FINGERPRINT_LEN + 1] = "";

        if (c->cfg.kp != NULL) {
            sitx_fingerprint(c->cfg.kp->pk, fp);
        }
        client_fail(c, CLIENT_FAIL_AUTH,
                    "%s does not authorise this sender's key (fingerprint %s)%s%s", c->cfg.label,
                    fp, sep, m->message);
        return;
    }
    /* SHUTDOWN, BUSY, TIMEOUT, PROTOCOL (it may have seen a damaged record): retry;
     * BUSY says no offer was looked at. */
    client_fail(c, m->reason == SITX_CLOSE_BUSY ? CLIENT_FAIL_BUSY : CLIENT_FAIL_NETWORK,
                "%s closed the connection: %s%s%s", c->cfg.label, sitx_close_reason_name(m->reason),
                sep, m->message);
}

static void on_transport_frame(struct client *c, uint8_t *frame, size_t len)
{
    struct sitx_record rec;
    char why[128];
    size_t rec_len = 0;
    int rc;

    if (len == 0 && !c->got_record) {
        /* The receiver's "refused" (PROTOCOL.md §4) where our first record
         * was due: it did not accept the handshake's last message, which from
         * a genuine sender only a changed byte on the way does. Retried. */
        client_fail(c, CLIENT_FAIL_NETWORK,
                    c->cfg.mode == SITX_AUTH_KEY
                        ? "%s refused handshake message 3 (it did not verify there; damaged on "
                          "the way?)"
                        : "%s refused the connection at the end of the handshake",
                    c->cfg.label);
        return;
    }
    c->got_record = 1;
    if (len < MIN_FRAME) {
        client_fail(c, CLIENT_FAIL_NETWORK, "%s sent a frame of %zu bytes", c->cfg.label, len);
        return;
    }
    rc = sitx_transport_open(c->rx, frame, len, frame, len, &rec_len);
    if (rc != 0) {
        client_fail(c, CLIENT_FAIL_NETWORK, "a record from %s failed to authenticate",
                    c->cfg.label);
        return;
    }
    why[0] = '\0';
    rc = sitx_record_decode_v(frame, rec_len, c->version, &rec, why, sizeof(why));
    if (rc != 0) {
        client_fail(c, CLIENT_FAIL_NETWORK, "%s sent a malformed record: %s", c->cfg.label,
                    why[0] != '\0' ? why : sitx_strerror(rc));
        return;
    }
    if (rec.type == SITX_REC_CLOSE) {
        on_close_record(c, &rec.u.close);
        return;
    }
    c->cb.on_record(c->cb.data, &rec);
}

void client_drain_frames(struct client *c)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc;

    while (c->state == CL_ARGON || c->state == CL_HANDSHAKE || c->state == CL_READY) {
        rc = sitx_reader_next(c->reader, &frame, &len);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            client_fail(c, CLIENT_FAIL_NETWORK, "%s: %s", c->cfg.label,
                        sitx_reader_errstr(c->reader));
            return;
        }
        if (c->state == CL_ARGON) {
            /* The reader lets nothing else through. Acted on once the PSK
             * is derived, so the connection that may follow has it. */
            c->pending_refusal = 1 + (int)len;
            c->pending_version = len == 1 ? frame[0] : 0;
            return;
        } else if (c->state == CL_HANDSHAKE) {
            on_handshake_frame(c, frame, len);
        } else {
            on_transport_frame(c, frame, len);
        }
    }
}
