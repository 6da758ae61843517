/* One image from OFFER to END: the offer checks, the dedup look-up (and
 * the wait for a twin still in flight), DATA copied into chunks that store.c
 * jobs write and hash one at a time, so the loop only decrypts and copies,
 * the validation chain that reads the written bytes back behind them (and
 * owns the memory budget's waits, so a slow or held validation never
 * pauses the wire), and the completions of those jobs. outcome.c ends
 * transfers. */
#include "transfer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "answer.h"
#include "budget.h"
#include "conn.h"
#include "err.h"
#include "hook.h"
#include "index.h"
#include "log.h"
#include "name.h"
#include "partial.h"
#include "record.h"
#include "server.h"
#include "store.h"

/* Bytes that accepted transfers may still write, over the whole server: the
 * free-space check reserves them so that parallel offers cannot overbook. */
static uint64_t pending_bytes(const struct sitx_server *srv)
{
    uint64_t sum = 0;

    for (const struct sitx_conn *c = srv->conns; c != NULL; c = c->next) {
        for (const struct transfer *t = c->transfers; t != NULL; t = t->next) {
            /* What is not on disk yet: received bytes may still wait for
             * their write job, and statvfs does not see them. A failed
             * transfer's file is gone. */
            if ((t->state == XF_RESUMING || t->state == XF_RECEIVING || t->state == XF_ENDING) &&
                t->fail_status == 0) {
                sum += t->size - (t->written < t->size ? t->written : t->size);
            }
        }
    }
    return sum;
}

/* ACCEPT at offset (with its prefix hash in version 2); DATA may come. */
static void send_accept(struct transfer *t, uint64_t offset)
{
    struct sitx_conn *c = t->conn;
    struct sitx_accept acc;
    uint8_t rec[64];
    size_t len = 0;

    memset(&acc, 0, sizeof(acc));
    memcpy(acc.id, t->id, sizeof(acc.id));
    acc.offset = offset;
    if (offset > 0) {
        memcpy(acc.prefix_hash, t->prefix_hash, sizeof(acc.prefix_hash));
    }
    if (sitx_accept_encode_v(&acc, c->version, rec, sizeof(rec), &len) != 0 ||
        conn_send_record(c, rec, len) != 0) {
        xfer_finish(t, SITX_ST_INTERNAL, "cannot send ACCEPT", NULL);
        return;
    }
    t->received = offset;
    t->written = offset;
    t->val_pos = offset; /* a resumed prefix was validated while re-read */
    t->state = XF_RECEIVING;
}

/* Version 2: the partial of this image, held (locked) for this transfer,
 * or 0 when there is none to use (another transfer holds it, or it cannot
 * be opened: then the image goes the old way, to a temporary file). */
static int open_partial(struct transfer *t)
{
    struct sitx_conn *c = t->conn;
    struct sitx_server *srv = c->srv;
    char name[PARTIAL_NAME_LEN + 1];
    int rc;

    if (c->version < SITX_PROTO_V2 || srv->partial_fd < 0) {
        return 0;
    }
    partial_name(c->mode, c->sender_id, t->format, t->size, t->offer_hash, name);
    rc = partial_open(srv->partial_fd, name, t->size, srv->cfg->partial_ttl_ms,
                      partial_now_ms(), &t->tmp);
    if (rc != 0) {
        sitx_log(SITX_LOG_DEBUG, "partial-unavailable", "peer=%s error=%s", c->peer,
                 sitx_strerror(rc));
        return 0;
    }
    t->partial = 1;
    t->tmp_open = 1;
    return 1;
}

/* A fresh validator for t, under the memory it holds. */
static int new_validator(struct transfer *t)
{
    struct sitx_server *srv = t->conn->srv;

    sitx_image_validator_free(t->val);
    t->val = NULL;
    if (sitx_image_validator_new(&t->val, &srv->limits) != 0) {
        return -1;
    }
    sitx_image_validator_set_budget(t->val, t->mem_held, t->size);
    sitx_image_validator_set_cancel(t->val, &t->cancel);
    /* What it was fed is on disk: a PNG may take the shortcut. */
    sitx_image_validator_set_reread(t->val, store_reread, t);
    return 0;
}

