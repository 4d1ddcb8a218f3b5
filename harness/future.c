/* Futures: settle once, continuations as tasks after the current callback, combinators with
 * cancellation propagation, ah_with_timeout on a virtual-time event, adapters from libuv
 * callbacks, and the teardown check for futures nobody consumed (docs/futures-and-mocks.md). */
#include "future_internal.h"

#include <stdio.h>
#include <string.h>

enum { COMB_ALL, COMB_ALL_SETTLED, COMB_ANY, COMB_RACE, COMB_TIMEOUT };

typedef struct ah__comb {
    ah__list link;  /* futs->combs */
    ah__list armed; /* futs->armed while its deadline is scheduled (only COMB_TIMEOUT is) */
    int kind;
    ah_future *out;
    ah_future **in;
    size_t n, settled, failed;
    int last_err;
    ah__event ev; /* COMB_TIMEOUT: the deadline */
    uint64_t ms;
} ah__comb;

enum { CONT_ON_CANCEL = 0x1, CONT_INTERNAL = 0x2 };

typedef struct ah__cont {
    ah__task task;
    ah__list wlink; /* f->waiters until posted */
    ah__list link;  /* futs->conts while alive */
    ah_future *f;
    ah_future_cb cb;
    void *ctx;
    unsigned flags;
} ah__cont;

struct ah__futures {
    ah_sim *sim;
    ah__list all;
    ah__list conts;
    ah__list combs;
    ah__list armed; /* ah_with_timeout deadlines scheduled, for ah__futures_ref_timeouts */
    uint64_t next_id;
    int timeouts_refd;
    ah_future *awaited;
    const char *await_file;
    int await_line;
};

static const int futures_key;

static void futures_check(ah_sim *sim, void *state, ah__buf *b);
static void futures_pending(ah_sim *sim, void *state, ah__buf *b);
static void futures_ops(ah_sim *sim, void *state, ah__buf *b, unsigned *n);
static void futures_destroy(ah_sim *sim, void *state);

static void futures_init(ah_sim *sim, void *state)
{
    ah__futures *fs = state;

    fs->sim = sim;
    ah__list_init(&fs->all);
    ah__list_init(&fs->conts);
    ah__list_init(&fs->combs);
    ah__list_init(&fs->armed);
}

static const ah__ext futures_ext = {
    .key = &futures_key,
    .name = "futures",
    .check = futures_check,
    .pending = futures_pending,
    .ops = futures_ops,
    .destroy = futures_destroy,
    .init = futures_init,
};

ah__futures *ah__futures_get(ah_sim *sim)
{
    return ah__ext_get_or_add(sim, &futures_ext, sizeof(ah__futures));
}

const char *ah__future_site(const ah_future *f, char *buf, size_t n)
{
    snprintf(buf, n, "%s:%d", f->file ? ah__base_name(f->file) : "?", f->line);
    return buf;
}

const char *ah__future_state_str(const ah_future *f, char *buf, size_t n)
{
    unsigned long long at = (unsigned long long)ah__rel_ms(f->sim, f->settled_ns);

    switch (f->state) {
    case AH_FUTURE_PENDING:
        snprintf(buf, n, "pending");
        break;
    case AH_FUTURE_FULFILLED:
        snprintf(buf, n, "fulfilled with %lld at +%llu ms", (long long)f->value, at);
        break;
    case AH_FUTURE_REJECTED:
        snprintf(buf, n, "rejected with %s at +%llu ms", uv_err_name(f->err), at);
        break;
    case AH_FUTURE_CANCELLED:
        snprintf(buf, n, "cancelled at +%llu ms", at);
        break;
    }
    return buf;
}

void ah__future_note(ah_future *f, uint64_t due_ns, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(f->note, sizeof(f->note), fmt, ap);
    va_end(ap);
    f->due_ns = due_ns;
}

static uintptr_t future_tag(const ah_future *f)
{
    return (uintptr_t)f ^ (uintptr_t)0x6675747572652e31ull;
}

