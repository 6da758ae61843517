/* One connection of the run: OFFER, then DATA and END once ACCEPT comes,
 * the next OFFER right after END (one offer outstanding behind the one
 * being stored), RESULTs matched by transfer id; and when the connection
 * ends, what that means for the images it carried. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "known.h"
#include "log.h"
#include "record.h"
#include "send_int.h"

/* Wrong prefixes re-offered without charging an attempt; past this a
 * CANCELLED counts like any other failure. */
#define RESUME_REFUSED_MAX 2

/* Images smaller than this say more about the send buffer than the link. */
#define LINK_SAMPLE_MIN ((size_t)512 * 1024)

void conn_inflight_remove(struct conn *k, struct image *im)
{
    size_t i;

    for (i = 0; i < k->n_inflight; i++) {
        if (k->inflight[i] == im) {
            k->inflight[i] = k->inflight[k->n_inflight - 1];
            k->n_inflight--;
            break;
        }
    }
    if (k->cur == im) {
        k->cur = NULL;
    }
    im->conn = NULL;
}

int conn_has_room(const struct conn *k)
{
    return k->client != NULL && k->ready && k->cur == NULL && k->n_inflight < INFLIGHT_MAX;
}

static void bar_end(struct send_ctx *s, const struct image *im)
{
    if (s->bar == im) {
        report_progress_end(s->rep);
        s->bar = NULL;
    }
}

/* Forgets the client and hands back the images it carried, unresolved. */
static size_t detach(struct conn *k, struct image **list)
{
    size_t n = k->n_inflight;
    size_t i;

    memcpy(list, k->inflight, n * sizeof(*list));
    for (i = 0; i < n; i++) {
        list[i]->conn = NULL;
        bar_end(k->s, list[i]);
    }
    k->client = NULL;
    k->ready = 0;
    k->cur = NULL;
    k->n_inflight = 0;
    k->measuring = NULL;
    return n;
}

void conn_close(struct conn *k, int reason, const char *message)
{
    struct image *list[INFLIGHT_MAX];

    if (k->client == NULL) {
        return;
    }
    client_close(k->client, reason, message);
    detach(k, list);
}

/* A connection failed before the receiver served anything on it: again
 * after a backoff, until --timeout has gone by since the first such
 * failure; then the run ends saying what the receiver did. */
static void connection_retry(struct send_ctx *s, enum client_fail kind, const char *why)
{
    char msg[SEND_ERROR_MAX];
    uint64_t now = run_now(s);
    uint64_t elapsed = now - s->streak_ms;
    uint64_t delay = 0;

    s->conn_failures++;
    if (retry_connect(elapsed, s->conn_failures, s->cfg->timeout_ms, randombytes_random(),
                      &delay)) {
        s->conn_due_ms = now + delay;
        sitx_log(SITX_LOG_DEBUG, "reconnect", "attempt=%u delay_ms=%" PRIu64, s->conn_failures,
                 delay);
        return;
    }
    retry_summary(kind == CLIENT_FAIL_BUSY      ? "receiver busy: "
                  : kind == CLIENT_FAIL_REFUSED ? "receiver refusing connections: "
                                                : "",
                  why, s->conn_failures, elapsed, msg, sizeof(msg));
    report_error(s->rep, "%s", msg);
    run_set_fatal(s, OUTCOME_NETWORK, msg);
}

static void learn_version(struct send_ctx *s, unsigned version);

