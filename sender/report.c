#include "report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "json.h"
#include "policy.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void report_init(struct report *r, FILE *out, FILE *err, int json, int quiet, int progress)
{
    memset(r, 0, sizeof(*r));
    r->out = out;
    r->err = err;
    r->json = json;
    r->quiet = quiet;
    r->sum.started_ns = mono_ns();
    sitx_progress_init(&r->progress, err, progress && !quiet);
}

static int format_json(const struct image_report *ir, char *buf, size_t cap)
{
    struct sitx_json j;
    char hex[SITX_CONTENT_HASH_BYTES * 2 + 1];
    int ok = ir->outcome == OUTCOME_STORED || ir->outcome == OUTCOME_ALREADY;

    sitx_json_begin(&j, buf, cap);
    sitx_json_str(&j, "file", ir->file);
    sitx_json_str(&j, "status", ir->status);
    sitx_json_str(&j, "stored_as", ok ? ir->stored_as : NULL);
    sitx_json_u64(&j, "size", ir->size);
    sitx_json_u64(&j, "file_size", ir->file_size);
    sitx_json_u64(&j, "bytes_sent", ir->bytes_sent);
    if (ir->resumed_from > 0) {
        sitx_json_u64(&j, "resumed_from", ir->resumed_from);
    }
    sitx_json_u64(&j, "attempts", ir->attempts);
    sitx_json_u64(&j, "ms", ir->ms);
    sitx_json_u64(&j, "receiver_ms", ir->receiver_ms);
    sitx_json_str(&j, "error", ok ? NULL : ir->error);
    if (ir->hash != NULL) {
        size_t i;

        for (i = 0; i < SITX_CONTENT_HASH_BYTES; i++) {
            snprintf(hex + 2 * i, 3, "%02x", ir->hash[i]);
        }
        sitx_json_str(&j, "hash", hex);
    } else {
        sitx_json_str(&j, "hash", NULL);
    }
    sitx_json_str(&j, "format", ir->format);
    if (ir->protocol != 0) {
        sitx_json_u64(&j, "protocol", ir->protocol);
    }
    return sitx_json_end(&j);
}

static int format_human(const struct image_report *ir, char *buf, size_t cap)
{
    char size[32];
    const char *err = ir->error != NULL && ir->error[0] != '\0' ? ir->error : NULL;
    int n = -1;

    switch (ir->outcome) {
    case OUTCOME_STORED:
        n = snprintf(buf, cap, "%s: stored as %s (%s, %" PRIu64 " ms)", ir->file, ir->stored_as,
                     human_size(ir->size, size, sizeof(size)), ir->ms);
        break;
    case OUTCOME_ALREADY:
        n = snprintf(buf, cap, "%s: already stored as %s", ir->file, ir->stored_as);
        break;
    case OUTCOME_REFUSED:
        n = snprintf(buf, cap, "%s: refused: %s%s%s", ir->file, ir->status, err ? ": " : "",
                     err ? err : "");
        break;
    case OUTCOME_FAILED:
    case OUTCOME_NETWORK:
        n = snprintf(buf, cap, "%s: failed after %u attempt%s: %s%s%s", ir->file, ir->attempts,
                     ir->attempts == 1 ? "" : "s", ir->status, err ? ": " : "", err ? err : "");
        break;
    case OUTCOME_LOCAL:
        n = snprintf(buf, cap, "%s: not sent: %s", ir->file, err ? err : "local error");
        break;
    case OUTCOME_AUTH:
    case OUTCOME_INTERRUPTED:
        n = snprintf(buf, cap, "%s: not sent: %s%s%s", ir->file, ir->status, err ? ": " : "",
                     err ? err : "");
        break;
    case OUTCOME_INTERNAL:
    case OUTCOME_NONE:
        n = snprintf(buf, cap, "%s: failed: %s%s%s", ir->file, ir->status, err ? ": " : "",
                     err ? err : "");
        break;
    }
    if (n < 0 || (size_t)n >= cap) {
        return -1;
    }
    return n;
}

/* A file name may carry terminal escapes: control bytes are shown as '?'. */
static void defang(char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch < 0x20 || ch == 0x7f) {
            *s = '?';
        }
    }
}

int report_format(const struct report *r, const struct image_report *ir, char *buf, size_t cap)
{
    int n;

    if (r->json) {
        return format_json(ir, buf, cap);
    }
    n = format_human(ir, buf, cap);
    if (n >= 0) {
        defang(buf);
    }
    return n;
}

static void count(struct report_summary *sum, const struct image_report *ir)
{
    switch (ir->outcome) {
    case OUTCOME_STORED:
        sum->stored++;
        break;
    case OUTCOME_ALREADY:
        sum->already++;
        break;
    case OUTCOME_REFUSED:
        sum->refused++;
        break;
    case OUTCOME_INTERRUPTED:
        sum->interrupted++;
        break;
    default:
        sum->failed++;
        break;
    }
    sum->bytes_sent += ir->bytes_sent;
}

/* Prints one line of buf's text, the bar erased first. */
static int print_line(struct report *r, const char *buf)
{
    report_progress_clear(r);
    if (fprintf(r->out, "%s\n", buf) < 0 || fflush(r->out) != 0) {
        return -1;
    }
    return 0;
}

