/* The receiver's whole pre-authentication read path on one byte stream, as
 * receiver/input.c and greet.c take it: [flags:u8][stream]. Flags bit 0
 * says a PROXY v2 header comes first (--proxy-protocol); the other bits
 * seed the sizes of the reads. Then the 8-byte HELLO, checked against the
 * modes a fixed greeting offers (key and password); then frames through
 * the frame reader held to the exact size of the next handshake message,
 * read by a responder (XX with a fixed static key, NNpsk0 with a fixed
 * PSK) whose prologue binds that greeting and this HELLO; each accepted
 * message is answered, up to Split. fuzz_handshake covers the messages
 * alone; this target covers how they arrive and what lets them in. Any
 * refusal must leave a reason, and a dead handshake stays dead. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "cipher.h"
#include "err.h"
#include "greeting.h"
#include "handshake.h"
#include "proxyhdr.h"
#include "reader.h"
#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed keys: the seeds in corpus/preauth/ were made with them (see README). */
static const uint8_t resp_static[32] = {
    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30,
    0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40,
};
static const uint8_t resp_eph[32] = {
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70,
    0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, 0x80,
};
static const uint8_t psk[32] = {
    0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90,
    0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0,
};

/* Largest handshake message the responder writes (as greet.c's HS_MSG_MAX). */
#define HS_MSG_MAX 256

enum stage { ST_PROXY, ST_HELLO, ST_HANDSHAKE, ST_DONE, ST_REFUSED };

struct preauth {
    enum stage st;
    uint8_t greeting[SITX_GREETING_LEN];
    struct sitx_proxyhdr proxy;
    uint8_t hello[SITX_HELLO_LEN];
    size_t hello_len;
    struct sitx_reader *reader;
    struct sitx_hs *hs;
};

static void fixed_greeting(uint8_t out[static SITX_GREETING_LEN])
{
    struct sitx_greeting g;

    memset(&g, 0, sizeof(g));
    g.version = SITX_PROTO_VERSION;
    g.modes = SITX_AUTH_KEY | SITX_AUTH_PASSWORD;
    g.argon_ops = SITX_ARGON_OPS_MIN;
    g.argon_mem_kib = SITX_ARGON_MEM_KIB_MIN;
    memset(g.salt, 0x5a, sizeof(g.salt));
    sitx_greeting_encode(&g, out);
}

/* greet.c's advance(): write our messages, then expect the next one's exact size. */
static void advance(struct preauth *a)
{
    uint8_t msg[HS_MSG_MAX];
    size_t len = 0;

    for (;;) {
        switch (sitx_hs_get_action(a->hs)) {
        case SITX_HS_WRITE_MESSAGE:
            if (sitx_hs_write_message(a->hs, NULL, 0, msg, sizeof(msg), &len) != 0) {
                /* Only a bad key the peer sent (low-order e) may stop a write. */
                if (sitx_hs_get_action(a->hs) != SITX_HS_FAILED) {
                    abort();
                }
                a->st = ST_REFUSED;
                return;
            }
            if (len > HS_MSG_MAX) {
                abort();
            }
            break;
        case SITX_HS_READ_MESSAGE:
            len = sitx_hs_message_len(a->hs, 0);
            if (len == 0 || len > SITX_FRAME_MAX) {
                abort();
            }
            sitx_reader_set_limit(a->reader, len, 1);
            return;
        case SITX_HS_SPLIT: {
            struct sitx_cipher *tx = NULL;
            struct sitx_cipher *rx = NULL;

            if (sitx_hs_split(a->hs, &tx, &rx) != 0 || tx == NULL || rx == NULL) {
                abort();
            }
            sitx_cipher_free(tx);
            sitx_cipher_free(rx);
            a->st = ST_DONE;
            return;
        }
        case SITX_HS_FAILED:
        default:
            abort(); /* advance() is only called after a successful read */
        }
    }
}

