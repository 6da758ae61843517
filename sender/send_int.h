/* The run's state, shared by its three parts:
 *   send.c        images and their outcomes, retries, the step that decides
 *                 what happens next, the exit code;
 *   send_conn.c   one connection: offers, DATA, END, the receiver's records,
 *                 what a lost connection means for the images it carried;
 *   send_stage.c  the thread-pool jobs that read, hash and validate images.
 * Everything runs on the loop thread. */
#ifndef SITX_SEND_INT_H
#define SITX_SEND_INT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "client.h"
#include "hash.h"
#include "msg.h"
#include "send.h"

/* Images prepared (or being prepared) but not yet offered: this bounds the
 * payloads held in memory, and two keep both cores busy. */
#define PREPARE_AHEAD 2
/* Offers on one connection not yet answered by a RESULT: one being stored,
 * one behind it (PROTOCOL.md 7.4). */
#define INFLIGHT_MAX 2
/* Connections at once. More than one lets the receiver store images while
 * others arrive, and hides the round trip each image waits for its ACCEPT:
 * on a 100 Mbit/s link with 40 ms of round trip and 1 % loss, three come
 * within 1.1x of one plain TCP stream where two took 1.17x (bench.sh,
 * netdelay row). Connection i (from 1) opens only once the first is
 * authenticated and at least SECOND_CONN_MIN + 2 (i - 1) images are left,
 * so a handshake is paid only where there is work to share. */
#define CONN_MAX        3
#define SECOND_CONN_MIN 4
#define SEND_ERROR_MAX  400

enum img_state {
    IMG_NEW,
    IMG_PREPARING,
    IMG_READY,     /* prepared, in the ready queue (maybe waiting for a retry) */
    IMG_OFFERED,   /* OFFER sent, waiting for ACCEPT or RESULT */
    IMG_STREAMING, /* ACCEPT came, DATA going out */
    IMG_ENDED,     /* END sent, waiting for RESULT */
    IMG_DONE,
};

struct conn;

struct image {
    const char *path;
    const char *offer_src; /* what the offered name comes from: path's base name, or the
                            * path relative to a directory sent */
    enum img_state state;
    struct image *next;  /* ready queue */
    struct image *vnext; /* validation queue */
    struct conn *conn;   /* the connection it is in flight on, or NULL */
    uint8_t *payload;    /* malloc'd, from prepare; freed when done */
    size_t len;
    uint64_t file_size;
    enum sitx_image_format format;
    int prepared;
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    uint8_t id[SITX_TRANSFER_ID_BYTES];
    char name[SITX_NAME_MAX + 1];
    unsigned attempts; /* OFFERs sent */
    uint64_t due_ms;   /* not offered before this loop time (retry backoff) */
    uint64_t first_offer_ms;
    uint64_t stream_start_ns; /* when ACCEPT came, for the link speed */
    uint64_t queued;          /* DATA bytes queued in this attempt */
    uint64_t bytes_sent;      /* DATA bytes queued, all attempts */
    uint64_t resumed_from;    /* offset of the last ACCEPT that resumed, 0 for none */
    unsigned resume_refused;  /* ACCEPTs whose prefix hash was not ours */
    int withdrawn;            /* CANCEL LOCAL sent for a bad prefix: re-offer on its RESULT */
    int early;                /* its RESULT came while DATA still went out */
    int validating;           /* a validate job reads payload: do not free it */
    int interrupted;          /* withdrawn with CANCEL INTERRUPTED */
    int valid;                /* 1 validated, 0 not yet, -1 invalid (why in error) */
    /* Outcome, or the last failure while retrying. */
    enum send_outcome outcome;
    const char *status;
    char stored_as[SITX_NAME_MAX + 1];
    uint64_t stored_size;
    uint32_t receiver_ms;
    uint64_t ms;
    char error[SEND_ERROR_MAX];
};

