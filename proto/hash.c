/* BLAKE2b-512 as the Noise HASH, HMAC-BLAKE2b (RFC 2104), Noise HKDF, and the
 * 32-byte content hash, all on libsodium's crypto_generichash. */
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"

_Static_assert(sizeof(((struct sitx_content_hash *)0)->state) >= sizeof(crypto_generichash_state),
               "sitx_content_hash too small for crypto_generichash_state");
_Static_assert(_Alignof(struct sitx_content_hash) >= _Alignof(crypto_generichash_state),
               "sitx_content_hash under-aligned for crypto_generichash_state");
_Static_assert(SITX_HASHLEN == crypto_generichash_BYTES_MAX, "Noise HASHLEN is BLAKE2b-512");

void sitx_hash2(uint8_t out[static SITX_HASHLEN], const uint8_t *a, size_t a_len, const uint8_t *b,
                size_t b_len)
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, SITX_HASHLEN);
    if (a_len > 0) {
        crypto_generichash_update(&st, a, a_len);
    }
    if (b_len > 0) {
        crypto_generichash_update(&st, b, b_len);
    }
    crypto_generichash_final(&st, out, SITX_HASHLEN);
    sodium_memzero(&st, sizeof(st));
}

int sitx_hmac_checked(uint8_t out[static SITX_HASHLEN], const uint8_t *key, size_t key_len,
                      const uint8_t *data, size_t data_len)
{
    uint8_t pad[SITX_BLOCKLEN];
    uint8_t inner[SITX_HASHLEN];
    crypto_generichash_state st;
    int rc = 0;

    /* Noise only ever keys HMAC with HASHLEN bytes; a longer key is a bug,
     * and refusing it keeps the "hash long keys first" branch out of reach. */
    if (key_len > SITX_HASHLEN || (key == NULL && key_len > 0)) {
        sodium_memzero(out, SITX_HASHLEN);
        rc = SITX_E_INVALID;
        goto out;
    }

    memset(pad, 0x36, sizeof(pad));
    for (size_t i = 0; i < key_len; i++) {
        pad[i] ^= key[i];
    }
    crypto_generichash_init(&st, NULL, 0, SITX_HASHLEN);
    crypto_generichash_update(&st, pad, sizeof(pad));
    if (data_len > 0) {
        crypto_generichash_update(&st, data, data_len);
    }
    crypto_generichash_final(&st, inner, sizeof(inner));

    memset(pad, 0x5c, sizeof(pad));
    for (size_t i = 0; i < key_len; i++) {
        pad[i] ^= key[i];
    }
    crypto_generichash_init(&st, NULL, 0, SITX_HASHLEN);
    crypto_generichash_update(&st, pad, sizeof(pad));
    crypto_generichash_update(&st, inner, sizeof(inner));
    crypto_generichash_final(&st, out, SITX_HASHLEN);
out:
    sodium_memzero(pad, sizeof(pad));
    sodium_memzero(inner, sizeof(inner));
    sodium_memzero(&st, sizeof(st));
    return rc;
}

void sitx_hmac(uint8_t out[static SITX_HASHLEN], const uint8_t *key, size_t key_len,
               const uint8_t *data, size_t data_len)
{
    /* The contract is key_len <= 64 and there is no error return: going on
     * with a zero MAC would be silently wrong, so a caller bug stops here. */
    if (sitx_hmac_checked(out, key, key_len, data, data_len) != 0) {
        abort();
    }
}

void sitx_hkdf(const uint8_t ck[static SITX_HASHLEN], const uint8_t *ikm, size_t ikm_len,
               uint8_t out1[static SITX_HASHLEN], uint8_t out2[static SITX_HASHLEN], uint8_t *out3)
{
    uint8_t temp_key[SITX_HASHLEN];
    uint8_t in[SITX_HASHLEN + 1];

    sitx_hmac(temp_key, ck, SITX_HASHLEN, ikm, ikm_len);

    in[0] = 0x01;
    sitx_hmac(out1, temp_key, sizeof(temp_key), in, 1);

    memcpy(in, out1, SITX_HASHLEN);
    in[SITX_HASHLEN] = 0x02;
    sitx_hmac(out2, temp_key, sizeof(temp_key), in, sizeof(in));

    if (out3 != NULL) {
        memcpy(in, out2, SITX_HASHLEN);
        in[SITX_HASHLEN] = 0x03;
        sitx_hmac(out3, temp_key, sizeof(temp_key), in, sizeof(in));
    }
    sodium_memzero(temp_key, sizeof(temp_key));
    sodium_memzero(in, sizeof(in));
}

static crypto_generichash_state *content_state(struct sitx_content_hash *h)
{
    return (crypto_generichash_state *)(void *)h->state;
}

void sitx_content_hash_init(struct sitx_content_hash *h)
{
    crypto_generichash_init(content_state(h), NULL, 0, SITX_CONTENT_HASH_BYTES);
}

void sitx_content_hash_update(struct sitx_content_hash *h, const uint8_t *buf, size_t len)
{
    if (len > 0) {
        crypto_generichash_update(content_state(h), buf, len);
    }
}

void sitx_content_hash_final(struct sitx_content_hash *h,
                             uint8_t out[static SITX_CONTENT_HASH_BYTES])
{
    crypto_generichash_final(content_state(h), out, SITX_CONTENT_HASH_BYTES);
    sodium_memzero(h->state, sizeof(h->state));
}

void sitx_content_hash(uint8_t out[static SITX_CONTENT_HASH_BYTES], const uint8_t *buf, size_t len)
{
    struct sitx_content_hash h;

    sitx_content_hash_init(&h);
    sitx_content_hash_update(&h, buf, len);
    sitx_content_hash_final(&h, out);
}
