/* Wait queues for objects of higher layers (threads/wait.h). */
#include "internal_threads.h"
#include "wait.h"

int ah__twait_off_main(ah_sim *sim)
{
    ah__thr *self;
    ah__sched *s;

    if (sim->threads_live == 0)
        return 0;
    s = ah__sched_get(&self, 0);
    return s != NULL && s->sim == sim && self != s->main;
}

int ah__twait(ah_sim *sim, ah__twaitq *q, const char *what, ah__site site, uint64_t deadline_ns)
{
    ah__thr *self;
    ah__sched *s;
    int timed_out;

    if (!ah__twait_off_main(sim))
        return -1;
    s = ah__sched_get(&self, 0);
    if (q->waiters.next == NULL)
        ah__list_init(&q->waiters);
    ah__list_insert_tail(&q->waiters, &self->wait_link);
    timed_out = ah__sched_block(s, self, AH__W_FD, q, what, site, deadline_ns);
    if (self->wait_link.next != &self->wait_link)
        ah__list_remove(&self->wait_link);
    return timed_out;
}

void ah__twait_wake(ah__twaitq *q)
{
    if (q->waiters.next == NULL)
        return;
    while (!ah__list_empty(&q->waiters))
        ah__sched_wake(ah__container_of(q->waiters.next, ah__thr, wait_link));
}

int ah__twait_interrupt_sleep(ah_sim *sim)
{
    ah__sched *s = sim->sched;
    ah__thr *pick = NULL;
    ah__list *q;

    if (s == NULL || sim->threads_live == 0)
        return 0;
    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->state != AH__T_BLOCKED ||
            !(t->wait_kind == AH__W_SLEEP ||
              (t->wait_kind == AH__W_SEM && ah__sem_wait_interruptible(t->wait_fn))))
            continue;
        if (pick == NULL || t == s->main)
            pick = t;
    }
    if (pick == NULL)
        return 0;
    pick->interrupted = 1;
    ah__sched_wake(pick);
    return 1;
}
