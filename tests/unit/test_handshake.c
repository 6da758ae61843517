/* Full handshakes in memory with random keys: XX (key mode), NNpsk0
 * (password mode) and XXpsk3, and every way they must fail: wrong psk,
 * tampered bytes, wrong sizes, calls out of turn, low-order keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "handshake.h"
#include "testutil.h"
#include "transport.h"

#define MSG_CAP 1024

static const uint8_t prologue[] = "sitx/1 prologue and then some greeting bytes";

struct peer_keys {
    uint8_t i_sk[32], i_pk[32];
    uint8_t r_sk[32], r_pk[32];
    uint8_t i_psk[32], r_psk[32];
};

struct pair {
    struct sitx_hs *init;
    struct sitx_hs *resp;
};

static void keys_random(struct peer_keys *k)
{
    crypto_box_keypair(k->i_pk, k->i_sk);
    crypto_box_keypair(k->r_pk, k->r_sk);
    randombytes_buf(k->i_psk, sizeof(k->i_psk));
    memcpy(k->r_psk, k->i_psk, sizeof(k->r_psk));
}

static void pair_new(struct pair *p, enum sitx_hs_pattern pat, const struct peer_keys *k)
{
    struct sitx_hs_config ic = {0};
    struct sitx_hs_config rc = {0};

    ic.pattern = rc.pattern = pat;
    ic.role = SITX_HS_INITIATOR;
    rc.role = SITX_HS_RESPONDER;
    ic.prologue = rc.prologue = prologue;
    ic.prologue_len = rc.prologue_len = sizeof(prologue);
    if (pat != SITX_HS_NNPSK0) {
        ic.static_sk = k->i_sk;
        rc.static_sk = k->r_sk;
    }
    if (pat != SITX_HS_XX) {
        ic.psk = k->i_psk;
        rc.psk = k->r_psk;
    }
    assert_int_equal(sitx_hs_new(&p->init, &ic), 0);
    assert_int_equal(sitx_hs_new(&p->resp, &rc), 0);
}

static void pair_free(struct pair *p)
{
    sitx_hs_free(p->init);
    sitx_hs_free(p->resp);
    p->init = p->resp = NULL;
}

static size_t n_messages(enum sitx_hs_pattern pat)
{
    return pat == SITX_HS_NNPSK0 ? 2 : 3;
}

/* Writes message i (empty payload) from whoever's turn it is. */
static size_t write_msg(struct pair *p, size_t i, uint8_t *msg)
{
    struct sitx_hs *w = i % 2 == 0 ? p->init : p->resp;
    size_t len = 0;

    assert_int_equal(sitx_hs_get_action(w), SITX_HS_WRITE_MESSAGE);
    assert_int_equal(sitx_hs_write_message(w, NULL, 0, msg, MSG_CAP, &len), 0);
    assert_int_equal(len, sitx_hs_message_len(i % 2 == 0 ? p->resp : p->init, 0));
    return len;
}

static int read_msg(struct pair *p, size_t i, const uint8_t *msg, size_t len)
{
    struct sitx_hs *r = i % 2 == 0 ? p->resp : p->init;
    uint8_t payload[MSG_CAP];
    size_t plen = 99;
    int rc = sitx_hs_read_message(r, msg, len, payload, sizeof(payload), &plen);

    if (rc == 0) {
        assert_int_equal(plen, 0);
    } else {
        assert_int_equal(plen, 0);
        assert_int_equal(sitx_hs_get_action(r), SITX_HS_FAILED);
    }
    return rc;
}

