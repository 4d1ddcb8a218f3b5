/* Timers on the virtual clock.
 *
 * Each loop files its timers in a timing wheel (fakeclock/wheel.c). The wheel node lives in the
 * timer's own private fields (libuv's heap_node[3], node.heap since 1.48, timeout and repeat, 40
 * contiguous bytes), so a start allocates nothing and touches nothing else: the node's `due` is
 * libuv's `timeout` (absolute ms), its `seq` is the start order (libuv's start_id), and the repeat
 * value moves to the start_id field. */
#include "../internal.h"

#include <assert.h>

_Static_assert(offsetof(uv_timer_t, timeout) - offsetof(uv_timer_t, AH__UV_TIMER_NODE) ==
                   offsetof(ah_fc_node, due),
               "ah_fc_node.due must overlay uv_timer_t.timeout");
_Static_assert(offsetof(uv_timer_t, repeat) - offsetof(uv_timer_t, AH__UV_TIMER_NODE) ==
                   offsetof(ah_fc_node, seq),
               "ah_fc_node.seq must overlay uv_timer_t.repeat");
_Static_assert(sizeof(ah_fc_node) <=
                   offsetof(uv_timer_t, start_id) - offsetof(uv_timer_t, AH__UV_TIMER_NODE),
               "ah_fc_node must fit before start_id");

#define NODE(t) ((ah_fc_node *)(void *)(t)->AH__UV_TIMER_NODE)
#define REPEAT(t) ((t)->start_id)

/* Since libuv 1.48 a timer phase first collects the due timers (stopped: inactive) in a ready
 * queue, then runs them; stopping one that waits there takes it out. The queue links nodes the
 * wheel does not hold through their `next` (forward) and `child` (back) fields, leaving `prev`
 * NULL so that the node never reads as queued in the wheel. Head: the loop's timers_ready. */
enum { TIMER_READY = AH__HF_TYPE0 };

static void ready_append(ah_fc_node *head, ah_fc_node *n)
{
    if (head->next == NULL)
        head->next = head->child = head;
    n->next = head;
    n->child = head->child;
    head->child->next = n;
    head->child = n;
}

static void ready_unlink(ah_fc_node *n)
{
    n->next->child = n->child;
    n->child->next = n->next;
    n->next = n->child = NULL;
}

static void timer_close(uv_handle_t *h) { uv_timer_stop((uv_timer_t *)h); }

int uv_timer_init(uv_loop_t *loop, uv_timer_t *handle)
{
    ah__site site = AH__CALLER("uv_timer_init");

    ah__close_hooks[UV_TIMER] = timer_close;
    ah__handle_init(loop, (uv_handle_t *)handle, UV_TIMER, site);
    handle->timer_cb = NULL;
    NODE(handle)->child = NODE(handle)->next = NODE(handle)->prev = NULL;
    handle->timeout = 0;
    REPEAT(handle) = 0;
    return 0;
}

static int timer_stop(uv_timer_t *handle)
{
    if (handle->flags & TIMER_READY) {
        ready_unlink(NODE(handle));
        handle->flags &= ~TIMER_READY;
        return 0;
    }
    if (!ah__is_active((uv_handle_t *)handle))
        return 0;
    ah_fc_wheel_remove(&ah__lp(handle->loop)->timers, NODE(handle));
    ah__handle_stop((uv_handle_t *)handle);
    return 0;
}

static void timer_start(uv_timer_t *handle, uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    uint64_t due = handle->loop->time + timeout;

    if (due < timeout)
        due = (uint64_t)-1;
    timer_stop(handle);
    handle->timer_cb = cb;
    ah_fc_wheel_insert(&ah__lp(handle->loop)->timers, NODE(handle), due, handle->loop->time);
    REPEAT(handle) = repeat;
    ah__handle_start((uv_handle_t *)handle);
}

int uv_timer_start(uv_timer_t *handle, uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    ah__site site = AH__CALLER("uv_timer_start");
    ah__hrec *r = ah__handle_rec((uv_handle_t *)handle, "uv_timer_start");

    if (ah__is_closing((uv_handle_t *)handle) || cb == NULL)
        return UV_EINVAL;
    r->start_site = site;
    timer_start(handle, cb, timeout, repeat);
    return 0;
}

int uv_timer_stop(uv_timer_t *handle)
{
    ah__handle_rec((uv_handle_t *)handle, "uv_timer_stop");
    return timer_stop(handle);
}

int uv_timer_again(uv_timer_t *handle)
{
    ah__site site = AH__CALLER("uv_timer_again");
    ah__hrec *r = ah__handle_rec((uv_handle_t *)handle, "uv_timer_again");

    if (handle->timer_cb == NULL)
        return UV_EINVAL;
    /* libuv's again restarts through uv_timer_start, whose UV_EINVAL on a closing timer it
     * ignores: a closing timer stays stopped and again still returns 0. */
    if (REPEAT(handle) && !ah__is_closing((uv_handle_t *)handle)) {
        r->start_site = site;
        timer_start(handle, handle->timer_cb, REPEAT(handle), REPEAT(handle));
    }
    return 0;
}

void uv_timer_set_repeat(uv_timer_t *handle, uint64_t repeat) { REPEAT(handle) = repeat; }
uint64_t uv_timer_get_repeat(const uv_timer_t *handle) { return REPEAT(handle); }

uint64_t uv_timer_get_due_in(const uv_timer_t *handle)
{
    if (handle->loop->time >= handle->timeout)
        return 0;
    return handle->timeout - handle->loop->time;
}

void ah__timer_run(uv_loop_t *loop)
{
    ah__loop *lp = ah__lp(loop);
    ah_fc_node *n, *head = &lp->timers_ready;
    uv_timer_t *t;

    if (AH__UV_TIMERS_READY_BATCH) {
        /* libuv >= 1.48: collect, then run; a timer (re)started with 0 ms by one of these
         * callbacks waits for the next timer phase. */
        while ((n = ah_fc_wheel_min(&lp->timers)) != NULL && n->due <= loop->time) {
            t = ah__container_of((void *)n, uv_timer_t, AH__UV_TIMER_NODE);
            timer_stop(t);
            ready_append(head, n);
            t->flags |= TIMER_READY;
        }
        while (head->next != NULL && head->next != head) {
            n = head->next;
            t = ah__container_of((void *)n, uv_timer_t, AH__UV_TIMER_NODE);
            timer_stop(t); /* out of the ready queue */
            if (REPEAT(t))
                timer_start(t, t->timer_cb, REPEAT(t), REPEAT(t));
            AH__DISPATCH(lp->sim, t, "timer_cb", t->timer_cb(t));
        }
        return;
    }
    for (;;) {
        n = ah_fc_wheel_min(&lp->timers);
        if (n == NULL || n->due > loop->time)
            break;
        t = ah__container_of((void *)n, uv_timer_t, AH__UV_TIMER_NODE);
        timer_stop(t);
        if (REPEAT(t))
            timer_start(t, t->timer_cb, REPEAT(t), REPEAT(t));
        AH__DISPATCH(lp->sim, t, "timer_cb", t->timer_cb(t));
    }
}
