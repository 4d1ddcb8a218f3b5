/* A cmocka suite on the harness, explored unchanged by ah-explore with `--test NAME`
 * (explore_cli.sh). Two planted races, each beside its correct twin: a counter whose increments
 * are lost when the two threads' switch points interleave (thread schedule), and replies assumed
 * to come back in the order the requests left (network jitter and same-instant order). Under the
 * default schedule every test passes. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../planted/two_replies.h"

/* ---- threads: a counter ---- */

static uv_mutex_t mu;
static int counter;

static void add_lost(void *arg)
{
    int seen;

    (void)arg;
    uv_mutex_lock(&mu);
    seen = counter;
    uv_mutex_unlock(&mu);
    uv_mutex_lock(&mu);
    counter = seen + 1; /* planted: the other thread's increment may have come in between */
    uv_mutex_unlock(&mu);
}

static void add_locked(void *arg)
{
    (void)arg;
    uv_mutex_lock(&mu);
    counter = counter + 1;
    uv_mutex_unlock(&mu);
}

static void two_threads(uv_thread_cb fn)
{
    uv_thread_t a, b;

    counter = 0;
    assert_int_equal(uv_mutex_init(&mu), 0);
    assert_int_equal(uv_thread_create(&a, fn, NULL), 0);
    assert_int_equal(uv_thread_create(&b, fn, NULL), 0);
    assert_int_equal(uv_thread_join(&a), 0);
    assert_int_equal(uv_thread_join(&b), 0);
    uv_mutex_destroy(&mu);
}

static void counter_lost_update(void **state)
{
    (void)state;
    two_threads(add_lost);
    assert_int_equal(counter, 2);
}

static void counter_locked(void **state)
{
    (void)state;
    two_threads(add_locked);
    assert_int_equal(counter, 2);
}

/* ---- the loop: two requests, replies with jitter that can tie ---- */

/* b's reply is never earlier than a's; at a tie, same-instant order decides */
static void two_requests_tie(ah_sim *sim) { two_requests(sim, 7401, 3, 3, 3, 4); }

static void replies_in_order(void **state)
{
    two_requests_tie(*state);
    assert_string_equal(order, "ab"); /* planted: the replies race */
}

static void replies_in_any_order(void **state)
{
    two_requests_tie(*state);
    assert_int_equal(strlen(order), 2);
    assert_true(strchr(order, 'a') != NULL && strchr(order, 'b') != NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(counter_lost_update),
        ah_unit_test(counter_locked),
        ah_unit_test(replies_in_order),
        ah_unit_test(replies_in_any_order),
    };
    return ah_run_tests(tests);
}