void ah__future_require_at(const ah_future *f, const char *fn, const char *file, int line,
                           const void *ret)
{
    ah__site site = {file, line, NULL, ret};
    char where[160], hint[320];

    if (f != NULL && f->live == future_tag(f))
        return;
    if (file != NULL) /* the entry point is a macro: its line is the caller's */
        snprintf(where, sizeof(where), "%s:%d", ah__base_name(file), line);
    else
        ah__site_str(&site, where, sizeof(where));
    if (f == NULL)
        ah__fail_call(ah_sim_current(), &site, "%s in %s%s: called with a NULL future", fn, where,
                      ah__site_hint(&site, hint, sizeof(hint)));
    ah__fail_call(ah_sim_current(), &site,
                  "%s in %s%s: future %p was " AH__UNKNOWN_HINT
                  " (a future comes from ah_future_new or a combinator and is freed with its "
                  "sim, at the end of its test: one kept from an earlier test is gone)",
                  fn, where, ah__site_hint(&site, hint, sizeof(hint)), (const void *)f);
}

static ah_future *future_make(ah_sim *sim, const char *kind, const char *file, int line)
{
    ah__futures *fs = ah__futures_get(sim);
    ah_future *f = ah__calloc(1, sizeof(*f));

    f->live = future_tag(f);
    f->sim = sim;
    f->kind = kind;
    f->file = file;
    f->line = line;
    f->id = ++fs->next_id;
    f->created_ns = sim->clock.now_ns;
    f->winner = -1;
    ah__list_init(&f->waiters);
    ah__list_insert_tail(&fs->all, &f->link);
    return f;
}

ah_future *ah__future_new(ah_sim *sim, const char *file, int line)
{
    if (sim == NULL)
        sim = ah__sim();
    return future_make(sim, "future", file, line);
}

/* ---- continuations ---- */

static void cont_run(ah__task *t)
{
    ah__cont *c = ah__container_of(t, ah__cont, task);
    ah_future *f = c->f;
    ah_future_cb cb = c->cb;
    void *ctx = c->ctx;

    /* Freed before the call: a failing continuation longjmps out and must leave nothing. */
    ah__list_remove(&c->link);
    ah__free(c);
    cb(f, ctx);
}

static void cont_add(ah_future *f, ah_future_cb cb, void *ctx, unsigned flags)
{
    ah__futures *fs = ah__futures_get(f->sim);
    ah__cont *c = ah__calloc(1, sizeof(*c));

    c->f = f;
    c->cb = cb;
    c->ctx = ctx;
    c->flags = flags;
    c->task.run = cont_run;
    ah__list_init(&c->task.link);
    ah__list_insert_tail(&fs->conts, &c->link);
    if (f->state == AH_FUTURE_PENDING) {
        ah__list_insert_tail(&f->waiters, &c->wlink);
    } else if ((flags & CONT_ON_CANCEL) && f->state != AH_FUTURE_CANCELLED) {
        ah__list_remove(&c->link);
        ah__free(c);
    } else {
        ah__list_init(&c->wlink);
        ah__task_post(f->sim, &c->task);
    }
}

static void comb_propagate_cancel(ah__comb *cb);

/* Settles a pending future and queues its continuations. */
static int settle(ah_future *f, ah_future_state st, intptr_t value, int err)
{
    ah__list *q;

    if (f->state != AH_FUTURE_PENDING)
        return UV_EALREADY;
    f->state = st;
    f->value = value;
    f->err = err;
    f->settled_ns = f->sim->clock.now_ns;
    while (!ah__list_empty(&f->waiters)) {
        q = f->waiters.next;
        ah__list_remove(q);
        ah__cont *c = ah__container_of(q, ah__cont, wlink);
        if ((c->flags & CONT_ON_CANCEL) && st != AH_FUTURE_CANCELLED) {
            ah__list_remove(&c->link);
            ah__free(c);
            continue;
        }
        ah__task_post(f->sim, &c->task);
    }
    if (f->comb != NULL && (st == AH_FUTURE_CANCELLED || f->comb->kind == COMB_TIMEOUT))
        comb_propagate_cancel(f->comb);
    return 0;
}

int ah_future_fulfil(ah_future *f, intptr_t value)
{
    ah__future_require(f, "ah_future_fulfil");
    return settle(f, AH_FUTURE_FULFILLED, value, 0);
}

int ah_future_fulfil_owned(ah_future *f, void *value, void (*free_fn)(void *))
{
    int r;

    ah__future_require(f, "ah_future_fulfil_owned");
    r = settle(f, AH_FUTURE_FULFILLED, (intptr_t)value, 0);

    if (r != 0) {
        if (free_fn != NULL)
            free_fn(value);
        return r;
    }
    f->owned = value;
    f->owned_free = free_fn;
    return 0;
}

