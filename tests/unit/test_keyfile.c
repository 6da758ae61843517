/* Key pairs, private key files (0600, O_EXCL, permission checks), public key
 * text and fingerprints, with RFC 7748 keys as fixed vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "keyfile.h"
#include "secmem.h"
#include "testutil.h"

/* RFC 7748 section 6.1: Alice's and Bob's X25519 keys. */
static const char ALICE_SK_B64[] = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
static const char ALICE_PK_HEX[] =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char ALICE_PK_B64[] = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
static const char BOB_PK_B64[] = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";
/* First 8 bytes of BLAKE2b-256(pk), computed with Python's hashlib. */
static const char ALICE_FP[] = "7a91869e4c114964";
static const char BOB_FP[] = "e95918fc55316af0";
static const char BYTES_0_31_FP[] = "cb2f5160fc1f7e05";

struct fixture {
    char *dir;
    char path[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || sodium_init() < 0) {
        free(f);
        return -1;
    }
    f->dir = tu_mkdtemp();
    if (f->dir == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/key", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void write_text(const char *path, const char *text, int mode)
{
    assert_int_equal(tu_write_file(path, (const uint8_t *)text, strlen(text), mode), 0);
    /* tu_write_file's mode goes through the umask; set it exactly. */
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static void pk_from_hex(const char *hex, uint8_t pk[SITX_KEY_BYTES])
{
    uint8_t *b = NULL;
    size_t n = 0;

    assert_int_equal(tu_hex_decode(hex, &b, &n), 0);
    assert_int_equal(n, SITX_KEY_BYTES);
    memcpy(pk, b, n);
    free(b);
}

static void test_generate(void **state)
{
    struct sitx_keypair a = {0};
    struct sitx_keypair b = {0};
    uint8_t pk[SITX_KEY_BYTES];

    (void)state;
    assert_int_equal(sitx_keypair_generate(&a), 0);
    assert_int_equal(sitx_keypair_generate(&b), 0);
    assert_non_null(a.sk);
    assert_int_equal(crypto_scalarmult_base(pk, a.sk), 0);
    assert_memory_equal(pk, a.pk, SITX_KEY_BYTES);
    assert_memory_not_equal(a.sk, b.sk, SITX_KEY_BYTES);
    sitx_keypair_clear(&a);
    sitx_keypair_clear(&b);
    assert_null(a.sk);
    sitx_keypair_clear(&a);
    sitx_keypair_clear(NULL);
}

static void test_save_mode_content_and_reload(void **state)
{
    struct fixture *f = *state;
    struct sitx_keypair kp = {0};
    struct sitx_keypair back = {0};
    char b64[64];
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    struct stat st;

    assert_int_equal(sitx_keypair_generate(&kp), 0);
    umask(0); /* the file must be 0600 by itself, not thanks to the umask */
    assert_int_equal(sitx_keyfile_save(f->path, &kp), 0);
    umask(022);
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    sodium_bin2base64(b64, sizeof(b64), kp.sk, SITX_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(tu_read_file(f->path, &raw, &raw_len), 0);
    assert_int_equal(raw_len, 45);
    assert_memory_equal(raw, b64, 44);
    assert_int_equal(raw[44], '\n');
    free(raw);

    assert_int_equal(sitx_keyfile_load(f->path, &back), 0);
    assert_memory_equal(back.sk, kp.sk, SITX_KEY_BYTES);
    assert_memory_equal(back.pk, kp.pk, SITX_KEY_BYTES);
    sitx_keypair_clear(&kp);
    sitx_keypair_clear(&back);
}

static void test_save_never_overwrites(void **state)
{
    struct fixture *f = *state;
    struct sitx_keypair kp = {0};
    char link_path[600];
    char target[600];
    uint8_t *raw = NULL;
    size_t raw_len = 0;

    write_text(f->path, "precious\n", 0600);
    assert_int_equal(sitx_keypair_generate(&kp), 0);
    assert_int_equal(sitx_keyfile_save(f->path, &kp), -EEXIST);
    assert_int_equal(tu_read_file(f->path, &raw, &raw_len), 0);
    assert_int_equal(raw_len, 9);
    assert_memory_equal(raw, "precious\n", 9);
    free(raw);

    /* A dangling symlink must not lead the key somewhere else. */
    snprintf(link_path, sizeof(link_path), "%s/link", f->dir);
    snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
    assert_int_equal(symlink(target, link_path), 0);
    assert_int_equal(sitx_keyfile_save(link_path, &kp), -EEXIST);
    assert_int_equal(access(target, F_OK), -1);

    /* Missing directory: -ENOENT, nothing left behind. */
    snprintf(link_path, sizeof(link_path), "%s/nodir/key", f->dir);
    assert_int_equal(sitx_keyfile_save(link_path, &kp), -ENOENT);
    sitx_keypair_clear(&kp);
}

/* Runs a load with stderr sent to a file; returns what was written there. */
static char *load_capturing_stderr(const char *path, int *rc)
{
    struct sitx_keypair kp = {0};
    char *dir = tu_mkdtemp();
    char cap_path[512];
    int cap_fd;
    int saved = dup(STDERR_FILENO);
    uint8_t *out = NULL;
    size_t len = 0;

    assert_non_null(dir);
    snprintf(cap_path, sizeof(cap_path), "%s/stderr", dir);
    cap_fd = open(cap_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(cap_fd >= 0);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_int_equal(dup2(cap_fd, STDERR_FILENO), STDERR_FILENO);
    *rc = sitx_keyfile_load(path, &kp);
    fflush(stderr);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(cap_fd);
    assert_int_equal(tu_read_file(cap_path, &out, &len), 0);
    tu_rmrf(dir);
    free(dir);
    sitx_keypair_clear(&kp);
    return (char *)out;
}

static void test_load_refuses_readable_by_others(void **state)
{
    struct fixture *f = *state;
    static const int bad_modes[] = {0644, 0640, 0604, 0610, 0601, 0660, 0666, 0777};
    char text[64];
    int rc = 0;

    snprintf(text, sizeof(text), "%s\n", ALICE_SK_B64);
    for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
        char *err;

        unlink(f->path);
        write_text(f->path, text, bad_modes[i]);
        err = load_capturing_stderr(f->path, &rc);
        assert_int_equal(rc, SITX_E_PERMS);
        /* The library says nothing itself; in particular no path in a log. */
        assert_null(strstr(err, f->path));
        assert_string_equal(err, "");
        free(err);
    }
    unlink(f->path);
    write_text(f->path, text, 0400);
    {
        char *err = load_capturing_stderr(f->path, &rc);

        assert_int_equal(rc, 0);
        free(err);
    }
}

static void test_load_fixed_vector(void **state)
{
    struct fixture *f = *state;
    struct sitx_keypair kp = {0};
    uint8_t want[SITX_KEY_BYTES];
    char text[64];

    pk_from_hex(ALICE_PK_HEX, want);
    snprintf(text, sizeof(text), "%s\r\n", ALICE_SK_B64);
    write_text(f->path, text, 0600);
    assert_int_equal(sitx_keyfile_load(f->path, &kp), 0);
    assert_memory_equal(kp.pk, want, SITX_KEY_BYTES);
    sitx_keypair_clear(&kp);
}

static void test_load_bad_contents(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "",
        "\n",
        "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo\n",   /* 43: no padding */
        "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo==\n", /* 45 */
        "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC!=\n",  /* not base64 */
        "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nextra\n",
        "dwdtCnMYpX08-sFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", /* URL-safe alphabet */
    };
    struct sitx_keypair kp = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unlink(f->path);
        write_text(f->path, bad[i], 0600);
        if (sitx_keyfile_load(f->path, &kp) != SITX_E_BAD_KEY) {
            fail_msg("bad key file %zu accepted", i);
        }
        assert_null(kp.sk);
    }
}

static void test_load_not_a_regular_file(void **state)
{
    struct fixture *f = *state;
    struct sitx_keypair kp = {0};
    char fifo[600];

    assert_int_equal(sitx_keyfile_load(f->dir, &kp), -EISDIR);
    assert_int_equal(sitx_keyfile_load("/nonexistent/sitx/key", &kp), -ENOENT);
    snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* Must return at once rather than wait for a writer. */
    assert_int_equal(sitx_keyfile_load(fifo, &kp), -EINVAL);
    assert_null(kp.sk);
}

static void test_read_private_file(void **state)
{
    struct fixture *f = *state;
    uint8_t *out = NULL;
    size_t len = 0;

    write_text(f->path, "0123456789", 0600);
    assert_int_equal(sitx_read_private_file(f->path, 10, &out, &len), 0);
    assert_int_equal(len, 10);
    assert_memory_equal(out, "0123456789", 11); /* NUL included */
    sitx_secret_free(out, len + 1);

    assert_int_equal(sitx_read_private_file(f->path, 9, &out, &len), SITX_E_TOO_LARGE);
    assert_null(out);

    unlink(f->path);
    write_text(f->path, "", 0600);
    assert_int_equal(sitx_read_private_file(f->path, 10, &out, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(out[0], '\0');
    sitx_secret_free(out, len + 1);

    assert_int_equal(chmod(f->path, 0620), 0);
    assert_int_equal(sitx_read_private_file(f->path, 10, &out, &len), SITX_E_PERMS);
}

static void test_pubkey_roundtrip(void **state)
{
    uint8_t pk[SITX_KEY_BYTES];
    uint8_t back[SITX_KEY_BYTES];
    char text[SITX_PUBKEY_TEXT_LEN + 1];

    (void)state;
    pk_from_hex(ALICE_PK_HEX, pk);
    sitx_pubkey_encode(pk, text);
    assert_string_equal(text, ALICE_PK_B64);
    assert_int_equal(sitx_pubkey_decode(text, strlen(text), back), 0);
    assert_memory_equal(back, pk, SITX_KEY_BYTES);

    for (int i = 0; i < 200; i++) {
        struct sitx_keypair kp = {0};

        assert_int_equal(sitx_keypair_generate(&kp), 0);
        sitx_pubkey_encode(kp.pk, text);
        assert_int_equal(strlen(text), SITX_PUBKEY_TEXT_LEN);
        memset(back, 0, sizeof(back));
        assert_int_equal(sitx_pubkey_decode(text, SITX_PUBKEY_TEXT_LEN, back), 0);
        assert_memory_equal(back, kp.pk, SITX_KEY_BYTES);
        sitx_keypair_clear(&kp);
    }

    /* Surrounding blanks are fine; the length given is honoured. */
    assert_int_equal(sitx_pubkey_decode("  "
                                        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
                                        "\t\n",
                                        48, back),
                     0);
    assert_memory_equal(back, pk, SITX_KEY_BYTES);
    assert_int_equal(
        sitx_pubkey_decode("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=garbage", 44, back), 0);
}

static void test_pubkey_rejects(void **state)
{
    static const char *const bad[] = {
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",   /* 43 */
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==", /* 45 */
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA",  /* 44, no padding */
        "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=",  /* URL-safe '_' */
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqqb*mo=",
        "hSDwCYkwp1R0i33ctD73Wg2 Og0mOBr066SpjqqbTmo=",
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=", /* non-zero padding bits */
        "",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* all-zero key: low order */
    };
    uint8_t pk[SITX_KEY_BYTES];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sitx_pubkey_decode(bad[i], strlen(bad[i]), pk) != SITX_E_BAD_KEY) {
            fail_msg("bad public key %zu accepted: %s", i, bad[i]);
        }
    }
    assert_int_equal(sitx_pubkey_decode(NULL, 0, pk), SITX_E_BAD_KEY);
}

static void test_pubkey_rejects_low_order(void **state)
{
    /* Points of small order (and p, p + 1), as little-endian u-coordinates. */
    static const char *const hex[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    };
    uint8_t scalar[32];
    uint8_t shared[32];

    (void)state;
    randombytes_buf(scalar, sizeof(scalar));
    for (size_t i = 0; i < sizeof(hex) / sizeof(hex[0]); i++) {
        uint8_t pk[SITX_KEY_BYTES];
        uint8_t out[SITX_KEY_BYTES];
        char text[SITX_PUBKEY_TEXT_LEN + 1];

        pk_from_hex(hex[i], pk);
        /* The premise, checked with libsodium: these give an all-zero secret. */
        assert_int_equal(crypto_scalarmult(shared, scalar, pk), -1);
        sitx_pubkey_encode(pk, text);
        assert_int_equal(sitx_pubkey_decode(text, strlen(text), out), SITX_E_BAD_KEY);
        /* Bit 255 is ignored by X25519, so it must not sneak one past. */
        pk[31] |= 0x80;
        assert_int_equal(crypto_scalarmult(shared, scalar, pk), -1);
        sitx_pubkey_encode(pk, text);
        assert_int_equal(sitx_pubkey_decode(text, strlen(text), out), SITX_E_BAD_KEY);
    }
}

static void test_fingerprint_vectors(void **state)
{
    uint8_t pk[SITX_KEY_BYTES];
    char fp[SITX_FINGERPRINT_LEN + 1];

    (void)state;
    pk_from_hex(ALICE_PK_HEX, pk);
    sitx_fingerprint(pk, fp);
    assert_string_equal(fp, ALICE_FP);
    assert_int_equal(sitx_pubkey_decode(BOB_PK_B64, 44, pk), 0);
    sitx_fingerprint(pk, fp);
    assert_string_equal(fp, BOB_FP);
    for (int i = 0; i < SITX_KEY_BYTES; i++) {
        pk[i] = (uint8_t)i;
    }
    sitx_fingerprint(pk, fp);
    assert_string_equal(fp, BYTES_0_31_FP);
}

/* ---- PROTOCOL.md §5.7: the documented derivation, checked on its vector ---- */

/* File scope: gcc -O2 takes a pointer into a local's target for a dangling one. */
static uint8_t *doc_text;

static char *protocol_md(void)
{
    static char path[4096];
    const char *env = getenv("SITX_PROTOCOL_MD");
    const char *here = __FILE__;
    const char *cut = strstr(here, "tests/unit/test_keyfile.c");
    size_t len = 0;

    if (env != NULL && env[0] != '\0') {
        snprintf(path, sizeof(path), "%s", env);
    } else if (cut != NULL) {
        snprintf(path, sizeof(path), "%.*sproto/PROTOCOL.md", (int)(cut - here), here);
    } else {
        fail_msg("cannot locate the source tree from __FILE__ (%s); set SITX_PROTOCOL_MD", here);
    }
    doc_text = NULL;
    if (tu_read_file(path, &doc_text, &len) != 0) {
        fail_msg("cannot read %s", path);
    }
    return (char *)doc_text; /* tu_read_file NUL-terminates */
}

/* Copies the value of the line "label: value" inside block into out. */
static void vector_line(const char *block, const char *label, char *out, size_t cap)
{
    const char *p = strstr(block, label);
    size_t n = 0;

    if (p == NULL) {
        fail_msg("PROTOCOL.md keyfile-vector has no line `%s'", label);
    }
    p += strlen(label);
    while (*p == ' ') {
        p++;
    }
    while (p[n] != '\0' && p[n] != '\n' && p[n] != ' ') {
        n++;
    }
    assert_true(n > 0 && n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* The bytes of a ```hex NAME block, comments after '#' skipped. */
static void hex_block(const char *doc, const char *name, uint8_t *out, size_t want)
{
    char head[128];
    const char *p;
    size_t n = 0;

    snprintf(head, sizeof(head), "```hex %s\n", name);
    p = strstr(doc, head);
    if (p == NULL) {
        fail_msg("PROTOCOL.md has no block %s", name);
    }
    p += strlen(head);
    while (*p != '\0' && strncmp(p, "```", 3) != 0) {
        if (*p == '#') {
            p = strchr(p, '\n');
            assert_non_null(p);
        } else if (*p == ' ' || *p == '\n') {
            p++;
        } else {
            unsigned v;

            assert_true(n < want);
            assert_int_equal(sscanf(p, "%2x", &v), 1);
            out[n++] = (uint8_t)v;
            p += 2;
        }
    }
    assert_int_equal(n, want);
}

static void test_protocol_md_vector(void **state)
{
    struct fixture *f = *state;
    char *doc = protocol_md();
    const char *block = strstr(doc, "```text keyfile-vector\n");
    struct sitx_keypair kp = {0};
    char sk_text[64], pk_text[64], fp_text[64], file[80];
    char got_pk[SITX_PUBKEY_TEXT_LEN + 1], got_fp[SITX_FINGERPRINT_LEN + 1], hex[17];
    uint8_t sk[SITX_KEY_BYTES], pk[SITX_KEY_BYTES], h[32], pk12[SITX_KEY_BYTES];
    size_t sk_len = 0;

    if (block == NULL) {
        fail_msg("PROTOCOL.md has no keyfile-vector block (§5.7)");
    }
    vector_line(block, "private key file:", sk_text, sizeof(sk_text));
    vector_line(block, "public key:", pk_text, sizeof(pk_text));
    vector_line(block, "fingerprint:", fp_text, sizeof(fp_text));

    /* What the programs compute from such a file ... */
    snprintf(file, sizeof(file), "%s\n", sk_text);
    write_text(f->path, file, 0600);
    assert_int_equal(sitx_keyfile_load(f->path, &kp), 0);
    sitx_pubkey_encode(kp.pk, got_pk);
    assert_string_equal(got_pk, pk_text);
    sitx_fingerprint(kp.pk, got_fp);
    assert_string_equal(got_fp, fp_text);

    /* ... is what §5.7 says, step by step: base64 of 32 bytes, X25519(sk, 9),
     * base64 of pk, the first 8 bytes of unkeyed BLAKE2b-256(pk) in hex. */
    assert_int_equal(strlen(sk_text), 44);
    assert_int_equal(sodium_base642bin(sk, sizeof(sk), sk_text, strlen(sk_text), NULL, &sk_len,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(sk_len, SITX_KEY_BYTES);
    assert_int_equal(crypto_scalarmult_base(pk, sk), 0);
    assert_memory_equal(pk, kp.pk, SITX_KEY_BYTES);
    assert_int_equal(sitx_pubkey_decode(pk_text, strlen(pk_text), pk), 0);
    assert_memory_equal(pk, kp.pk, SITX_KEY_BYTES);
    crypto_generichash(h, sizeof(h), pk, sizeof(pk), NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), h, 8);
    assert_string_equal(hex, fp_text);
    /* The vector is §12.4's receiver key: the same public key there. */
    hex_block(doc, "xx-receiver-static-public", pk12, sizeof(pk12));
    assert_memory_equal(pk12, pk, SITX_KEY_BYTES);

    sodium_memzero(sk, sizeof(sk));
    sitx_keypair_clear(&kp);
    free(doc);
}

static void test_pubkey_from_arg(void **state)
{
    struct fixture *f = *state;
    uint8_t want[SITX_KEY_BYTES];
    uint8_t pk[SITX_KEY_BYTES];
    char text[256];
    char missing[600];

    pk_from_hex(ALICE_PK_HEX, want);
    memset(pk, 0, sizeof(pk));
    assert_int_equal(sitx_pubkey_from_arg(ALICE_PK_B64, pk), 0);
    assert_memory_equal(pk, want, SITX_KEY_BYTES);

    /* A public key file is public: 0644 is fine. Comments and blanks first. */
    snprintf(text, sizeof(text), "# receiver key\n\n   # another\n  %s  laptop\nnot read\n",
             ALICE_PK_B64);
    write_text(f->path, text, 0644);
    memset(pk, 0, sizeof(pk));
    assert_int_equal(sitx_pubkey_from_arg(f->path, pk), 0);
    assert_memory_equal(pk, want, SITX_KEY_BYTES);

    unlink(f->path);
    write_text(f->path, "# only a comment\nnot-a-key\n", 0644);
    assert_int_equal(sitx_pubkey_from_arg(f->path, pk), SITX_E_BAD_KEY);
    unlink(f->path);
    write_text(f->path, "# nothing\n", 0644);
    assert_int_equal(sitx_pubkey_from_arg(f->path, pk), SITX_E_BAD_KEY);

    /* Mistyped key text (no '/', no such file) reads as a bad key. */
    assert_int_equal(sitx_pubkey_from_arg("hSDwCYkwp1R0i33ctD73Wg2", pk), SITX_E_BAD_KEY);
    snprintf(missing, sizeof(missing), "%s/missing.pub", f->dir);
    assert_int_equal(sitx_pubkey_from_arg(missing, pk), -ENOENT);
    assert_int_equal(sitx_pubkey_from_arg(f->dir, pk), -EISDIR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_mode_content_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_never_overwrites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_refuses_readable_by_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_fixed_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_bad_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_not_a_regular_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_private_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pubkey_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pubkey_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pubkey_rejects_low_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pubkey_from_arg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_md_vector, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
