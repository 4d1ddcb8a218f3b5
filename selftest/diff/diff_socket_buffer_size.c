/* uv_recv_buffer_size and uv_send_buffer_size on a bound TCP handle and a bound UDP handle (as
 * libuv's test socket_buffer_size): a read answers the size, a set answers 0, and Linux keeps
 * twice what was set. On a handle without a socket yet libuv's getsockopt gets descriptor -1. */
#include "trace.h"

static void check(const char *what, uv_handle_t *h, int (*fn)(uv_handle_t *, int *))
{
    int v = 0;

    V(what, 0);
    V("read", fn(h, &v));
    V("positive", v > 0);
    v = 10000;
    V("set 10000", fn(h, &v));
    v = 0;
    V("read", fn(h, &v));
    V("value", v);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_tcp_t tcp, fresh;
    uv_udp_t udp, fresh_udp;
    int v = 0;

    trace_begin(loop);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &fresh);
    V("tcp without a socket", uv_recv_buffer_size((uv_handle_t *)&fresh, &v));
    uv_udp_init(loop, &fresh_udp);
    V("udp without a socket", uv_recv_buffer_size((uv_handle_t *)&fresh_udp, &v));
    uv_tcp_init(loop, &tcp);
    V("tcp bind", uv_tcp_bind(&tcp, (const struct sockaddr *)&addr, 0));
    check("tcp recv", (uv_handle_t *)&tcp, uv_recv_buffer_size);
    uv_udp_init(loop, &udp);
    V("udp bind", uv_udp_bind(&udp, (const struct sockaddr *)&addr, 0));
    check("udp recv", (uv_handle_t *)&udp, uv_recv_buffer_size);
    check("udp send", (uv_handle_t *)&udp, uv_send_buffer_size);
    uv_close((uv_handle_t *)&fresh, NULL);
    uv_close((uv_handle_t *)&fresh_udp, NULL);
    uv_close((uv_handle_t *)&tcp, NULL);
    uv_close((uv_handle_t *)&udp, NULL);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("close", uv_loop_close(loop));
    return 0;
}
