/* A planted nondeterminism the in-process determinism self-check cannot see: the explored body
 * takes a timer's delay from the process id, so one process always agrees with itself but two
 * processes give one seed two trace hashes. scripts/soak.sh must report it (CTest
 * determinism_soak_planted). */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>

static void on_timer(uv_timer_t *t) { uv_close((uv_handle_t *)t, NULL); }

static void timer_delay_from_the_process_id(void **state)
{
    ah_sim *sim = *state;
    static uv_timer_t t;

    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, on_timer, 1 + (uint64_t)getpid() % 97, 0);
    ah_run_until_idle(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {ah_explore_test(timer_delay_from_the_process_id)};
    return ah_run_tests(tests);
}
