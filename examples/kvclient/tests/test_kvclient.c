/* The kvclient suite on asyncharness: the unchanged client (kvclient.c, resp.c) against scripted
 * Redis peers, faults and DNS of the fake network, on the virtual clock. Each test gets a fresh
 * sim from ah_unit_test and ends with the sim's teardown checks: no handle left open, no request
 * in flight, no scripted peer with steps left. docs/testing-your-client.md walks through it. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "kvclient.h"

#define SERVER "127.0.0.1:6379"

/* The wire bytes of the commands the tests send, written out by hand (not by the client's own
 * encoder, which is under test). */
#define PING "*1\r\n$4\r\nPING\r\n"
#define GET_K "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
#define GET_A "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
#define GET_B "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"
#define GET_C "*2\r\n$3\r\nGET\r\n$1\r\nc\r\n"
#define INCR_N "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"

/* ---- the adapter: kv_cb -> ah_future ----
 * A kv_reply belongs to the client and lives only during the callback, so the adapter copies it
 * and gives the copy to the sim (ah_future_fulfil_owned frees it with the sim). A failed command
 * rejects the future with its UV_E* status. A second call for the same command is a bug in the
 * client: the future is already settled, and the adapter fails the test. (A future the test
 * cancelled, e.g. by ah_with_timeout, is settled too; the command's own late callback is then
 * expected and ignored.) */
static kv_reply *reply_copy(const kv_reply *r)
{
    kv_reply *c = calloc(1, sizeof(*c));
    size_t i;

    assert_non_null(c);
    c->type = r->type;
    c->integer = r->integer;
    c->len = r->len;
    if (r->str != NULL) {
        c->str = malloc(r->len + 1);
        assert_non_null(c->str);
        memcpy(c->str, r->str, r->len + 1);
    }
    if (r->elements > 0) {
        c->element = calloc(r->elements, sizeof(*c->element));
        assert_non_null(c->element);
        for (i = 0; i < r->elements; i++, c->elements++)
            c->element[i] = reply_copy(r->element[i]);
    }
    return c;
}

static void reply_free(void *reply) { kv_reply_free(reply); }

static void kv_future_cb(kv_req *req, int status, const kv_reply *reply, void *data)
{
    ah_future *f = data;
    int rc;

    (void)req;
    if ((status < 0) != (reply == NULL))
        ah_fail(ah_future_sim(f), "kv_cb: status %d with a %s reply", status,
                reply == NULL ? "NULL" : "non-NULL");
    if (status < 0)
        rc = ah_future_reject(f, status);
    else
        rc = ah_future_fulfil_owned(f, reply_copy(reply), reply_free);
    if (rc == UV_EALREADY && ah_future_state_of(f) != AH_FUTURE_CANCELLED)
        ah_fail(ah_future_sim(f), "kv_cb called a second time for one command (status %s)",
                status < 0 ? uv_err_name(status) : "0");
}

/* Cancelling the future cancels the command: ah_future_on_cancel runs this once, as a
 * continuation, and kv_cancel makes the client call back with UV_ECANCELED. */
static void cancel_command(ah_future *f, void *req)
{
    (void)f;
    assert_int_equal(kv_cancel(req), 0);
}

static kv_req *cancel_with(ah_future *f, kv_req *req)
{
    ah_future_on_cancel(f, cancel_command, req);
    return req;
}

/* Awaits a command's future and returns the copy of its reply (fails the test if it failed). */
#define await_reply(sim, f) ((const kv_reply *)ah_await_value((sim), (f)))

/* Reply checks that fail through the harness, so the failure names the virtual instant and the
 * replay command. */
static const char *reply_str(const kv_reply *r, char *buf, size_t n)
{
    switch (r->type) {
    case KV_REPLY_STRING:
        snprintf(buf, n, "the bulk string \"%s\"", r->str);
        break;
    case KV_REPLY_STATUS:
        snprintf(buf, n, "the status \"%s\"", r->str);
        break;
    case KV_REPLY_ERROR:
        snprintf(buf, n, "the error \"%s\"", r->str);
        break;
    case KV_REPLY_INTEGER:
        snprintf(buf, n, "the integer %lld", r->integer);
        break;
    case KV_REPLY_NIL:
        snprintf(buf, n, "nil");
        break;
    default:
        snprintf(buf, n, "an array of %zu", r->elements);
        break;
    }
    return buf;
}

static void check_reply(ah_sim *sim, const kv_reply *r, int type, const char *str,
                        long long integer, const char *file, int line)
{
    char want[128], got[128];
    kv_reply w = {.type = type, .str = (char *)str, .integer = integer};

    if (r->type == type && (str == NULL || (r->str != NULL && strcmp(r->str, str) == 0)) &&
        (type != KV_REPLY_INTEGER || r->integer == integer))
        return;
    ah__fail_at(sim, file, line, "kvclient: expected %s, got %s", reply_str(&w, want, sizeof(want)),
                reply_str(r, got, sizeof(got)));
}
#define assert_bulk(sim, r, s) check_reply((sim), (r), KV_REPLY_STRING, (s), 0, __FILE__, __LINE__)
#define assert_status(sim, r, s)                                                                   \
    check_reply((sim), (r), KV_REPLY_STATUS, (s), 0, __FILE__, __LINE__)
#define assert_error_reply(sim, r, s)                                                              \
    check_reply((sim), (r), KV_REPLY_ERROR, (s), 0, __FILE__, __LINE__)
#define assert_integer(sim, r, n)                                                                  \
    check_reply((sim), (r), KV_REPLY_INTEGER, NULL, (n), __FILE__, __LINE__)
