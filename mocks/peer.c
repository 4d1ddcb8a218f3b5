/* Scripted peers: a listener owned by the sim whose connections each run a script of steps
 * (expect bytes, reply after a delay, close, reset, stall), as tokio-test's mock I/O does.
 * Expected bytes are matched incrementally, so any chunking of the client's writes matches; the
 * first wrong byte fails the test at once, showing expected and received bytes escaped. */
#include "internal_net.h"

#include <stdio.h>
#include <string.h>

#define SHOW_MAX 160

static void pconn_advance(ah__pconn *pc);
static void fail_header(ah__buf *b, ah__pconn *pc, const char *what);

static ah_sim *sim_of(const ah_peer *p) { return p->net->sim; }

static void show_bytes(ah__buf *b, const void *data, size_t n)
{
    ah__buf_printf(b, "\"");
    ah__buf_escape(b, data, n < SHOW_MAX ? n : SHOW_MAX);
    ah__buf_printf(b, n > SHOW_MAX ? "\"... (%zu bytes)" : "\"", n);
}

static const char *step_name(int kind)
{
    switch (kind) {
    case AH__STEP_EXPECT:
        return "ah_peer_expect";
    case AH__STEP_EXPECT_EOF:
        return "ah_peer_expect_eof";
    case AH__STEP_REPLY:
        return "ah_peer_reply";
    case AH__STEP_DELAY:
        return "ah_peer_delay";
    case AH__STEP_CLOSE:
        return "ah_peer_close";
    case AH__STEP_RESET:
        return "ah_peer_reset";
    case AH__STEP_SHUTDOWN:
        return "ah_peer_shutdown";
    default:
        return "ah_peer_stall";
    }
}

static void describe_step(ah__buf *b, const ah__step *st)
{
    char s[160];

    ah__buf_printf(b, "%s", step_name(st->kind));
    if (st->kind == AH__STEP_REPLY && st->ms > 0)
        ah__buf_printf(b, " after %llu ms", (unsigned long long)st->ms);
    if (st->kind == AH__STEP_DELAY)
        ah__buf_printf(b, " %llu ms", (unsigned long long)st->ms);
    if (st->kind == AH__STEP_EXPECT || st->kind == AH__STEP_REPLY) {
        ah__buf_printf(b, " ");
        show_bytes(b, st->bytes, st->n);
    }
    ah__buf_printf(b, " (in %s)", ah__site_str(&st->site, s, sizeof(s)));
}

ah_peer *ah__peer_mark(ah_peer *p, const char *file, int line, const char *func, const char *fn)
{
    ah__site_mark(file, line, func, fn);
    return p;
}

static ah_peer *peer_arg(ah_peer *p, const char *fn)
{
    if (p == NULL)
        ah__fail(ah__sim(), "%s: called with a NULL peer", fn);
    return p;
}

static ah__script *script_new(ah_peer *p, ah__site site)
{
    ah__script *sc = ah__calloc(1, sizeof(*sc));
    sc->site = site;
    ah__list_insert_tail(&p->scripts, &sc->link);
    if (p->next_script == NULL)
        p->next_script = sc;
    return sc;
}

static ah__script *last_script(ah_peer *p)
{
    return ah__container_of(p->scripts.prev, ah__script, link);
}

/* The network reaches the peers through ah__net_parts (internal_net.h). */
static void parts_install(void)
{
    ah__net_parts.peer_accept = ah__peer_accept;
    ah__net_parts.peer_incoming = ah__peer_incoming;
    ah__net_parts.peer_abort = ah__peer_abort;
    ah__net_parts.peer_client_gone = ah__peer_client_gone;
    ah__net_parts.peer_check = ah__peer_check;
    ah__net_parts.peer_pending = ah__peer_pending;
    ah__net_parts.peer_free_all = ah__peer_free_all;
}

ah_peer *ah__peer_listen(ah_sim *sim, const char *addr, ah__site site, const char *fn)
{
    ah__route *r = ah__test_route(sim, fn, addr);
    ah_peer *p;

    if (ah__route_listens(r) || r->peer != NULL || r->bound != NULL)
        ah__fail(sim, "%s(\"%s\"): something already listens on that address", fn, addr);
    p = ah__calloc(1, sizeof(*p));
    parts_install();
    p->net = ah__net_get(sim);
    p->route = r;
    p->listening = 1;
    p->site = site;
    ah__list_init(&p->scripts);
    ah__list_init(&p->conns);
    script_new(p, site);
    r->peer = p;
    ah__list_insert_tail(&p->net->peers, &p->link);
    ah__trace_note(sim, r->addr.str, "scripted peer listening");
    return p;
}

