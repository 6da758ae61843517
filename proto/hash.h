/* BLAKE2b as Noise uses it (HASHLEN 64), HMAC-BLAKE2b, Noise HKDF, and the
 * 32-byte BLAKE2b content hash that OFFER, END and RESULT carry. */
#ifndef SITX_HASH_H
#define SITX_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SITX_HASHLEN 64
#define SITX_BLOCKLEN 128
#define SITX_CONTENT_HASH_BYTES 32

/* out = BLAKE2b-512(a || b); either part may be empty. */
void sitx_hash2(uint8_t out[static SITX_HASHLEN], const uint8_t *a, size_t a_len,
                const uint8_t *b, size_t b_len);

/* out = HMAC-BLAKE2b(key, data) per RFC 2104 with a 128-byte block; key_len <= 64.
 * A longer key is a caller bug and aborts (see sitx_hmac_checked). */
void sitx_hmac(uint8_t out[static SITX_HASHLEN], const uint8_t *key, size_t key_len,
               const uint8_t *data, size_t data_len);
/* sitx_hmac() that refuses key_len > 64 with SITX_E_INVALID (out zeroed). */
int sitx_hmac_checked(uint8_t out[static SITX_HASHLEN], const uint8_t *key, size_t key_len,
                      const uint8_t *data, size_t data_len);

/* Noise HKDF(chaining_key, ikm) with 2 or 3 outputs (out3 NULL for 2). */
void sitx_hkdf(const uint8_t ck[static SITX_HASHLEN], const uint8_t *ikm, size_t ikm_len,
               uint8_t out1[static SITX_HASHLEN], uint8_t out2[static SITX_HASHLEN],
               uint8_t *out3);

/* Incremental 32-byte BLAKE2b of an image payload. */
struct sitx_content_hash {
    _Alignas(64) uint8_t state[384]; /* crypto_generichash_state, opaque here */
};

void sitx_content_hash_init(struct sitx_content_hash *h);
void sitx_content_hash_update(struct sitx_content_hash *h, const uint8_t *buf, size_t len);
void sitx_content_hash_final(struct sitx_content_hash *h,
                             uint8_t out[static SITX_CONTENT_HASH_BYTES]);
/* One-shot form of the three calls above. */
void sitx_content_hash(uint8_t out[static SITX_CONTENT_HASH_BYTES], const uint8_t *buf, size_t len);

#endif
