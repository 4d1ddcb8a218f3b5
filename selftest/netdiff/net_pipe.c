/* Unix-domain pipes: a connect to a path with no socket fails with UV_ENOENT, to a path bound but
 * not listening with UV_ECONNREFUSED (both through the loop); then a connect, an exchange, names,
 * and EOF. The path is made unique by the process id and never printed. */
#include "trace.h"

#include <unistd.h>

static uv_loop_t *loop;
static uv_pipe_t server, sconn, client, early, refused;
static uv_connect_t c1, c2, c3;
static uv_write_t w;
static char path[128], rbuf[256];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_early(uv_connect_t *req, int status)
{
    V(req == &c1 ? "connect to nothing" : "connect to a bound path", status);
    uv_close((uv_handle_t *)req->handle, on_close);
}

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        P("~server read \"%.*s\"", (int)nread, buf->base);
        return;
    }
    if (nread == 0)
        return;
    V("server read", nread);
    uv_close((uv_handle_t *)s, on_close);
    uv_close((uv_handle_t *)&server, on_close);
}

static void on_connection(uv_stream_t *s, int status)
{
    char name[256];
    size_t len = sizeof(name);

    V("server connection", status);
    uv_pipe_init(loop, &sconn, 0);
    sconn.data = "server conn";
    V("server accept", uv_accept(s, (uv_stream_t *)&sconn));
    V("server getsockname", uv_pipe_getsockname(&sconn, name, &len));
    V("  is the path", len == strlen(path) && memcmp(name, path, len) == 0);
    V("server read_start", uv_read_start((uv_stream_t *)&sconn, alloc_s, server_read));
}

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    V("client write_cb", status);
    uv_close((uv_handle_t *)&client, on_close);
}

static void on_connect(uv_connect_t *req, int status)
{
    static uv_buf_t b;
    char name[256];
    size_t len = sizeof(name);

    V("client connect_cb", status);
    V("client getpeername", uv_pipe_getpeername(&client, name, &len));
    V("  is the path", len == strlen(path) && memcmp(name, path, len) == 0);
    len = 4;
    V("client getpeername short buffer", uv_pipe_getpeername(&client, name, &len));
    V("  needed", len == strlen(path) + 1);
    b = uv_buf_init("ping", 4);
    V("client write", uv_write(&w, req->handle, &b, 1, on_written));
}

int main(void)
{
    loop = uv_default_loop();
    snprintf(path, sizeof(path), "/tmp/ahnetdiff-%d.sock", (int)getpid());
    unlink(path);
    server.data = "server";
    client.data = "client";
    early.data = "early";
    refused.data = "refused";

    uv_pipe_init(loop, &early, 0);
    uv_pipe_connect(&c1, &early, path, on_early);
    P("connect to nothing started");
    V("run", uv_run(loop, UV_RUN_DEFAULT));

    V("server init", uv_pipe_init(loop, &server, 0));
    V("server bind", uv_pipe_bind(&server, path));
    V("server bind again", uv_pipe_bind(&server, path));
    uv_pipe_init(loop, &refused, 0);
    uv_pipe_connect(&c2, &refused, path, on_early);
    V("run", uv_run(loop, UV_RUN_DEFAULT));

    V("server listen", uv_listen((uv_stream_t *)&server, 4, on_connection));
    uv_pipe_init(loop, &client, 0);
    uv_pipe_connect(&c3, &client, path, on_connect);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    unlink(path);
    return scenario_end(loop);
}
