/* The receiver process: set-up (inbox, keys, PSK, greeting), the listener,
 * signals (stop with a grace period, reload), the systemd watchdog, and the
 * end of the loop once every connection and hook is gone. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "authz.h"
#include "conn.h"
#include "err.h"
#include "hook.h"
#include "index.h"
#include "listenaddr.h"
#include "log.h"
#include "pairing.h"
#include "partial.h"
#include "passphrase.h"
#include "safefile.h"
#include "sdnotify.h"
#include "transfer.h"
#include "secmem.h"
#include "web.h"

#define LISTEN_BACKLOG 128

void recv_config_default(struct recv_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "0.0.0.0");
    cfg->listen_port = SITX_DEFAULT_PORT;
    cfg->deadline_ms = 10 * 1000;
    cfg->max_size = 64u << 20;
    cfg->max_pixels = 64u << 20;
    cfg->max_connections = 64;
    cfg->max_per_address = 8;
    cfg->max_transfers_per_sender = 16;
    cfg->min_free = 64u << 20;
    adm_config_default(&cfg->adm);
    cfg->log_interval_ms = 10 * 1000;
    cfg->idle_timeout_ms = 30 * 1000;
    cfg->hook_timeout_ms = 30 * 1000;
    cfg->validation_memory = 64u << 20;
    cfg->validation_cpu_ms = 30 * 1000;
    cfg->partial_ttl_ms = 24 * 3600 * 1000;
}

static void sweep_partials(struct sitx_server *s, int fd)
{
    int n = partial_sweep(fd, s->cfg->partial_ttl_ms, partial_now_ms());

    if (n > 0) {
        sitx_log(SITX_LOG_INFO, "partials-expired", "count=%d", n);
    } else if (n < 0) {
        sitx_log(SITX_LOG_WARNING, "partials-sweep-failed", "error=%s", sitx_strerror(n));
    }
}

/* The partial store: swept of what expired while we were down. With
 * --partial-ttl 0 none is kept, and any left from before go. */
static int open_partials(struct sitx_server *s, const char *qdir)
{
    int fd;

    if (s->cfg->partial_ttl_ms == 0) {
        fd = openat(s->inbox_fd, PARTIAL_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            sweep_partials(s, fd);
            close(fd);
        }
        return 0;
    }
    fd = partial_dir_open(s->inbox_fd);
    if (fd < 0) {
        sitx_log(SITX_LOG_ERR, "inbox-error", "path=%s file=%s error=%s", qdir, PARTIAL_DIR,
                 sitx_strerror(fd));
        return fd;
    }
    s->partial_fd = fd;
    sweep_partials(s, fd);
    return 0;
}

static void on_partial_sweep(uv_timer_t *timer)
{
    struct sitx_server *s = timer->data;

    if (s->partial_fd >= 0) {
        sweep_partials(s, s->partial_fd);
    }
}

static int open_inbox(struct sitx_server *s)
{
    const char *dir = s->cfg->inbox;
    char qdir[PATH_MAX + 64];
    int swept;
    int rc;

    sitx_log_quote(dir, qdir, sizeof(qdir));
    if (realpath(dir, s->inbox_path) == NULL) {
        rc = -errno;
        sitx_log(SITX_LOG_ERR, "inbox-error", "path=%s error=%s", qdir, sitx_strerror(rc));
        return rc;
    }
    s->inbox_fd = open(s->inbox_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->inbox_fd < 0) {
        rc = -errno;
        sitx_log(SITX_LOG_ERR, "inbox-error", "path=%s error=%s", qdir, sitx_strerror(rc));
        return rc;
    }
    swept = sitx_tmpfile_sweep(s->inbox_fd);
    if (swept > 0) {
        sitx_log(SITX_LOG_NOTICE, "swept", "path=%s temporaries=%d", qdir, swept);
    }
    rc = open_partials(s, qdir);
    if (rc != 0) {
        return rc;
    }
    rc = index_open(s->inbox_fd, &s->index);
    if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "inbox-error", "path=%s file=%s error=%s", qdir, INDEX_FILE,
                 sitx_strerror(rc));
        return rc;
    }
    return 0;
}

