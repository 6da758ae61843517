/* What the sealed-file writer and reader share and nobody else needs. */
#ifndef SITX_SEAL_INT_H
#define SITX_SEAL_INT_H

#include <stdint.h>

#include "handshake.h"
#include "seal.h"
#include "transport.h"

/* "sitx/1 sealed" then the 36-byte header: the Noise prologue. */
#define SITX_SEAL_PROLOGUE_LABEL "sitx/1 sealed"
#define SITX_SEAL_PROLOGUE_LEN   (sizeof(SITX_SEAL_PROLOGUE_LABEL) - 1 + SITX_SEAL_HEADER_LEN)

/* The handshake message: e (32), then for X enc(s) (48); a 16-byte tag. */
#define SITX_SEAL_HS_SHORT 48
#define SITX_SEAL_HS_LONG  96
#define SITX_SEAL_HS_MAX   SITX_SEAL_HS_LONG

/* A record frame's cost beyond its body: length, type byte, tag. */
#define SITX_SEAL_FRAME_OVERHEAD (SITX_FRAME_HDR + 1 + SITX_TAG_LEN)
/* Most padding bytes one PAD or FINAL record carries. */
#define SITX_SEAL_PAD_MAX (SITX_RECORD_MAX - 1)

/* The greeting's Argon2id bounds (PROTOCOL.md §2). */
#define SITX_SEAL_ARGON_OPS_MIN 2
#define SITX_SEAL_ARGON_OPS_MAX 10
#define SITX_SEAL_ARGON_MEM_MIN 32768u
#define SITX_SEAL_ARGON_MEM_MAX 1048576u

void sitx_seal_prologue(const uint8_t header[static SITX_SEAL_HEADER_LEN],
                        uint8_t out[static SITX_SEAL_PROLOGUE_LEN]);
enum sitx_hs_pattern sitx_seal_pattern(uint8_t mode);

#endif
