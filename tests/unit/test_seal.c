/* Sealed files (common/seal.c, common/seal_read.c): round trips in the three
 * modes, whole and one byte at a time; every kind of damage with its failure
 * class; the wrong key and password; the length bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cipher.h"
#include "err.h"
#include "seal.h"
#include "secmem.h"
#include "testutil.h"
#include "../fuzz/fuzz_sealed_keys.h"

static uint8_t recv_sk[32];
static uint8_t recv_pk[32];
static uint8_t send_sk[32];
static uint8_t send_pk[32];
static uint8_t psk[32];
static const uint8_t salt[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t id[16] = {0x9b, 0x2e};

struct opened {
    int rc;
    enum sitx_seal_failure failure;
    char errstr[160];
    struct sitx_seal_header header;
    int has_sender;
    uint8_t sender_pk[32];
    struct sitx_offer offer;
    struct sitx_buf data;
    int ends;
    int done;
};

/* Seals len bytes of a fake payload (the format does not look inside). */
static void seal(enum sitx_seal_mode mode, size_t len, struct sitx_buf *out)
{
    struct sitx_seal_params p;
    uint8_t *payload = malloc(len);

    assert_non_null(payload);
    for (size_t i = 0; i < len; i++) {
        payload[i] = (uint8_t)(i * 7 + 3);
    }
    memset(&p, 0, sizeof(p));
    p.mode = mode;
    p.receiver_pk = recv_pk;
    p.sender_sk = send_sk;
    p.psk = psk;
    p.argon_ops = 3;
    p.argon_mem_kib = 65536;
    p.salt = salt;
    p.id = id;
    sitx_buf_init(out);
    assert_int_equal(sitx_seal_write(&p, SITX_FMT_PNG, "pic.png", payload, len, out), 0);
    free(payload);
}

/* Opens buf fed step bytes at a time (0: all at once) with sk or key. */
static void open_with(const uint8_t *buf, size_t len, size_t step, const uint8_t *sk,
                      const uint8_t *key_psk, struct opened *o)
{
    struct sitx_seal_reader *r = NULL;
    struct sitx_seal_event ev;
    size_t off = 0;
    int rc = 0;

    memset(o, 0, sizeof(*o));
    sitx_buf_init(&o->data);
    assert_int_equal(sitx_seal_reader_new(&r, 1u << 26), 0);
    while (rc >= 0) {
        size_t n = step == 0 ? len - off : (len - off < step ? len - off : step);

        rc = sitx_seal_reader_feed(r, buf + off, n);
        off += n;
        while (rc >= 0 && (rc = sitx_seal_reader_next(r, &ev)) == 1) {
            switch (ev.type) {
            case SITX_SEAL_EV_HEADER:
                o->header = ev.header;
                if (ev.header.mode == SITX_SEAL_PASSWORD) {
                    rc = sitx_seal_reader_set_psk(r, key_psk);
                } else {
                    rc = sitx_seal_reader_set_key(r, sk);
                }
                assert_true(rc <= 0);
                break;
            case SITX_SEAL_EV_OPENED:
                o->has_sender = ev.has_sender;
                memcpy(o->sender_pk, ev.sender_pk, 32);
                break;
            case SITX_SEAL_EV_OFFER:
                o->offer = ev.offer;
                break;
            case SITX_SEAL_EV_DATA:
                assert_int_equal(sitx_buf_append(&o->data, ev.data, ev.len), 0);
                break;
            case SITX_SEAL_EV_END:
                o->ends++;
                break;
            case SITX_SEAL_EV_DONE:
                o->done++;
                break;
            }
        }
        if (off == len) {
            break;
        }
    }
    if (rc >= 0) {
        rc = sitx_seal_reader_finish(r);
    }
    o->rc = rc;
    o->failure = sitx_seal_reader_failure(r);
    snprintf(o->errstr, sizeof(o->errstr), "%s", sitx_seal_reader_errstr(r));
    /* Errors stick. */
    if (rc < 0) {
        assert_int_equal(sitx_seal_reader_next(r, &ev), rc);
        assert_int_equal(sitx_seal_reader_feed(r, buf, 1), rc);
    }
    sitx_seal_reader_free(r);
}

