/* The scenario of libuv 1.44's close_fd test, on a pipe the program makes: the read end adopted by
 * uv_pipe_open, one byte written and the write end closed before reading; the first read takes
 * the byte and stops, the second gets EOF. Also a uv_write on the read end (not writable), and a
 * write end adopted and written after its reader went away. */
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char slab[1];
static int reads;
static uv_write_t wr;

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
    printf("read %d: %s\n", ++reads, n > 0 ? "1 byte" : uv_err_name((int)n));
    uv_read_stop(s);
    if (n < 0)
        uv_close((uv_handle_t *)s, NULL);
}

static void write_cb(uv_write_t *req, int status)
{
    printf("write_cb %s\n", status == 0 ? "0" : uv_err_name(status));
    uv_close((uv_handle_t *)req->handle, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_pipe_t r, w;
    uv_buf_t buf = uv_buf_init("x", 1);
    int fd[2];

    signal(SIGPIPE, SIG_IGN);
    printf("pipe %d\n", pipe(fd));
    printf("nonblock %d\n", fcntl(fd[0], F_SETFL, O_NONBLOCK));
    printf("pipe_init %d\n", uv_pipe_init(loop, &r, 0));
    printf("pipe_open %d\n", uv_pipe_open(&r, fd[0]));
    printf("write on read end %s\n", uv_err_name(uv_write(&wr, (uv_stream_t *)&r, &buf, 1, NULL)));
    printf("write %d\n", (int)write(fd[1], "", 1));
    printf("close %d\n", close(fd[1]));
    printf("read_start %d\n", uv_read_start((uv_stream_t *)&r, alloc_cb, read_cb));
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    printf("active %d\n", uv_is_active((uv_handle_t *)&r));
    printf("read_start %d\n", uv_read_start((uv_stream_t *)&r, alloc_cb, read_cb));
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    printf("reads %d\n", reads);

    /* the write end adopted, its reader closed: the write fails with EPIPE */
    printf("pipe %d\n", pipe(fd));
    printf("close read end %d\n", close(fd[0]));
    printf("pipe_init %d\n", uv_pipe_init(loop, &w, 0));
    printf("pipe_open %d\n", uv_pipe_open(&w, fd[1]));
    printf("readable %d writable %d\n", uv_is_readable((uv_stream_t *)&w),
           uv_is_writable((uv_stream_t *)&w));
    printf("write %d\n", uv_write(&wr, (uv_stream_t *)&w, &buf, 1, write_cb));
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    printf("loop_close %d\n", uv_loop_close(loop));
    return 0;
}
