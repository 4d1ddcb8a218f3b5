/* The libc socket calls on fake descriptors: a raw socket is one more kind of connection end on
 * the fake network, beside the uv stream and the scripted peer, so it meets a uv_tcp_t or a peer
 * over the same segments, with the same latency, faults, resets and chunking.
 *
 * Linux's non-blocking TCP semantics are the contract (tcp_poll, tcp_recvmsg, tcp_sendmsg):
 * connect says EINPROGRESS and the socket turns writable once the handshake is done, or
 * SO_ERROR = ECONNREFUSED; an empty read says EAGAIN; data is read before a reset's error, then
 * 0; a write after the end says EPIPE (and raises SIGPIPE unless MSG_NOSIGNAL). Every call on a
 * descriptor that is not the sim's goes to the C library untouched. */
#define _GNU_SOURCE 1 /* RTLD_NEXT, accept4, POLLRDHUP, MSG_NOSIGNAL */
#include "internal_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_socket = 0;

static void raw_incoming(void *ctx);
static void raw_writable(void *ctx);
static int raw_waiting(void *ctx);
static uv_loop_t *raw_loop(void *ctx);
static const ah__end_ops raw_ops = {raw_incoming, raw_writable, raw_waiting, raw_loop};
static void lst_arrived(void *ctx, ah__conn *c);
static uv_loop_t *lst_loop(void *ctx);
static const ah__listen_ops lst_ops = {lst_arrived, lst_loop};

#define SITE(fn) AH__CALLER(fn)

int (*ah__fd_tty_ioctl_hook)(ah__fsock *fs, unsigned long req, void *arg, int *r);
int (*ah__fd_dgram_open)(ah__fsock *fs);
int (*ah__fd_msgpair_open)(ah_sim *sim, int type, int flags, ah__site site, int sv[2]);

int ah__fd_fail_errno(int e)
{
    errno = e;
    return -1;
}
#define fail_errno ah__fd_fail_errno

/* A call on the socket of a uv stream: libuv owns it. */
static void stream_owned(ah__fsock *fs, const char *call, ah__site site) __attribute__((noreturn));
static void stream_owned(ah__fsock *fs, const char *call, ah__site site)
{
    char where[160], h[320];
    const ah__hrec *r =
        fs->kind == AH__FK_STREAM && fs->stream != NULL && fs->stream->stream != NULL
            ? fs->stream->stream->u.reserved[0]
            : NULL;

    if (fs->kind == AH__FK_UDP && fs->udp != NULL)
        r = fs->udp->u.reserved[0];
    ah__fail(fs->sim,
             "%s(%d) in %s: the descriptor is the socket of %s; reading, writing or closing it "
             "behind libuv's back is not simulated",
             call, fs->fd, ah__site_str(&site, where, sizeof(where)),
             r != NULL ? ah__handle_str(r, h, sizeof(h)) : "a uv handle");
}

static ah__flow *in_flow(const ah__fsock *fs)
{
    return fs->conn != NULL ? &fs->conn->flow[1 - fs->side] : NULL;
}

static ah__flow *out_flow(const ah__fsock *fs)
{
    return fs->conn != NULL ? &fs->conn->flow[fs->side] : NULL;
}

static void rearm(ah__fsock *fs)
{
    if (fs->conn != NULL) {
        ah__flow_arm(&fs->conn->flow[0]);
        ah__flow_arm(&fs->conn->flow[1]);
    }
}

static void conn_fire(ah__event *ev);

/* What the kernel has by now arrives whether or not a loop polls: the handshake's outcome and
 * the bytes, FIN or reset due. */
static void catch_up(ah__fsock *fs)
{
    if (fs->catching_up)
        return;
    fs->catching_up = 1;
    if (ah__event_scheduled(&fs->conn_ev) && fs->conn_ev.batch_index == 0 &&
        fs->conn_ev.node.due <= fs->sim->clock.now_ns) {
        ah__event_cancel(&fs->conn_ev);
        conn_fire(&fs->conn_ev);
    }
    if (fs->conn != NULL)
        ah__flow_deliver_due(&fs->conn->flow[1 - fs->side]);
    fs->catching_up = 0;
}

void ah__fd_catch_up(ah__fsock *fs) { catch_up(fs); }

/* A reset that arrived becomes the socket's error, as Linux's tcp_reset sets sk_err. */
static void sync_reset(ah__fsock *fs)
{
    catch_up(fs);
    if (fs->ops != NULL) /* a pipe rides a connection and has no socket error */
        return;
    if (fs->conn == NULL || !fs->conn->end[fs->side].reset || fs->reset_noted)
        return;
    fs->reset_noted = 1;
    if (fs->state == AH__FS_CONNECTING) {
        ah__event_cancel(&fs->conn_ev);
        fs->so_error = ECONNREFUSED;
    } else {
        fs->so_error = in_flow(fs)->fin_arrived && !out_flow(fs)->fin_sent ? EPIPE : ECONNRESET;
    }
    fs->state = AH__FS_DONE;
}

static size_t send_window(const ah__fsock *fs)
{
    /* SO_SNDBUF: Linux doubles the value asked for and keeps at least 4608 bytes. */
    size_t w = AH__FLOW_WINDOW;
    if (fs->sndbuf > 0) {
        w = (size_t)fs->sndbuf * 2;
        if (w < 4608)
            w = 4608;
    }
    return w;
}

static size_t send_room(const ah__fsock *fs)
{
    ah__flow *f = out_flow(fs);
    size_t used = (size_t)(f->wr - f->rd), w = send_window(fs);
    return used >= w ? 0 : w - used;
}

static int rcv_shutdown(const ah__fsock *fs)
{
    ah__flow *f = in_flow(fs);
    return fs->shut_rd || fs->state == AH__FS_DONE || (f != NULL && f->fin_arrived);
}

static int snd_shutdown(const ah__fsock *fs)
{
    ah__flow *f = out_flow(fs);
    return fs->state == AH__FS_DONE || (f != NULL && f->fin_sent);
}

static int chunked(const ah__fsock *fs)
{
    return fs->conn != NULL && ah__route_chunked(fs->conn->route);
}

short ah__fd_revents(ah__fsock *fs)
{
    short m = 0;
    ah__flow *f;

    if (fs->kind == AH__FK_STREAM)
        return POLLOUT;
    if (fs->ops != NULL)
        return fs->ops->revents(fs);
    sync_reset(fs);
    if (fs->state == AH__FS_LISTENING)
        return ah__list_empty(&fs->backlog) ? 0 : POLLIN | POLLRDNORM;
    if (fs->so_error != 0)
        m |= POLLERR;
    if (fs->state == AH__FS_CONNECTING)
        return m;
    if (fs->state == AH__FS_NEW || fs->state == AH__FS_DONE ||
        (rcv_shutdown(fs) && snd_shutdown(fs)))
        m |= POLLHUP;
    if (rcv_shutdown(fs))
        m |= POLLIN | POLLRDNORM | POLLRDHUP;
    f = in_flow(fs);
    if (f != NULL && ah__flow_readable(f, 0) > 0)
        m |= POLLIN | POLLRDNORM;
    if (snd_shutdown(fs) || fs->state == AH__FS_NEW || (fs->conn != NULL && send_room(fs) > 0))
        m |= POLLOUT | POLLWRNORM;
    return m;
}

static void raw_incoming(void *ctx)
{
    ah__fsock *fs = ctx;
    sync_reset(fs);
    ah__fd_changed(fs);
}

static void raw_writable(void *ctx) { ah__fd_changed(ctx); }

static int raw_waiting(void *ctx)
{
    ah__fsock *fs = ctx;
    ah__list *q;

    if (ah__fd_state(fs->sim)->blocking)
        return 1;
    for (q = fs->polls.next; q != &fs->polls; q = q->next) {
        ah__fpoll *p = ah__container_of(q, ah__fpoll, link);
        if (p->handle != NULL && (p->events & POLLIN) && uv_is_active((uv_handle_t *)p->handle))
            return 1;
    }
    return 0;
}

static uv_loop_t *raw_loop(void *ctx) { return ah__fd_loop(ctx); }

static void attach(ah__fsock *fs, ah__conn *c, int side)
{
    fs->conn = c;
    fs->side = side;
    c->end[side].ops = &raw_ops;
    c->end[side].ctx = fs;
    sync_reset(fs);
    rearm(fs);
}

