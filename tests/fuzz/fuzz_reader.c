/* Frame reader fed in chunks the input chooses, checked against a plain
 * one-pass parse of the same stream: the same frames in the same order,
 * the same error at the same frame, and nothing left over unaccounted.
 *
 * Input: [flags:u8][limit:u16 BE][stream...]. flags bit 0: exact limit;
 * the other bits seed the chunk sizes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 3

/* What the stream holds, parsed in one go: frame k starts at off[k]. */
struct model {
    size_t frames; /* whole frames before any error */
    int err;       /* error at frame number `frames`, or 0 */
    size_t used;   /* stream bytes in the whole frames */
};

static void parse_all(const uint8_t *s, size_t len, size_t limit, int exact, struct model *m)
{
    size_t pos = 0;

    memset(m, 0, sizeof(*m));
    while (len - pos >= 2) {
        size_t n = sitx_load_be16(s + pos);

        if (n > limit) {
            m->err = SITX_E_TOO_LARGE;
            break;
        }
        if (exact && n != 0 && n != limit) {
            m->err = SITX_E_MALFORMED;
            break;
        }
        if (len - pos - 2 < n) {
            break;
        }
        pos += 2 + n;
        m->frames++;
    }
    m->used = pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitx_reader *r = NULL;
    struct model m;
    const uint8_t *s;
    size_t len;
    size_t limit;
    int exact;
    uint32_t x;
    size_t fed = 0;
    size_t got = 0;
    size_t consumed = 0; /* stream bytes returned as frames, headers included */
    int err = 0;

    if (size < HDR) {
        return 0;
    }
    exact = data[0] & 1;
    x = 0x9E3779B9u ^ data[0];
    limit = sitx_load_be16(data + 1);
    s = data + HDR;
    len = size - HDR;
    parse_all(s, len, limit, exact, &m);

    r = sitx_reader_new(65535);
    if (r == NULL) {
        return 0;
    }
    sitx_reader_set_limit(r, limit, exact);
    while (fed < len && err == 0) {
        size_t n;
        uint8_t *f = NULL;
        size_t flen = 0;
        int rc;

        /* xorshift32 picks the next chunk: mostly small, now and then large. */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        n = (x & 7) == 0 ? 1 + x % 70000 : 1 + x % 9;
        if (n > len - fed) {
            n = len - fed;
        }
        if (sitx_reader_feed(r, s + fed, n) != 0) {
            abort();
        }
        fed += n;
        while ((rc = sitx_reader_next(r, &f, &flen)) == 1) {
            /* Each frame is the next one in the stream, in place. */
            if (got >= m.frames || sitx_load_be16(s + consumed) != flen ||
                memcmp(f, s + consumed + 2, flen) != 0) {
                abort();
            }
            memset(f, 0xA5, flen); /* callers decrypt in place */
            consumed += 2 + flen;
            got++;
        }
        if (rc < 0) {
            err = rc;
        }
    }
    if (err != 0) {
        /* The error comes where the one-pass parse stops, and it sticks. */
        if (err != m.err || got != m.frames || sitx_reader_err(r) != err ||
            sitx_reader_errstr(r)[0] == '\0' || sitx_reader_feed(r, s, 1) != err) {
            abort();
        }
    } else if (m.err != 0 || got != m.frames || consumed != m.used ||
               sitx_reader_pending(r) != len - m.used) {
        abort();
    }
    sitx_reader_free(r);
    return 0;
}
