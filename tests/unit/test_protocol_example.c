/* The worked example in proto/PROTOCOL.md (§11) is generated here and
 * compared with the document, byte for byte: every "```hex NAME" block in
 * the document must equal what our encoders, handshake and transport
 * produce for the example's inputs, and every block this test makes must be
 * in the document. Run with SITX_EXAMPLE_PRINT=1 to print the blocks.
 *
 * The document is found next to this file's source (via __FILE__), or at
 * $SITX_PROTOCOL_MD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "answer.h"
#include "bytes.h"
#include "err.h"
#include "greeting.h"
#include "handshake.h"
#include "hex.h"
#include "msg.h"
#include "record.h"
#include "seal.h"
#include "secmem.h"
#include "testutil.h"
#include "transport.h"

#define MAX_BLOCKS 64
#define BLOCK_MAX  512

struct block {
    char name[40];
    uint8_t bytes[BLOCK_MAX];
    size_t len;
};

struct blocks {
    struct block b[MAX_BLOCKS];
    size_t n;
};

static struct blocks made;   /* what the code produces */
static struct blocks in_doc; /* what PROTOCOL.md says */

/* ---- the example's inputs ---- */

static const uint8_t salt[SITX_SALT_LEN] = {0x3f, 0x1c, 0x8a, 0x52, 0xd4, 0x07, 0xe9, 0xb6,
                                            0x21, 0x5d, 0x90, 0xc3, 0x7a, 0x48, 0xee, 0x15};
static const char passphrase[] = "correct horse battery staple";
static const uint8_t transfer_id[SITX_TRANSFER_ID_BYTES] = {
    0x9b, 0x2e, 0x4f, 0x71, 0x0c, 0xd8, 0x35, 0xa6, 0xe1, 0x7b, 0x52, 0xc9, 0x08, 0xf3, 0x6d, 0x44};
/* A 1x1 red RGB PNG: the whole image travels in one DATA record. */
static const uint8_t red_dot[69] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00,
    0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0xf8, 0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0xf7, 0x03, 0x41,
    0x43, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
/* Ephemeral and static private keys of the cacophony test vectors, so the
 * example uses keys that are public test data, never real ones. */
static const char init_eph_hex[] =
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
static const char resp_eph_hex[] =
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
static const char init_static_hex[] =
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
static const char resp_static_hex[] =
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";

static void hex32(const char *hex, uint8_t out[32])
{
    uint8_t *b = NULL;
    size_t n = 0;

    assert_int_equal(tu_hex_decode(hex, &b, &n), 0);
    assert_int_equal(n, 32);
    memcpy(out, b, 32);
    free(b);
}

static void add(struct blocks *bs, const char *name, const uint8_t *bytes, size_t len)
{
    struct block *b;

    assert_true(bs->n < MAX_BLOCKS);
    assert_true(len <= BLOCK_MAX);
    assert_true(strlen(name) < sizeof(b->name));
    b = &bs->b[bs->n++];
    strcpy(b->name, name);
    memcpy(b->bytes, bytes, len);
    b->len = len;
}

static const struct block *find(const struct blocks *bs, const char *name)
{
    for (size_t i = 0; i < bs->n; i++) {
        if (strcmp(bs->b[i].name, name) == 0) {
            return &bs->b[i];
        }
    }
    return NULL;
}

/* ---- a handshake between two in-memory peers ---- */

struct session {
    struct sitx_hs *init;
    struct sitx_hs *resp;
    struct sitx_cipher *i_send, *i_recv, *r_send, *r_recv;
};

