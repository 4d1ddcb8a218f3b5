/* Real descriptors the sim did not make (inherited, opened before the sim, kernel objects it does
 * not fake) under uv_poll: the kernel is asked for their readiness without waiting at every poll
 * phase of their loop, and their watchers run at the virtual instant the sim observes it. When
 * nothing simulated is left to run, the sim waits on them for real, up to the sim's
 * real_fd_wait_ms (AH_REAL_FD_WAIT_MS, 3 s by default), then fails the test listing each one, what
 * it waits for and where it was adopted. Such events arrive at real instants mapped onto the
 * virtual timeline, so a test that uses them is only as repeatable as the outside world that
 * feeds them (docs/descriptors.md). */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The watchers of a real descriptor that keep their loop waiting: active and referenced. */
static short watched(ah__fsock *fs, uv_loop_t *loop, int refd_only)
{
    ah__list *q;
    short ev = 0;

    for (q = fs->polls.next; q != &fs->polls; q = q->next) {
        ah__fpoll *p = ah__container_of(q, ah__fpoll, link);
        if (p->handle == NULL || (!p->always && !uv_is_active((uv_handle_t *)p->handle)) ||
            uv_is_closing((uv_handle_t *)p->handle))
            continue;
        if (loop != NULL && p->handle->loop != loop)
            continue;
        /* A write waiting for POLLOUT keeps the loop alive by its request, ref'd or not. */
        if (refd_only && !p->always && !uv_has_ref((uv_handle_t *)p->handle))
            continue;
        ev |= (short)p->events;
    }
    return ev;
}

/* "uv_poll", or the handle and the call that waits: "uv_pipe_t 0x... (uv_read_start in ...)". */
static void watchers(ah__fsock *fs, uv_loop_t *loop, ah__buf *b)
{
    ah__list *q;
    const char *sep = "";
    char h[320], where[160];

    for (q = fs->polls.next; q != &fs->polls; q = q->next) {
        ah__fpoll *p = ah__container_of(q, ah__fpoll, link);
        ah__hrec *r;
        if (p->handle == NULL || (loop != NULL && p->handle->loop != loop) ||
            (!p->always && !uv_is_active((uv_handle_t *)p->handle)))
            continue;
        r = p->handle->u.reserved[0];
        if (p->io == NULL)
            ah__buf_printf(b, "%suv_poll (%s)", sep, ah__handle_str(r, h, sizeof(h)));
        else
            ah__buf_printf(b, "%s%s (%s in %s)", sep, ah__handle_str(r, h, sizeof(h)),
                           p->always ? "a uv_write" : "reading",
                           ah__site_str(&r->start_site, where, sizeof(where)));
        sep = ", ";
    }
    ah__buf_printf(b, "\n");
}

static short real_revents(ah__fsock *fs)
{
    AH__REAL(poll);
    struct pollfd pf;

    pf.fd = fs->fd;
    pf.events = POLLIN | POLLOUT | POLLPRI | POLLRDHUP;
    pf.revents = 0;
    if (real_poll(&pf, 1, 0) <= 0 || (pf.revents & POLLNVAL))
        return 0; /* closed under the watcher: epoll drops it silently */
    return pf.revents;
}

