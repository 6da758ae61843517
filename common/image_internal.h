/* What the image_*.c files share and nobody else calls: error text,
 * limit checks, the per-format streaming validators, decoders and encoders.
 * Every function keeps its library's longjmp inside itself. */
#ifndef SITX_IMAGE_INTERNAL_H
#define SITX_IMAGE_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "secmem.h"

/* Need-more-input result of the streaming validators' feed (never returned
 * through the public API). */
#define SITX_IMAGE_MORE 1

/* Bytes an ancillary PNG chunk or a JPEG marker we keep may hold. */
#define SITX_IMAGE_CHUNK_MAX (8u * 1024 * 1024)

/* Memory every validation may use whatever its size: libpng/libjpeg state,
 * zlib, the JPEG input window (WINDOW_MAX in image_jpeg.c) while it grows,
 * the PNG chunk buffers (chunks passed to libpng are at most
 * SITX_PNG_PASSED_CHUNK_MAX). */
#define SITX_IMAGE_MEMORY_BASE (2u * 1024 * 1024)
/* Ancillary PNG chunks that still reach libpng are small by their nature. */
#define SITX_PNG_PASSED_CHUNK_MAX (64u * 1024)

/* What the validator shares with the format streams: the memory gate and
 * the cancel flag (see image.h), and the stream's estimate. */
struct sitx_image_ctl {
    uint64_t budget;   /* 0: no gate */
    uint64_t file_len; /* 0: unknown */
    uint64_t need;     /* set by the stream once its header is known */
    int held;          /* a JPEG waits after its header for a larger budget */
    const atomic_int *cancel;
};

static inline int sitx_image_cancelled(const struct sitx_image_ctl *ctl)
{
    return ctl != NULL && ctl->cancel != NULL &&
           atomic_load_explicit(ctl->cancel, memory_order_relaxed) != 0;
}

#define SITX_IMAGE_CANCEL_MSG "validation cancelled (deadline passed or sender gone)"

