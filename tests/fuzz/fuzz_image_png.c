/* PNG bytes through validation, full decoding and rewriting (lossless
 * re-deflation with metadata stripping), under limits that bound the work:
 * 1 Mpx, 2048 per side, 64 MiB. Beyond "no crash": every refusal has a
 * message; an image that validates also decodes, and its rewrite validates
 * and decodes to the very same pixels. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_image.h"
#include "image.h"
#include "secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitx_image_limits lim;
    struct sitx_image_info info;
    struct sitx_image_opts opts;
    struct sitx_buf out;
    enum sitx_image_format fmt;
    char err[SITX_IMAGE_ERR_MAX];
    int rc;

    if (size > 256 * 1024 || sitx_image_detect(data, size) != SITX_IMAGE_PNG) {
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
        return 0;
    }
    memset(&opts, 0, sizeof(opts));
    opts.mode = SITX_COMPRESS_LOSSLESS;
    opts.always = 1;
    opts.strip_metadata = 1;
    sitx_buf_init(&out);
    if (sitx_image_recompress(data, size, &opts, &out, &fmt, err) != 0 || out.len == 0 ||
        fmt != SITX_IMAGE_PNG || sitx_image_validate(out.data, out.len, &lim, NULL, err) != 0) {
        abort();
    }
    fuzz_same_pixels(data, size, out.data, out.len, &lim);
    sitx_buf_clear(&out);
    return 0;
}
