/* One event a line on stderr: "prog: event key=value ...". Under systemd
 * (JOURNAL_STREAM set) each line starts with the syslog level "<N>", as
 * sd-daemon(3) says. With SITX_LOG_JSON each line is a JSON object with
 * "ts", "level", "prog", "event" and the key=value fields. Never log a secret. */
#ifndef SITX_LOG_H
#define SITX_LOG_H

enum sitx_log_level {
    SITX_LOG_ERR = 3,
    SITX_LOG_WARNING = 4,
    SITX_LOG_NOTICE = 5,
    SITX_LOG_INFO = 6,
    SITX_LOG_DEBUG = 7,
};

enum sitx_log_format {
    SITX_LOG_TEXT,
    SITX_LOG_JSON,
};

/* prog is kept by pointer; events above max_level are dropped. */
void sitx_log_init(const char *prog, enum sitx_log_format format, int max_level);

/* fields is a printf format for space-separated key=value pairs; a value with
 * spaces, quotes or '=' must be written with sitx_log_quote(). */
void sitx_log(int level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Quotes s for a key=value field ("..." with \" and \\ escaped, control bytes
 * as \xNN) into buf; returns buf. Plain tokens are copied unquoted. */
const char *sitx_log_quote(const char *s, char *buf, unsigned long cap);

#endif
