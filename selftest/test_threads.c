/* Simulated threads: real OS threads run one at a time under the sim's baton, sleep in virtual
 * time per thread, synchronise through simulated locks, conds, semaphores, barriers and once,
 * report to the loop with uv_async_send, and run the thread pool's work in parallel. Failures on
 * a thread fail the test; threads left running, deadlocks and lock-order cycles are reported. */
#include <ah/ah.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char tlog[2048];

static void tlog_add(ah_sim *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tlog_add(ah_sim *sim, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(tlog);

    if (n > 0 && n + 1 < sizeof(tlog))
        tlog[n++] = '|', tlog[n] = '\0';
    n += (size_t)snprintf(tlog + n, sizeof(tlog) - n, "%llu ", (unsigned long long)ah_now_ms(sim));
    va_start(ap, fmt);
    vsnprintf(tlog + n, sizeof(tlog) - n, fmt, ap);
    va_end(ap);
}

#define assert_tlog(expected) assert_string_equal(tlog, (expected))

/* ---- the scenario: a worker sleeping 100 ms five times, reporting each step ---- */

static uv_async_t progress;
static int steps_done;

static void reporter(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 5; i++) {
        uv_sleep(100);
        __atomic_add_fetch(&steps_done, 1, __ATOMIC_SEQ_CST);
        uv_async_send(&progress);
    }
}

static void on_progress(uv_async_t *h)
{
    ah_sim *sim = h->data;
    tlog_add(sim, "step %d", steps_done);
    if (steps_done == 5)
        uv_close((uv_handle_t *)h, NULL);
}