void ah__fd_sock_attach(ah__fsock *fs, ah__conn *c, int side) { attach(fs, c, side); }

/* ---- addresses ---- */

int ah__fd_addr_in(const ah__fsock *fs, const struct sockaddr *sa, socklen_t len, ah__addr *a)
{
    if (sa == NULL)
        return EFAULT;
    if (fs->domain == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        char path[sizeof(un->sun_path) + 1];
        size_t n;
        if (len < sizeof(sa_family_t) || sa->sa_family != AF_UNIX)
            return EINVAL;
        n = len - offsetof(struct sockaddr_un, sun_path);
        if (n > sizeof(un->sun_path))
            n = sizeof(un->sun_path);
        memcpy(path, un->sun_path, n);
        path[n] = '\0';
        if (n > 0 && path[0] == '\0') {
            /* Linux's abstract namespace: "\0name" is kept as "@name" with the address marked
             * abstract, as mocks/pipe.c keeps uv_pipe_bind2's (decision 141); the name ends at
             * its first NUL after the leading one (sun_path's trailing zeros when the caller
             * gives sizeof(struct sockaddr_un)). */
            path[0] = '@';
            if (ah__addr_parse(path, 0, a) != 0)
                return EINVAL;
            a->abstract = 1;
            a->abstract_pad = (int)(n - strlen(path));
            return 0;
        }
        return ah__addr_parse(path, 0, a) == 0 ? 0 : EINVAL;
    }
    if (sa->sa_family != fs->domain)
        return EAFNOSUPPORT;
    if ((fs->domain == AF_INET && len < sizeof(struct sockaddr_in)) ||
        (fs->domain == AF_INET6 && len < sizeof(struct sockaddr_in6)))
        return EINVAL;
    ah__addr_from_sockaddr(sa, a);
    return 0;
}

void ah__fd_addr_out(const ah__fsock *fs, const ah__addr *a, struct sockaddr *sa, socklen_t *len)
{
    struct sockaddr_storage ss;
    socklen_t n;

    memset(&ss, 0, sizeof(ss));
    if (fs->domain == AF_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        un->sun_family = AF_UNIX;
        n = offsetof(struct sockaddr_un, sun_path);
        if (a->family == AF_UNIX && a->abstract) {
            /* "\0name" and the NULs bound after it, not terminated (decision 146) */
            size_t k = strnlen(a->str + 1, sizeof(un->sun_path) - 1);
            memcpy(un->sun_path + 1, a->str + 1, k);
            k += 1 + (size_t)a->abstract_pad;
            n += (socklen_t)(k < sizeof(un->sun_path) ? k : sizeof(un->sun_path));
        } else if (a->family == AF_UNIX) {
            snprintf(un->sun_path, sizeof(un->sun_path), "%s", a->str);
            n += (socklen_t)strlen(un->sun_path) + 1;
        }
    } else if (a->family == fs->domain) {
        memcpy(&ss, &a->sa, sizeof(ss));
        n = fs->domain == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    } else {
        ss.ss_family = (sa_family_t)fs->domain;
        n = fs->domain == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    }
    if (sa != NULL && len != NULL)
        memcpy(sa, &ss, *len < n ? *len : n);
    if (len != NULL)
        *len = n;
}

/* ---- socket, socketpair, close ---- */

static int fake_domain(int domain)
{
    return domain == AF_INET || domain == AF_INET6 || domain == AF_UNIX;
}

AH__LIBC(socket, 11, AH__LIBC_FD);
int socket(int domain, int type, int protocol)
{
    AH__REAL(socket);
    ah_sim *sim = ah__sim_libc();
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    ah__site site;
    ah__fsock *fs;
    char where[160];
    int e;

    if (sim == NULL || !fake_domain(domain) || ah__fd_passthrough(sim))
        return real_socket(domain, type, protocol);
    site = SITE("socket");
    if (base == SOCK_DGRAM && domain != AF_UNIX) {
        if (protocol != 0 && protocol != IPPROTO_UDP)
            return fail_errno(EPROTONOSUPPORT);
        if (ah__fd_dgram_open == NULL)
            ah__fail(sim, "socket(SOCK_DGRAM) in %s: fd/dgram.c is not linked",
                     ah__site_str(&site, where, sizeof(where)));
    } else if (base != SOCK_STREAM) {
        ah__fail(sim, "socket(%d, %d) in %s: only SOCK_STREAM sockets are simulated", domain, base,
                 ah__site_str(&site, where, sizeof(where)));
    } else if (protocol != 0 && !(domain != AF_UNIX && protocol == IPPROTO_TCP)) {
        return fail_errno(EPROTONOSUPPORT);
    }
    if ((fs = ah__fd_new(sim, AH__FK_SOCK, site)) == NULL)
        return -1;
    fs->domain = domain;
    fs->type = base;
    fs->protocol = protocol;
    fs->nonblock = (type & SOCK_NONBLOCK) != 0;
    fs->cloexec = (type & SOCK_CLOEXEC) != 0;
    fs->state = AH__FS_NEW;
    fs->conn_ev.owner = NULL;
    if (base == SOCK_DGRAM && (e = ah__fd_dgram_open(fs)) != 0) {
        ah__fd_release(fs);
        return fail_errno(e);
    }
    return fs->fd;
}

int ah__fd_pair(ah_sim *sim, int flags, const char *call, ah__site site, ah__fsock *fs[2])
{
    ah__fdstate *st = ah__fd_state(sim);
    ah__addr a;
    char path[64];
    ah__conn *c;
    ah__net *net;
    int i;

    for (i = 0; i < 2; i++) {
        if ((fs[i] = ah__fd_new(sim, AH__FK_SOCK, site)) == NULL) {
            if (i == 1)
                ah__fd_release(fs[0]);
            return -1;
        }
        fs[i]->domain = AF_UNIX;
        fs[i]->type = SOCK_STREAM;
        fs[i]->nonblock = (flags & SOCK_NONBLOCK) != 0;
        fs[i]->cloexec = (flags & SOCK_CLOEXEC) != 0;
        fs[i]->state = AH__FS_CONNECTED;
    }
    net = ah__net_get(sim);
    snprintf(path, sizeof(path), "%s #%u", call, ++st->next_pair);
    ah__addr_parse(path, 0, &a);
    c = ah__conn_new(net, UV_NAMED_PIPE, ah__route_get(net, &a), uv_default_loop(), &a, &a);
    attach(fs[0], c, 0);
    attach(fs[1], c, 1);
    return 0;
}

AH__LIBC(socketpair, 15, AH__LIBC_FD);
int socketpair(int domain, int type, int protocol, int sv[2])
{
    AH__REAL(socketpair);
    ah_sim *sim = ah__sim_libc();
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    ah__fsock *fs[2];

    if (sim == NULL || domain != AF_UNIX ||
        (base != SOCK_STREAM && base != SOCK_DGRAM && base != SOCK_SEQPACKET) ||
        ah__fd_passthrough(sim))
        return real_socketpair(domain, type, protocol, sv);
    if (sv == NULL)
        return fail_errno(EFAULT);
    if (protocol != 0)
        return fail_errno(EPROTONOSUPPORT);
    if (base != SOCK_STREAM) /* messages: fd/unixdgram.c */
        return ah__fd_msgpair_open(sim, base, type, SITE("socketpair"), sv);
    if (ah__fd_pair(sim, type, "socketpair", SITE("socketpair"), fs) != 0)
        return -1;
    sv[0] = fs[0]->fd;
    sv[1] = fs[1]->fd;
    return 0;
}

/* The fake descriptor at the other end of `fs`'s connection, or NULL. */
static ah__fsock *peer_of(const ah__fsock *fs)
{
    const ah__end *e;

    if (fs->conn == NULL)
        return NULL;
    e = &fs->conn->end[1 - fs->side];
    return e->ops == &raw_ops ? e->ctx : NULL;
}

