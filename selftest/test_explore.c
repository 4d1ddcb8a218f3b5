/* The explorer (docs/exploration.md): strategies, replay by seed and by choice list, the
 * determinism self-check, shrinking, ah_sometimes, sweeps, the race assertions and traces. Each
 * detector is shown firing on a planted bug, beside a correct twin that passes. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

/* ---- a tiny plain-libuv client: connect, send one line, read the reply, close ---- */

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    char buf[64];
    const char *name;
    const char *msg;
} conn;

static char order_log[64];
static conn conns[2];
/* planted: the read callback crashes when b's reply comes first (a signal, not a bad pointer:
 * this binary runs under Valgrind too) */
static int crash_when_b_first;

static void on_close(uv_handle_t *h) { (void)h; }

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    conn *c = h->data;
    (void)size;
    *buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *c = s->data;
    (void)buf;
    if (n == 0)
        return;
    if (n > 0)
        strcat(order_log, c->name);
    if (crash_when_b_first && strcmp(order_log, "b") == 0)
        raise(SIGSEGV);
    uv_close((uv_handle_t *)s, on_close);
}

static void write_cb(uv_write_t *req, int status)
{
    (void)req;
    (void)status;
}

static void connect_cb(uv_connect_t *req, int status)
{
    conn *c = req->handle->data;
    uv_buf_t b = uv_buf_init((char *)c->msg, (unsigned)strlen(c->msg));

    assert_int_equal(status, 0);
    assert_int_equal(uv_write(&c->wreq, req->handle, &b, 1, write_cb), 0);
    assert_int_equal(uv_read_start(req->handle, alloc_cb, read_cb), 0);
}

static void start_conn(conn *c, const char *name, const char *msg, int port)
{
    struct sockaddr_in a;

    memset(c, 0, sizeof(*c));
    c->name = name;
    c->msg = msg;
    uv_tcp_init(uv_default_loop(), &c->tcp);
    c->tcp.data = c;
    uv_ip4_addr("127.0.0.1", port, &a);
    assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&a, connect_cb), 0);
}

typedef struct two_opts {
    int check_order; /* planted: fail when b's reply comes first */
    uint64_t lat_max;
    int want_ba; /* ah_sometimes: b overtakes a in some schedule */
} two_opts;

/* b asks this long after a: overtaking then needs a's latency drawn high (a jitter choice in the
 * hundreds, not a same-instant order). */
static uint64_t b_after_ms;

/* Two clients ask two jittery servers; the replies may come in either order. */
static void two_replies(ah_sim *sim, void *ctx)
{
    const two_opts *o = ctx;
    ah_peer *a = ah_net_listen(sim, "127.0.0.1:7001");
    ah_peer *b = ah_net_listen(sim, "127.0.0.1:7002");

    order_log[0] = '\0';
    ah_peer_expect(a, "a\n");
    ah_peer_reply(a, "A\n");
    ah_peer_expect(b, "b\n");
    ah_peer_reply(b, "B\n");
    ah_net_latency(sim, "127.0.0.1:7001", 1, o->lat_max);
    ah_net_latency(sim, "127.0.0.1:7002", 1, o->lat_max);
    start_conn(&conns[0], "a", "a\n", 7001);
    if (b_after_ms != 0)
        ah_advance(sim, b_after_ms);
    start_conn(&conns[1], "b", "b\n", 7002);
    ah_run_until_idle(sim);
    assert_int_equal(strlen(order_log), 2);
    if (o->want_ba)
        ah_sometimes(strcmp(order_log, "ba") == 0, "b before a");
    if (o->check_order && strcmp(order_log, "ab") != 0)
        ah_fail(sim, "planted: the reply of b arrived before the reply of a (%s)", order_log);
}

/* Explorations run a tenth of their schedules under Valgrind (AH_UNDER_VALGRIND=1). */
static uint64_t scaled(uint64_t n)
{
    const char *v = getenv("AH_UNDER_VALGRIND");
    return v != NULL && strcmp(v, "1") == 0 ? (n + 9) / 10 : n;
}

static ah_explore_opts quiet(ah_strategy s, uint64_t n)
{
    ah_explore_opts o;
    memset(&o, 0, sizeof(o));
    o.strategy = s;
    o.schedules = n;
    o.ignore_env = 1;
    o.trace_path = "explore-test-trace";
    return o;
}

/* Random exploration finds the reordering, the banner carries seed, strategy, name and the
 * command, and the seed replays the same timeline (same trace hash). */
