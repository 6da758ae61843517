#ifndef SITX_LISTENADDR_H
#define SITX_LISTENADDR_H

#include <stdint.h>
#include <sys/socket.h>

/* Resolves host and port into an address to bind and listen on
 * (getaddrinfo with AI_PASSIVE, the first answer). With numeric_host, host
 * must be an IP address literal and no name lookup happens. Returns 0, or
 * getaddrinfo's EAI_* code (gai_strerror() names it). */
int sitx_listenaddr_resolve(const char *host, uint16_t port, int numeric_host,
                            struct sockaddr_storage *ss);

#endif
