/* A one-line progress bar on a terminal; silent when the stream is not a tty
 * or when disabled. Redraws at most every 100 ms. */
#ifndef SITX_PROGRESS_H
#define SITX_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct sitx_progress {
    FILE *out;
    int enabled;
    const char *label;
    uint64_t total;
    uint64_t done;
    uint64_t started_ms;
    uint64_t last_draw_ms;
    uint64_t last_done; /* done at the last redraw */
    int shown;          /* a bar is on the line now */
    int last_len;       /* columns the bar took, for clear */
};

/* enabled is forced off when out is not a terminal. */
void sitx_progress_init(struct sitx_progress *p, FILE *out, int enabled);
/* Draws "label  [#####.....]  42%  3.1 MB/s" on one line (\r, no newline).
 * label is kept by pointer; control bytes in it are shown as '?'. Times come
 * from the caller (uv_now), so the bar needs no clock of its own. */
void sitx_progress_start(struct sitx_progress *p, const char *label, uint64_t total,
                         uint64_t now_ms);
/* Redraws at most every 100 ms, and always once when done reaches total. */
void sitx_progress_update(struct sitx_progress *p, uint64_t done, uint64_t now_ms);
/* Erases the bar so that a result line can be printed in its place. */
void sitx_progress_clear(struct sitx_progress *p);

#endif
