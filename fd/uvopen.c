/* A uv handle and a descriptor: uv_tcp_open and uv_pipe_open adopt a fake socket (its connection
 * moves from the raw end to the stream), uv_udp_open a fake UDP socket (its place on the datagram
 * network and its queued datagrams move to the handle), uv_fileno gives a stream a fake descriptor
 * of its own on first use so that getsockopt/setsockopt on it reach the stream's options, and
 * uv_send_buffer_size / uv_recv_buffer_size go through those, as libuv's do. */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include "../mocks/internal_dgram.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

static void hand_over(ah__fsock *fs, ah__sock *s);

static void stream_fd_closed(ah__sock *s, int fd)
{
    ah__fsock *fs;

    if (s->real != NULL) { /* a real descriptor the stream adopted (realstream.c) */
        ah__fd_real_stream_close(s);
        return;
    }
    fs = ah__fd_get(fd);

    if (fs == NULL || fs->kind != AH__FK_STREAM)
        return;
    if (fs->stream != s) {
        /* A handle that shares the socket of another (received over IPC): its number goes. */
        if (s->shared == fs && fs->nfds > 1)
            ah__fd_drop_number(fs, fd);
        s->shared = NULL;
        return;
    }
    s->shared = NULL;
    if (fs->passed && fs->nfds > 1) {
        /* Sent over IPC: the socket lives on in its other numbers, as the kernel keeps it. */
        hand_over(fs, s);
        ah__fd_drop_number(fs, fd);
        return;
    }
    fs->stream = NULL;
    fs->conn = NULL;    /* the stream's close ends the connection */
    if (fs->nfds > 1) { /* duplicates made before the adoption: closing them is left */
        ah__fd_drop_number(fs, fd);
        return;
    }
    ah__fd_release(fs);
}

/* The stream's descriptor, made a fake one of the sim on first use. -1 when it has none. */
static int stream_fd(uv_stream_t *st, const char *fn)
{
    ah__sock *s = ah__sock_of(st, fn);
    int fd = st->io_watcher.fd;
    ah__fsock *fs;

    if (fd == -1 || s->real != NULL || ah__fd_get(fd) != NULL)
        return fd;
    if ((fs = ah__fd_new(s->net->sim, AH__FK_STREAM, AH__CALLER(fn))) == NULL)
        return fd;
    fs->stream = s;
    fs->domain = st->type == UV_NAMED_PIPE     ? AF_UNIX
                 : s->local.family == AF_INET6 ? AF_INET6
                                               : AF_INET;
    fs->type = SOCK_STREAM;
    fs->nonblock = 1;
    fs->cloexec = 1;
    fs->state = AH__FS_CONNECTED;
    ah__stream_fd_close_hook = stream_fd_closed;
    st->io_watcher.fd = fs->fd;
    return fs->fd;
}

int uv_fileno(const uv_handle_t *h, uv_os_fd_t *fd)
{
    AH__ENTRY("uv_fileno");
    int f;

    ah__handle_rec(h, "uv_fileno");
    if (fd == NULL)
        return UV_EINVAL;
    switch (h->type) {
    case UV_TCP:
    case UV_NAMED_PIPE:
        if (ah__is_closing(h))
            return UV_EBADF;
        f = stream_fd((uv_stream_t *)h, "uv_fileno");
        break;
    case UV_TTY:
    case UV_UDP:
    case UV_POLL:
        f = ((const uv_poll_t *)h)->io_watcher.fd;
        if (h->type == UV_TTY)
            f = ((const uv_stream_t *)h)->io_watcher.fd;
        else if (h->type == UV_UDP)
            f = ((const uv_udp_t *)h)->io_watcher.fd;
        break;
    default:
        return UV_EINVAL;
    }
    if (ah__is_closing(h) || f == -1)
        return UV_EBADF;
    *fd = f;
    return 0;
}

