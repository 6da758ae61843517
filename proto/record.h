/* Records: the plaintext of each transport frame is [type:u8][body]. This
 * module encodes and decodes whole records with strict bounds: it never
 * reads past its input, rejects trailing bytes, unknown types, oversize
 * fields and names that are not valid UTF-8. */
#ifndef SITX_RECORD_H
#define SITX_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "transport.h"

enum sitx_rec_type {
    SITX_REC_OFFER = 1,
    SITX_REC_ACCEPT = 2,
    SITX_REC_DATA = 3,
    SITX_REC_END = 4,
    SITX_REC_RESULT = 5,
    SITX_REC_CLOSE = 6,
    SITX_REC_CANCEL = 7, /* version 2 only */
};

/* Largest DATA payload in one record: the record limit less the type byte. */
#define SITX_DATA_MAX (SITX_RECORD_MAX - 1)

struct sitx_record {
    uint8_t type; /* enum sitx_rec_type */
    union {
        struct sitx_offer offer;
        struct sitx_accept accept;
        struct {
            const uint8_t *bytes; /* points into the decoded buffer */
            size_t len;           /* 1..SITX_DATA_MAX */
        } data;
        struct sitx_end end;
        struct sitx_result result;
        struct sitx_close close;
        struct sitx_cancel cancel;
    } u;
};

/* Decodes one record of a connection of the given protocol version
 * (SITX_PROTO_V1 or V2): CANCEL and RESULT status CANCELLED exist only in
 * version 2, so in version 1 they are an unknown type and a malformed
 * status. Returns 0 or SITX_E_TRUNCATED, SITX_E_TRAILING,
 * SITX_E_UNKNOWN_TYPE, SITX_E_TOO_LARGE, SITX_E_BAD_UTF8, SITX_E_MALFORMED.
 * When errstr is not NULL it gets a one-line reason. */
int sitx_record_decode_v(const uint8_t *buf, size_t len, unsigned version,
                         struct sitx_record *rec, char *errstr, size_t errstr_len);
/* sitx_record_decode_v for version 1 (sealed files and version 1 peers). */
int sitx_record_decode(const uint8_t *buf, size_t len, struct sitx_record *rec, char *errstr,
                       size_t errstr_len);

/* Encoders: write the whole record (type byte included) into out. Return 0,
 * SITX_E_BUFFER, or SITX_E_TOO_LARGE / SITX_E_BAD_UTF8 for a bad field. */
int sitx_offer_encode(const struct sitx_offer *m, uint8_t *out, size_t cap, size_t *len);
/* ACCEPT of version 1 (offset 0, no prefix hash): sitx_accept_encode_v for V1. */
int sitx_accept_encode(const struct sitx_accept *m, uint8_t *out, size_t cap, size_t *len);
/* ACCEPT for a connection of version: 25 bytes in version 1, where the
 * offset must be 0; 57 in version 2 (offset, prefix_hash), where offset 0
 * needs an all-zero prefix_hash and an offset is at most 2^63. */
int sitx_accept_encode_v(const struct sitx_accept *m, unsigned version, uint8_t *out, size_t cap,
                         size_t *len);
int sitx_data_encode(const uint8_t *bytes, size_t n, uint8_t *out, size_t cap, size_t *len);
int sitx_end_encode(const struct sitx_end *m, uint8_t *out, size_t cap, size_t *len);
int sitx_result_encode(const struct sitx_result *m, uint8_t *out, size_t cap, size_t *len);
int sitx_close_encode(const struct sitx_close *m, uint8_t *out, size_t cap, size_t *len);
int sitx_cancel_encode(const struct sitx_cancel *m, uint8_t *out, size_t cap, size_t *len);
/* Any decoded record, by its type (SITX_E_UNKNOWN_TYPE for another type).
 * The encoders know no connection version: the version 2 record and status
 * are the caller's to send only on a version 2 connection.
 * A field value the decoder would refuse (an empty OFFER name, size 0, an
 * unknown format, status (0..11) or reason, a non-zero version 1 ACCEPT offset, a RESULT whose
 * size, hash and name disagree with its status) gives SITX_E_MALFORMED from
 * every encoder, and DATA of 0 bytes does too. */
int sitx_record_encode(const struct sitx_record *rec, uint8_t *out, size_t cap, size_t *len);
/* The same for a connection of version (only ACCEPT differs: version 1 for
 * sitx_record_encode). */
int sitx_record_encode_v(const struct sitx_record *rec, unsigned version, uint8_t *out,
                         size_t cap, size_t *len);

/* Writes only the DATA header (the type byte) so that the caller can read
 * file bytes straight into out + 1. */
#define SITX_DATA_HDR 1

const char *sitx_rec_type_name(uint8_t type);

#endif
