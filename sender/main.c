/* sitx-send: options, secrets, and the exit code. The run itself is send.c. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cipher.h"
#include "defaults.h"
#include "err.h"
#include "image.h"
#include "keyfile.h"
#include "known.h"
#include "log.h"
#include "opts.h"
#include "pairing.h"
#include "passphrase.h"
#include "policy.h"
#include "psk_store.h"
#include "report.h"
#include "seal_cmd.h"
#include "send.h"
#include "walk.h"
#include "usage.h"
#include "watch.h"

#ifndef SITX_VERSION
#define SITX_VERSION "0"
#endif

#define PROG               "sitx-send"
#define DEFAULT_RETRIES    3
#define MAX_RETRIES        100
#define DEFAULT_TIMEOUT_MS 30000
#define MAX_TIMEOUT_MS     (24ull * 3600 * 1000)

enum opt_id {
    OPT_PASSWORD_FILE = 256,
    OPT_KEY,
    OPT_RECEIVER_KEY,
    OPT_KNOWN_RECEIVERS,
    OPT_TOFU,
    OPT_COMPRESS,
    OPT_STRIP_METADATA,
    OPT_RECURSIVE,
    OPT_RETRIES,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_QUIET,
    OPT_VERBOSE,
    OPT_PROTOCOL,
    OPT_GEN_KEY,
    OPT_PRINT_PUBLIC,
    OPT_PAIR,
    OPT_NAME,
    OPT_PAIR_CODE,
    OPT_WATCH,
    OPT_AFTER_STORED,
    OPT_SETTLE,
    OPT_NO_PSK_CACHE,
    OPT_IN_ORDER,
    OPT_HELP,
    OPT_VERSION,
    OPT_END_,
};

static const struct option long_options[] = {
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"key", required_argument, NULL, OPT_KEY},
    {"receiver-key", required_argument, NULL, OPT_RECEIVER_KEY},
    {"known-receivers", required_argument, NULL, OPT_KNOWN_RECEIVERS},
    {"tofu", no_argument, NULL, OPT_TOFU},
    {"compress", required_argument, NULL, OPT_COMPRESS},
    {"strip-metadata", no_argument, NULL, OPT_STRIP_METADATA},
    {"recursive", no_argument, NULL, OPT_RECURSIVE},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"gen-key", required_argument, NULL, OPT_GEN_KEY},
    {"print-public", required_argument, NULL, OPT_PRINT_PUBLIC},
    {"pair", required_argument, NULL, OPT_PAIR},
    {"name", required_argument, NULL, OPT_NAME},
    {"pair-code", required_argument, NULL, OPT_PAIR_CODE},
    {"watch", required_argument, NULL, OPT_WATCH},
    {"after-stored", required_argument, NULL, OPT_AFTER_STORED},
    {"settle", required_argument, NULL, OPT_SETTLE},
    {"no-psk-cache", no_argument, NULL, OPT_NO_PSK_CACHE},
    {"in-order", no_argument, NULL, OPT_IN_ORDER},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

struct args {
    const char *password_file;
    const char *key_file;
    const char *receiver_key;
    const char *known_receivers;
    const char *gen_key;
    const char *print_public;
    const char *pair;
    const char *name;
    const char *pair_code;
    const char *compress;
    int tofu;
    int strip;
    int recursive;
    int json;
    int quiet;
    int verbose;
    int no_psk_cache;
    int in_order;
    uint64_t retries;
    uint64_t timeout_ms;
    uint64_t protocol; /* 0: version 2 with fallback */
    struct watch_config watch;
    const char *after_stored;
    int nopts; /* options given */
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " (--password-file FILE | --key FILE --receiver-key KEY|FILE)\n"
            "                 [-r] [OPTIONS] HOST[:PORT] IMAGE|DIR...\n"
            "       " PROG " --seal OUT.sitx (--receiver-key KEY|FILE [--key FILE] |\n"
            "                 --password-file FILE) [--preview OUT.png] [OPTIONS] IMAGE\n"
            "       " PROG " --pair HOST[:PORT] [--name NAME] [--pair-code CODE|-]\n"
            "       " PROG " --gen-key FILE | --print-public FILE\n"
            "       " PROG " --watch DIR [--after-stored move:DIR|delete] [OPTIONS] HOST[:PORT]\n"
            "       " PROG " --version\n"
            "\n"
            "Sends PNG and JPEG images to a sitx-recv receiver, encrypted with AES-256-GCM\n"
            "after a Noise handshake, and reports per image what the receiver answered.\n"
            "A DIR sends the PNG and JPEG files in it (told by their first bytes), each\n"
            "under its base name; subdirectories are left out unless -r. The largest\n"
            "files go first (unless --in-order), so a batch ends sooner.\n"
            "\n"
            "Authentication, one of:\n"
            "  --password-file FILE     shared passphrase: FILE (mode 0600) less one trailing\n"
            "                           newline; a second line is refused;\n"
            "                           else $SITX_PASSWORD, else a prompt on a terminal\n"
            "  --no-psk-cache           derive the key from the password file every time,\n"
            "                           without the key cache in $XDG_STATE_HOME/sitx/\n"
            "                           (else ~/.local/state/sitx/) psk-cache\n"
            "  --key FILE               this sender's private key (key mode)\n"
            "  --receiver-key KEY|FILE  the receiver's public key (base64), or a file with it\n"
            "  --known-receivers FILE   pinned receiver keys, lines \"host:port <public key>\"\n"
            "  --tofu                   record an unknown receiver's key in --known-receivers\n"
            "  With neither a password nor --key, a receiver that pairing pinned is reached\n"
            "  in key mode with the key and pins in $XDG_CONFIG_HOME/sitx/ (else\n"
            "  ~/.config/sitx/): key, known_receivers.\n"
            "\n"
            "Pairing (once the receiver's operator has opened a pairing window):\n"
            "  --pair HOST[:PORT]       pair with that receiver: both sides show a code; when\n"
            "                           both people confirm it, each records the other's key\n"
            "  --name NAME              the name to be listed under (default: the host name)\n"
            "  --pair-code CODE|-       the code the receiver showed, instead of the y/N\n"
            "                           prompt; - reads it from standard input\n"
            "\n"
            "Options:\n"
            "  --compress MODE          none (bytes as they are), lossless (default: same\n"
            "                           pixels, smaller when it pays) or lossy[:QUALITY] (JPEG,\n"
            "                           quality 1-100, default 85)\n"
            "  --strip-metadata         drop EXIF (GPS ...), XMP and comments; with\n"
            "                           --compress none only the metadata goes\n"
            "  -r, --recursive          DIRs also send the images in their subdirectories,\n"
            "                           each under its path relative to DIR (photos/2024/\n"
            "                           a.jpg as 2024/a.jpg), kept as subdirectories of the\n"
            "                           inbox. In a DIR, hidden entries (.name), special\n"
            "                           files, files not PNG or JPEG, and with -r links to\n"
            "                           directories (never followed) are skipped, one\n"
            "                           \"skipped\" line each; links to files are sent.\n"
            "                           After more than one image or any DIR a summary line\n"
            "                           closes the run: N stored, already stored, refused\n"
            "                           (by the receiver, not retried), failed (the rest),\n"
            "                           skipped, bytes sent, time\n"
            "  --in-order               offer the images in the order given (DIRs: name\n"
            "                           order), not largest first\n"
            "  --retries N              retries per image of what can be retried (default %d)\n"
            "  --timeout SECONDS        give up on a receiver silent, busy or refusing\n"
            "                           connections this long (default %d)\n"
            "  --json                   one JSON object per image on stdout (status SKIPPED\n"
            "                           with a reason for a skipped entry), the summary as\n"
            "                           {\"summary\": {...}}\n"
            "  --quiet                  no progress bar; print failures only (no skipped\n"
            "                           lines, no summary)\n"
            "  --verbose                log connection and transfer events on stderr\n"
            "  --protocol 1|2           speak this sitx protocol version only (default: 2,\n"
            "                           and 1 with a receiver from before version 2)\n"
            "  --seal OUT.sitx          seal one IMAGE into a file instead of sending it:\n"
            "                           for --receiver-key (signed with --key, else\n"
            "                           anonymous) or for --password-file; --compress and\n"
            "                           --strip-metadata apply; sitx-recv opens it\n"
            "  --preview OUT.png        with --seal: also draw the sealed bytes as a picture\n"
            "  --gen-key FILE           write a new private key (mode 0600), print the\n"
            "                           public key and its fingerprint\n"
            "  --print-public FILE      print the public key and fingerprint of a key file\n"
            "  --watch DIR              stay running and send each complete PNG/JPEG that\n"
            "                           appears in DIR once, also across restarts (state in\n"
            "                           $XDG_STATE_HOME/sitx/, else ~/.local/state/sitx/);\n"
            "                           SIGTERM stops it (exit 0), SIGINT too (exit 130)\n"
            "  --after-stored ACTION    with --watch, once stored: move:DIR (a rename on the\n"
            "                           same file system, never overwriting) or delete\n"
            "  --settle SECONDS         with --watch, a file still open is complete once\n"
            "                           unchanged this long (default 5)\n"
            "  --help                   show this help\n"
            "  --version                show the version\n"
            "\n"
            "PORT defaults to %d; write IPv6 addresses in brackets: [::1]:%d.\n"
            "\n"
            "Example:\n"
            "  " PROG " --gen-key ~/.sitx/send.key     # add the printed key on the receiver\n"
            "  " PROG " --key ~/.sitx/send.key --receiver-key recv.pub scanner.lan:%d \\\n"
            "            photo.jpg scan.png\n"
            "  " PROG " -r --key ~/.sitx/send.key scanner.lan photos/   # a whole tree\n"
            "\n"
            "Exit codes:\n"
            "  0  every image stored (or already stored)\n"
            "  1  the receiver refused an image, or a retryable failure persisted\n"
            "  2  usage error\n"
            "  3  local file error (missing, unreadable, not PNG/JPEG, a DIR that cannot\n"
            "     be read); the others are sent. Skipped entries of a DIR do not count\n"
            "  4  authentication failure (wrong password, sender not authorised, receiver\n"
            "     key not the pinned one)\n"
            "  5  network failure after the retries (cannot connect, connection lost, no\n"
            "     answer)\n"
            "  6  internal error\n"
            "  7  --pair: not paired (refused, no window open, declined, codes differ,\n"
            "     window closed)\n"
            "  130 interrupted by SIGINT (Ctrl-C) or SIGTERM: no new image was offered,\n"
            "     the one being sent was withdrawn (protocol 2) or finished (protocol 1);\n"
            "     a second Ctrl-C quits at once\n"
            "  When several apply: 130, then 4, 5, 3, 1.\n",
            DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS / 1000, SITX_DEFAULT_PORT, SITX_DEFAULT_PORT,
            SITX_DEFAULT_PORT);
}

