#include "json.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "name.h"

/* Appends n bytes, keeping one byte for the NUL; sets the sticky error instead
 * of writing a partial piece, so the buffer always ends at a piece boundary. */
static void put(struct sitx_json *j, const char *s, size_t n)
{
    if (j->err) {
        return;
    }
    if (j->cap == 0 || n > j->cap - 1 - j->len) {
        j->err = 1;
        return;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void put_str(struct sitx_json *j, const char *s)
{
    put(j, s, strlen(s));
}

/* Writes s[0..n) as a JSON string: quotes and backslashes escaped, control
 * characters as \u00XX (RFC 8259 section 7), invalid UTF-8 as U+FFFD. */
static void put_quoted(struct sitx_json *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;

    put(j, "\"", 1);
    while (i < n && !j->err) {
        uint32_t cp = 0;
        size_t k;

        if (p[i] == '"' || p[i] == '\\') {
            char esc[2] = {'\\', (char)p[i]};

            put(j, esc, 2);
            i++;
            continue;
        }
        if (p[i] < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 0xf]};

            put(j, esc, sizeof(esc));
            i++;
            continue;
        }
        if (p[i] < 0x80) {
            put(j, (const char *)p + i, 1);
            i++;
            continue;
        }
        k = sitx_utf8_next(p + i, n - i, &cp);
        if (k == 0) {
            put(j, "\xef\xbf\xbd", 3); /* U+FFFD for one bad byte, then resync */
            i++;
            continue;
        }
        put(j, (const char *)p + i, k);
        i += k;
    }
    put(j, "\"", 1);
}

static void put_key(struct sitx_json *j, const char *key)
{
    if (j->count > 0) {
        put(j, ",", 1);
    }
    put_quoted(j, key, strlen(key));
    put(j, ":", 1);
    if (!j->err) {
        j->count++;
    }
}

void sitx_json_begin(struct sitx_json *j, char *buf, size_t cap)
{
    j->buf = buf;
    j->len = 0;
    j->cap = cap;
    j->count = 0;
    j->err = 0;
    if (cap > 0) {
        buf[0] = '\0';
    }
    put(j, "{", 1);
}

void sitx_json_str(struct sitx_json *j, const char *key, const char *value)
{
    if (value == NULL) {
        put_key(j, key);
        put_str(j, "null");
        return;
    }
    sitx_json_strn(j, key, value, strlen(value));
}

void sitx_json_strn(struct sitx_json *j, const char *key, const char *value, size_t n)
{
    put_key(j, key);
    put_quoted(j, value, n);
}

void sitx_json_u64(struct sitx_json *j, const char *key, uint64_t value)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64, value);

    put_key(j, key);
    put(j, num, (size_t)n);
}

void sitx_json_i64(struct sitx_json *j, const char *key, int64_t value)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, value);

    put_key(j, key);
    put(j, num, (size_t)n);
}

void sitx_json_bool(struct sitx_json *j, const char *key, int value)
{
    put_key(j, key);
    put_str(j, value ? "true" : "false");
}

int sitx_json_end(struct sitx_json *j)
{
    put(j, "}", 1);
    if (j->err || j->len > INT_MAX) {
        return -1;
    }
    return (int)j->len;
}
