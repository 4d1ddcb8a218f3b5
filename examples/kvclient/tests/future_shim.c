/* A stand-in for the part of include/ah/future.h the kvclient suite uses, built only while the
 * harness has no futures of its own (CMakeLists.txt checks). No continuations, no combinators,
 * no never-awaited check: just enough to settle, await and inspect. */
#include "internal.h"

#include <cmocka.h>

struct ah_future {
    ah_future *next;
    ah_sim *sim;
    ah_future_state state;
    intptr_t value;
    int err;
    void (*free_fn)(void *);
    const char *file;
    int line;
};

static const char shim_key;

static void shim_destroy(ah_sim *sim, void *state)
{
    ah_future **head = state, *f, *next;

    (void)sim;
    for (f = *head; f != NULL; f = next) {
        next = f->next;
        if (f->free_fn != NULL)
            f->free_fn((void *)f->value);
        ah__free(f);
    }
    ah__free(head);
}

ah_future *ah__future_new(ah_sim *sim, const char *file, int line)
{
    ah_future **head = ah__ext_get(sim, &shim_key), *f;

    if (head == NULL) {
        head = ah__calloc(1, sizeof(*head));
        ah__ext_add(sim, &(ah__ext){.key = &shim_key, .state = head, .destroy = shim_destroy});
    }
    f = ah__calloc(1, sizeof(*f));
    f->sim = sim;
    f->file = file;
    f->line = line;
    f->next = *head;
    *head = f;
    return f;
}

int ah_future_fulfil(ah_future *f, intptr_t value)
{
    if (f->state != AH_FUTURE_PENDING)
        return UV_EALREADY;
    f->state = AH_FUTURE_FULFILLED;
    f->value = value;
    return 0;
}

int ah_future_fulfil_owned(ah_future *f, void *value, void (*free_fn)(void *))
{
    if (f->state != AH_FUTURE_PENDING) {
        free_fn(value);
        return UV_EALREADY;
    }
    f->free_fn = free_fn;
    return ah_future_fulfil(f, (intptr_t)value);
}

int ah_future_reject(ah_future *f, int err)
{
    if (err >= 0)
        return UV_EINVAL;
    if (f->state != AH_FUTURE_PENDING)
        return UV_EALREADY;
    f->state = AH_FUTURE_REJECTED;
    f->err = err;
    return 0;
}

ah_future_state ah_future_state_of(const ah_future *f) { return f->state; }

int ah_future_error(const ah_future *f)
{
    return f->state == AH_FUTURE_REJECTED ? f->err
           : f->state == AH_FUTURE_CANCELLED ? UV_ECANCELED : 0;
}

static int settled(void *ctx) { return ((ah_future *)ctx)->state != AH_FUTURE_PENDING; }

ah_future_state ah__await(ah_sim *sim, ah_future *f, const char *file, int line)
{
    (void)file;
    (void)line;
    if (f->state == AH_FUTURE_PENDING)
        ah_run_until(sim, settled, f);
    return f->state;
}

intptr_t ah__await_value(ah_sim *sim, ah_future *f, const char *file, int line)
{
    if (ah__await(sim, f, file, line) != AH_FUTURE_FULFILLED)
        ah__fail_at(sim, file, line, "ah_await_value: the future (created at %s:%d) failed with %s",
                    f->file, f->line, uv_err_name(ah_future_error(f)));
    return f->value;
}

int ah__await_error(ah_sim *sim, ah_future *f, const char *file, int line)
{
    if (ah__await(sim, f, file, line) == AH_FUTURE_FULFILLED)
        ah__fail_at(sim, file, line, "ah_await_error: the future (created at %s:%d) was fulfilled",
                    f->file, f->line);
    return ah_future_error(f);
}

void ah__assert_pending(const ah_future *f, const char *file, int line)
{
    if (f->state != AH_FUTURE_PENDING)
        ah__fail_at(f->sim, file, line, "ah_assert_pending: the future (created at %s:%d) is settled",
                    f->file, f->line);
}

void ah__assert_settled(const ah_future *f, const char *file, int line)
{
    if (f->state == AH_FUTURE_PENDING)
        ah__fail_at(f->sim, file, line, "ah_assert_settled: the future (created at %s:%d) is pending",
                    f->file, f->line);
}

ah_sim *ah_future_sim(const ah_future *f) { return f->sim; }

intptr_t ah_future_value(const ah_future *f)
{
    if (f->state != AH_FUTURE_FULFILLED)
        ah__fail(f->sim, "ah_future_value: the future (created at %s:%d) is not fulfilled", f->file,
                 f->line);
    return f->value;
}
