/* Shared test helpers: hex, files, temporary directories, the public corpus. */
#ifndef SITX_TESTUTIL_H
#define SITX_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Exit code CTest reads as "skipped" (SKIP_RETURN_CODE). */
#define SITX_TEST_SKIP 77

/* Decodes hex into a malloc'd buffer (*len bytes; never NULL on success).
 * Returns 0, or -1 on odd length or a non-hex character. */
int tu_hex_decode(const char *hex, uint8_t **out, size_t *len);

/* Reads a whole file into a malloc'd buffer (NUL-terminated for text).
 * Returns 0 or -errno. */
int tu_read_file(const char *path, uint8_t **out, size_t *len);
int tu_write_file(const char *path, const uint8_t *buf, size_t len, int mode);

/* The corpus directory (../shared/corpus beside the checkout, or
 * $SITX_CORPUS_DIR). When it is absent: prints why and exits 77 when CI is
 * unset, or fails (exit 1) when CI=true. Call at the start of main(). */
const char *tu_corpus_dir_or_skip(void);
/* corpus_dir/rel into a static buffer. */
const char *tu_corpus_path(const char *rel);

/* mkdtemp under $TMPDIR; the caller removes it with tu_rmrf(). */
char *tu_mkdtemp(void);
void tu_rmrf(const char *path);

/* ms scaled by $SITX_TEST_TIME_SCALE (1 to 100, default 1): the memcheck
 * runs set it, since code under valgrind runs 20-50 times slower. For
 * timeouts that must not fire, never for ones a test waits out. */
uint64_t tu_scaled_ms(uint64_t ms);

#endif
