/* The simulated thread pool: uv_queue_work runs the work callback when a thread takes the job
 * and the after-work callback when its virtual duration (per work callback or per call site) has
 * passed; the pool has a size; uv_cancel gives UV_ECANCELED before a job starts and UV_EBUSY
 * after, for work and resolver requests; auto-advance never jumps past work still running. */
#include "netkit.h"

#include <pthread.h>
#include <stdint.h>

static uv_work_t w1, w2, w3;
static uv_timer_t timer;
static uv_getaddrinfo_t gai;

static void work_cb(uv_work_t *req) { netlog_add("work %d", req == &w1 ? 1 : req == &w2 ? 2 : 3); }
static void slow_work(uv_work_t *req) { work_cb(req); }

static void after_cb(uv_work_t *req, int status)
{
    netlog_add("after %d %s", req == &w1 ? 1 : req == &w2 ? 2 : 3, rc_str(status));
}

static void on_timer(uv_timer_t *t)
{
    netlog_add("timer");
    uv_close((uv_handle_t *)t, NULL);
}

/* Which worker ran each job: libuv starts its four workers at the first job and the one idle the
 * longest takes the next, so jobs queued one after another (each from the previous one's
 * after-work callback: libuv's thread_name_threadpool) rotate over the four; the fifth is the
 * first's again (pool_size_limits_the_jobs_running_at_once covers jobs queued together). */
static uv_work_t chain;
static pthread_t ran_on[8];
static int chained;

static void who_work(uv_work_t *req) { ran_on[(intptr_t)req->data] = pthread_self(); }

static void chain_after(uv_work_t *req, int status)
{
    assert_int_equal(status, 0);
    if (++chained < 8) {
        req->data = (void *)(intptr_t)chained;
        assert_int_equal(uv_queue_work(uv_default_loop(), req, who_work, chain_after), 0);
    }
}

static void jobs_one_after_another_rotate_over_the_workers(void **state)
{
    ah_sim *sim = *state;
    int i, j;

    chained = 0;
    chain.data = (void *)0;
    assert_int_equal(uv_queue_work(uv_default_loop(), &chain, who_work, chain_after), 0);
    ah_run_until_idle(sim);
    assert_int_equal(chained, 8);
    for (i = 0; i < 4; i++)
        for (j = i + 1; j < 4; j++)
            assert_false(pthread_equal(ran_on[i], ran_on[j]));
    for (i = 4; i < 8; i++)
        assert_true(pthread_equal(ran_on[i], ran_on[i - 4]));
}

static void work_runs_then_its_after_callback(void **state)
{
    ah_sim *sim = *state;

    netlog[0] = '\0';
    assert_int_equal(uv_queue_work(uv_default_loop(), &w1, work_cb, after_cb), 0);
    assert_int_equal(uv_queue_work(uv_default_loop(), &w2, NULL, after_cb), UV_EINVAL);
    ah_run_until_idle(sim);
    assert_log("0 work 1|0 after 1 0");
}

static void duration_per_work_callback_delays_the_after_callback(void **state)
{
    ah_sim *sim = *state;

    netlog[0] = '\0';
    ah_threadpool_duration(sim, slow_work, 50);
    uv_queue_work(uv_default_loop(), &w1, slow_work, after_cb);
    uv_queue_work(uv_default_loop(), &w2, work_cb, after_cb);
    ah_run_until_idle(sim);
    assert_log("0 work 1|0 work 2|0 after 2 0|50 after 1 0");
}

static int queue_line;

static void queue_here(uv_work_t *req)
{
    queue_line = __LINE__ + 1;
    uv_queue_work(uv_default_loop(), req, work_cb, after_cb);
}

static void duration_per_call_site(void **state)
{
    ah_sim *sim = *state;

    queue_here(&w1); /* learn the line */
    ah_run_until_idle(sim);
    netlog[0] = '\0';
    ah_threadpool_duration_at(sim, "test_threadpool.c", queue_line, 30);
    queue_here(&w2);
    uv_queue_work(uv_default_loop(), &w3, work_cb, after_cb); /* another site: no duration */
    ah_run_until_idle(sim);
    assert_log("0 work 2|0 work 3|0 after 3 0|30 after 2 0");
}

static void pool_size_limits_the_jobs_running_at_once(void **state)
{
    ah_sim *sim = *state;

    netlog[0] = '\0';
    ah_threadpool_size(sim, 1);
    ah_threadpool_duration(sim, work_cb, 10);
    uv_queue_work(uv_default_loop(), &w1, work_cb, after_cb);
    uv_queue_work(uv_default_loop(), &w2, work_cb, after_cb);
    ah_run_until_idle(sim);
    /* At +10 the worker takes job 2 before the loop runs job 1's callback: both happen at one
     * instant on two threads, an order real libuv leaves open (ah_explore tries the other). */
    assert_log("0 work 1|10 work 2|10 after 1 0|20 after 2 0");
}

