/* Linux AIO (fs/aio.c) in virtual time: completions at the file system room's latency, the bytes
 * moved at the completion instant, the room's faults surfaced in the events, eventfd signalling,
 * RWF_NOWAIT and O_DIRECT, and planted misuse beside correct twins. The answers to misuse that the
 * kernel gives are compared with the real kernel in selftest/fsdiff/fsdiff_aio.c. */
#define _GNU_SOURCE 1
#include "fskit.h"

#include <errno.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef O_DIRECT
#define O_DIRECT 040000
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

#define L uv_default_loop()

static long io_setup_(unsigned n, aio_context_t *c) { return syscall(SYS_io_setup, n, c); }
static long io_destroy_(aio_context_t c) { return syscall(SYS_io_destroy, c); }
static long io_submit_(aio_context_t c, long n, struct iocb **v)
{
    return syscall(SYS_io_submit, c, n, v);
}
static long io_getevents_(aio_context_t c, long min, long max, struct io_event *e,
                          struct timespec *t)
{
    return syscall(SYS_io_getevents, c, min, max, e, t);
}

static struct timespec nowait = {0, 0};

static int open_file(const char *name, int flags)
{
    uv_fs_t req;
    int fd;

    fd = uv_fs_open(L, &req, P(name), flags | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    assert_true(fd >= 0);
    return fd;
}

static void close_file(int fd)
{
    uv_fs_t req;
    assert_int_equal(uv_fs_close(L, &req, fd, NULL), 0);
    uv_fs_req_cleanup(&req);
}

static void prep(struct iocb *cb, int op, int fd, const void *buf, size_t n, int64_t off)
{
    memset(cb, 0, sizeof(*cb));
    cb->aio_lio_opcode = (uint16_t)op;
    cb->aio_fildes = (uint32_t)fd;
    cb->aio_buf = (uint64_t)(uintptr_t)buf;
    cb->aio_nbytes = n;
    cb->aio_offset = off;
}

static void submit1(aio_context_t ctx, struct iocb *cb)
{
    struct iocb *v[1] = {cb};
    assert_int_equal(io_submit_(ctx, 1, v), 1);
}

/* Waits (blocking, no timeout) for one event and returns its res. */
static int64_t wait1(aio_context_t ctx)
{
    struct io_event ev;
    assert_int_equal(io_getevents_(ctx, 1, 1, &ev, NULL), 1);
    return ev.res;
}

static size_t file_get(const char *name, char *buf, size_t cap)
{
    char p[300];
    ssize_t n;
    snprintf(p, sizeof(p), "%s/%s", fsroot, name);
    n = ah_fs_get(ah_sim_current(), p, buf, cap);
    return n < 0 ? 0 : (size_t)n;
}

static int setup_mem(void **state)
{
    ah_sim *sim = *state;
    fsroot_make(sim, 1);
    return 0;
}

/* ---- virtual time ---- */

static void completion_comes_after_the_write_latency(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb cb;
    struct io_event ev;
    int fd;

    setup_mem(state);
    ah_fs_latency(sim, UV_FS_WRITE, 5);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(4, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, "hello", 5, 0);
    cb.aio_data = 42;
    submit1(ctx, &cb);
    ah_advance(sim, 4);
    assert_int_equal(io_getevents_(ctx, 0, 1, &ev, &nowait), 0);
    ah_advance(sim, 1);
    assert_int_equal(io_getevents_(ctx, 0, 1, &ev, &nowait), 1);
    ah_assert_now_ms(sim, 5);
    assert_int_equal(ev.res, 5);
    assert_int_equal(ev.data, 42);
    assert_ptr_equal((void *)(uintptr_t)ev.obj, &cb);
    assert_int_equal(io_destroy_(ctx), 0);
    close_file(fd);
}

static void blocking_getevents_lets_time_pass_to_the_completion(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb a, b;
    struct iocb *v[2] = {&a, &b};
    struct io_event ev[2];
    struct timespec ms3 = {0, 3 * 1000 * 1000};
    int fd;

    setup_mem(state);
    ah_fs_latency(sim, UV_FS_WRITE, 7);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(4, &ctx), 0);
    prep(&a, IOCB_CMD_PWRITE, fd, "ab", 2, 0);
    prep(&b, IOCB_CMD_PWRITE, fd, "cd", 2, 2);
    assert_int_equal(io_submit_(ctx, 2, v), 2);
    /* a timeout shorter than the latency: nothing, 3 ms later */
    assert_int_equal(io_getevents_(ctx, 1, 2, ev, &ms3), 0);
    ah_assert_now_ms(sim, 3);
    assert_int_equal(io_getevents_(ctx, 2, 2, ev, NULL), 2);
    ah_assert_now_ms(sim, 7);
    assert_ptr_equal((void *)(uintptr_t)ev[0].obj, &a); /* same instant: submit order */
    assert_ptr_equal((void *)(uintptr_t)ev[1].obj, &b);
    assert_int_equal(io_destroy_(ctx), 0);
    close_file(fd);
}

