/* Planted bugs run through the real cmocka fixture (ah_unit_test), not ah_capture_failure: each
 * test here FAILS on purpose, and CTest checks the failure message (selftest/planted/
 * CMakeLists.txt). They prove that the teardown checks fail a real cmocka test, and that cmocka's
 * own argument checks (expect_* / check_expected) keep working inside an async mock. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

static ah_future *db_query(const char *sql)
{
    check_expected(sql);
    return ah_mock_async();
}

/* teardown: the future is never awaited */
static void never_awaited(void **state)
{
    ah_sim *sim = *state;
    ah_future *f = ah_future_new(sim);
    ah_future_fulfil(f, 1);
}

/* cmocka: the mock is called with the wrong argument */
static void wrong_argument(void **state)
{
    ah_sim *sim = *state;

    expect_string(db_query, sql, "SELECT 1");
    ah_will_resolve(db_query, 1, 10);
    ah_await(sim, db_query("SELECT 2"));
}

/* cmocka: an expected call never came (cmocka checks its leftovers after the body) */
static void expected_call_never_came(void **state)
{
    (void)state;
    expect_string(db_query, sql, "SELECT 1");
}

/* teardown: the scripted outcome is never used */
static void outcome_never_used(void **state)
{
    (void)state;
    ah_will_reject(db_query, UV_ECONNRESET, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(never_awaited),
        ah_unit_test(wrong_argument),
        ah_unit_test(expected_call_never_came),
        ah_unit_test(outcome_never_used),
    };
    return ah_run_tests(tests);
}
