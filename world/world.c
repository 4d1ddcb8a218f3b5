#define _GNU_SOURCE 1
/* One virtual world across processes (docs/world.md).
 *
 * A harness-linked program that a simulated process starts (uv_spawn, posix_spawn, fork + exec)
 * joins its parent's world:
 * the parent (the owner) owns the clock and the schedule, and the member runs only when the
 * owner hands it the baton, as a simulated thread does. The owner knows before the exec that the
 * program is harness-linked (the marker below is in every harness binary: it scans the file), and
 * passes a socketpair named by AH_WORLD_FD. The member says hello from a constructor, before main,
 * and waits for its first turn.
 *
 * A turn: the owner sends RUN(instant), what was delivered to the member since its last turn
 * (connections, bytes, FIN, resets, signals), then GO. The member sets its clock to the instant,
 * applies the deliveries and runs until nothing of it is due at that instant; where its sim would
 * move its clock (ah__time_pass) it sends what it produced (bytes, FIN, resets, the addresses it
 * listens on) and YIELD(next due instant, or none) and waits for its next turn. In the owner a
 * member is one event on the loop that spawned it, due at the member's next instant or at once
 * when something was delivered to it; so the owner's clock is the world's, and several members
 * due at one instant are ordered as every other event of one instant is (the oracle's choices).
 *
 * A member's exit (any: return from main, a crash, a signal's default action) is the end of its
 * socket during its turn: the owner reaps it for real and the child exits at that instant. A
 * harness failure in a member is sent (FAIL) before it dies and fails the owner's test, naming the
 * program and pid.
 *
 * The network: a member's listening addresses are routes of the owner's fake network whose
 * listener is the member (ah__listen_ops); a connection that reaches one has a remote end
 * (ah__end_ops) in the owner, and the member opens the same connection to its own listener with a
 * remote end on the client's side. Bytes, FIN and resets cross at the instant they reach the
 * remote end; the owner's network applies latency and faults once. */
#include "../fd/internal_fd.h"
#include "../mocks/internal_dgram.h"
#include "internal_world.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
extern const char ah__world_calls;
/* world/calls.c (the execl and wait families) is linked with the room */
__attribute__((used)) static const void *const world_parts[] = {&ah__world_calls};

/* Every harness-linked binary holds this string (the room is linked whole: ah__world_room). */
__attribute__((used)) const char ah__world_marker[] = "asyncharness-world-member:1";
const char ah__world_room = 0;
/* Defined by ah-world (tools/ah-world.c), the owner of programs started with AH_WORLD: it never
 * joins a world itself. */
extern const int ah__world_owner_program __attribute__((weak));

/* ---- real descriptors (other rooms interpose these names for fake descriptors) ---- */

static struct {
    int (*socketpair)(int, int, int, int[2]);
    int (*close)(int);
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*send)(int, const void *, size_t, int);
    int (*shutdown)(int, int);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*fcntl)(int, int, ...);
} libc;

static void libc_resolve(void)
{
    if (libc.close != NULL)
        return;
    *(void **)&libc.socketpair = dlsym(RTLD_NEXT, "socketpair");
    *(void **)&libc.read = dlsym(RTLD_NEXT, "read");
    *(void **)&libc.write = dlsym(RTLD_NEXT, "write");
    *(void **)&libc.recv = dlsym(RTLD_NEXT, "recv");
    *(void **)&libc.send = dlsym(RTLD_NEXT, "send");
    *(void **)&libc.shutdown = dlsym(RTLD_NEXT, "shutdown");
    *(void **)&libc.poll = dlsym(RTLD_NEXT, "poll");
    *(void **)&libc.fcntl = dlsym(RTLD_NEXT, "fcntl");
    *(void **)&libc.close = dlsym(RTLD_NEXT, "close");
}

/* ---- messages ---- */

enum {
    WM_HELLO = 1, /* a: pid */
    WM_RUN,       /* a: the instant (ns) */
    WM_GO,
    WM_YIELD,    /* a: next due instant (ns), UINT64_MAX: none */
    WM_LISTEN,   /* a: 1 for a pipe path; payload: address */
    WM_UNLISTEN, /* a, payload: as WM_LISTEN */
    WM_CONNECT,  /* id; payload: "client\0server" */
    WM_DATA,     /* id; payload: bytes */
    WM_FIN,      /* id */
    WM_RST,      /* id */
    WM_SIGNAL,   /* a: signal number */
    WM_FAIL,     /* payload: the report */
    WM_DNS,      /* payload: the owner's DNS table (dns.c), when it changed */
    WM_TEARDOWN, /* payload: what the member left behind at its exit (teardown.c) */
    WM_UDP,      /* payload: "from\0to\0" then a datagram's bytes */
    WM_PORTS,    /* a: where the member's ephemeral UDP ports start */
    WM_STATUS,   /* a: its exit status (a member started separately, AH_WORLD: not a child) */
};

typedef struct msg_hdr {
    uint32_t type, id;
    uint64_t a;
    uint32_t len, pad;
} msg_hdr;

typedef struct outbuf {
    unsigned char *p;
    size_t len, cap;
} outbuf;

static void out_put(outbuf *o, uint32_t type, uint32_t id, uint64_t a, const void *data, size_t n)
{
    msg_hdr h = {type, id, a, (uint32_t)n, 0};
    if (o->len + sizeof(h) + n > o->cap) {
        o->cap = (o->len + sizeof(h) + n) * 2;
        o->p = ah__realloc(o->p, o->cap);
    }
    memcpy(o->p + o->len, &h, sizeof(h));
    if (n > 0)
        memcpy(o->p + o->len + sizeof(h), data, n);
    o->len += sizeof(h) + n;
}

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = libc.write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int out_flush(int fd, outbuf *o)
{
    int r = o->len > 0 ? write_all(fd, o->p, o->len) : 0;
    o->len = 0;
    return r;
}

/* Reads exactly n bytes; 0 at the end of the socket, -1 on an error. */
static int read_all(int fd, void *p, size_t n)
{
    unsigned char *b = p;
    while (n > 0) {
        ssize_t r = libc.read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 && b == p ? 0 : -1;
        b += r;
        n -= (size_t)r;
    }
    return 1;
}

/* Bytes of a connection (WM_DATA) are read into one buffer kept for the process's life: a bulk
 * transfer's large messages then cost no allocation and no fresh pages each (a large malloc is a
 * fresh mapping, every page of it a fault). Released by msg_free, never kept by the caller. */
static unsigned char *rx_buf;
static size_t rx_cap;

static void msg_free(unsigned char *data)
{
    if (data != rx_buf)
        ah__free(data);
}

/* One message; *data (NUL-terminated) or NULL, released with msg_free. 1, or 0 at the end. */
static int msg_read(int fd, msg_hdr *h, unsigned char **data)
{
    *data = NULL;
    if (read_all(fd, h, sizeof(*h)) != 1)
        return 0;
    if (h->type == WM_DATA) {
        if (h->len + 1 > rx_cap) {
            rx_cap = h->len + 1 > 2 * rx_cap ? h->len + 1 : 2 * rx_cap;
            ah__free(rx_buf);
            rx_buf = ah__malloc(rx_cap);
        }
        *data = rx_buf;
    } else {
        *data = ah__malloc(h->len + 1);
    }
    (*data)[h->len] = '\0';
    if (h->len > 0 && read_all(fd, *data, h->len) != 1) {
        msg_free(*data);
        *data = NULL;
        return 0;
    }
    return 1;
}

/* A connection between two processes: one end here, a remote end standing for the other
 * process's socket. */
typedef struct wlink {
    ah__list link;
    uint32_t id;
    ah__conn *c;
    int side; /* the remote end's side of c */
    int fin_fwd, rst_fwd;
    struct member *m; /* owner side */
} wlink;

static wlink *link_find(ah__list *links, uint32_t id)
{
    ah__list *q;
    for (q = links->next; q != links; q = q->next) {
        wlink *l = ah__container_of(q, wlink, link);
        if (l->id == id)
            return l;
    }
    return NULL;
}

/* The largest WM_DATA message; a member's outgoing messages go out during its turn once they
 * pass WORLD_OUT_FLUSH bytes (the owner reads them as they come), so a bulk transfer touches a
 * few MB of buffers instead of fresh buffers the size of everything sent at one instant. */
#define WORLD_MSG_MAX (1u << 20)
#define WORLD_OUT_FLUSH (4u << 20)

/* What reached the remote end: forwarded to the other process, consumed here. */
static void link_take(wlink *l, outbuf *o)
{
    ah__flow *f = &l->c->flow[1 - l->side];
    size_t n = (size_t)(f->arr - f->rd);

    /* In messages of at most WORLD_MSG_MAX bytes: the receiver's buffer (msg_read) stays that
     * small however much a turn carries. */
    while (n > 0) {
        size_t piece = n < WORLD_MSG_MAX ? n : WORLD_MSG_MAX;
        out_put(o, WM_DATA, l->id, 0, f->buf + (f->rd - f->base), piece);
        ah__flow_consume(f, piece);
        n -= piece;
    }
    if (f->fin_arrived && !l->fin_fwd) {
        l->fin_fwd = 1;
        out_put(o, WM_FIN, l->id, 0, NULL, 0);
    }
    if (f->rst_arrived && !l->rst_fwd) {
        l->rst_fwd = 1;
        out_put(o, WM_RST, l->id, 0, NULL, 0);
    }
}

/* The other process sent bytes, a FIN or a reset on the connection: they leave the remote end
 * now, through this process's network (its latency and faults). */
static void link_apply(wlink *l, int type, const void *data, size_t n)
{
    if (l->c->end[l->side].closed)
        return;
    if (type == WM_DATA)
        ah__flow_send(l->c, l->side, data, n);
    else if (type == WM_FIN)
        ah__flow_send_fin(l->c, l->side);
    else if (type == WM_RST)
        ah__flow_send_rst(l->c, l->side, 0);
}

static void links_free(ah__list *links)
{
    while (!ah__list_empty(links)) {
        wlink *l = ah__container_of(links->next, wlink, link);
        ah__list_remove(&l->link);
        ah__free(l);
    }
}

/* ====================================================================================== */
/* The owner: its members                                                                  */
/* ====================================================================================== */

