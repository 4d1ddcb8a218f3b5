/* The datagram network: bound endpoints, datagrams in flight to them, multicast groups,
 * broadcast, and the faults of include/ah/udp.h (latency, loss, duplication, reordering,
 * truncation at an MTU), every one drawn through ah__choose. Uses the fake network's addresses
 * only (internal_net.h); nothing of the stream side includes this file's header. */
#include "internal_dgram.h"

#include <ah/udp.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const int dgram_key;

/* Faults for datagrams sent to a destination pattern: "127.0.0.1:9000", "127.0.0.1" or "*". */
typedef struct dgram_rule {
    ah__list link;
    char pat[AH__ADDR_MAX];
    int has_lat;
    uint64_t lat_min, lat_max;
    unsigned loss_pct, dup_pct;
    uint64_t reorder_ms;
    size_t mtu;
    unsigned drop_next;
    int send_err;            /* ah_udp_send_error: sends fail at once with it */
    unsigned send_err_times; /* how many more (0 with send_err set: every one) */
    int icmp_err;            /* ah_udp_icmp_error: the network answers with this ICMP error */
    uint64_t lost;           /* datagrams this rule dropped, for reports */
} dgram_rule;

typedef struct dgram_msg {
    ah__list link;     /* ep->inflight, by (due, seq) */
    ah__list all_link; /* dg->msgs: freed with the sim, whichever of owner and network goes first */
    uint64_t due_ns, seq;
    ah__addr from;
    ah__site site; /* the send call that made it, for the trace */
    int icmp_err;  /* n == (size_t)-1: an ICMP error for a connected socket */
    size_t n;
    unsigned char data[];
} dgram_msg;

typedef struct ah__dgram {
    ah_sim *sim;
    ah__list eps;   /* bound endpoints */
    ah__list rules; /* dgram_rule */
    ah__list msgs;  /* every dgram_msg in flight */
    uint32_t next_port;
    uint64_t seq;
    uint64_t sent, delivered, lost, duplicated, truncated, overflowed;
    ah__site send_site; /* the send being made: its datagrams carry it */
} ah__dgram;

/* ", sent in f (t.c:12)" for a trace note (an unmarked site with its addr2line command), or ""
 * when the send's site is unknown (a scripted peer's). */
static const char *sent_in(const ah_sim *sim, const ah__site *site, char *buf, size_t n)
{
    char where[160], hint[320];

    if (site->file == NULL && site->ret == NULL)
        buf[0] = '\0';
    else
        snprintf(buf, n, ", sent in %s%s", ah__site_str(site, where, sizeof(where)),
                 ah__trace_site_hint(sim, site, hint, sizeof(hint)));
    return buf;
}

static void dgram_pending(ah_sim *sim, void *state, ah__buf *b);
static void dgram_destroy(ah_sim *sim, void *state);

static void dgram_init(ah_sim *sim, void *state)
{
    ah__dgram *dg = state;

    dg->sim = sim;
    ah__list_init(&dg->eps);
    ah__list_init(&dg->rules);
    ah__list_init(&dg->msgs);
    dg->next_port = 40001; /* apart from the TCP ports (50001...) so traces read easily */
}

struct ah__dgram *ah__dgram_get(ah_sim *sim)
{
    static const ah__ext dgram_ext = {
        .key = &dgram_key,
        .name = "dgram",
        .pending = dgram_pending,
        .destroy = dgram_destroy,
        .init = dgram_init,
    };

    return ah__ext_get_or_add(sim, &dgram_ext, sizeof(ah__dgram));
}

/* ---- addresses ---- */

static int is_any(const ah__addr *a)
{
    return strcmp(a->host, "0.0.0.0") == 0 || strcmp(a->host, "::") == 0;
}

int ah__addr_is_multicast(const ah__addr *a)
{
    if (a->family == AF_INET)
        return IN_MULTICAST(ntohl(((const struct sockaddr_in *)&a->sa)->sin_addr.s_addr));
    if (a->family == AF_INET6)
        return IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr);
    return 0;
}

static int is_broadcast(const ah__addr *a)
{
    return a->family == AF_INET && strcmp(a->host, "255.255.255.255") == 0;
}

