/* The run: prepare the images in the thread pool (at most two ahead) and
 * validate them while they stream, keep one connection to the receiver (two
 * for a batch; reconnecting as needed), offer, stream and end each image,
 * match RESULTs by transfer id, retry what is retryable with backoff, and
 * report each image once. */
#ifndef SITX_SEND_SEND_H
#define SITX_SEND_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "greeting.h"
#include "image.h"
#include "keyfile.h"
#include "opts.h"
#include "passphrase.h"
#include "policy.h"
#include "report.h"

#define SEND_LABEL_MAX (SITX_HOST_MAX + 8)

/* What one run hands to the next in the same process (--watch, a run per
 * batch): the password-mode PSK, so that Argon2id runs once per receiver
 * salt rather than once per batch, and a receiver key learnt on first use
 * (--tofu), pinned for every later batch. Owned by the caller; wipe it with
 * send_carry_clear(). */
struct send_carry {
    struct psk_cache psk;
    uint8_t pin[SITX_KEY_BYTES];
    int have_pin;
};

/* Frees the PSK (guarded memory, wiped) and wipes the rest. NULL-safe. */
void send_carry_clear(struct send_carry *carry);

struct send_config {
    char host[SITX_HOST_MAX]; /* bare host: name, IPv4 or IPv6 without brackets */
    uint16_t port;
    char label[SEND_LABEL_MAX]; /* "host:port" / "[v6]:port", for messages and pins */
    enum sitx_auth_mode mode;
    const struct sitx_keypair *kp;    /* key mode: ours */
    const uint8_t *receiver_pk;       /* key mode: the pinned key, or NULL to learn it (TOFU) */
    const char *known_path;           /* where a learnt key is recorded, or NULL */
    const struct sitx_passphrase *pw; /* password mode */
    /* The key cache file (psk_store.h), or NULL: --no-psk-cache, or a
     * passphrase without a file. */
    const char *psk_store;
    struct sitx_image_opts image;
    struct sitx_image_limits limits;
    unsigned retries;    /* per image, after the first attempt */
    uint64_t timeout_ms; /* silence from the receiver that ends a connection */
    int verbose;
    /* --protocol: 1 or 2 forces that version; 0 asks for 2 and falls back
     * to what the receiver speaks (PROTOCOL.md §3). */
    unsigned protocol;
    /* In and out, may be NULL: the version a receiver was found to speak,
     * 0 until known, so that runs after the first (--watch) do not probe
     * again. */
    unsigned *learnt_version;
    /* SIGINT and SIGTERM stop the run (PROTOCOL.md §7, docs/SENDING.md):
     * no new OFFER, the image streaming withdrawn on version 2, the answers
     * awaited for --timeout at most, exit 130; a second signal exits at
     * once. 0 leaves the signals alone (--watch has its own stop). */
    int interruptible;
    char *const *files;
    /* --in-order: offer the files in the order given. Else the largest
     * goes first, so that a batch does not end with the receiver checking
     * one big image alone while the rest of the link and its cores idle. */
    int in_order;
    /* The name each file is offered under, a path relative to a directory
     * sent ("2024/a.jpg"); NULL (the array or an entry) for the base name. */
    char *const *names;
    size_t nfiles;
    struct send_carry *carry; /* kept across runs, or NULL */
};

/* Runs the whole transfer and reports each image through rep. Returns the
 * exit code (enum send_exit). */
int send_run(const struct send_config *cfg, struct report *rep);

#endif
