/* Waiting on fake descriptors: uv_poll_t (libuv 1.44's src/unix/poll.c and the epoll dispatch of
 * linux-core.c: level-triggered, POLLERR stops the handle with UV_EBADF) and libc's poll, ppoll
 * and select, whose blocking forms wait in virtual time. */
#define _GNU_SOURCE 1 /* RTLD_NEXT, POLLRDHUP, ppoll */
#include "internal_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_poll = 0;

static void fpoll_fire(ah__event *ev);
static void watch_io(ah__fpoll *p, int revents);

static ah__fpoll *fpoll_of(const uv_poll_t *h)
{
    return ah__qslot_get(&h->io_watcher.watcher_queue, 0);
}

/* ---- uv_poll_t ---- */

static void fpoll_stop(ah__fpoll *p)
{
    ah__event_cancel(&p->ev);
    if (p->handle != NULL)
        ah__handle_stop((uv_handle_t *)p->handle);
    if (p->fs != NULL)
        ah__fd_rearm(p->fs);
}

/* What epoll reports for the watcher now (linux-core.c's uv__io_poll), or 0. */
static int fpoll_events(ah__fpoll *p)
{
    int r;

    if (p->fs == NULL)
        return 0;
    r = ah__fd_revents(p->fs) & (p->events | POLLERR | POLLHUP);
    /* libuv merges the watched events into a lone POLLERR or POLLHUP. */
    if (r == POLLERR || r == POLLHUP)
        r |= p->events & (POLLIN | POLLOUT | POLLRDHUP | POLLPRI);
    return r;
}

static int fpoll_live(const ah__fpoll *p)
{
    return p->handle != NULL && (p->always || ah__is_active((const uv_handle_t *)p->handle)) &&
           !ah__is_closing((const uv_handle_t *)p->handle);
}

static void fpoll_schedule(ah__fpoll *p)
{
    if (p->fs == NULL || ah__event_scheduled(&p->ev) || p->ev.batch_index != 0)
        return;
    p->ev.flags = 0; /* the active handle keeps its loop alive, as libuv's does */
    ah__event_schedule(p->handle->loop, &p->ev, p->fs->sim->clock.now_ns);
}

/* libuv's uv__poll_io. */
static void fpoll_io(ah__fpoll *p)
{
    uv_poll_t *h = p->handle;
    ah_sim *sim;
    int r, pev = 0;

    if (!fpoll_live(p) || (r = fpoll_events(p)) == 0)
        return;
    sim = p->fs->sim;
    if (p->io != NULL) {
        watch_io(p, r);
        return;
    }
    if ((r & POLLERR) && !(r & POLLPRI)) {
        fpoll_stop(p);
        AH__DISPATCH(sim, h, "poll_cb", h->poll_cb(h, UV_EBADF, 0));
        return;
    }
    if (r & POLLIN)
        pev |= UV_READABLE;
    if (r & POLLPRI)
        pev |= UV_PRIORITIZED;
    if (r & POLLOUT)
        pev |= UV_WRITABLE;
    if (r & POLLRDHUP)
        pev |= UV_DISCONNECT;
    AH__DISPATCH(sim, h, "poll_cb", h->poll_cb(h, 0, pev));
    /* Level-triggered: still ready, epoll reports it again in the next poll. */
    if (fpoll_live(p) && fpoll_events(p) != 0)
        fpoll_schedule(p);
}

static void fpoll_fire(ah__event *ev) { fpoll_io(ah__container_of(ev, ah__fpoll, ev)); }

static void fpoll_notify(ah__fpoll *p)
{
    ah_sim *sim;

    if (!fpoll_live(p) || fpoll_events(p) == 0)
        return;
    sim = p->fs->sim;
    /* Readiness that arrives in this loop's poll is reported by the same epoll_wait; otherwise
     * (a change made by a callback, or on another loop) in the loop's next poll. */
    if (ah__lp(p->handle->loop)->batch_len != 0 && sim->in_callback == 0 && !p->fs->catching_up &&
        !ah__event_scheduled(&p->ev) && p->ev.batch_index == 0)
        fpoll_io(p);
    else
        fpoll_schedule(p);
}

/* A new watcher joins its descriptor's and the sim's lists; the table below reaches it through
 * the notify hook. */
static void fpoll_link(ah__fpoll *p, ah__fsock *fs)
{
    ah__fpoll_notify_hook = fpoll_notify;
    ah__list_insert_tail(&fs->polls, &p->link);
    ah__list_insert_tail(&ah__fd_state(fs->sim)->all_polls, &p->all_link);
}

static void fpoll_close(uv_handle_t *h)
{
    ah__fpoll *p = fpoll_of((uv_poll_t *)h);
    if (p != NULL)
        fpoll_stop(p);
}

