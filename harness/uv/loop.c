/* The loop: lifecycle, libuv's uv_run iteration on the virtual clock, the poll phase (where the
 * clock jumps instead of blocking), events, pending callbacks, and the test verbs.
 *
 * The iteration is that of the libuv compiled against: what differs between versions is named
 * in uv/version.h (AH__UV_*) and tested here in iterate(), uv_run() and ah__loop_is_alive() only.
 */
#include "../internal.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A libuv loop starts its own I/O watchers (the async wake-up, the signal pipe) in uv_loop_init,
 * and they wait in loop->watcher_queue until the first poll registers them; until then
 * uv_backend_timeout answers 0. The sim keeps that one bit in the same, otherwise unused, field. */
static void watchers_queued_set(uv_loop_t *loop, int queued)
{
    ah__qslot_set(&loop->watcher_queue, 0, queued ? (void *)&loop->watcher_queue : NULL);
}

static int watchers_queued(const uv_loop_t *loop)
{
    return ah__qslot_get(&loop->watcher_queue, 0) != NULL;
}

static void loop_init(ah_sim *sim, uv_loop_t *loop, ah__site site, int is_default)
{
    void *saved = loop->data;
    ah__loop *lp = ah__calloc(1, sizeof(*lp));

    memset(loop, 0, sizeof(*loop));
    loop->data = saved;
    lp->loop = loop;
    lp->sim = sim;
    lp->is_default = is_default;
    lp->init_site = site;
    ah_fc_wheel_init(&lp->timers);
    ah_fc_queue_init(&lp->events);
    ah__list_init(&lp->handles);
    ah__list_init(&lp->idle);
    ah__list_init(&lp->prepare);
    ah__list_init(&lp->check);
    ah__list_init(&lp->async);
    ah__list_init(&lp->pending);
    ah__list_insert_tail(&sim->loops, &lp->link);
    loop->internal_fields = lp;
    loop->time = sim->clock.now_ns / AH__NS_PER_MS;
    watchers_queued_set(loop, 1);
}

int uv_loop_init(uv_loop_t *loop)
{
    ah__site site = AH__CALLER("uv_loop_init");
    ah_sim *sim = ah__sim();

    if (loop == NULL)
        ah__fail_call(sim, &site, "uv_loop_init in %s: called with a NULL loop",
                      ah__site_str(&site, (char[160]){0}, 160));
    loop_init(sim, loop, site, 0);
    return 0;
}

uv_loop_t *uv_default_loop(void)
{
    ah_sim *sim = ah__sim();

    if (!sim->default_loop_open) {
        loop_init(sim, &sim->default_loop, AH__CALLER("uv_default_loop"), 1);
        sim->default_loop_open = 1;
    }
    return &sim->default_loop;
}

uv_loop_t *ah_sim_loop(ah_sim *sim)
{
    ah_sim *saved = ah_sim_current();
    uv_loop_t *loop;

    /* uv_default_loop answers for the current sim; answer for `sim` whatever is current. */
    if (saved == sim)
        return uv_default_loop();
    if (!sim->default_loop_open) {
        loop_init(sim, &sim->default_loop, (ah__site){0}, 1);
        sim->default_loop_open = 1;
    }
    loop = &sim->default_loop;
    return loop;
}

int uv_loop_close(uv_loop_t *loop)
{
    ah__site site = AH__CALLER("uv_loop_close");
    ah_sim *sim = ah__loop_sim(loop, "uv_loop_close");
    ah__loop *lp = ah__lp(loop);
    ah__list *q;
    void *saved;

    if (lp->running)
        ah__fail_call(sim, &site, "uv_loop_close in %s on loop %p while uv_run is running it",
                      ah__site_str(&site, (char[160]){0}, 160), (void *)loop);
    if (loop->active_reqs.count > 0)
        return UV_EBUSY;
    for (q = lp->handles.next; q != &lp->handles; q = q->next) {
        uv_handle_t *h = ah__container_of((void *)q, uv_handle_t, handle_queue);
        if (!(h->flags & AH__HF_INTERNAL))
            return UV_EBUSY;
    }
    while (!ah_fc_queue_empty(&lp->events))
        ah__event_cancel((ah__event *)ah_fc_queue_min(&lp->events));
    ah__list_remove(&lp->link);
    ah__free(lp->batch);
    ah__free(lp);
    saved = loop->data;
    memset(loop, -1, sizeof(*loop)); /* as libuv's debug build: use after close shows */
    loop->data = saved;
    loop->internal_fields = NULL;
    if (loop == &sim->default_loop)
        sim->default_loop_open = 0;
    return 0;
}

