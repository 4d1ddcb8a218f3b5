/* Internals of the fake network, DNS and thread pool (mocks/net*.c, stream.c, tcp.c, pipe.c,
 * peer.c, dns.c). Nothing here is public API. The thread pool is threads/pool.h.
 *
 * The model: a connection (ah__conn) has two ends, each a user stream (ah__sock, the sim's state
 * of a uv_tcp_t or uv_pipe_t) or a scripted peer connection (ah__pconn). Each direction is a flow
 * (ah__flow): the bytes one end sent, cut into segments that arrive at the other end at their due
 * times through one event per flow, in order. Faults are kept per server address (ah__route). */
#ifndef AH_MOCKS_INTERNAL_NET_H
#define AH_MOCKS_INTERNAL_NET_H

#include "../harness/internal.h"

#include <netinet/in.h>
#include <netdb.h>
#include <sys/socket.h>

#define AH__ADDR_MAX 72
/* Bytes one direction of a connection holds, sent and not yet read (in flight plus the
 * receiver's queue): the kernel's send and receive buffers. A writer beyond it waits. */
#define AH__FLOW_WINDOW (4u * 1024 * 1024)

/* Stream flag bits in handle->flags (the type-specific range internal.h leaves free). */
enum {
    AH__SF_READING = AH__HF_TYPE0 << 0,
    AH__SF_READABLE = AH__HF_TYPE0 << 1,
    AH__SF_WRITABLE = AH__HF_TYPE0 << 2,
    AH__SF_SHUTTING = AH__HF_TYPE0 << 3,
    AH__SF_SHUT = AH__HF_TYPE0 << 4,
    AH__SF_READ_EOF = AH__HF_TYPE0 << 5,
    AH__SF_BOUND = AH__HF_TYPE0 << 6,
    AH__SF_LISTENING = AH__HF_TYPE0 << 7,
    AH__SF_READ_PARTIAL = AH__HF_TYPE0 << 8,
    AH__SF_IPV6ONLY = AH__HF_TYPE0 << 9,
};

/* A parsed address: an IP endpoint or a pipe path, with its canonical text. */
typedef struct ah__addr {
    int family; /* AF_INET, AF_INET6, AF_UNIX, or 0 (none) */
    struct sockaddr_storage sa;
    char str[AH__ADDR_MAX];  /* "127.0.0.1:6379", "[::1]:80", "/tmp/x.sock" */
    char host[AH__ADDR_MAX]; /* "127.0.0.1", "::1", the path */
    int port;
    int abstract; /* AF_UNIX in Linux's abstract namespace: str is "@name" for "\0name" */
    /* NULs after an abstract name's text in the length bind(2) was given (sizeof(struct
     * sockaddr_un) leaves sun_path's zeros): Linux keeps them in the name, getsockname gives
     * them back; the sim's routes match the text alone (decision 146). */
    int abstract_pad;
} ah__addr;

enum { AH__SEG_DATA = 0, AH__SEG_FIN = 1, AH__SEG_RST = 2 };
typedef struct ah__seg {
    uint64_t end; /* absolute offset of the flow just after this segment */
    uint64_t due_ns;
    int kind;
} ah__seg;

struct ah__conn;

/* One direction of a connection: bytes end `from` sent, read by the other end. Offsets are
 * absolute: buf holds [rd, wr) at buf[x - base]; [rd, arr) has arrived, [arr, wr) is in flight. */
/* Descriptors passed with SCM_RIGHTS over a fake AF_UNIX stream (fd/socket.c's sendmsg): they
 * ride with the bytes [at, end) of the flow. Each is a number of the passed object that the
 * program does not know (fd/dup.c's sharing), until a reader takes it with the first of those
 * bytes; the reader's read stops at `end`, as Linux's unix_stream_read_generic does. */
typedef struct ah__rights {
    struct ah__rights *next;
    uint64_t at, end;
    int n;
    int fds[];
} ah__rights;

