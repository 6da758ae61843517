/* Hex digits, for the few text formats that carry bytes as %XX, \xXX or
 * plain hex (log lines, state files, URLs, test vectors). Whole hex strings
 * of a known length go through sodium_hex2bin() instead. */
#ifndef SITX_COMMON_HEX_H
#define SITX_COMMON_HEX_H

/* The value of one hex digit (0-9, a-f, A-F), or -1 for any other char. */
int sitx_hexval(int c);

#endif
