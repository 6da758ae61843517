/* Sealed files: the clear header, the length bucket, and the writer. The
 * writer builds the whole file in memory: an image is at most tens of MB and
 * the sender holds its payload in memory anyway. */
#include "seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "err.h"
#include "handshake.h"
#include "record.h"
#include "secmem.h"
#include "seal_int.h"
#include "transport.h"

static const char password_static_label[] = "sitx/1 sealed password static";

uint64_t sitx_seal_bucket(uint64_t len)
{
    uint64_t e = 0;
    uint64_t s = 0;
    uint64_t mask;

    if (len < SITX_SEAL_MIN_LEN) {
        len = SITX_SEAL_MIN_LEN;
    }
    /* padmé (Nikitin et al., PURBs): E = floor(log2 L), S = floor(log2 E) + 1,
     * round L up to a multiple of 2^(E - S). */
    for (uint64_t v = len; v > 1; v >>= 1) {
        e++;
    }
    for (uint64_t v = e; v > 1; v >>= 1) {
        s++;
    }
    s++;
    mask = (UINT64_C(1) << (e - s)) - 1;
    if (len > UINT64_MAX - mask) {
        return 0;
    }
    return (len + mask) & ~mask;
}

void sitx_seal_password_static(const uint8_t psk[static 32], uint8_t sk[static 32])
{
    crypto_generichash(sk, 32, (const uint8_t *)password_static_label,
                       sizeof(password_static_label) - 1, psk, 32);
}

int sitx_seal_header_encode(const struct sitx_seal_header *h,
                            uint8_t out[static SITX_SEAL_HEADER_LEN])
{
    memset(out, 0, SITX_SEAL_HEADER_LEN);
    memcpy(out, SITX_SEAL_MAGIC, SITX_SEAL_MAGIC_LEN);
    out[8] = SITX_SEAL_VERSION;
    out[9] = h->mode;
    if (h->mode == SITX_SEAL_PASSWORD) {
        sitx_store_be32(out + 12, h->argon_ops);
        sitx_store_be32(out + 16, h->argon_mem_kib);
        memcpy(out + 20, h->salt, SITX_SEAL_SALT_LEN);
    }
    return 0;
}

static int bad_header(char *errstr, size_t errstr_len, const char *why)
{
    if (errstr != NULL && errstr_len > 0) {
        snprintf(errstr, errstr_len, "%s", why);
    }
    return SITX_E_MALFORMED;
}

int sitx_seal_header_decode(const uint8_t in[static SITX_SEAL_HEADER_LEN],
                            struct sitx_seal_header *h, char *errstr, size_t errstr_len)
{
    memset(h, 0, sizeof(*h));
    if (memcmp(in, SITX_SEAL_MAGIC, SITX_SEAL_MAGIC_LEN) != 0) {
        return bad_header(errstr, errstr_len, "not a sitx sealed file (no SITXSEAL magic)");
    }
    if (in[8] != SITX_SEAL_VERSION) {
        if (errstr != NULL && errstr_len > 0) {
            snprintf(errstr, errstr_len, "sealed file format version %u; this reads version %d",
                     in[8], SITX_SEAL_VERSION);
        }
        return SITX_E_VERSION;
    }
    if (in[10] != 0 || in[11] != 0) {
        return bad_header(errstr, errstr_len, "sealed file header: reserved bytes not zero");
    }
    h->mode = in[9];
    h->argon_ops = sitx_load_be32(in + 12);
    h->argon_mem_kib = sitx_load_be32(in + 16);
    memcpy(h->salt, in + 20, SITX_SEAL_SALT_LEN);
    switch (h->mode) {
    case SITX_SEAL_ANONYMOUS:
    case SITX_SEAL_SIGNED:
        if (!sodium_is_zero(in + 12, SITX_SEAL_HEADER_LEN - 12)) {
            return bad_header(errstr, errstr_len,
                              "sealed file header: key mode with password parameters");
        }
        return 0;
    case SITX_SEAL_PASSWORD:
        /* The same bounds as the greeting's: a crafted file must not make
         * the opener run Argon2id for minutes or with gigabytes. */
        if (h->argon_ops < SITX_SEAL_ARGON_OPS_MIN || h->argon_ops > SITX_SEAL_ARGON_OPS_MAX ||
            h->argon_mem_kib < SITX_SEAL_ARGON_MEM_MIN ||
            h->argon_mem_kib > SITX_SEAL_ARGON_MEM_MAX) {
            return bad_header(errstr, errstr_len,
                              "sealed file header: Argon2id parameters out of range");
        }
        return 0;
    default:
        return bad_header(errstr, errstr_len, "sealed file header: unknown mode");
    }
}