uv_loop_t *uv_loop_new(void)
{
    uv_loop_t *loop = ah__malloc(sizeof(*loop));
    loop->data = NULL;
    loop_init(ah__sim(), loop, AH__CALLER("uv_loop_new"), 0);
    return loop;
}

void uv_loop_delete(uv_loop_t *loop)
{
    int err = uv_loop_close(loop);
    if (err != 0)
        ah__fail(ah__sim(), "uv_loop_delete: loop %p still has open handles or requests",
                 (void *)loop);
    if (loop != &ah__sim()->default_loop)
        ah__free(loop);
}

size_t uv_loop_size(void) { return sizeof(uv_loop_t); }
void *uv_loop_get_data(const uv_loop_t *loop) { return loop->data; }
void uv_loop_set_data(uv_loop_t *loop, void *data) { loop->data = data; }

int uv_loop_configure(uv_loop_t *loop, uv_loop_option option, ...)
{
    va_list ap;
    int sig;

    ah__loop_sim(loop, "uv_loop_configure");
    /* libuv's answers; signals are not simulated, idle time is the virtual time polls wait */
    if (option == UV_METRICS_IDLE_TIME) {
        ah__lp(loop)->metrics_idle = 1;
        return 0;
    }
#if AH__UV_HAS_IO_URING_SQPOLL
    if (option == UV_LOOP_USE_IO_URING_SQPOLL)
        return 0;
#endif
    if (option != UV_LOOP_BLOCK_SIGNAL)
        return UV_ENOSYS;
    va_start(ap, option);
    sig = va_arg(ap, int);
    va_end(ap);
    return sig == SIGPROF ? 0 : UV_EINVAL;
}

uint64_t uv_metrics_idle_time(uv_loop_t *loop)
{
    ah__loop_sim(loop, "uv_metrics_idle_time");
    return ah__lp(loop)->idle_ns;
}

#if AH__UV_HAS_METRICS_INFO
int uv_metrics_info(uv_loop_t *loop, uv_metrics_t *metrics)
{
    const ah__loop *lp;

    ah__loop_sim(loop, "uv_metrics_info");
    lp = ah__lp(loop);
    memset(metrics, 0, sizeof(*metrics));
    metrics->loop_count = lp->polls;
    metrics->events = lp->events_delivered;
    metrics->events_waiting = lp->events_waiting;
    return 0;
}
#endif

int uv_loop_alive(const uv_loop_t *loop)
{
    ah__loop_sim(loop, "uv_loop_alive");
    return ah__loop_is_alive(loop);
}

void uv_stop(uv_loop_t *loop)
{
    ah__loop_sim(loop, "uv_stop");
    loop->stop_flag = 1;
}

uint64_t uv_now(const uv_loop_t *loop) { return loop->time; }

static void update_time(uv_loop_t *loop)
{
    loop->time = ah__lp(loop)->sim->clock.now_ns / AH__NS_PER_MS;
}

void uv_update_time(uv_loop_t *loop)
{
    ah__clock_read(ah__loop_sim(loop, "uv_update_time"));
    update_time(loop);
}

uint64_t uv_hrtime(void)
{
    ah_sim *sim = ah__sim();
    ah__clock_read(sim);
    return sim->clock.now_ns;
}

static int next_timeout(const uv_loop_t *loop)
{
    const ah_fc_node *n = ah__timer_min(loop);
    uint64_t diff;

    if (n == NULL)
        return -1;
    if (n->due <= loop->time)
        return 0;
    diff = n->due - loop->time;
    return diff > INT_MAX ? INT_MAX : (int)diff;
}

