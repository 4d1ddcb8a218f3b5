/* Timer benchmark, built twice: bench_timers_real on libuv, bench_timers_sim on the harness.
 *
 *   bench_timers N [burst|spread|tick]
 *
 * Starts N timers whose timeouts are a seeded random permutation of 0..N-1 ms and runs the loop
 * until every one has fired, checking that they fire in timeout order. Prints one line of
 * per-timer figures (docs/bench.md explains the choices):
 *
 * burst   the timers are started from a loop time N ms in the past, so all are due when uv_run
 *         starts: the loop pops them in order in one timer pass. The same work on both builds
 *         (insert N keys, remove N in order, N callbacks) and no sleeping in epoll_wait, so real
 *         libuv can run N = 1e6 in well under a second. This is the comparison.
 * spread  the timers count from now: real libuv would sleep N ms; the harness jumps its virtual
 *         clock from one due time to the next, one loop iteration per timer. Harness only.
 *
 * tick    N timers wait 30 s or more (idle timeouts of a busy server), and the loop meanwhile
 *         starts a 0 ms timer and runs once (uv_run NOWAIT), 2,000 times: the cost of a timer
 *         shorter than every pending one, the case a timing wheel can get wrong. Both builds.
 *
 * Allocations are counted by wrapping malloc/calloc/realloc in this program, per phase:
 * init (uv_timer_init), start (uv_timer_start: must be 0), run (uv_run).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>
#ifdef AH_SITES_H
#include <ah/fd.h>
#endif

#ifdef BENCH_SIM
#define IMPL "harness"
#else
#define IMPL "real"
#endif

/* ---- allocation counting: every malloc of the process, libuv's and the harness's included ---- */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static unsigned long long allocs;

