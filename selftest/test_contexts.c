/* The contexts mode (docs/threads.md "The contexts mode"): with ah_sim_opts.thread_contexts = 1
 * (or AH_THREADS=contexts) the simulated threads are user-level contexts on the test's OS thread.
 * What an OS thread has of its own must still be per simulated thread: pthread_self, errno,
 * `__thread` variables (their values; their addresses are shared, the documented limit), the
 * thread-specific keys and their destructors, the name, the stack size asked, the signal mask;
 * and a thread may leave with pthread_exit or be detached. Each test checks one, across switch
 * points, with no OS thread made. Under Valgrind and the sanitizers the mode falls back to OS
 * threads: the checks hold there too, except the thread count and the shared addresses. */
#define _GNU_SOURCE 1
#include <ah/ah.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* GNU extensions (declared here: the project's headers may have included <pthread.h> first). */
int pthread_getattr_np(pthread_t thread, pthread_attr_t *attr);
int pthread_setname_np(pthread_t thread, const char *name);
int pthread_getname_np(pthread_t thread, char *name, size_t len);

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define ON_VALGRIND RUNNING_ON_VALGRIND
#endif
#endif
#ifndef ON_VALGRIND
#define ON_VALGRIND 0
#endif

/* The mode is really on (not the OS-thread fallback). */
static int real_contexts(void)
{
    return !SANITIZED && !ON_VALGRIND && getenv("AH_UNDER_VALGRIND") == NULL;
}

static int os_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static int setup(void **state)
{
    ah_sim_opts o;

    memset(&o, 0, sizeof(o));
    o.thread_contexts = 1;
    o.name = "contexts";
    *state = ah_sim_new(&o);
    return 0;
}

static int teardown(void **state)
{
    ah_sim_free(*state);
    return 0;
}

#define CX_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static uv_mutex_t mu;

/* A switch point where the other thread runs: the default schedule lets a running thread go on,
 * so the threads hand over through a semaphore pair. */
static uv_sem_t go[2];

static void pass_to(int other, int me)
{
    uv_sem_post(&go[other]);
    uv_sem_wait(&go[me]);
}

static void two(void (*fn)(void *))
{
    uv_thread_t a, b;

    uv_sem_init(&go[0], 0);
    uv_sem_init(&go[1], 0);
    assert_int_equal(uv_thread_create(&a, fn, (void *)(intptr_t)0), 0);
    assert_int_equal(uv_thread_create(&b, fn, (void *)(intptr_t)1), 0);
    uv_sem_post(&go[0]);
    assert_int_equal(uv_thread_join(&a), 0);
    assert_int_equal(uv_thread_join(&b), 0);
    uv_sem_destroy(&go[0]);
    uv_sem_destroy(&go[1]);
}

/* ---- thread-local storage: each thread its own values ---- */

static __thread int tls_counter = 100; /* .tdata */
static __thread char tls_buf[64];      /* .tbss */
static void *tls_addr[2];
static int tls_seen[2];
static int threads_seen;

static void tls_body(void *arg)
{
    int me = (int)(intptr_t)arg, i;

    uv_sem_wait(&go[me]);
    threads_seen = os_threads();
    tls_addr[me] = &tls_counter;
    assert_int_equal(tls_counter, 100); /* a new thread starts from the image */
    assert_int_equal(tls_buf[0], 0);
    for (i = 0; i < 5; i++) {
        tls_counter += me + 1;
        snprintf(tls_buf, sizeof(tls_buf), "thread %d round %d", me, i);
        if (me == 0 || i < 4)
            pass_to(!me, me);
        else
            uv_sem_post(&go[!me]);
        /* the other thread ran in between and changed its own copy */
        assert_int_equal(tls_counter, 100 + (me + 1) * (i + 1));
        assert_int_equal(tls_buf[7], '0' + me);
    }
    tls_seen[me] = tls_counter;
}

static void thread_locals_are_per_thread(void **state)
{
    int before = os_threads();

    (void)state;
    tls_counter = 1;
    strcpy(tls_buf, "main");
    two(tls_body);
    assert_int_equal(tls_seen[0], 105);
    assert_int_equal(tls_seen[1], 110);
    /* the test's thread kept its own */
    assert_int_equal(tls_counter, 1);
    assert_string_equal(tls_buf, "main");
    if (real_contexts()) {
        assert_int_equal(threads_seen, before); /* no OS thread */
        /* The documented limit: a `__thread` variable has one address for every context. */
        assert_ptr_equal(tls_addr[0], tls_addr[1]);
        assert_ptr_equal(tls_addr[0], &tls_counter);
    }
}

