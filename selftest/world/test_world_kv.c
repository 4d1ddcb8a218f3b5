/* The kvclient example against its server as a process (docs/world.md): a cmocka test (the owner
 * of the world) spawns a small Redis-protocol server program linked with the harness
 * (kv_server.c, a member), talks to it with the unchanged kvclient, crashes it (SIGKILL) and
 * starts it again, all in virtual time.
 * KVSERVER_PROGRAM is the path of that program (CMakeLists.txt). */
#include <ah/ah.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kvclient.h"

static void kv_future_cb(kv_req *req, int status, const kv_reply *reply, void *data)
{
    ah_future *f = data;
    (void)req;
    if (status < 0)
        ah_future_reject(f, status);
    else /* the reply's type and (for a string) its first byte, enough for these tests */
        ah_future_fulfil(f, reply->type * 256 + (reply->str != NULL ? reply->str[0] : 0));
}

static void exit_cb(uv_process_t *p, int64_t status, int signum)
{
    ah_future_fulfil(p->data, signum != 0 ? 1000 + signum : (intptr_t)status);
    uv_close((uv_handle_t *)p, NULL);
}

static void start_server(uv_process_t *p, ah_future *exited)
{
    char *args[] = {KVSERVER_PROGRAM, "7000", NULL};
    uv_stdio_container_t io[3] = {{UV_IGNORE, {0}}, {UV_IGNORE, {0}}, {UV_IGNORE, {0}}};
    uv_process_options_t o;

    memset(&o, 0, sizeof(o));
    o.file = KVSERVER_PROGRAM;
    o.args = args;
    o.exit_cb = exit_cb;
    o.stdio = io;
    o.stdio_count = 3;
    p->data = exited;
    assert_int_equal(uv_spawn(uv_default_loop(), p, &o), 0);
}

static void kv_server_process_crashes_and_restarts(void **state)
{
    ah_sim *sim = *state;
    uv_process_t srv1, srv2;
    ah_future *exit1 = ah_future_new(sim), *exit2 = ah_future_new(sim), *f;
    kv_client *c;

    start_server(&srv1, exit1);
    c = kv_new(uv_default_loop(), "127.0.0.1", 7000,
               &(kv_opts){.timeout_ms = 1000, .backoff_initial_ms = 100});
    f = ah_future_new(sim);
    kv_set(c, "k", "v", 0, kv_future_cb, f);
    assert_int_equal(ah_await_value(sim, f), KV_REPLY_STATUS * 256 + 'O'); /* +OK */
    f = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, f);
    assert_int_equal(ah_await_value(sim, f), KV_REPLY_STRING * 256 + 'v');
    ah_assert_now_ms(sim, 0);

    /* The crash: its exit at once, its connection gone. */
    ah_advance(sim, 100);
    assert_int_equal(uv_process_kill(&srv1, SIGKILL), 0);
    assert_int_equal(ah_await_value(sim, exit1), 1000 + SIGKILL);
    ah_assert_now_ms(sim, 100);

    /* A command meanwhile waits for the client's reconnects (refused: nothing listens) ... */
    f = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, f);
    ah_advance(sim, 250);
    assert_int_equal(ah_future_state_of(f), AH_FUTURE_PENDING);
    /* ... and the restarted server answers it: the key died with the first one. */
    start_server(&srv2, exit2);
    assert_int_equal(ah_await_value(sim, f), KV_REPLY_NIL * 256);
    /* the client's reconnect after its jittered backoff (100 ms doubling, from its own seeded
     * generator), the first after the restart at +350 ms */
    ah_assert_now_ms(sim, 546);

    /* SIGTERM: the server drains and exits 0. */
    assert_int_equal(uv_process_kill(&srv2, SIGTERM), 0);
    kv_close(c, NULL, NULL);
    assert_int_equal(ah_await_value(sim, exit2), 0);
}

/* The owner's network faults apply to the traffic between the processes: latency on the server's
 * address, and bytes held in flight until released. */
