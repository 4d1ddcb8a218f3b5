/* Simulated synchronisation: mutexes, rwlocks, condition variables, semaphores, barriers, once,
 * thread create/join/exit, as both libuv's uv_* and the pthread_* / sem_* functions (defined
 * here, so the code under test and every library it links call these: link-time interposition).
 *
 * A call is simulated when it comes from a thread of the current sim (the test's thread or one it
 * started); any other caller (no sim, a thread started outside the sim) gets the C library's
 * function. The state of a simulated object lives in the scheduler's table, keyed by address,
 * never in the user's memory: a test that fails while holding a lock leaves the next test a clean
 * object. Every call that can make a thread wait, and thread start, is a switch point. */
#define _GNU_SOURCE 1
#include "internal_threads.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Reached from threads/interpose.c, so that this file is linked (see there). */
const char ah__threads_interposer_sync = 0;

#define NO_DEADLINE UINT64_MAX

static ah__site here(const char *fn, const void *ret) { return ah__site_take(fn, ret); }

static void misuse(ah__sched *s, const char *fn, const ah__sobj *o, const char *what, ah__site site)
    __attribute__((noreturn));
static void misuse(ah__sched *s, const char *fn, const ah__sobj *o, const char *what, ah__site site)
{
    char ob[96], st[160];
    ah__sched_fail(s, "%s(%s) in %s: %s", fn, ah__sobj_str(o, ob, sizeof(ob)),
                   ah__site_str(&site, st, sizeof(st)), what);
}

/* ---- the program's own doubles ----
 * A family of objects of which the program defines even one function itself (a double of
 * pthread_mutex_lock) is left to the C library whole: a lock taken by the double and released by
 * the sim would be reported as misuse, and a condition variable waits with its mutex. The doubles
 * are fixed at link time, so each family is looked at once (harness/libc.c names them). */
enum { FAM_MUTEX, FAM_RWLOCK, FAM_SEM, FAM_BARRIER, FAM_N };
static const char *const fam_fns[FAM_N][12] = {
    {"pthread_mutex_init", "pthread_mutex_destroy", "pthread_mutex_lock", "pthread_mutex_trylock",
     "pthread_mutex_timedlock", "pthread_mutex_unlock", "pthread_cond_init", "pthread_cond_destroy",
     "pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_signal",
     "pthread_cond_broadcast"},
    {"pthread_rwlock_init", "pthread_rwlock_destroy", "pthread_rwlock_rdlock",
     "pthread_rwlock_wrlock", "pthread_rwlock_tryrdlock", "pthread_rwlock_trywrlock",
     "pthread_rwlock_unlock"},
    {"sem_init", "sem_destroy", "sem_post", "sem_wait", "sem_trywait", "sem_timedwait",
     "sem_getvalue"},
    {"pthread_barrier_init", "pthread_barrier_destroy", "pthread_barrier_wait"},
};
static int fam_real[FAM_N]; /* 0: not looked at yet, 1: simulated, 2: the C library's */

static ah__sched *fam_sched(int fam, ah__thr **self, int create)
{
    if (fam_real[fam] == 0) {
        int i;
        fam_real[fam] = 1;
        for (i = 0; i < 12 && fam_fns[fam][i] != NULL; i++)
            if (ah__libc_double(fam_fns[fam][i]))
                fam_real[fam] = 2;
    }
    return fam_real[fam] == 2 ? NULL : ah__sched_get(self, create);
}

/* ---- mutexes ---- */

static int mutex_type_of(const pthread_mutex_t *m)
{
    int k = m->__data.__kind & 3;
    return k == 1 ? PTHREAD_MUTEX_RECURSIVE : k == 2 ? PTHREAD_MUTEX_ERRORCHECK : 0;
}

static ah__sobj *mutex_obj(ah__sched *s, pthread_mutex_t *m)
{
    ah__sobj *o = ah__sobj_find(s, m);
    if (o == NULL || o->kind != AH__O_MUTEX) {
        o = ah__sobj_get(s, m, AH__O_MUTEX);
        o->mtype = mutex_type_of(m); /* a static initialiser says its kind */
    }
    return o;
}

/* A cycle of lock waits through `o`'s owner back to self: a lock-order deadlock. */
static void check_cycle(ah__sched *s, ah__thr *self, ah__sobj *o, const char *fn, ah__site site)
{
    ah__thr *t = o->owner;
    ah__buf b = {0};
    char tb[256], ob[96], st[160];
    int n = 0;

    while (t != NULL && n++ < 64) {
        const ah__sobj *w;
        if (t == self)
            break;
        if (t->state != AH__T_BLOCKED ||
            (t->wait_kind != AH__W_MUTEX && t->wait_kind != AH__W_WRLOCK))
            return;
        w = t->wait_obj;
        t = w->owner;
    }
    if (t != self)
        return;
    ah__buf_printf(&b, "  - %s holds ", ah__thr_str(self, tb, sizeof(tb)));
    {
        /* what self holds that the chain waits for is the last object of the chain */
        ah__buf_printf(&b, "a lock the others wait for and now waits in %s(%s) at %s\n", fn,
                       ah__sobj_str(o, ob, sizeof(ob)), ah__site_str(&site, st, sizeof(st)));
    }
    for (t = o->owner; t != self; t = ((const ah__sobj *)t->wait_obj)->owner) {
        const ah__sobj *w = t->wait_obj;
        ah__buf_printf(&b, "  - %s waits in %s(%s) at %s, held by %s\n",
                       ah__thr_str(t, tb, sizeof(tb)), t->wait_fn, ah__sobj_str(w, ob, sizeof(ob)),
                       ah__site_str(&t->wait_site, st, sizeof(st)),
                       w->owner == self ? "the first thread" : "the next");
    }
    ah__sched_report(s,
                     "lock-order deadlock: threads wait for each other's locks in a cycle:\n%s"
                     "  (take the locks in one order everywhere)",
                     ah__buf_keep(s->sim, &b));
}

