/* asyncharness: a deterministic libuv on a virtual clock, for cmocka tests.
 *
 * A test links asyncharness::harness instead of libuv; the unchanged code under test calls the
 * ordinary uv_* functions and they run on a simulated loop (an ah_sim) whose clock only moves
 * when the sim has nothing left to do at the current instant. See docs/ for each concept.
 */
#ifndef AH_AH_H
#define AH_AH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;

/* Settings of a sim. Zero fields take the defaults (or the environment's AH_* knobs). */
typedef struct ah_sim_opts {
    uint64_t seed;             /* the oracle's seed; default AH_SEED or 1 */
    uint64_t runaway_limit;    /* callbacks at one virtual instant; default 100000 */
    uint64_t time_limit_ms;    /* virtual time a sim may reach; default 7 days */
    uint64_t slow_callback_ms; /* real time a callback may block the loop; default 100 */
    const char *name;          /* the test's name, for reports; default "sim" */
    /* Nonzero: time(), gettimeofday() and clock_gettime() stay the C library's while this sim is
     * current, for a test driven by a tool that times it with them from inside (a fuzzer's
     * driver, whose timeout alarm fires during the test). The code under test then sees real
     * time on the libc clocks; uv_now, uv_hrtime and uv_gettimeofday stay virtual. */
    int real_libc_clocks;
    /* Real time the sim may wait for real descriptors it did not make (a uv_poll_t on an
     * inherited pipe, say) when nothing simulated is left to run; then the test fails listing
     * them. Default AH_REAL_FD_WAIT_MS or 3000 (docs/descriptors.md). */
    uint64_t real_fd_wait_ms;
    /* How the sim runs the threads the code under test starts: 0 follows AH_THREADS (unset: OS
     * threads), 1 runs them as user-level contexts on the test's thread (AH_THREADS=contexts:
     * cheaper switches, thread-local storage copied at each switch; docs/threads.md "The contexts
     * mode"), -1 as OS threads. Under Valgrind and the sanitizers they are OS threads. */
    int thread_contexts;
} ah_sim_opts;

/* Creates a sim with its own clock, default loop and oracle, and makes it the current sim (the
 * one uv_default_loop() and uv_hrtime() answer from). `opts` may be NULL. Free with ah_sim_free. */
ah_sim *ah_sim_new(const ah_sim_opts *opts);
/* Frees the sim and everything it allocated. It never touches the memory of handles the code under
 * test allocated, so it is safe after a failed test. The previous current sim becomes current. */
void ah_sim_free(ah_sim *sim);
/* The current sim, or NULL. */
ah_sim *ah_sim_current(void);
/* The sim's default loop: what uv_default_loop() returns while `sim` is current. */
uv_loop_t *ah_sim_loop(ah_sim *sim);
uint64_t ah_sim_seed(const ah_sim *sim);
const char *ah_sim_name(const ah_sim *sim);

/* Virtual time since the sim started, in ms and ns. */
uint64_t ah_now_ms(const ah_sim *sim);
uint64_t ah_now_ns(const ah_sim *sim);

/* Runs what is due at the current instant on every loop of the sim; the clock does not move.
 * Returns the number of callbacks run. */
uint64_t ah_run_ready(ah_sim *sim);
/* Moves the clock forward by `ms`, running everything that falls due on the way, in order, at its
 * own instant. Afterwards every loop's cached time (uv_now) equals the clock. */
void ah_advance(ah_sim *sim, uint64_t ms);
/* Runs the sim, jumping the clock to the next due event whenever nothing is runnable, until no
 * loop is alive (libuv's rule: active referenced handles or requests) or nothing more can happen.
 * Returns the virtual ms it advanced. */
uint64_t ah_run_until_idle(ah_sim *sim);
/* Like ah_run_until_idle, but for at most `ms` of virtual time: it stops when no loop is alive or
 * when the span ends, whichever comes first, even with repeating timers (a server's heartbeat)
 * still due later. What falls due at the span's last instant runs. Returns the virtual ms it
 * advanced (`ms` unless the sim went idle first; ah_advance always moves the clock by `ms`). */
