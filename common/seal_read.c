/* The sealed-file push reader: feed bytes as they come off the disk, take
 * out events. One frame is opened per call, in place; every error sticks
 * and says which of the failure classes it is. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "reader.h"
#include "record.h"
#include "seal.h"
#include "seal_int.h"
#include "secmem.h"

enum state {
    ST_HEADER,
    ST_NEED_KEY,
    ST_HANDSHAKE,
    ST_OFFER,
    ST_DATA,
    ST_PAD,
    ST_DONE,
    ST_FAILED,
};

struct sitx_seal_reader {
    enum state st;
    uint8_t hdr[SITX_SEAL_HEADER_LEN];
    size_t hdr_len;
    struct sitx_seal_header header;
    struct sitx_reader *frames;
    struct sitx_hs *hs;
    struct sitx_cipher *rx;
    uint8_t *secret; /* guarded: [0..32) static sk, [32..64) psk */
    uint64_t max_size;
    uint64_t consumed; /* header and whole frames taken so far */
    uint64_t padding;  /* of those, PAD frames and FINAL's body */
    uint64_t got;      /* DATA bytes */
    uint64_t records;  /* records opened, for messages */
    uint64_t fed;      /* every byte fed */
    struct sitx_content_hash ch;
    struct sitx_offer offer;
    int err;
    enum sitx_seal_failure failure;
    char errstr[160];
};

static int fail(struct sitx_seal_reader *r, int rc, enum sitx_seal_failure f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct sitx_seal_reader *r, int rc, enum sitx_seal_failure f, const char *fmt, ...)
{
    va_list ap;

    if (r->err == 0) {
        r->err = rc;
        r->failure = f;
        va_start(ap, fmt);
        vsnprintf(r->errstr, sizeof(r->errstr), fmt, ap);
        va_end(ap);
        r->st = ST_FAILED;
        /* Nothing decrypted or keyed survives a failure. */
        sitx_hs_free(r->hs);
        r->hs = NULL;
        sitx_cipher_free(r->rx);
        r->rx = NULL;
    }
    return r->err;
}

int sitx_seal_reader_new(struct sitx_seal_reader **out, uint64_t max_size)
{
    struct sitx_seal_reader *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL) {
        return SITX_E_NOMEM;
    }
    r->frames = sitx_reader_new(SITX_FRAME_MAX);
    r->secret = sitx_secret_alloc(64);
    if (r->frames == NULL || r->secret == NULL) {
        sitx_seal_reader_free(r);
        return SITX_E_NOMEM;
    }
    r->max_size = max_size;
    sitx_content_hash_init(&r->ch);
    *out = r;
    return 0;
}

void sitx_seal_reader_free(struct sitx_seal_reader *r)
{
    if (r != NULL) {
        sitx_reader_free(r->frames);
        sitx_hs_free(r->hs);
        sitx_cipher_free(r->rx);
        sitx_secret_free(r->secret, 64);
        sodium_memzero(r, sizeof(*r));
        free(r);
    }
}

int sitx_seal_reader_feed(struct sitx_seal_reader *r, const uint8_t *buf, size_t len)
{
    size_t take;
    int rc;

    if (r->err != 0) {
        return r->err;
    }
    if (len == 0) {
        return 0;
    }
    r->fed += len;
    if (r->st == ST_DONE) {
        return fail(r, SITX_E_TRAILING, SITX_SEAL_TRAILING,
                    "bytes after the end of the sealed file (appended)");
    }
    if (r->hdr_len < SITX_SEAL_HEADER_LEN) {
        take = SITX_SEAL_HEADER_LEN - r->hdr_len < len ? SITX_SEAL_HEADER_LEN - r->hdr_len : len;
        memcpy(r->hdr + r->hdr_len, buf, take);
        r->hdr_len += take;
        buf += take;
        len -= take;
        /* Say "not a sealed file" as soon as the magic is wrong, however
         * short the file. */
        if (memcmp(r->hdr, SITX_SEAL_MAGIC,
                   r->hdr_len < SITX_SEAL_MAGIC_LEN ? r->hdr_len : SITX_SEAL_MAGIC_LEN) != 0) {
            return fail(r, SITX_E_MALFORMED, SITX_SEAL_NOT_SEALED,
                        "not a sitx sealed file (no SITXSEAL magic)");
        }
    }
    if (len > 0) {
        rc = sitx_reader_feed(r->frames, buf, len);
        if (rc != 0) {
            return fail(r, rc, SITX_SEAL_INTERNAL, "%s", sitx_strerror(rc));
        }
    }
    return 0;
}