static int mtx_lock(ah__sched *s, ah__thr *self, pthread_mutex_t *m, const char *fn, ah__site site,
                    uint64_t deadline, int try)
{
    ah__sobj *o = mutex_obj(s, m);

    ah__sched_yield(s, self);
    for (;;) {
        if (o->owner == NULL) {
            o->owner = self;
            o->count = 1;
            o->lock_site = site;
            return 0;
        }
        if (o->owner == self) {
            if (o->mtype == PTHREAD_MUTEX_RECURSIVE) {
                o->count++;
                return 0;
            }
            if (try)
                return EBUSY;
            if (o->mtype == PTHREAD_MUTEX_ERRORCHECK)
                return EDEADLK;
            misuse(s, fn, o,
                   "the thread locks a mutex it already holds: it would wait for itself forever",
                   site);
        }
        if (try)
            return EBUSY;
        check_cycle(s, self, o, fn, site);
        ah__list_insert_tail(&o->waiters, &self->wait_link);
        if (ah__sched_block(s, self, AH__W_MUTEX, o, fn, site, deadline))
            return ETIMEDOUT;
    }
}

static int mtx_unlock(ah__sched *s, ah__thr *self, pthread_mutex_t *m, const char *fn,
                      ah__site site)
{
    ah__sobj *o = mutex_obj(s, m);

    if (o->owner != self) {
        if (o->mtype == PTHREAD_MUTEX_ERRORCHECK || o->mtype == PTHREAD_MUTEX_RECURSIVE)
            return EPERM;
        misuse(s, fn, o,
               o->owner == NULL ? "the mutex is not locked" : "the mutex is held by another thread",
               site);
    }
    if (--o->count > 0)
        return 0;
    o->owner = NULL;
    ah__sched_wake_all(&*o); /* they compete again: the oracle picks who gets it */
    return 0;
}

AH__LIBC(pthread_mutex_init, 23, AH__LIBC_THREAD);
int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);
    int err = AH__REAL(pthread_mutex_init)(m, attr), type = 0;

    if (s != NULL && err == 0) {
        ah__sobj_forget(s, m);
        if (attr != NULL)
            pthread_mutexattr_gettype(attr, &type);
        mutex_obj(s, m)->mtype = type == PTHREAD_MUTEX_RECURSIVE    ? PTHREAD_MUTEX_RECURSIVE
                                 : type == PTHREAD_MUTEX_ERRORCHECK ? PTHREAD_MUTEX_ERRORCHECK
                                                                    : 0;
    }
    return err;
}

AH__LIBC(pthread_mutex_destroy, 26, AH__LIBC_THREAD);
int pthread_mutex_destroy(pthread_mutex_t *m)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 0);
    ah__sobj *o;

    if (s == NULL)
        return AH__REAL(pthread_mutex_destroy)(m);
    o = ah__sobj_find(s, m);
    if (o != NULL && (o->owner != NULL || !ah__list_empty(&o->waiters)))
        return EBUSY;
    ah__sobj_forget(s, m);
    return 0;
}

AH__LIBC(pthread_mutex_lock, 23, AH__LIBC_THREAD);
int pthread_mutex_lock(pthread_mutex_t *m)
{
    ah__site site = here("pthread_mutex_lock", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_mutex_lock)(m);
    return mtx_lock(s, self, m, "pthread_mutex_lock", site, NO_DEADLINE, 0);
}

AH__LIBC(pthread_mutex_trylock, 26, AH__LIBC_THREAD);
int pthread_mutex_trylock(pthread_mutex_t *m)
{
    ah__site site = here("pthread_mutex_trylock", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_mutex_trylock)(m);
    return mtx_lock(s, self, m, "pthread_mutex_trylock", site, NO_DEADLINE, 1);
}

AH__LIBC(pthread_mutex_timedlock, 28, AH__LIBC_THREAD);
int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
    ah__site site = here("pthread_mutex_timedlock", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_mutex_timedlock)(m, abstime);
    return mtx_lock(s, self, m, "pthread_mutex_timedlock", site,
                    ah__deadline_abs(s->sim, CLOCK_REALTIME, abstime), 0);
}

AH__LIBC(pthread_mutex_unlock, 25, AH__LIBC_THREAD);
int pthread_mutex_unlock(pthread_mutex_t *m)
{
    ah__site site = here("pthread_mutex_unlock", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_mutex_unlock)(m);
    return mtx_unlock(s, self, m, "pthread_mutex_unlock", site);
}

int uv_mutex_init(uv_mutex_t *m) { return -pthread_mutex_init(m, NULL); }

