/* A raw socket connected with connect(2) and uv_poll, then adopted by uv_tcp_open: uv_fileno
 * returns it, options set through libuv read back with getsockopt (TCP_NODELAY, buffer sizes,
 * which Linux doubles), and the stream reads and writes the same connection. */
#include "trace.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t *loop;
static uv_tcp_t server, sconn, client;
static uv_poll_t poller;
static uv_write_t w1, w2;
static int fd;
static char rbuf[256];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void alloc_b(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_written(uv_write_t *req, int status)
{
    P("write_cb %s", req == &w1 ? "server" : "client");
    V("  status", status);
}

static void server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n == 0)
        return;
    if (n < 0) {
        V("server read", n);
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    P("server read %.*s", (int)n, buf->base);
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    uv_buf_t b;

    if (n == 0)
        return;
    V("client read", n);
    if (n < 0)
        return;
    P("client got %.*s", (int)n, buf->base);
    b = uv_buf_init("bye", 3);
    V("client write", uv_write(&w2, s, &b, 1, on_written));
    uv_close((uv_handle_t *)s, on_close);
}

static void on_connection(uv_stream_t *s, int status)
{
    uv_buf_t b = uv_buf_init("hi", 2);

    V("server connection", status);
    uv_tcp_init(loop, &sconn);
    sconn.data = "server conn";
    V("server accept", uv_accept(s, (uv_stream_t *)&sconn));
    uv_close((uv_handle_t *)&server, on_close);
    uv_read_start((uv_stream_t *)&sconn, alloc_b, server_read);
    V("server write", uv_write(&w1, (uv_stream_t *)&sconn, &b, 1, on_written));
}

static void adopt(void)
{
    uv_os_fd_t got = -1;
    int v = 0, size;
    socklen_t len = sizeof(v);

    uv_tcp_init(loop, &client);
    client.data = "client";
    V("tcp_open", uv_tcp_open(&client, fd));
    V("tcp_open again", uv_tcp_open(&client, fd));
    V("fileno", uv_fileno((uv_handle_t *)&client, &got));
    P("fileno is the socket %d", got == fd);
    V("nodelay", uv_tcp_nodelay(&client, 1));
    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len);
    P("TCP_NODELAY %d", v != 0);
    size = 65536;
    V("send_buffer_size set", uv_send_buffer_size((uv_handle_t *)&client, &size));
    size = 0;
    V("send_buffer_size get", uv_send_buffer_size((uv_handle_t *)&client, &size));
    P("send buffer %d", size);
    size = 65536;
    V("recv_buffer_size set", uv_recv_buffer_size((uv_handle_t *)&client, &size));
    size = 0;
    V("recv_buffer_size get", uv_recv_buffer_size((uv_handle_t *)&client, &size));
    P("recv buffer %d", size);
    V("readable", uv_is_readable((uv_stream_t *)&client));
    V("writable", uv_is_writable((uv_stream_t *)&client));
    V("read_start", uv_read_start((uv_stream_t *)&client, alloc_b, client_read));
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    V("poll status", status);
    P("poll writable %d", (events & UV_WRITABLE) != 0);
    V("poll stop", uv_poll_stop(h));
    uv_close((uv_handle_t *)h, on_close);
    adopt();
}

int main(void)
{
    struct sockaddr_in a;
    int r;

    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    server.data = "server";
    poller.data = "poll";
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("server bind", uv_tcp_bind(&server, (const struct sockaddr *)&a, 0));
    V("server listen", uv_listen((uv_stream_t *)&server, 16, on_connection));
    uv_ip4_addr("127.0.0.1", bound_port(&server), &a);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    r = connect(fd, (const struct sockaddr *)&a, sizeof(a));
    P("connect %d in progress %d", r, r < 0 && errno == EINPROGRESS);
    V("poll init", uv_poll_init_socket(loop, &poller, fd));
    V("poll start", uv_poll_start(&poller, UV_WRITABLE, on_poll));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
