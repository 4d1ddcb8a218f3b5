/* uv_shutdown while the connect is in progress, with no write queued (a write after it fails
 * with UV_EPIPE). In libuv 1.44 the connect completes from the pending queue the shutdown fed,
 * stops watching for POLLOUT because no write is queued, and the shutdown never goes out: it
 * waits until the close cancels it. The sim must do the same (found the pending-queue connect). */
#include "trace.h"

static uv_loop_t *loop;
static uv_tcp_t server, sconn, client;
static uv_connect_t creq;
static uv_write_t w;
static uv_shutdown_t sd;
static char rbuf[256];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        P("~server read \"%.*s\"", (int)nread, buf->base);
        return;
    }
    if (nread == 0)
        return;
    V("server read", nread);
    uv_close((uv_handle_t *)s, on_close);
    uv_close((uv_handle_t *)&client, on_close);
}

static void on_connection(uv_stream_t *s, int status)
{
    V("server connection", status);
    uv_tcp_init(loop, &sconn);
    sconn.data = "server conn";
    V("server accept", uv_accept(s, (uv_stream_t *)&sconn));
    V("server read_start", uv_read_start((uv_stream_t *)&sconn, alloc_s, server_read));
    uv_close((uv_handle_t *)&server, on_close);
}

static uv_timer_t timer;

static void on_timer(uv_timer_t *t)
{
    P("timer: the shutdown is still pending, the server has no EOF; closing");
    /* Before libuv 1.42 the write queued after the shutdown is sent and the shutdown completes:
     * both streams are closed by now. */
    if (!uv_is_closing((uv_handle_t *)&client))
        uv_close((uv_handle_t *)&client, on_close);
    if (!uv_is_closing((uv_handle_t *)&sconn))
        uv_close((uv_handle_t *)&sconn, on_close);
    uv_close((uv_handle_t *)t, on_close);
}

static void on_connect(uv_connect_t *req, int status)
{
    (void)req;
    V("client connect_cb", status);
    timer.data = "timer";
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_timer, 50, 0);
}

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    V("client write_cb", status);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    V("client shutdown_cb", status);
}

int main(void)
{
    struct sockaddr_in a;
    uv_buf_t b = uv_buf_init("early", 5);

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("server bind", uv_tcp_bind(&server, (const struct sockaddr *)&a, 0));
    V("server listen", uv_listen((uv_stream_t *)&server, 16, on_connection));
    uv_ip4_addr("127.0.0.1", bound_port(&server), &a);
    uv_tcp_init(loop, &client);
    V("client connect", uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect));
    V("client shutdown while connecting", uv_shutdown(&sd, (uv_stream_t *)&client, on_shutdown));
    V("client write after shutdown", uv_write(&w, (uv_stream_t *)&client, &b, 1, on_written));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
