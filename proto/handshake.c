/* Noise HandshakeState and SymmetricState (revision 34) for
 * 25519_AESGCM_BLAKE2b, patterns XX, NNpsk0 and XXpsk3 (the wire) and the
 * one-way N, X, Npsk0 and Xpsk1 (sealed files). Every message is
 * processed token by token from a small table, as noise-c does; the whole
 * state, scratch included, is one sodium_malloc'd block wiped on free. */
#include "handshake.h"

#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "err.h"

_Static_assert(SITX_DH_LEN == crypto_scalarmult_BYTES, "X25519 output");
_Static_assert(SITX_DH_LEN == crypto_scalarmult_SCALARBYTES, "X25519 scalar");

#define PSK_LEN    32
#define MAX_MSGS   3
#define MAX_TOKENS 6

enum token {
    T_END = 0,
    T_E,
    T_S,
    T_EE,
    T_ES,
    T_SE,
    T_PSK,
    T_SS,
};

struct pattern_def {
    const char *protocol_name;
    bool psk;          /* a psk handshake: "e" also calls MixKey(e.pub) */
    bool init_static;  /* the initiator has a static key */
    bool resp_static;  /* the responder has a static key */
    bool pre_rs;       /* "<- s" pre-message: the initiator knows it beforehand */
    size_t n_msgs;
    uint8_t tokens[MAX_MSGS][MAX_TOKENS]; /* T_END-terminated */
};

/* The message patterns of Noise sections 7.4, 7.5 and 9.4, one row per message. */
/* clang-format off */
static const struct pattern_def patterns[] = {
    [SITX_HS_XX] = {"Noise_XX_25519_AESGCM_BLAKE2b", false, true, true, false, 3, {
        {T_E},                    /* -> e */
        {T_E, T_EE, T_S, T_ES},   /* <- e, ee, s, es */
        {T_S, T_SE},              /* -> s, se */
    }},
    [SITX_HS_NNPSK0] = {"Noise_NNpsk0_25519_AESGCM_BLAKE2b", true, false, false, false, 2, {
        {T_PSK, T_E},             /* -> psk, e */
        {T_E, T_EE},              /* <- e, ee */
    }},
    [SITX_HS_XXPSK3] = {"Noise_XXpsk3_25519_AESGCM_BLAKE2b", true, true, true, false, 3, {
        {T_E},                    /* -> e */
        {T_E, T_EE, T_S, T_ES},   /* <- e, ee, s, es */
        {T_S, T_SE, T_PSK},       /* -> s, se, psk */
    }},
    /* One-way patterns: "<- s" is known before, one message follows. */
    [SITX_HS_N] = {"Noise_N_25519_AESGCM_BLAKE2b", false, false, true, true, 1, {
        {T_E, T_ES},              /* -> e, es */
    }},
    [SITX_HS_X] = {"Noise_X_25519_AESGCM_BLAKE2b", false, true, true, true, 1, {
        {T_E, T_ES, T_S, T_SS},   /* -> e, es, s, ss */
    }},
    [SITX_HS_NPSK0] = {"Noise_Npsk0_25519_AESGCM_BLAKE2b", true, false, true, true, 1, {
        {T_PSK, T_E, T_ES},       /* -> psk, e, es */
    }},
    [SITX_HS_XPSK1] = {"Noise_Xpsk1_25519_AESGCM_BLAKE2b", true, true, true, true, 1, {
        {T_E, T_ES, T_S, T_SS, T_PSK}, /* -> e, es, s, ss, psk */
    }},
};
/* clang-format on */

struct sitx_hs {
    uint8_t ck[SITX_HASHLEN];
    uint8_t h[SITX_HASHLEN];
    uint8_t s_sk[SITX_DH_LEN];
    uint8_t s_pk[SITX_DH_LEN];
    uint8_t e_sk[SITX_DH_LEN];
    uint8_t e_pk[SITX_DH_LEN];
    uint8_t rs[SITX_DH_LEN];
    uint8_t re[SITX_DH_LEN];
    uint8_t psk[PSK_LEN];
    uint8_t fixed_e_sk[SITX_DH_LEN];
    /* Scratch for DH and HKDF outputs, so that derived secrets stay in
     * guarded memory (hash.c wipes its own stack temporaries). */
    uint8_t dh[SITX_DH_LEN];
    uint8_t t1[SITX_HASHLEN];
    uint8_t t2[SITX_HASHLEN];
    uint8_t t3[SITX_HASHLEN];
    struct sitx_cipher *cs;
    const struct pattern_def *pat;
    enum sitx_hs_role role;
    enum sitx_hs_action action;
    size_t msg_index;
    bool has_s;
    bool has_rs;
    bool has_fixed_e;
    bool split_done;
};

