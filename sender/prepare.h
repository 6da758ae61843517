/* Preparing one image for sending, in libuv's thread pool, in two jobs:
 *   prepare:  read the file, detect the format by content, recompress (or
 *             strip metadata) as asked, hash the payload, draw its id;
 *   validate: check the payload's structure under the limits
 *             (sitx_image_check_structure): chunks, CRCs, markers, sizes.
 * The full decode is the receiver's: it is the one that must not trust the
 * bytes, and decoding on both ends doubled what a transfer costs in CPU. The
 * check still catches truncated, mangled and unsupported files locally. It
 * runs while the image is already offered and streaming: only its END waits
 * for it. A payload that sitx_image_recompress rewrote was decoded there and
 * needs no second job. The loop thread only starts the jobs and picks up the
 * results. */
#ifndef SITX_SEND_PREPARE_H
#define SITX_SEND_PREPARE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "hash.h"
#include "image.h"
#include "msg.h"

#define PREPARE_ERR_MAX 256

struct prepare_job;
typedef void (*prepare_done_cb)(struct prepare_job *job);

struct prepare_job {
    uv_work_t req;
    /* In: set by the caller, read-only while the job runs. */
    const char *path;
    const struct sitx_image_opts *opts;
    const struct sitx_image_limits *limits;
    prepare_done_cb done;
    void *data;
    /* Out: valid in done(). */
    int rc;                    /* 0, -errno, or an enum sitx_err */
    int internal;              /* rc is our failure (no memory), not the file's */
    char err[PREPARE_ERR_MAX]; /* why, without the file name */
    uint8_t *payload;          /* malloc'd; the job's until taken */
    size_t len;
    uint64_t file_size;
    enum sitx_image_format format;      /* of the payload */
    enum sitx_image_format file_format; /* of the file as read */
    int validated;                      /* the payload was validated (rewritten) */
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    uint8_t id[SITX_TRANSFER_ID_BYTES];
};

/* Queues job on loop's thread pool; job->done runs on the loop thread when it
 * finishes (also when cancelled, with rc = UV_ECANCELED). Returns 0 or a
 * libuv error, in which case done is never called. */
int prepare_start(uv_loop_t *loop, struct prepare_job *job);

/* The work itself, synchronously: what the thread pool runs. */
void prepare_run(struct prepare_job *job);

/* Frees the payload if the job still owns it. */
void prepare_job_clear(struct prepare_job *job);

struct validate_job;
typedef void (*validate_done_cb)(struct validate_job *job);

struct validate_job {
    uv_work_t req;
    /* In: the buffer must stay alive and unchanged until done runs. */
    const uint8_t *buf;
    size_t len;
    enum sitx_image_format format;
    const struct sitx_image_limits *limits;
    validate_done_cb done;
    void *data;
    /* Out. */
    int rc;
    int internal;
    char err[PREPARE_ERR_MAX];
};

/* Queues the decode; done runs on the loop thread. Returns 0 or a libuv
 * error (done is then never called). */
int validate_start(uv_loop_t *loop, struct validate_job *job);

/* The decode itself, synchronously. */
void validate_run(struct validate_job *job);

#endif
