/* One image on one connection, from OFFER to RESULT: the offer checks, DATA
 * batched into chunks that thread-pool jobs write and hash, the validation
 * that follows them from the temporary file, END, the deadline, and the
 * one RESULT (and log line) per image. */
#ifndef SITX_RECV_TRANSFER_H
#define SITX_RECV_TRANSFER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "image.h"
#include "msg.h"
#include "safefile.h"

struct sitx_conn;
struct sitx_server;

/* Bytes of DATA gathered before a write job takes them. */
#define XFER_CHUNK (256u * 1024u)
/* How far the wire may run ahead of a validation that is making progress.
 * It bounds the wait between END and RESULT (a sender gives up on a silent
 * receiver): about half a second of PNG inflate. A validation waiting for
 * memory does not hold the wire. */
#define XFER_LAG_MAX (16u * 1024u * 1024u)
/* Transfers one connection may have open at once (some validating or
 * storing, one arriving). Past it the connection reads no further record
 * until one ends: backpressure, not a refusal. */
#define XFER_PER_CONN_MAX 4

enum xfer_state {
    XF_CHECKING,   /* OFFER seen, the dedup index hit is being verified */
    XF_RESUMING,   /* a partial was found: its bytes are re-read before ACCEPT */
    XF_RECEIVING,  /* ACCEPT sent: DATA arrives */
    XF_ENDING,     /* END seen: the last writes or the validation still run */
    XF_STORING,    /* the final job runs: hash check, validation, commit */
    XF_DISCARDING, /* RESULT already sent: DATA is dropped until END */
    XF_DONE,       /* outcome decided; released when no job runs */
};

/* Who wins between the final job (about to link the file) and a deadline or
 * shutdown (about to answer TIMEOUT / SHUTTING_DOWN). */
enum xfer_commit {
    COMMIT_OPEN = 0,
    COMMIT_LINKING,
    COMMIT_CANCELLED,
};

struct transfer {
    struct transfer *next; /* in conn->transfers */
    struct sitx_conn *conn;
    enum xfer_state state;

    uint8_t id[SITX_TRANSFER_ID_BYTES];
    uint8_t format;
    uint64_t size;
    uint8_t offer_hash[SITX_CONTENT_HASH_BYTES];
    uint8_t end_hash[SITX_CONTENT_HASH_BYTES];
    char name[SITX_NAME_MAX + 1];   /* sanitised name asked for */
    char stored[SITX_NAME_MAX + 1]; /* name of the dedup hit being verified */

    uint64_t received;
    uint64_t started_ms;  /* uv_now at OFFER */
    uint64_t deadline_ms; /* uv_now value when it expires */
    int counted;          /* in conn->n_active and the server's reserved bytes */
    int job_busy;         /* a write, prefix, verify or final job runs (store.h) */
    int val_busy;         /* a validation job runs (store.h) */
    int result_sent;
    int expired;      /* the deadline fired (or a cancel was tried) */
    int waiting_twin; /* CHECKING: waits for a twin transfer of the same content */
    int released;     /* release was asked for while a job ran */

    /* A failure seen while DATA still arrives, answered at END. */
    uint8_t fail_status;
    char fail_msg[SITX_TEXT_MAX + 1];

    /* tmp's writes and hash: owned by the job in flight while job_busy;
     * val and vbuf while val_busy (which also reads tmp); else by the loop. */
    struct sitx_tmpfile tmp;
    int tmp_open;
    struct sitx_content_hash hash;
    struct sitx_image_validator *val;
    uint8_t *vbuf;    /* chunk_cap bytes read back for the validator */
    uint64_t written; /* bytes in tmp, as write jobs reported them (loop) */
    uint64_t val_pos; /* of those, fed to the validator so far (loop) */
    /* Set when nobody waits for the verdict any more (deadline, shutdown,
     * sender gone): the validator stops at its next row or scan step. */
    atomic_int cancel;
    uint8_t *fill; /* chunk being filled */
    size_t fill_len;
    size_t chunk_cap;
    uint8_t *spare; /* the other chunk, handed back by the last write job */
    /* Resume (version 2, PROTOCOL.md §7 rule 7): tmp is then the partial. */
    int partial;          /* tmp is INBOX/.sitx-partial/<name>, kept or deleted at the end */
    int keep_partial;     /* when tmp is dropped, keep it for the next attempt */
    uint64_t resume_off;  /* bytes the partial held at OFFER: ACCEPT's offset */
    uint64_t resume_pos;  /* of those, re-read into hash and validator so far */
    uint8_t prefix_hash[SITX_CONTENT_HASH_BYTES]; /* of the resume_off bytes */
    uint64_t validate_ns; /* time spent in the validator, for /metrics */
    uint32_t width;       /* of the validated image, for the web page */
    uint32_t height;
    atomic_int commit;

