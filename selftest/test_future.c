/* Futures: every state transition, continuations (after the current callback, at the same
 * instant), each combinator with cancellation propagation, ah_with_timeout at exactly now + ms,
 * the adapters, ah_await and its deadlock report, and the never-awaited teardown check. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

static void close_cb(uv_handle_t *h) { (void)h; }
static void noop_timer(uv_timer_t *t) { (void)t; }

static void state_transitions(void **state)
{
    ah_sim *sim = *state;
    ah_future *a = ah_future_new(sim), *b = ah_future_new(sim), *c = ah_future_new(sim);

    assert_ptr_equal(ah_future_sim(a), sim);
    assert_int_equal(ah_future_state_of(a), AH_FUTURE_PENDING);
    assert_int_equal(ah_future_error(a), 0);
    ah_assert_pending(a);

    assert_int_equal(ah_future_fulfil(a, 42), 0);
    assert_int_equal(ah_future_state_of(a), AH_FUTURE_FULFILLED);
    assert_int_equal(ah_future_value(a), 42);
    assert_int_equal(ah_future_error(a), 0);
    ah_assert_settled(a);
    /* settled once: every later settle is refused and changes nothing */
    assert_int_equal(ah_future_fulfil(a, 7), UV_EALREADY);
    assert_int_equal(ah_future_reject(a, UV_EIO), UV_EALREADY);
    assert_int_equal(ah_future_cancel(a), UV_EALREADY);
    assert_int_equal(ah_future_value(a), 42);

    assert_int_equal(ah_future_reject(b, 5), UV_EINVAL); /* errors are < 0 */
    assert_int_equal(ah_future_state_of(b), AH_FUTURE_PENDING);
    assert_int_equal(ah_future_reject(b, UV_ECONNREFUSED), 0);
    assert_int_equal(ah_future_state_of(b), AH_FUTURE_REJECTED);
    assert_int_equal(ah_future_error(b), UV_ECONNREFUSED);
    assert_int_equal(ah_future_fulfil(b, 1), UV_EALREADY);

    assert_int_equal(ah_future_cancel(c), 0);
    assert_int_equal(ah_future_state_of(c), AH_FUTURE_CANCELLED);
    assert_int_equal(ah_future_error(c), UV_ECANCELED);
    /* a producer settling a cancelled future is simply ignored */
    assert_int_equal(ah_future_fulfil(c, 1), UV_EALREADY);
    assert_int_equal(ah_future_reject(c, UV_EIO), UV_EALREADY);

    ah_future_detach(a);
    ah_future_detach(b);
    ah_future_detach(c);
    {
        ah_future *d = ah_future_new(sim), *e = ah_future_new(sim);
        assert_int_equal(ah_future_settle(d, 3, 9), 0);
        assert_int_equal(ah_future_value(d), 9);
        assert_int_equal(ah_future_settle(e, UV_EPIPE, 9), 0);
        assert_int_equal(ah_future_error(e), UV_EPIPE);
        ah_future_detach(d);
        ah_future_detach(e);
    }
}

static int owned_freed;
static void owned_free(void *p)
{
    owned_freed++;
    free(p);
}

static void owned_values_are_freed_with_the_sim(void **state)
{
    ah_sim *sim = *state;
    ah_future *f = ah_future_new(sim);
    char *s = strdup("copied in a callback");

    owned_freed = 0;
    assert_int_equal(ah_future_fulfil_owned(f, s, owned_free), 0);
    assert_string_equal(ah_future_ptr(f), "copied in a callback");
    /* already settled: the new value is freed at once */
    assert_int_equal(ah_future_fulfil_owned(f, strdup("late"), owned_free), UV_EALREADY);
    assert_int_equal(owned_freed, 1);
    assert_int_equal(ah_await_value(sim, f), (intptr_t)s);
}

/* ---- continuations ---- */

static char order[64];
static void note(char c)
{
    size_t n = strlen(order);
    order[n] = c;
    order[n + 1] = '\0';
}

static uint64_t cont_at_ms;
static void on_settled(ah_future *f, void *ctx)
{
    (void)f;
    note(*(const char *)ctx);
    cont_at_ms = ah_now_ms(ah_future_sim(f));
}

