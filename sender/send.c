/* The run: every image goes NEW -> PREPARING -> READY -> OFFERED ->
 * STREAMING -> ENDED -> DONE, back to READY for a retry. One step function
 * looks at everything after each event and decides what happens next:
 * which jobs to start, which connections to open, what to send. */
#include "send.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <unistd.h>
#include <uv.h>

#include "err.h"
#include "log.h"
#include "send_int.h"
#include "send_order.h"

uint64_t run_now(const struct send_ctx *s)
{
    return uv_now(&s->loop);
}

void image_set_state(struct send_ctx *s, struct image *im, enum img_state st)
{
    int was = im->state == IMG_PREPARING || im->state == IMG_READY;
    int is = st == IMG_PREPARING || st == IMG_READY;

    if (was && !is) {
        s->ahead--;
    } else if (!was && is) {
        s->ahead++;
    }
    im->state = st;
}

/* ---- per-image outcome ------------------------------------------------- */

void image_finish(struct send_ctx *s, struct image *im, enum send_outcome outcome,
                  const char *status, const char *error)
{
    struct image_report ir;

    if (im->state == IMG_DONE) {
        return;
    }
    image_set_state(s, im, IMG_DONE);
    if (!im->validating) {
        free(im->payload);
        im->payload = NULL;
    }
    im->outcome = outcome;
    im->status = status;
    if (error != NULL && error != im->error) {
        snprintf(im->error, sizeof(im->error), "%s", error);
    }
    im->ms = im->first_offer_ms != 0 ? run_now(s) - im->first_offer_ms : 0;
    s->done++;
    s->exit = exit_combine(s->exit, outcome_exit(outcome));

    memset(&ir, 0, sizeof(ir));
    ir.file = im->path;
    ir.outcome = outcome;
    ir.status = status;
    ir.stored_as = im->stored_as[0] != '\0' ? im->stored_as : NULL;
    ir.size = im->stored_size;
    ir.file_size = im->file_size;
    ir.bytes_sent = im->bytes_sent;
    ir.resumed_from = im->resumed_from;
    ir.attempts = im->attempts;
    ir.ms = im->ms;
    ir.receiver_ms = im->receiver_ms;
    ir.error = im->error[0] != '\0' ? im->error : NULL;
    ir.hash = im->prepared ? im->hash : NULL;
    ir.format = im->prepared ? sitx_image_format_name(im->format) : NULL;
    ir.protocol = im->attempts > 0 ? s->version : 0;
    if (report_image(s->rep, &ir) != 0) {
        s->exit = exit_combine(s->exit, SEND_EXIT_INTERNAL);
    }
    sitx_log(SITX_LOG_DEBUG, "image done", "file=%s status=%s attempts=%u", im->name, status,
             im->attempts);
}

void ready_push(struct send_ctx *s, struct image *im, uint64_t due_ms)
{
    image_set_state(s, im, IMG_READY);
    im->due_ms = due_ms;
    im->next = NULL;
    if (s->ready_tail != NULL) {
        s->ready_tail->next = im;
    } else {
        s->ready_head = im;
    }
    s->ready_tail = im;
}

static void ready_remove(struct send_ctx *s, struct image *prev, struct image *im)
{
    if (prev != NULL) {
        prev->next = im->next;
    } else {
        s->ready_head = im->next;
    }
    if (s->ready_tail == im) {
        s->ready_tail = prev;
    }
    im->next = NULL;
}

struct image *ready_pop_due(struct send_ctx *s, uint64_t now)
{
    struct image *prev = NULL;
    struct image *im;

    for (im = s->ready_head; im != NULL; prev = im, im = im->next) {
        if (im->due_ms <= now) {
            ready_remove(s, prev, im);
            return im;
        }
    }
    return NULL;
}

void ready_unlink(struct send_ctx *s, struct image *target)
{
    struct image *prev = NULL;
    struct image *im;

    for (im = s->ready_head; im != NULL; prev = im, im = im->next) {
        if (im == target) {
            ready_remove(s, prev, im);
            return;
        }
    }
}

void image_retry(struct send_ctx *s, struct image *im, int wire, const char *status,
                 const char *why)
{
    uint64_t delay;

    im->status = status;
    snprintf(im->error, sizeof(im->error), "%s", why != NULL ? why : "");
    im->queued = 0;
    im->early = 0;
    if (im->attempts > s->cfg->retries) {
        image_finish(s, im, wire ? OUTCOME_FAILED : OUTCOME_NETWORK, status, im->error);
        return;
    }
    delay = backoff_ms(im->attempts, randombytes_random());
    sitx_log(SITX_LOG_DEBUG, "retry", "file=%s status=%s attempt=%u delay_ms=%" PRIu64, im->name,
             status, im->attempts, delay);
    ready_push(s, im, run_now(s) + delay);
}