int ah_future_reject(ah_future *f, int err)
{
    ah__future_require(f, "ah_future_reject");
    if (err >= 0)
        return UV_EINVAL;
    return settle(f, AH_FUTURE_REJECTED, 0, err);
}

int ah_future_cancel(ah_future *f)
{
    ah__future_require(f, "ah_future_cancel");
    return settle(f, AH_FUTURE_CANCELLED, 0, UV_ECANCELED);
}

int ah_future_settle(ah_future *f, int status, intptr_t value)
{
    ah__future_require(f, "ah_future_settle");
    return status < 0 ? ah_future_reject(f, status) : ah_future_fulfil(f, value);
}

void ah_future_on_cancel(ah_future *f, ah_future_cb fn, void *ctx)
{
    ah__future_require(f, "ah_future_on_cancel");
    cont_add(f, fn, ctx, CONT_ON_CANCEL);
}

ah_future_state ah_future_state_of(const ah_future *f)
{
    ah__future_require(f, "ah_future_state_of");
    return f->state;
}

intptr_t ah_future_value(const ah_future *f)
{
    char s[64], st[96];
    ah__future_require(f, "ah_future_value");

    if (f->state != AH_FUTURE_FULFILLED)
        ah__fail(f->sim, "ah_future_value: the future created at %s is %s, not fulfilled",
                 ah__future_site(f, s, sizeof(s)), ah__future_state_str(f, st, sizeof(st)));
    return f->value;
}

int ah_future_error(const ah_future *f)
{
    ah__future_require(f, "ah_future_error");
    return f->state == AH_FUTURE_REJECTED || f->state == AH_FUTURE_CANCELLED ? f->err : 0;
}

ah_sim *ah_future_sim(const ah_future *f)
{
    ah__future_require(f, "ah_future_sim");
    return f->sim;
}

int ah_future_winner(const ah_future *f)
{
    ah__future_require(f, "ah_future_winner");
    return f->winner;
}

void ah_future_then(ah_future *f, ah_future_cb cb, void *ctx)
{
    ah__future_require(f, "ah_future_then");
    f->consumed |= AH__FUT_CHAINED;
    cont_add(f, cb, ctx, 0);
}

void ah_future_detach(ah_future *f)
{
    ah__future_require(f, "ah_future_detach");
    f->consumed |= AH__FUT_DETACHED;
}

/* ---- combinators ---- */

static void disarm(ah__comb *cb)
{
    ah__event_cancel(&cb->ev);
    ah__list_remove(&cb->armed);
}

static void comb_propagate_cancel(ah__comb *cb)
{
    size_t i;

    if (cb->kind == COMB_TIMEOUT)
        disarm(cb);
    for (i = 0; i < cb->n; i++)
        if (cb->in[i]->state == AH_FUTURE_PENDING)
            ah_future_cancel(cb->in[i]);
}

static void cancel_others(ah__comb *cb, size_t keep)
{
    size_t i;

    for (i = 0; i < cb->n; i++)
        if (i != keep && cb->in[i]->state == AH_FUTURE_PENDING)
            ah_future_cancel(cb->in[i]);
}

static size_t index_of(const ah__comb *cb, const ah_future *f)
{
    size_t i;

    for (i = 0; i < cb->n; i++)
        if (cb->in[i] == f)
            return i;
    return 0;
}

/* Mirrors the outcome of `in` on `out`. */
static void copy_outcome(ah_future *out, const ah_future *in)
{
    switch (in->state) {
    case AH_FUTURE_FULFILLED:
        settle(out, AH_FUTURE_FULFILLED, in->value, 0);
        break;
    case AH_FUTURE_REJECTED:
        settle(out, AH_FUTURE_REJECTED, 0, in->err);
        break;
    default:
        ah_future_cancel(out);
        break;
    }
}

