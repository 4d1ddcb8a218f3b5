/* Failures on threads through the real cmocka runner (not captured): a cmocka assert on a
 * thread, an ah_fail-style harness report (a deadlock) found on a thread, and a passing test
 * after them. planted/threads.sh checks that both fail with their thread, virtual time and replay
 * line, that the third still runs and passes, and that the exit code is 2 (cmocka's count). */
#include <ah/ah.h>

#include <semaphore.h>

#include <cmocka.h>

static void asserts_on_a_thread(void *arg)
{
    (void)arg;
    uv_sleep(20);
    assert_int_equal(2, 3);
}

static void a_thread_asserts(void **state)
{
    uv_thread_t t;
    (void)state;
    uv_thread_create(&t, asserts_on_a_thread, NULL);
    uv_thread_join(&t);
}

static sem_t never;

static void waits_forever(void *arg)
{
    (void)arg;
    sem_wait(&never);
}

static void threads_deadlock(void **state)
{
    uv_thread_t t;
    (void)state;
    sem_init(&never, 0, 0);
    uv_thread_create(&t, waits_forever, NULL);
    uv_thread_join(&t);
}

static void runs_after_them(void **state)
{
    ah_sim *sim = *state;
    uv_sleep(5);
    ah_assert_now_ms(sim, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(a_thread_asserts),
        ah_unit_test(threads_deadlock),
        ah_unit_test(runs_after_them),
    };
    return ah_run_tests(tests);
}
