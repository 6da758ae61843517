/* Source-address table: linear probing, backward-shift deletion (Knuth,
 * TAOCP 6.4 Algorithm R), so that no tombstones build up under churn. */
#include "srctab.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"

/* Far more sources than any configuration asks for: keeps the sizes below
 * from overflowing. */
#define SRCTAB_MAX_ENTRIES ((size_t)1 << 24)

static uint64_t hash_key(const struct srctab *t, const struct adm_addr *key)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h = 0;

    crypto_shorthash(out, key->b, sizeof(key->b), t->key);
    memcpy(&h, out, sizeof(h));
    return h;
}

int srctab_init(struct srctab *t, size_t max)
{
    size_t cap = 2;

    memset(t, 0, sizeof(*t));
    if (max == 0 || max > SRCTAB_MAX_ENTRIES) {
        return SITX_E_INVALID;
    }
    while (cap < 2 * max) {
        cap *= 2;
    }
    t->e = calloc(cap, sizeof(*t->e));
    if (t->e == NULL) {
        return SITX_E_NOMEM;
    }
    t->mask = cap - 1;
    t->max = max;
    crypto_shorthash_keygen(t->key);
    return 0;
}

void srctab_clear(struct srctab *t)
{
    free(t->e);
    sodium_memzero(t, sizeof(*t));
}

/* Index of key's entry, or of the empty slot where it would go. */
static size_t probe(const struct srctab *t, const struct adm_addr *key, uint64_t h)
{
    size_t i = (size_t)h & t->mask;

    /* Terminates: at most max < capacity entries are used. */
    while (t->e[i].used &&
           (t->e[i].hash != h || memcmp(t->e[i].key.b, key->b, sizeof(key->b)) != 0)) {
        i = (i + 1) & t->mask;
    }
    return i;
}

struct srctab_entry *srctab_find(const struct srctab *t, const struct adm_addr *key)
{
    size_t i;

    if (t->e == NULL) {
        return NULL;
    }
    i = probe(t, key, hash_key(t, key));
    return t->e[i].used ? &t->e[i] : NULL;
}

struct srctab_entry *srctab_add(struct srctab *t, const struct adm_addr *key)
{
    uint64_t h;
    size_t i;

    if (t->e == NULL) {
        return NULL;
    }
    h = hash_key(t, key);
    i = probe(t, key, h);
    if (t->e[i].used) {
        return &t->e[i];
    }
    if (t->used >= t->max) {
        return NULL;
    }
    memset(&t->e[i], 0, sizeof(t->e[i]));
    t->e[i].key = *key;
    t->e[i].hash = h;
    t->e[i].used = 1;
    t->used++;
    return &t->e[i];
}

void srctab_remove(struct srctab *t, struct srctab_entry *e)
{
    size_t i = (size_t)(e - t->e);
    size_t j = i;

    t->e[i].used = 0;
    t->used--;
    for (;;) {
        size_t home;

        j = (j + 1) & t->mask;
        if (!t->e[j].used) {
            break;
        }
        home = (size_t)t->e[j].hash & t->mask;
        /* Entry j stays when its home lies cyclically in (i, j]. */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j)) {
            continue;
        }
        t->e[i] = t->e[j];
        t->e[j].used = 0;
        i = j;
    }
}

struct srctab_entry *srctab_soonest(const struct srctab *t)
{
    struct srctab_entry *best = NULL;
    size_t i;

    if (t->e == NULL) {
        return NULL;
    }
    for (i = 0; i <= t->mask; i++) {
        if (t->e[i].used && (best == NULL || t->e[i].until < best->until)) {
            best = &t->e[i];
        }
    }
    return best;
}

void srctab_reset(struct srctab *t)
{
    if (t->e != NULL) {
        memset(t->e, 0, (t->mask + 1) * sizeof(*t->e));
    }
    t->used = 0;
}