void ah__fd_sock_close(ah__fsock *fs)
{
    ah__fsock *peer = peer_of(fs);
    ah__list *q;

    if (fs->conn != NULL) {
        ah__end_close(fs->conn, fs->side, 0);
        fs->conn = NULL;
    }
    if (peer != NULL) /* a thread blocked on the other end sees the FIN at once */
        ah__twait_wake(&peer->twq);
    if (fs->lst_route != NULL) {
        if (fs->lst_route->lctx == fs) {
            fs->lst_route->lops = NULL;
            fs->lst_route->lctx = NULL;
        }
        fs->lst_route = NULL;
    }
    /* Connections still in the accept queue are reset when the listener goes. */
    while (!ah__list_empty(&fs->backlog)) {
        q = fs->backlog.next;
        ah__conn *c = ah__container_of(q, ah__conn, backlog_link);
        ah__list_remove(&c->backlog_link);
        c->in_backlog = 0;
        ah__end_close(c, 1, 1);
    }
    ah__fd_release(fs);
}

AH__LIBC(close, 10, AH__LIBC_FD);
int close(int fd)
{
    AH__REAL(close);
    ah__fsock *fs = ah__fd_get_any(fd); /* also one made before a fork: closing it is fine */

    if (fs == NULL)
        return real_close(fd);
    /* One of several numbers (dup): the object stays for the others (fd/dup.c). */
    if (fs->nfds > 1 &&
        (fs->kind == AH__FK_SOCK || fd != fs->fd || (fs->stream == NULL && fs->udp == NULL)))
        return ah__fd_drop_number(fs, fd);
    if (fs->kind != AH__FK_SOCK) {
        if (fs->kind == AH__FK_STREAM && fs->stream != NULL && fs->stream->real == NULL &&
            fs->stream->stream != NULL && fs->stream->stream->type == UV_TCP) {
            /* the socket of a uv_tcp_t closed behind libuv's back (libuv's tcp_write_fail): its
             * next writes fail with EBADF, as write(2) would; the connection and the number stay
             * the handle's until uv_close, whose own close(2) the kernel would answer EBADF */
            if (fs->stream->fd_gone)
                return fail_errno(EBADF);
            fs->stream->fd_gone = 1;
            ah__trace_note(fs->sim, fs->stream->conn != NULL ? fs->stream->conn->label : "tcp",
                           "close of the handle's descriptor behind libuv (writes fail: EBADF)");
            return 0;
        }
        if (fs->stream != NULL || fs->udp != NULL)
            stream_owned(fs, "close", SITE("close"));
        ah__fd_release(fs); /* the last duplicate of one whose handle closed its number */
        return 0;
    }
    if (fs->ops != NULL)
        fs->ops->close(fs);
    ah__fd_sock_close(fs);
    return 0;
}

/* ---- connect, bind, listen, accept ---- */

static void conn_fire(ah__event *ev)
{
    ah__fsock *fs = ah__container_of(ev, ah__fsock, conn_ev);

    if (fs->state != AH__FS_CONNECTING)
        return;
    if (fs->connect_status == 0) {
        fs->state = AH__FS_CONNECTED;
        ah__trace_note(fs->sim, fs->conn->label, "connected (raw socket)");
    } else {
        fs->state = AH__FS_DONE;
        fs->so_error = -fs->connect_status;
        if (fs->conn != NULL) {
            ah__end_close(fs->conn, fs->side, 1);
            fs->conn = NULL;
        }
    }
    ah__fd_changed(fs);
}

static int connecting_done(void *ctx) { return ((ah__fsock *)ctx)->state != AH__FS_CONNECTING; }

AH__LIBC(connect, 12, AH__LIBC_FD);
int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    AH__REAL(connect);
    ah__fsock *fs = ah__fd_get(fd);
    ah__site site;
    ah__addr remote, local;
    ah__conn *c = NULL;
    uint64_t due;
    ah__net *net;
    int r, e;

    if (fs == NULL)
        return real_connect(fd, addr, len);
    site = SITE("connect");
    if (fs->kind != AH__FK_SOCK)
        stream_owned(fs, "connect", site);
    if (fs->ops != NULL) {
        if (addr != NULL && len >= sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC)
            return (e = fs->ops->connect(fs, NULL)) != 0 ? fail_errno(e) : 0;
        if ((e = ah__fd_addr_in(fs, addr, len, &remote)) != 0 ||
            (e = fs->ops->connect(fs, &remote)) != 0)
            return fail_errno(e);
        return 0;
    }
    if (fs->state == AH__FS_CONNECTED || fs->state == AH__FS_LISTENING)
        return fail_errno(EISCONN);
    if (fs->state == AH__FS_CONNECTING)
        return fail_errno(EALREADY);
    if ((e = ah__fd_addr_in(fs, addr, len, &remote)) != 0)
        return fail_errno(e);
    net = ah__net_get(fs->sim);
    if (fs->bound)
        local = fs->local;
    else if (fs->domain == AF_UNIX)
        ah__addr_parse("client", 0, &local);
    else
        ah__local_for(&remote, ah__net_ephemeral_port(net), &local);
    fs->so_error = 0;
    fs->reset_noted = 0;
    fs->remote = remote;
    fs->local = local;
    r = ah__net_connect_end(net, &local, &remote, ah__fd_loop(fs), &c, &due);
    {
        char what[640], where[160], hint[320];
        snprintf(what, sizeof(what), "connect (raw socket %d), called in %s%s", fd,
                 ah__site_str(&site, where, sizeof(where)),
                 ah__trace_site_hint(fs->sim, &site, hint, sizeof(hint)));
        ah__trace_note(fs->sim, c != NULL ? c->label : remote.str, what);
    }
    if (fs->domain == AF_UNIX && r != 0) {
        /* A Unix socket's connect fails at once. */
        ah__route *rt = ah__route_get(net, &remote);
        /* An abstract name has no file: nobody bound is ECONNREFUSED, as on Linux. */
        return fail_errno(r == 1                                 ? ETIMEDOUT
                          : rt->bound != NULL || remote.abstract ? ECONNREFUSED
                                                                 : ENOENT);
    }
    fs->state = AH__FS_CONNECTING;
    fs->conn_ev.fire = conn_fire;
    fs->conn_ev.what = "connect outcome (raw socket)";
    fs->conn_ev.flags = AH__EV_REF;
    if (r == 0) {
        attach(fs, c, 0);
        fs->connect_status = 0;
        ah__event_schedule(ah__fd_loop(fs), &fs->conn_ev, due);
    } else if (r == UV_ECONNREFUSED) {
        fs->connect_status = UV_ECONNREFUSED;
        ah__event_schedule(ah__fd_loop(fs), &fs->conn_ev, due);
    }
    if (fs->nonblock)
        return fail_errno(EINPROGRESS);
    if (ah__fd_block(fs, "connect", connecting_done, fs, UINT64_MAX, site) < 0)
        return -1; /* EINTR: the connection goes on being made */
    if (fs->so_error != 0) {
        e = fs->so_error;
        fs->so_error = 0;
        return fail_errno(e);
    }
    return 0;
}

AH__LIBC(bind, 9, AH__LIBC_FD);
int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    AH__REAL(bind);
    ah__fsock *fs = ah__fd_get(fd);
    ah__addr a;
    ah__route *r;
    ah__net *net;
    int e;

    if (fs == NULL)
        return real_bind(fd, addr, len);
    if (fs->kind != AH__FK_SOCK)
        stream_owned(fs, "bind", SITE("bind"));
    if ((e = ah__fd_addr_in(fs, addr, len, &a)) != 0)
        return fail_errno(e);
    if (fs->ops != NULL)
        return (e = fs->ops->bind(fs, &a)) != 0 ? fail_errno(e) : 0;
    if (fs->bound || fs->state != AH__FS_NEW)
        return fail_errno(EINVAL);
    net = ah__net_get(fs->sim);
    if (a.family != AF_UNIX && a.port == 0) {
        struct sockaddr_storage ss = a.sa;
        uint16_t port = htons((uint16_t)ah__net_ephemeral_port(net));
        if (a.family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = port;
        else
            ((struct sockaddr_in *)&ss)->sin_port = port;
        ah__addr_from_sockaddr((struct sockaddr *)&ss, &a);
    }
    r = ah__route_get(net, &a);
    if (ah__route_listens(r) || r->bound != NULL)
        return fail_errno(EADDRINUSE);
    fs->local = a;
    fs->bound = 1;
    return 0;
}

