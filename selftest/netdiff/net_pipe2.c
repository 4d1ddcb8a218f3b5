/* uv_pipe_bind2 and uv_pipe_connect2 (libuv 1.46+): flags and length checks, a name given with
 * its length (not NUL-terminated), UV_PIPE_NO_TRUNCATE, then a connect and an accept. Built
 * against an older uv.h the scenario only says so, on both sides. */
#include "trace.h"

#include <unistd.h>

#if UV_VERSION_HEX >= 0x012e00
static uv_loop_t *loop;
static uv_pipe_t server, sconn, client;
static uv_connect_t creq, bad;
static char path[128];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_connection(uv_stream_t *s, int status)
{
    V("server connection", status);
    uv_pipe_init(loop, &sconn, 0);
    sconn.data = "server conn";
    V("server accept", uv_accept(s, (uv_stream_t *)&sconn));
    uv_close((uv_handle_t *)&sconn, on_close);
    uv_close((uv_handle_t *)s, on_close);
}

static void on_connect(uv_connect_t *req, int status)
{
    char name[256];
    size_t len = sizeof(name);

    V("client connect_cb", status);
    V("client getpeername", uv_pipe_getpeername(&client, name, &len));
    V("  is the path", len == strlen(path) && memcmp(name, path, len) == 0);
    uv_close((uv_handle_t *)req->handle, on_close);
}

int main(void)
{
    char named[300], longname[200];

    loop = uv_default_loop();
    snprintf(path, sizeof(path), "/tmp/ahnetdiff2-%d.sock", (int)getpid());
    unlink(path);
    server.data = "server";
    client.data = "client";
    /* The name followed by bytes that are not part of it: only namelen counts. */
    snprintf(named, sizeof(named), "%sXYZ", path);
    memset(longname, 'a', sizeof(longname));
    longname[0] = '/';

    V("server init", uv_pipe_init(loop, &server, 0));
    V("bind2 unknown flag", uv_pipe_bind2(&server, path, strlen(path), 2));
    V("bind2 NULL name", uv_pipe_bind2(&server, NULL, 4, 0));
    V("bind2 long name, no truncate",
      uv_pipe_bind2(&server, longname, sizeof(longname), UV_PIPE_NO_TRUNCATE));
    V("bind2", uv_pipe_bind2(&server, named, strlen(path), UV_PIPE_NO_TRUNCATE));
    V("bind2 again", uv_pipe_bind2(&server, named, strlen(path), 0));
    V("server listen", uv_listen((uv_stream_t *)&server, 4, on_connection));

    uv_pipe_init(loop, &client, 0);
    V("connect2 unknown flag", uv_pipe_connect2(&bad, &client, path, strlen(path), 4, NULL));
    V("connect2 empty name", uv_pipe_connect2(&bad, &client, path, 0, 0, NULL));
    V("connect2", uv_pipe_connect2(&creq, &client, named, strlen(path), 0, on_connect));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    unlink(path);
    return scenario_end(loop);
}
#else
int main(void)
{
    P("uv_pipe_bind2 and uv_pipe_connect2 need libuv 1.46");
    return 0;
}
#endif
