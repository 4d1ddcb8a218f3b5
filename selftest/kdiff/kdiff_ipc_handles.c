/* Handles passed over an IPC pipe (uv_write2 with a send_handle) in one process, on the kernel and
 * on the harness: libuv's checks (UV_EINVAL on a pipe without ipc, UV_EBADF for a handle without a
 * socket), what the receiver's read_cb sees (how many bytes the socket rode with, the pending
 * count and type), the received bound TCP socket's and bound pipe's names, and a connection
 * accepted by a "master", passed, closed by it, and answered by the "worker" that accepted it:
 * the client reads the answer, then end of file once the worker closes. */
#include <uv.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 7351
#define PIPENAME "/tmp/ah-kdiff-ipc-handles.sock"

static uv_loop_t *loop;
static uv_pipe_t chan[2];
static uv_tcp_t bound_tcp, got_tcp, server, conn, client, worker;
static uv_pipe_t bound_pipe, got_pipe;
static uv_connect_t creq;
static uv_write_t w1, w2, w3, w4;
static char slab[64], cbuf[64];
static int step;

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)n;
    *b = uv_buf_init(h == (uv_handle_t *)&client ? cbuf : slab, 64);
}

static const char *rc(int r) { return r == 0 ? "0" : uv_err_name(r); }

static const char *type_name(uv_handle_type t)
{
    return t == UV_TCP              ? "tcp"
           : t == UV_NAMED_PIPE     ? "pipe"
           : t == UV_UNKNOWN_HANDLE ? "none"
                                    : "?";
}

static void on_client_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    if (n > 0)
        printf("client reads %d bytes: %.*s\n", (int)n, (int)n, b->base);
    else if (n < 0) {
        printf("client reads %s\n", uv_err_name((int)n));
        uv_close((uv_handle_t *)st, NULL);
        uv_close((uv_handle_t *)&chan[0], NULL);
        uv_close((uv_handle_t *)&chan[1], NULL);
    }
}

static void on_reply(uv_write_t *req, int status)
{
    printf("worker's write_cb %s\n", status ? uv_err_name(status) : "0");
    uv_close((uv_handle_t *)req->handle, NULL);
}

static void on_passed(uv_write_t *req, int status)
{
    (void)req;
    printf("pass write_cb %s\n", status ? uv_err_name(status) : "0");
}

static void on_chan_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char name[128];
    size_t nlen = sizeof(name);
    uv_buf_t hello = uv_buf_init("hello from the worker", 21);

    (void)b;
    if (n <= 0) {
        if (n < 0)
            printf("channel reads %s\n", uv_err_name((int)n));
        return;
    }
    printf("channel reads %d bytes, %d pending, type %s\n", (int)n,
           uv_pipe_pending_count((uv_pipe_t *)st),
           type_name(uv_pipe_pending_type((uv_pipe_t *)st)));
    while (uv_pipe_pending_count((uv_pipe_t *)st) > 0) {
        uv_handle_type t = uv_pipe_pending_type((uv_pipe_t *)st);
        step++;
        if (step == 1 && t == UV_TCP) {
            uv_tcp_init(loop, &got_tcp);
            printf("accept bound tcp: %s\n", rc(uv_accept(st, (uv_stream_t *)&got_tcp)));
            uv_tcp_getsockname(&got_tcp, (struct sockaddr *)&ss, &len);
            printf("received tcp is bound to port %d\n",
                   ntohs(((struct sockaddr_in *)&ss)->sin_port));
            uv_close((uv_handle_t *)&got_tcp, NULL);
        } else if (step == 2 && t == UV_NAMED_PIPE) {
            uv_pipe_init(loop, &got_pipe, 0);
            printf("accept bound pipe: %s\n", rc(uv_accept(st, (uv_stream_t *)&got_pipe)));
            uv_pipe_getsockname(&got_pipe, name, &nlen);
            printf("received pipe is bound to %.*s\n", (int)nlen, name);
            uv_close((uv_handle_t *)&got_pipe, NULL);
            uv_close((uv_handle_t *)&bound_tcp, NULL);
            uv_close((uv_handle_t *)&bound_pipe, NULL);
            uv_read_stop(st);
        } else if (step == 3 && t == UV_TCP) {
            uv_tcp_init(loop, &worker);
            printf("accept connection: %s\n", rc(uv_accept(st, (uv_stream_t *)&worker)));
            printf("uv_accept again: %s\n", rc(uv_accept(st, (uv_stream_t *)&worker)));
            uv_write(&w4, (uv_stream_t *)&worker, &hello, 1, on_reply);
        } else {
            printf("unexpected pending handle at step %d: %s\n", step, type_name(t));
            return;
        }
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    uv_buf_t c = uv_buf_init("c", 1);

    printf("master's connection_cb %d\n", status);
    uv_tcp_init(loop, &conn);
    uv_accept(srv, (uv_stream_t *)&conn);
    printf("pass connection: %s\n",
           rc(uv_write2(&w3, (uv_stream_t *)&chan[0], &c, 1, (uv_stream_t *)&conn, on_passed)));
    uv_close((uv_handle_t *)&conn, NULL);
    uv_close((uv_handle_t *)srv, NULL);
}