#define assert_nil(sim, r) check_reply((sim), (r), KV_REPLY_NIL, NULL, 0, __FILE__, __LINE__)

/* ---- the client's life in a test ---- */

static kv_client *client_new(const kv_opts *opts)
{
    kv_client *c = kv_new(uv_default_loop(), "127.0.0.1", 6379, opts);

    assert_non_null(c);
    return c;
}

static void on_closed(kv_client *c, void *data)
{
    (void)c;
    ++*(int *)data;
}

/* kv_close, then run the sim until nothing is left: the client's handles must all close. */
static void client_close(ah_sim *sim, kv_client *c)
{
    int closed = 0;

    kv_close(c, on_closed, &closed);
    assert_int_equal(closed, 0); /* never inside kv_close */
    ah_run_until_idle(sim);
    assert_int_equal(closed, 1);
}

static kv_stats stats_of(const kv_client *c)
{
    kv_stats s;

    kv_client_stats(c, &s);
    return s;
}

/* ---- happy paths ---- */

static void ping_is_answered_with_pong(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, PING);
    ah_peer_reply(srv, "+PONG\r\n");

    kv_client *c = client_new(NULL);
    ah_future *pong = ah_future_new(sim);
    kv_ping(c, kv_future_cb, pong);
    ah_assert_pending(pong); /* the callback never runs inside kv_ping */

    assert_status(sim, await_reply(sim, pong), "PONG");
    ah_assert_now_ms(sim, 0); /* no latency configured: all at the first instant */
    assert_int_equal(stats_of(c).connects, 1);
    client_close(sim, c);
}

static void get_hit_returns_the_value(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_K);
    ah_peer_reply(srv, "$11\r\nhello world\r\n");

    kv_client *c = client_new(NULL);
    ah_future *r = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, r);

    const kv_reply *reply = await_reply(sim, r);
    assert_bulk(sim, reply, "hello world");
    assert_int_equal(reply->len, 11);
    client_close(sim, c);
}

static void get_miss_returns_nil(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_K);
    ah_peer_reply(srv, "$-1\r\n");

    kv_client *c = client_new(NULL);
    ah_future *r = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, r);

    assert_nil(sim, await_reply(sim, r));
    client_close(sim, c);
}

static void set_without_expiry_sends_three_arguments(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n");
    ah_peer_reply(srv, "+OK\r\n");

    kv_client *c = client_new(NULL);
    ah_future *r = ah_future_new(sim);
    kv_set(c, "k", "value", 0, kv_future_cb, r);

    assert_status(sim, await_reply(sim, r), "OK");
    client_close(sim, c);
}

static void set_with_expiry_sends_px(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$4\r\n1500\r\n");
    ah_peer_reply(srv, "+OK\r\n");

    kv_client *c = client_new(NULL);
    ah_future *r = ah_future_new(sim);
    kv_set(c, "k", "v", 1500, kv_future_cb, r);

    assert_status(sim, await_reply(sim, r), "OK");
    client_close(sim, c);
}

static void del_returns_the_number_removed(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n");
    ah_peer_reply(srv, ":1\r\n");

    kv_client *c = client_new(NULL);
    ah_future *r = ah_future_new(sim);
    kv_del(c, "k", kv_future_cb, r);

    assert_integer(sim, await_reply(sim, r), 1);
    client_close(sim, c);
}

static void incr_returns_each_new_value(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, INCR_N);
    ah_peer_reply(srv, ":1\r\n");
    ah_peer_expect(srv, INCR_N);
    ah_peer_reply(srv, ":2\r\n");

    kv_client *c = client_new(NULL);
    ah_future *one = ah_future_new(sim), *two = ah_future_new(sim);
    kv_incr(c, "n", kv_future_cb, one);
    assert_integer(sim, await_reply(sim, one), 1);
    kv_incr(c, "n", kv_future_cb, two);
    assert_integer(sim, await_reply(sim, two), 2);
    client_close(sim, c);
}

/* An error reply is the server's answer (status 0), not a failed command; the connection stays
 * usable. */
static void error_reply_is_an_answer_not_a_failure(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, INCR_N);
    ah_peer_reply(srv, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    ah_peer_expect(srv, PING);
    ah_peer_reply(srv, "+PONG\r\n");

    kv_client *c = client_new(NULL);
    ah_future *err = ah_future_new(sim), *pong = ah_future_new(sim);
    kv_incr(c, "n", kv_future_cb, err);
    kv_ping(c, kv_future_cb, pong);

    assert_error_reply(sim, await_reply(sim, err),
                       "WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_status(sim, await_reply(sim, pong), "PONG");
    assert_int_equal(stats_of(c).connects, 1);
    client_close(sim, c);
}

/* A host name goes through uv_getaddrinfo: the fake DNS answers after 30 ms, then the command
 * that was queued meanwhile is sent. */
static void host_name_is_resolved_before_connecting(void **state)
{
    ah_sim *sim = *state;
    ah_dns_add(sim, "redis.test", "127.0.0.1");
    ah_dns_latency(sim, "redis.test", 30);
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, PING);
    ah_peer_reply(srv, "+PONG\r\n");

    kv_client *c = kv_new(uv_default_loop(), "redis.test", 6379, NULL);
    ah_future *pong = ah_future_new(sim);
    kv_ping(c, kv_future_cb, pong);
    assert_int_equal(stats_of(c).queued, 1);

    assert_status(sim, await_reply(sim, pong), "PONG");
    ah_assert_now_ms(sim, 30);
    client_close(sim, c);
}

