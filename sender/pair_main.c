/* --pair from the command line to a pair_config: the target parsed, the
 * default key (created on first use) and known-receivers file, the name. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "defaults.h"
#include "err.h"
#include "known.h"
#include "opts.h"
#include "pairing.h"
#include "policy.h"
#include "sas.h"
#include "send.h"

#define PROG "sitx-send"

static int usage_err(const char *what, const char *arg)
{
    fprintf(stderr, PROG ": %s: `%s'\nTry '" PROG " --help' for more.\n", what, arg);
    return SEND_EXIT_USAGE;
}

int pair_main(const struct pair_args *pa)
{
    static char key_path[4096];
    static char known_path[4096];
    struct sitx_keypair kp = {NULL, {0}};
    struct pair_config pc;
    char host[SITX_HOST_MAX];
    char label[SEND_LABEL_MAX];
    char hostname[256];
    char fp[SITX_FINGERPRINT_LEN + 1];
    const char *key = pa->key_file;
    const char *known = pa->known_file;
    int created = 0;
    int rc;

    memset(&pc, 0, sizeof(pc));
    if (sitx_parse_hostport(pa->target, SITX_DEFAULT_PORT, host, &pc.port) != 0) {
        return usage_err("--pair: not a receiver address (HOST, HOST:PORT or [IPv6]:PORT)",
                         pa->target);
    }
    if (pa->code != NULL && strcmp(pa->code, "-") != 0 && sitx_sas_match(pa->code, "000000") < 0) {
        return usage_err("--pair-code: not six digits nor -", pa->code);
    }
    if ((key == NULL && defaults_path(DEFAULTS_KEY, key_path, sizeof(key_path)) != 0) ||
        (known == NULL && defaults_path(DEFAULTS_KNOWN, known_path, sizeof(known_path)) != 0)) {
        return usage_err("no HOME nor XDG_CONFIG_HOME for the default key: give --key and "
                         "--known-receivers",
                         pa->target);
    }
    /* Only the default key is made on first use: a --key that is missing is a typo. */
    rc = defaults_load_key(key != NULL ? key : key_path, key == NULL, &kp, &created);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s: %s%s\n", key != NULL ? key : key_path, sitx_strerror(rc),
                rc == SITX_E_PERMS ? " (chmod 600 it)" : "");
        return SEND_EXIT_LOCAL;
    }
    if (created) {
        sitx_fingerprint(kp.pk, fp);
        fprintf(stderr, PROG ": created a new key in %s (mode 0600, fingerprint %s)\n", key_path,
                fp);
    }
    known_label(host, pc.port, label, sizeof(label));
    if (pa->name == NULL && gethostname(hostname, sizeof(hostname)) != 0) {
        snprintf(hostname, sizeof(hostname), "sender");
    }
    hostname[sizeof(hostname) - 1] = '\0';
    sitx_peer_name_sanitize(pa->name != NULL ? pa->name : hostname, pc.name);
    pc.host = host;
    pc.label = label;
    pc.kp = &kp;
    pc.known_path = known != NULL ? known : known_path;
    pc.code = pa->code;
    pc.timeout_ms = pa->timeout_ms;
    /* A receiver that hangs up makes a write fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    rc = pair_run(&pc);
    sitx_keypair_clear(&kp);
    return rc;
}
