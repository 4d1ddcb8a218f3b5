/* Handles passed over an IPC pipe (uv_write2 with a send_handle) inside one sim: a bound socket,
 * a bound pipe and a TCP connection travel over a uv_pipe_t opened with ipc = 1, arrive as
 * pending handles (uv_pipe_pending_count, uv_pipe_pending_type) and are taken with uv_accept,
 * as libuv 1.44 does over a real socketpair (docs/descriptors.md, "Passing handles"). */
#include <ah/ah.h>

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static uv_pipe_t chan[2]; /* [0] sends, [1] receives */
static uv_tcp_t recv_tcp;
static int pending_seen, pending_type, accepted;
static char slab[64];

static void ipc_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    (void)n;
    *b = uv_buf_init(slab, sizeof(slab));
}

static void open_channel(int ipc)
{
    uv_os_sock_t fds[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    assert_int_equal(uv_pipe_init(uv_default_loop(), &chan[0], ipc), 0);
    assert_int_equal(uv_pipe_init(uv_default_loop(), &chan[1], ipc), 0);
    assert_int_equal(uv_pipe_open(&chan[0], fds[0]), 0);
    assert_int_equal(uv_pipe_open(&chan[1], fds[1]), 0);
}

static void close_channel(void)
{
    uv_close((uv_handle_t *)&chan[0], NULL);
    uv_close((uv_handle_t *)&chan[1], NULL);
}

/* ---- a bound TCP socket travels ---- */

static void bound_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    (void)buf;
    if (nread <= 0)
        return;
    assert_int_equal(nread, 2); /* the bytes of the one sendmsg the socket rode with */
    pending_seen = uv_pipe_pending_count((uv_pipe_t *)st);
    pending_type = uv_pipe_pending_type((uv_pipe_t *)st);
    assert_int_equal(uv_tcp_init(st->loop, &recv_tcp), 0);
    assert_int_equal(uv_accept(st, (uv_stream_t *)&recv_tcp), 0);
    assert_int_equal(uv_pipe_pending_count((uv_pipe_t *)st), 0);
    assert_int_equal(uv_accept(st, (uv_stream_t *)&recv_tcp), UV_EAGAIN);
    assert_int_equal(uv_tcp_getsockname(&recv_tcp, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7300);
    accepted++;
    uv_close((uv_handle_t *)&recv_tcp, NULL);
    uv_read_stop(st);
}

static void a_bound_tcp_socket_travels(void **state)
{
    struct sockaddr_in a;
    uv_write_t w;
    uv_tcp_t t;
    uv_buf_t b = uv_buf_init("..", 2);

    (void)state;
    pending_seen = accepted = 0;
    open_channel(1);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 7300, &a), 0);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &t), 0);
    assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_write2(&w, (uv_stream_t *)&chan[0], &b, 1, (uv_stream_t *)&t, NULL), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&chan[1], ipc_alloc, bound_read), 0);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    assert_int_equal(pending_seen, 1);
    assert_int_equal(pending_type, UV_TCP);
    assert_int_equal(accepted, 1);
    uv_close((uv_handle_t *)&t, NULL);
    close_channel();
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

/* ---- libuv's checks before the write ---- */

static void write2_checks_what_libuv_checks(void **state)
{
    struct sockaddr_in a;
    uv_write_t w;
    uv_tcp_t bound, unbound;
    uv_buf_t b = uv_buf_init(".", 1);

    (void)state;
    open_channel(0);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 7301, &a), 0);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &bound), 0);
    assert_int_equal(uv_tcp_bind(&bound, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &unbound), 0);
    /* not an IPC pipe: UV_EINVAL */
    assert_int_equal(uv_write2(&w, (uv_stream_t *)&chan[0], &b, 1, (uv_stream_t *)&bound, NULL),
                     UV_EINVAL);
    close_channel();
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    open_channel(1);
    /* a handle without a socket: UV_EBADF */
    assert_int_equal(uv_write2(&w, (uv_stream_t *)&chan[0], &b, 1, (uv_stream_t *)&unbound, NULL),
                     UV_EBADF);
    uv_close((uv_handle_t *)&bound, NULL);
    uv_close((uv_handle_t *)&unbound, NULL);
    close_channel();
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

/* ---- a connection travels: a master accepts, a worker answers ---- */

