/* Awaiting a future from the test body: auto-advance until it settles, or a deadlock report. */
#include "future_internal.h"

#include <stdio.h>
#include <string.h>

static int is_settled(void *ctx) { return ((ah_future *)ctx)->state != AH_FUTURE_PENDING; }

ah_future_state ah__await(ah_sim *sim, ah_future *f, const char *file, int line)
{
    char what[256], s[64];

    if (f == NULL)
        ah__fail_at(sim, file, line, "ah_await (%s:%d): the future is NULL", ah__base_name(file),
                    line);
    ah__future_require_at(f, "ah_await", file, line, NULL);
    if (sim == NULL)
        sim = f->sim;
    if (f->sim != sim)
        ah__fail_at(sim, file, line,
                    "ah_await (%s:%d): the future created at %s belongs to another "
                    "sim",
                    ah__base_name(file), line, ah__future_site(f, s, sizeof(s)));
    if (sim->in_callback > 0)
        ah__fail_at(sim, file, line,
                    "ah_await (%s:%d) called from inside a loop callback (%s); it drives the loop "
                    "and may only be called from the test body (chain the future with "
                    "ah_future_then instead)",
                    ah__base_name(file), line, sim->current_what ? sim->current_what : "?");
    f->consumed |= AH__FUT_AWAITED;
    snprintf(what, sizeof(what), "ah_await (%s:%d) waits for the %s created at %s",
             ah__base_name(file), line, strcmp(f->kind, "future") == 0 ? "future" : f->kind,
             ah__future_site(f, s, sizeof(s)));
    ah__futures_await_mark(sim, f, file, line);
    ah__futures_ref_timeouts(sim, 1);
    ah__run_until_pred(sim, what, is_settled, f);
    ah__futures_ref_timeouts(sim, 0);
    ah__futures_await_mark(sim, NULL, NULL, 0);
    return f->state;
}

intptr_t ah__await_value(ah_sim *sim, ah_future *f, const char *file, int line)
{
    char s[64], st[96];

    if (ah__await(sim, f, file, line) != AH_FUTURE_FULFILLED)
        ah__fail_at(f->sim, file, line,
                    "ah_await_value (%s:%d): the future created at %s was %s, not fulfilled",
                    ah__base_name(file), line, ah__future_site(f, s, sizeof(s)),
                    ah__future_state_str(f, st, sizeof(st)));
    return f->value;
}

int ah__await_error(ah_sim *sim, ah_future *f, const char *file, int line)
{
    char s[64], st[96];

    if (ah__await(sim, f, file, line) == AH_FUTURE_FULFILLED)
        ah__fail_at(f->sim, file, line,
                    "ah_await_error (%s:%d): the future created at %s was %s, expected an error",
                    ah__base_name(file), line, ah__future_site(f, s, sizeof(s)),
                    ah__future_state_str(f, st, sizeof(st)));
    return f->err;
}

void ah__assert_pending(const ah_future *f, const char *file, int line)
{
    char s[64], st[96];

    ah__future_require_at(f, "ah_assert_pending", file, line, NULL);
    if (f->state != AH_FUTURE_PENDING)
        ah__fail_at(f->sim, file, line,
                    "ah_assert_pending (%s:%d): the future created at %s is %s, expected pending",
                    ah__base_name(file), line, ah__future_site(f, s, sizeof(s)),
                    ah__future_state_str(f, st, sizeof(st)));
}

void ah__assert_settled(const ah_future *f, const char *file, int line)
{
    char s[64];

    ah__future_require_at(f, "ah_assert_settled", file, line, NULL);
    if (f->state == AH_FUTURE_PENDING)
        ah__fail_at(f->sim, file, line,
                    "ah_assert_settled (%s:%d): the future created at %s is still pending at "
                    "+%llu ms",
                    ah__base_name(file), line, ah__future_site(f, s, sizeof(s)),
                    (unsigned long long)ah_now_ms(f->sim));
}
