/* Pairing messages on arbitrary bytes: a decode either fails with a reason
 * or gives a message that encodes back to exactly the same bytes (one
 * encoding per message). The name sanitiser runs on every decoded text and
 * must give a short, non-empty name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pair.h"
#include "peers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitx_pair_msg m;
    uint8_t out[SITX_PAIR_MSG_MAX];
    char err[128];
    char name[SITX_PEER_NAME_MAX + 1];
    size_t len = 0;

    if (sitx_pair_decode(data, size, &m, err, sizeof(err)) != 0) {
        if (err[0] == '\0') {
            abort();
        }
        return 0;
    }
    if (sitx_pair_encode(&m, out, sizeof(out), &len) != 0 || len != size ||
        memcmp(out, data, size) != 0) {
        abort();
    }
    sitx_peer_name_sanitize(m.text, name);
    if (name[0] == '\0' || strlen(name) > SITX_PEER_NAME_MAX) {
        abort();
    }
    return 0;
}
