/* Internals of the datagram network (mocks/dgram.c): endpoints bound at addresses of the fake
 * network, and datagrams sent from one address to another, with the faults of include/ah/udp.h.
 * uv_udp_t (mocks/udp.c) is one user; a raw SOCK_DGRAM socket of the descriptor layer can be
 * another: bind an endpoint with a receive hook, send through it. Nothing here is public API.
 *
 * Dependencies are one-way: this uses the fake network's addresses (internal_net.h) and nothing
 * of its connections; net.c, stream.c and peer.c never include it. */
#ifndef AH_MOCKS_INTERNAL_DGRAM_H
#define AH_MOCKS_INTERNAL_DGRAM_H

#include "internal_net.h"

/* The largest datagram payload (IPv4: 65535 - 8 - 20), as the kernel's EMSGSIZE limit. */
#define AH__DGRAM_MAX 65507
/* A receive queue holds at most this many bytes of payload (Linux's default rmem is 212992 bytes
 * of buffer accounting); datagrams beyond it are dropped, as the kernel drops them. */
#define AH__DGRAM_RCVBUF (208u * 1024)

struct ah__dgram_ep;

/* A datagram reached `ep`: `n` bytes (already cut at the path's MTU) from `from`. `data` is
 * valid only during the call: the hook copies what it keeps. */
typedef void (*ah__dgram_recv_fn)(struct ah__dgram_ep *ep, const ah__addr *from, const void *data,
                                  size_t n);
/* Every datagram due in this poll has been handed to the hook: the endpoint is readable. */
typedef void (*ah__dgram_ready_fn)(struct ah__dgram_ep *ep);

typedef struct ah__dgram_group {
    ah__list link;
    ah__addr group;           /* port 0 */
    ah__addr source;          /* family 0: any source */
    char iface[AH__ADDR_MAX]; /* the interface address given, "" for the default */
} ah__dgram_group;

/* One bound datagram socket. The owner (udp.c, the fd layer) allocates it and fills `recv`,
 * `ready`, `loop` and the options; dgram.c owns the rest. */
typedef struct ah__dgram_ep {
    ah__list link; /* the network's bound endpoints, in bind order */
    struct ah__dgram *dg;
    ah_sim *sim;
    uv_loop_t *loop; /* where arrivals are delivered */
    ah__dgram_recv_fn recv;
    ah__dgram_ready_fn ready;
    void *owner;   /* the uv_udp_t, for reports */
    ah__site site; /* the call of the send being made (set before ah__dgram_send), for traces */
    char label[AH__ADDR_MAX + 8];
    ah__addr addr; /* bound address, port filled in */
    int bound;
    int reuse, v6only, broadcast, mcast_loop;
    int connected;
    ah__addr peer;        /* when connected: the only source accepted, the default destination */
    int pending_error;    /* an ICMP error (UV_ECONNREFUSED) for the next send or receive */
    ah__list groups;      /* ah__dgram_group joined */
    ah__list inflight;    /* datagrams on their way to this endpoint, by due time */
    ah__event arrive_ev;  /* the earliest of them arrives */
    uint64_t last_due_ns; /* without a reorder fault, datagrams arrive in the order sent */
    int reading;          /* the owner's read loop runs: a datagram due now joins its queue */
} ah__dgram_ep;

/* The world (world/world.c): the bound endpoint after `prev` (NULL: the first), in bind order, or
 * NULL; and where this sim's ephemeral ports start (each process of a world its own range, so a
 * reply to an ephemeral source port reaches the process that sent from it). */
ah__dgram_ep *ah__dgram_bound_next(ah_sim *sim, ah__dgram_ep *prev);
void ah__dgram_ports_from(ah_sim *sim, uint32_t first);

/* The per-sim datagram network (created on first use). */
struct ah__dgram *ah__dgram_get(ah_sim *sim);
/* Prepares `ep` (zeroed by the caller) for use on `loop`. */
void ah__dgram_ep_init(ah_sim *sim, ah__dgram_ep *ep, uv_loop_t *loop);
/* Binds `ep` at `addr` (port 0: an ephemeral port). Returns 0, UV_EADDRINUSE (the port is
 * taken and the two do not both allow reuse), UV_EADDRNOTAVAIL (not a local address) or
 * UV_EINVAL (already bound). */
int ah__dgram_bind(ah__dgram_ep *ep, const ah__addr *addr);
/* Unbinds `ep`: datagrams on their way to it are dropped. Safe on an unbound endpoint. */
void ah__dgram_unbind(ah__dgram_ep *ep);
/* At the sim's end: frees what the endpoint holds in its own memory (groups) without touching
 * the network, which may be gone already (its in-flight datagrams are freed with it). */
void ah__dgram_ep_forget(ah__dgram_ep *ep);
/* Connects `ep` to `peer` (binding it at the wildcard first when needed); its local address
 * becomes the one the route to `peer` uses. NULL disconnects. */
int ah__dgram_connect(ah__dgram_ep *ep, const ah__addr *peer);
/* The endpoint's own address as getsockname(2) shows it (a connected wildcard endpoint shows the
 * source address of its route). */
void ah__dgram_local_name(const ah__dgram_ep *ep, ah__addr *out);
/* Sends `n` bytes (the iovecs concatenated) from `ep` to `to` (NULL: its peer). Returns n or a
 * negative error (UV_EMSGSIZE, UV_EACCES for a broadcast without SO_BROADCAST,
 * UV_EAFNOSUPPORT, UV_ECONNREFUSED reported by an earlier ICMP). */
