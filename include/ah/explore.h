/* Finding races: schedule exploration, replay, shrinking, sweeps, race assertions and traces
 * (docs/exploration.md).
 *
 * Every choice real life leaves open (which of several same-instant completions is delivered
 * first, where a latency falls in its jitter range, how bytes are split into reads, whether an
 * optional fault fires) goes through one door in the sim. The explorer decides those choices
 * itself, runs a test body under many schedules (a fresh sim each), and reports the first failing
 * schedule with the one command that replays it.
 */
#ifndef AH_EXPLORE_H
#define AH_EXPLORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;
typedef void (*ah_body_fn)(ah_sim *sim, void *ctx);

/* ---- exploration ---- */

typedef enum ah_strategy {
    AH_STRATEGY_DEFAULT = 0, /* AH_STRATEGY, else random */
    AH_STRATEGY_RANDOM,      /* every choice uniform, from the schedule's seed */
    AH_STRATEGY_PCT,         /* flows get random priorities, depth-1 priority change points */
    AH_STRATEGY_EXHAUSTIVE,  /* depth-first over the tree of choices, up to `schedules` */
    AH_STRATEGY_REPLAY,      /* one schedule given as a choice list (AH_REPLAY="3:1,7:2") */
} ah_strategy;

typedef struct ah_explore_opts {
    const char *name;         /* the test's name in reports; default the current sim's name */
    ah_strategy strategy;     /* default AH_STRATEGY (random|pct|exhaustive|replay), else random */
    uint64_t schedules;       /* default AH_SCHEDULES (or AH_SEED_COUNT), else 100 */
    uint64_t seed_start;      /* the first schedule's seed; default AH_SEED_START, else 1 */
    unsigned pct_depth;       /* PCT's depth d; default AH_PCT_DEPTH, else 3 */
    const char *replay;       /* a choice list "index:value,..." (AH_REPLAY) */
    uint64_t shrink_runs;     /* the shrinker's budget of runs; default 200 */
    int no_shrink;            /* report the failing schedule as found */
    int no_determinism_check; /* skip running the first schedule twice */
    int ignore_env;           /* the AH_* knobs above do not apply (the harness's own tests) */
    const char *trace_path;   /* where a failure's trace goes (.txt and .json are appended);
                               * default AH_TRACE, else "ah-trace-<name>" in the working directory */
    int no_trace_file;        /* write no trace file on failure */
    ah_sim_opts sim;          /* settings of each schedule's sim (its seed is the schedule's) */
    unsigned jobs;            /* worker processes running the schedules (random, pct); default
                               * AH_JOBS (a number, or "auto": one per CPU), else 1 */
    unsigned shard, shards;   /* run only the shard-th (1-based) of `shards` disjoint slices of
                               * the schedules, seeds as unsharded; default AH_SHARD=K/N */
} ah_explore_opts;

typedef struct ah_explore_result {
    int failed;
    uint64_t schedules_run;    /* schedules run, the failing one included (by every worker) */
    uint64_t failing_schedule; /* 1-based index of the first failing schedule, 0 if none */
    uint64_t seed;             /* its seed (exhaustive: its index) */
    ah_strategy strategy;
    uint64_t trace_hash;      /* trace hash of the failing schedule */
    size_t nondefault_before; /* non-default choices of the failing schedule */
    size_t nondefault_after;  /* ... of the shortest one the shrinker found */
    uint64_t shrink_runs;     /* runs the shrinker made */
    uint64_t shrunk_hash;     /* trace hash of the shortest failing schedule */
    int exhausted;            /* exhaustive: the whole tree was enumerated */
    char *message;            /* banner and failure message (malloc'd), NULL if it passed */
    char replay[640];         /* the command that replays the failing schedule */
    char shrunk_choices[512]; /* AH_REPLAY value of the shortest failing schedule */
    char trace_file[512];     /* the .json trace written for the shortest failing schedule */
    uint64_t distinct_hashes; /* different timelines (trace hashes) among the schedules run */
    uint64_t virtual_ms;      /* virtual time the schedules simulated, together */
    int shrink_budget_hit;    /* the shrinker's budget ended before a local minimum */
    char summary[1024]; /* what a passing exploration did ("" if it failed; no need to free) */
} ah_explore_result;

