/* uv_udp_t on the datagram network (dgram.c): init, bind, connect, send and try_send, receive
 * with and without recvmmsg, names, multicast, broadcast and TTL options; as libuv 1.44's
 * src/unix/udp.c and the checks of src/uv-common.c (docs/udp.md). */
#include "internal_dgram.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* The biggest datagram libuv asks alloc_cb for (UV__UDP_DGRAM_MAXSIZE) and the width of one
 * recvmmsg/sendmmsg call (UV__MMSG_MAXWIDTH). */
#define UDP_DGRAM_MAXSIZE (64 * 1024)
#define UDP_MMSG_MAXWIDTH 20

enum {
    UDP_READING = AH__HF_TYPE0 << 0,
    UDP_CONNECTED = AH__HF_TYPE0 << 1,
    UDP_IPV6 = AH__HF_TYPE0 << 2,
    UDP_RECVMMSG = AH__HF_TYPE0 << 3,
    UDP_PROCESSING = AH__HF_TYPE0 << 4,
    UDP_POLLOUT = AH__HF_TYPE0 << 5,
};

/* The sim's state of one uv_udp_t, kept in slot 0 of io_watcher.pending_queue (ah__qslot_get). */
typedef struct ah__udp {
    ah__dgram_ep ep;
    ah__list link; /* udps->all */
    uv_udp_t *h;
    int family;          /* of the socket; 0 while libuv has none (fd -1) */
    ah__dgram_rxq rxq;   /* the kernel's receive queue */
    ah__pending io_pend; /* uv__io_feed: completed sends */
    int pend_queued;
    ah__event rd_ev; /* still readable: the next poll reads again */
    ah__event wr_ev; /* POLLOUT: queued sends go out */
    int ttl, mcast_ttl;
    int adopted;        /* uv_udp_open took a fake descriptor, which closing the handle closes */
    int rcvbuf, sndbuf; /* SO_RCVBUF / SO_SNDBUF as set (uv_*_buffer_size); 0: the default */
    void *real;         /* a real descriptor adopted (fd/realudp.c), or NULL */
} ah__udp;

const ah__real_udp_ops *ah__real_udp;

typedef struct udp_state {
    ah__list all;
    uint32_t next_id;
} udp_state;

static const int udp_key;

static void udp_destroy(ah_sim *sim, void *state)
{
    udp_state *st = state;

    (void)sim;
    while (!ah__list_empty(&st->all)) {
        ah__udp *u = ah__container_of(st->all.next, ah__udp, link);
        ah__list_remove(&u->link);
        ah__dgram_rxq_clear(&u->rxq);
        ah__dgram_ep_forget(&u->ep);
        ah__free(u);
    }
    ah__free(st);
}

static void udp_close(uv_handle_t *h);
static void udp_finish_close(uv_handle_t *h);

static void udp_state_init(ah_sim *sim, void *state)
{
    udp_state *st = state;

    (void)sim;
    ah__list_init(&st->all);
}

static udp_state *state_get(ah_sim *sim)
{
    static const ah__ext udp_ext = {
        .key = &udp_key, .name = "udp", .destroy = udp_destroy, .init = udp_state_init};
    udp_state *st = ah__ext_get(sim, &udp_key);

    if (st != NULL)
        return st;
    st = ah__ext_get_or_add(sim, &udp_ext, sizeof(*st));
    /* the datagram network after the UDP state, as it always was (destroyed first) */
    ah__dgram_get(sim);
    ah__close_hooks[UV_UDP] = udp_close;
    ah__finish_close_hooks[UV_UDP] = udp_finish_close;
    return st;
}

static ah__udp *udp_of(const uv_udp_t *h, const char *fn)
{
    ah__udp *u;

    ah__handle_rec((const uv_handle_t *)h, fn);
    u = ah__qslot_get(&h->io_watcher.pending_queue, 0);
    if (h->type != UV_UDP || u == NULL)
        return NULL;
    return u;
}

static ah__udp *udp_open_of(const uv_udp_t *h, const char *fn)
{
    ah__udp *u = udp_of(h, fn);

    if (u == NULL)
        ah__fail(ah__sim(), "%s: the handle is not a uv_udp_t", fn);
    ah__handle_require_open((const uv_handle_t *)h, fn);
    return u;
}

static void set_label(ah__udp *u)
{
    ah__hrec *r = u->h->u.reserved[0];

    if (u->ep.bound) {
        size_t n = strlen(u->ep.addr.str);
        if (n > sizeof(r->label) - 5)
            n = sizeof(r->label) - 5;
        memcpy(r->label, "udp ", 4);
        memcpy(r->label + 4, u->ep.addr.str, n);
        r->label[4 + n] = '\0';
    }
}

/* ---- receiving ---- */

static void rx_push(ah__dgram_ep *ep, const ah__addr *from, const void *data, size_t n)
{
    ah__udp *u = (ah__udp *)ep;

    ah__dgram_rxq_push(&u->rxq, ep, u->rcvbuf > 0 ? (size_t)u->rcvbuf * 2 : AH__DGRAM_RCVBUF, from,
                       data, n);
}

static int readable(const ah__udp *u)
{
    return !ah__dgram_rxq_empty(&u->rxq) || u->ep.pending_error != 0;
}

static void read_fire(ah__event *ev);

