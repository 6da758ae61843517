/* Record decoder: arbitrary bytes must decode or fail cleanly with a
 * reason; whatever decodes must re-encode to the very same bytes, so the
 * decoder accepts exactly one spelling of each record. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[SITX_RECORD_MAX];
    struct sitx_record rec;
    char why[128];
    size_t out_len = 0;
    int rc;

    if (size > SITX_RECORD_MAX + 1) {
        return 0; /* one past the limit is still tried */
    }
    rc = sitx_record_decode(data, size, &rec, why, sizeof(why));
    if (rc != 0) {
        /* Every failure names itself. */
        if (rc >= 0 || why[0] == '\0' || strlen(why) >= sizeof(why)) {
            abort();
        }
        return 0;
    }
    if (why[0] != '\0') {
        abort();
    }
    rc = sitx_record_encode(&rec, out, sizeof(out), &out_len);
    if (rc != 0 || out_len != size || memcmp(out, data, size) != 0) {
        abort();
    }
    /* Decoded strings are what the UTF-8 rule allows. */
    if (rec.type == SITX_REC_OFFER &&
        !sitx_utf8_valid((const uint8_t *)rec.u.offer.name, strlen(rec.u.offer.name))) {
        abort();
    }
    if (rec.type == SITX_REC_RESULT && sitx_status_name(rec.u.result.status)[0] == 'U') {
        abort(); /* only known statuses decode */
    }
    return 0;
}