int uv_mutex_init_recursive(uv_mutex_t *m)
{
    pthread_mutexattr_t a;
    int err;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    err = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return -err;
}

void uv_mutex_destroy(uv_mutex_t *m)
{
    ah__site site = here("uv_mutex_destroy", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 0);

    if (pthread_mutex_destroy(m) != 0 && s != NULL)
        misuse(s, "uv_mutex_destroy", mutex_obj(s, m), "the mutex is locked or waited for", site);
}

void uv_mutex_lock(uv_mutex_t *m)
{
    ah__site site = here("uv_mutex_lock", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL) {
        pthread_mutex_lock(m);
        return;
    }
    if (mtx_lock(s, self, m, "uv_mutex_lock", site, NO_DEADLINE, 0) != 0)
        misuse(s, "uv_mutex_lock", mutex_obj(s, m), "pthread_mutex_lock failed (libuv aborts)",
               site);
}

int uv_mutex_trylock(uv_mutex_t *m)
{
    ah__site site = here("uv_mutex_trylock", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL)
        return pthread_mutex_trylock(m) ? UV_EBUSY : 0;
    return mtx_lock(s, self, m, "uv_mutex_trylock", site, NO_DEADLINE, 1) ? UV_EBUSY : 0;
}

void uv_mutex_unlock(uv_mutex_t *m)
{
    ah__site site = here("uv_mutex_unlock", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL) {
        pthread_mutex_unlock(m);
        return;
    }
    if (mtx_unlock(s, self, m, "uv_mutex_unlock", site) != 0)
        misuse(s, "uv_mutex_unlock", mutex_obj(s, m), "the mutex is not held by this thread", site);
}

/* ---- rwlocks (readers may enter while a writer waits, as glibc's default) ---- */

static int rw_lock(ah__sched *s, ah__thr *self, void *l, int write, const char *fn, ah__site site,
                   uint64_t deadline, int try)
{
    ah__sobj *o = ah__sobj_get(s, l, AH__O_RWLOCK);
    uint64_t bit = 1ULL << (self->id & 63);

    ah__sched_yield(s, self);
    for (;;) {
        if (o->owner == self)
            return EDEADLK;
        if (write && o->owner == NULL && o->count == 0) {
            o->owner = self;
            o->lock_site = site;
            return 0;
        }
        if (!write && o->owner == NULL) {
            o->count++;
            o->readers_mask |= bit;
            o->lock_site = site;
            return 0;
        }
        if (try)
            return EBUSY;
        if (write)
            check_cycle(s, self, o, fn, site);
        ah__list_insert_tail(&o->waiters, &self->wait_link);
        if (ah__sched_block(s, self, write ? AH__W_WRLOCK : AH__W_RDLOCK, o, fn, site, deadline))
            return ETIMEDOUT;
    }
}

static int rw_unlock(ah__sched *s, ah__thr *self, void *l, const char *fn, ah__site site)
{
    ah__sobj *o = ah__sobj_get(s, l, AH__O_RWLOCK);

    if (o->owner == self) {
        o->owner = NULL;
    } else if (o->count > 0 && (o->readers_mask & (1ULL << (self->id & 63)))) {
        if (--o->count == 0)
            o->readers_mask = 0;
    } else {
        misuse(s, fn, o, "the rwlock is not held by this thread", site);
    }
    ah__sched_wake_all(o);
    return 0;
}

#define RW_FN(name, write, try, fn)                                                                \
    int name(pthread_rwlock_t *l)                                                                  \
    {                                                                                              \
        ah__site site = here(fn, __builtin_return_address(0));                                     \
        ah__thr *self;                                                                             \
        ah__sched *s = fam_sched(FAM_RWLOCK, &self, 1);                                            \
        if (s == NULL)                                                                             \
            return AH__REAL(name)(l);                                                              \
        return rw_lock(s, self, l, write, fn, site, NO_DEADLINE, try);                             \
    }
AH__LIBC(pthread_rwlock_rdlock, 26, AH__LIBC_THREAD);
RW_FN(pthread_rwlock_rdlock, 0, 0, "pthread_rwlock_rdlock")
AH__LIBC(pthread_rwlock_wrlock, 26, AH__LIBC_THREAD);
RW_FN(pthread_rwlock_wrlock, 1, 0, "pthread_rwlock_wrlock")
AH__LIBC(pthread_rwlock_tryrdlock, 29, AH__LIBC_THREAD);
RW_FN(pthread_rwlock_tryrdlock, 0, 1, "pthread_rwlock_tryrdlock")
AH__LIBC(pthread_rwlock_trywrlock, 29, AH__LIBC_THREAD);
RW_FN(pthread_rwlock_trywrlock, 1, 1, "pthread_rwlock_trywrlock")

AH__LIBC(pthread_rwlock_unlock, 26, AH__LIBC_THREAD);
int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    ah__site site = here("pthread_rwlock_unlock", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_RWLOCK, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_rwlock_unlock)(l);
    return rw_unlock(s, self, l, "pthread_rwlock_unlock", site);
}

AH__LIBC(pthread_rwlock_init, 24, AH__LIBC_THREAD);
int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *attr)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_RWLOCK, &self, 1);
    int err = AH__REAL(pthread_rwlock_init)(l, attr);

    if (s != NULL && err == 0) {
        ah__sobj_forget(s, l);
        ah__sobj_get(s, l, AH__O_RWLOCK);
    }
    return err;
}

