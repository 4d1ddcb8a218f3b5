/* uv_udp_open of a real UDP socket the sim did not make: the handle's send queue and callbacks
 * stay mocks/udp.c's, and sendmsg, recvmsg, bind, connect and the names go to the real socket,
 * as libuv's src/unix/udp.c does them. Its readiness is asked of the kernel at every poll phase
 * and waited on for real only when nothing simulated is left (real.c). */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include "../mocks/internal_dgram.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct rudp {
    ah__list link; /* fdstate->adopted: first, freed with the sim as is */
    uv_udp_t *h;
    ah__fsock *fs;
    ah__fpoll *rd, *wr;
    int fake; /* a fake stream socket of the sim, not a real one (ah__fd_fake_udp_open) */
} rudp;

static int closing(const uv_udp_t *h) { return ah__is_closing((const uv_handle_t *)h); }

static void unwatch(ah__fpoll **p)
{
    ah__fd_unwatch(*p);
    *p = NULL;
}

/* libuv's uv__udp_recvmsg: up to 32 datagrams per readiness; EAGAIN gives recv_cb a 0 with no
 * address. */
static void rd_io(ah__fpoll *p, int revents)
{
    AH__REAL(recvmsg);
    rudp *ru = ah__fd_watch_ctx(p);
    uv_udp_t *h = ru->h;
    ah_sim *sim = ah__lp(h->loop)->sim;
    struct sockaddr_storage peer;
    struct msghdr msg;
    struct iovec iov;
    int count = 32, flags;
    ssize_t n;
    uv_buf_t buf;

    (void)revents;
    do {
        buf = uv_buf_init(NULL, 0);
        AH__DISPATCH(sim, h, "alloc_cb", h->alloc_cb((uv_handle_t *)h, 64 * 1024, &buf));
        if (closing(h) || h->recv_cb == NULL)
            return;
        if (buf.base == NULL || buf.len == 0) {
            AH__DISPATCH(sim, h, "recv_cb", h->recv_cb(h, UV_ENOBUFS, &buf, NULL, 0));
            return;
        }
        memset(&msg, 0, sizeof(msg));
        memset(&peer, 0, sizeof(peer));
        iov.iov_base = buf.base;
        iov.iov_len = buf.len;
        msg.msg_name = &peer;
        msg.msg_namelen = sizeof(peer);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        do
            n = real_recvmsg(h->io_watcher.fd, &msg, 0);
        while (n == -1 && errno == EINTR);
        if (n == -1) {
            int err = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
            AH__DISPATCH(sim, h, "recv_cb", h->recv_cb(h, err, &buf, NULL, 0));
            return;
        }
        flags = (msg.msg_flags & MSG_TRUNC) ? UV_UDP_PARTIAL : 0;
        AH__DISPATCH(sim, h, "recv_cb",
                     h->recv_cb(h, n, &buf, (const struct sockaddr *)&peer, flags));
        count--;
    } while (count > 0 && !closing(h) && h->recv_cb != NULL && ah__udp_real(h) == ru);
}

static void wr_io(ah__fpoll *p, int revents)
{
    rudp *ru = ah__fd_watch_ctx(p);

    (void)revents;
    ah__udp_io_out(ru->h);
}

static void ru_reading(uv_udp_t *h, int on)
{
    rudp *ru = ah__udp_real(h);
    char b[320];

    if (on && ru->fake)
        ah__fail(ah__lp(h->loop)->sim,
                 "uv_udp_recv_start on %s: the handle adopted a stream socket of the sim; "
                 "receiving on it is not simulated",
                 ah__handle_str(h->u.reserved[0], b, sizeof(b)));
    if (on && uv_udp_using_recvmmsg(h))
        ah__fail(ah__lp(h->loop)->sim,
                 "uv_udp_recv_start on %s: recvmmsg on a real socket is not simulated (init the "
                 "handle without UV_UDP_RECVMMSG)",
                 ah__handle_str(h->u.reserved[0], b, sizeof(b)));
    if (on && ru->rd == NULL)
        ru->rd = ah__fd_watch_fs((uv_handle_t *)h, ru->fs, POLLIN, rd_io, ru);
    else if (!on)
        unwatch(&ru->rd);
}

static void ru_want_write(uv_udp_t *h, int on)
{
    rudp *ru = ah__udp_real(h);

    if (ru->fake)
        return; /* its sends never wait (fake_send) */
    if (on && ru->wr == NULL)
        ru->wr = ah__fd_watch_fs((uv_handle_t *)h, ru->fs, POLLOUT, wr_io, ru);
    else if (!on)
        unwatch(&ru->wr);
}

/* sendmsg(2) of a datagram on a fake stream socket: what Linux's unix_stream_sendmsg answers
 * before it looks at the bytes. An address on an AF_UNIX stream socket that is not connected
 * (new, bound or listening: libuv's udp_send_unix) is EOPNOTSUPP; the rest is not simulated. */
