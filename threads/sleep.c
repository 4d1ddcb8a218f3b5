/* Sleeping in virtual time, per thread: uv_sleep, sleep(3), usleep(3), nanosleep(2) and
 * clock_nanosleep(2) block the calling simulated thread until its virtual wake-up while the
 * others run; the clock moves when every thread is blocked. With no other thread, the clock
 * simply jumps (decisions.md 2). A sleep inside a loop callback is reported: it blocks the loop
 * thread. Threads the sim did not start sleep for real. */
#define _GNU_SOURCE 1
#include "internal_threads.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Reached from threads/interpose.c, so that this file is linked (see there). */
const char ah__threads_interposer_sleep = 0;

/* `arg` is the call's own argument, for the report. Returns 0, -1 when not simulated, or 1 when
 * a signal interrupted the sleep (*left_ns: what was left of it). */
static int sleep_ns(const char *call, uint64_t arg, uint64_t ns, ah__site site, uint64_t *left_ns)
{
    ah__thr *self;
    ah__sched *s;
    ah_sim *sim = ah_sim_current();
    char b[320], st[160];

    if (sim == NULL) {
        /* a plain program linked with the harness: its implicit sim, on the thread of main */
        if ((sim = ah__sim_libc()) == NULL)
            return -1;
    } else if (!pthread_equal(pthread_self(), sim->owner) && ah__sched_get(&self, 0) == NULL) {
        return -1; /* a thread started outside the sim */
    }
    if (sim->in_callback > 0) {
        ah__site_str(&site, st, sizeof(st));
        if (sim->current_hrec != NULL)
            ah__buf_printf(&sim->slow,
                           "  - blocking call %s(%llu) in %s, inside %s of %s at virtual time "
                           "+%llu ms: it blocks the loop thread\n",
                           call, (unsigned long long)arg, st, sim->current_what,
                           ah__handle_str(sim->current_hrec, b, sizeof(b)),
                           (unsigned long long)ah_now_ms(sim));
        else
            ah__buf_printf(&sim->slow,
                           "  - blocking call %s(%llu) in %s, inside a %s at virtual time +%llu "
                           "ms: it blocks the loop thread\n",
                           call, (unsigned long long)arg, st, sim->current_what,
                           (unsigned long long)ah_now_ms(sim));
    }
    s = sim->threads_live > 0 ? ah__sched_get(&self, 0) : NULL;
    if (s == NULL) {
        uint64_t due = sim->clock.now_ns + ns;
        int r;
        /* A member of a world (docs/world.md) hands its turn back while it sleeps. */
        while (ah__world_hooks.time_pass != NULL && sim->clock.now_ns < due &&
               ah__world_hooks.time_pass(sim, due, &r))
            ;
        if (due > sim->clock.now_ns)
            ah__clock_set(sim, due);
        return 0;
    }
    {
        uint64_t due = sim->clock.now_ns + ns;
        self->interrupted = 0;
        ah__sched_block(s, self, AH__W_SLEEP, NULL, call, site, due);
        if (self->interrupted) {
            self->interrupted = 0;
            if (left_ns != NULL)
                *left_ns = due > sim->clock.now_ns ? due - sim->clock.now_ns : 0;
            return 1;
        }
    }
    return 0;
}

void uv_sleep(unsigned int msec)
{
    ah__site site = AH__CALLER("uv_sleep");
    uint64_t left = (uint64_t)msec * AH__NS_PER_MS;
    int r;

    /* libuv's uv_sleep sleeps again for what is left after an EINTR. */
    while ((r = sleep_ns("uv_sleep", msec, left, site, &left)) == 1)
        ;
    if (r < 0)
        AH__REAL(usleep)((useconds_t)msec * 1000);
}

AH__LIBC(sleep, 10, AH__LIBC_SLEEP);
unsigned int sleep(unsigned int seconds)
{
    ah__site site = AH__CALLER("sleep");
    uint64_t left = 0;
    int r = sleep_ns("sleep", seconds, (uint64_t)seconds * 1000 * AH__NS_PER_MS, site, &left);

    if (r < 0)
        return AH__REAL(sleep)(seconds);
    if (r == 1) /* interrupted: the seconds left, rounded up */
        return (unsigned)((left + 999999999ULL) / 1000000000ULL);
    return 0;
}

AH__LIBC(usleep, 11, AH__LIBC_SLEEP);
int usleep(useconds_t usec)
{
    ah__site site = AH__CALLER("usleep");
    int r = sleep_ns("usleep", usec, (uint64_t)usec * 1000, site, NULL);

    if (r < 0)
        return AH__REAL(usleep)(usec);
    if (r == 1) {
        errno = EINTR;
        return -1;
    }
    return 0;
}

static uint64_t ts_ns(const struct timespec *ts)
{
    if (ts->tv_sec < 0)
        return 0;
    return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

AH__LIBC(nanosleep, 14, AH__LIBC_SLEEP);
int nanosleep(const struct timespec *req, struct timespec *rem)
{
    ah__site site = AH__CALLER("nanosleep");

    if (req == NULL || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L) {
        errno = EINVAL;
        return -1;
    }
    uint64_t left = 0;
    int r = sleep_ns("nanosleep", ts_ns(req) / AH__NS_PER_MS, ts_ns(req), site, &left);

    if (r < 0)
        return AH__REAL(nanosleep)(req, rem);
    if (r == 1) {
        if (rem != NULL)
            rem->tv_sec = (time_t)(left / 1000000000ULL),
            rem->tv_nsec = (long)(left % 1000000000ULL);
        errno = EINTR;
        return -1;
    }
    if (rem != NULL)
        rem->tv_sec = 0, rem->tv_nsec = 0;
    return 0;
}

AH__LIBC(clock_nanosleep, 20, AH__LIBC_SLEEP);
int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
    ah__site site = AH__CALLER("clock_nanosleep");
    ah_sim *sim;
    uint64_t ns;

    if (req == NULL || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L)
        return EINVAL;
    if ((sim = ah__sim_libc()) == NULL)
        return AH__REAL(clock_nanosleep)(clock, flags, req, rem);
    ns = ts_ns(req);
    if (flags & TIMER_ABSTIME) {
        uint64_t due = ah__deadline_abs(sim, clock, req);
        ns = due - sim->clock.now_ns;
    }
    {
        uint64_t left = 0;
        int r = sleep_ns("clock_nanosleep", ns / AH__NS_PER_MS, ns, site, &left);
        if (r < 0)
            return AH__REAL(clock_nanosleep)(clock, flags, req, rem);
        if (r == 1) {
            if (rem != NULL && !(flags & TIMER_ABSTIME))
                rem->tv_sec = (time_t)(left / 1000000000ULL),
                rem->tv_nsec = (long)(left % 1000000000ULL);
            return EINTR;
        }
    }
    if (rem != NULL)
        rem->tv_sec = 0, rem->tv_nsec = 0;
    return 0;
}