/* snprintf into err, never failing, always terminated. */
void sitx_image_seterr(char err[static SITX_IMAGE_ERR_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Checks width, height and their product against lim; fills err and returns
 * SITX_E_LIMIT when over, SITX_E_BAD_IMAGE for a zero side, else 0. */
int sitx_image_check_size(const struct sitx_image_limits *lim, const char *fmt_name, uint32_t width,
                          uint32_t height, char err[static SITX_IMAGE_ERR_MAX]);

/* True when a libpng warning is about the image data (IDAT, zlib, rows)
 * rather than an ancillary chunk: such a warning refuses the image. */
int sitx_png_warning_is_fatal(const char *msg);

/* PNG streaming validation (image_png.c): progressive reader, no row kept. */
struct sitx_png_stream;
/* ctl belongs to the caller and outlives the stream. */
int sitx_png_stream_new(struct sitx_png_stream **out, const struct sitx_image_limits *lim,
                        struct sitx_image_ctl *ctl);
/* 0 or an error (sticky, message in errstr). */
int sitx_png_stream_feed(struct sitx_png_stream *s, const uint8_t *buf, size_t len);
int sitx_png_stream_finish(struct sitx_png_stream *s, struct sitx_image_info *info);
const char *sitx_png_stream_errstr(const struct sitx_png_stream *s);
void sitx_png_stream_free(struct sitx_png_stream *s);
/* Once libpng has read the header chunks (the first IDAT header fed),
 * nothing failed and the memory limit leaves 256 KiB for the rest: info,
 * size, bits per pixel and interlacing; else -1. */
int sitx_png_stream_geometry(const struct sitx_png_stream *s, struct sitx_image_info *info,
                             uint32_t *width, uint32_t *height, int *pixel_depth, int *interlaced);
/* 1 when the streaming walk skips the chunk of this type at offset at
 * without showing it to libpng (ancillary chunks validation has no use for). */
int sitx_png_chunk_dropped(uint64_t at, const uint8_t type[4]);
/* The PNG shortcut (image_png_fast.c), fed as bytes arrive: feed returns
 * 0 while the image may still be sound, SITX_IMAGE_MORE once the
 * streaming path must decide (the caller then feeds that path every byte
 * again), SITX_E_CANCELLED; finish returns 0 with info set when the image
 * is sound, else SITX_IMAGE_MORE. It never accepts what the streaming path
 * refuses; it never refuses. ctl is the caller's and outlives q. */
struct sitx_png_quick;
int sitx_png_quick_new(struct sitx_png_quick **out, const struct sitx_image_limits *lim,
                       struct sitx_image_ctl *ctl);
int sitx_png_quick_feed(struct sitx_png_quick *q, const uint8_t *buf, size_t len);
int sitx_png_quick_finish(struct sitx_png_quick *q, struct sitx_image_info *info);
void sitx_png_quick_free(struct sitx_png_quick *q); /* NULL-safe */
/* The shortcut over a whole buffer: 0 with info set, or SITX_IMAGE_MORE. */
int sitx_png_validate_fast(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                           struct sitx_image_info *info);

/* JPEG streaming validation (image_jpeg.c): suspending source, bounded window. */
struct sitx_jpeg_stream;
int sitx_jpeg_stream_new(struct sitx_jpeg_stream **out, const struct sitx_image_limits *lim,
                         struct sitx_image_ctl *ctl);
int sitx_jpeg_stream_feed(struct sitx_jpeg_stream *s, const uint8_t *buf, size_t len);
int sitx_jpeg_stream_finish(struct sitx_jpeg_stream *s, struct sitx_image_info *info);
const char *sitx_jpeg_stream_errstr(const struct sitx_jpeg_stream *s);
/* Bytes the stream holds back between feeds (its window), for tests. */
size_t sitx_jpeg_stream_window(const struct sitx_jpeg_stream *s);
/* Lets a file take the shortcut of image_jpeg_fast.c after its header
 * (progressive, or one sequential scan, in the layouts it knows); call
 * before the first feed. Feed and finish may then return
 * SITX_IMAGE_MORE: the shortcut stepped aside, and a stream without it
 * must be fed every byte again for the verdict. */
void sitx_jpeg_stream_allow_quick(struct sitx_jpeg_stream *s);
/* The JPEG shortcut over a whole buffer: 0 with info set when it accepted,
 * SITX_IMAGE_MORE when the full path has to decide. */
int sitx_jpeg_validate_fast(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                            struct sitx_image_info *info);
void sitx_jpeg_stream_free(struct sitx_jpeg_stream *s);

/* Decoded pixels for re-encoding (image_png_read.c, image_jpeg_decode.c).
 * channels is 1 (gray) or 3 (RGB), 8 bits each; PNG alpha is composited on
 * white. pixels is malloc'd, width * height * channels bytes. icc is the
 * colour profile (malloc'd, may be NULL); markers holds the JPEG APPn/COM
 * segments to copy, each as marker byte, 16-bit big-endian length, data. */
struct sitx_image_pixels {
    uint8_t *pixels;
    uint32_t width;
    uint32_t height;
    int channels;
    uint8_t *icc;
    size_t icc_len;
    int orientation;
    struct sitx_buf markers;
};
void sitx_image_pixels_clear(struct sitx_image_pixels *px);
int sitx_png_decode_rgba(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                         uint8_t **pixels, uint32_t *width, uint32_t *height,
                         char err[static SITX_IMAGE_ERR_MAX]);
int sitx_png_decode_flat(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                         struct sitx_image_pixels *px, char err[static SITX_IMAGE_ERR_MAX]);
int sitx_jpeg_decode_rgba(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                          uint8_t **pixels, uint32_t *width, uint32_t *height,
                          char err[static SITX_IMAGE_ERR_MAX]);
int sitx_jpeg_decode_flat(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                          struct sitx_image_pixels *px, char err[static SITX_IMAGE_ERR_MAX]);

/* PNG rewrite (image_png_write.c): chunks kept raw except IDAT, which is
 * re-deflated when recompress is set; strip drops the text/time/EXIF chunks. */
int sitx_png_rewrite(const uint8_t *in, size_t len, int recompress, int strip, struct sitx_buf *out,
                     char err[static SITX_IMAGE_ERR_MAX]);
/* Fraction of the file a re-deflate is expected to save, 0..1 (cheap: reads
 * only IHDR and chunk lengths). */
double sitx_png_expected_saving(const uint8_t *in, size_t len);

/* JPEG markers (image_jpeg_markers.c). */
struct sitx_jpeg_scan {
    int progressive;      /* SOF2/SOF6/SOF10/SOF14 */
    int arithmetic;       /* SOF9..SOF15 */
    int standard_huffman; /* every DHT table is one of the Annex K tables */
    int huffman_tables;   /* DHT tables seen */
    int orientation;      /* EXIF orientation 1..8, 0 when absent */
    int has_exif;
    int has_icc;
};
/* Walks the marker segments (no decoding). Returns 0 or SITX_E_BAD_IMAGE. */
int sitx_jpeg_scan_markers(const uint8_t *in, size_t len, struct sitx_jpeg_scan *scan);
/* Byte-wise walk over a JPEG's marker structure as it streams in, to find
 * fill bytes followed by a stuffed zero (FF FF.. 00) in entropy-coded data:
 * invalid, and decoded differently by libjpeg-turbo's fast and slow Huffman
 * paths. safe says how many bytes (from the start of the file) libjpeg may
 * see: a run of 0xFF in entropy-coded data is held back until the byte
 * after it shows what it is, so libjpeg sees the same bytes before the
 * fault however the file arrives. */
struct sitx_jpeg_walk {
    uint64_t pos;     /* bytes walked */
    uint64_t safe;    /* bytes libjpeg may be given */
    uint64_t seg_end; /* end of the marker segment being skipped */
    uint64_t ff_at;   /* first 0xFF of a run in entropy-coded data */
    unsigned ff_run;
    unsigned len_hi;
    int marker;
    int state;
    int bad; /* FF FF.. 00 found at ff_at */
};
void sitx_jpeg_walk_init(struct sitx_jpeg_walk *w);
/* Walks the next len bytes of the file; updates safe and bad. */
void sitx_jpeg_walk(struct sitx_jpeg_walk *w, const uint8_t *buf, size_t len);

/* EXIF orientation (1..8) from an APP1 payload starting "Exif\0\0", 0 when absent. */
int sitx_exif_orientation(const uint8_t *app1, size_t len);
/* A minimal APP1 payload ("Exif\0\0" + TIFF with IFD0 holding only the
 * orientation tag) into buf (at least SITX_EXIF_MIN_LEN bytes); returns its length. */
#define SITX_EXIF_MIN_LEN 32
size_t sitx_exif_minimal(uint8_t buf[static SITX_EXIF_MIN_LEN], int orientation);
/* Copies the JPEG dropping metadata markers (APP1 Exif/XMP, COM, APPn but
 * JFIF, Adobe and ICC), and bytes after EOI; an orientation other than 1 is
 * kept as a minimal EXIF. Entropy-coded data is copied byte for byte. */
int sitx_jpeg_strip_markers(const uint8_t *in, size_t len, struct sitx_buf *out,
                            char err[static SITX_IMAGE_ERR_MAX]);

/* JPEG lossless transcode (image_jpeg_compress.c): Huffman optimisation, and
 * progressive when try_progressive and smaller. Markers are copied, or
 * filtered as sitx_jpeg_strip_markers does when strip. */
int sitx_jpeg_transcode(const uint8_t *in, size_t len, int try_progressive, int strip,
                        struct sitx_buf *out, char err[static SITX_IMAGE_ERR_MAX]);

/* JPEG encoding of flat pixels at quality (image_lossy.c), with the ICC
 * profile, and the copied markers unless strip (then only a minimal EXIF
 * when the orientation is not 1). */
int sitx_jpeg_encode(const struct sitx_image_pixels *px, int quality, int strip,
                     struct sitx_buf *out, char err[static SITX_IMAGE_ERR_MAX]);

#endif
