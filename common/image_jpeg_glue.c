/* libjpeg error manager, limits and a sitx_buf destination (see
 * image_jpeg_internal.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jerror.h>

#include "err.h"
#include "image_jpeg_internal.h"

static void on_error_exit(j_common_ptr cinfo)
{
    struct sitx_jpeg_err *e = (struct sitx_jpeg_err *)cinfo->err;
    char text[JMSG_LENGTH_MAX];

    if (e->rc == 0) {
        (*cinfo->err->format_message)(cinfo, text);
        switch (cinfo->err->msg_code) {
        case JERR_NO_BACKING_STORE:
            /* libjpeg asks for a temporary file only past max_memory_to_use. */
            e->rc = SITX_E_LIMIT;
            sitx_image_seterr(e->msg, "JPEG: decoder needs more than the %lu-byte memory limit",
                              e->max_memory);
            break;
        case JERR_OUT_OF_MEMORY:
            e->rc = SITX_E_NOMEM;
            sitx_image_seterr(e->msg, "JPEG: %s", text);
            break;
        default:
            e->rc = SITX_E_BAD_IMAGE;
            sitx_image_seterr(e->msg, "JPEG: %s", text);
            break;
        }
    }
    longjmp(e->jb, 1);
}

/* level < 0 is a warning: with libjpeg every one of them means corrupt or
 * suspicious data (extraneous bytes, premature end, bad Huffman code, bogus
 * progression), which djpeg reports with exit code 2. Trace messages
 * (level >= 0) are dropped. */
static void on_emit_message(j_common_ptr cinfo, int level)
{
    struct sitx_jpeg_err *e = (struct sitx_jpeg_err *)cinfo->err;
    char text[JMSG_LENGTH_MAX];

    if (level >= 0) {
        return;
    }
    cinfo->err->num_warnings++;
    if (e->warnings_fatal && e->rc == 0) {
        (*cinfo->err->format_message)(cinfo, text);
        if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) {
            /* The count depends on how far the Huffman decoder had read
             * ahead, which depends on how the bytes arrived: left out. */
            snprintf(text, sizeof(text), "Corrupt JPEG data: extraneous bytes before marker 0x%02x",
                     (unsigned)cinfo->err->msg_parm.i[1] & 0xFF);
        }
        e->rc = SITX_E_BAD_IMAGE;
        sitx_image_seterr(e->msg, "JPEG: %s", text);
        longjmp(e->jb, 1);
    }
}

static void on_output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* never print */
}

struct jpeg_error_mgr *sitx_jpeg_err_init(struct sitx_jpeg_err *e, int warnings_fatal,
                                          uint64_t max_memory)
{
    memset(e, 0, sizeof(*e));
    jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error_exit;
    e->pub.emit_message = on_emit_message;
    e->pub.output_message = on_output_message;
    e->warnings_fatal = warnings_fatal;
    e->max_memory =
        max_memory > (uint64_t)LONG_MAX ? (unsigned long)LONG_MAX : (unsigned long)max_memory;
    return &e->pub;
}

void sitx_jpeg_fail(j_common_ptr cinfo, int rc, const char *msg)
{
    struct sitx_jpeg_err *e = (struct sitx_jpeg_err *)cinfo->err;

    if (e->rc == 0) {
        e->rc = rc;
        sitx_image_seterr(e->msg, "%s", msg);
    }
    longjmp(e->jb, 1);
}

static void on_progress(j_common_ptr cinfo)
{
    struct sitx_jpeg_progress *p = (struct sitx_jpeg_progress *)cinfo->progress;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    char m[SITX_IMAGE_ERR_MAX];

    /* As djpeg -maxscans: a progressive file of thousands of tiny scans
     * would otherwise cost a pass over the coefficients per scan. */
    if (cinfo->is_decompressor && p->max_scans > 0 && d->input_scan_number > p->max_scans) {
        sitx_image_seterr(m, "JPEG: more than %d scans (scan limit)", p->max_scans);
        sitx_jpeg_fail(cinfo, SITX_E_LIMIT, m);
    }
    /* Called at least once per MCU row of every scan: the place to notice
     * that nobody waits for the verdict any more. */
    if (sitx_image_cancelled(p->ctl)) {
        sitx_jpeg_fail(cinfo, SITX_E_CANCELLED, "JPEG: " SITX_IMAGE_CANCEL_MSG);
    }
}

uint64_t sitx_jpeg_coef_bytes(j_decompress_ptr cinfo)
{
    uint64_t coef = 0;
    int ci;

    for (ci = 0; ci < cinfo->num_components; ci++) {
        const jpeg_component_info *c = &cinfo->comp_info[ci];
        uint64_t bw = c->width_in_blocks + (uint64_t)c->h_samp_factor;
        uint64_t bh = c->height_in_blocks + (uint64_t)c->v_samp_factor;

        coef += bw * bh * sizeof(JBLOCK);
    }
    return coef;
}

void sitx_jpeg_apply_limits(j_decompress_ptr cinfo, const struct sitx_image_limits *lim,
                            struct sitx_jpeg_progress *progress)
{
    struct sitx_jpeg_err *e = (struct sitx_jpeg_err *)cinfo->err;
    char m[SITX_IMAGE_ERR_MAX];
    uint64_t coef = 0;
    int rc;

