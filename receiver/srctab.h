/* A bounded table of source addresses for admission.c: the penalties of
 * the sources that wasted handshake slots, and the per-interval counts
 * behind the summary log lines. Open addressing with linear probing and
 * backward-shift deletion; the hash is SipHash (crypto_shorthash) under a
 * random key, so that an attacker who picks its addresses cannot pile them
 * onto one chain. */
#ifndef SITX_RECV_SRCTAB_H
#define SITX_RECV_SRCTAB_H

#include <stddef.h>
#include <stdint.h>

#include "admission.h"

struct srctab_entry {
    struct adm_addr key;
    uint64_t hash;
    uint64_t until;         /* penalties: when the penalty has run down */
    uint32_t n[ADM_KINDS];  /* summaries: events of each kind this interval */
    uint8_t used;
};

struct srctab {
    struct srctab_entry *e;
    size_t mask; /* capacity - 1; capacity a power of two >= 2 * max */
    size_t max;  /* entries at most */
    size_t used;
    uint8_t key[16]; /* crypto_shorthash key */
};

/* An empty table for at most max entries. Returns 0, SITX_E_INVALID (max 0
 * or absurdly large) or SITX_E_NOMEM. */
int srctab_init(struct srctab *t, size_t max);
void srctab_clear(struct srctab *t); /* frees; safe on a zeroed table */

/* The entry for key, or NULL. */
struct srctab_entry *srctab_find(const struct srctab *t, const struct adm_addr *key);
/* The entry for key, added (zeroed but for the key) when new; NULL when the
 * table is full and key is not in it. */
struct srctab_entry *srctab_add(struct srctab *t, const struct adm_addr *key);
/* Removes the entry e points at (from srctab_find/_add; invalidates it). */
void srctab_remove(struct srctab *t, struct srctab_entry *e);
/* The entry with the smallest until, or NULL when empty. O(capacity). */
struct srctab_entry *srctab_soonest(const struct srctab *t);
/* Empties the table, keeping its memory and key. */
void srctab_reset(struct srctab *t);

#endif
