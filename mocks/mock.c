/* Async mocks: per-function queues of scripted outcomes, each completing on the virtual schedule
 * as an event of the default loop (delivered in the poll phase, keeping the loop alive while it
 * is due), calls and completions counted, the unexpected-call failure and the unused-outcome
 * teardown check (include/ah/mock.h, docs/futures-and-mocks.md). */
#include "../harness/future_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct mock_fn {
    ah__list link; /* mocks->fns */
    const char *name;
    ah__list outcomes; /* ah_outcome still serving calls, in scripting order */
    unsigned calls, completions;
} mock_fn;

struct ah_outcome {
    ah__list link; /* fn->outcomes while it serves calls, else mocks->spent */
    ah__list all;  /* mocks->outcomes */
    mock_fn *fn;
    ah_future_state kind; /* PENDING = hang */
    int manual;
    intptr_t value; /* the value, or the error for a rejection */
    uint64_t delay_ms;
    int count; /* calls it still serves; AH_ALWAYS for every call */
    int scripted;
    unsigned used;
    const char *file;
    int line;
    struct mock_call *call; /* manual: the call that took it */
    int manual_settled;
    uint64_t scripted_ns;
};

enum { CALL_WAITING, CALL_SCHEDULED, CALL_DONE, CALL_CANCELLED };

typedef struct mock_call {
    ah__list link; /* mocks->calls */
    ah__event ev;
    mock_fn *fn;
    ah_outcome *o;
    ah_future *f;  /* ah_mock_async */
    ah_mock_cb cb; /* ah_mock_async_cb */
    void *data;
    int status;
    intptr_t value;
    int state;
    unsigned seq; /* this function's call number, 1-based */
    const char *file;
    int line;
    uint64_t call_ns;
    char what[80]; /* "mock db_query completion", for traces and slow-callback reports */
} mock_call;

typedef struct mocks {
    ah_sim *sim;
    ah__list fns, outcomes, calls;
} mocks;

static const int mocks_key;

/* cmocka's --wrap gives the mock the name __wrap_f; the test may script either name. */
static const char *plain_name(const char *name)
{
    return strncmp(name, "__wrap_", 7) == 0 ? name + 7 : name;
}

static const char *will_name(const ah_outcome *o)
{
    if (o->manual)
        return "ah_will_manual";
    switch (o->kind) {
    case AH_FUTURE_FULFILLED:
        return o->scripted > 1 || o->scripted < 0 ? "ah_will_resolve_count" : "ah_will_resolve";
    case AH_FUTURE_REJECTED:
        return o->scripted > 1 || o->scripted < 0 ? "ah_will_reject_count" : "ah_will_reject";
    default:
        return "ah_will_hang";
    }
}

/* "ah_will_resolve(db_query, 42, 250 ms) scripted at t.c:40" */
static void outcome_str(const ah_outcome *o, ah__buf *b)
{
    if (o->manual || o->kind == AH_FUTURE_PENDING)
        ah__buf_printf(b, "%s(%s)", will_name(o), o->fn->name);
    else if (o->kind == AH_FUTURE_FULFILLED)
        ah__buf_printf(b, "%s(%s, %lld, %llu ms)", will_name(o), o->fn->name, (long long)o->value,
                       (unsigned long long)o->delay_ms);
    else
        ah__buf_printf(b, "%s(%s, %s, %llu ms)", will_name(o), o->fn->name,
                       uv_err_name((int)o->value), (unsigned long long)o->delay_ms);
    ah__buf_printf(b, " scripted at %s:%d", ah__base_name(o->file), o->line);
}

static void mocks_check(ah_sim *sim, void *state, ah__buf *b);
static void mocks_pending(ah_sim *sim, void *state, ah__buf *b);
static void mocks_ops(ah_sim *sim, void *state, ah__buf *b, unsigned *n);
static void mocks_destroy(ah_sim *sim, void *state);

static mocks *mocks_find(ah_sim *sim) { return sim ? ah__ext_get(sim, &mocks_key) : NULL; }

static void mocks_init(ah_sim *sim, void *state)
{
    mocks *m = state;

    m->sim = sim;
    ah__list_init(&m->fns);
    ah__list_init(&m->outcomes);
    ah__list_init(&m->calls);
    /* Futures first, so that their teardown lines come before the mocks'. */
    (void)ah__futures_get(sim);
}

