/* Thread-pool jobs of a transfer: write + hash a chunk, validate a piece
 * read back from the temporary file (its own chain, behind the writes, so
 * the wire never waits for a decoder), verify a dedup hit, and the final
 * job (hash check, end of validation, fsync, index line, link). Nothing
 * here runs on the loop thread except on_work_done(). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "authz.h"
#include "budget.h"
#include "conn.h"
#include "err.h"
#include "greeting.h"
#include "hex.h"
#include "index.h"
#include "name.h"
#include "partial.h"
#include "safefile.h"
#include "server.h"
#include "transfer.h"

/* Read size when hashing a stored file to verify a dedup hit. */
#define VERIFY_BUF (256u * 1024u)
/* Candidates tried for a free name before giving up. */
#define NAME_TRIES 10000

enum job_kind {
    JOB_WRITE,
    JOB_VERIFY,
    JOB_FINAL,
    JOB_PREFIX,
    JOB_VALIDATE,
};

struct store_job {
    uv_work_t req; /* .data = this */
    struct transfer *t;
    enum job_kind kind;
    uint8_t *buf; /* owned by the job */
    size_t len;
    int rc;         /* JOB_WRITE, JOB_VALIDATE: 0 or -errno from the file */
    uint8_t status; /* validation (JOB_VALIDATE, JOB_PREFIX) or outcome (JOB_FINAL) */
    int to_file;    /* JOB_WRITE: the transfer still keeps its bytes (not failed) */
    uint64_t off;   /* JOB_VALIDATE: where the piece starts in the file */
    char msg[SITX_TEXT_MAX + 1];
    char name[SITX_NAME_MAX + 1]; /* JOB_VERIFY: name to check; JOB_FINAL: stored name */
    int found;                    /* JOB_VERIFY */
    uint64_t cpu_ns;              /* CPU time the job took (write, final) */
    /* Copies the worker needs, so that it reads nothing the loop may change. */
    int dirfd;
    struct dedup_index *idx;
    uint8_t sender[INDEX_ID_BYTES];
    uint64_t size;
    uint8_t hash[SITX_CONTENT_HASH_BYTES];
    /* JOB_FINAL with --per-sender-dirs: the sender's directory, one clean
     * component; "" stores the name as it is. */
    char prefix[SITX_PEER_NAME_MAX + 1];
};

uint8_t store_status_for_errno(int rc)
{
    return rc == -ENOSPC || rc == -EDQUOT ? SITX_ST_DISK_FULL : SITX_ST_INTERNAL;
}

static uint8_t status_for_image_error(int rc)
{
    if (rc == SITX_E_LIMIT || rc == SITX_E_TOO_LARGE) {
        return SITX_ST_TOO_LARGE;
    }
    if (rc == SITX_E_NOMEM || rc == SITX_E_INTERNAL) {
        return SITX_ST_INTERNAL;
    }
    if (rc == SITX_E_CANCELLED) {
        return SITX_ST_TIMEOUT; /* only the deadline or a gone sender cancels */
    }
    return SITX_ST_BAD_IMAGE;
}