static void parse_args(int argc, char **argv, struct args *a)
{
    unsigned char seen[OPT_END_ - OPT_PASSWORD_FILE];
    int ch;

    memset(seen, 0, sizeof(seen));
    memset(a, 0, sizeof(*a));
    a->retries = DEFAULT_RETRIES;
    a->timeout_ms = DEFAULT_TIMEOUT_MS;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "r", long_options, NULL)) != -1) {
        if (ch == 'r') {
            ch = OPT_RECURSIVE;
        }
        if (ch == '?' || ch == ':') {
            /* getopt_long sets optopt to the option's value when only its
             * argument is missing, and to 0 (or the letter) when unknown. */
            if (optopt >= OPT_PASSWORD_FILE && optopt < OPT_END_) {
                die_usage("option `%s' needs a value", argv[optind - 1]);
            }
            die_usage("unknown or ambiguous option: `%s'", argv[optind - 1]);
        }
        if (ch < OPT_PASSWORD_FILE || ch >= OPT_END_) {
            die_usage("unknown option: `%s'", argv[optind - 1]);
        }
        if (seen[ch - OPT_PASSWORD_FILE]++) {
            die_usage("option `%s' given twice", argv[optind - 1]);
        }
        a->nopts++;
        switch (ch) {
        case OPT_PASSWORD_FILE:
            a->password_file = optarg;
            break;
        case OPT_KEY:
            a->key_file = optarg;
            break;
        case OPT_RECEIVER_KEY:
            a->receiver_key = optarg;
            break;
        case OPT_KNOWN_RECEIVERS:
            a->known_receivers = optarg;
            break;
        case OPT_TOFU:
            a->tofu = 1;
            break;
        case OPT_COMPRESS:
            a->compress = optarg;
            break;
        case OPT_STRIP_METADATA:
            a->strip = 1;
            break;
        case OPT_RECURSIVE:
            a->recursive = 1;
            break;
        case OPT_RETRIES:
            if (sitx_parse_uint(optarg, 0, MAX_RETRIES, &a->retries) != 0) {
                die_usage("--retries wants a number from 0 to %d, not `%s'", MAX_RETRIES, optarg);
            }
            break;
        case OPT_TIMEOUT:
            if (sitx_parse_duration_ms(optarg, &a->timeout_ms) != 0 || a->timeout_ms == 0 ||
                a->timeout_ms > MAX_TIMEOUT_MS) {
                die_usage("--timeout wants seconds (or 500ms, 2m), more than 0, not `%s'", optarg);
            }
            break;
        case OPT_JSON:
            a->json = 1;
            break;
        case OPT_QUIET:
            a->quiet = 1;
            break;
        case OPT_NO_PSK_CACHE:
            a->no_psk_cache = 1;
            break;
        case OPT_IN_ORDER:
            a->in_order = 1;
            break;
        case OPT_VERBOSE:
            a->verbose = 1;
            break;
        case OPT_PROTOCOL:
            if (sitx_parse_uint(optarg, SITX_PROTO_V1, SITX_PROTO_VERSION_MAX, &a->protocol) != 0) {
                die_usage("--protocol wants 1 or 2, not `%s'", optarg);
            }
            break;
        case OPT_GEN_KEY:
            a->gen_key = optarg;
            break;
        case OPT_PRINT_PUBLIC:
            a->print_public = optarg;
            break;
        case OPT_PAIR:
            a->pair = optarg;
            break;
        case OPT_NAME:
            a->name = optarg;
            break;
        case OPT_PAIR_CODE:
            a->pair_code = optarg;
            break;
        case OPT_WATCH:
            a->watch.dir = optarg;
            break;
        case OPT_AFTER_STORED:
            a->after_stored = optarg;
            if (watch_parse_after(optarg, &a->watch) != 0) {
                die_usage("--after-stored wants move:DIR or delete, not `%s'", optarg);
            }
            break;
        case OPT_SETTLE:
            if (sitx_parse_duration_ms(optarg, &a->watch.settle_ms) != 0 ||
                a->watch.settle_ms == 0 || a->watch.settle_ms > MAX_TIMEOUT_MS) {
                die_usage("--settle wants seconds (or 500ms, 2m), more than 0, not `%s'", optarg);
            }
            break;
        case OPT_HELP:
            usage(stdout);
            exit(SEND_EXIT_OK);
        case OPT_VERSION:
            printf(PROG " %s (sitx protocol %d)\n", SITX_VERSION, SITX_PROTO_VERSION_MAX);
            exit(SEND_EXIT_OK);
        default:
            die_usage("unknown option: `%s'", argv[optind - 1]);
        }
    }
}