typedef struct ah__flow {
    struct ah__conn *conn;
    int from;
    unsigned char *buf;
    size_t cap;
    uint64_t base, rd, arr, wr;
    ah__seg *segs; /* segments not yet consumed: [seg_head, seg_arr) arrived */
    size_t seg_head, seg_arr, seg_n, seg_cap;
    uint64_t last_due;
    ah__event ev;
    int fin_sent, rst_sent;
    int fin_arrived, rst_arrived;
    uint64_t fin_at;    /* offset of the FIN */
    ah__rights *rights; /* descriptors in flight, in order */
} ah__flow;

struct ah__sock;
struct ah__pconn;
struct ah__route;

/* A connection end owned by a layer above mocks/ (fd/: a raw socket of the code under test). The
 * network calls up through these; it never includes that layer. */
typedef struct ah__end_ops {
    void (*incoming)(void *ctx);   /* bytes, a FIN or a reset reached the end */
    void (*writable)(void *ctx);   /* the flow the end sends on has room again */
    int (*waiting)(void *ctx);     /* arrivals for the end keep its loop alive */
    uv_loop_t *(*loop)(void *ctx); /* the loop the end's arrivals are delivered on */
} ah__end_ops;

/* A listener owned by a layer above mocks/: a connection reached it. */
typedef struct ah__listen_ops {
    void (*arrived)(void *ctx, struct ah__conn *c);
    uv_loop_t *(*loop)(void *ctx);
} ah__listen_ops;

typedef struct ah__end {
    struct ah__sock *sock;  /* a user stream, or NULL */
    struct ah__pconn *pc;   /* a scripted peer's connection, or NULL */
    const ah__end_ops *ops; /* or an end of a higher layer (with ctx), or NULL */
    void *ctx;
    int closed; /* the end's socket is gone: data to it is answered with a reset */
    int reset;  /* the end received a reset */
    ah__addr addr;
} ah__end;

typedef struct ah__conn {
    ah__list link; /* net->conns */
    uint32_t id;
    int kind;                /* UV_TCP or UV_NAMED_PIPE */
    struct ah__route *route; /* the server address: its faults */
    uv_loop_t *loop;         /* the connecting side's loop (the peer's events run there) */
    char label[2 * AH__ADDR_MAX + 16]; /* "tcp 127.0.0.1:50001 -> 127.0.0.1:6379" */
    ah__end end[2];                    /* 0: the connecting side, 1: the accepting side */
    ah__flow flow[2];                  /* flow[i]: sent by end i */
    int one_way; /* a pipe (fd/pipe.c): a write once the other end is closed is EPIPE at once */
    ah__event accept_ev; /* the connection reaches the listener */
    int has_lat;
    uint64_t lat_min, lat_max;
    int held; /* nothing passes until it is cleared (a partition between two processes: world/) */
    ah__list backlog_link; /* in a listener's backlog */
    int in_backlog;
} ah__conn;

/* The sim's state of one uv_tcp_t / uv_pipe_t, reached through stream->queued_fds. */
typedef struct ah__sock {
    ah__list link;       /* net->socks */
    uv_stream_t *stream; /* NULL once closed */
    uv_loop_t *loop;
    struct ah__net *net;
    uint32_t id;
    ah__addr local, remote;
    int bound;
    struct ah__route *bound_route; /* pipe path or listening address it holds */
    ah__list backlog;              /* ah__conn waiting for the user's accept */
    struct ah__conn *accepted;     /* taken by a connection_cb, waiting for uv_accept */
    int in_server_io;
    uint64_t accept_poll; /* the loop's poll count + 1 when it last accepted (libuv >= 1.45) */
    struct ah__conn *conn;
    int side;
    ah__pending io_pend; /* libuv's uv__io_feed: write callbacks and delayed errors */
    ah__event conn_ev;   /* connect outcome */
    ah__event rd_ev;     /* readable again (level-triggered) */
    ah__event wr_ev;     /* writable: queued writes go out */
    ah__event lst_ev;    /* connections wait to be accepted */
    int connect_status;
    struct ah__route *connect_route; /* a connect waiting for a fault to lift */
    ah__list stalled_link;
    int stalled;
    int pending_error; /* a reset not yet reported by a read or a write */
    int reset_noted;
    int write_broken; /* later writes fail with UV_EPIPE */
    int fd_gone;     /* the program closed its descriptor behind libuv: writes fail with UV_EBADF */
    int close_reset; /* uv_tcp_close_reset */
    int nodelay, keepalive, single_accept;
    unsigned keepalive_delay;
    void *real;          /* a real descriptor the stream adopted (fd/realstream.c), or NULL */
    int blocking_writes; /* uv_stream_set_blocking(st, 1): uv_try_write waits for room */
    ah__rights *pending; /* an IPC pipe's received descriptors, for uv_accept (in order) */
    /* fd/uvopen.c: the socket (an ah__fsock) this handle shares with the handles it was sent to
     * or received from over IPC, while another handle holds its connection; NULL otherwise. */
    void *shared;
    int holds_fd;  /* its descriptor counts in net->fds_held (ah__sock_give_fd) */
    int made_file; /* uv_pipe_chmod made the socket file at local.str: the close unlinks it */
} ah__sock;

