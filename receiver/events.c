/* The store the web side reads: inbox listing, recent events, counters.
 * Everything is under one mutex; renderings copy out under it. */
#include "events.h"

#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "err.h"
#include "json.h"

/* Distinct handshake failure reasons counted apart; the rest go to "other". */
#define AUTH_REASONS_MAX 16
/* Room for one JSON object of an image or an event (names are escaped, so
 * one byte of a name may take six). */
#define JSON_ITEM_MAX 4096

static const double hist_le[EVENTS_HIST_BUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,   0.25,  0.5,  1.0,   2.5};

struct auth_reason {
    char reason[48];
    uint64_t count;
};

struct recv_events {
    pthread_mutex_t lock;
    struct events_image *images; /* oldest first */
    size_t n_images;
    struct events_event ring[EVENTS_RING];
    size_t ring_len;
    size_t ring_head; /* index of the oldest */
    uint64_t seq;     /* last assigned */

    uint64_t stored;
    uint64_t stored_bytes;
    uint64_t already;
    uint64_t refused[256]; /* by wire status */
    struct auth_reason auth[AUTH_REASONS_MAX];
    uint64_t auth_other;
    struct auth_reason conn_refused[AUTH_REASONS_MAX];
    uint64_t conn_refused_other;
    uint64_t aborted;
    uint64_t cancelled;
    uint64_t bytes_received;
    uint64_t connections_open;
    uint64_t hist[EVENTS_HIST_BUCKETS];
    uint64_t hist_count;
    double hist_sum;
};

int events_new(struct recv_events **out)
{
    struct recv_events *ev = calloc(1, sizeof(*ev));

    *out = NULL;
    if (ev == NULL) {
        return SITX_E_NOMEM;
    }
    ev->images = calloc(EVENTS_IMAGES_MAX, sizeof(*ev->images));
    if (ev->images == NULL || pthread_mutex_init(&ev->lock, NULL) != 0) {
        free(ev->images);
        free(ev);
        return SITX_E_NOMEM;
    }
    *out = ev;
    return 0;
}

void events_free(struct recv_events *ev)
{
    if (ev == NULL) {
        return;
    }
    pthread_mutex_destroy(&ev->lock);
    free(ev->images);
    free(ev);
}

void events_add_image(struct recv_events *ev, const struct events_image *img)
{
    pthread_mutex_lock(&ev->lock);
    for (size_t i = 0; i < ev->n_images; i++) {
        if (strcmp(ev->images[i].name, img->name) == 0) {
            memmove(&ev->images[i], &ev->images[i + 1],
                    (ev->n_images - i - 1) * sizeof(*ev->images));
            ev->n_images--;
            break;
        }
    }
    if (ev->n_images == EVENTS_IMAGES_MAX) {
        memmove(&ev->images[0], &ev->images[1], (ev->n_images - 1) * sizeof(*ev->images));
        ev->n_images--;
    }
    ev->images[ev->n_images++] = *img;
    pthread_mutex_unlock(&ev->lock);
}

/* Counts reason in a table of AUTH_REASONS_MAX words; past that, in *other. */
static void count_reason(struct auth_reason *table, uint64_t *other, const char *reason)
{
    for (size_t i = 0; i < AUTH_REASONS_MAX; i++) {
        if (table[i].reason[0] == '\0') {
            snprintf(table[i].reason, sizeof(table[i].reason), "%s", reason);
        }
        if (strcmp(table[i].reason, reason) == 0) {
            table[i].count++;
            return;
        }
    }
    (*other)++;
}