/* The next chunk of the partial, or ACCEPT once all of it is re-read. */
static void resume_next(struct transfer *t)
{
    if (t->resume_pos < t->resume_off) {
        if (store_prefix(t) != 0) {
            xfer_finish(t, SITX_ST_INTERNAL, "cannot queue the re-reading of a partial", NULL);
        }
        return;
    }
    sitx_log(SITX_LOG_INFO, "resume", "peer=%s key=%s offset=%" PRIu64 " bytes=%" PRIu64,
             t->conn->peer, t->conn->keyfp, t->resume_off, t->size);
    send_accept(t, t->resume_off);
}

/* The partial did not check out (unreadable, or not the start of a valid
 * image): start over from 0 in the same file. */
static void resume_restart(struct transfer *t, const char *why)
{
    int rc = partial_restart(&t->tmp);

    sitx_log(SITX_LOG_NOTICE, "resume-restart", "peer=%s key=%s offset=%" PRIu64 " reason=%s",
             t->conn->peer, t->conn->keyfp, t->resume_off, why);
    if (rc != 0 || new_validator(t) != 0) {
        xfer_finish(t, SITX_ST_INTERNAL, "cannot start the partial over", NULL);
        return;
    }
    sitx_content_hash_init(&t->hash);
    t->resume_off = 0;
    t->resume_pos = 0;
    send_accept(t, 0);
}

/* Free space, temporary file (or partial), validator, first chunk, then
 * ACCEPT, or first the re-reading of the partial's bytes; the memory
 * floor is reserved. */
static void open_receive(struct transfer *t)
{
    struct sitx_conn *c = t->conn;
    struct sitx_server *srv = c->srv;
    char msg[SITX_TEXT_MAX + 1];
    int64_t avail;
    uint64_t reserved;
    uint64_t held = 0;
    uint64_t need;
    int rc;

    avail = sitx_fs_free_bytes(srv->inbox_fd);
    if (avail < 0) {
        snprintf(msg, sizeof(msg), "cannot read the free space: %s", sitx_strerror((int)avail));
        xfer_finish(t, SITX_ST_INTERNAL, msg, NULL);
        return;
    }
    if (open_partial(t)) {
        held = t->tmp.written; /* already on the disk, so not needed again */
    }
    reserved = pending_bytes(srv);
    need = (t->size - held) + srv->cfg->min_free;
    need = need < t->size - held ? UINT64_MAX : need;
    need = need + reserved < need ? UINT64_MAX : need + reserved;
    if ((uint64_t)avail < need) {
        snprintf(msg, sizeof(msg),
                 "%" PRIu64 " bytes free, %" PRIu64 " needed with the reserve of %" PRIu64,
                 (uint64_t)avail, need, srv->cfg->min_free);
        t->keep_partial = 1; /* no room now is no reason to lose what came */
        xfer_finish(t, SITX_ST_DISK_FULL, msg, NULL);
        return;
    }
    if (!t->partial) {
        rc = sitx_tmpfile_open(&t->tmp, srv->inbox_fd);
        if (rc != 0) {
            snprintf(msg, sizeof(msg), "cannot create a temporary file: %s", sitx_strerror(rc));
            xfer_finish(t, store_status_for_errno(rc), msg, NULL);
            return;
        }
        t->tmp_open = 1;
    }
    if (new_validator(t) != 0) {
        xfer_finish(t, SITX_ST_INTERNAL, "cannot start the image validator", NULL);
        return;
    }
    t->chunk_cap = t->size < XFER_CHUNK ? (size_t)t->size : XFER_CHUNK;
    t->fill = malloc(t->chunk_cap);
    if (t->fill == NULL) {
        xfer_finish(t, SITX_ST_INTERNAL, "out of memory", NULL);
        return;
    }
    sitx_content_hash_init(&t->hash);
    if (held > 0) {
        /* Counted as pending from here (size - received), like DATA to come. */
        t->resume_off = held;
        t->resume_pos = 0;
        t->received = held;
        t->state = XF_RESUMING;
        resume_next(t);
        return;
    }
    send_accept(t, 0);
}

static uint64_t mib(uint64_t bytes)
{
    return (bytes + (1u << 20) - 1) >> 20;
}

/* Before ACCEPT: the memory any validation may need before its header is
 * known, now or after a wait in the queue (transfer_mem_granted). */
