/* Handles in general: init, records, close, ref/unref, walk, getters; requests; dispatch. */
#include "../internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

ah__close_fn ah__close_hooks[UV_HANDLE_TYPE_MAX];
ah__close_fn ah__finish_close_hooks[UV_HANDLE_TYPE_MAX];

#define HREC_SLAB 128

/* Whether `loop` is a live loop of `sim`, found by address in the sim's list: its memory is
 * never read first (a freed and reused loop's internal pointer may point anywhere). */
static int loop_known(ah_sim *sim, const uv_loop_t *loop)
{
    ah__list *q;

    if (loop == &sim->default_loop) /* the sim's own memory */
        return ah__lp(loop) != NULL && ah__lp(loop)->loop == loop;
    for (q = sim->loops.next; q != &sim->loops; q = q->next)
        if (ah__container_of(q, ah__loop, link)->loop == loop)
            return ah__lp(loop) == ah__container_of(q, ah__loop, link);
    return 0;
}

static ah_sim *loop_check(const uv_loop_t *loop, const char *fn, const ah__site *site)
{
    ah_sim *sim = ah__sim();
    char where[160], hint[320];

    if (loop == NULL)
        ah__fail_call(sim, site, "%s in %s%s: called with a NULL loop", fn,
                      ah__site_str(site, where, sizeof(where)),
                      ah__site_hint(site, hint, sizeof(hint)));
    if (!loop_known(sim, loop))
        ah__fail_call(sim, site,
                      "%s in %s%s: loop %p was " AH__UNKNOWN_HINT
                      " (a loop comes from uv_loop_init or uv_default_loop)",
                      fn, ah__site_str(site, where, sizeof(where)),
                      ah__site_hint(site, hint, sizeof(hint)), (const void *)loop);
    return sim;
}

ah_sim *ah__loop_sim_at(const uv_loop_t *loop, const char *fn, const void *ret)
{
    ah_sim *sim = ah_sim_current();
    ah__site site;

    /* The common case first, without a site looked up: the current sim's default loop, or one
     * of its other loops (a short list, walked without reading the loop's memory). */
    if (sim != NULL && loop != NULL && loop_known(sim, loop))
        return sim;
    site = ah__call_site(fn, ret);
    return loop_check(loop, fn, &site);
}

static void *cookie(const ah_sim *sim, const ah__hrec *r)
{
    return (void *)((uintptr_t)r ^ (uintptr_t)sim->key);
}

static ah__hrec *hrec_alloc(ah_sim *sim)
{
    char *block;

    if (sim->hrec_free == 0) {
        /* One slab per HREC_SLAB handles: records live until the sim is freed, so a report can
         * name a handle whose memory the test has long released. */
        block = ah__calloc(1, sizeof(ah__hrec) * HREC_SLAB + sizeof(ah__hrec));
        *(void **)block = sim->hrec_blocks;
        sim->hrec_blocks = block;
        sim->hrec_free = HREC_SLAB;
    }
    block = sim->hrec_blocks;
    return (ah__hrec *)(block + sizeof(ah__hrec) * (1 + HREC_SLAB - sim->hrec_free--));
}

/* ---- the live handles, by address ---- */

static size_t live_slot(const ah_sim *sim, const void *h)
{
    uintptr_t k = (uintptr_t)h;

    k ^= k >> 17;
    k *= (uintptr_t)0x9e3779b97f4a7c15ull;
    return (size_t)(k >> 7) & (sim->live_cap - 1);
}

static ah__hrec *live_find(const ah_sim *sim, const void *h)
{
    size_t i;

    if (sim->live_cap == 0)
        return NULL;
    for (i = live_slot(sim, h); sim->live_tab[i] != NULL; i = (i + 1) & (sim->live_cap - 1))
        if (sim->live_tab[i]->handle == h)
            return sim->live_tab[i];
    return NULL;
}

/* The first free slot on `h`'s probe path. */
static size_t live_free_slot(const ah_sim *sim, const void *h)
{
    size_t i;

    for (i = live_slot(sim, h); sim->live_tab[i] != NULL; i = (i + 1) & (sim->live_cap - 1))
        ;
    return i;
}