/* ---- pthread_self, uv_thread_self, errno ---- */

static pthread_t self_in[2];
static uv_thread_t uvself_in[2];
static int errno_ok[2];

static void self_body(void *arg)
{
    int me = (int)(intptr_t)arg;

    uv_sem_wait(&go[me]);
    self_in[me] = pthread_self();
    uvself_in[me] = uv_thread_self();
    errno = me == 0 ? EIO : EAGAIN;
    if (me == 0)
        pass_to(1, 0);
    else
        uv_sem_post(&go[0]);
    errno_ok[me] = errno == (me == 0 ? EIO : EAGAIN);
    assert_true(pthread_equal(pthread_self(), self_in[me]));
}

static void self_and_errno_are_per_thread(void **state)
{
    uv_thread_t a;
    pthread_t main_self = pthread_self();

    (void)state;
    errno = ENOENT;
    two(self_body);
    assert_int_equal(errno, ENOENT);
    assert_true(errno_ok[0]);
    assert_true(errno_ok[1]);
    assert_false(pthread_equal(self_in[0], self_in[1]));
    assert_false(pthread_equal(self_in[0], main_self));
    assert_false(pthread_equal(self_in[1], main_self));
    assert_true(pthread_equal(self_in[0], uvself_in[0]));
    assert_true(pthread_equal(pthread_self(), main_self));
    /* the id pthread_self gives inside is the one uv_thread_create gave */
    uv_sem_init(&go[0], 0);
    uv_sem_init(&go[1], 1);
    assert_int_equal(uv_thread_create(&a, self_body, (void *)(intptr_t)1), 0);
    assert_int_equal(uv_thread_join(&a), 0);
    uv_sem_destroy(&go[0]);
    uv_sem_destroy(&go[1]);
    assert_true(uv_thread_equal(&a, &uvself_in[1]));
}

/* ---- keys: values per thread, destructors at each thread's end ---- */

static uv_key_t key;
static int destroyed[2];

static void key_dtor(void *v) { destroyed[*(int *)v]++; }

static int ids[2] = {0, 1};

static void key_body(void *arg)
{
    int me = (int)(intptr_t)arg;

    uv_sem_wait(&go[me]);
    assert_null(uv_key_get(&key));
    uv_key_set(&key, &ids[me]);
    if (me == 0)
        pass_to(1, 0);
    else
        uv_sem_post(&go[0]);
    assert_ptr_equal(uv_key_get(&key), &ids[me]);
    assert_int_equal(destroyed[me], 0);
}

static void keys_are_per_thread(void **state)
{
    static int main_value = 7;

    (void)state;
    assert_int_equal(uv_key_create(&key), 0);
    {
        /* uv_key_create has no destructor: use the C library's call for one */
        pthread_key_delete(key);
        assert_int_equal(pthread_key_create(&key, key_dtor), 0);
    }
    uv_key_set(&key, &main_value);
    two(key_body);
    assert_int_equal(destroyed[0], 1);
    assert_int_equal(destroyed[1], 1);
    assert_ptr_equal(uv_key_get(&key), &main_value);
    uv_key_set(&key, NULL);
    uv_key_delete(&key);
}

/* ---- names, stack sizes, pthread_exit, detached threads, signal masks ---- */

static char name_seen[16];
static size_t stack_seen;
static int local_in_stack;

static void named(void *arg)
{
    pthread_attr_t attr;
    void *lo;
    size_t size;
    int local = 0;

    (void)arg;
    assert_int_equal(pthread_setname_np(pthread_self(), "worker-a"), 0);
    assert_int_equal(pthread_getattr_np(pthread_self(), &attr), 0);
    assert_int_equal(pthread_attr_getstack(&attr, &lo, &size), 0);
    pthread_attr_destroy(&attr);
    stack_seen = size;
    local_in_stack = (char *)&local >= (char *)lo && (char *)&local < (char *)lo + size;
    uv_mutex_lock(&mu); /* a switch point */
    uv_mutex_unlock(&mu);
    pthread_getname_np(pthread_self(), name_seen, sizeof(name_seen));
}

