/* PNG and JPEG: detection by content, validation under limits (whole buffer
 * or streamed), lossless or lossy recompression, metadata stripping. No
 * library error escapes as a longjmp, an exit() or a line on stderr: each
 * becomes a return code and a message in err. */
#ifndef SITX_IMAGE_H
#define SITX_IMAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "secmem.h"

enum sitx_image_format {
    SITX_IMAGE_UNKNOWN = 0,
    SITX_IMAGE_PNG = 1, /* same numbers as the wire format */
    SITX_IMAGE_JPEG = 2,
};

struct sitx_image_limits {
    uint32_t max_width;
    uint32_t max_height;
    uint64_t max_pixels;
    uint32_t max_scans;   /* progressive JPEG scans */
    uint64_t max_memory;  /* bytes the decoder may allocate */
};

struct sitx_image_info {
    enum sitx_image_format format;
    uint32_t width;
    uint32_t height;
    int components;
    int progressive; /* JPEG progressive, PNG interlaced */
};

enum sitx_compress {
    SITX_COMPRESS_NONE,     /* bytes as they are */
    SITX_COMPRESS_LOSSLESS, /* same pixels, smaller when it pays */
    SITX_COMPRESS_LOSSY,    /* re-encode as JPEG at quality */
};

struct sitx_image_opts {
    enum sitx_compress mode;
    int quality;        /* 1..100, for LOSSY; 85 by default */
    int strip_metadata; /* drop EXIF, XMP, comments, text; keep ICC, honour orientation */
    int always;         /* LOSSLESS: skip the "does it pay" estimate */
    /* LOSSLESS: the link's speed in bytes/s when the caller knows it (e.g.
     * measured on the previous image); 0 means unknown, taken as a fast link
     * where recompression never pays, so the original is sent. */
    uint64_t link_bytes_per_sec;
};

#define SITX_IMAGE_ERR_MAX 160

/* 64 Mpx, 65535 per side, 100 scans (encoders write about 10), 1 GiB:
 * generous for photos and scans. */
void sitx_image_limits_default(struct sitx_image_limits *l);

enum sitx_image_format sitx_image_detect(const uint8_t *buf, size_t len);
const char *sitx_image_format_name(enum sitx_image_format f); /* "PNG", "JPEG", "unknown" */
const char *sitx_image_ext(enum sitx_image_format f);         /* ".png", ".jpg", "" */

/* Decodes the whole image (JPEG: every entropy-coded coefficient, with the
 * inverse DCT at 1/8 scale, DC only) under lim (NULL: the
 * defaults). Returns 0, SITX_E_UNSUPPORTED (not PNG/JPEG), SITX_E_BAD_IMAGE,
 * SITX_E_LIMIT or SITX_E_NOMEM, with the reason in err. Any libjpeg warning
 * (corrupt data) refuses a JPEG; PNG ancillary-chunk faults that libpng
 * only warns about (bad CRC, misplaced chunk) do not refuse. info may be
 * NULL. It is the streaming validator below fed the whole buffer, with
 * the buffer as its reread source (a sound PNG is checked without
 * unfiltering its rows). */
int sitx_image_validate(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                        struct sitx_image_info *info, char err[static SITX_IMAGE_ERR_MAX]);

/* The container only, without decoding pixels: PNG signature, chunk lengths
 * and CRCs (critical chunks), IHDR within lim, IDAT, IEND; JPEG SOI, marker
 * segments, an 8-bit SOF of a supported process within lim, SOS, entropy
 * data up to EOI. Never refuses what sitx_image_validate() accepts; refuses
 * truncated, mangled and unsupported files cheaply. lim and info may be
 * NULL. Returns 0, SITX_E_UNSUPPORTED, SITX_E_BAD_IMAGE, SITX_E_LIMIT. */
int sitx_image_check_structure(const uint8_t *buf, size_t len,
                               const struct sitx_image_limits *lim, struct sitx_image_info *info,
                               char err[static SITX_IMAGE_ERR_MAX]);

/* Streaming validation: feed bytes as they arrive, then finish. Errors stick;
 * feed after an error returns it again. Memory stays bounded by lim; only a
 * small window of input is kept (a marker segment or an MCU for JPEG, a
 * partial chunk for PNG), except for arithmetic-coded JPEGs, which libjpeg
 * cannot suspend in and which are held until finish. finish gives the same
 * result and message as sitx_image_validate() on all the bytes fed. */
struct sitx_image_validator;
int sitx_image_validator_new(struct sitx_image_validator **out,
                             const struct sitx_image_limits *lim);
int sitx_image_validator_feed(struct sitx_image_validator *v, const uint8_t *buf, size_t len);
int sitx_image_validator_finish(struct sitx_image_validator *v, struct sitx_image_info *info);
const char *sitx_image_validator_errstr(const struct sitx_image_validator *v);
void sitx_image_validator_free(struct sitx_image_validator *v); /* NULL-safe */

