/* Push reader for length-prefixed frames ([len:u16 BE][len bytes]), as
 * hiredis read.c: feed whatever the socket gave, take out whole frames.
 * Errors are sticky. Its one buffer holds the bytes fed and not yet taken
 * out, with room to spare (at most about 2.7 times that; 4 KiB at least),
 * and is wiped whenever it is released. */
#ifndef SITX_READER_H
#define SITX_READER_H

#include <stddef.h>
#include <stdint.h>

struct sitx_reader;

/* A reader whose frames may be at most max_frame bytes (<= 65535). */
struct sitx_reader *sitx_reader_new(size_t max_frame);
void sitx_reader_free(struct sitx_reader *r); /* NULL-safe; wipes its buffer */

/* Tightens or loosens the frame limit for frames not yet started, e.g. the
 * exact size of the next handshake message. With SITX_READER_EXACT only
 * frames of exactly max_frame bytes (or the empty refusal) are accepted;
 * SITX_READER_VERSION_FRAME also lets through a 1-byte frame, the
 * receiver's "highest version I speak" answer (PROTOCOL.md §3). */
#define SITX_READER_EXACT 1
#define SITX_READER_VERSION_FRAME 2
void sitx_reader_set_limit(struct sitx_reader *r, size_t max_frame, int exact);

/* Appends len bytes. Returns 0, SITX_E_NOMEM, or the sticky error. */
int sitx_reader_feed(struct sitx_reader *r, const uint8_t *buf, size_t len);

/* 1 with *frame, *frame_len set to the next whole frame (valid until the
 * next call on r; the caller may modify it in place), 0 when more bytes are
 * needed, or a negative sticky error (SITX_E_TOO_LARGE, SITX_E_MALFORMED). */
int sitx_reader_next(struct sitx_reader *r, uint8_t **frame, size_t *frame_len);

/* Bytes buffered but not yet returned as frames. */
size_t sitx_reader_pending(const struct sitx_reader *r);

int sitx_reader_err(const struct sitx_reader *r);
const char *sitx_reader_errstr(const struct sitx_reader *r); /* "" when none */

#endif
