/* A scripted sitx receiver for the sender's flow tests, built from the
 * proto/ pieces: blocking sockets, a thread per connection. Its scripts make
 * it do what a real receiver rarely does; its counters say what it saw. */
#ifndef SITX_SEND_FAKE_RECEIVER_H
#define SITX_SEND_FAKE_RECEIVER_H

#include <pthread.h>
#include <stdint.h>

#include "greeting.h"
#include "keyfile.h"
#include "msg.h"
#include "passphrase.h"

enum script {
    SC_OK,            /* store everything, answer OK */
    SC_BAD_RECEIPT,   /* the first RESULT of each image names a wrong hash */
    SC_EARLY_TIMEOUT, /* first attempt of each image: RESULT TIMEOUT after one DATA */
    SC_TOO_LARGE,     /* every OFFER: RESULT TOO_LARGE */
    SC_ALREADY,       /* every OFFER: RESULT ALREADY_STORED */
    SC_REFUSE_HS,     /* an empty frame instead of handshake message 2 */
    SC_UNAUTHORIZED,  /* key mode: CLOSE UNAUTHORIZED after message 3 */
    SC_V1_ONLY,       /* a HELLO above version 1 gets the version frame 00 01 01 */
    /* Version 2, first offer of each image: ACCEPT at half its size with a
     * prefix hash that is not the sender's (CANCEL answered CANCELLED). */
    SC_RESUME_WRONG,
    /* Version 2, first offer of each image: ACCEPT past its size. */
    SC_RESUME_PAST_END,
};

#define MAX_IDS   16
#define MAX_CONNS 16

struct fake {
    int lfd;
    uint16_t port;
    enum sitx_auth_mode mode;
    enum script script;
    struct sitx_keypair kp; /* the receiver's static key */
    uint8_t psk[SITX_PSK_BYTES];
    uint8_t salt[SITX_SALT_LEN];
    pthread_t th;
    pthread_t conn_th[MAX_CONNS];
    int conn_fd[MAX_CONNS];
    pthread_mutex_t mu;
    int stop;
    /* What it saw. */
    int conns;
    int hello_v2; /* HELLOs asking for version 2 */
    int split; /* handshakes completed */
    int offers;
    int stored;
    int close_done;
    int data_after_result; /* DATA records that followed an early RESULT */
    int cancels_local;     /* CANCEL LOCAL records */
    int close_protocol;    /* CLOSE PROTOCOL from the sender */
    int ends_after_result;
    uint8_t ids[MAX_IDS][SITX_TRANSFER_ID_BYTES];
    int attempts[MAX_IDS];
    int n_ids;
};

/* Listens on 127.0.0.1, any port, and serves until fake_stop(). pw is used
 * in password mode. Returns NULL on failure. */
struct fake *fake_start(enum sitx_auth_mode mode, enum script script,
                        const struct sitx_passphrase *pw);
/* Waits for the connections to end (the sender has closed them by now) and
 * stops; the counters are final afterwards. */
void fake_stop(struct fake *f);
void fake_free(struct fake *f);
/* A listening socket on 127.0.0.1 and its port, or -1. */
int fake_listen_any(uint16_t *port);

#endif
