/* The pairing window and its one pairing connection: admission at HELLO,
 * the code once the handshake is done, the two answers, and the append to
 * the authorised senders in the thread pool when both are yes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "authz.h"
#include "conn.h"
#include "err.h"
#include "log.h"
#include "pair.h"
#include "pairing.h"
#include "pairing_int.h"
#include "server.h"

struct append_job {
    uv_work_t req;
    struct pairing *p;
    char path[PATH_MAX];
    uint8_t pk[SITX_KEY_BYTES];
    char name[SITX_PEER_NAME_MAX + 1];
    char err[256];
    int rc;
};

static void send_done(struct sitx_conn *c, uint8_t status, const char *message)
{
    struct sitx_pair_msg m;
    uint8_t buf[SITX_PAIR_MSG_MAX];
    size_t len = 0;

    memset(&m, 0, sizeof(m));
    m.type = SITX_PAIR_DONE;
    m.value = status;
    snprintf(m.text, sizeof(m.text), "%s", message);
    if (sitx_pair_encode(&m, buf, sizeof(buf), &len) == 0) {
        (void)conn_send_record(c, buf, len);
    }
}

static uint8_t status_code(const char *status)
{
    if (strcmp(status, "paired") == 0) {
        return SITX_PAIR_PAIRED;
    }
    if (strcmp(status, "already-authorised") == 0) {
        return SITX_PAIR_ALREADY;
    }
    if (strcmp(status, "declined") == 0) {
        return SITX_PAIR_DECLINED;
    }
    if (strcmp(status, "timeout") == 0) {
        return SITX_PAIR_TIMEOUT;
    }
    return SITX_PAIR_FAILED;
}

void pairing_shut(struct pairing *p, const char *status, const char *why)
{
    struct sitx_conn *c = p->conn;
    char line[SITX_CTL_LINE_MAX];
    char qwhy[300];

    if (p->phase == PAIR_SHUT) {
        return;
    }
    p->conn = NULL; /* so that closing it does not come back here */
    p->phase = PAIR_SHUT;
    uv_timer_stop(&p->window);
    if (c != NULL) {
        send_done(c, status_code(status), why);
        conn_close(c, "pairing-over");
    }
    sitx_log(SITX_LOG_NOTICE, "pair-window-closed", "result=%s detail=%s", status,
             sitx_log_quote(why, qwhy, sizeof(qwhy)));
    snprintf(line, sizeof(line), "result %s %s", status, why);
    control_send(p, line);
}

static void on_window(uv_timer_t *t)
{
    struct pairing *p = t->data;

    /* Both said yes and the key is being written: that pairing completes,
     * or the two sides would disagree about it. */
    if (p->phase != PAIR_WRITING) {
        pairing_shut(p, "timeout", "the pairing window closed before a pairing completed");
    }
}

void pairing_open(struct pairing *p, uint64_t ms)
{
    char line[64];

    if (p->phase != PAIR_SHUT || p->stopped || p->srv->stopping) {
        control_send(p, p->phase != PAIR_SHUT ? "error the window is already open"
                                              : "busy the receiver is stopping");
        return;
    }
    p->phase = PAIR_OPEN;
    p->attempts = 0;
    p->conn = NULL;
    uv_timer_start(&p->window, on_window, ms, 0);
    sitx_log(SITX_LOG_NOTICE, "pair-window-open", "ms=%llu", (unsigned long long)ms);
    snprintf(line, sizeof(line), "open %llu", (unsigned long long)ms);
    control_send(p, line);
}

void pairing_client_gone(struct pairing *p)
{
    /* Nobody is left to confirm: a pending pairing cannot complete. */
    if (p->phase != PAIR_WRITING) {
        pairing_shut(p, "declined", "the operator's pairing client went away");
    }
}

int pairing_admit(struct sitx_conn *c)
{
    struct pairing *p = c->srv->pairing;
    const char *refuse = NULL;

    if (p == NULL || p->phase == PAIR_SHUT) {
        refuse = "window-shut";
    } else if (p->phase != PAIR_OPEN) {
        refuse = "busy"; /* one pairing at a time */
    } else if (p->attempts >= PAIR_ATTEMPTS_MAX) {
        refuse = "rate-limited";
    }
    if (refuse != NULL) {
        sitx_log(SITX_LOG_WARNING, "pair-refused", "peer=%s reason=%s", c->peer, refuse);
        greet_fail(c, "pair-refused", refuse);
        return -1;
    }
    p->attempts++;
    p->phase = PAIR_HS;
    p->conn = c;
    p->have_request = 0;
    p->sender_answer = -1;
    p->operator_answer = -1;
    p->name[0] = '\0';
    c->pairing = 1;
    sitx_log(SITX_LOG_NOTICE, "pair-attempt", "peer=%s attempt=%u", c->peer, p->attempts);
    return 0;
}

int pairing_on_handshake(struct sitx_conn *c, const uint8_t pk[static SITX_KEY_BYTES],
                         const uint8_t h[static SITX_HASHLEN])
{
    struct pairing *p = c->srv->pairing;

    memcpy(p->pk, pk, SITX_KEY_BYTES);
    sitx_fingerprint(pk, p->fp);
    sitx_sas_code(h, p->code);
    p->phase = PAIR_ASKING;
    /* The window's deadline bounds the wait for people, not the handshake timer. */
    uv_timer_stop(&c->timer);
    return 0;
}

static void on_append_work(uv_work_t *req)
{
    struct append_job *job = req->data;

    job->rc = sitx_peers_append(job->path, job->pk, job->name, job->err, sizeof(job->err));
}

