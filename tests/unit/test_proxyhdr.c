/* The PROXY v2 header parser: headers HAProxy sends (TCP4, TCP6, LOCAL,
 * with TLVs and CRC32C), every malformed case refused with its code and
 * reason, any split of the stream, and errors that stick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "err.h"
#include "proxyhdr.h"

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* 192.0.2.7:51514 -> 198.51.100.9:7717, by hand, as the spec lays it out. */
static const uint8_t tcp4[] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, /* signature */
    0x21, 0x11, 0x00, 0x0C,                                                 /* v2 PROXY TCP4 12 */
    192,  0,    2,    7,    198,  51,   100,  9,                            /* src, dst */
    0xC9, 0x3A, 0x1E, 0x25,                                                 /* 51514, 7717 */
};

static struct sitx_proxy_info v6_info(void)
{
    struct sitx_proxy_info in;

    memset(&in, 0, sizeof(in));
    in.command = SITX_PROXY_PROXY;
    in.family = SITX_PROXY_AF_INET6;
    in.src[0] = 0x20;
    in.src[1] = 0x01;
    in.src[2] = 0x0d;
    in.src[3] = 0xb8;
    in.src[15] = 0x07;
    in.dst[15] = 0x01;
    in.src_port = 40000;
    in.dst_port = 7717;
    return in;
}

/* Feeds all of buf at once; returns the result, checks *used. */
static int feed_all(struct sitx_proxyhdr *p, const uint8_t *buf, size_t len, size_t *used)
{
    sitx_proxyhdr_init(p);
    return sitx_proxyhdr_feed(p, buf, len, used);
}

static void expect_bad(const uint8_t *buf, size_t len, int err, const char *reason)
{
    struct sitx_proxyhdr p;
    size_t used = 0;
    int rc = feed_all(&p, buf, len, &used);

    if (rc != err) {
        fail_msg("feed gave %d (\"%s\"), expected %d", rc, sitx_proxyhdr_errstr(&p), err);
    }
    assert_string_equal(sitx_proxyhdr_errstr(&p), reason);
    assert_int_equal(sitx_proxyhdr_err(&p), err);
    assert_null(sitx_proxyhdr_info(&p));
    /* Sticky: more bytes change nothing. */
    assert_int_equal(sitx_proxyhdr_feed(&p, tcp4, sizeof(tcp4), &used), err);
    assert_int_equal(used, 0);
    assert_string_equal(sitx_proxyhdr_errstr(&p), reason);

    /* The same verdict one byte at a time. */
    sitx_proxyhdr_init(&p);
    rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        rc = sitx_proxyhdr_feed(&p, buf + i, 1, &used);
    }
    assert_int_equal(rc, err);
    assert_string_equal(sitx_proxyhdr_errstr(&p), reason);
}

static void test_tcp4(void **state)
{
    struct sitx_proxyhdr p;
    const struct sitx_proxy_info *in;
    uint8_t buf[sizeof(tcp4) + 8];
    size_t used = 0;

    (void)state;
    /* Bytes after the header are the next protocol's: not taken. */
    memcpy(buf, tcp4, sizeof(tcp4));
    memcpy(buf + sizeof(tcp4), "SITXHELO", 8);
    assert_int_equal(feed_all(&p, buf, sizeof(buf), &used), 1);
    assert_int_equal(used, sizeof(tcp4));
    in = sitx_proxyhdr_info(&p);
    assert_non_null(in);
    assert_int_equal(in->command, SITX_PROXY_PROXY);
    assert_int_equal(in->family, SITX_PROXY_AF_INET);
    assert_memory_equal(in->src, ((const uint8_t[]){192, 0, 2, 7}), 4);
    assert_memory_equal(in->dst, ((const uint8_t[]){198, 51, 100, 9}), 4);
    assert_int_equal(in->src_port, 51514);
    assert_int_equal(in->dst_port, 7717);
    assert_int_equal(in->header_len, 28);
    assert_int_equal(in->tlvs, 0);
    assert_int_equal(sitx_proxyhdr_errstr(&p)[0], '\0');
    /* Done: more calls take nothing and still say complete. */
    assert_int_equal(sitx_proxyhdr_feed(&p, buf, sizeof(buf), &used), 1);
    assert_int_equal(used, 0);
}

