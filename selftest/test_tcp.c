/* TCP streams on the fake network: plain libuv server and client code talking inside the sim,
 * the callback order libuv 1.44 gives them, and the return codes of misuse. */
#include "netkit.h"

#include <arpa/inet.h>

/* The order callbacks ran in, as text: "server conn 0|client connect 0|...". */
static char log_buf[4096];

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(log_buf);

    if (n > 0 && n < sizeof(log_buf) - 1)
        log_buf[n++] = '|';
    va_start(ap, fmt);
    vsnprintf(log_buf + n, sizeof(log_buf) - n, fmt, ap);
    va_end(ap);
}

static struct sockaddr_in addr_of(const char *ip, int port)
{
    struct sockaddr_in a;
    uv_ip4_addr(ip, port, &a);
    return a;
}

/* ---- an echo server and a client, both plain libuv ---- */

static uv_tcp_t server, conn, client;
static uv_connect_t connect_req;
static uv_write_t wreq, echo_req;
static char rbuf[65536], cbuf[256];
static size_t cgot;
static int closed;

static void on_close(uv_handle_t *h)
{
    closed++;
    logf_("close %s", (const char *)h->data);
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_echo_written(uv_write_t *req, int status)
{
    (void)req;
    logf_("server write_cb %d", status);
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    static uv_buf_t out;

    if (nread > 0) {
        logf_("server read %.*s", (int)nread, buf->base);
        memcpy(cbuf, buf->base, (size_t)nread);
        out = uv_buf_init(cbuf, (unsigned)nread);
        assert_int_equal(uv_write(&echo_req, s, &out, 1, on_echo_written), 0);
    } else if (nread < 0) {
        logf_("server read %s", uv_err_name((int)nread));
        uv_close((uv_handle_t *)s, on_close);
        uv_close((uv_handle_t *)&server, on_close);
    }
}

static void on_connection(uv_stream_t *s, int status)
{
    logf_("server connection %d", status);
    uv_tcp_init(s->loop, &conn);
    conn.data = "conn";
    assert_int_equal(uv_accept(s, (uv_stream_t *)&conn), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&conn, alloc_cb, server_read), 0);
}

static char client_in[64];

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        memcpy(client_in + cgot, buf->base, (size_t)nread);
        cgot += (size_t)nread;
        logf_("client read %.*s", (int)nread, buf->base);
        if (cgot == 5)
            uv_close((uv_handle_t *)s, on_close);
    } else if (nread < 0) {
        logf_("client read %s", uv_err_name((int)nread));
        uv_close((uv_handle_t *)s, on_close);
    }
}

static void on_client_written(uv_write_t *req, int status)
{
    (void)req;
    logf_("client write_cb %d", status);
}

static void on_connect(uv_connect_t *req, int status)
{
    static uv_buf_t b;

    logf_("client connect %d", status);
    if (status < 0) {
        uv_close((uv_handle_t *)req->handle, on_close);
        return;
    }
    b = uv_buf_init("hello", 5);
    assert_int_equal(uv_write(&wreq, req->handle, &b, 1, on_client_written), 0);
    assert_int_equal(uv_read_start(req->handle, alloc_cb, client_read), 0);
}

static void start_echo_server(uv_loop_t *loop, const char *ip, int port)
{
    struct sockaddr_in a = addr_of(ip, port);

    uv_tcp_init(loop, &server);
    server.data = "server";
    assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 128, on_connection), 0);
}

static void reset_state(void)
{
    log_buf[0] = '\0';
    cgot = 0;
    closed = 0;
    memset(client_in, 0, sizeof(client_in));
}

static void echo_server_and_client_talk_in_the_sim(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in a = addr_of("127.0.0.1", 7000);

    reset_state();
    start_echo_server(loop, "127.0.0.1", 7000);
    uv_tcp_init(loop, &client);
    client.data = "client";
    assert_int_equal(uv_tcp_connect(&connect_req, &client, (const struct sockaddr *)&a, on_connect),
                     0);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_string_equal(log_buf, "server connection 0|client connect 0|client write_cb 0|"
                                 "server read hello|server write_cb 0|client read hello|"
                                 "close client|server read EOF|close server|close conn");
    assert_string_equal(client_in, "hello");
    ah_assert_now_ms(sim, 0);
}

