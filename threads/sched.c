/* The baton scheduler: the threads the code under test starts are real OS threads, but only one
 * of them runs at a time. The running thread keeps the baton until it reaches a switch point (a
 * synchronisation call, a sleep, thread start and exit); there the oracle (ah__choose_among)
 * picks which runnable thread goes next, and the baton is handed over. Virtual time moves only
 * when every thread is blocked: to the earliest deadline (a sleep, a timed wait, a loop's poll
 * timeout). All blocked with nothing due is a deadlock, reported naming every thread.
 *
 * The handover is a futex word per thread, written with release and read with acquire, so every
 * step of one thread happens before the next thread's (TSan sees the atomics; Helgrind sees the
 * ANNOTATE_HAPPENS_* client requests). */
#define _GNU_SOURCE 1
#include "internal_threads.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <locale.h>
#include <signal.h>
#include <sys/prctl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#endif
#endif
#ifndef ANNOTATE_HAPPENS_BEFORE
#define ANNOTATE_HAPPENS_BEFORE(obj) ((void)(obj))
#define ANNOTATE_HAPPENS_AFTER(obj) ((void)(obj))
#define VALGRIND_HG_DISABLE_CHECKING(p, n) ((void)(p), (void)(n))
#endif

/* Reached from threads/interpose.c, so that this file is linked (see there). */
const char ah__threads_interposer_sched = 0;
/* The futex word itself is accessed atomically; Helgrind checks only plain accesses. */
#define BATON_INIT(t) VALGRIND_HG_DISABLE_CHECKING(&(t)->turn, sizeof((t)->turn))

static __thread ah__thr *tls_self;
int (*ah__pool_forget_idle)(ah_sim *sim, ah__thr *t);
static __thread uint64_t tls_gen;
/* Set while the scheduler itself calls the C library's thread functions: a tool that wraps them
 * (Helgrind's pthread_create waits for the child with a semaphore) must reach the C library, not
 * the simulation. */
static __thread int tls_passthrough;
static uint64_t sched_gen;
static const int sched_key;
/* The contexts mode: the pthread_t that pthread_self answers on a context (0 elsewhere). Each
 * context has its own copy, as every TLS variable of this module (ctx.c swaps the blocks). */
static __thread pthread_t tls_ctx_id;

void ah__passthrough(int on) { tls_passthrough += on ? 1 : -1; }

/* ---- the baton ---- */

static void futex_wait(int *w) { syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0); }