static void random_finds_and_seed_replays(void **state)
{
    two_opts bug = {1, 5, 0};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 1000);
    ah_explore_result r, again;

    (void)state;
    o.name = "random_finds_and_seed_replays";
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &r), 1);
    fprintf(stderr, "%s", r.message);
    assert_true(r.failing_schedule >= 1 && r.failing_schedule <= 1000);
    assert_non_null(strstr(r.message, "explore FAILED: test random_finds_and_seed_replays"));
    assert_non_null(strstr(r.message, "strategy random"));
    assert_non_null(strstr(r.message, "seed "));
    assert_non_null(strstr(r.message, "AH_STRATEGY=random"));
    assert_non_null(strstr(r.message, "--test random_finds_and_seed_replays"));
    assert_non_null(strstr(r.message, "planted: the reply of b arrived before"));
    /* exactly one banner line */
    assert_null(strstr(strstr(r.message, "explore FAILED") + 1, "explore FAILED"));

    o.seed_start = r.seed;
    o.schedules = 1;
    o.no_shrink = 1;
    o.no_trace_file = 1;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &again), 1);
    assert_int_equal(again.failing_schedule, 1);
    assert_int_equal(again.trace_hash, r.trace_hash);
    ah_explore_result_free(&again);

    /* The shrunk schedule replays too, by its choice list. */
    o.strategy = AH_STRATEGY_REPLAY;
    o.replay = r.shrunk_choices;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &again), 1);
    assert_int_equal(again.trace_hash, r.shrunk_hash);
    ah_explore_result_free(&again);
    ah_explore_result_free(&r);
}

static void correct_twin_passes_every_schedule(void **state)
{
    two_opts ok = {0, 5, 1};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 300);
    ah_explore_result r;

    (void)state;
    assert_int_equal(ah_explore_run(&o, two_replies, &ok, &r), 0);
    assert_int_equal(r.schedules_run, scaled(o.schedules));
    assert_null(r.message);
}

static void pct_finds_it(void **state)
{
    two_opts bug = {1, 3, 0};
    ah_explore_opts o = quiet(AH_STRATEGY_PCT, 1000);
    ah_explore_result r, again;

    (void)state;
    o.name = "pct_finds_it";
    o.pct_depth = 2;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &r), 1);
    fprintf(stderr, "pct: found at schedule %llu\n", (unsigned long long)r.failing_schedule);
    assert_non_null(strstr(r.message, "strategy pct (depth 2)"));
    assert_non_null(strstr(r.message, "AH_STRATEGY=pct AH_PCT_DEPTH=2"));
    o.seed_start = r.seed;
    o.schedules = 1;
    o.no_shrink = 1;
    o.no_trace_file = 1;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &again), 1);
    assert_int_equal(again.trace_hash, r.trace_hash);
    ah_explore_result_free(&again);
    ah_explore_result_free(&r);
}

static void exhaustive_enumerates_the_tree(void **state)
{
    two_opts ok = {0, 1, 0}, bug = {1, 1, 0}, wide = {0, 3, 0};
    ah_explore_opts o = quiet(AH_STRATEGY_EXHAUSTIVE, 5000);
    ah_explore_result r;

    (void)state;
    /* no jitter: the only choices are the orders of replies falling due together */
    assert_int_equal(ah_explore_run(&o, two_replies, &ok, &r), 0);
    fprintf(stderr, "exhaustive: %llu schedules enumerate the tree\n",
            (unsigned long long)r.schedules_run);
    assert_true(r.exhausted);
    assert_true(r.schedules_run >= 2);
    /* the cap holds on a tree too big to enumerate */
    o.schedules = 20;
    assert_int_equal(ah_explore_run(&o, two_replies, &wide, &r), 0);
    assert_int_equal(r.schedules_run, scaled(20));
    assert_false(r.exhausted);
    /* and it finds the planted order, replayable by choice list */
    o.schedules = 5000;
    o.name = "exhaustive";
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &r), 1);
    fprintf(stderr, "%s", r.message);
    assert_non_null(strstr(r.message, "strategy exhaustive"));
    assert_non_null(strstr(r.message, "replay: AH_STRATEGY=replay AH_REPLAY="));
    ah_explore_result_free(&r);
}

/* Seeds can be split across CI jobs: the job whose range holds the failing seed finds it. */
static void seed_ranges_split(void **state)
{
    two_opts bug = {1, 5, 0};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 1000);
    ah_explore_result r, part;

    (void)state;
    o.no_shrink = 1;
    o.no_trace_file = 1;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &r), 1);
    o.seed_start = r.seed;
    o.schedules = 10;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &part), 1);
    assert_int_equal(part.seed, r.seed);
    assert_int_equal(part.failing_schedule, 1);
    ah_explore_result_free(&part);
    ah_explore_result_free(&r);
}

/* Orderings libuv guarantees are never choices: same-due timers fire in start order and close
 * callbacks run in libuv's order in every schedule, while same-instant network deliveries do get
 * permuted (ah_sometimes proves it). */
static uv_timer_t ord_t[3];
static char ord_log[32];

static void ord_timer(uv_timer_t *t)
{
    char c = (char)('A' + (t - ord_t));
    strncat(ord_log, &c, 1);
}

static void ord_closed(uv_handle_t *h)
{
    char c = (char)('a' + ((uv_timer_t *)h - ord_t));
    strncat(ord_log, &c, 1);
}

