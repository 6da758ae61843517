/* The --watch state file. Text, one entry a line after a version line:
 *   sitx-watch-state 1
 *   <64 hex: hash> <size> <mtime in ns> <name, %XX for '%', space, controls>
 * Lines starting with '#' are comments (the directory and receiver it is for). */
#include "watch_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "hex.h"
#include "safefile.h"
#include "statefile.h"

#define STATE_MAGIC    "sitx-watch-state 1"
#define STATE_FILE_MAX (256u * 1024 * 1024)
#define STATE_NAME_MAX 4096

int watch_state_path(const char *dir, const char *receiver, char **out)
{
    uint8_t h[16];
    char hex[sizeof(h) * 2 + 1];
    crypto_generichash_state gs;
    char *base;
    int rc;

    *out = NULL;
    rc = sitx_state_dir(1, &base);
    if (rc != 0) {
        return rc;
    }
    /* The NUL separates the two, so ("a b", "c") and ("a", "b c") differ. */
    crypto_generichash_init(&gs, NULL, 0, sizeof(h));
    crypto_generichash_update(&gs, (const uint8_t *)dir, strlen(dir) + 1);
    crypto_generichash_update(&gs, (const uint8_t *)receiver, strlen(receiver) + 1);
    crypto_generichash_final(&gs, h, sizeof(h));
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    rc = asprintf(out, "%s/watch-%s.state", base, hex);
    free(base);
    if (rc < 0) {
        *out = NULL;
        return SITX_E_NOMEM;
    }
    return 0;
}

/* Undoes the %XX escapes of s[0..len) into a new string; NULL when bad. */
static char *unescape(const char *s, size_t len)
{
    char *out;
    size_t i;
    size_t o = 0;

    if (len == 0 || len > 3 * STATE_NAME_MAX) {
        return NULL;
    }
    out = malloc(len + 1);
    if (out == NULL) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            if (len - i < 3 || sitx_hexval(s[i + 1]) < 0 || sitx_hexval(s[i + 2]) < 0) {
                free(out);
                return NULL;
            }
            c = (unsigned char)(sitx_hexval(s[i + 1]) * 16 + sitx_hexval(s[i + 2]));
            i += 2;
            if (c == '\0' || c == '/') {
                free(out);
                return NULL;
            }
        } else if (c <= 0x20 || c == 0x7f || c == '/') {
            free(out);
            return NULL;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 20) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static size_t state_max(const struct watch_state *st)
{
    return st->max != 0 ? st->max : WATCH_STATE_MAX;
}

/* One entry line (without its newline). 0, SITX_E_INVALID (why in
 * st->errstr), SITX_E_LIMIT or SITX_E_NOMEM. */
static int parse_line(struct watch_state *st, const char *s, size_t len)
{
    uint8_t hash[WATCH_HASH_BYTES];
    const char *f[4];
    size_t flen[4];
    size_t i;
    size_t k = 0;
    size_t bin_len = 0;
    const char *hex_end = NULL;
    uint64_t size;
    uint64_t mtime;
    char *name;
    int rc;

    f[0] = s;
    for (i = 0; i < len && k < 3; i++) {
        if (s[i] == ' ') {
            flen[k] = (size_t)(s + i - f[k]);
            f[++k] = s + i + 1;
        }
    }
    if (k != 3) {
        snprintf(st->errstr, sizeof(st->errstr), "not four fields (hash size mtime name)");
        return SITX_E_INVALID;
    }
    flen[3] = (size_t)(s + len - f[3]);
    if (flen[0] != 2 * WATCH_HASH_BYTES ||
        sodium_hex2bin(hash, sizeof(hash), f[0], flen[0], NULL, &bin_len, &hex_end) != 0 ||
        bin_len != sizeof(hash) || hex_end != f[0] + flen[0]) {
        snprintf(st->errstr, sizeof(st->errstr), "the hash is not 64 hex digits");
        return SITX_E_INVALID;
    }
    if (parse_u64(f[1], flen[1], &size) != 0 || parse_u64(f[2], flen[2], &mtime) != 0 ||
        mtime > INT64_MAX) {
        snprintf(st->errstr, sizeof(st->errstr), "size or mtime is not a number");
        return SITX_E_INVALID;
    }
    name = unescape(f[3], flen[3]);
    if (name == NULL) {
        snprintf(st->errstr, sizeof(st->errstr), "the name is empty or badly escaped");
        return SITX_E_INVALID;
    }
    if (st->n >= state_max(st)) {
        free(name);
        snprintf(st->errstr, sizeof(st->errstr), "more than %zu entries", state_max(st));
        return SITX_E_LIMIT;
    }
    rc = watch_state_add(st, hash, name, size, (int64_t)mtime);
    free(name);
    return rc;
}