ah_peer *ah_net_listen(ah_sim *sim, const char *addr)
{
    return ah__peer_listen(sim, addr, AH__CALLER("ah_net_listen"), "ah_net_listen");
}

static void add_step(ah_peer *p, int kind, const void *bytes, size_t n, uint64_t ms, ah__site site,
                     const char *fn)
{
    ah__script *sc = last_script(p);
    ah__step *st;
    ah__list *q;
    char s[160];

    if (sc->ended)
        ah__fail(sim_of(p),
                 "%s in %s: the script already ended with ah_peer_close, ah_peer_reset or "
                 "ah_peer_stall (use ah_peer_next_connection to script the next connection)",
                 fn, ah__site_str(&site, s, sizeof(s)));
    if (bytes == NULL && (kind == AH__STEP_EXPECT || kind == AH__STEP_REPLY))
        ah__fail(sim_of(p), "%s: called with NULL bytes", fn);
    if (sc->n == sc->cap) {
        sc->cap = sc->cap ? sc->cap * 2 : 8;
        sc->steps = ah__realloc(sc->steps, sc->cap * sizeof(*sc->steps));
    }
    st = &sc->steps[sc->n++];
    memset(st, 0, sizeof(*st));
    st->kind = kind;
    st->ms = ms;
    st->site = site;
    if (n > 0) {
        st->bytes = ah__malloc(n);
        memcpy(st->bytes, bytes, n);
        st->n = n;
    }
    if (kind == AH__STEP_CLOSE || kind == AH__STEP_RESET || kind == AH__STEP_STALL)
        sc->ended = 1;

    if (p->udp != NULL) {
        ah__net_parts.udp_kick(p);
        return;
    }
    /* A connection that already ran to the end of this script goes on with the new step. */
    for (q = p->conns.next; q != &p->conns; q = q->next) {
        ah__pconn *pc = ah__container_of(q, ah__pconn, link);
        if (pc->script == sc && pc->step == sc->n - 1)
            pconn_advance(pc);
    }
}

void ah_peer_expect_n(ah_peer *p, const void *bytes, size_t n)
{
    ah__site site = AH__CALLER("ah_peer_expect_n");
    add_step(peer_arg(p, "ah_peer_expect_n"), AH__STEP_EXPECT, bytes, n, 0, site,
             "ah_peer_expect_n");
}

void ah_peer_expect(ah_peer *p, const char *bytes)
{
    ah__site site = AH__CALLER("ah_peer_expect");
    add_step(peer_arg(p, "ah_peer_expect"), AH__STEP_EXPECT, bytes, bytes ? strlen(bytes) : 0, 0,
             site, "ah_peer_expect");
}

void ah_peer_expect_eof(ah_peer *p)
{
    ah__site site = AH__CALLER("ah_peer_expect_eof");
    add_step(peer_arg(p, "ah_peer_expect_eof"), AH__STEP_EXPECT_EOF, NULL, 0, 0, site,
             "ah_peer_expect_eof");
}

void ah_peer_reply_after_n(ah_peer *p, uint64_t ms, const void *bytes, size_t n)
{
    ah__site site = AH__CALLER("ah_peer_reply_after_n");
    add_step(peer_arg(p, "ah_peer_reply_after_n"), AH__STEP_REPLY, bytes, n, ms, site,
             "ah_peer_reply_after_n");
}

void ah_peer_reply_after(ah_peer *p, uint64_t ms, const char *bytes)
{
    ah__site site = AH__CALLER("ah_peer_reply_after");
    add_step(peer_arg(p, "ah_peer_reply_after"), AH__STEP_REPLY, bytes, bytes ? strlen(bytes) : 0,
             ms, site, "ah_peer_reply_after");
}

void ah_peer_reply_n(ah_peer *p, const void *bytes, size_t n)
{
    ah__site site = AH__CALLER("ah_peer_reply_n");
    add_step(peer_arg(p, "ah_peer_reply_n"), AH__STEP_REPLY, bytes, n, 0, site, "ah_peer_reply_n");
}

void ah_peer_reply(ah_peer *p, const char *bytes)
{
    ah__site site = AH__CALLER("ah_peer_reply");
    add_step(peer_arg(p, "ah_peer_reply"), AH__STEP_REPLY, bytes, bytes ? strlen(bytes) : 0, 0,
             site, "ah_peer_reply");
}

