/* Streams (uv_tcp_t, uv_pipe_t) on the fake network: reads, writes, shutdown, listen, accept and
 * close, following libuv 1.44's src/unix/stream.c step by step so that return codes and callback
 * order match: a write that completes at once has its callback run from the pending queue
 * (uv__io_feed), bytes, EOF, resets and connect outcomes come through the poll phase, and close
 * cancels what is left (connect, queued writes, shutdown) with UV_ECANCELED before close_cb. */
#include "internal_net.h"
#include "../threads/wait.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void take_rights(ah__sock *s, ah__flow *f, size_t *n);
static ssize_t sock_send(ah__sock *s, const uv_buf_t *bufs, unsigned nbufs, int is_try);

static void io_pend_run(ah__pending *p);
static void conn_fire(ah__event *ev);
static void rd_fire(ah__event *ev);
static void wr_fire(ah__event *ev);
static void lst_fire(ah__event *ev);

static int closing(const uv_stream_t *st) { return ah__is_closing((const uv_handle_t *)st); }

/* The network reaches the streams through ah__net_parts (internal_net.h). */
static void parts_install(void)
{
    ah__net_parts.sock_writable = ah__sock_writable;
    ah__net_parts.sock_reading = ah__sock_reading;
    ah__net_parts.sock_incoming = ah__sock_incoming;
    ah__net_parts.sock_backlog_add = ah__sock_backlog_add;
    ah__net_parts.sock_backlog_queue = ah__sock_backlog_queue;
    ah__net_parts.sock_connect_pending = ah__sock_connect_pending;
    ah__net_parts.sock_connect_result = ah__sock_connect_result;
    ah__net_parts.sock_set_label = ah__sock_set_label;
    ah__net_parts.sock_of = ah__sock_of;
    ah__sock_hooks_install();
}

int (*ah__listen_hooks[UV_HANDLE_TYPE_MAX])(ah__sock *s, int backlog, uv_connection_cb cb);
const ah__real_stream_ops *ah__real_stream;

ah__sock *ah__sock_new(ah__net *net, uv_stream_t *st)
{
    ah__sock *s = ah__calloc(1, sizeof(*s));

    s->stream = st;
    s->loop = st->loop;
    s->net = net;
    s->id = ++net->next_sock_id;
    s->keepalive_delay = AH__TCP_KEEPIDLE_DEFAULT;
    ah__list_init(&s->backlog);
    ah__list_init(&s->io_pend.link);
    ah__list_init(&s->stalled_link);
    s->io_pend.run = io_pend_run;
    s->conn_ev.fire = conn_fire;
    s->conn_ev.what = "connect outcome";
    s->rd_ev.fire = rd_fire;
    s->rd_ev.what = "stream readable";
    s->wr_ev.fire = wr_fire;
    s->wr_ev.what = "stream writable";
    s->lst_ev.fire = lst_fire;
    s->lst_ev.what = "connections to accept";
    s->conn_ev.owner = s->rd_ev.owner = s->wr_ev.owner = s->lst_ev.owner = st;
    s->single_accept = 0;
    ah__list_insert_tail(&net->socks, &s->link);
    st->queued_fds = s;
    return s;
}

/* Initialises the stream part of a uv_tcp_t or uv_pipe_t, as libuv's uv__stream_init. */
void ah__stream_init(uv_loop_t *loop, uv_stream_t *st, uv_handle_type type, ah__site site)
{
    parts_install();
    ah__handle_init(loop, (uv_handle_t *)st, type, site);
    st->read_cb = NULL;
    st->alloc_cb = NULL;
    st->connect_req = NULL;
    st->shutdown_req = NULL;
    st->connection_cb = NULL;
    st->accepted_fd = -1;
    st->delayed_error = 0;
    st->write_queue_size = 0;
    memset(&st->io_watcher, 0, sizeof(st->io_watcher));
    st->io_watcher.fd = -1;
    ah__list_init(ah__qlist(st->write_queue));
    ah__list_init(ah__qlist(st->write_completed_queue));
    ah__sock_new(ah__net_get(ah__loop_sim(loop, "uv_tcp_init")), st);
}

ah__sock *ah__sock_of(const uv_stream_t *st, const char *fn)
{
    ah__hrec *r = ah__handle_rec((const uv_handle_t *)st, fn);
    ah__sock *s;
    char b[320];

    if (st->type != UV_TCP && st->type != UV_NAMED_PIPE)
        ah__fail(ah__sim(), "%s on %s: only uv_tcp_t and uv_pipe_t streams are simulated", fn,
                 ah__handle_str(r, b, sizeof(b)));
    s = st->queued_fds;
    if (s == NULL || s->stream != st)
        ah__fail(ah__sim(), "%s on %s, which is closed", fn, ah__handle_str(r, b, sizeof(b)));
    return s;
}

void (*ah__stream_fd_close_hook)(ah__sock *s, int fd);
int (*ah__stream_adopt_hook)(uv_stream_t *client, int fd);

/* libuv gives a stream a socket (an fd) at bind, connect, listen or accept; the sim marks it. */
void ah__sock_give_fd(ah__sock *s)
{
    if (s->stream->io_watcher.fd == -1) {
        s->stream->io_watcher.fd = 0x4000 + (int)s->id;
        if (!s->holds_fd) {
            s->holds_fd = 1;
            s->net->fds_held++;
        }
    }
}

void ah__sock_set_label(ah__sock *s)
{
    ah__hrec *r = s->stream->u.reserved[0];
    const char *kind = s->stream->type == UV_NAMED_PIPE ? "pipe" : "tcp";
    char b[2 * AH__ADDR_MAX + 32];
    size_t n;

    if (s->stream->flags & AH__SF_LISTENING)
        snprintf(b, sizeof(b), "%s listening on %s", kind, s->local.str);
    else if (s->side == 1)
        snprintf(b, sizeof(b), "%s %s <- %s", kind, s->local.str,
                 s->stream->type == UV_NAMED_PIPE ? "client" : s->remote.str);
    else if (s->stream->type == UV_NAMED_PIPE)
        snprintf(b, sizeof(b), "pipe -> %s", s->remote.str);
    else
        snprintf(b, sizeof(b), "tcp %s -> %s", s->local.str, s->remote.str);
    n = strlen(b) < sizeof(r->label) - 1 ? strlen(b) : sizeof(r->label) - 1;
    memcpy(r->label, b, n);
    r->label[n] = '\0';
}

int ah__sock_reading(const ah__sock *s)
{
    return s->stream != NULL && (s->stream->flags & AH__SF_READING) != 0;
}

static ah__flow *in_flow(const ah__sock *s)
{
    return s->conn != NULL ? &s->conn->flow[1 - s->side] : NULL;
}

static int chunked(const ah__sock *s)
{
    return s->conn != NULL && ah__route_chunked(s->conn->route);
}

static void io_feed(ah__sock *s)
{
    if (ah__list_empty(&s->io_pend.link))
        ah__pending_add(s->loop, &s->io_pend);
}

