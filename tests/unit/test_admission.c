/* Admission before authentication (receiver/admission.c, srctab.c), driven
 * without sockets: who is evicted when the slots, an address's share or a
 * prefix's share are full, the handshake timeout under pressure, penalties
 * that build up, run down and stay within their table, and the summaries
 * that replace one log line per refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>

#include "admission.h"
#include "err.h"
#include "srctab.h"

static struct adm_addr ip(const char *text)
{
    struct sockaddr_storage ss;
    struct adm_addr a;

    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;

        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    }
    assert_int_equal(adm_addr_from_sockaddr((struct sockaddr *)&ss, &a), 0);
    return a;
}

static struct adm_config small_config(void)
{
    struct adm_config cfg;

    adm_config_default(&cfg);
    cfg.max_startups = 4;
    cfg.per_address = 4;
    cfg.per_prefix = 4;
    cfg.timeout_ms = 10000;
    cfg.timeout_min_ms = 2000;
    return cfg;
}

static struct adm *new_adm(const struct adm_config *cfg)
{
    struct adm *a = NULL;

    assert_int_equal(adm_new(cfg, 0, &a), 0);
    return a;
}

/* Owners are small integers cast to pointers. */
#define OWNER(n) ((void *)(uintptr_t)(n))

static enum adm_verdict admit(struct adm *a, const char *addr, uint64_t now, uintptr_t owner,
                              uint32_t *slot, uintptr_t *victim)
{
    struct adm_addr x = ip(addr);
    void *v = NULL;
    enum adm_verdict r = adm_admit(a, &x, now, OWNER(owner), slot, &v);

    *victim = (uintptr_t)v;
    return r;
}

static void test_config_checked(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a = NULL;

    (void)state;
    cfg.max_startups = 0;
    assert_int_equal(adm_new(&cfg, 0, &a), SITX_E_INVALID);
    assert_null(a);
    cfg = small_config();
    cfg.timeout_min_ms = cfg.timeout_ms + 1;
    assert_int_equal(adm_new(&cfg, 0, &a), SITX_E_INVALID);
    cfg = small_config();
    cfg.per_prefix = 0;
    assert_int_equal(adm_new(&cfg, 0, &a), SITX_E_INVALID);
    adm_free(NULL);
}

static void test_silent_evicted_first(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a = new_adm(&cfg);
    uint32_t slot[6];
    uintptr_t victim;

    (void)state;
    assert_int_equal(admit(a, "10.0.1.1", 100, 1, &slot[1], &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "10.0.2.1", 200, 2, &slot[2], &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "10.0.3.1", 300, 3, &slot[3], &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "10.0.4.1", 400, 4, &slot[4], &victim), ADM_ADMIT);
    assert_int_equal(adm_count(a), 4);
    /* 1 and 2 spoke; 3 is the oldest silent one, older than 4. */
    adm_seen(a, slot[1], 8);
    adm_seen(a, slot[2], 1);
    assert_int_equal(admit(a, "10.0.5.1", 500, 5, &slot[5], &victim), ADM_EVICT);
    assert_int_equal(victim, 3);
    assert_int_equal(adm_count(a), 4);
    /* Then 4, the last silent one; then the oldest that spoke, 1. */
    assert_int_equal(admit(a, "10.0.6.1", 600, 6, &slot[0], &victim), ADM_EVICT);
    assert_int_equal(victim, 4);
    adm_seen(a, slot[5], 8);
    adm_seen(a, slot[0], 8);
    assert_int_equal(admit(a, "10.0.7.1", 700, 7, &slot[3], &victim), ADM_EVICT);
    assert_int_equal(victim, 1);
    /* A released slot is free again: no eviction. */
    adm_release(a, slot[2], ADM_END_AUTHED, 800);
    assert_int_equal(admit(a, "10.0.8.1", 800, 8, &slot[2], &victim), ADM_ADMIT);
    assert_int_equal(victim, 0);
    adm_release(a, ADM_NO_SLOT, ADM_END_CLOSED, 800); /* a no-op */
    assert_int_equal(adm_count(a), 4);
    adm_free(a);
}

