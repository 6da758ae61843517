/* sitx-send's run (send*.c, client*.c, prepare.c) against a scripted
 * receiver on loopback (fake_receiver.c). The scripts make it do what a real one rarely does: a
 * receipt whose hash is wrong, a RESULT in the middle of DATA, a refusal at
 * OFFER, a refused handshake, an unauthorised key. Each case asserts the
 * exit code, the JSON line per image, and what the receiver saw on the wire
 * (DATA kept in step, CLOSE DONE at the end, no message 3 to an impostor). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <sodium.h>

#include "err.h"
#include "fake_receiver.h"
#include "greeting.h"
#include "keyfile.h"
#include "known.h"
#include "log.h"
#include "msg.h"
#include "passphrase.h"
#include "record.h"
#include "report.h"
#include "send.h"

static struct sitx_keypair sender_kp;
static struct sitx_passphrase password;

static struct fake *fake_start_ok(enum sitx_auth_mode mode, enum script script)
{
    struct fake *f = fake_start(mode, script, &password);

    assert_non_null(f);
    return f;
}

/* The sender's --timeout when not 0; the cannot-connect case sets one it
 * waits out on purpose. */
static uint64_t flow_timeout_ms;

struct run {
    int rc;
    char out[8192]; /* the JSON lines */
};

/* Runs sitx-send's whole run against port with the given images. */
static void run_send(uint16_t port, enum sitx_auth_mode mode, const uint8_t *pin, const char *known,
                     char **files, size_t n, unsigned retries, struct run *r)
{
    struct send_config cfg;
    struct report rep;
    FILE *out = tmpfile();
    size_t got;

    assert_non_null(out);
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.host, sizeof(cfg.host), "127.0.0.1");
    cfg.port = port;
    known_label(cfg.host, port, cfg.label, sizeof(cfg.label));
    cfg.mode = mode;
    cfg.kp = &sender_kp;
    cfg.receiver_pk = pin;
    cfg.known_path = known;
    cfg.pw = &password;
    cfg.image.mode = SITX_COMPRESS_NONE;
    sitx_image_limits_default(&cfg.limits);
    cfg.retries = retries;
    /* Silence that must not end a connection: stretched under valgrind. */
    cfg.timeout_ms = flow_timeout_ms != 0 ? flow_timeout_ms : tu_scaled_ms(5000);
    cfg.files = files;
    cfg.nfiles = n;
    report_init(&rep, out, stderr, 1, 1, 0);
    r->rc = send_run(&cfg, &rep);
    rewind(out);
    got = fread(r->out, 1, sizeof(r->out) - 1, out);
    r->out[got] = '\0';
    fclose(out);
}

/* The JSON line for file, or fails the test. */
static const char *line_of(const struct run *r, const char *file)
{
    char key[512];
    const char *p;
    int n = snprintf(key, sizeof(key), "{\"file\":\"%s\"", file);

    if (n < 0 || (size_t)n >= sizeof(key)) {
        fail_msg("file name too long for the test: %s", file);
    }
    p = strstr(r->out, key);
    if (p == NULL) {
        fail_msg("no line for %s in:\n%s", file, r->out);
    }
    return p;
}

static void assert_field(const struct run *r, const char *file, const char *field)
{
    const char *line = line_of(r, file);
    const char *end = strchr(line, '\n');
    const char *hit = strstr(line, field);

    if (hit == NULL || (end != NULL && hit > end)) {
        fail_msg("%s: no %s in %s", file, field, r->out);
    }
}

/* A new empty file under $TMPDIR (or /tmp) named after the process, opened
 * with O_EXCL; returns its descriptor or -1. */
static int make_temp(char *path, size_t cap, const char *what)
{
    const char *dir = getenv("TMPDIR");
    static unsigned seq;

    snprintf(path, cap, "%s/sitx-flow-%ld-%u-%s", dir != NULL ? dir : "/tmp", (long)getpid(), seq++,
             what);
    return open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

static char png_a[512];
static char png_b[512];
static char not_image[512];

static void test_key_mode_ok_and_close_done(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_OK);
    char *files[] = {png_a, png_b, not_image};
    struct run r;

    (void)state;
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 3, 1, &r);
    assert_int_equal(r.rc, SEND_EXIT_LOCAL); /* the text file; the images went */
    assert_field(&r, png_a, "\"status\":\"OK\"");
    assert_field(&r, png_a, "\"stored_as\":\"stored-basn2c08.png\"");
    assert_field(&r, png_b, "\"status\":\"OK\"");
    assert_field(&r, png_b, "\"attempts\":1");
    assert_field(&r, not_image, "\"status\":\"LOCAL_ERROR\"");
    assert_field(&r, not_image, "\"error\":\"not a PNG or JPEG image\"");
    fake_stop(f);
    fake_free(f);
}

