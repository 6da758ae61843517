/* The --watch loop: inotify on the directory plus a stat tick for files
 * still open, a batch of complete images handed to send_run(), outcomes
 * recorded in the state file as they come, backoff while the receiver is
 * away. SIGTERM/SIGINT are blocked and read from a signalfd, so a batch in
 * flight finishes (bounded by --timeout) before the sender stops. */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "policy.h"
#include "watch_state.h"

#define PEND_MAX  10000
#define BATCH_MAX 32
#define TICK_MS   200

struct pend {
    char *name;
    char *path;
    uint64_t size;
    int64_t mtime_ns;
    uint64_t stable_since; /* ms, when size and mtime last changed */
    int closed;            /* closed after writing since the last change */
    int skip;              /* not to be tried again until it changes */
    int failing;           /* the receiver answered a retryable failure */
    int batch_outcome;     /* enum send_outcome of the batch it was in */
    uint8_t hash[WATCH_HASH_BYTES];
};

struct watch {
    const struct watch_config *w;
    struct send_config *cfg;
    struct report *rep;
    char dir[PATH_MAX];
    struct watch_state st;
    struct send_carry carry; /* PSK and learnt key, kept across batches */
    struct pend *p;
    size_t n;
    struct pend *batch[BATCH_MAX];
    size_t nbatch;
    unsigned down; /* batches in a row that left images pending */
    int away;      /* the receiver could not be reached (said once) */
    uint64_t down_until;
    int fatal;
};

int watch_parse_after(const char *arg, struct watch_config *w)
{
    if (strcmp(arg, "delete") == 0) {
        w->delete_after = 1;
        return 0;
    }
    if (strncmp(arg, "move:", 5) == 0 && arg[5] != '\0') {
        w->move_to = arg + 5;
        return 0;
    }
    return -1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int is_candidate_name(const char *name)
{
    return name[0] != '.' && name[0] != '\0';
}

static struct pend *pend_find(struct watch *x, const char *name)
{
    size_t i;

    for (i = 0; i < x->n; i++) {
        if (strcmp(x->p[i].name, name) == 0) {
            return &x->p[i];
        }
    }
    return NULL;
}

static struct pend *pend_get(struct watch *x, const char *name)
{
    struct pend *q = pend_find(x, name);

    if (q != NULL || x->n >= PEND_MAX) {
        return q;
    }
    q = &x->p[x->n];
    memset(q, 0, sizeof(*q));
    q->name = strdup(name);
    if (q->name == NULL || asprintf(&q->path, "%s/%s", x->dir, name) < 0) {
        free(q->name);
        return NULL;
    }
    q->size = UINT64_MAX;
    q->stable_since = now_ms();
    x->n++;
    return q;
}

static void pend_drop(struct watch *x, struct pend *q)
{
    free(q->name);
    free(q->path);
    *q = x->p[--x->n];
}

static void rescan(struct watch *x)
{
    DIR *d = opendir(x->dir);
    struct dirent *de;

    if (d == NULL) {
        report_error(x->rep, "%s: %s", x->dir, strerror(errno));
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (is_candidate_name(de->d_name)) {
            (void)pend_get(x, de->d_name);
        }
    }
    closedir(d);
}

/* One line for a file this run does not send (not an image, unreadable). */
static void report_skip(struct watch *x, struct pend *q, const char *why)
{
    struct image_report ir;

    memset(&ir, 0, sizeof(ir));
    ir.file = q->path;
    ir.outcome = OUTCOME_LOCAL;
    ir.status = "LOCAL_ERROR";
    ir.file_size = q->size;
    ir.error = why;
    (void)report_image(x->rep, &ir);
    q->skip = 1;
}

/* Reads the file: whether it starts like a PNG or JPEG, and its hash. */
static int hash_file(const char *path, uint8_t *hash, int *is_image)
{
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    crypto_generichash_state gs;
    uint8_t buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int first = 1;
    ssize_t r;

    *is_image = 0;
    if (fd < 0) {
        return -errno;
    }
    crypto_generichash_init(&gs, NULL, 0, WATCH_HASH_BYTES);
    while ((r = read(fd, buf, sizeof(buf))) != 0) {
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            r = -errno;
            close(fd);
            return (int)r;
        }
        if (first) {
            *is_image = (r >= 8 && memcmp(buf, png, 8) == 0) ||
                        (r >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff);
            first = 0;
        }
        crypto_generichash_update(&gs, buf, (size_t)r);
    }
    close(fd);
    crypto_generichash_final(&gs, hash, WATCH_HASH_BYTES);
    return 0;
}