static void fulfil_in_timer(uv_timer_t *t)
{
    ah_future *f = t->data;
    note('1');
    ah_future_fulfil(f, 1);
    note('2'); /* the continuation has not run inside fulfil */
}

static void second_timer(uv_timer_t *t)
{
    (void)t;
    note('3');
}

static void continuations_run_after_the_callback_at_the_same_instant(void **state)
{
    ah_sim *sim = *state;
    ah_future *f = ah_future_new(sim);
    uv_timer_t t1, t2;

    order[0] = '\0';
    uv_timer_init(uv_default_loop(), &t1);
    uv_timer_init(uv_default_loop(), &t2);
    t1.data = f;
    ah_future_then(f, on_settled, "c");
    uv_timer_start(&t1, fulfil_in_timer, 25, 0);
    uv_timer_start(&t2, second_timer, 25, 0); /* due at the same instant, after t1 */
    ah_run_until_idle(sim);
    assert_string_equal(order, "12c3");
    assert_int_equal(cont_at_ms, 25);

    /* chained after it settled: still queued, never run inside ah_future_then */
    order[0] = '\0';
    ah_future_then(f, on_settled, "d");
    assert_string_equal(order, "");
    ah_run_ready(sim);
    assert_string_equal(order, "d");

    uv_close((uv_handle_t *)&t1, close_cb);
    uv_close((uv_handle_t *)&t2, close_cb);
    ah_run_until_idle(sim);
}

static void on_cancel_hook(ah_future *f, void *ctx)
{
    (void)f;
    note(*(const char *)ctx);
}

static void on_cancel_runs_only_when_cancelled(void **state)
{
    ah_sim *sim = *state;
    ah_future *a = ah_future_new(sim), *b = ah_future_new(sim);

    order[0] = '\0';
    ah_future_on_cancel(a, on_cancel_hook, "a");
    ah_future_on_cancel(b, on_cancel_hook, "b");
    ah_future_cancel(a);
    ah_future_fulfil(b, 1);
    assert_string_equal(order, ""); /* hooks are continuations */
    assert_int_equal(ah_await_error(sim, a), UV_ECANCELED);
    assert_int_equal(ah_await_value(sim, b), 1);
    assert_string_equal(order, "a");
}

/* ---- a producer on the virtual schedule: settles after ms (a timer of its own) ---- */

typedef struct later {
    uv_timer_t timer;
    ah_future *f;
    int err;
    intptr_t value;
} later;

static later laters[8];
static int nlaters;

static void later_fire(uv_timer_t *t)
{
    later *l = (later *)t;
    ah_future_settle(l->f, l->err, l->value);
    uv_close((uv_handle_t *)t, close_cb);
}

static void later_cancelled(ah_future *f, void *ctx)
{
    later *l = ctx;
    (void)f;
    uv_close((uv_handle_t *)&l->timer, close_cb);
}

/* A future settled with (err, value) after ms; cancelling it stops its timer. */
static ah_future *settle_after(ah_sim *sim, uint64_t ms, int err, intptr_t value)
{
    later *l = &laters[nlaters++];

    l->f = ah_future_new(sim);
    l->err = err;
    l->value = value;
    uv_timer_init(uv_default_loop(), &l->timer);
    uv_timer_start(&l->timer, later_fire, ms, 0);
    ah_future_on_cancel(l->f, later_cancelled, l);
    return l->f;
}

static void all_fulfils_with_n(void **state)
{
    ah_sim *sim = *state;
    ah_future *fs[3];

    nlaters = 0;
    fs[0] = settle_after(sim, 30, 0, 1);
    fs[1] = settle_after(sim, 10, 0, 2);
    fs[2] = settle_after(sim, 20, 0, 3);
    assert_int_equal(ah_await_value(sim, ah_all(sim, fs, 3)), 3);
    ah_assert_now_ms(sim, 30);
    assert_int_equal(ah_future_value(fs[1]), 2);
    assert_int_equal(ah_await_value(sim, ah_all(sim, NULL, 0)), 0);
    /* Since libuv 1.45 the timer that settled the future ran last in its iteration: its close
     * callback waits for the next one, at the same instant. */
    ah_run_ready(sim);
}

