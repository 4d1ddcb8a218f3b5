/* Raw UDP sockets: socket(AF_INET or AF_INET6, SOCK_DGRAM) made by the code under test or a
 * library it links (c-ares, a statsd client, a DNS or QUIC library) is an endpoint of the same
 * datagram network as uv_udp_t (mocks/dgram.c), so the two reach each other with the same
 * latency, loss, duplication, reordering and MTU faults.
 *
 * Linux's UDP semantics are the contract (udp_recvmsg, udp_sendmsg, udp_poll): a socket is bound
 * to the wildcard at an ephemeral port by its first send or connect; a datagram is read whole or
 * cut at the buffer (MSG_TRUNC in msg_flags, the full length returned with MSG_TRUNC in flags);
 * an empty queue says EAGAIN, or blocks (SO_RCVTIMEO honoured); an ICMP port unreachable for a
 * connected socket is ECONNREFUSED on its next call; FIONREAD is the size of the next datagram;
 * it is always writable. The datagrams queued to a socket count against its receive buffer and
 * those beyond it are dropped, as the kernel drops them. */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include "../mocks/internal_dgram.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_dgram = 0;

typedef struct fdgram {
    ah__dgram_ep ep; /* first: the network's hooks get the endpoint */
    ah__fsock *fs;
    ah__dgram_rxq rxq;
    int shut_rd;
    int ttl, mcast_ttl;
} fdgram;

static fdgram *dg_of(ah__fsock *fs) { return fs->priv; }

/* ---- receiving ---- */

static size_t rcvbuf(const ah__fsock *fs)
{
    return fs->rcvbuf > 0 ? (size_t)fs->rcvbuf * 2 : AH__DGRAM_RCVBUF;
}

static void on_datagram(ah__dgram_ep *ep, const ah__addr *from, const void *data, size_t n)
{
    fdgram *d = (fdgram *)ep;

    if (!d->shut_rd)
        ah__dgram_rxq_push(&d->rxq, ep, rcvbuf(d->fs), from, data, n);
}

static void on_ready(ah__dgram_ep *ep) { ah__fd_changed(((fdgram *)ep)->fs); }

static int readable(void *ctx)
{
    fdgram *d = dg_of(ctx);
    return !ah__dgram_rxq_empty(&d->rxq) || d->ep.pending_error != 0 || d->shut_rd;
}