    /* Validation memory (budget.c), loop thread only. */
    uint64_t mem_held;          /* reserved now */
    uint64_t mem_want;          /* asked for while waiting */
    int mem_wait;               /* enum mem_wait */
    struct transfer *mem_next;  /* in a budget wait queue */
    uint64_t cpu_ns;            /* validation CPU so far */
};

/* Record handlers, called by the connection for an authenticated sender.
 * They return 0, or a negative value after the connection was closed for a
 * protocol violation. */
int transfer_on_offer(struct sitx_conn *c, const struct sitx_offer *offer);
int transfer_on_data(struct sitx_conn *c, const uint8_t *bytes, size_t len);
int transfer_on_end(struct sitx_conn *c, const struct sitx_end *end);
/* Version 2: the sender withdraws an image it offered and has not ended:
 * RESULT CANCELLED, temporary data dropped. An id it has no open transfer
 * for (answered already, or never offered) is ignored. Returns 0. */
int transfer_on_cancel(struct sitx_conn *c, const struct sitx_cancel *m);

/* 1 when the next record may be taken (a DATA record would fit in the
 * chunk, possibly after handing the full chunk to a write job; or, between
 * images, the connection has room for another transfer), 0 when reading
 * must pause until a job returns. */
int transfer_ready_for_frame(struct sitx_conn *c);

/* Expires the transfers whose deadline passed at now (RESULT TIMEOUT). */
void transfer_expire(struct sitx_conn *c, uint64_t now);
/* Earliest deadline among transfers that can still time out, or 0. */
uint64_t transfer_next_deadline(const struct sitx_conn *c);
/* Cuts every transfer with RESULT status (SHUTTING_DOWN), when still possible. */
void transfer_cancel_all(struct sitx_conn *c, uint8_t status, const char *message);
/* The connection is closing: drop the transfers whose sender is gone
 * (checking, receiving); the ones whose bytes all arrived go on storing. */
void transfer_conn_closing(struct sitx_conn *c);

/* Settles the offers that waited for a twin transfer which has ended.
 * Runs from a zero timer (server_wake_twins), never inside another walk. */
void transfer_wake_twins(struct sitx_server *srv);

/* budget.c: the memory t waited for is reserved; go on. */
void transfer_mem_granted(struct transfer *t);

/* store.c completions (loop thread). */
/* A write job hashed len bytes and, rc 0, wrote them; buf is handed back. */
void transfer_write_done(struct transfer *t, int rc, uint8_t *buf, size_t len);
void transfer_verify_done(struct transfer *t, int found);
/* A chunk of the partial was re-read: rc 0 or -errno, vstatus non-zero
 * when the validator refused it. */
void transfer_prefix_done(struct transfer *t, int rc, uint8_t vstatus);
/* A validation job fed len bytes (rc 0 or -errno from reading them back,
 * vstatus non-zero when the validator refused them). */
void transfer_validate_done(struct transfer *t, int rc, uint8_t vstatus, const char *vmsg,
                            size_t len);
void transfer_final_done(struct transfer *t, uint8_t status, const char *msg,
                         const char *stored_name);

/* outcome.c, for transfer.c. */
/* Answers now (unless already answered), logs, and releases. */
void xfer_finish(struct transfer *t, uint8_t status, const char *msg, const char *name);
/* Answers a failure before the transfer ran its course; DATA still coming is dropped. */
void xfer_cancel(struct transfer *t, uint8_t status, const char *msg);
/* Forgets t, or marks it so that the completion of the job using it does. */
void xfer_release(struct transfer *t);
/* Temporary file, validator and chunks; only while no job uses them. */
void xfer_drop_resources(struct transfer *t);

#endif