/* The receiver has it: move or delete it as asked, then forget it. */
static void after_stored(struct watch *x, struct pend *q)
{
    if (x->w->delete_after) {
        if (unlink(q->path) != 0 && errno != ENOENT) {
            report_error(x->rep, "%s: cannot delete: %s", q->path, strerror(errno));
        }
    } else if (x->w->move_to != NULL) {
        char dst[PATH_MAX];
        const char *dot = strrchr(q->name, '.');
        int stem = dot != NULL && dot != q->name ? (int)(dot - q->name) : (int)strlen(q->name);
        int i;

        /* Never overwrite: name, then name-1, name-2, ... */
        for (i = 0; i < 1000; i++) {
            if (i == 0) {
                snprintf(dst, sizeof(dst), "%s/%s", x->w->move_to, q->name);
            } else {
                snprintf(dst, sizeof(dst), "%s/%.*s-%d%s", x->w->move_to, stem, q->name, i,
                         dot != NULL && dot != q->name ? dot : "");
            }
            if (renameat2(AT_FDCWD, q->path, AT_FDCWD, dst, RENAME_NOREPLACE) == 0) {
                break;
            }
            if (errno != EEXIST) {
                report_error(x->rep, "%s: cannot move to %s: %s", q->path, x->w->move_to,
                             strerror(errno));
                break;
            }
        }
    }
    pend_drop(x, q);
}

static int on_outcome(void *arg, const struct image_report *ir)
{
    struct watch *x = arg;
    size_t i;

    for (i = 0; i < x->nbatch; i++) {
        struct pend *q = x->batch[i];

        if (q->path != ir->file) {
            continue;
        }
        q->batch_outcome = (int)ir->outcome;
        if (ir->outcome == OUTCOME_STORED || ir->outcome == OUTCOME_ALREADY) {
            /* Recorded at once: a sender killed later still knows. */
            size_t dropped = x->st.dropped;
            int rc = watch_state_add(&x->st, q->hash, q->name, q->size, q->mtime_ns);

            if (x->st.dropped != dropped) {
                report_error(x->rep, "state file %s: at its limit; forgot the %zu oldest entries",
                             x->st.path, x->st.dropped - dropped);
            }
            if (rc == 0) {
                rc = watch_state_save(&x->st);
            }
            if (rc != 0) {
                report_error(x->rep, "%s: cannot save: %s", x->st.path, sitx_strerror(rc));
            }
        }
        if (ir->outcome == OUTCOME_FAILED) {
            /* A passing condition (DISK_FULL, SHUTTING_DOWN, ...): pending
             * like the receiver being away, said once on stderr; the
             * image's own line comes when it is stored. */
            if (!q->failing) {
                report_error(x->rep, "%s: %s from %s (%s); stays pending, retrying", q->path,
                             ir->status != NULL ? ir->status : "FAILED", x->cfg->label,
                             ir->error != NULL ? ir->error : "retryable");
            }
            q->failing = 1;
            return 0;
        }
        /* The receiver away: the image stays pending, no line for it. */
        return ir->outcome != OUTCOME_NETWORK;
    }
    return 1;
}