static void hs_pair(struct session *s, enum sitx_hs_pattern pat, const uint8_t *prologue,
                    size_t prologue_len, const uint8_t *psk, const uint8_t *i_static,
                    const uint8_t *r_static)
{
    struct sitx_hs_config ic = {0};
    struct sitx_hs_config rc = {0};
    uint8_t i_eph[32];
    uint8_t r_eph[32];

    hex32(init_eph_hex, i_eph);
    hex32(resp_eph_hex, r_eph);
    memset(s, 0, sizeof(*s));
    ic.pattern = rc.pattern = pat;
    ic.role = SITX_HS_INITIATOR;
    rc.role = SITX_HS_RESPONDER;
    ic.prologue = rc.prologue = prologue;
    ic.prologue_len = rc.prologue_len = prologue_len;
    ic.psk = rc.psk = psk;
    ic.static_sk = i_static;
    rc.static_sk = r_static;
    ic.fixed_ephemeral_sk = i_eph;
    rc.fixed_ephemeral_sk = r_eph;
    assert_int_equal(sitx_hs_new(&s->init, &ic), 0);
    assert_int_equal(sitx_hs_new(&s->resp, &rc), 0);
}

/* One handshake message from `from` to `to`, framed; adds "<name>" unless NULL. */
static void hs_step(struct sitx_hs *from, struct sitx_hs *to, size_t want_len, const char *name)
{
    uint8_t frame[2 + 256];
    uint8_t payload[64];
    size_t len = 0;
    size_t plen = 99;

    assert_int_equal(sitx_hs_get_action(from), SITX_HS_WRITE_MESSAGE);
    assert_int_equal(sitx_hs_get_action(to), SITX_HS_READ_MESSAGE);
    assert_int_equal(sitx_hs_message_len(from, 0), want_len);
    assert_int_equal(sitx_hs_message_len(to, 0), want_len);
    assert_int_equal(sitx_hs_write_message(from, NULL, 0, frame + 2, sizeof(frame) - 2, &len), 0);
    assert_int_equal(len, want_len);
    sitx_store_be16(frame, (uint16_t)len);
    assert_int_equal(sitx_hs_read_message(to, frame + 2, len, payload, sizeof(payload), &plen), 0);
    assert_int_equal(plen, 0);
    if (name != NULL) {
        add(&made, name, frame, 2 + len);
    }
}

static void hs_finish(struct session *s, const char *hash_name)
{
    uint8_t hi[SITX_HASHLEN];
    uint8_t hr[SITX_HASHLEN];

    assert_int_equal(sitx_hs_get_action(s->init), SITX_HS_SPLIT);
    assert_int_equal(sitx_hs_get_action(s->resp), SITX_HS_SPLIT);
    assert_int_equal(sitx_hs_handshake_hash(s->init, hi), 0);
    assert_int_equal(sitx_hs_handshake_hash(s->resp, hr), 0);
    assert_memory_equal(hi, hr, sizeof(hi));
    add(&made, hash_name, hi, sizeof(hi));
    assert_int_equal(sitx_hs_split(s->init, &s->i_send, &s->i_recv), 0);
    assert_int_equal(sitx_hs_split(s->resp, &s->r_send, &s->r_recv), 0);
}

static void session_free(struct session *s)
{
    sitx_hs_free(s->init);
    sitx_hs_free(s->resp);
    sitx_cipher_free(s->i_send);
    sitx_cipher_free(s->i_recv);
    sitx_cipher_free(s->r_send);
    sitx_cipher_free(s->r_recv);
}

/* Adds record plaintext "<name>" and its sealed frame "<name>-frame",
 * then opens the frame on the other side and checks it decodes to the
 * same bytes. */
static void seal_record_v(struct sitx_cipher *tx, struct sitx_cipher *rx, const char *name,
                          const uint8_t *rec, size_t rec_len, unsigned version)
{
    uint8_t frame[BLOCK_MAX];
    uint8_t back[BLOCK_MAX];
    char frame_name[40];
    size_t frame_len = 0;
    size_t back_len = 0;
    struct sitx_record dec;
    char why[128];

    add(&made, name, rec, rec_len);
    assert_int_equal(sitx_transport_seal(tx, rec, rec_len, frame, sizeof(frame), &frame_len), 0);
    assert_int_equal(frame_len, 2 + rec_len + SITX_TAG_LEN);
    assert_int_equal(sitx_load_be16(frame), rec_len + SITX_TAG_LEN);
    snprintf(frame_name, sizeof(frame_name), "%s-frame", name);
    add(&made, frame_name, frame, frame_len);
    assert_int_equal(
        sitx_transport_open(rx, frame + 2, frame_len - 2, back, sizeof(back), &back_len), 0);
    assert_int_equal(back_len, rec_len);
    assert_memory_equal(back, rec, rec_len);
    if (sitx_record_decode_v(back, back_len, version, &dec, why, sizeof(why)) != 0) {
        fail_msg("%s does not decode: %s", name, why);
    }
}

