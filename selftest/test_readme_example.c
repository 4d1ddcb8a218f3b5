/* README.md's example, compiled and run; readme_example_in_sync checks that the two match. */
#include <ah/ah.h>
#include <cmocka.h>

static void on_timeout(uv_timer_t *t) { *(int *)t->data += 1; }

static void retry_timer_fires_after_thirty_seconds(void **state)
{
    ah_sim *sim = *state; /* a fresh sim per test (ah_unit_test's fixture) */
    uv_timer_t t;         /* plain libuv, as the code under test uses it */
    int fired = 0;
    uv_timer_init(uv_default_loop(), &t);
    t.data = &fired;
    uv_timer_start(&t, on_timeout, 30 * 1000, 0);
    ah_run_until_idle(sim); /* no real sleeping: the clock jumps */
    assert_int_equal(fired, 1);
    ah_assert_now_ms(sim, 30 * 1000);  /* the exact virtual instant */
    uv_close((uv_handle_t *)&t, NULL); /* forget this and teardown fails, naming the handle */
    ah_run_until_idle(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {ah_unit_test(retry_timer_fires_after_thirty_seconds)};
    return ah_run_tests(tests);
}
