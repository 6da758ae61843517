/* Option value parsers on arbitrary text: no crash, no overflow, and what
 * they accept is consistent with what they return. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[512];
    char host[SITX_HOST_MAX];
    uint64_t v = 0;
    uint16_t port = 0;

    if (size >= sizeof(s)) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';

    if (sitx_parse_size(s, &v) == 0 && (s[0] < '0' || s[0] > '9')) {
        abort();
    }
    (void)sitx_parse_duration_ms(s, &v);
    if (sitx_parse_uint(s, 10, 1000, &v) == 0 && (v < 10 || v > 1000)) {
        abort();
    }
    if (sitx_parse_hostport(s, 7717, host, &port) == 0) {
        size_t n = strnlen(host, sizeof(host));

        if (n == 0 || n >= sizeof(host) || port == 0 || strstr(s, host) == NULL) {
            abort();
        }
    }
    return 0;
}
