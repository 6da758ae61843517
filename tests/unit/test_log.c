/* Logging: stderr captured into a file and compared line for line; the
 * journald "<N>" prefix; JSON lines parsed with cJSON; quoting; marked
 * truncation; whole lines from concurrent threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "log.h"
#include "testutil.h"

struct capture {
    char *dir;
    char path[512];
    int fd;
    int saved;
};

static void capture_begin(struct capture *c)
{
    c->dir = tu_mkdtemp();
    assert_non_null(c->dir);
    snprintf(c->path, sizeof(c->path), "%s/stderr", c->dir);
    c->fd = open(c->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(c->fd >= 0);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
}

/* Restores stderr; returns what was written meanwhile (caller frees). */
static char *capture_end(struct capture *c)
{
    uint8_t *out = NULL;
    size_t len = 0;

    assert_int_equal(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
    close(c->saved);
    close(c->fd);
    assert_int_equal(tu_read_file(c->path, &out, &len), 0);
    tu_rmrf(c->dir);
    free(c->dir);
    return (char *)out;
}

static int setup(void **state)
{
    (void)state;
    unsetenv("JOURNAL_STREAM");
    sitx_log_init("sitx-recv", SITX_LOG_TEXT, SITX_LOG_INFO);
    return 0;
}

static void test_text_lines(void **state)
{
    struct capture c;
    char *out;

    (void)state;
    capture_begin(&c);
    sitx_log(SITX_LOG_INFO, "stored", "peer=%s key=%s file=%s ms=%d", "192.0.2.7:51514",
             "3f9a00112233c1", "scan-0042.png", 37);
    sitx_log(SITX_LOG_NOTICE, "ready", NULL);
    sitx_log(SITX_LOG_INFO, "empty", "%s", "");
    sitx_log(SITX_LOG_DEBUG, "dropped", "x=%d", 1);
    sitx_log(SITX_LOG_ERR, "failed", "why=%s", "disk");
    out = capture_end(&c);
    assert_string_equal(out, "sitx-recv: stored peer=192.0.2.7:51514 key=3f9a00112233c1 "
                             "file=scan-0042.png ms=37\n"
                             "sitx-recv: ready\n"
                             "sitx-recv: empty\n"
                             "sitx-recv: failed why=disk\n");
    free(out);
}

static void test_max_level(void **state)
{
    struct capture c;
    char *out;

    (void)state;
    sitx_log_init("sitx-send", SITX_LOG_TEXT, SITX_LOG_DEBUG);
    capture_begin(&c);
    sitx_log(SITX_LOG_DEBUG, "dbg", NULL);
    sitx_log_init("sitx-send", SITX_LOG_TEXT, SITX_LOG_WARNING);
    sitx_log(SITX_LOG_NOTICE, "notice", NULL);
    sitx_log(SITX_LOG_INFO, "info", NULL);
    sitx_log(SITX_LOG_WARNING, "warn", NULL);
    sitx_log(SITX_LOG_ERR, "err", NULL);
    out = capture_end(&c);
    assert_string_equal(out, "sitx-send: dbg\nsitx-send: warn\nsitx-send: err\n");
    free(out);
}

static void test_journal_prefix(void **state)
{
    struct capture c;
    char *out;

    (void)state;
    assert_int_equal(setenv("JOURNAL_STREAM", "8:12345", 1), 0);
    sitx_log_init("sitx-recv", SITX_LOG_TEXT, SITX_LOG_DEBUG);
    capture_begin(&c);
    sitx_log(SITX_LOG_INFO, "stored", "file=%s", "a.png");
    sitx_log(SITX_LOG_ERR, "failed", NULL);
    sitx_log(SITX_LOG_WARNING, "slow", NULL);
    sitx_log(SITX_LOG_NOTICE, "ready", NULL);
    sitx_log(SITX_LOG_DEBUG, "detail", NULL);
    out = capture_end(&c);
    unsetenv("JOURNAL_STREAM");
    assert_string_equal(out, "<6>sitx-recv: stored file=a.png\n"
                             "<3>sitx-recv: failed\n"
                             "<4>sitx-recv: slow\n"
                             "<5>sitx-recv: ready\n"
                             "<7>sitx-recv: detail\n");
    free(out);
}

static void test_control_bytes_cannot_split_a_line(void **state)
{
    struct capture c;
    char *out;

    (void)state;
    capture_begin(&c);
    /* A careless caller passes a hostile name without quoting it. */
    sitx_log(SITX_LOG_INFO, "offer", "name=%s", "a\nsitx-recv: forged\rb\x1b[0m");
    out = capture_end(&c);
    assert_string_equal(out, "sitx-recv: offer name=a\\x0asitx-recv: forged\\x0db\\x1b[0m\n");
    free(out);
}

static void test_errno_preserved(void **state)
{
    struct capture c;
    char *out;

    (void)state;
    capture_begin(&c);
    errno = EACCES;
    sitx_log(SITX_LOG_INFO, "x", NULL);
    assert_int_equal(errno, EACCES);
    out = capture_end(&c);
    free(out);
}

struct quote_case {
    const char *in;
    unsigned long cap;
    const char *want;
};

static void test_quote(void **state)
{
    static const struct quote_case cases[] = {
        {"plain", 64, "plain"},
        {"scan-0042.png", 64, "scan-0042.png"},
        {"caf\xc3\xa9", 64, "caf\xc3\xa9"},
        {"with space", 64, "\"with space\""},
        {"q\"x", 64, "\"q\\\"x\""},
        {"back\\slash", 64, "\"back\\\\slash\""},
        {"a=b", 64, "\"a=b\""},
        {"", 64, "\"\""},
        {NULL, 64, "\"\""},
        {"tab\there", 64, "\"tab\\x09here\""},
        {"nl\n", 64, "\"nl\\x0a\""},
        {"del\x7f", 64, "\"del\\x7f\""},
        {"bad\xff", 64, "\"bad\\xff\""},
        {"c1\xc2\x85", 64, "\"c1\\xc2\\x85\""},
        {"abcdefghij", 8, "\"ab...\""},
        {"abcdefghij", 5, "\"ab\""},
        {"abcdefghij", 2, ""},
        {"\x01\x01\x01", 10, "\"\\x01...\""},
        {"abc", 4, "abc"},
        {"abcd", 4, "\"a\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[65];
        const char *r;

        memset(buf, 'Z', sizeof(buf));
        r = sitx_log_quote(cases[i].in, buf, cases[i].cap);
        assert_ptr_equal(r, buf);
        if (strcmp(buf, cases[i].want) != 0) {
            fail_msg("quote case %zu: got [%s] want [%s]", i, buf, cases[i].want);
        }
        assert_true(strlen(buf) < cases[i].cap);
        assert_int_equal(buf[cases[i].cap], 'Z');
    }
}

static void test_quoted_value_in_text(void **state)
{
    struct capture c;
    char q[128];
    char *out;

    (void)state;
    capture_begin(&c);
    sitx_log(SITX_LOG_WARNING, "refused", "name=%s code=%d",
             sitx_log_quote("my \"holiday\" pic.png", q, sizeof(q)), 4);
    out = capture_end(&c);
    assert_string_equal(out, "sitx-recv: refused name=\"my \\\"holiday\\\" pic.png\" code=4\n");
    free(out);
}

static cJSON *parse_line(const char *line, const char *want_prefix)
{
    size_t n = strlen(line);
    size_t plen = strlen(want_prefix);
    char *copy;
    cJSON *j;

    assert_true(n > 0 && line[n - 1] == '\n');
    assert_null(memchr(line, '\n', n - 1));
    assert_int_equal(strncmp(line, want_prefix, plen), 0);
    copy = strndup(line + plen, n - 1 - plen);
    assert_non_null(copy);
    j = cJSON_Parse(copy);
    if (j == NULL) {
        fail_msg("not JSON: %s", copy);
    }
    free(copy);
    return j;
}

static const char *str_member(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

    if (!cJSON_IsString(v)) {
        fail_msg("member %s missing or not a string", key);
    }
    return cJSON_GetStringValue(v);
}

static void test_json_line(void **state)
{
    struct capture c;
    char q[128];
    char *out;
    cJSON *j;
    const char *ts;

    (void)state;
    sitx_log_init("sitx-recv", SITX_LOG_JSON, SITX_LOG_INFO);
    capture_begin(&c);
    sitx_log(SITX_LOG_INFO, "stored", "peer=%s file=%s ms=%d note=%s level=9 stray",
             "192.0.2.7:51514", sitx_log_quote("a \"b\"\\c\td", q, 64), 37,
             sitx_log_quote("bad\xff", q + 64, 64));
    out = capture_end(&c);
    j = parse_line(out, "");
    ts = str_member(j, "ts");
    /* 2026-01-02T03:04:05.678Z */
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[4], '-');
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
    assert_string_equal(str_member(j, "level"), "info");
    assert_string_equal(str_member(j, "prog"), "sitx-recv");
    assert_string_equal(str_member(j, "event"), "stored");
    assert_string_equal(str_member(j, "peer"), "192.0.2.7:51514");
    assert_string_equal(str_member(j, "file"), "a \"b\"\\c\td");
    assert_string_equal(str_member(j, "ms"), "37");
    /* A byte that is not UTF-8 arrives as U+FFFD, never as raw bytes. */
    assert_string_equal(str_member(j, "note"), "bad\xef\xbf\xbd");
    /* A field may not pose as one of the fixed members. */
    assert_string_equal(str_member(j, "field_level"), "9");
    assert_string_equal(str_member(j, "msg"), "stray");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "truncated"));
    cJSON_Delete(j);
    free(out);
    sitx_log_init("sitx-recv", SITX_LOG_TEXT, SITX_LOG_INFO);
}