/* Level-triggered: a reading socket with something queued is read in the next poll. */
static void rearm_read(ah__udp *u)
{
    if (u->h != NULL && (u->h->flags & UDP_READING) && readable(u)) {
        if (!ah__event_scheduled(&u->rd_ev) && u->rd_ev.batch_index == 0) {
            u->rd_ev.fire = read_fire;
            u->rd_ev.what = "udp readable";
            u->rd_ev.owner = u->h;
            ah__event_schedule(u->h->loop, &u->rd_ev, ah__sim()->clock.now_ns);
        }
    } else {
        ah__event_cancel(&u->rd_ev);
    }
}

static int still_reading(const ah__udp *u)
{
    const uv_udp_t *h = u->h;
    return h != NULL && !ah__is_closing((const uv_handle_t *)h) && h->recv_cb != NULL;
}

/* recvmmsg: fills up to 20 chunks of 64 KiB of `buf`. Returns how many datagrams it read, or -1
 * (EAGAIN or an error, reported to recv_cb). */
static ssize_t read_mmsg(ah__udp *u, uv_buf_t *buf)
{
    ah_sim *sim = u->ep.sim;
    uv_udp_t *h = u->h;
    ah__dgram_rx *got[UDP_MMSG_MAXWIDTH];
    struct sockaddr_storage from[UDP_MMSG_MAXWIDTH];
    size_t chunks = buf->len / UDP_DGRAM_MAXSIZE, k = 0, i;
    char b[320];

    if (chunks == 0)
        ah__fail(sim,
                 "%s was initialised with UV_UDP_RECVMMSG, but its alloc_cb gave a buffer of %zu "
                 "bytes: libuv 1.44 reads into 64 KiB chunks, calls recv_cb(0) and loops forever "
                 "with less; allocate at least 65536 bytes",
                 ah__handle_str(h->u.reserved[0], b, sizeof(b)), (size_t)buf->len);
    if (chunks > UDP_MMSG_MAXWIDTH)
        chunks = UDP_MMSG_MAXWIDTH;
    if (u->ep.pending_error != 0 && ah__dgram_rxq_empty(&u->rxq)) {
        int err = u->ep.pending_error;
        u->ep.pending_error = 0;
        AH__DISPATCH(sim, h, "recv_cb", h->recv_cb(h, err, buf, NULL, 0));
        return -1;
    }
    while (k < chunks && (got[k] = ah__dgram_rxq_take(&u->rxq)) != NULL)
        k++;
    if (k == 0) {
        AH__DISPATCH(sim, h, "recv_cb", h->recv_cb(h, 0, buf, NULL, 0));
        return -1;
    }
    for (i = 0; i < k; i++) {
        memcpy(buf->base + i * UDP_DGRAM_MAXSIZE, got[i]->data, got[i]->n);
        memcpy(&from[i], &got[i]->from.sa, sizeof(from[i]));
    }
    for (i = 0; i < k && u->h != NULL && u->h->recv_cb != NULL; i++) {
        uv_buf_t chunk = uv_buf_init(buf->base + i * UDP_DGRAM_MAXSIZE, UDP_DGRAM_MAXSIZE);
        AH__DISPATCH(sim, h, "recv_cb",
                     h->recv_cb(h, (ssize_t)got[i]->n, &chunk, (const struct sockaddr *)&from[i],
                                UV_UDP_MMSG_CHUNK));
    }
    if (u->h != NULL && u->h->recv_cb != NULL)
        AH__DISPATCH(sim, h, "recv_cb", h->recv_cb(h, 0, buf, NULL, UV_UDP_MMSG_FREE));
    for (i = 0; i < k; i++)
        ah__free(got[i]);
    return (ssize_t)k;
}

/* uv__udp_recvmsg: up to 32 datagrams per readiness, then recv_cb(0, NULL addr) once the queue
 * is empty (EAGAIN). */
static void read_loop(ah__udp *u)
{
    ah_sim *sim = u->ep.sim;
    uv_udp_t *h = u->h;
    int count = 32;
    ssize_t nread;

    ah__event_cancel(&u->rd_ev);
    u->ep.reading++;
    do {
        uv_buf_t buf = uv_buf_init(NULL, 0);
        AH__DISPATCH(sim, h, "alloc_cb", h->alloc_cb((uv_handle_t *)h, UDP_DGRAM_MAXSIZE, &buf));
        if (buf.base == NULL || buf.len == 0) {
            AH__DISPATCH(sim, h, "recv_cb", h->recv_cb(h, UV_ENOBUFS, &buf, NULL, 0));
            break;
        }
        if (h->flags & UDP_RECVMMSG) {
            nread = read_mmsg(u, &buf);
            if (nread > 0)
                count -= (int)nread;
            continue;
        }
        if (u->ep.pending_error != 0 && ah__dgram_rxq_empty(&u->rxq)) {
            int err = u->ep.pending_error;
            u->ep.pending_error = 0;
            AH__DISPATCH(sim, h, "recv_cb", h->recv_cb(h, err, &buf, NULL, 0));
            nread = -1;
        } else {
            ah__dgram_rx *m = ah__dgram_rxq_take(&u->rxq);
            if (m == NULL) {
                AH__DISPATCH(sim, h, "recv_cb", h->recv_cb(h, 0, &buf, NULL, 0));
                nread = -1;
            } else {
                struct sockaddr_storage from;
                size_t n = m->n < buf.len ? m->n : buf.len;
                memcpy(buf.base, m->data, n);
                memcpy(&from, &m->from.sa, sizeof(from));
                nread = (ssize_t)n;
                AH__DISPATCH(sim, h, "recv_cb",
                             h->recv_cb(h, nread, &buf, (const struct sockaddr *)&from,
                                        m->n > buf.len ? UV_UDP_PARTIAL : 0));
                ah__free(m);
            }
        }
        count--;
    } while (nread != -1 && count > 0 && still_reading(u));
    u->ep.reading--;
    if (u->h != NULL)
        rearm_read(u);
}

