#include "opts.h"

#include <string.h>

#include "err.h"

/* Parses the leading decimal digits of s into *v, checking for overflow;
 * *end points past them. At least one digit is required. */
static int parse_digits(const char *s, uint64_t *v, const char **end)
{
    uint64_t acc = 0;
    const char *p = s;

    if (s == NULL || *p < '0' || *p > '9') {
        return SITX_E_INVALID;
    }
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');

        if (acc > (UINT64_MAX - d) / 10) {
            return SITX_E_INVALID;
        }
        acc = acc * 10 + d;
        p++;
    }
    *v = acc;
    *end = p;
    return 0;
}

static int mul_checked(uint64_t v, uint64_t m, uint64_t *out)
{
    if (m != 0 && v > UINT64_MAX / m) {
        return SITX_E_INVALID;
    }
    *out = v * m;
    return 0;
}

int sitx_parse_size(const char *s, uint64_t *out)
{
    const char *end = NULL;
    uint64_t v = 0;
    uint64_t mult = 1;

    if (parse_digits(s, &v, &end) != 0) {
        return SITX_E_INVALID;
    }
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mult = 1024u;
        end++;
        break;
    case 'm':
    case 'M':
        mult = 1024u * 1024u;
        end++;
        break;
    case 'g':
    case 'G':
        mult = 1024u * 1024u * 1024u;
        end++;
        break;
    case 't':
    case 'T':
        mult = (uint64_t)1024u * 1024u * 1024u * 1024u;
        end++;
        break;
    default:
        return SITX_E_INVALID;
    }
    if (*end != '\0') {
        return SITX_E_INVALID;
    }
    return mul_checked(v, mult, out);
}

int sitx_parse_duration_ms(const char *s, uint64_t *out_ms)
{
    const char *end = NULL;
    uint64_t v = 0;
    uint64_t mult;

    if (parse_digits(s, &v, &end) != 0) {
        return SITX_E_INVALID;
    }
    /* A bare number is seconds, the unit people mean for timeouts. */
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0) {
        mult = 1000u;
    } else if (strcmp(end, "ms") == 0) {
        mult = 1u;
    } else if (strcmp(end, "m") == 0) {
        mult = 60u * 1000u;
    } else if (strcmp(end, "h") == 0) {
        mult = 60u * 60u * 1000u;
    } else {
        return SITX_E_INVALID;
    }
    return mul_checked(v, mult, out_ms);
}

int sitx_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *end = NULL;
    uint64_t v = 0;

    if (parse_digits(s, &v, &end) != 0 || *end != '\0' || v < min || v > max) {
        return SITX_E_INVALID;
    }
    *out = v;
    return 0;
}

static int host_char(char c, int bracketed)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return 1;
    }
    if (c == '.' || c == '-' || c == '_') {
        return 1;
    }
    /* IPv6 literals, with a zone ("fe80::1%eth0"). */
    return (c == ':' || c == '%') && bracketed;
}

static int copy_host(const char *s, size_t n, int bracketed, char host[static SITX_HOST_MAX])
{
    if (n == 0 || n >= SITX_HOST_MAX) {
        return SITX_E_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (!host_char(s[i], bracketed)) {
            return SITX_E_INVALID;
        }
    }
    memcpy(host, s, n);
    host[n] = '\0';
    return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
    uint64_t v = 0;

    if (sitx_parse_uint(s, 1, 65535, &v) != 0) {
        return SITX_E_INVALID;
    }
    *port = (uint16_t)v;
    return 0;
}

int sitx_parse_hostport(const char *s, uint16_t default_port, char host[static SITX_HOST_MAX],
                        uint16_t *port)
{
    const char *colon;
    char tmp[SITX_HOST_MAX];
    uint16_t p = default_port;
    int rc;

    if (s == NULL) {
        return SITX_E_INVALID;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL) {
            return SITX_E_INVALID;
        }
        rc = copy_host(s + 1, (size_t)(close - s - 1), 1, tmp);
        if (rc != 0) {
            return rc;
        }
        if (close[1] == ':') {
            rc = parse_port(close + 2, &p);
        } else if (close[1] != '\0') {
            rc = SITX_E_INVALID;
        }
    } else {
        colon = strchr(s, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            /* Several colons and no brackets: an IPv6 address without a port. */
            rc = copy_host(s, strlen(s), 1, tmp);
        } else if (colon != NULL) {
            rc = copy_host(s, (size_t)(colon - s), 0, tmp);
            if (rc == 0) {
                rc = parse_port(colon + 1, &p);
            }
        } else {
            rc = copy_host(s, strlen(s), 0, tmp);
        }
    }
    if (rc != 0) {
        return rc;
    }
    memcpy(host, tmp, strlen(tmp) + 1);
    *port = p;
    return 0;
}