void ah_peer_delay(ah_peer *p, uint64_t ms)
{
    ah__site site = AH__CALLER("ah_peer_delay");
    add_step(peer_arg(p, "ah_peer_delay"), AH__STEP_DELAY, NULL, 0, ms, site, "ah_peer_delay");
}

void ah_peer_close(ah_peer *p)
{
    ah__site site = AH__CALLER("ah_peer_close");
    add_step(peer_arg(p, "ah_peer_close"), AH__STEP_CLOSE, NULL, 0, 0, site, "ah_peer_close");
}

void ah_peer_reset(ah_peer *p)
{
    ah__site site = AH__CALLER("ah_peer_reset");
    add_step(peer_arg(p, "ah_peer_reset"), AH__STEP_RESET, NULL, 0, 0, site, "ah_peer_reset");
}

void ah_peer_stall(ah_peer *p)
{
    ah__site site = AH__CALLER("ah_peer_stall");
    add_step(peer_arg(p, "ah_peer_stall"), AH__STEP_STALL, NULL, 0, 0, site, "ah_peer_stall");
}

void ah_peer_shutdown(ah_peer *p)
{
    ah__site site = AH__CALLER("ah_peer_shutdown");
    add_step(peer_arg(p, "ah_peer_shutdown"), AH__STEP_SHUTDOWN, NULL, 0, 0, site,
             "ah_peer_shutdown");
}

void ah_peer_next_connection(ah_peer *p)
{
    ah__site site = AH__CALLER("ah_peer_next_connection");

    peer_arg(p, "ah_peer_next_connection");
    if (p->client)
        ah__fail(sim_of(p),
                 "ah_peer_next_connection: scripted client #%u to %s makes one "
                 "connection (call ah_net_connect again for another)",
                 p->index, p->route->addr.str);
    if (last_script(p)->repeat)
        ah__fail(sim_of(p), "ah_peer_next_connection after ah_peer_repeat: the repeated script "
                            "takes every further connection");
    script_new(p, site);
}

void ah_peer_repeat(ah_peer *p) { last_script(peer_arg(p, "ah_peer_repeat"))->repeat = 1; }

unsigned ah_peer_accept_count(const ah_peer *p) { return p->accepted; }

void ah_peer_tolerant(ah_peer *p) { peer_arg(p, "ah_peer_tolerant")->tolerant = 1; }

static const ah__pconn *last_pconn(const ah_peer *p)
{
    return ah__list_empty(&p->conns) ? NULL : ah__container_of(p->conns.prev, ah__pconn, link);
}

int ah_peer_refused(const ah_peer *p)
{
    const ah__pconn *pc = last_pconn(p);
    return pc != NULL && pc->refused;
}

int ah_peer_done(const ah_peer *p)
{
    const ah__pconn *pc = last_pconn(p);

    if (p->udp != NULL)
        return p->udp_steps >= ah__container_of(p->scripts.next, ah__script, link)->n;
    return pc != NULL && pc->script != NULL && !pc->vanished && !pc->refused && !pc->aborted &&
           pc->step >= pc->script->n;
}

size_t ah_peer_steps_run(const ah_peer *p)
{
    const ah__pconn *pc = last_pconn(p);

    if (p->udp != NULL)
        return p->udp_steps;
    return pc != NULL ? pc->step : 0;
}

/* ---- scripted clients ---- */

static void client_refused(ah__pconn *pc)
{
    ah_sim *sim = sim_of(pc->peer);
    ah__buf b = {0};

    pc->connecting = 0;
    pc->refused = pc->finished = 1;
    ah__trace_note(sim, pc->peer->route->addr.str, "scripted client: connection refused");
    if (pc->peer->tolerant || pc->script->n == 0)
        return;
    fail_header(&b, pc, "the connection was refused");
    ah__buf_printf(&b, "\n  (the script's first step is ");
    describe_step(&b, &pc->script->steps[0]);
    ah__buf_printf(&b, "; ah_peer_tolerant accepts a server that refuses or closes)");
    ah__fail(sim, "%s", ah__buf_keep(sim, &b));
}

static void client_connected(ah__event *ev)
{
    ah__pconn *pc = ah__container_of(ev, ah__pconn, conn_ev);

    if (pc->refused) {
        client_refused(pc);
        return;
    }
    pc->connecting = 0;
    ah__trace_note(sim_of(pc->peer), pc->conn->label, "scripted client connected");
    pconn_advance(pc);
}

