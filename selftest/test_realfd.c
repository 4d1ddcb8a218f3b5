/* Real descriptors the sim did not make, adopted by libuv handles (fd/realstream.c,
 * fd/realudp.c): uv_pipe_open, uv_tcp_open and uv_udp_open of real ones work on the kernel's
 * object, their events arrive at the virtual instant the sim observes them, and a read that
 * nothing will satisfy ends after the real-time budget with a report naming the descriptor, what
 * it was waited on for and where it was adopted. Planted bugs beside their correct twins. */
#include <ah/ah.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/socket.h>
#include <unistd.h>

static int p[2];
static uv_pipe_t rd, wr;
static uv_timer_t tm;
static uint64_t t0, read_ms, write_ms;
static char slab[64 * 1024];
static size_t got;
static int eof;

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h, (void)n;
    *b = uv_buf_init(slab, sizeof(slab));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n > 0) {
        got += (size_t)n;
        read_ms = uv_now(s->loop) - t0;
    } else if (n == UV_EOF) {
        eof = 1;
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void write_later(uv_timer_t *t)
{
    assert_int_equal(write(p[1], "abc", 3), 3); /* the kernel's pipe */
    assert_int_equal(close(p[1]), 0);
    uv_close((uv_handle_t *)t, NULL);
}

static void real_pipe(ah_sim *sim)
{
    ah_fd_passthrough(sim, 1); /* a real pipe, as an inherited one would be */
    assert_int_equal(pipe(p), 0);
    ah_fd_passthrough(sim, 0);
}

/* A real pipe's read end adopted by uv_pipe_open. ctx NULL: planted, nobody writes; the sim waits
 * its real-time budget, then fails naming the pipe, the read and where it was adopted. */
static void read_real_pipe_body(ah_sim *sim, void *ctx)
{
    uv_loop_t *loop = uv_default_loop();

    got = 0;
    eof = 0;
    real_pipe(sim);
    assert_int_equal(uv_pipe_init(loop, &rd, 0), 0);
    assert_int_equal(uv_pipe_open(&rd, p[0]), 0);
    assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK); /* uv__nonblock, for real */
    assert_int_equal(uv_read_start((uv_stream_t *)&rd, alloc_cb, read_cb), 0);
    t0 = uv_now(loop);
    if (ctx != NULL) {
        uv_timer_init(loop, &tm);
        uv_timer_start(&tm, write_later, 100, 0);
    }
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(got, 3);
    assert_int_equal(read_ms, 100); /* observed at the instant of the write */
    assert_true(eof);
}

static void a_read_on_a_real_pipe_nobody_writes_names_it_after_the_budget(void **state)
{
    ah_sim_opts o;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.real_fd_wait_ms = 50;
    ah_assert_fails_with(&o, read_real_pipe_body, NULL,
                         "did not become ready within 50 ms of real time");
    close(p[0]);
    close(p[1]);
    ah_assert_fails_with(&o, read_real_pipe_body, NULL,
                         "(adopted in read_real_pipe_body (test_realfd.c:");
    close(p[0]);
    close(p[1]);
    ah_assert_fails_with(&o, read_real_pipe_body, NULL, "), waited on for reading by uv_pipe_t #");
    close(p[0]);
    close(p[1]);
    ah_assert_fails_with(&o, read_real_pipe_body, NULL,
                         "(the test watched real descriptors, first real pipe ");
    close(p[0]);
    close(p[1]);
    ah_assert_passes(&o, read_real_pipe_body, "writes");
}

/* uv_write of more than the kernel's pipe holds: the rest waits for POLLOUT, which comes when a
 * timer drains the other end; the write's callback runs at the instant the last bytes went. */
static uv_write_t wreq;
static int write_status = 1;
static size_t drained;

static void write_cb(uv_write_t *req, int status)
{
    write_status = status;
    write_ms = uv_now(req->handle->loop) - t0;
    uv_close((uv_handle_t *)req->handle, NULL);
}

static void drain(uv_timer_t *t)
{
    ssize_t n;

    while ((n = read(p[0], slab, sizeof(slab))) > 0)
        drained += (size_t)n;
    if (drained == 1024 * 1024)
        uv_close((uv_handle_t *)t, NULL);
}

