/* Web request routing: the page and API paths, image names percent-decoded
 * and kept inside the inbox (traversal, hidden files, NUL, control bytes),
 * the events query, methods, and the Host check against DNS rebinding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_route.h"

static struct http_route route(const char *method, const char *path, const char *query)
{
    struct http_route r;

    http_route_parse(method, path, query, &r);
    return r;
}

static void test_fixed_paths(void **state)
{
    (void)state;
    assert_int_equal(route("GET", "/", NULL).kind, HR_PAGE);
    assert_int_equal(route("GET", "/index.html", NULL).kind, HR_PAGE);
    assert_int_equal(route("GET", "/app.js", NULL).kind, HR_SCRIPT);
    assert_int_equal(route("GET", "/style.css", NULL).kind, HR_STYLE);
    assert_int_equal(route("GET", "/api/v1/images", NULL).kind, HR_IMAGES);
    assert_int_equal(route("GET", "/api/v1/events", NULL).kind, HR_EVENTS);
    assert_int_equal(route("GET", "/metrics", NULL).kind, HR_METRICS);
    assert_int_equal(route("GET", "/api/v1/images/", NULL).kind, HR_NOT_FOUND);
    assert_int_equal(route("GET", "/api/v1/imagesX", NULL).kind, HR_NOT_FOUND);
    assert_int_equal(route("GET", "/favicon.ico", NULL).kind, HR_NOT_FOUND);
    assert_int_equal(route("GET", "", NULL).kind, HR_NOT_FOUND);
    assert_int_equal(route("HEAD", "/metrics", NULL).head, 1);
    assert_int_equal(route("HEAD", "/metrics", NULL).kind, HR_METRICS);
}

static void test_methods(void **state)
{
    (void)state;
    assert_int_equal(route("POST", "/api/v1/images", NULL).kind, HR_BAD_METHOD);
    assert_int_equal(route("DELETE", "/api/v1/images/a.png", NULL).kind, HR_BAD_METHOD);
    assert_int_equal(route("PUT", "/", NULL).kind, HR_BAD_METHOD);
    assert_int_equal(route("get", "/", NULL).kind, HR_BAD_METHOD);
    assert_int_equal(route(NULL, "/", NULL).kind, HR_NOT_FOUND);
}

static void test_image_names(void **state)
{
    struct http_route r;

    (void)state;
    r = route("GET", "/api/v1/images/scan-0042.png", NULL);
    assert_int_equal(r.kind, HR_IMAGE);
    assert_string_equal(r.name, "scan-0042.png");
    r = route("GET", "/api/v1/thumbs/caf%C3%A9%20au%20lait.jpg", NULL);
    assert_int_equal(r.kind, HR_THUMB);
    assert_string_equal(r.name, "café au lait.jpg");
    /* '+' is a plus in a path, not a space. */
    r = route("GET", "/api/v1/images/a+b.png", NULL);
    assert_string_equal(r.name, "a+b.png");
    r = route("GET", "/api/v1/images/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.png", NULL);
    assert_int_equal(r.kind, HR_IMAGE);
    assert_string_equal(r.name, "<img src=x onerror=alert(1)>.png");
    /* Images in subdirectories (folders, --per-sender-dirs), as the page
     * asks for them (encodeURIComponent) or typed. */
    r = route("GET", "/api/v1/images/alice%2F2024%2Fa.jpg", NULL);
    assert_int_equal(r.kind, HR_IMAGE);
    assert_string_equal(r.name, "alice/2024/a.jpg");
    r = route("GET", "/api/v1/thumbs/sub/b.png", NULL);
    assert_int_equal(r.kind, HR_THUMB);
    assert_string_equal(r.name, "sub/b.png");
}

static void test_traversal(void **state)
{
    static const char *bad[] = {
        "/api/v1/images/..%2f..%2fetc%2fpasswd",
        "/api/v1/images/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/images/../../etc/passwd",
        "/api/v1/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/v1/images/%2e%2e",
        "/api/v1/images/..",
        "/api/v1/images/.",
        "/api/v1/images/.sitx-index",
        "/api/v1/images/%2esitx-index",
        "/api/v1/images/.sitx-tmp-123",
        "/api/v1/images/a//b.png",
        "/api/v1/images/a%2F%2Fb.png",
        "/api/v1/images/a/",
        "/api/v1/images/a/.hid/b.png",
        "/api/v1/images/a%2F.sitx-partial%2Fx",
        "/api/v1/images/.sitx-partial%2Fx",
        "/api/v1/images/a%2F%2e%2e%2Fb.png",
        "/api/v1/images/a/../../b.png",
        "/api/v1/images/a%5cb/c.png",
        "/api/v1/images/a/b%00/c.png",
        "/api/v1/images/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17.png",
        "/api/v1/images/%2Fetc%2Fpasswd",
        "/api/v1/images/..%5c..%5cwin.ini",
        "/api/v1/images/a.png%00.jpg",
        "/api/v1/images/a%0a.png",
        "/api/v1/images/a%7f.png",
        "/api/v1/images/%ff.png",
        "/api/v1/images/%c0%af.png",
        "/api/v1/images/a%2",
        "/api/v1/images/a%zz",
        "/api/v1/thumbs/..%2f..%2fetc%2fpasswd",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_route r = route("GET", bad[i], NULL);

        if (r.kind != HR_NOT_FOUND) {
            fail_msg("%s routes to %d (name '%s')", bad[i], r.kind, r.name);
        }
        assert_string_equal(r.name, "");
    }
}