/* Runs a whole handshake and checks what both sides end up with. */
static void full_handshake(enum sitx_hs_pattern pat, const size_t *sizes)
{
    struct peer_keys k;
    struct pair p;
    uint8_t msg[MSG_CAP];
    uint8_t hi[SITX_HASHLEN], hr[SITX_HASHLEN], key[32];
    struct sitx_cipher *is = NULL, *ir = NULL, *rs = NULL, *rr = NULL;
    struct sitx_cipher *again_s = NULL, *again_r = NULL;
    uint8_t rec[] = {6, 0, 0, 0};
    uint8_t frame[64];
    uint8_t back[64];
    size_t len;

    keys_random(&k);
    pair_new(&p, pat, &k);
    for (size_t i = 0; i < n_messages(pat); i++) {
        len = write_msg(&p, i, msg);
        assert_int_equal(len, sizes[i]);
        assert_int_equal(read_msg(&p, i, msg, len), 0);
    }
    assert_int_equal(sitx_hs_get_action(p.init), SITX_HS_SPLIT);
    assert_int_equal(sitx_hs_get_action(p.resp), SITX_HS_SPLIT);
    assert_int_equal(sitx_hs_handshake_hash(p.init, hi), 0);
    assert_int_equal(sitx_hs_handshake_hash(p.resp, hr), 0);
    assert_memory_equal(hi, hr, sizeof(hi));

    if (pat == SITX_HS_NNPSK0) {
        assert_int_equal(sitx_hs_remote_static(p.init, key), SITX_E_STATE);
        assert_int_equal(sitx_hs_remote_static(p.resp, key), SITX_E_STATE);
        assert_int_equal(sitx_hs_local_static(p.init, key), SITX_E_STATE);
    } else {
        assert_int_equal(sitx_hs_remote_static(p.init, key), 0);
        assert_memory_equal(key, k.r_pk, 32);
        assert_int_equal(sitx_hs_remote_static(p.resp, key), 0);
        assert_memory_equal(key, k.i_pk, 32);
        assert_int_equal(sitx_hs_local_static(p.init, key), 0);
        assert_memory_equal(key, k.i_pk, 32);
        assert_int_equal(sitx_hs_local_static(p.resp, key), 0);
        assert_memory_equal(key, k.r_pk, 32);
    }

    assert_int_equal(sitx_hs_split(p.init, &is, &ir), 0);
    assert_int_equal(sitx_hs_split(p.resp, &rs, &rr), 0);
    /* Split happens once; the handshake hash stays available. */
    assert_int_equal(sitx_hs_split(p.resp, &again_s, &again_r), SITX_E_STATE);
    assert_null(again_s);
    assert_null(again_r);
    assert_int_equal(sitx_hs_handshake_hash(p.resp, hr), 0);
    assert_memory_equal(hi, hr, sizeof(hi));
    /* Initiator's send is responder's receive and the other way round. */
    assert_int_equal(sitx_transport_seal(is, rec, sizeof(rec), frame, sizeof(frame), &len), 0);
    assert_int_equal(sitx_transport_open(rr, frame + 2, len - 2, back, sizeof(back), &len), 0);
    assert_memory_equal(back, rec, sizeof(rec));
    assert_int_equal(sitx_transport_seal(rs, rec, sizeof(rec), frame, sizeof(frame), &len), 0);
    assert_int_equal(sitx_transport_open(ir, frame + 2, len - 2, back, sizeof(back), &len), 0);
    assert_memory_equal(back, rec, sizeof(rec));
    /* A side cannot open its own frame: the two directions use two keys. */
    assert_int_equal(sitx_transport_seal(is, rec, sizeof(rec), frame, sizeof(frame), &len), 0);
    assert_int_equal(sitx_transport_open(ir, frame + 2, len - 2, back, sizeof(back), &len),
                     SITX_E_DECRYPT);
    sitx_cipher_free(is);
    sitx_cipher_free(ir);
    sitx_cipher_free(rs);
    sitx_cipher_free(rr);
    pair_free(&p);
}

static void test_xx(void **state)
{
    static const size_t sizes[] = {32, 96, 64}; /* PROTOCOL.md section 5 */

    (void)state;
    full_handshake(SITX_HS_XX, sizes);
}