static ssize_t dg_recv(ah__fsock *fs, struct msghdr *msg, int flags, const char *call,
                       ah__site site)
{
    fdgram *d = dg_of(fs);
    size_t len = 0, done = 0, piece, i;
    ah__dgram_rx *m;
    int e;

    if (flags & MSG_OOB)
        return ah__fd_fail_errno(EOPNOTSUPP);
    msg->msg_flags = 0;
    msg->msg_controllen = 0;
    for (i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    while (ah__dgram_rxq_empty(&d->rxq)) {
        if (d->ep.pending_error != 0) {
            e = -d->ep.pending_error;
            d->ep.pending_error = 0;
            return ah__fd_fail_errno(e);
        }
        if (d->shut_rd)
            return 0;
        if (fs->nonblock || (flags & MSG_DONTWAIT))
            return ah__fd_fail_errno(EAGAIN);
        switch (ah__fd_block(fs, call, readable, fs, ah__fd_deadline(fs, fs->rcvtimeo_ms), site)) {
        case -1:
            return -1; /* EINTR */
        case 0:
            return ah__fd_fail_errno(EAGAIN); /* SO_RCVTIMEO passed */
        }
    }
    m = ah__dgram_rxq_head(&d->rxq);
    for (i = 0; i < msg->msg_iovlen && done < m->n; i++) {
        piece = msg->msg_iov[i].iov_len < m->n - done ? msg->msg_iov[i].iov_len : m->n - done;
        memcpy(msg->msg_iov[i].iov_base, m->data + done, piece);
        done += piece;
    }
    if (msg->msg_name != NULL)
        ah__fd_addr_out(fs, &m->from, msg->msg_name, &msg->msg_namelen);
    else
        msg->msg_namelen = 0;
    if (m->n > len)
        msg->msg_flags |= MSG_TRUNC;
    len = (flags & MSG_TRUNC) ? m->n : done;
    if (!(flags & MSG_PEEK)) {
        ah__free(ah__dgram_rxq_take(&d->rxq));
        ah__fd_changed(fs);
    }
    return (ssize_t)len;
}

static int dg_nread(ah__fsock *fs)
{
    fdgram *d = dg_of(fs);
    return ah__dgram_rxq_empty(&d->rxq) ? 0 : (int)ah__dgram_rxq_head(&d->rxq)->n;
}

static short dg_revents(ah__fsock *fs)
{
    fdgram *d = dg_of(fs);
    short m = POLLOUT | POLLWRNORM;

    if (!ah__dgram_rxq_empty(&d->rxq) || d->shut_rd)
        m |= POLLIN | POLLRDNORM;
    if (d->ep.pending_error != 0)
        m |= POLLERR;
    return m;
}

/* Arrivals are delivered on the loop that watches the socket, and keep it alive only while a
 * blocking call waits for them (a uv_poll watcher keeps its loop alive itself). */
static void dg_rearm(ah__fsock *fs)
{
    fdgram *d = dg_of(fs);
    ah__event *ev = &d->ep.arrive_ev;
    unsigned flags = ah__fd_state(fs->sim)->blocking ? AH__EV_REF : 0;
    uv_loop_t *loop = ah__fd_loop(fs);
    uint64_t due;

    if (ev->batch_index != 0) {
        d->ep.loop = loop;
        return; /* it fires in this poll */
    }
    if (!ah__event_scheduled(ev)) {
        ev->flags = flags;
        d->ep.loop = loop;
        return;
    }
    if (ev->flags == flags && d->ep.loop == loop)
        return;
    due = ev->node.due;
    ah__event_cancel(ev);
    ev->flags = flags;
    d->ep.loop = loop;
    ah__event_schedule(loop, ev, due);
}

/* ---- binding, connecting, sending ---- */

static int uv_to_errno(int r) { return r < 0 ? -r : r; }

static void set_label(fdgram *d)
{
    char l[sizeof(d->ep.label) + 32];

    snprintf(l, sizeof(l), "udp fd %d %s", d->fs->fd, d->ep.addr.str);
    memcpy(d->ep.label, l, sizeof(d->ep.label) - 1);
    d->ep.label[sizeof(d->ep.label) - 1] = '\0';
}

static int dg_bind(ah__fsock *fs, const ah__addr *a)
{
    fdgram *d = dg_of(fs);
    int r;

    if (d->ep.bound)
        return EINVAL;
    d->ep.reuse = fs->reuseaddr;
    if ((r = ah__dgram_bind(&d->ep, a)) != 0)
        return uv_to_errno(r);
    set_label(d);
    return 0;
}

/* inet_autobind: the wildcard of the socket's family at an ephemeral port. */
static int autobind(ah__fsock *fs)
{
    struct sockaddr_storage ss;
    ah__addr a;

    if (dg_of(fs)->ep.bound)
        return 0;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)fs->domain;
    ah__addr_from_sockaddr((const struct sockaddr *)&ss, &a);
    return dg_bind(fs, &a) == 0 ? 0 : EAGAIN;
}

static int dg_connect(ah__fsock *fs, const ah__addr *a)
{
    fdgram *d = dg_of(fs);
    int e;

    if (a == NULL) {
        ah__dgram_connect(&d->ep, NULL);
        fs->state = AH__FS_NEW;
        return 0;
    }
    if ((e = autobind(fs)) != 0)
        return e;
    if ((e = uv_to_errno(ah__dgram_connect(&d->ep, a))) != 0)
        return e;
    fs->state = AH__FS_CONNECTED; /* what uv_udp_open reads */
    return 0;
}

static ssize_t dg_send(ah__fsock *fs, const struct msghdr *msg, int flags, const char *call,
                       ah__site site)
{
    fdgram *d = dg_of(fs);
    uv_buf_t one, *bufs = &one;
    ah__addr to;
    ssize_t r;
    size_t i;
    int e;

    (void)call;
    d->ep.site = site; /* the datagram's trace names its sendto */
    if (flags & MSG_OOB)
        return ah__fd_fail_errno(EOPNOTSUPP);
    if (msg->msg_name != NULL) {
        if ((e = ah__fd_addr_in(fs, msg->msg_name, msg->msg_namelen, &to)) != 0)
            return ah__fd_fail_errno(e);
    } else if (!d->ep.connected) {
        return ah__fd_fail_errno(EDESTADDRREQ);
    }
    if (d->ep.pending_error != 0 && d->ep.connected) {
        e = -d->ep.pending_error;
        d->ep.pending_error = 0;
        return ah__fd_fail_errno(e);
    }
    if ((e = autobind(fs)) != 0)
        return ah__fd_fail_errno(e);
    if (msg->msg_iovlen > 1)
        bufs = ah__malloc(msg->msg_iovlen * sizeof(*bufs));
    for (i = 0; i < msg->msg_iovlen; i++)
        bufs[i] = uv_buf_init(msg->msg_iov[i].iov_base, (unsigned)msg->msg_iov[i].iov_len);
    if (msg->msg_iovlen == 0)
        one = uv_buf_init(NULL, 0);
    r = ah__dgram_send(&d->ep, msg->msg_name != NULL ? &to : NULL, bufs,
                       msg->msg_iovlen ? (unsigned)msg->msg_iovlen : 1);
    if (bufs != &one)
        ah__free(bufs);
    return r < 0 ? ah__fd_fail_errno((int)-r) : r;
}

