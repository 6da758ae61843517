/* Noise HandshakeState (revision 34) for 25519_AESGCM_BLAKE2b, patterns XX,
 * NNpsk0 and XXpsk3, and the one-way N, X, Npsk0 and Xpsk1, driven by its action as in noise-c. All secret state
 * (keys, chaining key, DH outputs) lives in sodium_malloc'd memory and is
 * wiped by sitx_hs_free(). */
#ifndef SITX_HANDSHAKE_H
#define SITX_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "cipher.h"
#include "hash.h"

#define SITX_DH_LEN 32
#define SITX_NOISE_MAX_MSG 65535

enum sitx_hs_pattern {
    SITX_HS_XX,     /* Noise_XX_25519_AESGCM_BLAKE2b: key mode */
    SITX_HS_NNPSK0, /* Noise_NNpsk0_25519_AESGCM_BLAKE2b: password mode */
    SITX_HS_XXPSK3, /* Noise_XXpsk3_25519_AESGCM_BLAKE2b */
    /* One-way (one message, initiator to a responder whose static key the
     * initiator knows): sealed files. */
    SITX_HS_N,     /* Noise_N_25519_AESGCM_BLAKE2b: anonymous sender */
    SITX_HS_X,     /* Noise_X_25519_AESGCM_BLAKE2b: sender authenticated */
    SITX_HS_NPSK0, /* Noise_Npsk0_25519_AESGCM_BLAKE2b: password */
    SITX_HS_XPSK1, /* Noise_Xpsk1_25519_AESGCM_BLAKE2b */
};

enum sitx_hs_role {
    SITX_HS_INITIATOR,
    SITX_HS_RESPONDER,
};

enum sitx_hs_action {
    SITX_HS_WRITE_MESSAGE, /* call sitx_hs_write_message() next */
    SITX_HS_READ_MESSAGE,  /* call sitx_hs_read_message() next */
    SITX_HS_SPLIT,         /* handshake done: call sitx_hs_split() */
    SITX_HS_FAILED,        /* a read failed; the state is dead */
};

struct sitx_hs_config {
    enum sitx_hs_pattern pattern;
    enum sitx_hs_role role;
    const uint8_t *prologue; /* may be NULL when prologue_len is 0 */
    size_t prologue_len;
    const uint8_t *static_sk; /* 32 bytes; required where this role has one */
    const uint8_t *psk;       /* 32 bytes; required for the psk patterns */
    /* One-way patterns, initiator: the responder's static public key. */
    const uint8_t *remote_static_pk;
    /* Tests only: ephemeral private key used instead of a random one. */
    const uint8_t *fixed_ephemeral_sk;
};

struct sitx_hs;

/* Initialize(): a new handshake. Copies every key it is given into guarded
 * memory. Returns 0, SITX_E_INVALID for a missing key, SITX_E_NOMEM. */
int sitx_hs_new(struct sitx_hs **out, const struct sitx_hs_config *cfg);
void sitx_hs_free(struct sitx_hs *hs); /* NULL-safe; wipes */

enum sitx_hs_action sitx_hs_get_action(const struct sitx_hs *hs);

/* The exact length of the next handshake message when it carries payload_len
 * bytes of payload: the receiver uses it to accept only fixed-size messages.
 * 0 when no message is due; SIZE_MAX when payload_len > SITX_NOISE_MAX_MSG. */
size_t sitx_hs_message_len(const struct sitx_hs *hs, size_t payload_len);

/* WriteMessage(payload): writes the next message into out. Returns 0,
 * SITX_E_STATE when it is not our turn, SITX_E_BUFFER, SITX_E_TOO_LARGE
 * (message over SITX_NOISE_MAX_MSG), SITX_E_INVALID (NULL payload with a
 * length); these leave the state as it was. payload must not overlap out. */
int sitx_hs_write_message(struct sitx_hs *hs, const uint8_t *payload, size_t payload_len,
                          uint8_t *out, size_t out_cap, size_t *out_len);

/* ReadMessage(msg): on success the payload is in payload. On any failure
 * (SITX_E_DECRYPT, SITX_E_MALFORMED, SITX_E_BAD_KEY for a low-order key)
 * the state moves to SITX_HS_FAILED for good. SITX_E_MALFORMED: msg_len is
 * below sitx_hs_message_len(hs, 0) or over SITX_NOISE_MAX_MSG; SITX_E_BUFFER
 * (also fatal): the payload does not fit payload_cap. Out of turn it returns
 * SITX_E_STATE and changes nothing. payload must not overlap msg. */
int sitx_hs_read_message(struct sitx_hs *hs, const uint8_t *msg, size_t msg_len,
                         uint8_t *payload, size_t payload_cap, size_t *payload_len);

/* The peer's static public key, once a message carrying it was read. */
int sitx_hs_remote_static(const struct sitx_hs *hs, uint8_t out[static SITX_DH_LEN]);
/* Our own static public key (when this role has one). */
int sitx_hs_local_static(const struct sitx_hs *hs, uint8_t out[static SITX_DH_LEN]);
/* The handshake hash h; stable after the last message. */
int sitx_hs_handshake_hash(const struct sitx_hs *hs, uint8_t out[static SITX_HASHLEN]);

/* Split(): two new CipherStates, send first from this side's point of view
 * (initiator sends with c1, responder with c2). The caller owns both.
 * Wipes the chaining key and private keys; only the handshake hash stays.
 * Returns 0, SITX_E_STATE (not done, or already split), SITX_E_NOMEM. */
int sitx_hs_split(struct sitx_hs *hs, struct sitx_cipher **send, struct sitx_cipher **recv);

/* X25519 as the handshake uses it: out = DH(sk, pk). Returns 0, or
 * SITX_E_BAD_KEY (out zeroed) when the result is all zero, i.e. pk is a
 * low-order point. */
int sitx_dh(uint8_t out[static SITX_DH_LEN], const uint8_t sk[static SITX_DH_LEN],
            const uint8_t pk[static SITX_DH_LEN]);

#endif
