/* Async mocks: scripted outcomes on the virtual schedule, both shapes (a future, or the user's
 * callback from the loop), count variants, hang and manual outcomes, calls and completions
 * counted, cmocka's expect_* and check_expected alongside, and the detectors: unexpected call,
 * unused outcome, delivery still pending at the end. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

static void close_cb(uv_handle_t *h) { (void)h; }

/* ---- the mocked API: an asynchronous key-value lookup ---- */

/* Future shape, with cmocka's argument check. */
static ah_future *kv_lookup(const char *key)
{
    check_expected(key);
    return ah_mock_async();
}

/* Future shape, no argument check (for planted-bug bodies, which run outside cmocka's queues). */
static ah_future *kv_ping(void) { return ah_mock_async(); }

/* Callback shape: the user's cb(status, value, data). */
typedef struct reply {
    int calls;
    int status;
    intptr_t value;
    uint64_t at_ms;
} reply;

static void on_reply(int status, intptr_t value, void *data)
{
    reply *r = data;
    r->calls++;
    r->status = status;
    r->value = value;
    r->at_ms = ah_now_ms(ah_sim_current());
}

static void kv_store(const char *key, intptr_t value, reply *r)
{
    check_expected(key);
    check_expected(value);
    ah_mock_async_cb(on_reply, r);
}

static void resolve_after_delay(void **state)
{
    ah_sim *sim = *state;
    ah_future *f;

    expect_string(kv_lookup, key, "user:1");
    ah_will_resolve(kv_lookup, 42, 250);
    f = kv_lookup("user:1");
    assert_int_equal(ah_mock_calls(kv_lookup), 1);
    assert_int_equal(ah_mock_completions(kv_lookup), 0);
    ah_assert_pending(f);
    assert_int_equal(ah_await_value(sim, f), 42);
    ah_assert_now_ms(sim, 250);
    assert_int_equal(ah_mock_completions(kv_lookup), 1);
}

static void reject_after_delay_through_the_callback(void **state)
{
    ah_sim *sim = *state;
    reply r = {0};

    expect_string(kv_store, key, "k");
    expect_value(kv_store, value, 7);
    ah_will_reject(kv_store, UV_ECONNRESET, 30);
    kv_store("k", 7, &r);
    assert_int_equal(r.calls, 0); /* never inside the mocked function */
    ah_run_until_idle(sim);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, UV_ECONNRESET);
    assert_int_equal(r.value, 0);
    assert_int_equal(r.at_ms, 30);
    assert_int_equal(ah_mock_calls(kv_store), 1);
    assert_int_equal(ah_mock_completions(kv_store), 1);
}

static void count_variants(void **state)
{
    ah_sim *sim = *state;
    ah_future *fs[3];
    int i;

    ah_will_resolve_count(kv_ping, 5, 10, 3);
    ah_will_reject_count(kv_ping, UV_EPIPE, 1, AH_ALWAYS);
    for (i = 0; i < 3; i++)
        fs[i] = kv_ping();
    assert_int_equal(ah_await_value(sim, ah_all(sim, fs, 3)), 3);
    ah_assert_now_ms(sim, 10); /* all three at the same instant */
    for (i = 0; i < 5; i++)
        assert_int_equal(ah_await_error(sim, kv_ping()), UV_EPIPE);
    ah_assert_now_ms(sim, 15);
    assert_int_equal(ah_mock_calls(kv_ping), 8);
    assert_int_equal(ah_mock_completions(kv_ping), 8);
}

static void outcomes_are_taken_in_order(void **state)
{
    ah_sim *sim = *state;
    ah_future *a, *b;

    ah_will_resolve(kv_ping, 1, 100);
    ah_will_resolve(kv_ping, 2, 10);
    a = kv_ping();
    b = kv_ping();
    assert_int_equal(ah_await_value(sim, b), 2);
    ah_assert_now_ms(sim, 10);
    assert_int_equal(ah_await_value(sim, a), 1);
    ah_assert_now_ms(sim, 100);
}