static void guaranteed_orders(ah_sim *sim, void *ctx)
{
    int i;

    (void)ctx;
    ord_log[0] = '\0';
    for (i = 0; i < 3; i++) {
        uv_timer_init(uv_default_loop(), &ord_t[i]);
        uv_timer_start(&ord_t[i], ord_timer, 7, 0);
    }
    two_replies(sim, &(two_opts){0, 2, 1}); /* replies racing at the same instants */
    for (i = 0; i < 3; i++)
        uv_close((uv_handle_t *)&ord_t[i], ord_closed);
    ah_run_until_idle(sim);
    /* start order for the timers, libuv 1.44's LIFO for the closes (diff_close_order) */
    if (strcmp(ord_log, "ABCcba") != 0)
        ah_fail(sim, "timer or close order permuted: %s", ord_log);
}

static void guaranteed_orders_never_permuted(void **state)
{
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 200);
    ah_explore_result r;

    (void)state;
    /* two_replies' ah_sometimes("b before a") proves the network's order did vary */
    if (ah_explore_run(&o, guaranteed_orders, NULL, &r))
        fail_msg("%s", r.message);
    fprintf(stderr, "timers then closes, in every schedule: %s\n", ord_log);
    o.strategy = AH_STRATEGY_PCT;
    if (ah_explore_run(&o, guaranteed_orders, NULL, &r))
        fail_msg("%s", r.message);
}

/* ---- shrinking ---- */

/* Replays the choice list `choices` with choice `index` set to `value` (0 removes it); returns
 * whether that schedule fails. */
static int fails_with_choice(two_opts *bug, const char *choices, unsigned long index,
                             unsigned long long value)
{
    char list[512] = "", item[48];
    const char *p = choices;
    ah_explore_opts o = quiet(AH_STRATEGY_REPLAY, 1);
    int failed;

    while (*p != '\0' && strcmp(choices, "-") != 0) {
        unsigned long i = strtoul(p, (char **)&p, 10);
        unsigned long long v = strtoull(p + 1, (char **)&p, 10);
        if (i == index)
            v = value;
        if (v != 0) {
            snprintf(item, sizeof(item), "%s%lu:%llu", list[0] ? "," : "", i, v);
            strncat(list, item, sizeof(list) - strlen(list) - 1);
        }
        if (*p == ',')
            p++;
    }
    o.replay = list[0] ? list : "-";
    o.no_shrink = 1;
    o.no_trace_file = 1;
    failed = ah_explore_run(&o, two_replies, bug, NULL);
    return failed;
}

/* The shortest schedule is a local minimum within the budget, on jitter choices in the
 * hundreds (the budget ended before, and the "shortest" shrank further when replayed): removing
 * any one choice, or lowering any one by one, passes. */
static void shrinking_reaches_a_local_minimum(void **state)
{
    two_opts bug = {1, 400, 0};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 1000);
    ah_explore_result r;
    const char *p;

    (void)state;
    b_after_ms = 150;
    o.no_trace_file = 1;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &r), 1);
    fprintf(stderr, "shrink: %zu -> %zu non-default choices in %llu runs (%s)\n",
            r.nondefault_before, r.nondefault_after, (unsigned long long)r.shrink_runs,
            r.shrunk_choices);
    assert_int_equal(r.shrink_budget_hit, 0);
    assert_non_null(strstr(r.message, "a local minimum"));
    assert_true(fails_with_choice(&bug, r.shrunk_choices, (unsigned long)-1, 0));
    for (p = r.shrunk_choices; *p != '\0' && strcmp(p, "-") != 0;) {
        unsigned long i = strtoul(p, (char **)&p, 10);
        unsigned long long v = strtoull(p + 1, (char **)&p, 10);
        assert_false(fails_with_choice(&bug, r.shrunk_choices, i, 0));
        assert_false(fails_with_choice(&bug, r.shrunk_choices, i, v - 1));
        if (*p == ',')
            p++;
    }
    b_after_ms = 0;
    ah_explore_result_free(&r);
}

/* With a budget too small, the report says so and prints the command that goes on. */
static void shrinking_says_when_its_budget_ended(void **state)
{
    two_opts bug = {1, 400, 0};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 1000);
    ah_explore_result r;

    (void)state;
    o.no_trace_file = 1;
    o.shrink_runs = 2;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &r), 1);
    assert_int_equal(r.shrink_budget_hit, 1);
    /* (a quarter of the budget under Valgrind: 1 run) */
    assert_non_null(strstr(r.message, " runs) ended before a local minimum; to go on "
                                      "shrinking: AH_SHRINK_RUNS=1000 AH_STRATEGY=replay"));
    ah_explore_result_free(&r);
}

/* A crash in a schedule is the failure found: caught in this process, shrunk and replayed like
 * any other, its report naming the callback that was running. */
static void crashing_schedule_is_shrunk_and_replayed(void **state)
{
    two_opts bug = {0, 20, 0};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 1000);
    ah_explore_result r, again;

    (void)state;
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
    /* Under TSan a crash inside the process is TSan's first (its own SIGSEGV handling): the
     * in-process replay of a crashing schedule is checked by the plain, Valgrind and ASan passes.
     */
    skip();