static void fpoll_destroy(uv_handle_t *h)
{
    ah__fpoll *p = fpoll_of((uv_poll_t *)h);

    if (p == NULL)
        return;
    ah__event_cancel(&p->ev);
    ah__list_remove(&p->link);
    ah__list_remove(&p->all_link);
    ah__qslot_set(&((uv_poll_t *)h)->io_watcher.watcher_queue, 0, NULL);
    ah__free(p);
}

/* ---- watchers for other rooms ---- */

ah__fpoll *ah__fd_watch(uv_handle_t *h, int fd, short events, void (*io)(ah__fpoll *, int),
                        void *ctx)
{
    ah__fsock *fs = ah__fd_get(fd);

    if (fs == NULL)
        return NULL;
    return ah__fd_watch_fs(h, fs, events, io, ctx);
}

ah__fpoll *ah__fd_watch_fs(uv_handle_t *h, ah__fsock *fs, short events,
                           void (*io)(ah__fpoll *, int), void *ctx)
{
    int fd = fs->fd;
    ah__fpoll *p;

    p = ah__calloc(1, sizeof(*p));
    p->handle = (uv_poll_t *)h; /* only its loop, active and closing flags are read */
    p->io = io;
    p->io_ctx = ctx;
    p->fs = fs;
    p->fd = fd;
    p->events = events;
    p->ev.fire = fpoll_fire;
    p->ev.what = "descriptor readiness";
    p->ev.owner = h;
    fpoll_link(p, fs);
    ah__fd_rearm(fs);
    if (fpoll_events(p) != 0)
        fpoll_schedule(p);
    return p;
}

void *ah__fd_watch_ctx(const ah__fpoll *p) { return p->io_ctx; }

/* The owner's io, then level-triggered: again at the next poll while still ready. The owner may
 * unwatch from io: the watcher is freed when io returns. */
static void watch_io(ah__fpoll *p, int revents)
{
    p->in_io = 1;
    p->io(p, revents);
    p->in_io = 0;
    if (p->handle == NULL) {
        ah__free(p);
        return;
    }
    if (fpoll_live(p) && fpoll_events(p) != 0)
        fpoll_schedule(p);
}

void ah__fd_unwatch(ah__fpoll *p)
{
    if (p == NULL)
        return;
    ah__event_cancel(&p->ev);
    ah__list_remove(&p->link);
    ah__list_remove(&p->all_link);
    p->fs = NULL;
    p->handle = NULL;
    if (!p->in_io)
        ah__free(p);
}

int ah__fd_is_fake(int fd) { return ah__fd_get(fd) != NULL; }

int uv_poll_init(uv_loop_t *loop, uv_poll_t *h, int fd)
{
    ah__site site = AH__CALLER("uv_poll_init");
    ah_sim *sim = ah__loop_sim(loop, "uv_poll_init");
    ah__fsock *fs = ah__fd_get(fd);
    ah__fpoll *p;
    ah__list *q;
    AH__REAL(fcntl);

    if (h == NULL)
        ah__fail(sim, "uv_poll_init: called with a NULL handle");
    if (fs == NULL) {
        int err;
        if (real_fcntl(fd, F_GETFD) == -1)
            return UV_EBADF;
        /* A real descriptor: the kernel is asked for its readiness (real.c). */
        if ((fs = ah__fd_real_watch(sim, fd, site, &err)) == NULL)
            return err;
    }
    if (fs->kind == AH__FK_STREAM)
        return UV_EEXIST; /* libuv's stream already watches it */
    for (q = fs->polls.next; q != &fs->polls; q = q->next) {
        ah__fpoll *o = ah__container_of(q, ah__fpoll, link);
        if (o->handle != NULL && o->handle->loop == loop && ah__is_active((uv_handle_t *)o->handle))
            return UV_EEXIST;
    }
    fs->nonblock = 1; /* uv__nonblock */
    if (fs->kind == AH__FK_REAL)
        real_fcntl(fd, F_SETFL, real_fcntl(fd, F_GETFL) | O_NONBLOCK);
    ah__close_hooks[UV_POLL] = fpoll_close;
    ah__finish_close_hooks[UV_POLL] = fpoll_destroy;
    ah__handle_init(loop, (uv_handle_t *)h, UV_POLL, site);
    memset(&h->io_watcher, 0, sizeof(h->io_watcher));
    h->io_watcher.fd = fd;
    h->poll_cb = NULL;
    p = ah__calloc(1, sizeof(*p));
    p->handle = h;
    p->fs = fs;
    p->fd = fd;
    p->ev.fire = fpoll_fire;
    p->ev.what = "poll readiness";
    p->ev.owner = h;
    fpoll_link(p, fs);
    ah__qslot_set(&h->io_watcher.watcher_queue, 0, p);
    snprintf(((ah__hrec *)h->u.reserved[0])->label, sizeof(((ah__hrec *)h->u.reserved[0])->label),
             "poll fd %d", fd);
    return 0;
}