static void test_nnpsk0(void **state)
{
    static const size_t sizes[] = {48, 48};

    (void)state;
    full_handshake(SITX_HS_NNPSK0, sizes);
}

static void test_xxpsk3(void **state)
{
    static const size_t sizes[] = {48, 96, 64};

    (void)state;
    full_handshake(SITX_HS_XXPSK3, sizes);
}

/* Payloads of several sizes arrive intact; the hashes still agree. */
static void test_payloads(void **state)
{
    struct peer_keys k;
    struct pair p;
    uint8_t pl[300], msg[MSG_CAP], got[MSG_CAP];
    uint8_t hi[SITX_HASHLEN], hr[SITX_HASHLEN];
    size_t len, glen;

    (void)state;
    keys_random(&k);
    randombytes_buf(pl, sizeof(pl));
    pair_new(&p, SITX_HS_XX, &k);
    for (size_t i = 0; i < 3; i++) {
        struct sitx_hs *w = i % 2 == 0 ? p.init : p.resp;
        struct sitx_hs *r = i % 2 == 0 ? p.resp : p.init;
        size_t n = 100 * i + 1;

        assert_int_equal(sitx_hs_write_message(w, pl, n, msg, sizeof(msg), &len), 0);
        assert_int_equal(len, sitx_hs_message_len(r, n));
        assert_int_equal(sitx_hs_read_message(r, msg, len, got, sizeof(got), &glen), 0);
        assert_int_equal(glen, n);
        assert_memory_equal(got, pl, n);
    }
    assert_int_equal(sitx_hs_handshake_hash(p.init, hi), 0);
    assert_int_equal(sitx_hs_handshake_hash(p.resp, hr), 0);
    assert_memory_equal(hi, hr, sizeof(hi));
    pair_free(&p);
}

static void test_wrong_psk(void **state)
{
    struct peer_keys k;
    struct pair p;
    uint8_t msg[MSG_CAP];
    uint8_t pl[16];
    size_t len, plen;

    (void)state;
    keys_random(&k);
    k.r_psk[31] ^= 1;
    pair_new(&p, SITX_HS_NNPSK0, &k);
    len = write_msg(&p, 0, msg);
    assert_int_equal(read_msg(&p, 0, msg, len), SITX_E_DECRYPT);
    assert_int_equal(sitx_hs_get_action(p.resp), SITX_HS_FAILED);
    /* Dead for good: the right message does not revive it, nor does a write. */
    assert_int_equal(sitx_hs_read_message(p.resp, msg, len, pl, sizeof(pl), &plen), SITX_E_STATE);
    assert_int_equal(sitx_hs_write_message(p.resp, NULL, 0, msg, sizeof(msg), &plen), SITX_E_STATE);
    assert_int_equal(sitx_hs_get_action(p.resp), SITX_HS_FAILED);
    pair_free(&p);

    /* XXpsk3: the psk enters at message 3, so that is where it fails. */
    keys_random(&k);
    k.i_psk[0] ^= 0x80;
    pair_new(&p, SITX_HS_XXPSK3, &k);
    len = write_msg(&p, 0, msg);
    assert_int_equal(read_msg(&p, 0, msg, len), 0);
    len = write_msg(&p, 1, msg);
    assert_int_equal(read_msg(&p, 1, msg, len), 0);
    len = write_msg(&p, 2, msg);
    assert_int_equal(read_msg(&p, 2, msg, len), SITX_E_DECRYPT);
    pair_free(&p);
}

/* Flips each bit position (one per byte) of message m in turn; the
 * handshake must fail at the first read that depends on it. */
