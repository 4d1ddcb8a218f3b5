/* The libc clocks on the virtual clock while a sim is current: time(), gettimeofday() and
 * clock_gettime() for the wall and monotonic clocks, and libuv's uv_gettimeofday. The wall clock
 * starts at a fixed date (ah_wall_clock_set, AH_WALL_EPOCH), the monotonic clocks read what
 * uv_hrtime() reads; CPU-time clocks, and every clock with no sim, are the C library's. */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include "internal_fd.h"

#include <errno.h>
#include <string.h>
#include <sys/time.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_clock = 0;

int ah_real_clock_gettime(clockid_t id, struct timespec *ts)
{
    return ah__real_clock_gettime(id, ts);
}

void ah_wall_clock_set(ah_sim *sim, int64_t unix_seconds)
{
    ah__fd_state(sim)->wall_epoch_s = unix_seconds;
}

/* Wall time in ns since 1970. */
static int64_t wall_ns(ah_sim *sim)
{
    return ah__fd_wall_epoch_s(sim) * 1000000000LL +
           (int64_t)(sim->clock.now_ns - sim->clock.epoch_ns);
}

AH__LIBC(clock_gettime, 18, AH__LIBC_CLOCK);
int clock_gettime(clockid_t id, struct timespec *ts)
{
    ah_sim *sim;
    int64_t ns;

    if (ah__libc_from_san(&ah__libc_rec_clock_gettime, __builtin_return_address(0)))
        return ah__real_clock_gettime(id, ts);
    sim = ah__sim_libc();
    if (sim == NULL || sim->opts.real_libc_clocks)
        return ah__real_clock_gettime(id, ts);
    switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
        ns = wall_ns(sim);
        break;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME:
        ns = (int64_t)sim->clock.now_ns;
        break;
    default:
        return ah__real_clock_gettime(id, ts); /* CPU-time clocks, CLOCK_TAI, ... */
    }
    /* A spin on the clock makes progress (docs/loop-and-time.md, "Busy loops"). */
    ah__clock_read(sim);
    ns = id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE ? wall_ns(sim)
                                                             : (int64_t)sim->clock.now_ns;
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
    return 0;
}

AH__LIBC(gettimeofday, 17, AH__LIBC_CLOCK);
int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    AH__REAL(gettimeofday);
    ah_sim *sim = ah__sim_libc();
    int64_t ns;

    if (sim == NULL || sim->opts.real_libc_clocks)
        return real_gettimeofday(tv, tz);
    if (tz != NULL)
        memset(tz, 0, sizeof(struct timezone));
    ah__clock_read(sim);
    ns = wall_ns(sim);
    tv->tv_sec = (time_t)(ns / 1000000000LL);
    tv->tv_usec = (suseconds_t)(ns % 1000000000LL / 1000);
    return 0;
}

AH__LIBC(time, 9, AH__LIBC_CLOCK);
time_t time(time_t *t)
{
    AH__REAL(time);
    ah_sim *sim = ah__sim_libc();
    time_t now;

    if (sim == NULL || sim->opts.real_libc_clocks)
        return real_time(t);
    now = (time_t)(wall_ns(sim) / 1000000000LL);
    if (t != NULL)
        *t = now;
    return now;
}

int uv_gettimeofday(uv_timeval64_t *tv)
{
    int64_t ns;

    if (tv == NULL)
        return UV_EINVAL;
    ns = wall_ns(ah__sim());
    tv->tv_sec = ns / 1000000000LL;
    tv->tv_usec = (int32_t)(ns % 1000000000LL / 1000);
    return 0;
}

#if UV_VERSION_HEX >= 0x012d00 /* uv_clock_gettime: libuv 1.45 */
int uv_clock_gettime(uv_clock_id id, uv_timespec64_t *ts)
{
    ah_sim *sim = ah__sim();
    int64_t ns;

    if (ts == NULL)
        return UV_EFAULT;
    if (id == UV_CLOCK_MONOTONIC)
        ns = (int64_t)sim->clock.now_ns;
    else if (id == UV_CLOCK_REALTIME)
        ns = wall_ns(sim);
    else
        return UV_EINVAL;
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = (int32_t)(ns % 1000000000LL);
    return 0;
}
#endif