static void live_put(ah_sim *sim, ah__hrec *r)
{
    if ((sim->live_n + 1) * 2 > sim->live_cap) {
        ah__hrec **old = sim->live_tab;
        size_t n = sim->live_cap, j;
        sim->live_cap = n ? n * 2 : 64;
        sim->live_tab = ah__calloc(sim->live_cap, sizeof(*sim->live_tab));
        for (j = 0; j < n; j++)
            if (old[j] != NULL)
                sim->live_tab[live_free_slot(sim, old[j]->handle)] = old[j];
        ah__free(old);
    }
    sim->live_tab[live_free_slot(sim, r->handle)] = r;
    sim->live_n++;
}

static void live_remove(ah_sim *sim, const ah__hrec *r)
{
    size_t i, j, k, mask = sim->live_cap - 1;

    if (sim->live_cap == 0)
        return;
    for (i = live_slot(sim, r->handle); sim->live_tab[i] != r; i = (i + 1) & mask)
        if (sim->live_tab[i] == NULL)
            return;
    /* Backward-shift deletion: the entries after it that probed past slot i move back. */
    sim->live_tab[i] = NULL;
    sim->live_n--;
    for (j = (i + 1) & mask; sim->live_tab[j] != NULL; j = (j + 1) & mask) {
        k = live_slot(sim, sim->live_tab[j]->handle);
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            sim->live_tab[i] = sim->live_tab[j];
            sim->live_tab[j] = NULL;
            i = j;
        }
    }
}

void ah__handle_init(uv_loop_t *loop, uv_handle_t *h, uv_handle_type type, ah__site site)
{
    ah_sim *sim;
    ah__loop *lp;
    ah__hrec *r, *old;
    char hs[320], where[160], fn[40];

    /* "uv_timer_t" -> "uv_timer_init" */
    snprintf(fn, sizeof(fn), "%s", ah__handle_type_name(type));
    if (strlen(fn) > 2)
        snprintf(fn + strlen(fn) - 2, sizeof(fn) - (strlen(fn) - 2), "_init");
    sim = loop_check(loop, fn, &site);
    lp = ah__lp(loop);
    if ((old = live_find(sim, h)) != NULL) {
        ah__fail_call(
            sim, &site,
            "%s in %s: the handle is %s, still %s: initialising it again corrupts the loop's "
            "handle queue (close it and wait for its close callback first; or its memory "
            "was freed before its close callback and reused)",
            fn, ah__site_str(&site, where, sizeof(where)), ah__handle_str(old, hs, sizeof(hs)),
            old->state == AH__H_CLOSING ? "closing" : "open");
    }
    r = hrec_alloc(sim);

    r->handle = h;
    r->loop = loop;
    r->type = type;
    r->state = AH__H_OPEN;
    r->id = ++sim->next_handle_id[type];
    r->init_site = site;
    r->init_ns = sim->clock.now_ns;
    ah__list_insert_tail(&sim->handles, &r->link);
    live_put(sim, r);

    h->loop = loop;
    h->type = type;
    h->close_cb = NULL;
    h->flags = AH__HF_REF | AH__HF_MAGIC;
    h->next_closing = NULL;
    h->u.reserved[0] = r;
    h->u.reserved[1] = cookie(sim, r);
    /* The handle's track in the trace, kept in the handle so that dispatch hashes it without
     * touching the record (a cache miss per callback with many handles). */
    h->u.reserved[2] = (void *)(uintptr_t)ah__trace_key(type, r->id);
    ah__list_insert_tail(&lp->handles, ah__qlist(h->handle_queue));
}

ah__hrec *ah__handle_rec_at(const uv_handle_t *h, const char *fn, const void *ret)
{
    ah_sim *sim = ah__sim();
    ah__hrec *r;
    ah__site site;
    char where[160], hint[320];

    if (h != NULL) {
        r = h->u.reserved[0];
        if ((h->flags & AH__HF_MAGIC_MASK) == AH__HF_MAGIC && r != NULL &&
            h->u.reserved[1] == cookie(sim, r))
            return r;
    }
    site = ah__call_site(fn, ret);
    if (h == NULL)
        ah__fail_call(sim, &site, "%s in %s%s: called with a NULL handle", fn,
                      ah__site_str(&site, where, sizeof(where)),
                      ah__site_hint(&site, hint, sizeof(hint)));
    ah__fail_call(sim, &site,
                  "%s in %s%s: handle %p was " AH__UNKNOWN_HINT
                  " (a handle comes from its uv_<type>_init; one of an earlier test looks the "
                  "same)",
                  fn, ah__site_str(&site, where, sizeof(where)),
                  ah__site_hint(&site, hint, sizeof(hint)), (const void *)h);
}

