/* The receiver as a whole: its configuration, the listening socket, the
 * connection caps, signals (stop, reload) and the pieces every connection
 * shares (greeting, keys, authorised senders, dedup index, hooks). */
#ifndef SITX_RECV_SERVER_H
#define SITX_RECV_SERVER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "admission.h"
#include "budget.h"
#include "cidr.h"
#include "greeting.h"
#include "image.h"
#include "keyfile.h"
#include "opts.h"

struct authz;
struct dedup_index;
struct hook_runner;
struct sitx_conn;
struct pairing;
struct recv_web;

/* How long transfers in flight may run on after SIGTERM before they are cut. */
#define RECV_STOP_GRACE_MS 5000
/* Longest a closing connection may take to flush its last records. */
#define RECV_CLOSE_FLUSH_MS 5000

struct recv_config {
    char listen_host[SITX_HOST_MAX];
    uint16_t listen_port;
    const char *inbox;
    int per_sender_dirs;       /* --per-sender-dirs: INBOX/<sender>/NAME */
    const char *password_file; /* NULL: SITX_PASSWORD, when set */
    const char *key_file;
    const char *authorized_file;
    const char *control_path; /* pairing control socket, or NULL: no pairing */
    const char *on_receive; /* command line, split on whitespace; NULL for none */
    uint64_t deadline_ms;
    uint64_t max_size;
    uint64_t max_pixels;
    uint64_t max_connections; /* authenticated connections at once */
    uint64_t max_per_address; /* ... from one address */
    uint64_t max_transfers_per_sender;
    uint64_t min_free;
    struct adm_config adm;    /* before authentication: slots, timeouts, penalties */
    uint64_t log_interval_ms; /* how often pre-authentication events are summarised */
    uint64_t idle_timeout_ms;
    uint64_t hook_timeout_ms;
    int proxy_protocol; /* --proxy-protocol: every connection starts with a PROXY v2 header */
    struct sitx_cidr proxy_trusted[SITX_CIDR_LIST_MAX]; /* who may send it */
    size_t n_proxy_trusted;
    uint64_t validation_memory; /* bytes all validations may reserve together */
    uint64_t validation_cpu_ms; /* validation CPU per sender key per minute */
    uint64_t partial_ttl_ms;    /* how long a broken transfer's bytes are kept; 0 keeps none */
};

/* Fills cfg with the documented defaults. */
void recv_config_default(struct recv_config *cfg);

struct sitx_server {
    uv_loop_t *loop;
    const struct recv_config *cfg;

    uv_tcp_t listener;
    uv_signal_t sig_int;
    uv_signal_t sig_term;
    uv_signal_t sig_hup;
    uv_timer_t watchdog;
    uv_timer_t grace;
    uv_timer_t wake;  /* settles offers that waited for a twin transfer */
    uv_timer_t adm_tick; /* handshake timeouts, while anyone is unauthenticated */
    uv_timer_t summary;  /* the pre-authentication summary lines */
    uv_timer_t partial_sweep; /* deletes expired partials */
    int handles_open; /* server handles not yet closed */
    int listening;
    int started; /* server_start() succeeded */

    int inbox_fd;
    char inbox_path[PATH_MAX]; /* absolute */
    int partial_fd;            /* INBOX/.sitx-partial, or -1 when no partials are kept */

    uint8_t modes; /* OR of enum sitx_auth_mode */
    uint8_t greeting[SITX_GREETING_LEN];
    struct sitx_keypair key; /* key mode: sk in guarded memory */
    uint8_t *psk;            /* password mode: guarded, SITX_PSK_BYTES */

    struct authz *authz;
    struct pairing *pairing; /* NULL without --control */
    struct dedup_index *index;
    struct hook_runner *hooks;
    struct recv_web *web; /* --http: the web side, or NULL */
    struct sitx_image_limits limits;
    struct recv_budget budget; /* validation memory and CPU */

    struct sitx_conn *conns; /* every connection not yet freed */
    size_t n_conns;
    size_t n_authed;     /* of which authenticated */
    size_t n_proxy_wait; /* of which waiting for their PROXY header */
    struct adm *adm; /* the pre-authentication slots */

    int stopping; /* SIGTERM/SIGINT seen: no new connections or offers */
    int aborted;  /* the grace period ran out */
    int finished; /* server handles closed */
};

/* Loads everything the receiver needs before it listens: the inbox (stale
 * temporaries swept, dedup index read), the key, the authorised senders, the
 * passphrase (Argon2id runs here, once), the greeting. Logs and returns 0 or
 * a negative error. */
int server_init(struct sitx_server *s, uv_loop_t *loop, const struct recv_config *cfg);

/* Binds, listens, installs the signal handlers, logs "listening" and tells
 * systemd READY=1. Returns 0 or a negative error (logged). */
int server_start(struct sitx_server *s);

/* Frees what server_init set up; call after the loop has ended. */
void server_clear(struct sitx_server *s);

/* A connection was freed: forget it, and finish stopping when it was the last. */
void server_conn_gone(struct sitx_server *s, struct sitx_conn *c);

/* A connection took a pre-authentication slot: handshake timeouts are
 * watched from now on. */
void server_watch_handshakes(struct sitx_server *s);

/* A hook process ended; stopping may be able to finish. */
void server_hook_gone(struct sitx_server *s);

/* A transfer ended or gave memory back: offers waiting for a twin, and
 * transfers waiting for validation memory, are looked at again from a
 * zero timer, outside whatever walk of the transfers is under way. */
void server_wake_twins(struct sitx_server *s);

/* Active transfers from the sender with this identity, over all connections. */
unsigned server_sender_transfers(const struct sitx_server *s, const uint8_t id[static 32]);

#endif
