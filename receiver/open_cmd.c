/* sitx-recv --open: check, decrypt and fully validate one sealed file, under
 * the daemon's limits, and only then put the image into DIR: a temporary
 * file is linked under the sanitised offered name (never over another file)
 * once FINAL verified and the decode passed. On any failure DIR is as it
 * was. */
#include "open_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cipher.h"
#include "err.h"
#include "image.h"
#include "keyfile.h"
#include "name.h"
#include "opts.h"
#include "passphrase.h"
#include "peers.h"
#include "safefile.h"
#include "seal.h"
#include "server.h"

#define PROG  "sitx-recv"
#define CHUNK 65536

enum open_opt {
    OO_OPEN = 300,
    OO_KEY,
    OO_AUTHORIZED,
    OO_PASSWORD_FILE,
    OO_OUT,
    OO_MAX_SIZE,
    OO_MAX_PIXELS,
    OO_QUIET,
    OO_END_,
};

static const struct option open_options[] = {
    {"open", required_argument, NULL, OO_OPEN},
    {"key", required_argument, NULL, OO_KEY},
    {"authorized", required_argument, NULL, OO_AUTHORIZED},
    {"password-file", required_argument, NULL, OO_PASSWORD_FILE},
    {"out", required_argument, NULL, OO_OUT},
    {"max-size", required_argument, NULL, OO_MAX_SIZE},
    {"max-pixels", required_argument, NULL, OO_MAX_PIXELS},
    {"quiet", no_argument, NULL, OO_QUIET},
    {NULL, 0, NULL, 0},
};

struct open_args {
    const char *file;
    const char *key_file;
    const char *authorized;
    const char *password_file;
    const char *out;
    uint64_t max_size;
    uint64_t max_pixels;
    int quiet;
};

/* What the run found, for the last line and the exit code. */
struct open_run {
    const struct open_args *a;
    struct sitx_keypair kp;
    struct sitx_passphrase pw;
    struct sitx_peers *peers;
    struct sitx_seal_reader *r;
    struct sitx_image_validator *val;
    struct sitx_tmpfile tmp;
    int have_tmp;
    int dirfd;
    uint8_t mode;
    int has_sender;
    uint8_t sender_pk[SITX_KEY_BYTES];
    const char *sender_name;
    struct sitx_offer offer;
    struct sitx_image_info info;
    int done;
};

static void open_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void open_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry '" PROG " --help'.\n", stderr);
    exit(OPEN_EXIT_USAGE);
}

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int open_cmd_wanted(int argc, char **argv)
{
    int open = 0;

    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            return 0;
        }
        /* --out alone is still an --open command line (and an error). */
        if (strcmp(argv[i], "--open") == 0 || strncmp(argv[i], "--open=", 7) == 0 ||
            strcmp(argv[i], "--out") == 0 || strncmp(argv[i], "--out=", 6) == 0) {
            open = 1;
        }
    }
    return open;
}

static uint64_t size_arg(const char *name, const char *arg)
{
    uint64_t v = 0;

    if (sitx_parse_size(arg, &v) != 0 || v == 0) {
        open_usage_error("%s: not a size (like 512k, 64M): `%s'", name, arg);
    }
    return v;
}