typedef struct member {
    ah__proc *pr;
    ah_sim *sim;
    int fd;
    ah__event ev; /* its next turn, on the loop that spawned it */
    outbuf out;   /* deliveries for its next turn */
    ah__list links;
    uint32_t next_link;
    char **env; /* the child's environment, until it started */
    int child_fd;
    char (*listens)[AH__ADDR_MAX + 2]; /* [0]: 't' or 'p', then the address */
    size_t n_listens;
    char (*told)[AH__ADDR_MAX + 2]; /* the addresses listened on elsewhere it was told of */
    size_t n_told;
    char *fail;
    uint64_t turns;
    unsigned char *told_dns; /* the DNS table it was sent last */
    size_t n_told_dns;
    int joined;     /* counted in owner_members */
    int stdin_wait; /* blocked in a read of a stdio pipe the owner feeds, within its turn */
    int stranger;   /* started separately (AH_WORLD): not the owner's child, not reaped */
} member;

/* Members of this process's world still joined (the owner's blocking waits run the world). */
static int owner_members;
static void member_joined(member *m)
{
    m->joined = 1;
    owner_members++;
}

static void member_turn(ah__event *ev);

/* Blocking waits of the program for the world now (world_hold): members' turns keep their loops
 * alive while there is one. */
static int owner_holds;

static void member_wake(member *m, uint64_t at_ns)
{
    if (m->fd < 0 || m->pr->state != AH__PROC_RUNNING)
        return;
    if (ah__event_scheduled(&m->ev) && m->ev.node.due <= at_ns && m->ev.batch_index == 0)
        return;
    /* A turn wakes no poll of the owner by itself; while a blocking wait of the owner holds for
     * the world, members' turns keep its loop alive. */
    m->ev.flags = AH__EV_SILENT | (owner_holds > 0 ? AH__EV_REF : 0);
    ah__event_schedule(m->pr->loop, &m->ev, at_ns);
}

/* ---- UDP across processes (docs/world.md, "UDP") ----
 *
 * An address bound in another process of the world is a proxy endpoint in this process's datagram
 * network, bound there (so this process cannot bind it too, as on one host): a datagram that
 * reaches it is sent to the owner (a member's proxy) or to the member bound there (an owner's
 * proxy), which sends it on from the same source address through its own network. In the owner
 * the proxies are the members' bound addresses, so a datagram between two processes crosses the
 * owner's network once, with its datagram faults; in a member the proxies take what its program
 * sends elsewhere at once (no fault of the member applies). */

typedef struct udp_proxy {
    ah__list link; /* udp_proxies */
    ah__dgram_ep ep;
    ah_sim *sim;
    member *m;   /* owner: the member bound there (NULL once it is gone); NULL in a member */
    outbuf *out; /* where what reaches it goes */
    char what[AH__ADDR_MAX + 2];
} udp_proxy;

static ah__list udp_proxies = {&udp_proxies, &udp_proxies};
static const int udp_proxies_key;
static uint32_t udp_port_ranges; /* the owner: ephemeral ranges handed to members */

static void udp_pack(outbuf *o, const ah__addr *from, const ah__addr *to, const void *data,
                     size_t n)
{
    size_t a = strlen(from->str) + 1, b = strlen(to->str) + 1;
    unsigned char *p = ah__malloc(a + b + n + 1);

    memcpy(p, from->str, a);
    memcpy(p + a, to->str, b);
    if (n > 0)
        memcpy(p + a + b, data, n);
    out_put(o, WM_UDP, 0, 0, p, a + b + n);
    ah__free(p);
}

static udp_proxy *udp_proxy_at(ah_sim *sim, const ah__addr *a)
{
    ah__list *q;

    for (q = udp_proxies.next; q != &udp_proxies; q = q->next) {
        udp_proxy *x = ah__container_of(q, udp_proxy, link);
        if (x->sim == sim && x->ep.bound && x->ep.addr.port == a->port &&
            (strcmp(x->ep.addr.host, a->host) == 0 || strcmp(x->ep.addr.host, "0.0.0.0") == 0 ||
             strcmp(x->ep.addr.host, "::") == 0))
            return x;
    }
    return NULL;
}

/* A datagram crossed a partition between two processes (ah_world_partition): lost. */
static int udp_cut(ah_sim *sim, const ah__proc *x, const ah__proc *y, const ah__addr *to, size_t n)
{
    char what[AH__ADDR_MAX + 480];

    if (x == y || !ah__world_pair_cut(sim, x, y))
        return 0;
    snprintf(what, sizeof(what),
             "datagram of %zu bytes to %s lost: a partition between %.150s and %.150s", n, to->str,
             x != NULL ? x->file : "self", y != NULL ? y->file : "self");
    ah__trace_note(sim, "world", what);
    return 1;
}

static void udp_proxy_recv(ah__dgram_ep *ep, const ah__addr *from, const void *data, size_t n)
{
    udp_proxy *x = ah__container_of(ep, udp_proxy, ep);

    if (x->out == NULL)
        return; /* its member is gone */
    if (x->m != NULL) {
        /* from the owner's own sockets (a member's datagram was checked as it crossed) */
        udp_proxy *src = udp_proxy_at(x->sim, from);
        if (src == NULL && udp_cut(x->sim, NULL, x->m->pr, &ep->addr, n))
            return;
    }
    udp_pack(x->out, from, &ep->addr, data, n);
    if (x->m != NULL)
        member_wake(x->m, x->sim->clock.now_ns);
}

static void udp_proxies_destroy(ah_sim *sim, void *state)
{
    ah__list *q, *next;

    for (q = udp_proxies.next; q != &udp_proxies; q = next) {
        udp_proxy *x = ah__container_of(q, udp_proxy, link);
        next = q->next;
        if (x->sim != sim)
            continue;
        /* the datagram network outlives this (made before it): only its list is touched */
        if (x->ep.bound)
            ah__list_remove(&x->ep.link);
        ah__dgram_ep_forget(&x->ep);
        ah__list_remove(&x->link);
        ah__free(x);
    }
    ah__free(state);
}

/* Binds a proxy of `what` ("u" then the address) in sim's network; 0 when it is taken here. */
static int udp_proxy_bind(ah_sim *sim, uv_loop_t *loop, member *m, outbuf *out, const char *what)
{
    static const ah__ext ext = {
        .key = &udp_proxies_key, .name = "world-udp", .destroy = udp_proxies_destroy};
    udp_proxy *x;
    ah__addr a;

    if (ah__addr_parse(what + 1, 1, &a) != 0)
        return 0;
    x = ah__calloc(1, sizeof(*x));
    ah__dgram_ep_init(sim, &x->ep, loop);
    ah__ext_get_or_add(sim, &ext, 1); /* after the network: freed before it */
    x->ep.recv = udp_proxy_recv;
    x->ep.v6only = 1;
    if (ah__dgram_bind(&x->ep, &a) != 0) {
        ah__free(x);
        return 0; /* bound here already */
    }
    x->ep.reading = 1; /* what is due now is taken at once (dgram.c's enqueue) */
    x->sim = sim;
    x->m = m;
    x->out = out;
    snprintf(x->what, sizeof(x->what), "%s", what);
    ah__list_insert_tail(&udp_proxies, &x->link);
    return 1;
}

static void udp_proxy_unbind(ah_sim *sim, member *m, const char *what)
{
    ah__list *q;

    for (q = udp_proxies.next; q != &udp_proxies; q = q->next) {
        udp_proxy *x = ah__container_of(q, udp_proxy, link);
        if (x->sim == sim && x->m == m && strcmp(x->what, what) == 0) {
            ah__dgram_unbind(&x->ep);
            ah__list_remove(&x->link);
            ah__free(x);
            return;
        }
    }
}

/* Member m bound the UDP address `what` ("u" then the address), or no longer does: a proxy of it
 * in the owner's network, and one of its addresses (m->listens). */
static void udp_listen_set(member *m, const char *what, int on)
{
    size_t i;

    if (on) {
        if (!udp_proxy_bind(m->sim, m->pr->loop, m, &m->out, what))
            return; /* bound in the owner already */
        m->listens = ah__realloc(m->listens, (m->n_listens + 1) * sizeof(*m->listens));
        snprintf(m->listens[m->n_listens++], sizeof(*m->listens), "%s", what);
        return;
    }
    udp_proxy_unbind(m->sim, m, what);
    for (i = 0; i < m->n_listens; i++)
        if (strcmp(m->listens[i], what) == 0) {
            memmove(&m->listens[i], &m->listens[i + 1],
                    (m->n_listens - i - 1) * sizeof(*m->listens));
            m->n_listens--;
            break;
        }
}

/* Member m is freed: its proxies take nothing more (their memory goes with the sim's). */
static void udp_member_gone(member *m)
{
    ah__list *q;

    for (q = udp_proxies.next; q != &udp_proxies; q = q->next) {
        udp_proxy *x = ah__container_of(q, udp_proxy, link);
        if (x->m == m) {
            x->m = NULL;
            x->out = NULL;
        }
    }
}

/* A datagram another process sent (payload: from, to, bytes) leaves `from` now, through this
 * process's datagram network (its faults). `sender`: the member it came from (the owner), or NULL.
 */
static void udp_send_from(ah_sim *sim, uv_loop_t *loop, member *sender, const unsigned char *p,
                          size_t n)
{
    const char *from = (const char *)p, *to;
    size_t a, b;
    ah__addr fa, ta;
    ah__dgram_ep t;
    uv_buf_t buf;

    a = strnlen(from, n) + 1;
    if (a >= n)
        return;
    to = from + a;
    b = strnlen(to, n - a) + 1;
    if (a + b > n || ah__addr_parse(from, 1, &fa) != 0 || ah__addr_parse(to, 1, &ta) != 0)
        return;
    if (sender == NULL && udp_proxy_at(sim, &ta) != NULL)
        return; /* bound elsewhere again (it moved): not sent back */
    if (sender != NULL) {
        udp_proxy *dst = udp_proxy_at(sim, &ta);
        if (udp_cut(sim, sender->pr, dst != NULL ? dst->m != NULL ? dst->m->pr : NULL : NULL, &ta,
                    n - a - b))
            return;
    }
    memset(&t, 0, sizeof(t));
    ah__dgram_ep_init(sim, &t, loop);
    t.addr = fa;
    snprintf(t.label, sizeof(t.label), "udp %s", fa.str);
    buf = uv_buf_init((char *)p + a + b, (unsigned)(n - a - b));
    ah__dgram_send(&t, &ta, &buf, 1);
}