static void test_json_with_journal(void **state)
{
    struct capture c;
    char *out;
    cJSON *j;

    (void)state;
    assert_int_equal(setenv("JOURNAL_STREAM", "8:1", 1), 0);
    sitx_log_init("sitx-send", SITX_LOG_JSON, SITX_LOG_INFO);
    capture_begin(&c);
    sitx_log(SITX_LOG_ERR, "failed", "status=%s", "DISK_FULL");
    out = capture_end(&c);
    unsetenv("JOURNAL_STREAM");
    j = parse_line(out, "<3>");
    assert_string_equal(str_member(j, "level"), "error");
    assert_string_equal(str_member(j, "event"), "failed");
    assert_string_equal(str_member(j, "status"), "DISK_FULL");
    cJSON_Delete(j);
    free(out);
    sitx_log_init("sitx-recv", SITX_LOG_TEXT, SITX_LOG_INFO);
}

static void test_truncation_is_marked_text(void **state)
{
    struct capture c;
    char *big_b = malloc(3001);
    char *big_c = malloc(2001);
    char *out;
    size_t n;

    (void)state;
    assert_non_null(big_b);
    assert_non_null(big_c);
    memset(big_b, 'x', 3000);
    big_b[3000] = '\0';
    memset(big_c, 'y', 2000);
    big_c[2000] = '\0';
    capture_begin(&c);
    sitx_log(SITX_LOG_INFO, "big", "a=1 b=%s c=%s d=2", big_b, big_c);
    out = capture_end(&c);
    n = strlen(out);
    assert_true(n <= 4096);
    assert_int_equal(out[n - 1], '\n');
    assert_null(memchr(out, '\n', n - 1));
    /* Whole fields before the cut, none cut in half, and a visible mark. */
    assert_int_equal(strncmp(out, "sitx-recv: big a=1 b=", 21), 0);
    assert_int_equal(strspn(out + 21, "x"), 3000);
    assert_null(strchr(out, 'y'));
    assert_string_equal(out + n - 13, " truncated=1\n");
    free(out);

    /* Runs of spaces shrink to one, so here the field cut by the format
     * buffer would fit the line: it must still be left out, not shown cut. */
    capture_begin(&c);
    sitx_log(SITX_LOG_INFO, "big", "a=1%*s c=%s", 3000, "", big_c);
    out = capture_end(&c);
    assert_string_equal(out, "sitx-recv: big a=1 truncated=1\n");
    free(out);
    free(big_b);
    free(big_c);
}

