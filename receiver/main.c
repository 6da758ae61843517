/* sitx-recv: options, usage, key generation, and the loop's start and end. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "cidr.h"
#include "cipher.h"
#include "err.h"
#include "keyfile.h"
#include "log.h"
#include "keys.h"
#include "open_cmd.h"
#include "opts.h"
#include "pairing.h"
#include "pairctl.h"
#include "sas.h"
#include "server.h"
#include "web.h"

#ifndef SITX_VERSION
#define SITX_VERSION "0"
#endif

enum recv_exit {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1, /* could not start, or failed while running */
    EXIT_USAGE = 2,
};

enum opt_id {
    OPT_LISTEN = 256,
    OPT_INBOX,
    OPT_PER_SENDER_DIRS,
    OPT_PASSWORD_FILE,
    OPT_KEY,
    OPT_AUTHORIZED,
    OPT_DEADLINE,
    OPT_MAX_SIZE,
    OPT_MAX_PIXELS,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_PER_ADDRESS,
    OPT_MAX_PER_SENDER,
    OPT_MIN_FREE,
    OPT_VALIDATION_MEMORY,
    OPT_VALIDATION_CPU,
    OPT_MAX_STARTUPS,
    OPT_MAX_STARTUPS_PER_ADDRESS,
    OPT_MAX_STARTUPS_PER_PREFIX,
    OPT_HANDSHAKE_TIMEOUT,
    OPT_HANDSHAKE_TIMEOUT_MIN,
    OPT_PENALTY,
    OPT_PENALTY_MIN,
    OPT_PENALTY_MAX,
    OPT_PENALTY_SOURCES,
    OPT_LOG_INTERVAL,
    OPT_IDLE_TIMEOUT,
    OPT_PARTIAL_TTL,
    OPT_ON_RECEIVE,
    OPT_ON_RECEIVE_TIMEOUT,
    OPT_LOG_FORMAT,
    OPT_PROXY_PROTOCOL,
    OPT_PROXY_TRUSTED,
    OPT_GEN_KEY,
    OPT_HTTP,
    OPT_HTTP_TOKEN_FILE,
    OPT_CONTROL,
    OPT_PAIR_WINDOW,
    OPT_PAIR_CODE,
    OPT_PRINT_PUBLIC,
    OPT_LIST_SENDERS,
    OPT_END,
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"inbox", required_argument, NULL, OPT_INBOX},
    {"per-sender-dirs", no_argument, NULL, OPT_PER_SENDER_DIRS},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"key", required_argument, NULL, OPT_KEY},
    {"authorized", required_argument, NULL, OPT_AUTHORIZED},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-per-address", required_argument, NULL, OPT_MAX_PER_ADDRESS},
    {"max-transfers-per-sender", required_argument, NULL, OPT_MAX_PER_SENDER},
    {"min-free", required_argument, NULL, OPT_MIN_FREE},
    {"validation-memory", required_argument, NULL, OPT_VALIDATION_MEMORY},
    {"validation-cpu", required_argument, NULL, OPT_VALIDATION_CPU},
    {"max-startups", required_argument, NULL, OPT_MAX_STARTUPS},
    {"max-startups-per-address", required_argument, NULL, OPT_MAX_STARTUPS_PER_ADDRESS},
    {"max-startups-per-prefix", required_argument, NULL, OPT_MAX_STARTUPS_PER_PREFIX},
    {"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT},
    {"handshake-timeout-min", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT_MIN},
    {"penalty", required_argument, NULL, OPT_PENALTY},
    {"penalty-min", required_argument, NULL, OPT_PENALTY_MIN},
    {"penalty-max", required_argument, NULL, OPT_PENALTY_MAX},
    {"penalty-sources", required_argument, NULL, OPT_PENALTY_SOURCES},
    {"log-interval", required_argument, NULL, OPT_LOG_INTERVAL},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"partial-ttl", required_argument, NULL, OPT_PARTIAL_TTL},
    {"on-receive", required_argument, NULL, OPT_ON_RECEIVE},
    {"on-receive-timeout", required_argument, NULL, OPT_ON_RECEIVE_TIMEOUT},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"proxy-protocol", no_argument, NULL, OPT_PROXY_PROTOCOL},
    {"proxy-trusted", required_argument, NULL, OPT_PROXY_TRUSTED},
    {"gen-key", required_argument, NULL, OPT_GEN_KEY},
    {"http", required_argument, NULL, OPT_HTTP},
    {"http-token-file", required_argument, NULL, OPT_HTTP_TOKEN_FILE},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"pair-window", required_argument, NULL, OPT_PAIR_WINDOW},
    {"pair-code", required_argument, NULL, OPT_PAIR_CODE},
    {"print-public", required_argument, NULL, OPT_PRINT_PUBLIC},
    {"list-senders", no_argument, NULL, OPT_LIST_SENDERS},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct cli {
    struct recv_config cfg;
    struct recv_web_config web;
    const char *gen_key;
    const char *print_public;
    const char *pair_code;
    uint64_t pair_window_ms;
    int list_senders;
    enum sitx_log_format log_format;
    int verbose;
    int quiet;
    int help;
    int version;
    int n_opts;
    int timeout_min_given; /* --handshake-timeout-min was given */
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage:\n"
            "  sitx-recv --listen ADDR:PORT --inbox DIR [--key FILE --authorized FILE]\n"
            "            [--password-file FILE] [options]   (one mode or both; at least one)\n"
            "  sitx-recv --open FILE.sitx (--key FILE [--authorized FILE] | --password-file "
            "FILE) --out DIR\n"
            "  sitx-recv --gen-key FILE | --print-public FILE\n"
            "  sitx-recv --list-senders --authorized FILE\n"
            "  sitx-recv --pair-window DURATION --control PATH [--pair-code CODE|-]\n"
            "  sitx-recv --version | --help\n"
            "\n"
            "Receives PNG and JPEG images from authorised sitx-send senders into DIR.\n"
            "\n"
            "  --listen ADDR:PORT              address to listen on (default 0.0.0.0:%d;\n"
            "                                  [::1]:PORT for IPv6, port 0 for any free port)\n"
            "  --inbox DIR                     where images are stored (required)\n"
            "  --per-sender-dirs               store under DIR/SENDER/: key mode the sender's\n"
            "                                  name in --authorized when no other sender\n"
            "                                  shares it (else its fingerprint),\n"
            "                                  password mode DIR/password/\n"
            "  --password-file FILE            password mode: the shared passphrase (mode 0600),\n"
            "                                  one line; a trailing LF or CRLF is removed;\n"
            "                                  the SITX_PASSWORD variable may stand in for it\n"
            "  --key FILE                      key mode: this receiver's private key\n"
            "  --authorized FILE               key mode: authorised senders, one public key a\n"
            "                                  line (re-read on SIGHUP)\n"
            "  --deadline SECONDS              per image, from offer to stored (default 10)\n"
            "  --max-size BYTES                largest image, e.g. 64M (default 64M)\n"
            "  --max-pixels N                  most pixels per image, e.g. 64M (default 64M)\n"
            "  --max-connections N             authenticated connections at once (default 64)\n"
            "  --max-per-address N             authenticated connections from one address\n"
            "                                  (default 8)\n"
            "  --max-transfers-per-sender N    images in progress per sender (default 16)\n"
            "  --min-free BYTES                free space to keep on the inbox's disk (default "
            "64M)\n"
            "  --validation-memory BYTES       memory all image validations share; an image\n"
            "                                  waits for its share or is refused past it\n"
            "                                  (default 64M, at least 8M)\n"
            "  --validation-cpu SECONDS        validation CPU time per sender key per minute;\n"
            "                                  past it, offers get RATE_LIMITED (default 30)\n"
            "\n"
            "Before authentication (see sitx-recv(8), \"Under attack\"):\n"
            "  --max-startups N                unauthenticated connections at once; when full,\n"
            "                                  a newcomer evicts the stalest (default 64)\n"
            "  --max-startups-per-address N    ... from one address (default 16)\n"
            "  --max-startups-per-prefix N     ... from one IPv4 /24 or IPv6 /64 (default 32)\n"
            "  --handshake-timeout SECONDS     time to authenticate (default 10)\n"
            "  --handshake-timeout-min SECONDS the same with every startup slot taken; it\n"
            "                                  shrinks from half full on (default 2)\n"
            "  --penalty SECONDS               added to an address per handshake timeout or\n"
            "                                  eviction; 0 turns penalties off (default 5)\n"
            "  --penalty-min SECONDS           refuse an address while its penalty is above\n"
            "                                  this (default 15)\n"
            "  --penalty-max SECONDS           longest penalty (default 600)\n"
            "  --penalty-sources N             addresses remembered (default 4096)\n"
            "  --log-interval SECONDS          summarise refusals, evictions and timeouts this\n"
            "                                  often (default 10)\n"
            "\n"
            "  --idle-timeout SECONDS          silence before a connection is closed (default "
            "30)\n"
            "  --partial-ttl DURATION          keep the bytes of an image whose connection broke\n"
            "                                  this long (in DIR/.sitx-partial), so that the\n"
            "                                  next attempt resumes; 0 keeps none (default 24h)\n"
            "  --on-receive CMD                run CMD after each stored image (split on spaces,\n"
            "                                  no shell; SITX_FILE, SITX_NAME, SITX_SIZE,\n"
            "                                  SITX_SENDER, SITX_PEER, SITX_HASH in its "
            "environment)\n"
            "  --on-receive-timeout SECONDS    kill CMD after this long (default 30)\n"
            "  --proxy-protocol                behind a load balancer: every connection starts\n"
            "                                  with a PROXY protocol v2 header (v1 is refused)\n"
            "                                  whose source address is used for limits and logs\n"
            "  --proxy-trusted CIDR[,CIDR...]  the proxies allowed to connect and send it, e.g.\n"
            "                                  10.0.0.5,192.168.1.0/24 (required with\n"
            "                                  --proxy-protocol); others are refused\n"
            "  --http [ADDR:]PORT              serve a read-only page of the inbox, a JSON API\n"
            "                                  and /metrics over HTTP (ADDR an IP address,\n"
            "                                  127.0.0.1 when left out; loopback only unless\n"
            "                                  --http-token-file is given)\n"
            "  --http-token-file FILE          token (mode 0600) every HTTP request must carry\n"
            "                                  as a bearer token; needed off loopback\n"
            "  --log-format text|json          log line format on stderr (default text)\n"
            "  -v, --verbose                   log debug events too\n"
            "  -q, --quiet                     log warnings and errors only\n"
            "  --control PATH                  key mode: a control socket (0600) through which\n"
            "                                  --pair-window opens pairing windows\n"
            "  --open FILE.sitx                open one file that sitx-send sealed, instead of\n"
            "                                  listening: check, decrypt and validate it under\n"
            "                                  --max-size and --max-pixels, then store the image\n"
            "                                  in --out; --authorized: only from those senders\n"
            "  --out DIR                       with --open: where the image goes\n"
            "  --gen-key FILE                  write a new private key (0600), print its public\n"
            "                                  key and fingerprint, and exit\n"
            "  --print-public FILE             print the public key and fingerprint of a\n"
            "                                  private key file, and exit\n"
            "  --list-senders                  list the --authorized file: fingerprint, name\n"
            "\n"
            "Pairing, against a receiver running with --control PATH:\n"
            "  --pair-window DURATION          open a pairing window (e.g. 2m), show the code\n"
            "                                  of the sender that pairs, and confirm it\n"
            "  --pair-code CODE|-              the code the sender showed, instead of the\n"
            "                                  y/N prompt; - reads it from standard input\n"
            "  -V, --version                   print the version and exit\n"
            "  -h, --help                      print this help and exit\n"
            "\n"
            "Durations take s, ms or m suffixes (\"10\", \"500ms\"); sizes k, M, G (powers of "
            "1024).\n"
            "Exit status: 0 stopped cleanly, 1 could not start, 2 usage error; with\n"
            "--pair-window: 0 paired, 1 the receiver could not be reached, 3 not paired\n"
            "(declined, codes differ, window timed out or already open).\n"
            "With --open: 0 stored, 1 cannot read FILE or write DIR, 2 usage error, 3 not a\n"
            "sealed file, 4 wrong key or password or sender not authorised, 5 damaged\n"
            "(changed, truncated, appended), 6 the image fails validation or a limit.\n"
            "\n"
            "Example:\n"
            "  sitx-recv --gen-key /etc/sitx/recv.key\n"
            "  sitx-recv --listen 0.0.0.0:7717 --inbox /srv/inbox --key /etc/sitx/recv.key \\\n"
            "            --authorized /etc/sitx/authorized_senders --on-receive "
            "'/usr/local/bin/notify-new-image'\n",
            SITX_DEFAULT_PORT);
}