static void test_address_pays_for_itself(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a;
    uint32_t s;
    uintptr_t victim;

    (void)state;
    cfg.max_startups = 8;
    cfg.per_address = 2;
    a = new_adm(&cfg);
    /* An older silent connection from someone else is left alone. */
    assert_int_equal(admit(a, "192.0.2.1", 0, 1, &s, &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "198.51.100.9", 10, 2, &s, &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "198.51.100.9", 20, 3, &s, &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "198.51.100.9", 30, 4, &s, &victim), ADM_EVICT);
    assert_int_equal(victim, 2);
    assert_int_equal(admit(a, "198.51.100.9", 40, 5, &s, &victim), ADM_EVICT);
    assert_int_equal(victim, 3);
    assert_int_equal(adm_count(a), 3);
    adm_free(a);
}

static void test_prefix_groups(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a;
    uint32_t s;
    uintptr_t victim;

    (void)state;
    cfg.max_startups = 16;
    cfg.per_address = 16;
    cfg.per_prefix = 2;
    a = new_adm(&cfg);
    assert_int_equal(admit(a, "203.0.113.1", 0, 1, &s, &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "203.0.113.2", 10, 2, &s, &victim), ADM_ADMIT);
    /* Another /24 is another group. */
    assert_int_equal(admit(a, "203.0.114.1", 20, 3, &s, &victim), ADM_ADMIT);
    /* Same /24, another address: its prefix is full. */
    assert_int_equal(admit(a, "203.0.113.200", 30, 4, &s, &victim), ADM_EVICT);
    assert_int_equal(victim, 1);
    /* IPv6: the /64 counts, not the address. */
    assert_int_equal(admit(a, "2001:db8:0:1::1", 40, 5, &s, &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "2001:db8:0:1:ffff::7", 50, 6, &s, &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "2001:db8:0:2::1", 60, 7, &s, &victim), ADM_ADMIT);
    assert_int_equal(admit(a, "2001:db8:0:1:1234::9", 70, 8, &s, &victim), ADM_EVICT);
    assert_int_equal(victim, 5);
    adm_free(a);
}

static void test_timeout_shrinks(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a;
    uint32_t s[10];
    uintptr_t victim;
    void *out[10];
    char addr[32];
    int i;

    (void)state;
    cfg.max_startups = 10;
    cfg.per_address = 10;
    cfg.per_prefix = 10;
    a = new_adm(&cfg);
    assert_int_equal(adm_timeout_ms(a), 10000);
    for (i = 0; i < 10; i++) {
        snprintf(addr, sizeof(addr), "10.%d.0.1", i);
        assert_int_equal(admit(a, addr, (uint64_t)i * 1000, (uintptr_t)i + 1, &s[i], &victim),
                         ADM_ADMIT);
        if (i == 4) {
            assert_int_equal(adm_timeout_ms(a), 10000); /* half full: not yet */
        }
        if (i == 6) {
            assert_int_equal(adm_timeout_ms(a), 10000 - 8000 * 4 / 10);
        }
    }
    assert_int_equal(adm_timeout_ms(a), 2000); /* full: the floor */
    /* At 9.5 s: the ones that began at 0..7 s are past 2 s. */
    assert_int_equal(adm_expired(a, 9500, out, 10), 8);
    assert_int_equal(adm_expired(a, 9500, out, 3), 3);
    for (i = 0; i < 8; i++) {
        adm_release(a, s[i], ADM_END_CLOSED, 9500);
    }
    /* Two left: the full timeout again, and nothing has run out. */
    assert_int_equal(adm_timeout_ms(a), 10000);
    assert_int_equal(adm_expired(a, 9500, out, 10), 0);
    assert_int_equal(adm_expired(a, 18000, out, 10), 1);
    assert_ptr_equal(out[0], OWNER(9));
    adm_free(a);
}