static void worker_reports_each_step_with_async_send(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t t;

    tlog[0] = '\0';
    steps_done = 0;
    uv_async_init(uv_default_loop(), &progress, on_progress);
    progress.data = sim;
    assert_int_equal(uv_thread_create(&t, reporter, NULL), 0);
    assert_int_equal(uv_run(uv_default_loop(), UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_tlog("100 step 1|200 step 2|300 step 3|400 step 4|500 step 5");
    ah_assert_now_ms(sim, 500);
}

/* ---- the scenario: five one-second pool jobs, four workers ---- */

static uv_work_t jobs[5];

static void sleepy_work(uv_work_t *w)
{
    (void)w;
    uv_sleep(1000);
}

static void after_sleepy(uv_work_t *w, int status)
{
    tlog_add(w->data, "job %d done %d", (int)(w - jobs), status);
}

static void five_one_second_jobs_finish_at_1000_and_2000(void **state)
{
    ah_sim *sim = *state;
    int i;

    tlog[0] = '\0';
    for (i = 0; i < 5; i++) {
        jobs[i].data = sim;
        assert_int_equal(uv_queue_work(uv_default_loop(), &jobs[i], sleepy_work, after_sleepy), 0);
    }
    ah_run_until_idle(sim);
    assert_tlog("1000 job 0 done 0|1000 job 1 done 0|1000 job 2 done 0|1000 job 3 done 0|"
                "2000 job 4 done 0");
}

static void cancel_waits_behind_busy_workers(void **state)
{
    ah_sim *sim = *state;
    int i;

    tlog[0] = '\0';
    for (i = 0; i < 5; i++) {
        jobs[i].data = sim;
        uv_queue_work(uv_default_loop(), &jobs[i], sleepy_work, after_sleepy);
    }
    ah_advance(sim, 10); /* four workers took jobs 0-3; job 4 waits */
    assert_int_equal(uv_cancel((uv_req_t *)&jobs[4]), 0);
    assert_int_equal(uv_cancel((uv_req_t *)&jobs[0]), UV_EBUSY);
    ah_run_until_idle(sim);
    assert_tlog("10 job 4 done -125|1000 job 0 done 0|1000 job 1 done 0|1000 job 2 done 0|"
                "1000 job 3 done 0");
}

/* ---- sleeps are per thread ---- */

static ah_sim *cur;

static void *sleeper(void *arg)
{
    usleep((useconds_t)(uintptr_t)arg * 1000);
    tlog_add(cur, "woke after %d", (int)(uintptr_t)arg);
    return arg;
}

static void sleeps_are_per_thread(void **state)
{
    ah_sim *sim = *state;
    pthread_t a, b;
    void *ra, *rb;

    tlog[0] = '\0';
    cur = sim;
    pthread_create(&a, NULL, sleeper, (void *)(uintptr_t)30);
    pthread_create(&b, NULL, sleeper, (void *)(uintptr_t)10);
    sleep(1);
    tlog_add(sim, "main woke");
    assert_int_equal(pthread_join(a, &ra), 0);
    assert_int_equal(pthread_join(b, &rb), 0);
    assert_int_equal((int)(uintptr_t)ra, 30);
    assert_tlog("10 woke after 10|30 woke after 30|1000 main woke");
}

/* ---- locks, conds, semaphores, barriers, once, rwlocks ---- */

static uv_mutex_t mu;
static uv_cond_t cv;
static int ready;

static void setter(void *arg)
{
    (void)arg;
    uv_sleep(40);
    uv_mutex_lock(&mu);
    ready = 1;
    uv_cond_signal(&cv);
    uv_mutex_unlock(&mu);
}

static void cond_waits_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t t;
    int rc;

    tlog[0] = '\0';
    ready = 0;
    uv_mutex_init(&mu);
    uv_cond_init(&cv);
    uv_thread_create(&t, setter, NULL);
    uv_mutex_lock(&mu);
    rc = uv_cond_timedwait(&cv, &mu, 25 * 1000000ULL); /* the setter comes at +40 */
    tlog_add(sim, "timedwait %d ready %d", rc, ready);
    while (!ready)
        uv_cond_wait(&cv, &mu);
    tlog_add(sim, "ready");
    uv_mutex_unlock(&mu);
    uv_thread_join(&t);
    uv_cond_destroy(&cv);
    uv_mutex_destroy(&mu);
    assert_tlog("25 timedwait -110 ready 0|40 ready");
}

static uv_sem_t sem;
static sem_t psem;

static void poster(void *arg)
{
    (void)arg;
    uv_sleep(5);
    uv_sem_post(&sem);
    uv_sleep(5);
    sem_post(&psem);
}

static void semaphores_block_and_time_out(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t t;
    struct timespec ts;

    tlog[0] = '\0';
    uv_sem_init(&sem, 0);
    sem_init(&psem, 0, 0);
    assert_int_equal(uv_sem_trywait(&sem), UV_EAGAIN);
    uv_thread_create(&t, poster, NULL);
    uv_sem_wait(&sem);
    tlog_add(sim, "uv_sem");
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 2 * 1000000; /* +2 ms: before the post at +10 */
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    assert_int_equal(sem_timedwait(&psem, &ts), -1);
    /* the deadline is on the real clock: about +7, before the post at +10 */
    assert_in_range(ah_now_ms(sim), 6, 9);
    assert_int_equal(sem_wait(&psem), 0);
    tlog_add(sim, "sem");
    uv_thread_join(&t);
    uv_sem_destroy(&sem);
    sem_destroy(&psem);
    assert_tlog("5 uv_sem|10 sem");
}

static uv_barrier_t bar;
static int serial_count;
static uv_once_t once = UV_ONCE_INIT;
static int once_runs;

static void init_once(void) { once_runs++; }

static void at_barrier(void *arg)
{
    uv_sleep((unsigned)(uintptr_t)arg);
    if (uv_barrier_wait(&bar) > 0)
        serial_count++;
    uv_once(&once, init_once);
}

static void barrier_releases_all_and_once_runs_once(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t t[3];
    int i;

    serial_count = 0;
    once_runs = 0;
    uv_barrier_init(&bar, 3);
    for (i = 0; i < 3; i++)
        uv_thread_create(&t[i], at_barrier, (void *)(uintptr_t)(10 * (i + 1)));
    for (i = 0; i < 3; i++)
        uv_thread_join(&t[i]);
    uv_barrier_destroy(&bar);
    assert_int_equal(serial_count, 1);
    assert_int_equal(once_runs, 1);
    ah_assert_now_ms(sim, 30);
}

static uv_rwlock_t rw;
static int readers_inside, max_readers;

static void reader(void *arg)
{
    (void)arg;
    uv_rwlock_rdlock(&rw);
    readers_inside++;
    if (readers_inside > max_readers)
        max_readers = readers_inside;
    uv_sleep(10);
    readers_inside--;
    uv_rwlock_rdunlock(&rw);
}

static void rwlock_lets_readers_share(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t t[2];

    max_readers = 0;
    uv_rwlock_init(&rw);
    uv_thread_create(&t[0], reader, NULL);
    uv_thread_create(&t[1], reader, NULL);
    uv_sleep(1);
    uv_rwlock_wrlock(&rw); /* waits for both readers, who overlap */
    assert_int_equal(readers_inside, 0);
    assert_int_equal(uv_rwlock_tryrdlock(&rw), UV_EBUSY);
    uv_rwlock_wrunlock(&rw);
    uv_thread_join(&t[0]);
    uv_thread_join(&t[1]);
    uv_rwlock_destroy(&rw);
    assert_int_equal(max_readers, 2);
    ah_assert_now_ms(sim, 10);
}

/* ---- uv_async_send from a thread coalesces as libuv ---- */

static int async_calls;
static void on_async(uv_async_t *h)
{
    async_calls++;
    uv_close((uv_handle_t *)h, NULL);
}

static void triple_send(void *arg)
{
    uv_async_send(arg);
    uv_async_send(arg);
    uv_async_send(arg);
}

static void async_sends_from_a_thread_coalesce(void **state)
{
    uv_async_t a;
    uv_thread_t t;

    (void)state;
    async_calls = 0;
    uv_async_init(uv_default_loop(), &a, on_async);
    uv_thread_create(&t, triple_send, &a);
    uv_thread_join(&t); /* all three sent before the loop runs */
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    assert_int_equal(async_calls, 1);
}

/* ---- failures and reports ---- */

static void failing_thread(void *arg)
{
    (void)arg;
    uv_sleep(7);
    assert_int_equal(1 + 1, 3);
}

static void body_thread_asserts(ah_sim *sim, void *ctx)
{
    uv_thread_t t;
    (void)sim;
    (void)ctx;
    uv_thread_create(&t, failing_thread, NULL);
    uv_thread_join(&t);
}

static void a_failed_assert_on_a_thread_fails_the_test(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, body_thread_asserts, NULL, "on thread 1 (uv_thread_create in");
    ah_assert_fails_with(NULL, body_thread_asserts, NULL, "virtual time +7 ms");
}

