/* libjpeg glue the image_jpeg*.c files share: an error manager that turns
 * every error (and, for decoding, every corrupt-data warning) into a return
 * code and a message via longjmp inside our own functions, prints nothing
 * and never exits; and a destination that appends to a struct sitx_buf. */
#ifndef SITX_IMAGE_JPEG_INTERNAL_H
#define SITX_IMAGE_JPEG_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdio.h> /* jpeglib.h needs FILE */

#include <jpeglib.h>

#include "image_internal.h"

struct sitx_jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int rc;             /* the failure, once set */
    int warnings_fatal; /* a warning (corrupt data) ends the work with an error */
    unsigned long max_memory;
    char msg[SITX_IMAGE_ERR_MAX];
};

/* Sets up e and returns its jpeg_error_mgr for cinfo->err. The caller must
 * setjmp(e->jb) before calling into libjpeg. */
struct jpeg_error_mgr *sitx_jpeg_err_init(struct sitx_jpeg_err *e, int warnings_fatal,
                                          uint64_t max_memory);

/* Records a failure of ours (limits) and jumps out like a libjpeg error. */
void sitx_jpeg_fail(j_common_ptr cinfo, int rc, const char *msg) __attribute__((noreturn));

/* Applies lim to a decompressor after jpeg_read_header(): size, pixel count,
 * the memory the coefficient buffer would need for multi-scan files, and a
 * progress monitor failing past lim->max_scans (and, once progress->ctl is
 * set, when the work is cancelled). Fails via sitx_jpeg_fail. */
struct sitx_jpeg_progress {
    struct jpeg_progress_mgr pub;
    int max_scans;
    const struct sitx_image_ctl *ctl; /* cancel flag; NULL for none */
};
void sitx_jpeg_apply_limits(j_decompress_ptr cinfo, const struct sitx_image_limits *lim,
                            struct sitx_jpeg_progress *progress);
/* Bytes the whole coefficient image takes: 128 per 8x8 block per component,
 * padded to whole MCUs. Valid after jpeg_read_header(). */
uint64_t sitx_jpeg_coef_bytes(j_decompress_ptr cinfo);

/* The JPEG shortcut (image_jpeg_fast.c), from the first scan's
 * entropy-coded data on, after jpeg_read_header() and the limits: *out is
 * NULL when it does not apply to this header. Feed and finish return 0
 * while the image may still be sound (finish: it is), SITX_IMAGE_MORE to
 * step aside, or the full path's own verdict where it is sure to be the
 * same (SITX_E_CANCELLED, SITX_E_LIMIT for the scan limit; message from
 * errstr). New may fail with SITX_E_NOMEM. */
struct sitx_jpeg_quick;
int sitx_jpeg_quick_new(struct sitx_jpeg_quick **out, j_decompress_ptr cinfo,
                        const struct sitx_image_limits *lim, struct sitx_image_ctl *ctl);
int sitx_jpeg_quick_feed(struct sitx_jpeg_quick *q, const uint8_t *buf, size_t len);
int sitx_jpeg_quick_finish(struct sitx_jpeg_quick *q);
const char *sitx_jpeg_quick_errstr(const struct sitx_jpeg_quick *q);
void sitx_jpeg_quick_free(struct sitx_jpeg_quick *q); /* NULL-safe */

/* Destination appending to out (out->len grows as libjpeg writes). */
struct sitx_jpeg_dest {
    struct jpeg_destination_mgr pub;
    struct sitx_buf *out;
};
void sitx_jpeg_dest_init(j_compress_ptr cinfo, struct sitx_jpeg_dest *d, struct sitx_buf *out);

/* Memory source over buf for whole-buffer work (decode, transcode). */
void sitx_jpeg_mem_src(j_decompress_ptr cinfo, const uint8_t *buf, size_t len);

#endif
