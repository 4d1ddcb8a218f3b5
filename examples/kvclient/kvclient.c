#include "kvclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Intrusive circular list with a sentinel; an unlinked node points to itself, so removing it
 * twice is harmless. */
struct link {
    struct link *prev, *next;
};

#define container_of(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

static void link_init(struct link *l) { l->prev = l->next = l; }

static int link_empty(const struct link *l) { return l->next == l; }

static void link_remove(struct link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    link_init(l);
}

static void link_append(struct link *head, struct link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

enum { REQ_QUEUED, REQ_INFLIGHT, REQ_DONE };

struct kv_req {
    kv_client *c;
    kv_cb cb;
    void *data;
    char *cmd; /* encoded command, until it is sent */
    size_t cmdlen;
    uint64_t deadline_ms;
    int state;
    int in_fifo; /* in the in-flight FIFO: waiting for its reply, or a placeholder for it */
    int cb_done; /* its callback has returned */
    int status;
    kv_reply *reply;
    struct link q; /* queued list or in-flight FIFO */
    struct link t; /* live (QUEUED/INFLIGHT): the deadline list; DONE: the done list */
};

enum { ST_RESOLVING, ST_CONNECTING, ST_CONNECTED, ST_BACKOFF, ST_IDLE, ST_CLOSING };

struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    kv_client *c;
};

struct gai {
    uv_getaddrinfo_t req;
    kv_client *c;
};

struct wr {
    uv_write_t req;
    struct conn *conn;
    char *buf;
};

struct kv_client {
    uv_loop_t *loop;
    char *host;
    char port[8];
    kv_opts o;
    uint32_t rng;
    int state;
    struct conn *conn;      /* the current connection, CONNECTING or CONNECTED */
    struct gai *gai;        /* the current resolution, RESOLVING */
    unsigned retries;       /* reconnect attempts since the last success */
    uv_timer_t conn_timer;  /* connect timeout, or the delay before a reconnect attempt */
    uv_timer_t cmd_timer;   /* the earliest command deadline */
    uv_timer_t defer_timer; /* 0 ms: completions decided outside a loop callback */
    uint64_t cmd_due_ms;
    int cmd_armed;
    int defer_armed;
    struct link queued;  /* not sent yet, waiting for a connection */
    struct link fifo;    /* sent, in order: live requests and placeholders */
    struct link pending; /* live requests in issue order, which is deadline order */
    struct link done;    /* callbacks to run */
    int draining;
    kv_parser parser;
    int closing;
    unsigned open; /* handles and getaddrinfo requests whose callback is still due */
    kv_close_cb closed_cb;
    void *closed_data;
    kv_stats stats;
    char rbuf[65536];
};

static void start_attempt(kv_client *c);
static void conn_lost(kv_client *c, int status);