static void schedule_now(ah__sock *s, ah__event *ev)
{
    if (ah__event_scheduled(ev) || ev->batch_index != 0)
        return;
    ev->flags = AH__EV_REF;
    ah__event_schedule(s->loop, ev, s->net->sim->clock.now_ns);
}

/* ---- reading ---- */

/* A reset that arrived is the socket's pending error until a read or a write reports it. */
static void sync_reset(ah__sock *s)
{
    if (s->conn != NULL && s->conn->end[s->side].reset && !s->reset_noted) {
        s->reset_noted = 1;
        /* Linux's tcp_reset: a socket that had the peer's FIN and not yet sent its own
         * (CLOSE_WAIT) reports EPIPE; any other, ECONNRESET (found by net_write_after_eof). */
        s->pending_error =
            in_flow(s)->fin_arrived && !s->conn->flow[s->side].fin_sent ? UV_EPIPE : UV_ECONNRESET;
    }
}

static int peer_gone(const ah__sock *s)
{
    ah__flow *f = in_flow(s);
    return f->fin_arrived || s->conn->end[s->side].reset;
}

static int read_pending(ah__sock *s)
{
    ah__flow *f = in_flow(s);
    return f != NULL && (ah__flow_readable(f, 0) > 0 || peer_gone(s) || s->pending_error != 0);
}

/* Reading ended (EOF, a read error, uv_read_stop): the handle stops, except before 1.42 while
 * it still waits for POLLOUT (queued writes, a shutdown in progress). */
static void read_end_stop(uv_stream_t *st)
{
    if (AH__UV_READ_END_STOPS_HANDLE ||
        (ah__list_empty(ah__qlist(st->write_queue)) && !(st->flags & AH__SF_SHUTTING)))
        ah__handle_stop((uv_handle_t *)st);
}

void ah__stream_read_end_stop(uv_stream_t *st) { read_end_stop(st); }

static void stream_eof(ah__sock *s, const uv_buf_t *buf)
{
    uv_stream_t *st = s->stream;

    st->flags |= AH__SF_READ_EOF;
    st->flags &= ~AH__SF_READING;
    if (AH__UV_EOF_CLEARS_READABLE)
        st->flags &= ~AH__SF_READABLE;
    read_end_stop(st);
    AH__DISPATCH(s->net->sim, st, "read_cb", st->read_cb(st, UV_EOF, buf));
}

/* libuv's uv__read, and the POLLHUP shortcut of uv__stream_io that follows it. */
static void sock_read(ah__sock *s)
{
    uv_stream_t *st = s->stream;
    ah_sim *sim = s->net->sim;
    ah__flow *f = in_flow(s);
    int count = 32, hup, err;
    size_t avail, n;
    uv_buf_t buf;

    if (f == NULL)
        return;
    sync_reset(s);
    /* epoll reports POLLHUP once both directions are shut: the peer's FIN arrived and ours went
     * out, or a reset arrived. A unix socket whose peer closed (not only shut down) is shut both
     * ways at once (Linux's unix_release_sock): a child's stdout pipe after its exit. */
    hup = (f->fin_arrived && (st->flags & AH__SF_SHUT)) || s->conn->end[s->side].reset ||
          (f->fin_arrived && st->type == UV_NAMED_PIPE && s->conn->end[1 - s->side].closed);
    st->flags &= ~AH__SF_READ_PARTIAL;
    while (st->read_cb != NULL && (st->flags & AH__SF_READING) && count-- > 0) {
        buf = uv_buf_init(NULL, 0);
        AH__DISPATCH(sim, st, "alloc_cb", st->alloc_cb((uv_handle_t *)st, 64 * 1024, &buf));
        if (closing(st))
            return;
        if (buf.base == NULL || buf.len == 0) {
            /* The user cannot take the read. */
            AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, UV_ENOBUFS, &buf));
            return;
        }
        avail = ah__flow_readable(f, chunked(s));
        if (avail > 0) {
            n = avail < buf.len ? avail : buf.len;
            take_rights(s, f, &n);
            memcpy(buf.base, f->buf + (f->rd - f->base), n);
            ah__flow_consume(f, n);
            AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, (ssize_t)n, &buf));
            if (closing(st))
                return;
            if (n < buf.len) {
                st->flags |= AH__SF_READ_PARTIAL;
                break;
            }
            continue;
        }
        /* Linux's tcp_recvmsg: once the peer's FIN arrived a read returns 0 even when a reset
         * came after it; its error stays for the next write (net_read_after_peer_reset). */
        if (s->pending_error != 0 && !f->fin_arrived) {
            err = s->pending_error;
            s->pending_error = 0;
            s->write_broken = 1;
            if (AH__UV_STREAM_CLEARS_FLAGS)
                st->flags &= ~(AH__SF_READABLE | AH__SF_WRITABLE);
            AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, err, &buf));
            if (!closing(st) && (st->flags & AH__SF_READING)) {
                st->flags &= ~AH__SF_READING;
                read_end_stop(st);
            }
            return;
        }
        if (peer_gone(s)) {
            /* read(2) returns 0 after a FIN, and after a reset once its error was reported. */
            stream_eof(s, &buf);
            return;
        }
        /* read(2) said EAGAIN: libuv hands the buffer back with nread 0. */
        AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, 0, &buf));
        return;
    }
    if (hup && (st->flags & AH__SF_READING) && (st->flags & AH__SF_READ_PARTIAL) &&
        !(st->flags & AH__SF_READ_EOF) && ah__flow_readable(f, 0) == 0) {
        buf = uv_buf_init(NULL, 0);
        stream_eof(s, &buf);
    }
}

/* The stream is readable now (an arrival or the level-triggered re-report): read, and if more is
 * left, epoll reports it again in the next poll. */
static void read_ready(ah__sock *s)
{
    ah__event_cancel(&s->rd_ev);
    sock_read(s);
    if (s->stream != NULL && !closing(s->stream) && ah__sock_reading(s) && read_pending(s))
        schedule_now(s, &s->rd_ev);
}

static void stream_io_out(ah__sock *s);

void ah__sock_incoming(ah__sock *s)
{
    int reset;

    sync_reset(s);
    reset = s->conn != NULL && s->conn->end[s->side].reset;
    if (ah__sock_reading(s))
        read_ready(s);
    /* uv__stream_io: after the read, POLLERR in the same event makes queued writes fail now
     * (found by net_write_reset_unread). */
    if (reset && s->stream != NULL && !closing(s->stream) &&
        !ah__list_empty(ah__qlist(s->stream->write_queue))) {
        ah__event_cancel(&s->wr_ev);
        stream_io_out(s);
    }
}

static void rd_fire(ah__event *ev)
{
    ah__sock *s = ah__container_of(ev, ah__sock, rd_ev);

    if (s->stream == NULL || closing(s->stream) || !ah__sock_reading(s))
        return;
    read_ready(s);
}

static void rearm_incoming(ah__sock *s)
{
    if (s->conn != NULL)
        ah__flow_arm(&s->conn->flow[1 - s->side]);
}

