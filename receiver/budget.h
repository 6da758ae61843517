/* What image validation may take from the receiver as a whole: a memory
 * budget that each validation reserves from before its decoder may
 * allocate (with a queue of transfers waiting for memory), and the
 * validation CPU each sender key used, kept as a leaky bucket that drains
 * at the configured seconds per minute. Loop thread only. */
#ifndef SITX_RECV_BUDGET_H
#define SITX_RECV_BUDGET_H

#include <stdint.h>

struct sitx_server;
struct transfer;
struct cpu_use;

/* Why a transfer waits for memory. */
enum mem_wait {
    MEM_NONE = 0,
    MEM_FLOOR, /* before ACCEPT: the floor every validation starts with */
    MEM_GROW,  /* after the header: what this image needs */
};

/* What a transfer waiting for a larger reservation keeps meanwhile: its
 * validator stopped after the header holds little more than libjpeg's
 * tables and the rest of one chunk. */
#define BUDGET_PARKED (512u * 1024)

struct recv_budget {
    uint64_t mem_total;
    uint64_t mem_reserved;
    /* Waiting transfers, oldest first; growing ones are served before new
     * ones, since they already hold memory and a half-done validation. */
    struct transfer *grow_head;
    struct transfer *floor_head;
    uint64_t cpu_ns_per_min; /* per sender key */
    struct cpu_use *cpu;
};

void budget_init(struct recv_budget *b, uint64_t mem_total, uint64_t cpu_ms_per_min);
void budget_clear(struct recv_budget *b);

/* Raises t's reservation to want bytes at once when they are free and
 * nobody waits before it (returns 1), or queues t (t->mem_wait = kind,
 * returns 0): budget_wake() grants it later through transfer_mem_granted().
 * Returns -1, changing nothing, when want is over the whole budget. A
 * MEM_GROW waiter keeps only BUDGET_PARKED of what it held. */
int budget_reserve(struct sitx_server *srv, struct transfer *t, uint64_t want, enum mem_wait kind);

/* Lowers t's reservation to keep bytes (0: all of it) and takes it off the
 * queue; waiters are looked at again from the wake timer. */
void budget_shrink(struct sitx_server *srv, struct transfer *t, uint64_t keep);

/* Grants waiting transfers, in order, while memory allows. Runs from the
 * server's wake timer, never inside a walk of the transfers. */
void budget_wake(struct sitx_server *srv);

/* Adds ns of validation CPU to the sender with this key. */
void budget_charge_cpu(struct recv_budget *b, const uint8_t id[static 32], uint64_t ns,
                       uint64_t now_ms);

/* 0 when the sender may start another validation, else the milliseconds
 * until its bucket is below the budget again. */
uint64_t budget_cpu_wait_ms(struct recv_budget *b, const uint8_t id[static 32], uint64_t now_ms);

#endif