static void bytes_move_at_the_completion_instant(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb cb;
    char buf[8] = "before", out[16];
    int fd;

    setup_mem(state);
    ah_fs_latency(sim, UV_FS_WRITE, 2);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(1, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, buf, 6, 0);
    submit1(ctx, &cb);
    assert_int_equal(file_get("log", out, sizeof(out)), 0);
    memcpy(buf, "after!", 6); /* the bug a kernel may or may not show: the sim shows it */
    assert_int_equal(wait1(ctx), 6);
    assert_int_equal(file_get("log", out, sizeof(out)), 6);
    assert_memory_equal(out, "after!", 6);
    assert_int_equal(io_destroy_(ctx), 0);
    close_file(fd);
}

static void io_destroy_waits_for_requests_in_flight(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb cb;
    char out[8];
    int fd;

    setup_mem(state);
    ah_fs_latency(sim, UV_FS_WRITE, 9);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(1, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, "x", 1, 0);
    submit1(ctx, &cb);
    assert_int_equal(io_destroy_(ctx), 0);
    ah_assert_now_ms(sim, 9);
    assert_int_equal(file_get("log", out, sizeof(out)), 1);
    assert_int_equal(io_destroy_(ctx), -1);
    assert_int_equal(errno, EINVAL);
    close_file(fd);
}

static void a_full_context_answers_eagain(void **state)
{
    aio_context_t ctx = 0;
    struct iocb a, b;
    struct iocb *v[2] = {&a, &b};
    int fd;

    setup_mem(state);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(1, &ctx), 0);
    prep(&a, IOCB_CMD_PWRITE, fd, "x", 1, 0);
    prep(&b, IOCB_CMD_PWRITE, fd, "y", 1, 1);
    assert_int_equal(io_submit_(ctx, 2, v), 1); /* the second finds no room */
    assert_int_equal(io_submit_(ctx, 1, &v[1]), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(wait1(ctx), 1);
    assert_int_equal(io_submit_(ctx, 1, &v[1]), 1); /* reaped: room again */
    assert_int_equal(wait1(ctx), 1);
    assert_int_equal(io_destroy_(ctx), 0);
    close_file(fd);
}

/* ---- faults of the file system room ---- */

static void faults_reach_the_events(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb cb;
    char p[300];
    int fd;

    setup_mem(state);
    fd = open_file("log", O_WRONLY);
    snprintf(p, sizeof(p), "%s/log", fsroot);
    assert_int_equal(io_setup_(4, &ctx), 0);

    ah_fs_short_io(sim, p, 3); /* one write(2) moves 3 bytes: the event says so */
    prep(&cb, IOCB_CMD_PWRITE, fd, "abcdefgh", 8, 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 3);
    ah_fs_clear(sim);

    ah_fs_fail(sim, UV_FS_WRITE, p, UV_EIO, 1);
    prep(&cb, IOCB_CMD_PWRITE, fd, "abcdefgh", 8, 3);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), -EIO);
    submit1(ctx, &cb); /* once only */
    assert_int_equal(wait1(ctx), 8);

    ah_fs_capacity(sim, 13); /* 11 bytes used: 2 fit, then nothing */
    prep(&cb, IOCB_CMD_PWRITE, fd, "wxyz", 4, 11);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 2);
    prep(&cb, IOCB_CMD_PWRITE, fd, "yz", 2, 13);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), -ENOSPC);

    ah_fs_fail(sim, UV_FS_FSYNC, p, UV_EIO, 1);
    prep(&cb, IOCB_CMD_FSYNC, fd, NULL, 0, 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), -EIO);
    assert_int_equal(io_destroy_(ctx), 0);
    close_file(fd);
}

static void a_crash_loses_what_no_fsync_made_durable(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb cb;
    char out[16];
    int fd;

    setup_mem(state);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(4, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, "one;", 4, 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 4);
    prep(&cb, IOCB_CMD_FDSYNC, fd, NULL, 0, 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, "two;", 4, 4);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 4);
    assert_int_equal(file_get("log", out, sizeof(out)), 8);
    ah_fs_crash(sim);
    assert_int_equal(file_get("log", out, sizeof(out)), 4);
    assert_memory_equal(out, "one;", 4);
    assert_int_equal(io_destroy_(ctx), 0);
}

/* ---- eventfd, RWF_NOWAIT, O_DIRECT, passthrough ---- */