static void start_receive(struct transfer *t)
{
    struct sitx_server *srv = t->conn->srv;
    uint64_t floor = sitx_image_memory_floor(&srv->limits);
    char msg[SITX_TEXT_MAX + 1];

    switch (budget_reserve(srv, t, floor, MEM_FLOOR)) {
    case 1:
        open_receive(t);
        break;
    case 0:
        break;
    default:
        snprintf(msg, sizeof(msg),
                 "validation needs at least %" PRIu64 " MiB, more than the receiver's %" PRIu64
                 " MiB (--validation-memory)",
                 mib(floor), mib(srv->budget.mem_total));
        xfer_finish(t, SITX_ST_INTERNAL, msg, NULL);
        break;
    }
}

/* After a validation or prefix job fed the validator: once the header is
 * known, the reservation becomes what this image needs. Returns 0 to go
 * on, 1 when t waits for memory, -1 when it was refused (t may be gone). */
static int check_need(struct transfer *t)
{
    struct sitx_server *srv = t->conn->srv;
    char msg[SITX_TEXT_MAX + 1];
    uint64_t need;

    if (t->mem_wait != MEM_NONE) {
        return 1;
    }
    if (t->val == NULL || t->fail_status != 0) {
        return 0;
    }
    need = sitx_image_validator_need(t->val);
    if (need == 0 || need == t->mem_held) {
        return 0;
    }
    if (need < t->mem_held) {
        budget_shrink(srv, t, need);
        sitx_image_validator_set_budget(t->val, need, t->size);
        return 0;
    }
    switch (budget_reserve(srv, t, need, MEM_GROW)) {
    case 1:
        sitx_image_validator_set_budget(t->val, need, t->size);
        return 0;
    case 0:
        return 1;
    default:
        break;
    }
    snprintf(msg, sizeof(msg),
             "validating this image needs %" PRIu64 " MiB of memory, more than the receiver's %" PRIu64
             " MiB for all validations (--validation-memory)",
             mib(need), mib(srv->budget.mem_total));
    xfer_cancel(t, SITX_ST_TOO_LARGE, msg);
    return -1;
}

static int same_sender(const struct sitx_conn *a, const struct sitx_conn *b)
{
    return a->authed && b->authed && sodium_memcmp(a->sender_id, b->sender_id, 32) == 0;
}

/* A transfer of the same content from the same sender that may still end
 * up stored. An offer with such a twin waits for it (a resend racing its
 * first copy, or the same image twice in a batch), so no content is stored
 * twice for one sender. */
static const struct transfer *find_twin(const struct sitx_server *srv, const struct transfer *t)
{
    for (const struct sitx_conn *c = srv->conns; c != NULL; c = c->next) {
        if (!same_sender(c, t->conn)) {
            continue;
        }
        for (const struct transfer *o = c->transfers; o != NULL; o = o->next) {
            if (o != t && !o->waiting_twin && !o->result_sent &&
                (o->state == XF_RESUMING || o->state == XF_RECEIVING || o->state == XF_ENDING ||
                 o->state == XF_STORING) &&
                sodium_memcmp(o->offer_hash, t->offer_hash, SITX_CONTENT_HASH_BYTES) == 0) {
                return o;
            }
        }
    }
    return NULL;
}

/* Already stored (verify the file first), being stored by a twin (wait for
 * it), or new (receive it). use_index is 0 right after a failed verification. */
static void decide(struct transfer *t, int use_index)
{
    struct sitx_server *srv = t->conn->srv;
    const char *hit = NULL;

    if (use_index) {
        hit = index_find(srv->index, t->conn->sender_id, t->offer_hash);
    }
    if (hit != NULL) {
        snprintf(t->stored, sizeof(t->stored), "%s", hit);
        if (store_verify(t, t->stored) == 0) {
            return;
        }
    }
    if (find_twin(srv, t) != NULL) {
        t->waiting_twin = 1;
        return;
    }
    start_receive(t);
}

/* The first offer waiting for a twin that has none any more, or NULL. */
static struct transfer *next_waiter(const struct sitx_server *srv)
{
    for (struct sitx_conn *c = srv->conns; c != NULL; c = c->next) {
        if (c->state != CONN_OPEN) {
            continue; /* closing: its transfers are being dropped */
        }
        for (struct transfer *t = c->transfers; t != NULL; t = t->next) {
            if (t->waiting_twin && t->state == XF_CHECKING && find_twin(srv, t) == NULL) {
                return t;
            }
        }
    }
    return NULL;
}