static int load_key_mode(struct sitx_server *s)
{
    char qpath[PATH_MAX + 64];
    int rc;

    rc = sitx_keyfile_load(s->cfg->key_file, &s->key);
    if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "key-error", "path=%s error=%s",
                 sitx_log_quote(s->cfg->key_file, qpath, sizeof(qpath)), sitx_strerror(rc));
        return rc;
    }
    rc = authz_load(s->cfg->authorized_file, &s->authz);
    if (rc != 0) {
        return rc;
    }
    s->modes |= SITX_AUTH_KEY;
    return 0;
}

/* Reads the passphrase and runs Argon2id once, here, before the loop:
 * connections then cost no Argon2id at all. */
static int load_password_mode(struct sitx_server *s, struct sitx_greeting *g)
{
    struct sitx_passphrase pw = {0};
    char qpath[PATH_MAX + 64];
    int rc;

    rc = sitx_passphrase_read(s->cfg->password_file, 0, NULL, &pw);
    if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "password-error", "source=%s error=%s",
                 s->cfg->password_file != NULL
                     ? sitx_log_quote(s->cfg->password_file, qpath, sizeof(qpath))
                     : "SITX_PASSWORD",
                 sitx_passphrase_strerror(rc));
        goto out;
    }
    s->psk = sitx_secret_alloc(SITX_PSK_BYTES);
    if (s->psk == NULL) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    g->argon_ops = SITX_ARGON_OPS_DEFAULT;
    g->argon_mem_kib = SITX_ARGON_MEM_KIB_DEFAULT;
    randombytes_buf(g->salt, sizeof(g->salt));
    rc = sitx_passphrase_derive(&pw, g->salt, g->argon_ops, g->argon_mem_kib, s->psk);
    if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "password-error", "error=%s", sitx_strerror(rc));
        goto out;
    }
    s->modes |= SITX_AUTH_PASSWORD;
out:
    sitx_passphrase_clear(&pw);
    return rc;
}

int server_init(struct sitx_server *s, uv_loop_t *loop, const struct recv_config *cfg)
{
    struct sitx_greeting g;
    int rc;

    memset(s, 0, sizeof(*s));
    memset(&g, 0, sizeof(g));
    s->loop = loop;
    s->cfg = cfg;
    s->inbox_fd = -1;
    s->partial_fd = -1;
    rc = open_inbox(s);
    if (rc != 0) {
        return rc;
    }
    if (cfg->key_file != NULL) {
        rc = load_key_mode(s);
        if (rc != 0) {
            return rc;
        }
    }
    if (cfg->password_file != NULL || getenv("SITX_PASSWORD") != NULL) {
        rc = load_password_mode(s, &g);
        if (rc != 0) {
            return rc;
        }
    }
    if (s->modes == 0) {
        sitx_log(SITX_LOG_ERR, "config-error", "error=%s",
                 "no authentication mode: give --key and --authorized, or a password");
        return SITX_E_INVALID;
    }
    g.version = SITX_PROTO_VERSION;
    g.modes = s->modes;
    sitx_greeting_encode(&g, s->greeting);
    sitx_image_limits_default(&s->limits);
    s->limits.max_pixels = cfg->max_pixels;
    /* No single decoder may take more than all of them together. */
    s->limits.max_memory = cfg->validation_memory;
    budget_init(&s->budget, cfg->validation_memory, cfg->validation_cpu_ms);
    rc = adm_new(&cfg->adm, uv_now(loop), &s->adm);
    if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "config-error", "error=%s",
                 rc == SITX_E_NOMEM ? "out of memory for the admission table"
                                    : "--handshake-timeout-min is longer than --handshake-timeout");
        return rc;
    }
    if (cfg->on_receive != NULL) {
        rc = hook_runner_new(s, cfg->on_receive, cfg->hook_timeout_ms, &s->hooks);
        if (rc != 0) {
            sitx_log(SITX_LOG_ERR, "config-error", "error=%s", "--on-receive has no command");
            return rc;
        }
    }
    return 0;
}

