/* File-name sanitising for names offered by senders: a flat result has no path
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

/* Most directory levels an offered path keeps, the file name included. */
#define SITX_NAME_DEPTH_MAX 16

/* Like sitx_name_sanitize, but keeps the directories of a relative path
 * ("a/b/c.png"): components are split at '/', empty, "." and ".." ones are
 * dropped (never resolved), every directory component is cleaned like a
 * name (no leading dots or spaces, no control or separator characters, no
 * trailing dots or spaces; one left empty is dropped), the directories
 * beyond SITX_NAME_DEPTH_MAX - 1 are dropped from the deep end, and only the
 * last component gets the extension rule. When the whole path would be
 * longer than SITX_NAME_MAX bytes (or cap - 1), the directories are dropped
 * and the flat name is returned. The result never starts with '/', never has
 * "//", "." or ".." components, and always succeeds. */
size_t sitx_name_sanitize_path(const char *in, size_t len, const char *ext, char *out,
                               size_t cap);

/* Cleans in[0..len) as one directory component, as sitx_name_sanitize_path
 * cleans each of its directories: leading dots and spaces go, trailing dots
 * and spaces too, '/', '\\', ':', control characters, bidirectional marks
 * and bytes that are not UTF-8 become '_'. At most SITX_NAME_MAX bytes (or
 * cap - 1), cut on a character boundary. Returns the length written; 0 (and
 * "") when nothing is left, which the caller must replace. */
size_t sitx_name_sanitize_dir(const char *in, size_t len, char *out, size_t cap);

/* Splits a sanitised path: the length of its directory part (0 for a flat
 * name), so name + that + 1 is the file name. */
size_t sitx_name_dir_len(const char *name);

/* Decodes the UTF-8 sequence at s[0..len) into *cp. Returns its length (1-4),
 * or 0 when the bytes there are not valid UTF-8 (overlong form, surrogate,
 * above U+10FFFF, stray continuation byte, sequence cut short). */
size_t sitx_utf8_next(const uint8_t *s, size_t len, uint32_t *cp);

#endif
