/* The kernel objects a libuv program makes itself: a pipe and one end of a socketpair adopted by
 * uv_pipe_open, an eventfd watched with uv_poll; timers write them at +100 ms and +200 ms, a thread
 * that sleeps 300 ms writes all three and closes the writing ends. Each object's log is printed
 * at the end in a fixed order (on real libuv the loop may wake between the thread's writes), with
 * times rounded to 100 ms; the harness also prints the exact virtual instants ("@" lines) and
 * checks them. */
#define _GNU_SOURCE 1
#include <uv.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t *loop;
static uint64_t t0;
static int pfd[2], sv[2], efd;
static uv_pipe_t pr, sr;
static uv_poll_t ep;
static uv_timer_t t100, t200;
static uv_thread_t thr;
static char logs[3][512];
static int open_objects = 3;

static uint64_t elapsed(void) { return uv_now(loop) - t0; }

static void note(int obj, const char *what)
{
    uint64_t ms = elapsed();
    char *l = logs[obj];

    snprintf(l + strlen(l), sizeof(logs[0]) - strlen(l), " %s@%llu", what,
             (unsigned long long)((ms + 50) / 100 * 100));
#ifdef KDIFF_SIM
    printf("@+%llu ms %s %s\n", (unsigned long long)ms,
           obj == 0   ? "pipe"
           : obj == 1 ? "pair"
                      : "efd",
           what);
    if (ms % 100 != 0)
        printf("WRONG: not at an exact instant\n");
#endif
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    static char buf[64];
    (void)h, (void)n;
    *b = uv_buf_init(buf, sizeof(buf));
}

static void maybe_done(void)
{
    if (--open_objects == 0) {
        uv_close((uv_handle_t *)&t100, NULL);
        uv_close((uv_handle_t *)&t200, NULL);
    }
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    int obj = s == (uv_stream_t *)&pr ? 0 : 1;
    char w[80];

    if (n > 0) {
        snprintf(w, sizeof(w), "'%.*s'", (int)n, b->base);
        note(obj, w);
    } else if (n < 0) {
        note(obj, uv_err_name((int)n));
        uv_close((uv_handle_t *)s, NULL);
        maybe_done();
    }
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    eventfd_t v;
    char w[80];

    if (status < 0 || !(events & UV_READABLE)) {
        note(2, "poll error");
        return;
    }
    if (eventfd_read(efd, &v) != 0) {
        note(2, strerror(errno));
        return;
    }
    snprintf(w, sizeof(w), "+%llu", (unsigned long long)v);
    note(2, w);
    if (v == 4) {
        uv_close((uv_handle_t *)h, NULL);
        maybe_done();
    }
}

static void at_100(uv_timer_t *t)
{
    (void)t;
    printf("timer 100 writes the pipe and the eventfd\n");
    if (write(pfd[1], "a", 1) != 1 || eventfd_write(efd, 1) != 0)
        printf("write failed: %s\n", strerror(errno));
}

static void at_200(uv_timer_t *t)
{
    (void)t;
    printf("timer 200 writes the socketpair and the eventfd\n");
    if (write(sv[1], "b", 1) != 1 || eventfd_write(efd, 2) != 0)
        printf("write failed: %s\n", strerror(errno));
}

static void thread_main(void *arg)
{
    (void)arg;
    uv_sleep(300);
    if (write(pfd[1], "c", 1) != 1 || write(sv[1], "d", 1) != 1 || eventfd_write(efd, 4) != 0)
        printf("thread write failed: %s\n", strerror(errno));
    close(pfd[1]);
    close(sv[1]);
}

int main(void)
{
    int i;

    loop = uv_default_loop();
    t0 = uv_now(loop);
    printf("pipe %d\n", pipe(pfd));
    printf("socketpair %d\n", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    printf("eventfd %s\n", efd >= 0 ? "ok" : strerror(errno));
    printf("guess pipe %s\n", uv_handle_type_name(uv_guess_handle(pfd[0])));
    printf("guess socketpair %s\n", uv_handle_type_name(uv_guess_handle(sv[0])));
    printf("pipe_init %d\n", uv_pipe_init(loop, &pr, 0));
    printf("pipe_open read end %d\n", uv_pipe_open(&pr, pfd[0]));
    printf("  readable %d writable %d\n", uv_is_readable((uv_stream_t *)&pr),
           uv_is_writable((uv_stream_t *)&pr));
    printf("pipe_init %d\n", uv_pipe_init(loop, &sr, 0));
    printf("pipe_open socketpair end %d\n", uv_pipe_open(&sr, sv[0]));
    printf("  readable %d writable %d\n", uv_is_readable((uv_stream_t *)&sr),
           uv_is_writable((uv_stream_t *)&sr));
    printf("poll_init %d\n", uv_poll_init(loop, &ep, efd));
    printf("poll_start %d\n", uv_poll_start(&ep, UV_READABLE, poll_cb));
    printf("read_start %d %d\n", uv_read_start((uv_stream_t *)&pr, alloc_cb, read_cb),
           uv_read_start((uv_stream_t *)&sr, alloc_cb, read_cb));
    uv_timer_init(loop, &t100);
    uv_timer_init(loop, &t200);
    uv_timer_start(&t100, at_100, 100, 0);
    uv_timer_start(&t200, at_200, 200, 0);
    printf("thread_create %d\n", uv_thread_create(&thr, thread_main, NULL));
    fflush(stdout);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    printf("thread_join %d\n", uv_thread_join(&thr));
    for (i = 0; i < 3; i++)
        printf("%s:%s\n", i == 0 ? "pipe" : i == 1 ? "pair" : "efd", logs[i]);
    printf("close eventfd %d\n", close(efd));
    i = eventfd_write(efd, 1);
    printf("write closed eventfd %d %s\n", i, strerror(errno));
    printf("loop_close %d\n", uv_loop_close(loop));
    return 0;
}