static void test_penalties_build_and_run_down(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a;
    uint32_t s;
    uintptr_t victim;
    uint64_t now = 100000;
    int i;

    (void)state;
    cfg.penalty_ms = 5000;
    cfg.penalty_min_ms = 15000;
    cfg.penalty_max_ms = 30000;
    a = new_adm(&cfg);
    /* Three timeouts: 15 s of penalty, not above the threshold yet. */
    for (i = 0; i < 3; i++) {
        assert_int_equal(admit(a, "192.0.2.66", now, 1, &s, &victim), ADM_ADMIT);
        adm_release(a, s, ADM_END_TIMEOUT, now);
    }
    assert_int_equal(admit(a, "192.0.2.66", now, 1, &s, &victim), ADM_ADMIT);
    adm_release(a, s, ADM_END_TIMEOUT, now); /* the fourth: 20 s */
    assert_int_equal(admit(a, "192.0.2.66", now, 2, &s, &victim), ADM_REFUSE);
    assert_int_equal(s, ADM_NO_SLOT);
    /* Someone else is not affected, nor is a clean close a strike. */
    assert_int_equal(admit(a, "192.0.2.67", now, 3, &s, &victim), ADM_ADMIT);
    adm_release(a, s, ADM_END_CLOSED, now);
    assert_int_equal(adm_count(a), 0);
    /* 5 s later the penalty is down to 15 s: admitted again. */
    assert_int_equal(admit(a, "192.0.2.66", now + 4999, 4, &s, &victim), ADM_REFUSE);
    assert_int_equal(admit(a, "192.0.2.66", now + 5000, 5, &s, &victim), ADM_ADMIT);
    adm_release(a, s, ADM_END_CLOSED, now + 5000);
    adm_free(a);
    /* Eight strikes at once would be 40 s: capped at 30 s, so refused for 30 - 15 s. */
    cfg.max_startups = 8;
    cfg.per_address = 8;
    cfg.per_prefix = 8;
    a = new_adm(&cfg);
    {
        uint32_t held[8];

        for (i = 0; i < 8; i++) {
            assert_int_equal(admit(a, "2001:db8::1", now, 9, &held[i], &victim), ADM_ADMIT);
        }
        for (i = 0; i < 8; i++) {
            adm_release(a, held[i], ADM_END_TIMEOUT, now);
        }
    }
    assert_int_equal(admit(a, "2001:db8::1", now + 14999, 6, &s, &victim), ADM_REFUSE);
    assert_int_equal(admit(a, "2001:db8::1", now + 15000, 7, &s, &victim), ADM_ADMIT);
    adm_free(a);
}

static void test_ipv6_penalised_per_64(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a;
    uint32_t s;
    uintptr_t victim;
    char addr[64];
    int i;

    (void)state;
    a = new_adm(&cfg);
    /* Rotating through a /64 does not escape the penalty. */
    for (i = 0; i < 4; i++) {
        snprintf(addr, sizeof(addr), "2001:db8:1:2::%x", i + 1);
        assert_int_equal(admit(a, addr, 0, 1, &s, &victim), ADM_ADMIT);
        adm_release(a, s, ADM_END_TIMEOUT, 0);
    }
    assert_int_equal(admit(a, "2001:db8:1:2:aaaa::1", 0, 2, &s, &victim), ADM_REFUSE);
    assert_int_equal(admit(a, "2001:db8:1:3::1", 0, 3, &s, &victim), ADM_ADMIT);
    adm_free(a);
}

static void test_eviction_strikes_only_old(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a;
    uint32_t s;
    uintptr_t victim;
    uint64_t now = 0;
    int i;

    (void)state;
    cfg.max_startups = 1;
    a = new_adm(&cfg);
    /* Young victims from 10.9.9.9: evicted, never penalised. */
    assert_int_equal(admit(a, "10.9.9.9", now, 1, &s, &victim), ADM_ADMIT);
    for (i = 0; i < 10; i++) {
        now += ADM_STRIKE_AGE_MS - 1;
        assert_int_equal(admit(a, "10.9.9.9", now, 1, &s, &victim), ADM_EVICT);
    }
    /* Old victims: four strikes and the address is refused. */
    for (i = 0; i < 4; i++) {
        now += ADM_STRIKE_AGE_MS;
        assert_int_equal(admit(a, i < 3 ? "10.9.9.9" : "10.1.1.1", now, 2, &s, &victim),
                         ADM_EVICT);
    }
    assert_int_equal(admit(a, "10.9.9.9", now, 3, &s, &victim), ADM_REFUSE);
    adm_free(a);
}

