/* sitx-send's decisions that need no network: exit-code priority, retry
 * backoff bounds, --compress parsing, offered names, human sizes, the known
 * receivers file (parse, look up, trust-on-first-use append), and the per
 * image lines, human and JSON (parsed back with cJSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sodium.h>

#include "testutil.h"

/* The sender's sources: no libuv in these three. */
#include "../../sender/known.c"
#include "../../sender/policy.c"
#include "../../sender/report.c"

static void test_exit_priority(void **state)
{
    (void)state;
    assert_int_equal(exit_combine(SEND_EXIT_OK, SEND_EXIT_REFUSED), SEND_EXIT_REFUSED);
    assert_int_equal(exit_combine(SEND_EXIT_LOCAL, SEND_EXIT_REFUSED), SEND_EXIT_LOCAL);
    assert_int_equal(exit_combine(SEND_EXIT_REFUSED, SEND_EXIT_LOCAL), SEND_EXIT_LOCAL);
    assert_int_equal(exit_combine(SEND_EXIT_LOCAL, SEND_EXIT_NETWORK), SEND_EXIT_NETWORK);
    assert_int_equal(exit_combine(SEND_EXIT_AUTH, SEND_EXIT_NETWORK), SEND_EXIT_AUTH);
    assert_int_equal(exit_combine(SEND_EXIT_NETWORK, SEND_EXIT_AUTH), SEND_EXIT_AUTH);
    assert_int_equal(exit_combine(SEND_EXIT_AUTH, SEND_EXIT_INTERNAL), SEND_EXIT_INTERNAL);
    assert_int_equal(exit_combine(SEND_EXIT_OK, SEND_EXIT_OK), SEND_EXIT_OK);
    assert_int_equal(exit_combine(SEND_EXIT_INTERNAL, SEND_EXIT_INTERRUPTED), 130);
    assert_int_equal(exit_combine(SEND_EXIT_INTERRUPTED, SEND_EXIT_LOCAL), 130);

    assert_int_equal(outcome_exit(OUTCOME_STORED), 0);
    assert_int_equal(outcome_exit(OUTCOME_ALREADY), 0);
    assert_int_equal(outcome_exit(OUTCOME_REFUSED), 1);
    assert_int_equal(outcome_exit(OUTCOME_FAILED), 1);
    assert_int_equal(outcome_exit(OUTCOME_LOCAL), 3);
    assert_int_equal(outcome_exit(OUTCOME_AUTH), 4);
    assert_int_equal(outcome_exit(OUTCOME_NETWORK), 5);
    assert_int_equal(outcome_exit(OUTCOME_INTERNAL), 6);
    assert_int_equal(outcome_exit(OUTCOME_INTERRUPTED), 130);
}

static void test_backoff_bounds(void **state)
{
    static const uint64_t base[] = {500, 1000, 2000, 4000, 8000, 10000, 10000};
    unsigned attempt;

    (void)state;
    for (attempt = 1; attempt <= 7; attempt++) {
        uint64_t b = base[attempt - 1];
        uint64_t lo = backoff_ms(attempt, 0);
        uint64_t hi = backoff_ms(attempt, UINT32_MAX);
        uint64_t mid = backoff_ms(attempt, UINT32_MAX / 2);

        assert_int_equal(lo, b * 3 / 4);
        assert_true(hi < b * 5 / 4);
        assert_true(hi >= b * 5 / 4 - 1);
        assert_true(mid >= b - 1 && mid <= b);
    }
    /* Far past the cap, and a huge attempt number does not overflow. */
    assert_true(backoff_ms(1000000, UINT32_MAX) < 12500);
    assert_int_equal(backoff_ms(64, 0), 7500);
}

/* Busy-receiver retries: the backoff schedule runs until the budget is
 * spent, the last delay cut to what is left; with the jitter at either end
 * a 30 s budget gives 7 to 8 attempts, not the old 4 in 3 s. */