static void read_fire(ah__event *ev)
{
    ah__udp *u = ah__container_of(ev, ah__udp, rd_ev);

    if (still_reading(u) && (u->h->flags & UDP_READING))
        read_loop(u);
}

static void rx_ready(ah__dgram_ep *ep)
{
    ah__udp *u = (ah__udp *)ep;

    if (still_reading(u) && (u->h->flags & UDP_READING))
        read_loop(u);
}

/* ---- init, bind, connect ---- */

static int udp_init(uv_loop_t *loop, uv_udp_t *h, unsigned flags, ah__site site)
{
    ah_sim *sim = ah__loop_sim(loop, "uv_udp_init");
    int domain = (int)(flags & 0xFF);
    unsigned extra = flags & ~0xFFu;
    udp_state *st;
    ah__udp *u;

    if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNSPEC)
        return UV_EINVAL;
    if (extra & ~(unsigned)UV_UDP_RECVMMSG)
        return UV_EINVAL;
    st = state_get(sim);
    ah__handle_init(loop, (uv_handle_t *)h, UV_UDP, site);
    h->alloc_cb = NULL;
    h->recv_cb = NULL;
    h->send_queue_size = 0;
    h->send_queue_count = 0;
    memset(&h->io_watcher, 0, sizeof(h->io_watcher));
    h->io_watcher.fd = -1;
    ah__list_init(ah__qlist(h->write_queue));
    ah__list_init(ah__qlist(h->write_completed_queue));
    u = ah__calloc(1, sizeof(*u));
    ah__dgram_ep_init(sim, &u->ep, loop);
    u->ep.recv = rx_push;
    u->ep.ready = rx_ready;
    u->ep.owner = h;
    u->h = h;
    u->ttl = 64;
    u->mcast_ttl = 1;
    ah__dgram_rxq_init(&u->rxq);
    ah__list_insert_tail(&st->all, &u->link);
    ah__qslot_set(&h->io_watcher.pending_queue, 0, u);
    if (domain != AF_UNSPEC) {
        u->family = domain;
        h->io_watcher.fd = 0x5000 + (int)(++st->next_id);
    }
    if (extra & UV_UDP_RECVMMSG)
        h->flags |= UDP_RECVMMSG;
    return 0;
}

void (*ah__udp_fd_close_hook)(uv_udp_t *h, int fd);

int ah__udp_buffer_size(uv_udp_t *h, int opt, int *value, const char *fn)
{
    ah__udp *u = udp_of(h, fn);
    int *slot;

    if (u == NULL || h->io_watcher.fd == -1)
        return UV_EBADF; /* libuv's getsockopt on descriptor -1 */
    slot = opt == SO_RCVBUF ? &u->rcvbuf : &u->sndbuf;
    if (*value != 0) {
        *slot = *value > 0 ? *value : 1;
        return 0;
    }
    /* Linux keeps twice what was asked; the defaults are net.core.[rw]mem_default. */
    *value = *slot > 0 ? *slot * 2 : opt == SO_RCVBUF ? (int)AH__DGRAM_RCVBUF : 212992;
    return 0;
}

int ah__udp_adopt_real(uv_udp_t *h, int fd, int family, int connected, void *real)
{
    ah__udp *u = udp_open_of(h, "uv_udp_open");

    if (h->io_watcher.fd != -1)
        return UV_EBUSY;
    u->family = family;
    u->real = real;
    h->io_watcher.fd = fd;
    if (family == AF_INET6)
        h->flags |= UDP_IPV6;
    if (connected)
        h->flags |= UDP_CONNECTED;
    return 0;
}

void *ah__udp_real(const uv_udp_t *h)
{
    ah__udp *u = ah__qslot_get(&h->io_watcher.pending_queue, 0);
    return u != NULL ? u->real : NULL;
}

void ah__udp_relabel(uv_udp_t *h) { set_label(udp_open_of(h, "uv_udp_open")); }

ah__dgram_ep *ah__udp_adopt(uv_udp_t *h, int fd, int family, int connected, int *err)
{
    ah__udp *u = udp_open_of(h, "uv_udp_open");

    if (h->io_watcher.fd != -1) {
        *err = UV_EBUSY;
        return NULL;
    }
    u->family = family;
    u->adopted = 1;
    h->io_watcher.fd = fd;
    if (family == AF_INET6)
        h->flags |= UDP_IPV6;
    if (connected)
        h->flags |= UDP_CONNECTED;
    *err = 0;
    return &u->ep;
}

int uv_udp_init_ex(uv_loop_t *loop, uv_udp_t *handle, unsigned int flags)
{
    return udp_init(loop, handle, flags, AH__CALLER("uv_udp_init_ex"));
}

int uv_udp_init(uv_loop_t *loop, uv_udp_t *handle)
{
    return udp_init(loop, handle, AF_UNSPEC, AH__CALLER("uv_udp_init"));
}

static void give_fd(ah__udp *u, int family)
{
    udp_state *st = state_get(u->ep.sim);

    if (u->family != 0)
        return;
    u->family = family;
    u->h->io_watcher.fd = 0x5000 + (int)(++st->next_id);
}

