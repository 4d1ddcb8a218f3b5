/* Internals of futures (harness/future.c, harness/await.c), shared with mocks/mock.c. */
#ifndef AH_HARNESS_FUTURE_INTERNAL_H
#define AH_HARNESS_FUTURE_INTERNAL_H

#include "internal.h"

/* How a future was consumed; a future with none is reported at teardown. */
enum {
    AH__FUT_UNCONSUMED = 0,
    AH__FUT_AWAITED = 0x1,
    AH__FUT_CHAINED = 0x2,
    AH__FUT_DETACHED = 0x4,
    AH__FUT_COMBINED = 0x8, /* an input of a combinator */
};

struct ah__comb;

struct ah_future {
    ah__list link;  /* futs->all, creation order */
    uintptr_t live; /* ah__future_tag(f) while its sim lives: a freed one is told apart */
    ah_sim *sim;
    ah_future_state state;
    intptr_t value;
    int err;
    const char *file;
    int line;
    const char *kind; /* "future", "ah_all", ... */
    uint64_t id;      /* creation order, 1-based */
    uint64_t created_ns, settled_ns;
    unsigned consumed;
    ah__list waiters; /* ah__cont not yet posted */
    void *owned;
    void (*owned_free)(void *);
    int winner;
    struct ah__comb *comb; /* when this future is a combinator's result */
    /* What produces it, for reports (a mock sets "mock db_query, scripted at t.c:40"). */
    char note[160];
    uint64_t due_ns;      /* when it is expected to settle, 0 unknown, UINT64_MAX never */
    int producer_reports; /* its producer (a mock) reports it pending at teardown itself */
};

typedef struct ah__futures ah__futures;

/* Fails when `f` is not a live future ("never initialised in this sim, closed, or freed"),
 * naming `fn` and its site: file:line when the entry point is a macro that has them, else `ret`,
 * the entry point's return address. */
void ah__future_require_at(const ah_future *f, const char *fn, const char *file, int line,
                           const void *ret);
#define ah__future_require(f, fn)                                                                  \
    ah__future_require_at((f), (fn), NULL, 0, __builtin_return_address(0))

/* The per-sim futures state, created on first use. */
ah__futures *ah__futures_get(ah_sim *sim);
/* Sets what a future is waiting for, shown in deadlock and teardown reports. */
void ah__future_note(ah_future *f, uint64_t due_ns, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "test_x.c:12" */
const char *ah__future_site(const ah_future *f, char *buf, size_t n);
/* "pending", "fulfilled with 42 at +10 ms", "rejected with UV_ETIMEDOUT at +5000 ms" */
const char *ah__future_state_str(const ah_future *f, char *buf, size_t n);

/* await.c: during ah_await, timeouts keep the default loop alive (decisions.md). */
void ah__futures_ref_timeouts(ah_sim *sim, int ref);
/* Records the future ah_await waits for (NULL when it returns), for the deadlock report. */
void ah__futures_await_mark(ah_sim *sim, ah_future *f, const char *file, int line);

#endif
