#include "pair.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "err.h"

static int fail(char *err, size_t err_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && err_len > 0) {
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* The text field's bounds for a type: REQUEST needs a name, DONE may be silent. */
static size_t text_max(uint8_t type)
{
    return type == SITX_PAIR_REQUEST ? SITX_PAIR_NAME_MAX : SITX_TEXT_MAX;
}

int sitx_pair_encode(const struct sitx_pair_msg *m, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strnlen(m->text, sizeof(m->text));
    size_t need;

    *len = 0;
    switch (m->type) {
    case SITX_PAIR_CONFIRM:
        if (m->value > 1) {
            return SITX_E_INVALID;
        }
        if (cap < 2) {
            return SITX_E_BUFFER;
        }
        out[0] = m->type;
        out[1] = m->value;
        *len = 2;
        return 0;
    case SITX_PAIR_REQUEST:
    case SITX_PAIR_DONE:
        break;
    default:
        return SITX_E_INVALID;
    }
    if (n > text_max(m->type) || (m->type == SITX_PAIR_REQUEST && n == 0) ||
        (m->type == SITX_PAIR_DONE && m->value > SITX_PAIR_STATUS_MAX) ||
        !sitx_utf8_valid((const uint8_t *)m->text, n)) {
        return SITX_E_INVALID;
    }
    need = (m->type == SITX_PAIR_DONE ? 2 : 1) + 2 + n;
    if (cap < need) {
        return SITX_E_BUFFER;
    }
    out[0] = m->type;
    if (m->type == SITX_PAIR_DONE) {
        out[1] = m->value;
    }
    sitx_store_be16(out + need - n - 2, (uint16_t)n);
    memcpy(out + need - n, m->text, n);
    *len = need;
    return 0;
}

int sitx_pair_decode(const uint8_t *in, size_t len, struct sitx_pair_msg *m, char *err,
                     size_t err_len)
{
    size_t pos = 1;
    size_t n;

    memset(m, 0, sizeof(*m));
    if (err != NULL && err_len > 0) {
        err[0] = '\0';
    }
    if (len == 0) {
        return fail(err, err_len, SITX_E_TRUNCATED, "empty pairing message");
    }
    m->type = in[0];
    switch (m->type) {
    case SITX_PAIR_CONFIRM:
        if (len < 2) {
            return fail(err, err_len, SITX_E_TRUNCATED, "CONFIRM has no answer");
        }
        if (len > 2) {
            return fail(err, err_len, SITX_E_TRAILING, "CONFIRM has %zu bytes after its answer",
                        len - 2);
        }
        if (in[1] > 1) {
            return fail(err, err_len, SITX_E_MALFORMED, "CONFIRM answer %u is neither 0 nor 1",
                        in[1]);
        }
        m->value = in[1];
        return 0;
    case SITX_PAIR_REQUEST:
        break;
    case SITX_PAIR_DONE:
        if (len < 2) {
            return fail(err, err_len, SITX_E_TRUNCATED, "DONE has no status");
        }
        if (in[1] > SITX_PAIR_STATUS_MAX) {
            return fail(err, err_len, SITX_E_MALFORMED, "DONE status %u is unknown", in[1]);
        }
        m->value = in[1];
        pos = 2;
        break;
    default:
        return fail(err, err_len, SITX_E_UNKNOWN_TYPE, "pairing message of type 0x%02x", m->type);
    }
    if (len - pos < 2) {
        return fail(err, err_len, SITX_E_TRUNCATED, "message ends inside a length");
    }
    n = sitx_load_be16(in + pos);
    pos += 2;
    if (n > text_max(m->type)) {
        return fail(err, err_len, SITX_E_TOO_LARGE, "text of %zu bytes, over the limit of %zu", n,
                    text_max(m->type));
    }
    if (len - pos < n) {
        return fail(err, err_len, SITX_E_TRUNCATED, "text of %zu bytes runs past the end", n);
    }
    if (len - pos > n) {
        return fail(err, err_len, SITX_E_TRAILING, "%zu bytes after the text", len - pos - n);
    }
    if (n == 0 && m->type == SITX_PAIR_REQUEST) {
        return fail(err, err_len, SITX_E_MALFORMED, "REQUEST has an empty name");
    }
    if (!sitx_utf8_valid(in + pos, n)) {
        return fail(err, err_len, SITX_E_BAD_UTF8, "text is not UTF-8 without control characters");
    }
    memcpy(m->text, in + pos, n);
    m->text[n] = '\0';
    return 0;
}

const char *sitx_pair_status_name(uint8_t status)
{
    switch (status) {
    case SITX_PAIR_PAIRED:
        return "paired";
    case SITX_PAIR_ALREADY:
        return "already-authorised";
    case SITX_PAIR_DECLINED:
        return "declined";
    case SITX_PAIR_TIMEOUT:
        return "timeout";
    case SITX_PAIR_FAILED:
        return "failed";
    default:
        return "unknown";
    }
}