#endif
#endif
    o.name = "crashing_schedule_is_shrunk_and_replayed";
    o.no_trace_file = 1;
    crash_when_b_first = 1;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &r), 1);
    fprintf(stderr, "%s", r.message);
    assert_non_null(strstr(r.message, "the test crashed: SIGSEGV"));
    assert_non_null(strstr(r.message, "while running read_cb of uv_tcp_t #2"));
    assert_non_null(strstr(r.message, "the shortest fails with: asyncharness: the test crashed"));
    assert_non_null(strstr(r.message, "a local minimum"));
    /* the shortest schedule replays the crash */
    o.strategy = AH_STRATEGY_REPLAY;
    o.replay = r.shrunk_choices;
    o.no_shrink = 1;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &again), 1);
    assert_non_null(strstr(again.message, "the test crashed: SIGSEGV"));
    assert_true(again.trace_hash == r.shrunk_hash);
    crash_when_b_first = 0;
    ah_explore_result_free(&again);
    ah_explore_result_free(&r);
}

/* A passing sweep says what it did. */
static void passing_sweep_says_what_it_did(void **state)
{
    two_opts ok = {0, 5, 0};
    ah_sweep_opts o;
    ah_sweep_result r;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.name = "passing_sweep_says_what_it_did";
    o.ignore_env = 1;
    assert_int_equal(ah_sweep_run(&o, two_replies, AH_FAULT_MOCK_ERROR(UV_EIO), &ok, &r), 0);
    fprintf(stderr, "%s\n", r.summary);
    assert_true(r.summary[0] != '\0');
    assert_non_null(strstr(r.summary, "sweep passed: test passing_sweep_says_what_it_did, mock "
                                      "error injected after each of "));
    assert_true(r.steps > 0 && r.runs == r.steps);
    ah_sweep_result_free(&r);
}

/* A passing exploration says what it did. */
static void passing_exploration_says_what_it_did(void **state)
{
    /* under Valgrind (a tenth of the schedules) "b before a" may not happen: not asked for */
    int full = scaled(50) == 50;
    two_opts ok = {0, 5, full};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 50);
    ah_explore_result r;

    (void)state;
    o.name = "passing_exploration_says_what_it_did";
    assert_int_equal(ah_explore_run(&o, two_replies, &ok, &r), 0);
    fprintf(stderr, "%s\n", r.summary);
    assert_true(r.summary[0] != '\0');
    assert_non_null(
        strstr(r.summary, "explore passed: test passing_exploration_says_what_it_did, "));
    assert_non_null(strstr(r.summary, " schedule(s) of strategy random from seed 1, "));
    assert_true(r.distinct_hashes >= 2 && r.distinct_hashes <= 50);
    assert_non_null(strstr(r.summary, "distinct timeline(s) (trace hashes)"));
    if (full) {
        assert_non_null(strstr(r.summary, "ah_sometimes(\"b before a\") at test_explore.c:"));
        assert_non_null(strstr(r.summary, ": reached (true "));
    }
    assert_true(r.virtual_ms > 0);
    ah_explore_result_free(&r);
}

static void shrinking_drops_needless_choices(void **state)
{
    two_opts bug = {1, 20, 0};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 1000);
    ah_explore_result r;

    (void)state;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &r), 1);
    fprintf(stderr, "shrink: %zu -> %zu non-default choices in %llu runs (%s)\n",
            r.nondefault_before, r.nondefault_after, (unsigned long long)r.shrink_runs,
            r.shrunk_choices);
    assert_true(r.nondefault_after <= r.nondefault_before);
    assert_true(r.nondefault_after >= 1); /* the default schedule passes */
    assert_true(r.nondefault_after <= 2);
    assert_non_null(strstr(r.message, "shrunk: "));
    assert_non_null(strstr(r.message, "the shortest fails with: planted"));
    ah_explore_result_free(&r);
}

/* ---- the determinism self-check ---- */

static uv_timer_t det_timer;
static int det_fired;
static void det_cb(uv_timer_t *t)
{
    (void)t;
    det_fired++;
    uv_close((uv_handle_t *)&det_timer, NULL);
}

static void uses_rand(ah_sim *sim, void *ctx)
{
    (void)ctx;
    uv_timer_init(uv_default_loop(), &det_timer);
    uv_timer_start(&det_timer, det_cb, (uint64_t)(rand() % 1000) + 1, 0); /* planted */
    ah_run_until_idle(sim);
}

static void uses_real_clock(ah_sim *sim, void *ctx)
{
    struct timespec ts;

    (void)ctx;
    ah_real_clock_gettime(CLOCK_MONOTONIC, &ts); /* planted: the real clock decides */
    uv_timer_init(uv_default_loop(), &det_timer);
    uv_timer_start(&det_timer, det_cb, (uint64_t)(ts.tv_nsec / 7) % 1000000 + 1, 0);
    ah_run_until_idle(sim);
}

static void uses_virtual_clock(ah_sim *sim, void *ctx)
{
    (void)ctx;
    uv_timer_init(uv_default_loop(), &det_timer);
    uv_timer_start(&det_timer, det_cb, uv_hrtime() % 1000 + 1, 0);
    ah_run_until_idle(sim);
}