int uv_poll_init_socket(uv_loop_t *loop, uv_poll_t *h, uv_os_sock_t sock)
{
    return uv_poll_init(loop, h, sock);
}

static ah__fpoll *poll_check(uv_poll_t *h, const char *fn)
{
    ah__hrec *r = ah__handle_rec((uv_handle_t *)h, fn);
    char b[320];

    if (h->type != UV_POLL)
        ah__fail(ah__sim(), "%s on %s, which is not a uv_poll_t", fn,
                 ah__handle_str(r, b, sizeof(b)));
    if (ah__is_closing((uv_handle_t *)h))
        ah__fail(ah__sim(), "%s on %s, which is closing (libuv asserts on this)", fn,
                 ah__handle_str(r, b, sizeof(b)));
    return fpoll_of(h);
}

/* Another uv_poll_t of the same loop is active on p's descriptor. */
static int other_poll_active(const ah__fpoll *p)
{
    ah__list *q;

    for (q = p->fs->polls.next; q != &p->fs->polls; q = q->next) {
        ah__fpoll *o = ah__container_of(q, ah__fpoll, link);
        if (o != p && o->handle != NULL && o->handle->loop == p->handle->loop &&
            ah__is_active((uv_handle_t *)o->handle))
            return 1;
    }
    return 0;
}

int uv_poll_start(uv_poll_t *h, int events, uv_poll_cb cb)
{
    ah__site site = AH__CALLER("uv_poll_start");
    ah__fpoll *p = poll_check(h, "uv_poll_start");
    char b[320];

    if (p->fs != NULL)
        ah__fd_fork_check(p->fs, "uv_poll_start");
    if (events & ~(UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED))
        ah__fail(ah__sim(), "uv_poll_start on %s with unknown event bits %#x (libuv asserts)",
                 ah__handle_str(h->u.reserved[0], b, sizeof(b)), (unsigned)events);
    if (AH__UV_POLL_START_EEXIST && p->fs != NULL && other_poll_active(p))
        return UV_EEXIST; /* libuv's uv__fd_exists: another watcher of the loop has the fd */
    fpoll_stop(p);
    if (events == 0)
        return 0;
    p->events = 0;
    if (events & UV_READABLE)
        p->events |= POLLIN;
    if (events & UV_WRITABLE)
        p->events |= POLLOUT;
    if (events & UV_DISCONNECT)
        p->events |= POLLRDHUP;
    if (events & UV_PRIORITIZED)
        p->events |= POLLPRI;
    ah__handle_start((uv_handle_t *)h);
    h->poll_cb = cb;
    ((ah__hrec *)h->u.reserved[0])->start_site = site;
    if (p->fs != NULL) {
        ah__fd_rearm(p->fs);
        if (fpoll_events(p) != 0)
            fpoll_schedule(p); /* the next poll reports what is ready already */
    }
    return 0;
}

int uv_poll_stop(uv_poll_t *h)
{
    AH__ENTRY("uv_poll_stop");
    fpoll_stop(poll_check(h, "uv_poll_stop"));
    return 0;
}

/* ---- poll(2), ppoll(2), select(2) ---- */

typedef struct wait_ctx {
    struct pollfd *fds;
    nfds_t n;
    int ready;
} wait_ctx;

/* Fills every revents: fake descriptors from the sim, real ones from a poll that does not wait.
 * Returns the number ready. */
static int poll_now(struct pollfd *fds, nfds_t n)
{
    AH__REAL(poll);
    nfds_t i;
    int ready = 0;

    for (i = 0; i < n; i++) {
        ah__fsock *fs = ah__fd_get(fds[i].fd);
        if (fds[i].fd < 0) {
            fds[i].revents = 0;
        } else if (fs != NULL) {
            fds[i].revents =
                (short)(ah__fd_revents(fs) & (fds[i].events | POLLERR | POLLHUP | POLLNVAL));
        } else {
            struct pollfd one = fds[i];
            one.revents = 0;
            if (real_poll(&one, 1, 0) < 0)
                one.revents = POLLNVAL;
            fds[i].revents = one.revents;
        }
        if (fds[i].revents != 0)
            ready++;
    }
    return ready;
}

static int any_ready(void *ctx)
{
    wait_ctx *w = ctx;
    w->ready = poll_now(w->fds, w->n);
    return w->ready > 0;
}

