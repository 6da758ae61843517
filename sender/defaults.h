/* Where sitx-send keeps its own files when no option names them:
 * $XDG_CONFIG_HOME/sitx/ (else ~/.config/sitx/) holds "key", this user's
 * private key (created 0600 on first use, the directory 0700), and
 * "known_receivers", the pinned receiver keys. */
#ifndef SITX_SEND_DEFAULTS_H
#define SITX_SEND_DEFAULTS_H

#include <stddef.h>

#include "keyfile.h"

#define DEFAULTS_KEY   "key"
#define DEFAULTS_KNOWN "known_receivers"

/* out gets "<config dir>/sitx/<file>". Returns 0, or SITX_E_INVALID when
 * neither XDG_CONFIG_HOME nor HOME is an absolute path, -ENAMETOOLONG. */
int defaults_path(const char *file, char *out, size_t cap);

/* Loads the key at path; when it does not exist and create is set, makes
 * a new one there (and the directory, 0700), and *created says so. Returns
 * 0 or the error of sitx_keyfile_load / sitx_keyfile_save / mkdir. */
int defaults_load_key(const char *path, int create, struct sitx_keypair *kp, int *created);

/* The default key and known-receivers paths when the default file pins
 * label: returns 1 with *key and *known set (static storage), else 0. */
int defaults_pinned(const char *label, const char **key, const char **known);

/* --print-public: the public key (first line) and fingerprint of a key file.
 * Returns the exit code (0, 3 unreadable, 6). */
int defaults_print_public(const char *path);

#endif
