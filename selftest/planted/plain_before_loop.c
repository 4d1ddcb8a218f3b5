/* Plain programs (a main that is no cmocka suite) whose first calls make locks, semaphores and
 * sockets before any loop exists: the implicit sim exists from the first of them, so misuse is
 * reported there as it is after uv_default_loop. `plain_before_loop CASE`:
 *   unlock_unlocked   unlocks a mutex no thread locked (real pthreads: undefined, silent)
 *   sem_never_posted  waits on a semaphore nothing posts (real: hangs for ever)
 *   correct           the twin: the same objects used correctly; prints "correct: ok"
 *   suite             a cmocka suite whose main makes a socketpair that a test then uses: the
 *                     test's own sim cannot use what the implicit sim of main made */
#include <ah/ah.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static int pair[2] = {-1, -1};

static void test_uses_the_socket_of_main(void **state)
{
    (void)state;
    (void)write(pair[0], "x", 1);
}

static void worker(void *arg) { uv_sem_post(arg); }

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "correct";
    uv_mutex_t mu;
    uv_sem_t sem;
    uv_thread_t t;

    if (strcmp(what, "unlock_unlocked") == 0) {
        uv_mutex_init(&mu);
        uv_mutex_unlock(&mu);
    } else if (strcmp(what, "sem_never_posted") == 0) {
        uv_sem_init(&sem, 0);
        uv_sem_wait(&sem);
    } else if (strcmp(what, "suite") == 0) {
        const struct CMUnitTest tests[] = {ah_unit_test(test_uses_the_socket_of_main)};
        socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
        return ah_run_tests(tests);
    } else {
        uv_mutex_init(&mu);
        uv_mutex_lock(&mu);
        uv_mutex_unlock(&mu);
        uv_mutex_destroy(&mu);
        uv_sem_init(&sem, 0);
        uv_thread_create(&t, worker, &sem);
        uv_sem_wait(&sem);
        uv_thread_join(&t);
        uv_sem_destroy(&sem);
        printf("%s: ok\n", what);
    }
    return 0;
}
