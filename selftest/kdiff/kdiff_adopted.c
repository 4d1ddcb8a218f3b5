/* What libuv does with descriptors it adopted, where the sim answers as the kernel (issue 23):
 * uv_udp_open of a listening AF_UNIX stream socket, whose send to an address fails with
 * UV_ENOTSUP (libuv's udp_send_unix, decision 129), and a duplicate of an adopted pipe's read end
 * kept open past the handle (libuv 1.50's iouring_pollhup, decision 130). */
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK_PATH "/tmp/kdiff-adopted.sock"

static int send_status = 1;
static void send_cb(uv_udp_send_t *req, int status)
{
    (void)req;
    send_status = status;
}

static void udp_on_a_unix_stream_socket(uv_loop_t *loop)
{
    struct sockaddr_un a, peer;
    uv_udp_send_t req;
    uv_udp_t h;
    uv_buf_t b = uv_buf_init("PING", 4);
    int fd, n = (int)sizeof(peer), r;

    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, SOCK_PATH);
    unlink(SOCK_PATH);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("bind %d\n", bind(fd, (const struct sockaddr *)&a, sizeof(a)));
    printf("listen %d\n", listen(fd, 1));
    printf("udp_init %d\n", uv_udp_init(loop, &h));
    printf("udp_open %d\n", uv_udp_open(&h, fd));
    printf("nonblock %d\n", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    r = uv_udp_getpeername(&h, (struct sockaddr *)&peer, &n);
    printf("getpeername %s\n", r == 0 ? "0" : uv_err_name(r));
    r = uv_udp_send(&req, &h, &b, 1, (const struct sockaddr *)&a, send_cb);
    printf("send %d\n", r);
    r = uv_udp_try_send(&h, &b, 1, (const struct sockaddr *)&a);
    printf("try_send while queued %s\n", uv_err_name(r));
    r = uv_run(loop, UV_RUN_NOWAIT);
    printf("run %d send_cb %s\n", r, uv_err_name(send_status));
    r = uv_udp_try_send(&h, &b, 1, (const struct sockaddr *)&a);
    printf("try_send %s\n", uv_err_name(r));
    uv_close((uv_handle_t *)&h, NULL);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    r = close(fd);
    printf("close after the handle %d %s\n", r, r == 0 ? "" : strerror(errno));
    unlink(SOCK_PATH);
}

static char slab[32];
static int duped = -1;
static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h, (void)n;
    *b = uv_buf_init(slab, sizeof(slab));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n == 0)
        return;
    printf("read_cb %s\n", n > 0 ? "bytes" : uv_err_name((int)n));
    if (n < 0)
        uv_close((uv_handle_t *)s, NULL);
}

static void a_duplicate_of_an_adopted_pipe(uv_loop_t *loop)
{
    uv_pipe_t p;
    int fd[2], r;

    printf("pipe %d\n", pipe(fd));
    printf("pipe_init %d\n", uv_pipe_init(loop, &p, 0));
    printf("pipe_open %d\n", uv_pipe_open(&p, fd[0]));
    duped = dup(fd[0]);
    printf("dup %s\n", duped >= 0 ? "ok" : strerror(errno));
    printf("read_start %d\n", uv_read_start((uv_stream_t *)&p, alloc_cb, read_cb));
    printf("close writer %d\n", close(fd[1]));
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    r = close(duped);
    printf("close dup %d\n", r);
    r = close(duped);
    printf("close dup again %d %s\n", r, strerror(errno));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    setvbuf(stdout, NULL, _IONBF, 0);
    udp_on_a_unix_stream_socket(loop);
    a_duplicate_of_an_adopted_pipe(loop);
    printf("loop_close %d\n", uv_loop_close(loop));
    return 0;
}
