/* What the web side may know of the receiver: the images in the inbox
 * (newest last), a bounded ring of recent events (stored, refused,
 * authentication failures) and the counters behind /metrics. The loop
 * thread writes, the HTTP threads read; one mutex guards it all, and no
 * call blocks for longer than a copy. No libuv in here. */
#ifndef SITX_RECV_EVENTS_H
#define SITX_RECV_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "keyfile.h"
#include "msg.h"
#include "peers.h"
#include "secmem.h"

/* Images listed at most (the oldest drop off the list, not off the disk). */
#define EVENTS_IMAGES_MAX 2000
/* Recent events kept for /api/v1/events. */
#define EVENTS_RING 256
/* Buckets of the validation time histogram, in seconds. */
#define EVENTS_HIST_BUCKETS 10

enum events_kind {
    EV_STORED,
    EV_ALREADY_STORED,
    EV_REFUSED,      /* an image answered with a failure status */
    EV_AUTH_FAILED,  /* a connection that did not get through the handshake or the key check */
    EV_CONN_REFUSED, /* a connection refused before anything was read (caps, untrusted proxy) */
    EV_ABORTED,      /* the sender went away before an image's END */
    EV_CANCELLED,    /* the sender withdrew an image (CANCEL, version 2) */
};

struct events_image {
    char name[SITX_NAME_MAX + 1];
    uint64_t size;
    uint32_t width; /* 0 when unknown */
    uint32_t height;
    char format[8];                             /* "PNG", "JPEG" */
    char sender[SITX_PEER_NAME_MAX + 1];        /* name in the authorised-senders file, or "" */
    char fingerprint[SITX_FINGERPRINT_LEN + 1]; /* or "password" */
    int64_t time;                               /* arrival, Unix seconds */
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
};

struct events_event {
    uint64_t seq;
    int64_t time;
    enum events_kind kind;
    uint8_t status;               /* wire status for images */
    char reason[48];              /* auth failures, refusals: the reason word */
    char name[SITX_NAME_MAX + 1]; /* image name asked for or stored */
    uint64_t size;
    char peer[64];
    char sender[SITX_PEER_NAME_MAX + 1];
    char fingerprint[SITX_FINGERPRINT_LEN + 1];
    char message[SITX_TEXT_MAX + 1];
};

struct recv_events;

/* Allocates an empty store. Returns 0 or SITX_E_NOMEM. */
int events_new(struct recv_events **out);
void events_free(struct recv_events *ev); /* NULL-safe */

/* An image now in the inbox (also used to list what was there at start):
 * replaces an entry of the same name. */
void events_add_image(struct recv_events *ev, const struct events_image *img);
/* Appends e (its seq is assigned here) to the ring and counts it. */
void events_add_event(struct recv_events *ev, struct events_event *e);

/* Counters the loop thread moves. */
void events_count_bytes(struct recv_events *ev, uint64_t n);
void events_set_connections(struct recv_events *ev, uint64_t open);
void events_count_validation(struct recv_events *ev, double seconds);

/* Copies the entry for name into out. 1 when listed, else 0. */
int events_find_image(struct recv_events *ev, const char *name, struct events_image *out);

/* Renderings into out (replaced; sitx_buf_init'd by the caller). Return 0 or SITX_E_NOMEM. */
/* {"count":N,"images":[...]} newest first. */
int events_images_json(struct recv_events *ev, struct sitx_buf *out);
/* {"seq":LAST,"events":[...]} of the events after since, oldest first, at most limit. */
int events_events_json(struct recv_events *ev, uint64_t since, unsigned limit,
                       struct sitx_buf *out);
/* Prometheus text exposition format 0.0.4; free_bytes < 0 leaves the gauge out. */
int events_metrics_text(struct recv_events *ev, int64_t free_bytes, struct sitx_buf *out);

/* ISO 8601 UTC ("2026-01-02T03:04:05Z") of t into buf (at least 21 bytes). */
void events_format_time(int64_t t, char *buf, size_t cap);

#endif
