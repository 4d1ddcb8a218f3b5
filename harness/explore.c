/* The explorer: runs a body under many schedules (random, PCT, bounded exhaustive, replay of a
 * choice list), a fresh sim each; the determinism self-check; shrinking of a failing schedule;
 * the one-line failure banner with its replay command; ah_sometimes; the cmocka wrapper.
 *
 * A schedule is the list of values the sim's open choices took (sim->chooser answers every
 * ah__choose). Value 0 is the default everywhere: the earliest-scheduled event of a same-instant
 * batch, the low end of a jitter range, a fault not firing. So a schedule is written as its
 * non-default choices, "index:value,...", and shrinking means driving values back to 0. */
#include "explore_ext.h"
#include "internal.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct rec {
    uint64_t n, c;
    const char *what;
} rec;

typedef struct prio {
    const void *owner;
    uint64_t prio;
} prio;

typedef struct sometimes {
    char *name;
    char site[160];
    uint64_t hits;
} sometimes;

enum { MODE_DEFAULT, MODE_RANDOM, MODE_PCT, MODE_FIXED };

typedef struct explorer {
    ah_explore_opts o;
    char name[128];
    ah_body_fn body;
    void *ctx;
    int strategy;

    /* the current run */
    int mode;
    ah_fc_oracle rng;
    rec *recs;
    size_t nrec, caprec;
    uint64_t *fixed; /* MODE_FIXED: values by choice index; beyond: 0 */
    size_t nfixed, capfixed;
    const void **cand; /* the flows a same-instant choice picks among (for PCT) */
    /* PCT */
    uint64_t pct_steps; /* choices of the default schedule: change points fall in [0, steps) */
    uint64_t cps[16];
    unsigned ncps;
    prio *prios;
    size_t nprio, capprio;

    sometimes *st;
    size_t nst, capst;
    uint64_t runs;

    /* ah-explore: each run is a process the runner starts (NULL: body runs here) */
    const ah__runner *runner;
    /* a process following a schedule from its environment: where its choices go */
    ah__xout *out;

    /* the distinct trace hashes of the schedules run (open addressing, 0 = empty) */
    uint64_t *hashes;
    size_t nhash, caphash;
    uint64_t virtual_ms;
    int budget_hit; /* the shrinker stopped at its budget, not at a local minimum */
    /* what every random schedule's replay command has after its seed ("" until the first) */
    char cmd_tail[300];
    int print_hashes; /* AH_PRINT_HASHES: 0 not read yet, 1 unset, 2 set */
} explorer;

/* Appends `s` to the string in buf[n], truncating as snprintf would. */
static void str_append(char *buf, size_t n, const char *s)
{
    size_t len = strlen(buf), k = strlen(s);

    if (len + 1 >= n)
        return;
    if (k > n - 1 - len)
        k = n - 1 - len;
    memcpy(buf + len, s, k);
    buf[len + k] = '\0';
}

static void hash_add(explorer *ex, uint64_t h)
{
    size_t i;

    if (h == 0)
        h = 1;
    if ((ex->nhash + 1) * 2 > ex->caphash) {
        uint64_t *old = ex->hashes;
        size_t n = ex->caphash, j;
        ex->caphash = n ? n * 2 : 64;
        ex->hashes = ah__calloc(ex->caphash, sizeof(*ex->hashes));
        for (j = 0; j < n; j++)
            if (old[j] != 0) {
                for (i = old[j] & (ex->caphash - 1); ex->hashes[i] != 0;
                     i = (i + 1) & (ex->caphash - 1))
                    ;
                ex->hashes[i] = old[j];
            }
        ah__free(old);
    }
    for (i = h & (ex->caphash - 1); ex->hashes[i] != 0; i = (i + 1) & (ex->caphash - 1))
        if (ex->hashes[i] == h)
            return;
    ex->hashes[i] = h;
    ex->nhash++;
}

static explorer *active; /* the exploration running now, for ah_sometimes */

/* ---- small utilities ---- */

static uint64_t env_num(const char *name, int *set)
{
    const char *v = getenv(name);
    char *end;
    unsigned long long x;

    *set = 0;
    if (v == NULL || *v == '\0')
        return 0;
    x = strtoull(v, &end, 0);
    if (*end != '\0') {
        fprintf(stderr, "asyncharness: ignoring %s=%s (not a number)\n", name, v);
        return 0;
    }
    *set = 1;
    return x;
}

static const char *strategy_name(int s)
{
    switch (s) {
    case AH_STRATEGY_PCT:
        return "pct";
    case AH_STRATEGY_EXHAUSTIVE:
        return "exhaustive";
    case AH_STRATEGY_REPLAY:
        return "replay";
    default:
        return "random";
    }
}

static void push_rec(explorer *ex, uint64_t n, uint64_t c, const char *what)
{
    if (ex->nrec == ex->caprec) {
        ex->caprec = ex->caprec ? ex->caprec * 2 : 64;
        ex->recs = ah__realloc(ex->recs, ex->caprec * sizeof(*ex->recs));
    }
    ex->recs[ex->nrec].n = n;
    ex->recs[ex->nrec].c = c;
    ex->recs[ex->nrec].what = what;
    ex->nrec++;
}

static void set_fixed(explorer *ex, const uint64_t *v, size_t n)
{
    if (n > ex->capfixed) {
        ex->capfixed = n * 2;
        ex->fixed = ah__realloc(ex->fixed, ex->capfixed * sizeof(*ex->fixed));
    }
    if (n > 0)
        memmove(ex->fixed, v, n * sizeof(*v));
    ex->nfixed = n;
}

/* Parses "3:1,7:2" (or "-" for none) into a dense vector. Returns its length, or -1. */
static long parse_choices(const char *s, uint64_t **out)
{
    uint64_t *v = NULL;
    size_t len = 0, cap = 0;
    char *end;

    *out = NULL;
    if (s == NULL || strcmp(s, "-") == 0 || *s == '\0')
        return 0;
    while (*s != '\0') {
        unsigned long long i = strtoull(s, &end, 10), c;
        if (end == s || *end != ':')
            goto bad;
        s = end + 1;
        c = strtoull(s, &end, 10);
        if (end == s || (*end != ',' && *end != '\0') || i > 10000000)
            goto bad;
        s = *end == ',' ? end + 1 : end;
        if (i + 1 > cap) {
            size_t ncap = (size_t)(i + 1) * 2;
            v = ah__realloc(v, ncap * sizeof(*v));
            memset(v + cap, 0, (ncap - cap) * sizeof(*v));
            cap = ncap;
        }
        v[i] = c;
        if (i + 1 > len)
            len = (size_t)i + 1;
    }
    *out = v;
    return (long)len;
bad:
    ah__free(v);
    return -1;
}

/* The non-default choices of recs, as "3:1,7:2" ("-" when none). Returns how many. */
static size_t format_choices(const rec *recs, size_t n, char *buf, size_t cap)
{
    size_t i, k = 0, len = 0;

    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        if (recs[i].c == 0)
            continue;
        if (len + 48 < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%s%zu:%llu", k ? "," : "", i,
                                    (unsigned long long)recs[i].c);
        k++;
    }
    if (k == 0)
        snprintf(buf, cap, "-");
    return k;
}

static size_t count_nondefault(const rec *recs, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++)
        k += recs[i].c != 0;
    return k;
}

/* ---- the chooser and the same-instant order ---- */

static uint64_t pct_prio(explorer *ex, const void *owner)
{
    size_t i;

    for (i = 0; i < ex->nprio; i++)
        if (ex->prios[i].owner == owner)
            return ex->prios[i].prio;
    if (ex->nprio == ex->capprio) {
        ex->capprio = ex->capprio ? ex->capprio * 2 : 16;
        ex->prios = ah__realloc(ex->prios, ex->capprio * sizeof(*ex->prios));
    }
    ex->prios[ex->nprio].owner = owner;
    /* initial priorities are above every change-point priority (< 16) */
    ex->prios[ex->nprio].prio = 16 + ah_fc_oracle_below(&ex->rng, 1u << 30);
    return ex->prios[ex->nprio++].prio;
}

static void pct_set(explorer *ex, const void *owner, uint64_t p)
{
    size_t i;
    for (i = 0; i < ex->nprio; i++)
        if (ex->prios[i].owner == owner)
            ex->prios[i].prio = p;
}

static size_t pct_max(explorer *ex, uint64_t n)
{
    uint64_t bp = 0, p, i;
    size_t best = 0;

    for (i = 0; i < n; i++) {
        p = pct_prio(ex, ex->cand[i]);
        if (i == 0 || p > bp) {
            bp = p;
            best = (size_t)i;
        }
    }
    return best;
}

/* PCT: the flow with the highest priority goes first; at a change point the flow about to go
 * first drops below every other (priority ncps - j, under the initial ones). */
