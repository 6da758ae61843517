/* A cheap structural check of PNG and JPEG files: the container is whole and
 * sane, without decoding a pixel. The sender runs it on every file so that a
 * truncated, mangled or unsupported file gets a clear local message, and
 * leaves the full decode to the receiver, which is where trust is decided:
 * decoding every image on both ends doubled the CPU a transfer costs.
 *
 * It must never refuse a file that sitx_image_validate() accepts
 * (test_image_structure.c checks that over the whole corpus). */
#include "image.h"
#include "image_internal.h"

#include <string.h>
#include <libdeflate.h>

#include "bytes.h"
#include "err.h"

static int png_is_critical(const uint8_t type[4])
{
    return (type[0] & 0x20) == 0; /* upper-case first letter */
}

static int png_type_valid(const uint8_t type[4])
{
    for (int i = 0; i < 4; i++) {
        uint8_t c = type[i] & (uint8_t)~0x20;

        if (c < 'A' || c > 'Z') {
            return 0;
        }
    }
    return 1;
}

/* IHDR's bit depth is allowed for its colour type (PNG spec 11.2.2). */
static int png_depth_valid(uint8_t depth, uint8_t color)
{
    switch (color) {
    case 0:
        return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case 3:
        return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:
    case 4:
    case 6:
        return depth == 8 || depth == 16;
    default:
        return 0;
    }
}

static int check_png(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                     struct sitx_image_info *info, char err[static SITX_IMAGE_ERR_MAX])
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t pos = 8;
    int n_chunks = 0;
    int idat_state = 0; /* 0 none yet, 1 in the IDAT run, 2 after it */

    if (len < 8 || memcmp(buf, sig, 8) != 0) {
        sitx_image_seterr(err, "PNG: bad signature (file mangled in transfer?)");
        return SITX_E_BAD_IMAGE;
    }
    for (;;) {
        const uint8_t *type;
        uint32_t clen;
        uint32_t crc;

        if (len - pos < 12) {
            sitx_image_seterr(err, "PNG: file ends inside a chunk (truncated)");
            return SITX_E_BAD_IMAGE;
        }
        clen = sitx_load_be32(buf + pos);
        type = buf + pos + 4;
        if (clen > 0x7fffffffu || clen > len - pos - 12) {
            sitx_image_seterr(err, "PNG: chunk length runs past the end of the file (truncated)");
            return SITX_E_BAD_IMAGE;
        }
        if (!png_type_valid(type)) {
            sitx_image_seterr(err, "PNG: invalid chunk type");
            return SITX_E_BAD_IMAGE;
        }
        /* libdeflate's CRC-32 (PCLMUL where the CPU has it): zlib's took
         * 6 % of the sender's CPU on a batch. */
        crc = libdeflate_crc32(0, type, (size_t)clen + 4);
        /* A bad CRC on an ancillary chunk is only a warning for libpng. */
        if (crc != sitx_load_be32(buf + pos + 8 + clen) && png_is_critical(type)) {
            sitx_image_seterr(err, "PNG: CRC error in the %.4s chunk", (const char *)type);
            return SITX_E_BAD_IMAGE;
        }
        if (n_chunks == 0) {
            uint32_t w;
            uint32_t h;
            int rc;

            if (memcmp(type, "IHDR", 4) != 0 || clen != 13) {
                sitx_image_seterr(err, "PNG: IHDR is not the first chunk");
                return SITX_E_BAD_IMAGE;
            }
            w = sitx_load_be32(buf + pos + 8);
            h = sitx_load_be32(buf + pos + 12);
            if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu ||
                !png_depth_valid(buf[pos + 16], buf[pos + 17]) || buf[pos + 18] != 0 ||
                buf[pos + 19] != 0 || buf[pos + 20] > 1) {
                sitx_image_seterr(err, "PNG: invalid IHDR");
                return SITX_E_BAD_IMAGE;
            }
            rc = sitx_image_check_size(lim, "PNG", w, h, err);
            if (rc != 0) {
                return rc;
            }
            info->width = w;
            info->height = h;
            info->components = buf[pos + 17] == 6   ? 4
                               : buf[pos + 17] == 2 ? 3
                               : buf[pos + 17] == 4 ? 2
                                                    : 1;
            info->progressive = buf[pos + 20] == 1;
        } else if (memcmp(type, "IHDR", 4) == 0) {
            sitx_image_seterr(err, "PNG: more than one IHDR");
            return SITX_E_BAD_IMAGE;
        } else if (memcmp(type, "IDAT", 4) == 0) {
            if (idat_state == 2) {
                sitx_image_seterr(err, "PNG: IDAT chunks are not consecutive");
                return SITX_E_BAD_IMAGE;
            }
            idat_state = 1;
        } else if (memcmp(type, "IEND", 4) == 0) {
            if (idat_state == 0) {
                sitx_image_seterr(err, "PNG: no image data (IDAT)");
                return SITX_E_BAD_IMAGE;
            }
            return 0; /* bytes after IEND are ignored, as libpng does */
        } else {
            if (idat_state == 1) {
                idat_state = 2;
            }
            if (png_is_critical(type) && memcmp(type, "PLTE", 4) != 0) {
                sitx_image_seterr(err, "PNG: unknown critical chunk %.4s", (const char *)type);
                return SITX_E_BAD_IMAGE;
            }
        }
        n_chunks++;
        pos += 12 + (size_t)clen;
    }
}

/* Skips entropy-coded data from pos: returns the offset of the next marker's
 * 0xFF, or len when the data runs to the end of the file. */