static int do_bind(ah__udp *u, const struct sockaddr *addr, unsigned flags)
{
    uv_udp_t *h = u->h;
    ah__addr a;
    int err;

    if (flags & ~(unsigned)AH__UV_UDP_BIND_FLAGS)
        return UV_EINVAL;
    if ((flags & UV_UDP_IPV6ONLY) && addr->sa_family != AF_INET6)
        return UV_EINVAL;
    if (u->real != NULL)
        return ah__real_udp->bind(h, addr, flags);
    give_fd(u, addr->sa_family);
    if (flags & UV_UDP_REUSEADDR)
        u->ep.reuse = 1;
    if (flags & UV_UDP_IPV6ONLY)
        u->ep.v6only = 1;
    if (u->family != addr->sa_family)
        return UV_EINVAL; /* EAFNOSUPPORT, which libuv reports as UV_EINVAL */
    ah__addr_from_sockaddr(addr, &a);
    if ((err = ah__dgram_bind(&u->ep, &a)) != 0)
        return err;
    if (addr->sa_family == AF_INET6)
        h->flags |= UDP_IPV6;
    set_label(u);
    return 0;
}

/* uv__udp_maybe_deferred_bind: a socket that has none yet is bound to the wildcard. */
static int deferred_bind(ah__udp *u, int family, unsigned flags)
{
    struct sockaddr_storage ss;

    if (u->family != 0)
        return 0;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)family;
    return do_bind(u, (const struct sockaddr *)&ss, flags);
}

/* A socket libuv made but never bound is bound by the kernel on first use. */
static void autobind(ah__udp *u)
{
    struct sockaddr_storage ss;
    ah__addr a;

    if (u->ep.bound || u->family == 0 || u->real != NULL)
        return;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)u->family;
    ah__addr_from_sockaddr((const struct sockaddr *)&ss, &a);
    if (ah__dgram_bind(&u->ep, &a) == 0)
        set_label(u);
}

int uv_udp_bind(uv_udp_t *handle, const struct sockaddr *addr, unsigned int flags)
{
    AH__ENTRY("uv_udp_bind");
    ah__udp *u = udp_of(handle, "uv_udp_bind");

    if (u == NULL)
        return UV_EINVAL;
    ah__handle_require_open((uv_handle_t *)handle, "uv_udp_bind");
    if (addr == NULL)
        ah__fail(ah__sim(), "uv_udp_bind: called with a NULL address");
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
        return UV_EINVAL;
    return do_bind(u, addr, flags);
}

int uv_udp_connect(uv_udp_t *handle, const struct sockaddr *addr)
{
    AH__ENTRY("uv_udp_connect");
    ah__udp *u = udp_of(handle, "uv_udp_connect");
    ah__addr a;
    int err;

    if (u == NULL)
        return UV_EINVAL;
    ah__handle_require_open((uv_handle_t *)handle, "uv_udp_connect");
    if (addr == NULL) {
        if (!(handle->flags & UDP_CONNECTED))
            return UV_ENOTCONN;
        if (u->real != NULL && (err = ah__real_udp->connect(handle, NULL)) != 0)
            return err;
        ah__dgram_connect(&u->ep, NULL);
        handle->flags &= ~UDP_CONNECTED;
        return 0;
    }
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
        return UV_EINVAL;
    if (handle->flags & UDP_CONNECTED)
        return UV_EISCONN;
    if (u->real != NULL) {
        if ((err = ah__real_udp->connect(handle, addr)) == 0)
            handle->flags |= UDP_CONNECTED;
        return err;
    }
    if ((err = deferred_bind(u, addr->sa_family, 0)) != 0)
        return err;
    autobind(u);
    ah__addr_from_sockaddr(addr, &a);
    if ((err = ah__dgram_connect(&u->ep, &a)) != 0)
        return err;
    handle->flags |= UDP_CONNECTED;
    return 0;
}

/* ---- sending ---- */

static void run_completed(ah__udp *u);

static void io_pend_run(ah__pending *p)
{
    ah__udp *u = ah__container_of(p, ah__udp, io_pend);

    u->pend_queued = 0;
    run_completed(u); /* uv__udp_io(POLLOUT): sendmsg, then the completions */
}

static void io_feed(ah__udp *u)
{
    if (u->pend_queued)
        return;
    u->pend_queued = 1;
    u->io_pend.run = io_pend_run;
    ah__pending_add(u->h->loop, &u->io_pend);
}

static size_t count_bufs(const uv_buf_t *bufs, unsigned n)
{
    size_t t = 0;
    unsigned i;
    for (i = 0; i < n; i++)
        t += bufs[i].len;
    return t;
}

/* uv__udp_sendmmsg: the queue goes out in batches of 20; a batch whose first datagram fails
 * fails as a whole. */