static void seal_record(struct sitx_cipher *tx, struct sitx_cipher *rx, const char *name,
                        const uint8_t *rec, size_t rec_len)
{
    seal_record_v(tx, rx, name, rec, rec_len, SITX_PROTO_V1);
}

/* Seals rec from tx to rx without a block: a record the example passes over. */
static void seal_quietly(struct sitx_cipher *tx, struct sitx_cipher *rx, const uint8_t *rec,
                         size_t rec_len)
{
    uint8_t frame[BLOCK_MAX];
    uint8_t back[BLOCK_MAX];
    size_t frame_len = 0;
    size_t back_len = 0;

    assert_int_equal(sitx_transport_seal(tx, rec, rec_len, frame, sizeof(frame), &frame_len), 0);
    assert_int_equal(
        sitx_transport_open(rx, frame + 2, frame_len - 2, back, sizeof(back), &back_len), 0);
}

static void make_password_example(void)
{
    struct sitx_greeting g = {0};
    struct sitx_hello h = {0};
    uint8_t gb[SITX_GREETING_LEN];
    uint8_t hb[SITX_HELLO_LEN];
    uint8_t prologue[SITX_PROLOGUE_LEN];
    uint8_t psk[32];
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    uint8_t rec[BLOCK_MAX];
    size_t len = 0;
    struct session s;
    struct sitx_offer offer = {0};
    struct sitx_accept accept = {0};
    struct sitx_end end = {0};
    struct sitx_close close_rec = {0};
    char msg[SITX_TEXT_MAX + 1];

    g.version = SITX_PROTO_VERSION;
    g.modes = SITX_AUTH_PASSWORD;
    g.argon_ops = 3;
    g.argon_mem_kib = 65536;
    memcpy(g.salt, salt, sizeof(salt));
    sitx_greeting_encode(&g, gb);
    assert_int_equal(sitx_greeting_decode(gb, &g), 0);
    add(&made, "greeting", gb, sizeof(gb));
    h.version = SITX_PROTO_VERSION;
    h.mode = SITX_AUTH_PASSWORD;
    sitx_hello_encode(&h, hb);
    assert_int_equal(sitx_hello_decode(hb, &h), 0);
    add(&made, "hello", hb, sizeof(hb));
    sitx_prologue_build(gb, hb, prologue);
    add(&made, "prologue", prologue, sizeof(prologue));

    /* Argon2id v1.3, one lane, as libsodium's crypto_pwhash computes it. */
    assert_int_equal(crypto_pwhash(psk, sizeof(psk), passphrase, strlen(passphrase), salt,
                                   g.argon_ops, (size_t)g.argon_mem_kib * 1024,
                                   crypto_pwhash_ALG_ARGON2ID13),
                     0);
    add(&made, "psk", psk, sizeof(psk));

    hs_pair(&s, SITX_HS_NNPSK0, prologue, sizeof(prologue), psk, NULL, NULL);
    hs_step(s.init, s.resp, 48, "nnpsk0-msg1-frame");
    hs_step(s.resp, s.init, 48, "nnpsk0-msg2-frame");
    hs_finish(&s, "nnpsk0-handshake-hash");

    crypto_generichash(hash, sizeof(hash), red_dot, sizeof(red_dot), NULL, 0);
    add(&made, "payload", red_dot, sizeof(red_dot));
    add(&made, "payload-hash", hash, sizeof(hash));

    memcpy(offer.id, transfer_id, sizeof(transfer_id));
    offer.format = SITX_FMT_PNG;
    offer.size = sizeof(red_dot);
    memcpy(offer.hash, hash, sizeof(hash));
    strcpy(offer.name, "red-dot.png");
    assert_int_equal(sitx_offer_encode(&offer, rec, sizeof(rec), &len), 0);
    seal_record(s.i_send, s.r_recv, "offer", rec, len);

    memcpy(accept.id, transfer_id, sizeof(transfer_id));
    assert_int_equal(sitx_accept_encode(&accept, rec, sizeof(rec), &len), 0);
    seal_record(s.r_send, s.i_recv, "accept", rec, len);

    assert_int_equal(sitx_data_encode(red_dot, sizeof(red_dot), rec, sizeof(rec), &len), 0);
    seal_record(s.i_send, s.r_recv, "data", rec, len);

    memcpy(end.hash, hash, sizeof(hash));
    assert_int_equal(sitx_end_encode(&end, rec, sizeof(rec), &len), 0);
    seal_record(s.i_send, s.r_recv, "end", rec, len);

    /* The receiver's own RESULT encoder, with the message the store job
     * leaves for a success (none). */
    assert_int_equal(answer_result(transfer_id, SITX_ST_OK, sizeof(red_dot), 42, hash,
                                   "red-dot.png", "", rec, sizeof(rec), &len),
                     0);
    seal_record(s.r_send, s.i_recv, "result", rec, len);

    close_rec.reason = SITX_CLOSE_DONE;
    assert_int_equal(sitx_close_encode(&close_rec, rec, sizeof(rec), &len), 0);
    seal_record(s.i_send, s.r_recv, "close", rec, len);

    /* A failure RESULT, as the receiver sends it when the default deadline
     * (10 s) passes: its size, hash and name are dropped. */
    answer_deadline_msg(10000, msg, sizeof(msg));
    assert_int_equal(answer_result(transfer_id, SITX_ST_TIMEOUT, sizeof(red_dot), 10000, hash,
                                   "red-dot.png", msg, rec, sizeof(rec), &len),
                     0);
    add(&made, "result-timeout", rec, len);

    session_free(&s);
}

