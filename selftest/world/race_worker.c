/* A worker of the cross-process race (docs/world.md): connects to its supervisor at
 * 127.0.0.1:PORT (argv[2]), registers with its name (argv[1]), and exits when the supervisor
 * closes the connection. Plain libuv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_tcp_t tcp;
static uv_connect_t creq;
static uv_write_t wr;
static char line[32];

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char b[64];
    (void)h;
    (void)size;
    *buf = uv_buf_init(b, sizeof(b));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n < 0)
        uv_close((uv_handle_t *)s, NULL);
}

static void connect_cb(uv_connect_t *req, int status)
{
    uv_buf_t b = uv_buf_init(line, (unsigned)strlen(line));
    (void)req;
    if (status < 0) {
        fprintf(stderr, "worker: connect: %s\n", uv_err_name(status));
        uv_close((uv_handle_t *)&tcp, NULL);
        return;
    }
    uv_write(&wr, (uv_stream_t *)&tcp, &b, 1, NULL);
    uv_read_start((uv_stream_t *)&tcp, alloc_cb, read_cb);
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    uv_loop_t *loop = uv_default_loop();

    if (argc < 3)
        return 2;
    snprintf(line, sizeof(line), "%s\n", argv[1]);
    uv_ip4_addr("127.0.0.1", atoi(argv[2]), &a);
    uv_tcp_init(loop, &tcp);
    uv_tcp_connect(&creq, &tcp, (const struct sockaddr *)&a, connect_cb);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