static void with_port(const ah__addr *a, int port, ah__addr *out)
{
    struct sockaddr_storage ss = a->sa;

    if (a->family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    ah__addr_from_sockaddr((struct sockaddr *)&ss, out);
}

/* The IPv4-mapped IPv6 form of an IPv4 address (what a dual-stack socket sees). */
static void mapped_v6(const ah__addr *a4, ah__addr *out)
{
    struct sockaddr_in6 s6;

    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons((uint16_t)a4->port);
    s6.sin6_addr.s6_addr[10] = 0xff;
    s6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&s6.sin6_addr.s6_addr[12], &((const struct sockaddr_in *)&a4->sa)->sin_addr, 4);
    ah__addr_from_sockaddr((const struct sockaddr *)&s6, out);
}

/* ---- endpoints ---- */

void ah__dgram_ep_init(ah_sim *sim, ah__dgram_ep *ep, uv_loop_t *loop)
{
    ep->dg = ah__dgram_get(sim);
    ep->sim = sim;
    ep->loop = loop;
    ep->mcast_loop = 1;
    ah__list_init(&ep->link);
    ah__list_init(&ep->groups);
    ah__list_init(&ep->inflight);
}

static int port_taken(ah__dgram *dg, const ah__dgram_ep *self, const ah__addr *a)
{
    ah__list *q;

    for (q = dg->eps.next; q != &dg->eps; q = q->next) {
        ah__dgram_ep *o = ah__container_of(q, ah__dgram_ep, link);
        if (o == self || o->addr.port != a->port)
            continue;
        if (o->reuse && self->reuse)
            continue;
        if (strcmp(o->addr.host, a->host) == 0)
            return 1;
        /* A wildcard clashes with every address of its family (:: also with IPv4 unless
         * IPv6-only). */
        if (is_any(&o->addr) &&
            (o->addr.family == a->family || (o->addr.family == AF_INET6 && !o->v6only)))
            return 1;
        if (is_any(a) && (o->addr.family == a->family || (a->family == AF_INET6 && !self->v6only)))
            return 1;
    }
    return 0;
}

static uint32_t ephemeral(ah__dgram *dg, ah__dgram_ep *ep, const ah__addr *a)
{
    ah__addr t;
    int i;

    for (i = 0; i < 20000; i++) {
        uint32_t p = dg->next_port++;
        if (dg->next_port > 49999)
            dg->next_port = 40001;
        with_port(a, (int)p, &t);
        if (!port_taken(dg, ep, &t))
            return p;
    }
    return 0;
}

int ah__dgram_bind(ah__dgram_ep *ep, const ah__addr *addr)
{
    ah__dgram *dg = ep->dg;
    ah__addr a = *addr;

    if (ep->bound)
        return UV_EINVAL;
    if (!ah__addr_local(dg->sim, &a) && !ah__addr_is_multicast(&a))
        return UV_EADDRNOTAVAIL;
    if (a.port == 0) {
        uint32_t p = ephemeral(dg, ep, &a);
        if (p == 0)
            return UV_EADDRINUSE;
        with_port(addr, (int)p, &a);
    } else if (port_taken(dg, ep, &a)) {
        return UV_EADDRINUSE;
    }
    ep->addr = a;
    ep->bound = 1;
    snprintf(ep->label, sizeof(ep->label), "udp %s", a.str);
    ah__list_insert_tail(&dg->eps, &ep->link);
    return 0;
}

static dgram_msg *msg_alloc(ah__dgram *dg, size_t n)
{
    dgram_msg *m = ah__calloc(1, sizeof(*m) + (n ? n : 1));

    ah__list_insert_tail(&dg->msgs, &m->all_link);
    m->seq = ++dg->seq;
    return m;
}

static void msg_free(dgram_msg *m)
{
    ah__list_remove(&m->link);
    ah__list_remove(&m->all_link);
    ah__free(m);
}

static void inflight_clear(ah__dgram_ep *ep)
{
    ah__event_cancel(&ep->arrive_ev);
    while (!ah__list_empty(&ep->inflight))
        msg_free(ah__container_of(ep->inflight.next, dgram_msg, link));
}

void ah__dgram_unbind(ah__dgram_ep *ep)
{
    if (ep->dg == NULL)
        return;
    inflight_clear(ep);
    while (!ah__list_empty(&ep->groups)) {
        ah__list *q = ep->groups.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__dgram_group, link));
    }
    if (ep->bound)
        ah__list_remove(&ep->link);
    ep->bound = 0;
}

