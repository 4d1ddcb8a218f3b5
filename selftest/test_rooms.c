/* Pay for what you use, room by room (issue 21, docs/bench.md): a sim that touches no file system,
 * process, tty, UDP, descriptor, network or thread state allocates and initialises none of it.
 * Each room's state is made on the room's first use (ah__ext_get_or_add) and the sim can say
 * which rooms it has (ah__sim_rooms): a timer-only sim, alone or explored, has none; touching
 * one room attaches that room (and the rooms it is built on), nothing else. The real system calls
 * an empty schedule makes are counted by rooms_syscalls.sh around rooms_empty.c. */
#define _GNU_SOURCE 1
#include <ah/ah.h>

#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* harness/internal.h: the rooms attached to the sim, by name, in the order they came. */
const char *ah__sim_rooms(ah_sim *sim, char *buf, size_t n);

typedef struct seen {
    char rooms[256];
    unsigned fired;
} seen;

static void note_rooms(ah_sim *sim, seen *s) { ah__sim_rooms(sim, s->rooms, sizeof(s->rooms)); }

static void on_timer(uv_timer_t *t)
{
    seen *s = t->data;
    s->fired++;
}

/* A timer started, fired and closed: the loop and the clock, nothing else. */
static void timer_only(ah_sim *sim, void *ctx)
{
    seen *s = ctx;
    uv_timer_t t;

    uv_timer_init(uv_default_loop(), &t);
    t.data = s;
    uv_timer_start(&t, on_timer, 25, 0);
    ah_run_until_idle(sim);
    uv_close((uv_handle_t *)&t, NULL);
    ah_run_until_idle(sim);
    note_rooms(sim, s);
}

static void a_timer_attaches_no_room(void **state)
{
    seen s = {{0}, 0};

    timer_only(*state, &s);
    assert_int_equal(s.fired, 1);
    assert_string_equal(s.rooms, "");
}

static void an_explored_timer_attaches_no_room(void **state)
{
    ah_explore_opts o = {.schedules = 50, .ignore_env = 1, .no_trace_file = 1};
    seen s = {{0}, 0};
    ah_explore_result r;

    (void)state;
    assert_int_equal(ah_explore_run(&o, timer_only, &s, &r), 0);
    assert_true(r.schedules_run >= 1 && s.fired >= r.schedules_run); /* fewer under Valgrind */
    assert_string_equal(s.rooms, "");                                /* the last schedule's */
    ah_explore_result_free(&r);
}

/* ---- touching one room ---- */

static void touch_future(ah_sim *sim)
{
    ah_future *f = ah_future_new(sim);
    ah_future_detach(f);
}

static ah_future *db_get(void) { return ah_mock_async(); }

static void touch_mock(ah_sim *sim)
{
    ah_will_resolve(db_get, 7, 1);
    assert_int_equal(ah_await_value(sim, db_get()), 7);
}

static void touch_net(ah_sim *sim) { (void)ah_net_listen(sim, "127.0.0.1:7001"); }

static void touch_udp(ah_sim *sim)
{
    uv_udp_t u;

    assert_int_equal(uv_udp_init(uv_default_loop(), &u), 0);
    uv_close((uv_handle_t *)&u, NULL);
    ah_run_until_idle(sim);
}

static void touch_fd(ah_sim *sim)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)sim;
    assert_true(fd >= 0);
    assert_int_equal(close(fd), 0);
}

static void touch_fs(ah_sim *sim)
{
    uv_fs_t req;

    (void)sim;
    assert_int_equal(uv_fs_stat(uv_default_loop(), &req, "/", NULL), 0);
    uv_fs_req_cleanup(&req);
}

static void touch_signal(ah_sim *sim)
{
    uv_signal_t sg;

    assert_int_equal(uv_signal_init(uv_default_loop(), &sg), 0);
    uv_close((uv_handle_t *)&sg, NULL);
    ah_run_until_idle(sim);
}

static void work(uv_work_t *req) { (void)req; }
static void after_work(uv_work_t *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
}

static void touch_pool(ah_sim *sim)
{
    uv_work_t w;

    assert_int_equal(uv_queue_work(uv_default_loop(), &w, work, after_work), 0);
    ah_run_until_idle(sim);
}

static void touch_mutex(ah_sim *sim)
{
    uv_mutex_t m;

    (void)sim;
    assert_int_equal(uv_mutex_init(&m), 0);
    uv_mutex_lock(&m);
    uv_mutex_unlock(&m);
    uv_mutex_destroy(&m);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    uv_poll_stop(p); /* /dev/null is always readable */
}

