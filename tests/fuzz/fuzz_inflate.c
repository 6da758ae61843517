/* The strict inflate (common/inflate_strict.c) on arbitrary bytes,
 * `[seed:u8][raw deflate]`: the seed picks the piece sizes, and with bit
 * 6 set the fast loop's baseline build instead of the one this CPU picks
 * (common/cpu.h). Whatever it inflates zlib must inflate too, to the same
 * bytes, ending at the same input byte; once it refuses it stays refused.
 * Output is capped at 1 MiB (past that both stop). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cpu.h"
#include "inflate_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (1u << 20)

static uint8_t ours[CAP], theirs[CAP];
static size_t ours_len;

static int collect(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    if (n > CAP - ours_len) {
        return -1;
    }
    memcpy(ours + ours_len, p, n);
    ours_len += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitx_inflate *d = NULL;
    uint32_t seed;
    size_t off = 0;
    int ended = 0;
    z_stream z;

    if (size < 1) {
        return 0;
    }
    sitx_cpu_force_baseline(data[0] & 0x40);
    seed = data[0] * 2654435761u + 1;
    data++;
    size--;
    ours_len = 0;
    if (sitx_inflate_new(&d, collect, NULL) != 0) {
        abort();
    }
    while (off < size) {
        size_t piece = seed & 1 ? size - off : 1 + (seed >> 8) % 300;
        int64_t used;

        seed = seed * 1103515245u + 12345u;
        piece = piece < size - off ? piece : size - off;
        used = sitx_inflate_feed(d, data + off, piece);
        if (used < 0) {
            if (sitx_inflate_feed(d, data, 1) != -1) {
                abort(); /* refused for good */
            }
            break;
        }
        if ((size_t)used > piece) {
            abort();
        }
        off += (size_t)used;
        if (sitx_inflate_ended(d)) {
            ended = 1;
            break;
        }
        if ((size_t)used != piece) {
            abort();
        }
    }
    sitx_inflate_free(d);
    if (!ended) {
        return 0;
    }
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, -15) != Z_OK) {
        abort();
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)size;
    z.next_out = theirs;
    z.avail_out = CAP;
    if (inflate(&z, Z_FINISH) != Z_STREAM_END || z.total_in != off || z.total_out != ours_len ||
        memcmp(ours, theirs, ours_len) != 0) {
        abort();
    }
    inflateEnd(&z);
    return 0;
}