ah_peer *ah__peer_client_new(ah_sim *sim, ah__route *r, ah__site site)
{
    ah__net *net;
    ah_peer *p;

    parts_install();
    net = ah__net_get(sim);
    p = ah__calloc(1, sizeof(*p));
    p->net = net;
    p->route = r;
    p->client = 1;
    p->index = ++net->clients;
    p->site = site;
    ah__list_init(&p->scripts);
    ah__list_init(&p->conns);
    script_new(p, site)->used = 1;
    ah__list_insert_tail(&net->peers, &p->link);
    return p;
}

static ah_peer *connect_client(ah_sim *sim, const char *addr, ah__site site, const char *fn)
{
    ah__route *r = ah__test_route(sim, fn, addr), *lst;
    ah__net *net;
    ah__addr local;
    ah__conn *c = NULL;
    ah__pconn *pc;
    uv_loop_t *loop;
    uint64_t due;
    ah_peer *p;
    int rc;

    p = ah__peer_client_new(sim, r, site);
    net = p->net;

    pc = ah__calloc(1, sizeof(*pc));
    pc->peer = p;
    pc->side = 0;
    pc->index = p->accepted = 1;
    pc->script = p->next_script;
    pc->connecting = 1;
    pc->conn_ev.fire = client_connected;
    pc->conn_ev.what = "a scripted client's connect completes";
    pc->conn_ev.flags = AH__EV_REF;
    pc->conn_ev.owner = pc;
    ah__list_insert_tail(&p->conns, &pc->link);

    /* The client's events run on the loop of what listens there (a uv server's loop). */
    lst = ah__route_listening(net, &r->addr);
    loop = lst != NULL && lst->listener != NULL             ? lst->listener->loop
           : lst != NULL && lst->lops != NULL && !lst->peer ? lst->lops->loop(lst->lctx)
                                                            : ah_sim_loop(sim);
    ah__local_for(&r->addr, ah__net_ephemeral_port(net), &local);
    rc =
        loop != NULL ? ah__net_connect_end(net, &local, &r->addr, loop, &c, &due) : UV_ECONNREFUSED;
    if (rc == 1) {
        ah__trace_note(sim, r->addr.str, "scripted client: connect never completes");
        return p; /* a lost SYN (ah_net_connect_timeout, a partition) */
    }
    if (rc != 0) {
        pc->refused = 1;
        if (loop == NULL || due <= sim->clock.now_ns) {
            pc->connecting = 0;
            pc->finished = 1;
            ah__trace_note(sim, r->addr.str, "scripted client: connection refused");
            return p; /* reported when a step is added (tolerance may come first) */
        }
        ah__event_schedule(loop, &pc->conn_ev, due);
        return p;
    }
    pc->conn = c;
    c->end[0].pc = pc;
    c->accept_ev.owner = pc;
    ah__trace_note(sim, c->label, "scripted client connects");
    ah__event_schedule(loop, &pc->conn_ev, due);
    return p;
}

ah_peer *ah_net_connect(ah_sim *sim, const char *addr)
{
    return connect_client(sim, addr, AH__CALLER("ah_net_connect"), "ah_net_connect");
}

void ah_net_connect_many(ah_sim *sim, const char *addr, unsigned n, ah_peer_script_fn script,
                         void *ctx, ah_peer **out)
{
    ah__site site = AH__CALLER("ah_net_connect_many");
    unsigned i;

    if (script == NULL)
        ah__fail(sim, "ah_net_connect_many(\"%s\"): called with a NULL script function", addr);
    for (i = 0; i < n; i++) {
        ah_peer *p = connect_client(sim, addr, site, "ah_net_connect_many");
        if (out != NULL)
            out[i] = p;
        script(p, i, ctx);
    }
}

/* ---- running a script ---- */

static ah__flow *pc_in(ah__pconn *pc) { return ah__pc_in(pc); }

/* "scripted peer 127.0.0.1:7000" or "scripted client #2 to 127.0.0.1:7000". */
static void peer_name(ah__buf *b, const ah_peer *p)
{
    if (p->client)
        ah__buf_printf(b, "scripted client #%u to %s", p->index, p->route->addr.str);
    else
        ah__buf_printf(b, "scripted peer %s", p->route->addr.str);
}

static const char *pc_label(const ah__pconn *pc)
{
    return pc->conn != NULL ? pc->conn->label : pc->peer->route->addr.str;
}

