#include "pairing.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "err.h"
#include "greeting.h"
#include "handshake.h"
#include "known.h"
#include "pair.h"
#include "policy.h"
#include "reader.h"
#include "safefile.h"
#include "sas.h"
#include "transport.h"

#define PROG "sitx-send"
/* How long the people may take, once the codes are shown. */
#define ANSWER_MAX_MS (60ull * 60 * 1000)

struct pconn {
    int fd;
    struct sitx_hs *hs;
    struct sitx_cipher *tx;
    struct sitx_cipher *rx;
    uint8_t frame[SITX_FRAME_HDR + SITX_FRAME_MAX];
};

static void say_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say_err(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
    struct pollfd p = {fd, ev, 0};

    for (;;) {
        uint64_t now = now_ms();
        int n;

        if (now >= deadline) {
            return SITX_E_TIMEOUT;
        }
        n = poll(&p, 1, (int)(deadline - now));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n < 0 ? -errno : n == 0 ? SITX_E_TIMEOUT : 0;
    }
}

static int connect_to(const char *host, uint16_t port, uint64_t deadline, int *out)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char sport[8];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(sport, sizeof(sport), "%u", (unsigned)port);
    rc = getaddrinfo(host, sport, &hints, &res);
    if (rc != 0) {
        say_err("cannot resolve %s: %s", host, gai_strerror(rc));
        return SEND_EXIT_NETWORK;
    }
    rc = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int err = 0;
        socklen_t len = sizeof(err);

        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            rc = -errno;
            close(fd);
            continue;
        }
        rc = wait_fd(fd, POLLOUT, deadline);
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
            rc = -err;
        }
        if (rc != 0) {
            close(fd);
            continue;
        }
        *out = fd;
        freeaddrinfo(res);
        return 0;
    }
    freeaddrinfo(res);
    say_err("cannot connect to %s:%u: %s", host, (unsigned)port, sitx_strerror(rc));
    return SEND_EXIT_NETWORK;
}

static int read_exact(int fd, uint8_t *buf, size_t n, uint64_t deadline)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);

        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0) {
            return SITX_E_CLOSED;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -errno;
        }
        int rc = wait_fd(fd, POLLIN, deadline);

        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Nonblocking socket, small writes: wait for room when the kernel has none. */