static void parse(int argc, char **argv, struct open_args *a)
{
    struct recv_config def;
    unsigned char seen[OO_END_ - OO_OPEN];
    int ch;

    memset(seen, 0, sizeof(seen));
    memset(a, 0, sizeof(*a));
    /* The daemon's limits, unless the command line says otherwise. */
    recv_config_default(&def);
    a->max_size = def.max_size;
    a->max_pixels = def.max_pixels;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", open_options, NULL)) != -1) {
        if (ch == '?' || ch == ':') {
            if (optopt >= OO_OPEN && optopt < OO_END_) {
                open_usage_error("option `%s' needs a value", argv[optind - 1]);
            }
            open_usage_error("`%s' is not an option of --open", argv[optind - 1]);
        }
        if (ch < OO_OPEN || ch >= OO_END_ || seen[ch - OO_OPEN]++) {
            open_usage_error("option `%s' given twice", argv[optind - 1]);
        }
        switch (ch) {
        case OO_OPEN:
            a->file = optarg;
            break;
        case OO_KEY:
            a->key_file = optarg;
            break;
        case OO_AUTHORIZED:
            a->authorized = optarg;
            break;
        case OO_PASSWORD_FILE:
            a->password_file = optarg;
            break;
        case OO_OUT:
            a->out = optarg;
            break;
        case OO_MAX_SIZE:
            a->max_size = size_arg("--max-size", optarg);
            break;
        case OO_MAX_PIXELS:
            a->max_pixels = size_arg("--max-pixels", optarg);
            break;
        case OO_QUIET:
            a->quiet = 1;
            break;
        default:
            open_usage_error("`%s' is not an option of --open", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        open_usage_error("unexpected argument `%s'", argv[optind]);
    }
    if (a->file == NULL || a->out == NULL) {
        open_usage_error("%s", "--open FILE.sitx needs --out DIR (and --out needs --open)");
    }
    if ((a->key_file != NULL) == (a->password_file != NULL)) {
        open_usage_error("%s", "--open needs --key FILE (with --authorized FILE to require a "
                               "known sender) or --password-file FILE");
    }
    if (a->authorized != NULL && a->key_file == NULL) {
        open_usage_error("%s", "--authorized goes with --key FILE");
    }
}

static int load_credentials(struct open_run *run)
{
    const struct open_args *a = run->a;
    char err[160] = "";
    int rc;

    if (a->key_file != NULL) {
        rc = sitx_keyfile_load(a->key_file, &run->kp);
        if (rc != 0) {
            return fail(OPEN_EXIT_USAGE, "%s: %s%s", a->key_file, sitx_strerror(rc),
                        rc == SITX_E_PERMS ? " (chmod 600 it)" : "");
        }
        if (a->authorized != NULL) {
            rc = sitx_peers_load(a->authorized, &run->peers, err, sizeof(err));
            if (rc != 0) {
                return fail(OPEN_EXIT_USAGE, "%s: %s", a->authorized, err);
            }
        }
        return 0;
    }
    rc = sitx_passphrase_read(a->password_file, 0, NULL, &run->pw);
    if (rc != 0) {
        return fail(OPEN_EXIT_USAGE, "%s: %s%s", a->password_file, sitx_passphrase_strerror(rc),
                    rc == SITX_E_PERMS ? " (chmod 600 it)" : "");
    }
    return 0;
}

/* The key or PSK the header asks for; Argon2id runs here, with the
 * parameters the header gave (the reader bounded them). */
static int on_header(struct open_run *run, const struct sitx_seal_header *h)
{
    uint8_t *psk = NULL;
    int rc;

    run->mode = h->mode;
    if (h->mode == SITX_SEAL_PASSWORD) {
        if (run->pw.text == NULL) {
            return fail(OPEN_EXIT_AUTH, "%s: sealed with a password: give --password-file FILE",
                        run->a->file);
        }
        psk = sitx_secret_alloc(SITX_PSK_BYTES);
        if (psk == NULL) {
            return fail(OPEN_EXIT_RUNTIME, "out of memory");
        }
        rc = sitx_passphrase_derive(&run->pw, h->salt, h->argon_ops, h->argon_mem_kib, psk);
        if (rc == 0) {
            rc = sitx_seal_reader_set_psk(run->r, psk);
        }
        sitx_secret_free(psk, SITX_PSK_BYTES);
    } else {
        if (run->kp.sk == NULL) {
            return fail(OPEN_EXIT_AUTH, "%s: sealed for a receiver key: give --key FILE",
                        run->a->file);
        }
        rc = sitx_seal_reader_set_key(run->r, run->kp.sk);
    }
    return rc == 0 || rc == sitx_seal_reader_err(run->r)
               ? 0
               : fail(OPEN_EXIT_RUNTIME, "%s", sitx_strerror(rc));
}

/* The sender, checked against --authorized before any image byte. */
static int on_opened(struct open_run *run, const struct sitx_seal_event *ev)
{
    const struct sitx_peer *peer = NULL;
    char fp[SITX_FINGERPRINT_LEN + 1];

    run->has_sender = ev->has_sender;
    memcpy(run->sender_pk, ev->sender_pk, SITX_KEY_BYTES);
    if (run->peers == NULL) {
        return 0;
    }
    if (ev->has_sender) {
        peer = sitx_peers_find(run->peers, ev->sender_pk);
    }
    if (peer == NULL) {
        if (!ev->has_sender) {
            return fail(OPEN_EXIT_AUTH,
                        "%s: sealed anonymously, and --authorized asks for a "
                        "known sender",
                        run->a->file);
        }
        sitx_fingerprint(ev->sender_pk, fp);
        return fail(OPEN_EXIT_AUTH, "%s: sealed by %s, who is not in %s", run->a->file, fp,
                    run->a->authorized);
    }
    run->sender_name = peer->name;
    return 0;
}

static int on_offer(struct open_run *run, const struct sitx_seal_event *ev)
{
    struct sitx_image_limits lim;
    int rc;

    run->offer = ev->offer;
    sitx_image_limits_default(&lim);
    lim.max_pixels = run->a->max_pixels;
    rc = sitx_image_validator_new(&run->val, &lim);
    if (rc != 0) {
        return fail(OPEN_EXIT_RUNTIME, "out of memory");
    }
    rc = sitx_tmpfile_open(&run->tmp, run->dirfd);
    if (rc != 0) {
        return fail(OPEN_EXIT_RUNTIME, "%s: cannot create a file: %s", run->a->out,
                    sitx_strerror(rc));
    }
    run->have_tmp = 1;
    return 0;
}

static int on_data(struct open_run *run, const struct sitx_seal_event *ev)
{
    int rc = sitx_tmpfile_write(&run->tmp, ev->data, ev->len);

    if (rc != 0) {
        return fail(OPEN_EXIT_RUNTIME, "%s: cannot write: %s", run->a->out, sitx_strerror(rc));
    }
    /* Validation errors stick; they are read at the end. */
    (void)sitx_image_validator_feed(run->val, ev->data, ev->len);
    return 0;
}

static int reader_failed(struct open_run *run)
{
    static const int codes[] = {
        [SITX_SEAL_OK] = OPEN_EXIT_RUNTIME,          [SITX_SEAL_NOT_SEALED] = OPEN_EXIT_NOT_SEALED,
        [SITX_SEAL_AUTH] = OPEN_EXIT_AUTH,           [SITX_SEAL_DAMAGED] = OPEN_EXIT_DAMAGED,
        [SITX_SEAL_TRUNCATED] = OPEN_EXIT_DAMAGED,   [SITX_SEAL_TRAILING] = OPEN_EXIT_DAMAGED,
        [SITX_SEAL_TOO_LARGE] = OPEN_EXIT_BAD_IMAGE, [SITX_SEAL_INTERNAL] = OPEN_EXIT_RUNTIME,
    };
    enum sitx_seal_failure f = sitx_seal_reader_failure(run->r);

    return fail(codes[f], "%s: %s", run->a->file, sitx_seal_reader_errstr(run->r));
}

/* Feeds the file through the reader; 0 once DONE was seen and the input ended. */
static int pump(struct open_run *run, int fd)
{
    struct sitx_seal_event ev;
    uint8_t *buf = malloc(CHUNK);
    ssize_t n;
    int rc = 0;

    if (buf == NULL) {
        return fail(OPEN_EXIT_RUNTIME, "out of memory");
    }
    for (;;) {
        n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = fail(OPEN_EXIT_RUNTIME, "%s: cannot read: %s", run->a->file, strerror(errno));
            break;
        }
        if (n == 0) {
            rc = sitx_seal_reader_finish(run->r) == 0 ? 0 : reader_failed(run);
            break;
        }
        if (sitx_seal_reader_feed(run->r, buf, (size_t)n) != 0) {
            rc = reader_failed(run);
            break;
        }
        while (rc == 0 && (rc = sitx_seal_reader_next(run->r, &ev)) == 1) {
            switch (ev.type) {
            case SITX_SEAL_EV_HEADER:
                rc = on_header(run, &ev.header);
                break;
            case SITX_SEAL_EV_OPENED:
                rc = on_opened(run, &ev);
                break;
            case SITX_SEAL_EV_OFFER:
                rc = on_offer(run, &ev);
                break;
            case SITX_SEAL_EV_DATA:
                rc = on_data(run, &ev);
                break;
            case SITX_SEAL_EV_END:
            case SITX_SEAL_EV_DONE:
                rc = 0;
                break;
            }
        }
        if (rc < 0) {
            rc = reader_failed(run);
        }
        if (rc != 0) {
            break;
        }
    }
    free(buf);
    return rc;
}