/* Per server address: listener and faults. Lives until the sim is freed. */
typedef struct ah__route {
    ah__list link;
    ah__addr addr;
    struct ah_peer *peer;       /* scripted listener */
    struct ah__sock *listener;  /* user listener */
    struct ah__sock *bound;     /* a pipe bound to this path (not yet listening) */
    const ah__listen_ops *lops; /* or a listener of a higher layer (fd/), with lctx */
    void *lctx;
    int refuse, connect_timeout, held;
    int has_lat;
    uint64_t lat_min, lat_max;
    size_t chunk, chunk_random;
    int short_write_on;
    size_t short_write;
    int write_error;
} ah__route;

typedef struct ah__partition {
    ah__list link;
    char a[AH__ADDR_MAX], b[AH__ADDR_MAX];
} ah__partition;

/* ---- scripted peers ---- */
enum {
    AH__STEP_EXPECT,
    AH__STEP_EXPECT_EOF,
    AH__STEP_REPLY,
    AH__STEP_DELAY,
    AH__STEP_CLOSE,
    AH__STEP_RESET,
    AH__STEP_STALL,
    AH__STEP_SHUTDOWN,
};
typedef struct ah__step {
    int kind;
    unsigned char *bytes;
    size_t n;
    uint64_t ms;
    ah__site site;
} ah__step;

typedef struct ah__script {
    ah__list link;
    ah__step *steps;
    size_t n, cap;
    int repeat;
    unsigned used; /* connections that ran it */
    int ended;     /* a close/reset/stall was added */
    ah__site site;
} ah__script;

struct ah__server;
struct ah_peer {
    ah__list link; /* net->peers */
    struct ah__net *net;
    struct ah__route *route;
    int listening;
    int client;                /* made by ah_net_connect: it connects instead of accepting */
    unsigned index;            /* a client's number among the sim's scripted clients (1-based) */
    int tolerant;              /* ah_peer_tolerant: a vanished other end is not a failure */
    struct ah__server *server; /* an ah_server runs its connections instead of scripts */
    void *udp;                 /* a scripted UDP client's state (udp_peer.c) */
    size_t udp_steps;          /* ... the steps it ran */
    ah__list scripts;
    ah__script *next_script; /* for the next accepted connection, or NULL */
    ah__list conns;          /* ah__pconn */
    unsigned accepted;
    ah__site site;
};

typedef struct ah__pconn {
    ah__list link;
    ah_peer *peer;
    ah__conn *conn; /* NULL for a client whose connect was refused or never completes */
    int side;       /* the end of conn it is: 1 for a listening peer, 0 for a client */
    int connecting; /* a client's handshake is under way */
    int refused;    /* a client's connect was refused */
    int vanished;   /* the other end went away before the script ended (tolerated) */
    ah__event conn_ev;
    void *srv;      /* the ah_server's state of this connection */
    unsigned index; /* 1-based */
    ah__script *script;
    size_t step, pos;
    ah__event timer;
    int waiting; /* 1: the timer for the current step runs, 2: it fired */
    int eof;     /* the client's FIN has been read */
    int closed, stalled, aborted, finished;
} ah__pconn;