static uint64_t pct_pick(explorer *ex, uint64_t n, uint64_t idx)
{
    size_t best = pct_max(ex, n);
    unsigned j;

    for (j = 0; j < ex->ncps; j++)
        if (ex->cps[j] == idx) {
            pct_set(ex, ex->cand[best], ex->ncps - j);
            best = pct_max(ex, n);
        }
    return best;
}

static uint64_t ex_choose(ah_sim *sim, uint64_t n, const char *what)
{
    explorer *ex = sim->chooser_ctx;
    uint64_t idx = ex->nrec, c = 0;

    switch (ex->mode) {
    case MODE_DEFAULT:
        c = 0;
        break;
    case MODE_FIXED:
        c = idx < ex->nfixed ? ex->fixed[idx] : 0;
        break;
    case MODE_RANDOM:
        c = ah_fc_oracle_below(&ex->rng, n);
        break;
    case MODE_PCT:
        if (ex->cand == NULL && sim->choose_owners != NULL) {
            ex->cand = (const void **)sim->choose_owners;
            c = pct_pick(ex, n, idx);
            ex->cand = NULL;
        } else {
            c = ex->cand != NULL ? pct_pick(ex, n, idx) : ah_fc_oracle_below(&ex->rng, n);
        }
        break;
    }
    if (c >= n)
        c = n - 1;
    push_rec(ex, n, c, what);
    if (ex->out != NULL) {
        ah__xout *o = ex->out;
        if (o->nchoices < o->cap) {
            o->choice[2 * o->nchoices] = n;
            o->choice[2 * o->nchoices + 1] = c;
            o->nchoices++;
        } else {
            o->overflow = 1;
        }
    }
    return c;
}

/* Orders a batch of events that fell due at one instant: at each position, one of the flows
 * (event owners) with events left is chosen, and its earliest event goes next. Events of one
 * flow keep their order (bytes of one stream never overtake each other). Choice 0 everywhere
 * keeps the scheduling order. Timers, phases and close order never come here. */
static void ex_order_batch(ah_sim *sim, ah__event **evs, size_t n)
{
    explorer *ex = sim->chooser_ctx;
    size_t heads_s[32], *heads = n <= 32 ? heads_s : ah__malloc(n * sizeof(*heads));
    const void *own_s[32], **own = n <= 32 ? own_s : ah__malloc(n * sizeof(*own));
    size_t i, j, m, k;

    for (i = 0; i + 1 < n; i++) {
        k = 0;
        for (j = i; j < n; j++) {
            const void *o = evs[j]->owner != NULL ? evs[j]->owner : (const void *)evs[j];
            for (m = 0; m < k; m++)
                if (own[m] == o)
                    break;
            if (m == k) {
                own[k] = o;
                heads[k++] = j;
            }
        }
        if (k <= 1)
            break;
        ex->cand = own;
        m = (size_t)ah__choose(sim, k, "same-instant order");
        ex->cand = NULL;
        if (heads[m] != i) {
            ah__event *e = evs[heads[m]];
            memmove(evs + i + 1, evs + i, (heads[m] - i) * sizeof(*evs));
            evs[i] = e;
        }
    }
    for (i = 0; i < n; i++)
        evs[i]->batch_index = i + 1;
    if (heads != heads_s)
        ah__free(heads);
    if (own != own_s)
        ah__free((void *)own);
}

/* ---- one run ---- */

typedef struct run_out {
    int failed;
    char *msg;
    uint64_t hash;
    uint64_t callbacks;
    ah__trace *trace;
} run_out;

static void run_out_free(run_out *r)
{
    ah__free(r->msg);
    ah__trace_free(r->trace);
    memset(r, 0, sizeof(*r));
}

/* One run in a process of its own (ah-explore): the runner starts the program with the
 * schedule in its environment and reads back the choices it made. */
static void run_external(explorer *ex, uint64_t seed, int record, run_out *out)
{
    ah__xrun x;
    size_t i;

    memset(&x, 0, sizeof(x));
    switch (ex->mode) {
    case MODE_RANDOM:
        x.strategy = AH_STRATEGY_RANDOM;
        break;
    case MODE_PCT:
        x.strategy = AH_STRATEGY_PCT;
        break;
    case MODE_FIXED:
        x.strategy = AH_STRATEGY_REPLAY;
        x.fixed = ex->fixed;
        x.nfixed = ex->nfixed;
        break;
    default: /* the default schedule: replay of no choice */
        x.strategy = AH_STRATEGY_REPLAY;
        break;
    }
    x.seed = seed;
    x.pct_depth = ex->o.pct_depth;
    x.pct_steps = ex->pct_steps;
    x.record = record;
    ex->runs++;
    ex->runner->run(ex->runner->ctx, &x);
    for (i = 0; i < x.nchoices; i++)
        push_rec(ex, x.choices[2 * i], x.choices[2 * i + 1], "choice");
    ah__free(x.choices);
    out->failed = x.failed;
    out->msg = x.failed ? x.msg : NULL;
    if (!x.failed)
        ah__free(x.msg);
    out->hash = x.hash;
    out->trace = x.trace;
}

static void run_one(explorer *ex, uint64_t seed, int record, const char *replay_cmd, run_out *out)
{
    ah_sim_opts so = ex->o.sim;
    ah_sim *sim;

    memset(out, 0, sizeof(*out));
    ex->nrec = 0;
    if (ex->runner != NULL) {
        run_external(ex, seed, record, out);
        return;
    }
    ex->nprio = 0;
    ex->cand = NULL;
    ah_fc_oracle_seed(&ex->rng, seed);
    if (ex->mode == MODE_PCT) {
        unsigned d = ex->o.pct_depth, j;
        ex->ncps = d > 1 ? d - 1 : 0;
        for (j = 0; j < ex->ncps; j++)
            ex->cps[j] = ah_fc_oracle_below(&ex->rng, ex->pct_steps ? ex->pct_steps : 1);
    }
    so.seed = seed ? seed : 1;
    so.name = ex->name;
    sim = ah_sim_new(&so);
    sim->chooser = ex_choose;
    sim->chooser_ctx = ex;
    sim->order_batch = ex_order_batch;
    if (replay_cmd != NULL) {
        memcpy(sim->replay_hint, "replay: ", sizeof("replay: "));
        str_append(sim->replay_hint, sizeof(sim->replay_hint), replay_cmd);
    }
    if (record)
        ah__trace_start(sim);
    ex->runs++;
    out->msg = ah__run_captured(sim, ex->body, ex->ctx);
    out->failed = out->msg != NULL;
    out->hash = sim->trace_hash;
    out->callbacks = sim->callbacks;
    ex->virtual_ms += ah_now_ms(sim);
    ah__virtual_ms_inner += ah_now_ms(sim);
    if (record)
        out->trace = ah__trace_take(sim);
    ah_sim_free(sim);
}

/* ---- the determinism check ---- */

static int same_event(const ah__trace *a, size_t i, const ah__trace *b, size_t j)
{
    return a->ev[i].t_ns == b->ev[j].t_ns &&
           strcmp(a->strs[a->ev[i].track], b->strs[b->ev[j].track]) == 0 &&
           strcmp(a->strs[a->ev[i].what], b->strs[b->ev[j].what]) == 0;
}

/* Appends where two recorded runs of one seed part. */
static void divergence(ah__buf *b, const ah__trace *a, const ah__trace *c)
{
    size_t i, n = a->nev < c->nev ? a->nev : c->nev;
    char l1[400], l2[400];

    for (i = 0; i < n && same_event(a, i, c, i); i++)
        ;
    if (i > 0) {
        ah__trace_event_str(a, i - 1, l1, sizeof(l1));
        ah__buf_printf(b, "\n  last common event:  %s", l1);
    }
    if (i < a->nev)
        ah__trace_event_str(a, i, l1, sizeof(l1));
    else
        snprintf(l1, sizeof(l1), "(the run ended after %zu events)", a->nev);
    if (i < c->nev)
        ah__trace_event_str(c, i, l2, sizeof(l2));
    else
        snprintf(l2, sizeof(l2), "(the run ended after %zu events)", c->nev);
    ah__buf_printf(b, "\n  first diverging event #%zu:\n    first run:  %s\n    second run: %s",
                   i + 1, l1, l2);
}

static const char *nondet_causes =
    "\n  Something outside the sim decides: typical causes are reading the real clock (CPU-time "
    "clocks, a raw syscall, ah_real_clock_gettime), rand()/random(), ordering by pointer value, "
    "or static state left over from the first run.";

static char *determinism_report(const char *name, uint64_t seed, const run_out *a, const run_out *b)
{
    ah__buf buf = {0};

    ah__buf_printf(&buf,
                   "nondeterminism: %s run twice with seed %llu gave different timelines "
                   "(trace hash 0x%016llx, then 0x%016llx)",
                   name, (unsigned long long)seed, (unsigned long long)a->hash,
                   (unsigned long long)b->hash);
    if (a->trace != NULL && b->trace != NULL)
        divergence(&buf, a->trace, b->trace);
    ah__buf_printf(&buf, "%s", nondet_causes);
    return ah__buf_take(&buf);
}