static void kv_server_process_behind_faults(void **state)
{
    ah_sim *sim = *state;
    uv_process_t srv;
    ah_future *exited = ah_future_new(sim), *f;
    kv_client *c;

    ah_net_latency(sim, "127.0.0.1:7000", 5, 5);
    start_server(&srv, exited);
    c = kv_new(uv_default_loop(), "127.0.0.1", 7000,
               &(kv_opts){.timeout_ms = 1000, .backoff_initial_ms = 100});
    f = ah_future_new(sim);
    kv_set(c, "k", "v", 0, kv_future_cb, f);
    assert_int_equal(ah_await_value(sim, f), KV_REPLY_STATUS * 256 + 'O');
    ah_assert_now_ms(sim, 20); /* the handshake's round trip, then the command's */

    ah_net_hold(sim, "127.0.0.1:7000");
    f = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, f);
    ah_advance(sim, 300);
    assert_int_equal(ah_future_state_of(f), AH_FUTURE_PENDING);
    ah_net_release(sim, "127.0.0.1:7000");
    assert_int_equal(ah_await_value(sim, f), KV_REPLY_STRING * 256 + 'v');
    ah_assert_now_ms(sim, 325);

    assert_int_equal(uv_process_kill(&srv, SIGTERM), 0);
    kv_close(c, NULL, NULL);
    assert_int_equal(ah_await_value(sim, exited), 0);
}

/* A member's UV_CREATE_PIPE stdio: what it writes during a turn reaches the parent at that
 * instant, what the parent writes reaches it before its next turn, and its exit comes after its
 * output and EOF. */
static char out[256];
static size_t out_len;
static uint64_t out_ms[4];
static int reads;

static void out_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    (void)size;
    *buf = uv_buf_init(out + out_len, (unsigned)(sizeof(out) - out_len - 1));
}

static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n > 0) {
        out_len += (size_t)n;
        if (reads < 4)
            out_ms[reads++] = ah_now_ms(ah_sim_current());
    } else if (n < 0) {
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void in_written(uv_write_t *w, int status)
{
    assert_int_equal(status, 0);
    uv_close((uv_handle_t *)w->handle, NULL); /* the member's EOF */
}

/* ---- a member fed through its stdin, written from a timer (docs/world.md, "Pipes") ---- */

static uv_pipe_t feed_in, feed_out;
static uv_process_t feed_p;
static uv_timer_t feed_t;
static uv_write_t feed_w;
static int feed_close; /* close stdin after the write (the libuv reader ends at EOF) */

static void feed_written(uv_write_t *w, int status)
{
    assert_int_equal(status, 0);
    if (feed_close)
        uv_close((uv_handle_t *)w->handle, NULL);
}

static void feed_now(uv_timer_t *t)
{
    uv_buf_t b = uv_buf_init("ping\n", 5);

    assert_int_equal(uv_write(&feed_w, (uv_stream_t *)&feed_in, &b, 1, feed_written), 0);
    uv_close((uv_handle_t *)t, NULL);
}

static void feed_spawn(ah_sim *sim, const char *mode, uint64_t write_ms, ah_future *exited)
{
    char *args[] = {STDIN_MEMBER_PROGRAM, (char *)mode, NULL};
    uv_stdio_container_t io[3];
    uv_process_options_t o;

    out_len = 0;
    reads = 0;
    memset(out, 0, sizeof(out));
    uv_pipe_init(uv_default_loop(), &feed_in, 0);
    uv_pipe_init(uv_default_loop(), &feed_out, 0);
    io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    io[0].data.stream = (uv_stream_t *)&feed_in;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&feed_out;
    io[2].flags = UV_IGNORE;
    memset(&o, 0, sizeof(o));
    o.file = args[0];
    o.args = args;
    o.exit_cb = exit_cb;
    o.stdio = io;
    o.stdio_count = 3;
    feed_p.data = exited;
    assert_int_equal(uv_spawn(uv_default_loop(), &feed_p, &o), 0);
    uv_read_start((uv_stream_t *)&feed_out, out_alloc, out_read);
    uv_timer_init(uv_default_loop(), &feed_t);
    if (write_ms > 0)
        uv_timer_start(&feed_t, feed_now, write_ms, 0);
    (void)sim;
}

/* fgets on stdin, outside libuv: its turn is suspended until the parent writes at +500 ms. */
static void a_member_blocked_in_fgets_runs_when_the_parent_writes(void **state)
{
    ah_sim *sim = *state;
    ah_future *exited = ah_future_new(sim);

    feed_close = 0;
    feed_spawn(sim, "fgets", 500, exited);
    assert_int_equal(ah_await_value(sim, exited), 0);
    ah_assert_now_ms(sim, 500);
    assert_string_equal(out, "got: ping\n");
    assert_int_equal(out_ms[0], 500);
    uv_close((uv_handle_t *)&feed_in, NULL);
    ah_run_until_idle(sim);
}

/* Its stdin through libuv: it waits for a delivery, not in real time, and echoes at +300 ms. */
static void a_member_reading_stdin_through_libuv_waits_for_the_parent(void **state)
{
    ah_sim *sim = *state;
    ah_future *exited = ah_future_new(sim);

    feed_close = 1;
    feed_spawn(sim, "uv", 300, exited);
    assert_int_equal(ah_await_value(sim, exited), 0);
    ah_assert_now_ms(sim, 300);
    assert_string_equal(out, "ping\n");
    assert_int_equal(out_ms[0], 300);
    ah_run_until_idle(sim);
}

/* Planted: the parent never writes; the deadlock report says where the member is blocked. */
static void never_fed_body(ah_sim *sim, void *ctx)
{
    ah_future *exited = ah_future_new(sim);

    feed_close = 0;
    feed_spawn(sim, "fgets", ctx != NULL ? 200 : 0, exited);
    assert_int_equal(ah_await_value(sim, exited), 0);
    uv_close((uv_handle_t *)&feed_in, NULL);
    ah_run_until_idle(sim);
}

static void a_member_never_fed_is_named_in_the_deadlock(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, never_fed_body, NULL,
                         "blocked in a read of a stdio pipe its parent feeds");
    ah_assert_passes(NULL, never_fed_body, "fed");
}

