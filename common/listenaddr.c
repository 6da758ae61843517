#include "listenaddr.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

int sitx_listenaddr_resolve(const char *host, uint16_t port, int numeric_host,
                            struct sockaddr_storage *ss)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char pstr[8];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (numeric_host ? AI_NUMERICHOST : 0);
    snprintf(pstr, sizeof(pstr), "%u", (unsigned)port);
    rc = getaddrinfo(host, pstr, &hints, &res);
    if (rc != 0 || res == NULL || res->ai_addrlen > sizeof(*ss)) {
        if (res != NULL) {
            freeaddrinfo(res);
        }
        return rc != 0 ? rc : EAI_FAIL;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}
