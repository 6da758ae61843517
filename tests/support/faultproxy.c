/* sitx-faultproxy: a TCP relay for the end-to-end tests that damages the
 * stream on purpose. It relays both directions between each client and the
 * target; on the first N connections (--faults, default 1), once BYTES bytes
 * have passed in the chosen direction, it
 *   flip:     flips one bit of the next byte and keeps relaying;
 *   truncate: closes both sides right after those bytes;
 *   stall:    stops forwarding in both directions but keeps both sockets
 *             open (a black-holed link); data read afterwards is dropped.
 * Later connections pass through untouched, so a client's retry through the
 * same proxy succeeds. "listening port=PORT" on stdout says it is ready;
 * events go to stderr one a line. SIGTERM and SIGINT close everything and
 * exit 0. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define PROG       "sitx-faultproxy"
#define READ_CHUNK 65536
/* Stop reading a side while the other side has this much queued, resume
 * below the low mark, so a slow peer cannot make the proxy buffer a file. */
#define QUEUE_HIGH (4u << 20)
#define QUEUE_LOW  (1u << 20)

enum fault_mode {
    MODE_PASS,
    MODE_FLIP,
    MODE_TRUNCATE,
    MODE_STALL,
};

enum direction {
    DIR_UP = 0,   /* client -> target */
    DIR_DOWN = 1, /* target -> client */
};

struct config {
    const char *listen;
    const char *target;
    enum fault_mode mode;
    uint64_t after;
    enum direction dir;
    uint64_t faults;
};

struct relay;

/* One end of a relay; side[DIR_UP] is the client, side[DIR_DOWN] the target,
 * so data read on side[d] travels in direction d. */
struct side {
    uv_tcp_t tcp;
    struct relay *r;
    bool open;     /* handle initialised and not yet closing */
    bool reading;  /* uv_read_start active */
    bool paused;   /* reading stopped for back-pressure */
    bool eof;      /* peer finished sending on this side */
    bool shut;     /* we shut down our writing half towards this side */
    uint64_t seen; /* bytes read on this side */
};

struct relay {
    struct relay *prev, *next;
    struct proxy *px;
    uint64_t id;
    bool faulted;   /* this connection gets the fault */
    bool triggered; /* the fault happened */
    bool stalled;   /* stall mode after the trigger */
    bool connected; /* target connection established */
    bool closing;
    int refs; /* open handles + requests in flight; freed at 0 */
    struct side side[2];
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req[2];
};

struct write_req {
    uv_write_t req;
    struct relay *r;
    bool close_after; /* truncate: close the relay once this prefix is out */
    char *data;
};

struct proxy {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    struct sockaddr_storage target;
    struct config cfg;
    uint64_t accepted;
    struct relay *relays;
    bool stopping;
};

static const char *mode_name(enum fault_mode m)
{
    switch (m) {
    case MODE_PASS:
        return "pass";
    case MODE_FLIP:
        return "flip";
    case MODE_TRUNCATE:
        return "truncate";
    case MODE_STALL:
        return "stall";
    }
    return "?";
}

static void relay_close(struct relay *r);
static void side_start_reading(struct side *s);

static void relay_unref(struct relay *r)
{
    if (--r->refs > 0) {
        return;
    }
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        r->px->relays = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    fprintf(stderr, PROG ": closed conn=%" PRIu64 " up=%" PRIu64 " down=%" PRIu64 "\n", r->id,
            r->side[DIR_UP].seen, r->side[DIR_DOWN].seen);
    free(r);
}

static void on_close(uv_handle_t *h)
{
    struct side *s = h->data;

    relay_unref(s->r);
}

static void side_close(struct side *s)
{
    if (!s->open) {
        return;
    }
    s->open = false;
    s->reading = false;
    uv_close((uv_handle_t *)&s->tcp, on_close);
}

static void relay_close(struct relay *r)
{
    if (r->closing) {
        return;
    }
    r->closing = true;
    side_close(&r->side[DIR_UP]);
    side_close(&r->side[DIR_DOWN]);
}