/* Refuses to go on without libsodium or AES-256-GCM: the brief requires AES. */
static void crypto_init_or_die(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, PROG ": cannot initialise libsodium; refusing to start\n");
        exit(SEND_EXIT_INTERNAL);
    }
    if (!sitx_aesgcm_available()) {
        fprintf(stderr, PROG ": this CPU lacks the AES-256-GCM support libsodium needs "
                             "(AES-NI and CLMUL); refusing to start\n");
        exit(SEND_EXIT_INTERNAL);
    }
}

static int gen_key(const char *path)
{
    struct sitx_keypair kp = {NULL, {0}};
    char pub[SITX_PUBKEY_TEXT_LEN + 1];
    char fp[SITX_FINGERPRINT_LEN + 1];
    int rc;

    rc = sitx_keypair_generate(&kp);
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot generate a key: %s\n", sitx_strerror(rc));
        return SEND_EXIT_INTERNAL;
    }
    rc = sitx_keyfile_save(path, &kp);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s: %s%s\n", path, sitx_strerror(rc),
                rc == -EEXIST ? " (not overwriting an existing key)" : "");
        sitx_keypair_clear(&kp);
        return SEND_EXIT_LOCAL;
    }
    sitx_pubkey_encode(kp.pk, pub);
    sitx_fingerprint(kp.pk, fp);
    sitx_keypair_clear(&kp);
    /* The key alone on the first line, ready to paste into an authorised-senders file. */
    printf("%s\nfingerprint: %s\n", pub, fp);
    fprintf(stderr, PROG ": wrote the private key to %s (mode 0600)\n", path);
    return fflush(stdout) == 0 ? SEND_EXIT_OK : SEND_EXIT_INTERNAL;
}

