/* What is said in clear before the Noise handshake, and the prologue that
 * binds it into the handshake hash so that neither side can be talked into
 * another version, mode or salt by someone on the path.
 *
 *   receiver -> sender  GREETING (32 bytes)
 *   sender -> receiver  HELLO    (8 bytes)
 *   prologue = "sitx/1 prologue" || GREETING || HELLO
 */
#ifndef SITX_GREETING_H
#define SITX_GREETING_H

#include <stddef.h>
#include <stdint.h>

/* The GREETING's own format: it stays 1 in every protocol version, since
 * version 1 senders check each of its bytes. */
#define SITX_PROTO_VERSION 1
/* Connection versions, chosen by HELLO byte 4 (PROTOCOL.md §3). Version 2
 * adds CANCEL and RESULT CANCELLED; the cryptography is the same. */
#define SITX_PROTO_V1 1
#define SITX_PROTO_V2 2
#define SITX_PROTO_VERSION_MAX SITX_PROTO_V2
#define SITX_GREETING_LEN 32
#define SITX_HELLO_LEN 8
#define SITX_SALT_LEN 16
#define SITX_PROLOGUE_LABEL "sitx/1 prologue"
#define SITX_PROLOGUE_LEN (sizeof(SITX_PROLOGUE_LABEL) - 1 + SITX_GREETING_LEN + SITX_HELLO_LEN)

/* Authentication modes, a bit each in the greeting. */
enum sitx_auth_mode {
    SITX_AUTH_KEY = 1,      /* Noise_XX */
    SITX_AUTH_PASSWORD = 2, /* Noise_NNpsk0 with an Argon2id PSK */
};

/* Argon2id bounds a sender accepts from a greeting: anything outside is
 * refused rather than run, so a fake receiver cannot make a sender spend
 * gigabytes or minutes, nor weaken the PSK. */
#define SITX_ARGON_OPS_MIN 2
#define SITX_ARGON_OPS_MAX 10
#define SITX_ARGON_MEM_KIB_MIN (32u * 1024u)
#define SITX_ARGON_MEM_KIB_MAX (1024u * 1024u)

struct sitx_greeting {
    uint8_t version;      /* SITX_PROTO_VERSION */
    uint8_t modes;        /* OR of enum sitx_auth_mode the receiver accepts */
    uint32_t argon_ops;   /* Argon2id opslimit (0 when password mode is off) */
    uint32_t argon_mem_kib;
    uint8_t salt[SITX_SALT_LEN]; /* zero when password mode is off */
};

/* HELLO byte 6: flags. PAIR asks for a pairing connection (key mode only,
 * PROTOCOL.md section 14) instead of transfers. */
#define SITX_HELLO_FLAG_PAIR 0x01

struct sitx_hello {
    uint8_t version; /* SITX_PROTO_V1 or SITX_PROTO_V2 */
    uint8_t mode;  /* exactly one enum sitx_auth_mode */
    uint8_t flags; /* 0, or SITX_HELLO_FLAG_PAIR with mode SITX_AUTH_KEY */
};

void sitx_greeting_encode(const struct sitx_greeting *g, uint8_t out[static SITX_GREETING_LEN]);
/* Returns 0, SITX_E_MALFORMED (bad magic or reserved bytes), SITX_E_VERSION. */
int sitx_greeting_decode(const uint8_t in[static SITX_GREETING_LEN], struct sitx_greeting *g);
void sitx_hello_encode(const struct sitx_hello *h, uint8_t out[static SITX_HELLO_LEN]);
int sitx_hello_decode(const uint8_t in[static SITX_HELLO_LEN], struct sitx_hello *h);
/* The decoders above with a one-line reason in errstr (may be NULL), e.g.
 * "GREETING: argon_ops 1 is outside 2..10". A greeting without password
 * mode must have zero Argon2id fields and salt; modes must be a non-empty
 * subset of 1|2. HELLO returns SITX_E_VERSION for a version above
 * SITX_PROTO_VERSION_MAX (h->version holds it, so the receiver can answer
 * with the version frame), or SITX_E_MALFORMED for bad magic, version 0, a
 * reserved byte (7) or unknown flag bit, PAIR without key mode, or a mode
 * that is not exactly 1 or 2. */
int sitx_greeting_decode_err(const uint8_t in[static SITX_GREETING_LEN], struct sitx_greeting *g,
                             char *errstr, size_t errstr_len);
int sitx_hello_decode_err(const uint8_t in[static SITX_HELLO_LEN], struct sitx_hello *h,
                          char *errstr, size_t errstr_len);
/* prologue must hold SITX_PROLOGUE_LEN bytes. */
void sitx_prologue_build(const uint8_t greeting[static SITX_GREETING_LEN],
                         const uint8_t hello[static SITX_HELLO_LEN], uint8_t *prologue);

#endif