static void tamper_message(enum sitx_hs_pattern pat, size_t m)
{
    struct peer_keys k;
    uint8_t msg[MSG_CAP];
    size_t len = 0;
    size_t msg_len = 0;

    keys_random(&k);
    for (size_t pos = 0;; pos++) {
        struct pair p;
        int failed_at = -1;

        pair_new(&p, pat, &k);
        for (size_t i = 0; i < n_messages(pat) && failed_at < 0; i++) {
            int rc;

            len = write_msg(&p, i, msg);
            if (i == m) {
                msg_len = len;
                msg[pos] ^= (uint8_t)(1u << (pos % 8));
            }
            rc = read_msg(&p, i, msg, len);
            if (rc != 0) {
                /* A bit flipped into e could make a low-order point. */
                assert_true(rc == SITX_E_DECRYPT || rc == SITX_E_BAD_KEY);
                failed_at = (int)i;
            }
        }
        /* Message 1 of XX carries only e in clear: the responder cannot
         * tell, and the initiator notices at message 2. Every other
         * message fails when it is read. */
        if (pat == SITX_HS_XX && m == 0) {
            assert_int_equal(failed_at, 1);
        } else {
            assert_int_equal(failed_at, (int)m);
        }
        pair_free(&p);
        if (pos + 1 >= msg_len) {
            break;
        }
    }
}

static void test_tamper_each_message(void **state)
{
    (void)state;
    for (size_t m = 0; m < 3; m++) {
        tamper_message(SITX_HS_XX, m);
        tamper_message(SITX_HS_XXPSK3, m);
    }
    for (size_t m = 0; m < 2; m++) {
        tamper_message(SITX_HS_NNPSK0, m);
    }
}

static void test_wrong_size(void **state)
{
    static const enum sitx_hs_pattern pats[] = {SITX_HS_XX, SITX_HS_NNPSK0, SITX_HS_XXPSK3};
    struct peer_keys k;
    uint8_t msg[MSG_CAP];
    uint8_t pl[MSG_CAP];
    size_t len, plen;

    (void)state;
    keys_random(&k);
    for (size_t t = 0; t < 3; t++) {
        for (size_t m = 0; m < n_messages(pats[t]); m++) {
            struct pair p;
            struct pair q;
            struct sitx_hs *r;

            /* One byte short: malformed, and fatal. */
            pair_new(&p, pats[t], &k);
            for (size_t i = 0; i < m; i++) {
                len = write_msg(&p, i, msg);
                assert_int_equal(read_msg(&p, i, msg, len), 0);
            }
            len = write_msg(&p, m, msg);
            assert_int_equal(read_msg(&p, m, msg, len - 1), SITX_E_MALFORMED);
            pair_free(&p);

            /* One byte long. */
            pair_new(&q, pats[t], &k);
            for (size_t i = 0; i < m; i++) {
                len = write_msg(&q, i, msg);
                assert_int_equal(read_msg(&q, i, msg, len), 0);
            }
            len = write_msg(&q, m, msg);
            msg[len] = 0x42;
            r = m % 2 == 0 ? q.resp : q.init;
            if (pats[t] == SITX_HS_XX && m == 0) {
                /* No key yet: the extra byte is a clear payload, which the
                 * caller sees (version 1 refuses any payload). */
                assert_int_equal(sitx_hs_read_message(r, msg, len + 1, pl, sizeof(pl), &plen), 0);
                assert_int_equal(plen, 1);
                assert_int_equal(pl[0], 0x42);
            } else {
                assert_int_equal(sitx_hs_read_message(r, msg, len + 1, pl, sizeof(pl), &plen),
                                 SITX_E_DECRYPT);
                assert_int_equal(sitx_hs_get_action(r), SITX_HS_FAILED);
            }
            pair_free(&q);
        }
    }

    /* Empty, and larger than any Noise message. */
    {
        struct pair p;
        uint8_t *big = calloc(1, SITX_NOISE_MAX_MSG + 1);

        assert_non_null(big);
        pair_new(&p, SITX_HS_XX, &k);
        assert_int_equal(sitx_hs_read_message(p.resp, msg, 0, pl, sizeof(pl), &plen),
                         SITX_E_MALFORMED);
        assert_int_equal(sitx_hs_get_action(p.resp), SITX_HS_FAILED);
        pair_free(&p);
        pair_new(&p, SITX_HS_XX, &k);
        assert_int_equal(sitx_hs_read_message(p.resp, big, SITX_NOISE_MAX_MSG + 1, big,
                                              SITX_NOISE_MAX_MSG + 1, &plen),
                         SITX_E_MALFORMED);
        pair_free(&p);
        /* A payload that does not fit the caller's buffer. */
        pair_new(&p, SITX_HS_XX, &k);
        assert_int_equal(sitx_hs_read_message(p.resp, msg, 40, pl, 7, &plen), SITX_E_BUFFER);
        assert_int_equal(sitx_hs_get_action(p.resp), SITX_HS_FAILED);
        pair_free(&p);
        free(big);
    }
}