AH__LIBC(pthread_rwlock_destroy, 27, AH__LIBC_THREAD);
int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_RWLOCK, &self, 0);
    ah__sobj *o;

    if (s == NULL)
        return AH__REAL(pthread_rwlock_destroy)(l);
    o = ah__sobj_find(s, l);
    if (o != NULL && (o->owner != NULL || o->count > 0))
        return EBUSY;
    ah__sobj_forget(s, l);
    return 0;
}

int uv_rwlock_init(uv_rwlock_t *l) { return -pthread_rwlock_init(l, NULL); }
void uv_rwlock_destroy(uv_rwlock_t *l) { pthread_rwlock_destroy(l); }
void uv_rwlock_rdlock(uv_rwlock_t *l) { pthread_rwlock_rdlock(l); }
void uv_rwlock_wrlock(uv_rwlock_t *l) { pthread_rwlock_wrlock(l); }
void uv_rwlock_rdunlock(uv_rwlock_t *l) { pthread_rwlock_unlock(l); }
void uv_rwlock_wrunlock(uv_rwlock_t *l) { pthread_rwlock_unlock(l); }
int uv_rwlock_tryrdlock(uv_rwlock_t *l) { return pthread_rwlock_tryrdlock(l) ? UV_EBUSY : 0; }
int uv_rwlock_trywrlock(uv_rwlock_t *l) { return pthread_rwlock_trywrlock(l) ? UV_EBUSY : 0; }

/* ---- condition variables ---- */

static int cond_wait(ah__sched *s, ah__thr *self, void *c, pthread_mutex_t *m, const char *fn,
                     ah__site site, uint64_t deadline)
{
    ah__sobj *o = ah__sobj_get(s, c, AH__O_COND);
    ah__sobj *mo = mutex_obj(s, m);
    unsigned count;
    int timed_out, err;

    if (mo->owner != self)
        misuse(s, fn, o, "the mutex passed is not held by this thread", site);
    count = mo->count;
    mo->owner = NULL;
    mo->count = 0;
    ah__sched_wake_all(mo);
    ah__list_insert_tail(&o->waiters, &self->wait_link);
    timed_out = ah__sched_block(s, self, AH__W_COND, o, fn, site, deadline);
    /* take the mutex back, as pthread_cond_wait does before it returns */
    for (;;) {
        if (mo->owner == NULL) {
            mo->owner = self;
            mo->count = count;
            mo->lock_site = site;
            break;
        }
        ah__list_insert_tail(&mo->waiters, &self->wait_link);
        ah__sched_block(s, self, AH__W_MUTEX, mo, fn, site, NO_DEADLINE);
    }
    err = timed_out ? ETIMEDOUT : 0;
    return err;
}

static void cond_signal(ah__sched *s, void *c, int all)
{
    ah__sobj *o = ah__sobj_get(s, c, AH__O_COND);
    size_t n = 0, k;
    ah__list *q;

    if (all) {
        ah__sched_wake_all(o);
        return;
    }
    for (q = o->waiters.next; q != &o->waiters; q = q->next)
        n++;
    if (n == 0)
        return;
    /* which waiter a signal wakes is open (POSIX: at least one) */
    k = s->sim->chooser == NULL ? 0 : (size_t)ah__choose(s->sim, n, "which waiter a signal wakes");
    for (q = o->waiters.next; k > 0; q = q->next, k--)
        ;
    ah__sched_wake(ah__container_of(q, ah__thr, wait_link));
}

static clockid_t cond_clock(ah__sched *s, void *c)
{
    ah__sobj *o = ah__sobj_get(s, c, AH__O_COND);
    return o->mtype ? (clockid_t)(o->mtype - 1) : CLOCK_REALTIME;
}

AH__LIBC(pthread_cond_init, 22, AH__LIBC_THREAD);
int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);
    int err = AH__REAL(pthread_cond_init)(c, attr);
    clockid_t clk = CLOCK_REALTIME;

    if (s != NULL && err == 0) {
        ah__sobj_forget(s, c);
        if (attr != NULL)
            pthread_condattr_getclock(attr, &clk);
        ah__sobj_get(s, c, AH__O_COND)->mtype = (int)clk + 1;
    }
    return err;
}

AH__LIBC(pthread_cond_destroy, 25, AH__LIBC_THREAD);
int pthread_cond_destroy(pthread_cond_t *c)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 0);
    ah__sobj *o;

    if (s == NULL)
        return AH__REAL(pthread_cond_destroy)(c);
    o = ah__sobj_find(s, c);
    if (o != NULL && !ah__list_empty(&o->waiters))
        return EBUSY;
    ah__sobj_forget(s, c);
    return 0;
}

AH__LIBC(pthread_cond_wait, 22, AH__LIBC_THREAD);
int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    ah__site site = here("pthread_cond_wait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_cond_wait)(c, m);
    return cond_wait(s, self, c, m, "pthread_cond_wait", site, NO_DEADLINE);
}