static void comb_input_settled(ah_future *in, void *ctx)
{
    ah__comb *cb = ctx;
    ah_future *out = cb->out;
    size_t i = index_of(cb, in);

    cb->settled++;
    if (in->state != AH_FUTURE_FULFILLED) {
        cb->failed++;
        cb->last_err = in->err;
    }
    if (out->state != AH_FUTURE_PENDING)
        return;
    switch (cb->kind) {
    case COMB_ALL:
        if (in->state == AH_FUTURE_REJECTED) {
            settle(out, AH_FUTURE_REJECTED, 0, in->err);
            cancel_others(cb, i);
        } else if (in->state == AH_FUTURE_CANCELLED) {
            ah_future_cancel(out);
        } else if (cb->settled == cb->n) {
            settle(out, AH_FUTURE_FULFILLED, (intptr_t)cb->n, 0);
        }
        break;
    case COMB_ALL_SETTLED:
        if (cb->settled == cb->n)
            settle(out, AH_FUTURE_FULFILLED, (intptr_t)cb->n, 0);
        break;
    case COMB_ANY:
        if (in->state == AH_FUTURE_FULFILLED) {
            out->winner = (int)i;
            settle(out, AH_FUTURE_FULFILLED, in->value, 0);
            cancel_others(cb, i);
        } else if (cb->failed == cb->n) {
            settle(out, AH_FUTURE_REJECTED, 0, cb->last_err);
        }
        break;
    case COMB_RACE:
        out->winner = (int)i;
        copy_outcome(out, in);
        cancel_others(cb, i);
        break;
    case COMB_TIMEOUT:
        disarm(cb);
        copy_outcome(out, in);
        break;
    }
}

static ah__comb *comb_make(ah_sim *sim, int kind, const char *name, ah_future *const *in, size_t n,
                           const char *file, int line)
{
    ah__futures *fs;
    ah__comb *cb;
    size_t i;
    char s[64];

    for (i = 0; i < n; i++)
        if (in[i] != NULL)
            ah__future_require_at(in[i], name, file, line, NULL);
    fs = ah__futures_get(sim);
    cb = ah__calloc(1, sizeof(*cb));
    cb->kind = kind;
    cb->n = n;
    cb->in = ah__calloc(n ? n : 1, sizeof(*cb->in));
    for (i = 0; i < n; i++) {
        if (in[i] == NULL || in[i]->sim != sim)
            ah__fail(sim, "%s (%s:%d): input %zu is %s", name, ah__base_name(file), line, i,
                     in[i] == NULL ? "NULL" : "a future of another sim");
        cb->in[i] = in[i];
    }
    cb->out = future_make(sim, name, file, line);
    cb->out->comb = cb;
    ah__list_init(&cb->armed);
    ah__list_insert_tail(&fs->combs, &cb->link);
    for (i = 0; i < n; i++) {
        cb->in[i]->consumed |= AH__FUT_COMBINED;
        cont_add(cb->in[i], comb_input_settled, cb, CONT_INTERNAL);
    }
    if (n > 0)
        ah__future_note(cb->out, 0, "%s of %zu futures (the first created at %s)", name, n,
                        ah__future_site(cb->in[0], s, sizeof(s)));
    return cb;
}

ah_future *ah__all(ah_sim *sim, ah_future *const *fs, size_t n, const char *file, int line)
{
    ah__comb *cb = comb_make(sim, COMB_ALL, "ah_all", fs, n, file, line);
    if (n == 0)
        settle(cb->out, AH_FUTURE_FULFILLED, 0, 0);
    return cb->out;
}

ah_future *ah__all_settled(ah_sim *sim, ah_future *const *fs, size_t n, const char *file, int line)
{
    ah__comb *cb = comb_make(sim, COMB_ALL_SETTLED, "ah_all_settled", fs, n, file, line);
    if (n == 0)
        settle(cb->out, AH_FUTURE_FULFILLED, 0, 0);
    return cb->out;
}

ah_future *ah__any(ah_sim *sim, ah_future *const *fs, size_t n, const char *file, int line)
{
    ah__comb *cb = comb_make(sim, COMB_ANY, "ah_any", fs, n, file, line);
    if (n == 0)
        settle(cb->out, AH_FUTURE_REJECTED, 0, UV_EINVAL);
    return cb->out;
}

ah_future *ah__race(ah_sim *sim, ah_future *const *fs, size_t n, const char *file, int line)
{
    ah__comb *cb = comb_make(sim, COMB_RACE, "ah_race", fs, n, file, line);
    if (n == 0)
        settle(cb->out, AH_FUTURE_REJECTED, 0, UV_EINVAL);
    return cb->out;
}

