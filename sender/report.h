/* What sitx-send prints: one line per image on stdout, human or JSON; the
 * progress bar and diagnostics on stderr. Nothing here ever sees a secret. */
#ifndef SITX_SEND_REPORT_H
#define SITX_SEND_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "policy.h"
#include "progress.h"

struct image_report {
    const char *file; /* as given on the command line */
    enum send_outcome outcome;
    const char *status;    /* "OK", "TIMEOUT", ..., "LOCAL_ERROR", "NETWORK_ERROR", ... */
    const char *stored_as; /* stored name, or NULL */
    uint64_t size;         /* bytes stored (0 unless stored) */
    uint64_t file_size;    /* bytes of the file read (0 when it could not be read) */
    uint64_t bytes_sent;   /* DATA payload bytes sent, all attempts together */
    uint64_t resumed_from; /* where the last resumed attempt started, 0 for none */
    unsigned attempts;     /* OFFERs sent, or connection attempts when none got that far */
    uint64_t ms;           /* from the first OFFER to the outcome */
    uint32_t receiver_ms;  /* the receiver's own figure from RESULT */
    const char *error;     /* NULL on success */
    const uint8_t *hash;   /* SITX_CONTENT_HASH_BYTES, or NULL when never prepared */
    const char *format;    /* "PNG", "JPEG", or NULL */
    unsigned protocol;     /* the connection's protocol version, 0 when none carried it */
};

/* What a run came to, for the line that closes it. Each image given or
 * found ends in exactly one of the first five, so they add up to the
 * images; skipped counts the directory entries that were not images. */
struct report_summary {
    unsigned long stored;      /* RESULT OK */
    unsigned long already;     /* RESULT ALREADY_STORED */
    unsigned long refused;     /* a RESULT status that is not retried (TOO_LARGE, BAD_IMAGE...) */
    unsigned long failed;      /* the rest: retries used up, network, authentication, a local
                                * file error, an internal error */
    unsigned long interrupted; /* never finished, the run stopped first: counted by whoever
                                * stops it, with report_count_interrupted() */
    unsigned long skipped;     /* report_skipped() lines */
    uint64_t bytes_sent;       /* DATA payload bytes, all attempts */
    uint64_t started_ns;       /* CLOCK_MONOTONIC at report_init() */
};

struct report {
    FILE *out;
    FILE *err;
    int json;
    int quiet;
    struct sitx_progress progress;
    int bar_started; /* an image's bar is running */
    int bar_drawn;   /* the bar is on screen and must be erased before a line */
    /* --watch sees each outcome first; returning 0 keeps the line unprinted
     * (an image that stays pending). NULL prints every line. */
    int (*filter)(void *arg, const struct image_report *ir);
    void *filter_arg;
    struct report_summary sum; /* counted by report_image() and report_skipped() */
};

/* progress != 0 asks for a bar on err (still off when err is not a tty). */
void report_init(struct report *r, FILE *out, FILE *err, int json, int quiet, int progress);

/* Prints the line for one finished image. Returns 0, or -1 when out failed. */
int report_image(struct report *r, const struct image_report *ir);

/* One line for a directory entry left out: "skipped PATH: REASON", or with
 * --json {"file": PATH, "status": "SKIPPED", "reason": REASON}; none with
 * --quiet (human). Counted in sum.skipped. Returns 0, or -1 when out failed. */
int report_skipped(struct report *r, const char *path, const char *reason);

/* Images that never got an outcome because the run was stopped. */
void report_count_interrupted(struct report *r, unsigned long n);

/* The line that closes a run, from r->sum and the time since report_init():
 * "sitx-send: 12 stored, 3 already stored, 1 refused, 0 failed, 2 skipped,
 * 45.2 MB sent in 3.1 s" (", N interrupted" after failed when there are any),
 * or with --json one object {"summary": {...}} whose keys are those counts,
 * "images" (their sum), "bytes_sent" and "ms". Nothing with --quiet
 * (human). Returns 0, or -1 when out failed. */
int report_summary(struct report *r);
/* The same line into buf (no newline), for elapsed_ms. Returns its length or -1. */
int report_summary_format(const struct report *r, uint64_t elapsed_ms, char *buf, size_t cap);

/* "sitx-send: <message>" on err, the progress bar erased first. */
void report_error(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void report_progress_start(struct report *r, const char *label, uint64_t total, uint64_t now_ms);
void report_progress_update(struct report *r, uint64_t done, uint64_t now_ms);
/* Erases the bar; the next update draws it again. */
void report_progress_clear(struct report *r);
/* Erases the bar for good: the image it showed is done. */
void report_progress_end(struct report *r);

/* Writes the line for ir into buf (no newline). Returns its length, or -1
 * when it did not fit. */
int report_format(const struct report *r, const struct image_report *ir, char *buf, size_t cap);

#endif
