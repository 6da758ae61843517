/* The web side's life (start, stop, the inbox listed at start) and the
 * hooks through which the loop thread tells it what happened. */
#include "safefile.h"
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "authz.h"
#include "conn.h"
#include "err.h"
#include "events.h"
#include "index.h"
#include "log.h"
#include "passphrase.h"
#include "server.h"
#include "thumb.h"
#include "transfer.h"

/* Shortest token accepted: 128 bits as hex, or a passphrase of that length. */
#define TOKEN_MIN 16

int web_host_is_loopback(const char *host)
{
    uint8_t a[16];
    static const uint8_t v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    if (inet_pton(AF_INET, host, a) == 1) {
        return a[0] == 127;
    }
    return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, v6_loop, sizeof(a)) == 0;
}

int web_host_is_ip(const char *host)
{
    uint8_t a[16];

    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* Fills the sender's name and fingerprint for a static key (all zero in
 * password mode). Loop thread: authz is reloaded there. */
static void sender_of(const struct sitx_server *srv, const uint8_t id[static 32], char *name,
                      size_t name_cap, char *fp, size_t fp_cap)
{
    static const uint8_t zero[32];
    const struct sitx_peer *p;

    name[0] = '\0';
    if (sodium_memcmp(id, zero, sizeof(zero)) == 0) {
        snprintf(fp, fp_cap, "password");
        return;
    }
    if (fp_cap > SITX_FINGERPRINT_LEN) {
        sitx_fingerprint(id, fp);
    }
    p = authz_find(srv->authz, id);
    if (p != NULL) {
        snprintf(name, name_cap, "%s", p->name);
    }
}

struct listing {
    struct sitx_server *srv;
    struct recv_web *w;
    size_t skip; /* lines too old to be listed */
    size_t seen;
};

/* One index line at start: listed when its file is still there. */
static void list_one(void *arg, const uint8_t sender[INDEX_ID_BYTES],
                     const uint8_t hash[SITX_CONTENT_HASH_BYTES], const char *name)
{
    struct listing *l = arg;
    struct events_image img;
    struct sitx_image_info info;
    uint8_t head[THUMB_PROBE_BYTES];
    struct stat st;
    ssize_t n;
    int fd;

    if (l->seen++ < l->skip) {
        return;
    }
    fd = sitx_open_beneath(l->srv->inbox_fd, name, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    n = pread(fd, head, sizeof(head), 0);
    close(fd);
    memset(&img, 0, sizeof(img));
    snprintf(img.name, sizeof(img.name), "%s", name);
    img.size = (uint64_t)st.st_size;
    img.time = (int64_t)st.st_mtim.tv_sec;
    memcpy(img.hash, hash, sizeof(img.hash));
    sender_of(l->srv, sender, img.sender, sizeof(img.sender), img.fingerprint,
              sizeof(img.fingerprint));
    if (n > 0 && thumb_probe(head, (size_t)n, &info) == 0) {
        img.width = info.width;
        img.height = info.height;
        snprintf(img.format, sizeof(img.format), "%s", sitx_image_format_name(info.format));
    }
    events_add_image(l->w->events, &img);
}

static int load_token(struct recv_web *w, const char *path)
{
    struct sitx_passphrase tok = {0};
    char qpath[1100];
    int rc;

    rc = sitx_passphrase_read(path, 0, NULL, &tok);
    if (rc == 0 && tok.len < TOKEN_MIN) {
        rc = SITX_E_INVALID;
        sitx_log(SITX_LOG_ERR, "http-token-error", "path=%s error=%s",
                 sitx_log_quote(path, qpath, sizeof(qpath)), "token shorter than 16 characters");
    } else if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "http-token-error", "path=%s error=%s",
                 sitx_log_quote(path, qpath, sizeof(qpath)), sitx_passphrase_strerror(rc));
    } else {
        crypto_generichash(w->token_hash, sizeof(w->token_hash), (const uint8_t *)tok.text, tok.len,
                           NULL, 0);
        w->has_token = 1;
    }
    sitx_passphrase_clear(&tok);
    return rc;
}

static void web_free(struct recv_web *w)
{
    if (w == NULL) {
        return;
    }
    thumb_cache_free(w->thumbs);
    events_free(w->events);
    sodium_memzero(w, sizeof(*w));
    free(w);
}

int web_start(struct sitx_server *srv, const struct recv_web_config *wc)
{
    struct recv_web *w = NULL;
    struct listing l;
    int rc;

    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return SITX_E_NOMEM;
    }
    w->inbox_fd = srv->inbox_fd;
    w->loopback = web_host_is_loopback(wc->host);
    rc = events_new(&w->events);
    if (rc == 0) {
        rc = thumb_cache_new(srv->inbox_fd, &srv->limits, srv->cfg->max_size, &w->thumbs);
    }
    if (rc == 0 && wc->token_file != NULL) {
        rc = load_token(w, wc->token_file);
    }
    if (rc != 0) {
        goto out;
    }
    memset(&l, 0, sizeof(l));
    l.srv = srv;
    l.w = w;
    l.skip = index_count(srv->index) > EVENTS_IMAGES_MAX
                 ? index_count(srv->index) - EVENTS_IMAGES_MAX
                 : 0;
    index_foreach(srv->index, list_one, &l);
    events_set_connections(w->events, srv->n_conns);
    rc = http_start(w, wc->host, wc->port);
    if (rc != 0) {
        goto out;
    }
    srv->web = w;
    w = NULL;
