/* Pairing messages (PROTOCOL.md section 14). On a connection whose HELLO
 * carries SITX_HELLO_FLAG_PAIR, the transport frames after the XX handshake
 * carry these instead of records:
 *
 *   sender -> receiver  REQUEST  [0x10][n: u16][name (n = 1..64)]
 *   sender -> receiver  CONFIRM  [0x11][answer: 0 no | 1 yes]
 *   receiver -> sender  DONE     [0x12][status][m: u16][message (m = 0..255)]
 *
 * Their type bytes are outside the record types (1..6), so neither kind can
 * be taken for the other. Decoding is strict, as for records: one encoding
 * per message, nothing after the last field. */
#ifndef SITX_PAIR_H
#define SITX_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define SITX_PAIR_REQUEST 0x10
#define SITX_PAIR_CONFIRM 0x11
#define SITX_PAIR_DONE    0x12

#define SITX_PAIR_NAME_MAX 64
/* The longest message: DONE with a full message string. */
#define SITX_PAIR_MSG_MAX (1 + 1 + 2 + SITX_TEXT_MAX)

/* DONE status: what the receiver did. */
enum sitx_pair_status {
    SITX_PAIR_PAIRED = 0,   /* both said yes; the key is now authorised */
    SITX_PAIR_ALREADY = 1,  /* both said yes; the key was already authorised */
    SITX_PAIR_DECLINED = 2, /* the receiver's operator said no, or the code differed */
    SITX_PAIR_TIMEOUT = 3,  /* the pairing window closed first */
    SITX_PAIR_FAILED = 4,   /* the receiver could not record the key */
};
#define SITX_PAIR_STATUS_MAX SITX_PAIR_FAILED

struct sitx_pair_msg {
    uint8_t type;  /* SITX_PAIR_REQUEST, _CONFIRM, _DONE */
    uint8_t value; /* CONFIRM: 0 or 1; DONE: enum sitx_pair_status; REQUEST: 0 */
    /* REQUEST: the name the sender proposes; DONE: a message for people. */
    char text[SITX_TEXT_MAX + 1];
};

/* Encodes m into out. Returns 0, SITX_E_BUFFER, SITX_E_INVALID (unknown
 * type, a value out of range, a text too long, empty where it may not be, or
 * not valid UTF-8 without controls). */
int sitx_pair_encode(const struct sitx_pair_msg *m, uint8_t *out, size_t cap, size_t *len);

/* Decodes one message. Returns 0, or SITX_E_UNKNOWN_TYPE, SITX_E_TRUNCATED,
 * SITX_E_TRAILING, SITX_E_TOO_LARGE, SITX_E_MALFORMED, SITX_E_BAD_UTF8 with
 * a one-line reason in err (may be NULL). */
int sitx_pair_decode(const uint8_t *in, size_t len, struct sitx_pair_msg *m, char *err,
                     size_t err_len);

/* "paired", "already-authorised", "declined", "timeout", "failed", "unknown". */
const char *sitx_pair_status_name(uint8_t status);

#endif