/* The futex baton's wait (unused under TSan, whose baton is a mutex and condition variable). */
__attribute__((unused)) static void futex_wait2(int *w, int val)
{
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(int *w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void futex_wake_all(int *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

#ifdef AH_TSAN_RUNTIME
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_RELEASE(p) __tsan_release(p)
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define TSAN_RELEASE(p) ((void)(p))
#define TSAN_ACQUIRE(p) ((void)(p))
#endif

/* A scheduler was made once: keys made before that are the C library's and TSan's own. */
static int sched_ever;

#ifdef AH_TSAN_RUNTIME
/* Under TSan the baton is a real mutex and condition variable per thread, taken through TSan's
 * interceptors, so TSan models each handover itself. */
static pthread_mutex_t baton_mu = PTHREAD_MUTEX_INITIALIZER;

static void give(ah__thr *to)
{
    AH__REAL(pthread_mutex_lock)(&baton_mu);
    to->turn = 1;
    AH__REAL(pthread_cond_broadcast)(&to->turn_cv);
    AH__REAL(pthread_mutex_unlock)(&baton_mu);
}

static void await_turn(ah__thr *self)
{
    AH__REAL(pthread_mutex_lock)(&baton_mu);
    while (self->turn == 0)
        AH__REAL(pthread_cond_wait)(&self->turn_cv, &baton_mu);
    self->turn = 0;
    AH__REAL(pthread_mutex_unlock)(&baton_mu);
}
#else

/* The word: 0 not this thread's turn, 1 its turn, 2 not its turn and it sleeps in the kernel.
 * The giver wakes it only when it sleeps: a thread not yet waiting takes the baton with no system
 * call on either side. (A bounded spin before sleeping was measured and made every figure worse
 * on the loaded 2-core VM: the spinner holds the core the other thread needs; docs/bench.md.) */
static void give(ah__thr *to)
{
    ANNOTATE_HAPPENS_BEFORE(&to->turn);
    TSAN_RELEASE(&to->turn);
    if (__atomic_exchange_n(&to->turn, 1, __ATOMIC_RELEASE) == 2)
        futex_wake(&to->turn);
}

static void await_turn(ah__thr *self)
{
    for (;;) {
        int v = 0;
        if (__atomic_load_n(&self->turn, __ATOMIC_ACQUIRE) == 1)
            break;
        if (__atomic_compare_exchange_n(&self->turn, &v, 2, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_ACQUIRE) ||
            v == 2)
            futex_wait2(&self->turn, 2);
    }
    __atomic_store_n(&self->turn, 0, __ATOMIC_RELAXED);
    ANNOTATE_HAPPENS_AFTER(&self->turn);
    TSAN_ACQUIRE(&self->turn);
}
#endif

static uint64_t coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The sim's per-thread callback context goes with the baton. */
static void ctx_save(ah__sched *s, ah__thr *t)
{
    ah_sim *sim = s->sim;
    t->in_callback = sim->in_callback;
    t->current_hrec = sim->current_hrec;
    t->current_what = sim->current_what;
    t->cb_start_ms = coarse_ms() - sim->cb_start_ms; /* time already spent in the callback */
}

static void ctx_restore(ah__sched *s, ah__thr *t)
{
    ah_sim *sim = s->sim;
    sim->in_callback = t->in_callback;
    sim->current_hrec = t->current_hrec;
    sim->current_what = t->current_what;
    sim->cb_start_ms = coarse_ms() - t->cb_start_ms; /* the time others ran does not count */
}

static void trace(ah__sched *s, const ah__thr *t, const char *what)
{
    char track[32] = "thread ", digits[12];
    unsigned v = (unsigned)t->id;
    size_t n = 0, i;

    /* by hand: an snprintf per switch was a tenth of a switch */
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (i = 0; i < n; i++)
        track[7 + i] = digits[n - 1 - i];
    track[7 + n] = 0;
    ah__trace_note(s->sim, track, what);
}

static void raise_pending(ah__sched *s, ah__thr *self)
{
    if (self == s->main && s->failure != NULL) {
        const char *msg = s->failure;
        s->failure = NULL;
        ah__fail_msg(s->sim, msg);
    }
}

static void die(ah__thr *self) __attribute__((noreturn));
static void die(ah__thr *self) { longjmp(self->exit_jb, 1); }

/* ---- the contexts mode (ctx.c): a handover is a swapcontext on the test's OS thread ---- */

static void keys_out(ah__cx *c);
static void keys_in(const ah__cx *c);

/* From the context of self to that of `to`; returns when self is switched to again. */
static void cx_switch(ah__thr *self, ah__thr *to)
{
    ah__cx *c = self->cx;

    keys_out(c);
    ah__cx_out(c);
    ah__cx_switch(c, to->cx);
    ah__cx_in(c); /* self again: its TLS, errno and keys back */
    keys_in(c);
}

/* The baton passed to `to` by a thread that will not wait for it (it leaves, or is the sim's end
 * stopping `to`): with OS threads a wake-up; a context switches when it leaves (cx_entry). */
static void hand(ah__sched *s, ah__thr *to)
{
    if (!s->contexts)
        give(to);
}

/* Hands the baton from self to `to` and waits until self has it again. */
static void switch_to(ah__sched *s, ah__thr *self, ah__thr *to)
{
    ctx_save(s, self);
    s->running = to;
    if (s->contexts) {
        cx_switch(self, to);
    } else {
        give(to);
        await_turn(self);
    }
    if (self->killing)
        die(self);
    ctx_restore(s, self);
    raise_pending(s, self);
}

/* ---- names and reports ---- */

const char *ah__thr_str(const ah__thr *t, char *buf, size_t n)
{
    char st[160];

    if (t->id == 0)
        snprintf(buf, n, "thread 0 (the test's thread)");
    else if (t->pool_worker)
        snprintf(buf, n, "thread %u (thread-pool worker)", (unsigned)t->id);
    else
        snprintf(buf, n, "thread %u (%s in %s)", (unsigned)t->id, t->create_fn,
                 ah__site_str(&t->create_site, st, sizeof(st)));
    return buf;
}

static const char *obj_kind_name(int kind)
{
    switch (kind) {
    case AH__O_MUTEX:
        return "mutex";
    case AH__O_RWLOCK:
        return "rwlock";
    case AH__O_COND:
        return "cond";
    case AH__O_SEM:
        return "semaphore";
    case AH__O_BARRIER:
        return "barrier";
    default:
        return "once";
    }
}

const char *ah__sobj_str(const ah__sobj *o, char *buf, size_t n)
{
    snprintf(buf, n, "%s #%u (%p)", obj_kind_name(o->kind), (unsigned)o->id, o->addr);
    return buf;
}

static void describe_wait(ah__sched *s, const ah__thr *t, ah__buf *b)
{
    char st[160], ob[96], hb[128];
    const ah__sobj *o = t->wait_obj;

    (void)s;
    if (t->state == AH__T_RUNNABLE) {
        ah__buf_printf(b, "runnable");
        return;
    }
    if (t->state == AH__T_DONE) {
        ah__buf_printf(b, "finished");
        return;
    }
    switch (t->wait_kind) {
    case AH__W_JOIN:
        ah__buf_printf(b, "blocked in %s joining %s", t->wait_fn,
                       ah__thr_str(t->wait_obj, hb, sizeof(hb)));
        break;
    case AH__W_SLEEP:
        ah__buf_printf(b, "sleeping in %s", t->wait_fn);
        break;
    case AH__W_TIME:
        ah__buf_printf(b, "waiting in %s", t->wait_loop ? "uv_run's poll" : "a test verb");
        break;
    case AH__W_POOL:
        ah__buf_printf(b, "idle, waiting for work");
        break;
    case AH__W_FD:
        ah__buf_printf(b, "blocked in %s", t->wait_fn);
        break;
    default:
        ah__buf_printf(b, "blocked in %s(%s)", t->wait_fn, ah__sobj_str(o, ob, sizeof(ob)));
        if ((o->kind == AH__O_MUTEX || o->kind == AH__O_RWLOCK) && o->owner != NULL)
            ah__buf_printf(b, ", held by %s since %s", ah__thr_str(o->owner, hb, sizeof(hb)),
                           ah__site_str(&o->lock_site, st, sizeof(st)));
        else if (o->kind == AH__O_RWLOCK && o->count > 0)
            ah__buf_printf(b, ", held for reading by %u thread(s)", o->count);
        break;
    }
    if (t->wait_kind != AH__W_POOL && t->wait_kind != AH__W_TIME)
        ah__buf_printf(b, " at %s", ah__site_str(&t->wait_site, st, sizeof(st)));
    if (t->deadline_ns != UINT64_MAX)
        ah__buf_printf(b, " until +%llu ms",
                       (unsigned long long)ah__rel_ms(s->sim, t->deadline_ns));
}

static void list_threads(ah__sched *s, ah__buf *b)
{
    ah__list *q;
    char tb[256];

    int first = 1;

    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->state == AH__T_DONE)
            continue;
        ah__buf_printf(b, "%s  - %s: ", first ? "" : "\n", ah__thr_str(t, tb, sizeof(tb)));
        first = 0;
        if (t == s->running && t->state == AH__T_RUNNABLE)
            ah__buf_printf(b, "running");
        else
            describe_wait(s, t, b);
    }
}

static ah__thr *off_main_self(ah__sched *s)
{
    ah__thr *self = tls_gen == s->gen ? tls_self : NULL;
    return self != NULL && self != s->main ? self : NULL;
}

/* A failure to raise on the test's thread: stop the calling thread, hand the baton to the test's
 * thread, which raises it. */
static void fail_elsewhere(ah__sched *s, ah__thr *self, const char *msg)
{
    ah__thr *m = s->main;

    s->failure = msg;
    self->failed = 1;
    if (m->state == AH__T_BLOCKED) {
        if (m->wait_link.next != NULL && m->wait_link.next != &m->wait_link)
            ah__list_remove(&m->wait_link);
        m->state = AH__T_RUNNABLE;
    }
    self->state = AH__T_DONE;
    s->sim->threads_live--;
    ctx_save(s, self);
    s->running = m;
    hand(s, m);
    die(self);
}

void ah__sched_fail(ah__sched *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ah__failv(s->sim, NULL, 0, fmt, ap); /* off the test's thread, ah__failv moves it there */
}

void ah__sched_report(ah__sched *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s->whole_sim_report = 1;
    ah__failv(s->sim, NULL, 0, fmt, ap);
}

static void deadlock(ah__sched *s, ah__thr *self) __attribute__((noreturn));
static void deadlock(ah__sched *s, ah__thr *self)
{
    ah__buf b = {0};
    const char *msg;

    (void)self;
    list_threads(s, &b);
    msg = ah__buf_keep(s->sim, &b);
    ah__sched_report(s, "deadlock: every simulated thread is blocked and nothing is due:\n%s", msg);
}

/* ---- choosing the next thread ---- */

static size_t runnable(ah__sched *s, ah__thr *self, int prefer_self)
{
    ah__list *q;
    size_t n = 0;

    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->state != AH__T_RUNNABLE)
            continue;
        if (n + 1 > s->cand_cap) {
            s->cand_cap = s->cand_cap ? s->cand_cap * 2 : 16;
            s->cand = ah__realloc(s->cand, s->cand_cap * sizeof(*s->cand));
        }
        s->cand[n++] = t;
    }
    /* The running thread first: choice 0 lets it go on (no preemption). */
    if (prefer_self && self != NULL && self->state == AH__T_RUNNABLE) {
        size_t i;
        for (i = 0; i < n && s->cand[i] != self; i++)
            ;
        if (i < n) {
            memmove(s->cand + 1, s->cand, i * sizeof(*s->cand));
            s->cand[0] = self;
        }
    }
    return n;
}