static uint32_t xorshift32(void *ctx)
{
    uint32_t *s = ctx, x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static uint64_t backoff_delay_ms(kv_client *c, unsigned k)
{
    uint64_t base = c->o.backoff_initial_ms, max = c->o.backoff_max_ms;
    unsigned i;

    for (i = 1; i < k && base < max; i++)
        base = base > max / 2 ? max : base * 2;
    if (base > max)
        base = max;
    return base / 2 + c->o.rand_fn(c->o.rand_ctx) % (base / 2 + 1);
}

static void free_req(kv_req *req)
{
    free(req->cmd);
    kv_reply_free(req->reply);
    free(req);
}

static void defer_cb(uv_timer_t *t);
static void maybe_free(kv_client *c);

/* Decides a request's outcome; its callback runs from the next drain. */
static void complete(kv_req *req, int status)
{
    kv_client *c = req->c;

    link_remove(&req->t);
    req->state = REQ_DONE;
    req->status = status;
    if (status == UV_ETIMEDOUT)
        c->stats.timeouts++;
    link_append(&c->done, &req->t);
    if (!c->closing && !c->defer_armed) {
        uv_timer_start(&c->defer_timer, defer_cb, 0, 0);
        c->defer_armed = 1;
    }
}

/* Runs the callbacks decided so far; outcomes decided by those callbacks wait for the next
 * batch. */
static void run_batch(kv_client *c)
{
    struct link batch;
    kv_req *req;

    if (c->draining || link_empty(&c->done))
        return;
    batch = c->done;
    batch.next->prev = &batch;
    batch.prev->next = &batch;
    link_init(&c->done);
    c->draining = 1;
    while (!link_empty(&batch)) {
        req = container_of(batch.next, kv_req, t);
        link_remove(&req->t);
        req->cb(req, req->status, req->reply, req->data);
        kv_reply_free(req->reply);
        req->reply = NULL;
        req->cb_done = 1;
        if (!req->in_fifo)
            free_req(req);
    }
    c->draining = 0;
}

/* Called last in every loop callback of the client, so user code never runs while the client's
 * state is half updated. May free the client: touch nothing after it. */
static void drain(kv_client *c)
{
    run_batch(c);
    if (link_empty(&c->done) && c->defer_armed && !c->closing) {
        uv_timer_stop(&c->defer_timer);
        c->defer_armed = 0;
    }
    /* Only when the last close callback ran inside a callback (a loop run inside it). */
    maybe_free(c);
}

static void defer_cb(uv_timer_t *t)
{
    kv_client *c = container_of(t, kv_client, defer_timer);

    c->defer_armed = 0;
    drain(c);
}

static void cmd_timer_cb(uv_timer_t *t);

/* Points the command timer at the earliest deadline. */
static void arm_cmd_timer(kv_client *c)
{
    kv_req *head;
    uint64_t now;

    if (c->closing)
        return;
    head = link_empty(&c->pending) ? NULL : container_of(c->pending.next, kv_req, t);
    if (head == NULL || head->deadline_ms == UINT64_MAX) {
        if (c->cmd_armed)
            uv_timer_stop(&c->cmd_timer);
        c->cmd_armed = 0;
        return;
    }
    if (c->cmd_armed && c->cmd_due_ms == head->deadline_ms)
        return;
    now = uv_now(c->loop);
    uv_timer_start(&c->cmd_timer, cmd_timer_cb,
                   head->deadline_ms > now ? head->deadline_ms - now : 0, 0);
    c->cmd_armed = 1;
    c->cmd_due_ms = head->deadline_ms;
}

/* Ends a live request early (timeout or cancel). A sent one stays in the FIFO as a placeholder
 * so that its reply, when it comes, is matched to it and discarded. */
static void abandon(kv_req *req, int status)
{
    if (req->state == REQ_QUEUED) {
        link_remove(&req->q);
        free(req->cmd);
        req->cmd = NULL;
    }
#ifdef KV_PLANTED_BUG
    /* Planted bug: no placeholder, so the late reply is given to the next command. */
    if (req->state == REQ_INFLIGHT && status == UV_ETIMEDOUT) {
        link_remove(&req->q);
        req->in_fifo = 0;
    }
#endif
    complete(req, status);
}

static void cmd_timer_cb(uv_timer_t *t)
{
    kv_client *c = container_of(t, kv_client, cmd_timer);
    uint64_t now = uv_now(c->loop);
    kv_req *req;

    c->cmd_armed = 0;
    while (!link_empty(&c->pending)) {
        req = container_of(c->pending.next, kv_req, t);
        if (req->deadline_ms > now)
            break;
        abandon(req, UV_ETIMEDOUT);
    }
    arm_cmd_timer(c);
    drain(c);
}

static void fail_queued(kv_client *c, int status)
{
    kv_req *req;

    while (!link_empty(&c->queued)) {
        req = container_of(c->queued.next, kv_req, q);
        abandon(req, status);
    }
    /* Leave no timer behind for deadlines that are gone: it would wake the loop for nothing. */
    arm_cmd_timer(c);
}

/* Empties the in-flight FIFO: live requests fail with status, placeholders are dropped. */
static void fail_fifo(kv_client *c, int status)
{
    kv_req *req;

    while (!link_empty(&c->fifo)) {
        req = container_of(c->fifo.next, kv_req, q);
        link_remove(&req->q);
        req->in_fifo = 0;
        if (req->state != REQ_DONE)
            complete(req, status);
        else if (req->cb_done)
            free_req(req);
    }
}

static void maybe_free(kv_client *c)
{
    if (!c->closing || c->open > 0 || c->draining)
        return;
    /* No handle is left for a later turn: run callbacks until none is added. */
    while (!link_empty(&c->done))
        run_batch(c);
    kv_parser_reset(&c->parser);
    if (c->closed_cb != NULL)
        c->closed_cb(c, c->closed_data);
    free(c->host);
    free(c);
}

static void conn_close_cb(uv_handle_t *h)
{
    struct conn *conn = container_of(h, struct conn, tcp);
    kv_client *c = conn->c;

    free(conn);
    c->open--;
    maybe_free(c);
}

static void drop_conn(kv_client *c)
{
    struct conn *conn = c->conn;

    c->conn = NULL;
    uv_close((uv_handle_t *)&conn->tcp, conn_close_cb);
}

static void conn_timer_cb(uv_timer_t *t);

/* Schedules the next reconnect attempt, or gives up and fails the queued commands. */
static void schedule_retry(kv_client *c, int status)
{
    if (c->retries >= c->o.max_retries) {
        c->state = ST_IDLE;
        c->retries = 0;
        fail_queued(c, status);
        return;
    }
    c->retries++;
    c->state = ST_BACKOFF;
    uv_timer_start(&c->conn_timer, conn_timer_cb, backoff_delay_ms(c, c->retries), 0);
}

static void attempt_failed(kv_client *c, int status)
{
    uv_timer_stop(&c->conn_timer);
    schedule_retry(c, status);
}

static void conn_lost(kv_client *c, int status)
{
    drop_conn(c);
    kv_parser_reset(&c->parser);
    fail_fifo(c, status);
    schedule_retry(c, status);
    arm_cmd_timer(c);
}

static void write_cb(uv_write_t *w, int status)
{
    struct wr *wr = container_of(w, struct wr, req);
    struct conn *conn = wr->conn;
    kv_client *c = conn->c;

    free(wr->buf);
    free(wr);
    /* A write cancelled by our own close is not news. */
    if (status < 0 && c->conn == conn) {
        conn_lost(c, status);
        drain(c);
    }
}

/* Sends every queued command in one write. */
static void flush_queued(kv_client *c)
{
    size_t total = 0, off = 0;
    struct link *l;
    struct wr *wr;
    kv_req *req;
    uv_buf_t b;
    int rc;

    if (link_empty(&c->queued))
        return;
    for (l = c->queued.next; l != &c->queued; l = l->next)
        total += container_of(l, kv_req, q)->cmdlen;
    wr = malloc(sizeof(*wr));
    b.base = malloc(total);
    if (wr == NULL || b.base == NULL) {
        free(wr);
        free(b.base);
        fail_queued(c, UV_ENOMEM);
        return;
    }
    while (!link_empty(&c->queued)) {
        req = container_of(c->queued.next, kv_req, q);
        link_remove(&req->q);
        memcpy(b.base + off, req->cmd, req->cmdlen);
        off += req->cmdlen;
        free(req->cmd);
        req->cmd = NULL;
        req->state = REQ_INFLIGHT;
        req->in_fifo = 1;
        link_append(&c->fifo, &req->q);
    }
    b = uv_buf_init(b.base, (unsigned)total);
    wr->conn = c->conn;
    wr->buf = b.base;
    rc = uv_write(&wr->req, (uv_stream_t *)&c->conn->tcp, &b, 1, write_cb);
    if (rc < 0) {
        free(wr->buf);
        free(wr);
        conn_lost(c, rc);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    kv_client *c = container_of(h, struct conn, tcp)->c;

    (void)suggested;
    *buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *conn = container_of(s, struct conn, tcp);
    kv_client *c = conn->c;
    kv_reply *reply;
    kv_req *req;
    int rc;

    if (c->conn != conn || nread == 0)
        return;
    if (nread < 0) {
        conn_lost(c, (int)nread);
        drain(c);
        return;
    }
    if (kv_parser_feed(&c->parser, buf->base, (size_t)nread) != 0) {
        conn_lost(c, UV_ENOMEM);
        drain(c);
        return;
    }
    for (;;) {
        rc = kv_parser_next(&c->parser, &reply);
        if (rc == 0)
            break;
        if (rc < 0 || link_empty(&c->fifo)) {
            /* Garbage, or a reply nobody asked for: the stream cannot be trusted any more. */
            if (rc > 0)
                kv_reply_free(reply);
            conn_lost(c, UV_EPROTO);
            break;
        }
        c->stats.replies++;
        req = container_of(c->fifo.next, kv_req, q);
        link_remove(&req->q);
        req->in_fifo = 0;
        if (req->state == REQ_DONE) {
            /* The placeholder of a timed-out or cancelled command. */
            c->stats.late_replies++;
            kv_reply_free(reply);
            if (req->cb_done)
                free_req(req);
            continue;
        }
        req->reply = reply;
        complete(req, 0);
    }
    arm_cmd_timer(c);
    drain(c);
}

static void connect_cb(uv_connect_t *creq, int status)
{
    struct conn *conn = container_of(creq, struct conn, connect);
    kv_client *c = conn->c;
    int rc;

    if (c->conn != conn)
        return; /* abandoned by a timeout or kv_close; its close is under way */
    rc = status < 0 ? status : uv_read_start((uv_stream_t *)&conn->tcp, alloc_cb, read_cb);
    if (rc < 0) {
        drop_conn(c);
        attempt_failed(c, rc);
        drain(c);
        return;
    }
    uv_timer_stop(&c->conn_timer);
    c->state = ST_CONNECTED;
    c->retries = 0;
    c->stats.connects++;
    flush_queued(c);
    drain(c);
}

static const struct sockaddr *pick_addr(const struct addrinfo *res)
{
    const struct addrinfo *ai;

    /* Prefer IPv4: "localhost" often lists ::1 first while servers listen on 127.0.0.1. */
    for (ai = res; ai != NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            return ai->ai_addr;
    return res != NULL ? res->ai_addr : NULL;
}

static void gai_cb(uv_getaddrinfo_t *greq, int status, struct addrinfo *res)
{
    struct gai *g = container_of(greq, struct gai, req);
    kv_client *c = g->c;
    const struct sockaddr *addr;
    struct conn *conn;
    int rc;

    c->open--;
    if (c->gai != g) {
        /* Abandoned by the connect timeout or kv_close. */
        free(g);
        if (res != NULL)
            uv_freeaddrinfo(res);
        maybe_free(c);
        return;
    }
    c->gai = NULL;
    free(g);
    addr = status < 0 ? NULL : pick_addr(res);
    if (addr == NULL) {
        if (res != NULL)
            uv_freeaddrinfo(res);
        attempt_failed(c, status < 0 ? status : UV_EAI_NODATA);
        drain(c);
        return;
    }
    conn = malloc(sizeof(*conn));
    if (conn == NULL) {
        uv_freeaddrinfo(res);
        attempt_failed(c, UV_ENOMEM);
        drain(c);
        return;
    }
    conn->c = c;
    uv_tcp_init(c->loop, &conn->tcp);
    c->open++;
    c->conn = conn;
    c->state = ST_CONNECTING;
    rc = uv_tcp_connect(&conn->connect, &conn->tcp, addr, connect_cb);
    uv_freeaddrinfo(res);
    if (rc < 0) {
        drop_conn(c);
        attempt_failed(c, rc);
    }
    drain(c);
}

static void start_attempt(kv_client *c)
{
    struct addrinfo hints;
    struct gai *g;
    int rc;

    c->state = ST_RESOLVING;
    c->stats.connect_attempts++;
    if (c->o.connect_timeout_ms != KV_NO_TIMEOUT)
        uv_timer_start(&c->conn_timer, conn_timer_cb, c->o.connect_timeout_ms, 0);
    g = malloc(sizeof(*g));
    if (g == NULL) {
        attempt_failed(c, UV_ENOMEM);
        return;
    }
    g->c = c;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    rc = uv_getaddrinfo(c->loop, &g->req, gai_cb, c->host, c->port, &hints);
    if (rc < 0) {
        free(g);
        attempt_failed(c, rc);
        return;
    }
    c->gai = g;
    c->open++;
}

static void conn_timer_cb(uv_timer_t *t)
{
    kv_client *c = container_of(t, kv_client, conn_timer);

    switch (c->state) {
    case ST_RESOLVING:
        /* The result, if it still comes, is dropped by gai_cb. */
        if (c->gai != NULL)
            uv_cancel((uv_req_t *)&c->gai->req);
        c->gai = NULL;
        attempt_failed(c, UV_ETIMEDOUT);
        break;
    case ST_CONNECTING:
        drop_conn(c);
        attempt_failed(c, UV_ETIMEDOUT);
        break;
    case ST_BACKOFF:
        start_attempt(c);
        break;
    default:
        break;
    }
    drain(c);
}

kv_client *kv_new(uv_loop_t *loop, const char *host, int port, const kv_opts *opts)
{
    kv_client *c;

    if (loop == NULL || host == NULL || port <= 0 || port > 65535)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->host = strdup(host);
    if (c->host == NULL) {
        free(c);
        return NULL;
    }
    snprintf(c->port, sizeof(c->port), "%d", port);
    if (opts != NULL)
        c->o = *opts;
    if (c->o.connect_timeout_ms == 0)
        c->o.connect_timeout_ms = KV_DEFAULT_CONNECT_TIMEOUT_MS;
    if (c->o.timeout_ms == 0)
        c->o.timeout_ms = KV_DEFAULT_TIMEOUT_MS;
    if (c->o.backoff_initial_ms == 0)
        c->o.backoff_initial_ms = KV_DEFAULT_BACKOFF_INITIAL_MS;
    if (c->o.backoff_max_ms == 0)
        c->o.backoff_max_ms = KV_DEFAULT_BACKOFF_MAX_MS;
    if (c->o.max_retries == 0)
        c->o.max_retries = KV_DEFAULT_MAX_RETRIES;
    else if (c->o.max_retries == KV_NO_RETRIES)
        c->o.max_retries = 0;
    if (c->o.rand_fn == NULL) {
        c->rng = KV_RAND_SEED;
        c->o.rand_fn = xorshift32;
        c->o.rand_ctx = &c->rng;
    }
    c->loop = loop;
    link_init(&c->queued);
    link_init(&c->fifo);
    link_init(&c->pending);
    link_init(&c->done);
    kv_parser_init(&c->parser);
    uv_timer_init(loop, &c->conn_timer);
    uv_timer_init(loop, &c->cmd_timer);
    uv_timer_init(loop, &c->defer_timer);
    c->open = 3;
    start_attempt(c);
    return c;
}

kv_req *kv_command(kv_client *c, int argc, const char **argv, const size_t *argvlen, kv_cb cb,
                   void *data)
{
    kv_req *req;
    uint64_t now;

    if (c == NULL || cb == NULL || argc < 1 || argv == NULL)
        return NULL;
    req = calloc(1, sizeof(*req));
    if (req == NULL)
        return NULL;
    if (kv_resp_encode(argc, argv, argvlen, &req->cmd, &req->cmdlen) != 0) {
        free(req);
        return NULL;
    }
    req->c = c;
    req->cb = cb;
    req->data = data;
    link_init(&req->q);
    link_init(&req->t);
    c->stats.commands++;
    if (c->closing) {
        free(req->cmd);
        req->cmd = NULL;
        complete(req, UV_ECANCELED);
        return req;
    }
    now = uv_now(c->loop);
    req->deadline_ms = c->o.timeout_ms > UINT64_MAX - now ? UINT64_MAX : now + c->o.timeout_ms;
    req->state = REQ_QUEUED;
    link_append(&c->pending, &req->t);
    link_append(&c->queued, &req->q);
    if (c->state == ST_CONNECTED)
        flush_queued(c);
    else if (c->state == ST_IDLE)
        start_attempt(c);
    arm_cmd_timer(c);
    return req;
}

kv_req *kv_ping(kv_client *c, kv_cb cb, void *data)
{
    const char *argv[] = {"PING"};

    return kv_command(c, 1, argv, NULL, cb, data);
}

kv_req *kv_get(kv_client *c, const char *key, kv_cb cb, void *data)
{
    const char *argv[] = {"GET", key};

    return key == NULL ? NULL : kv_command(c, 2, argv, NULL, cb, data);
}

kv_req *kv_set(kv_client *c, const char *key, const char *val, uint64_t expire_ms, kv_cb cb,
               void *data)
{
    char px[24];
    const char *argv[] = {"SET", key, val, "PX", px};

    if (key == NULL || val == NULL)
        return NULL;
    snprintf(px, sizeof(px), "%llu", (unsigned long long)expire_ms);
    return kv_command(c, expire_ms > 0 ? 5 : 3, argv, NULL, cb, data);
}

kv_req *kv_del(kv_client *c, const char *key, kv_cb cb, void *data)
{
    const char *argv[] = {"DEL", key};

    return key == NULL ? NULL : kv_command(c, 2, argv, NULL, cb, data);
}

kv_req *kv_incr(kv_client *c, const char *key, kv_cb cb, void *data)
{
    const char *argv[] = {"INCR", key};

    return key == NULL ? NULL : kv_command(c, 2, argv, NULL, cb, data);
}

int kv_cancel(kv_req *req)
{
    if (req == NULL)
        return UV_EINVAL;
    if (req->state == REQ_DONE)
        return UV_EALREADY;
    abandon(req, UV_ECANCELED);
    arm_cmd_timer(req->c);
    return 0;
}

static void timer_close_cb(uv_handle_t *h)
{
    kv_client *c = h->data;

    c->open--;
    maybe_free(c);
}

void kv_close(kv_client *c, kv_close_cb closed_cb, void *data)
{
    kv_req *req;

    if (c == NULL || c->closing)
        return;
    c->closing = 1;
    c->state = ST_CLOSING;
    c->closed_cb = closed_cb;
    c->closed_data = data;
    if (c->gai != NULL) {
        /* gai_cb still runs (UV_EAI_CANCELED if the cancel won) and keeps the client alive. */
        uv_cancel((uv_req_t *)&c->gai->req);
        c->gai = NULL;
    }
    if (c->conn != NULL)
        drop_conn(c);
    /* Live requests fail in issue order; placeholders go with the FIFO. */
    while (!link_empty(&c->pending)) {
        req = container_of(c->pending.next, kv_req, t);
        abandon(req, UV_ECANCELED);
    }
    fail_fifo(c, UV_ECANCELED);
    c->conn_timer.data = c;
    c->cmd_timer.data = c;
    c->defer_timer.data = c;
    uv_close((uv_handle_t *)&c->conn_timer, timer_close_cb);
    uv_close((uv_handle_t *)&c->cmd_timer, timer_close_cb);
    uv_close((uv_handle_t *)&c->defer_timer, timer_close_cb);
}

void kv_client_stats(const kv_client *c, kv_stats *out)
{
    const struct link *l;

    *out = c->stats;
    out->in_flight = 0;
    out->queued = 0;
    for (l = c->fifo.next; l != &c->fifo; l = l->next)
        out->in_flight++;
    for (l = c->queued.next; l != &c->queued; l = l->next)
        out->queued++;
    out->connected = c->state == ST_CONNECTED;
}
