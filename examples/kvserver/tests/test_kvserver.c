/* The kvserver suite on the harness (docs/testing-your-server.md walks through it). kvserver.c is
 * compiled unchanged against asyncharness; the clients are scripted (ah_net_connect), raw
 * sockets in the test body, or plain libuv inside the sim. */
#include <ah/ah.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "kvserver.h"

#define ADDR "127.0.0.1:7000"

static int drained;
static void on_drained(void *arg)
{
    (void)arg;
    drained++;
}

static kv_server *start(const kv_server_opts *o)
{
    kv_server *s = NULL;
    drained = 0;
    assert_int_equal(kv_server_start(uv_default_loop(), o, &s), 0);
    return s;
}

/* Drains the server and runs the sim until it is gone. */
static void stop(ah_sim *sim, kv_server *s)
{
    kv_server_shutdown(s, on_drained, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(drained, 1);
}

/* ---- the protocol, with a scripted client ---- */

static void answers_set_get_del(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){0});
    ah_peer *c = ah_net_connect(sim, ADDR);

    ah_peer_reply(c, "SET k hello world\r\n");
    ah_peer_expect(c, "+OK\r\n");
    ah_peer_reply(c, "GET k\r\nDEL k\r\nGET k\r\nPING\n"); /* pipelined */
    ah_peer_expect(c, "$hello world\r\n:1\r\n-ERR no such key\r\n+PONG\r\n");
    ah_peer_reply(c, "QUIT\r\n");
    ah_peer_expect_eof(c);
    ah_run_until_idle(sim);
    assert_true(ah_peer_done(c));
    stop(sim, s);
}

static void a_request_split_byte_by_byte_is_one_request(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){0});
    ah_peer *c;

    ah_net_chunking(sim, ADDR, 1); /* every read returns one byte */
    c = ah_net_connect(sim, ADDR);
    ah_peer_reply(c, "SET a 1\r\nGET a\r\n");
    ah_peer_expect(c, "+OK\r\n$1\r\n");
    ah_peer_close(c);
    ah_run_until_idle(sim);
    stop(sim, s);
}

/* ---- idle timeout at its exact instant ---- */

static void an_idle_client_is_closed_at_the_exact_instant(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){.idle_timeout_ms = 30000});
    ah_peer *c = ah_net_connect(sim, ADDR);

    ah_peer_reply(c, "PING\r\n");
    ah_peer_expect(c, "+PONG\r\n");
    ah_peer_delay(c, 20000);
    ah_peer_reply(c, "PING\r\n"); /* activity restarts the idle clock */
    ah_peer_expect(c, "+PONG\r\n");
    ah_peer_expect_eof(c);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 50000);
    assert_int_equal(kv_server_clients(s), 0);
    stop(sim, s);
}

/* Slowloris: a line that never ends, one byte a second. The idle timer never fires (each byte is
 * activity) but the line limit ends it: the 17th byte, at +16 s, is one too many. */
static void a_slowloris_line_is_cut_at_the_limit(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){.idle_timeout_ms = 30000, .max_line = 16});
    ah_peer *c = ah_net_connect(sim, ADDR);
    int i;

    for (i = 0; i < 17; i++) {
        if (i > 0)
            ah_peer_delay(c, 1000);
        ah_peer_reply(c, "x");
    }
    ah_peer_expect(c, "-ERR line too long\r\n");
    ah_peer_expect_eof(c);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 16000);
    assert_int_equal(kv_server_clients(s), 0);
    stop(sim, s);
}

/* The same client, tolerant, sends 40 bytes: the server's close at +16 s ends its script there;
 * the steps it never reached are not failures. */
static void a_tolerant_slowloris_stops_when_cut(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){.idle_timeout_ms = 30000, .max_line = 16});
    ah_peer *c = ah_net_connect(sim, ADDR);
    int i;

    ah_peer_tolerant(c);
    for (i = 0; i < 40; i++) {
        ah_peer_reply(c, "x");
        ah_peer_delay(c, 1000);
    }
    ah_run_until_idle(sim);
    assert_false(ah_peer_done(c));
    ah_assert_now_ms(sim, 16000);
    stop(sim, s);
}