/* Every thread is blocked: move the clock to the earliest deadline and wake who is due. Returns
 * 0 when none has a deadline. */
static int advance_time(ah__sched *s)
{
    ah__list *q;
    uint64_t best = UINT64_MAX;
    ah_sim *sim = s->sim;

    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->state == AH__T_BLOCKED && t->deadline_ns < best)
            best = t->deadline_ns;
    }
    if (best == UINT64_MAX)
        return 0;
    if (best > sim->clock.now_ns)
        ah__clock_set(sim, best);
    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->state == AH__T_BLOCKED && t->deadline_ns <= sim->clock.now_ns) {
            ah__sched_wake(t);
            t->timed_out = 1;
        }
    }
    return 1;
}

/* Nothing can run and nothing is due: a thread waiting for time with no deadline (a poll that
 * would block forever, a verb) is told so; else it is a deadlock. */
static int wake_nothing_due(ah__sched *s)
{
    ah__list *q;

    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->state == AH__T_BLOCKED && t->wait_kind == AH__W_TIME) {
            ah__sched_wake(t);
            t->nothing_due = 1;
            return 1;
        }
    }
    return 0;
}

static void check_runaway(ah__sched *s)
{
    ah_sim *sim = s->sim;

    if (sim->clock.now_ns != s->instant_ns) {
        s->instant_ns = sim->clock.now_ns;
        s->switches_at_instant = 0;
    }
    if (++s->switches_at_instant > sim->opts.runaway_limit * 10) {
        ah__buf b = {0};
        list_threads(s, &b);
        ah__sched_report(
            s,
            "runaway threads: %llu thread switches at virtual time +%llu ms without the "
            "clock moving (a thread polling in a loop: trylock, sched_yield?):\n%s",
            (unsigned long long)s->switches_at_instant, (unsigned long long)ah_now_ms(sim),
            ah__buf_keep(sim, &b));
    }
}

/* A slice ran out (decision 139): the spinning thread's time passes. Only while a blocked thread
 * has a deadline, so a thread spinning alone with nothing due stays at one instant and the
 * runaway guard names it. A slice costs 1 us (about what 100 switch points cost a real CPU); after
 * AH__SLICE_STEADY slices in a row with no thread blocking in between, the thread is waiting by
 * spinning, and the cost doubles with each further one, never past the earliest deadline: a
 * spinner waiting for a sleeper reaches its wake-up in a few dozen more slices, however far it
 * is. Threads whose deadline came are woken, as advance_time does. */
#define AH__SLICE_STEADY 1000
static void slice_over(ah__sched *s)
{
    ah_sim *sim = s->sim;
    ah__list *q;
    uint64_t best = UINT64_MAX, step, to;

    s->slices_over++;
    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->state == AH__T_BLOCKED && t->deadline_ns < best)
            best = t->deadline_ns;
    }
    if (best == UINT64_MAX)
        return;
    if (s->slice_streak < AH__SLICE_STEADY)
        step = 1000;
    else if (s->slice_streak - AH__SLICE_STEADY < 40)
        step = (uint64_t)1000 << (s->slice_streak - AH__SLICE_STEADY);
    else
        step = (uint64_t)1000 << 40;
    s->slice_streak++;
    to = sim->clock.now_ns + step;
    if (to > best)
        to = best;
    if (to > sim->clock.now_ns)
        ah__clock_set(sim, to);
    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->state == AH__T_BLOCKED && t->deadline_ns <= sim->clock.now_ns) {
            ah__sched_wake(t);
            t->timed_out = 1;
        }
    }
}

/* The heart: picks the next thread to run. `leaving`: self has finished and will not wait. */
static void schedule(ah__sched *s, ah__thr *self, int leaving)
{
    size_t n, c;
    ah__thr *pick;
    /* Choice 0 lets a running thread go on; threads the clock woke go in creation order. */
    int prefer_self = self->state == AH__T_RUNNABLE;
    /* Its slice ran out: another runnable thread runs now (decision 139). */
    int preempt = 0;

    check_runaway(s);
    if (prefer_self && !leaving && ++self->slice >= AH__SLICE) {
        self->slice = 0;
        slice_over(s);
        preempt = 1;
    }
    for (;;) {
        n = runnable(s, self, prefer_self);
        if (n > 0)
            break;
        if (advance_time(s))
            continue;
        if (wake_nothing_due(s))
            continue;
        if (leaving) {
            /* The last thread ends with everyone else blocked: the test's thread reports. */
            ah__buf b = {0};
            list_threads(s, &b);
            s->failure = ah__buf_keep(s->sim, &b);
            {
                ah__buf m = {0};
                ah__buf_printf(&m,
                               "deadlock: every simulated thread is blocked and nothing is "
                               "due:\n%s",
                               s->failure);
                s->failure = ah__buf_keep(s->sim, &m);
            }
            {
                ah__thr *mn = s->main;
                if (mn->wait_link.next != NULL && mn->wait_link.next != &mn->wait_link)
                    ah__list_remove(&mn->wait_link);
                mn->state = AH__T_RUNNABLE;
                s->running = mn;
                hand(s, mn);
            }
            return;
        }
        deadlock(s, self);
    }
    /* Outside ah_explore the schedule is the default one (decisions.md): a test's expected
     * order must not change with AH_SEED. The explorer decides every switch. */
    if (preempt && n > 1 && s->cand[0] == self) {
        /* The others, in creation order after self's place: by default the next one after self
         * (round robin, so ten spinners all get their turn); the explorer chooses among them. */
        if (s->sim->chooser != NULL) {
            c = 1 + (n == 2 ? 0
                            : ah__choose_among(s->sim, n - 1, (const void *const *)(s->cand + 1),
                                               "which thread runs"));
        } else {
            for (c = 1; c < n && s->cand[c]->id < self->id; c++)
                ;
            if (c == n)
                c = 1;
        }
    } else {
        c = n == 1 || s->sim->chooser == NULL
                ? 0
                : ah__choose_among(s->sim, n, (const void *const *)s->cand, "which thread runs");
    }
    pick = s->cand[c];
    if (pick == self)
        return;
    pick->slice = 0;
    if (pick != s->running || leaving)
        trace(s, pick, "runs");
    if (leaving) {
        s->running = pick;
        hand(s, pick);
        return;
    }
    switch_to(s, self, pick);
}

void ah__sched_yield(ah__sched *s, ah__thr *self)
{
    if (s->sim->threads_live == 0 && self == s->main)
        return; /* alone: nothing to choose */
    schedule(s, self, 0);
}

