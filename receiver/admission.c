/* Admission before authentication: the slots, the eviction order, the
 * shrinking handshake timeout, penalties and the summary counts. See
 * admission.h for the model. */
#include "admission.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "err.h"
#include "srctab.h"

struct slot {
    struct adm_addr addr;
    uint64_t start_ms;
    uint64_t bytes; /* received so far */
    void *owner;
    int used;
};

struct adm {
    struct adm_config cfg;
    struct slot *slots; /* cfg.max_startups of them */
    uint32_t *free;     /* indices of the free slots, a stack */
    unsigned n_free;
    struct srctab pen;   /* per source: when its penalty has run down */
    struct srctab stats; /* per address: events this interval */
    uint32_t total[ADM_KINDS];
    uint32_t untracked[ADM_KINDS]; /* events from addresses the stats table had no room for */
    unsigned log_used;             /* auth-failed lines written this interval */
    uint64_t interval_start;
};

void adm_config_default(struct adm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_startups = 64;
    cfg->per_address = 16;
    cfg->per_prefix = 32;
    cfg->timeout_ms = 10 * 1000;
    cfg->timeout_min_ms = 2 * 1000;
    cfg->penalty_ms = 5 * 1000;
    cfg->penalty_min_ms = 15 * 1000;
    cfg->penalty_max_ms = 600 * 1000;
    cfg->penalty_sources = 4096;
}

/* ---- addresses ---------------------------------------------------------- */

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int is_v4(const struct adm_addr *a)
{
    return memcmp(a->b, v4_mapped, sizeof(v4_mapped)) == 0;
}

/* The group a per-prefix cap counts: IPv4 /24, IPv6 /64. */
static void prefix_of(const struct adm_addr *a, struct adm_addr *out)
{
    *out = *a;
    if (is_v4(a)) {
        out->b[15] = 0;
    } else {
        memset(out->b + 8, 0, 8);
    }
}

/* The unit a penalty applies to: an IPv4 address, an IPv6 /64 (one host
 * commonly has a whole /64 to pick from). */
static void source_of(const struct adm_addr *a, struct adm_addr *out)
{
    *out = *a;
    if (!is_v4(a)) {
        memset(out->b + 8, 0, 8);
    }
}

int adm_addr_from_sockaddr(const struct sockaddr *sa, struct adm_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        memcpy(out->b, v4_mapped, sizeof(v4_mapped));
        memcpy(out->b + 12, &in->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        memcpy(out->b, &in6->sin6_addr, 16);
        return 0;
    }
    return SITX_E_INVALID;
}

const char *adm_addr_format(const struct adm_addr *addr, char *buf, size_t cap)
{
    const char *s;

    if (is_v4(addr)) {
        s = inet_ntop(AF_INET, addr->b + 12, buf, (socklen_t)cap);
    } else {
        s = inet_ntop(AF_INET6, addr->b, buf, (socklen_t)cap);
    }
    if (s == NULL && cap > 0) {
        snprintf(buf, cap, "?");
    }
    return buf;
}

/* ---- set-up -------------------------------------------------------------- */

int adm_new(const struct adm_config *cfg, uint64_t now, struct adm **out)
{
    struct adm *a = NULL;
    unsigned i;
    int rc;

    *out = NULL;
    if (cfg->max_startups == 0 || cfg->per_address == 0 || cfg->per_prefix == 0 ||
        cfg->penalty_sources == 0 || cfg->timeout_min_ms == 0 ||
        cfg->timeout_min_ms > cfg->timeout_ms || cfg->max_startups > (1u << 24)) {
        return SITX_E_INVALID;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return SITX_E_NOMEM;
    }
    a->cfg = *cfg;
    a->interval_start = now;
    a->slots = calloc(cfg->max_startups, sizeof(*a->slots));
    a->free = calloc(cfg->max_startups, sizeof(*a->free));
    if (a->slots == NULL || a->free == NULL) {
        rc = SITX_E_NOMEM;
        goto fail;
    }
    for (i = 0; i < cfg->max_startups; i++) {
        a->free[i] = cfg->max_startups - 1 - i; /* slot 0 is handed out first */
    }
    a->n_free = cfg->max_startups;
    rc = srctab_init(&a->pen, cfg->penalty_sources);
    if (rc == 0) {
        rc = srctab_init(&a->stats, ADM_STATS_SOURCES);
    }
    if (rc != 0) {
        goto fail;
    }
    *out = a;
    return 0;
fail:
    adm_free(a);
    return rc;
}