static void fail_header(ah__buf *b, ah__pconn *pc, const char *what)
{
    peer_name(b, pc->peer);
    if (pc->peer->client)
        ah__buf_printf(b, ": %s (%s) at +%llu ms", what, pc_label(pc),
                       (unsigned long long)ah_now_ms(sim_of(pc->peer)));
    else
        ah__buf_printf(b, ": %s on connection #%u (%s) at +%llu ms", what, pc->index, pc_label(pc),
                       (unsigned long long)ah_now_ms(sim_of(pc->peer)));
}

static void fail_mismatch(ah__pconn *pc, const ah__step *st, const unsigned char *data,
                          size_t avail, size_t at)
{
    ah_sim *sim = sim_of(pc->peer);
    ah__buf b = {0}, got = {0};
    size_t shown = at + 32 < avail ? at + 32 : avail;

    ah__buf_printf(&got, "%.*s", 0, "");
    fail_header(&b, pc, "unexpected bytes");
    ah__buf_printf(&b, "\n  expected: ");
    show_bytes(&b, st->bytes, st->n);
    ah__buf_printf(&b, "\n  received: \"");
    ah__buf_escape(&b, st->bytes, pc->pos < SHOW_MAX ? pc->pos : SHOW_MAX);
    ah__buf_escape(&b, data, shown);
    ah__buf_printf(&b, "\"%s\n  (they differ at byte %zu; the step is ", shown < avail ? "..." : "",
                   pc->pos + at);
    describe_step(&b, st);
    ah__buf_printf(&b, ")");
    ah__buf_free(&got);
    ah__fail(sim, "%s", ah__buf_keep(sim, &b));
}

/* The other end went away while the script still expected something: a failure, unless the peer
 * is tolerant (ah_peer_tolerant), when the connection just ends there. Returns 1 then. */
static int fail_gone(ah__pconn *pc, const ah__step *st, const char *how)
{
    ah_sim *sim = sim_of(pc->peer);
    ah__buf b = {0};

    if (pc->peer->tolerant) {
        ah__trace_note(sim, pc_label(pc), "peer: the other end went away (tolerated)");
        pc->vanished = pc->finished = 1;
        ah__event_cancel(&pc->timer);
        if (!pc->closed) {
            pc->closed = 1;
            ah__end_close(pc->conn, pc->side, 0);
        }
        return 1;
    }
    fail_header(&b, pc, how);
    ah__buf_printf(&b, "\n  while the peer expects ");
    if (st->kind == AH__STEP_EXPECT) {
        show_bytes(&b, st->bytes, st->n);
        ah__buf_printf(&b, "\n  received so far: ");
        show_bytes(&b, st->bytes, pc->pos);
    } else {
        ah__buf_printf(&b, "EOF");
    }
    ah__buf_printf(&b, "\n  (the step is ");
    describe_step(&b, st);
    ah__buf_printf(&b, "; ah_peer_tolerant accepts an end that goes away)");
    ah__fail(sim, "%s", ah__buf_keep(sim, &b));
}

static void fail_after_end(ah__pconn *pc, const unsigned char *data, size_t avail,
                           const ah__step *next)
{
    ah_sim *sim = sim_of(pc->peer);
    ah__buf b = {0};

    fail_header(&b, pc,
                pc->script == NULL || next != NULL ? "unexpected bytes"
                                                   : "unexpected bytes after the script ended");
    ah__buf_printf(&b, "\n  received: ");
    show_bytes(&b, data, avail);
    if (next != NULL) {
        ah__buf_printf(&b, "\n  (the script's next step is ");
        describe_step(&b, next);
        ah__buf_printf(&b, "; add ah_peer_expect for these bytes before it)");
    } else if (pc->script == NULL)
        ah__buf_printf(&b,
                       "\n  (the peer has no script for connection #%u: ah_peer_next_connection "
                       "scripts one more connection, ah_peer_repeat reuses the last script)",
                       pc->index);
    else if (pc->script->n == 0)
        ah__buf_printf(&b, "\n  (the script is empty: add ah_peer_expect for these bytes, or "
                           "ah_peer_stall to accept anything)");
    else {
        ah__buf_printf(&b, "\n  (the script's last step is ");
        describe_step(&b, &pc->script->steps[pc->script->n - 1]);
        ah__buf_printf(&b, "; add ah_peer_expect for these bytes, or ah_peer_stall to accept "
                           "anything)");
    }
    ah__fail(sim, "%s", ah__buf_keep(sim, &b));
}

static void pc_timer(ah__event *ev)
{
    ah__pconn *pc = ah__container_of(ev, ah__pconn, timer);

    pc->waiting = 2; /* the wait is over */
    pconn_advance(pc);
}

