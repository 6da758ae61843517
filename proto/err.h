/* Error codes. 0 is success; -errno values are OS failures; ours start at
 * -1000 and go down so the two never collide. sitx_strerror() names both.
 * It lives in proto/ because proto is the lowest layer that returns them. */
#ifndef SITX_ERR_H
#define SITX_ERR_H

enum sitx_err {
    SITX_E_INTERNAL = -1000,   /* a bug or an impossible state */
    SITX_E_NOMEM = -1001,      /* allocation failed */
    SITX_E_BUFFER = -1002,     /* output buffer too small */
    SITX_E_DECRYPT = -1003,    /* AEAD tag did not verify */
    SITX_E_NONCE_EXHAUSTED = -1004,
    SITX_E_STATE = -1005,      /* call not valid in the current state */
    SITX_E_MALFORMED = -1006,  /* bytes do not follow the wire format */
    SITX_E_TOO_LARGE = -1007,  /* an announced length is over its limit */
    SITX_E_TRUNCATED = -1008,  /* input ended inside a field */
    SITX_E_TRAILING = -1009,   /* bytes left after the last field */
    SITX_E_UNKNOWN_TYPE = -1010,
    SITX_E_BAD_UTF8 = -1011,
    SITX_E_BAD_KEY = -1012,    /* a key that is malformed or low-order */
    SITX_E_PERMS = -1013,      /* a secret file readable by group or others */
    SITX_E_AUTH = -1014,       /* peer not authorised / key mismatch / wrong password */
    SITX_E_VERSION = -1015,    /* peer speaks another protocol version */
    SITX_E_BAD_IMAGE = -1016,
    SITX_E_UNSUPPORTED = -1017,
    SITX_E_LIMIT = -1018,      /* a configured limit was exceeded */
    SITX_E_HASH = -1019,       /* content hash mismatch */
    SITX_E_EXISTS = -1020,
    SITX_E_INVALID = -1021,    /* invalid argument or configuration */
    SITX_E_NO_AESGCM = -1022,
    SITX_E_TIMEOUT = -1023,
    SITX_E_CLOSED = -1024,     /* peer closed the connection */
    SITX_E_CANCELLED = -1025,  /* work stopped on request (deadline, sender gone) */
};

/* A static English description of rc (an enum sitx_err or -errno). */
const char *sitx_strerror(int rc);

#endif
