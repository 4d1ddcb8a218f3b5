/* The thread functions around creation and join, on a thread the code starts: uv_thread_self and
 * uv_thread_equal; from libuv 1.45 affinity (set to the CPUs it has, read back) and
 * uv_thread_getcpu; from 1.48 priorities (read, set to normal); from 1.50 names (set inside the
 * thread, read from outside) and uv_thread_detach. A simulated thread is a real OS thread under
 * the sim's baton, so these act on it as on any thread; the scheduler ignores them. */
#include "trace.h"

#include <string.h>

#define P_NAME(n) V(strcmp((n), "libuv-worker") == 0 ? "pool thread is libuv-worker" : (n), 1)

static uv_thread_t main_tid, worker_tid;
static uv_sem_t named, done;
static int equal_inside, equal_main;

static void worker(void *arg)
{
    uv_thread_t me = uv_thread_self();

    (void)arg;
    equal_inside = uv_thread_equal(&me, &worker_tid);
    equal_main = uv_thread_equal(&me, &main_tid);
#if UV_VERSION_HEX >= 0x013200
    uv_thread_setname("ah-worker");
#endif
    uv_sem_post(&named);
    uv_sem_wait(&done);
}

#if UV_VERSION_HEX >= 0x013200
static void detached(void *arg) { (void)arg; }

/* 1.50 names the pool's threads. */
static char worker_name[32];
static uv_work_t job;

static void work(uv_work_t *w)
{
    uv_thread_t me = uv_thread_self();
    (void)w;
    uv_thread_getname(&me, worker_name, sizeof(worker_name));
}

static void after(uv_work_t *w, int status)
{
    (void)w;
    V("work done", status);
    P_NAME(worker_name);
}
#endif

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    main_tid = uv_thread_self();
    uv_sem_init(&named, 0);
    uv_sem_init(&done, 0);
    V("create", uv_thread_create(&worker_tid, worker, NULL));
    uv_sem_wait(&named);
    V("self equal inside", equal_inside != 0);
    V("main equal inside", equal_main != 0);
#if UV_VERSION_HEX >= 0x012d00
    {
        int n = uv_cpumask_size();
        char *mask = calloc((size_t)n, 1), *old = calloc((size_t)n, 1);
        int cpu = uv_thread_getcpu();
        V("cpumask size > 0", n > 0);
        V("getcpu >= 0", cpu >= 0);
        V("getaffinity", uv_thread_getaffinity(&worker_tid, old, (size_t)n));
        memcpy(mask, old, (size_t)n);
        V("setaffinity", uv_thread_setaffinity(&worker_tid, mask, old, (size_t)n));
        V("setaffinity small mask", uv_thread_setaffinity(&worker_tid, mask, old, 1));
        free(mask);
        free(old);
    }
#endif
#if UV_VERSION_HEX >= 0x013000
    {
        int prio = 99;
        V("getpriority", uv_thread_getpriority(worker_tid, &prio));
        V("priority", prio);
        V("setpriority normal", uv_thread_setpriority(worker_tid, UV_THREAD_PRIORITY_NORMAL));
    }
#endif
#if UV_VERSION_HEX >= 0x013200
    {
        char name[32] = "";
        uv_thread_t d;
        V("getname", uv_thread_getname(&worker_tid, name, sizeof(name)));
        V("name is ah-worker", strcmp(name, "ah-worker") == 0);
        V("getname short buffer", uv_thread_getname(&worker_tid, name, 0));
        V("create detached", uv_thread_create(&d, detached, NULL));
        V("detach", uv_thread_detach(&d));
    }
#endif
    uv_sem_post(&done);
    V("join", uv_thread_join(&worker_tid));
    uv_sem_destroy(&named);
    uv_sem_destroy(&done);
#if UV_VERSION_HEX >= 0x013200
    V("queue work", uv_queue_work(loop, &job, work, after));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
#endif
    return trace_end(loop);
}
