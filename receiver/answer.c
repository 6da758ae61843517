#include "answer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "record.h"

/* RESULT messages are ours, but may quote a library's error text: keep
 * them to printable ASCII so that they always encode. */
static void copy_message(char *out, size_t cap, const char *msg)
{
    size_t i = 0;

    for (; msg != NULL && msg[i] != '\0' && i + 1 < cap && i < SITX_TEXT_MAX; i++) {
        unsigned char ch = (unsigned char)msg[i];

        out[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
    }
    out[i] = '\0';
}

int answer_result(const uint8_t id[static SITX_TRANSFER_ID_BYTES], uint8_t status, uint64_t size,
                  uint32_t ms, const uint8_t hash[static SITX_CONTENT_HASH_BYTES], const char *name,
                  const char *msg, uint8_t *rec, size_t cap, size_t *len)
{
    struct sitx_result r;
    int ok = status == SITX_ST_OK || status == SITX_ST_ALREADY_STORED;
    int rc;

    memset(&r, 0, sizeof(r));
    memcpy(r.id, id, sizeof(r.id));
    r.status = status;
    r.ms = ms;
    if (ok) {
        r.size = size;
        memcpy(r.hash, hash, sizeof(r.hash));
        snprintf(r.name, sizeof(r.name), "%s", name != NULL ? name : "");
    } else {
        copy_message(r.message, sizeof(r.message), msg);
    }
    rc = sitx_result_encode(&r, rec, cap, len);
    if (rc != 0 && r.message[0] != '\0') {
        /* Only a message the encoder refuses gets here: send the bare status. */
        r.message[0] = '\0';
        rc = sitx_result_encode(&r, rec, cap, len);
    }
    return rc;
}

int answer_close(uint8_t reason, const char *message, uint8_t *rec, size_t cap, size_t *len)
{
    struct sitx_close cl;

    memset(&cl, 0, sizeof(cl));
    cl.reason = reason;
    snprintf(cl.message, sizeof(cl.message), "%s", message != NULL ? message : "");
    return sitx_close_encode(&cl, rec, cap, len);
}

void answer_cancel_msg(const struct sitx_cancel *m, char *out, size_t cap)
{
    static const char prefix[] = "cancelled by sender: ";
    const char *why = m->message[0] != '\0'                  ? m->message
                      : m->reason == SITX_CANCEL_INTERRUPTED ? "interrupted"
                                                             : "local error";

    /* The sender's text may take the whole string: ours goes first. */
    snprintf(out, cap, "%s%.*s", prefix, (int)(SITX_TEXT_MAX - (sizeof(prefix) - 1)), why);
}

void answer_deadline_msg(uint64_t deadline_ms, char *out, size_t cap)
{
    snprintf(out, cap, "deadline of %" PRIu64 " ms passed", deadline_ms);
}
