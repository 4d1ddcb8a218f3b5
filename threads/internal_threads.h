/* Internals of the threads layer (the .c files of threads/): the baton scheduler and the
 * synchronisation objects. Nothing here is public API; other layers use threads/pool.h. */
#ifndef AH_THREADS_INTERNAL_H
#define AH_THREADS_INTERNAL_H

#include "../harness/internal.h"

#include <pthread.h>
#include <semaphore.h>
#include <ucontext.h>

/* Whether clang builds this with ThreadSanitizer (gcc says __SANITIZE_THREAD__). */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AH__TSAN 1
#endif
#endif
#ifndef AH__TSAN
#define AH__TSAN 0
#endif

/* The thread-specific keys the sim knows of (sched.c). */
#define AH__MAX_KEYS 128

/* A simulated thread's user-level context, in the contexts mode (ctx.c). */
typedef struct ah__cx {
#if defined(__x86_64__)
    void *sp; /* its saved stack pointer (ctx.c) */
#else
    ucontext_t uc;
    void (*entry)(void *); /* before its first run */
    void *arg;
#endif
    sigset_t mask;       /* its signal mask, while another runs */
    struct ah__cx *next; /* in the park of stacks */
    void *map, *stack;   /* NULL for the test's thread: its own stack */
    size_t map_size, stack_size;
    int err;                /* errno */
    void *kv[AH__MAX_KEYS]; /* the thread-specific values (sched.c swaps them) */
    unsigned char *tls;     /* the TLS blocks, while another context runs */
    size_t tls_size;
} ah__cx;

/* What a blocked thread waits for. */
enum {
    AH__W_NONE = 0,
    AH__W_MUTEX,   /* obj: ah__sobj of a mutex */
    AH__W_RDLOCK,  /* obj: rwlock, for reading */
    AH__W_WRLOCK,  /* obj: rwlock, for writing */
    AH__W_COND,    /* obj: cond */
    AH__W_SEM,     /* obj: semaphore */
    AH__W_BARRIER, /* obj: barrier */
    AH__W_ONCE,    /* obj: once control */
    AH__W_JOIN,    /* obj: ah__thr */
    AH__W_SLEEP,   /* only the deadline */
    AH__W_TIME,    /* a loop's poll or a test verb: time passes (wait_until) */
    AH__W_POOL,    /* an idle thread-pool worker waiting for a job */
    AH__W_FD,      /* obj: an ah__twaitq of a higher layer (wait.h); wait_fn says what */
};

enum { AH__T_RUNNABLE, AH__T_BLOCKED, AH__T_DONE };

/* A simulated synchronisation object, keyed by the address of the user's object. */
enum { AH__O_MUTEX = 1, AH__O_RWLOCK, AH__O_COND, AH__O_SEM, AH__O_BARRIER, AH__O_ONCE };
typedef struct ah__sobj {
    const void *addr;
    int kind;
    uint32_t id; /* per kind, in order of first use: "mutex #2" (replays; no pointers) */
    ah__list waiters;
    struct ah__thr *owner; /* mutex, rwlock writer */
    unsigned count;        /* mutex recursion, rwlock readers, semaphore value, barrier arrived */
    unsigned limit;        /* barrier count */
    uint64_t generation;   /* barrier */
    uint64_t readers_mask; /* rwlock: thread ids (mod 64) holding it for reading */
    int mtype;             /* PTHREAD_MUTEX_NORMAL / RECURSIVE / ERRORCHECK */
    ah__site lock_site;    /* where the owner took it */
    struct ah__sobj *cond_mutex;
} ah__sobj;

