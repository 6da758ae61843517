/* Progress bar: exact output on a pseudo-terminal (redraw limit, the 100%
 * frame, rates, padding, clear), and silence on a pipe or when disabled.
 * Times are passed in, so nothing here depends on the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "progress.h"

#define END_MARK "<END>"

struct pty {
    int master;
    FILE *out; /* the slave side, as the program would get it */
};

static int setup(void **state)
{
    struct pty *p = calloc(1, sizeof(*p));
    struct termios t;
    int slave;

    if (p == NULL) {
        return -1;
    }
    p->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (p->master < 0) {
        /* No pseudo-terminals here (no devpts): the tty tests skip. */
        free(p);
        *state = NULL;
        return 0;
    }
    if (grantpt(p->master) != 0 || unlockpt(p->master) != 0) {
        return -1;
    }
    slave = open(ptsname(p->master), O_RDWR | O_NOCTTY);
    if (slave < 0 || tcgetattr(slave, &t) != 0) {
        return -1;
    }
    /* Raw, so that the bytes read back are the bytes written. */
    cfmakeraw(&t);
    if (tcsetattr(slave, TCSANOW, &t) != 0) {
        return -1;
    }
    p->out = fdopen(slave, "w");
    if (p->out == NULL) {
        return -1;
    }
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct pty *p = *state;

    if (p == NULL) {
        return 0;
    }
    fclose(p->out);
    close(p->master);
    free(p);
    return 0;
}

/* Writes END_MARK after everything the code under test wrote, then reads the
 * terminal up to it: the transcript of exactly what was drawn. */
static char *transcript(struct pty *p)
{
    size_t cap = 8192;
    size_t len = 0;
    char *buf = calloc(1, cap);

    assert_non_null(buf);
    fputs(END_MARK, p->out);
    fflush(p->out);
    while (strstr(buf, END_MARK) == NULL) {
        struct pollfd pfd = {.fd = p->master, .events = POLLIN};
        ssize_t r;

        /* Only a guard against a hang. */
        assert_int_equal(poll(&pfd, 1, 30000), 1);
        r = read(p->master, buf + len, cap - 1 - len);
        assert_true(r > 0);
        len += (size_t)r;
        buf[len] = '\0';
    }
    *strstr(buf, END_MARK) = '\0';
    return buf;
}

static void test_frames_exact(void **state)
{
    struct pty *p = *state;
    struct sitx_progress pr;
    char *got;
    char want[1024];

    if (p == NULL) {
        skip();
    }
    sitx_progress_init(&pr, p->out, 1);
    assert_true(pr.enabled);
    sitx_progress_start(&pr, "img.png", 2000000, 0);
    sitx_progress_update(&pr, 500000, 50);    /* within 100 ms: not drawn */
    sitx_progress_update(&pr, 1000000, 1000); /* drawn: 50%, 1 MB in 1 s */
    sitx_progress_update(&pr, 1500000, 1050); /* not drawn */
    sitx_progress_update(&pr, 2000000, 1060); /* complete: drawn at once */
    sitx_progress_update(&pr, 2000000, 1070); /* complete again: not drawn */
    sitx_progress_clear(&pr);
    sitx_progress_clear(&pr); /* nothing on the line: no output */
    got = transcript(p);
    snprintf(want, sizeof(want),
             "\rimg.png  [....................]    0%%  "
             "\rimg.png  [##########..........]   50%%  1.0 MB/s"
             "\rimg.png  [####################]  100%%  1.9 MB/s"
             "\r%47s\r",
             "");
    assert_string_equal(got, want);
    free(got);
}

static void test_rates_and_padding(void **state)
{
    struct pty *p = *state;
    struct sitx_progress pr;
    char *got;
    char want[1024];

    if (p == NULL) {
        skip();
    }
    sitx_progress_init(&pr, p->out, 1);
    sitx_progress_start(&pr, "x", 1000000000000ull, 1000);
    sitx_progress_update(&pr, 5000000000ull, 2000);
    sitx_progress_update(&pr, 5000000500ull, 2100);
    sitx_progress_start(&pr, "y", 100000, 3000);
    sitx_progress_update(&pr, 2500, 4000);
    sitx_progress_update(&pr, 1400, 5000);
    got = transcript(p);
    /* A shorter frame is padded over the longer one before it. */
    snprintf(want, sizeof(want),
             "\rx  [....................]    0%%  "
             "\rx  [....................]    0%%  5.0 GB/s"
             "\rx  [....................]    0%%  4.5 GB/s"
             "\ry  [....................]    0%%  %8s"
             "\ry  [....................]    2%%  2.5 kB/s"
             "\ry  [....................]    1%%  700 B/s ",
             "");
    assert_string_equal(got, want);
    free(got);
}

static void test_label_cleaned_and_cut(void **state)
{
    struct pty *p = *state;
    struct sitx_progress pr;
    char label[128];
    char *got;
    size_t n = 0;

    if (p == NULL) {
        skip();
    }
    /* An escape sequence in a file name must not reach the terminal. */
    sitx_progress_init(&pr, p->out, 1);
    sitx_progress_start(&pr, "a\x1b[2Jb\x7f", 10, 0);
    got = transcript(p);
    assert_string_equal(got, "\ra?[2Jb?  [....................]    0%  ");
    free(got);

    /* 31 bytes of 'x' then "é": the 32-byte cut would split it. */
    memset(label, 'x', 31);
    n = 31;
    memcpy(label + n,
           "\xc3\xa9"
           "tail",
           7);
    sitx_progress_init(&pr, p->out, 1);
    sitx_progress_start(&pr, label, 10, 0);
    got = transcript(p);
    assert_int_equal(strncmp(got, "\r", 1), 0);
    assert_memory_equal(got + 1, label, 31);
    assert_string_equal(got + 32, "  [....................]    0%  ");
    free(got);
}

static void test_disabled_on_tty_is_silent(void **state)
{
    struct pty *p = *state;
    struct sitx_progress pr;
    char *got;

    if (p == NULL) {
        skip();
    }
    sitx_progress_init(&pr, p->out, 0);
    assert_false(pr.enabled);
    sitx_progress_start(&pr, "img.png", 100, 0);
    sitx_progress_update(&pr, 50, 500);
    sitx_progress_update(&pr, 100, 1000);
    sitx_progress_clear(&pr);
    /* The numbers are still kept for the caller. */
    assert_int_equal(pr.done, 100);
    got = transcript(p);
    assert_string_equal(got, "");
    free(got);
}

static void test_pipe_is_silent(void **state)
{
    struct sitx_progress pr;
    int fds[2];
    FILE *w;
    char buf[64];

    (void)state;
    assert_int_equal(pipe(fds), 0);
    w = fdopen(fds[1], "w");
    assert_non_null(w);
    sitx_progress_init(&pr, w, 1);
    assert_false(pr.enabled);
    sitx_progress_start(&pr, "img.png", 100, 0);
    sitx_progress_update(&pr, 100, 1000);
    sitx_progress_clear(&pr);
    fclose(w);
    /* Writer closed: read gives EOF at once, with nothing before it. */
    assert_int_equal(read(fds[0], buf, sizeof(buf)), 0);
    close(fds[0]);

    sitx_progress_init(&pr, NULL, 1);
    assert_false(pr.enabled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_frames_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rates_and_padding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_cleaned_and_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_on_tty_is_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_is_silent, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
