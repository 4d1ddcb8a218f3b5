/* The guards that keep every test finite and clean: the runaway guard, the simulated-time limit,
 * the deadlock report of ah_run_until, and the unclosed-handle teardown check. Each planted bug
 * must be caught with a message naming the handle; each correct twin must pass. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

/* Handles live in static storage: a captured failure longjmps out of the body, and the sim never
 * touches user memory afterwards. */
static uv_idle_t idle;
static uv_timer_t timer;
static int calls;

static void idle_forever(uv_idle_t *h)
{
    (void)h;
    calls++;
}

static void idle_ten_times(uv_idle_t *h)
{
    if (++calls == 10) {
        uv_idle_stop(h);
        uv_close((uv_handle_t *)h, NULL);
    }
}

static void spin_idle(ah_sim *sim, void *ctx)
{
    (void)sim;
    calls = 0;
    uv_idle_init(uv_default_loop(), &idle);
    uv_idle_start(&idle, ctx != NULL ? idle_ten_times : idle_forever);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

static void runaway_idle_is_caught(void **state)
{
    ah_sim_opts o = {.runaway_limit = 1000};
    (void)state;
    ah_assert_fails_with(&o, spin_idle, NULL, "runaway loop");
    ah_assert_fails_with(&o, spin_idle, NULL, "uv_idle_t #1");
    ah_assert_fails_with(&o, spin_idle, NULL, "spin_idle");
    ah_assert_passes(&o, spin_idle, (void *)1);
}

/* A spin on uv_run(UV_RUN_NOWAIT) over a loop kept alive by something that never fires (an async
 * handle nobody sends to): no callback runs and nothing is due, so the clock cannot move, and the
 * report says so (planted: spins for ever; correct twin: stops after 10 runs). */
static uv_async_t idle_async;

static void never_sent(uv_async_t *a) { (void)a; }

static void spin_nowait(ah_sim *sim, void *ctx)
{
    int n = 0;

    uv_async_init(uv_default_loop(), &idle_async, never_sent);
    while (uv_run(uv_default_loop(), UV_RUN_NOWAIT) != 0 && (ctx == NULL || ++n < 10))
        ;
    uv_close((uv_handle_t *)&idle_async, NULL);
    ah_run_until_idle(sim);
}

static void runaway_without_callbacks_is_caught(void **state)
{
    ah_sim_opts o = {.runaway_limit = 1000};
    (void)state;
    ah_assert_fails_with(&o, spin_nowait, NULL, "runaway loop");
    ah_assert_fails_with(&o, spin_nowait, NULL, "without a callback");
    ah_assert_passes(&o, spin_nowait, (void *)1);
}

static void hourly(uv_timer_t *t)
{
    if (++calls == 3 && uv_handle_get_data((uv_handle_t *)t) != NULL)
        uv_close((uv_handle_t *)t, NULL);
}

static void hourly_timer(ah_sim *sim, void *ctx)
{
    (void)sim;
    calls = 0;
    uv_timer_init(uv_default_loop(), &timer);
    uv_handle_set_data((uv_handle_t *)&timer, ctx);
    uv_timer_start(&timer, hourly, 3600 * 1000, 3600 * 1000);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

static void time_limit_names_the_repeating_timer(void **state)
{
    ah_sim_opts o = {.time_limit_ms = 24 * 3600 * 1000};
    (void)state;
    ah_assert_fails_with(&o, hourly_timer, NULL, "simulated time limit reached");
    ah_assert_fails_with(&o, hourly_timer, NULL, "uv_timer_t #1");
    ah_assert_passes(&o, hourly_timer, (void *)1);
}

static int flag;
static int flag_set(void *ctx)
{
    (void)ctx;
    return flag;
}
static void set_flag(uv_timer_t *t) { flag = uv_handle_get_data((uv_handle_t *)t) != NULL; }
static void close_cb(uv_handle_t *h) { (void)h; }

static void wait_for_flag(ah_sim *sim, void *ctx)
{
    flag = 0;
    uv_timer_init(uv_default_loop(), &timer);
    uv_handle_set_data((uv_handle_t *)&timer, ctx);
    uv_timer_start(&timer, set_flag, 10, 0);
    ah_run_until(sim, flag_set, NULL);
    ah_assert_now_ms(sim, 10);
    uv_close((uv_handle_t *)&timer, close_cb);
    ah_run_until_idle(sim);
}

static void run_until_reports_a_deadlock(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, wait_for_flag, NULL, "deadlock");
    ah_assert_fails_with(NULL, wait_for_flag, NULL, "uv_timer_t #1");
    ah_assert_passes(NULL, wait_for_flag, (void *)1);
}

static void leave_timer_open(ah_sim *sim, void *ctx)
{
    uv_timer_init(uv_default_loop(), &timer);
    uv_timer_start(&timer, set_flag, 5, 0);
    ah_run_until_idle(sim);
    if (ctx != NULL) {
        uv_close((uv_handle_t *)&timer, NULL);
        ah_run_until_idle(sim);
    }
}

static void unclosed_handle_is_reported_at_teardown(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, leave_timer_open, NULL, "uv_timer_t #1");
    ah_assert_fails_with(NULL, leave_timer_open, NULL, "leave_timer_open");
    ah_assert_fails_with(NULL, leave_timer_open, NULL, "not closed");
    ah_assert_passes(NULL, leave_timer_open, (void *)1);
}

static void close_without_running_the_loop(ah_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
    uv_timer_init(uv_default_loop(), &timer);
    uv_close((uv_handle_t *)&timer, close_cb);
}

static void close_callback_never_run_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, close_without_running_the_loop, NULL, "close callback");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(runaway_idle_is_caught),
        ah_unit_test(runaway_without_callbacks_is_caught),
        ah_unit_test(time_limit_names_the_repeating_timer),
        ah_unit_test(run_until_reports_a_deadlock),
        ah_unit_test(unclosed_handle_is_reported_at_teardown),
        ah_unit_test(close_callback_never_run_is_reported),
    };
    return ah_run_tests(tests);
}