static void check_combinations(const struct args *a, int npos)
{
    if (a->recursive && (a->watch.dir != NULL || a->pair != NULL || a->gen_key != NULL ||
                         a->print_public != NULL)) {
        die_usage("-r goes with HOST[:PORT] IMAGE|DIR...");
    }
    if (a->print_public != NULL) {
        if (npos > 0 || a->nopts != 1) {
            die_usage("--print-public FILE takes no other arguments");
        }
        return;
    }
    if (a->pair != NULL) {
        if (npos > 0 || a->gen_key || a->password_file || a->receiver_key || a->tofu ||
            a->compress || a->strip || a->json || a->protocol) {
            die_usage("--pair HOST takes only --key, --known-receivers, --name, --pair-code, "
                      "--timeout and --verbose");
        }
        if (a->pair_code == NULL && !isatty(STDIN_FILENO)) {
            die_usage("--pair needs a terminal for its y/N question, or --pair-code CODE|-");
        }
        return;
    }
    if (a->name != NULL || a->pair_code != NULL) {
        die_usage("--name and --pair-code go with --pair HOST");
    }
    if (a->gen_key != NULL) {
        if (npos > 0 || a->password_file || a->key_file || a->receiver_key || a->known_receivers ||
            a->tofu || a->compress || a->strip || a->json || a->protocol) {
            die_usage("--gen-key FILE takes no other arguments");
        }
        return;
    }
    if (a->password_file != NULL && a->key_file != NULL) {
        die_usage("--password-file and --key are two ways to authenticate: give one");
    }
    if (a->key_file == NULL && (a->receiver_key || a->known_receivers || a->tofu)) {
        die_usage("--receiver-key, --known-receivers and --tofu are for key mode (--key FILE)");
    }
    if (a->tofu && a->known_receivers == NULL) {
        die_usage("--tofu records the key in a file: give --known-receivers FILE");
    }
    if ((a->after_stored != NULL || a->watch.settle_ms != 0) && a->watch.dir == NULL) {
        die_usage("--after-stored and --settle go with --watch DIR");
    }
    if (a->watch.dir != NULL) {
        if (npos != 1) {
            die_usage("--watch DIR takes one receiver, HOST[:PORT], and no IMAGE");
        }
        return;
    }
    if (npos < 1) {
        die_usage("no receiver given: HOST[:PORT] and at least one IMAGE");
    }
    if (npos < 2) {
        die_usage("no image given after `%s'", "HOST[:PORT]");
    }
}

