/* Record encode and decode (PROTOCOL.md §6). Decoding walks a cursor that
 * checks every length against what is left before it reads, and names the
 * record and field in the error so a log line says what the peer got wrong.
 * The encoders refuse any value the decoder would refuse, so what we send
 * always parses on the other side. */
#include "record.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "greeting.h"

#define OFFER_FIXED    (SITX_TRANSFER_ID_BYTES + 1 + 8 + SITX_CONTENT_HASH_BYTES)
#define ACCEPT_BODY    (SITX_TRANSFER_ID_BYTES + 8)
#define ACCEPT_BODY_V2 (ACCEPT_BODY + SITX_CONTENT_HASH_BYTES)
#define END_BODY       SITX_CONTENT_HASH_BYTES
#define RESULT_FIXED   (SITX_TRANSFER_ID_BYTES + 1 + 8 + 4 + SITX_CONTENT_HASH_BYTES)
#define CANCEL_FIXED   (SITX_TRANSFER_ID_BYTES + 1)
#define STR_HDR        2
#define OFFER_SIZE_MAX (UINT64_C(1) << 63)

/* A bounded view of the record being decoded. */
struct cursor {
    const uint8_t *p;
    size_t left;
    const char *rec; /* record name for messages */
    unsigned version; /* of the connection: what CANCEL and status 11 need */
    char *errstr;
    size_t errstr_len;
};

static int fail(struct cursor *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct cursor *c, int err, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (c->errstr == NULL || c->errstr_len == 0) {
        return err;
    }
    n = snprintf(c->errstr, c->errstr_len, "%s: ", c->rec);
    if (n < 0 || (size_t)n >= c->errstr_len) {
        return err;
    }
    va_start(ap, fmt);
    vsnprintf(c->errstr + n, c->errstr_len - (size_t)n, fmt, ap);
    va_end(ap);
    return err;
}

static int need(struct cursor *c, size_t n, const char *field)
{
    if (c->left < n) {
        return fail(c, SITX_E_TRUNCATED, "record ends inside %s (needs %zu bytes, %zu left)", field,
                    n, c->left);
    }
    return 0;
}

static int take(struct cursor *c, void *out, size_t n, const char *field)
{
    int rc = need(c, n, field);

    if (rc != 0) {
        return rc;
    }
    memcpy(out, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

static int take_u8(struct cursor *c, uint8_t *v, const char *field)
{
    return take(c, v, 1, field);
}

static int take_u32(struct cursor *c, uint32_t *v, const char *field)
{
    int rc = need(c, 4, field);

    if (rc != 0) {
        return rc;
    }
    *v = sitx_load_be32(c->p);
    c->p += 4;
    c->left -= 4;
    return 0;
}

static int take_u64(struct cursor *c, uint64_t *v, const char *field)
{
    int rc = need(c, 8, field);

    if (rc != 0) {
        return rc;
    }
    *v = sitx_load_be64(c->p);
    c->p += 8;
    c->left -= 8;
    return 0;
}

/* The first control character in s (C0, DEL, or C1 as C2 80..C2 9F), or -1:
 * it lets a message tell a stray control apart from broken UTF-8. */
static long control_char(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7F) {
            return s[i];
        }
        if (s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F) {
            return s[i + 1];
        }
    }
    return -1;
}

/* [len:u16][bytes] into out (max + 1 bytes), NUL-terminated. */
static int take_string(struct cursor *c, char *out, size_t max, int allow_empty, const char *field)
{
    size_t n;
    int rc = need(c, STR_HDR, field);

    if (rc != 0) {
        return rc;
    }
    n = sitx_load_be16(c->p);
    c->p += STR_HDR;
    c->left -= STR_HDR;
    if (n > max) {
        return fail(c, SITX_E_TOO_LARGE, "%s is %zu bytes, over the limit of %zu", field, n, max);
    }
    if (c->left < n) {
        return fail(c, SITX_E_TRUNCATED,
                    "%s of %zu bytes runs past the end of the record (%zu left)", field, n,
                    c->left);
    }
    if (n == 0 && !allow_empty) {
        return fail(c, SITX_E_MALFORMED, "%s is empty", field);
    }
    if (!sitx_utf8_valid(c->p, n)) {
        long cp = control_char(c->p, n);

        if (cp >= 0) {
            return fail(c, SITX_E_BAD_UTF8, "%s contains control character U+%04lX", field, cp);
        }
        return fail(c, SITX_E_BAD_UTF8, "%s is not valid UTF-8", field);
    }
    memcpy(out, c->p, n);
    out[n] = '\0';
    c->p += n;
    c->left -= n;
    return 0;
}