/* The source address a datagram from `ep` to `to` carries. */
static void source_for(const ah__dgram_ep *ep, const ah__addr *to, ah__addr *out)
{
    if (!is_any(&ep->addr)) {
        *out = ep->addr;
        return;
    }
    if (to->family == AF_INET && ep->addr.family == AF_INET6) {
        ah__addr v4;
        ah__local_for(to, (uint32_t)ep->addr.port, &v4);
        mapped_v6(&v4, out);
        return;
    }
    ah__local_for(to, (uint32_t)ep->addr.port, out);
}

void ah__dgram_local_name(const ah__dgram_ep *ep, ah__addr *out)
{
    if (ep->connected)
        source_for(ep, &ep->peer, out);
    else
        *out = ep->addr;
}

int ah__dgram_connect(ah__dgram_ep *ep, const ah__addr *peer)
{
    if (peer == NULL) {
        ep->connected = 0;
        memset(&ep->peer, 0, sizeof(ep->peer));
        return 0;
    }
    if (ep->addr.family == AF_INET && peer->family == AF_INET6)
        return UV_EAFNOSUPPORT;
    ep->connected = 1;
    ep->peer = *peer;
    ep->pending_error = 0;
    return 0;
}

int ah__dgram_membership(ah__dgram_ep *ep, const ah__addr *group, const ah__addr *source,
                         const char *iface, int join)
{
    ah__list *q;
    ah__dgram_group *g;

    if (!ah__addr_is_multicast(group))
        return UV_EINVAL;
    for (q = ep->groups.next; q != &ep->groups; q = q->next) {
        g = ah__container_of(q, ah__dgram_group, link);
        if (strcmp(g->group.host, group->host) != 0 || strcmp(g->iface, iface ? iface : "") != 0)
            continue;
        if ((source == NULL) != (g->source.family == 0) ||
            (source != NULL && strcmp(source->host, g->source.host) != 0))
            continue;
        if (join)
            return UV_EADDRINUSE;
        ah__list_remove(&g->link);
        ah__free(g);
        return 0;
    }
    if (!join)
        return UV_EADDRNOTAVAIL;
    g = ah__calloc(1, sizeof(*g));
    g->group = *group;
    if (source != NULL)
        g->source = *source;
    snprintf(g->iface, sizeof(g->iface), "%s", iface ? iface : "");
    ah__list_insert_tail(&ep->groups, &g->link);
    return 0;
}

/* ---- faults ---- */

static int pat_match(const char *pat, const ah__addr *a)
{
    return strcmp(pat, a->str) == 0 || strcmp(pat, a->host) == 0 || strcmp(pat, "*") == 0;
}

/* The most specific rule for datagrams to `to`: its address, then its host, then "*". */
static dgram_rule *rule_for(ah__dgram *dg, const ah__addr *to)
{
    dgram_rule *best = NULL;
    int best_rank = 0, rank;
    ah__list *q;

    for (q = dg->rules.next; q != &dg->rules; q = q->next) {
        dgram_rule *r = ah__container_of(q, dgram_rule, link);
        if (!pat_match(r->pat, to) || !(r->has_lat || r->loss_pct || r->dup_pct || r->reorder_ms ||
                                        r->mtu || r->drop_next || r->send_err || r->icmp_err))
            continue;
        rank = strcmp(r->pat, to->str) == 0 ? 3 : strcmp(r->pat, to->host) == 0 ? 2 : 1;
        if (rank > best_rank) {
            best = r;
            best_rank = rank;
        }
    }
    return best;
}

/* ---- delivery ---- */

static void arrive(ah__event *ev);

static void arm(ah__dgram_ep *ep)
{
    dgram_msg *m;

    if (ep->arrive_ev.batch_index != 0)
        return; /* it fires in this poll and takes everything due by then */
    if (ah__list_empty(&ep->inflight)) {
        ah__event_cancel(&ep->arrive_ev);
        return;
    }
    m = ah__container_of(ep->inflight.next, dgram_msg, link);
    ep->arrive_ev.fire = arrive;
    ep->arrive_ev.what = "a datagram arrives";
    ep->arrive_ev.owner = ep->owner;
    ah__event_schedule(ep->loop, &ep->arrive_ev, m->due_ns);
}

