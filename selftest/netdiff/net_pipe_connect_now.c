/* A unix socket's connect(2) completes inside the call when something listens (decision 140):
 * right after uv_pipe_connect the peer's name is known, a client closed right after connecting
 * still reaches the listener's backlog (its connect callback gets UV_ECANCELED, the server
 * accepts it and reads EOF), and the connect callbacks still come from the loop, after the
 * listener's. The path is made unique by the process id and never printed. */
#include "trace.h"

#include <unistd.h>

#define N 3

static uv_loop_t *loop;
static uv_pipe_t server, clients[N], conns[N];
static uv_connect_t reqs[N];
static char path[128], rbuf[256];
static int accepted, eofs[N], bytes[N];

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    int i = (int)(intptr_t)s->data;

    (void)buf;
    if (nread > 0) {
        bytes[i] += (int)nread;
        return;
    }
    if (nread == 0)
        return;
    eofs[i] = nread == UV_EOF ? 1 : -1;
    uv_close((uv_handle_t *)s, NULL);
    if (eofs[0] != 0 && eofs[1] != 0 && eofs[2] != 0)
        uv_close((uv_handle_t *)&server, NULL);
}

static void on_connection(uv_stream_t *s, int status)
{
    V("server connection", status);
    if (accepted == N)
        return;
    uv_pipe_init(loop, &conns[accepted], 0);
    conns[accepted].data = (void *)(intptr_t)accepted;
    V("server accept", uv_accept(s, (uv_stream_t *)&conns[accepted]));
    V("server read_start", uv_read_start((uv_stream_t *)&conns[accepted], alloc_s, server_read));
    accepted++;
}

static void on_connect(uv_connect_t *req, int status)
{
    int i = (int)(req - reqs);
    char b[64];

    snprintf(b, sizeof(b), "client %d connect_cb", i);
    V(b, status);
    if (status == 0)
        uv_close((uv_handle_t *)req->handle, NULL);
}

static void peer_name(int i)
{
    char name[256], what[64];
    size_t len = sizeof(name);

    snprintf(what, sizeof(what), "client %d getpeername", i);
    V(what, uv_pipe_getpeername(&clients[i], name, &len));
    V("  is the path", len == strlen(path) && memcmp(name, path, len) == 0);
    len = sizeof(name);
    snprintf(what, sizeof(what), "client %d getsockname", i);
    V(what, uv_pipe_getsockname(&clients[i], name, &len));
    V("  unnamed", len == 0);
}

int main(void)
{
    static uv_write_t w;
    uv_buf_t b = uv_buf_init("hi", 2);
    int i;

    loop = uv_default_loop();
    snprintf(path, sizeof(path), "/tmp/ahnetdiff-now-%d.sock", (int)getpid());
    unlink(path);

    V("server init", uv_pipe_init(loop, &server, 0));
    V("server bind", uv_pipe_bind(&server, path));
    V("server listen", uv_listen((uv_stream_t *)&server, 8, on_connection));
    for (i = 0; i < N; i++) {
        uv_pipe_init(loop, &clients[i], 0);
        uv_pipe_connect(&reqs[i], &clients[i], path, on_connect);
        peer_name(i);
    }
    /* Client 1 gives up at once: its connection is in the backlog all the same. */
    uv_close((uv_handle_t *)&clients[1], NULL);
    /* Client 2 writes while its connect is reported: the bytes reach the server. */
    V("client 2 write", uv_write(&w, (uv_stream_t *)&clients[2], &b, 1, NULL));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    for (i = 0; i < N; i++)
        P("server conn %d: %d bytes, %s", i, bytes[i], eofs[i] == 1 ? "EOF" : "no EOF");

    /* The listener closes with a connection in its backlog: the client's connect had
     * succeeded, and the reset of its embryo is the socket's error when libuv checks it. */
    V("server init", uv_pipe_init(loop, &server, 0));
    V("server bind", uv_pipe_bind(&server, path));
    V("server listen", uv_listen((uv_stream_t *)&server, 8, on_connection));
    uv_pipe_init(loop, &clients[0], 0);
    uv_pipe_connect(&reqs[0], &clients[0], path, on_connect);
    peer_name(0);
    uv_close((uv_handle_t *)&server, NULL);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    unlink(path);
    return scenario_end(loop);
}
