/* Thread-pool jobs for one transfer. Each job owns the buffer it is given,
 * has the transfer's worker-side fields (temporary file, content hash,
 * validator) to itself while t->job_busy, holds a reference on the
 * connection, and reports back on the loop thread through transfer.h. */
#ifndef SITX_RECV_STORE_H
#define SITX_RECV_STORE_H

#include <stddef.h>
#include <stdint.h>

struct transfer;

/* The final job's outcome when a deadline or shutdown won the race to answer
 * first: nothing was stored and the RESULT is already sent. */
#define STORE_CANCELLED 0xff
/* The final job's outcome when the validator stopped after the header, to
 * wait for its memory: nothing was decided; a new final job goes on. */
#define STORE_HELD 0xfe

/* Writes, hashes and validates buf[0..len) (len may be 0); takes buf.
 * Returns 0 or a negative error (buf freed). */
int store_write(struct transfer *t, uint8_t *buf, size_t len);

/* Checks that the stored file name still holds content with the offer's
 * hash. Returns 0 or a negative error. */
int store_verify(struct transfer *t, const char *name);

/* Re-reads the next chunk of a partial being resumed (t->resume_pos on)
 * into the hash and the validator. Returns 0 or a negative error. */
int store_prefix(struct transfer *t);

/* The last bytes (buf may be NULL), then the hash check against END and the
 * offer, the end of validation under the pixel limit, fsync, the index line
 * and the link into place. Takes buf. Returns 0 or a negative error. */
int store_final(struct transfer *t, uint8_t *buf, size_t len);

/* The validator's reread source (image.h): bytes of t's temporary file
 * or partial, which holds every byte fed to the validator before the
 * chunk being fed. Worker side, ctx is the transfer. */
int64_t store_reread(void *ctx, uint64_t off, uint8_t *buf, size_t len);

/* Maps a storage error to a wire status: DISK_FULL for ENOSPC/EDQUOT, else INTERNAL. */
uint8_t store_status_for_errno(int rc);

#endif
