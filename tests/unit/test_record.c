/* Records: every type round-trips byte for byte, every malformed input is
 * refused with its code and reason, and the UTF-8 rule is exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "err.h"
#include "msg.h"
#include "greeting.h"
#include "record.h"

static uint8_t buf[SITX_RECORD_MAX + 64];
static uint8_t buf2[SITX_RECORD_MAX + 64];
static char why[128];

static int all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) {
            return 0;
        }
    }
    return 1;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(seed + i * 3);
    }
}

static struct sitx_offer sample_offer(void)
{
    struct sitx_offer m;

    memset(&m, 0, sizeof(m));
    fill(m.id, sizeof(m.id), 0x10);
    m.format = SITX_FMT_JPEG;
    m.size = 4194304;
    fill(m.hash, sizeof(m.hash), 0x80);
    strcpy(m.name, "Photo \xc3\xa9t\xc3\xa9 2024.jpg"); /* "Photo été 2024.jpg" */
    return m;
}

static struct sitx_result sample_result(void)
{
    struct sitx_result m;

    memset(&m, 0, sizeof(m));
    fill(m.id, sizeof(m.id), 0x10);
    m.status = SITX_ST_OK;
    m.size = 4100000;
    m.ms = 37;
    fill(m.hash, sizeof(m.hash), 0x40);
    strcpy(m.name, "Photo \xc3\xa9t\xc3\xa9 2024 (2).jpg");
    strcpy(m.message, "stored");
    return m;
}

static struct sitx_result failed_result(uint8_t status)
{
    struct sitx_result m;

    memset(&m, 0, sizeof(m));
    fill(m.id, sizeof(m.id), 0x10);
    m.status = status;
    m.ms = 10000;
    strcpy(m.message, "deadline of 10 s passed");
    return m;
}

/* Decodes in, expecting err and exactly the reason text. */
static void expect_bad(const uint8_t *in, size_t len, int err, const char *reason)
{
    struct sitx_record rec;
    int rc;

    why[0] = 'x';
    why[1] = '\0';
    rc = sitx_record_decode(in, len, &rec, why, sizeof(why));
    if (rc != err) {
        fail_msg("decode gave %d (%s, \"%s\"), expected %d", rc, sitx_strerror(rc), why, err);
    }
    assert_string_equal(why, reason);
}

/* Decodes in (must succeed), re-encodes the result and requires the same
 * bytes. */
static void expect_round_trip(const uint8_t *in, size_t len, struct sitx_record *rec)
{
    size_t out_len = 0;
    int rc = sitx_record_decode(in, len, rec, why, sizeof(why));

    if (rc != 0) {
        fail_msg("decode failed: %d %s", rc, why);
    }
    assert_string_equal(why, "");
    assert_int_equal(sitx_record_encode(rec, buf2, sizeof(buf2), &out_len), 0);
    assert_int_equal(out_len, len);
    assert_memory_equal(buf2, in, len);
}

/* Every cap below the record's size gives SITX_E_BUFFER and writes nothing
 * past cap. */
static void expect_buffer_checks(const struct sitx_record *rec, size_t full)
{
    for (size_t cap = 0; cap < full; cap++) {
        size_t out_len = 12345;

        memset(buf2, 0xCC, full + 1);
        assert_int_equal(sitx_record_encode(rec, buf2, cap, &out_len), SITX_E_BUFFER);
        assert_int_equal(out_len, 12345);
        for (size_t i = cap; i <= full; i++) {
            assert_int_equal(buf2[i], 0xCC);
        }
    }
}

/* Every strict prefix of a good record is refused as truncated. */
static void expect_prefixes_truncated(const uint8_t *in, size_t len)
{
    struct sitx_record rec;

    for (size_t n = 0; n < len; n++) {
        int rc = sitx_record_decode(in, n, &rec, why, sizeof(why));

        if (rc != SITX_E_TRUNCATED) {
            fail_msg("prefix of %zu of %zu bytes gave %d (%s)", n, len, rc, why);
        }
    }
}

static void test_offer(void **state)
{
    struct sitx_offer m = sample_offer();
    struct sitx_record rec;
    size_t len = 0;
    size_t name_len = strlen(m.name);

    (void)state;
    assert_int_equal(sitx_offer_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 1 + 16 + 1 + 8 + 32 + 2 + name_len);
    /* The layout, field by field. */
    assert_int_equal(buf[0], SITX_REC_OFFER);
    assert_memory_equal(buf + 1, m.id, 16);
    assert_int_equal(buf[17], 2);
    assert_true(sitx_load_be64(buf + 18) == 4194304);
    assert_memory_equal(buf + 26, m.hash, 32);
    assert_int_equal(sitx_load_be16(buf + 58), name_len);
    assert_memory_equal(buf + 60, m.name, name_len);

    expect_round_trip(buf, len, &rec);
    assert_int_equal(rec.type, SITX_REC_OFFER);
    assert_memory_equal(rec.u.offer.id, m.id, 16);
    assert_int_equal(rec.u.offer.format, SITX_FMT_JPEG);
    assert_true(rec.u.offer.size == 4194304);
    assert_memory_equal(rec.u.offer.hash, m.hash, 32);
    assert_string_equal(rec.u.offer.name, m.name);
    expect_prefixes_truncated(buf, len);
    expect_buffer_checks(&rec, len);
}