/* ---- a second server, for the tests below: accepts up to 4 connections, reads them when
 * `srv_reads`, and logs through netkit's log ---- */

static uv_tcp_t srv, sconns[4];
static int nsconns, srv_reads = 1;
static size_t srv_got;
static char srv_in[1 << 16];
static tclient cl, cl2;

static void srv_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(srv_in, sizeof(srv_in));
}

static void srv_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread > 0) {
        srv_got += (size_t)nread;
        return;
    }
    if (nread < 0) {
        netlog_add("server read %s", uv_err_name((int)nread));
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void srv_connection(uv_stream_t *s, int status)
{
    uv_tcp_t *c = &sconns[nsconns++];

    netlog_add("server connection %s", rc_str(status));
    uv_tcp_init(s->loop, c);
    assert_int_equal(uv_accept(s, (uv_stream_t *)c), 0);
    if (srv_reads)
        assert_int_equal(uv_read_start((uv_stream_t *)c, srv_alloc, srv_read), 0);
}

static void srv_start(void)
{
    struct sockaddr_in a = addr_of("127.0.0.1", 7000);

    netlog[0] = '\0';
    nsconns = 0;
    srv_got = 0;
    srv_reads = 1;
    uv_tcp_init(uv_default_loop(), &srv);
    assert_int_equal(uv_tcp_bind(&srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv, 16, srv_connection), 0);
}

static void srv_close_all(ah_sim *sim)
{
    int i;
    for (i = 0; i < nsconns; i++)
        if (!uv_is_closing((uv_handle_t *)&sconns[i]))
            uv_close((uv_handle_t *)&sconns[i], NULL);
    uv_close((uv_handle_t *)&srv, NULL);
    tc_close(&cl);
    ah_run_until_idle(sim);
}

/* A write to a peer whose socket is closed draws a reset. On loopback (no latency) Linux has it
 * before the write returns, so the next uv_try_write fails: UV_EPIPE once the peer's FIN came
 * (libuv's tcp_try_write_error). With latency the reset is on its way: writes succeed until it
 * arrives (the twin). */
static uv_tcp_t gone_srv, gone_in, gone_cl;
static uv_connect_t gone_req;

static void gone_accept_and_close(uv_stream_t *s, int status)
{
    assert_int_equal(status, 0);
    uv_tcp_init(s->loop, &gone_in);
    assert_int_equal(uv_accept(s, (uv_stream_t *)&gone_in), 0);
    uv_close((uv_handle_t *)&gone_in, NULL);
}

static void gone_connected(uv_connect_t *r, int status) { (void)r, assert_int_equal(status, 0); }

static void try_write_to_a_closed_peer(ah_sim *sim, int port, uint64_t latency_ms)
{
    struct sockaddr_in a;
    uv_buf_t b = uv_buf_init("meow", 4);
    char addr[32];

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    if (latency_ms > 0)
        ah_net_latency(sim, addr, latency_ms, latency_ms);
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_init(uv_default_loop(), &gone_srv);
    assert_int_equal(uv_tcp_bind(&gone_srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&gone_srv, 8, gone_accept_and_close), 0);
    uv_tcp_init(uv_default_loop(), &gone_cl);
    uv_tcp_connect(&gone_req, &gone_cl, (const struct sockaddr *)&a, gone_connected);
    ah_run_until_idle(sim);
    assert_int_equal(uv_try_write((uv_stream_t *)&gone_cl, &b, 1), 4);
    if (latency_ms == 0) {
        assert_int_equal(uv_try_write((uv_stream_t *)&gone_cl, &b, 1), UV_EPIPE);
    } else {
        assert_int_equal(uv_try_write((uv_stream_t *)&gone_cl, &b, 1), 4);
        ah_run_until_idle(sim); /* the reset comes back after the round trip */
        assert_int_equal(uv_try_write((uv_stream_t *)&gone_cl, &b, 1), UV_EPIPE);
    }
    assert_int_equal(gone_cl.write_queue_size, 0);
    uv_close((uv_handle_t *)&gone_cl, NULL);
    uv_close((uv_handle_t *)&gone_srv, NULL);
    ah_run_until_idle(sim);
}

static void try_write_after_the_peer_closed_fails_at_once_on_loopback(void **state)
{
    try_write_to_a_closed_peer(*state, 7002, 0);
}

static void try_write_after_the_peer_closed_fails_when_the_reset_arrives(void **state)
{
    try_write_to_a_closed_peer(*state, 7003, 5);
}

static void connect_without_a_listener_is_refused_through_the_loop(void **state)
{
    ah_sim *sim = *state;

    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 7001, "x"); /* returns 0: the error comes later */
    assert_log("");
    ah_run_until_idle(sim);
    assert_log("0 connect ECONNREFUSED|0 close");
}