typedef struct ah__thr {
    ah__list link; /* sched->threads, in creation order */
    struct ah__sched *sched;
    uint32_t id; /* 0: the test's thread */
    int state;
    int turn; /* the baton: 1 when this thread may run (futex word) */
#ifdef AH_TSAN_RUNTIME
    pthread_cond_t turn_cv; /* under TSan: the baton's condition variable (sched.c) */
#endif
    pthread_t os;
    int os_started;
    void *(*start)(void *);
    void (*uv_entry)(void *); /* uv_thread_create's entry, instead of start */
    void *arg;
    void *ret;
    const char *create_fn; /* "uv_thread_create", "pthread_create", "the thread pool" */
    ah__site create_site;
    int detached, joined, pool_worker, killing, failed;
    void *pool_job;      /* a worker: the job handed to it (threads/pool.c) */
    struct ah__os *host; /* the OS thread running it (sched.c), until reaped */
    struct ah__thr *joiner;
    jmp_buf exit_jb;
    /* what it waits for */
    int wait_kind;
    const void *wait_obj;
    const char *wait_fn;
    ah__site wait_site;
    uint64_t deadline_ns; /* UINT64_MAX: none */
    int timed_out, nothing_due;
    int interrupted; /* a signal ended its sleep (wait.c): EINTR */
    uv_loop_t *wait_loop;
    ah__list wait_link; /* in the object's waiters */
    /* the sim's callback context of this thread, kept while others run */
    int in_callback;
    const ah__hrec *current_hrec;
    const char *current_what;
    uint64_t cb_start_ms;
    char name[24];
    ah__cx *cx;     /* the contexts mode: its context (ctx.c); NULL: an OS thread of its own */
    int name_lazy;  /* contexts: its name is still the test's thread's (read when asked) */
    uint32_t slice; /* switch points it went on through since it last got the baton (sched.c) */
} ah__thr;

typedef struct ah__sched {
    ah_sim *sim;
    uint64_t gen;
    ah__list threads;
    ah__thr *main, *running;
    uint32_t next_id;
    uint32_t next_obj_id[8];
    /* sync objects: open addressing on the address */
    ah__sobj **slots;
    size_t nslots, nobjs;
    const char *failure;  /* a failure on another thread, for the test's thread to raise */
    int whole_sim_report; /* the failure being raised is about every thread (a deadlock) */
    uint64_t switches_at_instant, instant_ns;
    /* Time slices (sched.c): slices that ran out in a row with no thread blocking since, which
     * doubles what the next one costs in virtual time; and how many slices ran out in all. */
    uint32_t slice_streak;
    uint64_t slices_over;
    /* In a forked child whose other threads did not survive the fork: the report its next use of
     * the scheduler fails with (proc/fork.c forks; hook_forked_child writes it). */
    const char *fork_lost;
    ah__thr **cand;
    size_t cand_cap;
    int contexts;      /* the contexts mode: every thread but the test's is an ah__cx */
    ah__thr *cx_back;  /* contexts: where a stopped context returns (sched_destroy) */
    size_t stack_dflt; /* RLIMIT_STACK as uv_thread_create sizes a stack, read once (sync.c) */
} ah__sched;

/* In a forked child: forgets `t` if it is an idle pool worker and says whether it was one; set by
 * threads/pool.c when a sim first uses its pool (sched.c reaches the pool only through it). */
extern int (*ah__pool_forget_idle)(ah_sim *sim, ah__thr *t);

/* The scheduler when the caller is a thread of the current sim (the test's thread creates it
 * when `create`); NULL when the caller is not simulated: no sim, or a thread started outside it
 * (its calls go to the C library). *self is the calling thread. */
ah__sched *ah__sched_get(ah__thr **self, int create);
/* A simulated thread that goes on through this many switch points in a row (the default schedule
 * lets it) is preempted at the next one: another runnable thread runs (decision 139). */
#define AH__SLICE 100
/* A switch point: another runnable thread may run now (the oracle decides). */
void ah__sched_yield(ah__sched *s, ah__thr *self);
/* Blocks the calling thread on (kind, obj) until woken or until deadline_ns (UINT64_MAX: none).
 * Returns 1 when the deadline woke it. The caller has put self on the object's waiters. */