static void connection_lost(struct conn *k, enum client_fail kind, const char *why)
{
    struct send_ctx *s = k->s;
    struct image *list[INFLIGHT_MAX];
    char quoted[SEND_ERROR_MAX + 64];
    size_t n = detach(k, list);
    size_t charged = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        struct image *im = list[i];

        if (kind == CLIENT_FAIL_BUSY && !im->early && im->valid >= 0 && im->state == IMG_OFFERED) {
            image_requeue(s, im); /* refused unseen: not an attempt */
            continue;
        }
        charged++;
        if (im->early) {
            /* Its fate was already decided; only the tail of DATA was lost. */
            im->early = 0;
            image_apply_result(s, im, &k->early_res);
        } else if (im->valid < 0) {
            image_finish(s, im, OUTCOME_LOCAL, "LOCAL_ERROR", im->error);
        } else if (s->interrupts > 0) {
            /* Ctrl-C: no new attempt; say what ended this one. */
            snprintf(quoted, sizeof(quoted), "the connection was lost after the interrupt: %s",
                     why);
            image_interrupted(s, im, quoted);
        } else {
            image_retry(s, im, 0, "NETWORK_ERROR", why);
        }
    }
    switch (kind) {
    case CLIENT_FAIL_AUTH:
        report_error(s->rep, "authentication failed: %s", why);
        run_set_fatal(s, OUTCOME_AUTH, why);
        break;
    case CLIENT_FAIL_FATAL:
        report_error(s->rep, "%s", why);
        run_set_fatal(s, OUTCOME_NETWORK, why);
        break;
    case CLIENT_FAIL_NOMEM:
        report_error(s->rep, "%s", why);
        run_set_fatal(s, OUTCOME_INTERNAL, why);
        break;
    case CLIENT_FAIL_VERSION:
        /* Not a failure of the receiver: the next connection asks for the
         * version it speaks, at once. */
        sitx_log(SITX_LOG_DEBUG, "protocol fallback", "receiver=%s version=%u why=%s",
                 s->cfg->label, s->version, sitx_log_quote(why, quoted, sizeof(quoted)));
        s->conn_due_ms = run_now(s);
        break;
    case CLIENT_FAIL_STALE_KEY:
        /* A key from the cache was refused (client_psk.c); the next
         * connection derives it. What the refusals taught about the
         * version may be wrong too: a version 2 receiver refusing the key
         * looks like a version 1 one refusing the HELLO. Asked afresh. */
        sitx_log(SITX_LOG_DEBUG, "stale cached key", "receiver=%s why=%s", s->cfg->label,
                 sitx_log_quote(why, quoted, sizeof(quoted)));
        if (s->cfg->protocol == 0) {
            learn_version(s, 0);
        }
        s->conn_due_ms = run_now(s);
        break;
    case CLIENT_FAIL_NETWORK:
    case CLIENT_FAIL_BUSY:
    case CLIENT_FAIL_REFUSED:
        sitx_log(SITX_LOG_DEBUG, "connection lost", "receiver=%s why=%s", s->cfg->label,
                 sitx_log_quote(why, quoted, sizeof(quoted)));
        if (charged > 0) {
            break; /* the images it carried pay for it, each with its backoff */
        }
        connection_retry(s, kind, why);
        break;
    }
}

/* The version the receiver speaks, for every later connection of the run
 * (and of later runs, --watch). */
static void learn_version(struct send_ctx *s, unsigned version)
{
    s->version = version;
    if (s->cfg->learnt_version != NULL) {
        *s->cfg->learnt_version = version;
    }
}

static void on_fail(void *data, enum client_fail kind, int ready, const char *why)
{
    struct conn *k = data;

    (void)ready;
    if (kind == CLIENT_FAIL_VERSION) {
        learn_version(k->s, client_retry_version(k->client));
    }
    connection_lost(k, kind, why);
    run_step(k->s);
}

/* The receiver broke the protocol: tell it, drop the connection, retry. */
static void violation(struct conn *k, const char *why)
{
    char msg[SITX_TEXT_MAX + 1];

    snprintf(msg, sizeof(msg), "%s", why);
    client_close(k->client, SITX_CLOSE_PROTOCOL, msg);
    connection_lost(k, CLIENT_FAIL_NETWORK, why);
    run_step(k->s);
}

