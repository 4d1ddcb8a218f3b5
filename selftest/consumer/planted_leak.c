/* A planted leak for the MEMCHECK variants of ah_discover_tests: leaks_a_buffer passes on its
 * own, and its Valgrind variant (planted_leak.leaks_a_buffer.memcheck) must fail; its twin
 * frees_its_buffer passes both ways. */
#include <ah/ah.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

static void *volatile lost;

static void leaks_a_buffer(void **state)
{
    (void)state;
    lost = malloc(64);
    memset(lost, 1, 64);
    lost = NULL;
}

static void frees_its_buffer(void **state)
{
    (void)state;
    lost = malloc(64);
    memset(lost, 1, 64);
    free(lost);
    lost = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(leaks_a_buffer),
        ah_unit_test(frees_its_buffer),
    };
    return ah_run_tests(tests);
}