void ah__sched_wake(ah__thr *t)
{
    if (t->state != AH__T_BLOCKED)
        return;
    if (t->wait_link.next != NULL && t->wait_link.next != &t->wait_link)
        ah__list_remove(&t->wait_link);
    t->state = AH__T_RUNNABLE;
}

void ah__sched_wake_all(ah__sobj *o)
{
    while (!ah__list_empty(&o->waiters))
        ah__sched_wake(ah__container_of(o->waiters.next, ah__thr, wait_link));
}

int ah__sched_block(ah__sched *s, ah__thr *self, int kind, const void *obj, const char *fn,
                    ah__site site, uint64_t deadline_ns)
{
    char w[96];

    self->state = AH__T_BLOCKED;
    s->slice_streak = 0; /* a thread blocks: the spin, if any, got somewhere */
    self->wait_kind = kind;
    self->wait_obj = obj;
    self->wait_fn = fn;
    self->wait_site = site;
    self->deadline_ns = deadline_ns;
    self->timed_out = 0;
    self->nothing_due = 0;
    if (self->wait_link.next == NULL)
        ah__list_init(&self->wait_link);
    if (kind != AH__W_TIME && kind != AH__W_POOL) {
        snprintf(w, sizeof(w), "blocks in %s", fn);
        trace(s, self, w);
    }
    schedule(s, self, 0);
    self->wait_kind = AH__W_NONE;
    return self->timed_out;
}

/* ---- the harness's hooks ---- */

static int hook_wait_until(ah_sim *sim, uv_loop_t *loop, uint64_t due_ns)
{
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 0);

    if (s == NULL || s->sim != sim) {
        if (due_ns == UINT64_MAX)
            return 1;
        if (due_ns > sim->clock.now_ns)
            ah__clock_set(sim, due_ns);
        return 0;
    }
    if (due_ns <= sim->clock.now_ns) {
        /* Nothing to wait for, but the others may run (a poll is a switch point). */
        ah__sched_yield(s, self);
        return 0;
    }
    self->wait_loop = loop;
    ah__sched_block(s, self, AH__W_TIME, NULL, loop ? "uv_run" : "a test verb", (ah__site){0},
                    due_ns);
    self->wait_loop = NULL;
    return self->nothing_due;
}

static void hook_wake_loop(ah_sim *sim, uv_loop_t *loop)
{
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 0);
    ah__list *q;

    if (s == NULL || s->sim != sim)
        return;
    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->state == AH__T_BLOCKED && t->wait_kind == AH__W_TIME &&
            (t->wait_loop == loop || t->wait_loop == NULL))
            ah__sched_wake(t);
    }
    ah__sched_yield(s, self); /* uv_async_send is a switch point */
}

static void hook_event_added(ah_sim *sim, uv_loop_t *loop, uint64_t due_ns)
{
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 0);
    ah__list *q;

    if (s == NULL || s->sim != sim)
        return;
    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t != self && t->state == AH__T_BLOCKED && t->wait_kind == AH__W_TIME &&
            t->wait_loop == loop && t->deadline_ns > due_ns)
            ah__sched_wake(t);
    }
}

static int hook_off_main(ah_sim *sim)
{
    return sim->sched != NULL && off_main_self(sim->sched) != NULL;
}

static void hook_fail(ah_sim *sim, const char *msg)
{
    ah__sched *s = sim->sched;
    ah__thr *self = off_main_self(s);
    ah__buf b = {0};
    char tb[256];

    if (s->whole_sim_report) /* a deadlock is no one thread's failure */
        ah__buf_printf(&b, "%s", msg);
    else
        ah__buf_printf(&b, "on %s: %s", ah__thr_str(self, tb, sizeof(tb)), msg);
    fail_elsewhere(s, self, ah__buf_keep(sim, &b));
}

/* fork() in a sim with simulated threads: the child holds only the forking thread. An idle pool
 * worker is forgotten (the child's pool starts new ones, as libuv's pool re-creates its threads
 * after fork); a thread that was doing something cannot continue, and the child fails when it
 * next uses the scheduler (a lock, a join, a pool job), naming the fork and each lost thread. */
static void hook_forked_child(ah_sim *sim, ah__site site)
{
    ah__sched *s = sim->sched;
    ah__thr *self;
    ah__list *q, *next;
    ah__buf b = {0};
    char tb[256], where[160];
    int lost = 0;

    if (s == NULL)
        return;
    self = tls_gen == s->gen && tls_self != NULL ? tls_self : s->main;
    for (q = s->threads.next; q != &s->threads; q = next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        next = q->next;
        if (t == self)
            continue;
        if (t->state != AH__T_DONE && ah__pool_forget_idle != NULL &&
            ah__pool_forget_idle(sim, t)) {
            ah__list_remove(&t->link);
            ah__free(t);
            sim->threads_live--;
            continue;
        }
        t->os_started = 0; /* no OS thread behind it in this process: never joined or woken */
        if (t->state == AH__T_DONE)
            continue;
        if (lost++ == 0)
            ah__buf_printf(&b,
                           "fork() in %s copied only the calling thread into the child: the "
                           "child's copy of the sim has simulated threads that no longer run, and "
                           "it used the scheduler. The threads left behind:\n",
                           ah__site_str(&site, where, sizeof(where)));
        ah__buf_printf(&b, "  - %s: ", ah__thr_str(t, tb, sizeof(tb)));
        describe_wait(s, t, &b);
        ah__buf_printf(&b, "\n");
        t->state = AH__T_DONE;
        sim->threads_live--;
    }
    if (self != s->main && lost++ == 0)
        ah__buf_printf(&b,
                       "fork() in %s was called by a simulated thread other than the test's own: "
                       "the child cannot continue the sim (fork from the test's thread)\n",
                       ah__site_str(&site, where, sizeof(where)));
    if (lost > 0) {
        ah__buf_printf(&b, "(a child that execs at once, or a fork before any thread starts, goes "
                           "on; the child of a multi-threaded sim is not simulated further)");
        s->fork_lost = ah__buf_take(&b); /* the child ends with it: never freed */
    }
    ah__buf_free(&b);
}

__attribute__((constructor)) static void install_hooks(void)
{
    ah__threads_hooks.wait_until = hook_wait_until;
    ah__threads_hooks.wake_loop = hook_wake_loop;
    ah__threads_hooks.event_added = hook_event_added;
    ah__threads_hooks.off_main = hook_off_main;
    ah__threads_hooks.raise_elsewhere = hook_fail;
    ah__threads_hooks.forked_child = hook_forked_child;
}

/* ---- threads ---- */

static void key_destructors(ah__thr *t);

static void thread_exit(ah__sched *s, ah__thr *self)
{
    if (self->joiner != NULL)
        ah__sched_wake(self->joiner);
    self->state = AH__T_DONE;
    s->sim->threads_live--;
    trace(s, self, "exits");
    ctx_save(s, self);
    schedule(s, self, 1);
}

