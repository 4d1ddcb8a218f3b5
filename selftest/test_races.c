/* Planted races: five classic libuv race conditions, each a small plain-libuv program talking to
 * scripted peers whose replies are jittered by the fake network. The explorer must find each one
 * within 1,000 schedules, the failing seed must replay the same timeline (same trace hash), and
 * each correct twin must pass every schedule. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* ---- a line client: connect, send lines, receive lines ---- */

typedef struct lc lc;
typedef void (*lc_connect_fn)(lc *c);
typedef void (*lc_line_fn)(lc *c, const char *line);

struct lc {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq[4];
    unsigned nw;
    char in[256];
    size_t nin;
    char rbuf[256];
    lc_connect_fn on_connect;
    lc_line_fn on_line;
    const char *name;
};

static void lc_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    lc *c = h->data;
    (void)size;
    *buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void lc_close(lc *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, NULL);
}

static void lc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    lc *c = s->data;
    char line[128];
    char *nl;

    if (n < 0) {
        lc_close(c);
        return;
    }
    if ((size_t)n > sizeof(c->in) - c->nin)
        n = (ssize_t)(sizeof(c->in) - c->nin);
    memcpy(c->in + c->nin, buf->base, (size_t)n);
    c->nin += (size_t)n;
    while (!uv_is_closing((uv_handle_t *)&c->tcp) && (nl = memchr(c->in, '\n', c->nin)) != NULL) {
        size_t len = (size_t)(nl - c->in);
        snprintf(line, sizeof(line), "%.*s", (int)len, c->in);
        memmove(c->in, nl + 1, c->nin - len - 1);
        c->nin -= len + 1;
        c->on_line(c, line);
    }
}

static void lc_connected(uv_connect_t *req, int status)
{
    lc *c = req->handle->data;

    if (status == UV_ECANCELED)
        return; /* closed while connecting */
    assert_int_equal(status, 0);
    assert_int_equal(uv_read_start(req->handle, lc_alloc, lc_read), 0);
    c->on_connect(c);
}

static void lc_start(lc *c, const char *name, int port, lc_connect_fn on_connect,
                     lc_line_fn on_line)
{
    struct sockaddr_in a;

    memset(c, 0, sizeof(*c));
    c->name = name;
    c->on_connect = on_connect;
    c->on_line = on_line;
    uv_tcp_init(uv_default_loop(), &c->tcp);
    c->tcp.data = c;
    uv_ip4_addr("127.0.0.1", port, &a);
    assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&a, lc_connected),
                     0);
}

static void lc_send(lc *c, const char *s, uv_write_cb cb)
{
    uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
    uv_write_t *w = &c->wreq[c->nw++ % 4];

    w->data = c;
    assert_int_equal(uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, cb), 0);
}

static void lc_written(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
}

static void timer_close(uv_timer_t *t)
{
    if (!uv_is_closing((uv_handle_t *)t))
        uv_close((uv_handle_t *)t, NULL);
}

static ah_peer *peer(ah_sim *sim, const char *addr, uint64_t lat_min, uint64_t lat_max)
{
    ah_peer *p = ah_net_listen(sim, addr);
    ah_net_latency(sim, addr, lat_min, lat_max);
    return p;
}

static int bug; /* which variant runs: the planted bug (1) or its correct twin (0) */

/* ---- 1. check-then-act across a callback: two readers refill one cache ---- */

static struct {
    lc c;
    uv_timer_t second;
    int valid, loading;
    unsigned waiting; /* bit per requester waiting for the refill */
} cta;

static void cta_serve(unsigned who)
{
    ah_fired(ah_sim_current(), who == 1 ? "requester 1" : "requester 2");
}

static void cta_get(unsigned who)
{
    ah_sim *sim = ah_sim_current();

    if (cta.valid) {
        cta_serve(who);
        return;
    }
    if (!bug && cta.loading) { /* the fix: join the refill in flight */
        cta.waiting |= who;
        return;
    }
    /* planted: checks `valid`, then starts a refill that completes callbacks later */
    ah_exclusive_enter(sim, "cache refill");
    cta.loading = 1;
    cta.waiting |= who;
    lc_send(&cta.c, "GET\n", lc_written);
}

static void cta_line(lc *c, const char *line)
{
    (void)line;
    cta.valid = 1;
    cta.loading = 0;
    ah_exclusive_leave(ah_sim_current(), "cache refill");
    if (cta.waiting & 1)
        cta_serve(1);
    if (cta.waiting & 2)
        cta_serve(2);
    cta.waiting = 0;
    lc_close(c);
}