static void test_penalty_table_bounded(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a;
    uint32_t s;
    uintptr_t victim;
    char addr[32];
    int i;
    int k;

    (void)state;
    cfg.penalty_sources = 2;
    a = new_adm(&cfg);
    /* Three penalised sources, penalised at 0, 1 and 2 s: the first gives way. */
    for (i = 0; i < 3; i++) {
        snprintf(addr, sizeof(addr), "10.0.0.%d", i + 1);
        for (k = 0; k < 4; k++) {
            assert_int_equal(admit(a, addr, (uint64_t)i * 1000, 1, &s, &victim), ADM_ADMIT);
            adm_release(a, s, ADM_END_TIMEOUT, (uint64_t)i * 1000);
        }
    }
    assert_int_equal(admit(a, "10.0.0.1", 2000, 2, &s, &victim), ADM_ADMIT);
    adm_release(a, s, ADM_END_CLOSED, 2000);
    assert_int_equal(admit(a, "10.0.0.2", 2000, 3, &s, &victim), ADM_REFUSE);
    assert_int_equal(admit(a, "10.0.0.3", 2000, 4, &s, &victim), ADM_REFUSE);
    adm_free(a);
}

struct lines {
    char text[8][ADM_SUMMARY_MAX + 64];
    int n;
};

static void collect(void *arg, const char *event, const char *fields)
{
    struct lines *l = arg;

    assert_true(l->n < 8);
    snprintf(l->text[l->n++], sizeof(l->text[0]), "%s %s", event, fields);
}

static void test_summary(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a;
    struct lines l;
    uint32_t s;
    uintptr_t victim;
    char addr[32];
    int i;

    (void)state;
    cfg.max_startups = 1;
    cfg.penalty_ms = 20000; /* one strike is enough */
    a = new_adm(&cfg);
    memset(&l, 0, sizeof(l));
    adm_summarise(a, 1000, collect, &l);
    assert_int_equal(l.n, 0); /* nothing happened: no line */
    /* 127.0.0.5 times out once and is refused 7 times; 127.0.0.6 and .7 twice. */
    assert_int_equal(admit(a, "127.0.0.5", 1000, 1, &s, &victim), ADM_ADMIT);
    adm_release(a, s, ADM_END_TIMEOUT, 1000);
    for (i = 0; i < 7; i++) {
        assert_int_equal(admit(a, "127.0.0.5", 1000, 1, &s, &victim), ADM_REFUSE);
    }
    for (i = 6; i <= 7; i++) {
        snprintf(addr, sizeof(addr), "127.0.0.%d", i);
        assert_int_equal(admit(a, addr, 1000, 1, &s, &victim), ADM_ADMIT);
        adm_release(a, s, ADM_END_TIMEOUT, 1000);
        assert_int_equal(admit(a, addr, 1000, 1, &s, &victim), ADM_REFUSE);
        assert_int_equal(admit(a, addr, 1000, 1, &s, &victim), ADM_REFUSE);
    }
    adm_summarise(a, 11000, collect, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.text[0], "connections-refused count=11 addresses=3 seconds=10 "
                                   "top=127.0.0.5*7,127.0.0.6*2,127.0.0.7*2");
    assert_non_null(strstr(l.text[1], "handshake-timeouts count=3 addresses=3 seconds=10 top="));
    assert_non_null(strstr(l.text[2], "addresses-penalised count=3 addresses=3 seconds=10"));
    /* A new interval starts empty. */
    memset(&l, 0, sizeof(l));
    adm_summarise(a, 21000, collect, &l);
    assert_int_equal(l.n, 0);
    adm_free(a);
}

