/* The control socket: a Unix socket (mode 0600) through which the
 * operator's `sitx-recv --pair-window` opens a window and answers. One client
 * at a time; a second one is told "busy" and closed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "err.h"
#include "log.h"
#include "pairing_int.h"
#include "server.h"

struct ctl_write {
    uv_write_t req;
    uv_buf_t buf;
    char data[];
};

static void on_client_closed(uv_handle_t *h)
{
    free(h);
}

static void drop_client(struct pairing *p)
{
    if (p->client == NULL) {
        return;
    }
    uv_close((uv_handle_t *)p->client, on_client_closed);
    p->client = NULL;
    pairing_client_gone(p);
}

static void on_flushed(uv_shutdown_t *req, int status)
{
    (void)status;
    uv_close((uv_handle_t *)req->handle, on_client_closed);
    free(req);
}

/* Closes once what was written went out (a close alone would drop it). */
static void close_after_flush(uv_pipe_t *pipe)
{
    uv_shutdown_t *req = malloc(sizeof(*req));

    if (req == NULL || uv_shutdown(req, (uv_stream_t *)pipe, on_flushed) != 0) {
        free(req);
        uv_close((uv_handle_t *)pipe, on_client_closed);
    }
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
}

static void write_line(uv_pipe_t *pipe, const char *line)
{
    size_t n = strlen(line);
    struct ctl_write *w = malloc(sizeof(*w) + n + 1);

    if (w == NULL) {
        return;
    }
    memcpy(w->data, line, n);
    w->data[n] = '\n';
    w->buf = uv_buf_init(w->data, (unsigned)(n + 1));
    w->req.data = w;
    if (uv_write(&w->req, (uv_stream_t *)pipe, &w->buf, 1, on_written) != 0) {
        free(w);
    }
}

void control_send(struct pairing *p, const char *line)
{
    if (p->client != NULL) {
        write_line(p->client, line);
    }
}

static void on_command(struct pairing *p, const char *line, size_t len)
{
    char err[128];
    uint64_t ms = 0;
    int cmd = sitx_ctl_parse_command(line, len, PAIR_WINDOW_MAX_MS, &ms, err, sizeof(err));

    switch (cmd) {
    case SITX_CTL_OPEN:
        pairing_open(p, ms);
        break;
    case SITX_CTL_YES:
    case SITX_CTL_NO:
        pairing_answer(p, cmd == SITX_CTL_YES);
        break;
    default: {
        char out[200];

        snprintf(out, sizeof(out), "error %s", err);
        control_send(p, out);
        break;
    }
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pairing *p = h->data;

    (void)suggested;
    *buf = uv_buf_init(p->inbuf + p->inlen, (unsigned)(sizeof(p->inbuf) - p->inlen));
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct pairing *p = s->data;
    char *nl;

    (void)buf;
    if (nread < 0) {
        drop_client(p);
        return;
    }
    p->inlen += (size_t)nread;
    while (p->client != NULL && (nl = memchr(p->inbuf, '\n', p->inlen)) != NULL) {
        size_t len = (size_t)(nl - p->inbuf);

        on_command(p, p->inbuf, len);
        memmove(p->inbuf, nl + 1, p->inlen - len - 1);
        p->inlen -= len + 1;
    }
    if (p->inlen == sizeof(p->inbuf)) {
        sitx_log(SITX_LOG_WARNING, "control-error", "error=%s", "command line too long");
        drop_client(p);
    }
}

static void on_control_connection(uv_stream_t *listener, int status)
{
    struct pairing *p = listener->data;
    uv_pipe_t *c;

    if (status < 0) {
        return;
    }
    c = malloc(sizeof(*c));
    if (c == NULL || uv_pipe_init(p->srv->loop, c, 0) != 0) {
        free(c);
        return;
    }
    if (uv_accept(listener, (uv_stream_t *)c) != 0) {
        uv_close((uv_handle_t *)c, on_client_closed);
        return;
    }
    if (p->client != NULL || p->stopped) {
        /* One operator at a time: a second would race the first's answer. */
        write_line(c, p->stopped ? "busy the receiver is stopping"
                                 : "busy another pairing client is attached");
        close_after_flush(c);
        return;
    }
    c->data = p;
    p->client = c;
    p->inlen = 0;
    if (uv_read_start((uv_stream_t *)c, on_alloc, on_client_read) != 0) {
        drop_client(p);
    }
}

int pairing_new(struct sitx_server *s, const char *path, struct pairing **out)
{
    struct pairing *p = calloc(1, sizeof(*p));
    char qpath[PATH_MAX + 64];
    struct stat st;
    mode_t old;
    int rc;

    *out = NULL;
    if (p == NULL) {
        return SITX_E_NOMEM;
    }
    sitx_log_quote(path, qpath, sizeof(qpath));
    if (snprintf(p->path, sizeof(p->path), "%s", path) >= (int)sizeof(p->path)) {
        free(p);
        return -ENAMETOOLONG;
    }
    p->srv = s;
    p->phase = PAIR_SHUT;
    p->sender_answer = -1;
    p->operator_answer = -1;
    /* A socket left by a daemon that died is ours to replace; any other file is not. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        (void)unlink(path);
    }
    uv_pipe_init(s->loop, &p->listener, 0);
    uv_timer_init(s->loop, &p->window);
    p->listener.data = p;
    p->window.data = p;
    old = umask(0177); /* the socket file is born 0600 */
    rc = uv_pipe_bind(&p->listener, path);
    umask(old);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&p->listener, 4, on_control_connection);
    }
    if (rc != 0) {
        sitx_log(SITX_LOG_ERR, "control-failed", "path=%s error=%s", qpath, uv_strerror(rc));
        p->path[0] = '\0';
        pairing_stop(p);
        *out = p; /* freed by the caller's server_clear once the handles closed */
        return rc;
    }
    sitx_log(SITX_LOG_INFO, "control-listening", "path=%s", qpath);
    *out = p;
    return 0;
}

void pairing_stop(struct pairing *p)
{
    if (p == NULL || p->stopped) {
        return;
    }
    p->stopped = 1;
    if (p->phase != PAIR_SHUT) {
        pairing_shut(p, "timeout", "the receiver is stopping");
    }
    if (p->client != NULL) {
        uv_close((uv_handle_t *)p->client, on_client_closed);
        p->client = NULL;
    }
    uv_close((uv_handle_t *)&p->listener, NULL);
    uv_close((uv_handle_t *)&p->window, NULL);
}

void pairing_free(struct pairing *p)
{
    if (p == NULL) {
        return;
    }
    if (p->path[0] != '\0') {
        (void)unlink(p->path);
    }
    free(p);
}
