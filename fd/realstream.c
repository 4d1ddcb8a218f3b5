/* uv_pipe_open and uv_tcp_open of a real descriptor the sim did not make (inherited, opened
 * before the sim, made under ah_fd_passthrough, a kernel object it does not fake): the stream's
 * queues, flags and callbacks stay mocks/stream.c's, and what touches the descriptor happens here
 * on the real one, as libuv's src/unix/stream.c does it: readv/writev, shutdown(SHUT_WR), listen
 * and accept4. Its readiness is asked of the kernel at every poll phase without waiting and
 * waited on for real only when nothing simulated is left (real.c): what it delivers arrives at
 * the virtual instant the sim observes it. */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct rstream {
    ah__list link; /* fdstate->adopted: first, freed with the sim as is */
    ah__sock *s;
    uv_stream_t *st;
    ah__fsock *fs; /* the real descriptor's record (real.c); NULL for a regular file */
    ah__fpoll *rd, *wr, *lst;
    ah__site site; /* where it was adopted */
} rstream;

/* A regular file under a stream: libuv writes it at once, but the first wait on it (a read, a
 * write the kernel did not take whole) makes epoll_ctl fail with EPERM, and libuv aborts. */
static void no_wait(rstream *rs, const char *what)
{
    char b[320], where[160];

    ah__fail(rs->s->net->sim,
             "%s on a regular file (descriptor %d of %s, adopted in %s): libuv's epoll refuses "
             "to watch files (EPERM) and libuv aborts; read and write files with uv_fs_*",
             what, rs->st->io_watcher.fd, ah__handle_str(rs->st->u.reserved[0], b, sizeof(b)),
             ah__site_str(&rs->site, where, sizeof(where)));
}

static int closing(const uv_stream_t *st) { return ah__is_closing((const uv_handle_t *)st); }

static void unwatch(ah__fpoll **p)
{
    ah__fd_unwatch(*p);
    *p = NULL;
}

/* libuv's uv__read for one readiness, and the POLLHUP shortcut of uv__stream_io after it. */
static void rd_io(ah__fpoll *p, int revents)
{
    AH__REAL(read);
    rstream *rs = ah__fd_watch_ctx(p);
    ah__sock *s = rs->s;
    uv_stream_t *st = rs->st;
    ah_sim *sim = s->net->sim;
    int count = 32, err;
    uv_buf_t buf;
    ssize_t n;

    st->flags &= ~AH__SF_READ_PARTIAL;
    while (st->read_cb != NULL && (st->flags & AH__SF_READING) && count-- > 0) {
        buf = uv_buf_init(NULL, 0);
        AH__DISPATCH(sim, st, "alloc_cb", st->alloc_cb((uv_handle_t *)st, 64 * 1024, &buf));
        if (closing(st))
            return;
        if (buf.base == NULL || buf.len == 0) {
            AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, UV_ENOBUFS, &buf));
            return;
        }
        do
            n = real_read(st->io_watcher.fd, buf.base, buf.len);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, 0, &buf));
            return;
        }
        if (n < 0) {
            err = -errno;
            if (AH__UV_STREAM_CLEARS_FLAGS)
                st->flags &= ~(AH__SF_READABLE | AH__SF_WRITABLE);
            AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, err, &buf));
            if (!closing(st) && (st->flags & AH__SF_READING)) {
                st->flags &= ~AH__SF_READING;
                if (s->real != NULL)
                    unwatch(&((rstream *)s->real)->rd);
                ah__stream_read_end_stop(st);
            }
            return;
        }
        if (n == 0) {
            unwatch(&rs->rd);
            ah__stream_eof(s, &buf);
            return;
        }
        if ((size_t)n < buf.len)
            st->flags |= AH__SF_READ_PARTIAL;
        AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, n, &buf));
        if (closing(st) || (size_t)n < buf.len)
            break;
    }
    if (closing(st) || s->real == NULL)
        return;
    /* The other end is gone and a short read took what was left: EOF without another read. */
    if ((revents & POLLHUP) && (st->flags & AH__SF_READING) && (st->flags & AH__SF_READ_PARTIAL) &&
        !(st->flags & AH__SF_READ_EOF)) {
        buf = uv_buf_init(NULL, 0);
        unwatch(&((rstream *)s->real)->rd);
        ah__stream_eof(s, &buf);
    }
}

static void rs_reading(ah__sock *s, int on)
{
    rstream *rs = s->real;

    if (on && rs->fs == NULL)
        no_wait(rs, "uv_read_start");
    if (on && rs->rd == NULL)
        rs->rd = ah__fd_watch_fs((uv_handle_t *)rs->st, rs->fs, POLLIN, rd_io, rs);
    else if (!on)
        unwatch(&rs->rd);
}