static void timeout_fire(ah__event *ev)
{
    ah__comb *cb = ah__container_of(ev, ah__comb, ev);
    ah_sim *sim = cb->out->sim;

    ah__list_remove(&cb->armed);
    /* A callback of its own, so the continuations it queues run right after it. */
    ah__cb_enter(sim, NULL, "ah_with_timeout deadline");
    if (cb->out->state == AH_FUTURE_PENDING) {
        settle(cb->out, AH_FUTURE_REJECTED, 0, UV_ETIMEDOUT);
        if (cb->in[0]->state == AH_FUTURE_PENDING)
            ah_future_cancel(cb->in[0]);
    }
    ah__cb_leave(sim);
}

ah_future *ah__with_timeout(ah_sim *sim, ah_future *f, uint64_t ms, const char *file, int line)
{
    ah__futures *fs = ah__futures_get(sim);
    ah__comb *cb = comb_make(sim, COMB_TIMEOUT, "ah_with_timeout", &f, 1, file, line);
    uint64_t due = sim->clock.now_ns + ms * AH__NS_PER_MS;
    char s[64];

    cb->ms = ms;
    cb->ev.fire = timeout_fire;
    cb->ev.what = "ah_with_timeout deadline";
    cb->ev.site = (ah__site){file, line, NULL, NULL};
    /* Not referenced: a harness deadline must not keep the user's uv_run alive; ah_await refs
     * it while it waits (decisions.md). */
    cb->ev.flags = fs->timeouts_refd ? AH__EV_REF : 0;
    ah__future_note(cb->out, due, "ah_with_timeout(%llu ms) of the future created at %s",
                    (unsigned long long)ms, ah__future_site(f, s, sizeof(s)));
    if (f->state == AH_FUTURE_PENDING) {
        ah__event_schedule(ah_sim_loop(sim), &cb->ev, due);
        ah__list_insert_tail(&fs->armed, &cb->armed);
    }
    return cb->out;
}

/* While ah_await waits, every pending deadline keeps the default loop alive, so that awaiting
 * a future guarded by ah_with_timeout reaches its deadline even when nothing else is alive. */
void ah__futures_ref_timeouts(ah_sim *sim, int ref)
{
    ah__futures *fs = ah__futures_get(sim);
    ah__list *q;

    fs->timeouts_refd = ref;
    for (q = fs->armed.next; q != &fs->armed; q = q->next) {
        ah__comb *cb = ah__container_of(q, ah__comb, armed);
        ah__event *ev = &cb->ev;
        int live = ev->loop != NULL && ah__lp(ev->loop) != NULL &&
                   (ah__event_scheduled(ev) || ev->batch_index != 0);

        if (ref && !(ev->flags & AH__EV_REF)) {
            ev->flags |= AH__EV_REF;
            if (live)
                ah__lp(ev->loop)->ref_events++;
        } else if (!ref && (ev->flags & AH__EV_REF)) {
            ev->flags &= ~(unsigned)AH__EV_REF;
            if (live)
                ah__lp(ev->loop)->ref_events--;
        }
    }
}

void ah__futures_await_mark(ah_sim *sim, ah_future *f, const char *file, int line)
{
    ah__futures *fs = ah__futures_get(sim);

    fs->awaited = f;
    fs->await_file = file;
    fs->await_line = line;
}

/* ---- adapters ---- */

static void req_settle(void *data, int status)
{
    if (data == NULL)
        ah__fail(ah__sim(), "asyncharness adapter: req->data is NULL, expected the ah_future to "
                            "settle");
    ah_future_settle(data, status, status);
}

void ah_connect_cb(uv_connect_t *req, int status) { req_settle(req->data, status); }
void ah_write_cb(uv_write_t *req, int status) { req_settle(req->data, status); }
void ah_shutdown_cb(uv_shutdown_t *req, int status) { req_settle(req->data, status); }
void ah_after_work_cb(uv_work_t *req, int status) { req_settle(req->data, status); }

void ah_resolve_status_cb(void *obj, int status, const void *value, void *data)
{
    (void)obj;
    if (data == NULL)
        ah__fail(ah__sim(), "ah_resolve_status_cb: data is NULL, expected the ah_future to settle");
    ah_future_settle(data, status, (intptr_t)value);
}

