/* The operator's side of pairing: `sitx-recv --pair-window DURATION
 * --control PATH [--pair-code CODE|-]`, a short-lived client of the running
 * daemon's control socket (pair.h). It opens the window, shows the code of
 * the sender that connects, takes the operator's answer (a y/N prompt on a
 * terminal, or --pair-code) and reports the outcome. */
#ifndef SITX_RECV_PAIRCTL_H
#define SITX_RECV_PAIRCTL_H

#include <stdint.h>

/* Exit codes of the pairing client, beside sitx-recv's 0, 1 and 2. */
#define PAIRCTL_EXIT_NOT_PAIRED 3

/* code: NULL to prompt on the terminal, "-" to read the other side's code
 * from standard input once ours is shown, else the code itself. Returns 0
 * (paired), 1 (cannot reach the daemon, or it failed), 3 (not paired:
 * declined, codes differ, window timed out, another window open). */
int pairctl_run(const char *control, uint64_t window_ms, const char *code);

#endif