/* POLLOUT: uv__stream_io's write half. */
static void wr_io(ah__fpoll *p, int revents)
{
    rstream *rs = ah__fd_watch_ctx(p);
    ah__sock *s = rs->s;

    (void)revents;
    ah__sock_io_out(s);
    if (s->real != NULL && s->stream != NULL &&
        (closing(s->stream) || ah__list_empty(ah__qlist(s->stream->write_queue))))
        unwatch(&((rstream *)s->real)->wr);
}

static void rs_want_write(ah__sock *s, int on)
{
    rstream *rs = s->real;

    if (on && rs->fs == NULL)
        no_wait(rs, "a uv_write that waits for the kernel");
    if (on && rs->wr == NULL) {
        rs->wr = ah__fd_watch_fs((uv_handle_t *)rs->st, rs->fs, POLLOUT, wr_io, rs);
        rs->wr->always = 1; /* the write request keeps the loop alive, not the handle */
    } else if (!on) {
        unwatch(&rs->wr);
    }
}

static ssize_t rs_send(ah__sock *s, const uv_buf_t *bufs, unsigned nbufs)
{
    AH__REAL(writev);
    struct iovec iov[64];
    unsigned i, n = nbufs < 64 ? nbufs : 64;
    ssize_t r;

    for (i = 0; i < n; i++) {
        iov[i].iov_base = bufs[i].base;
        iov[i].iov_len = bufs[i].len;
    }
    do
        r = real_writev(s->stream->io_watcher.fd, iov, (int)n);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        return UV_EAGAIN;
    return -errno;
}

static int rs_shutdown(ah__sock *s)
{
    AH__REAL(shutdown);
    return real_shutdown(s->stream->io_watcher.fd, SHUT_WR) != 0 ? -errno : 0;
}

/* libuv's uv__server_io: accept4 until EAGAIN, one connection_cb per connection; a connection
 * the callback leaves unaccepted stops the watching until uv_accept. */
static void lst_io(ah__fpoll *p, int revents)
{
    AH__REAL(accept4);
    rstream *rs = ah__fd_watch_ctx(p);
    ah__sock *s = rs->s;
    uv_stream_t *st = rs->st;
    ah_sim *sim = s->net->sim;
    int fd;

    (void)revents;
    while (st->io_watcher.fd != -1 && !closing(st) && s->real != NULL) {
        do
            fd = real_accept4(st->io_watcher.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            int err = -errno;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == ECONNABORTED)
                continue;
            AH__DISPATCH(sim, st, "connection_cb", st->connection_cb(st, err));
            continue;
        }
        st->accepted_fd = fd;
        AH__DISPATCH(sim, st, "connection_cb", st->connection_cb(st, 0));
        if (st->accepted_fd != -1) {
            if (s->real != NULL)
                unwatch(&((rstream *)s->real)->lst); /* until uv_accept */
            return;
        }
    }
}

static int rs_listen(ah__sock *s, int backlog, uv_connection_cb cb)
{
    AH__REAL(listen);
    rstream *rs = s->real;

    if (real_listen(s->stream->io_watcher.fd, backlog) != 0)
        return -errno;
    if (rs->fs == NULL)
        no_wait(rs, "uv_listen");
    s->stream->connection_cb = cb;
    s->stream->flags |= AH__SF_LISTENING;
    if (rs->lst == NULL)
        rs->lst = ah__fd_watch_fs((uv_handle_t *)rs->st, rs->fs, POLLIN, lst_io, rs);
    return 0;
}

static void adopt(uv_stream_t *st, ah__sock *s, int fd, ah__fsock *fs, unsigned flags,
                  ah__site site);

/* libuv's uv_accept on a real listener: the client opens the accepted descriptor. */
static int rs_accept(ah__sock *ss, ah__sock *cs)
{
    AH__REAL(close);
    uv_stream_t *server = ss->stream, *client = cs->stream;
    rstream *rs = ss->real;
    ah__fsock *fs;
    int fd = server->accepted_fd, err = 0;

    if (fd == -1)
        return UV_EAGAIN;
    if (client->io_watcher.fd != -1 && client->io_watcher.fd != fd) {
        err = UV_EBUSY; /* uv__stream_open */
        real_close(fd);
    } else if ((fs = ah__fd_real_watch(ss->net->sim, fd,
                                       ((ah__hrec *)server->u.reserved[0])->start_site, &err)) ==
               NULL) {
        real_close(fd);
    } else {
        adopt(client, cs, fd, fs, AH__SF_READABLE | AH__SF_WRITABLE | AH__SF_BOUND,
              ((ah__hrec *)server->u.reserved[0])->start_site);
    }
    server->accepted_fd = -1;
    if (err == 0 && rs->lst == NULL)
        rs->lst = ah__fd_watch_fs((uv_handle_t *)rs->st, rs->fs, POLLIN, lst_io, rs);
    return err;
}

static const ah__real_stream_ops ops = {
    rs_send, rs_want_write, rs_reading, rs_shutdown, rs_listen, rs_accept,
};