AH__LIBC(listen, 11, AH__LIBC_FD);
int listen(int fd, int backlog)
{
    AH__REAL(listen);
    ah__fsock *fs = ah__fd_get(fd);
    ah__route *r;
    ah__net *net;

    (void)backlog;
    if (fs == NULL)
        return real_listen(fd, backlog);
    if (fs->kind != AH__FK_SOCK)
        stream_owned(fs, "listen", SITE("listen"));
    if (fs->ops != NULL)
        return fail_errno(EOPNOTSUPP);
    if (fs->state == AH__FS_LISTENING)
        return 0;
    if (fs->state != AH__FS_NEW)
        return fail_errno(EINVAL);
    net = ah__net_get(fs->sim);
    if (!fs->bound) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        ss.ss_family = (sa_family_t)fs->domain;
        if (fs->domain == AF_UNIX)
            return fail_errno(EINVAL);
        if (bind(fd, (struct sockaddr *)&ss,
                 fs->domain == AF_INET ? sizeof(struct sockaddr_in)
                                       : sizeof(struct sockaddr_in6)) != 0)
            return -1;
    }
    r = ah__route_get(net, &fs->local);
    if (ah__route_listens(r))
        return fail_errno(EADDRINUSE);
    r->lops = &lst_ops;
    r->lctx = fs;
    fs->lst_route = r;
    fs->state = AH__FS_LISTENING;
    {
        ah__site site = SITE("listen");
        char what[640], where[160], hint[320];
        snprintf(what, sizeof(what), "listening (raw socket %d), called in %s%s", fd,
                 ah__site_str(&site, where, sizeof(where)),
                 ah__trace_site_hint(fs->sim, &site, hint, sizeof(hint)));
        ah__trace_note(fs->sim, r->addr.str, what);
    }
    return 0;
}

static void lst_arrived(void *ctx, ah__conn *c)
{
    ah__fsock *fs = ctx;

    ah__list_insert_tail(&fs->backlog, &c->backlog_link);
    c->in_backlog = 1;
    ah__fd_changed(fs);
}

static uv_loop_t *lst_loop(void *ctx) { return ah__fd_loop(ctx); }

static int backlog_ready(void *ctx) { return !ah__list_empty(&((ah__fsock *)ctx)->backlog); }

/* accept and accept4 on a fake socket; `site` is their caller's (accept's, not accept4's, when
 * the program called accept). */
static int accept_at(int fd, struct sockaddr *addr, socklen_t *len, int flags, ah__site site)
{
    ah__fsock *fs = ah__fd_get(fd), *ns;
    ah__conn *c;

    if (fs->kind != AH__FK_SOCK)
        stream_owned(fs, "accept", site);
    if (fs->ops != NULL)
        return fail_errno(EOPNOTSUPP);
    if (fs->state != AH__FS_LISTENING)
        return fail_errno(EINVAL);
    if (ah__list_empty(&fs->backlog)) {
        if (fs->nonblock)
            return fail_errno(EAGAIN);
        if (ah__fd_block(fs, "accept", backlog_ready, fs, UINT64_MAX, site) < 0)
            return -1; /* EINTR */
    }
    if ((ns = ah__fd_new(fs->sim, AH__FK_SOCK, site)) == NULL)
        return -1;
    c = ah__container_of(fs->backlog.next, ah__conn, backlog_link);
    ah__list_remove(&c->backlog_link);
    c->in_backlog = 0;
    ns->domain = fs->domain;
    ns->type = fs->type;
    ns->nonblock = (flags & SOCK_NONBLOCK) != 0;
    ns->cloexec = (flags & SOCK_CLOEXEC) != 0;
    ns->state = AH__FS_CONNECTED;
    ns->local = c->end[1].addr;
    ns->remote = c->end[0].addr;
    ns->bound = 1;
    attach(ns, c, 1);
    {
        char what[640], where[160], hint[320];
        snprintf(what, sizeof(what), "accept (raw socket %d), called in %s%s", ns->fd,
                 ah__site_str(&site, where, sizeof(where)),
                 ah__trace_site_hint(fs->sim, &site, hint, sizeof(hint)));
        ah__trace_note(fs->sim, c->label, what);
    }
    if (addr != NULL && len != NULL)
        ah__fd_addr_out(ns, &ns->remote, addr, len);
    return ns->fd;
}

AH__LIBC(accept, 11, AH__LIBC_FD);
AH__LIBC(accept4, 12, AH__LIBC_FD);
int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    AH__REAL(accept4);
    if (ah__fd_get(fd) == NULL)
        return real_accept4(fd, addr, len, flags);
    return accept_at(fd, addr, len, flags, SITE("accept"));
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    AH__REAL(accept);
    if (ah__fd_get(fd) == NULL)
        return real_accept(fd, addr, len);
    return accept_at(fd, addr, len, 0, SITE("accept"));
}

/* ---- reading ---- */

static int readable_now(void *ctx)
{
    ah__fsock *fs = ctx;
    ah__flow *f = in_flow(fs);

    sync_reset(fs);
    return fs->so_error != 0 || rcv_shutdown(fs) || fs->state != AH__FS_CONNECTED ||
           (f != NULL && ah__flow_readable(f, 0) > 0);
}

/* A datagram socket's reads and writes go to its ops with the whole message. */
static ssize_t ops_recv(ah__fsock *fs, const struct iovec *iov, int iovcnt, int flags,
                        struct sockaddr *addr, socklen_t *alen, const char *call, ah__site site)
{
    struct msghdr m;
    ssize_t r;

    memset(&m, 0, sizeof(m));
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = (size_t)iovcnt;
    m.msg_name = addr != NULL && alen != NULL ? addr : NULL;
    m.msg_namelen = addr != NULL && alen != NULL ? *alen : 0;
    r = fs->ops->recv(fs, &m, flags, call, site);
    if (r >= 0 && addr != NULL && alen != NULL)
        *alen = m.msg_namelen;
    return r;
}

static ssize_t ops_send(ah__fsock *fs, const struct iovec *iov, int iovcnt, int flags,
                        const struct sockaddr *addr, socklen_t alen, const char *call,
                        ah__site site)
{
    struct msghdr m;

    memset(&m, 0, sizeof(m));
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = (size_t)iovcnt;
    m.msg_name = (void *)addr;
    m.msg_namelen = addr != NULL ? alen : 0;
    return fs->ops->send(fs, &m, flags, call, site);
}

/* A byte transfer's trace note on the connection's track: "send of 5 bytes (raw socket 3),
 * called in f (t.c:12)". A libc call is never marked, so its site is an address: the last one's
 * text is kept, since dladdr costs more than the transfer and a loop sends from one place. */
static void note_io(ah__fsock *fs, const char *call, ssize_t n, ah__site site)
{
    static const void *last_ret;
    static char last_where[160];
    char what[640], hint[320], where[160];
    const char *w;

    if (n <= 0)
        return;
    if (site.file == NULL && site.ret != NULL && site.ret == last_ret) {
        w = last_where;
    } else {
        w = ah__site_str(&site, where, sizeof(where));
        if (site.file == NULL && site.ret != NULL) {
            last_ret = site.ret;
            snprintf(last_where, sizeof(last_where), "%s", where);
        }
    }
    snprintf(what, sizeof(what), "%s of %zd bytes (raw socket %d), called in %s%s", call, n, fs->fd,
             w, ah__trace_site_hint(fs->sim, &site, hint, sizeof(hint)));
    ah__trace_note(fs->sim, fs->conn != NULL ? fs->conn->label : fs->remote.str, what);
}

static ssize_t sock_recv_at(ah__fsock *fs, const struct iovec *iov, int iovcnt, int flags,
                            const char *call, ah__site site);

/* recvmsg on an AF_UNIX stream socket: where the passed descriptors the read takes go. */
static __thread ah__rights **recv_rights;

/* tcp_recvmsg: up to `len` bytes into the iovecs; the bytes taken are traced with the call. */
static ssize_t sock_recv(ah__fsock *fs, const struct iovec *iov, int iovcnt, int flags,
                         const char *call, ah__site site)
{
    ssize_t r = sock_recv_at(fs, iov, iovcnt, flags, call, site);

    note_io(fs, call, r, site);
    return r;
}

