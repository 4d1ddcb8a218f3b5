/* The worked example of docs/futures-and-mocks.md, compiled and run so that the page stays true:
 * code under test that looks a user up in a database with a timeout, its database call mocked
 * on the virtual schedule, and its timeout path tested at an exact virtual instant. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

/* ---- the code under test: plain libuv, unchanged in tests ---- */

/* The dependency: an asynchronous query. Production links the real driver; the test defines it. */
typedef void (*db_cb)(int status, intptr_t rows, void *data);
void db_query(const char *sql, db_cb cb, void *data);

typedef struct lookup lookup;
typedef void (*lookup_cb)(lookup *l, int status, intptr_t rows, void *data);
struct lookup {
    uv_timer_t timer;
    int done;
    lookup_cb cb;
    void *data;
};

static void lookup_finish(lookup *l, int status, intptr_t rows)
{
    if (l->done)
        return; /* a reply after the timeout is ignored */
    l->done = 1;
    uv_timer_stop(&l->timer);
    l->cb(l, status, rows, l->data);
}

static void lookup_timeout(uv_timer_t *t) { lookup_finish((lookup *)t, UV_ETIMEDOUT, 0); }

static void lookup_reply(int status, intptr_t rows, void *data)
{
    lookup_finish(data, status, rows);
}

/* Looks `user` up; cb gets the row count, or UV_ETIMEDOUT after timeout_ms. */
void lookup_start(uv_loop_t *loop, lookup *l, uint64_t timeout_ms, lookup_cb cb, void *data)
{
    l->done = 0;
    l->cb = cb;
    l->data = data;
    uv_timer_init(loop, &l->timer);
    uv_timer_start(&l->timer, lookup_timeout, timeout_ms, 0);
    db_query("SELECT * FROM users WHERE name = 'ada'", lookup_reply, l);
}

void lookup_close(lookup *l) { uv_close((uv_handle_t *)&l->timer, NULL); }

/* ---- the test ---- */

/* The adapter: a callback of lookup_cb's exact type that settles the future passed as data. */
AH_FUTURE_ADAPTER(lookup_settles, lookup *, intptr_t)

/* The mock: checks its argument with cmocka, then completes as the test scripted. */
void db_query(const char *sql, db_cb cb, void *data)
{
    check_expected(sql);
    ah_mock_async_cb(cb, data);
}

static void lookup_times_out_at_exactly_2000_ms(void **state)
{
    ah_sim *sim = *state;
    lookup l;
    ah_future *r = ah_future_new(sim);

    expect_string(db_query, sql, "SELECT * FROM users WHERE name = 'ada'");
    ah_will_hang(db_query); /* the database never answers */
    lookup_start(uv_default_loop(), &l, 2000, lookup_settles, r);
    assert_int_equal(ah_await_error(sim, r), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 2000); /* not 1999, not 2001 */
    assert_int_equal(ah_mock_calls(db_query), 1);
    assert_int_equal(ah_mock_completions(db_query), 0);
    lookup_close(&l);
    ah_run_until_idle(sim);
}

static void lookup_answers_before_the_timeout(void **state)
{
    ah_sim *sim = *state;
    lookup l;
    ah_future *r = ah_future_new(sim);

    expect_string(db_query, sql, "SELECT * FROM users WHERE name = 'ada'");
    ah_will_resolve(db_query, 1, 150); /* one row after 150 ms */
    lookup_start(uv_default_loop(), &l, 2000, lookup_settles, r);
    assert_int_equal(ah_await_value(sim, r), 1);
    ah_assert_now_ms(sim, 150);
    lookup_close(&l);
    ah_run_until_idle(sim);
}

static void late_reply_after_the_timeout_is_ignored(void **state)
{
    ah_sim *sim = *state;
    lookup l;
    ah_future *r = ah_future_new(sim);

    expect_string(db_query, sql, "SELECT * FROM users WHERE name = 'ada'");
    ah_will_resolve(db_query, 1, 2500); /* answers, but too late */
    lookup_start(uv_default_loop(), &l, 2000, lookup_settles, r);
    assert_int_equal(ah_await_error(sim, r), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 2000);
    ah_run_until_idle(sim); /* the late reply arrives at +2500 and changes nothing */
    ah_assert_now_ms(sim, 2500);
    assert_int_equal(ah_mock_completions(db_query), 1);
    assert_int_equal(ah_future_error(r), UV_ETIMEDOUT);
    lookup_close(&l);
    ah_run_until_idle(sim);
}

static void database_error_is_passed_on(void **state)
{
    ah_sim *sim = *state;
    lookup l;
    ah_future *r = ah_future_new(sim);

    expect_string(db_query, sql, "SELECT * FROM users WHERE name = 'ada'");
    ah_will_reject(db_query, UV_ECONNREFUSED, 5);
    lookup_start(uv_default_loop(), &l, 2000, lookup_settles, r);
    assert_int_equal(ah_await_error(sim, r), UV_ECONNREFUSED);
    ah_assert_now_ms(sim, 5);
    lookup_close(&l);
    ah_run_until_idle(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(lookup_times_out_at_exactly_2000_ms),
        ah_unit_test(lookup_answers_before_the_timeout),
        ah_unit_test(late_reply_after_the_timeout_is_ignored),
        ah_unit_test(database_error_is_passed_on),
    };
    return ah_run_tests(tests);
}
