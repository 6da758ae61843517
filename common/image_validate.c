/* Whole-buffer and streaming validation, and RGBA decoding, dispatched by
 * format. sitx_image_validate() is the streaming validator fed once, so the
 * two can never disagree. A PNG whose bytes the caller can read again goes
 * through a shortcut that only ever accepts what the streaming path
 * accepts (image_png_fast.c); when the shortcut steps aside, the streaming
 * path is fed everything again and decides. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image.h"
#include "image_internal.h"

/* Bytes the magic needs: 4 for PNG ("\x89PNG"), 3 for JPEG. */
#define MAGIC_MAX 4

struct sitx_image_validator {
    struct sitx_image_limits lim;
    struct sitx_image_ctl ctl;
    enum sitx_image_format format;
    struct sitx_png_stream *png;
    struct sitx_png_quick *quick; /* the shortcut, while it may still accept */
    struct sitx_jpeg_stream *jpeg;
    sitx_image_reread_fn reread;
    void *reread_ctx;
    uint64_t fed;            /* bytes given to the format's stream (or the shortcut) */
    uint64_t called;         /* bytes of the feed calls before this one */
    const uint8_t *cur;      /* this feed call's bytes, [called, called + its len) */
    uint8_t head[MAGIC_MAX]; /* first bytes, until the format is known */
    size_t head_len;
    int err; /* sticky */
    char errstr[SITX_IMAGE_ERR_MAX];
};

int sitx_image_validator_new(struct sitx_image_validator **out, const struct sitx_image_limits *lim)
{
    struct sitx_image_validator *v;

    *out = NULL;
    v = calloc(1, sizeof(*v));
    if (v == NULL) {
        return SITX_E_NOMEM;
    }
    if (lim != NULL) {
        v->lim = *lim;
    } else {
        sitx_image_limits_default(&v->lim);
    }
    *out = v;
    return 0;
}

static int fail(struct sitx_image_validator *v, int rc, const char *msg)
{
    v->err = rc;
    sitx_image_seterr(v->errstr, "%s", msg);
    return rc;
}

/* Bytes handed to step_aside() per read. */
#define REREAD_PIECE (64u * 1024)

/* Passes a format stream's error up, message included. */
static int take(struct sitx_image_validator *v, int rc)
{
    if (rc != 0 && v->err == 0) {
        const char *m =
            v->png != NULL ? sitx_png_stream_errstr(v->png) : sitx_jpeg_stream_errstr(v->jpeg);

        fail(v, rc, m);
    }
    return rc;
}

/* The shortcut cannot decide: the streaming path starts over on every byte
 * fed so far, read again from the caller, except those of the feed call
 * under way, which the caller may not have put anywhere yet. */
static int step_aside(struct sitx_image_validator *v)
{
    uint8_t *piece;
    uint64_t off = 0;
    int rc;

    sitx_png_quick_free(v->quick);
    v->quick = NULL;
    sitx_jpeg_stream_free(v->jpeg);
    v->jpeg = NULL;
    if ((v->format == SITX_IMAGE_PNG ? sitx_png_stream_new(&v->png, &v->lim, &v->ctl)
                                     : sitx_jpeg_stream_new(&v->jpeg, &v->lim, &v->ctl)) != 0) {
        return fail(v, SITX_E_NOMEM, "out of memory starting the decoder");
    }
    piece = malloc(REREAD_PIECE);
    if (piece == NULL) {
        return fail(v, SITX_E_NOMEM, "out of memory re-reading the image");
    }
    rc = 0;
    while (off < v->fed && rc == 0) {
        uint64_t end = off < v->called ? (v->fed < v->called ? v->fed : v->called) : v->fed;
        size_t want = end - off < REREAD_PIECE ? (size_t)(end - off) : REREAD_PIECE;
        const uint8_t *src = piece;
        int64_t n = (int64_t)want;

        if (off >= v->called) {
            src = v->cur + (off - v->called); /* still in the caller's hands */
        } else {
            n = v->reread(v->reread_ctx, off, piece, want);
        }
        if (n != (int64_t)want) {
            char m[SITX_IMAGE_ERR_MAX];

            sitx_image_seterr(m, "cannot read the image again: %s",
                              n < 0 ? sitx_strerror((int)n) : "short read");
            rc = fail(v, SITX_E_INTERNAL, m);
            break;
        }
        rc = take(v, v->png != NULL ? sitx_png_stream_feed(v->png, src, want)
                                    : sitx_jpeg_stream_feed(v->jpeg, src, want));
        off += want;
    }
    free(piece);
    return rc;
}