/* Runs body under many schedules, a fresh sim each, and fills `res` (may be NULL). Returns 1 when
 * a schedule failed (after shrinking it and writing its trace), else 0. Prints nothing. */
int ah_explore_run(const ah_explore_opts *opts, ah_body_fn body, void *ctx, ah_explore_result *res);
void ah_explore_result_free(ah_explore_result *res);

/* Runs body under many schedules; the first failure fails the current cmocka test with one banner
 * line (seed, strategy, test name, replay command), the failure, the shrunk schedule and the
 * trace file. `opts` may be NULL. */
#define ah_explore(...) ah__explore_at(__FILE__, __LINE__, __VA_ARGS__) /* (opts, body, ctx) */
void ah__explore_at(const char *file, int line, const ah_explore_opts *opts, ah_body_fn body,
                    void *ctx);

/* A cmocka test whose function f(void **state) is explored: *state is each schedule's fresh sim.
 * Use it in the table given to ah_run_tests, like ah_unit_test. */
struct ah__test_info;
void ah__explore_trampoline(void **state);
int ah__setup(void **state);
int ah__teardown(void **state);
/* clang-format cannot lay out a stringized name at the start of a line: */
/* clang-format off */
#define ah_explore_test(f) \
    {#f, ah__explore_trampoline, ah__setup, ah__teardown, \
     (void *)&(struct ah__test_info){#f, f, __FILE__, __LINE__}}
/* clang-format on */

/* Runs body twice on the same seed (and `opts`) and compares the timelines. Returns NULL when
 * they are the same, else a malloc'd report naming the first diverging event (reading the real
 * clock, rand(), ordering by pointer, statics left over between runs). */
char *ah_check_determinism(const ah_sim_opts *opts, ah_body_fn body, void *ctx);

/* The sim's trace hash so far: a digest of every dispatched callback and network step. */
uint64_t ah_trace_hash(const ah_sim *sim);

/* ---- sweeps: inject a cancellation or fault after every step ---- */

typedef void (*ah_inject_fn)(ah_sim *sim, void *ctx, int arg);
typedef struct ah_fault {
    const char *name;    /* for reports: "net reset", "timeout", "mock error" */
    ah_inject_fn inject; /* called between callbacks, with the body's ctx */
    int arg;
} ah_fault;

typedef struct ah_sweep_opts {
    const char *name;   /* the test's name in reports; default the current sim's name */
    uint64_t only_step; /* run only this step (AH_SWEEP_STEP); 0 = all */
    int ignore_env;
    ah_sim_opts sim;
} ah_sweep_opts;

typedef struct ah_sweep_result {
    int failed;
    uint64_t steps;       /* callbacks of the run without injection */
    uint64_t runs;        /* injected runs made */
    uint64_t failed_step; /* the step after which the injection broke the scenario */
    char *message;        /* malloc'd, NULL if every run passed */
    char summary[512];    /* what a passing sweep did ("" if it failed; no need to free) */
} ah_sweep_result;

/* Runs body once to count its steps (dispatched callbacks) N, then once per k in 1..N injecting
 * `fault` right after the k-th callback. Every run must pass, teardown checks included (so every
 * ah_expect_once callback must have fired exactly once). Returns 1 on the first failure. */
int ah_sweep_run(const ah_sweep_opts *opts, ah_body_fn body, ah_fault fault, void *ctx,
                 ah_sweep_result *res);
void ah_sweep_result_free(ah_sweep_result *res);
/* The same, failing the current test on the first failure: ah_sweep_fault(opts, body, fault,
 * ctx). (Variadic so that compound literals with commas pass as arguments.) */
#define ah_sweep_fault(...) ah__sweep_at(__FILE__, __LINE__, __VA_ARGS__)
/* Cancellation sweep, ah_sweep_cancel(opts, body, cancel, ctx): cancel(sim, ctx, 0) is the
 * test's own cancel (kv_cancel, uv_close...). */
#define ah_sweep_cancel(...) ah__sweep_cancel_at(__FILE__, __LINE__, __VA_ARGS__)
void ah__sweep_at(const char *file, int line, const ah_sweep_opts *opts, ah_body_fn body,
                  ah_fault fault, void *ctx);
void ah__sweep_cancel_at(const char *file, int line, const ah_sweep_opts *opts, ah_body_fn body,
                         ah_inject_fn cancel, void *ctx);

/* The next mocked call fails with `err` (a libuv error code). Mocked functions consult
 * ah_mock_injected_error first; the sweep fault below injects it at step k. */
void ah_inject_mock_error(ah_sim *sim, int err);
/* For mocked functions (mocks/mock.c, or a hand-written mock): the error injected for the next
 * mocked call, consumed by this call, or 0. */
int ah_mock_injected_error(ah_sim *sim);

static inline void ah__fault_mock_error(ah_sim *sim, void *ctx, int err)
{
    (void)ctx;
    ah_inject_mock_error(sim, err);
}
/* "Error from the next mocked call" as a sweep fault. */
#define AH_FAULT_MOCK_ERROR(err) ((ah_fault){"mock error", ah__fault_mock_error, (err)})

/* Resetting every open connection of the fake network as a sweep fault (include/ah/net.h). */
void ah_net_reset_all(ah_sim *sim);
static inline void ah__fault_net_reset(ah_sim *sim, void *ctx, int arg)
{
    (void)ctx;
    (void)arg;
    ah_net_reset_all(sim);
}
#define AH_FAULT_NET_RESET ((ah_fault){"net reset", ah__fault_net_reset, 0})

/* ---- callbacks that must fire exactly once ---- */

/* Declares that the callback `name` must fire exactly once before the test ends (the teardown
 * check reports it otherwise). */
#define ah_expect_once(sim, name) ah__expect_once((sim), (name), __FILE__, __LINE__)
void ah__expect_once(ah_sim *sim, const char *name, const char *file, int line);
/* Records that the callback `name` fired; a second firing of a declared one fails at once. */
#define ah_fired(sim, name) ah__fired((sim), (name), __FILE__, __LINE__)
void ah__fired(ah_sim *sim, const char *name, const char *file, int line);
/* How many times `name` fired so far. */
unsigned ah_fired_count(ah_sim *sim, const char *name);

/* ---- race assertions ---- */

/* fn(ctx) is checked after every callback the sim dispatches (and at once); when it returns 0
 * the test fails naming the invariant and the callback that broke it. */
typedef int (*ah_invariant_fn)(void *ctx);
void ah_invariant(ah_sim *sim, ah_invariant_fn fn, void *ctx, const char *name);

/* An exclusive section: between enter and leave (possibly several callbacks apart) no other flow
 * may enter it. A second enter while it is held fails, naming both flows (callback, handle, site
 * and virtual time): the check-then-act race across a callback. */
#define ah_exclusive_enter(sim, name) ah__exclusive_enter((sim), (name), __FILE__, __LINE__)
#define ah_exclusive_leave(sim, name) ah__exclusive_leave((sim), (name), __FILE__, __LINE__)
void ah__exclusive_enter(ah_sim *sim, const char *name, const char *file, int line);
void ah__exclusive_leave(ah_sim *sim, const char *name, const char *file, int line);

/* Records whether `cond` held here. An exploration in which it never held fails ("the path was
 * never reached"). Outside an exploration it only records. Returns cond. */
#define ah_sometimes(cond, name) ah__sometimes(!!(cond), (name), __FILE__, __LINE__)
int ah__sometimes(int cond, const char *name, const char *file, int line);

/* ---- traces ---- */

/* Records the sim's timeline from now on, and writes it to `path` when the sim is freed (Chrome
 * trace-event JSON when path ends in ".json", else text). path may be NULL: record only. The
 * AH_TRACE=path knob does this for every ah_unit_test. */
void ah_trace_record(ah_sim *sim, const char *path);
/* Writes what was recorded so far: text (one line per step: time, track, event) or Chrome
 * trace-event JSON (one track per handle or connection, events at their virtual times; open it in
 * Perfetto). Returns 0, or -1 if the file cannot be written or nothing was recorded. */
int ah_trace_write_text(ah_sim *sim, const char *path);
int ah_trace_write_json(ah_sim *sim, const char *path);

#ifdef __cplusplus
}
#endif

#endif