static void hang_meets_the_callers_timeout(void **state)
{
    ah_sim *sim = *state;
    ah_future *t;

    ah_will_hang(kv_ping);
    t = ah_with_timeout(sim, kv_ping(), 3000);
    assert_int_equal(ah_await_error(sim, t), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 3000);
    assert_int_equal(ah_mock_calls(kv_ping), 1);
    assert_int_equal(ah_mock_completions(kv_ping), 0);
}

/* A cancelled call is not delivered and not counted as completed. */
static void cancelled_call_is_not_delivered(void **state)
{
    ah_sim *sim = *state;
    ah_future *t;

    ah_will_resolve(kv_ping, 9, 500);
    t = ah_with_timeout(sim, kv_ping(), 100);
    assert_int_equal(ah_await_error(sim, t), UV_ETIMEDOUT);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 100); /* the delivery at +500 was withdrawn */
    assert_int_equal(ah_mock_completions(kv_ping), 0);
}

static void manual_outcome_settles_when_the_test_says(void **state)
{
    ah_sim *sim = *state;
    ah_outcome *o, *auto_o;
    reply r = {0};

    o = ah_will_manual(kv_store);
    assert_int_equal(ah_outcome_resolve(o, 1), UV_ENOENT); /* no call took it yet */
    expect_string(kv_store, key, "m");
    expect_value(kv_store, value, 3);
    kv_store("m", 3, &r);
    ah_advance(sim, 1000);
    assert_int_equal(r.calls, 0);
    assert_int_equal(ah_outcome_resolve(o, 77), 0);
    assert_int_equal(ah_outcome_resolve(o, 78), UV_EALREADY);
    assert_int_equal(r.calls, 0); /* delivered from the loop, not from the test body */
    ah_run_ready(sim);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.value, 77);
    assert_int_equal(r.at_ms, 1000);
    assert_int_equal(ah_mock_completions(kv_store), 1);

    auto_o = ah_will_resolve(kv_ping, 1, 1);
    assert_int_equal(ah_outcome_reject(auto_o, UV_EIO), UV_EINVAL); /* not manual */
    assert_int_equal(ah_await_value(sim, kv_ping()), 1);

    o = ah_will_manual(kv_ping);
    {
        ah_future *f = kv_ping();
        assert_int_equal(ah_outcome_reject(o, 5), UV_EINVAL);
        assert_int_equal(ah_outcome_reject(o, UV_ECONNABORTED), 0);
        assert_int_equal(ah_await_error(sim, f), UV_ECONNABORTED);
        ah_assert_now_ms(sim, 1001);
    }
}

/* A completion is a poll-phase event that keeps the loop alive while it is due, as a request. */
static int checks;
static void on_check(uv_check_t *c)
{
    (void)c;
    checks++;
}

static void completion_keeps_the_loop_alive(void **state)
{
    ah_sim *sim = *state;
    reply r = {0};
    uv_check_t chk;

    checks = 0;
    uv_check_init(uv_default_loop(), &chk);
    uv_check_start(&chk, on_check);
    uv_unref((uv_handle_t *)&chk);
    expect_string(kv_store, key, "a");
    expect_value(kv_store, value, 1);
    ah_will_resolve(kv_store, 11, 40);
    kv_store("a", 1, &r);
    assert_int_equal(uv_loop_alive(uv_default_loop()), 1);
    assert_int_equal(uv_run(uv_default_loop(), UV_RUN_DEFAULT), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.at_ms, 40);
    ah_assert_now_ms(sim, 40);
    assert_true(checks >= 1); /* the check phase ran after the poll that delivered it */
    uv_close((uv_handle_t *)&chk, close_cb);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

/* A mock written with cmocka's --wrap naming may be scripted by either name. */
static ah_future *__wrap_kv_wrapped(void) { return ah_mock_async(); }

static void wrap_names_are_the_same_function(void **state)
{
    ah_sim *sim = *state;

    ah_will_resolve(kv_wrapped, 3, 0);
    ah_will_resolve(__wrap_kv_wrapped, 4, 0);
    assert_int_equal(ah_await_value(sim, __wrap_kv_wrapped()), 3);
    assert_int_equal(ah_await_value(sim, __wrap_kv_wrapped()), 4);
    assert_int_equal(ah_mock_calls(kv_wrapped), 2);
}

/* ---- detectors: planted bugs and their correct twins ---- */

static void call_without_outcome(ah_sim *sim, void *ctx)
{
    ah_will_resolve(kv_ping, 1, 5);
    ah_await(sim, kv_ping());
    if (ctx == NULL)
        ah_await(sim, kv_ping()); /* the second call has no outcome */
}

static void unexpected_call_fails_naming_the_function(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, call_without_outcome, NULL,
                         "unexpected call: kv_ping (mock at test_mock.c:");
    ah_assert_fails_with(NULL, call_without_outcome, NULL, "(call #2)");
    ah_assert_passes(NULL, call_without_outcome, (void *)1);
}

