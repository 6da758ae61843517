/* The receiver's validation budgets (see budget.h): memory reservations
 * with their two wait queues, and a CPU bucket per sender key. */
#include "budget.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "conn.h"
#include "log.h"
#include "server.h"
#include "transfer.h"

struct cpu_use {
    struct cpu_use *next;
    uint8_t id[32];
    uint64_t level_ns; /* CPU used, drained at cpu_ns_per_min */
    uint64_t last_ms;  /* when level_ns was last drained */
};

void budget_init(struct recv_budget *b, uint64_t mem_total, uint64_t cpu_ms_per_min)
{
    memset(b, 0, sizeof(*b));
    b->mem_total = mem_total;
    b->cpu_ns_per_min = cpu_ms_per_min * 1000000u;
}

void budget_clear(struct recv_budget *b)
{
    struct cpu_use *u = b->cpu;

    while (u != NULL) {
        struct cpu_use *next = u->next;

        free(u);
        u = next;
    }
    b->cpu = NULL;
}

static void unlink_from(struct transfer **head, struct transfer *t)
{
    for (struct transfer **pp = head; *pp != NULL; pp = &(*pp)->mem_next) {
        if (*pp == t) {
            *pp = t->mem_next;
            t->mem_next = NULL;
            return;
        }
    }
}

static void append_to(struct transfer **head, struct transfer *t)
{
    struct transfer **pp = head;

    while (*pp != NULL) {
        pp = &(*pp)->mem_next;
    }
    t->mem_next = NULL;
    *pp = t;
}

static void dequeue(struct recv_budget *b, struct transfer *t)
{
    if (t->mem_wait == MEM_GROW) {
        unlink_from(&b->grow_head, t);
    } else if (t->mem_wait == MEM_FLOOR) {
        unlink_from(&b->floor_head, t);
    }
    t->mem_wait = MEM_NONE;
    t->mem_want = 0;
}

/* Bytes free if t gave back what it holds. */
static int fits(const struct recv_budget *b, const struct transfer *t, uint64_t want)
{
    return b->mem_reserved - t->mem_held + want <= b->mem_total;
}

static void set_held(struct recv_budget *b, struct transfer *t, uint64_t bytes)
{
    b->mem_reserved = b->mem_reserved - t->mem_held + bytes;
    t->mem_held = bytes;
}

int budget_reserve(struct sitx_server *srv, struct transfer *t, uint64_t want, enum mem_wait kind)
{
    struct recv_budget *b = &srv->budget;
    int ahead;
    char qname[1100];

    if (want > b->mem_total) {
        return -1;
    }
    dequeue(b, t);
    /* First come, first served: a newcomer never overtakes a waiter. */
    ahead = b->grow_head != NULL || (kind == MEM_FLOOR && b->floor_head != NULL);
    if (!ahead && fits(b, t, want)) {
        set_held(b, t, want);
        return 1;
    }
    if (kind == MEM_GROW && t->mem_held > BUDGET_PARKED) {
        set_held(b, t, BUDGET_PARKED);
        server_wake_twins(srv); /* the wake timer also serves the memory queue */
    }
    t->mem_wait = kind;
    t->mem_want = want;
    append_to(kind == MEM_GROW ? &b->grow_head : &b->floor_head, t);
    sitx_log(SITX_LOG_DEBUG, "memory-wait",
             "peer=%s key=%s file=%s need=%llu reserved=%llu total=%llu", t->conn->peer,
             t->conn->keyfp, sitx_log_quote(t->name, qname, sizeof(qname)),
             (unsigned long long)want, (unsigned long long)b->mem_reserved,
             (unsigned long long)b->mem_total);
    return 0;
}

void budget_shrink(struct sitx_server *srv, struct transfer *t, uint64_t keep)
{
    struct recv_budget *b = &srv->budget;
    int freed = keep < t->mem_held;

    dequeue(b, t);
    if (freed) {
        set_held(b, t, keep);
    }
    if (freed && (b->grow_head != NULL || b->floor_head != NULL)) {
        server_wake_twins(srv);
    }
}

void budget_wake(struct sitx_server *srv)
{
    struct recv_budget *b = &srv->budget;

    /* Each grant may end transfers anywhere (a failed ACCEPT), so the
     * queues are looked at afresh after each. */
    for (;;) {
        struct transfer *t = b->grow_head != NULL ? b->grow_head : b->floor_head;

        if (t == NULL || !fits(b, t, t->mem_want)) {
            return;
        }
        set_held(b, t, t->mem_want);
        dequeue(b, t);
        transfer_mem_granted(t);
    }
}

/* ---- CPU ------------------------------------------------------------------ */

static void drain(const struct recv_budget *b, struct cpu_use *u, uint64_t now_ms)
{
    uint64_t ms = now_ms > u->last_ms ? now_ms - u->last_ms : 0;
    uint64_t gone = ms * (b->cpu_ns_per_min / 60000u);

    u->level_ns = u->level_ns > gone ? u->level_ns - gone : 0;
    u->last_ms = now_ms;
}

/* The sender's bucket, drained to now; drained-empty buckets of others are
 * dropped on the way. NULL when it has none and create is 0 (or no memory). */
static struct cpu_use *find_use(struct recv_budget *b, const uint8_t id[static 32], uint64_t now_ms,
                                int create)
{
    struct cpu_use **pp = &b->cpu;
    struct cpu_use *found = NULL;

    while (*pp != NULL) {
        struct cpu_use *u = *pp;

        drain(b, u, now_ms);
        if (found == NULL && sodium_memcmp(u->id, id, 32) == 0) {
            found = u;
        } else if (u->level_ns == 0) {
            *pp = u->next;
            free(u);
            continue;
        }
        pp = &u->next;
    }
    if (found == NULL && create) {
        found = calloc(1, sizeof(*found));
        if (found != NULL) {
            memcpy(found->id, id, 32);
            found->last_ms = now_ms;
            found->next = b->cpu;
            b->cpu = found;
        }
    }
    return found;
}

void budget_charge_cpu(struct recv_budget *b, const uint8_t id[static 32], uint64_t ns,
                       uint64_t now_ms)
{
    struct cpu_use *u = find_use(b, id, now_ms, 1);

    if (u != NULL) {
        u->level_ns = u->level_ns + ns < u->level_ns ? UINT64_MAX : u->level_ns + ns;
    }
}

uint64_t budget_cpu_wait_ms(struct recv_budget *b, const uint8_t id[static 32], uint64_t now_ms)
{
    struct cpu_use *u = find_use(b, id, now_ms, 0);
    uint64_t per_ms = b->cpu_ns_per_min / 60000u;

    if (u == NULL || u->level_ns < b->cpu_ns_per_min || per_ms == 0) {
        return 0;
    }
    return (u->level_ns - b->cpu_ns_per_min) / per_ms + 1;
}
