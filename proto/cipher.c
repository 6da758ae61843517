/* Noise CipherState on libsodium's AES-256-GCM. The key is expanded once
 * (beforenm) into a state that lives in sodium_malloc'd memory; the raw key
 * is not kept. */
#include "cipher.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "err.h"

#define NONCE_LEN crypto_aead_aes256gcm_NPUBBYTES

_Static_assert(SITX_KEY_LEN == crypto_aead_aes256gcm_KEYBYTES, "AES-256 key");
_Static_assert(SITX_TAG_LEN == crypto_aead_aes256gcm_ABYTES, "GCM tag");
_Static_assert(NONCE_LEN == 12, "Noise AESGCM nonce is 96 bits");

struct sitx_cipher {
    crypto_aead_aes256gcm_state st; /* first: 16-byte aligned in sodium_malloc */
    uint64_t n;
    bool has_key;
};

/* sodium_malloc places the block at the end of a page, so it is 16-byte
 * aligned only when its size is a multiple of 16. */
_Static_assert(sizeof(struct sitx_cipher) % 16 == 0, "sitx_cipher size must be a multiple of 16");

/* Noise AESGCM nonce: 32 zero bits, then n as a big-endian u64. */
static void make_nonce(uint8_t nonce[static NONCE_LEN], uint64_t n)
{
    memset(nonce, 0, 4);
    sitx_store_be64(nonce + 4, n);
}

int sitx_aesgcm_available(void)
{
    return crypto_aead_aes256gcm_is_available() == 1 ? 1 : 0;
}

int sitx_cipher_new(struct sitx_cipher **out)
{
    struct sitx_cipher *c = sodium_malloc(sizeof(*c));

    *out = NULL;
    if (c == NULL) {
        return -ENOMEM;
    }
    if (((uintptr_t)c & 15u) != 0) {
        sodium_free(c);
        return -ENOMEM;
    }
    sodium_memzero(c, sizeof(*c));
    *out = c;
    return 0;
}

void sitx_cipher_free(struct sitx_cipher *c)
{
    if (c != NULL) {
        sodium_memzero(c, sizeof(*c));
        sodium_free(c);
    }
}

void sitx_cipher_init_key(struct sitx_cipher *c, const uint8_t key[static SITX_KEY_LEN])
{
    crypto_aead_aes256gcm_beforenm(&c->st, key);
    c->n = 0;
    c->has_key = true;
}

bool sitx_cipher_has_key(const struct sitx_cipher *c)
{
    return c->has_key;
}

void sitx_cipher_set_nonce(struct sitx_cipher *c, uint64_t n)
{
    c->n = n;
}

uint64_t sitx_cipher_nonce(const struct sitx_cipher *c)
{
    return c->n;
}

int sitx_cipher_encrypt(struct sitx_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                        size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t nonce[NONCE_LEN];
    unsigned long long maclen = 0;

    *out_len = 0;
    if (!c->has_key) {
        if (out_cap < pt_len) {
            return SITX_E_BUFFER;
        }
        if (pt_len > 0 && out != pt) {
            memmove(out, pt, pt_len);
        }
        *out_len = pt_len;
        return 0;
    }
    /* n = 2^64-1 is reserved (Noise 5.1): never use it, never wrap. */
    if (c->n == UINT64_MAX) {
        return SITX_E_NONCE_EXHAUSTED;
    }
    if (pt_len > SIZE_MAX - SITX_TAG_LEN || out_cap < pt_len + SITX_TAG_LEN) {
        return SITX_E_BUFFER;
    }
    make_nonce(nonce, c->n);
    /* Detached, so that out == pt works and the tag lands after the text. */
    if (crypto_aead_aes256gcm_encrypt_detached_afternm(out, out + pt_len, &maclen, pt, pt_len, ad,
                                                       ad_len, NULL, nonce, &c->st) != 0) {
        return SITX_E_INTERNAL;
    }
    c->n++;
    *out_len = pt_len + SITX_TAG_LEN;
    return 0;
}

int sitx_cipher_decrypt(struct sitx_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                        size_t ct_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    uint8_t nonce[NONCE_LEN];
    size_t pt_len;

    *out_len = 0;
    if (!c->has_key) {
        if (out_cap < ct_len) {
            return SITX_E_BUFFER;
        }
        if (ct_len > 0 && out != ct) {
            memmove(out, ct, ct_len);
        }
        *out_len = ct_len;
        return 0;
    }
    if (c->n == UINT64_MAX) {
        return SITX_E_NONCE_EXHAUSTED;
    }
    /* Too short to hold a tag: it cannot authenticate, so it is a tag failure. */
    if (ct_len < SITX_TAG_LEN) {
        return SITX_E_DECRYPT;
    }
    pt_len = ct_len - SITX_TAG_LEN;
    if (out_cap < pt_len) {
        return SITX_E_BUFFER;
    }
    make_nonce(nonce, c->n);
    if (crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, ct, pt_len, ct + pt_len, ad,
                                                       ad_len, nonce, &c->st) != 0) {
        sodium_memzero(out, pt_len);
        return SITX_E_DECRYPT;
    }
    c->n++;
    *out_len = pt_len;
    return 0;
}

int sitx_aesgcm_encrypt_raw(const uint8_t key[static 32], const uint8_t nonce[static 12],
                            const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                            uint8_t *ct_and_tag)
{
    unsigned long long clen = 0;

    if (!sitx_aesgcm_available()) {
        return SITX_E_NO_AESGCM;
    }
    if (crypto_aead_aes256gcm_encrypt(ct_and_tag, &clen, pt, pt_len, ad, ad_len, NULL, nonce,
                                      key) != 0) {
        return SITX_E_INTERNAL;
    }
    return 0;
}

int sitx_aesgcm_decrypt_raw(const uint8_t key[static 32], const uint8_t nonce[static 12],
                            const uint8_t *ad, size_t ad_len, const uint8_t *ct_and_tag,
                            size_t ct_len_with_tag, uint8_t *pt)
{
    unsigned long long mlen = 0;

    if (!sitx_aesgcm_available()) {
        return SITX_E_NO_AESGCM;
    }
    if (ct_len_with_tag < SITX_TAG_LEN) {
        return SITX_E_DECRYPT;
    }
    if (crypto_aead_aes256gcm_decrypt(pt, &mlen, NULL, ct_and_tag, ct_len_with_tag, ad, ad_len,
                                      nonce, key) != 0) {
        sodium_memzero(pt, ct_len_with_tag - SITX_TAG_LEN);
        return SITX_E_DECRYPT;
    }
    return 0;
}
