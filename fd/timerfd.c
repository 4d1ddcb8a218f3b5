/* timerfd_create(2), timerfd_settime(2), timerfd_gettime(2) under a sim (Linux's fs/timerfd.c), on
 * the virtual clock: the timer expires at exact virtual instants, a read of 8 bytes takes the
 * number of expirations since the last read (waiting in virtual time for the next one, or EAGAIN
 * with TFD_NONBLOCK), and the descriptor is readable while that number is above 0. CLOCK_REALTIME
 * deadlines with TFD_TIMER_ABSTIME are read on the sim's wall clock (docs/descriptors.md). The
 * expiry is an event on the loop of the descriptor's first uv_poll watcher (the default loop
 * otherwise) that keeps the loop alive only while a watcher reads the descriptor or a blocking
 * call waits, as a kernel timer nobody waits for does not keep a libuv loop running. */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_timerfd = 0;

typedef struct ftimer {
    ah__event ev;
    ah__fsock *fs;
    clockid_t clock;
    uint64_t due_ns;      /* absolute virtual time of the next expiry; 0: disarmed */
    uint64_t interval_ns; /* 0: one-shot */
    uint64_t ticks;       /* expirations not read yet */
} ftimer;

/* Counts the expirations due by now and moves the next one on. */
static void tick(ftimer *t)
{
    uint64_t now = t->fs->sim->clock.now_ns, n;

    if (t->due_ns == 0 || t->due_ns > now)
        return;
    if (t->interval_ns == 0) {
        t->ticks++;
        t->due_ns = 0;
        return;
    }
    n = (now - t->due_ns) / t->interval_ns + 1;
    t->ticks += n;
    t->due_ns += n * t->interval_ns;
}

static void arm(ftimer *t)
{
    ah__event_cancel(&t->ev);
    if (t->due_ns == 0)
        return;
    t->ev.flags = ah__fd_waited(t->fs) ? AH__EV_REF : 0;
    ah__event_schedule(ah__fd_loop(t->fs), &t->ev, t->due_ns);
}

static void expire(ah__event *ev)
{
    ftimer *t = ah__container_of(ev, ftimer, ev);
    uint64_t before = t->ticks;

    tick(t);
    arm(t);
    if (t->ticks != before)
        ah__fd_changed(t->fs);
}

/* What is due by now counts, whether or not a loop ran (a kernel timer fires by itself). */
static void catch_up(ftimer *t)
{
    uint64_t before = t->ticks;

    if (t->due_ns == 0 || t->due_ns > t->fs->sim->clock.now_ns)
        return;
    tick(t);
    arm(t);
    if (t->ticks != before)
        ah__fd_changed(t->fs);
}

static int has_ticks(void *ctx)
{
    ftimer *t = ctx;
    catch_up(t);
    return t->ticks > 0;
}

static ssize_t tfd_recv(ah__fsock *fs, struct msghdr *msg, int flags, const char *call,
                        ah__site site)
{
    ftimer *t = fs->priv;
    size_t len = 0, i;
    uint64_t v;

    (void)flags;
    if (ah__fd_sock_call(call))
        return ah__fd_fail_errno(ENOTSOCK);
    for (i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    if (len < sizeof(v) || msg->msg_iovlen == 0 || msg->msg_iov[0].iov_len < sizeof(v))
        return ah__fd_fail_errno(EINVAL);
    while (!has_ticks(t)) {
        if (fs->nonblock)
            return ah__fd_fail_errno(EAGAIN);
        /* Wakes by itself at the expiry, even when no loop runs to deliver it. */
        if (ah__fd_block(fs, call, has_ticks, t, t->due_ns != 0 ? t->due_ns : UINT64_MAX, site) < 0)
            return -1; /* EINTR */
    }
    v = t->ticks;
    t->ticks = 0;
    memcpy(msg->msg_iov[0].iov_base, &v, sizeof(v));
    return sizeof(v);
}

static ssize_t tfd_send(ah__fsock *fs, const struct msghdr *msg, int flags, const char *call,
                        ah__site site)
{
    (void)fs, (void)msg, (void)flags, (void)site;
    return ah__fd_fail_errno(ah__fd_sock_call(call) ? ENOTSOCK : EINVAL);
}

static int tfd_nread(ah__fsock *fs)
{
    (void)fs;
    return 0;
}

static short tfd_revents(ah__fsock *fs)
{
    ftimer *t = fs->priv;

    catch_up(t);
    return t->ticks > 0 ? POLLIN | POLLRDNORM : 0;
}

static void tfd_rearm(ah__fsock *fs)
{
    ftimer *t = fs->priv;

    if (ah__event_scheduled(&t->ev) && t->ev.batch_index == 0)
        arm(t);
}

static void tfd_close(ah__fsock *fs) { ah__event_cancel(&((ftimer *)fs->priv)->ev); }

static void tfd_release(ah__fsock *fs)
{
    ftimer *t = fs->priv;

    if (t != NULL) {
        ah__event_cancel(&t->ev);
        ah__free(t);
    }
    fs->priv = NULL;
}

static const ah__fsock_ops timerfd_ops = {
    ah__fd_notsock_addr,
    ah__fd_notsock_addr,
    tfd_recv,
    tfd_send,
    ah__fd_notsock_shutdown,
    ah__fd_notsock_name,
    ah__fd_notsock_getsockopt,
    ah__fd_notsock_setsockopt,
    tfd_nread,
    tfd_revents,
    tfd_rearm,
    tfd_close,
    tfd_release,
    NULL,
    NULL,
};

AH__LIBC(timerfd_create, 19, AH__LIBC_FD);
int timerfd_create(clockid_t clock, int flags)
{
    AH__REAL(timerfd_create);
    ah_sim *sim = ah__sim_libc();
    ah__fsock *fs;
    ftimer *t;

    if (sim == NULL || ah__fd_passthrough(sim) || sim->opts.real_libc_clocks)
        return real_timerfd_create(clock, flags);
    if (flags & ~(TFD_NONBLOCK | TFD_CLOEXEC))
        return ah__fd_fail_errno(EINVAL);
    if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME && clock != CLOCK_BOOTTIME &&
        clock != CLOCK_REALTIME_ALARM && clock != CLOCK_BOOTTIME_ALARM)
        return ah__fd_fail_errno(EINVAL);
    if ((fs = ah__fd_new(sim, AH__FK_SOCK, AH__CALLER("timerfd_create"))) == NULL)
        return -1;
    t = ah__calloc(1, sizeof(*t));
    t->fs = fs;
    t->clock = clock;
    t->ev.fire = expire;
    t->ev.what = "timerfd expiry";
    fs->ops = &timerfd_ops;
    fs->priv = t;
    fs->what = "timerfd";
    fs->nonblock = (flags & TFD_NONBLOCK) != 0;
    fs->cloexec = (flags & TFD_CLOEXEC) != 0;
    fs->state = AH__FS_CONNECTED;
    return fs->fd;
}

