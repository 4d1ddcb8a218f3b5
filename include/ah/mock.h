/* Async mocks: scripted outcomes on the virtual schedule (docs/futures-and-mocks.md).
 *
 * The test writes the mocked function itself (cmocka's --wrap, or a function pointer the code
 * under test calls) and, inside it, takes the next scripted outcome with one call. Outcomes are
 * queued per function name, like cmocka's will_return, in the test body:
 *
 *     static void db_query(const char *sql, db_cb cb, void *data)     // the mock
 *     {
 *         check_expected(sql);                                         // cmocka's own checks
 *         ah_mock_async_cb(db_done, cb_box(cb, data));                 // or: return
 * ah_mock_async()
 *     }
 *     ...
 *     expect_string(db_query, sql, "SELECT 1");
 *     ah_will_resolve(db_query, 42, 250);    // the 1st call completes with 42 after 250 ms
 *     ah_will_reject(db_query, UV_ETIMEDOUT, 30000);
 *     ah_will_hang(db_query);                // never completes
 *
 * Calls and completions are counted separately. A call with no outcome left fails the test at
 * once, naming the function; an outcome never used fails it at teardown, naming the function and
 * the line that scripted it. A completion is delivered from the default loop's poll phase (as
 * I/O is), at its virtual time, and keeps the loop alive while it is due, as a request does.
 */
#ifndef AH_MOCK_H
#define AH_MOCK_H

#include <stdint.h>

#include <ah/future.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_outcome ah_outcome;

/* Count for the _count variants: this outcome serves every further call (like cmocka's -1) and
 * need not be used at all. */
#define AH_ALWAYS (-1)

/* The next call(s) of `function` succeed with `value` after `delay_ms` of virtual time. */
#define ah_will_resolve(function, value, delay_ms)                                                 \
    ah__will(#function, AH_FUTURE_FULFILLED, (intptr_t)(value), (delay_ms), 1, __FILE__, __LINE__)
#define ah_will_resolve_count(function, value, delay_ms, count)                                    \
    ah__will(#function, AH_FUTURE_FULFILLED, (intptr_t)(value), (delay_ms), (count), __FILE__,     \
             __LINE__)
/* ... fail with libuv error `err` (< 0) after `delay_ms`. */
#define ah_will_reject(function, err, delay_ms)                                                    \
    ah__will(#function, AH_FUTURE_REJECTED, (intptr_t)(err), (delay_ms), 1, __FILE__, __LINE__)
#define ah_will_reject_count(function, err, delay_ms, count)                                       \
    ah__will(#function, AH_FUTURE_REJECTED, (intptr_t)(err), (delay_ms), (count), __FILE__,        \
             __LINE__)
/* ... never complete (a hung dependency): the caller's own timeout must act. */
#define ah_will_hang(function) ah__will(#function, AH_FUTURE_PENDING, 0, 0, 1, __FILE__, __LINE__)
/* ... complete when the test says so: returns the outcome to settle with ah_outcome_resolve /
 * ah_outcome_reject (from the test body, at the current virtual instant). */
#define ah_will_manual(function) ah__will_manual(#function, __FILE__, __LINE__)

ah_outcome *ah__will(const char *function, ah_future_state kind, intptr_t value, uint64_t delay_ms,
                     int count, const char *file, int line);
ah_outcome *ah__will_manual(const char *function, const char *file, int line);
/* Settles a manual outcome's pending call (UV_EINVAL if the outcome is not manual, UV_EALREADY
 * if settled, UV_ENOENT if no call has taken it yet). */
int ah_outcome_resolve(ah_outcome *o, intptr_t value);
int ah_outcome_reject(ah_outcome *o, int err);

/* Inside the mocked function: takes the next outcome of the calling function (__func__; a
 * leading "__wrap_" is ignored, so ah_will_*(f) scripts the mock __wrap_f of cmocka's --wrap) and
 * returns a future that settles on its schedule. The future is consumed by whoever awaits or
 * chains it; the harness does not count it as never awaited if the caller detaches it. */
#define ah_mock_async() ah__mock_async(__func__, __FILE__, __LINE__)
ah_future *ah__mock_async(const char *function, const char *file, int line);

/* Inside the mocked function: takes the next outcome and calls cb(status, value, data) from the
 * loop when it is due (status 0 and the value, or the error and 0). A hung outcome never calls.
 * Each call is exactly once, never inside the mocked function. */
typedef void (*ah_mock_cb)(int status, intptr_t value, void *data);
#define ah_mock_async_cb(cb, data) ah__mock_async_cb(__func__, (cb), (data), __FILE__, __LINE__)
void ah__mock_async_cb(const char *function, ah_mock_cb cb, void *data, const char *file, int line);

/* How often `function` was called, and how many of its calls have completed (settled and
 * delivered), in the current sim. */
#define ah_mock_calls(function) ah__mock_calls(#function)
#define ah_mock_completions(function) ah__mock_completions(#function)
unsigned ah__mock_calls(const char *function);
unsigned ah__mock_completions(const char *function);

#ifdef __cplusplus
}
#endif

#endif
