/* The password key cache file. Text, a version line then one entry a line,
 * newest first:
 *   sitx-psk-cache 1
 *   <saved> <ops> <mem_kib> <salt: 32 hex> <dev> <ino> <size> <mtime_ns> <ctime_ns> <psk: 64 hex>
 * Numbers are decimal without leading zeros. Nothing else is accepted: the
 * file is only ever written by psk_store_save(). */
#include "psk_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "safefile.h"
#include "secmem.h"
#include "statefile.h"

#define STORE_MAGIC  "sitx-psk-cache 1"
#define STORE_FIELDS 10

int psk_store_init(struct psk_store *ps)
{
    memset(ps, 0, sizeof(*ps));
    ps->e = sitx_secret_alloc(PSK_STORE_MAX * sizeof(*ps->e));
    return ps->e != NULL ? 0 : SITX_E_NOMEM;
}

void psk_store_free(struct psk_store *ps)
{
    sitx_secret_free(ps->e, PSK_STORE_MAX * sizeof(*ps->e));
    sodium_memzero(ps, sizeof(*ps));
}

/* A decimal in canonical form (no sign, no leading zero) up to max. */
static int parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 20 || (len > 1 && s[0] == '0')) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        uint64_t d;

        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        d = (uint64_t)(s[i] - '0');
        if (v > (max - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Lower-case hex only, as written: one text per cache. */
static int parse_hex(const char *s, size_t len, uint8_t *out, size_t n)
{
    size_t bin_len = 0;
    const char *end = NULL;
    size_t i;

    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return -1;
        }
    }
    if (len != 2 * n || sodium_hex2bin(out, n, s, len, NULL, &bin_len, &end) != 0 || bin_len != n ||
        end != s + len) {
        return -1;
    }
    return 0;
}

/* One entry line (without its newline) into e. 0, or -1 with the reason in why. */
static int parse_entry(const char *s, size_t len, struct psk_entry *e, const char **why)
{
    const char *f[STORE_FIELDS];
    size_t fl[STORE_FIELDS];
    uint64_t v[STORE_FIELDS];
    size_t k = 0;
    size_t i;

    f[0] = s;
    for (i = 0; i < len; i++) {
        if (s[i] != ' ') {
            continue;
        }
        if (k + 1 == STORE_FIELDS) {
            *why = "more than ten fields";
            return -1;
        }
        fl[k] = (size_t)(s + i - f[k]);
        f[++k] = s + i + 1;
    }
    if (k + 1 != STORE_FIELDS) {
        *why = "fewer than ten fields";
        return -1;
    }
    fl[k] = (size_t)(s + len - f[k]);
    for (i = 0; i < STORE_FIELDS; i++) {
        uint64_t max = i == 1 || i == 2             ? UINT32_MAX
                       : i == 0 || i == 7 || i == 8 ? (uint64_t)INT64_MAX
                                                    : UINT64_MAX;

        if (i == 3 || i == 9) {
            continue; /* hex */
        }
        if (parse_dec(f[i], fl[i], max, &v[i]) != 0) {
            *why = "a number is malformed or out of range";
            return -1;
        }
    }
    if (parse_hex(f[3], fl[3], e->key.salt, SITX_SALT_LEN) != 0) {
        *why = "the salt is not 32 hex digits";
        return -1;
    }
    if (parse_hex(f[9], fl[9], e->psk, SITX_PSK_BYTES) != 0) {
        *why = "the key is not 64 hex digits";
        return -1;
    }
    e->saved_s = (int64_t)v[0];
    e->key.ops = (uint32_t)v[1];
    e->key.mem_kib = (uint32_t)v[2];
    e->key.id.valid = 1;
    e->key.id.dev = v[4];
    e->key.id.ino = v[5];
    e->key.id.size = v[6];
    e->key.id.mtime_ns = (int64_t)v[7];
    e->key.id.ctime_ns = (int64_t)v[8];
    return 0;
}

