/* Faults across the processes of a world (docs/world.md, include/ah/world.h): the kvclient example
 * against its own server program (kv_server.c, a member of the world).
 *
 * The crash sweep: a supervisor in the test restarts the server 200 ms after it crashes, and the
 * client pings it every 100 ms; AH_FAULT_PROCESS_CRASH kills the server after every step of the
 * world, each step its own run. A ping may fail when it was issued before the crash was seen (in
 * flight, or on its way); one issued after it must be answered: the client reconnects (its
 * backoff outlasts the 200 ms) and sends it then. Built with PLANTED_NO_RECONNECT the client is
 * made with KV_NO_RETRIES (it never reconnects on its own: a command finding the connection gone
 * tries once and fails), and the sweep names the step and the process whose crash broke it.
 *
 * Partitions and latency between two processes: every process of a world has the address
 * 127.0.0.1, so they are set on the pair of processes (ah_world_partition, ah_world_latency).
 * KVSERVER_PROGRAM is the path of the server program (CMakeLists.txt). */
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

#define PORT 7100
#define NPING 8

static struct {
    ah_sim *sim;
    uv_process_t srv[4];
    int nsrv, running, stopping, exits;
    uv_timer_t restart, tick;
    kv_client *c;
    int issued, done, ok;
    int down_seen;
    uint64_t crash_ms;
    char wrong[300];
} k;

static void start_server(void);

static void restart_cb(uv_timer_t *t)
{
    (void)t;
    if (!k.stopping)
        start_server();
}

static void exit_cb(uv_process_t *p, int64_t status, int signum)
{
    (void)status;
    k.running = 0;
    k.exits++;
    uv_close((uv_handle_t *)p, NULL);
    if (signum == SIGKILL && !k.stopping) { /* a crash: the supervisor restarts it */
        k.down_seen = 1;
        k.crash_ms = ah_now_ms(k.sim);
        uv_timer_start(&k.restart, restart_cb, 200, 0);
    }
}

static void start_server(void)
{
    char port[16], *args[] = {KVSERVER_PROGRAM, port, NULL};
    uv_process_options_t o;

    snprintf(port, sizeof(port), "%d", PORT);
    memset(&o, 0, sizeof(o));
    o.file = KVSERVER_PROGRAM;
    o.args = args;
    o.exit_cb = exit_cb;
    assert_true(k.nsrv < 4);
    assert_int_equal(uv_spawn(uv_default_loop(), &k.srv[k.nsrv++], &o), 0);
    k.running = 1;
}

static const char *const ping_names[NPING] = {"ping 0", "ping 1", "ping 2", "ping 3",
                                              "ping 4", "ping 5", "ping 6", "ping 7"};

static void ping_cb(kv_req *req, int status, const kv_reply *reply, void *data)
{
    intptr_t v = (intptr_t)data;
    int i = (int)(v & 0xff), after_crash = (int)(v >> 8);

    (void)req;
    ah_fired(k.sim, ping_names[i]);
    k.done++;
    if (status == 0 && reply->type == KV_REPLY_STATUS && strcmp(reply->str, "PONG") == 0)
        k.ok++;
    else if (after_crash && k.wrong[0] == '\0')
        snprintf(k.wrong, sizeof(k.wrong),
                 "ping %d, issued after the server's crash at +%llu ms was seen, failed: %s "
                 "(at +%llu ms)",
                 i, (unsigned long long)k.crash_ms, status < 0 ? uv_err_name(status) : "a reply",
                 (unsigned long long)ah_now_ms(k.sim));
}

static void tick_cb(uv_timer_t *t)
{
    int i = k.issued++;

    kv_ping(k.c, ping_cb, (void *)(intptr_t)(i | (k.down_seen << 8)));
    if (k.issued == NPING)
        uv_timer_stop(t);
}