int watch_state_parse(struct watch_state *st, const char *buf, size_t len, size_t *bad_line)
{
    size_t pos = 0;
    size_t line = 0;

    *bad_line = 0;
    st->errstr[0] = '\0';
    if (len == 0) {
        *bad_line = 1;
        snprintf(st->errstr, sizeof(st->errstr), "empty");
        return SITX_E_INVALID;
    }
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - buf) : len;
        const char *s = buf + pos;
        size_t n = end - pos;
        int rc = 0;

        line++;
        if (nl == NULL) {
            /* Saves write whole lines and rename: a cut line is damage. */
            snprintf(st->errstr, sizeof(st->errstr), "truncated (no newline at the end)");
            rc = SITX_E_INVALID;
        } else if (line == 1) {
            if (n != strlen(STATE_MAGIC) || memcmp(s, STATE_MAGIC, n) != 0) {
                snprintf(st->errstr, sizeof(st->errstr),
                         "not a state file (the first line is not \"" STATE_MAGIC "\")");
                rc = SITX_E_INVALID;
            }
        } else if (n > 0 && s[0] != '#') {
            rc = parse_line(st, s, n);
        }
        if (rc != 0) {
            *bad_line = line;
            return rc;
        }
        pos = end + 1;
    }
    return 0;
}

int watch_state_load(struct watch_state *st)
{
    char *buf = NULL;
    size_t size = 0;
    size_t got = 0;
    size_t bad = 0;
    int fd = sitx_state_open(st->path, STATE_FILE_MAX, &size, st->errstr, sizeof(st->errstr));
    int rc = 0;

    if (fd < 0) {
        return fd == -ENOENT ? 0 : fd;
    }
    if ((buf = malloc(size + 1)) == NULL) {
        rc = SITX_E_NOMEM;
    }
    if (rc == 0) {
        rc = sitx_read_upto(fd, buf, size, &got);
        if (rc == 0 && got < size) {
            rc = -EIO; /* shorter than fstat said: changed under us */
        }
        if (rc != 0) {
            snprintf(st->errstr, sizeof(st->errstr), "cannot read it: %s", sitx_strerror(rc));
        }
    }
    close(fd);
    if (rc == 0) {
        rc = watch_state_parse(st, buf, got, &bad);
        if (rc != 0 && bad > 0) {
            /* "line N: " before the reason, which is cut if it must be. */
            char why[WATCH_STATE_ERR];
            int n;

            memcpy(why, st->errstr, sizeof(why));
            n = snprintf(st->errstr, sizeof(st->errstr), "line %zu: ", bad);
            if (n > 0 && (size_t)n < sizeof(st->errstr)) {
                size_t room = sizeof(st->errstr) - (size_t)n - 1;
                size_t wl = strnlen(why, room);

                memcpy(st->errstr + n, why, wl);
                st->errstr[(size_t)n + wl] = '\0';
            }
        }
    }
    free(buf);
    return rc;
}

static int write_entry(int fd, const struct watch_entry *e)
{
    char line[64 + 2 * 24 + 3 * STATE_NAME_MAX + 8];
    char hex[2 * WATCH_HASH_BYTES + 1];
    int n;
    size_t o;
    const unsigned char *c;

    sodium_bin2hex(hex, sizeof(hex), e->hash, sizeof(e->hash));
    n = snprintf(line, sizeof(line), "%s %" PRIu64 " %" PRId64 " ", hex, e->size, e->mtime_ns);
    if (n < 0) {
        return -EIO;
    }
    o = (size_t)n;
    for (c = (const unsigned char *)e->name; *c != '\0' && o + 4 < sizeof(line); c++) {
        if (*c <= 0x20 || *c == 0x7f || *c == '%') {
            o += (size_t)snprintf(line + o, 4, "%%%02X", *c);
        } else {
            line[o++] = (char)*c;
        }
    }
    line[o++] = '\n';
    return sitx_write_all(fd, line, o, NULL);
}

int watch_state_save(const struct watch_state *st)
{
    struct sitx_state_tmp t;
    int rc = sitx_state_begin(&t, st->path);
    size_t i;

    if (rc != 0) {
        return rc;
    }
    rc = sitx_write_all(t.fd, STATE_MAGIC "\n", strlen(STATE_MAGIC) + 1, NULL);
    for (i = 0; i < st->n && rc == 0; i++) {
        rc = write_entry(t.fd, &st->e[i]);
    }
    if (rc != 0) {
        sitx_state_abort(&t);
        return rc;
    }
    return sitx_state_commit(&t);
}

/* A slot hash: keyed SipHash (crypto_shorthash) of the bytes, so that
 * file names chosen by others cannot pile up in one probe run. */
static size_t slot_of(struct watch_state *st, const void *p, size_t len)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    size_t i;

    if (!st->keyed) {
        crypto_shorthash_keygen(st->key);
        st->keyed = 1;
    }
    crypto_shorthash(h, p, len, st->key);
    for (i = 0; i < sizeof(h); i++) {
        v = v << 8 | h[i];
    }
    return (size_t)(v & (st->slots - 1));
}

static size_t name_slot(struct watch_state *st, const char *name)
{
    return slot_of(st, name, strlen(name));
}

static void index_put(struct watch_state *st, size_t i)
{
    size_t mask = st->slots - 1;
    size_t h = slot_of(st, st->e[i].hash, WATCH_HASH_BYTES);
    size_t k = name_slot(st, st->e[i].name);

    while (st->by_hash[h] != 0) {
        h = (h + 1) & mask;
    }
    st->by_hash[h] = (uint32_t)(i + 1);
    while (st->by_name[k] != 0) {
        k = (k + 1) & mask;
    }
    st->by_name[k] = (uint32_t)(i + 1);
}

