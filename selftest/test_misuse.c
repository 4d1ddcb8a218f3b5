/* Misuse of the libuv API gets a diagnostic naming the handle and the site, never a crash or a
 * hang: double close, uv_run re-entered, a handle freed before its close callback or initialised
 * twice, a handle never initialised, a function the harness does not simulate. Where libuv
 * returns a code for it (uv_timer_start on a closing timer), so does the harness. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

static uv_timer_t timer, timer2;
static uv_loop_t other_loop;
static int closed;

static void on_close(uv_handle_t *h) { closed += h != NULL; }

static void close_twice(ah_sim *sim, void *ctx)
{
    uv_timer_init(uv_default_loop(), &timer);
    uv_close((uv_handle_t *)&timer, on_close);
    if (ctx == NULL)
        uv_close((uv_handle_t *)&timer, on_close);
    ah_run_until_idle(sim);
}

static void double_close_names_both_sites(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, close_twice, NULL, "uv_close called twice on uv_timer_t #1");
    ah_assert_fails_with(NULL, close_twice, NULL, "first in close_twice (test_misuse.c:22)");
    ah_assert_fails_with(NULL, close_twice, NULL, "again in close_twice (test_misuse.c:24)");
    ah_assert_passes(NULL, close_twice, (void *)1);
}

static void run_inside(uv_timer_t *t)
{
    uv_loop_t *loop = uv_handle_get_data((uv_handle_t *)t);
    uv_run(loop, UV_RUN_NOWAIT);
    uv_close((uv_handle_t *)t, NULL);
}

static void reenter_run(ah_sim *sim, void *ctx)
{
    (void)sim;
    if (ctx != NULL)
        uv_loop_init(&other_loop);
    uv_timer_init(uv_default_loop(), &timer);
    uv_handle_set_data((uv_handle_t *)&timer, ctx != NULL ? &other_loop : uv_default_loop());
    uv_timer_start(&timer, run_inside, 5, 0);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    if (ctx != NULL)
        assert_int_equal(uv_loop_close(&other_loop), 0);
}

static void uv_run_reentered_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, reenter_run, NULL, "uv_run re-entered");
    ah_assert_fails_with(NULL, reenter_run, NULL, "run_inside (test_misuse.c:40)");
    /* Running another loop from a callback is allowed, as in libuv. */
    ah_assert_passes(NULL, reenter_run, (void *)1);
}

static void free_before_close_cb(ah_sim *sim, void *ctx)
{
    uv_timer_init(uv_default_loop(), &timer);
    uv_close((uv_handle_t *)&timer, on_close);
    /* What free() and a reuse of the memory do to the handle, without the undefined behaviour. */
    if (ctx == NULL)
        memset(&timer, 0xdb, sizeof(timer));
    ah_run_until_idle(sim);
}

static void handle_freed_before_its_close_callback_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, free_before_close_cb, NULL,
                         "freed or overwritten before its close callback ran");
    ah_assert_fails_with(NULL, free_before_close_cb, NULL,
                         "free_before_close_cb (test_misuse.c:68)");
    ah_assert_passes(NULL, free_before_close_cb, (void *)1);
}

static void noop(uv_timer_t *t) { (void)t; }

static void start_uninitialised(ah_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
    memset(&timer2, 0, sizeof(timer2));
    uv_timer_start(&timer2, noop, 1, 0);
}

static void uninitialised_handle_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, start_uninitialised, NULL,
                         "uv_timer_start in start_uninitialised (test_misuse.c:");
    ah_assert_fails_with(NULL, start_uninitialised, NULL, "was never initialised in this sim");
}

static void backend_fd(ah_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
    uv_backend_fd(uv_default_loop());
}

static void unsimulated_function_fails_by_name(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, backend_fd, NULL, "uv_backend_fd is not simulated");
}

