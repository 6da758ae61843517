/* Sealed image files (proto/PROTOCOL.md §15): one image encrypted to a file for one
 * receiver key (Noise X, or N without a sender key) or for a password
 * (Noise Npsk0 on an Argon2id PSK whose salt the file carries). After a
 * 36-byte clear header and one framed handshake message come the wire's
 * OFFER, DATA and END records, then padding and an authenticated FINAL
 * record, so damage, truncation, reordering and appended bytes all fail.
 * No files, sockets or clocks: bytes in, bytes or events out, so the reader
 * is fuzzable. */
#ifndef SITX_SEAL_H
#define SITX_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "msg.h"

struct sitx_buf;

#define SITX_SEAL_MAGIC      "SITXSEAL" /* 8 bytes, no NUL */
#define SITX_SEAL_MAGIC_LEN  8
#define SITX_SEAL_VERSION    1
#define SITX_SEAL_HEADER_LEN 36
#define SITX_SEAL_SALT_LEN   16
#define SITX_SEAL_MIN_LEN    1024 /* smallest file: hides tiny images */
/* Record types that only a sealed file carries (never on the wire). */
#define SITX_SEAL_REC_PAD   0x80
#define SITX_SEAL_REC_FINAL 0x81

enum sitx_seal_mode {
    SITX_SEAL_ANONYMOUS = 1, /* Noise_N: receiver key, no sender key */
    SITX_SEAL_SIGNED = 2,    /* Noise_X: receiver key, sender key */
    SITX_SEAL_PASSWORD = 3,  /* Noise_Npsk0 on the password's PSK */
};

struct sitx_seal_header {
    uint8_t mode;                     /* enum sitx_seal_mode */
    uint32_t argon_ops;               /* password mode, else 0 */
    uint32_t argon_mem_kib;           /* password mode, else 0 */
    uint8_t salt[SITX_SEAL_SALT_LEN]; /* password mode, else zero */
};

/* What went wrong, for the opener's exit code and message. */
enum sitx_seal_failure {
    SITX_SEAL_OK = 0,
    SITX_SEAL_NOT_SEALED, /* no magic, another version, a bad clear header */
    SITX_SEAL_AUTH,       /* the handshake did not verify: wrong key or password */
    SITX_SEAL_DAMAGED,    /* a record failed its tag or its rules */
    SITX_SEAL_TRUNCATED,  /* the file ended before FINAL */
    SITX_SEAL_TRAILING,   /* bytes after FINAL */
    SITX_SEAL_TOO_LARGE,  /* the offered size is over the opener's limit */
    SITX_SEAL_INTERNAL,   /* no memory, a bug */
};

/* The file length for an unpadded length len: padmé(max(len, 1024)), i.e.
 * len rounded up so that only its top floor(log2(floor(log2 len))) + 1 bits
 * may be set; at most 12 % more. 0 on overflow. */
uint64_t sitx_seal_bucket(uint64_t len);

/* The receiver static key of password mode: BLAKE2b-256 keyed with the PSK
 * of "sitx/1 sealed password static". */
void sitx_seal_password_static(const uint8_t psk[static 32], uint8_t sk[static 32]);

int sitx_seal_header_encode(const struct sitx_seal_header *h,
                            uint8_t out[static SITX_SEAL_HEADER_LEN]);
/* Returns 0, SITX_E_MALFORMED (not a sealed file: errstr says why),
 * SITX_E_VERSION. */
int sitx_seal_header_decode(const uint8_t in[static SITX_SEAL_HEADER_LEN],
                            struct sitx_seal_header *h, char *errstr, size_t errstr_len);

struct sitx_seal_params {
    enum sitx_seal_mode mode;
    const uint8_t *receiver_pk; /* 32 bytes: ANONYMOUS, SIGNED */
    const uint8_t *sender_sk;   /* 32 bytes: SIGNED */
    const uint8_t *psk;         /* 32 bytes: PASSWORD (Argon2id of the passphrase) */
    uint32_t argon_ops;         /* PASSWORD: the parameters psk was made with */
    uint32_t argon_mem_kib;
    const uint8_t *salt;               /* PASSWORD: 16 bytes */
    const uint8_t *id;                 /* SITX_TRANSFER_ID_BYTES */
    const uint8_t *fixed_ephemeral_sk; /* tests and the worked example; else NULL */
};

/* Seals payload (1.. bytes of a PNG or JPEG image, format as on the wire)
 * offered as name into out (cleared first). Returns 0, SITX_E_INVALID (a
 * missing key, bad mode, empty payload), SITX_E_BAD_UTF8 / SITX_E_TOO_LARGE
 * (name), SITX_E_BAD_KEY (low-order receiver key), SITX_E_NOMEM. */
int sitx_seal_write(const struct sitx_seal_params *p, uint8_t format, const char *name,
                    const uint8_t *payload, size_t len, struct sitx_buf *out);

/* ---- reading: a push reader ---- */

enum sitx_seal_event_type {
    SITX_SEAL_EV_HEADER = 1, /* header read: set the key or PSK, then go on */
    SITX_SEAL_EV_OPENED,     /* handshake verified; sender_pk when SIGNED */
    SITX_SEAL_EV_OFFER,      /* offer: name, format, size, hash */
    SITX_SEAL_EV_DATA,       /* data, len: payload bytes, valid until the next call */
    SITX_SEAL_EV_END,        /* all size bytes arrived and their hash matched */
    SITX_SEAL_EV_DONE,       /* FINAL verified and the length is the bucket's */
};

struct sitx_seal_event {
    enum sitx_seal_event_type type;
    struct sitx_seal_header header;
    int has_sender;
    uint8_t sender_pk[32];
    struct sitx_offer offer;
    const uint8_t *data;
    size_t len;
};

struct sitx_seal_reader;

/* A reader that refuses offers over max_size bytes. Returns 0 or SITX_E_NOMEM. */
int sitx_seal_reader_new(struct sitx_seal_reader **out, uint64_t max_size);
void sitx_seal_reader_free(struct sitx_seal_reader *r); /* NULL-safe; wipes */

/* Appends len bytes. Returns 0, or the sticky error (bytes after FINAL give
 * SITX_E_TRAILING). */
int sitx_seal_reader_feed(struct sitx_seal_reader *r, const uint8_t *buf, size_t len);

/* 1 with *ev filled, 0 when more bytes (or, after HEADER, a key) are
 * needed, or a negative sticky error with sitx_seal_reader_errstr(). */
int sitx_seal_reader_next(struct sitx_seal_reader *r, struct sitx_seal_event *ev);

/* After HEADER: the receiver's private key (ANONYMOUS, SIGNED) or the PSK
 * (PASSWORD). The wrong one for the mode, or a second call: SITX_E_STATE. */
int sitx_seal_reader_set_key(struct sitx_seal_reader *r, const uint8_t sk[static 32]);
int sitx_seal_reader_set_psk(struct sitx_seal_reader *r, const uint8_t psk[static 32]);

/* At end of input: 0 after DONE, else SITX_E_TRUNCATED (now sticky) or the
 * sticky error. */
int sitx_seal_reader_finish(struct sitx_seal_reader *r);

int sitx_seal_reader_err(const struct sitx_seal_reader *r);
enum sitx_seal_failure sitx_seal_reader_failure(const struct sitx_seal_reader *r);
const char *sitx_seal_reader_errstr(const struct sitx_seal_reader *r); /* "" when none */

#endif