char *ah_check_determinism(const ah_sim_opts *opts, ah_body_fn body, void *ctx)
{
    explorer ex;
    run_out a, b;
    char *msg = NULL;
    uint64_t seed;

    memset(&ex, 0, sizeof(ex));
    if (opts != NULL)
        ex.o.sim = *opts;
    snprintf(ex.name, sizeof(ex.name), "%s",
             opts != NULL && opts->name ? opts->name
                                        : (ah_sim_current() ? ah_sim_current()->name : "sim"));
    ex.body = body;
    ex.ctx = ctx;
    ex.mode = MODE_RANDOM;
    seed = opts != NULL && opts->seed ? opts->seed : 1;
    run_one(&ex, seed, 1, NULL, &a);
    run_one(&ex, seed, 1, NULL, &b);
    if (a.hash != b.hash || a.failed != b.failed)
        msg = determinism_report(ex.name, seed, &a, &b);
    run_out_free(&a);
    run_out_free(&b);
    ah__free(ex.recs);
    return msg;
}

/* ---- ah_sometimes ---- */

int ah__sometimes(int cond, const char *name, const char *file, int line)
{
    explorer *ex = active;
    size_t i;

    if (ex == NULL)
        return cond;
    for (i = 0; i < ex->nst; i++)
        if (strcmp(ex->st[i].name, name) == 0)
            break;
    if (i == ex->nst) {
        if (ex->nst == ex->capst) {
            ex->capst = ex->capst ? ex->capst * 2 : 8;
            ex->st = ah__realloc(ex->st, ex->capst * sizeof(*ex->st));
        }
        ex->st[i].name = ah__strdup(name);
        snprintf(ex->st[i].site, sizeof(ex->st[i].site), "%s:%d", ah__base_name(file), line);
        ex->st[i].hits = 0;
        ex->nst++;
    }
    if (cond)
        ex->st[i].hits++;
    return cond;
}

/* ---- configuration ---- */

static void configure(explorer *ex, const ah_explore_opts *opts)
{
    int set, sched_set = 0, one_seed = 0;
    uint64_t v;
    const char *s;

    if (opts != NULL)
        ex->o = *opts;
    if (ex->o.name != NULL)
        snprintf(ex->name, sizeof(ex->name), "%s", ex->o.name);
    else
        snprintf(ex->name, sizeof(ex->name), "%s",
                 ah_sim_current() ? ah_sim_current()->name : "explore");
    if (!ex->o.ignore_env) {
        s = getenv("AH_STRATEGY");
        if (s != NULL && *s != '\0') {
            if (strcmp(s, "random") == 0)
                ex->o.strategy = AH_STRATEGY_RANDOM;
            else if (strcmp(s, "pct") == 0)
                ex->o.strategy = AH_STRATEGY_PCT;
            else if (strcmp(s, "exhaustive") == 0)
                ex->o.strategy = AH_STRATEGY_EXHAUSTIVE;
            else if (strcmp(s, "replay") == 0)
                ex->o.strategy = AH_STRATEGY_REPLAY;
            else
                fprintf(stderr,
                        "asyncharness: ignoring AH_STRATEGY=%s (random, pct, exhaustive "
                        "or replay)\n",
                        s);
        }
        if ((s = getenv("AH_REPLAY")) != NULL && *s != '\0') {
            ex->o.replay = s;
            ex->o.strategy = AH_STRATEGY_REPLAY;
        }
        v = env_num("AH_SEED", &set);
        if (set) {
            ex->o.seed_start = v;
            ex->o.schedules = 1;
            one_seed = 1;
        }
        v = env_num("AH_SEED_START", &set);
        if (set)
            ex->o.seed_start = v;
        v = env_num("AH_SEED_COUNT", &set);
        if (set)
            ex->o.schedules = v, sched_set = 1;
        v = env_num("AH_SCHEDULES", &set);
        if (set)
            ex->o.schedules = v, sched_set = 1;
        v = env_num("AH_PCT_DEPTH", &set);
        if (set)
            ex->o.pct_depth = (unsigned)v;
        v = env_num("AH_SHRINK_RUNS", &set);
        if (set && v > 0)
            ex->o.shrink_runs = v;
        if (ex->o.trace_path == NULL && (s = getenv("AH_TRACE")) != NULL && *s != '\0')
            ex->o.trace_path = s;
        if ((s = getenv("AH_JOBS")) != NULL && strcmp(s, "auto") == 0) {
            long n = sysconf(_SC_NPROCESSORS_ONLN);
            ex->o.jobs = n > 0 ? (unsigned)n : 1;
        } else {
            v = env_num("AH_JOBS", &set);
            if (set)
                ex->o.jobs = (unsigned)v;
        }
        if ((s = getenv("AH_SHARD")) != NULL && *s != '\0') {
            unsigned k, n;
            char end;
            if (sscanf(s, "%u/%u%c", &k, &n, &end) == 2 && k >= 1 && k <= n)
                ex->o.shard = k, ex->o.shards = n;
            else
                fprintf(stderr, "asyncharness: ignoring AH_SHARD=%s (K/N, 1 <= K <= N)\n", s);
        }
    }
    if (ex->o.strategy == AH_STRATEGY_DEFAULT)
        ex->o.strategy = AH_STRATEGY_RANDOM;
    if (ex->o.schedules == 0)
        ex->o.schedules = 100;
    if (ex->o.seed_start == 0 && ex->o.strategy != AH_STRATEGY_EXHAUSTIVE)
        ex->o.seed_start = 1;
    if (ex->o.pct_depth == 0)
        ex->o.pct_depth = 3;
    if (ex->o.pct_depth > 16)
        ex->o.pct_depth = 16;
    if (ex->o.shrink_runs == 0)
        ex->o.shrink_runs = 200;
    if (ah__under_valgrind()) {
        /* Valgrind is ~50x slower: a tenth of the schedules unless the count was asked for. */
        if (!sched_set)
            ex->o.schedules = (ex->o.schedules + 9) / 10;
        ex->o.shrink_runs = (ex->o.shrink_runs + 3) / 4;
    }
    if (ex->o.strategy == AH_STRATEGY_REPLAY)
        ex->o.schedules = 1;
    if (ex->o.jobs == 0)
        ex->o.jobs = 1;
    if (ex->o.jobs > 256)
        ex->o.jobs = 256;
    if (ex->o.shards == 0 || ex->o.shard == 0 || ex->o.shard > ex->o.shards)
        ex->o.shard = ex->o.shards = 1;
    /* A replay is one given schedule, run whatever the shard; an exhaustive enumeration is one
     * walk of the tree, each schedule chosen after the previous one: it runs whole in shard 1
     * (and nothing in the others), in one process. */
    if (ex->o.strategy == AH_STRATEGY_REPLAY || ex->o.strategy == AH_STRATEGY_EXHAUSTIVE)
        ex->o.jobs = 1;
    if (ex->o.strategy == AH_STRATEGY_REPLAY || one_seed) /* a replay command runs anywhere */
        ex->o.shard = ex->o.shards = 1;
    ex->strategy = ex->o.strategy;
}

static void replay_command(explorer *ex, uint64_t seed, const char *choices, char *buf, size_t n)
{
    const char *prog = ah__program_name();

    if (ex->runner != NULL) {
        /* ah-explore: the schedule in the environment of the program as the user typed it */
        const char *c = ex->runner->command;
        if (choices != NULL)
            snprintf(buf, n, "AH_STRATEGY=replay AH_REPLAY=%.300s %.300s", choices, c);
        else if (ex->strategy == AH_STRATEGY_PCT)
            snprintf(
                buf, n, "AH_SEED=%llu AH_STRATEGY=pct AH_PCT_DEPTH=%u AH_PCT_STEPS=%llu %.300s",
                (unsigned long long)seed, ex->o.pct_depth, (unsigned long long)ex->pct_steps, c);
        else
            snprintf(buf, n, "AH_SEED=%llu AH_STRATEGY=random %.300s", (unsigned long long)seed, c);
        return;
    }
    if (choices != NULL)
        snprintf(buf, n, "AH_STRATEGY=replay AH_REPLAY=%.300s %.150s --test %.120s", choices, prog,
                 ex->name);
    else if (ex->strategy == AH_STRATEGY_PCT)
        snprintf(buf, n, "AH_SEED=%llu AH_STRATEGY=pct AH_PCT_DEPTH=%u %.150s --test %.120s",
                 (unsigned long long)seed, ex->o.pct_depth, prog, ex->name);
    else {
        /* Every schedule's, so the part after the seed is formatted once and the seed put in by
         * hand: two snprintf calls per schedule were a third of an empty one (issue 21). */
        char digits[24];
        size_t i = sizeof(digits) - 1;

        if (ex->cmd_tail[0] == '\0')
            snprintf(ex->cmd_tail, sizeof(ex->cmd_tail), " AH_STRATEGY=random %.150s --test %.120s",
                     prog, ex->name);
        digits[i] = '\0';
        do {
            digits[--i] = (char)('0' + seed % 10);
            seed /= 10;
        } while (seed != 0);
        if (n == 0)
            return;
        buf[0] = '\0';
        str_append(buf, n, "AH_SEED=");
        str_append(buf, n, digits + i);
        str_append(buf, n, ex->cmd_tail);
    }
}

