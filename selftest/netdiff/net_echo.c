/* An echo server and its client on one loop: connect, accept, a write of two buffers, echo of
 * every chunk the server reads, the client's shutdown, EOF on both sides, and the closes. */
#include "trace.h"

#include <stdlib.h>

static uv_loop_t *loop;
static uv_tcp_t server, sconn, client;
static uv_connect_t creq;
static uv_write_t wreq;
static uv_shutdown_t sreq;
static char sbuf[65536], cbuf[65536];
static size_t client_got, server_got;
#define MSG "hello world"

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(sbuf, sizeof(sbuf));
}

static void alloc_c(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(cbuf + client_got, (unsigned)(sizeof(cbuf) - client_got));
}

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_echo_written(uv_write_t *req, int status)
{
    V("~server write_cb", status);
    free(req);
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        uv_write_t *req = malloc(sizeof(*req) + (size_t)nread);
        uv_buf_t out = uv_buf_init((char *)(req + 1), (unsigned)nread);
        memcpy(out.base, buf->base, (size_t)nread);
        P("~server read %d", (int)nread);
        server_got += (size_t)nread;
        if (server_got == sizeof(MSG) - 1)
            P("server got all %d bytes", (int)server_got);
        V("~server echo", uv_write(req, s, &out, 1, on_echo_written));
        return;
    }
    if (nread == 0)
        return;
    V("server read", nread);
    V("server is_readable after EOF", uv_is_readable(s));
    V("server is_writable after EOF", uv_is_writable(s));
    uv_close((uv_handle_t *)s, on_close);
    uv_close((uv_handle_t *)&server, on_close);
}

static void on_connection(uv_stream_t *s, int status)
{
    V("server connection", status);
    V("server init conn", uv_tcp_init(loop, &sconn));
    sconn.data = "server conn";
    V("server accept", uv_accept(s, (uv_stream_t *)&sconn));
    V("server read_start", uv_read_start((uv_stream_t *)&sconn, alloc_s, server_read));
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    V("client shutdown_cb", status);
    V("client is_writable after shutdown", uv_is_writable((uv_stream_t *)&client));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread > 0) {
        P("~client read %d", (int)nread);
        client_got += (size_t)nread;
        if (client_got == sizeof(MSG) - 1) {
            P("client got back \"%.*s\"", (int)client_got, cbuf);
            V("client shutdown", uv_shutdown(&sreq, s, on_shutdown));
            V("client shutdown again", uv_shutdown(&sreq, s, on_shutdown));
        }
        return;
    }
    if (nread == 0)
        return;
    V("client read", nread);
    uv_close((uv_handle_t *)s, on_close);
}

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    V("client write_cb", status);
}

static void on_connect(uv_connect_t *req, int status)
{
    uv_buf_t bufs[2] = {uv_buf_init("hello ", 6), uv_buf_init("world", 5)};

    V("client connect_cb", status);
    V("client is_readable", uv_is_readable(req->handle));
    V("client is_writable", uv_is_writable(req->handle));
    V("client write", uv_write(&wreq, req->handle, bufs, 2, on_written));
    V("client write_queue_size", (long long)uv_stream_get_write_queue_size(req->handle));
    V("client read_start", uv_read_start(req->handle, alloc_c, client_read));
    V("client read_start again", uv_read_start(req->handle, alloc_c, client_read));
}

int main(void)
{
    struct sockaddr_in a;
    int port;

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    V("server init", uv_tcp_init(loop, &server));
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("server bind", uv_tcp_bind(&server, (const struct sockaddr *)&a, 0));
    V("server listen", uv_listen((uv_stream_t *)&server, 16, on_connection));
    port = bound_port(&server);
    V("server port is set", port > 0);
    V("client init", uv_tcp_init(loop, &client));
    V("client is_readable before connect", uv_is_readable((uv_stream_t *)&client));
    uv_ip4_addr("127.0.0.1", port, &a);
    V("client connect", uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect));
    V("client connect again",
      uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
