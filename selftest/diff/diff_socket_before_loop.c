/* Sockets made with socket(2) and socketpair(2) before the program's first loop call, then adopted
 * with uv_tcp_open, uv_udp_open and uv_pipe_open, as libuv's test-tcp-open.c and test-udp-open.c
 * do: on the harness the implicit sim exists from the first socket call, so they are the sim's
 * fake sockets ("adopting real descriptors is not simulated" before). */
#include "trace.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int make_socket(int type)
{
    int yes = 1, s = socket(AF_INET, type, IPPROTO_IP);

    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)) != 0)
        V("socket failed", -1);
    return s;
}

static int closes;
static void count_close(uv_handle_t *h)
{
    (void)h;
    closes++;
}

static char slab[256];
static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    (void)size;
    *buf = uv_buf_init(slab, sizeof(slab));
}

/* ---- tcp_open_twice, udp_open_twice ---- */

static void open_twice(void)
{
    uv_tcp_t tcp;
    uv_udp_t udp;
    int s1 = make_socket(SOCK_STREAM), s2 = make_socket(SOCK_STREAM);
    int d1 = make_socket(SOCK_DGRAM), d2 = make_socket(SOCK_DGRAM);

    V("tcp init", uv_tcp_init(uv_default_loop(), &tcp));
    V("tcp open", uv_tcp_open(&tcp, s1));
    V("tcp open twice", uv_tcp_open(&tcp, s2));
    V("close second tcp socket", close(s2));
    V("udp init", uv_udp_init(uv_default_loop(), &udp));
    V("udp open", uv_udp_open(&udp, d1));
    V("udp open twice", uv_udp_open(&udp, d2));
    V("close second udp socket", close(d2));
    uv_close((uv_handle_t *)&tcp, count_close);
    uv_close((uv_handle_t *)&udp, count_close);
    V("twice run", uv_run(uv_default_loop(), UV_RUN_DEFAULT));
    V("twice closes", closes);
}

/* ---- tcp_open_bound, and a client through it ---- */

static uv_tcp_t server, accepted, client;
static uv_connect_t connect_req;

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0) {
        printf("server read \"%.*s\"\n", (int)n, buf->base);
    } else if (n == UV_EOF) {
        V("server read eof", 0);
        uv_close((uv_handle_t *)s, count_close);
        uv_close((uv_handle_t *)&server, count_close);
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    V("connection", status);
    V("accepted init", uv_tcp_init(uv_default_loop(), &accepted));
    V("accept", uv_accept(srv, (uv_stream_t *)&accepted));
    V("read start", uv_read_start((uv_stream_t *)&accepted, alloc_cb, on_read));
}

static uv_write_t write_req;
static uv_shutdown_t shutdown_req;

static void on_shutdown(uv_shutdown_t *req, int status)
{
    V("client shutdown", status);
    uv_close((uv_handle_t *)req->handle, count_close);
}

static void on_write(uv_write_t *req, int status)
{
    (void)req;
    V("client write", status);
}

static void on_connect(uv_connect_t *req, int status)
{
    uv_buf_t buf = uv_buf_init("PING", 4);

    V("client connect", status);
    V("client write start", uv_write(&write_req, req->handle, &buf, 1, on_write));
    V("client shutdown start", uv_shutdown(&shutdown_req, req->handle, on_shutdown));
}

static void open_bound(void)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    int s = make_socket(SOCK_STREAM);

    closes = 0;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    V("bind before open", bind(s, (struct sockaddr *)&addr, sizeof(addr)));
    V("server init", uv_tcp_init(uv_default_loop(), &server));
    V("server open", uv_tcp_open(&server, s));
    V("listen", uv_listen((uv_stream_t *)&server, 128, on_connection));
    V("getsockname", uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len));
    V("client init", uv_tcp_init(uv_default_loop(), &client));
    V("connect start",
      uv_tcp_connect(&connect_req, &client, (struct sockaddr *)&bound, on_connect));
    V("bound run", uv_run(uv_default_loop(), UV_RUN_DEFAULT));
    V("bound closes", closes);
}

/* ---- a socketpair made before the loop, one end adopted by a uv_pipe_t ---- */

static void on_pair_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0) {
        printf("pipe read \"%.*s\"\n", (int)n, buf->base);
    } else if (n == UV_EOF) {
        V("pipe read eof", 0);
        uv_close((uv_handle_t *)s, count_close);
    }
}

static void socketpair_adopted(void)
{
    uv_pipe_t p;
    int sv[2];

    closes = 0;
    V("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    V("write before loop", write(sv[1], "hello", 5));
    V("close writer", close(sv[1]));
    V("pipe init", uv_pipe_init(uv_default_loop(), &p, 0));
    V("pipe open", uv_pipe_open(&p, sv[0]));
    V("pipe read start", uv_read_start((uv_stream_t *)&p, alloc_cb, on_pair_read));
    V("pair run", uv_run(uv_default_loop(), UV_RUN_DEFAULT));
    V("pair closes", closes);
}

int main(void)
{
    open_twice();
    open_bound();
    socketpair_adopted();
    trace_begin(uv_default_loop());
    return trace_end(uv_default_loop());
}