/* ---- shrinking ---- */

static void vec_of(const rec *recs, size_t n, uint64_t **v, size_t *len)
{
    size_t i;

    while (n > 0 && recs[n - 1].c == 0)
        n--;
    *v = ah__malloc((n ? n : 1) * sizeof(**v));
    for (i = 0; i < n; i++)
        (*v)[i] = recs[i].c;
    *len = n;
}

/* A schedule is simpler than another with fewer non-default choices, then smaller values. */
static int simpler(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    size_t i, ka = 0, kb = 0;
    uint64_t sa = 0, sb = 0;

    for (i = 0; i < na; i++)
        ka += a[i] != 0, sa += a[i];
    for (i = 0; i < nb; i++)
        kb += b[i] != 0, sb += b[i];
    return ka < kb || (ka == kb && sa < sb);
}

/* Runs the choice list `cand`; when it still fails and its run is simpler than *best, the run's
 * own choices become *best (and its outcome *best_out). Returns whether it was taken. */
static int try_shrink(explorer *ex, const uint64_t *cand, size_t len, uint64_t **best,
                      size_t *best_len, run_out *best_out, uint64_t *runs)
{
    run_out r;
    uint64_t *v;
    size_t vlen;

    ex->mode = MODE_FIXED;
    set_fixed(ex, cand, len);
    run_one(ex, 1, 0, NULL, &r);
    (*runs)++;
    if (!r.failed) {
        run_out_free(&r);
        return 0;
    }
    vec_of(ex->recs, ex->nrec, &v, &vlen);
    if (!simpler(v, vlen, *best, *best_len)) {
        ah__free(v);
        run_out_free(&r);
        return 0;
    }
    ah__free(*best);
    *best = v;
    *best_len = vlen;
    run_out_free(best_out);
    *best_out = r;
    return 1;
}

/* Delta debugging over the non-default choices: drop chunks of them (halving the chunk size down
 * to single choices), then lower each remaining value by bisection between 0 (known to pass: its
 * removal was tried) and its value, while the schedule still fails. It ends at a local minimum,
 * when a whole pass changes nothing: removing any one choice, or lowering any one by one, passes
 * (docs/decisions.md). Returns 0 then, 1 when the budget of runs ended first. */
static int shrink(explorer *ex, uint64_t **best, size_t *best_len, run_out *best_out,
                  uint64_t *runs)
{
    uint64_t budget = ex->o.shrink_runs, *cand = NULL;
    size_t *nd = NULL, nnd, chunk, start, i;
    int minimum = 0, incomplete;

    for (;;) {
        int progress = 0;

        nnd = 0;
        ah__free(nd);
        nd = ah__malloc((*best_len ? *best_len : 1) * sizeof(*nd));
        for (i = 0; i < *best_len; i++)
            if ((*best)[i] != 0)
                nd[nnd++] = i;
        if (nnd == 0) {
            minimum = 1;
            break;
        }
        for (chunk = nnd; chunk >= 1 && !progress && *runs < budget; chunk /= 2) {
            for (start = 0; start < nnd && *runs < budget; start += chunk) {
                ah__free(cand);
                cand = ah__malloc(*best_len * sizeof(*cand));
                memcpy(cand, *best, *best_len * sizeof(*cand));
                for (i = start; i < start + chunk && i < nnd; i++)
                    cand[nd[i]] = 0;
                if (try_shrink(ex, cand, *best_len, best, best_len, best_out, runs)) {
                    progress = 1;
                    break;
                }
            }
        }
        if (progress)
            continue;
        if (*runs >= budget)
            break;
        /* No single choice can go: lower each value, bisecting between the largest value known
         * to pass (lo) and the smallest known to fail. */
        incomplete = 0;
        for (i = 0; i < nnd && *runs < budget && !progress; i++) {
            uint64_t lo = 0, v = (*best)[nd[i]];
            while (v > lo + 1 && *runs < budget) {
                uint64_t mid = lo + (v - lo) / 2;
                ah__free(cand);
                cand = ah__malloc(*best_len * sizeof(*cand));
                memcpy(cand, *best, *best_len * sizeof(*cand));
                cand[nd[i]] = mid;
                if (try_shrink(ex, cand, *best_len, best, best_len, best_out, runs)) {
                    progress = 1;
                    /* the run's own choices became *best: go on from its value here */
                    if (nd[i] >= *best_len || (*best)[nd[i]] == 0)
                        break;
                    v = (*best)[nd[i]];
                } else {
                    lo = mid;
                }
            }
            if (progress) /* the other choices may go now: start the next pass */
                break;
            if (v > lo + 1) /* the budget ended inside the bisection */
                incomplete = 1;
        }
        if (!progress) {
            minimum = !incomplete && i == nnd;
            break;
        }
    }
    ah__free(cand);
    ah__free(nd);
    return !minimum;
}

/* ---- the exploration ---- */

/* Exhaustive: the next schedule after the run in ex->recs, depth first. Returns 0 when the tree
 * is done. */
static int next_exhaustive(explorer *ex)
{
    size_t i = ex->nrec, j;

    while (i > 0 && ex->recs[i - 1].c + 1 >= ex->recs[i - 1].n)
        i--;
    if (i == 0)
        return 0;
    if (i > ex->capfixed) {
        ex->capfixed = i * 2;
        ex->fixed = ah__realloc(ex->fixed, ex->capfixed * sizeof(*ex->fixed));
    }
    for (j = 0; j + 1 < i; j++)
        ex->fixed[j] = ex->recs[j].c;
    ex->fixed[i - 1] = ex->recs[i - 1].c + 1;
    ex->nfixed = i;
    return 1;
}

static void trace_base(explorer *ex, char *buf, size_t n)
{
    size_t len, i;

    if (ex->o.trace_path != NULL) {
        snprintf(buf, n, "%s", ex->o.trace_path);
        len = strlen(buf);
        if (len > 5 && strcmp(buf + len - 5, ".json") == 0)
            buf[len - 5] = '\0';
        else if (len > 4 && strcmp(buf + len - 4, ".txt") == 0)
            buf[len - 4] = '\0';
        return;
    }
    snprintf(buf, n, "ah-trace-%s", ex->name);
    for (i = 0; buf[i] != '\0'; i++)
        if (!((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= 'A' && buf[i] <= 'Z') ||
              (buf[i] >= '0' && buf[i] <= '9') || buf[i] == '-' || buf[i] == '_' || buf[i] == '.'))
            buf[i] = '_';
}

static void explorer_free(explorer *ex)
{
    size_t i;

    for (i = 0; i < ex->nst; i++)
        ah__free(ex->st[i].name);
    ah__free(ex->st);
    ah__free(ex->recs);
    ah__free(ex->fixed);
    ah__free(ex->prios);
    ah__free(ex->hashes);
}