void image_requeue(struct send_ctx *s, struct image *im)
{
    im->queued = 0;
    im->early = 0;
    if (im->attempts > 0) {
        im->attempts--;
    }
    ready_push(s, im, 0); /* the next connection, after its own backoff, takes it */
}

void image_interrupted(struct send_ctx *s, struct image *im, const char *why)
{
    image_finish(s, im, OUTCOME_INTERRUPTED, "INTERRUPTED", why);
}

void image_apply_result(struct send_ctx *s, struct image *im, const struct sitx_result *res)
{
    const char *name = sitx_status_name(res->status);

    if (im->interrupted && res->status == SITX_ST_CANCELLED) {
        image_interrupted(s, im, "withdrawn while it was being sent; nothing stored");
        return;
    }
    if (im->valid < 0) {
        /* Withdrawn (or refused) after our own decode failed: the file is
         * the problem, whatever the receiver made of it. */
        image_finish(s, im, OUTCOME_LOCAL, "LOCAL_ERROR", im->error);
        return;
    }
    im->receiver_ms = res->ms;
    if (res->status == SITX_ST_OK || res->status == SITX_ST_ALREADY_STORED) {
        /* The receipt must name what we sent, byte for byte. */
        if (sodium_memcmp(res->hash, im->hash, SITX_CONTENT_HASH_BYTES) != 0) {
            image_retry(s, im, 1, "INTEGRITY", "the receipt's hash differs from the image sent");
            return;
        }
        snprintf(im->stored_as, sizeof(im->stored_as), "%s", res->name);
        im->stored_size = res->size;
        im->error[0] = '\0';
        image_finish(s, im, res->status == SITX_ST_OK ? OUTCOME_STORED : OUTCOME_ALREADY, name,
                     NULL);
        return;
    }
    if (sitx_status_retryable(res->status)) {
        image_retry(s, im, 1, name, res->message);
        return;
    }
    image_finish(s, im, OUTCOME_REFUSED, name, res->message);
}

/* ---- fatal conditions: everything left ends the same way --------------- */

void run_set_fatal(struct send_ctx *s, enum send_outcome outcome, const char *why)
{
    if (s->fatal != OUTCOME_NONE) {
        return;
    }
    s->fatal = outcome;
    snprintf(s->fatal_msg, sizeof(s->fatal_msg), "%s", why);
}

static const char *fatal_status(enum send_outcome o)
{
    switch (o) {
    case OUTCOME_AUTH:
        return "AUTH_FAILED";
    case OUTCOME_NETWORK:
        return "NETWORK_ERROR";
    default:
        return "INTERNAL_ERROR";
    }
}

static void fail_all_left(struct send_ctx *s)
{
    size_t i;

    /* Another connection may still be up: images on it end here too. */
    for (i = 0; i < CONN_MAX; i++) {
        conn_close(&s->conns[i], -1, NULL);
    }
    for (i = 0; i < s->n; i++) {
        struct image *im = &s->images[i];

        if (im->state == IMG_READY) {
            ready_unlink(s, im);
        }
        /* A job in the pool still owns its image; it ends once back. */
        if (im->state == IMG_DONE || im->state == IMG_PREPARING) {
            continue;
        }
        if (s->fatal == OUTCOME_NETWORK && im->attempts < s->conn_failures) {
            im->attempts = s->conn_failures; /* the connection attempts it waited through */
        }
        image_finish(s, im, s->fatal, fatal_status(s->fatal), s->fatal_msg);
    }
    s->next_new = s->n;
}

/* ---- Ctrl-C: stop offering, withdraw or finish what is in flight -------- */

/* Everything not on a connection ends now; a prepare job still out ends
 * its image when it comes back (it lands in the ready queue). */
static void interrupt_left(struct send_ctx *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        struct image *im = &s->images[i];

        if (im->state == IMG_READY) {
            ready_unlink(s, im);
        }
        if (im->state == IMG_NEW || (im->state == IMG_READY && im->attempts == 0)) {
            image_interrupted(s, im, "the run was stopped before it was offered");
        } else if (im->state == IMG_READY) {
            /* Back for a retry (its last failure in error): not tried again. */
            char why[SEND_ERROR_MAX];

            snprintf(why, sizeof(why), "not retried after the interrupt; last: %s%s%.300s",
                     im->status != NULL ? im->status : "", im->error[0] != '\0' ? ": " : "",
                     im->error);
            image_interrupted(s, im, why);
        }
    }
    s->next_new = s->n;
}

/* --timeout passed since the signal: the images still waiting for an
 * answer end unanswered, their connections are closed. */
