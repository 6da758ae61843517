/* --on-receive: after each stored image, run the operator's command
 * (argv split on whitespace, never a shell) with the image described in
 * SITX_* environment variables, stdin from /dev/null, killed after a
 * timeout. Its outcome is logged and never changes the receipt. */
#ifndef SITX_RECV_HOOK_H
#define SITX_RECV_HOOK_H

#include <stdint.h>

#include <uv.h>

struct sitx_server;
struct hook_runner;

struct hook_info {
    const char *name; /* stored name, in the inbox */
    uint64_t size;
    const char *sender; /* key fingerprint, or "password" */
    const char *peer;   /* IP:PORT */
    const char *hash_hex;
};

/* Parses cmdline into argv. Returns 0, SITX_E_INVALID (empty command) or SITX_E_NOMEM. */
int hook_runner_new(struct sitx_server *srv, const char *cmdline, uint64_t timeout_ms,
                    struct hook_runner **out);
/* Starts the command for one image now, or queues it behind the running ones. */
void hook_run(struct hook_runner *h, const struct hook_info *info);
/* Processes running or queued. */
unsigned hook_runner_pending(const struct hook_runner *h);
/* Stopping: forgets the queued runs and kills the running ones. */
void hook_runner_stop(struct hook_runner *h);
void hook_runner_free(struct hook_runner *h); /* NULL-safe; after the loop ended */

#endif