static void idle_thread(void *arg)
{
    (void)arg;
    uv_sleep(1000);
}

static void body_never_joins(ah_sim *sim, void *ctx)
{
    static uv_thread_t t;
    (void)sim;
    (void)ctx;
    uv_thread_create(&t, idle_thread, NULL);
}

static void body_joins(ah_sim *sim, void *ctx)
{
    uv_thread_t t;
    (void)sim;
    (void)ctx;
    uv_thread_create(&t, idle_thread, NULL);
    uv_thread_join(&t);
}

static void a_thread_left_running_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, body_never_joins, NULL,
                         "thread 1 (uv_thread_create in body_never_joins (test_threads.c:");
    ah_assert_fails_with(NULL, body_never_joins, NULL, "is still running at the end of the test");
    ah_assert_passes(NULL, body_joins, NULL);
}

static uv_mutex_t la, lb;

static void take_b_then_a(void *arg)
{
    (void)arg;
    uv_mutex_lock(&lb);
    uv_sleep(1);
    uv_mutex_lock(&la);
    uv_mutex_unlock(&la);
    uv_mutex_unlock(&lb);
}

static void body_lock_order(ah_sim *sim, void *ctx)
{
    uv_thread_t t;
    (void)sim;
    (void)ctx;
    uv_mutex_init(&la);
    uv_mutex_init(&lb);
    uv_thread_create(&t, take_b_then_a, NULL);
    uv_mutex_lock(&la);
    uv_sleep(1);
    uv_mutex_lock(&lb);
    uv_mutex_unlock(&lb);
    uv_mutex_unlock(&la);
    uv_thread_join(&t);
}

static void a_lock_order_deadlock_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, body_lock_order, NULL, "lock-order deadlock");
    ah_assert_fails_with(NULL, body_lock_order, NULL, "take_b_then_a");
}

static sem_t never;

static void waits_forever(void *arg)
{
    (void)arg;
    sem_wait(&never);
}

static void body_join_blocked(ah_sim *sim, void *ctx)
{
    uv_thread_t t;
    (void)sim;
    (void)ctx;
    sem_init(&never, 0, 0);
    uv_thread_create(&t, waits_forever, NULL);
    uv_thread_join(&t);
}

