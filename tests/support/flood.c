/* sitx-flood: unauthenticated connections for the flood end-to-end test.
 * It opens --rate connections a second to --target, binding source
 * addresses round robin from --from (127.0.0.2-127.0.0.40: loopback gives
 * many addresses), each one of three kinds in turn:
 *   idle:  never sends a byte;
 *   loris: sends a valid-looking HELLO and handshake message 1 one byte
 *          every --loris-ms;
 *   half:  waits for the greeting, sends HELLO and half of message 1, stops.
 * It never completes a handshake. A connection the receiver closes is
 * counted and forgotten; at most --open-max are held at once. After
 * --seconds, or on SIGTERM/SIGINT, it closes everything, prints one line of
 * counts on stdout ("flood opened=N ...") and exits 0. "flooding" on stdout
 * says the first connections are under way; "progress opened=N" follows
 * every second. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/resource.h>

#include <uv.h>

#include "bytes.h"
#include "greeting.h"

#define PROG "sitx-flood"
#define SPAWN_TICK_MS 10
#define LORIS_TICK_MS 100
/* XX message 1 is the initiator's ephemeral key: 32 bytes, no payload. */
#define MSG1_LEN 32
#define PREFIX_LEN (SITX_HELLO_LEN + 2 + MSG1_LEN)

enum kind { K_IDLE, K_LORIS, K_HALF, K_COUNT };
static const char *const kind_name[K_COUNT] = {"idle", "loris", "half"};

struct fconn {
    uv_tcp_t tcp;
    uv_connect_t req;
    struct fconn *prev;
    struct fconn *next;
    enum kind kind;
    int connected;
    int closing;
    size_t got;  /* bytes received */
    size_t sent; /* bytes of prefix sent */
    uint64_t next_ms;
    uint8_t rbuf[256];
};

struct flood {
    uv_loop_t *loop;
    struct sockaddr_in target;
    uint32_t from_lo; /* host order */
    uint32_t from_hi;
    uint32_t next_from;
    double rate;
    double credit;
    uint64_t loris_ms;
    uint64_t open_max;
    uint8_t prefix[PREFIX_LEN]; /* HELLO, frame header, message 1 */
    struct fconn *conns;
    uint64_t open;
    unsigned next_kind;
    int stopping;
    int announced;
    uv_timer_t spawn;
    uv_timer_t loris;
    uv_timer_t stop;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    /* counts */
    uint64_t attempted;
    uint64_t opened;
    uint64_t connect_failed;
    uint64_t greeted;
    uint64_t closed_by_peer;
    uint64_t closed_before_greeting;
    uint64_t skipped; /* --open-max held */
    uint64_t max_open;
    uint64_t by_kind[K_COUNT];
};

