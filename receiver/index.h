/* The dedup index, ".sitx-index" in the inbox: one line per stored image,
 * "<sender-id-hex> <hash-hex> <name>". A line is appended and synced before
 * the file it names is linked into place, so a crash never leaves a stored
 * image without its line; a line whose file is gone or changed is simply
 * not trusted (the caller verifies the file before answering ALREADY_STORED). */
#ifndef SITX_RECV_INDEX_H
#define SITX_RECV_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

#define INDEX_FILE     ".sitx-index"
#define INDEX_ID_BYTES 32

struct dedup_index;

/* Opens (creating, 0600) and reads the index in the directory dirfd.
 * Unreadable lines are logged and skipped. Returns 0 or -errno / SITX_E_NOMEM. */
int index_open(int dirfd, struct dedup_index **out);
void index_free(struct dedup_index *idx); /* NULL-safe */

/* Loop thread only. The newest name stored for (sender, hash), or NULL. */
const char *index_find(const struct dedup_index *idx, const uint8_t sender[static INDEX_ID_BYTES],
                       const uint8_t hash[static SITX_CONTENT_HASH_BYTES]);
/* Loop thread only: remembers a line the file already holds. 0 or SITX_E_NOMEM. */
int index_add(struct dedup_index *idx, const uint8_t sender[static INDEX_ID_BYTES],
              const uint8_t hash[static SITX_CONTENT_HASH_BYTES], const char *name);

/* Any thread: the lock that serialises choosing a name, appending its line
 * and linking the file, so two jobs never pick the same name. */
void index_lock(struct dedup_index *idx);
void index_unlock(struct dedup_index *idx);
/* Under the lock: appends one line and fdatasyncs. Returns 0 or -errno. */
int index_append(struct dedup_index *idx, const uint8_t sender[static INDEX_ID_BYTES],
                 const uint8_t hash[static SITX_CONTENT_HASH_BYTES], const char *name);

/* Loop thread (or before the loop runs): calls fn for every line, oldest first. */
typedef void (*index_visit_fn)(void *arg, const uint8_t sender[INDEX_ID_BYTES],
                               const uint8_t hash[SITX_CONTENT_HASH_BYTES], const char *name);
void index_foreach(const struct dedup_index *idx, index_visit_fn fn, void *arg);

/* Lines known (for the start-up log). */
size_t index_count(const struct dedup_index *idx);

#endif