static int pings_done(void *ctx) { return (void)ctx, k.done == NPING; }
static int server_up(void *ctx)
{
    return (void)ctx, k.running && !uv_is_active((uv_handle_t *)&k.restart);
}
static int server_down(void *ctx) { return (void)ctx, !k.running; }

static void crash_body(ah_sim *sim, void *ctx)
{
    int i;

    (void)ctx;
    memset(&k, 0, sizeof(k));
    k.sim = sim;
    uv_timer_init(uv_default_loop(), &k.restart);
    uv_timer_init(uv_default_loop(), &k.tick);
    for (i = 0; i < NPING; i++)
        ah_expect_once(sim, ping_names[i]);
    start_server();
    k.c = kv_new(uv_default_loop(), "127.0.0.1", PORT,
                 &(kv_opts){.timeout_ms = 1000,
                            .backoff_initial_ms = 100,
#ifdef PLANTED_NO_RECONNECT
                            .max_retries = KV_NO_RETRIES
#endif
                 });
    uv_timer_start(&k.tick, tick_cb, 100, 100);
    ah_run_until(sim, pings_done, NULL);
    if (k.wrong[0] != '\0')
        ah_fail(sim, "%s", k.wrong);
    /* the end: the server (restarted, if it crashed) stops on SIGTERM */
    ah_run_until(sim, server_up, NULL);
    k.stopping = 1;
    assert_int_equal(uv_process_kill(&k.srv[k.nsrv - 1], SIGTERM), 0);
    kv_close(k.c, NULL, NULL);
    ah_run_until(sim, server_down, NULL);
    uv_close((uv_handle_t *)&k.restart, NULL);
    uv_close((uv_handle_t *)&k.tick, NULL);
    ah_run_until_idle(sim);
}

static void kv_server_crash_sweep(void **state)
{
    ah_sweep_result r;
    ah_sweep_opts o;
    int failed;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "kv_server_crash_sweep";
    failed = ah_sweep_run(&o, crash_body, AH_FAULT_PROCESS_CRASH, NULL, &r);
#ifdef PLANTED_NO_RECONNECT
    assert_int_equal(failed, 1);
    fprintf(stderr, "planted client that does not reconnect caught:\n%s\n", r.message);
    assert_non_null(strstr(r.message, "process crash injected after step"));
    assert_non_null(strstr(r.message, "signal 9 sent to " KVSERVER_PROGRAM " (pid "));
    assert_non_null(strstr(r.message, "failed: ECONNREFUSED"));
    ah_sweep_result_free(&r);
#else
    if (failed)
        fail_msg("%s", r.message);
    fprintf(stderr, "%s\n", r.summary);
    assert_true(r.steps >= 20);
    assert_int_equal(r.runs, r.steps);
#endif
}

#ifndef PLANTED_NO_RECONNECT
/* ---- partitions and latency between two processes ---- */

static void kv_future_cb(kv_req *req, int status, const kv_reply *reply, void *data)
{
    ah_future *f = data;
    (void)req;
    if (status < 0)
        ah_future_reject(f, status);
    else
        ah_future_fulfil(f, reply->type * 256 + (reply->str != NULL ? reply->str[0] : 0));
}

static void exit_fut_cb(uv_process_t *p, int64_t status, int signum)
{
    ah_future_fulfil(p->data, signum != 0 ? 1000 + signum : (intptr_t)status);
    uv_close((uv_handle_t *)p, NULL);
}

static void spawn_kv(uv_process_t *p, ah_future *exited)
{
    char port[16], *args[] = {KVSERVER_PROGRAM, port, NULL};
    uv_process_options_t o;

    snprintf(port, sizeof(port), "%d", PORT);
    memset(&o, 0, sizeof(o));
    o.file = KVSERVER_PROGRAM;
    o.args = args;
    o.exit_cb = exit_fut_cb;
    p->data = exited;
    assert_int_equal(uv_spawn(uv_default_loop(), p, &o), 0);
}

