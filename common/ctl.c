#include "ctl.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

static int word_is(const char *line, size_t len, const char *w)
{
    size_t n = strlen(w);

    return len == n && memcmp(line, w, n) == 0;
}

int sitx_ctl_parse_command(const char *line, size_t len, uint64_t max_ms, uint64_t *ms, char *err,
                           size_t err_len)
{
    uint64_t v = 0;
    size_t i;

    *ms = 0;
    if (err_len > 0) {
        err[0] = '\0';
    }
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (len > SITX_CTL_LINE_MAX) {
        snprintf(err, err_len, "command longer than %d bytes", SITX_CTL_LINE_MAX);
        return SITX_E_TOO_LARGE;
    }
    if (word_is(line, len, "yes")) {
        return SITX_CTL_YES;
    }
    if (word_is(line, len, "no")) {
        return SITX_CTL_NO;
    }
    if (len < 6 || memcmp(line, "open ", 5) != 0) {
        snprintf(err, err_len, "unknown command (want open MS, yes or no)");
        return SITX_E_MALFORMED;
    }
    for (i = 5; i < len; i++) {
        if (line[i] < '0' || line[i] > '9') {
            snprintf(err, err_len, "open: not a number of milliseconds");
            return SITX_E_MALFORMED;
        }
        v = v * 10 + (uint64_t)(line[i] - '0');
        if (v > max_ms) {
            snprintf(err, err_len, "open: more than %llu ms", (unsigned long long)max_ms);
            return SITX_E_TOO_LARGE;
        }
    }
    if (v == 0) {
        snprintf(err, err_len, "open: the window needs more than 0 ms");
        return SITX_E_MALFORMED;
    }
    *ms = v;
    return SITX_CTL_OPEN;
}
