/* PROXY protocol v2 header parser: the fixed 16 bytes are judged one byte
 * at a time, so a stream that is not a v2 header fails at its first wrong
 * byte; the rest is bounded by the length field, which is checked against
 * SITX_PROXYHDR_MAX before a byte of it is taken. */
#include "proxyhdr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "err.h"

static const uint8_t v2_sig[SITX_PROXYHDR_SIG_LEN] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_sig[] = "PROXY";

#define FAM_TCP4 0x11
#define FAM_TCP6 0x21
#define ADDR_LEN_TCP4 12 /* 2 * 4 + 2 * 2 */
#define ADDR_LEN_TCP6 36 /* 2 * 16 + 2 * 2 */
#define TLV_HDR 3

void sitx_proxyhdr_init(struct sitx_proxyhdr *p)
{
    memset(p, 0, sizeof(*p));
}

static int fail(struct sitx_proxyhdr *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct sitx_proxyhdr *p, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->errstr, sizeof(p->errstr), fmt, ap);
    va_end(ap);
    p->err = code;
    return code;
}

uint32_t sitx_crc32c(const uint8_t *buf, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;

    /* Bitwise, reflected Castagnoli polynomial: headers are a few dozen
     * bytes, so a table buys nothing. */
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

/* Byte i of the signature has just arrived. A stream starting "PROXY" is
 * version 1 text, told apart so that the operator learns what to change. */
static int check_sig_byte(struct sitx_proxyhdr *p, size_t i)
{
    uint8_t b = p->buf[i];

    if (p->buf[0] == (uint8_t)v1_sig[0]) {
        if (b != (uint8_t)v1_sig[i]) {
            return fail(p, SITX_E_MALFORMED, "not a PROXY protocol header (byte %zu is 0x%02x)", i,
                        b);
        }
        if (i + 1 == sizeof(v1_sig) - 1) {
            return fail(p, SITX_E_VERSION,
                        "a PROXY protocol version 1 (text) header; only version 2 is accepted "
                        "(HAProxy: send-proxy-v2)");
        }
        return 0;
    }
    if (b != v2_sig[i]) {
        return fail(p, SITX_E_MALFORMED,
                    "not a PROXY protocol v2 header (byte %zu is 0x%02x, want 0x%02x)", i, b,
                    v2_sig[i]);
    }
    return 0;
}

static int check_ver_cmd(struct sitx_proxyhdr *p)
{
    uint8_t b = p->buf[12];

    if ((b >> 4) != 2) {
        return fail(p, SITX_E_VERSION, "PROXY protocol version %u; only version 2 is accepted",
                    (unsigned)(b >> 4));
    }
    if ((b & 0x0F) > SITX_PROXY_PROXY) {
        return fail(p, SITX_E_MALFORMED, "unknown PROXY protocol command 0x%x",
                    (unsigned)(b & 0x0F));
    }
    p->info.command = b & 0x0F;
    return 0;
}

/* For a relayed connection only TCP over IPv4 or IPv6 will do: the
 * receiver limits and logs by source address, which the others lack. A
 * LOCAL header's family is ignored, as the spec says. */
static int check_family(struct sitx_proxyhdr *p)
{
    uint8_t fam = p->buf[13];

    if (p->info.command == SITX_PROXY_LOCAL || fam == FAM_TCP4 || fam == FAM_TCP6) {
        return 0;
    }
    if ((fam >> 4) > 3 || (fam & 0x0F) > 2) {
        return fail(p, SITX_E_MALFORMED, "invalid address family and protocol 0x%02x", fam);
    }
    return fail(p, SITX_E_UNSUPPORTED,
                "relayed connection with family and protocol 0x%02x; only TCP over IPv4 (0x11) "
                "or IPv6 (0x21) is accepted",
                fam);
}

static int check_length(struct sitx_proxyhdr *p)
{
    size_t len = sitx_load_be16(p->buf + 14);
    size_t min = 0;

    if (SITX_PROXYHDR_FIXED + len > SITX_PROXYHDR_MAX) {
        return fail(p, SITX_E_TOO_LARGE,
                    "PROXY header of %zu bytes is over the limit of %d", SITX_PROXYHDR_FIXED + len,
                    SITX_PROXYHDR_MAX);
    }
    if (p->info.command == SITX_PROXY_PROXY) {
        min = p->buf[13] == FAM_TCP4 ? ADDR_LEN_TCP4 : ADDR_LEN_TCP6;
    }
    if (len < min) {
        return fail(p, SITX_E_MALFORMED,
                    "address block of %zu bytes is too short for TCP over %s (%zu bytes)", len,
                    p->buf[13] == FAM_TCP4 ? "IPv4" : "IPv6", min);
    }
    p->need = SITX_PROXYHDR_FIXED + len;
    return 0;
}

static int check_fixed_byte(struct sitx_proxyhdr *p, size_t i)
{
    if (i < SITX_PROXYHDR_SIG_LEN) {
        return check_sig_byte(p, i);
    }
    switch (i) {
    case 12:
        return check_ver_cmd(p);
    case 13:
        return check_family(p);
    case 14:
        return 0;
    default:
        return check_length(p);
    }
}

/* The TLVs after the addresses: each must fit in what is left; a CRC32C
 * one must be 4 bytes and match the header with its value zeroed. */
static int check_tlvs(struct sitx_proxyhdr *p, size_t off)
{
    while (off < p->need) {
        size_t left = p->need - off;
        uint8_t type;
        size_t vlen;

        if (left < TLV_HDR) {
            return fail(p, SITX_E_MALFORMED, "%zu byte(s) after the last TLV, too few for one",
                        left);
        }
        type = p->buf[off];
        vlen = sitx_load_be16(p->buf + off + 1);
        if (vlen > left - TLV_HDR) {
            return fail(p, SITX_E_MALFORMED,
                        "TLV type 0x%02x of %zu bytes runs past the header (%zu left)", type, vlen,
                        left - TLV_HDR);
        }
        if (type == SITX_PP2_TYPE_CRC32C) {
            uint8_t *v = p->buf + off + TLV_HDR;
            uint32_t want;

            if (vlen != 4) {
                return fail(p, SITX_E_MALFORMED, "CRC32C TLV of %zu bytes, want 4", vlen);
            }
            want = sitx_load_be32(v);
            memset(v, 0, 4);
            if (sitx_crc32c(p->buf, p->need) != want) {
                return fail(p, SITX_E_MALFORMED, "PROXY header CRC32C does not match");
            }
            sitx_store_be32(v, want);
            p->info.crc_checked = 1;
        }
        p->info.tlvs++;
        off += TLV_HDR + vlen;
    }
    return 0;
}

/* The whole header is in. */
static int finish(struct sitx_proxyhdr *p)
{
    struct sitx_proxy_info *in = &p->info;
    const uint8_t *a = p->buf + SITX_PROXYHDR_FIXED;
    size_t off;
    int rc;

    in->header_len = p->need;
    if (in->command == SITX_PROXY_LOCAL) {
        /* The proxy's own connection: the address block is skipped unread. */
        in->family = SITX_PROXY_AF_NONE;
        p->done = 1;
        return 1;
    }
    if (p->buf[13] == FAM_TCP4) {
        in->family = SITX_PROXY_AF_INET;
        memcpy(in->src, a, 4);
        memcpy(in->dst, a + 4, 4);
        in->src_port = sitx_load_be16(a + 8);
        in->dst_port = sitx_load_be16(a + 10);
        off = SITX_PROXYHDR_FIXED + ADDR_LEN_TCP4;
    } else {
        in->family = SITX_PROXY_AF_INET6;
        memcpy(in->src, a, 16);
        memcpy(in->dst, a + 16, 16);
        in->src_port = sitx_load_be16(a + 32);
        in->dst_port = sitx_load_be16(a + 34);
        off = SITX_PROXYHDR_FIXED + ADDR_LEN_TCP6;
    }
    rc = check_tlvs(p, off);
    if (rc != 0) {
        return rc;
    }
    p->done = 1;
    return 1;
}

int sitx_proxyhdr_feed(struct sitx_proxyhdr *p, const uint8_t *buf, size_t len, size_t *used)
{
    size_t take;
    int rc;

    *used = 0;
    if (p->err != 0) {
        return p->err;
    }
    while (!p->done && len > 0) {
        if (p->need == 0) {
            p->buf[p->have] = *buf;
            buf++;
            len--;
            (*used)++;
            rc = check_fixed_byte(p, p->have++);
            if (rc != 0) {
                return rc;
            }
            if (p->need != 0 && p->have == p->need) {
                return finish(p); /* a header with no address block */
            }
            continue;
        }
        take = p->need - p->have < len ? p->need - p->have : len;
        memcpy(p->buf + p->have, buf, take);
        p->have += take;
        buf += take;
        len -= take;
        *used += take;
        if (p->have == p->need) {
            return finish(p);
        }
    }
    return p->done ? 1 : 0;
}

const struct sitx_proxy_info *sitx_proxyhdr_info(const struct sitx_proxyhdr *p)
{
    return p->done ? &p->info : NULL;
}

int sitx_proxyhdr_err(const struct sitx_proxyhdr *p)
{
    return p->err;
}

const char *sitx_proxyhdr_errstr(const struct sitx_proxyhdr *p)
{
    return p->err != 0 ? p->errstr : "";
}

size_t sitx_proxyhdr_encode(const struct sitx_proxy_info *info, const uint8_t *tlvs,
                            size_t tlv_len, uint8_t *out, size_t cap)
{
    size_t alen = 0;
    size_t total;
    uint8_t fam = 0x00;
    uint8_t *a = out + SITX_PROXYHDR_FIXED;

    if (info->family == SITX_PROXY_AF_INET) {
        alen = ADDR_LEN_TCP4;
        fam = FAM_TCP4;
    } else if (info->family == SITX_PROXY_AF_INET6) {
        alen = ADDR_LEN_TCP6;
        fam = FAM_TCP6;
    }
    total = SITX_PROXYHDR_FIXED + alen + tlv_len;
    if (tlv_len > SITX_PROXYHDR_MAX || total > SITX_PROXYHDR_MAX || total > cap) {
        return 0;
    }
    memcpy(out, v2_sig, sizeof(v2_sig));
    out[12] = (uint8_t)(0x20 | (info->command & 0x0F));
    out[13] = fam;
    sitx_store_be16(out + 14, (uint16_t)(alen + tlv_len));
    if (info->family == SITX_PROXY_AF_INET) {
        memcpy(a, info->src, 4);
        memcpy(a + 4, info->dst, 4);
        sitx_store_be16(a + 8, info->src_port);
        sitx_store_be16(a + 10, info->dst_port);
    } else if (info->family == SITX_PROXY_AF_INET6) {
        memcpy(a, info->src, 16);
        memcpy(a + 16, info->dst, 16);
        sitx_store_be16(a + 32, info->src_port);
        sitx_store_be16(a + 34, info->dst_port);
    }
    if (tlv_len > 0) {
        memcpy(a + alen, tlvs, tlv_len);
    }
    return total;
}