static int backend_timeout(const uv_loop_t *loop)
{
    const ah__loop *lp = ah__lp(loop);

    /* A referenced event (a mock's completion, bytes in flight) is waited for as a request is. */
    if (loop->stop_flag == 0 &&
        (loop->active_handles > 0 || loop->active_reqs.count > 0 || lp->ref_events > 0) &&
        ah__list_empty(&lp->pending) && ah__list_empty(&lp->idle) && lp->closing == NULL)
        return next_timeout(loop);
    return 0;
}

int uv_backend_timeout(const uv_loop_t *loop)
{
    ah__loop_sim(loop, "uv_backend_timeout");
    if (AH__UV_BACKEND_TIMEOUT_WATCHERS && watchers_queued(loop))
        return 0;
    return backend_timeout(loop);
}

/* ---- events ---- */

void (*ah__poll_end_hook)(uv_loop_t *loop);
int (*ah__real_io_hook)(ah_sim *sim, uv_loop_t *loop, int wait);

/* Delivers every event due by now. The batch is taken first, as epoll_wait returns a set:
 * events that fall due while it is delivered wait for the next poll. */
static uint64_t deliver_events(uv_loop_t *loop, uint64_t *silent)
{
    ah__loop *lp = ah__lp(loop);
    uint64_t now = lp->sim->clock.now_ns;
    ah_fc_node *n;
    ah__event *ev;
    size_t i, len;
    uint64_t fired = 0;

    if (lp->batch_len != 0)
        return 0; /* a nested poll (uv_run from a callback of another loop) delivers nothing */
    while ((n = ah_fc_queue_min(&lp->events)) != NULL && n->due <= now) {
        ah_fc_queue_pop(&lp->events);
        ev = (ah__event *)n;
        if (lp->batch_len == lp->batch_cap) {
            lp->batch_cap = lp->batch_cap ? lp->batch_cap * 2 : 16;
            lp->batch = ah__realloc(lp->batch, lp->batch_cap * sizeof(*lp->batch));
        }
        lp->batch[lp->batch_len++] = ev;
        ev->batch_index = lp->batch_len;
    }
    len = lp->batch_len;
    if (len > 1 && lp->sim->order_batch != NULL)
        lp->sim->order_batch(lp->sim, lp->batch, len);
    for (i = 0; i < len; i++) {
        ev = lp->batch[i];
        if (ev == NULL)
            continue; /* cancelled by an earlier delivery */
        lp->batch[i] = NULL;
        ev->batch_index = 0;
        if (ev->flags & AH__EV_REF)
            lp->ref_events--;
        lp->sim->events_fired++;
        fired++;
        if (ev->flags & AH__EV_SILENT)
            (*silent)++;
        ev->fire(ev);
    }
    lp->batch_len = 0;
    return fired;
}

/* The poll phase. `timeout` as libuv computes it (ms, -1 = forever). Instead of blocking, the
 * clock jumps to the earlier of the timeout and the next event, but never past `limit_ns`.
 * Returns 0, or 1 when it would have blocked forever (nothing in the sim can wake it). */
