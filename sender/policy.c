#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "name.h"
#include "opts.h"

enum send_exit outcome_exit(enum send_outcome o)
{
    switch (o) {
    case OUTCOME_NONE:
    case OUTCOME_STORED:
    case OUTCOME_ALREADY:
        return SEND_EXIT_OK;
    case OUTCOME_REFUSED:
    case OUTCOME_FAILED:
        return SEND_EXIT_REFUSED;
    case OUTCOME_LOCAL:
        return SEND_EXIT_LOCAL;
    case OUTCOME_NETWORK:
        return SEND_EXIT_NETWORK;
    case OUTCOME_AUTH:
        return SEND_EXIT_AUTH;
    case OUTCOME_INTERNAL:
        return SEND_EXIT_INTERNAL;
    case OUTCOME_INTERRUPTED:
        return SEND_EXIT_INTERRUPTED;
    }
    return SEND_EXIT_INTERNAL;
}

/* Higher rank wins. A usage error never meets the others: it ends the run
 * before any image is looked at. */
static int exit_rank(enum send_exit e)
{
    switch (e) {
    case SEND_EXIT_OK:
        return 0;
    case SEND_EXIT_REFUSED:
        return 1;
    case SEND_EXIT_LOCAL:
        return 2;
    case SEND_EXIT_NETWORK:
        return 3;
    case SEND_EXIT_AUTH:
        return 4;
    case SEND_EXIT_USAGE:
        return 5;
    case SEND_EXIT_INTERNAL:
    case SEND_EXIT_PAIR: /* only --pair returns it; no image run combines it */
        return 6;
    case SEND_EXIT_INTERRUPTED: /* the user asked: nothing else was tried to the end */
        return 7;
    }
    return 6;
}

enum send_exit exit_combine(enum send_exit a, enum send_exit b)
{
    return exit_rank(a) >= exit_rank(b) ? a : b;
}

uint64_t backoff_ms(unsigned attempt, uint32_t rnd)
{
    uint64_t base = BACKOFF_BASE_MS;
    unsigned i;

    for (i = 1; i < attempt && base < BACKOFF_CAP_MS; i++) {
        base *= 2;
    }
    if (base > BACKOFF_CAP_MS) {
        base = BACKOFF_CAP_MS;
    }
    /* factor = 0.75 + rnd / 2^33, in [0.75, 1.25) */
    return base * 3 / 4 + ((base * (uint64_t)rnd) >> 33);
}

int retry_connect(uint64_t elapsed_ms, unsigned failures, uint64_t budget_ms, uint32_t rnd,
                  uint64_t *delay_ms)
{
    uint64_t left;
    uint64_t d;

    *delay_ms = 0;
    if (elapsed_ms >= budget_ms) {
        return 0;
    }
    left = budget_ms - elapsed_ms;
    d = backoff_ms(failures, rnd);
    *delay_ms = d < left ? d : left;
    return 1;
}

void retry_summary(const char *prefix, const char *why, unsigned attempts, uint64_t elapsed_ms,
                   char *out, size_t cap)
{
    snprintf(out, cap, "%s%s, %u attempt%s over %.1f s", prefix, why, attempts,
             attempts == 1 ? "" : "s", (double)elapsed_ms / 1000.0);
}

int parse_compress(const char *s, struct sitx_image_opts *o)
{
    uint64_t q = 0;

    if (strcmp(s, "none") == 0) {
        o->mode = SITX_COMPRESS_NONE;
        return 0;
    }
    if (strcmp(s, "lossless") == 0) {
        o->mode = SITX_COMPRESS_LOSSLESS;
        return 0;
    }
    if (strcmp(s, "lossy") == 0) {
        o->mode = SITX_COMPRESS_LOSSY;
        o->quality = 85;
        return 0;
    }
    if (strncmp(s, "lossy:", 6) == 0 && sitx_parse_uint(s + 6, 1, 100, &q) == 0) {
        o->mode = SITX_COMPRESS_LOSSY;
        o->quality = (int)q;
        return 0;
    }
    return SITX_E_INVALID;
}

