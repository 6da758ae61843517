/* The receiver's answers as records: RESULT and CLOSE, built without a
 * connection, and the fixed texts it sends in them. The receiver sends
 * exactly these bytes (outcome.c, conn.c, greet.c), and PROTOCOL.md §12 is
 * generated from the same functions (tests/unit/test_protocol_example.c). */
#ifndef SITX_RECV_ANSWER_H
#define SITX_RECV_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* The CLOSE (UNAUTHORIZED) message for a key not in the authorised senders. */
#define ANSWER_MSG_UNAUTHORIZED "this key is not an authorised sender"
/* Big enough for any RESULT: 1 + 16 + 1 + 8 + 4 + 32 + 2 + 255 + 2 + 255. */
#define ANSWER_RESULT_MAX 640
/* Big enough for any CLOSE: 1 + 1 + 2 + 255. */
#define ANSWER_CLOSE_MAX (SITX_TEXT_MAX + 8)

/* Encodes the RESULT for transfer id into rec (cap bytes), *len its length.
 * A success (OK, ALREADY_STORED) carries size, hash and name and no
 * message: the name says it all. A failure carries msg (NULL for none),
 * kept to printable ASCII, and nothing else. When the encoder refuses the
 * message, the bare status goes. Returns 0 or the encoder's error. */
int answer_result(const uint8_t id[static SITX_TRANSFER_ID_BYTES], uint8_t status, uint64_t size,
                  uint32_t ms, const uint8_t hash[static SITX_CONTENT_HASH_BYTES], const char *name,
                  const char *msg, uint8_t *rec, size_t cap, size_t *len);

/* Encodes CLOSE (reason, message) into rec; returns 0 or the encoder's error. */
int answer_close(uint8_t reason, const char *message, uint8_t *rec, size_t cap, size_t *len);

/* The CANCELLED message for the sender's CANCEL m: "cancelled by sender: "
 * then its message, or the reason when it gave none. */
void answer_cancel_msg(const struct sitx_cancel *m, char *out, size_t cap);

/* The TIMEOUT message for a deadline of deadline_ms. */
void answer_deadline_msg(uint64_t deadline_ms, char *out, size_t cap);

#endif
