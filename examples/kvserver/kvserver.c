/* kvserver: see kvserver.h. Plain libuv and libc; the test suite compiles this file unchanged
 * against asyncharness. With -DKV_PLANTED_BUG the connection table's removal forgets to update
 * the index of the connection it moves (docs/testing-your-server.md, "Many clients, explored"). */
#include "kvserver.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV_MAX_KEYS 256
/* Slots beyond max_clients, for connections told "too many clients". */
#define KV_SPARE 4

typedef struct kv_conn kv_conn;

struct kv_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t heartbeat;
    uv_udp_t udp;
    kv_server_opts o;
    struct sockaddr_in monitor;
    kv_conn *pool; /* every connection's memory, max_clients + KV_SPARE slots */
    unsigned npool;
    kv_conn **conns; /* the connection table: conns[0 .. nconns) */
    unsigned nconns;
    char *keys[KV_MAX_KEYS], *vals[KV_MAX_KEYS];
    uv_file log;
    int64_t log_size;
    int draining;
    unsigned open_handles; /* listener, heartbeat, udp, connections' handles */
    unsigned heartbeats, heartbeat_failures;
    int heartbeat_error;
    void (*done)(void *arg);
    void *done_arg;
};

struct kv_conn {
    kv_server *srv;
    uv_tcp_t tcp;
    uv_timer_t idle;
    unsigned slot;
    int in_use;       /* the pool slot holds a connection */
    int open;         /* not closed yet */
    unsigned handles; /* tcp and idle, until both close callbacks ran */
    char *buf;
    size_t n;
    int busy;    /* a SET waits for its log write and fsync */
    int closing; /* close once the answers written so far went out */
    uv_fs_t fs;
    char *pending_key, *pending_val, *record;
};

static void conn_close(kv_conn *c);
static void conn_process(kv_conn *c);

/* ---- the key-value table ---- */

static int key_find(const kv_server *s, const char *k)
{
    int i;
    for (i = 0; i < KV_MAX_KEYS; i++)
        if (s->keys[i] != NULL && strcmp(s->keys[i], k) == 0)
            return i;
    return -1;
}

static void kv_set(kv_server *s, const char *k, const char *v)
{
    int i = key_find(s, k);
    if (i < 0)
        for (i = 0; i < KV_MAX_KEYS && s->keys[i] != NULL; i++)
            ;
    if (i == KV_MAX_KEYS)
        return;
    if (s->keys[i] == NULL)
        s->keys[i] = strdup(k);
    free(s->vals[i]);
    s->vals[i] = strdup(v);
}

static int kv_del(kv_server *s, const char *k)
{
    int i = key_find(s, k);
    if (i < 0)
        return 0;
    free(s->keys[i]);
    free(s->vals[i]);
    s->keys[i] = s->vals[i] = NULL;
    return 1;
}

const char *kv_server_get(const kv_server *s, const char *key)
{
    int i = key_find(s, key);
    return i < 0 ? NULL : s->vals[i];
}

unsigned kv_server_clients(const kv_server *s)
{
    unsigned i, n = 0;
    for (i = 0; i < s->nconns; i++)
        n += s->conns[i]->open;
    return n;
}

unsigned kv_server_heartbeats(const kv_server *s, unsigned *failed, int *last_error)
{
    if (failed != NULL)
        *failed = s->heartbeat_failures;
    if (last_error != NULL)
        *last_error = s->heartbeat_error;
    return s->heartbeats;
}

/* ---- the end ---- */

static void handle_closed(kv_server *s)
{
    if (--s->open_handles > 0 || !s->draining)
        return;
    if (s->log >= 0) {
        uv_fs_t req;
        uv_fs_close(s->loop, &req, s->log, NULL);
        uv_fs_req_cleanup(&req);
    }
    for (int i = 0; i < KV_MAX_KEYS; i++) {
        free(s->keys[i]);
        free(s->vals[i]);
    }
    free(s->conns);
    free(s->pool);
    if (s->done != NULL)
        s->done(s->done_arg);
    free(s);
}

static void server_handle_closed(uv_handle_t *h) { handle_closed(h->data); }

/* ---- the connection table ---- */

static void table_add(kv_server *s, kv_conn *c)
{
    c->slot = s->nconns;
    s->conns[s->nconns++] = c;
}