static void all_rejects_with_the_first_error_and_cancels_the_others(void **state)
{
    ah_sim *sim = *state;
    ah_future *fs[3];

    nlaters = 0;
    fs[0] = settle_after(sim, 30, 0, 1);
    fs[1] = settle_after(sim, 10, UV_ECONNRESET, 0);
    fs[2] = settle_after(sim, 20, UV_EPIPE, 0);
    assert_int_equal(ah_await_error(sim, ah_all(sim, fs, 3)), UV_ECONNRESET);
    ah_assert_now_ms(sim, 10);
    ah_run_until_idle(sim); /* the cancelled inputs' timers close */
    ah_assert_now_ms(sim, 10);
    assert_int_equal(ah_future_state_of(fs[0]), AH_FUTURE_CANCELLED);
    assert_int_equal(ah_future_state_of(fs[2]), AH_FUTURE_CANCELLED);
}

static void cancelling_a_combinator_cancels_its_inputs(void **state)
{
    ah_sim *sim = *state;
    ah_future *fs[2], *all, *outer[1], *race;

    nlaters = 0;
    fs[0] = settle_after(sim, 30, 0, 1);
    fs[1] = settle_after(sim, 10, 0, 2);
    all = ah_all(sim, fs, 2);
    outer[0] = all;
    race = ah_race(sim, outer, 1);
    assert_int_equal(ah_future_cancel(race), 0);
    /* propagates down two levels at once */
    assert_int_equal(ah_future_state_of(all), AH_FUTURE_CANCELLED);
    assert_int_equal(ah_future_state_of(fs[0]), AH_FUTURE_CANCELLED);
    assert_int_equal(ah_future_state_of(fs[1]), AH_FUTURE_CANCELLED);
    assert_int_equal(ah_await_error(sim, race), UV_ECANCELED);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 0);

    /* a cancelled input cancels ah_all */
    nlaters = 0;
    fs[0] = settle_after(sim, 30, 0, 1);
    fs[1] = ah_future_new(sim);
    all = ah_all(sim, fs, 2);
    ah_future_cancel(fs[1]);
    assert_int_equal(ah_await(sim, all), AH_FUTURE_CANCELLED);
    ah_run_until_idle(sim);
    assert_int_equal(ah_future_state_of(fs[0]), AH_FUTURE_CANCELLED);
}

static void all_settled_waits_for_every_outcome(void **state)
{
    ah_sim *sim = *state;
    ah_future *fs[3];

    nlaters = 0;
    fs[0] = settle_after(sim, 30, 0, 1);
    fs[1] = settle_after(sim, 10, UV_ECONNRESET, 0);
    fs[2] = ah_future_new(sim);
    ah_future_cancel(fs[2]);
    assert_int_equal(ah_await_value(sim, ah_all_settled(sim, fs, 3)), 3);
    ah_assert_now_ms(sim, 30);
    assert_int_equal(ah_future_value(fs[0]), 1);
    assert_int_equal(ah_future_error(fs[1]), UV_ECONNRESET);
    assert_int_equal(ah_future_error(fs[2]), UV_ECANCELED);
    /* Since libuv 1.45 the timer that settled the future ran last in its iteration: its close
     * callback waits for the next one, at the same instant. */
    ah_run_ready(sim);
}

static void any_takes_the_first_success(void **state)
{
    ah_sim *sim = *state;
    ah_future *fs[3], *any;

    nlaters = 0;
    fs[0] = settle_after(sim, 5, UV_ECONNREFUSED, 0);
    fs[1] = settle_after(sim, 20, 0, 22);
    fs[2] = settle_after(sim, 40, 0, 44);
    any = ah_any(sim, fs, 3);
    assert_int_equal(ah_await_value(sim, any), 22);
    assert_int_equal(ah_future_winner(any), 1);
    ah_assert_now_ms(sim, 20);
    ah_run_until_idle(sim);
    assert_int_equal(ah_future_state_of(fs[2]), AH_FUTURE_CANCELLED);
    ah_assert_now_ms(sim, 20);

    nlaters = 0;
    fs[0] = settle_after(sim, 5, UV_ECONNREFUSED, 0);
    fs[1] = settle_after(sim, 8, UV_ETIMEDOUT, 0);
    any = ah_any(sim, fs, 2);
    assert_int_equal(ah_await_error(sim, any), UV_ETIMEDOUT); /* the last error */
    assert_int_equal(ah_future_winner(any), -1);
    assert_int_equal(ah_await_error(sim, ah_any(sim, NULL, 0)), UV_EINVAL);
    /* Since libuv 1.45 the timer that settled the future ran last in its iteration: its close
     * callback waits for the next one, at the same instant. */
    ah_run_ready(sim);
}

