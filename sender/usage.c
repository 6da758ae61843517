#include "usage.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"

void die_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("sitx-send: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'sitx-send --help' for more.\n", stderr);
    exit(SEND_EXIT_USAGE);
}
