/* Record decoder: arbitrary bytes must decode or fail cleanly with a
 * reason; whatever decodes must re-encode to the very same bytes, so the
 * decoder accepts exactly one spelling of each record. Both protocol
 * versions are tried: version 2 accepts all that version 1 does, the same
 * way, but ACCEPT (25 bytes in version 1, 57 with offset and prefix hash in
 * version 2, never both), and version 1 never accepts CANCEL or status
 * CANCELLED. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "greeting.h"
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
    {
        struct sitx_record v1;
        char why1[128];
        int rc1 = sitx_record_decode(data, size, &v1, why1, sizeof(why1));

        rc = sitx_record_decode_v(data, size, SITX_PROTO_V2, &rec, why, sizeof(why));
        if (rc1 == 0 && v1.type != SITX_REC_ACCEPT && (rc != 0 || v1.type != rec.type)) {
            abort();
        }
        /* ACCEPT is the one record whose layout differs: 25 bytes in
         * version 1, 57 in version 2, so never both. */
        if (rc1 == 0 && v1.type == SITX_REC_ACCEPT && rc == 0) {
            abort();
        }
        if (rc1 == 0 && v1.type == SITX_REC_ACCEPT) {
            rc = sitx_record_encode(&v1, out, sizeof(out), &out_len);
            if (rc != 0 || out_len != size || memcmp(out, data, size) != 0 ||
                v1.u.accept.offset != 0) {
                abort();
            }
            return 0;
        }
        if (rc1 == 0 && (v1.type == SITX_REC_CANCEL ||
                         (v1.type == SITX_REC_RESULT && v1.u.result.status == SITX_ST_CANCELLED))) {
            abort();
        }
        if (rc1 != 0 && (rc1 >= 0 || why1[0] == '\0')) {
            abort();
        }
    }
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
    rc = sitx_record_encode_v(&rec, SITX_PROTO_V2, out, sizeof(out), &out_len);
    if (rc != 0 || out_len != size || memcmp(out, data, size) != 0) {
        abort();
    }
    /* Decoded strings are what the UTF-8 rule allows. */
    if (rec.type == SITX_REC_OFFER &&
        !sitx_utf8_valid((const uint8_t *)rec.u.offer.name, strlen(rec.u.offer.name))) {
        abort();
    }
    if (rec.type == SITX_REC_ACCEPT && rec.u.accept.offset == 0) {
        for (size_t i = 0; i < sizeof(rec.u.accept.prefix_hash); i++) {
            if (rec.u.accept.prefix_hash[i] != 0) {
                abort(); /* offset 0 proves nothing */
            }
        }
    }
    if (rec.type == SITX_REC_CANCEL && rec.u.cancel.reason > SITX_CANCEL_INTERRUPTED) {
        abort();
    }
    if (rec.type == SITX_REC_RESULT && sitx_status_name(rec.u.result.status)[0] == 'U') {
        abort(); /* only known statuses decode */
    }
    return 0;
}
