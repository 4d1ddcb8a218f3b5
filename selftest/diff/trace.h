/* The trace a differential scenario prints: one line per callback or checked value, the same on
 * real libuv and on the harness except for the times, which compare.sh checks with a tolerance.
 *
 *   T("timer a", 10, rc)  ->  "timer a @10 due=10 rc=0"
 *       @N is uv_now(loop) minus the loop's time at trace_begin (libuv's cached clock), due=D is
 *       the instant the scenario expects: the harness must print exactly D, real libuv at least D.
 *   V("again", rc)        ->  "again rc=EINVAL"
 *       a value that must be identical on both.
 *   TV("v due", 40, ms)   ->  "v due @40 due=40"
 *       a time the scenario computed (an absolute due time, say), checked as @N is.
 */
#ifndef DIFF_TRACE_H
#define DIFF_TRACE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

/* The first line of every trace names the libuv that runs, and a program whose uv.h and loaded
 * libuv differ stops here: the version matrix (scripts/libuv-matrix.sh) relies on both sides of
 * a comparison really being the version they were built against. */
__attribute__((constructor)) static void trace_libuv_version(void)
{
    if (uv_version() != UV_VERSION_HEX) {
        fprintf(stderr, "built against libuv %d.%d.%d but running %s: check the rpath\n",
                UV_VERSION_MAJOR, UV_VERSION_MINOR, UV_VERSION_PATCH, uv_version_string());
        exit(3);
    }
    printf("libuv %s\n", uv_version_string());
}

static uv_loop_t *trace_loop;
static uint64_t trace_start_ms;

static inline void trace_begin(uv_loop_t *loop)
{
    trace_loop = loop;
    trace_start_ms = uv_now(loop);
}

static inline void trace_rc(long long rc)
{
    const char *name = NULL;

    switch (rc) {
    case UV_EINVAL:
        name = "EINVAL";
        break;
    case UV_EBUSY:
        name = "EBUSY";
        break;
    case UV_EALREADY:
        name = "EALREADY";
        break;
    case UV_ENOSYS:
        name = "ENOSYS";
        break;
    case UV_ENOTSUP:
        name = "ENOTSUP";
        break;
    default:
        break;
    }
    if (name != NULL)
        printf(" rc=%s\n", name);
    else
        printf(" rc=%lld\n", rc);
}

static inline void trace_at(const uv_loop_t *loop, const char *what, uint64_t due_ms, long long rc)
{
    printf("%s @%llu due=%llu", what, (unsigned long long)(uv_now(loop) - trace_start_ms),
           (unsigned long long)due_ms);
    trace_rc(rc);
}

static inline void trace_time(const char *what, uint64_t due_ms, uint64_t ms)
{
    printf("%s @%llu due=%llu\n", what, (unsigned long long)ms, (unsigned long long)due_ms);
}

static inline void trace_val(const char *what, long long rc)
{
    printf("%s", what);
    trace_rc(rc);
}

#define T(what, due_ms, rc) trace_at(trace_loop, (what), (due_ms), (long long)(rc))
#define TL(loop, what, due_ms, rc) trace_at((loop), (what), (due_ms), (long long)(rc))
#define V(what, rc) trace_val((what), (long long)(rc))
#define TV(what, due_ms, ms) trace_time((what), (due_ms), (ms))

/* Closes every handle of `loop` that is not already closing (the usual end of a libuv program). */
static inline void trace_close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Ends a scenario: closes what is left, runs the loop dry and closes it, printing both results. */
static inline int trace_end(uv_loop_t *loop)
{
    uv_walk(loop, trace_close_walk_cb, NULL);
    V("end run", uv_run(loop, UV_RUN_DEFAULT));
    V("end loop_close", uv_loop_close(loop));
    fflush(stdout);
    return 0;
}

#endif