static void race_takes_the_first_outcome(void **state)
{
    ah_sim *sim = *state;
    ah_future *fs[2], *race;

    nlaters = 0;
    fs[0] = settle_after(sim, 15, 0, 1);
    fs[1] = settle_after(sim, 5, UV_EHOSTUNREACH, 0);
    race = ah_race(sim, fs, 2);
    assert_int_equal(ah_await_error(sim, race), UV_EHOSTUNREACH);
    assert_int_equal(ah_future_winner(race), 1);
    ah_assert_now_ms(sim, 5);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 5);
    assert_int_equal(ah_future_state_of(fs[0]), AH_FUTURE_CANCELLED);
}

static void with_timeout_rejects_at_exactly_now_plus_ms(void **state)
{
    ah_sim *sim = *state;
    ah_future *hang = ah_future_new(sim), *t;
    uv_timer_t pad;

    /* start the deadline at a non-zero instant */
    uv_timer_init(uv_default_loop(), &pad);
    uv_timer_start(&pad, noop_timer, 1234, 0);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 1234);
    t = ah_with_timeout(sim, hang, 5000);
    ah_assert_pending(t);
    assert_int_equal(ah_await_error(sim, t), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 1234 + 5000);
    assert_int_equal(ah_future_state_of(hang), AH_FUTURE_CANCELLED);
    uv_close((uv_handle_t *)&pad, close_cb);
    ah_run_until_idle(sim);
}

static void with_timeout_settles_as_the_future_when_in_time(void **state)
{
    ah_sim *sim = *state;
    ah_future *t;

    nlaters = 0;
    t = ah_with_timeout(sim, settle_after(sim, 300, 0, 7), 5000);
    assert_int_equal(ah_await_value(sim, t), 7);
    ah_assert_now_ms(sim, 300);
    /* the deadline is gone: nothing keeps the sim busy until +5300 */
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 300);

    t = ah_with_timeout(sim, settle_after(sim, 100, UV_EPROTO, 0), 50);
    assert_int_equal(ah_await_error(sim, t), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 350);
    ah_run_until_idle(sim); /* the cancelled producer closed its timer */
    ah_assert_now_ms(sim, 350);

    /* cancelling the result cancels the deadline and the input */
    {
        ah_future *in = ah_future_new(sim);
        t = ah_with_timeout(sim, in, 1000);
        ah_future_cancel(t);
        assert_int_equal(ah_future_state_of(in), AH_FUTURE_CANCELLED);
        assert_int_equal(ah_await_error(sim, t), UV_ECANCELED);
        ah_assert_now_ms(sim, 350);
    }
}

/* A deadline is the harness's, not a libuv handle: the user's own uv_run does not wait for it. */
static void with_timeout_does_not_keep_uv_run_alive(void **state)
{
    ah_sim *sim = *state;
    ah_future *t = ah_with_timeout(sim, ah_future_new(sim), 1000);

    assert_int_equal(uv_run(uv_default_loop(), UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_alive(uv_default_loop()), 0);
    ah_assert_now_ms(sim, 0);
    ah_assert_pending(t);
    assert_int_equal(ah_await_error(sim, t), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 1000);
    assert_int_equal(uv_loop_alive(uv_default_loop()), 0);
}

/* The poll of the iteration that settled the future does not wait for the next timer. */
static void await_stops_at_the_instant_the_future_settles(void **state)
{
    ah_sim *sim = *state;
    uv_timer_t t1, t2;
    ah_future *f = ah_future_new(sim);

    uv_timer_init(uv_default_loop(), &t1);
    uv_timer_init(uv_default_loop(), &t2);
    t1.data = f;
    uv_timer_start(&t1, fulfil_in_timer, 10, 0);
    uv_timer_start(&t2, noop_timer, 50, 0);
    order[0] = '\0';
    assert_int_equal(ah_await_value(sim, f), 1);
    ah_assert_now_ms(sim, 10);
    assert_true(uv_is_active((uv_handle_t *)&t2));
    uv_close((uv_handle_t *)&t1, close_cb);
    uv_close((uv_handle_t *)&t2, close_cb);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 10);
}