static void test_write_limits(void **state)
{
    struct peer_keys k;
    struct pair p;
    uint8_t msg[MSG_CAP];
    uint8_t *big = calloc(1, SITX_NOISE_MAX_MSG + 64);
    size_t len = 7;

    (void)state;
    assert_non_null(big);
    keys_random(&k);
    pair_new(&p, SITX_HS_NNPSK0, &k);
    assert_int_equal(sitx_hs_message_len(p.init, 0), 48);
    assert_int_equal(sitx_hs_message_len(p.init, SITX_NOISE_MAX_MSG + 1), SIZE_MAX);
    /* Too small a buffer: refused, nothing changed, and the retry works. */
    assert_int_equal(sitx_hs_write_message(p.init, NULL, 0, msg, 47, &len), SITX_E_BUFFER);
    assert_int_equal(len, 0);
    assert_int_equal(sitx_hs_get_action(p.init), SITX_HS_WRITE_MESSAGE);
    /* 32 + 16 + payload may not pass 65535. */
    assert_int_equal(sitx_hs_write_message(p.init, big, SITX_NOISE_MAX_MSG - 47, big,
                                           SITX_NOISE_MAX_MSG + 64, &len),
                     SITX_E_TOO_LARGE);
    assert_int_equal(sitx_hs_write_message(p.init, NULL, 5, msg, sizeof(msg), &len),
                     SITX_E_INVALID);
    assert_int_equal(sitx_hs_get_action(p.init), SITX_HS_WRITE_MESSAGE);
    len = write_msg(&p, 0, msg);
    assert_int_equal(read_msg(&p, 0, msg, len), 0);
    len = write_msg(&p, 1, msg);
    assert_int_equal(read_msg(&p, 1, msg, len), 0);
    pair_free(&p);

    /* The largest message allowed goes through. */
    pair_new(&p, SITX_HS_NNPSK0, &k);
    {
        uint8_t *out = malloc(SITX_NOISE_MAX_MSG);
        uint8_t *got = malloc(SITX_NOISE_MAX_MSG);
        size_t glen = 0;

        assert_non_null(out);
        assert_non_null(got);
        assert_int_equal(sitx_hs_write_message(p.init, big, SITX_NOISE_MAX_MSG - 48, out,
                                               SITX_NOISE_MAX_MSG, &len),
                         0);
        assert_int_equal(len, SITX_NOISE_MAX_MSG);
        assert_int_equal(sitx_hs_read_message(p.resp, out, len, got, SITX_NOISE_MAX_MSG, &glen), 0);
        assert_int_equal(glen, SITX_NOISE_MAX_MSG - 48);
        free(out);
        free(got);
    }
    pair_free(&p);
    free(big);
}

