/* A planted race run through the explorer's command line (replay.sh): ah_explore_test explores the
 * test function; it must fail with one banner line whose replay command, run as printed,
 * reproduces the same trace hash. This program is meant to fail. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "two_replies.h"

/* planted: assumes the first request is answered first */
static void replies_in_order(void **state)
{
    two_requests(*state, 7301, 1, 6, 1, 6);
    assert_string_equal(order, "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {ah_explore_test(replies_in_order)};
    return ah_run_tests(tests);
}
