/* sitx-send --seal: one image into a sealed file instead of onto the wire.
 * The image is prepared as for a network send (prepare_run: detect,
 * recompress or strip, hash), sealed by common/seal.c, and written
 * atomically next to where it was asked for, never over an existing file. */
#include "seal_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cipher.h"
#include "err.h"
#include "image.h"
#include "keyfile.h"
#include "passphrase.h"
#include "policy.h"
#include "prepare.h"
#include "safefile.h"
#include "seal.h"
#include "secmem.h"
#include "usage.h"

#define PROG "sitx-send"

enum seal_opt {
    SO_SEAL = 300,
    SO_RECEIVER_KEY,
    SO_KEY,
    SO_PASSWORD_FILE,
    SO_COMPRESS,
    SO_STRIP,
    SO_PREVIEW,
    SO_QUIET,
    SO_END_,
};

static const struct option seal_options[] = {
    {"seal", required_argument, NULL, SO_SEAL},
    {"receiver-key", required_argument, NULL, SO_RECEIVER_KEY},
    {"key", required_argument, NULL, SO_KEY},
    {"password-file", required_argument, NULL, SO_PASSWORD_FILE},
    {"compress", required_argument, NULL, SO_COMPRESS},
    {"strip-metadata", no_argument, NULL, SO_STRIP},
    {"preview", required_argument, NULL, SO_PREVIEW},
    {"quiet", no_argument, NULL, SO_QUIET},
    {NULL, 0, NULL, 0},
};

struct seal_args {
    const char *out;
    const char *receiver_key;
    const char *key_file;
    const char *password_file;
    const char *compress;
    const char *preview;
    const char *image;
    int strip;
    int quiet;
};

int seal_cmd_wanted(int argc, char **argv)
{
    int seal = 0;

    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "--version") == 0) {
            return 0;
        }
        /* --preview alone is still a --seal command line (and an error). */
        if (strcmp(argv[i], "--seal") == 0 || strncmp(argv[i], "--seal=", 7) == 0 ||
            strcmp(argv[i], "--preview") == 0 || strncmp(argv[i], "--preview=", 10) == 0) {
            seal = 1;
        }
    }
    return seal;
}

static void parse(int argc, char **argv, struct seal_args *a)
{
    unsigned char seen[SO_END_ - SO_SEAL];
    int ch;

    memset(seen, 0, sizeof(seen));
    memset(a, 0, sizeof(*a));
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", seal_options, NULL)) != -1) {
        if (ch == '?' || ch == ':') {
            if (optopt >= SO_SEAL && optopt < SO_END_) {
                die_usage("option `%s' needs a value", argv[optind - 1]);
            }
            die_usage("`%s' is not an option of --seal", argv[optind - 1]);
        }
        if (ch < SO_SEAL || ch >= SO_END_ || seen[ch - SO_SEAL]++) {
            die_usage("option `%s' given twice", argv[optind - 1]);
        }
        switch (ch) {
        case SO_SEAL:
            a->out = optarg;
            break;
        case SO_RECEIVER_KEY:
            a->receiver_key = optarg;
            break;
        case SO_KEY:
            a->key_file = optarg;
            break;
        case SO_PASSWORD_FILE:
            a->password_file = optarg;
            break;
        case SO_COMPRESS:
            a->compress = optarg;
            break;
        case SO_STRIP:
            a->strip = 1;
            break;
        case SO_PREVIEW:
            a->preview = optarg;
            break;
        case SO_QUIET:
            a->quiet = 1;
            break;
        default:
            die_usage("`%s' is not an option of --seal", argv[optind - 1]);
        }
    }
    if (a->out == NULL) {
        die_usage("%s", "--preview goes with --seal OUT.sitx");
    }
    if (argc - optind != 1) {
        die_usage("--seal OUT.sitx takes exactly one IMAGE, not %d", argc - optind);
    }
    a->image = argv[optind];
    if ((a->receiver_key != NULL) == (a->password_file != NULL)) {
        die_usage("--seal needs --receiver-key KEY|FILE (and optionally --key FILE) or "
                  "--password-file FILE");
    }
    if (a->key_file != NULL && a->receiver_key == NULL) {
        die_usage("--key signs a sealed file for a --receiver-key; with --password-file "
                  "give no --key");
    }
}

