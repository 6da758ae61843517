/* The --watch state file parser on arbitrary bytes: a result or an error
 * with a line number, never a crash; every parsed entry is found again by
 * its hash and by its name, size and mtime. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watch_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct watch_state st;
    size_t bad = 0;
    size_t i;
    int rc;

    if (size > 1024 * 1024) {
        return 0;
    }
    memset(&st, 0, sizeof(st));
    rc = watch_state_parse(&st, (const char *)data, size, &bad);
    if (rc != 0 && bad == 0) {
        abort();
    }
    for (i = 0; rc == 0 && i < st.n; i++) {
        const struct watch_entry *e = &st.e[i];

        if (watch_state_find_hash(&st, e->hash) != e ||
            watch_state_find_file(&st, e->name, e->size, e->mtime_ns) == NULL ||
            strchr(e->name, '/') != NULL) {
            abort();
        }
    }
    watch_state_free(&st);
    return 0;
}