static ssize_t fake_send(uv_udp_t *h, const struct sockaddr *addr)
{
    rudp *ru = ah__udp_real(h);
    char b[320];

    if (ru->fs->domain == AF_UNIX && addr != NULL && ru->fs->state != AH__FS_CONNECTED)
        return -EOPNOTSUPP; /* UV_ENOTSUP, as libuv maps it */
    ah__fail(ah__lp(h->loop)->sim,
             "uv_udp_send on %s: the handle adopted a %s stream socket of the sim%s; sending on "
             "it is not simulated",
             ah__handle_str(h->u.reserved[0], b, sizeof(b)),
             ru->fs->domain == AF_UNIX ? "AF_UNIX" : "TCP",
             ru->fs->state == AH__FS_CONNECTED ? ", connected" : "");
    return UV_EINVAL;
}

static ssize_t ru_send(uv_udp_t *h, const struct sockaddr *addr, const uv_buf_t *bufs,
                       unsigned nbufs)
{
    AH__REAL(sendmsg);
    struct iovec iov[64];
    struct msghdr msg;
    unsigned i, n = nbufs < 64 ? nbufs : 64;
    ssize_t r;

    if (((rudp *)ah__udp_real(h))->fake)
        return fake_send(h, addr);

    memset(&msg, 0, sizeof(msg));
    for (i = 0; i < n; i++) {
        iov[i].iov_base = bufs[i].base;
        iov[i].iov_len = bufs[i].len;
    }
    if (addr != NULL) {
        msg.msg_name = (void *)addr;
        msg.msg_namelen = addr->sa_family == AF_INET6  ? sizeof(struct sockaddr_in6)
                          : addr->sa_family == AF_UNIX ? sizeof(struct sockaddr_un)
                                                       : sizeof(struct sockaddr_in);
    }
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    do
        r = real_sendmsg(h->io_watcher.fd, &msg, 0);
    while (r == -1 && errno == EINTR);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        return UV_EAGAIN;
    return -errno;
}

static int ru_name(uv_udp_t *h, int peer, struct sockaddr *name, int *namelen)
{
    AH__REAL(getsockname);
    AH__REAL(getpeername);
    socklen_t len;

    if (*namelen < 0)
        return UV_EINVAL;
    len = (socklen_t)*namelen;
    if (((rudp *)ah__udp_real(h))->fake) { /* the sim's own answer (fd/socket.c) */
        if ((peer ? getpeername : getsockname)(h->io_watcher.fd, name, &len) != 0)
            return -errno;
        *namelen = (int)len;
        return 0;
    }
    if ((peer ? real_getpeername : real_getsockname)(h->io_watcher.fd, name, &len) != 0)
        return -errno;
    *namelen = (int)len;
    return 0;
}

static int ru_bind(uv_udp_t *h, const struct sockaddr *addr, unsigned flags)
{
    AH__REAL(bind);
    AH__REAL(setsockopt);
    int on = 1;

    if (((rudp *)ah__udp_real(h))->fake) /* a stream socket of the sim, bound or listening */
        return bind(h->io_watcher.fd, addr,
                    addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in)) != 0
                   ? -errno
                   : 0;

    if ((flags & UV_UDP_REUSEADDR) &&
        real_setsockopt(h->io_watcher.fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
        return -errno;
    if (real_bind(h->io_watcher.fd, addr,
                  addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in)) != 0)
        return errno == EAFNOSUPPORT ? UV_EINVAL : -errno;
    return 0;
}

static int ru_connect(uv_udp_t *h, const struct sockaddr *addr)
{
    AH__REAL(connect);
    struct sockaddr unspec;
    int r;

    if (((rudp *)ah__udp_real(h))->fake) {
        char b[320];
        ah__fail(ah__lp(h->loop)->sim,
                 "uv_udp_connect on %s: the handle adopted a stream socket of the sim; connecting "
                 "it is not simulated",
                 ah__handle_str(h->u.reserved[0], b, sizeof(b)));
    }
    if (addr == NULL) {
        memset(&unspec, 0, sizeof(unspec));
        unspec.sa_family = AF_UNSPEC;
        r = real_connect(h->io_watcher.fd, &unspec, sizeof(unspec));
        return r != 0 && errno != EAFNOSUPPORT ? -errno : 0;
    }
    do
        r = real_connect(h->io_watcher.fd, addr,
                         addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                     : sizeof(struct sockaddr_in));
    while (r == -1 && errno == EINTR);
    return r != 0 ? -errno : 0;
}

