/* Blocking-the-loop detectors (a callback burning real time past the threshold, uv_sleep/sleep/
 * usleep inside a callback), and every teardown check reported together in one report, each
 * line with its site and virtual time. Each planted bug has a correct twin that passes. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

static uv_timer_t timer;
static void close_cb(uv_handle_t *h) { (void)h; }

static uint64_t real_ms(void)
{
    struct timespec ts;
    ah_real_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Burns real CPU for `ms`: the kind of work that blocks an event loop. */
static volatile uint64_t sink;
static void burn(uint64_t ms)
{
    uint64_t end = real_ms() + ms;
    while (real_ms() < end)
        sink++;
}

static void slow_timer_cb(uv_timer_t *t)
{
    burn(t->data != NULL ? 0 : 120);
    uv_close((uv_handle_t *)t, close_cb);
}

static void slow_callback_body(ah_sim *sim, void *ctx)
{
    uv_timer_init(uv_default_loop(), &timer);
    timer.data = ctx;
    uv_timer_start(&timer, slow_timer_cb, 30, 0);
    ah_run_until_idle(sim);
}

static const ah_sim_opts slow_opts = {.slow_callback_ms = 50};

static void blocking_callback_is_reported_with_its_handle(void **state)
{
    (void)state;
    ah_assert_fails_with(&slow_opts, slow_callback_body, NULL,
                         "slow callback: timer_cb of uv_timer_t #1");
    ah_assert_fails_with(&slow_opts, slow_callback_body, NULL,
                         "initialised in slow_callback_body (test_detectors.c:");
    ah_assert_fails_with(&slow_opts, slow_callback_body, NULL,
                         "(threshold 50 ms) at virtual time +30 ms");
    ah_assert_passes(&slow_opts, slow_callback_body, (void *)1);
}

static void slow_continuation(ah_future *f, void *ctx)
{
    (void)f;
    (void)ctx;
    burn(120);
}

static void slow_continuation_body(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim);

    (void)ctx;
    ah_future_then(f, slow_continuation, NULL);
    ah_future_fulfil(f, 1);
    ah_run_until_idle(sim);
}

static void slow_mock_callback(int status, intptr_t value, void *data)
{
    (void)status;
    (void)value;
    burn(data != NULL ? 0 : 120);
}

static void take_outcome(void *data) { ah_mock_async_cb(slow_mock_callback, data); }

static void slow_mock_callback_body(ah_sim *sim, void *ctx)
{
    ah_will_resolve(take_outcome, 1, 40);
    take_outcome(ctx);
    ah_run_until_idle(sim);
}

static void blocking_continuation_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(&slow_opts, slow_continuation_body, NULL,
                         "slow callback: a continuation blocked the loop");
    ah_assert_fails_with(&slow_opts, slow_mock_callback_body, NULL,
                         "slow callback: a mock take_outcome completion blocked the loop for");
    ah_assert_passes(&slow_opts, slow_mock_callback_body, (void *)1);
}

static void sleepy_timer_cb(uv_timer_t *t)
{
    int how = (int)(intptr_t)t->data;

    if (how == 0)
        uv_sleep(50);
    else if (how == 1)
        sleep(2);
    else if (how == 2)
        usleep(1500);
    uv_close((uv_handle_t *)t, close_cb);
}

static void sleep_in_callback_body(ah_sim *sim, void *ctx)
{
    uv_timer_init(uv_default_loop(), &timer);
    timer.data = ctx;
    uv_timer_start(&timer, sleepy_timer_cb, 10, 0);
    ah_run_until_idle(sim);
}

/* Sleeping from the test body is fine: it only moves the virtual clock. */
static void sleep_in_the_body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    uv_sleep(50);
    usleep(2000);
    ah_assert_now_ms(sim, 52);
    usleep(500); /* sub-millisecond sleeps move the clock too */
    assert_int_equal(ah_now_ns(sim), 52500000);
}

static void uv_sleep_in_a_callback_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, sleep_in_callback_body, (void *)0,
                         "blocking call uv_sleep(50) in sleepy_timer_cb (test_detectors.c:");
    ah_assert_fails_with(NULL, sleep_in_callback_body, (void *)0,
                         "inside timer_cb of uv_timer_t #1");
    ah_assert_fails_with(NULL, sleep_in_callback_body, (void *)0,
                         "at virtual time +10 ms: it blocks the loop thread");
    ah_assert_fails_with(NULL, sleep_in_callback_body, (void *)1, "blocking call sleep(2) in ");
    ah_assert_fails_with(NULL, sleep_in_callback_body, (void *)2, "blocking call usleep(1500) in ");
    ah_assert_passes(NULL, sleep_in_callback_body, (void *)3);
    ah_assert_passes(NULL, sleep_in_the_body, NULL);
}

/* ---- every teardown check at once ---- */

static ah_future *db_get(void) { return ah_mock_async(); }

static void slow_then_stop(uv_timer_t *t) { burn(t->data != NULL ? 0 : 120); }

static uv_timer_t left_open;

static void everything_wrong(ah_sim *sim, void *ctx)
{
    int ok = ctx != NULL;
    ah_future *forgotten, *late;

    uv_timer_init(uv_default_loop(), &left_open);
    left_open.data = ctx;
    uv_timer_start(&left_open, slow_then_stop, 20, 0);
    forgotten = ah_future_new(sim);
    ah_future_fulfil(forgotten, 3);
    ah_will_resolve(db_get, 1, 500);
    ah_will_reject(db_get, UV_ECONNRESET, 10);
    late = db_get();
    ah_advance(sim, 100); /* the delivery at +500 is still due when the test ends */
    ah_future_detach(late);
    if (ok) {
        ah_await(sim, forgotten);
        ah_await(sim, late);
        ah_await_error(sim, db_get());
        uv_close((uv_handle_t *)&left_open, close_cb);
        ah_run_until_idle(sim);
    }
}

static void all_teardown_problems_are_reported_together(void **state)
{
    (void)state;
    ah_assert_fails_with(&slow_opts, everything_wrong, NULL, "handle not closed: uv_timer_t #1");
    ah_assert_fails_with(&slow_opts, everything_wrong, NULL,
                         "never awaited: future created at test_detectors.c:");
    ah_assert_fails_with(&slow_opts, everything_wrong, NULL,
                         "the test ended with 1 operation pending:\n    - mock db_get call #1");
    ah_assert_fails_with(
        &slow_opts, everything_wrong, NULL,
        "outcome never used: ah_will_reject(db_get, ECONNRESET, 10 ms) scripted at "
        "test_detectors.c:");
    ah_assert_fails_with(&slow_opts, everything_wrong, NULL,
                         "slow callback: timer_cb of uv_timer_t #1");
    ah_assert_passes(&slow_opts, everything_wrong, (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(blocking_callback_is_reported_with_its_handle),
        ah_unit_test(blocking_continuation_is_reported),
        ah_unit_test(uv_sleep_in_a_callback_is_reported),
        ah_unit_test(all_teardown_problems_are_reported_together),
    };
    return ah_run_tests(tests);
}
