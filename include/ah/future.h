/* Futures of a sim, awaiting them from the test, and adapters from libuv callbacks
 * (docs/futures-and-mocks.md).
 *
 * A future is pending, then settled exactly once: fulfilled with a value, rejected with a libuv
 * error code (< 0), or cancelled. Futures belong to their sim and are freed with it; a test never
 * frees one. Continuations (ah_future_then, combinators) never run inside the call that settles:
 * they are queued and run at the same virtual instant, after the current callback returns.
 *
 * Every future must be consumed: awaited (ah_await*), chained (ah_future_then, a combinator) or
 * explicitly detached. One that is not is reported at teardown with the file and line that
 * created it, the C counterpart of Python's "coroutine was never awaited".
 */
#ifndef AH_FUTURE_H
#define AH_FUTURE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;
typedef struct ah_future ah_future;

typedef enum ah_future_state {
    AH_FUTURE_PENDING = 0,
    AH_FUTURE_FULFILLED,
    AH_FUTURE_REJECTED,
    AH_FUTURE_CANCELLED
} ah_future_state;

/* A new pending future owned by `sim`, recording the file and line of the call. */
#define ah_future_new(sim) ah__future_new((sim), __FILE__, __LINE__)
ah_future *ah__future_new(ah_sim *sim, const char *file, int line);

/* Settle `f`. Each returns 0, or UV_EALREADY (and changes nothing) when `f` is already settled;
 * settling a cancelled future is not an error for the producer, it is simply ignored with
 * UV_EALREADY. ah_future_reject requires err < 0 (UV_EINVAL otherwise). */
int ah_future_fulfil(ah_future *f, intptr_t value);
/* Fulfils with a pointer the sim owns from now on: free_fn(value) runs when the sim is freed
 * (or at once if `f` was already settled). For copies of data valid only inside a callback. */
int ah_future_fulfil_owned(ah_future *f, void *value, void (*free_fn)(void *));
int ah_future_reject(ah_future *f, int err);
/* Cancels a pending future: it settles as cancelled (error UV_ECANCELED), its on_cancel hooks run
 * (as continuations), and cancellation propagates to the futures a combinator was waiting on.
 * Returns 0, or UV_EALREADY when already settled. */
int ah_future_cancel(ah_future *f);

/* Who produces a future's outcome can learn that it was cancelled (a mock stops its delivery, an
 * adapter calls the client's own cancel). Runs once, as a continuation. */
typedef void (*ah_future_cb)(ah_future *f, void *ctx);
void ah_future_on_cancel(ah_future *f, ah_future_cb fn, void *ctx);

ah_future_state ah_future_state_of(const ah_future *f);
/* The value of a fulfilled future (fails the test otherwise). */
intptr_t ah_future_value(const ah_future *f);
#define ah_future_ptr(f) ((void *)ah_future_value(f))
/* The error of a rejected future, UV_ECANCELED for a cancelled one, 0 otherwise. */
int ah_future_error(const ah_future *f);
/* The sim `f` belongs to. */
ah_sim *ah_future_sim(const ah_future *f);

/* Runs cb(f, ctx) once `f` settles (at once, as a continuation, if it already has). Counts as
 * consuming `f`. */
void ah_future_then(ah_future *f, ah_future_cb cb, void *ctx);
/* Marks `f` as deliberately not awaited: the teardown check leaves it alone. */
void ah_future_detach(ah_future *f);

/* Combinators: each returns a new future of the same sim and consumes its inputs. Cancelling
 * the result cancels every input still pending.
 * ah_all: fulfilled (value n) when every input is; rejected with the first rejection (the
 *   others are cancelled); cancelled if an input is cancelled.
 * ah_all_settled: fulfilled (value n) when every input has settled, whatever the outcomes.
 * ah_any: fulfilled with the value of the first input fulfilled (the others are cancelled);
 *   rejected with the last error when every input failed.
 * ah_race: settles as the first input to settle does (the others are cancelled).
 * ah_with_timeout: settles as `f` if it settles within `ms` of virtual time; else rejected with
 *   UV_ETIMEDOUT at exactly now + ms and `f` is cancelled. The deadline keeps no loop alive
 *   except while ah_await waits (docs/decisions.md).
 * With n == 0, ah_all and ah_all_settled fulfil with 0; ah_any and ah_race reject with
 * UV_EINVAL. */