int psk_store_parse(struct psk_store *ps, const char *buf, size_t len)
{
    const char *why = NULL;
    size_t pos = 0;
    size_t line = 0;

    ps->errstr[0] = '\0';
    ps->n = 0;
    while (pos < len && why == NULL) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        const char *s = buf + pos;
        size_t n = nl != NULL ? (size_t)(nl - s) : len - pos;

        line++;
        if (nl == NULL) {
            why = "truncated (no newline at the end)";
        } else if (line == 1) {
            if (n != strlen(STORE_MAGIC) || memcmp(s, STORE_MAGIC, n) != 0) {
                why = "not a key cache (the first line is not \"" STORE_MAGIC "\")";
            }
        } else if (ps->n == PSK_STORE_MAX) {
            why = "more entries than are ever kept";
        } else if (parse_entry(s, n, &ps->e[ps->n], &why) == 0) {
            ps->n++;
        }
        pos += n + 1;
    }
    if (why == NULL && line == 0) {
        why = "empty";
    }
    if (why != NULL) {
        snprintf(ps->errstr, sizeof(ps->errstr), "line %zu: %s", line, why);
        sodium_memzero(ps->e, PSK_STORE_MAX * sizeof(*ps->e));
        ps->n = 0;
        return SITX_E_INVALID;
    }
    return 0;
}

int psk_store_format(const struct psk_store *ps, char *buf, size_t cap, size_t *len)
{
    size_t o = 0;
    size_t i;
    int n;

    *len = 0;
    n = snprintf(buf, cap, "%s\n", STORE_MAGIC);
    if (n < 0 || (size_t)n >= cap) {
        return SITX_E_TOO_LARGE;
    }
    o = (size_t)n;
    for (i = 0; i < ps->n; i++) {
        const struct psk_entry *e = &ps->e[i];
        char salt[2 * SITX_SALT_LEN + 1];
        char psk[2 * SITX_PSK_BYTES + 1];

        sodium_bin2hex(salt, sizeof(salt), e->key.salt, SITX_SALT_LEN);
        sodium_bin2hex(psk, sizeof(psk), e->psk, SITX_PSK_BYTES);
        n = snprintf(buf + o, cap - o,
                     "%" PRId64 " %" PRIu32 " %" PRIu32 " %s %" PRIu64 " %" PRIu64 " %" PRIu64
                     " %" PRId64 " %" PRId64 " %s\n",
                     e->saved_s, e->key.ops, e->key.mem_kib, salt, e->key.id.dev, e->key.id.ino,
                     e->key.id.size, e->key.id.mtime_ns, e->key.id.ctime_ns, psk);
        sodium_memzero(psk, sizeof(psk));
        if (n < 0 || (size_t)n >= cap - o) {
            return SITX_E_TOO_LARGE;
        }
        o += (size_t)n;
    }
    *len = o;
    return 0;
}

static int key_equal(const struct psk_key *a, const struct psk_key *b)
{
    /* Every field is compared, whatever an earlier one gave. */
    int same = sodium_memcmp(a->salt, b->salt, SITX_SALT_LEN) == 0;

    same &= a->ops == b->ops;
    same &= a->mem_kib == b->mem_kib;
    same &= a->id.valid && b->id.valid;
    same &= a->id.dev == b->id.dev;
    same &= a->id.ino == b->id.ino;
    same &= a->id.size == b->id.size;
    same &= a->id.mtime_ns == b->id.mtime_ns;
    same &= a->id.ctime_ns == b->id.ctime_ns;
    return same;
}

static int fresh(const struct psk_entry *e, int64_t now)
{
    /* A clock set back makes an entry "from the future": not trusted either. */
    return e->saved_s <= now && now - e->saved_s < PSK_STORE_TTL_S;
}

const struct psk_entry *psk_store_find(const struct psk_store *ps, const struct psk_key *k,
                                       int64_t now)
{
    size_t i;

    for (i = 0; i < ps->n; i++) {
        if (key_equal(&ps->e[i].key, k) && fresh(&ps->e[i], now)) {
            return &ps->e[i];
        }
    }
    return NULL;
}