static int real_io(ah_sim *sim, uv_loop_t *loop, int wait)
{
    AH__REAL(poll);
    ah__fdstate *st = ah__fd_find(sim); /* the hook stays set: later sims may have no room */
    struct pollfd pf[64];
    ah__fsock *of[64];
    nfds_t n = 0, i;
    ah__list *q;
    int r, any = 0;

    if (st == NULL)
        return 0;
    for (q = st->reals.next; q != &st->reals && n < 64; q = q->next) {
        ah__fsock *fs = ah__container_of(q, ah__fsock, link);
        short ev = watched(fs, loop, wait);
        if (ev == 0)
            continue;
        pf[n].fd = fs->fd;
        pf[n].events = ev;
        pf[n].revents = 0;
        of[n++] = fs;
    }
    /* The wake source: polled without waiting at every phase (a signal may have come while the
     * loop ran), waited on only when something waits for it. */
    if (st->wake != NULL && (!wait || st->wake->wanted(sim, NULL))) {
        pf[n].fd = st->wake->fd;
        pf[n].events = POLLIN;
        pf[n].revents = 0;
        of[n++] = NULL;
    }
    if (n == 0)
        return 0;
    /* A member of a world (docs/world.md) does not wait for real: its stdio pipes are fed by the
     * world's owner before its turns, so it hands its turn back (waiting for a delivery) and
     * looks again, at once, when the next one comes. */
    if (wait && ah__world_hooks.time_pass != NULL &&
        ah__world_hooks.time_pass(sim, AH__WORLD_REAL_WAIT, &r)) {
        real_io(sim, loop, 0);
        return 1;
    }
    /* A handler that interrupted the wait has written the wake pipe: the next poll sees it. */
    do
        r = real_poll(pf, n, wait ? (int)sim->opts.real_fd_wait_ms : 0);
    while (r < 0 && errno == EINTR && wait);
    if (r < 0 && errno == EINTR)
        r = 0;
    for (i = 0; r > 0 && i < n; i++) {
        if (pf[i].revents == 0 || (pf[i].revents & POLLNVAL))
            continue;
        any = 1;
        if (of[i] == NULL)
            st->wake->ready(sim);
        else
            ah__fd_changed(of[i]);
    }
    if (!any && wait) {
        ah__buf b = {0};
        char d[256];
        for (i = 0; i < n; i++) {
            if (of[i] == NULL) {
                st->wake->wanted(sim, &b);
                continue;
            }
            ah__buf_printf(&b, "  - %s, waited on for %s%s%s by ", ah__fd_str(of[i], d, sizeof(d)),
                           (pf[i].events & POLLIN) ? "reading" : "",
                           (pf[i].events & POLLIN) && (pf[i].events & POLLOUT) ? " and " : "",
                           (pf[i].events & POLLOUT) ? "writing" : "");
            watchers(of[i], loop, &b);
        }
        ah__fail(sim,
                 "nothing simulated is left to run, and the real %s the loop waits on "
                 "did not %s within %llu ms of real time (ah_sim_opts.real_fd_wait_ms, "
                 "AH_REAL_FD_WAIT_MS); real libuv would wait for them forever:\n%s",
                 of[0] != NULL ? "descriptors" : "signals", of[0] != NULL ? "become ready" : "come",
                 (unsigned long long)sim->opts.real_fd_wait_ms, ah__buf_keep(sim, &b));
    }
    return any;
}

void ah__fd_real_wake_set(ah_sim *sim, ah__real_wake *w)
{
    ah__fd_state(sim)->wake = w;
    ah__real_io_hook = real_io;
}

static void real_nop(ah__fsock *fs) { (void)fs; }

static const ah__fsock_ops real_ops = {
    NULL, NULL,         NULL,     NULL,     NULL,     NULL, NULL, NULL,
    NULL, real_revents, real_nop, real_nop, real_nop, NULL, NULL,
};

void ah__fd_real_forget(ah__fsock *fs)
{
    if (fs == NULL || !ah__list_empty(&fs->polls) || fs->nfds > 0)
        return;
    ah__list_remove(&fs->link);
    ah__free(fs);
}

/* What a real descriptor is, for reports. */
static const char *real_what(int fd, const struct stat *sb)
{
    if (S_ISFIFO(sb->st_mode))
        return "real pipe";
    if (S_ISSOCK(sb->st_mode))
        return "real socket";
    if (S_ISCHR(sb->st_mode))
        return isatty(fd) ? "real terminal" : "real character device";
    return "real descriptor";
}

ah__fsock *ah__fd_real_watch(ah_sim *sim, int fd, ah__site site, int *err)
{
    AH__REAL(fstat);
    ah__fdstate *st = ah__fd_state(sim);
    struct stat sb;
    ah__fsock *fs;
    ah__list *q;

    if (real_fstat(fd, &sb) != 0) {
        *err = UV_EBADF;
        return NULL;
    }
    if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)) {
        *err = UV_EPERM; /* epoll_ctl refuses regular files */
        return NULL;
    }
    for (q = st->reals.next; q != &st->reals; q = q->next) {
        fs = ah__container_of(q, ah__fsock, link);
        if (fs->fd == fd) {
            fs->what = real_what(fd, &sb); /* the number may have been closed and reused */
            return fs;
        }
    }
    fs = ah__calloc(1, sizeof(*fs));
    fs->fd = fd;
    fs->sim = sim;
    fs->kind = AH__FK_REAL;
    fs->site = site;
    fs->ops = &real_ops;
    fs->what = real_what(fd, &sb);
    fs->accmode = O_RDWR;
    ah__list_init(&fs->backlog);
    ah__list_init(&fs->polls);
    ah__list_insert_tail(&st->reals, &fs->link);
    if (!st->real_used) {
        char d[200];
        snprintf(sim->outside, sizeof(sim->outside),
                 "(the test watched real descriptors, first %s: what they delivered came from "
                 "outside the sim, and a rerun may differ)",
                 ah__fd_str(fs, d, sizeof(d)));
    }
    st->real_used = 1;
    ah__real_io_hook = real_io;
    return fs;
}