static void check_payload(const struct opened *o, size_t len)
{
    assert_int_equal(o->rc, 0);
    assert_int_equal(o->done, 1);
    assert_int_equal(o->ends, 1);
    assert_int_equal(o->data.len, len);
    assert_int_equal(o->offer.size, len);
    assert_string_equal(o->offer.name, "pic.png");
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(o->data.data[i], (uint8_t)(i * 7 + 3));
    }
}

static void test_round_trip(void **state)
{
    static const size_t lens[] = {1, 69, 1000, 65518, 65519, 200000};
    static const enum sitx_seal_mode modes[] = {SITX_SEAL_ANONYMOUS, SITX_SEAL_SIGNED,
                                                SITX_SEAL_PASSWORD};
    struct sitx_buf f;
    struct opened o;

    (void)state;
    for (size_t m = 0; m < 3; m++) {
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            seal(modes[m], lens[i], &f);
            assert_int_equal(f.len, sitx_seal_bucket(f.len));
            assert_true(f.len >= SITX_SEAL_MIN_LEN);
            open_with(f.data, f.len, 0, recv_sk, psk, &o);
            check_payload(&o, lens[i]);
            assert_int_equal(o.header.mode, modes[m]);
            assert_int_equal(o.has_sender, modes[m] == SITX_SEAL_SIGNED);
            if (modes[m] == SITX_SEAL_SIGNED) {
                assert_memory_equal(o.sender_pk, send_pk, 32);
            }
            sitx_buf_clear(&o.data);
            sitx_buf_clear(&f);
        }
    }
}

static void test_one_byte_at_a_time(void **state)
{
    struct sitx_buf f;
    struct opened o;

    (void)state;
    seal(SITX_SEAL_SIGNED, 3000, &f);
    open_with(f.data, f.len, 1, recv_sk, psk, &o);
    check_payload(&o, 3000);
    sitx_buf_clear(&o.data);
    open_with(f.data, f.len, 7, recv_sk, psk, &o);
    check_payload(&o, 3000);
    sitx_buf_clear(&o.data);
    sitx_buf_clear(&f);
}

static void test_wrong_key_and_password(void **state)
{
    uint8_t other[32];
    struct sitx_buf f;
    struct opened o;

    (void)state;
    randombytes_buf(other, sizeof(other));
    seal(SITX_SEAL_SIGNED, 500, &f);
    open_with(f.data, f.len, 0, other, psk, &o);
    assert_int_equal(o.rc, SITX_E_AUTH);
    assert_int_equal(o.failure, SITX_SEAL_AUTH);
    assert_string_equal(o.errstr, "not sealed for this key (or the file's header is damaged)");
    /* Nothing of the offer leaks. */
    assert_int_equal(o.data.len, 0);
    assert_int_equal(o.offer.size, 0);
    assert_int_equal(o.has_sender, 0);
    sitx_buf_clear(&f);

    seal(SITX_SEAL_ANONYMOUS, 500, &f);
    open_with(f.data, f.len, 0, other, psk, &o);
    assert_int_equal(o.failure, SITX_SEAL_AUTH);
    sitx_buf_clear(&f);

    seal(SITX_SEAL_PASSWORD, 500, &f);
    open_with(f.data, f.len, 0, recv_sk, other, &o);
    assert_int_equal(o.rc, SITX_E_AUTH);
    assert_int_equal(o.failure, SITX_SEAL_AUTH);
    assert_string_equal(o.errstr, "wrong password (or the file's header is damaged)");
    sitx_buf_clear(&f);
}

/* Every single flipped bit of every byte is caught, and nothing but the
 * header's own checks or the AEAD tags catches it. */
static void test_every_flip(void **state)
{
    struct sitx_buf f;
    struct opened o;

    (void)state;
    seal(SITX_SEAL_SIGNED, 300, &f);
    for (size_t i = 0; i < f.len; i++) {
        f.data[i] ^= 0x01;
        open_with(f.data, f.len, 0, recv_sk, psk, &o);
        assert_true(o.rc < 0);
        /* DATA before the flipped byte may have streamed, but never END
         * past it nor DONE: the opener stores nothing without DONE. */
        assert_int_equal(o.done, 0);
        if (i < SITX_SEAL_MAGIC_LEN) {
            assert_int_equal(o.failure, SITX_SEAL_NOT_SEALED);
        } else if (i >= SITX_SEAL_HEADER_LEN + 2 + 96) {
            assert_int_equal(o.failure, SITX_SEAL_DAMAGED);
        } else {
            assert_true(o.failure == SITX_SEAL_NOT_SEALED || o.failure == SITX_SEAL_AUTH ||
                        o.failure == SITX_SEAL_DAMAGED);
        }
        sitx_buf_clear(&o.data);
        f.data[i] ^= 0x01;
    }
    sitx_buf_clear(&f);
}

