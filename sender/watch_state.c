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

#define STATE_MAGIC    "sitx-watch-state 1"
#define STATE_FILE_MAX (256u * 1024 * 1024)
#define STATE_NAME_MAX 4096

static int mkdir_p(char *path)
{
    char *p;

    for (p = path + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            int e = errno;

            *p = '/';
            return -e;
        }
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

int watch_state_path(const char *dir, const char *receiver, char **out)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    uint8_t h[16];
    char hex[sizeof(h) * 2 + 1];
    crypto_generichash_state gs;
    char *base;
    int rc;

    *out = NULL;
    if (xdg != NULL && xdg[0] == '/') {
        rc = asprintf(&base, "%s/sitx", xdg);
    } else if (home != NULL && home[0] == '/') {
        rc = asprintf(&base, "%s/.local/state/sitx", home);
    } else {
        return -ENOENT;
    }
    if (rc < 0) {
        return SITX_E_NOMEM;
    }
    rc = mkdir_p(base);
    if (rc != 0) {
        free(base);
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

/* Why fd (opened from st->path) is not a state file to trust, or 0. */
static int check_file(struct watch_state *st, int fd, size_t *size)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0) {
        int rc = -errno;

        snprintf(st->errstr, sizeof(st->errstr), "%s", strerror(-rc));
        return rc;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(st->errstr, sizeof(st->errstr), "not a regular file");
        return -EINVAL;
    }
    /* Whoever can write it decides what is never sent. */
    if (sb.st_uid != geteuid()) {
        snprintf(st->errstr, sizeof(st->errstr), "owned by uid %u, not by us (uid %u)",
                 (unsigned)sb.st_uid, (unsigned)geteuid());
        return -EPERM;
    }
    if ((sb.st_mode & 077) != 0) {
        snprintf(st->errstr, sizeof(st->errstr),
                 "mode %04o: group or others can use it (chmod 600 it)",
                 (unsigned)(sb.st_mode & 07777));
        return SITX_E_PERMS;
    }
    if ((uint64_t)sb.st_size > STATE_FILE_MAX) {
        snprintf(st->errstr, sizeof(st->errstr), "larger than %u MiB", STATE_FILE_MAX >> 20);
        return -EFBIG;
    }
    *size = (size_t)sb.st_size;
    return 0;
}

int watch_state_load(struct watch_state *st)
{
    char *buf = NULL;
    size_t size = 0;
    size_t got = 0;
    size_t bad = 0;
    int fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    int rc;

    st->errstr[0] = '\0';
    if (fd < 0) {
        rc = -errno;
        if (rc == -ENOENT) {
            return 0;
        }
        snprintf(st->errstr, sizeof(st->errstr), "%s",
                 rc == -ELOOP ? "a symbolic link (not followed)" : strerror(-rc));
        return rc;
    }
    rc = check_file(st, fd, &size);
    if (rc == 0 && (buf = malloc(size + 1)) == NULL) {
        rc = SITX_E_NOMEM;
    }
    while (rc == 0 && got < size) {
        ssize_t r = read(fd, buf + got, size - got);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            snprintf(st->errstr, sizeof(st->errstr), "cannot read it: %s", sitx_strerror(rc));
            break;
        }
        got += (size_t)r;
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

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return w < 0 ? -errno : -EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
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
    return write_all(fd, line, o);
}

int watch_state_save(const struct watch_state *st)
{
    char *tmp;
    char *slash;
    int fd;
    int rc = 0;
    size_t i;

    if (asprintf(&tmp, "%s.tmp-%u", st->path, (unsigned)getpid()) < 0) {
        return SITX_E_NOMEM;
    }
    (void)unlink(tmp); /* a leftover of an earlier crash of this pid */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = -errno;
        free(tmp);
        return rc;
    }
    rc = write_all(fd, STATE_MAGIC "\n", strlen(STATE_MAGIC) + 1);
    for (i = 0; i < st->n && rc == 0; i++) {
        rc = write_entry(fd, &st->e[i]);
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc == 0 && rename(tmp, st->path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        (void)unlink(tmp);
        free(tmp);
        return rc;
    }
    /* The rename itself must reach the disk. */
    slash = strrchr(tmp, '/');
    if (slash != NULL) {
        *slash = '\0';
        fd = open(slash == tmp ? "/" : tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
    free(tmp);
    return 0;
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
