/* sitx_image_recompress(): what to send for an image under the options.
 *
 * Whether lossless compression pays is a matter of time: it costs CPU at a
 * rate we know roughly and saves bytes on a link whose speed only the caller
 * can know. On loopback or a LAN it never pays for real photos (a 4 MB JPEG
 * takes far longer to transcode than to send), so unless the caller gives a
 * link speed slow enough, or sets always, LOSSLESS sends the original.
 * The estimate itself is cheap: marker or chunk headers only. */
#include <string.h>

#include "err.h"
#include "image.h"
#include "image_internal.h"

/* Rough single-core throughputs, bytes of input per second, measured on the
 * reference 2-core machine (scripts/ benchmarks): lossless JPEG transcoding
 * with the progressive trial, and PNG re-deflation at level 9. */
#define JPEG_TRANSCODE_RATE (8.0 * 1000 * 1000)
#define PNG_REDEFLATE_RATE  (4.0 * 1000 * 1000)

/* Fraction a Huffman optimisation saves on a JPEG with the standard
 * (Annex K) tables, as cameras and default encoders write. */
#define JPEG_STANDARD_TABLE_SAVING 0.07

/* Pays when the transfer time saved is at least twice the CPU time spent. */
static int pays(double saving, double rate, uint64_t link)
{
    if (link == 0 || saving <= 0) {
        return 0;
    }
    return saving / (double)link > 2.0 / rate;
}

/* Work is done only on a sound image: a truncated file could otherwise
 * make a decoder allocate for the size its header claims. */
static int sound(const uint8_t *in, size_t len, char err[static SITX_IMAGE_ERR_MAX])
{
    struct sitx_image_limits lim;

    sitx_image_limits_default(&lim);
    return sitx_image_validate(in, len, &lim, NULL, err);
}

static int jpeg_lossless(const uint8_t *in, size_t len, const struct sitx_image_opts *opts,
                         struct sitx_buf *out, char err[static SITX_IMAGE_ERR_MAX])
{
    struct sitx_jpeg_scan scan;
    double saving = 0;
    int rc;

    /* Headers we cannot walk give no estimate; the work below, if asked
     * for, reports the fault. */
    if (sitx_jpeg_scan_markers(in, len, &scan) != 0) {
        memset(&scan, 0, sizeof(scan));
    }
    /* Progressive or custom tables: already optimised. Arithmetic coding
     * beats any Huffman table, so transcoding would grow it. */
    if (!scan.progressive && !scan.arithmetic && scan.standard_huffman && scan.huffman_tables > 0) {
        saving = JPEG_STANDARD_TABLE_SAVING;
    }
    if (!scan.arithmetic &&
        (opts->always || pays(saving, JPEG_TRANSCODE_RATE, opts->link_bytes_per_sec))) {
        rc = sound(in, len, err);
        if (rc != 0) {
            return rc;
        }
        /* A valid image the encoder cannot take back (coefficients out of
         * baseline range, say) is sent as it is, or just stripped. */
        if (sitx_jpeg_transcode(in, len, 1, opts->strip_metadata, out, err) == 0) {
            return 0;
        }
        out->len = 0;
        err[0] = '\0';
        return opts->strip_metadata ? sitx_jpeg_strip_markers(in, len, out, err) : 0;
    }
    if (opts->strip_metadata) {
        rc = sound(in, len, err);
        return rc != 0 ? rc : sitx_jpeg_strip_markers(in, len, out, err);
    }
    return 0;
}

static int png_lossless(const uint8_t *in, size_t len, const struct sitx_image_opts *opts,
                        struct sitx_buf *out, char err[static SITX_IMAGE_ERR_MAX])
{
    int redo = opts->always || pays(sitx_png_expected_saving(in, len), PNG_REDEFLATE_RATE,
                                    opts->link_bytes_per_sec);
    int rc;

