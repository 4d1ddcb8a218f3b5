/* The rest of the OS surface the room covers: uv_tty_t (init, modes, window size) on real
 * descriptors, uv_random (deterministic from the sim's seed), uv_loop_fork. uv_guess_handle,
 * uv_tty_set/get_vterm_state and the uv_os_* helpers take no loop or handle: the real libuv
 * serves them. */
#define _GNU_SOURCE 1 /* POLLRDHUP */
#include "internal_proc.h"

#include "../fd/tty.h"
#include "../threads/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* ---- ttys ---- */

static void *tty_state_new(ah__pstate *ps, uv_stream_t *st);

/* libuv's UV_HANDLE_BLOCKING_WRITES (src/uv-common.h, the same bit from 1.40 to 1.50), a bit the
 * harness's own handle flags leave free. */
#define AH__TTY_BLOCKING_WRITES 0x00100000u

/* uv_tty_reset_mode restores the first tty whose mode was changed, as libuv does. */
static struct termios orig_termios;
static int orig_termios_fd = -1;

/* libuv's uv_tty_init on a terminal: a slave's path is opened again and the new description
 * dup2'ed over `fd`. Returns the new descriptor, -1 when it kept `fd` (a master, no path), or a
 * negative libuv error. */
static int reopen_tty(int fd, int mode)
{
    char path[256];
    unsigned int ptn;
    int r;

    if (ioctl(fd, TIOCGPTN, &ptn) == 0) /* a pty master: uv__tty_is_slave says no */
        return -1;
    if (ttyname_r(fd, path, sizeof(path)) != 0)
        return -1;
    do
        r = open(path, mode | O_NOCTTY | O_CLOEXEC);
    while (r == -1 && errno == EINTR);
    if (r < 0)
        return -1;
    if (dup3(r, fd, O_CLOEXEC) < 0 && errno != EINVAL) {
        int e = errno;
        close(r);
        return -e;
    }
    return r;
}

int uv_tty_init(uv_loop_t *loop, uv_tty_t *tty, int fd, int unused)
{
    ah__site site = AH__CALLER("uv_tty_init");
    ah_sim *sim = ah__loop_sim(loop, "uv_tty_init");
    uv_stream_t *st = (uv_stream_t *)tty;
    uv_handle_type type;
    int fl, mode, blocking;

    (void)unused;
    if (tty == NULL)
        ah__fail(sim, "uv_tty_init: called with a NULL handle");
    ah__pstate_get(sim);
    type = ah__fd_guess_handle(fd); /* not uv_guess_handle: it would take its own site */
    if (type == UV_FILE || type == UV_UNKNOWN_HANDLE)
        return UV_EINVAL;
    do
        fl = fcntl(fd, F_GETFL);
    while (fl == -1 && errno == EINTR);
    if (fl == -1)
        return -errno;
    mode = fl & O_ACCMODE;
    /* A fake descriptor (ah_tty_open, a fake socket) is made non-blocking, as libuv's
     * uv__nonblock. A real terminal is reopened as libuv does (a slave's path reopened, the new
     * description dup2'ed over `fd`, the handle owning the new descriptor, which uv_close
     * closes), but left blocking, so the test runner's own output never meets EAGAIN. */
    blocking = 0;
    if (ah__fd_is_fake(fd)) {
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        blocking = type == UV_TTY; /* libuv finds no path to reopen */
    } else if (type == UV_TTY) {
        int newfd = reopen_tty(fd, mode);
        if (newfd < -1)
            return newfd;
        if (newfd >= 0)
            fd = newfd;
        blocking = newfd == -1;
    }
    ah__handle_init(loop, (uv_handle_t *)tty, UV_TTY, site);
    st->read_cb = NULL;
    st->alloc_cb = NULL;
    st->connect_req = NULL;
    st->shutdown_req = NULL;
    st->connection_cb = NULL;
    st->accepted_fd = -1;
    st->delayed_error = 0;
    st->write_queue_size = 0;
    st->queued_fds = tty_state_new(ah__pstate_get(sim), st);
    memset(&st->io_watcher, 0, sizeof(st->io_watcher));
    st->io_watcher.fd = fd;
    ah__list_init(ah__qlist(st->write_queue));
    ah__list_init(ah__qlist(st->write_completed_queue));
    if (mode != O_WRONLY)
        tty->flags |= AH__SF_READABLE;
    if (mode != O_RDONLY)
        tty->flags |= AH__SF_WRITABLE;
    /* libuv's UV_HANDLE_BLOCKING_WRITES, which code (libuv's test tty_pty) reads to learn
     * whether the terminal was reopened: set for a terminal it could not reopen (a pty master). */
    if (blocking && mode != O_RDONLY)
        tty->flags |= AH__TTY_BLOCKING_WRITES;
    tty->mode = UV_TTY_MODE_NORMAL;
    return 0;
}