void *malloc(size_t n)
{
    allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    allocs++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    allocs++;
    return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

/* ---- the benchmark ---- */
#define SPAN_MAX 100000
static uint64_t fired, order_errors, last_timeout, span;

static void on_timer(uv_timer_t *h)
{
    uint64_t timeout = (uint64_t)(uintptr_t)h->data;
    if (timeout < last_timeout)
        order_errors++;
    last_timeout = timeout;
    fired++;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
#ifdef AH_SITES_H
    /* The harness build: clock_gettime reads the virtual clock while a sim runs. */
    ah_real_clock_gettime(CLOCK_MONOTONIC, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*, seeded: the same permutation every run and on both builds */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

typedef struct {
    double init_ns, start_ns, run_ns;
    unsigned long long allocs_init, allocs_start, allocs_run;
} result;

static void close_all(uv_loop_t *loop, uv_timer_t *t, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        uv_close((uv_handle_t *)&t[i], NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

static int one_rep(uv_loop_t *loop, uv_timer_t *t, const uint64_t *timeouts, size_t n, int spread,
                   result *r)
{
    unsigned long long a0, a1, a2, a3;
    uint64_t t0, t1, t2, t3;
    size_t i;

    fired = order_errors = last_timeout = 0;
    uv_update_time(loop);
    a0 = allocs;
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        uv_timer_init(loop, &t[i]);
        t[i].data = (void *)(uintptr_t)timeouts[i];
    }
    t1 = now_ns();
    a1 = allocs;
    /* burst: count from a loop time n ms ago, so every timer is due when uv_run starts (the
     * cached loop time is a public field of uv_loop_t; uv_run refreshes it) */
    if (!spread)
        loop->time -= span;
    for (i = 0; i < n; i++)
        uv_timer_start(&t[i], on_timer, timeouts[i], 0);
    t2 = now_ns();
    a2 = allocs;
    uv_run(loop, UV_RUN_DEFAULT);
    t3 = now_ns();
    a3 = allocs;
    close_all(loop, t, n);

    r->init_ns = (double)(t1 - t0) / (double)n;
    r->start_ns = (double)(t2 - t1) / (double)n;
    r->run_ns = (double)(t3 - t2) / (double)n;
    r->allocs_init = a1 - a0;
    r->allocs_start = a2 - a1;
    r->allocs_run = a3 - a2;
    if (fired != n || order_errors != 0) {
        fprintf(stderr, "bench_timers: %llu of %zu timers fired, %llu out of order\n",
                (unsigned long long)fired, n, (unsigned long long)order_errors);
        return 1;
    }
    return 0;
}

static void on_tick(uv_timer_t *h) { fired += h != NULL; }

/* tick mode: ns per start + fire of a 0 ms timer while n long timers wait. */
static int tick_mode(uv_loop_t *loop, size_t n)
{
    enum { TICKS = 2000 };
    uv_timer_t *t = calloc(n, sizeof(*t)), s;
    uint64_t t0, t1;
    size_t i;

    for (i = 0; i < n; i++) {
        uv_timer_init(loop, &t[i]);
        uv_timer_start(&t[i], on_tick, 30000 + i % 1000, 0);
    }
    uv_timer_init(loop, &s);
    uv_run(loop, UV_RUN_NOWAIT);
    fired = 0;
    t0 = now_ns();
    for (i = 0; i < TICKS; i++) {
        uv_timer_start(&s, on_tick, 0, 0);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    t1 = now_ns();
    printf("impl=%s mode=tick n=%zu ticks=%d ns_per_tick=%.1f fired=%llu\n", IMPL, n, TICKS,
           (double)(t1 - t0) / TICKS, (unsigned long long)fired);
    uv_close((uv_handle_t *)&s, NULL);
    close_all(loop, t, n);
    free(t);
    return fired == TICKS ? 0 : 1;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 0) : 1000;
    int spread = argc > 2 && strcmp(argv[2], "spread") == 0;
    int reps = n >= 100000 ? 3 : (int)(300000 / (n ? n : 1));
    uv_loop_t *loop;
    uv_timer_t *t;
    uint64_t *timeouts;
    result best = {0}, r;
    unsigned long long max_allocs_start = 0;
    size_t i;
    int k;

#ifdef BENCH_SIM
    /* A burst fires every timer at one virtual instant, on purpose: lift the runaway guard
     * (100,000 callbacks without the clock moving) above what the benchmark does. Read when the
     * implicit sim is created, i.e. by the first uv_default_loop(). */
    setenv("AH_RUNAWAY_LIMIT", "4000000000", 0);
#endif
    loop = uv_default_loop();
    if (n > 0 && argc > 2 && strcmp(argv[2], "tick") == 0)
        return tick_mode(loop, n) || uv_loop_close(loop) != 0;
    if (n == 0) {
        fprintf(stderr, "usage: %s N [burst|spread|tick] (N >= 1)\n", argv[0]);
        return 2;
    }
#ifndef BENCH_SIM
    if (spread && n > 2000) {
        fprintf(stderr, "bench_timers: spread with N = %zu would sleep %zu ms on real libuv\n", n,
                n);
        return 2;
    }
#endif
    if (reps < 1)
        reps = 1;
    t = calloc(n, sizeof(*t));
    timeouts = malloc(n * sizeof(*timeouts));
    /* Timeouts spread over 0..span-1 ms. The burst counts back `span` ms from the loop's clock,
     * which on real libuv is ms since boot, so span is capped (SPAN_MAX, the same on both builds
     * so they do the same work); beyond it timeouts share values and ties fire in start order. */
    span = n < SPAN_MAX ? n : SPAN_MAX;
    if (!spread && span >= uv_now(loop)) {
        fprintf(stderr, "bench_timers: the loop clock (%llu ms) is younger than %llu ms\n",
                (unsigned long long)uv_now(loop), (unsigned long long)span);
        return 2;
    }
    for (i = 0; i < n; i++)
        timeouts[i] = (uint64_t)i * span / n;
    for (i = n - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)(rng() % (i + 1));
        uint64_t x = timeouts[i];
        timeouts[i] = timeouts[j];
        timeouts[j] = x;
    }
    for (k = 0; k < reps; k++) {
        if (one_rep(loop, t, timeouts, n, spread, &r) != 0)
            return 1;
        if (r.allocs_start > max_allocs_start)
            max_allocs_start = r.allocs_start;
        if (k == 0 || r.start_ns + r.run_ns < best.start_ns + best.run_ns)
            best = r;
    }
    printf("impl=%s mode=%s n=%zu span_ms=%llu reps=%d ns_per_timer=%.1f start_ns=%.1f run_ns=%.1f "
           "init_ns=%.1f allocs_per_start=%.3f allocs_init=%llu allocs_run=%llu\n",
           IMPL, spread ? "spread" : "burst", n, (unsigned long long)span, reps,
           best.start_ns + best.run_ns, best.start_ns, best.run_ns, best.init_ns,
           (double)max_allocs_start / (double)n, best.allocs_init, best.allocs_run);
    free(t);
    free(timeouts);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