static void on_server_handle_closed(uv_handle_t *h)
{
    struct sitx_server *s = h->data;

    s->handles_open--;
}

static void close_server_handle(struct sitx_server *s, uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        h->data = s;
        uv_close(h, on_server_handle_closed);
    }
}

static void log_summary(void *arg, const char *event, const char *fields)
{
    (void)arg;
    sitx_log(SITX_LOG_NOTICE, event, "%s", fields);
}

static void on_summary(uv_timer_t *timer)
{
    struct sitx_server *s = timer->data;

    adm_summarise(s->adm, uv_now(s->loop), log_summary, NULL);
}

/* Everything is gone: close our own handles so that the loop ends. */
static void maybe_finish(struct sitx_server *s)
{
    if (!s->stopping || s->finished || s->n_conns > 0 || hook_runner_pending(s->hooks) > 0) {
        return;
    }
    s->finished = 1;
    uv_timer_stop(&s->grace);
    pairing_stop(s->pairing);
    close_server_handle(s, (uv_handle_t *)&s->listener);
    close_server_handle(s, (uv_handle_t *)&s->sig_int);
    close_server_handle(s, (uv_handle_t *)&s->sig_term);
    close_server_handle(s, (uv_handle_t *)&s->sig_hup);
    close_server_handle(s, (uv_handle_t *)&s->watchdog);
    close_server_handle(s, (uv_handle_t *)&s->grace);
    close_server_handle(s, (uv_handle_t *)&s->wake);
    close_server_handle(s, (uv_handle_t *)&s->adm_tick);
    close_server_handle(s, (uv_handle_t *)&s->summary);
    close_server_handle(s, (uv_handle_t *)&s->partial_sweep);
    if (s->started) {
        on_summary(&s->summary); /* what the last interval saw */
        /* grace-expired says whether transfers were cut off by the stop
         * itself; transfers whose sender left are logged as "aborted". */
        sitx_log(SITX_LOG_NOTICE, "stopped", "grace-expired=%s", s->aborted ? "yes" : "no");
    }
}

static void on_grace(uv_timer_t *timer)
{
    struct sitx_server *s = timer->data;

    uv_timer_stop(&s->grace);
    s->aborted = 1;
    sitx_log(SITX_LOG_WARNING, "stop-grace-expired", "connections=%zu", s->n_conns);
    for (struct sitx_conn *c = s->conns; c != NULL; c = c->next) {
        conn_abort(c);
    }
    hook_runner_stop(s->hooks);
    maybe_finish(s);
}