static void flush(ah__udp *u)
{
    uv_udp_t *h = u->h;
    ah__list *wq = ah__qlist(h->write_queue), *done = ah__qlist(h->write_completed_queue);
    int moved = 0;

    if (u->real != NULL) {
        /* uv__udp_sendmsg: one datagram at a time, until the kernel says EAGAIN. */
        while (!ah__list_empty(wq)) {
            uv_udp_send_t *req = ah__container_of((void *)wq->next, uv_udp_send_t, queue);
            ssize_t r = ah__real_udp->send(h,
                                           AH__UV_UDP_SEND_ADDR(req).ss_family != AF_UNSPEC
                                               ? (const struct sockaddr *)&AH__UV_UDP_SEND_ADDR(req)
                                               : NULL,
                                           req->bufs, req->nbufs);
            if (r == UV_EAGAIN)
                break;
            req->status = r;
            ah__list_remove(ah__qlist(req->queue));
            ah__list_insert_tail(done, ah__qlist(req->queue));
            moved = 1;
        }
        if (moved)
            io_feed(u);
        return;
    }
    autobind(u);
    while (!ah__list_empty(wq)) {
        uv_udp_send_t *batch[UDP_MMSG_MAXWIDTH];
        size_t n = 0, i;
        ah__list *q;
        ssize_t r = 0;

        for (q = wq->next; q != wq && n < UDP_MMSG_MAXWIDTH; q = q->next)
            batch[n++] = ah__container_of((void *)q, uv_udp_send_t, queue);
        for (i = 0; i < n; i++) {
            uv_udp_send_t *req = batch[i];
            ah__addr to;
            if (AH__UV_UDP_SEND_ADDR(req).ss_family != AF_UNSPEC)
                ah__addr_from_sockaddr((const struct sockaddr *)&AH__UV_UDP_SEND_ADDR(req), &to);
            {
                const ah__rrec *rr = ah__req_rec((uv_req_t *)req); /* its uv_udp_send's site */
                u->ep.site = rr != NULL ? rr->site : (ah__site){NULL, 0, NULL, NULL};
            }
            r = ah__dgram_send(&u->ep,
                               AH__UV_UDP_SEND_ADDR(req).ss_family != AF_UNSPEC ? &to : NULL,
                               req->bufs, req->nbufs);
            if (r < 0)
                break;
            req->status = (ssize_t)req->bufs[0].len;
        }
        if (i == 0) {
            for (i = 0; i < n; i++) {
                batch[i]->status = r;
                ah__list_remove(ah__qlist(batch[i]->queue));
                ah__list_insert_tail(done, ah__qlist(batch[i]->queue));
            }
        } else {
            n = i;
            for (i = 0; i < n; i++) {
                ah__list_remove(ah__qlist(batch[i]->queue));
                ah__list_insert_tail(done, ah__qlist(batch[i]->queue));
            }
        }
        moved = 1;
    }
    if (moved)
        io_feed(u);
}

static void wr_fire(ah__event *ev)
{
    ah__udp *u = ah__container_of(ev, ah__udp, wr_ev);

    if (u->h != NULL && !ah__is_closing((uv_handle_t *)u->h))
        run_completed(u); /* POLLOUT in the poll phase */
}

static void pollout_start(ah__udp *u)
{
    u->h->flags |= UDP_POLLOUT;
    if (u->real != NULL) {
        ah__real_udp->want_write(u->h, 1);
        return;
    }
    if (!ah__event_scheduled(&u->wr_ev) && u->wr_ev.batch_index == 0) {
        u->wr_ev.fire = wr_fire;
        u->wr_ev.what = "udp writable";
        u->wr_ev.owner = u->h;
        ah__event_schedule(u->h->loop, &u->wr_ev, ah__sim()->clock.now_ns);
    }
}

static void pollout_stop(ah__udp *u)
{
    u->h->flags &= ~UDP_POLLOUT;
    ah__event_cancel(&u->wr_ev);
    if (u->real != NULL)
        ah__real_udp->want_write(u->h, 0);
}

void ah__udp_io_out(uv_udp_t *h)
{
    ah__udp *u = ah__qslot_get(&h->io_watcher.pending_queue, 0);

    if (u != NULL && !ah__is_closing((uv_handle_t *)h))
        run_completed(u);
}

/* uv__udp_io(POLLOUT) and uv__udp_run_completed. */
static void run_completed(ah__udp *u)
{
    uv_udp_t *h = u->h;
    ah_sim *sim = u->ep.sim;
    ah__list *done = ah__qlist(h->write_completed_queue);

    if (!ah__is_closing((uv_handle_t *)h))
        flush(u);
    h->flags |= UDP_PROCESSING;
    while (!ah__list_empty(done)) {
        uv_udp_send_t *req = ah__container_of((void *)done->next, uv_udp_send_t, queue);
        ah__list_remove(done->next);
        ah__req_end((uv_req_t *)req);
        h->send_queue_size -= count_bufs(req->bufs, req->nbufs);
        h->send_queue_count--;
        if (req->bufs != req->bufsml)
            ah__free(req->bufs);
        req->bufs = NULL;
        if (req->send_cb == NULL)
            continue;
        AH__DISPATCH(sim, h, "send_cb", req->send_cb(req, req->status >= 0 ? 0 : (int)req->status));
    }
    if (ah__list_empty(ah__qlist(h->write_queue))) {
        pollout_stop(u);
        if (!(h->flags & UDP_READING))
            ah__handle_stop((uv_handle_t *)h);
    }
    h->flags &= ~UDP_PROCESSING;
}

/* uv__udp_check_before_send: the address length, or a negative error. */
static int check_before_send(const uv_udp_t *h, const struct sockaddr *addr)
{
    if (addr != NULL && (h->flags & UDP_CONNECTED))
        return UV_EISCONN;
    if (addr == NULL && !(h->flags & UDP_CONNECTED))
        return UV_EDESTADDRREQ;
    if (addr == NULL)
        return 0;
    if (addr->sa_family == AF_INET)
        return (int)sizeof(struct sockaddr_in);
    if (addr->sa_family == AF_INET6)
        return (int)sizeof(struct sockaddr_in6);
    if (addr->sa_family == AF_UNIX)
        return (int)sizeof(struct sockaddr_un);
    return UV_EINVAL;
}