int report_image(struct report *r, const struct image_report *ir)
{
    /* Room for the worst case: every byte of the names escaped as \u00XX. */
    size_t cap = 6 * (strlen(ir->file) + (ir->stored_as ? strlen(ir->stored_as) : 0) +
                      (ir->error ? strlen(ir->error) : 0)) +
                 1024;
    char *buf;
    int n;
    int rc = 0;

    if (r->filter != NULL && !r->filter(r->filter_arg, ir)) {
        return 0;
    }
    count(&r->sum, ir);
    if (r->quiet && !r->json && (ir->outcome == OUTCOME_STORED || ir->outcome == OUTCOME_ALREADY)) {
        return 0;
    }
    buf = malloc(cap);
    if (buf == NULL) {
        return -1;
    }
    n = report_format(r, ir, buf, cap);
    report_progress_clear(r);
    if (n < 0 || fprintf(r->out, "%s\n", buf) < 0 || fflush(r->out) != 0) {
        rc = -1;
    }
    free(buf);
    return rc;
}

void report_error(struct report *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    defang(msg);
    report_progress_clear(r);
    fprintf(r->err, "sitx-send: %s\n", msg);
    fflush(r->err);
}

void report_progress_start(struct report *r, const char *label, uint64_t total, uint64_t now_ms)
{
    if (!r->progress.enabled) {
        return;
    }
    sitx_progress_start(&r->progress, label, total, now_ms);
    r->bar_started = 1;
    r->bar_drawn = 1;
}

void report_progress_update(struct report *r, uint64_t done, uint64_t now_ms)
{
    if (!r->bar_started) {
        return;
    }
    /* Also brings the bar back after a result line erased it. */
    sitx_progress_update(&r->progress, done, now_ms);
    r->bar_drawn = 1;
}

void report_progress_clear(struct report *r)
{
    if (!r->bar_drawn) {
        return;
    }
    sitx_progress_clear(&r->progress);
    r->bar_drawn = 0;
}

void report_progress_end(struct report *r)
{
    report_progress_clear(r);
    r->bar_started = 0;
}

int report_skipped(struct report *r, const char *path, const char *reason)
{
    size_t cap = 6 * (strlen(path) + strlen(reason)) + 64;
    char *buf;
    int n;
    int rc;

    r->sum.skipped++;
    if (r->quiet && !r->json) {
        return 0;
    }
    buf = malloc(cap);
    if (buf == NULL) {
        return -1;
    }
    if (r->json) {
        struct sitx_json j;

        sitx_json_begin(&j, buf, cap);
        sitx_json_str(&j, "file", path);
        sitx_json_str(&j, "status", "SKIPPED");
        sitx_json_str(&j, "reason", reason);
        n = sitx_json_end(&j);
    } else {
        n = snprintf(buf, cap, "skipped %s: %s", path, reason);
        if (n >= 0 && (size_t)n < cap) {
            defang(buf);
        } else {
            n = -1;
        }
    }
    rc = n < 0 ? -1 : print_line(r, buf);
    free(buf);
    return rc;
}

void report_count_interrupted(struct report *r, unsigned long n)
{
    r->sum.interrupted += n;
}

int report_summary_format(const struct report *r, uint64_t elapsed_ms, char *buf, size_t cap)
{
    const struct report_summary *m = &r->sum;
    char size[32];
    char more[48];
    int n;

    if (r->json) {
        struct sitx_json j;
        char inner[512];
        int k;

        sitx_json_begin(&j, inner, sizeof(inner));
        sitx_json_u64(&j, "stored", m->stored);
        sitx_json_u64(&j, "already_stored", m->already);
        sitx_json_u64(&j, "refused", m->refused);
        sitx_json_u64(&j, "failed", m->failed);
        sitx_json_u64(&j, "interrupted", m->interrupted);
        sitx_json_u64(&j, "skipped", m->skipped);
        sitx_json_u64(&j, "images",
                      (uint64_t)m->stored + m->already + m->refused + m->failed + m->interrupted);
        sitx_json_u64(&j, "bytes_sent", m->bytes_sent);
        sitx_json_u64(&j, "ms", elapsed_ms);
        k = sitx_json_end(&j);
        if (k < 0) {
            return -1;
        }
        /* Wrapped, so that no reader takes it for an image's object. */
        n = snprintf(buf, cap, "{\"summary\":%s}", inner);
    } else {
        more[0] = '\0';
        if (m->interrupted > 0) {
            snprintf(more, sizeof(more), ", %lu interrupted", m->interrupted);
        }
        n = snprintf(buf, cap,
                     "sitx-send: %lu stored, %lu already stored, %lu refused, %lu failed%s, "
                     "%lu skipped, %s sent in %" PRIu64 ".%" PRIu64 " s",
                     m->stored, m->already, m->refused, m->failed, more, m->skipped,
                     human_size(m->bytes_sent, size, sizeof(size)), elapsed_ms / 1000,
                     (elapsed_ms % 1000) / 100);
    }
    if (n < 0 || (size_t)n >= cap) {
        return -1;
    }
    return n;
}

int report_summary(struct report *r)
{
    char buf[640];
    uint64_t elapsed_ms = (mono_ns() - r->sum.started_ns) / 1000000u;

    if (r->quiet && !r->json) {
        return 0;
    }
    if (report_summary_format(r, elapsed_ms, buf, sizeof(buf)) < 0) {
        return -1;
    }
    return print_line(r, buf);
}