/* ---- DNS ---- */
typedef struct ah__dns_entry {
    ah__list link;
    char *name;
    struct sockaddr_storage *addrs;
    size_t naddrs;
    uint64_t latency_ms;
    int fail;
} ah__dns_entry;

typedef struct ah__net {
    ah_sim *sim;
    ah__list routes, socks, conns, peers, parts, stalled;
    uint32_t next_port, next_conn_id, next_sock_id;
    uint32_t next_autobind; /* 1.49's autobind names, "\0" and five hex digits */
    ah__list dns, addrinfos;
    char (*locals)[AH__ADDR_MAX]; /* ah_net_local_address */
    int out_of_fds;               /* ah_net_out_of_descriptors */
    size_t fds_held;              /* the sim's sockets that hold a (fake) descriptor */
    unsigned clients;             /* scripted clients made so far (ah_net_connect) */
    size_t n_locals;
} ah__net;

/* net.c */
/* Fails the test when `req` is still in flight: libuv would corrupt its queues on reuse. */
void ah__req_require_idle(const void *req, const char *fn, ah__site site);
ah__net *ah__net_get(ah_sim *sim);  /* created on first use */
ah__net *ah__net_find(ah_sim *sim); /* NULL when the sim never used the network */
/* The loop a connection's own events (peer timers, replies to closed ends) run on. */
uv_loop_t *ah__conn_loop(ah__conn *c);
/* Parses "1.2.3.4:80", "[::1]:80" (ip = 1), or takes a path (ip = 0). Returns 0 or UV_EINVAL. */
int ah__addr_parse(const char *s, int ip, ah__addr *a);
void ah__addr_from_sockaddr(const struct sockaddr *sa, ah__addr *a);
ah__route *ah__route_get(ah__net *net, const ah__addr *a);
int ah__route_listens(const ah__route *r);
/* The listener (user sock or peer route) a connect to `a` reaches, or NULL. */
ah__route *ah__route_listening(ah__net *net, const ah__addr *a);
uint64_t ah__conn_latency(ah__conn *c);
ah__conn *ah__conn_new(ah__net *net, int kind, ah__route *route, uv_loop_t *loop,
                       const ah__addr *client, const ah__addr *server);
int ah__conn_blocked(ah__net *net, ah__conn *c);
/* Sends bytes/FIN/RST from end `from` (with the route's latency and chunking). */
void ah__flow_send(ah__conn *c, int from, const void *data, size_t n);
void ah__flow_send_fin(ah__conn *c, int from);
void ah__flow_send_rst(ah__conn *c, int from, int now);
/* Arms the flow's arrival event (after a change of hold, reading state, ...). */
void ah__flow_arm(ah__flow *f);
/* Delivers now what of `f` is due by now, without waiting for a loop's poll: a raw socket's
 * kernel receives bytes whether or not a loop runs (fd/). */
void ah__flow_deliver_due(ah__flow *f);
/* Takes what is due on `f` now (bytes, FIN, RST) without telling the receiving end, whose event
 * stays armed and tells it at the next poll; 1 when anything arrived. */
int ah__flow_take_due(ah__flow *f);
/* Bytes the receiver of `f` may read now (up to a segment end when `chunked`). */
size_t ah__flow_readable(const ah__flow *f, int chunked);
void ah__flow_consume(ah__flow *f, size_t n);
/* stream.c: an IPC pipe's received descriptors (SCM_RIGHTS), for uv_pipe_pending_*. */
int ah__sock_pending_count(ah__sock *s);
uv_handle_type ah__sock_pending_type(ah__sock *s);
/* SCM_RIGHTS: `fds` ride with the bytes [at, end) of `f` (taken over: the flow owns them). */
void ah__flow_rights_add(ah__flow *f, uint64_t at, uint64_t end, const int *fds, int n);
/* A read of up to *n bytes from f->rd: the descriptors that ride with them, if any (the caller
 * owns the record; *n is cut at its end). NULL when none. */