/* ---- timeouts ---- */

static void command_times_out_at_its_exact_instant(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_K);
    ah_peer_stall(srv); /* takes the command and never answers */

    kv_client *c = client_new(&(kv_opts){.timeout_ms = 5000});
    ah_future *r = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, r);

    ah_advance(sim, 4999);
    ah_assert_pending(r); /* one millisecond before the deadline: still waiting */
    assert_int_equal(ah_await_error(sim, r), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 5000);
    assert_int_equal(stats_of(c).timeouts, 1);
    client_close(sim, c);
}

/* The deadline runs from the kv_* call, so time spent waiting for the connection counts. */
static void time_queued_before_the_connection_counts(void **state)
{
    ah_sim *sim = *state;
    ah_dns_add(sim, "redis.test", "127.0.0.1");
    ah_dns_latency(sim, "redis.test", 300);
    ah_net_listen(sim, SERVER); /* accepts the connection; the client has nothing left to send */

    kv_client *c = kv_new(uv_default_loop(), "redis.test", 6379, &(kv_opts){.timeout_ms = 200});
    ah_future *r = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, r);

    assert_int_equal(ah_await_error(sim, r), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 200);
    assert_int_equal(stats_of(c).connects, 0); /* it failed while still resolving */
    client_close(sim, c);
}

/* GET a times out at 100 ms; its reply comes at 150 ms, after GET b was sent. The client must
 * discard a's late reply and give b its own: B, not A. With -DKV_PLANTED_BUG the client hands A
 * to b, and this is the test that catches it (CTest kvclient_planted_bug_is_caught). The client
 * is closed before the checks, so the planted-bug run, which fails here, leaks nothing. */
static void late_reply_after_timeout_keeps_pipeline_aligned(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_A);
    ah_peer_reply_after(srv, 150, "$1\r\nA\r\n"); /* too late for a's 100 ms timeout */
    ah_peer_expect(srv, GET_B);
    ah_peer_reply(srv, "$1\r\nB\r\n");

    kv_client *c = client_new(&(kv_opts){.timeout_ms = 100});
    ah_future *a = ah_future_new(sim), *b = ah_future_new(sim);
    kv_get(c, "a", kv_future_cb, a);
    assert_int_equal(ah_await_error(sim, a), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 100);

    kv_get(c, "b", kv_future_cb, b);
    const kv_reply *rb = await_reply(sim, b); /* a copy the sim owns: it outlives the client */
    ah_assert_now_ms(sim, 150);
    kv_stats st = stats_of(c);
    client_close(sim, c); /* before the checks, so that a failing check leaves nothing behind */
    assert_bulk(sim, rb, "B");
    assert_int_equal(st.late_replies, 1);
}

/* The race behind the planted bug, left to the explorer: replies take 20-60 ms each way, drawn
 * per segment from the sim's oracle, against a 100 ms timeout, so whether a's reply beats its
 * deadline depends on the schedule. Whatever the schedule, b must get B or time out, never A. A
 * plain ah_unit_test sees one schedule; ah_explore_test runs AH_SCHEDULES of them (default 100)
 * and, for a failure, prints the seed and the command that replays it. */
static void pipeline_under_jitter_never_hands_a_reply_to_the_wrong_command(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, PING);
    ah_peer_reply(srv, "+PONG\r\n");
    ah_peer_expect(srv, GET_A);
    ah_peer_reply(srv, "$1\r\nA\r\n");
    ah_peer_expect(srv, GET_B);
    ah_peer_reply(srv, "$1\r\nB\r\n");

    kv_client *c = client_new(&(kv_opts){.timeout_ms = 100});
    ah_future *p = ah_future_new(sim), *a = ah_future_new(sim), *b = ah_future_new(sim);
    kv_ping(c, kv_future_cb, p);
    assert_status(sim, await_reply(sim, p), "PONG"); /* connected, before any latency */

    ah_net_latency(sim, SERVER, 20, 60);
    kv_get(c, "a", kv_future_cb, a);
    int a_state = ah_await(sim, a);
    ah_sometimes(a_state == AH_FUTURE_REJECTED, "a timed out, its reply still on the way");
    ah_sometimes(a_state == AH_FUTURE_FULFILLED, "a answered in time");
    kv_get(c, "b", kv_future_cb, b);
    int b_state = ah_await(sim, b);
    const kv_reply *rb = b_state == AH_FUTURE_FULFILLED ? ah_future_ptr(b) : NULL;
    client_close(sim, c); /* before the checks, so that a failing check leaves nothing behind */
    if (a_state == AH_FUTURE_REJECTED)
        assert_int_equal(ah_future_error(a), UV_ETIMEDOUT);
    if (rb != NULL)
        assert_bulk(sim, rb, "B");
    else
        assert_int_equal(ah_future_error(b), UV_ETIMEDOUT);
}

/* The same with kv_cancel instead of a timeout: the reply of a cancelled command that was sent is
 * read and dropped. */