/* Reports a failing schedule: shrinks it, writes the trace of the shortest, builds the banner. */
static void report_failure(explorer *ex, ah_explore_result *res, uint64_t index, uint64_t seed,
                           run_out *fail, const char *cmd)
{
    ah__buf b = {0};
    uint64_t *best = NULL, runs = 0;
    size_t best_len = 0;
    run_out shortest, traced;
    char choices[512], shrunk_cmd[768], base[400];
    char *nl;

    res->failed = 1;
    res->failing_schedule = index;
    res->seed = seed;
    res->trace_hash = fail->hash;
    snprintf(res->replay, sizeof(res->replay), "%s", cmd);
    res->nondefault_before = count_nondefault(ex->recs, ex->nrec);
    vec_of(ex->recs, ex->nrec, &best, &best_len);
    memset(&shortest, 0, sizeof(shortest));
    shortest.failed = 1;
    shortest.msg = ah__strdup(fail->msg);
    shortest.hash = fail->hash;
    if (!ex->o.no_shrink && res->nondefault_before > 0)
        ex->budget_hit = shrink(ex, &best, &best_len, &shortest, &runs);
    res->shrink_runs = runs;
    res->shrink_budget_hit = ex->budget_hit;

    /* Replay the shortest once more, recording its trace (and proving it replays). */
    ex->mode = MODE_FIXED;
    set_fixed(ex, best, best_len);
    {
        rec *tmp = ah__malloc((best_len ? best_len : 1) * sizeof(*tmp));
        size_t i;
        for (i = 0; i < best_len; i++)
            tmp[i].c = best[i], tmp[i].n = best[i] + 1, tmp[i].what = NULL;
        res->nondefault_after = format_choices(tmp, best_len, choices, sizeof(choices));
        ah__free(tmp);
    }
    snprintf(res->shrunk_choices, sizeof(res->shrunk_choices), "%s", choices);
    replay_command(ex, 0, choices, shrunk_cmd, sizeof(shrunk_cmd));
    run_one(ex, 1, 1, shrunk_cmd, &traced);
    res->shrunk_hash = traced.hash;

    if (index == 0) /* PCT's first run, every choice at its default */
        ah__buf_printf(&b,
                       "asyncharness: explore FAILED: test %s, the default schedule (every choice "
                       "0, run first by strategy %s)",
                       ex->name, strategy_name(ex->strategy));
    else
        ah__buf_printf(&b,
                       "asyncharness: explore FAILED: test %s, schedule %llu of %llu, strategy %s",
                       ex->name, (unsigned long long)index, (unsigned long long)ex->o.schedules,
                       strategy_name(ex->strategy));
    if (ex->strategy == AH_STRATEGY_PCT)
        ah__buf_printf(&b, " (depth %u)", ex->o.pct_depth);
    if (index != 0 && ex->strategy != AH_STRATEGY_EXHAUSTIVE && ex->strategy != AH_STRATEGY_REPLAY)
        ah__buf_printf(&b, ", seed %llu", (unsigned long long)seed);
    ah__buf_printf(&b, ", trace hash 0x%016llx; replay: %s\n", (unsigned long long)fail->hash, cmd);
    ah__buf_printf(&b, "%s\n", fail->msg);
    ah__buf_printf(&b,
                   "  shrunk: %zu non-default choice(s) (from %zu) after %llu run(s); replay the "
                   "shortest: %s (trace hash 0x%016llx)\n",
                   res->nondefault_after, res->nondefault_before, (unsigned long long)runs,
                   shrunk_cmd, (unsigned long long)traced.hash);
    if (ex->o.no_shrink || res->nondefault_before == 0) {
        /* nothing to say: not shrunk, or nothing to shrink */
    } else if (ex->budget_hit) {
        ah__buf_printf(
            &b,
            "  the shrinker's budget (%llu runs) ended before a local minimum; to go "
            "on shrinking: AH_SHRINK_RUNS=%llu %s\n",
            (unsigned long long)ex->o.shrink_runs,
            (unsigned long long)(ex->o.shrink_runs * 10 > 1000 ? ex->o.shrink_runs * 10 : 1000),
            shrunk_cmd);
    } else {
        ah__buf_printf(&b, "  a local minimum: removing any one of its choices, or lowering any "
                           "one by one, makes the failure go away\n");
    }
    if (traced.failed && traced.msg != NULL) {
        nl = strchr(traced.msg, '\n');
        ah__buf_printf(&b, "  the shortest fails with: %.*s\n",
                       (int)(nl ? (size_t)(nl - traced.msg) : strlen(traced.msg)), traced.msg);
    } else {
        ah__buf_printf(&b, "  (the shortest schedule passed when replayed: the test is not "
                           "deterministic; run ah_check_determinism)\n");
    }
    if (!ex->o.no_trace_file && traced.trace != NULL) {
        char p1[420], p2[420];
        trace_base(ex, base, sizeof(base));
        snprintf(p1, sizeof(p1), "%s.txt", base);
        snprintf(p2, sizeof(p2), "%s.json", base);
        if (ah__trace_write_text(traced.trace, p1) == 0 &&
            ah__trace_write_json(traced.trace, ex->name, p2) == 0) {
            ah__buf_printf(&b, "  trace of the shortest failing schedule: %s, %s (Perfetto)\n", p1,
                           p2);
            snprintf(res->trace_file, sizeof(res->trace_file), "%s", p2);
        } else {
            ah__buf_printf(&b, "  could not write the trace to %s.{txt,json}\n", base);
        }
    }
    res->message = ah__buf_take(&b);
    ah__free(best);
    run_out_free(&shortest);
    run_out_free(&traced);
}

/* ---- one schedule, and the drivers ---- */

/* Runs schedule s (0-based; its seed is seed_start + s, exhaustive: its index), with the
 * determinism self-check when `check`. Returns 1 when it failed; with `report`, res then holds
 * the banner, the shrunk schedule and the trace, as the user sees them. */
static int run_schedule(explorer *ex, ah_explore_result *res, uint64_t s, int check, int report)
{
    uint64_t seed = ex->strategy == AH_STRATEGY_EXHAUSTIVE ? s : ex->o.seed_start + s;
    run_out r;
    char cmd[640];

    switch (ex->strategy) {
    case AH_STRATEGY_PCT:
        ex->mode = MODE_PCT;
        break;
    case AH_STRATEGY_EXHAUSTIVE:
    case AH_STRATEGY_REPLAY:
        ex->mode = MODE_FIXED;
        break;
    default:
        ex->mode = MODE_RANDOM;
        break;
    }
    if (ex->strategy == AH_STRATEGY_EXHAUSTIVE || ex->strategy == AH_STRATEGY_REPLAY) {
        /* the command is the choice list, known once the run made its choices */
        replay_command(ex, seed, NULL, cmd, sizeof(cmd));
        run_one(ex, seed, check, NULL, &r);
        {
            char choices[512];
            format_choices(ex->recs, ex->nrec, choices, sizeof(choices));
            replay_command(ex, seed, choices, cmd, sizeof(cmd));
        }
    } else {
        replay_command(ex, seed, NULL, cmd, sizeof(cmd));
        run_one(ex, seed, check, cmd, &r);
    }
    if (ex->print_hashes == 0)
        ex->print_hashes = !ex->o.ignore_env && getenv("AH_PRINT_HASHES") != NULL ? 2 : 1;
    if (ex->print_hashes == 2)
        /* one line per schedule for the determinism soak (scripts/soak.sh) */
        fprintf(stderr, "asyncharness: schedule %s %s seed %llu trace hash 0x%016llx%s\n", ex->name,
                strategy_name(ex->strategy), (unsigned long long)seed, (unsigned long long)r.hash,
                r.failed ? " failed" : "");
    hash_add(ex, r.hash);
    if (check && !r.failed) {
        /* The determinism self-check: the same schedule again must give the same timeline. */
        run_out again;
        rec *keep = ah__malloc((ex->nrec ? ex->nrec : 1) * sizeof(*keep));
        size_t nkeep = ex->nrec;
        int differs;
        if (nkeep > 0) /* no choices were made: ex->recs may still be NULL */
            memcpy(keep, ex->recs, nkeep * sizeof(*keep));
        if (ex->mode == MODE_FIXED)
            set_fixed(ex, ex->fixed, ex->nfixed);
        run_one(ex, seed, 1, NULL, &again);
        differs = again.hash != r.hash || again.failed;
        if (differs) {
            res->failed = 1;
            if (report) {
                ah__buf b = {0};
                char *rep = determinism_report(ex->name, seed, &r, &again);
                ah__buf_printf(&b,
                               "asyncharness: explore FAILED: test %s, determinism self-check of "
                               "schedule %llu (strategy %s, seed %llu); replay: %s\n%s\n",
                               ex->name, (unsigned long long)s + 1, strategy_name(ex->strategy),
                               (unsigned long long)seed, cmd, rep);
                ah__free(rep);
                res->failing_schedule = s + 1;
                res->seed = seed;
                res->trace_hash = r.hash;
                snprintf(res->replay, sizeof(res->replay), "%s", cmd);
                res->message = ah__buf_take(&b);
            }
        }
        run_out_free(&again);
        if (nkeep > 0)
            memcpy(ex->recs, keep, nkeep * sizeof(*keep));
        ex->nrec = nkeep;
        ah__free(keep);
        if (differs) {
            run_out_free(&r);
            return 1;
        }
    }
    if (r.failed) {
        res->failed = 1;
        if (report)
            report_failure(ex, res, s + 1, seed, &r, cmd);
        run_out_free(&r);
        return 1;
    }
    run_out_free(&r);
    return 0;
}

/* Schedules first, first+step, ... (count of them) in this process, until the first failure. */
static void run_sequential(explorer *ex, ah_explore_result *res, uint64_t first, uint64_t step,
                           uint64_t count)
{
    uint64_t p;

    for (p = 0; p < count; p++) {
        res->schedules_run++;
        if (run_schedule(ex, res, first + p * step, p == 0 && !ex->o.no_determinism_check, 1))
            return;
        if (ex->runner != NULL && ex->runner->progress != NULL)
            ex->runner->progress(ex->runner->ctx, p + 1, count);
        if (ex->strategy == AH_STRATEGY_EXHAUSTIVE && !next_exhaustive(ex)) {
            res->exhausted = 1;
            return;
        }
    }
}

/* AH_JOBS: the same schedules in `jobs` worker processes (fork), worker w taking positions w,
 * w+jobs, ... in order. A worker that fails lowers the shared bound to its position, and every
 * worker stops before the bound, so all positions below the lowest failing one are run: the failure
 * reported is the one a single process would report. The parent then runs that schedule again
 * itself, shrinks it and reports it exactly as run_sequential does. The workers send back their
 * ah_sometimes counts through a pipe each. */