void transfer_wake_twins(struct sitx_server *srv)
{
    struct transfer *t;

    /* Each round settles one waiter (ALREADY_STORED check, or it becomes the
     * twin the others wait for), and rescans, since deciding may release
     * transfers anywhere. */
    while ((t = next_waiter(srv)) != NULL) {
        t->waiting_twin = 0;
        decide(t, 1);
    }
}

int transfer_on_offer(struct sitx_conn *c, const struct sitx_offer *offer)
{
    struct sitx_server *srv = c->srv;
    const struct recv_config *cfg = srv->cfg;
    struct transfer *t;
    char msg[SITX_TEXT_MAX + 1];
    uint64_t wait_ms;

    if (c->rx_t != NULL) {
        if (c->rx_t->state != XF_DISCARDING) {
            conn_violation(c, "OFFER while transfer %s is in progress",
                           c->rx_t->state == XF_CHECKING ? "being checked" : "receiving");
            return -1;
        }
        /* Told TIMEOUT, the sender moved on without END: fine. */
        xfer_release(c->rx_t);
        c->rx_t = NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        conn_close(c, "out-of-memory");
        return -1;
    }
    t->conn = c;
    t->state = XF_CHECKING;
    memcpy(t->id, offer->id, sizeof(t->id));
    t->format = offer->format;
    t->size = offer->size;
    memcpy(t->offer_hash, offer->hash, sizeof(t->offer_hash));
    /* A relative path keeps its (sanitised) directories under the inbox. */
    sitx_name_sanitize_path(offer->name, strlen(offer->name),
                            sitx_image_ext((enum sitx_image_format)offer->format), t->name,
                            sizeof(t->name));
    t->started_ms = uv_now(srv->loop);
    t->deadline_ms = t->started_ms + cfg->deadline_ms;
    atomic_init(&t->commit, COMMIT_OPEN);
    t->next = c->transfers;
    c->transfers = t;

    if (c->stopping) {
        xfer_finish(t, SITX_ST_SHUTTING_DOWN, "the receiver is stopping", NULL);
        return 0;
    }
    if (t->size > cfg->max_size) {
        snprintf(msg, sizeof(msg), "image is %" PRIu64 " bytes, the limit is %" PRIu64, t->size,
                 cfg->max_size);
        xfer_finish(t, SITX_ST_TOO_LARGE, msg, NULL);
        return 0;
    }
    if (t->format != SITX_FMT_PNG && t->format != SITX_FMT_JPEG) {
        xfer_finish(t, SITX_ST_BAD_IMAGE, "format is neither PNG nor JPEG", NULL);
        return 0;
    }
    if (c->n_active >= XFER_PER_CONN_MAX) {
        xfer_finish(t, SITX_ST_RATE_LIMITED, "too many transfers on this connection", NULL);
        return 0;
    }
    if (server_sender_transfers(srv, c->sender_id) >= cfg->max_transfers_per_sender) {
        snprintf(msg, sizeof(msg), "this sender already has %" PRIu64 " transfers in progress",
                 cfg->max_transfers_per_sender);
        xfer_finish(t, SITX_ST_RATE_LIMITED, msg, NULL);
        return 0;
    }
    wait_ms = budget_cpu_wait_ms(&srv->budget, c->sender_id, t->started_ms);
    if (wait_ms > 0) {
        snprintf(msg, sizeof(msg),
                 "this sender used its validation CPU budget of %" PRIu64
                 " s per minute; retry in %" PRIu64 " s",
                 cfg->validation_cpu_ms / 1000, (wait_ms + 999) / 1000);
        xfer_finish(t, SITX_ST_RATE_LIMITED, msg, NULL);
        return 0;
    }
    t->counted = 1;
    c->n_active++;
    c->rx_t = t;
    decide(t, 1);
    conn_rearm_deadline(c);
    return 0;
}

/* Hands the full chunk to a write job and starts filling the other one. */
static int submit_fill(struct transfer *t)
{
    uint8_t *buf = t->fill;
    size_t len = t->fill_len;
    uint8_t *next = t->spare;

    if (next == NULL) {
        next = malloc(t->chunk_cap);
        if (next == NULL) {
            return SITX_E_NOMEM;
        }
    }
    t->spare = NULL;
    t->fill = next;
    t->fill_len = 0;
    return store_write(t, buf, len);
}