static void test_out_of_turn(void **state)
{
    struct peer_keys k;
    struct pair p;
    uint8_t msg[MSG_CAP];
    uint8_t pl[MSG_CAP];
    uint8_t h[SITX_HASHLEN];
    struct sitx_cipher *s = NULL, *r = NULL;
    size_t len, plen;

    (void)state;
    keys_random(&k);
    pair_new(&p, SITX_HS_XX, &k);
    assert_int_equal(sitx_hs_get_action(p.init), SITX_HS_WRITE_MESSAGE);
    assert_int_equal(sitx_hs_get_action(p.resp), SITX_HS_READ_MESSAGE);
    /* The responder may not speak first, the initiator may not read first. */
    assert_int_equal(sitx_hs_write_message(p.resp, NULL, 0, msg, sizeof(msg), &len), SITX_E_STATE);
    assert_int_equal(sitx_hs_read_message(p.init, msg, 32, pl, sizeof(pl), &plen), SITX_E_STATE);
    /* Out of turn changes nothing. */
    assert_int_equal(sitx_hs_get_action(p.resp), SITX_HS_READ_MESSAGE);
    assert_int_equal(sitx_hs_get_action(p.init), SITX_HS_WRITE_MESSAGE);
    assert_int_equal(sitx_hs_split(p.init, &s, &r), SITX_E_STATE);
    assert_int_equal(sitx_hs_handshake_hash(p.init, h), SITX_E_STATE);
    assert_int_equal(sitx_hs_remote_static(p.init, h), SITX_E_STATE);

    len = write_msg(&p, 0, msg);
    /* Twice in a row is out of turn too. */
    assert_int_equal(sitx_hs_write_message(p.init, NULL, 0, msg + 100, sizeof(msg) - 100, &plen),
                     SITX_E_STATE);
    assert_int_equal(read_msg(&p, 0, msg, len), 0);
    len = write_msg(&p, 1, msg);
    assert_int_equal(read_msg(&p, 1, msg, len), 0);
    len = write_msg(&p, 2, msg);
    assert_int_equal(read_msg(&p, 2, msg, len), 0);
    /* Done: no more messages either way. */
    assert_int_equal(sitx_hs_write_message(p.init, NULL, 0, msg, sizeof(msg), &len), SITX_E_STATE);
    assert_int_equal(sitx_hs_read_message(p.resp, msg, 64, pl, sizeof(pl), &plen), SITX_E_STATE);
    assert_int_equal(sitx_hs_message_len(p.resp, 0), 0);
    pair_free(&p);
}

static void test_new_invalid(void **state)
{
    struct sitx_hs_config c = {0};
    struct sitx_hs *hs = NULL;
    uint8_t key[32] = {1};

    (void)state;
    c.pattern = SITX_HS_XX;
    c.role = SITX_HS_INITIATOR;
    assert_int_equal(sitx_hs_new(&hs, &c), SITX_E_INVALID); /* no static key */
    assert_null(hs);
    c.pattern = SITX_HS_NNPSK0;
    assert_int_equal(sitx_hs_new(&hs, &c), SITX_E_INVALID); /* no psk */
    c.pattern = SITX_HS_XXPSK3;
    c.static_sk = key;
    assert_int_equal(sitx_hs_new(&hs, &c), SITX_E_INVALID); /* no psk */
    c.psk = key;
    c.prologue_len = 3;
    assert_int_equal(sitx_hs_new(&hs, &c), SITX_E_INVALID); /* NULL prologue */
    c.prologue_len = 0;
    c.pattern = (enum sitx_hs_pattern)7;
    assert_int_equal(sitx_hs_new(&hs, &c), SITX_E_INVALID);
    c.pattern = SITX_HS_XX;
    c.role = (enum sitx_hs_role)5;
    assert_int_equal(sitx_hs_new(&hs, &c), SITX_E_INVALID);
    assert_int_equal(sitx_hs_new(&hs, NULL), SITX_E_INVALID);
    c.role = SITX_HS_RESPONDER;
    assert_int_equal(sitx_hs_new(&hs, &c), 0);
    assert_non_null(hs);
    sitx_hs_free(hs);
    sitx_hs_free(NULL);
}

