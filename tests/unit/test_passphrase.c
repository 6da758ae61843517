/* Passphrases from a file, the environment and a no-echo terminal prompt
 * (on a pseudo-terminal), and Argon2id derivation against vectors computed
 * with the reference libargon2. */
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
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "passphrase.h"
#include "testutil.h"

struct fixture {
    char *dir;
    char path[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || sodium_init() < 0) {
        free(f);
        return -1;
    }
    f->dir = tu_mkdtemp();
    if (f->dir == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/pw", f->dir);
    unsetenv("SITX_PASSWORD");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unsetenv("SITX_PASSWORD");
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void put_file(const char *path, const void *data, size_t len, int mode)
{
    unlink(path);
    assert_int_equal(tu_write_file(path, data, len, mode), 0);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

struct file_case {
    const char *content;
    size_t len;
    int rc;
    const char *want;
    size_t want_len;
};

static void test_from_file(void **state)
{
    struct fixture *f = *state;
    /* clang-format off */
    static const struct file_case cases[] = {
        {"secret\n", 7, 0, "secret", 6},
        {"secret", 6, 0, "secret", 6},
        {"secret\r\n", 8, 0, "secret", 6},
        /* One trailing LF or CRLF goes; any other CR or LF refuses the file. */
        {"secret\n\n", 8, SITX_E_MALFORMED, NULL, 0},
        {"secret\nsecond line\n", 19, SITX_E_MALFORMED, NULL, 0},
        {"secret\nsecond line", 18, SITX_E_MALFORMED, NULL, 0},
        {"secret\r", 7, SITX_E_MALFORMED, NULL, 0},
        {"sec\rret\n", 9, SITX_E_MALFORMED, NULL, 0},
        {"secret\r\r\n", 9, SITX_E_MALFORMED, NULL, 0},
        {"secret\n\r\n", 9, SITX_E_MALFORMED, NULL, 0},
        {"\nsecret", 7, SITX_E_MALFORMED, NULL, 0},
        {"\n\n", 2, SITX_E_MALFORMED, NULL, 0},
        {"  spaced  \n", 11, 0, "  spaced  ", 10},
        {"a\0b\n", 4, 0, "a\0b", 3},
        {"\n", 1, SITX_E_INVALID, NULL, 0},
        {"\r\n", 2, SITX_E_INVALID, NULL, 0},
        {"", 0, SITX_E_INVALID, NULL, 0},
    };
    /* clang-format on */

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sitx_passphrase pw = {0};
        int rc;

        put_file(f->path, cases[i].content, cases[i].len, 0600);
        rc = sitx_passphrase_read(f->path, 0, NULL, &pw);
        if (rc != cases[i].rc) {
            fail_msg("case %zu: rc %d want %d", i, rc, cases[i].rc);
        }
        if (rc == 0) {
            assert_int_equal(pw.len, cases[i].want_len);
            assert_memory_equal(pw.text, cases[i].want, pw.len);
            assert_int_equal(pw.text[pw.len], '\0');
        } else {
            assert_null(pw.text);
        }
        sitx_passphrase_clear(&pw);
        assert_null(pw.text);
        assert_int_equal(pw.len, 0);
    }
}

/* The messages the programs print for each refusal name the rule. */
static void test_strerror(void **state)
{
    (void)state;
    assert_non_null(strstr(sitx_passphrase_strerror(SITX_E_MALFORMED), "more than one line"));
    assert_non_null(strstr(sitx_passphrase_strerror(SITX_E_TOO_LARGE), "1024 bytes"));
    assert_non_null(strstr(sitx_passphrase_strerror(SITX_E_INVALID), "empty"));
    assert_string_equal(sitx_passphrase_strerror(SITX_E_PERMS), sitx_strerror(SITX_E_PERMS));
}

static void test_file_permissions(void **state)
{
    struct fixture *f = *state;
    static const int bad[] = {0640, 0604, 0644, 0660, 0606};
    struct sitx_passphrase pw = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put_file(f->path, "secret\n", 7, bad[i]);
        assert_int_equal(sitx_passphrase_read(f->path, 0, NULL, &pw), SITX_E_PERMS);
        assert_null(pw.text);
    }
    put_file(f->path, "secret\n", 7, 0400);
    assert_int_equal(sitx_passphrase_read(f->path, 0, NULL, &pw), 0);
    sitx_passphrase_clear(&pw);

    snprintf(f->path, sizeof(f->path), "%s/missing", f->dir);
    assert_int_equal(sitx_passphrase_read(f->path, 0, NULL, &pw), -ENOENT);
    assert_int_equal(sitx_passphrase_read(f->dir, 0, NULL, &pw), -EISDIR);
}

/* The file's identity comes with its passphrase (the sender's key cache is
 * keyed by it); an edit changes it; a passphrase from elsewhere has none. */
static void test_file_identity(void **state)
{
    struct fixture *f = *state;
    struct sitx_passphrase pw = {0};
    struct sitx_file_id first;
    struct stat sb;

    put_file(f->path, "secret\n", 7, 0600);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sitx_passphrase_read(f->path, 0, NULL, &pw), 0);
    assert_int_equal(pw.id.valid, 1);
    assert_int_equal(pw.id.ino, (uint64_t)sb.st_ino);
    assert_int_equal(pw.id.dev, (uint64_t)sb.st_dev);
    assert_int_equal(pw.id.size, 7);
    assert_int_equal(pw.id.mtime_ns, (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec);
    assert_int_equal(pw.id.ctime_ns, (int64_t)sb.st_ctim.tv_sec * 1000000000 + sb.st_ctim.tv_nsec);
    first = pw.id;
    sitx_passphrase_clear(&pw);
    assert_int_equal(pw.id.valid, 0);

    /* The same bytes written again: another file as far as the id goes. */
    put_file(f->path, "secret\n", 7, 0600);
    {
        struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 5},
                                 {.tv_sec = 1000000000, .tv_nsec = 5}};