AH__LIBC(pthread_cond_timedwait, 27, AH__LIBC_THREAD);
int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime)
{
    ah__site site = here("pthread_cond_timedwait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_cond_timedwait)(c, m, abstime);
    return cond_wait(s, self, c, m, "pthread_cond_timedwait", site,
                     ah__deadline_abs(s->sim, cond_clock(s, c), abstime));
}

AH__LIBC(pthread_cond_signal, 24, AH__LIBC_THREAD);
int pthread_cond_signal(pthread_cond_t *c)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_cond_signal)(c);
    cond_signal(s, c, 0);
    return 0;
}

AH__LIBC(pthread_cond_broadcast, 27, AH__LIBC_THREAD);
int pthread_cond_broadcast(pthread_cond_t *c)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_cond_broadcast)(c);
    cond_signal(s, c, 1);
    return 0;
}

int uv_cond_init(uv_cond_t *c)
{
    pthread_condattr_t a;
    int err;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC); /* as libuv on Linux */
    err = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return -err;
}

void uv_cond_destroy(uv_cond_t *c) { pthread_cond_destroy(c); }
void uv_cond_signal(uv_cond_t *c) { pthread_cond_signal(c); }
void uv_cond_broadcast(uv_cond_t *c) { pthread_cond_broadcast(c); }

void uv_cond_wait(uv_cond_t *c, uv_mutex_t *m)
{
    ah__site site = here("uv_cond_wait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL) {
        pthread_cond_wait(c, m);
        return;
    }
    cond_wait(s, self, c, m, "uv_cond_wait", site, NO_DEADLINE);
}

int uv_cond_timedwait(uv_cond_t *c, uv_mutex_t *m, uint64_t timeout_ns)
{
    ah__site site = here("uv_cond_timedwait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_MUTEX, &self, 1);

    if (s == NULL) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)(timeout_ns / 1000000000u);
        ts.tv_nsec += (long)(timeout_ns % 1000000000u);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        return pthread_cond_timedwait(c, m, &ts) == ETIMEDOUT ? UV_ETIMEDOUT : 0;
    }
    return cond_wait(s, self, c, m, "uv_cond_timedwait", site,
                     timeout_ns > UINT64_MAX - s->sim->clock.now_ns
                         ? NO_DEADLINE
                         : s->sim->clock.now_ns + timeout_ns) == ETIMEDOUT
               ? UV_ETIMEDOUT
               : 0;
}

/* ---- semaphores ---- */

static int sem_do_wait(ah__sched *s, ah__thr *self, sem_t *sem, const char *fn, ah__site site,
                       uint64_t deadline, int try)
{
    ah__sobj *o = ah__sobj_find(s, sem);

    if (o == NULL || o->kind != AH__O_SEM) {
        /* made outside the sim (sem_open, an earlier test): the C library's, if it will not
         * block */
        if (AH__REAL(sem_trywait)(sem) == 0)
            return 0;
        if (try)
            return EAGAIN;
        ah__sched_fail(s,
                       "%s(%p): a semaphore not initialised in this test (sem_open, or sem_init "
                       "before the sim) would block the simulated thread for real",
                       fn, (void *)sem);
    }
    ah__sched_yield(s, self);
    for (;;) {
        if (o->count > 0) {
            o->count--;
            return 0;
        }
        if (try)
            return EAGAIN;
        ah__list_insert_tail(&o->waiters, &self->wait_link);
        if (ah__sched_block(s, self, AH__W_SEM, o, fn, site, deadline))
            return ETIMEDOUT;
        if (self->interrupted) { /* a signal handler ran (wait.c): never restarted */
            self->interrupted = 0;
            return EINTR;
        }
    }
}

/* sem_wait and sem_timedwait return EINTR when a handler interrupts them, SA_RESTART or not
 * (signal(7)); uv_sem_wait waits again, as libuv's loop on EINTR does. */
int ah__sem_wait_interruptible(const char *fn)
{
    return fn != NULL && (strcmp(fn, "sem_wait") == 0 || strcmp(fn, "sem_timedwait") == 0);
}

AH__LIBC(sem_init, 13, AH__LIBC_THREAD);
int sem_init(sem_t *sem, int pshared, unsigned value)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_SEM, &self, 1);
    int err = AH__REAL(sem_init)(sem, pshared, value);

    if (s != NULL && err == 0) {
        ah__sobj_forget(s, sem);
        ah__sobj_get(s, sem, AH__O_SEM)->count = value;
    }
    return err;
}

AH__LIBC(sem_destroy, 16, AH__LIBC_THREAD);
int sem_destroy(sem_t *sem)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_SEM, &self, 0);

    if (s != NULL)
        ah__sobj_forget(s, sem);
    return AH__REAL(sem_destroy)(sem);
}

AH__LIBC(sem_post, 13, AH__LIBC_THREAD);
int sem_post(sem_t *sem)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_SEM, &self, 1);
    ah__sobj *o = s != NULL ? ah__sobj_find(s, sem) : NULL;

    if (o == NULL || o->kind != AH__O_SEM)
        return AH__REAL(sem_post)(sem);
    o->count++;
    ah__sched_wake_all(o);
    return 0;
}

static int errno_ret(int err)
{
    if (err == 0)
        return 0;
    errno = err;
    return -1;
}