static int poll_phase(uv_loop_t *loop, int timeout, uint64_t limit_ns)
{
    ah__loop *lp = ah__lp(loop);
    ah_sim *sim = lp->sim;
    uint64_t now = sim->clock.now_ns, wake, target, delivered, silent, callbacks;
    /* The poll's own deadline, kept when it goes on waiting (AH__EV_SILENT). */
    uint64_t wake0 = timeout > 0 ? (loop->time + (uint64_t)timeout) * AH__NS_PER_MS : UINT64_MAX;
    const ah_fc_node *n;
    int waiting;

again:
    now = sim->clock.now_ns;
    ah__jobs_due(sim); /* the pool's jobs run at a switch point of the loop, as workers would */
    if (ah__real_io_hook != NULL)
        ah__real_io_hook(sim, loop, 0); /* real descriptors: the kernel answers at once */
    n = ah_fc_queue_min(&lp->events);
    waiting = n != NULL && n->due <= now;
    if (timeout != 0 &&
        !(sim->in_verb && sim->run_pred != NULL && sim->run_pred(sim->run_pred_ctx))) {
        wake = wake0 < now ? now : wake0;
        target = n != NULL && n->due < wake ? n->due : wake;
        if (target > limit_ns)
            target = limit_ns;
        /* Nothing simulated can end this wait: real descriptors may, within a real budget. */
        if (target == UINT64_MAX && sim->threads_live == 0 && ah__real_io_hook != NULL &&
            ah__real_io_hook(sim, loop, 1))
            target = now;
        /* Other simulated threads run while the loop waits here; a uv_async_send from one of
         * them ends the wait early (threads/). */
        if (target > now || sim->threads_live > 0) {
            int never = ah__time_pass(sim, loop, target);

            if (lp->metrics_idle && sim->clock.now_ns > now)
                lp->idle_ns += sim->clock.now_ns - now;
            if (never)
                return 1;
        }
    } else {
        ah__busy_iteration(loop, limit_ns);
    }
    ah__jobs_due(sim); /* the clock moved to a job's end: its completion is in this batch */
    watchers_queued_set(loop, 0);
    update_time(loop); /* libuv updates the time when epoll_wait returns */
    lp->polls++;
    silent = 0;
    callbacks = sim->callbacks;
    delivered = deliver_events(loop, &silent);
    lp->events_delivered += delivered;
    /* Only the sim's own looks outside the loop fired, and they ran nothing: epoll would not
     * have returned; wait on for the rest of the timeout. */
    if (delivered > 0 && silent == delivered && sim->callbacks == callbacks &&
        ah__list_empty(&lp->pending) && timeout != 0 && sim->clock.now_ns < limit_ns &&
        sim->clock.now_ns < wake0 &&
        !(sim->in_verb && sim->run_pred != NULL && sim->run_pred(sim->run_pred_ctx)))
        goto again;
    if (lp->metrics_idle && waiting)
        lp->events_waiting += delivered;
    if (ah__poll_end_hook != NULL)
        ah__poll_end_hook(loop);
    return 0;
}

/* ---- pending ---- */

void ah__pending_add(uv_loop_t *loop, ah__pending *p)
{
    ah__list_insert_tail(&ah__lp(loop)->pending, &p->link);
}

void ah__pending_remove(ah__pending *p)
{
    if (p->link.next != NULL && p->link.next != &p->link)
        ah__list_remove(&p->link);
}

static int run_pending(uv_loop_t *loop)
{
    ah__loop *lp = ah__lp(loop);
    ah__list queue;
    ah__pending *p;

    if (ah__list_empty(&lp->pending))
        return 0;
    ah__list_move(&lp->pending, &queue);
    while (!ah__list_empty(&queue)) {
        p = ah__container_of(queue.next, ah__pending, link);
        ah__list_remove(&p->link);
        p->run(p);
    }
    return 1;
}

/* ---- the iteration ---- */

static void check_time_limit(ah_sim *sim)
{
    if (ah_now_ms(sim) > sim->opts.time_limit_ms) {
        ah__buf b = {0};
        const char *s;
        ah__report_pending(sim, &b);
        s = ah__buf_keep(sim, &b);
        ah__fail(sim,
                 "simulated time limit reached: +%llu ms (AH_TIME_LIMIT_MS / "
                 "ah_sim_opts.time_limit_ms); something keeps the sim busy forever, e.g. a "
                 "repeating timer. Still open:\n%s",
                 (unsigned long long)ah_now_ms(sim), s);
    }
}

/* One pass of uv_run's loop body, in the order of the libuv compiled against (uv/version.h).
 * Returns 1 when the poll would block forever. */