static struct flood F;

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void fconn_close(struct fconn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = 1;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        F.conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    F.open--;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void send_bytes(struct fconn *c, size_t upto)
{
    uv_buf_t b;
    int n;

    if (upto > PREFIX_LEN) {
        upto = PREFIX_LEN;
    }
    if (c->sent >= upto) {
        return;
    }
    b = uv_buf_init((char *)F.prefix + c->sent, (unsigned)(upto - c->sent));
    n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n > 0) {
        c->sent += (size_t)n;
    } else if (n != UV_EAGAIN) {
        fconn_close(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct fconn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct fconn *c = s->data;

    (void)buf;
    if (nread < 0) {
        F.closed_by_peer++;
        if (c->got < SITX_GREETING_LEN) {
            F.closed_before_greeting++;
        }
        fconn_close(c);
        return;
    }
    if (c->got < SITX_GREETING_LEN && c->got + (size_t)nread >= SITX_GREETING_LEN) {
        F.greeted++;
        if (c->kind == K_HALF) {
            /* HELLO and the first half of message 1, then nothing. */
            send_bytes(c, SITX_HELLO_LEN + 2 + MSG1_LEN / 2);
        }
    }
    c->got += (size_t)nread;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct fconn *c = req->data;

    if (c->closing) {
        return;
    }
    if (status != 0) {
        F.connect_failed++;
        fconn_close(c);
        return;
    }
    c->connected = 1;
    F.opened++;
    if (!F.announced) {
        F.announced = 1;
        printf("flooding\n");
        fflush(stdout);
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        fconn_close(c);
    }
}

static void open_one(void)
{
    struct sockaddr_in src;
    struct fconn *c;

    if (F.open >= F.open_max) {
        F.skipped++;
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        F.skipped++;
        return;
    }
    c->kind = (enum kind)(F.next_kind++ % K_COUNT);
    c->next_ms = uv_now(F.loop) + F.loris_ms;
    uv_tcp_init(F.loop, &c->tcp);
    c->tcp.data = c;
    c->req.data = c;
    c->next = F.conns;
    if (F.conns != NULL) {
        F.conns->prev = c;
    }
    F.conns = c;
    F.open++;
    if (F.open > F.max_open) {
        F.max_open = F.open;
    }
    F.attempted++;
    F.by_kind[c->kind]++;
    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(F.next_from);
    F.next_from = F.next_from >= F.from_hi ? F.from_lo : F.next_from + 1;
    if (uv_tcp_bind(&c->tcp, (const struct sockaddr *)&src, 0) != 0 ||
        uv_tcp_connect(&c->req, &c->tcp, (const struct sockaddr *)&F.target, on_connect) != 0) {
        F.connect_failed++;
        fconn_close(c);
    }
}

static void on_spawn(uv_timer_t *t)
{
    (void)t;
    F.credit += F.rate * SPAWN_TICK_MS / 1000.0;
    while (F.credit >= 1.0 && !F.stopping) {
        F.credit -= 1.0;
        open_one();
    }
}

static void on_loris(uv_timer_t *t)
{
    uint64_t now = uv_now(F.loop);
    struct fconn *c = F.conns;
    static unsigned ticks;

    (void)t;
    if (++ticks % (1000 / LORIS_TICK_MS) == 0) {
        printf("progress opened=%" PRIu64 "\n", F.opened);
        fflush(stdout);
    }
    while (c != NULL) {
        struct fconn *next = c->next; /* send_bytes may close c */

        if (c->kind == K_LORIS && c->connected && c->next_ms <= now) {
            c->next_ms = now + F.loris_ms;
            send_bytes(c, c->sent + 1);
        }
        c = next;
    }
}

static void stop_all(void)
{
    if (F.stopping) {
        return;
    }
    F.stopping = 1;
    while (F.conns != NULL) {
        fconn_close(F.conns);
    }
    uv_close((uv_handle_t *)&F.spawn, NULL);
    uv_close((uv_handle_t *)&F.loris, NULL);
    uv_close((uv_handle_t *)&F.stop, NULL);
    uv_close((uv_handle_t *)&F.sigterm, NULL);
    uv_close((uv_handle_t *)&F.sigint, NULL);
}

static void on_stop(uv_timer_t *t)
{
    (void)t;
    stop_all();
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    stop_all();
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: " PROG " --target IP:PORT --from FIRST-LAST [--rate N] [--seconds N]\n"
                 "                  [--loris-ms N] [--open-max N]\n"
                 "  --target IP:PORT   the receiver (IPv4)\n"
                 "  --from FIRST-LAST  source addresses, e.g. 127.0.0.2-127.0.0.40\n"
                 "  --rate N           connections a second (default 100)\n"
                 "  --seconds N        stop after N seconds (default 30)\n"
                 "  --loris-ms N       slow-loris byte interval (default 2000)\n"
                 "  --open-max N       connections held at once (default 900)\n");
}

static int parse_range(const char *arg)
{
    char lo[INET_ADDRSTRLEN];
    const char *dash = strchr(arg, '-');
    struct in_addr a;
    struct in_addr b;

    if (dash == NULL || (size_t)(dash - arg) >= sizeof(lo)) {
        return -1;
    }
    memcpy(lo, arg, (size_t)(dash - arg));
    lo[dash - arg] = '\0';
    if (inet_pton(AF_INET, lo, &a) != 1 || inet_pton(AF_INET, dash + 1, &b) != 1) {
        return -1;
    }
    F.from_lo = ntohl(a.s_addr);
    F.from_hi = ntohl(b.s_addr);
    F.next_from = F.from_lo;
    return F.from_lo <= F.from_hi ? 0 : -1;
}

static int parse_target(const char *arg)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(arg, ':');

    if (colon == NULL || (size_t)(colon - arg) >= sizeof(host)) {
        return -1;
    }
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    return uv_ip4_addr(host, atoi(colon + 1), &F.target) == 0 && atoi(colon + 1) > 0 ? 0 : -1;
}