static ssize_t sock_recv_at(ah__fsock *fs, const struct iovec *iov, int iovcnt, int flags,
                            const char *call, ah__site site)
{
    ah__flow *f;
    size_t len = 0, avail, n, done, piece;
    int i, e;

    if (fs->kind != AH__FK_SOCK)
        stream_owned(fs, call, site);
    for (i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    for (;;) {
        sync_reset(fs);
        if (fs->state == AH__FS_LISTENING || fs->state == AH__FS_NEW)
            return fail_errno(ENOTCONN);
        f = in_flow(fs);
        avail = f != NULL && !fs->shut_rd ? ah__flow_readable(f, chunked(fs)) : 0;
        if (avail > 0) {
            n = avail < len ? avail : len;
            if (f->rights != NULL && !(flags & MSG_PEEK)) {
                /* unix_stream_read_generic: the passed descriptors come with their bytes, and the
                 * read stops after them; a plain read(2) closes them (recv_rights NULL). */
                ah__rights *r = ah__flow_rights_take(f, &n);
                if (r != NULL && recv_rights != NULL)
                    *recv_rights = r;
                else if (r != NULL) {
                    for (i = 0; i < r->n; i++)
                        close(r->fds[i]);
                    ah__free(r);
                }
            }
            for (i = 0, done = 0; i < iovcnt && done < n; i++) {
                piece = iov[i].iov_len < n - done ? iov[i].iov_len : n - done;
                memcpy(iov[i].iov_base, f->buf + (f->rd + done - f->base), piece);
                done += piece;
            }
            if (!(flags & MSG_PEEK) && n > 0)
                ah__flow_consume(f, n);
            return (ssize_t)n;
        }
        if (len == 0)
            return 0;
        if (fs->so_error != 0) {
            e = fs->so_error;
            fs->so_error = 0;
            return fail_errno(e);
        }
        if (rcv_shutdown(fs))
            return 0;
        if (fs->nonblock || (flags & MSG_DONTWAIT))
            return fail_errno(EAGAIN);
        switch (
            ah__fd_block(fs, call, readable_now, fs, ah__fd_deadline(fs, fs->rcvtimeo_ms), site)) {
        case -1:
            return -1; /* EINTR */
        case 0:
            return fail_errno(EAGAIN); /* SO_RCVTIMEO passed */
        }
    }
}

void (*ah__fd_real_block_hook)(int fd, short events, const char *call, const void *ret);

AH__LIBC(read, 9, AH__LIBC_FD);
ssize_t read(int fd, void *buf, size_t n)
{
    AH__REAL(read);
    ah__fsock *fs = ah__fd_get(fd);
    struct iovec v;

    if (fs == NULL) {
        if (ah__fd_real_block_hook != NULL && n > 0)
            ah__fd_real_block_hook(fd, POLLIN, "read", __builtin_return_address(0));
        return real_read(fd, buf, n);
    }
    v.iov_base = buf;
    v.iov_len = n;
    if (fs->ops != NULL)
        return ops_recv(fs, &v, 1, 0, NULL, NULL, "read", SITE("read"));
    return sock_recv(fs, &v, 1, 0, "read", SITE("read"));
}

AH__LIBC(recv, 9, AH__LIBC_FD);
ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    AH__REAL(recv);
    ah__fsock *fs = ah__fd_get(fd);
    struct iovec v;

    if (fs == NULL)
        return real_recv(fd, buf, n, flags);
    v.iov_base = buf;
    v.iov_len = n;
    if (fs->ops != NULL)
        return ops_recv(fs, &v, 1, flags, NULL, NULL, "recv", SITE("recv"));
    return sock_recv(fs, &v, 1, flags, "recv", SITE("recv"));
}

AH__LIBC(recvfrom, 13, AH__LIBC_FD);
ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen)
{
    AH__REAL(recvfrom);
    ah__fsock *fs = ah__fd_get(fd);
    struct iovec v;
    ssize_t r;

    if (fs == NULL)
        return real_recvfrom(fd, buf, n, flags, addr, alen);
    v.iov_base = buf;
    v.iov_len = n;
    if (fs->ops != NULL)
        return ops_recv(fs, &v, 1, flags, addr, alen, "recvfrom", SITE("recvfrom"));
    r = sock_recv(fs, &v, 1, flags, "recvfrom", SITE("recvfrom"));
    if (r >= 0 && addr != NULL && alen != NULL)
        *alen = 0; /* a connected stream socket leaves the address unset */
    return r;
}

AH__LIBC(readv, 10, AH__LIBC_FD);
ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
    AH__REAL(readv);
    ah__fsock *fs = ah__fd_get(fd);

    if (fs == NULL)
        return real_readv(fd, iov, iovcnt);
    if (fs->ops != NULL)
        return ops_recv(fs, iov, iovcnt, 0, NULL, NULL, "readv", SITE("readv"));
    return sock_recv(fs, iov, iovcnt, 0, "readv", SITE("readv"));
}

/* scm_detach_fds: the passed descriptors get the lowest free numbers of the receiver (FD_CLOEXEC
 * with MSG_CMSG_CLOEXEC); those the control buffer has no room for are closed, and MSG_CTRUNC
 * says so. */
static void put_rights(struct msghdr *msg, ah__rights *r, int flags, ah__site site)
{
    if (r == NULL)
        msg->msg_controllen = 0;
    else
        ah__fd_rights_put(msg, r->fds, r->n, flags, site);
    ah__free(r);
}

void ah__fd_rights_put(struct msghdr *msg, int *fds, int nfds, int flags, ah__site site)
{
    size_t room = msg->msg_control != NULL ? msg->msg_controllen : 0;
    int fit = 0, i, nfd;
    struct cmsghdr *cm;
    ah__fsock *pf;

    if (room >= CMSG_LEN(sizeof(int)))
        fit = (int)((room - CMSG_LEN(0)) / sizeof(int));
    if (fit > nfds)
        fit = nfds;
    for (i = 0; i < nfds; i++) {
        if (i < fit && (pf = ah__fd_get(fds[i])) != NULL &&
            (nfd = ah__fd_dup_from(pf, fds[i], 0, (flags & MSG_CMSG_CLOEXEC) != 0, "recvmsg",
                                   site)) >= 0) {
            close(fds[i]);
            fds[i] = nfd;
        } else {
            close(fds[i]);
            if (i < fit)
                fit = i; /* EMFILE: Linux stops there too */
        }
    }
    if (fit > 0) {
        cm = (struct cmsghdr *)msg->msg_control;
        cm->cmsg_len = CMSG_LEN((size_t)fit * sizeof(int));
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        memcpy(CMSG_DATA(cm), fds, (size_t)fit * sizeof(int));
        msg->msg_controllen = CMSG_SPACE((size_t)fit * sizeof(int)) < room
                                  ? CMSG_SPACE((size_t)fit * sizeof(int))
                                  : room;
    } else
        msg->msg_controllen = 0;
    if (fit < nfds)
        msg->msg_flags |= MSG_CTRUNC;
}

AH__LIBC(recvmsg, 12, AH__LIBC_FD);
ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    AH__REAL(recvmsg);
    ah__fsock *fs = ah__fd_get(fd);
    ah__rights *rights = NULL;
    ssize_t r;

    if (fs == NULL)
        return real_recvmsg(fd, msg, flags);
    if (fs->ops != NULL)
        return fs->ops->recv(fs, msg, flags, "recvmsg", SITE("recvmsg"));
    recv_rights = &rights;
    r = sock_recv(fs, msg->msg_iov, (int)msg->msg_iovlen, flags, "recvmsg", SITE("recvmsg"));
    recv_rights = NULL;
    if (r >= 0) {
        msg->msg_namelen = 0;
        msg->msg_flags = 0;
        put_rights(msg, rights, flags, SITE("recvmsg"));
    }
    return r;
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
AH__LIBC(__read_chk, 15, AH__LIBC_FD);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    AH__REAL(__read_chk);
    if (ah__fd_get(fd) == NULL)
        return real___read_chk(fd, buf, n, buflen);
    if (n > buflen)
        abort(); /* __chk_fail */
    return read(fd, buf, n);
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
AH__LIBC(__recv_chk, 15, AH__LIBC_FD);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    AH__REAL(__recv_chk);
    if (ah__fd_get(fd) == NULL)
        return real___recv_chk(fd, buf, n, buflen, flags);
    if (n > buflen)
        abort();
    return recv(fd, buf, n, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *addr,
                       socklen_t *alen);
AH__LIBC(__recvfrom_chk, 19, AH__LIBC_FD);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *addr,
                       socklen_t *alen)
{
    AH__REAL(__recvfrom_chk);
    if (ah__fd_get(fd) == NULL)
        return real___recvfrom_chk(fd, buf, n, buflen, flags, addr, alen);
    if (n > buflen)
        abort();
    return recvfrom(fd, buf, n, flags, addr, alen);
}