static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sitx-recv: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'sitx-recv --help'.\n");
    exit(EXIT_USAGE);
}

static uint64_t parse_seconds(const char *name, const char *arg)
{
    uint64_t ms = 0;

    if (sitx_parse_duration_ms(arg, &ms) != 0 || ms == 0) {
        usage_error("%s: not a positive duration: `%s'", name, arg);
    }
    return ms;
}

/* A duration that may be 0 (to turn something off). */
static uint64_t parse_seconds0(const char *name, const char *arg)
{
    uint64_t ms = 0;

    if (sitx_parse_duration_ms(arg, &ms) != 0) {
        usage_error("%s: not a duration: `%s'", name, arg);
    }
    return ms;
}

static uint64_t parse_bytes(const char *name, const char *arg, uint64_t min)
{
    uint64_t v = 0;

    if (sitx_parse_size(arg, &v) != 0 || (v < min && min <= 1)) {
        usage_error("%s: not a size (like 512k, 64M): `%s'", name, arg);
    }
    if (v < min) {
        usage_error("%s: at least %lluM: `%s'", name, (unsigned long long)(min >> 20), arg);
    }
    return v;
}

static uint64_t parse_count(const char *name, const char *arg)
{
    uint64_t v = 0;

    if (sitx_parse_uint(arg, 1, 1000000, &v) != 0) {
        usage_error("%s: not a whole number from 1 to 1000000: `%s'", name, arg);
    }
    return v;
}

