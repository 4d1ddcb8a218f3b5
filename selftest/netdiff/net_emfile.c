/* A connection that arrives while the process is out of descriptors (RLIMIT_NOFILE) is accepted
 * and closed by libuv's EMFILE trick: the connection callback never hears of it and the client
 * reads EOF. With the limit raised again, the next connection reaches the callback. */
#include "trace.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

static uv_loop_t *loop;
static uv_tcp_t server, sconn, c1, c2;
static uv_connect_t r1, r2;
static uv_timer_t timer;
static struct rlimit saved;
static char rbuf[64];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_connection(uv_stream_t *s, int status)
{
    V("connection_cb", status);
    uv_tcp_init(loop, &sconn);
    sconn.data = "server conn";
    V("accept", uv_accept(s, (uv_stream_t *)&sconn));
    uv_close((uv_handle_t *)&sconn, on_close);
    uv_close((uv_handle_t *)s, on_close);
}

static void alloc_c(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread == 0)
        return;
    P("%s read %s", (const char *)s->data, rc_name(nread));
    uv_close((uv_handle_t *)s, on_close);
}

static void on_connect(uv_connect_t *req, int status)
{
    P("%s connect_cb %s", (const char *)req->handle->data, rc_name(status));
    if (status == 0)
        uv_read_start(req->handle, alloc_c, client_read);
}

static void on_timer(uv_timer_t *t)
{
    struct sockaddr_in a;

    P("timer: descriptors are available again");
    V("setrlimit back", setrlimit(RLIMIT_NOFILE, &saved));
    uv_ip4_addr("127.0.0.1", bound_port(&server), &a);
    uv_tcp_init(loop, &c2);
    V("second connect", uv_tcp_connect(&r2, &c2, (const struct sockaddr *)&a, on_connect));
    uv_close((uv_handle_t *)t, on_close);
}

int main(void)
{
    struct sockaddr_in a;
    struct rlimit low;
    int fd;

    loop = uv_default_loop();
    server.data = "server";
    c1.data = "c1";
    c2.data = "c2";
    timer.data = "timer";
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("bind", uv_tcp_bind(&server, (const struct sockaddr *)&a, 0));
    V("listen", uv_listen((uv_stream_t *)&server, 16, on_connection));
    uv_ip4_addr("127.0.0.1", bound_port(&server), &a);
    uv_tcp_init(loop, &c1);
    V("first connect", uv_tcp_connect(&r1, &c1, (const struct sockaddr *)&a, on_connect));
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_timer, 50, 0);
    /* No descriptor left: the limit is the lowest free descriptor number. */
    getrlimit(RLIMIT_NOFILE, &saved);
    fd = open("/dev/null", O_RDONLY);
    close(fd);
    low = saved;
    low.rlim_cur = (rlim_t)fd;
    V("setrlimit low", setrlimit(RLIMIT_NOFILE, &low));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