/* ---- writing ---- */

/* EPIPE: Linux also raises SIGPIPE, which kills a process that neither ignores nor handles it. */
int ah__fd_epipe(ah__fsock *fs, int flags, const char *call, ah__site site)
{
    struct sigaction sa;
    sigset_t cur;
    char where[160];

    if (!(flags & MSG_NOSIGNAL) && sigaction(SIGPIPE, NULL, &sa) == 0 &&
        sigprocmask(SIG_BLOCK, NULL, &cur) == 0 && !sigismember(&cur, SIGPIPE)) {
        if (sa.sa_handler == SIG_DFL)
            ah__fail(fs->sim,
                     "%s(%d) in %s: the connection is closed for writing, and Linux raises "
                     "SIGPIPE, which kills the process (ignore SIGPIPE, or send with "
                     "MSG_NOSIGNAL)",
                     call, fs->fd, ah__site_str(&site, where, sizeof(where)));
        if (sa.sa_handler != SIG_IGN)
            raise(SIGPIPE);
    }
    return fail_errno(EPIPE);
}
#define epipe ah__fd_epipe

static int writable_now(void *ctx)
{
    ah__fsock *fs = ctx;

    sync_reset(fs);
    return fs->state != AH__FS_CONNECTED || fs->so_error != 0 || snd_shutdown(fs) ||
           send_room(fs) > 0;
}

/* send(MSG_OOB) on the socket of a uv stream, behind libuv's back (libuv's tcp_oob): the bytes go
 * on the stream's connection, but for the last one, the urgent byte, which a reader without
 * SO_OOBINLINE never reads inline (tcp_urg); POLLPRI and recv(MSG_OOB) are not simulated. */
static ssize_t stream_send_oob(ah__fsock *fs, const struct iovec *iov, int iovcnt, int flags,
                               const char *call, ah__site site)
{
    ah__sock *s = fs->stream;
    ah__conn *c = s != NULL ? s->conn : NULL;
    size_t len = 0, left;
    int i;

    if (c == NULL)
        return fail_errno(ENOTCONN);
    if (c->flow[s->side].fin_sent || c->flow[s->side].rst_sent || c->end[s->side].reset)
        return ah__fd_epipe(fs, flags, call, site);
    for (i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    left = len > 0 ? len - 1 : 0;
    for (i = 0; i < iovcnt && left > 0; i++) {
        size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
        ah__flow_send(c, s->side, iov[i].iov_base, n);
        left -= n;
    }
    return (ssize_t)len;
}

static ssize_t sock_send_at(ah__fsock *fs, const struct iovec *iov, int iovcnt, int flags,
                            const char *call, ah__site site);

/* tcp_sendmsg; the bytes sent are traced with the call. */
static ssize_t sock_send(ah__fsock *fs, const struct iovec *iov, int iovcnt, int flags,
                         const char *call, ah__site site)
{
    ssize_t r = sock_send_at(fs, iov, iovcnt, flags, call, site);

    note_io(fs, call, r, site);
    return r;
}

static ssize_t sock_send_at(ah__fsock *fs, const struct iovec *iov, int iovcnt, int flags,
                            const char *call, ah__site site)
{
    size_t len = 0, sent = 0, room, n, skip, piece;
    ah__route *rt;
    int i, e;

    if (fs->kind == AH__FK_STREAM && (flags & MSG_OOB))
        return stream_send_oob(fs, iov, iovcnt, flags, call, site);
    if (fs->kind != AH__FK_SOCK)
        stream_owned(fs, call, site);
    for (i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    for (;;) {
        sync_reset(fs);
        if (fs->state == AH__FS_CONNECTING) {
            if (fs->nonblock || (flags & MSG_DONTWAIT))
                return fail_errno(EAGAIN);
            if (ah__fd_block(fs, call, connecting_done, fs, UINT64_MAX, site) < 0)
                return -1; /* EINTR */
            continue;
        }
        if (fs->so_error != 0) {
            if (sent > 0)
                return (ssize_t)sent;
            e = fs->so_error;
            fs->so_error = 0;
            return e == EPIPE ? epipe(fs, flags, call, site) : fail_errno(e);
        }
        if (fs->state != AH__FS_CONNECTED || snd_shutdown(fs))
            return sent > 0 ? (ssize_t)sent : epipe(fs, flags, call, site);
        rt = fs->conn->route;
        if (rt->write_error != 0) {
            e = -rt->write_error;
            rt->write_error = 0;
            ah__trace_note(fs->sim, fs->conn->label, "write fails (ah_net_write_error)");
            return fail_errno(e);
        }
        if (len == 0)
            return 0;
        room = send_room(fs);
        if (room > 0) {
            n = len - sent < room ? len - sent : room;
            for (i = 0, skip = sent; i < iovcnt && n > 0; i++) {
                if (skip >= iov[i].iov_len) {
                    skip -= iov[i].iov_len;
                    continue;
                }
                piece = iov[i].iov_len - skip < n ? iov[i].iov_len - skip : n;
                ah__flow_send(fs->conn, fs->side, (const char *)iov[i].iov_base + skip, piece);
                sent += piece;
                n -= piece;
                skip = 0;
            }
            if (peer_of(fs) != NULL) /* a thread blocked reading the other end */
                ah__twait_wake(&peer_of(fs)->twq);
            if (sent == len || fs->nonblock || (flags & MSG_DONTWAIT))
                return (ssize_t)sent;
        } else if (fs->nonblock || (flags & MSG_DONTWAIT)) {
            return sent > 0 ? (ssize_t)sent : fail_errno(EAGAIN);
        }
        switch (
            ah__fd_block(fs, call, writable_now, fs, ah__fd_deadline(fs, fs->sndtimeo_ms), site)) {
        case -1: /* EINTR, or the part written */
            return sent > 0 ? (ssize_t)sent : -1;
        case 0:
            return sent > 0 ? (ssize_t)sent : fail_errno(EAGAIN); /* SO_SNDTIMEO passed */
        }
    }
}

AH__LIBC(write, 10, AH__LIBC_FD);
ssize_t write(int fd, const void *buf, size_t n)
{
    AH__REAL(write);
    ah__fsock *fs = ah__fd_get(fd);
    struct iovec v;

    if (fs == NULL)
        return real_write(fd, buf, n);
    v.iov_base = (void *)buf;
    v.iov_len = n;
    if (fs->ops != NULL)
        return ops_send(fs, &v, 1, 0, NULL, 0, "write", SITE("write"));
    return sock_send(fs, &v, 1, 0, "write", SITE("write"));
}

AH__LIBC(send, 9, AH__LIBC_FD);
ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    AH__REAL(send);
    ah__fsock *fs = ah__fd_get(fd);
    struct iovec v;

    if (fs == NULL)
        return real_send(fd, buf, n, flags);
    v.iov_base = (void *)buf;
    v.iov_len = n;
    if (fs->ops != NULL)
        return ops_send(fs, &v, 1, flags, NULL, 0, "send", SITE("send"));
    return sock_send(fs, &v, 1, flags, "send", SITE("send"));
}

AH__LIBC(sendto, 11, AH__LIBC_FD);
ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
               socklen_t alen)
{
    AH__REAL(sendto);
    ah__fsock *fs = ah__fd_get(fd);
    struct iovec v;

    if (fs == NULL)
        return real_sendto(fd, buf, n, flags, addr, alen);
    if (fs->ops != NULL) {
        v.iov_base = (void *)buf;
        v.iov_len = n;
        return ops_send(fs, &v, 1, flags, addr, alen, "sendto", SITE("sendto"));
    }
    if (addr != NULL && fs->state == AH__FS_CONNECTED)
        return fail_errno(EISCONN);
    v.iov_base = (void *)buf;
    v.iov_len = n;
    return sock_send(fs, &v, 1, flags, "sendto", SITE("sendto"));
}

AH__LIBC(writev, 11, AH__LIBC_FD);
ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    AH__REAL(writev);
    ah__fsock *fs = ah__fd_get(fd);

    if (fs == NULL)
        return real_writev(fd, iov, iovcnt);
    if (fs->ops != NULL)
        return ops_send(fs, iov, iovcnt, 0, NULL, 0, "writev", SITE("writev"));
    return sock_send(fs, iov, iovcnt, 0, "writev", SITE("writev"));
}