void adm_free(struct adm *a)
{
    if (a == NULL) {
        return;
    }
    srctab_clear(&a->pen);
    srctab_clear(&a->stats);
    free(a->slots);
    free(a->free);
    free(a);
}

unsigned adm_count(const struct adm *a)
{
    return a->cfg.max_startups - a->n_free;
}

/* ---- counting and penalties ---------------------------------------------- */

static void count_event(struct adm *a, enum adm_kind kind, const struct adm_addr *addr)
{
    struct srctab_entry *e = srctab_add(&a->stats, addr);

    a->total[kind]++;
    if (e != NULL) {
        e->n[kind]++;
    } else {
        a->untracked[kind]++;
    }
}

/* Remaining penalty of src's entry, dropping the entry once it ran down. */
static uint64_t penalty_left(struct adm *a, const struct adm_addr *src, uint64_t now)
{
    struct srctab_entry *e = srctab_find(&a->pen, src);

    if (e == NULL) {
        return 0;
    }
    if (e->until <= now) {
        srctab_remove(&a->pen, e);
        return 0;
    }
    return e->until - now;
}

static void strike(struct adm *a, const struct adm_addr *addr, uint64_t now)
{
    struct adm_addr src;
    struct srctab_entry *e;
    uint64_t base;
    int was_over;

    if (a->cfg.penalty_ms == 0) {
        return;
    }
    source_of(addr, &src);
    e = srctab_add(&a->pen, &src);
    if (e == NULL) {
        /* Full: the source whose penalty runs down first gives way. */
        srctab_remove(&a->pen, srctab_soonest(&a->pen));
        e = srctab_add(&a->pen, &src);
        if (e == NULL) {
            return;
        }
    }
    base = e->until > now ? e->until : now;
    was_over = base - now > a->cfg.penalty_min_ms;
    e->until = base + a->cfg.penalty_ms;
    if (e->until - now > a->cfg.penalty_max_ms) {
        e->until = now + a->cfg.penalty_max_ms;
    }
    if (!was_over && e->until - now > a->cfg.penalty_min_ms) {
        count_event(a, ADM_PENALISED, &src);
    }
}

/* ---- slots --------------------------------------------------------------- */

enum group { G_ADDRESS, G_PREFIX, G_ALL };

static int in_group(const struct slot *s, enum group g, const struct adm_addr *addr,
                    const struct adm_addr *prefix)
{
    struct adm_addr p;

    switch (g) {
    case G_ADDRESS:
        return memcmp(s->addr.b, addr->b, sizeof(addr->b)) == 0;
    case G_PREFIX:
        prefix_of(&s->addr, &p);
        return memcmp(p.b, prefix->b, sizeof(p.b)) == 0;
    case G_ALL:
        return 1;
    }
    return 0;
}

/* 1 when x is staler than y: silent before not, then older, then fewer bytes. */
static int staler(const struct slot *x, const struct slot *y)
{
    if ((x->bytes == 0) != (y->bytes == 0)) {
        return x->bytes == 0;
    }
    if (x->start_ms != y->start_ms) {
        return x->start_ms < y->start_ms;
    }
    return x->bytes < y->bytes;
}

