/* Sweeps and exploration on real code: the kvclient (examples/kvclient, compiled unchanged against
 * the harness) pipelines three GETs to a small plain-libuv server in the sim; a cancellation,
 * a reset of every connection, and a command timeout are injected after every step, and every
 * command's callback and the close callback must fire exactly once, with teardown clean. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kvclient.h"

/* ---- the server: answers "GET kN" with "vN", for any number of connections ---- */

#define CMD_LEN 21 /* "*2\r\n$3\r\nGET\r\n$2\r\nkN\r\n" */

typedef struct sconn {
    uv_tcp_t tcp;
    char in[256];
    size_t nin;
    char rbuf[256];
    uv_write_t w[16];
    char out[16][16];
    unsigned nw;
    int used;
} sconn;

static struct {
    uv_tcp_t listener;
    sconn conns[8];
} srv;

static void s_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    sconn *c = h->data;
    (void)size;
    *buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void s_written(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
}

static void s_close(sconn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, NULL);
}

static void s_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    sconn *c = s->data;

    if (n < 0) {
        s_close(c);
        return;
    }
    if ((size_t)n > sizeof(c->in) - c->nin)
        n = (ssize_t)(sizeof(c->in) - c->nin);
    memcpy(c->in + c->nin, buf->base, (size_t)n);
    c->nin += (size_t)n;
    while (c->nin >= CMD_LEN) {
        unsigned i = c->nw++ % 16;
        uv_buf_t b;
        snprintf(c->out[i], sizeof(c->out[i]), "$2\r\nv%c\r\n", c->in[18]);
        b = uv_buf_init(c->out[i], (unsigned)strlen(c->out[i]));
        memmove(c->in, c->in + CMD_LEN, c->nin - CMD_LEN);
        c->nin -= CMD_LEN;
        if (uv_write(&c->w[i], s, &b, 1, s_written) < 0) {
            s_close(c);
            return;
        }
    }
}

static void s_connection(uv_stream_t *l, int status)
{
    unsigned i;

    if (status < 0)
        return;
    for (i = 0; i < 8 && srv.conns[i].used; i++)
        ;
    assert_true(i < 8);
    memset(&srv.conns[i], 0, sizeof(srv.conns[i]));
    srv.conns[i].used = 1;
    uv_tcp_init(l->loop, &srv.conns[i].tcp);
    srv.conns[i].tcp.data = &srv.conns[i];
    assert_int_equal(uv_accept(l, (uv_stream_t *)&srv.conns[i].tcp), 0);
    uv_read_start((uv_stream_t *)&srv.conns[i].tcp, s_alloc, s_read);
}

static void server_start(void)
{
    struct sockaddr_in a;

    memset(&srv, 0, sizeof(srv));
    uv_tcp_init(uv_default_loop(), &srv.listener);
    uv_ip4_addr("127.0.0.1", 6390, &a);
    assert_int_equal(uv_tcp_bind(&srv.listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv.listener, 8, s_connection), 0);
}

static void server_stop(void)
{
    unsigned i;

    uv_close((uv_handle_t *)&srv.listener, NULL);
    for (i = 0; i < 8; i++)
        if (srv.conns[i].used)
            s_close(&srv.conns[i]);
}

/* ---- the scenario ---- */

#define NCMD 3

typedef struct scenario {
    ah_sim *sim;
    kv_client *c;
    kv_req *req[NCMD];
    int done[NCMD];
    int status[NCMD];
    int issued[NCMD];
    unsigned ndone;
    char wrong[160]; /* the first wrong reply */
} scenario;

static scenario sc;
static const char *const cb_names[NCMD] = {"GET k0", "GET k1", "GET k2"};

static void got(kv_req *req, int status, const kv_reply *reply, void *data);

static void issue(unsigned i)
{
    char key[8];

    snprintf(key, sizeof(key), "k%u", i);
    sc.issued[i] = 1;
    sc.req[i] = kv_get(sc.c, key, got, (void *)(uintptr_t)i);
    assert_non_null(sc.req[i]);
}

