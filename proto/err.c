#include "err.h"

#include <string.h>

const char *sitx_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case SITX_E_INTERNAL:
        return "internal error";
    case SITX_E_NOMEM:
        return "out of memory";
    case SITX_E_BUFFER:
        return "buffer too small";
    case SITX_E_DECRYPT:
        return "authentication tag mismatch (tampered or wrong key)";
    case SITX_E_NONCE_EXHAUSTED:
        return "nonce counter exhausted";
    case SITX_E_STATE:
        return "operation not valid in this state";
    case SITX_E_MALFORMED:
        return "malformed message";
    case SITX_E_TOO_LARGE:
        return "length over limit";
    case SITX_E_TRUNCATED:
        return "truncated message";
    case SITX_E_TRAILING:
        return "trailing bytes after message";
    case SITX_E_UNKNOWN_TYPE:
        return "unknown record type";
    case SITX_E_BAD_UTF8:
        return "name is not valid UTF-8";
    case SITX_E_BAD_KEY:
        return "invalid key";
    case SITX_E_PERMS:
        return "secret file is readable by group or others";
    case SITX_E_AUTH:
        return "authentication failed";
    case SITX_E_VERSION:
        return "unsupported protocol version";
    case SITX_E_BAD_IMAGE:
        return "not a valid image";
    case SITX_E_UNSUPPORTED:
        return "unsupported format";
    case SITX_E_LIMIT:
        return "limit exceeded";
    case SITX_E_HASH:
        return "content hash mismatch";
    case SITX_E_EXISTS:
        return "already exists";
    case SITX_E_INVALID:
        return "invalid argument";
    case SITX_E_NO_AESGCM:
        return "AES-256-GCM is not available on this CPU";
    case SITX_E_TIMEOUT:
        return "timed out";
    case SITX_E_CLOSED:
        return "connection closed by peer";
    case SITX_E_CANCELLED:
        return "cancelled";
    default:
        break;
    }
    if (rc < 0 && rc > -1000) {
        return strerror(-rc);
    }
    return "unknown error";
}
