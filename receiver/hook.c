/* --on-receive: one process per stored image, a few at a time, each with a
 * kill timer. The command's argv is split once at start; the image is
 * described in SITX_* variables, never on a shell command line. */
#include "hook.h"

#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "msg.h"
#include "server.h"

extern char **environ;

/* Processes at once; more wait in a queue of bounded length. */
#define HOOK_RUNNING_MAX 4
#define HOOK_QUEUE_MAX   256
#define HOOK_ARGS_MAX    64
#define HOOK_VARS        6

struct hook_job {
    struct hook_job *next;
    char name[SITX_NAME_MAX + 1];
    char sender[32];
    char peer[80];
    char hash_hex[2 * 32 + 1];
    uint64_t size;
};

struct hook_proc {
    uv_process_t proc; /* .data = this */
    uv_timer_t timer;  /* .data = this */
    struct hook_runner *h;
    int open_handles;
    int timed_out;
    char name[SITX_NAME_MAX + 1];
};

struct hook_runner {
    struct sitx_server *srv;
    char *args_buf; /* argv strings live here */
    char *argv[HOOK_ARGS_MAX + 1];
    uint64_t timeout_ms;
    struct hook_proc *running[HOOK_RUNNING_MAX];
    unsigned n_running;
    struct hook_job *head;
    struct hook_job *tail;
    unsigned n_queued;
    int stopping;
};

int hook_runner_new(struct sitx_server *srv, const char *cmdline, uint64_t timeout_ms,
                    struct hook_runner **out)
{
    struct hook_runner *h;
    size_t argc = 0;
    char *p;

    *out = NULL;
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return SITX_E_NOMEM;
    }
    h->srv = srv;
    h->timeout_ms = timeout_ms;
    h->args_buf = strdup(cmdline);
    if (h->args_buf == NULL) {
        free(h);
        return SITX_E_NOMEM;
    }
    p = h->args_buf;
    for (;;) {
        while (*p != '\0' && isspace((unsigned char)*p)) {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        if (argc == HOOK_ARGS_MAX) {
            hook_runner_free(h);
            return SITX_E_INVALID;
        }
        h->argv[argc++] = p;
        while (*p != '\0' && !isspace((unsigned char)*p)) {
            p++;
        }
    }
    if (argc == 0) {
        hook_runner_free(h);
        return SITX_E_INVALID;
    }
    h->argv[argc] = NULL;
    *out = h;
    return 0;
}

static void start_next(struct hook_runner *h);

static void on_proc_handle_closed(uv_handle_t *handle)
{
    struct hook_proc *hp = handle->data;
    struct hook_runner *h = hp->h;

    if (--hp->open_handles > 0) {
        return;
    }
    for (unsigned i = 0; i < h->n_running; i++) {
        if (h->running[i] == hp) {
            h->running[i] = h->running[--h->n_running];
            break;
        }
    }
    free(hp);
    start_next(h);
    server_hook_gone(h->srv);
}

static void close_proc(struct hook_proc *hp)
{
    uv_timer_stop(&hp->timer);
    uv_close((uv_handle_t *)&hp->proc, on_proc_handle_closed);
    uv_close((uv_handle_t *)&hp->timer, on_proc_handle_closed);
}

static void on_hook_exit(uv_process_t *proc, int64_t status, int term_signal)
{
    struct hook_proc *hp = proc->data;
    char qname[1100];

    sitx_log_quote(hp->name, qname, sizeof(qname));
    if (hp->timed_out) {
        sitx_log(SITX_LOG_WARNING, "hook-timeout", "file=%s timeout_ms=%" PRIu64, qname,
                 hp->h->timeout_ms);
    } else if (status != 0 || term_signal != 0) {
        sitx_log(SITX_LOG_WARNING, "hook-failed", "file=%s status=%" PRId64 " signal=%d", qname,
                 status, term_signal);
    } else {
        sitx_log(SITX_LOG_DEBUG, "hook-done", "file=%s", qname);
    }
    close_proc(hp);
}

static void on_hook_timeout(uv_timer_t *timer)
{
    struct hook_proc *hp = timer->data;

    hp->timed_out = 1;
    (void)uv_process_kill(&hp->proc, SIGKILL);
}

