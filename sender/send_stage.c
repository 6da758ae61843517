/* The run's thread-pool jobs: prepare (read, detect, recompress, hash) at
 * most PREPARE_AHEAD images ahead of the sending, and validate images in
 * order while they are already being offered and streamed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "prepare.h"
#include "send_int.h"

/* Decodes at once, oldest first: one per connection, so that each
 * connection's held END waits for one decode, not for a crowd of images
 * further back sharing the cores (the receiver needs them too). */
#define VALIDATING_MAX CONN_MAX

struct prep {
    struct prepare_job job;
    struct sitx_image_opts opts; /* the job's own copy: the link speed changes */
    struct send_ctx *s;
    struct image *im;
};

struct check {
    struct validate_job job;
    struct send_ctx *s;
    struct image *im;
};

static void queue_validation(struct send_ctx *s, struct image *im)
{
    im->vnext = NULL;
    if (s->val_tail != NULL) {
        s->val_tail->vnext = im;
    } else {
        s->val_head = im;
    }
    s->val_tail = im;
}

static void on_prepared(struct prepare_job *job)
{
    struct prep *p = (struct prep *)job;
    struct send_ctx *s = p->s;
    struct image *im = p->im;

    im->file_size = job->file_size;
    if (job->rc != 0) {
        image_set_state(s, im, IMG_NEW);
        report_error(s->rep, "%s: %s", im->path, job->err);
        image_finish(s, im, job->internal ? OUTCOME_INTERNAL : OUTCOME_LOCAL,
                     job->internal ? "INTERNAL_ERROR" : "LOCAL_ERROR", job->err);
        goto out;
    }
    im->payload = job->payload;
    im->len = job->len;
    job->payload = NULL;
    im->format = job->format;
    memcpy(im->hash, job->hash, sizeof(im->hash));
    memcpy(im->id, job->id, sizeof(im->id));
    im->prepared = 1;
    offer_path(im->offer_src, job->format != job->file_format, sitx_image_ext(job->format),
               im->name, sizeof(im->name));
    sitx_log(SITX_LOG_DEBUG, "prepared", "file=%s format=%s bytes=%zu file_bytes=%" PRIu64,
             im->name, sitx_image_format_name(im->format), im->len, im->file_size);
    /* Under a fatal error the step ends it with the others. */
    im->valid = job->validated ? 1 : 0;
    if (im->valid == 0) {
        queue_validation(s, im);
    }
    ready_push(s, im, 0);
out:
    prepare_job_clear(job);
    free(p);
    run_step(s);
}

void stage_start_prepares(struct send_ctx *s)
{
    while (s->next_new < s->n && s->ahead < PREPARE_AHEAD) {
        struct image *im = &s->images[s->order[s->next_new++]];
        struct prep *p = calloc(1, sizeof(*p));
        int rc;

        if (p == NULL) {
            image_finish(s, im, OUTCOME_INTERNAL, "INTERNAL_ERROR", "out of memory");
            continue;
        }
        p->s = s;
        p->im = im;
        p->job.path = im->path;
        p->opts = s->cfg->image;
        p->opts.link_bytes_per_sec = s->link_bps;
        p->job.opts = &p->opts;
        p->job.limits = &s->cfg->limits;
        p->job.done = on_prepared;
        rc = prepare_start(&s->loop, &p->job);
        if (rc != 0) {
            free(p);
            image_finish(s, im, OUTCOME_INTERNAL, "INTERNAL_ERROR", uv_strerror(rc));
            continue;
        }
        image_set_state(s, im, IMG_PREPARING);
    }
}

static void on_validated(struct validate_job *job)
{
    struct check *c = (struct check *)job;
    struct send_ctx *s = c->s;
    struct image *im = c->im;

    im->validating = 0;
    s->validating--;
    if (im->state == IMG_DONE) {
        /* Decided meanwhile (say ALREADY_STORED at OFFER): only the buffer
         * was waiting for us. */
        free(im->payload);
        im->payload = NULL;
        goto out;
    }
    if (job->rc == 0) {
        im->valid = 1;
        goto out;
    }
    im->valid = -1;
    snprintf(im->error, sizeof(im->error), "%s", job->err);
    report_error(s->rep, "%s: %s", im->path, job->err);
    if (im->state == IMG_READY) {
        ready_unlink(s, im);
        image_finish(s, im, job->internal ? OUTCOME_INTERNAL : OUTCOME_LOCAL,
                     job->internal ? "INTERNAL_ERROR" : "LOCAL_ERROR", job->err);
    }
    /* Offered or streaming: its END withdraws it (see send_conn.c). */
out:
    free(c);
    run_step(s);
}

static int start_validation(struct send_ctx *s, struct image *im)
{
    struct check *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL) {
        return SITX_E_NOMEM;
    }
    c->s = s;
    c->im = im;
    c->job.buf = im->payload;
    c->job.len = im->len;
    c->job.format = im->format;
    c->job.limits = &s->cfg->limits;
    c->job.done = on_validated;
    rc = validate_start(&s->loop, &c->job);
    if (rc != 0) {
        free(c);
        return rc;
    }
    im->validating = 1;
    s->validating++;
    return 0;
}

void stage_start_validations(struct send_ctx *s)
{
    while (s->val_head != NULL && s->validating < VALIDATING_MAX) {
        struct image *im = s->val_head;

        s->val_head = im->vnext;
        if (s->val_head == NULL) {
            s->val_tail = NULL;
        }
        im->vnext = NULL;
        if (im->state == IMG_DONE) {
            continue; /* decided without it (a refusal, a fatal error) */
        }
        if (start_validation(s, im) != 0) {
            if (im->state == IMG_READY) {
                ready_unlink(s, im);
            }
            if (im->conn != NULL) {
                conn_inflight_remove(im->conn, im);
            }
            image_finish(s, im, OUTCOME_INTERNAL, "INTERNAL_ERROR", "cannot queue the validation");
        }
    }
}
