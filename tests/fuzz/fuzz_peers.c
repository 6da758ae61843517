/* Peers file parser on arbitrary bytes: must return a result or a "line N:"
 * error, never crash; every parsed entry must be found again by its key. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "peers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitx_peers *p = NULL;
    char err[128];
    int rc;

    /* The loader caps files at 1 MiB; inputs past that are not reachable. */
    if (size > 1024 * 1024) {
        return 0;
    }
    rc = sitx_peers_parse((const char *)data, size, &p, err, sizeof(err));
    if (rc != 0) {
        if (p != NULL || strncmp(err, "line ", 5) != 0) {
            abort();
        }
        return 0;
    }
    if (p == NULL || p->count > SITX_PEERS_MAX) {
        abort();
    }
    for (size_t i = 0; i < p->count; i++) {
        size_t n = strnlen(p->list[i].name, sizeof(p->list[i].name));

        if (n > SITX_PEER_NAME_MAX || sitx_peers_find(p, p->list[i].pk) != &p->list[i]) {
            abort();
        }
    }
    sitx_peers_free(p);
    return 0;
}
