#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hex.h"
#include "json.h"
#include "name.h"

/* PIPE_BUF: a line this long or shorter reaches a pipe (journald's stream)
 * in one piece even when several threads log at once. */
#define LOG_LINE_MAX   4096
#define LOG_FIELDS_MAX 4096
#define LOG_FIELDS_N   64
#define TRUNC_TEXT     " truncated=1"
#define TRUNC_JSON     ",\"truncated\":true}"

/* Set once by sitx_log_init() before threads start; read-only afterwards. */
static const char *log_prog = "sitx";
static enum sitx_log_format log_format = SITX_LOG_TEXT;
static int log_max_level = SITX_LOG_INFO;

/* One key=value (or bare word) field of the formatted fields string. */
struct field {
    const char *tok; /* the whole token as written */
    size_t tok_len;
    const char *key; /* NULL for a bare word */
    size_t key_len;
    const char *val;
    size_t val_len;
    int quoted;
};

void sitx_log_init(const char *prog, enum sitx_log_format format, int max_level)
{
    log_prog = prog != NULL ? prog : "sitx";
    log_format = format;
    log_max_level = max_level;
}

static const char *level_name(int level)
{
    switch (level) {
    case SITX_LOG_ERR:
        return "error";
    case SITX_LOG_WARNING:
        return "warning";
    case SITX_LOG_NOTICE:
        return "notice";
    case SITX_LOG_INFO:
        return "info";
    case SITX_LOG_DEBUG:
        return "debug";
    default:
        return level < SITX_LOG_ERR ? "crit" : "debug";
    }
}

/* Splits s into fields on spaces outside quotes. Returns how many. */
static size_t split_fields(const char *s, size_t len, struct field *f, size_t max)
{
    size_t n = 0;
    size_t i = 0;

    while (i < len && n < max) {
        size_t start;

        while (i < len && s[i] == ' ') {
            i++;
        }
        if (i == len) {
            break;
        }
        start = i;
        memset(&f[n], 0, sizeof(f[n]));
        while (i < len && s[i] != ' ' && s[i] != '=') {
            i++;
        }
        if (i < len && s[i] == '=' && i > start) {
            f[n].key = s + start;
            f[n].key_len = i - start;
            i++;
            if (i < len && s[i] == '"') {
                /* Quoted by sitx_log_quote(): runs to the next unescaped quote. */
                f[n].quoted = 1;
                i++;
                f[n].val = s + i;
                while (i < len && s[i] != '"') {
                    i += (s[i] == '\\' && i + 1 < len) ? 2 : 1;
                }
                f[n].val_len = (i < len ? i : len) - (size_t)(f[n].val - s);
                if (i < len) {
                    i++;
                }
            } else {
                f[n].val = s + i;
                while (i < len && s[i] != ' ') {
                    i++;
                }
                f[n].val_len = i - (size_t)(f[n].val - s);
            }
            /* Anything glued after a closing quote stays part of this token. */
            while (i < len && s[i] != ' ') {
                i++;
            }
        } else {
            while (i < len && s[i] != ' ') {
                i++;
            }
        }
        f[n].tok = s + start;
        f[n].tok_len = i - start;
        n++;
    }
    return n;
}

/* Undoes sitx_log_quote()'s escapes into out (at least n bytes). */
static size_t unquote(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            if (s[i + 1] == 'x' && i + 3 < n && sitx_hexval(s[i + 2]) >= 0 &&
                sitx_hexval(s[i + 3]) >= 0) {
                out[o++] = (char)(sitx_hexval(s[i + 2]) << 4 | sitx_hexval(s[i + 3]));
                i += 3;
                continue;
            }
            i++;
        }
        out[o++] = s[i];
    }
    return o;
}

/* Appends s[0..n) to line within limit, escaping control bytes so that a
 * careless caller cannot split one event over two lines. Returns 0, or -1
 * (nothing appended) when it does not fit. */
static int append_text(char *line, size_t *len, size_t limit, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = *len;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f) {
            if (o + 4 > limit) {
                return -1;
            }
            line[o++] = '\\';
            line[o++] = 'x';
            line[o++] = hex[c >> 4];
            line[o++] = hex[c & 0xf];
        } else {
            if (o + 1 > limit) {
                return -1;
            }
            line[o++] = (char)c;
        }
    }
    *len = o;
    return 0;
}