/* ---- the connection limit ---- */

static void ping_and_stay(ah_peer *p, unsigned i, void *ctx)
{
    (void)i;
    (void)ctx;
    ah_peer_reply(p, "PING\r\n");
    ah_peer_expect(p, "+PONG\r\n");
    ah_peer_expect_eof(p); /* until the server drains */
}

static void a_client_beyond_the_limit_is_told_and_closed(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){.max_clients = 2});
    ah_peer *late;

    ah_net_connect_many(sim, ADDR, 2, ping_and_stay, NULL, NULL);
    ah_advance(sim, 10);
    late = ah_net_connect(sim, ADDR);
    ah_peer_expect(late, "-ERR too many clients\r\n");
    ah_peer_expect_eof(late);
    ah_advance(sim, 10);
    assert_true(ah_peer_done(late));
    assert_int_equal(kv_server_clients(s), 2);
    stop(sim, s);
}

/* ---- graceful shutdown with a request in flight ---- */

static void drain_answers_the_request_in_flight(void **state)
{
    ah_sim *sim = *state;
    kv_server *s;
    ah_peer *busy, *idle;

    ah_fs_memory(sim);
    ah_fs_latency(sim, UV_FS_FSYNC, 50); /* a slow disk */
    s = start(&(kv_server_opts){.log_path = "/kv.log"});
    busy = ah_net_connect(sim, ADDR);
    ah_peer_reply(busy, "SET k v\r\n");
    ah_peer_expect(busy, "+OK\r\n"); /* answered although the drain began meanwhile */
    ah_peer_expect_eof(busy);
    idle = ah_net_connect(sim, ADDR);
    ah_peer_expect_eof(idle); /* closed at once */
    ah_advance(sim, 10);
    kv_server_shutdown(s, on_drained, NULL);
    ah_advance(sim, 1);
    assert_true(ah_peer_done(idle));
    assert_false(ah_peer_done(busy));
    assert_int_equal(drained, 0);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 50);
    assert_true(ah_peer_done(busy));
    assert_int_equal(drained, 1);
}

/* ---- persistence: disk faults, crash and restart ---- */

static void a_full_disk_is_not_acknowledged(void **state)
{
    ah_sim *sim = *state;
    kv_server *s;
    ah_peer *c;

    ah_fs_memory(sim);
    ah_fs_capacity(sim, 12); /* room for "SET a 1\n" and half the next record */
    s = start(&(kv_server_opts){.log_path = "/kv.log"});
    c = ah_net_connect(sim, ADDR);
    ah_peer_reply(c, "SET a 1\r\n");
    ah_peer_expect(c, "+OK\r\n");
    ah_peer_reply(c, "SET b 2\r\n");
    ah_peer_expect(c, "-ERR disk: no space left on device\r\n");
    ah_peer_reply(c, "GET b\r\n");
    ah_peer_expect(c, "-ERR no such key\r\n");
    ah_peer_close(c);
    ah_run_until_idle(sim);
    assert_true(ah_peer_done(c));
    stop(sim, s);
}

static void a_write_error_is_reported_to_the_client(void **state)
{
    ah_sim *sim = *state;
    kv_server *s;
    ah_peer *c;

    ah_fs_memory(sim);
    s = start(&(kv_server_opts){.log_path = "/kv.log"});
    ah_fs_fail(sim, UV_FS_WRITE, "/kv.log", UV_EIO, 1);
    c = ah_net_connect(sim, ADDR);
    ah_peer_reply(c, "SET a 1\r\n");
    ah_peer_expect(c, "-ERR disk: i/o error\r\n");
    ah_peer_reply(c, "SET a 2\r\n");
    ah_peer_expect(c, "+OK\r\n");
    ah_peer_close(c);
    ah_run_until_idle(sim);
    stop(sim, s);
}

