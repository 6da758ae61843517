/* JPEG validation as bytes arrive: a suspending libjpeg source over the
 * caller's bytes, with only the unconsumed tail (a marker segment or one MCU
 * in progress) kept between feeds. sitx_image_validate() runs the same code
 * on the whole buffer, so the two always agree.
 *
 * Every entropy-coded coefficient is decoded, at 1/8 scale: libjpeg then
 * parses each Huffman code as usual but keeps only the DC term and skips
 * the inverse DCT of the AC coefficients, so the cost is close to
 * jpeg_read_coefficients() while a sequential file needs one MCU row of
 * memory instead of the whole coefficient image (progressive and other
 * multi-scan files need it either way).
 *
 * Arithmetic-coded files cannot suspend in libjpeg, so for those the bytes
 * are held until finish (bounded by lim->max_memory).
 *
 * With a memory budget (image.h), the stream stops after the header when
 * the image needs more than it, before libjpeg allocates the coefficient
 * image, and goes on from its window once the budget was raised.
 *
 * A file may take a shortcut after its header (allow_quick,
 * image_jpeg_fast.c): the bytes from the first scan on go to it instead of
 * libjpeg, and when it steps aside the caller starts over without it.
 *
 * Two things keep the verdict independent of how the bytes arrive: libjpeg
 * gets its input in pieces too small for its fast Huffman path (src_fill),
 * and a walk over the marker structure holds back runs of 0xFF in
 * entropy-coded data until they are known to be valid (image_jpeg_walk.c). */
#include <stdlib.h>
#include <string.h>

#include <jerror.h>

#include "err.h"
#include "image_jpeg_internal.h"

/* New bytes are appended to a non-empty window this many at a time. */
#define WINDOW_STEP (64 * 1024)
/* A marker segment is at most 64 KiB, an MCU a few KiB, and what arrives
 * while a validation waits for memory after its header is one caller's
 * piece (256 KiB in the receiver), so a window this large means the data is
 * not a JPEG we can stream. SITX_IMAGE_MEMORY_BASE counts it. */
#define WINDOW_MAX (1024u * 1024)
/* Bytes handed to libjpeg at a time: under 512 (see src_fill). */
#define PIECE 511

enum stage {
    ST_HEADER,
    ST_START,
    ST_QUICK, /* the shortcut has the bytes from the first scan on */
    ST_ROWS,
    ST_FINISH,
    ST_DONE,
};

struct sitx_jpeg_stream {
    struct jpeg_decompress_struct cinfo;
    struct sitx_jpeg_err jerr;
    struct sitx_jpeg_progress progress;
    struct jpeg_source_mgr src;
    struct sitx_image_limits lim;
    struct sitx_image_ctl *ctl;
    int created;
    enum stage stage;
    int eof;      /* finish was called: no more bytes will come */
    int hold_all; /* arithmetic coding: keep every byte until finish */
    int may_quick;
    struct sitx_jpeg_quick *quick;
    int err;      /* sticky */
    uint8_t *win; /* bytes fed but not consumed by libjpeg */
    size_t win_len;
    uint64_t win_at; /* offset in the file of win[0] */
    uint64_t fed;    /* bytes fed so far */
    size_t win_cap;
    size_t skip; /* bytes of a skipped marker that have not arrived yet */
    /* The bytes the decoder may read (caller's or window) are handed out
     * in pieces of at most PIECE bytes; see src_fill(). */
    const JOCTET *data_end;
    const JOCTET *piece; /* the piece handed out last */
    size_t piece_len;
    const JOCTET *resume; /* where decoding resumes after a suspension */
    JSAMPARRAY rows;
    struct sitx_jpeg_walk walk;
    struct sitx_image_info info;
    char errstr[SITX_IMAGE_ERR_MAX];
};