static void remove_at(struct psk_store *ps, size_t i)
{
    memmove(&ps->e[i], &ps->e[i + 1], (ps->n - i - 1) * sizeof(*ps->e));
    ps->n--;
    sodium_memzero(&ps->e[ps->n], sizeof(*ps->e));
}

int psk_store_drop(struct psk_store *ps, const struct psk_key *k)
{
    int dropped = 0;
    size_t i = 0;

    while (i < ps->n) {
        if (key_equal(&ps->e[i].key, k)) {
            remove_at(ps, i);
            dropped = 1;
        } else {
            i++;
        }
    }
    return dropped;
}

void psk_store_prune(struct psk_store *ps, int64_t now)
{
    size_t i = 0;

    while (i < ps->n) {
        if (!fresh(&ps->e[i], now)) {
            remove_at(ps, i);
        } else {
            i++;
        }
    }
}

void psk_store_put(struct psk_store *ps, const struct psk_key *k, const uint8_t *psk, int64_t now)
{
    psk_store_drop(ps, k);
    if (ps->n == PSK_STORE_MAX) {
        ps->n--; /* the oldest goes */
        sodium_memzero(&ps->e[ps->n], sizeof(*ps->e));
    }
    memmove(&ps->e[1], &ps->e[0], ps->n * sizeof(*ps->e));
    ps->e[0].key = *k;
    ps->e[0].saved_s = now;
    memcpy(ps->e[0].psk, psk, SITX_PSK_BYTES);
    ps->n++;
    psk_store_prune(ps, now);
}

int psk_store_path(int create, char **out)
{
    char *dir = NULL;
    int rc = sitx_state_dir(create, &dir);

    *out = NULL;
    if (rc != 0) {
        return rc;
    }
    rc = asprintf(out, "%s/psk-cache", dir);
    free(dir);
    if (rc < 0) {
        *out = NULL;
        return SITX_E_NOMEM;
    }
    return 0;
}

int psk_store_load(struct psk_store *ps, const char *path)
{
    char *buf = NULL;
    size_t size = 0;
    size_t got = 0;
    int fd = sitx_state_open(path, PSK_STORE_FILE_MAX, &size, ps->errstr, sizeof(ps->errstr));
    int rc;

    ps->n = 0;
    if (fd < 0) {
        return fd == -ENOENT ? 0 : fd;
    }
    buf = sitx_secret_alloc(PSK_STORE_FILE_MAX + 1);
    if (buf == NULL) {
        close(fd);
        snprintf(ps->errstr, sizeof(ps->errstr), "out of memory");
        return SITX_E_NOMEM;
    }
    /* One byte more than allowed shows a file that grew since fstat. */
    rc = sitx_read_upto(fd, buf, PSK_STORE_FILE_MAX + 1, &got);
    close(fd);
    if (rc != 0) {
        snprintf(ps->errstr, sizeof(ps->errstr), "cannot read it: %s", sitx_strerror(rc));
    } else if (got != size) {
        snprintf(ps->errstr, sizeof(ps->errstr), "changed while it was read");
        rc = SITX_E_INVALID;
    } else {
        rc = psk_store_parse(ps, buf, got);
    }
    sitx_secret_free(buf, PSK_STORE_FILE_MAX + 1);
    return rc;
}

int psk_store_save(const struct psk_store *ps, const char *path)
{
    struct sitx_state_tmp t;
    char *buf = sitx_secret_alloc(PSK_STORE_FILE_MAX);
    size_t len = 0;
    int rc;

    if (buf == NULL) {
        return SITX_E_NOMEM;
    }
    rc = psk_store_format(ps, buf, PSK_STORE_FILE_MAX, &len);
    if (rc == 0) {
        rc = sitx_state_begin(&t, path);
    }
    if (rc == 0) {
        rc = sitx_write_all(t.fd, buf, len, NULL);
        if (rc != 0) {
            sitx_state_abort(&t);
        } else {
            rc = sitx_state_commit(&t);
        }
    }
    sitx_secret_free(buf, PSK_STORE_FILE_MAX);
    return rc;
}