static void acknowledged_writes_survive_a_crash(void **state)
{
    ah_sim *sim = *state;
    kv_server *s;
    ah_peer *c;

    ah_fs_memory(sim);
    s = start(&(kv_server_opts){.log_path = "/kv.log"});
    c = ah_net_connect(sim, ADDR);
    ah_peer_reply(c, "SET a 1\r\nGET a\r\n");
    ah_peer_expect(c, "+OK\r\n$1\r\n");
    ah_peer_close(c);
    ah_run_until_idle(sim);
    stop(sim, s);
    ah_fs_crash(sim); /* power loss: only what was fsync'd is left */
    s = start(&(kv_server_opts){.log_path = "/kv.log"});
    assert_string_equal(kv_server_get(s, "a"), "1");
    stop(sim, s);
}

/* ---- a server with a repeating timer: ah_run_for or ah_advance, not ah_run_until_idle ---- */

static void heartbeats_go_out_on_time(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){.heartbeat_ms = 1000});
    unsigned failed;

    /* ah_run_until_idle would run the heartbeat to the 7-day limit: the server never idles.
     * ah_run_for stops at the end of the span. */
    assert_int_equal(ah_run_for(sim, 5500), 5500);
    assert_int_equal(kv_server_heartbeats(s, &failed, NULL), 5);
    assert_int_equal(failed, 0);
    stop(sim, s); /* the drain closes the timer: now the sim can idle */
}

/* The monitor cannot be reached: every heartbeat send fails with ENETUNREACH (the planted fault);
 * the server counts the failures and goes on. Its twin is heartbeats_go_out_on_time. */
static void an_unreachable_monitor_is_counted(void **state)
{
    ah_sim *sim = *state;
    kv_server *s;
    unsigned failed;
    int err;

    ah_udp_send_error(sim, "127.0.0.1:9999", UV_ENETUNREACH, 0);
    s = start(&(kv_server_opts){.heartbeat_ms = 1000});
    ah_advance(sim, 3500);
    assert_int_equal(kv_server_heartbeats(s, &failed, &err), 3);
    assert_int_equal(failed, 3);
    assert_int_equal(err, UV_ENETUNREACH);
    stop(sim, s);
}

/* ---- a libuv client inside the sim ---- */

/* Plain libuv client code (as a program's own client library would be) runs in the same sim as
 * the server: both are callbacks on the same virtual loop. */
typedef struct uvc {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    char in[64];
    size_t n;
    int eof, closed;
} uvc;

static void uvc_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    uvc *c = h->data;
    (void)size;
    *b = uv_buf_init(c->in + c->n, (unsigned)(sizeof(c->in) - 1 - c->n));
}

static void uvc_closed(uv_handle_t *h) { ((uvc *)h->data)->closed = 1; }

static void uvc_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    uvc *c = st->data;
    (void)b;
    if (nread > 0)
        c->n += (size_t)nread;
    if (nread < 0) {
        c->eof = nread == UV_EOF;
        uv_close((uv_handle_t *)st, uvc_closed);
    }
}

static void uvc_connected(uv_connect_t *req, int status)
{
    uvc *c = req->handle->data;
    uv_buf_t b = uv_buf_init((char *)"SET x 42\r\nGET x\r\nQUIT\r\n", 24);

    assert_int_equal(status, 0);
    uv_read_start((uv_stream_t *)&c->tcp, uvc_alloc, uvc_read);
    uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, NULL);
}

static void a_libuv_client_in_the_sim(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){0});
    struct sockaddr_in a;
    uvc c = {0};

    uv_ip4_addr("127.0.0.1", 7000, &a);
    uv_tcp_init(uv_default_loop(), &c.tcp);
    c.tcp.data = &c;
    uv_tcp_connect(&c.creq, &c.tcp, (const struct sockaddr *)&a, uvc_connected);
    ah_run_until_idle(sim);
    assert_true(c.eof && c.closed);
    assert_string_equal(c.in, "+OK\r\n$42\r\n");
    stop(sim, s);
}