int uv_read_start(uv_stream_t *st, uv_alloc_cb alloc_cb, uv_read_cb read_cb)
{
    ah__site site = AH__CALLER("uv_read_start");
    ah__sock *s;

    if (st == NULL || (AH__UV_READ_START_CHECKS_CBS && (alloc_cb == NULL || read_cb == NULL)))
        return UV_EINVAL;
    if (st->type == UV_TTY && ah__tty_read_hook != NULL)
        return ah__tty_read_hook(st, alloc_cb, read_cb, site);
    s = ah__sock_of(st, "uv_read_start");
    if (closing(st))
        return UV_EINVAL;
    if (AH__UV_READ_START_EALREADY && (st->flags & AH__SF_READING))
        return UV_EALREADY;
    if (!(st->flags & AH__SF_READABLE))
        return UV_ENOTCONN;
    if (alloc_cb == NULL || read_cb == NULL)
        ah__fail(s->net->sim,
                 "uv_read_start with a NULL %s: this libuv accepts it and calls NULL when data "
                 "arrives",
                 alloc_cb == NULL ? "alloc_cb" : "read_cb");
    st->flags |= AH__SF_READING;
    st->flags &= ~AH__SF_READ_EOF;
    st->read_cb = read_cb;
    st->alloc_cb = alloc_cb;
    ((ah__hrec *)st->u.reserved[0])->start_site = site;
    ah__handle_start((uv_handle_t *)st);
    if (s->real != NULL) {
        ah__real_stream->reading(s, 1);
        return 0;
    }
    sync_reset(s);
    if (read_pending(s))
        schedule_now(s, &s->rd_ev);
    rearm_incoming(s);
    return 0;
}

int uv_read_stop(uv_stream_t *st)
{
    AH__ENTRY("uv_read_stop");
    ah__sock *s;

    if (st != NULL && st->type == UV_TTY && ah__tty_read_hook != NULL)
        return ah__tty_read_hook(st, NULL, NULL, (ah__site){0});
    s = ah__sock_of(st, "uv_read_stop");

    if (!(st->flags & AH__SF_READING))
        return 0;
    st->flags &= ~AH__SF_READING;
    read_end_stop(st);
    st->read_cb = NULL;
    st->alloc_cb = NULL;
    ah__event_cancel(&s->rd_ev);
    if (s->real != NULL)
        ah__real_stream->reading(s, 0);
    rearm_incoming(s);
    return 0;
}

int uv_is_readable(const uv_stream_t *st) { return (st->flags & AH__SF_READABLE) != 0; }
int uv_is_writable(const uv_stream_t *st) { return (st->flags & AH__SF_WRITABLE) != 0; }
size_t uv_stream_get_write_queue_size(const uv_stream_t *st) { return st->write_queue_size; }

int uv_stream_set_blocking(uv_stream_t *st, int blocking)
{
    AH__ENTRY("uv_stream_set_blocking");
    ah__sock *s = ah__sock_of(st, "uv_stream_set_blocking");

    if (st->io_watcher.fd < 0)
        return UV_EBADF;
    /* libuv clears O_NONBLOCK and sets UV_HANDLE_BLOCKING_WRITES: a write(2) then waits for the
     * kernel's room, so uv_try_write takes all of its bytes (blocking_try_write). */
    s->blocking_writes = blocking != 0;
    return 0;
}

/* ---- writing ---- */

/* libuv's uv__stream_recv_cmsg: the descriptors that ride with the bytes about to be read wait
 * for uv_accept on an IPC pipe; any other stream closes them, as libuv does. */
static void take_rights(ah__sock *s, ah__flow *f, size_t *n)
{
    ah__rights *r = f->rights != NULL ? ah__flow_rights_take(f, n) : NULL, **tail = &s->pending;
    int i;

    if (r == NULL)
        return;
    if (s->stream->type != UV_NAMED_PIPE || !((uv_pipe_t *)s->stream)->ipc) {
        for (i = 0; i < r->n; i++)
            close(r->fds[i]);
        ah__free(r);
        return;
    }
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = r;
}

/* The next received descriptor of an IPC pipe, taken off its queue (-1: none). */
static int pending_pop(ah__sock *s)
{
    ah__rights *r = s->pending;
    int fd;

    while (r != NULL && r->n == 0) {
        s->pending = r->next;
        ah__free(r);
        r = s->pending;
    }
    if (r == NULL)
        return -1;
    fd = r->fds[0];
    memmove(r->fds, r->fds + 1, (size_t)(r->n - 1) * sizeof(int));
    r->n--;
    return fd;
}

int ah__sock_pending_count(ah__sock *s)
{
    ah__rights *r;
    int n = 0;

    for (r = s->pending; r != NULL; r = r->next)
        n += r->n;
    return n;
}