#define ah_all(sim, fs, n) ah__all((sim), (fs), (n), __FILE__, __LINE__)
#define ah_all_settled(sim, fs, n) ah__all_settled((sim), (fs), (n), __FILE__, __LINE__)
#define ah_any(sim, fs, n) ah__any((sim), (fs), (n), __FILE__, __LINE__)
#define ah_race(sim, fs, n) ah__race((sim), (fs), (n), __FILE__, __LINE__)
#define ah_with_timeout(sim, f, ms) ah__with_timeout((sim), (f), (ms), __FILE__, __LINE__)
ah_future *ah__all(ah_sim *sim, ah_future *const *fs, size_t n, const char *file, int line);
ah_future *ah__all_settled(ah_sim *sim, ah_future *const *fs, size_t n, const char *file, int line);
ah_future *ah__any(ah_sim *sim, ah_future *const *fs, size_t n, const char *file, int line);
ah_future *ah__race(ah_sim *sim, ah_future *const *fs, size_t n, const char *file, int line);
ah_future *ah__with_timeout(ah_sim *sim, ah_future *f, uint64_t ms, const char *file, int line);
/* The index in `fs` of the input that decided an ah_any or ah_race result (-1 otherwise). */
int ah_future_winner(const ah_future *f);

/* ---- awaiting, from the test body (never from a loop callback) ---- */

/* Runs the sim with auto-advance until `f` settles and returns its state. When nothing left in
 * the sim can settle it, fails the test at once with a deadlock report: every open handle,
 * request in flight and pending future, with its start site and due time. */
#define ah_await(sim, f) ah__await((sim), (f), __FILE__, __LINE__)
/* Awaits `f` and returns its value; fails the test (showing the outcome) unless fulfilled. */
#define ah_await_value(sim, f) ah__await_value((sim), (f), __FILE__, __LINE__)
/* Awaits `f` and returns its error (UV_ECANCELED when cancelled); fails if it was fulfilled. */
#define ah_await_error(sim, f) ah__await_error((sim), (f), __FILE__, __LINE__)
ah_future_state ah__await(ah_sim *sim, ah_future *f, const char *file, int line);
intptr_t ah__await_value(ah_sim *sim, ah_future *f, const char *file, int line);
int ah__await_error(ah_sim *sim, ah_future *f, const char *file, int line);

/* Fail the test unless `f` is still pending / already settled. Neither runs the sim. */
#define ah_assert_pending(f) ah__assert_pending((f), __FILE__, __LINE__)
#define ah_assert_settled(f) ah__assert_settled((f), __FILE__, __LINE__)
void ah__assert_pending(const ah_future *f, const char *file, int line);
void ah__assert_settled(const ah_future *f, const char *file, int line);

/* ---- adapters: libuv callback shapes that settle the future in req->data / data ---- */

/* `void cb(T *req, int status)` with the future in req->data: status < 0 rejects, else fulfils
 * with status. One per request type, so no cast is needed. */
void ah_connect_cb(uv_connect_t *req, int status);
void ah_write_cb(uv_write_t *req, int status);
void ah_shutdown_cb(uv_shutdown_t *req, int status);
void ah_after_work_cb(uv_work_t *req, int status);
/* `void cb(T *obj, int status, V value, void *data)` with the future as `data`: status < 0
 * rejects, else fulfils with (intptr_t)value. Cast it to the client's callback type when its
 * shape is exactly that with pointer arguments; for an integer value gcc's -Wcast-function-type
 * refuses the cast: use AH_FUTURE_ADAPTER below. */
void ah_resolve_status_cb(void *obj, int status, const void *value, void *data);
/* Defines `static void name(obj_type obj, int status, value_type value, void *data)`, an adapter
 * of exactly the client's callback type that settles the future passed as `data` (status < 0
 * rejects, else fulfils with (intptr_t)value). Use it where casting ah_resolve_status_cb would be
 * refused by -Wcast-function-type (an integer value) or is not exactly the shape:
 *     AH_FUTURE_ADAPTER(lookup_settles, lookup *, intptr_t)
 *     lookup_start(loop, &l, 2000, lookup_settles, f);                                       */
#define AH_FUTURE_ADAPTER(name, obj_type, value_type)                                              \
    static void name(obj_type obj, int status, value_type value, void *data)                       \
    {                                                                                              \
        (void)obj;                                                                                 \
        ah__adapter_settle(data, status, (intptr_t)value, #name);                                  \
    }
void ah__adapter_settle(void *data, int status, intptr_t value, const char *adapter);
/* Settles `f` from a status and a value, as the adapters do: status < 0 rejects, else fulfils. */
int ah_future_settle(ah_future *f, int status, intptr_t value);

#ifdef __cplusplus
}
#endif

#endif
