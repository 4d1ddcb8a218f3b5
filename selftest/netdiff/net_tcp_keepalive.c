/* uv_tcp_keepalive: before the handle has a socket it only remembers "on" (the socket gets a 60 s
 * delay when it is made, whatever was asked); with a socket, a zero delay or one above Linux's
 * 32767 s is UV_EINVAL (SO_KEEPALIVE is set first), and the delay shows in TCP_KEEPIDLE. */
#define _GNU_SOURCE 1
#include "trace.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void show(uv_tcp_t *h, const char *when)
{
    uv_os_fd_t fd;
    int on = -1, idle = -1;
    socklen_t len = sizeof(int);

    if (uv_fileno((uv_handle_t *)h, &fd) != 0) {
        P("%s: no socket", when);
        return;
    }
    getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len);
    len = sizeof(int);
    getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len);
    P("%s: keepalive=%d idle=%d", when, on != 0, idle);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t h, h2;
    struct sockaddr_in a;

    V("init", uv_tcp_init(loop, &h));
    V("keepalive on 0 before a socket", uv_tcp_keepalive(&h, 1, 0));
    V("keepalive on 30 before a socket", uv_tcp_keepalive(&h, 1, 30));
    show(&h, "before bind");
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("bind", uv_tcp_bind(&h, (const struct sockaddr *)&a, 0));
    show(&h, "after bind");
    V("keepalive on 0", uv_tcp_keepalive(&h, 1, 0));
    V("keepalive on 40000", uv_tcp_keepalive(&h, 1, 40000));
    V("keepalive on 45", uv_tcp_keepalive(&h, 1, 45));
    show(&h, "on 45");
    V("keepalive off 0", uv_tcp_keepalive(&h, 0, 0));
    show(&h, "off");
    V("init_ex", uv_tcp_init_ex(loop, &h2, AF_INET));
    V("keepalive on 0 with a socket", uv_tcp_keepalive(&h2, 1, 0));
    show(&h2, "init_ex on 0");
    uv_close((uv_handle_t *)&h, NULL);
    uv_close((uv_handle_t *)&h2, NULL);
    return scenario_end(loop);
}