/* ---- a reset at every step ---- */

/* Two clients with logged SETs; the sweep resets every connection after each step of the run
 * in turn. Whatever step the reset lands on, the server must drain and free everything
 * (the teardown checks run after each run) and what it acknowledged must be in memory. */
static void two_clients_set(ah_sim *sim, void *ctx)
{
    kv_server *s;
    ah_peer *p[2];
    int i;

    (void)ctx;
    ah_fs_memory(sim);
    s = start(&(kv_server_opts){.log_path = "/kv.log"});
    for (i = 0; i < 2; i++) {
        p[i] = ah_net_connect(sim, ADDR);
        ah_peer_tolerant(p[i]); /* a reset may cut it anywhere */
        ah_peer_reply(p[i], i == 0 ? "SET a 1\r\n" : "SET b 2\r\n");
        ah_peer_expect(p[i], "+OK\r\n");
        ah_peer_reply(p[i], "QUIT\r\n");
        ah_peer_expect_eof(p[i]);
    }
    ah_run_until_idle(sim);
    if (ah_peer_done(p[0]))
        assert_string_equal(kv_server_get(s, "a"), "1");
    if (ah_peer_done(p[1]))
        assert_string_equal(kv_server_get(s, "b"), "2");
    stop(sim, s);
}

static void the_server_survives_a_reset_at_every_step(void **state)
{
    (void)state;
    ah_sweep_fault(NULL, two_clients_set, AH_FAULT_NET_RESET, NULL);
}

/* ---- a raw-socket client in the test body ---- */

static void a_raw_socket_client_in_the_test_body(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){0});
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7000)};
    char buf[64];
    ssize_t n;
    int fd;

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0); /* the server runs */
    assert_int_equal(send(fd, "SET k v\r\nGET k\r\n", 16, 0), 16);
    n = recv(fd, buf, sizeof(buf), 0); /* blocks: the sim runs meanwhile */
    assert_true(n > 0);
    while (n < 9) {
        ssize_t m = recv(fd, buf + n, sizeof(buf) - (size_t)n, 0);
        assert_true(m > 0);
        n += m;
    }
    assert_memory_equal(buf, "+OK\r\n$v\r\n", 9);
    close(fd);
    stop(sim, s);
}

/* The test body is a flow too: when one of its blocking calls returns at an instant where other
 * flows have work due, the explorer may let them run first. Client B (scripted) sets k at +5 ms;
 * its SET is visible only once the log write and fsync are done, a few steps later at the same
 * instant. The body's raw client waits 5 ms (a recv timing out) and asks GET k. By default the
 * body goes on at once and its GET is answered before B's SET lands; B's SET can land first only
 * if the body yields at its return, which only the body's own choice allows. `ctx` non-NULL:
 * the planted assumption that the GET never sees B's value. */
static void body_races_a_scripted_client(ah_sim *sim, void *ctx)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7000)};
    struct timeval tv = {.tv_sec = 0, .tv_usec = 5000};
    char buf[64] = "";
    kv_server *s;
    ah_peer *b;
    ssize_t n = 0;
    int fd;

    ah_fs_memory(sim);
    s = start(&(kv_server_opts){.log_path = "/kv.log"});
    b = ah_net_connect(sim, ADDR);
    ah_peer_delay(b, 5);
    ah_peer_reply(b, "SET k b\r\n");
    ah_peer_expect(b, "+OK\r\n");
    ah_peer_close(b);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(recv(fd, buf, sizeof(buf), 0), -1); /* nothing comes: waits until +5 ms */
    assert_int_equal(send(fd, "GET k\r\n", 7, 0), 7);
    while (memchr(buf, '\n', (size_t)n) == NULL)
        n += recv(fd, buf + n, sizeof(buf) - 1 - (size_t)n, 0);
    buf[n] = '\0';
    close(fd);
    ah_run_until_idle(sim);
    stop(sim, s);
    if (ctx != NULL)
        assert_string_equal(buf, "-ERR no such key\r\n"); /* planted: "B cannot be first" */
    else
        assert_true(strcmp(buf, "-ERR no such key\r\n") == 0 || strcmp(buf, "$b\r\n") == 0);
}

