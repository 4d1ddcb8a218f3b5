/* Internals of the harness layer, shared with mocks/. Nothing here is public API. */
#ifndef AH_HARNESS_INTERNAL_H
#define AH_HARNESS_INTERNAL_H

#define AH_BUILDING_HARNESS 1

#include <ah/ah.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../fakeclock/fakeclock.h"
#include "uv/version.h"

#define AH__NS_PER_MS 1000000ULL
/* The virtual clock starts here, not at zero: code under test may assert uv_now() > 0. */
#define AH__EPOCH_NS (1000ULL * 1000 * AH__NS_PER_MS) /* 1000 s */

/* ---- lists: circular, with a sentinel, intrusive ---- */
typedef struct ah__list {
    struct ah__list *next, *prev;
} ah__list;

static inline void ah__list_init(ah__list *l) { l->next = l->prev = l; }
static inline int ah__list_empty(const ah__list *l) { return l->next == l; }
static inline void ah__list_insert_tail(ah__list *l, ah__list *n)
{
    n->next = l;
    n->prev = l->prev;
    l->prev->next = n;
    l->prev = n;
}
static inline void ah__list_insert_head(ah__list *l, ah__list *n)
{
    n->prev = l;
    n->next = l->next;
    l->next->prev = n;
    l->next = n;
}
static inline void ah__list_remove(ah__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}
/* Moves every element of `from` to the empty list `to`. */
static inline void ah__list_move(ah__list *from, ah__list *to)
{
    if (ah__list_empty(from)) {
        ah__list_init(to);
        return;
    }
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    ah__list_init(from);
}
#define ah__container_of(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))
/* libuv's private queue fields (handle_queue, a watcher's or a write request's `queue`, ...),
 * used as our list nodes: `void *[2]` before 1.46, `struct uv__queue` since, both {next, prev}
 * as ah__list. Takes the field itself: ah__qlist(h->handle_queue). */
#define ah__qlist(field) ((ah__list *)(void *)&(field))
/* Slot i (0 or 1) of such a field, for a field the harness keeps its own pointers in. Read and
 * written with memcpy: no pointer of another type aliases the field. */
static inline void *ah__qslot_get(const void *field, int i)
{
    void *v;
    memcpy(&v, (const char *)field + (size_t)i * sizeof(void *), sizeof(v));
    return v;
}
static inline void ah__qslot_set(void *field, int i, void *v)
{
    memcpy((char *)field + (size_t)i * sizeof(void *), &v, sizeof(v));
}
_Static_assert(sizeof(((uv_handle_t *)0)->handle_queue) == sizeof(ah__list),
               "a libuv queue field is two pointers, as ah__list");

