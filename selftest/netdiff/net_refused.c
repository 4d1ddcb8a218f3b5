/* A connect to a loopback port where nothing listens fails with UV_ECONNREFUSED, through the
 * loop (never from uv_tcp_connect itself); a write queued meanwhile is cancelled after it. The
 * port is one a listener had and released, so nothing listens there. */
#include "trace.h"

static uv_loop_t *loop;
static uv_tcp_t probe, client;
static uv_connect_t creq;
static uv_write_t wreq;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    V("write_cb", status);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    V("connect_cb", status);
    V("is_readable", uv_is_readable(req->handle));
    V("is_writable", uv_is_writable(req->handle));
    V("getpeername", uv_tcp_getpeername((uv_tcp_t *)req->handle, (struct sockaddr *)&ss, &len));
    uv_close((uv_handle_t *)req->handle, on_close);
}

static void on_connection(uv_stream_t *s, int status)
{
    (void)s, (void)status;
    P("connection_cb must not run");
}

int main(void)
{
    struct sockaddr_in a;
    uv_buf_t b = uv_buf_init("x", 1);
    int port;

    loop = uv_default_loop();
    probe.data = "probe";
    client.data = "client";
    uv_tcp_init(loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("probe bind", uv_tcp_bind(&probe, (const struct sockaddr *)&a, 0));
    V("probe listen", uv_listen((uv_stream_t *)&probe, 1, on_connection));
    port = bound_port(&probe);
    uv_close((uv_handle_t *)&probe, on_close);
    V("run until the probe is closed", uv_run(loop, UV_RUN_DEFAULT));

    V("client init", uv_tcp_init(loop, &client));
    uv_ip4_addr("127.0.0.1", port, &a);
    V("connect", uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect));
    V("write while connecting", uv_write(&wreq, (uv_stream_t *)&client, &b, 1, on_written));
    V("write_queue_size while connecting",
      (long long)uv_stream_get_write_queue_size((uv_stream_t *)&client));
    V("try_write while connecting", uv_try_write((uv_stream_t *)&client, &b, 1));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