static void ru_close(uv_udp_t *h)
{
    AH__REAL(close);
    rudp *ru = ah__udp_real(h);

    unwatch(&ru->rd);
    unwatch(&ru->wr);
    if (ru->fake)
        close(h->io_watcher.fd); /* the sim's close: a listener's name goes */
    else if (h->io_watcher.fd > STDERR_FILENO)
        real_close(h->io_watcher.fd);
    if (!ru->fake)
        ah__fd_real_forget(ru->fs);
    ah__list_remove(&ru->link);
    ah__free(ru);
}

static const ah__real_udp_ops ops = {
    ru_send, ru_reading, ru_want_write, ru_name, ru_bind, ru_connect, ru_close,
};

/* libuv's uv_udp_open: non-blocking, SO_REUSEADDR, connected if the socket is. */
int ah__fd_real_udp_open(uv_udp_t *h, int fd, ah__site site)
{
    AH__REAL(fcntl);
    AH__REAL(setsockopt);
    AH__REAL(getsockname);
    AH__REAL(getpeername);
    AH__REAL(getsockopt);
    ah_sim *sim = ah__lp(h->loop)->sim;
    ah__fdstate *fst = ah__fd_state(sim);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    ah__fsock *fs;
    ah__list *q;
    rudp *ru;
    int fl, on = 1, type = 0, err;
    char where[160];

    if (h->io_watcher.fd != -1)
        return UV_EBUSY;
    for (q = fst->reals.next; q != &fst->reals; q = q->next) {
        ah__list *w;
        fs = ah__container_of(q, ah__fsock, link);
        if (fs->fd != fd)
            continue;
        for (w = fs->polls.next; w != &fs->polls; w = w->next) {
            ah__fpoll *p = ah__container_of(w, ah__fpoll, link);
            if (p->handle != NULL && p->handle->loop == h->loop && p->handle != (void *)h)
                return UV_EEXIST; /* uv__fd_exists */
        }
    }
    len = sizeof(type);
    if (real_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM)
        ah__fail(sim,
                 "uv_udp_open(%d) in %s: the real descriptor is not a datagram socket; libuv "
                 "would treat it as one",
                 fd, ah__site_str(&site, where, sizeof(where)));
    if ((fl = real_fcntl(fd, F_GETFL)) == -1 || real_fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
        return -errno;
    if (real_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
        return -errno;
    len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    real_getsockname(fd, (struct sockaddr *)&ss, &len);
    if ((fs = ah__fd_real_watch(sim, fd, site, &err)) == NULL)
        return err;
    fs->site = site;
    ru = ah__calloc(1, sizeof(*ru));
    ru->h = h;
    ru->fs = fs;
    len = sizeof(ss);
    {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int connected = real_getpeername(fd, (struct sockaddr *)&peer, &plen) == 0;
        err =
            ah__udp_adopt_real(h, fd, ss.ss_family == AF_INET6 ? AF_INET6 : AF_INET, connected, ru);
    }
    if (err != 0) {
        ah__free(ru);
        return err;
    }
    ah__list_insert_tail(&fst->adopted, &ru->link);
    ah__real_udp = &ops;
    snprintf(((ah__hrec *)h->u.reserved[0])->label, sizeof(((ah__hrec *)h->u.reserved[0])->label),
             "udp on real descriptor %d", fd);
    return 0;
}

/* libuv's uv_udp_open of a stream socket the sim made (libuv's udp_send_unix adopts a listening
 * AF_UNIX socket): libuv checks nothing but the descriptor, so the adoption succeeds (made
 * non-blocking, SO_REUSEADDR accepted, connected if getpeername says so), and the handle's sends
 * get the kernel's answer for a stream socket (fake_send). The socket stays the sim's. */
int ah__fd_fake_udp_open(uv_udp_t *h, ah__fsock *fs, int fd)
{
    ah__fdstate *fst = ah__fd_state(fs->sim);
    rudp *ru;
    int err;

    if (h->io_watcher.fd != -1)
        return UV_EBUSY;
    ru = ah__calloc(1, sizeof(*ru));
    ru->h = h;
    ru->fs = fs;
    ru->fake = 1;
    err = ah__udp_adopt_real(h, fd, fs->domain == AF_INET6 ? AF_INET6 : AF_INET,
                             fs->state == AH__FS_CONNECTED, ru);
    if (err != 0) {
        ah__free(ru);
        return err;
    }
    fs->nonblock = 1;  /* uv__nonblock */
    fs->reuseaddr = 1; /* uv__set_reuse */
    ah__list_insert_tail(&fst->adopted, &ru->link);
    ah__real_udp = &ops;
    snprintf(((ah__hrec *)h->u.reserved[0])->label, sizeof(((ah__hrec *)h->u.reserved[0])->label),
             "udp on %s stream socket %d", fs->domain == AF_UNIX ? "AF_UNIX" : "TCP", fd);
    return 0;
}