        assert_int_equal(utimensat(AT_FDCWD, f->path, ts, 0), 0);
    }
    assert_int_equal(sitx_passphrase_read(f->path, 0, NULL, &pw), 0);
    assert_true(pw.id.mtime_ns != first.mtime_ns);
    sitx_passphrase_clear(&pw);

    assert_int_equal(setenv("SITX_PASSWORD", "from the environment", 1), 0);
    assert_int_equal(sitx_passphrase_read(NULL, 0, NULL, &pw), 0);
    assert_int_equal(pw.id.valid, 0);
    sitx_passphrase_clear(&pw);
    assert_int_equal(unsetenv("SITX_PASSWORD"), 0);
}

static void test_file_length_limit(void **state)
{
    struct fixture *f = *state;
    char buf[SITX_PASSPHRASE_MAX + 8];
    struct sitx_passphrase pw = {0};

    memset(buf, 'x', sizeof(buf));
    buf[SITX_PASSPHRASE_MAX] = '\r';
    buf[SITX_PASSPHRASE_MAX + 1] = '\n';
    put_file(f->path, buf, SITX_PASSPHRASE_MAX + 2, 0600);
    assert_int_equal(sitx_passphrase_read(f->path, 0, NULL, &pw), 0);
    assert_int_equal(pw.len, SITX_PASSPHRASE_MAX);
    sitx_passphrase_clear(&pw);

    buf[SITX_PASSPHRASE_MAX] = 'x';
    buf[SITX_PASSPHRASE_MAX + 1] = '\n';
    put_file(f->path, buf, SITX_PASSPHRASE_MAX + 2, 0600);
    assert_int_equal(sitx_passphrase_read(f->path, 0, NULL, &pw), SITX_E_TOO_LARGE);
    assert_null(pw.text);
    put_file(f->path, buf, SITX_PASSPHRASE_MAX + 1, 0600);
    assert_int_equal(sitx_passphrase_read(f->path, 0, NULL, &pw), SITX_E_TOO_LARGE);
    put_file(f->path, buf, SITX_PASSPHRASE_MAX + 5, 0600);
    assert_int_equal(sitx_passphrase_read(f->path, 0, NULL, &pw), SITX_E_TOO_LARGE);
}