struct conn {
    struct send_ctx *s;
    struct client *client; /* NULL when not connected */
    int ready;             /* handshake done */
    struct image *cur;     /* OFFERED or STREAMING */
    struct image *inflight[INFLIGHT_MAX];
    size_t n_inflight;
    struct sitx_result early_res; /* for cur, see image.early */
    struct image *measuring;      /* END queued; its bytes not all written yet */
};

struct send_ctx {
    uv_loop_t loop;
    uv_timer_t timer; /* retry backoff and reconnect delay */
    const struct send_config *cfg;
    struct report *rep;
    struct image *images;
    size_t n;
    size_t *order;   /* indexes into images, in the order they are offered */
    size_t next_new; /* first in order never prepared */
    size_t ahead;    /* images PREPARING or READY */
    size_t done;
    struct image *ready_head;
    struct image *ready_tail;
    struct image *val_head; /* waiting for a validate job, in order */
    struct image *val_tail;
    size_t validating;
    struct conn conns[CONN_MAX];
    struct image *bar;      /* the image the progress bar shows */
    uint64_t link_bps;      /* measured link speed, 0 until known */
    unsigned conn_failures; /* in a row, not charged to any image */
    uint64_t streak_ms;     /* when the first of them began connecting */
    uint64_t conn_due_ms;
    enum send_outcome fatal; /* OUTCOME_NONE, or what ends every image left */
    char fatal_msg[SEND_ERROR_MAX];
    uint8_t pin[SITX_KEY_BYTES];
    int have_pin;
    struct psk_cache psk;
    unsigned version; /* the receiver's protocol version once known, else 0 */
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_timer_t stop_timer; /* after a signal: how long the answers may take */
    int signals_on;        /* the three handles above are initialised */
    unsigned interrupts;   /* SIGINT/SIGTERM seen */
    int stop_expired;      /* --timeout passed since the first one */
    int in_step;
    int again;
    int closing;
    enum send_exit exit;
};

/* send.c */
void run_step(struct send_ctx *s);
uint64_t run_now(const struct send_ctx *s);
void run_set_fatal(struct send_ctx *s, enum send_outcome outcome, const char *why);
void image_set_state(struct send_ctx *s, struct image *im, enum img_state st);
void image_finish(struct send_ctx *s, struct image *im, enum send_outcome outcome,
                  const char *status, const char *error);
/* A failure worth another attempt (wire: the receiver said so, exit 1;
 * else the network failed, exit 5), or the end when attempts are used up. */
void image_retry(struct send_ctx *s, struct image *im, int wire, const char *status,
                 const char *why);
/* The receiver was busy and looked at none of im's offer: back to the
 * ready queue with the attempt not counted. */
void image_requeue(struct send_ctx *s, struct image *im);
void image_apply_result(struct send_ctx *s, struct image *im, const struct sitx_result *res);
/* Ends im as interrupted (OUTCOME_INTERRUPTED, status INTERRUPTED) saying why. */
void image_interrupted(struct send_ctx *s, struct image *im, const char *why);
void ready_push(struct send_ctx *s, struct image *im, uint64_t due_ms);
struct image *ready_pop_due(struct send_ctx *s, uint64_t now);
void ready_unlink(struct send_ctx *s, struct image *im);

/* send_stage.c */
void stage_start_prepares(struct send_ctx *s);
void stage_start_validations(struct send_ctx *s);

/* send_conn.c */
void conn_connect(struct conn *k);
void conn_pump(struct conn *k);
/* Ends k from our side: CLOSE with reason (or none when < 0). Images still
 * in flight on it lose their connection without being charged. */
void conn_close(struct conn *k, int reason, const char *message);
void conn_inflight_remove(struct conn *k, struct image *im);
/* Version 2: withdraws im, OFFERED or STREAMING on k, with a CANCEL record
 * (reason enum sitx_cancel_reason, why a short text) instead of the rest of
 * its DATA and END; it then waits for its RESULT like an ended image.
 * Returns 0, or the client's error (on_fail has run). */
int conn_send_cancel(struct conn *k, struct image *im, uint8_t reason, const char *why);
/* Whether k can take an OFFER now. */
int conn_has_room(const struct conn *k);

#endif