const char *ah__handle_str(const ah__hrec *r, char *buf, size_t n)
{
    char site[160];

    if (r->label[0] != '\0')
        snprintf(buf, n, "%s #%u [%s] (%p) initialised in %s", ah__handle_type_name(r->type), r->id,
                 r->label, r->handle, ah__site_str(&r->init_site, site, sizeof(site)));
    else
        snprintf(buf, n, "%s #%u (%p) initialised in %s", ah__handle_type_name(r->type), r->id,
                 r->handle, ah__site_str(&r->init_site, site, sizeof(site)));
    return buf;
}

void ah__handle_require_open_at(const uv_handle_t *h, const char *fn, const void *ret)
{
    ah__hrec *r = ah__handle_rec_at(h, fn, ret);
    char b[320], where[160], hint[320];
    ah__site site;

    if (ah__is_closing(h)) {
        site = ah__call_site(fn, ret);
        ah__fail_call(ah__sim(), &site, "%s in %s%s on %s, which is %s (uv_close called in %s)", fn,
                      ah__site_str(&site, where, sizeof(where)),
                      ah__site_hint(&site, hint, sizeof(hint)), ah__handle_str(r, b, sizeof(b)),
                      (h->flags & AH__HF_CLOSED) ? "closed" : "closing",
                      ah__site_str(&r->close_site, (char[160]){0}, 160));
    }
}

void ah__handle_start(uv_handle_t *h)
{
    if (h->flags & AH__HF_ACTIVE)
        return;
    h->flags |= AH__HF_ACTIVE;
    if (h->flags & AH__HF_REF)
        h->loop->active_handles++;
}

void ah__handle_stop(uv_handle_t *h)
{
    if (!(h->flags & AH__HF_ACTIVE))
        return;
    h->flags &= ~AH__HF_ACTIVE;
    if (h->flags & AH__HF_REF)
        h->loop->active_handles--;
}

void uv_ref(uv_handle_t *h)
{
    ah__handle_rec(h, "uv_ref");
    if (h->flags & AH__HF_REF)
        return;
    h->flags |= AH__HF_REF;
    if (h->flags & AH__HF_CLOSING)
        return;
    if (h->flags & AH__HF_ACTIVE)
        h->loop->active_handles++;
}

void uv_unref(uv_handle_t *h)
{
    ah__handle_rec(h, "uv_unref");
    if (!(h->flags & AH__HF_REF))
        return;
    h->flags &= ~AH__HF_REF;
    if (h->flags & AH__HF_CLOSING)
        return;
    if (h->flags & AH__HF_ACTIVE)
        h->loop->active_handles--;
}

int uv_has_ref(const uv_handle_t *h) { return (h->flags & AH__HF_REF) != 0; }
int uv_is_active(const uv_handle_t *h) { return ah__is_active(h); }
int uv_is_closing(const uv_handle_t *h) { return ah__is_closing(h); }

void uv_close(uv_handle_t *h, uv_close_cb close_cb)
{
    ah__site site = AH__CALLER("uv_close");
    ah__hrec *r = ah__handle_rec(h, "uv_close");
    ah_sim *sim = ah__lp(h->loop)->sim;
    ah__loop *lp = ah__lp(h->loop);
    char b[320], s1[160], s2[160];

    if (ah__is_closing(h))
        ah__fail(sim,
                 "uv_close called twice on %s: first in %s, again in %s (libuv asserts on this)",
                 ah__handle_str(r, b, sizeof(b)), ah__site_str(&r->close_site, s1, sizeof(s1)),
                 ah__site_str(&site, s2, sizeof(s2)));

    h->flags |= AH__HF_CLOSING;
    h->close_cb = close_cb;
    r->state = AH__H_CLOSING;
    r->close_site = site;
    r->close_ns = sim->clock.now_ns;

    /* Every type's own close step is its hook (a timer's or idle handle's: stop it), set by the
     * file that simulates the type when it initialises one. */
    switch (h->type) {
    case UV_ASYNC:
        ah__list_remove(ah__qlist(((uv_async_t *)h)->queue));
        ah__handle_stop(h);
        break;
    default:
        if (ah__close_hooks[h->type] == NULL)
            ah__fail(sim, "uv_close: closing %s is not simulated", ah__handle_str(r, b, sizeof(b)));
        ah__close_hooks[h->type](h);
    }

    /* Close callbacks are always deferred to the closing phase, newest first (libuv's LIFO). */
    if (!(h->flags & AH__HF_CLOSE_WAITS)) {
        h->next_closing = lp->closing;
        lp->closing = h;
    }
}