static int check_receiver(void *data, const uint8_t pk[SITX_KEY_BYTES], char *why, size_t why_len)
{
    struct send_ctx *s = ((struct conn *)data)->s;
    char want[SITX_FINGERPRINT_LEN + 1];
    char got[SITX_FINGERPRINT_LEN + 1];
    int rc;

    sitx_fingerprint(pk, got);
    if (s->have_pin) {
        if (sodium_memcmp(pk, s->pin, SITX_KEY_BYTES) == 0) {
            return 0;
        }
        sitx_fingerprint(s->pin, want);
        snprintf(why, why_len,
                 "receiver key mismatch for %s: expected fingerprint %s, got %s "
                 "(if the receiver's key changed on purpose, update the pinned key)",
                 s->cfg->label, want, got);
        return 1;
    }
    /* Trust on first use, asked for with --tofu: record and pin it. */
    memcpy(s->pin, pk, SITX_KEY_BYTES);
    s->have_pin = 1;
    rc = known_add(s->cfg->known_path, s->cfg->label, pk);
    if (rc != 0) {
        report_error(s->rep, "cannot record the key of %s in %s: %s (continuing)", s->cfg->label,
                     s->cfg->known_path, sitx_strerror(rc));
    } else {
        report_error(s->rep, "trusting %s on first use: key fingerprint %s, recorded in %s",
                     s->cfg->label, got, s->cfg->known_path);
    }
    return 0;
}

static void on_ready(void *data)
{
    struct conn *k = data;
    struct send_ctx *s = k->s;

    k->ready = 1;
    learn_version(s, client_version(k->client));
    sitx_log(SITX_LOG_DEBUG, "connected", "receiver=%s mode=%s conn=%u protocol=%u", s->cfg->label,
             s->cfg->mode == SITX_AUTH_KEY ? "key" : "password", (unsigned)(k - s->conns),
             s->version);
    run_step(s);
}

static struct image *inflight_find(struct conn *k, const uint8_t *id)
{
    size_t i;

    for (i = 0; i < k->n_inflight; i++) {
        if (memcmp(k->inflight[i]->id, id, SITX_TRANSFER_ID_BYTES) == 0) {
            return k->inflight[i];
        }
    }
    return NULL;
}

/* The receiver holds a prefix that is not ours (the file changed, or its
 * copy did): withdraw this attempt with CANCEL LOCAL, so it drops the
 * prefix, and offer again once its RESULT says CANCELLED. */
static int withdraw_prefix(struct conn *k, struct image *im)
{
    im->resume_refused++;
    im->withdrawn = 1;
    return conn_send_cancel(k, im, SITX_CANCEL_LOCAL, "resume prefix differs");
}

/* Version 2: where DATA starts. A resume must prove that the receiver's
 * bytes are ours: the hash of our own payload up to the offset. Returns 1
 * to stream from a->offset, 0 when the attempt was withdrawn, -1 after a
 * violation. */
static int check_resume(struct conn *k, struct image *im, const struct sitx_accept *a)
{
    uint8_t mine[SITX_CONTENT_HASH_BYTES];
    int same;

    if (a->offset == 0) {
        return 1;
    }
    if (client_version(k->client) < SITX_PROTO_V2 || a->offset > im->len) {
        violation(k, "ACCEPT with an offset past the image");
        return -1;
    }
    sitx_content_hash(mine, im->payload, (size_t)a->offset);
    same = sodium_memcmp(mine, a->prefix_hash, sizeof(mine)) == 0;
    sodium_memzero(mine, sizeof(mine));
    if (same) {
        return 1;
    }
    sitx_log(SITX_LOG_DEBUG, "resume prefix differs", "file=%s offset=%" PRIu64, im->name,
             a->offset);
    if (withdraw_prefix(k, im) != 0) {
        return -1; /* the connection failed under us; on_fail has run */
    }
    return 0;
}

static void on_accept(struct conn *k, const struct sitx_accept *a)
{
    struct send_ctx *s = k->s;
    struct image *im = k->cur;
    int rc;

    if (im == NULL || im->state != IMG_OFFERED ||
        memcmp(im->id, a->id, SITX_TRANSFER_ID_BYTES) != 0) {
        violation(k, "ACCEPT for no pending offer");
        return;
    }
    rc = check_resume(k, im, a);
    if (rc <= 0) {
        if (rc == 0) {
            run_step(s);
        }
        return;
    }
    image_set_state(s, im, IMG_STREAMING);
    im->queued = a->offset;
    im->resumed_from = a->offset;
    if (a->offset > 0) {
        sitx_log(SITX_LOG_DEBUG, "resume", "file=%s offset=%" PRIu64 " bytes=%zu", im->name,
                 a->offset, im->len);
    }
    im->stream_start_ns = uv_hrtime();
    if (s->bar == NULL) {
        s->bar = im;
        report_progress_start(s->rep, im->path, im->len, run_now(s));
    }
    run_step(s);
}