static void test_ok_counts(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_OK);
    char *files[] = {png_a, png_b};
    struct run r;
    int stored;
    int close_done;
    int conns;

    (void)state;
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 2, 1, &r);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    fake_stop(f);
    stored = f->stored;
    close_done = f->close_done;
    conns = f->conns;
    fake_free(f);
    assert_int_equal(stored, 2);
    assert_int_equal(conns, 1);
    /* The run ends with CLOSE DONE once the last RESULT is in. */
    assert_int_equal(close_done, 1);
}

static void test_bad_receipt_is_retried(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_BAD_RECEIPT);
    char *files[] = {png_a};
    struct run r;

    (void)state;
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 1, 2, &r);
    fake_stop(f);
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    assert_field(&r, png_a, "\"status\":\"OK\"");
    assert_field(&r, png_a, "\"attempts\":2");

    /* Without retries the wrong receipt is the outcome: INTEGRITY, exit 1. */
    f = fake_start_ok(SITX_AUTH_KEY, SC_BAD_RECEIPT);
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 1, 0, &r);
    fake_stop(f);
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_REFUSED);
    assert_field(&r, png_a, "\"status\":\"INTEGRITY\"");
}

/* Version 2 resume: the sender trusts no offset. A prefix hash that is not
 * its own is withdrawn (CANCEL LOCAL) and the image offered again at once,
 * not counted as an attempt, and sent whole; an offset past the image is a
 * violation, and the retry sends it whole. */
static void test_resume_is_proven(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_RESUME_WRONG);
    char *files[] = {png_a};
    struct run r;

    (void)state;
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 1, 0, &r);
    fake_stop(f);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    assert_field(&r, png_a, "\"status\":\"OK\"");
    assert_field(&r, png_a, "\"attempts\":1");
    assert_null(strstr(r.out, "resumed_from"));
    assert_int_equal(f->cancels_local, 1);
    assert_int_equal(f->offers, 2);
    assert_int_equal(f->stored, 1);
    fake_free(f);

    f = fake_start_ok(SITX_AUTH_KEY, SC_RESUME_PAST_END);
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 1, 1, &r);
    fake_stop(f);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    assert_field(&r, png_a, "\"status\":\"OK\"");
    assert_field(&r, png_a, "\"attempts\":2");
    assert_int_equal(f->close_protocol, 1);
    assert_int_equal(f->stored, 1);
    fake_free(f);
}

static void test_early_result_keeps_stream_in_step(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_EARLY_TIMEOUT);
    char *files[] = {png_a};
    struct run r;
    int ends_after;
    int stored;

    (void)state;
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 1, 1, &r);
    fake_stop(f);
    ends_after = f->ends_after_result;
    stored = f->stored;
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    assert_field(&r, png_a, "\"attempts\":2");
    /* The first attempt still ran to its END before the retry's OFFER. */
    assert_int_equal(ends_after, 1);
    assert_int_equal(stored, 1);

    f = fake_start_ok(SITX_AUTH_KEY, SC_EARLY_TIMEOUT);
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 1, 0, &r);
    fake_stop(f);
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_REFUSED);
    assert_field(&r, png_a, "\"status\":\"TIMEOUT\"");
    assert_field(&r, png_a, "\"error\":\"deadline passed\"");
}