static void test_truncation_is_marked_json(void **state)
{
    struct capture c;
    char ctl[1000];
    char q[4096];
    char *out;
    cJSON *j;

    (void)state;
    /* 900 control bytes: 3.6 kB quoted, 5.4 kB as JSON \u00XX escapes. */
    memset(ctl, '\x01', 900);
    ctl[900] = '\0';
    sitx_log_init("sitx-recv", SITX_LOG_JSON, SITX_LOG_INFO);
    capture_begin(&c);
    sitx_log(SITX_LOG_INFO, "big", "a=1 b=%s c=3", sitx_log_quote(ctl, q, sizeof(q)));
    out = capture_end(&c);
    assert_true(strlen(out) <= 4096);
    j = parse_line(out, "");
    assert_string_equal(str_member(j, "a"), "1");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "b"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "truncated")));
    cJSON_Delete(j);
    free(out);
    sitx_log_init("sitx-recv", SITX_LOG_TEXT, SITX_LOG_INFO);
}

#define THREADS          4
#define LINES_PER_THREAD 300
#define PAYLOAD          1500

static void *log_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    char payload[PAYLOAD + 1];

    memset(payload, 'a' + id, PAYLOAD);
    payload[PAYLOAD] = '\0';
    for (int i = 0; i < LINES_PER_THREAD; i++) {
        sitx_log(SITX_LOG_INFO, "t", "id=%d n=%04d p=%s", id, i, payload);
    }
    return NULL;
}