void sitx_seal_prologue(const uint8_t header[static SITX_SEAL_HEADER_LEN],
                        uint8_t out[static SITX_SEAL_PROLOGUE_LEN])
{
    memcpy(out, SITX_SEAL_PROLOGUE_LABEL, sizeof(SITX_SEAL_PROLOGUE_LABEL) - 1);
    memcpy(out + sizeof(SITX_SEAL_PROLOGUE_LABEL) - 1, header, SITX_SEAL_HEADER_LEN);
}

enum sitx_hs_pattern sitx_seal_pattern(uint8_t mode)
{
    switch (mode) {
    case SITX_SEAL_ANONYMOUS:
        return SITX_HS_N;
    case SITX_SEAL_SIGNED:
        return SITX_HS_X;
    default:
        return SITX_HS_NPSK0;
    }
}

/* Seals one record into out as a frame. */
static int put_record(struct sitx_cipher *tx, const uint8_t *rec, size_t rec_len,
                      struct sitx_buf *out)
{
    size_t n = 0;
    int rc = sitx_buf_reserve(out, rec_len + SITX_FRAME_HDR + SITX_TAG_LEN);

    if (rc != 0) {
        return rc;
    }
    rc = sitx_transport_seal(tx, rec, rec_len, out->data + out->len, out->cap - out->len, &n);
    if (rc == 0) {
        out->len += n;
    }
    return rc;
}

/* PAD records, then FINAL, so that the file is exactly sitx_seal_bucket()
 * of its unpadded length (FINAL with an empty body). */
static int put_padding(struct sitx_cipher *tx, uint8_t *rec, struct sitx_buf *out)
{
    uint64_t unpadded = (uint64_t)out->len + SITX_SEAL_FRAME_OVERHEAD;
    uint64_t target = sitx_seal_bucket(unpadded);
    uint64_t pad;
    size_t body;
    int rc = 0;

    if (target == 0) {
        return SITX_E_TOO_LARGE;
    }
    pad = target - unpadded;
    memset(rec, 0, SITX_RECORD_MAX);
    while (rc == 0 && pad > SITX_SEAL_PAD_MAX) {
        /* A PAD frame costs its overhead plus its body; never leave less
         * than nothing for FINAL. */
        body = pad - SITX_SEAL_FRAME_OVERHEAD < SITX_SEAL_PAD_MAX
                   ? (size_t)(pad - SITX_SEAL_FRAME_OVERHEAD)
                   : SITX_SEAL_PAD_MAX;
        rec[0] = SITX_SEAL_REC_PAD;
        rc = put_record(tx, rec, 1 + body, out);
        pad -= SITX_SEAL_FRAME_OVERHEAD + body;
    }
    if (rc == 0) {
        rec[0] = SITX_SEAL_REC_FINAL;
        rc = put_record(tx, rec, 1 + (size_t)pad, out);
    }
    return rc;
}

static int check_params(const struct sitx_seal_params *p, const uint8_t *payload, size_t len)
{
    if (p == NULL || p->id == NULL || payload == NULL || len == 0) {
        return SITX_E_INVALID;
    }
    switch (p->mode) {
    case SITX_SEAL_ANONYMOUS:
        return p->receiver_pk != NULL ? 0 : SITX_E_INVALID;
    case SITX_SEAL_SIGNED:
        return p->receiver_pk != NULL && p->sender_sk != NULL ? 0 : SITX_E_INVALID;
    case SITX_SEAL_PASSWORD:
        return p->psk != NULL && p->salt != NULL ? 0 : SITX_E_INVALID;
    default:
        return SITX_E_INVALID;
    }
}

/* Header, then the handshake message in a frame; leaves the sending
 * CipherState in *tx. */
static int put_handshake(const struct sitx_seal_params *p, struct sitx_buf *out,
                         struct sitx_cipher **tx)
{
    struct sitx_seal_header h;
    struct sitx_hs_config cfg;
    struct sitx_hs *hs = NULL;
    struct sitx_cipher *rx = NULL;
    uint8_t *keys = NULL; /* [0..32) derived static sk, [32..64) its public key */
    uint8_t hdr[SITX_SEAL_HEADER_LEN];
    uint8_t prologue[SITX_SEAL_PROLOGUE_LEN];
    uint8_t msg[SITX_SEAL_HS_MAX];
    size_t n = 0;
    int rc;

