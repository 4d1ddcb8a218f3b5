/* Stream calls on a listening TCP handle, which is neither readable nor writable (libuv's test
 * tcp_bind_writable_flags): uv_write answers UV_EPIPE, uv_shutdown UV_ENOTCONN, and uv_read_start
 * UV_ENOTCONN; with NULL callbacks that is UV_ENOTCONN up to 1.40 and UV_EINVAL from 1.41, which
 * checks the callbacks first. */
#include "trace.h"

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) { (void)h, (void)size, (void)buf; }
static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) { (void)s, (void)n, (void)buf; }
static void on_connection(uv_stream_t *s, int status) { (void)s, (void)status; }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_tcp_t server;
    uv_write_t w;
    uv_shutdown_t sh;
    uv_buf_t buf = uv_buf_init("PING", 4);

    trace_begin(loop);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    V("init", uv_tcp_init(loop, &server));
    V("bind", uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0));
    V("listen", uv_listen((uv_stream_t *)&server, 16, on_connection));
    V("writable", uv_is_writable((uv_stream_t *)&server));
    V("readable", uv_is_readable((uv_stream_t *)&server));
    V("write", uv_write(&w, (uv_stream_t *)&server, &buf, 1, NULL));
    V("shutdown", uv_shutdown(&sh, (uv_stream_t *)&server, NULL));
    V("read_start", uv_read_start((uv_stream_t *)&server, alloc_cb, read_cb));
    V("read_start NULL callbacks", uv_read_start((uv_stream_t *)&server, NULL, NULL));
    uv_close((uv_handle_t *)&server, NULL);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return 0;
}