static void test_retry_connect_schedule(void **state)
{
    static const uint32_t jitter[] = {0, UINT32_MAX / 2, UINT32_MAX};
    uint64_t delay = 1;
    size_t j;

    (void)state;
    for (j = 0; j < sizeof(jitter) / sizeof(jitter[0]); j++) {
        uint64_t elapsed = 0;
        unsigned failures = 0;

        for (;;) {
            failures++;
            if (!retry_connect(elapsed, failures, 30000, jitter[j], &delay)) {
                break;
            }
            assert_true(delay <= backoff_ms(failures, jitter[j]));
            assert_true(elapsed + delay <= 30000);
            if (elapsed + delay < 30000) {
                assert_int_equal(delay, backoff_ms(failures, jitter[j])); /* not cut */
            }
            elapsed += delay; /* attempts that fail at once */
        }
        assert_int_equal(elapsed, 30000);
        assert_int_equal(delay, 0);
        assert_true(failures >= 7 && failures <= 9);
    }
    /* Spent at once, and the cut near the end. */
    assert_int_equal(retry_connect(30000, 1, 30000, 0, &delay), 0);
    assert_int_equal(retry_connect(45000, 1, 30000, 0, &delay), 0);
    assert_int_equal(retry_connect(29900, 5, 30000, 0, &delay), 1);
    assert_int_equal(delay, 100);
    assert_int_equal(retry_connect(0, 1, 30000, 0, &delay), 1);
    assert_int_equal(delay, 375);
}

static void test_retry_summary(void **state)
{
    char out[200];

    (void)state;
    retry_summary("receiver busy: ", "h:1 closed the connection before the handshake completed", 9,
                  30249, out, sizeof(out));
    assert_string_equal(out, "receiver busy: h:1 closed the connection before the handshake "
                             "completed, 9 attempts over 30.2 s");
    retry_summary("", "no answer from h:1 in 3 s", 1, 3000, out, sizeof(out));
    assert_string_equal(out, "no answer from h:1 in 3 s, 1 attempt over 3.0 s");
    /* Cut short, still terminated (a cap the compiler cannot see through). */
    {
        volatile size_t small = 10;

        retry_summary("receiver busy: ", "x", 2, 1000, out, small);
        assert_int_equal(strlen(out), 9);
    }
}

static void test_parse_compress(void **state)
{
    struct sitx_image_opts o;

    (void)state;
    memset(&o, 0, sizeof(o));
    assert_int_equal(parse_compress("none", &o), 0);
    assert_int_equal(o.mode, SITX_COMPRESS_NONE);
    assert_int_equal(parse_compress("lossless", &o), 0);
    assert_int_equal(o.mode, SITX_COMPRESS_LOSSLESS);
    assert_int_equal(parse_compress("lossy", &o), 0);
    assert_int_equal(o.mode, SITX_COMPRESS_LOSSY);
    assert_int_equal(o.quality, 85);
    assert_int_equal(parse_compress("lossy:40", &o), 0);
    assert_int_equal(o.quality, 40);
    assert_int_equal(parse_compress("lossy:100", &o), 0);
    assert_int_equal(o.quality, 100);
    assert_int_equal(parse_compress("lossy:0", &o), SITX_E_INVALID);
    assert_int_equal(parse_compress("lossy:101", &o), SITX_E_INVALID);
    assert_int_equal(parse_compress("lossy:", &o), SITX_E_INVALID);
    assert_int_equal(parse_compress("lossy:5x", &o), SITX_E_INVALID);
    assert_int_equal(parse_compress("Lossless", &o), SITX_E_INVALID);
    assert_int_equal(parse_compress("", &o), SITX_E_INVALID);
}

