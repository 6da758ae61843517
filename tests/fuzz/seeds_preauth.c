/* Writes the seeds of fuzz_preauth into a directory: what a sender (and a
 * balancer in front of it) sends after the fixed greeting, made with a real
 * initiator and the target's fixed responder keys, so that the complete
 * seeds drive the responder to Split. The test fuzz_preauth_seeds compares
 * its output with corpus/preauth/, so the seeds stay valid as the
 * handshake code changes. Usage: seeds_preauth DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "greeting.h"
#include "handshake.h"
#include "proxyhdr.h"

#define FRAME_HDR 2

struct keys {
    uint8_t init_static[32];
    uint8_t init_eph[32];
    uint8_t resp_static[32]; /* as fuzz_preauth.c */
    uint8_t resp_eph[32];
    uint8_t psk[32];
};

static void fill(uint8_t k[32], uint8_t first)
{
    for (int i = 0; i < 32; i++) {
        k[i] = (uint8_t)(first + i);
    }
}

static void die(const char *what)
{
    fprintf(stderr, "seeds_preauth: %s\n", what);
    exit(1);
}

static size_t put_frame(uint8_t *out, const uint8_t *msg, size_t len)
{
    sitx_store_be16(out, (uint16_t)len);
    memcpy(out + FRAME_HDR, msg, len);
    return FRAME_HDR + len;
}

static void make_hs(struct sitx_hs **hs, enum sitx_hs_role role, int mode, const uint8_t *prologue,
                    const struct keys *k)
{
    struct sitx_hs_config cfg;
    int init = role == SITX_HS_INITIATOR;

    memset(&cfg, 0, sizeof(cfg));
    cfg.pattern = mode == SITX_AUTH_KEY ? SITX_HS_XX : SITX_HS_NNPSK0;
    cfg.role = role;
    cfg.prologue = prologue;
    cfg.prologue_len = SITX_PROLOGUE_LEN;
    if (mode == SITX_AUTH_KEY) {
        cfg.static_sk = init ? k->init_static : k->resp_static;
    } else {
        cfg.psk = k->psk;
    }
    cfg.fixed_ephemeral_sk = init ? k->init_eph : k->resp_eph;
    if (sitx_hs_new(hs, &cfg) != 0) {
        die("sitx_hs_new failed");
    }
}

/* HELLO and the sender's handshake frames into out; with full, every
 * message the sender writes (XX: 1 and 3), else message 1 only. */
static size_t sender(const uint8_t greeting[static SITX_GREETING_LEN], int mode, int full,
                     const struct keys *k, uint8_t *out)
{
    struct sitx_hello h = {SITX_PROTO_VERSION, (uint8_t)mode, 0};
    uint8_t prologue[SITX_PROLOGUE_LEN];
    uint8_t msg[512];
    uint8_t payload[64];
    struct sitx_hs *ini = NULL;
    struct sitx_hs *resp = NULL;
    size_t len = 0;
    size_t plen = 0;
    size_t n = SITX_HELLO_LEN;

    sitx_hello_encode(&h, out);
    sitx_prologue_build(greeting, out, prologue);
    make_hs(&ini, SITX_HS_INITIATOR, mode, prologue, k);
    make_hs(&resp, SITX_HS_RESPONDER, mode, prologue, k);
    while (sitx_hs_get_action(resp) != SITX_HS_SPLIT) {
        struct sitx_hs *from = sitx_hs_get_action(ini) == SITX_HS_WRITE_MESSAGE ? ini : resp;
        struct sitx_hs *to = from == ini ? resp : ini;

        if (sitx_hs_write_message(from, NULL, 0, msg, sizeof(msg), &len) != 0 ||
            sitx_hs_read_message(to, msg, len, payload, sizeof(payload), &plen) != 0) {
            die("the handshake failed");
        }
        if (from == ini) {
            n += put_frame(out + n, msg, len);
            if (!full) {
                break;
            }
        }
    }
    sitx_hs_free(ini);
    sitx_hs_free(resp);
    return n;
}

