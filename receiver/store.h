/* Thread-pool jobs for one transfer. Each job owns the buffer it is given,
 * holds a reference on the connection, and reports back on the loop thread
 * through transfer.h. Two chains may run at once: the write chain
 * (t->job_busy: writes to the temporary file, the content hash; also the
 * prefix, verify and final jobs, which run alone) and the validation chain
 * (t->val_busy: the validator, t->vbuf, reads of the bytes already
 * written). */
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

/* Hashes buf[0..len) and, unless the transfer has failed, appends it to
 * the temporary file; takes buf. Returns 0 or a negative error (buf freed). */
int store_write(struct transfer *t, uint8_t *buf, size_t len);

/* Reads bytes [off, off + len) of the temporary file (written already)
 * into t->vbuf (len at most t->chunk_cap) and feeds them to the validator.
 * Returns 0 or a negative error. */
int store_validate(struct transfer *t, uint64_t off, size_t len);

/* Checks that the stored file name still holds content with the offer's
 * hash. Returns 0 or a negative error. */
int store_verify(struct transfer *t, const char *name);

/* Re-reads the next chunk of a partial being resumed (t->resume_pos on)
 * into the hash and the validator. Returns 0 or a negative error. */
int store_prefix(struct transfer *t);

/* Once every byte is written and validated (or the transfer failed): the
 * hash check against END and the offer, the end of validation under the
 * pixel limit, fsync, the index line and the link into place. Returns 0 or
 * a negative error. */
int store_final(struct transfer *t);

/* The validator's reread source (image.h): bytes of t's temporary file
 * or partial, which holds every byte fed to the validator (the validation
 * chain reads its pieces from there too). Worker side, ctx is the
 * transfer; it reads only tmp.fd, which the write job never changes. */
int64_t store_reread(void *ctx, uint64_t off, uint8_t *buf, size_t len);

/* Maps a storage error to a wire status: DISK_FULL for ENOSPC/EDQUOT, else INTERNAL. */
uint8_t store_status_for_errno(int rc);

#endif
