/* A program on libaio (libaio-dev), unchanged, on the sim: Debian 12's libaio 0.3.113 issues its
 * system calls through libc's syscall(), which fs/aio.c answers, and its io_getevents reads the
 * completion ring only when the context's magic says it is the kernel's (the sim's is 0). Built
 * only where libaio is installed (scripts/deps.sh installs it). */
#include <ah/ah.h>

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

static int open_mem(ah_sim *sim, const char *path)
{
    uv_fs_t req;
    int fd;

    ah_fs_memory(sim);
    fd = uv_fs_open(NULL, &req, path, O_RDWR | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    assert_true(fd >= 0);
    return fd;
}

static void libaio_writes_complete_at_the_fs_latency(void **state)
{
    ah_sim *sim = *state;
    io_context_t ctx = 0;
    struct iocb cb, *cbs[1] = {&cb};
    struct io_event ev;
    struct timespec zero = {0, 0};
    char out[8];
    uint64_t n = 0;
    int fd = open_mem(sim, "/tmp/log"), efd = eventfd(0, EFD_NONBLOCK);

    ah_fs_latency(sim, UV_FS_WRITE, 6);
    assert_int_equal(io_setup(0, &ctx), -EINVAL); /* libaio's convention: -errno */
    assert_int_equal(io_queue_init(4, &ctx), 0);
    io_prep_pwrite(&cb, fd, "libaio", 6, 0);
    io_set_eventfd(&cb, efd);
    cb.data = &cb;
    assert_int_equal(io_submit(ctx, 1, cbs), 1);
    assert_int_equal(io_cancel(ctx, &cb, &ev), -EINVAL); /* file I/O cannot be cancelled */
    assert_int_equal(io_getevents(ctx, 0, 1, &ev, &zero), 0);
    assert_int_equal(io_getevents(ctx, 1, 1, &ev, NULL), 1);
    ah_assert_now_ms(sim, 6);
    assert_int_equal(ev.res, 6);
    assert_ptr_equal(ev.obj, &cb);
    assert_ptr_equal(ev.data, &cb);
    ah_advance(sim, 0);
    assert_int_equal(read(efd, &n, 8), 8);
    assert_int_equal(n, 1);
    assert_int_equal(ah_fs_get(sim, "/tmp/log", out, sizeof(out)), 6);
    assert_memory_equal(out, "libaio", 6);
    assert_int_equal(io_queue_release(ctx), 0);
    assert_int_equal(io_destroy(ctx), -EINVAL);
    close(efd);
    {
        uv_fs_t req;
        uv_fs_close(NULL, &req, fd, NULL);
        uv_fs_req_cleanup(&req);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(libaio_writes_complete_at_the_fs_latency),
    };
    return ah_run_tests(tests);
}
