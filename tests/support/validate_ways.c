/* See validate_ways.h. */
#include "validate_ways.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "image_internal.h"
#include "testutil.h"

/* The streaming path fed the whole buffer at once, no shortcut. */
static int streamed(const uint8_t *buf, size_t len, const struct sitx_image_limits *lim,
                    struct sitx_image_info *info, char *msg)
{
    struct sitx_image_validator *v = NULL;
    int rc;

    assert_int_equal(sitx_image_validator_new(&v, lim), 0);
    rc = sitx_image_validator_feed(v, buf, len);
    if (rc == 0) {
        rc = sitx_image_validator_finish(v, info);
    }
    snprintf(msg, SITX_IMAGE_ERR_MAX, "%s", sitx_image_validator_errstr(v));
    sitx_image_validator_free(v);
    return rc;
}

struct src {
    const uint8_t *buf;
    size_t fed;
    unsigned calls;
};

static int64_t src_reread(void *ctx, uint64_t off, uint8_t *out, size_t len)
{
    struct src *s = ctx;

    assert_true(off <= s->fed && len <= s->fed - off); /* only bytes fed before */
    memcpy(out, s->buf + off, len);
    s->calls++;
    return (int64_t)len;
}

/* As the receiver runs it: random pieces, the bytes readable again, and
 * with gate a budget of one byte raised to the need once held. */
static int in_pieces(struct vw_ways *w, const uint8_t *buf, size_t len,
                     const struct sitx_image_limits *lim, int gate, struct sitx_image_info *info,
                     char *msg)
{
    struct sitx_image_validator *v = NULL;
    struct src src = {buf, 0, 0};
    size_t off = 0;
    int rc = 0;

    assert_int_equal(sitx_image_validator_new(&v, lim), 0);
    sitx_image_validator_set_reread(v, src_reread, &src);
    if (gate) {
        sitx_image_validator_set_budget(v, 1, len);
    }
    while (off < len && rc == 0) {
        size_t n = 1 + w->rng() % (w->rng() % 2 ? w->small : w->large);

        if (sitx_image_validator_held(v)) {
            sitx_image_validator_set_budget(v, sitx_image_validator_need(v), len);
        }
        n = n > len - off ? len - off : n;
        src.fed = off;
        rc = sitx_image_validator_feed(v, buf + off, n);
        off += n;
    }
    if (rc == 0 && sitx_image_validator_held(v)) {
        sitx_image_validator_set_budget(v, sitx_image_validator_need(v), len);
    }
    src.fed = len;
    if (rc == 0) {
        rc = sitx_image_validator_finish(v, info);
    }
    snprintf(msg, SITX_IMAGE_ERR_MAX, "%s", sitx_image_validator_errstr(v));
    sitx_image_validator_free(v);
    w->stepped += src.calls > 0;
    return rc;
}

int vw_check_same_lim(struct vw_ways *w, const uint8_t *buf, size_t len,
                      const struct sitx_image_limits *lim, const char *what)
{
    struct sitx_image_info a, b, c, f;
    char ma[SITX_IMAGE_ERR_MAX], mb[SITX_IMAGE_ERR_MAX], mc[SITX_IMAGE_ERR_MAX];
    int ra, rb, rc, rf;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    memset(&f, 0, sizeof(f));
    ra = streamed(buf, len, lim, &a, ma);
    rb = sitx_image_validate(buf, len, lim, &b, mb);
    rf = w->fast(buf, len, lim, &f);
    if (tu_scaled_ms(1) > 1 && w->checked % w->valgrind_every != 0) {
        rc = ra; /* under valgrind the runs in pieces would take too long */
        c = a;
        snprintf(mc, sizeof(mc), "%s", ma);
    } else {
        int gate = w->gate_every != 0 && w->checked % w->gate_every == 0;

        rc = in_pieces(w, buf, len, lim, gate, &c, mc);
    }
    if (ra != rb || (ra != 0 && strcmp(ma, mb) != 0) || (rf == 0 && ra != 0)) {
        fail_msg("%s: streaming %d \"%s\", whole buffer %d \"%s\", shortcut %d", what, ra, ma, rb,
                 mb, rf);
    }
    if (ra != rc || (ra != 0 && strcmp(ma, mc) != 0)) {
        fail_msg("%s: streaming %d \"%s\", in pieces with the shortcut %d \"%s\"", what, ra, ma, rc,
                 mc);
    }
    assert_true(rf == 0 || rf == SITX_IMAGE_MORE);
    if (ra == 0) {
        assert_memory_equal(&a, &b, sizeof(a));
        assert_memory_equal(&a, &c, sizeof(a));
    }
    if (rf == 0) {
        assert_memory_equal(&a, &f, sizeof(a));
        w->fast_ok++;
    }
    w->checked++;
    return ra;
}

int vw_check_same(struct vw_ways *w, const uint8_t *buf, size_t len, const char *what)
{
    struct sitx_image_limits lim;

    sitx_image_limits_default(&lim);
    return vw_check_same_lim(w, buf, len, &lim, what);
}
