/* JPEG bytes through the marker walker and metadata stripper (any bytes),
 * validation, full decoding, lossless transcoding with stripping and lossy
 * re-encoding, under limits that bound the work: 1 Mpx, 2048 per side, 100
 * scans, 64 MiB. Beyond "no crash": every refusal has a message; an image
 * that validates also decodes, and its lossless transcode validates and
 * decodes to the very same pixels, its lossy one validates. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_image.h"
#include "image.h"
#include "image_internal.h"
#include "secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitx_image_limits lim;
    struct sitx_image_info info;
    struct sitx_image_opts opts;
    struct sitx_jpeg_scan scan;
    struct sitx_buf out;
    enum sitx_image_format fmt;
    char err[SITX_IMAGE_ERR_MAX];
    int rc;

    if (size > 256 * 1024) {
        return 0;
    }
    /* The parsers that work on the raw structure take anything. */
    sitx_buf_init(&out);
    (void)sitx_jpeg_scan_markers(data, size, &scan);
    if (sitx_jpeg_strip_markers(data, size, &out, err) != 0 && err[0] == '\0') {
        abort();
    }
    if (sitx_image_detect(data, size) != SITX_IMAGE_JPEG) {
        sitx_buf_clear(&out);
        return 0;
    }
    fuzz_image_limits(&lim);
    rc = sitx_image_validate(data, size, &lim, &info, err);
    /* The sender's structure check must pass whatever the validator passes,
     * and name a reason when it refuses. */
    {
        char serr[SITX_IMAGE_ERR_MAX];
        int src = sitx_image_check_structure(data, size, &lim, NULL, serr);

        if ((rc == 0 && src != 0) || (src != 0 && serr[0] == '\0')) {
            abort();
        }
    }
    if (rc != 0) {
        if (err[0] == '\0') {
            abort();
        }
        sitx_buf_clear(&out);
        return 0;
    }
    memset(&opts, 0, sizeof(opts));
    opts.mode = SITX_COMPRESS_LOSSLESS;
    opts.always = 1;
    opts.strip_metadata = 1;
    if (sitx_image_recompress(data, size, &opts, &out, &fmt, err) != 0 || out.len == 0 ||
        fmt != SITX_IMAGE_JPEG || sitx_image_validate(out.data, out.len, &lim, NULL, err) != 0) {
        abort();
    }
    fuzz_same_pixels(data, size, out.data, out.len, &lim);
    opts.mode = SITX_COMPRESS_LOSSY;
    opts.quality = 75;
    if (sitx_image_recompress(data, size, &opts, &out, &fmt, err) != 0 ||
        (out.len > 0 && sitx_image_validate(out.data, out.len, &lim, NULL, err) != 0)) {
        abort();
    }
    sitx_buf_clear(&out);
    return 0;
}