/* `m` (first in flight to `ep`) reaches it: an ICMP answer or a datagram for its queue. */
static void deliver(ah__dgram_ep *ep, dgram_msg *m)
{
    ah__dgram *dg = ep->dg;
    char what[AH__ADDR_MAX + 640], sent[512];

    ah__list_remove(&m->link);
    ah__list_init(&m->link);
    if (m->n == (size_t)-1) {
        /* An ICMP error for a connected socket: port unreachable (ECONNREFUSED), host or net
         * unreachable. */
        ep->pending_error = m->icmp_err;
        snprintf(what, sizeof(what), "ICMP %s from %s%s",
                 m->icmp_err == UV_ECONNREFUSED ? "port unreachable" : uv_err_name(m->icmp_err),
                 m->from.str, sent_in(dg->sim, &m->site, sent, sizeof(sent)));
        ah__trace_note(dg->sim, ep->label, what);
    } else {
        snprintf(what, sizeof(what), "datagram of %zu bytes from %s%s", m->n, m->from.str,
                 sent_in(dg->sim, &m->site, sent, sizeof(sent)));
        ah__trace_note(dg->sim, ep->label, what);
        dg->delivered++;
        ep->recv(ep, &m->from, m->data, m->n);
    }
    msg_free(m);
}

static void arrive(ah__event *ev)
{
    ah__dgram_ep *ep = ah__container_of(ev, ah__dgram_ep, arrive_ev);
    ah__dgram *dg = ep->dg;
    uint64_t now = dg->sim->clock.now_ns;
    int any = 0;

    while (!ah__list_empty(&ep->inflight)) {
        dgram_msg *m = ah__container_of(ep->inflight.next, dgram_msg, link);
        if (m->due_ns > now)
            break;
        deliver(ep, m);
        any = 1;
        if (!ep->bound)
            return; /* the hook closed the endpoint */
    }
    arm(ep);
    if (any && ep->ready != NULL)
        ep->ready(ep);
}

static void enqueue(ah__dgram_ep *ep, dgram_msg *m)
{
    ah__list *q;

    /* After every message due no later than this one: (due, seq) order. */
    for (q = ep->inflight.prev; q != &ep->inflight; q = q->prev)
        if (ah__container_of(q, dgram_msg, link)->due_ns <= m->due_ns)
            break;
    ah__list_insert_head(q, &m->link);
    /* A datagram due now while the receiver's read loop runs lands in its receive queue at once,
     * as loopback's does, and that loop reads it (libuv reads until recvmsg says EAGAIN).
     * Otherwise it arrives in the receiver's next poll, as epoll would report it. */
    if (ep->reading && m->n != (size_t)-1 && m->due_ns <= ep->dg->sim->clock.now_ns &&
        ep->inflight.next == &m->link)
        deliver(ep, m);
    arm(ep);
}

static dgram_msg *msg_new(ah__dgram *dg, const ah__addr *from, const uv_buf_t bufs[],
                          unsigned nbufs, size_t n)
{
    dgram_msg *m = msg_alloc(dg, n);
    size_t off = 0;
    unsigned i;

    m->from = *from;
    m->site = dg->send_site;
    m->n = n;
    for (i = 0; i < nbufs && off < n; i++) {
        size_t k = bufs[i].len < n - off ? bufs[i].len : n - off;
        memcpy(m->data + off, bufs[i].base, k);
        off += k;
    }
    return m;
}