static void on_result(struct conn *k, const struct sitx_result *res)
{
    struct send_ctx *s = k->s;
    struct image *im = inflight_find(k, res->id);

    if (im == NULL) {
        violation(k, "RESULT for an unknown transfer");
        return;
    }
    sitx_log(SITX_LOG_DEBUG, "result", "file=%s status=%s receiver_ms=%" PRIu32, im->name,
             sitx_status_name(res->status), res->ms);
    if (im->state == IMG_STREAMING) {
        /* Decided before END (say a TIMEOUT): DATA still has to run out, so
         * the stream stays in step; the outcome is applied after END. */
        im->early = 1;
        k->early_res = *res;
        return;
    }
    conn_inflight_remove(k, im);
    if (im->withdrawn) {
        im->withdrawn = 0;
        if (res->status == SITX_ST_CANCELLED && im->resume_refused <= RESUME_REFUSED_MAX) {
            /* Our own withdrawal of a wrong prefix, not a failure: the
             * receiver dropped its copy and takes the image from 0. */
            image_requeue(s, im);
            run_step(s);
            return;
        }
    }
    image_apply_result(s, im, res);
    run_step(s);
}

static void on_record(void *data, const struct sitx_record *rec)
{
    struct conn *k = data;
    char why[64];

    /* Served: a receiver that closes right after the handshake (busy with
     * authenticated senders) still counts as failing until it answers. */
    k->s->conn_failures = 0;

    switch (rec->type) {
    case SITX_REC_ACCEPT:
        on_accept(k, &rec->u.accept);
        return;
    case SITX_REC_RESULT:
        on_result(k, &rec->u.result);
        return;
    default:
        snprintf(why, sizeof(why), "unexpected %s record", sitx_rec_type_name(rec->type));
        violation(k, why);
        return;
    }
}

/* The link speed, for lossless compression's "does it pay": an image's
 * bytes over the time from ACCEPT until the socket took its last byte,
 * times the connections streaming beside it (they share the link). The
 * best figure of the run is kept: a receiver busy validating slows a
 * stream without the link being slow, and mistaking that for a slow link
 * would spend seconds of CPU on recompression that cannot pay (it did on
 * loopback). The kernel's send buffer makes it an overestimate too, so
 * compression is only chosen on links that are clearly slow. */
static void measure_link(struct conn *k)
{
    struct image *im = k->measuring;
    struct send_ctx *s = k->s;
    unsigned sharing = 1;
    uint64_t ns, bps;
    size_t i;

    if (im == NULL || k->client == NULL || client_queued(k->client) != 0) {
        return;
    }
    k->measuring = NULL;
    ns = uv_hrtime() - im->stream_start_ns;
    if (ns == 0) {
        return;
    }
    for (i = 0; i < CONN_MAX; i++) {
        sharing += &s->conns[i] != k && s->conns[i].measuring != NULL;
    }
    bps = (uint64_t)((double)(im->len - im->resumed_from) * 1e9 / (double)ns * sharing);
    if (bps > s->link_bps) {
        s->link_bps = bps;
    }
    sitx_log(SITX_LOG_DEBUG, "link", "bytes_per_sec=%" PRIu64, k->s->link_bps);
}

static void on_drain(void *data)
{
    struct conn *k = data;

    measure_link(k);
    run_step(k->s);
}

