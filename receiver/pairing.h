/* Pairing on the receiver (PROTOCOL.md section 14, OPERATING.md "Pairing").
 *
 * A pairing window is opened from the control socket (--control PATH) by
 * `sitx-recv --pair-window DURATION`, which stays connected to confirm. While
 * it is open, one sender at a time may connect with the PAIR flag in its
 * HELLO, run the XX handshake and propose a name; both sides show the code
 * derived from the handshake hash. The sender's key is appended to the
 * authorised senders only when the sender and the operator both said yes.
 * The window closes after that pairing, a declined one, at its deadline, or
 * when the operator's client goes away; every attempt and refusal is logged.
 * Pairing HELLOs are refused (zero-length frame) whenever it is shut. */
#ifndef SITX_RECV_PAIRING_H
#define SITX_RECV_PAIRING_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "keyfile.h"

struct sitx_server;
struct sitx_conn;
struct pairing;

/* Attempts (pairing handshakes begun) one window admits. */
#define PAIR_ATTEMPTS_MAX 3
/* The longest window an operator may ask for. */
#define PAIR_WINDOW_MAX_MS (60ull * 60 * 1000)

/* Binds the control socket at path (mode 0600; a stale socket file is
 * replaced). Logs and returns 0 or a negative error. */
int pairing_new(struct sitx_server *s, const char *path, struct pairing **out);
/* Closes the socket and any window (the server is stopping). */
void pairing_stop(struct pairing *p);
/* Frees after the loop ended; removes the socket file. NULL-safe. */
void pairing_free(struct pairing *p);

/* A HELLO with the PAIR flag arrived: 0 when the window admits it (the
 * connection becomes the window's one pairing), else refused, logged and
 * closed, and negative. */
int pairing_admit(struct sitx_conn *c);
/* The handshake of the pairing connection completed: h is its hash, pk the
 * sender's static key. Returns 0 or negative (closed). */
int pairing_on_handshake(struct sitx_conn *c, const uint8_t pk[static SITX_KEY_BYTES],
                         const uint8_t h[static SITX_HASHLEN]);
/* One decrypted message on the pairing connection. 0 or negative (closed). */
int pairing_on_message(struct sitx_conn *c, const uint8_t *msg, size_t len);
/* The pairing connection is closing. */
void pairing_conn_closing(struct sitx_conn *c);

/* control.c: the operator's commands. */
/* Opens the window for ms, reporting to the attached client. */
void pairing_open(struct pairing *p, uint64_t ms);
/* The operator's answer to the code shown. */
void pairing_answer(struct pairing *p, int yes);
/* The client went away: the window closes. */
void pairing_client_gone(struct pairing *p);
/* Sends one line (without '\n') to the attached client, if any. */
void control_send(struct pairing *p, const char *line);

#endif