static void test_every_truncation(void **state)
{
    struct sitx_buf f;
    struct opened o;

    (void)state;
    seal(SITX_SEAL_PASSWORD, 300, &f);
    for (size_t n = 0; n < f.len; n++) {
        open_with(f.data, n, 0, recv_sk, psk, &o);
        assert_int_equal(o.done, 0);
        assert_int_equal(o.failure, n == 0 ? SITX_SEAL_NOT_SEALED : SITX_SEAL_TRUNCATED);
        sitx_buf_clear(&o.data);
    }
    open_with(f.data, 1, 0, recv_sk, psk, &o);
    assert_string_equal(o.errstr, "the file ends early (truncated after 1 bytes)");
    sitx_buf_clear(&f);
}

static void test_appended(void **state)
{
    struct sitx_buf f;
    struct opened o;
    const uint8_t zero = 0;

    (void)state;
    seal(SITX_SEAL_ANONYMOUS, 300, &f);
    assert_int_equal(sitx_buf_append(&f, &zero, 1), 0);
    /* In one piece (seen at FINAL) and one byte at a time (seen in feed). */
    open_with(f.data, f.len, 0, recv_sk, psk, &o);
    assert_int_equal(o.rc, SITX_E_TRAILING);
    assert_int_equal(o.failure, SITX_SEAL_TRAILING);
    assert_string_equal(o.errstr, "bytes after the end of the sealed file (appended)");
    sitx_buf_clear(&o.data);
    open_with(f.data, f.len, 1, recv_sk, psk, &o);
    assert_int_equal(o.failure, SITX_SEAL_TRAILING);
    assert_int_equal(o.done, 1); /* DONE was seen, but the caller must finish() */
    sitx_buf_clear(&o.data);
    sitx_buf_clear(&f);
}

/* Frames swapped or dropped: the counter nonces refuse them. */
static void test_reordered_and_dropped(void **state)
{
    struct sitx_buf f;
    struct opened o;
    size_t first = SITX_SEAL_HEADER_LEN + 2 + 48; /* the OFFER frame */
    size_t first_len;
    uint8_t *copy;

    (void)state;
    seal(SITX_SEAL_ANONYMOUS, 300, &f);
    first_len = 2 + ((size_t)f.data[first] << 8 | f.data[first + 1]);
    /* Drop the OFFER frame. */
    copy = malloc(f.len);
    assert_non_null(copy);
    memcpy(copy, f.data, first);
    memcpy(copy + first, f.data + first + first_len, f.len - first - first_len);
    open_with(copy, f.len - first_len, 0, recv_sk, psk, &o);
    assert_int_equal(o.failure, SITX_SEAL_DAMAGED);
    assert_string_equal(o.errstr, "record 1 does not verify: the file is damaged or was altered");
    sitx_buf_clear(&o.data);
    free(copy);
    sitx_buf_clear(&f);
}

static void test_not_sealed(void **state)
{
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
    uint8_t hdr[SITX_SEAL_HEADER_LEN];
    struct sitx_seal_header h;
    struct opened o;

    (void)state;
    open_with(png, sizeof(png), 0, recv_sk, psk, &o);
    assert_int_equal(o.failure, SITX_SEAL_NOT_SEALED);
    assert_string_equal(o.errstr, "not a sitx sealed file (no SITXSEAL magic)");
    open_with(png, 0, 0, recv_sk, psk, &o);
    assert_int_equal(o.failure, SITX_SEAL_NOT_SEALED);

    memset(&h, 0, sizeof(h));
    h.mode = SITX_SEAL_SIGNED;
    sitx_seal_header_encode(&h, hdr);
    hdr[8] = 2;
    open_with(hdr, sizeof(hdr), 0, recv_sk, psk, &o);
    assert_int_equal(o.rc, SITX_E_VERSION);
    assert_int_equal(o.failure, SITX_SEAL_NOT_SEALED);
    hdr[8] = 1;
    hdr[9] = 9;
    open_with(hdr, sizeof(hdr), 0, recv_sk, psk, &o);
    assert_string_equal(o.errstr, "sealed file header: unknown mode");
    /* Password mode with Argon2id parameters a hostile file chose. */
    h.mode = SITX_SEAL_PASSWORD;
    h.argon_ops = 1000;
    h.argon_mem_kib = 65536;
    sitx_seal_header_encode(&h, hdr);
    open_with(hdr, sizeof(hdr), 0, recv_sk, psk, &o);
    assert_string_equal(o.errstr, "sealed file header: Argon2id parameters out of range");
}

