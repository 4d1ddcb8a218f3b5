/* TCP streams on the fake network: plain libuv server and client code talking inside the sim,
 * the callback order libuv 1.44 gives them, and the return codes of misuse. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

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
    assert_int_equal(uv_tcp_connect(&connect_req, &client, (const struct sockaddr *)&a, on_connect), 0);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_string_equal(log_buf, "server connection 0|client connect 0|client write_cb 0|"
                                 "server read hello|server write_cb 0|client read hello|"
                                 "close client|server read EOF|close server|close conn");
    assert_string_equal(client_in, "hello");
    ah_assert_now_ms(sim, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(echo_server_and_client_talk_in_the_sim),
    };
    return ah_run_tests(tests);
}