static int add_var(char **env, size_t *k, char *vars, size_t cap, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Formats one NAME=value into vars at *off and appends it to env. */
static int add_var(char **env, size_t *k, char *vars, size_t cap, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(vars + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *off) {
        return -1;
    }
    env[(*k)++] = vars + *off;
    *off += (size_t)w + 1;
    return 0;
}

/* The environment the command sees: ours without any SITX_* variable
 * (SITX_PASSWORD above all) or systemd's notify/watchdog/socket ones, plus
 * the description of the image. */
static char **build_env(const struct hook_runner *h, const struct hook_job *j, char *vars,
                        size_t vars_cap)
{
    static const char *const drop[] = {"SITX_", "NOTIFY_SOCKET=", "WATCHDOG_", "LISTEN_"};
    const char *inbox = h->srv->inbox_path;
    size_t n = 0;
    size_t k = 0;
    char **env;
    size_t off = 0;

    while (environ[n] != NULL) {
        n++;
    }
    env = calloc(n + HOOK_VARS + 1, sizeof(*env));
    if (env == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int keep = 1;

        for (size_t d = 0; d < sizeof(drop) / sizeof(drop[0]); d++) {
            if (strncmp(environ[i], drop[d], strlen(drop[d])) == 0) {
                keep = 0;
            }
        }
        if (keep) {
            env[k++] = environ[i];
        }
    }
    if (add_var(env, &k, vars, vars_cap, &off, "SITX_FILE=%s/%s", inbox, j->name) != 0 ||
        add_var(env, &k, vars, vars_cap, &off, "SITX_NAME=%s", j->name) != 0 ||
        add_var(env, &k, vars, vars_cap, &off, "SITX_SIZE=%" PRIu64, j->size) != 0 ||
        add_var(env, &k, vars, vars_cap, &off, "SITX_SENDER=%s", j->sender) != 0 ||
        add_var(env, &k, vars, vars_cap, &off, "SITX_PEER=%s", j->peer) != 0 ||
        add_var(env, &k, vars, vars_cap, &off, "SITX_HASH=%s", j->hash_hex) != 0) {
        free(env);
        return NULL;
    }
    env[k] = NULL;
    return env;
}

static void spawn(struct hook_runner *h, struct hook_job *j)
{
    struct hook_proc *hp = NULL;
    uv_process_options_t opts;
    uv_stdio_container_t stdio[3];
    char vars[PATH_MAX + 1024];
    char qname[1100];
    char **env = NULL;
    int rc;

    sitx_log_quote(j->name, qname, sizeof(qname));
    hp = calloc(1, sizeof(*hp));
    env = build_env(h, j, vars, sizeof(vars));
    if (hp == NULL || env == NULL) {
        sitx_log(SITX_LOG_WARNING, "hook-failed", "file=%s error=out-of-memory", qname);
        free(hp);
        free(env);
        return;
    }
    hp->h = h;
    snprintf(hp->name, sizeof(hp->name), "%s", j->name);
    memset(&opts, 0, sizeof(opts));
    memset(stdio, 0, sizeof(stdio));
    stdio[0].flags = UV_IGNORE; /* /dev/null */
    /* Its output joins our log stream on stderr rather than a stdout nobody reads. */
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = STDERR_FILENO;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = STDERR_FILENO;
    opts.file = h->argv[0];
    opts.args = h->argv;
    opts.env = env;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    opts.exit_cb = on_hook_exit;
    hp->proc.data = hp;
    hp->timer.data = hp;
    uv_timer_init(h->srv->loop, &hp->timer);
    hp->open_handles = 2;
    h->running[h->n_running++] = hp;
    rc = uv_spawn(h->srv->loop, &hp->proc, &opts);
    free(env);
    if (rc != 0) {
        sitx_log(SITX_LOG_WARNING, "hook-failed", "file=%s error=%s", qname, uv_strerror(rc));
        close_proc(hp);
        return;
    }
    uv_timer_start(&hp->timer, on_hook_timeout, h->timeout_ms, 0);
}

static void start_next(struct hook_runner *h)
{
    while (!h->stopping && h->head != NULL && h->n_running < HOOK_RUNNING_MAX) {
        struct hook_job *j = h->head;

        h->head = j->next;
        if (h->head == NULL) {
            h->tail = NULL;
        }
        h->n_queued--;
        spawn(h, j);
        free(j);
    }
}

void hook_run(struct hook_runner *h, const struct hook_info *info)
{
    struct hook_job *j;
    char qname[1100];

    if (h->stopping || h->n_queued >= HOOK_QUEUE_MAX) {
        sitx_log(SITX_LOG_WARNING, "hook-dropped", "file=%s reason=%s",
                 sitx_log_quote(info->name, qname, sizeof(qname)),
                 h->stopping ? "stopping" : "queue-full");
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        sitx_log(SITX_LOG_WARNING, "hook-dropped", "file=%s reason=out-of-memory",
                 sitx_log_quote(info->name, qname, sizeof(qname)));
        return;
    }
    snprintf(j->name, sizeof(j->name), "%s", info->name);
    snprintf(j->sender, sizeof(j->sender), "%s", info->sender);
    snprintf(j->peer, sizeof(j->peer), "%s", info->peer);
    snprintf(j->hash_hex, sizeof(j->hash_hex), "%s", info->hash_hex);
    j->size = info->size;
    if (h->tail != NULL) {
        h->tail->next = j;
    } else {
        h->head = j;
    }
    h->tail = j;
    h->n_queued++;
    start_next(h);
}

unsigned hook_runner_pending(const struct hook_runner *h)
{
    return h == NULL ? 0 : h->n_running + h->n_queued;
}

void hook_runner_stop(struct hook_runner *h)
{
    if (h == NULL) {
        return;
    }
    h->stopping = 1;
    while (h->head != NULL) {
        struct hook_job *j = h->head;

        h->head = j->next;
        free(j);
    }
    h->tail = NULL;
    h->n_queued = 0;
    for (unsigned i = 0; i < h->n_running; i++) {
        if (!uv_is_closing((uv_handle_t *)&h->running[i]->proc)) {
            (void)uv_process_kill(&h->running[i]->proc, SIGKILL);
        }
    }
}

void hook_runner_free(struct hook_runner *h)
{
    if (h == NULL) {
        return;
    }
    while (h->head != NULL) {
        struct hook_job *j = h->head;

        h->head = j->next;
        free(j);
    }
    free(h->args_buf);
    free(h);
}
