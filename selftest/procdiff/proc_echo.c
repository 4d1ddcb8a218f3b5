/* /bin/echo with its stdout on a pipe: the output, then EOF, then exit_cb(0, 0), then the close
 * callbacks; a missing program fails synchronously with UV_ENOENT and its handle must still be
 * closed; /bin/sh -c 'exit 3' gives exit_cb(3, 0). */
#include "trace.h"

static uv_loop_t *loop;
static uv_process_t p1, p2, p3;
static uv_pipe_t out, out2;
static char rbuf[256];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0) {
        P("~%s read \"%.*s\"", (const char *)s->data, (int)n, buf->base);
        return;
    }
    if (n == 0) {
        P("~%s read 0", (const char *)s->data);
        return;
    }
    P("%s read %s", (const char *)s->data, uv_err_name((int)n));
    uv_close((uv_handle_t *)s, on_close);
}

static uv_process_options_t o;
static uv_stdio_container_t stdio[3];
static char *sh_args[] = {"sh", "-c", "exit 3", NULL};

static void exit_cb(uv_process_t *p, int64_t status, int term)
{
    P("%s exit_cb status=%d term=%d active=%d", (const char *)p->data, (int)status, term,
      uv_is_active((uv_handle_t *)p));
    uv_close((uv_handle_t *)p, on_close);
    if (p == &p1) {
        stdio[1].flags = UV_IGNORE;
        o.file = "/bin/sh";
        o.args = sh_args;
        V("spawn sh", uv_spawn(loop, &p3, &o));
    }
}

int main(void)
{
    char *echo_args[] = {"echo", "hello", "world", NULL};
    char *missing_args[] = {"no-such-program-xyz", NULL};

    loop = uv_default_loop();
    p1.data = "echo";
    p2.data = "missing";
    p3.data = "sh";
    out.data = "echo stdout";
    out2.data = "missing stdout";

    memset(&o, 0, sizeof(o));
    memset(stdio, 0, sizeof(stdio));
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    o.exit_cb = exit_cb;
    o.stdio = stdio;
    o.stdio_count = 3;

    uv_pipe_init(loop, &out2, 0);
    stdio[1].data.stream = (uv_stream_t *)&out2;
    o.file = "no-such-program-xyz";
    o.args = missing_args;
    V("spawn missing", uv_spawn(loop, &p2, &o));
    V("  active", uv_is_active((uv_handle_t *)&p2));
    V("  type", uv_handle_get_type((uv_handle_t *)&p2) == UV_PROCESS);
    V("  stdout readable", uv_is_readable((uv_stream_t *)&out2));
    V("read_start missing", uv_read_start((uv_stream_t *)&out2, alloc_cb, read_cb));
    V("loop_close busy", uv_loop_close(loop));
    uv_close((uv_handle_t *)&p2, on_close);
    V("run", uv_run(loop, UV_RUN_DEFAULT));

    uv_pipe_init(loop, &out, 0);
    stdio[1].data.stream = (uv_stream_t *)&out;
    o.file = "/bin/echo";
    o.args = echo_args;
    V("spawn echo", uv_spawn(loop, &p1, &o));
    V("  pid > 0", uv_process_get_pid(&p1) > 0);
    V("  active", uv_is_active((uv_handle_t *)&p1));
    V("  stdout readable", uv_is_readable((uv_stream_t *)&out));
    V("  stdout writable", uv_is_writable((uv_stream_t *)&out));
    V("read_start", uv_read_start((uv_stream_t *)&out, alloc_cb, read_cb));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("kill reaped", uv_process_kill(&p3, SIGTERM));
    return scenario_end(loop);
}