AH__LIBC(sem_wait, 13, AH__LIBC_THREAD);
int sem_wait(sem_t *sem)
{
    ah__site site = here("sem_wait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_SEM, &self, 1);

    if (s == NULL)
        return AH__REAL(sem_wait)(sem);
    return errno_ret(sem_do_wait(s, self, sem, "sem_wait", site, NO_DEADLINE, 0));
}

AH__LIBC(sem_trywait, 16, AH__LIBC_THREAD);
int sem_trywait(sem_t *sem)
{
    ah__site site = here("sem_trywait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_SEM, &self, 1);

    if (s == NULL)
        return AH__REAL(sem_trywait)(sem);
    return errno_ret(sem_do_wait(s, self, sem, "sem_trywait", site, NO_DEADLINE, 1));
}

AH__LIBC(sem_timedwait, 18, AH__LIBC_THREAD);
int sem_timedwait(sem_t *sem, const struct timespec *abstime)
{
    ah__site site = here("sem_timedwait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_SEM, &self, 1);

    if (s == NULL)
        return AH__REAL(sem_timedwait)(sem, abstime);
    return errno_ret(sem_do_wait(s, self, sem, "sem_timedwait", site,
                                 ah__deadline_abs(s->sim, CLOCK_REALTIME, abstime), 0));
}

AH__LIBC(sem_getvalue, 17, AH__LIBC_THREAD);
int sem_getvalue(sem_t *sem, int *value)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_SEM, &self, 0);
    ah__sobj *o = s != NULL ? ah__sobj_find(s, sem) : NULL;

    if (o == NULL || o->kind != AH__O_SEM)
        return AH__REAL(sem_getvalue)(sem, value);
    *value = (int)o->count;
    return 0;
}

int uv_sem_init(uv_sem_t *sem, unsigned int value) { return sem_init(sem, 0, value) ? -errno : 0; }
void uv_sem_destroy(uv_sem_t *sem) { sem_destroy(sem); }
void uv_sem_post(uv_sem_t *sem) { sem_post(sem); }

void uv_sem_wait(uv_sem_t *sem)
{
    ah__site site = here("uv_sem_wait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_SEM, &self, 1);

    if (s == NULL) {
        while (sem_wait(sem) != 0 && errno == EINTR)
            ;
        return;
    }
    sem_do_wait(s, self, sem, "uv_sem_wait", site, NO_DEADLINE, 0);
}

int uv_sem_trywait(uv_sem_t *sem)
{
    ah__site site = here("uv_sem_trywait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_SEM, &self, 1);

    if (s == NULL)
        return sem_trywait(sem) == 0 ? 0 : UV_EAGAIN;
    return sem_do_wait(s, self, sem, "uv_sem_trywait", site, NO_DEADLINE, 1) ? UV_EAGAIN : 0;
}

/* ---- barriers ---- */

static int barrier_wait(ah__sched *s, ah__thr *self, void *b, const char *fn, ah__site site)
{
    ah__sobj *o = ah__sobj_find(s, b);

    if (o == NULL || o->kind != AH__O_BARRIER)
        ah__sched_fail(s, "%s(%p): the barrier was not initialised in this test", fn, b);
    ah__sched_yield(s, self);
    if (++o->count == o->limit) {
        o->count = 0;
        o->generation++;
        ah__sched_wake_all(o);
        return PTHREAD_BARRIER_SERIAL_THREAD; /* the last to arrive, as glibc */
    }
    /* Only the last arrival wakes a barrier's waiters, and it may destroy the barrier before they
     * run again (libuv's barrier_serial_thread): once woken, a waiter does not look at it. */
    ah__list_insert_tail(&o->waiters, &self->wait_link);
    ah__sched_block(s, self, AH__W_BARRIER, o, fn, site, NO_DEADLINE);
    return 0;
}

AH__LIBC(pthread_barrier_init, 25, AH__LIBC_THREAD);
int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr, unsigned count)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_BARRIER, &self, 1);
    int err = AH__REAL(pthread_barrier_init)(b, attr, count);

    if (s != NULL && err == 0) {
        ah__sobj_forget(s, b);
        ah__sobj_get(s, b, AH__O_BARRIER)->limit = count;
    }
    return err;
}

AH__LIBC(pthread_barrier_destroy, 28, AH__LIBC_THREAD);
int pthread_barrier_destroy(pthread_barrier_t *b)
{
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_BARRIER, &self, 0);

    if (s != NULL)
        ah__sobj_forget(s, b);
    return AH__REAL(pthread_barrier_destroy)(b);
}