static void pipes_cross_the_world(void **state)
{
    ah_sim *sim = *state;
    char *args[] = {PIPE_MEMBER_PROGRAM, NULL};
    uv_pipe_t in, outp;
    uv_stdio_container_t io[3];
    uv_process_options_t o;
    uv_process_t p;
    uv_write_t w;
    uv_buf_t b = uv_buf_init("abc", 3);
    ah_future *exited = ah_future_new(sim);

    setenv("AH_WORLD_PIPE_INPUT", "1", 1); /* it reads its stdin only when it is all there */
    uv_pipe_init(uv_default_loop(), &in, 0);
    uv_pipe_init(uv_default_loop(), &outp, 0);
    io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    io[0].data.stream = (uv_stream_t *)&in;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&outp;
    io[2].flags = UV_IGNORE;
    memset(&o, 0, sizeof(o));
    o.file = args[0];
    o.args = args;
    o.exit_cb = exit_cb;
    o.stdio = io;
    o.stdio_count = 3;
    p.data = exited;
    assert_int_equal(uv_spawn(uv_default_loop(), &p, &o), 0);
    uv_read_start((uv_stream_t *)&outp, out_alloc, out_read);
    assert_int_equal(uv_write(&w, (uv_stream_t *)&in, &b, 1, in_written), 0);
    assert_int_equal(ah_await_value(sim, exited), 3);
    ah_assert_now_ms(sim, 100);
    out[out_len] = '\0';
    assert_string_equal(out, "hello\ngot 3 bytes\n");
    assert_int_equal(reads, 2);
    assert_int_equal(out_ms[0], 0);
    assert_int_equal(out_ms[1], 100);
    ah_run_until_idle(sim);
    unsetenv("AH_WORLD_PIPE_INPUT");
}

/* A member that sleeps forever (uv_sleep hands its turn back) dies of SIGTERM when it is sent. */
static void a_sleeping_member_is_killed(void **state)
{
    ah_sim *sim = *state;
    char *args[] = {SLEEPER_PROGRAM, NULL};
    uv_process_options_t o;
    uv_process_t p;
    ah_future *exited = ah_future_new(sim);

    memset(&o, 0, sizeof(o));
    o.file = args[0];
    o.args = args;
    o.exit_cb = exit_cb;
    p.data = exited;
    assert_int_equal(uv_spawn(uv_default_loop(), &p, &o), 0);
    ah_advance(sim, 25000);
    assert_int_equal(uv_process_kill(&p, SIGTERM), 0);
    assert_int_equal(ah_await_value(sim, exited), 1000 + SIGTERM);
    ah_assert_now_ms(sim, 25000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(kv_server_process_crashes_and_restarts),
        ah_unit_test(kv_server_process_behind_faults),
        ah_unit_test(pipes_cross_the_world),
        ah_unit_test(a_member_blocked_in_fgets_runs_when_the_parent_writes),
        ah_unit_test(a_member_reading_stdin_through_libuv_waits_for_the_parent),
        cmocka_unit_test(a_member_never_fed_is_named_in_the_deadlock),
        ah_unit_test(a_sleeping_member_is_killed),
    };
    return ah_run_tests(tests);
}