/* Rebuilds both indexes with room for want entries at most half full. */
static int index_rebuild(struct watch_state *st, size_t want)
{
    size_t slots = 64;
    uint32_t *bh;
    uint32_t *bn;
    size_t i;

    while (slots < 2 * want) {
        slots *= 2;
    }
    bh = calloc(slots, sizeof(*bh));
    bn = calloc(slots, sizeof(*bn));
    free(st->by_hash);
    free(st->by_name);
    if (bh == NULL || bn == NULL) {
        /* No index rather than a stale one: lookups find nothing, and the
         * next add tries again. */
        free(bh);
        free(bn);
        st->by_hash = NULL;
        st->by_name = NULL;
        st->slots = 0;
        return SITX_E_NOMEM;
    }
    st->by_hash = bh;
    st->by_name = bn;
    st->slots = slots;
    for (i = 0; i < st->n; i++) {
        index_put(st, i);
    }
    return 0;
}

static struct watch_entry *find_hash(struct watch_state *st, const uint8_t *hash)
{
    size_t h;

    if (st->slots == 0) {
        return NULL;
    }
    for (h = slot_of(st, hash, WATCH_HASH_BYTES); st->by_hash[h] != 0;
         h = (h + 1) & (st->slots - 1)) {
        struct watch_entry *e = &st->e[st->by_hash[h] - 1];

        if (memcmp(e->hash, hash, WATCH_HASH_BYTES) == 0) {
            return e;
        }
    }
    return NULL;
}

const struct watch_entry *watch_state_find_hash(const struct watch_state *st, const uint8_t *hash)
{
    /* Nothing is written: the SipHash key is drawn when the first entry is
     * indexed, and without entries there is no index to look in. */
    return find_hash((struct watch_state *)st, hash);
}

const struct watch_entry *watch_state_find_file(const struct watch_state *st, const char *name,
                                                uint64_t size, int64_t mtime_ns)
{
    struct watch_state *w = (struct watch_state *)st;
    size_t k;

    if (w->slots == 0) {
        return NULL;
    }
    for (k = name_slot(w, name); w->by_name[k] != 0; k = (k + 1) & (w->slots - 1)) {
        const struct watch_entry *e = &w->e[w->by_name[k] - 1];

        if (e->size == size && e->mtime_ns == mtime_ns && strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

/* At the limit: forgets the oldest tenth (at least one entry). */
static int compact(struct watch_state *st)
{
    size_t drop = state_max(st) / 10 > 0 ? state_max(st) / 10 : 1;
    size_t i;

    if (drop > st->n) {
        drop = st->n;
    }
    for (i = 0; i < drop; i++) {
        free(st->e[i].name);
    }
    memmove(st->e, st->e + drop, (st->n - drop) * sizeof(*st->e));
    st->n -= drop;
    st->dropped += drop;
    return index_rebuild(st, st->cap);
}

int watch_state_add(struct watch_state *st, const uint8_t *hash, const char *name, uint64_t size,
                    int64_t mtime_ns)
{
    struct watch_entry *e = find_hash(st, hash);
    char *copy = strdup(name);
    int rc;

    if (copy == NULL) {
        return SITX_E_NOMEM;
    }
    if (e != NULL) {
        /* The same content under another name (a copy, a rename): one
         * entry, the latest name; the name index is rebuilt to match. */
        int renamed = strcmp(e->name, copy) != 0;

        free(e->name);
        e->name = copy;
        e->size = size;
        e->mtime_ns = mtime_ns;
        return renamed ? index_rebuild(st, st->cap) : 0;
    }
    if (st->n >= state_max(st)) {
        rc = compact(st);
        if (rc != 0) {
            free(copy);
            return rc;
        }
    }
    if (st->n == st->cap) {
        size_t cap = st->cap != 0 ? st->cap * 2 : 16;
        struct watch_entry *ne;

        if (cap > state_max(st)) {
            cap = state_max(st);
        }
        ne = realloc(st->e, cap * sizeof(*ne));
        if (ne == NULL) {
            free(copy);
            return SITX_E_NOMEM;
        }
        st->e = ne;
        st->cap = cap;
        st->slots = 0; /* sized for the old capacity */
    }
    if (st->slots == 0) {
        rc = index_rebuild(st, st->cap);
        if (rc != 0) {
            free(copy);
            return rc;
        }
    }
    e = &st->e[st->n++];
    memcpy(e->hash, hash, WATCH_HASH_BYTES);
    e->name = copy;
    e->size = size;
    e->mtime_ns = mtime_ns;
    index_put(st, st->n - 1);
    return 0;
}

void watch_state_free(struct watch_state *st)
{
    size_t i;

    for (i = 0; i < st->n; i++) {
        free(st->e[i].name);
    }
    free(st->e);
    free(st->path);
    free(st->by_hash);
    free(st->by_name);
    sodium_memzero(st, sizeof(*st));
}
