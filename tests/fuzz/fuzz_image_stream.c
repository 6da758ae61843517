/* Streaming validation. Input: [seed:u8][image bytes]; the seed drives the
 * sizes of the chunks the image is fed in (1..4096 bytes), and with bit 1
 * set the memory gate: a budget of one byte, so every JPEG stops after its
 * header, and is raised to what it needs as soon as it does. Beyond "no
 * crash": the streamed verdict, its message and the image info equal
 * sitx_image_validate() on the whole buffer, and errors stick. Limits
 * bound the work: 1 Mpx, 2048 per side, 100 scans, 64 MiB.
 *
 * With bit 2 set the streamed validator may read its bytes again, as the
 * receiver's does: a PNG or a progressive JPEG then takes its shortcut
 * (image_png_fast.c, image_jpeg_fast.c) in pieces and, where it steps
 * aside, the full path over everything again.
 *
 * With bit 3 set the shortcuts' hot loops run their baseline build, not
 * the one this CPU picks (common/cpu.h).
 *
 * This is also the differential target of both shortcuts, which
 * sitx_image_validate() takes and the streaming validator without a
 * reread source never does: a shortcut must accept nothing the streaming
 * path refuses, with the same info. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "image.h"
#include "image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
    const uint8_t *buf;
    size_t len;
};

static int64_t src_reread(void *ctx, uint64_t off, uint8_t *out, size_t len)
{
    const struct src *s = ctx;

    if (off > s->len || len > s->len - off) {
        abort(); /* asked for bytes it was never fed */
    }
    memcpy(out, s->buf + off, len);
    return (int64_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitx_image_limits lim;
    struct sitx_image_info whole, streamed;
    struct sitx_image_validator *v = NULL;
    char err[SITX_IMAGE_ERR_MAX];
    struct src again = {data + 1, 0};
    uint32_t st;
    size_t off = 1;
    int wrc, src = 0;

    if (size < 1 || size > 256 * 1024) {
        return 0;
    }
    st = 0x9E3779B9u ^ ((uint32_t)data[0] * 0x01000193u);
    sitx_cpu_force_baseline(data[0] & 8);
    sitx_image_limits_default(&lim);
    lim.max_width = 2048;
    lim.max_height = 2048;
    lim.max_pixels = 1024 * 1024;
    lim.max_scans = 100;
    lim.max_memory = 64u * 1024 * 1024;
    memset(&whole, 0, sizeof(whole));
    memset(&streamed, 0, sizeof(streamed));
    wrc = sitx_image_validate(data + 1, size - 1, &lim, &whole, err);
    if (sitx_image_validator_new(&v, &lim) != 0) {
        abort();
    }
    if (data[0] & 2) {
        sitx_image_validator_set_budget(v, 1, size - 1);
    }
    if (data[0] & 4) {
        sitx_image_validator_set_reread(v, src_reread, &again);
    }
    while (off < size && src == 0) {
        size_t n;

        if (sitx_image_validator_held(v)) {
            if (sitx_image_validator_need(v) <= 1) {
                abort(); /* held only for more than the budget */
            }
            sitx_image_validator_set_budget(v, sitx_image_validator_need(v), size - 1);
        }
        st ^= st << 13;
        st ^= st >> 17;
        st ^= st << 5;
        n = 1 + st % (data[0] & 1 ? 16 : 4096);
        n = n > size - off ? size - off : n;
        again.len = off - 1; /* only what was fed before may be read again */
        src = sitx_image_validator_feed(v, data + off, n);
        off += n;
    }
    if (src == 0 && sitx_image_validator_held(v)) {
        sitx_image_validator_set_budget(v, sitx_image_validator_need(v), size - 1);
    }
    again.len = size - 1;
    if (src == 0) {
        src = sitx_image_validator_finish(v, &streamed);
    } else if (sitx_image_validator_feed(v, data, 1) != src ||
               sitx_image_validator_finish(v, &streamed) != src) {
        abort(); /* errors stick */
    }
    if (src != wrc || (wrc != 0 && strcmp(err, sitx_image_validator_errstr(v)) != 0) ||
        (wrc == 0 && memcmp(&whole, &streamed, sizeof(whole)) != 0)) {
        abort();
    }
    if (sitx_image_detect(data + 1, size - 1) != SITX_IMAGE_UNKNOWN) {
        struct sitx_image_info fast;
        int frc;

        memset(&fast, 0, sizeof(fast));
        frc = sitx_image_detect(data + 1, size - 1) == SITX_IMAGE_PNG
                  ? sitx_png_validate_fast(data + 1, size - 1, &lim, &fast)
                  : sitx_jpeg_validate_fast(data + 1, size - 1, &lim, &fast);
        if ((frc != 0 && frc != SITX_IMAGE_MORE) ||
            (frc == 0 && (src != 0 || memcmp(&fast, &streamed, sizeof(fast)) != 0))) {
            abort(); /* the shortcut accepted what the streaming path refuses */
        }
    }
    sitx_image_validator_free(v);
    return 0;
}