typedef struct shared_state {
    uint64_t bound; /* lowest failing position so far; count when none */
    uint64_t runs[256];
    uint64_t at[256]; /* the position each worker is running, +1 (0: none) */
} shared_state;

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void worker(explorer *ex, shared_state *sh, unsigned w, unsigned jobs, uint64_t first,
                   uint64_t step, uint64_t count, int fd)
{
    ah_explore_result quiet;
    uint64_t p;
    size_t i;
    char line[512];

    static const int crash_signals[] = {SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGSYS};

    /* A crash kills the worker (the parent reports it), never cmocka's handler in a copy of the
     * test run. */
    for (i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        signal(crash_signals[i], SIG_DFL);
    memset(&quiet, 0, sizeof(quiet));
    for (i = 0; i < ex->nst; i++) /* the parent's counts are its own */
        ex->st[i].hits = 0;
    for (p = w; p < count && p < __atomic_load_n(&sh->bound, __ATOMIC_ACQUIRE); p += jobs) {
        __atomic_store_n(&sh->at[w], p + 1, __ATOMIC_RELEASE);
        sh->runs[w]++;
        if (run_schedule(ex, &quiet, first + p * step, p == 0 && !ex->o.no_determinism_check, 0)) {
            uint64_t b = __atomic_load_n(&sh->bound, __ATOMIC_ACQUIRE);
            while (p < b && !__atomic_compare_exchange_n(&sh->bound, &b, p, 0, __ATOMIC_ACQ_REL,
                                                         __ATOMIC_ACQUIRE))
                ;
            break;
        }
    }
    __atomic_store_n(&sh->at[w], 0, __ATOMIC_RELEASE);
    for (i = 0; i < ex->caphash; i++)
        if (ex->hashes[i] != 0) {
            int n = snprintf(line, sizeof(line), "#%llx\n", (unsigned long long)ex->hashes[i]);
            write_all(fd, line, (size_t)n);
        }
    {
        int n = snprintf(line, sizeof(line), "@%llu\n", (unsigned long long)ex->virtual_ms);
        write_all(fd, line, (size_t)n);
    }
    for (i = 0; i < ex->nst; i++) {
        int n = snprintf(line, sizeof(line), "%llu\t%s\t%s\n", (unsigned long long)ex->st[i].hits,
                         ex->st[i].site, ex->st[i].name);
        if (n > 0 && (size_t)n < sizeof(line) && strchr(ex->st[i].name, '\n') == NULL)
            write_all(fd, line, (size_t)n);
    }
    close(fd);
    _exit(0);
}

/* Merges a worker's "hits\tsite\tname" lines into the parent's ah_sometimes table. */
static void merge_sometimes(explorer *ex, char *text)
{
    char *line, *next;

    for (line = text; line != NULL && *line != '\0'; line = next) {
        char *t1, *t2;
        size_t i;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (line[0] == '#') { /* a trace hash the worker saw */
            hash_add(ex, strtoull(line + 1, NULL, 16));
            continue;
        }
        if (line[0] == '@') { /* the virtual time its schedules simulated */
            uint64_t ms = strtoull(line + 1, NULL, 10);
            ex->virtual_ms += ms;
            ah__virtual_ms_inner += ms;
            continue;
        }
        t1 = strchr(line, '\t');
        t2 = t1 != NULL ? strchr(t1 + 1, '\t') : NULL;
        if (t2 == NULL)
            continue;
        *t1 = *t2 = '\0';
        for (i = 0; i < ex->nst; i++)
            if (strcmp(ex->st[i].name, t2 + 1) == 0)
                break;
        if (i == ex->nst) {
            if (ex->nst == ex->capst) {
                ex->capst = ex->capst ? ex->capst * 2 : 8;
                ex->st = ah__realloc(ex->st, ex->capst * sizeof(*ex->st));
            }
            ex->st[i].name = ah__strdup(t2 + 1);
            snprintf(ex->st[i].site, sizeof(ex->st[i].site), "%s", t1 + 1);
            ex->st[i].hits = 0;
            ex->nst++;
        }
        ex->st[i].hits += strtoull(line, NULL, 10);
    }
}

static void run_parallel(explorer *ex, ah_explore_result *res, uint64_t first, uint64_t step,
                         uint64_t count)
{
    unsigned jobs = ex->o.jobs < count ? ex->o.jobs : (unsigned)count, w, started = 0, open_fds;
    shared_state *sh;
    pid_t pids[256];
    int fds[256], status[256];
    char *out[256];
    size_t outlen[256];
    uint64_t crashed = count;
    unsigned crashed_w = 0;
    int crash_status = 0;

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        run_sequential(ex, res, first, step, count);
        return;
    }
    memset(sh, 0, sizeof(*sh));
    sh->bound = count;
    fflush(NULL); /* nothing buffered may be written twice */
    for (w = 0; w < jobs; w++) {
        int pfd[2];
        out[w] = NULL;
        outlen[w] = 0;
        fds[w] = -1;
        pids[w] = -1;
        status[w] = 0;
        if (syscall(SYS_pipe2, pfd, 0) != 0) /* a real pipe, never one of fd/'s fake ones */
            break;
        pids[w] = fork();
        if (pids[w] < 0) {
            close(pfd[0]);
            close(pfd[1]);
            break;
        }
        if (pids[w] == 0) {
            unsigned k;
            close(pfd[0]);
            for (k = 0; k < w; k++)
                if (fds[k] >= 0)
                    close(fds[k]);
            worker(ex, sh, w, jobs, first, step, count, pfd[1]);
        }
        close(pfd[1]);
        fds[w] = pfd[0];
        started++;
    }
    if (started < jobs) {
        /* Could not start every worker: stop those that run and do it in this process. */
        for (w = 0; w < started; w++) {
            kill(pids[w], SIGKILL);
            waitpid(pids[w], NULL, 0);
            close(fds[w]);
        }
        munmap(sh, sizeof(*sh));
        run_sequential(ex, res, first, step, count);
        return;
    }
    for (open_fds = jobs; open_fds > 0;) {
        struct pollfd pf[256];
        unsigned n = 0, k;
        for (w = 0; w < jobs; w++)
            if (fds[w] >= 0) {
                pf[n].fd = fds[w];
                pf[n].events = POLLIN;
                pf[n++].revents = 0;
            }
        {
            int progress = ex->runner != NULL && ex->runner->progress != NULL, rc;
            rc = poll(pf, n, progress ? 250 : -1);
            if (rc < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            if (progress) {
                uint64_t done = 0;
                for (w = 0; w < jobs; w++)
                    done += __atomic_load_n(&sh->runs[w], __ATOMIC_RELAXED);
                ex->runner->progress(ex->runner->ctx, done, count);
            }
        }
        for (k = 0; k < n; k++) {
            char buf[4096];
            ssize_t got;
            if (pf[k].revents == 0)
                continue;
            for (w = 0; w < jobs && fds[w] != pf[k].fd; w++)
                ;
            got = read(fds[w], buf, sizeof(buf));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close(fds[w]);
                fds[w] = -1;
                open_fds--;
                continue;
            }
            out[w] = ah__realloc(out[w], outlen[w] + (size_t)got + 1);
            memcpy(out[w] + outlen[w], buf, (size_t)got);
            outlen[w] += (size_t)got;
            out[w][outlen[w]] = '\0';
        }
    }
    for (w = 0; w < jobs; w++) {
        while (waitpid(pids[w], &status[w], 0) < 0 && errno == EINTR)
            ;
        res->schedules_run += sh->runs[w];
        if (out[w] != NULL)
            merge_sometimes(ex, out[w]);
        ah__free(out[w]);
        /* A worker that died (a crash in the body kills a single process too) was running the
         * position it last announced. */
        if (!(WIFEXITED(status[w]) && WEXITSTATUS(status[w]) == 0) && sh->at[w] != 0 &&
            sh->at[w] - 1 < crashed) {
            crashed = sh->at[w] - 1;
            crashed_w = w;
            crash_status = status[w];
        }
    }
    if (crashed < sh->bound && run_schedule(ex, res, first + crashed * step,
                                            crashed == 0 && !ex->o.no_determinism_check, 1)) {
        /* The crash happened again here, where the crash handler makes it this schedule's
         * failure: reported, shrunk and traced like any other. */
        ah__buf b = {0};
        ah__buf_printf(&b,
                       "%s  (worker %u died of %s %d running this schedule; run again in this "
                       "process, it failed as above)\n",
                       res->message != NULL ? res->message : "", crashed_w + 1,
                       WIFSIGNALED(crash_status) ? "signal" : "exit status",
                       WIFSIGNALED(crash_status) ? WTERMSIG(crash_status)
                                                 : WEXITSTATUS(crash_status));
        ah__free(res->message);
        res->message = ah__buf_take(&b);
    } else if (crashed < sh->bound) {
        uint64_t s = first + crashed * step, seed = ex->o.seed_start + s;
        char cmd[640];
        ah__buf b = {0};
        replay_command(ex, seed, NULL, cmd, sizeof(cmd));
        ah__buf_printf(
            &b,
            "asyncharness: explore FAILED: test %s, schedule %llu of %llu, strategy %s, "
            "seed %llu: worker %u died (%s %d) running it; replay: %s\n",
            ex->name, (unsigned long long)s + 1, (unsigned long long)ex->o.schedules,
            strategy_name(ex->strategy), (unsigned long long)seed, crashed_w + 1,
            WIFSIGNALED(crash_status) ? "signal" : "exit status",
            WIFSIGNALED(crash_status) ? WTERMSIG(crash_status) : WEXITSTATUS(crash_status), cmd);
        res->failed = 1;
        res->failing_schedule = s + 1;
        res->seed = seed;
        snprintf(res->replay, sizeof(res->replay), "%s", cmd);
        res->message = ah__buf_take(&b);
    } else if (sh->bound < count) {
        uint64_t p = sh->bound, s = first + p * step;
        /* Run the lowest failing schedule here: the same seed gives the same run. */
        if (!run_schedule(ex, res, s, p == 0 && !ex->o.no_determinism_check, 1)) {
            char cmd[640];
            ah__buf b = {0};
            replay_command(ex, ex->o.seed_start + s, NULL, cmd, sizeof(cmd));
            ah__buf_printf(&b,
                           "asyncharness: explore FAILED: test %s, schedule %llu of %llu failed "
                           "in a worker process but passed when run again in the parent: the test "
                           "is not deterministic across processes (static state, the real clock, "
                           "addresses); replay: %s\n",
                           ex->name, (unsigned long long)s + 1, (unsigned long long)ex->o.schedules,
                           cmd);
            ah__free(res->message);
            res->failed = 1;
            res->failing_schedule = s + 1;
            res->seed = ex->o.seed_start + s;
            snprintf(res->replay, sizeof(res->replay), "%s", cmd);
            res->message = ah__buf_take(&b);
        }
    }
    munmap(sh, sizeof(*sh));
}