AH__LIBC(pthread_barrier_wait, 25, AH__LIBC_THREAD);
int pthread_barrier_wait(pthread_barrier_t *b)
{
    ah__site site = here("pthread_barrier_wait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_BARRIER, &self, 1);

    if (s == NULL)
        return AH__REAL(pthread_barrier_wait)(b);
    return barrier_wait(s, self, b, "pthread_barrier_wait", site);
}

int uv_barrier_init(uv_barrier_t *b, unsigned int count)
{
    return -pthread_barrier_init(b, NULL, count);
}

void uv_barrier_destroy(uv_barrier_t *b) { pthread_barrier_destroy(b); }

int uv_barrier_wait(uv_barrier_t *b)
{
    ah__site site = here("uv_barrier_wait", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = fam_sched(FAM_BARRIER, &self, 1);

    if (s == NULL)
        return pthread_barrier_wait(b) == PTHREAD_BARRIER_SERIAL_THREAD;
    return barrier_wait(s, self, b, "uv_barrier_wait", site) == PTHREAD_BARRIER_SERIAL_THREAD;
}

/* ---- once: glibc's own encoding (0 not run, 1 running, 2 done), so the C library agrees ---- */

static int once_do(ah__sched *s, ah__thr *self, pthread_once_t *ctl, void (*init)(void),
                   const char *fn, ah__site site)
{
    ah__sobj *o = ah__sobj_get(s, ctl, AH__O_ONCE);

    ah__sched_yield(s, self);
    for (;;) {
        if ((*ctl & 3) == 2)
            return 0;
        if ((*ctl & 3) == 0 || o->owner == NULL) { /* 1 without a runner: a failed test's */
            *ctl = 1;
            o->owner = self;
            init();
            *ctl = 2;
            o->owner = NULL;
            ah__sched_wake_all(o);
            return 0;
        }
        if (o->owner == self)
            ah__sched_fail(s, "%s in %s: the init function calls %s on its own control", fn,
                           "(recursive)", fn);
        ah__list_insert_tail(&o->waiters, &self->wait_link);
        ah__sched_block(s, self, AH__W_ONCE, o, fn, site, NO_DEADLINE);
    }
}

/* A once on a sim that has no scheduler yet: no other simulated thread exists to race it, so it
 * runs here without making the room (a library's lazy initialisation, such as the unwinder's on
 * the first backtrace, costs the sim nothing). The controls whose init runs now are kept to
 * diagnose a recursive call, as once_do does; a failed test's are dropped with its sim. Returns
 * -1 when the scheduler must take the call. */
static __thread const void *once_open[8];
static __thread int once_depth;
static __thread uint64_t once_sim_key;

static int once_unscheduled(pthread_once_t *ctl, void (*init)(void), const char *fn)
{
    ah_sim *sim = ah__sim_libc();
    int i;

    if (sim == NULL || sim->sched != NULL || !pthread_equal(pthread_self(), sim->owner))
        return -1;
    if (once_sim_key != sim->key) {
        once_sim_key = sim->key;
        once_depth = 0;
    }
    if ((*ctl & 3) == 2)
        return 0;
    for (i = 0; i < once_depth; i++)
        if (once_open[i] == ctl)
            ah__fail(sim, "%s in %s: the init function calls %s on its own control", fn,
                     "(recursive)", fn);
    if (once_depth == (int)(sizeof(once_open) / sizeof(once_open[0])))
        return -1;
    once_open[once_depth++] = ctl;
    *ctl = 1;
    init();
    *ctl = 2;
    once_depth--;
    return 0;
}

AH__LIBC(pthread_once, 17, AH__LIBC_THREAD);
int pthread_once(pthread_once_t *ctl, void (*init)(void))
{
    ah__site site = here("pthread_once", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s;

    if (once_unscheduled(ctl, init, "pthread_once") == 0)
        return 0;
    if ((s = ah__sched_get(&self, 1)) == NULL)
        return AH__REAL(pthread_once)(ctl, init);
    return once_do(s, self, ctl, init, "pthread_once", site);
}

void uv_once(uv_once_t *guard, void (*callback)(void))
{
    ah__site site = here("uv_once", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s;

    if (once_unscheduled(guard, callback, "uv_once") == 0)
        return;
    if ((s = ah__sched_get(&self, 1)) == NULL) {
        AH__REAL(pthread_once)(guard, callback);
        return;
    }
    once_do(s, self, guard, callback, "uv_once", site);
}

/* ---- threads ---- */

static int create(pthread_t *tid, size_t stack, void *(*start)(void *), void *arg, const char *fn,
                  ah__site site, int detached, void (*uv_entry)(void *))
{
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 1);
    ah__thr *t;
    int err;

    t = ah__thr_create(s, start, arg, fn, site, stack, &err);
    if (t == NULL)
        return err;
    t->detached = detached;
    t->uv_entry = uv_entry; /* read by the new thread once it has the baton */
    *tid = t->os;
    ah__sched_yield(s, self); /* the new thread may run first */
    return 0;
}

AH__LIBC(pthread_create, 19, AH__LIBC_THREAD);
int pthread_create(pthread_t *tid, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
    ah__site site = here("pthread_create", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s;
    size_t stack = 0;
    int detach = PTHREAD_CREATE_JOINABLE;

    /* As uv_thread_create: a plain program's first thread makes the implicit sim, so that its
     * threads are simulated (and ah-explore can choose their switch points). */
    if (ah_sim_current() == NULL)
        ah__sim();
    s = ah__sched_get(&self, 1);
    if (s == NULL)
        return AH__REAL(pthread_create)(tid, attr, start, arg);
    if (attr != NULL) {
        pthread_attr_getstacksize(attr, &stack);
        pthread_attr_getdetachstate(attr, &detach);
    }
    return create(tid, stack, start, arg, "pthread_create", site, detach == PTHREAD_CREATE_DETACHED,
                  NULL);
}

static int join(ah__sched *s, ah__thr *self, pthread_t tid, void **ret, const char *fn,
                ah__site site)
{
    ah__thr *t = ah__thr_find(s, tid);

    if (t == NULL)
        return AH__REAL(pthread_join)(tid, ret);
    if (t == self)
        return EDEADLK;
    if (t->detached || t->joiner != NULL)
        return EINVAL;
    ah__sched_yield(s, self);
    if (t->state != AH__T_DONE) {
        t->joiner = self;
        ah__sched_block(s, self, AH__W_JOIN, t, fn, site, NO_DEADLINE);
    }
    if (ret != NULL)
        *ret = t->ret;
    ah__thr_reap(t); /* its OS thread is parked for reuse, or joined */
    t->joined = 1;
    return 0;
}

AH__LIBC(pthread_join, 17, AH__LIBC_THREAD);
int pthread_join(pthread_t tid, void **ret)
{
    ah__site site = here("pthread_join", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 1);

    if (s == NULL)
        return AH__REAL(pthread_join)(tid, ret);
    return join(s, self, tid, ret, "pthread_join", site);
}

AH__LIBC(pthread_detach, 19, AH__LIBC_THREAD);
int pthread_detach(pthread_t tid)
{
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 0);
    ah__thr *t = s != NULL ? ah__thr_find(s, tid) : NULL;

    if (t == NULL)
        return AH__REAL(pthread_detach)(tid);
    if (t->detached)
        return EINVAL;
    t->detached = 1; /* the OS thread stays joinable: the sim joins it when it is freed */
    return 0;
}

AH__LIBC(pthread_exit, 17, AH__LIBC_THREAD);
void pthread_exit(void *ret)
{
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 0);

    if (s == NULL || self == s->main) {
        AH__REAL(pthread_exit)(ret);
        __builtin_unreachable();
    }
    self->ret = ret;
    longjmp(self->exit_jb, 1);
}

AH__LIBC(sched_yield, 16, AH__LIBC_THREAD);
int sched_yield(void)
{
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 0);

    if (s == NULL)
        return AH__REAL(sched_yield)();
    ah__sched_yield(s, self);
    return 0;
}

/* The stack a thread of uv_thread_create(_ex) gets, as libuv sizes it: no size asked means
 * RLIMIT_STACK rounded down to a page (glibc's 2 MiB when unlimited or below the minimum), an
 * asked size is rounded up to a page and to at least PTHREAD_STACK_MIN (8 KiB where that is
 * smaller). Code checks it from inside the thread (pthread_getattr_np): libuv's test
 * thread_stack_size_explicit does. */
static size_t thread_stack_size(ah__sched *s, size_t asked)
{
    size_t page = (size_t)getpagesize(), min = 8192, dflt = (size_t)2 << 20;
    struct rlimit lim;

#ifdef PTHREAD_STACK_MIN
    if (min < (size_t)PTHREAD_STACK_MIN)
        min = (size_t)PTHREAD_STACK_MIN;
#endif
    if (asked != 0) {
        asked = (asked + page - 1) & ~(page - 1);
        return asked < min ? min : asked;
    }
    /* read once per sim: a getrlimit per thread was a tenth of a two-thread schedule */
    if (s != NULL && s->stack_dflt != 0)
        return s->stack_dflt;
    if (getrlimit(RLIMIT_STACK, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
        lim.rlim_cur -= lim.rlim_cur % (rlim_t)page;
        if (lim.rlim_cur >= (rlim_t)min)
            dflt = (size_t)lim.rlim_cur;
    }
    if (s != NULL)
        s->stack_dflt = dflt;
    return dflt;
}

static int uv_create(uv_thread_t *tid, const uv_thread_options_t *opts, void (*entry)(void *),
                     void *arg, const char *fn, ah__site site)
{
    ah__thr *self;
    ah__sched *s;
    size_t stack = 0;
    int err;

    /* uv_thread_create may be the program's first libuv call (libuv's docs example `signal`
     * starts two threads that each make their own loop): it makes the implicit sim, as
     * uv_default_loop would, so that the threads are simulated instead of real threads racing
     * each other into the sim. */
    if (ah_sim_current() == NULL)
        ah__sim();
    s = ah__sched_get(&self, 1);
    if (opts != NULL && (opts->flags & UV_THREAD_HAS_STACK_SIZE))
        stack = opts->stack_size;
    stack = thread_stack_size(s, stack);
    if (s == NULL) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        if (stack)
            pthread_attr_setstacksize(&a, stack);
        err = AH__REAL(pthread_create)(tid, &a, (void *(*)(void *))(void (*)(void))entry, arg);
        pthread_attr_destroy(&a);
        return -err;
    }
    err = create(tid, stack, NULL, arg, fn, site, 0, entry);
    return -err;
}

int uv_thread_create(uv_thread_t *tid, uv_thread_cb entry, void *arg)
{
    ah__site site = here("uv_thread_create", __builtin_return_address(0));
    return uv_create(tid, NULL, entry, arg, "uv_thread_create", site);
}

int uv_thread_create_ex(uv_thread_t *tid, const uv_thread_options_t *params, uv_thread_cb entry,
                        void *arg)
{
    ah__site site = here("uv_thread_create_ex", __builtin_return_address(0));
    return uv_create(tid, params, entry, arg, "uv_thread_create_ex", site);
}

int uv_thread_join(uv_thread_t *tid)
{
    ah__site site = here("uv_thread_join", __builtin_return_address(0));
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 1);

    if (s == NULL)
        return -AH__REAL(pthread_join)(*tid, NULL);
    return -join(s, self, *tid, NULL, "uv_thread_join", site);
}