static void send_batch(struct watch *x)
{
    char *files[BATCH_MAX];
    size_t i;
    size_t j;
    int network = 0;
    int failed = 0;

    for (i = 0; i < x->nbatch; i++) {
        files[i] = x->batch[i]->path;
        x->batch[i]->batch_outcome = OUTCOME_NONE;
    }
    x->cfg->files = files;
    x->cfg->nfiles = x->nbatch;
    x->rep->filter = on_outcome;
    x->rep->filter_arg = x;
    (void)send_run(x->cfg, x->rep);
    x->rep->filter = NULL;
    for (i = 0; i < x->nbatch; i++) {
        struct pend *q = x->batch[i];

        switch ((enum send_outcome)q->batch_outcome) {
        case OUTCOME_STORED:
        case OUTCOME_ALREADY:
            q->skip = 2; /* done: moved or dropped below */
            break;
        case OUTCOME_NETWORK:
        case OUTCOME_NONE:
            network = 1;
            break;
        case OUTCOME_FAILED:
            failed = 1;
            break;
        case OUTCOME_AUTH:
            x->fatal = SEND_EXIT_AUTH;
            break;
        case OUTCOME_INTERNAL:
            x->fatal = SEND_EXIT_INTERNAL;
            break;
        default:
            q->skip = 1; /* refused or unreadable: again once it changes */
            break;
        }
    }
    x->nbatch = 0;
    if (network || failed) {
        uint64_t delay = backoff_ms(++x->down, randombytes_random());

        if (network && !x->away) {
            report_error(x->rep, "receiver %s unreachable; images stay pending, retrying",
                         x->cfg->label);
            x->away = 1;
        }
        x->down_until = now_ms() + delay;
    } else {
        if (x->away) {
            report_error(x->rep, "receiver %s reachable again", x->cfg->label);
        }
        x->down = 0;
        x->away = 0;
    }
    /* Dropping reorders the array: walk it from the end. */
    for (j = x->n; j-- > 0;) {
        if (x->p[j].skip == 2) {
            after_stored(x, &x->p[j]);
        }
    }
}

/* Looks at every pending file; collects the complete ones into a batch. */
static void tick(struct watch *x)
{
    uint64_t now = now_ms();
    size_t i = 0;

    while (i < x->n) {
        struct pend *q = &x->p[i];
        struct stat sb;
        int64_t mt;
        const struct watch_entry *e;
        int is_image;
        int rc;

        if (lstat(q->path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            pend_drop(x, q);
            continue;
        }
        mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        if ((uint64_t)sb.st_size != q->size || mt != q->mtime_ns) {
            int first = q->size == UINT64_MAX;

            q->size = (uint64_t)sb.st_size;
            q->mtime_ns = mt;
            q->skip = 0;
            /* Found at start (or rescan): its age so far counts. */
            q->stable_since = now;
            if (first) {
                struct timespec rt;
                int64_t age_ms;

                clock_gettime(CLOCK_REALTIME, &rt);
                age_ms = ((int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec - mt) / 1000000;
                if (age_ms > 0 && (uint64_t)age_ms < now) {
                    q->stable_since = now - (uint64_t)age_ms;
                }
            }
        }
        i++;
        if (q->skip || q->size == 0 || x->nbatch >= BATCH_MAX || now < x->down_until) {
            continue;
        }
        if (!q->closed && now - q->stable_since < x->w->settle_ms) {
            continue;
        }
        e = watch_state_find_file(&x->st, q->name, q->size, q->mtime_ns);
        if (e != NULL) {
            q->skip = 2;
            continue;
        }
        rc = hash_file(q->path, q->hash, &is_image);
        if (rc != 0) {
            report_skip(x, q, strerror(-rc));
            continue;
        }
        /* Written to while we read it (a writer that closed and opened it
         * again, or one that paused just past --settle): not complete, and
         * the hash is of neither version. Look again from the next tick. */
        if (lstat(q->path, &sb) != 0 || (uint64_t)sb.st_size != q->size ||
            (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec != q->mtime_ns) {
            q->closed = 0;
            continue;
        }
        if (!is_image) {
            report_skip(x, q, "not a PNG or JPEG image; skipped");
            continue;
        }
        if (watch_state_find_hash(&x->st, q->hash) != NULL) {
            q->skip = 2; /* stored before (a restart, or a copy): not again */
            continue;
        }
        x->batch[x->nbatch++] = q;
    }
    for (i = x->n; i-- > 0;) {
        if (x->p[i].skip == 2) {
            after_stored(x, &x->p[i]);
        }
    }
}

static void read_events(struct watch *x, int ifd)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t r;

    while ((r = read(ifd, buf, sizeof(buf))) > 0) {
        char *p = buf;

        while (p < buf + r) {
            struct inotify_event *ev = (struct inotify_event *)p;
            struct pend *q;

            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                rescan(x);
                continue;
            }
            if (ev->len == 0 || !is_candidate_name(ev->name)) {
                continue;
            }
            q = pend_get(x, ev->name);
            if (q == NULL) {
                continue;
            }
            if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
                q->closed = 1;
            } else if (ev->mask & (IN_MODIFY | IN_CREATE)) {
                q->closed = 0;
            }
        }
    }
}