static int finish(struct cursor *c)
{
    if (c->left != 0) {
        return fail(c, SITX_E_TRAILING, "%zu byte%s after the last field", c->left,
                    c->left == 1 ? "" : "s");
    }
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

static int valid_format(uint8_t f)
{
    return f == SITX_FMT_PNG || f == SITX_FMT_JPEG;
}

static int decode_offer(struct cursor *c, struct sitx_offer *m)
{
    int rc = take(c, m->id, sizeof(m->id), "transfer_id");

    if (rc == 0) {
        rc = take_u8(c, &m->format, "format");
    }
    if (rc == 0 && !valid_format(m->format)) {
        rc = fail(c, SITX_E_MALFORMED, "unknown format %u (1 PNG, 2 JPEG)", m->format);
    }
    if (rc == 0) {
        rc = take_u64(c, &m->size, "size");
    }
    if (rc == 0 && (m->size == 0 || m->size > OFFER_SIZE_MAX)) {
        rc = fail(c, SITX_E_MALFORMED, "size %llu is outside 1..2^63", (unsigned long long)m->size);
    }
    if (rc == 0) {
        rc = take(c, m->hash, sizeof(m->hash), "hash");
    }
    if (rc == 0) {
        rc = take_string(c, m->name, SITX_NAME_MAX, 0, "name");
    }
    return rc == 0 ? finish(c) : rc;
}

static int decode_accept(struct cursor *c, struct sitx_accept *m)
{
    int rc = take(c, m->id, sizeof(m->id), "transfer_id");

    if (rc == 0) {
        rc = take_u64(c, &m->offset, "offset");
    }
    if (c->version < SITX_PROTO_V2) {
        if (rc == 0 && m->offset != 0) {
            rc = fail(c, SITX_E_MALFORMED, "offset %llu is not 0 (version 1 has no resume)",
                      (unsigned long long)m->offset);
        }
        return rc == 0 ? finish(c) : rc;
    }
    /* Version 2: the offset to resume from and the hash that proves the
     * receiver holds the sender's prefix; nothing to prove at 0. */
    if (rc == 0 && m->offset > OFFER_SIZE_MAX) {
        rc = fail(c, SITX_E_MALFORMED, "offset %llu is over 2^63",
                  (unsigned long long)m->offset);
    }
    if (rc == 0) {
        rc = take(c, m->prefix_hash, sizeof(m->prefix_hash), "prefix_hash");
    }
    if (rc == 0 && m->offset == 0 && !all_zero(m->prefix_hash, sizeof(m->prefix_hash))) {
        rc = fail(c, SITX_E_MALFORMED, "offset 0 with a non-zero prefix_hash");
    }
    return rc == 0 ? finish(c) : rc;
}

static int decode_end(struct cursor *c, struct sitx_end *m)
{
    int rc = take(c, m->hash, sizeof(m->hash), "hash");

    return rc == 0 ? finish(c) : rc;
}

/* A success names what was stored; a failure stores nothing, so its size,
 * hash and name are empty. NULL when m is consistent, else why not. */
static const char *result_inconsistency(const struct sitx_result *m)
{
    if (sitx_status_success(m->status)) {
        return m->name[0] == '\0' ? "has no stored name" : NULL;
    }
    if (m->size != 0) {
        return "has a non-zero size";
    }
    if (!all_zero(m->hash, sizeof(m->hash))) {
        return "has a non-zero hash";
    }
    if (m->name[0] != '\0') {
        return "has a stored name";
    }
    return NULL;
}

static int decode_result(struct cursor *c, struct sitx_result *m)
{
    const char *why = NULL;
    int rc = take(c, m->id, sizeof(m->id), "transfer_id");

    if (rc == 0) {
        rc = take_u8(c, &m->status, "status");
    }
    if (rc == 0 && !sitx_status_valid_in(m->status, c->version)) {
        rc = fail(c, SITX_E_MALFORMED, "unknown status %u in protocol version %u", m->status,
                  c->version);
    }
    if (rc == 0) {
        rc = take_u64(c, &m->size, "size");
    }
    if (rc == 0) {
        rc = take_u32(c, &m->ms, "ms");
    }
    if (rc == 0) {
        rc = take(c, m->hash, sizeof(m->hash), "hash");
    }
    if (rc == 0) {
        rc = take_string(c, m->name, SITX_NAME_MAX, 1, "name");
    }
    if (rc == 0) {
        rc = take_string(c, m->message, SITX_TEXT_MAX, 1, "message");
    }
    if (rc == 0) {
        rc = finish(c);
    }
    if (rc == 0 && (why = result_inconsistency(m)) != NULL) {
        rc = fail(c, SITX_E_MALFORMED, "status %s %s", sitx_status_name(m->status), why);
    }
    return rc;
}

static int decode_close(struct cursor *c, struct sitx_close *m)
{
    int rc = take_u8(c, &m->reason, "reason");

    if (rc == 0 && m->reason > SITX_CLOSE_BUSY) {
        rc = fail(c, SITX_E_MALFORMED, "unknown reason %u", m->reason);
    }
    if (rc == 0) {
        rc = take_string(c, m->message, SITX_TEXT_MAX, 1, "message");
    }
    return rc == 0 ? finish(c) : rc;
}

static int decode_cancel(struct cursor *c, struct sitx_cancel *m)
{
    int rc = take(c, m->id, sizeof(m->id), "transfer_id");

    if (rc == 0) {
        rc = take_u8(c, &m->reason, "reason");
    }
    if (rc == 0 && m->reason > SITX_CANCEL_INTERRUPTED) {
        rc = fail(c, SITX_E_MALFORMED, "unknown reason %u", m->reason);
    }
    if (rc == 0) {
        rc = take_string(c, m->message, SITX_TEXT_MAX, 1, "message");
    }
    return rc == 0 ? finish(c) : rc;
}

int sitx_record_decode(const uint8_t *buf, size_t len, struct sitx_record *rec, char *errstr,
                       size_t errstr_len)
{
    return sitx_record_decode_v(buf, len, SITX_PROTO_V1, rec, errstr, errstr_len);
}

int sitx_record_decode_v(const uint8_t *buf, size_t len, unsigned version,
                         struct sitx_record *rec, char *errstr, size_t errstr_len)
{
    struct cursor c = {buf, len, "record", version, errstr, errstr_len};

    memset(rec, 0, sizeof(*rec));
    if (errstr != NULL && errstr_len > 0) {
        errstr[0] = '\0';
    }
    if (len == 0) {
        return fail(&c, SITX_E_TRUNCATED, "empty (no type byte)");
    }
    if (len > SITX_RECORD_MAX) {
        return fail(&c, SITX_E_TOO_LARGE, "%zu bytes, over the limit of %d", len, SITX_RECORD_MAX);
    }
    rec->type = buf[0];
    c.p = buf + 1;
    c.left = len - 1;
    c.rec = sitx_rec_type_name(rec->type);
    switch (rec->type) {
    case SITX_REC_OFFER:
        return decode_offer(&c, &rec->u.offer);
    case SITX_REC_ACCEPT:
        return decode_accept(&c, &rec->u.accept);
    case SITX_REC_DATA:
        if (c.left == 0) {
            return fail(&c, SITX_E_MALFORMED, "no payload bytes");
        }
        rec->u.data.bytes = c.p;
        rec->u.data.len = c.left;
        return 0;
    case SITX_REC_END:
        return decode_end(&c, &rec->u.end);
    case SITX_REC_RESULT:
        return decode_result(&c, &rec->u.result);
    case SITX_REC_CLOSE:
        return decode_close(&c, &rec->u.close);
    case SITX_REC_CANCEL:
        if (version >= SITX_PROTO_V2) {
            return decode_cancel(&c, &rec->u.cancel);
        }
        break; /* not a record of version 1 */
    default:
        break;
    }
    /* Reported without the "record: " prefix: the type is the whole story. */
    if (errstr != NULL && errstr_len > 0) {
        snprintf(errstr, errstr_len, "unknown record type 0x%02x", rec->type);
    }
    return SITX_E_UNKNOWN_TYPE;
}

/* Checks a NUL-terminated string field for encoding; *n gets its length. */
static int check_string(const char *s, size_t max, int allow_empty, size_t *n)
{
    *n = strnlen(s, max + 1);
    if (*n > max) {
        return SITX_E_TOO_LARGE;
    }
    if (*n == 0 && !allow_empty) {
        return SITX_E_MALFORMED;
    }
    if (!sitx_utf8_valid((const uint8_t *)s, *n)) {
        return SITX_E_BAD_UTF8;
    }
    return 0;
}

static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

static uint8_t *put_string(uint8_t *p, const char *s, size_t n)
{
    sitx_store_be16(p, (uint16_t)n);
    return put(p + STR_HDR, s, n);
}

int sitx_offer_encode(const struct sitx_offer *m, uint8_t *out, size_t cap, size_t *len)
{
    size_t name_len;
    size_t total;
    uint8_t *p = out;
    int rc = check_string(m->name, SITX_NAME_MAX, 0, &name_len);

    if (rc != 0) {
        return rc;
    }
    if (!valid_format(m->format) || m->size == 0 || m->size > OFFER_SIZE_MAX) {
        return SITX_E_MALFORMED;
    }
    total = 1 + OFFER_FIXED + STR_HDR + name_len;
    if (cap < total) {
        return SITX_E_BUFFER;
    }
    *p++ = SITX_REC_OFFER;
    p = put(p, m->id, sizeof(m->id));
    *p++ = m->format;
    sitx_store_be64(p, m->size);
    p = put(p + 8, m->hash, sizeof(m->hash));
    put_string(p, m->name, name_len);
    *len = total;
    return 0;
}

int sitx_accept_encode(const struct sitx_accept *m, uint8_t *out, size_t cap, size_t *len)
{
    return sitx_accept_encode_v(m, SITX_PROTO_V1, out, cap, len);
}

int sitx_accept_encode_v(const struct sitx_accept *m, unsigned version, uint8_t *out, size_t cap,
                         size_t *len)
{
    size_t total = 1 + (version >= SITX_PROTO_V2 ? ACCEPT_BODY_V2 : ACCEPT_BODY);

    if (version < SITX_PROTO_V2 && m->offset != 0) {
        return SITX_E_MALFORMED;
    }
    if (version >= SITX_PROTO_V2 &&
        (m->offset > OFFER_SIZE_MAX ||
         (m->offset == 0 && !all_zero(m->prefix_hash, sizeof(m->prefix_hash))))) {
        return SITX_E_MALFORMED;
    }
    if (cap < total) {
        return SITX_E_BUFFER;
    }
    out[0] = SITX_REC_ACCEPT;
    put(out + 1, m->id, sizeof(m->id));
    sitx_store_be64(out + 1 + SITX_TRANSFER_ID_BYTES, m->offset);
    if (version >= SITX_PROTO_V2) {
        put(out + 1 + ACCEPT_BODY, m->prefix_hash, sizeof(m->prefix_hash));
    }
    *len = total;
    return 0;
}

int sitx_data_encode(const uint8_t *bytes, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    if (n == 0) {
        return SITX_E_MALFORMED;
    }
    if (n > SITX_DATA_MAX) {
        return SITX_E_TOO_LARGE;
    }
    if (cap < SITX_DATA_HDR + n) {
        return SITX_E_BUFFER;
    }
    /* The caller may have read the payload straight into out + 1. */
    if (bytes != out + SITX_DATA_HDR) {
        memmove(out + SITX_DATA_HDR, bytes, n);
    }
    out[0] = SITX_REC_DATA;
    *len = SITX_DATA_HDR + n;
    return 0;
}

int sitx_end_encode(const struct sitx_end *m, uint8_t *out, size_t cap, size_t *len)
{
    if (cap < 1 + END_BODY) {
        return SITX_E_BUFFER;
    }
    out[0] = SITX_REC_END;
    put(out + 1, m->hash, sizeof(m->hash));
    *len = 1 + END_BODY;
    return 0;
}

int sitx_result_encode(const struct sitx_result *m, uint8_t *out, size_t cap, size_t *len)
{
    size_t name_len;
    size_t msg_len;
    size_t total;
    uint8_t *p = out;
    int rc = check_string(m->name, SITX_NAME_MAX, 1, &name_len);

    if (rc == 0) {
        rc = check_string(m->message, SITX_TEXT_MAX, 1, &msg_len);
    }
    if (rc != 0) {
        return rc;
    }
    if (!sitx_status_valid_in(m->status, SITX_PROTO_V2) || result_inconsistency(m) != NULL) {
        return SITX_E_MALFORMED;
    }
    total = 1 + RESULT_FIXED + STR_HDR + name_len + STR_HDR + msg_len;
    if (cap < total) {
        return SITX_E_BUFFER;
    }
    *p++ = SITX_REC_RESULT;
    p = put(p, m->id, sizeof(m->id));
    *p++ = m->status;
    sitx_store_be64(p, m->size);
    sitx_store_be32(p + 8, m->ms);
    p = put(p + 12, m->hash, sizeof(m->hash));
    p = put_string(p, m->name, name_len);
    put_string(p, m->message, msg_len);
    *len = total;
    return 0;
}

int sitx_close_encode(const struct sitx_close *m, uint8_t *out, size_t cap, size_t *len)
{
    size_t msg_len;
    int rc = check_string(m->message, SITX_TEXT_MAX, 1, &msg_len);

    if (rc != 0) {
        return rc;
    }
    if (m->reason > SITX_CLOSE_BUSY) {
        return SITX_E_MALFORMED;
    }
    if (cap < 1 + 1 + STR_HDR + msg_len) {
        return SITX_E_BUFFER;
    }
    out[0] = SITX_REC_CLOSE;
    out[1] = m->reason;
    put_string(out + 2, m->message, msg_len);
    *len = 1 + 1 + STR_HDR + msg_len;
    return 0;
}

int sitx_cancel_encode(const struct sitx_cancel *m, uint8_t *out, size_t cap, size_t *len)
{
    size_t msg_len;
    int rc = check_string(m->message, SITX_TEXT_MAX, 1, &msg_len);

    if (rc != 0) {
        return rc;
    }
    if (m->reason > SITX_CANCEL_INTERRUPTED) {
        return SITX_E_MALFORMED;
    }
    if (cap < 1 + CANCEL_FIXED + STR_HDR + msg_len) {
        return SITX_E_BUFFER;
    }
    out[0] = SITX_REC_CANCEL;
    put(out + 1, m->id, sizeof(m->id));
    out[1 + SITX_TRANSFER_ID_BYTES] = m->reason;
    put_string(out + 1 + CANCEL_FIXED, m->message, msg_len);
    *len = 1 + CANCEL_FIXED + STR_HDR + msg_len;
    return 0;
}

int sitx_record_encode(const struct sitx_record *rec, uint8_t *out, size_t cap, size_t *len)
{
    return sitx_record_encode_v(rec, SITX_PROTO_V1, out, cap, len);
}

int sitx_record_encode_v(const struct sitx_record *rec, unsigned version, uint8_t *out,
                         size_t cap, size_t *len)
{
    switch (rec->type) {
    case SITX_REC_OFFER:
        return sitx_offer_encode(&rec->u.offer, out, cap, len);
    case SITX_REC_ACCEPT:
        return sitx_accept_encode_v(&rec->u.accept, version, out, cap, len);
    case SITX_REC_DATA:
        return sitx_data_encode(rec->u.data.bytes, rec->u.data.len, out, cap, len);
    case SITX_REC_END:
        return sitx_end_encode(&rec->u.end, out, cap, len);
    case SITX_REC_RESULT:
        return sitx_result_encode(&rec->u.result, out, cap, len);
    case SITX_REC_CLOSE:
        return sitx_close_encode(&rec->u.close, out, cap, len);
    case SITX_REC_CANCEL:
        return sitx_cancel_encode(&rec->u.cancel, out, cap, len);
    default:
        return SITX_E_UNKNOWN_TYPE;
    }
}

const char *sitx_rec_type_name(uint8_t type)
{
    switch (type) {
    case SITX_REC_OFFER:
        return "OFFER";
    case SITX_REC_ACCEPT:
        return "ACCEPT";
    case SITX_REC_DATA:
        return "DATA";
    case SITX_REC_END:
        return "END";
    case SITX_REC_RESULT:
        return "RESULT";
    case SITX_REC_CLOSE:
        return "CLOSE";
    case SITX_REC_CANCEL:
        return "CANCEL";
    default:
        return "UNKNOWN";
    }
}
