/* PROXY protocol version 2 header, as a load balancer (HAProxy's
 * send-proxy-v2) puts it before the first byte of the connection: a push
 * parser, like reader.c. Feed whatever the socket gave; it takes no byte
 * past the header, says "need more" until the header is whole, and keeps
 * its first error. Only the binary version 2 is accepted; a version 1 text
 * line is recognised and refused with a message that says so. */
#ifndef SITX_PROXYHDR_H
#define SITX_PROXYHDR_H

#include <stddef.h>
#include <stdint.h>

#define SITX_PROXYHDR_SIG_LEN 12
#define SITX_PROXYHDR_FIXED   16 /* signature, version/command, family, length */
/* The whole header may be at most this long: the spec's smallest TCP
 * segment (576 - 40), which every sender is meant to fit in. */
#define SITX_PROXYHDR_MAX 536

enum sitx_proxy_cmd {
    SITX_PROXY_LOCAL = 0, /* the proxy's own connection (health check) */
    SITX_PROXY_PROXY = 1, /* relayed: the header holds the real endpoints */
};

enum sitx_proxy_family {
    SITX_PROXY_AF_NONE = 0, /* no address: use the connection's own (LOCAL) */
    SITX_PROXY_AF_INET = 4,
    SITX_PROXY_AF_INET6 = 6,
};

/* TLV types the parser looks into; every other type is skipped. */
#define SITX_PP2_TYPE_CRC32C 0x03

struct sitx_proxy_info {
    uint8_t command;    /* enum sitx_proxy_cmd */
    uint8_t family;     /* enum sitx_proxy_family; NONE for LOCAL */
    uint8_t src[16];    /* network order; the first 4 bytes for IPv4 */
    uint8_t dst[16];
    uint16_t src_port;  /* host order */
    uint16_t dst_port;
    size_t header_len;  /* bytes the header took, 16 + its length field */
    unsigned tlvs;      /* TLVs seen (and skipped or checked) */
    int crc_checked;    /* a CRC32C TLV was present and matched */
};

struct sitx_proxyhdr {
    uint8_t buf[SITX_PROXYHDR_MAX];
    size_t have; /* bytes of the header taken so far */
    size_t need; /* 16 + length once the fixed part is in, else 0 */
    int done;
    int err;
    char errstr[128];
    struct sitx_proxy_info info;
};

/* Resets p for a new connection. */
void sitx_proxyhdr_init(struct sitx_proxyhdr *p);

/* Takes bytes of the stream's start. *used is set to how many bytes of buf
 * belong to the header (the rest is the protocol after it). Returns 1 when
 * the header is complete (see sitx_proxyhdr_info), 0 when more bytes are
 * needed, or a negative sticky error: SITX_E_MALFORMED (not a v2 header,
 * bad command, family or lengths, a truncated TLV, a CRC32C mismatch),
 * SITX_E_VERSION (v1 text or a version other than 2), SITX_E_TOO_LARGE
 * (over SITX_PROXYHDR_MAX), SITX_E_UNSUPPORTED (UDP or UNIX endpoints, or a
 * relayed connection without addresses). After 1, further calls return 1
 * and use nothing. */
int sitx_proxyhdr_feed(struct sitx_proxyhdr *p, const uint8_t *buf, size_t len, size_t *used);

/* The parsed header; NULL until sitx_proxyhdr_feed returned 1. */
const struct sitx_proxy_info *sitx_proxyhdr_info(const struct sitx_proxyhdr *p);

int sitx_proxyhdr_err(const struct sitx_proxyhdr *p);
const char *sitx_proxyhdr_errstr(const struct sitx_proxyhdr *p); /* "" when none */

/* Encodes a v2 header for tests and tools: command, family (AF_NONE gives
 * UNSPEC with no addresses), addresses and ports from info, then tlv_len
 * bytes of raw TLVs. Returns the length written, or 0 when cap is too small
 * or the header would pass SITX_PROXYHDR_MAX. */
size_t sitx_proxyhdr_encode(const struct sitx_proxy_info *info, const uint8_t *tlvs,
                            size_t tlv_len, uint8_t *out, size_t cap);

/* CRC32C (Castagnoli) of buf, as the CRC32C TLV carries it. */
uint32_t sitx_crc32c(const uint8_t *buf, size_t len);

#endif