/* Waits `ms` for the current step; returns 1 when the wait is over (or there is none). */
static int step_wait(ah__pconn *pc, uint64_t ms)
{
    uv_loop_t *loop;

    if (ms == 0 || pc->waiting == 2) {
        pc->waiting = 0;
        return 1;
    }
    if (pc->waiting == 1)
        return 0;
    loop = ah__conn_loop(pc->conn);
    if (loop == NULL)
        return 1; /* nobody is left to notice the delay */
    pc->waiting = 1;
    pc->timer.fire = pc_timer;
    pc->timer.what = "scripted peer delay";
    /* A server's timer keeps the sim running only while the client is there to see its
     * effect: a late reply to a client that gave up does not hold the test's clock. */
    pc->timer.flags = pc->conn->end[1 - pc->side].closed ? 0 : AH__EV_REF;
    ah__event_schedule(loop, &pc->timer, sim_of(pc->peer)->clock.now_ns + ms * AH__NS_PER_MS);
    return 0;
}

static void pconn_advance(ah__pconn *pc)
{
    ah_sim *sim = sim_of(pc->peer);
    ah__conn *c = pc->conn;
    ah__flow *f = pc_in(pc);
    ah__script *sc = pc->script;
    const ah__step *st;
    const unsigned char *data;
    size_t avail, m, i;
    const char *other = pc->side == 1 ? "client" : "server";
    char how[64];

    if (pc->connecting || c == NULL)
        return;
    if (pc->peer->server != NULL) {
        ah__net_parts.server_advance(pc);
        return;
    }
    while (!pc->aborted && !pc->finished && sc != NULL && pc->step < sc->n) {
        st = &sc->steps[pc->step];
        if (pc->peer->tolerant && (c->end[pc->side].reset || f->fin_arrived) &&
            st->kind != AH__STEP_EXPECT && st->kind != AH__STEP_EXPECT_EOF &&
            st->kind != AH__STEP_STALL) {
            /* The other end went away: a tolerant script ends here, its answer unread. */
            ah__flow_consume(f, (size_t)(f->arr - f->rd));
            fail_gone(pc, st, "gone");
            return;
        }
        avail = (size_t)(f->arr - f->rd);
        /* A flow that never carried a byte has no buffer yet: no pointer arithmetic on NULL. */
        data = avail > 0 ? f->buf + (f->rd - f->base) : NULL;
        switch (st->kind) {
        case AH__STEP_EXPECT:
            m = st->n - pc->pos < avail ? st->n - pc->pos : avail;
            for (i = 0; i < m; i++)
                if (data[i] != st->bytes[pc->pos + i])
                    fail_mismatch(pc, st, data, avail, i);
            ah__flow_consume(f, m);
            pc->pos += m;
            if (pc->pos < st->n) {
                if (c->end[pc->side].reset) {
                    snprintf(how, sizeof(how), "the connection was reset by the %s", other);
                    fail_gone(pc, st, how);
                } else if (f->fin_arrived && f->rd == f->arr) {
                    snprintf(how, sizeof(how), "the %s closed the connection (EOF)", other);
                    fail_gone(pc, st, how);
                }
                return;
            }
            pc->pos = 0;
            ah__trace_note(sim, c->label, "peer: expected bytes received");
            break;
        case AH__STEP_EXPECT_EOF:
            if (avail > 0)
                fail_mismatch(pc, st, data, avail, 0);
            if (c->end[pc->side].reset) {
                snprintf(how, sizeof(how), "the connection was reset by the %s", other);
                fail_gone(pc, st, how);
                return;
            }
            if (!f->fin_arrived)
                return;
            ah__trace_note(sim, c->label, "peer: EOF received");
            break;
        case AH__STEP_REPLY:
        case AH__STEP_DELAY:
            if (!step_wait(pc, st->ms))
                return;
            if (st->kind == AH__STEP_REPLY && !c->end[pc->side].reset) {
                ah__trace_note(sim, c->label, "peer: reply");
                ah__flow_send(c, pc->side, st->bytes, st->n);
            }
            break;
        case AH__STEP_SHUTDOWN:
            ah__trace_note(sim, c->label, "peer: shutdown (FIN)");
            ah__flow_send_fin(c, pc->side);
            break;
        case AH__STEP_CLOSE:
        case AH__STEP_RESET:
            if (avail > 0)
                fail_after_end(pc, data, avail, st); /* bytes the script did not expect */
            ah__trace_note(sim, c->label,
                           st->kind == AH__STEP_CLOSE ? "peer: close" : "peer: reset");
            pc->closed = pc->finished = 1;
            pc->step++;
            ah__end_close(c, pc->side, st->kind == AH__STEP_RESET);
            return;
        case AH__STEP_STALL:
            ah__trace_note(sim, c->label, "peer: stall");
            pc->stalled = 1;
            break;
        }
        pc->step++;
    }
    if (pc->aborted || pc->finished)
        return;
    avail = (size_t)(f->arr - f->rd);
    if (pc->stalled) {
        ah__flow_consume(f, avail); /* a hung server's kernel still takes the bytes */
        return;
    }
    if (avail > 0)
        fail_after_end(pc, f->buf + (f->rd - f->base), avail, NULL);
    if ((f->fin_arrived || c->end[pc->side].reset) && !pc->closed) {
        /* The script is done and the other end went away: this end closes too. */
        pc->closed = pc->finished = 1;
        ah__end_close(c, pc->side, 0);
    }
}