static uv_tcp_t server, conn, client, worker_conn;
static uv_connect_t creq;
static uv_write_t pass_req, reply_req;
static char got[32];
static ssize_t got_n;
static int client_eof, worker_accepts;

static void client_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        memcpy(got + got_n, buf->base, (size_t)nread);
        got_n += nread;
    }
    if (nread == UV_EOF) {
        client_eof = 1;
        uv_close((uv_handle_t *)st, NULL);
    }
}

static void client_connected(uv_connect_t *req, int status)
{
    assert_int_equal(status, 0);
    assert_int_equal(uv_read_start(req->handle, ipc_alloc, client_read), 0);
}

static void reply_written(uv_write_t *req, int status)
{
    assert_int_equal(status, 0);
    uv_close((uv_handle_t *)req->handle, NULL); /* the worker is done: FIN to the client */
}

static void worker_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    uv_buf_t b = uv_buf_init("hello from the worker", 21);

    (void)buf;
    if (nread <= 0)
        return;
    assert_int_equal(uv_pipe_pending_count((uv_pipe_t *)st), 1);
    assert_int_equal(uv_pipe_pending_type((uv_pipe_t *)st), UV_TCP);
    if (worker_accepts) {
        assert_int_equal(uv_tcp_init(st->loop, &worker_conn), 0);
        assert_int_equal(uv_accept(st, (uv_stream_t *)&worker_conn), 0);
        assert_int_equal(uv_write(&reply_req, (uv_stream_t *)&worker_conn, &b, 1, reply_written),
                         0);
    }
    /* the worker is done with its channel: a socket never accepted is closed with it */
    close_channel();
}

static void master_connection(uv_stream_t *srv, int status)
{
    uv_buf_t b = uv_buf_init("c", 1);

    assert_int_equal(status, 0);
    assert_int_equal(uv_tcp_init(srv->loop, &conn), 0);
    assert_int_equal(uv_accept(srv, (uv_stream_t *)&conn), 0);
    assert_int_equal(
        uv_write2(&pass_req, (uv_stream_t *)&chan[0], &b, 1, (uv_stream_t *)&conn, NULL), 0);
    uv_close((uv_handle_t *)&conn, NULL); /* the master keeps nothing: the socket lives on */
    uv_close((uv_handle_t *)srv, NULL);
}

static void run_master_worker(int accepts)
{
    struct sockaddr_in a;

    worker_accepts = accepts;
    got_n = 0;
    client_eof = 0;
    memset(got, 0, sizeof(got));
    open_channel(1);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 7302, &a), 0);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &server), 0);
    assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 8, master_connection), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&chan[1], ipc_alloc, worker_read), 0);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &client), 0);
    assert_int_equal(uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, client_connected),
                     0);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

static void a_passed_connection_answers_from_the_worker(void **state)
{
    ah_sim *sim = *state;

    run_master_worker(1);
    assert_string_equal(got, "hello from the worker");
    assert_int_equal(client_eof, 1);
    ah_assert_now_ms(sim, 0);
}

/* Planted: the worker never accepts the connection it was sent; closing its channel closes the
 * socket, the last number of it, and the client reads end of file, not the answer. */
static void a_passed_connection_never_accepted_is_closed_with_the_pipe(void **state)
{
    (void)state;
    run_master_worker(0);
    assert_int_equal(got_n, 0);
    assert_int_equal(client_eof, 1);
}

/* ---- misuse: two handles on one passed connection ---- */

static void noop_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)st;
    (void)nread;
    (void)buf;
}

static void noop_conn(uv_stream_t *st, int status)
{
    (void)st;
    (void)status;
}

