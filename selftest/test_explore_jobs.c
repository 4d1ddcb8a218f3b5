/* Exploration across processes and CI jobs (docs/exploration.md): opts.jobs / AH_JOBS runs the
 * schedules in worker processes and reports the failure one process reports; opts.shard /
 * AH_SHARD runs a disjoint slice with the seeds of the unsharded run, so a failure found in one
 * slice replays anywhere. Each planted failure has its correct twin. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* ---- a client asking a jittery server once ---- */

typedef struct body_opts {
    uint64_t fail_after_ms; /* planted: fail when the exchange took longer (0: never) */
    uint64_t crash_seed;    /* planted: abort() in the schedule of this seed (0: never) */
    int never;              /* planted: an ah_sometimes that never holds */
    int record;             /* record each schedule's seed in `seeds` */
} body_opts;

static uv_tcp_t tcp;
static uv_connect_t creq;
static uv_write_t wreq;
static char rbuf[16];
static int replied;
static uint64_t seeds[64];
static size_t nseeds;

static void on_close(uv_handle_t *h) { (void)h; }

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n > 0)
        replied = 1;
    if (n != 0)
        uv_close((uv_handle_t *)s, on_close);
}

static void write_cb(uv_write_t *req, int status)
{
    (void)req;
    (void)status;
}

static void connect_cb(uv_connect_t *req, int status)
{
    uv_buf_t b = uv_buf_init("q\n", 2);

    assert_int_equal(status, 0);
    assert_int_equal(uv_write(&wreq, req->handle, &b, 1, write_cb), 0);
    assert_int_equal(uv_read_start(req->handle, alloc_cb, read_cb), 0);
}

static void ask_once(ah_sim *sim, void *ctx)
{
    const body_opts *o = ctx;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:7100");
    struct sockaddr_in a;

    if (o->record && nseeds < sizeof(seeds) / sizeof(seeds[0]))
        seeds[nseeds++] = ah_sim_seed(sim);
    if (o->crash_seed != 0 && ah_sim_seed(sim) == o->crash_seed)
        abort();
    replied = 0;
    ah_peer_expect(p, "q\n");
    ah_peer_reply(p, "r\n");
    ah_net_latency(sim, "127.0.0.1:7100", 1, 20);
    uv_tcp_init(uv_default_loop(), &tcp);
    uv_ip4_addr("127.0.0.1", 7100, &a);
    assert_int_equal(uv_tcp_connect(&creq, &tcp, (const struct sockaddr *)&a, connect_cb), 0);
    ah_run_until_idle(sim);
    assert_true(replied);
    ah_sometimes(ah_now_ms(sim) > 45, "a slow exchange");
    if (o->never)
        ah_sometimes(0, "never");
    if (o->fail_after_ms != 0 && ah_now_ms(sim) > o->fail_after_ms)
        ah_fail(sim, "planted: the exchange took %llu ms", (unsigned long long)ah_now_ms(sim));
}

/* Explorations run a tenth of their schedules under Valgrind (AH_UNDER_VALGRIND=1): what the
 * explorer makes of `n`. */
static uint64_t scaled(uint64_t n)
{
    const char *v = getenv("AH_UNDER_VALGRIND");
    return v != NULL && strcmp(v, "1") == 0 ? (n + 9) / 10 : n;
}

static ah_explore_opts opts(uint64_t n, unsigned jobs)
{
    ah_explore_opts o;
    memset(&o, 0, sizeof(o));
    o.name = "ask_once";
    o.strategy = AH_STRATEGY_RANDOM;
    o.schedules = n;
    o.ignore_env = 1;
    o.jobs = jobs;
    o.no_trace_file = 1;
    return o;
}

/* The slowest exchanges (three latencies near 20 ms) are rare: the first failing schedule is
 * somewhere inside the run, so workers run schedules on both sides of it. */
static const body_opts slow_bug = {.fail_after_ms = 80};

/* With 2 and 3 workers the report is the one a single process makes: the same (lowest) failing
 * schedule, seed, trace hash, shrunk schedule and message. */
static void jobs_report_what_one_process_reports(void **state)
{
    ah_explore_result one, two, three;
    ah_explore_opts o1 = opts(2000, 1), o2 = opts(2000, 2), o3 = opts(2000, 3);

    (void)state;
    assert_int_equal(ah_explore_run(&o1, ask_once, (void *)&slow_bug, &one), 1);
    assert_int_equal(ah_explore_run(&o2, ask_once, (void *)&slow_bug, &two), 1);
    assert_int_equal(ah_explore_run(&o3, ask_once, (void *)&slow_bug, &three), 1);
    fprintf(stderr, "%s", two.message);
    assert_true(one.failing_schedule > 2); /* else the workers had nothing to race over */
    assert_int_equal(two.failing_schedule, one.failing_schedule);
    assert_int_equal(three.failing_schedule, one.failing_schedule);
    assert_int_equal(two.seed, one.seed);
    assert_int_equal(two.trace_hash, one.trace_hash);
    assert_int_equal(two.shrunk_hash, one.shrunk_hash);
    assert_string_equal(two.shrunk_choices, one.shrunk_choices);
    assert_string_equal(two.replay, one.replay);
    assert_string_equal(two.message, one.message);
    assert_string_equal(three.message, one.message);
    assert_true(two.schedules_run >= one.failing_schedule);
    ah_explore_result_free(&one);
    ah_explore_result_free(&two);
    ah_explore_result_free(&three);
}

