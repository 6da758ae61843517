#include "passphrase.h"
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "keyfile.h"
#include "secmem.h"

#define PASSPHRASE_ENV "SITX_PASSWORD"

/* The terminal state to put back if a signal arrives while echo is off. */
static volatile sig_atomic_t tty_saved_fd = -1;
static struct termios tty_saved;

static const int PROMPT_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define N_PROMPT_SIGNALS (sizeof(PROMPT_SIGNALS) / sizeof(PROMPT_SIGNALS[0]))

static void on_prompt_signal(int sig)
{
    int fd = tty_saved_fd;

    /* tcsetattr, signal and raise are async-signal-safe. */
    if (fd >= 0) {
        (void)tcsetattr(fd, TCSAFLUSH, &tty_saved);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads one line from the terminal fd into buf (cap bytes, NUL included),
 * reading to the end of the line even when it is too long. */
static int read_tty_line(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int too_long = 0;

    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0 || c == '\n') {
            break;
        }
        if (n + 1 < cap) {
            buf[n++] = c;
        } else {
            too_long = 1;
        }
        sodium_memzero(&c, sizeof(c));
    }
    buf[n] = '\0';
    *len = n;
    return too_long ? SITX_E_TOO_LARGE : 0;
}

static int read_prompt(const char *prompt, struct sitx_passphrase *pw)
{
    const size_t cap = SITX_PASSPHRASE_MAX + 2; /* one over the max, and the NUL */
    struct sigaction old_act[N_PROMPT_SIGNALS];
    struct sigaction act;
    struct termios noecho;
    char *buf = NULL;
    size_t len = 0;
    int installed = 0;
    int echo_off = 0;
    int fd;
    int rc;

    fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    buf = sitx_secret_alloc(cap);
    if (buf == NULL) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    if (tcgetattr(fd, &tty_saved) != 0) {
        rc = -errno;
        goto out;
    }
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_prompt_signal;
    sigemptyset(&act.sa_mask);
    for (size_t i = 0; i < N_PROMPT_SIGNALS; i++) {
        sigaction(PROMPT_SIGNALS[i], &act, &old_act[i]);
    }
    installed = 1;
    noecho = tty_saved;
    /* ECHONL still shows the Enter, so the next output starts on a new line. */
    noecho.c_lflag &= (tcflag_t)~ECHO;
    noecho.c_lflag |= ECHONL;
    tty_saved_fd = fd;
    if (tcsetattr(fd, TCSAFLUSH, &noecho) != 0) {
        rc = -errno;
        goto out;
    }
    echo_off = 1;
    rc = sitx_write_all(fd, prompt != NULL ? prompt : "Passphrase: ",
                        strlen(prompt != NULL ? prompt : "Passphrase: "), NULL);
    if (rc != 0) {
        goto out;
    }
    rc = read_tty_line(fd, buf, cap, &len);
    if (rc != 0) {
        goto out;
    }
    if (len > 0 && buf[len - 1] == '\r') {
        buf[--len] = '\0';
    }
    if (len > SITX_PASSPHRASE_MAX) {
        rc = SITX_E_TOO_LARGE;
        goto out;
    }
    pw->text = buf;
    pw->len = len;
    buf = NULL;
    rc = 0;
out:
    if (echo_off) {
        (void)tcsetattr(fd, TCSAFLUSH, &tty_saved);
    }
    tty_saved_fd = -1;
    if (installed) {
        for (size_t i = 0; i < N_PROMPT_SIGNALS; i++) {
            sigaction(PROMPT_SIGNALS[i], &old_act[i], NULL);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    sitx_secret_free(buf, cap);
    return rc;
}

/* The file rule (PROTOCOL.md §5.4): the file's bytes, less one trailing LF
 * or CRLF. Any other CR or LF means the file is not one line, most likely a
 * second line the user did not mean to be part of the passphrase, so it is
 * refused rather than kept or dropped. */
static int read_file(const char *path, struct sitx_passphrase *pw)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    struct stat st;
    /* Room for the passphrase and a "\r\n" after it. */
    int rc = sitx_read_private_file_st(path, SITX_PASSPHRASE_MAX + 2, &raw, &len, &st);

    if (rc != 0) {
        goto out;
    }
    if (len >= 2 && raw[len - 2] == '\r' && raw[len - 1] == '\n') {
        len -= 2;
    } else if (len >= 1 && raw[len - 1] == '\n') {
        len -= 1;
    }
    raw[len] = '\0';
    if (memchr(raw, '\n', len) != NULL || memchr(raw, '\r', len) != NULL) {
        rc = SITX_E_MALFORMED;
        goto out;
    }
    if (len > SITX_PASSPHRASE_MAX) {
        rc = SITX_E_TOO_LARGE;
        goto out;
    }
    pw->text = (char *)raw;
    pw->len = len;
    /* The file as it was read: a later edit changes mtime and ctime, a
     * replacement the inode. */
    pw->id.valid = 1;
    pw->id.dev = (uint64_t)st.st_dev;
    pw->id.ino = (uint64_t)st.st_ino;
    pw->id.size = (uint64_t)st.st_size;
    pw->id.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    pw->id.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    raw = NULL;
    rc = 0;
out:
    sitx_secret_free(raw, len);
    return rc;
}

static int read_env(const char *value, struct sitx_passphrase *pw)
{
    size_t len = strlen(value);
    char *buf;

    if (len > SITX_PASSPHRASE_MAX) {
        return SITX_E_TOO_LARGE;
    }
    buf = sitx_secret_alloc(len + 1);
    if (buf == NULL) {
        return SITX_E_NOMEM;
    }
    memcpy(buf, value, len + 1);
    pw->text = buf;
    pw->len = len;
    return 0;
}

int sitx_passphrase_read(const char *path, int allow_prompt, const char *prompt,
                         struct sitx_passphrase *pw)
{
    const char *env = getenv(PASSPHRASE_ENV);
    int rc;

    memset(pw, 0, sizeof(*pw));
    if (path != NULL) {
        rc = read_file(path, pw);
    } else if (env != NULL) {
        rc = read_env(env, pw);
    } else if (allow_prompt) {
        rc = read_prompt(prompt, pw);
    } else {
        rc = SITX_E_INVALID;
    }
    if (rc == 0 && pw->len == 0) {
        sitx_passphrase_clear(pw);
        rc = SITX_E_INVALID;
    }
    return rc;
}

const char *sitx_passphrase_strerror(int rc)
{
    switch (rc) {
    case SITX_E_MALFORMED:
        return "the file has more than one line (a CR or LF other than one trailing LF or "
               "CRLF)";
    case SITX_E_TOO_LARGE:
        return "the passphrase is longer than 1024 bytes";
    case SITX_E_INVALID:
        return "the passphrase is empty";
    default:
        return sitx_strerror(rc);
    }
}

void sitx_passphrase_clear(struct sitx_passphrase *pw)
{
    if (pw == NULL) {
        return;
    }
    sitx_secret_free(pw->text, pw->len + 1);
    memset(pw, 0, sizeof(*pw));
}

int sitx_passphrase_derive(const struct sitx_passphrase *pw, const uint8_t salt[static 16],
                           uint32_t ops, uint32_t mem_kib, uint8_t psk[static SITX_PSK_BYTES])
{
    unsigned long long opslimit = ops;
    size_t memlimit = (size_t)mem_kib * 1024u;

    if (pw == NULL || pw->text == NULL) {
        return SITX_E_INVALID;
    }
    if (opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
        opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
        memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
        memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
        return SITX_E_INVALID;
    }
    if (crypto_pwhash(psk, SITX_PSK_BYTES, pw->text, pw->len, salt, opslimit, memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(psk, SITX_PSK_BYTES);
        return SITX_E_NOMEM;
    }
    return 0;
}