int transfer_ready_for_frame(struct sitx_conn *c)
{
    struct transfer *t = c->rx_t;
    uint64_t room;

    if (t == NULL) {
        /* Between images: earlier ones may still validate; the next OFFER
         * waits for one of them to end rather than be refused. */
        return c->n_active < XFER_PER_CONN_MAX;
    }
    if (t->state != XF_RECEIVING) {
        return 1;
    }
    if (t->val_busy && t->received - t->val_pos > XFER_LAG_MAX) {
        return 0; /* the validation job's completion resumes reading */
    }
    room = t->size - t->received;
    room = room > SITX_DATA_MAX ? SITX_DATA_MAX : room;
    if (t->chunk_cap - t->fill_len >= room) {
        return 1;
    }
    if (t->job_busy) {
        return 0; /* the write job's completion resumes reading */
    }
    if (submit_fill(t) != 0) {
        xfer_cancel(t, SITX_ST_INTERNAL, "cannot queue a write");
    }
    return 1;
}

int transfer_on_data(struct sitx_conn *c, const uint8_t *bytes, size_t len)
{
    struct transfer *t = c->rx_t;

    if (t == NULL) {
        conn_violation(c, "DATA without an accepted offer");
        return -1;
    }
    if (t->state == XF_DISCARDING) {
        return 0;
    }
    if (t->state != XF_RECEIVING) {
        conn_violation(c, "DATA before ACCEPT");
        return -1;
    }
    if (len > t->size - t->received) {
        conn_violation(c, "more DATA than the %" PRIu64 " bytes offered", t->size);
        return -1;
    }
    if (t->chunk_cap - t->fill_len < len) {
        /* transfer_ready_for_frame() makes room before each record. */
        xfer_cancel(t, SITX_ST_INTERNAL, "no room for DATA");
        return 0;
    }
    memcpy(t->fill + t->fill_len, bytes, len);
    t->fill_len += len;
    t->received += len;
    if (t->fill_len == t->chunk_cap && !t->job_busy && t->received < t->size) {
        if (submit_fill(t) != 0) {
            xfer_cancel(t, SITX_ST_INTERNAL, "cannot queue a write");
        }
    }
    return 0;
}

/* The next piece of validation, when the chain is idle, may go on (no
 * failure, no wait for memory) and bytes written are not validated yet. */
static int kick_validation(struct transfer *t)
{
    uint64_t left = t->written - t->val_pos;
    size_t len;

    if (t->val_busy || t->mem_wait != MEM_NONE || t->fail_status != 0 || !t->tmp_open ||
        t->val == NULL || left == 0) {
        return 0;
    }
    if (t->vbuf == NULL) {
        t->vbuf = malloc(t->chunk_cap);
        if (t->vbuf == NULL) {
            return SITX_E_NOMEM;
        }
    }
    len = left < t->chunk_cap ? (size_t)left : t->chunk_cap;
    return store_validate(t, t->val_pos, len);
}

/* Starts whatever may run now in a receiving or ended transfer: the
 * write of a full (or, after END, the last) chunk, the next piece of
 * validation, and once both chains are done with every byte, the final
 * job. May answer t (and release it). */
static void advance(struct transfer *t)
{
    if (t->state == XF_RECEIVING && !t->job_busy && t->fill_len == t->chunk_cap &&
        t->received < t->size && submit_fill(t) != 0) {
        xfer_cancel(t, SITX_ST_INTERNAL, "cannot queue a write");
        return;
    }
    if (t->state == XF_ENDING && !t->job_busy && t->fill != NULL) {
        uint8_t *buf = t->fill;
        size_t len = t->fill_len;

        t->fill = NULL;
        t->fill_len = 0;
        if (len == 0) {
            free(buf);
        } else if (store_write(t, buf, len) != 0) {
            xfer_finish(t, SITX_ST_INTERNAL, "cannot queue a write", NULL);
            return;
        }
    }
    if (t->state != XF_RECEIVING && t->state != XF_ENDING) {
        return;
    }
    if (kick_validation(t) != 0) {
        xfer_cancel(t, SITX_ST_INTERNAL, "cannot queue a validation");
        return;
    }
    if (t->state == XF_ENDING && !t->job_busy && t->fill == NULL && !t->val_busy &&
        t->mem_wait == MEM_NONE && (t->fail_status != 0 || t->val_pos == t->size)) {
        free(t->vbuf);
        t->vbuf = NULL;
        t->state = XF_STORING;
        if (store_final(t) != 0) {
            xfer_finish(t, SITX_ST_INTERNAL, "cannot queue the final store job", NULL);
        }
    }
}

