#include "progress.h"

#include <string.h>
#include <unistd.h>

#define BAR_WIDTH 20
#define LABEL_MAX 32 /* bytes of the label shown, so the bar fits 80 columns */
#define REDRAW_MS 100

void sitx_progress_init(struct sitx_progress *p, FILE *out, int enabled)
{
    memset(p, 0, sizeof(*p));
    p->out = out;
    /* In a script or a pipe a bar is only noise in someone's log. */
    p->enabled = enabled && out != NULL && isatty(fileno(out));
}

/* Copies the label for display: control bytes (a file name could carry
 * terminal escapes) become '?', and it is cut on a UTF-8 boundary. */
static size_t clean_label(const char *label, char *out, size_t cap)
{
    size_t n = 0;

    if (label == NULL) {
        label = "";
    }
    while (label[n] != '\0' && n + 1 < cap) {
        unsigned char c = (unsigned char)label[n];

        out[n] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        n++;
    }
    if (((unsigned char)label[n] & 0xc0) == 0x80) {
        /* Cut inside a UTF-8 sequence: drop its lead and continuation bytes. */
        while (n > 0 && ((unsigned char)out[n - 1] & 0xc0) == 0x80) {
            n--;
        }
        if (n > 0) {
            n--;
        }
    }
    out[n] = '\0';
    return n;
}

static void format_rate(double bps, char *out, size_t cap)
{
    if (bps >= 1e9) {
        snprintf(out, cap, "%.1f GB/s", bps / 1e9);
    } else if (bps >= 1e6) {
        snprintf(out, cap, "%.1f MB/s", bps / 1e6);
    } else if (bps >= 1e3) {
        snprintf(out, cap, "%.1f kB/s", bps / 1e3);
    } else {
        snprintf(out, cap, "%.0f B/s", bps);
    }
}

static void draw(struct sitx_progress *p, uint64_t now_ms)
{
    char label[LABEL_MAX + 1];
    char bar[BAR_WIDTH + 1];
    char rate[32] = "";
    char line[160];
    unsigned pct = 100;
    unsigned filled;
    int n;

    if (p->total > 0 && p->done < p->total) {
        pct = (unsigned)((double)p->done * 100.0 / (double)p->total);
    }
    filled = pct * BAR_WIDTH / 100;
    memset(bar, '#', filled);
    memset(bar + filled, '.', BAR_WIDTH - filled);
    bar[BAR_WIDTH] = '\0';
    if (now_ms > p->started_ms) {
        format_rate((double)p->done * 1000.0 / (double)(now_ms - p->started_ms), rate,
                    sizeof(rate));
    }
    clean_label(p->label, label, sizeof(label));
    n = snprintf(line, sizeof(line), "%s  [%s]  %3u%%  %s", label, bar, pct, rate);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
    }
    /* Pad over what is left of a longer previous line. */
    fprintf(p->out, "\r%s%*s", line, p->last_len > n ? p->last_len - n : 0, "");
    fflush(p->out);
    p->last_len = n;
    p->shown = 1;
    p->last_draw_ms = now_ms;
    p->last_done = p->done;
}

void sitx_progress_start(struct sitx_progress *p, const char *label, uint64_t total,
                         uint64_t now_ms)
{
    p->label = label;
    p->total = total;
    p->done = 0;
    p->started_ms = now_ms;
    p->last_done = 0;
    if (!p->enabled) {
        return;
    }
    draw(p, now_ms);
}

void sitx_progress_update(struct sitx_progress *p, uint64_t done, uint64_t now_ms)
{
    int complete;

    p->done = done;
    if (!p->enabled) {
        return;
    }
    complete = p->total > 0 && done >= p->total && p->last_done < p->total;
    /* At most 10 redraws a second, but never leave out the 100% frame. */
    if (!complete && p->shown && now_ms - p->last_draw_ms < REDRAW_MS) {
        return;
    }
    draw(p, now_ms);
}

void sitx_progress_clear(struct sitx_progress *p)
{
    if (!p->enabled || !p->shown) {
        return;
    }
    fprintf(p->out, "\r%*s\r", p->last_len, "");
    fflush(p->out);
    p->shown = 0;
    p->last_len = 0;
}