/* A relative path keeps its directories when they are sendable as they are. */
static void test_offer_path(void **state)
{
    char out[SITX_NAME_MAX + 1];
    char deep[600];

    (void)state;
    offer_path("2024/05/a.jpg", 0, ".jpg", out, sizeof(out));
    assert_string_equal(out, "2024/05/a.jpg");
    offer_path("2024/scan.png", 1, ".jpg", out, sizeof(out));
    assert_string_equal(out, "2024/scan.jpg");
    offer_path("flat.png", 0, NULL, out, sizeof(out));
    assert_string_equal(out, "flat.png");
    /* A backslash is sent as it is: the receiver decides what it becomes. */
    offer_path("a\\b/c.png", 0, NULL, out, sizeof(out));
    assert_string_equal(out, "a\\b/c.png");
    /* Control characters and bad UTF-8 in a directory: cleaned here already. */
    offer_path("bad\x01" "dir/x\xff/c.png", 0, NULL, out, sizeof(out));
    assert_string_equal(out, "bad_dir/x_/c.png");
    /* Too long with its directories: the file name alone. */
    memset(deep, 'd', sizeof(deep));
    for (size_t i = 50; i < 500; i += 51) {
        deep[i] = '/';
    }
    snprintf(deep + 500, sizeof(deep) - 500, "/e.png");
    offer_path(deep, 0, NULL, out, sizeof(out));
    assert_string_equal(out, "e.png");
}

/* The closing line: counts, bytes and tenths of seconds; the JSON form
 * wrapped in "summary". */
static void test_summary_format(void **state)
{
    struct report r;
    struct image_report ir;
    char buf[640];
    cJSON *o;
    cJSON *m;

    (void)state;
    report_init(&r, stdout, stderr, 0, 0, 0);
    memset(&ir, 0, sizeof(ir));
    ir.file = "x.png";
    r.filter = NULL;
    /* Counted without printing: --quiet hides stored lines. */
    r.quiet = 1;
    ir.outcome = OUTCOME_STORED;
    ir.bytes_sent = 1500000;
    assert_int_equal(report_image(&r, &ir), 0);
    ir.outcome = OUTCOME_ALREADY;
    ir.bytes_sent = 0;
    assert_int_equal(report_image(&r, &ir), 0);
    r.quiet = 0;
    r.out = fopen("/dev/null", "w");
    assert_non_null(r.out);
    ir.outcome = OUTCOME_REFUSED;
    ir.status = "TOO_LARGE";
    assert_int_equal(report_image(&r, &ir), 0);
    ir.outcome = OUTCOME_NETWORK;
    ir.status = "NETWORK_ERROR";
    assert_int_equal(report_image(&r, &ir), 0);
    assert_int_equal(report_skipped(&r, "d/notes.txt", "not a PNG or JPEG"), 0);
    fclose(r.out);
    assert_true(report_summary_format(&r, 3140, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "sitx-send: 1 stored, 1 already stored, 1 refused, 1 failed, "
                             "1 skipped, 1.5 MB sent in 3.1 s");
    report_count_interrupted(&r, 2);
    assert_true(report_summary_format(&r, 50, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "sitx-send: 1 stored, 1 already stored, 1 refused, 1 failed, "
                             "2 interrupted, 1 skipped, 1.5 MB sent in 0.0 s");
    r.json = 1;
    assert_true(report_summary_format(&r, 3140, buf, sizeof(buf)) > 0);
    o = cJSON_Parse(buf);
    assert_non_null(o);
    assert_int_equal(cJSON_GetArraySize(o), 1);
    m = cJSON_GetObjectItemCaseSensitive(o, "summary");
    assert_non_null(m);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "stored")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "already_stored")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "refused")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "failed")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "interrupted")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "skipped")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "images")->valueint, 6);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "bytes_sent")->valuedouble, 1500000);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m, "ms")->valueint, 3140);
    cJSON_Delete(o);
}