static void writes_queued_while_connecting_go_out_after_the_connect(void **state)
{
    ah_sim *sim = *state;
    uv_buf_t b = uv_buf_init("x", 1);

    srv_start();
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    assert_int_equal(tc_write(&cl, "early"), 0);
    assert_int_equal(uv_stream_get_write_queue_size((uv_stream_t *)&cl.tcp), 5);
    assert_int_equal(uv_try_write((uv_stream_t *)&cl.tcp, &b, 1), UV_EAGAIN);
    ah_run_until_idle(sim);
    assert_int_equal(uv_stream_get_write_queue_size((uv_stream_t *)&cl.tcp), 0);
    assert_int_equal(srv_got, 5);
    assert_log("0 server connection 0|0 connect 0|0 write 0");
    srv_close_all(sim);
}

static char big[6u << 20];

static void close_cancels_queued_writes_before_close_cb(void **state)
{
    ah_sim *sim = *state;
    uv_buf_t b = uv_buf_init(big, sizeof(big));

    srv_start();
    srv_reads = 0; /* the kernel's buffers fill up */
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(uv_write(&cl.wreq[cl.nw++], (uv_stream_t *)&cl.tcp, &b, 1, tc_written), 0);
    assert_int_equal(tc_write(&cl, "tail"), 0);
    /* 4 MiB went out; the rest waits for the server to read */
    assert_int_equal(uv_stream_get_write_queue_size((uv_stream_t *)&cl.tcp),
                     sizeof(big) - (4u << 20) + 4);
    ah_advance(sim, 1000);
    assert_log("0 server connection 0|0 connect 0");
    tc_close(&cl);
    ah_run_until_idle(sim);
    assert_log("0 server connection 0|0 connect 0|1000 write ECANCELED|1000 write ECANCELED|"
               "1000 close");
    srv_close_all(sim);
}

static void a_reader_drains_a_full_window(void **state)
{
    ah_sim *sim = *state;
    uv_buf_t b = uv_buf_init(big, sizeof(big));

    srv_start();
    srv_reads = 0;
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(uv_write(&cl.wreq[cl.nw++], (uv_stream_t *)&cl.tcp, &b, 1, tc_written), 0);
    ah_advance(sim, 10);
    assert_int_equal(uv_read_start((uv_stream_t *)&sconns[0], srv_alloc, srv_read), 0);
    ah_run_until_idle(sim);
    assert_int_equal(srv_got, sizeof(big));
    assert_log("0 server connection 0|0 connect 0|10 write 0");
    srv_close_all(sim);
}

static int enobufs_left;

static void stingy_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    if (enobufs_left > 0) {
        enobufs_left--;
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    tc_alloc(h, size, buf);
}

static void alloc_without_a_buffer_gets_enobufs(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:7002");

    ah_peer_reply(p, "data");
    ah_peer_close(p);
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 7002, NULL);
    cl.read_on_connect = 0;
    ah_run_until_idle(sim);
    enobufs_left = 1;
    assert_int_equal(uv_read_start((uv_stream_t *)&cl.tcp, stingy_alloc, tc_read), 0);
    ah_run_until_idle(sim);
    assert_log("0 connect 0|0 read ENOBUFS|0 read 4|0 read EOF|0 close");
}