static void joining_a_blocked_thread_is_a_deadlock(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, body_join_blocked, NULL,
                         "deadlock: every simulated thread is blocked and nothing is due");
    ah_assert_fails_with(NULL, body_join_blocked, NULL, "blocked in sem_wait(semaphore #1");
    ah_assert_fails_with(NULL, body_join_blocked, NULL,
                         "blocked in uv_thread_join joining thread 1");
}

static void body_loop_blocked(ah_sim *sim, void *ctx)
{
    uv_thread_t t;
    uv_async_t a;
    (void)sim;
    (void)ctx;
    sem_init(&never, 0, 0);
    uv_async_init(uv_default_loop(), &a, NULL);
    uv_thread_create(&t, waits_forever, NULL);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

static void a_loop_waiting_for_a_blocked_thread_is_a_deadlock(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, body_loop_blocked, NULL,
                         "uv_run(UV_RUN_DEFAULT) would block forever");
    ah_assert_fails_with(NULL, body_loop_blocked, NULL, "blocked in sem_wait(semaphore #1");
}

/* ---- exploration: a lost update, and its lock-correct twin ---- */

static int counter;
static uv_mutex_t cm;

static void bump_racy(void *arg)
{
    int v;
    (void)arg;
    uv_mutex_lock(&cm);
    v = counter;
    uv_mutex_unlock(&cm);
    uv_mutex_lock(&cm);
    counter = v + 1;
    uv_mutex_unlock(&cm);
}

static void bump_locked(void *arg)
{
    (void)arg;
    uv_mutex_lock(&cm);
    counter = counter + 1;
    uv_mutex_unlock(&cm);
}

static void body_two_bumps(ah_sim *sim, void *ctx)
{
    uv_thread_t a, b;
    (void)sim;
    counter = 0;
    uv_mutex_init(&cm);
    uv_thread_create(&a, (uv_thread_cb)ctx, NULL);
    uv_thread_create(&b, (uv_thread_cb)ctx, NULL);
    uv_thread_join(&a);
    uv_thread_join(&b);
    uv_mutex_destroy(&cm);
    assert_int_equal(counter, 2);
}

static void exploration_finds_the_lost_update(void **state)
{
    ah_explore_opts o;
    ah_explore_result r;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "lost_update";
    o.schedules = 200;
    o.ignore_env = 1;
    o.no_trace_file = 1;
    assert_int_equal(ah_explore_run(&o, body_two_bumps, (void *)bump_racy, &r), 1);
    fprintf(stderr, "  found as expected:\n%s", r.message);
    assert_non_null(strstr(r.message, "replay the shortest: AH_STRATEGY=replay AH_REPLAY="));
    assert_non_null(strstr(r.message, "0x1 != 0x2"));
    ah_explore_result_free(&r);

    o.name = "locked_update";
    assert_int_equal(ah_explore_run(&o, body_two_bumps, (void *)bump_locked, &r), 0);
    ah_explore_result_free(&r);
    o.strategy = AH_STRATEGY_EXHAUSTIVE;
    o.schedules = 100000;
    assert_int_equal(ah_explore_run(&o, body_two_bumps, (void *)bump_locked, &r), 0);
    assert_true(r.exhausted);
    ah_explore_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(worker_reports_each_step_with_async_send),
        ah_unit_test(five_one_second_jobs_finish_at_1000_and_2000),
        ah_unit_test(cancel_waits_behind_busy_workers),
        ah_unit_test(sleeps_are_per_thread),
        ah_unit_test(cond_waits_in_virtual_time),
        ah_unit_test(semaphores_block_and_time_out),
        ah_unit_test(barrier_releases_all_and_once_runs_once),
        ah_unit_test(rwlock_lets_readers_share),
        ah_unit_test(async_sends_from_a_thread_coalesce),
        ah_unit_test(a_failed_assert_on_a_thread_fails_the_test),
        ah_unit_test(a_thread_left_running_is_reported),
        ah_unit_test(a_lock_order_deadlock_is_reported),
        ah_unit_test(joining_a_blocked_thread_is_a_deadlock),
        ah_unit_test(a_loop_waiting_for_a_blocked_thread_is_a_deadlock),
        ah_unit_test(exploration_finds_the_lost_update),
    };
    return ah_run_tests(tests);
}
