/* Locks, semaphores, barriers and condition variables made before the program's first loop call,
 * as libuv's own tests make them (test-async.c, test-barrier.c, test-semaphore.c,
 * test-mutexes.c, test-condvar.c): on the harness the implicit sim exists from the first of them,
 * so each is simulated from the start instead of being a real object the sim then meets half-way.
 * Statically initialised objects (PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
 * UV_ONCE_INIT) work too. */
#include "trace.h"

#include <pthread.h>
#include <string.h>

/* ---- test-async.c: a mutex locked before uv_default_loop, unlocked in a prepare callback ---- */

static uv_mutex_t async_mu;
static uv_async_t async_h;
static uv_prepare_t prepare_h;
static uv_thread_t async_thread;
static int async_called, prepare_called, closed;

static void async_thread_cb(void *arg)
{
    int n;

    (void)arg;
    for (;;) {
        uv_mutex_lock(&async_mu);
        n = async_called;
        uv_mutex_unlock(&async_mu);
        if (n == 3)
            break;
        uv_async_send(&async_h);
        uv_sleep(0);
    }
}

static void count_close(uv_handle_t *h)
{
    (void)h;
    closed++;
}

static void on_async(uv_async_t *h)
{
    int n;

    uv_mutex_lock(&async_mu);
    n = ++async_called;
    uv_mutex_unlock(&async_mu);
    if (n == 3) {
        uv_close((uv_handle_t *)h, count_close);
        uv_close((uv_handle_t *)&prepare_h, count_close);
    }
}

static void on_prepare(uv_prepare_t *h)
{
    (void)h;
    if (prepare_called++)
        return;
    V("async thread create", uv_thread_create(&async_thread, async_thread_cb, NULL));
    uv_mutex_unlock(&async_mu);
}

static void async_scenario(void)
{
    V("async mutex init", uv_mutex_init(&async_mu));
    uv_mutex_lock(&async_mu);
    V("async prepare init", uv_prepare_init(uv_default_loop(), &prepare_h));
    V("async prepare start", uv_prepare_start(&prepare_h, on_prepare));
    V("async init", uv_async_init(uv_default_loop(), &async_h, on_async));
    V("async run", uv_run(uv_default_loop(), UV_RUN_DEFAULT));
    V("async called", async_called);
    V("async closed", closed);
    V("async join", uv_thread_join(&async_thread));
}

/* ---- test-barrier.c ---- */

typedef struct {
    uv_barrier_t barrier;
    int delay;
    int main_rval, worker_rval;
} barrier_config;

static void barrier_worker(void *arg)
{
    barrier_config *c = arg;

    if (c->delay)
        uv_sleep(c->delay);
    c->worker_rval = uv_barrier_wait(&c->barrier);
}

static void barrier_scenario(const char *name, int main_delay, int worker_delay)
{
    uv_thread_t t;
    barrier_config c;
    char what[64];

    memset(&c, 0, sizeof(c));
    c.delay = worker_delay;
    snprintf(what, sizeof(what), "%s init", name);
    V(what, uv_barrier_init(&c.barrier, 2));
    snprintf(what, sizeof(what), "%s thread", name);
    V(what, uv_thread_create(&t, barrier_worker, &c));
    if (main_delay)
        uv_sleep(main_delay);
    c.main_rval = uv_barrier_wait(&c.barrier);
    snprintf(what, sizeof(what), "%s join", name);
    V(what, uv_thread_join(&t));
    uv_barrier_destroy(&c.barrier);
    snprintf(what, sizeof(what), "%s one serial", name);
    V(what, c.main_rval ^ c.worker_rval);
}

static void serial_worker(void *arg)
{
    uv_barrier_t *b = arg;

    if (uv_barrier_wait(b) > 0)
        uv_barrier_destroy(b);
    uv_sleep(100);
}

static void barrier_serial_scenario(void)
{
    uv_thread_t t[4];
    uv_barrier_t b;
    unsigned i;
    int rc = 0;

    V("serial init", uv_barrier_init(&b, 5));
    for (i = 0; i < 4; i++)
        rc |= uv_thread_create(&t[i], serial_worker, &b);
    if (uv_barrier_wait(&b) > 0)
        uv_barrier_destroy(&b);
    for (i = 0; i < 4; i++)
        rc |= uv_thread_join(&t[i]);
    V("serial threads", rc);
}

/* ---- test-semaphore.c, semaphore_2: the main thread waits before the worker posts ---- */

typedef struct {
    uv_mutex_t mutex;
    uv_sem_t sem;
    int delay;
    volatile int posted;
} sem_config;

static void sem_worker(void *arg)
{
    sem_config *c = arg;

    if (c->delay)
        uv_sleep(c->delay);
    uv_mutex_lock(&c->mutex);
    uv_sem_post(&c->sem);
    c->posted = 1;
    uv_mutex_unlock(&c->mutex);
}

