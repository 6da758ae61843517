#include "name.h"

#include <string.h>
#include <strings.h>

#include "msg.h"

/* Longest extension kept when the caller gives none to enforce. */
#define EXT_KEEP_MAX 16

static const char FALLBACK[] = "image";

size_t sitx_utf8_next(const uint8_t *s, size_t len, uint32_t *cp)
{
    uint32_t c;
    size_t n;
    uint32_t min;

    if (len == 0) {
        return 0;
    }
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        c = s[0] & 0x1f;
        min = 0x80;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        c = s[0] & 0x0f;
        min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        c = s[0] & 0x07;
        min = 0x10000;
    } else {
        /* 0x80-0xbf: stray continuation; 0xc0, 0xc1: always overlong; 0xf5+: past U+10FFFF */
        return 0;
    }
    if (len < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }
    *cp = c;
    return n;
}

/* Code points a stored name must not contain: C0, DEL and C1 controls, path
 * and drive separators, and the bidirectional overrides that let a name
 * display as something else ("gnp.exe" shown reversed). */
static int cp_refused(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
        return 1;
    }
    if (cp == '/' || cp == '\\' || cp == ':') {
        return 1;
    }
    if ((cp >= 0x200e && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069)) {
        return 1;
    }
    return 0;
}

static int is_jpeg_ext(const char *s, size_t n)
{
    static const char *const names[] = {".jpg", ".jpeg", ".jpe", ".jfif"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (n == strlen(names[i]) && strncasecmp(s, names[i], n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Whether the name's own extension s[0..n) (with its dot) is acceptable for ext. */
static int ext_matches(const char *s, size_t n, const char *ext)
{
    size_t ext_len = strlen(ext);

    if (is_jpeg_ext(ext, ext_len)) {
        return is_jpeg_ext(s, n);
    }
    return n == ext_len && strncasecmp(s, ext, n) == 0;
}

/* An extension kept as is when none is enforced: short, letters and digits. */
static int ext_plain(const char *s, size_t n)
{
    if (n < 2 || n > EXT_KEEP_MAX) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            return 0;
        }
    }
    return 1;
}

/* Copies stem[0..n) into out[0..limit) replacing refused code points and bad
 * bytes with '_', stopping before a character that would not fit whole, so the
 * result ends on a UTF-8 boundary. Returns the bytes written. */
static size_t copy_clean(const uint8_t *stem, size_t n, char *out, size_t limit)
{
    size_t i = 0;
    size_t o = 0;

    while (i < n) {
        uint32_t cp = 0;
        size_t k = sitx_utf8_next(stem + i, n - i, &cp);

        if (k == 0 || cp_refused(cp)) {
            if (o + 1 > limit) {
                break;
            }
            out[o++] = '_';
            i += (k == 0) ? 1 : k;
            continue;
        }
        if (o + k > limit) {
            break;
        }
        memcpy(out + o, stem + i, k);
        o += k;
        i += k;
    }
    return o;
}

size_t sitx_name_sanitize(const char *in, size_t len, const char *ext, char *out, size_t cap)
{
    const char *base = in;
    size_t base_len = len;
    const char *suffix = "";
    size_t suffix_len = 0;
    size_t stem_len;
    size_t limit;
    size_t o;

    if (cap == 0) {
        return 0;
    }
    limit = cap - 1 < SITX_NAME_MAX ? cap - 1 : SITX_NAME_MAX;
    if (in == NULL) {
        base_len = 0;
    }

    /* Only the last path component counts, for either separator. */
    for (size_t i = base_len; i > 0; i--) {
        if (in[i - 1] == '/' || in[i - 1] == '\\') {
            base = in + i;
            base_len -= i;
            break;
        }
    }
    /* No hidden files, no names that start with a space. */
    while (base_len > 0 && (base[0] == '.' || base[0] == ' ')) {
        base++;
        base_len--;
    }

    stem_len = base_len;
    {
        const char *dot = base_len > 0 ? memrchr(base, '.', base_len) : NULL;
        size_t dot_len = dot != NULL ? (size_t)(base + base_len - dot) : 0;

        if (dot != NULL && dot != base &&
            (ext != NULL ? ext_matches(dot, dot_len, ext) : ext_plain(dot, dot_len))) {
            /* Keep the sender's spelling, e.g. "photo.JPG" for ".jpg". */
            suffix = dot;
            suffix_len = dot_len;
            stem_len = (size_t)(dot - base);
        } else if (ext != NULL) {
            suffix = ext;
            suffix_len = strlen(ext);
        }
    }
    if (suffix_len + sizeof(FALLBACK) - 1 > limit) {
        /* Only with a cap below the documented 256: drop the extension. */
        suffix_len = 0;
    }

    o = copy_clean((const uint8_t *)base, stem_len, out, limit - suffix_len);
    /* Trailing dots and spaces confuse other systems and readers. */
    while (o > 0 && (out[o - 1] == '.' || out[o - 1] == ' ')) {
        o--;
    }
    if (o == 0) {
        o = sizeof(FALLBACK) - 1 < limit ? sizeof(FALLBACK) - 1 : limit;
        memcpy(out, FALLBACK, o);
    }
    memcpy(out + o, suffix, suffix_len);
    o += suffix_len;
    out[o] = '\0';
    return o;
}

/* Cleans one directory component in[0..len) into out[0..cap); 0 when nothing
 * is left of it (dropped). */
static size_t clean_dir(const char *in, size_t len, char *out, size_t cap)
{
    size_t o;

    while (len > 0 && (in[0] == '.' || in[0] == ' ')) {
        in++;
        len--;
    }
    o = copy_clean((const uint8_t *)in, len, out, cap);
    while (o > 0 && (out[o - 1] == '.' || out[o - 1] == ' ')) {
        o--;
    }
    return o;
}

size_t sitx_name_sanitize_path(const char *in, size_t len, const char *ext, char *out,
                               size_t cap)
{
    char comp[SITX_NAME_MAX + 1];
    size_t limit;
    size_t last = 0;
    size_t o = 0;
    unsigned dirs = 0;

    if (cap == 0) {
        return 0;
    }
    if (in == NULL) {
        len = 0;
    }
    limit = cap - 1 < SITX_NAME_MAX ? cap - 1 : SITX_NAME_MAX;
    /* The file name is what follows the last '/'. */
    for (size_t i = len; i > 0; i--) {
        if (in[i - 1] == '/') {
            last = i;
            break;
        }
    }
    for (size_t i = 0; i < last;) {
        const char *end = memchr(in + i, '/', last - i);
        size_t n = (size_t)(end - (in + i));
        size_t k;

        /* Empty, "." and ".." components go; clean_dir drops the dots anyway. */
        k = clean_dir(in + i, n, comp, sizeof(comp) - 1);
        i += n + 1;
        if (k == 0 || dirs >= SITX_NAME_DEPTH_MAX - 1) {
            continue;
        }
        if (o + k + 1 > limit) {
            o = 0;
            break;
        }
        memcpy(out + o, comp, k);
        out[o + k] = '/';
        o += k + 1;
        dirs++;
    }
    {
        size_t n = sitx_name_sanitize(in + last, len - last, ext, comp, sizeof(comp));

        if (o + n > limit) {
            /* Too long with its directories: the flat name only. */
            return sitx_name_sanitize(in + last, len - last, ext, out, cap);
        }
        memcpy(out + o, comp, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

size_t sitx_name_sanitize_dir(const char *in, size_t len, char *out, size_t cap)
{
    size_t limit;
    size_t o;

    if (cap == 0) {
        return 0;
    }
    if (in == NULL) {
        len = 0;
    }
    limit = cap - 1 < SITX_NAME_MAX ? cap - 1 : SITX_NAME_MAX;
    o = clean_dir(in, len, out, limit);
    /* Cut short, the end may be a dot or a space again. */
    while (o > 0 && (out[o - 1] == '.' || out[o - 1] == ' ')) {
        o--;
    }
    out[o] = '\0';
    return o;
}

size_t sitx_name_dir_len(const char *name)
{
    const char *slash = strrchr(name, '/');

    return slash != NULL ? (size_t)(slash - name) : 0;
}