static void test_offer_name(void **state)
{
    char out[SITX_NAME_MAX + 1];
    char longname[400];

    (void)state;
    offer_name("/home/a/photos/photo.jpg", 0, ".jpg", out, sizeof(out));
    assert_string_equal(out, "photo.jpg");
    offer_name("scan.png", 1, ".jpg", out, sizeof(out));
    assert_string_equal(out, "scan.jpg");
    offer_name("dir/noext", 1, ".jpg", out, sizeof(out));
    assert_string_equal(out, "noext.jpg");
    offer_name("a.b.png", 1, ".jpg", out, sizeof(out));
    assert_string_equal(out, "a.b.jpg");
    offer_name("caf\xc3\xa9.png", 0, NULL, out, sizeof(out));
    assert_string_equal(out, "caf\xc3\xa9.png");

    /* Not sendable as they are: the result must be valid on the wire. */
    offer_name("dir/bad\xff.png", 0, NULL, out, sizeof(out));
    assert_true(strlen(out) >= 1);
    assert_true(sitx_utf8_valid((const uint8_t *)out, strlen(out)));
    assert_null(strchr(out, '/'));
    offer_name("x/.hidden.png", 0, NULL, out, sizeof(out));
    assert_true(out[0] != '.');
    offer_name("tab\there.png", 0, NULL, out, sizeof(out));
    assert_null(strchr(out, '\t'));
    memset(longname, 'n', sizeof(longname) - 5);
    memcpy(longname + sizeof(longname) - 5, ".png", 5);
    offer_name(longname, 0, NULL, out, sizeof(out));
    assert_true(strlen(out) >= 1 && strlen(out) <= SITX_NAME_MAX);
}

static void test_human_size(void **state)
{
    char b[32];

    (void)state;
    assert_string_equal(human_size(0, b, sizeof(b)), "0 B");
    assert_string_equal(human_size(999, b, sizeof(b)), "999 B");
    assert_string_equal(human_size(1000, b, sizeof(b)), "1.0 kB");
    assert_string_equal(human_size(2100000, b, sizeof(b)), "2.1 MB");
    assert_string_equal(human_size(999999, b, sizeof(b)), "1.0 MB");
    assert_string_equal(human_size(3500000000ull, b, sizeof(b)), "3.5 GB");
}

static void make_key(uint8_t pk[SITX_KEY_BYTES], char text[SITX_PUBKEY_TEXT_LEN + 1], int seed)
{
    memset(pk, seed, SITX_KEY_BYTES);
    pk[0] = (uint8_t)(seed + 1);
    sitx_pubkey_encode(pk, text);
}

static void test_known_parse(void **state)
{
    uint8_t a[SITX_KEY_BYTES];
    uint8_t b[SITX_KEY_BYTES];
    uint8_t got[SITX_KEY_BYTES];
    char at[SITX_PUBKEY_TEXT_LEN + 1];
    char bt[SITX_PUBKEY_TEXT_LEN + 1];
    char text[512];
    char err[128];

    (void)state;
    make_key(a, at, 7);
    make_key(b, bt, 9);
    snprintf(text, sizeof(text),
             "# pinned receivers\n"
             "\n"
             "  scanner.lan:7717 %s\n"
             "[::1]:9000\t%s  # loopback\n",
             at, bt);
    assert_int_equal(known_find_text(text, strlen(text), "scanner.lan:7717", got, err, sizeof(err)),
                     1);
    assert_memory_equal(got, a, SITX_KEY_BYTES);
    assert_int_equal(known_find_text(text, strlen(text), "[::1]:9000", got, err, sizeof(err)), 1);
    assert_memory_equal(got, b, SITX_KEY_BYTES);
    /* Same host, other port: not the same receiver. */
    assert_int_equal(known_find_text(text, strlen(text), "scanner.lan:7718", got, err, sizeof(err)),
                     0);
    assert_int_equal(known_find_text(text, strlen(text), "scanner.lan", got, err, sizeof(err)), 0);

    snprintf(text, sizeof(text), "# c\nhost:1 %s\nhost:2\n", at);
    err[0] = '\0';
    assert_int_equal(known_find_text(text, strlen(text), "zzz:1", got, err, sizeof(err)),
                     SITX_E_MALFORMED);
    assert_non_null(strstr(err, "line 3"));
    snprintf(text, sizeof(text), "host:1 notakey\n");
    assert_int_equal(known_find_text(text, strlen(text), "host:1", got, err, sizeof(err)),
                     SITX_E_BAD_KEY);
    assert_non_null(strstr(err, "line 1"));
    snprintf(text, sizeof(text), "host:1 %s extra\n", at);
    assert_int_equal(known_find_text(text, strlen(text), "host:1", got, err, sizeof(err)),
                     SITX_E_MALFORMED);
}

