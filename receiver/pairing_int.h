/* Inside the receiver's pairing: pair.c (the window and the pairing
 * connection) and control.c (the control socket) share this. */
#ifndef SITX_RECV_PAIRING_INT_H
#define SITX_RECV_PAIRING_INT_H

#include <limits.h>

#include <uv.h>

#include "ctl.h"
#include "pairing.h"
#include "peers.h"
#include "sas.h"

enum pair_phase {
    PAIR_SHUT,    /* no window */
    PAIR_OPEN,    /* window open, no sender yet (or the last one left early) */
    PAIR_HS,      /* a pairing connection is in its handshake */
    PAIR_ASKING,  /* codes shown, answers awaited */
    PAIR_WRITING, /* both said yes: the append job runs */
};

struct pairing {
    struct sitx_server *srv;
    char path[PATH_MAX]; /* of the control socket */
    uv_pipe_t listener;
    uv_pipe_t *client; /* the operator's client, or NULL */
    char inbuf[SITX_CTL_LINE_MAX + 2];
    size_t inlen;
    uv_timer_t window; /* the window's deadline */
    int stopped;

    enum pair_phase phase;
    unsigned attempts;
    struct sitx_conn *conn; /* the pairing connection, or NULL */
    uint8_t pk[SITX_KEY_BYTES];
    char fp[SITX_FINGERPRINT_LEN + 1];
    char code[SITX_SAS_DIGITS + 1];
    char name[SITX_PEER_NAME_MAX + 1];
    int have_request;  /* REQUEST read */
    int sender_answer; /* -1 not yet, 0 no, 1 yes */
    int operator_answer;
};

/* pair.c: the window is over; why goes to the log and the client. */
void pairing_shut(struct pairing *p, const char *status, const char *why);

#endif
