/* Handshake reads of untrusted bytes, with fixed keys: the input is message 1
 * to a responder, and message 2 to an initiator that has written message 1,
 * for XX, NNpsk0 and XXpsk3. A read either succeeds or leaves the state
 * FAILED for good; after a successful read the next write must work or fail
 * cleanly (a low-order e fails the responder's ee). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <sodium.h>

#include "err.h"
#include "handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed test keys: the seeds in corpus/handshake/ were made with them. */
static const uint8_t init_static[32] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
};
static const uint8_t resp_static[32] = {
    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30,
    0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40,
};
static const uint8_t init_eph[32] = {
    0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50,
    0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60,
};
static const uint8_t resp_eph[32] = {
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70,
    0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, 0x80,
};
static const uint8_t psk[32] = {
    0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90,
    0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0,
};
static const uint8_t prologue[] = "sitx fuzz prologue";

static uint8_t payload[SITX_NOISE_MAX_MSG];
static uint8_t out[SITX_NOISE_MAX_MSG];

static struct sitx_hs *make(enum sitx_hs_pattern pat, enum sitx_hs_role role)
{
    struct sitx_hs_config cfg = {0};
    struct sitx_hs *hs = NULL;
    int init = role == SITX_HS_INITIATOR;

    cfg.pattern = pat;
    cfg.role = role;
    cfg.prologue = prologue;
    cfg.prologue_len = sizeof(prologue);
    cfg.static_sk = init ? init_static : resp_static;
    cfg.psk = psk;
    cfg.fixed_ephemeral_sk = init ? init_eph : resp_eph;
    if (sitx_hs_new(&hs, &cfg) != 0) {
        abort();
    }
    return hs;
}

/* Reads msg, checks the state rules, and on success writes the reply. */
static void read_then_reply(struct sitx_hs *hs, const uint8_t *msg, size_t len)
{
    size_t need = sitx_hs_message_len(hs, 0);
    size_t plen = 1;
    int rc = sitx_hs_read_message(hs, msg, len, payload, sizeof(payload), &plen);

    if (rc != 0) {
        if (rc >= 0 || plen != 0 || sitx_hs_get_action(hs) != SITX_HS_FAILED) {
            abort();
        }
        /* Dead for good. */
        if (sitx_hs_read_message(hs, msg, len, payload, sizeof(payload), &plen) != SITX_E_STATE) {
            abort();
        }
        return;
    }
    if (len < need || plen != len - need) {
        abort();
    }
    if (sitx_hs_get_action(hs) == SITX_HS_WRITE_MESSAGE) {
        rc = sitx_hs_write_message(hs, NULL, 0, out, sizeof(out), &plen);
        if (rc != 0 && sitx_hs_get_action(hs) != SITX_HS_FAILED) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum sitx_hs_pattern pats[] = {SITX_HS_XX, SITX_HS_NNPSK0, SITX_HS_XXPSK3};

    /* One past the Noise limit is still tried; more adds nothing. */
    if (size > SITX_NOISE_MAX_MSG + 1 || sodium_init() < 0) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
        struct sitx_hs *resp = make(pats[i], SITX_HS_RESPONDER);
        struct sitx_hs *init = make(pats[i], SITX_HS_INITIATOR);
        size_t len = 0;

        read_then_reply(resp, data, size);

        if (sitx_hs_write_message(init, NULL, 0, out, sizeof(out), &len) != 0) {
            abort();
        }
        read_then_reply(init, data, size);
        sitx_hs_free(resp);
        sitx_hs_free(init);
    }
    return 0;
}