/* ---- adapters ---- */

static void work(uv_work_t *req) { (void)req; }

static void after_work_adapter_settles(void **state)
{
    ah_sim *sim = *state;
    uv_work_t w1, w2;
    ah_future *f1 = ah_future_new(sim), *f2 = ah_future_new(sim);

    w1.data = f1;
    w2.data = f2;
    assert_int_equal(uv_queue_work(uv_default_loop(), &w1, work, ah_after_work_cb), 0);
    assert_int_equal(uv_queue_work(uv_default_loop(), &w2, work, ah_after_work_cb), 0);
    assert_int_equal(uv_cancel((uv_req_t *)&w2), 0);
    assert_int_equal(ah_await_value(sim, f1), 0);
    assert_int_equal(ah_await_error(sim, f2), UV_ECANCELED);
}

/* Auto-advance never jumps past thread-pool work before it is due. */
static void await_does_not_jump_past_thread_pool_work(void **state)
{
    ah_sim *sim = *state;
    uv_work_t w;
    ah_future *f = ah_future_new(sim), *t;

    ah_threadpool_duration(sim, work, 700);
    w.data = f;
    assert_int_equal(uv_queue_work(uv_default_loop(), &w, work, ah_after_work_cb), 0);
    t = ah_with_timeout(sim, f, 5000);
    assert_int_equal(ah_await_value(sim, t), 0);
    ah_assert_now_ms(sim, 700);
}

/* A client API with the shape cb(obj, status, value, data). */
typedef struct client client;
typedef void (*get_cb)(client *c, int status, const char *value, void *data);
struct client {
    uv_timer_t timer;
    get_cb cb;
    void *data;
    int status;
};
static void client_reply(uv_timer_t *t)
{
    client *c = (client *)t;
    c->cb(c, c->status, c->status < 0 ? NULL : "bar", c->data);
}
static void client_get(client *c, int status, get_cb cb, void *data)
{
    c->cb = cb;
    c->data = data;
    c->status = status;
    uv_timer_start(&c->timer, client_reply, 40, 0);
}

static void resolve_status_adapter_settles(void **state)
{
    ah_sim *sim = *state;
    client c;
    ah_future *ok = ah_future_new(sim), *bad = ah_future_new(sim);

    uv_timer_init(uv_default_loop(), &c.timer);
    client_get(&c, 0, (get_cb)ah_resolve_status_cb, ok);
    assert_string_equal((const char *)ah_await_value(sim, ok), "bar");
    ah_assert_now_ms(sim, 40);
    client_get(&c, UV_ECONNRESET, (get_cb)ah_resolve_status_cb, bad);
    assert_int_equal(ah_await_error(sim, bad), UV_ECONNRESET);
    ah_assert_now_ms(sim, 80);
    uv_close((uv_handle_t *)&c.timer, close_cb);
    ah_run_until_idle(sim);
}

/* ---- await's failures (planted bugs and their twins) ---- */

static uv_timer_t ptimer;

static void fulfil_later(uv_timer_t *t) { ah_future_fulfil(t->data, 5); }

static void await_a_future_nobody_settles(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim); /* line reported by the deadlock */

    uv_timer_init(uv_default_loop(), &ptimer);
    ptimer.data = f;
    if (ctx != NULL)
        uv_timer_start(&ptimer, fulfil_later, 10, 0);
    assert_int_equal(ah_await_value(sim, f), 5);
    uv_close((uv_handle_t *)&ptimer, close_cb);
    ah_run_until_idle(sim);
}

