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

#define STATE_MAGIC     "sitx-watch-state 1"
#define STATE_FILE_MAX  (256u * 1024 * 1024)
#define STATE_NAME_MAX  4096

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

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
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
            if (len - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
                free(out);
                return NULL;
            }
            c = (unsigned char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
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

/* One entry line (without its newline). 0, SITX_E_INVALID or SITX_E_NOMEM. */
static int parse_line(struct watch_state *st, const char *s, size_t len)
{
    uint8_t hash[WATCH_HASH_BYTES];
    const char *f[4];
    size_t flen[4];
    size_t i;
    size_t k = 0;
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
        return SITX_E_INVALID;
    }
    flen[3] = (size_t)(s + len - f[3]);
    if (flen[0] != 2 * WATCH_HASH_BYTES) {
        return SITX_E_INVALID;
    }
    for (i = 0; i < WATCH_HASH_BYTES; i++) {
        int hi = hexval(f[0][2 * i]);
        int lo = hexval(f[0][2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return SITX_E_INVALID;
        }
        hash[i] = (uint8_t)(hi * 16 + lo);
    }
    if (parse_u64(f[1], flen[1], &size) != 0 || parse_u64(f[2], flen[2], &mtime) != 0 ||
        mtime > INT64_MAX) {
        return SITX_E_INVALID;
    }
    name = unescape(f[3], flen[3]);
    if (name == NULL) {
        return SITX_E_INVALID;
    }
    if (st->n >= WATCH_STATE_MAX) {
        free(name);
        return SITX_E_INVALID;
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
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - buf) : len;
        const char *s = buf + pos;
        size_t n = end - pos;
        int rc = 0;

        line++;
        if (line == 1) {
            if (n != strlen(STATE_MAGIC) || memcmp(s, STATE_MAGIC, n) != 0) {
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
    if (line == 0) {
        *bad_line = 1;
        return SITX_E_INVALID;
    }
    return 0;
}

int watch_state_load(struct watch_state *st)
{
    struct stat sb;
    char *buf;
    size_t got = 0;
    size_t bad;
    int fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int rc;

    if (fd < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > STATE_FILE_MAX) {
        rc = errno != 0 ? -errno : -EINVAL;
        close(fd);
        return S_ISREG(sb.st_mode) ? -EFBIG : rc;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return SITX_E_NOMEM;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            free(buf);
            close(fd);
            return rc;
        }
        got += (size_t)r;
    }
    close(fd);
    rc = watch_state_parse(st, buf, got, &bad);
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

const struct watch_entry *watch_state_find_hash(const struct watch_state *st, const uint8_t *hash)
{
    size_t i;

    for (i = 0; i < st->n; i++) {
        if (memcmp(st->e[i].hash, hash, WATCH_HASH_BYTES) == 0) {
            return &st->e[i];
        }
    }
    return NULL;
}

const struct watch_entry *watch_state_find_file(const struct watch_state *st, const char *name,
                                                uint64_t size, int64_t mtime_ns)
{
    size_t i;

    for (i = 0; i < st->n; i++) {
        const struct watch_entry *e = &st->e[i];

        if (e->size == size && e->mtime_ns == mtime_ns && strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

int watch_state_add(struct watch_state *st, const uint8_t *hash, const char *name, uint64_t size,
                    int64_t mtime_ns)
{
    struct watch_entry *e = (struct watch_entry *)watch_state_find_hash(st, hash);
    char *copy = strdup(name);

    if (copy == NULL) {
        return SITX_E_NOMEM;
    }
    if (e == NULL) {
        if (st->n == st->cap) {
            size_t cap = st->cap != 0 ? st->cap * 2 : 16;
            struct watch_entry *ne = realloc(st->e, cap * sizeof(*ne));

            if (ne == NULL) {
                free(copy);
                return SITX_E_NOMEM;
            }
            st->e = ne;
            st->cap = cap;
        }
        e = &st->e[st->n++];
        memcpy(e->hash, hash, WATCH_HASH_BYTES);
    } else {
        free(e->name);
    }
    e->name = copy;
    e->size = size;
    e->mtime_ns = mtime_ns;
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
    memset(st, 0, sizeof(*st));
}
