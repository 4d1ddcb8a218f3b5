/* /bin/cat fed through a stdin pipe: the write completes, the shutdown completes, cat echoes the
 * bytes on its stdout pipe, then EOF, then exit_cb(0, 0). */
#include "trace.h"

static uv_loop_t *loop;
static uv_process_t proc;
static uv_pipe_t in, out;
static uv_write_t wreq;
static uv_shutdown_t sreq;
static char rbuf[256], got[256];
static size_t ngot;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0) {
        P("~read %d", (int)n);
        memcpy(got + ngot, buf->base, (size_t)n);
        ngot += (size_t)n;
        return;
    }
    if (n == 0)
        return;
    P("stdout read %s after \"%.*s\"", uv_err_name((int)n), (int)ngot, got);
    uv_close((uv_handle_t *)s, on_close);
}

static void exit_cb(uv_process_t *p, int64_t status, int term)
{
    P("exit_cb status=%d term=%d", (int)status, term);
    uv_close((uv_handle_t *)p, on_close);
}

static void write_cb(uv_write_t *req, int status)
{
    (void)req;
    V("write_cb", status);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)req;
    V("shutdown_cb", status);
    uv_close((uv_handle_t *)&in, on_close);
}

int main(void)
{
    uv_process_options_t o;
    uv_stdio_container_t stdio[3];
    char *args[] = {"cat", NULL};
    uv_buf_t b = uv_buf_init("ping pong\n", 10);

    loop = uv_default_loop();
    proc.data = "cat";
    in.data = "stdin";
    out.data = "stdout";
    memset(&o, 0, sizeof(o));
    memset(stdio, 0, sizeof(stdio));
    uv_pipe_init(loop, &in, 0);
    uv_pipe_init(loop, &out, 0);
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&in;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&out;
    stdio[2].flags = UV_IGNORE;
    o.file = "cat";
    o.args = args;
    o.exit_cb = exit_cb;
    o.stdio = stdio;
    o.stdio_count = 3;
    V("spawn", uv_spawn(loop, &proc, &o));
    V("stdin writable", uv_is_writable((uv_stream_t *)&in));
    V("stdin readable", uv_is_readable((uv_stream_t *)&in));
    V("read_start", uv_read_start((uv_stream_t *)&out, alloc_cb, read_cb));
    V("write", uv_write(&wreq, (uv_stream_t *)&in, &b, 1, write_cb));
    V("shutdown", uv_shutdown(&sreq, (uv_stream_t *)&in, shutdown_cb));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