void ah__close_pending(uv_handle_t *h)
{
    ah__loop *lp = ah__lp(h->loop);

    h->flags &= ~AH__HF_CLOSE_WAITS;
    h->next_closing = lp->closing;
    lp->closing = h;
}

static void finish_close(ah_sim *sim, uv_handle_t *h)
{
    ah__hrec *r = h->u.reserved[0];
    char b[320], s[160];

    /* libuv would run the close callback on freed memory; we can at least see a scribble. The
     * loop field is the first a malloc free list overwrites. */
    if (r == NULL || h->u.reserved[1] != cookie(sim, r) || r->handle != h ||
        (h->flags & AH__HF_MAGIC_MASK) != AH__HF_MAGIC || h->loop != r->loop) {
        /* The handle's own fields are garbage: find its record by address. */
        ah__list *q;
        for (r = NULL, q = sim->handles.prev; q != &sim->handles; q = q->prev) {
            ah__hrec *c = ah__container_of(q, ah__hrec, link);
            if (c->handle == h && c->state == AH__H_CLOSING) {
                r = c;
                break;
            }
        }
        if (r != NULL)
            ah__fail(sim,
                     "%s was freed or overwritten before its close callback ran (uv_close called "
                     "in %s at +%llu ms). Free a handle only in its close callback.",
                     ah__handle_str(r, b, sizeof(b)), ah__site_str(&r->close_site, s, sizeof(s)),
                     (unsigned long long)((r->close_ns - AH__EPOCH_NS) / AH__NS_PER_MS));
        ah__fail(sim,
                 "a handle was freed or overwritten before its close callback ran: %p. Free a "
                 "handle only in its close callback.",
                 (const void *)h);
    }
    h->flags |= AH__HF_CLOSED;
    if (ah__finish_close_hooks[h->type] != NULL)
        ah__finish_close_hooks[h->type](h);
    /* as libuv's uv__handle_unref on a closing handle: drop the flag, counts are settled */
    h->flags &= ~AH__HF_REF;
    ah__list_remove(ah__qlist(h->handle_queue));
    r->state = AH__H_CLOSED;
    live_remove(sim, r);
    if (h->close_cb != NULL)
        AH__DISPATCH(sim, h, "close_cb", h->close_cb(h));
}

void ah__close_run(uv_loop_t *loop)
{
    ah__loop *lp = ah__lp(loop);
    uv_handle_t *p = lp->closing, *q;

    lp->closing = NULL;
    while (p != NULL) {
        q = p->next_closing;
        finish_close(lp->sim, p);
        p = q;
    }
}

void uv_walk(uv_loop_t *loop, uv_walk_cb walk_cb, void *arg)
{
    ah__loop *lp;
    ah__list queue, *q;
    uv_handle_t *h;

    ah__loop_sim(loop, "uv_walk");
    lp = ah__lp(loop);
    ah__list_move(&lp->handles, &queue);
    while (!ah__list_empty(&queue)) {
        q = queue.next;
        h = ah__container_of((void *)q, uv_handle_t, handle_queue);
        ah__list_remove(q);
        ah__list_insert_tail(&lp->handles, q);
        if (h->flags & AH__HF_INTERNAL)
            continue;
        walk_cb(h, arg);
    }
}