static void test_prologue_mismatch(void **state)
{
    struct peer_keys k;
    struct sitx_hs_config ic = {0}, rc = {0};
    struct pair p;
    uint8_t msg[MSG_CAP];
    static const uint8_t other[] = "sitx/1 prologue and then some greeting byteS";
    size_t len;

    (void)state;
    keys_random(&k);
    ic.pattern = rc.pattern = SITX_HS_NNPSK0;
    ic.role = SITX_HS_INITIATOR;
    rc.role = SITX_HS_RESPONDER;
    ic.prologue = prologue;
    ic.prologue_len = sizeof(prologue);
    rc.prologue = other;
    rc.prologue_len = sizeof(other);
    ic.psk = k.i_psk;
    rc.psk = k.r_psk;
    assert_int_equal(sitx_hs_new(&p.init, &ic), 0);
    assert_int_equal(sitx_hs_new(&p.resp, &rc), 0);
    len = write_msg(&p, 0, msg);
    assert_int_equal(read_msg(&p, 0, msg, len), SITX_E_DECRYPT);
    pair_free(&p);

    ic.pattern = rc.pattern = SITX_HS_XX;
    ic.static_sk = k.i_sk;
    rc.static_sk = k.r_sk;
    assert_int_equal(sitx_hs_new(&p.init, &ic), 0);
    assert_int_equal(sitx_hs_new(&p.resp, &rc), 0);
    len = write_msg(&p, 0, msg);
    assert_int_equal(read_msg(&p, 0, msg, len), 0);
    len = write_msg(&p, 1, msg);
    assert_int_equal(read_msg(&p, 1, msg, len), SITX_E_DECRYPT);
    pair_free(&p);
}

/* Low-order public keys make every DH with them zero: refused. */
static void test_low_order_keys(void **state)
{
    /* 0 and the order-8 point from the Wycheproof/libsodium blocklist. */
    static const uint8_t low[2][32] = {
        {0},
        {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
         0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
         0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    };
    struct peer_keys k;
    uint8_t msg[MSG_CAP];
    uint8_t pl[MSG_CAP];
    size_t len, plen;

    (void)state;
    keys_random(&k);
    for (int i = 0; i < 2; i++) {
        struct pair p;

        /* As message 1 of XX: accepted (nothing to check yet), then the
         * responder's ee fails when it writes message 2. */
        pair_new(&p, SITX_HS_XX, &k);
        memcpy(msg, low[i], 32);
        assert_int_equal(sitx_hs_read_message(p.resp, msg, 32, pl, sizeof(pl), &plen), 0);
        assert_int_equal(sitx_hs_write_message(p.resp, NULL, 0, msg, sizeof(msg), &len),
                         SITX_E_BAD_KEY);
        assert_int_equal(sitx_hs_get_action(p.resp), SITX_HS_FAILED);
        pair_free(&p);

        /* As the responder's e in message 2: the initiator's ee fails. */
        pair_new(&p, SITX_HS_XX, &k);
        len = write_msg(&p, 0, msg);
        assert_int_equal(read_msg(&p, 0, msg, len), 0);
        len = write_msg(&p, 1, msg);
        memcpy(msg, low[i], 32);
        assert_int_equal(read_msg(&p, 1, msg, len), SITX_E_BAD_KEY);
        pair_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xx),
        cmocka_unit_test(test_nnpsk0),
        cmocka_unit_test(test_xxpsk3),
        cmocka_unit_test(test_payloads),
        cmocka_unit_test(test_wrong_psk),
        cmocka_unit_test(test_tamper_each_message),
        cmocka_unit_test(test_wrong_size),
        cmocka_unit_test(test_write_limits),
        cmocka_unit_test(test_out_of_turn),
        cmocka_unit_test(test_new_invalid),
        cmocka_unit_test(test_prologue_mismatch),
        cmocka_unit_test(test_low_order_keys),
    };

    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    if (!sitx_aesgcm_available()) {
        fprintf(stderr, "SKIP: no AES-GCM on this CPU\n");
        return SITX_TEST_SKIP;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