/* Loads the key-mode secrets and the receiver's pin. Exits on failure. */
static void load_key_mode(const struct args *a, struct send_config *cfg, struct sitx_keypair *kp,
                          uint8_t pin[static SITX_KEY_BYTES])
{
    static char default_known[4096];
    const char *known = a->known_receivers;
    char err[160];
    int rc;

    rc = sitx_keyfile_load(a->key_file, kp);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s: %s%s\n", a->key_file, sitx_strerror(rc),
                rc == SITX_E_PERMS ? " (chmod 600 it)" : "");
        exit(SEND_EXIT_USAGE);
    }
    cfg->kp = kp;
    if (a->receiver_key == NULL && a->known_receivers == NULL &&
        defaults_path(DEFAULTS_KNOWN, default_known, sizeof(default_known)) == 0) {
        known = default_known; /* the pins pairing made */
    }
    if (a->receiver_key != NULL) {
        rc = sitx_pubkey_from_arg(a->receiver_key, pin);
        if (rc != 0) {
            fprintf(stderr,
                    PROG ": --receiver-key: `%s' is not a public key nor a file "
                         "holding one (%s)\n",
                    a->receiver_key, sitx_strerror(rc));
            exit(SEND_EXIT_USAGE);
        }
        cfg->receiver_pk = pin;
        return;
    }
    if (known != NULL) {
        err[0] = '\0';
        rc = known_find(known, cfg->label, pin, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, PROG ": %s: %s\n", known, err);
            exit(SEND_EXIT_USAGE);
        }
        if (rc == 1) {
            cfg->receiver_pk = pin;
            return;
        }
        if (a->tofu) {
            cfg->known_path = a->known_receivers;
            return;
        }
        fprintf(stderr,
                PROG ": %s has no key for %s; pair with it (--pair), pass --receiver-key, "
                     "or add --tofu to trust and record the key it presents\n",
                known, cfg->label);
        exit(SEND_EXIT_USAGE);
    }
    fprintf(stderr, PROG ": key mode needs the receiver's key: pass --receiver-key KEY|FILE, "
                         "or --known-receivers FILE (with --tofu to trust a new receiver)\n");
    exit(SEND_EXIT_USAGE);
}