static void cancelled_command_reply_is_discarded(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_A GET_B GET_C); /* sent together, in one write */
    ah_peer_reply_after(srv, 10, "$1\r\nA\r\n$1\r\nB\r\n$1\r\nC\r\n");

    kv_client *c = client_new(NULL);
    ah_future *a = ah_future_new(sim), *b = ah_future_new(sim), *cc = ah_future_new(sim);
    kv_get(c, "a", kv_future_cb, a);
    kv_req *rb = kv_get(c, "b", kv_future_cb, b);
    kv_get(c, "c", kv_future_cb, cc);
    ah_advance(sim, 5); /* all three are on the wire */
    assert_int_equal(stats_of(c).in_flight, 3);

    assert_int_equal(kv_cancel(rb), 0);
    ah_assert_pending(b); /* never inside kv_cancel */
    assert_int_equal(ah_await_error(sim, b), UV_ECANCELED);
    ah_assert_now_ms(sim, 5);
    assert_bulk(sim, await_reply(sim, a), "A");
    assert_bulk(sim, await_reply(sim, cc), "C");
    ah_assert_now_ms(sim, 10);
    assert_int_equal(stats_of(c).late_replies, 1);
    client_close(sim, c);
}

/* A deadline set by the test, not the client: ah_with_timeout rejects at exactly +250 ms and
 * cancels the command's future, whose on_cancel hook calls kv_cancel. GET k's reply, at +300 ms,
 * is then discarded as a late reply (which proves kv_cancel ran), and GET b is unaffected. */
struct seen {
    int calls, status;
};

static void seen_cb(kv_req *req, int status, const kv_reply *reply, void *data)
{
    struct seen *s = data;

    (void)req;
    (void)reply;
    s->calls++;
    s->status = status;
}

static void deadline_set_by_the_test_cancels_the_command(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_K GET_B);
    ah_peer_reply_after(srv, 300, "$1\r\nK\r\n");
    ah_peer_stall(srv);

    kv_client *c = client_new(&(kv_opts){.timeout_ms = 30000});
    ah_future *r = ah_future_new(sim);
    cancel_with(r, kv_get(c, "k", kv_future_cb, r));
    struct seen other = {0};
    kv_get(c, "b", seen_cb, &other);

    assert_int_equal(ah_await_error(sim, ah_with_timeout(sim, r, 250)), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 250);
    assert_int_equal(ah_future_state_of(r), AH_FUTURE_CANCELLED);
    ah_advance(sim, 50);
    kv_stats st = stats_of(c);
    assert_int_equal(st.late_replies, 1); /* K, for the cancelled GET k */
    assert_int_equal(st.in_flight, 1);    /* GET b is still waiting */
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(other.calls, 0);
    client_close(sim, c);
    assert_int_equal(other.calls, 1);
    assert_int_equal(other.status, UV_ECANCELED);
}

/* A whole 30 s timeout is simulated without a real wait. */
static double wall_s(void)
{
    struct timespec t;

    ah_real_clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void thirty_second_timeout_takes_no_wall_time(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, PING);
    ah_peer_stall(srv);

    kv_client *c = client_new(&(kv_opts){.timeout_ms = 30000});
    ah_future *r = ah_future_new(sim);
    double t0 = wall_s();
    kv_ping(c, kv_future_cb, r);

    assert_int_equal(ah_await_error(sim, r), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 30000);
    assert_true(wall_s() - t0 < 1.0); /* milliseconds in practice, even under Valgrind */
    client_close(sim, c);
}

/* ---- connection faults ---- */

/* The fake DNS fails the name: the queued command fails with the resolver's error once the
 * retries are used up (one here, after the first backoff delay of the default jitter, 85 ms). */
static void dns_failure_fails_queued_commands(void **state)
{
    ah_sim *sim = *state;
    ah_dns_fail(sim, "redis.test", UV_EAI_NONAME);

    kv_client *c = kv_new(uv_default_loop(), "redis.test", 6379,
                          &(kv_opts){.max_retries = 1, .timeout_ms = KV_NO_TIMEOUT});
    ah_future *r = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, r);

    assert_int_equal(ah_await_error(sim, r), UV_EAI_NONAME);
    ah_assert_now_ms(sim, 85);
    assert_int_equal(stats_of(c).connect_attempts, 2);
    client_close(sim, c);
}

static void connect_refused_fails_queued_commands(void **state)
{
    ah_sim *sim = *state; /* nothing listens on 6379 */
    kv_client *c = client_new(&(kv_opts){.max_retries = KV_NO_RETRIES});
    ah_future *r = ah_future_new(sim);
    kv_ping(c, kv_future_cb, r);

    assert_int_equal(ah_await_error(sim, r), UV_ECONNREFUSED);
    ah_assert_now_ms(sim, 0);
    assert_int_equal(stats_of(c).connect_attempts, 1);
    client_close(sim, c);
}

/* The SYN is lost: the client's own connect timer gives up at exactly 500 ms. */
static void connect_timeout_fails_at_its_instant(void **state)
{
    ah_sim *sim = *state;
    ah_net_listen(sim, SERVER);
    ah_net_connect_timeout(sim, SERVER);

    kv_client *c = client_new(&(kv_opts){
        .connect_timeout_ms = 500, .timeout_ms = KV_NO_TIMEOUT, .max_retries = KV_NO_RETRIES});
    ah_future *r = ah_future_new(sim);
    kv_ping(c, kv_future_cb, r);

    assert_int_equal(ah_await_error(sim, r), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 500);
    assert_int_equal(stats_of(c).connect_attempts, 1);
    assert_int_equal(stats_of(c).connects, 0);
    client_close(sim, c);
}

/* Three commands on the wire; the server answers the first and resets 1 ms later. The other two
 * fail with UV_ECONNRESET at that instant; the client reconnects after the first backoff delay
 * (85 ms with the default jitter) and the next command goes over connection #2. (Were the reset
 * to arrive with the reply, libuv would report UV_EOF: its POLLHUP shortcut after a partial read,
 * which the fake network reproduces.) */