static int write_all_fd(int fd, const uint8_t *buf, size_t n, uint64_t deadline)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = send(fd, buf + done, n - done, MSG_NOSIGNAL);

        if (w > 0) {
            done += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline);

            if (rc != 0) {
                return rc;
            }
        } else if (w < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

/* One frame; len must be exactly want (or 0 when zero_ok), or the frame
 * is refused before its body is read, as the receiver does. */
static int read_frame(struct pconn *pc, size_t min, size_t max, size_t *len, uint64_t deadline)
{
    uint8_t hdr[SITX_FRAME_HDR];
    int rc = read_exact(pc->fd, hdr, sizeof(hdr), deadline);

    if (rc != 0) {
        return rc;
    }
    *len = sitx_load_be16(hdr);
    if (*len != 0 && (*len < min || *len > max)) {
        return SITX_E_MALFORMED;
    }
    return read_exact(pc->fd, pc->frame, *len, deadline);
}

static int send_msg(struct pconn *pc, const struct sitx_pair_msg *m, uint64_t deadline)
{
    uint8_t pt[SITX_PAIR_MSG_MAX];
    size_t len = 0;
    size_t flen = 0;
    int rc = sitx_pair_encode(m, pt, sizeof(pt), &len);

    if (rc == 0) {
        rc = sitx_transport_seal(pc->tx, pt, len, pc->frame, sizeof(pc->frame), &flen);
    }
    if (rc == 0) {
        rc = write_all_fd(pc->fd, pc->frame, flen, deadline);
    }
    return rc;
}

/* A pin that names another key is not replaced by pairing: that needs a person. */
static int pinned_elsewhere(const struct pair_config *cfg, const uint8_t rpk[static SITX_KEY_BYTES])
{
    uint8_t pinned[SITX_KEY_BYTES];
    char fp[SITX_FINGERPRINT_LEN + 1];
    char err[160] = "";

    if (known_find(cfg->known_path, cfg->label, pinned, err, sizeof(err)) != 1 ||
        sodium_memcmp(pinned, rpk, SITX_KEY_BYTES) == 0) {
        return 0;
    }
    sitx_fingerprint(rpk, fp);
    say_err("%s presents key %s, but %s pins another key for it; remove that line to pair again",
            cfg->label, fp, cfg->known_path);
    return 1;
}

/* Greeting, HELLO with the PAIR flag, XX. On success h holds the handshake
 * hash and rpk the receiver's static key. Returns an exit code. */
static int handshake(const struct pair_config *cfg, struct pconn *pc,
                     uint8_t h[static SITX_HASHLEN], uint8_t rpk[static SITX_KEY_BYTES])
{
    uint64_t deadline = now_ms() + cfg->timeout_ms;
    uint8_t greeting[SITX_GREETING_LEN];
    uint8_t hello[SITX_HELLO_LEN];
    uint8_t prologue[SITX_PROLOGUE_LEN];
    uint8_t msg[SITX_FRAME_HDR + 128];
    uint8_t payload[64];
    struct sitx_greeting g;
    struct sitx_hello hl = {SITX_PROTO_VERSION, SITX_AUTH_KEY, SITX_HELLO_FLAG_PAIR};
    struct sitx_hs_config hc;
    char why[160] = "";
    size_t len = 0;
    size_t plen = 0;
    int rc;

    rc = read_exact(pc->fd, greeting, sizeof(greeting), deadline);
    if (rc == 0) {
        rc = sitx_greeting_decode_err(greeting, &g, why, sizeof(why));
        if (rc != 0) {
            say_err("%s did not greet like a sitx receiver (%s)", cfg->label, why);
            return SEND_EXIT_NETWORK;
        }
    } else {
        say_err("%s: no greeting: %s", cfg->label, sitx_strerror(rc));
        return SEND_EXIT_NETWORK;
    }
    if ((g.modes & SITX_AUTH_KEY) == 0) {
        say_err("%s runs in password mode: pairing needs a receiver in key mode", cfg->label);
        return SEND_EXIT_PAIR;
    }
    sitx_hello_encode(&hl, hello);
    sitx_prologue_build(greeting, hello, prologue);
    memset(&hc, 0, sizeof(hc));
    hc.pattern = SITX_HS_XX;
    hc.role = SITX_HS_INITIATOR;
    hc.prologue = prologue;
    hc.prologue_len = sizeof(prologue);
    hc.static_sk = cfg->kp->sk;
    rc = sitx_hs_new(&pc->hs, &hc);
    if (rc == 0) {
        memcpy(msg, hello, sizeof(hello));
        rc = sitx_hs_write_message(pc->hs, NULL, 0, msg + sizeof(hello) + SITX_FRAME_HDR,
                                   sizeof(msg) - sizeof(hello) - SITX_FRAME_HDR, &len);
    }
    if (rc != 0) {
        say_err("cannot start the handshake: %s", sitx_strerror(rc));
        return SEND_EXIT_INTERNAL;
    }
    sitx_store_be16(msg + sizeof(hello), (uint16_t)len);
    rc = write_all_fd(pc->fd, msg, sizeof(hello) + SITX_FRAME_HDR + len, deadline);
    if (rc == 0) {
        size_t want = sitx_hs_message_len(pc->hs, 0);

        rc = read_frame(pc, want, want, &len, deadline);
    }
    if (rc == 0 && len == 0) {
        say_err("%s refused pairing: no pairing window is open there, or one is busy (ask its "
                "operator to run sitx-recv --pair-window)",
                cfg->label);
        return SEND_EXIT_PAIR;
    }
    if (rc == SITX_E_CLOSED) {
        say_err("%s closed the connection: it may be a receiver too old to pair", cfg->label);
        return SEND_EXIT_PAIR;
    }
    if (rc == 0) {
        rc = sitx_hs_read_message(pc->hs, pc->frame, len, payload, sizeof(payload), &plen);
    }
    if (rc == 0 && plen != 0) {
        rc = SITX_E_MALFORMED;
    }
    if (rc == 0) {
        rc = sitx_hs_remote_static(pc->hs, rpk);
    }
    if (rc == 0 && pinned_elsewhere(cfg, rpk)) {
        return SEND_EXIT_AUTH; /* before message 3: it never learns who we are */
    }
    if (rc == 0) {
        rc = sitx_hs_write_message(pc->hs, NULL, 0, msg + SITX_FRAME_HDR,
                                   sizeof(msg) - SITX_FRAME_HDR, &len);
    }
    if (rc == 0) {
        sitx_store_be16(msg, (uint16_t)len);
        rc = write_all_fd(pc->fd, msg, SITX_FRAME_HDR + len, deadline);
    }
    if (rc == 0) {
        rc = sitx_hs_handshake_hash(pc->hs, h);
    }
    if (rc == 0) {
        rc = sitx_hs_split(pc->hs, &pc->tx, &pc->rx);
    }
    if (rc != 0) {
        say_err("handshake with %s failed: %s", cfg->label, sitx_strerror(rc));
        return SEND_EXIT_NETWORK;
    }
    return SEND_EXIT_OK;
}

/* The answer: 1 yes, 0 no, -1 the receiver spoke first (message in *m). */
static int get_answer(const struct pair_config *cfg, struct pconn *pc, const char *code,
                      struct sitx_pair_msg *m, int *recv_rc)
{
    uint64_t deadline = now_ms() + ANSWER_MAX_MS;
    int tty = cfg->code == NULL;
    char line[128];

    *recv_rc = 0;
    if (cfg->code != NULL && strcmp(cfg->code, "-") != 0) {
        return sitx_sas_match(cfg->code, code) == 1;
    }
    if (tty) {
        fprintf(stderr, "Does the receiver show the code %.3s %.3s? [y/N] ", code, code + 3);
    }
    for (;;) {
        struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {pc->fd, POLLIN, 0}};
        uint64_t now = now_ms();
        int n;

        if (now >= deadline) {
            return 0;
        }
        n = poll(fds, 2, (int)(deadline - now));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return 0;
        }
        if ((fds[0].revents & (POLLIN | POLLHUP)) != 0) {
            if (fgets(line, sizeof(line), stdin) == NULL) {
                line[0] = '\0';
            }
            if (tty) {
                return line[0] == 'y' || line[0] == 'Y';
            }
            return sitx_sas_match(line, code) == 1;
        }
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            size_t len = 0;
            size_t rlen = 0;
            int rc = read_frame(pc, 1 + SITX_TAG_LEN, SITX_FRAME_MAX, &len, now_ms() + 5000);

            if (rc == 0) {
                rc = sitx_transport_open(pc->rx, pc->frame, len, pc->frame, len, &rlen);
            }
            if (rc == 0) {
                rc = sitx_pair_decode(pc->frame, rlen, m, NULL, 0);
            }
            if (tty) {
                fputc('\n', stderr);
            }
            *recv_rc = rc;
            return -1;
        }
    }
}