static void await_deadlock_names_the_future_and_the_await(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, await_a_future_nobody_settles, NULL,
                         "deadlock: ah_await (test_future.c:");
    ah_assert_fails_with(NULL, await_a_future_nobody_settles, NULL,
                         "waits for the future created at test_future.c:");
    ah_assert_fails_with(NULL, await_a_future_nobody_settles, NULL, "uv_timer_t #1");
    ah_assert_fails_with(NULL, await_a_future_nobody_settles, NULL, ", awaited by ah_await at");
    ah_assert_passes(NULL, await_a_future_nobody_settles, (void *)1);
}

static void await_value_of_a_rejection(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim);

    ah_future_settle(f, ctx != NULL ? 0 : UV_ECONNREFUSED, 3);
    ah_await_value(sim, f);
}

static void await_value_fails_on_a_rejection(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, await_value_of_a_rejection, NULL,
                         "was rejected with ECONNREFUSED at +0 ms, not fulfilled");
    ah_assert_passes(NULL, await_value_of_a_rejection, (void *)1);
}

static void await_in_cb(uv_timer_t *t) { ah_await(ah_sim_current(), (ah_future *)t->data); }

static void await_from_a_callback(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim);

    (void)ctx;
    ah_future_fulfil(f, 1);
    uv_timer_init(uv_default_loop(), &ptimer);
    ptimer.data = f;
    uv_timer_start(&ptimer, await_in_cb, 10, 0);
    ah_run_until_idle(sim);
}

static void await_from_a_callback_is_refused(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, await_from_a_callback, NULL, "called from inside a loop callback");
}

/* A referenced handle that nothing can wake (an async handle never sent) does not hide the
 * deadlock: the report names it beside the future. */
static uv_async_t pasync;
static void async_settles(uv_async_t *a) { ah_future_fulfil(a->data, 1); }

static void await_with_an_idle_async_handle(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim);

    uv_async_init(uv_default_loop(), &pasync, async_settles);
    pasync.data = f;
    if (ctx != NULL)
        uv_async_send(&pasync);
    ah_await(sim, f);
    uv_close((uv_handle_t *)&pasync, close_cb);
    ah_run_until_idle(sim);
}

static void await_deadlock_lists_open_handles(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, await_with_an_idle_async_handle, NULL, "- uv_async_t #1 (");
    ah_assert_fails_with(NULL, await_with_an_idle_async_handle, NULL,
                         "initialised in await_with_an_idle_async_handle (test_future.c:");
    ah_assert_passes(NULL, await_with_an_idle_async_handle, (void *)1);
}

/* ah_await follows libuv's alive rule: an unreferenced timer does not keep it waiting. */
static void await_an_unreferenced_timer(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim);

    uv_timer_init(uv_default_loop(), &ptimer);
    ptimer.data = f;
    uv_timer_start(&ptimer, fulfil_later, 10, 0);
    uv_unref((uv_handle_t *)&ptimer);
    if (ctx != NULL)
        ah_advance(sim, 10); /* the verb that runs unreferenced timers */
    assert_int_equal(ah_await_value(sim, f), 5);
    ah_assert_now_ms(sim, 10);
    uv_close((uv_handle_t *)&ptimer, close_cb);
    ah_run_until_idle(sim);
}

static void await_does_not_wait_for_unreferenced_timers(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, await_an_unreferenced_timer, NULL, "deadlock: ah_await");
    ah_assert_fails_with(NULL, await_an_unreferenced_timer, NULL, "active, unreferenced");
    ah_assert_passes(NULL, await_an_unreferenced_timer, (void *)1);
}

static void assert_pending_of_a_settled(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim);

    ah_future_detach(f);
    if (ctx == NULL)
        ah_future_reject(f, UV_ENOTCONN);
    ah_assert_pending(f);
    ah_future_fulfil(f, 2);
    ah_assert_settled(f);
}

static void assert_settled_of_a_pending(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim);

    (void)ctx;
    ah_future_detach(f);
    ah_assert_settled(f);
}

