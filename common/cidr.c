/* CIDR ranges: parse with inet_pton, compare the prefix bit by bit. */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "opts.h"

#define CIDR_TEXT_MAX 64

static int bad(char *errstr, size_t errcap, const char *text, const char *why)
{
    if (errcap > 0) {
        snprintf(errstr, errcap, "`%.*s': %s", CIDR_TEXT_MAX, text, why);
    }
    return SITX_E_INVALID;
}

/* Parses "A.B.C.D" or an IPv6 address into out; family 4, 6 or 0. */
static int parse_addr(const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out) == 1) {
        return 4;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        return 6;
    }
    return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8;
    unsigned rest = bits % 8;

    if (memcmp(a, b, whole) != 0) {
        return 0;
    }
    if (rest == 0) {
        return 1;
    }
    return ((a[whole] ^ b[whole]) & (uint8_t)(0xFF << (8 - rest))) == 0;
}

int sitx_cidr_parse(const char *text, struct sitx_cidr *out, char *errstr, size_t errcap)
{
    char buf[CIDR_TEXT_MAX + 1];
    uint8_t cut[16];
    char *slash;
    uint64_t bits;
    unsigned max;
    int fam;

    if (strlen(text) > CIDR_TEXT_MAX) {
        return bad(errstr, errcap, text, "too long for an address range");
    }
    snprintf(buf, sizeof(buf), "%s", text);
    slash = strchr(buf, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    fam = parse_addr(buf, out->addr);
    if (fam == 0) {
        return bad(errstr, errcap, text, "not an IPv4 or IPv6 address");
    }
    max = fam == 4 ? 32 : 128;
    bits = max;
    if (slash != NULL && sitx_parse_uint(slash + 1, 0, max, &bits) != 0) {
        return bad(errstr, errcap, text,
                   fam == 4 ? "prefix length is not 0 to 32" : "prefix length is not 0 to 128");
    }
    /* Bits set past the prefix: compare the address with itself cut short. */
    memcpy(cut, out->addr, 16);
    for (unsigned i = (unsigned)bits; i < max; i++) {
        cut[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    }
    if (memcmp(cut, out->addr, 16) != 0) {
        return bad(errstr, errcap, text, "address has bits set past the prefix length");
    }
    out->family = (uint8_t)fam;
    out->bits = (uint8_t)bits;
    return 0;
}

int sitx_cidr_list_parse(const char *text, struct sitx_cidr *out, size_t cap, size_t *n,
                         char *errstr, size_t errcap)
{
    const char *p = text;
    char item[CIDR_TEXT_MAX + 2];
    int rc;

    *n = 0;
    for (;;) {
        size_t len = strcspn(p, ",");

        if (len == 0) {
            return bad(errstr, errcap, text, "empty entry in the list");
        }
        if (len > CIDR_TEXT_MAX) {
            return bad(errstr, errcap, text, "an entry is too long for an address range");
        }
        if (*n == cap) {
            if (errcap > 0) {
                snprintf(errstr, errcap, "more than %zu address ranges", cap);
            }
            return SITX_E_INVALID;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        rc = sitx_cidr_parse(item, &out[*n], errstr, errcap);
        if (rc != 0) {
            return rc;
        }
        (*n)++;
        if (p[len] == '\0') {
            return 0;
        }
        p += len + 1;
    }
}

int sitx_cidr_match(const struct sitx_cidr *list, size_t n, const char *ip)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    uint8_t a[16];
    int fam = parse_addr(ip, a);

    if (fam == 6 && memcmp(a, mapped, sizeof(mapped)) == 0) {
        memmove(a, a + 12, 4);
        memset(a + 4, 0, 12);
        fam = 4;
    }
    for (size_t i = 0; fam != 0 && i < n; i++) {
        if (list[i].family == fam && prefix_equal(list[i].addr, a, list[i].bits)) {
            return 1;
        }
    }
    return 0;
}
