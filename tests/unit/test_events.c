/* The web side's events store: the inbox listing (newest first, one entry
 * per name, bounded), the ring of events and "since", the counters in the
 * Prometheus text format, and JSON that escapes what senders chose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "events.h"

static int setup(void **state)
{
    struct recv_events *ev = NULL;

    assert_int_equal(events_new(&ev), 0);
    *state = ev;
    return 0;
}

static int teardown(void **state)
{
    events_free(*state);
    return 0;
}

static void add_image(struct recv_events *ev, const char *name, uint64_t size)
{
    struct events_image img;

    memset(&img, 0, sizeof(img));
    snprintf(img.name, sizeof(img.name), "%s", name);
    img.size = size;
    img.width = 4;
    img.height = 3;
    snprintf(img.format, sizeof(img.format), "PNG");
    snprintf(img.fingerprint, sizeof(img.fingerprint), "password");
    img.hash[0] = 0xab;
    events_add_image(ev, &img);
}

static cJSON *parse(struct sitx_buf *b)
{
    cJSON *j;

    assert_int_equal(sitx_buf_append(b, "", 1), 0);
    j = cJSON_Parse((const char *)b->data);
    assert_non_null(j);
    return j;
}

static void test_images_newest_first(void **state)
{
    struct recv_events *ev = *state;
    struct events_image found;
    struct sitx_buf b;
    cJSON *j;
    cJSON *list;

    add_image(ev, "a.png", 10);
    add_image(ev, "<b>\"quoted\"</b>.png", 20);
    add_image(ev, "a.png", 30); /* the same name again: one entry, now newest */
    sitx_buf_init(&b);
    assert_int_equal(events_images_json(ev, &b), 0);
    j = parse(&b);
    assert_int_equal(cJSON_GetObjectItem(j, "count")->valueint, 2);
    list = cJSON_GetObjectItem(j, "images");
    assert_int_equal(cJSON_GetArraySize(list), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "name")->valuestring,
                        "a.png");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "size")->valueint, 30);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "name")->valuestring,
                        "<b>\"quoted\"</b>.png");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "sender")));
    assert_int_equal(
        strncmp(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "hash")->valuestring, "ab00", 4),
        0);
    cJSON_Delete(j);
    sitx_buf_clear(&b);
    assert_int_equal(events_find_image(ev, "a.png", &found), 1);
    assert_true(found.size == 30);
    assert_int_equal(events_find_image(ev, "c.png", &found), 0);
}

static void test_images_bounded(void **state)
{
    struct recv_events *ev = *state;
    struct events_image found;
    char name[32];

    for (int i = 0; i < EVENTS_IMAGES_MAX + 5; i++) {
        snprintf(name, sizeof(name), "img-%d.png", i);
        add_image(ev, name, (uint64_t)i);
    }
    assert_int_equal(events_find_image(ev, "img-4.png", &found), 0);
    assert_int_equal(events_find_image(ev, "img-5.png", &found), 1);
    snprintf(name, sizeof(name), "img-%d.png", EVENTS_IMAGES_MAX + 4);
    assert_int_equal(events_find_image(ev, name, &found), 1);
}

static void add_event(struct recv_events *ev, enum events_kind kind, uint8_t status,
                      const char *reason)
{
    struct events_event e;

    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.status = status;
    e.size = 100;
    snprintf(e.reason, sizeof(e.reason), "%s", reason);
    snprintf(e.name, sizeof(e.name), "x.png");
    snprintf(e.peer, sizeof(e.peer), "127.0.0.1:5");
    events_add_event(ev, &e);
}

static void test_ring_since(void **state)
{
    struct recv_events *ev = *state;
    struct sitx_buf b;
    cJSON *j;
    cJSON *list;

    for (int i = 0; i < EVENTS_RING + 10; i++) {
        add_event(ev, EV_REFUSED, SITX_ST_BAD_IMAGE, "");
    }
    sitx_buf_init(&b);
    assert_int_equal(events_events_json(ev, 0, 1000, &b), 0);
    j = parse(&b);
    list = cJSON_GetObjectItem(j, "events");
    assert_int_equal(cJSON_GetObjectItem(j, "seq")->valueint, EVENTS_RING + 10);
    assert_int_equal(cJSON_GetArraySize(list), EVENTS_RING);
    /* Oldest kept first: the ten before it fell off. */
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "seq")->valueint, 11);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "status")->valuestring,
                        "BAD_IMAGE");
    cJSON_Delete(j);
    assert_int_equal(events_events_json(ev, EVENTS_RING + 8, 1000, &b), 0);
    j = parse(&b);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "events")), 2);
    cJSON_Delete(j);
    assert_int_equal(events_events_json(ev, 0, 3, &b), 0);
    j = parse(&b);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "events")), 3);
    cJSON_Delete(j);
    sitx_buf_clear(&b);
}

