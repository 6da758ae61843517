/* Usage errors of sitx-send's command lines (main.c, seal_cmd.c). */
#ifndef SITX_SEND_USAGE_H
#define SITX_SEND_USAGE_H

/* Prints "sitx-send: <message>" and the --help hint on stderr, then exits
 * with SEND_EXIT_USAGE. Only for option parsing, before anything ran. */
void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