static int accepted_two(void *srv) { return ah_peer_accept_count(srv) == 2; }

static void server_reset_mid_pipeline(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_A GET_B GET_C);
    ah_peer_reply_after(srv, 20, "$1\r\nA\r\n");
    ah_peer_delay(srv, 1);
    ah_peer_reset(srv);
    ah_peer_next_connection(srv);
    ah_peer_expect(srv, PING);
    ah_peer_reply(srv, "+PONG\r\n");

    kv_client *c = client_new(NULL);
    ah_future *a = ah_future_new(sim), *b = ah_future_new(sim), *cc = ah_future_new(sim);
    kv_get(c, "a", kv_future_cb, a);
    kv_get(c, "b", kv_future_cb, b);
    kv_get(c, "c", kv_future_cb, cc);

    assert_bulk(sim, await_reply(sim, a), "A");
    assert_int_equal(ah_await_error(sim, b), UV_ECONNRESET);
    assert_int_equal(ah_await_error(sim, cc), UV_ECONNRESET);
    ah_assert_now_ms(sim, 21);

    ah_run_until(sim, accepted_two, srv);
    ah_assert_now_ms(sim, 21 + 85);
    ah_future *pong = ah_future_new(sim);
    kv_ping(c, kv_future_cb, pong);
    assert_status(sim, await_reply(sim, pong), "PONG");
    assert_int_equal(stats_of(c).connects, 2);
    client_close(sim, c);
}

/* The server closes the connection with a command in flight: it fails with UV_EOF. */
static void server_close_fails_in_flight_with_eof(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_K);
    ah_peer_delay(srv, 7);
    ah_peer_close(srv);

    kv_client *c = client_new(&(kv_opts){.max_retries = KV_NO_RETRIES});
    ah_future *r = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, r);

    assert_int_equal(ah_await_error(sim, r), UV_EOF);
    ah_assert_now_ms(sim, 7);
    client_close(sim, c);
}

/* Bytes that are not RESP: the stream cannot be trusted, the command fails with UV_EPROTO. */
static void garbage_reply_fails_with_eproto(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_K);
    ah_peer_reply(srv, "?what\r\n");

    kv_client *c = client_new(&(kv_opts){.max_retries = KV_NO_RETRIES});
    ah_future *r = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, r);

    assert_int_equal(ah_await_error(sim, r), UV_EPROTO);
    client_close(sim, c);
}

/* Every byte in its own read, both ways: the parser must assemble each reply. */
static void replies_split_into_one_byte_chunks(void **state)
{
    ah_sim *sim = *state;
    ah_net_chunking(sim, SERVER, 1);
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_A INCR_N GET_B PING "*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n");
    ah_peer_reply(srv, "$12\r\nhello\r\nworld\r\n"
                       ":12345\r\n"
                       "$-1\r\n"
                       "-ERR no\r\n"
                       "*2\r\n$1\r\nx\r\n$-1\r\n");

    kv_client *c = client_new(NULL);
    ah_future *f[5];
    const char *mget[] = {"MGET", "a", "b"};
    int i;

    for (i = 0; i < 5; i++)
        f[i] = ah_future_new(sim);
    kv_get(c, "a", kv_future_cb, f[0]);
    kv_incr(c, "n", kv_future_cb, f[1]);
    kv_get(c, "b", kv_future_cb, f[2]);
    kv_ping(c, kv_future_cb, f[3]);
    kv_command(c, 3, mget, NULL, kv_future_cb, f[4]);

    const kv_reply *bulk = await_reply(sim, f[0]);
    assert_bulk(sim, bulk, "hello\r\nworld");
    assert_int_equal(bulk->len, 12);
    assert_integer(sim, await_reply(sim, f[1]), 12345);
    assert_nil(sim, await_reply(sim, f[2]));
    assert_error_reply(sim, await_reply(sim, f[3]), "ERR no");
    const kv_reply *arr = await_reply(sim, f[4]);
    assert_int_equal(arr->type, KV_REPLY_ARRAY);
    assert_int_equal(arr->elements, 2);
    assert_bulk(sim, arr->element[0], "x");
    assert_nil(sim, arr->element[1]);
    client_close(sim, c);
}

/* Segments of a random size in [1, 7] bytes, drawn from the sim's seeded oracle: any seed must
 * give the same replies (AH_SEED=n replays one). */
static void replies_in_random_chunks(void **state)
{
    ah_sim *sim = *state;
    ah_net_chunking_random(sim, SERVER, 7);
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_A INCR_N GET_B);
    ah_peer_reply(srv, "$26\r\nabcdefghijklmnopqrstuvwxyz\r\n:-7\r\n+QUEUED\r\n");

    kv_client *c = client_new(NULL);
    ah_future *a = ah_future_new(sim), *n = ah_future_new(sim), *b = ah_future_new(sim);
    kv_get(c, "a", kv_future_cb, a);
    kv_incr(c, "n", kv_future_cb, n);
    kv_get(c, "b", kv_future_cb, b);

    assert_bulk(sim, await_reply(sim, a), "abcdefghijklmnopqrstuvwxyz");
    assert_integer(sim, await_reply(sim, n), -7);
    assert_status(sim, await_reply(sim, b), "QUEUED");
    client_close(sim, c);
}

/* 5 ms each way: the connect takes a round trip (10 ms), then PING goes out and PONG comes
 * back (10 ms more). */
