/* Lossless JPEG transcoding, as jpegtran -optimize [-progressive]: the DCT
 * coefficients are read (no IDCT, no colour conversion) and written again
 * with Huffman tables optimised for this image, so every decoded pixel stays
 * the same. APPn and COM markers are copied, or filtered when stripping. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "image_jpeg_internal.h"

struct transcode {
    struct jpeg_decompress_struct src;
    struct sitx_jpeg_err serr;
    struct sitx_jpeg_progress progress;
    int src_created;
    jvirt_barray_ptr *coefs;
    int orientation;
};

struct writer {
    struct jpeg_compress_struct dst;
    struct sitx_jpeg_err derr;
    struct sitx_jpeg_dest dest;
    int created;
};

static int is_app(jpeg_saved_marker_ptr m, int n, const char *id, unsigned id_len)
{
    return m->marker == JPEG_APP0 + n && m->data_length >= id_len &&
           memcmp(m->data, id, id_len) == 0;
}

static int read_coefs(struct transcode *t, const uint8_t *in, size_t len,
                      const struct sitx_image_limits *lim)
{
    jpeg_saved_marker_ptr m;
    int i;

    if (setjmp(t->serr.jb) != 0) {
        return t->serr.rc != 0 ? t->serr.rc : SITX_E_BAD_IMAGE;
    }
    jpeg_create_decompress(&t->src);
    t->src_created = 1;
    sitx_jpeg_mem_src(&t->src, in, len);
    jpeg_save_markers(&t->src, JPEG_COM, 0xFFFF);
    for (i = 0; i < 16; i++) {
        jpeg_save_markers(&t->src, JPEG_APP0 + i, 0xFFFF);
    }
    (void)jpeg_read_header(&t->src, TRUE);
    sitx_jpeg_apply_limits(&t->src, lim, &t->progress);
    t->coefs = jpeg_read_coefficients(&t->src);
    for (m = t->src.marker_list; m != NULL; m = m->next) {
        if (is_app(m, 1, "Exif\0\0", 6) && t->orientation == 0) {
            t->orientation = sitx_exif_orientation(m->data, m->data_length);
        }
    }
    return 0;
}

/* As jpegtran's jcopy_markers_execute(): JFIF and Adobe markers are written
 * by the encoder itself when it writes its own. */
static void copy_markers(struct transcode *t, struct writer *w, int strip)
{
    jpeg_saved_marker_ptr m;

    if (strip && t->orientation > 1) {
        uint8_t exif[SITX_EXIF_MIN_LEN];
        size_t n = sitx_exif_minimal(exif, t->orientation);

        jpeg_write_marker(&w->dst, JPEG_APP0 + 1, exif, (unsigned)n);
    }
    for (m = t->src.marker_list; m != NULL; m = m->next) {
        if (w->dst.write_JFIF_header && is_app(m, 0, "JFIF\0", 5)) {
            continue;
        }
        if (w->dst.write_Adobe_marker && is_app(m, 14, "Adobe", 5)) {
            continue;
        }
        if (strip && !is_app(m, 0, "JFIF\0", 5) && !is_app(m, 2, "ICC_PROFILE\0", 12) &&
            !is_app(m, 14, "Adobe", 5)) {
            continue;
        }
        jpeg_write_marker(&w->dst, (int)m->marker, m->data, m->data_length);
    }
}

static int write_coefs(struct transcode *t, struct writer *w, int progressive, int strip,
                       struct sitx_buf *out)
{
    if (setjmp(w->derr.jb) != 0) {
        return w->derr.rc != 0 ? w->derr.rc : SITX_E_INTERNAL;
    }
    jpeg_create_compress(&w->dst);
    w->created = 1;
    sitx_jpeg_dest_init(&w->dst, &w->dest, out);
    jpeg_copy_critical_parameters(&t->src, &w->dst);
    w->dst.optimize_coding = TRUE;
    if (progressive) {
        jpeg_simple_progression(&w->dst);
    }
    jpeg_write_coefficients(&w->dst, t->coefs);
    copy_markers(t, w, strip);
    jpeg_finish_compress(&w->dst);
    return 0;
}

/* One encoding into out; the writer is torn down whatever happens. */
static int encode(struct transcode *t, int progressive, int strip, struct sitx_buf *out,
                  char err[static SITX_IMAGE_ERR_MAX])
{
    struct writer *w = calloc(1, sizeof(*w));
    int rc;

    if (w == NULL) {
        sitx_image_seterr(err, "JPEG: out of memory");
        return SITX_E_NOMEM;
    }
    w->dst.err = sitx_jpeg_err_init(&w->derr, 0, 0);
    out->len = 0;
    rc = write_coefs(t, w, progressive, strip, out);
    if (rc != 0) {
        sitx_image_seterr(err, "%s",
                          w->derr.msg[0] != '\0' ? w->derr.msg : "JPEG: encoding failed");
        out->len = 0;
    }
    if (w->created) {
        jpeg_destroy_compress(&w->dst);
    }
    free(w);
    return rc;
}

int sitx_jpeg_transcode(const uint8_t *in, size_t len, int try_progressive, int strip,
                        struct sitx_buf *out, char err[static SITX_IMAGE_ERR_MAX])
{
    struct transcode *t = calloc(1, sizeof(*t));
    struct sitx_image_limits lim;
    struct sitx_buf prog;
    int rc;

    sitx_image_limits_default(&lim);
    sitx_buf_init(&prog);
    out->len = 0;
    if (t == NULL) {
        sitx_image_seterr(err, "JPEG: out of memory");
        return SITX_E_NOMEM;
    }
    t->src.err = sitx_jpeg_err_init(&t->serr, 1, lim.max_memory);
    rc = read_coefs(t, in, len, &lim);
    if (rc != 0) {
        sitx_image_seterr(err, "%s", t->serr.msg[0] != '\0' ? t->serr.msg : "JPEG: failed");
        goto out;
    }
    rc = encode(t, 0, strip, out, err);
    if (rc == 0 && (try_progressive || t->src.progressive_mode)) {
        /* Progressive is most often smaller; it costs a second encoding. A
         * progressive original is tried both ways too. */
        if (encode(t, 1, strip, &prog, err) == 0 && prog.len < out->len) {
            struct sitx_buf tmp = *out;

            *out = prog;
            prog = tmp;
        }
    }
    if (rc == 0) {
        err[0] = '\0';
    }
out:
    if (t->src_created) {
        jpeg_destroy_decompress(&t->src);
    }
    sitx_buf_clear(&prog);
    free(t);
    return rc;
}