static void test_long_names(void **state)
{
    char path[600];
    struct http_route r;
    int n = snprintf(path, sizeof(path), "/api/v1/images/");

    (void)state;
    memset(path + n, 'a', 255);
    path[n + 255] = '\0';
    r = route("GET", path, NULL);
    assert_int_equal(r.kind, HR_IMAGE);
    assert_int_equal(strlen(r.name), 255);
    path[n + 255] = 'a';
    path[n + 256] = '\0';
    assert_int_equal(route("GET", path, NULL).kind, HR_NOT_FOUND);
}

static void test_events_query(void **state)
{
    struct http_route r;

    (void)state;
    r = route("GET", "/api/v1/events", "since=42");
    assert_int_equal(r.kind, HR_EVENTS);
    assert_true(r.since == 42);
    assert_int_equal(r.limit, HTTP_EVENTS_LIMIT);
    r = route("GET", "/api/v1/events", "limit=5&since=18446744073709551615&_=123");
    assert_int_equal(r.kind, HR_EVENTS);
    assert_true(r.since == UINT64_MAX);
    assert_int_equal(r.limit, 5);
    r = route("GET", "/api/v1/events", "%73ince=7");
    assert_true(r.since == 7);
    r = route("GET", "/api/v1/events", "");
    assert_int_equal(r.kind, HR_EVENTS);
    assert_int_equal(route("GET", "/api/v1/events", "since=x").kind, HR_BAD_REQUEST);
    assert_int_equal(route("GET", "/api/v1/events", "since=-1").kind, HR_BAD_REQUEST);
    assert_int_equal(route("GET", "/api/v1/events", "since=").kind, HR_BAD_REQUEST);
    assert_int_equal(route("GET", "/api/v1/events", "since=18446744073709551616").kind,
                     HR_BAD_REQUEST);
    assert_int_equal(route("GET", "/api/v1/events", "limit=0").kind, HR_BAD_REQUEST);
    assert_int_equal(route("GET", "/api/v1/events", "limit=257").kind, HR_BAD_REQUEST);
    assert_int_equal(route("GET", "/api/v1/events", "since=%zz").kind, HR_BAD_REQUEST);
    /* Unknown keys and bare words are ignored. */
    assert_int_equal(route("GET", "/api/v1/events", "foo&bar=%zz").kind, HR_EVENTS);
}

static void test_percent_decode(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(http_percent_decode("a%41+", 5, 1, out, sizeof(out)), 3);
    assert_string_equal(out, "aA ");
    assert_int_equal(http_percent_decode("a%41+", 5, 0, out, sizeof(out)), 3);
    assert_string_equal(out, "aA+");
    assert_int_equal(http_percent_decode("1234567", 7, 0, out, sizeof(out)), 7);
    assert_int_equal(http_percent_decode("12345678", 8, 0, out, sizeof(out)), -1);
    assert_int_equal(http_percent_decode("%00", 3, 0, out, sizeof(out)), -1);
    assert_int_equal(http_percent_decode("%4", 2, 0, out, sizeof(out)), -1);
    assert_int_equal(http_percent_decode("%g0", 3, 0, out, sizeof(out)), -1);
    assert_int_equal(http_percent_decode("", 0, 0, out, 0), -1);
}

static void test_host(void **state)
{
    (void)state;
    assert_true(http_host_ok(NULL));
    assert_true(http_host_ok("127.0.0.1"));
    assert_true(http_host_ok("127.0.0.1:8080"));
    assert_true(http_host_ok("192.0.2.7:80"));
    assert_true(http_host_ok("[::1]:8080"));
    assert_true(http_host_ok("[::1]"));
    assert_true(http_host_ok("localhost:8080"));
    assert_false(http_host_ok("evil.example"));
    assert_false(http_host_ok("evil.example:8080"));
    assert_false(http_host_ok("127.0.0.1.evil.example"));
    assert_false(http_host_ok("localhost.evil.example:80"));
    assert_false(http_host_ok(""));
    assert_false(http_host_ok("[::1"));
    assert_false(http_host_ok("[::1]x"));
    assert_false(http_host_ok("127.0.0.1:99999"));
    assert_false(http_host_ok("127.0.0.1:"));
    assert_false(http_host_ok("[evil]:80"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_paths),    cmocka_unit_test(test_methods),
        cmocka_unit_test(test_image_names),    cmocka_unit_test(test_traversal),
        cmocka_unit_test(test_long_names),     cmocka_unit_test(test_events_query),
        cmocka_unit_test(test_percent_decode), cmocka_unit_test(test_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
