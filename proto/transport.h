/* Transport records after Split(): each record's plaintext is sealed into one
 * frame, [len:u16 BE][AES-256-GCM ciphertext+tag], with empty AD and the
 * CipherState's counter nonce, so reordering, replay and truncation within
 * the stream all fail the tag. */
#ifndef SITX_TRANSPORT_H
#define SITX_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "cipher.h"

#define SITX_FRAME_HDR 2
#define SITX_FRAME_MAX 65535                       /* ciphertext bytes in one frame */
#define SITX_RECORD_MAX (SITX_FRAME_MAX - SITX_TAG_LEN) /* plaintext bytes in one record */

/* Seals rec into frame (length prefix included). Returns 0,
 * SITX_E_TOO_LARGE when rec_len > SITX_RECORD_MAX, SITX_E_BUFFER,
 * SITX_E_NONCE_EXHAUSTED. frame_cap >= rec_len + 18 is always enough.
 * Also SITX_E_INVALID for an empty record and SITX_E_STATE when tx has no
 * key (it would send plaintext). rec and frame must not overlap. */
int sitx_transport_seal(struct sitx_cipher *tx, const uint8_t *rec, size_t rec_len,
                        uint8_t *frame, size_t frame_cap, size_t *frame_len);

/* Opens the ciphertext of one frame (without its length prefix) into rec.
 * rec may equal ct. Returns 0 or SITX_E_DECRYPT (rec wiped). Before any
 * decryption it also refuses: SITX_E_TRUNCATED (ct_len < 17: no room for a
 * record and a tag), SITX_E_TOO_LARGE (ct_len > SITX_FRAME_MAX),
 * SITX_E_BUFFER (rec_cap < ct_len - 16), SITX_E_STATE (rx has no key). Only
 * a success advances rx's nonce; after any error the stream is dead. */
int sitx_transport_open(struct sitx_cipher *rx, const uint8_t *ct, size_t ct_len, uint8_t *rec,
                        size_t rec_cap, size_t *rec_len);

#endif