static int side_stop_reading(struct side *s)
{
    int rc;

    if (!s->open || !s->reading) {
        return 0;
    }
    rc = uv_read_stop((uv_stream_t *)&s->tcp);
    if (rc != 0) {
        fprintf(stderr, PROG ": read_stop conn=%" PRIu64 " error=%s\n", s->r->id, uv_strerror(rc));
        return rc;
    }
    s->reading = false;
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(READ_CHUNK);
    buf->len = buf->base != NULL ? READ_CHUNK : 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct relay *r = req->data;

    (void)status;
    /* Both directions finished: nothing more can flow. */
    if (r->side[DIR_UP].eof && r->side[DIR_DOWN].eof) {
        relay_close(r);
    }
    relay_unref(r);
}

/* The sender of direction d finished: pass the end on to the other side. */
static void forward_eof(struct relay *r, enum direction d)
{
    struct side *dst = &r->side[1 - d];
    int rc;

    if (!dst->open || dst->shut) {
        return;
    }
    dst->shut = true;
    r->shutdown_req[d].data = r;
    rc = uv_shutdown(&r->shutdown_req[d], (uv_stream_t *)&dst->tcp, on_shutdown);
    if (rc != 0) {
        fprintf(stderr, PROG ": shutdown conn=%" PRIu64 " error=%s\n", r->id, uv_strerror(rc));
        relay_close(r);
        return;
    }
    r->refs++;
}

static void on_write_done(uv_write_t *req, int status)
{
    struct write_req *w = req->data;
    struct relay *r = w->r;
    int d;

    free(w->data);
    if (status != 0 && status != UV_ECANCELED) {
        fprintf(stderr, PROG ": write conn=%" PRIu64 " error=%s\n", r->id, uv_strerror(status));
        relay_close(r);
    } else if (w->close_after) {
        fprintf(stderr, PROG ": truncated conn=%" PRIu64 "\n", r->id);
        relay_close(r);
    } else if (!r->closing) {
        /* Resume a reader paused for back-pressure once its peer drained. */
        for (d = 0; d < 2; d++) {
            struct side *src = &r->side[d];
            struct side *dst = &r->side[1 - d];

            if (src->paused && dst->open &&
                uv_stream_get_write_queue_size((uv_stream_t *)&dst->tcp) < QUEUE_LOW) {
                src->paused = false;
                side_start_reading(src);
            }
        }
    }
    free(w);
    relay_unref(r);
}

/* Queues data[0..len) (taking ownership of data) to the side opposite src. */
static int relay_write(struct relay *r, enum direction d, char *data, size_t len, bool close_after)
{
    struct side *dst = &r->side[1 - d];
    struct write_req *w = NULL;
    uv_buf_t buf;
    int rc;

    if (!dst->open) {
        free(data);
        return UV_EPIPE;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        free(data);
        return UV_ENOMEM;
    }
    w->r = r;
    w->data = data;
    w->close_after = close_after;
    w->req.data = w;
    buf = uv_buf_init(data, (unsigned int)len);
    rc = uv_write(&w->req, (uv_stream_t *)&dst->tcp, &buf, 1, on_write_done);
    if (rc != 0) {
        free(data);
        free(w);
        return rc;
    }
    r->refs++;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&dst->tcp) > QUEUE_HIGH) {
        struct side *src = &r->side[d];

        if (src->reading) {
            rc = side_stop_reading(src);
            if (rc != 0) {
                return rc;
            }
            src->paused = true;
        }
    }
    return 0;
}

/* Applies the configured fault to a chunk read in direction d, starting at
 * stream offset pos. Returns how many leading bytes to forward; sets
 * *close_after when the relay must close once they are out. */
