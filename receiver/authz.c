/* Authorised senders: load, reload on SIGHUP, look-up. */
#include "authz.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

struct authz {
    char *path;
    struct sitx_peers *peers;
};

static void log_load_error(const char *event, const char *path, int rc, const char *err)
{
    char qpath[1024];
    char qerr[512];

    sitx_log(SITX_LOG_ERR, event, "path=%s error=%s", sitx_log_quote(path, qpath, sizeof(qpath)),
             sitx_log_quote(err[0] != '\0' ? err : sitx_strerror(rc), qerr, sizeof(qerr)));
}

int authz_load(const char *path, struct authz **out)
{
    struct authz *a = NULL;
    char err[256] = "";
    int rc;

    *out = NULL;
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    a->path = strdup(path);
    if (a->path == NULL) {
        rc = SITX_E_NOMEM;
        goto out;
    }
    rc = sitx_peers_load(path, &a->peers, err, sizeof(err));
    if (rc != 0) {
        log_load_error("authorized-load-failed", path, rc, err);
        goto out;
    }
    *out = a;
    a = NULL;
    rc = 0;
out:
    authz_free(a);
    return rc;
}

int authz_reload(struct authz *a)
{
    struct sitx_peers *fresh = NULL;
    char err[256] = "";
    char qpath[1024];
    int rc;

    rc = sitx_peers_load(a->path, &fresh, err, sizeof(err));
    if (rc != 0) {
        /* Keep the list in force: a half-edited file must not change who gets in. */
        log_load_error("reload-failed", a->path, rc, err);
        return rc;
    }
    sitx_peers_free(a->peers);
    a->peers = fresh;
    sitx_log(SITX_LOG_NOTICE, "reloaded", "path=%s authorized=%zu",
             sitx_log_quote(a->path, qpath, sizeof(qpath)), a->peers->count);
    return 0;
}

const struct sitx_peer *authz_find(const struct authz *a, const uint8_t pk[static SITX_KEY_BYTES])
{
    if (a == NULL) {
        return NULL;
    }
    return sitx_peers_find(a->peers, pk);
}

size_t authz_count(const struct authz *a)
{
    return a == NULL || a->peers == NULL ? 0 : a->peers->count;
}

const struct sitx_peer *authz_at(const struct authz *a, size_t i)
{
    return i < authz_count(a) ? &a->peers->list[i] : NULL;
}

void authz_free(struct authz *a)
{
    if (a == NULL) {
        return;
    }
    sitx_peers_free(a->peers);
    free(a->path);
    free(a);
}