static void test_tcp6_encode_roundtrip(void **state)
{
    struct sitx_proxy_info want = v6_info();
    struct sitx_proxyhdr p;
    const struct sitx_proxy_info *in;
    uint8_t buf[SITX_PROXYHDR_MAX];
    size_t used = 0;
    size_t len = sitx_proxyhdr_encode(&want, NULL, 0, buf, sizeof(buf));

    (void)state;
    assert_int_equal(len, 16 + 36);
    assert_memory_equal(buf, sig, 12);
    assert_int_equal(buf[12], 0x21);
    assert_int_equal(buf[13], 0x21);
    assert_int_equal(sitx_load_be16(buf + 14), 36);
    assert_int_equal(feed_all(&p, buf, len, &used), 1);
    assert_int_equal(used, len);
    in = sitx_proxyhdr_info(&p);
    assert_int_equal(in->family, SITX_PROXY_AF_INET6);
    assert_memory_equal(in->src, want.src, 16);
    assert_memory_equal(in->dst, want.dst, 16);
    assert_int_equal(in->src_port, 40000);
    assert_int_equal(in->dst_port, 7717);
}

static void test_local(void **state)
{
    struct sitx_proxy_info li;
    struct sitx_proxyhdr p;
    uint8_t buf[64];
    size_t used = 0;
    size_t len;

    (void)state;
    memset(&li, 0, sizeof(li));
    li.command = SITX_PROXY_LOCAL;
    len = sitx_proxyhdr_encode(&li, NULL, 0, buf, sizeof(buf));
    assert_int_equal(len, 16);
    assert_int_equal(buf[12], 0x20);
    assert_int_equal(feed_all(&p, buf, len, &used), 1);
    assert_int_equal(sitx_proxyhdr_info(&p)->command, SITX_PROXY_LOCAL);
    assert_int_equal(sitx_proxyhdr_info(&p)->family, SITX_PROXY_AF_NONE);

    /* LOCAL with an address block (and an odd family byte): the block is
     * skipped, as the spec says, and the family is ignored. */
    memcpy(buf, tcp4, sizeof(tcp4));
    buf[12] = 0x20;
    buf[13] = 0x31;
    assert_int_equal(feed_all(&p, buf, sizeof(tcp4), &used), 1);
    assert_int_equal(used, sizeof(tcp4));
    assert_int_equal(sitx_proxyhdr_info(&p)->family, SITX_PROXY_AF_NONE);
    assert_int_equal(sitx_proxyhdr_info(&p)->header_len, sizeof(tcp4));
}

static void test_tlvs_skipped(void **state)
{
    /* ALPN "sitx", NOOP of 0 bytes, a custom one of 5, UNIQUE_ID of 3. */
    static const uint8_t tlvs[] = {0x01, 0x00, 0x04, 's',  'i',  't',  'x',  0x04, 0x00,
                                   0x00, 0xE0, 0x00, 0x05, 1,    2,    3,    4,    5,
                                   0x05, 0x00, 0x03, 0xAA, 0xBB, 0xCC};
    struct sitx_proxy_info want = v6_info();
    struct sitx_proxyhdr p;
    uint8_t buf[SITX_PROXYHDR_MAX];
    size_t used = 0;
    size_t len = sitx_proxyhdr_encode(&want, tlvs, sizeof(tlvs), buf, sizeof(buf));

    (void)state;
    assert_int_equal(len, 16 + 36 + sizeof(tlvs));
    assert_int_equal(feed_all(&p, buf, len, &used), 1);
    assert_int_equal(sitx_proxyhdr_info(&p)->tlvs, 4);
    assert_int_equal(sitx_proxyhdr_info(&p)->crc_checked, 0);
    assert_int_equal(sitx_proxyhdr_info(&p)->src_port, 40000);
}

static void test_crc32c(void **state)
{
    uint8_t tlv[7] = {SITX_PP2_TYPE_CRC32C, 0x00, 0x04, 0, 0, 0, 0};
    struct sitx_proxy_info want = v6_info();
    struct sitx_proxyhdr p;
    uint8_t buf[SITX_PROXYHDR_MAX];
    size_t used = 0;
    size_t len;

    (void)state;
    /* The standard check value of CRC-32C. */
    assert_int_equal(sitx_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);

    len = sitx_proxyhdr_encode(&want, tlv, sizeof(tlv), buf, sizeof(buf));
    sitx_store_be32(buf + len - 4, sitx_crc32c(buf, len));
    assert_int_equal(feed_all(&p, buf, len, &used), 1);
    assert_int_equal(sitx_proxyhdr_info(&p)->crc_checked, 1);

    /* One address bit flipped: the checksum catches it. */
    buf[16 + 15] ^= 0x01;
    expect_bad(buf, len, SITX_E_MALFORMED, "PROXY header CRC32C does not match");

    /* A CRC32C TLV must hold exactly 4 bytes. */
    tlv[2] = 0x03;
    len = sitx_proxyhdr_encode(&want, tlv, 6, buf, sizeof(buf));
    expect_bad(buf, len, SITX_E_MALFORMED, "CRC32C TLV of 3 bytes, want 4");
}

