/* Internals of the descriptor layer (fd/): the fake descriptor table under the libc socket calls,
 * uv_poll, the uv_*_open adoption, and the virtual libc clocks. Nothing here is public API.
 *
 * The layer sits above mocks/: a raw socket is one more kind of connection end on the fake
 * network (ah__end_ops), and a fake descriptor is a real descriptor of /dev/null that the layer
 * keeps open, so the kernel can never hand its number to anything else. */
#ifndef AH_FD_INTERNAL_FD_H
#define AH_FD_INTERNAL_FD_H

#include "../mocks/internal_net.h"
#include "../threads/wait.h"

#include <ah/fd.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tty.h"

/* The next definition of `fn` after the executable's: the C library's. */
void *ah__fd_dlsym(const char *fn);
#define AH__REAL(fn)                                                                               \
    static __typeof__(fn) *real_##fn;                                                              \
    if (real_##fn == NULL)                                                                         \
    *(void **)&real_##fn = ah__fd_dlsym(#fn)

enum {
    AH__FK_SOCK = 1,   /* the code's own socket */
    AH__FK_STREAM = 2, /* the socket of a uv stream (uv_fileno, uv_tcp_open, uv_pipe_open) */
    AH__FK_UDP = 3,    /* the socket a uv_udp_t adopted (uv_udp_open) */
    AH__FK_REAL = 4,   /* a real descriptor under uv_poll (real.c): not in the table */
};
enum {
    AH__FS_NEW,        /* never connected (TCP_CLOSE) */
    AH__FS_CONNECTING, /* SYN sent */
    AH__FS_CONNECTED,
    AH__FS_LISTENING,
    AH__FS_DONE, /* the connection failed or was reset (TCP_CLOSE again) */
};

struct ah__fsock;
/* A kind of fake socket other than a stream socket (fd/dgram.c: UDP). socket.c's libc calls hand
 * a socket with `ops` to them; addresses arrive already checked and converted. */
typedef struct ah__fsock_ops {
    int (*bind)(struct ah__fsock *fs, const ah__addr *a);
    int (*connect)(struct ah__fsock *fs, const ah__addr *a); /* NULL: AF_UNSPEC, disconnect */
    ssize_t (*recv)(struct ah__fsock *fs, struct msghdr *msg, int flags, const char *call,
                    ah__site site);
    ssize_t (*send)(struct ah__fsock *fs, const struct msghdr *msg, int flags, const char *call,
                    ah__site site);
    int (*shutdown)(struct ah__fsock *fs, int how);
    int (*name)(struct ah__fsock *fs, int peer, ah__addr *out); /* 0 or a positive errno */
    /* 1 when it answered the option (*r set), 0 to fall back on the common options. */
    int (*getsockopt)(struct ah__fsock *fs, int level, int name, void *val, socklen_t *len, int *r);
    int (*setsockopt)(struct ah__fsock *fs, int level, int name, const void *val, socklen_t len,
                      int *r);
    int (*nread)(struct ah__fsock *fs); /* FIONREAD */
    short (*revents)(struct ah__fsock *fs);
    void (*rearm)(struct ah__fsock *fs);   /* watchers or a blocking call came or went */
    void (*close)(struct ah__fsock *fs);   /* close(2): leave the network */
    void (*release)(struct ah__fsock *fs); /* free its own memory (also at the sim's end) */
    /* uv_udp_open: the socket's place on the network and its queued datagrams go to `ep` (an
     * ah__dgram_ep), and its own state is released. */
    void (*adopt)(struct ah__fsock *fs, void *ep);
    /* fcntl commands of its own (F_GETPIPE_SZ, ...): 1 when it answered `cmd` (*r set), 0 to fall
     * back on the common ones. May be NULL. */
    int (*fcntl)(struct ah__fsock *fs, int cmd, long arg, int *r);
} ah__fsock_ops;

/* One fake descriptor. */
typedef struct ah__fsock {
    ah__list link; /* st->socks */
    int fd;
    ah_sim *sim;
    int kind;
    ah__sock *stream; /* AH__FK_STREAM: the uv stream this is the socket of */
    uv_udp_t *udp;    /* AH__FK_UDP: the handle that adopted it */
    int domain, type, protocol;
    int nonblock, cloexec;
    int state;
    ah__addr local, remote;
    int bound;
    ah__conn *conn;
    int side;
    int so_error;       /* positive errno, read and cleared by SO_ERROR */
    int reset_noted;    /* a reset that arrived has set so_error */
    int shut_rd;        /* shutdown(SHUT_RD) */
    int connect_status; /* outcome of the connect, applied at conn_ev */
    ah__event conn_ev;
    ah__route *lst_route;
    ah__list backlog; /* ah__conn by backlog_link */
    int catching_up;  /* arrivals pulled by a call: watchers are told in the next poll */
    int nodelay, keepalive, keepidle, reuseaddr, sndbuf, rcvbuf;
    ah__list polls;               /* ah__fpoll watching it */
    struct ah__ftty *tty;         /* a fake terminal (tty.c), or NULL */
    const ah__fsock_ops *ops;     /* a datagram socket (dgram.c), or NULL */
    void *priv;                   /* the ops' own state */
    int rcvtimeo_ms, sndtimeo_ms; /* SO_RCVTIMEO, SO_SNDTIMEO (0: none) */
    int accmode;                  /* O_RDWR, or O_RDONLY / O_WRONLY for a pipe's ends */
    const char *what;             /* "the read end of pipe", "eventfd", ... (NULL: a socket) */
    ah__twaitq twq;               /* simulated threads blocked in a call on it */
    char wait_desc[224];          /* what a blocked thread waits for, for the deadlock report */
    unsigned fork_gen;            /* ah__fd_fork_gen when it was made */
    int nfds;                     /* descriptor numbers that refer to it (dup): 1 at first */
    int passed; /* AH__FK_STREAM: sent over an IPC pipe (uv_write2); outlives its handle */
    ah__site site;
} ah__fsock;

/* Bumped in a child the test forks (proc/fork.c), with the fork's site: a fake descriptor made
 * before it belongs to the parent's copy of the sim too, and the two copies cannot reach each
 * other. Using one in the child fails (closing it is fine). */
extern unsigned ah__fd_fork_gen;
extern ah__site ah__fd_fork_site;
/* Fails when `fs` was made before the fork of the child this process is; `call` names the use. */
void ah__fd_fork_check(ah__fsock *fs, const char *call);
/* ah__fd_get for close(2), which may close a descriptor made before a fork. */
ah__fsock *ah__fd_get_any(int fd);

/* The sim's state of a uv_poll_t, kept in slot 0 of io_watcher.watcher_queue (ah__qslot_get). */
typedef struct ah__fpoll {
    ah__list link;     /* fs->polls */
    ah__list all_link; /* st->all_polls */
    uv_poll_t *handle; /* NULL once closed; another room's handle when `io` is set */
    /* A watcher for another room (ah__fd_watch): io runs instead of poll_cb. */
    void (*io)(struct ah__fpoll *p, int revents);
    void *io_ctx;
    int in_io;
    ah__fsock *fs; /* NULL once its descriptor was closed */
    int fd;
    int events; /* POLL* bits watched */
    int always; /* fires whether or not its handle is active (a write waiting for POLLOUT) */
    ah__event ev;
} ah__fpoll;

typedef struct ah__fdstate {
    ah_sim *sim;
    ah__list socks;
    ah__list all_polls;
    int passthrough;
    int blocking; /* a blocking call runs the sim: arrivals to raw sockets keep loops alive */
    int resuming; /* the test's thread runs what is due as it returns from a blocking call */
    int64_t wall_epoch_s;
    uint32_t next_pair;
    ah__list blocked; /* the blocking calls waiting now (table.c), for signals to interrupt */
    ah__list reals;   /* AH__FK_REAL records (real.c) */
    int real_used;    /* a real descriptor was watched: reports say so */
    ah__list adopted; /* realstream.c, realudp.c: the state of each handle on a real descriptor,
                         each starting with its link; freed with the sim if never closed */
    struct ah__real_wake *wake; /* real.c: a source of real events no uv handle watches */
} ah__fdstate;

/* table.c */
ah__fdstate *ah__fd_state(ah_sim *sim); /* created on first use */
ah__fdstate *ah__fd_find(ah_sim *sim);  /* NULL while the sim has not used the room */
/* The sim's wall-clock epoch (ah_wall_clock_set, else AH_WALL_EPOCH, else 2026-01-01): reading
 * the clock does not make the room. */
int64_t ah__fd_wall_epoch_s(ah_sim *sim);
/* ah_fd_passthrough is on for the sim (asking does not make the room). */
int ah__fd_passthrough(const ah_sim *sim);
/* The fake descriptor `fd` of the current sim, or NULL (a real descriptor, or no sim). */
ah__fsock *ah__fd_get(int fd);
ah__fsock *ah__fd_new(ah_sim *sim, int kind, ah__site site); /* NULL with errno set */
void ah__fd_release(ah__fsock *fs);                          /* frees every number and the entry */
/* dup (fd/dup.c): `fd`, a real descriptor of /dev/null just duplicated from fs->fd, becomes one
 * more number of the same open object, with FD_CLOEXEC as `cloexec`. */
void ah__fd_add_number(ah__fsock *fs, int fd, int cloexec);
/* close of one of several numbers of `fs`: the number goes, the object stays. Returns 0. */
int ah__fd_drop_number(ah__fsock *fs, int fd);
/* `fd` (a number of `fs`) becomes fs->fd, the one reports and a uv handle's io_watcher name. */
void ah__fd_make_primary(ah__fsock *fs, int fd);
/* FD_CLOEXEC of the number `fd` of `fs`: read (set < 0) or set to `set`. */
int ah__fd_number_cloexec(ah__fsock *fs, int fd, int set);
/* fcntl(fd, F_DUPFD or F_DUPFD_CLOEXEC, min) on a fake descriptor. */
int ah__fd_dupfd(ah__fsock *fs, int fd, long min, int cloexec);
/* One more number of `fs` (its number `fd`), the lowest free one from `min`, for `call` at
 * `site`; -1 with the kernel's errno. A descriptor a uv handle owns fails the test by name
 * (ah__fd_handle_owned), except for `call` "dup" and "fcntl" (decision 130). */
int ah__fd_dup_from(ah__fsock *fs, int fd, int min, int cloexec, const char *call, ah__site site);
void ah__fd_handle_owned(ah__fsock *fs, int fd, const char *call, ah__site site);
/* The deadline of a blocking call with a SO_RCVTIMEO/SO_SNDTIMEO of `ms` (0: UINT64_MAX). */
uint64_t ah__fd_deadline(const ah__fsock *fs, int ms);
/* A blocking call of the test body returns: under exploration, the flows due at this instant may
 * run first (a choice, default no). */
void ah__fd_body_resumes(ah_sim *sim);
/* Watchers or a blocking call came or went: what arrives for `fs` may now keep its loop alive. */
void ah__fd_rearm(ah__fsock *fs);
/* Waits, running the sim, until pred(fs) holds or `deadline_ns` passes (UINT64_MAX: none).
 * Returns 1 when pred holds, 0 at the deadline, -1 with errno EINTR when a signal interrupted it
 * (ah__fd_interrupt). A blocking call inside a loop callback that the sim cannot satisfy
 * without running the loop fails the test naming `call`. */
int ah__fd_block(ah__fsock *fs, const char *call, int (*pred)(void *ctx), void *ctx,
                 uint64_t deadline_ns, ah__site site);

/* table.c: the socket calls of a descriptor that is not a socket answer ENOTSOCK (for ops). */
int ah__fd_notsock_addr(ah__fsock *fs, const ah__addr *a);
int ah__fd_notsock_shutdown(ah__fsock *fs, int how);
int ah__fd_notsock_name(ah__fsock *fs, int peer, ah__addr *out);
int ah__fd_notsock_getsockopt(ah__fsock *fs, int level, int name, void *val, socklen_t *len,
                              int *r);
int ah__fd_notsock_setsockopt(ah__fsock *fs, int level, int name, const void *val, socklen_t len,
                              int *r);
void ah__fd_nop(ah__fsock *fs);
/* Whether `call` ("recv", "sendmsg", ...) is a socket call rather than read/readv/write/writev. */
int ah__fd_sock_call(const char *call);
/* A uv_poll watcher reads `fs`, or a blocking call runs the sim: what is due keeps a loop alive. */
int ah__fd_waited(ah__fsock *fs);

/* real.c: the record of a real descriptor for uv_poll (made on first use), or NULL with *err
 * (UV_EBADF: no such descriptor; UV_EPERM: a regular file or directory, as epoll says). */
ah__fsock *ah__fd_real_watch(ah_sim *sim, int fd, ah__site site, int *err);
/* real.c: a real descriptor, not a uv handle's, that the sim also waits on when nothing simulated
 * is left (proc/'s pipe written by the real handlers of a forked child's uv_signal_t). `wanted`
 * says whether something waits on it now (and, with `b`, appends "  - what\n" lines for the
 * report); `ready` takes what came, at the poll that observed the descriptor readable, before
 * that poll's events are delivered. The struct must outlive the sim's use of it. */
typedef struct ah__real_wake {
    int fd;
    int (*wanted)(ah_sim *sim, ah__buf *b);
    void (*ready)(ah_sim *sim);
} ah__real_wake;
void ah__fd_real_wake_set(ah_sim *sim, ah__real_wake *w);
/* real.c: the record is no longer used by the handle that adopted it (its descriptor was closed):
 * it goes once no watcher is left. */
void ah__fd_real_forget(ah__fsock *fs);
/* poll.c: ah__fd_watch for a descriptor record, fake or real. */
ah__fpoll *ah__fd_watch_fs(uv_handle_t *h, ah__fsock *fs, short events,
                           void (*io)(ah__fpoll *, int), void *ctx);
/* realstream.c: uv_pipe_open / uv_tcp_open of a real descriptor (stream.c's checks done):
 * 0 or a UV_ error, as libuv's. */
int ah__fd_real_stream_open(uv_stream_t *st, ah__sock *s, int fd, int tcp, const char *fn,
                            ah__site site);
/* materialize.c: just before a fork, the fake pipes and AF_UNIX socketpairs whose ends are plain
 * descriptors of the program become real ones under the same numbers, with their unread bytes;
 * uv_poll watchers follow them. */
void ah__fd_materialize(ah_sim *sim);
/* The one fake pipe or AF_UNIX socketpair `fd` belongs to becomes the kernel's, as at a fork, when
 * both its ends are plain descriptors of the program with one number each (or closed). Returns 1
 * when it did, 0 when `fd` is not such an object (it stays fake). */
int ah__fd_materialize_fd(ah_sim *sim, int fd);
/* realudp.c: uv_udp_open of a real descriptor: 0 or a UV_ error, as libuv's. */
int ah__fd_real_udp_open(uv_udp_t *h, int fd, ah__site site);
/* realudp.c: uv_udp_open of a stream socket the sim made (`fs`, its number `fd`): adopted as libuv
 * does, its sends answered as the kernel answers a datagram on a stream socket. */
int ah__fd_fake_udp_open(uv_udp_t *h, ah__fsock *fs, int fd);
/* realstream.c: the stream's descriptor is closed (uv_close). */
void ah__fd_real_stream_close(ah__sock *s);

/* socket.c */
short ah__fd_revents(ah__fsock *fs); /* what poll(2) would report now, every POLL* bit */
/* Two fake AF_UNIX stream sockets connected to each other (socketpair; pipe.c's pipes), made by
 * `call` at `site`; SOCK_NONBLOCK / SOCK_CLOEXEC in `flags`. Returns 0, or -1 with errno set. */
int ah__fd_pair(ah_sim *sim, int flags, const char *call, ah__site site, ah__fsock *fs[2]);
/* What is due to `fs` by now arrives (bytes, a FIN, a reset), as a kernel receives it. */
void ah__fd_catch_up(ah__fsock *fs);
/* EPIPE, and SIGPIPE as Linux raises it unless MSG_NOSIGNAL is in `flags` (decision 33). */
int ah__fd_epipe(ah__fsock *fs, int flags, const char *call, ah__site site);
void ah__fd_sock_close(ah__fsock *fs);
/* `fs` (a plain socket, AH__FK_SOCK) becomes end `side` of the connection `c`. */
void ah__fd_sock_attach(ah__fsock *fs, ah__conn *c, int side);
/* SCM_RIGHTS (socket.c; unixdgram.c too). The fake descriptors passed in `msg` become numbers of
 * their open objects that the program does not know, in `held` (AH__FD_MAX_RIGHTS at most):
 * their count, or -1 with errno. A real descriptor, a handle's, or ancillary data other than
 * SCM_RIGHTS fails the test naming the call. */
enum { AH__FD_MAX_RIGHTS = 253 }; /* SCM_MAX_FD */
int ah__fd_rights_hold(ah__fsock *fs, int fd, const struct msghdr *msg, ah__site site, int *held);
void ah__fd_rights_drop(const int *fds, int n); /* closes the held numbers */
/* The receiver takes `fds` (held numbers, now its own): the lowest free numbers in an SCM_RIGHTS
 * message of msg's control buffer, the rest closed with MSG_CTRUNC (msg_flags is or-ed). */
void ah__fd_rights_put(struct msghdr *msg, int *fds, int nfds, int flags, ah__site site);
/* The socket's address conversions: 0 or a positive errno. */
int ah__fd_addr_in(const ah__fsock *fs, const struct sockaddr *sa, socklen_t len, ah__addr *a);
void ah__fd_addr_out(const ah__fsock *fs, const ah__addr *a, struct sockaddr *sa, socklen_t *len);
int ah__fd_fail_errno(int e); /* sets errno, returns -1 */
/* getsockopt's answer of an int option: 0, or -1 with EINVAL for a short buffer. */
int ah__fd_int_out(void *val, socklen_t *len, int v);
/* Makes `fs` (a fresh SOCK_DGRAM socket of AF_INET or AF_INET6) a UDP socket: set by dgram.c,
 * which socket.c must not depend on. Returns 0 or a positive errno. */
extern int (*ah__fd_dgram_open)(ah__fsock *fs);
/* socketpair(AF_UNIX, SOCK_DGRAM or SOCK_SEQPACKET): set by unixdgram.c. Returns 0, or -1 with
 * errno set. */
extern int (*ah__fd_msgpair_open)(ah_sim *sim, int type, int flags, ah__site site, int sv[2]);

/* tty.c: ioctl requests on a fake terminal; returns 1 and sets *r when it answered `req`. Set by
 * tty.c when it makes a terminal (socket.c's ioctl calls it, and must not depend on tty.c). */
extern int (*ah__fd_tty_ioctl_hook)(ah__fsock *fs, unsigned long req, void *arg, int *r);

/* table.c: the watchers' state. poll.c owns what a watcher does and sets the hook when it makes
 * one, so that the table and the sockets below it never call up into poll.c. */
void ah__fd_changed(ah__fsock *fs); /* readiness may have changed: wake the watchers */
/* "the read end of pipe 5 (pipe in main (t.c:10))": what `fs` is, for reports. */
const char *ah__fd_str(const ah__fsock *fs, char *buf, size_t n);
uv_loop_t *ah__fd_loop(ah__fsock *fs); /* the loop of its first watcher, else the default */
void ah__fpoll_detach(ah__fpoll *p);   /* the descriptor is closed under its watcher */
void ah__fpoll_free_all(ah__fdstate *st);
extern void (*ah__fpoll_notify_hook)(ah__fpoll *p);
/* socket.c: a blocking read of the program on a real descriptor (one the sim did not make) calls
 * this first when set (world/ sets it): an owner of a world of processes runs the world until
 * `fd` is ready, since only a process of the world may make it so (docs/world.md). */
extern void (*ah__fd_real_block_hook)(int fd, short events, const char *call, const void *ret);

#endif