static void determinism_check_catches_rand_and_real_clock(void **state)
{
    char *m;
    int tries;

    (void)state;
    m = ah_check_determinism(NULL, uses_rand, NULL);
    assert_non_null(m);
    fprintf(stderr, "%s\n", m);
    assert_non_null(strstr(m, "nondeterminism"));
    assert_non_null(strstr(m, "first diverging event #1"));
    assert_non_null(strstr(m, "timer_cb"));
    free(m);
    /* the real clock: nanoseconds differ between two runs (three tries against a 1e-6 tie) */
    for (tries = 0, m = NULL; tries < 3 && m == NULL; tries++)
        m = ah_check_determinism(NULL, uses_real_clock, NULL);
    assert_non_null(m);
    assert_non_null(strstr(m, "first diverging event"));
    free(m);
    assert_null(ah_check_determinism(NULL, uses_virtual_clock, NULL));
    assert_null(ah_check_determinism(NULL, two_replies, &(two_opts){0, 5, 0}));
}

static void explorer_runs_the_determinism_check(void **state)
{
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 5);
    ah_explore_result r;

    (void)state;
    o.name = "explorer_runs_the_determinism_check";
    assert_int_equal(ah_explore_run(&o, uses_rand, NULL, &r), 1);
    assert_non_null(strstr(r.message, "determinism self-check"));
    assert_non_null(strstr(r.message, "first diverging event"));
    ah_explore_result_free(&r);
    o.no_determinism_check = 1;
    assert_int_equal(ah_explore_run(&o, uses_rand, NULL, &r), 0);
}

/* ---- ah_sometimes ---- */

static void never_late(ah_sim *sim, void *ctx)
{
    (void)ctx;
    uv_timer_init(uv_default_loop(), &det_timer);
    uv_timer_start(&det_timer, det_cb, 10, 0);
    ah_run_until_idle(sim);
    ah_sometimes(ah_now_ms(sim) > 10, "timer fired late");
}

static void sometimes_needs_the_path_reached(void **state)
{
    two_opts ok = {0, 5, 1};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 300);
    char n[64];
    ah_explore_result r;

    (void)state;
    assert_int_equal(ah_explore_run(&o, two_replies, &ok, &r), 0);
    assert_int_equal(ah_explore_run(&o, never_late, NULL, &r), 1);
    fprintf(stderr, "%s", r.message);
    assert_non_null(strstr(r.message, "ah_sometimes(\"timer fired late\")"));
    assert_non_null(strstr(r.message, "was never true"));
    snprintf(n, sizeof(n), "%llu schedule(s)", (unsigned long long)scaled(300));
    assert_non_null(strstr(r.message, n));
    ah_explore_result_free(&r);
}

/* ---- invariants, exclusive sections, callbacks fired once ---- */

static uv_timer_t t1, t2;
static int balance, planted;

static int balance_ok(void *ctx)
{
    (void)ctx;
    return balance >= 0;
}

static void withdraw_cb(uv_timer_t *t)
{
    balance -= planted ? 150 : 50;
    uv_close((uv_handle_t *)t, NULL);
}

static void invariant_body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    balance = 100;
    ah_invariant(sim, balance_ok, NULL, "balance never negative");
    uv_timer_init(uv_default_loop(), &t1);
    uv_timer_start(&t1, withdraw_cb, 10, 0);
    ah_run_until_idle(sim);
}

static void invariant_checked_after_every_callback(void **state)
{
    (void)state;
    planted = 1;
    ah_assert_fails_with(
        NULL, invariant_body, NULL,
        "invariant \"balance never negative\" broken after timer_cb of uv_timer_t #1");
    planted = 0;
    ah_assert_passes(NULL, invariant_body, NULL);
}

static void section_cb(uv_timer_t *t)
{
    ah_sim *sim = ah_sim_current();

    ah_exclusive_enter(sim, "refill");
    /* planted: the first flow stays inside across callbacks (it waits for a reply) */
    if (t == &t2 || !planted)
        ah_exclusive_leave(sim, "refill");
    uv_close((uv_handle_t *)t, NULL);
}

static void exclusive_body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    uv_timer_init(uv_default_loop(), &t1);
    uv_timer_init(uv_default_loop(), &t2);
    uv_timer_start(&t1, section_cb, 10, 0);
    uv_timer_start(&t2, section_cb, 20, 0);
    ah_run_until_idle(sim);
}

static void exclusive_section_names_both_flows(void **state)
{
    char *m;

    (void)state;
    planted = 1;
    m = ah_capture_failure(NULL, exclusive_body, NULL);
    assert_non_null(m);
    fprintf(stderr, "%s\n", m);
    assert_non_null(strstr(m, "two flows interleave inside exclusive section \"refill\""));
    assert_non_null(strstr(m, "entered by    timer_cb of uv_timer_t #1"));
    assert_non_null(strstr(m, "interleaved by timer_cb of uv_timer_t #2"));
    assert_non_null(strstr(m, "test_explore.c:"));
    assert_non_null(strstr(m, "+10 ms"));
    assert_non_null(strstr(m, "+20 ms"));
    free(m);
    planted = 0;
    ah_assert_passes(NULL, exclusive_body, NULL);
}

