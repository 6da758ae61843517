/* Transport open of untrusted bytes with a fixed key. The input is read as
 * a stream of frames, [len:u16 BE][len bytes], each opened in turn with one
 * receiving CipherState until the first failure, as a connection would (at
 * most 64 frames, so the work per input stays bounded). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "err.h"
#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 64

/* The seeds in corpus/transport/ were sealed with this key from nonce 0. */
static const uint8_t key[SITX_KEY_LEN] = {
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
};

static uint8_t rec[SITX_FRAME_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitx_cipher *rx = NULL;
    size_t pos = 0;

    if (sodium_init() < 0 || sitx_cipher_new(&rx) != 0) {
        return 0;
    }
    sitx_cipher_init_key(rx, key);
    for (int i = 0; i < MAX_FRAMES && size - pos >= SITX_FRAME_HDR; i++) {
        size_t len = sitx_load_be16(data + pos);
        size_t rec_len = 1;
        uint64_t n = sitx_cipher_nonce(rx);
        int rc;

        pos += SITX_FRAME_HDR;
        /* A frame cut short by the end of input is opened as it stands. */
        if (len > size - pos) {
            len = size - pos;
        }
        rc = sitx_transport_open(rx, data + pos, len, rec, sizeof(rec), &rec_len);
        pos += len;
        if (rc != 0) {
            if (rc >= 0 || rec_len != 0 || sitx_cipher_nonce(rx) != n) {
                abort();
            }
            break;
        }
        if (rec_len + SITX_TAG_LEN != len || sitx_cipher_nonce(rx) != n + 1) {
            abort();
        }
    }
    sitx_cipher_free(rx);
    return 0;
}