static void test_refused_at_offer(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_TOO_LARGE);
    char *files[] = {png_a, png_b};
    struct run r;

    (void)state;
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 2, 3, &r);
    fake_stop(f);
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_REFUSED);
    assert_field(&r, png_a, "\"status\":\"TOO_LARGE\"");
    assert_field(&r, png_a, "\"attempts\":1"); /* never retried */
    assert_field(&r, png_a, "\"bytes_sent\":0");
    assert_field(&r, png_b, "\"error\":\"over the test limit\"");

    f = fake_start_ok(SITX_AUTH_KEY, SC_ALREADY);
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 2, 3, &r);
    fake_stop(f);
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    assert_field(&r, png_b, "\"status\":\"ALREADY_STORED\"");
    assert_field(&r, png_b, "\"bytes_sent\":0");
}

static void test_pin_mismatch_sends_no_message_3(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_OK);
    char *files[] = {png_a};
    uint8_t wrong[SITX_KEY_BYTES];
    struct run r;
    int split;

    (void)state;
    memcpy(wrong, f->kp.pk, sizeof(wrong));
    wrong[5] ^= 1;
    run_send(f->port, SITX_AUTH_KEY, wrong, NULL, files, 1, 3, &r);
    fake_stop(f);
    split = f->split;
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_AUTH);
    assert_field(&r, png_a, "\"status\":\"AUTH_FAILED\"");
    assert_field(&r, png_a, "receiver key mismatch");
    assert_int_equal(split, 0);
}

static void test_tofu_records_and_pins(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_ALREADY);
    char *files[] = {png_a};
    char path[128];
    int fd = make_temp(path, sizeof(path), "known");
    uint8_t got[SITX_KEY_BYTES];
    char label[64];
    char err[128];
    struct run r;

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    run_send(f->port, SITX_AUTH_KEY, NULL, path, files, 1, 0, &r);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    known_label("127.0.0.1", f->port, label, sizeof(label));
    assert_int_equal(known_find(path, label, got, err, sizeof(err)), 1);
    fake_stop(f);
    assert_memory_equal(got, f->kp.pk, SITX_KEY_BYTES);
    fake_free(f);
    unlink(path);
}

static void test_auth_refusals(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_UNAUTHORIZED);
    char *files[] = {png_a, png_b};
    struct run r;
    int conns;
    int hello_v2;

    (void)state;
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 2, 3, &r);
    fake_stop(f);
    conns = f->conns;
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_AUTH);
    assert_field(&r, png_b, "\"status\":\"AUTH_FAILED\"");
    assert_field(&r, png_b, "does not authorise this sender");
    assert_int_equal(conns, 1); /* authentication failures are not retried */

    f = fake_start_ok(SITX_AUTH_PASSWORD, SC_REFUSE_HS);
    run_send(f->port, SITX_AUTH_PASSWORD, NULL, NULL, files, 2, 3, &r);
    fake_stop(f);
    conns = f->conns;
    hello_v2 = f->hello_v2;
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_AUTH);
    assert_field(&r, png_a, "wrong password or this sender is not authorised");
    /* A refused version 2 HELLO may be an older receiver: once more with
     * version 1, whose refusal is final (PROTOCOL.md §3). */
    assert_int_equal(conns, 2);
    assert_int_equal(hello_v2, 1);
}

/* A receiver that answers version 2 with the version frame [1]: the next
 * connection asks for version 1, and every later one too. */
static void test_version_frame(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_V1_ONLY);
    char *files[] = {png_a, png_b};
    struct run r;
    int hello_v2;
    int stored;

    (void)state;
    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, 2, 1, &r);
    fake_stop(f);
    hello_v2 = f->hello_v2;
    stored = f->stored;
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    assert_int_equal(stored, 2);
    assert_int_equal(hello_v2, 1);
    assert_field(&r, png_a, "\"status\":\"OK\"");
    assert_field(&r, png_b, "\"status\":\"OK\"");
}

/* n images to a fresh fake receiver: the connections it saw. */
static int connections_for(int n)
{
    struct fake *f = fake_start_ok(SITX_AUTH_KEY, SC_OK);
    char *files[] = {png_a, png_b, png_a, png_b, png_a, png_b};
    struct run r;
    int conns;
    int stored;
    int close_done;
    int split;

    run_send(f->port, SITX_AUTH_KEY, f->kp.pk, NULL, files, n, 0, &r);
    fake_stop(f);
    conns = f->conns;
    stored = f->stored;
    close_done = f->close_done;
    split = f->split;
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    assert_int_equal(stored, n); /* each image stored once */
    /* Every connection that got through the handshake ends with CLOSE DONE
     * (a later one may still be shaking hands when the last RESULT is in). */
    assert_int_equal(close_done, split);
    return conns;
}