static void once_cb(uv_timer_t *t)
{
    ah_sim *sim = ah_sim_current();
    if (t == &t1 || planted == 2)
        ah_fired(sim, "reply cb");
    uv_close((uv_handle_t *)t, NULL);
}

static void once_body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    ah_expect_once(sim, "reply cb");
    uv_timer_init(uv_default_loop(), &t1);
    uv_timer_init(uv_default_loop(), &t2);
    if (planted != 1)
        uv_timer_start(&t1, once_cb, 10, 0);
    else
        uv_close((uv_handle_t *)&t1, NULL);
    uv_timer_start(&t2, once_cb, 20, 0);
    ah_run_until_idle(sim);
}

static void callbacks_fire_exactly_once(void **state)
{
    (void)state;
    planted = 1;
    ah_assert_fails_with(NULL, once_body, NULL, "callback \"reply cb\" never fired");
    planted = 2;
    ah_assert_fails_with(NULL, once_body, NULL, "callback \"reply cb\" fired twice");
    planted = 0;
    ah_assert_passes(NULL, once_body, NULL);
}

/* ---- sweeps ---- */

/* A request with a reply callback that must fire exactly once, whatever happens. */
typedef struct req {
    conn c;
    int done;
    int planted; /* forgets the callback when the connection fails or is cancelled */
    ah_sim *sim;
} req;

static void req_finish(req *r, int status)
{
    (void)status;
    if (r->done)
        return;
    r->done = 1;
    ah_fired(r->sim, "request cb");
}

static void req_close_cb(uv_handle_t *h) { (void)h; }

static void req_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    req *r = s->data;
    (void)buf;
    if (n == 0)
        return;
    if (n > 0 || !r->planted)
        req_finish(r, n > 0 ? 0 : (int)n);
    if (!uv_is_closing((uv_handle_t *)s))
        uv_close((uv_handle_t *)s, req_close_cb);
}

static void req_written(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
}

static void req_connected(uv_connect_t *cr, int status)
{
    req *r = cr->handle->data;
    uv_buf_t b = uv_buf_init("get\n", 4);

    if (status < 0) {
        if (!r->planted)
            req_finish(r, status);
        return;
    }
    uv_write(&r->c.wreq, cr->handle, &b, 1, req_written);
    uv_read_start(cr->handle, alloc_cb, req_read);
}

static req sweep_req;

static void request_body(ah_sim *sim, void *ctx)
{
    req *r = ctx;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:7100");
    struct sockaddr_in a;
    int planted_ = r->planted;

    memset(r, 0, sizeof(*r));
    r->planted = planted_;
    r->sim = sim;
    ah_peer_expect(p, "get\n");
    ah_peer_reply_after(p, 5, "val\n");
    ah_net_latency(sim, "127.0.0.1:7100", 2, 2);
    ah_expect_once(sim, "request cb");
    uv_tcp_init(uv_default_loop(), &r->c.tcp);
    r->c.tcp.data = r;
    uv_ip4_addr("127.0.0.1", 7100, &a);
    uv_tcp_connect(&r->c.creq, &r->c.tcp, (const struct sockaddr *)&a, req_connected);
    ah_run_until_idle(sim);
}

/* The cancel: close the connection; the request must still be answered (with an error). */
static void req_cancel(ah_sim *sim, void *ctx, int arg)
{
    req *r = ctx;
    (void)sim;
    (void)arg;
    if (!uv_is_closing((uv_handle_t *)&r->c.tcp)) {
        if (!r->planted)
            req_finish(r, UV_ECANCELED);
        uv_close((uv_handle_t *)&r->c.tcp, req_close_cb);
    }
}

static void sweeps_inject_at_every_step(void **state)
{
    ah_sweep_opts so;
    ah_sweep_result res;

    (void)state;
    memset(&so, 0, sizeof(so));
    so.ignore_env = 1;
    so.name = "sweeps_inject_at_every_step";
    /* cancellation */
    sweep_req.planted = 0;
    assert_int_equal(
        ah_sweep_run(&so, request_body, (ah_fault){"cancel", req_cancel, 0}, &sweep_req, &res), 0);
    fprintf(stderr, "cancel sweep: %llu steps, %llu runs\n", (unsigned long long)res.steps,
            (unsigned long long)res.runs);
    assert_true(res.steps >= 3);
    assert_int_equal(res.runs, res.steps);
    sweep_req.planted = 1;
    assert_int_equal(
        ah_sweep_run(&so, request_body, (ah_fault){"cancel", req_cancel, 0}, &sweep_req, &res), 1);
    fprintf(stderr, "%s\n", res.message);
    assert_non_null(strstr(res.message, "cancel injected after step 1 of"));
    assert_non_null(strstr(res.message, "callback \"request cb\" never fired"));
    assert_non_null(strstr(res.message, "AH_SWEEP_STEP=1"));
    ah_sweep_result_free(&res);
    /* a reset of every connection */
    sweep_req.planted = 0;
    assert_int_equal(ah_sweep_run(&so, request_body, AH_FAULT_NET_RESET, &sweep_req, &res), 0);
    sweep_req.planted = 1;
    assert_int_equal(ah_sweep_run(&so, request_body, AH_FAULT_NET_RESET, &sweep_req, &res), 1);
    assert_non_null(strstr(res.message, "net reset injected after step"));
    assert_non_null(strstr(res.message, "never fired"));
    ah_sweep_result_free(&res);
}