int uv_udp_send(uv_udp_send_t *req, uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                const struct sockaddr *addr, uv_udp_send_cb send_cb)
{
    ah__site site = AH__CALLER("uv_udp_send");
    ah__udp *u = udp_of(handle, "uv_udp_send");
    int addrlen, empty_queue, err;

    if (u == NULL)
        return UV_EINVAL;
    if ((addrlen = check_before_send(handle, addr)) < 0)
        return addrlen;
    ah__handle_require_open((uv_handle_t *)handle, "uv_udp_send");
    if (nbufs == 0 || bufs == NULL)
        ah__fail(ah__sim(), "uv_udp_send: called with no buffers (libuv asserts nbufs > 0)");
    if (addr != NULL && addr->sa_family == AF_UNIX && u->real == NULL)
        ah__fail(ah__sim(), "uv_udp_send to an AF_UNIX address is not simulated");
    if (addr != NULL && (err = deferred_bind(u, addr->sa_family, 0)) != 0)
        return err;
    ah__req_require_idle(req, "uv_udp_send", site);
    empty_queue = handle->send_queue_count == 0;
    ah__req_begin(handle->loop, (uv_req_t *)req, UV_UDP_SEND, "uv_udp_send", site);
    memset(&AH__UV_UDP_SEND_ADDR(req), 0, sizeof(AH__UV_UDP_SEND_ADDR(req)));
    if (addr != NULL)
        memcpy(&AH__UV_UDP_SEND_ADDR(req), addr, (size_t)addrlen);
    else
        AH__UV_UDP_SEND_ADDR(req).ss_family = AF_UNSPEC;
    req->send_cb = send_cb;
    req->handle = handle;
    req->nbufs = nbufs;
    req->bufs = req->bufsml;
    if (nbufs > sizeof(req->bufsml) / sizeof(req->bufsml[0]))
        req->bufs = ah__malloc(nbufs * sizeof(bufs[0]));
    memcpy(req->bufs, bufs, nbufs * sizeof(bufs[0]));
    handle->send_queue_size += count_bufs(bufs, nbufs);
    handle->send_queue_count++;
    ah__list_insert_tail(ah__qlist(handle->write_queue), ah__qlist(req->queue));
    ah__handle_start((uv_handle_t *)handle);
    if (empty_queue && !(handle->flags & UDP_PROCESSING)) {
        flush(u);
        if (!ah__list_empty(ah__qlist(handle->write_queue)))
            pollout_start(u);
    } else {
        pollout_start(u);
    }
    return 0;
}

int uv_udp_try_send(uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                    const struct sockaddr *addr)
{
    ah__udp *u = udp_of(handle, "uv_udp_try_send");
    ah__addr to;
    int addrlen, err;
    ah__site site = AH__CALLER("uv_udp_try_send"); /* for a failure below, and the trace */

    if (u == NULL)
        return UV_EINVAL;
    if ((addrlen = check_before_send(handle, addr)) < 0)
        return addrlen;
    ah__handle_require_open((uv_handle_t *)handle, "uv_udp_try_send");
    if (AH__UV_UDP_TRY_SEND_NO_BUFS_EINVAL && nbufs == 0)
        return UV_EINVAL;
    if (nbufs == 0 || bufs == NULL)
        ah__fail(ah__sim(), "uv_udp_try_send: called with no buffers (libuv asserts nbufs > 0)");
    if (handle->send_queue_count != 0)
        return UV_EAGAIN;
    if (addr != NULL && addr->sa_family == AF_UNIX && u->real == NULL)
        ah__fail(ah__sim(), "uv_udp_try_send to an AF_UNIX address is not simulated");
    if (u->real != NULL)
        return (int)ah__real_udp->send(handle, addr, bufs, nbufs);
    if (addr != NULL && (err = deferred_bind(u, addr->sa_family, 0)) != 0)
        return err;
    autobind(u);
    if (addr != NULL)
        ah__addr_from_sockaddr(addr, &to);
    u->ep.site = site;
    return (int)ah__dgram_send(&u->ep, addr != NULL ? &to : NULL, bufs, nbufs);
}

#if AH__UV_HAS_UDP_TRY_SEND2
/* 1.50: as libuv's sendmmsg path. Sends messages in order and returns how many went; the first
 * message's error is returned as is, a later one's ends the batch. A handle with no socket yet
 * (never bound, connected or sent on) is UV_EINVAL: libuv does not bind here. */
int uv_udp_try_send2(uv_udp_t *handle, unsigned int count, uv_buf_t *bufs[], unsigned int nbufs[],
                     struct sockaddr *addrs[], unsigned int flags)
{
    ah__udp *u = udp_of(handle, "uv_udp_try_send2");
    unsigned int i;
    int err;
    ah__site site = AH__CALLER("uv_udp_try_send2"); /* for a failure below, and the trace */

    if (u == NULL || count < 1 || flags != 0)
        return UV_EINVAL;
    ah__handle_require_open((uv_handle_t *)handle, "uv_udp_try_send2");
    if (handle->send_queue_count > 0)
        return UV_EAGAIN;
    if (u->family == 0)
        return UV_EINVAL;
    for (i = 0; i < count; i++) {
        ah__addr to;

        if (addrs[i] != NULL && addrs[i]->sa_family == AF_UNIX)
            ah__fail(ah__sim(), "uv_udp_try_send2 to an AF_UNIX address is not simulated");
        if ((err = check_before_send(handle, addrs[i])) >= 0) {
            autobind(u);
            if (addrs[i] != NULL)
                ah__addr_from_sockaddr(addrs[i], &to);
            u->ep.site = site;
            err = (int)ah__dgram_send(&u->ep, addrs[i] != NULL ? &to : NULL, bufs[i], nbufs[i]);
        }
        if (err < 0)
            return i == 0 ? err : (int)i;
    }
    return (int)count;
}
#endif