void conn_connect(struct conn *k)
{
    struct send_ctx *s = k->s;
    struct client_config cc;
    struct client_callbacks cb;
    int rc;

    memset(&cc, 0, sizeof(cc));
    cc.host = s->cfg->host;
    cc.port = s->cfg->port;
    cc.label = s->cfg->label;
    cc.mode = s->cfg->mode;
    cc.kp = s->cfg->kp;
    cc.pw = s->cfg->pw;
    cc.psk_cache = &s->psk;
    cc.timeout_ms = s->cfg->timeout_ms;
    if (s->version == 0 && s->cfg->learnt_version != NULL) {
        s->version = *s->cfg->learnt_version;
    }
    /* Forced, known, or version 2 with a way back. */
    cc.version = s->cfg->protocol != 0 ? s->cfg->protocol
                 : s->version != 0     ? s->version
                                       : SITX_PROTO_V2;
    cc.fallback = s->cfg->protocol == 0 && s->version == 0;
    memset(&cb, 0, sizeof(cb));
    cb.data = k;
    cb.check_receiver = check_receiver;
    cb.on_ready = on_ready;
    cb.on_record = on_record;
    cb.on_drain = on_drain;
    cb.on_fail = on_fail;
    sitx_log(SITX_LOG_DEBUG, "connecting", "receiver=%s conn=%u", s->cfg->label,
             (unsigned)(k - s->conns));
    if (s->conn_failures == 0) {
        s->streak_ms = run_now(s); /* a new run of failures would start here */
    }
    /* client_start sets k->client before any callback, so an early on_fail
     * finds it and clears it. */
    rc = client_start(&s->loop, &cc, &cb, &k->client);
    if (rc != 0) {
        k->client = NULL;
        report_error(s->rep, "cannot start a connection: %s", sitx_strerror(rc));
        run_set_fatal(s, OUTCOME_INTERNAL, sitx_strerror(rc));
    }
}

static int send_offer(struct conn *k, struct image *im)
{
    struct send_ctx *s = k->s;
    struct sitx_offer o;
    uint8_t rec[1 + 16 + 1 + 8 + 32 + 2 + SITX_NAME_MAX + 16];
    size_t len = 0;
    int rc;

    memset(&o, 0, sizeof(o));
    memcpy(o.id, im->id, sizeof(o.id));
    o.format = (uint8_t)im->format;
    o.size = im->len;
    memcpy(o.hash, im->hash, sizeof(o.hash));
    memcpy(o.name, im->name, sizeof(o.name));
    rc = sitx_offer_encode(&o, rec, sizeof(rec), &len);
    if (rc != 0) {
        image_finish(s, im, OUTCOME_INTERNAL, "INTERNAL_ERROR", "cannot encode the offer");
        return 0;
    }
    rc = client_send_record(k->client, rec, len);
    if (rc != 0) {
        ready_push(s, im, 0); /* the connection failed under us; on_fail has run */
        return rc;
    }
    im->attempts++;
    if (im->first_offer_ms == 0) {
        im->first_offer_ms = run_now(s);
    }
    image_set_state(s, im, IMG_OFFERED);
    im->conn = k;
    k->inflight[k->n_inflight++] = im;
    k->cur = im;
    sitx_log(SITX_LOG_DEBUG, "offer", "file=%s bytes=%zu attempt=%u conn=%u", im->name, im->len,
             im->attempts, (unsigned)(k - s->conns));
    return 0;
}

/* What a streamed image becomes once its last record (END or CANCEL) is queued. */
static void stream_ended(struct conn *k, struct image *im)
{
    struct send_ctx *s = k->s;

    image_set_state(s, im, IMG_ENDED);
    k->cur = NULL;
    bar_end(s, im);
    if (im->early) {
        im->early = 0;
        conn_inflight_remove(k, im);
        image_apply_result(s, im, &k->early_res);
    }
}

int conn_send_cancel(struct conn *k, struct image *im, uint8_t reason, const char *why)
{
    struct sitx_cancel m;
    uint8_t rec[1 + SITX_TRANSFER_ID_BYTES + 1 + 2 + SITX_TEXT_MAX];
    size_t len = 0;
    size_t i;
    int rc;

    memset(&m, 0, sizeof(m));
    memcpy(m.id, im->id, sizeof(m.id));
    m.reason = reason;
    /* A local error may quote anything; the wire wants UTF-8, ASCII does. */
    for (i = 0; why != NULL && why[i] != '\0' && i < SITX_TEXT_MAX; i++) {
        m.message[i] = why[i] >= 0x20 && why[i] < 0x7f ? why[i] : '?';
    }
    rc = sitx_cancel_encode(&m, rec, sizeof(rec), &len);
    if (rc == 0) {
        rc = client_send_record(k->client, rec, len);
    }
    if (rc != 0) {
        return rc;
    }
    sitx_log(SITX_LOG_DEBUG, "cancel", "file=%s reason=%s queued=%" PRIu64, im->name,
             sitx_cancel_reason_name(reason), im->queued);
    stream_ended(k, im);
    return 0;
}