size_t uv_handle_size(uv_handle_type type)
{
    switch (type) {
#define X(uc, lc)                                                                                  \
    case UV_##uc:                                                                                  \
        return sizeof(uv_##lc##_t);
        UV_HANDLE_TYPE_MAP(X)
#undef X
    default:
        return (size_t)-1;
    }
}

size_t uv_req_size(uv_req_type type)
{
    switch (type) {
#define X(uc, lc)                                                                                  \
    case UV_##uc:                                                                                  \
        return sizeof(uv_##lc##_t);
        UV_REQ_TYPE_MAP(X)
#undef X
    default:
        return (size_t)-1;
    }
}

uv_handle_type uv_handle_get_type(const uv_handle_t *h) { return h->type; }
void *uv_handle_get_data(const uv_handle_t *h) { return h->data; }
uv_loop_t *uv_handle_get_loop(const uv_handle_t *h) { return h->loop; }
void uv_handle_set_data(uv_handle_t *h, void *data) { h->data = data; }
void *uv_req_get_data(const uv_req_t *req) { return req->data; }
void uv_req_set_data(uv_req_t *req, void *data) { req->data = data; }
uv_req_type uv_req_get_type(const uv_req_t *req) { return req->type; }

/* ---- requests ---- */

/* What a request any sim of the process made keeps in its last reserved field, for good: so
 * that uv_cancel and uv_fs_req_cleanup tell a request that was made (legal to pass after its
 * callback, as on libuv, whichever sim or test made it: a uv_fs_t is not tied to its loop) from
 * memory no sim handed out, or one freed since (malloc scribbles over its type). */
#define AH__REQ_MADE 5
static void *made_token(const uv_req_t *req)
{
    return (void *)((uintptr_t)req ^ (uintptr_t)0x61682e7265712e31ull);
}

void ah__req_begin(uv_loop_t *loop, uv_req_t *req, uv_req_type type, const char *what,
                   ah__site site)
{
    ah_sim *sim = ah__loop_sim(loop, what);
    ah__rrec *r;

    if (!ah__list_empty(&sim->reqs_free)) {
        r = ah__container_of(sim->reqs_free.next, ah__rrec, link);
        ah__list_remove(&r->link);
    } else {
        r = ah__malloc(sizeof(*r));
    }
    r->req = req;
    r->loop = loop;
    r->type = type;
    r->what = what;
    r->site = site;
    r->start_ns = sim->clock.now_ns;
    ah__list_insert_tail(&sim->reqs, &r->link);
    req->type = type;
    req->reserved[0] = r;
    req->reserved[1] = (void *)((uintptr_t)r ^ (uintptr_t)sim->key);
    req->reserved[AH__REQ_MADE] = made_token(req);
    loop->active_reqs.count++;
}

ah__rrec *ah__req_rec(const uv_req_t *req)
{
    ah_sim *sim = ah__sim();
    ah__rrec *r = req->reserved[0];

    if (r == NULL || req->reserved[1] != (void *)((uintptr_t)r ^ (uintptr_t)sim->key))
        return NULL;
    return r;
}

void ah__req_done_here(uv_req_t *req)
{
    req->reserved[0] = NULL;
    req->reserved[1] = NULL;
    req->reserved[AH__REQ_MADE] = made_token(req);
}

int ah__req_known(const uv_req_t *req)
{
    if ((unsigned)req->type >= UV_REQ_TYPE_MAX)
        return 0; /* a freed request: malloc's free list writes over its first 16 bytes */
    return ah__req_rec(req) != NULL || req->reserved[AH__REQ_MADE] == made_token(req);
}

void ah__req_unknown_at(const uv_req_t *req, const char *fn, const void *ret, const char *why)
{
    ah__site site = ah__call_site(fn, ret);
    char where[160], hint[320];

    ah__fail_call(ah__sim(), &site,
                  "%s in %s%s: request %p was " AH__UNKNOWN_HINT
                  " (a request is made by the call that starts it, such as uv_write, uv_fs_open "
                  "or uv_queue_work, and stays valid until its callback has run; %s)",
                  fn, ah__site_str(&site, where, sizeof(where)),
                  ah__site_hint(&site, hint, sizeof(hint)), (const void *)req, why);
}

void ah__req_end(uv_req_t *req)
{
    ah_sim *sim = ah__sim();
    ah__rrec *r = ah__req_rec(req);

    if (r == NULL)
        return;
    r->loop->active_reqs.count--;
    req->reserved[0] = NULL;
    req->reserved[1] = NULL;
    ah__list_remove(&r->link);
    ah__list_insert_tail(&sim->reqs_free, &r->link);
}

/* ---- dispatch ---- */

static uint64_t coarse_ms(void)
{
    struct timespec ts;
    ah__real_clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ah__cb_enter(ah_sim *sim, const uv_handle_t *h, const char *what)
{
    const ah__hrec *r = h ? h->u.reserved[0] : NULL;
    char b[320], s[160];

    sim->callbacks++;
    if (++sim->callbacks_at_instant > sim->opts.runaway_limit) {
        if (r != NULL)
            ah__fail(sim,
                     "runaway loop: %llu callbacks at virtual time +%llu ms without the clock "
                     "moving; the last was %s of %s, last started in %s",
                     (unsigned long long)sim->callbacks_at_instant,
                     (unsigned long long)ah_now_ms(sim), what, ah__handle_str(r, b, sizeof(b)),
                     ah__site_str(&r->start_site, s, sizeof(s)));
        ah__fail(sim,
                 "runaway loop: %llu callbacks at virtual time +%llu ms without the clock moving; "
                 "the last was a %s",
                 (unsigned long long)sim->callbacks_at_instant, (unsigned long long)ah_now_ms(sim),
                 what);
    }
    ah__site_forget(); /* the call that dispatched this callback is not the callback's */
    sim->current_hrec = r;
    sim->current_what = what;
    {
        struct ah__recent *e = &sim->recent[sim->recent_n++ % AH__RECENT];
        e->t_ns = sim->clock.now_ns;
        e->r = r;
        e->what = what;
    }
    sim->last_hrec = r;
    sim->last_what = what;
    ah__trace_dispatch(sim, h ? (uint64_t)(uintptr_t)h->u.reserved[2] : UINT64_MAX, r, what);
    sim->in_callback++;
    sim->cb_start_ms = coarse_ms();
}

void ah__cb_restart_clock(ah_sim *sim) { sim->cb_start_ms = coarse_ms(); }

void ah__cb_leave(ah_sim *sim)
{
    uint64_t took = coarse_ms() - sim->cb_start_ms;
    char b[320];
    int i;

    sim->in_callback--;
    ah__site_forget();
    if (took >= sim->opts.slow_callback_ms) {
        sim->slow_reported++;
        if (sim->current_hrec != NULL)
            ah__buf_printf(&sim->slow,
                           "  - slow callback: %s of %s blocked the loop for %llu ms of real time "
                           "(threshold %llu ms) at virtual time +%llu ms\n",
                           sim->current_what, ah__handle_str(sim->current_hrec, b, sizeof(b)),
                           (unsigned long long)took, (unsigned long long)sim->opts.slow_callback_ms,
                           (unsigned long long)ah_now_ms(sim));
        else
            ah__buf_printf(&sim->slow,
                           "  - slow callback: a %s blocked the loop for %llu ms of real time "
                           "(threshold %llu ms) at virtual time +%llu ms\n",
                           sim->current_what, (unsigned long long)took,
                           (unsigned long long)sim->opts.slow_callback_ms,
                           (unsigned long long)ah_now_ms(sim));
    }
    for (i = 0; i < sim->n_after_cb; i++)
        sim->after_cb[i].fn(sim, sim->after_cb[i].ctx);
    sim->current_hrec = NULL;
    /* Continuations queued by this callback run now, at the same instant (design.md, futures). */
    if (sim->in_callback == 0 && !sim->draining && !ah__list_empty(&sim->tasks))
        ah__tasks_drain(sim);
}

/* ---- continuations (ah__task): run as callbacks ---- */

uint64_t ah__tasks_drain(ah_sim *sim)
{
    uint64_t n = 0;
    ah__task *t;

    if (sim->draining)
        return 0;
    sim->draining = 1;
    while (!ah__list_empty(&sim->tasks)) {
        t = ah__container_of(sim->tasks.next, ah__task, link);
        ah__list_remove(&t->link);
        ah__cb_enter(sim, NULL, "continuation");
        t->run(t);
        ah__cb_leave(sim);
        n++;
    }
    sim->draining = 0;
    return n;
}
