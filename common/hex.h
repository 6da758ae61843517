/* Hex digits, for the few text formats that carry bytes as %41, \x41 or
 * plain hex (log lines, state files, URLs, test vectors). Whole hex strings
 * of a known length go through sodium_hex2bin() instead. */
#ifndef SITX_COMMON_HEX_H
#define SITX_COMMON_HEX_H

#include <stddef.h>

/* The value of one hex digit (0-9, a-f, A-F), or -1 for any other char. */
int sitx_hexval(int c);

/* 1 when s is exactly len lower-case hex digits, as sodium_bin2hex()
 * writes them (names we derive: fingerprints, partials), else 0. */
int sitx_is_lower_hex(const char *s, size_t len);

#endif