/* __scm_send and scm_fp_copy: each fake descriptor passed in `msg`'s SCM_RIGHTS becomes a number
 * of the same open object that the program does not know (into `held`, AH__FD_MAX_RIGHTS at
 * most). Returns how many, or -1 with errno (EBADF, EINVAL). Only fake descriptors can travel:
 * the receiver's end is fake too; anything else fails the test naming `fd` and the call. */
int ah__fd_rights_hold(ah__fsock *fs, int fd, const struct msghdr *msg, ah__site site, int *held)
{
    AH__REAL(fcntl);
    struct cmsghdr *cm;
    int n = 0, k, cnt, *src, pfd;
    ah__fsock *pf;
    char where[160], what[256];

    for (cm = CMSG_FIRSTHDR((struct msghdr *)msg); cm != NULL;
         cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
        if (cm->cmsg_len < CMSG_LEN(0) || cm->cmsg_level != SOL_SOCKET ||
            cm->cmsg_type != SCM_RIGHTS)
            ah__fail(fs->sim,
                     "sendmsg(%d) in %s: ancillary data other than SCM_RIGHTS (level %d, type "
                     "%d) is not simulated",
                     fd, ah__site_str(&site, where, sizeof(where)), cm->cmsg_level, cm->cmsg_type);
        cnt = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        src = (int *)(void *)CMSG_DATA(cm);
        for (k = 0; k < cnt; k++) {
            memcpy(&pfd, src + k, sizeof(pfd));
            pf = ah__fd_get(pfd);
            if (n == AH__FD_MAX_RIGHTS ||
                (pf == NULL && (pfd < 0 || real_fcntl(pfd, F_GETFD) < 0))) {
                ah__fd_rights_drop(held, n);
                return fail_errno(n == AH__FD_MAX_RIGHTS ? EINVAL : EBADF);
            }
            if (pf == NULL)
                ah__fail(fs->sim,
                         "sendmsg(%d) in %s: passing real descriptor %d (SCM_RIGHTS) over %s is "
                         "not simulated: only descriptors the sim made (sockets, socketpairs, "
                         "pipes, eventfds) can travel over a fake socket",
                         fd, ah__site_str(&site, where, sizeof(where)), pfd,
                         ah__fd_str(fs, what, sizeof(what)));
            ah__fd_fork_check(pf, "sendmsg");
            if ((held[n] = ah__fd_dup_from(pf, pfd, 0, 1, "sendmsg", site)) < 0) {
                ah__fd_rights_drop(held, n);
                return -1;
            }
            n++;
        }
    }
    return n;
}

void ah__fd_rights_drop(const int *fds, int n)
{
    int i;

    for (i = 0; i < n; i++)
        close(fds[i]);
}

/* unix_stream_sendmsg with SCM_RIGHTS: the passed descriptors ride with the bytes sent; the
 * reader's recvmsg (or an IPC uv_pipe_t) gets them with the first of them. */
static ssize_t send_rights(ah__fsock *fs, int fd, const struct msghdr *msg, int flags,
                           ah__site site)
{
    int held[AH__FD_MAX_RIGHTS], n;
    uint64_t at;
    ssize_t r;

    if ((n = ah__fd_rights_hold(fs, fd, msg, site, held)) < 0)
        return -1;
    at = fs->conn != NULL ? out_flow(fs)->wr : 0;
    r = sock_send(fs, msg->msg_iov, (int)msg->msg_iovlen, flags, "sendmsg", site);
    if (r > 0 && n > 0 && fs->conn != NULL) {
        ah__flow_rights_add(out_flow(fs), at, at + (uint64_t)r, held, n);
        return r;
    }
    ah__fd_rights_drop(held, n); /* nothing went: the passed descriptors do not either */
    return r;
}

AH__LIBC(sendmsg, 12, AH__LIBC_FD);
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    AH__REAL(sendmsg);
    ah__fsock *fs = ah__fd_get(fd);

    if (fs == NULL)
        return real_sendmsg(fd, msg, flags);
    if (fs->ops != NULL && msg->msg_controllen == 0)
        return fs->ops->send(fs, msg, flags, "sendmsg", SITE("sendmsg"));
    if (msg->msg_controllen != 0) {
        if (fs->ops != NULL && fs->domain == AF_UNIX)
            return fs->ops->send(fs, msg, flags, "sendmsg", SITE("sendmsg")); /* unixdgram.c */
        if (fs->ops != NULL || fs->domain != AF_UNIX || fs->kind != AH__FK_SOCK)
            ah__fail(fs->sim,
                     "sendmsg(%d) with ancillary data is simulated on a fake AF_UNIX stream "
                     "socket only, not on %s",
                     fd, ah__fd_str(fs, (char[256]){0}, 256));
        return send_rights(fs, fd, msg, flags, SITE("sendmsg"));
    }
    return sock_send(fs, msg->msg_iov, (int)msg->msg_iovlen, flags, "sendmsg", SITE("sendmsg"));
}

/* ---- shutdown, names, options, fcntl, ioctl ---- */

/* shutdown(2) of a uv stream's socket behind libuv's back (libuv's
 * tcp_close_reset_accepted_after_socket_shutdown): the FIN goes out on the stream's connection;
 * the stream itself is not told, as libuv is not. */
static int stream_shutdown(ah__fsock *fs, int how)
{
    ah__sock *s = fs->stream;
    ah__conn *c = s->conn;

    if (how != SHUT_WR && how != SHUT_RDWR)
        return fail_errno(EINVAL);
    if (c == NULL)
        return fail_errno(ENOTCONN);
    if (!c->flow[s->side].fin_sent && !c->flow[s->side].rst_sent && !c->end[s->side].reset)
        ah__flow_send_fin(c, s->side);
    return 0;
}

AH__LIBC(shutdown, 13, AH__LIBC_FD);
int shutdown(int fd, int how)
{
    AH__REAL(shutdown);
    ah__fsock *fs = ah__fd_get(fd);
    int e;

    if (fs == NULL)
        return real_shutdown(fd, how);
    if (fs->kind == AH__FK_STREAM && fs->stream != NULL && how != SHUT_RD)
        return stream_shutdown(fs, how);
    if (fs->kind != AH__FK_SOCK)
        stream_owned(fs, "shutdown", SITE("shutdown"));
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return fail_errno(EINVAL);
    if (fs->ops != NULL)
        return (e = fs->ops->shutdown(fs, how)) != 0 ? fail_errno(e) : 0;
    if (fs->state != AH__FS_CONNECTED)
        return fail_errno(ENOTCONN);
    if (how != SHUT_WR)
        fs->shut_rd = 1;
    if (how != SHUT_RD)
        ah__flow_send_fin(fs->conn, fs->side);
    ah__fd_changed(fs);
    return 0;
}

AH__LIBC(getsockname, 16, AH__LIBC_FD);
int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    AH__REAL(getsockname);
    ah__fsock *fs = ah__fd_get(fd);
    ah__addr none;
    int e;

    if (fs == NULL)
        return real_getsockname(fd, addr, len);
    if (len == NULL)
        return fail_errno(EFAULT);
    if (fs->kind == AH__FK_STREAM) {
        ah__fd_addr_out(fs, &fs->stream->local, addr, len);
        return 0;
    }
    if (fs->ops != NULL) {
        if ((e = fs->ops->name(fs, 0, &none)) != 0)
            return fail_errno(e);
        ah__fd_addr_out(fs, &none, addr, len);
        return 0;
    }
    memset(&none, 0, sizeof(none));
    ah__fd_addr_out(fs, fs->bound || fs->state != AH__FS_NEW ? &fs->local : &none, addr, len);
    return 0;
}

AH__LIBC(getpeername, 16, AH__LIBC_FD);
int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    AH__REAL(getpeername);
    ah__fsock *fs = ah__fd_get(fd);
    ah__addr peer;
    int e;

    if (fs == NULL)
        return real_getpeername(fd, addr, len);
    if (len == NULL)
        return fail_errno(EFAULT);
    if (fs->kind == AH__FK_STREAM) {
        if (fs->stream->conn == NULL)
            return fail_errno(ENOTCONN);
        ah__fd_addr_out(fs, &fs->stream->remote, addr, len);
        return 0;
    }
    if (fs->ops != NULL) {
        if ((e = fs->ops->name(fs, 1, &peer)) != 0)
            return fail_errno(e);
        ah__fd_addr_out(fs, &peer, addr, len);
        return 0;
    }
    if (fs->state != AH__FS_CONNECTED)
        return fail_errno(ENOTCONN);
    ah__fd_addr_out(fs, &fs->remote, addr, len);
    return 0;
}