static void stop_kv(ah_sim *sim, uv_process_t *p, ah_future *exited, kv_client *c)
{
    assert_int_equal(uv_process_kill(p, SIGTERM), 0);
    kv_close(c, NULL, NULL);
    assert_int_equal(ah_await_value(sim, exited), 0);
}

/* The test's process and the server are cut apart: a command times out; healed, the next one is
 * answered (the late reply of the first is discarded by the client). */
static void partition_between_two_processes(void **state)
{
    ah_sim *sim = *state;
    uv_process_t srv;
    ah_future *exited = ah_future_new(sim), *f;
    kv_client *c;

    spawn_kv(&srv, exited);
    c = kv_new(uv_default_loop(), "127.0.0.1", PORT, &(kv_opts){.timeout_ms = 300});
    f = ah_future_new(sim);
    kv_set(c, "k", "v", 0, kv_future_cb, f);
    assert_int_equal(ah_await_value(sim, f), KV_REPLY_STATUS * 256 + 'O');

    ah_advance(sim, 100);
    ah_world_partition(sim, "self", "world_kvserver");
    f = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, f);
    assert_int_equal(ah_await_error(sim, f), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 400);

    ah_advance(sim, 100);
    ah_world_heal(sim, "world_kvserver", "self");
    f = ah_future_new(sim);
    kv_get(c, "k", kv_future_cb, f);
    assert_int_equal(ah_await_value(sim, f), KV_REPLY_STRING * 256 + 'v');
    ah_assert_now_ms(sim, 500);
    stop_kv(sim, &srv, exited, c);
}

/* Its twin: a partition between other processes leaves this pair alone. */
static void partition_elsewhere_changes_nothing(void **state)
{
    ah_sim *sim = *state;
    uv_process_t srv;
    ah_future *exited = ah_future_new(sim), *f;
    kv_client *c;

    ah_world_partition(sim, "self", "some_other_program");
    spawn_kv(&srv, exited);
    c = kv_new(uv_default_loop(), "127.0.0.1", PORT, &(kv_opts){.timeout_ms = 300});
    f = ah_future_new(sim);
    kv_set(c, "k", "v", 0, kv_future_cb, f);
    assert_int_equal(ah_await_value(sim, f), KV_REPLY_STATUS * 256 + 'O');
    ah_assert_now_ms(sim, 0);
    stop_kv(sim, &srv, exited, c);
    ah_world_heal(sim, NULL, NULL);
}

/* Latency between the pair: each way of the command's round trip takes 7 ms. */
static void latency_between_two_processes(void **state)
{
    ah_sim *sim = *state;
    uv_process_t srv;
    ah_future *exited = ah_future_new(sim), *f;
    kv_client *c;

    ah_world_latency(sim, "self", "world_kvserver", 7, 7);
    spawn_kv(&srv, exited);
    c = kv_new(uv_default_loop(), "127.0.0.1", PORT, NULL);
    f = ah_future_new(sim);
    kv_set(c, "k", "v", 0, kv_future_cb, f);
    assert_int_equal(ah_await_value(sim, f), KV_REPLY_STATUS * 256 + 'O');
    ah_assert_now_ms(sim, 14); /* the connect itself takes the address's latency (none here) */
    stop_kv(sim, &srv, exited, c);
}

/* A crash by hand names the process, and a name matching no member kills nothing. */
static void world_kill_by_name(void **state)
{
    ah_sim *sim = *state;
    uv_process_t srv;
    ah_future *exited = ah_future_new(sim);

    spawn_kv(&srv, exited);
    ah_advance(sim, 10);
    assert_int_equal(ah_world_kill(sim, "no_such_program", SIGKILL), 0);
    assert_int_equal(ah_world_kill(sim, "world_kvserver", SIGKILL), 1);
    assert_int_equal(ah_await_value(sim, exited), 1000 + SIGKILL);
    ah_assert_now_ms(sim, 10);
    assert_int_equal(ah_world_kill(sim, NULL, SIGKILL), 0);
}

