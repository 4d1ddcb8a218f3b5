/* A raw non-blocking connect to a port nothing listens on: EINPROGRESS, then epoll reports
 * POLLERR, libuv stops the uv_poll and reports UV_EBADF; poll(2) shows the same bits; SO_ERROR
 * is ECONNREFUSED once, then reads say 0 and writes EPIPE. */
#define _GNU_SOURCE 1
#include "errnames.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#ifndef POLLRDHUP /* poll.h came in through uv.h before _GNU_SOURCE */
#define POLLRDHUP 0x2000
#endif
#include <signal.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

static int fcntl_nonblock(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static uv_loop_t *loop;
static uv_tcp_t probe;
static uv_poll_t poller;
static int fd;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct pollfd p;
    int err = 0;
    socklen_t len = sizeof(err);
    char b[4];

    V("poll status", status);
    P("poll events %d active %d", events, uv_is_active((uv_handle_t *)h));
    p.fd = fd;
    p.events = POLLIN | POLLOUT | POLLRDHUP;
    p.revents = 0;
    E("poll(2)", poll(&p, 1, 0));
    P("revents %#x", (unsigned)p.revents);
    E("getsockopt", getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
    P("so_error %s", err ? uv_err_name(-err) : "0");
    E("read", read(fd, b, sizeof(b)));
    E("send", send(fd, "x", 1, MSG_NOSIGNAL));
    E("getpeername", getpeername(fd, NULL, &len));
    uv_close((uv_handle_t *)h, on_close);
    E("close", close(fd));
}

int main(void)
{
    struct sockaddr_in a;
    int port;

    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    probe.data = "probe";
    poller.data = "poll";
    /* a port that was free a moment ago: bind, read it, close */
    uv_tcp_init(loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&probe, (const struct sockaddr *)&a, 0);
    port = bound_port(&probe);
    uv_close((uv_handle_t *)&probe, on_close);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_ip4_addr("127.0.0.1", port, &a);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    E("fcntl", fcntl_nonblock(fd));
    E("connect", connect(fd, (const struct sockaddr *)&a, sizeof(a)));
    V("poll init", uv_poll_init(loop, &poller, fd));
    V("poll start", uv_poll_start(&poller, UV_READABLE | UV_WRITABLE, on_poll));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