/* The addresses bound outside member m (the owner's and the other members'), as "u" entries. */
static size_t udp_tell(member *m, char (*cur)[AH__ADDR_MAX + 2], size_t n, size_t max)
{
    ah__dgram_ep *ep = NULL;

    while (n < max && (ep = ah__dgram_bound_next(m->sim, ep)) != NULL) {
        if (ep->recv == udp_proxy_recv && ah__container_of(ep, udp_proxy, ep)->m == m)
            continue;
        if (ah__addr_is_multicast(&ep->addr))
            continue;
        snprintf(cur[n++], sizeof(cur[0]), "u%s", ep->addr.str);
    }
    return n;
}

/* A member's first turn: where its ephemeral ports start, apart from every other process's. */
static void udp_first_turn(member *m)
{
    uint32_t k = ++udp_port_ranges;
    out_put(&m->out, WM_PORTS, 0, 40001u + 1000u * (k % 9u + 1u), NULL, 0);
}

static void owner_end_incoming(void *ctx)
{
    wlink *l = ctx;
    link_take(l, &l->m->out);
    member_wake(l->m, l->m->sim->clock.now_ns);
}
static void owner_end_writable(void *ctx) { (void)ctx; }
/* What travels to a member while a blocking wait of the owner holds for the world wakes it, so
 * it keeps that wait going (between two members started separately, a client's last bytes before
 * it exits reach the server). */
static int owner_end_waiting(void *ctx) { return (void)ctx, owner_holds > 0; }
static uv_loop_t *owner_end_loop(void *ctx) { return ((wlink *)ctx)->m->pr->loop; }
static const ah__end_ops owner_end_ops = {owner_end_incoming, owner_end_writable, owner_end_waiting,
                                          owner_end_loop};

/* A connection reached an address a member listens on. */
static void member_arrived(void *ctx, ah__conn *c)
{
    member *m = ctx;
    wlink *l = ah__calloc(1, sizeof(*l));
    char pair[2 * AH__ADDR_MAX];
    size_t n1 = strlen(c->end[0].addr.str), n2 = strlen(c->end[1].addr.str);

    l->id = ++m->next_link;
    l->c = c;
    l->side = 1;
    l->m = m;
    ah__list_insert_tail(&m->links, &l->link);
    c->end[1].ops = &owner_end_ops;
    c->end[1].ctx = l;
    memcpy(pair, c->end[0].addr.str, n1 + 1);
    memcpy(pair + n1 + 1, c->end[1].addr.str, n2 + 1);
    out_put(&m->out, WM_CONNECT, l->id, 0, pair, n1 + n2 + 2);
    ah__world_conn_made(m->sim, c);
    member_wake(m, m->sim->clock.now_ns);
}
static uv_loop_t *member_listen_loop(void *ctx) { return ((member *)ctx)->pr->loop; }
static const ah__listen_ops member_listen_ops = {member_arrived, member_listen_loop};

static ah__proc *end_proc(const ah__conn *c, int side)
{
    if (c->end[side].ops == &owner_end_ops)
        return ((wlink *)c->end[side].ctx)->m->pr;
    /* the accepting end of a connection on its way to a member's listener */
    if (side == 1 && c->end[1].ops == NULL && c->route != NULL &&
        c->route->lops == &member_listen_ops)
        return ((member *)c->route->lctx)->pr;
    return NULL;
}

static void listen_set(member *m, const char *what, int on)
{
    ah__net *net;
    ah__addr a;
    ah__route *r;
    size_t i;

    if (what[0] == 'u') {
        udp_listen_set(m, what, on);
        return;
    }
    net = ah__net_get(m->sim);
    if (ah__addr_parse(what + 1, what[0] == 't', &a) != 0)
        return;
    r = ah__route_get(net, &a);
    if (on) {
        if (ah__route_listens(r))
            return; /* the owner listens there itself */
        r->lops = &member_listen_ops;
        r->lctx = m;
        m->listens = ah__realloc(m->listens, (m->n_listens + 1) * sizeof(*m->listens));
        snprintf(m->listens[m->n_listens++], sizeof(*m->listens), "%s", what);
    } else {
        if (r->lctx == m) {
            r->lops = NULL;
            r->lctx = NULL;
        }
        for (i = 0; i < m->n_listens; i++)
            if (strcmp(m->listens[i], what) == 0) {
                memmove(&m->listens[i], &m->listens[i + 1],
                        (m->n_listens - i - 1) * sizeof(*m->listens));
                m->n_listens--;
                break;
            }
    }
}

static size_t member_stdio_out(member *m);

/* The member's process ended (its socket closed): reaped for real, it exits now. */
static void member_died(member *m)
{
    ah__proc *pr = m->pr;
    int status = 0, st = 0, sig = 0;
    char note[400];

    libc.close(m->fd);
    m->fd = -1;
    if (m->joined) {
        m->joined = 0;
        owner_members--;
    }
    if (!pr->real_reaped && m->stranger) {
        /* Not a child: no status to reap. Without its WM_STATUS it ended without exit (a
         * signal, which the owner cannot know): seen as killed by SIGKILL. */
        pr->real_reaped = 1;
        pr->real_status = SIGKILL;
    }
    if (!pr->real_reaped) {
        while (ah__real_waitpid(pr->real_pid, &status, 0) < 0 && errno == EINTR)
            ;
        pr->real_reaped = 1;
        pr->real_status = status;
    }
    if (WIFSIGNALED(pr->real_status))
        sig = WTERMSIG(pr->real_status);
    else if (WIFEXITED(pr->real_status))
        st = WEXITSTATUS(pr->real_status);
    /* The kernel closes its sockets: FIN, or a reset where unread bytes are left. */
    while (!ah__list_empty(&m->links)) {
        wlink *l = ah__container_of(m->links.next, wlink, link);
        ah__list_remove(&l->link);
        if (!l->c->end[l->side].closed)
            ah__end_close(l->c, l->side, 0);
        ah__free(l);
    }
    while (m->n_listens > 0)
        listen_set(m, m->listens[m->n_listens - 1], 0);
    member_stdio_out(m); /* its last output, before its pipes' EOF */
    snprintf(note, sizeof(note), "member %s ends: %s %d", pr->file, sig ? "signal" : "exit",
             sig ? sig : st);
    ah__trace_note(m->sim, "world", note);
    ah__proc_exited(pr, st, sig);
    if (m->fail != NULL) {
        char *f = m->fail;
        m->fail = NULL;
        ah__fail(m->sim, "%s (pid %d), a process of this world, failed:\n%s", pr->file, pr->pid, f);
    }
}

/* Its UV_CREATE_PIPE stdio: real socketpairs (proc/process.c). Before a turn, what the parent
 * wrote to a pipe the member reads is written to it (and its EOF); after a turn, what the member
 * wrote during it is in the socket's buffer and reaches the parent at that instant. */
static size_t member_stdio_in(member *m)
{
    ah__proc *pr = m->pr;
    ah__flow *f;
    ssize_t w;
    size_t n, moved = 0;
    int i;

    for (i = 0; i < pr->nstdio; i++) {
        ah__pstdio *io = &pr->stdio[i];
        if (io->conn == NULL || io->real_fd < 0 || !(io->flags & UV_READABLE_PIPE) ||
            io->real_wr_closed)
            continue;
        f = &io->conn->flow[0];
        while ((n = (size_t)(f->arr - f->rd)) > 0) {
            w = libc.send(io->real_fd, f->buf + (f->rd - f->base), n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w <= 0)
                break;
            ah__flow_consume(f, (size_t)w);
            moved += (size_t)w;
        }
        /* (the parent's closing is its FIN, which arrives after what it wrote) */
        if (f->arr == f->rd && (f->fin_arrived || f->rst_arrived)) {
            libc.shutdown(io->real_fd, SHUT_WR);
            io->real_wr_closed = 1;
            moved++;
        }
    }
    return moved;
}

