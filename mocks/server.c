/* ah_server: a ready server inside the sim (include/ah/server.h). It is a listening scripted peer
 * (peer.c accepts its connections and delivers their bytes) whose connections are run here
 * instead of by a script: bytes are cut into requests, each handed to the test's handler, and
 * the handler's answer goes out at once or after its delay, in order per connection. */
#include "internal_net.h"

#include <ah/server.h>

#include <string.h>

struct ah__server {
    ah_server *pub;
    ah_peer *peer;
    ah_framing framing;
    ah_server_fn handler;
    void *ctx;
    unsigned requests;
};

struct ah_server {
    struct ah__server s;
};

/* The state of one connection. */
typedef struct sconn {
    unsigned requests;
    unsigned char *out; /* the answer being built or waiting for its delay */
    size_t out_n, out_cap;
    uint64_t delay_ms;
    int ending;  /* 0, or AH__STEP_CLOSE / AH__STEP_RESET after the answer */
    int hung;    /* answers nothing more */
    int waiting; /* the answer waits for its delay */
} sconn;

typedef struct req_state {
    sconn *sc;
    int ended;
} req_state;

static ah_sim *sim_of(const ah__pconn *pc) { return pc->peer->net->sim; }

static req_state *req_of(ah_request *req, const char *fn)
{
    if (req == NULL || req->internal_ == NULL)
        ah__fail(ah__sim(),
                 "%s: called with a request that is not being handled (only inside "
                 "the ah_server handler's call)",
                 fn);
    return req->internal_;
}

static void out_add(sconn *sc, const void *bytes, size_t n)
{
    if (sc->out_n + n > sc->out_cap) {
        sc->out_cap = sc->out_n + n > 2 * sc->out_cap ? sc->out_n + n : 2 * sc->out_cap;
        sc->out = ah__realloc(sc->out, sc->out_cap);
    }
    if (n > 0)
        memcpy(sc->out + sc->out_n, bytes, n);
    sc->out_n += n;
}

void ah_request_reply(ah_request *req, const void *bytes, size_t n)
{
    req_state *rs = req_of(req, "ah_request_reply");
    if (bytes == NULL && n > 0)
        ah__fail(ah__sim(), "ah_request_reply: called with NULL bytes");
    out_add(rs->sc, bytes, n);
}

void ah_request_reply_str(ah_request *req, const char *text)
{
    ah_request_reply(req, text, text != NULL ? strlen(text) : 0);
}

void ah_request_reply_frame(ah_request *req, const void *bytes, size_t n)
{
    req_state *rs = req_of(req, "ah_request_reply_frame");
    unsigned char len[4];

    if (req->server->s.framing == AH_FRAME_LENGTH) {
        len[0] = (unsigned char)(n >> 24);
        len[1] = (unsigned char)(n >> 16);
        len[2] = (unsigned char)(n >> 8);
        len[3] = (unsigned char)n;
        out_add(rs->sc, len, 4);
        out_add(rs->sc, bytes, n);
    } else {
        out_add(rs->sc, bytes, n);
        out_add(rs->sc, "\r\n", 2);
    }
}

void ah_request_delay(ah_request *req, uint64_t ms)
{
    req_of(req, "ah_request_delay")->sc->delay_ms += ms;
}

static void set_ending(ah_request *req, const char *fn, int kind)
{
    req_state *rs = req_of(req, fn);
    if (rs->ended)
        ah__fail(ah__sim(), "%s: request %u of connection #%u already ends its connection", fn,
                 req->index, req->conn);
    rs->ended = 1;
    if (kind == AH__STEP_STALL)
        rs->sc->hung = 1;
    else
        rs->sc->ending = kind;
}

void ah_request_close(ah_request *req) { set_ending(req, "ah_request_close", AH__STEP_CLOSE); }
void ah_request_reset(ah_request *req) { set_ending(req, "ah_request_reset", AH__STEP_RESET); }
void ah_request_hang(ah_request *req) { set_ending(req, "ah_request_hang", AH__STEP_STALL); }

static void conn_end(ah__pconn *pc, int rst)
{
    if (pc->closed)
        return;
    pc->closed = pc->finished = 1;
    ah__end_close(pc->conn, pc->side, rst);
}

/* Sends the answer built so far and applies its ending. */
static void flush(ah__pconn *pc, sconn *sc)
{
    ah__conn *c = pc->conn;

    if (sc->ending == AH__STEP_RESET) {
        sc->out_n = 0;
        ah__trace_note(sim_of(pc), c->label, "ah_server: reset");
        conn_end(pc, 1);
        return;
    }
    if (sc->out_n > 0 && !c->end[pc->side].reset) {
        ah__trace_note(sim_of(pc), c->label, "ah_server: answer");
        ah__flow_send(c, pc->side, sc->out, sc->out_n);
    }
    sc->out_n = 0;
    if (sc->ending == AH__STEP_CLOSE) {
        ah__trace_note(sim_of(pc), c->label, "ah_server: close");
        conn_end(pc, 0);
    }
}