/* ---- receiving: start and stop ---- */

int uv_udp_recv_start(uv_udp_t *handle, uv_alloc_cb alloc_cb, uv_udp_recv_cb recv_cb)
{
    ah__site site = AH__CALLER("uv_udp_recv_start");
    ah__udp *u = udp_of(handle, "uv_udp_recv_start");
    int err;

    if (u == NULL || alloc_cb == NULL || recv_cb == NULL)
        return UV_EINVAL;
    ah__handle_require_open((uv_handle_t *)handle, "uv_udp_recv_start");
    if (handle->flags & UDP_READING)
        return UV_EALREADY;
    if ((err = deferred_bind(u, AF_INET, 0)) != 0)
        return err;
    ((ah__hrec *)handle->u.reserved[0])->start_site = site;
    handle->alloc_cb = alloc_cb;
    handle->recv_cb = recv_cb;
    handle->flags |= UDP_READING;
    ah__handle_start((uv_handle_t *)handle);
    if (u->real != NULL)
        ah__real_udp->reading(handle, 1);
    else
        rearm_read(u);
    return 0;
}

int uv_udp_recv_stop(uv_udp_t *handle)
{
    AH__ENTRY("uv_udp_recv_stop");
    ah__udp *u = udp_of(handle, "uv_udp_recv_stop");

    if (u == NULL)
        return UV_EINVAL;
    handle->flags &= ~UDP_READING;
    if (!(handle->flags & UDP_POLLOUT))
        ah__handle_stop((uv_handle_t *)handle);
    handle->alloc_cb = NULL;
    handle->recv_cb = NULL;
    ah__event_cancel(&u->rd_ev);
    if (u->real != NULL)
        ah__real_udp->reading(handle, 0);
    return 0;
}

int uv_udp_using_recvmmsg(const uv_udp_t *handle)
{
    AH__ENTRY("uv_udp_using_recvmmsg");
    ah__handle_rec((const uv_handle_t *)handle, "uv_udp_using_recvmmsg");
    return (handle->flags & UDP_RECVMMSG) != 0;
}

size_t uv_udp_get_send_queue_size(const uv_udp_t *handle) { return handle->send_queue_size; }
size_t uv_udp_get_send_queue_count(const uv_udp_t *handle) { return handle->send_queue_count; }

/* ---- names ---- */

static int copy_name(const ah__addr *a, int family, struct sockaddr *name, int *namelen)
{
    struct sockaddr_storage ss;
    int len;

    if (*namelen < 0)
        return UV_EINVAL;
    memset(&ss, 0, sizeof(ss));
    if (a != NULL && a->family != 0) {
        ss = a->sa;
    } else {
        ss.ss_family = (sa_family_t)family; /* not bound: the wildcard, port 0 */
    }
    len = ss.ss_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6)
                                   : (int)sizeof(struct sockaddr_in);
    memcpy(name, &ss, (size_t)(len < *namelen ? len : *namelen));
    *namelen = len;
    return 0;
}

int uv_udp_getsockname(const uv_udp_t *handle, struct sockaddr *name, int *namelen)
{
    AH__ENTRY("uv_udp_getsockname");
    ah__udp *u = udp_of(handle, "uv_udp_getsockname");
    ah__addr a;

    if (u == NULL || u->family == 0 || ah__is_closing((const uv_handle_t *)handle))
        return UV_EBADF;
    if (u->real != NULL)
        return ah__real_udp->name((uv_udp_t *)handle, 0, name, namelen);
    if (!u->ep.bound)
        return copy_name(NULL, u->family, name, namelen);
    ah__dgram_local_name(&u->ep, &a);
    return copy_name(&a, u->family, name, namelen);
}

int uv_udp_getpeername(const uv_udp_t *handle, struct sockaddr *name, int *namelen)
{
    AH__ENTRY("uv_udp_getpeername");
    ah__udp *u = udp_of(handle, "uv_udp_getpeername");

    if (u == NULL || u->family == 0 || ah__is_closing((const uv_handle_t *)handle))
        return UV_EBADF;
    if (u->real != NULL)
        return ah__real_udp->name((uv_udp_t *)handle, 1, name, namelen);
    if (!u->ep.connected)
        return UV_ENOTCONN;
    return copy_name(&u->ep.peer, u->family, name, namelen);
}

/* ---- options ---- */

static int parse_ip(const char *s, ah__addr *out)
{
    char b[AH__ADDR_MAX + 8];

    if (s == NULL || strlen(s) >= AH__ADDR_MAX)
        return UV_EINVAL;
    snprintf(b, sizeof(b), strchr(s, ':') ? "[%s]:0" : "%s:0", s);
    return ah__addr_parse(b, 1, out);
}

static int membership(uv_udp_t *handle, const char *fn, const char *multicast_addr,
                      const char *interface_addr, const char *source_addr, uv_membership m)
{
    ah__udp *u = udp_open_of(handle, fn);
    ah__addr group, source, iface;
    int err;

    if (parse_ip(multicast_addr, &group) != 0)
        return UV_EINVAL;
    if (source_addr != NULL &&
        (parse_ip(source_addr, &source) != 0 || source.family != group.family))
        return UV_EINVAL;
    if ((err = deferred_bind(u, group.family, UV_UDP_REUSEADDR)) != 0)
        return err;
    autobind(u);
    if (interface_addr != NULL) {
        if (parse_ip(interface_addr, &iface) != 0 || iface.family != group.family)
            return UV_EINVAL;
        if (group.family == AF_INET && !ah__addr_local(u->ep.sim, &iface))
            return UV_ENODEV;
    }
    if (m != UV_JOIN_GROUP && m != UV_LEAVE_GROUP)
        return UV_EINVAL;
    return ah__dgram_membership(&u->ep, &group, source_addr != NULL ? &source : NULL,
                                interface_addr != NULL ? iface.host : NULL, m == UV_JOIN_GROUP);
}