/* libuv's uv__socket_sockopt: 0 reads the option, anything else sets it. */
static int buffer_size(uv_handle_t *h, int *value, int opt, const char *fn)
{
    socklen_t len = sizeof(*value);
    int fd, r;

    ah__handle_rec(h, fn);
    if (value == NULL)
        return UV_EINVAL;
    if (h->type == UV_UDP) {
        fd = ((uv_udp_t *)h)->io_watcher.fd;
        if (ah__udp_real((uv_udp_t *)h) != NULL)
            goto sockopt;           /* a real socket: the kernel answers */
        if (ah__fd_get(fd) == NULL) /* not adopted: the handle's own socket */
            return ah__udp_buffer_size((uv_udp_t *)h, opt, value, fn);
    } else if (h->type != UV_TCP && h->type != UV_NAMED_PIPE) {
        return UV_ENOTSUP;
    } else {
        fd = stream_fd((uv_stream_t *)h, fn);
        if (fd != -1 && ((ah__sock *)((uv_stream_t *)h)->queued_fds)->real != NULL)
            goto sockopt; /* a real descriptor: the kernel answers */
    }
    if (ah__fd_get(fd) == NULL)
        return UV_EBADF;
sockopt:
    if (*value == 0)
        r = getsockopt(fd, SOL_SOCKET, opt, value, &len);
    else
        r = setsockopt(fd, SOL_SOCKET, opt, value, len);
    return r < 0 ? -errno : 0;
}

int uv_send_buffer_size(uv_handle_t *h, int *value)
{
    AH__ENTRY("uv_send_buffer_size");
    return buffer_size(h, value, SO_SNDBUF, "uv_send_buffer_size");
}

int uv_recv_buffer_size(uv_handle_t *h, int *value)
{
    AH__ENTRY("uv_recv_buffer_size");
    return buffer_size(h, value, SO_RCVBUF, "uv_recv_buffer_size");
}

/* ---- handles passed over an IPC pipe (uv_write2 with a send_handle) ----
 *
 * The socket of a uv stream is its fake descriptor (stream_fd); sending it makes one more number
 * of it that rides with the bytes (mocks/stream.c), and uv_accept of the received number adopts
 * it. The kernel keeps one socket for every number, so the handles that hold numbers of it share
 * it: the one holding its connection (or binding) is fs->stream, the others have `shared` set.
 * A connection moves to the handle that accepts it; when the holder closes while other numbers
 * live, the socket stays: another handle takes it, or it waits in its descriptor, unconnected to
 * any handle, for uv_accept (docs/descriptors.md, "Passing handles"). */

static ah__sock *sharer(ah__fsock *fs, const ah__sock * not )
{
    ah__net *net = ah__net_find(fs->sim);
    ah__list *q;

    if (net == NULL)
        return NULL;
    for (q = net->socks.next; q != &net->socks; q = q->next) {
        ah__sock *o = ah__container_of(q, ah__sock, link);
        if (o != not &&o->shared == fs && o->stream != NULL &&
            !ah__is_closing((uv_handle_t *)o->stream))
            return o;
    }
    return NULL;
}

/* The connection `c` (end `side`) moves from the handle `from` to the handle `to`. */
static void move_conn(ah__sock *from, ah__sock *to)
{
    ah__conn *c = from->conn;
    int side = from->side;

    from->conn = NULL;
    c->end[side].sock = NULL;
    to->local = from->local;
    to->remote = from->remote;
    ah__sock_attach(to, c, side);
    to->stream->flags |= AH__SF_READABLE | AH__SF_WRITABLE;
    ah__sock_set_label(to);
    ah__flow_arm(&c->flow[0]);
    ah__flow_arm(&c->flow[1]);
}

static void not_passed(ah__sock *s, const char *what)
{
    char h[320];

    ah__fail(s->net->sim, "%s: %s; not simulated",
             ah__handle_str(s->stream->u.reserved[0], h, sizeof(h)), what);
}