/* Bytes to the format's stream, through a shortcut while it lasts: the
 * PNG one in front of the stream, the JPEG one inside it. */
static int feed_format(struct sitx_image_validator *v, const uint8_t *buf, size_t len)
{
    int rc;

    if (v->quick != NULL) {
        rc = sitx_png_quick_feed(v->quick, buf, len);
        if (rc == SITX_E_CANCELLED) {
            return fail(v, rc, SITX_IMAGE_CANCEL_MSG);
        }
        if (rc == 0) {
            v->fed += len;
            return 0;
        }
        if (step_aside(v) != 0) {
            return v->err;
        }
    }
    if (v->png != NULL) {
        v->fed += len;
        return take(v, sitx_png_stream_feed(v->png, buf, len));
    }
    rc = sitx_jpeg_stream_feed(v->jpeg, buf, len);
    if (rc == SITX_IMAGE_MORE) {
        if (step_aside(v) != 0) {
            return v->err;
        }
        rc = sitx_jpeg_stream_feed(v->jpeg, buf, len);
    }
    v->fed += len;
    return take(v, rc);
}

static int start_format(struct sitx_image_validator *v)
{
    int rc;

    if (v->format == SITX_IMAGE_PNG && v->reread != NULL) {
        rc = sitx_png_quick_new(&v->quick, &v->lim, &v->ctl);
    } else if (v->format == SITX_IMAGE_PNG) {
        rc = sitx_png_stream_new(&v->png, &v->lim, &v->ctl);
    } else {
        rc = sitx_jpeg_stream_new(&v->jpeg, &v->lim, &v->ctl);
        if (rc == 0 && v->reread != NULL) {
            sitx_jpeg_stream_allow_quick(v->jpeg);
        }
    }
    if (rc != 0) {
        return fail(v, rc, "out of memory starting the decoder");
    }
    return feed_format(v, v->head, v->head_len);
}

static int not_an_image(struct sitx_image_validator *v)
{
    return fail(v, SITX_E_UNSUPPORTED, "not a PNG or JPEG image (unknown magic bytes)");
}

static int feed(struct sitx_image_validator *v, const uint8_t *buf, size_t len)
{
    if (v->err != 0) {
        return v->err;
    }
    /* Gather just enough of the start to tell the format. */
    while (v->format == SITX_IMAGE_UNKNOWN && len > 0) {
        size_t need;

        v->head[v->head_len++] = *buf++;
        len--;
        if (v->head[0] != 0x89 && v->head[0] != 0xFF) {
            return not_an_image(v);
        }
        need = v->head[0] == 0x89 ? 4 : 3;
        if (v->head_len == need) {
            v->format = sitx_image_detect(v->head, v->head_len);
            if (v->format == SITX_IMAGE_UNKNOWN) {
                return not_an_image(v);
            }
            if (start_format(v) != 0) {
                return v->err;
            }
        }
    }
    if (len == 0 && !v->ctl.held) {
        return 0;
    }
    return feed_format(v, buf, len);
}

int sitx_image_validator_feed(struct sitx_image_validator *v, const uint8_t *buf, size_t len)
{
    int rc;

    v->cur = buf;
    rc = feed(v, buf, len);
    v->called += len;
    v->cur = NULL;
    return rc;
}

int sitx_image_validator_finish(struct sitx_image_validator *v, struct sitx_image_info *info)
{
    struct sitx_image_info tmp;

    if (v->err != 0) {
        return v->err;
    }
    memset(&tmp, 0, sizeof(tmp));
    if (v->format == SITX_IMAGE_UNKNOWN) {
        return not_an_image(v);
    }
    if (v->quick != NULL) {
        if (sitx_png_quick_finish(v->quick, &tmp) == 0) {
            if (info != NULL) {
                *info = tmp;
            }
            return 0;
        }
        if (step_aside(v) != 0) {
            return v->err;
        }
    }
    if (v->png != NULL) {
        if (take(v, sitx_png_stream_finish(v->png, &tmp)) != 0) {
            return v->err;
        }
    } else {
        int rc = sitx_jpeg_stream_finish(v->jpeg, &tmp);

        if (rc == SITX_IMAGE_MORE) {
            if (step_aside(v) != 0) {
                return v->err;
            }
            rc = sitx_jpeg_stream_finish(v->jpeg, &tmp);
        }
        if (take(v, rc) != 0) {
            return v->err;
        }
    }
    if (info != NULL) {
        *info = tmp;
    }
    return 0;
}

