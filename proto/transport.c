/* Transport frames after Split(): [len:u16 BE][AES-256-GCM(record) || tag],
 * empty AD, the CipherState's counter as the nonce. */
#include "transport.h"

#include "bytes.h"
#include "err.h"

/* A record is at least its type byte, so a frame carries at least 17 bytes. */
#define MIN_CT_LEN (1 + SITX_TAG_LEN)

int sitx_transport_seal(struct sitx_cipher *tx, const uint8_t *rec, size_t rec_len, uint8_t *frame,
                        size_t frame_cap, size_t *frame_len)
{
    size_t ct_len = 0;
    int rc;

    *frame_len = 0;
    /* Without a key EncryptWithAd passes plaintext through: never on the wire. */
    if (!sitx_cipher_has_key(tx)) {
        return SITX_E_STATE;
    }
    if (rec_len > SITX_RECORD_MAX) {
        return SITX_E_TOO_LARGE;
    }
    if (rec == NULL || rec_len == 0) {
        return SITX_E_INVALID;
    }
    if (frame == NULL || frame_cap < SITX_FRAME_HDR + rec_len + SITX_TAG_LEN) {
        return SITX_E_BUFFER;
    }
    rc = sitx_cipher_encrypt(tx, NULL, 0, rec, rec_len, frame + SITX_FRAME_HDR,
                             frame_cap - SITX_FRAME_HDR, &ct_len);
    if (rc != 0) {
        return rc;
    }
    sitx_store_be16(frame, (uint16_t)ct_len);
    *frame_len = SITX_FRAME_HDR + ct_len;
    return 0;
}

int sitx_transport_open(struct sitx_cipher *rx, const uint8_t *ct, size_t ct_len, uint8_t *rec,
                        size_t rec_cap, size_t *rec_len)
{
    *rec_len = 0;
    if (!sitx_cipher_has_key(rx)) {
        return SITX_E_STATE;
    }
    if (ct_len > SITX_FRAME_MAX) {
        return SITX_E_TOO_LARGE;
    }
    if (ct == NULL || ct_len < MIN_CT_LEN) {
        return SITX_E_TRUNCATED;
    }
    if (rec == NULL || rec_cap < ct_len - SITX_TAG_LEN) {
        return SITX_E_BUFFER;
    }
    return sitx_cipher_decrypt(rx, NULL, 0, ct, ct_len, rec, rec_cap, rec_len);
}