/* "Error from the next mocked call": a hand-written async mock consults the injected error. */
static uv_timer_t mock_timer;
static int mock_status;
static int mock_calls;

static void mock_done(uv_timer_t *t)
{
    ah_sim *sim = ah_sim_current();
    (void)t;
    ah_fired(sim, "fetch cb");
    if (mock_status < 0 && !planted)
        ah_fired(sim, "fallback cb"); /* the correct code handles the failure */
    uv_close((uv_handle_t *)&mock_timer, NULL);
}

static void mocked_fetch(ah_sim *sim)
{
    mock_calls++;
    mock_status = ah_mock_injected_error(sim);
    uv_timer_start(&mock_timer, mock_done, 3, 0);
}

static uv_timer_t kick, kick2;
static void kick2_cb(uv_timer_t *t)
{
    mocked_fetch(ah_sim_current());
    uv_close((uv_handle_t *)t, NULL);
}

static void kick_cb(uv_timer_t *t)
{
    uv_timer_start(&kick2, kick2_cb, 1, 0);
    uv_close((uv_handle_t *)t, NULL);
}

static void mock_body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    mock_calls = 0;
    mock_status = 0;
    ah_expect_once(sim, "fetch cb");
    uv_timer_init(uv_default_loop(), &mock_timer);
    uv_timer_init(uv_default_loop(), &kick);
    uv_timer_init(uv_default_loop(), &kick2);
    uv_timer_start(&kick, kick_cb, 1, 0);
    ah_run_until_idle(sim);
    if (mock_status < 0 && planted == 0)
        assert_int_equal(ah_fired_count(sim, "fallback cb"), 1);
    if (mock_status < 0 && planted)
        ah_fail(sim, "planted: the failed fetch (%s) was taken for a success",
                uv_err_name(mock_status));
}

static void mock_error_fault_sweep(void **state)
{
    ah_sweep_opts so;
    ah_sweep_result res;

    (void)state;
    memset(&so, 0, sizeof(so));
    so.ignore_env = 1;
    planted = 0;
    assert_int_equal(ah_sweep_run(&so, mock_body, AH_FAULT_MOCK_ERROR(UV_ECONNREFUSED), NULL, &res),
                     0);
    planted = 1;
    assert_int_equal(ah_sweep_run(&so, mock_body, AH_FAULT_MOCK_ERROR(UV_ECONNREFUSED), NULL, &res),
                     1);
    fprintf(stderr, "%s\n", res.message);
    assert_non_null(strstr(res.message, "mock error injected after step"));
    assert_non_null(strstr(res.message, "planted: the failed fetch (ECONNREFUSED)"));
    ah_sweep_result_free(&res);
    planted = 0;
}

/* ---- traces ---- */

static void trace_text_and_json(void **state)
{
    ah_sim *sim = ah_sim_new(&(ah_sim_opts){.name = "trace_text_and_json"});
    FILE *f;
    char line[512];
    int lines = 0, cmd;

    (void)state;
    ah_trace_record(sim, NULL);
    two_replies(sim, &(two_opts){0, 5, 0});
    assert_int_equal(ah_trace_write_text(sim, "trace-test.txt"), 0);
    assert_int_equal(ah_trace_write_json(sim, "trace-test.json"), 0);
    ah_sim_free(sim);
    f = fopen("trace-test.txt", "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (lines == 0)
            fprintf(stderr, "first trace line: %s", line);
        lines++;
    }
    fclose(f);
    assert_true(lines > 8);
    cmd = system("python3 -m json.tool trace-test.json >/dev/null");
    if (cmd != 0 && system("command -v python3 >/dev/null 2>&1") != 0) {
        fprintf(stderr, "python3 missing: JSON not validated\n");
        return;
    }
    assert_int_equal(cmd, 0);
    /* and the tracks are named per handle or connection */
    f = fopen("trace-test.json", "r");
    assert_non_null(f);
    {
        int tracks = 0;
        while (fgets(line, sizeof(line), f) != NULL)
            tracks += strstr(line, "thread_name") != NULL;
        assert_true(tracks >= 3);
    }
    fclose(f);
}

/* ah_trace_record (what AH_TRACE does for every ah_unit_test) writes the file when the sim is
 * freed; a run's trace hash is the same with and without recording. */
