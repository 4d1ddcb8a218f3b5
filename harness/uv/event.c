/* Events (ah__event): what becomes ready at a virtual time and is delivered in a loop's poll
 * phase; whether a loop is alive, and what falls due next. Below the loop's run (loop.c), which
 * delivers them, and below the handles and rooms that schedule them. */
#include "../internal.h"

void ah__event_schedule(uv_loop_t *loop, ah__event *ev, uint64_t due_ns)
{
    ah__loop *lp = ah__lp(loop);

    if (ah__event_scheduled(ev) || ev->batch_index != 0)
        ah__event_cancel(ev);
    ev->loop = loop;
    ah_fc_queue_insert(&lp->events, &ev->node, due_ns);
    if (ev->flags & AH__EV_REF)
        lp->ref_events++;
    if (lp->sim->threads_live > 0 && ah__threads_hooks.event_added != NULL)
        ah__threads_hooks.event_added(lp->sim, loop, due_ns);
}

void ah__event_cancel(ah__event *ev)
{
    ah__loop *lp;

    if (ev->loop == NULL)
        return;
    lp = ah__lp(ev->loop);
    if (ev->batch_index != 0) {
        lp->batch[ev->batch_index - 1] = NULL;
        ev->batch_index = 0;
    } else if (ah__event_scheduled(ev)) {
        ah_fc_queue_remove(&lp->events, &ev->node);
    } else {
        return;
    }
    if (ev->flags & AH__EV_REF)
        lp->ref_events--;
}

int ah__loop_is_alive(const uv_loop_t *loop)
{
    const ah__loop *lp = ah__lp(loop);
    return loop->active_handles > 0 || loop->active_reqs.count > 0 ||
           (AH__UV_ALIVE_COUNTS_PENDING && !ah__list_empty(&lp->pending)) || lp->closing != NULL ||
           lp->ref_events > 0;
}

/* The earliest due time in ns over every loop: timers (all, or only of alive loops) and
 * events. UINT64_MAX when there is none. */
uint64_t ah__next_due(ah_sim *sim, int alive_only)
{
    uint64_t best = UINT64_MAX, t;
    const ah_fc_node *tn;
    const ah_fc_node *n;
    ah__list *q;

    for (q = sim->loops.next; q != &sim->loops; q = q->next) {
        ah__loop *lp = ah__container_of(q, ah__loop, link);
        if (alive_only && !ah__loop_is_alive(lp->loop))
            continue;
        if ((tn = ah__timer_min(lp->loop)) != NULL) {
            t = tn->due > UINT64_MAX / AH__NS_PER_MS ? UINT64_MAX : tn->due * AH__NS_PER_MS;
            if (t < best)
                best = t;
        }
        if ((n = ah_fc_queue_min(&lp->events)) != NULL && n->due < best)
            best = n->due;
    }
    return best;
}

uint64_t ah__next_due_ns(ah_sim *sim) { return ah__next_due(sim, 0); }