ah__rights *ah__flow_rights_take(ah__flow *f, size_t *n);
int ah__route_chunked(const ah__route *r);
/* An end of the connection goes away (user close, peer close). `rst`: reset instead of FIN. */
void ah__end_close(ah__conn *c, int side, int rst);
/* Connects whose fault was lifted proceed. */
void ah__net_retry_stalled(ah__net *net);
/* Starts the network side of a connect of `s` to s->remote (request already registered). */
void ah__net_connect(ah__sock *s);
/* The same for an end of a higher layer (fd/): 0 with *out set when the handshake completes at
 * *due_ns (the caller attaches its end to (*out)->end[0]), UV_ECONNREFUSED (at *due_ns), or 1
 * when the SYN is lost (ah_net_connect_timeout, a partition): it never completes. */
int ah__net_connect_end(ah__net *net, const ah__addr *local, const ah__addr *remote,
                        uv_loop_t *loop, ah__conn **out, uint64_t *due_ns);
/* The route of a test's address string, failing the test on a malformed one. */
ah__route *ah__test_route(ah_sim *sim, const char *fn, const char *addr);
uint32_t ah__net_ephemeral_port(ah__net *net);
/* Whether the host part of `a` is an address of the simulated host: loopback, the wildcard, the
 * host's own 10.0.0.1 and fd00::1 (ah__local_for), or one declared with ah_net_local_address.
 * Binding anything else fails with UV_EADDRNOTAVAIL, as on a real host. */
int ah__addr_local(ah_sim *sim, const ah__addr *a);
/* Whether the process is out of descriptors: ah_net_out_of_descriptors, or the real
 * RLIMIT_NOFILE leaves no descriptor free (a test that lowers it with setrlimit), counting the
 * process's real descriptors and the sim's sockets (net->fds_held). */
int ah__net_out_of_fds(ah__net *net);
void ah__local_for(const ah__addr *server, uint32_t port, ah__addr *out);

/* stream.c */
/* Set by the layer that may give a stream a descriptor of its own (fd/: uv_fileno, uv_tcp_open):
 * called when the stream closes its socket. */
extern void (*ah__stream_fd_close_hook)(ah__sock *s, int fd);
/* uv_accept of a descriptor an IPC pipe received (SCM_RIGHTS): libuv's uv__stream_open of it
 * into `client` (uv_pipe_open or uv_tcp_open); set by fd/uvopen.c, which owns adoption. */
extern int (*ah__stream_adopt_hook)(uv_stream_t *client, int fd);
/* uv_write2 with a send_handle: one more number of the handle's socket (made a fake descriptor of
 * the sim if it had none), to ride with the bytes (the caller owns it); set by fd/uvopen.c. */
extern int (*ah__stream_pass_hook)(uv_stream_t *send_handle, const char *fn);
void ah__stream_init(uv_loop_t *loop, uv_stream_t *st, uv_handle_type type, ah__site site);
/* Linux's TCP_KEEPIDLE of a new socket (net.ipv4.tcp_keepalive_time), in seconds. */
#define AH__TCP_KEEPIDLE_DEFAULT 7200
ah__sock *ah__sock_new(ah__net *net, uv_stream_t *s);
void ah__sock_give_fd(ah__sock *s);
/* Registers `s` as the listener of `route`. */
int ah__sock_listen(ah__sock *s, ah__route *route, uv_connection_cb cb);
void ah__sock_attach(ah__sock *s, ah__conn *c, int side);
ah__sock *ah__sock_of(const uv_stream_t *s, const char *fn);
void ah__sock_set_label(ah__sock *s);
/* Data, EOF or a reset reached the user end `s` (called from a flow arrival, in the poll). */
void ah__sock_incoming(ah__sock *s);
/* The connect of `s` ends with `status` at `due_ns` (an event), or via the pending queue. */
void ah__sock_connect_result(ah__sock *s, int status, uint64_t due_ns);
void ah__sock_connect_pending(ah__sock *s, int status);
/* A connection reached the listener `s` (in its poll: the connection callback runs now). */
void ah__sock_backlog_add(ah__sock *s, ah__conn *c);
/* A connection is in the backlog of the listener `s` outside its poll (a unix socket's connect):
 * the listener is readable at its next poll. */