static size_t skip_entropy(const uint8_t *buf, size_t len, size_t pos)
{
    while (pos < len) {
        const uint8_t *ff = memchr(buf + pos, 0xff, len - pos);
        size_t at;
        size_t next;

        if (ff == NULL) {
            return len;
        }
        at = (size_t)(ff - buf);
        next = at + 1;
        while (next < len && buf[next] == 0xff) {
            next++; /* fill bytes */
        }
        if (next >= len) {
            return len;
        }
        if (buf[next] == 0x00 || (buf[next] >= 0xd0 && buf[next] <= 0xd7)) {
            pos = next + 1; /* stuffed zero or restart marker */
            continue;
        }
        return at;
    }
    return len;
}

static int check_jpeg(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                      struct sitx_image_info *info, char err[static SITX_IMAGE_ERR_MAX])
{
    size_t pos = 2;
    int seen_sof = 0;
    int seen_sos = 0;

    if (len < 4 || buf[0] != 0xff || buf[1] != 0xd8) {
        sitx_image_seterr(err, "JPEG: no SOI marker");
        return SITX_E_BAD_IMAGE;
    }
    for (;;) {
        uint8_t m;
        size_t seg;

        if (pos >= len || buf[pos] != 0xff) {
            sitx_image_seterr(err, pos >= len ? "JPEG: file ends before EOI (truncated)"
                                              : "JPEG: expected a marker");
            return SITX_E_BAD_IMAGE;
        }
        while (pos < len && buf[pos] == 0xff) {
            pos++;
        }
        if (pos >= len) {
            sitx_image_seterr(err, "JPEG: file ends before EOI (truncated)");
            return SITX_E_BAD_IMAGE;
        }
        m = buf[pos++];
        if (m == 0xd9) {
            if (!seen_sos) {
                sitx_image_seterr(err, "JPEG: no image data (SOS) before EOI");
                return SITX_E_BAD_IMAGE;
            }
            return 0; /* bytes after EOI are never read by libjpeg */
        }
        if ((m >= 0xd0 && m <= 0xd7) || m == 0x01) {
            continue; /* standalone markers */
        }
        if (m == 0xd8 || m == 0x00) {
            sitx_image_seterr(err, "JPEG: invalid marker 0x%02x", m);
            return SITX_E_BAD_IMAGE;
        }
        if (len - pos < 2 || sitx_load_be16(buf + pos) > len - pos) {
            sitx_image_seterr(err, "JPEG: marker segment runs past the end (truncated)");
            return SITX_E_BAD_IMAGE;
        }
        seg = sitx_load_be16(buf + pos);
        if (seg < 2) {
            if (m == 0xda || (m >= 0xc0 && m <= 0xcf)) {
                sitx_image_seterr(err, "JPEG: invalid length in marker 0x%02x", m);
                return SITX_E_BAD_IMAGE;
            }
            seg = 2; /* libjpeg skips only the length bytes of such a segment */
        }
        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            const uint8_t *p = buf + pos + 2;
            int rc;

            /* Baseline, extended, progressive, Huffman or arithmetic; the
             * lossless and hierarchical processes are not supported. */
            if (m != 0xc0 && m != 0xc1 && m != 0xc2 && m != 0xc9 && m != 0xca) {
                sitx_image_seterr(err, "JPEG: unsupported coding process (SOF%d)", m - 0xc0);
                return SITX_E_UNSUPPORTED;
            }
            if (seen_sof) {
                sitx_image_seterr(err, "JPEG: two SOF markers");
                return SITX_E_BAD_IMAGE;
            }
            if (seg < 8 || seg != 8 + 3 * (size_t)p[5] || p[5] == 0) {
                sitx_image_seterr(err, "JPEG: invalid SOF segment");
                return SITX_E_BAD_IMAGE;
            }
            if (p[0] != 8) {
                sitx_image_seterr(err, "JPEG: unsupported data precision %u", p[0]);
                return SITX_E_BAD_IMAGE;
            }
            info->height = sitx_load_be16(p + 1);
            info->width = sitx_load_be16(p + 3);
            info->components = p[5];
            info->progressive = m == 0xc2 || m == 0xca;
            if (info->height == 0 || info->width == 0) {
                sitx_image_seterr(err, "JPEG: empty image (%ux%u)", info->width, info->height);
                return SITX_E_BAD_IMAGE;
            }
            rc = sitx_image_check_size(lim, "JPEG", info->width, info->height, err);
            if (rc != 0) {
                return rc;
            }
            seen_sof = 1;
        }
        pos += seg;
        if (m == 0xda) {
            if (!seen_sof) {
                sitx_image_seterr(err, "JPEG: SOS before SOF");
                return SITX_E_BAD_IMAGE;
            }
            seen_sos = 1;
            pos = skip_entropy(buf, len, pos);
        }
    }
}

int sitx_image_check_structure(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                               struct sitx_image_info *info, char err[static SITX_IMAGE_ERR_MAX])
{
    struct sitx_image_limits defaults;
    struct sitx_image_info scratch;

    err[0] = '\0';
    if (lim == NULL) {
        sitx_image_limits_default(&defaults);
        lim = &defaults;
    }
    if (info == NULL) {
        info = &scratch;
    }
    memset(info, 0, sizeof(*info));
    info->format = sitx_image_detect(buf, len);
    switch (info->format) {
    case SITX_IMAGE_PNG:
        return check_png(buf, len, lim, info, err);
    case SITX_IMAGE_JPEG:
        return check_jpeg(buf, len, lim, info, err);
    default:
        sitx_image_seterr(err, "not a PNG or JPEG image");
        return SITX_E_UNSUPPORTED;
    }
}
