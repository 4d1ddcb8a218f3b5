/* uv_tcp_t on the fake network: init, bind, listen, connect, names, options, close_reset; as
 * libuv 1.44's src/unix/tcp.c and the checks of src/uv-common.c. */
#include "internal_net.h"

#include <arpa/inet.h>
#include <string.h>

static void any_addr(int family, int port, ah__addr *out)
{
    char s[32];
    snprintf(s, sizeof(s), family == AF_INET6 ? "[::]:%d" : "0.0.0.0:%d", port);
    ah__addr_parse(s, 1, out);
}

static int is_any(const ah__addr *a)
{
    return strcmp(a->host, "0.0.0.0") == 0 || strcmp(a->host, "::") == 0;
}

/* Whether a socket listening on `a` would clash with one already listening. */
static int port_conflict(ah__net *net, const ah__addr *a, const ah__sock *self)
{
    ah__list *q;
    char h[320];

    for (q = net->routes.next; q != &net->routes; q = q->next) {
        ah__route *r = ah__container_of(q, ah__route, link);
        if (r->addr.family == AF_UNIX || r->addr.port != a->port || !ah__route_listens(r) ||
            (self != NULL && r->listener == self))
            continue;
        if (self != NULL && self->shared != NULL && r->listener != NULL &&
            r->listener->shared == self->shared)
            ah__fail(net->sim,
                     "uv_listen on %s, whose socket (passed over an IPC pipe) %s listens on "
                     "already: two handles listening on one socket are not simulated",
                     ah__handle_str(self->stream->u.reserved[0], h, sizeof(h)),
                     r->listener->stream != NULL ? "another handle" : "a closed handle");
        if (strcmp(r->addr.host, a->host) == 0)
            return 1;
        if ((is_any(&r->addr) && (r->addr.family == a->family || r->addr.family == AF_INET6)) ||
            (is_any(a) && (r->addr.family == a->family || a->family == AF_INET6)))
            return 1;
    }
    return 0;
}

static int tcp_init(uv_loop_t *loop, uv_tcp_t *tcp, unsigned int flags, ah__site site)
{
    int domain = flags & 0xFF;
    ah__sock *s;

    ah__listen_hooks[UV_TCP] = ah__tcp_listen;
    if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNSPEC)
        return UV_EINVAL;
    if (flags & ~0xFFu)
        return UV_EINVAL;
    ah__stream_init(loop, (uv_stream_t *)tcp, UV_TCP, site);
    s = tcp->queued_fds;
    if (domain != AF_UNSPEC) {
        ah__sock_give_fd(s);
        any_addr(domain, 0, &s->local);
    }
    return 0;
}

int uv_tcp_init_ex(uv_loop_t *loop, uv_tcp_t *tcp, unsigned int flags)
{
    return tcp_init(loop, tcp, flags, AH__CALLER("uv_tcp_init_ex"));
}

int uv_tcp_init(uv_loop_t *loop, uv_tcp_t *tcp)
{
    return tcp_init(loop, tcp, AF_UNSPEC, AH__CALLER("uv_tcp_init"));
}