void ah__sock_backlog_queue(ah__sock *s, ah__conn *c);
void ah__sock_hooks_install(void);
int ah__sock_reading(const ah__sock *s);
/* The flow `s` sends on has room again (the receiver read), or a reset came: queued writes go on.
 */
void ah__sock_writable(ah__sock *s);

/* peer.c */
/* A scripted client with one empty script, in the network's peers (ah_net_connect,
 * ah_net_connect_udp). */
ah_peer *ah__peer_client_new(ah_sim *sim, struct ah__route *r, ah__site site);
/* ah_net_listen's work (ah_server_start listens the same way). */
ah_peer *ah__peer_listen(ah_sim *sim, const char *addr, ah__site site, const char *fn);
/* A connection reached the scripted peer's address. */
void ah__peer_accept(ah_peer *p, ah__conn *c);
/* Bytes, EOF or a reset reached the peer end of `c`. */
void ah__peer_incoming(ah__pconn *pc);
void ah__peer_abort(ah__pconn *pc);
/* The client's end of the peer's connection closed: the peer's timers stop holding the sim. */
void ah__peer_client_gone(ah__pconn *pc);
void ah__peer_check(ah__net *net, ah__buf *b);
void ah__peer_pending(ah__net *net, ah__buf *b);
void ah__peer_free_all(ah__net *net);
/* The flow a peer connection reads and the end it is. */
static inline ah__flow *ah__pc_in(ah__pconn *pc)
{
    return pc->conn != NULL ? &pc->conn->flow[1 - pc->side] : NULL; /* a refused client has none */
}

/* server.c: what an ah_server does with its connections (peer.c calls them through
 * ah__net_parts for a peer that has a server): bytes or the other end's going reached `pc`;
 * `pc` is being freed; the server is being freed. */
void ah__server_advance(ah__pconn *pc);
void ah__server_conn_free(ah__pconn *pc);
void ah__server_free(struct ah__server *srv);

/* What the network (net.c) calls in the files above it: the uv streams (stream.c), the scripted
 * peers (peer.c) and DNS (dns.c). Each file fills its part when it is first used (a stream is
 * initialised, a peer listens, a name is resolved), so the network never calls up by name, and a
 * part nobody used is NULL: nothing of that kind exists. */
typedef struct ah__net_parts_t {
    /* stream.c */
    void (*sock_writable)(ah__sock *s);
    int (*sock_reading)(const ah__sock *s);
    void (*sock_incoming)(ah__sock *s);
    void (*sock_backlog_add)(ah__sock *s, ah__conn *c);
    void (*sock_backlog_queue)(ah__sock *s, ah__conn *c);
    void (*sock_connect_pending)(ah__sock *s, int status);
    void (*sock_connect_result)(ah__sock *s, int status, uint64_t due_ns);
    void (*sock_set_label)(ah__sock *s);
    ah__sock *(*sock_of)(const uv_stream_t *s, const char *fn);
    /* peer.c */
    void (*peer_accept)(ah_peer *p, ah__conn *c);
    void (*peer_incoming)(ah__pconn *pc);
    void (*peer_abort)(ah__pconn *pc);
    void (*peer_client_gone)(ah__pconn *pc);
    void (*peer_check)(ah__net *net, ah__buf *b);
    void (*peer_pending)(ah__net *net, ah__buf *b);
    void (*peer_free_all)(ah__net *net);
    /* server.c (set by ah_server_start) */
    void (*server_advance)(ah__pconn *pc);
    void (*server_conn_free)(ah__pconn *pc);
    void (*server_free)(struct ah__server *srv);
    /* udp_peer.c (set by ah_net_connect_udp) */
    void (*udp_kick)(ah_peer *p);
    void (*udp_check)(ah_peer *p, ah__buf *b);
    void (*udp_free)(ah_peer *p);
    /* dns.c */
    void (*dns_check)(ah__net *net, ah__buf *b);
    void (*dns_free_all)(ah__net *net);
} ah__net_parts_t;
extern ah__net_parts_t ah__net_parts;
/* uv_listen's work for each stream type (tcp.c, pipe.c set theirs when they initialise a
 * handle): stream.c dispatches through it. */
