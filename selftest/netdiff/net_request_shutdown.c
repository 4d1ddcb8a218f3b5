/* Request and response, then the client shuts down its sending side: the server reads EOF, sends
 * a last word and shuts down too; the client reads it and EOF; both close. Writes to a shut
 * stream fail with UV_EPIPE; uv_try_write of a stream without queued writes writes at once. */
#include "trace.h"

static uv_loop_t *loop;
static uv_tcp_t server, sconn, client;
static uv_connect_t creq;
static uv_write_t wreq, sw1, sw2;
static uv_shutdown_t csd, ssd;
static char sbuf[4096], cbuf[4096], req_in[64], resp_in[64];
static size_t req_len, resp_len;

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(sbuf, sizeof(sbuf));
}

static void alloc_c(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(cbuf, sizeof(cbuf));
}

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void server_written(uv_write_t *req, int status)
{
    P("server write_cb %s", req == &sw1 ? "response" : "last word");
    V("  status", status);
}

static void server_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    V("server shutdown_cb", status);
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    static uv_buf_t out;

    if (nread > 0) {
        P("~server read %d", (int)nread);
        memcpy(req_in + req_len, buf->base, (size_t)nread);
        req_len += (size_t)nread;
        if (req_len == 4) {
            P("server request \"%.*s\"", (int)req_len, req_in);
            out = uv_buf_init("PONG", 4);
            V("server write response", uv_write(&sw1, s, &out, 1, server_written));
        }
        return;
    }
    if (nread == 0)
        return;
    V("server read", nread);
    {
        static uv_buf_t last;
        last = uv_buf_init("BYE", 3);
        V("server write last word", uv_write(&sw2, s, &last, 1, server_written));
        V("server shutdown", uv_shutdown(&ssd, s, server_shutdown));
        V("server write after shutdown", uv_write(&sw1, s, &last, 1, server_written));
        V("server try_write after shutdown", uv_try_write(s, &last, 1));
    }
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

static void client_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    V("client shutdown_cb", status);
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        P("~client read %d", (int)nread);
        memcpy(resp_in + resp_len, buf->base, (size_t)nread);
        resp_len += (size_t)nread;
        if (resp_len == 4) {
            P("client response \"%.*s\"", (int)resp_len, resp_in);
            V("client shutdown", uv_shutdown(&csd, s, client_shutdown));
        }
        return;
    }
    if (nread == 0)
        return;
    P("client got \"%.*s\"", (int)resp_len, resp_in);
    V("client read", nread);
    V("client is_readable after EOF", uv_is_readable(s));
    uv_close((uv_handle_t *)s, on_close);
    uv_close((uv_handle_t *)&sconn, on_close);
}

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    V("client write_cb", status);
}

static void on_connect(uv_connect_t *req, int status)
{
    uv_buf_t b = uv_buf_init("PI", 2), b2 = uv_buf_init("NG", 2);

    V("client connect_cb", status);
    V("client try_write", uv_try_write(req->handle, &b, 1));
    V("client write", uv_write(&wreq, req->handle, &b2, 1, on_written));
    V("client read_start", uv_read_start(req->handle, alloc_c, client_read));
}

int main(void)
{
    struct sockaddr_in a;

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("server bind", uv_tcp_bind(&server, (const struct sockaddr *)&a, 0));
    V("server listen", uv_listen((uv_stream_t *)&server, 16, on_connection));
    uv_ip4_addr("127.0.0.1", bound_port(&server), &a);
    uv_tcp_init(loop, &client);
    V("client shutdown before connect", uv_shutdown(&csd, (uv_stream_t *)&client, client_shutdown));
    V("client connect", uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
