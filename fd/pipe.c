/* pipe(2) and pipe2(2) under a sim: a fake pipe is a one-way fake socketpair (its bytes ride the
 * fake network's segments, so uv_pipe_open adopts either end as it adopts a socket) with Linux's
 * pipe semantics on top (fs/pipe.c): a 64 KiB capacity (F_GETPIPE_SZ, F_SETPIPE_SZ), writes up to
 * PIPE_BUF atomic, EAGAIN when full, EPIPE (and SIGPIPE) once no reader is left, EOF once no
 * writer is left, EBADF for a read on the write end and the reverse, ENOTSOCK for socket calls.
 * pipe_poll's readiness: the read end is readable with bytes in the pipe and hangs up (POLLHUP)
 * without writers; the write end is writable with a page free and in error (POLLERR) without
 * readers. */
#define _GNU_SOURCE 1 /* pipe2, F_GETPIPE_SZ */
#include "internal_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_pipe = 0;

enum { PIPE_DEFAULT_SZ = 65536, PIPE_MAX_SZ = 1048576 /* /proc/sys/fs/pipe-max-size */ };

/* Shared by the two ends. */
typedef struct fpipe {
    int refs;
    int cap;
} fpipe;

static int is_reader(const ah__fsock *fs) { return fs->accmode == O_RDONLY; }

static ah__flow *pipe_flow(const ah__fsock *fs)
{
    /* The write end sends on its side's flow; the read end receives the other side's. */
    if (fs->conn == NULL)
        return NULL;
    return is_reader(fs) ? &fs->conn->flow[1 - fs->side] : &fs->conn->flow[fs->side];
}

static int other_end_gone(const ah__fsock *fs)
{
    return fs->conn == NULL || fs->conn->end[1 - fs->side].closed;
}

static size_t pipe_used(const ah__fsock *fs)
{
    ah__flow *f = pipe_flow(fs);
    return f != NULL ? (size_t)(f->wr - f->rd) : 0;
}

static size_t pipe_room(const ah__fsock *fs)
{
    size_t cap = (size_t)((fpipe *)fs->priv)->cap, used = pipe_used(fs);
    return used >= cap ? 0 : cap - used;
}

static int readable_now(void *ctx)
{
    ah__fsock *fs = ctx;
    ah__flow *f;

    ah__fd_catch_up(fs);
    f = pipe_flow(fs);
    return f == NULL || ah__flow_readable(f, 0) > 0 || f->fin_arrived || f->rst_arrived ||
           other_end_gone(fs);
}