/* The directory part of path, opened, and its last part into base. */
static int open_parent(const char *path, char *base, size_t base_cap, int *dirfd)
{
    char a[PATH_MAX];
    char b[PATH_MAX];
    const char *bn;

    if (strlen(path) >= sizeof(a)) {
        return -ENAMETOOLONG;
    }
    memcpy(a, path, strlen(path) + 1);
    memcpy(b, path, strlen(path) + 1);
    bn = basename(b);
    if (bn[0] == '\0' || strcmp(bn, ".") == 0 || strcmp(bn, "..") == 0 || strcmp(bn, "/") == 0 ||
        strlen(bn) >= base_cap) {
        return -EINVAL;
    }
    memcpy(base, bn, strlen(bn) + 1);
    *dirfd = open(dirname(a), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *dirfd < 0 ? -errno : 0;
}

/* Refuses an existing path before any work is done. */
static void refuse_existing(const char *path, const char *what)
{
    if (access(path, F_OK) == 0 || errno != ENOENT) {
        fprintf(stderr, PROG ": %s `%s' exists (or cannot be checked); not overwriting it\n", what,
                path);
        exit(SEND_EXIT_LOCAL);
    }
}

/* Writes buf as path through a temporary file in the same directory. */
static int write_new(const char *path, const uint8_t *buf, size_t len)
{
    struct sitx_tmpfile t;
    char base[NAME_MAX + 1];
    char final[NAME_MAX + 1];
    int dirfd = -1;
    int rc = open_parent(path, base, sizeof(base), &dirfd);

    if (rc != 0) {
        return rc;
    }
    rc = sitx_tmpfile_open(&t, dirfd);
    if (rc == 0) {
        rc = sitx_tmpfile_write(&t, buf, len);
        if (rc == 0) {
            final[0] = '\0';
            rc = sitx_tmpfile_commit(&t, base, final, sizeof(final));
            if (rc != 0 && final[0] != '\0') {
                rc = 0; /* in place; only the directory fsync failed */
            }
            if (rc == 0 && strcmp(final, base) != 0) {
                /* Someone created path meanwhile: ours went beside it. */
                fprintf(stderr, PROG ": `%s' appeared meanwhile; wrote `%s' beside it\n", path,
                        final);
            }
        }
        sitx_tmpfile_discard(&t);
    }
    close(dirfd);
    return rc;
}

/* Key or password, into p; secrets go to guarded memory the caller frees. */
static void load_secrets(const struct seal_args *a, struct sitx_seal_params *p,
                         struct sitx_keypair *kp, uint8_t *rpk, uint8_t *psk, uint8_t *salt)
{
    struct sitx_passphrase pw = {0};
    int rc;

    if (a->receiver_key != NULL) {
        rc = sitx_pubkey_from_arg(a->receiver_key, rpk);
        if (rc != 0) {
            fprintf(stderr,
                    PROG ": --receiver-key: `%s' is not a public key nor a file holding one "
                         "(%s)\n",
                    a->receiver_key, sitx_strerror(rc));
            exit(SEND_EXIT_USAGE);
        }
        p->receiver_pk = rpk;
        p->mode = SITX_SEAL_ANONYMOUS;
        if (a->key_file != NULL) {
            rc = sitx_keyfile_load(a->key_file, kp);
            if (rc != 0) {
                fprintf(stderr, PROG ": %s: %s%s\n", a->key_file, sitx_strerror(rc),
                        rc == SITX_E_PERMS ? " (chmod 600 it)" : "");
                exit(SEND_EXIT_USAGE);
            }
            p->sender_sk = kp->sk;
            p->mode = SITX_SEAL_SIGNED;
        }
        return;
    }
    rc = sitx_passphrase_read(a->password_file, 0, NULL, &pw);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s: %s%s\n", a->password_file, sitx_passphrase_strerror(rc),
                rc == SITX_E_PERMS ? " (chmod 600 it)" : "");
        exit(SEND_EXIT_USAGE);
    }
    randombytes_buf(salt, SITX_SEAL_SALT_LEN);
    p->mode = SITX_SEAL_PASSWORD;
    p->argon_ops = SITX_ARGON_OPS_DEFAULT;
    p->argon_mem_kib = SITX_ARGON_MEM_KIB_DEFAULT;
    p->salt = salt;
    rc = sitx_passphrase_derive(&pw, salt, p->argon_ops, p->argon_mem_kib, psk);
    sitx_passphrase_clear(&pw);
    if (rc != 0) {
        fprintf(stderr, PROG ": Argon2id failed: %s\n", sitx_strerror(rc));
        exit(SEND_EXIT_INTERNAL);
    }
    p->psk = psk;
}

static int write_preview(const char *path, const struct sitx_buf *sealed, const uint8_t *payload,
                         size_t len)
{
    struct sitx_image_info info;
    struct sitx_buf png;
    char err[SITX_IMAGE_ERR_MAX] = "";
    int rc;

    memset(&info, 0, sizeof(info));
    sitx_buf_init(&png);
    /* The payload passed prepare's checks; only its size is wanted here. */
    (void)sitx_image_check_structure(payload, len, NULL, &info, err);
    rc = sitx_image_preview_png(sealed->data, sealed->len, info.width, info.height, &png, err);
    if (rc != 0) {
        fprintf(stderr, PROG ": --preview: %s\n", err);
        return SEND_EXIT_INTERNAL;
    }
    rc = write_new(path, png.data, png.len);
    sitx_buf_clear(&png);
    if (rc != 0) {
        fprintf(stderr, PROG ": --preview: cannot write `%s': %s\n", path, sitx_strerror(rc));
        return SEND_EXIT_LOCAL;
    }
    return SEND_EXIT_OK;
}