int uv_tcp_bind(uv_tcp_t *tcp, const struct sockaddr *addr, unsigned int flags)
{
    AH__ENTRY("uv_tcp_bind");
    ah__hrec *r = ah__handle_rec((uv_handle_t *)tcp, "uv_tcp_bind");
    ah__sock *s;
    ah__addr a;

    if (tcp->type != UV_TCP)
        return UV_EINVAL;
    if (ah__is_closing((uv_handle_t *)tcp))
        return UV_EINVAL;
    if (addr == NULL)
        ah__fail(ah__sim(), "uv_tcp_bind: called with a NULL address");
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
        return UV_EINVAL;
    if ((flags & UV_TCP_IPV6ONLY) && addr->sa_family != AF_INET6)
        return UV_EINVAL;
    s = ah__sock_of((uv_stream_t *)tcp, "uv_tcp_bind");
    /* An IPv6 address on an IPv4 socket: libuv's IPV6_V6ONLY setsockopt fails first (found by
     * netdiff net_bind_errors). */
    if (tcp->io_watcher.fd != -1 && s->local.family == AF_INET && addr->sa_family == AF_INET6 &&
        !s->bound && s->conn == NULL && tcp->connect_req == NULL)
        return UV_ENOPROTOOPT;
    /* bind(2) on a socket already bound, connected, or of the other family. */
    if (s->bound || s->conn != NULL || tcp->connect_req != NULL ||
        (tcp->io_watcher.fd != -1 && s->local.family != 0 && s->local.family != addr->sa_family))
        return UV_EINVAL;
    ah__addr_from_sockaddr(addr, &a);
    if (!ah__addr_local(s->net->sim, &a)) {
        ah__sock_give_fd(s); /* libuv made the socket before bind(2) failed */
        if (s->local.family == 0)
            any_addr(a.family, 0, &s->local);
        return UV_EADDRNOTAVAIL;
    }
    if (a.port == 0) {
        /* Port 0: the kernel picks an ephemeral port (re-parse from a copy, not in place). */
        struct sockaddr_storage ss = a.sa;
        if (addr->sa_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)ah__net_ephemeral_port(s->net));
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port =
                htons((uint16_t)ah__net_ephemeral_port(s->net));
        ah__addr_from_sockaddr((struct sockaddr *)&ss, &a);
    }
    ah__sock_give_fd(s);
    s->local = a;
    s->bound = 1;
    tcp->flags |= AH__SF_BOUND;
    if (flags & UV_TCP_IPV6ONLY)
        tcp->flags |= AH__SF_IPV6ONLY;
    /* libuv keeps bind's EADDRINUSE for uv_listen or uv_tcp_connect to return. */
    tcp->delayed_error = port_conflict(s->net, &a, s) ? UV_EADDRINUSE : 0;
    (void)r;
    return 0;
}

int ah__tcp_listen(ah__sock *s, int backlog, uv_connection_cb cb)
{
    uv_stream_t *st = s->stream;

    (void)backlog;
    if (st->delayed_error != 0)
        return st->delayed_error;
    if (s->conn != NULL || st->connect_req != NULL)
        return UV_EINVAL;
    if (st->flags & AH__SF_LISTENING) {
        st->connection_cb = cb;
        return 0;
    }
    if (!s->bound) {
        /* listen(2) on an unbound socket binds it to an ephemeral port of the wildcard. */
        any_addr(s->local.family == AF_INET6 ? AF_INET6 : AF_INET,
                 (int)ah__net_ephemeral_port(s->net), &s->local);
        s->bound = 1;
        ah__sock_give_fd(s);
    }
    if (port_conflict(s->net, &s->local, s))
        return UV_EADDRINUSE;
    st->flags |= AH__SF_BOUND;
    return ah__sock_listen(s, ah__route_get(s->net, &s->local), cb);
}

int uv_tcp_connect(uv_connect_t *req, uv_tcp_t *tcp, const struct sockaddr *addr, uv_connect_cb cb)
{
    ah__site site = AH__CALLER("uv_tcp_connect");
    ah__sock *s;

    ah__handle_rec((uv_handle_t *)tcp, "uv_tcp_connect");
    if (tcp->type != UV_TCP)
        return UV_EINVAL;
    if (addr == NULL || req == NULL)
        ah__fail(ah__sim(), "uv_tcp_connect: called with a NULL %s",
                 req == NULL ? "request" : "address");
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
        return UV_EINVAL;
    ah__handle_require_open((uv_handle_t *)tcp, "uv_tcp_connect");
    s = ah__sock_of((uv_stream_t *)tcp, "uv_tcp_connect");
    if (tcp->connect_req != NULL)
        return UV_EALREADY;
    if (tcp->delayed_error == 0) {
        if (s->conn != NULL || (tcp->flags & AH__SF_LISTENING))
            return UV_EISCONN;
        ah__sock_give_fd(s);
        tcp->flags |= AH__SF_READABLE | AH__SF_WRITABLE;
        ah__addr_from_sockaddr(addr, &s->remote);
        if (s->bound && !is_any(&s->local))
            ; /* connects from the address it was bound to */
        else
            ah__local_for(&s->remote,
                          s->bound ? (uint32_t)s->local.port : ah__net_ephemeral_port(s->net),
                          &s->local);
        s->bound = 1;
        ah__sock_set_label(s);
    }
    ah__stream_connect_begin(s, req, cb, site);
    if (tcp->delayed_error != 0)
        ah__sock_connect_pending(s, tcp->delayed_error);
    else
        ah__net_connect(s);
    return 0;
}

