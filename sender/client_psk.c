/* The key cache file on the client's side: looked up when a greeting's salt
 * is not the one of the PSK in memory, written (in the thread pool, it
 * fsyncs) once a handshake has taken a derived key, and an entry dropped
 * when the receiver refuses a key taken from it, so that a bad entry costs
 * one more connection and one derivation, never a refused send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client_int.h"
#include "err.h"
#include "log.h"
#include "psk_store.h"
#include "secmem.h"
#include "statefile.h"

enum store_op { STORE_PUT, STORE_DROP };

struct store_job {
    uv_work_t req;
    enum store_op op;
    struct psk_key key;
    uint8_t *psk; /* guarded; PUT only */
    char *path;
    int rc;
    char errstr[PSK_STORE_ERR];
};

static void store_job_free(struct store_job *job)
{
    sitx_secret_free(job->psk, SITX_PSK_BYTES);
    free(job->path);
    sodium_memzero(job, sizeof(*job));
    free(job);
}

static void key_of(struct psk_key *k, const struct client *c, const uint8_t *salt, uint32_t ops,
                   uint32_t mem_kib)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->salt, salt, SITX_SALT_LEN);
    k->ops = ops;
    k->mem_kib = mem_kib;
    k->id = c->cfg.pw->id;
}

static void on_store_work(uv_work_t *req)
{
    struct store_job *job = req->data;
    struct psk_store ps;
    char *dir = NULL;
    int changed = 1;

    job->rc = psk_store_init(&ps);
    if (job->rc != 0) {
        return;
    }
    if (job->op == STORE_PUT) {
        /* The directory may not be there yet on a first run. */
        job->rc = sitx_state_dir(1, &dir);
        free(dir);
    }
    if (job->rc == 0 && psk_store_load(&ps, job->path) != 0) {
        /* A file we refuse to read is replaced by one we wrote (0600), not
         * merged; one we could not drop from stays as it is. */
        memcpy(job->errstr, ps.errstr, sizeof(job->errstr));
        ps.n = 0;
        changed = job->op == STORE_PUT;
    }
    if (job->rc == 0) {
        int64_t now = (int64_t)time(NULL);

        if (job->op == STORE_PUT) {
            psk_store_put(&ps, &job->key, job->psk, now);
        } else {
            changed = changed && psk_store_drop(&ps, &job->key);
            psk_store_prune(&ps, now);
        }
    }
    if (job->rc == 0 && changed) {
        job->rc = psk_store_save(&ps, job->path);
    }
    psk_store_free(&ps);
}

static void on_store_done(uv_work_t *req, int status)
{
    struct store_job *job = req->data;

    char qpath[512];
    char qwhy[256];

    sitx_log_quote(job->path, qpath, sizeof(qpath));
    if (status != 0 || job->rc != 0) {
        /* A cache that cannot be written costs the next run a derivation. */
        sitx_log(SITX_LOG_DEBUG, "password: the key cache was not written", "file=%s error=%s",
                 qpath,
                 sitx_log_quote(status != 0 ? uv_strerror(status) : sitx_strerror(job->rc), qwhy,
                                sizeof(qwhy)));
    } else {
        sitx_log(SITX_LOG_DEBUG,
                 job->op == STORE_PUT ? "password: key saved in the cache"
                                      : "password: key dropped from the cache",
                 "file=%s", qpath);
    }
    store_job_free(job);
}

/* Queues a job that owns copies of what it needs: it may outlive c. */
static void queue_store(struct client *c, enum store_op op, const uint8_t *psk)
{
    struct psk_cache *pc = c->cfg.psk_cache;
    struct store_job *job = calloc(1, sizeof(*job));

    if (job == NULL || (job->path = strdup(pc->store_path)) == NULL) {
        free(job);
        return;
    }
    job->op = op;
    job->req.data = job;
    key_of(&job->key, c, pc->salt, pc->ops, pc->mem_kib);
    if (op == STORE_PUT) {
        job->psk = sitx_secret_alloc(SITX_PSK_BYTES);
        if (job->psk == NULL) {
            store_job_free(job);
            return;
        }
        memcpy(job->psk, psk, SITX_PSK_BYTES);
    }
    if (uv_queue_work(c->loop, &job->req, on_store_work, on_store_done) != 0) {
        store_job_free(job);
    }
}