extern int (*ah__listen_hooks[UV_HANDLE_TYPE_MAX])(ah__sock *s, int backlog, uv_connection_cb cb);

/* pipe.c: opens `p` (a uv_pipe_t not yet opened) as one end of a new connected pair, as libuv's
 * uv_spawn does with the parent's end of a socketpair; end 1 is left to the caller (proc/), which
 * sets its ops and ctx. `readable`/`writable` as the stream's flags; `label` names it. Returns
 * the connection, or NULL when the pipe already has a descriptor (UV_EINVAL for the caller). */
ah__conn *ah__pipe_open_pair(uv_pipe_t *p, int readable, int writable, const char *label);

/* stream.c: writes to a uv_tty_t (a real descriptor) go to the room that owns ttys (proc/):
 * uv_write (req != NULL) and uv_try_write (req == NULL). NULL: not simulated. */
typedef int (*ah__tty_write_fn)(uv_write_t *req, uv_stream_t *st, const uv_buf_t bufs[],
                                unsigned nbufs, uv_write_cb cb, const char *fn, ah__site site);
extern ah__tty_write_fn ah__tty_write_hook;
/* stream.c: uv_read_start (alloc_cb and read_cb set) and uv_read_stop (both NULL) on a uv_tty_t
 * go to the same room. NULL: not simulated. */
typedef int (*ah__tty_read_fn)(uv_stream_t *st, uv_alloc_cb alloc_cb, uv_read_cb read_cb,
                               ah__site site);
extern ah__tty_read_fn ah__tty_read_hook;

/* stream.c: a stream whose `real` is set works on a real descriptor the sim did not make
 * (uv_pipe_open, uv_tcp_open of an inherited or passthrough descriptor): the queues and callbacks
 * stay stream.c's, and what touches the descriptor goes to the layer that adopted it (fd/).
 * Set by that layer when it adopts one. */
typedef struct ah__real_stream_ops {
    /* write(2) of the buffers: bytes taken, or a UV_ error (UV_EAGAIN: none). */
    ssize_t (*send)(ah__sock *s, const uv_buf_t *bufs, unsigned nbufs);
    /* The write queue waits for POLLOUT (1) or is empty (0). */
    void (*want_write)(ah__sock *s, int on);
    /* uv_read_start (1) or uv_read_stop, after stream.c's checks and flags. */
    void (*reading)(ah__sock *s, int on);
    int (*shutdown)(ah__sock *s); /* shutdown(SHUT_WR): 0 or a UV_ error */
    int (*listen)(ah__sock *s, int backlog, uv_connection_cb cb);
    int (*accept)(ah__sock *server, ah__sock *client);
} ah__real_stream_ops;
extern const ah__real_stream_ops *ah__real_stream;
/* stream.c, for the real streams: uv__stream_io's POLLOUT half (writes, their callbacks, the
 * drain), and uv__stream_eof. */
void ah__sock_io_out(ah__sock *s);
void ah__stream_eof(ah__sock *s, const uv_buf_t *buf);
void ah__stream_read_end_stop(uv_stream_t *st);

/* tcp.c, pipe.c: the type-specific half of uv_listen. */
int ah__tcp_listen(ah__sock *s, int backlog, uv_connection_cb cb);
int ah__pipe_listen(ah__sock *s, int backlog, uv_connection_cb cb);
/* stream.c: a connect request begins (tcp.c, pipe.c). */
void ah__stream_connect_begin(ah__sock *s, uv_connect_t *req, uv_connect_cb cb, ah__site site);

/* dns.c: getaddrinfo(3) answered from the table at once (fd/ interposes it). Returns 0 or a
 * UV_EAI_* code; the result is recorded and freed by freeaddrinfo. */
int ah__dns_resolve_now(ah__net *net, const char *host, const char *service,
                        const struct addrinfo *hints, struct addrinfo **res, ah__site site);
void ah__dns_check(ah__net *net, ah__buf *b);
void ah__dns_free_all(ah__net *net);
void ah__dns_table_clear(ah__net *net);

#endif
