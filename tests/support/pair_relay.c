/* sitx-pair-relay: a man in the middle for the pairing tests, built from
 * proto/. It accepts one sender and connects to the receiver, and instead
 * of passing bytes it runs a handshake of its own with each side (XX, with
 * its own static key on each leg), then re-encrypts the pairing messages
 * between the two. So each side sees a well-formed pairing, but the two
 * handshake hashes differ and so do the codes shown: the people comparing
 * them are what stops it.
 *
 *   sitx-pair-relay PORT [--offer]   relay to 127.0.0.1:PORT
 *
 * With --offer it also tries to use the pairing connection for a transfer:
 * right after the handshakes it sends the receiver an OFFER record, which a
 * receiver must refuse on a connection that is not authorised.
 *
 * "listening port=N" on stdout says it is ready; it prints the code each
 * leg would show ("codes sender-leg=... receiver-leg=...") and exits 0 when
 * either side closes, 1 on a failure before that. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "greeting.h"
#include "handshake.h"
#include "msg.h"
#include "record.h"
#include "reader.h"
#include "sas.h"
#include "transport.h"

#define PROG "sitx-pair-relay"

struct leg {
    int fd;
    struct sitx_hs *hs;
    struct sitx_cipher *tx;
    struct sitx_cipher *rx;
    uint8_t h[SITX_HASHLEN];
};

static void die(const char *what)
{
    fprintf(stderr, PROG ": %s: %s\n", what, errno != 0 ? strerror(errno) : "failed");
    exit(1);
}

static void read_exact(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);

        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            errno = 0;
            die("connection closed during the handshake");
        }
        got += (size_t)r;
    }
}

static void write_exact(int fd, const uint8_t *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = send(fd, buf + done, n - done, MSG_NOSIGNAL);

        if (w <= 0) {
            if (w < 0 && errno == EINTR) {
                continue;
            }
            die("write");
        }
        done += (size_t)w;
    }
}

/* One frame into buf; returns its length. -1 on end of stream. */
static long read_frame(int fd, uint8_t *buf, size_t cap)
{
    uint8_t hdr[SITX_FRAME_HDR];
    size_t got = 0;
    size_t n;

    while (got < sizeof(hdr)) {
        ssize_t r = read(fd, hdr + got, sizeof(hdr) - got);

        if (r <= 0) {
            return -1;
        }
        got += (size_t)r;
    }
    n = sitx_load_be16(hdr);
    if (n > cap) {
        return -1;
    }
    read_exact(fd, buf, n);
    return (long)n;
}

static void write_hs(struct leg *l)
{
    uint8_t msg[SITX_FRAME_HDR + 256];
    size_t len = 0;

    if (sitx_hs_write_message(l->hs, NULL, 0, msg + SITX_FRAME_HDR, 256, &len) != 0) {
        die("handshake write");
    }
    sitx_store_be16(msg, (uint16_t)len);
    write_exact(l->fd, msg, SITX_FRAME_HDR + len);
}

static void read_hs(struct leg *l)
{
    uint8_t msg[256];
    uint8_t payload[64];
    size_t plen = 0;
    long n = read_frame(l->fd, msg, sizeof(msg));

    if (n <= 0 || sitx_hs_read_message(l->hs, msg, (size_t)n, payload, sizeof(payload), &plen)) {
        errno = 0;
        die(n == 0 ? "the peer refused the handshake" : "handshake read");
    }
}

static void finish_leg(struct leg *l)
{
    if (sitx_hs_handshake_hash(l->hs, l->h) != 0 || sitx_hs_split(l->hs, &l->tx, &l->rx) != 0) {
        die("split");
    }
}

static void new_hs(struct leg *l, enum sitx_hs_role role, const uint8_t *prologue)
{
    struct sitx_hs_config hc;
    uint8_t sk[SITX_DH_LEN];

    randombytes_buf(sk, sizeof(sk)); /* a key of its own on each leg */
    memset(&hc, 0, sizeof(hc));
    hc.pattern = SITX_HS_XX;
    hc.role = role;
    hc.prologue = prologue;
    hc.prologue_len = SITX_PROLOGUE_LEN;
    hc.static_sk = sk;
    if (sitx_hs_new(&l->hs, &hc) != 0) {
        die("handshake");
    }
    sodium_memzero(sk, sizeof(sk));
}