static uv_tty_t *tty_of(uv_tty_t *tty, const char *fn)
{
    ah__hrec *r = ah__handle_rec((uv_handle_t *)tty, fn);
    char b[320];

    if (tty->type != UV_TTY)
        ah__fail(ah__sim(), "%s on %s, which is not a uv_tty_t", fn,
                 ah__handle_str(r, b, sizeof(b)));
    return tty;
}

int uv_tty_set_mode(uv_tty_t *tty, uv_tty_mode_t mode)
{
    AH__ENTRY("uv_tty_set_mode");
    struct termios t;
    int fd, rc;

    tty_of(tty, "uv_tty_set_mode");
    if (tty->mode == (int)mode)
        return 0;
    fd = tty->io_watcher.fd;
    if (tty->mode == UV_TTY_MODE_NORMAL && mode != UV_TTY_MODE_NORMAL) {
        do
            rc = tcgetattr(fd, &tty->orig_termios);
        while (rc == -1 && errno == EINTR);
        if (rc == -1)
            return -errno;
        if (orig_termios_fd == -1) {
            orig_termios = tty->orig_termios;
            orig_termios_fd = fd;
        }
    }
    t = tty->orig_termios;
    if (mode == UV_TTY_MODE_RAW) {
        t.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
        t.c_oflag |= ONLCR;
        t.c_cflag |= CS8;
        t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
    } else if (mode == UV_TTY_MODE_IO) {
        cfmakeraw(&t);
    }
    do
        rc = tcsetattr(fd, TCSADRAIN, &t);
    while (rc == -1 && errno == EINTR);
    if (rc == -1)
        return -errno;
    tty->mode = mode;
    return 0;
}

int uv_tty_reset_mode(void)
{
    int saved = errno, rc = 0;

    if (orig_termios_fd != -1 && tcsetattr(orig_termios_fd, TCSANOW, &orig_termios) == -1)
        rc = -errno;
    errno = saved;
    return rc;
}

int uv_tty_get_winsize(uv_tty_t *tty, int *width, int *height)
{
    AH__ENTRY("uv_tty_get_winsize");
    struct winsize ws;
    int rc;

    tty_of(tty, "uv_tty_get_winsize");
    do
        rc = ioctl(tty->io_watcher.fd, TIOCGWINSZ, &ws);
    while (rc == -1 && errno == EINTR);
    if (rc == -1)
        return -errno;
    *width = ws.ws_col;
    *height = ws.ws_row;
    return 0;
}

/* Per-tty state (in the stream's queued_fds, as streams keep theirs): the pending-queue entry
 * that runs completed writes' callbacks, as libuv's uv__io_feed. */
typedef struct tty_state {
    ah__list link; /* pstate->ttys: freed with the sim if never closed */
    ah__pending pend;
    uv_stream_t *st;
    struct ah__fpoll *watch; /* reading a fake terminal (fd/tty.h) */
} tty_state;