void ah__peer_accept(ah_peer *p, ah__conn *c)
{
    ah__pconn *pc = ah__calloc(1, sizeof(*pc));
    ah__script *sc = p->next_script;
    char what[64];

    pc->peer = p;
    pc->conn = c;
    pc->side = 1;
    pc->index = ++p->accepted;
    ah__list_insert_tail(&p->conns, &pc->link);
    c->end[1].pc = pc;
    if (sc != NULL) {
        sc->used++;
        pc->script = sc;
        if (!sc->repeat)
            p->next_script = sc->link.next == &p->scripts
                                 ? NULL
                                 : ah__container_of(sc->link.next, ah__script, link);
    }
    snprintf(what, sizeof(what), "peer accepts connection #%u", pc->index);
    ah__trace_note(sim_of(p), c->label, what);
    pconn_advance(pc);
}

void ah__peer_incoming(ah__pconn *pc)
{
    ah__flow *f = pc_in(pc);

    if (pc->aborted) {
        ah__flow_consume(f, (size_t)(f->arr - f->rd));
        return;
    }
    pconn_advance(pc);
}

void ah__peer_client_gone(ah__pconn *pc)
{
    if (ah__event_scheduled(&pc->timer) && (pc->timer.flags & AH__EV_REF)) {
        uint64_t due = pc->timer.node.due;
        uv_loop_t *loop = pc->timer.loop;
        ah__event_cancel(&pc->timer);
        pc->timer.flags = 0;
        ah__event_schedule(loop, &pc->timer, due);
    }
}

void ah__peer_abort(ah__pconn *pc)
{
    pc->aborted = 1;
    ah__event_cancel(&pc->timer);
    ah__event_cancel(&pc->conn_ev);
}

/* ---- reports ---- */

static int pc_unfinished(const ah__pconn *pc)
{
    size_t i;

    if (pc->aborted || pc->stalled || pc->vanished || pc->script == NULL ||
        pc->step >= pc->script->n || pc->peer->server != NULL)
        return 0;
    if (pc->conn == NULL)
        return !pc->peer->tolerant; /* refused, or a connect that never completes */
    if (pc->peer->tolerant &&
        (pc->conn->end[1 - pc->side].closed || pc->conn->end[pc->side].reset ||
         pc->conn->flow[1 - pc->side].fin_arrived))
        return 0;
    if (!pc->conn->end[1 - pc->side].closed)
        return 1;
    /* The client went away: what is left is the peer's own replies and closing, unless the
     * script still expects bytes the client never sent. */
    for (i = pc->step; i < pc->script->n; i++)
        if (pc->script->steps[i].kind == AH__STEP_EXPECT)
            return 1;
    return 0;
}