static size_t member_stdio_out(member *m)
{
    ah__proc *pr = m->pr;
    char buf[16384];
    size_t moved = 0;
    ssize_t n;
    int i;

    for (i = 0; i < pr->nstdio; i++) {
        ah__pstdio *io = &pr->stdio[i];
        if (io->conn == NULL || io->real_fd < 0 || !(io->flags & UV_WRITABLE_PIPE))
            continue;
        while ((n = libc.recv(io->real_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
            moved += (size_t)n;
            if (!io->conn->end[1].closed)
                ah__flow_send(io->conn, 1, buf, (size_t)n);
        }
    }
    return moved;
}

/* Diffs of two sets of addresses as LISTEN/UNLISTEN messages; `old` becomes `cur`. */
static void listens_diff(outbuf *o, char (**old)[AH__ADDR_MAX + 2], size_t *n_old,
                         char (*cur)[AH__ADDR_MAX + 2], size_t n)
{
    size_t i, j;

    for (i = 0; i < *n_old; i++) {
        for (j = 0; j < n && strcmp(cur[j], (*old)[i]) != 0; j++)
            ;
        if (j == n)
            out_put(o, WM_UNLISTEN, 0, 0, (*old)[i], strlen((*old)[i]) + 1);
    }
    for (j = 0; j < n; j++) {
        for (i = 0; i < *n_old && strcmp(cur[j], (*old)[i]) != 0; i++)
            ;
        if (i == *n_old)
            out_put(o, WM_LISTEN, 0, 0, cur[j], strlen(cur[j]) + 1);
    }
    *old = ah__realloc(*old, (n ? n : 1) * sizeof(**old));
    memcpy(*old, cur, n * sizeof(**old));
    *n_old = n;
}

#define MAX_LISTENS 64

/* What listens in the world outside member m: the owner's listeners and scripted peers, and the
 * other members'. */
static void tell_listens(member *m)
{
    ah__net *net = ah__net_find(m->sim);
    char cur[MAX_LISTENS][AH__ADDR_MAX + 2];
    size_t n = 0;
    ah__list *q;

    if (net != NULL)
        for (q = net->routes.next; q != &net->routes && n < MAX_LISTENS; q = q->next) {
            ah__route *r = ah__container_of(q, ah__route, link);
            if (r->listener != NULL || (r->peer != NULL && r->peer->listening) ||
                (r->lops != NULL && r->lctx != m))
                snprintf(cur[n++], sizeof(cur[0]), "%c%s", r->addr.family == AF_UNIX ? 'p' : 't',
                         r->addr.str);
        }
    n = udp_tell(m, cur, n, MAX_LISTENS);
    listens_diff(&m->out, &m->told, &m->n_told, cur, n);
}

/* The owner's DNS table, when it changed since member m was last sent it. */
static void tell_dns(member *m)
{
    unsigned char *p;
    size_t n;

    ah__world_dns_pack(m->sim, &p, &n);
    if (n == m->n_told_dns && (n == 0 || memcmp(p, m->told_dns, n) == 0)) {
        ah__free(p);
        return;
    }
    out_put(&m->out, WM_DNS, 0, 0, p, n);
    ah__free(m->told_dns);
    m->told_dns = p;
    m->n_told_dns = n;
}

/* A process of the world connects from member m to an address listened on outside it. */
static void member_connect(member *m, uint32_t id, const char *pair)
{
    ah__net *net = ah__net_get(m->sim);
    const char *server = pair + strlen(pair) + 1;
    ah__addr cl, sv;
    ah__conn *c = NULL;
    uint64_t due;
    wlink *l;

    if ((ah__addr_parse(server, 1, &sv) != 0 && ah__addr_parse(server, 0, &sv) != 0) ||
        ah__net_connect_end(net, (ah__addr_parse(pair, sv.family != AF_UNIX, &cl) == 0 ? &cl : &sv),
                            &sv, m->pr->loop, &c, &due) != 0 ||
        c == NULL) {
        out_put(&m->out, WM_RST, id, 0, NULL, 0);
        member_wake(m, m->sim->clock.now_ns);
        return;
    }
    l = ah__calloc(1, sizeof(*l));
    l->id = id;
    l->c = c;
    l->side = 0;
    l->m = m;
    ah__list_insert_tail(&m->links, &l->link);
    c->end[0].ops = &owner_end_ops;
    c->end[0].ctx = l;
    ah__world_conn_made(m->sim, c);
}

/* Whether the member is blocked in a read(2) of one of its stdio pipes that the owner feeds, every
 * byte of it read: it waits for the parent's bytes within its turn (fgets on stdin, which no
 * interposition sees), and runs on when they are delivered (docs/world.md, "Pipes"). The kernel
 * says where it blocks (/proc/PID/syscall). */
static int member_reads_stdio(member *m)
{
    char path[64], line[256];
    ah__pstdio *io;
    long nr;
    unsigned long fd;
    int queued = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/syscall", m->pr->real_pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    nr = -1;
    if (fgets(line, sizeof(line), f) == NULL || sscanf(line, "%ld 0x%lx", &nr, &fd) != 2)
        nr = -1;
    fclose(f);
    if (nr != SYS_read || fd >= (unsigned long)m->pr->nstdio)
        return 0;
    io = &m->pr->stdio[fd];
    if (io->conn == NULL || io->real_fd < 0 || !(io->flags & UV_READABLE_PIPE) ||
        io->real_wr_closed)
        return 0;
    if (ioctl(io->real_fd, SIOCOUTQ, &queued) != 0 || queued > 0)
        return 0; /* bytes are there: it is about to return */
    return 1;
}

/* Waits (in real time) for the member to answer; a member that keeps the baton too long (blocked
 * for real, or computing) fails the test naming it. 0 when its socket ended, 2 when it blocks
 * reading a stdio pipe the owner feeds. */
static int turn_wait(member *m)
{
    const char *v = getenv("AH_WORLD_TURN_MS");
    int limit_ms = v != NULL && atoi(v) > 0 ? atoi(v) : 30000, r, waited = 0, slice = 1;
    struct pollfd pf = {m->fd, POLLIN, 0};
    char where[160];

    for (;;) {
        do
            r = libc.poll(&pf, 1, slice);
        while (r < 0 && errno == EINTR);
        if (r != 0)
            break;
        waited += slice;
        if (member_reads_stdio(m))
            return 2;
        if (waited >= limit_ms)
            break;
        slice = slice < 64 ? slice * 2 : 64;
        if (slice > limit_ms - waited)
            slice = limit_ms - waited;
    }
    if (r == 0)
        ah__fail(m->sim,
                 "%s (pid %d, spawned in %s), a process of this world, kept its turn at +%llu ms "
                 "for %d ms of real time without handing it back (blocked outside the sim, or "
                 "computing; AH_WORLD_TURN_MS sets the limit)",
                 m->pr->file, m->pr->pid, ah__site_str(&m->pr->site, where, sizeof(where)),
                 (unsigned long long)ah_now_ms(m->sim), limit_ms);
    return r > 0;
}

static void member_turn(ah__event *ev)
{
    member *m = ah__container_of(ev, member, ev);
    ah_sim *sim = m->sim;
    unsigned char *data;
    msg_hdr h;
    wlink *l;

    if (m->fd < 0 || m->pr->state != AH__PROC_RUNNING)
        return;
    if (m->stdin_wait) {
        /* The rest of the turn it blocked in: what the parent wrote since, then its answer. */
        m->stdin_wait = 0;
        member_stdio_in(m);
        goto answer;
    }
    if (++m->turns == 1)
        udp_first_turn(m);
    tell_listens(m);
    tell_dns(m);
    member_stdio_in(m);
    /* RUN, the deliveries, GO: one write */
    {
        msg_hdr run = {WM_RUN, 0, sim->clock.now_ns, 0, 0};
        size_t n = m->out.len;
        out_put(&m->out, WM_GO, 0, 0, NULL, 0);
        out_put(&m->out, WM_RUN, 0, 0, NULL, 0); /* room for the header in front */
        memmove(m->out.p + sizeof(run), m->out.p, n + sizeof(msg_hdr));
        memcpy(m->out.p, &run, sizeof(run));
        if (out_flush(m->fd, &m->out) != 0) {
            member_died(m);
            return;
        }
    }
answer:
    for (;;) {
        int w = turn_wait(m);
        if (w == 2) {
            member_stdio_out(m); /* what it wrote before it blocked */
            m->stdin_wait = 1;
            return; /* world_stdio_arrived resumes it */
        }
        if (w == 0 || !msg_read(m->fd, &h, &data)) {
            member_died(m);
            return;
        }
        switch (h.type) {
        case WM_YIELD:
            /* A member waiting on its stdio pipes runs again at once when its output was taken
             * (its writes may wait for room) or more of its input fits now. */
            {
                size_t moved = member_stdio_out(m);
                moved += member_stdio_in(m);
                if (moved > 0 && h.id == 1) {
                    member_wake(m, sim->clock.now_ns);
                    msg_free(data);
                    return;
                }
            }
            if (h.a != UINT64_MAX)
                member_wake(m, h.a > sim->clock.now_ns ? h.a : sim->clock.now_ns);
            msg_free(data);
            return;
        case WM_LISTEN:
        case WM_UNLISTEN:
            listen_set(m, (const char *)data, h.type == WM_LISTEN);
            break;
        case WM_CONNECT:
            member_connect(m, h.id, (const char *)data);
            break;
        case WM_DATA:
        case WM_FIN:
        case WM_RST:
            if ((l = link_find(&m->links, h.id)) != NULL)
                link_apply(l, (int)h.type, data, h.len);
            break;
        case WM_TEARDOWN:
            ah__world_teardown_report(sim, m->pr, (const char *)data, ah_now_ms(sim));
            break;
        case WM_UDP:
            udp_send_from(sim, m->pr->loop, m, data, h.len);
            break;
        case WM_STATUS:
            if (m->stranger) {
                m->pr->real_reaped = 1;
                m->pr->real_status = (int)h.a;
            }
            break;
        case WM_FAIL:
            ah__free(m->fail);
            m->fail = (char *)data;
            data = NULL;
            break;
        default:
            break;
        }
        msg_free(data);
    }
}

/* ---- the proc/ hooks ---- */

/* Whether the file `path` is a harness-linked program (holds the marker). */
static int file_has_marker(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t mlen = strlen(ah__world_marker), keep = 0, n;
    static char buf[65536 + 64]; /* not on the stack: exec may run on a signal stack (crash.c) */
    int found = 0;

    if (f == NULL)
        return 0;
    while (!found && (n = fread(buf + keep, 1, sizeof(buf) - 64 - keep, f)) > 0) {
        n += keep;
        if (memmem(buf, n, ah__world_marker, mlen) != NULL)
            found = 1;
        keep = n < mlen ? n : mlen - 1;
        memmove(buf, buf + n - keep, keep);
    }
    fclose(f);
    return found;
}

static int program_joins(const char *file, char **env)
{
    static char path[4096];
    const char *p = NULL, *e;
    size_t i;

    if (getenv("AH_WORLD_OFF") != NULL)
        return 0;
    if (strchr(file, '/') != NULL)
        return file_has_marker(file);
    for (i = 0; env != NULL && env[i] != NULL; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            p = env[i] + 5;
    if (p == NULL)
        p = getenv("PATH");
    if (p == NULL)
        p = "/usr/local/bin:/usr/bin:/bin";
    while (*p != '\0') {
        e = strchr(p, ':');
        if (e == NULL)
            e = p + strlen(p);
        snprintf(path, sizeof(path), "%.*s/%s", (int)(e - p), p, file);
        if (access(path, X_OK) == 0)
            return file_has_marker(path);
        p = *e ? e + 1 : e;
    }
    return 0;
}

static int world_prepare(ah__proc *pr, const uv_process_options_t *o, char ***env_out)
{
    char **src = o->env != NULL ? o->env : environ;
    member *m;
    int sp[2], hi, n = 0, i, k = 0;
    char var[48];

    libc_resolve();
    /* A child the parent feeds through a pipe joins too: one that blocks reading it for real
     * (fgets on stdin) is seen blocked there and resumed when the parent's bytes come
     * (turn_wait). AH_WORLD_PIPE_INPUT=0 keeps such children out, running for real. */
    for (i = 0; i < o->stdio_count; i++)
        if ((o->stdio[i].flags & UV_CREATE_PIPE) && (o->stdio[i].flags & UV_READABLE_PIPE) &&
            getenv("AH_WORLD_PIPE_INPUT") != NULL &&
            strcmp(getenv("AH_WORLD_PIPE_INPUT"), "0") == 0)
            return -1;
    if (!program_joins(o->file, src))
        return -1;
    if (libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
        return -1;
    /* Far above the descriptors the child's stdio takes (at most 64). */
    hi = libc.fcntl(sp[1], F_DUPFD_CLOEXEC, 200);
    libc.close(sp[1]);
    if (hi < 0) {
        libc.close(sp[0]);
        return -1;
    }
    m = ah__calloc(1, sizeof(*m));
    m->pr = pr;
    m->sim = pr->st->sim;
    m->fd = sp[0];
    m->child_fd = hi;
    ah__list_init(&m->links);
    m->ev.fire = member_turn;
    m->ev.what = "a member process's turn";
    m->ev.site = pr->site;
    m->ev.owner = pr->handle;
    while (src != NULL && src[n] != NULL)
        n++;
    m->env = ah__calloc((size_t)n + 2, sizeof(char *));
    for (i = 0; i < n; i++)
        if (strncmp(src[i], "AH_WORLD_FD=", 12) != 0)
            m->env[k++] = src[i];
    snprintf(var, sizeof(var), "AH_WORLD_FD=%d", hi);
    m->env[k++] = ah__strdup(var);
    m->env[k] = NULL;
    pr->world = m; /* until started() decides */
    *env_out = m->env;
    return hi;
}

static void member_free(member *m)
{
    if (m->joined)
        owner_members--;
    if (m->fd >= 0)
        libc.close(m->fd);
    if (ah__event_scheduled(&m->ev) || m->ev.batch_index != 0)
        ah__event_cancel(&m->ev);
    links_free(&m->links);
    udp_member_gone(m);
    ah__free(m->listens);
    ah__free(m->told);
    ah__free(m->out.p);
    ah__free(m->fail);
    ah__free(m->told_dns);
    ah__free(m);
}

static void env_free(member *m)
{
    size_t i;
    if (m->env == NULL)
        return;
    for (i = 0; m->env[i] != NULL; i++)
        if (strncmp(m->env[i], "AH_WORLD_FD=", 12) == 0)
            ah__free(m->env[i]);
    ah__free(m->env);
    m->env = NULL;
}

static int world_started(ah__proc *pr, int ok)
{
    member *m = pr->world;
    struct pollfd pf;
    unsigned char *data = NULL;
    msg_hdr h;
    char note[320];
    int r;

    env_free(m);
    libc.close(m->child_fd);
    m->child_fd = -1;
    pr->world = NULL;
    if (!ok) {
        member_free(m);
        return 0;
    }
    /* The child's hello, in real time: a harness-linked program says it before main. */
    pf.fd = m->fd;
    pf.events = POLLIN;
    do
        r = libc.poll(&pf, 1, 10000);
    while (r < 0 && errno == EINTR);
    if (r <= 0 || !msg_read(m->fd, &h, &data) || h.type != WM_HELLO) {
        msg_free(data);
        member_free(m); /* it runs for real, as any program (its end of the socket closes) */
        return 0;
    }
    msg_free(data);
    /* The real time spent waiting for the hello is the world's, not the calling callback's (a
     * supervisor restarting a crashed member from a timer is not a slow callback). */
    if (m->sim->in_callback > 0)
        ah__cb_restart_clock(m->sim);
    pr->world = m;
    member_joined(m);
    snprintf(note, sizeof(note), "%s joins the world", pr->file);
    ah__trace_note(m->sim, "world", note);
    member_wake(m, m->sim->clock.now_ns); /* its first turn: at the spawn instant */
    return 1;
}

static int world_signal(ah__proc *pr, int signum)
{
    member *m = pr->world;

    if (signum == 0)
        return 0;
    if (m->stdin_wait) {
        /* Blocked in a read outside the sim: the kernel delivers it, as to a real process. */
        ah__real_kill(m->pr->real_pid, signum);
        member_wake(m, m->sim->clock.now_ns);
        return 0;
    }
    out_put(&m->out, WM_SIGNAL, 0, (uint64_t)signum, NULL, 0);
    member_wake(m, m->sim->clock.now_ns);
    return 0;
}

static void world_describe(ah__proc *pr, ah__buf *b)
{
    member *m = pr->world;
    size_t i;

    if (m->stdin_wait)
        ah__buf_printf(b, ", blocked in a read of a stdio pipe its parent feeds (its turn resumes "
                          "when the parent writes to it or closes it)");
    else if (ah__event_scheduled(&m->ev))
        ah__buf_printf(b, ", its next turn due at +%llu ms",
                       (unsigned long long)ah__rel_ms(m->sim, m->ev.node.due));
    else
        ah__buf_printf(b, ", waiting for something to be delivered to it (nothing of it is due)");
    for (i = 0; i < m->n_listens; i++)
        ah__buf_printf(b, "%s%s", i == 0 ? "; it listens on " : ", ", m->listens[i] + 1);
}

static void world_stdio_arrived(ah__proc *pr)
{
    member *m = pr->world;
    member_wake(m, m->sim->clock.now_ns);
}

static void world_gone(ah__proc *pr)
{
    member *m = pr->world;
    pr->world = NULL;
    member_free(m); /* the caller kills and reaps the process */
}

/* ---- posix_spawn and posix_spawnp: a harness-linked program joins as through uv_spawn ---- */

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);

static int spawn_join(int search, pid_t *pid, const char *path,
                      const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                      char *const argv[], char *const envp[])
{
    static spawn_fn real[2];
    ah_sim *sim = ah_sim_current();
    uv_process_options_t o;
    ah__proc *pr;
    char file[4096], **wenv = NULL;
    pid_t cpid = 0;
    int wfd, r;

    if (real[search] == NULL)
        *(void **)&real[search] = dlsym(RTLD_NEXT, search ? "posix_spawnp" : "posix_spawn");
    if (sim == NULL || path == NULL)
        return real[search](pid, path, fa, attr, argv, envp);
    /* posix_spawn takes a name without a slash as a path in the working directory */
    snprintf(file, sizeof(file), "%s%s", !search && strchr(path, '/') == NULL ? "./" : "", path);
    pr = ah__proc_bare_new(sim, file, AH__CALLER(search ? "posix_spawnp" : "posix_spawn"));
    memset(&o, 0, sizeof(o));
    o.file = file;
    o.env = (char **)envp;
    wfd = world_prepare(pr, &o, &wenv);
    if (wfd < 0) {
        ah__proc_bare_drop(pr); /* not harness-linked: the program's real child, as before */
        return real[search](pid, path, fa, attr, argv, envp);
    }
    libc.fcntl(wfd, F_SETFD, 0); /* the child inherits it (world_started closes the parent's) */
    r = real[search](&cpid, path, fa, attr, argv, wenv);
    if (r != 0) {
        world_started(pr, 0);
        ah__proc_bare_drop(pr);
        return r;
    }
    if (pid != NULL)
        *pid = cpid;
    ah__proc_bare_started(pr, (int)cpid);
    if (!world_started(pr, 1))
        ah__proc_bare_drop(pr); /* no hello: it runs for real, the program's real child */
    return 0;
}

AH__LIBC(posix_spawn, 16, AH__LIBC_SIGNAL);
int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn_join(0, pid, path, fa, attr, argv, envp);
}

AH__LIBC(posix_spawnp, 17, AH__LIBC_SIGNAL);
int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn_join(1, pid, file, fa, attr, argv, envp);
}

/* ---- fork and exec: a child the program forks that execs a harness-linked program joins ---- */

/* Every fork() under a sim makes a socketpair (fork.c asks): the child keeps its end for an exec
 * (exec_fd); the parent keeps the other end while fork.c looks at the child, and takes the
 * child's hello there: the child is then a member, through a bare child record of proc/. */
typedef struct fork_wait {
    ah__list link;
    int pid;
    int fd;
} fork_wait;

static ah__list fork_waits = {&fork_waits, &fork_waits};
static int fork_parent_end = -1; /* between fork_prepare and the fork's return */
static int exec_fd = -1; /* in a forked child: what a harness-linked program it execs gets */

static int world_fork_prepare(void)
{
    int sp[2], hi;

    libc_resolve();
    if (getenv("AH_WORLD_OFF") != NULL ||
        libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
        return -1;
    hi = libc.fcntl(sp[1], F_DUPFD_CLOEXEC, 200);
    libc.close(sp[1]);
    if (hi < 0) {
        libc.close(sp[0]);
        return -1;
    }
    fork_parent_end = sp[0];
    return hi;
}

static void world_fork_child(int fd)
{
    libc.close(fork_parent_end);
    fork_parent_end = -1;
    while (!ah__list_empty(&fork_waits)) { /* the parent's children are not this process's */
        fork_wait *w = ah__container_of(fork_waits.next, fork_wait, link);
        ah__list_remove(&w->link);
        libc.close(w->fd);
        ah__free(w);
    }
    if (exec_fd >= 0)
        libc.close(exec_fd);
    exec_fd = fd;
}

static void world_fork_parent(int pid, int fd)
{
    fork_wait *w;

    libc.close(fd);
    if (pid <= 0) {
        libc.close(fork_parent_end);
    } else {
        w = ah__calloc(1, sizeof(*w));
        w->pid = pid;
        w->fd = fork_parent_end;
        ah__list_insert_tail(&fork_waits, &w->link);
    }
    fork_parent_end = -1;
}

static fork_wait *fork_wait_find(int pid)
{
    ah__list *q;
    for (q = fork_waits.next; q != &fork_waits; q = q->next)
        if (ah__container_of(q, fork_wait, link)->pid == pid)
            return ah__container_of(q, fork_wait, link);
    return NULL;
}

static void world_fork_forget(int pid)
{
    fork_wait *w = fork_wait_find(pid);
    if (w == NULL)
        return;
    ah__list_remove(&w->link);
    libc.close(w->fd);
    ah__free(w);
}

static int fork_join(ah_sim *sim, fork_wait *w, ah__site site);
static int fork_joined(ah_sim *sim, int pid);

static int world_fork_look(ah_sim *sim, int pid, ah__site site)
{
    fork_wait *w = fork_wait_find(pid);
    struct pollfd pf;

    if (w == NULL)
        return fork_joined(sim, pid); /* it joined already, in a blocking wait (fork_settle) */
    pf.fd = w->fd;
    pf.events = POLLIN;
    pf.revents = 0;
    if (libc.poll(&pf, 1, 0) <= 0)
        return 0;
    return fork_join(sim, w, site);
}

/* The forked child of `w` said something (its hello) or its end closed: it joins now (1), or is
 * forgotten (0: it exited or exec'd a program outside the world). */
static int fork_join(ah_sim *sim, fork_wait *w, ah__site site)
{
    unsigned char *data = NULL;
    char file[128], note[320];
    int pid = w->pid;
    msg_hdr h;
    ah__proc *pr;
    member *m;

    if (!msg_read(w->fd, &h, &data) || h.type != WM_HELLO) {
        msg_free(data); /* its end closed: it exec'd a program outside the world, or exited */
        world_fork_forget(pid);
        return 0;
    }
    snprintf(file, sizeof(file), "%.*s", h.len > 0 ? (int)h.len - 1 : 0, data ? (char *)data : "");
    msg_free(data);
    pr = ah__proc_bare_new(sim, file[0] != '\0' ? file : "a forked child", site);
    ah__proc_bare_started(pr, pid);
    m = ah__calloc(1, sizeof(*m));
    m->pr = pr;
    m->sim = sim;
    m->fd = w->fd;
    m->child_fd = -1;
    ah__list_init(&m->links);
    m->ev.fire = member_turn;
    m->ev.what = "a member process's turn";
    m->ev.site = site;
    pr->world = m;
    member_joined(m);
    w->fd = -1;
    ah__list_remove(&w->link);
    ah__free(w);
    snprintf(note, sizeof(note), "%s (forked, exec'd) joins the world", pr->file);
    ah__trace_note(sim, "world", note);
    member_wake(m, sim->clock.now_ns);
    return 1;
}

static struct {
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
} exec_libc;

static int exec_shell; /* system()'s child: its shell passes AH_WORLD_FD on (world_system) */

/* In a forked child: the environment for a harness-linked `file`, with AH_WORLD_FD (NULL: it
 * does not join, the exec goes on as before). */
static char **exec_env(const char *file, int search, char *const envp[])
{
    static char path[4096];
    char var[48], **env;
    size_t n = 0, k = 0, i;

    if (exec_fd < 0 || file == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s%s", !search && strchr(file, '/') == NULL ? "./" : "", file);
    if (!exec_shell && !program_joins(path, (char **)envp))
        return NULL;
    while (envp != NULL && envp[n] != NULL)
        if (strncmp(envp[n++], "AH_WORLD_FD=", 12) == 0)
            return NULL; /* uv_spawn's own child, which joins through its spawner */
    env = calloc(n + 2, sizeof(char *));
    if (env == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        if (strncmp(envp[i], "AH_WORLD_FD=", 12) != 0)
            env[k++] = envp[i];
    snprintf(var, sizeof(var), "AH_WORLD_FD=%d", exec_fd);
    env[k++] = strdup(var);
    libc.fcntl(exec_fd, F_SETFD, 0);
    return env;
}

static int exec_join(int search, const char *file, char *const argv[], char *const envp[])
{
    char **env = exec_env(file, search, envp);
    int r, e;

    if (env == NULL)
        return search ? exec_libc.execvpe(file, argv, envp) : exec_libc.execve(file, argv, envp);
    r = search ? exec_libc.execvpe(file, argv, env) : exec_libc.execve(file, argv, env);
    e = errno;
    libc.fcntl(exec_fd, F_SETFD, FD_CLOEXEC);
    free(env);
    errno = e;
    return r;
}

AH__LIBC(execve, 11, AH__LIBC_SIGNAL);
int execve(const char *path, char *const argv[], char *const envp[])
{
    return exec_join(0, path, argv, envp);
}

AH__LIBC(execv, 10, AH__LIBC_SIGNAL);
int execv(const char *path, char *const argv[]) { return exec_join(0, path, argv, environ); }

AH__LIBC(execvpe, 12, AH__LIBC_SIGNAL);
int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return exec_join(1, file, argv, envp);
}

AH__LIBC(execvp, 11, AH__LIBC_SIGNAL);
int execvp(const char *file, char *const argv[]) { return exec_join(1, file, argv, environ); }

/* ---- system(): a harness-linked program the shell starts joins the world ---- */

/* system(3) as fork (proc/fork.c, which makes the socketpair of a forked child), an exec of
 * /bin/sh -c with AH_WORLD_FD in its environment (the shell is not harness-linked, but passes the
 * environment and the descriptor on to the program it starts), and a blocking waitpid: a program
 * that said hello is a member, and the wait runs the world as the owner's blocking waits do; a
 * command outside the world closes the end (its exit, or its exec of a program without the
 * harness) and runs for real, the wait the C library's. Outside a sim, with AH_WORLD_OFF, or
 * without a command (is a shell there?), the C library's system. */
AH__LIBC(system, 11, AH__LIBC_SIGNAL);
int system(const char *command)
{
    static int (*real)(const char *);
    char *argv[4];
    int st = 0;
    pid_t pid, r;

    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "system");
    if (command == NULL || ah_sim_current() == NULL || getenv("AH_WORLD_OFF") != NULL)
        return real(command);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        argv[0] = "sh";
        argv[1] = "-c";
        argv[2] = (char *)command;
        argv[3] = NULL;
        exec_shell = 1;
        execve("/bin/sh", argv, environ);
        _exit(127);
    }
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    return r < 0 ? -1 : st;
}

/* ====================================================================================== */
/* The owner's blocking waits (docs/world.md): a program that waits for its processes      */
/* outside any loop (libuv's own runner: a read on a pipe, waitpid) runs the world meanwhile */
/* ====================================================================================== */

/* Whether the forked child `pid` joined already, in a blocking wait (it is a bare child). */
static int fork_joined(ah_sim *sim, int pid)
{
    ah__pstate *st = ah__pstate_find(sim);
    ah__list *q;

    if (st == NULL)
        return 0;
    for (q = st->procs.next; q != &st->procs; q = q->next) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        if (pr->bare && pr->pid == pid && pr->world != NULL)
            return 1;
    }
    return 0;
}

