#include "send_order.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

struct by_size {
    uint64_t size;
    size_t i;
};

/* Largest first, then the order given: qsort is not stable. */
static int cmp_by_size(const void *a, const void *b)
{
    const struct by_size *x = a, *y = b;

    if (x->size != y->size) {
        return x->size < y->size ? 1 : -1;
    }
    return x->i < y->i ? -1 : x->i > y->i;
}

int send_order_plan(char *const *paths, size_t n, int in_order, size_t *order)
{
    struct by_size *v;
    size_t i;

    if (in_order) {
        for (i = 0; i < n; i++) {
            order[i] = i;
        }
        return 0;
    }
    v = calloc(n > 0 ? n : 1, sizeof(*v));
    if (v == NULL) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        struct stat st;

        v[i].i = i;
        /* Only a hint: prepare opens, reads and checks the file anyway. */
        v[i].size = stat(paths[i], &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    }
    qsort(v, n, sizeof(*v), cmp_by_size);
    for (i = 0; i < n; i++) {
        order[i] = v[i].i;
    }
    free(v);
    return 0;
}