/* libuv's uv__handle_type of the next received descriptor. */
uv_handle_type ah__sock_pending_type(ah__sock *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int type = 0, fd;
    ah__rights *r;

    for (r = s->pending; r != NULL && r->n == 0; r = r->next)
        ;
    if (r == NULL)
        return UV_UNKNOWN_HANDLE;
    fd = r->fds[0];
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return UV_UNKNOWN_HANDLE;
    len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return UV_UNKNOWN_HANDLE;
    if (type == SOCK_STREAM && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
        return UV_TCP;
    if (type == SOCK_DGRAM && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
        return UV_UDP;
    if (type == SOCK_STREAM && ss.ss_family == AF_UNIX)
        return UV_NAMED_PIPE;
    return UV_UNKNOWN_HANDLE;
}

static size_t bufs_total(const uv_buf_t *b, unsigned n)
{
    size_t t = 0;
    unsigned i;
    for (i = 0; i < n; i++)
        t += b[i].len;
    return t;
}

static int check_before_write(ah__sock *s, unsigned nbufs, uv_stream_t *send_handle, const char *fn)
{
    uv_stream_t *st = s->stream;
    char b[320];

    if (nbufs == 0)
        ah__fail(s->net->sim, "%s on %s with nbufs == 0 (libuv asserts on this)", fn,
                 ah__handle_str(st->u.reserved[0], b, sizeof(b)));
    if (st->io_watcher.fd < 0)
        return UV_EBADF;
    if (!(st->flags & AH__SF_WRITABLE))
        return UV_EPIPE;
    if (send_handle != NULL) {
        if (st->type != UV_NAMED_PIPE || !((uv_pipe_t *)st)->ipc)
            return UV_EINVAL;
        if (send_handle->type != UV_TCP && send_handle->type != UV_NAMED_PIPE) {
            char h[320];
            ah__fail(s->net->sim,
                     "%s on %s: passing %s over an IPC pipe is not simulated (only uv_tcp_t and "
                     "uv_pipe_t handles travel)",
                     fn, ah__handle_str(st->u.reserved[0], b, sizeof(b)),
                     ah__handle_str(ah__handle_rec((uv_handle_t *)send_handle, fn), h, sizeof(h)));
        }
        /* libuv's uv__handle_fd: a handle without a socket yet (not bound, connected or
         * opened) has nothing to send. */
        if (send_handle->io_watcher.fd < 0)
            return UV_EBADF;
        if (s->real != NULL || ah__stream_pass_hook == NULL)
            ah__fail(s->net->sim,
                     "%s on %s: passing a handle over an IPC pipe on a real descriptor is not "
                     "simulated (only over a pipe the sim made: uv_pipe, socketpair, a world's "
                     "stdio)",
                     fn, ah__handle_str(st->u.reserved[0], b, sizeof(b)));
    }
    return 0;
}

int (*ah__stream_pass_hook)(uv_stream_t *send_handle, const char *fn);

/* write(2), or sendmsg(2) with SCM_RIGHTS of the handle's socket when `send_handle` is set (libuv's
 * uv__write): the socket rides with the bytes sent, as fd/socket.c's sendmsg passes descriptors.
 * A handle closed before its write went out is UV_EBADF, as in libuv. */
static ssize_t sock_send_handle(ah__sock *s, const uv_buf_t *bufs, unsigned nbufs, int is_try,
                                uv_stream_t *send_handle, const char *fn)
{
    uint64_t at;
    ssize_t n;
    int held;

    if (send_handle == NULL)
        return sock_send(s, bufs, nbufs, is_try);
    if (closing(send_handle))
        return UV_EBADF;
    if (s->conn == NULL || s->stream->connect_req != NULL)
        return sock_send(s, bufs, nbufs, is_try);
    if (s->conn->end[1 - s->side].pc != NULL) {
        char b[320];
        ah__fail(s->net->sim,
                 "%s on %s: passing a handle to a scripted peer is not simulated (it takes no "
                 "handles; pass it to a uv_pipe_t of the sim)",
                 fn, ah__handle_str(s->stream->u.reserved[0], b, sizeof(b)));
    }
    held = ah__stream_pass_hook(send_handle, fn);
    at = s->conn->flow[s->side].wr;
    n = sock_send(s, bufs, nbufs, is_try);
    if (n > 0 && s->conn != NULL)
        ah__flow_rights_add(&s->conn->flow[s->side], at, at + (uint64_t)n, &held, 1);
    else
        close(held); /* nothing went: the socket does not either */
    return n;
}

/* What write(2) does on the fake socket: takes up to `limit` bytes or fails. */
static ssize_t sock_send(ah__sock *s, const uv_buf_t *bufs, unsigned nbufs, int is_try)
{
    ah__conn *c = s->conn;
    size_t total = bufs_total(bufs, nbufs), limit = total, left;
    unsigned i;
    int err;

    if (s->real != NULL)
        return ah__real_stream->send(s, bufs, nbufs);
    if (s->fd_gone)
        return UV_EBADF; /* write(2) on a closed descriptor */
    if (c == NULL || s->stream->connect_req != NULL)
        return s->stream->type == UV_NAMED_PIPE ? UV_ENOTCONN : UV_EPIPE;
    sync_reset(s);
    if (s->pending_error != 0) {
        err = s->pending_error;
        s->pending_error = 0;
        s->write_broken = 1;
        return err;
    }
    if (s->write_broken || c->flow[s->side].rst_sent || c->flow[s->side].fin_sent ||
        (c->one_way && c->end[1 - s->side].closed))
        return UV_EPIPE;
    if (c->route->write_error != 0) {
        err = c->route->write_error;
        c->route->write_error = 0;
        s->write_broken = 1;
        ah__trace_note(s->net->sim, c->label, "write fails (ah_net_write_error)");
        return err;
    }
    if (c->flow[s->side].wr - c->flow[s->side].rd >= AH__FLOW_WINDOW)
        return UV_EAGAIN; /* the kernel's buffers are full: the receiver does not read */
    if (limit > AH__FLOW_WINDOW - (c->flow[s->side].wr - c->flow[s->side].rd))
        limit = (size_t)(AH__FLOW_WINDOW - (c->flow[s->side].wr - c->flow[s->side].rd));
    if (is_try && c->route->short_write_on) {
        if (c->route->short_write == 0)
            return UV_EAGAIN;
        if (limit > c->route->short_write)
            limit = c->route->short_write;
    }
    for (i = 0, left = limit; i < nbufs && left > 0; i++) {
        size_t n = bufs[i].len < left ? bufs[i].len : left;
        ah__flow_send(c, s->side, bufs[i].base, n);
        left -= n;
    }
    return (ssize_t)limit;
}

static size_t write_req_size(uv_write_t *req)
{
    return bufs_total(req->bufs + req->write_index, req->nbufs - req->write_index);
}

/* libuv's uv__write_req_update: 1 when the request is all written. */
static int write_req_update(uv_stream_t *st, uv_write_t *req, size_t n)
{
    uv_buf_t *buf;
    size_t len;

    st->write_queue_size -= n;
    buf = req->bufs + req->write_index;
    do {
        len = n < buf->len ? n : buf->len;
        buf->base += len;
        buf->len -= len;
        buf += (buf->len == 0);
        n -= len;
    } while (n > 0);
    req->write_index = (unsigned)(buf - req->bufs);
    return req->write_index == req->nbufs;
}

static void write_req_finish(ah__sock *s, uv_write_t *req)
{
    ah__list_remove(ah__qlist(req->queue));
    if (req->error == 0) {
        if (req->bufs != req->bufsml)
            ah__free(req->bufs);
        req->bufs = NULL;
    }
    ah__list_insert_tail(ah__qlist(s->stream->write_completed_queue), ah__qlist(req->queue));
    io_feed(s);
}

static int window_full(const ah__sock *s)
{
    const ah__flow *f = s->conn != NULL ? &s->conn->flow[s->side] : NULL;
    return f != NULL && f->wr - f->rd >= AH__FLOW_WINDOW && !s->conn->end[s->side].reset;
}

void ah__sock_writable(ah__sock *s)
{
    if (s->stream != NULL && !closing(s->stream) &&
        !ah__list_empty(ah__qlist(s->stream->write_queue)))
        schedule_now(s, &s->wr_ev);
}

/* libuv's uv__write: one request per call before 1.45, up to 33 since (uv/version.h). */
static void do_write(ah__sock *s)
{
    uv_stream_t *st = s->stream;
    ah__list *wq = ah__qlist(st->write_queue);
    uv_write_t *req;
    ssize_t n;
    int left = AH__UV_WRITE_REQS_PER_POLL;

next:
    if (ah__list_empty(wq))
        return;
    req = ah__container_of((void *)wq->next, uv_write_t, queue);
    n = sock_send_handle(s, req->bufs + req->write_index, req->nbufs - req->write_index, 0,
                         req->send_handle, "uv_write2");
    if (n >= 0) {
        req->send_handle = NULL;
        if (write_req_update(st, req, (size_t)n)) {
            write_req_finish(s, req);
            if (--left > 0)
                goto next;
            return;
        }
        n = UV_EAGAIN;
    }
    if (n == UV_EAGAIN) {
        if (s->real != NULL) {
            ah__real_stream->want_write(s, 1); /* the kernel's POLLOUT */
            return;
        }
        /* POLLOUT comes when the receiver reads (ah__sock_writable), not before. */
        if (!window_full(s))
            schedule_now(s, &s->wr_ev);
        return;
    }
    req->error = (int)n;
    write_req_finish(s, req);
}

static void write_callbacks(ah__sock *s)
{
    uv_stream_t *st = s->stream;
    ah__list *cq = ah__qlist(st->write_completed_queue), pq;
    uv_write_t *req;

    if (ah__list_empty(cq))
        return;
    ah__list_move(cq, &pq);
    while (!ah__list_empty(&pq)) {
        req = ah__container_of((void *)pq.next, uv_write_t, queue);
        ah__list_remove(ah__qlist(req->queue));
        ah__req_end((uv_req_t *)req);
        if (req->bufs != NULL) {
            st->write_queue_size -= write_req_size(req);
            if (req->bufs != req->bufsml)
                ah__free(req->bufs);
            req->bufs = NULL;
        }
        if (req->cb != NULL)
            AH__DISPATCH(s->net->sim, st, "write_cb", req->cb(req, req->error));
    }
}

static void flush_write_queue(ah__sock *s, int error)
{
    ah__list *wq = ah__qlist(s->stream->write_queue);
    uv_write_t *req;

    while (!ah__list_empty(wq)) {
        req = ah__container_of((void *)wq->next, uv_write_t, queue);
        ah__list_remove(ah__qlist(req->queue));
        req->error = error;
        ah__list_insert_tail(ah__qlist(s->stream->write_completed_queue), ah__qlist(req->queue));
    }
}

/* libuv's uv__drain: the shutdown goes out once the write queue is empty. */
static void drain(ah__sock *s)
{
    uv_stream_t *st = s->stream;
    uv_shutdown_t *req;
    int err = 0;

    if (!(st->flags & AH__SF_SHUTTING))
        return;
    req = st->shutdown_req;
    if (!closing(st) && (st->flags & AH__SF_SHUT))
        return;
    st->shutdown_req = NULL;
    st->flags &= ~AH__SF_SHUTTING;
    ah__req_end((uv_req_t *)req);
    if (closing(st))
        err = UV_ECANCELED;
    else if (s->real != NULL) {
        if ((err = ah__real_stream->shutdown(s)) == 0)
            st->flags |= AH__SF_SHUT;
    } else if (s->conn == NULL || s->conn->end[s->side].reset)
        err = UV_ENOTCONN;
    else {
        ah__flow_send_fin(s->conn, s->side);
        st->flags |= AH__SF_SHUT;
    }
    if (req->cb != NULL)
        AH__DISPATCH(s->net->sim, st, "shutdown_cb", req->cb(req, err));
}

static void connect_complete(ah__sock *s, int status);

/* uv__stream_io for POLLOUT: the pending queue (uv__io_feed) and writability land here. */
static void stream_io_out(ah__sock *s)
{
    uv_stream_t *st = s->stream;

    if (st == NULL || closing(st))
        return;
    if (st->connect_req != NULL) {
        /* uv__stream_connect: a delayed error is reported now; otherwise getsockopt(SO_ERROR)
         * says whether the handshake is done: when its outcome is due, the connect completes
         * here, from the pending queue (found by net_shutdown_while_connecting). */
        if (st->delayed_error != 0) {
            int err = st->delayed_error;
            st->delayed_error = 0;
            connect_complete(s, err);
        } else if (ah__event_scheduled(&s->conn_ev) &&
                   s->conn_ev.node.due <= s->net->sim->clock.now_ns) {
            ah__event_cancel(&s->conn_ev);
            connect_complete(s, s->connect_status);
        }
        return;
    }
    do_write(s);
    write_callbacks(s);
    if (!closing(st) && ah__list_empty(ah__qlist(st->write_queue)))
        drain(s);
}

void ah__sock_io_out(ah__sock *s) { stream_io_out(s); }

void ah__stream_eof(ah__sock *s, const uv_buf_t *buf) { stream_eof(s, buf); }

static void io_pend_run(ah__pending *p) { stream_io_out(ah__container_of(p, ah__sock, io_pend)); }

static void wr_fire(ah__event *ev) { stream_io_out(ah__container_of(ev, ah__sock, wr_ev)); }

ah__tty_write_fn ah__tty_write_hook;
ah__tty_read_fn ah__tty_read_hook;

static int write_begin(uv_write_t *req, uv_stream_t *st, const uv_buf_t bufs[], unsigned nbufs,
                       uv_stream_t *send_handle, uv_write_cb cb, const char *fn, ah__site site)
{
    ah__sock *s;
    int empty, err;

    if (st != NULL && st->type == UV_TTY && ah__tty_write_hook != NULL && send_handle == NULL)
        return ah__tty_write_hook(req, st, bufs, nbufs, cb, fn, site);
    s = ah__sock_of(st, fn);

    if (req == NULL)
        ah__fail(s->net->sim, "%s: called with a NULL request", fn);
    err = check_before_write(s, nbufs, send_handle, fn);
    if (err < 0)
        return err; /* libuv returns these before it touches the request */
    ah__req_require_idle(req, fn, site);
    empty = st->write_queue_size == 0;
    ah__req_begin(st->loop, (uv_req_t *)req, UV_WRITE, fn, site);
    req->cb = cb;
    req->handle = st;
    req->error = 0;
    req->send_handle = send_handle;
    ah__list_init(ah__qlist(req->queue));
    req->bufs = req->bufsml;
    if (nbufs > sizeof(req->bufsml) / sizeof(req->bufsml[0]))
        req->bufs = ah__malloc(nbufs * sizeof(bufs[0]));
    memcpy(req->bufs, bufs, nbufs * sizeof(bufs[0]));
    req->nbufs = nbufs;
    req->write_index = 0;
    st->write_queue_size += bufs_total(bufs, nbufs);
    ah__list_insert_tail(ah__qlist(st->write_queue), ah__qlist(req->queue));
    if (st->connect_req != NULL)
        ; /* still connecting: the connect sends the queue */
    else if (empty)
        do_write(s);
    else
        schedule_now(s, &s->wr_ev);
    return 0;
}

int uv_write(uv_write_t *req, uv_stream_t *st, const uv_buf_t bufs[], unsigned int nbufs,
             uv_write_cb cb)
{
    ah__site site = AH__CALLER("uv_write");
    return write_begin(req, st, bufs, nbufs, NULL, cb, "uv_write", site);
}

int uv_write2(uv_write_t *req, uv_stream_t *st, const uv_buf_t bufs[], unsigned int nbufs,
              uv_stream_t *send_handle, uv_write_cb cb)
{
    ah__site site = AH__CALLER("uv_write2");
    return write_begin(req, st, bufs, nbufs, send_handle, cb, "uv_write2", site);
}

/* A peer whose socket is closed answers the bytes it gets with a reset; on a route without latency
 * (loopback) Linux has handled both before the sending write(2) returns, so the next write already
 * fails (libuv's tcp_try_write_error: EPIPE once the peer's FIN came, else ECONNRESET). Here the
 * bytes due at the closed end are taken now, which queues the reset, and what is due back at this
 * end (its FIN and that reset) is taken too; the reading side still learns it from its poll. */
static void peer_gone_answers(ah__sock *s)
{
    ah__conn *c = s->conn;

    if (c == NULL || s->stream->type != UV_TCP || !c->end[1 - s->side].closed ||
        c->end[s->side].reset)
        return;
    ah__flow_deliver_due(&c->flow[s->side]); /* the closed end answers with a reset */
    (void)ah__flow_take_due(&c->flow[1 - s->side]);
}

static int room_or_gone(void *ctx)
{
    ah__sock *s = ctx;
    ah__conn *c = s->conn;

    return s->stream == NULL || c == NULL || !window_full(s) || c->end[1 - s->side].closed ||
           c->end[1 - s->side].reset || s->pending_error != 0;
}

/* uv_try_write on a stream in blocking mode: write(2) on a blocking socket waits until all of
 * its bytes are in the kernel's buffers (or the connection breaks), so the test body runs the
 * sim until the reader makes room, as a blocking write on a fake descriptor does (fd/table.c). */
static int blocking_try_write(ah__sock *s, const uv_buf_t *bufs, unsigned nbufs, ah__site site)
{
    ah_sim *sim = s->net->sim;
    size_t total = bufs_total(bufs, nbufs), done = 0, skip, n;
    uv_buf_t part[16], *cur;
    unsigned i, k;
    ssize_t r;
    char b[320], where[160], verb[640];

    ah__site_str(&site, where, sizeof(where));
    for (;;) {
        /* The bytes not yet written, at most 16 buffers at a time. */
        for (i = 0, k = 0, skip = done; i < nbufs && k < 16; i++) {
            if (skip >= bufs[i].len) {
                skip -= bufs[i].len;
                continue;
            }
            part[k] = uv_buf_init(bufs[i].base + skip, (unsigned)(bufs[i].len - skip));
            skip = 0;
            k++;
        }
        cur = part;
        r = k == 0 ? 0 : sock_send(s, cur, k, 0);
        if (r < 0 && r != UV_EAGAIN)
            return done > 0 ? (int)done : (int)r;
        n = r > 0 ? (size_t)r : 0;
        done += n;
        if (done == total)
            return (int)done;
        if (n > 0 && !window_full(s))
            continue;
        if (s->conn != NULL && room_or_gone(s) && window_full(s))
            return done > 0 ? (int)done : UV_EPIPE; /* the reader went away */
        ah__handle_str(s->stream->u.reserved[0], b, sizeof(b));
        if (ah__twait_off_main(sim) || sim->in_callback > 0 || sim->in_verb)
            ah__fail(sim,
                     "uv_try_write on %s in %s, in blocking mode (uv_stream_set_blocking), waits "
                     "for the reader to make room, %s: the sim cannot wait there (call it from "
                     "the test body, or leave the stream non-blocking)",
                     b, where,
                     ah__twait_off_main(sim) ? "on a thread other than the test's"
                                             : "inside a loop callback");
        snprintf(verb, sizeof(verb), "uv_try_write on %s in %s, in blocking mode, waiting for room",
                 b, where);
        ah__run_until_pred(sim, verb, room_or_gone, s);
        if (s->stream == NULL)
            return done > 0 ? (int)done : UV_EPIPE;
    }
}

static int try_write(uv_stream_t *st, const uv_buf_t bufs[], unsigned int nbufs,
                     uv_stream_t *send_handle, ah__site site)
{
    ah__sock *s;
    int err;

    if (st != NULL && st->type == UV_TTY && ah__tty_write_hook != NULL && send_handle == NULL)
        return ah__tty_write_hook(NULL, st, bufs, nbufs, NULL, "uv_try_write", (ah__site){0});
    s = ah__sock_of(st, "uv_try_write");

    if (st->connect_req != NULL || st->write_queue_size != 0)
        return UV_EAGAIN;
    peer_gone_answers(s);
    err = check_before_write(s, nbufs, NULL, "uv_try_write");
    if (err < 0)
        return err;
    if (send_handle != NULL) {
        if ((err = check_before_write(s, nbufs, send_handle, "uv_try_write2")) < 0)
            return err;
        return (int)sock_send_handle(s, bufs, nbufs, 1, send_handle, "uv_try_write2");
    }
    if (s->blocking_writes && s->real == NULL)
        return blocking_try_write(s, bufs, nbufs, site);
    return (int)sock_send(s, bufs, nbufs, 1);
}

int uv_try_write2(uv_stream_t *st, const uv_buf_t bufs[], unsigned int nbufs,
                  uv_stream_t *send_handle)
{
    ah__site site = AH__CALLER("uv_try_write2");
    return try_write(st, bufs, nbufs, send_handle, site);
}

int uv_try_write(uv_stream_t *st, const uv_buf_t bufs[], unsigned int nbufs)
{
    ah__site site = AH__CALLER("uv_try_write");
    return try_write(st, bufs, nbufs, NULL, site);
}

int uv_shutdown(uv_shutdown_t *req, uv_stream_t *st, uv_shutdown_cb cb)
{
    ah__site site = AH__CALLER("uv_shutdown");
    ah__sock *s = ah__sock_of(st, "uv_shutdown");

    if (!(st->flags & AH__SF_WRITABLE) || (st->flags & AH__SF_SHUT) ||
        (st->flags & AH__SF_SHUTTING) || closing(st))
        return UV_ENOTCONN;
    if (req == NULL)
        ah__fail(s->net->sim, "uv_shutdown: called with a NULL request");
    ah__req_require_idle(req, "uv_shutdown", site);
    ah__req_begin(st->loop, (uv_req_t *)req, UV_SHUTDOWN, "uv_shutdown", site);
    req->handle = st;
    req->cb = cb;
    st->shutdown_req = req;
    st->flags |= AH__SF_SHUTTING;
    if (AH__UV_STREAM_CLEARS_FLAGS)
        st->flags &= ~AH__SF_WRITABLE;
    if (!AH__UV_SHUTDOWN_FEEDS_PENDING) {
        if (st->connect_req == NULL)
            schedule_now(s, &s->wr_ev); /* POLLOUT; a connect's completion starts it itself */
    } else if (ah__list_empty(ah__qlist(st->write_queue))) {
        io_feed(s);
    }
    return 0;
}

/* ---- connecting ---- */

void ah__stream_connect_begin(ah__sock *s, uv_connect_t *req, uv_connect_cb cb, ah__site site)
{
    uv_stream_t *st = s->stream;
    const char *what = st->type == UV_TCP ? "uv_tcp_connect" : "uv_pipe_connect";

    ah__req_require_idle(req, what, site);
    ah__req_begin(st->loop, (uv_req_t *)req, UV_CONNECT, what, site);
    req->cb = cb;
    req->handle = st;
    ah__list_init(ah__qlist(req->queue));
    st->connect_req = req;
    ((ah__hrec *)st->u.reserved[0])->start_site = site;
}

void ah__sock_connect_result(ah__sock *s, int status, uint64_t due_ns)
{
    s->connect_status = status;
    s->conn_ev.flags = AH__EV_REF;
    ah__event_schedule(s->loop, &s->conn_ev, due_ns);
}

void ah__sock_connect_pending(ah__sock *s, int status)
{
    s->stream->delayed_error = status;
    io_feed(s);
}

static void conn_detach(ah__sock *s)
{
    ah__conn *c = s->conn;

    if (c == NULL)
        return;
    c->end[s->side].sock = NULL;
    if (!c->end[s->side].closed) {
        c->end[s->side].closed = 1;
        if (c->end[1 - s->side].pc != NULL)
            ah__net_parts.peer_client_gone(c->end[1 - s->side].pc);
        if (!c->flow[s->side].rst_sent && !c->end[s->side].reset)
            ah__flow_send_rst(c, s->side, 0);
    }
    s->conn = NULL;
}

/* libuv's uv__stream_connect once the outcome is known. */
static void connect_complete(ah__sock *s, int status)
{
    uv_stream_t *st = s->stream;
    uv_connect_t *req = st->connect_req;
    char what[64];

    if (req == NULL)
        return;
    st->connect_req = NULL;
    ah__req_end((uv_req_t *)req);
    if (status < 0)
        conn_detach(s);
    snprintf(what, sizeof(what), "connect_cb(%s)", status == 0 ? "0" : uv_err_name(status));
    ah__trace_note(s->net->sim, s->remote.str, what);
    if (req->cb != NULL)
        AH__DISPATCH(s->net->sim, st, "connect_cb", req->cb(req, status));
    if (st->io_watcher.fd == -1)
        return; /* closed by the callback */
    if (status < 0) {
        flush_write_queue(s, UV_ECANCELED);
        write_callbacks(s);
    } else if (!ah__list_empty(ah__qlist(st->write_queue))) {
        schedule_now(s, &s->wr_ev);
    }
}

static void conn_fire(ah__event *ev)
{
    ah__sock *s = ah__container_of(ev, ah__sock, conn_ev);

    if (s->stream == NULL || closing(s->stream))
        return;
    connect_complete(s, s->connect_status);
}

/* ---- listening and accepting ---- */

/* libuv's uv__server_io: hands connections to connection_cb until one is left unaccepted. */
static void server_io(ah__sock *s)
{
    uv_stream_t *st = s->stream;
    ah__conn *c;

    s->in_server_io++;
    while (st->io_watcher.fd != -1 && !closing(st) && s->accepted == NULL &&
           !ah__list_empty(&s->backlog)) {
        c = ah__container_of(s->backlog.next, ah__conn, backlog_link);
        ah__list_remove(&c->backlog_link);
        c->in_backlog = 0;
        if (ah__net_out_of_fds(s->net)) {
            /* accept(2) fails with EMFILE: libuv's uv__emfile_trick frees its reserve
             * descriptor, accepts and closes every pending connection and takes the reserve
             * back; connection_cb never hears of them. */
            ah__trace_note(s->net->sim, c->label, "accepted and closed: out of descriptors");
            ah__end_close(c, 1, 0);
            continue;
        }
        if (st->connection_cb == NULL) {
            char b[320], site[160];
            ah__hrec *r = st->u.reserved[0];
            ah__fail(s->net->sim,
                     "a connection reached %s, which listens with a NULL connection callback "
                     "(uv_listen in %s): libuv would call NULL here and crash",
                     ah__handle_str(r, b, sizeof(b)),
                     ah__site_str(&r->start_site, site, sizeof(site)));
        }
        s->accepted = c;
        st->accepted_fd = 1;
        s->accept_poll = ah__lp(s->loop)->polls + 1;
        AH__DISPATCH(s->net->sim, st, "connection_cb", st->connection_cb(st, 0));
        if (AH__UV_ONE_ACCEPT_PER_POLL)
            break;
    }
    s->in_server_io--;
    /* Since 1.45 one accept per poll: the listener is still readable in the next one. */
    if (AH__UV_ONE_ACCEPT_PER_POLL && st->io_watcher.fd != -1 && !closing(st) &&
        s->accepted == NULL && !ah__list_empty(&s->backlog))
        schedule_now(s, &s->lst_ev);
}

static void lst_fire(ah__event *ev)
{
    ah__sock *s = ah__container_of(ev, ah__sock, lst_ev);

    if (s->stream == NULL || closing(s->stream))
        return;
    server_io(s);
}

void ah__sock_backlog_add(ah__sock *s, ah__conn *c)
{
    ah__list_insert_tail(&s->backlog, &c->backlog_link);
    c->in_backlog = 1;
    /* The arrival is the listener's readiness in this poll. */
    if (s->accepted == NULL && !s->in_server_io) {
        if (AH__UV_ONE_ACCEPT_PER_POLL && s->accept_poll == ah__lp(s->loop)->polls + 1) {
            schedule_now(s, &s->lst_ev); /* this poll already accepted one */
            return;
        }
        ah__event_cancel(&s->lst_ev);
        server_io(s);
    }
}

void ah__sock_backlog_queue(ah__sock *s, ah__conn *c)
{
    ah__list_insert_tail(&s->backlog, &c->backlog_link);
    c->in_backlog = 1;
    /* A listener in its server_io (the connect came from its connection callback) accepts it in
     * the same loop, as accept(2) finds it in the queue; one holding an unaccepted connection
     * is readable again at its uv_accept. */
    if (s->accepted == NULL && !s->in_server_io)
        schedule_now(s, &s->lst_ev);
}

int ah__sock_listen(ah__sock *s, ah__route *route, uv_connection_cb cb)
{
    uv_stream_t *st = s->stream;

    st->connection_cb = cb;
    if (st->flags & AH__SF_LISTENING)
        return 0;
    st->flags |= AH__SF_LISTENING;
    route->listener = s;
    s->bound_route = route;
    ah__sock_set_label(s);
    ah__trace_note(s->net->sim, route->addr.str, "listening");
    return 0;
}

int uv_listen(uv_stream_t *st, int backlog, uv_connection_cb cb)
{
    ah__site site = AH__CALLER("uv_listen");
    ah__hrec *r = ah__handle_rec((uv_handle_t *)st, "uv_listen");
    ah__sock *s;
    int err;

    if (closing(st))
        return UV_EINVAL;
    if (st->type != UV_TCP && st->type != UV_NAMED_PIPE)
        return UV_EINVAL;
    s = ah__sock_of(st, "uv_listen");
    if (s->real != NULL)
        err = ah__real_stream->listen(s, backlog, cb);
    else
        err = ah__listen_hooks[st->type](s, backlog, cb);
    if (err == 0) {
        r->start_site = site;
        ah__handle_start((uv_handle_t *)st);
    }
    return err;
}

void ah__sock_attach(ah__sock *s, ah__conn *c, int side)
{
    s->conn = c;
    s->side = side;
    c->end[side].sock = s;
    sync_reset(s);
}

int uv_accept(uv_stream_t *server, uv_stream_t *client)
{
    AH__ENTRY("uv_accept");
    ah__sock *ss = ah__sock_of(server, "uv_accept"), *cs;
    ah_sim *sim = ss->net->sim;
    ah__conn *c;
    char b[320];
    int err = 0;

    if (client == NULL)
        ah__fail(sim, "uv_accept: called with a NULL client handle");
    ah__handle_rec((uv_handle_t *)client, "uv_accept");
    if (client->type != UV_TCP && client->type != UV_NAMED_PIPE)
        return UV_EINVAL;
    cs = ah__sock_of(client, "uv_accept");
    if (server->loop != client->loop)
        ah__fail(sim,
                 "uv_accept: the client %s is on another loop than the server (libuv asserts "
                 "on this)",
                 ah__handle_str(client->u.reserved[0], b, sizeof(b)));
    if (ss->real != NULL)
        return ah__real_stream->accept(ss, cs);
    if (server->type == UV_NAMED_PIPE && ((uv_pipe_t *)server)->ipc) {
        /* libuv's uv_accept of a received descriptor: uv__stream_open of it, closed on error. */
        int fd = pending_pop(ss);
        if (fd < 0)
            return UV_EAGAIN;
        err = ah__stream_adopt_hook != NULL ? ah__stream_adopt_hook(client, fd) : UV_EINVAL;
        if (err != 0)
            close(fd);
        return err;
    }
    if (ss->accepted == NULL)
        return UV_EAGAIN;
    c = ss->accepted;
    if ((c->kind == UV_TCP) != (client->type == UV_TCP))
        ah__fail(sim, "uv_accept: a %s connection accepted into %s",
                 c->kind == UV_TCP ? "tcp" : "pipe",
                 ah__handle_str(client->u.reserved[0], b, sizeof(b)));
    if (closing(client))
        ah__fail(sim, "uv_accept into %s, which is closing",
                 ah__handle_str(client->u.reserved[0], b, sizeof(b)));
    if (client->io_watcher.fd != -1) {
        /* uv__stream_open: the client already has a socket; the accepted one is closed. */
        err = UV_EBUSY;
        ah__end_close(c, 1, 0);
    } else {
        ah__sock_give_fd(cs);
        client->flags |= AH__SF_READABLE | AH__SF_WRITABLE | AH__SF_BOUND;
        cs->local = c->end[1].addr;
        cs->remote = c->end[0].addr;
        ah__sock_attach(cs, c, 1);
        ah__sock_set_label(cs);
        ah__trace_note(sim, c->label, "uv_accept");
    }
    ss->accepted = NULL;
    server->accepted_fd = -1;
    if (err == 0 && !ss->in_server_io && !ah__list_empty(&ss->backlog))
        schedule_now(ss, &ss->lst_ev);
    return err;
}

/* ---- closing ---- */

/* uv_close on a stream: libuv's uv__stream_close. */
static void stream_close(uv_handle_t *h)
{
    uv_stream_t *st = (uv_stream_t *)h;
    ah__sock *s = st->queued_fds;
    ah__conn *c;

    if (s == NULL)
        return;
    st->flags &= ~AH__SF_READING;
    st->read_cb = NULL;
    st->alloc_cb = NULL;
    ah__pending_remove(&s->io_pend);
    ah__list_init(&s->io_pend.link);
    ah__event_cancel(&s->conn_ev);
    ah__event_cancel(&s->rd_ev);
    ah__event_cancel(&s->wr_ev);
    ah__event_cancel(&s->lst_ev);
    ah__handle_stop(h);
    st->flags &= ~(AH__SF_READABLE | AH__SF_WRITABLE);
    if (st->io_watcher.fd != -1 && ah__stream_fd_close_hook != NULL)
        ah__stream_fd_close_hook(s, st->io_watcher.fd);
    st->io_watcher.fd = -1;
    if (s->holds_fd) {
        s->holds_fd = 0;
        s->net->fds_held--;
    }
    if (s->stalled) {
        ah__list_remove(&s->stalled_link);
        s->stalled = 0;
    }
    if ((c = s->conn) != NULL) {
        ah__end_close(c, s->side, s->close_reset);
        s->conn = NULL;
    }
    if (st->flags & AH__SF_LISTENING) {
        /* Connections still in the accept queue are reset when the listener goes. */
        while (!ah__list_empty(&s->backlog)) {
            ah__sock *cl;
            c = ah__container_of(s->backlog.next, ah__conn, backlog_link);
            ah__list_remove(&c->backlog_link);
            c->in_backlog = 0;
            /* Linux resets a unix socket's embryo: its client, whose connect(2) had returned,
             * finds ECONNRESET as the socket's error when libuv checks SO_ERROR on POLLOUT. */
            cl = c->end[0].sock;
            if (c->kind == UV_NAMED_PIPE && cl != NULL && cl->stream != NULL &&
                cl->stream->connect_req != NULL && ah__event_scheduled(&cl->conn_ev))
                cl->connect_status = UV_ECONNRESET;
            ah__end_close(c, 1, 1);
        }
        st->flags &= ~AH__SF_LISTENING;
    }
    if (s->accepted != NULL) {
        ah__end_close(s->accepted, 1, 0);
        s->accepted = NULL;
        st->accepted_fd = -1;
    }
    if (st->type == UV_NAMED_PIPE)
        ((uv_pipe_t *)st)->pipe_fname = NULL; /* the sim's copy of the path goes with s */
    if (s->made_file) {
        unlink(s->local.str); /* the socket file uv_pipe_chmod made, as libuv unlinks its own */
        s->made_file = 0;
    }
    if (s->bound_route != NULL) {
        if (s->bound_route->listener == s)
            s->bound_route->listener = NULL;
        if (s->bound_route->bound == s)
            s->bound_route->bound = NULL; /* libuv unlinks the pipe's path */
        s->bound_route = NULL;
    }
}

/* In the closing phase, before close_cb: libuv's uv__stream_destroy. */
static void stream_destroy(uv_handle_t *h)
{
    uv_stream_t *st = (uv_stream_t *)h;
    ah__sock *s = st->queued_fds;
    uv_connect_t *req;
    int fd;

    if (s == NULL)
        return;
    if ((req = st->connect_req) != NULL) {
        st->connect_req = NULL;
        ah__req_end((uv_req_t *)req);
        if (req->cb != NULL)
            AH__DISPATCH(s->net->sim, st, "connect_cb", req->cb(req, UV_ECANCELED));
    }
    flush_write_queue(s, UV_ECANCELED);
    write_callbacks(s);
    drain(s);
    while ((fd = pending_pop(s)) >= 0)
        close(fd); /* received, never accepted: libuv's uv__stream_destroy closes them */
    st->queued_fds = NULL;
    s->stream = NULL;
    ah__list_remove(&s->link);
    ah__free(s);
}

void ah__sock_hooks_install(void)
{
    ah__close_hooks[UV_TCP] = stream_close;
    ah__close_hooks[UV_NAMED_PIPE] = stream_close;
    ah__finish_close_hooks[UV_TCP] = stream_destroy;
    ah__finish_close_hooks[UV_NAMED_PIPE] = stream_destroy;
}