/* Each forked child `pid` names (-1: all) that may still exec a harness-linked program: its hello
 * makes it join now, its closed end forgets it. With `block`, waits in real time for that (the
 * child runs for real until its exec or exit); otherwise looks only. */
static void forks_settle(ah_sim *sim, int pid, int block, ah__site site)
{
    struct pollfd pf;
    ah__list *q;
    int r;

again:
    for (q = fork_waits.next; q != &fork_waits; q = q->next) {
        fork_wait *w = ah__container_of(q, fork_wait, link);
        if (pid != -1 && w->pid != pid)
            continue;
        pf.fd = w->fd;
        pf.events = POLLIN;
        pf.revents = 0;
        do
            r = libc.poll(&pf, 1, block ? -1 : 0);
        while (r < 0 && errno == EINTR);
        if (r > 0) {
            fork_join(sim, w, site); /* either way, w leaves the list */
            if (pid != -1)
                return;
            goto again;
        }
    }
}

/* A blocking wait for the world begins or ends: the members' next turns are referenced events
 * meanwhile (the program runs no loop; outside such a wait a member keeps no loop alive, as a
 * child libuv does not know of). */
static void world_hold(ah_sim *sim, int on)
{
    ah__pstate *st = ah__pstate_find(sim);
    ah__list *q;

    owner_holds += on ? 1 : -1;
    if (st == NULL || (on && owner_holds != 1) || (!on && owner_holds != 0))
        return;
    for (q = st->procs.next; q != &st->procs; q = q->next) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        member *m = pr->world;
        uint64_t due;
        if (m == NULL || !m->joined || !ah__event_scheduled(&m->ev) || m->ev.batch_index != 0)
            continue;
        due = m->ev.node.due;
        ah__event_cancel(&m->ev);
        m->ev.flags = on ? AH__EV_REF : 0;
        ah__event_schedule(pr->loop, &m->ev, due);
    }
}