/* An OFFER record, as a sender would start a transfer with. */
static void send_offer(struct leg *l)
{
    struct sitx_offer o;
    uint8_t rec[128];
    uint8_t out[SITX_FRAME_HDR + 256];
    size_t len = 0;
    size_t olen = 0;

    memset(&o, 0, sizeof(o));
    randombytes_buf(o.id, sizeof(o.id));
    o.format = 1;
    o.size = 69;
    snprintf(o.name, sizeof(o.name), "smuggled.png");
    if (sitx_offer_encode(&o, rec, sizeof(rec), &len) != 0 ||
        sitx_transport_seal(l->tx, rec, len, out, sizeof(out), &olen) != 0) {
        errno = 0;
        die("OFFER");
    }
    write_exact(l->fd, out, olen);
}

/* One frame from one leg, opened and sealed again for the other. 0 at the end. */
static int forward(struct leg *from, struct leg *to)
{
    static uint8_t frame[SITX_FRAME_MAX];
    static uint8_t out[SITX_FRAME_HDR + SITX_FRAME_MAX];
    size_t len = 0;
    size_t olen = 0;
    long n = read_frame(from->fd, frame, sizeof(frame));

    if (n < 0) {
        return 0;
    }
    if (sitx_transport_open(from->rx, frame, (size_t)n, frame, sizeof(frame), &len) != 0 ||
        sitx_transport_seal(to->tx, frame, len, out, sizeof(out), &olen) != 0) {
        errno = 0;
        die("re-encrypting a message");
    }
    write_exact(to->fd, out, olen);
    return 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    struct leg snd = {-1, NULL, NULL, NULL, {0}};
    struct leg rcv = {-1, NULL, NULL, NULL, {0}};
    uint8_t greeting[SITX_GREETING_LEN];
    uint8_t hello[SITX_HELLO_LEN];
    uint8_t prologue[SITX_PROLOGUE_LEN];
    char code_s[SITX_SAS_DIGITS + 1];
    char code_r[SITX_SAS_DIGITS + 1];
    int lfd;

    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--offer") != 0) ||
        sodium_init() < 0) {
        fprintf(stderr, "usage: " PROG " PORT [--offer]\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        die("listen");
    }
    printf("listening port=%u\n", ntohs(sa.sin_port));
    fflush(stdout);
    snd.fd = accept(lfd, NULL, NULL);
    if (snd.fd < 0) {
        die("accept");
    }
    close(lfd);
    sa.sin_port = htons((uint16_t)atoi(argv[1]));
    rcv.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcv.fd < 0 || connect(rcv.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        die("connect to the receiver");
    }
    /* The clear part goes through unchanged, so both prologues agree... */
    read_exact(rcv.fd, greeting, sizeof(greeting));
    write_exact(snd.fd, greeting, sizeof(greeting));
    read_exact(snd.fd, hello, sizeof(hello));
    write_exact(rcv.fd, hello, sizeof(hello));
    sitx_prologue_build(greeting, hello, prologue);
    /* ... but each leg is a handshake of its own. */
    new_hs(&snd, SITX_HS_RESPONDER, prologue);
    new_hs(&rcv, SITX_HS_INITIATOR, prologue);
    read_hs(&snd);  /* sender's message 1 */
    write_hs(&rcv); /* our message 1 to the receiver */
    read_hs(&rcv);  /* its message 2 */
    write_hs(&rcv); /* our message 3 */
    finish_leg(&rcv);
    write_hs(&snd); /* our message 2 to the sender */
    read_hs(&snd);  /* its message 3 */
    finish_leg(&snd);
    sitx_sas_code(snd.h, code_s);
    sitx_sas_code(rcv.h, code_r);
    printf("codes sender-leg=%s receiver-leg=%s\n", code_s, code_r);
    fflush(stdout);
    if (argc == 3) {
        send_offer(&rcv);
        printf("offer sent\n");
        fflush(stdout);
    }
    for (;;) {
        struct pollfd fds[2] = {{snd.fd, POLLIN, 0}, {rcv.fd, POLLIN, 0}};

        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("poll");
        }
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !forward(&snd, &rcv)) {
            break;
        }
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !forward(&rcv, &snd)) {
            break;
        }
    }
    sitx_hs_free(snd.hs);
    sitx_hs_free(rcv.hs);
    sitx_cipher_free(snd.tx);
    sitx_cipher_free(snd.rx);
    sitx_cipher_free(rcv.tx);
    sitx_cipher_free(rcv.rx);
    close(snd.fd);
    close(rcv.fd);
    return 0;
}