/* greet_on_hello(): decode, check the mode, start the responder. */
static void on_hello(struct preauth *a)
{
    struct sitx_hs_config cfg;
    struct sitx_hello h;
    uint8_t prologue[SITX_PROLOGUE_LEN];
    char why[128] = "";

    if (sitx_hello_decode_err(a->hello, &h, why, sizeof(why)) != 0) {
        if (why[0] == '\0') {
            abort();
        }
        a->st = ST_REFUSED;
        return;
    }
    if (h.mode != SITX_AUTH_KEY && h.mode != SITX_AUTH_PASSWORD) {
        abort(); /* the decoder promises exactly one mode */
    }
    sitx_prologue_build(a->greeting, a->hello, prologue);
    memset(&cfg, 0, sizeof(cfg));
    cfg.pattern = h.mode == SITX_AUTH_KEY ? SITX_HS_XX : SITX_HS_NNPSK0;
    cfg.role = SITX_HS_RESPONDER;
    cfg.prologue = prologue;
    cfg.prologue_len = sizeof(prologue);
    cfg.static_sk = h.mode == SITX_AUTH_KEY ? resp_static : NULL;
    cfg.psk = h.mode == SITX_AUTH_PASSWORD ? psk : NULL;
    cfg.fixed_ephemeral_sk = resp_eph;
    if (sitx_hs_new(&a->hs, &cfg) != 0) {
        abort();
    }
    a->st = ST_HANDSHAKE;
    advance(a);
}

/* input.c's drain() with greet_on_frame(): whole frames to the handshake. */
static void drain(struct preauth *a)
{
    uint8_t payload[64];
    uint8_t *frame = NULL;
    size_t len = 0;
    size_t plen = 0;
    int rc;

    while (a->st == ST_HANDSHAKE) {
        size_t want = sitx_hs_message_len(a->hs, 0);

        rc = sitx_reader_next(a->reader, &frame, &len);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            if (sitx_reader_errstr(a->reader)[0] == '\0') {
                abort();
            }
            a->st = ST_REFUSED;
            return;
        }
        if (len == 0) {
            a->st = ST_REFUSED; /* an empty frame is the reader's to pass, greet.c's to refuse */
            return;
        }
        /* The exact limit: nothing but a message of the expected size gets here. */
        if (len != want) {
            abort();
        }
        rc = sitx_hs_read_message(a->hs, frame, len, payload, sizeof(payload), &plen);
        if (rc != 0) {
            if (rc >= 0 || sitx_hs_get_action(a->hs) != SITX_HS_FAILED) {
                abort();
            }
            a->st = ST_REFUSED;
            return;
        }
        if (plen != 0) {
            abort(); /* the size was exact for an empty payload */
        }
        advance(a);
    }
}

static void take(struct preauth *a, const uint8_t *p, size_t n)
{
    if (a->st == ST_PROXY) {
        size_t used = 0;
        int rc = sitx_proxyhdr_feed(&a->proxy, p, n, &used);

        if (rc < 0) {
            if (sitx_proxyhdr_errstr(&a->proxy)[0] == '\0') {
                abort();
            }
            a->st = ST_REFUSED;
            return;
        }
        p += used;
        n -= used;
        if (rc == 1) {
            a->st = ST_HELLO;
        }
    }
    if (a->st == ST_HELLO) {
        size_t t = SITX_HELLO_LEN - a->hello_len;

        t = t < n ? t : n;
        memcpy(a->hello + a->hello_len, p, t);
        a->hello_len += t;
        p += t;
        n -= t;
        if (a->hello_len == SITX_HELLO_LEN) {
            on_hello(a);
        }
    }
    if (a->st == ST_HANDSHAKE && n > 0) {
        if (sitx_reader_feed(a->reader, p, n) != 0) {
            a->st = ST_REFUSED;
            return;
        }
    }
    drain(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct preauth a;
    uint8_t payload[64];
    size_t plen = 0;
    unsigned seed;
    size_t off = 1;

    /* The handshake needs at most a few hundred bytes; more adds nothing. */
    if (size < 1 || size > 4096 || sodium_init() < 0) {
        return 0;
    }
    memset(&a, 0, sizeof(a));
    fixed_greeting(a.greeting);
    sitx_proxyhdr_init(&a.proxy);
    a.st = (data[0] & 1) ? ST_PROXY : ST_HELLO;
    seed = data[0] >> 1;
    a.reader = sitx_reader_new(SITX_FRAME_MAX);
    if (a.reader == NULL) {
        abort();
    }
    while (off < size && (a.st == ST_PROXY || a.st == ST_HELLO || a.st == ST_HANDSHAKE)) {
        size_t n = seed == 0 ? size - off : 1 + (seed % 97);

        seed = seed * 1103515245u + 12345u;
        if (n > size - off) {
            n = size - off;
        }
        take(&a, data + off, n);
        off += n;
    }
    if (a.st == ST_REFUSED && a.hs != NULL && sitx_hs_get_action(a.hs) == SITX_HS_FAILED &&
        sitx_hs_read_message(a.hs, data, size, payload, sizeof(payload), &plen) != SITX_E_STATE) {
        abort(); /* dead for good */
    }
    sitx_hs_free(a.hs);
    sitx_reader_free(a.reader);
    return 0;
}