static void test_bad_signature(void **state)
{
    uint8_t buf[sizeof(tcp4)];

    (void)state;
    /* What a sitx sender sends first when it reaches a proxy-protocol port directly. */
    expect_bad((const uint8_t *)"SITX\x01\x01\x00\x00", 8, SITX_E_MALFORMED,
               "not a PROXY protocol v2 header (byte 0 is 0x53, want 0x0d)");
    for (size_t i = 0; i < 12; i++) {
        char want[96];

        memcpy(buf, tcp4, sizeof(tcp4));
        buf[i] ^= 0x40;
        if (buf[0] == 'P') {
            continue; /* would start the v1 prefix; covered below */
        }
        snprintf(want, sizeof(want),
                 "not a PROXY protocol v2 header (byte %zu is 0x%02x, want 0x%02x)", i, buf[i],
                 sig[i]);
        expect_bad(buf, sizeof(buf), SITX_E_MALFORMED, want);
    }
}

static void test_v1_refused(void **state)
{
    static const char line[] = "PROXY TCP4 192.0.2.7 198.51.100.9 51514 7717\r\n";

    (void)state;
    expect_bad((const uint8_t *)line, sizeof(line) - 1, SITX_E_VERSION,
               "a PROXY protocol version 1 (text) header; only version 2 is accepted "
               "(HAProxy: send-proxy-v2)");
    expect_bad((const uint8_t *)"PROXZ", 5, SITX_E_MALFORMED,
               "not a PROXY protocol header (byte 4 is 0x5a)");
}

static void test_bad_version_command(void **state)
{
    uint8_t buf[sizeof(tcp4)];

    (void)state;
    memcpy(buf, tcp4, sizeof(tcp4));
    buf[12] = 0x11;
    expect_bad(buf, sizeof(buf), SITX_E_VERSION,
               "PROXY protocol version 1; only version 2 is accepted");
    buf[12] = 0x31;
    expect_bad(buf, sizeof(buf), SITX_E_VERSION,
               "PROXY protocol version 3; only version 2 is accepted");
    buf[12] = 0x22;
    expect_bad(buf, sizeof(buf), SITX_E_MALFORMED, "unknown PROXY protocol command 0x2");
    buf[12] = 0x2F;
    expect_bad(buf, sizeof(buf), SITX_E_MALFORMED, "unknown PROXY protocol command 0xf");
}

static void test_bad_family(void **state)
{
    static const struct {
        uint8_t fam;
        int err;
    } cases[] = {
        {0x00, SITX_E_UNSUPPORTED}, {0x12, SITX_E_UNSUPPORTED}, {0x22, SITX_E_UNSUPPORTED},
        {0x31, SITX_E_UNSUPPORTED}, {0x32, SITX_E_UNSUPPORTED}, {0x10, SITX_E_UNSUPPORTED},
        {0x41, SITX_E_MALFORMED},   {0x13, SITX_E_MALFORMED},   {0xFF, SITX_E_MALFORMED},
    };
    uint8_t buf[sizeof(tcp4)];

    (void)state;
    memcpy(buf, tcp4, sizeof(tcp4));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[160];

        buf[13] = cases[i].fam;
        if (cases[i].err == SITX_E_MALFORMED) {
            snprintf(want, sizeof(want), "invalid address family and protocol 0x%02x",
                     cases[i].fam);
        } else {
            snprintf(want, sizeof(want),
                     "relayed connection with family and protocol 0x%02x; only TCP over IPv4 "
                     "(0x11) or IPv6 (0x21) is accepted",
                     cases[i].fam);
        }
        expect_bad(buf, sizeof(buf), cases[i].err, want);
    }
}

static void test_bad_lengths(void **state)
{
    uint8_t buf[SITX_PROXYHDR_MAX + 16];
    struct sitx_proxyhdr p;
    size_t used = 0;

    (void)state;
    memcpy(buf, tcp4, sizeof(tcp4));
    /* An address block too short for its family. */
    sitx_store_be16(buf + 14, 11);
    expect_bad(buf, 16 + 11, SITX_E_MALFORMED,
               "address block of 11 bytes is too short for TCP over IPv4 (12 bytes)");
    buf[13] = 0x21;
    sitx_store_be16(buf + 14, 12);
    expect_bad(buf, 16 + 12, SITX_E_MALFORMED,
               "address block of 12 bytes is too short for TCP over IPv6 (36 bytes)");
    /* Over the cap: refused on the length field, before the bytes come. */
    buf[13] = 0x11;
    sitx_store_be16(buf + 14, SITX_PROXYHDR_MAX - 16 + 1);
    expect_bad(buf, 16, SITX_E_TOO_LARGE, "PROXY header of 537 bytes is over the limit of 536");
    sitx_store_be16(buf + 14, 0xFFFF);
    expect_bad(buf, 16, SITX_E_TOO_LARGE, "PROXY header of 65551 bytes is over the limit of 536");
    /* Exactly at the cap: accepted, as NOOP padding. */
    memset(buf + 28, 0, sizeof(buf) - 28);
    sitx_store_be16(buf + 14, SITX_PROXYHDR_MAX - 16);
    buf[28] = 0x04;
    sitx_store_be16(buf + 29, SITX_PROXYHDR_MAX - 28 - 3);
    assert_int_equal(feed_all(&p, buf, SITX_PROXYHDR_MAX, &used), 1);
    assert_int_equal(used, SITX_PROXYHDR_MAX);
}

