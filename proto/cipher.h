/* Noise CipherState on AES-256-GCM (libsodium), with the Noise nonce: 4 zero
 * bytes then the 64-bit counter, big-endian. The key and the expanded AES
 * state live in sodium_malloc'd memory and are wiped on free. */
#ifndef SITX_CIPHER_H
#define SITX_CIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SITX_KEY_LEN 32
#define SITX_TAG_LEN 16

struct sitx_cipher;

/* 1 when libsodium can do AES-256-GCM on this CPU, else 0. Call after sodium_init(). */
int sitx_aesgcm_available(void);

/* A new CipherState with no key. Returns 0 or -ENOMEM. */
int sitx_cipher_new(struct sitx_cipher **out);
void sitx_cipher_free(struct sitx_cipher *c); /* NULL-safe; wipes */

/* InitializeKey(k): sets the key and n = 0. Needs sitx_aesgcm_available(). */
void sitx_cipher_init_key(struct sitx_cipher *c, const uint8_t key[static SITX_KEY_LEN]);
bool sitx_cipher_has_key(const struct sitx_cipher *c);
void sitx_cipher_set_nonce(struct sitx_cipher *c, uint64_t n);
uint64_t sitx_cipher_nonce(const struct sitx_cipher *c);

/* EncryptWithAd: out gets pt_len + 16 bytes (or pt_len when no key). out may
 * equal pt. Returns 0, SITX_E_NONCE_EXHAUSTED when n reached 2^64-1,
 * SITX_E_BUFFER when out_cap is too small. */
int sitx_cipher_encrypt(struct sitx_cipher *c, const uint8_t *ad, size_t ad_len,
                        const uint8_t *pt, size_t pt_len, uint8_t *out, size_t out_cap,
                        size_t *out_len);

/* DecryptWithAd: on a bad tag returns SITX_E_DECRYPT, wipes out and leaves n
 * unchanged. out may equal ct. Also SITX_E_DECRYPT for ct_len < 16 (no room
 * for a tag), SITX_E_NONCE_EXHAUSTED, SITX_E_BUFFER (out_cap < ct_len - 16). */
int sitx_cipher_decrypt(struct sitx_cipher *c, const uint8_t *ad, size_t ad_len,
                        const uint8_t *ct, size_t ct_len, uint8_t *out, size_t out_cap,
                        size_t *out_len);

/* Raw AES-256-GCM with an explicit 12-byte nonce, for the Wycheproof test.
 * ct_and_tag gets pt_len + 16 bytes. Return 0, SITX_E_DECRYPT (pt wiped),
 * SITX_E_NO_AESGCM. */
int sitx_aesgcm_encrypt_raw(const uint8_t key[static 32], const uint8_t nonce[static 12],
                            const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                            uint8_t *ct_and_tag);
int sitx_aesgcm_decrypt_raw(const uint8_t key[static 32], const uint8_t nonce[static 12],
                            const uint8_t *ad, size_t ad_len, const uint8_t *ct_and_tag,
                            size_t ct_len_with_tag, uint8_t *pt);

#endif