static void the_eventfd_is_signalled_at_the_completion_instant(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb cb;
    uint64_t n = 0;
    int fd, efd = eventfd(0, EFD_NONBLOCK);

    setup_mem(state);
    ah_fs_latency(sim, UV_FS_WRITE, 5);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(4, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, "x", 1, 0);
    cb.aio_flags = IOCB_FLAG_RESFD;
    cb.aio_resfd = (uint32_t)efd;
    submit1(ctx, &cb);
    ah_advance(sim, 4);
    assert_int_equal(read(efd, &n, 8), -1);
    assert_int_equal(errno, EAGAIN);
    ah_advance(sim, 1);
    assert_int_equal(read(efd, &n, 8), 8);
    assert_int_equal(n, 1);
    assert_int_equal(wait1(ctx), 1);
    ah_assert_now_ms(sim, 5);
    assert_int_equal(io_destroy_(ctx), 0);
    close(efd);
    close_file(fd);
}

static void nowait_answers_eagain_where_the_room_would_wait(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb cb;
    int fd;

    setup_mem(state);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(4, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, "x", 1, 0);
    cb.aio_rw_flags = RWF_NOWAIT;
    submit1(ctx, &cb); /* no latency: nothing to wait for */
    assert_int_equal(wait1(ctx), 1);
    ah_fs_latency(sim, UV_FS_WRITE, 5);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), -EAGAIN);
    ah_assert_now_ms(sim, 0);
    assert_int_equal(io_destroy_(ctx), 0);
    close_file(fd);
}

static void o_direct_needs_alignment(void **state)
{
    aio_context_t ctx = 0;
    struct iocb cb;
    void *buf = NULL;
    int fd;

    setup_mem(state);
    fd = open_file("data", O_RDWR | O_DIRECT);
    assert_int_equal(posix_memalign(&buf, 4096, 8192), 0);
    memset(buf, 'z', 8192);
    assert_int_equal(io_setup_(4, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, buf, 4096, 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 4096);
    prep(&cb, IOCB_CMD_PWRITE, fd, buf, 4096, 100);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), -EINVAL);
    prep(&cb, IOCB_CMD_PREAD, fd, (char *)buf + 8, 512, 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), -EINVAL);
    assert_int_equal(io_destroy_(ctx), 0);
    free(buf);
    close_file(fd);
}

static void passthrough_files_complete_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb cb;
    char out[8] = {0};
    struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
    int fd;

    fsroot_make(sim, 0);
    ah_fs_latency(sim, UV_FS_UNKNOWN, 3);
    fd = open_file("real", O_RDWR);
    assert_int_equal(io_setup_(4, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITEV, fd, iov, 2, 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 4);
    ah_assert_now_ms(sim, 3);
    prep(&cb, IOCB_CMD_PREAD, fd, out, sizeof(out), 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 4);
    assert_string_equal(out, "abcd");
    ah_assert_now_ms(sim, 6);
    /* other system calls pass through with their arguments */
    assert_int_equal(syscall(SYS_lseek, fd, 0L, SEEK_END), 4);
    assert_int_equal(syscall(SYS_getpid), getpid());
    assert_int_equal(io_destroy_(ctx), 0);
    close_file(fd);
    fsroot_remove(sim);
}

static void a_file_opened_with_open_is_real_and_takes_pathless_rules(void **state)
{
    ah_sim *sim = *state;
    aio_context_t ctx = 0;
    struct iocb cb;
    char p[300];
    int fd;

    fsroot_make(sim, 0);
    snprintf(p, sizeof(p), "%s/plain", fsroot);
    fd = open(p, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    ah_fs_latency(sim, UV_FS_WRITE, 2);
    ah_fs_fail(sim, UV_FS_WRITE, NULL, UV_EIO, 1); /* no path: any descriptor */
    assert_int_equal(io_setup_(2, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, "abc", 3, 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), -EIO);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 3);
    ah_assert_now_ms(sim, 4);
    assert_int_equal(lseek(fd, 0, SEEK_END), 3); /* the real file */
    assert_int_equal(io_destroy_(ctx), 0);
    close(fd);
    fsroot_remove(sim);
}

/* ---- planted misuse and correct twins ---- */

static void body_wait_forever(ah_sim *sim, void *ctx_)
{
    aio_context_t ctx = 0;
    struct io_event ev;
    (void)ctx_;
    (void)sim;
    assert_int_equal(io_setup_(4, &ctx), 0);
    io_getevents_(ctx, 1, 1, &ev, NULL); /* nothing was submitted */
    io_destroy_(ctx);
}

static void body_wait_for_one(ah_sim *sim, void *ctx_)
{
    aio_context_t ctx = 0;
    struct iocb cb;
    int fd;
    (void)ctx_;
    fsroot_make(sim, 1);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(4, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, "x", 1, 0);
    submit1(ctx, &cb);
    assert_int_equal(wait1(ctx), 1);
    io_destroy_(ctx);
    close_file(fd);
}