static int iterate(uv_loop_t *loop, uv_run_mode mode, uint64_t limit_ns)
{
    ah__loop *lp = ah__lp(loop);
    ah_sim *sim = lp->sim;
    int can_sleep, timeout, i;

    if (++sim->iterations_at_instant > sim->opts.runaway_limit) {
        char b[320], st[160];
        const ah__hrec *last = sim->last_hrec;
        if (sim->last_what == NULL)
            ah__fail(sim,
                     "runaway loop: %llu loop iterations at virtual time +%llu ms without the "
                     "clock moving and without a callback: uv_run is called again and again on "
                     "a loop with nothing to do (uv_run(UV_RUN_NOWAIT) in a spin?)",
                     (unsigned long long)sim->iterations_at_instant,
                     (unsigned long long)ah_now_ms(sim));
        ah__fail(sim,
                 "runaway loop: %llu loop iterations at virtual time +%llu ms without the clock "
                 "moving; the last callback was %s of %s, last started in %s",
                 (unsigned long long)sim->iterations_at_instant, (unsigned long long)ah_now_ms(sim),
                 sim->last_what ? sim->last_what : "none",
                 last ? ah__handle_str(last, b, sizeof(b)) : "no handle",
                 last ? ah__site_str(&last->start_site, st, sizeof(st)) : "-");
    }
    if (!AH__UV_TIMERS_AFTER_CLOSE) {
        update_time(loop);
        ah__timer_run(loop);
    }

    if (AH__UV_ONCE_CAN_SLEEP) {
        can_sleep = ah__list_empty(&lp->pending) && ah__list_empty(&lp->idle);
        run_pending(loop);
    } else {
        can_sleep = !run_pending(loop);
    }
    ah__loop_watchers_run(loop, &lp->idle, UV_IDLE);
    ah__loop_watchers_run(loop, &lp->prepare, UV_PREPARE);

    timeout = 0;
    if ((mode == UV_RUN_ONCE && can_sleep) || mode == UV_RUN_DEFAULT)
        timeout = backend_timeout(loop);
    if (poll_phase(loop, timeout, limit_ns))
        return 1;
    if (AH__UV_PENDING_AFTER_POLL)
        for (i = 0; i < 8 && !ah__list_empty(&lp->pending); i++)
            run_pending(loop);
    ah__loop_watchers_run(loop, &lp->check, UV_CHECK);
    ah__close_run(loop);

    if (AH__UV_TIMERS_AFTER_CLOSE || mode == UV_RUN_ONCE) {
        update_time(loop);
        ah__timer_run(loop);
    }
    check_time_limit(sim);
    return 0;
}

static void deadlock(ah_sim *sim, const char *what)
{
    ah__buf b = {0};
    const char *s;

    ah__report_pending(sim, &b);
    s = ah__buf_keep(sim, &b);
    ah__fail(sim, "deadlock: %s, but nothing left in the sim can wake it. Still open:\n%s", what,
             s);
}

int uv_run(uv_loop_t *loop, uv_run_mode mode)
{
    ah__site site = AH__CALLER("uv_run");
    ah_sim *sim = ah__loop_sim(loop, "uv_run");
    ah__loop *lp = ah__lp(loop);
    char where[160];
    int r;

    if (lp->running)
        ah__fail_call(sim, &site,
                      "uv_run re-entered on loop %p from %s while it is already running (uv_run "
                      "is not reentrant; a callback must not run its own loop)",
                      (void *)loop, ah__site_str(&site, where, sizeof(where)));
    if (mode != UV_RUN_DEFAULT && mode != UV_RUN_ONCE && mode != UV_RUN_NOWAIT)
        ah__fail_call(sim, &site, "uv_run in %s: unknown mode %d",
                      ah__site_str(&site, where, sizeof(where)), (int)mode);
    ah__tasks_drain(sim);
    lp->running = 1;
    r = ah__loop_is_alive(loop);
    if (!r) {
        /* libuv reads the clock here: a program spinning on uv_run(UV_RUN_NOWAIT) over a dead
         * loop until uv_now moves (libuv's test loop_update_time) is a clock spin (busy.c). */
        ah__clock_read(sim);
        update_time(loop);
    }
    /* Since 1.45 the timers run after the closing phase; UV_RUN_DEFAULT runs the due ones once
     * before the first iteration (since 1.46 only on a live, unstopped loop). */
    if (AH__UV_TIMERS_AFTER_CLOSE && mode == UV_RUN_DEFAULT &&
        (!AH__UV_PRELOOP_TIMERS_IF_ALIVE || (r != 0 && loop->stop_flag == 0))) {
        if (r)
            update_time(loop);
        ah__timer_run(loop);
    }
    while (r != 0 && loop->stop_flag == 0) {
        if (iterate(loop, mode, UINT64_MAX)) {
            lp->running = 0;
            deadlock(sim, mode == UV_RUN_ONCE ? "uv_run(UV_RUN_ONCE) would block forever"
                                              : "uv_run(UV_RUN_DEFAULT) would block forever");
        }
        r = ah__loop_is_alive(loop);
        if (mode == UV_RUN_ONCE || mode == UV_RUN_NOWAIT)
            break;
    }
    if (loop->stop_flag != 0)
        loop->stop_flag = 0;
    lp->running = 0;
    return r;
}