static void make_key_example(void)
{
    struct sitx_greeting g = {0};
    struct sitx_hello h = {0};
    uint8_t gb[SITX_GREETING_LEN];
    uint8_t hb[SITX_HELLO_LEN];
    uint8_t prologue[SITX_PROLOGUE_LEN];
    uint8_t i_sk[32], r_sk[32], pk[32];
    uint8_t rec[BLOCK_MAX];
    size_t len = 0;
    struct session s;

    g.version = SITX_PROTO_VERSION;
    g.modes = SITX_AUTH_KEY;
    sitx_greeting_encode(&g, gb);
    assert_int_equal(sitx_greeting_decode(gb, &g), 0);
    add(&made, "xx-greeting", gb, sizeof(gb));
    h.version = SITX_PROTO_VERSION;
    h.mode = SITX_AUTH_KEY;
    sitx_hello_encode(&h, hb);
    add(&made, "xx-hello", hb, sizeof(hb));
    sitx_prologue_build(gb, hb, prologue);

    hex32(init_static_hex, i_sk);
    hex32(resp_static_hex, r_sk);
    crypto_scalarmult_base(pk, i_sk);
    add(&made, "xx-sender-static-public", pk, sizeof(pk));
    crypto_scalarmult_base(pk, r_sk);
    add(&made, "xx-receiver-static-public", pk, sizeof(pk));

    hs_pair(&s, SITX_HS_XX, prologue, sizeof(prologue), NULL, i_sk, r_sk);
    hs_step(s.init, s.resp, 32, "xx-msg1-frame");
    hs_step(s.resp, s.init, 96, "xx-msg2-frame");
    /* What the sender compares with its pinned key after message 2. */
    assert_int_equal(sitx_hs_remote_static(s.init, pk), 0);
    assert_memory_equal(pk, find(&made, "xx-receiver-static-public")->bytes, 32);
    hs_step(s.init, s.resp, 64, "xx-msg3-frame");
    assert_int_equal(sitx_hs_remote_static(s.resp, pk), 0);
    assert_memory_equal(pk, find(&made, "xx-sender-static-public")->bytes, 32);
    hs_finish(&s, "xx-handshake-hash");

    /* The receiver's first record when the sender is not authorised, from
     * the receiver's own encoder and text (receiver/greet.c). */
    assert_int_equal(
        answer_close(SITX_CLOSE_UNAUTHORIZED, ANSWER_MSG_UNAUTHORIZED, rec, sizeof(rec), &len), 0);
    seal_record(s.r_send, s.i_recv, "xx-close-unauthorized", rec, len);

    session_free(&s);
}