static void cta_second(uv_timer_t *t)
{
    cta_get(2);
    timer_close(t);
}

static void cta_connected(lc *c)
{
    (void)c;
    cta_get(1);
    uv_timer_start(&cta.second, cta_second, 15, 0);
}

static void check_then_act(ah_sim *sim, void *ctx)
{
    ah_peer *p = peer(sim, "127.0.0.1:7201", 1, 10);

    (void)ctx;
    memset(&cta, 0, sizeof(cta));
    ah_peer_expect(p, "GET\n");
    ah_peer_reply(p, "v\n");
    ah_expect_once(sim, "requester 1");
    ah_expect_once(sim, "requester 2");
    uv_timer_init(uv_default_loop(), &cta.second);
    lc_start(&cta.c, "cache", 7201, cta_connected, cta_line);
    ah_run_until_idle(sim);
}

/* ---- 2. a reply that arrives after its request timed out goes to the next request ---- */

static struct {
    lc c;
    uv_timer_t timeout;
    const char *fifo[4]; /* requests waiting for a reply, oldest first */
    unsigned head, tail;
    unsigned skip; /* the fix: replies still owed to timed-out requests */
} rat;

static void rat_send(const char *name, const char *line)
{
    rat.fifo[rat.tail++ % 4] = name;
    lc_send(&rat.c, line, lc_written);
}

static void rat_timeout(uv_timer_t *t)
{
    (void)t;
    ah_fired(ah_sim_current(), "a cb"); /* a fails with ETIMEDOUT */
    rat.head++;                         /* a leaves the queue... */
    if (!bug)
        rat.skip++; /* ...but its reply may still come: the fix keeps a placeholder */
    rat_send("b", "GET b\n");
}

static void rat_line(lc *c, const char *line)
{
    const char *who;

    if (rat.skip > 0) {
        rat.skip--;
        return;
    }
    assert_true(rat.head != rat.tail);
    who = rat.fifo[rat.head++ % 4];
    if (strcmp(who, line) != 0)
        ah_fail(ah_sim_current(), "race: request %s got the reply \"%s\" meant for another request",
                who, line);
    if (strcmp(who, "a") == 0) {
        uv_timer_stop(&rat.timeout);
        ah_fired(ah_sim_current(), "a cb");
        rat_send("b", "GET b\n");
    } else {
        ah_fired(ah_sim_current(), "b cb");
        timer_close(&rat.timeout);
        lc_close(c);
    }
}

static void rat_connected(lc *c)
{
    (void)c;
    rat_send("a", "GET a\n");
    uv_timer_start(&rat.timeout, rat_timeout, 10, 0);
}

static void reply_after_timeout(ah_sim *sim, void *ctx)
{
    ah_peer *p = peer(sim, "127.0.0.1:7202", 1, 8);

    (void)ctx;
    memset(&rat, 0, sizeof(rat));
    ah_peer_expect(p, "GET a\n");
    ah_peer_reply(p, "a\n");
    ah_peer_expect(p, "GET b\n");
    ah_peer_reply(p, "b\n");
    ah_expect_once(sim, "a cb");
    ah_expect_once(sim, "b cb");
    uv_timer_init(uv_default_loop(), &rat.timeout);
    lc_start(&rat.c, "kv", 7202, rat_connected, rat_line);
    ah_run_until_idle(sim);
}

/* ---- 3. the timeout and the reply race: the callback runs twice ---- */

static struct {
    lc c;
    uv_timer_t timeout;
    int done;
} dbl;

static void dbl_timeout(uv_timer_t *t)
{
    (void)t;
    dbl.done = 1;
    ah_fired(ah_sim_current(), "get cb"); /* with UV_ETIMEDOUT */
}

static void dbl_line(lc *c, const char *line)
{
    (void)line;
    if (bug || !dbl.done) { /* planted: no check that the timeout already answered */
        dbl.done = 1;
        uv_timer_stop(&dbl.timeout);
        ah_fired(ah_sim_current(), "get cb");
    }
    timer_close(&dbl.timeout);
    lc_close(c);
}

static void dbl_connected(lc *c)
{
    lc_send(c, "GET x\n", lc_written);
    uv_timer_start(&dbl.timeout, dbl_timeout, 10, 0);
}