void offer_name(const char *path, int fmt_changed, const char *ext, char *out, size_t cap)
{
    const char *base = path;
    const char *slash;
    const char *dot;
    char tmp[SITX_NAME_MAX * 2 + 16];
    size_t len;
    size_t stem;

    /* The base name: after the last '/', ignoring trailing ones ("dir/x.png/"
     * never reaches here: it is not a regular file). */
    slash = strrchr(path, '/');
    if (slash != NULL) {
        base = slash + 1;
    }
    len = strlen(base);
    if (len > sizeof(tmp) - 8) {
        len = sizeof(tmp) - 8;
    }
    memcpy(tmp, base, len);
    tmp[len] = '\0';
    if (fmt_changed && ext != NULL && ext[0] != '\0') {
        dot = strrchr(tmp, '.');
        stem = (dot != NULL && dot != tmp) ? (size_t)(dot - tmp) : len;
        snprintf(tmp + stem, sizeof(tmp) - stem, "%s", ext);
        len = strlen(tmp);
    }
    if (len >= 1 && len <= SITX_NAME_MAX && len < cap && tmp[0] != '.' &&
        sitx_utf8_valid((const uint8_t *)tmp, len)) {
        memcpy(out, tmp, len + 1);
        return;
    }
    /* Not sendable as it is (bad UTF-8, control characters, too long, a
     * leading dot): the shared sanitiser makes it so. */
    sitx_name_sanitize(tmp, len, NULL, out, cap);
}

/* Components of d[0..len) all non-empty and not dot-led. */
static int dirs_plain(const char *d, size_t len)
{
    size_t i = 0;

    while (i < len) {
        const char *end = memchr(d + i, '/', len - i);
        size_t n = end != NULL ? (size_t)(end - (d + i)) : len - i;

        if (n == 0 || d[i] == '.') {
            return 0;
        }
        i += n + 1;
    }
    return len > 0;
}

void offer_path(const char *rel, int fmt_changed, const char *ext, char *out, size_t cap)
{
    const char *slash = strrchr(rel, '/');
    char base[SITX_NAME_MAX + 1];
    size_t dlen;
    size_t blen;
    char *tmp;

    offer_name(rel, fmt_changed, ext, base, sizeof(base));
    if (slash == NULL) {
        snprintf(out, cap, "%s", base);
        return;
    }
    dlen = (size_t)(slash - rel);
    blen = strlen(base);
    if (dlen + 1 + blen <= SITX_NAME_MAX && dlen + 1 + blen < cap && dirs_plain(rel, dlen) &&
        sitx_utf8_valid((const uint8_t *)rel, dlen)) {
        memcpy(out, rel, dlen);
        out[dlen] = '/';
        memcpy(out + dlen + 1, base, blen + 1);
        return;
    }
    tmp = malloc(dlen + 1 + blen + 1);
    if (tmp == NULL) {
        snprintf(out, cap, "%s", base); /* the flat name is always valid */
        return;
    }
    memcpy(tmp, rel, dlen);
    tmp[dlen] = '/';
    memcpy(tmp + dlen + 1, base, blen + 1);
    sitx_name_sanitize_path(tmp, dlen + 1 + blen, NULL, out, cap);
    free(tmp);
}

const char *human_size(uint64_t bytes, char *out, size_t cap)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
    uint64_t div = 1000;
    size_t u = 0;

    if (bytes < 1000) {
        snprintf(out, cap, "%u B", (unsigned)bytes);
        return out;
    }
    /* Pick the unit so that the rounded value stays below 1000. */
    while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes / div >= 999) {
        div *= 1000;
        u++;
    }
    snprintf(out, cap, "%.1f %s", (double)bytes / (double)div, units[u]);
    return out;
}