/* Memory accounting, for a caller that runs many validations under one
 * budget. Before the first byte, a validation under lim needs at most
 * sitx_image_memory_floor(lim): every PNG (whose rows are bounded by
 * lim->max_width) and every single-scan Huffman JPEG up to that width fit
 * in it. Once the header has arrived, sitx_image_validator_need() says what
 * this image needs at most: PNG a few rows; JPEG single-scan a few MCU rows;
 * progressive or multi-scan JPEG the whole coefficient image (w x h x
 * components x 2 bytes, by sampling factors); arithmetic-coded JPEG also
 * the whole file, which it holds (file_len below). Estimates are
 * conservative: what libpng/libjpeg allocate stays under them. */
uint64_t sitx_image_memory_floor(const struct sitx_image_limits *lim);

/* budget: bytes reserved for this validation (0: no gate, the default).
 * A JPEG whose need is over it stops right after its header, before the
 * large allocations: feed returns 0, sitx_image_validator_held() is 1, and
 * the caller must not feed more until it raised the budget with another
 * call; the next feed (len may be 0) goes on. file_len is the whole file's
 * length when known (0 if not). */
void sitx_image_validator_set_budget(struct sitx_image_validator *v, uint64_t budget,
                                     uint64_t file_len);
/* 0 until the header is known, then the estimate above. */
uint64_t sitx_image_validator_need(const struct sitx_image_validator *v);
/* 1 while the validation waits for a budget of at least its need. */
int sitx_image_validator_held(const struct sitx_image_validator *v);

/* A PNG can be validated faster when the validator may read its bytes
 * again: a shortcut checks the image data without unfiltering rows, and
 * if it cannot decide (a fault, an unusual layout) the full path starts
 * over on every byte fed so far, so verdicts and messages are the same as
 * without it. reread(ctx, off, buf, len) copies bytes [off, off + len) of
 * what was fed into buf and returns len, or a negative errno; it is
 * called from feed and finish, never for bytes not yet fed. Set it before
 * the first feed; without it (the default) a PNG takes the full path. */
typedef int64_t (*sitx_image_reread_fn)(void *ctx, uint64_t off, uint8_t *buf, size_t len);
void sitx_image_validator_set_reread(struct sitx_image_validator *v, sitx_image_reread_fn reread,
                                     void *ctx);

/* cancel points to a flag another thread may set: once it is non-zero,
 * feed and finish stop at the next row, scan step or piece of input with
 * SITX_E_CANCELLED. NULL (the default) for none. The flag must outlive v. */
void sitx_image_validator_set_cancel(struct sitx_image_validator *v, const atomic_int *cancel);

/* Prepares an image for sending under opts. On success out holds the new
 * payload and *out_format its format, or out->len == 0 when the original is
 * the one to send (smaller, or compression does not pay). out is the
 * caller's (sitx_buf_init'd; its old contents are replaced).
 * NONE: the original, unless strip_metadata: then metadata markers/chunks
 *   are dropped without recompressing.
 * LOSSLESS: JPEG Huffman optimisation (+ progressive when smaller), PNG
 *   re-deflation; same decoded pixels; done when always is set or the link
 *   is slow enough for it to pay; the smaller of original and new is sent.
 * LOSSY: JPEG at quality (0 means 85); PNG alpha is composited on white.
 * strip_metadata: drops EXIF (GPS included), XMP, comments, other APPn, PNG
 *   tEXt/zTXt/iTXt/eXIf/tIME and JPEG bytes after EOI; keeps ICC profiles; a
 *   JPEG EXIF orientation other than 1 is kept as a minimal EXIF holding only
 *   that tag, so the picture still shows the right way up. The stripped
 *   result is sent even when it is not smaller.
 * Returns 0, SITX_E_UNSUPPORTED, SITX_E_BAD_IMAGE, SITX_E_LIMIT,
 * SITX_E_INVALID (bad quality or mode), SITX_E_NOMEM. */
int sitx_image_recompress(const uint8_t *in, size_t len, const struct sitx_image_opts *opts,
                          struct sitx_buf *out, enum sitx_image_format *out_format,
                          char err[static SITX_IMAGE_ERR_MAX]);

/* Decodes to 8-bit RGBA (PNG: 16-bit reduced; JPEG: RGB plus 255 alpha,
 * CMYK taken as Adobe's inverted CMYK, no block smoothing) for comparing
 * pixels in tests and tools. *pixels is malloc'd, width*height*4. lim NULL
 * means the defaults. */
int sitx_image_decode_rgba(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                           uint8_t **pixels, uint32_t *width, uint32_t *height,
                           char err[static SITX_IMAGE_ERR_MAX]);

/* The "ciphertext picture": bytes[0..len) as RGB pixels, 3 bytes a pixel
 * in order, in a w x h rectangle of about aspect_w:aspect_h (0:0 for a
 * square), the rest black, encoded as PNG into out (cleared first).
 * Returns 0, SITX_E_INVALID (len 0), SITX_E_LIMIT (a side over 16384),
 * SITX_E_NOMEM, SITX_E_INTERNAL (libpng). */
int sitx_image_preview_png(const uint8_t *bytes, size_t len, uint32_t aspect_w,
                           uint32_t aspect_h, struct sitx_buf *out,
                           char err[static SITX_IMAGE_ERR_MAX]);

#endif