void ah__adapter_settle(void *data, int status, intptr_t value, const char *adapter)
{
    if (data == NULL)
        ah__fail(ah__sim(), "%s: data is NULL, expected the ah_future to settle", adapter);
    ah__future_require_at(data, adapter, NULL, 0, NULL);
    ah_future_settle(data, status, value);
}

/* ---- reports ---- */

static void describe(const ah_future *f, ah__buf *b)
{
    char s[64], st[96];

    ah__buf_printf(
        b, "%s created at %s (+%llu ms)", strcmp(f->kind, "future") == 0 ? "future" : f->kind,
        ah__future_site(f, s, sizeof(s)), (unsigned long long)ah__rel_ms(f->sim, f->created_ns));
    ah__buf_printf(b, ", %s", ah__future_state_str(f, st, sizeof(st)));
    if (f->note[0] != '\0')
        ah__buf_printf(b, " [%s]", f->note);
    if (f->state == AH_FUTURE_PENDING) {
        if (f->due_ns == UINT64_MAX)
            ah__buf_printf(b, ", never due");
        else if (f->due_ns != 0)
            ah__buf_printf(b, ", due at +%llu ms",
                           (unsigned long long)ah__rel_ms(f->sim, f->due_ns));
    }
}

static void futures_pending(ah_sim *sim, void *state, ah__buf *b)
{
    ah__futures *fs = state;
    ah__list *q;

    (void)sim;
    for (q = fs->all.next; q != &fs->all; q = q->next) {
        ah_future *f = ah__container_of(q, ah_future, link);
        if (f->state != AH_FUTURE_PENDING)
            continue;
        ah__buf_printf(b, "  - ");
        describe(f, b);
        if (f == fs->awaited)
            ah__buf_printf(b, ", awaited by ah_await at %s:%d",
                           fs->await_file ? ah__base_name(fs->await_file) : "?", fs->await_line);
        ah__buf_printf(b, "\n");
    }
}

static void futures_check(ah_sim *sim, void *state, ah__buf *b)
{
    ah__futures *fs = state;
    ah__list *q;

    (void)sim;
    for (q = fs->all.next; q != &fs->all; q = q->next) {
        ah_future *f = ah__container_of(q, ah_future, link);
        if (f->consumed != AH__FUT_UNCONSUMED)
            continue;
        ah__buf_printf(b, "  - never awaited: ");
        describe(f, b);
        ah__buf_printf(b, "; await it (ah_await), chain it (ah_future_then) or ah_future_detach "
                          "it\n");
    }
}

/* Pending futures someone consumed (the unconsumed ones are reported as never awaited). */
static void futures_ops(ah_sim *sim, void *state, ah__buf *b, unsigned *n)
{
    ah__futures *fs = state;
    ah__list *q;

    (void)sim;
    for (q = fs->all.next; q != &fs->all; q = q->next) {
        ah_future *f = ah__container_of(q, ah_future, link);
        if (f->state != AH_FUTURE_PENDING || f->consumed == AH__FUT_UNCONSUMED ||
            (f->consumed & AH__FUT_DETACHED) || f->producer_reports)
            continue;
        ah__buf_printf(b, "    - ");
        describe(f, b);
        ah__buf_printf(b, "\n");
        (*n)++;
    }
}

static void futures_destroy(ah_sim *sim, void *state)
{
    ah__futures *fs = state;
    ah__list *q;

    (void)sim;
    while (!ah__list_empty(&fs->conts)) {
        q = fs->conts.next;
        ah__cont *c = ah__container_of(q, ah__cont, link);
        ah__list_remove(&c->link);
        ah__task_cancel(&c->task);
        ah__free(c);
    }
    while (!ah__list_empty(&fs->combs)) {
        q = fs->combs.next;
        ah__comb *cb = ah__container_of(q, ah__comb, link);
        ah__list_remove(q);
        ah__event_cancel(&cb->ev);
        ah__free(cb->in);
        ah__free(cb);
    }
    while (!ah__list_empty(&fs->all)) {
        q = fs->all.next;
        ah_future *f = ah__container_of(q, ah_future, link);
        ah__list_remove(q);
        if (f->owned_free != NULL)
            f->owned_free(f->owned);
        f->live = 0;
        ah__free(f);
    }
    ah__free(fs);
}
