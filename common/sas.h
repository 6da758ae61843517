/* The short authentication string of a pairing: six decimal digits both
 * sides derive from the Noise handshake hash h and show to their users. A
 * party in the middle runs two handshakes, so it holds two different hashes
 * and can only hope that two independent codes agree: 1 in 10^6.
 *
 *   d = BLAKE2b-512(key = "sitx/1 pairing code", h)
 *   for each 8-byte window x_i = u64be(d[8i..8i+8]), i = 0..7:
 *       if x_i < L, where L = floor(2^64 / 10^6) * 10^6: code = x_i mod 10^6
 *
 * Rejection keeps every code equally likely; a window is rejected with
 * probability under 10^-13, so the first one is taken all but always. */
#ifndef SITX_SAS_H
#define SITX_SAS_H

#include <stdint.h>

#include "hash.h"

#define SITX_SAS_DIGITS 6
#define SITX_SAS_KEY    "sitx/1 pairing code"

/* out gets SITX_SAS_DIGITS digits and a NUL. */
void sitx_sas_code(const uint8_t h[static SITX_HASHLEN], char out[static SITX_SAS_DIGITS + 1]);

/* The numeric code out of a window (exposed for the tests of the rejection
 * rule): 1 with *code set when x is below the limit, 0 when rejected. */
int sitx_sas_take(uint64_t x, uint32_t *code);

/* What a person typed, against the code: six digits, with blanks or '-'
 * between them allowed ("123 456", "123-456"). Returns 1 when they equal
 * code (compared in constant time), 0 when they differ, -1 when the input is
 * not six digits. */
int sitx_sas_match(const char *input, const char code[static SITX_SAS_DIGITS + 1]);

#endif
