/* The room's per-sim state: loops, children, scripts, signal messages. Its teardown checks,
 * deadlock report and the hooks it registers with the layers below are the room's parts, which
 * room.c wires in (ah__pstate_ops): the state never calls up into them. */
#include "internal_proc.h"

#include <stdio.h>
#include <string.h>

static const int pstate_key;

ah__pstate_hooks ah__pstate_ops;
/* Set by world/ (internal_proc.h); here, below process.c and fork.c, which both read it. */
ah__proc_world_hooks ah__proc_world;

static void st_check(ah_sim *sim, void *state, ah__buf *b)
{
    (void)sim;
    if (ah__pstate_ops.check != NULL)
        ah__pstate_ops.check(state, b);
}

static void st_pending(ah_sim *sim, void *state, ah__buf *b)
{
    (void)sim;
    if (ah__pstate_ops.pending != NULL)
        ah__pstate_ops.pending(state, b);
}

static void st_ops(ah_sim *sim, void *state, ah__buf *b, unsigned *n)
{
    (void)sim;
    if (ah__pstate_ops.ops != NULL)
        ah__pstate_ops.ops(state, b, n);
}

static void st_destroy(ah_sim *sim, void *state)
{
    ah__pstate *st = state;
    ah__list *q;

    (void)sim;
    if (ah__pstate_ops.free_all != NULL)
        ah__pstate_ops.free_all(st);
    while (!ah__list_empty(&st->loops)) {
        q = st->loops.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__ploop, link));
    }
    ah__free(st->msgs);
    ah__free(st);
}

ah__pstate *ah__pstate_find(ah_sim *sim) { return sim ? ah__ext_get(sim, &pstate_key) : NULL; }

static void st_init(ah_sim *sim, void *state)
{
    ah__pstate *st = state;

    st->sim = sim;
    ah__list_init(&st->loops);
    ah__list_init(&st->procs);
    ah__list_init(&st->scripts);
    ah__list_init(&st->sigs);
    ah__list_init(&st->ttys);
    st->real_ms = 1;
    st->real_timeout_ms = 30000;
    st->grace_ms = 250;
    st->random_state = ah_sim_seed(sim) ^ 0x9e3779b97f4a7c15ULL;
}

ah__pstate *ah__pstate_get(ah_sim *sim)
{
    static const ah__ext pstate_ext = {
        .key = &pstate_key,
        .name = "proc",
        .check = st_check,
        .pending = st_pending,
        .destroy = st_destroy,
        .ops = st_ops,
        .init = st_init,
    };
    ah__pstate *st = ah__ext_get(sim, &pstate_key);

    if (st != NULL)
        return st;
    st = ah__ext_get_or_add(sim, &pstate_ext, sizeof(*st));
    if (ah__pstate_ops.install != NULL)
        ah__pstate_ops.install();
    return st;
}

static int loop_live(ah_sim *sim, const uv_loop_t *loop)
{
    ah__list *q;

    for (q = sim->loops.next; q != &sim->loops; q = q->next)
        if (ah__container_of(q, ah__loop, link)->loop == loop)
            return 1;
    return 0;
}

ah__ploop *ah__ploop_get(ah__pstate *st, uv_loop_t *loop)
{
    ah__list *q, *next;
    ah__ploop *pl;

    for (q = st->loops.next; q != &st->loops; q = next) {
        next = q->next;
        pl = ah__container_of(q, ah__ploop, link);
        if (pl->loop == loop)
            return pl;
    }
    /* Records of loops closed since are reused: uv_loop_close cancelled their events. */
    for (q = st->loops.next; q != &st->loops; q = q->next) {
        pl = ah__container_of(q, ah__ploop, link);
        if (!loop_live(st->sim, pl->loop) && ah__list_empty(&pl->procs)) {
            pl->loop = loop;
            pl->have_signals = 0;
            pl->child_watch = 0;
            return pl;
        }
    }
    pl = ah__calloc(1, sizeof(*pl));
    pl->loop = loop;
    pl->sig_ev.what = "signal pipe readable";
    pl->sig_ev.fire = NULL;
    ah__list_init(&pl->procs);
    ah__list_insert_tail(&st->loops, &pl->link);
    return pl;
}