/* One copy of the datagram to one receiver, through the faults of the path. */
static void deliver_to(ah__dgram *dg, ah__dgram_ep *rx, const ah__addr *from, const ah__addr *to,
                       const uv_buf_t bufs[], unsigned nbufs, size_t n)
{
    ah_sim *sim = dg->sim;
    dgram_rule *r = rule_for(dg, to);
    unsigned copies = 1, i;
    ah__addr seen = *from;
    char what[2 * AH__ADDR_MAX + 640], sent[512];

    if (rx->connected && strcmp(rx->peer.str, from->str) != 0)
        return; /* a connected socket takes datagrams from its peer only */
    if (rx->addr.family == AF_INET6 && from->family == AF_INET)
        mapped_v6(from, &seen);
    if (r != NULL) {
        if (r->drop_next > 0 ||
            (r->loss_pct > 0 && ah__choose_chance(sim, r->loss_pct, 100, "udp loss"))) {
            if (r->drop_next > 0)
                r->drop_next--;
            r->lost++;
            dg->lost++;
            snprintf(what, sizeof(what), "datagram of %zu bytes to %s lost (%s)%s", n, to->str,
                     r->drop_next > 0 || r->loss_pct == 0 ? "ah_udp_drop_next" : "ah_udp_loss",
                     sent_in(sim, &dg->send_site, sent, sizeof(sent)));
            ah__trace_note(sim, rx->label, what);
            return;
        }
        if (r->mtu > 0 && n > r->mtu) {
            n = r->mtu;
            dg->truncated++;
        }
        if (r->dup_pct > 0 && ah__choose_chance(sim, r->dup_pct, 100, "udp duplicate")) {
            copies = 2;
            dg->duplicated++;
        }
    }
    for (i = 0; i < copies; i++) {
        dgram_msg *m = msg_new(dg, &seen, bufs, nbufs, n);
        uint64_t lat = 0, extra = 0;
        if (r != NULL && r->has_lat)
            lat = ah__choose_range(sim, r->lat_min, r->lat_max, "udp latency");
        if (r != NULL && r->reorder_ms > 0)
            extra = ah__choose_range(sim, 0, r->reorder_ms, "udp reorder delay");
        m->due_ns = sim->clock.now_ns + (lat + extra) * AH__NS_PER_MS;
        if ((r == NULL || r->reorder_ms == 0) && m->due_ns < rx->last_due_ns)
            m->due_ns = rx->last_due_ns; /* no reordering unless asked for */
        if (m->due_ns > rx->last_due_ns)
            rx->last_due_ns = m->due_ns;
        enqueue(rx, m);
    }
}

static int accepts_unicast(const ah__dgram_ep *rx, const ah__addr *to)
{
    if (rx->addr.port != to->port)
        return 0;
    if (strcmp(rx->addr.host, to->host) == 0)
        return 1;
    if (!is_any(&rx->addr) || !ah__addr_local(rx->dg->sim, to))
        return 0;
    return rx->addr.family == to->family || (rx->addr.family == AF_INET6 && !rx->v6only);
}

static int member_of(const ah__dgram_ep *rx, const ah__addr *to, const ah__addr *from)
{
    ah__list *q;

    if (rx->addr.port != to->port || (!is_any(&rx->addr) && strcmp(rx->addr.host, to->host) != 0))
        return 0;
    for (q = rx->groups.next; q != &rx->groups; q = q->next) {
        const ah__dgram_group *g = ah__container_of(q, ah__dgram_group, link);
        if (strcmp(g->group.host, to->host) == 0 &&
            (g->source.family == 0 || strcmp(g->source.host, from->host) == 0))
            return 1;
    }
    return 0;
}