static void world_fork_settle(ah_sim *sim, int pid, ah__site site)
{
    libc_resolve();
    forks_settle(sim, pid, pid > 0, site);
}

typedef struct real_wait {
    int fd;
    short events;
} real_wait;

static int real_ready(void *ctx)
{
    real_wait *w = ctx;
    struct pollfd pf = {w->fd, w->events, 0};
    int r;

    do
        r = libc.poll(&pf, 1, 0);
    while (r < 0 && errno == EINTR);
    return r != 0; /* ready, or an error the call itself reports */
}

#define MAX_REAL_WAIT 64

/* A blocking call of the test's thread on a real descriptor (fd/socket.c's read). When this
 * process has members, or forked children that may still join, only they (or the kernel, for
 * the latter) can make it ready: forked children that exec a harness-linked program join, and
 * while any member is joined the sim runs (members' turns, timers) until the descriptor is ready;
 * nothing left to run is the owner's deadlock report, naming the call and each member. */
static void world_real_block(int fd, short events, const char *call, const void *ret)
{
    real_wait rw = {fd, events};
    struct pollfd pf[MAX_REAL_WAIT + 1];
    char verb[400], where[160];
    ah__site site;
    ah_sim *sim;
    ah__list *q;
    int n, r, fl;

    if (owner_members == 0 && ah__list_empty(&fork_waits))
        return;
    if ((sim = ah_sim_current()) == NULL || sim->in_callback > 0 || sim->in_verb ||
        ah__twait_off_main(sim))
        return;
    libc_resolve();
    if ((fl = libc.fcntl(fd, F_GETFL)) < 0 || (fl & O_NONBLOCK) || real_ready(&rw))
        return;
    site = ah__site_take(call, ret);
    for (;;) {
        forks_settle(sim, -1, 0, site);
        if (owner_members > 0) {
            snprintf(verb, sizeof(verb),
                     "%s on descriptor %d (a real one) in %s waits for the processes of this world",
                     call, fd, ah__site_str(&site, where, sizeof(where)));
            world_hold(sim, 1);
            ah__run_until_pred(sim, verb, real_ready, &rw);
            world_hold(sim, 0);
            return;
        }
        if (ah__list_empty(&fork_waits) || real_ready(&rw))
            return;
        /* forked children that may yet exec a harness-linked program: in real time, the
         * descriptor or one of them */
        pf[0].fd = fd;
        pf[0].events = events;
        n = 1;
        for (q = fork_waits.next; q != &fork_waits && n <= MAX_REAL_WAIT; q = q->next) {
            pf[n].fd = ah__container_of(q, fork_wait, link)->fd;
            pf[n++].events = POLLIN;
        }
        do
            r = libc.poll(pf, (nfds_t)n, -1);
        while (r < 0 && errno == EINTR);
        if (r < 0 || pf[0].revents != 0)
            return;
    }
}

/* ====================================================================================== */
/* A member                                                                                */
/* ====================================================================================== */