/* --http [ADDR:]PORT: an IP address (a name could resolve anywhere), the
 * IPv4 loopback when only a port is given, port 0 for any free port. */
static void parse_http(const char *given, struct recv_web_config *wc)
{
    char tmp[SITX_HOST_MAX + 8];
    char loop[32];
    const char *arg = given;
    size_t len = strlen(arg);
    int any_port;
    int rc;

    if (len > 0 && len <= 5 && strspn(arg, "0123456789") == len) {
        snprintf(loop, sizeof(loop), "127.0.0.1:%s", arg);
        arg = loop;
        len = strlen(arg);
    }
    any_port = len >= 3 && len < sizeof(tmp) && strcmp(arg + len - 2, ":0") == 0;
    if (any_port) {
        memcpy(tmp, arg, len - 2);
        tmp[len - 2] = '\0';
        rc = sitx_parse_hostport(tmp, 0, wc->host, &wc->port);
        wc->port = 0;
    } else {
        rc = sitx_parse_hostport(arg, 0, wc->host, &wc->port);
    }
    arg = given; /* messages quote what the user wrote */
    if (rc != 0 || wc->host[0] == '\0' || (!any_port && wc->port == 0)) {
        usage_error("--http: not ADDR:PORT: `%s'", arg);
    }
    if (!web_host_is_ip(wc->host)) {
        usage_error("--http: ADDR must be an IP address, like 127.0.0.1 or [::1]: `%s'", arg);
    }
    wc->enabled = 1;
}

