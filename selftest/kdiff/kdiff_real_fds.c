/* Real descriptors the sim did not make, adopted by libuv streams: a real pipe (made with the raw
 * pipe2 system call, which no interposer sees) with both ends under uv_pipe_open, written by
 * uv_write from a timer at +100 ms, uv_try_write, a shutdown (ENOTSOCK on a pipe, as libuv reports
 * it), EOF once the write end is closed; a real AF_UNIX socketpair whose other end the program
 * writes and reads itself, with a shutdown; and a real TCP listener on 127.0.0.1 from the kernel
 * adopted with uv_tcp_open and uv_listen, a real client socket connected to it adopted with
 * uv_tcp_open, a ping answered by a pong over the accepted connection; a real UDP socket adopted
 * with uv_udp_open sending to and receiving from another the program reads and writes itself; and
 * a pty's slave under uv_tty_init, read as the master writes a line. The harness must print what
 * real libuv prints; its "@" lines give the virtual instant of each step. */
#define _GNU_SOURCE 1
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static uv_loop_t *loop;
static uint64_t t0;
static char slab[64];

static void at(const char *what)
{
#ifdef KDIFF_SIM
    printf("@ %s at +%llu ms\n", what, (unsigned long long)(uv_now(loop) - t0));
#else
    (void)what;
#endif
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h, (void)n;
    *b = uv_buf_init(slab, sizeof(slab));
}

/* ---- a real pipe ---- */

static uv_pipe_t pr, pw;
static uv_timer_t tm;
static uv_write_t wreq;
static uv_shutdown_t sreq;

static void pipe_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n == 0)
        return;
    if (n > 0) {
        printf("pipe read %d: %.*s\n", (int)n, (int)n, b->base);
        at("pipe read");
        return;
    }
    printf("pipe read %s (base %s)\n", uv_err_name((int)n), b->base == NULL ? "NULL" : "set");
    at("pipe eof");
    printf("pipe reader active %d\n", uv_is_active((uv_handle_t *)s));
    uv_close((uv_handle_t *)s, NULL);
}

static void pipe_shutdown_cb(uv_shutdown_t *req, int status)
{
    printf("pipe shutdown_cb %s\n", status == 0 ? "0" : uv_err_name(status));
    uv_close((uv_handle_t *)req->handle, NULL); /* the reader sees EOF */
}

static void pipe_write_cb(uv_write_t *req, int status)
{
    uv_buf_t b = uv_buf_init("!", 1);

    printf("pipe write_cb %d\n", status);
    at("pipe write_cb");
    printf("pipe try_write %d\n", uv_try_write(req->handle, &b, 1));
    printf("pipe shutdown %d\n", uv_shutdown(&sreq, req->handle, pipe_shutdown_cb));
}

static void pipe_timer_cb(uv_timer_t *t)
{
    uv_buf_t b = uv_buf_init("hello", 5);

    at("pipe timer");
    printf("pipe write %d\n", uv_write(&wreq, (uv_stream_t *)&pw, &b, 1, pipe_write_cb));
    uv_close((uv_handle_t *)t, NULL);
}

static void real_pipe(void)
{
    int fd[2];

    printf("pipe2 %d\n", (int)syscall(SYS_pipe2, fd, O_CLOEXEC));
    printf("init %d\n", uv_pipe_init(loop, &pr, 0));
    printf("init %d\n", uv_pipe_init(loop, &pw, 0));
    printf("open read end %d\n", uv_pipe_open(&pr, fd[0]));
    printf("open write end %d\n", uv_pipe_open(&pw, fd[1]));
    printf("open again %s\n", uv_err_name(uv_pipe_open(&pr, fd[1])));
    printf("read end readable %d writable %d\n", uv_is_readable((uv_stream_t *)&pr),
           uv_is_writable((uv_stream_t *)&pr));
    printf("write end readable %d writable %d\n", uv_is_readable((uv_stream_t *)&pw),
           uv_is_writable((uv_stream_t *)&pw));
    printf("nonblock %d\n", (fcntl(fd[0], F_GETFL) & O_NONBLOCK) != 0);
    printf("read on write end %s\n",
           uv_err_name(uv_read_start((uv_stream_t *)&pw, alloc_cb, pipe_read_cb)));
    printf("read_start %d\n", uv_read_start((uv_stream_t *)&pr, alloc_cb, pipe_read_cb));
    uv_timer_init(loop, &tm);
    uv_timer_start(&tm, pipe_timer_cb, 100, 0);
    t0 = uv_now(loop);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
}

/* ---- a real socketpair ---- */

static uv_pipe_t sp;
static int other;

static void sp_shutdown_cb(uv_shutdown_t *req, int status)
{
    char c;

    printf("socketpair shutdown_cb %d\n", status);
    printf("other end reads %d\n", (int)read(other, &c, 1));
    uv_close((uv_handle_t *)req->handle, NULL);
}