/* No --key and no password given: a receiver that pairing pinned in the
 * default known-receivers file is reached with the default key. */
static int use_default_key(struct args *a, const char *label)
{
    if (a->password_file != NULL || getenv("SITX_PASSWORD") != NULL) {
        return 0;
    }
    return defaults_pinned(label, &a->key_file, &a->known_receivers);
}

static void load_password(const struct args *a, const struct send_config *cfg,
                          struct sitx_passphrase *pw)
{
    char prompt[SEND_LABEL_MAX + 32];
    int tty = isatty(STDIN_FILENO);
    int rc;

    if (a->password_file == NULL && getenv("SITX_PASSWORD") == NULL && !tty) {
        fprintf(stderr, PROG ": no password: give --password-file FILE or --key FILE, set "
                             "SITX_PASSWORD, or run on a terminal to be asked\n");
        exit(SEND_EXIT_USAGE);
    }
    snprintf(prompt, sizeof(prompt), "Password for %s: ", cfg->label);
    rc = sitx_passphrase_read(a->password_file, tty, prompt, pw);
    if (rc != 0) {
        const char *src = a->password_file != NULL          ? a->password_file
                          : getenv("SITX_PASSWORD") != NULL ? "SITX_PASSWORD"
                                                            : "password";
        fprintf(stderr, PROG ": %s: %s%s\n", src, sitx_passphrase_strerror(rc),
                rc == SITX_E_PERMS ? " (chmod 600 it)" : "");
        exit(SEND_EXIT_USAGE);
    }
}

struct walk_ctx {
    struct report *rep;
    int out_failed; /* a skipped line could not be written */
};

static void on_skip(void *arg, const char *path, const char *reason)
{
    struct walk_ctx *w = arg;

    if (report_skipped(w->rep, path, reason) != 0) {
        w->out_failed = 1;
    }
}

static void on_walk_error(void *arg, const char *path, const char *why)
{
    struct walk_ctx *w = arg;

    report_error(w->rep, "%s: cannot read the directory: %s", path, why);
}

/* The arguments after HOST: files as they are, directories expanded (walk.c),
 * then the run, then the summary when there was more than one image or a
 * directory, or the run was interrupted. Returns the exit code. */