static size_t apply_fault(struct relay *r, enum direction d, uint64_t pos, char *data, size_t len,
                          bool *close_after)
{
    const struct config *cfg = &r->px->cfg;
    size_t at;

    *close_after = false;
    if (r->stalled) {
        return 0;
    }
    if (!r->faulted || r->triggered || d != cfg->dir || cfg->mode == MODE_PASS) {
        return len;
    }
    if (cfg->after < pos || cfg->after - pos >= len) {
        return len;
    }
    at = (size_t)(cfg->after - pos);
    r->triggered = true;
    fprintf(stderr, PROG ": fault conn=%" PRIu64 " mode=%s direction=%s at=%" PRIu64 "\n", r->id,
            mode_name(cfg->mode), d == DIR_UP ? "up" : "down", cfg->after);
    switch (cfg->mode) {
    case MODE_FLIP:
        data[at] = (char)(data[at] ^ 0x10);
        return len;
    case MODE_TRUNCATE:
        *close_after = true;
        return at;
    case MODE_STALL:
        r->stalled = true;
        return at;
    case MODE_PASS:
        break;
    }
    return len;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct side *s = stream->data;
    struct relay *r = s->r;
    enum direction d = s == &r->side[DIR_UP] ? DIR_UP : DIR_DOWN;
    bool close_after = false;
    size_t fwd;
    int rc;

    if (nread == 0) {
        free(buf->base);
        return;
    }
    if (nread < 0) {
        free(buf->base);
        if (nread != UV_EOF) {
            fprintf(stderr, PROG ": read conn=%" PRIu64 " side=%s error=%s\n", r->id,
                    d == DIR_UP ? "client" : "target", uv_strerror((int)nread));
            relay_close(r);
            return;
        }
        s->eof = true;
        if (side_stop_reading(s) != 0) {
            relay_close(r);
            return;
        }
        if (r->stalled) {
            /* A client that gives up ends the stalled relay; a target that
             * goes away does not unblock the client: the link is dead. */
            if (d == DIR_UP) {
                relay_close(r);
            } else {
                side_close(s);
            }
            return;
        }
        forward_eof(r, d);
        return;
    }
    fwd = apply_fault(r, d, s->seen, buf->base, (size_t)nread, &close_after);
    s->seen += (uint64_t)nread;
    if (fwd == 0) {
        free(buf->base);
        if (close_after) {
            fprintf(stderr, PROG ": truncated conn=%" PRIu64 "\n", r->id);
            relay_close(r);
        }
        return;
    }
    rc = relay_write(r, d, buf->base, fwd, close_after);
    if (rc != 0) {
        fprintf(stderr, PROG ": relay conn=%" PRIu64 " error=%s\n", r->id, uv_strerror(rc));
        relay_close(r);
        return;
    }
    if (close_after) {
        /* Nothing after the cut may be read, not even into the void. */
        if (side_stop_reading(&r->side[DIR_UP]) != 0 ||
            side_stop_reading(&r->side[DIR_DOWN]) != 0) {
            relay_close(r);
        }
    }
}

static void side_start_reading(struct side *s)
{
    int rc;

    if (!s->open || s->reading || s->eof) {
        return;
    }
    rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (rc != 0) {
        fprintf(stderr, PROG ": read_start conn=%" PRIu64 " error=%s\n", s->r->id, uv_strerror(rc));
        relay_close(s->r);
        return;
    }
    s->reading = true;
}