static ah__fsock *first_fake(const struct pollfd *fds, nfds_t n)
{
    nfds_t i;
    ah__fsock *fs;

    if (ah_sim_current() == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        if ((fs = ah__fd_get(fds[i].fd)) != NULL)
            return fs;
    return NULL;
}

/* `timeout_ns`: UINT64_MAX waits forever. */
static int poll_fake(ah__fsock *fs, struct pollfd *fds, nfds_t n, uint64_t timeout_ns,
                     const char *call, ah__site site)
{
    wait_ctx w;
    uint64_t now = fs->sim->clock.now_ns;

    w.fds = fds;
    w.n = n;
    w.ready = 0;
    if (any_ready(&w) || timeout_ns == 0)
        return w.ready;
    if (ah__fd_block(fs, call, any_ready, &w,
                     timeout_ns == UINT64_MAX ? UINT64_MAX : now + timeout_ns, site) < 0)
        return -1; /* EINTR: poll and select are never restarted */
    return poll_now(fds, n);
}

AH__LIBC(poll, 9, AH__LIBC_FD);
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    AH__REAL(poll);
    ah__fsock *fs = first_fake(fds, n);

    if (fs == NULL)
        return real_poll(fds, n, timeout);
    return poll_fake(fs, fds, n, timeout < 0 ? UINT64_MAX : (uint64_t)timeout * AH__NS_PER_MS,
                     "poll", AH__CALLER("poll"));
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
AH__LIBC(__poll_chk, 15, AH__LIBC_FD);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    AH__REAL(__poll_chk);
    if (first_fake(fds, n) == NULL)
        return real___poll_chk(fds, n, timeout, fdslen);
    if (fdslen / sizeof(*fds) < n)
        abort();
    return poll(fds, n, timeout);
}

AH__LIBC(ppoll, 10, AH__LIBC_FD);
int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask)
{
    AH__REAL(ppoll);
    ah__fsock *fs = first_fake(fds, n);

    if (fs == NULL)
        return real_ppoll(fds, n, tmo, mask);
    return poll_fake(fs, fds, n,
                     tmo == NULL ? UINT64_MAX
                                 : (uint64_t)tmo->tv_sec * 1000000000ULL + (uint64_t)tmo->tv_nsec,
                     "ppoll", AH__CALLER("ppoll"));
}

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask,
                size_t fdslen);
AH__LIBC(__ppoll_chk, 16, AH__LIBC_FD);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask,
                size_t fdslen)
{
    AH__REAL(__ppoll_chk);
    if (first_fake(fds, n) == NULL)
        return real___ppoll_chk(fds, n, tmo, mask, fdslen);
    if (fdslen / sizeof(*fds) < n)
        abort();
    return ppoll(fds, n, tmo, mask);
}

AH__LIBC(select, 11, AH__LIBC_FD);
int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    AH__REAL(select);
    struct pollfd fds[FD_SETSIZE];
    ah__fsock *fs = NULL, *f;
    nfds_t n = 0, i;
    uint64_t timeout_ns;
    int fd, count = 0;

    if (ah_sim_current() != NULL && nfds > 0 && nfds <= FD_SETSIZE)
        for (fd = 0; fd < nfds; fd++) {
            int want = (rd && FD_ISSET(fd, rd) ? POLLIN : 0) |
                       (wr && FD_ISSET(fd, wr) ? POLLOUT : 0) |
                       (ex && FD_ISSET(fd, ex) ? POLLPRI : 0);
            if (want == 0)
                continue;
            if ((f = ah__fd_get(fd)) != NULL && fs == NULL)
                fs = f;
            fds[n].fd = fd;
            fds[n].events = (short)want;
            fds[n].revents = 0;
            n++;
        }
    if (fs == NULL)
        return real_select(nfds, rd, wr, ex, tv);
    timeout_ns = tv == NULL ? UINT64_MAX
                            : (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000;
    if (poll_fake(fs, fds, n, timeout_ns, "select", AH__CALLER("select")) < 0)
        return -1; /* EINTR; the sets are left as they were */
    if (rd)
        FD_ZERO(rd);
    if (wr)
        FD_ZERO(wr);
    if (ex)
        FD_ZERO(ex);
    for (i = 0; i < n; i++) {
        short r = fds[i].revents;
        if (rd && (r & (POLLIN | POLLHUP | POLLERR))) {
            FD_SET(fds[i].fd, rd);
            count++;
        }
        if (wr && (r & (POLLOUT | POLLERR))) {
            FD_SET(fds[i].fd, wr);
            count++;
        }
        if (ex && (r & POLLPRI)) {
            FD_SET(fds[i].fd, ex);
            count++;
        }
    }
    if (tv != NULL && count == 0)
        tv->tv_sec = tv->tv_usec = 0;
    return count;
}
