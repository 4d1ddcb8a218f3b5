/* Time slices (docs/threads.md "Time slices", decision 139): a simulated thread that goes on
 * through many switch points in a row is preempted, so a thread spinning on a flag that another
 * runnable (or sleeping) thread sets finishes, deterministically and under the explorer; a thread
 * spinning for ever is still a runaway (planted), alone or beside a sleeper. */
#include <ah/ah.h>
#include <ah/explore.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static atomic_int flag;
static int spins;
static uv_mutex_t fm;

/* Spins on the flag with a switch point per turn (sched_yield), as libuv's
 * test-signal-multiple-loops spins on `stop` with a lock per turn. */
static void spin_yield(void *arg)
{
    (void)arg;
    while (!atomic_load(&flag)) {
        spins++;
        sched_yield();
    }
}

/* The same spin through a lock: the flag is read under it. */
static void spin_locked(void *arg)
{
    int seen = 0;
    (void)arg;
    while (!seen) {
        uv_mutex_lock(&fm);
        seen = atomic_load(&flag);
        uv_mutex_unlock(&fm);
        spins++;
    }
}

static void set_flag(void *arg)
{
    (void)arg;
    uv_mutex_lock(&fm);
    atomic_store(&flag, 1);
    uv_mutex_unlock(&fm);
}

static void sleep_then_set_flag(void *arg)
{
    uv_sleep((unsigned)(uintptr_t)arg);
    set_flag(NULL);
}

/* The test's thread starts the spinner, then the setter, and joins the spinner first: by the
 * default schedule the spinner runs as soon as the test's thread blocks, before the setter. */
static void spinner_and_setter(ah_sim *sim, void *ctx)
{
    uv_thread_t a, b;
    (void)sim;
    atomic_store(&flag, 0);
    spins = 0;
    uv_mutex_init(&fm);
    assert_int_equal(uv_thread_create(&a, (uv_thread_cb)ctx, NULL), 0);
    assert_int_equal(uv_thread_create(&b, set_flag, NULL), 0);
    assert_int_equal(uv_thread_join(&a), 0);
    assert_int_equal(uv_thread_join(&b), 0);
    uv_mutex_destroy(&fm);
}

static void a_spinner_finishes_when_another_sets_the_flag(void **state)
{
    ah_sim *sim = *state;

    spinner_and_setter(sim, (void *)spin_yield);
    /* one slice: the spinner went on through AH__SLICE switch points, then the setter ran */
    assert_int_equal(spins, 100);
    ah_assert_now_ms(sim, 0); /* nothing was due: the spin cost no time */
    spinner_and_setter(sim, (void *)spin_locked);
    assert_true(spins > 0 && spins <= 100);
}

/* The setter sleeps first: the spinner's slices move the clock to its wake-up, exactly. */
static void sleeper_and_spinner(ah_sim *sim, void *ctx)
{
    uv_thread_t a, b;
    (void)sim;
    atomic_store(&flag, 0);
    spins = 0;
    uv_mutex_init(&fm);
    assert_int_equal(uv_thread_create(&b, sleep_then_set_flag, ctx), 0);
    assert_int_equal(uv_thread_create(&a, spin_locked, NULL), 0);
    assert_int_equal(uv_thread_join(&a), 0);
    assert_int_equal(uv_thread_join(&b), 0);
    uv_mutex_destroy(&fm);
}

static void a_spinner_sees_a_sleeper_wake(void **state)
{
    ah_sim *sim = *state;
    int first;

    sleeper_and_spinner(sim, (void *)(uintptr_t)50);
    ah_assert_now_ms(sim, 50);
    first = spins;
    /* a wake-up a minute away costs a few more slices, not a million (the cost doubles) */
    sleeper_and_spinner(sim, (void *)(uintptr_t)60000);
    ah_assert_now_ms(sim, 60050);
    assert_true(spins < first * 4);
}

/* The same scenario is the same run every time: the slice is counted, not timed. */
static void slices_are_deterministic(void **state)
{
    ah_sim *sim = *state;
    int first;

    sleeper_and_spinner(sim, (void *)(uintptr_t)20);
    first = spins;
    sleeper_and_spinner(sim, (void *)(uintptr_t)20);
    assert_int_equal(spins, first);
}

/* Under the explorer (random, PCT: a spinner given the highest priority) every schedule ends. */
static void explored_spinners_finish(void **state)
{
    ah_explore_opts o;
    ah_explore_result r;
    ah_strategy st[2] = {AH_STRATEGY_RANDOM, AH_STRATEGY_PCT};
    int i;

    (void)state;
    for (i = 0; i < 2; i++) {
        memset(&o, 0, sizeof(o));
        o.name = "spinner";
        o.schedules = 100;
        o.strategy = st[i];
        o.ignore_env = 1;
        o.no_trace_file = 1;
        assert_int_equal(ah_explore_run(&o, spinner_and_setter, (void *)spin_yield, &r), 0);
        ah_explore_result_free(&r);
        assert_int_equal(ah_explore_run(&o, spinner_and_setter, (void *)spin_locked, &r), 0);
        ah_explore_result_free(&r);
    }
}

/* ---- planted: a true runaway is still one ---- */

static void spin_for_ever(void *arg)
{
    (void)arg;
    for (;;)
        sched_yield();
}

/* ctx NULL: the spinner is alone (the test's thread waits in join); else the test's thread
 * sleeps ctx ms first (the slices reach its wake-up, then nothing is due). Twin: a spinner
 * that stops (spinner_and_setter). */
static void lone_spinner(ah_sim *sim, void *ctx)
{
    uv_thread_t a;
    (void)sim;
    assert_int_equal(uv_thread_create(&a, spin_for_ever, NULL), 0);
    if (ctx != NULL)
        uv_sleep((unsigned)(uintptr_t)ctx);
    uv_thread_join(&a);
}

static void a_lone_spinner_is_a_runaway(void **state)
{
    ah_sim_opts o = {.runaway_limit = 1000};
    (void)state;
    ah_assert_fails_with(&o, lone_spinner, NULL, "runaway threads");
    ah_assert_fails_with(&o, lone_spinner, NULL, "at virtual time +0 ms");
    ah_assert_fails_with(&o, lone_spinner, (void *)(uintptr_t)30, "runaway threads");
    ah_assert_fails_with(&o, lone_spinner, (void *)(uintptr_t)30, "at virtual time +30 ms");
    ah_assert_passes(&o, spinner_and_setter, (void *)spin_yield);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(a_spinner_finishes_when_another_sets_the_flag),
        ah_unit_test(a_spinner_sees_a_sleeper_wake),
        ah_unit_test(slices_are_deterministic),
        ah_unit_test(explored_spinners_finish),
        ah_unit_test(a_lone_spinner_is_a_runaway),
    };
    return ah_run_tests(tests);
}