static void src_init(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

/* Hands out the next piece of bytes, or suspends (FALSE) when there is no
 * more yet; at the end behaves as jpeg_mem_src: a "premature end" warning
 * (which refuses the image) and a fake EOI.
 *
 * Pieces are small so that libjpeg-turbo never takes its fast Huffman path,
 * which it takes only with 512 bytes or more per block of an MCU at hand:
 * the fast path decodes a bad Huffman code as 0 without a warning, where the
 * slow one warns, so the verdict would depend on how the bytes arrived.
 *
 * On a call, cinfo->src still says where libjpeg last committed its
 * progress (a whole MCU or marker): that is where it resumes after a
 * suspension, unless it is still the piece we handed out last, in which
 * case nothing was committed since and the earlier point stands. */
static boolean src_fill(j_decompress_ptr cinfo)
{
    static const JOCTET fake_eoi[2] = {0xFF, JPEG_EOI};
    struct sitx_jpeg_stream *s = cinfo->client_data;
    struct jpeg_source_mgr *src = cinfo->src;
    const JOCTET *next = s->piece + s->piece_len;
    size_t n;

    if (src->next_input_byte != s->piece) {
        s->resume = src->next_input_byte;
    }
    if (next < s->data_end) {
        n = (size_t)(s->data_end - next);
        s->piece = next;
        s->piece_len = n < PIECE ? n : PIECE;
        src->next_input_byte = s->piece;
        src->bytes_in_buffer = s->piece_len;
        return TRUE;
    }
    if (!s->eof) {
        return FALSE;
    }
    WARNMS(cinfo, JWRN_JPEG_EOF);
    src->next_input_byte = fake_eoi;
    src->bytes_in_buffer = sizeof(fake_eoi);
    s->piece = fake_eoi;
    s->piece_len = sizeof(fake_eoi);
    s->data_end = fake_eoi + sizeof(fake_eoi);
    return TRUE;
}

/* Hands out bytes from p on (a fresh piece, and libjpeg's resume point). */
static void hand_out(struct sitx_jpeg_stream *s, const JOCTET *p)
{
    size_t n = (size_t)(s->data_end - p);

    s->piece = p;
    s->piece_len = n < PIECE ? n : PIECE;
    s->resume = p;
    s->src.next_input_byte = p;
    s->src.bytes_in_buffer = s->piece_len;
}

/* Must not suspend: what is not there yet is skipped on arrival. libjpeg
 * has committed its progress before skipping, so this is a resume point. */
static void src_skip(j_decompress_ptr cinfo, long num_bytes)
{
    struct sitx_jpeg_stream *s = cinfo->client_data;
    const JOCTET *at = cinfo->src->next_input_byte;
    size_t left = (size_t)(s->data_end - at);

    if (num_bytes <= 0) {
        return;
    }
    if ((size_t)num_bytes > left) {
        s->skip += (size_t)num_bytes - left;
        hand_out(s, s->data_end);
        return;
    }
    hand_out(s, at + num_bytes);
}

static void src_term(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

static void record_error(struct sitx_jpeg_stream *s)
{
    s->err = s->jerr.rc != 0 ? s->jerr.rc : SITX_E_BAD_IMAGE;
    memcpy(s->errstr, s->jerr.msg, sizeof(s->errstr));
    if (s->errstr[0] == '\0') {
        sitx_image_seterr(s->errstr, "JPEG: decoding failed");
    }
}

/* What the rest of the decode needs at most (image.h). Single-scan: a few
 * rows of blocks at 1/8 scale (component buffers, upsampling, output
 * rows: some 10 bytes a block column a component), 32 is generous; multi-scan:
 * the whole coefficient image on top; arithmetic: the whole file too. */
static uint64_t need_after_header(const struct sitx_jpeg_stream *s)
{
    j_decompress_ptr c = (j_decompress_ptr)&s->cinfo;
    uint64_t need = SITX_IMAGE_MEMORY_BASE;
    int ci;

    for (ci = 0; ci < c->num_components; ci++) {
        need += ((uint64_t)c->comp_info[ci].width_in_blocks + 2) * 32 *
                (uint64_t)c->comp_info[ci].v_samp_factor;
    }
    if (c->progressive_mode || c->comps_in_scan < c->num_components) {
        need += sitx_jpeg_coef_bytes(c);
    }
    if (c->arith_code) {
        need += s->ctl->file_len > 0 ? s->ctl->file_len : s->fed;
    }
    return need;
}

static void after_header(struct sitx_jpeg_stream *s)
{
    j_decompress_ptr c = &s->cinfo;

    sitx_jpeg_apply_limits(c, &s->lim, &s->progress);
    s->info.format = SITX_IMAGE_JPEG;
    s->info.width = c->image_width;
    s->info.height = c->image_height;
    s->info.components = c->num_components;
    s->info.progressive = c->progressive_mode != 0;
    s->hold_all = c->arith_code != 0;
    s->progress.ctl = s->ctl;
    s->ctl->need = need_after_header(s);
    c->scale_num = 1;
    c->scale_denom = 8;
    c->dct_method = JDCT_IFAST;
    c->do_fancy_upsampling = FALSE;
    c->do_block_smoothing = FALSE;
}

/* Drives the decoder as far as the bytes in cinfo.src allow. Returns 0
 * (suspended or done) or the sticky error. */
static int run(struct sitx_jpeg_stream *s)
{
    j_decompress_ptr c = &s->cinfo;

    if (setjmp(s->jerr.jb) != 0) {
        record_error(s);
        return s->err;
    }
    for (;;) {
        switch (s->stage) {
        case ST_HEADER:
            if (jpeg_read_header(c, TRUE) == JPEG_SUSPENDED) {
                return 0;
            }
            after_header(s);
            s->stage = ST_START;
            break;
        case ST_START:
            if (s->ctl->budget > 0 && s->ctl->need > s->ctl->budget) {
                /* Wait for memory before libjpeg allocates it. */
                s->ctl->held = 1;
                s->resume = c->src->next_input_byte;
                return 0;
            }
            s->ctl->held = 0;
            if (s->hold_all && !s->eof) {
                s->resume = c->src->next_input_byte; /* the header is done */
                return 0;
            }
            if (s->may_quick && s->quick == NULL) {
                if (sitx_jpeg_quick_new(&s->quick, c, &s->lim, s->ctl) != 0) {
                    sitx_jpeg_fail((j_common_ptr)c, SITX_E_NOMEM, "JPEG: out of memory");
                }
                if (s->quick != NULL) {
                    s->stage = ST_QUICK;
                    s->resume = c->src->next_input_byte;
                    return 0;
                }
            }
            if (!jpeg_start_decompress(c)) {
                return 0;
            }
            s->rows = (*c->mem->alloc_sarray)((j_common_ptr)c, JPOOL_IMAGE,
                                              c->output_width * c->output_components,
                                              (JDIMENSION)c->rec_outbuf_height);
            s->stage = ST_ROWS;
            break;
        case ST_QUICK:
            return 0;
        case ST_ROWS:
            while (c->output_scanline < c->output_height) {
                if (jpeg_read_scanlines(c, s->rows, (JDIMENSION)c->rec_outbuf_height) == 0) {
                    return 0;
                }
            }
            s->stage = ST_FINISH;
            break;
        case ST_FINISH:
            if (!jpeg_finish_decompress(c)) {
                return 0;
            }
            s->stage = ST_DONE;
            break;
        case ST_DONE:
            return 0;
        }
    }
}

static int fail(struct sitx_jpeg_stream *s, int rc, const char *msg)
{
    s->err = rc;
    sitx_image_seterr(s->errstr, "%s", msg);
    return rc;
}

static int win_append(struct sitx_jpeg_stream *s, const uint8_t *buf, size_t n)
{
    size_t need = s->win_len + n;
    size_t max = s->hold_all ? (size_t)s->lim.max_memory : WINDOW_MAX;
    char m[SITX_IMAGE_ERR_MAX];

    if (n > SIZE_MAX - s->win_len || need > max) {
        sitx_image_seterr(m,
                          "JPEG: more than %zu bytes held back while streaming "
                          "(memory limit)",
                          max);
        return fail(s, SITX_E_LIMIT, m);
    }
    if (need > s->win_cap) {
        size_t cap = s->win_cap < 4096 ? 4096 : s->win_cap;
        uint8_t *p;

        while (cap < need) {
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        }
        /* Held whole: one block of the file's length, not twice it. */
        if (s->hold_all && s->ctl->file_len >= need && s->ctl->file_len <= max) {
            cap = (size_t)s->ctl->file_len;
        }
        p = realloc(s->win, cap);
        if (p == NULL) {
            return fail(s, SITX_E_NOMEM, "JPEG: out of memory for the input window");
        }
        s->win = p;
        s->win_cap = cap;
    }
    memcpy(s->win + s->win_len, buf, n);
    s->win_len = need;
    return 0;
}

/* Keeps [from, end) at the front of the window (from may already be in
 * it), less what libjpeg asked to skip. at is the file offset of from. */
static int keep_rest(struct sitx_jpeg_stream *s, const uint8_t *from, const uint8_t *end,
                     uint64_t at)
{
    size_t n = (size_t)(end - from);
    size_t drop = s->skip < n ? s->skip : n;

    s->skip -= drop;
    from += drop;
    n -= drop;
    s->win_at = at + drop;
    if (s->win != NULL && from >= s->win && from <= s->win + s->win_len) {
        if (n > 0 && from != s->win) {
            memmove(s->win, from, n);
        }
        s->win_len = n;
        return 0;
    }
    s->win_len = 0;
    return n > 0 ? win_append(s, from, n) : 0;
}

/* How many bytes from the file offset at libjpeg may see, of avail. */
static size_t releasable(const struct sitx_jpeg_stream *s, uint64_t at, size_t avail)
{
    uint64_t safe = s->eof ? UINT64_MAX : s->walk.safe;

    if (safe <= at) {
        return 0;
    }
    return safe - at < avail ? (size_t)(safe - at) : avail;
}

/* The shortcut's verdict becomes the stream's. */
static int quick_verdict(struct sitx_jpeg_stream *s, int rc)
{
    if (rc != 0 && rc != SITX_IMAGE_MORE) {
        return fail(s, rc, sitx_jpeg_quick_errstr(s->quick));
    }
    s->err = rc; /* 0, or SITX_IMAGE_MORE: step aside */
    return rc;
}

/* Bytes for the shortcut. */
static int to_quick(struct sitx_jpeg_stream *s, const uint8_t *p, const uint8_t *end)
{
    return quick_verdict(s, sitx_jpeg_quick_feed(s->quick, p, (size_t)(end - p)));
}

/* Runs the decoder over [p, end). */
static int run_on(struct sitx_jpeg_stream *s, const JOCTET *p, const JOCTET *end)
{
    s->data_end = end;
    hand_out(s, p);
    return run(s);
}

int sitx_jpeg_stream_new(struct sitx_jpeg_stream **out, const struct sitx_image_limits *lim,
                         struct sitx_image_ctl *ctl)
{
    struct sitx_jpeg_stream *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL) {
        return SITX_E_NOMEM;
    }
    s->lim = *lim;
    s->ctl = ctl;
    sitx_jpeg_walk_init(&s->walk);
    s->cinfo.err = sitx_jpeg_err_init(&s->jerr, 1, lim->max_memory);
    if (setjmp(s->jerr.jb) != 0) {
        int rc = s->jerr.rc != 0 ? s->jerr.rc : SITX_E_NOMEM;

        if (s->created) {
            jpeg_destroy_decompress(&s->cinfo);
        }
        free(s);
        return rc;
    }
    jpeg_create_decompress(&s->cinfo);
    s->created = 1;
    s->cinfo.client_data = s;
    s->src.init_source = src_init;
    s->src.fill_input_buffer = src_fill;
    s->src.skip_input_data = src_skip;
    s->src.resync_to_restart = jpeg_resync_to_restart;
    s->src.term_source = src_term;
    s->cinfo.src = &s->src;
    *out = s;
    return 0;
}

/* Bytes that arrived while the stream waited after its header: appended
 * to the window, which the next feed after the wait runs over. */
static int feed_held(struct sitx_jpeg_stream *s, const uint8_t *buf, size_t len)
{
    sitx_jpeg_walk(&s->walk, buf, len);
    s->fed += len;
    return len > 0 ? win_append(s, buf, len) : 0;
}

/* The budget was raised: go on from the window, as after any suspension. */
static int resume_held(struct sitx_jpeg_stream *s)
{
    static const JOCTET none[1] = {0};
    size_t n;

    s->ctl->held = 0;
    if (s->win_len == 0) {
        return run_on(s, none, none);
    }
    if (s->hold_all) {
        return run_on(s, s->win, s->win + s->win_len);
    }
    /* Even with nothing releasable (a fill-byte fault right after the
     * header), libjpeg runs: what it has seen may already be wrong (bad
     * scan parameters), and that verdict comes first, as when unheld. */
    n = releasable(s, s->win_at, s->win_len);
    if (run_on(s, s->win, s->win + n) == 0 && s->stage == ST_QUICK) {
        int rc = to_quick(s, s->resume, s->win + s->win_len);

        s->win_len = 0;
        return rc;
    }
    if (s->err == 0 && s->stage != ST_DONE) {
        return keep_rest(s, s->resume, s->win + s->win_len,
                         s->win_at + (uint64_t)(s->resume - s->win));
    }
    return s->err;
}

/* libjpeg saw everything before a fill-byte fault, and only that, whatever
 * the chunking: its own verdict on those bytes comes first, then this one.
 * Not while it waits for memory after the header: it has seen none of them
 * yet, and gives its verdict once the budget lets it go on. */
static int check_fill_fault(struct sitx_jpeg_stream *s)
{
    if (s->err == 0 && s->walk.bad && s->stage != ST_DONE && s->stage != ST_QUICK &&
        !s->ctl->held) {
        fail(s, SITX_E_BAD_IMAGE, "JPEG: fill bytes before a stuffed zero in entropy-coded data");
    }
    return s->err;
}

int sitx_jpeg_stream_feed(struct sitx_jpeg_stream *s, const uint8_t *buf, size_t len)
{
    uint64_t at;

    if (s->err != 0 || s->stage == ST_DONE) {
        return s->err;
    }
    if (sitx_image_cancelled(s->ctl)) {
        return fail(s, SITX_E_CANCELLED, "JPEG: " SITX_IMAGE_CANCEL_MSG);
    }
    if (s->ctl->held) {
        if (s->ctl->need > s->ctl->budget && s->ctl->budget > 0) {
            return feed_held(s, buf, len);
        }
        if (resume_held(s) != 0 || s->stage == ST_DONE) {
            return s->err;
        }
    }
    if (s->stage == ST_QUICK) {
        s->fed += len;
        return to_quick(s, buf, buf + len);
    }
    at = s->fed;
    sitx_jpeg_walk(&s->walk, buf, len);
    s->fed += len;
    while (s->err == 0 && len > 0 && s->stage != ST_DONE) {
        size_t n;

        if (s->skip > 0 && s->win_len == 0) {
            n = len < s->skip ? len : s->skip;
            s->skip -= n;
            buf += n;
            len -= n;
            at += n;
            continue;
        }
        if (s->win_len == 0 && !s->hold_all) {
            /* Straight from the caller's bytes; only the tail is copied. */
            n = releasable(s, at, len);
            if (n > 0 && (run_on(s, buf, buf + n) != 0 || s->stage == ST_DONE)) {
                break;
            }
            if (n > 0 && s->stage == ST_QUICK) {
                to_quick(s, s->resume, buf + len);
                break;
            }
            if (n == 0) {
                s->resume = buf;
            }
            keep_rest(s, s->resume, buf + len, at + (uint64_t)(s->resume - buf));
            len = 0;
            continue;
        }
        n = s->hold_all || len < WINDOW_STEP ? len : WINDOW_STEP;
        if (win_append(s, buf, n) != 0) {
            break;
        }
        buf += n;
        len -= n;
        at += n;
        if (s->hold_all) {
            continue;
        }
        n = releasable(s, s->win_at, s->win_len);
        if (n > 0 && (run_on(s, s->win, s->win + n) != 0 || s->stage == ST_DONE)) {
            break;
        }
        if (n > 0 && s->stage == ST_QUICK) {
            if (to_quick(s, s->resume, s->win + s->win_len) == 0) {
                to_quick(s, buf, buf + len);
            }
            s->win_len = 0;
            break;
        }
        if (n > 0) {
            keep_rest(s, s->resume, s->win + s->win_len,
                      s->win_at + (uint64_t)(s->resume - s->win));
        }
    }
    return check_fill_fault(s);
}

int sitx_jpeg_stream_finish(struct sitx_jpeg_stream *s, struct sitx_image_info *info)
{
    if (s->err == 0 && s->stage != ST_DONE && sitx_image_cancelled(s->ctl)) {
        fail(s, SITX_E_CANCELLED, "JPEG: " SITX_IMAGE_CANCEL_MSG);
    }
    if (s->err == 0 && s->ctl->held && s->ctl->budget > 0 && s->ctl->need > s->ctl->budget) {
        char m[SITX_IMAGE_ERR_MAX];

        sitx_image_seterr(m, "JPEG: validation needs %llu bytes, over its %llu-byte budget",
                          (unsigned long long)s->ctl->need, (unsigned long long)s->ctl->budget);
        fail(s, SITX_E_LIMIT, m);
    }
    if (s->err == 0 && s->ctl->held && resume_held(s) == 0) {
        check_fill_fault(s); /* as at the end of a feed */
    }
    if (s->err == 0 && s->stage != ST_DONE && s->stage != ST_QUICK) {
        static const JOCTET none[1] = {0};
        const JOCTET *p = s->win != NULL ? s->win : none;

        s->eof = 1;
        if (run_on(s, p, p + s->win_len) == 0 && s->stage == ST_QUICK) {
            to_quick(s, s->resume, p + s->win_len);
        } else if (s->err == 0 && s->stage != ST_DONE) {
            fail(s, SITX_E_BAD_IMAGE, "JPEG: decoding stopped before the end of the image");
        }
    }
    if (s->err == 0 && s->stage == ST_QUICK) {
        quick_verdict(s, sitx_jpeg_quick_finish(s->quick));
    }
    if (s->err != 0) {
        return s->err;
    }
    if (info != NULL) {
        *info = s->info;
    }
    return 0;
}

const char *sitx_jpeg_stream_errstr(const struct sitx_jpeg_stream *s)
{
    return s->errstr;
}

void sitx_jpeg_stream_allow_quick(struct sitx_jpeg_stream *s)
{
    s->may_quick = 1;
}

int sitx_jpeg_validate_fast(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                            struct sitx_image_info *info)
{
    struct sitx_image_ctl ctl;
    struct sitx_jpeg_stream *s = NULL;
    int rc;

    memset(&ctl, 0, sizeof(ctl));
    if (sitx_jpeg_stream_new(&s, lim, &ctl) != 0) {
        return SITX_IMAGE_MORE;
    }
    sitx_jpeg_stream_allow_quick(s);
    rc = sitx_jpeg_stream_feed(s, buf, len);
    if (rc == 0) {
        rc = sitx_jpeg_stream_finish(s, info);
    }
    if (s->quick == NULL) {
        rc = SITX_IMAGE_MORE; /* the full path's verdict, not the shortcut's */
    }
    sitx_jpeg_stream_free(s);
    return rc == 0 ? 0 : SITX_IMAGE_MORE;
}

size_t sitx_jpeg_stream_window(const struct sitx_jpeg_stream *s)
{
    return s->win_cap;
}

void sitx_jpeg_stream_free(struct sitx_jpeg_stream *s)
{
    if (s == NULL) {
        return;
    }
    if (s->created) {
        jpeg_destroy_decompress(&s->cinfo);
    }
    sitx_jpeg_quick_free(s->quick);
    free(s->win);
    free(s);
}
