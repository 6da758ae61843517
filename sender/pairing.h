/* `sitx-send --pair HOST[:PORT]`: pairing with a receiver whose operator
 * opened a pairing window (PROTOCOL.md section 14, SENDING.md "Pairing").
 * One connection, the XX handshake with the PAIR flag, the code from the
 * handshake hash on both screens, and the receiver's key pinned in the
 * known-receivers file only when both people said yes. The pairing is
 * interactive by nature, so this runs its own small blocking client with
 * poll() on the socket and standard input, not the transfer engine. */
#ifndef SITX_SEND_PAIRING_H
#define SITX_SEND_PAIRING_H

#include <stdint.h>

#include "keyfile.h"
#include "peers.h"

struct pair_config {
    const char *host;
    uint16_t port;
    const char *label; /* "host:port", the pin's label */
    const struct sitx_keypair *kp;
    const char *known_path;            /* where the receiver's key is pinned */
    char name[SITX_PEER_NAME_MAX + 1]; /* proposed, sanitised */
    const char *code;                  /* NULL: y/N prompt; "-": read from stdin; else the code */
    uint64_t timeout_ms;               /* connect and handshake */
};

/* --pair as given on the command line; NULL for what was not given. */
struct pair_args {
    const char *target; /* HOST[:PORT] */
    const char *key_file;
    const char *known_file;
    const char *name;
    const char *code;
    uint64_t timeout_ms;
};

/* pair_main.c: the defaults filled in (key created on first use, host name
 * as the name), then pair_run(). Returns the exit code, SEND_EXIT_USAGE with
 * a message for a bad target or code. */
int pair_main(const struct pair_args *pa);

/* Runs the pairing; prints its progress and the code. Returns the exit
 * code: SEND_EXIT_OK, _USAGE, _AUTH (the pinned key differs), _NETWORK,
 * _INTERNAL, or SEND_EXIT_PAIR (refused, declined, codes differ, timeout). */
int pair_run(const struct pair_config *cfg);

#endif
