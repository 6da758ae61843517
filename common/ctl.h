/* The receiver's control socket speaks lines of ASCII (OPERATING.md
 * "Pairing"). The operator's client sends commands:
 *
 *   open <milliseconds>   open the pairing window (1 .. 3600000)
 *   yes | no              the answer to the code shown
 *
 * and the daemon answers with events: "open <ms>", "busy <why>",
 * "code <digits> <fingerprint> <name>", "result <status> <text>". */
#ifndef SITX_CTL_H
#define SITX_CTL_H

#include <stddef.h>
#include <stdint.h>

#define SITX_CTL_LINE_MAX 512

enum sitx_ctl_cmd {
    SITX_CTL_OPEN = 1,
    SITX_CTL_YES = 2,
    SITX_CTL_NO = 3,
};

/* Parses one command line (without its '\n'; a trailing '\r' is fine).
 * Returns the command (with *ms for OPEN, at most max_ms) or SITX_E_MALFORMED
 * / SITX_E_TOO_LARGE with a reason in err. */
int sitx_ctl_parse_command(const char *line, size_t len, uint64_t max_ms, uint64_t *ms, char *err,
                           size_t err_len);

#endif