static int timeo_out(void *val, socklen_t *len, int ms)
{
    struct timeval tv;

    if (val == NULL || len == NULL || *len < (socklen_t)sizeof(tv))
        return fail_errno(EINVAL);
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    memcpy(val, &tv, sizeof(tv));
    *len = sizeof(tv);
    return 0;
}

int ah__fd_int_out(void *val, socklen_t *len, int v)
{
    if (val == NULL || len == NULL || *len < (socklen_t)sizeof(int))
        return fail_errno(EINVAL);
    memcpy(val, &v, sizeof(int));
    *len = sizeof(int);
    return 0;
}

AH__LIBC(getsockopt, 15, AH__LIBC_FD);
int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    AH__REAL(getsockopt);
    ah__fsock *fs = ah__fd_get(fd);
    ah__sock *s;
    int v;

    if (fs == NULL)
        return real_getsockopt(fd, level, name, val, len);
    s = fs->kind == AH__FK_STREAM ? fs->stream : NULL;
    if (fs->ops != NULL && fs->ops->getsockopt(fs, level, name, val, len, &v))
        return v;
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_RCVTIMEO:
        case SO_SNDTIMEO:
            return timeo_out(val, len, name == SO_RCVTIMEO ? fs->rcvtimeo_ms : fs->sndtimeo_ms);
        case SO_ERROR:
            if (s == NULL) {
                sync_reset(fs);
                v = fs->so_error;
                fs->so_error = 0;
            } else {
                v = 0;
            }
            return ah__fd_int_out(val, len, v);
        case SO_TYPE:
            return ah__fd_int_out(val, len, fs->type);
        case SO_DOMAIN:
            return ah__fd_int_out(val, len, fs->domain);
        case SO_ACCEPTCONN:
            return ah__fd_int_out(val, len, fs->state == AH__FS_LISTENING);
        case SO_KEEPALIVE:
            return ah__fd_int_out(val, len, s != NULL ? s->keepalive : fs->keepalive);
        case SO_REUSEADDR:
            return ah__fd_int_out(val, len, fs->reuseaddr);
        case SO_SNDBUF:
            return ah__fd_int_out(val, len, fs->sndbuf > 0 ? (int)send_window(fs) : 16384);
        case SO_RCVBUF:
            return ah__fd_int_out(val, len, fs->rcvbuf > 0 ? fs->rcvbuf * 2 : 131072);
        }
    } else if (level == IPPROTO_TCP) {
        switch (name) {
        case TCP_NODELAY:
            return ah__fd_int_out(val, len, s != NULL ? s->nodelay : fs->nodelay);
        case TCP_KEEPIDLE:
            return ah__fd_int_out(val, len,
                                  s != NULL ? (int)s->keepalive_delay
                                            : (fs->keepidle ? fs->keepidle : 7200));
        }
    }
    return fail_errno(ENOPROTOOPT);
}

AH__LIBC(setsockopt, 15, AH__LIBC_FD);
int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    AH__REAL(setsockopt);
    ah__fsock *fs = ah__fd_get(fd);
    ah__sock *s;
    int v = 0;

    if (fs == NULL)
        return real_setsockopt(fd, level, name, val, len);
    if (val == NULL)
        return fail_errno(EFAULT);
    if (len >= (socklen_t)sizeof(int))
        memcpy(&v, val, sizeof(int));
    s = fs->kind == AH__FK_STREAM ? fs->stream : NULL;
    if (fs->ops != NULL && fs->ops->setsockopt(fs, level, name, val, len, &v))
        return v;
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_RCVTIMEO:
        case SO_SNDTIMEO: {
            struct timeval tv;
            if (len < (socklen_t)sizeof(tv))
                return fail_errno(EINVAL);
            memcpy(&tv, val, sizeof(tv));
            if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
                return fail_errno(EDOM);
            v = tv.tv_sec < 0 ? 0
                : tv.tv_sec > INT32_MAX / 1000 - 1
                    ? INT32_MAX
                    : (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
            if (name == SO_RCVTIMEO)
                fs->rcvtimeo_ms = v;
            else
                fs->sndtimeo_ms = v;
            return 0;
        }
        case SO_KEEPALIVE:
            fs->keepalive = v != 0;
            if (s != NULL)
                s->keepalive = v != 0;
            return 0;
        case SO_REUSEADDR:
            fs->reuseaddr = v != 0;
            return 0;
        case SO_SNDBUF:
            fs->sndbuf = v;
            ah__fd_changed(fs);
            return 0;
        case SO_RCVBUF:
            fs->rcvbuf = v;
            return 0;
        }
    } else if (level == IPPROTO_TCP) {
        switch (name) {
        case TCP_NODELAY:
            fs->nodelay = v != 0;
            if (s != NULL)
                s->nodelay = v != 0;
            return 0;
        case TCP_KEEPIDLE:
            fs->keepidle = v;
            if (s != NULL)
                s->keepalive_delay = (unsigned)v;
            return 0;
        }
    }
    return 0; /* other options are accepted and have no effect in the sim */
}

static int fcntl_fake(ah__fsock *fs, int fd, int cmd, void *arg)
{
    long v = (long)(intptr_t)arg;
    int r;

    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
        return ah__fd_dupfd(fs, fd, v, cmd == F_DUPFD_CLOEXEC);
    if (fs->ops != NULL && fs->ops->fcntl != NULL && fs->ops->fcntl(fs, cmd, v, &r))
        return r;
    switch (cmd) {
    case F_GETFL:
        return fs->accmode | (fs->nonblock ? O_NONBLOCK : 0);
    case F_SETFL:
        fs->nonblock = (v & O_NONBLOCK) != 0;
        return 0;
    case F_GETFD: /* the number's own (fd/dup.c) */
        return ah__fd_number_cloexec(fs, fd, -1) ? FD_CLOEXEC : 0;
    case F_SETFD:
        ah__fd_number_cloexec(fs, fd, (v & FD_CLOEXEC) != 0);
        return 0;
    }
    ah__fail(fs->sim, "fcntl(%d, %d) on a fake socket descriptor is not simulated", fs->fd, cmd);
}

AH__LIBC(fcntl, 10, AH__LIBC_FD);
int fcntl(int fd, int cmd, ...)
{
    AH__REAL(fcntl);
    ah__fsock *fs = ah__fd_get(fd);
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fs == NULL)
        return real_fcntl(fd, cmd, arg);
    return fcntl_fake(fs, fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...);
AH__LIBC(fcntl64, 12, AH__LIBC_FD);
int fcntl64(int fd, int cmd, ...)
{
    AH__REAL(fcntl64);
    ah__fsock *fs = ah__fd_get(fd);
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fs == NULL)
        return real_fcntl64(fd, cmd, arg);
    return fcntl_fake(fs, fd, cmd, arg);
}

AH__LIBC(ioctl, 10, AH__LIBC_FD);
int ioctl(int fd, unsigned long req, ...)
{
    AH__REAL(ioctl);
    ah__fsock *fs = ah__fd_get(fd);
    va_list ap;
    void *arg;
    ah__flow *f;
    int r;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fs == NULL)
        return real_ioctl(fd, req, arg);
    if (fs->tty != NULL && arg != NULL && ah__fd_tty_ioctl_hook(fs, req, arg, &r))
        return r;
    if (req == FIONBIO) {
        if (arg == NULL)
            return fail_errno(EFAULT);
        fs->nonblock = *(int *)arg != 0;
        return 0;
    }
    if (req == FIONREAD) {
        if (arg == NULL)
            return fail_errno(EFAULT);
        if (fs->state == AH__FS_LISTENING)
            return fail_errno(EINVAL);
        if (fs->ops != NULL) {
            *(int *)arg = fs->ops->nread(fs);
            return 0;
        }
        f = in_flow(fs);
        *(int *)arg = f != NULL ? (int)ah__flow_readable(f, 0) : 0;
        return 0;
    }
    return fail_errno(ENOTTY);
}