static void test_threads_never_interleave(void **state)
{
    struct capture c;
    pthread_t th[THREADS];
    int seen[THREADS] = {0};
    char *out;
    char *line;
    char *save = NULL;
    int lines = 0;

    (void)state;
    capture_begin(&c);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, log_worker, (void *)(intptr_t)i), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
    }
    out = capture_end(&c);
    for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        int id = -1;
        int n = -1;
        char want[PAYLOAD + 1];

        assert_int_equal(sscanf(line, "sitx-recv: t id=%d n=%d", &id, &n), 2);
        assert_true(id >= 0 && id < THREADS);
        assert_int_equal(n, seen[id]);
        seen[id]++;
        memset(want, 'a' + id, PAYLOAD);
        want[PAYLOAD] = '\0';
        assert_int_equal(strlen(line), strlen("sitx-recv: t id=0 n=0000 p=") + PAYLOAD);
        assert_string_equal(strstr(line, " p=") + 3, want);
        lines++;
    }
    assert_int_equal(lines, THREADS * LINES_PER_THREAD);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_text_lines, setup),
        cmocka_unit_test_setup(test_max_level, setup),
        cmocka_unit_test_setup(test_journal_prefix, setup),
        cmocka_unit_test_setup(test_control_bytes_cannot_split_a_line, setup),
        cmocka_unit_test_setup(test_errno_preserved, setup),
        cmocka_unit_test_setup(test_quote, setup),
        cmocka_unit_test_setup(test_quoted_value_in_text, setup),
        cmocka_unit_test_setup(test_json_line, setup),
        cmocka_unit_test_setup(test_json_with_journal, setup),
        cmocka_unit_test_setup(test_truncation_is_marked_text, setup),
        cmocka_unit_test_setup(test_truncation_is_marked_json, setup),
        cmocka_unit_test_setup(test_threads_never_interleave, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