/* Version 2 in key mode: the HELLO asks for 2, which changes the prologue
 * and so every key after it; the sender offers red-dot.png (as in §12.3,
 * c1 n = 0), the receiver ACCEPTs at 0 (c2 n = 0), and the user presses
 * Ctrl-C: CANCEL INTERRUPTED, and the receiver's RESULT CANCELLED. */
static void make_v2_example(void)
{
    struct sitx_greeting g = {0};
    struct sitx_hello h = {0};
    uint8_t gb[SITX_GREETING_LEN];
    uint8_t hb[SITX_HELLO_LEN];
    uint8_t prologue[SITX_PROLOGUE_LEN];
    uint8_t i_sk[32], r_sk[32];
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    uint8_t rec[BLOCK_MAX];
    size_t len = 0;
    struct session s;
    struct sitx_offer offer = {0};
    struct sitx_accept accept = {0};
    struct sitx_cancel cancel = {0};
    struct sitx_record dec;
    char msg[SITX_TEXT_MAX + 1];

    g.version = SITX_PROTO_VERSION;
    g.modes = SITX_AUTH_KEY;
    sitx_greeting_encode(&g, gb);
    h.version = SITX_PROTO_V2;
    h.mode = SITX_AUTH_KEY;
    sitx_hello_encode(&h, hb);
    assert_int_equal(sitx_hello_decode(hb, &h), 0);
    assert_int_equal(h.version, SITX_PROTO_V2);
    add(&made, "v2-hello", hb, sizeof(hb));
    sitx_prologue_build(gb, hb, prologue);
    add(&made, "v2-prologue", prologue, sizeof(prologue));

    hex32(init_static_hex, i_sk);
    hex32(resp_static_hex, r_sk);
    hs_pair(&s, SITX_HS_XX, prologue, sizeof(prologue), NULL, i_sk, r_sk);
    hs_step(s.init, s.resp, 32, NULL); /* e alone: the prologue is not in it yet */
    hs_step(s.resp, s.init, 96, "v2-xx-msg2-frame");
    hs_step(s.init, s.resp, 64, NULL);
    hs_finish(&s, "v2-xx-handshake-hash");

    crypto_generichash(hash, sizeof(hash), red_dot, sizeof(red_dot), NULL, 0);
    memcpy(offer.id, transfer_id, sizeof(transfer_id));
    offer.format = SITX_FMT_PNG;
    offer.size = sizeof(red_dot);
    memcpy(offer.hash, hash, sizeof(hash));
    strcpy(offer.name, "red-dot.png");
    assert_int_equal(sitx_offer_encode(&offer, rec, sizeof(rec), &len), 0);
    seal_quietly(s.i_send, s.r_recv, rec, len);
    memcpy(accept.id, transfer_id, sizeof(transfer_id));
    assert_int_equal(sitx_accept_encode_v(&accept, SITX_PROTO_V2, rec, sizeof(rec), &len), 0);
    seal_quietly(s.r_send, s.i_recv, rec, len);

    /* The sender's text, as sender/send_conn.c sends it on Ctrl-C. */
    memcpy(cancel.id, transfer_id, sizeof(transfer_id));
    cancel.reason = SITX_CANCEL_INTERRUPTED;
    strcpy(cancel.message, "interrupted by the user");
    assert_int_equal(sitx_cancel_encode(&cancel, rec, sizeof(rec), &len), 0);
    seal_record_v(s.i_send, s.r_recv, "v2-cancel", rec, len, SITX_PROTO_V2);

    /* The receiver's answer, from its own text and encoder. */
    answer_cancel_msg(&cancel, msg, sizeof(msg));
    assert_int_equal(answer_result(transfer_id, SITX_ST_CANCELLED, sizeof(red_dot), 7, hash,
                                   "red-dot.png", msg, rec, sizeof(rec), &len),
                     0);
    seal_record_v(s.r_send, s.i_recv, "v2-result-cancelled", rec, len, SITX_PROTO_V2);
    /* Version 1 knows neither. */
    assert_int_not_equal(sitx_record_decode(find(&made, "v2-cancel")->bytes,
                                            find(&made, "v2-cancel")->len, &dec, NULL, 0),
                         0);
    assert_int_not_equal(sitx_record_decode(find(&made, "v2-result-cancelled")->bytes,
                                            find(&made, "v2-result-cancelled")->len, &dec, NULL, 0),
                         0);

    session_free(&s);
}