ssize_t ah__dgram_send(ah__dgram_ep *ep, const ah__addr *to, const uv_buf_t bufs[], unsigned nbufs)
{
    ah__dgram *dg = ep->dg;
    ah__addr from, dest;
    size_t n = 0;
    unsigned i;
    ah__list *q;
    ah__dgram_ep *last = NULL;
    dgram_rule *rule;
    int err;

    dg->send_site = ep->site;
    for (i = 0; i < nbufs; i++)
        n += bufs[i].len;
    if (to == NULL) {
        if (!ep->connected)
            return UV_EDESTADDRREQ;
        to = &ep->peer;
    }
    if (ep->pending_error != 0) {
        err = ep->pending_error;
        ep->pending_error = 0;
        return err;
    }
    if (n > AH__DGRAM_MAX)
        return UV_EMSGSIZE;
    dest = *to;
    if (ep->addr.family == AF_INET && dest.family == AF_INET6)
        return UV_EAFNOSUPPORT;
    if (is_broadcast(&dest) && !ep->broadcast)
        return UV_EACCES;
    rule = rule_for(dg, &dest);
    if (rule != NULL && rule->send_err != 0) {
        /* The kernel refuses it at once (no route, a path MTU, no buffer): the call fails. */
        char what[2 * AH__ADDR_MAX + 640], sent[512];
        err = rule->send_err;
        if (rule->send_err_times > 0 && --rule->send_err_times == 0)
            rule->send_err = 0;
        snprintf(what, sizeof(what), "datagram to %s: send fails with %s (ah_udp_send_error)%s",
                 dest.str, uv_err_name(err), sent_in(dg->sim, &ep->site, sent, sizeof(sent)));
        ah__trace_note(dg->sim, ep->label[0] ? ep->label : "udp", what);
        return err;
    }
    source_for(ep, &dest, &from);
    dg->sent++;
    if (rule != NULL && rule->icmp_err != 0 && !ah__addr_is_multicast(&dest) &&
        !is_broadcast(&dest)) {
        /* Lost on the way; the network answers with an ICMP error, which Linux reports only to
         * a connected socket (its next send or receive fails), not to an unconnected one. */
        char what[2 * AH__ADDR_MAX + 640], sent[512];
        snprintf(what, sizeof(what), "datagram to %s: lost, ICMP %s answers (ah_udp_icmp_error)%s",
                 dest.str, uv_err_name(rule->icmp_err),
                 sent_in(dg->sim, &ep->site, sent, sizeof(sent)));
        ah__trace_note(dg->sim, ep->label[0] ? ep->label : "udp", what);
        dg->lost++;
        rule->lost++;
        if (ep->connected) {
            dgram_msg *m = msg_alloc(dg, 0);
            m->site = dg->send_site;
            m->n = (size_t)-1;
            m->icmp_err = rule->icmp_err;
            m->from = dest;
            m->due_ns = dg->sim->clock.now_ns;
            enqueue(ep, m);
        }
        return (ssize_t)n;
    }
    if (ah__addr_is_multicast(&dest) || is_broadcast(&dest)) {
        /* The whole sim is one host: with IP_MULTICAST_LOOP off nothing here receives it. */
        if (ah__addr_is_multicast(&dest) && !ep->mcast_loop)
            return (ssize_t)n;
        for (q = dg->eps.next; q != &dg->eps; q = q->next) {
            ah__dgram_ep *rx = ah__container_of(q, ah__dgram_ep, link);
            if (is_broadcast(&dest) ? (rx->addr.port == dest.port && rx->addr.family == AF_INET &&
                                       is_any(&rx->addr))
                                    : member_of(rx, &dest, &from))
                deliver_to(dg, rx, &from, &dest, bufs, nbufs, n);
        }
        return (ssize_t)n;
    }
    /* Unicast: with several sockets sharing the port (SO_REUSEADDR), Linux gives it to the one
     * bound last. */
    for (q = dg->eps.next; q != &dg->eps; q = q->next) {
        ah__dgram_ep *rx = ah__container_of(q, ah__dgram_ep, link);
        if (accepts_unicast(rx, &dest))
            last = rx;
    }
    if (last != NULL) {
        deliver_to(dg, last, &from, &dest, bufs, nbufs, n);
    } else {
        char what[2 * AH__ADDR_MAX + 640], sent[512];
        snprintf(what, sizeof(what), "datagram to %s: nothing is bound there%s", dest.str,
                 sent_in(dg->sim, &ep->site, sent, sizeof(sent)));
        ah__trace_note(dg->sim, ep->label[0] ? ep->label : "udp", what);
        if (ep->connected && ah__addr_local(dg->sim, &dest)) {
            /* The local stack answers with ICMP port unreachable: the connected socket's next
             * operation fails with ECONNREFUSED. */
            dgram_msg *m = msg_alloc(dg, 0);
            m->site = dg->send_site;
            m->n = (size_t)-1;
            m->icmp_err = UV_ECONNREFUSED;
            m->from = dest;
            m->due_ns = dg->sim->clock.now_ns;
            enqueue(ep, m);
        }
    }
    return (ssize_t)n;
}

/* ---- the public API ---- */

static dgram_rule *rule_get(ah_sim *sim, const char *fn, const char *pat)
{
    ah__dgram *dg = ah__dgram_get(sim);
    ah__list *q;
    dgram_rule *r;

    if (pat == NULL || strlen(pat) >= AH__ADDR_MAX)
        ah__fail(sim, "%s: give an address (\"127.0.0.1:9000\"), a host (\"10.0.0.5\") or \"*\"",
                 fn);
    for (q = dg->rules.next; q != &dg->rules; q = q->next) {
        r = ah__container_of(q, dgram_rule, link);
        if (strcmp(r->pat, pat) == 0)
            return r;
    }
    r = ah__calloc(1, sizeof(*r));
    snprintf(r->pat, sizeof(r->pat), "%s", pat);
    ah__list_insert_tail(&dg->rules, &r->link);
    return r;
}

static void check_pct(ah_sim *sim, const char *fn, const char *addr, unsigned pct)
{
    if (pct > 100)
        ah__fail(sim, "%s(\"%s\", %u): a percentage is at most 100", fn, addr, pct);
}

