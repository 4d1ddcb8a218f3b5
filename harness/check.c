/* Teardown checks: what a finished test left behind; running a body with its failure captured
 * (ah_capture_failure, ah_assert_fails_with, ah_assert_passes). */
#include "internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

char *ah_sim_check(ah_sim *sim)
{
    ah__buf b = {0};
    ah__list *q;
    char h[320], s[160];
    int i, problems = 0;

    ah__tasks_drain(sim);
    for (q = sim->handles.next; q != &sim->handles; q = q->next) {
        ah__hrec *r = ah__container_of(q, ah__hrec, link);
        if (r->state != AH__H_OPEN || (r->loop == &sim->default_loop && 0))
            continue;
        ah__buf_printf(&b, "  - handle not closed: %s", ah__handle_str(r, h, sizeof(h)));
        if (r->start_site.file != NULL || r->start_site.ret != NULL)
            ah__buf_printf(&b, ", last started in %s", ah__site_str(&r->start_site, s, sizeof(s)));
        ah__buf_printf(&b, " (initialised at +%llu ms)\n",
                       (unsigned long long)((r->init_ns - sim->clock.epoch_ns) / AH__NS_PER_MS));
        problems++;
    }
    for (q = sim->handles.next; q != &sim->handles; q = q->next) {
        ah__hrec *r = ah__container_of(q, ah__hrec, link);
        if (r->state != AH__H_CLOSING)
            continue;
        ah__buf_printf(&b,
                       "  - close callback never ran: %s, uv_close called in %s at +%llu ms "
                       "(run the loop after uv_close)\n",
                       ah__handle_str(r, h, sizeof(h)), ah__site_str(&r->close_site, s, sizeof(s)),
                       (unsigned long long)((r->close_ns - sim->clock.epoch_ns) / AH__NS_PER_MS));
        problems++;
    }
    {
        /* Requests in flight and what the extensions still have pending (mock deliveries,
         * futures), together: "the test ended with 2 operations pending". */
        ah__buf ops = {0};
        unsigned nops = 0;

        for (q = sim->reqs.next; q != &sim->reqs; q = q->next) {
            ah__rrec *r = ah__container_of(q, ah__rrec, link);
            ah__buf_printf(
                &ops, "    - request still in flight: %s (%p) started in %s at +%llu ms\n", r->what,
                r->req, ah__site_str(&r->site, s, sizeof(s)),
                (unsigned long long)((r->start_ns - sim->clock.epoch_ns) / AH__NS_PER_MS));
            nops++;
        }
        for (i = 0; i < sim->n_ext; i++)
            if (sim->ext[i].ops != NULL)
                sim->ext[i].ops(sim, sim->ext[i].state, &ops, &nops);
        if (nops > 0) {
            ah__buf_printf(&b, "  - the test ended with %u operation%s pending:\n%s", nops,
                           nops == 1 ? "" : "s", ops.s);
            problems++;
        }
        ah__buf_free(&ops);
    }
    for (q = sim->loops.next; q != &sim->loops; q = q->next) {
        ah__loop *lp = ah__container_of(q, ah__loop, link);
        if (lp->is_default)
            continue;
        ah__buf_printf(&b, "  - loop %p initialised in %s was never closed (uv_loop_close)\n",
                       (void *)lp->loop, ah__site_str(&lp->init_site, s, sizeof(s)));
        problems++;
    }
    for (i = 0; i < sim->n_ext; i++)
        if (sim->ext[i].check != NULL) {
            size_t before = b.len;
            sim->ext[i].check(sim, sim->ext[i].state, &b);
            if (b.len != before)
                problems++;
        }
    if (sim->slow.len != 0) {
        ah__buf_printf(&b, "%s", sim->slow.s);
        problems++;
    }
    if (problems == 0) {
        ah__buf_free(&b);
        return NULL;
    }
    {
        ah__buf out = {0};
        char *body = ah__buf_take(&b);
        ah__buf_printf(&out, "%s: the test ended with problems at virtual time +%llu ms:\n%s",
                       sim->name, (unsigned long long)ah_now_ms(sim), body);
        ah__free(body);
        return ah__buf_take(&out);
    }
}

/* ---- capture ---- */

char *ah__run_captured(ah_sim *sim, ah_body_fn body, void *ctx)
{
    ah__capture cap = {.msg = NULL};
    char *report;

    sim->capture = &cap;
    if (setjmp(cap.jb) == 0) {
        body(sim, ctx);
        ah__tasks_drain(sim);
        sim->body_done = 1;
        report = ah_sim_check(sim);
        if (report != NULL)
            cap.msg = report;
    }
    sim->capture = NULL;
    return cap.msg;
}

char *ah_capture_failure(const ah_sim_opts *opts, ah_body_fn body, void *ctx)
{
    ah_sim *sim = ah_sim_new(opts);
    char *msg = ah__run_captured(sim, body, ctx);

    ah_sim_free(sim);
    return msg;
}

void ah__assert_fails_with(const ah_sim_opts *opts, ah_body_fn body, void *ctx, const char *needle,
                           const char *body_name, const char *file, int line)
{
    ah_sim *outer = ah_sim_current();
    char *msg = ah_capture_failure(opts, body, ctx);

    if (msg == NULL)
        ah__fail_at(outer, file, line, "%s passed, but it was expected to fail with \"%s\"",
                    body_name, needle);
    if (strstr(msg, needle) == NULL) {
        ah__buf b = {0};
        ah__buf_printf(&b, "%s failed with:\n%s\nbut the message should contain \"%s\"", body_name,
                       msg, needle);
        ah__free(msg);
        msg = ah__buf_take(&b);
        print_error("%s\n", msg);
        ah__free(msg);
        _fail(file, line);
    }
    fprintf(stderr, "  %s caught as expected:\n    %s\n", body_name, msg);
    ah__free(msg);
}

void ah__assert_passes(const ah_sim_opts *opts, ah_body_fn body, void *ctx, const char *body_name,
                       const char *file, int line)
{
    char *msg = ah_capture_failure(opts, body, ctx);

    if (msg != NULL) {
        print_error("%s should pass, but failed with:\n%s\n", body_name, msg);
        ah__free(msg);
        _fail(file, line);
    }
}