/* ---- test verbs ---- */

/* Whether a loop has something to do at the current instant without waiting. */
static int loop_ready(const uv_loop_t *loop)
{
    const ah__loop *lp = ah__lp(loop);
    const ah_fc_node *tn;
    const ah_fc_node *n;
    uint64_t now = lp->sim->clock.now_ns;

    if (!ah__list_empty(&lp->pending) || !ah__list_empty(&lp->idle) || lp->closing != NULL)
        return 1;
    if (!ah__list_empty(&lp->prepare) || !ah__list_empty(&lp->check))
        return 0; /* they run with the others, they do not make a loop ready */
    if ((tn = ah__timer_min(loop)) != NULL && tn->due * AH__NS_PER_MS <= now)
        return 1;
    if ((n = ah_fc_queue_min(&lp->events)) != NULL && n->due <= now)
        return 1;
    return 0;
}

static void verb_enter(ah_sim *sim, const char *verb)
{
    if (sim->in_callback > 0)
        ah__fail(sim,
                 "%s called from inside a loop callback (%s); test verbs drive the loop and "
                 "may only be called from the test body",
                 verb, sim->current_what ? sim->current_what : "?");
    if (sim->in_verb)
        ah__fail(sim, "%s called while another sim verb is running", verb);
    sim->in_verb = 1;
    ah__site_forget();
}

static void verb_leave(ah_sim *sim)
{
    ah__list *q;

    /* Leave every loop's cached time at the clock, as if the test had called uv_update_time:
     * a timer the test starts next is relative to now. */
    for (q = sim->loops.next; q != &sim->loops; q = q->next)
        update_time(ah__container_of(q, ah__loop, link)->loop);
    sim->in_verb = 0;
}

static int others_pending(ah_sim *sim, const ah__loop *self)
{
    ah__list *q;

    for (q = sim->loops.next; q != &sim->loops; q = q->next) {
        const ah__loop *lp = ah__container_of(q, ah__loop, link);
        if (lp != self && !ah__list_empty(&lp->pending))
            return 1;
    }
    return 0;
}

/* One round: one iteration of each loop that has anything to do, waiting in poll no later than
 * `limit_ns`. Returns whether any callback ran or the clock moved. */