static void tty_callbacks(uv_stream_t *st, int closing)
{
    ah_sim *sim = ah__lp(st->loop)->sim;
    ah__list *q = ah__qlist(st->write_completed_queue);
    uv_write_t *req;

    (void)closing;
    while (!ah__list_empty(q)) {
        req = ah__container_of((void *)q->next, uv_write_t, queue);
        ah__list_remove(ah__qlist(req->queue));
        ah__req_end((uv_req_t *)req);
        if (req->cb != NULL)
            AH__DISPATCH(sim, st, "write_cb", req->cb(req, req->error));
    }
}

static void tty_pend_run(ah__pending *p)
{
    tty_state *ts = ah__container_of(p, tty_state, pend);
    tty_callbacks(ts->st, 0);
}

static void *tty_state_new(ah__pstate *ps, uv_stream_t *st)
{
    tty_state *ts = ah__calloc(1, sizeof(*ts));

    ts->st = st;
    ts->pend.run = tty_pend_run;
    ah__list_init(&ts->pend.link);
    ah__list_insert_tail(&ps->ttys, &ts->link);
    return ts;
}

/* write(2) of every buffer to the real descriptor, waiting while it would block (libuv's tty
 * writes are blocking ones). Returns the bytes written or a UV_ error. */
static ssize_t tty_write_all(int fd, const uv_buf_t *bufs, unsigned nbufs)
{
    size_t total = 0, off;
    unsigned i;
    ssize_t w;

    for (i = 0; i < nbufs; i++)
        for (off = 0; off < bufs[i].len;) {
            w = write(fd, bufs[i].base + off, bufs[i].len - off);
            if (w < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (w < 0)
                return total > 0 ? (ssize_t)total : -errno;
            off += (size_t)w;
            total += (size_t)w;
        }
    return (ssize_t)total;
}

static int tty_write(uv_write_t *req, uv_stream_t *st, const uv_buf_t bufs[], unsigned nbufs,
                     uv_write_cb cb, const char *fn, ah__site site)
{
    ah__hrec *r = ah__handle_rec((uv_handle_t *)st, fn);
    ah_sim *sim = ah__lp(st->loop)->sim;
    tty_state *ts = st->queued_fds;
    ssize_t n;
    char b[320];

    if (nbufs == 0)
        ah__fail(sim, "%s on %s with nbufs == 0 (libuv asserts on this)", fn,
                 ah__handle_str(r, b, sizeof(b)));
    if (st->io_watcher.fd < 0)
        return UV_EBADF;
    if (!(st->flags & AH__SF_WRITABLE))
        return UV_EPIPE;
    n = tty_write_all(st->io_watcher.fd, bufs, nbufs);
    if (req == NULL)
        return (int)n;
    ah__req_require_idle(req, fn, site);
    ah__req_begin(st->loop, (uv_req_t *)req, UV_WRITE, fn, site);
    req->cb = cb;
    req->handle = st;
    req->send_handle = NULL;
    req->bufs = NULL;
    req->nbufs = nbufs;
    req->write_index = nbufs;
    req->error = n < 0 ? (int)n : 0;
    ah__list_init(ah__qlist(req->queue));
    ah__list_insert_tail(ah__qlist(st->write_completed_queue), ah__qlist(req->queue));
    if (ah__list_empty(&ts->pend.link))
        ah__pending_add(st->loop, &ts->pend);
    return 0;
}

void ah__tty_close(uv_handle_t *h)
{
    uv_stream_t *st = (uv_stream_t *)h;
    tty_state *ts = st->queued_fds;

    h->flags &= ~(unsigned)(AH__SF_READABLE | AH__SF_WRITABLE | AH__SF_READING);
    ah__handle_stop(h);
#if AH__UV_TTY_CLOSE_RESTORES
    /* uv__tty_close: the terminal whose modes uv_tty_reset_mode would restore gets them back. */
    if (st->io_watcher.fd != -1 && st->io_watcher.fd == orig_termios_fd) {
        tcsetattr(orig_termios_fd, TCSANOW, &orig_termios);
        orig_termios_fd = -1;
    }
#endif
    /* libuv's uv__stream_close closes a descriptor above stderr. */
    if (st->io_watcher.fd > STDERR_FILENO)
        close(st->io_watcher.fd);
    st->io_watcher.fd = -1;
    if (ts != NULL) {
        ah__fd_unwatch(ts->watch);
        ts->watch = NULL;
        ah__pending_remove(&ts->pend);
        ah__list_init(&ts->pend.link);
    }
}

/* ---- reading a fake terminal ---- */

/* libuv's uv__read for one readiness: up to 32 reads while the callback keeps reading, ending at
 * a short read; EOF stops reading (uv__stream_eof), EAGAIN gives read_cb a 0. */
static void tty_read_io(struct ah__fpoll *p, int revents)
{
    tty_state *ts = ah__fd_watch_ctx(p);
    uv_stream_t *st = ts->st;
    ah_sim *sim = ah__lp(st->loop)->sim;
    int count = 32;
    uv_buf_t buf;
    ssize_t n;

    (void)revents;
    while (st->read_cb != NULL && (st->flags & AH__SF_READING) && count-- > 0) {
        buf = uv_buf_init(NULL, 0);
        AH__DISPATCH(sim, st, "alloc_cb", st->alloc_cb((uv_handle_t *)st, 65536, &buf));
        if (buf.base == NULL || buf.len == 0) {
            AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, UV_ENOBUFS, &buf));
            return;
        }
        do
            n = read(st->io_watcher.fd, buf.base, buf.len);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, 0, &buf));
            return;
        }
        if (n <= 0) {
            int err = n == 0 ? UV_EOF : -errno;
            /* EOF and errors end the reading (libuv 1.42+ stops the handle too) */
            st->flags &= ~AH__SF_READING;
            ah__fd_unwatch(ts->watch);
            ts->watch = NULL;
            ah__handle_stop((uv_handle_t *)st);
            AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, err, &buf));
            return;
        }
        AH__DISPATCH(sim, st, "read_cb", st->read_cb(st, n, &buf));
        if ((size_t)n < buf.len)
            return;
    }
}