/* Starts the responder's handshake once the key or PSK is in. */
static int start_handshake(struct sitx_seal_reader *r)
{
    struct sitx_hs_config cfg;
    uint8_t prologue[SITX_SEAL_PROLOGUE_LEN];
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    sitx_seal_prologue(r->hdr, prologue);
    cfg.pattern = sitx_seal_pattern(r->header.mode);
    cfg.role = SITX_HS_RESPONDER;
    cfg.prologue = prologue;
    cfg.prologue_len = sizeof(prologue);
    cfg.static_sk = r->secret;
    cfg.psk = r->header.mode == SITX_SEAL_PASSWORD ? r->secret + 32 : NULL;
    rc = sitx_hs_new(&r->hs, &cfg);
    if (rc != 0) {
        return fail(r, rc, rc == SITX_E_NOMEM ? SITX_SEAL_INTERNAL : SITX_SEAL_AUTH,
                    "cannot use this key: %s", sitx_strerror(rc));
    }
    sitx_reader_set_limit(
        r->frames, r->header.mode == SITX_SEAL_SIGNED ? SITX_SEAL_HS_LONG : SITX_SEAL_HS_SHORT, 1);
    r->st = ST_HANDSHAKE;
    return 0;
}

int sitx_seal_reader_set_key(struct sitx_seal_reader *r, const uint8_t sk[static 32])
{
    if (r->st != ST_NEED_KEY || r->header.mode == SITX_SEAL_PASSWORD) {
        return SITX_E_STATE;
    }
    memcpy(r->secret, sk, 32);
    return start_handshake(r);
}

int sitx_seal_reader_set_psk(struct sitx_seal_reader *r, const uint8_t psk[static 32])
{
    if (r->st != ST_NEED_KEY || r->header.mode != SITX_SEAL_PASSWORD) {
        return SITX_E_STATE;
    }
    sitx_seal_password_static(psk, r->secret);
    memcpy(r->secret + 32, psk, 32);
    return start_handshake(r);
}

static int read_handshake(struct sitx_seal_reader *r, uint8_t *msg, size_t len,
                          struct sitx_seal_event *ev)
{
    struct sitx_cipher *tx = NULL;
    size_t plen = 0;
    int rc = sitx_hs_read_message(r->hs, msg, len, NULL, 0, &plen);

    if (rc != 0) {
        return fail(r, SITX_E_AUTH, SITX_SEAL_AUTH,
                    r->header.mode == SITX_SEAL_PASSWORD
                        ? "wrong password (or the file's header is damaged)"
                        : "not sealed for this key (or the file's header is damaged)");
    }
    if (r->header.mode == SITX_SEAL_SIGNED) {
        ev->has_sender = sitx_hs_remote_static(r->hs, ev->sender_pk) == 0;
    }
    rc = sitx_hs_split(r->hs, &tx, &r->rx);
    sitx_cipher_free(tx); /* the opener never writes */
    sitx_hs_free(r->hs);
    r->hs = NULL;
    sodium_memzero(r->secret, 64);
    if (rc != 0) {
        return fail(r, rc, SITX_SEAL_INTERNAL, "%s", sitx_strerror(rc));
    }
    sitx_reader_set_limit(r->frames, SITX_FRAME_MAX, 0);
    r->st = ST_OFFER;
    ev->type = SITX_SEAL_EV_OPENED;
    return 1;
}

static int damaged(struct sitx_seal_reader *r, const char *what)
{
    return fail(r, SITX_E_MALFORMED, SITX_SEAL_DAMAGED, "record %llu: %s",
                (unsigned long long)r->records, what);
}

static int wire_record(struct sitx_seal_reader *r, const uint8_t *rec, size_t len,
                       struct sitx_seal_event *ev)
{
    struct sitx_record d;
    char why[128] = "";
    uint8_t hash[SITX_CONTENT_HASH_BYTES];

    if (sitx_record_decode(rec, len, &d, why, sizeof(why)) != 0) {
        return damaged(r, why);
    }
    if (r->st == ST_OFFER) {
        if (d.type != SITX_REC_OFFER) {
            return damaged(r, "the first record is not OFFER");
        }
        if (d.u.offer.size > r->max_size) {
            return fail(r, SITX_E_LIMIT, SITX_SEAL_TOO_LARGE,
                        "the image is %llu bytes, over the limit of %llu",
                        (unsigned long long)d.u.offer.size, (unsigned long long)r->max_size);
        }
        r->offer = d.u.offer;
        ev->offer = d.u.offer;
        ev->type = SITX_SEAL_EV_OFFER;
        r->st = ST_DATA;
        return 1;
    }
    if (d.type == SITX_REC_DATA) {
        if (d.u.data.len > r->offer.size - r->got) {
            return damaged(r, "more DATA than the OFFER announced");
        }
        r->got += d.u.data.len;
        sitx_content_hash_update(&r->ch, d.u.data.bytes, d.u.data.len);
        ev->type = SITX_SEAL_EV_DATA;
        ev->data = d.u.data.bytes;
        ev->len = d.u.data.len;
        return 1;
    }
    if (d.type != SITX_REC_END) {
        return damaged(r, "expected DATA or END");
    }
    if (r->got != r->offer.size) {
        return damaged(r, "END before all the offered bytes");
    }
    sitx_content_hash_final(&r->ch, hash);
    if (sodium_memcmp(hash, r->offer.hash, sizeof(hash)) != 0 ||
        sodium_memcmp(d.u.end.hash, r->offer.hash, sizeof(hash)) != 0) {
        return damaged(r, "the image's hash is not the offered one");
    }
    ev->type = SITX_SEAL_EV_END;
    r->st = ST_PAD;
    return 1;
}

