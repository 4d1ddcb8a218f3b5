/* Linux AIO through libc's syscall(): the answers the kernel gives to misuse (a bad context,
 * io_getevents' counts, io_submit with nothing, io_destroy twice, bad iocbs, O_DIRECT
 * misalignment) and to plain reads, writes and syncs, printed one per line. On real libuv it is the
 * kernel's own AIO on a file in the temp directory; the _sim build answers from fs/aio.c in
 * passthrough, the _mem_sim build from fs/aio.c on the in-memory file system. */
#define _GNU_SOURCE 1
#include <uv.h>
#ifdef FSDIFF_MEMORY
#include <ah/ah.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef O_DIRECT /* ah/sites.h, force-included, may bring fcntl.h in before _GNU_SOURCE */
#define O_DIRECT 040000
#endif

static long r_of(long r) { return r < 0 ? -errno : r; }

static void show(const char *what, long r)
{
    if (r < 0)
        printf("%-34s %s\n", what, uv_err_name((int)r));
    else
        printf("%-34s %ld\n", what, r);
}

#define SYS(what, ...) show(what, r_of(syscall(__VA_ARGS__)))

static void prep(struct iocb *cb, int op, int fd, void *buf, size_t n, int64_t off)
{
    memset(cb, 0, sizeof(*cb));
    cb->aio_lio_opcode = (uint16_t)op;
    cb->aio_fildes = (uint32_t)fd;
    cb->aio_buf = (uint64_t)(uintptr_t)buf;
    cb->aio_nbytes = n;
    cb->aio_offset = off;
}

/* Submits one iocb and waits for its event; prints the submit's and the event's answers. */
static void one(aio_context_t ctx, const char *what, struct iocb *cb)
{
    struct iocb *p = cb;
    struct io_event ev;
    char w[64];
    long r = r_of(syscall(__NR_io_submit, ctx, 1L, &p));

    snprintf(w, sizeof(w), "%s submit", what);
    show(w, r);
    if (r != 1)
        return;
    r = r_of(syscall(__NR_io_getevents, ctx, 1L, 1L, &ev, NULL));
    snprintf(w, sizeof(w), "%s events", what);
    show(w, r);
    snprintf(w, sizeof(w), "%s res", what);
    show(w, r == 1 ? (long)ev.res : r);
    snprintf(w, sizeof(w), "%s obj,data", what);
    show(w, r == 1 ? (long)(ev.obj == (uint64_t)(uintptr_t)cb && ev.data == cb->aio_data) : r);
}