static uint32_t stalest(const struct adm *a, enum group g, const struct adm_addr *addr,
                        const struct adm_addr *prefix)
{
    uint32_t best = ADM_NO_SLOT;
    uint32_t i;

    for (i = 0; i < a->cfg.max_startups; i++) {
        const struct slot *s = &a->slots[i];

        if (s->used && in_group(s, g, addr, prefix) &&
            (best == ADM_NO_SLOT || staler(s, &a->slots[best]))) {
            best = i;
        }
    }
    return best;
}

static void put_slot(struct adm *a, uint32_t i)
{
    memset(&a->slots[i], 0, sizeof(a->slots[i]));
    a->free[a->n_free++] = i;
}

enum adm_verdict adm_admit(struct adm *a, const struct adm_addr *addr, uint64_t now, void *owner,
                           uint32_t *slot, void **victim)
{
    struct adm_addr src;
    struct adm_addr prefix;
    unsigned n_addr = 0;
    unsigned n_prefix = 0;
    uint32_t v = ADM_NO_SLOT;
    uint32_t i;

    *slot = ADM_NO_SLOT;
    *victim = NULL;
    source_of(addr, &src);
    if (a->cfg.penalty_ms != 0 && penalty_left(a, &src, now) > a->cfg.penalty_min_ms) {
        count_event(a, ADM_REFUSED, addr);
        return ADM_REFUSE;
    }
    prefix_of(addr, &prefix);
    for (i = 0; i < a->cfg.max_startups; i++) {
        if (a->slots[i].used) {
            n_addr += in_group(&a->slots[i], G_ADDRESS, addr, &prefix);
            n_prefix += in_group(&a->slots[i], G_PREFIX, addr, &prefix);
        }
    }
    /* The narrowest full group pays, so that a crowded address or prefix
     * evicts its own connections before anyone else's. */
    if (n_addr >= a->cfg.per_address) {
        v = stalest(a, G_ADDRESS, addr, &prefix);
    } else if (n_prefix >= a->cfg.per_prefix) {
        v = stalest(a, G_PREFIX, addr, &prefix);
    } else if (a->n_free == 0) {
        v = stalest(a, G_ALL, addr, &prefix);
    }
    if (v != ADM_NO_SLOT) {
        const struct slot *s = &a->slots[v];

        count_event(a, ADM_EVICTED, &s->addr);
        if (now - s->start_ms >= ADM_STRIKE_AGE_MS) {
            strike(a, &s->addr, now);
        }
        *victim = s->owner;
        put_slot(a, v);
    }
    i = a->free[--a->n_free];
    a->slots[i].addr = *addr;
    a->slots[i].start_ms = now;
    a->slots[i].bytes = 0;
    a->slots[i].owner = owner;
    a->slots[i].used = 1;
    *slot = i;
    return v != ADM_NO_SLOT ? ADM_EVICT : ADM_ADMIT;
}

void adm_seen(struct adm *a, uint32_t slot, size_t n)
{
    if (slot < a->cfg.max_startups && a->slots[slot].used) {
        a->slots[slot].bytes += n;
    }
}

void adm_release(struct adm *a, uint32_t slot, enum adm_end how, uint64_t now)
{
    if (slot >= a->cfg.max_startups || !a->slots[slot].used) {
        return;
    }
    if (how == ADM_END_TIMEOUT) {
        count_event(a, ADM_TIMEOUT, &a->slots[slot].addr);
        strike(a, &a->slots[slot].addr, now);
    }
    put_slot(a, slot);
}

uint64_t adm_timeout_ms(const struct adm *a)
{
    uint64_t max = a->cfg.max_startups;
    uint64_t used = adm_count(a);
    uint64_t span = a->cfg.timeout_ms - a->cfg.timeout_min_ms;

    if (2 * used <= max) {
        return a->cfg.timeout_ms;
    }
    /* Linear from timeout_ms at half full down to timeout_min_ms when full. */
    return a->cfg.timeout_ms - span * (2 * used - max) / max;
}

