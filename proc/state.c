/* The room's per-sim state: loops, children, scripts, signal messages; its teardown checks and
 * deadlock report; the hooks it registers with the layers below. */
#include "internal_proc.h"

#include <stdio.h>
#include <string.h>

static const int pstate_key;

static void st_check(ah_sim *sim, void *state, ah__buf *b)
{
    (void)sim;
    ah__proc_check(state, b);
}

static void st_pending(ah_sim *sim, void *state, ah__buf *b)
{
    (void)sim;
    ah__proc_pending(state, b);
}

static void st_ops(ah_sim *sim, void *state, ah__buf *b, unsigned *n)
{
    (void)sim;
    ah__proc_ops(state, b, n);
}

static void st_destroy(ah_sim *sim, void *state)
{
    ah__pstate *st = state;
    ah__list *q;

    (void)sim;
    ah__proc_free_all(st);
    ah__random_free_all(st);
    ah__tty_free_all(st);
    ah__sig_restore_all(st);
    while (!ah__list_empty(&st->loops)) {
        q = st->loops.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__ploop, link));
    }
    ah__free(st->msgs);
    ah__free(st);
}

static void hooks_install(void)
{
    ah__poll_end_hook = ah__sig_poll_end;
    ah__close_hooks[UV_SIGNAL] = ah__sig_close;
    ah__close_hooks[UV_PROCESS] = ah__proc_close;
    ah__close_hooks[UV_TTY] = ah__tty_close;
    ah__tty_hooks_install();
}

ah__pstate *ah__pstate_find(ah_sim *sim) { return sim ? ah__ext_get(sim, &pstate_key) : NULL; }

ah__pstate *ah__pstate_get(ah_sim *sim)
{
    ah__pstate *st = ah__ext_get(sim, &pstate_key);
    ah__ext ext;

    if (st != NULL)
        return st;
    st = ah__calloc(1, sizeof(*st));
    st->sim = sim;
    ah__list_init(&st->loops);
    ah__list_init(&st->procs);
    ah__list_init(&st->scripts);
    ah__list_init(&st->sigs);
    ah__list_init(&st->random_jobs);
    ah__list_init(&st->ttys);
    st->real_ms = 1;
    st->real_timeout_ms = 30000;
    st->grace_ms = 250;
    st->random_state = ah_sim_seed(sim) ^ 0x9e3779b97f4a7c15ULL;
    memset(&ext, 0, sizeof(ext));
    ext.key = &pstate_key;
    ext.state = st;
    ext.check = st_check;
    ext.pending = st_pending;
    ext.destroy = st_destroy;
    ext.ops = st_ops;
    ah__ext_add(sim, &ext);
    hooks_install();
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