static void names_and_stacks_are_per_thread(void **state)
{
    uv_thread_t t;
    uv_thread_options_t opts;
    char main_name[16], name[16];

    (void)state;
    pthread_getname_np(pthread_self(), main_name, sizeof(main_name));
    uv_mutex_init(&mu);
    opts.flags = UV_THREAD_HAS_STACK_SIZE;
    opts.stack_size = 256 * 1024;
    assert_int_equal(uv_thread_create_ex(&t, &opts, named, NULL), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    uv_mutex_destroy(&mu);
    assert_string_equal(name_seen, "worker-a");
    assert_true(stack_seen >= 256 * 1024);
    assert_true(local_in_stack);
    pthread_getname_np(pthread_self(), name, sizeof(name));
    assert_string_equal(name, main_name);
}

static volatile int depth_left = 10;

static void *deep(void);
static void *(*volatile deeper)(void) = deep;

static void *deep(void)
{
    if (depth_left-- == 0)
        pthread_exit((void *)(intptr_t)42); /* from frames below the thread's start */
    return deeper();
}

static void *exiting(void *arg)
{
    (void)arg;
    return deep();
}

static int detached_ran;

static void *detached(void *arg)
{
    (void)arg;
    detached_ran = 1;
    uv_sem_post(&go[0]);
    return NULL;
}

static void pthread_exit_and_detached_threads(void **state)
{
    pthread_t t, d;
    pthread_attr_t attr;
    void *ret = NULL;

    (void)state;
    assert_int_equal(pthread_create(&t, NULL, exiting, NULL), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_int_equal((intptr_t)ret, 42);
    uv_sem_init(&go[0], 0);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    assert_int_equal(pthread_create(&d, &attr, detached, NULL), 0);
    pthread_attr_destroy(&attr);
    uv_sem_wait(&go[0]);
    assert_int_equal(detached_ran, 1);
    sched_yield(); /* lets it end */
}

static int usr2_blocked_after, usr1_inherited;

static void masked(void *arg)
{
    sigset_t m;

    (void)arg;
    pthread_sigmask(SIG_SETMASK, NULL, &m);
    usr1_inherited = sigismember(&m, SIGUSR1);
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &m, NULL);
    uv_sem_post(&go[0]);
    uv_sem_wait(&go[1]);
    pthread_sigmask(SIG_SETMASK, NULL, &m);
    usr2_blocked_after = sigismember(&m, SIGUSR2);
}

static void signal_masks_are_per_thread(void **state)
{
    uv_thread_t t;
    sigset_t m, saved;

    (void)state;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &m, &saved);
    uv_sem_init(&go[0], 0);
    uv_sem_init(&go[1], 0);
    assert_int_equal(uv_thread_create(&t, masked, NULL), 0);
    uv_sem_wait(&go[0]);
    pthread_sigmask(SIG_SETMASK, NULL, &m);
    assert_false(sigismember(&m, SIGUSR2)); /* the thread's block is its own */
    assert_true(sigismember(&m, SIGUSR1));
    uv_sem_post(&go[1]);
    assert_int_equal(uv_thread_join(&t), 0);
    uv_sem_destroy(&go[0]);
    uv_sem_destroy(&go[1]);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    assert_int_equal(usr1_inherited, 1); /* the creator's mask */
    assert_int_equal(usr2_blocked_after, 1);
}

/* ---- the option wins over AH_THREADS ---- */

static pid_t tid_in;
static pthread_t self_where;

static void where(void *arg)
{
    (void)arg;
    tid_in = (pid_t)syscall(SYS_gettid);
    self_where = pthread_self();
}

static void os_threads_by_option(void **state)
{
    ah_sim_opts o;
    ah_sim *sim;
    uv_thread_t t;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.thread_contexts = -1;
    sim = ah_sim_new(&o);
    assert_int_equal(uv_thread_create(&t, where, NULL), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    ah_sim_free(sim);
    assert_int_not_equal(tid_in, getpid());
    /* an OS thread's pthread_self is the C library's: the id pthread_create gave */
    assert_true(pthread_equal(self_where, t));
}

static void contexts_by_option(void **state)
{
    uv_thread_t t;

    (void)state;
    assert_int_equal(uv_thread_create(&t, where, NULL), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    if (real_contexts())
        assert_int_equal(tid_in, getpid());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CX_TEST(thread_locals_are_per_thread),
        CX_TEST(self_and_errno_are_per_thread),
        CX_TEST(keys_are_per_thread),
        CX_TEST(names_and_stacks_are_per_thread),
        CX_TEST(pthread_exit_and_detached_threads),
        CX_TEST(signal_masks_are_per_thread),
        cmocka_unit_test(os_threads_by_option),
        CX_TEST(contexts_by_option),
    };
    return ah_run_tests(tests);
}