static void delay_fire(ah__event *ev)
{
    ah__pconn *pc = ah__container_of(ev, ah__pconn, timer);
    sconn *sc = pc->srv;

    sc->waiting = 0;
    sc->delay_ms = 0;
    flush(pc, sc);
    ah__server_advance(pc);
}

/* The length of the next complete frame at data[0..avail) and of its body, or 0. */
static size_t next_frame(ah_framing framing, const unsigned char *data, size_t avail,
                         size_t *body_off, size_t *body_n)
{
    size_t i, n;

    if (framing == AH_FRAME_LENGTH) {
        if (avail < 4)
            return 0;
        n = ((size_t)data[0] << 24) | ((size_t)data[1] << 16) | ((size_t)data[2] << 8) | data[3];
        if (avail - 4 < n)
            return 0;
        *body_off = 4;
        *body_n = n;
        return 4 + n;
    }
    for (i = 0; i < avail; i++)
        if (data[i] == '\n') {
            *body_off = 0;
            *body_n = i > 0 && data[i - 1] == '\r' ? i - 1 : i;
            return i + 1;
        }
    return 0;
}

void ah__server_advance(ah__pconn *pc)
{
    struct ah__server *srv = pc->peer->server;
    ah__conn *c = pc->conn;
    ah__flow *f = ah__pc_in(pc);
    sconn *sc = pc->srv;
    size_t avail, frame, off, n;
    const unsigned char *data;

    if (sc == NULL)
        sc = pc->srv = ah__calloc(1, sizeof(*sc));
    while (!pc->aborted && !pc->finished && !sc->waiting) {
        avail = (size_t)(f->arr - f->rd);
        data = avail > 0 ? f->buf + (f->rd - f->base) : NULL;
        if (sc->hung) {
            ah__flow_consume(f, avail); /* a hung server's kernel still takes the bytes */
            return;
        }
        frame = avail > 0 ? next_frame(srv->framing, data, avail, &off, &n) : 0;
        if (frame == 0) {
            /* The client went away (or half-closed with nothing left to answer): close too. */
            if (c->end[pc->side].reset || f->fin_arrived)
                conn_end(pc, 0);
            return;
        }
        {
            ah_request req;
            req_state rs = {sc, 0};
            char *body = ah__malloc(n + 1);

            memcpy(body, data + off, n);
            body[n] = '\0';
            memset(&req, 0, sizeof(req));
            req.data = body;
            req.len = n;
            req.conn = pc->index;
            req.index = ++sc->requests;
            req.number = ++srv->requests;
            req.server = srv->pub;
            req.internal_ = &rs;
            if (srv->handler != NULL)
                srv->handler(&req, srv->ctx);
            else
                out_add(sc, data, frame);
            req.internal_ = NULL;
            ah__free(body);
        }
        ah__flow_consume(f, frame);
        if (sc->delay_ms > 0) {
            sc->waiting = 1;
            pc->timer.fire = delay_fire;
            pc->timer.what = "ah_server: a delayed answer";
            pc->timer.flags = c->end[1 - pc->side].closed ? 0 : AH__EV_REF;
            ah__event_schedule(ah__conn_loop(c), &pc->timer,
                               sim_of(pc)->clock.now_ns + sc->delay_ms * AH__NS_PER_MS);
            return;
        }
        flush(pc, sc);
    }
}

void ah__server_conn_free(ah__pconn *pc)
{
    sconn *sc = pc->srv;
    ah__free(sc->out);
    ah__free(sc);
    pc->srv = NULL;
}

void ah__server_free(struct ah__server *srv) { ah__free(srv->pub); }

ah_server *ah_server_start(ah_sim *sim, const char *addr, ah_framing framing, ah_server_fn handler,
                           void *ctx)
{
    ah_peer *p;
    ah_server *pub;

    if (framing != AH_FRAME_LINE && framing != AH_FRAME_LENGTH)
        ah__fail(sim,
                 "ah_server_start(\"%s\"): framing %d is neither AH_FRAME_LINE nor "
                 "AH_FRAME_LENGTH",
                 addr, (int)framing);
    p = ah__peer_listen(sim, addr, AH__CALLER("ah_server_start"), "ah_server_start");
    pub = ah__calloc(1, sizeof(*pub));
    pub->s.pub = pub;
    pub->s.peer = p;
    pub->s.framing = framing;
    pub->s.handler = handler;
    pub->s.ctx = ctx;
    ah__net_parts.server_advance = ah__server_advance;
    ah__net_parts.server_conn_free = ah__server_conn_free;
    ah__net_parts.server_free = ah__server_free;
    p->server = &pub->s;
    p->tolerant = 1;
    ah__trace_note(sim, p->route->addr.str, "ah_server listening");
    return pub;
}

void ah_server_stop(ah_server *srv) { srv->s.peer->listening = 0; }

unsigned ah_server_connections(const ah_server *srv) { return srv->s.peer->accepted; }

unsigned ah_server_requests(const ah_server *srv) { return srv->s.requests; }
