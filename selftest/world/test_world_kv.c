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

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(kv_server_process_crashes_and_restarts),
        ah_unit_test(kv_server_process_behind_faults),
    };
    return ah_run_tests(tests);
}