static void on_append_done(uv_work_t *req, int status)
{
    struct append_job *job = req->data;
    struct pairing *p = job->p;
    char qname[200];
    char qerr[600];
    char why[SITX_TEXT_MAX + 1];

    if (status != 0 && job->rc >= 0) {
        job->rc = SITX_E_INTERNAL;
        snprintf(job->err, sizeof(job->err), "%s", uv_strerror(status));
    }
    sitx_log_quote(job->name, qname, sizeof(qname));
    if (job->rc < 0) {
        sitx_log(SITX_LOG_ERR, "pair-failed", "key=%s name=%s error=%s", p->fp, qname,
                 sitx_log_quote(job->err, qerr, sizeof(qerr)));
        snprintf(why, sizeof(why), "the receiver could not record the key: %.200s", job->err);
        pairing_shut(p, "failed", why);
    } else {
        if (p->srv->authz != NULL) {
            (void)authz_reload(p->srv->authz); /* the new sender may send at once */
        }
        sitx_log(SITX_LOG_NOTICE, "paired", "key=%s name=%s added=%s", p->fp, qname,
                 job->rc == 1 ? "yes" : "already-listed");
        snprintf(why, sizeof(why), "%s %s", p->fp, job->name);
        pairing_shut(p, job->rc == 1 ? "paired" : "already-authorised", why);
    }
    sodium_memzero(job, sizeof(*job));
    free(job);
}

static void maybe_commit(struct pairing *p)
{
    struct append_job *job;

    if (p->sender_answer != 1 || p->operator_answer != 1 || p->phase != PAIR_ASKING) {
        return;
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL) {
        pairing_shut(p, "failed", "out of memory");
        return;
    }
    job->p = p;
    job->req.data = job;
    snprintf(job->path, sizeof(job->path), "%s", p->srv->cfg->authorized_file);
    memcpy(job->pk, p->pk, SITX_KEY_BYTES);
    snprintf(job->name, sizeof(job->name), "%s", p->name);
    /* The write fsyncs, so it goes to the pool, never the loop thread. */
    if (uv_queue_work(p->srv->loop, &job->req, on_append_work, on_append_done) != 0) {
        free(job);
        pairing_shut(p, "failed", "cannot queue the write");
        return;
    }
    p->phase = PAIR_WRITING;
}

void pairing_answer(struct pairing *p, int yes)
{
    if (p->phase != PAIR_ASKING || !p->have_request || p->operator_answer != -1) {
        control_send(p, "error there is no code to answer");
        return;
    }
    p->operator_answer = yes;
    if (!yes) {
        sitx_log(SITX_LOG_WARNING, "pair-declined", "key=%s by=operator", p->fp);
        pairing_shut(p, "declined", "the receiver's operator declined, or the codes differ");
        return;
    }
    maybe_commit(p);
}

static int pair_violation(struct pairing *p, const char *why)
{
    char qwhy[300];

    sitx_log(SITX_LOG_WARNING, "pair-failed", "key=%s error=%s", p->fp,
             sitx_log_quote(why, qwhy, sizeof(qwhy)));
    pairing_shut(p, "failed", why);
    return -1;
}

int pairing_on_message(struct sitx_conn *c, const uint8_t *msg, size_t len)
{
    struct pairing *p = c->srv->pairing;
    struct sitx_pair_msg m;
    char err[128];
    char line[SITX_CTL_LINE_MAX];
    char qname[200];

    if (p == NULL || p->conn != c) {
        conn_close(c, "pairing-over");
        return -1;
    }
    if (sitx_pair_decode(msg, len, &m, err, sizeof(err)) != 0) {
        return pair_violation(p, err);
    }
    switch (m.type) {
    case SITX_PAIR_REQUEST:
        if (p->have_request) {
            return pair_violation(p, "a second REQUEST");
        }
        sitx_peer_name_sanitize(m.text, p->name);
        p->have_request = 1;
        sitx_log(SITX_LOG_NOTICE, "pair-code", "peer=%s key=%s name=%s code=%s", c->peer, p->fp,
                 sitx_log_quote(p->name, qname, sizeof(qname)), p->code);
        snprintf(line, sizeof(line), "code %s %s %s", p->code, p->fp, p->name);
        control_send(p, line);
        return 0;
    case SITX_PAIR_CONFIRM:
        if (!p->have_request || p->sender_answer != -1) {
            return pair_violation(p, "CONFIRM out of order");
        }
        p->sender_answer = m.value;
        if (m.value == 0) {
            sitx_log(SITX_LOG_WARNING, "pair-declined", "key=%s by=sender", p->fp);
            pairing_shut(p, "declined", "the sender declined, or the codes differ");
            return -1;
        }
        maybe_commit(p);
        return 0;
    default:
        return pair_violation(p, "a DONE from the sender");
    }
}

void pairing_conn_closing(struct sitx_conn *c)
{
    struct pairing *p = c->srv->pairing;

    if (p == NULL || p->conn != c) {
        return;
    }
    p->conn = NULL;
    if (p->phase == PAIR_HS) {
        /* Gone before any code was shown: the window stays for another try. */
        p->phase = PAIR_OPEN;
        sitx_log(SITX_LOG_NOTICE, "pair-attempt-ended", "peer=%s reason=%s", c->peer,
                 "left during the handshake");
    } else if (p->phase == PAIR_ASKING) {
        pairing_shut(p, "failed", "the sender left before both sides answered");
    }
}
