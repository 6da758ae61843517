/* GREETING, HELLO and the Noise prologue (PROTOCOL.md §2-3). Both
 * messages are fixed-size and sent in clear, so the decoders accept exactly
 * one spelling of each: every reserved bit and byte must be zero, and the
 * Argon2id parameters must lie in the bounds a sender is willing to run. */
#include "greeting.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "err.h"

static const uint8_t magic[4] = {'S', 'I', 'T', 'X'};

#define ALL_MODES (SITX_AUTH_KEY | SITX_AUTH_PASSWORD)

static int fail(char *errstr, size_t errstr_len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *errstr, size_t errstr_len, int err, const char *fmt, ...)
{
    va_list ap;

    if (errstr != NULL && errstr_len > 0) {
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_len, fmt, ap);
        va_end(ap);
    }
    return err;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

void sitx_greeting_encode(const struct sitx_greeting *g, uint8_t out[static SITX_GREETING_LEN])
{
    memcpy(out, magic, sizeof(magic));
    out[4] = g->version;
    out[5] = g->modes;
    out[6] = 0;
    out[7] = 0;
    sitx_store_be32(out + 8, g->argon_ops);
    sitx_store_be32(out + 12, g->argon_mem_kib);
    memcpy(out + 16, g->salt, SITX_SALT_LEN);
}

int sitx_greeting_decode_err(const uint8_t in[static SITX_GREETING_LEN], struct sitx_greeting *g,
                             char *errstr, size_t errstr_len)
{
    memset(g, 0, sizeof(*g));
    if (errstr != NULL && errstr_len > 0) {
        errstr[0] = '\0';
    }
    if (memcmp(in, magic, sizeof(magic)) != 0) {
        return fail(errstr, errstr_len, SITX_E_MALFORMED,
                    "GREETING: bad magic %02x %02x %02x %02x (not a sitx receiver)", in[0], in[1],
                    in[2], in[3]);
    }
    g->version = in[4];
    g->modes = in[5];
    g->argon_ops = sitx_load_be32(in + 8);
    g->argon_mem_kib = sitx_load_be32(in + 12);
    memcpy(g->salt, in + 16, SITX_SALT_LEN);
    if (g->version != SITX_PROTO_VERSION) {
        return fail(errstr, errstr_len, SITX_E_VERSION,
                    "GREETING: receiver speaks protocol version %u, we speak %d", g->version,
                    SITX_PROTO_VERSION);
    }
    if (g->modes == 0 || (g->modes & ~ALL_MODES) != 0) {
        return fail(errstr, errstr_len, SITX_E_MALFORMED,
                    "GREETING: modes byte 0x%02x is not a non-empty set of 0x01 and 0x02",
                    g->modes);
    }
    if (in[6] != 0 || in[7] != 0) {
        return fail(errstr, errstr_len, SITX_E_MALFORMED,
                    "GREETING: reserved bytes are %02x %02x, not zero", in[6], in[7]);
    }
    if ((g->modes & SITX_AUTH_PASSWORD) == 0) {
        if (g->argon_ops != 0 || g->argon_mem_kib != 0 || !all_zero(g->salt, SITX_SALT_LEN)) {
            return fail(errstr, errstr_len, SITX_E_MALFORMED,
                        "GREETING: Argon2id fields are not zero without password mode");
        }
        return 0;
    }
    if (g->argon_ops < SITX_ARGON_OPS_MIN || g->argon_ops > SITX_ARGON_OPS_MAX) {
        return fail(errstr, errstr_len, SITX_E_MALFORMED,
                    "GREETING: argon_ops %lu is outside %d..%d", (unsigned long)g->argon_ops,
                    SITX_ARGON_OPS_MIN, SITX_ARGON_OPS_MAX);
    }
    if (g->argon_mem_kib < SITX_ARGON_MEM_KIB_MIN || g->argon_mem_kib > SITX_ARGON_MEM_KIB_MAX) {
        return fail(
            errstr, errstr_len, SITX_E_MALFORMED, "GREETING: argon_mem_kib %lu is outside %u..%u",
            (unsigned long)g->argon_mem_kib, SITX_ARGON_MEM_KIB_MIN, SITX_ARGON_MEM_KIB_MAX);
    }
    return 0;
}

int sitx_greeting_decode(const uint8_t in[static SITX_GREETING_LEN], struct sitx_greeting *g)
{
    return sitx_greeting_decode_err(in, g, NULL, 0);
}

void sitx_hello_encode(const struct sitx_hello *h, uint8_t out[static SITX_HELLO_LEN])
{
    memcpy(out, magic, sizeof(magic));
    out[4] = h->version;
    out[5] = h->mode;
    out[6] = h->flags;
    out[7] = 0;
}

int sitx_hello_decode_err(const uint8_t in[static SITX_HELLO_LEN], struct sitx_hello *h,
                          char *errstr, size_t errstr_len)
{
    memset(h, 0, sizeof(*h));
    if (errstr != NULL && errstr_len > 0) {
        errstr[0] = '\0';
    }
    if (memcmp(in, magic, sizeof(magic)) != 0) {
        return fail(errstr, errstr_len, SITX_E_MALFORMED,
                    "HELLO: bad magic %02x %02x %02x %02x (not a sitx sender)", in[0], in[1], in[2],
                    in[3]);
    }
    h->version = in[4];
    h->mode = in[5];
    if (h->version > SITX_PROTO_VERSION_MAX) {
        /* Checked before the other fields: a later version may spell them otherwise. */
        return fail(errstr, errstr_len, SITX_E_VERSION,
                    "HELLO: sender asks for protocol version %u, we speak 1..%d", h->version,
                    SITX_PROTO_VERSION_MAX);
    }
    if (h->version < SITX_PROTO_V1) {
        return fail(errstr, errstr_len, SITX_E_MALFORMED, "HELLO: protocol version 0 is not one");
    }
    if (h->mode != SITX_AUTH_KEY && h->mode != SITX_AUTH_PASSWORD) {
        return fail(errstr, errstr_len, SITX_E_MALFORMED,
                    "HELLO: mode 0x%02x is neither 1 (key) nor 2 (password)", h->mode);
    }
    if ((in[6] & ~SITX_HELLO_FLAG_PAIR) != 0 || in[7] != 0) {
        return fail(errstr, errstr_len, SITX_E_MALFORMED,
                    "HELLO: flags %02x or reserved byte %02x not understood", in[6], in[7]);
    }
    /* Pairing exchanges static keys, which only key mode has. */
    if ((in[6] & SITX_HELLO_FLAG_PAIR) != 0 && h->mode != SITX_AUTH_KEY) {
        return fail(errstr, errstr_len, SITX_E_MALFORMED,
                    "HELLO: pairing asked for in mode %u, not key mode", h->mode);
    }
    h->flags = in[6];
    return 0;
}

int sitx_hello_decode(const uint8_t in[static SITX_HELLO_LEN], struct sitx_hello *h)
{
    return sitx_hello_decode_err(in, h, NULL, 0);
}

void sitx_prologue_build(const uint8_t greeting[static SITX_GREETING_LEN],
                         const uint8_t hello[static SITX_HELLO_LEN], uint8_t *prologue)
{
    size_t label_len = sizeof(SITX_PROLOGUE_LABEL) - 1;

    memcpy(prologue, SITX_PROLOGUE_LABEL, label_len);
    memcpy(prologue + label_len, greeting, SITX_GREETING_LEN);
    memcpy(prologue + label_len + SITX_GREETING_LEN, hello, SITX_HELLO_LEN);
}
