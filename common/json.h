/* A minimal JSON object writer for --json output and JSON logs. */
#ifndef SITX_JSON_H
#define SITX_JSON_H

#include <stddef.h>
#include <stdint.h>

struct sitx_json {
    char *buf;
    size_t len;
    size_t cap;
    int count; /* members written */
    int err;   /* sticky: truncated */
};

/* Starts "{" in buf. Strings are escaped per RFC 8259 (control characters as
 * \u00XX, invalid UTF-8 as U+FFFD). Once something does not fit, err sticks
 * and nothing more is written; buf stays NUL-terminated. */
void sitx_json_begin(struct sitx_json *j, char *buf, size_t cap);
void sitx_json_str(struct sitx_json *j, const char *key, const char *value); /* NULL -> null */
void sitx_json_strn(struct sitx_json *j, const char *key, const char *value, size_t n);
void sitx_json_u64(struct sitx_json *j, const char *key, uint64_t value);
void sitx_json_i64(struct sitx_json *j, const char *key, int64_t value);
void sitx_json_bool(struct sitx_json *j, const char *key, int value);
/* Closes "}"; returns the length or -1 when buf was too small. */
int sitx_json_end(struct sitx_json *j);

#endif