ssize_t ah__dgram_send(ah__dgram_ep *ep, const ah__addr *to, const uv_buf_t bufs[], unsigned nbufs);
/* Joins or leaves a multicast group (`source` may be NULL) on interface `iface` (NULL: the
 * default one); a membership is known by all three, as the kernel's. Returns 0, UV_EINVAL (not
 * a multicast address), UV_EADDRINUSE (joined twice), UV_EADDRNOTAVAIL (not joined). */
int ah__dgram_membership(ah__dgram_ep *ep, const ah__addr *group, const ah__addr *source,
                         const char *iface, int join);
int ah__addr_is_multicast(const ah__addr *a);
/* A receive queue was full and dropped a datagram (counted in ah_udp_get_stats). */
void ah__dgram_count_overflow(ah__dgram_ep *ep);

/* A socket's receive queue, the kernel's: datagrams in arrival order, bounded in bytes. The
 * owners (uv_udp_t, a raw socket) keep one each and fill it from their endpoint's recv hook. */
typedef struct ah__dgram_rx {
    ah__list link;
    ah__addr from;
    size_t n;
    unsigned char data[];
} ah__dgram_rx;
typedef struct ah__dgram_rxq {
    ah__list q;
    size_t bytes;
} ah__dgram_rxq;
void ah__dgram_rxq_init(ah__dgram_rxq *r);
/* Queues a copy of the datagram, or drops it (traced, counted as an overflow of `ep`) when it
 * would take the queue past `cap` bytes. */
void ah__dgram_rxq_push(ah__dgram_rxq *r, ah__dgram_ep *ep, size_t cap, const ah__addr *from,
                        const void *data, size_t n);
/* The oldest datagram, unlinked (the caller frees it with ah__free), or NULL. */
ah__dgram_rx *ah__dgram_rxq_take(ah__dgram_rxq *r);
static inline int ah__dgram_rxq_empty(const ah__dgram_rxq *r) { return ah__list_empty(&r->q); }
static inline ah__dgram_rx *ah__dgram_rxq_head(const ah__dgram_rxq *r)
{
    return ah__list_empty(&r->q) ? NULL : ah__container_of(r->q.next, ah__dgram_rx, link);
}
void ah__dgram_rxq_clear(ah__dgram_rxq *r);
/* `to` (initialised, unbound) takes over `from`'s place on the network: its bound address, peer,
 * options, memberships and the datagrams on their way; `from` is left unbound (uv_udp_open of a
 * raw socket). */
void ah__dgram_ep_move(ah__dgram_ep *from, ah__dgram_ep *to);

/* uv_udp_open of a fake descriptor (fd/uvopen.c): the handle takes descriptor `fd` of `family`
 * (connected or not) and returns its endpoint for the caller to move the socket's into; NULL
 * with *err set as libuv (UV_EBUSY: the handle has a socket already). */
ah__dgram_ep *ah__udp_adopt(uv_udp_t *h, int fd, int family, int connected, int *err);
/* uv_recv_buffer_size / uv_send_buffer_size of a UDP handle without a fake descriptor: `opt`
 * SO_RCVBUF or SO_SNDBUF, *value 0 reads (twice what was set, as Linux), else sets. */
int ah__udp_buffer_size(uv_udp_t *h, int opt, int *value, const char *fn);
/* The handle's label follows its endpoint's address (after the move). */
void ah__udp_relabel(uv_udp_t *h);
/* A handle that adopted a descriptor closes it (set by the descriptor layer). */
extern void (*ah__udp_fd_close_hook)(uv_udp_t *h, int fd);

/* uv_udp_open of a real descriptor the sim did not make: the handle's queues and callbacks stay
 * udp.c's, what touches the socket goes to the layer that adopted it (fd/realudp.c), which sets
 * these when it adopts one. */
typedef struct ah__real_udp_ops {
    /* sendmsg(2) of one datagram: its size, or a UV_ error (UV_EAGAIN: the kernel is full). */
    ssize_t (*send)(uv_udp_t *h, const struct sockaddr *addr, const uv_buf_t *bufs, unsigned nbufs);
    void (*reading)(uv_udp_t *h, int on);    /* uv_udp_recv_start / uv_udp_recv_stop */
    void (*want_write)(uv_udp_t *h, int on); /* sends wait for POLLOUT */
    int (*name)(uv_udp_t *h, int peer, struct sockaddr *name, int *namelen);
    int (*bind)(uv_udp_t *h, const struct sockaddr *addr, unsigned flags);
    int (*connect)(uv_udp_t *h, const struct sockaddr *addr); /* NULL: disconnect */
    void (*close)(uv_udp_t *h);
} ah__real_udp_ops;
extern const ah__real_udp_ops *ah__real_udp;
/* The handle (not yet opened) takes real descriptor `fd`; `real` is the adopter's state. 0, or
 * UV_EBUSY when it has a socket already. */
int ah__udp_adopt_real(uv_udp_t *h, int fd, int family, int connected, void *real);
void *ah__udp_real(const uv_udp_t *h);
/* uv__udp_io's POLLOUT half: queued sends go out, completed ones get their callbacks. */
void ah__udp_io_out(uv_udp_t *h);

#endif