/* ---- OS threads: parked and reused across simulated threads, sims and schedules ----
 *
 * An OS thread that ran a simulated thread waits, once that thread is joined (or detached and its
 * sim freed), in a process-wide park for the next one: creating a simulated thread hands it a
 * parked OS thread when one is there, instead of a clone and later a join. A reused thread starts
 * as a new one would (docs/decisions.md): its TLS blocks re-initialised from their images (every
 * module but the C library's), errno 0, the creator's signal mask and name, no alternate signal
 * stack, the sim's thread-specific values empty, cancellation enabled and deferred, the global
 * locale. A thread that registered a C++ thread_local destructor, was stopped by a failure, or
 * runs under Valgrind or a sanitizer (AH_REUSE_THREADS=0 too) is not reused: it ends and is
 * joined as before. */
typedef struct ah__os {
    struct ah__os *next; /* in the park */
    pthread_t os;
    size_t stack_size;
    ah__thr *thr;  /* the simulated thread to run next */
    int go;        /* futex: 1 = run `thr`, 2 = end */
    int idle;      /* futex: 1 = the last simulated thread's body is over */
    int reusable;  /* its last life may be followed by another */
    sigset_t mask; /* the creator's signal mask, for a reused thread */
    char name[16]; /* the creator's name */
} ah__os;

static ah__os *park;
static int park_lock;
static __thread int tls_no_reuse; /* this OS thread registered a thread_local destructor */

static void park_take_lock(void)
{
    while (__atomic_exchange_n(&park_lock, 1, __ATOMIC_ACQUIRE) != 0)
        ;
}

static void park_drop_lock(void) { __atomic_store_n(&park_lock, 0, __ATOMIC_RELEASE); }

static int reuse_enabled(void)
{
    static int on = -1;

    if (on < 0) {
        const char *v = getenv("AH_REUSE_THREADS");
        on = !(v != NULL && strcmp(v, "0") == 0) && !ah__under_valgrind();
#if defined(__SANITIZE_THREAD__) || AH__TSAN || defined(AH_TSAN_RUNTIME) ||                        \
    defined(__SANITIZE_ADDRESS__)
        on = 0;
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
        on = 0;
#endif
#endif
#ifdef RUNNING_ON_VALGRIND
        if (RUNNING_ON_VALGRIND)
            on = 0;
#endif
    }
    return on;
}

/* C++ thread_local destructors run when the OS thread ends: such a thread is not reused. */
int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso);
int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso)
{
    static int (*real)(void (*)(void *), void *, void *);

    tls_no_reuse = 1;
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "__cxa_thread_atexit_impl");
    return real != NULL ? real(fn, obj, dso) : 0;
}

/* Each module's TLS block of the calling thread back to its initial image (the C library's and
 * the dynamic loader's stay: errno and the locale are reset by name). */
static int tls_reset_one(struct dl_phdr_info *info, size_t size, void *data)
{
    int i;

    (void)size;
    (void)data;
    if (!ah__tls_block_is_ours(info))
        return 0;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_TLS)
            continue;
        memcpy(info->dlpi_tls_data, (const void *)(info->dlpi_addr + ph->p_vaddr), ph->p_filesz);
        memset((char *)info->dlpi_tls_data + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
    }
    return 0;
}

static void key_values_clear(void);

static void fresh_thread(ah__os *o)
{
    stack_t ss;
    int old;

    dl_iterate_phdr(tls_reset_one, NULL);
    memset(&ss, 0, sizeof(ss));
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    pthread_sigmask(SIG_SETMASK, &o->mask, NULL);
    prctl(PR_SET_NAME, o->name, 0, 0, 0);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old);
    uselocale(LC_GLOBAL_LOCALE);
    key_values_clear();
    errno = 0;
}

static void run_thr(ah__thr *self);

/* A context's first frame: it runs its simulated thread, then switches for good to the thread
 * the baton went to (or, stopped at the sim's end, back to the one stopping it). */
static void cx_entry(void *arg)
{
    ah__thr *t = arg;
    ah__sched *s = t->sched;
    ah__thr *to;

    ah__cx_in(t->cx); /* its TLS from the images, errno 0 */
    keys_in(t->cx);   /* no thread-specific values */
    tls_ctx_id = t->os;
    run_thr(t);
    to = t->killing ? s->cx_back : s->running;
    ah__cx_switch(NULL, to->cx); /* `to` restores its own TLS, errno and keys */
    abort();
}

static void *os_main(void *arg)
{
    ah__os *o = arg;
    int go;

    for (;;) {
        run_thr(o->thr);
        /* killing 2: an idle pool worker stopped with its sim, at a point the harness knows */
        o->reusable = reuse_enabled() && !tls_no_reuse && o->thr->killing != 1 && !o->thr->failed;
        o->thr = NULL;
        ANNOTATE_HAPPENS_BEFORE(&o->idle); /* Helgrind sees no atomics */
        __atomic_store_n(&o->idle, 1, __ATOMIC_RELEASE);
        futex_wake_all(&o->idle);
        while ((go = __atomic_load_n(&o->go, __ATOMIC_ACQUIRE)) == 0)
            futex_wait(&o->go);
        ANNOTATE_HAPPENS_AFTER(&o->go);
        if (go == 2)
            return NULL;
        __atomic_store_n(&o->go, 0, __ATOMIC_RELAXED);
        fresh_thread(o);
    }
}

/* A forked child has only the thread that forked: the parked ones are the parent's. */
static void park_forget(void)
{
    park = NULL;
    park_lock = 0;
}

/* The simulated thread `t` is joined, or its sim is freed: its OS thread, once its body is over,
 * goes to the park, or ends and is joined. */
void ah__thr_reap(ah__thr *t)
{
    ah__os *o = t->host;

    if (t->cx != NULL) { /* a context that left: its stack back to the park */
        ah__cx_free(t->cx);
        t->cx = NULL;
        return;
    }
    if (o == NULL)
        return;
    t->host = NULL;
    while (__atomic_load_n(&o->idle, __ATOMIC_ACQUIRE) == 0)
        futex_wait(&o->idle);
    ANNOTATE_HAPPENS_AFTER(&o->idle);
    if (o->reusable) {
        static int atfork;
        if (!atfork) {
            atfork = 1;
            pthread_atfork(NULL, NULL, park_forget);
        }
        __atomic_store_n(&o->idle, 0, __ATOMIC_RELAXED);
        park_take_lock();
        o->next = park;
        park = o;
        park_drop_lock();
        return;
    }
    ANNOTATE_HAPPENS_BEFORE(&o->go);
    __atomic_store_n(&o->go, 2, __ATOMIC_RELEASE);
    futex_wake(&o->go);
    tls_passthrough++;
    AH__REAL(pthread_join)(o->os, NULL);
    tls_passthrough--;
    ah__free(o);
}