static void write2_with_a_handle_fails_clearly_body(ah_sim *sim, void *ctx)
{
    static uv_pipe_t ipc;
    static uv_tcp_t t;
    static uv_write_t w, w2, w3;
    static uv_connect_t pc;
    uv_buf_t b = uv_buf_init("x", 1);

    srv_start();
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    ah_run_until_idle(sim);
    uv_tcp_init(uv_default_loop(), &t);
    /* a TCP stream cannot carry handles: libuv says UV_EINVAL */
    assert_int_equal(uv_write2(&w, (uv_stream_t *)&cl.tcp, &b, 1, (uv_stream_t *)&t, NULL),
                     UV_EINVAL);
    assert_int_equal(uv_write2(&w2, (uv_stream_t *)&cl.tcp, &b, 1, NULL, NULL), 0);
    uv_close((uv_handle_t *)&t, NULL);
    /* an IPC pipe can, but a scripted peer takes no handles: the test fails saying so */
    ah_peer_stall(ah_net_listen(sim, "/tmp/ipc.sock"));
    uv_pipe_init(uv_default_loop(), &ipc, 1);
    uv_pipe_connect(&pc, &ipc, "/tmp/ipc.sock", NULL);
    ah_run_until_idle(sim);
    assert_int_equal(uv_write2(&w3, (uv_stream_t *)&ipc, &b, 1,
                               ctx == NULL ? (uv_stream_t *)&cl.tcp : NULL, NULL),
                     0);
    uv_close((uv_handle_t *)&ipc, NULL);
    srv_close_all(sim);
}

static void write2_passing_a_handle_fails_clearly(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, write2_with_a_handle_fails_clearly_body, NULL,
                         "passing a handle to a scripted peer is not simulated");
    ah_assert_passes(NULL, write2_with_a_handle_fails_clearly_body, (void *)1);
}

static void readable_and_writable_follow_the_stream(void **state)
{
    ah_sim *sim = *state;
    uv_stream_t *s = (uv_stream_t *)&cl.tcp;

    srv_start();
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    ah_run_until_idle(sim);
    assert_true(uv_is_readable(s) && uv_is_writable(s));
    assert_int_equal(uv_shutdown(&cl.sreq, s, NULL), 0);
#if UV_VERSION_HEX >= 0x012a00
    assert_true(uv_is_readable(s) && !uv_is_writable(s));
#else
    assert_true(uv_is_readable(s) && uv_is_writable(s)); /* before 1.42: writable until closed */
#endif
    assert_int_equal(uv_shutdown(&cl.sreq, s, NULL), UV_ENOTCONN);
    ah_run_until_idle(sim);
    assert_log("0 server connection 0|0 connect 0|0 server read EOF|0 read EOF|0 close");
    assert_false(uv_is_readable(s) || uv_is_writable(s));
    srv_close_all(sim);
}