static int sock_name(const uv_tcp_t *tcp, const ah__addr *a, struct sockaddr *name, int *namelen,
                     const char *fn)
{
    socklen_t len;

    if (name == NULL || namelen == NULL)
        ah__fail(ah__sim(), "%s: called with a NULL name or length", fn);
    (void)tcp;
    len = a->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(name, &a->sa, (size_t)*namelen < len ? (size_t)*namelen : len);
    *namelen = (int)len;
    return 0;
}

int uv_tcp_getsockname(const uv_tcp_t *tcp, struct sockaddr *name, int *namelen)
{
    AH__ENTRY("uv_tcp_getsockname");
    ah__sock *s = ah__sock_of((const uv_stream_t *)tcp, "uv_tcp_getsockname");
    ah__addr any;

    if (tcp->delayed_error != 0)
        return tcp->delayed_error;
    if (ah__is_closing((const uv_handle_t *)tcp) || tcp->io_watcher.fd == -1)
        return UV_EBADF;
    if (s->local.family == 0) {
        any_addr(AF_INET, 0, &any);
        return sock_name(tcp, &any, name, namelen, "uv_tcp_getsockname");
    }
    return sock_name(tcp, &s->local, name, namelen, "uv_tcp_getsockname");
}

int uv_tcp_getpeername(const uv_tcp_t *tcp, struct sockaddr *name, int *namelen)
{
    AH__ENTRY("uv_tcp_getpeername");
    ah__sock *s = ah__sock_of((const uv_stream_t *)tcp, "uv_tcp_getpeername");

    if (tcp->delayed_error != 0)
        return tcp->delayed_error;
    if (ah__is_closing((const uv_handle_t *)tcp) || tcp->io_watcher.fd == -1)
        return UV_EBADF;
    if (s->real != NULL
            ? s->remote.family == 0
            : s->conn == NULL || tcp->connect_req != NULL || s->conn->end[s->side].reset)
        return UV_ENOTCONN;
    return sock_name(tcp, &s->remote, name, namelen, "uv_tcp_getpeername");
}

int uv_tcp_nodelay(uv_tcp_t *tcp, int enable)
{
    AH__ENTRY("uv_tcp_nodelay");
    ah__sock_of((uv_stream_t *)tcp, "uv_tcp_nodelay")->nodelay = enable != 0;
    return 0;
}

int uv_tcp_keepalive(uv_tcp_t *tcp, int enable, unsigned int delay)
{
    AH__ENTRY("uv_tcp_keepalive");
    ah__sock *s = ah__sock_of((uv_stream_t *)tcp, "uv_tcp_keepalive");

    s->keepalive = enable != 0;
    if (tcp->io_watcher.fd == -1) {
        /* No socket yet: libuv keeps only the flag, and the socket it makes later gets a 60 s
         * delay (uv__stream_open), whatever was asked. */
        s->keepalive_delay = enable ? 60 : AH__TCP_KEEPIDLE_DEFAULT;
        return 0;
    }
    /* SO_KEEPALIVE is set first; then a delay Linux refuses for TCP_KEEPIDLE (0, or above
     * 32767 s) is UV_EINVAL: 1.49's own check, Linux's setsockopt before. */
    if (enable && (delay < 1 || delay > 32767))
        return UV_EINVAL;
    if (enable)
        s->keepalive_delay = delay;
    return 0;
}

int uv_tcp_simultaneous_accepts(uv_tcp_t *tcp, int enable)
{
    AH__ENTRY("uv_tcp_simultaneous_accepts");
    ah__sock_of((uv_stream_t *)tcp, "uv_tcp_simultaneous_accepts")->single_accept = !enable;
    return 0;
}

int uv_tcp_close_reset(uv_tcp_t *tcp, uv_close_cb close_cb)
{
    ah__site site = AH__CALLER("uv_tcp_close_reset");
    ah__sock *s = ah__sock_of((uv_stream_t *)tcp, "uv_tcp_close_reset");
    ah__hrec *r = tcp->u.reserved[0];

    if (tcp->flags & AH__SF_SHUTTING)
        return UV_EINVAL;
    if (tcp->io_watcher.fd == -1)
        return UV_EBADF; /* setsockopt(SO_LINGER) on no socket */
    s->close_reset = 1;
    uv_close((uv_handle_t *)tcp, close_cb);
    r->close_site = site;
    return 0;
}