static void test_from_env_and_order(void **state)
{
    struct fixture *f = *state;
    struct sitx_passphrase pw = {0};
    char big[SITX_PASSPHRASE_MAX + 2];

    assert_int_equal(setenv("SITX_PASSWORD", "from env\n", 1), 0);
    assert_int_equal(sitx_passphrase_read(NULL, 0, NULL, &pw), 0);
    /* The environment's value is taken as it is. */
    assert_int_equal(pw.len, 9);
    assert_string_equal(pw.text, "from env\n");
    sitx_passphrase_clear(&pw);

    /* A file, when given, wins over the environment. */
    put_file(f->path, "from file\n", 10, 0600);
    assert_int_equal(sitx_passphrase_read(f->path, 1, NULL, &pw), 0);
    assert_string_equal(pw.text, "from file");
    sitx_passphrase_clear(&pw);

    assert_int_equal(setenv("SITX_PASSWORD", "", 1), 0);
    assert_int_equal(sitx_passphrase_read(NULL, 0, NULL, &pw), SITX_E_INVALID);
    assert_null(pw.text);

    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(setenv("SITX_PASSWORD", big, 1), 0);
    assert_int_equal(sitx_passphrase_read(NULL, 0, NULL, &pw), SITX_E_TOO_LARGE);
    big[SITX_PASSPHRASE_MAX] = '\0';
    assert_int_equal(setenv("SITX_PASSWORD", big, 1), 0);
    assert_int_equal(sitx_passphrase_read(NULL, 0, NULL, &pw), 0);
    assert_int_equal(pw.len, SITX_PASSPHRASE_MAX);
    sitx_passphrase_clear(&pw);

    /* No file, no environment, no prompt allowed. */
    unsetenv("SITX_PASSWORD");
    assert_int_equal(sitx_passphrase_read(NULL, 0, NULL, &pw), SITX_E_INVALID);
    sitx_passphrase_clear(NULL);
}

/* Reads from fd until needle has been seen or the fd closes (needle NULL);
 * appends what it read to acc. The poll timeout only guards against a hang. */
static int read_until(int fd, char *acc, size_t cap, size_t *len, const char *needle)
{
    while (needle == NULL || strstr(acc, needle) == NULL) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, 60000) <= 0) {
            return -1;
        }
        r = read(fd, acc + *len, cap - 1 - *len);
        if (r <= 0) {
            return needle == NULL ? 0 : -1; /* EIO once the slave side is gone */
        }
        *len += (size_t)r;
        acc[*len] = '\0';
    }
    return 0;
}

struct prompt_child {
    pid_t pid;
    int master;
    int slave;  /* the parent's own handle, to inspect the terminal afterwards */
    int result; /* pipe: the child's rc and passphrase */
};

/* Starts a child in a new session whose controlling terminal is a fresh pty,
 * and that reads a passphrase with the prompt "PW: ". */
static void start_prompt_child(struct prompt_child *c)
{
    int pipefd[2];
    char *name;

    c->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (c->master < 0) {
        skip(); /* no pseudo-terminals here (no devpts in the sandbox) */
    }
    assert_int_equal(grantpt(c->master), 0);
    assert_int_equal(unlockpt(c->master), 0);
    name = ptsname(c->master);
    assert_non_null(name);
    c->slave = open(name, O_RDWR | O_NOCTTY);
    assert_true(c->slave >= 0);
    assert_int_equal(pipe(pipefd), 0);
    fflush(NULL);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        struct sitx_passphrase pw = {0};
        char out[SITX_PASSPHRASE_MAX + 32];
        int tty;
        int rc;
        int n;

        close(pipefd[0]);
        close(c->master);
        unsetenv("SITX_PASSWORD");
        /* A session leader that opens a tty gets it as controlling terminal. */
        if (setsid() < 0) {
            _exit(2);
        }
        tty = open(name, O_RDWR);
        if (tty < 0) {
            _exit(3);
        }
        rc = sitx_passphrase_read(NULL, 1, "PW: ", &pw);
        n = snprintf(out, sizeof(out), "%d:%s", rc, rc == 0 ? pw.text : "");
        if (write(pipefd[1], out, (size_t)n) != n) {
            _exit(4);
        }
        sitx_passphrase_clear(&pw);
        _exit(0);
    }
    close(pipefd[1]);
    c->result = pipefd[0];
}

