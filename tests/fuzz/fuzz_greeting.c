/* GREETING and HELLO decoders on arbitrary bytes: a decoded message
 * re-encodes to the same bytes, and the prologue is built from both. A
 * HELLO decodes only with version 1 or 2, and SITX_E_VERSION comes exactly
 * for a version above 2 (what the receiver answers with the version frame). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "greeting.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t g_in[SITX_GREETING_LEN];
    uint8_t h_in[SITX_HELLO_LEN];
    uint8_t out[SITX_GREETING_LEN];
    uint8_t prologue[SITX_PROLOGUE_LEN];
    struct sitx_greeting g;
    struct sitx_hello h;
    char why[128];
    int g_rc;
    int h_rc;

    if (size < SITX_GREETING_LEN + SITX_HELLO_LEN) {
        /* Short inputs still reach the HELLO decoder. */
        if (size < SITX_HELLO_LEN) {
            return 0;
        }
        memcpy(h_in, data, SITX_HELLO_LEN);
        h_rc = sitx_hello_decode_err(h_in, &h, why, sizeof(why));
        if (h_rc == 0) {
            sitx_hello_encode(&h, out);
            if (memcmp(out, h_in, SITX_HELLO_LEN) != 0) {
                abort();
            }
        } else if (why[0] == '\0') {
            abort();
        }
        return 0;
    }
    memcpy(g_in, data, SITX_GREETING_LEN);
    memcpy(h_in, data + SITX_GREETING_LEN, SITX_HELLO_LEN);

    g_rc = sitx_greeting_decode_err(g_in, &g, why, sizeof(why));
    if (g_rc == 0) {
        if (why[0] != '\0' || g.version != SITX_PROTO_VERSION) {
            abort();
        }
        if ((g.modes & SITX_AUTH_PASSWORD) &&
            (g.argon_ops < SITX_ARGON_OPS_MIN || g.argon_ops > SITX_ARGON_OPS_MAX ||
             g.argon_mem_kib < SITX_ARGON_MEM_KIB_MIN ||
             g.argon_mem_kib > SITX_ARGON_MEM_KIB_MAX)) {
            abort();
        }
        sitx_greeting_encode(&g, out);
        if (memcmp(out, g_in, SITX_GREETING_LEN) != 0) {
            abort();
        }
    } else if (why[0] == '\0' || (g_rc != SITX_E_MALFORMED && g_rc != SITX_E_VERSION)) {
        abort();
    }

    h_rc = sitx_hello_decode_err(h_in, &h, why, sizeof(why));
    if ((h_rc == SITX_E_VERSION) !=
        (memcmp(h_in, "SITX", 4) == 0 && h_in[4] > SITX_PROTO_VERSION_MAX)) {
        abort();
    }
    if (h_rc == SITX_E_VERSION && h.version != h_in[4]) {
        abort(); /* the receiver answers with what it speaks; it must see what was asked */
    }
    if (h_rc == 0) {
        if (h.mode != SITX_AUTH_KEY && h.mode != SITX_AUTH_PASSWORD) {
            abort();
        }
        if (h.version != SITX_PROTO_V1 && h.version != SITX_PROTO_V2) {
            abort();
        }
        sitx_hello_encode(&h, out);
        if (memcmp(out, h_in, SITX_HELLO_LEN) != 0) {
            abort();
        }
    } else if (why[0] == '\0' || (h_rc != SITX_E_MALFORMED && h_rc != SITX_E_VERSION)) {
        abort();
    }

    sitx_prologue_build(g_in, h_in, prologue);
    if (memcmp(prologue + SITX_PROLOGUE_LEN - SITX_HELLO_LEN, h_in, SITX_HELLO_LEN) != 0) {
        abort();
    }
    return 0;
}