static void latency_adds_up_to_the_exact_round_trips(void **state)
{
    ah_sim *sim = *state;
    ah_net_latency(sim, SERVER, 5, 5);
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, PING);
    ah_peer_reply(srv, "+PONG\r\n");

    kv_client *c = client_new(NULL);
    ah_future *pong = ah_future_new(sim);
    kv_ping(c, kv_future_cb, pong);

    assert_status(sim, await_reply(sim, pong), "PONG");
    ah_assert_now_ms(sim, 20);
    client_close(sim, c);
}

/* ---- reconnect backoff ---- */

/* A seeded jitter source for the client (a 32-bit LCG), and the delays kvclient.h promises:
 *     base_k   = min(backoff_initial_ms * 2^(k-1), backoff_max_ms)
 *     delay_ms = base_k / 2 + rand_fn(rand_ctx) % (base_k / 2 + 1) */
static uint32_t lcg(void *ctx)
{
    uint32_t *s = ctx;

    *s = *s * 1103515245u + 12345u;
    return *s >> 1;
}

static uint64_t expected_delay_ms(const kv_opts *o, unsigned k, uint32_t *rng)
{
    uint64_t base = o->backoff_initial_ms;
    unsigned i;

    for (i = 1; i < k; i++)
        base *= 2;
    if (base > o->backoff_max_ms)
        base = o->backoff_max_ms;
    return base / 2 + o->rand_fn(rng) % (base / 2 + 1);
}

struct attempts {
    kv_client *c;
    uint64_t n;
};

static int attempts_reached(void *ctx)
{
    struct attempts *a = ctx;

    return stats_of(a->c).connect_attempts >= a->n;
}

/* Nothing listens: each attempt is refused at once, and the next one starts exactly one backoff
 * delay later. Six retries with a 1 s cap cover the doubling and the cap (bases 100, 200, 400,
 * 800, 1000, 1000 ms). */
static void reconnect_backoff_schedule_to_the_millisecond(void **state)
{
    ah_sim *sim = *state;
    uint32_t client_rng = 20261123, test_rng = 20261123;
    kv_opts o = {.backoff_initial_ms = 100,
                 .backoff_max_ms = 1000,
                 .max_retries = 6,
                 .timeout_ms = KV_NO_TIMEOUT,
                 .rand_fn = lcg,
                 .rand_ctx = &client_rng};
    uint64_t at_ms = 0;
    unsigned k;

    kv_client *c = client_new(&o);
    ah_future *r = ah_future_new(sim);
    kv_ping(c, kv_future_cb, r);
    for (k = 1; k <= 6; k++) {
        uint64_t d = expected_delay_ms(&o, k, &test_rng);
        assert_in_range(d, 25, 1000);
        at_ms += d;
        ah_run_until(sim, attempts_reached, &(struct attempts){c, k + 1});
        ah_assert_now_ms(sim, at_ms); /* attempt k+1 starts after exactly the k-th delay */
    }
    assert_int_equal(ah_await_error(sim, r), UV_ECONNREFUSED);
    ah_assert_now_ms(sim, at_ms); /* the last refusal gives up the queued command */
    assert_int_equal(stats_of(c).connect_attempts, 7);
    client_close(sim, c);
}

/* With the default jitter (xorshift32 seeded with KV_RAND_SEED) the delays are the ones
 * docs/kvclient.md lists: 85, 123, 238, 666, 1116 ms. */
static void default_backoff_delays_are_the_documented_ones(void **state)
{
    ah_sim *sim = *state;
    static const uint64_t delay_ms[] = {85, 123, 238, 666, 1116};
    uint64_t at_ms = 0;
    unsigned k;

    kv_client *c = client_new(&(kv_opts){.timeout_ms = KV_NO_TIMEOUT});
    ah_future *r = ah_future_new(sim);
    kv_ping(c, kv_future_cb, r);
    for (k = 0; k < 5; k++) {
        at_ms += delay_ms[k];
        ah_run_until(sim, attempts_reached, &(struct attempts){c, k + 2});
        ah_assert_now_ms(sim, at_ms);
    }
    assert_int_equal(ah_await_error(sim, r), UV_ECONNREFUSED);
    ah_assert_now_ms(sim, 85 + 123 + 238 + 666 + 1116);
    client_close(sim, c);
}

/* A successful connect resets the count: after each reset the next delay is again a first
 * delay (base backoff_initial_ms), not the doubled second one. */
static int accepted_three(void *srv) { return ah_peer_accept_count(srv) == 3; }

static void successful_connect_resets_the_backoff(void **state)
{
    ah_sim *sim = *state;
    uint32_t client_rng = 7, test_rng = 7;
    kv_opts o = {.rand_fn = lcg, .rand_ctx = &client_rng};
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_delay(srv, 1);
    ah_peer_reset(srv);
    ah_peer_next_connection(srv);
    ah_peer_delay(srv, 1);
    ah_peer_reset(srv);
    ah_peer_next_connection(srv);
    ah_peer_stall(srv);

    kv_client *c = client_new(&o);
    o.backoff_initial_ms = KV_DEFAULT_BACKOFF_INITIAL_MS;
    o.backoff_max_ms = KV_DEFAULT_BACKOFF_MAX_MS;
    uint64_t d1 = expected_delay_ms(&o, 1, &test_rng), d2 = expected_delay_ms(&o, 1, &test_rng);
    ah_run_until(sim, accepted_two, srv);
    ah_assert_now_ms(sim, 1 + d1);
    ah_run_until(sim, accepted_three, srv);
    ah_assert_now_ms(sim, 1 + d1 + 1 + d2); /* k = 1 again: the connect in between succeeded */
    assert_int_equal(stats_of(c).connects, 3);
    client_close(sim, c);
}

