/* The PROXY v2 header parser on arbitrary bytes: [seed:u8][stream]. The
 * stream is fed whole, then in chunks whose sizes the seed picks, then one
 * byte at a time; all three must agree on the result, the error text and
 * the bytes taken. Errors stick, a failure has a reason, a header never
 * takes more than SITX_PROXYHDR_MAX bytes, and a relayed header re-encodes
 * to the very bytes it came from. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyhdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    int rc;
    size_t used;
    struct sitx_proxyhdr p;
};

/* Feeds stream in pieces of 1..max_chunk bytes (drawn from seed) until the
 * parser completes or fails, as a connection's reads would. */
static void run(const uint8_t *s, size_t len, unsigned seed, size_t max_chunk, struct outcome *o)
{
    size_t off = 0;

    sitx_proxyhdr_init(&o->p);
    o->rc = 0;
    o->used = 0;
    while (o->rc == 0 && off < len) {
        size_t n = max_chunk == 0 ? len - off : 1 + (seed % max_chunk);
        size_t used = 0;

        seed = seed * 1103515245u + 12345u;
        if (n > len - off) {
            n = len - off;
        }
        o->rc = sitx_proxyhdr_feed(&o->p, s + off, n, &used);
        if (used > n) {
            abort();
        }
        /* Need-more takes all it was given; a verdict may leave the rest. */
        if (o->rc == 0 && used != n) {
            abort();
        }
        o->used += used;
        off += used;
        if (o->rc != 0) {
            break;
        }
    }
}

static void same(const struct outcome *a, const struct outcome *b)
{
    if (a->rc != b->rc || strcmp(sitx_proxyhdr_errstr(&a->p), sitx_proxyhdr_errstr(&b->p)) != 0) {
        abort();
    }
    if (a->rc == 1) {
        const struct sitx_proxy_info *x = sitx_proxyhdr_info(&a->p);
        const struct sitx_proxy_info *y = sitx_proxyhdr_info(&b->p);

        if (a->used != b->used || x->command != y->command || x->family != y->family ||
            memcmp(x->src, y->src, 16) != 0 || memcmp(x->dst, y->dst, 16) != 0 ||
            x->src_port != y->src_port || x->dst_port != y->dst_port || x->tlvs != y->tlvs ||
            x->crc_checked != y->crc_checked) {
            abort();
        }
    }
}

static void check(const uint8_t *s, size_t len, struct outcome *o)
{
    const struct sitx_proxy_info *in = sitx_proxyhdr_info(&o->p);
    size_t used = 7;

    if (o->rc < 0) {
        if (sitx_proxyhdr_errstr(&o->p)[0] == '\0' || in != NULL ||
            sitx_proxyhdr_err(&o->p) != o->rc) {
            abort();
        }
        /* Sticky. */
        if (sitx_proxyhdr_feed(&o->p, s, len, &used) != o->rc || used != 0) {
            abort();
        }
        return;
    }
    if (o->rc == 0) {
        if (in != NULL || o->used != len || len >= SITX_PROXYHDR_MAX) {
            abort();
        }
        return;
    }
    if (in == NULL || in->header_len != o->used || o->used > SITX_PROXYHDR_MAX ||
        o->used < SITX_PROXYHDR_FIXED) {
        abort();
    }
    if (in->command == SITX_PROXY_PROXY) {
        uint8_t out[SITX_PROXYHDR_MAX];
        size_t alen = in->family == SITX_PROXY_AF_INET ? 12 : 36;
        size_t n;

        if (in->family != SITX_PROXY_AF_INET && in->family != SITX_PROXY_AF_INET6) {
            abort();
        }
        n = sitx_proxyhdr_encode(in, s + SITX_PROXYHDR_FIXED + alen,
                                 o->used - SITX_PROXYHDR_FIXED - alen, out, sizeof(out));
        if (n != o->used || memcmp(out, s, n) != 0) {
            abort();
        }
    } else if (in->command != SITX_PROXY_LOCAL || in->family != SITX_PROXY_AF_NONE) {
        abort();
    }
    /* Done: nothing more is taken. */
    if (sitx_proxyhdr_feed(&o->p, s, len, &used) != 1 || used != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct outcome whole;
    static struct outcome chunked;
    static struct outcome bytes;
    const uint8_t *s = data + 1;
    size_t len;
    unsigned seed;

    if (size < 1 || size > 2 * SITX_PROXYHDR_MAX) {
        return 0;
    }
    seed = data[0];
    len = size - 1;
    run(s, len, 0, 0, &whole);
    run(s, len, seed, 1 + (seed & 0x3F), &chunked);
    run(s, len, 0, 1, &bytes);
    same(&whole, &chunked);
    same(&whole, &bytes);
    check(s, len, &whole);
    return 0;
}