static void on_connect(uv_connect_t *req, int status)
{
    printf("client connect_cb %s\n", status ? uv_err_name(status) : "0");
    uv_read_start(req->handle, alloc_cb, on_client_read);
}

int main(void)
{
    uv_os_sock_t fds[2];
    uv_pipe_t plain[2];
    uv_tcp_t unbound;
    struct sockaddr_in a;
    uv_buf_t dots = uv_buf_init("..", 2), three = uv_buf_init("...", 3);

    setvbuf(stdout, NULL, _IONBF, 0);
    loop = uv_default_loop();
    unlink(PIPENAME);
    uv_ip4_addr("127.0.0.1", PORT, &a);

    /* libuv's checks */
    socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    uv_pipe_init(loop, &plain[0], 0);
    uv_pipe_init(loop, &plain[1], 0);
    uv_pipe_open(&plain[0], fds[0]);
    uv_pipe_open(&plain[1], fds[1]);
    uv_tcp_init(loop, &bound_tcp);
    uv_tcp_bind(&bound_tcp, (const struct sockaddr *)&a, 0);
    uv_tcp_init(loop, &unbound);
    printf("write2 on a pipe without ipc: %s\n",
           rc(uv_write2(&w1, (uv_stream_t *)&plain[0], &dots, 1, (uv_stream_t *)&bound_tcp, NULL)));
    uv_close((uv_handle_t *)&plain[0], NULL);
    uv_close((uv_handle_t *)&plain[1], NULL);

    socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    uv_pipe_init(loop, &chan[0], 1);
    uv_pipe_init(loop, &chan[1], 1);
    uv_pipe_open(&chan[0], fds[0]);
    uv_pipe_open(&chan[1], fds[1]);
    printf("write2 of a handle without a socket: %s\n",
           rc(uv_write2(&w1, (uv_stream_t *)&chan[0], &dots, 1, (uv_stream_t *)&unbound, NULL)));
    uv_close((uv_handle_t *)&unbound, NULL);

    /* a bound TCP socket, then a bound pipe */
    printf("pass bound tcp: %s\n",
           rc(uv_write2(&w1, (uv_stream_t *)&chan[0], &dots, 1, (uv_stream_t *)&bound_tcp, NULL)));
    uv_pipe_init(loop, &bound_pipe, 0);
    printf("bind pipe: %s\n", rc(uv_pipe_bind(&bound_pipe, PIPENAME)));
    printf("pass bound pipe: %s\n", rc(uv_write2(&w2, (uv_stream_t *)&chan[0], &three, 1,
                                                 (uv_stream_t *)&bound_pipe, NULL)));
    uv_read_start((uv_stream_t *)&chan[1], alloc_cb, on_chan_read);
    uv_run(loop, UV_RUN_DEFAULT);

    /* a connection: the master accepts and passes it, the worker answers */
    uv_read_start((uv_stream_t *)&chan[1], alloc_cb, on_chan_read);
    uv_tcp_init(loop, &server);
    uv_tcp_bind(&server, (const struct sockaddr *)&a, 0);
    printf("listen: %s\n", rc(uv_listen((uv_stream_t *)&server, 8, on_connection)));
    uv_tcp_init(loop, &client);
    uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("loop close: %s\n", rc(uv_loop_close(loop)));
    unlink(PIPENAME);
    return 0;
}