static void on_target_connected(uv_connect_t *req, int status)
{
    struct relay *r = req->data;

    if (status != 0) {
        if (status != UV_ECANCELED) {
            fprintf(stderr, PROG ": connect conn=%" PRIu64 " error=%s\n", r->id,
                    uv_strerror(status));
        }
        relay_close(r);
    } else if (!r->closing) {
        r->connected = true;
        side_start_reading(&r->side[DIR_UP]);
        side_start_reading(&r->side[DIR_DOWN]);
    }
    relay_unref(r);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct proxy *px = listener->data;
    struct relay *r = NULL;
    int rc;
    int d;

    if (status != 0) {
        fprintf(stderr, PROG ": accept error=%s\n", uv_strerror(status));
        return;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return;
    }
    r->px = px;
    r->id = ++px->accepted;
    r->faulted = px->cfg.mode != MODE_PASS && r->id <= px->cfg.faults;
    r->refs = 1; /* held until this function is done */
    r->next = px->relays;
    if (px->relays != NULL) {
        px->relays->prev = r;
    }
    px->relays = r;
    for (d = 0; d < 2; d++) {
        r->side[d].r = r;
        rc = uv_tcp_init(px->loop, &r->side[d].tcp);
        if (rc != 0) {
            fprintf(stderr, PROG ": tcp_init error=%s\n", uv_strerror(rc));
            goto fail;
        }
        r->side[d].tcp.data = &r->side[d];
        r->side[d].open = true;
        r->refs++;
    }
    rc = uv_accept(listener, (uv_stream_t *)&r->side[DIR_UP].tcp);
    if (rc != 0) {
        fprintf(stderr, PROG ": accept error=%s\n", uv_strerror(rc));
        goto fail;
    }
    /* Small writes (handshake messages) should not wait for Nagle. */
    rc = uv_tcp_nodelay(&r->side[DIR_UP].tcp, 1);
    if (rc == 0) {
        rc = uv_tcp_nodelay(&r->side[DIR_DOWN].tcp, 1);
    }
    if (rc != 0) {
        fprintf(stderr, PROG ": nodelay error=%s\n", uv_strerror(rc));
        goto fail;
    }
    r->connect_req.data = r;
    rc = uv_tcp_connect(&r->connect_req, &r->side[DIR_DOWN].tcp,
                        (const struct sockaddr *)&px->target, on_target_connected);
    if (rc != 0) {
        fprintf(stderr, PROG ": connect conn=%" PRIu64 " error=%s\n", r->id, uv_strerror(rc));
        goto fail;
    }
    r->refs++;
    fprintf(stderr, PROG ": accepted conn=%" PRIu64 " faulted=%s\n", r->id,
            r->faulted ? "yes" : "no");
    relay_unref(r);
    return;
fail:
    relay_close(r);
    relay_unref(r);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct proxy *px = sig->data;
    struct relay *r;

    if (px->stopping) {
        return;
    }
    px->stopping = true;
    fprintf(stderr, PROG ": stopping signal=%d\n", signum);
    for (r = px->relays; r != NULL; r = r->next) {
        relay_close(r);
    }
    uv_close((uv_handle_t *)&px->listener, NULL);
    uv_close((uv_handle_t *)&px->sigterm, NULL);
    uv_close((uv_handle_t *)&px->sigint, NULL);
}

/* "host:port" or "[v6]:port" into a socket address; the host may be a name. */
static int resolve(uv_loop_t *loop, const char *spec, struct sockaddr_storage *out)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    const char *port = NULL;
    size_t hlen;
    uv_getaddrinfo_t req;
    struct addrinfo hints;
    int rc;

    if (colon == NULL || colon[1] == '\0') {
        return UV_EINVAL;
    }
    port = colon + 1;
    hlen = (size_t)(colon - spec);
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        spec++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        return UV_EINVAL;
    }
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    /* No callback: libuv resolves synchronously, which is what start-up wants. */
    rc = uv_getaddrinfo(loop, &req, NULL, host, port, &hints);
    if (rc != 0) {
        return rc;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
    uv_freeaddrinfo(req.addrinfo);
    return 0;
}

