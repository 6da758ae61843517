/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
#ifndef SITX_SDNOTIFY_H
#define SITX_SDNOTIFY_H

#include <stdint.h>

/* Sends state ("READY=1", "STOPPING=1", "WATCHDOG=1", "RELOADING=1", ...).
 * Returns 1 when sent, 0 when not under systemd (no NOTIFY_SOCKET), or -errno. */
int sitx_sd_notify(const char *state);

/* The watchdog interval systemd asked for ($WATCHDOG_USEC, checked against
 * $WATCHDOG_PID), in ms, or 0 when the watchdog is off. */
uint64_t sitx_sd_watchdog_ms(void);

#endif