static void a_raw_client_in_the_body_is_reordered_against_another(void **state)
{
    /* Seeds from 7, the first that finds it: the test stays short under Valgrind, which runs a
     * tenth of the schedules. */
    ah_explore_opts o = {.schedules = 50,
                         .seed_start = 7,
                         .strategy = AH_STRATEGY_RANDOM,
                         .ignore_env = 1,
                         .no_trace_file = 1};
    ah_explore_result r;

    (void)state;
    assert_int_equal(ah_explore_run(&o, body_races_a_scripted_client, (void *)1, &r), 1);
    print_message("  the planted assumption fails as expected:\n  %s\n", r.message);
    assert_non_null(strstr(r.message, "\"$b\r\n\" != \"-ERR no such key\r\n\""));
    assert_true(r.nondefault_after > 0); /* the default order passes */
    ah_explore_result_free(&r);
    /* The twin accepts either order: every schedule passes. */
    assert_int_equal(ah_explore_run(&o, body_races_a_scripted_client, NULL, &r), 0);
    ah_explore_result_free(&r);
}

/* ---- many clients, explored ---- */

/* Client 0 stays; clients 1 and 2 quit at the same instant. Which client the server accepts first
 * and whose QUIT it reads first are choices: ah_explore_test runs the orders (100 schedules by
 * default). At +20 ms the server's connection table must hold the one client left. With
 * -DKV_PLANTED_BUG the table's swap-remove forgets to update the index of the connection it
 * moves: in some orders the table loses the client that stayed and keeps one that quit (test
 * kvserver_planted_race_is_found). The outcome is checked after everything is closed, so a
 * failing schedule leaves nothing behind. */
static void stay_or_quit(ah_peer *p, unsigned i, void *ctx)
{
    (void)ctx;
    ah_peer_reply(p, "PING\r\n");
    ah_peer_expect(p, "+PONG\r\n");
    if (i == 0) {
        ah_peer_delay(p, 30);
        ah_peer_close(p);
    } else {
        ah_peer_delay(p, 10);
        ah_peer_reply(p, "QUIT\r\n");
        ah_peer_expect_eof(p);
    }
}

static void clients_quitting_together_leave_the_others_served(void **state)
{
    ah_sim *sim = *state;
    kv_server *s = start(&(kv_server_opts){0});
    unsigned served;

    ah_net_connect_many(sim, ADDR, 3, stay_or_quit, NULL, NULL);
    ah_advance(sim, 20);
    served = kv_server_clients(s); /* the open connections the table holds */
    ah_run_until_idle(sim);
    stop(sim, s);
    assert_int_equal(served, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(answers_set_get_del),
        ah_unit_test(a_request_split_byte_by_byte_is_one_request),
        ah_unit_test(an_idle_client_is_closed_at_the_exact_instant),
        ah_unit_test(a_slowloris_line_is_cut_at_the_limit),
        ah_unit_test(a_tolerant_slowloris_stops_when_cut),
        ah_unit_test(a_client_beyond_the_limit_is_told_and_closed),
        ah_unit_test(drain_answers_the_request_in_flight),
        ah_unit_test(a_full_disk_is_not_acknowledged),
        ah_unit_test(a_write_error_is_reported_to_the_client),
        ah_unit_test(acknowledged_writes_survive_a_crash),
        ah_unit_test(heartbeats_go_out_on_time),
        ah_unit_test(an_unreachable_monitor_is_counted),
        ah_unit_test(a_libuv_client_in_the_sim),
        ah_unit_test(the_server_survives_a_reset_at_every_step),
        ah_unit_test(a_raw_socket_client_in_the_test_body),
        ah_unit_test(a_raw_client_in_the_body_is_reordered_against_another),
        ah_explore_test(clients_quitting_together_leave_the_others_served),
    };
    return ah_run_tests(tests);
}