static size_t format_text(char *line, size_t cap, const char *prefix, const char *event,
                          const struct field *f, size_t nf, int truncated)
{
    /* Room for the marker and the newline is kept back while fields go in. */
    size_t limit = cap - (sizeof(TRUNC_TEXT) - 1) - 1;
    size_t len = 0;
    int full; /* a field did not fit: stop adding */

    append_text(line, &len, limit, prefix, strlen(prefix));
    append_text(line, &len, limit, log_prog, strlen(log_prog));
    append_text(line, &len, limit, ": ", 2);
    full = append_text(line, &len, limit, event, strlen(event)) != 0;

    for (size_t i = 0; i < nf && !full; i++) {
        size_t before = len;

        if (append_text(line, &len, limit, " ", 1) != 0 ||
            append_text(line, &len, limit, f[i].tok, f[i].tok_len) != 0) {
            len = before;
            full = 1;
        }
    }
    truncated |= full;
    if (truncated) {
        memcpy(line + len, TRUNC_TEXT, sizeof(TRUNC_TEXT) - 1);
        len += sizeof(TRUNC_TEXT) - 1;
    }
    line[len++] = '\n';
    return len;
}

/* Keys the JSON form sets itself; a field with one of these names is renamed. */
static int reserved_key(const char *k, size_t n)
{
    static const char *const names[] = {"ts", "level", "prog", "event", "msg", "truncated"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (n == strlen(names[i]) && memcmp(k, names[i], n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Adds one string member, or nothing at all when it does not fit (the
 * writer's error is cleared, so the object stays valid). Returns 0 or -1. */
static int add_member(struct sitx_json *j, const char *key, const char *val, size_t n)
{
    size_t before = j->len;
    int count = j->count;

    sitx_json_strn(j, key, val, n);
    if (j->err) {
        j->len = before;
        j->count = count;
        j->err = 0;
        j->buf[j->len] = '\0';
        return -1;
    }
    return 0;
}

static size_t format_json(char *line, size_t cap, const char *prefix, int level, const char *event,
                          const struct field *f, size_t nf, int truncated)
{
    char ts[40] = "";
    char key[80];
    char val[LOG_FIELDS_MAX];
    char words[LOG_FIELDS_MAX];
    size_t words_len = 0;
    size_t prefix_len = strlen(prefix);
    struct sitx_json j;
    struct timespec now;
    struct tm tm;
    size_t len;
    int full; /* a member did not fit: stop adding */

    if (clock_gettime(CLOCK_REALTIME, &now) == 0 && gmtime_r(&now.tv_sec, &tm) != NULL) {
        size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

        snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000L);
    }
    memcpy(line, prefix, prefix_len);
    /* Room for the marker and the newline stays free while members go in. */
    sitx_json_begin(&j, line + prefix_len, cap - prefix_len - (sizeof(TRUNC_JSON) - 1) - 1);
    full = add_member(&j, "ts", ts, strlen(ts)) != 0 ||
           add_member(&j, "level", level_name(level), strlen(level_name(level))) != 0 ||
           add_member(&j, "prog", log_prog, strlen(log_prog)) != 0 ||
           add_member(&j, "event", event, strlen(event)) != 0;
    for (size_t i = 0; i < nf && !full; i++) {
        size_t vn;

        if (f[i].key == NULL) {
            /* Bare words are kept together as "msg". */
            if (words_len + f[i].tok_len + 1 <= sizeof(words)) {
                if (words_len > 0) {
                    words[words_len++] = ' ';
                }
                memcpy(words + words_len, f[i].tok, f[i].tok_len);
                words_len += f[i].tok_len;
            }
            continue;
        }
        snprintf(key, sizeof(key), "%s%.*s", reserved_key(f[i].key, f[i].key_len) ? "field_" : "",
                 (int)(f[i].key_len < 64 ? f[i].key_len : 64), f[i].key);
        if (f[i].quoted) {
            vn = unquote(f[i].val, f[i].val_len, val);
        } else {
            memcpy(val, f[i].val, f[i].val_len);
            vn = f[i].val_len;
        }
        full = add_member(&j, key, val, vn) != 0;
    }
    if (words_len > 0 && !full) {
        full = add_member(&j, "msg", words, words_len) != 0;
    }
    len = prefix_len + j.len;
    if (truncated || full) {
        memcpy(line + len, TRUNC_JSON, sizeof(TRUNC_JSON) - 1);
        len += sizeof(TRUNC_JSON) - 1;
    } else {
        line[len++] = '}';
    }
    line[len++] = '\n';
    return len;
}

void sitx_log(int level, const char *event, const char *fields, ...)
{
    char fbuf[LOG_FIELDS_MAX];
    char line[LOG_LINE_MAX];
    char prefix[8] = "";
    struct field f[LOG_FIELDS_N];
    const char *journal = getenv("JOURNAL_STREAM");
    int saved_errno = errno;
    int truncated = 0;
    size_t flen = 0;
    size_t nf;
    size_t len;
    size_t off = 0;
    va_list ap;
    int n;

    if (level > log_max_level) {
        return;
    }
    if (event == NULL) {
        event = "event";
    }
    if (fields != NULL) {
        va_start(ap, fields);
        n = vsnprintf(fbuf, sizeof(fbuf), fields, ap);
        va_end(ap);
        if (n < 0) {
            n = 0;
            fbuf[0] = '\0';
            truncated = 1;
        }
        flen = (size_t)n;
        if (flen >= sizeof(fbuf)) {
            flen = sizeof(fbuf) - 1;
            truncated = 1;
        }
    }
    nf = split_fields(fbuf, flen, f, LOG_FIELDS_N);
    if (truncated && nf > 0) {
        /* The last field was cut by the buffer: drop it rather than show half. */
        nf--;
    }
    if (nf == LOG_FIELDS_N) {
        truncated = 1;
    }
    if (journal != NULL && journal[0] != '\0') {
        int lv = level < 0 ? 0 : (level > 7 ? 7 : level);

        snprintf(prefix, sizeof(prefix), "<%d>", lv);
    }
    if (log_format == SITX_LOG_JSON) {
        len = format_json(line, sizeof(line), prefix, level, event, f, nf, truncated);
    } else {
        len = format_text(line, sizeof(line), prefix, event, f, nf, truncated);
    }
    /* One write per line; a second only if the kernel took part of it. */
    while (off < len) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        off += (size_t)w;
    }
    errno = saved_errno;
}

/* The escape for the character at s[0..n) into esc (up to 16 bytes): \" and
 * \\, control bytes, C1 controls and bytes that are not UTF-8 as \xNN.
 * *used gets how many input bytes it covers. Returns the escape's length. */
static size_t quote_char(const unsigned char *s, size_t n, char *esc, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    uint32_t cp = 0;
    size_t k = sitx_utf8_next(s, n, &cp);
    size_t o = 0;

    if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
        k = k == 0 ? 1 : k;
        for (size_t i = 0; i < k; i++) {
            esc[o++] = '\\';
            esc[o++] = 'x';
            esc[o++] = hex[s[i] >> 4];
            esc[o++] = hex[s[i] & 0xf];
        }
    } else if (cp == '"' || cp == '\\') {
        esc[o++] = '\\';
        esc[o++] = (char)cp;
    } else {
        memcpy(esc, s, k);
        o = k;
    }
    *used = k;
    return o;
}

const char *sitx_log_quote(const char *s, char *buf, unsigned long cap)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n;
    size_t total = 0;
    size_t limit;
    size_t o = 0;
    int plain = 1;
    int cut = 0;

    if (buf == NULL || cap == 0) {
        return "";
    }
    if (s == NULL) {
        u = (const unsigned char *)"";
    }
    n = strlen((const char *)u);
    for (size_t i = 0; i < n;) {
        char esc[16];
        size_t used = 0;
        size_t k = quote_char(u + i, n - i, esc, &used);

        /* Plain: nothing escaped, and no space, quote or '=' to confuse the reader. */
        if (k != used || u[i] == ' ' || u[i] == '=') {
            plain = 0;
        }
        total += k;
        i += used;
    }
    if (plain && n > 0 && n < cap) {
        memcpy(buf, u, n + 1);
        return buf;
    }
    if (cap < 3) {
        buf[0] = '\0';
        return buf;
    }
    limit = cap - 3; /* two quotes and the NUL */
    if (total > limit) {
        /* Cut short, and say so with "..." when there is room for it. */
        cut = limit >= 3;
        limit = cut ? limit - 3 : limit;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < n;) {
        char esc[16];
        size_t used = 0;
        size_t k = quote_char(u + i, n - i, esc, &used);

        if (o - 1 + k > limit) {
            break;
        }
        memcpy(buf + o, esc, k);
        o += k;
        i += used;
    }
    if (cut) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
