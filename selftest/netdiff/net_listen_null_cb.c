/* uv_listen with a NULL connection callback is accepted by libuv (it stores the callback and
 * listens); a later uv_listen on the same handle sets the callback, and connections reach it. */
#include "trace.h"

static uv_loop_t *loop;
static uv_tcp_t server, sconn, client;
static uv_connect_t creq;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_connection(uv_stream_t *s, int status)
{
    V("connection_cb", status);
    uv_tcp_init(loop, &sconn);
    sconn.data = "server conn";
    V("accept", uv_accept(s, (uv_stream_t *)&sconn));
    uv_close((uv_handle_t *)&sconn, on_close);
    uv_close((uv_handle_t *)s, on_close);
}

static void on_connect(uv_connect_t *req, int status)
{
    V("connect_cb", status);
    uv_close((uv_handle_t *)req->handle, on_close);
}

int main(void)
{
    struct sockaddr_in a;

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("bind", uv_tcp_bind(&server, (const struct sockaddr *)&a, 0));
    V("listen with a NULL callback", uv_listen((uv_stream_t *)&server, 16, NULL));
    V("is_active", uv_is_active((uv_handle_t *)&server));
    V("run nowait", uv_run(loop, UV_RUN_NOWAIT));
    V("listen again with a callback", uv_listen((uv_stream_t *)&server, 16, on_connection));
    uv_ip4_addr("127.0.0.1", bound_port(&server), &a);
    uv_tcp_init(loop, &client);
    V("connect", uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
