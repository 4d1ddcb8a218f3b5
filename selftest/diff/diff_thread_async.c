/* Threads against the loop: a thread that sleeps, takes a mutex, sets a value and reports with
 * uv_async_send; a thread waiting on a condition the loop signals; a pool job whose work sleeps.
 * The order of the lines does not depend on timing: every step waits for the one before. */
#include "trace.h"

static uv_async_t report;
static uv_mutex_t mu;
static uv_cond_t cv;
static int value, go;
static uv_thread_t t1, t2;
static uv_work_t job;

static void reporter(void *arg)
{
    (void)arg;
    uv_sleep(50);
    uv_mutex_lock(&mu);
    value = 42;
    uv_mutex_unlock(&mu);
    uv_async_send(&report);
}

static void waiter(void *arg)
{
    (void)arg;
    uv_mutex_lock(&mu);
    while (!go)
        uv_cond_wait(&cv, &mu);
    value = 7;
    uv_mutex_unlock(&mu);
}

static void work(uv_work_t *w)
{
    (void)w;
    uv_sleep(100);
}

static void after(uv_work_t *w, int status)
{
    (void)w;
    T("work done", 150, status);
}

static void on_report(uv_async_t *h)
{
    uv_mutex_lock(&mu);
    T("report", 50, value);
    go = 1;
    uv_cond_signal(&cv);
    uv_mutex_unlock(&mu);
    V("join reporter", uv_thread_join(&t1));
    V("join waiter", uv_thread_join(&t2));
    V("value after waiter", value);
    V("queue work", uv_queue_work(h->loop, &job, work, after));
    uv_close((uv_handle_t *)h, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_mutex_init(&mu);
    uv_cond_init(&cv);
    V("async init", uv_async_init(loop, &report, on_report));
    V("create reporter", uv_thread_create(&t1, reporter, NULL));
    V("create waiter", uv_thread_create(&t2, waiter, NULL));
    T("run", 150, uv_run(loop, UV_RUN_DEFAULT));
    uv_cond_destroy(&cv);
    uv_mutex_destroy(&mu);
    return trace_end(loop);
}