    memset(&h, 0, sizeof(h));
    memset(&cfg, 0, sizeof(cfg));
    h.mode = (uint8_t)p->mode;
    if (p->mode == SITX_SEAL_PASSWORD) {
        h.argon_ops = p->argon_ops;
        h.argon_mem_kib = p->argon_mem_kib;
        memcpy(h.salt, p->salt, SITX_SEAL_SALT_LEN);
    }
    sitx_seal_header_encode(&h, hdr);
    sitx_seal_prologue(hdr, prologue);
    cfg.pattern = sitx_seal_pattern(h.mode);
    cfg.role = SITX_HS_INITIATOR;
    cfg.prologue = prologue;
    cfg.prologue_len = sizeof(prologue);
    cfg.fixed_ephemeral_sk = p->fixed_ephemeral_sk;
    if (p->mode == SITX_SEAL_PASSWORD) {
        keys = sitx_secret_alloc(64);
        if (keys == NULL) {
            rc = SITX_E_NOMEM;
            goto out;
        }
        sitx_seal_password_static(p->psk, keys);
        crypto_scalarmult_base(keys + 32, keys);
        cfg.remote_static_pk = keys + 32;
        cfg.psk = p->psk;
    } else {
        cfg.remote_static_pk = p->receiver_pk;
        cfg.static_sk = p->mode == SITX_SEAL_SIGNED ? p->sender_sk : NULL;
    }
    rc = sitx_hs_new(&hs, &cfg);
    if (rc == 0) {
        rc = sitx_hs_write_message(hs, NULL, 0, msg, sizeof(msg), &n);
    }
    if (rc == 0) {
        rc = sitx_buf_reserve(out, sizeof(hdr) + SITX_FRAME_HDR + n);
    }
    if (rc == 0) {
        memcpy(out->data + out->len, hdr, sizeof(hdr));
        sitx_store_be16(out->data + out->len + sizeof(hdr), (uint16_t)n);
        memcpy(out->data + out->len + sizeof(hdr) + SITX_FRAME_HDR, msg, n);
        out->len += sizeof(hdr) + SITX_FRAME_HDR + n;
        rc = sitx_hs_split(hs, tx, &rx);
    }
out:
    sitx_cipher_free(rx); /* one-way: nothing comes back */
    sitx_hs_free(hs);
    sitx_secret_free(keys, 64);
    return rc;
}

int sitx_seal_write(const struct sitx_seal_params *p, uint8_t format, const char *name,
                    const uint8_t *payload, size_t len, struct sitx_buf *out)
{
    struct sitx_cipher *tx = NULL;
    struct sitx_offer offer;
    struct sitx_end end;
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    size_t off = 0;
    size_t chunk;
    int rc = check_params(p, payload, len);

    sitx_buf_clear(out);
    if (rc != 0) {
        return rc;
    }
    if (name == NULL || strlen(name) > SITX_NAME_MAX) {
        return SITX_E_TOO_LARGE;
    }
    memset(&offer, 0, sizeof(offer));
    memcpy(offer.id, p->id, SITX_TRANSFER_ID_BYTES);
    offer.format = format;
    offer.size = len;
    sitx_content_hash(offer.hash, payload, len);
    memcpy(offer.name, name, strlen(name) + 1);
    memcpy(end.hash, offer.hash, sizeof(end.hash));

    rec = malloc(SITX_RECORD_MAX);
    if (rec == NULL) {
        return SITX_E_NOMEM;
    }
    /* Encode OFFER first: a bad name fails before any crypto. */
    rc = sitx_offer_encode(&offer, rec, SITX_RECORD_MAX, &rec_len);
    if (rc == 0) {
        rc = put_handshake(p, out, &tx);
    }
    if (rc == 0) {
        rc = put_record(tx, rec, rec_len, out);
    }
    while (rc == 0 && off < len) {
        chunk = len - off < SITX_DATA_MAX ? len - off : SITX_DATA_MAX;
        rc = sitx_data_encode(payload + off, chunk, rec, SITX_RECORD_MAX, &rec_len);
        if (rc == 0) {
            rc = put_record(tx, rec, rec_len, out);
        }
        off += chunk;
    }
    if (rc == 0) {
        rc = sitx_end_encode(&end, rec, SITX_RECORD_MAX, &rec_len);
    }
    if (rc == 0) {
        rc = put_record(tx, rec, rec_len, out);
    }
    if (rc == 0) {
        rc = put_padding(tx, rec, out);
    }
    if (rc != 0) {
        sitx_buf_clear(out);
    }
    sitx_cipher_free(tx);
    free(rec);
    return rc;
}