void ah__peer_check(ah__net *net, ah__buf *b)
{
    ah__list *q, *r;
    unsigned k;

    for (q = net->peers.next; q != &net->peers; q = q->next) {
        ah_peer *p = ah__container_of(q, ah_peer, link);
        if (p->udp != NULL)
            ah__net_parts.udp_check(p, b);
        for (r = p->conns.next; r != &p->conns; r = r->next) {
            ah__pconn *pc = ah__container_of(r, ah__pconn, link);
            const ah__step *st;
            if (!pc_unfinished(pc))
                continue;
            st = &pc->script->steps[pc->step];
            ah__buf_printf(b, "  - ");
            peer_name(b, p);
            if (pc->conn == NULL)
                ah__buf_printf(b, ": %s; next step: ",
                               pc->refused ? "its connection was refused (ah_peer_tolerant "
                                             "accepts a server that refuses)"
                                           : "its connect never completed");
            else if (p->client)
                ah__buf_printf(b, " (%s) did not finish its script; next step: ", pc_label(pc));
            else
                ah__buf_printf(b, ": connection #%u (%s) did not finish its script; next step: ",
                               pc->index, pc_label(pc));
            describe_step(b, st);
            if (st->kind == AH__STEP_EXPECT && pc->pos > 0) {
                ah__buf_printf(b, ", received so far ");
                show_bytes(b, st->bytes, pc->pos);
            }
            ah__buf_printf(b, " (use ah_peer_stall for a server that never answers)\n");
        }
        k = 0;
        for (r = p->scripts.next; r != &p->scripts; r = r->next) {
            ah__script *sc = ah__container_of(r, ah__script, link);
            char s[160];
            k++;
            if (sc->used > 0 || sc->n == 0 || p->tolerant || p->client || p->server != NULL)
                continue;
            ah__buf_printf(b,
                           "  - scripted peer %s: the script for connection #%u (declared in "
                           "%s) was never used: only %u connection(s) were accepted; it starts "
                           "with ",
                           p->route->addr.str, k, ah__site_str(&sc->site, s, sizeof(s)),
                           p->accepted);
            describe_step(b, &sc->steps[0]);
            ah__buf_printf(b, "\n");
        }
    }
}

void ah__peer_pending(ah__net *net, ah__buf *b)
{
    ah__list *q, *r;

    for (q = net->peers.next; q != &net->peers; q = q->next) {
        ah_peer *p = ah__container_of(q, ah_peer, link);
        if (p->udp != NULL)
            ah__net_parts.udp_check(p, b);
        for (r = p->conns.next; r != &p->conns; r = r->next) {
            ah__pconn *pc = ah__container_of(r, ah__pconn, link);
            const ah__step *st;
            if (!pc_unfinished(pc))
                continue;
            st = &pc->script->steps[pc->step];
            ah__buf_printf(b, "  - ");
            peer_name(b, p);
            if (pc->conn == NULL) {
                ah__buf_printf(b, ": %s\n",
                               pc->refused ? "its connection was refused"
                                           : "its connect never completes");
                continue;
            }
            ah__buf_printf(b, ", connection #%u (%s): ", pc->index, pc_label(pc));
            if (st->kind == AH__STEP_EXPECT) {
                ah__buf_printf(b, "waits for the %s to send ", p->client ? "server" : "client");
                show_bytes(b, st->bytes, st->n);
                ah__buf_printf(b, " (received so far ");
                show_bytes(b, st->bytes, pc->pos);
                ah__buf_printf(b, ")");
            } else if (st->kind == AH__STEP_EXPECT_EOF) {
                ah__buf_printf(b, "waits for the %s to close", p->client ? "server" : "client");
            } else {
                ah__buf_printf(b, "at step ");
                describe_step(b, st);
            }
            ah__buf_printf(b, "\n");
        }
        if (p->listening && !p->tolerant && p->next_script != NULL && p->next_script->n > 0 &&
            p->next_script->used == 0)
            ah__buf_printf(b, "  - scripted peer %s waits for connection #%u\n", p->route->addr.str,
                           p->accepted + 1);
    }
}

void ah__peer_free_all(ah__net *net)
{
    size_t i;

    while (!ah__list_empty(&net->peers)) {
        ah_peer *p = ah__container_of(net->peers.next, ah_peer, link);
        ah__list_remove(&p->link);
        while (!ah__list_empty(&p->conns)) {
            ah__pconn *pc = ah__container_of(p->conns.next, ah__pconn, link);
            ah__list_remove(&pc->link);
            ah__event_cancel(&pc->timer);
            ah__event_cancel(&pc->conn_ev);
            if (pc->srv != NULL)
                ah__net_parts.server_conn_free(pc);
            ah__free(pc);
        }
        while (!ah__list_empty(&p->scripts)) {
            ah__script *sc = ah__container_of(p->scripts.next, ah__script, link);
            ah__list_remove(&sc->link);
            for (i = 0; i < sc->n; i++)
                ah__free(sc->steps[i].bytes);
            ah__free(sc->steps);
            ah__free(sc);
        }
        if (p->server != NULL)
            ah__net_parts.server_free(p->server);
        if (p->udp != NULL)
            ah__net_parts.udp_free(p);
        ah__free(p);
    }
}
