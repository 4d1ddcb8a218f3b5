/* "Error from the next mocked call" as a sweep fault, on the async mocks of mocks/mock.c: at
 * every step the next mocked call fails with the injected error.
 * The correct code handles the rejection; the planted code assumes success and is caught. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

static uv_timer_t t1, t2;
static ah_future *fut;
static int planted;

static ah_future *fetch(void) { return ah_mock_async(); }

static void second(uv_timer_t *h)
{
    fut = fetch();
    uv_close((uv_handle_t *)h, NULL);
}

static void first(uv_timer_t *h)
{
    uv_timer_start(&t2, second, 1, 0);
    uv_close((uv_handle_t *)h, NULL);
}

static void body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    ah_will_resolve(fetch, 42, 5);
    uv_timer_init(uv_default_loop(), &t1);
    uv_timer_init(uv_default_loop(), &t2);
    uv_timer_start(&t1, first, 1, 0);
    ah_run_until_idle(sim);
    if (!planted && ah_future_state_of(fut) == AH_FUTURE_REJECTED)
        assert_int_equal(ah_await_error(sim, fut), UV_ECONNREFUSED);
    else
        assert_int_equal(ah_await_value(sim, fut), 42); /* planted: assumes success */
}

static void mock_error_sweep(void **state)
{
    ah_sweep_result r;

    (void)state;
    planted = 0;
    if (ah_sweep_run(NULL, body, AH_FAULT_MOCK_ERROR(UV_ECONNREFUSED), NULL, &r))
        fail_msg("%s", r.message);
    planted = 1;
    assert_int_equal(ah_sweep_run(NULL, body, AH_FAULT_MOCK_ERROR(UV_ECONNREFUSED), NULL, &r), 1);
    assert_non_null(strstr(r.message, "mock error injected after step 1"));
    assert_non_null(strstr(r.message, "rejected with ECONNREFUSED"));
    ah_sweep_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(mock_error_sweep)};
    return ah_run_tests(tests);
}
