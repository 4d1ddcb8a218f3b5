/* Busy loops in virtual time (docs/loop-and-time.md): an idle handle running while a timer waits,
 * a spin on uv_hrtime or on uv_update_time/uv_now, and a uv_run(UV_RUN_NOWAIT) polling loop all
 * make progress as on libuv, at a documented cost; a spin that waits for nothing is still caught
 * by the runaway guard (test_guards.c has the planted idle runaway). */
#include <ah/ah.h>

#include <cmocka.h>
#include <time.h>

static uv_idle_t idle;
static uv_timer_t timer, late;
static unsigned long idles;
static uint64_t fired_at_ms, late_at_ms;

static void on_idle(uv_idle_t *h)
{
    (void)h;
    idles++;
}

static void stop_all(uv_timer_t *t)
{
    fired_at_ms = uv_now(t->loop);
    uv_idle_stop(&idle);
    uv_close((uv_handle_t *)&idle, NULL);
    uv_close((uv_handle_t *)t, NULL);
}

static void idle_handle_runs_while_a_timer_waits(void **state)
{
    ah_sim *sim = *state;
    uint64_t t0 = uv_now(uv_default_loop());

    idles = 0;
    uv_idle_init(uv_default_loop(), &idle);
    uv_idle_start(&idle, on_idle);
    uv_timer_init(uv_default_loop(), &timer);
    uv_timer_start(&timer, stop_all, 50, 0);
    assert_int_equal(uv_run(uv_default_loop(), UV_RUN_DEFAULT), 0);
    assert_int_equal(fired_at_ms - t0, 50);
    ah_assert_now_ms(sim, 50);
    /* 1000 free iterations, then 1 us each: 50 ms is 50,000 iterations */
    assert_true(idles >= 50000 && idles <= 51001);
}

static void spin_on_hrtime_until_ten_ms(void **state)
{
    ah_sim *sim = *state;
    uint64_t t0 = uv_hrtime(), reads = 0;

    while (uv_hrtime() - t0 < 10 * 1000 * 1000)
        reads++;
    ah_assert_now_ms(sim, 10);
    /* one microsecond per 16 reads of the same value */
    assert_true(reads >= 10000 * 15 && reads <= 10000 * 16);
}

static void spin_on_clock_gettime_until_five_ms(void **state)
{
    ah_sim *sim = *state;
    struct timespec a, b;

    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) < 5000000LL);
    ah_assert_now_ms(sim, 5);
}

static void on_late(uv_timer_t *t)
{
    late_at_ms = uv_now(t->loop);
    uv_close((uv_handle_t *)t, NULL);
}

static void spin_in_callback(uv_timer_t *t)
{
    uv_loop_t *loop = t->loop;
    uint64_t start;

    fired_at_ms = uv_now(loop);
    uv_update_time(loop);
    start = uv_now(loop);
    while (uv_now(loop) - start < 10)
        uv_update_time(loop);
    uv_close((uv_handle_t *)t, NULL);
}

static void spin_on_update_time_in_a_callback_delays_other_timers(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uint64_t t0 = uv_now(loop);

    uv_timer_init(loop, &timer);
    uv_timer_init(loop, &late);
    uv_timer_start(&timer, spin_in_callback, 5, 0);
    uv_timer_start(&late, on_late, 8, 0);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fired_at_ms - t0, 5);
    assert_int_equal(late_at_ms - t0, 15); /* the callback held the loop for 10 ms */
    ah_assert_now_ms(sim, 15);
}

static void nowait_polling_loop_reaches_its_timer(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    unsigned long spins = 0;

    uv_timer_init(loop, &late);
    uv_timer_start(&late, on_late, 20, 0);
    while (uv_run(loop, UV_RUN_NOWAIT))
        spins++;
    ah_assert_now_ms(sim, 20);
    assert_true(spins >= 20000);
}

/* libuv's own test loop_update_time: uv_run over a loop with nothing in it reads the clock, so a
 * program that spins on it until uv_now moves gets there (it hung before: nothing cost time). */
static void nowait_spin_over_a_dead_loop_until_now_moves(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uint64_t start = uv_now(loop);
    unsigned long spins = 0;

    while (uv_now(loop) - start < 1000) {
        assert_int_equal(uv_run(loop, UV_RUN_NOWAIT), 0);
        spins++;
    }
    ah_assert_now_ms(sim, 1000);
    assert_true(spins >= 1000000);
}

static void idle_forever_after_timer(uv_timer_t *t)
{
    fired_at_ms = uv_now(t->loop);
    uv_close((uv_handle_t *)t, NULL); /* the idle handle keeps spinning: nothing is due now */
}

static void spin_after_timer(ah_sim *sim, void *ctx)
{
    (void)sim;
    uv_idle_init(uv_default_loop(), &idle);
    uv_idle_start(&idle, on_idle);
    uv_timer_init(uv_default_loop(), &timer);
    uv_timer_start(&timer, ctx != NULL ? stop_all : idle_forever_after_timer, 30, 0);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

static void a_spin_waiting_for_nothing_is_still_a_runaway(void **state)
{
    ah_sim_opts o = {.runaway_limit = 5000};
    (void)state;
    /* progress toward the timer, then a runaway once nothing is due any more */
    ah_assert_fails_with(&o, spin_after_timer, NULL, "runaway loop");
    ah_assert_fails_with(&o, spin_after_timer, NULL, "at virtual time +30 ms");
    ah_assert_passes(&o, spin_after_timer, (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(idle_handle_runs_while_a_timer_waits),
        ah_unit_test(spin_on_hrtime_until_ten_ms),
        ah_unit_test(spin_on_clock_gettime_until_five_ms),
        ah_unit_test(spin_on_update_time_in_a_callback_delays_other_timers),
        ah_unit_test(nowait_polling_loop_reaches_its_timer),
        ah_unit_test(nowait_spin_over_a_dead_loop_until_now_moves),
        ah_unit_test(a_spin_waiting_for_nothing_is_still_a_runaway),
    };
    return ah_run_tests(tests);
}