int sitx_dh(uint8_t out[static SITX_DH_LEN], const uint8_t sk[static SITX_DH_LEN],
            const uint8_t pk[static SITX_DH_LEN])
{
    /* libsodium refuses an all-zero result itself; checking again keeps the
     * guarantee independent of the library version. */
    if (crypto_scalarmult(out, sk, pk) != 0 || sodium_is_zero(out, SITX_DH_LEN)) {
        sodium_memzero(out, SITX_DH_LEN);
        return SITX_E_BAD_KEY;
    }
    return 0;
}

/* ---- SymmetricState ---- */

static void mix_hash(struct sitx_hs *hs, const uint8_t *data, size_t len)
{
    sitx_hash2(hs->t3, hs->h, SITX_HASHLEN, data, len);
    memcpy(hs->h, hs->t3, SITX_HASHLEN);
    sodium_memzero(hs->t3, SITX_HASHLEN);
}

static void mix_key(struct sitx_hs *hs, const uint8_t *ikm, size_t ikm_len)
{
    sitx_hkdf(hs->ck, ikm, ikm_len, hs->t1, hs->t2, NULL);
    memcpy(hs->ck, hs->t1, SITX_HASHLEN);
    /* HASHLEN is 64: temp_k is truncated to the 32-byte AES key. */
    sitx_cipher_init_key(hs->cs, hs->t2);
    sodium_memzero(hs->t1, SITX_HASHLEN);
    sodium_memzero(hs->t2, SITX_HASHLEN);
}

static void mix_key_and_hash(struct sitx_hs *hs, const uint8_t *ikm, size_t ikm_len)
{
    sitx_hkdf(hs->ck, ikm, ikm_len, hs->t1, hs->t2, hs->t3);
    memcpy(hs->ck, hs->t1, SITX_HASHLEN);
    /* mix_hash() uses t3 as its scratch, so move temp_k out of it first. */
    memcpy(hs->t1, hs->t3, SITX_HASHLEN);
    mix_hash(hs, hs->t2, SITX_HASHLEN);
    sitx_cipher_init_key(hs->cs, hs->t1);
    sodium_memzero(hs->t1, SITX_HASHLEN);
    sodium_memzero(hs->t2, SITX_HASHLEN);
}

static int encrypt_and_hash(struct sitx_hs *hs, const uint8_t *pt, size_t pt_len, uint8_t *out,
                            size_t out_cap, size_t *out_len)
{
    int rc = sitx_cipher_encrypt(hs->cs, hs->h, SITX_HASHLEN, pt, pt_len, out, out_cap, out_len);

    if (rc == 0) {
        mix_hash(hs, out, *out_len);
    }
    return rc;
}

/* The next h is computed before decrypting, so ct may be overwritten by the
 * plaintext (in-place reads); h only moves once the tag verified. */
static int decrypt_and_hash(struct sitx_hs *hs, const uint8_t *ct, size_t ct_len, uint8_t *out,
                            size_t out_cap, size_t *out_len)
{
    uint8_t next_h[SITX_HASHLEN];
    int rc;

    sitx_hash2(next_h, hs->h, SITX_HASHLEN, ct, ct_len);
    rc = sitx_cipher_decrypt(hs->cs, hs->h, SITX_HASHLEN, ct, ct_len, out, out_cap, out_len);
    if (rc == 0) {
        memcpy(hs->h, next_h, SITX_HASHLEN);
    }
    sodium_memzero(next_h, sizeof(next_h));
    return rc;
}

/* ---- HandshakeState ---- */

static bool pattern_valid(enum sitx_hs_pattern p)
{
    return (unsigned)p < sizeof(patterns) / sizeof(patterns[0]) &&
           patterns[p].protocol_name != NULL;
}

static bool our_turn_to_write(const struct sitx_hs *hs)
{
    /* Even messages go initiator -> responder. */
    return (hs->msg_index % 2 == 0) == (hs->role == SITX_HS_INITIATOR);
}

static void set_next_action(struct sitx_hs *hs)
{
    if (hs->msg_index >= hs->pat->n_msgs) {
        hs->action = SITX_HS_SPLIT;
    } else {
        hs->action = our_turn_to_write(hs) ? SITX_HS_WRITE_MESSAGE : SITX_HS_READ_MESSAGE;
    }
}

