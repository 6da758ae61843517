/* Behind a load balancer (--proxy-protocol): every connection must come
 * from a trusted proxy and start with a PROXY v2 header, read before the
 * greeting goes out, with a short timeout and the parser's size cap. The
 * header's source address then stands for the connection everywhere:
 * admission (its startup slot, caps and penalties), every log line, the
 * hook's SITX_PEER. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "conn.h"
#include "web.h"
#include "err.h"
#include "log.h"
#include "server.h"

int proxy_trusted(const struct sitx_server *srv, const struct sitx_conn *c)
{
    const struct recv_config *cfg = srv->cfg;

    return sitx_cidr_match(cfg->proxy_trusted, cfg->n_proxy_trusted, c->ip);
}

int proxy_begin(struct sitx_conn *c)
{
    c->proxy = malloc(sizeof(*c->proxy));
    if (c->proxy == NULL) {
        return SITX_E_NOMEM;
    }
    sitx_proxyhdr_init(c->proxy);
    c->state = CONN_PROXY;
    c->srv->n_proxy_wait++;
    return 0;
}

void proxy_end(struct sitx_conn *c)
{
    if (c->proxy != NULL) {
        free(c->proxy);
        c->proxy = NULL;
        c->srv->n_proxy_wait--;
    }
}

static const char *failure_name(int rc)
{
    switch (rc) {
    case SITX_E_VERSION:
        return "version";
    case SITX_E_TOO_LARGE:
        return "too-large";
    case SITX_E_UNSUPPORTED:
        return "unsupported";
    default:
        return "malformed";
    }
}

static void header_failed(struct sitx_conn *c, const char *reason, const char *detail)
{
    char qdetail[300];

    if (adm_log_allowed(c->srv->adm, &c->addr)) {
        sitx_log(SITX_LOG_WARNING, "proxy-header-failed", "peer=%s reason=%s detail=%s", c->peer,
                 reason, sitx_log_quote(detail, qdetail, sizeof(qdetail)));
    }
    web_note_auth_failed(c, "proxy-header", detail);
    /* Nothing was sent yet, not even the greeting: there is no one to tell. */
    conn_close(c, "bad-proxy-header");
}

void proxy_timeout(struct sitx_conn *c)
{
    char detail[64];

    snprintf(detail, sizeof(detail), "no PROXY header within %llu ms",
             (unsigned long long)(c->srv->cfg->adm.timeout_ms < CONN_PROXY_TIMEOUT_MS
                                      ? c->srv->cfg->adm.timeout_ms
                                      : CONN_PROXY_TIMEOUT_MS));
    header_failed(c, "timeout", detail);
}

/* The header is whole: take its source address, or keep the proxy's own
 * for LOCAL (its health checks). */
static void take_address(struct sitx_conn *c, const struct sitx_proxy_info *in)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    struct sockaddr_storage ss;

    if (in->command == SITX_PROXY_LOCAL) {
        sitx_log(SITX_LOG_DEBUG, "proxy-local", "peer=%s", c->peer);
        return;
    }
    snprintf(c->via, sizeof(c->via), "%s", c->peer);
    (void)inet_ntop(in->family == SITX_PROXY_AF_INET ? AF_INET : AF_INET6, in->src, ip,
                    sizeof(ip));
    conn_set_peer(c, ip, in->src_port);
    memset(&ss, 0, sizeof(ss));
    if (in->family == SITX_PROXY_AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        memcpy(&a->sin_addr, in->src, 4);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        memcpy(&a->sin6_addr, in->src, 16);
    }
    (void)adm_addr_from_sockaddr((const struct sockaddr *)&ss, &c->addr);
    sitx_log(SITX_LOG_DEBUG, "proxied", "peer=%s via=%s crc32c=%s", c->peer, c->via,
             in->crc_checked ? "ok" : "none");
}

int proxy_on_bytes(struct sitx_conn *c, const uint8_t **p, size_t *n)
{
    size_t used = 0;
    int rc = sitx_proxyhdr_feed(c->proxy, *p, *n, &used);

    *p += used;
    *n -= used;
    if (rc == 0) {
        return 0;
    }
    if (rc < 0) {
        header_failed(c, failure_name(rc), sitx_proxyhdr_errstr(c->proxy));
        return -1;
    }
    take_address(c, sitx_proxyhdr_info(c->proxy));
    proxy_end(c);
    /* Now the sender's address is known: a startup slot, as for a direct
     * connection (refusals are summarised by admission). */
    if (!conn_admit(c)) {
        conn_refuse_admission(c);
        return -1;
    }
    rc = conn_greet(c);
    if (rc != 0) {
        conn_close(c, sitx_strerror(rc));
        return -1;
    }
    return 0;
}