/* The full decode, then the link into DIR. */
static int store(struct open_run *run)
{
    char want[SITX_NAME_MAX + 1];
    char final[SITX_NAME_MAX + 1];
    int rc = sitx_image_validator_finish(run->val, &run->info);

    if (rc != 0) {
        return fail(OPEN_EXIT_BAD_IMAGE, "%s: the image fails validation: %s", run->a->file,
                    sitx_image_validator_errstr(run->val));
    }
    if ((uint8_t)run->info.format != run->offer.format) {
        return fail(OPEN_EXIT_BAD_IMAGE, "%s: offered as %s but the content is %s", run->a->file,
                    sitx_image_format_name((enum sitx_image_format)run->offer.format),
                    sitx_image_format_name(run->info.format));
    }
    sitx_name_sanitize(run->offer.name, strlen(run->offer.name), sitx_image_ext(run->info.format),
                       want, sizeof(want));
    final[0] = '\0';
    rc = sitx_tmpfile_commit(&run->tmp, want, final, sizeof(final));
    if (rc != 0 && final[0] == '\0') {
        return fail(OPEN_EXIT_RUNTIME, "%s: cannot store the image: %s", run->a->out,
                    sitx_strerror(rc));
    }
    if (!run->a->quiet) {
        char fp[SITX_FINGERPRINT_LEN + 1];

        printf("opened %s: stored %s/%s (%s %ux%u, %llu bytes); sealed ", run->a->file, run->a->out,
               final, sitx_image_format_name(run->info.format), run->info.width, run->info.height,
               (unsigned long long)run->offer.size);
        if (run->mode == SITX_SEAL_PASSWORD) {
            printf("with the password\n");
        } else if (!run->has_sender) {
            printf("by anonymous\n");
        } else {
            sitx_fingerprint(run->sender_pk, fp);
            if (run->sender_name != NULL && run->sender_name[0] != '\0') {
                printf("by %s (%s)\n", fp, run->sender_name);
            } else {
                printf("by %s%s\n", fp, run->peers != NULL ? " (authorised)" : "");
            }
        }
    }
    return fflush(stdout) == 0 ? OPEN_EXIT_OK : OPEN_EXIT_RUNTIME;
}