/* ---- the DNS table is the world's ---- */

static int spawn_dns_member(ah_sim *sim, const char *name, const char *addr, const char *ms)
{
    char *args[] = {DNS_MEMBER_PROGRAM, (char *)name, (char *)addr, (char *)ms, NULL};
    uv_process_options_t o;
    uv_process_t p;
    ah_future *exited = ah_future_new(sim);

    memset(&o, 0, sizeof(o));
    o.file = args[0];
    o.args = args;
    o.exit_cb = exit_fut_cb;
    p.data = exited;
    assert_int_equal(uv_spawn(uv_default_loop(), &p, &o), 0);
    return (int)ah_await_value(sim, exited);
}

/* Entries made in the owner answer a member's uv_getaddrinfo (with the entry's latency) and
 * getaddrinfo(3); changed later, the member's next lookup sees the change. */
static void dns_table_is_the_worlds(void **state)
{
    ah_sim *sim = *state;

    ah_dns_add(sim, "db.internal", "10.1.2.3");
    ah_dns_latency(sim, "db.internal", 30);
    assert_int_equal(spawn_dns_member(sim, "db.internal", "10.1.2.3", "30"), 0);
    ah_assert_now_ms(sim, 30);
    ah_dns_add(sim, "cache.internal", "10.9.9.9");
    assert_int_equal(spawn_dns_member(sim, "cache.internal", "10.9.9.9", "0"), 0);
}

/* Its twin: a name the owner's table does not hold is not found by the member either. */
static void dns_name_unknown_to_the_owner_fails_in_the_member(void **state)
{
    ah_sim *sim = *state;

    ah_dns_add(sim, "db.internal", "10.1.2.3");
    assert_int_equal(spawn_dns_member(sim, "other.internal", "10.1.2.3", "0"), 2);
}

/* ---- teardown across the world ---- */

static void run_member_body(ah_sim *sim, void *ctx)
{
    char *args[] = {(char *)ctx, NULL};
    uv_process_options_t o;
    uv_process_t p;
    ah_future *exited = ah_future_new(sim);

    memset(&o, 0, sizeof(o));
    o.file = args[0];
    o.args = args;
    o.exit_cb = exit_fut_cb;
    p.data = exited;
    assert_int_equal(uv_spawn(uv_default_loop(), &p, &o), 0);
    assert_int_equal(ah_await_value(sim, exited), 0);
    ah_run_until_idle(sim);
}

/* A member that exits with a handle open: the owner's teardown names the process and the handle. */
static void member_leftovers_are_reported_at_the_owner(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, run_member_body, LEAKY_MEMBER_PROGRAM, "world_leaky_member (pid ");
    ah_assert_fails_with(NULL, run_member_body, LEAKY_MEMBER_PROGRAM,
                         ", a process of this world, exited at +0 ms leaving behind:\n"
                         "      - handle not closed: uv_timer_t");
}

/* Its twin: a member that closes everything leaves the owner's teardown clean. */
static void a_clean_member_leaves_nothing(void **state)
{
    char *msg;

    (void)state;
    msg = ah_capture_failure(NULL, run_member_body, CLEAN_MEMBER_PROGRAM);
    if (msg != NULL)
        fail_msg("%s", msg);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kv_server_crash_sweep),
#ifndef PLANTED_NO_RECONNECT
        ah_unit_test(partition_between_two_processes),
        ah_unit_test(partition_elsewhere_changes_nothing),
        ah_unit_test(latency_between_two_processes),
        ah_unit_test(world_kill_by_name),
        ah_unit_test(dns_table_is_the_worlds),
        ah_unit_test(dns_name_unknown_to_the_owner_fails_in_the_member),
        cmocka_unit_test(member_leftovers_are_reported_at_the_owner),
        cmocka_unit_test(a_clean_member_leaves_nothing),
#endif
    };
    return ah_run_tests(tests);
}