static void test_offer_limits(void **state)
{
    struct sitx_offer m = sample_offer();
    struct sitx_record rec;
    size_t len = 0;

    (void)state;
    /* 255 bytes of name and a size of exactly 2^63 are the largest allowed. */
    memset(m.name, 'n', 255);
    m.name[255] = '\0';
    m.size = UINT64_C(1) << 63;
    m.format = SITX_FMT_PNG;
    assert_int_equal(sitx_offer_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 60 + 255);
    expect_round_trip(buf, len, &rec);
    assert_int_equal(strlen(rec.u.offer.name), 255);

    /* Encoders refuse what the decoder would. */
    m.size = (UINT64_C(1) << 63) + 1;
    assert_int_equal(sitx_offer_encode(&m, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    m.size = 0;
    assert_int_equal(sitx_offer_encode(&m, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    m.size = 1;
    m.format = 3;
    assert_int_equal(sitx_offer_encode(&m, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    m.format = SITX_FMT_PNG;
    m.name[0] = '\0';
    assert_int_equal(sitx_offer_encode(&m, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    memset(m.name, 'n', sizeof(m.name)); /* 256 bytes, unterminated */
    assert_int_equal(sitx_offer_encode(&m, buf, sizeof(buf), &len), SITX_E_TOO_LARGE);
    strcpy(m.name, "a\x01.png");
    assert_int_equal(sitx_offer_encode(&m, buf, sizeof(buf), &len), SITX_E_BAD_UTF8);
    strcpy(m.name, "\xc3(.png");
    assert_int_equal(sitx_offer_encode(&m, buf, sizeof(buf), &len), SITX_E_BAD_UTF8);
}

/* A valid OFFER with a name of name_len bytes (the bytes left to patch). */
static size_t offer_bytes(uint8_t *out, size_t name_len)
{
    struct sitx_offer m = sample_offer();
    size_t len = 0;

    memset(m.name, 'a', name_len);
    m.name[name_len] = '\0';
    assert_int_equal(sitx_offer_encode(&m, out, SITX_RECORD_MAX, &len), 0);
    return len;
}

static void test_offer_malformed(void **state)
{
    uint8_t in[600];
    size_t len;

    (void)state;
    len = offer_bytes(in, 4);
    in[len] = 0;
    expect_bad(in, len + 1, SITX_E_TRAILING, "OFFER: 1 byte after the last field");
    in[len + 1] = 0;
    expect_bad(in, len + 2, SITX_E_TRAILING, "OFFER: 2 bytes after the last field");
    expect_bad(in, 10, SITX_E_TRUNCATED,
               "OFFER: record ends inside transfer_id (needs 16 bytes, 9 left)");
    expect_bad(in, 20, SITX_E_TRUNCATED, "OFFER: record ends inside size (needs 8 bytes, 2 left)");
    expect_bad(in, 59, SITX_E_TRUNCATED, "OFFER: record ends inside name (needs 2 bytes, 1 left)");
    expect_bad(in, len - 1, SITX_E_TRUNCATED,
               "OFFER: name of 4 bytes runs past the end of the record (3 left)");

    /* Empty name. */
    len = offer_bytes(in, 4);
    sitx_store_be16(in + 58, 0);
    expect_bad(in, 60, SITX_E_MALFORMED, "OFFER: name is empty");

    /* 256-byte name: over the limit, whether or not the bytes are there. */
    len = offer_bytes(in, 255);
    in[len] = 'a';
    sitx_store_be16(in + 58, 256);
    expect_bad(in, len + 1, SITX_E_TOO_LARGE, "OFFER: name is 256 bytes, over the limit of 255");
    sitx_store_be16(in + 58, 0xFFFF);
    expect_bad(in, 60, SITX_E_TOO_LARGE, "OFFER: name is 65535 bytes, over the limit of 255");

    /* Names that are not UTF-8, or carry control characters. */
    len = offer_bytes(in, 4);
    in[60] = 0xFF;
    expect_bad(in, len, SITX_E_BAD_UTF8, "OFFER: name is not valid UTF-8");
    in[60] = 0xC0; /* overlong '/' */
    in[61] = 0xAF;
    expect_bad(in, len, SITX_E_BAD_UTF8, "OFFER: name is not valid UTF-8");
    in[60] = 'a';
    in[61] = 0x00;
    expect_bad(in, len, SITX_E_BAD_UTF8, "OFFER: name contains control character U+0000");
    in[61] = '\n';
    expect_bad(in, len, SITX_E_BAD_UTF8, "OFFER: name contains control character U+000A");
    in[61] = 0x7F;
    expect_bad(in, len, SITX_E_BAD_UTF8, "OFFER: name contains control character U+007F");
    in[61] = 0xC2;
    in[62] = 0x85;
    expect_bad(in, len, SITX_E_BAD_UTF8, "OFFER: name contains control character U+0085");

    /* Size 0 and over 2^63; an unknown format. */
    len = offer_bytes(in, 4);
    sitx_store_be64(in + 18, 0);
    expect_bad(in, len, SITX_E_MALFORMED, "OFFER: size 0 is outside 1..2^63");
    sitx_store_be64(in + 18, UINT64_MAX);
    expect_bad(in, len, SITX_E_MALFORMED, "OFFER: size 18446744073709551615 is outside 1..2^63");
    sitx_store_be64(in + 18, 1);
    in[17] = 0;
    expect_bad(in, len, SITX_E_MALFORMED, "OFFER: unknown format 0 (1 PNG, 2 JPEG)");
    in[17] = 3;
    expect_bad(in, len, SITX_E_MALFORMED, "OFFER: unknown format 3 (1 PNG, 2 JPEG)");
}

static void test_accept(void **state)
{
    struct sitx_accept m;
    struct sitx_record rec;
    size_t len = 0;

    (void)state;
    memset(&m, 0, sizeof(m));
    fill(m.id, sizeof(m.id), 0x22);
    assert_int_equal(sitx_accept_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 25);
    assert_int_equal(buf[0], SITX_REC_ACCEPT);
    assert_memory_equal(buf + 1, m.id, 16);
    expect_round_trip(buf, len, &rec);
    assert_int_equal(rec.type, SITX_REC_ACCEPT);
    assert_memory_equal(rec.u.accept.id, m.id, 16);
    assert_true(rec.u.accept.offset == 0);
    expect_prefixes_truncated(buf, len);
    expect_buffer_checks(&rec, len);

    expect_bad(buf, 20, SITX_E_TRUNCATED,
               "ACCEPT: record ends inside offset (needs 8 bytes, 3 left)");
    buf[25] = 0;
    expect_bad(buf, 26, SITX_E_TRAILING, "ACCEPT: 1 byte after the last field");
    buf[24] = 1;
    expect_bad(buf, 25, SITX_E_MALFORMED, "ACCEPT: offset 1 is not 0 (version 1 has no resume)");
    m.offset = 7;
    assert_int_equal(sitx_accept_encode(&m, buf, sizeof(buf), &len), SITX_E_MALFORMED);
}

/* Decodes in as a version 2 record, expecting err and exactly the reason. */
static void expect_bad_v2(const uint8_t *in, size_t len, int err, const char *reason)
{
    struct sitx_record rec;
    int rc = sitx_record_decode_v(in, len, SITX_PROTO_V2, &rec, why, sizeof(why));

    if (rc != err) {
        fail_msg("v2 decode gave %d (%s, \"%s\"), expected %d", rc, sitx_strerror(rc), why, err);
    }
    assert_string_equal(why, reason);
}

/* Version 2: 02 | id16 | offset u64 | prefix_hash 32, 57 bytes. */
static void test_accept_v2(void **state)
{
    struct sitx_accept m;
    struct sitx_record rec;
    uint8_t v1[32];
    size_t len = 0;
    size_t v1_len = 0;

    (void)state;
    memset(&m, 0, sizeof(m));
    fill(m.id, sizeof(m.id), 0x22);
    m.offset = 0x0102030405060708ull;
    fill(m.prefix_hash, sizeof(m.prefix_hash), 0x5a);
    assert_int_equal(sitx_accept_encode_v(&m, SITX_PROTO_V2, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 57);
    assert_int_equal(buf[0], SITX_REC_ACCEPT);
    assert_memory_equal(buf + 1, m.id, 16);
    assert_int_equal(buf[17], 0x01);
    assert_int_equal(buf[24], 0x08);
    assert_memory_equal(buf + 25, m.prefix_hash, 32);
    assert_int_equal(sitx_record_decode_v(buf, len, SITX_PROTO_V2, &rec, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(rec.type, SITX_REC_ACCEPT);
    assert_memory_equal(rec.u.accept.id, m.id, 16);
    assert_true(rec.u.accept.offset == m.offset);
    assert_memory_equal(rec.u.accept.prefix_hash, m.prefix_hash, 32);
    assert_int_equal(sitx_record_encode_v(&rec, SITX_PROTO_V2, buf2, sizeof(buf2), &v1_len), 0);
    assert_int_equal(v1_len, 57);
    assert_memory_equal(buf2, buf, 57);
    for (size_t cap = 0; cap < 57; cap++) {
        size_t out_len = 12345;

        assert_int_equal(sitx_record_encode_v(&rec, SITX_PROTO_V2, buf2, cap, &out_len),
                         SITX_E_BUFFER);
        assert_int_equal(out_len, 12345);
    }

    /* Every shorter prefix is truncated; a longer one has trailing bytes. */
    for (size_t n = 1; n < 57; n++) {
        assert_int_equal(sitx_record_decode_v(buf, n, SITX_PROTO_V2, &rec, NULL, 0),
                         SITX_E_TRUNCATED);
    }
    expect_bad_v2(buf, 40, SITX_E_TRUNCATED,
                  "ACCEPT: record ends inside prefix_hash (needs 32 bytes, 15 left)");
    buf[57] = 0;
    expect_bad_v2(buf, 58, SITX_E_TRAILING, "ACCEPT: 1 byte after the last field");
    /* A version 1 ACCEPT on a version 2 connection is short of its hash,
     * and a version 2 one on a version 1 connection has 32 bytes too many. */
    memset(&m.prefix_hash, 0, sizeof(m.prefix_hash));
    m.offset = 0;
    assert_int_equal(sitx_accept_encode(&m, v1, sizeof(v1), &v1_len), 0);
    assert_int_equal(v1_len, 25);
    expect_bad_v2(v1, v1_len, SITX_E_TRUNCATED,
                  "ACCEPT: record ends inside prefix_hash (needs 32 bytes, 0 left)");
    assert_int_equal(sitx_accept_encode_v(&m, SITX_PROTO_V2, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 57);
    assert_memory_equal(buf, v1, 25);
    assert_true(all_bytes(buf + 25, 32, 0));
    expect_bad(buf, len, SITX_E_TRAILING, "ACCEPT: 32 bytes after the last field");
    assert_int_equal(sitx_record_decode_v(buf, len, SITX_PROTO_V2, &rec, why, sizeof(why)), 0);
    assert_true(rec.u.accept.offset == 0);

    /* Offset 0 proves nothing: its hash must be zero. Over 2^63 is no offset. */
    buf[40] = 1;
    expect_bad_v2(buf, len, SITX_E_MALFORMED, "ACCEPT: offset 0 with a non-zero prefix_hash");
    m.prefix_hash[3] = 1;
    assert_int_equal(sitx_accept_encode_v(&m, SITX_PROTO_V2, buf, sizeof(buf), &len),
                     SITX_E_MALFORMED);
    m.offset = (UINT64_C(1) << 63) + 1;
    assert_int_equal(sitx_accept_encode_v(&m, SITX_PROTO_V2, buf, sizeof(buf), &len),
                     SITX_E_MALFORMED);
    m.offset = UINT64_C(1) << 63;
    assert_int_equal(sitx_accept_encode_v(&m, SITX_PROTO_V2, buf, sizeof(buf), &len), 0);
    buf[17] = 0x80;
    buf[24] = 0x01;
    expect_bad_v2(buf, len, SITX_E_MALFORMED, "ACCEPT: offset 9223372036854775809 is over 2^63");
    /* A non-zero offset stays refused in version 1, by both sides. */
    m.offset = 5;
    assert_int_equal(sitx_accept_encode_v(&m, SITX_PROTO_V1, buf, sizeof(buf), &len),
                     SITX_E_MALFORMED);
}

static void test_data(void **state)
{
    static uint8_t payload[SITX_DATA_MAX + 1];
    struct sitx_record rec;
    size_t len = 0;

    (void)state;
    fill(payload, sizeof(payload), 7);
    assert_int_equal(sitx_data_encode(payload, 1, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(buf[0], SITX_REC_DATA);
    assert_int_equal(buf[1], payload[0]);
    expect_round_trip(buf, len, &rec);
    assert_int_equal(rec.u.data.len, 1);
    assert_ptr_equal(rec.u.data.bytes, buf + 1);

    /* The largest DATA fills a record exactly. */
    assert_int_equal(sitx_data_encode(payload, SITX_DATA_MAX, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, SITX_RECORD_MAX);
    expect_round_trip(buf, len, &rec);
    assert_int_equal(rec.u.data.len, SITX_DATA_MAX);
    assert_memory_equal(rec.u.data.bytes, payload, SITX_DATA_MAX);

    /* Payload read straight into out + SITX_DATA_HDR. */
    memcpy(buf + SITX_DATA_HDR, payload, 1000);
    buf[0] = 0;
    assert_int_equal(sitx_data_encode(buf + SITX_DATA_HDR, 1000, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 1001);
    assert_int_equal(buf[0], SITX_REC_DATA);
    assert_memory_equal(buf + 1, payload, 1000);

    assert_int_equal(sitx_data_encode(payload, SITX_DATA_MAX + 1, buf, sizeof(buf), &len),
                     SITX_E_TOO_LARGE);
    assert_int_equal(sitx_data_encode(payload, 0, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    assert_int_equal(sitx_data_encode(payload, 10, buf, 10, &len), SITX_E_BUFFER);

    buf[0] = SITX_REC_DATA;
    expect_bad(buf, 1, SITX_E_MALFORMED, "DATA: no payload bytes");
    expect_bad(buf, SITX_RECORD_MAX + 1, SITX_E_TOO_LARGE,
               "record: 65520 bytes, over the limit of 65519");
}

static void test_end(void **state)
{
    struct sitx_end m;
    struct sitx_record rec;
    size_t len = 0;

    (void)state;
    fill(m.hash, sizeof(m.hash), 0x99);
    assert_int_equal(sitx_end_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 33);
    assert_int_equal(buf[0], SITX_REC_END);
    assert_memory_equal(buf + 1, m.hash, 32);
    expect_round_trip(buf, len, &rec);
    assert_memory_equal(rec.u.end.hash, m.hash, 32);
    expect_prefixes_truncated(buf, len);
    expect_buffer_checks(&rec, len);
    expect_bad(buf, 32, SITX_E_TRUNCATED, "END: record ends inside hash (needs 32 bytes, 31 left)");
    buf[33] = 0;
    expect_bad(buf, 34, SITX_E_TRAILING, "END: 1 byte after the last field");
}

static void test_result(void **state)
{
    struct sitx_result m = sample_result();
    struct sitx_record rec;
    size_t len = 0;
    size_t nl = strlen(m.name);

    (void)state;
    assert_int_equal(sitx_result_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 1 + 61 + 2 + nl + 2 + 6);
    assert_int_equal(buf[0], SITX_REC_RESULT);
    assert_memory_equal(buf + 1, m.id, 16);
    assert_int_equal(buf[17], SITX_ST_OK);
    assert_true(sitx_load_be64(buf + 18) == 4100000);
    assert_int_equal(sitx_load_be32(buf + 26), 37);
    assert_memory_equal(buf + 30, m.hash, 32);
    assert_int_equal(sitx_load_be16(buf + 62), nl);
    assert_memory_equal(buf + 64, m.name, nl);
    assert_int_equal(sitx_load_be16(buf + 64 + nl), 6);
    assert_memory_equal(buf + 66 + nl, "stored", 6);

    expect_round_trip(buf, len, &rec);
    assert_int_equal(rec.u.result.status, SITX_ST_OK);
    assert_true(rec.u.result.size == 4100000);
    assert_int_equal(rec.u.result.ms, 37);
    assert_string_equal(rec.u.result.name, m.name);
    assert_string_equal(rec.u.result.message, "stored");
    expect_prefixes_truncated(buf, len);
    expect_buffer_checks(&rec, len);

    /* Every failure status, with an empty message too. */
    for (uint8_t st = SITX_ST_TIMEOUT; st <= SITX_ST_SHUTTING_DOWN; st++) {
        struct sitx_result f = failed_result(st);

        if (st == SITX_ST_PROTOCOL) {
            f.message[0] = '\0';
        }
        assert_int_equal(sitx_result_encode(&f, buf, sizeof(buf), &len), 0);
        expect_round_trip(buf, len, &rec);
        assert_int_equal(rec.u.result.status, st);
        assert_string_equal(rec.u.result.message, f.message);
        assert_string_equal(rec.u.result.name, "");
    }
    /* ALREADY_STORED is a success: it names the file. */
    m.status = SITX_ST_ALREADY_STORED;
    assert_int_equal(sitx_result_encode(&m, buf, sizeof(buf), &len), 0);
    expect_round_trip(buf, len, &rec);
    assert_int_equal(rec.u.result.status, SITX_ST_ALREADY_STORED);
}

static void test_result_malformed(void **state)
{
    struct sitx_result m = sample_result();
    struct sitx_result f = failed_result(SITX_ST_TIMEOUT);
    size_t len = 0;
    size_t nl = strlen(m.name);

    (void)state;
    assert_int_equal(sitx_result_encode(&m, buf, sizeof(buf), &len), 0);
    buf[17] = 11;
    expect_bad(buf, len, SITX_E_MALFORMED, "RESULT: unknown status 11 in protocol version 1");
    buf[17] = SITX_ST_TIMEOUT;
    expect_bad(buf, len, SITX_E_MALFORMED, "RESULT: status TIMEOUT has a non-zero size");
    buf[17] = SITX_ST_OK;
    buf[len] = 'z';
    expect_bad(buf, len + 1, SITX_E_TRAILING, "RESULT: 1 byte after the last field");
    expect_bad(buf, 30, SITX_E_TRUNCATED,
               "RESULT: record ends inside hash (needs 32 bytes, 0 left)");
    expect_bad(buf, len - 1, SITX_E_TRUNCATED,
               "RESULT: message of 6 bytes runs past the end of the record (5 left)");
    sitx_store_be16(buf + 64 + nl, 300);
    expect_bad(buf, len, SITX_E_TOO_LARGE, "RESULT: message is 300 bytes, over the limit of 255");
    sitx_store_be16(buf + 64 + nl, 6);
    buf[66 + nl] = 0x1B;
    expect_bad(buf, len, SITX_E_BAD_UTF8, "RESULT: message contains control character U+001B");
    buf[66 + nl] = 0xED; /* a surrogate, U+D800 */
    buf[67 + nl] = 0xA0;
    buf[68 + nl] = 0x80;
    expect_bad(buf, len, SITX_E_BAD_UTF8, "RESULT: message is not valid UTF-8");

    /* A success without a name. */
    m.name[0] = '\0';
    assert_int_equal(sitx_result_encode(&m, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    m = sample_result();
    assert_int_equal(sitx_result_encode(&m, buf, sizeof(buf), &len), 0);
    sitx_store_be16(buf + 62, 0);
    memmove(buf + 64, buf + 64 + nl, 8);
    expect_bad(buf, len - nl, SITX_E_MALFORMED, "RESULT: status OK has no stored name");

    /* Failures that carry a hash or a name. */
    fill(f.hash, 1, 1);
    assert_int_equal(sitx_result_encode(&f, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    f = failed_result(SITX_ST_TIMEOUT);
    assert_int_equal(sitx_result_encode(&f, buf, sizeof(buf), &len), 0);
    buf[61] = 1;
    expect_bad(buf, len, SITX_E_MALFORMED, "RESULT: status TIMEOUT has a non-zero hash");
    strcpy(f.name, "x.png");
    assert_int_equal(sitx_result_encode(&f, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    f.name[0] = '\0';
    f.size = 1;
    assert_int_equal(sitx_result_encode(&f, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    f.size = 0;
    f.status = 200;
    assert_int_equal(sitx_result_encode(&f, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    f.status = SITX_ST_INTERNAL;
    memset(f.message, 'm', sizeof(f.message)); /* unterminated */
    assert_int_equal(sitx_result_encode(&f, buf, sizeof(buf), &len), SITX_E_TOO_LARGE);
    m = sample_result();
    strcpy(m.name, "tab\there.png");
    assert_int_equal(sitx_result_encode(&m, buf, sizeof(buf), &len), SITX_E_BAD_UTF8);
}

static void test_close(void **state)
{
    struct sitx_close m;
    struct sitx_record rec;
    size_t len = 0;

    (void)state;
    for (uint8_t reason = SITX_CLOSE_DONE; reason <= SITX_CLOSE_BUSY; reason++) {
        memset(&m, 0, sizeof(m));
        m.reason = reason;
        snprintf(m.message, sizeof(m.message), "reason %s", sitx_close_reason_name(reason));
        assert_int_equal(sitx_close_encode(&m, buf, sizeof(buf), &len), 0);
        assert_int_equal(len, 4 + strlen(m.message));
        assert_int_equal(buf[0], SITX_REC_CLOSE);
        assert_int_equal(buf[1], reason);
        expect_round_trip(buf, len, &rec);
        assert_int_equal(rec.u.close.reason, reason);
        assert_string_equal(rec.u.close.message, m.message);
    }
    expect_prefixes_truncated(buf, len);
    expect_buffer_checks(&rec, len);

    /* The shortest CLOSE: a reason and an empty message. */
    {
        const uint8_t in[] = {6, 0, 0, 0};

        expect_round_trip(in, sizeof(in), &rec);
        assert_string_equal(rec.u.close.message, "");
    }
    buf[1] = 6;
    expect_bad(buf, len, SITX_E_MALFORMED, "CLOSE: unknown reason 6");
    buf[1] = 0;
    expect_bad(buf, 3, SITX_E_TRUNCATED,
               "CLOSE: record ends inside message (needs 2 bytes, 1 left)");
    buf[len] = 0;
    expect_bad(buf, len + 1, SITX_E_TRAILING, "CLOSE: 1 byte after the last field");
    m.reason = 9;
    assert_int_equal(sitx_close_encode(&m, buf, sizeof(buf), &len), SITX_E_MALFORMED);
}

/* CANCEL (version 2): its bytes, both reasons, and every way to get it wrong. */
static void test_cancel(void **state)
{
    static const uint8_t want[] = {7,    0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
                                   0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0,    0,    3,
                                   'e',  'o',  'f'};
    struct sitx_cancel m;
    struct sitx_record rec;
    size_t len = 0;
    size_t out_len = 0;

    (void)state;
    memset(&m, 0, sizeof(m));
    memset(m.id, 0x21, sizeof(m.id));
    m.reason = SITX_CANCEL_LOCAL;
    strcpy(m.message, "eof");
    assert_int_equal(sitx_cancel_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(sitx_record_decode_v(buf, len, SITX_PROTO_V2, &rec, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(rec.type, SITX_REC_CANCEL);
    assert_memory_equal(rec.u.cancel.id, m.id, sizeof(m.id));
    assert_int_equal(rec.u.cancel.reason, SITX_CANCEL_LOCAL);
    assert_string_equal(rec.u.cancel.message, "eof");
    assert_int_equal(sitx_record_encode(&rec, buf2, sizeof(buf2), &out_len), 0);
    assert_int_equal(out_len, len);
    assert_memory_equal(buf2, buf, len);
    expect_buffer_checks(&rec, len);
    /* Every strict prefix is truncated. */
    for (size_t n = 1; n < len; n++) {
        assert_int_equal(sitx_record_decode_v(buf, n, SITX_PROTO_V2, &rec, why, sizeof(why)),
                         SITX_E_TRUNCATED);
    }
    expect_bad_v2(buf, 17, SITX_E_TRUNCATED,
                  "CANCEL: record ends inside reason (needs 1 bytes, 0 left)");
    /* Not a record of version 1: an unknown type there, whatever follows. */
    expect_bad(buf, len, SITX_E_UNKNOWN_TYPE, "unknown record type 0x07");
    m.reason = SITX_CANCEL_INTERRUPTED;
    m.message[0] = '\0';
    assert_int_equal(sitx_cancel_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 20);
    assert_int_equal(sitx_record_decode_v(buf, len, SITX_PROTO_V2, &rec, why, sizeof(why)), 0);
    assert_int_equal(rec.u.cancel.reason, SITX_CANCEL_INTERRUPTED);
    assert_string_equal(sitx_cancel_reason_name(SITX_CANCEL_INTERRUPTED), "INTERRUPTED");
    assert_string_equal(sitx_cancel_reason_name(SITX_CANCEL_LOCAL), "LOCAL");
    buf[17] = 2;
    expect_bad_v2(buf, len, SITX_E_MALFORMED, "CANCEL: unknown reason 2");
    buf[17] = 1;
    buf[len] = 0;
    expect_bad_v2(buf, len + 1, SITX_E_TRAILING, "CANCEL: 1 byte after the last field");
    buf[18] = 1; /* message length 256 */
    buf[19] = 0;
    expect_bad_v2(buf, len, SITX_E_TOO_LARGE, "CANCEL: message is 256 bytes, over the limit of 255");
    m.reason = 2;
    assert_int_equal(sitx_cancel_encode(&m, buf, sizeof(buf), &len), SITX_E_MALFORMED);
    m.reason = 0;
    strcpy(m.message, "tab\there");
    assert_int_equal(sitx_cancel_encode(&m, buf, sizeof(buf), &len), SITX_E_BAD_UTF8);
}

/* Status 11 CANCELLED exists in version 2 only, is a failure, and is not retried. */
static void test_result_cancelled(void **state)
{
    struct sitx_result f = failed_result(SITX_ST_CANCELLED);
    struct sitx_record rec;
    size_t len = 0;

    (void)state;
    assert_int_equal(sitx_result_encode(&f, buf, sizeof(buf), &len), 0);
    assert_int_equal(sitx_record_decode_v(buf, len, SITX_PROTO_V2, &rec, why, sizeof(why)), 0);
    assert_int_equal(rec.u.result.status, SITX_ST_CANCELLED);
    expect_bad(buf, len, SITX_E_MALFORMED, "RESULT: unknown status 11 in protocol version 1");
    buf[17] = 12;
    expect_bad_v2(buf, len, SITX_E_MALFORMED, "RESULT: unknown status 12 in protocol version 2");
    assert_string_equal(sitx_status_name(SITX_ST_CANCELLED), "CANCELLED");
    assert_false(sitx_status_retryable(SITX_ST_CANCELLED));
    assert_false(sitx_status_success(SITX_ST_CANCELLED));
    assert_false(sitx_status_valid(SITX_ST_CANCELLED));
    assert_true(sitx_status_valid_in(SITX_ST_CANCELLED, SITX_PROTO_V2));
    assert_false(sitx_status_valid_in(12, SITX_PROTO_V2));
    f.status = 12;
    assert_int_equal(sitx_result_encode(&f, buf, sizeof(buf), &len), SITX_E_MALFORMED);
}

static void test_unknown_and_empty(void **state)
{
    const uint8_t t0[] = {0x00, 1, 2};
    const uint8_t t7[] = {0x07};
    const uint8_t t9[] = {0x09, 0, 0};
    const uint8_t tff[] = {0xFF};
    struct sitx_record rec;

    (void)state;
    expect_bad(t0, 0, SITX_E_TRUNCATED, "record: empty (no type byte)");
    expect_bad(t0, sizeof(t0), SITX_E_UNKNOWN_TYPE, "unknown record type 0x00");
    expect_bad(t7, sizeof(t7), SITX_E_UNKNOWN_TYPE, "unknown record type 0x07");
    expect_bad(t9, sizeof(t9), SITX_E_UNKNOWN_TYPE, "unknown record type 0x09");
    expect_bad(tff, sizeof(tff), SITX_E_UNKNOWN_TYPE, "unknown record type 0xff");
    /* errstr is optional, and a short one is cut, not overrun. */
    assert_int_equal(sitx_record_decode(t9, sizeof(t9), &rec, NULL, 0), SITX_E_UNKNOWN_TYPE);
    memset(why, 'q', sizeof(why));
    assert_int_equal(sitx_record_decode(t9, sizeof(t9), &rec, why, 8), SITX_E_UNKNOWN_TYPE);
    assert_string_equal(why, "unknown");
    assert_int_equal(why[9], 'q');
    rec.type = 9;
    assert_int_equal(sitx_record_encode(&rec, buf, sizeof(buf), &(size_t){0}),
                     SITX_E_UNKNOWN_TYPE);
}

struct utf8_case {
    const char *bytes;
    size_t len;
    int valid;
};

#define U(s, v) {s, sizeof(s) - 1, v}

static void test_utf8(void **state)
{
    static const struct utf8_case cases[] = {
        U("", 1),
        U("plain ascii ~", 1),
        U("\xc2\xa0", 1),             /* U+00A0, first after C1 */
        U("\xc3\xa9", 1),             /* é */
        U("\xdf\xbf", 1),             /* U+07FF */
        U("\xe0\xa0\x80", 1),         /* U+0800 */
        U("\xe2\x82\xac", 1),         /* € */
        U("\xed\x9f\xbf", 1),         /* U+D7FF */
        U("\xee\x80\x80", 1),         /* U+E000 */
        U("\xef\xbf\xbd", 1),         /* U+FFFD */
        U("\xf0\x90\x80\x80", 1),     /* U+10000 */
        U("\xf0\x9d\x84\x9e", 1),     /* 𝄞 */
        U("\xf4\x8f\xbf\xbf", 1),     /* U+10FFFF */
        U("\x00", 0),                 /* NUL */
        U("a\x01", 0),                /* C0 */
        U("\x1f", 0),
        U("\x7f", 0),                 /* DEL */
        U("\xc2\x80", 0),             /* U+0080, C1 */
        U("\xc2\x9f", 0),             /* U+009F, C1 */
        U("\xc0\x80", 0),             /* overlong NUL */
        U("\xc1\xbf", 0),             /* overlong */
        U("\xe0\x80\x80", 0),         /* overlong */
        U("\xe0\x9f\xbf", 0),         /* overlong U+07FF */
        U("\xed\xa0\x80", 0),         /* U+D800 */
        U("\xed\xbf\xbf", 0),         /* U+DFFF */
        U("\xf0\x80\x80\x80", 0),     /* overlong */
        U("\xf0\x8f\xbf\xbf", 0),     /* overlong U+FFFF */
        U("\xf4\x90\x80\x80", 0),     /* U+110000 */
        U("\xf5\x80\x80\x80", 0),
        U("\xff", 0),
        U("\x80", 0),                 /* lone continuation */
        U("a\xbf", 0),
        U("\xe2\x82", 0),             /* truncated */
        U("\xf0\x9d\x84", 0),
        U("\xe2\x28\xa1", 0),         /* bad continuation */
        U("\xe2\x82\x28", 0),
        U("\xf0\x9d\x84\x28", 0),
        U("\xc3", 0),
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = sitx_utf8_valid((const uint8_t *)cases[i].bytes, cases[i].len);

        if (got != cases[i].valid) {
            fail_msg("case %zu: sitx_utf8_valid gave %d, expected %d", i, got, cases[i].valid);
        }
    }
}

static void test_names(void **state)
{
    static const char *const st[] = {
        "OK",        "ALREADY_STORED", "TIMEOUT",  "TOO_LARGE", "BAD_IMAGE",     "INTEGRITY",
        "DISK_FULL", "RATE_LIMITED",   "INTERNAL", "PROTOCOL",  "SHUTTING_DOWN",
    };
    static const int retry[] = {0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1};
    static const char *const cr[] = {"DONE", "UNAUTHORIZED", "PROTOCOL",
                                     "SHUTDOWN", "TIMEOUT", "BUSY"};
    static const char *const rt[] = {"OFFER", "ACCEPT", "DATA", "END", "RESULT", "CLOSE"};

    (void)state;
    for (uint8_t i = 0; i <= SITX_ST_SHUTTING_DOWN; i++) {
        assert_string_equal(sitx_status_name(i), st[i]);
        assert_int_equal(sitx_status_retryable(i), retry[i]);
        assert_true(sitx_status_valid(i));
        assert_int_equal(sitx_status_success(i), i <= SITX_ST_ALREADY_STORED);
    }
    assert_string_equal(sitx_status_name(11), "CANCELLED");
    assert_string_equal(sitx_status_name(12), "UNKNOWN");
    assert_false(sitx_status_retryable(11));
    assert_false(sitx_status_retryable(255));
    assert_false(sitx_status_valid(11));
    for (uint8_t i = 0; i <= SITX_CLOSE_BUSY; i++) {
        assert_string_equal(sitx_close_reason_name(i), cr[i]);
    }
    assert_string_equal(sitx_close_reason_name(6), "UNKNOWN");
    for (uint8_t i = 1; i <= SITX_REC_CLOSE; i++) {
        assert_string_equal(sitx_rec_type_name(i), rt[i - 1]);
    }
    assert_string_equal(sitx_rec_type_name(0), "UNKNOWN");
    assert_string_equal(sitx_rec_type_name(7), "CANCEL");
    assert_string_equal(sitx_rec_type_name(8), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer),
        cmocka_unit_test(test_offer_limits),
        cmocka_unit_test(test_offer_malformed),
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_accept_v2),
        cmocka_unit_test(test_data),
        cmocka_unit_test(test_end),
        cmocka_unit_test(test_result),
        cmocka_unit_test(test_result_malformed),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_result_cancelled),
        cmocka_unit_test(test_unknown_and_empty),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
