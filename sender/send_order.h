/* The order sitx-send prepares and offers a run's images in. */
#ifndef SITX_SEND_ORDER_H
#define SITX_SEND_ORDER_H

#include <stddef.h>

/* Fills order[0..n) with indexes into paths: the largest regular file
 * first, so that a batch does not end with the receiver checking one big
 * image alone while the link and the other cores idle. Equal sizes, and
 * paths that cannot be stat()ed (size 0: their error comes when they are
 * prepared), keep the order given; in_order keeps it throughout. Returns
 * 0, or -1 when out of memory (order untouched). */
int send_order_plan(char *const *paths, size_t n, int in_order, size_t *order);

#endif
