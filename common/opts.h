/* Parsing helpers for command-line values. Each returns 0 or SITX_E_INVALID. */
#ifndef SITX_OPTS_H
#define SITX_OPTS_H

#include <stddef.h>
#include <stdint.h>

#define SITX_DEFAULT_PORT 7717
#define SITX_HOST_MAX 256

/* "123", "10k", "5M", "2G" (powers of 1024), "1.5M" not allowed. */
int sitx_parse_size(const char *s, uint64_t *out);
/* "10", "10s", "500ms", "2m". */
int sitx_parse_duration_ms(const char *s, uint64_t *out_ms);
/* Decimal unsigned in [min, max]. */
int sitx_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "host", "host:port", "1.2.3.4:port", "[::1]:port", "[::1]". host gets the
 * bare host; *port the port or default_port. */
int sitx_parse_hostport(const char *s, uint16_t default_port, char host[static SITX_HOST_MAX],
                        uint16_t *port);

#endif