static int store_usable(const struct client *c)
{
    const struct psk_cache *pc = c->cfg.psk_cache;

    return c->cfg.mode == SITX_AUTH_PASSWORD && pc->store_path != NULL && c->cfg.pw != NULL &&
           c->cfg.pw->id.valid;
}

int client_psk_from_store(struct client *c, const struct sitx_greeting *g)
{
    struct psk_cache *pc = c->cfg.psk_cache;
    struct psk_store ps;
    struct psk_key k;
    const struct psk_entry *e;
    char qpath[512];
    char qwhy[256];
    int found = 0;
    int rc;

    /* After a refusal the file may still hold the entry: its drop runs in
     * the thread pool. */
    if (!store_usable(c) || pc->refused || psk_store_init(&ps) != 0) {
        return 0;
    }
    /* A few KiB read on the loop thread, once a run: cheaper than a job. */
    memset(&k, 0, sizeof(k));
    sitx_log_quote(pc->store_path, qpath, sizeof(qpath));
    rc = psk_store_load(&ps, pc->store_path);
    if (rc != 0) {
        if (!pc->warned) {
            pc->warned = 1;
            sitx_log(SITX_LOG_WARNING, "password: key cache ignored, deriving the key",
                     "file=%s why=%s", qpath, sitx_log_quote(ps.errstr, qwhy, sizeof(qwhy)));
        }
        goto out;
    }
    key_of(&k, c, g->salt, g->argon_ops, g->argon_mem_kib);
    e = psk_store_find(&ps, &k, (int64_t)time(NULL));
    if (e == NULL) {
        goto out;
    }
    if (pc->psk == NULL && (pc->psk = sitx_secret_alloc(SITX_PSK_BYTES)) == NULL) {
        goto out;
    }
    memcpy(pc->psk, e->psk, SITX_PSK_BYTES);
    memcpy(pc->salt, g->salt, SITX_SALT_LEN);
    pc->ops = g->argon_ops;
    pc->mem_kib = g->argon_mem_kib;
    pc->from_store = 1;
    pc->to_store = 0;
    found = 1;
    sitx_log(SITX_LOG_DEBUG, "password: key taken from the cache (salt unchanged)",
             "receiver=%s file=%s", c->cfg.label, qpath);
out:
    sodium_memzero(&k, sizeof(k));
    psk_store_free(&ps);
    return found;
}

void client_psk_derived(struct client *c)
{
    struct psk_cache *pc = c->cfg.psk_cache;

    pc->from_store = 0;
    pc->to_store = store_usable(c);
}

void client_psk_taken(struct client *c)
{
    struct psk_cache *pc = c->cfg.psk_cache;

    if (c->cfg.mode != SITX_AUTH_PASSWORD || pc->psk == NULL) {
        return;
    }
    pc->from_store = 0;
    if (pc->to_store && store_usable(c)) {
        pc->to_store = 0;
        queue_store(c, STORE_PUT, pc->psk);
    }
}

int client_psk_refused(struct client *c)
{
    struct psk_cache *pc = c->cfg.psk_cache;

    if (c->cfg.mode != SITX_AUTH_PASSWORD || !pc->from_store || pc->psk == NULL) {
        return 0;
    }
    if (store_usable(c)) {
        queue_store(c, STORE_DROP, NULL);
    }
    /* Forgotten here too: the next connection derives it afresh. */
    sitx_secret_free(pc->psk, SITX_PSK_BYTES);
    pc->psk = NULL;
    pc->from_store = 0;
    pc->refused = 1;
    sitx_log(SITX_LOG_DEBUG, "password: the receiver refused the cached key, deriving it",
             "receiver=%s", c->cfg.label);
    return 1;
}