static int pad_record(struct sitx_seal_reader *r, const uint8_t *rec, size_t len,
                      struct sitx_seal_event *ev)
{
    uint64_t want;

    if (rec[0] != SITX_SEAL_REC_PAD && rec[0] != SITX_SEAL_REC_FINAL) {
        return damaged(r, "expected PAD or FINAL after END");
    }
    if (!sodium_is_zero(rec + 1, len - 1)) {
        return damaged(r, "padding that is not zero");
    }
    if (rec[0] == SITX_SEAL_REC_PAD) {
        r->padding += len + SITX_FRAME_HDR + SITX_TAG_LEN;
        return 0;
    }
    r->padding += len - 1;
    if (sitx_reader_pending(r->frames) > 0) {
        return fail(r, SITX_E_TRAILING, SITX_SEAL_TRAILING,
                    "bytes after the end of the sealed file (appended)");
    }
    want = sitx_seal_bucket(r->consumed - r->padding);
    if (want != r->consumed) {
        return damaged(r, "the file's length is not its padded length");
    }
    ev->type = SITX_SEAL_EV_DONE;
    r->st = ST_DONE;
    return 1;
}

int sitx_seal_reader_next(struct sitx_seal_reader *r, struct sitx_seal_event *ev)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    size_t rec_len = 0;
    int rc;

    memset(ev, 0, sizeof(*ev));
    for (;;) {
        if (r->err != 0) {
            return r->err;
        }
        if (r->st == ST_HEADER) {
            if (r->hdr_len < SITX_SEAL_HEADER_LEN) {
                return 0;
            }
            rc = sitx_seal_header_decode(r->hdr, &r->header, r->errstr, sizeof(r->errstr));
            if (rc != 0) {
                char why[sizeof(r->errstr)];

                memcpy(why, r->errstr, sizeof(why));
                r->errstr[0] = '\0';
                return fail(r, rc, SITX_SEAL_NOT_SEALED, "%s", why);
            }
            r->consumed = SITX_SEAL_HEADER_LEN;
            r->st = ST_NEED_KEY;
            ev->type = SITX_SEAL_EV_HEADER;
            ev->header = r->header;
            return 1;
        }
        if (r->st == ST_NEED_KEY || r->st == ST_DONE) {
            return 0;
        }
        rc = sitx_reader_next(r->frames, &frame, &len);
        if (rc < 0) {
            return fail(r, rc, SITX_SEAL_DAMAGED, "%s", sitx_reader_errstr(r->frames));
        }
        if (rc == 0) {
            return 0;
        }
        r->consumed += SITX_FRAME_HDR + len;
        if (r->st == ST_HANDSHAKE) {
            return read_handshake(r, frame, len, ev);
        }
        r->records++;
        rc = sitx_transport_open(r->rx, frame, len, frame, len, &rec_len);
        if (rc != 0) {
            return fail(r, rc, SITX_SEAL_DAMAGED,
                        "record %llu does not verify: the file is damaged or was altered",
                        (unsigned long long)r->records);
        }
        rc = r->st == ST_PAD ? pad_record(r, frame, rec_len, ev)
                             : wire_record(r, frame, rec_len, ev);
        if (rc != 0) {
            return rc;
        }
    }
}

int sitx_seal_reader_finish(struct sitx_seal_reader *r)
{
    if (r->err != 0 || r->st == ST_DONE) {
        return r->err;
    }
    if (r->hdr_len == 0) {
        return fail(r, SITX_E_MALFORMED, SITX_SEAL_NOT_SEALED,
                    "empty file: not a sitx sealed file");
    }
    return fail(r, SITX_E_TRUNCATED, SITX_SEAL_TRUNCATED,
                "the file ends early (truncated after %llu bytes)", (unsigned long long)r->fed);
}

int sitx_seal_reader_err(const struct sitx_seal_reader *r)
{
    return r->err;
}

enum sitx_seal_failure sitx_seal_reader_failure(const struct sitx_seal_reader *r)
{
    return r->failure;
}

const char *sitx_seal_reader_errstr(const struct sitx_seal_reader *r)
{
    return r->errstr;
}