static mocks *mocks_get(ah_sim *sim)
{
    static const ah__ext mocks_ext = {
        .key = &mocks_key,
        .name = "mocks",
        .check = mocks_check,
        .pending = mocks_pending,
        .ops = mocks_ops,
        .destroy = mocks_destroy,
        .init = mocks_init,
    };

    return ah__ext_get_or_add(sim, &mocks_ext, sizeof(mocks));
}

static mock_fn *fn_find(mocks *m, const char *name, int create)
{
    ah__list *q;
    mock_fn *fn;

    name = plain_name(name);
    for (q = m->fns.next; q != &m->fns; q = q->next) {
        fn = ah__container_of(q, mock_fn, link);
        if (strcmp(fn->name, name) == 0)
            return fn;
    }
    if (!create)
        return NULL;
    fn = ah__calloc(1, sizeof(*fn));
    fn->name = name;
    ah__list_init(&fn->outcomes);
    ah__list_insert_tail(&m->fns, &fn->link);
    return fn;
}

/* ---- scripting ---- */

static ah_outcome *will(const char *function, ah_future_state kind, int manual, intptr_t value,
                        uint64_t delay_ms, int count, const char *file, int line)
{
    ah_sim *sim = ah__sim();
    mocks *m = mocks_get(sim);
    ah_outcome *o;

    if (count == 0 || count < AH_ALWAYS)
        ah__fail_at(sim, file, line,
                    "%s:%d: scripting %s with count %d: the count must be >= 1 "
                    "or AH_ALWAYS",
                    ah__base_name(file), line, plain_name(function), count);
    if (kind == AH_FUTURE_REJECTED && value >= 0)
        ah__fail_at(sim, file, line,
                    "%s:%d: ah_will_reject(%s, %lld, ...): the error must be a "
                    "libuv error code (< 0)",
                    ah__base_name(file), line, plain_name(function), (long long)value);
    o = ah__calloc(1, sizeof(*o));
    o->fn = fn_find(m, function, 1);
    o->kind = kind;
    o->manual = manual;
    o->value = value;
    o->delay_ms = delay_ms;
    o->count = count;
    o->scripted = count;
    o->file = file;
    o->line = line;
    o->scripted_ns = sim->clock.now_ns;
    ah__list_insert_tail(&o->fn->outcomes, &o->link);
    ah__list_insert_tail(&m->outcomes, &o->all);
    return o;
}

ah_outcome *ah__will(const char *function, ah_future_state kind, intptr_t value, uint64_t delay_ms,
                     int count, const char *file, int line)
{
    if (kind == AH_FUTURE_CANCELLED)
        ah__fail_at(ah__sim(), file, line, "%s:%d: a scripted outcome cannot be a cancellation",
                    ah__base_name(file), line);
    return will(function, kind, 0, value, delay_ms, count, file, line);
}

ah_outcome *ah__will_manual(const char *function, const char *file, int line)
{
    return will(function, AH_FUTURE_PENDING, 1, 0, 0, 1, file, line);
}

/* ---- completion ---- */

static void call_fire(ah__event *ev)
{
    mock_call *c = ah__container_of(ev, mock_call, ev);
    ah_sim *sim = ev->loop != NULL ? ah__lp(ev->loop)->sim : ah__sim();
    ah_mock_cb cb = c->cb;

    if (c->f != NULL && c->f->state != AH_FUTURE_PENDING) {
        c->state = CALL_CANCELLED; /* cancelled by its consumer: nothing to deliver */
        return;
    }
    c->state = CALL_DONE;
    c->fn->completions++;
    ah__cb_enter(sim, NULL, c->what);
    if (c->f != NULL)
        ah_future_settle(c->f, c->status, c->value);
    else
        cb(c->status, c->value, c->data);
    ah__cb_leave(sim);
}

static void call_schedule(ah_sim *sim, mock_call *c, int status, intptr_t value, uint64_t due_ns)
{
    c->status = status;
    c->value = value;
    c->state = CALL_SCHEDULED;
    c->ev.fire = call_fire;
    c->ev.what = c->what;
    c->ev.site = (ah__site){c->file, c->line, c->fn->name, NULL};
    c->ev.flags = AH__EV_REF;
    ah__event_schedule(ah_sim_loop(sim), &c->ev, due_ns);
    if (c->f != NULL)
        c->f->due_ns = due_ns;
}