void events_add_event(struct recv_events *ev, struct events_event *e)
{
    size_t slot;

    pthread_mutex_lock(&ev->lock);
    e->seq = ++ev->seq;
    switch (e->kind) {
    case EV_STORED:
        ev->stored++;
        ev->stored_bytes += e->size;
        break;
    case EV_ALREADY_STORED:
        ev->already++;
        break;
    case EV_REFUSED:
        ev->refused[e->status]++;
        break;
    case EV_AUTH_FAILED:
        count_reason(ev->auth, &ev->auth_other, e->reason);
        break;
    case EV_CONN_REFUSED:
        count_reason(ev->conn_refused, &ev->conn_refused_other, e->reason);
        break;
    case EV_CANCELLED:
        ev->cancelled++;
        break;
    case EV_ABORTED:
        ev->aborted++;
        break;
    }
    if (ev->ring_len < EVENTS_RING) {
        slot = (ev->ring_head + ev->ring_len) % EVENTS_RING;
        ev->ring_len++;
    } else {
        slot = ev->ring_head;
        ev->ring_head = (ev->ring_head + 1) % EVENTS_RING;
    }
    ev->ring[slot] = *e;
    pthread_mutex_unlock(&ev->lock);
}

void events_count_bytes(struct recv_events *ev, uint64_t n)
{
    pthread_mutex_lock(&ev->lock);
    ev->bytes_received += n;
    pthread_mutex_unlock(&ev->lock);
}

void events_set_connections(struct recv_events *ev, uint64_t open)
{
    pthread_mutex_lock(&ev->lock);
    ev->connections_open = open;
    pthread_mutex_unlock(&ev->lock);
}

void events_count_validation(struct recv_events *ev, double seconds)
{
    pthread_mutex_lock(&ev->lock);
    for (size_t i = 0; i < EVENTS_HIST_BUCKETS; i++) {
        if (seconds <= hist_le[i]) {
            ev->hist[i]++;
        }
    }
    ev->hist_count++;
    ev->hist_sum += seconds;
    pthread_mutex_unlock(&ev->lock);
}

int events_find_image(struct recv_events *ev, const char *name, struct events_image *out)
{
    int found = 0;

    pthread_mutex_lock(&ev->lock);
    for (size_t i = ev->n_images; i > 0; i--) {
        if (strcmp(ev->images[i - 1].name, name) == 0) {
            *out = ev->images[i - 1];
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&ev->lock);
    return found;
}

void events_format_time(int64_t t, char *buf, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, cap, "?");
    }
}

static int put(struct sitx_buf *out, const char *s)
{
    return sitx_buf_append(out, s, strlen(s));
}

static void json_image(const struct events_image *img, char *buf, size_t cap)
{
    struct sitx_json j;
    char hex[SITX_CONTENT_HASH_BYTES * 2 + 1];
    char when[32];

    sodium_bin2hex(hex, sizeof(hex), img->hash, sizeof(img->hash));
    events_format_time(img->time, when, sizeof(when));
    sitx_json_begin(&j, buf, cap);
    sitx_json_str(&j, "name", img->name);
    sitx_json_u64(&j, "size", img->size);
    sitx_json_str(&j, "format", img->format);
    sitx_json_u64(&j, "width", img->width);
    sitx_json_u64(&j, "height", img->height);
    sitx_json_str(&j, "sender", img->sender[0] != '\0' ? img->sender : NULL);
    sitx_json_str(&j, "fingerprint", img->fingerprint);
    sitx_json_str(&j, "received", when);
    sitx_json_i64(&j, "received_unix", img->time);
    sitx_json_str(&j, "hash", hex);
    (void)sitx_json_end(&j);
}

int events_images_json(struct recv_events *ev, struct sitx_buf *out)
{
    struct events_image *copy = NULL;
    char item[JSON_ITEM_MAX];
    char head[64];
    size_t n;
    int rc;

    out->len = 0;
    /* Copy under the lock, render outside it: the loop's hooks never wait
     * for a whole listing to be escaped. */
    pthread_mutex_lock(&ev->lock);
    n = ev->n_images;
    copy = n > 0 ? malloc(n * sizeof(*copy)) : NULL;
    if (copy != NULL) {
        memcpy(copy, ev->images, n * sizeof(*copy));
    }
    pthread_mutex_unlock(&ev->lock);
    if (n > 0 && copy == NULL) {
        return SITX_E_NOMEM;
    }
    snprintf(head, sizeof(head), "{\"count\":%zu,\"images\":[", n);
    rc = put(out, head);
    for (size_t i = n; rc == 0 && i > 0; i--) {
        json_image(&copy[i - 1], item, sizeof(item));
        rc = put(out, i == n ? "" : ",");
        if (rc == 0) {
            rc = put(out, item);
        }
    }
    free(copy);
    return rc == 0 ? put(out, "]}\n") : rc;
}