static int setup(struct watch *x, int *ifd, int *sfd)
{
    struct stat a;
    struct stat b;
    sigset_t set;
    int rc;

    if (realpath(x->w->dir, x->dir) == NULL || stat(x->dir, &a) != 0 || !S_ISDIR(a.st_mode)) {
        report_error(x->rep, "--watch %s: %s", x->w->dir,
                     errno != 0 ? strerror(errno) : "not a directory");
        return SEND_EXIT_LOCAL;
    }
    if (x->w->move_to != NULL) {
        if (stat(x->w->move_to, &b) != 0 || !S_ISDIR(b.st_mode)) {
            report_error(x->rep, "--after-stored move:%s: not a directory", x->w->move_to);
            return SEND_EXIT_LOCAL;
        }
        if (a.st_dev != b.st_dev) {
            report_error(x->rep,
                         "--after-stored move:%s: not on the file system of %s (a "
                         "rename must do)",
                         x->w->move_to, x->dir);
            return SEND_EXIT_LOCAL;
        }
    }
    rc = watch_state_path(x->dir, x->cfg->label, &x->st.path);
    if (rc == 0) {
        rc = watch_state_load(&x->st);
    }
    if (rc != 0) {
        /* Never guess: a state we cannot trust could mean sending every
         * image again, or never sending some. */
        report_error(x->rep,
                     "state file %s: %s; not starting (move it away to start afresh: the "
                     "images in %s are then offered again, and the receiver answers "
                     "ALREADY_STORED for those it has)",
                     x->st.path != NULL ? x->st.path : "(none)",
                     x->st.errstr[0] != '\0' ? x->st.errstr : sitx_strerror(rc), x->dir);
        return SEND_EXIT_LOCAL;
    }
    x->p = calloc(PEND_MAX, sizeof(*x->p));
    if (x->p == NULL) {
        return SEND_EXIT_INTERNAL;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (*sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        report_error(x->rep, "cannot set up signals: %s", strerror(errno));
        return SEND_EXIT_INTERNAL;
    }
    *ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (*ifd < 0 ||
        inotify_add_watch(*ifd, x->dir,
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY | IN_CREATE | IN_ONLYDIR) < 0) {
        report_error(x->rep, "cannot watch %s: %s", x->dir, strerror(errno));
        return SEND_EXIT_LOCAL;
    }
    return 0;
}

int watch_run(const struct watch_config *w, struct send_config *cfg, struct report *rep)
{
    struct watch x;
    int ifd = -1;
    int sfd = -1;
    int rc;
    size_t i;

    memset(&x, 0, sizeof(x));
    x.w = w;
    x.cfg = cfg;
    x.rep = rep;
    cfg->carry = &x.carry;
    rc = setup(&x, &ifd, &sfd);
    if (rc == 0) {
        rescan(&x);
        /* The readiness line: from here on nothing that appears is missed. */
        report_error(rep, "watching %s for %s (state %s)", x.dir, cfg->label, x.st.path);
    }
    while (rc == 0) {
        struct pollfd pf[2] = {{sfd, POLLIN, 0}, {ifd, POLLIN, 0}};
        struct signalfd_siginfo si;

        if (poll(pf, 2, x.n > 0 ? TICK_MS : -1) < 0 && errno != EINTR) {
            rc = SEND_EXIT_INTERNAL;
            break;
        }
        if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            report_error(rep, "%s: stopping; %zu image(s) recorded in %s",
                         si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", x.st.n, x.st.path);
            rc = si.ssi_signo == SIGTERM ? SEND_EXIT_OK : 130;
            break;
        }
        read_events(&x, ifd);
        tick(&x);
        if (x.nbatch > 0) {
            send_batch(&x);
            if (x.fatal != 0) {
                rc = x.fatal;
            }
        }
    }
    if (x.st.path != NULL && rc != SEND_EXIT_LOCAL) {
        int src = watch_state_save(&x.st);

        if (src != 0) {
            report_error(rep, "%s: cannot save: %s", x.st.path, sitx_strerror(src));
        }
    }
    for (i = 0; i < x.n; i++) {
        free(x.p[i].name);
        free(x.p[i].path);
    }
    free(x.p);
    watch_state_free(&x.st);
    cfg->carry = NULL;
    send_carry_clear(&x.carry);
    if (ifd >= 0) {
        close(ifd);
    }
    if (sfd >= 0) {
        close(sfd);
    }
    return rc;
}
