/* rooms_empty N: explores N schedules of a timer-only body (a timer started, fired and closed),
 * each a fresh sim, and prints "explored N". rooms_syscalls.sh counts the real system calls of
 * two runs with different N: an empty schedule must make none. */
#include <ah/ah.h>

#include <stdio.h>
#include <stdlib.h>

static void on_timer(uv_timer_t *t) { (void)t; }

static void timer_only(ah_sim *sim, void *ctx)
{
    uv_timer_t t;

    (void)ctx;
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, on_timer, 25, 0);
    ah_run_until_idle(sim);
    uv_close((uv_handle_t *)&t, NULL);
    ah_run_until_idle(sim);
}

int main(int argc, char **argv)
{
    ah_explore_opts o = {.ignore_env = 1, .no_trace_file = 1};
    ah_explore_result r;

    o.schedules = argc > 1 ? strtoull(argv[1], NULL, 10) : 100;
    if (ah_explore_run(&o, timer_only, NULL, &r) != 0) {
        fprintf(stderr, "%s\n", r.message ? r.message : "failed");
        return 1;
    }
    printf("explored %llu\n", (unsigned long long)r.schedules_run);
    ah_explore_result_free(&r);
    return 0;
}