static void script_two_use_one(ah_sim *sim, void *ctx)
{
    ah_will_resolve(kv_ping, 1, 5);
    ah_will_reject_count(kv_ping, UV_EIO, 5, 2); /* the line the report names */
    ah_await(sim, kv_ping());
    if (ctx != NULL) {
        ah_await(sim, kv_ping());
        ah_await(sim, kv_ping());
    }
}

static void unused_outcome_is_reported_at_teardown(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, script_two_use_one, NULL,
                         "outcome never used: ah_will_reject_count(kv_ping, EIO, 5 ms) scripted "
                         "at test_mock.c:");
    ah_assert_fails_with(NULL, script_two_use_one, NULL, "(2 of its 2 calls never came)");
    ah_assert_passes(NULL, script_two_use_one, (void *)1);
}

static reply leftover;

static void end_with_a_delivery_due(ah_sim *sim, void *ctx)
{
    ah_future *f;

    ah_will_resolve(kv_ping, 1, 250);
    f = kv_ping();
    ah_future_detach(f);
    ah_will_reject(kv_ping, UV_EPIPE, 900);
    ah__mock_async_cb("kv_ping", on_reply, &leftover, __FILE__, __LINE__);
    ah_advance(sim, 100);
    if (ctx != NULL)
        ah_run_until_idle(sim);
}

static void pending_delivery_at_the_end_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, end_with_a_delivery_due, NULL,
                         "the test ended with 2 operations pending:\n    - mock kv_ping call #1 "
                         "(at test_mock.c:");
    ah_assert_fails_with(NULL, end_with_a_delivery_due, NULL, "completion due at +250 ms");
    ah_assert_fails_with(NULL, end_with_a_delivery_due, NULL,
                         "ah_will_reject(kv_ping, EPIPE, 900 ms) scripted at test_mock.c:");
    ah_assert_passes(NULL, end_with_a_delivery_due, (void *)1);
}

static void await_a_hung_call(ah_sim *sim, void *ctx)
{
    ah_future *f;

    if (ctx == NULL)
        ah_will_hang(kv_ping);
    else
        ah_will_resolve(kv_ping, 1, 5);
    f = kv_ping();
    ah_await(sim, f);
}

static void awaiting_a_hung_call_is_a_deadlock(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, await_a_hung_call, NULL, "deadlock: ah_await (test_mock.c:");
    ah_assert_fails_with(NULL, await_a_hung_call, NULL,
                         "ah_will_hang(kv_ping) scripted at test_mock.c:");
    ah_assert_fails_with(NULL, await_a_hung_call, NULL, "hangs, never completes");
    ah_assert_passes(NULL, await_a_hung_call, (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(resolve_after_delay),
        ah_unit_test(reject_after_delay_through_the_callback),
        ah_unit_test(count_variants),
        ah_unit_test(outcomes_are_taken_in_order),
        ah_unit_test(hang_meets_the_callers_timeout),
        ah_unit_test(cancelled_call_is_not_delivered),
        ah_unit_test(manual_outcome_settles_when_the_test_says),
        ah_unit_test(completion_keeps_the_loop_alive),
        ah_unit_test(wrap_names_are_the_same_function),
        ah_unit_test(unexpected_call_fails_naming_the_function),
        ah_unit_test(unused_outcome_is_reported_at_teardown),
        ah_unit_test(pending_delivery_at_the_end_is_reported),
        ah_unit_test(awaiting_a_hung_call_is_a_deadlock),
    };
    return ah_run_tests(tests);
}
