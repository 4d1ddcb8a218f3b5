/* Exploration benchmark: schedules explored per second on a kvclient pipeline.
 *
 *   bench_explore [SCHEDULES [COMMANDS [JOBS]]]     (defaults 20000, 8 and 1)
 *
 * COMMANDS = 0 explores an empty body: the fixed cost of a schedule.
 *
 * Each schedule is a fresh sim in which the real client (examples/kvclient, compiled unchanged
 * against the harness) connects to a scripted Redis peer whose latency is jittered in [1, 3] ms,
 * pipelines COMMANDS GETs, checks every reply, and closes. The explorer runs it under random
 * schedules (the determinism self-check included) in JOBS worker processes (AH_JOBS) and the
 * program prints one line: schedules per second of wall time, and the work in each schedule.
 * Goal: 5,000 schedules/s on one core. */
#include <ah/ah.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "kvclient.h"

static unsigned ncmd = 8;
static unsigned answered, bad;
static uint64_t virtual_ms;

static void got(kv_req *req, int status, const kv_reply *reply, void *data)
{
    unsigned i = (unsigned)(uintptr_t)data;
    char want[32];

    (void)req;
    snprintf(want, sizeof(want), "v%u", i);
    if (status != 0 || reply == NULL || reply->str == NULL || strcmp(reply->str, want) != 0)
        bad++;
    answered++;
}

static int all_answered(void *ctx)
{
    (void)ctx;
    return answered == ncmd;
}

/* COMMANDS = 0: an empty schedule, the fixed cost of one (a fresh sim, the body's call, the
 * teardown checks, the determinism bookkeeping). */
static void empty(ah_sim *sim, void *ctx)
{
    (void)ctx;
    virtual_ms = ah_now_ms(sim);
}

static void pipeline(ah_sim *sim, void *ctx)
{
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");
    kv_client *c;
    char cmd[64], rep[64], key[16];
    unsigned i;

    (void)ctx;
    answered = bad = 0;
    for (i = 0; i < ncmd; i++) {
        snprintf(cmd, sizeof(cmd), "*2\r\n$3\r\nGET\r\n$%zu\r\nk%u\r\n",
                 strlen("k") + (size_t)snprintf(NULL, 0, "%u", i), i);
        snprintf(rep, sizeof(rep), "$%zu\r\nv%u\r\n", 1 + (size_t)snprintf(NULL, 0, "%u", i), i);
        ah_peer_expect(p, cmd);
        ah_peer_reply(p, rep);
    }
    ah_net_latency(sim, "127.0.0.1:6379", 1, 3);
    c = kv_new(uv_default_loop(), "127.0.0.1", 6379, &(kv_opts){.timeout_ms = 5000});
    for (i = 0; i < ncmd; i++) {
        snprintf(key, sizeof(key), "k%u", i);
        kv_get(c, key, got, (void *)(uintptr_t)i);
    }
    ah_run_until(sim, all_answered, NULL);
    kv_close(c, NULL, NULL);
    ah_run_until_idle(sim);
    if (bad != 0)
        ah_fail(sim, "%u of %u replies were wrong", bad, ncmd);
    virtual_ms = ah_now_ms(sim);
}

/* CPU seconds of this process and its finished children (the workers). */
static double cpu_s(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
                    kids.ru_stime.tv_sec) +
           (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
                    kids.ru_stime.tv_usec) /
               1e6;
}

static double now_s(void)
{
    struct timespec ts;
    ah_real_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000;
    ah_explore_opts o;
    ah_explore_result r;
    double t0, t1, c0, c1;
    unsigned jobs = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1;

    if (argc > 2)
        ncmd = (unsigned)strtoul(argv[2], NULL, 10);
    memset(&o, 0, sizeof(o));
    o.name = "bench_explore";
    o.strategy = AH_STRATEGY_RANDOM;
    o.schedules = n;
    o.ignore_env = 1;
    o.jobs = jobs;
    t0 = now_s();
    c0 = cpu_s();
    if (ah_explore_run(&o, ncmd == 0 ? empty : pipeline, NULL, &r)) {
        fprintf(stderr, "%s", r.message);
        ah_explore_result_free(&r);
        return 1;
    }
    t1 = now_s();
    c1 = cpu_s();
    if (ncmd == 0)
        printf("bench_explore: %llu empty schedules", (unsigned long long)r.schedules_run);
    else
        printf("bench_explore: %llu schedules of a %u-command kvclient pipeline",
               (unsigned long long)r.schedules_run, ncmd);
    printf(" in %.3f s: %.0f schedules/s, %.1f us of CPU each (random strategy, %u job%s", t1 - t0,
           (double)r.schedules_run / (t1 - t0), (c1 - c0) * 1e6 / (double)r.schedules_run, jobs,
           jobs == 1 ? "" : "s");
    if (jobs == 1) /* the workers' schedules ran in other processes */
        printf("; last schedule ended at +%llu ms virtual", (unsigned long long)virtual_ms);
    printf(")\n");
    return 0;
}