int sitx_hs_new(struct sitx_hs **out, const struct sitx_hs_config *cfg)
{
    struct sitx_hs *hs = NULL;
    const struct pattern_def *pat;
    size_t name_len;
    bool has_static;
    int rc;

    *out = NULL;
    if (cfg == NULL || !pattern_valid(cfg->pattern) ||
        (cfg->role != SITX_HS_INITIATOR && cfg->role != SITX_HS_RESPONDER) ||
        (cfg->prologue == NULL && cfg->prologue_len > 0)) {
        return SITX_E_INVALID;
    }
    pat = &patterns[cfg->pattern];
    has_static = cfg->role == SITX_HS_INITIATOR ? pat->init_static : pat->resp_static;
    if ((has_static && cfg->static_sk == NULL) || (pat->psk && cfg->psk == NULL) ||
        (pat->pre_rs && cfg->role == SITX_HS_INITIATOR && cfg->remote_static_pk == NULL)) {
        return SITX_E_INVALID;
    }

    hs = sodium_malloc(sizeof(*hs));
    if (hs == NULL) {
        return SITX_E_NOMEM;
    }
    sodium_memzero(hs, sizeof(*hs));
    hs->pat = pat;
    hs->role = cfg->role;
    rc = sitx_cipher_new(&hs->cs);
    if (rc != 0) {
        rc = SITX_E_NOMEM;
        goto out;
    }

    if (has_static) {
        memcpy(hs->s_sk, cfg->static_sk, SITX_DH_LEN);
        if (crypto_scalarmult_base(hs->s_pk, hs->s_sk) != 0) {
            rc = SITX_E_BAD_KEY;
            goto out;
        }
        hs->has_s = true;
    }
    if (pat->psk) {
        memcpy(hs->psk, cfg->psk, PSK_LEN);
    }
    if (cfg->fixed_ephemeral_sk != NULL) {
        memcpy(hs->fixed_e_sk, cfg->fixed_ephemeral_sk, SITX_DH_LEN);
        hs->has_fixed_e = true;
    }

    /* InitializeSymmetric: h = name padded with zeros (it fits in HASHLEN). */
    name_len = strlen(pat->protocol_name);
    _Static_assert(sizeof("Noise_XXpsk3_25519_AESGCM_BLAKE2b") - 1 <= SITX_HASHLEN,
                   "protocol names fit in HASHLEN");
    memcpy(hs->h, pat->protocol_name, name_len);
    memcpy(hs->ck, hs->h, SITX_HASHLEN);
    mix_hash(hs, cfg->prologue, cfg->prologue_len);
    /* The one pre-message we use, "<- s": both sides hash the responder's
     * static public key; the initiator also takes it as rs. */
    if (pat->pre_rs) {
        if (cfg->role == SITX_HS_INITIATOR) {
            memcpy(hs->rs, cfg->remote_static_pk, SITX_DH_LEN);
            hs->has_rs = true;
            mix_hash(hs, hs->rs, SITX_DH_LEN);
        } else {
            mix_hash(hs, hs->s_pk, SITX_DH_LEN);
        }
    }

    hs->msg_index = 0;
    set_next_action(hs);
    *out = hs;
    hs = NULL;
    rc = 0;
out:
    sitx_hs_free(hs);
    return rc;
}

void sitx_hs_free(struct sitx_hs *hs)
{
    if (hs != NULL) {
        sitx_cipher_free(hs->cs);
        sodium_memzero(hs, sizeof(*hs));
        sodium_free(hs);
    }
}

enum sitx_hs_action sitx_hs_get_action(const struct sitx_hs *hs)
{
    return hs->action;
}

/* Bytes of the current message before its payload, and whether the payload
 * will be encrypted (a key is set by then). */
static size_t fixed_len(const struct sitx_hs *hs, bool *payload_keyed)
{
    const uint8_t *tok = hs->pat->tokens[hs->msg_index];
    bool has_key = sitx_cipher_has_key(hs->cs);
    size_t len = 0;

    for (size_t i = 0; i < MAX_TOKENS && tok[i] != T_END; i++) {
        switch (tok[i]) {
        case T_E:
            len += SITX_DH_LEN;
            if (hs->pat->psk) {
                has_key = true;
            }
            break;
        case T_S:
            len += SITX_DH_LEN + (has_key ? SITX_TAG_LEN : 0);
            break;
        default: /* ee, es, se, ss, psk: each sets a key */
            has_key = true;
            break;
        }
    }
    *payload_keyed = has_key;
    return len;
}

size_t sitx_hs_message_len(const struct sitx_hs *hs, size_t payload_len)
{
    bool keyed = false;
    size_t len;

    if (hs->action != SITX_HS_WRITE_MESSAGE && hs->action != SITX_HS_READ_MESSAGE) {
        return 0;
    }
    if (payload_len > SITX_NOISE_MAX_MSG) {
        return SIZE_MAX;
    }
    len = fixed_len(hs, &keyed);
    return len + payload_len + (keyed ? SITX_TAG_LEN : 0);
}