out:
    web_free(w);
    return rc;
}

void web_stop(struct sitx_server *srv)
{
    if (srv->web == NULL) {
        return;
    }
    http_stop(srv->web);
    web_free(srv->web);
    srv->web = NULL;
}

void web_note_outcome(const struct transfer *t, uint8_t status, const char *msg, const char *name)
{
    const struct sitx_conn *c = t->conn;
    struct recv_web *w = c->srv->web;
    struct events_event e;

    if (w == NULL) {
        return;
    }
    memset(&e, 0, sizeof(e));
    e.time = (int64_t)time(NULL);
    e.status = status;
    e.kind = status == SITX_ST_OK               ? EV_STORED
             : status == SITX_ST_ALREADY_STORED ? EV_ALREADY_STORED
             : status == SITX_ST_CANCELLED      ? EV_CANCELLED
                                                : EV_REFUSED;
    snprintf(e.name, sizeof(e.name), "%s", name != NULL && name[0] != '\0' ? name : t->name);
    e.size = t->size;
    snprintf(e.peer, sizeof(e.peer), "%s", c->peer);
    sender_of(c->srv, c->sender_id, e.sender, sizeof(e.sender), e.fingerprint,
              sizeof(e.fingerprint));
    snprintf(e.message, sizeof(e.message), "%s", msg != NULL ? msg : "");
    if (status == SITX_ST_OK) {
        struct events_image img;

        memset(&img, 0, sizeof(img));
        snprintf(img.name, sizeof(img.name), "%s", e.name);
        img.size = t->size;
        img.width = t->width;
        img.height = t->height;
        snprintf(img.format, sizeof(img.format), "%s",
                 sitx_image_format_name((enum sitx_image_format)t->format));
        memcpy(img.sender, e.sender, sizeof(img.sender));
        memcpy(img.fingerprint, e.fingerprint, sizeof(img.fingerprint));
        img.time = e.time;
        memcpy(img.hash, t->offer_hash, sizeof(img.hash));
        /* The image first, so a page that sees the event finds it listed. */
        events_add_image(w->events, &img);
    }
    /* While a job still runs (a deadline or a stop answered first) the
     * worker owns validate_ns: only a finished validation is counted. */
    if (!t->job_busy && !t->val_busy && t->validate_ns > 0) {
        events_count_validation(w->events, (double)t->validate_ns / 1e9);
    }
    events_add_event(w->events, &e);
}

void web_note_auth_failed(const struct sitx_conn *c, const char *reason, const char *detail)
{
    struct recv_web *w = c->srv->web;
    struct events_event e;

    if (w == NULL) {
        return;
    }
    memset(&e, 0, sizeof(e));
    e.time = (int64_t)time(NULL);
    e.kind = EV_AUTH_FAILED;
    snprintf(e.reason, sizeof(e.reason), "%s", reason);
    snprintf(e.peer, sizeof(e.peer), "%s", c->peer);
    if (strcmp(c->keyfp, "-") != 0) {
        snprintf(e.fingerprint, sizeof(e.fingerprint), "%s", c->keyfp);
    }
    snprintf(e.message, sizeof(e.message), "%s", detail != NULL ? detail : "");
    events_add_event(w->events, &e);
}

void web_note_conn_refused(const struct sitx_server *srv, const char *peer, const char *reason)
{
    struct events_event e;

    /* A peer that reset before accept (a load balancer's health check) is
     * no attempt at anything: not worth a line on the page. */
    if (srv->web == NULL || strcmp(reason, "peer-gone") == 0) {
        return;
    }
    memset(&e, 0, sizeof(e));
    e.time = (int64_t)time(NULL);
    e.kind = EV_CONN_REFUSED;
    snprintf(e.reason, sizeof(e.reason), "%s", reason);
    snprintf(e.peer, sizeof(e.peer), "%s", peer);
    events_add_event(srv->web->events, &e);
}

void web_note_aborted(const struct transfer *t, const char *why)
{
    const struct sitx_conn *c = t->conn;
    struct events_event e;

    if (c->srv->web == NULL) {
        return;
    }
    memset(&e, 0, sizeof(e));
    e.time = (int64_t)time(NULL);
    e.kind = EV_ABORTED;
    snprintf(e.name, sizeof(e.name), "%s", t->name);
    e.size = t->size;
    snprintf(e.peer, sizeof(e.peer), "%s", c->peer);
    sender_of(c->srv, c->sender_id, e.sender, sizeof(e.sender), e.fingerprint,
              sizeof(e.fingerprint));
    snprintf(e.message, sizeof(e.message), "%s", why);
    events_add_event(c->srv->web->events, &e);
}

void web_note_connections(const struct sitx_server *srv)
{
    if (srv->web != NULL) {
        events_set_connections(srv->web->events, srv->n_conns);
    }
}

void web_note_bytes(const struct sitx_server *srv, size_t n)
{
    if (srv->web != NULL && n > 0) {
        events_count_bytes(srv->web->events, n);
    }
}