static void test_known_file_roundtrip(void **state)
{
    char *dir = tu_mkdtemp();
    char path[512];
    uint8_t a[SITX_KEY_BYTES];
    uint8_t b[SITX_KEY_BYTES];
    uint8_t got[SITX_KEY_BYTES];
    char at[SITX_PUBKEY_TEXT_LEN + 1];
    char label[64];
    char err[128];
    struct stat st;

    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/known", dir);
    make_key(a, at, 3);
    make_key(b, at, 4);
    /* A missing file knows nobody. */
    assert_int_equal(known_find(path, "h:1", got, err, sizeof(err)), 0);
    known_label("::1", 7717, label, sizeof(label));
    assert_string_equal(label, "[::1]:7717");
    assert_int_equal(known_add(path, label, a), 0);
    known_label("10.0.0.2", 80, label, sizeof(label));
    assert_string_equal(label, "10.0.0.2:80");
    assert_int_equal(known_add(path, label, b), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(known_find(path, "[::1]:7717", got, err, sizeof(err)), 1);
    assert_memory_equal(got, a, SITX_KEY_BYTES);
    assert_int_equal(known_find(path, "10.0.0.2:80", got, err, sizeof(err)), 1);
    assert_memory_equal(got, b, SITX_KEY_BYTES);
    assert_int_equal(known_find(path, "10.0.0.2:81", got, err, sizeof(err)), 0);
    tu_rmrf(dir);
    free(dir);
}

/* Formats ir through a report whose output goes to a temporary file. */
static char *print_report(int json, int quiet, const struct image_report *ir)
{
    struct report r;
    FILE *f = tmpfile();
    char *buf = calloc(1, 4096);
    size_t n;

    assert_non_null(f);
    assert_non_null(buf);
    report_init(&r, f, stderr, json, quiet, 0);
    assert_int_equal(report_image(&r, ir), 0);
    rewind(f);
    n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void base_report(struct image_report *ir, uint8_t *hash)
{
    memset(ir, 0, sizeof(*ir));
    memset(hash, 0xab, SITX_CONTENT_HASH_BYTES);
    ir->file = "photos/photo.jpg";
    ir->hash = hash;
    ir->format = "JPEG";
    ir->file_size = 2200000;
    ir->attempts = 1;
}

static void test_report_human(void **state)
{
    struct image_report ir;
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    char *s;

    (void)state;
    base_report(&ir, hash);
    ir.outcome = OUTCOME_STORED;
    ir.status = "OK";
    ir.stored_as = "photo.jpg";
    ir.size = 2100000;
    ir.ms = 37;
    s = print_report(0, 0, &ir);
    assert_string_equal(s, "photos/photo.jpg: stored as photo.jpg (2.1 MB, 37 ms)\n");
    free(s);
    s = print_report(0, 1, &ir); /* --quiet: successes are not listed */
    assert_string_equal(s, "");
    free(s);

    ir.outcome = OUTCOME_ALREADY;
    ir.status = "ALREADY_STORED";
    s = print_report(0, 0, &ir);
    assert_string_equal(s, "photos/photo.jpg: already stored as photo.jpg\n");
    free(s);

    ir.outcome = OUTCOME_REFUSED;
    ir.status = "TOO_LARGE";
    ir.stored_as = NULL;
    ir.error = "image over 64 MiB";
    s = print_report(0, 1, &ir); /* failures still are, even with --quiet */
    assert_string_equal(s, "photos/photo.jpg: refused: TOO_LARGE: image over 64 MiB\n");
    free(s);
    ir.error = NULL;
    s = print_report(0, 0, &ir);
    assert_string_equal(s, "photos/photo.jpg: refused: TOO_LARGE\n");
    free(s);

    ir.outcome = OUTCOME_FAILED;
    ir.status = "TIMEOUT";
    ir.attempts = 4;
    ir.error = "deadline passed";
    s = print_report(0, 0, &ir);
    assert_string_equal(s, "photos/photo.jpg: failed after 4 attempts: TIMEOUT: deadline passed\n");
    free(s);

    ir.outcome = OUTCOME_NETWORK;
    ir.status = "NETWORK_ERROR";
    ir.attempts = 1;
    ir.error = "cannot connect to 127.0.0.1:9: connection refused";
    s = print_report(0, 0, &ir);
    assert_string_equal(s, "photos/photo.jpg: failed after 1 attempt: NETWORK_ERROR: cannot "
                           "connect to 127.0.0.1:9: connection refused\n");
    free(s);

    ir.outcome = OUTCOME_LOCAL;
    ir.status = "LOCAL_ERROR";
    ir.file = "notes.txt";
    ir.error = "not a PNG or JPEG image";
    s = print_report(0, 0, &ir);
    assert_string_equal(s, "notes.txt: not sent: not a PNG or JPEG image\n");
    free(s);

    ir.outcome = OUTCOME_AUTH;
    ir.status = "AUTH_FAILED";
    ir.error = "wrong password";
    s = print_report(0, 0, &ir);
    assert_string_equal(s, "notes.txt: not sent: AUTH_FAILED: wrong password\n");
    free(s);
}

static void test_report_json(void **state)
{
    struct image_report ir;
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    char *s;
    cJSON *j;
    char want_hash[65];
    size_t i;

    (void)state;
    for (i = 0; i < 32; i++) {
        snprintf(want_hash + 2 * i, 3, "ab");
    }
    base_report(&ir, hash);
    ir.file = "dir/\"quoted\"\n.jpg";
    ir.outcome = OUTCOME_STORED;
    ir.status = "OK";
    ir.stored_as = "quoted_.jpg";
    ir.size = 2100000;
    ir.bytes_sent = 2100000;
    ir.ms = 37;
    ir.receiver_ms = 12;
    s = print_report(1, 1, &ir); /* --quiet does not hide JSON lines */
    assert_non_null(strchr(s, '\n'));
    assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1); /* exactly one line */
    j = cJSON_Parse(s);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "file")->valuestring, "dir/\"quoted\"\n.jpg");
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "OK");
    assert_string_equal(cJSON_GetObjectItem(j, "stored_as")->valuestring, "quoted_.jpg");
    assert_int_equal(cJSON_GetObjectItem(j, "bytes_sent")->valuedouble, 2100000);
    assert_int_equal(cJSON_GetObjectItem(j, "attempts")->valuedouble, 1);
    assert_int_equal(cJSON_GetObjectItem(j, "ms")->valuedouble, 37);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "error")));
    assert_string_equal(cJSON_GetObjectItem(j, "hash")->valuestring, want_hash);
    assert_string_equal(cJSON_GetObjectItem(j, "format")->valuestring, "JPEG");
    cJSON_Delete(j);
    free(s);

    ir.outcome = OUTCOME_LOCAL;
    ir.status = "LOCAL_ERROR";
    ir.stored_as = NULL;
    ir.hash = NULL;
    ir.format = NULL;
    ir.error = "not a PNG or JPEG image";
    ir.attempts = 0;
    s = print_report(1, 0, &ir);
    j = cJSON_Parse(s);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "LOCAL_ERROR");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "stored_as")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "hash")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "format")));
    assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, "not a PNG or JPEG image");
    assert_int_equal(cJSON_GetObjectItem(j, "attempts")->valuedouble, 0);
    cJSON_Delete(j);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_priority),        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_retry_connect_schedule), cmocka_unit_test(test_retry_summary),
        cmocka_unit_test(test_parse_compress),       cmocka_unit_test(test_offer_name),
        cmocka_unit_test(test_offer_path),           cmocka_unit_test(test_summary_format),
        cmocka_unit_test(test_human_size),           cmocka_unit_test(test_known_parse),
        cmocka_unit_test(test_known_file_roundtrip), cmocka_unit_test(test_report_human),
        cmocka_unit_test(test_report_json),
    };

    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