static ah__os *park_take(size_t stack_size)
{
    ah__os *o, **pp;

    if (park == NULL)
        return NULL;
    park_take_lock();
    for (pp = &park; (o = *pp) != NULL; pp = &o->next)
        if (o->stack_size == stack_size) {
            *pp = o->next;
            break;
        }
    park_drop_lock();
    return o;
}

static void run_thr(ah__thr *self)
{
    ah__sched *s = self->sched;
    void *ret;

    tls_self = self;
    tls_gen = s->gen;
    if (self->cx == NULL)
        await_turn(self);
    if (self->killing) {
        tls_self = NULL;
        tls_gen = 0;
        return;
    }
    ctx_restore(s, self);
    s->sim->in_callback = 0;
    s->sim->current_hrec = NULL;
    trace(s, self, "starts");
    if (setjmp(self->exit_jb) == 0) {
        if (self->uv_entry != NULL) {
            self->uv_entry(self->arg);
            ret = NULL;
        } else {
            ret = self->start(self->arg);
        }
        self->ret = ret;
        key_destructors(self);
        thread_exit(s, self);
    }
    /* killed, failed or pthread_exit'ed: a pthread_exit leaves like a return */
    if (!self->killing && !self->failed && self->state != AH__T_DONE) {
        key_destructors(self);
        thread_exit(s, self);
    }
    tls_self = NULL;
    tls_gen = 0;
}

ah__thr *ah__thr_create(ah__sched *s, void *(*start)(void *), void *arg, const char *fn,
                        ah__site site, size_t stack_size, int *err)
{
    ah__thr *t = ah__calloc(1, sizeof(*t));
    pthread_attr_t attr;
    int (*real_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
        AH__REAL(pthread_create);

    ah__os *o;

    t->sched = s;
    t->id = s->next_id++;
    t->state = AH__T_RUNNABLE;
    t->start = start;
    t->arg = arg;
    t->create_fn = fn;
    t->create_site = site;
    t->deadline_ns = UINT64_MAX;
    ah__list_init(&t->wait_link);
    BATON_INIT(t);
    if (s->contexts) {
        ah__thr *me = tls_gen == s->gen && tls_self != NULL ? tls_self : s->main;
        if (s->main->cx == NULL)
            s->main->cx = ah__cx_main();
        t->cx = ah__cx_new(stack_size, cx_entry, t, me->cx);
        if (t->cx == NULL) {
            *err = EAGAIN;
            ah__free(t);
            return NULL;
        }
        t->os = (pthread_t)(uintptr_t)t; /* what pthread_self answers on it */
        /* the creator's name: a context's, or the OS thread's, read only when asked */
        if (me != s->main && !me->name_lazy)
            memcpy(t->name, me->name, sizeof(t->name));
        else
            t->name_lazy = 1;
    } else if (reuse_enabled() && (o = park_take(stack_size)) != NULL) {
        /* A parked OS thread: it starts as a new one would, from this thread's mask and name. */
        pthread_sigmask(SIG_SETMASK, NULL, &o->mask);
        prctl(PR_GET_NAME, o->name, 0, 0, 0);
        o->thr = t;
        t->host = o;
        t->os = o->os;
        ANNOTATE_HAPPENS_BEFORE(&o->go);
        __atomic_store_n(&o->go, 1, __ATOMIC_RELEASE);
        futex_wake(&o->go);
    } else {
        o = ah__calloc(1, sizeof(*o));
        VALGRIND_HG_DISABLE_CHECKING(&o->go, sizeof(o->go)); /* futex words, atomic */
        VALGRIND_HG_DISABLE_CHECKING(&o->idle, sizeof(o->idle));
        o->stack_size = stack_size;
        o->thr = t;
        t->host = o;
        pthread_attr_init(&attr);
        if (stack_size != 0)
            pthread_attr_setstacksize(&attr, stack_size);
        tls_passthrough++;
        *err = real_create(&o->os, &attr, os_main, o);
        tls_passthrough--;
        pthread_attr_destroy(&attr);
        if (*err != 0) {
            ah__free(o);
            ah__free(t);
            return NULL;
        }
        t->os = o->os;
    }
    t->os_started = 1;
    ah__list_insert_tail(&s->threads, &t->link);
    s->sim->threads_live++;
    return t;
}

ah__thr *ah__thr_find(ah__sched *s, pthread_t os)
{
    ah__list *q;

    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->os_started && !t->joined && pthread_equal(t->os, os))
            return t;
    }
    return NULL;
}

/* ---- pthread keys: real, but their destructors run before the baton is passed on ---- */

static struct {
    pthread_key_t key;
    void (*dtor)(void *);
    int used;
} keys[AH__MAX_KEYS];

/* A reused OS thread starts with every thread-specific value the sim knows of empty. */
static void key_values_clear(void)
{
    int i;

    for (i = 0; i < AH__MAX_KEYS; i++)
        if (keys[i].used && pthread_getspecific(keys[i].key) != NULL)
            pthread_setspecific(keys[i].key, NULL);
}

static void key_destructors(ah__thr *t)
{
    int round, i, any;

    (void)t;
    for (round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
        any = 0;
        for (i = 0; i < AH__MAX_KEYS; i++) {
            void *v;
            if (!keys[i].used || keys[i].dtor == NULL)
                continue;
            v = pthread_getspecific(keys[i].key);
            if (v == NULL)
                continue;
            pthread_setspecific(keys[i].key, NULL);
            keys[i].dtor(v);
            any = 1;
        }
        if (!any)
            break;
    }
}

/* The contexts mode: the values of the sim's keys are per context (the C library keeps one set
 * per OS thread). */
static int keys_hi; /* every used key is below */

static void keys_out(ah__cx *c)
{
    int i;

    for (i = 0; i < keys_hi; i++)
        c->kv[i] = keys[i].used ? pthread_getspecific(keys[i].key) : NULL;
}

static void keys_in(const ah__cx *c)
{
    int i;

    for (i = 0; i < keys_hi; i++)
        if (keys[i].used && pthread_getspecific(keys[i].key) != c->kv[i])
            pthread_setspecific(keys[i].key, c->kv[i]);
}

AH__LIBC(pthread_key_create, 23, AH__LIBC_THREAD);
int pthread_key_create(pthread_key_t *key, void (*dtor)(void *))
{
    int (*real)(pthread_key_t *, void (*)(void *)) = AH__REAL(pthread_key_create);
    int err, i;

    /* The C library runs destructors when the OS thread ends, after the baton moved on: a
     * simulated thread runs them itself before it passes the baton (key_destructors), leaving
     * nothing for the C library to run. */
    err = real(key, dtor);
    if (err != 0)
        return err;
#ifdef AH_TSAN_RUNTIME
    {
        /* TSan's runtime makes a key whose destructor finishes the OS thread for TSan: run at a
         * simulated thread's end it would tear TSan's state down under the running thread. Under
         * TSan only the keys made once simulated threads exist are the sim's to run (TSan's own
         * is made as the program starts; nothing instrumented may run that early). */
        if (!sched_ever)
            return 0;
    }
#endif
    for (i = 0; i < AH__MAX_KEYS && keys[i].used; i++)
        ;
    if (i < AH__MAX_KEYS) {
        keys[i].key = *key;
        keys[i].dtor = dtor;
        keys[i].used = 1;
        if (i + 1 > keys_hi)
            keys_hi = i + 1;
    }
    return 0;
}