/* The holder `s` of a socket sent over IPC closes while other numbers of it live. */
static void hand_over(ah__fsock *fs, ah__sock *s)
{
    ah__sock *to = sharer(fs, s);

    if (s->stream->flags & AH__SF_LISTENING)
        not_passed(s, "closing a listening socket that was sent over an IPC pipe, which would go "
                      "on listening in the process or handle it was sent to, is");
    if (to != NULL) {
        fs->stream = to;
        if (s->conn != NULL)
            move_conn(s, to);
        ah__fd_make_primary(fs, to->stream->io_watcher.fd);
        return;
    }
    /* No handle has it: it waits in its descriptor (in flight, or received and not accepted). */
    fs->kind = AH__FK_SOCK;
    fs->stream = NULL;
    fs->local = s->local;
    fs->remote = s->remote;
    fs->bound = s->bound || (s->stream->flags & AH__SF_BOUND) != 0;
    fs->nodelay = s->nodelay;
    fs->keepalive = s->keepalive;
    fs->state = AH__FS_NEW;
    if (s->conn != NULL) {
        ah__conn *c = s->conn;
        s->conn = NULL;
        c->end[s->side].sock = NULL;
        ah__fd_sock_attach(fs, c, s->side);
        fs->state = AH__FS_CONNECTED;
    }
}

/* uv_accept of a socket received over IPC while another handle still holds it. */
static int share(uv_stream_t *st, ah__sock *s, ah__fsock *fs, int fd, const char *fn, ah__site site)
{
    ah__sock *o = fs->stream;
    uv_stream_t *ost = o->stream;
    char where[160], h[320], oh[320];

    if ((st->type == UV_TCP) != (fs->domain != AF_UNIX))
        return UV_EINVAL;
    if (o->conn != NULL &&
        ((ost->flags & AH__SF_READING) || !ah__list_empty(ah__qlist(ost->write_queue))))
        ah__fail(s->net->sim,
                 "%s(%d) in %s: %s takes the connection that %s sent over IPC while that handle "
                 "still %s it; two handles using one connection are not simulated (close the "
                 "sender's handle, or stop its reading, before the receiver accepts)",
                 fn, fd, ah__site_str(&site, where, sizeof(where)),
                 ah__handle_str(st->u.reserved[0], h, sizeof(h)),
                 ah__handle_str(ost->u.reserved[0], oh, sizeof(oh)),
                 (ost->flags & AH__SF_READING) ? "reads" : "writes");
    s->local = o->local;
    s->remote = o->remote;
    s->bound = o->bound;
    s->nodelay = o->nodelay;
    s->keepalive = o->keepalive;
    st->flags |= ost->flags & AH__SF_BOUND;
    st->io_watcher.fd = fd;
    ah__stream_fd_close_hook = stream_fd_closed;
    if (o->conn != NULL) {
        move_conn(o, s);
        fs->stream = s;
        o->shared = fs;
        ah__fd_make_primary(fs, fd);
    } else {
        s->shared = fs;
    }
    return 0;
}

static int pass_handle(uv_stream_t *h, const char *fn)
{
    AH__REAL(fcntl);
    ah__sock *s = ah__sock_of(h, fn);
    ah__fsock *fs;
    int fd, nfd;

    fd = stream_fd(h, fn);
    if ((fs = ah__fd_get(fd)) == NULL || fs->kind != AH__FK_STREAM)
        not_passed(s,
                   "passing this handle over an IPC pipe (its socket is not one of the sim's) is");
    if ((nfd = real_fcntl(fs->fd, F_DUPFD_CLOEXEC, 0)) < 0)
        not_passed(s, "passing this handle when the process is out of descriptors is");
    ah__fd_add_number(fs, nfd, 1);
    fs->passed = 1;
    s->shared = fs;
    return nfd;
}