size_t adm_expired(const struct adm *a, uint64_t now, void **out, size_t cap)
{
    uint64_t limit = adm_timeout_ms(a);
    size_t n = 0;
    uint32_t i;

    for (i = 0; i < a->cfg.max_startups && n < cap; i++) {
        const struct slot *s = &a->slots[i];

        if (s->used && now - s->start_ms >= limit) {
            out[n++] = s->owner;
        }
    }
    return n;
}

int adm_log_allowed(struct adm *a, const struct adm_addr *addr)
{
    if (a->log_used < ADM_LOG_BUDGET) {
        a->log_used++;
        return 1;
    }
    count_event(a, ADM_AUTH_FAILED_QUIET, addr);
    return 0;
}

/* ---- summaries ----------------------------------------------------------- */

static const char *const kind_event[ADM_KINDS] = {
    [ADM_REFUSED] = "connections-refused",
    [ADM_EVICTED] = "connections-evicted",
    [ADM_TIMEOUT] = "handshake-timeouts",
    [ADM_PENALISED] = "addresses-penalised",
    [ADM_AUTH_FAILED_QUIET] = "auth-failed-unlogged",
};

/* Appends ",ADDR*N" for the top ADM_TOP addresses of kind, by count. */
static void format_top(const struct adm *a, enum adm_kind kind, char *out, size_t cap)
{
    const struct srctab_entry *top[ADM_TOP] = {NULL};
    char ip[64];
    size_t len = strlen(out);
    size_t i;
    size_t k;

    for (i = 0; i <= a->stats.mask; i++) {
        const struct srctab_entry *e = &a->stats.e[i];

        if (!e->used || e->n[kind] == 0) {
            continue;
        }
        /* Insertion into the short sorted list: most first, ties by address,
         * so that the line does not depend on the table's hash key. */
        for (k = 0; k < ADM_TOP; k++) {
            if (top[k] == NULL || e->n[kind] > top[k]->n[kind] ||
                (e->n[kind] == top[k]->n[kind] &&
                 memcmp(e->key.b, top[k]->key.b, sizeof(e->key.b)) < 0)) {
                memmove(&top[k + 1], &top[k], (ADM_TOP - 1 - k) * sizeof(top[0]));
                top[k] = e;
                break;
            }
        }
    }
    for (k = 0; k < ADM_TOP && top[k] != NULL && len < cap; k++) {
        int n = snprintf(out + len, cap - len, "%s%s*%" PRIu32, k == 0 ? " top=" : ",",
                         adm_addr_format(&top[k]->key, ip, sizeof(ip)), top[k]->n[kind]);

        if (n < 0 || (size_t)n >= cap - len) {
            break;
        }
        len += (size_t)n;
    }
    out[len < cap ? len : cap - 1] = '\0';
}

void adm_summarise(struct adm *a, uint64_t now, adm_summary_fn fn, void *arg)
{
    char fields[ADM_SUMMARY_MAX];
    uint64_t secs = (now - a->interval_start + 500) / 1000;
    int kind;

    for (kind = 0; kind < ADM_KINDS; kind++) {
        size_t addrs = 0;
        size_t i;

        if (a->total[kind] == 0) {
            continue;
        }
        for (i = 0; i <= a->stats.mask; i++) {
            addrs += a->stats.e[i].used && a->stats.e[i].n[kind] > 0;
        }
        snprintf(fields, sizeof(fields), "count=%" PRIu32 " addresses=%zu%s seconds=%" PRIu64,
                 a->total[kind], addrs, a->untracked[kind] > 0 ? "+" : "", secs);
        format_top(a, (enum adm_kind)kind, fields, sizeof(fields));
        fn(arg, kind_event[kind], fields);
    }
    srctab_reset(&a->stats);
    memset(a->total, 0, sizeof(a->total));
    memset(a->untracked, 0, sizeof(a->untracked));
    a->log_used = 0;
    a->interval_start = now;
}
