#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sitx_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t path_len;
    socklen_t sa_len;
    int fd;
    int rc = 1;

    if (path == NULL || path[0] == '\0') {
        return 0;
    }
    path_len = strlen(path);
    /* Absolute path or abstract socket ('@' becomes a leading NUL). */
    if ((path[0] != '/' && path[0] != '@') || path_len >= sizeof(sa.sun_path)) {
        return -EINVAL;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, path_len);
    if (path[0] == '@') {
        sa.sun_path[0] = '\0';
    }
    sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len) < 0) {
        rc = -errno;
    }
    close(fd);
    return rc;
}

uint64_t sitx_sd_watchdog_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    char *end = NULL;
    unsigned long long v;

    if (usec == NULL) {
        return 0;
    }
    if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid()) {
        return 0;
    }
    errno = 0;
    v = strtoull(usec, &end, 10);
    if (errno != 0 || end == usec || *end != '\0' || v == 0) {
        return 0;
    }
    return (uint64_t)(v / 1000);
}