static void test_summary_many_addresses(void **state)
{
    struct adm_config cfg = small_config();
    struct adm *a;
    struct lines l;
    struct adm_addr x;
    int i;

    (void)state;
    cfg.penalty_ms = 0;
    a = new_adm(&cfg);
    memset(&l, 0, sizeof(l));
    /* More addresses than the stats table holds: counted, not named. */
    for (i = 0; i < ADM_STATS_SOURCES + 10; i++) {
        x = ip("2001:db8::");
        x.b[12] = (uint8_t)(i >> 8);
        x.b[13] = (uint8_t)i;
        assert_int_equal(adm_log_allowed(a, &x), i < ADM_LOG_BUDGET);
    }
    adm_summarise(a, 5000, collect, &l);
    assert_int_equal(l.n, 1);
    assert_non_null(strstr(l.text[0], "auth-failed-unlogged count=1018 addresses=1018 "));
    memset(&l, 0, sizeof(l));
    for (i = 0; i < ADM_STATS_SOURCES + ADM_LOG_BUDGET + 10; i++) {
        x.b[14] = (uint8_t)(i >> 8);
        x.b[15] = (uint8_t)i;
        (void)adm_log_allowed(a, &x);
    }
    adm_summarise(a, 6000, collect, &l);
    assert_non_null(strstr(l.text[0], "count=1034 addresses=1024+ seconds=1"));
    adm_free(a);
}

static void test_addr_format(void **state)
{
    struct adm_addr x = ip("::ffff:192.0.2.1");
    struct adm_addr y = ip("192.0.2.1");
    struct sockaddr_un_like {
        sa_family_t family;
    } other = {AF_UNIX};
    char buf[64];

    (void)state;
    assert_memory_equal(x.b, y.b, 16); /* v4-mapped is IPv4 */
    assert_string_equal(adm_addr_format(&x, buf, sizeof(buf)), "192.0.2.1");
    x = ip("2001:db8::1");
    assert_string_equal(adm_addr_format(&x, buf, sizeof(buf)), "2001:db8::1");
    assert_int_equal(adm_addr_from_sockaddr((struct sockaddr *)&other, &x), SITX_E_INVALID);
}

static void test_srctab_churn(void **state)
{
    struct srctab t;
    struct adm_addr k;
    int present[3000] = {0};
    int i;
    int round;

    (void)state;
    assert_int_equal(srctab_init(&t, 0), SITX_E_INVALID);
    assert_int_equal(srctab_init(&t, 2000), 0);
    memset(&k, 0, sizeof(k));
    /* Random adds and removes; every key is found exactly when present. */
    for (round = 0; round < 20000; round++) {
        uint32_t r = randombytes_uniform(3000);
        struct srctab_entry *e;

        k.b[0] = (uint8_t)(r >> 8);
        k.b[1] = (uint8_t)r;
        e = srctab_find(&t, &k);
        assert_int_equal(e != NULL, present[r]);
        if (e != NULL) {
            srctab_remove(&t, e);
            present[r] = 0;
        } else {
            e = srctab_add(&t, &k);
            if (t.used >= t.max && e == NULL) {
                continue; /* full */
            }
            assert_non_null(e);
            e->until = r;
            present[r] = 1;
        }
    }
    for (i = 0; i < 3000; i++) {
        struct srctab_entry *e;

        k.b[0] = (uint8_t)(i >> 8);
        k.b[1] = (uint8_t)i;
        e = srctab_find(&t, &k);
        assert_int_equal(e != NULL, present[i]);
        if (e != NULL) {
            assert_int_equal(e->until, (uint64_t)i);
        }
    }
    srctab_reset(&t);
    assert_int_equal(t.used, 0);
    assert_null(srctab_soonest(&t));
    srctab_clear(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_checked),
        cmocka_unit_test(test_silent_evicted_first),
        cmocka_unit_test(test_address_pays_for_itself),
        cmocka_unit_test(test_prefix_groups),
        cmocka_unit_test(test_timeout_shrinks),
        cmocka_unit_test(test_penalties_build_and_run_down),
        cmocka_unit_test(test_ipv6_penalised_per_64),
        cmocka_unit_test(test_eviction_strikes_only_old),
        cmocka_unit_test(test_penalty_table_bounded),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_summary_many_addresses),
        cmocka_unit_test(test_addr_format),
        cmocka_unit_test(test_srctab_churn),
    };

    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