/* ADDR:PORT, where port 0 (any free port, for tests) is allowed too. */
static void parse_listen(const char *arg, struct recv_config *cfg)
{
    char tmp[SITX_HOST_MAX + 8];
    size_t len = strlen(arg);
    int any_port = 0;
    int rc;

    if (len >= 3 && len < sizeof(tmp) && strcmp(arg + len - 2, ":0") == 0 &&
        (arg[len - 3] == ']' || strchr(arg, ':') == arg + len - 2)) {
        memcpy(tmp, arg, len - 2);
        tmp[len - 2] = '\0';
        any_port = 1;
        rc = sitx_parse_hostport(tmp, SITX_DEFAULT_PORT, cfg->listen_host, &cfg->listen_port);
    } else {
        rc = sitx_parse_hostport(arg, SITX_DEFAULT_PORT, cfg->listen_host, &cfg->listen_port);
    }
    if (rc != 0 || cfg->listen_host[0] == '\0') {
        usage_error("--listen: not ADDR:PORT: `%s'", arg);
    }
    if (any_port) {
        cfg->listen_port = 0;
    }
}

static void take_option(struct cli *cli, int id, const char *arg)
{
    struct recv_config *cfg = &cli->cfg;

    switch (id) {
    case OPT_LISTEN:
        parse_listen(arg, cfg);
        break;
    case OPT_INBOX:
        cfg->inbox = arg;
        break;
    case OPT_PER_SENDER_DIRS:
        cfg->per_sender_dirs = 1;
        break;
    case OPT_PASSWORD_FILE:
        cfg->password_file = arg;
        break;
    case OPT_KEY:
        cfg->key_file = arg;
        break;
    case OPT_AUTHORIZED:
        cfg->authorized_file = arg;
        break;
    case OPT_DEADLINE:
        cfg->deadline_ms = parse_seconds("--deadline", arg);
        break;
    case OPT_MAX_SIZE:
        cfg->max_size = parse_bytes("--max-size", arg, 1);
        break;
    case OPT_MAX_PIXELS:
        cfg->max_pixels = parse_bytes("--max-pixels", arg, 1);
        break;
    case OPT_MAX_CONNECTIONS:
        cfg->max_connections = parse_count("--max-connections", arg);
        break;
    case OPT_MAX_PER_ADDRESS:
        cfg->max_per_address = parse_count("--max-per-address", arg);
        break;
    case OPT_MAX_PER_SENDER:
        cfg->max_transfers_per_sender = parse_count("--max-transfers-per-sender", arg);
        break;
    case OPT_MIN_FREE:
        cfg->min_free = parse_bytes("--min-free", arg, 0);
        break;
    case OPT_VALIDATION_MEMORY:
        cfg->validation_memory = parse_bytes("--validation-memory", arg, 8u << 20);
        break;
    case OPT_VALIDATION_CPU:
        cfg->validation_cpu_ms = parse_seconds("--validation-cpu", arg);
        break;
    case OPT_MAX_STARTUPS:
        cfg->adm.max_startups = (unsigned)parse_count("--max-startups", arg);
        break;
    case OPT_MAX_STARTUPS_PER_ADDRESS:
        cfg->adm.per_address = (unsigned)parse_count("--max-startups-per-address", arg);
        break;
    case OPT_MAX_STARTUPS_PER_PREFIX:
        cfg->adm.per_prefix = (unsigned)parse_count("--max-startups-per-prefix", arg);
        break;
    case OPT_HANDSHAKE_TIMEOUT:
        cfg->adm.timeout_ms = parse_seconds("--handshake-timeout", arg);
        break;
    case OPT_HANDSHAKE_TIMEOUT_MIN:
        cfg->adm.timeout_min_ms = parse_seconds("--handshake-timeout-min", arg);
        cli->timeout_min_given = 1;
        break;
    case OPT_PENALTY:
        cfg->adm.penalty_ms = parse_seconds0("--penalty", arg);
        break;
    case OPT_PENALTY_MIN:
        cfg->adm.penalty_min_ms = parse_seconds0("--penalty-min", arg);
        break;
    case OPT_PENALTY_MAX:
        cfg->adm.penalty_max_ms = parse_seconds("--penalty-max", arg);
        break;
    case OPT_PENALTY_SOURCES:
        cfg->adm.penalty_sources = (unsigned)parse_count("--penalty-sources", arg);
        break;
    case OPT_LOG_INTERVAL:
        cfg->log_interval_ms = parse_seconds("--log-interval", arg);
        break;
    case OPT_IDLE_TIMEOUT:
        cfg->idle_timeout_ms = parse_seconds("--idle-timeout", arg);
        break;
    case OPT_PARTIAL_TTL:
        cfg->partial_ttl_ms = parse_seconds0("--partial-ttl", arg);
        break;
    case OPT_ON_RECEIVE:
        if (strspn(arg, " \t\n") == strlen(arg)) {
            usage_error("%s", "--on-receive: empty command");
        }
        cfg->on_receive = arg;
        break;
    case OPT_ON_RECEIVE_TIMEOUT:
        cfg->hook_timeout_ms = parse_seconds("--on-receive-timeout", arg);
        break;
    case OPT_LOG_FORMAT:
        if (strcmp(arg, "text") == 0) {
            cli->log_format = SITX_LOG_TEXT;
        } else if (strcmp(arg, "json") == 0) {
            cli->log_format = SITX_LOG_JSON;
        } else {
            usage_error("--log-format: neither text nor json: `%s'", arg);
        }
        break;
    case OPT_PROXY_PROTOCOL:
        cfg->proxy_protocol = 1;
        break;
    case OPT_PROXY_TRUSTED: {
        char why[160];

        if (sitx_cidr_list_parse(arg, cfg->proxy_trusted, SITX_CIDR_LIST_MAX,
                                 &cfg->n_proxy_trusted, why, sizeof(why)) != 0) {
            usage_error("--proxy-trusted: %s", why);
        }
        break;
    }
    case OPT_GEN_KEY:
        cli->gen_key = arg;
        break;
    case OPT_HTTP:
        parse_http(arg, &cli->web);
        break;
    case OPT_HTTP_TOKEN_FILE:
        cli->web.token_file = arg;
        break;
    case OPT_CONTROL:
        cfg->control_path = arg;
        break;
    case OPT_PAIR_WINDOW:
        cli->pair_window_ms = parse_seconds("--pair-window", arg);
        if (cli->pair_window_ms > PAIR_WINDOW_MAX_MS) {
            usage_error("--pair-window: at most 60m, not `%s'", arg);
        }
        break;
    case OPT_PAIR_CODE:
        cli->pair_code = arg;
        break;
    case OPT_PRINT_PUBLIC:
        cli->print_public = arg;
        break;
    case OPT_LIST_SENDERS:
        cli->list_senders = 1;
        break;
    case 'v':
        cli->verbose = 1;
        break;
    case 'q':
        cli->quiet = 1;
        break;
    case 'V':
        cli->version = 1;
        break;
    case 'h':
        cli->help = 1;
        break;
    default:
        usage_error("%s", "unknown option");
    }
}