/* Many sockets: as many descriptors as the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},  {"from", required_argument, NULL, 'f'},
        {"rate", required_argument, NULL, 'r'},    {"seconds", required_argument, NULL, 's'},
        {"loris-ms", required_argument, NULL, 'l'}, {"open-max", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct sitx_hello hello = {.version = SITX_PROTO_VERSION, .mode = SITX_AUTH_KEY};
    double seconds = 30;
    int have_target = 0;
    int have_from = 0;
    int opt;
    size_t i;

    memset(&F, 0, sizeof(F));
    F.rate = 100;
    F.loris_ms = 2000;
    F.open_max = 900;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            have_target = parse_target(optarg) == 0;
            break;
        case 'f':
            have_from = parse_range(optarg) == 0;
            break;
        case 'r':
            F.rate = atof(optarg);
            break;
        case 's':
            seconds = atof(optarg);
            break;
        case 'l':
            F.loris_ms = strtoull(optarg, NULL, 10);
            break;
        case 'o':
            F.open_max = strtoull(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!have_target || !have_from || F.rate <= 0 || seconds <= 0 || F.loris_ms == 0) {
        usage(stderr);
        return 2;
    }
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    sitx_hello_encode(&hello, F.prefix);
    sitx_store_be16(F.prefix + SITX_HELLO_LEN, MSG1_LEN);
    for (i = SITX_HELLO_LEN + 2; i < PREFIX_LEN; i++) {
        F.prefix[i] = (uint8_t)(i * 37 + 11); /* any 32 bytes look like a public key */
    }
    F.loop = uv_default_loop();
    uv_timer_init(F.loop, &F.spawn);
    uv_timer_init(F.loop, &F.loris);
    uv_timer_init(F.loop, &F.stop);
    uv_signal_init(F.loop, &F.sigterm);
    uv_signal_init(F.loop, &F.sigint);
    uv_timer_start(&F.spawn, on_spawn, 0, SPAWN_TICK_MS);
    uv_timer_start(&F.loris, on_loris, LORIS_TICK_MS, LORIS_TICK_MS);
    uv_timer_start(&F.stop, on_stop, (uint64_t)(seconds * 1000), 0);
    uv_signal_start(&F.sigterm, on_signal, SIGTERM);
    uv_signal_start(&F.sigint, on_signal, SIGINT);
    uv_run(F.loop, UV_RUN_DEFAULT);
    printf("flood opened=%" PRIu64 " attempted=%" PRIu64 " connect_failed=%" PRIu64
           " greeted=%" PRIu64 " closed_by_peer=%" PRIu64 " closed_before_greeting=%" PRIu64
           " skipped=%" PRIu64 " max_open=%" PRIu64,
           F.opened, F.attempted, F.connect_failed, F.greeted, F.closed_by_peer,
           F.closed_before_greeting, F.skipped, F.max_open);
    for (i = 0; i < K_COUNT; i++) {
        printf(" %s=%" PRIu64, kind_name[i], F.by_kind[i]);
    }
    printf("\n");
    uv_loop_close(F.loop);
    return 0;
}
