/* ah_run_until stops at the instant its condition becomes true, and counts a delivery that runs
 * no user callback (a thread-pool job starting) as progress rather than a deadlock. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(run_until_stops_at_the_instant_the_condition_holds),
        ah_unit_test(run_until_waits_through_a_thread_pool_job),
    };

    return ah_run_tests(tests);
}