static struct {
    int fd; /* to the owner, -1: not a member */
    uint64_t now_ns;
    int have_now;
    ah_sim *sim;
    outbuf out;
    ah__list links;
    char (*listens)[AH__ADDR_MAX + 2];
    size_t n_listens;
    uint32_t next_link;
    pid_t pid;            /* a child it forks (fork()) goes on outside the world */
    int failed;           /* a harness failure was sent */
    char owner_path[108]; /* started separately: AH_WORLD's path (its owner is ah-world) */
} me = {.fd = -1};

static void me_lost(void)
{
    /* The owner is gone (its test ended): nothing is left to run this process. */
    _exit(0);
}

/* ====================================================================================== */
/* Programs started separately (AH_WORLD=PATH): ah-world listens there as the owner         */
/* ====================================================================================== */

typedef struct stranger {
    int fd, pid;
    char name[256];
} stranger;

static uint64_t real_ms(void)
{
    struct timespec ts;
    ah__real_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int stranger_cmp(const void *a, const void *b)
{
    const stranger *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->pid > y->pid) - (x->pid < y->pid);
}

/* Listens on the unix socket `path`, takes the hellos of `n` programs started with AH_WORLD=path
 * (waiting up to `join_ms` of real time for them), and makes them members of the current sim's
 * world, in the order of their program names (not of their arrival, which is the kernel's), their
 * first turns at this instant. Their pids go to `pids`, their programs to `names`; returns how many
 * joined, -1 (with a message on stderr) when the socket cannot be made. */
int ah__world_serve(const char *path, int n, int join_ms, int *pids, char (*names)[256])
{
    int (*rsocket)(int, int, int), (*rbind)(int, const struct sockaddr *, socklen_t);
    int (*rlisten)(int, int), (*raccept)(int, struct sockaddr *, socklen_t *);
    ah_sim *sim = ah__sim();
    struct sockaddr_un a;
    struct stat sb;
    stranger *s;
    int lfd, k = 0, i;
    uint64_t start;

    libc_resolve();
    *(void **)&rsocket = dlsym(RTLD_NEXT, "socket");
    *(void **)&rbind = dlsym(RTLD_NEXT, "bind");
    *(void **)&rlisten = dlsym(RTLD_NEXT, "listen");
    *(void **)&raccept = dlsym(RTLD_NEXT, "accept");
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(a.sun_path)) {
        fprintf(stderr, "ah-world: %s: path too long for a unix socket\n", path);
        return -1;
    }
    strcpy(a.sun_path, path);
    if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
        unlink(path); /* a stale owner's socket; anything else there is an error below */
    lfd = rsocket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || rbind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || rlisten(lfd, 64) != 0) {
        fprintf(stderr, "ah-world: cannot listen on %s: %s\n", path, strerror(errno));
        if (lfd >= 0)
            libc.close(lfd);
        return -1;
    }
    s = ah__calloc((size_t)(n > 0 ? n : 1), sizeof(*s));
    start = real_ms();
    while (k < n) {
        struct pollfd pf = {lfd, POLLIN, 0};
        long left = (long)join_ms - (long)(real_ms() - start);
        unsigned char *data = NULL;
        msg_hdr h;
        int fd, r;

        if (left <= 0)
            break;
        r = libc.poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        fd = raccept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        libc.fcntl(fd, F_SETFD, FD_CLOEXEC);
        pf.fd = fd;
        if (libc.poll(&pf, 1, 10000) <= 0 || !msg_read(fd, &h, &data) || h.type != WM_HELLO) {
            msg_free(data);
            libc.close(fd);
            continue;
        }
        s[k].fd = fd;
        s[k].pid = (int)h.a;
        snprintf(s[k].name, sizeof(s[k].name), "%s", data != NULL ? (char *)data : "?");
        msg_free(data);
        k++;
    }
    libc.close(lfd);
    unlink(path);
    qsort(s, (size_t)k, sizeof(*s), stranger_cmp);
    for (i = 0; i < k; i++) {
        ah__proc *pr = ah__proc_bare_new(sim, s[i].name, AH__CALLER("ah-world"));
        member *m = ah__calloc(1, sizeof(*m));
        char note[320];

        ah__proc_bare_started(pr, s[i].pid);
        m->pr = pr;
        m->sim = sim;
        m->fd = s[i].fd;
        m->child_fd = -1;
        m->stranger = 1;
        ah__list_init(&m->links);
        m->ev.fire = member_turn;
        m->ev.what = "a member process's turn";
        m->ev.site = AH__CALLER("ah-world");
        pr->world = m;
        member_joined(m);
        snprintf(note, sizeof(note), "%s (started separately, AH_WORLD) joins the world", pr->file);
        ah__trace_note(sim, "world", note);
        member_wake(m, sim->clock.now_ns);
        pids[i] = s[i].pid;
        memcpy(names[i], s[i].name, sizeof(names[i]));
    }
    ah__free(s);
    return k;
}

/* In a program started with AH_WORLD=PATH (and no AH_WORLD_FD): its connection to the owner. No
 * owner listening there is a clear message and exit status 125, never a hang nor a run alone. */
static int world_dial(const char *path)
{
    int (*rsocket)(int, int, int), (*rconnect)(int, const struct sockaddr *, socklen_t);
    struct sockaddr_un a;
    int fd;

    *(void **)&rsocket = dlsym(RTLD_NEXT, "socket");
    *(void **)&rconnect = dlsym(RTLD_NEXT, "connect");
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    fd = rsocket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || strlen(path) >= sizeof(a.sun_path) ||
        rconnect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        fprintf(stderr,
                "asyncharness: %s (pid %d): AH_WORLD=%s names no world: %s (start `ah-world -n "
                "N %s` first, or unset AH_WORLD to run alone; docs/world.md)\n",
                program_invocation_name, (int)getpid(), path,
                strlen(path) >= sizeof(a.sun_path) ? "path too long" : strerror(errno), path);
        _exit(125);
    }
    return fd;
}

/* A member started separately tells its exit status: the owner is not its parent. */
static void me_status(int status, void *arg)
{
    (void)arg;
    if (me.fd < 0 || getpid() != me.pid)
        return;
    out_put(&me.out, WM_STATUS, 0, (uint64_t)((status & 0xff) << 8), NULL, 0);
}

/* During a turn the owner reads this process's messages until its yield: a large batch goes out
 * now rather than growing the buffer (WORLD_OUT_FLUSH). */
static void me_out_early(void)
{
    if (me.out.len >= WORLD_OUT_FLUSH && me.fd >= 0 && getpid() == me.pid &&
        out_flush(me.fd, &me.out) != 0)
        me_lost();
}

static void me_end_incoming(void *ctx)
{
    link_take(ctx, &me.out);
    me_out_early();
}
static void me_end_writable(void *ctx) { (void)ctx; }
static int me_end_waiting(void *ctx) { return (void)ctx, 0; }
static uv_loop_t *me_end_loop(void *ctx)
{
    wlink *l = ctx;
    return ah__conn_loop(l->c);
}
static const ah__end_ops me_end_ops = {me_end_incoming, me_end_writable, me_end_waiting,
                                       me_end_loop};

static void me_connect(uint32_t id, const char *pair)
{
    ah_sim *sim = ah__sim();
    ah__net *net = ah__net_get(sim);
    ah__addr cl, sv;
    ah__route *lst;
    ah__conn *c = NULL;
    uint64_t due;
    wlink *l;
    const char *server = pair + strlen(pair) + 1;

    if (ah__addr_parse(server, 1, &sv) != 0 && ah__addr_parse(server, 0, &sv) != 0) {
        out_put(&me.out, WM_RST, id, 0, NULL, 0);
        return;
    }
    if (ah__addr_parse(pair, sv.family != AF_UNIX, &cl) != 0)
        cl = sv;
    lst = ah__route_listening(net, &sv);
    if (lst == NULL || lst->listener == NULL ||
        ah__net_connect_end(net, &cl, &sv, lst->listener->loop, &c, &due) != 0 || c == NULL) {
        out_put(&me.out, WM_RST, id, 0, NULL, 0);
        return;
    }
    l = ah__calloc(1, sizeof(*l));
    l->id = id;
    l->c = c;
    l->side = 0;
    ah__list_insert_tail(&me.links, &l->link);
    c->end[0].ops = &me_end_ops;
    c->end[0].ctx = l;
}

/* A connect of this process reached an address another process of the world listens on. */
static void me_arrived(void *ctx, ah__conn *c)
{
    wlink *l = ah__calloc(1, sizeof(*l));
    char pair[2 * AH__ADDR_MAX];
    size_t n1 = strlen(c->end[0].addr.str), n2 = strlen(c->end[1].addr.str);

    (void)ctx;
    l->id = 0x80000000u | ++me.next_link; /* apart from the owner's numbers */
    l->c = c;
    l->side = 1;
    ah__list_insert_tail(&me.links, &l->link);
    c->end[1].ops = &me_end_ops;
    c->end[1].ctx = l;
    memcpy(pair, c->end[0].addr.str, n1 + 1);
    memcpy(pair + n1 + 1, c->end[1].addr.str, n2 + 1);
    out_put(&me.out, WM_CONNECT, l->id, 0, pair, n1 + n2 + 2);
}
/* The loop that takes a connection to another process's address: the program's loop that is
 * alive (the connecting one: a test may run a loop of its own, not the default loop). */
static uv_loop_t *me_listen_loop(void *ctx)
{
    ah_sim *sim = me.sim != NULL ? me.sim : ah__sim();
    ah__list *q;

    (void)ctx;
    for (q = sim->loops.next; q != &sim->loops; q = q->next) {
        ah__loop *lp = ah__container_of(q, ah__loop, link);
        if (ah__loop_is_alive(lp->loop))
            return lp->loop;
    }
    return uv_default_loop();
}
static const ah__listen_ops me_listen_ops = {me_arrived, me_listen_loop};

/* Another process of the world listens on `what` (or no longer does). */
static void me_remote_listen(const char *what, int on)
{
    ah__net *net = ah__net_get(ah__sim());
    ah__addr a;
    ah__route *r;

    if (ah__addr_parse(what + 1, what[0] == 't', &a) != 0)
        return;
    r = ah__route_get(net, &a);
    if (on && !ah__route_listens(r)) {
        r->lops = &me_listen_ops;
        r->lctx = NULL;
    } else if (!on && r->lops == &me_listen_ops) {
        r->lops = NULL;
    }
}