static void closing_timer(ah_sim *sim, void *ctx)
{
    (void)ctx;
    uv_timer_init(uv_default_loop(), &timer);
    uv_close((uv_handle_t *)&timer, on_close);
    /* libuv 1.44 src/timer.c: a closing timer or a NULL callback is UV_EINVAL. */
    assert_int_equal(uv_timer_start(&timer, noop, 1, 0), UV_EINVAL);
    ah_run_until_idle(sim);
}

static void start_on_closing_timer_returns_einval(void **state)
{
    (void)state;
    ah_assert_passes(NULL, closing_timer, NULL);
}

static uv_idle_t idle;
static void idle_cb(uv_idle_t *h) { (void)h; }

static void closing_idle(ah_sim *sim, void *ctx)
{
    (void)ctx;
    uv_idle_init(uv_default_loop(), &idle);
    uv_close((uv_handle_t *)&idle, on_close);
    uv_idle_start(&idle, idle_cb);
    ah_run_until_idle(sim);
}

static void start_on_closing_idle_is_reported(void **state)
{
    (void)state;
    /* libuv does not check this: the handle would be started after uv_close, undefined
     * behaviour. The harness reports it with both sites. */
    ah_assert_fails_with(NULL, closing_idle, NULL,
                         "uv_idle_start in closing_idle (test_misuse.c:141) on uv_idle_t #1");
    ah_assert_fails_with(NULL, closing_idle, NULL, "uv_close called in closing_idle");
}

static void loop_close_busy(ah_sim *sim, void *ctx)
{
    (void)ctx;
    assert_int_equal(uv_loop_init(&other_loop), 0);
    uv_timer_init(&other_loop, &timer);
    assert_int_equal(uv_loop_close(&other_loop), UV_EBUSY);
    uv_close((uv_handle_t *)&timer, NULL);
    assert_int_equal(uv_run(&other_loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&other_loop), 0);
    (void)sim;
}

static void loop_close_with_open_handles_is_ebusy(void **state)
{
    (void)state;
    ah_assert_passes(NULL, loop_close_busy, NULL);
}

static void null_loop(ah_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
    uv_timer_init(NULL, &timer);
}

static void null_loop_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, null_loop, NULL, "NULL loop");
}

/* ctx: 0 re-inits an open timer, 1 a closing one, 2 re-inits after the close callback (valid). */
static void init_twice(ah_sim *sim, void *ctx)
{
    uintptr_t how = (uintptr_t)ctx;

    uv_timer_init(uv_default_loop(), &timer);
    if (how >= 1)
        uv_close((uv_handle_t *)&timer, on_close);
    if (how == 2)
        ah_run_until_idle(sim);
    uv_timer_init(uv_default_loop(), &timer);
    uv_close((uv_handle_t *)&timer, NULL);
    ah_run_until_idle(sim);
}

static void initialising_a_live_handle_again_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, init_twice, (void *)0,
                         "uv_timer_init in init_twice (test_misuse.c:");
    ah_assert_fails_with(NULL, init_twice, (void *)0, "is uv_timer_t #1");
    ah_assert_fails_with(NULL, init_twice, (void *)0, "still open");
    ah_assert_fails_with(NULL, init_twice, (void *)1, "still closing");
    ah_assert_passes(NULL, init_twice, (void *)2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(double_close_names_both_sites),
        ah_unit_test(uv_run_reentered_is_reported),
        ah_unit_test(handle_freed_before_its_close_callback_is_reported),
        ah_unit_test(uninitialised_handle_is_reported),
        ah_unit_test(unsimulated_function_fails_by_name),
        ah_unit_test(start_on_closing_timer_returns_einval),
        ah_unit_test(start_on_closing_idle_is_reported),
        ah_unit_test(loop_close_with_open_handles_is_ebusy),
        ah_unit_test(null_loop_is_reported),
        ah_unit_test(initialising_a_live_handle_again_is_reported),
    };
    return ah_run_tests(tests);
}
