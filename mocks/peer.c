/* Scripted peers: a listener owned by the sim whose connections each run a script of steps
 * (expect bytes, reply after a delay, close, reset, stall), as tokio-test's mock I/O does.
 * Expected bytes are matched incrementally, so any chunking of the client's writes matches; the
 * first wrong byte fails the test at once, showing expected and received bytes escaped. */
#include "internal_net.h"

#include <stdio.h>
#include <string.h>

#define SHOW_MAX 160

static void pconn_advance(ah__pconn *pc);

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

ah_peer *ah_net_listen(ah_sim *sim, const char *addr)
{
    ah__site site = AH__CALLER("ah_net_listen");
    ah__route *r = ah__test_route(sim, "ah_net_listen", addr);
    ah_peer *p;

    if (ah__route_listens(r) || r->peer != NULL || r->bound != NULL)
        ah__fail(sim, "ah_net_listen(\"%s\"): something already listens on that address", addr);
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

void ah_peer_next_connection(ah_peer *p)
{
    ah__site site = AH__CALLER("ah_peer_next_connection");

    peer_arg(p, "ah_peer_next_connection");
    if (last_script(p)->repeat)
        ah__fail(sim_of(p), "ah_peer_next_connection after ah_peer_repeat: the repeated script "
                            "takes every further connection");
    script_new(p, site);
}

void ah_peer_repeat(ah_peer *p) { last_script(peer_arg(p, "ah_peer_repeat"))->repeat = 1; }

unsigned ah_peer_accept_count(const ah_peer *p) { return p->accepted; }

/* ---- running a script ---- */

static ah__flow *pc_in(ah__pconn *pc) { return &pc->conn->flow[0]; }

static void fail_header(ah__buf *b, ah__pconn *pc, const char *what)
{
    ah__buf_printf(b, "scripted peer %s: %s on connection #%u (%s) at +%llu ms",
                   pc->peer->route->addr.str, what, pc->index, pc->conn->label,
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

static void fail_gone(ah__pconn *pc, const ah__step *st, const char *how)
{
    ah_sim *sim = sim_of(pc->peer);
    ah__buf b = {0};

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
    ah__buf_printf(&b, ")");
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
    pc->timer.flags = pc->conn->end[0].closed ? 0 : AH__EV_REF;
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

    while (!pc->aborted && !pc->finished && sc != NULL && pc->step < sc->n) {
        st = &sc->steps[pc->step];
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
                if (c->end[1].reset)
                    fail_gone(pc, st, "the connection was reset by the client");
                if (f->fin_arrived && f->rd == f->arr)
                    fail_gone(pc, st, "the client closed the connection (EOF)");
                return;
            }
            pc->pos = 0;
            ah__trace_note(sim, c->label, "peer: expected bytes received");
            break;
        case AH__STEP_EXPECT_EOF:
            if (avail > 0)
                fail_mismatch(pc, st, data, avail, 0);
            if (c->end[1].reset)
                fail_gone(pc, st, "the connection was reset by the client");
            if (!f->fin_arrived)
                return;
            ah__trace_note(sim, c->label, "peer: EOF received");
            break;
        case AH__STEP_REPLY:
        case AH__STEP_DELAY:
            if (!step_wait(pc, st->ms))
                return;
            if (st->kind == AH__STEP_REPLY && !c->end[1].reset) {
                ah__trace_note(sim, c->label, "peer: reply");
                ah__flow_send(c, 1, st->bytes, st->n);
            }
            break;
        case AH__STEP_CLOSE:
        case AH__STEP_RESET:
            if (avail > 0)
                fail_after_end(pc, data, avail, st); /* bytes the script did not expect */
            ah__trace_note(sim, c->label,
                           st->kind == AH__STEP_CLOSE ? "peer: close" : "peer: reset");
            pc->closed = pc->finished = 1;
            pc->step++;
            ah__end_close(c, 1, st->kind == AH__STEP_RESET);
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
    if ((f->fin_arrived || c->end[1].reset) && !pc->closed) {
        /* The script is done and the client went away: the server closes too. */
        pc->closed = pc->finished = 1;
        ah__end_close(c, 1, 0);
    }
}

void ah__peer_accept(ah_peer *p, ah__conn *c)
{
    ah__pconn *pc = ah__calloc(1, sizeof(*pc));
    ah__script *sc = p->next_script;
    char what[64];

    pc->peer = p;
    pc->conn = c;
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
}

/* ---- reports ---- */

static int pc_unfinished(const ah__pconn *pc)
{
    size_t i;

    if (pc->aborted || pc->stalled || pc->script == NULL || pc->step >= pc->script->n)
        return 0;
    if (!pc->conn->end[0].closed)
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
        for (r = p->conns.next; r != &p->conns; r = r->next) {
            ah__pconn *pc = ah__container_of(r, ah__pconn, link);
            const ah__step *st;
            if (!pc_unfinished(pc))
                continue;
            st = &pc->script->steps[pc->step];
            ah__buf_printf(b,
                           "  - scripted peer %s: connection #%u (%s) did not finish its script; "
                           "next step: ",
                           p->route->addr.str, pc->index, pc->conn->label);
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
            if (sc->used > 0 || sc->n == 0)
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
        for (r = p->conns.next; r != &p->conns; r = r->next) {
            ah__pconn *pc = ah__container_of(r, ah__pconn, link);
            const ah__step *st;
            if (!pc_unfinished(pc))
                continue;
            st = &pc->script->steps[pc->step];
            ah__buf_printf(b, "  - scripted peer %s, connection #%u (%s): ", p->route->addr.str,
                           pc->index, pc->conn->label);
            if (st->kind == AH__STEP_EXPECT) {
                ah__buf_printf(b, "waits for the client to send ");
                show_bytes(b, st->bytes, st->n);
                ah__buf_printf(b, " (received so far ");
                show_bytes(b, st->bytes, pc->pos);
                ah__buf_printf(b, ")");
            } else if (st->kind == AH__STEP_EXPECT_EOF) {
                ah__buf_printf(b, "waits for the client to close");
            } else {
                ah__buf_printf(b, "at step ");
                describe_step(b, st);
            }
            ah__buf_printf(b, "\n");
        }
        if (p->listening && p->next_script != NULL && p->next_script->n > 0 &&
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
        ah__free(p);
    }
}