static void full_pipe_body(ah_sim *sim, void *ctx)
{
    static char big[1024 * 1024];
    uv_loop_t *loop = uv_default_loop();
    uv_buf_t b = uv_buf_init(big, sizeof(big));

    (void)ctx;
    real_pipe(sim);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    assert_int_equal(uv_pipe_init(loop, &wr, 0), 0);
    assert_int_equal(uv_pipe_open(&wr, p[1]), 0);
    t0 = uv_now(loop);
    assert_int_equal(uv_write(&wreq, (uv_stream_t *)&wr, &b, 1, write_cb), 0);
    assert_true(uv_stream_get_write_queue_size((uv_stream_t *)&wr) >
                0); /* the kernel took 64 KiB */
    assert_int_equal(uv_try_write((uv_stream_t *)&wr, &b, 1), UV_EAGAIN);
    uv_timer_init(loop, &tm);
    uv_timer_start(&tm, drain, 10, 10);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(write_status, 0);
    assert_int_equal(drained, sizeof(big));
    assert_int_equal(write_ms % 10, 0); /* at a tick of the draining timer */
    assert_true(write_ms >= 10);
    close(p[0]);
}

static void a_write_to_a_full_real_pipe_waits_for_pollout(void **state)
{
    (void)state;
    ah_assert_passes(NULL, full_pipe_body, NULL);
}

/* A regular file adopted as a pipe: writes go through at once, as in libuv; a read would make
 * libuv's epoll abort, and fails the test naming the call. */
static void file_body(ah_sim *sim, void *ctx)
{
    char path[] = "/tmp/ah_realfd_XXXXXX";
    uv_loop_t *loop = uv_default_loop();
    uv_buf_t b = uv_buf_init("line\n", 5);
    int fd = mkstemp(path);

    (void)sim;
    unlink(path);
    assert_true(fd >= 0);
    assert_int_equal(uv_pipe_init(loop, &wr, 0), 0);
    assert_int_equal(uv_pipe_open(&wr, fd), 0);
    assert_int_equal(uv_try_write((uv_stream_t *)&wr, &b, 1), 5);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 5);
    if (ctx == NULL)
        uv_read_start((uv_stream_t *)&wr, alloc_cb, read_cb);
    uv_close((uv_handle_t *)&wr, NULL);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* uv_close closed it */
}

static void a_regular_file_adopted_as_a_pipe_is_written_and_not_read(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, file_body, NULL, "uv_read_start on a regular file");
    ah_assert_passes(NULL, file_body, "no read");
}

/* The adopted socket of a real socketpair: uv_fileno gives the real number, and a failure of the
 * test says the test used real descriptors. */
static void fileno_body(ah_sim *sim, void *ctx)
{
    uv_loop_t *loop = uv_default_loop();
    uv_os_fd_t fd;
    int sv[2];

    ah_fd_passthrough(sim, 1);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ah_fd_passthrough(sim, 0);
    assert_int_equal(uv_pipe_init(loop, &rd, 0), 0);
    assert_int_equal(uv_pipe_open(&rd, sv[0]), 0);
    assert_int_equal(uv_fileno((uv_handle_t *)&rd, &fd), 0);
    assert_int_equal(fd, sv[0]);
    if (ctx == NULL)
        ah_fail(sim, "planted");
    uv_close((uv_handle_t *)&rd, NULL);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(close(sv[1]), 0);
}

static void a_failure_after_adopting_a_real_socket_says_so(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, fileno_body, NULL,
                         "(the test watched real descriptors, first real socket");
    ah_assert_passes(NULL, fileno_body, "no failure");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_read_on_a_real_pipe_nobody_writes_names_it_after_the_budget),
        cmocka_unit_test(a_write_to_a_full_real_pipe_waits_for_pollout),
        cmocka_unit_test(a_regular_file_adopted_as_a_pipe_is_written_and_not_read),
        cmocka_unit_test(a_failure_after_adopting_a_real_socket_says_so),
    };
    return ah_run_tests(tests);
}
