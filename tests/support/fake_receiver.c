/* The scripted receiver: greeting, handshake as responder, then records
 * answered as its script says. */
#include "fake_receiver.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "handshake.h"
#include "hash.h"
#include "record.h"
#include "transport.h"

struct wire {
    int fd;
    struct sitx_cipher *tx;
    struct sitx_cipher *rx;
    unsigned version; /* the HELLO's: which ACCEPT layout the sender reads */
    uint8_t buf[SITX_FRAME_HDR + SITX_FRAME_MAX + 64];
};

static int read_full(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int recv_frame(struct wire *w, size_t *len)
{
    if (read_full(w->fd, w->buf, 2) != 0) {
        return -1;
    }
    *len = sitx_load_be16(w->buf);
    return read_full(w->fd, w->buf, *len);
}

static int send_record(struct wire *w, const uint8_t *rec, size_t len)
{
    uint8_t frame[SITX_FRAME_HDR + 512];
    size_t flen = 0;

    if (sitx_transport_seal(w->tx, rec, len, frame, sizeof(frame), &flen) != 0) {
        return -1;
    }
    return write_full(w->fd, frame, flen);
}

static int send_result(struct wire *w, const struct sitx_offer *o, uint8_t status,
                       const uint8_t *hash, const char *message)
{
    struct sitx_result r;
    uint8_t rec[1 + 16 + 1 + 8 + 4 + 32 + 2 + 255 + 2 + 255];
    size_t len = 0;

    memset(&r, 0, sizeof(r));
    memcpy(r.id, o->id, sizeof(r.id));
    r.status = status;
    r.ms = 3;
    if (hash != NULL) {
        memcpy(r.hash, hash, sizeof(r.hash));
        r.size = o->size;
        snprintf(r.name, sizeof(r.name), "stored-%.200s", o->name);
    }
    snprintf(r.message, sizeof(r.message), "%s", message);
    if (sitx_result_encode(&r, rec, sizeof(rec), &len) != 0) {
        return -1;
    }
    return send_record(w, rec, len);
}

/* Counts attempts per transfer id; returns this one's attempt number. */
static int note_offer(struct fake *f, const uint8_t *id)
{
    int i;

    for (i = 0; i < f->n_ids; i++) {
        if (memcmp(f->ids[i], id, SITX_TRANSFER_ID_BYTES) == 0) {
            return ++f->attempts[i];
        }
    }
    if (f->n_ids == MAX_IDS) {
        return 1;
    }
    memcpy(f->ids[f->n_ids], id, SITX_TRANSFER_ID_BYTES);
    f->attempts[f->n_ids] = 1;
    return f->attempts[f->n_ids++];
}

static int handshake(struct fake *f, struct wire *w)
{
    struct sitx_greeting g;
    struct sitx_hello h;
    struct sitx_hs_config hc;
    struct sitx_hs *hs = NULL;
    uint8_t greet[SITX_GREETING_LEN];
    uint8_t hello[SITX_HELLO_LEN];
    uint8_t prologue[SITX_PROLOGUE_LEN];
    uint8_t msg[256];
    uint8_t payload[64];
    size_t len = 0;
    size_t plen = 0;
    int rc = -1;

    memset(&g, 0, sizeof(g));
    g.version = SITX_PROTO_VERSION;
    g.modes = (uint8_t)f->mode;
    if (f->mode == SITX_AUTH_PASSWORD) {
        g.argon_ops = SITX_ARGON_OPS_MIN;
        g.argon_mem_kib = SITX_ARGON_MEM_KIB_MIN;
        memcpy(g.salt, f->salt, sizeof(g.salt));
    }
    sitx_greeting_encode(&g, greet);
    if (write_full(w->fd, greet, sizeof(greet)) != 0 ||
        read_full(w->fd, hello, sizeof(hello)) != 0 || sitx_hello_decode(hello, &h) != 0) {
        return -1;
    }
    w->version = h.version;
    if (h.version >= SITX_PROTO_V2) {
        pthread_mutex_lock(&f->mu);
        f->hello_v2++;
        pthread_mutex_unlock(&f->mu);
        if (f->script == SC_V1_ONLY) {
            static const uint8_t highest[3] = {0, 1, SITX_PROTO_V1};

            write_full(w->fd, highest, sizeof(highest));
            return -1;
        }
    }
    sitx_prologue_build(greet, hello, prologue);
    memset(&hc, 0, sizeof(hc));
    hc.role = SITX_HS_RESPONDER;
    hc.prologue = prologue;
    hc.prologue_len = sizeof(prologue);
    hc.pattern = f->mode == SITX_AUTH_KEY ? SITX_HS_XX : SITX_HS_NNPSK0;
    hc.static_sk = f->kp.sk;
    hc.psk = f->psk;
    if (sitx_hs_new(&hs, &hc) != 0) {
        return -1;
    }
    for (;;) {
        enum sitx_hs_action a = sitx_hs_get_action(hs);

        if (a == SITX_HS_READ_MESSAGE) {
            if (recv_frame(w, &len) != 0 ||
                sitx_hs_read_message(hs, w->buf, len, payload, sizeof(payload), &plen) != 0) {
                goto out;
            }
            if (f->script == SC_REFUSE_HS) {
                uint8_t empty[2] = {0, 0};

                write_full(w->fd, empty, sizeof(empty));
                goto out;
            }
        } else if (a == SITX_HS_WRITE_MESSAGE) {
            if (sitx_hs_write_message(hs, NULL, 0, msg + 2, sizeof(msg) - 2, &len) != 0) {
                goto out;
            }
            sitx_store_be16(msg, (uint16_t)len);
            if (write_full(w->fd, msg, len + 2) != 0) {
                goto out;
            }
        } else if (a == SITX_HS_SPLIT) {
            rc = sitx_hs_split(hs, &w->tx, &w->rx);
            goto out;
        } else {
            goto out;
        }
    }
out:
    sitx_hs_free(hs);
    return rc;
}

static void serve(struct fake *f, int fd)
{
    struct wire *w = calloc(1, sizeof(*w));
    struct sitx_offer offer;
    struct sitx_content_hash hstate;
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    uint64_t got = 0;
    int early = 0;
    int attempt = 0;
    size_t len = 0;
    size_t rec_len = 0;

    if (w == NULL) {
        return;
    }
    w->fd = fd;
    memset(&offer, 0, sizeof(offer));
    if (handshake(f, w) != 0) {
        goto out;
    }
    pthread_mutex_lock(&f->mu);
    f->split++;
    pthread_mutex_unlock(&f->mu);
    if (f->script == SC_UNAUTHORIZED) {
        uint8_t rec[64];
        struct sitx_close c = {SITX_CLOSE_UNAUTHORIZED, "not on the list"};

        if (sitx_close_encode(&c, rec, sizeof(rec), &len) == 0) {
            send_record(w, rec, len);
        }
        goto out;
    }
    while (recv_frame(w, &len) == 0) {
        struct sitx_record rec;

        if (sitx_transport_open(w->rx, w->buf, len, w->buf, len, &rec_len) != 0 ||
            sitx_record_decode_v(w->buf, rec_len, w->version, &rec, NULL, 0) != 0) {
            break;
        }
        pthread_mutex_lock(&f->mu);
        if (rec.type == SITX_REC_OFFER) {
            offer = rec.u.offer;
            attempt = note_offer(f, offer.id);
            f->offers++;
            got = 0;
            early = 0;
            sitx_content_hash_init(&hstate);
            pthread_mutex_unlock(&f->mu);
            if (f->script == SC_TOO_LARGE) {
                send_result(w, &offer, SITX_ST_TOO_LARGE, NULL, "over the test limit");
            } else if (f->script == SC_ALREADY) {
                send_result(w, &offer, SITX_ST_ALREADY_STORED, offer.hash, "");
            } else {
                struct sitx_accept a;
                uint8_t arec[64];
                size_t alen = 0;

                memset(&a, 0, sizeof(a));
                memcpy(a.id, offer.id, sizeof(a.id));
                if (w->version >= SITX_PROTO_V2 && attempt == 1 &&
                    (f->script == SC_RESUME_WRONG || f->script == SC_RESUME_PAST_END)) {
                    a.offset = f->script == SC_RESUME_WRONG ? offer.size / 2 : offer.size + 1;
                    memset(a.prefix_hash, 0x5a, sizeof(a.prefix_hash));
                }
                sitx_accept_encode_v(&a, w->version, arec, sizeof(arec), &alen);
                send_record(w, arec, alen);
            }
            continue;
        }
        if (rec.type == SITX_REC_DATA) {
            sitx_content_hash_update(&hstate, rec.u.data.bytes, rec.u.data.len);
            got += rec.u.data.len;
            if (early) {
                f->data_after_result++;
            }
            pthread_mutex_unlock(&f->mu);
            if (f->script == SC_EARLY_TIMEOUT && attempt == 1 && !early) {
                early = 1;
                send_result(w, &offer, SITX_ST_TIMEOUT, NULL, "deadline passed");
            }
            continue;
        }
        if (rec.type == SITX_REC_END) {
            if (early) {
                f->ends_after_result++;
                pthread_mutex_unlock(&f->mu);
                continue;
            }
            sitx_content_hash_final(&hstate, hash);
            if (got != offer.size || memcmp(hash, offer.hash, sizeof(hash)) != 0 ||
                memcmp(hash, rec.u.end.hash, sizeof(hash)) != 0) {
                pthread_mutex_unlock(&f->mu);
                send_result(w, &offer, SITX_ST_INTEGRITY, NULL, "hash mismatch");
                continue;
            }
            f->stored++;
            pthread_mutex_unlock(&f->mu);
            if (f->script == SC_BAD_RECEIPT && attempt == 1) {
                hash[0] ^= 0x80;
            }
            send_result(w, &offer, SITX_ST_OK, hash, "");
            continue;
        }
        if (rec.type == SITX_REC_CANCEL) {
            if (rec.u.cancel.reason == SITX_CANCEL_LOCAL) {
                f->cancels_local++;
            }
            pthread_mutex_unlock(&f->mu);
            send_result(w, &offer, SITX_ST_CANCELLED, NULL, "cancelled by sender");
            continue;
        }
        if (rec.type == SITX_REC_CLOSE && rec.u.close.reason == SITX_CLOSE_DONE) {
            f->close_done++;
        }
        if (rec.type == SITX_REC_CLOSE && rec.u.close.reason == SITX_CLOSE_PROTOCOL) {
            f->close_protocol++;
        }
        pthread_mutex_unlock(&f->mu);
        break;
    }
out:
    sitx_cipher_free(w->tx);
    sitx_cipher_free(w->rx);
    free(w);
}

struct serve_arg {
    struct fake *f;
    int fd;
};

static void *serve_main(void *arg)
{
    struct serve_arg *a = arg;

    serve(a->f, a->fd);
    close(a->fd);
    free(a);
    return NULL;
}

/* Accepts connections until told to stop, serving each in its own thread
 * as a real receiver serves them at once. */
static void *fake_main(void *arg)
{
    struct fake *f = arg;
    int i;

    for (;;) {
        struct pollfd p = {f->lfd, POLLIN, 0};
        struct timeval tv = {5, 0};
        int stop;
        int fd;

        pthread_mutex_lock(&f->mu);
        stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop) {
            break;
        }
        if (poll(&p, 1, 20) <= 0) {
            continue;
        }
        fd = accept(f->lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        pthread_mutex_lock(&f->mu);
        i = f->conns;
        if (i < MAX_CONNS) {
            f->conns++;
        }
        pthread_mutex_unlock(&f->mu);
        if (i >= MAX_CONNS) {
            close(fd);
            continue;
        }
        {
            struct serve_arg *a = malloc(sizeof(*a));

            if (a == NULL) {
                close(fd);
                continue;
            }
            a->f = f;
            a->fd = fd;
            if (pthread_create(&f->conn_th[i], NULL, serve_main, a) != 0) {
                close(fd);
                free(a);
                f->conn_th[i] = pthread_self();
            }
        }
    }
    for (i = 0; i < f->conns; i++) {
        if (!pthread_equal(f->conn_th[i], pthread_self())) {
            pthread_join(f->conn_th[i], NULL);
        }
    }
    return NULL;
}

int fake_listen_any(uint16_t *port)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

void fake_free(struct fake *f)
{
    sitx_keypair_clear(&f->kp);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

struct fake *fake_start(enum sitx_auth_mode mode, enum script script,
                        const struct sitx_passphrase *pw)
{
    struct fake *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return NULL;
    }
    f->mode = mode;
    f->script = script;
    randombytes_buf(f->salt, sizeof(f->salt));
    if (sitx_keypair_generate(&f->kp) != 0 ||
        (mode == SITX_AUTH_PASSWORD &&
         sitx_passphrase_derive(pw, f->salt, SITX_ARGON_OPS_MIN, SITX_ARGON_MEM_KIB_MIN, f->psk) !=
             0)) {
        sitx_keypair_clear(&f->kp);
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = fake_listen_any(&f->port);
    if (f->lfd < 0 || pthread_create(&f->th, NULL, fake_main, f) != 0) {
        if (f->lfd >= 0) {
            close(f->lfd);
        }
        fake_free(f);
        return NULL;
    }
    return f;
}

void fake_stop(struct fake *f)
{
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->th, NULL);
    close(f->lfd);
}
