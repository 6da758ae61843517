/* The one EXIF field we need: the orientation tag (0x0112) of IFD0, read
 * with bounds checks on every offset; and a minimal EXIF holding only it,
 * so that a stripped photo still shows the right way up. */
#include <string.h>

#include "image_internal.h"

#define TIFF_START      6 /* after "Exif\0\0" */
#define TAG_ORIENTATION 0x0112
#define TYPE_SHORT      3

static unsigned get16(const uint8_t *p, int big)
{
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t get32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int sitx_exif_orientation(const uint8_t *app1, size_t len)
{
    const uint8_t *tiff;
    size_t tlen;
    uint32_t ifd;
    unsigned count;
    unsigned i;
    int big;

    if (app1 == NULL || len < TIFF_START + 8 || memcmp(app1, "Exif\0\0", 6) != 0) {
        return 0;
    }
    tiff = app1 + TIFF_START;
    tlen = len - TIFF_START;
    if (memcmp(tiff, "MM\0*", 4) == 0) {
        big = 1;
    } else if (memcmp(tiff, "II*\0", 4) == 0) {
        big = 0;
    } else {
        return 0;
    }
    ifd = get32(tiff + 4, big);
    if (ifd > tlen || tlen - ifd < 2) {
        return 0;
    }
    count = get16(tiff + ifd, big);
    if ((size_t)count * 12 > tlen - ifd - 2) {
        return 0;
    }
    for (i = 0; i < count; i++) {
        const uint8_t *e = tiff + ifd + 2 + (size_t)i * 12;

        if (get16(e, big) == TAG_ORIENTATION && get16(e + 2, big) == TYPE_SHORT &&
            get32(e + 4, big) == 1) {
            unsigned v = get16(e + 8, big);

            return v >= 1 && v <= 8 ? (int)v : 0;
        }
    }
    return 0;
}

size_t sitx_exif_minimal(uint8_t buf[static SITX_EXIF_MIN_LEN], int orientation)
{
    static const uint8_t head[] = {
        'E',  'x',  'i', 'f',        0, 0,       /* APP1 identifier */
        'M',  'M',  0,   42,         0, 0, 0, 8, /* big-endian TIFF, IFD0 at 8 */
        0,    1,                                 /* one entry */
        0x01, 0x12, 0,   TYPE_SHORT, 0, 0, 0, 1, /* orientation, SHORT, count 1 */
    };
    size_t n = sizeof(head);

    memcpy(buf, head, n);
    buf[n++] = 0;
    buf[n++] = (uint8_t)orientation;
    buf[n++] = 0;
    buf[n++] = 0;
    memset(buf + n, 0, 4); /* no next IFD */
    n += 4;
    return n;
}
