#include "defaults.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "known.h"

int defaults_path(const char *file, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;

    /* The XDG base directory spec ignores a relative XDG_CONFIG_HOME. */
    if (xdg != NULL && xdg[0] == '/') {
        n = snprintf(out, cap, "%s/sitx/%s", xdg, file);
    } else if (home != NULL && home[0] == '/') {
        n = snprintf(out, cap, "%s/.config/sitx/%s", home, file);
    } else {
        return SITX_E_INVALID;
    }
    return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

/* mkdir -p for the directories above path; the last one is made 0700. */
static int make_parents(const char *path)
{
    char dir[4096];
    size_t n = strlen(path);

    if (n >= sizeof(dir)) {
        return -ENAMETOOLONG;
    }
    memcpy(dir, path, n + 1);
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(dir, strchr(p + 1, '/') == NULL ? 0700 : 0755) != 0 && errno != EEXIST) {
            return -errno;
        }
        *p = '/';
    }
    return 0;
}

int defaults_load_key(const char *path, int create, struct sitx_keypair *kp, int *created)
{
    int rc = sitx_keyfile_load(path, kp);

    *created = 0;
    if (rc != -ENOENT || !create) {
        return rc;
    }
    rc = make_parents(path);
    if (rc == 0) {
        rc = sitx_keypair_generate(kp);
    }
    if (rc == 0) {
        rc = sitx_keyfile_save(path, kp); /* 0600, O_EXCL */
    }
    if (rc != 0) {
        sitx_keypair_clear(kp);
        return rc;
    }
    *created = 1;
    return 0;
}

int defaults_pinned(const char *label, const char **key, const char **known)
{
    static char key_path[4096];
    static char known_path[4096];
    uint8_t pk[SITX_KEY_BYTES];
    char err[160] = "";

    if (defaults_path(DEFAULTS_KEY, key_path, sizeof(key_path)) != 0 ||
        defaults_path(DEFAULTS_KNOWN, known_path, sizeof(known_path)) != 0 ||
        known_find(known_path, label, pk, err, sizeof(err)) != 1) {
        return 0;
    }
    *key = key_path;
    *known = known_path;
    return 1;
}

int defaults_print_public(const char *path)
{
    struct sitx_keypair kp = {NULL, {0}};
    char pub[SITX_PUBKEY_TEXT_LEN + 1];
    char fp[SITX_FINGERPRINT_LEN + 1];
    int rc = sitx_keyfile_load(path, &kp);

    if (rc != 0) {
        fprintf(stderr, "sitx-send: %s: %s%s\n", path, sitx_strerror(rc),
                rc == SITX_E_PERMS ? " (chmod 600 it)" : "");
        return 3; /* SEND_EXIT_LOCAL */
    }
    sitx_pubkey_encode(kp.pk, pub);
    sitx_fingerprint(kp.pk, fp);
    sitx_keypair_clear(&kp);
    printf("%s\nfingerprint: %s\n", pub, fp);
    return fflush(stdout) == 0 ? 0 : 6;
}