static void test_extra_connections(void **state)
{
    (void)state;
    /* A second connection from 4 images left, a third from 6. */
    assert_int_equal(connections_for(3), 1);
    assert_int_equal(connections_for(5), 2);
    assert_int_equal(connections_for(6), 3);
}

static void test_password_mode_ok(void **state)
{
    struct fake *f = fake_start_ok(SITX_AUTH_PASSWORD, SC_OK);
    char *files[] = {png_a, png_b};
    struct run r;

    (void)state;
    run_send(f->port, SITX_AUTH_PASSWORD, NULL, NULL, files, 2, 0, &r);
    fake_stop(f);
    fake_free(f);
    assert_int_equal(r.rc, SEND_EXIT_OK);
    assert_field(&r, png_a, "\"status\":\"OK\"");
    assert_field(&r, png_b, "\"status\":\"OK\"");
}

static void test_cannot_connect(void **state)
{
    uint16_t port;
    int fd = fake_listen_any(&port);
    char *files[] = {png_a};
    struct run r;

    (void)state;
    assert_true(fd >= 0);
    close(fd); /* nothing listens there now */
    /* Refused connections are tried again until --timeout, whatever --retries
     * says: 0.5 s, 1 s, then what is left of 2 s. */
    flow_timeout_ms = 2000;
    run_send(port, SITX_AUTH_KEY, sender_kp.pk, NULL, files, 1, 1, &r);
    flow_timeout_ms = 0;
    assert_int_equal(r.rc, SEND_EXIT_NETWORK);
    assert_field(&r, png_a, "\"status\":\"NETWORK_ERROR\"");
    assert_field(&r, png_a, "receiver refusing connections: cannot connect");
    assert_field(&r, png_a, " attempts over 2.");
    /* 4 when each refusal is quick; at least 3 on a slow machine (valgrind),
     * where --retries 1 alone would have stopped at 2. */
    {
        const char *a = strstr(line_of(&r, png_a), "\"attempts\":");

        assert_non_null(a);
        assert_true(atoi(a + strlen("\"attempts\":")) >= 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_mode_ok_and_close_done),
        cmocka_unit_test(test_ok_counts),
        cmocka_unit_test(test_bad_receipt_is_retried),
        cmocka_unit_test(test_early_result_keeps_stream_in_step),
        cmocka_unit_test(test_resume_is_proven),
        cmocka_unit_test(test_refused_at_offer),
        cmocka_unit_test(test_pin_mismatch_sends_no_message_3),
        cmocka_unit_test(test_tofu_records_and_pins),
        cmocka_unit_test(test_auth_refusals),
        cmocka_unit_test(test_version_frame),
        cmocka_unit_test(test_extra_connections),
        cmocka_unit_test(test_password_mode_ok),
        cmocka_unit_test(test_cannot_connect),
    };
    const char *corpus = tu_corpus_dir_or_skip();
    static char pw_text[] = "a test passphrase";
    char tmpl[128];
    int fd;
    int rc;

    snprintf(png_a, sizeof(png_a), "%s/png/pngsuite/basn2c08.png", corpus);
    snprintf(png_b, sizeof(png_b), "%s/png/pngsuite/basn0g08.png", corpus);
    if (access(png_a, R_OK) != 0 || access(png_b, R_OK) != 0) {
        fprintf(stderr, "FAIL: corpus images missing under %s\n", corpus);
        return 1;
    }
    if (sodium_init() < 0) {
        return 1;
    }
    sitx_log_init("test_send_flow", SITX_LOG_TEXT, SITX_LOG_WARNING);
    fd = make_temp(tmpl, sizeof(tmpl), "text");
    if (fd < 0 || write(fd, "just some text\n", 15) != 15) {
        return 1;
    }
    close(fd);
    snprintf(not_image, sizeof(not_image), "%s", tmpl);
    password.text = pw_text;
    password.len = strlen(pw_text);
    if (sitx_keypair_generate(&sender_kp) != 0) {
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    sitx_keypair_clear(&sender_kp);
    unlink(tmpl);
    return rc;
}