static void sp_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n == 0)
        return;
    printf("socketpair read %d: %.*s\n", (int)n, n > 0 ? (int)n : 0, n > 0 ? b->base : "");
    at("socketpair read");
    uv_read_stop(s);
    printf("socketpair shutdown %d\n", uv_shutdown(&sreq, s, sp_shutdown_cb));
}

static void sp_timer_cb(uv_timer_t *t)
{
    at("socketpair timer");
    printf("other end writes %d\n", (int)write(other, "ping", 4));
    uv_close((uv_handle_t *)t, NULL);
}

static void real_socketpair(void)
{
    int sv[2];

    printf("socketpair %d\n", (int)syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv));
    other = sv[1];
    printf("init %d\n", uv_pipe_init(loop, &sp, 0));
    printf("open %d\n", uv_pipe_open(&sp, sv[0]));
    printf("readable %d writable %d\n", uv_is_readable((uv_stream_t *)&sp),
           uv_is_writable((uv_stream_t *)&sp));
    printf("read_start %d\n", uv_read_start((uv_stream_t *)&sp, alloc_cb, sp_read_cb));
    uv_timer_init(loop, &tm);
    uv_timer_start(&tm, sp_timer_cb, 200, 0);
    t0 = uv_now(loop);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    close(other);
}

/* ---- a real TCP listener and client ---- */

static uv_tcp_t server, client, conn;
static uv_write_t creq, sreq2;

static void conn_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    uv_buf_t out = uv_buf_init("pong", 4);

    if (n == 0)
        return;
    if (n < 0) {
        printf("server read %s\n", uv_err_name((int)n));
        uv_close((uv_handle_t *)s, NULL);
        uv_close((uv_handle_t *)&server, NULL);
        return;
    }
    printf("server read %d: %.*s\n", (int)n, (int)n, b->base);
    printf("server write %d\n", uv_write(&sreq2, s, &out, 1, NULL));
}

static void client_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n == 0)
        return;
    printf("client read %d: %.*s\n", (int)n, n > 0 ? (int)n : 0, n > 0 ? b->base : "");
    uv_close((uv_handle_t *)s, NULL); /* the server reads EOF */
}

static void client_write_cb(uv_write_t *req, int status)
{
    (void)req;
    printf("client write_cb %d\n", status);
}

static void connection_cb(uv_stream_t *s, int status)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    printf("connection_cb %d\n", status);
    printf("init %d\n", uv_tcp_init(loop, &conn));
    printf("accept %d\n", uv_accept(s, (uv_stream_t *)&conn));
    printf("accept again %s\n", uv_err_name(uv_accept(s, (uv_stream_t *)&conn)));
    printf("peername %d\n", uv_tcp_getpeername(&conn, (struct sockaddr *)&ss, &len));
    printf("family %d\n", ss.ss_family == AF_INET);
    printf("read_start %d\n", uv_read_start((uv_stream_t *)&conn, alloc_cb, conn_read_cb));
}

static void real_tcp(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    uv_buf_t b = uv_buf_init("ping", 4);
    uv_os_fd_t fd;
    int lfd, cfd;

    lfd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    printf("bind %d\n", bind(lfd, (struct sockaddr *)&a, sizeof(a)));
    printf("getsockname %d\n", getsockname(lfd, (struct sockaddr *)&a, &alen));
    printf("init %d\n", uv_tcp_init(loop, &server));
    printf("open %d\n", uv_tcp_open(&server, lfd));
    printf("listen %d\n", uv_listen((uv_stream_t *)&server, 8, connection_cb));
    cfd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    printf("connect %d\n", connect(cfd, (struct sockaddr *)&a, sizeof(a)));
    printf("init %d\n", uv_tcp_init(loop, &client));
    printf("open %d\n", uv_tcp_open(&client, cfd));
    printf("fileno %d\n", uv_fileno((uv_handle_t *)&client, &fd));
    printf("same %d\n", fd == cfd);
    printf("write %d\n", uv_write(&creq, (uv_stream_t *)&client, &b, 1, client_write_cb));
    printf("read_start %d\n", uv_read_start((uv_stream_t *)&client, alloc_cb, client_read_cb));
    t0 = uv_now(loop);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    at("tcp done");
}

/* ---- a real UDP socket ---- */

static uv_udp_t udp;
static uv_udp_send_t ureq;
static int peer;
static struct sockaddr_in peer_addr, udp_addr;

static void udp_recv_cb(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                        unsigned flags)
{
    if (n == 0 && from == NULL)
        return; /* EAGAIN: nothing more */
    printf("udp recv %d: %.*s from peer %d flags %u\n", (int)n, n > 0 ? (int)n : 0,
           n > 0 ? b->base : "",
           from != NULL && ((const struct sockaddr_in *)from)->sin_port == peer_addr.sin_port,
           flags);
    at("udp recv");
    uv_close((uv_handle_t *)h, NULL);
}

