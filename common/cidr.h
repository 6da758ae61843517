/* Address ranges in CIDR notation ("10.0.0.0/8", "::1/128", or a bare
 * address for one host), as an operator lists trusted proxies. */
#ifndef SITX_CIDR_H
#define SITX_CIDR_H

#include <stddef.h>
#include <stdint.h>

/* Most ranges one list may hold. */
#define SITX_CIDR_LIST_MAX 32

struct sitx_cidr {
    uint8_t family; /* 4 or 6 */
    uint8_t bits;   /* prefix length: 0..32 or 0..128 */
    uint8_t addr[16];
};

/* Parses one range. Host bits past the prefix must be zero, so that a
 * mistyped range ("10.1.2.3/8") is refused rather than widened. Returns 0
 * or SITX_E_INVALID with a reason quoting the text in errstr. */
int sitx_cidr_parse(const char *text, struct sitx_cidr *out, char *errstr, size_t errcap);

/* Parses a comma-separated list into out[0..cap); *n is set to the count.
 * Returns 0 or SITX_E_INVALID (empty entry, bad range, more than cap). */
int sitx_cidr_list_parse(const char *text, struct sitx_cidr *out, size_t cap, size_t *n,
                         char *errstr, size_t errcap);

/* 1 when the numeric address ip ("192.0.2.7", "2001:db8::1") is inside one
 * of list[0..n), else 0 (also for text that is no address). An IPv4 range
 * also matches the v4-mapped IPv6 form ("::ffff:192.0.2.7"). */
int sitx_cidr_match(const struct sitx_cidr *list, size_t n, const char *ip);

#endif
