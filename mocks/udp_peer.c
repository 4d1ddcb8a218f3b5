/* Scripted UDP clients (ah_net_connect_udp): a peer owned by the sim with a datagram socket of
 * its own on the fake network, running the steps of include/ah/net.h against a UDP server:
 * ah_peer_reply sends one datagram to the server, ah_peer_expect takes the next datagram that
 * comes back and requires exactly these bytes, ah_peer_delay waits, ah_peer_close unbinds,
 * ah_peer_stall takes everything from then on. Steps that have no meaning for datagrams
 * (ah_peer_expect_eof, ah_peer_reset, ah_peer_shutdown) fail the test when reached. The script
 * is the peer's (peer.c); peer.c reaches this file through ah__net_parts. */
#include "internal_dgram.h"

#include <stdio.h>
#include <string.h>

typedef struct udp_client {
    ah__dgram_ep ep;
    ah_peer *peer;
    ah__addr server;
    ah__dgram_rxq rxq;
    size_t step;
    ah__event timer;
    int waiting; /* 1: the timer runs, 2: it fired */
    int done, stalled;
} udp_client;

static void run(udp_client *u);

static void fail_step(udp_client *u, const ah__step *st, const char *what, const void *got,
                      size_t n)
{
    ah_sim *sim = u->ep.sim;
    ah__buf b = {0};
    char s[160];

    ah__buf_printf(&b, "scripted UDP client #%u to %s: %s at +%llu ms", u->peer->index,
                   u->server.str, what, (unsigned long long)ah_now_ms(sim));
    if (st->kind == AH__STEP_EXPECT) {
        ah__buf_printf(&b, "\n  expected: \"");
        ah__buf_escape(&b, st->bytes, st->n);
        ah__buf_printf(&b, "\"");
    }
    if (got != NULL) {
        ah__buf_printf(&b, "\n  received: \"");
        ah__buf_escape(&b, got, n);
        ah__buf_printf(&b, "\"");
    }
    ah__buf_printf(&b, "\n  (the step is in %s)", ah__site_str(&st->site, s, sizeof(s)));
    ah__fail(sim, "%s", ah__buf_keep(sim, &b));
}

static void on_recv(ah__dgram_ep *ep, const ah__addr *from, const void *data, size_t n)
{
    udp_client *u = ah__container_of(ep, udp_client, ep);
    ah__dgram_rxq_push(&u->rxq, ep, AH__DGRAM_RCVBUF, from, data, n);
}

static void on_ready(ah__dgram_ep *ep) { run(ah__container_of(ep, udp_client, ep)); }

static void on_timer(ah__event *ev)
{
    udp_client *u = ah__container_of(ev, udp_client, timer);
    u->waiting = 2;
    run(u);
}

static void run(udp_client *u)
{
    ah__script *sc = ah__container_of(u->peer->scripts.next, ah__script, link);
    ah_sim *sim = u->ep.sim;
    ah__dgram_rx *m;

    while (!u->done && u->step < sc->n) {
        const ah__step *st = &sc->steps[u->step];
        switch (st->kind) {
        case AH__STEP_REPLY:
        case AH__STEP_DELAY:
            if (st->ms > 0 && u->waiting != 2) {
                if (u->waiting == 0) {
                    u->waiting = 1;
                    u->timer.fire = on_timer;
                    u->timer.what = "scripted UDP client delay";
                    u->timer.flags = AH__EV_REF;
                    ah__event_schedule(u->ep.loop, &u->timer,
                                       sim->clock.now_ns + st->ms * AH__NS_PER_MS);
                }
                return;
            }
            u->waiting = 0;
            if (st->kind == AH__STEP_REPLY) {
                uv_buf_t b = uv_buf_init((char *)st->bytes, (unsigned)st->n);
                ssize_t r = ah__dgram_send(&u->ep, &u->server, &b, 1);
                if (r < 0 && !u->peer->tolerant)
                    fail_step(u, st, uv_err_name((int)r), NULL, 0);
            }
            break;
        case AH__STEP_EXPECT:
            if ((m = ah__dgram_rxq_head(&u->rxq)) == NULL)
                return;
            /* Still queued while the failure is reported: the sim frees it. */
            if (m->n != st->n || memcmp(m->data, st->bytes, st->n) != 0)
                fail_step(u, st, "unexpected datagram", m->data, m->n);
            ah__free(ah__dgram_rxq_take(&u->rxq));
            ah__trace_note(sim, u->ep.label, "UDP peer: expected datagram received");
            break;
        case AH__STEP_STALL:
            u->stalled = u->done = 1;
            break;
        case AH__STEP_CLOSE:
            u->done = 1;
            ah__dgram_unbind(&u->ep);
            break;
        default:
            fail_step(u, st, "this step has no meaning for a UDP client", NULL, 0);
        }
        u->peer->udp_steps = ++u->step;
    }
    if (u->stalled)
        ah__dgram_rxq_clear(&u->rxq);
}

static void kick(ah_peer *p) { run(p->udp); }

static void udp_check(ah_peer *p, ah__buf *b)
{
    udp_client *u = p->udp;
    ah__script *sc = ah__container_of(p->scripts.next, ah__script, link);
    char s[160];

    if (u->done || u->step >= sc->n || p->tolerant)
        return;
    ah__buf_printf(b,
                   "  - scripted UDP client #%u to %s did not finish its script; next step "
                   "declared in %s\n",
                   p->index, u->server.str, ah__site_str(&sc->steps[u->step].site, s, sizeof(s)));
}

static void udp_free(ah_peer *p)
{
    udp_client *u = p->udp;

    ah__event_cancel(&u->timer);
    ah__dgram_rxq_clear(&u->rxq);
    ah__dgram_ep_forget(&u->ep);
    ah__free(u);
    p->udp = NULL;
}

ah_peer *ah_net_connect_udp(ah_sim *sim, const char *addr)
{
    ah__site site = AH__CALLER("ah_net_connect_udp");
    ah__route *route = ah__test_route(sim, "ah_net_connect_udp", addr);
    ah_peer *p = ah__peer_client_new(sim, route, site);
    udp_client *u = ah__calloc(1, sizeof(*u));
    const ah__addr *server = &route->addr;
    ah__addr local;
    int r;

    ah__net_parts.udp_kick = kick;
    ah__net_parts.udp_check = udp_check;
    ah__net_parts.udp_free = udp_free;
    u->peer = p;
    u->server = *server;
    ah__dgram_rxq_init(&u->rxq);
    ah__dgram_ep_init(sim, &u->ep, ah_sim_loop(sim));
    u->ep.recv = on_recv;
    u->ep.ready = on_ready;
    u->ep.owner = u;
    ah__addr_parse(server->family == AF_INET6 ? "[::]:0" : "0.0.0.0:0", 1, &local);
    r = ah__dgram_bind(&u->ep, &local);
    if (r != 0)
        ah__fail(sim, "ah_net_connect_udp(\"%s\"): cannot bind the client's socket (%s)",
                 server->str, uv_err_name(r));
    snprintf(u->ep.label, sizeof(u->ep.label), "udp client #%u", p->index);
    p->udp = u;
    return p;
}