static int dg_shutdown(ah__fsock *fs, int how)
{
    fdgram *d = dg_of(fs);

    if (!d->ep.connected)
        return ENOTCONN;
    if (how != SHUT_WR)
        d->shut_rd = 1;
    ah__fd_changed(fs);
    return 0;
}

static int dg_name(ah__fsock *fs, int peer, ah__addr *out)
{
    fdgram *d = dg_of(fs);

    if (peer) {
        if (!d->ep.connected)
            return ENOTCONN;
        *out = d->ep.peer;
        return 0;
    }
    if (!d->ep.bound) {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    ah__dgram_local_name(&d->ep, out);
    return 0;
}

/* ---- options ---- */

static int int_in(const void *val, socklen_t len, int *v)
{
    unsigned char c;

    if (len >= (socklen_t)sizeof(int)) {
        memcpy(v, val, sizeof(int));
        return 0;
    }
    if (len >= 1) { /* the IP options take a byte too */
        memcpy(&c, val, 1);
        *v = c;
        return 0;
    }
    return EINVAL;
}

/* The ops' convention: 1 (answered), the call's return value in *r. */
static int int_out(void *val, socklen_t *len, int v, int *r)
{
    *r = ah__fd_int_out(val, len, v);
    return 1;
}

static int ret(int e, int *r)
{
    *r = e != 0 ? ah__fd_fail_errno(e) : 0;
    return 1;
}

static int membership(ah__fsock *fs, int level, int name, const void *val, socklen_t len)
{
    fdgram *d = dg_of(fs);
    int join = name == IP_ADD_MEMBERSHIP || name == IPV6_JOIN_GROUP;
    struct sockaddr_storage ss;
    char iface[64] = "";
    ah__addr group;
    int r;

    memset(&ss, 0, sizeof(ss));
    if (level == IPPROTO_IP) {
        struct ip_mreqn mr;
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        if (len < (socklen_t)sizeof(struct ip_mreq))
            return EINVAL;
        memset(&mr, 0, sizeof(mr));
        memcpy(&mr, val, len < (socklen_t)sizeof(mr) ? len : sizeof(mr));
        in->sin_family = AF_INET;
        in->sin_addr = mr.imr_multiaddr;
        if (mr.imr_address.s_addr != htonl(INADDR_ANY))
            inet_ntop(AF_INET, &mr.imr_address, iface, sizeof(iface));
    } else {
        struct ipv6_mreq mr;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        if (len < (socklen_t)sizeof(mr))
            return EINVAL;
        memcpy(&mr, val, sizeof(mr));
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = mr.ipv6mr_multiaddr;
        if (mr.ipv6mr_interface != 0)
            snprintf(iface, sizeof(iface), "%u", mr.ipv6mr_interface);
    }
    ah__addr_from_sockaddr((const struct sockaddr *)&ss, &group);
    r = ah__dgram_membership(&d->ep, &group, NULL, iface[0] ? iface : NULL, join);
    return uv_to_errno(r);
}

static int dg_setsockopt(ah__fsock *fs, int level, int name, const void *val, socklen_t len, int *r)
{
    fdgram *d = dg_of(fs);
    int v = 0;

    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_BROADCAST:
            if (int_in(val, len, &v) != 0)
                return ret(EINVAL, r);
            d->ep.broadcast = v != 0;
            return ret(0, r);
        case SO_REUSEADDR:
        case SO_REUSEPORT:
            if (int_in(val, len, &v) != 0)
                return ret(EINVAL, r);
            fs->reuseaddr = v != 0;
            d->ep.reuse = v != 0;
            return ret(0, r);
        }
        return 0;
    }
    if (level == IPPROTO_IP || level == IPPROTO_IPV6) {
        switch (name) {
        case IP_ADD_MEMBERSHIP:
        case IP_DROP_MEMBERSHIP:
            if (level != IPPROTO_IP)
                break;
            return ret(membership(fs, level, name, val, len), r);
        case IPV6_JOIN_GROUP:
        case IPV6_LEAVE_GROUP:
            if (level != IPPROTO_IPV6)
                break;
            return ret(membership(fs, level, name, val, len), r);
        }
        if (int_in(val, len, &v) != 0)
            return ret(EINVAL, r);
        if ((level == IPPROTO_IP && name == IP_MULTICAST_LOOP) ||
            (level == IPPROTO_IPV6 && name == IPV6_MULTICAST_LOOP)) {
            d->ep.mcast_loop = v != 0;
            return ret(0, r);
        }
        if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
            if (d->ep.bound)
                return ret(EINVAL, r);
            d->ep.v6only = v != 0;
            return ret(0, r);
        }
        if ((level == IPPROTO_IP && name == IP_TTL) ||
            (level == IPPROTO_IPV6 && name == IPV6_UNICAST_HOPS)) {
            if (v < -1 || v > 255 || v == 0)
                return ret(EINVAL, r);
            d->ttl = v;
            return ret(0, r);
        }
        if ((level == IPPROTO_IP && name == IP_MULTICAST_TTL) ||
            (level == IPPROTO_IPV6 && name == IPV6_MULTICAST_HOPS)) {
            if (v < -1 || v > 255)
                return ret(EINVAL, r);
            d->mcast_ttl = v;
            return ret(0, r);
        }
        return ret(0, r); /* recorded nowhere: no effect inside the sim */
    }
    return 0;
}