static int pin(const struct pair_config *cfg, const uint8_t rpk[static SITX_KEY_BYTES])
{
    uint8_t old[SITX_KEY_BYTES];
    char err[160] = "";
    int rc = known_find(cfg->known_path, cfg->label, old, err, sizeof(err));

    if (rc == 1) {
        return 0; /* pinned already, and the same key: checked before the answer */
    }
    if (rc < 0) {
        say_err("%s: %s", cfg->known_path, err);
        return rc;
    }
    rc = known_add(cfg->known_path, cfg->label, rpk);
    if (rc != 0) {
        say_err("%s: cannot pin the receiver's key: %s", cfg->known_path, sitx_strerror(rc));
    }
    return rc;
}

/* After the codes are shown: answers, then the receiver's DONE. */
static int conclude(const struct pair_config *cfg, struct pconn *pc, const char *code,
                    const uint8_t rpk[static SITX_KEY_BYTES], const char *rfp)
{
    struct sitx_pair_msg m;
    struct sitx_pair_msg out;
    int recv_rc = 0;
    int yes = get_answer(cfg, pc, code, &m, &recv_rc);
    size_t len = 0;
    size_t rlen = 0;
    int rc;

    if (yes < 0) {
        if (recv_rc != 0 || m.type != SITX_PAIR_DONE) {
            say_err("the connection to %s ended before an answer", cfg->label);
            return SEND_EXIT_PAIR;
        }
        say_err("not paired: the receiver said %s%s%s", sitx_pair_status_name(m.value),
                m.text[0] != '\0' ? ": " : "", m.text);
        return SEND_EXIT_PAIR;
    }
    memset(&out, 0, sizeof(out));
    out.type = SITX_PAIR_CONFIRM;
    out.value = (uint8_t)yes;
    rc = send_msg(pc, &out, now_ms() + cfg->timeout_ms);
    if (!yes) {
        say_err("not paired: %s",
                cfg->code != NULL ? "the code given differs from this side's" : "declined");
        return SEND_EXIT_PAIR;
    }
    if (rc == 0) {
        printf("waiting for the receiver's operator to confirm...\n");
        fflush(stdout);
        rc = read_frame(pc, 1 + SITX_TAG_LEN, SITX_FRAME_MAX, &len, now_ms() + ANSWER_MAX_MS);
    }
    if (rc == 0) {
        rc = sitx_transport_open(pc->rx, pc->frame, len, pc->frame, len, &rlen);
    }
    if (rc == 0) {
        rc = sitx_pair_decode(pc->frame, rlen, &m, NULL, 0);
    }
    if (rc != 0 || m.type != SITX_PAIR_DONE) {
        say_err("not paired: the connection to %s ended without an outcome (%s)", cfg->label,
                rc != 0 ? sitx_strerror(rc) : "unexpected message");
        return SEND_EXIT_PAIR;
    }
    if (m.value != SITX_PAIR_PAIRED && m.value != SITX_PAIR_ALREADY) {
        say_err("not paired: the receiver said %s%s%s", sitx_pair_status_name(m.value),
                m.text[0] != '\0' ? ": " : "", m.text);
        return SEND_EXIT_PAIR;
    }
    /* The receiver recorded us, after both said yes: now we pin it. */
    if (pin(cfg, rpk) != 0) {
        return SEND_EXIT_LOCAL;
    }
    printf("paired with %s as \"%s\"; receiver key %s pinned in %s\n", cfg->label, cfg->name, rfp,
           cfg->known_path);
    return SEND_EXIT_OK;
}