static int tty_read(uv_stream_t *st, uv_alloc_cb alloc_cb, uv_read_cb read_cb, ah__site site)
{
    ah__hrec *r = ah__handle_rec((uv_handle_t *)st, alloc_cb ? "uv_read_start" : "uv_read_stop");
    ah_sim *sim = ah__lp(st->loop)->sim;
    tty_state *ts = st->queued_fds;
    char b[320], where[160];

    if (alloc_cb == NULL) { /* uv_read_stop */
        if (!(st->flags & AH__SF_READING))
            return 0;
        st->flags &= ~AH__SF_READING;
        if (ts != NULL) {
            ah__fd_unwatch(ts->watch);
            ts->watch = NULL;
        }
        ah__handle_stop((uv_handle_t *)st);
        st->read_cb = NULL;
        st->alloc_cb = NULL;
        return 0;
    }
    if (ah__is_closing((uv_handle_t *)st) || ts == NULL)
        return UV_EINVAL;
    if (AH__UV_READ_START_EALREADY && (st->flags & AH__SF_READING))
        return UV_EALREADY;
    if (!(st->flags & AH__SF_READABLE))
        return UV_ENOTCONN;
    st->flags |= AH__SF_READING;
    st->read_cb = read_cb;
    st->alloc_cb = alloc_cb;
    r->start_site = site;
    ah__handle_start((uv_handle_t *)st);
    /* A real terminal (or descriptor) is read for real: the kernel is asked for its readiness
     * at each poll phase, and waited on only when nothing simulated is left (fd/real.c). */
    if (ts->watch == NULL && ah__fd_is_fake(st->io_watcher.fd))
        ts->watch =
            ah__fd_watch((uv_handle_t *)st, st->io_watcher.fd, POLLIN | POLLRDHUP, tty_read_io, ts);
    else if (ts->watch == NULL)
        ts->watch = ah__fd_watch_real((uv_handle_t *)st, st->io_watcher.fd, POLLIN, tty_read_io, ts,
                                      r->init_site);
    if (ts->watch == NULL)
        ah__fail(sim, "uv_read_start on %s in %s: its descriptor %d cannot be watched",
                 ah__handle_str(r, b, sizeof(b)), ah__site_str(&site, where, sizeof(where)),
                 st->io_watcher.fd);
    return 0;
}