static void test_prompt_on_tty(void **state)
{
    struct prompt_child c;
    struct termios t;
    char seen[4096] = "";
    char result[2048] = "";
    size_t seen_len = 0;
    size_t result_len = 0;
    int status = 0;

    (void)state;
    start_prompt_child(&c);
    /* The prompt is written after echo goes off; only then type. */
    assert_int_equal(read_until(c.master, seen, sizeof(seen), &seen_len, "PW: "), 0);
    assert_int_equal(tcgetattr(c.slave, &t), 0);
    assert_int_equal(t.c_lflag & ECHO, 0);
    assert_int_equal(write(c.master, "tty s3cret\n", 11), 11);
    assert_int_equal(read_until(c.result, result, sizeof(result), &result_len, NULL), 0);
    assert_int_equal(waitpid(c.pid, &status, 0), c.pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(result, "0:tty s3cret");
    /* The rest of the terminal output (the child is gone, so it is all
     * there to read now): the secret never echoed. */
    for (;;) {
        struct pollfd pfd = {.fd = c.master, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, 0) <= 0) {
            break;
        }
        r = read(c.master, seen + seen_len, sizeof(seen) - 1 - seen_len);
        if (r <= 0) {
            break;
        }
        seen_len += (size_t)r;
        seen[seen_len] = '\0';
    }
    assert_non_null(strstr(seen, "PW: "));
    assert_null(strstr(seen, "s3cret"));
    /* Echo is back on. */
    assert_int_equal(tcgetattr(c.slave, &t), 0);
    assert_true((t.c_lflag & ECHO) != 0);
    close(c.master);
    close(c.slave);
    close(c.result);
}

static void test_prompt_empty_refused(void **state)
{
    struct prompt_child c;
    char seen[4096] = "";
    char result[2048] = "";
    size_t seen_len = 0;
    size_t result_len = 0;
    int status = 0;
    char want[32];

    (void)state;
    start_prompt_child(&c);
    assert_int_equal(read_until(c.master, seen, sizeof(seen), &seen_len, "PW: "), 0);
    assert_int_equal(write(c.master, "\n", 1), 1);
    assert_int_equal(read_until(c.result, result, sizeof(result), &result_len, NULL), 0);
    assert_int_equal(waitpid(c.pid, &status, 0), c.pid);
    snprintf(want, sizeof(want), "%d:", SITX_E_INVALID);
    assert_string_equal(result, want);
    close(c.master);
    close(c.slave);
    close(c.result);
}

static void test_prompt_sigint_restores_echo(void **state)
{
    struct prompt_child c;
    struct termios t;
    char seen[4096] = "";
    size_t seen_len = 0;
    int status = 0;

    (void)state;
    start_prompt_child(&c);
    assert_int_equal(read_until(c.master, seen, sizeof(seen), &seen_len, "PW: "), 0);
    assert_int_equal(tcgetattr(c.slave, &t), 0);
    assert_int_equal(t.c_lflag & ECHO, 0);
    assert_int_equal(kill(c.pid, SIGINT), 0);
    assert_int_equal(waitpid(c.pid, &status, 0), c.pid);
    /* It still dies of the signal, as the user asked... */
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGINT);
    /* ...but leaves the terminal echoing. */
    assert_int_equal(tcgetattr(c.slave, &t), 0);
    assert_true((t.c_lflag & ECHO) != 0);
    close(c.master);
    close(c.slave);
    close(c.result);
}