int uv_udp_set_membership(uv_udp_t *handle, const char *multicast_addr, const char *interface_addr,
                          uv_membership membership_)
{
    AH__ENTRY("uv_udp_set_membership");
    return membership(handle, "uv_udp_set_membership", multicast_addr, interface_addr, NULL,
                      membership_);
}

int uv_udp_set_source_membership(uv_udp_t *handle, const char *multicast_addr,
                                 const char *interface_addr, const char *source_addr,
                                 uv_membership membership_)
{
    AH__ENTRY("uv_udp_set_source_membership");
    if (source_addr == NULL)
        return UV_EINVAL;
    return membership(handle, "uv_udp_set_source_membership", multicast_addr, interface_addr,
                      source_addr, membership_);
}

/* setsockopt(2) on libuv's fd: EBADF while it has none. */
static ah__udp *opt_target(uv_udp_t *handle, const char *fn, int *err)
{
    ah__udp *u = udp_open_of(handle, fn);

    *err = u->family == 0 ? UV_EBADF : 0;
    return u;
}

int uv_udp_set_broadcast(uv_udp_t *handle, int on)
{
    AH__ENTRY("uv_udp_set_broadcast");
    int err;
    ah__udp *u = opt_target(handle, "uv_udp_set_broadcast", &err);

    if (err == 0)
        u->ep.broadcast = on != 0;
    return err;
}

int uv_udp_set_ttl(uv_udp_t *handle, int ttl)
{
    AH__ENTRY("uv_udp_set_ttl");
    int err;
    ah__udp *u;

    if (ttl < 1 || ttl > 255)
        return UV_EINVAL;
    u = opt_target(handle, "uv_udp_set_ttl", &err);
    if (err == 0)
        u->ttl = ttl;
    return err;
}

int uv_udp_set_multicast_ttl(uv_udp_t *handle, int ttl)
{
    AH__ENTRY("uv_udp_set_multicast_ttl");
    int err;
    ah__udp *u;

    if (ttl < 0 || ttl > 255)
        return UV_EINVAL;
    u = opt_target(handle, "uv_udp_set_multicast_ttl", &err);
    if (err == 0)
        u->mcast_ttl = ttl;
    return err;
}

int uv_udp_set_multicast_loop(uv_udp_t *handle, int on)
{
    AH__ENTRY("uv_udp_set_multicast_loop");
    int err;
    ah__udp *u;

    if (on < 0 || on > 255)
        return UV_EINVAL;
    u = opt_target(handle, "uv_udp_set_multicast_loop", &err);
    if (err == 0)
        u->ep.mcast_loop = on != 0;
    return err;
}

int uv_udp_set_multicast_interface(uv_udp_t *handle, const char *interface_addr)
{
    AH__ENTRY("uv_udp_set_multicast_interface");
    ah__addr iface;
    int err;
    ah__udp *u;

    if (interface_addr != NULL && parse_ip(interface_addr, &iface) != 0)
        return UV_EINVAL;
    u = opt_target(handle, "uv_udp_set_multicast_interface", &err);
    if (err != 0)
        return err;
    if (interface_addr != NULL && iface.family == AF_INET && !ah__addr_local(u->ep.sim, &iface))
        return UV_EADDRNOTAVAIL;
    return 0;
}

/* ---- close ---- */

static void udp_close(uv_handle_t *hd)
{
    uv_udp_t *h = (uv_udp_t *)hd;
    ah__udp *u = ah__qslot_get(&h->io_watcher.pending_queue, 0);

    /* uv__udp_close: the watcher goes (a queued io_feed with it), the fd is closed. */
    ah__event_cancel(&u->rd_ev);
    ah__event_cancel(&u->wr_ev);
    if (u->pend_queued) {
        ah__pending_remove(&u->io_pend);
        u->pend_queued = 0;
    }
    h->flags &= ~(UDP_READING | UDP_POLLOUT);
    ah__dgram_unbind(&u->ep);
    ah__handle_stop(hd);
    if (u->real != NULL) {
        ah__real_udp->close(h);
        u->real = NULL;
    } else if (u->adopted && ah__udp_fd_close_hook != NULL)
        ah__udp_fd_close_hook(h, h->io_watcher.fd);
    h->io_watcher.fd = -1;
}

static void udp_finish_close(uv_handle_t *hd)
{
    uv_udp_t *h = (uv_udp_t *)hd;
    ah__udp *u = ah__qslot_get(&h->io_watcher.pending_queue, 0);
    ah__list *wq = ah__qlist(h->write_queue);

    while (!ah__list_empty(wq)) {
        uv_udp_send_t *req = ah__container_of((void *)wq->next, uv_udp_send_t, queue);
        ah__list_remove(wq->next);
        req->status = UV_ECANCELED;
        ah__list_insert_tail(ah__qlist(h->write_completed_queue), ah__qlist(req->queue));
    }
    run_completed(u);
    h->recv_cb = NULL;
    h->alloc_cb = NULL;
    ah__list_remove(&u->link);
    ah__dgram_rxq_clear(&u->rxq);
    ah__free(u);
    ah__qslot_set(&h->io_watcher.pending_queue, 0, NULL);
}