static void call_cancelled(ah_future *f, void *ctx)
{
    mock_call *c = ctx;

    (void)f;
    ah__event_cancel(&c->ev);
    c->state = CALL_CANCELLED;
}

static mock_call *take(const char *function, ah_future *f, ah_mock_cb cb, void *data,
                       const char *file, int line)
{
    ah_sim *sim = ah__sim();
    mocks *m = mocks_get(sim);
    mock_fn *fn = fn_find(m, function, 1);
    ah_outcome *o;
    mock_call *c;
    char note[160];

    fn->calls++;
    if (ah__list_empty(&fn->outcomes))
        ah__fail_at(sim, file, line,
                    "unexpected call: %s (mock at %s:%d) was called at +%llu ms (call #%u) with "
                    "no outcome left to take; script one in the test body with "
                    "ah_will_resolve(%s, value, delay_ms), ah_will_reject, ah_will_hang or "
                    "ah_will_manual",
                    fn->name, ah__base_name(file), line, (unsigned long long)ah_now_ms(sim),
                    fn->calls, fn->name);
    o = ah__container_of(fn->outcomes.next, ah_outcome, link);
    o->used++;
    if (o->count != AH_ALWAYS && --o->count == 0) {
        ah__list_remove(&o->link); /* spent; still in m->outcomes for the report and the free */
    }
    c = ah__calloc(1, sizeof(*c));
    c->fn = fn;
    c->o = o;
    c->f = f;
    c->cb = cb;
    c->data = data;
    c->seq = fn->calls;
    c->file = file;
    c->line = line;
    c->call_ns = sim->clock.now_ns;
    c->state = CALL_WAITING;
    snprintf(c->what, sizeof(c->what), "mock %.50s completion", fn->name);
    ah__list_insert_tail(&m->calls, &c->link);
    if (f != NULL) {
        ah__buf b = {0};
        char *s;
        ah__buf_printf(&b, "mock %s call #%u, ", fn->name, c->seq);
        outcome_str(o, &b);
        s = ah__buf_take(&b);
        snprintf(note, sizeof(note), "%s", s);
        ah__free(s);
        ah__future_note(f, o->kind == AH_FUTURE_PENDING && !o->manual ? UINT64_MAX : 0, "%s", note);
        f->producer_reports = 1;
        ah_future_on_cancel(f, call_cancelled, c);
    }
    {
        /* A sweep's "error from the next mocked call" (ah_inject_mock_error): this call takes
         * its outcome as scripted, but fails with the injected error after its delay. */
        int injected = ah_mock_injected_error(sim);
        if (injected != 0) {
            call_schedule(sim, c, injected, 0, sim->clock.now_ns + o->delay_ms * AH__NS_PER_MS);
            return c;
        }
    }
    if (o->manual) {
        o->call = c;
    } else if (o->kind == AH_FUTURE_FULFILLED) {
        call_schedule(sim, c, 0, o->value, sim->clock.now_ns + o->delay_ms * AH__NS_PER_MS);
    } else if (o->kind == AH_FUTURE_REJECTED) {
        call_schedule(sim, c, (int)o->value, 0, sim->clock.now_ns + o->delay_ms * AH__NS_PER_MS);
    }
    return c;
}

ah_future *ah__mock_async(const char *function, const char *file, int line)
{
    ah_sim *sim = ah__sim();
    ah_future *f = ah__future_new(sim, file, line);

    take(function, f, NULL, NULL, file, line);
    return f;
}

void ah__mock_async_cb(const char *function, ah_mock_cb cb, void *data, const char *file, int line)
{
    if (cb == NULL)
        ah__fail_at(ah__sim(), file, line, "ah_mock_async_cb (%s:%d) in %s: the callback is NULL",
                    ah__base_name(file), line, plain_name(function));
    take(function, NULL, cb, data, file, line);
}

static int manual_settle(ah_outcome *o, int status, intptr_t value)
{
    ah_sim *sim;

    if (o == NULL || !o->manual)
        return UV_EINVAL;
    if (o->manual_settled)
        return UV_EALREADY;
    if (o->call == NULL)
        return UV_ENOENT;
    if (o->call->state == CALL_CANCELLED)
        return UV_EALREADY;
    sim = ah__sim();
    o->manual_settled = 1;
    /* Delivered from the loop at the current instant, never from inside the test body. */
    call_schedule(sim, o->call, status, value, sim->clock.now_ns);
    return 0;
}