static void new_ephemeral(struct sitx_hs *hs)
{
    if (hs->has_fixed_e) {
        memcpy(hs->e_sk, hs->fixed_e_sk, SITX_DH_LEN);
    } else {
        randombytes_buf(hs->e_sk, SITX_DH_LEN);
    }
}

/* The DH a token names, from this side's point of view. */
static int token_dh(struct sitx_hs *hs, enum token t)
{
    bool init = hs->role == SITX_HS_INITIATOR;
    const uint8_t *sk;
    const uint8_t *pk;
    int rc;

    switch (t) {
    case T_EE:
        sk = hs->e_sk;
        pk = hs->re;
        break;
    case T_ES:
        sk = init ? hs->e_sk : hs->s_sk;
        pk = init ? hs->rs : hs->re;
        break;
    case T_SE:
        sk = init ? hs->s_sk : hs->e_sk;
        pk = init ? hs->re : hs->rs;
        break;
    case T_SS:
        sk = hs->s_sk;
        pk = hs->rs;
        break;
    default:
        return SITX_E_INTERNAL;
    }
    rc = sitx_dh(hs->dh, sk, pk);
    if (rc == 0) {
        mix_key(hs, hs->dh, SITX_DH_LEN);
    }
    sodium_memzero(hs->dh, SITX_DH_LEN);
    return rc;
}

int sitx_hs_write_message(struct sitx_hs *hs, const uint8_t *payload, size_t payload_len,
                          uint8_t *out, size_t out_cap, size_t *out_len)
{
    const uint8_t *tok;
    size_t need;
    size_t pos = 0;
    size_t n = 0;
    int rc = 0;

    *out_len = 0;
    if (hs->action != SITX_HS_WRITE_MESSAGE) {
        return SITX_E_STATE;
    }
    if (payload == NULL && payload_len > 0) {
        return SITX_E_INVALID;
    }
    need = sitx_hs_message_len(hs, payload_len);
    if (need > SITX_NOISE_MAX_MSG) {
        return SITX_E_TOO_LARGE;
    }
    if (out == NULL || out_cap < need) {
        return SITX_E_BUFFER;
    }

    tok = hs->pat->tokens[hs->msg_index];
    for (size_t i = 0; i < MAX_TOKENS && tok[i] != T_END && rc == 0; i++) {
        switch (tok[i]) {
        case T_E:
            new_ephemeral(hs);
            if (crypto_scalarmult_base(hs->e_pk, hs->e_sk) != 0) {
                rc = SITX_E_BAD_KEY;
                break;
            }
            memcpy(out + pos, hs->e_pk, SITX_DH_LEN);
            pos += SITX_DH_LEN;
            mix_hash(hs, hs->e_pk, SITX_DH_LEN);
            if (hs->pat->psk) {
                mix_key(hs, hs->e_pk, SITX_DH_LEN);
            }
            break;
        case T_S:
            rc = encrypt_and_hash(hs, hs->s_pk, SITX_DH_LEN, out + pos, out_cap - pos, &n);
            pos += n;
            break;
        case T_PSK:
            mix_key_and_hash(hs, hs->psk, PSK_LEN);
            break;
        default:
            rc = token_dh(hs, tok[i]);
            break;
        }
    }
    if (rc == 0) {
        rc = encrypt_and_hash(hs, payload, payload_len, out + pos, out_cap - pos, &n);
        pos += n;
    }
    if (rc != 0) {
        /* Half a message has changed h and ck: the state cannot go on. */
        sodium_memzero(out, need);
        hs->action = SITX_HS_FAILED;
        return rc;
    }
    *out_len = pos;
    hs->msg_index++;
    set_next_action(hs);
    return 0;
}

