/* eventfd(2) under a sim (Linux's fs/eventfd.c): a 64-bit counter behind a fake descriptor. A read
 * of 8 bytes takes the whole count (or 1 with EFD_SEMAPHORE) and waits, in virtual time, while it
 * is 0; a write adds to it and waits while the sum would pass 0xfffffffffffffffe; EAGAIN instead of
 * waiting with EFD_NONBLOCK; EINVAL for a buffer under 8 bytes or a write of ~0. Readable while
 * the count is above 0, writable while it is below the maximum. eventfd_read and eventfd_write
 * (glibc calls its own read and write inside them, which the harness would not see) go through
 * read and write here. */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_eventfd = 0;

#define EFD_MAX 0xfffffffffffffffeULL

typedef struct fevent {
    uint64_t count;
    int semaphore;
} fevent;

/* The first 8 bytes of the iovecs, or -1 when they hold fewer. */
static int iov_len_ok(const struct msghdr *msg)
{
    size_t len = 0, i;

    for (i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    return len >= sizeof(uint64_t);
}

static void iov_put(const struct msghdr *msg, uint64_t v)
{
    const char *src = (const char *)&v;
    size_t done = 0, i, piece;

    for (i = 0; i < msg->msg_iovlen && done < sizeof(v); i++) {
        piece =
            msg->msg_iov[i].iov_len < sizeof(v) - done ? msg->msg_iov[i].iov_len : sizeof(v) - done;
        memcpy(msg->msg_iov[i].iov_base, src + done, piece);
        done += piece;
    }
}

static uint64_t iov_get(const struct msghdr *msg)
{
    char *dst;
    uint64_t v = 0;
    size_t done = 0, i, piece;

    dst = (char *)&v;
    for (i = 0; i < msg->msg_iovlen && done < sizeof(v); i++) {
        piece =
            msg->msg_iov[i].iov_len < sizeof(v) - done ? msg->msg_iov[i].iov_len : sizeof(v) - done;
        memcpy(dst + done, msg->msg_iov[i].iov_base, piece);
        done += piece;
    }
    return v;
}

static int has_count(void *ctx) { return ((fevent *)((ah__fsock *)ctx)->priv)->count > 0; }

static ssize_t ev_recv(ah__fsock *fs, struct msghdr *msg, int flags, const char *call,
                       ah__site site)
{
    fevent *e = fs->priv;
    uint64_t v;

    (void)flags;
    if (ah__fd_sock_call(call))
        return ah__fd_fail_errno(ENOTSOCK);
    if (!iov_len_ok(msg))
        return ah__fd_fail_errno(EINVAL);
    if (e->count == 0) {
        if (fs->nonblock)
            return ah__fd_fail_errno(EAGAIN);
        if (ah__fd_block(fs, call, has_count, fs, UINT64_MAX, site) < 0)
            return -1; /* EINTR */
    }
    v = e->semaphore ? 1 : e->count;
    e->count -= v;
    iov_put(msg, v);
    ah__fd_changed(fs); /* writable again */
    return sizeof(v);
}

typedef struct room_ctx {
    ah__fsock *fs;
    uint64_t add;
} room_ctx;

static int has_room(void *ctx)
{
    room_ctx *r = ctx;
    return EFD_MAX - ((fevent *)r->fs->priv)->count >= r->add;
}

static ssize_t ev_send(ah__fsock *fs, const struct msghdr *msg, int flags, const char *call,
                       ah__site site)
{
    fevent *e = fs->priv;
    room_ctx r;

    (void)flags;
    if (ah__fd_sock_call(call))
        return ah__fd_fail_errno(ENOTSOCK);
    if (!iov_len_ok(msg))
        return ah__fd_fail_errno(EINVAL);
    r.fs = fs;
    r.add = iov_get(msg);
    if (r.add == UINT64_MAX)
        return ah__fd_fail_errno(EINVAL);
    if (!has_room(&r)) {
        if (fs->nonblock)
            return ah__fd_fail_errno(EAGAIN);
        if (ah__fd_block(fs, call, has_room, &r, UINT64_MAX, site) < 0)
            return -1; /* EINTR */
    }
    e->count += r.add;
    if (r.add > 0)
        ah__fd_changed(fs);
    return sizeof(uint64_t);
}

static int ev_nread(ah__fsock *fs)
{
    (void)fs;
    return 0; /* Linux's eventfd has no FIONREAD: ENOTTY would be exact; 0 is harmless */
}

static short ev_revents(ah__fsock *fs)
{
    fevent *e = fs->priv;
    short m = 0;

    if (e->count > 0)
        m |= POLLIN | POLLRDNORM;
    if (e->count < EFD_MAX)
        m |= POLLOUT | POLLWRNORM;
    return m;
}

static void ev_release(ah__fsock *fs)
{
    ah__free(fs->priv);
    fs->priv = NULL;
}

static const ah__fsock_ops eventfd_ops = {
    ah__fd_notsock_addr,
    ah__fd_notsock_addr,
    ev_recv,
    ev_send,
    ah__fd_notsock_shutdown,
    ah__fd_notsock_name,
    ah__fd_notsock_getsockopt,
    ah__fd_notsock_setsockopt,
    ev_nread,
    ev_revents,
    ah__fd_nop,
    ah__fd_nop,
    ev_release,
    NULL,
    NULL,
};

AH__LIBC(eventfd, 12, AH__LIBC_FD);
int eventfd(unsigned int initval, int flags)
{
    AH__REAL(eventfd);
    ah_sim *sim = ah__sim_libc();
    ah__fsock *fs;
    fevent *e;

    if (sim == NULL || ah__fd_passthrough(sim))
        return real_eventfd(initval, flags);
    if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE))
        return ah__fd_fail_errno(EINVAL);
    if ((fs = ah__fd_new(sim, AH__FK_SOCK, AH__CALLER("eventfd"))) == NULL)
        return -1;
    e = ah__calloc(1, sizeof(*e));
    e->count = initval;
    e->semaphore = (flags & EFD_SEMAPHORE) != 0;
    fs->ops = &eventfd_ops;
    fs->priv = e;
    fs->what = "eventfd";
    fs->nonblock = (flags & EFD_NONBLOCK) != 0;
    fs->cloexec = (flags & EFD_CLOEXEC) != 0;
    fs->state = AH__FS_CONNECTED;
    return fs->fd;
}

AH__LIBC(eventfd_read, 17, AH__LIBC_FD);
int eventfd_read(int fd, eventfd_t *value)
{
    AH__REAL(eventfd_read);

    if (ah__fd_get(fd) == NULL)
        return real_eventfd_read(fd, value);
    return read(fd, value, sizeof(*value)) == sizeof(*value) ? 0 : -1;
}

AH__LIBC(eventfd_write, 18, AH__LIBC_FD);
int eventfd_write(int fd, eventfd_t value)
{
    AH__REAL(eventfd_write);

    if (ah__fd_get(fd) == NULL)
        return real_eventfd_write(fd, value);
    return write(fd, &value, sizeof(value)) == sizeof(value) ? 0 : -1;
}