static int round_of_loops(ah_sim *sim, uint64_t limit_ns, int alive_only, ah_pred_fn pred,
                          void *ctx, int *satisfied)
{
    uint64_t before_cb = sim->callbacks, before_ns = sim->clock.now_ns;
    uint64_t before_ev = sim->events_fired;
    ah__list *q, *next;
    uint64_t lim;
    int nloops = 0;

    for (q = sim->loops.next; q != &sim->loops; q = next) {
        next = q->next;
        ah__loop *lp = ah__container_of(q, ah__loop, link);
        uv_loop_t *loop = lp->loop;
        int alive = ah__loop_is_alive(loop);

        if (alive_only ? !alive : (!alive && !loop_ready(loop)))
            continue;
        nloops++;
        lim = limit_ns;
        /* With several loops, one may not wait past another's next due time, nor at all while
         * another has pending callbacks (before libuv 1.44.2 they wait for its next iteration). */
        if (sim->loops.next->next != &sim->loops) {
            uint64_t other =
                others_pending(sim, lp) ? sim->clock.now_ns : ah__next_due(sim, alive_only);
            if (other < lim)
                lim = other < sim->clock.now_ns ? sim->clock.now_ns : other;
        }
        lp->running = 1;
        (void)iterate(loop, UV_RUN_DEFAULT, lim);
        lp->running = 0;
        loop->stop_flag = 0;
        ah__tasks_drain(sim);
        if (pred != NULL && pred(ctx)) {
            *satisfied = 1;
            break;
        }
    }
    (void)nloops;
    /* An event that ran no callback (bytes reaching a scripted peer) is progress too: it may
     * have scheduled more for this instant. */
    return sim->callbacks != before_cb || sim->clock.now_ns != before_ns ||
           sim->events_fired != before_ev;
}

uint64_t ah_run_ready(ah_sim *sim)
{
    uint64_t before = sim->callbacks;
    int progress, sat = 0;
    ah__list *q;
    int any;

    verb_enter(sim, "ah_run_ready");
    ah__tasks_drain(sim);
    do {
        any = 0;
        for (q = sim->loops.next; q != &sim->loops; q = q->next)
            any |= loop_ready(ah__container_of(q, ah__loop, link)->loop);
        progress = any ? round_of_loops(sim, sim->clock.now_ns, 0, NULL, NULL, &sat) : 0;
    } while (progress);
    verb_leave(sim);
    return sim->callbacks - before;
}

void ah_advance(ah_sim *sim, uint64_t ms)
{
    uint64_t target = sim->clock.now_ns + ms * AH__NS_PER_MS, next;
    int sat = 0;

    verb_enter(sim, "ah_advance");
    ah__tasks_drain(sim);
    for (;;) {
        if (round_of_loops(sim, target, 0, NULL, NULL, &sat))
            continue;
        /* Nothing ran: jump to what is due next (an unreferenced timer, say), or to the end. */
        next = ah__next_due(sim, 0);
        if (next > target) {
            if (sim->clock.now_ns >= target)
                break;
            next = target;
        }
        if (next <= sim->clock.now_ns)
            break; /* due now but no loop would run it */
        ah__time_pass(sim, NULL, next);
        check_time_limit(sim);
    }
    verb_leave(sim);
}

/* Runs the alive loops until pred(ctx), or until nothing is alive (pred NULL), jumping the clock
 * to the next due event; never past `limit_ns` (ah_run_for), where it stops whatever is due. */
static void run_until_by(ah_sim *sim, const char *verb, const char *waits, ah_pred_fn pred,
                         void *ctx, uint64_t limit_ns)
{
    int sat = 0;
    uint64_t next;

    verb_enter(sim, verb);
    ah__tasks_drain(sim);
    sim->run_pred = pred;
    sim->run_pred_ctx = ctx;
    for (;;) {
        if (pred != NULL && pred(ctx))
            break;
        if (round_of_loops(sim, limit_ns, 1, pred, ctx, &sat)) {
            if (sat)
                break;
            continue;
        }
        next = ah__next_due(sim, 1);
        if (limit_ns != UINT64_MAX && next != UINT64_MAX && next > limit_ns) {
            /* a repeating timer, say: the span ends before it is due again */
            if (sim->clock.now_ns < limit_ns)
                ah__time_pass(sim, NULL, limit_ns);
            break;
        }
        if (next == UINT64_MAX || next <= sim->clock.now_ns) {
            /* Threads still running may yet send to a loop: wait for them first. */
            if (sim->threads_live > 0 && ah__time_pass(sim, NULL, UINT64_MAX) == 0)
                continue;
            /* A thread that ran meanwhile (and may have ended) can have satisfied it: a write
             * to a descriptor the test's thread blocks on wakes nothing, since that thread
             * waits by running the sim. */
            if (pred != NULL && pred(ctx))
                break;
            if (ah__real_io_hook != NULL && ah__real_io_hook(sim, NULL, 1))
                continue; /* a real descriptor became ready */
            if (pred == NULL)
                break;
            sim->in_verb = 0;
            deadlock(sim, waits);
        }
        ah__time_pass(sim, NULL, next);
        check_time_limit(sim);
    }
    sim->run_pred = NULL;
    verb_leave(sim);
}