static int explore_main(explorer *ex, ah_explore_result *res_out);

int ah_explore_run(const ah_explore_opts *opts, ah_body_fn body, void *ctx,
                   ah_explore_result *res_out)
{
    explorer ex;

    memset(&ex, 0, sizeof(ex));
    configure(&ex, opts);
    ex.body = body;
    ex.ctx = ctx;
    return explore_main(&ex, res_out);
}

int ah__explore_processes(const ah_explore_opts *opts, const ah__runner *runner,
                          ah_explore_result *res_out)
{
    explorer ex;

    memset(&ex, 0, sizeof(ex));
    configure(&ex, opts);
    ex.runner = runner;
    return explore_main(&ex, res_out);
}

static int explore_main(explorer *ex, ah_explore_result *res_out)
{
    ah_explore_result res_local, *res = res_out != NULL ? res_out : &res_local;
    explorer *saved = active;
    run_out r;
    char cmd[640];
    int done = 0;

    ah__crash_arm(); /* a crashing schedule is a failure found, in a plain program too */
    memset(res, 0, sizeof(*res));
    res->strategy = (ah_strategy)ex->strategy;
    active = ex;

    if (ex->strategy == AH_STRATEGY_PCT) {
        /* The default schedule's length places the change points (a function of the test alone,
         * so a seed replays). */
        ex->mode = MODE_DEFAULT;
        run_one(ex, 1, 0, NULL, &r);
        ex->pct_steps = ex->nrec ? ex->nrec : 1;
        if (r.failed) {
            replay_command(ex, 0, "-", cmd, sizeof(cmd));
            report_failure(ex, res, 0, 0, &r, cmd);
            done = 1;
        }
        run_out_free(&r);
    }
    if (ex->strategy == AH_STRATEGY_REPLAY) {
        uint64_t *v;
        long n = parse_choices(ex->o.replay, &v);
        if (n < 0) {
            ah__buf b = {0};
            ah__buf_printf(&b,
                           "asyncharness: AH_REPLAY=%s is not a choice list "
                           "(\"index:value,...\", or \"-\")",
                           ex->o.replay ? ex->o.replay : "");
            res->failed = 1;
            res->message = ah__buf_take(&b);
            done = 1;
        } else {
            set_fixed(ex, v, (size_t)n);
            ah__free(v);
        }
    }

    if (!done) {
        /* The schedules of this shard: indices shard-1, shard-1+shards, ... below `schedules`;
         * exhaustive walks are not split (shard 1 runs the whole walk). */
        uint64_t first = ex->o.shard - 1, step = ex->o.shards, count;
        if (ex->strategy == AH_STRATEGY_EXHAUSTIVE && ex->o.shards > 1)
            first = ex->o.shard == 1 ? 0 : ex->o.schedules, step = 1;
        count = first < ex->o.schedules ? (ex->o.schedules - first + step - 1) / step : 0;
        if (ex->o.jobs > 1 && count > 1)
            run_parallel(ex, res, first, step, count);
        else
            run_sequential(ex, res, first, step, count);
    }
    if (!res->failed &&
        (ex->o.shards == 1 || (ex->strategy == AH_STRATEGY_EXHAUSTIVE && ex->o.shard == 1))) {
        /* Every ah_sometimes must have held in some schedule (a shard may miss a path that the
         * whole run reaches: only an unsharded run judges). */
        ah__buf b = {0};
        size_t i;
        for (i = 0; i < ex->nst; i++)
            if (ex->st[i].hits == 0)
                ah__buf_printf(&b, "\n  - ah_sometimes(\"%s\") at %s was never true",
                               ex->st[i].name, ex->st[i].site);
        if (b.len != 0) {
            ah__buf m = {0};
            char *body_s = ah__buf_take(&b);
            ah__buf_printf(&m,
                           "asyncharness: explore FAILED: test %s, %llu schedule(s) of strategy %s "
                           "from seed %llu passed, but a path was never reached:%s\n",
                           ex->name, (unsigned long long)res->schedules_run,
                           strategy_name(ex->strategy), (unsigned long long)ex->o.seed_start,
                           body_s);
            ah__free(body_s);
            res->failed = 1;
            res->message = ah__buf_take(&m);
        }
    }
    res->distinct_hashes = ex->nhash;
    res->virtual_ms = ex->virtual_ms;
    if (!res->failed) {
        ah__buf b = {0};
        size_t i;
        ah__buf_printf(&b, "asyncharness: explore passed: test %s, %llu schedule(s) of strategy %s",
                       ex->name, (unsigned long long)res->schedules_run,
                       strategy_name(ex->strategy));
        if (ex->strategy == AH_STRATEGY_PCT)
            ah__buf_printf(&b, " (depth %u)", ex->o.pct_depth);
        if (ex->strategy == AH_STRATEGY_RANDOM || ex->strategy == AH_STRATEGY_PCT)
            ah__buf_printf(&b, " from seed %llu", (unsigned long long)ex->o.seed_start);
        if (ex->strategy == AH_STRATEGY_EXHAUSTIVE)
            ah__buf_printf(&b, res->exhausted ? " (the whole tree of choices)"
                                              : " (the tree of choices was not finished)");
        if (ex->o.shards > 1)
            ah__buf_printf(&b, ", shard %u/%u", ex->o.shard, ex->o.shards);
        if (ex->o.jobs > 1)
            ah__buf_printf(&b, ", %u processes", ex->o.jobs);
        ah__buf_printf(&b, ", %llu distinct timeline(s) (trace hashes), %.3f s of virtual time",
                       (unsigned long long)ex->nhash, (double)ex->virtual_ms / 1000.0);
        for (i = 0; i < ex->nst; i++)
            ah__buf_printf(&b, "\n  - ah_sometimes(\"%s\") at %s: %s (true %llu time(s))",
                           ex->st[i].name, ex->st[i].site,
                           ex->st[i].hits ? "reached" : "never reached",
                           (unsigned long long)ex->st[i].hits);
        snprintf(res->summary, sizeof(res->summary), "%s", b.s);
        ah__buf_free(&b);
    }
    active = saved;
    explorer_free(ex);
    if (res_out == NULL) {
        int failed = res->failed;
        ah_explore_result_free(res);
        return failed;
    }
    return res->failed;
}

void ah_explore_result_free(ah_explore_result *res)
{
    if (res == NULL)
        return;
    ah__free(res->message);
    res->message = NULL;
}

void ah__explore_at(const char *file, int line, const ah_explore_opts *opts, ah_body_fn body,
                    void *ctx)
{
    ah_explore_result res;

    if (ah_explore_run(opts, body, ctx, &res)) {
        ah_sim *outer = ah_sim_current();
        if (outer != NULL) /* the banner names its own replay line: not the outer sim's */
            outer->failed = 1;
        print_error("%s\n", res.message);
        ah_explore_result_free(&res);
        _fail(file, line);
    }
    if (res.summary[0] != '\0')
        fprintf(stderr, "%s\n", res.summary);
    ah_explore_result_free(&res);
}