static void interrupt_unanswered(struct send_ctx *s)
{
    size_t i;
    size_t j;

    for (i = 0; i < CONN_MAX; i++) {
        struct conn *k = &s->conns[i];
        struct image *list[INFLIGHT_MAX];
        size_t n = k->n_inflight;

        memcpy(list, k->inflight, n * sizeof(*list));
        conn_close(k, SITX_CLOSE_DONE, NULL);
        for (j = 0; j < n; j++) {
            image_interrupted(s, list[j],
                              "no answer from the receiver within --timeout after "
                              "the interrupt");
        }
    }
}

static void on_stop_timer(uv_timer_t *t)
{
    struct send_ctx *s = t->data;

    s->stop_expired = 1;
    run_step(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct send_ctx *s = h->data;

    if (s->interrupts++ > 0) {
        /* Asked twice: the user does not want to wait. */
        report_progress_end(s->rep);
        fflush(stdout);
        _exit(SEND_EXIT_INTERRUPTED);
    }
    report_error(s->rep,
                 "%s: no more offers; waiting up to %" PRIu64
                 " s for the images in flight (again to quit at once)",
                 signum == SIGINT ? "interrupted" : "terminated", s->cfg->timeout_ms / 1000);
    uv_timer_start(&s->stop_timer, on_stop_timer, s->cfg->timeout_ms, 0);
    run_step(s);
}

static int signals_start(struct send_ctx *s)
{
    int rc;

    rc = uv_signal_init(&s->loop, &s->sigint);
    if (rc == 0) {
        rc = uv_signal_init(&s->loop, &s->sigterm);
    }
    if (rc == 0) {
        rc = uv_timer_init(&s->loop, &s->stop_timer);
    }
    if (rc != 0) {
        return rc; /* uv_*_init does not fail on a valid loop */
    }
    s->signals_on = 1;
    s->sigint.data = s;
    s->sigterm.data = s;
    s->stop_timer.data = s;
    rc = uv_signal_start(&s->sigint, on_signal, SIGINT);
    if (rc == 0) {
        rc = uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    }
    return rc;
}

static void signals_close(struct send_ctx *s)
{
    if (s->signals_on) {
        s->signals_on = 0;
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
        uv_close((uv_handle_t *)&s->stop_timer, NULL);
    }
}

/* ---- the step: one place that decides what happens next ---------------- */

static void on_timer(uv_timer_t *t)
{
    run_step(t->data);
}

/* Connection i is wanted: the first while work is left, the others once
 * the first is in and enough images are left for each. */
static int conn_wanted(const struct send_ctx *s, size_t i)
{
    if (i == 0) {
        return 1;
    }
    return s->conns[0].ready && s->n - s->done >= SECOND_CONN_MIN + 2 * (i - 1);
}

static void arm_timer(struct send_ctx *s)
{
    uint64_t now = run_now(s);
    uint64_t wake = UINT64_MAX;
    struct image *im;
    int room = 0;
    size_t i;

    for (i = 0; i < CONN_MAX; i++) {
        if (s->conns[i].client == NULL && conn_wanted(s, i) && s->conn_due_ms > now) {
            wake = s->conn_due_ms;
        }
        room |= conn_has_room(&s->conns[i]);
    }
    if (room) {
        for (im = s->ready_head; im != NULL; im = im->next) {
            if (im->due_ms > now && im->due_ms < wake) {
                wake = im->due_ms;
            }
        }
    }
    if (wake == UINT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    uv_timer_start(&s->timer, on_timer, wake - now, 0);
}

static void step_once(struct send_ctx *s)
{
    size_t i;

    if (s->closing) {
        return;
    }
    if (s->fatal != OUTCOME_NONE) {
        fail_all_left(s);
    }
    if (s->interrupts > 0) {
        interrupt_left(s);
        if (s->stop_expired) {
            interrupt_unanswered(s);
        }
    }
    /* Connecting first: a connect is one syscall, and the handshake then
     * runs while the files are read. */
    for (i = 0; i < CONN_MAX && s->fatal == OUTCOME_NONE && s->interrupts == 0 && s->done < s->n;
         i++) {
        if (s->conns[i].client == NULL && conn_wanted(s, i) && s->conn_due_ms <= run_now(s)) {
            conn_connect(&s->conns[i]);
        }
    }
    stage_start_prepares(s);
    stage_start_validations(s);
    if (s->done == s->n) {
        /* Every image has its answer: say goodbye and let the loop end. */
        s->closing = 1;
        report_progress_end(s->rep);
        for (i = 0; i < CONN_MAX; i++) {
            conn_close(&s->conns[i], SITX_CLOSE_DONE, NULL);
        }
        uv_close((uv_handle_t *)&s->timer, NULL);
        signals_close(s);
        return;
    }
    for (i = 0; i < CONN_MAX; i++) {
        conn_pump(&s->conns[i]);
    }
    arm_timer(s);
}

void run_step(struct send_ctx *s)
{
    if (s->in_step) {
        s->again = 1; /* a callback from inside a step: run once more after it */
        return;
    }
    s->in_step = 1;
    do {
        s->again = 0;
        step_once(s);
    } while (s->again && !s->closing);
    s->in_step = 0;
}

void send_carry_clear(struct send_carry *carry)
{
    if (carry != NULL) {
        psk_cache_clear(&carry->psk);
        sodium_memzero(carry, sizeof(*carry));
    }
}

int send_run(const struct send_config *cfg, struct report *rep)
{
    struct send_ctx *s = calloc(1, sizeof(*s));
    size_t i;
    int rc;
    int exit_code;

    if (s == NULL) {
        report_error(rep, "out of memory");
        return SEND_EXIT_INTERNAL;
    }
    s->cfg = cfg;
    s->rep = rep;
    s->n = cfg->nfiles;
    s->exit = SEND_EXIT_OK;
    s->images = calloc(cfg->nfiles, sizeof(*s->images));
    if (s->images == NULL) {
        free(s);
        report_error(rep, "out of memory");
        return SEND_EXIT_INTERNAL;
    }
    for (i = 0; i < s->n; i++) {
        s->images[i].path = cfg->files[i];
        /* A file given is offered under its base name, one found in a
         * directory under its path relative to that directory. */
        if (cfg->names != NULL && cfg->names[i] != NULL) {
            s->images[i].offer_src = cfg->names[i];
        } else {
            const char *slash = strrchr(cfg->files[i], '/');

            s->images[i].offer_src = slash != NULL ? slash + 1 : cfg->files[i];
        }
        /* Until prepared, messages name the file by the name it is offered under. */
        offer_path(s->images[i].offer_src, 0, NULL, s->images[i].name, sizeof(s->images[i].name));
    }
    s->order = calloc(s->n > 0 ? s->n : 1, sizeof(*s->order));
    if (s->order == NULL || send_order_plan(cfg->files, s->n, cfg->in_order, s->order) != 0) {
        free(s->order);
        free(s->images);
        free(s);
        report_error(rep, "out of memory");
        return SEND_EXIT_INTERNAL;
    }
    for (i = 0; i < CONN_MAX; i++) {
        s->conns[i].s = s;
    }
    if (cfg->receiver_pk != NULL) {
        memcpy(s->pin, cfg->receiver_pk, SITX_KEY_BYTES);
        s->have_pin = 1;
    }
    rc = uv_loop_init(&s->loop);
    if (rc == 0) {
        rc = uv_timer_init(&s->loop, &s->timer);
    }
    if (rc != 0) {
        report_error(rep, "cannot start the event loop: %s", uv_strerror(rc));
        free(s->order);
        free(s->images);
        free(s);
        return SEND_EXIT_INTERNAL;
    }
    s->timer.data = s;
    if (cfg->carry != NULL) {
        /* The run owns the cache until it ends, then hands it back. */
        s->psk = cfg->carry->psk;
        memset(&cfg->carry->psk, 0, sizeof(cfg->carry->psk));
        if (!s->have_pin && cfg->carry->have_pin) {
            memcpy(s->pin, cfg->carry->pin, SITX_KEY_BYTES);
            s->have_pin = 1;
        }
    }
    s->psk.store_path = cfg->psk_store;
    if (cfg->interruptible) {
        rc = signals_start(s);
        if (rc != 0) {
            report_error(rep, "cannot watch for SIGINT and SIGTERM: %s", uv_strerror(rc));
            run_set_fatal(s, OUTCOME_INTERNAL, "cannot watch for SIGINT and SIGTERM");
        }
    }
    run_step(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    /* Jobs and handles are all done once uv_run returns; close for good. */
    while (uv_loop_close(&s->loop) == UV_EBUSY) {
        uv_run(&s->loop, UV_RUN_NOWAIT);
    }
    for (i = 0; i < s->n; i++) {
        free(s->images[i].payload);
        if (s->images[i].state != IMG_DONE) {
            s->exit = exit_combine(s->exit, SEND_EXIT_INTERNAL);
        }
    }
    exit_code = s->interrupts > 0 ? SEND_EXIT_INTERRUPTED : s->exit;
    if (cfg->carry != NULL) {
        cfg->carry->psk = s->psk;
        memset(&s->psk, 0, sizeof(s->psk));
        if (s->have_pin) {
            memcpy(cfg->carry->pin, s->pin, SITX_KEY_BYTES);
            cfg->carry->have_pin = 1;
        }
    }
    psk_cache_clear(&s->psk);
    sodium_memzero(s->pin, sizeof(s->pin));
    free(s->order);
    free(s->images);
    free(s);
    return exit_code;
}