/* The value of the sample line that starts with name (labels included). */
static double sample(const struct sitx_buf *b, const char *name)
{
    char line[256];
    const char *p = (const char *)b->data;
    size_t n = strlen(name);

    while (p != NULL && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

        if (len < sizeof(line)) {
            memcpy(line, p, len);
            line[len] = '\0';
            if (strncmp(line, name, n) == 0 && line[n] == ' ') {
                double v = 0;

                assert_int_equal(sscanf(line + n + 1, "%lf", &v), 1);
                return v;
            }
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    fail_msg("no sample %s in:\n%s", name, (const char *)b->data);
    return -1;
}

static void test_metrics(void **state)
{
    struct recv_events *ev = *state;
    struct sitx_buf b;

    add_event(ev, EV_STORED, SITX_ST_OK, "");
    add_event(ev, EV_STORED, SITX_ST_OK, "");
    add_event(ev, EV_REFUSED, SITX_ST_INTEGRITY, "");
    add_event(ev, EV_REFUSED, SITX_ST_TIMEOUT, "");
    add_event(ev, EV_REFUSED, SITX_ST_TIMEOUT, "");
    add_event(ev, EV_AUTH_FAILED, 0, "bad-password");
    add_event(ev, EV_AUTH_FAILED, 0, "unknown-key");
    add_event(ev, EV_AUTH_FAILED, 0, "bad-password");
    add_event(ev, EV_CONN_REFUSED, 0, "too-many-from-address");
    add_event(ev, EV_ABORTED, 0, "");
    add_event(ev, EV_ABORTED, 0, "");
    add_event(ev, EV_CANCELLED, SITX_ST_CANCELLED, "");
    events_count_bytes(ev, 1000);
    events_count_bytes(ev, 24);
    events_set_connections(ev, 3);
    events_count_validation(ev, 0.002);
    events_count_validation(ev, 0.3);
    events_count_validation(ev, 100);
    sitx_buf_init(&b);
    assert_int_equal(events_metrics_text(ev, 12345, &b), 0);
    assert_int_equal(sitx_buf_append(&b, "", 1), 0);
    assert_true(sample(&b, "sitx_images_stored_total") == 2);
    assert_true(sample(&b, "sitx_stored_bytes_total") == 200);
    assert_true(sample(&b, "sitx_images_refused_total{reason=\"INTEGRITY\"}") == 1);
    assert_true(sample(&b, "sitx_images_refused_total{reason=\"TIMEOUT\"}") == 2);
    assert_true(sample(&b, "sitx_images_refused_total{reason=\"BAD_IMAGE\"}") == 0);
    assert_true(sample(&b, "sitx_handshakes_failed_total{reason=\"bad-password\"}") == 2);
    assert_true(sample(&b, "sitx_handshakes_failed_total{reason=\"unknown-key\"}") == 1);
    assert_true(sample(&b, "sitx_connections_refused_total{reason=\"too-many-from-address\"}") ==
                1);
    assert_true(sample(&b, "sitx_connections_refused_total{reason=\"other\"}") == 0);
    assert_true(sample(&b, "sitx_images_aborted_total") == 2);
    assert_true(sample(&b, "sitx_images_cancelled_total") == 1);
    assert_true(sample(&b, "sitx_received_bytes_total") == 1024);
    assert_true(sample(&b, "sitx_connections_open") == 3);
    assert_true(sample(&b, "sitx_validation_seconds_bucket{le=\"0.001\"}") == 0);
    assert_true(sample(&b, "sitx_validation_seconds_bucket{le=\"0.005\"}") == 1);
    assert_true(sample(&b, "sitx_validation_seconds_bucket{le=\"0.5\"}") == 2);
    assert_true(sample(&b, "sitx_validation_seconds_bucket{le=\"+Inf\"}") == 3);
    assert_true(sample(&b, "sitx_validation_seconds_count") == 3);
    assert_true(sample(&b, "sitx_inbox_free_bytes") == 12345);
    assert_non_null(strstr((const char *)b.data, "# TYPE sitx_validation_seconds histogram\n"));
    sitx_buf_clear(&b);
    sitx_buf_init(&b);
    assert_int_equal(events_metrics_text(ev, -1, &b), 0);
    assert_int_equal(sitx_buf_append(&b, "", 1), 0);
    assert_null(strstr((const char *)b.data, "sitx_inbox_free_bytes"));
    sitx_buf_clear(&b);
}

static void test_event_kinds_json(void **state)
{
    struct recv_events *ev = *state;
    struct sitx_buf b;
    cJSON *j;
    cJSON *list;

    add_event(ev, EV_CONN_REFUSED, 0, "untrusted-proxy");
    add_event(ev, EV_ABORTED, 0, "");
    add_event(ev, EV_REFUSED, SITX_ST_TIMEOUT, "");
    sitx_buf_init(&b);
    assert_int_equal(events_events_json(ev, 0, 10, &b), 0);
    j = parse(&b);
    list = cJSON_GetObjectItem(j, "events");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "kind")->valuestring,
                        "connection-refused");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "reason")->valuestring,
                        "untrusted-proxy");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "name")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "status")));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "kind")->valuestring,
                        "aborted");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "status")));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "name")->valuestring,
                        "x.png");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 2), "status")->valuestring,
                        "TIMEOUT");
    cJSON_Delete(j);
    sitx_buf_clear(&b);
}

static void test_time(void **state)
{
    char buf[32];

    (void)state;
    events_format_time(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    events_format_time(1796278293, buf, sizeof(buf));
    assert_string_equal(buf, "2026-12-03T06:11:33Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_images_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_images_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_since, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_kinds_json, setup, teardown),
        cmocka_unit_test(test_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