/* Queues DATA until the write queue is full, then END once all is queued
 * and our own decode has passed. */
static int stream_data(struct conn *k, struct image *im)
{
    struct send_ctx *s = k->s;
    struct sitx_end e;
    uint8_t rec[1 + SITX_CONTENT_HASH_BYTES];
    size_t len = 0;
    int rc;

    if (im->valid < 0 && client_version(k->client) >= SITX_PROTO_V2) {
        /* Our own decode failed: withdraw it, the rest of DATA is not needed. */
        return conn_send_cancel(k, im, SITX_CANCEL_LOCAL, im->error);
    }
    if (s->interrupts > 0 && client_version(k->client) >= SITX_PROTO_V2) {
        /* Ctrl-C: version 1 has no way to stop an image, so there it runs on. */
        im->interrupted = 1;
        return conn_send_cancel(k, im, SITX_CANCEL_INTERRUPTED, "interrupted by the user");
    }

    while (im->queued < im->len && client_queued(k->client) < CLIENT_QUEUE_HIGH) {
        size_t n = im->len - im->queued;

        if (n > SITX_DATA_MAX) {
            n = SITX_DATA_MAX;
        }
        rc = client_send_data(k->client, im->payload + im->queued, n);
        if (rc != 0) {
            return rc;
        }
        im->queued += n;
        im->bytes_sent += n;
    }
    if (s->bar == im) {
        report_progress_update(s->rep, im->queued, run_now(s));
    }
    if (im->queued < im->len || im->valid == 0) {
        return 0; /* more to queue, or END waits for our decode */
    }
    memcpy(e.hash, im->hash, sizeof(e.hash));
    if (im->valid < 0) {
        /* Version 1 has no CANCEL: an END whose hash cannot match makes
         * the receiver discard what it got (INTEGRITY) while the
         * connection, and any other image on it, carries on. */
        size_t i;

        for (i = 0; i < sizeof(e.hash); i++) {
            e.hash[i] = (uint8_t)~e.hash[i];
        }
        sitx_log(SITX_LOG_DEBUG, "withdraw", "file=%s", im->name);
    }
    rc = sitx_end_encode(&e, rec, sizeof(rec), &len);
    if (rc == 0) {
        rc = client_send_record(k->client, rec, len);
    }
    if (rc != 0) {
        return rc;
    }
    if (im->len >= LINK_SAMPLE_MIN) {
        k->measuring = im;
    }
    stream_ended(k, im);
    return 0;
}

void conn_pump(struct conn *k)
{
    struct send_ctx *s = k->s;
    struct image *im;
    size_t held;

    while (k->client != NULL && k->ready) {
        if (k->cur != NULL && k->cur->state == IMG_STREAMING) {
            if (stream_data(k, k->cur) != 0) {
                return;
            }
            if (k->cur != NULL) {
                break; /* the write queue is full, or END waits: a callback brings us back */
            }
            continue;
        }
        if (!conn_has_room(k)) {
            break;
        }
        im = ready_pop_due(s, run_now(s));
        if (im == NULL) {
            break;
        }
        if (send_offer(k, im) != 0) {
            return;
        }
    }
    if (k->client == NULL || !k->ready) {
        return;
    }
    /* An END held for our own decode is not the receiver's silence. */
    held = k->cur != NULL && k->cur->state == IMG_STREAMING && k->cur->queued == k->cur->len &&
           k->cur->valid == 0;
    client_set_waiting(k->client, k->n_inflight > held);
    client_flush(k->client);
}