static void trace_recorded_at_free(void **state)
{
    ah_sim *sim = ah_sim_new(&(ah_sim_opts){.name = "recorded"});
    ah_sim *plain;
    uint64_t h1;
    FILE *f;

    (void)state;
    remove("trace-rec.json");
    ah_trace_record(sim, "trace-rec.json");
    two_replies(sim, &(two_opts){0, 5, 0});
    h1 = ah_trace_hash(sim);
    ah_sim_free(sim);
    f = fopen("trace-rec.json", "r");
    assert_non_null(f);
    fclose(f);
    if (system("command -v python3 >/dev/null 2>&1") == 0)
        assert_int_equal(system("python3 -m json.tool trace-rec.json >/dev/null"), 0);
    plain = ah_sim_new(&(ah_sim_opts){.name = "recorded"});
    two_replies(plain, &(two_opts){0, 5, 0});
    assert_int_equal(ah_trace_hash(plain), h1);
    ah_sim_free(plain);
}

static void failing_exploration_writes_its_trace(void **state)
{
    two_opts bug = {1, 5, 0};
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 1000);
    ah_explore_result r;
    char cmd[700];

    (void)state;
    assert_int_equal(ah_explore_run(&o, two_replies, &bug, &r), 1);
    assert_string_equal(r.trace_file, "explore-test-trace.json");
    assert_non_null(strstr(r.message, "explore-test-trace.txt"));
    snprintf(cmd, sizeof(cmd), "python3 -m json.tool %s >/dev/null", r.trace_file);
    if (system("command -v python3 >/dev/null 2>&1") == 0)
        assert_int_equal(system(cmd), 0);
    ah_explore_result_free(&r);
}

/* cmocka's own assertions inside a captured run become failures of that run (not a jump out of
 * the explorer), with their message. */
static void cmocka_assert_body(ah_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
    assert_int_equal(1 + 1, 3);
}

static void cmocka_assertions_are_captured(void **state)
{
    ah_explore_opts o = quiet(AH_STRATEGY_RANDOM, 3);
    ah_explore_result r;

    (void)state;
    ah_assert_fails_with(NULL, cmocka_assert_body, NULL, "0x2 != 0x3");
    ah_assert_fails_with(NULL, cmocka_assert_body, NULL, "cmocka assertion failed at");
    o.no_trace_file = 1;
    assert_int_equal(ah_explore_run(&o, cmocka_assert_body, NULL, &r), 1);
    assert_non_null(strstr(r.message, "explore FAILED"));
    assert_non_null(strstr(r.message, "0x2 != 0x3"));
    ah_explore_result_free(&r);
}

/* The failing forms used in tests: ah_explore, ah_sweep_cancel and ah_sweep_fault (correct twins).
 */
static void the_test_macros(void **state)
{
    ah_explore_opts o = quiet(AH_STRATEGY_PCT, 50);

    (void)state;
    ah_explore(&o, two_replies, &(two_opts){0, 5, 0});
    sweep_req.planted = 0;
    ah_sweep_cancel(NULL, request_body, req_cancel, &sweep_req);
    ah_sweep_fault(NULL, request_body, AH_FAULT_NET_RESET, &sweep_req);
    /* the result may be NULL: only the verdict (and nothing leaks under Valgrind) */
    o.no_trace_file = 1;
    assert_int_equal(ah_explore_run(&o, two_replies, &(two_opts){1, 5, 0}, NULL), 1);
    sweep_req.planted = 1;
    assert_int_equal(ah_sweep_run(NULL, request_body, AH_FAULT_NET_RESET, &sweep_req, NULL), 1);
    sweep_req.planted = 0;
}

/* ---- the cmocka wrapper: a whole test function explored ---- */

static void explored_test(void **state) { two_replies(*state, &(two_opts){0, 5, 0}); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_finds_and_seed_replays),
        cmocka_unit_test(correct_twin_passes_every_schedule),
        cmocka_unit_test(pct_finds_it),
        cmocka_unit_test(exhaustive_enumerates_the_tree),
        cmocka_unit_test(seed_ranges_split),
        cmocka_unit_test(guaranteed_orders_never_permuted),
        cmocka_unit_test(shrinking_drops_needless_choices),
        cmocka_unit_test(shrinking_reaches_a_local_minimum),
        cmocka_unit_test(shrinking_says_when_its_budget_ended),
        cmocka_unit_test(passing_exploration_says_what_it_did),
        cmocka_unit_test(crashing_schedule_is_shrunk_and_replayed),
        cmocka_unit_test(passing_sweep_says_what_it_did),
        cmocka_unit_test(determinism_check_catches_rand_and_real_clock),
        cmocka_unit_test(explorer_runs_the_determinism_check),
        cmocka_unit_test(sometimes_needs_the_path_reached),
        cmocka_unit_test(invariant_checked_after_every_callback),
        cmocka_unit_test(exclusive_section_names_both_flows),
        cmocka_unit_test(callbacks_fire_exactly_once),
        cmocka_unit_test(sweeps_inject_at_every_step),
        cmocka_unit_test(mock_error_fault_sweep),
        cmocka_unit_test(trace_text_and_json),
        cmocka_unit_test(trace_recorded_at_free),
        cmocka_unit_test(failing_exploration_writes_its_trace),
        cmocka_unit_test(cmocka_assertions_are_captured),
        cmocka_unit_test(the_test_macros),
        ah_explore_test(explored_test),
    };
    return ah_run_tests(tests);
}
