/* libuv 1.41's uv_socketpair and uv_pipe: a socketpair whose ends are adopted by uv_pipe_open
 * carries bytes both ways and ends with EOF; uv_pipe's descriptors are a real pipe (its read
 * end is polled by the loop, which the harness does not simulate: only its creation and flags
 * are compared here). Before 1.41 the scenario prints only its first line. */
#include "trace.h"

#include <fcntl.h>
#include <unistd.h>

#if UV_VERSION_HEX >= 0x012900
static uv_loop_t *loop;
static uv_pipe_t a, b;
static uv_write_t w;
static char rbuf[64];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *buf)
{
    (void)h, (void)n;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n == 0)
        return;
    if (n < 0) {
        V("b read", n);
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    P("~b read %.*s", (int)n, buf->base);
}

static void write_cb(uv_write_t *req, int status)
{
    (void)req;
    V("a write_cb", status);
    uv_close((uv_handle_t *)&a, on_close);
}
#endif

int main(void)
{
#if UV_VERSION_HEX >= 0x012900
    uv_file fds[2];
    uv_os_sock_t sv[2];
    uv_buf_t buf = uv_buf_init("hello", 5);

    loop = uv_default_loop();
    a.data = "a";
    b.data = "b";
    V("pipe", uv_pipe(fds, UV_NONBLOCK_PIPE, 0));
    V("  read end nonblocking", (fcntl(fds[0], F_GETFL) & O_NONBLOCK) != 0);
    V("  write end nonblocking", (fcntl(fds[1], F_GETFL) & O_NONBLOCK) != 0);
    V("  cloexec", (fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
    close(fds[0]);
    close(fds[1]);
    V("socketpair bad type", uv_socketpair(12345, 0, sv, 0, 0));
    V("socketpair", uv_socketpair(SOCK_STREAM, 0, sv, UV_NONBLOCK_PIPE, 0));
    V("  first nonblocking", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0);
    V("  second nonblocking", (fcntl(sv[1], F_GETFL) & O_NONBLOCK) != 0);
    V("a init", uv_pipe_init(loop, &a, 0));
    V("b init", uv_pipe_init(loop, &b, 0));
    V("a open", uv_pipe_open(&a, sv[0]));
    V("b open", uv_pipe_open(&b, sv[1]));
    V("b read_start", uv_read_start((uv_stream_t *)&b, alloc_cb, read_cb));
    V("a write", uv_write(&w, (uv_stream_t *)&a, &buf, 1, write_cb));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
#else
    return 0;
#endif
}