static void sharing_body(ah_sim *sim, void *ctx)
{
    struct sockaddr_in a;
    uv_connect_t cr;
    uv_write_t w;
    uv_tcp_t srv, c, mine, theirs;
    uv_buf_t b = uv_buf_init("c", 1);

    (void)sim;
    open_channel(1);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 7303, &a), 0);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &srv), 0);
    assert_int_equal(uv_tcp_bind(&srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv, 8, noop_conn), 0);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &c), 0);
    assert_int_equal(uv_tcp_connect(&cr, &c, (const struct sockaddr *)&a, NULL), 0);
    ah_run_until_idle(sim);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &mine), 0);
    assert_int_equal(uv_accept((uv_stream_t *)&srv, (uv_stream_t *)&mine), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&mine, ipc_alloc, noop_read), 0);
    assert_int_equal(uv_write2(&w, (uv_stream_t *)&chan[0], &b, 1, (uv_stream_t *)&mine, NULL), 0);
    if (ctx != NULL)
        uv_read_stop((uv_stream_t *)&mine); /* the twin: the sender leaves it to the receiver */
    assert_int_equal(uv_read_start((uv_stream_t *)&chan[1], ipc_alloc, noop_read), 0);
    ah_run_until_idle(sim);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &theirs), 0);
    /* planted without ctx: the sender still reads the connection the receiver takes */
    assert_int_equal(uv_accept((uv_stream_t *)&chan[1], (uv_stream_t *)&theirs), 0);
    uv_close((uv_handle_t *)&theirs, NULL);
    uv_close((uv_handle_t *)&mine, NULL);
    uv_close((uv_handle_t *)&srv, NULL);
    uv_close((uv_handle_t *)&c, NULL);
    close_channel();
    ah_run_until_idle(sim);
}

static void two_handles_on_one_passed_connection_are_named(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, sharing_body, NULL, "two handles using one connection");
    ah_assert_passes(NULL, sharing_body, "stopped");
}

static void listen_body(ah_sim *sim, void *ctx)
{
    struct sockaddr_in a;
    uv_write_t w;
    uv_tcp_t srv, got;
    uv_buf_t b = uv_buf_init("l", 1);

    open_channel(1);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 7305, &a), 0);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &srv), 0);
    assert_int_equal(uv_tcp_bind(&srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv, 8, noop_conn), 0);
    assert_int_equal(uv_write2(&w, (uv_stream_t *)&chan[0], &b, 1, (uv_stream_t *)&srv, NULL), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&chan[1], ipc_alloc, noop_read), 0);
    ah_run_until_idle(sim);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &got), 0);
    assert_int_equal(uv_accept((uv_stream_t *)&chan[1], (uv_stream_t *)&got), 0);
    /* planted without ctx: both handles would listen on the one socket */
    if (ctx == NULL)
        uv_listen((uv_stream_t *)&got, 8, noop_conn);
    uv_close((uv_handle_t *)&got, NULL);
    uv_close((uv_handle_t *)&srv, NULL);
    close_channel();
    ah_run_until_idle(sim);
}

static void two_listeners_on_one_passed_socket_are_named(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, listen_body, NULL, "two handles listening on one socket");
    ah_assert_passes(NULL, listen_body, "accepted only");
}

static void udp_body(ah_sim *sim, void *ctx)
{
    struct sockaddr_in a;
    uv_write_t w;
    uv_udp_t u;
    uv_tcp_t t;
    uv_buf_t b = uv_buf_init(".", 1);

    (void)sim;
    open_channel(1);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 7304, &a), 0);
    assert_int_equal(uv_udp_init(uv_default_loop(), &u), 0);
    assert_int_equal(uv_udp_bind(&u, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_tcp_init(uv_default_loop(), &t), 0);
    assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
    /* planted without ctx: libuv lets a uv_udp_t ride (its "abuse" of uv_write2); not simulated */
    assert_int_equal(uv_write2(&w, (uv_stream_t *)&chan[0], &b, 1,
                               ctx == NULL ? (uv_stream_t *)&u : (uv_stream_t *)&t, NULL),
                     0);
    uv_close((uv_handle_t *)&u, NULL);
    uv_close((uv_handle_t *)&t, NULL);
    close_channel();
    ah_run_until_idle(sim);
}

static void passing_a_udp_handle_is_named(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, udp_body, NULL, "passing uv_udp_t");
    ah_assert_passes(NULL, udp_body, "tcp");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(a_bound_tcp_socket_travels),
        ah_unit_test(write2_checks_what_libuv_checks),
        ah_unit_test(a_passed_connection_answers_from_the_worker),
        ah_unit_test(a_passed_connection_never_accepted_is_closed_with_the_pipe),
        cmocka_unit_test(two_handles_on_one_passed_connection_are_named),
        cmocka_unit_test(passing_a_udp_handle_is_named),
        cmocka_unit_test(two_listeners_on_one_passed_socket_are_named),
    };
    return ah_run_tests(tests);
}