static void pending_and_settled_assertions_fail_with_the_site(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, assert_pending_of_a_settled, NULL,
                         "ah_assert_pending (test_future.c:");
    ah_assert_fails_with(NULL, assert_pending_of_a_settled, NULL,
                         "is rejected with ENOTCONN at +0 ms, expected pending");
    ah_assert_passes(NULL, assert_pending_of_a_settled, (void *)1);
    ah_assert_fails_with(NULL, assert_settled_of_a_pending, NULL,
                         "the future created at test_future.c:");
    ah_assert_fails_with(NULL, assert_settled_of_a_pending, NULL, "is still pending at +0 ms");
}

static void continuations_run_in_the_order_they_were_chained(void **state)
{
    ah_sim *sim = *state;
    ah_future *f = ah_future_new(sim);

    order[0] = '\0';
    ah_future_then(f, on_settled, "a");
    ah_future_then(f, on_settled, "b");
    ah_future_then(f, on_settled, "c");
    ah_future_fulfil(f, 0);
    ah_run_ready(sim);
    assert_string_equal(order, "abc");
}

/* The never-awaited check: the C counterpart of "coroutine was never awaited". */
static void forget_a_future(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim);
    ah_future *g = ah_future_new(sim);

    ah_future_fulfil(f, 1);
    ah_future_reject(g, UV_EPIPE);
    if (ctx != NULL) {
        ah_await(sim, f);
        ah_future_detach(g);
    }
}

static void never_awaited_future_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, forget_a_future, NULL,
                         "never awaited: future created at test_future.c:");
    ah_assert_fails_with(NULL, forget_a_future, NULL, "fulfilled with 1 at +0 ms");
    ah_assert_fails_with(NULL, forget_a_future, NULL, "rejected with EPIPE at +0 ms");
    ah_assert_passes(NULL, forget_a_future, (void *)1);
}

/* An awaited-by-nobody future still pending at the end is an operation pending. */
static void chain_and_leave_pending(ah_sim *sim, void *ctx)
{
    ah_future *f = ah_future_new(sim);

    ah_future_then(f, on_settled, "x");
    if (ctx != NULL)
        ah_future_fulfil(f, 1);
    ah_run_until_idle(sim);
}

static void pending_future_at_the_end_is_reported(void **state)
{
    (void)state;
    order[0] = '\0';
    ah_assert_fails_with(
        NULL, chain_and_leave_pending, NULL,
        "the test ended with 1 operation pending:\n    - future created at test_future.c:");
    ah_assert_passes(NULL, chain_and_leave_pending, (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(state_transitions),
        ah_unit_test(owned_values_are_freed_with_the_sim),
        ah_unit_test(continuations_run_after_the_callback_at_the_same_instant),
        ah_unit_test(on_cancel_runs_only_when_cancelled),
        ah_unit_test(all_fulfils_with_n),
        ah_unit_test(all_rejects_with_the_first_error_and_cancels_the_others),
        ah_unit_test(cancelling_a_combinator_cancels_its_inputs),
        ah_unit_test(all_settled_waits_for_every_outcome),
        ah_unit_test(any_takes_the_first_success),
        ah_unit_test(race_takes_the_first_outcome),
        ah_unit_test(with_timeout_rejects_at_exactly_now_plus_ms),
        ah_unit_test(with_timeout_settles_as_the_future_when_in_time),
        ah_unit_test(with_timeout_does_not_keep_uv_run_alive),
        ah_unit_test(await_stops_at_the_instant_the_future_settles),
        ah_unit_test(after_work_adapter_settles),
        ah_unit_test(await_does_not_jump_past_thread_pool_work),
        ah_unit_test(resolve_status_adapter_settles),
        ah_unit_test(await_deadlock_names_the_future_and_the_await),
        ah_unit_test(await_value_fails_on_a_rejection),
        ah_unit_test(await_from_a_callback_is_refused),
        ah_unit_test(await_deadlock_lists_open_handles),
        ah_unit_test(await_does_not_wait_for_unreferenced_timers),
        ah_unit_test(pending_and_settled_assertions_fail_with_the_site),
        ah_unit_test(continuations_run_in_the_order_they_were_chained),
        ah_unit_test(never_awaited_future_is_reported),
        ah_unit_test(pending_future_at_the_end_is_reported),
    };
    return ah_run_tests(tests);
}