/* ---- the cmocka wrapper ---- */

static void explore_test_body(ah_sim *sim, void *ctx)
{
    const struct ah__test_info *info = ctx;
    void *state = sim;

    info->fn(&state);
}

void ah__explore_trampoline(void **state)
{
    ah_sim *outer = *state;
    ah_explore_opts o;

    ah__crash_arm(); /* over cmocka's handler: a crashing schedule is a failure found */
    memset(&o, 0, sizeof(o));
    o.name = outer->test->name;
    ah__explore_at(outer->test->file, outer->test->line, &o, explore_test_body,
                   (void *)outer->test);
    outer->body_done = 1;
}

/* ---- a schedule from the environment: the program's side of ah-explore ----
 *
 * A process started with AH_STRATEGY=random|pct and AH_SEED (or with AH_REPLAY) follows that
 * schedule in its implicit sim and in the sims of ah_run_tests: the same chooser and same-instant
 * order as an exploration's run of that seed, so thread switches, same-instant order, jitter and
 * chunking are decided by it. AH_SEED alone changes no thread schedule (decisions.md). The
 * choices go to the file AH_EXPLORE_OUT names (ah__xout, mapped, so an abort keeps them), the
 * timeline to the file AH_EXPLORE_TRACE names. */

static struct {
    int state;       /* 0: environment not read yet, 1: following a schedule, -1: not */
    char knobs[240]; /* the schedule as the replay line sets it: "AH_SEED=2 AH_STRATEGY=random" */
    explorer ex;
    int trace_fd; /* + 1 */
    uint64_t hash;
} envx;

/* A child the program forks is not the process the driver started: it stops reporting. */
static void envx_forked(void)
{
    ah_sim *sim;

    envx.ex.out = NULL;
    envx.trace_fd = 0;
    for (sim = ah_sim_current(); sim != NULL; sim = sim->prev_current) {
        sim->trace_hash_out = NULL;
        if (sim->trace != NULL)
            sim->trace->stream_fd = 0;
    }
}

static void envx_open_out(const char *path)
{
    struct stat st;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
    void *m;
    ah__xout *o;
    int32_t none = 0;

    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(ah__xout)) {
        syscall(SYS_close, fd);
        return;
    }
    m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    syscall(SYS_close, fd);
    if (m == MAP_FAILED)
        return;
    o = m;
    /* The first process to follow the schedule claims the file (a test runner that runs each test
     * in a child of its own: the child, when the runner itself makes no sim). */
    if (ah__xout_size(o->cap) > (size_t)st.st_size ||
        !__atomic_compare_exchange_n(&o->pid, &none, (int32_t)getpid(), 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        munmap(m, (size_t)st.st_size);
        return;
    }
    o->magic = AH__XOUT_MAGIC;
    envx.ex.out = o;
    pthread_atfork(NULL, NULL, envx_forked);
}

static int envx_on(void)
{
    explorer *ex = &envx.ex;
    const char *s, *r, *p;
    int set;

    if (envx.state != 0)
        return envx.state > 0;
    envx.state = -1;
    memset(ex, 0, sizeof(*ex));
    s = getenv("AH_STRATEGY");
    r = getenv("AH_REPLAY");
    if (r != NULL && *r != '\0' && (s == NULL || *s == '\0' || strcmp(s, "replay") == 0)) {
        uint64_t *v;
        long n = parse_choices(r, &v);
        if (n < 0) {
            fprintf(stderr,
                    "asyncharness: ignoring AH_REPLAY=%s (not a choice list \"index:value,...\" "
                    "or \"-\")\n",
                    r);
            return 0;
        }
        set_fixed(ex, v, (size_t)n);
        ah__free(v);
        ex->mode = MODE_FIXED;
        ex->strategy = AH_STRATEGY_REPLAY;
        snprintf(envx.knobs, sizeof(envx.knobs), "AH_STRATEGY=replay AH_REPLAY=%.200s", r);
    } else if (s != NULL && (strcmp(s, "random") == 0 || strcmp(s, "pct") == 0)) {
        /* AH_STRATEGY alone configures the explorations of ah_explore (their seeds) */
        uint64_t seed = env_num("AH_SEED", &set);
        if (!set)
            return 0;
        ah_fc_oracle_seed(&ex->rng, seed);
        if (strcmp(s, "pct") == 0) {
            /* as run_one draws them: change points among the default schedule's choices */
            uint64_t d = env_num("AH_PCT_DEPTH", &set), steps;
            unsigned j;
            if (!set || d == 0)
                d = 3;
            if (d > 16)
                d = 16;
            steps = env_num("AH_PCT_STEPS", &set);
            if (!set || steps == 0)
                steps = 1;
            ex->ncps = (unsigned)d - 1;
            for (j = 0; j < ex->ncps; j++)
                ex->cps[j] = ah_fc_oracle_below(&ex->rng, steps);
            ex->mode = MODE_PCT;
            ex->strategy = AH_STRATEGY_PCT;
            snprintf(envx.knobs, sizeof(envx.knobs),
                     "AH_SEED=%llu AH_STRATEGY=pct AH_PCT_DEPTH=%llu AH_PCT_STEPS=%llu",
                     (unsigned long long)seed, (unsigned long long)d, (unsigned long long)steps);
        } else {
            ex->mode = MODE_RANDOM;
            ex->strategy = AH_STRATEGY_RANDOM;
            snprintf(envx.knobs, sizeof(envx.knobs), "AH_SEED=%llu AH_STRATEGY=random",
                     (unsigned long long)seed);
        }
    } else {
        return 0;
    }
    snprintf(ex->name, sizeof(ex->name), "environment");
    envx.state = 1;
    if ((p = getenv("AH_EXPLORE_OUT")) != NULL && *p != '\0')
        envx_open_out(p);
    if ((p = getenv("AH_EXPLORE_TRACE")) != NULL && *p != '\0' &&
        (ex->out != NULL || getenv("AH_EXPLORE_OUT") == NULL)) {
        int fd =
            (int)syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            /* out of the way of a program that expects its own descriptors to be the low ones */
            int hi = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 900);
            if (hi >= 0) {
                syscall(SYS_close, fd);
                fd = hi;
            }
            envx.trace_fd = fd + 1;
        }
    }
    return 1;
}

/* A plain program's command line, for its replay line ("./prog args"). */
static const char *program_line(void)
{
    static char line[160];
    FILE *f;
    size_t n, i;

    if (line[0] != '\0')
        return line;
    f = fopen("/proc/self/cmdline", "rb");
    if (f == NULL)
        return "./prog";
    n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    while (n > 0 && line[n - 1] == '\0')
        n--;
    for (i = 0; i < n; i++)
        if (line[i] == '\0')
            line[i] = ' ';
    return line;
}

static void envx_attach(ah_sim *sim)
{
    if (!envx_on())
        return;
    envx.ex.nprio = 0; /* PCT: the flows of a new sim are new */
    envx.ex.cand = NULL;
    sim->chooser = ex_choose;
    sim->chooser_ctx = &envx.ex;
    sim->order_batch = ex_order_batch;
    /* a failure's replay line must carry the schedule, not only the seed */
    if (sim->test != NULL)
        snprintf(sim->replay_hint, sizeof(sim->replay_hint), "replay: %.120s %.100s --test %.80s",
                 envx.knobs, ah__program_name(), sim->test->name);
    else
        snprintf(sim->replay_hint, sizeof(sim->replay_hint), "replay: %.120s %.100s", envx.knobs,
                 program_line());
    if (envx.ex.out != NULL) {
        envx.ex.out->sims++;
        sim->trace_hash_out = &envx.ex.out->live;
    }
    if (envx.trace_fd > 0) {
        ah__trace_start(sim);
        sim->trace->stream_fd = envx.trace_fd;
    }
}

static void envx_release(ah_sim *sim)
{
    if (envx.state <= 0 || sim->chooser_ctx != &envx.ex)
        return;
    envx.hash = ah__xout_fold(envx.hash, sim->trace_hash);
    sim->trace_hash_out = NULL;
    if (envx.ex.out != NULL) {
        envx.ex.out->hash = envx.hash;
        envx.ex.out->live = 0;
    }
}

/* Nothing a program calls reaches this file: the link forces it in by this symbol
 * (-Wl,-u,ah__explore_env_anchor: CMakeLists.txt, asyncharness.pc), and the hooks are set before
 * the constructors of default priority run, which may already make the implicit sim. */
const char ah__explore_env_anchor = 0;

__attribute__((constructor(101))) static void envx_install(void)
{
    ah__explore_env.attach = envx_attach;
    ah__explore_env.release = envx_release;
}