int ah_outcome_resolve(ah_outcome *o, intptr_t value) { return manual_settle(o, 0, value); }

int ah_outcome_reject(ah_outcome *o, int err)
{
    if (err >= 0)
        return UV_EINVAL;
    return manual_settle(o, err, 0);
}

unsigned ah__mock_calls(const char *function)
{
    mocks *m = mocks_find(ah_sim_current());
    mock_fn *fn = m ? fn_find(m, function, 0) : NULL;
    return fn ? fn->calls : 0;
}

unsigned ah__mock_completions(const char *function)
{
    mocks *m = mocks_find(ah_sim_current());
    mock_fn *fn = m ? fn_find(m, function, 0) : NULL;
    return fn ? fn->completions : 0;
}

/* ---- reports ---- */

static void call_str(const mocks *m, const mock_call *c, ah__buf *b)
{
    ah__buf_printf(b, "mock %s call #%u (at %s:%d, +%llu ms) taking ", c->fn->name, c->seq,
                   ah__base_name(c->file), c->line,
                   (unsigned long long)ah__rel_ms(m->sim, c->call_ns));
    outcome_str(c->o, b);
    if (c->state == CALL_SCHEDULED)
        ah__buf_printf(b, ": completion due at +%llu ms",
                       (unsigned long long)ah__rel_ms(m->sim, c->ev.node.due));
    else if (c->o->manual)
        ah__buf_printf(b, ": waits for ah_outcome_resolve/ah_outcome_reject");
    else
        ah__buf_printf(b, ": hangs, never completes");
}

static void mocks_pending(ah_sim *sim, void *state, ah__buf *b)
{
    mocks *m = state;
    ah__list *q;

    (void)sim;
    for (q = m->calls.next; q != &m->calls; q = q->next) {
        mock_call *c = ah__container_of(q, mock_call, link);
        if (c->state != CALL_WAITING && c->state != CALL_SCHEDULED)
            continue;
        ah__buf_printf(b, "  - ");
        call_str(m, c, b);
        ah__buf_printf(b, "\n");
    }
}

/* Deliveries still due and manual outcomes never settled; a hung call is what was scripted. */
static void mocks_ops(ah_sim *sim, void *state, ah__buf *b, unsigned *n)
{
    mocks *m = state;
    ah__list *q;

    (void)sim;
    for (q = m->calls.next; q != &m->calls; q = q->next) {
        mock_call *c = ah__container_of(q, mock_call, link);
        if (c->state == CALL_SCHEDULED || (c->state == CALL_WAITING && c->o->manual)) {
            ah__buf_printf(b, "    - ");
            call_str(m, c, b);
            ah__buf_printf(b, "\n");
            (*n)++;
        }
    }
}

static void mocks_check(ah_sim *sim, void *state, ah__buf *b)
{
    mocks *m = state;
    ah__list *q;

    (void)sim;
    for (q = m->outcomes.next; q != &m->outcomes; q = q->next) {
        ah_outcome *o = ah__container_of(q, ah_outcome, all);
        if (o->count == AH_ALWAYS || o->count == 0)
            continue;
        ah__buf_printf(b, "  - outcome never used: ");
        outcome_str(o, b);
        if (o->scripted > 1)
            ah__buf_printf(b, " (%d of its %d calls never came)", o->count, o->scripted);
        ah__buf_printf(b, " at +%llu ms; %s was called %u time%s\n",
                       (unsigned long long)ah__rel_ms(m->sim, o->scripted_ns), o->fn->name,
                       o->fn->calls, o->fn->calls == 1 ? "" : "s");
    }
}

static void mocks_destroy(ah_sim *sim, void *state)
{
    mocks *m = state;
    ah__list *q;

    (void)sim;
    while (!ah__list_empty(&m->calls)) {
        q = m->calls.next;
        mock_call *c = ah__container_of(q, mock_call, link);
        ah__list_remove(q);
        ah__event_cancel(&c->ev);
        ah__free(c);
    }
    while (!ah__list_empty(&m->outcomes)) {
        q = m->outcomes.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah_outcome, all));
    }
    while (!ah__list_empty(&m->fns)) {
        q = m->fns.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, mock_fn, link));
    }
    ah__free(m);
}