static const char *kind_name(enum events_kind k)
{
    switch (k) {
    case EV_STORED:
        return "stored";
    case EV_ALREADY_STORED:
        return "already-stored";
    case EV_REFUSED:
        return "refused";
    case EV_AUTH_FAILED:
        return "auth-failed";
    case EV_CONN_REFUSED:
        return "connection-refused";
    case EV_ABORTED:
        return "aborted";
    case EV_CANCELLED:
        return "cancelled";
    }
    return "?";
}

static void json_event(const struct events_event *e, char *buf, size_t cap)
{
    struct sitx_json j;
    char when[32];
    int image = e->kind != EV_AUTH_FAILED && e->kind != EV_CONN_REFUSED;

    events_format_time(e->time, when, sizeof(when));
    sitx_json_begin(&j, buf, cap);
    sitx_json_u64(&j, "seq", e->seq);
    sitx_json_str(&j, "kind", kind_name(e->kind));
    sitx_json_str(&j, "time", when);
    sitx_json_i64(&j, "time_unix", e->time);
    sitx_json_str(&j, "status",
                  image && e->kind != EV_ABORTED ? sitx_status_name(e->status) : NULL);
    sitx_json_str(&j, "reason", e->reason[0] != '\0' ? e->reason : NULL);
    sitx_json_str(&j, "name", image ? e->name : NULL);
    if (image) {
        sitx_json_u64(&j, "size", e->size);
    }
    sitx_json_str(&j, "peer", e->peer);
    sitx_json_str(&j, "sender", e->sender[0] != '\0' ? e->sender : NULL);
    sitx_json_str(&j, "fingerprint", e->fingerprint[0] != '\0' ? e->fingerprint : NULL);
    sitx_json_str(&j, "message", e->message);
    (void)sitx_json_end(&j);
}

int events_events_json(struct recv_events *ev, uint64_t since, unsigned limit, struct sitx_buf *out)
{
    char item[JSON_ITEM_MAX];
    char head[64];
    unsigned n = 0;
    int rc;

    out->len = 0;
    pthread_mutex_lock(&ev->lock);
    snprintf(head, sizeof(head), "{\"seq\":%" PRIu64 ",\"events\":[", ev->seq);
    rc = put(out, head);
    for (size_t i = 0; rc == 0 && i < ev->ring_len && n < limit; i++) {
        const struct events_event *e = &ev->ring[(ev->ring_head + i) % EVENTS_RING];

        if (e->seq <= since) {
            continue;
        }
        json_event(e, item, sizeof(item));
        rc = put(out, n == 0 ? "" : ",");
        if (rc == 0) {
            rc = put(out, item);
        }
        n++;
    }
    pthread_mutex_unlock(&ev->lock);
    return rc == 0 ? put(out, "]}\n") : rc;
}

/* A metrics text being written; the first failure sticks. */
struct text_out {
    struct sitx_buf *buf;
    int rc;
};

/* printf into t, unless an earlier piece failed. */
static void putf(struct text_out *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct text_out *t, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    if (t->rc != 0) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        t->rc = SITX_E_INTERNAL;
        return;
    }
    t->rc = sitx_buf_append(t->buf, line, (size_t)n);
}

/* The counters as Prometheus metrics. Label values are our own words
 * (status names, handshake reasons), never anything a peer chose. */