static int send_files(const struct args *a, struct send_config *cfg, struct report *rep,
                      char *const *args, size_t nargs)
{
    struct walk_ctx ctx = {rep, 0};
    const struct walk_sink sink = {on_skip, on_walk_error, &ctx};
    struct walk_list wl;
    char **files = NULL;
    char **names = NULL;
    size_t i;
    int rc;

    memset(&wl, 0, sizeof(wl));
    if (walk_expand(args, nargs, a->recursive, &sink, &wl) != 0) {
        report_error(rep, "out of memory listing the images to send");
        walk_list_clear(&wl);
        return SEND_EXIT_INTERNAL;
    }
    /* Two arrays of borrowed pointers: the list keeps the strings. */
    files = calloc(wl.n + 1, sizeof(*files));
    names = calloc(wl.n + 1, sizeof(*names));
    if (files == NULL || names == NULL) {
        report_error(rep, "out of memory listing the images to send");
        rc = SEND_EXIT_INTERNAL;
        goto out;
    }
    for (i = 0; i < wl.n; i++) {
        files[i] = wl.items[i].path;
        names[i] = wl.items[i].name;
    }
    cfg->files = files;
    cfg->names = names;
    cfg->nfiles = wl.n;
    rc = SEND_EXIT_OK;
    if (wl.n > 0) {
        rc = send_run(cfg, rep);
    }
    if (wl.errors > 0) {
        rc = exit_combine(rc, SEND_EXIT_LOCAL);
    }
    if (ctx.out_failed) {
        rc = exit_combine(rc, SEND_EXIT_INTERNAL);
    }
    if ((wl.n > 1 || wl.dirs > 0 || rc == SEND_EXIT_INTERRUPTED) && report_summary(rep) != 0) {
        rc = exit_combine(rc, SEND_EXIT_INTERNAL);
    }
out:
    cfg->files = NULL;
    cfg->names = NULL;
    cfg->nfiles = 0;
    free(files);
    free(names);
    walk_list_clear(&wl);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a;
    struct send_config cfg;
    struct sitx_keypair kp = {NULL, {0}};
    struct sitx_passphrase pw;
    char *psk_store = NULL;
    struct report rep;
    uint8_t pin[SITX_KEY_BYTES];
    unsigned learnt_version = 0;
    int npos;
    int rc;

    memset(&pw, 0, sizeof(pw));
    if (seal_cmd_wanted(argc, argv)) {
        return seal_cmd_main(argc, argv);
    }
    parse_args(argc, argv, &a);
    npos = argc - optind;
    check_combinations(&a, npos);
    sitx_log_init(PROG, SITX_LOG_TEXT, a.verbose ? SITX_LOG_DEBUG : SITX_LOG_WARNING);
    crypto_init_or_die();
    if (a.gen_key != NULL) {
        return gen_key(a.gen_key);
    }
    if (a.print_public != NULL) {
        return defaults_print_public(a.print_public);
    }
    if (a.pair != NULL) {
        struct pair_args pa;

        pa.target = a.pair;
        pa.key_file = a.key_file;
        pa.known_file = a.known_receivers;
        pa.name = a.name;
        pa.code = a.pair_code;
        pa.timeout_ms = a.timeout_ms;

        return pair_main(&pa);
    }

    memset(&cfg, 0, sizeof(cfg));
    if (sitx_parse_hostport(argv[optind], SITX_DEFAULT_PORT, cfg.host, &cfg.port) != 0) {
        die_usage("not a receiver address (HOST, HOST:PORT or [IPv6]:PORT): `%s'", argv[optind]);
    }
    known_label(cfg.host, cfg.port, cfg.label, sizeof(cfg.label));
    cfg.image.mode = SITX_COMPRESS_LOSSLESS;
    cfg.image.quality = 85;
    if (a.compress != NULL && parse_compress(a.compress, &cfg.image) != 0) {
        die_usage("--compress wants none, lossless, lossy or lossy:QUALITY (1-100), not `%s'",
                  a.compress);
    }
    cfg.image.strip_metadata = a.strip;
    sitx_image_limits_default(&cfg.limits);
    cfg.retries = (unsigned)a.retries;
    cfg.timeout_ms = a.timeout_ms;
    cfg.verbose = a.verbose;
    cfg.in_order = a.in_order;
    cfg.protocol = (unsigned)a.protocol;
    cfg.learnt_version = &learnt_version;

    if (a.key_file != NULL || use_default_key(&a, cfg.label)) {
        cfg.mode = SITX_AUTH_KEY;
        load_key_mode(&a, &cfg, &kp, pin);
    } else {
        cfg.mode = SITX_AUTH_PASSWORD;
        load_password(&a, &cfg, &pw);
        cfg.pw = &pw;
        /* Only a passphrase with a file identity is cached (psk_store.h);
         * without a state directory there is simply no cache. */
        if (pw.id.valid && !a.no_psk_cache && psk_store_path(0, &psk_store) != 0) {
            psk_store = NULL;
        }
        cfg.psk_store = psk_store;
    }

    /* A receiver that goes away must not kill us with SIGPIPE: the write
     * fails with EPIPE and the image is retried. */
    signal(SIGPIPE, SIG_IGN);
    /* Reads, structure checks and recompression share the pool; Argon2id and the
     * resolver must not queue behind them (libuv's default is 4 threads). */
    setenv("UV_THREADPOOL_SIZE", "6", 0);
    report_init(&rep, stdout, stderr, a.json, a.quiet, 1);
    if (a.watch.dir != NULL) {
        if (a.watch.settle_ms == 0) {
            a.watch.settle_ms = WATCH_SETTLE_DEFAULT_MS;
        }
        rc = watch_run(&a.watch, &cfg, &rep);
    } else {
        cfg.interruptible = 1; /* Ctrl-C: finish what is in flight, exit 130 */
        rc = send_files(&a, &cfg, &rep, argv + optind + 1, (size_t)(npos - 1));
    }

    sitx_keypair_clear(&kp);
    sitx_passphrase_clear(&pw);
    free(psk_store);
    sodium_memzero(pin, sizeof(pin));
    return rc;
}