int ah__sched_block(ah__sched *s, ah__thr *self, int kind, const void *obj, const char *fn,
                    ah__site site, uint64_t deadline_ns);
/* Makes a blocked thread runnable (off any wait list). */
void ah__sched_wake(ah__thr *t);
/* Wakes every waiter of `o`. */
void ah__sched_wake_all(ah__sobj *o);
/* Starts a simulated thread running start(arg). `fn` and `site` name where it was created. */
ah__thr *ah__thr_create(ah__sched *s, void *(*start)(void *), void *arg, const char *fn,
                        ah__site site, size_t stack_size, int *err);
/* A joined simulated thread's OS thread goes back to the park, or ends (the join of pthreads). */
void ah__thr_reap(ah__thr *t);
/* The thread record of an OS thread started in this sim, or NULL. */
ah__thr *ah__thr_find(ah__sched *s, pthread_t os);
/* Fails the test (from any thread) with a report; never returns. */
void ah__sched_fail(ah__sched *s, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
/* The same for a report about the whole sim (a deadlock): not prefixed with the thread. */
void ah__sched_report(ah__sched *s, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
/* "thread 2 (uv_thread_create in main (t.c:20))" */
const char *ah__thr_str(const ah__thr *t, char *buf, size_t n);

/* The simulated object at `addr` of `kind`, created on first use. */
ah__sobj *ah__sobj_get(ah__sched *s, const void *addr, int kind);
ah__sobj *ah__sobj_find(ah__sched *s, const void *addr);
void ah__sobj_forget(ah__sched *s, const void *addr);
const char *ah__sobj_str(const ah__sobj *o, char *buf, size_t n);

/* While on, this OS thread's calls go to the C library (the scheduler calling it itself). */
void ah__passthrough(int on);
/* The C library's own function `name` (dlsym RTLD_NEXT), for calls that are not simulated. */
void *ah__real(const char *name);
struct dl_phdr_info;
/* Whether a loaded module's TLS block is the program's to save, swap or reset (ctx.c, sched.c):
 * every module's but the C library's, the dynamic loader's and libpthread's, whose per-thread
 * state (errno, the locale) is handled by name (real.c). */
int ah__tls_block_is_ours(const struct dl_phdr_info *info);
#define AH__REAL(fn)                                                                               \
    (__extension__({                                                                               \
        static __typeof__(&fn) real_;                                                              \
        if (real_ == NULL)                                                                         \
            real_ = (__typeof__(&fn))ah__real(#fn);                                                \
        real_;                                                                                     \
    }))

/* The contexts mode (ctx.c): wanted for this sim (AH_THREADS=contexts or its option, and no
 * Valgrind or sanitizer); the test's thread's context; a new context that starts at entry(arg),
 * with the signal mask of `creator` (the running context); back to the park; saving and restoring
 * errno and the TLS blocks around a switch. */
int ah__cx_wanted(const ah_sim *sim);
ah__cx *ah__cx_main(void);
ah__cx *ah__cx_new(size_t stack_size, void (*entry)(void *), void *arg, ah__cx *creator);
/* Runs `to`, after saving `from` (NULL: from a context that is leaving for good). */
void ah__cx_switch(ah__cx *from, ah__cx *to);
void ah__cx_free(ah__cx *c);
void ah__cx_out(ah__cx *c);
void ah__cx_in(ah__cx *c);

/* The virtual deadline for an absolute time on `clock` (CLOCK_REALTIME or CLOCK_MONOTONIC). */
uint64_t ah__deadline_abs(ah_sim *sim, clockid_t clock, const struct timespec *abstime);

/* Whether a thread blocked in `fn` (a semaphore wait) returns EINTR when a signal handler runs:
 * sem_wait and sem_timedwait (sync.c); the sleeps are (wait.c). */
int ah__sem_wait_interruptible(const char *fn);

#endif
