/* Race assertions: invariants checked after every callback, exclusive sections, callbacks that
 * must fire exactly once, and the injected error of the next mocked call. Per-sim state in one
 * extension (ah__ext), so the teardown checks see it and a failed test frees it. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

typedef struct inv {
    ah_invariant_fn fn;
    void *ctx;
    char *name;
} inv;

typedef struct excl {
    char *name;
    int held;
    char who[480]; /* the flow inside: callback, handle, site, time */
} excl;

typedef struct once {
    char *name;
    int declared;
    unsigned count;
    char decl_site[160];
    char first[480];
} once;

typedef struct race_state {
    inv *inv;
    size_t ninv, capinv;
    excl *ex;
    size_t nex, capex;
    once *on;
    size_t non, capon;
    int hook_added;
    int mock_error;       /* injected for the next mocked call, 0 = none */
    uint64_t mock_errors; /* consumed so far */
} race_state;

static const char race_key = 0;

static void race_destroy(ah_sim *sim, void *state)
{
    race_state *rs = state;
    size_t i;

    (void)sim;
    for (i = 0; i < rs->ninv; i++)
        ah__free(rs->inv[i].name);
    for (i = 0; i < rs->nex; i++)
        ah__free(rs->ex[i].name);
    for (i = 0; i < rs->non; i++)
        ah__free(rs->on[i].name);
    ah__free(rs->inv);
    ah__free(rs->ex);
    ah__free(rs->on);
    ah__free(rs);
}

static void race_check(ah_sim *sim, void *state, ah__buf *report)
{
    race_state *rs = state;
    size_t i;

    (void)sim;
    for (i = 0; i < rs->non; i++)
        if (rs->on[i].declared && rs->on[i].count == 0)
            ah__buf_printf(report,
                           "  - callback \"%s\" never fired (ah_expect_once in %s: it must fire "
                           "exactly once)\n",
                           rs->on[i].name, rs->on[i].decl_site);
    for (i = 0; i < rs->nex; i++)
        if (rs->ex[i].held)
            ah__buf_printf(report, "  - exclusive section \"%s\" was never left: entered by %s\n",
                           rs->ex[i].name, rs->ex[i].who);
}

static race_state *state_of(ah_sim *sim)
{
    static const ah__ext race_ext = {
        .key = &race_key, .name = "race", .check = race_check, .destroy = race_destroy};

    return ah__ext_get_or_add(sim, &race_ext, sizeof(race_state));
}

/* "read_cb of uv_tcp_t #2 [...] (0x..) initialised in main (t.c:3)", or "the test body". */
static const char *flow_str(ah_sim *sim, int in_cb, const ah__hrec *r, const char *what, char *buf,
                            size_t n)
{
    char h[320];

    if (!in_cb || what == NULL)
        snprintf(buf, n, "the test body");
    else if (r != NULL)
        snprintf(buf, n, "%s of %s", what, ah__handle_str(r, h, sizeof(h)));
    else
        snprintf(buf, n, "a %s", what);
    (void)sim;
    return buf;
}

static void where_str(ah_sim *sim, const char *file, int line, char *buf, size_t n)
{
    char flow[400];

    flow_str(sim, sim->in_callback > 0, sim->current_hrec, sim->current_what, flow, sizeof(flow));
    snprintf(buf, n, "%s at %s:%d at +%llu ms (step %llu)", flow, ah__base_name(file), line,
             (unsigned long long)ah_now_ms(sim), (unsigned long long)sim->callbacks);
}

/* ---- invariants ---- */

static void check_invariants(ah_sim *sim, void *ctx)
{
    race_state *rs = ctx;
    size_t i;
    char flow[400];

    for (i = 0; i < rs->ninv; i++)
        if (!rs->inv[i].fn(rs->inv[i].ctx))
            ah__fail(sim, "invariant \"%s\" broken after %s at +%llu ms (step %llu)",
                     rs->inv[i].name,
                     flow_str(sim, 1, sim->last_hrec, sim->last_what, flow, sizeof(flow)),
                     (unsigned long long)ah_now_ms(sim), (unsigned long long)sim->callbacks);
}