    if (!redo && !opts->strip_metadata) {
        return 0;
    }
    rc = sound(in, len, err);
    if (rc != 0) {
        return rc;
    }
    if (sitx_png_rewrite(in, len, redo, opts->strip_metadata, out, err) == 0) {
        return 0;
    }
    /* As for JPEG: a valid image the rewrite cannot take goes as it is. */
    out->len = 0;
    err[0] = '\0';
    return opts->strip_metadata ? sitx_png_rewrite(in, len, 0, 1, out, err) : 0;
}

static int lossy(const uint8_t *in, size_t len, enum sitx_image_format fmt,
                 const struct sitx_image_opts *opts, struct sitx_buf *out,
                 char err[static SITX_IMAGE_ERR_MAX])
{
    struct sitx_image_limits lim;
    struct sitx_image_pixels px;
    int quality = opts->quality == 0 ? 85 : opts->quality;
    int rc;

    memset(&px, 0, sizeof(px));
    sitx_image_limits_default(&lim);
    rc = sound(in, len, err);
    if (rc != 0) {
        return rc;
    }
    rc = fmt == SITX_IMAGE_PNG ? sitx_png_decode_flat(in, len, &lim, &px, err)
                               : sitx_jpeg_decode_flat(in, len, &lim, &px, err);
    if (rc == 0) {
        rc = sitx_jpeg_encode(&px, quality, opts->strip_metadata, out, err);
    }
    sitx_image_pixels_clear(&px);
    return rc;
}

int sitx_image_recompress(const uint8_t *in, size_t len, const struct sitx_image_opts *opts,
                          struct sitx_buf *out, enum sitx_image_format *out_format,
                          char err[static SITX_IMAGE_ERR_MAX])
{
    enum sitx_image_format fmt = sitx_image_detect(in, len);
    enum sitx_image_format new_fmt = fmt;
    struct sitx_image_limits lim;
    char verr[SITX_IMAGE_ERR_MAX];
    int rc = 0;

    err[0] = '\0';
    out->len = 0;
    *out_format = fmt;
    if (fmt == SITX_IMAGE_UNKNOWN) {
        sitx_image_seterr(err, "not a PNG or JPEG image (unknown magic bytes)");
        return SITX_E_UNSUPPORTED;
    }
    sitx_image_limits_default(&lim);
    switch (opts->mode) {
    case SITX_COMPRESS_NONE:
    case SITX_COMPRESS_LOSSLESS: {
        /* NONE sends the bytes as they are unless metadata is to go: then
         * only the metadata is removed, nothing is recompressed. */
        struct sitx_image_opts o = *opts;

        if (opts->mode == SITX_COMPRESS_NONE) {
            o.always = 0;
            o.link_bytes_per_sec = 0;
        }
        rc = fmt == SITX_IMAGE_JPEG ? jpeg_lossless(in, len, &o, out, err)
                                    : png_lossless(in, len, &o, out, err);
        break;
    }
    case SITX_COMPRESS_LOSSY:
        if (opts->quality < 0 || opts->quality > 100) {
            sitx_image_seterr(err, "quality %d is not in 1..100", opts->quality);
            return SITX_E_INVALID;
        }
        rc = lossy(in, len, fmt, opts, out, err);
        new_fmt = SITX_IMAGE_JPEG;
        break;
    default:
        sitx_image_seterr(err, "unknown compression mode %d", (int)opts->mode);
        return SITX_E_INVALID;
    }
    if (rc != 0) {
        out->len = 0;
        return rc;
    }
    /* Without stripping, the original wins unless the new one is smaller. */
    if (out->len == 0 || (!opts->strip_metadata && out->len >= len)) {
        out->len = 0;
        return 0;
    }
    /* Never send what the receiver would refuse. */
    if (sitx_image_validate(out->data, out->len, &lim, NULL, verr) != 0) {
        out->len = 0;
        if (opts->strip_metadata) {
            sitx_image_seterr(err, "rewritten image does not validate: %s", verr);
            return SITX_E_INTERNAL;
        }
        return 0;
    }
    *out_format = new_fmt;
    return 0;
}