/* ---- growable text, for reports ---- */
typedef struct ah__buf {
    char *s;
    size_t len, cap;
} ah__buf;
void ah__buf_printf(ah__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ah__buf_vprintf(ah__buf *b, const char *fmt, va_list ap);
/* Appends `n` bytes with non-printable ones escaped (\r, \n, \xNN), for showing wire data. */
void ah__buf_escape(ah__buf *b, const void *data, size_t n);
char *ah__buf_take(ah__buf *b); /* the malloc'd string (never NULL); the buffer is reset */
/* The string of `b`, owned by the sim until it is freed (for reports passed to ah__fail, which
 * never returns). */
const char *ah__buf_keep(struct ah_sim *sim, ah__buf *b);
void ah__buf_free(ah__buf *b);

/* ---- allocation: every allocation of the harness goes through here ---- */
void *ah__malloc(size_t n);
void *ah__calloc(size_t n, size_t size);
void *ah__realloc(void *p, size_t n);
void ah__free(void *p);
char *ah__strdup(const char *s);

/* ---- call sites ---- */
typedef struct ah__site {
    const char *file; /* NULL when only the return address is known */
    int line;
    const char *func;
    const void *ret;
} ah__site;
/* The site of the current call of `fn`: the one ah/sites.h marked, else the return address. */
ah__site ah__site_take(const char *fn, const void *ret);
#define AH__CALLER(fn) ah__site_take((fn), __builtin_return_address(0))
/* The first declaration of an entry point that keeps no site: takes it before anything can fail,
 * so that a failure inside names the call (its file and line, or its address). */
#define AH__ENTRY(fn) __attribute__((unused)) const ah__site ah__entry_site = AH__CALLER(fn)
/* The site of the call of `fn` being diagnosed, for a check that did not take it itself: the
 * mark made for it (pending, or taken by the same call, `ret` being the entry point's return
 * address), else `ret` alone. */
ah__site ah__call_site(const char *fn, const void *ret);
/* The marked call in progress on this thread (pending, or taken by the call), if any: a failure
 * with no site of its own names it. Forgotten when a callback starts or ends and when a test
 * verb starts (ah__site_forget). */
int ah__site_current(ah__site *out, const char **fn);
void ah__site_forget(void);
/* " (addr2line -f -e BIN 0xOFF names it)" for a site known only by its address, else "". */
const char *ah__site_hint(const ah__site *s, char *buf, size_t n);
/* The same for a trace note: only while a trace is recorded (the command holds the binary's path
 * as it was run, which the trace hash must not depend on). */
#define ah__trace_site_hint(sim, s, buf, n)                                                        \
    ((sim)->trace != NULL ? ah__site_hint((s), (buf), (n)) : "")
/* The file name of a path ("t.c" for "/src/t.c"); "?" for NULL. */
const char *ah__base_name(const char *path);
/* A virtual instant in ms since the sim started. */
uint64_t ah__rel_ms(const ah_sim *sim, uint64_t ns);
/* Whether the run is under Valgrind (AH_UNDER_VALGRIND=1): explorations and sweeps scale down. */
int ah__under_valgrind(void);
/* "kv_connect (kvclient.c:120)" or "0x4011a6 in ./test". Returns buf. */
const char *ah__site_str(const ah__site *s, char *buf, size_t n);

/* What a pointer the sim does not know may be, and how to find out. */
#define AH__UNKNOWN_HINT                                                                           \
    "never initialised in this sim, closed, or freed (a use after free?). To see where it was "    \
    "freed, run the test's MEMCHECK variant (ah_discover_tests(... MEMCHECK), Valgrind) or build " \
    "with -fsanitize=address (docs/testing-your-client.md, \"Catching use-after-free\")"

/* ---- handle records: the sim's own account of every handle, outside user memory ---- */
enum { AH__H_OPEN = 0, AH__H_CLOSING = 1, AH__H_CLOSED = 2 };

typedef struct ah__hrec {
    ah__list link; /* sim->handles, in init order */
    const void *handle;
    uv_loop_t *loop;
    uv_handle_type type;
    int state;
    uint32_t id; /* per type: "uv_timer_t #3" */
    ah__site init_site;
    ah__site start_site;
    ah__site close_site;
    uint64_t init_ns, close_ns;
    char label[48]; /* set by mocks (e.g. "tcp 127.0.0.1:6379") or ah_label_handle */
} ah__hrec;

/* handle->flags, owned by the harness (the bits are ours, not libuv's) */
enum {
    AH__HF_ACTIVE = 0x1,
    AH__HF_REF = 0x2,
    AH__HF_CLOSING = 0x4,
    AH__HF_CLOSED = 0x8,
    AH__HF_INTERNAL = 0x10,
    AH__HF_CLOSE_WAITS = 0x20, /* set by a close hook: the type calls ah__close_pending later */
    AH__HF_TYPE0 = 0x100, /* first bit free for type-specific use (streams use 0x100..0x8000) */
    AH__HF_MAGIC = 0x5a000000u,
    AH__HF_MAGIC_MASK = 0xff000000u,
};

/* ---- request records (uv_write_t, uv_connect_t, uv_getaddrinfo_t, uv_work_t, ...) ---- */
typedef struct ah__rrec {
    ah__list link; /* sim->reqs */
    const void *req;
    uv_loop_t *loop;
    uv_req_type type;
    const char *what; /* "uv_write", "uv_getaddrinfo" */
    ah__site site;
    uint64_t start_ns;
} ah__rrec;

/* Starts tracking `req` as in flight on `loop` (it keeps the loop alive, as libuv's active
 * requests do). Sets req->type. */
void ah__req_begin(uv_loop_t *loop, uv_req_t *req, uv_req_type type, const char *what,
                   ah__site site);
/* Stops tracking `req` (before its callback runs, as libuv unregisters first). */
void ah__req_end(uv_req_t *req);
ah__rrec *ah__req_rec(const uv_req_t *req); /* NULL when not in flight */
/* Marks a request made and finished without tracking (a synchronous call, a refused one). */
void ah__req_done_here(uv_req_t *req);
/* Whether `req` is in flight in the current sim, or was made by some sim of this process (its
 * memory since then is the user's: a freed one shows a scribbled type). */
int ah__req_known(const uv_req_t *req);
/* Fails: `req` given to `fn` is not a request of this sim ("never initialised in this sim,
 * closed, or freed"), naming `fn`'s site (`ret`: the entry point's return address). */
void ah__req_unknown_at(const uv_req_t *req, const char *fn, const void *ret, const char *why)
    __attribute__((noreturn));

/* ---- events: things that become ready at a virtual time and are delivered in the poll phase ----
 */
enum {
    AH__EV_REF = 0x1, /* keeps the loop alive while scheduled */
    /* The sim's own look at something outside the loop (a real child, a member's turn): the
     * kernel would not wake libuv's poll for it. A poll whose events were all silent and ran no
     * callback goes on waiting for its timeout, as uv__io_poll does when epoll gave it nothing
     * to dispatch (libuv's closed_fd_events: no spurious wakeup before a timer). */
    AH__EV_SILENT = 0x2,
};
typedef struct ah__event {
    ah_fc_node node; /* key: due time in ns */
    void (*fire)(struct ah__event *ev);
    uv_loop_t *loop;
    const char *what; /* for reports: "tcp bytes to 127.0.0.1:6379", "mock kv_get outcome" */
    ah__site site;
    const void *owner; /* handle or request it belongs to, for reports (may be NULL) */
    unsigned flags;
    size_t batch_index; /* + 1 while in the loop's delivery batch, else 0 */
} ah__event;
/* Schedules ev (zeroed or previously fired/cancelled) on loop at absolute virtual `due_ns`. */
void ah__event_schedule(uv_loop_t *loop, ah__event *ev, uint64_t due_ns);
void ah__event_cancel(ah__event *ev);
/* Whether a loop is alive as libuv's uv_loop_alive says (referenced events count too), and the
 * earliest due time over the sim's loops (only alive ones when `alive_only`), UINT64_MAX if none
 * (event.c). */
int ah__loop_is_alive(const uv_loop_t *loop);
uint64_t ah__next_due(ah_sim *sim, int alive_only);
static inline int ah__event_scheduled(const ah__event *ev) { return ah_fc_node_queued(&ev->node); }

/* ---- choices: the one door for every decision real life leaves open ---- */
/* An index in [0, n) (n >= 1; with n == 1 no choice is recorded). */
uint64_t ah__choose(ah_sim *sim, uint64_t n, const char *what);
/* The same, where the n options are the `owners` (threads, flows): PCT keeps a priority per owner.
 */
uint64_t ah__choose_among(ah_sim *sim, uint64_t n, const void *const *owners, const char *what);
/* A value in [lo, hi], inclusive (jitter). */
uint64_t ah__choose_range(ah_sim *sim, uint64_t lo, uint64_t hi, const char *what);
/* True with probability num/den (an optional fault). */
int ah__choose_chance(ah_sim *sim, uint64_t num, uint64_t den, const char *what);

/* ---- trace: every dispatched callback and notable event, at its virtual time ---- */
/* Records one step: `track` is what it happened on ("uv_timer_t #1", "tcp 127.0.0.1:6379"),
 * `what` what happened. Feeds the trace hash always, the text/JSON trace when recording. */
void ah__trace_note(ah_sim *sim, const char *track, const char *what);
/* The same for a handle's callback, as dispatch records it: the track is the handle's type and
 * id (ah__trace_key, kept in the handle; no pointers, so it replays), and `r` is read only when
 * a trace is being recorded. */
void ah__trace_dispatch(ah_sim *sim, uint64_t track_key, const struct ah__hrec *r,
                        const char *what);
static inline uint64_t ah__trace_key(uv_handle_type type, uint32_t id)
{
    return (uint64_t)type << 32 | id;
}

/* ---- pending callbacks: libuv's pending queue (run in the pending phase) ---- */
typedef struct ah__pending {
    ah__list link;
    void (*run)(struct ah__pending *p);
} ah__pending;
void ah__pending_add(uv_loop_t *loop, ah__pending *p);
void ah__pending_remove(ah__pending *p);

/* ---- tasks: run at the current instant after the current callback returns (continuations) ---- */
typedef struct ah__task {
    ah__list link;
    void (*run)(struct ah__task *t);
} ah__task;
void ah__task_post(ah_sim *sim, ah__task *t);
void ah__task_cancel(ah__task *t);
/* Runs posted tasks until none is left. Returns how many ran. */
uint64_t ah__tasks_drain(ah_sim *sim);

/* ---- per-loop state, behind loop->internal_fields ---- */
typedef struct ah__loop {
    ah__list link; /* sim->loops */
    uv_loop_t *loop;
    ah_sim *sim;
    ah_fc_wheel timers;      /* key: due in ms (libuv's loop->time units) */
    ah_fc_node timers_ready; /* libuv >= 1.48: the timers the running timer phase collected */
    ah_fc_queue events;      /* ah__event, key: due in ns */
    ah__list handles;        /* every handle not yet closed, init order (uv_walk) */
    ah__list idle, prepare, check, async;
    ah__list pending;
    uv_handle_t *closing; /* LIFO, as libuv's closing_handles */
    uint64_t ref_events;  /* scheduled events with AH__EV_REF */
    ah__event **batch;    /* events being delivered by the current poll (NULL = cancelled) */
    size_t batch_len, batch_cap;
    ah__event async_ev; /* scheduled while some async handle is pending */
    int running;        /* inside uv_run or a sim verb: uv_run may not be re-entered */
    /* uv_metrics_*: poll phases (loop_count), events delivered by them and those already due
     * when the poll began (events_waiting, counted once UV_METRICS_IDLE_TIME is configured, as
     * libuv does), and the virtual time the polls waited (idle time, in ns). */
    uint64_t polls, events_delivered, events_waiting, idle_ns;
    int metrics_idle; /* uv_loop_configure(UV_METRICS_IDLE_TIME) was called */
    int is_default;
    ah__site init_site;
} ah__loop;

static inline ah__loop *ah__lp(const uv_loop_t *loop) { return (ah__loop *)loop->internal_fields; }
/* The loop's earliest timer, or NULL. Finding it may cascade the wheel, which changes no order,
 * so it is allowed on a const loop. */
static inline const ah_fc_node *ah__timer_min(const uv_loop_t *loop)
{
    return ah_fc_wheel_min(&ah__lp(loop)->timers);
}

/* ---- extensions: per-sim state of higher layers (futures, mocks, net, explorer) ---- */
typedef struct ah__ext {
    const void *key;
    /* The room's name in ah__sim_rooms ("fd", "net", ...). */
    const char *name;
    void *state;
    /* Appends teardown problems to `report` (one line each, prefixed "  - "). */
    void (*check)(ah_sim *sim, void *state, ah__buf *report);
    /* Deadlock report: appends what is pending. */
    void (*pending)(ah_sim *sim, void *state, ah__buf *report);
    void (*destroy)(ah_sim *sim, void *state);
    /* Teardown: operations still pending (one line each, prefixed "    - "), adding their
     * number to *n; check.c reports them together as "the test ended with N operations
     * pending". May be NULL. */
    void (*ops)(ah_sim *sim, void *state, ah__buf *report, unsigned *n);
    /* ah__ext_get_or_add: fills the zeroed state it has just allocated, before registering it.
     * May be NULL. */
    void (*init)(ah_sim *sim, void *state);
} ah__ext;
#define AH__MAX_EXT 32
/* The state registered under `key`, or NULL. */
void *ah__ext_get(ah_sim *sim, const void *key);
/* Registers `ext` (copied) on the sim. */
void ah__ext_add(ah_sim *sim, const ah__ext *ext);
/* A room's state, made on the room's first use (a room the test never touches costs nothing):
 * the state registered under `ext->key`, or else `size` zeroed bytes, filled by `ext->init` and
 * registered with `ext`'s name and hooks (`ext->state` is not read). The sim owns it;
 * `ext->destroy` frees it. */
void *ah__ext_get_or_add(ah_sim *sim, const ah__ext *ext, size_t size);
/* The names of the rooms attached to the sim, in the order they were attached, separated by
 * spaces, in `buf` ("" when none is): which rooms the test has touched. */
const char *ah__sim_rooms(ah_sim *sim, char *buf, size_t n);

/* Hooks run after every callback the loop dispatches (and after every task): invariants,
 * exclusive sections, step counting. */
typedef void (*ah__after_cb_fn)(ah_sim *sim, void *ctx);
void ah__after_callback_add(ah_sim *sim, ah__after_cb_fn fn, void *ctx);

/* ---- simulated threads: threads/ registers these hooks (harness never includes threads/) ----
 * They are called only while sim->threads_live > 0 (threads the code under test started are
 * alive); without threads the harness behaves as if they did not exist. */
typedef struct ah__thread_hooks {
    /* The calling thread lets virtual time pass until due_ns (UINT64_MAX: until woken), waiting
     * in `loop`'s poll (NULL: a test verb waiting for the sim); the other simulated threads run
     * meanwhile, and the clock moves only when every thread is blocked. Returns 0 when the time
     * came or a uv_async_send woke it, 1 when nothing can ever wake it (due_ns == UINT64_MAX and
     * every other thread is durably blocked). */
    int (*wait_until)(ah_sim *sim, uv_loop_t *loop, uint64_t due_ns);
    /* uv_async_send to `loop` from another thread: wake the thread waiting in its poll. */
    void (*wake_loop)(ah_sim *sim, uv_loop_t *loop);
    /* An event due at `due_ns` was scheduled on `loop` by another thread (a pool job's side
     * effect, as an inotify event while a write runs): a thread waiting in that loop's poll past
     * due_ns wakes to deliver it. Not a switch point. */
    void (*event_added)(ah_sim *sim, uv_loop_t *loop, uint64_t due_ns);
    /* Whether the caller is a simulated thread other than the test's own. */
    int (*off_main)(ah_sim *sim);
    /* A failure (`msg`, banner included) on a thread other than the test's: the test's thread
     * fails with it; never returns. */
    void (*raise_elsewhere)(ah_sim *sim, const char *msg);
    /* The thread pool's jobs that run on no thread (DNS, fs: threads/pool.c) at the current
     * instant: starts their work, ends those whose duration is over. Called through
     * ah__jobs_due, whatever threads_live is. */
    void (*jobs_step)(ah_sim *sim);
    /* In a child just forked from a sim with simulated threads: only the forking thread exists.
     * Idle thread-pool workers are forgotten (the pool starts new ones); any other thread makes
     * the child's next use of the scheduler fail, naming `site` (the fork) and the thread. */
    void (*forked_child)(ah_sim *sim, ah__site site);
} ah__thread_hooks;
extern ah__thread_hooks ah__threads_hooks;
/* Runs the pool's jobs due at the current instant (sim->jobs_due_ns): a poll calls it before it
 * delivers, so a job's completion due now is in the batch. */
#define ah__jobs_due(sim)                                                                          \
    do {                                                                                           \
        if ((sim)->jobs_due_ns != 0 && (sim)->jobs_due_ns <= (sim)->clock.now_ns)                  \
            ah__threads_hooks.jobs_step(sim);                                                      \
    } while (0)
/* Lets time pass to `due_ns` (threads run meanwhile when there are any), no later than the pool's
 * next job instant. See wait_until. */
int ah__time_pass(ah_sim *sim, uv_loop_t *loop, uint64_t due_ns);
/* Fails with a message already carrying its banner (a failure moved from another thread). */
void ah__fail_msg(ah_sim *sim, const char *msg) __attribute__((noreturn));

/* ---- the sim ---- */
#define AH__RECENT 8
/* Installs the crash report handler for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT over the
 * current ones (cmocka's), which it chains to after the report (harness/crash.c). */
void ah__crash_arm(void);
/* Run when the process-wide implicit sim is made (crash.c sets it to ah__crash_arm). */
extern void (*ah__implicit_sim_hook)(void);

typedef struct ah__capture {
    jmp_buf jb;
    char *msg;
} ah__capture;

struct ah_sim {
    ah_fc_clock clock;
    ah_fc_oracle oracle;
    uint64_t key; /* mixed into handle cookies: a handle of another sim is not ours */
    ah_sim_opts opts;
    char name[128];
    ah_sim *prev_current;

    uv_loop_t default_loop;
    int default_loop_open;
    ah__list loops;

    ah__list handles;  /* ah__hrec, every handle ever initialised, init order */
    void *hrec_blocks; /* slabs of ah__hrec; the first word links them */
    size_t hrec_free;  /* records left in the newest slab */
    /* Records of the handles initialised and not yet closed, by handle address (open addressing,
     * linear probing): a second uv_<type>_init of a live handle is found without reading the
     * handle's memory, which may be uninitialised. */
    ah__hrec **live_tab;
    size_t live_cap, live_n;
    uint32_t next_handle_id[UV_HANDLE_TYPE_MAX + 1];
    ah__list reqs;      /* ah__rrec in flight */
    ah__list reqs_free; /* recycled ah__rrec */
    ah__list tasks;

    /* callback accounting */
    uint64_t callbacks;            /* total dispatched */
    uint64_t events_fired;         /* events delivered (progress even when no callback ran) */
    uint64_t callbacks_at_instant; /* since the clock last moved: the runaway guard */
    uint64_t iterations_at_instant;
    uint64_t instant_ns;
    uint64_t clock_read_ns;       /* the clock value the last uv_hrtime/uv_update_time read */
    uint32_t clock_reads;         /* how many reads in a row returned it (harness/uv/busy.c) */
    const ah__hrec *current_hrec; /* the handle whose callback runs now, or NULL */
    /* The last callbacks dispatched, for crash reports (a ring; recent_n counts them all). */
    struct ah__recent {
        uint64_t t_ns;
        const ah__hrec *r;
        const char *what;
    } recent[AH__RECENT];
    unsigned recent_n;
    const ah__hrec *last_hrec; /* the handle of the last callback dispatched, for reports */
    const char *last_what;
    const char *current_what;
    int in_callback;
    int draining;
    uint64_t cb_start_ms;
    int in_verb;
    /* The condition ah_run_until (and ah_await) waits for, while it runs: once it holds, no
     * poll moves the clock any further, so the verb returns at the instant it became true. */
    ah_pred_fn run_pred;
    void *run_pred_ctx;
    uint64_t slow_reported;
    ah__buf slow; /* slow callbacks and blocking calls, reported at teardown */

    ah__ext ext[AH__MAX_EXT];
    int n_ext;
    struct {
        ah__after_cb_fn fn;
        void *ctx;
    } after_cb[8];
    int n_after_cb;

    ah__capture *capture;
    char replay_hint[320]; /* printed under every failure: how to replay it */
    /* What the fault a sweep just injected did, when it has more to say than its name (the
     * processes a crash killed: world/faults.c); sweep.c adds it to the step's description. */
    char fault_note[256];
    /* Printed under every failure when set: the test involved something outside the sim (a
     * real descriptor under uv_poll, fd/real.c), so a rerun may not reproduce it exactly. */
    char outside[256];
    void (*on_fail)(ah_sim *sim, const char *msg); /* e.g. the explorer's banner */
    /* Orders a poll's batch of events that fell due together (the explorer permutes it). */
    void (*order_batch)(ah_sim *sim, ah__event **evs, size_t n);
    /* Every open choice (ties, jitter, chunking, optional faults) goes through ah__choose; the
     * explorer installs `chooser` to decide them itself, else the seeded oracle does. */
    uint64_t (*chooser)(ah_sim *sim, uint64_t n, const char *what);
    void *chooser_ctx;
    uint64_t choices; /* choices made so far */
    /* The timeline: a hash of every dispatched callback (determinism check), and optionally its
     * text (harness/trace.c). */
    uint64_t trace_hash;
    uint64_t *trace_hash_out; /* ah-explore: where the hash is published as it grows */
    uint64_t trace_events;
    const char *trace_what_ptr; /* cache of the last callback name's hash (trace.c) */
    uint64_t trace_what_hash;
    struct ah__trace *trace; /* NULL unless recording */
    int strict_loops;        /* report loops never closed at teardown */
    char *kept[4];           /* reports handed to ah__fail (ah__buf_keep) */
    int n_kept;
    int failed;
    int body_done;
    int checked; /* the teardown checks ran at the end of the body (cmocka_glue.c) */
    const struct ah__test_info *test;
    /* threads/: its scheduler (NULL until the code under test uses threads or locks), the
     * number of simulated threads alive besides the test's own, the thread that made the sim,
     * and the options a chooser is picking among (ah__choose_among). */
    struct ah__sched *sched;
    int threads_live;
    /* This process is a child the test forked (proc/fork.c): it runs its own copy of the sim,
     * and its failure or the end of its test ends the process (its parent waits for it). */
    int forked_child;
    pthread_t owner;
    /* threads/pool.c: the earliest instant its jobs on no thread need (a work to start, a
     * duration ending); 0 when none. */
    uint64_t jobs_due_ns;
    const void *const *choose_owners;
};

/* The current sim; with none, a process-wide implicit sim is created (so a plain program linked
 * with the harness instead of libuv just runs). */
ah_sim *ah__sim(void);
/* ah-explore's per-process side, set by explore.c as the program starts (a hook: sim.c is below
 * it): when the environment carries a schedule (AH_STRATEGY=random|pct with AH_SEED, or
 * AH_REPLAY), `attach` gives the implicit sim and the sims of ah_run_tests their choices from it;
 * `release` folds a freed sim's trace hash into the process's. NULL until set. */
typedef struct ah__explore_env_hooks {
    void (*attach)(ah_sim *sim);
    void (*release)(ah_sim *sim);
} ah__explore_env_hooks;
extern ah__explore_env_hooks ah__explore_env;
/* The world room (world/, docs/world.md), set only in a process that is a member of a world of
 * several processes: `attach` gets the implicit sim when it is made (the world's clock), and
 * `time_pass` is asked first whenever the sim would move its clock (ah__time_pass): a member hands
 * the baton back to the world's owner, which runs it again at an instant <= due_ns. It returns
 * nonzero when it took over, with *r what ah__time_pass returns (0: the threads scheduler moves
 * the clock, as without a world). NULL elsewhere. */
typedef struct ah__world_hooks_t {
    void (*attach)(ah_sim *sim);
    int (*time_pass)(ah_sim *sim, uint64_t due_ns, int *r);
} ah__world_hooks_t;
extern ah__world_hooks_t ah__world_hooks;
/* time_pass's due_ns when the loop waits only on real descriptors (fd/real.c): no instant, but a
 * member's stdio pipes may become ready when the owner moves their bytes. */
#define AH__WORLD_REAL_WAIT (UINT64_MAX - 1)
/* The sim a C library call the rooms stand in for acts on: the current sim, or, on the thread
 * that runs main, the implicit sim (made now if need be); NULL when the call is the C library's
 * (another thread, a cmocka suite between its tests, the process exiting). */
ah_sim *ah__sim_libc(void);
/* While a cmocka suite runs (ah_run_tests), C library calls make no implicit sim: each test has
 * its own. One made before (by main) stays, under the tests' sims. */
void ah__implicit_suite(int on);
/* The implicit sim, or NULL when none was made. */
ah_sim *ah__implicit_sim(void);
/* The sim a loop belongs to, failing clearly if the loop was never initialised. */
ah_sim *ah__loop_sim_at(const uv_loop_t *loop, const char *fn, const void *ret);
#define ah__loop_sim(loop, fn) ah__loop_sim_at((loop), (fn), __builtin_return_address(0))

/* Fails the running test (cmocka) or the capture. Never returns. */
void ah__fail(ah_sim *sim, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
void ah__failv(ah_sim *sim, const char *file, int line, const char *fmt, va_list ap)
    __attribute__((noreturn));
/* Fails a diagnostic about a call: cmocka's LINE is the call's site when ah/sites.h marked it. */
void ah__fail_call(ah_sim *sim, const ah__site *site, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* Appends the failure banner: virtual time, seed, the sim's name and its replay line. */
void ah__banner(ah_sim *sim, ah__buf *b);
/* Runs body(sim, ctx), then the teardown checks, with failures captured instead of failing the
 * test: returns the first failure's message (malloc'd) or NULL. The sim is left for the caller
 * to read and free. */
char *ah__run_captured(ah_sim *sim, ah_body_fn body, void *ctx);
/* A libuv function the harness does not simulate was called; `ret` is the stub's return address
 * (the call site when ah/sites.h did not mark it). */
void ah__not_simulated(const char *fn) __attribute__((noreturn));
void ah__not_simulated_at(const char *fn, const void *ret) __attribute__((noreturn));

/* Handle plumbing used by every handle type. */
void ah__handle_init(uv_loop_t *loop, uv_handle_t *h, uv_handle_type type, ah__site site);
/* The record of a live handle; fails naming `fn` when h is not a handle of a live sim. */
ah__hrec *ah__handle_rec_at(const uv_handle_t *h, const char *fn, const void *ret);
#define ah__handle_rec(h, fn) ah__handle_rec_at((h), (fn), __builtin_return_address(0))
/* Fails when `h` is closing or closed (for functions libuv does not guard). */
void ah__handle_require_open_at(const uv_handle_t *h, const char *fn, const void *ret);
#define ah__handle_require_open(h, fn)                                                             \
    ah__handle_require_open_at((h), (fn), __builtin_return_address(0))
/* "uv_timer_t #2 (0x7ffd..) initialised in test_x (t.c:12)" */
const char *ah__handle_str(const ah__hrec *r, char *buf, size_t n);
void ah__handle_start(uv_handle_t *h);
void ah__handle_stop(uv_handle_t *h);
static inline int ah__is_active(const uv_handle_t *h) { return (h->flags & AH__HF_ACTIVE) != 0; }
static inline int ah__is_closing(const uv_handle_t *h)
{
    return (h->flags & (AH__HF_CLOSING | AH__HF_CLOSED)) != 0;
}

/* Callback dispatch: every call into user code from the loop goes between these two. */
void ah__cb_enter(ah_sim *sim, const uv_handle_t *h, const char *what);
void ah__cb_leave(ah_sim *sim);
/* Restarts the running callback's slow-callback clock (work that ran "on a pool thread" inside
 * it does not count as blocking the loop). */
void ah__cb_restart_clock(ah_sim *sim);
#define AH__DISPATCH(sim, h, what, call)                                                           \
    do {                                                                                           \
        ah__cb_enter((sim), (const uv_handle_t *)(h), (what));                                     \
        call;                                                                                      \
        ah__cb_leave((sim));                                                                       \
    } while (0)

/* The C library's clock_gettime, for the harness's own measures of real time: the fd/ layer
 * interposes clock_gettime with the virtual clock while a sim runs. */
int ah__real_clock_gettime(clockid_t id, struct timespec *ts);

/* Moves the sim clock (never backwards); resets the runaway count when it moves. */
void ah__clock_set(ah_sim *sim, uint64_t to_ns);
/* The earliest due time in ns of any timer or event of the sim, UINT64_MAX when none. */
uint64_t ah__next_due_ns(ah_sim *sim);
/* Busy loops (harness/uv/busy.c): a poll that does not block charges its cost (never past
 * limit_ns); a clock read (uv_hrtime, uv_update_time, the libc clocks) that sees the same value
 * too many times in a row moves the clock. */
void ah__busy_iteration(uv_loop_t *loop, uint64_t limit_ns);
void ah__clock_read(ah_sim *sim);

/* Loop phases, for the timer and close code. */
void ah__timer_run(uv_loop_t *loop);
uint64_t ah__timer_next_due_ms(const uv_loop_t *loop, int *has);
void ah__loop_watchers_run(uv_loop_t *loop, ah__list *q, int type);
void ah__async_poll(uv_loop_t *loop);
int ah__async_any_pending(const uv_loop_t *loop);
/* Queues a handle whose close hook set AH__HF_CLOSE_WAITS for the closing phase: a type whose
 * close waits for its own work (uv_fs_poll's stat in flight, as libuv's uv__fs_poll_close). */
void ah__close_pending(uv_handle_t *h);
void ah__close_run(uv_loop_t *loop);

/* Type-specific close and walk hooks that mocks/ fills in for streams (tcp, pipe). */
typedef void (*ah__close_fn)(uv_handle_t *h);
extern ah__close_fn ah__close_hooks[UV_HANDLE_TYPE_MAX];
extern ah__close_fn ah__finish_close_hooks[UV_HANDLE_TYPE_MAX];

/* Called at the end of every poll phase, after the batch of events (proc/ registers it): libuv
 * 1.44 dispatches the signals read from its signal pipe after every other I/O of the poll. */
extern void (*ah__poll_end_hook)(uv_loop_t *loop);
/* Real descriptors under uv_poll (fd/real.c sets it when it watches one): asks the kernel for
 * their readiness, without waiting (`wait` 0: at every poll phase of `loop`) or, when nothing
 * simulated is left (`wait` 1, `loop` NULL for every loop), for up to the sim's real_fd_wait_ms
 * of real time, failing the test when none became ready. Returns 1 when one became ready (its
 * watchers are then due at the current virtual instant). */
extern int (*ah__real_io_hook)(ah_sim *sim, uv_loop_t *loop, int wait);

/* Runs the sim like ah_run_until; `verb` names the caller in diagnostics. */
void ah__run_until_pred(ah_sim *sim, const char *verb, ah_pred_fn pred, void *ctx);

/* Appends every open handle, request in flight and extension's pending item to `b`. */
void ah__report_pending(ah_sim *sim, ah__buf *b);

const char *ah__handle_type_name(uv_handle_type t);
/* Virtual ms simulated by sims the explorer and sweeps ran (for the runner's summary line). */
extern uint64_t ah__virtual_ms_inner;
/* argv[0] of the test program, for replay commands (sim.c; set by the cmocka glue). */
const char *ah__program_name(void);
void ah__program_name_set(const char *name);

/* ---- the C library functions the rooms stand in for (harness/libc.c, docs/packaging.md) ----
 *
 * AH__LIBC(name, len, what), placed right before a room's definition of the C library function
 * `name`, makes that definition weak (a program that defines `name` itself wins, with no link
 * error), gives it a second name, ah__libc_<name>, and records it in the section ah_libc. `len`
 * is strlen("real_<name>"), part of the mangled name of a static sanitizer runtime's pointer to
 * the C library's function (checked at compile time): where that runtime's interceptor won the
 * link, harness/libc.c points it at the room's function before main. Under the project's TSan
 * build the definitions stay strong (the threads room must beat TSan's interceptors, and reaches
 * the C library through them: decision 69). */
enum {
    AH__LIBC_FD,
    AH__LIBC_CLOCK,
    AH__LIBC_SLEEP,
    AH__LIBC_THREAD,
    AH__LIBC_SIGNAL,
    AH__LIBC_DNS,
    AH__LIBC_FS
};
typedef struct ah__libc_fn {
    const char *name;
    void *own;        /* the room's definition */
    void *bound;      /* what `name` resolved to at link time: own, a double, an interceptor */
    void *san_entry;  /* a static sanitizer runtime's interceptor of `name`, or NULL */
    void *san_entry3; /* the same, as LLVM 17 and later name it */
    void **san_real;  /* the pointer through which that interceptor calls the C library */
    /* Set when that pointer was redirected: the interceptor's code, so that a call that did not
     * come through it (the sanitizer's own clock reads) can be told apart (ah__libc_from_san). */
    const char *san_lo, *san_hi;
    int what; /* AH__LIBC_FD, ... */
} ah__libc_fn;

#define AH__PRAGMA(x) _Pragma(#x)
#ifdef AH_TSAN_RUNTIME
#define AH__LIBC_WEAK(name)
#else
#define AH__LIBC_WEAK(name) AH__PRAGMA(weak name)
#endif
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9
/* The glibc headers declare the socket calls with transparent unions (__SOCKADDR_ARG) where the
 * rooms define them with struct sockaddr *: the same function, which gcc calls incompatible. */
#define AH__LIBC_OWN(name)                                                                         \
    _Pragma("GCC diagnostic push") _Pragma(                                                        \
        "GCC diagnostic ignored \"-Wattribute-alias\"") extern __typeof__(name) ah__libc_##name    \
        __attribute__((alias(#name), copy(name)));                                                 \
    _Pragma("GCC diagnostic pop")
#else
#define AH__LIBC_OWN(name) extern __typeof__(name) ah__libc_##name __attribute__((alias(#name)));
#endif
#define AH__LIBC(name, len, what)                                                                  \
    AH__LIBC_WEAK(name)                                                                            \
    AH__LIBC_OWN(name)                                                                             \
    extern char ah__san_entry_##name[] __asm__("__interceptor_" #name) __attribute__((weak));      \
    extern char ah__san_entry3_##name[] __asm__("___interceptor_" #name) __attribute__((weak));    \
    extern void *ah__san_real_##name __asm__("_ZN14__interception" #len "real_" #name "E")         \
        __attribute__((weak));                                                                     \
    _Static_assert(sizeof("real_" #name) - 1 == len,                                               \
                   "AH__LIBC: len is strlen(\"real_" #name "\")");                                 \
    static ah__libc_fn ah__libc_rec_##name = {#name,                                               \
                                              (void *)ah__libc_##name,                             \
                                              (void *)name,                                        \
                                              ah__san_entry_##name,                                \
                                              ah__san_entry3_##name,                               \
                                              &ah__san_real_##name,                                \
                                              NULL,                                                \
                                              NULL,                                                \
                                              what};                                               \
    /* pointers, not the records: a compiler may align a larger object beyond its size */          \
    static ah__libc_fn *const ah__libc_ptr_##name __attribute__((used, section("ah_libc"))) =      \
        &ah__libc_rec_##name

/* 1 when the program defines the C library function `name` itself (its double won the link),
 * so that a uv_* function calls it as libuv would (uv_getaddrinfo calls the program's
 * getaddrinfo); 0 when the harness's stand-in (or none) answers. */
int ah__libc_double(const char *name);
/* 1 when a sanitizer runtime called `f`'s function for itself (not for the program through its
 * interceptor): clang's ASan reads clock_gettime through the pointer harness/libc.c redirected,
 * and its allocator's reads must not be virtual time (they would change the schedule). */
static inline int ah__libc_from_san(const ah__libc_fn *f, const void *ret)
{
    return f->san_hi != NULL && ((const char *)ret < f->san_lo || (const char *)ret >= f->san_hi);
}
/* Reached from each room's anchor (fd/interpose.c, ...), so that harness/libc.c is linked. */
extern const char ah__libc_room;

#endif
