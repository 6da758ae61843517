/* sitx-send --watch DIR HOST: stays running, sends each complete PNG/JPEG
 * that appears in DIR once (also across restarts, see watch_state.h), and
 * optionally moves or deletes it once the receiver stored it. Each batch is
 * an ordinary send_run(). */
#ifndef SITX_SEND_WATCH_H
#define SITX_SEND_WATCH_H

#include <stdint.h>

#include "report.h"
#include "send.h"

#define WATCH_SETTLE_DEFAULT_MS 5000

struct watch_config {
    const char *dir;
    const char *move_to; /* --after-stored move:DIR, or NULL */
    int delete_after;    /* --after-stored delete */
    uint64_t settle_ms;  /* unchanged this long while still open: complete */
};

/* Parses the --after-stored argument. Returns 0 or -1. */
int watch_parse_after(const char *arg, struct watch_config *w);

/* Runs until SIGTERM (returns 0) or SIGINT (130), or a fatal error (its
 * exit code). cfg->files is set per batch. */
int watch_run(const struct watch_config *w, struct send_config *cfg, struct report *rep);

#endif