static void describe(const struct seal_args *a, const struct sitx_seal_params *p,
                     const struct prepare_job *job, const char *name, size_t sealed_len,
                     const struct sitx_keypair *kp)
{
    char rfp[SITX_FINGERPRINT_LEN + 1];
    char sfp[SITX_FINGERPRINT_LEN + 1];

    printf("sealed %s as `%s' (%s, %zu bytes) into %s (%zu bytes)", a->image, name,
           sitx_image_format_name(job->format), job->len, a->out, sealed_len);
    if (p->mode == SITX_SEAL_PASSWORD) {
        printf(" for the password\n");
        return;
    }
    sitx_fingerprint(p->receiver_pk, rfp);
    printf(" for receiver %s", rfp);
    if (p->mode == SITX_SEAL_SIGNED) {
        sitx_fingerprint(kp->pk, sfp);
        printf(", signed by %s\n", sfp);
    } else {
        printf(", anonymous\n");
    }
}

int seal_cmd_main(int argc, char **argv)
{
    struct seal_args a;
    struct sitx_seal_params p;
    struct sitx_keypair kp = {NULL, {0}};
    struct sitx_image_opts opts;
    struct sitx_image_limits limits;
    struct prepare_job job;
    struct sitx_buf sealed;
    char name[SITX_NAME_MAX + 1];
    uint8_t rpk[SITX_KEY_BYTES];
    uint8_t salt[SITX_SEAL_SALT_LEN];
    uint8_t *psk = NULL;
    int code = SEND_EXIT_OK;
    int rc;

    parse(argc, argv, &a);
    memset(&opts, 0, sizeof(opts));
    opts.mode = SITX_COMPRESS_LOSSLESS;
    opts.quality = 85;
    if (a.compress != NULL && parse_compress(a.compress, &opts) != 0) {
        die_usage("--compress wants none, lossless, lossy or lossy:QUALITY (1-100), not "
                  "`%s'",
                  a.compress);
    }
    opts.strip_metadata = a.strip;
    /* A file has no link to measure: lossless always tries, keeps the smaller. */
    opts.always = 1;
    if (sodium_init() < 0 || !sitx_aesgcm_available()) {
        fprintf(stderr, PROG ": libsodium has no AES-256-GCM on this CPU; refusing to start\n");
        return SEND_EXIT_INTERNAL;
    }
    refuse_existing(a.out, "--seal");
    if (a.preview != NULL) {
        refuse_existing(a.preview, "--preview");
    }
    psk = sitx_secret_alloc(SITX_PSK_BYTES);
    if (psk == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return SEND_EXIT_INTERNAL;
    }
    memset(&p, 0, sizeof(p));
    load_secrets(&a, &p, &kp, rpk, psk, salt);

    sitx_image_limits_default(&limits);
    memset(&job, 0, sizeof(job));
    job.path = a.image;
    job.opts = &opts;
    job.limits = &limits;
    prepare_run(&job);
    if (job.rc == 0 && !job.validated) {
        char err[SITX_IMAGE_ERR_MAX] = "";

        job.rc = sitx_image_check_structure(job.payload, job.len, &limits, NULL, err);
        snprintf(job.err, sizeof(job.err), "%s", err);
    }
    sitx_buf_init(&sealed);
    if (job.rc != 0) {
        fprintf(stderr, PROG ": %s: %s\n", a.image, job.err);
        code = job.internal ? SEND_EXIT_INTERNAL : SEND_EXIT_LOCAL;
        goto out;
    }
    offer_name(a.image, job.format != job.file_format, sitx_image_ext(job.format), name,
               sizeof(name));
    p.id = job.id;
    rc = sitx_seal_write(&p, (uint8_t)job.format, name, job.payload, job.len, &sealed);
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot seal %s: %s\n", a.image, sitx_strerror(rc));
        code = rc == SITX_E_BAD_KEY ? SEND_EXIT_USAGE : SEND_EXIT_INTERNAL;
        goto out;
    }
    rc = write_new(a.out, sealed.data, sealed.len);
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot write `%s': %s\n", a.out, sitx_strerror(rc));
        code = SEND_EXIT_LOCAL;
        goto out;
    }
    if (a.preview != NULL) {
        code = write_preview(a.preview, &sealed, job.payload, job.len);
    }
    if (!a.quiet) {
        describe(&a, &p, &job, name, sealed.len, &kp);
    }
    if (fflush(stdout) != 0 && code == SEND_EXIT_OK) {
        code = SEND_EXIT_INTERNAL;
    }
out:
    sitx_buf_clear(&sealed);
    prepare_job_clear(&job);
    sitx_keypair_clear(&kp);
    sitx_secret_free(psk, SITX_PSK_BYTES);
    return code;
}
