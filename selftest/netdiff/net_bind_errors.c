/* Binding where the host cannot: a TCP bind to an address that is not the host's gives
 * UV_EADDRNOTAVAIL (and the handle can still be bound elsewhere); a pipe bound at a path whose
 * folder does not exist gives UV_EACCES (libuv turns ENOENT into it), one under a file
 * UV_ENOTDIR. */
#include "trace.h"

#include <stdio.h>
#include <unistd.h>

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t tcp;
    uv_pipe_t p1, p2, p3;
    struct sockaddr_in a;
    struct sockaddr_in6 a6;
    char path[128];

    tcp.data = "tcp";
    p1.data = "p1";
    p2.data = "p2";
    p3.data = "p3";
    uv_tcp_init(loop, &tcp);
    uv_ip4_addr("192.0.2.1", 0, &a);
    V("tcp bind a non-local address", uv_tcp_bind(&tcp, (const struct sockaddr *)&a, 0));
    uv_ip6_addr("::1", 0, &a6);
    V("tcp bind the other family after it", uv_tcp_bind(&tcp, (const struct sockaddr *)&a6, 0));
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("tcp bind loopback after it", uv_tcp_bind(&tcp, (const struct sockaddr *)&a, 0));
    uv_close((uv_handle_t *)&tcp, on_close);

    uv_pipe_init(loop, &p1, 0);
    V("pipe bind in a missing folder", uv_pipe_bind(&p1, "/ah-no-such-folder/x.sock"));
    uv_close((uv_handle_t *)&p1, on_close);
    uv_pipe_init(loop, &p2, 0);
    V("pipe bind under a file", uv_pipe_bind(&p2, "/etc/passwd/x.sock"));
    uv_close((uv_handle_t *)&p2, on_close);
    uv_pipe_init(loop, &p3, 0);
    snprintf(path, sizeof(path), "/tmp/ah-netdiff-%d.sock", (int)getpid());
    V("pipe bind in /tmp", uv_pipe_bind(&p3, path));
    uv_close((uv_handle_t *)&p3, on_close);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    unlink(path);
    return scenario_end(loop);
}