static void table_remove(kv_server *s, kv_conn *c)
{
    /* Swap-remove: the last connection takes the freed slot. */
    s->nconns--;
    s->conns[c->slot] = s->conns[s->nconns];
#ifndef KV_PLANTED_BUG
    s->conns[c->slot]->slot = c->slot;
#endif
}

/* ---- connections ---- */

static void conn_handle_closed(uv_handle_t *h)
{
    kv_conn *c = h->data;
    kv_server *s = c->srv;

    if (--c->handles > 0)
        return;
    free(c->buf);
    c->buf = NULL;
    c->in_use = 0;
    handle_closed(s);
}

static void conn_close(kv_conn *c)
{
    if (!c->open)
        return;
    c->open = 0;
    table_remove(c->srv, c);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
}

static void written(uv_write_t *w, int status)
{
    kv_conn *c = w->data;
    (void)status;
    free(w);
    if (c != NULL && c->closing && c->tcp.write_queue_size == 0)
        conn_close(c);
}

static void reply(kv_conn *c, const char *text)
{
    size_t n = strlen(text);
    uv_write_t *w = malloc(sizeof(*w) + n + 2);
    char *data = (char *)(w + 1);
    uv_buf_t b;

    memcpy(data, text, n);
    memcpy(data + n, "\r\n", 2);
    b = uv_buf_init(data, (unsigned)(n + 2));
    w->data = c;
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, written) != 0)
        free(w);
}

/* Answers what was asked so far, then closes. */
static void conn_finish(kv_conn *c)
{
    c->closing = 1;
    if (!c->open)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->tcp.write_queue_size == 0)
        conn_close(c);
}

static void idle_fired(uv_timer_t *t)
{
    kv_conn *c = t->data;
    if (!c->busy)
        conn_close(c);
}

static void log_done(kv_conn *c, int err)
{
    char msg[96];

    c->busy = 0;
    if (err == 0) {
        reply(c, "+OK");
    } else {
        snprintf(msg, sizeof(msg), "-ERR disk: %s", uv_strerror(err));
        reply(c, msg);
    }
    free(c->record);
    free(c->pending_key);
    free(c->pending_val);
    c->record = c->pending_key = c->pending_val = NULL;
    if (c->srv->draining || c->closing)
        conn_finish(c);
    else
        conn_process(c);
}

static void log_synced(uv_fs_t *req)
{
    kv_conn *c = req->data;
    int err = (int)req->result < 0 ? (int)req->result : 0;
    uv_fs_req_cleanup(req);
    log_done(c, err);
}

static void log_written(uv_fs_t *req)
{
    kv_conn *c = req->data;
    ssize_t r = req->result;
    size_t want = strlen(c->record);

    uv_fs_req_cleanup(req);
    if (r < 0) {
        log_done(c, (int)r);
        return;
    }
    if ((size_t)r < want) {
        log_done(c, UV_ENOSPC); /* a short write: the record is not whole on disk */
        return;
    }
    c->srv->log_size += r;
    /* Memory follows the log's order: applied when the record is written, acknowledged once
     * it is durable. */
    kv_set(c->srv, c->pending_key, c->pending_val);
    c->fs.data = c;
    uv_fs_fsync(c->srv->loop, &c->fs, c->srv->log, log_synced);
}

static void do_set(kv_conn *c, const char *k, const char *v)
{
    kv_server *s = c->srv;
    uv_buf_t b;
    size_t n;

    if (s->log < 0) {
        kv_set(s, k, v);
        reply(c, "+OK");
        return;
    }
    n = strlen(k) + strlen(v) + 6;
    c->record = malloc(n + 1);
    snprintf(c->record, n + 1, "SET %s %s\n", k, v);
    c->pending_key = strdup(k);
    c->pending_val = strdup(v);
    b = uv_buf_init(c->record, (unsigned)strlen(c->record));
    c->busy = 1;
    c->fs.data = c;
    uv_fs_write(s->loop, &c->fs, s->log, &b, 1, -1, log_written);
}

