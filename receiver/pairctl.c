/* The pairing client: one Unix socket, lines both ways, poll() with the
 * window's deadline. It never sees a key, only fingerprints and the code. */
#include "pairctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "sas.h"

#define PROG "sitx-recv"
/* Beyond the window: the daemon's own answer comes first. */
#define SLACK_MS 10000

struct ctl_client {
    int fd;
    char buf[SITX_CTL_LINE_MAX + 2];
    size_t len;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int connect_control(const char *path)
{
    struct sockaddr_un sun;
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Waits for one line from the daemon, or a line on stdin when want_stdin.
 * Returns 1 for a daemon line in out, 2 for a stdin line in out, 0 on
 * timeout, -1 when the daemon closed or on error. */
static int next_line(struct ctl_client *cc, int want_stdin, uint64_t deadline, char *out,
                     size_t cap)
{
    for (;;) {
        char *nl = memchr(cc->buf, '\n', cc->len);
        struct pollfd fds[2];
        uint64_t now = now_ms();
        int n;

        if (nl != NULL) {
            size_t len = (size_t)(nl - cc->buf);

            snprintf(out, cap, "%.*s", (int)len, cc->buf);
            memmove(cc->buf, nl + 1, cc->len - len - 1);
            cc->len -= len + 1;
            return 1;
        }
        if (cc->len == sizeof(cc->buf) || now >= deadline) {
            return cc->len == sizeof(cc->buf) ? -1 : 0;
        }
        fds[0].fd = cc->fd;
        fds[0].events = POLLIN;
        fds[1].fd = STDIN_FILENO;
        fds[1].events = POLLIN;
        n = poll(fds, want_stdin ? 2 : 1, (int)(deadline - now));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (want_stdin && (fds[1].revents & (POLLIN | POLLHUP)) != 0) {
            if (fgets(out, (int)cap, stdin) == NULL) {
                out[0] = '\0';
            }
            return 2;
        }
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            ssize_t r = read(cc->fd, cc->buf + cc->len, sizeof(cc->buf) - cc->len);

            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                return -1;
            }
            cc->len += (size_t)r;
        }
    }
}

static int send_line(struct ctl_client *cc, const char *line)
{
    char buf[SITX_CTL_LINE_MAX];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    size_t done = 0;

    /* send() with MSG_NOSIGNAL: a daemon that hung up gives EPIPE, not SIGPIPE. */
    while (done < (size_t)n) {
        ssize_t w = send(cc->fd, buf + done, (size_t)n - done, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

/* "code <digits> <fp> <name>": the parts, or -1. */
static int parse_code(const char *line, char code[static SITX_SAS_DIGITS + 1], char *fp,
                      size_t fp_cap, const char **name)
{
    const char *p = line + 5;
    const char *sp;

    if (strncmp(line, "code ", 5) != 0 || strlen(p) < SITX_SAS_DIGITS + 1 ||
        p[SITX_SAS_DIGITS] != ' ') {
        return -1;
    }
    memcpy(code, p, SITX_SAS_DIGITS);
    code[SITX_SAS_DIGITS] = '\0';
    p += SITX_SAS_DIGITS + 1;
    sp = strchr(p, ' ');
    if (sp == NULL || (size_t)(sp - p) >= fp_cap) {
        return -1;
    }
    snprintf(fp, fp_cap, "%.*s", (int)(sp - p), p);
    *name = sp + 1;
    return 0;
}

/* The operator's verdict: 1 yes, 0 no, -1 the daemon ended it (line in out). */
static int ask(struct ctl_client *cc, const char *code, const char *given, uint64_t deadline,
               char *out, size_t cap)
{
    int tty = given == NULL;
    int rc;

    if (given != NULL && strcmp(given, "-") != 0) {
        return sitx_sas_match(given, code) == 1;
    }
    if (tty) {
        fprintf(stderr, "Does the sender show the code %.3s %.3s? [y/N] ", code, code + 3);
    }
    rc = next_line(cc, 1, deadline, out, cap);
    if (rc != 2) {
        if (tty) {
            fputc('\n', stderr);
        }
        return -1;
    }
    if (tty) {
        return out[0] == 'y' || out[0] == 'Y';
    }
    return sitx_sas_match(out, code) == 1;
}

int pairctl_run(const char *control, uint64_t window_ms, const char *given)
{
    struct ctl_client cc;
    char line[SITX_CTL_LINE_MAX + 2];
    char code[SITX_SAS_DIGITS + 1];
    char fp[32];
    const char *name = "";
    uint64_t deadline = now_ms() + window_ms + SLACK_MS;
    int answered = 0;
    int rc;

    memset(&cc, 0, sizeof(cc));
    cc.fd = connect_control(control);
    if (cc.fd < 0) {
        fprintf(stderr, PROG ": cannot reach the receiver's control socket %s: %s\n", control,
                strerror(errno));
        return 1;
    }
    snprintf(line, sizeof(line), "open %llu", (unsigned long long)window_ms);
    /* A daemon that refuses us ("busy") may hang up before reading this:
     * its answer is still there to read. */
    (void)send_line(&cc, line);
    for (;;) {
        rc = next_line(&cc, 0, deadline, line, sizeof(line));
        if (rc <= 0) {
            fprintf(stderr, PROG ": %s\n",
                    rc == 0 ? "no answer from the receiver"
                            : "the receiver closed the control connection");
            close(cc.fd);
            return rc == 0 ? PAIRCTL_EXIT_NOT_PAIRED : 1;
        }
        if (strncmp(line, "open ", 5) == 0) {
            printf("pairing window open for %llu s: on the sender run sitx-send --pair HOST\n",
                   (unsigned long long)(window_ms + 999) / 1000);
            fflush(stdout);
        } else if (strncmp(line, "code ", 5) == 0 && !answered &&
                   parse_code(line, code, fp, sizeof(fp), &name) == 0) {
            printf("sender %s (key fingerprint %s)\npairing code: %s\n", name, fp, code);
            fflush(stdout);
            rc = ask(&cc, code, given, deadline, line, sizeof(line));
            if (rc < 0 && strncmp(line, "result ", 7) != 0) {
                snprintf(line, sizeof(line), "result timeout no answer was given");
            }
            if (rc >= 0) {
                answered = 1;
                if (rc == 0) {
                    fprintf(stderr, PROG ": %s\n",
                            given != NULL ? "the code given differs from this side's code"
                                          : "declined");
                }
                (void)send_line(&cc, rc == 1 ? "yes" : "no");
                continue;
            }
        }
        if (strncmp(line, "result ", 7) == 0 || strncmp(line, "busy ", 5) == 0 ||
            strncmp(line, "error ", 6) == 0) {
            int ok = strncmp(line, "result paired ", 14) == 0 ||
                     strncmp(line, "result already-authorised ", 26) == 0;

            if (ok) {
                printf("paired: %s\n", line + 7);
            } else {
                fprintf(stderr, PROG ": not paired: %s\n", line);
            }
            close(cc.fd);
            return ok ? 0 : PAIRCTL_EXIT_NOT_PAIRED;
        }
    }
}
