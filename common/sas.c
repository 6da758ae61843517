#include "sas.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"

#define SAS_MOD   1000000u
#define SAS_LIMIT (UINT64_MAX / SAS_MOD * SAS_MOD)

int sitx_sas_take(uint64_t x, uint32_t *code)
{
    /* UINT64_MAX / 10^6 * 10^6 equals floor(2^64 / 10^6) * 10^6 since 10^6
     * does not divide 2^64; values at or above it would favour small codes. */
    if (x >= SAS_LIMIT) {
        return 0;
    }
    *code = (uint32_t)(x % SAS_MOD);
    return 1;
}

void sitx_sas_code(const uint8_t h[static SITX_HASHLEN], char out[static SITX_SAS_DIGITS + 1])
{
    uint8_t d[crypto_generichash_BYTES_MAX];
    uint32_t code = 0;
    int found = 0;

    crypto_generichash(d, sizeof(d), h, SITX_HASHLEN, (const uint8_t *)SITX_SAS_KEY,
                       sizeof(SITX_SAS_KEY) - 1);
    for (size_t i = 0; i + 8 <= sizeof(d) && !found; i += 8) {
        found = sitx_sas_take(sitx_load_be64(d + i), &code);
    }
    if (!found) {
        /* Eight rejections in a row (chance 10^-104): a wide modulus is still near-uniform. */
        code = (uint32_t)(sitx_load_be64(d) % SAS_MOD);
    }
    snprintf(out, SITX_SAS_DIGITS + 1, "%06u", (unsigned)code);
    sodium_memzero(d, sizeof(d));
}

int sitx_sas_match(const char *input, const char code[static SITX_SAS_DIGITS + 1])
{
    char digits[SITX_SAS_DIGITS];
    size_t n = 0;

    for (const char *p = input; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n == sizeof(digits)) {
                return -1;
            }
            digits[n++] = *p;
        } else if (*p != ' ' && *p != '-' && *p != '\t' && *p != '\n' && *p != '\r') {
            return -1;
        }
    }
    if (n != sizeof(digits)) {
        return -1;
    }
    return sodium_memcmp(digits, code, sizeof(digits)) == 0 ? 1 : 0;
}
