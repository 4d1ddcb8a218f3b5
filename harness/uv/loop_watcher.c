/* idle, prepare and check handles, and async handles.
 *
 * libuv inserts a started idle/prepare/check handle at the head of its queue, so handles of one
 * kind run in reverse order of start; the run takes the queue first, so a handle started by a
 * callback runs in the next iteration. */
#include "../internal.h"

#define LOOP_WATCHER(name, type)                                                                   \
    static void name##_close(uv_handle_t *h) { uv_##name##_stop((uv_##name##_t *)h); }             \
                                                                                                   \
    int uv_##name##_init(uv_loop_t *loop, uv_##name##_t *handle)                                   \
    {                                                                                              \
        ah__site site = AH__CALLER("uv_" #name "_init");                                           \
        ah__close_hooks[type] = name##_close;                                                      \
        ah__handle_init(loop, (uv_handle_t *)handle, type, site);                                  \
        handle->name##_cb = NULL;                                                                  \
        return 0;                                                                                  \
    }                                                                                              \
                                                                                                   \
    int uv_##name##_start(uv_##name##_t *handle, uv_##name##_cb cb)                                \
    {                                                                                              \
        ah__site site = AH__CALLER("uv_" #name "_start");                                          \
        ah__hrec *r = ah__handle_rec((uv_handle_t *)handle, "uv_" #name "_start");                 \
        if (ah__is_active((uv_handle_t *)handle))                                                  \
            return 0;                                                                              \
        if (cb == NULL)                                                                            \
            return UV_EINVAL;                                                                      \
        if (ah__is_closing((uv_handle_t *)handle))                                                 \
            ah__handle_require_open((uv_handle_t *)handle, "uv_" #name "_start");                  \
        r->start_site = site;                                                                      \
        ah__list_insert_head(&ah__lp(handle->loop)->name, ah__qlist(handle->queue));               \
        handle->name##_cb = cb;                                                                    \
        ah__handle_start((uv_handle_t *)handle);                                                   \
        return 0;                                                                                  \
    }                                                                                              \
                                                                                                   \
    int uv_##name##_stop(uv_##name##_t *handle)                                                    \
    {                                                                                              \
        ah__handle_rec((uv_handle_t *)handle, "uv_" #name "_stop");                                \
        if (!ah__is_active((uv_handle_t *)handle))                                                 \
            return 0;                                                                              \
        ah__list_remove(ah__qlist(handle->queue));                                                 \
        ah__handle_stop((uv_handle_t *)handle);                                                    \
        return 0;                                                                                  \
    }

LOOP_WATCHER(idle, UV_IDLE)
LOOP_WATCHER(prepare, UV_PREPARE)
LOOP_WATCHER(check, UV_CHECK)

void ah__loop_watchers_run(uv_loop_t *loop, ah__list *q, int type)
{
    ah_sim *sim = ah__lp(loop)->sim;
    ah__list queue, *n;

    if (ah__list_empty(q))
        return;
    ah__list_move(q, &queue);
    while (!ah__list_empty(&queue)) {
        n = queue.next;
        ah__list_remove(n);
        ah__list_insert_tail(q, n);
        switch (type) {
        case UV_IDLE: {
            uv_idle_t *h = ah__container_of((void *)n, uv_idle_t, queue);
            AH__DISPATCH(sim, h, "idle_cb", h->idle_cb(h));
            break;
        }
        case UV_PREPARE: {
            uv_prepare_t *h = ah__container_of((void *)n, uv_prepare_t, queue);
            AH__DISPATCH(sim, h, "prepare_cb", h->prepare_cb(h));
            break;
        }
        default: {
            uv_check_t *h = ah__container_of((void *)n, uv_check_t, queue);
            AH__DISPATCH(sim, h, "check_cb", h->check_cb(h));
            break;
        }
        }
    }
}

/* ---- async ---- */

static void async_fire(ah__event *ev) { ah__async_poll(ev->loop); }

int uv_async_init(uv_loop_t *loop, uv_async_t *handle, uv_async_cb async_cb)
{
    ah__site site = AH__CALLER("uv_async_init");
    ah__loop *lp;

    ah__handle_init(loop, (uv_handle_t *)handle, UV_ASYNC, site);
    lp = ah__lp(loop);
    handle->async_cb = async_cb;
    handle->pending = 0;
    ((ah__hrec *)handle->u.reserved[0])->start_site = site;
    ah__list_insert_tail(&lp->async, ah__qlist(handle->queue));
    ah__handle_start((uv_handle_t *)handle);
    return 0;
}

int uv_async_send(uv_async_t *handle)
{
    ah__site site = AH__CALLER("uv_async_send");
    ah__loop *lp;

    ah__handle_rec((uv_handle_t *)handle, "uv_async_send");
    if (ah__is_closing((uv_handle_t *)handle))
        ah__handle_require_open((uv_handle_t *)handle, "uv_async_send");
    if (handle->pending != 0)
        return 0; /* coalesced with the send not yet delivered */
    handle->pending = 1;
    lp = ah__lp(handle->loop);
    /* The wake-up is an event at the current instant: it is delivered by the next poll. */
    if (!ah__event_scheduled(&lp->async_ev) && lp->async_ev.batch_index == 0) {
        lp->async_ev.fire = async_fire;
        lp->async_ev.what = "uv_async_send wake-up";
        lp->async_ev.site = site;
        lp->async_ev.flags = 0;
        ah__event_schedule(handle->loop, &lp->async_ev, lp->sim->clock.now_ns);
    }
    if (lp->sim->threads_live > 0)
        ah__threads_hooks.wake_loop(lp->sim, handle->loop);
    return 0;
}

void ah__async_poll(uv_loop_t *loop)
{
    ah__loop *lp = ah__lp(loop);
    ah__list queue, *n;
    uv_async_t *h;

    ah__list_move(&lp->async, &queue);
    while (!ah__list_empty(&queue)) {
        n = queue.next;
        h = ah__container_of((void *)n, uv_async_t, queue);
        ah__list_remove(n);
        ah__list_insert_tail(&lp->async, n);
        if (h->pending == 0)
            continue;
        h->pending = 0;
        if (h->async_cb == NULL)
            continue;
        AH__DISPATCH(lp->sim, h, "async_cb", h->async_cb(h));
    }
}

int ah__async_any_pending(const uv_loop_t *loop)
{
    return ah__event_scheduled(&ah__lp(loop)->async_ev);
}
