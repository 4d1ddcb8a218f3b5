/* Duplicates of pipes and eventfds (dup, dup2, dup3, F_DUPFD, F_DUPFD_CLOEXEC) on the kernel and
 * on the harness: a duplicate is the same open object (shared O_NONBLOCK, its own FD_CLOEXEC),
 * a reader sees end of file only when every number of the write end is closed, a writer gets
 * EPIPE only when every number of the read end is; dup2 onto a live descriptor closes it; and a
 * duplicate adopted by uv_pipe_open reads what a timer writes at +100 ms through another. */
#define _GNU_SOURCE 1
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The harness build force-includes ah/sites.h, which may read <unistd.h> before _GNU_SOURCE. */
int dup3(int fd, int to, int flags);
#ifndef F_DUPFD_CLOEXEC
#define F_DUPFD_CLOEXEC 1030
#endif

static const char *res(long r)
{
    static char b[64];

    if (r < 0)
        snprintf(b, sizeof(b), "-1 %s", strerror(errno));
    else
        snprintf(b, sizeof(b), "%ld", r);
    return b;
}

static short rev(int fd)
{
    struct pollfd pf = {fd, POLLIN | POLLOUT, 0};
    return poll(&pf, 1, 0) < 0 ? -1 : pf.revents;
}

static int wfd;
static uint64_t t0;
static char slab[16];

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h, (void)n;
    *b = uv_buf_init(slab, sizeof(slab));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n > 0)
        printf("read_cb %.*s at +%llu00 ms\n", (int)n, b->base,
               (unsigned long long)((uv_now(s->loop) - t0 + 50) / 100));
    else if (n < 0) {
        printf("read_cb %s\n", uv_err_name((int)n));
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void timer_cb(uv_timer_t *t)
{
    printf("timer write %s\n", res(write(wfd, "hi", 2)));
    printf("timer close %s\n", res(close(wfd)));
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    int p[2], d, r2, n, e, nul;
    char b[8];
    uv_pipe_t h;
    uv_timer_t t;

    signal(SIGPIPE, SIG_IGN);
    printf("pipe %s\n", res(pipe(p)));
    printf("setfd %s\n", res(fcntl(p[1], F_SETFD, FD_CLOEXEC)));
    d = dup(p[1]);
    printf("dup >= 0: %d\n", d >= 0);
    printf("getfd dup %s orig %d\n", res(fcntl(d, F_GETFD)), fcntl(p[1], F_GETFD));
    printf("accmode %d\n", fcntl(d, F_GETFL) & O_ACCMODE);
    printf("write dup %s\n", res(write(d, "ab", 2)));
    printf("read %s\n", res(read(p[0], b, sizeof(b))));
    printf("nonblock %s\n", res(fcntl(p[0], F_SETFL, O_NONBLOCK)));
    printf("close orig writer %s\n", res(close(p[1])));
    printf("read %s\n", res(read(p[0], b, sizeof(b))));
    printf("revents %d\n", rev(p[0]));
    printf("write dup %s\n", res(write(d, "c", 1)));
    printf("close dup %s\n", res(close(d)));
    printf("revents %d\n", rev(p[0]));
    printf("read %s\n", res(read(p[0], b, sizeof(b))));
    printf("read %s\n", res(read(p[0], b, sizeof(b))));

    r2 = fcntl(p[0], F_DUPFD_CLOEXEC, 100);
    printf("dupfd_cloexec >= 100: %d getfd %d\n", r2 >= 100, fcntl(r2, F_GETFD));
    n = fcntl(p[0], F_DUPFD, 200);
    printf("dupfd >= 200: %d getfd %d\n", n >= 200, fcntl(n, F_GETFD));
    printf("dupfd -1 %s\n", res(fcntl(p[0], F_DUPFD, -1)));
    printf("getfl of a duplicate %d\n", (fcntl(r2, F_GETFL) & O_NONBLOCK) != 0);
    printf("close %s %s %s\n", res(close(n)), res(close(p[0])), res(close(r2)));

    /* readers: EPIPE only once every number of the read end is closed */
    printf("pipe %s\n", res(pipe(p)));
    r2 = dup(p[0]);
    printf("close orig reader %s\n", res(close(p[0])));
    printf("write %s\n", res(write(p[1], "x", 1)));
    printf("revents writer %d\n", rev(p[1]));
    printf("close dup reader %s\n", res(close(r2)));
    printf("write %s\n", res(write(p[1], "x", 1)));
    printf("revents writer %d\n", rev(p[1]));
    printf("close %s\n", res(close(p[1])));

    /* dup2 and dup3 */
    printf("pipe %s\n", res(pipe(p)));
    printf("dup2 self %d\n", dup2(p[0], p[0]) == p[0]);
    printf("dup3 self %s\n", res(dup3(p[0], p[0], 0)));
    printf("dup3 flags %s\n", res(dup3(p[0], 300, O_NONBLOCK)));
    printf("dup2 -1 %s\n", res(dup2(p[0], -1)));
    printf("dup bad %s\n", res(dup(987654)));
    printf("dup2 bad onto %s\n", res(dup2(987654, p[1])));
    printf("writer still there %s\n", res(write(p[1], "y", 1)));
    printf("read %s\n", res(read(p[0], b, 1)));
    e = eventfd(0, 0);
    printf("dup3 onto eventfd %d\n", dup3(p[0], e, O_CLOEXEC) == e);
    printf("getfd %d\n", fcntl(e, F_GETFD));
    printf("write %s\n", res(write(p[1], "z", 1)));
    printf("read 1 byte %s", res(read(e, b, 1)));
    printf(" %c\n", b[0]);
    nul = open("/dev/null", O_RDONLY);
    printf("dup2 real onto writer %d\n", dup2(nul, p[1]) == p[1]);
    printf("close %s\n", res(close(e)));
    printf("read eof %s\n", res(read(p[0], b, 1)));
    printf("close %s %s %s\n", res(close(p[0])), res(close(p[1])), res(close(nul)));

    /* a duplicate adopted by uv_pipe_open; the writer's duplicate written at +100 ms */
    printf("pipe %s\n", res(pipe(p)));
    d = dup(p[0]);
    printf("pipe_init %d\n", uv_pipe_init(loop, &h, 0));
    printf("pipe_open dup %d\n", uv_pipe_open(&h, d));
    printf("close orig %s\n", res(close(p[0])));
    wfd = dup(p[1]);
    printf("close orig writer %s\n", res(close(p[1])));
    printf("read_start %d\n", uv_read_start((uv_stream_t *)&h, alloc_cb, read_cb));
    uv_timer_init(loop, &t);
    t0 = uv_now(loop);
    uv_timer_start(&t, timer_cb, 100, 0);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    printf("loop_close %d\n", uv_loop_close(loop));
    return 0;
}
