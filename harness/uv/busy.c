/* Busy loops in virtual time (docs/loop-and-time.md, "Busy loops"). In libuv real time passes
 * while a loop spins without blocking (an idle handle running while a timer waits) and while
 * code polls the clock (uv_hrtime, uv_update_time); in the sim the clock only moves when
 * something moves it, so both are charged a small deterministic cost here. */
#include "../internal.h"

/* Non-blocking iterations at one instant that are free: short bursts (a write callback, a few
 * pending completions) leave exact virtual times exact. */
#define BUSY_FREE_ITERATIONS 1000
/* Each further non-blocking iteration costs this much, while something is due later. */
#define BUSY_ITERATION_NS 1000
/* A clock read that returns the same value this many times in a row... */
#define CLOCK_SPIN_READS 16
/* ...moves the clock by this much. */
#define CLOCK_SPIN_NS 1000

void ah__busy_iteration(uv_loop_t *loop, uint64_t limit_ns)
{
    ah_sim *sim = ah__lp(loop)->sim;
    uint64_t now = sim->clock.now_ns, next, to;
    uint64_t free_its = BUSY_FREE_ITERATIONS < sim->opts.runaway_limit / 2
                            ? BUSY_FREE_ITERATIONS
                            : sim->opts.runaway_limit / 2;

    if (sim->iterations_at_instant < free_its)
        return;
    /* With nothing due later the spin waits for nothing: a true runaway, left to the guard. */
    next = ah__next_due_ns(sim);
    if (next == UINT64_MAX || next <= now)
        return;
    to = now + BUSY_ITERATION_NS;
    if (to > next)
        to = next;
    if (to > limit_ns)
        to = limit_ns;
    if (to <= now)
        return;
    ah__clock_set(sim, to);
    /* Keep charging every iteration from here on (the guard's count restarts at the free
     * allowance, not at zero). */
    sim->iterations_at_instant = free_its;
}

void ah__clock_read(ah_sim *sim)
{
    if (sim->clock.now_ns != sim->clock_read_ns) {
        sim->clock_read_ns = sim->clock.now_ns;
        sim->clock_reads = 1;
        return;
    }
    if (++sim->clock_reads < CLOCK_SPIN_READS)
        return;
    ah__clock_set(sim, sim->clock.now_ns + CLOCK_SPIN_NS);
    sim->clock_read_ns = sim->clock.now_ns;
    sim->clock_reads = 0;
}