/* Another process of the world bound the UDP address `what` (or no longer does): a proxy here. */
static void me_udp_remote(const char *what, int on)
{
    ah_sim *sim = ah__sim();

    if (on)
        udp_proxy_bind(sim, me_listen_loop(NULL), NULL, &me.out, what);
    else
        udp_proxy_unbind(sim, NULL, what);
}

/* Where this member's ephemeral UDP ports start (the owner's WM_PORTS), applied to its sim when
 * it has one (me_attach) rather than making it before main. */
static uint32_t me_udp_first_port;
static void me_udp_ports(uint32_t first)
{
    me_udp_first_port = first;
    if (me.sim != NULL)
        ah__dgram_ports_from(me.sim, first);
}

/* The UDP addresses this process's program bound, as "u" entries (me_listens). */
static size_t me_udp_bound(ah_sim *sim, char (*cur)[AH__ADDR_MAX + 2], size_t n, size_t max)
{
    ah__dgram_ep *ep = NULL;

    while (n < max && (ep = ah__dgram_bound_next(sim, ep)) != NULL)
        if (ep->recv != udp_proxy_recv && !ah__addr_is_multicast(&ep->addr))
            snprintf(cur[n++], sizeof(cur[0]), "u%s", ep->addr.str);
    return n;
}

/* A signal from another process of the world reached this one. */
static void me_signal(int signum)
{
    ah_sim *sim = ah__sim();
    ah__pstate *st = ah__pstate_get(sim);
    struct sigaction cur;
    sigset_t one;

    if (ah__sig_watched(st, signum)) {
        ah__sig_catch(st, signum, "a signal from another process of the world", (ah__site){0});
        return;
    }
    if (sigaction(signum, NULL, &cur) == 0 && cur.sa_handler == SIG_IGN)
        return;
    if (signum == SIGCHLD || signum == SIGCONT || signum == SIGURG || signum == SIGWINCH)
        if (cur.sa_handler == SIG_DFL)
            return;
    /* Its own disposition: the default action ends the process for real, as the kernel would;
     * a handler the program installed itself runs. */
    out_flush(me.fd, &me.out);
    sigemptyset(&one);
    sigaddset(&one, signum);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    ah__real_kill(getpid(), signum);
}

/* The listening addresses of this process, told to the owner when they change. */
static void me_listens(ah_sim *sim)
{
    ah__net *net = ah__net_find(sim);
    char cur[MAX_LISTENS][AH__ADDR_MAX + 2];
    size_t n = 0;
    ah__list *q;

    if (net != NULL)
        for (q = net->routes.next; q != &net->routes && n < MAX_LISTENS; q = q->next) {
            ah__route *r = ah__container_of(q, ah__route, link);
            if (r->listener != NULL)
                snprintf(cur[n++], sizeof(cur[0]), "%c%s", r->addr.family == AF_UNIX ? 'p' : 't',
                         r->addr.str);
        }
    n = me_udp_bound(sim, cur, n, MAX_LISTENS);
    listens_diff(&me.out, &me.listens, &me.n_listens, cur, n);
}

/* Waits for the next turn: RUN(instant), deliveries, GO. */
static void me_wait_turn(void)
{
    unsigned char *data;
    msg_hdr h;
    wlink *l;

    for (;;) {
        if (!msg_read(me.fd, &h, &data))
            me_lost();
        switch (h.type) {
        case WM_RUN:
            me.now_ns = h.a;
            me.have_now = 1;
            if (me.sim != NULL && h.a > me.sim->clock.now_ns)
                ah__clock_set(me.sim, h.a);
            break;
        case WM_GO:
            msg_free(data);
            return;
        case WM_CONNECT:
            me_connect(h.id, (const char *)data);
            break;
        case WM_LISTEN:
        case WM_UNLISTEN:
            if (data != NULL && data[0] == 'u')
                me_udp_remote((const char *)data, h.type == WM_LISTEN);
            else
                me_remote_listen((const char *)data, h.type == WM_LISTEN);
            break;
        case WM_UDP:
            udp_send_from(ah__sim(), me_listen_loop(NULL), NULL, data, h.len);
            break;
        case WM_PORTS:
            me_udp_ports((uint32_t)h.a);
            break;
        case WM_DATA:
        case WM_FIN:
        case WM_RST:
            if ((l = link_find(&me.links, h.id)) != NULL)
                link_apply(l, (int)h.type, data, h.len);
            break;
        case WM_SIGNAL:
            me_signal((int)h.a);
            break;
        case WM_DNS:
            ah__world_dns_apply(ah__sim(), data, h.len);
            break;
        default:
            break;
        }
        msg_free(data);
    }
}

static int me_time_pass(ah_sim *sim, uint64_t due_ns, int *r)
{
    if (me.fd < 0 || sim != me.sim || getpid() != me.pid)
        return 0;
    if (sim->threads_live > 0)
        ah__fail(sim,
                 "this process is a member of a world (docs/world.md) and runs simulated threads "
                 "(a thread pool job, pthread_create): a member's threads would move its clock "
                 "apart from the world's, which is not simulated yet");
    me_listens(sim);
    /* id 1: it waits on real descriptors (its stdio pipes), which the owner's moves may wake */
    out_put(&me.out, WM_YIELD, due_ns == AH__WORLD_REAL_WAIT,
            due_ns == AH__WORLD_REAL_WAIT ? UINT64_MAX : due_ns, NULL, 0);
    if (out_flush(me.fd, &me.out) != 0)
        me_lost();
    me_wait_turn();
    *r = 0;
    return 1;
}

static void me_fail(ah_sim *sim, const char *msg)
{
    (void)sim;
    if (me.fd < 0 || getpid() != me.pid)
        return;
    me.failed = 1;
    out_put(&me.out, WM_FAIL, 0, 0, msg, strlen(msg) + 1);
    out_flush(me.fd, &me.out);
}

static void me_attach(ah_sim *sim)
{
    me.sim = sim;
    if (sim->outside[0] == '\0' && me.owner_path[0] != '\0')
        snprintf(sim->outside, sizeof(sim->outside),
                 "in %s (pid %d), a process of the world ah-world owns at %s",
                 program_invocation_name, (int)getpid(), me.owner_path);
    else if (sim->outside[0] == '\0')
        snprintf(sim->outside, sizeof(sim->outside),
                 "in %s (pid %d), a process of the world of pid %d (its parent)",
                 program_invocation_name, (int)getpid(), (int)getppid());
    if (me.have_now && me.now_ns > sim->clock.now_ns)
        ah__clock_set(sim, me.now_ns);
    if (sim->on_fail == NULL)
        sim->on_fail = me_fail;
    if (me_udp_first_port != 0)
        me_udp_ports(me_udp_first_port);
}

/* A plain program's teardown report (handles, requests, ... left behind), for the owner to report
 * naming this process; none after a harness failure, which the owner reports already. */
static void me_teardown(ah_sim *sim)
{
    char *r;

    if (me.failed || getenv("AH_WORLD_NO_TEARDOWN") != NULL)
        return;
    r = ah_sim_check(sim);
    if (r != NULL) { /* its lines, under the owner's own heading */
        const char *lines = strchr(r, '\n') != NULL ? strchr(r, '\n') + 1 : r;
        out_put(&me.out, WM_TEARDOWN, 0, 0, lines, strlen(lines) + 1);
    }
    ah__free(r);
}

/* At the exit: what it still sent leaves with it (its sockets close in the owner). */
static void me_exit(void)
{
    if (me.fd < 0 || getpid() != me.pid)
        return;
    if (me.sim != NULL) {
        me_listens(me.sim);
        me_teardown(me.sim);
    }
    out_flush(me.fd, &me.out);
}

/* ---- start-up ---- */

__attribute__((constructor(103))) static void world_start(void)
{
    const char *v = getenv("AH_WORLD_FD");
    char *end;
    long fd;
    int stranger_exit = 0;

    ah__world_end_proc = end_proc;
    ah__proc_world.prepare = world_prepare;
    ah__proc_world.started = world_started;
    ah__proc_world.signal = world_signal;
    ah__proc_world.gone = world_gone;
    ah__proc_world.describe = world_describe;
    ah__proc_world.stdio_arrived = world_stdio_arrived;
    ah__proc_world.fork_prepare = world_fork_prepare;
    ah__proc_world.fork_child = world_fork_child;
    ah__proc_world.fork_parent = world_fork_parent;
    ah__proc_world.fork_look = world_fork_look;
    ah__proc_world.fork_forget = world_fork_forget;
    ah__proc_world.fork_settle = world_fork_settle;
    ah__proc_world.hold = world_hold;
    ah__fd_real_block_hook = world_real_block;
    /* resolved now: the exec functions run in a child between fork and exec (uv_spawn's too) */
    *(void **)&exec_libc.execve = dlsym(RTLD_NEXT, "execve");
    *(void **)&exec_libc.execvpe = dlsym(RTLD_NEXT, "execvpe");
    libc_resolve();
    if ((v == NULL || *v == '\0') && &ah__world_owner_program == NULL &&
        getenv("AH_WORLD") != NULL && *getenv("AH_WORLD") != '\0') {
        /* started separately: the owner is ah-world, listening at that path */
        fd = world_dial(getenv("AH_WORLD"));
        snprintf(me.owner_path, sizeof(me.owner_path), "%s", getenv("AH_WORLD"));
        unsetenv("AH_WORLD");
        stranger_exit = 1;
    } else {
        if (v == NULL || *v == '\0')
            return;
        fd = strtol(v, &end, 10);
        unsetenv("AH_WORLD_FD"); /* its own children are not members of this world by inheritance */
        if (*end != '\0' || fd < 0 || libc.fcntl((int)fd, F_GETFD) < 0)
            return;
    }
    libc.fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    me.fd = (int)fd;
    me.pid = getpid();
    ah__list_init(&me.links);
    /* its program, for an owner that did not start it by name (fork and exec) */
    out_put(&me.out, WM_HELLO, 0, (uint64_t)getpid(), program_invocation_name,
            strlen(program_invocation_name) + 1);
    if (out_flush(me.fd, &me.out) != 0) {
        me.fd = -1;
        return;
    }
    ah__world_hooks.attach = me_attach;
    ah__world_hooks.time_pass = me_time_pass;
    atexit(me_exit);
    if (stranger_exit)
        on_exit(me_status, NULL); /* runs before me_exit, which sends it */
    me_wait_turn();               /* main runs in the member's first turn */
}
