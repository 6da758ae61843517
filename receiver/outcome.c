/* How a transfer ends: its one RESULT and one log line, cancellation by
 * a deadline or a shutdown (racing the final job for the right to answer),
 * and its release once no job uses it any more. */
#include "transfer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "budget.h"
#include "conn.h"
#include "log.h"
#include "partial.h"
#include "record.h"
#include "server.h"
#include "web.h"

static uint32_t elapsed_ms(const struct transfer *t)
{
    uint64_t d = uv_now(t->conn->srv->loop) - t->started_ms;

    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static void send_result(struct transfer *t, uint8_t status, const char *msg, const char *name)
{
    struct sitx_conn *c = t->conn;
    uint8_t rec[ANSWER_RESULT_MAX];
    size_t len = 0;

    t->result_sent = 1;
    if (c->state != CONN_OPEN) {
        return;
    }
    if (answer_result(t->id, status, t->size, elapsed_ms(t), t->offer_hash, name, msg, rec,
                      sizeof(rec), &len) != 0) {
        return;
    }
    if (conn_send_record(c, rec, len) != 0) {
        conn_close_later(c, "write-failed");
    }
}

/* The one log line of an image's outcome. */
static void log_outcome(const struct transfer *t, uint8_t status, const char *msg, const char *name)
{
    const struct sitx_conn *c = t->conn;
    char qname[1100];
    char qmsg[1100];

    web_note_outcome(t, status, msg, name);
    switch (status) {
    case SITX_ST_OK:
        sitx_log(SITX_LOG_INFO, "stored", "peer=%s key=%s file=%s bytes=%" PRIu64 " ms=%" PRIu32,
                 c->peer, c->keyfp, sitx_log_quote(name, qname, sizeof(qname)), t->size,
                 elapsed_ms(t));
        break;
    case SITX_ST_ALREADY_STORED:
        sitx_log(SITX_LOG_INFO, "already-stored",
                 "peer=%s key=%s file=%s bytes=%" PRIu64 " ms=%" PRIu32, c->peer, c->keyfp,
                 sitx_log_quote(name, qname, sizeof(qname)), t->size, elapsed_ms(t));
        break;
    case SITX_ST_TIMEOUT:
        sitx_log(SITX_LOG_NOTICE, "timeout",
                 "peer=%s key=%s file=%s bytes=%" PRIu64 " received=%" PRIu64 " ms=%" PRIu32,
                 c->peer, c->keyfp, sitx_log_quote(t->name, qname, sizeof(qname)), t->size,
                 t->received, elapsed_ms(t));
        break;
    case SITX_ST_CANCELLED:
        sitx_log(SITX_LOG_NOTICE, "cancelled",
                 "peer=%s key=%s file=%s bytes=%" PRIu64 " received=%" PRIu64 " reason=%s", c->peer,
                 c->keyfp, sitx_log_quote(t->name, qname, sizeof(qname)), t->size, t->received,
                 sitx_log_quote(msg != NULL ? msg : "", qmsg, sizeof(qmsg)));
        break;
    default:
        sitx_log(status == SITX_ST_INTERNAL || status == SITX_ST_DISK_FULL ? SITX_LOG_WARNING
                                                                           : SITX_LOG_NOTICE,
                 "refused", "peer=%s key=%s file=%s status=%s reason=%s", c->peer, c->keyfp,
                 sitx_log_quote(t->name, qname, sizeof(qname)), sitx_status_name(status),
                 sitx_log_quote(msg != NULL ? msg : "", qmsg, sizeof(qmsg)));
        break;
    }
}

/* The outcome line of an image whose sender went away before its END. */
static void log_aborted(const struct transfer *t, const char *why)
{
    const struct sitx_conn *c = t->conn;
    char qname[1100];
    char qwhy[300];

    web_note_aborted(t, why);
    sitx_log(SITX_LOG_NOTICE, "aborted",
             "peer=%s key=%s file=%s bytes=%" PRIu64 " received=%" PRIu64 " reason=%s", c->peer,
             c->keyfp, sitx_log_quote(t->name, qname, sizeof(qname)), t->size, t->received,
             sitx_log_quote(why, qwhy, sizeof(qwhy)));
}

static void uncount(struct transfer *t)
{
    if (t->counted) {
        t->conn->n_active--;
        t->counted = 0;
    }
}

/* Frees what only matters while bytes still flow: temporary file,
 * validator, chunks. Only when no job (of either chain) uses them. */
void xfer_drop_resources(struct transfer *t)
{
    budget_shrink(t->conn->srv, t, 0);
    if (t->tmp_open && t->partial && t->keep_partial) {
        partial_keep(&t->tmp);
        t->tmp_open = 0;
    }
    if (t->tmp_open) {
        sitx_tmpfile_discard(&t->tmp);
        t->tmp_open = 0;
    }
    sitx_image_validator_free(t->val);
    t->val = NULL;
    free(t->fill);
    t->fill = NULL;
    t->fill_len = 0;
    free(t->spare);
    t->spare = NULL;
    free(t->vbuf);
    t->vbuf = NULL;
}

/* Forgets t; when a job still uses it, the job's completion does it. */
void xfer_release(struct transfer *t)
{
    struct sitx_conn *c = t->conn;
    struct transfer **pp;
    int was_twin = !t->waiting_twin;

    if (t->job_busy || t->val_busy) {
        t->released = 1;
        atomic_store(&t->cancel, 1); /* nobody waits for the job's verdict */
        return;
    }
    if (c->rx_t == t) {
        c->rx_t = NULL;
    }
    for (pp = &c->transfers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    uncount(t);
    xfer_drop_resources(t);
    free(t);
    if (was_twin) {
        server_wake_twins(c->srv);
    }
    conn_rearm_deadline(c);
    conn_transfer_gone(c);
}

/* Whether an outcome leaves the image to a later attempt, which may then
 * resume from the partial: the receiver timed out, stopped or had no room
 * or memory now. A stored or refused image ends here, and so does its
 * partial. CANCELLED says nothing by itself: its reason decides (the
 * caller sets keep_partial). */
static void decide_partial(struct transfer *t, uint8_t status)
{
    switch (status) {
    case SITX_ST_TIMEOUT:
    case SITX_ST_SHUTTING_DOWN:
    case SITX_ST_RATE_LIMITED:
    case SITX_ST_DISK_FULL:
        t->keep_partial = 1;
        break;
    case SITX_ST_CANCELLED:
        break;
    default:
        t->keep_partial = 0;
        break;
    }
}

/* Answers now, logs, and forgets the transfer. */
void xfer_finish(struct transfer *t, uint8_t status, const char *msg, const char *name)
{
    if (!t->result_sent) {
        decide_partial(t, status);
        log_outcome(t, status, msg, name);
        send_result(t, status, msg, name);
    }
    t->state = XF_DONE;
    xfer_release(t);
}

/* Answers a failure before the transfer ran its course (deadline, shutdown,
 * a failure of ours mid-stream). DATA still on its way is dropped until END. */
void xfer_cancel(struct transfer *t, uint8_t status, const char *msg)
{
    int expect = COMMIT_OPEN;

    /* A validation still running stops at its next row or scan step. */
    atomic_store(&t->cancel, 1);
    decide_partial(t, status);

    switch (t->state) {
    case XF_CHECKING:
    case XF_RESUMING:
    case XF_ENDING:
        xfer_finish(t, status, msg, NULL);
        break;
    case XF_RECEIVING:
        log_outcome(t, status, msg, NULL);
        send_result(t, status, msg, NULL);
        t->state = XF_DISCARDING;
        if (!t->job_busy && !t->val_busy) {
            xfer_drop_resources(t);
        }
        break;
    case XF_STORING:
        /* The final job may be linking right now; only one of us may answer. */
        if (atomic_compare_exchange_strong(&t->commit, &expect, COMMIT_CANCELLED)) {
            log_outcome(t, status, msg, NULL);
            send_result(t, status, msg, NULL);
        }
        break;
    case XF_DISCARDING:
    case XF_DONE:
        break;
    }
}

uint64_t transfer_next_deadline(const struct sitx_conn *c)
{
    uint64_t best = 0;

    for (const struct transfer *t = c->transfers; t != NULL; t = t->next) {
        if (t->expired || t->result_sent || t->state == XF_DISCARDING || t->state == XF_DONE) {
            continue;
        }
        if (best == 0 || t->deadline_ms < best) {
            best = t->deadline_ms;
        }
    }
    return best;
}

/* The deadline passed while t waited for validation memory: the receiver
 * is busy, not the image at fault; the sender retries later. */
static void expire_busy(struct transfer *t)
{
    const struct recv_budget *b = &t->conn->srv->budget;
    char msg[SITX_TEXT_MAX + 1];

    snprintf(msg, sizeof(msg),
             "receiver busy: no validation memory came free before the deadline (this image "
             "needs %" PRIu64 " MiB, %" PRIu64 " of %" PRIu64 " MiB in use); retry later",
             t->mem_want >> 20, b->mem_reserved >> 20, b->mem_total >> 20);
    xfer_cancel(t, SITX_ST_RATE_LIMITED, msg);
}

void transfer_expire(struct sitx_conn *c, uint64_t now)
{
    struct transfer *t = c->transfers;
    char msg[SITX_TEXT_MAX + 1];

    answer_deadline_msg(c->srv->cfg->deadline_ms, msg, sizeof(msg));
    while (t != NULL) {
        struct transfer *next = t->next;

        if (!t->expired && !t->result_sent && t->deadline_ms <= now) {
            t->expired = 1;
            if (t->mem_wait != MEM_NONE) {
                expire_busy(t);
            } else {
                xfer_cancel(t, SITX_ST_TIMEOUT, msg);
            }
        }
        t = next;
    }
    /* A connection paused between images (all its transfer slots busy)
     * may take the next OFFER now. */
    if (c->paused) {
        conn_resume(c);
    }
}

void transfer_cancel_all(struct sitx_conn *c, uint8_t status, const char *message)
{
    struct transfer *t = c->transfers;

    while (t != NULL) {
        struct transfer *next = t->next;

        if (!t->result_sent) {
            t->expired = 1;
            xfer_cancel(t, status, message);
        }
        t = next;
    }
}

void transfer_conn_closing(struct sitx_conn *c)
{
    struct transfer *t = c->transfers;

    while (t != NULL) {
        struct transfer *next = t->next;

        switch (t->state) {
        case XF_CHECKING:
        case XF_RESUMING:
        case XF_RECEIVING:
            /* The sender is gone before all bytes came: nothing to store,
             * but what came stays as a partial (version 2) for a resume. */
            t->keep_partial = 1;
            log_aborted(t, "connection closed before END");
            t->result_sent = 1;
            t->state = XF_DONE;
            xfer_release(t);
            break;
        case XF_DISCARDING:
        case XF_DONE:
            t->state = XF_DONE;
            xfer_release(t);
            break;
        case XF_ENDING:
        case XF_STORING:
            /* Every byte arrived and checked out so far: finish storing, so a
             * resend after the lost receipt finds it as ALREADY_STORED. */
            break;
        }
        t = next;
    }
}