static void names_of_both_ends(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_storage ss;
    char ip[64];
    int len = sizeof(ss);

    srv_start();
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    assert_int_equal(uv_tcp_getpeername(&cl.tcp, (struct sockaddr *)&ss, &len), UV_ENOTCONN);
    ah_run_until_idle(sim);
    assert_int_equal(uv_tcp_getsockname(&cl.tcp, (struct sockaddr *)&ss, &len), 0);
    uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
    assert_string_equal(ip, "127.0.0.1");
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 50001);
    assert_int_equal(uv_tcp_getpeername(&sconns[0], (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 50001);
    assert_int_equal(uv_tcp_getsockname(&sconns[0], (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7000);
    assert_int_equal(len, (int)sizeof(struct sockaddr_in));
    srv_close_all(sim);
}

static void close_reset_gives_the_peer_econnreset(void **state)
{
    ah_sim *sim = *state;

    srv_start();
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(uv_tcp_close_reset(&cl.tcp, tc_on_close), 0);
    ah_run_until_idle(sim);
    /* the reset goes out at uv_close; the close callback waits for the closing phase */
    assert_log("0 server connection 0|0 connect 0|0 server read ECONNRESET|0 close");
    srv_close_all(sim);
}

static void close_reset_after_shutdown_is_einval(void **state)
{
    ah_sim *sim = *state;

    srv_start();
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(uv_shutdown(&cl.sreq, (uv_stream_t *)&cl.tcp, NULL), 0);
    assert_int_equal(uv_tcp_close_reset(&cl.tcp, tc_on_close), UV_EINVAL);
    srv_close_all(sim);
}

static void options_are_accepted_and_recorded(void **state)
{
    ah_sim *sim = *state;

    srv_start();
    assert_int_equal(uv_tcp_simultaneous_accepts(&srv, 0), 0);
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    assert_int_equal(uv_tcp_nodelay(&cl.tcp, 1), 0);
    assert_int_equal(uv_tcp_keepalive(&cl.tcp, 1, 60), 0);
    ah_run_until_idle(sim);
    srv_close_all(sim);
}

static void listen_on_a_port_in_use_is_eaddrinuse(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in a = addr_of("0.0.0.0", 7000);
    uv_tcp_t other;

    srv_start();
    uv_tcp_init(uv_default_loop(), &other);
    assert_int_equal(uv_tcp_bind(&other, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&other, 1, srv_connection), UV_EADDRINUSE);
    uv_close((uv_handle_t *)&other, NULL);
    assert_int_equal(uv_tcp_init_ex(uv_default_loop(), &other, 0x1000), UV_EINVAL);
    /* not srv_close_all: no client was connected (`cl` is a handle of another test, or none) */
    uv_close((uv_handle_t *)&srv, NULL);
    ah_run_until_idle(sim);
}

static void clients_are_accepted_in_turn_and_accept_without_one_is_eagain(void **state)
{
    ah_sim *sim = *state;
    uv_tcp_t extra;

    srv_start();
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    tc_connect(&cl2, "127.0.0.1", 7000, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(nsconns, 2);
    uv_tcp_init(uv_default_loop(), &extra);
    assert_int_equal(uv_accept((uv_stream_t *)&srv, (uv_stream_t *)&extra), UV_EAGAIN);
    uv_close((uv_handle_t *)&extra, NULL);
    tc_close(&cl2);
    srv_close_all(sim);
}

static void wildcard_listener_takes_connects_to_any_local_address(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in a = addr_of("0.0.0.0", 7003);

    netlog[0] = '\0';
    nsconns = 0;
    uv_tcp_init(uv_default_loop(), &srv);
    assert_int_equal(uv_tcp_bind(&srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv, 16, srv_connection), 0);
    tc_connect(&cl, "10.0.0.2", 7003, NULL);
    ah_run_until_idle(sim);
    assert_log("0 server connection 0|0 connect 0");
    srv_close_all(sim);
}

static uv_tcp_t c6;
static uv_connect_t c6req;

static void on_c6(uv_connect_t *req, int status)
{
    (void)req;
    netlog_add("v6 connect %s", rc_str(status));
}

static void ipv6_any_listener_takes_both_families_unless_v6_only(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in6 any6, lo6;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[64];

    uv_ip6_addr("::", 7004, &any6);
    uv_ip6_addr("::1", 7004, &lo6);
    netlog[0] = '\0';
    nsconns = 0;
    uv_tcp_init(uv_default_loop(), &srv);
    assert_int_equal(uv_tcp_bind(&srv, (const struct sockaddr *)&any6, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv, 16, srv_connection), 0);
    uv_tcp_init(uv_default_loop(), &c6);
    assert_int_equal(uv_tcp_connect(&c6req, &c6, (const struct sockaddr *)&lo6, on_c6), 0);
    tc_connect(&cl, "127.0.0.1", 7004, NULL);
    ah_run_until_idle(sim);
#if UV_VERSION_HEX >= 0x012d00
    /* Since libuv 1.45 a listener accepts one connection per poll. */
    assert_log("0 server connection 0|0 v6 connect 0|0 connect 0|0 server connection 0");
#else
    assert_log("0 server connection 0|0 v6 connect 0|0 server connection 0|0 connect 0");
#endif
    assert_int_equal(uv_tcp_getsockname(&c6, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
    assert_string_equal(ip, "::1");
    uv_close((uv_handle_t *)&c6, NULL);
    srv_close_all(sim);

    netlog[0] = '\0';
    nsconns = 0;
    uv_tcp_init(uv_default_loop(), &srv);
    assert_int_equal(uv_tcp_bind(&srv, (const struct sockaddr *)&any6, UV_TCP_IPV6ONLY), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv, 16, srv_connection), 0);
    tc_connect(&cl, "127.0.0.1", 7004, NULL);
    ah_run_until_idle(sim);
    assert_log("0 connect ECONNREFUSED|0 close");
    srv_close_all(sim);
}

static uv_loop_t loop_b;

static void a_server_on_another_loop_serves_a_client_of_the_default_loop(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in a = addr_of("127.0.0.1", 7005);

    netlog[0] = '\0';
    nsconns = 0;
    srv_got = 0;
    srv_reads = 1;
    assert_int_equal(uv_loop_init(&loop_b), 0);
    uv_tcp_init(&loop_b, &srv);
    assert_int_equal(uv_tcp_bind(&srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv, 16, srv_connection), 0);
    ah_net_latency(sim, "127.0.0.1:7005", 3, 3);
    tc_connect(&cl, "127.0.0.1", 7005, "ping");
    ah_run_until_idle(sim);
    assert_int_equal(srv_got, 4);
    assert_log("3 server connection 0|6 connect 0|6 write 0");
    assert_ptr_equal(sconns[0].loop, &loop_b);
    srv_close_all(sim);
    assert_int_equal(uv_loop_close(&loop_b), 0);
}

static void read_start_before_connect(ah_sim *sim, void *ctx)
{
    static uv_tcp_t t;

    uv_tcp_init(uv_default_loop(), &t);
    assert_int_equal(uv_read_start((uv_stream_t *)&t, tc_alloc, tc_read), UV_ENOTCONN);
    uv_close((uv_handle_t *)&t, NULL);
    ah_run_until_idle(sim);
    if (ctx == NULL)
        uv_read_start((uv_stream_t *)&t, tc_alloc, tc_read);
}

static void stream_calls_on_a_closed_handle_fail_naming_it(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, read_start_before_connect, NULL, "uv_read_start on uv_tcp_t #1");
    ah_assert_passes(NULL, read_start_before_connect, (void *)1);
}

static void reuse_write_request(ah_sim *sim, void *ctx)
{
    srv_start();
    tc_connect(&cl, "127.0.0.1", 7000, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(tc_write(&cl, "one"), 0);
    if (ctx == NULL)
        cl.nw = 0; /* the bug: the same uv_write_t again before its callback */
    tc_write(&cl, "two");
    srv_close_all(sim);
}

static void a_request_reused_in_flight_fails_naming_both_sites(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, reuse_write_request, NULL, "uv_write in tc_write (netkit.h:");
    ah_assert_fails_with(NULL, reuse_write_request, NULL,
                         "still in flight: uv_write started it in tc_write (netkit.h:");
    ah_assert_passes(NULL, reuse_write_request, (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(echo_server_and_client_talk_in_the_sim),
        ah_unit_test(connect_without_a_listener_is_refused_through_the_loop),
        ah_unit_test(try_write_after_the_peer_closed_fails_at_once_on_loopback),
        ah_unit_test(try_write_after_the_peer_closed_fails_when_the_reset_arrives),
        ah_unit_test(writes_queued_while_connecting_go_out_after_the_connect),
        ah_unit_test(close_cancels_queued_writes_before_close_cb),
        ah_unit_test(a_reader_drains_a_full_window),
        ah_unit_test(alloc_without_a_buffer_gets_enobufs),
        ah_unit_test(write2_passing_a_handle_fails_clearly),
        ah_unit_test(readable_and_writable_follow_the_stream),
        ah_unit_test(names_of_both_ends),
        ah_unit_test(close_reset_gives_the_peer_econnreset),
        ah_unit_test(close_reset_after_shutdown_is_einval),
        ah_unit_test(options_are_accepted_and_recorded),
        ah_unit_test(listen_on_a_port_in_use_is_eaddrinuse),
        ah_unit_test(clients_are_accepted_in_turn_and_accept_without_one_is_eagain),
        ah_unit_test(wildcard_listener_takes_connects_to_any_local_address),
        ah_unit_test(ipv6_any_listener_takes_both_families_unless_v6_only),
        ah_unit_test(a_server_on_another_loop_serves_a_client_of_the_default_loop),
        ah_unit_test(stream_calls_on_a_closed_handle_fail_naming_it),
        ah_unit_test(a_request_reused_in_flight_fails_naming_both_sites),
    };
    return ah_run_tests(tests);
}