/* ---- reading the document ---- */

/* Parses one line of a hex block into b: byte pairs separated by blanks,
 * with anything from '#' on a comment. */
static void parse_hex_line(const char *line, size_t line_len, struct block *b, int lineno)
{
    size_t i = 0;

    while (i < line_len && line[i] != '#') {
        int hi;
        int lo;

        if (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
            i++;
            continue;
        }
        hi = sitx_hexval((unsigned char)line[i]);
        lo = i + 1 < line_len ? sitx_hexval((unsigned char)line[i + 1]) : -1;
        if (hi < 0 || lo < 0) {
            fail_msg("PROTOCOL.md line %d: block %s: not a hex byte at column %zu", lineno, b->name,
                     i + 1);
        }
        if (b->len >= BLOCK_MAX) {
            fail_msg("PROTOCOL.md: block %s is longer than %d bytes", b->name, BLOCK_MAX);
        }
        b->bytes[b->len++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
}

static char *doc_path(void)
{
    static char path[4096];
    const char *env = getenv("SITX_PROTOCOL_MD");
    const char *here = __FILE__;
    const char *cut = strstr(here, "tests/unit/test_protocol_example.c");

    if (env != NULL && env[0] != '\0') {
        snprintf(path, sizeof(path), "%s", env);
        return path;
    }
    if (cut == NULL) {
        fail_msg("cannot locate the source tree from __FILE__ (%s); set SITX_PROTOCOL_MD", here);
    }
    snprintf(path, sizeof(path), "%.*sproto/PROTOCOL.md", (int)(cut - here), here);
    return path;
}

static void read_doc(void)
{
    const char *path = doc_path();
    uint8_t *text = NULL;
    size_t len = 0;
    const char *p;
    const char *end;
    struct block *cur = NULL;
    int lineno = 0;
    int rc = tu_read_file(path, &text, &len);

    if (rc != 0) {
        fail_msg("cannot read %s: %s", path, sitx_strerror(rc));
    }
    p = (const char *)text;
    end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

        lineno++;
        if (cur == NULL && n > 7 && strncmp(p, "```hex ", 7) == 0) {
            size_t name_len = n - 7;

            assert_true(in_doc.n < MAX_BLOCKS);
            cur = &in_doc.b[in_doc.n++];
            memset(cur, 0, sizeof(*cur));
            if (name_len >= sizeof(cur->name)) {
                fail_msg("PROTOCOL.md line %d: block name too long", lineno);
            }
            memcpy(cur->name, p + 7, name_len);
            if (find(&in_doc, cur->name) != cur) {
                fail_msg("PROTOCOL.md line %d: block %s appears twice", lineno, cur->name);
            }
        } else if (cur != NULL && n >= 3 && strncmp(p, "```", 3) == 0) {
            cur = NULL;
        } else if (cur != NULL) {
            parse_hex_line(p, n, cur, lineno);
        }
        p += n + 1;
    }
    free(text);
    if (cur != NULL) {
        fail_msg("PROTOCOL.md: block %s is not closed", cur->name);
    }
}

static void print_block(FILE *f, const struct block *b)
{
    fprintf(f, "```hex %s\n", b->name);
    for (size_t i = 0; i < b->len; i++) {
        fprintf(f, "%02x%s", b->bytes[i], (i % 16 == 15 || i + 1 == b->len) ? "\n" : " ");
    }
    fprintf(f, "```\n");
}

/* ---- §14: sealed files ---- */

/* Opens file with the reader and checks it yields red_dot. */
static void open_sealed(const struct sitx_buf *file, const uint8_t *sk, const uint8_t *psk)
{
    struct sitx_seal_reader *r = NULL;
    struct sitx_seal_event ev;
    struct sitx_buf got;
    int done = 0;
    int rc;

    sitx_buf_init(&got);
    assert_int_equal(sitx_seal_reader_new(&r, 1u << 20), 0);
    assert_int_equal(sitx_seal_reader_feed(r, file->data, file->len), 0);
    while ((rc = sitx_seal_reader_next(r, &ev)) == 1) {
        if (ev.type == SITX_SEAL_EV_HEADER) {
            assert_int_equal(psk != NULL ? sitx_seal_reader_set_psk(r, psk)
                                         : sitx_seal_reader_set_key(r, sk),
                             0);
        } else if (ev.type == SITX_SEAL_EV_OFFER) {
            assert_string_equal(ev.offer.name, "red-dot.png");
        } else if (ev.type == SITX_SEAL_EV_DATA) {
            assert_int_equal(sitx_buf_append(&got, ev.data, ev.len), 0);
        } else if (ev.type == SITX_SEAL_EV_DONE) {
            done = 1;
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(sitx_seal_reader_finish(r), 0);
    assert_int_equal(done, 1);
    assert_int_equal(got.len, sizeof(red_dot));
    assert_memory_equal(got.data, red_dot, sizeof(red_dot));
    sitx_seal_reader_free(r);
    sitx_buf_clear(&got);
}

/* The frame at *off (length prefix included), added as "<name>". */
static void add_frame(const struct sitx_buf *file, size_t *off, const char *name)
{
    size_t len;

    assert_true(*off + 2 <= file->len);
    len = 2 + (size_t)sitx_load_be16(file->data + *off);
    assert_true(*off + len <= file->len);
    add(&made, name, file->data + *off, len);
    *off += len;
}

static void make_seal_example(void)
{
    struct sitx_seal_params p;
    struct sitx_buf file;
    uint8_t i_sk[32];
    uint8_t r_sk[32];
    uint8_t r_pk[32];
    uint8_t eph[32];
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    uint8_t pw_sk[32];
    uint8_t pw_pk[32];
    const struct block *psk = find(&made, "psk");
    size_t off = SITX_SEAL_HEADER_LEN;
    size_t final_len;

    assert_non_null(psk);
    hex32(init_static_hex, i_sk);
    hex32(resp_static_hex, r_sk);
    hex32(init_eph_hex, eph);
    crypto_scalarmult_base(r_pk, r_sk);
    memset(&p, 0, sizeof(p));
    p.mode = SITX_SEAL_SIGNED;
    p.receiver_pk = r_pk;
    p.sender_sk = i_sk;
    p.id = transfer_id;
    p.fixed_ephemeral_sk = eph;
    sitx_buf_init(&file);
    assert_int_equal(
        sitx_seal_write(&p, SITX_FMT_PNG, "red-dot.png", red_dot, sizeof(red_dot), &file), 0);
    assert_int_equal(file.len, 1024);
    add(&made, "seal-header", file.data, SITX_SEAL_HEADER_LEN);
    add_frame(&file, &off, "seal-x-msg-frame");
    add_frame(&file, &off, "seal-offer-frame");
    add_frame(&file, &off, "seal-data-frame");
    add_frame(&file, &off, "seal-end-frame");
    /* FINAL's frame is mostly padding: its length, its tag, and the hash of
     * the whole file pin it down. */
    final_len = 2 + (size_t)sitx_load_be16(file.data + off);
    assert_int_equal(off + final_len, file.len);
    add(&made, "seal-final-frame-len", file.data + off, 2);
    add(&made, "seal-final-frame-tag", file.data + file.len - 16, 16);
    crypto_generichash(hash, sizeof(hash), file.data, file.len, NULL, 0);
    add(&made, "seal-file-hash", hash, sizeof(hash));
    open_sealed(&file, r_sk, NULL);
    sitx_buf_clear(&file);

    /* Password mode: the PSK of §12.1 (same passphrase, salt, parameters). */
    memset(&p, 0, sizeof(p));
    p.mode = SITX_SEAL_PASSWORD;
    p.psk = psk->bytes;
    p.argon_ops = 3;
    p.argon_mem_kib = 65536;
    p.salt = salt;
    p.id = transfer_id;
    p.fixed_ephemeral_sk = eph;
    assert_int_equal(
        sitx_seal_write(&p, SITX_FMT_PNG, "red-dot.png", red_dot, sizeof(red_dot), &file), 0);
    assert_int_equal(file.len, 1024);
    sitx_seal_password_static(psk->bytes, pw_sk);
    crypto_scalarmult_base(pw_pk, pw_sk);
    add(&made, "seal-pw-header", file.data, SITX_SEAL_HEADER_LEN);
    add(&made, "seal-pw-static-public", pw_pk, sizeof(pw_pk));
    off = SITX_SEAL_HEADER_LEN;
    add_frame(&file, &off, "seal-pw-msg-frame");
    crypto_generichash(hash, sizeof(hash), file.data, file.len, NULL, 0);
    add(&made, "seal-pw-file-hash", hash, sizeof(hash));
    open_sealed(&file, NULL, psk->bytes);
    sitx_buf_clear(&file);
    sodium_memzero(pw_sk, sizeof(pw_sk));
}

/* ---- tests ---- */

/* Makes every block once: the Argon2id step takes a moment. */
static int make_all(void **state)
{
    (void)state;
    made.n = 0;
    make_password_example();
    make_key_example();
    make_v2_example();
    make_seal_example();
    return 0;
}

static void test_example_matches_document(void **state)
{
    int bad = 0;

    (void)state;
    in_doc.n = 0;
    if (getenv("SITX_EXAMPLE_PRINT") != NULL) {
        for (size_t i = 0; i < made.n; i++) {
            print_block(stdout, &made.b[i]);
        }
    }
    read_doc();
    for (size_t i = 0; i < made.n; i++) {
        const struct block *want = &made.b[i];
        const struct block *got = find(&in_doc, want->name);

        if (got == NULL) {
            fprintf(stderr, "PROTOCOL.md lacks block %s; it should read:\n", want->name);
            print_block(stderr, want);
            bad++;
        } else if (got->len != want->len || memcmp(got->bytes, want->bytes, want->len) != 0) {
            fprintf(stderr,
                    "PROTOCOL.md block %s (%zu bytes) differs from the code; it should read:\n",
                    want->name, got->len);
            print_block(stderr, want);
            bad++;
        }
    }
    for (size_t i = 0; i < in_doc.n; i++) {
        if (find(&made, in_doc.b[i].name) == NULL) {
            fprintf(stderr, "PROTOCOL.md block %s is not checked by this test\n", in_doc.b[i].name);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* Spot checks that do not depend on the document: the layout the text
 * describes, read back from the generated bytes. */
static void test_example_layout(void **state)
{
    const struct block *b;

    (void)state;
    b = find(&made, "prologue");
    assert_non_null(b);
    assert_int_equal(b->len, 55);
    assert_memory_equal(b->bytes, "sitx/1 prologue", 15);
    assert_memory_equal(b->bytes + 15, "SITX\x01\x02\x00\x00", 8);
    assert_memory_equal(b->bytes + 47, "SITX\x01\x02\x00\x00", 8);
    b = find(&made, "nnpsk0-msg1-frame");
    assert_non_null(b);
    assert_int_equal(b->len, 50);
    assert_int_equal(sitx_load_be16(b->bytes), 48);
    b = find(&made, "data-frame");
    assert_non_null(b);
    assert_int_equal(sitx_load_be16(b->bytes), 1 + 69 + 16);
    b = find(&made, "payload-hash");
    assert_non_null(b);
    assert_memory_equal(find(&made, "offer")->bytes + 26, b->bytes, 32);
    assert_memory_equal(find(&made, "end")->bytes + 1, b->bytes, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_matches_document),
        cmocka_unit_test(test_example_layout),
    };

    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    if (!sitx_aesgcm_available()) {
        fprintf(stderr, "AES-256-GCM is not available on this CPU: skipped\n");
        return SITX_TEST_SKIP;
    }
    return cmocka_run_group_tests(tests, make_all, NULL);
}