/* uv__stream_open with a fake socket: the stream takes over its connection. */
static int stream_open(uv_stream_t *st, int fd, const char *fn, ah__site site)
{
    AH__REAL(fcntl);
    ah__sock *s = ah__sock_of(st, fn);
    ah__fsock *fs = ah__fd_get(fd);
    char where[160];
    ah__conn *c;
    ah__list *q, *next;

    if (fs == NULL && real_fcntl(fd, F_GETFD) != -1) { /* a real descriptor (realstream.c) */
        ah__stream_fd_close_hook = stream_fd_closed;
        return ah__fd_real_stream_open(st, s, fd, st->type == UV_TCP, fn, site);
    }
    if (fs == NULL)
        return UV_EBADF;
    if (fs->kind == AH__FK_STREAM && fs->stream != s && fs->passed && fd != fs->fd &&
        st->io_watcher.fd == -1)
        return share(st, s, fs, fd, fn, site); /* a socket received over IPC */
    if (fs->kind == AH__FK_STREAM)
        return fs->stream == s ? 0 : UV_EEXIST; /* uv__stream_open takes its own fd again */
    if (st->io_watcher.fd != -1 && st->io_watcher.fd != fd)
        return UV_EBUSY;
    ah__fd_make_primary(fs, fd); /* a duplicate adopted: the handle's number names it */
    if (fs->state == AH__FS_CONNECTING || fs->state == AH__FS_LISTENING)
        ah__fail(s->net->sim,
                 "%s(%d) in %s: adopting a socket that is %s is not simulated (adopt it "
                 "connected, or before connect)",
                 fn, fd, ah__site_str(&site, where, sizeof(where)),
                 fs->state == AH__FS_CONNECTING ? "still connecting" : "listening");
    /* libuv's uv_tcp_open does not look at the family: an AF_UNIX stream socket (a socketpair's
     * end, as libuv's own ping-pong test adopts) is a uv_tcp_t's as well */
    if (st->type != UV_TCP && fs->domain != AF_UNIX)
        return UV_EINVAL;
    if (fs->conn == NULL && fs->ops != NULL && fs->type != SOCK_STREAM)
        ah__fail(s->net->sim,
                 "%s(%d) in %s: adopting an end of a SOCK_DGRAM or SOCK_SEQPACKET socketpair as "
                 "a stream is not simulated",
                 fn, fd, ah__site_str(&site, where, sizeof(where)));
    for (q = fs->polls.next; q != &fs->polls; q = next) {
        next = q->next;
        ah__fpoll_detach(ah__container_of(q, ah__fpoll, link));
    }
    s->local = fs->local;
    s->remote = fs->remote;
    s->nodelay = fs->nodelay;
    if (!s->keepalive) {
        /* What the socket has; a keep-alive asked before the open gets libuv's 60 s instead. */
        s->keepalive = fs->keepalive;
        s->keepalive_delay = fs->keepidle ? (unsigned)fs->keepidle : AH__TCP_KEEPIDLE_DEFAULT;
    }
    if (fs->bound)
        st->flags |= AH__SF_BOUND;
    if ((c = fs->conn) != NULL) {
        c->end[fs->side].ops = NULL;
        c->end[fs->side].ctx = NULL;
        ah__sock_attach(s, c, fs->side);
        ah__sock_set_label(s);
        fs->conn = NULL;
        ah__flow_arm(&c->flow[0]);
        ah__flow_arm(&c->flow[1]);
    }
    if (fs->ops != NULL) { /* a pipe's end: the stream has its connection now */
        fs->ops->release(fs);
        fs->ops = NULL;
        fs->priv = NULL;
    }
    fs->kind = AH__FK_STREAM;
    fs->stream = s;
    fs->nonblock = 1;
    /* libuv's uv_pipe_open reads the access mode: a pipe's read end is not writable. */
    if (fs->accmode != O_WRONLY)
        st->flags |= AH__SF_READABLE;
    if (fs->accmode != O_RDONLY)
        st->flags |= AH__SF_WRITABLE;
    st->io_watcher.fd = fd;
    ah__stream_fd_close_hook = stream_fd_closed;
    return 0;
}

int uv_tcp_open(uv_tcp_t *tcp, uv_os_sock_t sock)
{
    return stream_open((uv_stream_t *)tcp, sock, "uv_tcp_open", AH__CALLER("uv_tcp_open"));
}

int uv_pipe_open(uv_pipe_t *pipe, uv_file fd)
{
    return stream_open((uv_stream_t *)pipe, fd, "uv_pipe_open", AH__CALLER("uv_pipe_open"));
}