/* After a failure: the space goes back as soon as no job uses the file;
 * the hash still runs so END can be checked. */
static void drop_failed_file(struct transfer *t)
{
    if (t->fail_status != 0 && t->tmp_open && !t->job_busy && !t->val_busy &&
        !(t->partial && t->keep_partial)) {
        sitx_tmpfile_discard(&t->tmp);
        t->tmp_open = 0;
    }
}

int transfer_on_end(struct sitx_conn *c, const struct sitx_end *end)
{
    struct transfer *t = c->rx_t;
    char qname[1100];

    if (t == NULL) {
        conn_violation(c, "END without an accepted offer");
        return -1;
    }
    if (t->state == XF_DISCARDING) {
        xfer_release(t);
        return 0;
    }
    if (t->state != XF_RECEIVING) {
        conn_violation(c, "END before ACCEPT");
        return -1;
    }
    if (t->received != t->size) {
        conn_violation(c, "END after %" PRIu64 " of %" PRIu64 " bytes", t->received, t->size);
        return -1;
    }
    memcpy(t->end_hash, end->hash, sizeof(t->end_hash));
    c->rx_t = NULL;
    /* How far validation trails the wire when the last byte is in. */
    sitx_log(SITX_LOG_DEBUG, "ended", "peer=%s key=%s file=%s bytes=%" PRIu64 " validated=%" PRIu64,
             c->peer, c->keyfp, sitx_log_quote(t->name, qname, sizeof(qname)), t->size, t->val_pos);
    free(t->spare);
    t->spare = NULL;
    t->state = XF_ENDING;
    advance(t);
    return 0;
}

int transfer_on_cancel(struct sitx_conn *c, const struct sitx_cancel *m)
{
    struct transfer *t;
    char msg[SITX_TEXT_MAX + 1];

    for (t = c->transfers; t != NULL; t = t->next) {
        if (!t->result_sent && sodium_memcmp(t->id, m->id, SITX_TRANSFER_ID_BYTES) == 0) {
            break;
        }
    }
    /* Only an image the sender may still stream can be withdrawn: once END
     * came (ENDING, STORING) its RESULT is on the way; a RESULT that went
     * out may have crossed this CANCEL. Neither is answered. */
    if (t == NULL ||
        (t->state != XF_CHECKING && t->state != XF_RESUMING && t->state != XF_RECEIVING)) {
        return 0;
    }
    /* Stopped by its user, the image comes again later: what arrived is
     * kept for a resume. A local failure (a wrong prefix among them) is
     * the end of these bytes. */
    t->keep_partial = m->reason == SITX_CANCEL_INTERRUPTED;
    answer_cancel_msg(m, msg, sizeof(msg));
    /* No more DATA or END comes for it: the next record may be an OFFER. */
    if (c->rx_t == t) {
        c->rx_t = NULL;
    }
    xfer_finish(t, SITX_ST_CANCELLED, msg, NULL);
    return 0;
}

void transfer_write_done(struct transfer *t, int rc, uint8_t *buf, size_t len)
{
    struct sitx_conn *c = t->conn;

    if (t->spare == NULL && t->state == XF_RECEIVING && !t->released) {
        t->spare = buf;
    } else {
        free(buf);
    }
    if (t->released) {
        xfer_release(t);
        return;
    }
    if (rc == 0 && t->fail_status == 0) {
        t->written += len;
    } else if (t->fail_status == 0) {
        t->fail_status = store_status_for_errno(rc);
        snprintf(t->fail_msg, sizeof(t->fail_msg), "writing the image failed: %s",
                 sitx_strerror(rc));
        budget_shrink(c->srv, t, 0); /* the validator is done with */
    }
    drop_failed_file(t);
    if (t->state == XF_DISCARDING) {
        if (!t->val_busy) {
            xfer_drop_resources(t);
        }
        return;
    }
    advance(t);
}