static void udp_send_cb(uv_udp_send_t *req, int status)
{
    char b[16];
    ssize_t n;

    (void)req;
    printf("udp send_cb %d\n", status);
    n = recvfrom(peer, b, sizeof(b), 0, NULL, NULL);
    printf("peer got %d: %.*s\n", (int)n, n > 0 ? (int)n : 0, b);
}

static void udp_timer_cb(uv_timer_t *t)
{
    at("udp timer");
    printf("peer sends %d\n",
           (int)sendto(peer, "dgram", 5, 0, (struct sockaddr *)&udp_addr, sizeof(udp_addr)));
    uv_close((uv_handle_t *)t, NULL);
}

static void real_udp(void)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(peer_addr);
    int ulen = sizeof(ss), fd;
    uv_buf_t b = uv_buf_init("hi", 2);
    char got[16];

    fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
    peer = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
    memset(&udp_addr, 0, sizeof(udp_addr));
    udp_addr.sin_family = AF_INET;
    udp_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    peer_addr = udp_addr;
    printf("bind %d\n", bind(peer, (struct sockaddr *)&peer_addr, sizeof(peer_addr)));
    printf("getsockname %d\n", getsockname(peer, (struct sockaddr *)&peer_addr, &len));
    printf("init %d\n", uv_udp_init(loop, &udp));
    printf("open %d\n", uv_udp_open(&udp, fd));
    printf("open again %s\n", uv_err_name(uv_udp_open(&udp, fd)));
    printf("bind %d\n", uv_udp_bind(&udp, (struct sockaddr *)&udp_addr, 0));
    printf("getsockname %d\n", uv_udp_getsockname(&udp, (struct sockaddr *)&ss, &ulen));
    memcpy(&udp_addr, &ss, sizeof(udp_addr));
    printf("port set %d\n", udp_addr.sin_port != 0);
    printf("getpeername %s\n",
           uv_err_name(uv_udp_getpeername(&udp, (struct sockaddr *)&ss, &ulen)));
    printf("try_send %d\n", uv_udp_try_send(&udp, &b, 1, (struct sockaddr *)&peer_addr));
    printf("peer got %d\n", (int)recvfrom(peer, got, sizeof(got), 0, NULL, NULL));
    printf("send %d\n",
           uv_udp_send(&ureq, &udp, &b, 1, (struct sockaddr *)&peer_addr, udp_send_cb));
    printf("recv_start %d\n", uv_udp_recv_start(&udp, alloc_cb, udp_recv_cb));
    uv_timer_init(loop, &tm);
    uv_timer_start(&tm, udp_timer_cb, 300, 0);
    t0 = uv_now(loop);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    close(peer);
}

/* ---- a pty's slave under uv_tty_init ---- */

static uv_tty_t tty;
static int master = -1;

static void tty_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n == 0)
        return;
    printf("tty read %d: %.*s", (int)n, n > 0 ? (int)n : 0, n > 0 ? b->base : "\n");
    at("tty read");
    uv_close((uv_handle_t *)s, NULL);
}

static void tty_timer_cb(uv_timer_t *t)
{
    at("tty timer");
    printf("master writes %d\n", (int)write(master, "line\n", 5));
    uv_close((uv_handle_t *)t, NULL);
}

static void real_pty(void)
{
    unsigned n = 0;
    int slave = -1, unlock = 0;
    char path[64];

    /* posix_openpt, unlockpt and ptsname by hand (the harness's build includes stdlib.h before
     * this file's _GNU_SOURCE) */
    master = open("/dev/ptmx", O_RDWR | O_NOCTTY);
    if (master >= 0 && ioctl(master, TIOCSPTLCK, &unlock) == 0 &&
        ioctl(master, TIOCGPTN, &n) == 0) {
        snprintf(path, sizeof(path), "/dev/pts/%u", n);
        slave = open(path, O_RDWR | O_NOCTTY);
    }
    if (slave < 0) {
        printf("no pty: skipped\n"); /* the same on both sides */
        return;
    }
    printf("guess %d\n", uv_guess_handle(slave) == UV_TTY);
    printf("tty_init %d\n", uv_tty_init(loop, &tty, slave, 1));
    printf("readable %d\n", uv_is_readable((uv_stream_t *)&tty));
    printf("read_start %d\n", uv_read_start((uv_stream_t *)&tty, alloc_cb, tty_read_cb));
    uv_timer_init(loop, &tm);
    uv_timer_start(&tm, tty_timer_cb, 400, 0);
    t0 = uv_now(loop);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    close(slave);
    close(master);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IONBF, 0);
    loop = uv_default_loop();
    real_pipe();
    real_socketpair();
    real_tcp();
    real_udp();
    real_pty();
    printf("loop_close %d\n", uv_loop_close(loop));
    return 0;
}