int open_cmd_main(int argc, char **argv)
{
    struct open_args a;
    struct open_run run;
    int fd = -1;
    int code;

    parse(argc, argv, &a);
    memset(&run, 0, sizeof(run));
    run.a = &a;
    run.dirfd = -1;
    run.tmp.fd = -1;
    if (sodium_init() < 0 || !sitx_aesgcm_available()) {
        return fail(OPEN_EXIT_RUNTIME, "libsodium has no AES-256-GCM on this CPU; refusing to "
                                       "start");
    }
    code = load_credentials(&run);
    if (code != 0) {
        goto out;
    }
    run.dirfd = open(a.out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (run.dirfd < 0) {
        code = fail(OPEN_EXIT_RUNTIME, "--out: cannot open the directory `%s': %s", a.out,
                    strerror(errno));
        goto out;
    }
    fd = open(a.file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        code = fail(OPEN_EXIT_RUNTIME, "%s: cannot open: %s", a.file, strerror(errno));
        goto out;
    }
    if (sitx_seal_reader_new(&run.r, a.max_size) != 0) {
        code = fail(OPEN_EXIT_RUNTIME, "out of memory");
        goto out;
    }
    code = pump(&run, fd);
    if (code == 0) {
        code = store(&run);
    }
out:
    if (run.have_tmp) {
        sitx_tmpfile_discard(&run.tmp); /* after a commit only closes */
    }
    if (fd >= 0) {
        close(fd);
    }
    if (run.dirfd >= 0) {
        close(run.dirfd);
    }
    sitx_image_validator_free(run.val);
    sitx_seal_reader_free(run.r);
    sitx_peers_free(run.peers);
    sitx_keypair_clear(&run.kp);
    sitx_passphrase_clear(&run.pw);
    return code;
}
