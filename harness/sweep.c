/* Sweeps: run a scenario once to count its steps (dispatched callbacks), then once per step k,
 * injecting a cancellation or a fault right after the k-th callback; every run must pass its
 * teardown checks (so every ah_expect_once callback fired exactly once). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <cmocka.h>

typedef struct sweep_ctx {
    ah_fault fault;
    void *ctx;
    uint64_t step; /* inject after this callback; 0 = never */
    int injected;
    char where[480]; /* the callback it was injected after */
} sweep_ctx;

static void after_cb(ah_sim *sim, void *p)
{
    sweep_ctx *sc = p;
    char h[320];

    if (sc->injected || sc->step == 0 || sim->in_callback > 0 || sim->callbacks < sc->step)
        return;
    sc->injected = 1;
    if (sim->current_hrec != NULL)
        snprintf(sc->where, sizeof(sc->where), "%s of %s at +%llu ms", sim->current_what,
                 ah__handle_str(sim->current_hrec, h, sizeof(h)),
                 (unsigned long long)ah_now_ms(sim));
    else
        snprintf(sc->where, sizeof(sc->where), "a %s at +%llu ms",
                 sim->current_what ? sim->current_what : "callback",
                 (unsigned long long)ah_now_ms(sim));
    sim->fault_note[0] = '\0';
    sc->fault.inject(sim, sc->ctx, sc->fault.arg);
    if (sim->fault_note[0] != '\0') {
        size_t n = strlen(sc->where);
        snprintf(sc->where + n, sizeof(sc->where) - n, "; %s", sim->fault_note);
    }
}

/* One run; returns the failure message (malloc'd) or NULL; *steps gets the callbacks run. */
static char *sweep_one(const ah_sim_opts *so, ah_body_fn body, sweep_ctx *sc, const char *hint,
                       uint64_t *steps)
{
    ah_sim *sim = ah_sim_new(so);
    char *msg;

    if (hint != NULL)
        snprintf(sim->replay_hint, sizeof(sim->replay_hint), "replay: %.300s", hint);
    ah__after_callback_add(sim, after_cb, sc);
    msg = ah__run_captured(sim, body, sc->ctx);
    *steps = sim->callbacks;
    ah__virtual_ms_inner += ah_now_ms(sim);
    ah_sim_free(sim);
    return msg;
}

static int sweep_run(const ah_sweep_opts *opts, ah_body_fn body, ah_fault fault, void *ctx,
                     ah_sweep_result *res)
{
    ah_sweep_opts o;
    ah_sim_opts so;
    sweep_ctx sc;
    char name[128], hint[400];
    uint64_t k, steps = 0, n, stride = 1;
    char *msg;
    const char *v;

    memset(res, 0, sizeof(*res));
    memset(&o, 0, sizeof(o));
    if (opts != NULL)
        o = *opts;
    snprintf(name, sizeof(name), "%s",
             o.name             ? o.name
             : ah_sim_current() ? ah_sim_current()->name
                                : "sweep");
    if (!o.ignore_env && (v = getenv("AH_SWEEP_STEP")) != NULL && *v != '\0')
        o.only_step = strtoull(v, NULL, 10);
    so = o.sim;
    so.name = name;

    memset(&sc, 0, sizeof(sc));
    sc.fault = fault;
    sc.ctx = ctx;
    msg = sweep_one(&so, body, &sc, NULL, &steps);
    if (msg != NULL) {
        ah__buf b = {0};
        ah__buf_printf(&b, "asyncharness: sweep FAILED: test %s fails without any %s injected:\n%s",
                       name, fault.name, msg);
        ah__free(msg);
        res->failed = 1;
        res->message = ah__buf_take(&b);
        return 1;
    }
    res->steps = steps;
    if (ah__under_valgrind() && steps > 40)
        stride = (steps + 39) / 40; /* at most ~40 runs under Valgrind */
    for (k = 1; k <= steps; k += stride) {
        if (o.only_step != 0 && k != o.only_step)
            continue;
        memset(&sc, 0, sizeof(sc));
        sc.fault = fault;
        sc.ctx = ctx;
        sc.step = k;
        snprintf(hint, sizeof(hint), "AH_SWEEP_STEP=%llu %.200s --test %.100s",
                 (unsigned long long)k, ah__program_name(), name);
        msg = sweep_one(&so, body, &sc, hint, &n);
        res->runs++;
        if (msg != NULL) {
            ah__buf b = {0};
            ah__buf_printf(&b,
                           "asyncharness: sweep FAILED: test %s, %s injected after step %llu of "
                           "%llu (after %s); replay: %s\n%s",
                           name, fault.name, (unsigned long long)k, (unsigned long long)steps,
                           sc.injected ? sc.where : "(never reached)", hint, msg);
            ah__free(msg);
            res->failed = 1;
            res->failed_step = k;
            res->message = ah__buf_take(&b);
            return 1;
        }
    }
    {
        ah__buf b = {0};
        ah__buf_printf(&b,
                       "asyncharness: sweep passed: test %s, %s injected after each of %llu "
                       "step(s) (callbacks of the run without it): %llu run(s)",
                       name, fault.name, (unsigned long long)steps, (unsigned long long)res->runs);
        if (stride > 1)
            ah__buf_printf(&b, ", every %llu-th step (Valgrind)", (unsigned long long)stride);
        if (o.only_step != 0)
            ah__buf_printf(&b, ", only step %llu (AH_SWEEP_STEP)", (unsigned long long)o.only_step);
        snprintf(res->summary, sizeof(res->summary), "%s", b.s);
        ah__buf_free(&b);
    }
    return 0;
}

int ah_sweep_run(const ah_sweep_opts *opts, ah_body_fn body, ah_fault fault, void *ctx,
                 ah_sweep_result *res_out)
{
    ah_sweep_result local;
    int failed;

    ah__crash_arm(); /* a crash at a step is that step's failure */
    if (res_out != NULL)
        return sweep_run(opts, body, fault, ctx, res_out);
    failed = sweep_run(opts, body, fault, ctx, &local);
    ah_sweep_result_free(&local);
    return failed;
}

void ah_sweep_result_free(ah_sweep_result *res)
{
    if (res == NULL)
        return;
    ah__free(res->message);
    res->message = NULL;
}

void ah__sweep_at(const char *file, int line, const ah_sweep_opts *opts, ah_body_fn body,
                  ah_fault fault, void *ctx)
{
    ah_sweep_result res;

    if (ah_sweep_run(opts, body, fault, ctx, &res)) {
        print_error("%s\n", res.message);
        ah_sweep_result_free(&res);
        _fail(file, line);
    }
    if (res.summary[0] != '\0')
        fprintf(stderr, "%s\n", res.summary);
    ah_sweep_result_free(&res);
}

void ah__sweep_cancel_at(const char *file, int line, const ah_sweep_opts *opts, ah_body_fn body,
                         ah_inject_fn cancel, void *ctx)
{
    ah__sweep_at(file, line, opts, body, (ah_fault){"cancel", cancel, 0}, ctx);
}