const char *sitx_image_validator_errstr(const struct sitx_image_validator *v)
{
    return v->errstr;
}

uint64_t sitx_image_memory_floor(const struct sitx_image_limits *lim)
{
    uint64_t w = lim != NULL ? lim->max_width : 65535;
    uint64_t png = 3 * (8 * w + 64);          /* 3 rows of RGBA, 16 bits */
    uint64_t jpeg = (w / 8 + 2) * 32 * 2 * 4; /* see need_after_header() */

    return SITX_IMAGE_MEMORY_BASE + (png > jpeg ? png : jpeg);
}

void sitx_image_validator_set_budget(struct sitx_image_validator *v, uint64_t budget,
                                     uint64_t file_len)
{
    v->ctl.budget = budget;
    v->ctl.file_len = file_len;
}

uint64_t sitx_image_validator_need(const struct sitx_image_validator *v)
{
    return v->ctl.need;
}

int sitx_image_validator_held(const struct sitx_image_validator *v)
{
    return v->err == 0 && v->ctl.held && v->ctl.budget > 0 && v->ctl.need > v->ctl.budget;
}

void sitx_image_validator_set_reread(struct sitx_image_validator *v, sitx_image_reread_fn fn,
                                     void *ctx)
{
    v->reread = fn;
    v->reread_ctx = ctx;
}

void sitx_image_validator_set_cancel(struct sitx_image_validator *v, const atomic_int *cancel)
{
    v->ctl.cancel = cancel;
}

void sitx_image_validator_free(struct sitx_image_validator *v)
{
    if (v == NULL) {
        return;
    }
    sitx_png_stream_free(v->png);
    sitx_png_quick_free(v->quick);
    sitx_jpeg_stream_free(v->jpeg);
    free(v);
}

struct mem_src {
    const uint8_t *buf;
    size_t len;
};

static int64_t mem_reread(void *ctx, uint64_t off, uint8_t *out, size_t len)
{
    const struct mem_src *m = ctx;

    if (off > m->len || len > m->len - off) {
        return -EINVAL;
    }
    memcpy(out, m->buf + off, len);
    return (int64_t)len;
}

int sitx_image_validate(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                        struct sitx_image_info *info, char err[static SITX_IMAGE_ERR_MAX])
{
    struct sitx_image_validator *v = NULL;
    struct mem_src src = {buf, len};
    int rc;

    err[0] = '\0';
    if (sitx_image_detect(buf, len) == SITX_IMAGE_UNKNOWN) {
        sitx_image_seterr(err, "not a PNG or JPEG image (unknown magic bytes)");
        return SITX_E_UNSUPPORTED;
    }
    rc = sitx_image_validator_new(&v, lim);
    if (rc != 0) {
        sitx_image_seterr(err, "out of memory");
        return rc;
    }
    /* The bytes are all here: a PNG may take the shortcut. */
    sitx_image_validator_set_reread(v, mem_reread, &src);
    rc = sitx_image_validator_feed(v, buf, len);
    if (rc == 0) {
        rc = sitx_image_validator_finish(v, info);
    }
    if (rc != 0) {
        sitx_image_seterr(err, "%s", v->errstr);
    }
    sitx_image_validator_free(v);
    return rc;
}

int sitx_image_decode_rgba(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                           uint8_t **pixels, uint32_t *width, uint32_t *height,
                           char err[static SITX_IMAGE_ERR_MAX])
{
    struct sitx_image_limits def;

    *pixels = NULL;
    *width = 0;
    *height = 0;
    err[0] = '\0';
    if (lim == NULL) {
        sitx_image_limits_default(&def);
        lim = &def;
    }
    switch (sitx_image_detect(buf, len)) {
    case SITX_IMAGE_PNG:
        return sitx_png_decode_rgba(buf, len, lim, pixels, width, height, err);
    case SITX_IMAGE_JPEG:
        return sitx_jpeg_decode_rgba(buf, len, lim, pixels, width, height, err);
    case SITX_IMAGE_UNKNOWN:
        break;
    }
    sitx_image_seterr(err, "not a PNG or JPEG image (unknown magic bytes)");
    return SITX_E_UNSUPPORTED;
}
