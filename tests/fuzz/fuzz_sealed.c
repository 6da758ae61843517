/* The sealed-file reader (common/seal_read.c) on untrusted bytes. Input:
 * [seed:u8][file]; the seed picks the sizes the file is fed in, so the
 * same file is also read in pieces. The opener's keys are fixed
 * (fuzz_sealed_keys.h; the PSK stands in for Argon2id). Checks: a failure
 * has a class and a message, and errors stick; DONE comes only after END
 * and exactly the offered number of DATA bytes, and nothing follows it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "fuzz_sealed_keys.h"
#include "seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SIZE (1u << 20)

static size_t chunk_size(uint8_t seed, size_t i)
{
    if (seed == 0) {
        return SIZE_MAX; /* all at once */
    }
    return 1 + (size_t)((seed * 31u + i * 17u) % (seed < 128 ? 7u : 4099u));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitx_seal_reader *r = NULL;
    struct sitx_seal_event ev;
    uint64_t got = 0;
    uint64_t offered = 0;
    int ended = 0;
    int done = 0;
    size_t pos = 1;
    uint8_t seed;
    int rc = 0;

    if (size < 1 || sodium_init() < 0 || sitx_seal_reader_new(&r, MAX_SIZE) != 0) {
        return 0;
    }
    seed = data[0];
    for (size_t i = 0; pos < size && rc >= 0; i++) {
        size_t n = chunk_size(seed, i);

        n = n > size - pos ? size - pos : n;
        rc = sitx_seal_reader_feed(r, data + pos, n);
        pos += n;
        while (rc >= 0 && (rc = sitx_seal_reader_next(r, &ev)) == 1) {
            switch (ev.type) {
            case SITX_SEAL_EV_HEADER:
                rc = ev.header.mode == SITX_SEAL_PASSWORD
                         ? sitx_seal_reader_set_psk(r, fuzz_seal_psk)
                         : sitx_seal_reader_set_key(r, fuzz_seal_recv_sk);
                break;
            case SITX_SEAL_EV_OFFER:
                offered = ev.offer.size;
                if (offered > MAX_SIZE) {
                    abort();
                }
                break;
            case SITX_SEAL_EV_DATA:
                got += ev.len;
                if (ev.len == 0 || got > offered) {
                    abort();
                }
                break;
            case SITX_SEAL_EV_END:
                if (got != offered) {
                    abort();
                }
                ended = 1;
                break;
            case SITX_SEAL_EV_DONE:
                if (!ended) {
                    abort();
                }
                done = 1;
                break;
            default:
                break;
            }
        }
    }
    if (rc >= 0) {
        rc = sitx_seal_reader_finish(r);
    }
    if (rc == 0 && (!done || pos != size)) {
        abort();
    }
    if (rc < 0) {
        if (sitx_seal_reader_failure(r) == SITX_SEAL_OK || sitx_seal_reader_errstr(r)[0] == '\0' ||
            sitx_seal_reader_next(r, &ev) != rc || sitx_seal_reader_finish(r) != rc) {
            abort();
        }
    }
    sitx_seal_reader_free(r);
    return 0;
}