/* After the retries are used up the client goes idle; the next command starts a fresh series,
 * which succeeds once the server is there. */
static void idle_client_reconnects_on_the_next_command(void **state)
{
    ah_sim *sim = *state;
    kv_client *c = client_new(&(kv_opts){.max_retries = KV_NO_RETRIES});
    ah_future *first = ah_future_new(sim);
    kv_ping(c, kv_future_cb, first);
    assert_int_equal(ah_await_error(sim, first), UV_ECONNREFUSED);

    ah_advance(sim, 1000);
    assert_int_equal(stats_of(c).connect_attempts, 1); /* idle: no attempt without a command */
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, PING);
    ah_peer_reply(srv, "+PONG\r\n");
    ah_future *second = ah_future_new(sim);
    kv_ping(c, kv_future_cb, second);
    assert_status(sim, await_reply(sim, second), "PONG");
    ah_assert_now_ms(sim, 1000);
    assert_int_equal(stats_of(c).connect_attempts, 2);
    client_close(sim, c);
}

/* ---- cancellation and close ---- */

/* Cancelled while still queued: it is never sent, and its callback runs once, later. */
static void cancel_queued_command_is_never_sent(void **state)
{
    ah_sim *sim = *state;
    ah_dns_add(sim, "redis.test", "127.0.0.1");
    ah_dns_latency(sim, "redis.test", 50);
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_B); /* GET a must not reach the server */
    ah_peer_reply(srv, "$1\r\nB\r\n");

    kv_client *c = kv_new(uv_default_loop(), "redis.test", 6379, NULL);
    ah_future *a = ah_future_new(sim), *b = ah_future_new(sim);
    kv_req *ra = kv_get(c, "a", kv_future_cb, a);
    kv_get(c, "b", kv_future_cb, b);

    assert_int_equal(kv_cancel(ra), 0);
    ah_assert_pending(a);
    assert_int_equal(kv_cancel(ra), UV_EALREADY); /* its outcome is decided */
    assert_int_equal(ah_await_error(sim, a), UV_ECANCELED);
    ah_assert_now_ms(sim, 0);
    assert_bulk(sim, await_reply(sim, b), "B");
    ah_assert_now_ms(sim, 50);
    client_close(sim, c);
}

/* kv_close with three commands on the wire: every callback fires exactly once with
 * UV_ECANCELED, in issue order, from the loop and never inside kv_close; a command issued on the
 * closing client fails the same way, after them. */
struct tagged {
    ah_future *f;
    int id;
};
static int order[8], n_order;

static void tagged_cb(kv_req *req, int status, const kv_reply *reply, void *data)
{
    struct tagged *t = data;

    order[n_order++] = t->id;
    kv_future_cb(req, status, reply, t->f);
}

static void close_with_commands_in_flight_cancels_each_once(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_A GET_B GET_C);
    ah_peer_stall(srv);

    kv_client *c = client_new(NULL);
    struct tagged t[4];
    int closed = 0, i;

    n_order = 0;
    for (i = 0; i < 4; i++)
        t[i] = (struct tagged){ah_future_new(sim), i};
    kv_get(c, "a", tagged_cb, &t[0]);
    kv_get(c, "b", tagged_cb, &t[1]);
    kv_get(c, "c", tagged_cb, &t[2]);
    ah_advance(sim, 3);
    assert_int_equal(stats_of(c).in_flight, 3);

    kv_close(c, on_closed, &closed);
    kv_get(c, "d", tagged_cb, &t[3]); /* on a closing client */
    for (i = 0; i < 4; i++)
        ah_assert_pending(t[i].f); /* nothing runs inside kv_close or kv_get */
    for (i = 0; i < 4; i++)
        assert_int_equal(ah_await_error(sim, t[i].f), UV_ECANCELED);
    ah_assert_now_ms(sim, 3);
    ah_run_until_idle(sim);
    assert_int_equal(closed, 1);
    assert_int_equal(n_order, 4); /* each exactly once (a second call fails in kv_future_cb) */
    for (i = 0; i < 4; i++)
        assert_int_equal(order[i], i);
}

/* Replies A and B arrive in one read, so both outcomes are decided before A's callback runs:
 * cancelling B from there is too late (UV_EALREADY) and B still gets its reply. */
struct late_cancel {
    ah_future *a;
    kv_req *b;
    int rc;
};

static void cancel_neighbour_cb(kv_req *req, int status, const kv_reply *reply, void *data)
{
    struct late_cancel *lc = data;

    kv_future_cb(req, status, reply, lc->a);
    lc->rc = kv_cancel(lc->b);
}

static void cancel_after_the_reply_arrived_is_too_late(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_A GET_B);
    ah_peer_reply(srv, "$1\r\nA\r\n$1\r\nB\r\n");

    kv_client *c = client_new(NULL);
    ah_future *b = ah_future_new(sim);
    struct late_cancel lc = {ah_future_new(sim), NULL, 0};
    kv_get(c, "a", cancel_neighbour_cb, &lc);
    lc.b = kv_get(c, "b", kv_future_cb, b);

    assert_bulk(sim, await_reply(sim, lc.a), "A");
    assert_int_equal(lc.rc, UV_EALREADY);
    assert_bulk(sim, await_reply(sim, b), "B");
    client_close(sim, c);
}

/* A callback may issue and close: from GET a's callback the test issues GET c and closes the
 * client. GET b (on the wire) and GET c (issued on the closing client) fail with UV_ECANCELED,
 * each once, and the client finishes closing once every callback has run. */