/* ---- uv_udp_open ---- */

static void udp_fd_closed(uv_udp_t *h, int fd)
{
    ah__fsock *fs = ah__fd_get(fd);

    if (fs == NULL || fs->kind != AH__FK_UDP || fs->udp != h)
        return;
    fs->udp = NULL;
    if (fs->nfds > 1) {
        ah__fd_drop_number(fs, fd);
        return;
    }
    ah__fd_release(fs);
}

/* libuv's uv_udp_open: the handle takes the socket (UV_EBUSY when it has one, UV_EEXIST when
 * another handle of the loop has this one), made non-blocking and SO_REUSEADDR, connected if the
 * socket was. */
int uv_udp_open(uv_udp_t *h, uv_os_sock_t sock)
{
    AH__REAL(fcntl);
    ah__site site = AH__CALLER("uv_udp_open");
    ah__fsock *fs;
    ah__dgram_ep *ep;
    char where[160], hs[320];
    int err;

    ah__handle_rec((uv_handle_t *)h, "uv_udp_open");
    if (ah__fd_get(sock) == NULL && real_fcntl(sock, F_GETFD) != -1)
        return ah__fd_real_udp_open(h, sock, site); /* a real socket (realudp.c) */
    if ((fs = ah__fd_get(sock)) == NULL)
        return UV_EBADF;
    if (h->io_watcher.fd != -1)
        return UV_EBUSY;
    if (fs->kind == AH__FK_UDP && fs->udp != NULL) {
        /* uv__fd_exists: the loop watches the descriptor for the handle that has it. */
        if (uv_is_active((uv_handle_t *)fs->udp))
            return UV_EEXIST;
        ah__fail(fs->sim,
                 "uv_udp_open(%d) in %s: the socket is already the handle %s's; two uv_udp_t on "
                 "one socket are not simulated",
                 sock, ah__site_str(&site, where, sizeof(where)),
                 ah__handle_str(fs->udp->u.reserved[0], hs, sizeof(hs)));
    }
    if (fs->kind != AH__FK_SOCK)
        return UV_EEXIST;
    if (fs->type == SOCK_STREAM &&
        (fs->domain == AF_UNIX || fs->domain == AF_INET || fs->domain == AF_INET6) &&
        fs->ops == NULL)
        return ah__fd_fake_udp_open(h, fs, sock); /* libuv's udp_send_unix */
    if (fs->ops == NULL || fs->ops->adopt == NULL)
        ah__fail(fs->sim,
                 "uv_udp_open(%d) in %s: the descriptor is not a UDP socket (SOCK_DGRAM); "
                 "adopting it as one is not simulated",
                 sock, ah__site_str(&site, where, sizeof(where)));
    ep = ah__udp_adopt(h, sock, fs->domain, fs->state == AH__FS_CONNECTED, &err);
    if (ep == NULL)
        return err;
    ah__fd_make_primary(fs, sock);
    fs->nonblock = 1;
    fs->reuseaddr = 1;
    fs->ops->adopt(fs, ep);
    ep->reuse = 1; /* uv__sock_reuseaddr */
    fs->ops = NULL;
    fs->kind = AH__FK_UDP;
    fs->udp = h;
    ah__udp_fd_close_hook = udp_fd_closed;
    ah__udp_relabel(h);
    return 0;
}

/* uv_accept of a descriptor an IPC pipe received (mocks/stream.c): libuv opens it into the
 * client as uv_pipe_open or uv_tcp_open would. */
static int adopt_received(uv_stream_t *client, int fd)
{
    return client->type == UV_TCP ? uv_tcp_open((uv_tcp_t *)client, fd)
                                  : uv_pipe_open((uv_pipe_t *)client, fd);
}

const char ah__fd_interposer_uvopen = 0;

__attribute__((constructor)) static void install_adopt(void)
{
    ah__stream_adopt_hook = adopt_received;
    ah__stream_pass_hook = pass_handle;
}