static void begin_stop(struct sitx_server *s, const char *why)
{
    if (s->stopping) {
        /* A second signal: do not wait for the grace period. */
        if (!s->aborted) {
            on_grace(&s->grace);
        }
        return;
    }
    s->stopping = 1;
    (void)sitx_sd_notify("STOPPING=1");
    pairing_stop(s->pairing); /* no pairing while stopping */
    sitx_log(SITX_LOG_NOTICE, "stopping", "signal=%s connections=%zu", why, s->n_conns);
    if (s->listening) {
        close_server_handle(s, (uv_handle_t *)&s->listener);
        s->listening = 0;
    }
    for (struct sitx_conn *c = s->conns; c != NULL; c = c->next) {
        conn_begin_stop(c);
    }
    s->grace.data = s;
    uv_timer_start(&s->grace, on_grace, RECV_STOP_GRACE_MS, 0);
    maybe_finish(s);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct sitx_server *s = sig->data;

    if (signum == SIGHUP) {
        (void)sitx_sd_notify("RELOADING=1");
        if (s->authz != NULL) {
            (void)authz_reload(s->authz);
        } else {
            sitx_log(SITX_LOG_NOTICE, "reloaded", "authorized=none");
        }
        (void)sitx_sd_notify("READY=1");
        return;
    }
    begin_stop(s, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_watchdog(uv_timer_t *timer)
{
    (void)timer;
    (void)sitx_sd_notify("WATCHDOG=1");
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct sitx_server *s = listener->data;

    if (status < 0) {
        sitx_log(SITX_LOG_ERR, "accept-failed", "error=%s", uv_strerror(status));
        return;
    }
    conn_accept(s);
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[64] = "?";

    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

        uv_ip6_name(in6, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

        uv_ip4_name(in, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, ntohs(in->sin_port));
    }
}

static const char *mode_name(uint8_t modes)
{
    switch (modes) {
    case SITX_AUTH_KEY:
        return "key";
    case SITX_AUTH_PASSWORD:
        return "password";
    default:
        return "key+password";
    }
}

static void init_server_handles(struct sitx_server *s)
{
    uv_tcp_init(s->loop, &s->listener);
    uv_signal_init(s->loop, &s->sig_int);
    uv_signal_init(s->loop, &s->sig_term);
    uv_signal_init(s->loop, &s->sig_hup);
    uv_timer_init(s->loop, &s->watchdog);
    uv_timer_init(s->loop, &s->grace);
    uv_timer_init(s->loop, &s->wake);
    uv_timer_init(s->loop, &s->adm_tick);
    uv_timer_init(s->loop, &s->summary);
    uv_timer_init(s->loop, &s->partial_sweep);
    s->handles_open = 10;
    s->listener.data = s;
    s->sig_int.data = s;
    s->sig_term.data = s;
    s->sig_hup.data = s;
    s->watchdog.data = s;
    s->grace.data = s;
    s->wake.data = s;
    s->adm_tick.data = s;
    s->summary.data = s;
    s->partial_sweep.data = s;
}

int server_start(struct sitx_server *s)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char addr[128];
    char qinbox[PATH_MAX + 64];
    char keyfp[SITX_FINGERPRINT_LEN + 1] = "";
    uint64_t wd_ms;
    int rc;

    init_server_handles(s);
    rc = sitx_listenaddr_resolve(s->cfg->listen_host, s->cfg->listen_port, 0, &ss);
    if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "listen-failed", "host=%s error=%s", s->cfg->listen_host,
                 gai_strerror(rc));
        goto fail;
    }
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
    }
    if (rc == 0) {
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    }
    format_addr(&ss, addr, sizeof(addr));
    if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "listen-failed", "addr=%s error=%s", addr, uv_strerror(rc));
        goto fail;
    }
    s->listening = 1;
    s->started = 1;
    uv_signal_start(&s->sig_int, on_signal, SIGINT);
    uv_signal_start(&s->sig_term, on_signal, SIGTERM);
    uv_signal_start(&s->sig_hup, on_signal, SIGHUP);
    uv_timer_start(&s->summary, on_summary, s->cfg->log_interval_ms, s->cfg->log_interval_ms);
    if (s->partial_fd >= 0) {
        /* Often enough that a partial outlives its time by a fraction of
         * it; an offer checks the age itself, so this only frees space. */
        uint64_t every = s->cfg->partial_ttl_ms / 4;

        every = every < 1000 ? 1000 : every > 600000 ? 600000 : every;
        uv_timer_start(&s->partial_sweep, on_partial_sweep, every, every);
    }
    wd_ms = sitx_sd_watchdog_ms();
    if (wd_ms > 0) {
        uv_timer_start(&s->watchdog, on_watchdog, wd_ms / 2 > 0 ? wd_ms / 2 : 1,
                       wd_ms / 2 > 0 ? wd_ms / 2 : 1);
    }
    if (s->modes & SITX_AUTH_KEY) {
        sitx_fingerprint(s->key.pk, keyfp);
        sitx_log(SITX_LOG_INFO, "listening", "addr=%s mode=%s inbox=%s key=%s authorized=%zu", addr,
                 mode_name(s->modes), sitx_log_quote(s->inbox_path, qinbox, sizeof(qinbox)), keyfp,
                 authz_count(s->authz));
    } else {
        sitx_log(SITX_LOG_INFO, "listening", "addr=%s mode=%s inbox=%s", addr, mode_name(s->modes),
                 sitx_log_quote(s->inbox_path, qinbox, sizeof(qinbox)));
    }
    if (s->cfg->control_path != NULL) {
        rc = pairing_new(s, s->cfg->control_path, &s->pairing);
        if (rc != 0) {
            goto fail;
        }
    }
    (void)sitx_sd_notify("READY=1");
    return 0;