/* The correct twin: every schedule runs, in the workers, and passes. */
static void jobs_run_every_schedule_of_a_correct_test(void **state)
{
    body_opts ok = {0};
    ah_explore_result r;
    ah_explore_opts o = opts(300, 2);

    (void)state;
    assert_int_equal(ah_explore_run(&o, ask_once, &ok, &r), 0);
    assert_int_equal(r.schedules_run, scaled(300));
    ah_explore_result_free(&r);
}

/* ah_sometimes counts come back from the workers: "a slow exchange" held in some worker's
 * schedule (the run passes, as in one process); one that never held fails the run. */
static void jobs_merge_sometimes_from_the_workers(void **state)
{
    body_opts never = {.never = 1};
    ah_explore_result r;
    ah_explore_opts o = opts(300, 2);

    (void)state;
    assert_int_equal(ah_explore_run(&o, ask_once, &never, &r), 1);
    assert_non_null(strstr(r.message, "ah_sometimes(\"never\") at test_explore_jobs.c:"));
    assert_null(strstr(r.message, "a slow exchange"));
    ah_explore_result_free(&r);
}

/* A schedule that kills its worker is run again by the parent, where the crash handler makes the
 * crash that schedule's failure, reported with its seed and replay command. */
static void jobs_report_a_worker_that_died(void **state)
{
    body_opts crash = {.crash_seed = 3};
    ah_explore_result r;
    ah_explore_opts o = opts(40, 2);

    (void)state;
    assert_int_equal(ah_explore_run(&o, ask_once, &crash, &r), 1);
    fprintf(stderr, "%s", r.message);
    assert_non_null(strstr(r.message, ", strategy random, seed 3, trace hash "));
    assert_non_null(strstr(r.message, "replay: AH_SEED=3 AH_STRATEGY=random"));
    assert_non_null(strstr(r.message, "the test crashed: SIGABRT"));
    assert_non_null(strstr(r.message, "worker 1 died of signal 6 running this schedule"));
    assert_int_equal(r.seed, 3);
    ah_explore_result_free(&r);
}

/* Shards K/3 of 20 schedules run disjoint slices whose union is the unsharded run's seeds. */
static void shards_partition_the_seeds(void **state)
{
    body_opts rec = {.record = 1};
    int seen[21] = {0};
    uint64_t n = scaled(20);
    unsigned k;
    size_t i;

    (void)state;
    for (k = 1; k <= 3; k++) {
        ah_explore_opts o = opts(20, 1);
        o.shard = k;
        o.shards = 3;
        o.seed_start = 1;
        o.no_determinism_check = 1;
        nseeds = 0;
        assert_int_equal(ah_explore_run(&o, ask_once, &rec, NULL), 0);
        for (i = 0; i < nseeds; i++) {
            assert_true(seeds[i] >= 1 && seeds[i] <= n);
            assert_int_equal((seeds[i] - 1) % 3, k - 1);
            assert_int_equal(seen[seeds[i]], 0);
            seen[seeds[i]] = 1;
        }
    }
    for (i = 1; i <= n; i++)
        assert_int_equal(seen[i], 1);
}

/* The failure of the unsharded run is found by the shard holding it, with the same banner, and
 * its seed replays the same timeline without any shard setting. */
static void a_shard_finds_the_unsharded_failure_and_it_replays(void **state)
{
    ah_explore_result all, shard, replay;
    ah_explore_opts o = opts(2000, 1), os, orep;

    (void)state;
    assert_int_equal(ah_explore_run(&o, ask_once, (void *)&slow_bug, &all), 1);
    os = opts(2000, 1);
    os.shards = 4;
    os.shard = (unsigned)((all.failing_schedule - 1) % 4) + 1;
    assert_int_equal(ah_explore_run(&os, ask_once, (void *)&slow_bug, &shard), 1);
    fprintf(stderr, "%s", shard.message);
    assert_int_equal(shard.failing_schedule, all.failing_schedule);
    assert_int_equal(shard.trace_hash, all.trace_hash);
    assert_string_equal(shard.message, all.message);
    assert_true(shard.schedules_run <= (all.failing_schedule + 3) / 4);
    orep = opts(1, 1);
    orep.seed_start = shard.seed;
    assert_int_equal(ah_explore_run(&orep, ask_once, (void *)&slow_bug, &replay), 1);
    assert_int_equal(replay.trace_hash, shard.trace_hash);
    ah_explore_result_free(&all);
    ah_explore_result_free(&shard);
    ah_explore_result_free(&replay);
}

/* The correct twin of sharding: a shard of a passing test passes, and does not judge
 * ah_sometimes (its slice may miss a path the whole run reaches). */
static void a_shard_of_a_correct_test_passes(void **state)
{
    body_opts never = {.never = 1};
    ah_explore_opts o = opts(30, 2);

    (void)state;
    o.shard = 2;
    o.shards = 3;
    assert_int_equal(ah_explore_run(&o, ask_once, &never, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(jobs_report_what_one_process_reports),
        ah_unit_test(jobs_run_every_schedule_of_a_correct_test),
        ah_unit_test(jobs_merge_sometimes_from_the_workers),
        ah_unit_test(jobs_report_a_worker_that_died),
        ah_unit_test(shards_partition_the_seeds),
        ah_unit_test(a_shard_finds_the_unsharded_failure_and_it_replays),
        ah_unit_test(a_shard_of_a_correct_test_passes),
    };
    return ah_run_tests(tests);
}