/* A real descriptor watched: the room's poll of real descriptors is on from now on. */
static void touch_real_fd(ah_sim *sim)
{
    int fd = open("/dev/null", O_RDONLY);
    uv_poll_t p;

    assert_true(fd >= 0);
    assert_int_equal(uv_poll_init(uv_default_loop(), &p, fd), 0);
    assert_int_equal(uv_poll_start(&p, UV_READABLE, on_poll), 0);
    ah_run_ready(sim);
    uv_close((uv_handle_t *)&p, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(close(fd), 0);
}

typedef struct touch {
    const char *what;
    void (*fn)(ah_sim *sim);
    const char *rooms;
} touch;

static const touch touches[] = {
    {"a future", touch_future, "futures"},     {"an async mock", touch_mock, "futures mocks"},
    {"a scripted peer", touch_net, "net"},     {"a UDP handle", touch_udp, "udp dgram"},
    {"a socket descriptor", touch_fd, "fd"},   {"a file system call", touch_fs, "fs"},
    {"a signal handle", touch_signal, "proc"}, {"a work request", touch_pool, "pool threads"},
    {"a mutex", touch_mutex, "threads"},       {"a real descriptor watched", touch_real_fd, "fd"},
};

static void touch_body(ah_sim *sim, void *ctx)
{
    const touch *t = ctx;
    char rooms[256];

    t->fn(sim);
    ah__sim_rooms(sim, rooms, sizeof(rooms));
    if (strcmp(rooms, t->rooms) != 0)
        ah_fail(sim, "%s attached the rooms \"%s\", expected \"%s\"", t->what, rooms, t->rooms);
}

static void touching_one_room_attaches_that_room(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(touches) / sizeof(touches[0]); i++) {
        char *msg = ah_capture_failure(&(ah_sim_opts){.name = touches[i].what}, touch_body,
                                       (void *)&touches[i]);
        if (msg != NULL)
            fail_msg("%s", msg);
    }
}

/* The rooms set process-wide hooks on their first use (the poll of real descriptors, the
 * signals' end of a poll, the pool's step): a later sim that touches none still has none. */
static void a_timer_after_every_room_attaches_none(void **state)
{
    seen s = {{0}, 0};

    touching_one_room_attaches_that_room(state);
    assert_null(ah_capture_failure(&(ah_sim_opts){.name = "timer"}, timer_only, &s));
    assert_int_equal(s.fired, 1);
    assert_string_equal(s.rooms, "");
}

/* ---- a once needs no scheduler while the sim has no other thread ---- */

static pthread_once_t once_outer, once_inner, once_self;
static int inits;

static void init_inner(void) { inits++; }
static void init_outer(void)
{
    inits++;
    assert_int_equal(pthread_once(&once_inner, init_inner), 0);
}

static void onces_nested(ah_sim *sim, void *ctx)
{
    seen *s = ctx;

    once_outer = once_inner = PTHREAD_ONCE_INIT;
    inits = 0;
    assert_int_equal(pthread_once(&once_outer, init_outer), 0);
    assert_int_equal(pthread_once(&once_outer, init_outer), 0);
    assert_int_equal(pthread_once(&once_inner, init_inner), 0);
    assert_int_equal(inits, 2);
    note_rooms(sim, s);
}

static void a_once_without_threads_attaches_no_room(void **state)
{
    seen s = {{0}, 0};

    (void)state;
    ah_assert_passes(NULL, onces_nested, &s);
    assert_string_equal(s.rooms, "");
}

static void init_self(void) { (void)pthread_once(&once_self, init_self); }

static void once_recursive(ah_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
    once_self = PTHREAD_ONCE_INIT;
    (void)pthread_once(&once_self, init_self); /* planted: glibc would wait forever */
}

static void a_recursive_once_is_diagnosed_without_threads(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, once_recursive, NULL,
                         "pthread_once in (recursive): the init function calls pthread_once on its "
                         "own control");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(a_timer_attaches_no_room),
        ah_unit_test(an_explored_timer_attaches_no_room),
        ah_unit_test(touching_one_room_attaches_that_room),
        ah_unit_test(a_timer_after_every_room_attaches_none),
        ah_unit_test(a_once_without_threads_attaches_no_room),
        ah_unit_test(a_recursive_once_is_diagnosed_without_threads),
    };
    return ah_run_tests(tests);
}