static void addr_of(int fd, int peer, ah__addr *a)
{
    AH__REAL(getsockname);
    AH__REAL(getpeername);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    memset(a, 0, sizeof(*a));
    memset(&ss, 0, sizeof(ss));
    if ((peer ? real_getpeername : real_getsockname)(fd, (struct sockaddr *)&ss, &len) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
        ah__addr_from_sockaddr((struct sockaddr *)&ss, a);
}

static void adopt(uv_stream_t *st, ah__sock *s, int fd, ah__fsock *fs, unsigned flags,
                  ah__site site)
{
    rstream *rs = ah__calloc(1, sizeof(*rs));
    ah__hrec *r = st->u.reserved[0];
    char d[200];
    size_t n;

    rs->s = s;
    rs->st = st;
    rs->fs = fs;
    rs->site = site;
    ah__list_insert_tail(&ah__fd_state(s->net->sim)->adopted, &rs->link);
    s->real = rs;
    ah__real_stream = &ops;
    st->flags |= flags;
    st->io_watcher.fd = fd;
    if (st->type == UV_TCP) {
        addr_of(fd, 0, &s->local);
        addr_of(fd, 1, &s->remote);
    }
    snprintf(d, sizeof(d), "%s on real descriptor %d", st->type == UV_TCP ? "tcp" : "pipe", fd);
    n = strlen(d) < sizeof(r->label) - 1 ? strlen(d) : sizeof(r->label) - 1;
    memcpy(r->label, d, n);
    r->label[n] = '\0';
}

int ah__fd_real_stream_open(uv_stream_t *st, ah__sock *s, int fd, int tcp, const char *fn,
                            ah__site site)
{
    AH__REAL(fcntl);
    AH__REAL(fstat);
    ah_sim *sim = s->net->sim;
    ah__fdstate *fst = ah__fd_state(sim);
    struct stat sb;
    ah__fsock *fs;
    ah__list *q;

    int mode, err;
    unsigned flags = 0;

    /* uv__fd_exists: another handle of the loop watches the descriptor already. */
    for (q = fst->reals.next; q != &fst->reals; q = q->next) {
        ah__list *w;
        fs = ah__container_of(q, ah__fsock, link);
        if (fs->fd != fd)
            continue;
        for (w = fs->polls.next; w != &fs->polls; w = w->next) {
            ah__fpoll *p = ah__container_of(w, ah__fpoll, link);
            if (p->handle != NULL && p->handle->loop == st->loop && p->handle != (void *)st)
                return UV_EEXIST;
        }
    }
    (void)fn;
    if ((mode = real_fcntl(fd, F_GETFL)) == -1)
        return -errno;
    if (real_fcntl(fd, F_SETFL, mode | O_NONBLOCK) == -1) /* uv__nonblock */
        return -errno;
    if (tcp) {
        flags = AH__SF_READABLE | AH__SF_WRITABLE;
    } else {
        mode &= O_ACCMODE;
        if (mode != O_WRONLY)
            flags |= AH__SF_READABLE;
        if (mode != O_RDONLY)
            flags |= AH__SF_WRITABLE;
    }
    if (st->io_watcher.fd != -1 && st->io_watcher.fd != fd)
        return UV_EBUSY;
    if (real_fstat(fd, &sb) == 0 && (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))) {
        adopt(st, s, fd, NULL, flags, site); /* written at once; never waited on (no_wait) */
        return 0;
    }
    if ((fs = ah__fd_real_watch(sim, fd, site, &err)) == NULL)
        return err;
    fs->site = site; /* the latest adoption names it */
    fs->nfds++;      /* of a real record: the streams that adopted it (two may, one at a time) */
    adopt(st, s, fd, fs, flags, site);
    return 0;
}

ah__fpoll *ah__fd_watch_real(uv_handle_t *h, int fd, short events, void (*io)(ah__fpoll *, int),
                             void *ctx, ah__site site)
{
    ah__fsock *fs;
    int err;

    if ((fs = ah__fd_real_watch(ah__lp(h->loop)->sim, fd, site, &err)) == NULL)
        return NULL;
    fs->site = site;
    return ah__fd_watch_fs(h, fs, events, io, ctx);
}

void ah__fd_real_stream_close(ah__sock *s)
{
    AH__REAL(close);
    rstream *rs = s->real;
    uv_stream_t *st = rs->st;

    unwatch(&rs->rd);
    unwatch(&rs->wr);
    unwatch(&rs->lst);
    if (st->accepted_fd != -1) {
        real_close(st->accepted_fd);
        st->accepted_fd = -1;
    }
    /* libuv's uv__stream_close never closes stdio. */
    if (st->io_watcher.fd > STDERR_FILENO)
        real_close(st->io_watcher.fd);
    if (rs->fs != NULL && --rs->fs->nfds > 0)
        rs->fs = NULL; /* another stream still has the descriptor (libuv's stdio_over_pipes) */
    ah__fd_real_forget(rs->fs);
    s->real = NULL;
    ah__list_remove(&rs->link);
    ah__free(rs);
}
