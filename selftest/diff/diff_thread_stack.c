/* The stack a thread of uv_thread_create_ex gets, read from inside it with pthread_getattr_np, as
 * libuv's test thread_stack_size_explicit reads it: an asked size is rounded up to a page and to
 * at least PTHREAD_STACK_MIN, no size means RLIMIT_STACK (rounded down to a page). The trace
 * prints the size exactly when the rounding decides it, and only whether it covers what was
 * asked where glibc's own rounding (guard pages) could differ. */
#include "trace.h"

#include <limits.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

/* glibc declares it under _GNU_SOURCE only, and the harness side force-includes uv.h (which
 * includes pthread.h) before this file could define it. */
int pthread_getattr_np(pthread_t thread, pthread_attr_t *attr);

static size_t seen;

static void probe(void *arg)
{
    pthread_attr_t attr;

    (void)arg;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstacksize(&attr, &seen);
    pthread_attr_destroy(&attr);
}

static void run(const char *what, unsigned flags, size_t asked, size_t expected)
{
    uv_thread_options_t o = {.flags = flags, .stack_size = asked};
    uv_thread_t t;

    seen = 0;
    V(what, uv_thread_create_ex(&t, &o, probe, NULL));
    V("join", uv_thread_join(&t));
    V("covers", seen >= expected);
    V("page multiple", seen % (size_t)getpagesize() == 0);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    struct rlimit lim;
    size_t rl;

    trace_begin(loop);
    getrlimit(RLIMIT_STACK, &lim);
    rl = lim.rlim_cur == RLIM_INFINITY ? (size_t)2 << 20 : (size_t)lim.rlim_cur;
    run("1 MiB", UV_THREAD_HAS_STACK_SIZE, 1 << 20, 1 << 20);
    run("8 MiB", UV_THREAD_HAS_STACK_SIZE, 8 << 20, 8 << 20);
    run("size 0", UV_THREAD_HAS_STACK_SIZE, 0, rl);
    run("no flag", UV_THREAD_NO_FLAGS, 12345, rl);
    run("42 bytes", UV_THREAD_HAS_STACK_SIZE, 42, 42);
    run("min - 42", UV_THREAD_HAS_STACK_SIZE, PTHREAD_STACK_MIN - 42, PTHREAD_STACK_MIN - 42);
    run("min / 2 - 42", UV_THREAD_HAS_STACK_SIZE, PTHREAD_STACK_MIN / 2 - 42,
        PTHREAD_STACK_MIN / 2 - 42);
    run("page + 1", UV_THREAD_HAS_STACK_SIZE, (1 << 20) + 1, (1 << 20) + 4096);
    return 0;
}
