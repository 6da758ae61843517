/* Names of the wire codes, their retry rule, and the UTF-8 check every
 * string field goes through. */
#include "msg.h"

bool sitx_status_retryable(uint8_t status)
{
    switch (status) {
    case SITX_ST_TIMEOUT:
    case SITX_ST_INTEGRITY:
    case SITX_ST_DISK_FULL:
    case SITX_ST_RATE_LIMITED:
    case SITX_ST_INTERNAL:
    case SITX_ST_SHUTTING_DOWN:
        return true;
    default:
        return false;
    }
}

const char *sitx_status_name(uint8_t status)
{
    switch (status) {
    case SITX_ST_OK:
        return "OK";
    case SITX_ST_ALREADY_STORED:
        return "ALREADY_STORED";
    case SITX_ST_TIMEOUT:
        return "TIMEOUT";
    case SITX_ST_TOO_LARGE:
        return "TOO_LARGE";
    case SITX_ST_BAD_IMAGE:
        return "BAD_IMAGE";
    case SITX_ST_INTEGRITY:
        return "INTEGRITY";
    case SITX_ST_DISK_FULL:
        return "DISK_FULL";
    case SITX_ST_RATE_LIMITED:
        return "RATE_LIMITED";
    case SITX_ST_INTERNAL:
        return "INTERNAL";
    case SITX_ST_PROTOCOL:
        return "PROTOCOL";
    case SITX_ST_SHUTTING_DOWN:
        return "SHUTTING_DOWN";
    case SITX_ST_CANCELLED:
        return "CANCELLED";
    default:
        return "UNKNOWN";
    }
}

bool sitx_status_valid(uint8_t status)
{
    return status <= SITX_ST_SHUTTING_DOWN;
}

bool sitx_status_valid_in(uint8_t status, unsigned version)
{
    return version >= 2 ? status <= SITX_ST_CANCELLED : sitx_status_valid(status);
}

const char *sitx_cancel_reason_name(uint8_t reason)
{
    switch (reason) {
    case SITX_CANCEL_LOCAL:
        return "LOCAL";
    case SITX_CANCEL_INTERRUPTED:
        return "INTERRUPTED";
    default:
        return "UNKNOWN";
    }
}

bool sitx_status_success(uint8_t status)
{
    return status == SITX_ST_OK || status == SITX_ST_ALREADY_STORED;
}

const char *sitx_close_reason_name(uint8_t reason)
{
    switch (reason) {
    case SITX_CLOSE_DONE:
        return "DONE";
    case SITX_CLOSE_UNAUTHORIZED:
        return "UNAUTHORIZED";
    case SITX_CLOSE_PROTOCOL:
        return "PROTOCOL";
    case SITX_CLOSE_SHUTDOWN:
        return "SHUTDOWN";
    case SITX_CLOSE_TIMEOUT:
        return "TIMEOUT";
    case SITX_CLOSE_BUSY:
        return "BUSY";
    default:
        return "UNKNOWN";
    }
}

/* Length of the sequence that lead byte c starts, with the range its
 * second byte must fall in (RFC 3629 table 2), or 0 for a byte that cannot
 * start a sequence (continuations, C0/C1 overlong leads, F5..FF). */
static int utf8_lead(uint8_t c, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        if (c == 0xC2) {
            *lo = 0xA0; /* C2 80..C2 9F are the C1 controls */
        }
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) {
            *lo = 0xA0; /* overlong below U+0800 */
        } else if (c == 0xED) {
            *hi = 0x9F; /* U+D800..U+DFFF are surrogates */
        }
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) {
            *lo = 0x90; /* overlong below U+10000 */
        } else if (c == 0xF4) {
            *hi = 0x8F; /* above U+10FFFF */
        }
        return 4;
    }
    return 0;
}

int sitx_utf8_valid(const uint8_t *buf, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = buf[i];
        uint8_t lo;
        uint8_t hi;
        int n;

        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F) {
                return 0; /* NUL, C0 controls, DEL */
            }
            i++;
            continue;
        }
        n = utf8_lead(c, &lo, &hi);
        if (n == 0 || len - i < (size_t)n) {
            return 0;
        }
        if (buf[i + 1] < lo || buf[i + 1] > hi) {
            return 0;
        }
        for (int k = 2; k < n; k++) {
            if (buf[i + k] < 0x80 || buf[i + k] > 0xBF) {
                return 0;
            }
        }
        i += (size_t)n;
    }
    return 1;
}
