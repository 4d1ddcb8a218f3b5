/* Thread benchmarks, built twice from one source (bench_threads_real on libuv and the C
 * library's threads, bench_threads_sim on the harness):
 *
 *   bench_threads pingpong N   two threads hand a token back and forth N times through a
 *                              uv_mutex_t and two uv_cond_t: ns per switch (a handover)
 *   bench_threads explore N    (harness only) N schedules of a two-thread test explored with
 *                              ah_explore_run: schedules per second
 *
 * On the harness a switch is a baton handover between two OS threads, or with AH_THREADS=contexts
 * a stack switch on one (docs/threads.md); on the C library it is a futex wake-up of the other
 * thread. Goals (issue 21): a switch at most half the C library's, >= 20,000 schedules/s. */
#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef BENCH_SIM
#include <ah/ah.h>
#endif

static uv_mutex_t mu;
static uv_cond_t cv[2];
static int turn;
static long rounds;

static void player(void *arg)
{
    int me = (int)(intptr_t)arg;
    long i;

    uv_mutex_lock(&mu);
    for (i = 0; i < rounds; i++) {
        while (turn != me)
            uv_cond_wait(&cv[me], &mu);
        turn = !me;
        uv_cond_signal(&cv[!me]);
    }
    uv_mutex_unlock(&mu);
}

static double now_s(void)
{
    struct timespec ts;
#ifdef BENCH_SIM
    /* The harness build: clock_gettime reads the virtual clock while a sim runs. */
    ah_real_clock_gettime(CLOCK_MONOTONIC, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pingpong(long n)
{
    uv_thread_t a, b;
    double t0, t1;

    rounds = n;
    uv_mutex_init(&mu);
    uv_cond_init(&cv[0]);
    uv_cond_init(&cv[1]);
    turn = 0;
    t0 = now_s();
    uv_thread_create(&a, player, (void *)(intptr_t)0);
    uv_thread_create(&b, player, (void *)(intptr_t)1);
    uv_thread_join(&a);
    uv_thread_join(&b);
    t1 = now_s();
    printf("switches=%ld ns_per_switch=%.0f\n", 2 * n, (t1 - t0) * 1e9 / (double)(2 * n));
}

#ifdef BENCH_SIM
static int counter;

static void bump(void *arg)
{
    (void)arg;
    uv_mutex_lock(&mu);
    counter++;
    uv_mutex_unlock(&mu);
}

static void two_threads(ah_sim *sim, void *ctx)
{
    uv_thread_t a, b;
    (void)sim;
    (void)ctx;
    counter = 0;
    uv_mutex_init(&mu);
    uv_thread_create(&a, bump, NULL);
    uv_thread_create(&b, bump, NULL);
    uv_thread_join(&a);
    uv_thread_join(&b);
    uv_mutex_destroy(&mu);
    if (counter != 2)
        abort();
}

static void explore(long n)
{
    ah_explore_opts o;
    ah_explore_result r;
    double t0, t1;

    memset(&o, 0, sizeof(o));
    o.name = "two_threads";
    o.schedules = (uint64_t)n;
    o.ignore_env = 1;
    t0 = now_s();
    if (ah_explore_run(&o, two_threads, NULL, &r) != 0) {
        fprintf(stderr, "%s\n", r.message);
        exit(1);
    }
    t1 = now_s();
    printf("schedules=%llu schedules_per_s=%.0f\n", (unsigned long long)r.schedules_run,
           (double)r.schedules_run / (t1 - t0));
    ah_explore_result_free(&r);
}
#endif

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "pingpong";
    long n = argc > 2 ? atol(argv[2]) : 100000;

#ifdef BENCH_SIM
    ah_sim *sim = ah_sim_new(NULL); /* the threads are the sim's */
#endif
    if (strcmp(mode, "pingpong") == 0)
        pingpong(n);
#ifdef BENCH_SIM
    else if (strcmp(mode, "explore") == 0)
        explore(n);
    ah_sim_free(sim);
#endif
    return 0;
}