static void test_bad_tlvs(void **state)
{
    struct sitx_proxy_info want = v6_info();
    uint8_t buf[SITX_PROXYHDR_MAX];
    size_t len;

    (void)state;
    /* Two stray bytes: too few for a TLV header. */
    len = sitx_proxyhdr_encode(&want, (const uint8_t[]){0x04, 0x00}, 2, buf, sizeof(buf));
    expect_bad(buf, len, SITX_E_MALFORMED, "2 byte(s) after the last TLV, too few for one");
    /* A TLV whose length runs one byte past the header. */
    len = sitx_proxyhdr_encode(&want, (const uint8_t[]){0x01, 0x00, 0x03, 'a', 'b'}, 5, buf,
                               sizeof(buf));
    expect_bad(buf, len, SITX_E_MALFORMED,
               "TLV type 0x01 of 3 bytes runs past the header (2 left)");
    /* A good TLV, then one announcing 64 KiB. */
    len = sitx_proxyhdr_encode(&want, (const uint8_t[]){0x04, 0x00, 0x00, 0x20, 0xFF, 0xFF}, 6,
                               buf, sizeof(buf));
    expect_bad(buf, len, SITX_E_MALFORMED,
               "TLV type 0x20 of 65535 bytes runs past the header (0 left)");
}

/* Every split of a header with TLVs and trailing bytes gives the same
 * result and takes exactly the header's bytes. */
static void test_every_split(void **state)
{
    static const uint8_t tlvs[] = {0x02, 0x00, 0x03, 'a', '.', 'b', 0x04, 0x00, 0x01, 0x00};
    struct sitx_proxy_info want = v6_info();
    uint8_t buf[SITX_PROXYHDR_MAX + 8];
    size_t len = sitx_proxyhdr_encode(&want, tlvs, sizeof(tlvs), buf, SITX_PROXYHDR_MAX);

    (void)state;
    memcpy(buf + len, "TRAILING", 8);
    for (size_t cut = 0; cut <= len + 8; cut++) {
        struct sitx_proxyhdr p;
        size_t used = 0;
        size_t taken;
        int rc;

        sitx_proxyhdr_init(&p);
        rc = sitx_proxyhdr_feed(&p, buf, cut, &used);
        taken = used;
        if (cut < len) {
            assert_int_equal(rc, 0);
            assert_int_equal(used, cut);
            rc = sitx_proxyhdr_feed(&p, buf + cut, len + 8 - cut, &used);
            taken += used;
        }
        assert_int_equal(rc, 1);
        assert_int_equal(taken, len);
        assert_memory_equal(sitx_proxyhdr_info(&p)->src, want.src, 16);
        assert_int_equal(sitx_proxyhdr_info(&p)->tlvs, 2);
    }
    /* One byte at a time: "need more" until the very last byte. */
    {
        struct sitx_proxyhdr p;
        size_t used = 0;

        sitx_proxyhdr_init(&p);
        for (size_t i = 0; i + 1 < len; i++) {
            assert_int_equal(sitx_proxyhdr_feed(&p, buf + i, 1, &used), 0);
            assert_int_equal(used, 1);
            assert_null(sitx_proxyhdr_info(&p));
        }
        assert_int_equal(sitx_proxyhdr_feed(&p, buf + len - 1, 9, &used), 1);
        assert_int_equal(used, 1);
    }
}

static void test_encode_limits(void **state)
{
    struct sitx_proxy_info want = v6_info();
    uint8_t big[SITX_PROXYHDR_MAX];
    uint8_t buf[SITX_PROXYHDR_MAX];

    (void)state;
    memset(big, 0, sizeof(big));
    assert_int_equal(sitx_proxyhdr_encode(&want, big, SITX_PROXYHDR_MAX - 52 + 1, buf, sizeof(buf)),
                     0);
    assert_int_equal(sitx_proxyhdr_encode(&want, NULL, 0, buf, 51), 0);
    assert_int_equal(sitx_proxyhdr_encode(&want, big, SITX_PROXYHDR_MAX - 52, buf, sizeof(buf)),
                     SITX_PROXYHDR_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp4),
        cmocka_unit_test(test_tcp6_encode_roundtrip),
        cmocka_unit_test(test_local),
        cmocka_unit_test(test_tlvs_skipped),
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_v1_refused),
        cmocka_unit_test(test_bad_version_command),
        cmocka_unit_test(test_bad_family),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_bad_tlvs),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_encode_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