static uint64_t ts_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

static void ns_ts(uint64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000ULL);
    ts->tv_nsec = (long)(ns % 1000000000ULL);
}

static void get_value(ftimer *t, struct itimerspec *cur)
{
    uint64_t now = t->fs->sim->clock.now_ns;

    catch_up(t);
    ns_ts(t->due_ns == 0 ? 0 : t->due_ns - now, &cur->it_value);
    ns_ts(t->interval_ns, &cur->it_interval);
}

static ftimer *timer_of(int fd, int *real)
{
    ah__fsock *fs = ah__fd_get(fd);

    *real = fs == NULL;
    if (fs == NULL)
        return NULL;
    if (fs->ops != &timerfd_ops) {
        errno = EINVAL; /* not a timerfd */
        return NULL;
    }
    return fs->priv;
}

AH__LIBC(timerfd_settime, 20, AH__LIBC_FD);
int timerfd_settime(int fd, int flags, const struct itimerspec *nv, struct itimerspec *old)
{
    AH__REAL(timerfd_settime);
    int real;
    ftimer *t = timer_of(fd, &real);
    ah_sim *sim;
    uint64_t v, now;
    int64_t wall_now;
    struct timespec ts;

    if (real)
        return real_timerfd_settime(fd, flags, nv, old);
    if (t == NULL)
        return -1;
    if (nv == NULL)
        return ah__fd_fail_errno(EFAULT);
    if ((flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) || nv->it_value.tv_nsec < 0 ||
        nv->it_value.tv_nsec >= 1000000000L || nv->it_interval.tv_nsec < 0 ||
        nv->it_interval.tv_nsec >= 1000000000L || nv->it_value.tv_sec < 0 ||
        nv->it_interval.tv_sec < 0)
        return ah__fd_fail_errno(EINVAL);
    if (old != NULL)
        get_value(t, old);
    sim = t->fs->sim;
    now = sim->clock.now_ns;
    v = ts_ns(&nv->it_value);
    t->ticks = 0; /* Linux's timerfd_setup resets the count */
    t->interval_ns = ts_ns(&nv->it_interval);
    if (v == 0) {
        t->due_ns = 0;
    } else if (!(flags & TFD_TIMER_ABSTIME)) {
        t->due_ns = now + v;
    } else {
        /* An absolute time on the timer's clock, as the sim's clocks read it. */
        clock_gettime(t->clock == CLOCK_REALTIME_ALARM   ? CLOCK_REALTIME
                      : t->clock == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME
                                                         : t->clock,
                      &ts);
        wall_now = (int64_t)ts_ns(&ts);
        t->due_ns = (int64_t)v <= wall_now ? now : now + (v - (uint64_t)wall_now);
    }
    arm(t);
    if (t->due_ns != 0 && t->due_ns <= now)
        catch_up(t);
    ah__fd_changed(t->fs);
    return 0;
}

AH__LIBC(timerfd_gettime, 20, AH__LIBC_FD);
int timerfd_gettime(int fd, struct itimerspec *cur)
{
    AH__REAL(timerfd_gettime);
    int real;
    ftimer *t = timer_of(fd, &real);

    if (real)
        return real_timerfd_gettime(fd, cur);
    if (t == NULL)
        return -1;
    if (cur == NULL)
        return ah__fd_fail_errno(EFAULT);
    get_value(t, cur);
    return 0;
}