void ah_udp_latency(ah_sim *sim, const char *addr, uint64_t min_ms, uint64_t max_ms)
{
    dgram_rule *r = rule_get(sim, "ah_udp_latency", addr);

    if (max_ms < min_ms)
        ah__fail(sim, "ah_udp_latency(\"%s\", %llu, %llu): max_ms is below min_ms", addr,
                 (unsigned long long)min_ms, (unsigned long long)max_ms);
    r->has_lat = 1;
    r->lat_min = min_ms;
    r->lat_max = max_ms;
}

void ah_udp_loss(ah_sim *sim, const char *addr, unsigned percent)
{
    check_pct(sim, "ah_udp_loss", addr, percent);
    rule_get(sim, "ah_udp_loss", addr)->loss_pct = percent;
}

void ah_udp_duplicate(ah_sim *sim, const char *addr, unsigned percent)
{
    check_pct(sim, "ah_udp_duplicate", addr, percent);
    rule_get(sim, "ah_udp_duplicate", addr)->dup_pct = percent;
}

void ah_udp_reorder(ah_sim *sim, const char *addr, uint64_t max_delay_ms)
{
    rule_get(sim, "ah_udp_reorder", addr)->reorder_ms = max_delay_ms;
}

void ah_udp_mtu(ah_sim *sim, const char *addr, size_t mtu)
{
    rule_get(sim, "ah_udp_mtu", addr)->mtu = mtu;
}

void ah_udp_drop_next(ah_sim *sim, const char *addr, unsigned n)
{
    rule_get(sim, "ah_udp_drop_next", addr)->drop_next += n;
}

void ah_udp_send_error(ah_sim *sim, const char *addr, int err, unsigned times)
{
    dgram_rule *r = rule_get(sim, "ah_udp_send_error", addr);

    if (err != UV_ENETUNREACH && err != UV_EHOSTUNREACH && err != UV_EMSGSIZE &&
        err != UV_ENOBUFS && err != UV_EPERM && err != UV_EACCES && err != UV_ECONNREFUSED)
        ah__fail(sim,
                 "ah_udp_send_error(\"%s\", %d): give UV_ENETUNREACH, UV_EHOSTUNREACH, "
                 "UV_EMSGSIZE, UV_ENOBUFS, UV_EPERM, UV_EACCES or UV_ECONNREFUSED",
                 addr, err);
    r->send_err = err;
    r->send_err_times = times;
}

void ah_udp_icmp_error(ah_sim *sim, const char *addr, int err)
{
    dgram_rule *r = rule_get(sim, "ah_udp_icmp_error", addr);

    if (err != UV_ECONNREFUSED && err != UV_EHOSTUNREACH && err != UV_ENETUNREACH && err != 0)
        ah__fail(sim,
                 "ah_udp_icmp_error(\"%s\", %d): give UV_ECONNREFUSED (port unreachable), "
                 "UV_EHOSTUNREACH or UV_ENETUNREACH (0 turns it off)",
                 addr, err);
    r->icmp_err = err;
}

void ah_udp_clear(ah_sim *sim, const char *addr)
{
    dgram_rule *r = rule_get(sim, "ah_udp_clear", addr);
    uint64_t lost = r->lost;
    char pat[AH__ADDR_MAX];

    memcpy(pat, r->pat, sizeof(pat));
    memset((char *)r + sizeof(ah__list), 0, sizeof(*r) - sizeof(ah__list));
    memcpy(r->pat, pat, sizeof(pat));
    r->lost = lost;
}

ah_udp_stats ah_udp_get_stats(ah_sim *sim)
{
    ah__dgram *dg = ah__dgram_get(sim);
    ah_udp_stats s;

    s.sent = dg->sent;
    s.delivered = dg->delivered;
    s.lost = dg->lost;
    s.duplicated = dg->duplicated;
    s.truncated = dg->truncated;
    s.overflowed = dg->overflowed;
    return s;
}

void ah__dgram_count_overflow(ah__dgram_ep *ep) { ep->dg->overflowed++; }

/* ---- receive queues ---- */

void ah__dgram_rxq_init(ah__dgram_rxq *r)
{
    ah__list_init(&r->q);
    r->bytes = 0;
}