void transfer_validate_done(struct transfer *t, int rc, uint8_t vstatus, const char *vmsg,
                            size_t len)
{
    struct sitx_conn *c = t->conn;

    if (t->released) {
        xfer_release(t);
        return;
    }
    if (t->fail_status == 0 && vstatus != 0) {
        t->fail_status = vstatus;
        snprintf(t->fail_msg, sizeof(t->fail_msg), "%s", vmsg);
    } else if (t->fail_status == 0 && rc != 0) {
        t->fail_status = SITX_ST_INTERNAL;
        snprintf(t->fail_msg, sizeof(t->fail_msg), "reading the image back failed: %s",
                 sitx_strerror(rc));
    } else if (t->fail_status == 0) {
        t->val_pos += len;
    }
    if (t->fail_status != 0) {
        budget_shrink(c->srv, t, 0); /* the validator is done with */
        drop_failed_file(t);
    }
    if (t->state == XF_DISCARDING) {
        if (!t->job_busy) {
            xfer_drop_resources(t);
        }
        return;
    }
    if (t->state != XF_RECEIVING && t->state != XF_ENDING) {
        return;
    }
    /* Once the header is known: this image's memory, perhaps after a wait
     * (transfer_mem_granted goes on), during which its bytes go to disk. */
    if (check_need(t) != 0) {
        return;
    }
    advance(t);
}

void transfer_prefix_done(struct transfer *t, int rc, uint8_t vstatus)
{
    char why[SITX_TEXT_MAX + 1];

    if (t->released) {
        xfer_release(t);
        return;
    }
    if (t->state != XF_RESUMING) {
        return; /* answered meanwhile (deadline, shutdown) */
    }
    if (rc != 0 || vstatus != 0) {
        snprintf(why, sizeof(why), "%s",
                 rc != 0 ? sitx_strerror(rc) : sitx_image_validator_errstr(t->val));
        resume_restart(t, why);
        return;
    }
    switch (check_need(t)) {
    case 0:
        resume_next(t);
        break;
    case 1:
        break; /* transfer_mem_granted goes on */
    default:
        break; /* refused, t is answered */
    }
}

void transfer_verify_done(struct transfer *t, int found)
{
    if (t->released || t->state != XF_CHECKING) {
        xfer_release(t);
        return;
    }
    if (found) {
        xfer_finish(t, SITX_ST_ALREADY_STORED, "", t->stored);
        return;
    }
    decide(t, 0);
}

void transfer_mem_granted(struct transfer *t)
{
    struct sitx_conn *c = t->conn;

    if (t->state == XF_CHECKING) {
        open_receive(t);
        return;
    }
    if (t->val != NULL) {
        sitx_image_validator_set_budget(t->val, t->mem_held, t->size);
    }
    switch (t->state) {
    case XF_RESUMING:
        if (!t->job_busy) {
            resume_next(t);
        }
        break;
    case XF_RECEIVING:
    case XF_ENDING:
        advance(t);
        break;
    case XF_STORING:
        if (!t->job_busy && store_final(t) != 0) {
            xfer_finish(t, SITX_ST_INTERNAL, "cannot queue the final store job", NULL);
        }
        break;
    case XF_CHECKING:
    case XF_DISCARDING:
    case XF_DONE:
        break;
    }
    if (c->paused) {
        conn_resume(c);
    }
}

void transfer_final_done(struct transfer *t, uint8_t status, const char *msg,
                         const char *stored_name)
{
    struct sitx_conn *c = t->conn;
    struct sitx_server *srv = c->srv;
    char hex[SITX_CONTENT_HASH_BYTES * 2 + 1];
    struct hook_info hi;

    if (status == STORE_CANCELLED || t->result_sent) {
        t->state = XF_DONE;
        xfer_release(t);
        return;
    }
    if (status == STORE_HELD) {
        /* The header came with the last bytes: memory first, then the rest. */
        switch (check_need(t)) {
        case 0:
            if (store_final(t) != 0) {
                xfer_finish(t, SITX_ST_INTERNAL, "cannot queue the final store job", NULL);
            }
            break;
        case 1:
            break;
        default:
            t->state = XF_DONE;
            xfer_release(t);
            break;
        }
        return;
    }
    if (status == SITX_ST_OK) {
        c->n_stored++;
        if (index_add(srv->index, c->sender_id, t->offer_hash, stored_name) != 0) {
            sitx_log(SITX_LOG_WARNING, "index-add-failed", "error=out-of-memory");
        }
        if (srv->hooks != NULL) {
            sodium_bin2hex(hex, sizeof(hex), t->offer_hash, SITX_CONTENT_HASH_BYTES);
            hi.name = stored_name;
            hi.size = t->size;
            hi.sender = c->keyfp;
            hi.peer = c->peer;
            hi.hash_hex = hex;
            hook_run(srv->hooks, &hi);
        }
    }
    xfer_finish(t, status, msg, stored_name);
}
