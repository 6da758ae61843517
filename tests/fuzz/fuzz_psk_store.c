/* The password key cache parser on arbitrary bytes: refused with a reason
 * and nothing kept, or accepted, when what it holds formats back to the
 * same text (the file has one way to be written) and every entry is found
 * again by its key. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "psk_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[PSK_STORE_FILE_MAX];
    struct psk_store ps;
    size_t len = 0;
    size_t i;
    int rc;

    if (size > PSK_STORE_FILE_MAX || sodium_init() < 0 || psk_store_init(&ps) != 0) {
        return 0;
    }
    rc = psk_store_parse(&ps, (const char *)data, size);
    if (rc != 0 && (rc != SITX_E_INVALID || ps.n != 0 || ps.errstr[0] == '\0')) {
        abort();
    }
    if (rc == 0) {
        if (psk_store_format(&ps, text, sizeof(text), &len) != 0 || len != size ||
            memcmp(text, data, size) != 0) {
            abort();
        }
        for (i = 0; i < ps.n; i++) {
            /* Found at its own time: the first with that key, maybe this one. */
            if (psk_store_find(&ps, &ps.e[i].key, ps.e[i].saved_s) == NULL) {
                abort();
            }
        }
    }
    psk_store_free(&ps);
    return 0;
}
