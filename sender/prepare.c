#include "prepare.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "secmem.h"

/* The wire carries sizes up to 2^63; memory runs out long before. */
#define FILE_MAX ((uint64_t)1 << 62)

static void set_err(struct prepare_job *job, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(struct prepare_job *job, int rc, const char *fmt, ...)
{
    va_list ap;

    job->rc = rc;
    va_start(ap, fmt);
    vsnprintf(job->err, sizeof(job->err), fmt, ap);
    va_end(ap);
}

/* Reads the whole regular file at job->path into a malloc'd buffer. */
static int read_whole(struct prepare_job *job, uint8_t **out, size_t *out_len)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t size;
    size_t got = 0;
    int fd;
    int rc;

    fd = open(job->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        set_err(job, rc, "cannot open: %s", strerror(errno));
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        set_err(job, rc, "cannot stat: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = SITX_E_INVALID;
        set_err(job, rc, "not a regular file");
        goto out;
    }
    if (st.st_size <= 0) {
        rc = SITX_E_BAD_IMAGE;
        set_err(job, rc, "empty file, not a PNG or JPEG image");
        goto out;
    }
    if ((uint64_t)st.st_size > FILE_MAX || (uint64_t)st.st_size > SIZE_MAX) {
        rc = SITX_E_TOO_LARGE;
        set_err(job, rc, "file too large (%lld bytes)", (long long)st.st_size);
        goto out;
    }
    size = (size_t)st.st_size;
    buf = malloc(size);
    if (buf == NULL) {
        rc = SITX_E_NOMEM;
        job->internal = 1;
        set_err(job, rc, "out of memory reading %zu bytes", size);
        goto out;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = -errno;
            set_err(job, rc, "read error: %s", strerror(errno));
            goto out;
        }
        if (n == 0) {
            break; /* shrank while we read: send what is there, validation judges it */
        }
        got += (size_t)n;
    }
    if (got == 0) {
        rc = SITX_E_BAD_IMAGE;
        set_err(job, rc, "empty file, not a PNG or JPEG image");
        goto out;
    }
    *out = buf;
    *out_len = got;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

/* Says why a decode failed, in words for the user. Returns internal. */
static int describe_invalid(char *err, size_t cap, int rc, enum sitx_image_format fmt,
                            const char *why)
{
    const char *name = sitx_image_format_name(fmt);

    if (rc == SITX_E_LIMIT) {
        snprintf(err, cap, "%s image over the size limits: %s", name, why);
    } else if (rc == SITX_E_UNSUPPORTED) {
        snprintf(err, cap, "not a PNG or JPEG image");
    } else if (rc == SITX_E_NOMEM) {
        snprintf(err, cap, "out of memory decoding the %s image", name);
        return 1;
    } else {
        snprintf(err, cap, "invalid %s image: %s", name, why);
    }
    return 0;
}

void prepare_run(struct prepare_job *job)
{
    uint8_t *file = NULL;
    size_t file_len = 0;
    struct sitx_buf out;
    enum sitx_image_format out_fmt = SITX_IMAGE_UNKNOWN;
    char why[SITX_IMAGE_ERR_MAX];
    int rc;

    sitx_buf_init(&out);
    why[0] = '\0';
    job->rc = 0;
    job->internal = 0;
    job->validated = 0;
    job->err[0] = '\0';
    rc = read_whole(job, &file, &file_len);
    if (rc != 0) {
        goto out;
    }
    job->file_size = file_len;
    job->file_format = sitx_image_detect(file, file_len);
    if (job->file_format != SITX_IMAGE_PNG && job->file_format != SITX_IMAGE_JPEG) {
        rc = SITX_E_UNSUPPORTED;
        set_err(job, rc, "not a PNG or JPEG image");
        goto out;
    }
    job->format = job->file_format;
    if (job->opts->mode != SITX_COMPRESS_NONE || job->opts->strip_metadata) {
        why[0] = '\0';
        rc = sitx_image_recompress(file, file_len, job->opts, &out, &out_fmt, why);
        if (rc == SITX_E_NOMEM) {
            job->internal = 1;
            set_err(job, rc, "out of memory recompressing the image");
            goto out;
        }
        if (rc != 0 && (job->opts->mode != SITX_COMPRESS_LOSSLESS || job->opts->strip_metadata)) {
            /* Sending the original instead would break a promise: lossy
             * asked for a smaller file, stripping for no metadata. */
            set_err(job, rc, "cannot recompress: %s", why[0] != '\0' ? why : sitx_strerror(rc));
            goto out;
        }
        /* Lossless that fails leaves the original, pixel for pixel the same. */
        if (rc == 0 && out.len > 0) {
            if (out_fmt != SITX_IMAGE_PNG && out_fmt != SITX_IMAGE_JPEG) {
                rc = SITX_E_INTERNAL;
                job->internal = 1;
                set_err(job, rc, "recompression gave an unknown format");
                goto out;
            }
            free(file);
            file = out.data;
            file_len = out.len;
            sitx_buf_init(&out);
            job->format = out_fmt;
            job->validated = 1; /* sitx_image_recompress validates what it writes */
        }
        rc = 0;
    }
    sitx_content_hash(job->hash, file, file_len);
    randombytes_buf(job->id, sizeof(job->id));
    job->payload = file;
    job->len = file_len;
    file = NULL;
out:
    job->rc = rc;
    sitx_buf_clear(&out);
    free(file);
}

static void on_work(uv_work_t *req)
{
    prepare_run(req->data);
}

static void on_after_work(uv_work_t *req, int status)
{
    struct prepare_job *job = req->data;

    if (status != 0) {
        job->rc = status;
        job->internal = 1;
        snprintf(job->err, sizeof(job->err), "not prepared: %s", uv_strerror(status));
    }
    job->done(job);
}

int prepare_start(uv_loop_t *loop, struct prepare_job *job)
{
    job->req.data = job;
    job->payload = NULL;
    job->len = 0;
    return uv_queue_work(loop, &job->req, on_work, on_after_work);
}

void prepare_job_clear(struct prepare_job *job)
{
    free(job->payload);
    job->payload = NULL;
    job->len = 0;
}

void validate_run(struct validate_job *job)
{
    struct sitx_image_info info;
    char why[SITX_IMAGE_ERR_MAX];

    why[0] = '\0';
    job->internal = 0;
    job->err[0] = '\0';
    job->rc = sitx_image_check_structure(job->buf, job->len, job->limits, &info, why);
    if (job->rc != 0) {
        job->internal = describe_invalid(job->err, sizeof(job->err), job->rc, job->format, why);
    }
}

static void on_validate_work(uv_work_t *req)
{
    validate_run(req->data);
}

static void on_validate_done(uv_work_t *req, int status)
{
    struct validate_job *job = req->data;

    if (status != 0) {
        job->rc = status;
        job->internal = 1;
        snprintf(job->err, sizeof(job->err), "not validated: %s", uv_strerror(status));
    }
    job->done(job);
}

int validate_start(uv_loop_t *loop, struct validate_job *job)
{
    job->req.data = job;
    return uv_queue_work(loop, &job->req, on_validate_work, on_validate_done);
}
