/* The sender's small decisions, kept free of libuv and I/O so that unit
 * tests can reach them: exit codes and their priority, retry backoff, the
 * --compress argument, the name an image is offered under, human sizes. */
#ifndef SITX_SEND_POLICY_H
#define SITX_SEND_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* Exit codes of sitx-send; --help and the man page list them. */
enum send_exit {
    SEND_EXIT_OK = 0,            /* every image stored (OK or ALREADY_STORED) */
    SEND_EXIT_REFUSED = 1,       /* an image refused, or a retryable failure persisted */
    SEND_EXIT_USAGE = 2,         /* bad command line */
    SEND_EXIT_LOCAL = 3,         /* a file missing, unreadable, or not PNG/JPEG */
    SEND_EXIT_AUTH = 4,          /* wrong password, not authorised, receiver key mismatch */
    SEND_EXIT_NETWORK = 5,       /* cannot connect, connection lost, no answer, after retries */
    SEND_EXIT_INTERNAL = 6,      /* a bug or no memory */
    SEND_EXIT_PAIR = 7,          /* --pair: refused, declined, codes differ, window closed */
    SEND_EXIT_INTERRUPTED = 130, /* SIGINT or SIGTERM stopped the run (128 + SIGINT) */
};

/* What became of one image; each maps to an exit code. */
enum send_outcome {
    OUTCOME_NONE = 0,    /* not finished */
    OUTCOME_STORED,      /* RESULT OK */
    OUTCOME_ALREADY,     /* RESULT ALREADY_STORED */
    OUTCOME_REFUSED,     /* a RESULT status that is not retried */
    OUTCOME_FAILED,      /* a retryable RESULT status, still failing after the retries */
    OUTCOME_LOCAL,       /* the file could not be read or is not PNG/JPEG */
    OUTCOME_NETWORK,     /* connection failures or timeouts, after the retries */
    OUTCOME_AUTH,        /* authentication failed; nothing was sent */
    OUTCOME_INTERNAL,    /* no memory, or an impossible state */
    OUTCOME_INTERRUPTED, /* Ctrl-C: never offered, withdrawn, or not answered in time */
};

/* The exit code one outcome asks for. */
enum send_exit outcome_exit(enum send_outcome o);

/* Combines two exit codes: 130 (interrupted) first, internal, then 4, 5, 3, 1, then 0. */
enum send_exit exit_combine(enum send_exit a, enum send_exit b);

/* Delay before retry number attempt (1 for the first retry): 500 ms doubling,
 * capped at 10 s, then scaled by a jitter factor in [0.75, 1.25) taken from
 * rnd (any 32-bit value), so that senders that failed together do not come
 * back together. */
uint64_t backoff_ms(unsigned attempt, uint32_t rnd);

#define BACKOFF_BASE_MS 500u
#define BACKOFF_CAP_MS  10000u

/* Connections that failed before the receiver served anything (busy,
 * refusing connections, no answer): whether to try once more, and when.
 * elapsed_ms runs from the start of the first of them, failures counts
 * them (>= 1), budget_ms is --timeout. Returns 1 with *delay_ms =
 * backoff_ms(failures, rnd) cut to what is left of the budget, or 0 when
 * the budget is spent. */
int retry_connect(uint64_t elapsed_ms, unsigned failures, uint64_t budget_ms, uint32_t rnd,
                  uint64_t *delay_ms);

/* The message a run ends with when retry_connect() gave up:
 * "PREFIXWHY, N attempts over X.Y s" into out. */
void retry_summary(const char *prefix, const char *why, unsigned attempts, uint64_t elapsed_ms,
                   char *out, size_t cap);

/* Parses "none", "lossless", "lossy" or "lossy:QUALITY" (1..100) into o->mode
 * and o->quality (85 for plain "lossy"). Returns 0 or SITX_E_INVALID. */
int parse_compress(const char *s, struct sitx_image_opts *o);

/* The name an image is offered under: the base name of path, with its
 * extension replaced by ext when the format changed (fmt_changed != 0),
 * made valid for the wire (UTF-8, no control characters, 1..255 bytes).
 * out must hold SITX_NAME_MAX + 1 bytes. */
void offer_name(const char *path, int fmt_changed, const char *ext, char *out, size_t cap);

/* The same for a path relative to a directory sent ("2024/a.jpg"): the
 * file name as offer_name() makes it, after its directories when the whole
 * is valid for the wire (UTF-8 without control characters, at most
 * SITX_NAME_MAX bytes, no empty or dot-led component), else as
 * sitx_name_sanitize_path() cleans it. A name without '/' is offer_name()'s. */
void offer_path(const char *rel, int fmt_changed, const char *ext, char *out, size_t cap);

/* "512 B", "12.3 kB", "2.1 MB", "1.4 GB" (powers of 1000) into out. */
const char *human_size(uint64_t bytes, char *out, size_t cap);

#endif
