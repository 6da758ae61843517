/* Record bodies (OFFER, ACCEPT, END, RESULT, CLOSE) and the wire status
 * codes. The codes are a stable wire enum, separate from enum sitx_err. */
#ifndef SITX_MSG_H
#define SITX_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"

#define SITX_TRANSFER_ID_BYTES 16
#define SITX_NAME_MAX 255 /* bytes of UTF-8 in an offered or stored name */
#define SITX_TEXT_MAX 255 /* bytes of UTF-8 in a RESULT or CLOSE message */

enum sitx_wire_format {
    SITX_FMT_PNG = 1,
    SITX_FMT_JPEG = 2,
};

/* RESULT status codes. PROTOCOL.md says which are retryable. */
enum sitx_status {
    SITX_ST_OK = 0,             /* stored now */
    SITX_ST_ALREADY_STORED = 1, /* same sender, same content, stored before */
    SITX_ST_TIMEOUT = 2,        /* deadline passed before the image was stored */
    SITX_ST_TOO_LARGE = 3,      /* size or pixel limit */
    SITX_ST_BAD_IMAGE = 4,      /* not a PNG/JPEG, or does not decode */
    SITX_ST_INTEGRITY = 5,      /* END hash does not match the data */
    SITX_ST_DISK_FULL = 6,      /* no room, or the free-space reserve reached */
    SITX_ST_RATE_LIMITED = 7,   /* too many transfers from this sender now */
    SITX_ST_INTERNAL = 8,       /* receiver-side failure */
    SITX_ST_PROTOCOL = 9,       /* the sender broke the protocol */
    SITX_ST_SHUTTING_DOWN = 10, /* receiver is stopping */
    SITX_ST_CANCELLED = 11,     /* version 2: the sender withdrew the image (CANCEL) */
};

/* CANCEL reasons (version 2). */
enum sitx_cancel_reason {
    SITX_CANCEL_LOCAL = 0,       /* the sender cannot send it: read/decode failed, file changed */
    SITX_CANCEL_INTERRUPTED = 1, /* the user stopped the sender */
};

/* CLOSE reasons. */
enum sitx_close_reason {
    SITX_CLOSE_DONE = 0,         /* sender: no more images */
    SITX_CLOSE_UNAUTHORIZED = 1, /* receiver: sender key not authorised */
    SITX_CLOSE_PROTOCOL = 2,     /* either: a protocol violation */
    SITX_CLOSE_SHUTDOWN = 3,     /* receiver: stopping */
    SITX_CLOSE_TIMEOUT = 4,      /* receiver: idle too long */
    SITX_CLOSE_BUSY = 5,         /* receiver: too many connections */
};

struct sitx_offer {
    uint8_t id[SITX_TRANSFER_ID_BYTES]; /* random per image, same on retries */
    uint8_t format;                     /* enum sitx_wire_format */
    uint64_t size;                      /* payload bytes that DATA will carry */
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    char name[SITX_NAME_MAX + 1]; /* NUL-terminated, valid UTF-8, non-empty */
};

struct sitx_accept {
    uint8_t id[SITX_TRANSFER_ID_BYTES];
    uint64_t offset; /* where DATA starts; always 0 in version 1 */
    /* Version 2: BLAKE2b-256 of payload[0..offset), all zero when offset is 0. */
    uint8_t prefix_hash[SITX_CONTENT_HASH_BYTES];
};

struct sitx_end {
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
};

struct sitx_result {
    uint8_t id[SITX_TRANSFER_ID_BYTES];
    uint8_t status;  /* enum sitx_status */
    uint64_t size;   /* bytes stored (0 on failure) */
    uint32_t ms;     /* receiver time from OFFER to this RESULT */
    uint8_t hash[SITX_CONTENT_HASH_BYTES]; /* of the stored file; zero on failure */
    char name[SITX_NAME_MAX + 1];          /* stored name; "" on failure */
    char message[SITX_TEXT_MAX + 1];       /* human-readable detail */
};

struct sitx_cancel {
    uint8_t id[SITX_TRANSFER_ID_BYTES];
    uint8_t reason; /* enum sitx_cancel_reason */
    char message[SITX_TEXT_MAX + 1];
};

struct sitx_close {
    uint8_t reason; /* enum sitx_close_reason */
    char message[SITX_TEXT_MAX + 1];
};

/* true for the statuses a sender should retry with backoff. */
bool sitx_status_retryable(uint8_t status);
/* "OK", "ALREADY_STORED", "TIMEOUT", ... or "UNKNOWN". */
const char *sitx_status_name(uint8_t status);
const char *sitx_close_reason_name(uint8_t reason);
/* "LOCAL", "INTERRUPTED" or "UNKNOWN". */
const char *sitx_cancel_reason_name(uint8_t reason);
/* true for the status codes version 1 defines (0..10). */
bool sitx_status_valid(uint8_t status);
/* true for the status codes of a connection of this version: 0..10 in
 * version 1, 0..11 in version 2. */
bool sitx_status_valid_in(uint8_t status, unsigned version);
/* true for OK and ALREADY_STORED: the image is in the receiver's inbox. */
bool sitx_status_success(uint8_t status);

/* 1 if buf[0..len) is valid UTF-8 with no NUL and no control characters
 * (C0, DEL, C1), else 0. Overlong forms and surrogates are invalid. */
int sitx_utf8_valid(const uint8_t *buf, size_t len);

#endif