uint64_t ah_run_for(ah_sim *sim, uint64_t ms);
/* Like ah_run_until_idle, but stops as soon as pred(ctx) is true (checked after every loop
 * iteration). Fails the test with a deadlock report if nothing left can make it true. */
typedef int (*ah_pred_fn)(void *ctx);
void ah_run_until(ah_sim *sim, ah_pred_fn pred, void *ctx);

/* Fails the test unless the virtual time since start is exactly `ms`. */
#define ah_assert_now_ms(sim, ms) ah__assert_now_ms((sim), (ms), __FILE__, __LINE__)
void ah__assert_now_ms(ah_sim *sim, uint64_t ms, const char *file, int line);

/* Fails the running test with a message, as a cmocka assertion does (it does not return).
 * Inside ah_capture_failure the failure is captured instead. */
#define ah_fail(sim, ...) ah__fail_at((sim), __FILE__, __LINE__, __VA_ARGS__)
void ah__fail_at(ah_sim *sim, const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* Runs body(sim, ctx) on a fresh sim built from `opts`, then the teardown checks, and returns the
 * message of the first harness failure (malloc'd, free it), or NULL if it passed. This is how the
 * harness tests its own detectors: a planted bug must produce a message. */
typedef void (*ah_body_fn)(ah_sim *sim, void *ctx);
char *ah_capture_failure(const ah_sim_opts *opts, ah_body_fn body, void *ctx);

/* Fails the current test unless body fails with a message containing `needle`; on success the
 * message is printed so the test log shows what the detector said. */
#define ah_assert_fails_with(opts, body, ctx, needle)                                              \
    ah__assert_fails_with((opts), (body), (ctx), (needle), #body, __FILE__, __LINE__)
void ah__assert_fails_with(const ah_sim_opts *opts, ah_body_fn body, void *ctx, const char *needle,
                           const char *body_name, const char *file, int line);
/* Fails the current test if body fails (the correct twin of a planted bug). */
#define ah_assert_passes(opts, body, ctx)                                                          \
    ah__assert_passes((opts), (body), (ctx), #body, __FILE__, __LINE__)
void ah__assert_passes(const ah_sim_opts *opts, ah_body_fn body, void *ctx, const char *body_name,
                       const char *file, int line);

/* The teardown checks: handles not closed, and what higher layers register (futures, mocks,
 * network scripts). Returns a malloc'd report, or NULL when all is clean. */
char *ah_sim_check(ah_sim *sim);

/* cmocka glue. ah_unit_test(f) gives f a fresh sim in *state and runs the teardown checks after
 * it; ah_run_tests(tests) runs a group and honours --test NAME (one test), --list (print the
 * tests' names, for ah_discover_tests) and the AH_* environment knobs. */
struct CMUnitTest;
typedef void (*ah_test_fn)(void **state);
struct ah__test_info {
    const char *name;
    ah_test_fn fn;
    const char *file; /* where the test was registered, for failures not tied to an assertion */
    int line;
};
int ah__setup(void **state);
int ah__teardown(void **state);
void ah__trampoline(void **state);
/* clang-format cannot lay out a stringized name at the start of a line: */
/* clang-format off */
#define ah_unit_test(f) \
    {#f, ah__trampoline, ah__setup, ah__teardown, \
     (void *)&(struct ah__test_info){#f, f, __FILE__, __LINE__}}
/* clang-format on */
#define ah_run_tests(tests) ah__run_tests((tests), sizeof(tests) / sizeof((tests)[0]), __FILE__)
int ah__run_tests(const struct CMUnitTest *tests, size_t count, const char *file);

#ifdef __cplusplus
}
#endif

#include <ah/explore.h>
#include <ah/fd.h>
#include <ah/fs.h>
#include <ah/future.h>
#include <ah/mock.h>
#include <ah/net.h>
#include <ah/proc.h>
#include <ah/server.h>
#include <ah/udp.h>
#include <ah/world.h>
#include <ah/sites.h>

#endif