static void test_no_tty(void **state)
{
    pid_t pid;
    int status = 0;

    (void)state;
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sitx_passphrase pw = {0};
        int rc;

        unsetenv("SITX_PASSWORD");
        /* A new session has no controlling terminal: /dev/tty fails. */
        if (setsid() < 0) {
            _exit(2);
        }
        rc = sitx_passphrase_read(NULL, 1, NULL, &pw);
        _exit(rc == -ENXIO ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
    uint8_t *b = NULL;
    size_t len = 0;

    assert_int_equal(tu_hex_decode(hex, &b, &len), 0);
    assert_int_equal(len, n);
    memcpy(out, b, n);
    free(b);
}

static struct sitx_passphrase make_pw(const char *text)
{
    struct sitx_passphrase pw;

    pw.len = strlen(text);
    pw.text = sodium_malloc(pw.len + 1);
    assert_non_null(pw.text);
    memcpy(pw.text, text, pw.len + 1);
    return pw;
}

/* Computed with the reference implementation (libargon2 1.3,
 * argon2id_hash_raw, parallelism 1, 32-byte output), not with libsodium. */
static void test_derive_reference_vectors(void **state)
{
    struct sitx_passphrase pw = make_pw("correct horse battery staple");
    uint8_t salt[16];
    uint8_t want[32];
    uint8_t psk[32];

    (void)state;
    for (int i = 0; i < 16; i++) {
        salt[i] = (uint8_t)i;
    }
    hex_to("0d1a3c6523c8f06e4e0af9c515aa5b5448cfebd6838f2d52c3d8b6ef8ddc3c2e", want, 32);
    assert_int_equal(sitx_passphrase_derive(&pw, salt, 3, 65536, psk), 0);
    assert_memory_equal(psk, want, 32);
    sitx_passphrase_clear(&pw);

    pw = make_pw("sitx test passphrase");
    memcpy(salt, "sitx-salt-16byte", 16);
    hex_to("3acef14ea239d0384271fbf5236b35c64c987884eb6aab1e0e28f46825663ed4", want, 32);
    assert_int_equal(sitx_passphrase_derive(&pw, salt, 2, 8192, psk), 0);
    assert_memory_equal(psk, want, 32);
    sitx_passphrase_clear(&pw);
}

static void test_derive_matches_libsodium_argon2id(void **state)
{
    struct sitx_passphrase pw = make_pw("another passphrase \xc3\xa9");
    uint8_t salt[16];
    uint8_t want[32];
    uint8_t psk[32];
    uint8_t other[32];

    (void)state;
    randombytes_buf(salt, sizeof(salt));
    assert_int_equal(crypto_pwhash_argon2id(want, sizeof(want), pw.text, pw.len, salt, 2,
                                            16u * 1024 * 1024,
                                            crypto_pwhash_argon2id_ALG_ARGON2ID13),
                     0);
    assert_int_equal(sitx_passphrase_derive(&pw, salt, 2, 16 * 1024, psk), 0);
    assert_memory_equal(psk, want, 32);
    /* Each parameter matters. */
    salt[0] ^= 1;
    assert_int_equal(sitx_passphrase_derive(&pw, salt, 2, 16 * 1024, other), 0);
    assert_memory_not_equal(other, psk, 32);
    salt[0] ^= 1;
    assert_int_equal(sitx_passphrase_derive(&pw, salt, 3, 16 * 1024, other), 0);
    assert_memory_not_equal(other, psk, 32);
    assert_int_equal(sitx_passphrase_derive(&pw, salt, 2, 8 * 1024, other), 0);
    assert_memory_not_equal(other, psk, 32);
    sitx_passphrase_clear(&pw);
}

static void test_derive_bad_params(void **state)
{
    struct sitx_passphrase pw = make_pw("x");
    struct sitx_passphrase none = {0};
    uint8_t salt[16] = {0};
    uint8_t psk[32];

    (void)state;
    assert_int_equal(sitx_passphrase_derive(&pw, salt, 0, 8192, psk), SITX_E_INVALID);
    assert_int_equal(sitx_passphrase_derive(&pw, salt, 2, 1, psk), SITX_E_INVALID);
    assert_int_equal(sitx_passphrase_derive(&none, salt, 2, 8192, psk), SITX_E_INVALID);
    assert_int_equal(sitx_passphrase_derive(NULL, salt, 2, 8192, psk), SITX_E_INVALID);
    sitx_passphrase_clear(&pw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_from_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strerror, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_length_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_env_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prompt_on_tty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prompt_empty_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prompt_sigint_restores_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_tty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derive_reference_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derive_matches_libsodium_argon2id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derive_bad_params, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
