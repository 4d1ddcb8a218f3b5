/* Failure reports a newcomer can act on (issue 24), through the real cmocka runner. Each planted
 * test FAILS on purpose and CTest checks its report (selftest/planted/CMakeLists.txt); each has a
 * correct twin that must pass (reports_twins). */
#include <ah/ah.h>

#undef NDEBUG /* the planted assert() must fire in every build type */
#include <assert.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

typedef struct client {
    uv_timer_t timer;
    int *value;
} client;

static volatile int zero;

/* Valgrind and the sanitizers report a bad write themselves (scripts/valgrind.sh runs this
 * binary and judges only Valgrind's verdict; UBSan stops at a null store): there the same signal
 * comes without it. */
#if defined(__SANITIZE_ADDRESS__)
#define AH_PLANTED_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AH_PLANTED_SANITIZED 1
#endif
#endif
#ifndef AH_PLANTED_SANITIZED
#define AH_PLANTED_SANITIZED 0
#endif

static int bad_write_is_reported_elsewhere(void)
{
    const char *v = getenv("AH_UNDER_VALGRIND");
    return AH_PLANTED_SANITIZED || (v != NULL && strcmp(v, "1") == 0);
}

static void on_timer_crash(uv_timer_t *t)
{
    client *c = t->data;
    if (bad_write_is_reported_elsewhere())
        raise(SIGSEGV);
    *c->value = 42; /* c->value is NULL: the planted crash */
}

static void on_timer_ok(uv_timer_t *t)
{
    client *c = t->data;
    *c->value = 42;
}

static void on_close_free(uv_handle_t *h) { free(h->data); }

/* 1. a crash in the user's own callback, at +250 ms */
static void crash_in_callback(void **state)
{
    ah_sim *sim = *state;
    static client c;
    static int v;

    c.value = zero ? &v : NULL;
    uv_timer_init(uv_default_loop(), &c.timer);
    c.timer.data = &c;
    uv_timer_start(&c.timer, on_timer_crash, 250, 0);
    ah_run_until_idle(sim);
}

static void crash_in_callback_twin(void **state)
{
    ah_sim *sim = *state;
    static client c;
    static int v;

    c.value = &v;
    uv_timer_init(uv_default_loop(), &c.timer);
    c.timer.data = &c;
    uv_timer_start(&c.timer, on_timer_ok, 250, 0);
    ah_run_until_idle(sim);
    assert_int_equal(v, 42);
    uv_close((uv_handle_t *)&c.timer, NULL);
    ah_run_until_idle(sim);
}

static void on_timer_assert(uv_timer_t *t)
{
    (void)t;
    assert(zero == 1); /* the planted failed assert() */
}

/* 1. assert() in a callback: SIGABRT, which cmocka does not catch */
static void assert_in_callback(void **state)
{
    ah_sim *sim = *state;
    static uv_timer_t t;

    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, on_timer_assert, 30, 0);
    ah_run_until_idle(sim);
}

/* 1. the test after a crash runs (cmocka's runner went on) */
static void runs_after_a_crash(void **state) { (void)state; }

/* 2, 3. a libuv call on a loop whose memory was freed and reused (the client's struct): the
 * memory is overwritten here rather than freed, so that Valgrind, which runs this binary, sees
 * no invalid read of its own */
static void call_on_freed_loop(void **state)
{
    static uv_loop_t loop;
    uv_timer_t t;

    (void)state;
    uv_loop_init(&loop);
    uv_loop_close(&loop);
    memset(&loop, 0xa5, sizeof(loop)); /* "freed" and reused */
    uv_timer_init(&loop, &t);          /* the planted use after free */
}

static void call_on_freed_loop_twin(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = malloc(sizeof(*loop));
    uv_timer_t t;

    uv_loop_init(loop);
    uv_timer_init(loop, &t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(loop);
    (void)sim;
}

/* 3. a handle used after its memory was freed */
static void call_on_freed_handle(void **state)
{
    ah_sim *sim = *state;
    uv_timer_t *t = malloc(sizeof(*t));

    uv_timer_init(uv_default_loop(), t);
    t->data = t;
    uv_close((uv_handle_t *)t, on_close_free);
    ah_run_until_idle(sim);
    {
        /* the same memory, handed out again and scribbled on, then used as the handle */
        static uv_timer_t again;
        memset(&again, 0, sizeof(again));
        uv_timer_start(&again, on_timer_ok, 10, 0);
    }
}

/* 2. a failure inside a marked call that names no site itself takes the call's */
static void bind_null_address(void **state)
{
    ah_sim *sim = *state;
    static uv_tcp_t tcp;

    uv_tcp_init(uv_default_loop(), &tcp);
    uv_tcp_bind(&tcp, NULL, 0); /* the planted misuse */
    uv_close((uv_handle_t *)&tcp, NULL);
    ah_run_until_idle(sim);
}

static void bind_null_address_twin(void **state)
{
    ah_sim *sim = *state;
    static uv_tcp_t tcp;
    struct sockaddr_in a;

    uv_ip4_addr("127.0.0.1", 7300, &a);
    uv_tcp_init(uv_default_loop(), &tcp);
    assert_int_equal(uv_tcp_bind(&tcp, (const struct sockaddr *)&a, 0), 0);
    uv_close((uv_handle_t *)&tcp, NULL);
    ah_run_until_idle(sim);
}

/* 4. a plain cmocka assertion in the body, at +40 ms */
static void plain_assertion(void **state)
{
    ah_sim *sim = *state;

    ah_advance(sim, 40);
    assert_int_equal(5, 6);
}

static void plain_assertion_twin(void **state)
{
    ah_sim *sim = *state;

    ah_advance(sim, 40);
    assert_int_equal(6, 6);
}

/* 4. a teardown failure: a handle never closed */
static void handle_left_open(void **state)
{
    (void)state;
    static uv_timer_t t;

    uv_timer_init(uv_default_loop(), &t);
}

int main(void)
{
    const char *which = getenv("AH_REPORTS");
    const struct CMUnitTest planted[] = {
        ah_unit_test(crash_in_callback),    ah_unit_test(runs_after_a_crash),
        ah_unit_test(assert_in_callback),   ah_unit_test(call_on_freed_loop),
        ah_unit_test(call_on_freed_handle), ah_unit_test(plain_assertion),
        ah_unit_test(handle_left_open),     ah_unit_test(bind_null_address),
    };
    const struct CMUnitTest twins[] = {
        ah_unit_test(crash_in_callback_twin),
        ah_unit_test(call_on_freed_loop_twin),
        ah_unit_test(plain_assertion_twin),
        ah_unit_test(bind_null_address_twin),
    };

    if (which != NULL && strcmp(which, "twins") == 0)
        return ah_run_tests(twins);
    return ah_run_tests(planted);
}