static void getevents_with_nothing_in_flight_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, body_wait_forever, NULL, "would block forever");
    ah_assert_passes(NULL, body_wait_for_one, NULL);
}

static void body_ctx_kept(ah_sim *sim, void *destroy)
{
    aio_context_t ctx = 0;
    (void)sim;
    assert_int_equal(io_setup_(4, &ctx), 0);
    if (destroy != NULL)
        io_destroy_(ctx);
}

static void a_context_never_destroyed_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, body_ctx_kept, NULL, "was never destroyed (io_destroy)");
    ah_assert_passes(NULL, body_ctx_kept, "destroy");
}

static void body_eventfd_closed(ah_sim *sim, void *early)
{
    aio_context_t ctx = 0;
    struct iocb cb;
    int fd, efd = eventfd(0, EFD_NONBLOCK);

    fsroot_make(sim, 1);
    ah_fs_latency(sim, UV_FS_WRITE, 5);
    fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(4, &ctx), 0);
    prep(&cb, IOCB_CMD_PWRITE, fd, "x", 1, 0);
    cb.aio_flags = IOCB_FLAG_RESFD;
    cb.aio_resfd = (uint32_t)efd;
    submit1(ctx, &cb);
    if (early != NULL)
        close(efd); /* the bug: the eventfd goes before its request completes */
    ah_advance(sim, 5);
    wait1(ctx);
    if (early == NULL)
        close(efd);
    io_destroy_(ctx);
    close_file(fd);
}

static void an_eventfd_closed_before_its_completion_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, body_eventfd_closed, "early", "could not be signalled");
    ah_assert_passes(NULL, body_eventfd_closed, NULL);
}

typedef struct cb_ctx {
    aio_context_t ctx;
    struct iocb cb;
    int fd, blocking;
    int64_t res;
} cb_ctx;

static void reap_in_callback(uv_timer_t *t)
{
    cb_ctx *c = t->data;
    struct io_event ev;
    struct timespec zero = {0, 0};

    /* the bug: a blocking wait inside the loop; the twin reaps with a zero timeout */
    if (io_getevents_(c->ctx, c->blocking ? 1 : 0, 1, &ev, c->blocking ? NULL : &zero) == 1) {
        c->res = ev.res;
        uv_close((uv_handle_t *)t, NULL);
    }
}

static void body_reap_in_callback(ah_sim *sim, void *blocking)
{
    cb_ctx c = {0};
    uv_timer_t t;

    fsroot_make(sim, 1);
    ah_fs_latency(sim, UV_FS_WRITE, 8);
    c.blocking = blocking != NULL;
    c.fd = open_file("log", O_WRONLY);
    assert_int_equal(io_setup_(4, &c.ctx), 0);
    prep(&c.cb, IOCB_CMD_PWRITE, c.fd, "x", 1, 0);
    submit1(c.ctx, &c.cb);
    uv_timer_init(L, &t);
    t.data = &c;
    uv_timer_start(&t, reap_in_callback, 1, 1);
    uv_run(L, UV_RUN_DEFAULT);
    assert_int_equal(c.res, 1);
    io_destroy_(c.ctx);
    close_file(c.fd);
}

static void a_blocking_wait_inside_a_callback_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, body_reap_in_callback, "blocking", "blocking call io_getevents in");
    ah_assert_passes(NULL, body_reap_in_callback, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(completion_comes_after_the_write_latency),
        ah_unit_test(blocking_getevents_lets_time_pass_to_the_completion),
        ah_unit_test(bytes_move_at_the_completion_instant),
        ah_unit_test(io_destroy_waits_for_requests_in_flight),
        ah_unit_test(a_full_context_answers_eagain),
        ah_unit_test(faults_reach_the_events),
        ah_unit_test(a_crash_loses_what_no_fsync_made_durable),
        ah_unit_test(the_eventfd_is_signalled_at_the_completion_instant),
        ah_unit_test(nowait_answers_eagain_where_the_room_would_wait),
        ah_unit_test(o_direct_needs_alignment),
        ah_unit_test(passthrough_files_complete_in_virtual_time),
        ah_unit_test(a_file_opened_with_open_is_real_and_takes_pathless_rules),
        ah_unit_test(getevents_with_nothing_in_flight_is_reported),
        ah_unit_test(a_context_never_destroyed_is_reported),
        ah_unit_test(an_eventfd_closed_before_its_completion_is_reported),
        ah_unit_test(a_blocking_wait_inside_a_callback_is_reported),
    };
    return ah_run_tests(tests);
}