AH__LIBC(pthread_key_delete, 23, AH__LIBC_THREAD);
int pthread_key_delete(pthread_key_t key)
{
    int (*real)(pthread_key_t) = AH__REAL(pthread_key_delete);
    int i;

    for (i = 0; i < AH__MAX_KEYS; i++)
        if (keys[i].used && keys[i].key == key)
            keys[i].used = 0;
    return real(key);
}

/* ---- the scheduler's lifetime ---- */

static void sched_check(ah_sim *sim, void *state, ah__buf *b)
{
    ah__sched *s = state;
    ah__list *q;
    char tb[256];

    (void)sim;
    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t == s->main || t->pool_worker || t->failed)
            continue;
        if (t->state != AH__T_DONE) {
            ah__buf_printf(b, "  - %s is still running at the end of the test: ",
                           ah__thr_str(t, tb, sizeof(tb)));
            describe_wait(s, t, b);
            ah__buf_printf(b, "\n");
        } else if (!t->joined && !t->detached) {
            ah__buf_printf(b,
                           "  - %s finished but was never joined (uv_thread_join / "
                           "pthread_join) nor detached\n",
                           ah__thr_str(t, tb, sizeof(tb)));
        }
    }
}

static void sched_pending(ah_sim *sim, void *state, ah__buf *b)
{
    ah__sched *s = state;
    (void)sim;
    if (s->sim->threads_live > 0) {
        list_threads(s, b);
        ah__buf_printf(b, "\n");
    }
}

static void sched_destroy(ah_sim *sim, void *state)
{
    ah__sched *s = state;
    ah__list *q;
    size_t i;

    (void)sim;
    /* Threads still alive (the test failed, or never joined them) are stopped: each is woken to
     * leave through its own start frame, and the OS thread is joined. */
    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t == s->main || !t->os_started)
            continue;
        if (t->state != AH__T_DONE) {
            t->killing = t->state == AH__T_BLOCKED && t->wait_kind == AH__W_POOL ? 2 : 1;
            if (s->contexts) {
                /* into the context, which leaves through its start frame and comes back */
                ah__thr *cur = tls_gen == s->gen && tls_self != NULL ? tls_self : s->main;
                s->cx_back = cur;
                cx_switch(cur, t);
            } else {
                give(t);
            }
        }
        if (!t->joined)
            ah__thr_reap(t);
    }
    while (!ah__list_empty(&s->threads)) {
        ah__thr *t = ah__container_of(s->threads.next, ah__thr, link);
        ah__list_remove(&t->link);
        ah__cx_free(t->cx);
        ah__free(t);
    }
    for (i = 0; i < s->nslots; i++)
        ah__free(s->slots[i]);
    ah__free(s->slots);
    ah__free(s->cand);
    sim->sched = NULL;
    sim->threads_live = 0;
    ah__free(s);
}

ah__sched *ah__sched_get(ah__thr **self, int create)
{
    ah_sim *sim;
    ah__sched *s;
    ah__ext ext;

    if (tls_passthrough)
        return NULL;
    /* A call that makes or uses an object, from the thread that runs main, makes the implicit
     * sim: a plain program's first lock is simulated, not only those after uv_default_loop. */
    sim = create ? ah__sim_libc() : ah_sim_current();
    if (sim == NULL)
        return NULL;
    s = sim->sched;
    if (s != NULL && tls_gen == s->gen && s->fork_lost == NULL) {
        *self = tls_self;
        return s;
    }
    if (s != NULL && s->fork_lost != NULL)
        ah__fail(sim, "%s", s->fork_lost);
    if (!pthread_equal(pthread_self(), sim->owner))
        return NULL; /* a thread the sim did not start */
    if (s == NULL) {
        if (!create)
            return NULL;
        s = ah__calloc(1, sizeof(*s));
        s->sim = sim;
        s->gen = ++sched_gen;
        ah__list_init(&s->threads);
        s->main = ah__calloc(1, sizeof(*s->main));
        s->main->sched = s;
        s->main->id = 0;
        s->main->os = pthread_self();
        s->main->state = AH__T_RUNNABLE;
        s->main->deadline_ns = UINT64_MAX;
        ah__list_init(&s->main->wait_link);
        BATON_INIT(s->main);
        s->next_id = 1;
        ah__list_insert_tail(&s->threads, &s->main->link);
        s->running = s->main;
        s->contexts = ah__cx_wanted(sim);
        memset(&ext, 0, sizeof(ext));
        ext.key = &sched_key;
        ext.name = "threads";
        ext.state = s;
        ext.check = sched_check;
        ext.pending = sched_pending;
        ext.destroy = sched_destroy;
        ah__ext_add(sim, &ext);
        sim->sched = s;
        sched_ever = 1;
    }
    tls_self = s->main;
    tls_gen = s->gen;
    *self = s->main;
    return s;
}

/* ---- the object table ---- */

static size_t slot_of(const ah__sched *s, const void *addr)
{
    uint64_t h = ah_fc_mix64((uint64_t)(uintptr_t)addr);
    return (size_t)h & (s->nslots - 1);
}

ah__sobj *ah__sobj_find(ah__sched *s, const void *addr)
{
    size_t i;

    if (s->nslots == 0)
        return NULL;
    for (i = slot_of(s, addr); s->slots[i] != NULL; i = (i + 1) & (s->nslots - 1))
        if (s->slots[i]->addr == addr)
            return s->slots[i];
    return NULL;
}

static void grow(ah__sched *s)
{
    ah__sobj **old = s->slots;
    size_t n = s->nslots, i, j;

    s->nslots = n ? n * 2 : 64;
    s->slots = ah__calloc(s->nslots, sizeof(*s->slots));
    for (i = 0; i < n; i++)
        if (old[i] != NULL) {
            for (j = slot_of(s, old[i]->addr); s->slots[j] != NULL; j = (j + 1) & (s->nslots - 1))
                ;
            s->slots[j] = old[i];
        }
    ah__free(old);
}

ah__sobj *ah__sobj_get(ah__sched *s, const void *addr, int kind)
{
    ah__sobj *o = ah__sobj_find(s, addr);
    size_t i;

    if (o != NULL) {
        if (o->kind == kind)
            return o;
        /* the memory now holds another kind of object (freed and reused without destroy) */
        ah__sobj_forget(s, addr);
    }
    if ((s->nobjs + 1) * 2 > s->nslots)
        grow(s);
    o = ah__calloc(1, sizeof(*o));
    o->addr = addr;
    o->kind = kind;
    o->id = ++s->next_obj_id[kind];
    ah__list_init(&o->waiters);
    for (i = slot_of(s, addr); s->slots[i] != NULL; i = (i + 1) & (s->nslots - 1))
        ;
    s->slots[i] = o;
    s->nobjs++;
    return o;
}