static void set_msg(struct store_job *j, uint8_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(struct store_job *j, uint8_t status, const char *fmt, ...)
{
    va_list ap;

    j->status = status;
    va_start(ap, fmt);
    vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
    va_end(ap);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Worker: the end of validation, timed, keeping the size for the web page. */
static int validator_finish(struct transfer *t, struct sitx_image_info *info)
{
    uint64_t t0 = now_ns();
    int rc = sitx_image_validator_finish(t->val, info);

    t->validate_ns += now_ns() - t0;
    t->width = info->width;
    t->height = info->height;
    return rc;
}

/* Worker: feeds one chunk to the hash always, and to the temporary file
 * while the transfer has not failed (decided on the loop at submit time,
 * since a validation job may fail it meanwhile). */
static void write_chunk(struct store_job *j)
{
    struct transfer *t = j->t;

    if (j->len == 0) {
        return;
    }
    sitx_content_hash_update(&t->hash, j->buf, j->len);
    if (j->to_file) {
        j->rc = sitx_tmpfile_write(&t->tmp, j->buf, j->len);
    }
}

int64_t store_reread(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    const struct transfer *t = ctx;
    size_t done = 0;

    while (done < len) {
        int64_t n = partial_read(&t->tmp, off + done, buf + done, len - done);

        if (n <= 0) {
            return n < 0 ? n : -EIO; /* shorter than what was fed */
        }
        done += (size_t)n;
    }
    return (int64_t)len;
}

/* Worker: bytes [off, off + len) read back from the temporary file into
 * t->vbuf and fed to the validator. Only the write job appends to the
 * file meanwhile, past these bytes; pread leaves its offset alone. On
 * return j->len is what was fed. */
static void validate_piece(struct store_job *j)
{
    struct transfer *t = j->t;
    int64_t n = store_reread(t, j->off, t->vbuf, j->len);
    uint64_t t0;
    int rc;

    if (n < 0) {
        j->rc = (int)n;
        j->len = 0;
        return;
    }
    t0 = now_ns();
    rc = sitx_image_validator_feed(t->val, t->vbuf, j->len);
    t->validate_ns += now_ns() - t0;
    if (rc != 0) {
        set_msg(j, status_for_image_error(rc), "%s", sitx_image_validator_errstr(t->val));
    }
}

/* Worker: the next chunk of a partial being resumed, read into t->fill
 * (free until ACCEPT) and fed to the hash and the validator, as DATA
 * would have been. After the last one, the hash so far is the prefix hash
 * that ACCEPT carries. */
static void prefix_chunk(struct store_job *j)
{
    struct transfer *t = j->t;
    uint64_t left = t->resume_off - t->resume_pos;
    size_t want = left < t->chunk_cap ? (size_t)left : t->chunk_cap;
    int64_t n = partial_read(&t->tmp, t->resume_pos, t->fill, want);
    int rc;

    if (n <= 0) {
        j->rc = n < 0 ? (int)n : -EIO; /* shorter than at OFFER */
        return;
    }
    sitx_content_hash_update(&t->hash, t->fill, (size_t)n);
    t->resume_pos += (uint64_t)n;
    if (t->val != NULL) {
        uint64_t t0 = now_ns();

        rc = sitx_image_validator_feed(t->val, t->fill, (size_t)n);
        t->validate_ns += now_ns() - t0;
        if (rc != 0) {
            set_msg(j, status_for_image_error(rc), "%s", sitx_image_validator_errstr(t->val));
            return;
        }
    }
    if (t->resume_pos == t->resume_off) {
        struct sitx_content_hash copy = t->hash;

        sitx_content_hash_final(&copy, t->prefix_hash);
        sodium_memzero(&copy, sizeof(copy));
    }
}

/* Splits want into stem and extension and tries "stem.ext", "stem-1.ext", ...
 * for a name nobody uses yet. Called under the index lock, so our own jobs
 * never race for one; anyone else creating files in the inbox is caught by
 * the link, which never overwrites. */
static int pick_name(int dirfd, const char *want, size_t max, char *out, size_t cap)
{
    const char *dot = strrchr(want, '.');
    size_t stem_len = dot != NULL && dot != want ? (size_t)(dot - want) : strlen(want);
    const char *ext = want + stem_len;

    for (int i = 0; i < NAME_TRIES; i++) {
        char suffix[16] = "";
        size_t keep = stem_len;
        int n;

        if (i > 0) {
            snprintf(suffix, sizeof(suffix), "-%d", i);
        }
        /* Shorten the stem, on a UTF-8 boundary, until the whole name fits. */
        while (keep > 1 && keep + strlen(suffix) + strlen(ext) > max) {
            keep--;
            while (keep > 1 && ((unsigned char)want[keep] & 0xc0) == 0x80) {
                keep--;
            }
        }
        n = snprintf(out, cap, "%.*s%s%s", (int)keep, want, suffix, ext);
        if (n < 0 || (size_t)n >= cap) {
            return SITX_E_INTERNAL;
        }
        if (faccessat(dirfd, out, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) {
                return 0;
            }
            return -errno;
        }
    }
    return -EEXIST;
}

/* The name to store under: the sanitised offer's name, after the sender's
 * directory with --per-sender-dirs. Should the two not fit in
 * SITX_NAME_MAX, the offer's directories go, as sitx_name_sanitize_path
 * drops them (the file name itself pick_name shortens if need be). */
static void want_name(const struct store_job *j, const char *name, char *out, size_t cap)
{
    size_t plen = strlen(j->prefix);
    size_t off = sitx_name_dir_len(name);

    if (plen == 0) {
        snprintf(out, cap, "%s", name);
        return;
    }
    if (plen + 1 + strlen(name) > SITX_NAME_MAX && off > 0) {
        name += off + 1;
    }
    snprintf(out, cap, "%s/%s", j->prefix, name);
}

/* Worker: the index line, then the link, under the index lock. A name with
 * directories ("a/b/c.png", already sanitised) is stored in those
 * subdirectories of the inbox, made as needed and never through a symlink. */
static void commit(struct store_job *j)
{
    struct transfer *t = j->t;
    char want[SITX_NAME_MAX + SITX_PEER_NAME_MAX + 2];
    char cand[SITX_NAME_MAX + 1];
    char placed[SITX_NAME_MAX + 1];
    size_t dir_len;
    size_t off;
    int subfd = j->dirfd;
    int rc = 0;

    want_name(j, t->name, want, sizeof(want));
    dir_len = sitx_name_dir_len(want);
    off = dir_len > 0 ? dir_len + 1 : 0;
    index_lock(j->idx);
    if (off >= SITX_NAME_MAX) {
        rc = -ENAMETOOLONG; /* cannot be: want_name keeps directories only when all fits */
    } else if (dir_len > 0) {
        subfd = sitx_dir_open_beneath(j->dirfd, want, dir_len, 1);
        rc = subfd < 0 ? subfd : 0;
    }
    if (rc == 0) {
        /* The directories are kept, the file name leaves room for them. */
        memcpy(cand, want, off);
        rc = pick_name(subfd, want + off, SITX_NAME_MAX - off, cand + off, sizeof(cand) - off);
    }
    if (rc == 0) {
        rc = index_append(j->idx, j->sender, j->hash, cand);
    }
    if (rc == 0) {
        placed[0] = '\0';
        rc = sitx_tmpfile_commit_in(&t->tmp, subfd, cand + off, placed, sizeof(placed) - off);
        if (rc != 0 && placed[0] != '\0') {
            /* Linked, but tidying up after (the directory fsync) failed: the
             * image is whole in the inbox, so it counts as stored. */
            rc = 0;
        }
        if (placed[0] != '\0') {
            /* placed fits in SITX_NAME_MAX - off bytes: the cap above. */
            memcpy(j->name, want, off);
            memcpy(j->name + off, placed, strlen(placed) + 1);
        } else {
            j->name[0] = '\0';
        }
    }
    if (rc == 0 && strcmp(cand, j->name) != 0) {
        /* Someone else took the name in between: record where it really went. */
        rc = index_append(j->idx, j->sender, j->hash, j->name);
        if (rc != 0) {
            /* The file is in place; a missing line only costs a second copy on a resend. */
            rc = 0;
        }
    }
    index_unlock(j->idx);
    if (subfd >= 0 && subfd != j->dirfd) {
        close(subfd);
    }
    if (rc != 0) {
        j->name[0] = '\0';
        set_msg(j, store_status_for_errno(rc), "storing the image failed: %s", sitx_strerror(rc));
        return;
    }
    j->status = SITX_ST_OK;
}

static void final_work(struct store_job *j)
{
    struct transfer *t = j->t;
    struct sitx_image_info info;
    uint8_t got[SITX_CONTENT_HASH_BYTES];
    int rc;

    /* Every byte is written and, unless the transfer failed, validated. */
    if (t->fail_status == 0 && t->val != NULL && sitx_image_validator_held(t->val)) {
        /* Cannot be while the loop waits for the memory before this job;
         * kept as a guard: the loop reserves memory, then a new final job
         * goes on from here (hash, file and validator untouched). */
        j->status = STORE_HELD;
        return;
    }
    sitx_content_hash_final(&t->hash, got);
    memset(&info, 0, sizeof(info));
    if (sodium_memcmp(got, t->end_hash, sizeof(got)) != 0 ||
        sodium_memcmp(t->end_hash, t->offer_hash, sizeof(got)) != 0) {
        set_msg(j, SITX_ST_INTEGRITY, "%s", "content hash does not match the data received");
    } else if (t->fail_status != 0) {
        set_msg(j, t->fail_status, "%s", t->fail_msg);
    } else if (t->val == NULL) {
        set_msg(j, SITX_ST_INTERNAL, "%s", "no validator");
    } else if ((rc = validator_finish(t, &info)) != 0) {
        set_msg(j, status_for_image_error(rc), "%s", sitx_image_validator_errstr(t->val));
    } else if ((uint8_t)info.format != t->format) {
        set_msg(j, SITX_ST_BAD_IMAGE, "content is %s, not the format offered",
                sitx_image_format_name(info.format));
    } else if (fsync(t->tmp.fd) != 0) {
        rc = -errno;
        set_msg(j, store_status_for_errno(rc), "fsync failed: %s", sitx_strerror(rc));
    } else {
        int expect = COMMIT_OPEN;

        if (atomic_compare_exchange_strong(&t->commit, &expect, COMMIT_LINKING)) {
            commit(j);
        } else {
            /* The deadline or a shutdown answered first: store nothing. */
            j->status = STORE_CANCELLED;
        }
    }
    sodium_memzero(got, sizeof(got));
    sitx_image_validator_free(t->val);
    t->val = NULL;
    /* After a commit this only closes the descriptor; otherwise the bytes go. */
    if (t->tmp_open) {
        sitx_tmpfile_discard(&t->tmp);
        t->tmp_open = 0;
    }
}

static void verify_work(struct store_job *j)
{
    struct sitx_content_hash h;
    uint8_t got[SITX_CONTENT_HASH_BYTES];
    uint8_t *buf = NULL;
    uint64_t left = j->size;
    struct stat st;
    int fd;

    fd = sitx_open_beneath(j->dirfd, j->name, O_RDONLY);
    if (fd < 0) {
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != j->size) {
        goto out;
    }
    buf = malloc(VERIFY_BUF);
    if (buf == NULL) {
        goto out;
    }
    sitx_content_hash_init(&h);
    while (left > 0) {
        ssize_t n = read(fd, buf, left < VERIFY_BUF ? (size_t)left : VERIFY_BUF);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            goto out;
        }
        sitx_content_hash_update(&h, buf, (size_t)n);
        left -= (uint64_t)n;
    }
    sitx_content_hash_final(&h, got);
    j->found = sodium_memcmp(got, j->hash, sizeof(got)) == 0;
out:
    free(buf);
    close(fd);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_work(uv_work_t *req)
{
    struct store_job *j = req->data;
    uint64_t start = thread_cpu_ns();

    switch (j->kind) {
    case JOB_WRITE:
        write_chunk(j);
        break;
    case JOB_VERIFY:
        verify_work(j);
        break;
    case JOB_PREFIX:
        prefix_chunk(j);
        break;
    case JOB_VALIDATE:
        validate_piece(j);
        break;
    case JOB_FINAL:
        final_work(j);
        break;
    }
    /* This thread's own CPU, so that a busy pool does not inflate it. */
    j->cpu_ns = thread_cpu_ns() - start;
}

static void on_work_done(uv_work_t *req, int status)
{
    struct store_job *j = req->data;
    struct transfer *t = j->t;
    struct sitx_conn *c = t->conn;

    (void)status; /* jobs are never cancelled */
    if (j->kind == JOB_VALIDATE) {
        t->val_busy = 0;
    } else {
        t->job_busy = 0;
    }
    if (j->kind != JOB_VERIFY) {
        t->cpu_ns += j->cpu_ns;
        budget_charge_cpu(&c->srv->budget, c->sender_id, j->cpu_ns, uv_now(c->srv->loop));
    }
    switch (j->kind) {
    case JOB_WRITE:
        transfer_write_done(t, j->rc, j->buf, j->len);
        break;
    case JOB_VERIFY:
        transfer_verify_done(t, j->found);
        break;
    case JOB_PREFIX:
        transfer_prefix_done(t, j->rc, j->status);
        break;
    case JOB_VALIDATE:
        transfer_validate_done(t, j->rc, j->status, j->msg, j->len);
        break;
    case JOB_FINAL:
        transfer_final_done(t, j->status, j->msg, j->name);
        break;
    }
    free(j);
    /* Whatever ended or moved on may let a paused connection read again:
     * the chunk it waited for is free, or a transfer slot is. */
    if (c->paused) {
        conn_resume(c);
    }
    conn_unref(c);
}

#define PASSWORD_DIR "password"

/* 1 when an authorised sender other than self has a name that cleans to dir. */
static int dir_shared(const struct authz *a, const struct sitx_peer *self, const char *dir)
{
    char other[SITX_NAME_MAX + 1];

    for (size_t i = 0; i < authz_count(a); i++) {
        const struct sitx_peer *p = authz_at(a, i);

        if (p != self &&
            sitx_name_sanitize_dir(p->name, strlen(p->name), other, sizeof(other)) > 0 &&
            strcmp(other, dir) == 0) {
            return 1;
        }
    }
    return 0;
}

/* --per-sender-dirs: the sender's directory in the inbox. Key mode: its
 * name in the authorised-senders file as one clean component, provided no
 * one else can land there: a paired sender picks its own name, and must not
 * write into another's folder. So a name that another entry shares, that
 * is spelt like a fingerprint or that is "password", and no name at all,
 * give the sender's fingerprint. Password mode: "password". On the loop
 * thread, where the file is reloaded. */
static void sender_dir(const struct sitx_conn *c, char *out, size_t cap)
{
    const struct authz *a = c->srv->authz;
    const struct sitx_peer *p = NULL;

    if (c->mode == SITX_AUTH_PASSWORD) {
        snprintf(out, cap, "%s", PASSWORD_DIR);
        return;
    }
    p = authz_find(a, c->sender_id);
    if (p != NULL && sitx_name_sanitize_dir(p->name, strlen(p->name), out, cap) > 0 &&
        strcmp(out, PASSWORD_DIR) != 0 && !sitx_is_lower_hex(out, SITX_FINGERPRINT_LEN) &&
        !dir_shared(a, p, out)) {
        return;
    }
    snprintf(out, cap, "%s", c->keyfp);
}

static int submit(struct transfer *t, enum job_kind kind, uint8_t *buf, size_t len,
                  const char *name, uint64_t off)
{
    struct sitx_server *srv = t->conn->srv;
    struct store_job *j;
    int rc;

    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        free(buf);
        return SITX_E_NOMEM;
    }
    j->req.data = j;
    j->t = t;
    j->kind = kind;
    j->buf = buf;
    j->len = len;
    j->off = off;
    j->to_file = t->fail_status == 0 && t->tmp_open;
    j->dirfd = srv->inbox_fd;
    j->idx = srv->index;
    j->size = t->size;
    memcpy(j->sender, t->conn->sender_id, sizeof(j->sender));
    memcpy(j->hash, t->offer_hash, sizeof(j->hash));
    if (name != NULL) {
        snprintf(j->name, sizeof(j->name), "%s", name);
    }
    if (kind == JOB_FINAL && srv->cfg->per_sender_dirs) {
        sender_dir(t->conn, j->prefix, sizeof(j->prefix));
    }
    rc = uv_queue_work(srv->loop, &j->req, on_work, on_work_done);
    if (rc != 0) {
        free(j->buf);
        free(j);
        return rc;
    }
    if (kind == JOB_VALIDATE) {
        t->val_busy = 1;
    } else {
        t->job_busy = 1;
    }
    conn_ref(t->conn);
    return 0;
}

int store_write(struct transfer *t, uint8_t *buf, size_t len)
{
    return submit(t, JOB_WRITE, buf, len, NULL, 0);
}

int store_validate(struct transfer *t, uint64_t off, size_t len)
{
    return submit(t, JOB_VALIDATE, NULL, len, NULL, off);
}

int store_verify(struct transfer *t, const char *name)
{
    return submit(t, JOB_VERIFY, NULL, 0, name, 0);
}

int store_prefix(struct transfer *t)
{
    return submit(t, JOB_PREFIX, NULL, 0, NULL, 0);
}

int store_final(struct transfer *t)
{
    return submit(t, JOB_FINAL, NULL, 0, NULL, 0);
}