/* Handles one request line (NUL-terminated, no line end). */
static void handle_line(kv_conn *c, char *line)
{
    char *cmd = strtok(line, " "), *k = strtok(NULL, " "), *v = strtok(NULL, "");
    char out[1100];
    const char *val;

    if (cmd == NULL) {
        reply(c, "-ERR empty request");
    } else if (strcmp(cmd, "PING") == 0) {
        reply(c, "+PONG");
    } else if (strcmp(cmd, "QUIT") == 0) {
        conn_finish(c);
    } else if (strcmp(cmd, "GET") == 0 && k != NULL) {
        val = kv_server_get(c->srv, k);
        if (val == NULL) {
            reply(c, "-ERR no such key");
        } else {
            snprintf(out, sizeof(out), "$%s", val);
            reply(c, out);
        }
    } else if (strcmp(cmd, "SET") == 0 && k != NULL && v != NULL) {
        do_set(c, k, v);
    } else if (strcmp(cmd, "DEL") == 0 && k != NULL) {
        reply(c, kv_del(c->srv, k) ? ":1" : ":0");
    } else {
        reply(c, "-ERR unknown command");
    }
}

/* Handles the complete lines buffered, one at a time (a SET waits for its log). */
static void conn_process(kv_conn *c)
{
    char *nl;
    size_t len;

    while (!c->busy && !c->closing && (nl = memchr(c->buf, '\n', c->n)) != NULL) {
        len = (size_t)(nl - c->buf);
        *nl = '\0';
        if (len > 0 && c->buf[len - 1] == '\r')
            c->buf[len - 1] = '\0';
        handle_line(c, c->buf);
        memmove(c->buf, nl + 1, c->n - len - 1);
        c->n -= len + 1;
    }
    if (!c->busy && !c->closing && c->n > c->srv->o.max_line) {
        reply(c, "-ERR line too long");
        conn_finish(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    kv_conn *c = h->data;
    size_t room = c->srv->o.max_line + 2;

    (void)size;
    if (c->buf == NULL)
        c->buf = malloc(room);
    *b = uv_buf_init(c->buf + c->n, (unsigned)(room - c->n));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    kv_conn *c = st->data;

    (void)b;
    if (nread < 0) {
        /* The client is gone (EOF or reset): answers still owed have nobody to go to. */
        if (c->busy)
            c->closing = 1;
        else
            conn_close(c);
        return;
    }
    if (c->srv->o.idle_timeout_ms > 0)
        uv_timer_start(&c->idle, idle_fired, c->srv->o.idle_timeout_ms, 0);
    c->n += (size_t)nread;
    conn_process(c);
}

static void free_handle(uv_handle_t *h) { free(h); }

static void on_connection(uv_stream_t *l, int status)
{
    kv_server *s = l->data;
    kv_conn *c = NULL;
    unsigned i;

    if (status < 0)
        return;
    for (i = 0; i < s->npool && c == NULL; i++)
        if (!s->pool[i].in_use)
            c = &s->pool[i];
    if (c == NULL) {
        /* No slot left even to say so: accept and close at once. */
        uv_tcp_t *t = malloc(sizeof(*t));
        uv_tcp_init(s->loop, t);
        uv_accept(l, (uv_stream_t *)t);
        uv_close((uv_handle_t *)t, free_handle);
        return;
    }
    memset(c, 0, sizeof(*c));
    c->in_use = c->open = 1;
    c->srv = s;
    c->handles = 2;
    s->open_handles++;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->idle);
    c->tcp.data = c->idle.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        table_add(s, c);
        conn_close(c);
        return;
    }
    table_add(s, c);
    if (s->nconns > s->o.max_clients) {
        reply(c, "-ERR too many clients");
        conn_finish(c);
        return;
    }
    if (s->o.idle_timeout_ms > 0)
        uv_timer_start(&c->idle, idle_fired, s->o.idle_timeout_ms, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- heartbeat ---- */

static void heartbeat_sent(uv_udp_send_t *req, int status)
{
    kv_server *s = req->data;
    free(req);
    if (status < 0) {
        s->heartbeat_failures++;
        s->heartbeat_error = status;
    }
}

static void heartbeat(uv_timer_t *t)
{
    kv_server *s = t->data;
    uv_udp_send_t *req = malloc(sizeof(*req) + 32);
    char *text = (char *)(req + 1);
    uv_buf_t b;
    int r;

    snprintf(text, 32, "kvserver %u\n", s->nconns);
    b = uv_buf_init(text, (unsigned)strlen(text));
    req->data = s;
    s->heartbeats++;
    r = uv_udp_send(req, &s->udp, &b, 1, (const struct sockaddr *)&s->monitor, heartbeat_sent);
    if (r < 0) {
        free(req);
        s->heartbeat_failures++;
        s->heartbeat_error = r;
    }
}

/* ---- start and stop ---- */

static int log_open(kv_server *s)
{
    uv_fs_t req;
    char *data, *line, *save = NULL;
    int r;

    r = uv_fs_open(s->loop, &req, s->o.log_path, O_RDWR | O_CREAT | O_APPEND, 0644, NULL);
    uv_fs_req_cleanup(&req);
    if (r < 0)
        return r;
    s->log = r;
    /* Replay the log: every whole "SET k v" line. */
    data = malloc(1 << 20);
    for (;;) {
        uv_buf_t b = uv_buf_init(data + s->log_size, (unsigned)((1 << 20) - 1 - s->log_size));
        r = uv_fs_read(s->loop, &req, s->log, &b, 1, s->log_size, NULL);
        uv_fs_req_cleanup(&req);
        if (r <= 0)
            break;
        s->log_size += r;
    }
    data[s->log_size] = '\0';
    for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *cmd = strtok(line, " "), *k = strtok(NULL, " "), *v = strtok(NULL, "");
        if (cmd != NULL && strcmp(cmd, "SET") == 0 && k != NULL && v != NULL)
            kv_set(s, k, v);
    }
    free(data);
    return r < 0 ? r : 0;
}

int kv_server_start(uv_loop_t *loop, const kv_server_opts *opts, kv_server **out)
{
    kv_server *s = calloc(1, sizeof(*s));
    struct sockaddr_in a;
    int r;

    s->loop = loop;
    s->o = *opts;
    s->log = -1;
    if (s->o.host == NULL)
        s->o.host = "127.0.0.1";
    if (s->o.port == 0)
        s->o.port = 7000;
    if (s->o.max_clients == 0)
        s->o.max_clients = 64;
    if (s->o.max_line == 0)
        s->o.max_line = 1024;
    if (s->o.monitor_host == NULL)
        s->o.monitor_host = "127.0.0.1";
    if (s->o.monitor_port == 0)
        s->o.monitor_port = 9999;
    s->npool = s->o.max_clients + KV_SPARE;
    s->pool = calloc(s->npool, sizeof(*s->pool));
    s->conns = calloc(s->npool, sizeof(*s->conns));
    if (s->o.log_path != NULL && (r = log_open(s)) < 0) {
        free(s->pool);
        free(s->conns);
        free(s);
        return r;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->open_handles = 1;
    uv_ip4_addr(s->o.host, s->o.port, &a);
    if ((r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0)) != 0 ||
        (r = uv_listen((uv_stream_t *)&s->listener, 128, on_connection)) != 0) {
        s->draining = 1;
        uv_close((uv_handle_t *)&s->listener, server_handle_closed);
        return r;
    }
    if (s->o.heartbeat_ms > 0) {
        uv_ip4_addr(s->o.monitor_host, s->o.monitor_port, &s->monitor);
        uv_udp_init(loop, &s->udp);
        uv_timer_init(loop, &s->heartbeat);
        s->udp.data = s->heartbeat.data = s;
        s->open_handles += 2;
        uv_timer_start(&s->heartbeat, heartbeat, s->o.heartbeat_ms, s->o.heartbeat_ms);
    }
    *out = s;
    return 0;
}

void kv_server_shutdown(kv_server *s, void (*done)(void *arg), void *arg)
{
    unsigned i;

    s->done = done;
    s->done_arg = arg;
    s->draining = 1;
    uv_close((uv_handle_t *)&s->listener, server_handle_closed);
    if (s->o.heartbeat_ms > 0) {
        uv_close((uv_handle_t *)&s->heartbeat, server_handle_closed);
        uv_close((uv_handle_t *)&s->udp, server_handle_closed);
    }
    /* Idle connections close now; busy ones once their answer went out. Walk a copy: closing
     * removes from the table. */
    for (i = s->nconns; i > 0; i--) {
        kv_conn *c = s->conns[i - 1];
        if (!c->busy)
            conn_finish(c);
        else
            uv_read_stop((uv_stream_t *)&c->tcp); /* answered and closed by log_done */
    }
}