    rc = sitx_image_check_size(lim, "JPEG", cinfo->image_width, cinfo->image_height, m);
    if (rc != 0) {
        sitx_jpeg_fail((j_common_ptr)cinfo, rc, m);
    }
    /* A multi-scan file keeps every coefficient of the image: 128 bytes per
     * 8x8 block per component, padded to whole MCUs. Refuse early rather
     * than allocate most of it first. */
    if (cinfo->progressive_mode || cinfo->comps_in_scan < cinfo->num_components) {
        coef = sitx_jpeg_coef_bytes(cinfo);
        if (coef > lim->max_memory) {
            sitx_image_seterr(m,
                              "JPEG: a multi-scan image needs %llu bytes for its coefficients, "
                              "over the %llu-byte memory limit",
                              (unsigned long long)coef, (unsigned long long)lim->max_memory);
            sitx_jpeg_fail((j_common_ptr)cinfo, SITX_E_LIMIT, m);
        }
    }
    cinfo->mem->max_memory_to_use = (long)e->max_memory;
    memset(progress, 0, sizeof(*progress));
    progress->pub.progress_monitor = on_progress;
    progress->max_scans = lim->max_scans > INT32_MAX ? INT32_MAX : (int)lim->max_scans;
    cinfo->progress = &progress->pub;
    /* Scans are counted from the header on, too. */
    on_progress((j_common_ptr)cinfo);
}

static void dest_init(j_compress_ptr cinfo)
{
    struct sitx_jpeg_dest *d = (struct sitx_jpeg_dest *)cinfo->dest;

    if (sitx_buf_reserve(d->out, 64 * 1024) != 0) {
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 100);
    }
    d->pub.next_output_byte = d->out->data + d->out->len;
    d->pub.free_in_buffer = d->out->cap - d->out->len;
}

/* Called when the whole free space was filled. */
static boolean dest_empty(j_compress_ptr cinfo)
{
    struct sitx_jpeg_dest *d = (struct sitx_jpeg_dest *)cinfo->dest;
    size_t grow = d->out->cap < 64 * 1024 ? 64 * 1024 : d->out->cap;

    d->out->len = d->out->cap;
    if (sitx_buf_reserve(d->out, grow) != 0) {
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 101);
    }
    d->pub.next_output_byte = d->out->data + d->out->len;
    d->pub.free_in_buffer = d->out->cap - d->out->len;
    return TRUE;
}

static void dest_term(j_compress_ptr cinfo)
{
    struct sitx_jpeg_dest *d = (struct sitx_jpeg_dest *)cinfo->dest;

    d->out->len = d->out->cap - d->pub.free_in_buffer;
}

void sitx_jpeg_dest_init(j_compress_ptr cinfo, struct sitx_jpeg_dest *d, struct sitx_buf *out)
{
    memset(d, 0, sizeof(*d));
    d->out = out;
    d->pub.init_destination = dest_init;
    d->pub.empty_output_buffer = dest_empty;
    d->pub.term_destination = dest_term;
    cinfo->dest = &d->pub;
}

/* A memory source that, like our streaming one, hands libjpeg at most 511
 * bytes at a time, so that libjpeg-turbo always takes its slow Huffman path
 * (see image_jpeg.c, src_fill): decoding, transcoding and validation then
 * read every file the same way. At the end: a warning and a fake EOI, as
 * jpeg_mem_src does. */
struct piece_src {
    struct jpeg_source_mgr pub;
    const JOCTET *end;
};

#define PIECE 511

static void piece_init(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

static boolean piece_fill(j_decompress_ptr cinfo)
{
    static const JOCTET fake_eoi[2] = {0xFF, JPEG_EOI};
    struct piece_src *src = (struct piece_src *)cinfo->src;
    const JOCTET *next = src->pub.next_input_byte + src->pub.bytes_in_buffer;
    size_t left;

    /* libjpeg calls this once it has used up the piece it was handed. */
    if (next >= fake_eoi && next <= fake_eoi + sizeof(fake_eoi)) {
        next = src->end;
    }
    left = (size_t)(src->end - next);
    if (left == 0) {
        WARNMS(cinfo, JWRN_JPEG_EOF);
        src->pub.next_input_byte = fake_eoi;
        src->pub.bytes_in_buffer = sizeof(fake_eoi);
        return TRUE;
    }
    src->pub.next_input_byte = next;
    src->pub.bytes_in_buffer = left < PIECE ? left : PIECE;
    return TRUE;
}

static void piece_skip(j_decompress_ptr cinfo, long num_bytes)
{
    struct piece_src *src = (struct piece_src *)cinfo->src;

    while (num_bytes > (long)src->pub.bytes_in_buffer) {
        num_bytes -= (long)src->pub.bytes_in_buffer;
        src->pub.next_input_byte += src->pub.bytes_in_buffer;
        src->pub.bytes_in_buffer = 0;
        (void)piece_fill(cinfo);
    }
    if (num_bytes > 0) {
        src->pub.next_input_byte += num_bytes;
        src->pub.bytes_in_buffer -= (size_t)num_bytes;
    }
}

static void piece_term(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

void sitx_jpeg_mem_src(j_decompress_ptr cinfo, const uint8_t *buf, size_t len)
{
    struct piece_src *src;

    if (len == 0) {
        ERREXIT(cinfo, JERR_INPUT_EMPTY);
    }
    src = (*cinfo->mem->alloc_small)((j_common_ptr)cinfo, JPOOL_PERMANENT, sizeof(*src));
    memset(src, 0, sizeof(*src));
    src->pub.init_source = piece_init;
    src->pub.fill_input_buffer = piece_fill;
    src->pub.skip_input_data = piece_skip;
    src->pub.resync_to_restart = jpeg_resync_to_restart;
    src->pub.term_source = piece_term;
    src->pub.next_input_byte = buf;
    src->pub.bytes_in_buffer = len < PIECE ? len : PIECE;
    src->end = buf + len;
    cinfo->src = &src->pub;
}