static void metrics_locked(struct recv_events *ev, struct text_out *out)
{
    putf(out,
         "# HELP sitx_images_stored_total Images stored in the inbox.\n"
         "# TYPE sitx_images_stored_total counter\n"
         "sitx_images_stored_total %" PRIu64 "\n",
         ev->stored);
    putf(out,
         "# HELP sitx_images_already_stored_total Offers answered ALREADY_STORED.\n"
         "# TYPE sitx_images_already_stored_total counter\n"
         "sitx_images_already_stored_total %" PRIu64 "\n",
         ev->already);
    putf(out, "# HELP sitx_images_refused_total Images refused, by result status.\n"
              "# TYPE sitx_images_refused_total counter\n");
    for (unsigned st = SITX_ST_TIMEOUT; st <= SITX_ST_SHUTTING_DOWN; st++) {
        putf(out, "sitx_images_refused_total{reason=\"%s\"} %" PRIu64 "\n",
             sitx_status_name((uint8_t)st), ev->refused[st]);
    }
    putf(out,
         "# HELP sitx_stored_bytes_total Bytes of images stored.\n"
         "# TYPE sitx_stored_bytes_total counter\n"
         "sitx_stored_bytes_total %" PRIu64 "\n",
         ev->stored_bytes);
    putf(out,
         "# HELP sitx_received_bytes_total Bytes read from sender connections.\n"
         "# TYPE sitx_received_bytes_total counter\n"
         "sitx_received_bytes_total %" PRIu64 "\n",
         ev->bytes_received);
    putf(out,
         "# HELP sitx_connections_open Sender connections open now.\n"
         "# TYPE sitx_connections_open gauge\n"
         "sitx_connections_open %" PRIu64 "\n",
         ev->connections_open);
    putf(out, "# HELP sitx_handshakes_failed_total Connections refused before or at "
              "authentication, by reason.\n"
              "# TYPE sitx_handshakes_failed_total counter\n");
    for (size_t i = 0; i < AUTH_REASONS_MAX && ev->auth[i].reason[0] != '\0'; i++) {
        putf(out, "sitx_handshakes_failed_total{reason=\"%s\"} %" PRIu64 "\n", ev->auth[i].reason,
             ev->auth[i].count);
    }
    putf(out, "sitx_handshakes_failed_total{reason=\"other\"} %" PRIu64 "\n", ev->auth_other);
    putf(out, "# HELP sitx_connections_refused_total Connections refused before anything "
              "was read, by reason.\n"
              "# TYPE sitx_connections_refused_total counter\n");
    for (size_t i = 0; i < AUTH_REASONS_MAX && ev->conn_refused[i].reason[0] != '\0'; i++) {
        putf(out, "sitx_connections_refused_total{reason=\"%s\"} %" PRIu64 "\n",
             ev->conn_refused[i].reason, ev->conn_refused[i].count);
    }
    putf(out, "sitx_connections_refused_total{reason=\"other\"} %" PRIu64 "\n",
         ev->conn_refused_other);
    putf(out,
         "# HELP sitx_images_aborted_total Images whose sender left before their "
         "END.\n"
         "# TYPE sitx_images_aborted_total counter\n"
         "sitx_images_aborted_total %" PRIu64 "\n",
         ev->aborted);
    putf(out,
         "# HELP sitx_images_cancelled_total Images their sender withdrew (CANCEL).\n"
         "# TYPE sitx_images_cancelled_total counter\n"
         "sitx_images_cancelled_total %" PRIu64 "\n",
         ev->cancelled);
    putf(out, "# HELP sitx_validation_seconds Time spent decoding and checking each "
              "image.\n"
              "# TYPE sitx_validation_seconds histogram\n");
    for (size_t i = 0; i < EVENTS_HIST_BUCKETS; i++) {
        putf(out, "sitx_validation_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", hist_le[i],
             ev->hist[i]);
    }
    putf(out,
         "sitx_validation_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
         "sitx_validation_seconds_sum %.6f\n"
         "sitx_validation_seconds_count %" PRIu64 "\n",
         ev->hist_count, ev->hist_sum, ev->hist_count);
}

int events_metrics_text(struct recv_events *ev, int64_t free_bytes, struct sitx_buf *out)
{
    struct text_out t = {out, 0};

    out->len = 0;
    pthread_mutex_lock(&ev->lock);
    metrics_locked(ev, &t);
    pthread_mutex_unlock(&ev->lock);
    if (free_bytes >= 0) {
        putf(&t,
             "# HELP sitx_inbox_free_bytes Space left for unprivileged users on the "
             "inbox's filesystem.\n"
             "# TYPE sitx_inbox_free_bytes gauge\n"
             "sitx_inbox_free_bytes %" PRId64 "\n",
             free_bytes);
    }
    return t.rc;
}