static void semaphore_scenario(void)
{
    uv_thread_t t;
    sem_config c;

    memset(&c, 0, sizeof(c));
    c.delay = 100;
    V("sem init", uv_sem_init(&c.sem, 0));
    V("sem mutex init", uv_mutex_init(&c.mutex));
    V("sem thread", uv_thread_create(&t, sem_worker, &c));
    uv_sem_wait(&c.sem);
    V("sem join", uv_thread_join(&t));
    V("sem posted", c.posted);
    uv_mutex_destroy(&c.mutex);
    uv_sem_destroy(&c.sem);
}

/* ---- test-condvar.c condvar_5: a timed wait with no signaller times out after its timeout ---- */

static void condvar_timeout_scenario(void)
{
    uv_mutex_t mu;
    uv_cond_t cv;
    uint64_t before, elapsed;
    int r;

    V("cond mutex init", uv_mutex_init(&mu));
    V("cond init", uv_cond_init(&cv));
    uv_mutex_lock(&mu);
    before = uv_hrtime();
    r = uv_cond_timedwait(&cv, &mu, 100 * 1000 * 1000);
    elapsed = uv_hrtime() - before;
    uv_mutex_unlock(&mu);
    V("cond timedwait timed out", r == UV_ETIMEDOUT);
    V("cond waited at least 75 ms", elapsed >= 75 * 1000 * 1000);
    uv_cond_destroy(&cv);
    uv_mutex_destroy(&mu);
}

/* ---- test-mutexes.c thread_rwlock_trylock, shortened: a peer sees the lock the main holds ---- */

static uv_mutex_t rw_mu;
static uv_cond_t rw_cv;
static uv_rwlock_t rw;
static int step;

static void synchronize(void)
{
    int current;

    step += 1;
    uv_cond_signal(&rw_cv);
    for (current = step; current == step; uv_cond_wait(&rw_cv, &rw_mu))
        ;
}

static void rw_peer(void *arg)
{
    (void)arg;
    uv_mutex_lock(&rw_mu);
    V("peer tryrdlock while written", uv_rwlock_tryrdlock(&rw));
    V("peer trywrlock while written", uv_rwlock_trywrlock(&rw));
    synchronize();
    V("peer tryrdlock while read", uv_rwlock_tryrdlock(&rw));
    uv_rwlock_rdunlock(&rw);
    V("peer trywrlock while read", uv_rwlock_trywrlock(&rw));
    step += 1;
    uv_cond_signal(&rw_cv);
    uv_mutex_unlock(&rw_mu);
}

static void rwlock_scenario(void)
{
    uv_thread_t t;

    V("rw cond init", uv_cond_init(&rw_cv));
    V("rw mutex init", uv_mutex_init(&rw_mu));
    V("rw init", uv_rwlock_init(&rw));
    uv_mutex_lock(&rw_mu);
    V("rw thread", uv_thread_create(&t, rw_peer, NULL));
    V("main trywrlock", uv_rwlock_trywrlock(&rw));
    synchronize();
    uv_rwlock_wrunlock(&rw);
    V("main tryrdlock", uv_rwlock_tryrdlock(&rw));
    synchronize();
    uv_rwlock_rdunlock(&rw);
    uv_mutex_unlock(&rw_mu);
    V("rw join", uv_thread_join(&t));
    uv_rwlock_destroy(&rw);
    uv_mutex_destroy(&rw_mu);
    uv_cond_destroy(&rw_cv);
}

/* ---- statically initialised objects, used before any loop exists ---- */

static pthread_mutex_t static_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t static_cv = PTHREAD_COND_INITIALIZER;
static uv_once_t once = UV_ONCE_INIT;
static int once_runs, static_ready;

static void once_init(void) { once_runs++; }

static void *static_waker(void *arg)
{
    (void)arg;
    uv_once(&once, once_init);
    pthread_mutex_lock(&static_mu);
    static_ready = 1;
    pthread_cond_signal(&static_cv);
    pthread_mutex_unlock(&static_mu);
    return NULL;
}

static void static_scenario(void)
{
    pthread_t t;

    uv_once(&once, once_init);
    V("static trylock", pthread_mutex_trylock(&static_mu));
    V("static thread", pthread_create(&t, NULL, static_waker, NULL));
    while (!static_ready)
        pthread_cond_wait(&static_cv, &static_mu);
    pthread_mutex_unlock(&static_mu);
    V("static join", pthread_join(t, NULL));
    V("once ran", once_runs);
}

int main(void)
{
    static_scenario();
    barrier_scenario("barrier_1", 100, 0);
    barrier_scenario("barrier_2", 0, 100);
    barrier_scenario("barrier_3", 0, 0);
    barrier_serial_scenario();
    semaphore_scenario();
    condvar_timeout_scenario();
    rwlock_scenario();
    async_scenario();
    trace_begin(uv_default_loop());
    return trace_end(uv_default_loop());
}