static void parse_args(int argc, char **argv, struct cli *cli)
{
    unsigned char seen[OPT_END] = {0};
    int id;

    opterr = 0;
    while ((id = getopt_long(argc, argv, ":vqVh", long_options, NULL)) != -1) {
        if (id == '?') {
            usage_error("unknown option `%s'", argv[optind - 1]);
        }
        if (id == ':') {
            usage_error("option `%s' needs a value", argv[optind - 1]);
        }
        if (id < 0 || id >= OPT_END || seen[id]) {
            usage_error("option `%s' given twice", argv[optind - 1]);
        }
        seen[id] = 1;
        cli->n_opts++;
        take_option(cli, id, optarg);
    }
    if (optind < argc) {
        usage_error("unexpected argument `%s'", argv[optind]);
    }
}

/* The checks that need the whole command line. */
static void check_args(struct cli *cli)
{
    struct recv_config *cfg = &cli->cfg;

    if (cli->gen_key != NULL || cli->print_public != NULL) {
        if (cli->n_opts != 1) {
            usage_error("%s", "--gen-key and --print-public take no other option");
        }
        return;
    }
    if (cli->list_senders) {
        if (cfg->authorized_file == NULL || cli->n_opts != 2) {
            usage_error("%s", "--list-senders takes --authorized FILE and nothing else");
        }
        return;
    }
    if (cli->pair_window_ms > 0) {
        if (cfg->control_path == NULL || cli->n_opts != 2 + (cli->pair_code != NULL)) {
            usage_error("%s", "--pair-window takes --control PATH (the running receiver's) and "
                              "optionally --pair-code, nothing else");
        }
        if (cli->pair_code != NULL && strcmp(cli->pair_code, "-") != 0 &&
            sitx_sas_match(cli->pair_code, "000000") < 0) {
            usage_error("--pair-code: not six digits nor -: `%s'", cli->pair_code);
        }
        if (cli->pair_code == NULL && !isatty(STDIN_FILENO)) {
            usage_error("%s", "--pair-window needs a terminal for its y/N question, or "
                              "--pair-code CODE|-");
        }
        return;
    }
    if (cli->pair_code != NULL) {
        usage_error("%s", "--pair-code goes with --pair-window");
    }
    if (cfg->control_path != NULL && cfg->key_file == NULL) {
        usage_error("%s", "--control is for pairing, which needs key mode (--key, --authorized)");
    }
    if (cli->verbose && cli->quiet) {
        usage_error("%s", "--verbose and --quiet do not go together");
    }
    if (cfg->inbox == NULL) {
        usage_error("%s", "--inbox DIR is required");
    }
    if ((cfg->key_file == NULL) != (cfg->authorized_file == NULL)) {
        usage_error("%s", "key mode needs both --key FILE and --authorized FILE");
    }
    if (cfg->proxy_protocol && cfg->n_proxy_trusted == 0) {
        usage_error("%s", "--proxy-protocol needs --proxy-trusted CIDR[,CIDR...]: the proxies "
                          "allowed to send the header");
    }
    if (!cfg->proxy_protocol && cfg->n_proxy_trusted > 0) {
        usage_error("%s", "--proxy-trusted is only used with --proxy-protocol");
    }
    if (cli->web.token_file != NULL && !cli->web.enabled) {
        usage_error("%s", "--http-token-file needs --http ADDR:PORT");
    }
    if (cli->web.enabled && cli->web.token_file == NULL && !web_host_is_loopback(cli->web.host)) {
        usage_error("--http on %s, which is not a loopback address, needs --http-token-file FILE "
                    "(anyone who can reach it would see the inbox)",
                    cli->web.host);
    }
    if (cfg->adm.timeout_min_ms > cfg->adm.timeout_ms) {
        if (cli->timeout_min_given) {
            usage_error("%s", "--handshake-timeout-min is longer than --handshake-timeout");
        }
        cfg->adm.timeout_min_ms = cfg->adm.timeout_ms; /* a short timeout needs no floor below it */
    }
    if (cfg->adm.penalty_ms > 0 && cfg->adm.penalty_min_ms >= cfg->adm.penalty_max_ms) {
        usage_error("%s", "--penalty-min must be shorter than --penalty-max");
    }
    if (cfg->key_file == NULL && cfg->password_file == NULL && getenv("SITX_PASSWORD") == NULL) {
        usage_error("%s", "give --password-file FILE (or SITX_PASSWORD), or --key FILE and "
                          "--authorized FILE");
    }
}