static void got(kv_req *req, int status, const kv_reply *reply, void *data)
{
    unsigned i = (unsigned)(uintptr_t)data;
    char want[8];

    (void)req;
    ah_fired(sc.sim, cb_names[i]);
    sc.done[i] = 1;
    sc.status[i] = status;
    sc.req[i] = NULL; /* freed when this returns */
    sc.ndone++;
    if (status == 0) {
        snprintf(want, sizeof(want), "v%u", i);
        assert_non_null(reply);
        /* Reported after the client is closed, so a failing run still frees the client. */
        if ((reply->str == NULL || strcmp(reply->str, want) != 0) && sc.wrong[0] == '\0')
            snprintf(sc.wrong, sizeof(sc.wrong), "%s got \"%s\", expected \"%s\" (at +%llu ms)",
                     cb_names[i], reply->str ? reply->str : "(not a string)", want,
                     (unsigned long long)ah_now_ms(sc.sim));
    } else {
        assert_null(reply);
    }
    if (i == 0 && !sc.issued[2]) /* the third command is pipelined once the first is answered */
        issue(2);
}

static void closed(kv_client *c, void *data)
{
    (void)c;
    (void)data;
    ah_fired(sc.sim, "kv_close cb");
    sc.c = NULL;
    server_stop();
}

static int all_done(void *ctx)
{
    (void)ctx;
    return sc.ndone == NCMD;
}

static void kv_body(ah_sim *sim, void *ctx)
{
    unsigned i;

    (void)ctx;
    memset(&sc, 0, sizeof(sc));
    sc.sim = sim;
    server_start();
    ah_net_latency(sim, "127.0.0.1:6390", 1, 3);
    ah_expect_once(sim, "kv_close cb");
    sc.c = kv_new(uv_default_loop(), "127.0.0.1", 6390,
                  &(kv_opts){.timeout_ms = 50, .max_retries = KV_NO_RETRIES});
    assert_non_null(sc.c);
    for (i = 0; i < NCMD; i++)
        ah_expect_once(sim, cb_names[i]);
    issue(0);
    issue(1);
    ah_run_until(sim, all_done, NULL);
    kv_close(sc.c, closed, NULL);
    ah_run_until_idle(sim);
    if (sc.wrong[0] != '\0')
        ah_fail(sim, "%s", sc.wrong);
}

/* The cancellation: every command whose callback has not run yet. */
static void cancel_all(ah_sim *sim, void *ctx, int arg)
{
    unsigned i;
    int rc;

    (void)sim;
    (void)ctx;
    (void)arg;
    for (i = 0; i < NCMD; i++)
        if (sc.req[i] != NULL && !sc.done[i]) {
            rc = kv_cancel(sc.req[i]);
            if (rc != 0 && rc != UV_EALREADY)
                ah_fail(sc.sim, "kv_cancel(%s) returned %s", cb_names[i], uv_err_name(rc));
        }
}

/* The client closed in the middle: every callback must still fire once, then the close cb. */
static int close_called;

static void close_now(ah_sim *sim, void *ctx, int arg)
{
    (void)sim;
    (void)ctx;
    (void)arg;
    if (sc.c != NULL && !close_called && sc.ndone < NCMD) {
        close_called = 1;
        kv_close(sc.c, closed, NULL);
    }
}

static void kv_body_close(ah_sim *sim, void *ctx)
{
    unsigned i;

    (void)ctx;
    memset(&sc, 0, sizeof(sc));
    close_called = 0;
    sc.sim = sim;
    server_start();
    ah_net_latency(sim, "127.0.0.1:6390", 1, 3);
    ah_expect_once(sim, "kv_close cb");
    sc.c = kv_new(uv_default_loop(), "127.0.0.1", 6390,
                  &(kv_opts){.timeout_ms = 50, .max_retries = KV_NO_RETRIES});
    for (i = 0; i < NCMD; i++)
        ah_expect_once(sim, cb_names[i]);
    issue(0);
    issue(1);
    ah_run_until(sim, all_done, NULL);
    if (!close_called)
        kv_close(sc.c, closed, NULL);
    ah_run_until_idle(sim);
    if (sc.wrong[0] != '\0')
        ah_fail(sim, "%s", sc.wrong);
}

