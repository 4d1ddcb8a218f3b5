/* uv_udp_try_send with no buffers: from libuv 1.50 it answers UV_EINVAL (libuv's test
 * udp_try_send); before, libuv asserts, so older versions only send one datagram here. */
#include "trace.h"

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_udp_t client;
    uv_buf_t buf = uv_buf_init("EXIT", 4);

    trace_begin(loop);
    uv_ip4_addr("127.0.0.1", 9, &addr);
    V("init", uv_udp_init(loop, &client));
#if UV_VERSION_HEX >= 0x013200
    V("no buffers", uv_udp_try_send(&client, &buf, 0, (const struct sockaddr *)&addr));
#endif
    V("one buffer", uv_udp_try_send(&client, &buf, 1, (const struct sockaddr *)&addr));
    uv_close((uv_handle_t *)&client, NULL);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return 0;
}