static void write_seed(const char *dir, const char *name, uint8_t flags, const uint8_t *buf,
                       size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fputc(flags, f) == EOF || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "seeds_preauth: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    struct sitx_greeting g;
    struct sitx_proxy_info pi;
    struct keys k;
    uint8_t greeting[SITX_GREETING_LEN];
    uint8_t buf[2048];
    uint8_t px[SITX_PROXYHDR_MAX];
    size_t n;
    size_t pn;

    if (argc != 2) {
        die("usage: seeds_preauth DIR");
    }
    if (sodium_init() < 0) {
        die("libsodium could not be initialised");
    }
    fill(k.init_static, 0x01);
    fill(k.init_eph, 0x41);
    fill(k.resp_static, 0x21);
    fill(k.resp_eph, 0x61);
    fill(k.psk, 0x81);
    /* fuzz_preauth.c's fixed_greeting(). */
    memset(&g, 0, sizeof(g));
    g.version = SITX_PROTO_VERSION;
    g.modes = SITX_AUTH_KEY | SITX_AUTH_PASSWORD;
    g.argon_ops = SITX_ARGON_OPS_MIN;
    g.argon_mem_kib = SITX_ARGON_MEM_KIB_MIN;
    memset(g.salt, 0x5a, sizeof(g.salt));
    sitx_greeting_encode(&g, greeting);

    /* Flags: bit 0 a PROXY header first, the rest seed the read sizes. */
    n = sender(greeting, SITX_AUTH_KEY, 1, &k, buf);
    write_seed(argv[1], "key-full", 0x00, buf, n);
    write_seed(argv[1], "key-full-chunked", 0x0e, buf, n);
    write_seed(argv[1], "no-proxy-header", 0x01, buf, n);
    buf[9] = 33; /* message 1 announced one byte longer */
    write_seed(argv[1], "key-msg1-wrong-size", 0x00, buf, n);
    n = sender(greeting, SITX_AUTH_KEY, 0, &k, buf);
    write_seed(argv[1], "key-msg1", 0x00, buf, n);
    buf[8] = 0;
    buf[9] = 0;
    write_seed(argv[1], "zero-frame", 0x00, buf, SITX_HELLO_LEN + FRAME_HDR);
    n = sender(greeting, SITX_AUTH_PASSWORD, 1, &k, buf);
    write_seed(argv[1], "password", 0x00, buf, n);
    write_seed(argv[1], "password-chunked", 0x22, buf, n);
    buf[20] ^= 1;
    write_seed(argv[1], "password-bad-tag", 0x00, buf, n);
    buf[20] ^= 1;
    buf[5] = 3; /* HELLO asks for both modes */
    write_seed(argv[1], "hello-bad-mode", 0x00, buf, n);

    memset(&pi, 0, sizeof(pi));
    pi.command = SITX_PROXY_PROXY;
    pi.family = SITX_PROXY_AF_INET;
    memcpy(pi.src, (const uint8_t[]){192, 0, 2, 7}, 4);
    memcpy(pi.dst, (const uint8_t[]){127, 0, 0, 1}, 4);
    pi.src_port = 51514;
    pi.dst_port = 7717;
    pn = sitx_proxyhdr_encode(&pi, NULL, 0, px, sizeof(px));
    memcpy(buf, px, pn);
    n = pn + sender(greeting, SITX_AUTH_KEY, 1, &k, buf + pn);
    write_seed(argv[1], "proxy-key-full", 0x01, buf, n);
    write_seed(argv[1], "proxy-key-chunked", 0x07, buf, n);
    memset(&pi, 0, sizeof(pi));
    pi.command = SITX_PROXY_LOCAL;
    pn = sitx_proxyhdr_encode(&pi, NULL, 0, px, sizeof(px));
    memcpy(buf, px, pn);
    n = pn + sender(greeting, SITX_AUTH_PASSWORD, 1, &k, buf + pn);
    write_seed(argv[1], "proxy-local-password", 0x01, buf, n);
    return 0;
}
