/* Behind a load balancer (--proxy-protocol): every connection must come
 * from a trusted proxy and start with a PROXY v2 header, read before the
 * greeting goes out, with a short timeout and the parser's size cap. The
 * header's source address then stands for the connection everywhere: the
 * per-address cap, every log line, the hook's SITX_PEER. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

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
    return 0;
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

    sitx_log(SITX_LOG_WARNING, "proxy-header-failed", "peer=%s reason=%s detail=%s", c->peer,
             reason, sitx_log_quote(detail, qdetail, sizeof(qdetail)));
    web_note_auth_failed(c, "proxy-header", detail);
    /* Nothing was sent yet, not even the greeting: there is no one to tell. */
    conn_close(c, "bad-proxy-header");
}

void proxy_timeout(struct sitx_conn *c)
{
    char detail[64];

    snprintf(detail, sizeof(detail), "no PROXY header within %llu ms",
             (unsigned long long)(c->srv->cfg->handshake_timeout_ms < CONN_PROXY_TIMEOUT_MS
                                      ? c->srv->cfg->handshake_timeout_ms
                                      : CONN_PROXY_TIMEOUT_MS));
    header_failed(c, "timeout", detail);
}

/* The header is whole: take its source address, or keep the proxy's own
 * for LOCAL (its health checks). */
static void take_address(struct sitx_conn *c, const struct sitx_proxy_info *in)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (in->command == SITX_PROXY_LOCAL) {
        sitx_log(SITX_LOG_DEBUG, "proxy-local", "peer=%s", c->peer);
        return;
    }
    snprintf(c->via, sizeof(c->via), "%s", c->peer);
    (void)inet_ntop(in->family == SITX_PROXY_AF_INET ? AF_INET : AF_INET6, in->src, ip,
                    sizeof(ip));
    conn_set_peer(c, ip, in->src_port);
    sitx_log(SITX_LOG_DEBUG, "proxied", "peer=%s via=%s crc32c=%s", c->peer, c->via,
             in->crc_checked ? "ok" : "none");
}

int proxy_on_bytes(struct sitx_conn *c, const uint8_t **p, size_t *n)
{
    const char *refuse;
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
    free(c->proxy);
    c->proxy = NULL;
    refuse = conn_over_address_cap(c->srv, c);
    if (refuse != NULL) {
        sitx_log(SITX_LOG_WARNING, "connection-refused", "peer=%s via=%s reason=%s", c->peer,
                 c->via[0] != '\0' ? c->via : "-", refuse);
        conn_close(c, refuse);
        return -1;
    }
    rc = conn_greet(c);
    if (rc != 0) {
        conn_close(c, sitx_strerror(rc));
        return -1;
    }
    return 0;
}