static void run_until(ah_sim *sim, const char *verb, const char *waits, ah_pred_fn pred, void *ctx)
{
    run_until_by(sim, verb, waits, pred, ctx, UINT64_MAX);
}

uint64_t ah_run_for(ah_sim *sim, uint64_t ms)
{
    uint64_t start = sim->clock.now_ns;
    uint64_t limit =
        ms > (UINT64_MAX - start) / AH__NS_PER_MS ? UINT64_MAX - 1 : start + ms * AH__NS_PER_MS;

    run_until_by(sim, "ah_run_for", NULL, NULL, NULL, limit);
    return (sim->clock.now_ns - start) / AH__NS_PER_MS;
}

uint64_t ah_run_until_idle(ah_sim *sim)
{
    uint64_t start = sim->clock.now_ns;
    run_until(sim, "ah_run_until_idle", NULL, NULL, NULL);
    return (sim->clock.now_ns - start) / AH__NS_PER_MS;
}

void ah_run_until(ah_sim *sim, ah_pred_fn pred, void *ctx)
{
    run_until(sim, "ah_run_until", "the test waits for a condition", pred, ctx);
}

/* Exposed for futures: run until pred, with the caller's own deadlock wording (`verb` is what
 * waits: "ah_await (t.c:20) waits for the future created at t.c:12"). */
void ah__run_until_pred(ah_sim *sim, const char *verb, ah_pred_fn pred, void *ctx)
{
    run_until(sim, verb, verb, pred, ctx);
}

/* ---- reports ---- */

void ah__report_pending(ah_sim *sim, ah__buf *b)
{
    ah__list *q;
    char h[320], s[160];
    int n = 0, i;

    for (q = sim->handles.next; q != &sim->handles; q = q->next) {
        ah__hrec *r = ah__container_of(q, ah__hrec, link);
        const uv_handle_t *hd = r->handle;
        if (r->state == AH__H_CLOSED)
            continue;
        ah__buf_printf(b, "  - %s: %s%s%s", ah__handle_str(r, h, sizeof(h)),
                       r->state == AH__H_CLOSING ? "closing"
                       : ah__is_active(hd)       ? "active"
                                                 : "inactive",
                       r->state == AH__H_OPEN && ah__is_active(hd) && !(hd->flags & AH__HF_REF)
                           ? ", unreferenced"
                           : "",
                       r->start_site.ret || r->start_site.file ? ", last started in " : "");
        if (r->start_site.ret || r->start_site.file)
            ah__buf_printf(b, "%s", ah__site_str(&r->start_site, s, sizeof(s)));
        if (r->type == UV_TIMER && ah__is_active(hd))
            ah__buf_printf(b, ", due at +%llu ms",
                           (unsigned long long)(((const uv_timer_t *)hd)->timeout -
                                                AH__EPOCH_NS / AH__NS_PER_MS));
        ah__buf_printf(b, "\n");
        n++;
    }
    for (q = sim->reqs.next; q != &sim->reqs; q = q->next) {
        ah__rrec *r = ah__container_of(q, ah__rrec, link);
        ah__buf_printf(b, "  - request %s (%p) in flight, started in %s at +%llu ms\n", r->what,
                       r->req, ah__site_str(&r->site, s, sizeof(s)),
                       (unsigned long long)((r->start_ns - sim->clock.epoch_ns) / AH__NS_PER_MS));
        n++;
    }
    for (i = 0; i < sim->n_ext; i++)
        if (sim->ext[i].pending != NULL) {
            size_t before = b->len;
            sim->ext[i].pending(sim, sim->ext[i].state, b);
            if (b->len != before)
                n++;
        }
    if (n == 0)
        ah__buf_printf(b, "  (nothing: no open handle, request or pending operation)\n");
}