static uint64_t parse_u64(const char *opt, const char *s)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        fprintf(stderr, PROG ": %s is not a non-negative integer: `%s'\n", opt, s);
        exit(2);
    }
    return (uint64_t)v;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: " PROG " --listen HOST:PORT --target HOST:PORT [options]\n"
               "\n"
               "  --listen HOST:PORT     where to accept clients (port 0: any free port)\n"
               "  --target HOST:PORT     where to relay each client\n"
               "  --mode MODE            pass (default), flip, truncate or stall\n"
               "  --after BYTES          bytes relayed untouched before the fault (default 0)\n"
               "  --direction up|down    up: client to target (default); down: the reverse\n"
               "  --faults N             connections that get the fault (default 1)\n"
               "  --help                 this text\n"
               "\n"
               "Prints \"listening port=PORT\" on stdout when ready. SIGTERM stops it.\n"
               "\n"
               "Example: " PROG " --listen 127.0.0.1:0 --target 127.0.0.1:7717 \\\n"
               "             --mode flip --after 2000\n");
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"target", required_argument, NULL, 't'},
        {"mode", required_argument, NULL, 'm'},
        {"after", required_argument, NULL, 'a'},
        {"direction", required_argument, NULL, 'd'},
        {"faults", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(cfg, 0, sizeof(*cfg));
    cfg->mode = MODE_PASS;
    cfg->dir = DIR_UP;
    cfg->faults = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            cfg->listen = optarg;
            break;
        case 't':
            cfg->target = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "pass") == 0) {
                cfg->mode = MODE_PASS;
            } else if (strcmp(optarg, "flip") == 0) {
                cfg->mode = MODE_FLIP;
            } else if (strcmp(optarg, "truncate") == 0) {
                cfg->mode = MODE_TRUNCATE;
            } else if (strcmp(optarg, "stall") == 0) {
                cfg->mode = MODE_STALL;
            } else {
                fprintf(stderr, PROG ": --mode is not pass, flip, truncate or stall: `%s'\n",
                        optarg);
                exit(2);
            }
            break;
        case 'a':
            cfg->after = parse_u64("--after", optarg);
            break;
        case 'd':
            if (strcmp(optarg, "up") == 0) {
                cfg->dir = DIR_UP;
            } else if (strcmp(optarg, "down") == 0) {
                cfg->dir = DIR_DOWN;
            } else {
                fprintf(stderr, PROG ": --direction is not up or down: `%s'\n", optarg);
                exit(2);
            }
            break;
        case 'f':
            cfg->faults = parse_u64("--faults", optarg);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind != argc || cfg->listen == NULL || cfg->target == NULL) {
        usage(stderr);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    struct proxy px;
    struct sockaddr_storage addr;
    int namelen = (int)sizeof(addr);
    int port;
    int rc;

    memset(&px, 0, sizeof(px));
    parse_args(argc, argv, &px.cfg);
    /* A peer that vanishes mid-write must give EPIPE, not kill the proxy. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, PROG ": cannot ignore SIGPIPE\n");
        return 1;
    }
    px.loop = uv_default_loop();
    rc = resolve(px.loop, px.cfg.target, &px.target);
    if (rc != 0) {
        fprintf(stderr, PROG ": bad --target `%s': %s\n", px.cfg.target, uv_strerror(rc));
        return 2;
    }
    rc = resolve(px.loop, px.cfg.listen, &addr);
    if (rc != 0) {
        fprintf(stderr, PROG ": bad --listen `%s': %s\n", px.cfg.listen, uv_strerror(rc));
        return 2;
    }
    rc = uv_tcp_init(px.loop, &px.listener);
    if (rc != 0) {
        goto fail;
    }
    px.listener.data = &px;
    rc = uv_tcp_bind(&px.listener, (const struct sockaddr *)&addr, 0);
    if (rc != 0) {
        goto fail;
    }
    rc = uv_listen((uv_stream_t *)&px.listener, 64, on_connection);
    if (rc != 0) {
        goto fail;
    }
    rc = uv_tcp_getsockname(&px.listener, (struct sockaddr *)&addr, &namelen);
    if (rc != 0) {
        goto fail;
    }
    port = addr.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&addr)->sin6_port)
                                      : ntohs(((struct sockaddr_in *)&addr)->sin_port);
    rc = uv_signal_init(px.loop, &px.sigterm);
    if (rc == 0) {
        px.sigterm.data = &px;
        rc = uv_signal_start(&px.sigterm, on_signal, SIGTERM);
    }
    if (rc == 0) {
        rc = uv_signal_init(px.loop, &px.sigint);
    }
    if (rc == 0) {
        px.sigint.data = &px;
        rc = uv_signal_start(&px.sigint, on_signal, SIGINT);
    }
    if (rc != 0) {
        goto fail;
    }
    fprintf(stderr, PROG ": ready port=%d target=%s mode=%s after=%" PRIu64 " faults=%" PRIu64 "\n",
            port, px.cfg.target, mode_name(px.cfg.mode), px.cfg.after, px.cfg.faults);
    if (printf("listening port=%d\n", port) < 0 || fflush(stdout) != 0) {
        rc = UV_EIO;
        goto fail;
    }
    rc = uv_run(px.loop, UV_RUN_DEFAULT);
    if (rc != 0) {
        fprintf(stderr, PROG ": loop ended with active handles\n");
    }
    rc = uv_loop_close(px.loop);
    if (rc != 0) {
        fprintf(stderr, PROG ": loop_close error=%s\n", uv_strerror(rc));
        return 1;
    }
    return 0;
fail:
    fprintf(stderr, PROG ": cannot listen on `%s': %s\n", px.cfg.listen, uv_strerror(rc));
    return 1;
}