int pair_run(const struct pair_config *cfg)
{
    struct pconn pc;
    struct sitx_pair_msg req;
    uint8_t h[SITX_HASHLEN];
    uint8_t rpk[SITX_KEY_BYTES];
    char code[SITX_SAS_DIGITS + 1];
    char rfp[SITX_FINGERPRINT_LEN + 1];
    int rc;

    memset(&pc, 0, sizeof(pc));
    pc.fd = -1;
    rc = connect_to(cfg->host, cfg->port, now_ms() + cfg->timeout_ms, &pc.fd);
    if (rc == SEND_EXIT_OK) {
        rc = handshake(cfg, &pc, h, rpk);
    }
    if (rc != SEND_EXIT_OK) {
        goto out;
    }
    sitx_fingerprint(rpk, rfp);
    memset(&req, 0, sizeof(req));
    req.type = SITX_PAIR_REQUEST;
    snprintf(req.text, sizeof(req.text), "%s", cfg->name);
    if (send_msg(&pc, &req, now_ms() + cfg->timeout_ms) != 0) {
        say_err("the connection to %s was lost", cfg->label);
        rc = SEND_EXIT_NETWORK;
        goto out;
    }
    sitx_sas_code(h, code);
    printf("receiver %s (key fingerprint %s)\npairing code: %s\n", cfg->label, rfp, code);
    fflush(stdout);
    rc = conclude(cfg, &pc, code, rpk, rfp);
out:
    sodium_memzero(h, sizeof(h));
    sitx_hs_free(pc.hs);
    sitx_cipher_free(pc.tx);
    sitx_cipher_free(pc.rx);
    if (pc.fd >= 0) {
        close(pc.fd);
    }
    return rc;
}