static void cancel_before_the_job_starts_gives_ecanceled(void **state)
{
    ah_sim *sim = *state;

    netlog[0] = '\0';
    ah_threadpool_size(sim, 1);
    ah_threadpool_duration(sim, work_cb, 10);
    uv_queue_work(uv_default_loop(), &w1, work_cb, after_cb);
    uv_queue_work(uv_default_loop(), &w2, work_cb, after_cb);
    ah_advance(sim, 5); /* job 1 runs, job 2 waits for the thread */
    assert_int_equal(uv_cancel((uv_req_t *)&w2), 0);
    assert_int_equal(uv_cancel((uv_req_t *)&w2), UV_EBUSY); /* no longer queued */
    ah_run_until_idle(sim);
    assert_log("0 work 1|5 after 2 ECANCELED|10 after 1 0");
}

static void cancel_after_the_job_started_is_ebusy(void **state)
{
    ah_sim *sim = *state;

    netlog[0] = '\0';
    ah_threadpool_duration(sim, work_cb, 10);
    uv_queue_work(uv_default_loop(), &w1, work_cb, after_cb);
    ah_advance(sim, 5);
    assert_int_equal(uv_cancel((uv_req_t *)&w1), UV_EBUSY);
    ah_run_until_idle(sim);
    assert_int_equal(uv_cancel((uv_req_t *)&w1), UV_EBUSY); /* done */
    assert_log("0 work 1|10 after 1 0");
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    (void)req;
    netlog_add("getaddrinfo %s", rc_str(status));
    uv_freeaddrinfo(res);
}

static void cancel_works_on_resolver_requests_too(void **state)
{
    ah_sim *sim = *state;

    netlog[0] = '\0';
    ah_threadpool_size(sim, 1);
    ah_threadpool_duration(sim, work_cb, 10);
    ah_dns_add(sim, "db.local", "10.0.0.7");
    ah_dns_latency(sim, "db.local", 20);
    uv_queue_work(uv_default_loop(), &w1, work_cb, after_cb);
    uv_getaddrinfo(uv_default_loop(), &gai, on_gai, "db.local", NULL, NULL);
    ah_advance(sim, 1);
    assert_int_equal(uv_cancel((uv_req_t *)&gai), 0);
    ah_run_until_idle(sim);
    /* started: the lookup holds the only thread for its latency */
    uv_getaddrinfo(uv_default_loop(), &gai, on_gai, "db.local", NULL, NULL);
    ah_advance(sim, 1);
    assert_int_equal(uv_cancel((uv_req_t *)&gai), UV_EBUSY);
    ah_run_until_idle(sim);
    assert_log("0 work 1|1 getaddrinfo EAI_CANCELED|10 after 1 0|30 getaddrinfo 0");
}

static void cancel_of_other_requests_is_einval(void **state)
{
    uv_connect_t c;
    uv_write_t w;

    (void)state;
    c.type = UV_CONNECT;
    w.type = UV_WRITE;
    assert_int_equal(uv_cancel((uv_req_t *)&c), UV_EINVAL);
    assert_int_equal(uv_cancel((uv_req_t *)&w), UV_EINVAL);
}

static void auto_advance_never_jumps_past_running_work(void **state)
{
    ah_sim *sim = *state;

    netlog[0] = '\0';
    ah_threadpool_duration(sim, work_cb, 50);
    uv_queue_work(uv_default_loop(), &w1, work_cb, after_cb);
    uv_timer_init(uv_default_loop(), &timer);
    uv_timer_start(&timer, on_timer, 100, 0);
    ah_advance(sim, 30);
    assert_log("0 work 1");
    ah_run_until_idle(sim);
    assert_log("0 work 1|50 after 1 0|100 timer");
}

static void work_alone_keeps_uv_run_going_until_it_is_done(void **state)
{
    ah_sim *sim = *state;

    netlog[0] = '\0';
    ah_threadpool_duration(sim, work_cb, 250);
    uv_queue_work(uv_default_loop(), &w1, work_cb, after_cb);
    assert_int_equal(uv_run(uv_default_loop(), UV_RUN_DEFAULT), 0);
    assert_log("0 work 1|250 after 1 0");
    ah_assert_now_ms(sim, 250);
}

static void bad_pool_size(ah_sim *sim, void *ctx) { ah_threadpool_size(sim, ctx != NULL ? 8 : 0); }

static void a_pool_without_threads_is_refused(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, bad_pool_size, NULL, "libuv's pool has 1 to 1024 threads");
    ah_assert_passes(NULL, bad_pool_size, (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(work_runs_then_its_after_callback),
        ah_unit_test(jobs_one_after_another_rotate_over_the_workers),
        ah_unit_test(duration_per_work_callback_delays_the_after_callback),
        ah_unit_test(duration_per_call_site),
        ah_unit_test(pool_size_limits_the_jobs_running_at_once),
        ah_unit_test(cancel_before_the_job_starts_gives_ecanceled),
        ah_unit_test(cancel_after_the_job_started_is_ebusy),
        ah_unit_test(cancel_works_on_resolver_requests_too),
        ah_unit_test(cancel_of_other_requests_is_einval),
        ah_unit_test(auto_advance_never_jumps_past_running_work),
        ah_unit_test(work_alone_keeps_uv_run_going_until_it_is_done),
        ah_unit_test(a_pool_without_threads_is_refused),
    };
    return ah_run_tests(tests);
}