static void test_too_large(void **state)
{
    struct sitx_seal_reader *r = NULL;
    struct sitx_seal_event ev;
    struct sitx_buf f;
    int rc;

    (void)state;
    seal(SITX_SEAL_ANONYMOUS, 5000, &f);
    assert_int_equal(sitx_seal_reader_new(&r, 4999), 0);
    assert_int_equal(sitx_seal_reader_feed(r, f.data, f.len), 0);
    assert_int_equal(sitx_seal_reader_next(r, &ev), 1);
    assert_int_equal(ev.type, SITX_SEAL_EV_HEADER);
    /* The wrong kind of secret for the mode is refused. */
    assert_int_equal(sitx_seal_reader_set_psk(r, psk), SITX_E_STATE);
    assert_int_equal(sitx_seal_reader_set_key(r, recv_sk), 0);
    assert_int_equal(sitx_seal_reader_next(r, &ev), 1);
    assert_int_equal(ev.type, SITX_SEAL_EV_OPENED);
    rc = sitx_seal_reader_next(r, &ev);
    assert_int_equal(rc, SITX_E_LIMIT);
    assert_int_equal(sitx_seal_reader_failure(r), SITX_SEAL_TOO_LARGE);
    assert_string_equal(sitx_seal_reader_errstr(r),
                        "the image is 5000 bytes, over the limit of 4999");
    sitx_seal_reader_free(r);
    sitx_buf_clear(&f);
}

static void test_bucket(void **state)
{
    (void)state;
    assert_int_equal(sitx_seal_bucket(0), 1024);
    assert_int_equal(sitx_seal_bucket(1024), 1024);
    assert_int_equal(sitx_seal_bucket(1025), 1088);
    assert_int_equal(sitx_seal_bucket(1000000), 1015808);
    for (uint64_t l = 1024; l < 5000000; l = l * 3 / 2 + 17) {
        uint64_t b = sitx_seal_bucket(l);

        assert_true(b >= l);
        assert_true(b - l <= l * 12 / 100 + 1);
        assert_int_equal(sitx_seal_bucket(b), b);
    }
}

static void test_write_refuses(void **state)
{
    struct sitx_seal_params p;
    struct sitx_buf f;
    uint8_t byte = 1;

    (void)state;
    memset(&p, 0, sizeof(p));
    sitx_buf_init(&f);
    p.mode = SITX_SEAL_SIGNED;
    p.receiver_pk = recv_pk;
    p.id = id;
    assert_int_equal(sitx_seal_write(&p, SITX_FMT_PNG, "a.png", &byte, 1, &f), SITX_E_INVALID);
    p.mode = SITX_SEAL_ANONYMOUS;
    assert_int_equal(sitx_seal_write(&p, SITX_FMT_PNG, "a.png", &byte, 0, &f), SITX_E_INVALID);
    assert_int_equal(sitx_seal_write(&p, SITX_FMT_PNG, "a\n.png", &byte, 1, &f), SITX_E_BAD_UTF8);
    assert_int_equal(f.len, 0);
}

/* ---- the fuzz seeds: sealed with the fuzz target's fixed keys ---- */