static int dg_getsockopt(ah__fsock *fs, int level, int name, void *val, socklen_t *len, int *r)
{
    fdgram *d = dg_of(fs);
    int v;

    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_ERROR:
            v = -d->ep.pending_error;
            d->ep.pending_error = 0;
            return int_out(val, len, v, r);
        case SO_BROADCAST:
            return int_out(val, len, d->ep.broadcast, r);
        case SO_REUSEPORT:
            return int_out(val, len, d->ep.reuse, r);
        case SO_PROTOCOL:
            return int_out(val, len, IPPROTO_UDP, r);
        case SO_SNDBUF:
            return int_out(val, len, fs->sndbuf > 0 ? fs->sndbuf * 2 : 212992, r);
        case SO_RCVBUF:
            return int_out(val, len, (int)rcvbuf(fs), r);
        }
        return 0;
    }
    if (level == IPPROTO_IP) {
        switch (name) {
        case IP_TTL:
            return int_out(val, len, d->ttl > 0 ? d->ttl : 64, r);
        case IP_MULTICAST_TTL:
            return int_out(val, len, d->mcast_ttl >= 0 ? d->mcast_ttl : 1, r);
        case IP_MULTICAST_LOOP:
            return int_out(val, len, d->ep.mcast_loop, r);
        }
    }
    if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY)
        return int_out(val, len, d->ep.v6only, r);
    return 0;
}

/* ---- lifetime ---- */

static void dg_close(ah__fsock *fs)
{
    fdgram *d = dg_of(fs);

    ah__event_cancel(&d->ep.arrive_ev);
    ah__dgram_unbind(&d->ep);
}

static void dg_release(ah__fsock *fs)
{
    fdgram *d = dg_of(fs);

    if (d == NULL)
        return;
    /* At the sim's end the network may be gone before the descriptor table: forget, do not
     * unbind. close(2) has unbound already. */
    ah__dgram_ep_forget(&d->ep);
    ah__dgram_rxq_clear(&d->rxq);
    ah__free(d);
    fs->priv = NULL;
}

static void dg_adopt(ah__fsock *fs, void *to_ep)
{
    fdgram *d = dg_of(fs);
    ah__dgram_ep *to = to_ep;
    ah__dgram_rx *m;
    int any = 0;

    ah__dgram_ep_move(&d->ep, to);
    fs->local = to->addr;
    fs->bound = to->bound;
    if (to->connected) {
        fs->remote = to->peer;
        fs->state = AH__FS_CONNECTED;
    }
    /* What the kernel had queued for the socket is now the handle's to read. */
    while ((m = ah__dgram_rxq_take(&d->rxq)) != NULL) {
        to->recv(to, &m->from, m->data, m->n);
        ah__free(m);
        any = 1;
    }
    dg_release(fs);
    if (any && to->ready != NULL)
        to->ready(to);
}

static const ah__fsock_ops dgram_ops = {
    dg_bind,  dg_connect, dg_recv,  dg_send,  dg_shutdown, dg_name,  dg_getsockopt, dg_setsockopt,
    dg_nread, dg_revents, dg_rearm, dg_close, dg_release,  dg_adopt, NULL,
};

static int dgram_open(ah__fsock *fs)
{
    fdgram *d = ah__calloc(1, sizeof(*d));

    ah__dgram_ep_init(fs->sim, &d->ep, ah__fd_loop(fs));
    d->ep.recv = on_datagram;
    d->ep.ready = on_ready;
    d->ep.owner = NULL;
    d->fs = fs;
    d->mcast_ttl = -1;
    snprintf(d->ep.label, sizeof(d->ep.label), "udp fd %d", fs->fd);
    ah__dgram_rxq_init(&d->rxq);
    fs->priv = d;
    fs->ops = &dgram_ops;
    return 0;
}

__attribute__((constructor)) static void dgram_install(void) { ah__fd_dgram_open = dgram_open; }
