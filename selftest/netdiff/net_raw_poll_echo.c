/* A raw non-blocking socket (socket/connect/read/write, as hiredis's adapter does) waited on with
 * uv_poll, against a uv_tcp_t server: EINPROGRESS, writable once connected, SO_ERROR 0, EAGAIN on
 * an empty read, MSG_PEEK, FIONREAD, then the server's reset: POLLERR stops the uv_poll with
 * UV_EBADF, read says ECONNRESET once and then 0, a write EPIPE. */
#define _GNU_SOURCE 1
#include "errnames.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#ifndef POLLRDHUP /* poll.h came in through uv.h before _GNU_SOURCE */
#define POLLRDHUP 0x2000
#endif
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t *loop;
static uv_tcp_t server, sconn;
static uv_poll_t poller;
static uv_write_t w;
static int fd, stage;
static char rbuf[256];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    V("server write_cb", status);
}

static void server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    uv_buf_t b;

    if (n == 0)
        return;
    if (n < 0) {
        V("server read", n);
        return;
    }
    P("server read %.*s", (int)n, buf->base);
    b = uv_buf_init("world", 5);
    V("server write", uv_write(&w, s, &b, 1, on_written));
    uv_read_stop(s);
}

static void on_connection(uv_stream_t *s, int status)
{
    V("server connection", status);
    uv_tcp_init(loop, &sconn);
    sconn.data = "server conn";
    V("server accept", uv_accept(s, (uv_stream_t *)&sconn));
    uv_close((uv_handle_t *)&server, on_close);
    uv_read_start((uv_stream_t *)&sconn, alloc_s, server_read);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    char b[16];
    int err = -1, n;
    socklen_t len = sizeof(err);
    ssize_t r;

    if (status < 0) {
        /* the reset: epoll says POLLERR, libuv stops the handle */
        V("poll status", status);
        V("poll active", uv_is_active((uv_handle_t *)h));
        E("read after reset", read(fd, b, sizeof(b)));
        E("read after error", read(fd, b, sizeof(b)));
        E("send after reset", send(fd, "x", 1, MSG_NOSIGNAL));
        uv_close((uv_handle_t *)h, on_close);
        E("close", close(fd));
        return;
    }
    if (stage == 0 && (events & UV_WRITABLE)) {
        stage = 1;
        P("poll writable");
        E("getsockopt", getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
        P("so_error %d", err);
        E("read empty", read(fd, b, sizeof(b)));
        E("write", write(fd, "hello", 5));
        V("poll start readable", uv_poll_start(h, UV_READABLE | UV_DISCONNECT, on_poll));
        return;
    }
    if (stage == 1 && (events & UV_READABLE)) {
        ioctl(fd, FIONREAD, &n);
        if (n < 5)
            return; /* not all of it yet */
        stage = 2;
        P("poll readable%s", events & UV_DISCONNECT ? " disconnect" : "");
        E("fionread", n);
        r = recv(fd, b, 3, MSG_PEEK);
        P("peek %d %.*s", (int)r, (int)r, b);
        r = read(fd, b, sizeof(b));
        P("read %d %.*s", (int)r, (int)r, b);
        E("read again", read(fd, b, sizeof(b)));
        V("server close_reset", uv_tcp_close_reset(&sconn, on_close));
        return;
    }
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
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    P("socket %s", fd >= 0 ? "ok" : "failed");
    r = connect(fd, (const struct sockaddr *)&a, sizeof(a));
    E("connect", r);
    V("poll init", uv_poll_init_socket(loop, &poller, fd));
    V("poll start", uv_poll_start(&poller, UV_WRITABLE, on_poll));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