static int gen_key(const char *path)
{
    struct sitx_keypair kp = {NULL, {0}};
    char pub[SITX_PUBKEY_TEXT_LEN + 1];
    char fp[SITX_FINGERPRINT_LEN + 1];
    int rc;

    rc = sitx_keypair_generate(&kp);
    if (rc == 0) {
        rc = sitx_keyfile_save(path, &kp);
    }
    if (rc != 0) {
        fprintf(stderr, "sitx-recv: cannot write the key `%s': %s\n", path, sitx_strerror(rc));
        sitx_keypair_clear(&kp);
        return EXIT_RUNTIME;
    }
    sitx_pubkey_encode(kp.pk, pub);
    sitx_fingerprint(kp.pk, fp);
    /* The public key alone on the first line: the output works as a key file for senders. */
    printf("%s\nfingerprint: %s\n", pub, fp);
    sitx_keypair_clear(&kp);
    return EXIT_OK;
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static int run(const struct recv_config *cfg, const struct recv_web_config *wc)
{
    struct sitx_server srv;
    uv_loop_t loop;
    int rc;
    int code = EXIT_OK;

    rc = uv_loop_init(&loop);
    if (rc != 0) {
        fprintf(stderr, "sitx-recv: cannot start the event loop: %s\n", uv_strerror(rc));
        return EXIT_RUNTIME;
    }
    rc = server_init(&srv, &loop, cfg);
    if (rc == 0 && wc->enabled) {
        rc = web_start(&srv, wc);
    }
    if (rc == 0) {
        rc = server_start(&srv);
    }
    if (rc != 0) {
        code = EXIT_RUNTIME;
    }
    if (rc == 0 || srv.handles_open > 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    /* Anything still open (there should be nothing) is closed so the loop can be freed. */
    uv_walk(&loop, close_walk_cb, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        sitx_log(SITX_LOG_ERR, "loop-close-failed", "error=%s", "handles still open");
        code = EXIT_RUNTIME;
    }
    web_stop(&srv);
    server_clear(&srv);
    return code;
}

int main(int argc, char **argv)
{
    struct cli cli;
    int level;

    if (open_cmd_wanted(argc, argv)) {
        return open_cmd_main(argc, argv);
    }
    memset(&cli, 0, sizeof(cli));
    recv_config_default(&cli.cfg);
    cli.log_format = SITX_LOG_TEXT;
    parse_args(argc, argv, &cli);
    if (cli.help) {
        usage(stdout);
        return EXIT_OK;
    }
    if (cli.version) {
        printf("sitx-recv %s (sitx protocol %d)\n", SITX_VERSION, SITX_PROTO_VERSION_MAX);
        return EXIT_OK;
    }
    check_args(&cli);
    if (sodium_init() < 0) {
        fprintf(stderr, "sitx-recv: libsodium could not be initialised; refusing to start\n");
        return EXIT_RUNTIME;
    }
    if (cli.gen_key != NULL) {
        return gen_key(cli.gen_key);
    }
    if (cli.print_public != NULL) {
        return keys_print_public("sitx-recv", cli.print_public);
    }
    if (cli.list_senders) {
        return keys_list_senders(cli.cfg.authorized_file);
    }
    if (cli.pair_window_ms > 0) {
        return pairctl_run(cli.cfg.control_path, cli.pair_window_ms, cli.pair_code);
    }
    if (!sitx_aesgcm_available()) {
        fprintf(stderr, "sitx-recv: this CPU has no AES-256-GCM support in libsodium "
                        "(AES-NI and PCLMUL are needed); refusing to start\n");
        return EXIT_RUNTIME;
    }
    level = cli.verbose ? SITX_LOG_DEBUG : cli.quiet ? SITX_LOG_WARNING : SITX_LOG_INFO;
    sitx_log_init("sitx-recv", cli.log_format, level);
    /* A peer that vanishes mid-write must give EPIPE, not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);
    /* Decoder buffers (coefficient images, held files) come and go on four
     * threads. glibc would serve them from per-thread heaps once its
     * adaptive mmap threshold has grown, and keep what they freed: the
     * process would then hold more than --validation-memory. A fixed
     * threshold maps every large block and gives it back on free. */
    if (mallopt(M_MMAP_THRESHOLD, 256 * 1024) != 1) {
        sitx_log(SITX_LOG_WARNING, "mallopt-failed", "what=M_MMAP_THRESHOLD");
    }
    return run(&cli.cfg, &cli.web);
}