static ssize_t pipe_recv(ah__fsock *fs, struct msghdr *msg, int flags, const char *call,
                         ah__site site)
{
    size_t len = 0, avail, n, done, piece, i;
    ah__flow *f;

    (void)flags;
    if (ah__fd_sock_call(call))
        return ah__fd_fail_errno(ENOTSOCK);
    if (!is_reader(fs))
        return ah__fd_fail_errno(EBADF);
    for (i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    for (;;) {
        ah__fd_catch_up(fs);
        f = pipe_flow(fs);
        avail = f != NULL ? ah__flow_readable(f, 0) : 0;
        if (avail > 0 && len > 0) {
            n = avail < len ? avail : len;
            for (i = 0, done = 0; i < msg->msg_iovlen && done < n; i++) {
                piece = msg->msg_iov[i].iov_len < n - done ? msg->msg_iov[i].iov_len : n - done;
                memcpy(msg->msg_iov[i].iov_base, f->buf + (f->rd + done - f->base), piece);
                done += piece;
            }
            ah__flow_consume(f, n);
            return (ssize_t)n;
        }
        if (len == 0 || readable_now(fs))
            return 0; /* no writer left: end of file */
        if (fs->nonblock)
            return ah__fd_fail_errno(EAGAIN);
        if (ah__fd_block(fs, call, readable_now, fs, UINT64_MAX, site) < 0)
            return -1; /* EINTR */
    }
}

typedef struct write_wait {
    ah__fsock *fs;
    size_t need; /* the room the next step of the write takes: all of it up to PIPE_BUF */
} write_wait;

static int writable_now(void *ctx)
{
    write_wait *w = ctx;
    return other_end_gone(w->fs) || pipe_room(w->fs) >= w->need;
}

static ssize_t pipe_send(ah__fsock *fs, const struct msghdr *msg, int flags, const char *call,
                         ah__site site)
{
    size_t len = 0, sent = 0, room, n, skip, piece, i;
    ah__fsock *peer;
    write_wait ww;

    if (ah__fd_sock_call(call))
        return ah__fd_fail_errno(ENOTSOCK);
    if (is_reader(fs))
        return ah__fd_fail_errno(EBADF);
    for (i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    for (;;) {
        if (other_end_gone(fs))
            return sent > 0 ? (ssize_t)sent : ah__fd_epipe(fs, flags, call, site);
        if (len == 0)
            return 0;
        room = pipe_room(fs);
        /* Up to PIPE_BUF bytes go in whole or not at all. */
        if (room > 0 && !(len - sent <= PIPE_BUF && room < len - sent)) {
            n = len - sent < room ? len - sent : room;
            for (i = 0, skip = sent; i < msg->msg_iovlen && n > 0; i++) {
                if (skip >= msg->msg_iov[i].iov_len) {
                    skip -= msg->msg_iov[i].iov_len;
                    continue;
                }
                piece = msg->msg_iov[i].iov_len - skip < n ? msg->msg_iov[i].iov_len - skip : n;
                ah__flow_send(fs->conn, fs->side, (const char *)msg->msg_iov[i].iov_base + skip,
                              piece);
                sent += piece;
                n -= piece;
                skip = 0;
            }
            peer = fs->conn->end[1 - fs->side].ops != NULL ? fs->conn->end[1 - fs->side].ctx : NULL;
            if (peer != NULL)
                ah__twait_wake(&peer->twq); /* a thread blocked reading the other end */
            if (sent == len || fs->nonblock)
                return (ssize_t)sent;
        } else if (fs->nonblock) {
            return sent > 0 ? (ssize_t)sent : ah__fd_fail_errno(EAGAIN);
        }
        /* Wait for room the step can take: a write of up to PIPE_BUF bytes left waits for all
         * of it (waking on a byte of room would find it still too small, and spin). */
        ww.fs = fs;
        ww.need = len - sent <= PIPE_BUF ? len - sent : 1;
        if (ah__fd_block(fs, call, writable_now, &ww, UINT64_MAX, site) < 0)
            return sent > 0 ? (ssize_t)sent : -1; /* EINTR, or the part written */
    }
}

static int pipe_nread(ah__fsock *fs)
{
    ah__flow *f;

    ah__fd_catch_up(fs);
    f = pipe_flow(fs);
    return f == NULL ? 0 : is_reader(fs) ? (int)ah__flow_readable(f, 0) : (int)pipe_used(fs);
}

static short pipe_revents(ah__fsock *fs)
{
    short m = 0;
    ah__flow *f;

    ah__fd_catch_up(fs);
    f = pipe_flow(fs);
    if (is_reader(fs)) {
        if (f != NULL && ah__flow_readable(f, 0) > 0)
            m |= POLLIN | POLLRDNORM;
        if (other_end_gone(fs) || (f != NULL && f->fin_arrived))
            m |= POLLHUP;
    } else {
        if (pipe_room(fs) >= PIPE_BUF || pipe_room(fs) == (size_t)((fpipe *)fs->priv)->cap)
            m |= POLLOUT | POLLWRNORM;
        if (other_end_gone(fs))
            m |= POLLERR;
    }
    return m;
}

/* One end closes: a uv stream that adopted the other end and has writes queued (waiting for room)
 * tries them again, and meets EPIPE, as Linux's pipe_write does once no reader is left. */
static void pipe_close(ah__fsock *fs)
{
    ah__sock *other;

    if (fs->conn == NULL)
        return;
    other = fs->conn->end[1 - fs->side].sock;
    if (other != NULL)
        ah__sock_writable(other);
}

static void pipe_release(ah__fsock *fs)
{
    fpipe *p = fs->priv;

    if (p != NULL && --p->refs == 0)
        ah__free(p);
    fs->priv = NULL;
}

/* pipe_set_size: a power of two of pages, at least one page; EBUSY below what is in it. */
static int pipe_fcntl(ah__fsock *fs, int cmd, long arg, int *r)
{
    fpipe *p = fs->priv;
    long sz = 4096;

    if (cmd == F_GETPIPE_SZ) {
        *r = p->cap;
        return 1;
    }
    if (cmd != F_SETPIPE_SZ)
        return 0;
    if (arg < 0 || arg > PIPE_MAX_SZ) {
        *r = ah__fd_fail_errno(arg < 0 ? EINVAL : EPERM);
        return 1;
    }
    while (sz < arg)
        sz *= 2;
    if ((size_t)sz < pipe_used(fs)) {
        *r = ah__fd_fail_errno(EBUSY);
        return 1;
    }
    p->cap = (int)sz;
    ah__fd_changed(fs);
    *r = (int)sz;
    return 1;
}

static const ah__fsock_ops pipe_ops = {
    ah__fd_notsock_addr,
    ah__fd_notsock_addr,
    pipe_recv,
    pipe_send,
    ah__fd_notsock_shutdown,
    ah__fd_notsock_name,
    ah__fd_notsock_getsockopt,
    ah__fd_notsock_setsockopt,
    pipe_nread,
    pipe_revents,
    ah__fd_nop,
    pipe_close,
    pipe_release,
    NULL,
    pipe_fcntl,
};

static int fake_pipe(ah_sim *sim, int fds[2], int flags, const char *call, ah__site site)
{
    ah__fsock *fs[2];
    fpipe *p;
    int i;

    if (fds == NULL)
        return ah__fd_fail_errno(EFAULT);
    if (flags & ~(O_NONBLOCK | O_CLOEXEC | O_DIRECT))
        return ah__fd_fail_errno(EINVAL);
    if (ah__fd_pair(sim,
                    ((flags & O_NONBLOCK) ? SOCK_NONBLOCK : 0) |
                        ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0),
                    "pipe", site, fs) != 0)
        return -1;
    fs[0]->conn->one_way = 1;
    p = ah__calloc(1, sizeof(*p));
    p->refs = 2;
    p->cap = PIPE_DEFAULT_SZ;
    for (i = 0; i < 2; i++) {
        fs[i]->ops = &pipe_ops;
        fs[i]->priv = p;
        fs[i]->type = 0;
    }
    /* fds[0] reads what fds[1] writes: the write end sends on its side's flow. */
    fs[0]->accmode = O_RDONLY;
    fs[0]->what = "the read end of pipe";
    fs[1]->accmode = O_WRONLY;
    fs[1]->what = "the write end of pipe";
    fds[0] = fs[0]->fd;
    fds[1] = fs[1]->fd;
    (void)call;
    return 0;
}

AH__LIBC(pipe2, 10, AH__LIBC_FD);
int pipe2(int fds[2], int flags)
{
    AH__REAL(pipe2);
    ah_sim *sim = ah__sim_libc();

    if (sim == NULL || ah__fd_passthrough(sim))
        return real_pipe2(fds, flags);
    return fake_pipe(sim, fds, flags, "pipe2", AH__CALLER("pipe2"));
}

AH__LIBC(pipe, 9, AH__LIBC_FD);
int pipe(int fds[2])
{
    AH__REAL(pipe);
    ah_sim *sim = ah__sim_libc();

    if (sim == NULL || ah__fd_passthrough(sim))
        return real_pipe(fds);
    return fake_pipe(sim, fds, 0, "pipe", AH__CALLER("pipe"));
}