/* The closing phase, before close_cb: writes already done get their callbacks (uv__stream_destroy
 * runs uv__write_callbacks). */
static void tty_destroy(uv_handle_t *h)
{
    uv_stream_t *st = (uv_stream_t *)h;
    tty_state *ts = st->queued_fds;

    tty_callbacks(st, 1);
    if (ts != NULL) {
        ah__list_remove(&ts->link);
        ah__free(ts);
    }
    st->queued_fds = NULL;
}

void ah__tty_hooks_install(void)
{
    ah__tty_write_hook = tty_write;
    ah__tty_read_hook = tty_read;
    ah__finish_close_hooks[UV_TTY] = tty_destroy;
}

void ah__tty_free_all(ah__pstate *st)
{
    while (!ah__list_empty(&st->ttys)) {
        tty_state *ts = ah__container_of(st->ttys.next, tty_state, link);
        ah__list_remove(&ts->link);
        if (ts->st != NULL && ts->st->queued_fds == ts)
            ts->st->queued_fds = NULL;
        ah__free(ts);
    }
}

/* ---- uv_random ---- */

/* splitmix64: the same bytes for the same seed and the same sequence of calls. */
static void random_fill(ah__pstate *st, void *buf, size_t n)
{
    unsigned char *p = buf;
    uint64_t z;
    size_t k;

    while (n > 0) {
        z = (st->random_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        k = n < 8 ? n : 8;
        memcpy(p, &z, k);
        p += k;
        n -= k;
    }
}

/* libuv fills the buffer on a pool thread and answers in the loop's next poll; a request still
 * queued behind busy workers can be cancelled (uv_cancel: UV_ECANCELED, buffer untouched), as
 * libuv's test threadpool_cancel_random does. */
static void random_work(ah__job *job)
{
    uv_random_t *req = (uv_random_t *)job->req;

    random_fill(ah__pstate_get(ah__lp(job->loop)->sim), req->buf, req->buflen);
}

static void random_done(ah__job *job, int status)
{
    uv_random_t *req = (uv_random_t *)job->req;

    AH__DISPATCH(ah__lp(job->loop)->sim, NULL, "uv_random_cb",
                 req->cb(req, status, req->buf, req->buflen));
}

int uv_random(uv_loop_t *loop, uv_random_t *req, void *buf, size_t buflen, unsigned flags,
              uv_random_cb cb)
{
    ah__site site = AH__CALLER("uv_random");
    ah_sim *sim;

    if (buflen > 0x7FFFFFFFu)
        return UV_E2BIG;
    if (flags != 0)
        return UV_EINVAL;
    if (cb == NULL) {
        random_fill(ah__pstate_get(ah__sim()), buf, buflen);
        return 0;
    }
    sim = ah__loop_sim(loop, "uv_random");
    if (req == NULL)
        ah__fail(sim, "uv_random: called with a NULL request");
    ah__req_require_idle(req, "uv_random", site);
    ah__req_begin(loop, (uv_req_t *)req, UV_RANDOM, "uv_random", site);
    req->loop = loop;
    req->status = 0;
    req->cb = cb;
    req->buf = buf;
    req->buflen = buflen;
    ah__job_submit(loop, (uv_req_t *)req, "uv_random", random_work, random_done, 0, site);
    return 0;
}

/* ---- uv_loop_fork ---- */

/* libuv re-creates the kernel state a forked child cannot share (epoll, the signal pipe). The sim
 * has none: the child's copy of the sim goes on from the same instant, and its real children and
 * passthrough handlers are the parent's. */
int uv_loop_fork(uv_loop_t *loop)
{
    AH__ENTRY("uv_loop_fork");
    ah__loop_sim(loop, "uv_loop_fork");
    return 0;
}
