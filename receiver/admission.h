/* Admission before authentication: who may hold one of the receiver's
 * pre-authentication slots, who loses one when they are all taken, how long
 * a handshake may take under pressure, which addresses are penalised for
 * wasting slots, and the per-interval counts that stand in for one log line
 * per refusal. Pure logic: addresses, counters and a clock passed in; no
 * sockets, no libuv, no logging, so that unit tests drive it directly.
 *
 * Model (after OpenSSH's MaxStartups, PerSourcePenalties, LoginGraceTime):
 * - at most max_startups connections are unauthenticated at once, at most
 *   per_address from one address and per_prefix from one IPv4 /24 or IPv6 /64;
 * - a connection that would break one of these limits is not refused: it
 *   takes the place of the stalest unauthenticated connection of the
 *   narrowest full group (the address, else the prefix, else everyone):
 *   silent ones (no byte received) first, then the oldest;
 * - the handshake timeout is timeout_ms while at most half the slots are
 *   taken, and shrinks linearly to timeout_min_ms as they fill up;
 * - each handshake timeout, and each eviction of a connection older than
 *   ADM_STRIKE_AGE_MS, adds penalty_ms to its source (IPv4 address or IPv6
 *   /64), capped at penalty_max_ms and running down in real time; a source
 *   whose penalty exceeds penalty_min_ms is refused outright. The table of
 *   sources holds at most penalty_sources entries; past that, the entry that
 *   expires first gives way. */
#ifndef SITX_RECV_ADMISSION_H
#define SITX_RECV_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

/* An address as 16 bytes: IPv6, or IPv4 as ::ffff:a.b.c.d. */
struct adm_addr {
    uint8_t b[16];
};

/* Evicting a connection younger than this is not held against its source:
 * a burst of genuine connections from one host may briefly fill its group. */
#define ADM_STRIKE_AGE_MS 1000
/* Addresses tracked per summary interval; more are counted, not named. */
#define ADM_STATS_SOURCES 1024
/* Offenders named in a summary line. */
#define ADM_TOP 5
/* Individual auth-failed lines per interval before they are only counted. */
#define ADM_LOG_BUDGET 16
/* Longest summary line's fields. */
#define ADM_SUMMARY_MAX 512

struct adm_config {
    unsigned max_startups;   /* unauthenticated connections at once, >= 1 */
    unsigned per_address;    /* ... from one address, >= 1 */
    unsigned per_prefix;     /* ... from one IPv4 /24 or IPv6 /64, >= 1 */
    uint64_t timeout_ms;     /* handshake timeout with at most half the slots taken */
    uint64_t timeout_min_ms; /* ... with all of them taken (<= timeout_ms) */
    uint64_t penalty_ms;     /* added per strike; 0 turns penalties off */
    uint64_t penalty_min_ms; /* a source is refused while its penalty is above this */
    uint64_t penalty_max_ms; /* a source's penalty never exceeds this */
    unsigned penalty_sources; /* sources remembered, >= 1 */
};

/* Fills cfg with the documented defaults. */
void adm_config_default(struct adm_config *cfg);

/* The kinds of pre-authentication event that are summarised. */
enum adm_kind {
    ADM_REFUSED,   /* a penalised source tried again */
    ADM_EVICTED,   /* lost its slot to a newer connection */
    ADM_TIMEOUT,   /* no handshake within the (shrunk) timeout */
    ADM_PENALISED, /* a source crossed penalty_min_ms */
    ADM_AUTH_FAILED_QUIET, /* auth-failed lines past ADM_LOG_BUDGET */
    ADM_KINDS,
};

/* How a slot ends (adm_release). */
enum adm_end {
    ADM_END_AUTHED,  /* the handshake completed */
    ADM_END_CLOSED,  /* the peer left, failed the handshake, or we stopped */
    ADM_END_TIMEOUT, /* the handshake timeout ran out: a strike */
};

enum adm_verdict {
    ADM_ADMIT,  /* *slot is the new connection's */
    ADM_EVICT,  /* the same, after *victim (the owner given to its adm_admit) lost its slot */
    ADM_REFUSE, /* the source is penalised: close without a word */
};

#define ADM_NO_SLOT UINT32_MAX

struct adm;

/* A table for cfg (copied); now starts the first summary interval.
 * Returns 0, SITX_E_INVALID for a zero limit or timeout_min_ms >
 * timeout_ms, or SITX_E_NOMEM. */
int adm_new(const struct adm_config *cfg, uint64_t now, struct adm **out);
void adm_free(struct adm *a); /* NULL-safe */

/* A connection from addr arrived at now. On ADM_ADMIT and ADM_EVICT,
 * *slot is its slot, held for owner until adm_release; on ADM_EVICT the
 * victim's slot was already released (with a strike when it was old
 * enough) and *victim is the owner that held it, for the caller to close
 * without calling adm_release for it. */
enum adm_verdict adm_admit(struct adm *a, const struct adm_addr *addr, uint64_t now, void *owner,
                           uint32_t *slot, void **victim);

/* n bytes arrived on the connection in slot: it is no longer silent. */
void adm_seen(struct adm *a, uint32_t slot, size_t n);

/* The connection in slot authenticated, closed or timed out. ADM_NO_SLOT is
 * a no-op. */
void adm_release(struct adm *a, uint32_t slot, enum adm_end how, uint64_t now);

/* The handshake timeout for the slots' present fill. */
uint64_t adm_timeout_ms(const struct adm *a);

/* Owners whose handshake began more than adm_timeout_ms() before now, up
 * to cap of them into out; returns how many. Their slots stay held: the
 * caller closes each and releases it with ADM_END_TIMEOUT. */
size_t adm_expired(const struct adm *a, uint64_t now, void **out, size_t cap);

/* Slots in use. */
unsigned adm_count(const struct adm *a);

/* Whether an auth-failed line may be written now (1), or only counted as
 * ADM_AUTH_FAILED_QUIET for addr (0). */
int adm_log_allowed(struct adm *a, const struct adm_addr *addr);

/* Summary of the interval that ends now: for each kind that happened, calls
 * fn with the event name ("connections-refused", ...) and its fields
 * ("count=1948 addresses=38 seconds=10 top=127.0.0.5*80,..."), then starts
 * a new interval. */
typedef void (*adm_summary_fn)(void *arg, const char *event, const char *fields);
void adm_summarise(struct adm *a, uint64_t now, adm_summary_fn fn, void *arg);

/* The address of sa (AF_INET or AF_INET6; v4-mapped IPv6 counts as IPv4).
 * Returns 0, or SITX_E_INVALID for another family. */
int adm_addr_from_sockaddr(const struct sockaddr *sa, struct adm_addr *out);
/* "192.0.2.7" or "2001:db8::1" into buf (at least 46 bytes). */
const char *adm_addr_format(const struct adm_addr *addr, char *buf, size_t cap);

#endif