static void double_callback(ah_sim *sim, void *ctx)
{
    ah_peer *p = peer(sim, "127.0.0.1:7203", 1, 8);

    (void)ctx;
    memset(&dbl, 0, sizeof(dbl));
    ah_peer_expect(p, "GET x\n");
    ah_peer_reply(p, "x\n");
    ah_expect_once(sim, "get cb");
    uv_timer_init(uv_default_loop(), &dbl.timeout);
    lc_start(&dbl.c, "get", 7203, dbl_connected, dbl_line);
    ah_run_until_idle(sim);
}

/* ---- 4. a write callback races the close of its connection ---- */

static struct {
    lc data, ctl;
    const char *next; /* the command to pipeline once the previous write is done */
} uac;

static void uac_written(uv_write_t *w, int status)
{
    lc *c = w->data;
    const char *line = uac.next;
    uv_buf_t b;

    if (status < 0 || line == NULL)
        return;
    uac.next = NULL;
    /* The write completed (status 0), but a callback in between may have closed the connection:
     * libuv still reports the completed write before the close callback. */
    if (!bug && uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    b = uv_buf_init((char *)line, (unsigned)strlen(line));
    if (uv_write(&c->wreq[c->nw++ % 4], (uv_stream_t *)&c->tcp, &b, 1, uac_written) < 0)
        uv_close((uv_handle_t *)&c->tcp, NULL); /* planted: uses (closes) a closed stream */
}

static void uac_data_line(lc *c, const char *line)
{
    (void)line;
    uac.next = "req3\n";
    lc_send(c, "req2\n", uac_written); /* the reply to req1 arrived: pipeline the next two */
}

static void uac_ctl_line(lc *c, const char *line);
static void uac_ctl_connected(lc *c);

static void uac_data_connected(lc *c)
{
    lc_send(c, "req1\n", uac_written);
    /* the control channel opens once the data connection is up */
    lc_start(&uac.ctl, "control", 7205, uac_ctl_connected, uac_ctl_line);
}

static void uac_ctl_line(lc *c, const char *line)
{
    (void)line;
    /* the control channel says the data connection is done: close it */
    lc_close(&uac.data);
    lc_close(c);
}

static void uac_ctl_connected(lc *c) { lc_send(c, "hello\n", lc_written); }

static void use_after_close(ah_sim *sim, void *ctx)
{
    ah_peer *d = peer(sim, "127.0.0.1:7204", 1, 3);
    ah_peer *k = peer(sim, "127.0.0.1:7205", 1, 1);

    (void)ctx;
    memset(&uac, 0, sizeof(uac));
    ah_peer_expect(d, "req1\n");
    ah_peer_reply(d, "ok\n");
    ah_peer_stall(d); /* takes req2, if it comes, and never answers */
    ah_peer_expect(k, "hello\n");
    ah_peer_reply(k, "bye\n");
    lc_start(&uac.data, "data", 7204, uac_data_connected, uac_data_line);
    ah_run_until_idle(sim);
}

/* ---- 5. lost wake-up: uv_async_send coalesces, one item per wake-up loses one ---- */

static struct {
    lc a, b;
    uv_async_t wake;
    const char *queue[4];
    unsigned head, tail, done;
} lw;

static void lw_process(void)
{
    const char *item = lw.queue[lw.head++ % 4];
    ah_fired(ah_sim_current(), item);
    if (++lw.done == 2)
        uv_close((uv_handle_t *)&lw.wake, NULL);
}

static void lw_wake(uv_async_t *h)
{
    (void)h;
    if (bug) {
        lw_process(); /* planted: one item per wake-up, but wake-ups coalesce */
        return;
    }
    while (lw.head != lw.tail)
        lw_process();
}

static void lw_line(lc *c, const char *line)
{
    (void)line;
    lw.queue[lw.tail++ % 4] = c->name;
    uv_async_send(&lw.wake); /* as a producer thread would */
    lc_close(c);
}

static void lw_connected(lc *c) { lc_send(c, "sub\n", lc_written); }

static void lost_wakeup(ah_sim *sim, void *ctx)
{
    ah_peer *a = peer(sim, "127.0.0.1:7206", 1, 4);
    ah_peer *b = peer(sim, "127.0.0.1:7207", 2, 4); /* apart unless jitter brings them together */

    (void)ctx;
    memset(&lw, 0, sizeof(lw));
    ah_peer_expect(a, "sub\n");
    ah_peer_reply(a, "item\n");
    ah_peer_expect(b, "sub\n");
    ah_peer_reply(b, "item\n");
    ah_expect_once(sim, "item a");
    ah_expect_once(sim, "item b");
    uv_async_init(uv_default_loop(), &lw.wake, lw_wake);
    lc_start(&lw.a, "item a", 7206, lw_connected, lw_line);
    lc_start(&lw.b, "item b", 7207, lw_connected, lw_line);
    ah_run_until_idle(sim);
}

/* ---- the checks ---- */

static void found_and_replays(const char *name, ah_body_fn body, ah_strategy strategy,
                              const char *needle)
{
    ah_explore_opts o;
    ah_explore_result r, again;

    memset(&o, 0, sizeof(o));
    o.name = name;
    o.strategy = strategy;
    o.schedules = 1000;
    o.ignore_env = 1;
    o.no_trace_file = strategy != AH_STRATEGY_RANDOM;
    o.trace_path = "race-trace";
    bug = 1;
    assert_int_equal(ah_explore_run(&o, body, NULL, &r), 1);
    fprintf(stderr, "%s: %s finds it at schedule %llu (seed %llu)\n%s", name,
            strategy == AH_STRATEGY_PCT ? "pct(3)" : "random",
            (unsigned long long)r.failing_schedule, (unsigned long long)r.seed, r.message);
    if (strstr(r.message, needle) == NULL)
        fail_msg("the report should contain \"%s\"", needle);
    assert_true(r.failing_schedule <= 1000);
    /* the seed replays the same timeline */
    o.seed_start = r.seed;
    o.schedules = 1;
    o.no_shrink = 1;
    o.no_trace_file = 1;
    assert_int_equal(ah_explore_run(&o, body, NULL, &again), 1);
    assert_int_equal(again.trace_hash, r.trace_hash);
    ah_explore_result_free(&again);
    ah_explore_result_free(&r);
}

static void twin_passes(ah_body_fn body)
{
    ah_explore_opts o;
    ah_explore_result r;

    memset(&o, 0, sizeof(o));
    o.strategy = AH_STRATEGY_RANDOM;
    o.schedules = 1000;
    o.ignore_env = 1;
    bug = 0;
    if (ah_explore_run(&o, body, NULL, &r))
        fail_msg("the correct twin failed:\n%s", r.message);
    o.strategy = AH_STRATEGY_PCT;
    o.schedules = 300;
    if (ah_explore_run(&o, body, NULL, &r))
        fail_msg("the correct twin failed under PCT:\n%s", r.message);
}

static void race_check_then_act(void **state)
{
    (void)state;
    found_and_replays("check_then_act", check_then_act, AH_STRATEGY_RANDOM,
                      "two flows interleave inside exclusive section \"cache refill\"");
    found_and_replays("check_then_act", check_then_act, AH_STRATEGY_PCT, "cache refill");
    twin_passes(check_then_act);
}

static void race_reply_after_timeout(void **state)
{
    (void)state;
    found_and_replays("reply_after_timeout", reply_after_timeout, AH_STRATEGY_RANDOM,
                      "race: request b got the reply \"a\" meant for another request");
    found_and_replays("reply_after_timeout", reply_after_timeout, AH_STRATEGY_PCT, "request b");
    twin_passes(reply_after_timeout);
}

static void race_double_callback(void **state)
{
    (void)state;
    found_and_replays("double_callback", double_callback, AH_STRATEGY_RANDOM,
                      "callback \"get cb\" fired twice");
    found_and_replays("double_callback", double_callback, AH_STRATEGY_PCT, "fired twice");
    twin_passes(double_callback);
}

static void race_use_after_close(void **state)
{
    (void)state;
    found_and_replays("use_after_close", use_after_close, AH_STRATEGY_RANDOM,
                      "uv_close called twice on uv_tcp_t #1");
    found_and_replays("use_after_close", use_after_close, AH_STRATEGY_PCT, "uv_close called twice");
    twin_passes(use_after_close);
}

static void race_lost_wakeup(void **state)
{
    (void)state;
    found_and_replays("lost_wakeup", lost_wakeup, AH_STRATEGY_RANDOM, "never fired");
    found_and_replays("lost_wakeup", lost_wakeup, AH_STRATEGY_PCT, "never fired");
    twin_passes(lost_wakeup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(race_check_then_act),  cmocka_unit_test(race_reply_after_timeout),
        cmocka_unit_test(race_double_callback), cmocka_unit_test(race_use_after_close),
        cmocka_unit_test(race_lost_wakeup),
    };
    return ah_run_tests(tests);
}