void ah_invariant(ah_sim *sim, ah_invariant_fn fn, void *ctx, const char *name)
{
    race_state *rs = state_of(sim);

    if (rs->ninv == rs->capinv) {
        rs->capinv = rs->capinv ? rs->capinv * 2 : 4;
        rs->inv = ah__realloc(rs->inv, rs->capinv * sizeof(*rs->inv));
    }
    rs->inv[rs->ninv].fn = fn;
    rs->inv[rs->ninv].ctx = ctx;
    rs->inv[rs->ninv].name = ah__strdup(name);
    rs->ninv++;
    if (!rs->hook_added) {
        ah__after_callback_add(sim, check_invariants, rs);
        rs->hook_added = 1;
    }
    if (!fn(ctx))
        ah__fail(sim, "invariant \"%s\" does not hold when it is declared (+%llu ms)", name,
                 (unsigned long long)ah_now_ms(sim));
}

/* ---- exclusive sections ---- */

static excl *excl_get(race_state *rs, const char *name)
{
    size_t i;

    for (i = 0; i < rs->nex; i++)
        if (strcmp(rs->ex[i].name, name) == 0)
            return &rs->ex[i];
    if (rs->nex == rs->capex) {
        rs->capex = rs->capex ? rs->capex * 2 : 4;
        rs->ex = ah__realloc(rs->ex, rs->capex * sizeof(*rs->ex));
    }
    memset(&rs->ex[rs->nex], 0, sizeof(rs->ex[0]));
    rs->ex[rs->nex].name = ah__strdup(name);
    return &rs->ex[rs->nex++];
}

void ah__exclusive_enter(ah_sim *sim, const char *name, const char *file, int line)
{
    excl *e = excl_get(state_of(sim), name);
    char here[480];

    where_str(sim, file, line, here, sizeof(here));
    if (e->held)
        ah__fail(sim,
                 "race: two flows interleave inside exclusive section \"%s\":\n"
                 "  entered by    %s\n"
                 "  interleaved by %s,\n"
                 "  before the first flow left it (a check-then-act across a callback)",
                 name, e->who, here);
    e->held = 1;
    memcpy(e->who, here, sizeof(e->who));
}

void ah__exclusive_leave(ah_sim *sim, const char *name, const char *file, int line)
{
    excl *e = excl_get(state_of(sim), name);
    char here[480];

    if (!e->held) {
        where_str(sim, file, line, here, sizeof(here));
        ah__fail(sim, "ah_exclusive_leave(\"%s\") by %s, but no flow is inside it", name, here);
    }
    e->held = 0;
}

/* ---- callbacks fired exactly once ---- */

static once *once_get(race_state *rs, const char *name)
{
    size_t i;

    for (i = 0; i < rs->non; i++)
        if (strcmp(rs->on[i].name, name) == 0)
            return &rs->on[i];
    if (rs->non == rs->capon) {
        rs->capon = rs->capon ? rs->capon * 2 : 8;
        rs->on = ah__realloc(rs->on, rs->capon * sizeof(*rs->on));
    }
    memset(&rs->on[rs->non], 0, sizeof(rs->on[0]));
    rs->on[rs->non].name = ah__strdup(name);
    return &rs->on[rs->non++];
}

void ah__expect_once(ah_sim *sim, const char *name, const char *file, int line)
{
    once *o = once_get(state_of(sim), name);

    o->declared = 1;
    snprintf(o->decl_site, sizeof(o->decl_site), "%s:%d", ah__base_name(file), line);
}

void ah__fired(ah_sim *sim, const char *name, const char *file, int line)
{
    once *o = once_get(state_of(sim), name);
    char here[480];

    where_str(sim, file, line, here, sizeof(here));
    if (o->declared && o->count >= 1)
        ah__fail(sim,
                 "callback \"%s\" fired twice (declared by ah_expect_once in %s: exactly once):\n"
                 "  first by  %s\n"
                 "  again by %s",
                 name, o->decl_site, o->first, here);
    if (o->count == 0)
        memcpy(o->first, here, sizeof(o->first));
    o->count++;
}

unsigned ah_fired_count(ah_sim *sim, const char *name)
{
    race_state *rs = ah__ext_get(sim, &race_key);
    size_t i;

    if (rs == NULL)
        return 0;
    for (i = 0; i < rs->non; i++)
        if (strcmp(rs->on[i].name, name) == 0)
            return rs->on[i].count;
    return 0;
}

/* ---- the injected error of the next mocked call ---- */

void ah_inject_mock_error(ah_sim *sim, int err) { state_of(sim)->mock_error = err; }

int ah_mock_injected_error(ah_sim *sim)
{
    race_state *rs = ah__ext_get(sim, &race_key);
    int err;

    if (rs == NULL || rs->mock_error == 0)
        return 0;
    err = rs->mock_error;
    rs->mock_error = 0;
    rs->mock_errors++;
    return err;
}