static int open_fd(uv_loop_t *loop, const char *path, int flags)
{
    uv_fs_t req;
    int fd = uv_fs_open(loop, &req, path, flags, 0644, NULL);
    uv_fs_req_cleanup(&req);
    return fd;
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    aio_context_t ctx = 0, ctx2 = 0, bad = 12345;
    struct io_event evs[8];
    struct iocb cb, cb2, *list[2];
    struct timespec zero = {0, 0}, ms10 = {0, 10 * 1000 * 1000};
    char path[300], rbuf[64];
    void *abuf;
    int fd, rofd, dfd, efd;
    uint64_t n;
#ifdef FSDIFF_MEMORY
    const char *tmp = "/tmp";
    ah_fs_memory(ah_sim_current());
#else
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
#endif

    snprintf(path, sizeof(path), "%s/fsdiff_aio_%d", tmp, (int)getpid());
    fd = open_fd(loop, path, O_RDWR | O_CREAT | O_TRUNC);
    rofd = open_fd(loop, path, O_RDONLY);
    if (fd < 0 || rofd < 0 || posix_memalign(&abuf, 4096, 8192) != 0)
        return 1;
    memset(abuf, 'd', 8192);

    SYS("setup nr 0", __NR_io_setup, 0U, &ctx);
    SYS("setup", __NR_io_setup, 8U, &ctx);
    ctx2 = ctx;
    SYS("setup ctx not zero", __NR_io_setup, 8U, &ctx2);
    SYS("setup null ctxp", __NR_io_setup, 8U, NULL);
    SYS("submit bad ctx", __NR_io_submit, bad, 1L, list);
    SYS("submit bad ctx nr 0", __NR_io_submit, bad, 0L, list);
    SYS("submit nr 0", __NR_io_submit, ctx, 0L, list);
    SYS("submit nr -1", __NR_io_submit, ctx, -1L, list);
    list[0] = NULL;
    SYS("submit null iocb", __NR_io_submit, ctx, 1L, list);
    SYS("getevents bad ctx", __NR_io_getevents, bad, 0L, 1L, evs, &zero);
    SYS("getevents min > nr", __NR_io_getevents, ctx, 2L, 1L, evs, &zero);
    SYS("getevents min -1", __NR_io_getevents, ctx, -1L, 1L, evs, &zero);
    SYS("getevents nr 0", __NR_io_getevents, ctx, 0L, 0L, evs, &zero);
    SYS("getevents none now", __NR_io_getevents, ctx, 0L, 8L, evs, &zero);
    SYS("getevents none 10ms", __NR_io_getevents, ctx, 1L, 8L, evs, &ms10);
    SYS("cancel bad ctx", __NR_io_cancel, bad, &cb, &evs[0]);

    prep(&cb, IOCB_CMD_PWRITE, fd, "hello world\n", 12, 0);
    cb.aio_data = 7;
    one(ctx, "pwrite", &cb);
    prep(&cb, IOCB_CMD_PREAD, fd, rbuf, sizeof(rbuf), 0);
    cb.aio_data = 8;
    one(ctx, "pread", &cb);
    show("pread bytes", memcmp(rbuf, "hello world\n", 12) == 0);
    prep(&cb, IOCB_CMD_PREAD, fd, rbuf, sizeof(rbuf), 100);
    one(ctx, "pread past end", &cb);
    prep(&cb, IOCB_CMD_PWRITE, rofd, "x", 1, 0);
    one(ctx, "pwrite on rdonly", &cb);
    prep(&cb, IOCB_CMD_PWRITE, 999, "x", 1, 0);
    one(ctx, "pwrite bad fd", &cb);
    prep(&cb, IOCB_CMD_PWRITE, fd, "x", 1, -1);
    one(ctx, "pwrite offset -1", &cb);
    prep(&cb, 99, fd, "x", 1, 0);
    one(ctx, "bad opcode", &cb);
    prep(&cb, IOCB_CMD_PWRITE, fd, "x", 1, 0);
    cb.aio_reserved2 = 1;
    one(ctx, "reserved2 set", &cb);
    prep(&cb, IOCB_CMD_FSYNC, fd, NULL, 0, 0);
    one(ctx, "fsync", &cb);
    prep(&cb, IOCB_CMD_FDSYNC, fd, NULL, 0, 0);
    one(ctx, "fdsync", &cb);
    prep(&cb, IOCB_CMD_FSYNC, fd, NULL, 1, 0);
    one(ctx, "fsync with nbytes", &cb);
    prep(&cb, IOCB_CMD_PWRITE, fd, "x", 1, 0);
    cb.aio_rw_flags = 0x40000000;
    one(ctx, "unknown rw flag", &cb);

    /* two at once: both submitted, two events */
    prep(&cb, IOCB_CMD_PWRITE, fd, "AB", 2, 20);
    prep(&cb2, IOCB_CMD_PWRITE, fd, "CD", 2, 22);
    list[0] = &cb;
    list[1] = &cb2;
    SYS("submit two", __NR_io_submit, ctx, 2L, list);
    SYS("getevents two", __NR_io_getevents, ctx, 2L, 8L, evs, NULL);
    /* the second iocb bad: the first counts */
    prep(&cb2, 99, fd, "CD", 2, 22);
    SYS("submit good then bad", __NR_io_submit, ctx, 2L, list);
    SYS("getevents one", __NR_io_getevents, ctx, 1L, 8L, evs, NULL);

    /* an eventfd signalled per completion */
    efd = eventfd(0, EFD_NONBLOCK);
    prep(&cb, IOCB_CMD_PWRITE, fd, "E", 1, 30);
    cb.aio_flags = IOCB_FLAG_RESFD;
    cb.aio_resfd = (uint32_t)efd;
    list[0] = &cb;
    SYS("submit resfd", __NR_io_submit, ctx, 1L, list);
    SYS("getevents resfd", __NR_io_getevents, ctx, 1L, 8L, evs, NULL);
    n = 0;
    show("eventfd read", read(efd, &n, 8) == 8 ? (long)n : -errno);
    cb.aio_resfd = (uint32_t)rofd;
    SYS("submit resfd not eventfd", __NR_io_submit, ctx, 1L, list);
    cb.aio_resfd = 998;
    SYS("submit resfd bad fd", __NR_io_submit, ctx, 1L, list);
    close(efd);

    /* O_DIRECT: aligned works, misaligned offset, length or buffer is EINVAL */
    dfd = open_fd(loop, path, O_RDWR | O_DIRECT);
    show("open o_direct", dfd >= 0);
    prep(&cb, IOCB_CMD_PWRITE, dfd, abuf, 4096, 0);
    one(ctx, "direct aligned", &cb);
    prep(&cb, IOCB_CMD_PWRITE, dfd, abuf, 4096, 1);
    one(ctx, "direct offset 1", &cb);
    prep(&cb, IOCB_CMD_PWRITE, dfd, abuf, 100, 0);
    one(ctx, "direct length 100", &cb);
    prep(&cb, IOCB_CMD_PWRITE, dfd, (char *)abuf + 1, 4096, 0);
    one(ctx, "direct buffer +1", &cb);
    prep(&cb, IOCB_CMD_PREAD, dfd, abuf, 4096, 0);
    one(ctx, "direct read aligned", &cb);

    SYS("cancel done iocb", __NR_io_cancel, ctx, &cb, &evs[0]);
    SYS("destroy", __NR_io_destroy, ctx);
    SYS("destroy twice", __NR_io_destroy, ctx);
    SYS("submit after destroy", __NR_io_submit, ctx, 1L, list);
    SYS("getevents after destroy", __NR_io_getevents, ctx, 0L, 1L, evs, &zero);
    show("getpid passes through", syscall(SYS_getpid) == getpid());

    {
        uv_fs_t req;
        uv_fs_close(loop, &req, fd, NULL);
        uv_fs_close(loop, &req, rofd, NULL);
        if (dfd >= 0)
            uv_fs_close(loop, &req, dfd, NULL);
        uv_fs_unlink(loop, &req, path, NULL);
        uv_fs_req_cleanup(&req);
    }
    free(abuf);
    return 0;
}
