/* Unchanged libuv code waiting on long timers finishes at once in wall time, at exact virtual
 * instants (issue: a 30 s timer and a 1 h repeating timer). */
#include <ah/ah.h>

#include <cmocka.h>
#include <time.h>

static uint64_t fired_at[8];
static int nfired;

static void on_timeout(uv_timer_t *t) { fired_at[nfired++] = uv_now(t->loop); }

static void on_hourly(uv_timer_t *t)
{
    fired_at[nfired++] = uv_now(t->loop);
    if (nfired == 4)
        uv_timer_stop(t);
}

static void long_timers_finish_at_once_at_exact_instants(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t thirty, hourly;
    uint64_t start = uv_now(loop);
    struct timespec t0, t1;

    nfired = 0;
    ah_real_clock_gettime(CLOCK_MONOTONIC, &t0);
    uv_timer_init(loop, &thirty);
    uv_timer_init(loop, &hourly);
    uv_timer_start(&thirty, on_timeout, 30 * 1000, 0);
    uv_timer_start(&hourly, on_hourly, 3600 * 1000, 3600 * 1000);
    /* the code under test's own uv_run, unchanged */
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    ah_real_clock_gettime(CLOCK_MONOTONIC, &t1);

    assert_int_equal(nfired, 4);
    assert_int_equal(fired_at[0] - start, 30 * 1000);
    assert_int_equal(fired_at[1] - start, 3600 * 1000);
    assert_int_equal(fired_at[3] - start, 3 * 3600 * 1000);
    ah_assert_now_ms(sim, 3 * 3600 * 1000);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
    uv_close((uv_handle_t *)&thirty, NULL);
    uv_close((uv_handle_t *)&hourly, NULL);
    ah_run_until_idle(sim);
}

static void advance_runs_what_falls_due_on_the_way(void **state)
{
    ah_sim *sim = *state;
    uv_timer_t t;

    nfired = 0;
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, on_hourly, 1000, 1000);
    ah_advance(sim, 2500);
    assert_int_equal(nfired, 2);
    ah_assert_now_ms(sim, 2500);
    ah_advance(sim, 500);
    assert_int_equal(nfired, 3);
    uv_close((uv_handle_t *)&t, NULL);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(long_timers_finish_at_once_at_exact_instants),
        ah_unit_test(advance_runs_what_falls_due_on_the_way),
    };
    return ah_run_tests(tests);
}