static const uint8_t red_dot[69] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00,
    0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0xf8, 0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0xf7, 0x03, 0x41,
    0x43, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static void fuzz_seal(enum sitx_seal_mode mode, struct sitx_buf *out)
{
    struct sitx_seal_params p;
    uint8_t rpk[32];

    crypto_scalarmult_base(rpk, fuzz_seal_recv_sk);
    memset(&p, 0, sizeof(p));
    p.mode = mode;
    p.receiver_pk = rpk;
    p.sender_sk = fuzz_seal_send_sk;
    p.psk = fuzz_seal_psk;
    p.argon_ops = 3;
    p.argon_mem_kib = 65536;
    p.salt = salt;
    p.id = id;
    p.fixed_ephemeral_sk = fuzz_seal_eph_sk;
    sitx_buf_init(out);
    assert_int_equal(
        sitx_seal_write(&p, SITX_FMT_PNG, "red-dot.png", red_dot, sizeof(red_dot), out), 0);
}

/* Each seed: name, chunk seed byte, file, bytes of the file to keep (0: all),
 * whether a byte is appended. */
static void check_seed(const char *dir, const char *name, uint8_t chunk, const uint8_t *file,
                       size_t len, int append)
{
    char path[4096];
    struct sitx_buf want;
    uint8_t *got = NULL;
    size_t got_len = 0;

    sitx_buf_init(&want);
    assert_int_equal(sitx_buf_append(&want, &chunk, 1), 0);
    assert_int_equal(sitx_buf_append(&want, file, len), 0);
    if (append) {
        assert_int_equal(sitx_buf_append(&want, "x", 1), 0);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (getenv("SITX_WRITE_SEEDS") != NULL) {
        assert_int_equal(tu_write_file(path, want.data, want.len, 0644), 0);
    }
    if (tu_read_file(path, &got, &got_len) != 0) {
        fail_msg("cannot read the seed %s; SITX_WRITE_SEEDS=1 writes it", path);
    }
    assert_int_equal(got_len, want.len);
    assert_memory_equal(got, want.data, want.len);
    free(got);
    sitx_buf_clear(&want);
}

static void test_fuzz_seeds(void **state)
{
    const char *here = __FILE__;
    const char *cut = strstr(here, "tests/unit/test_seal.c");
    char dir[4096];
    struct sitx_buf anon;
    struct sitx_buf sig;
    struct sitx_buf pw;
    struct opened o;

    (void)state;
    assert_non_null(cut);
    snprintf(dir, sizeof(dir), "%.*stests/fuzz/corpus/sealed", (int)(cut - here), here);
    fuzz_seal(SITX_SEAL_ANONYMOUS, &anon);
    fuzz_seal(SITX_SEAL_SIGNED, &sig);
    fuzz_seal(SITX_SEAL_PASSWORD, &pw);
    /* The seeds open with the target's keys. */
    open_with(sig.data, sig.len, 0, fuzz_seal_recv_sk, fuzz_seal_psk, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.data.len, sizeof(red_dot));
    sitx_buf_clear(&o.data);
    open_with(pw.data, pw.len, 0, fuzz_seal_recv_sk, fuzz_seal_psk, &o);
    assert_int_equal(o.rc, 0);
    sitx_buf_clear(&o.data);
    check_seed(dir, "anonymous", 0, anon.data, anon.len, 0);
    check_seed(dir, "signed-in-pieces", 5, sig.data, sig.len, 0);
    check_seed(dir, "password-in-pieces", 200, pw.data, pw.len, 0);
    check_seed(dir, "signed-truncated", 0, sig.data, 300, 0);
    check_seed(dir, "signed-appended", 3, sig.data, sig.len, 1);
    check_seed(dir, "not-sealed", 0, red_dot, sizeof(red_dot), 0);
    sitx_buf_clear(&anon);
    sitx_buf_clear(&sig);
    sitx_buf_clear(&pw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_wrong_key_and_password),
        cmocka_unit_test(test_every_flip),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_appended),
        cmocka_unit_test(test_reordered_and_dropped),
        cmocka_unit_test(test_not_sealed),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_write_refuses),
        cmocka_unit_test(test_fuzz_seeds),
    };

    if (sodium_init() < 0) {
        return 1;
    }
    if (!sitx_aesgcm_available()) {
        fprintf(stderr, "SKIP: no AES-GCM on this CPU\n");
        return 77;
    }
    randombytes_buf(recv_sk, sizeof(recv_sk));
    randombytes_buf(send_sk, sizeof(send_sk));
    randombytes_buf(psk, sizeof(psk));
    crypto_scalarmult_base(recv_pk, recv_sk);
    crypto_scalarmult_base(send_pk, send_sk);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
