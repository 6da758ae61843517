/* File-name sanitising for names offered by senders: the result has no path
 * separators, no leading dots, no control characters, valid UTF-8, at most
 * SITX_NAME_MAX bytes, and an extension that matches the detected format. */
#ifndef SITX_NAME_H
#define SITX_NAME_H

#include <stddef.h>
#include <stdint.h>

/* Writes a safe name for in[0..len) into out (cap >= 256). Bytes that are not
 * allowed become '_'; "." and ".." and empty names become "image"; a wrong
 * or missing extension gets ext (".png" / ".jpg") appended. Always succeeds
 * and returns the length written. ext may be NULL. */
size_t sitx_name_sanitize(const char *in, size_t len, const char *ext, char *out, size_t cap);

/* Decodes the UTF-8 sequence at s[0..len) into *cp. Returns its length (1-4),
 * or 0 when the bytes there are not valid UTF-8 (overlong form, surrogate,
 * above U+10FFFF, stray continuation byte, sequence cut short). */
size_t sitx_utf8_next(const uint8_t *s, size_t len, uint32_t *cp);

#endif