void ah__dgram_rxq_push(ah__dgram_rxq *r, ah__dgram_ep *ep, size_t cap, const ah__addr *from,
                        const void *data, size_t n)
{
    ah__dgram_rx *m;

    if (r->bytes + n > cap) {
        ah__trace_note(ep->sim, ep->label, "receive queue full: datagram dropped");
        ah__dgram_count_overflow(ep);
        return;
    }
    m = ah__malloc(sizeof(*m) + (n ? n : 1));
    m->from = *from;
    m->n = n;
    memcpy(m->data, data, n);
    r->bytes += n;
    ah__list_insert_tail(&r->q, &m->link);
}

ah__dgram_rx *ah__dgram_rxq_take(ah__dgram_rxq *r)
{
    ah__dgram_rx *m = ah__dgram_rxq_head(r);

    if (m == NULL)
        return NULL;
    ah__list_remove(&m->link);
    r->bytes -= m->n;
    return m;
}

void ah__dgram_rxq_clear(ah__dgram_rxq *r)
{
    ah__dgram_rx *m;

    while ((m = ah__dgram_rxq_take(r)) != NULL)
        ah__free(m);
}

void ah__dgram_ep_move(ah__dgram_ep *from, ah__dgram_ep *to)
{
    ah__list *q;

    to->addr = from->addr;
    to->reuse = from->reuse;
    to->v6only = from->v6only;
    to->broadcast = from->broadcast;
    to->mcast_loop = from->mcast_loop;
    to->connected = from->connected;
    to->peer = from->peer;
    to->pending_error = from->pending_error;
    while (!ah__list_empty(&from->groups)) {
        q = from->groups.next;
        ah__list_remove(q);
        ah__list_insert_tail(&to->groups, q);
    }
    ah__event_cancel(&from->arrive_ev);
    while (!ah__list_empty(&from->inflight)) {
        q = from->inflight.next;
        ah__list_remove(q);
        ah__list_insert_tail(&to->inflight, q);
    }
    to->last_due_ns = from->last_due_ns;
    if (from->bound) {
        /* Its place in the bind order, so that a multicast reaches the receivers as before. */
        ah__list_insert_head(&from->link, &to->link);
        ah__list_remove(&from->link);
        ah__list_init(&from->link);
        to->bound = 1;
        from->bound = 0;
        snprintf(to->label, sizeof(to->label), "udp %s", to->addr.str);
    }
    from->connected = 0;
    arm(to);
}

/* ---- reports ---- */

static void dgram_pending(ah_sim *sim, void *state, ah__buf *b)
{
    ah__dgram *dg = state;
    ah__list *q;

    (void)sim;
    for (q = dg->rules.next; q != &dg->rules; q = q->next) {
        dgram_rule *r = ah__container_of(q, dgram_rule, link);
        if (r->lost > 0)
            ah__buf_printf(b,
                           "  - %llu datagram(s) to %s were lost (ah_udp_loss/ah_udp_drop_next)\n",
                           (unsigned long long)r->lost, r->pat);
    }
}

static void dgram_destroy(ah_sim *sim, void *state)
{
    ah__dgram *dg = state;

    (void)sim;
    /* Endpoints live in their owners' memory, which may be gone already (the owners' state is
     * destroyed in either order): only the network's own memory is freed here. */
    while (!ah__list_empty(&dg->msgs)) {
        ah__list *q = dg->msgs.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, dgram_msg, all_link));
    }
    while (!ah__list_empty(&dg->rules)) {
        ah__list *q = dg->rules.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, dgram_rule, link));
    }
    ah__free(dg);
}

/* ---- for the world (world/world.c): a process's bound endpoints, its ephemeral ports ---- */

ah__dgram_ep *ah__dgram_bound_next(ah_sim *sim, ah__dgram_ep *prev)
{
    ah__dgram *dg = ah__ext_get(sim, &dgram_key);
    ah__list *q;

    if (dg == NULL)
        return NULL;
    q = prev != NULL ? prev->link.next : dg->eps.next;
    return q == &dg->eps ? NULL : ah__container_of(q, ah__dgram_ep, link);
}

void ah__dgram_ports_from(ah_sim *sim, uint32_t first)
{
    ah__dgram *dg = ah__dgram_get(sim);

    if (first >= 40001 && first <= 49999)
        dg->next_port = first;
}

void ah__dgram_ep_forget(ah__dgram_ep *ep)
{
    while (!ah__list_empty(&ep->groups)) {
        ah__list *q = ep->groups.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__dgram_group, link));
    }
    ep->bound = 0;
    ep->dg = NULL;
}