fail:
    /* Let the caller's loop run once to close what was opened. */
    s->stopping = 1;
    maybe_finish(s);
    return rc < 0 ? rc : SITX_E_INVALID;
}

void server_conn_gone(struct sitx_server *s, struct sitx_conn *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else if (s->conns == c) {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = NULL;
    c->next = NULL;
    s->n_conns--;
    if (c->authed) {
        s->n_authed--;
    }
    web_note_connections(s);
    maybe_finish(s);
}

static void on_wake(uv_timer_t *timer)
{
    budget_wake(timer->data);
    transfer_wake_twins(timer->data);
}

void server_wake_twins(struct sitx_server *s)
{
    if (!s->finished && s->handles_open > 0 && !uv_is_closing((uv_handle_t *)&s->wake)) {
        uv_timer_start(&s->wake, on_wake, 0, 0);
    }
}

/* Handshake timeouts are checked this often: the timeout shrinks for
 * connections already waiting, as the slots fill. */
#define ADM_TICK_MS 250

static void on_adm_tick(uv_timer_t *timer)
{
    struct sitx_server *s = timer->data;
    void *expired[64];
    size_t n;
    size_t i;

    do {
        n = adm_expired(s->adm, uv_now(s->loop), expired, sizeof(expired) / sizeof(expired[0]));
        for (i = 0; i < n; i++) {
            conn_handshake_expired(expired[i]); /* releases its slot */
        }
    } while (n == sizeof(expired) / sizeof(expired[0]));
    if (adm_count(s->adm) == 0) {
        uv_timer_stop(&s->adm_tick);
    }
}

void server_watch_handshakes(struct sitx_server *s)
{
    if (!uv_is_active((uv_handle_t *)&s->adm_tick) && !uv_is_closing((uv_handle_t *)&s->adm_tick)) {
        uv_timer_start(&s->adm_tick, on_adm_tick, ADM_TICK_MS, ADM_TICK_MS);
    }
}

void server_hook_gone(struct sitx_server *s)
{
    maybe_finish(s);
}

unsigned server_sender_transfers(const struct sitx_server *s, const uint8_t id[static 32])
{
    unsigned n = 0;

    for (const struct sitx_conn *c = s->conns; c != NULL; c = c->next) {
        if (c->authed && sodium_memcmp(c->sender_id, id, 32) == 0) {
            n += c->n_active;
        }
    }
    return n;
}

void server_clear(struct sitx_server *s)
{
    adm_free(s->adm);
    s->adm = NULL;
    hook_runner_free(s->hooks);
    s->hooks = NULL;
    index_free(s->index);
    s->index = NULL;
    authz_free(s->authz);
    s->authz = NULL;
    pairing_free(s->pairing);
    s->pairing = NULL;
    budget_clear(&s->budget);
    sitx_keypair_clear(&s->key);
    sitx_secret_free(s->psk, SITX_PSK_BYTES);
    s->psk = NULL;
    if (s->partial_fd >= 0) {
        close(s->partial_fd);
        s->partial_fd = -1;
    }
    if (s->inbox_fd >= 0) {
        close(s->inbox_fd);
        s->inbox_fd = -1;
    }
}
