/* The receiver's control-socket command parser on arbitrary bytes: a
 * command with its window in bounds, or an error with a reason. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t ms = 0;
    char err[128];
    int rc = sitx_ctl_parse_command((const char *)data, size, 3600000, &ms, err, sizeof(err));

    if (rc == SITX_CTL_OPEN) {
        if (ms == 0 || ms > 3600000) {
            abort();
        }
    } else if (rc == SITX_CTL_YES || rc == SITX_CTL_NO) {
        if (ms != 0) {
            abort();
        }
    } else if (rc >= 0 || err[0] == '\0') {
        abort();
    }
    return 0;
}