void ah__sobj_forget(ah__sched *s, const void *addr)
{
    size_t i, j;
    ah__sobj *o;

    if (s->nslots == 0)
        return;
    for (i = slot_of(s, addr); s->slots[i] != NULL; i = (i + 1) & (s->nslots - 1))
        if (s->slots[i]->addr == addr)
            break;
    if (s->slots[i] == NULL)
        return;
    ah__free(s->slots[i]);
    s->slots[i] = NULL;
    s->nobjs--;
    /* re-insert the rest of the cluster */
    for (j = (i + 1) & (s->nslots - 1); s->slots[j] != NULL; j = (j + 1) & (s->nslots - 1)) {
        size_t k;
        o = s->slots[j];
        s->slots[j] = NULL;
        for (k = slot_of(s, o->addr); s->slots[k] != NULL; k = (k + 1) & (s->nslots - 1))
            ;
        s->slots[k] = o;
    }
}

uint64_t ah__deadline_abs(ah_sim *sim, clockid_t clock, const struct timespec *abstime)
{
    struct timespec now;
    int64_t d;

    clock_gettime(clock, &now);
    d = ((int64_t)abstime->tv_sec - (int64_t)now.tv_sec) * 1000000000LL +
        ((int64_t)abstime->tv_nsec - (int64_t)now.tv_nsec);
    /* With the real clock, the microseconds between the caller's reading and this one are not
     * virtual time: a deadline within 50 us of a whole millisecond is that millisecond. */
    {
        int64_t ms = (d + 500000) / 1000000 * 1000000;
        if (d > 0 && d - ms < 50000 && ms - d < 50000)
            d = ms;
    }
    if (d <= 0)
        return sim->clock.now_ns;
    return sim->clock.now_ns + (uint64_t)d;
}

/* ---- what a context answers for the OS thread it is not (the contexts mode) ---- */

AH__LIBC(pthread_self, 17, AH__LIBC_THREAD);
pthread_t pthread_self(void)
{
    if (tls_ctx_id != 0)
        return tls_ctx_id;
#if defined(__x86_64__) && defined(__GLIBC__)
    {
        /* glibc's own definition, with no lookup: a sanitizer's runtime calls pthread_self while
         * it starts, before a dlsym is safe (the TCB's `self`, at %fs:16, is glibc's x86-64 ABI) */
        pthread_t r;
        __asm__("movq %%fs:16, %0" : "=r"(r));
        return r;
    }
#else
    {
        static pthread_t (*real)(void);
        if (real == NULL)
            *(void **)&real = dlsym(RTLD_NEXT, "pthread_self");
        return real();
    }
#endif
}

/* The simulated thread behind a pthread_t when it is a context (pthread_self on one, or what
 * pthread_create gave), else NULL: the id is not the C library's and must not reach it. */
static ah__thr *ctx_of(pthread_t tid)
{
    ah_sim *sim;
    ah__sched *s;
    ah__list *q;

    if (tid == 0 || (sim = ah_sim_current()) == NULL || (s = sim->sched) == NULL || !s->contexts)
        return NULL;
    for (q = s->threads.next; q != &s->threads; q = q->next) {
        ah__thr *t = ah__container_of(q, ah__thr, link);
        if (t->cx != NULL && t != s->main && pthread_equal(t->os, tid))
            return t;
    }
    return NULL;
}

AH__LIBC(pthread_setname_np, 23, AH__LIBC_THREAD);
int pthread_setname_np(pthread_t tid, const char *name)
{
    ah__thr *t = ctx_of(tid);

    if (t == NULL)
        return AH__REAL(pthread_setname_np)(tid, name);
    if (strlen(name) > 15)
        return ERANGE;
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->name_lazy = 0;
    return 0;
}

AH__LIBC(pthread_getname_np, 23, AH__LIBC_THREAD);
int pthread_getname_np(pthread_t tid, char *buf, size_t len)
{
    ah__thr *t = ctx_of(tid);

    if (t == NULL)
        return AH__REAL(pthread_getname_np)(tid, buf, len);
    if (t->name_lazy) /* the test's thread's name (the OS thread's) */
        return AH__REAL(pthread_getname_np)(t->sched->main->os, buf, len);
    if (strlen(t->name) >= len)
        return ERANGE;
    memcpy(buf, t->name, strlen(t->name) + 1);
    return 0;
}

/* A context's attributes: its own stack (libuv's thread_stack_size_explicit reads it). */
AH__LIBC(pthread_getattr_np, 23, AH__LIBC_THREAD);
int pthread_getattr_np(pthread_t tid, pthread_attr_t *attr)
{
    ah__thr *t = ctx_of(tid);
    int err;

    if (t == NULL)
        return AH__REAL(pthread_getattr_np)(tid, attr);
    err = pthread_attr_init(attr);
    if (err == 0)
        err = pthread_attr_setstack(attr, t->cx->stack, t->cx->stack_size);
    if (err == 0 && t->detached)
        err = pthread_attr_setdetachstate(attr, PTHREAD_CREATE_DETACHED);
    return err;
}

/* Affinity, scheduling and signals of a context are those of the OS thread carrying it
 * (proc/signal.c's pthread_kill sends signal 0 there too). */
pthread_t ah__thread_carrier(pthread_t tid)
{
    ah__thr *t = ctx_of(tid);
    return t != NULL ? t->sched->main->os : tid;
}

AH__LIBC(pthread_setaffinity_np, 27, AH__LIBC_THREAD);
int pthread_setaffinity_np(pthread_t tid, size_t n, const cpu_set_t *set)
{
    return AH__REAL(pthread_setaffinity_np)(ah__thread_carrier(tid), n, set);
}

AH__LIBC(pthread_getaffinity_np, 27, AH__LIBC_THREAD);
int pthread_getaffinity_np(pthread_t tid, size_t n, cpu_set_t *set)
{
    return AH__REAL(pthread_getaffinity_np)(ah__thread_carrier(tid), n, set);
}

AH__LIBC(pthread_setschedparam, 26, AH__LIBC_THREAD);
int pthread_setschedparam(pthread_t tid, int policy, const struct sched_param *p)
{
    return AH__REAL(pthread_setschedparam)(ah__thread_carrier(tid), policy, p);
}

AH__LIBC(pthread_getschedparam, 26, AH__LIBC_THREAD);
int pthread_getschedparam(pthread_t tid, int *policy, struct sched_param *p)
{
    return AH__REAL(pthread_getschedparam)(ah__thread_carrier(tid), policy, p);
}