static void kvclient_cancel_sweep(void **state)
{
    ah_sweep_result r;
    ah_sweep_opts o;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "kvclient_cancel_sweep";
    if (ah_sweep_run(&o, kv_body, (ah_fault){"kv_cancel of every pending command", cancel_all, 0},
                     NULL, &r))
        fail_msg("%s", r.message);
    fprintf(stderr, "kvclient cancel sweep: %llu steps, %llu injected runs passed\n",
            (unsigned long long)r.steps, (unsigned long long)r.runs);
    assert_true(r.steps >= 8);
}

static void kvclient_close_sweep(void **state)
{
    ah_sweep_result r;
    ah_sweep_opts o;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "kvclient_close_sweep";
    if (ah_sweep_run(&o, kv_body_close, (ah_fault){"kv_close", close_now, 0}, NULL, &r))
        fail_msg("%s", r.message);
    fprintf(stderr, "kvclient close sweep: %llu steps, %llu injected runs passed\n",
            (unsigned long long)r.steps, (unsigned long long)r.runs);
}

static void kvclient_reset_sweep(void **state)
{
    ah_sweep_result r;
    ah_sweep_opts o;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "kvclient_reset_sweep";
    if (ah_sweep_run(&o, kv_body, AH_FAULT_NET_RESET, NULL, &r))
        fail_msg("%s", r.message);
    fprintf(stderr, "kvclient reset sweep: %llu steps, %llu injected runs passed\n",
            (unsigned long long)r.steps, (unsigned long long)r.runs);
}

/* A timeout injected at step k: the network holds every byte for 80 ms (the commands' timeout is
 * 50 ms), then lets them through, so replies come after their commands timed out. The client
 * must discard them (its placeholders); built with KV_PLANTED_BUG it hands a late reply to the
 * next command, and the sweep must catch it. */
static uv_timer_t release_timer;

static void release_cb(uv_timer_t *t)
{
    ah_net_release(sc.sim, "127.0.0.1:6390");
    uv_close((uv_handle_t *)t, NULL);
}

static void stall_network(ah_sim *sim, void *ctx, int arg)
{
    (void)ctx;
    if (sc.ndone == NCMD)
        return;
    ah_net_hold(sim, "127.0.0.1:6390");
    uv_timer_init(uv_default_loop(), &release_timer);
    uv_timer_start(&release_timer, release_cb, (uint64_t)arg, 0);
}

static void kvclient_timeout_sweep(void **state)
{
    ah_sweep_result r;
    ah_sweep_opts o;
    int failed;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "kvclient_timeout_sweep";
    o.ignore_env = 1;
    failed =
        ah_sweep_run(&o, kv_body, (ah_fault){"80 ms network stall", stall_network, 80}, NULL, &r);
#ifdef KV_PLANTED_BUG
    assert_int_equal(failed, 1);
    fprintf(stderr, "planted kvclient bug caught:\n%s\n", r.message);
    assert_non_null(strstr(r.message, "80 ms network stall injected after step"));
    assert_non_null(strstr(r.message, "got \"v"));
    ah_sweep_result_free(&r);
#else
    if (failed)
        fail_msg("%s", r.message);
    fprintf(stderr, "kvclient timeout sweep: %llu steps, %llu injected runs passed\n",
            (unsigned long long)r.steps, (unsigned long long)r.runs);
#endif
}

/* And the same scenario under the explorer: every ordering of same-instant events and every
 * latency in 1..3 ms keeps the replies matched to their commands. */
static void kvclient_explored(void **state)
{
    ah_explore_opts o;
    ah_explore_result r;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "kvclient_explored";
    o.schedules = 300;
    o.strategy = AH_STRATEGY_RANDOM;
    if (ah_explore_run(&o, kv_body, NULL, &r))
        fail_msg("%s", r.message);
    o.strategy = AH_STRATEGY_PCT;
    if (ah_explore_run(&o, kv_body, NULL, &r))
        fail_msg("%s", r.message);
}

int main(void)
{
#ifdef KV_PLANTED_BUG
    const struct CMUnitTest planted[] = {cmocka_unit_test(kvclient_timeout_sweep)};
    return ah_run_tests(planted);
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kvclient_cancel_sweep), cmocka_unit_test(kvclient_close_sweep),
        cmocka_unit_test(kvclient_reset_sweep),  cmocka_unit_test(kvclient_timeout_sweep),
        cmocka_unit_test(kvclient_explored),
    };
    return ah_run_tests(tests);
}