struct reentry {
    kv_client *c;
    ah_future *a, *next;
    int closed;
};

static void issue_and_close_cb(kv_req *req, int status, const kv_reply *reply, void *data)
{
    struct reentry *r = data;

    kv_future_cb(req, status, reply, r->a);
    assert_non_null(kv_get(r->c, "c", kv_future_cb, r->next));
    kv_close(r->c, on_closed, &r->closed);
    kv_close(r->c, on_closed, &r->closed); /* a second close is ignored */
    assert_int_equal(r->closed, 0);
}

static void close_from_inside_a_callback(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, GET_A GET_B);
    ah_peer_reply_after(srv, 4, "$1\r\nA\r\n");
    ah_peer_stall(srv);

    kv_client *c = client_new(NULL);
    ah_future *b = ah_future_new(sim);
    struct reentry r = {c, ah_future_new(sim), ah_future_new(sim), 0};
    kv_get(c, "a", issue_and_close_cb, &r);
    kv_get(c, "b", kv_future_cb, b);

    assert_bulk(sim, await_reply(sim, r.a), "A");
    assert_int_equal(ah_await_error(sim, b), UV_ECANCELED);
    assert_int_equal(ah_await_error(sim, r.next), UV_ECANCELED);
    ah_assert_now_ms(sim, 4);
    ah_run_until_idle(sim);
    assert_int_equal(r.closed, 1);
}

/* ---- pipelining ---- */

/* 1,000 INCRs issued at once go out in one write and their replies, which arrive in one
 * segment, are matched in order. */
#define PIPELINE 1000

static void pipeline_of_many_commands_is_matched_in_order(void **state)
{
    ah_sim *sim = *state;
    static char sent[PIPELINE * 32], replies[PIPELINE * 16];
    size_t ns = 0, nr = 0;
    ah_future *f[PIPELINE];
    char key[16];
    int i;

    for (i = 0; i < PIPELINE; i++) {
        snprintf(key, sizeof(key), "k%d", i % 10);
        ns += (size_t)snprintf(sent + ns, sizeof(sent) - ns, "*2\r\n$4\r\nINCR\r\n$%zu\r\n%s\r\n",
                               strlen(key), key);
        nr += (size_t)snprintf(replies + nr, sizeof(replies) - nr, ":%d\r\n", i / 10 + 1);
    }
    ah_peer *srv = ah_net_listen(sim, SERVER);
    ah_peer_expect(srv, sent);
    ah_peer_reply_after(srv, 2, replies);

    kv_client *c = client_new(NULL);
    for (i = 0; i < PIPELINE; i++) {
        snprintf(key, sizeof(key), "k%d", i % 10);
        f[i] = ah_future_new(sim);
        assert_non_null(kv_incr(c, key, kv_future_cb, f[i]));
    }
    assert_int_equal(stats_of(c).queued, PIPELINE);
    assert_int_equal(ah_await_value(sim, ah_all(sim, f, PIPELINE)), PIPELINE);
    ah_assert_now_ms(sim, 2);
    for (i = 0; i < PIPELINE; i++)
        assert_integer(sim, (const kv_reply *)ah_future_value(f[i]), i / 10 + 1);
    assert_int_equal(stats_of(c).replies, PIPELINE);
    client_close(sim, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(ping_is_answered_with_pong),
        ah_unit_test(get_hit_returns_the_value),
        ah_unit_test(get_miss_returns_nil),
        ah_unit_test(set_without_expiry_sends_three_arguments),
        ah_unit_test(set_with_expiry_sends_px),
        ah_unit_test(del_returns_the_number_removed),
        ah_unit_test(incr_returns_each_new_value),
        ah_unit_test(error_reply_is_an_answer_not_a_failure),
        ah_unit_test(host_name_is_resolved_before_connecting),
        ah_unit_test(command_times_out_at_its_exact_instant),
        ah_unit_test(time_queued_before_the_connection_counts),
        ah_unit_test(late_reply_after_timeout_keeps_pipeline_aligned),
        ah_explore_test(pipeline_under_jitter_never_hands_a_reply_to_the_wrong_command),
        ah_unit_test(cancelled_command_reply_is_discarded),
        ah_unit_test(deadline_set_by_the_test_cancels_the_command),
        ah_unit_test(thirty_second_timeout_takes_no_wall_time),
        ah_unit_test(dns_failure_fails_queued_commands),
        ah_unit_test(connect_refused_fails_queued_commands),
        ah_unit_test(connect_timeout_fails_at_its_instant),
        ah_unit_test(server_reset_mid_pipeline),
        ah_unit_test(server_close_fails_in_flight_with_eof),
        ah_unit_test(garbage_reply_fails_with_eproto),
        ah_unit_test(replies_split_into_one_byte_chunks),
        ah_unit_test(replies_in_random_chunks),
        ah_unit_test(latency_adds_up_to_the_exact_round_trips),
        ah_unit_test(reconnect_backoff_schedule_to_the_millisecond),
        ah_unit_test(default_backoff_delays_are_the_documented_ones),
        ah_unit_test(successful_connect_resets_the_backoff),
        ah_unit_test(idle_client_reconnects_on_the_next_command),
        ah_unit_test(cancel_queued_command_is_never_sent),
        ah_unit_test(close_with_commands_in_flight_cancels_each_once),
        ah_unit_test(cancel_after_the_reply_arrived_is_too_late),
        ah_unit_test(close_from_inside_a_callback),
        ah_unit_test(pipeline_of_many_commands_is_matched_in_order),
    };

    return ah_run_tests(tests);
}
