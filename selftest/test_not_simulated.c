/* A libuv function the harness does not simulate fails the test at once, naming the function and
 * the call site of the code under test: file and line when ah/sites.h marked the call (every
 * function taking a loop, handle or request is marked), else the caller's return address.
 * uv_print_all_handles is a debugging helper nothing simulates. */
#include <ah/ah.h>

#include <cmocka.h>
#include <stdio.h>

static void unsimulated_call(ah_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
    uv_print_all_handles(uv_default_loop(), stderr);
}

/* The same call without the mark, as code compiled without ah/sites.h makes it. */
#undef uv_print_all_handles
void unmarked_caller(void);
static volatile int after;
void unmarked_caller(void)
{
    uv_print_all_handles(uv_default_loop(), stderr);
    after++; /* not a tail call: the return address stays in this function */
}

static void unmarked_call(ah_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
    unmarked_caller();
}

static void failure_names_the_call_site(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, unsimulated_call, NULL,
                         "uv_print_all_handles is not simulated by asyncharness (called in "
                         "unsimulated_call (test_not_simulated.c:14))");
    ah_assert_fails_with(NULL, unmarked_call, NULL,
                         "uv_print_all_handles is not simulated by asyncharness (called in ");
    ah_assert_fails_with(NULL, unmarked_call, NULL, "in test_not_simulated");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(failure_names_the_call_site),
    };
    return ah_run_tests(tests);
}