int sitx_hs_read_message(struct sitx_hs *hs, const uint8_t *msg, size_t msg_len, uint8_t *payload,
                         size_t payload_cap, size_t *payload_len)
{
    const uint8_t *tok;
    bool keyed = false;
    size_t fixed;
    size_t pos = 0;
    size_t n = 0;
    size_t ct_len;
    size_t want;
    int rc = 0;

    *payload_len = 0;
    if (hs->action != SITX_HS_READ_MESSAGE) {
        return SITX_E_STATE;
    }
    fixed = fixed_len(hs, &keyed);
    if (msg == NULL || msg_len > SITX_NOISE_MAX_MSG ||
        msg_len < fixed + (keyed ? SITX_TAG_LEN : 0)) {
        rc = SITX_E_MALFORMED;
        goto out;
    }
    want = msg_len - fixed - (keyed ? SITX_TAG_LEN : 0);
    if (want > 0 && (payload == NULL || payload_cap < want)) {
        rc = SITX_E_BUFFER;
        goto out;
    }

    tok = hs->pat->tokens[hs->msg_index];
    for (size_t i = 0; i < MAX_TOKENS && tok[i] != T_END && rc == 0; i++) {
        switch (tok[i]) {
        case T_E:
            memcpy(hs->re, msg + pos, SITX_DH_LEN);
            pos += SITX_DH_LEN;
            mix_hash(hs, hs->re, SITX_DH_LEN);
            if (hs->pat->psk) {
                mix_key(hs, hs->re, SITX_DH_LEN);
            }
            break;
        case T_S:
            ct_len = SITX_DH_LEN + (sitx_cipher_has_key(hs->cs) ? SITX_TAG_LEN : 0);
            rc = decrypt_and_hash(hs, msg + pos, ct_len, hs->rs, sizeof(hs->rs), &n);
            pos += ct_len;
            hs->has_rs = rc == 0;
            break;
        case T_PSK:
            mix_key_and_hash(hs, hs->psk, PSK_LEN);
            break;
        default:
            rc = token_dh(hs, tok[i]);
            break;
        }
    }
    if (rc == 0) {
        rc = decrypt_and_hash(hs, msg + pos, msg_len - pos, payload, payload_cap, payload_len);
    }
out:
    if (rc != 0) {
        /* A failed tag already wiped what it wrote to payload. */
        *payload_len = 0;
        hs->action = SITX_HS_FAILED;
        return rc;
    }
    hs->msg_index++;
    set_next_action(hs);
    return 0;
}

int sitx_hs_remote_static(const struct sitx_hs *hs, uint8_t out[static SITX_DH_LEN])
{
    if (!hs->has_rs || hs->action == SITX_HS_FAILED) {
        return SITX_E_STATE;
    }
    memcpy(out, hs->rs, SITX_DH_LEN);
    return 0;
}

int sitx_hs_local_static(const struct sitx_hs *hs, uint8_t out[static SITX_DH_LEN])
{
    if (!hs->has_s) {
        return SITX_E_STATE;
    }
    memcpy(out, hs->s_pk, SITX_DH_LEN);
    return 0;
}

int sitx_hs_handshake_hash(const struct sitx_hs *hs, uint8_t out[static SITX_HASHLEN])
{
    /* Before the last message h is still moving: refuse rather than hand
     * out a value that a channel binding could not rely on. */
    if (hs->action != SITX_HS_SPLIT) {
        return SITX_E_STATE;
    }
    memcpy(out, hs->h, SITX_HASHLEN);
    return 0;
}

int sitx_hs_split(struct sitx_hs *hs, struct sitx_cipher **send, struct sitx_cipher **recv)
{
    struct sitx_cipher *c1 = NULL;
    struct sitx_cipher *c2 = NULL;
    int rc;

    *send = NULL;
    *recv = NULL;
    if (hs->action != SITX_HS_SPLIT || hs->split_done) {
        return SITX_E_STATE;
    }
    if (sitx_cipher_new(&c1) != 0 || sitx_cipher_new(&c2) != 0) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    sitx_hkdf(hs->ck, NULL, 0, hs->t1, hs->t2, NULL);
    /* Each 64-byte output is truncated to the 32-byte AES key. */
    sitx_cipher_init_key(c1, hs->t1);
    sitx_cipher_init_key(c2, hs->t2);
    if (hs->role == SITX_HS_INITIATOR) {
        *send = c1;
        *recv = c2;
    } else {
        *send = c2;
        *recv = c1;
    }
    c1 = NULL;
    c2 = NULL;
    /* Only h is needed after this; drop everything that could rebuild the keys. */
    sodium_memzero(hs->ck, sizeof(hs->ck));
    sodium_memzero(hs->e_sk, sizeof(hs->e_sk));
    sodium_memzero(hs->s_sk, sizeof(hs->s_sk));
    sodium_memzero(hs->psk, sizeof(hs->psk));
    sodium_memzero(hs->fixed_e_sk, sizeof(hs->fixed_e_sk));
    hs->split_done = true;
    rc = 0;
out:
    sodium_memzero(hs->t1, sizeof(hs->t1));
    sodium_memzero(hs->t2, sizeof(hs->t2));
    sitx_cipher_free(c1);
    sitx_cipher_free(c2);
    return rc;
}
