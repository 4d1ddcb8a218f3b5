/* ah_run_until stops at the instant its condition becomes true, and counts a delivery that runs
 * no user callback (a thread-pool job starting) as progress rather than a deadlock; ah_run_for
 * runs a span of virtual time and stops even with a repeating timer. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

static int fired;

static void set_flag(uv_timer_t *t)
{
    (void)t;
    fired = 1;
}

static void nothing(uv_timer_t *t) { (void)t; }

static int flag_set(void *ctx) { return *(int *)ctx; }

static void on_close(uv_handle_t *h) { (void)h; }

/* A timer at +100 ms makes the condition true; the next one is due at +300 ms. The poll after
 * the first must not jump the clock to +300 before the condition is checked. */
static void run_until_stops_at_the_instant_the_condition_holds(void **state)
{
    ah_sim *sim = *state;
    uv_timer_t a, b;

    fired = 0;
    uv_timer_init(uv_default_loop(), &a);
    uv_timer_init(uv_default_loop(), &b);
    uv_timer_start(&a, set_flag, 100, 0);
    uv_timer_start(&b, nothing, 300, 0);
    ah_run_until(sim, flag_set, &fired);
    ah_assert_now_ms(sim, 100);
    assert_true(uv_is_active((uv_handle_t *)&b));
    uv_close((uv_handle_t *)&a, on_close);
    uv_close((uv_handle_t *)&b, on_close);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 100);
}

static int resolved;

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    (void)req;
    assert_int_equal(status, 0);
    uv_freeaddrinfo(res);
    resolved = 1;
}

/* uv_getaddrinfo's job starts in one poll and completes in a later one; the start runs no user
 * callback, and ah_run_until must keep going through it. */
static void run_until_waits_through_a_thread_pool_job(void **state)
{
    ah_sim *sim = *state;
    uv_getaddrinfo_t req;

    resolved = 0;
    assert_int_equal(uv_getaddrinfo(uv_default_loop(), &req, on_resolved, "127.0.0.1", "80", NULL),
                     0);
    ah_run_until(sim, flag_set, &resolved);
    ah_assert_now_ms(sim, 0);
}

static int beats;

static void beat(uv_timer_t *t)
{
    (void)t;
    beats++;
}

/* A heartbeat every 100 ms keeps the loop alive for ever: ah_run_until_idle would run to the
 * simulated-time limit, ah_run_for stops at the span's end, with the beat due at its last
 * instant run. */
static void run_for_stops_with_a_repeating_timer(void **state)
{
    ah_sim *sim = *state;
    uv_timer_t hb;
    uint64_t start = uv_now(uv_default_loop());

    beats = 0;
    uv_timer_init(uv_default_loop(), &hb);
    uv_timer_start(&hb, beat, 100, 100);
    assert_int_equal(ah_run_for(sim, 1000), 1000);
    ah_assert_now_ms(sim, 1000);
    assert_int_equal(beats, 10);
    assert_int_equal(uv_now(uv_default_loop()) - start, 1000); /* cached time settled */
    assert_int_equal(ah_run_for(sim, 50), 50);                 /* a span between two beats */
    assert_int_equal(beats, 10);
    assert_int_equal(ah_run_for(sim, 50), 50);
    assert_int_equal(beats, 11);
    uv_close((uv_handle_t *)&hb, on_close);
    assert_int_equal(ah_run_for(sim, 1000), 0); /* idle: it returns at once */
    ah_assert_now_ms(sim, 1100);
}

/* A one-shot timer inside the span: the loop goes idle before the span ends. */
static void run_for_returns_early_when_idle(void **state)
{
    ah_sim *sim = *state;
    uv_timer_t a;

    fired = 0;
    uv_timer_init(uv_default_loop(), &a);
    uv_timer_start(&a, set_flag, 300, 0);
    assert_int_equal(ah_run_for(sim, 200), 200);
    assert_int_equal(fired, 0);
    uv_unref((uv_handle_t *)&a); /* unreferenced: not alive, ah_run_for does not wait for it */
    assert_int_equal(ah_run_for(sim, 500), 0);
    assert_int_equal(fired, 0);
    uv_ref((uv_handle_t *)&a);
    assert_int_equal(ah_run_for(sim, 500), 100);
    assert_int_equal(fired, 1);
    uv_close((uv_handle_t *)&a, on_close);
    ah_run_until_idle(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(run_until_stops_at_the_instant_the_condition_holds),
        ah_unit_test(run_until_waits_through_a_thread_pool_job),
        ah_unit_test(run_for_stops_with_a_repeating_timer),
        ah_unit_test(run_for_returns_early_when_idle),
    };

    return ah_run_tests(tests);
}
